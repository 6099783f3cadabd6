"""The one MPI shim of pysoc: launcher detection, an executor with a serial fallback, a task
farm with dynamic load balancing, collectives, deterministic work splits and one-line
failures. Used by calibration (:mod:`pysoc.da.run`), multi-column runs (``pysoc-run``) and
PRODA (:mod:`pysoc.proda`).

**Launcher detection** (:func:`launcher_variable`). MPI is used only when the process was
started by an MPI launcher and mpi4py imports; otherwise everything runs serially. A
launcher is recognised by an environment variable it sets in every rank it starts
(:data:`LAUNCHER_VARS`: Open MPI, MPICH/Intel MPI Hydra and PMI, PMIx, MVAPICH2, Slurm
``srun``, Cray PALS/ALPS). A false positive is harmless: a world of one rank runs serially.

**Executors** (:func:`get_executor`). :class:`SerialExecutor` and :class:`MPIExecutor` have
the same API: ``rank``, ``size``, ``is_root``, ``mpi``; the task farm (:meth:`~MPIExecutor.farm`,
:meth:`~MPIExecutor.service`); the collectives ``allreduce_sum``, ``bcast``, ``gather``,
``allgather``, ``barrier``; ``abort``. Static splits: grid cells in contiguous chunks
(:func:`chunk`, assembled on rank 0 by :func:`gather_chunks`), tasks round-robin
(:func:`owner`).

**Task farm.** Every rank computes, rank 0 included. Workers ask rank 0 for the next task
when they finish one (the message carries the finished result). Rank 0 answers such
requests between sampler blocks of its own task (:meth:`MPIExecutor.service`, called by the
sampler callback every ``block_size`` iterations), so a worker waits at most one block.
Tasks are handed out in order; results depend only on the task (random streams are
keyed by site and chain), never on the rank that computed them or on the number of ranks.

**One-batch.** All ranks run the same chains (same random streams); each rank evaluates
its own sites and the per-site costs are combined with one ``Allreduce`` of the
(nsite, n) cost matrix (zeros outside a rank's sites, so the sum is exact) and summed in
site order, which makes the total bitwise independent of the number of ranks.

**Failure.** A configuration error found before work starts (the same on every rank) ends
every rank cleanly with one line from rank 0 (:func:`collective_setup`). An exception that
escapes on any rank during the work ends the whole job with ``MPI_Abort`` after printing one
line (:func:`abort_on_error`), so a job never hangs.
"""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from typing import Any, Callable, Iterable, Mapping

import numpy as np

#: Environment variables that MPI launchers set in every rank they start (a rank is
#: "launched by MPI" when one of them is set and not empty). Slurm's ``srun`` sets both
#: ``SLURM_PROCID`` and ``SLURM_NTASKS``; ``SLURM_NTASKS`` alone is also set in a batch
#: script run without ``srun``, which then initialises a world of one rank (serial).
LAUNCHER_VARS = (
    "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK",          # Open MPI mpirun/mpiexec
    "PMI_RANK", "PMI_SIZE",                                   # MPICH / Intel MPI (Hydra), PMI-1/2 (srun --mpi=pmi2)
    "PMIX_RANK",                                              # PMIx (Open MPI 5, srun --mpi=pmix)
    "MPI_LOCALNRANKS",                                        # MPICH Hydra
    "MV2_COMM_WORLD_SIZE",                                    # MVAPICH2
    "I_MPI_HYDRA_HOST_FILE",                                  # Intel MPI
    "SLURM_PROCID", "SLURM_NTASKS",                           # Slurm srun
    "PALS_RANKID", "ALPS_APP_PE",                             # HPE Cray PALS / ALPS (aprun)
)

#: values of the ``mode`` argument of :func:`get_executor` (and of namelist ``mpi`` keys)
MPI_MODES = ("auto", "on", "off")

TAG_REQUEST = 11
TAG_TASK = 12


def launcher_variable(environ: Mapping[str, str] | None = None) -> str | None:
    """The first variable of :data:`LAUNCHER_VARS` set (non-empty) in the environment.

    Parameters
    ----------
    environ : mapping, optional
        The environment to inspect (default ``os.environ``).

    Returns
    -------
    str or None
        The variable's name, or None when no MPI launcher started this process.

    Examples
    --------
    >>> launcher_variable({"PMI_RANK": "3", "HOME": "/root"})
    'PMI_RANK'
    >>> launcher_variable({"SLURM_NTASKS": ""}) is None
    True
    """
    env = os.environ if environ is None else environ
    return next((k for k in LAUNCHER_VARS if env.get(k)), None)


def launched_by_mpi(environ: Mapping[str, str] | None = None) -> bool:
    """True when an MPI launcher started this process (:func:`launcher_variable`).

    Parameters
    ----------
    environ : mapping, optional
        The environment to inspect (default ``os.environ``).

    Returns
    -------
    bool

    Examples
    --------
    >>> launched_by_mpi({"OMPI_COMM_WORLD_SIZE": "2"}), launched_by_mpi({})
    (True, False)
    """
    return launcher_variable(environ) is not None


class SerialExecutor:
    """One process: the farm is a loop, the allreduce the identity."""

    rank = 0
    size = 1
    is_root = True
    mpi = False

    def service(self) -> None:
        pass

    def farm(self, tasks: Iterable[int], work: Callable[[int], Any],
             on_result: Callable[[int, Any, int], None]) -> None:
        for t in tasks:
            on_result(t, work(t), 0)

    def allreduce_sum(self, a: np.ndarray) -> np.ndarray:
        return a

    def bcast(self, obj, root: int = 0):
        return obj

    def gather(self, obj, root: int = 0):
        return [obj]

    def allgather(self, obj):
        return [obj]

    def barrier(self) -> None:
        pass

    def abort(self, code: int = 2) -> None:
        sys.exit(code)


class MPIExecutor:
    """mpi4py implementation (see the module docstring)."""

    mpi = True

    def __init__(self, comm=None):
        from mpi4py import MPI

        self.MPI = MPI
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.is_root = self.rank == 0
        self._farm = None

    # ---- task farm ----------------------------------------------------------------------------
    def service(self) -> None:
        """Rank 0: answer pending worker requests (no-op elsewhere or outside a farm)."""
        if self._farm is not None and self.is_root:
            self._farm.serve(block=False)

    def farm(self, tasks: Iterable[int], work: Callable[[int], Any],
             on_result: Callable[[int, Any, int], None]) -> None:
        if self.size == 1:
            for t in tasks:
                on_result(t, work(t), 0)
            return
        if self.is_root:
            self._farm = _Root(self, deque(tasks), on_result)
            try:
                self._farm.run(work)
            finally:
                self._farm = None
        else:
            self._worker(work)

    def _worker(self, work) -> None:
        comm = self.comm
        done = None
        while True:
            comm.send(done, dest=0, tag=TAG_REQUEST)
            task = comm.recv(source=0, tag=TAG_TASK)
            if task is None:
                return
            done = (task, work(task))

    # ---- collectives -------------------------------------------------------------------------
    def allreduce_sum(self, a: np.ndarray) -> np.ndarray:
        a = np.ascontiguousarray(a, dtype=float)
        out = np.empty_like(a)
        self.comm.Allreduce(a, out, op=self.MPI.SUM)
        return out

    def bcast(self, obj, root: int = 0):
        return self.comm.bcast(obj, root=root)

    def gather(self, obj, root: int = 0):
        return self.comm.gather(obj, root=root)

    def allgather(self, obj):
        return self.comm.allgather(obj)

    def barrier(self) -> None:
        self.comm.Barrier()

    def abort(self, code: int = 2) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        self.comm.Abort(code)


class _Root:
    """Rank 0's side of the farm: hands out tasks, collects results, computes too."""

    def __init__(self, ex: MPIExecutor, queue: deque, on_result):
        self.ex = ex
        self.queue = queue
        self.on_result = on_result
        self.stopped = 0
        self.status = ex.MPI.Status()

    def _handle(self, source: int, msg) -> None:
        if msg is not None:
            task, result = msg
            self.on_result(task, result, source)
        task = self.queue.popleft() if self.queue else None
        if task is None:
            self.stopped += 1
        self.ex.comm.send(task, dest=source, tag=TAG_TASK)

    def serve(self, block: bool = False) -> None:
        comm, MPI = self.ex.comm, self.ex.MPI
        while comm.Iprobe(source=MPI.ANY_SOURCE, tag=TAG_REQUEST, status=self.status):
            src = self.status.Get_source()
            self._handle(src, comm.recv(source=src, tag=TAG_REQUEST))

    def run(self, work) -> None:
        comm, MPI = self.ex.comm, self.ex.MPI
        nworkers = self.ex.size - 1
        while self.queue:
            self.serve()
            if not self.queue:
                break
            task = self.queue.popleft()
            self.on_result(task, work(task), 0)
        while self.stopped < nworkers:
            msg = comm.recv(source=MPI.ANY_SOURCE, tag=TAG_REQUEST, status=self.status)
            self._handle(self.status.Get_source(), msg)


def get_executor(mode: str | bool | None = "auto", environ: Mapping[str, str] | None = None):
    """The executor of this process.

    Parameters
    ----------
    mode : {'auto', 'on', 'off'} or bool or None
        ``'auto'`` (or None): MPI when an MPI launcher started the process
        (:func:`launched_by_mpi`), mpi4py imports and the world has more than one rank, else
        serial. ``'on'`` (or True): always ``MPI.COMM_WORLD`` (even one rank). ``'off'`` (or
        False): serial.
    environ : mapping, optional
        The environment inspected by ``'auto'`` (default ``os.environ``).

    Returns
    -------
    SerialExecutor or MPIExecutor

    Raises
    ------
    ConfigError
        ``mode='on'`` but mpi4py does not import, or an unknown mode.

    Examples
    --------
    >>> get_executor("auto", environ={}).size
    1
    >>> get_executor("off").mpi
    False
    """
    mode = {None: "auto", True: "on", False: "off"}.get(mode, mode) if not isinstance(mode, str) else mode
    if mode not in MPI_MODES:
        from pysoc.errors import ConfigError
        raise ConfigError(f"mpi = {mode!r}: not one of {', '.join(MPI_MODES)}")
    if mode == "off" or (mode == "auto" and not launched_by_mpi(environ)):
        return SerialExecutor()
    try:
        ex = MPIExecutor()
    except ImportError:
        if mode == "on":
            from pysoc.errors import ConfigError
            raise ConfigError("mpi = 'on': MPI requested but mpi4py is not importable") from None
        return SerialExecutor()
    if mode == "auto" and ex.size == 1:
        return SerialExecutor()
    return ex


def chunk(n: int, rank: int, size: int) -> np.ndarray:
    """Indices of the contiguous chunk of ``range(n)`` owned by ``rank`` (sizes differ by <= 1).

    Parameters
    ----------
    n : int
        Number of items.
    rank, size : int
        This rank and the number of ranks.

    Returns
    -------
    numpy.ndarray
        Ascending indices; the chunks of ranks 0..size-1 concatenate to ``range(n)``.

    Examples
    --------
    >>> [chunk(5, r, 2).tolist() for r in range(2)]
    [[0, 1], [2, 3, 4]]
    """
    bounds = np.linspace(0, n, size + 1).round().astype(int)
    return np.arange(bounds[rank], bounds[rank + 1])


def owner(i: int, size: int) -> int:
    """Rank that owns task ``i`` in a round-robin split.

    Parameters
    ----------
    i : int
        Task index.
    size : int
        Number of ranks.

    Returns
    -------
    int

    Examples
    --------
    >>> [owner(i, 3) for i in range(5)]
    [0, 1, 2, 0, 1]
    """
    return int(i) % int(size)


def gather_chunks(ex, local: np.ndarray, n: int, axis: int = 0):
    """Assemble per-rank chunks (contiguous in rank order along ``axis``, :func:`chunk`) on
    rank 0.

    Parameters
    ----------
    ex : SerialExecutor or MPIExecutor
        The executor (anything with ``gather`` and ``rank``).
    local : numpy.ndarray
        This rank's chunk.
    n : int
        Expected length of the assembled axis.
    axis : int
        Axis along which the chunks are stacked.

    Returns
    -------
    numpy.ndarray or None
        The whole array on rank 0, None on the other ranks.

    Raises
    ------
    RuntimeError
        The chunks do not add up to ``n``.

    Examples
    --------
    >>> gather_chunks(SerialExecutor(), np.arange(3.0), 3)
    array([0., 1., 2.])
    """
    parts = ex.gather(local, root=0)
    if ex.rank != 0:
        return None
    out = np.concatenate(parts, axis=axis)
    if out.shape[axis] != n:
        raise RuntimeError(f"gather_chunks: got {out.shape[axis]} rows, expected {n}")
    return out


def collective_setup(ex, prog: str, fn: Callable[[], Any]):
    """Run the set-up ``fn`` (reading and checking the inputs, before any work) on every rank.

    Serially the result is returned and errors propagate. Over MPI the errors of all ranks
    are gathered: when any rank failed, rank 0 prints one line (``prog: error: ...``, naming
    the rank when it is not 0) and every rank returns None, so the job ends cleanly with exit
    status 2 on every rank instead of ``MPI_Abort``.

    Parameters
    ----------
    ex : SerialExecutor or MPIExecutor
        The executor.
    prog : str
        Program name of the error line.
    fn : callable
        The set-up; the same on every rank.

    Returns
    -------
    object or None
        ``fn()``, or None (MPI) when a rank failed.

    Examples
    --------
    >>> collective_setup(SerialExecutor(), "demo", lambda: 42)
    42
    """
    if ex.size == 1:
        return fn()
    from pysoc.errors import PysocError

    result, err = None, None
    try:
        result = fn()
    except PysocError as exc:
        err = str(exc)
    except BaseException as exc:  # noqa: BLE001  (any set-up failure must reach the other ranks)
        err = f"{type(exc).__name__}: {exc}"
    errors = ex.allgather(err)
    if not any(errors):
        return result
    if ex.is_root:
        i = next(k for k, e in enumerate(errors) if e)
        print(f"{prog}: error{'' if i == 0 else f' (rank {i})'}: {errors[i]}", file=sys.stderr, flush=True)
    return None


def abort_on_error(ex, prog: str, exc: BaseException, code: int = 2) -> None:
    """Print one line naming the rank and the error, then end every rank of the job."""
    where = f" (rank {ex.rank} of {ex.size})" if ex.size > 1 else ""
    msg = str(exc) or type(exc).__name__
    from pysoc.errors import PysocError

    kind = "" if isinstance(exc, PysocError) else f"{type(exc).__name__}: "
    print(f"{prog}: error{where}: {kind}{msg}", file=sys.stderr, flush=True)
    if ex.size > 1:
        ex.abort(code)


class Progress:
    """Progress lines on stderr: per rank (site finished, long sites) and overall (rank 0:
    sites done / total, failures, elapsed time, ETA)."""

    def __init__(self, ex, total: int, enabled: bool = True, interval: float = 30.0, prog: str = "pysoc-calibrate"):
        self.ex = ex
        self.total = total
        self.enabled = enabled
        self.interval = interval
        self.prog = prog
        self.t_start = time.monotonic()
        self.done = 0
        self.failed = 0
        self.skipped = 0

    def _tag(self) -> str:
        return f"[rank {self.ex.rank}/{self.ex.size}] " if self.ex.size > 1 else ""

    def line(self, text: str) -> None:
        if self.enabled:
            print(f"{self.prog}: {self._tag()}{text}", file=sys.stderr, flush=True)

    def site_done(self, text: str) -> None:
        self.line(text)

    def overall(self, n_done: int, n_failed: int, n_resumed: int = 0) -> None:
        if not self.enabled or not self.ex.is_root:
            return
        el = time.monotonic() - self.t_start
        fresh = max(n_done - n_resumed, 0)
        remaining = self.total - n_done
        eta = el / fresh * remaining if fresh else float("nan")
        print(f"{self.prog}: progress {n_done}/{self.total} sites done ({n_failed} failed), elapsed "
              f"{_hms(el)}, ETA {_hms(eta)}", file=sys.stderr, flush=True)


def _hms(sec: float) -> str:
    if not np.isfinite(sec):
        return "--:--:--"
    sec = int(round(sec))
    return f"{sec // 3600:d}:{sec % 3600 // 60:02d}:{sec % 60:02d}"


__all__ = ["LAUNCHER_VARS", "MPI_MODES", "SerialExecutor", "MPIExecutor", "get_executor", "launched_by_mpi",
           "launcher_variable", "chunk", "owner", "gather_chunks", "abort_on_error", "collective_setup", "Progress"]

"""Parallel execution of a calibration: an MPI task farm with dynamic load balancing
(site-by-site), an allreduce of per-site costs (one-batch), and a serial fallback.

**Task farm.** Every rank computes, rank 0 included. Workers ask rank 0 for the next site
when they finish one (the message carries the finished result). Rank 0 answers such
requests between sampler blocks of its own site (:meth:`Executor.service`, called by the
sampler callback every ``block_size`` iterations), so a worker waits at most one block.
Sites are handed out in order; results depend only on the site (random streams are
keyed by site and chain), never on the rank that computed them or on the number of ranks.

**One-batch.** All ranks run the same chains (same random streams); each rank evaluates
its own sites and the per-site costs are combined with one ``Allreduce`` of the
(nsite, n) cost matrix (zeros outside a rank's sites, so the sum is exact) and summed in
site order, which makes the total bitwise independent of the number of ranks.

**Failure.** A configuration error found before work starts (the same on every rank) ends
every rank cleanly with one line from rank 0 (:func:`collective_setup`). An exception that
escapes on any rank during the work ends the whole job with ``MPI_Abort`` after printing one
line (:func:`abort_on_error`), so a job never hangs.

MPI is used only when the process was started by an MPI launcher (``mpirun``/``srun``
environment variables) and mpi4py imports; otherwise everything runs serially.
"""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from typing import Any, Callable, Iterable

import numpy as np

_MPI_ENV = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK", "MPI_LOCALNRANKS", "MV2_COMM_WORLD_SIZE",
            "I_MPI_HYDRA_HOST_FILE")

TAG_REQUEST = 11
TAG_TASK = 12


def launched_by_mpi() -> bool:
    return any(k in os.environ for k in _MPI_ENV)


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


def get_executor(use_mpi: bool | None = None):
    """MPIExecutor when launched by an MPI launcher (or use_mpi=True), else serial."""
    if use_mpi is None:
        use_mpi = launched_by_mpi()
    if not use_mpi:
        return SerialExecutor()
    try:
        return MPIExecutor()
    except ImportError:
        return SerialExecutor()


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


__all__ = ["SerialExecutor", "MPIExecutor", "get_executor", "launched_by_mpi", "abort_on_error", "collective_setup",
           "Progress"]

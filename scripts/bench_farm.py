"""Overhead of the MPI task farm of site-by-site calibration (pysoc.da.parallel.MPIExecutor.farm,
the farm :func:`pysoc.da.run.run_site_by_site` uses), measured with a cheap synthetic site so
the farm itself dominates, and the parallel-efficiency model of docs/calibration.md.

    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \\
        timeout 300 mpirun --oversubscribe -n 8 python -m mpi4py scripts/bench_farm.py
    python scripts/bench_farm.py --model      # the efficiency model only (no MPI)

A synthetic site is ``--blocks`` blocks of ``--task-ms / blocks`` milliseconds of *sleep*
(so that oversubscribed ranks on a small machine do not compete for cores while they
"compute"), with ``ex.service()`` between blocks as the sampler callback does, and returns
a result of ``--payload-kb`` kilobytes (the pickled SiteResult of a 21-parameter DREAM(ZS)
site with 24 x 100 draws and its predictive is about 0.5 MB). Rank 0 computes sites too and
answers requests between its blocks, exactly as in a calibration.

Printed (rank 0): the makespan against the ideal (sum of site times / ranks), the parallel
efficiency, rank 0's CPU and wall time per request handled (receive the result, record it,
send the next task: ``h``), and the workers' mean wait per request (send -> next task; ``w``).
"""

from __future__ import annotations

import argparse
import pickle
import time

import numpy as np


def model(T: float, t_blk: float, h: float, a: float, n: int) -> float:
    """Steady-state parallel efficiency of the farm with ``n`` ranks (many sites per rank).

    Each worker loses per site its wait w for the next task: rank 0 looks for requests only
    between its own sampler blocks, so a request waits ``a`` of rank 0's block intervals
    (``a`` measured, 1.0-1.8 with a 0.5 MB result); serving takes the fraction
    f0 = (n - 1) h / T of rank 0's time, which stretches its block interval to t_blk / (1 - f0):

        f0 = (n - 1) h / T,   w = a t_blk / (1 - f0)
        E = ((n - 1) T / (T + w) + 1 - f0) / n

    Rank 0 saturates (E collapses) as f0 -> 1, i.e. at n ~ T / h ranks. The end of the run
    (the last wave of sites, about 1 / (2 k) with k sites per rank of unequal cost) is not
    included.
    """
    f0 = (n - 1) * h / T
    if f0 >= 1:
        return 0.0
    w = a * t_blk / (1 - f0)
    return ((n - 1) * T / (T + w) + (1 - f0)) / n


def print_model(T, t_blk, h, a):
    print(f"model: site T = {T:g} s, sampler block t_blk = {t_blk:g} s, rank-0 handling h = {1e3 * h:.3g} ms/request, "
          f"worker wait a = {a:g} blocks")
    for n in (2, 8, 64, 256, 1024, 2048, 4096):
        print(f"  {n:5d} ranks: efficiency {model(T, t_blk, h, a, n):.3f}  (rank 0 busy serving "
              f"{100 * min(1, (n - 1) * h / T):.1f} % of its time)")


def farm_run(args) -> None:
    from pysoc.da.parallel import MPIExecutor, _Root

    ex = MPIExecutor()
    n_tasks = args.tasks_per_rank * ex.size
    payload = np.zeros(max(1, args.payload_kb * 1024 // 8))
    dt = args.task_ms / 1e3 / args.blocks
    handled = [0, 0.0, 0.0]                               # requests, CPU s, wall s (rank 0)
    orig = _Root._handle

    def timed_handle(self, source, msg):
        c, w = time.process_time(), time.perf_counter()
        orig(self, source, msg)
        handled[0] += 1
        handled[1] += time.process_time() - c
        handled[2] += time.perf_counter() - w

    _Root._handle = timed_handle
    oserve = _Root.serve
    served = [0, 0.0, 0.0, 0]                             # calls with >= 1 request: CPU s, wall s; empty calls

    def timed_serve(self, block=False):                   # receive of the results + _handle (non-blocking)
        k, c, w = handled[0], time.process_time(), time.perf_counter()
        oserve(self, block)
        if handled[0] > k:
            served[0] += handled[0] - k
            served[1] += time.process_time() - c
            served[2] += time.perf_counter() - w
        else:
            served[3] += 1

    _Root.serve = timed_serve
    waits = []
    if not ex.is_root:                                    # worker side: time send -> next task
        comm = ex.comm
        osend, orecv = comm.send, comm.recv
        t_sent = [0.0]

        class Timed:
            def __getattr__(self, k):
                return getattr(comm, k)

            def send(self, obj, dest, tag):
                t_sent[0] = time.perf_counter()
                return osend(obj, dest=dest, tag=tag)

            def recv(self, source, tag):
                r = orecv(source=source, tag=tag)
                waits.append(time.perf_counter() - t_sent[0])
                return r
        ex.comm = Timed()

    def work(i: int):
        for _ in range(args.blocks):
            time.sleep(dt)
            ex.service()
        return (i, payload)

    results = {}
    ex.comm.Barrier()
    t0 = time.perf_counter()
    ex.farm(range(n_tasks), work, lambda i, r, src: results.__setitem__(i, src))
    span = time.perf_counter() - t0
    all_waits = ex.comm.gather(waits, root=0)
    if ex.is_root:
        assert sorted(results) == list(range(n_tasks))
        ideal = n_tasks * args.task_ms / 1e3 / ex.size
        ws = np.concatenate([np.asarray(w[1:], float) for w in all_waits[1:] if len(w) > 1] or [np.zeros(1)])
        h_cpu, h_wall = served[1] / max(served[0], 1), served[2] / max(served[0], 1)
        print(f"{ex.size} ranks, {n_tasks} sites of {args.task_ms:g} ms ({args.blocks} blocks), payload "
              f"{len(pickle.dumps(payload)) / 1024:.0f} kB: makespan {span:.3f} s, ideal {ideal:.3f} s, "
              f"efficiency {ideal / span:.3f}")
        print(f"  rank 0: {handled[0]} requests ({served[0]} between its blocks), h = {1e3 * h_cpu:.3f} ms CPU / "
              f"{1e3 * h_wall:.3f} ms wall per request (receive + record + send), {served[3]} empty service calls; workers: mean wait per request {1e3 * ws.mean():.2f} ms (median "
              f"{1e3 * np.median(ws):.2f}, block {1e3 * dt:.1f} ms)", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks-per-rank", type=int, default=20)
    ap.add_argument("--task-ms", type=float, default=200.0, help="wall time of one synthetic site")
    ap.add_argument("--blocks", type=int, default=10, help="sampler blocks per site (ex.service() between them)")
    ap.add_argument("--payload-kb", type=int, default=512, help="size of one site's result")
    ap.add_argument("--model", action="store_true", help="print the efficiency model only")
    ap.add_argument("--T", type=float, default=5.0, help="model: seconds per site")
    ap.add_argument("--t-blk", type=float, default=0.19,
                    help="model: seconds per sampler block (1000 DREAM(ZS) generations of 24 CLM5 chains: 0.19 s)")
    ap.add_argument("--h", type=float, default=1.2e-3, help="model: rank-0 seconds per request (measured <= 1.2 ms)")
    ap.add_argument("--a", type=float, default=1.8, help="model: worker wait per site in blocks (measured 1.0-1.8)")
    args = ap.parse_args(argv)
    if args.model:
        print_model(args.T, args.t_blk, args.h, args.a)
        return 0
    farm_run(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

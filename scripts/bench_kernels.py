"""Kernel benchmark: steady-state evaluations per second per core, for one site, as a
single call per parameter vector and batched (many vectors per call), next to a plain
NumPy dense-solve implementation of the same system in the same run; prints ratios.

Usage: python scripts/bench_kernels.py [--batch 2000] [--seconds 2] [--compare BUILDDIR [--rounds 3]]
Rates are per CPU second (time.process_time). --compare times the same kernels from another
build directory (e.g. `meson setup /tmp/old` on a checkout of the previous commit) interleaved
with this build in the same process: the before/after ratio, robust to the load of the machine.
Runs on one core (set OMP_NUM_THREADS=1 for a fair NumPy baseline; the Makefile does).
Other kernels add a function to CASES.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))


def rate(fn, n_per_call, seconds):
    """Evaluations per CPU second of fn (which evaluates n_per_call parameter vectors); CPU time
    (time.process_time) so that other load on a shared machine does not count."""
    fn()
    calls, t0 = 0, time.process_time()
    while True:
        fn()
        calls += 1
        dt = time.process_time() - t0
        if dt > seconds:
            return calls * n_per_call / dt


def other_build(m, fn, n_per_call, args):
    """With --compare DIR: batched rates of this build and of the kernel extension of the same
    name in another build directory (e.g. a meson build of the previous commit), measured
    interleaved in this process, as (this, other); None without --compare."""
    if not args.compare:
        return None
    import importlib.util

    mod = sys.modules[type(m).__module__]          # the model module, which holds its kernel as _k
    mine = mod._k
    name = mine.__name__.rsplit(".", 1)[-1]
    path = next(Path(args.compare).glob(f"{name}.cpython-*.so"), None)
    if path is None:
        sys.exit(f"bench_kernels.py: error: no {name} extension in {args.compare}")
    spec = importlib.util.spec_from_file_location(name, path)
    other = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(other)
    res = {"this": [], "other": []}
    try:
        for _ in range(args.rounds):
            for tag, k in (("this", mine), ("other", other)):
                mod._k = k
                res[tag].append(rate(fn, n_per_call, args.seconds / 2))
    finally:
        mod._k = mine
    return float(np.median(res["this"])), float(np.median(res["other"]))


def bench_clm5(args):
    from make_synthetic_forcing import synthetic_site

    from pysoc.models import get_model
    from pysoc.models._clm5_dense import dense_steady_state

    m = get_model("clm5")
    prep = m.prepare(synthetic_site(m, 2))
    rng = np.random.default_rng(0)
    theta = m.to_physical(rng.uniform(0.05, 0.95, size=(args.batch, 21)))
    one = theta[:1]
    r_single = rate(lambda: m.evaluate(prep, one), 1, args.seconds)
    r_batch = rate(lambda: m.evaluate(prep, theta), args.batch, args.seconds)
    r_dense = rate(lambda: dense_steady_state(m, prep, theta[0]), 1, args.seconds)
    status = m.evaluate(prep, theta).status
    cmp = other_build(m, lambda: m.evaluate(prep, theta), args.batch, args)
    return [("clm5 (20 layers x 7 pools, steady state)", r_single, r_batch, r_dense, int((status == 0).sum()),
             len(status), cmp)]


def bench_compas(args):
    """COMPAS: Fortran (tridiagonal litter solves + closed-form soil pools per layer) against
    NumPy building the dense 4 nlev litter matrix, numpy.linalg.solve, vectorised closed form."""
    from make_synthetic_forcing import synthetic_site

    from pysoc.models import get_model
    from pysoc.models._compas_dense import dense_steady_state

    m = get_model("compas")
    prep = m.prepare(synthetic_site(m, 2))
    rng = np.random.default_rng(0)
    theta = m.to_physical(rng.uniform(0.05, 0.95, size=(args.batch, 23)))
    one = theta[:1]
    r_single = rate(lambda: m.evaluate(prep, one), 1, args.seconds)
    r_batch = rate(lambda: m.evaluate(prep, theta), args.batch, args.seconds)
    with np.errstate(all="ignore"):
        r_dense = rate(lambda: dense_steady_state(m, prep, theta[0]), 1, args.seconds)
    status = m.evaluate(prep, theta).status
    cmp = other_build(m, lambda: m.evaluate(prep, theta), args.batch, args)
    return [("compas (20 layers x 8 pools, steady state)", r_single, r_batch, r_dense, int((status == 0).sum()),
             len(status), cmp)]


CASES = [bench_clm5, bench_compas]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=2000, help="parameter vectors per batched call")
    p.add_argument("--seconds", type=float, default=2.0, help="timing window per measurement")
    p.add_argument("--compare", metavar="BUILDDIR",
                   help="also time the kernel extensions of another build directory, interleaved with this one")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds per build with --compare (median)")
    args = p.parse_args(argv)
    print(f"pysoc kernel benchmark (1 core, batch {args.batch}, {args.seconds:g} s per measurement)")
    print(f"{'kernel':45s} {'single/s':>11s} {'batched/s':>11s} {'numpy dense/s':>14s} "
          f"{'batched/dense':>14s} {'single/dense':>13s}")
    for case in CASES:
        for name, single, batched, dense, nok, n, cmp in case(args):
            print(f"{name:45s} {single:11.0f} {batched:11.0f} {dense:14.0f} {batched / dense:13.1f}x "
                  f"{single / dense:12.1f}x   ({nok}/{n} ok)")
            if cmp is not None:
                print(f"{'  interleaved: this build / ' + args.compare:45s} {'':11s} {cmp[0]:11.0f} / {cmp[1]:.0f} "
                      f"= {cmp[0] / cmp[1]:.2f}x batched")


if __name__ == "__main__":
    main()

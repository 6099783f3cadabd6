"""Benchmark of one full site calibration: CLM5, 21 parameters, 3 chains x (20 000 test +
50 000 formal) iterations on one core (spec methods.md §2 defaults), plus the cost of
one batched kernel call and the engine's own overhead per iteration.

    python scripts/bench_calibration.py [--site ID] [--n-test 20000] [--n-formal 50000] [--repeat 1]

The site is a shipped ISRaD profile (default: the first one) with forcing from its
covariates. Prints wall times and sites per hour per core. Run it on an otherwise idle
machine: the numbers scale with the load.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from pysoc.da import run as da_run  # noqa: E402
from pysoc.da.likelihood import CostFunction  # noqa: E402
from pysoc.da.sampler import AMSettings  # noqa: E402
from pysoc.io.namelist import PKGDATA  # noqa: E402
from pysoc.io.profiles import read_profiles, select  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--site", default="", help="site_id of the shipped profiles (default: first usable)")
    ap.add_argument("--n-test", type=int, default=20000)
    ap.add_argument("--n-formal", type=int, default=50000)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)

    profiles = select(read_profiles(PKGDATA / "profiles" / "israd_sites.csv",
                                    PKGDATA / "profiles" / "israd_layers.csv"))
    if args.site:
        profiles = [p for p in profiles if p.site_id == args.site]
        if not profiles:
            ap.error(f"unknown site {args.site!r}")
    prof = profiles[0]
    cfg = da_run.CalibrationConfig(model="clm5", am=AMSettings(n_test=args.n_test, n_formal=args.n_formal),
                                   write_output=False, progress=False, checkpoint_interval=1e9,
                                   checkpoint_dir="/tmp/pysoc_bench_calibration_ckpt", resume=False)
    ctx = da_run.prepare(cfg, [prof])
    forcing, obs = ctx.site_setup(prof)
    cost = CostFunction(ctx.model, [forcing], [obs], ctx.mapper)

    # kernel call for 3 parameter vectors, and the whole cost function
    kp = np.random.default_rng(0).uniform(0.2, 0.8, (3, len(ctx.free)))
    theta = ctx.mapper(kp)
    n = 2000
    t = time.perf_counter()
    for _ in range(n):
        ctx.model.evaluate(cost.prepared[0], theta, observables=cost.observables)
    t_eval = (time.perf_counter() - t) / n
    t = time.perf_counter()
    for _ in range(n):
        cost(kp)
    t_cost = (time.perf_counter() - t) / n

    iters = args.n_test + args.n_formal
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        res = da_run.calibrate_site(ctx, 0)
        times.append(time.perf_counter() - t)
        if not res.ok:
            raise SystemExit(f"site failed: {res.error}")
    wall = min(times)
    d = res.data
    evals = d["n_evaluations"]
    print(f"site {prof.site_id}: {len(prof.top)} layers, {len(ctx.free)} parameters, 3 chains x "
          f"({args.n_test} + {args.n_formal}) iterations")
    print(f"  model.evaluate (3 parameter sets):      {1e6 * t_eval:8.1f} us")
    print(f"  cost function (map + evaluate + J):     {1e6 * t_cost:8.1f} us")
    print(f"  full site calibration (one core):       {wall:8.2f} s  ({1e6 * wall / iters:.1f} us per iteration)")
    print(f"  model runs: {evals} for {3 * iters} proposals (proposals outside the prior box are rejected "
          f"without a run; includes start points and the posterior predictive)")
    print(f"  sites per hour per core:                {3600.0 / wall:8.0f}")
    print(f"  acceptance (formal): {np.round(d['acceptance_rate'], 3).tolist()}, mean G-R {d['gr_mean']:.3f}, "
          f"NSE {d['sites'][0]['obs']['soc_profile']['metrics']['nse']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

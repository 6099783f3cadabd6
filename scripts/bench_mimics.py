"""Benchmark of the MIMICS kernel: steady state of a 20-layer profile by Newton's method
(pseudo-transient continuation, analytic Jacobian) against the time-stepping spin-up of seed
003 (backward Euler, hourly steps, until no pool changes by more than 0.01 % between years),
for the same site and parameters; plus batched throughput of the calibration kernel
(steady state + radiocarbon).

Usage: python scripts/bench_mimics.py [--substep-hours 1] [--max-years 20000] [--quick]

The forcing is the shipped Bartlett B2 forcing (pysoc/data/mimics) with its annual-mean
temperature, so that both methods target the same steady state (with a seasonal cycle the
spin-up converges to a periodic state instead). --quick uses daily steps (same fixed point).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--substep-hours", type=float, default=1.0, help="spin-up time step (h); seed 003: 1")
    ap.add_argument("--max-years", type=int, default=20000)
    ap.add_argument("--tol", type=float, default=1e-4, help="spin-up criterion (seed 003: 1e-4 = 0.01 %%/yr)")
    ap.add_argument("--quick", action="store_true", help="daily spin-up steps")
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args(argv)
    if args.quick:
        args.substep_hours = 24.0

    from pysoc.models import get_model
    from pysoc.params import OutsidePriorWarning
    warnings.simplefilter("ignore", OutsidePriorWarning)

    m = get_model("mimics", substep_hours=args.substep_hours)
    f = m.load_forcing(ROOT / "pysoc" / "data" / "mimics" / "forcing_bartlett_B2.nc")
    tmean = f["tsoi"].values.mean(axis=0)
    flat = m.forcing_dataset(tmean, f["clay"].values, float(f["litter_above"]), float(f["litter_below"]),
                             float(f["lignin_n_above"]), float(f["lignin_n_below"]),
                             sample_year=float(f["sample_year"]), attrs=dict(f.attrs))
    theta = m.parameters.vector("wang2021")
    prep = m.prepare(flat)
    print(f"MIMICS benchmark: {m.nlev} layers x 7 pools, site {f.attrs.get('site_id')}, parameter set wang2021, "
          f"forward kinetics")

    # Newton (steady state only; with and without the eigenvalue test)
    times = {}
    for stab in (False, True):
        m.options["check_stability"] = stab
        m.evaluate(prep, theta)
        t0 = time.perf_counter()
        for _ in range(args.repeat):
            res = m.evaluate(prep, theta)
        times[stab] = (time.perf_counter() - t0) / args.repeat
        assert res.status[0] == 0, res.describe(0)
    x_newton = res.outputs["pools"][0]
    print(f"  Newton-PTC steady state:              {1e3 * times[False]:9.2f} ms "
          f"({int(res.outputs['niter'][0])} iterations, residual {res.outputs['residual'][0]:.1e})")
    print(f"  ... plus stability test (eigenvalues): {1e3 * times[True]:9.2f} ms "
          f"(max Re lambda = {res.outputs['max_eig'][0]:.3e} h-1)")

    # time-stepping spin-up from the solver's first guess (arbitrary proportions, seed 003)
    print(f"  spin-up: backward Euler, {args.substep_hours:g} h steps, until max relative change < "
          f"{args.tol:g} per year ...", flush=True)
    t0 = time.perf_counter()
    sp = m.spinup(flat, theta, tol=args.tol, max_years=args.max_years)
    t_spin = time.perf_counter() - t0
    x_spin = sp.cpools.values
    diff = np.abs(x_spin / x_newton - 1)
    soc_n, soc_s = (x_newton[2:] * m.dz).sum(), (x_spin[2:] * m.dz).sum()
    print(f"  spin-up: {int(sp.years)} years, {t_spin:9.1f} s, status {int(sp.status)}; "
          f"max |pool/Newton - 1| = {diff.max():.2e}, SOC stock differs by {abs(soc_s / soc_n - 1):.2e}")
    print(f"  RATIO spin-up / Newton = {t_spin / times[False]:.3g} (with the stability test: "
          f"{t_spin / times[True]:.3g})")

    # calibration kernel throughput: steady state + 14C (1950 steady state + bomb period)
    m.options["check_stability"] = False
    n = 200
    rng = np.random.default_rng(0)
    tab = m.parameters
    idx = [tab.index(k) for k in ("x_v", "x_k", "x_d", "x_diff", "alpha_r", "alpha_v", "beta")]
    th = np.repeat(theta[None], n, 0)
    th[:, idx] = tab.prior_min[idx] + rng.random((n, 7)) * (tab.prior_max[idx] - tab.prior_min[idx])
    t0 = time.perf_counter()
    r = m.evaluate(prep, th, observables=("soc_profile", "d14c_profile"))
    dt = time.perf_counter() - t0
    print(f"  batched steady state + 14C, {n} random Table-1 parameter vectors: {1e3 * dt / n:.2f} ms each, "
          f"{int(r.ok.sum())}/{n} ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())

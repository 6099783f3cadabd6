"""Benchmark of the CENTURY kernel: fast (matrix) vs classic spin-up, and batched evaluation.

Usage: python scripts/bench_century.py [--sets 200]

Spin-up on the shipped Haibei site (pysoc/data/century/haibei_forcing.nc), meadow parameter
set, from empty pools:
- classic: the spin-up period repeated (a) for 4000 years as in seed 000, and (b) until the
  total carbon changes by less than 1e-10 relative over one period ("converged");
- fast: the periodic fixed point of the period map of the 12 carbon pools, Anderson-
  accelerated, to the default tolerance (largest pool change < 1e-6 of total carbon).
Reported: total SOC (soil SOM1 + SOM2 + SOM3), relative differences, simulated years and
wall time, the speed ratio; both for the 12-month climatology and the 48-month 2002-2005
series used as the period. Then evaluate() throughput (spin-up + 48-month run per vector).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from pysoc.models import get_model
from pysoc.models import century as C

FORCING = Path(C.__file__).resolve().parent.parent / "data" / "century" / "haibei_forcing.nc"


def timed(fn, repeat=1):
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return out, best


def spinup_case(model, forcing, label):
    prep = model.prepare(forcing)
    th = np.asfortranarray(model.parameters.vector("meadow")[:, None])
    idx = np.ones(1, np.int32)
    st0, _ = model.initial_state(prep, th, idx)
    nper_years = prep["tmax_spinup"].shape[0] // 12
    fast_m = get_model("century")
    (fast, nit, s1), t_fast = timed(lambda: fast_m.spinup(prep, th, idx, st0, "fast"), repeat=20)
    c4000 = get_model("century", spinup_years=4000, spinup_tol=0.0)
    (cl4, ny4, s2), t_4000 = timed(lambda: c4000.spinup(prep, th, idx, st0, "classic"), repeat=3)
    conv = get_model("century", spinup_years=1_000_000, spinup_tol=1e-10)
    (clc, nyc, s3), t_conv = timed(lambda: conv.spinup(prep, th, idx, st0, "classic"))
    assert s1[0] == 0 and s2[0] == 0 and s3[0] == 0, (s1, s2, s3)
    soc = lambda s: float(s[5:8, 0].sum())  # noqa: E731
    # years the classic spin-up needs to come within 0.1 % of its converged SOC
    probe = get_model("century", spinup_years=nper_years, spinup_tol=0.0)
    st, years = st0.copy(), 0
    while abs(soc(st) / soc(clc) - 1) > 1e-3:
        st, _, _ = probe.spinup(prep, th, idx, st, "classic")
        years += nper_years
    per_year = t_conv / nyc[0]
    print(f"\n== spin-up period: {label} ({nper_years} yr) ==")
    print(f"fast      : SOC {soc(fast):10.3f} g C m-2  {nit[0]:4d} periods = {nit[0] * nper_years:6d} yr  "
          f"{1e3 * t_fast:8.2f} ms")
    print(f"classic   : SOC {soc(cl4):10.3f} g C m-2  {ny4[0]:6d} yr (seed 000)        {1e3 * t_4000:8.2f} ms   "
          f"rel. diff to converged {soc(cl4) / soc(clc) - 1:+.2e}")
    print(f"classic   : SOC {soc(clc):10.3f} g C m-2  {nyc[0]:6d} yr (converged 1e-10) {1e3 * t_conv:8.2f} ms")
    print(f"classic needs {years} yr ({1e3 * years * per_year:.1f} ms) to come within 0.1 % of its converged SOC")
    print(f"fast vs converged classic: SOC rel. diff {soc(fast) / soc(clc) - 1:+.2e}, total C "
          f"{fast[:12, 0].sum() / clc[:12, 0].sum() - 1:+.2e}")
    print(f"speed ratio: vs 4000-yr classic {t_4000 / t_fast:7.0f}x, vs converged classic {t_conv / t_fast:7.0f}x, "
          f"vs classic within 0.1 % {years * per_year / t_fast:7.0f}x")
    return dict(fast=soc(fast), classic4000=soc(cl4), classic=soc(clc), t_fast=t_fast, t_4000=t_4000, t_conv=t_conv,
                years_conv=int(nyc[0]), periods_fast=int(nit[0]))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", type=int, default=200, help="parameter vectors in the evaluate() benchmark")
    args = p.parse_args(argv)
    model = get_model("century")
    forcing = model.load_forcing(FORCING)
    spinup_case(model, forcing, "1980-2009 climatology")
    series = forcing.drop_vars(["tmax_spinup", "tmin_spinup", "prec_spinup"])
    spinup_case(model, series, "2002-2005 series")

    rng = np.random.default_rng(0)
    kp = np.tile(model.parameters.kp_vector("meadow"), (args.sets, 1))
    ic = [model.parameters.index(n) for n in C.CALIBRATED]
    kp[:, ic] = rng.uniform(0, 1, (args.sets, len(ic)))
    theta = model.to_physical(kp)
    prep = model.prepare(forcing)
    model.evaluate(prep, theta[:2])
    res, t = timed(lambda: model.evaluate(prep, theta), repeat=3)
    ok = int((res.status == 0).sum())
    print(f"\n== evaluate(): {args.sets} prior draws of the 24 parameters, fast spin-up + "
          f"{forcing.sizes['time']}-month run ==")
    print(f"{1e3 * t:.1f} ms total, {1e3 * t / args.sets:.3f} ms per vector, {args.sets / t:.0f} vectors/s "
          f"({ok}/{args.sets} ok)")


if __name__ == "__main__":
    main()

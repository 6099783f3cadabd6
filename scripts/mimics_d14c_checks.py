"""Why is the MIMICS Delta14C fit poor? Re-evaluate an SCE-UA optimum with each radiocarbon
setting of seed 003 changed in turn (docs/mimics.md, "Why the Delta14C fit is poor").

Usage::

    cd namelists && pysoc-calibrate calibrate_mimics.nml && cd ..
    python scripts/mimics_d14c_checks.py [--namelist namelists/calibrate_mimics.nml]
        [--optimum output/calibrate_mimics_sites.csv] [--table output/mimics_d14c_checks.csv]

For every site of the optimum table (columns ``<parameter>_best``) the Delta14C of the
observed layers is recomputed (same forcing, same observation operator as the cost) with:
the namelist settings ('base'); the neighbouring zone of the atmospheric record (NH zone 2
instead of the latitude rule's zone 1); no lag and a 2-year lag of the litter 14C instead of
1 year; the Hua et al. 2013 record (seed 003) instead of Hua et al. 2021; the sampling year
one year later; four radiocarbon sub-steps per month. Printed and written: RMSE and NSE of
Delta14C and of SOC per site and variant.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = {"base": {}, "zone NHZone2": {"atm14c_zone": "NHZone2"}, "lag 0 yr": {"atm14c_lag": 0.0},
            "lag 2 yr": {"atm14c_lag": 2.0}, "record hua2013": {"atm14c_record": "hua2013"},
            "c14_substeps 4": {"c14_substeps": 4}, "sample year + 1": {}}


def _skill(y: np.ndarray, f: np.ndarray) -> tuple[float, float]:
    rmse = float(np.sqrt(np.mean((f - y) ** 2)))
    nse = float(1.0 - np.sum((f - y) ** 2) / np.sum((y - y.mean()) ** 2))
    return rmse, nse


def fit(model, forcing, theta, obs) -> dict:
    """Delta14C and SOC of the observed layers (the cost's operators) and their skill."""
    r = model.evaluate(forcing, theta[None], observables=("soc_profile", "d14c_profile"))
    if int(r.status[0]) != 0:
        return {"status": int(r.status[0])}
    d, soc = r.outputs["d14c_profile"][0], r.outputs["soc_profile"][0]
    s14, ssoc = obs.streams["d14c_profile"], obs.streams["soc_profile"]
    pred14 = (s14.W @ (d * soc)) / (s14.W @ soc)
    rmse14, nse14 = _skill(s14.y, pred14)
    rmse, nse = _skill(ssoc.y, ssoc.W @ soc)
    return {"status": 0, "d14c_rmse_permil": rmse14, "d14c_nse": nse14, "soc_rmse_g_m3": rmse, "soc_nse": nse,
            "d14c_model_top_permil": float(pred14[0]), "d14c_obs_top_permil": float(s14.y[0])}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="mimics_d14c_checks", description=__doc__.split("\n\n")[0])
    p.add_argument("--namelist", type=Path, default=ROOT / "namelists" / "calibrate_mimics.nml")
    p.add_argument("--optimum", type=Path, default=ROOT / "output" / "calibrate_mimics_sites.csv")
    p.add_argument("--table", type=Path, default=ROOT / "output" / "mimics_d14c_checks.csv")
    a = p.parse_args(argv)
    from pysoc.cli.calibrate import config_from_namelist, load_namelist, load_profiles
    from pysoc.da import run as da_run
    from pysoc.io.atomic import write_csv
    from pysoc.models import get_model

    if not a.optimum.is_file():
        print(f"mimics_d14c_checks: error: {a.optimum}: optimum table not found (run pysoc-calibrate "
              f"{a.namelist} first)", file=sys.stderr)
        return 2
    nml, name = load_namelist(a.namelist)
    cfg = config_from_namelist(nml, name, str(a.namelist))
    ctx = da_run.prepare(cfg, load_profiles(nml, cfg, str(a.namelist)))
    best = pd.read_csv(a.optimum).set_index("site_id")
    rows = []
    for prof in ctx.profiles:
        if prof.site_id not in best.index:
            continue
        forcing, obs = ctx.site_setup(prof)
        theta = ctx.theta_fixed.copy()
        for n in ctx.param_names:
            theta[ctx.model.parameters.index(n)] = float(best.loc[prof.site_id, f"{n}_best"])
        for label, opts in VARIANTS.items():
            model = get_model(cfg.model, **{**cfg.model_options, **opts})
            f = forcing
            if label == "sample year + 1":
                f = forcing.copy()
                f["sample_year"] = forcing["sample_year"] + 1.0
            rows.append({"site_id": prof.site_id, "variant": label, "zone": model.zone(f), **fit(model, f, theta, obs)})
    df = pd.DataFrame(rows)
    write_csv(df, a.table, float_format="%.4g")
    print(df.round(2).to_string(index=False))
    print(f"wrote {a.table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

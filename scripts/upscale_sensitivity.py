#!/usr/bin/env python
"""Sensitivity of the Rh random forest to the choices left open by the data (used for the
table in docs/upscale_rh.md): predictor set, site climate source, CV design, area mask.

    python scripts/upscale_sensitivity.py [--ntree 200] [--mtry 5] [--jobs 2]

Each variant: record-level 10-fold CV stratified by climate zone (the study's design),
the same with folds grouped by site, and the global total of the ensemble of the 10
CV forests on the shipped 1° grid. Runs in about 2 minutes on 2 cores.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from pysoc.io.namelist import PKGDATA
from pysoc.upscale import models as M
from pysoc.upscale.grid import CovariateGrid, global_total
from pysoc.upscale.predictors import DEFAULT_PREDICTORS, encode_design
from pysoc.upscale.srdb import apply_filters, read_srdb
from pysoc.upscale.workflow import build_sites

STUDY_AVAILABLE = ["MAT", "MAP", "Sand", "Silt", "Clay", "SOC", "Veg"]
VARIANTS = [
    ("default: 12 predictors, SRDB climate", list(DEFAULT_PREDICTORS), "record", "vegetated"),
    ("12 predictors, grid climate at sites", list(DEFAULT_PREDICTORS), "grid", "vegetated"),
    ("7 study predictors available", STUDY_AVAILABLE, "record", "vegetated"),
    ("MAT, MAP, Veg only", ["MAT", "MAP", "Veg"], "record", "vegetated"),
    ("default, all land area (no bare mask)", list(DEFAULT_PREDICTORS), "record", "land"),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ntree", type=int, default=200)
    ap.add_argument("--mtry", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rec, _ = apply_filters(read_srdb(PKGDATA / "srdb" / "srdb_rh_records.csv"))
    grid = CovariateGrid(PKGDATA / "grids" / "upscale_covariates_1deg.nc")
    rows = []
    for label, preds, clim, area in VARIANTS:
        s = build_sites(rec, grid, preds, site_climate=clim)
        X, y, zone = s.design.to_numpy(float), s.y, s.table["zone"].to_numpy()
        mtry = min(a.mtry, X.shape[1])

        def fac():
            return M.make_rf(a.ntree, mtry, a.seed, a.jobs)

        cv = M.cross_validate(fac, X, y, M.stratified_folds(zone, 10, a.seed))
        gcv = M.cross_validate(fac, X, y, M.stratified_folds(zone, 10, a.seed, groups=s.table["site"].to_numpy()))
        cells = grid.cells(preds, area)
        Xg = encode_design(cells.table, preds).to_numpy(float)
        w = cells.table["weight"].to_numpy(float)
        tots = [global_total(p, w) for p in M.predict_ensemble(cv.models, Xg)]
        rows.append({"variant": label, "n": len(y), "R2": cv.skill["R2"], "NSE": cv.skill["NSE"],
                     "RMSE": cv.skill["RMSE"], "R2_site": gcv.skill["R2"], "NSE_site": gcv.skill["NSE"],
                     "RMSE_site": gcv.skill["RMSE"], "global_PgC": np.mean(tots), "global_sd": np.std(tots, ddof=1)})
        print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    print()
    print("| variant | n | R² | NSE | RMSE | R² (site-blocked) | NSE (site-blocked) | RMSE (site-blocked) | global Rh (Pg C yr⁻¹) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in df.itertuples():
        print(f"| {r.variant} | {r.n} | {r.R2:.2f} | {r.NSE:.2f} | {r.RMSE:.0f} | {r.R2_site:.2f} | {r.NSE_site:.2f} | "
              f"{r.RMSE_site:.0f} | {r.global_PgC:.1f} ± {r.global_sd:.1f} |")


if __name__ == "__main__":
    main()

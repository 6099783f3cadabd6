#!/usr/bin/env python
"""Checks of the Rh upscaling used for the tables in docs/upscale_rh.md.

    python scripts/upscale_sensitivity.py namelists/upscale_rh.nml [--nested 5]
        [--fluxnet PATH/fluxnet_annual.csv] [--out output/upscale_sensitivity]

Needs the saved model of a run of the namelist (``pysoc-upscale NAMELIST`` first). Prints:

1. **CV design**: the selected model (its predictors and hyperparameters) and the two
   baselines under folds grouped by 0.5° cell with 0, 50, 100 and 200 km buffers, grouped by
   site, and record-level (the seed's design) -- how much of a skill number is site memory.
2. **Nested grouped CV** (``--nested K``): the whole selection pipeline (predictor families,
   hyperparameters, model class) repeated inside each of K outer folds, scored on the outer
   test fold it never saw -- the honest estimate of the skill of the procedure; inside, the
   same tuning and reporting folds (10 x repeats each) as the main run.
3. **FLUXNET2015** (``--fluxnet``, the annual site-years of the rh-changes repository): the
   saved model's Rh at the flux-tower sites against their ecosystem respiration and GPP
   (site means, night-time partitioning). Rh is part of RECO, so an independent check is
   that predicted Rh stays below RECO and rises with it across sites.

Takes long (the nested CV runs the selection K times): run with ``nice``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd


def _setup(namelist: str, out: Path):
    from pysoc.upscale import workflow as W
    nml = W.UPSCALE_NAMELIST.read(namelist)
    model_path = Path(nml["run"]["output_dir"]) / nml["run"]["model_name"]
    nml["run"]["output_dir"] = str(out)
    nml["run"]["progress"] = False
    run = W.Run(nml, verbose=False)
    inp = W.load_inputs(run)
    records, _ = W.filter_records(run, inp)
    data = W.training_data(run, inp, records)
    return W, run, inp, data, model_path


def cv_designs(W, run, data, model) -> pd.DataFrame:
    from pysoc.upscale import models as M
    from pysoc.upscale import selection as S
    t, y = data.table, data.y
    lat, lon, zone = t["Latitude"].to_numpy(float), t["Longitude"].to_numpy(float), t["zone"].to_numpy()
    seed, nf = run.nml["run"]["seed"], run.nml["cv"]["n_folds"]
    designs = [(f"0.5° cell, {b} km buffer", [M.grouped_folds(lat, lon, zone, nf, seed + 1000 + r, "cell", 0.5, b)
                                             for r in range(2)]) for b in (0, 50, 100, 200)]
    designs.append(("site, no buffer", [M.grouped_folds(lat, lon, zone, nf, seed + 1000 + r, "site")
                                        for r in range(2)]))
    designs.append(("record-level (seed design)", [M.stratified_folds(zone, nf, seed + 1000 + r) for r in range(2)]))
    X, cols = S.design_matrix(t, model.predictors, model.candidate)
    st = run.settings()
    rows = []
    for label, folds in designs:
        sc = {**S.baseline_scores(t, y, folds),
              model.candidate: S.score_repeats(lambda: S.estimator(model.candidate, model.config, cols, st), X, y,
                                               folds)}
        for k, v in sc.items():
            rows.append({"cv": label, "model": k, **{m: v.mean[m] for m in S.METRICS}})
        print(f"  {label}: " + "; ".join(f"{k} R2 {v.mean['R2']:.3f} RMSE {v.mean['RMSE']:.0f}" for k, v in sc.items()),
              flush=True)
    return pd.DataFrame(rows)


def nested(W, run, data, k: int) -> pd.DataFrame:
    from pysoc.upscale import selection as S
    outer = W.fold_sets(run, data.table, offset=2000, repeats=1, n_folds=k)[0]
    tab, choices = S.nested_cv(data.table, data.y, W.candidate_predictors(run.nml), run.nml["models"]["candidates"],
                               run.settings(),
                               outer,
                               lambda sub: (W.fold_sets(run, sub, offset=3000), W.fold_sets(run, sub, offset=4000)),
                               run.nml["predictors"]["select_predictors"])
    for i, c in enumerate(choices):
        print(f"  outer fold {i + 1}: {c.candidate} {c.config} on {len(c.predictors)} predictors", flush=True)
    for r in tab.itertuples():
        print(f"  {r.model:<18s} R2 {r.R2:.3f}  NSE {r.NSE:.3f}  RMSE {r.RMSE:.1f}  bias {r.bias:+.1f}  n {r.n}")
    return tab


def fluxnet(path: Path, model, grid) -> pd.DataFrame:
    f = pd.read_csv(path, encoding="latin-1", na_values=["NA", -9999])
    s = f.groupby("SITE_ID").agg(lat=("LOCATION_LAT", "first"), lon=("LOCATION_LONG", "first"),
                                 igbp=("IGBP", "first"), reco=("RECO_NT_VUT_REF", "mean"),
                                 gpp=("GPP_NT_VUT_REF", "mean"), years=("Year", "size")).reset_index()
    s = s[np.isfinite(s["reco"]) & np.isfinite(s["gpp"]) & (s["reco"] > 0)].reset_index(drop=True)
    p = model.predict_sites(grid, s["lat"].to_numpy(float), s["lon"].to_numpy(float))
    s = s.join(p[["rh", "status"]])
    ok = s["status"] == "ok"
    from pysoc.upscale.sites import sample_table
    b = sample_table(grid, s["lat"], s["lon"], ["MAT", "MAP"], model.fill_km)
    s["rh_linear"] = np.where(ok, model.baselines["linear"].predict(b[["MAT", "MAP"]].fillna(0).to_numpy(float)),
                              np.nan)
    t = s[ok]
    for col, name in (("rh", model.candidate), ("rh_linear", "linear MAT + MAP")):
        r_reco = np.corrcoef(t[col], t["reco"])[0, 1]
        r_gpp = np.corrcoef(t[col], t["gpp"])[0, 1]
        ratio = (t[col] / t["reco"]).median()
        print(f"  {name:<17s} at {len(t)} FLUXNET sites: r(Rh, RECO) {r_reco:.2f}, r(Rh, GPP) {r_gpp:.2f}; "
              f"median Rh/RECO {ratio:.2f}; Rh < RECO at {(t[col] < t['reco']).mean() * 100:.0f} % of sites")
    return s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("namelist")
    ap.add_argument("--nested", type=int, default=0, help="outer folds of the nested CV (0 = skip)")
    ap.add_argument("--fluxnet", type=Path, help="fluxnet_annual.csv (FLUXNET2015 annual site-years)")
    ap.add_argument("--out", type=Path, default=Path("output/upscale_sensitivity"))
    a = ap.parse_args()
    from pysoc.io.namelist import resolve_path
    from pysoc.upscale.grid import CovariateGrid
    from pysoc.upscale.output import write_csv
    from pysoc.upscale.saved import UpscaleModel
    W, run, inp, data, model_path = _setup(a.namelist, a.out)
    model = UpscaleModel.load(model_path)
    print(f"saved model: {model.describe()}")
    print("1. CV design (selected model's configuration, 10 folds x 2 repeats):")
    designs = cv_designs(W, run, data, model)
    write_csv(designs, a.out / "cv_designs.csv", float_format="%.4f")
    if a.nested:
        print(f"2. nested grouped CV ({a.nested} outer folds):")
        write_csv(nested(W, run, data, a.nested), a.out / "cv_nested.csv", float_format="%.4f")
    if a.fluxnet:
        print("3. FLUXNET2015 sites:")
        grid = CovariateGrid(resolve_path(model.grid_file, Path.cwd()))
        model.prepare_grid(grid)
        write_csv(fluxnet(a.fluxnet, model, grid), a.out / "fluxnet_check.csv", float_format="%.3f")


if __name__ == "__main__":
    main()

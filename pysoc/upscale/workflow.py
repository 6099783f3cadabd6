"""The whole Rh-upscaling chain driven by one namelist (``pysoc-upscale NAMELIST``):
SRDB filters -> site predictors -> RF grid + CV, XGBoost, importance, partial dependence, PCA
groups -> global map and total -> turnover time -> 2-box constraint.

Every key is declared in :data:`UPSCALE_NAMELIST` (type, default, documentation).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pysoc.errors import ConfigError, DataError
from pysoc.io.namelist import Group, Key, Namelist, NamelistSpec
from pysoc.upscale import models as M
from pysoc.upscale import output as O
from pysoc.upscale.grid import CovariateGrid, assign_site_vegetation, global_total
from pysoc.upscale.predictors import (ALL_PREDICTORS, DEFAULT_PREDICTORS, STUDY_PREDICTORS, availability_table,
                                      check_predictor_names, climate_zone_from_koppen, climate_zone_from_latitude,
                                      encode_design)
from pysoc.upscale.srdb import (DEFAULT_CONTROL_LABELS, DEFAULT_EXCLUDED_METHODS, FilterOptions, apply_filters,
                                read_srdb)

STUDY = {"R2": 0.62, "NSE": 0.63, "RMSE": 152.9, "n": 761, "global_rh": 48.8, "global_rh_sd": 0.9,
         "tau_soil": 38.3, "tau_soil_sd": 11.0}

UPSCALE_NAMELIST = NamelistSpec([
    Group("run", (
        Key("output_dir", "str", "upscale_out", "folder for all outputs (created)", path=True),
        Key("seed", "int", 1, "seed of folds, forests, XGBoost, permutations and Monte Carlo draws", min=0),
        Key("n_jobs", "int", 2, "threads for random forest and XGBoost", min=1, max=256),
        Key("progress", "bool", True, "show tqdm progress bars for the long steps"),
        Key("figures", "bool", True, "write PNG figures next to the outputs"),
    ), "Output and reproducibility."),
    Group("srdb", (
        Key("srdb_file", "str", "pkgdata:srdb/srdb_rh_records.csv",
            "SRDB table: the shipped Rh records (all 1,064 Rh rows of SRDB 2022-10-09 minus held-out cells), "
            "or a full srdb-data.csv", path=True),
        Key("apply_filters", "bool", True, "apply the filters below (set .false. for an already filtered table)"),
        Key("min_years", "float", 1.0, "minimum YearsOfData", min=0.0, units="yr"),
        Key("control_labels", "list[str]", list(DEFAULT_CONTROL_LABELS),
            "Manipulation labels that count as unmanipulated (besides blank)"),
        Key("excluded_methods", "list[str]", list(DEFAULT_EXCLUDED_METHODS),
            "Meas_method values removed (alkali absorption and soda lime traps)"),
        Key("excluded_quality_flags", "list[str]", [""], "Quality_flag codes removed, e.g. 'Q10','Q11' ('' = none)"),
        Key("drop_duplicates", "bool", False, "remove records with Duplicate_record set (not a study filter)"),
        Key("drop_nonpositive", "bool", True, "remove Rh_annual <= 0 (not a study filter)"),
        Key("outlier_sd", "float", 6.0, "remove |Rh - mean| > outlier_sd x SD (0 = off)", min=0.0),
    ), "SRDB ingest and the study's record filters."),
    Group("predictors", (
        Key("grid_file", "str", "pkgdata:grids/upscale_covariates_1deg.nc",
            "covariate grid (CF NetCDF, see docs/upscale_rh.md for the required variables)", path=True),
        Key("matched_file", "str", "pkgdata:srdb/srdb_rh_matched.csv",
            "rh-changes matched table (SoilGrids 0-1 m SOC, ESA-CCI soil moisture at Rh sites); '' = none",
            path=True),
        Key("predictors", "list[str]", list(DEFAULT_PREDICTORS),
            "predictors of the models (mappable names: MAT MAP Pdry Pseas Tseas AGB BGB Sand Silt Clay SOC BD Veg)"),
        Key("site_climate", "str", "record", "MAT/MAP at sites: 'record' = SRDB value, grid where missing "
            "(study); 'grid' = grid value everywhere", choices=("record", "grid")),
        Key("site_vegetation", "str", "record", "vegetation class at sites: 'record' = SRDB Ecosystem_type "
            "(+ Leaf_habit, grid forest shares); 'grid' = MODIS class of the cell", choices=("record", "grid")),
        Key("max_site_km", "float", 150.0, "sites farther than this from a valid grid cell are dropped",
            min=1.0, units="km"),
        Key("climate_zones", "str", "koppen", "climate zone for stratification: 'koppen' (A tropical, B/C "
            "temperate, D/E boreal) or 'latitude' (|lat|<23.5, >50)", choices=("koppen", "latitude")),
        Key("area", "str", "vegetated", "area weight of the map: 'vegetated' (IGBP 1-12, 14; the study masks "
            "bare land) or 'land'", choices=("vegetated", "land")),
        Key("fill_km", "float", 500.0, "map cells lacking a soil/biomass predictor take the nearest valid "
            "cell within this distance", min=0.0, units="km"),
    ), "Predictors at the sites and on the grid."),
    Group("models", (
        Key("n_folds", "int", 10, "folds of the cross-validation stratified by climate zone", min=2, max=50),
        Key("rf_ntree", "list[int]", [100, 150, 200], "ntree values of the tuning grid", min=1, max=5000),
        Key("rf_mtry", "list[int]", [2, 3, 4, 5], "mtry values (max_features) of the tuning grid", min=1),
        Key("tune_criterion", "str", "RMSE", "CV score that picks (ntree, mtry)", choices=("RMSE", "NSE", "R2")),
        Key("min_samples_leaf", "int", 1, "minimum records per leaf", min=1),
        Key("min_samples_split", "int", 6, "nodes with fewer records are not split (6 = R randomForest "
            "regression nodesize 5, the study's software default)", min=2),
        Key("site_blocked_cv", "bool", True, "also report CV with folds grouped by site (no site in both "
            "training and test; diagnostic, not used for the map)"),
        Key("xgboost", "bool", True, "fit XGBoost with the same folds"),
        Key("xgb_n_estimators", "int", 400, "XGBoost boosting rounds", min=1),
        Key("xgb_max_depth", "int", 4, "XGBoost tree depth", min=1, max=20),
        Key("xgb_learning_rate", "float", 0.03, "XGBoost learning rate", min=1e-4, max=1.0),
        Key("xgb_subsample", "float", 0.8, "XGBoost row subsample", min=0.1, max=1.0),
        Key("xgb_colsample", "float", 0.8, "XGBoost column subsample per tree", min=0.1, max=1.0),
        Key("permutation_repeats", "int", 5, "shuffles per predictor and fold (0 = skip)", min=0),
        Key("pdp_top", "int", 6, "partial-dependence curves for the N most important numeric predictors",
            min=0),
        Key("pca_components", "int", 2, "principal components per predictor group (0 = skip)", min=0, max=5),
    ), "Random forest, XGBoost, cross-validation and importance."),
    Group("turnover", (
        Key("enabled", "bool", True, "compute the turnover-time map"),
        Key("csoil_source", "str", "sg_5_15cm_scaled", "cSoil: 'sg_5_15cm' (5-15 cm layer only), "
            "'sg_5_15cm_scaled' (layer x site ratio to 0-1 m), 'file' (csoil_file)",
            choices=("sg_5_15cm", "sg_5_15cm_scaled", "file")),
        Key("csoil_file", "str", "", "NetCDF with a 0-1 m cSoil (lat, lon) field", path=True),
        Key("csoil_var", "str", "", "variable in csoil_file (units kg C m-2, g C m-2 or Mg C ha-1)"),
        Key("rh_min", "float", 10.0, "cells with Rh below this are left out of τ", min=0.0, units="g C m-2 yr-1"),
    ), "Soil carbon turnover time τ = cSoil / Rh."),
    Group("twobox", (
        Key("enabled", "bool", True, "run the 2-box constraint"),
        Key("trajectories_file", "str", "pkgdata:upscale/twobox_example.csv",
            "model trajectories, CSV or NetCDF (model, year, npp and tau_veg, tau_soil or cveg, csoil, rh)",
            path=True),
        Key("tau_veg_obs", "float", 10.3, "observation-based τveg mean (He et al. 2021)", min=0.1, units="yr"),
        Key("tau_veg_obs_sd", "float", 1.4, "its SD", min=0.0, units="yr"),
        Key("tau_soil_obs", "float", 38.3, "observation-based τsoil mean (study)", min=0.1, units="yr"),
        Key("tau_soil_obs_sd", "float", 11.0, "its SD", min=0.0, units="yr"),
        Key("tau_soil_from_upscale", "bool", False, "use this run's global τ (and SD) instead of tau_soil_obs"),
        Key("n_veg", "int", 100, "Monte Carlo draws of τveg", min=1, max=10000),
        Key("n_soil", "int", 100, "Monte Carlo draws of τsoil", min=1, max=10000),
        Key("ref_start", "int", 0, "first year of the reference period of τ_sim (0 = first year)", min=0),
        Key("ref_end", "int", 0, "last year of the reference period (0 = last year)", min=0),
        Key("tau_min", "float", 0.5, "lower truncation of drawn and corrected τ", min=0.01, units="yr"),
    ), "2-box model (vegetation -> soil) constrained by observation-based turnover times."),
], doc="Namelist of `pysoc-upscale` (heterotrophic-respiration upscaling, turnover time, 2-box model).")


@dataclass
class SiteData:
    table: pd.DataFrame            # records + predictors + Veg + zone + site
    design: pd.DataFrame           # encoded design matrix
    y: np.ndarray
    lines: list[str] = field(default_factory=list)


def _log(lines: list[str], msg: str, verbose: bool) -> None:
    lines.append(msg)
    if verbose:
        print(msg, flush=True)


def build_sites(records: pd.DataFrame, grid: CovariateGrid, predictors: list[str], site_climate: str = "record",
                site_vegetation: str = "record", max_km: float = 150.0, zones: str = "koppen",
                verbose: bool = False) -> SiteData:
    """Attach predictors, vegetation class and climate zone to the filtered records; drop
    records without gridded predictors (reported)."""
    lines: list[str] = []
    lat, lon = records["Latitude"].to_numpy(float), records["Longitude"].to_numpy(float)
    s = grid.sample_sites(lat, lon, predictors, max_km)
    s.index = records.index
    tab = records.copy()
    for p in predictors:
        if p != "Veg":
            tab[p] = s[p].to_numpy()
    if site_climate == "record":
        for p, col in (("MAT", "MAT"), ("MAP", "MAP")):
            if p in predictors and col in records.columns:
                rec = pd.to_numeric(records[col], errors="coerce").to_numpy(float)
                use = np.isfinite(rec)
                tab[p] = np.where(use, rec, tab[p].to_numpy())
                _log(lines, f"  {p}: SRDB-reported value at {int(use.sum())} records, grid elsewhere", verbose)
    tab["Veg"] = assign_site_vegetation(records, s, site_vegetation)
    tab["koppen"] = s["koppen"].to_numpy()
    tab["zone"] = (climate_zone_from_koppen(tab["koppen"].to_numpy(), lat) if zones == "koppen"
                   else climate_zone_from_latitude(lat))
    tab["site"] = [f"{a:.2f},{b:.2f}" for a, b in zip(lat, lon)]
    num = [p for p in predictors if p != "Veg"]
    ok = tab[num].notna().all(axis=1).to_numpy() & tab["Veg"].notna().to_numpy()
    _log(lines, f"  records without a gridded predictor within {max_km:g} km: {int((~ok).sum())} removed", verbose)
    tab = tab[ok].copy()
    design = encode_design(tab, predictors, where="site predictors")
    return SiteData(tab, design, tab["Rh_annual"].to_numpy(float), lines)


def _site_only_counts(records: pd.DataFrame, matched: pd.DataFrame | None) -> dict[str, int]:
    out = {}
    for name, col in (("LAI", "LAI"), ("Litter", "Litter_flux"), ("Ndep", "Ndep"), ("CN", "Soil_CN")):
        out[name] = int(pd.to_numeric(records.get(col, pd.Series(dtype=float)), errors="coerce").notna().sum())
    if matched is not None:
        j = records[["Record_number"]].merge(matched, on="Record_number", how="left")
        out["SWC"] = int(pd.to_numeric(j.get("sm", pd.Series(dtype=float)), errors="coerce").notna().sum())
    return out


def read_matched(path: str) -> pd.DataFrame | None:
    if not path:
        return None
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: matched table not found (&predictors matched_file)")
    m = pd.read_csv(p, low_memory=False)
    for c in ("Record_number", "Latitude", "Longitude"):
        if c not in m.columns:
            raise DataError(f"{p}: matched table lacks column {c!r}")
    return m


def run(nml: Namelist, verbose: bool = True) -> dict:
    """Run the whole chain; returns a dict of the main numbers (also written to summary.json)."""
    t0 = time.time()
    R, S, P, Mo, T, B = (nml[g] for g in ("run", "srdb", "predictors", "models", "turnover", "twobox"))
    out = Path(R["output_dir"])
    seed, nj, prog = R["seed"], R["n_jobs"], R["progress"]
    lines: list[str] = []
    res: dict = {"study": STUDY}

    # 0. read and check every input before anything is written ---------------------------
    rec = read_srdb(S["srdb_file"])
    preds = check_predictor_names(P["predictors"], where=f"{nml.path}: &predictors predictors")
    grid = CovariateGrid(P["grid_file"])
    for p in preds:
        if p != "Veg":
            grid.predictor_field(p)
    matched = read_matched(P["matched_file"])
    traj = None
    if B["enabled"]:
        from pysoc.upscale.twobox import read_trajectories
        traj = read_trajectories(B["trajectories_file"])
    if T["enabled"] and T["csoil_source"] == "file":
        from pysoc.upscale.turnover import load_csoil_file
        if not T["csoil_file"] or not T["csoil_var"]:
            raise ConfigError(f"{nml.path}: &turnover csoil_source='file' needs csoil_file and csoil_var")
        load_csoil_file(T["csoil_file"], T["csoil_var"], grid.lat[:2], grid.lon[:2])

    # 1. SRDB --------------------------------------------------------------------------
    rep = None
    if S["apply_filters"]:
        opts = FilterOptions(min_years=S["min_years"], control_labels=tuple(x for x in S["control_labels"] if x),
                             excluded_methods=tuple(x for x in S["excluded_methods"] if x),
                             excluded_quality_flags=tuple(x for x in S["excluded_quality_flags"] if x),
                             drop_duplicates=S["drop_duplicates"], drop_nonpositive=S["drop_nonpositive"],
                             outlier_sd=S["outlier_sd"])
        rec, rep = apply_filters(rec, opts)
        for ln in rep.lines():
            _log(lines, ln, verbose)
        res["filters"] = {n: k for n, k, _ in rep.steps}
    res["n_records_filtered"] = len(rec)

    # 2. predictors --------------------------------------------------------------------
    _log(lines, "Predictors:", verbose)
    sites = build_sites(rec, grid, preds, P["site_climate"], P["site_vegetation"], P["max_site_km"],
                        P["climate_zones"], verbose=False)
    if rep is not None:
        O.write_csv(rep.as_frame(), out / "srdb_filter_report.csv")
    for ln in sites.lines:
        _log(lines, ln, verbose)
    tab, D, y = sites.table, sites.design, sites.y
    avail = availability_table()
    avail["used"] = avail["predictor"].isin(preds)
    counts = _site_only_counts(tab, matched)
    avail["n_site_values"] = avail["predictor"].map(counts).astype("Int64")
    O.write_csv(avail, out / "predictor_availability.csv")
    st = [p for p in STUDY_PREDICTORS]
    have = [p.name for p in st if p.grid_var is not None]
    miss = [p.name for p in st if p.grid_var is None]
    _log(lines, f"  study predictors available on the grid ({len(have)}/19): {', '.join(have)}", verbose)
    _log(lines, f"  study predictors missing ({len(miss)}/19): {', '.join(miss)}", verbose)
    _log(lines, f"  predictors used: {', '.join(preds)}", verbose)
    zc = tab["zone"].value_counts()
    _log(lines, f"  training records: {len(tab)} (" + ", ".join(f"{z} {int(zc.get(z, 0))}" for z in
                                                             ("tropical", "temperate", "boreal")) + ")", verbose)
    res["n_training"] = len(tab)
    res["zones"] = {z: int(zc.get(z, 0)) for z in ("tropical", "temperate", "boreal")}

    # 3. models ------------------------------------------------------------------------
    cols = list(D.columns)
    X = D.to_numpy(float)
    folds = M.stratified_folds(tab["zone"].to_numpy(), Mo["n_folds"], seed)
    grid_tab, best = M.tune_rf(X, y, folds, Mo["rf_ntree"], Mo["rf_mtry"], seed, nj, Mo["tune_criterion"], prog,
                               Mo["min_samples_leaf"], Mo["min_samples_split"])
    O.write_csv(grid_tab, out / "rf_tuning.csv", float_format="%.4f")
    _log(lines, f"RF tuning ({len(grid_tab)} configurations, {Mo['n_folds']}-fold CV): best ntree={best['ntree']} "
                f"mtry={best['mtry']} by {Mo['tune_criterion']}; RMSE range over the grid "
                f"{grid_tab['RMSE'].min():.1f}-{grid_tab['RMSE'].max():.1f}", verbose)

    def rf_factory():
        return M.make_rf(best["ntree"], best["mtry"], seed, nj, Mo["min_samples_leaf"], Mo["min_samples_split"])

    rf = M.cross_validate(rf_factory, X, y, folds, "random forest", prog, best)
    skills = [{"model": "random forest", "cv": "stratified by climate zone", **rf.skill, **best}]
    xg = None
    if Mo["xgboost"]:
        xparams = dict(n_estimators=Mo["xgb_n_estimators"], max_depth=Mo["xgb_max_depth"],
                       learning_rate=Mo["xgb_learning_rate"], subsample=Mo["xgb_subsample"],
                       colsample_bytree=Mo["xgb_colsample"])
        xg = M.cross_validate(lambda: M.make_xgb(seed, nj, **xparams), X, y, folds, "XGBoost", prog, xparams)
        skills.append({"model": "XGBoost", "cv": "stratified by climate zone", **xg.skill})
    if Mo["site_blocked_cv"]:
        gfolds = M.stratified_folds(tab["zone"].to_numpy(), Mo["n_folds"], seed, groups=tab["site"].to_numpy())
        rfg = M.cross_validate(rf_factory, X, y, gfolds, "RF site-blocked", prog)
        skills.append({"model": "random forest", "cv": "stratified, grouped by site", **rfg.skill, **best})
        if Mo["xgboost"]:
            xgg = M.cross_validate(lambda: M.make_xgb(seed, nj, **xparams), X, y, gfolds, "XGBoost site-blocked",
                                   prog)
            skills.append({"model": "XGBoost", "cv": "stratified, grouped by site", **xgg.skill})
    skill_df = pd.DataFrame(skills)
    for r in skills:
        _log(lines, f"  {r['model']:<14s} [{r['cv']}]: R2 {r['R2']:.3f}  NSE {r['NSE']:.3f}  RMSE {r['RMSE']:.1f}  "
                    f"(n={r['n']})", verbose)
    _log(lines, f"  study (761 records, 19 predictors): R2 {STUDY['R2']}  NSE {STUDY['NSE']}  RMSE {STUDY['RMSE']}",
         verbose)
    fold_tabs = [rf.fold_skill.assign(model="random forest")]
    if xg is not None:
        fold_tabs.append(xg.fold_skill.assign(model="XGBoost"))
    O.write_csv(pd.concat(fold_tabs), out / "cv_folds.csv", float_format="%.4f")
    res["cv"] = {f"{r['model']} [{r['cv']}]": {k: r[k] for k in ("R2", "NSE", "RMSE", "n")} for r in skills}
    res["rf_best"] = best

    imp = M.impurity_importance(rf.models, cols)
    perm = (M.permutation_importance_cv(rf, X, y, cols, Mo["permutation_repeats"], seed, prog)
            if Mo["permutation_repeats"] > 0 else None)
    _log(lines, "  impurity importance (%): " + ", ".join(f"{p} {v:.1f}" for p, v in
                                                         zip(imp["predictor"], imp["importance_pct"])), verbose)
    if perm is not None:
        _log(lines, "  permutation importance (% of MSE rise): " + ", ".join(
            f"{p} {v:.1f}" for p, v in zip(perm["predictor"], perm["importance_pct"])), verbose)
    tops = [p for p in imp["predictor"] if p != "Veg"][:Mo["pdp_top"]]
    pdps = M.partial_dependence_cv(rf.models, X, cols, tops)
    pdp_df = pd.concat([c.assign(predictor=p) for p, c in pdps.items()]) if pdps else pd.DataFrame()
    pca_tab = None
    if Mo["pca_components"] > 0:
        pca_tab, pca_skill, pca_ev = M.pca_group_importance(tab[[p for p in preds if p != "Veg"]], y, folds,
                                                            best["ntree"], best["mtry"], seed, nj,
                                                            Mo["pca_components"], Mo["min_samples_leaf"],
                                                            Mo["min_samples_split"])
        O.write_csv(pca_tab, out / "importance_pca_groups.csv", float_format="%.3f")
        O.write_csv(pca_ev, out / "pca_explained_variance.csv", float_format="%.4f")
        _log(lines, "  PCA group importance (%): " + ", ".join(
            f"{g} {v:.1f}" if a else f"{g} n/a" for g, v, a in zip(pca_tab["group"], pca_tab["importance_pct"],
                                                                  pca_tab["available"]))
             + f"; PC forest CV R2 {pca_skill['R2']:.2f} (study 0.58)", verbose)
        res["pca_groups"] = {g: (float(v) if a else None) for g, v, a in
                             zip(pca_tab["group"], pca_tab["importance_pct"], pca_tab["available"])}
    O.write_csv(skill_df, out / "cv_skill.csv", float_format="%.4f")
    O.write_csv(imp, out / "importance_impurity.csv", float_format="%.3f")
    if perm is not None:
        O.write_csv(perm, out / "importance_permutation.csv", float_format="%.3f")
    if len(pdp_df):
        O.write_csv(pdp_df, out / "partial_dependence.csv", float_format="%.4f")
    tab = tab.assign(rh_cv_rf=rf.oof, **({"rh_cv_xgb": xg.oof} if xg is not None else {}))
    O.write_csv(tab, out / "srdb_rh_training.csv")

    # 4. map ---------------------------------------------------------------------------
    cells = grid.cells(preds, P["area"], P["fill_km"], P["climate_zones"])
    Xg = encode_design(cells.table, preds, where="grid predictors").to_numpy(float)
    ens = M.predict_ensemble(rf.models, Xg)
    w = cells.table["weight"].to_numpy(float)
    totals = np.array([global_total(e, w) for e in ens])
    rh_mean, rh_sd = ens.mean(0), ens.std(0, ddof=1)
    tot_mean = global_total(rh_mean, w)
    area_tot = float(w.sum())
    res["global_rh_PgC_yr"] = tot_mean
    res["global_rh_sd_PgC_yr"] = float(totals.std(ddof=1))
    res["map_area_Mkm2"] = area_tot / 1e12
    res["map_area_dropped_Mkm2"] = cells.area_dropped_m2 / 1e12
    _log(lines, f"Global Rh (RF ensemble of {len(rf.models)} CV forests): {tot_mean:.1f} ± {totals.std(ddof=1):.1f} "
                f"Pg C yr-1 over {area_tot / 1e12:.1f} Mkm2 ({P['area']} area; "
                f"{cells.area_dropped_m2 / 1e12:.2f} Mkm2 without predictors); study {STUDY['global_rh']} ± "
                f"{STUDY['global_rh_sd']}", verbose)
    filled = {k: v for k, v in cells.n_filled.items() if v}
    if filled:
        _log(lines, "  map cells gap-filled from a neighbour: " + ", ".join(f"{k} {v}" for k, v in filled.items()),
             verbose)
    xg_map = None
    if xg is not None:
        ensx = M.predict_ensemble(xg.models, Xg)
        totx = np.array([global_total(e, w) for e in ensx])
        xg_map = ensx.mean(0)
        res["global_rh_xgb_PgC_yr"] = float(global_total(xg_map, w))
        res["global_rh_xgb_sd_PgC_yr"] = float(totx.std(ddof=1))
        _log(lines, f"  XGBoost ensemble: {res['global_rh_xgb_PgC_yr']:.1f} ± {totx.std(ddof=1):.1f} Pg C yr-1",
             verbose)
    zone_tot = {z: global_total(rh_mean[cells.table["zone"].to_numpy() == z], w[cells.table["zone"].to_numpy() == z])
                for z in ("tropical", "temperate", "boreal")}
    res["global_rh_by_zone_PgC_yr"] = zone_tot
    wmap = grid.to_map(cells, w)
    ds = O.grid_dataset(grid.lat, grid.lon, "Soil heterotrophic respiration from a random forest on SRDB",
                        summary=f"ensemble of {len(rf.models)} {Mo['n_folds']}-fold CV random forests "
                                f"(ntree={best['ntree']}, mtry={best['mtry']}), predictors {' '.join(preds)}",
                        global_rh_PgC_yr=f"{tot_mean:.3f}", global_rh_sd_PgC_yr=f"{totals.std(ddof=1):.3f}",
                        covariate_grid=Path(P["grid_file"]).name, namelist=nml.text or None)
    ds["rh"] = (("lat", "lon"), grid.to_map(cells, rh_mean),
                {"units": "g m-2 yr-1", "long_name": "soil heterotrophic respiration (carbon), RF ensemble mean",
                 "comment": "climatological (predictors 1980-2009 climate, 2010 biomass, 2019 land cover)"})
    ds["rh_sd"] = (("lat", "lon"), grid.to_map(cells, rh_sd),
                   {"units": "g m-2 yr-1", "long_name": "SD of Rh over the CV random forests"})
    if xg_map is not None:
        ds["rh_xgb"] = (("lat", "lon"), grid.to_map(cells, xg_map),
                        {"units": "g m-2 yr-1", "long_name": "soil heterotrophic respiration, XGBoost ensemble mean"})
    ds["area_weight"] = (("lat", "lon"), np.where(np.isfinite(wmap), wmap, 0.0),
                         {"units": "m2", "long_name": f"{P['area']} area of the cell used for totals",
                          "cell_methods": "area: sum"})

    # 5. turnover ----------------------------------------------------------------------
    if T["enabled"]:
        from pysoc.upscale.turnover import choose_csoil, global_tau, turnover_map
        cs = choose_csoil(T["csoil_source"], grid, matched, T["csoil_file"], T["csoil_var"], P["max_site_km"], seed)
        cs_cells = cs.field_g_m2[cells.table["ilat"].to_numpy(), cells.table["ilon"].to_numpy()]
        rel = cs.scale_sd / cs.scale if cs.scale > 0 else 0.0
        gt = global_tau(cs_cells, ens, w, T["rh_min"], rel)
        tau_map = turnover_map(grid.to_map(cells, cs_cells), ds["rh"].values, T["rh_min"])
        ds["csoil"] = (("lat", "lon"), grid.to_map(cells, cs_cells),
                       {"units": "g m-2", "long_name": "soil organic carbon stock used for the turnover time",
                        "comment": cs.description})
        ds["tau_soil"] = (("lat", "lon"), tau_map,
                          {"units": "yr", "long_name": "soil carbon turnover time cSoil / Rh",
                           "comment": f"cells with Rh < {T['rh_min']:g} g C m-2 yr-1 masked; cSoil: {cs.description}"})
        res["tau"] = gt | {"csoil_source": T["csoil_source"], "csoil_description": cs.description,
                           "csoil_scale": cs.scale, "csoil_scale_sd": cs.scale_sd, "csoil_scale_sites": cs.n_sites}
        _log(lines, f"Turnover time: global {gt['tau_global_yr']:.1f} ± {gt['tau_sd_yr']:.1f} yr "
                    f"(area-weighted median of cells {gt['tau_median_cell_yr']:.1f} yr; cSoil total "
                    f"{gt['csoil_total_PgC']:.0f} Pg C) — cSoil: {cs.description}; study {STUDY['tau_soil']} ± "
                    f"{STUDY['tau_soil_sd']} yr (0-1 m + litter, mean of 5 products)", verbose)
    O.write_netcdf(ds, out / "rh_map.nc")
    O.write_csv(pd.DataFrame([{"model": "random forest", "member": i + 1, "global_rh_PgC_yr": t}
                              for i, t in enumerate(totals)]), out / "global_rh_members.csv", float_format="%.4f")

    # 6. two-box -----------------------------------------------------------------------
    if B["enabled"]:
        from pysoc.upscale.twobox import constrain
        ts_obs = (B["tau_soil_obs"], B["tau_soil_obs_sd"])
        if B["tau_soil_from_upscale"]:
            if "tau" not in res:
                raise ConfigError(f"{nml.path}: &twobox tau_soil_from_upscale needs &turnover enabled")
            ts_obs = (res["tau"]["tau_global_yr"], res["tau"]["tau_sd_yr"])
        ref = None
        if B["ref_start"] or B["ref_end"]:
            ref = (B["ref_start"] or int(traj["year"].min()), B["ref_end"] or int(traj["year"].max()))
        tb = constrain(traj, (B["tau_veg_obs"], B["tau_veg_obs_sd"]), ts_obs, ref, B["n_veg"], B["n_soil"], seed,
                       B["tau_min"], prog)
        O.write_csv(tb.summary, out / "twobox_summary.csv", float_format="%.4f")
        import xarray as xr
        names = list(tb.series)
        yrs = np.unique(np.concatenate([s["year"].to_numpy() for s in tb.series.values()]))
        tds = xr.Dataset(coords={"model": ("model", np.array(names, dtype=object), {"long_name": "model"}),
                                 "year": ("year", yrs.astype(np.int32), {"long_name": "calendar year (annual step)"})})
        spec = {"npp": ("Pg yr-1", "net primary production (carbon)"),
                "tau_veg_sim": ("yr", "model vegetation turnover time"),
                "tau_soil_sim": ("yr", "model soil turnover time"),
                "cveg_orig": ("Pg", "vegetation carbon, 2-box with the model's own tau"),
                "csoil_orig": ("Pg", "soil carbon, 2-box with the model's own tau"),
                "rh_orig": ("Pg yr-1", "heterotrophic respiration, 2-box with the model's own tau"),
                "cveg_constr": ("Pg", "vegetation carbon, constrained tau, Monte Carlo mean"),
                "csoil_constr": ("Pg", "soil carbon, constrained tau, Monte Carlo mean"),
                "ctotal_constr": ("Pg", "total carbon, constrained tau, Monte Carlo mean"),
                "ctotal_constr_sd": ("Pg", "total carbon, constrained tau, Monte Carlo SD")}
        for v, (u, ln) in spec.items():
            a = np.full((len(names), len(yrs)), np.nan)
            for i, n in enumerate(names):
                s = tb.series[n]
                a[i, np.searchsorted(yrs, s["year"].to_numpy())] = s[v].to_numpy()
            tds[v] = (("model", "year"), a, {"units": u, "long_name": ln})
        tds.attrs = {"Conventions": "CF-1.8", "title": "2-box model constrained by observation-based turnover times",
                     "institution": "pysoc", "source": "pysoc.upscale.twobox",
                     "tau_veg_obs": f"{B['tau_veg_obs']} +- {B['tau_veg_obs_sd']} yr",
                     "tau_soil_obs": f"{ts_obs[0]:.3f} +- {ts_obs[1]:.3f} yr",
                     "monte_carlo": f"{B['n_veg']} x {B['n_soil']}",
                     "trajectories": Path(B["trajectories_file"]).name,
                     "history": "created by pysoc-upscale"}
        if nml.text:
            tds.attrs["namelist"] = nml.text
        O.write_netcdf(tds, out / "twobox_series.nc")
        mm = tb.summary[tb.summary["model"] == "multi-model mean"].iloc[0]
        res["twobox"] = {k: float(mm[k]) for k in ("dcveg_orig", "dcsoil_orig", "dctotal_orig", "dcveg_constr",
                                                   "dcsoil_constr", "dctotal_constr", "dctotal_constr_sd")}
        res["twobox"]["tau_soil_obs"] = list(ts_obs)
        res["twobox"]["n_clipped"] = tb.n_clipped
        _log(lines, f"2-box ({len(names)} models, {int(mm['year_start'])}-{int(mm['year_end'])}, {B['n_veg']} x "
                    f"{B['n_soil']} Monte Carlo, τsoil_obs {ts_obs[0]:.1f} ± {ts_obs[1]:.1f} yr): multi-model mean "
                    f"ΔcTotal {mm['dctotal_orig']:.1f} Pg C with own τ -> {mm['dctotal_constr']:.1f} ± "
                    f"{mm['dctotal_constr_sd']:.1f} Pg C constrained (ΔcVeg {mm['dcveg_orig']:.1f} -> "
                    f"{mm['dcveg_constr']:.1f}, ΔcSoil {mm['dcsoil_orig']:.1f} -> {mm['dcsoil_constr']:.1f})",
             verbose)

    # figures ----------------------------------------------------------------------------
    if R["figures"]:
        from pysoc.upscale import plots
        fig = out / "figures"
        plots.cv_scatter(y, rf.oof, xg.oof if xg is not None else None, rf.skill, xg.skill if xg is not None else None,
                         tab["zone"].to_numpy(), fig / "upscale_cv.png")
        plots.importance(imp, perm, {p: ALL_PREDICTORS[p].group for p in preds}, fig / "upscale_importance.png")
        plots.pdp(pdps, {p: ALL_PREDICTORS[p].units for p in pdps}, fig / "upscale_pdp.png")
        plots.global_map(grid.lat, grid.lon, ds["rh"].values,
                         f"Rh, RF ensemble mean: {tot_mean:.1f} ± {totals.std(ddof=1):.1f} Pg C yr$^{{-1}}$",
                         "g C m$^{-2}$ yr$^{-1}$", fig / "upscale_rh_map.png", vmin=0, field2=ds["rh_sd"].values,
                         title2="SD over the CV forests", label2="g C m$^{-2}$ yr$^{-1}$")
        if "tau_soil" in ds:
            plots.global_map(grid.lat, grid.lon, np.log10(ds["tau_soil"].values),
                             f"τ_soil = cSoil / Rh (global {res['tau']['tau_global_yr']:.0f} yr)", "log10(τ / yr)",
                             fig / "upscale_tau_map.png", vmin=0.5, vmax=3, cmap="magma_r")
        if B["enabled"]:
            plots.twobox(tb.summary, tb.series, fig / "upscale_twobox.png")

    res["runtime_s"] = time.time() - t0
    _log(lines, f"done in {res['runtime_s']:.0f} s; outputs in {out}", verbose)
    O.write_text("\n".join(lines) + "\n", out / "summary.txt")
    O.write_text(json.dumps(res, indent=2, default=float) + "\n", out / "summary.json")
    res["lines"] = lines
    return res

"""The Rh-upscaling chain driven by one namelist (``pysoc-upscale NAMELIST``):

1. read and check every input (SRDB strictly, grid, matched table, trajectories);
2. SRDB filters (the outlier window from this training table, stored with the model);
3. predictors at the training records under the one gap-fill rule;
4. grouped CV (folds by 0.5° cell or site, with a distance buffer): baselines, predictor
   selection, each candidate tuned, the seed-004 random forest for comparison; record-level
   CV as a secondary line;
5. the selected model fitted on all records plus grouped-bootstrap members, saved;
6. diagnostics of the selected model: grouped permutation importance, partial dependence,
   PCA group importance;
7. the global map and total from the saved model (re-loaded), turnover time, 2-box constraint.

Every key is declared in :data:`UPSCALE_NAMELIST` (type, default, documentation). The figure
writer is passed in by the CLI (``plots``); this module never imports it.
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
from pysoc.upscale import models as upscale_models
from pysoc.upscale import output, selection
from pysoc.upscale.grid import CovariateGrid, global_total
from pysoc.upscale.predictors import (ALL_GRID_PREDICTORS, ALL_PREDICTORS, SEED_PREDICTORS, STUDY_PREDICTORS,
                                      availability_table, check_predictor_names, encode_design)
from pysoc.upscale.process import PROCESS_INPUTS
from pysoc.upscale.saved import UpscaleModel
from pysoc.upscale.sites import SiteData, add_derived_fields, seed_table, training_table
from pysoc.upscale.srdb import (DEFAULT_CONTROL_LABELS, DEFAULT_EXCLUDED_METHODS, FilterOptions, apply_filters,
                                read_srdb)

UPSCALE_NAMELIST = NamelistSpec([
    Group("run", (
        Key("output_dir", "str", "upscale_out", "folder for all outputs (created)", path=True),
        Key("model_name", "str", "rh_model.zip", "file name of the saved model inside output_dir"),
        Key("seed", "int", 1, "seed of folds, learners, bootstrap, permutations and Monte Carlo draws", min=0),
        Key("n_jobs", "int", 2, "threads for random forests and XGBoost", min=1, max=256),
        Key("progress", "bool", True, "show tqdm progress bars for the long steps"),
        Key("figures", "bool", True, "write PNG figures next to the outputs"),
    ), "Output and reproducibility."),
    Group("srdb", (
        Key("srdb_file", "str", "pkgdata:srdb/srdb_rh_records.csv",
            "SRDB table: the shipped Rh records (all 1,064 Rh rows of SRDB 2022-10-09 minus held-out cells), "
            "or a full srdb-data.csv; read strictly (wrong field counts, non-numeric values, truncation stop the run)",
            path=True),
        Key("apply_filters", "bool", True, "apply the filters below (set .false. for an already filtered table)"),
        Key("min_years", "float", 1.0, "minimum YearsOfData", min=0.0, units="yr"),
        Key("control_labels", "list[str]", list(DEFAULT_CONTROL_LABELS),
            "Manipulation labels that count as unmanipulated (besides blank)"),
        Key("excluded_methods", "list[str]", list(DEFAULT_EXCLUDED_METHODS),
            "Meas_method values removed (alkali absorption and soda lime traps)"),
        Key("excluded_quality_flags", "list[str]", [""], "Quality_flag codes removed, e.g. 'Q10','Q11' ('' = none)"),
        Key("drop_duplicates", "bool", False, "remove records with Duplicate_record set (not a study filter)"),
        Key("drop_nonpositive", "bool", True, "remove Rh_annual <= 0 (not a study filter)"),
        Key("outlier_sd", "float", 6.0, "remove |Rh - mean| > outlier_sd x SD of the training records; the window "
            "is stored with the model (0 = off)", min=0.0),
    ), "SRDB ingest and the study's record filters."),
    Group("predictors", (
        Key("grid_file", "str", "pkgdata:grids/upscale_covariates_1deg.nc",
            "covariate grid (CF NetCDF, see docs/upscale_rh.md for the required variables)", path=True),
        Key("matched_file", "str", "pkgdata:srdb/srdb_rh_matched.csv",
            "rh-changes matched table (SoilGrids 0-1 m SOC at Rh sites, for the turnover cSoil); '' = none", path=True),
        Key("predictors", "list[str]", list(ALL_GRID_PREDICTORS),
            "candidate predictors (all mappable predictors of the grid by default; selection by grouped CV)"),
        Key("process_predictors", "bool", True, "add DecompIndex and SOCxDecomp (with decomposition_model) and "
            "PRODA_SOC (with proda_soc_file) to the candidates"),
        Key("select_predictors", "bool", False, "backward elimination of predictor families by grouped CV (off: "
            "nested CV showed it chases fold noise; the learners' regularisation handles weak predictors)"),
        Key("decomposition_model", "str", "", "soil-carbon model whose temperature and water scalars make the "
            "decomposition index and the hybrid model's process part ('' = none); see pysoc-run --list-models"),
        Key("proda_soc_file", "str", "", "NetCDF with a PRODA SOC map (lat, lon) for the PRODA_SOC predictor",
            path=True),
        Key("proda_soc_var", "str", "", "variable in proda_soc_file (units kg C m-2, g C m-2 or Mg C ha-1)"),
        Key("fill_km", "float", 300.0, "the one gap-fill rule of sites and map cells: a predictor missing in the "
            "location's cell takes the nearest cell with a value within this distance; beyond it the site or cell "
            "is not predicted (listed with the reason)", min=0.0, units="km"),
        Key("site_climate", "str", "grid", "MAT/MAP at training sites: 'grid' (as at new sites and map cells) or "
            "'record' (SRDB value; only for the seed comparison)", choices=("record", "grid")),
        Key("climate_zones", "str", "koppen", "climate zone for stratification: 'koppen' (A tropical, B/C "
            "temperate, D/E boreal) or 'latitude' (|lat|<23.5, >50)", choices=("koppen", "latitude")),
        Key("area", "str", "vegetated", "area weight of the map: 'vegetated' (IGBP 1-12, 14; the study masks "
            "bare land) or 'land'", choices=("vegetated", "land")),
    ), "Predictors at the sites and on the grid."),
    Group("cv", (
        Key("group", "str", "cell", "grouping of the folds: 'cell' (all records of a grid cell of cell_deg) or "
            "'site'", choices=("cell", "site")),
        Key("cell_deg", "float", 0.5, "cell size of the grouping", min=0.01, max=10.0, units="degree"),
        Key("buffer_km", "float", 50.0, "training records closer than this to a test record are left out of "
                                        "that fold's training", min=0.0, units="km"),
        Key("n_folds", "int", 10, "folds (stratified by climate zone)", min=2, max=50),
        Key("repeats", "int", 2, "repeats of the grouped CV with different fold assignments", min=1, max=20),
        Key("criterion", "str", "RMSE", "grouped-CV score that selects hyperparameters, predictors and the model",
            choices=("RMSE", "NSE", "R2")),
        Key("one_se_rule", "bool", True, "pick the first candidate of " + ", ".join(selection.PREFERENCE) + " whose "
            "test-fold MSE is within one standard error of the best (else: the best)"),
        Key("record_cv", "bool", True, "also report record-level CV (the seed's design) as a secondary line"),
        Key("nested_folds", "int", 0, "outer folds of a nested grouped CV of the whole selection pipeline "
            "(0 = off; slow: the selection runs once per outer fold)", min=0, max=20),
    ), "Cross-validation: grouped CV is the measure; record-level CV only for comparison with seed 004."),
    Group("models", (
        Key("candidates", "list[str]", list(selection.CANDIDATES), "model classes compared under grouped CV: "
            + ", ".join(selection.CANDIDATES) + " ('hybrid' needs decomposition_model)"),
        Key("seed_rf", "bool", True, "also evaluate the seed-004 random forest (12 predictors, record climate "
            "and vegetation, ntree x mtry grid) on the same folds"),
        Key("rf_ntree", "list[int]", [100, 150, 200], "seed RF: ntree values of its tuning grid", min=1, max=5000),
        Key("rf_mtry", "list[int]", [2, 3, 4, 5], "seed RF: mtry values (max_features) of its tuning grid", min=1),
        Key("ntree", "int", 200, "trees of the rf, extra_trees and hybrid-residual forests", min=10, max=5000),
        Key("leaf_sizes", "list[int]", [5, 15], "min_samples_leaf grid of rf, extra_trees, hybrid", min=1),
        Key("max_features", "list[float]", [0.33, 0.6], "max_features (share of columns per split) grid",
            min=0.01, max=1.0),
        Key("xgb_depths", "list[int]", [1, 2, 3], "XGBoost tree depth grid", min=1, max=20),
        Key("xgb_rounds", "list[int]", [100, 200, 400, 800], "XGBoost boosting rounds grid", min=1, max=20000),
        Key("xgb_learning_rate", "float", 0.03, "XGBoost learning rate", min=1e-4, max=1.0),
        Key("xgb_subsample", "float", 0.8, "XGBoost row subsample", min=0.1, max=1.0),
        Key("xgb_colsample", "float", 0.6, "XGBoost column subsample per tree", min=0.1, max=1.0),
        Key("xgb_min_child_weight", "float", 5.0, "XGBoost minimum child weight", min=0.0),
        Key("n_members", "int", 20, "refits of the selected model on grouped bootstrap resamples (the bands)",
            min=0, max=500),
        Key("permutation_repeats", "int", 5, "shuffles per predictor and test fold (0 = skip)", min=0),
        Key("pdp_top", "int", 6, "partial-dependence curves for the N most important numeric predictors", min=0),
        Key("pca_components", "int", 2, "seed's PCA group importance: components per group (0 = skip)", min=0,
            max=5),
    ), "Candidate models, their hyperparameter grids, the seed's random forest and the bands."),
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


# ============================================================================ context
@dataclass
class Run:
    """State shared by the steps of one run: namelist, output folder, log and results."""

    nml: Namelist
    verbose: bool = True
    lines: list[str] = field(default_factory=list)
    res: dict = field(default_factory=dict)
    t0: float = field(default_factory=time.time)

    @property
    def out(self) -> Path:
        return Path(self.nml["run"]["output_dir"])

    def lap(self, step: str) -> None:
        """Record the CPU time used since the previous lap (summary.json ``cpu_s``)."""
        now = time.process_time()
        self.res.setdefault("cpu_s", {})[step] = round(now - getattr(self, "_cpu", 0.0), 1)
        self._cpu = now

    def log(self, msg: str) -> None:
        self.lines.append(msg)
        if self.verbose:
            print(msg, flush=True)

    def settings(self) -> selection.Settings:
        run_keys, model_keys, cv_keys = self.nml["run"], self.nml["models"], self.nml["cv"]
        return selection.Settings(
            seed=run_keys["seed"], n_jobs=run_keys["n_jobs"], criterion=cv_keys["criterion"], ntree=model_keys["ntree"],
            leaf_sizes=tuple(model_keys["leaf_sizes"]), max_features=tuple(model_keys["max_features"]),
            xgb_depths=tuple(model_keys["xgb_depths"]), xgb_rounds=tuple(model_keys["xgb_rounds"]),
            xgb_learning_rate=model_keys["xgb_learning_rate"], xgb_subsample=model_keys["xgb_subsample"],
            xgb_colsample=model_keys["xgb_colsample"], xgb_min_child_weight=model_keys["xgb_min_child_weight"],
            decomposition_model=self.nml["predictors"]["decomposition_model"], progress=run_keys["progress"],
            one_se=cv_keys["one_se_rule"])


@dataclass
class Inputs:
    """Everything read (and checked) before the chain writes anything: the SRDB records,
    the covariate grid, the candidate predictors, the matched table and the 2-box
    trajectories (None when not used)."""

    records: pd.DataFrame
    grid: CovariateGrid
    predictors: list[str]
    matched: pd.DataFrame | None
    trajectories: pd.DataFrame | None


def read_matched(path: str) -> pd.DataFrame | None:
    """The rh-changes matched table.

    Parameters
    ----------
    path : str
        ``&predictors matched_file`` ('' = none).

    Returns
    -------
    pandas.DataFrame or None

    Raises
    ------
    DataError
        The file missing or without Record_number, Latitude, Longitude.
    """
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


def candidate_predictors(nml: Namelist) -> list[str]:
    """The checked candidate predictors, with the process-informed ones when requested.

    Parameters
    ----------
    nml : Namelist

    Returns
    -------
    list of str

    Raises
    ------
    ConfigError
        An unknown predictor name.
    """
    predictor_keys = nml["predictors"]
    preds = check_predictor_names(predictor_keys["predictors"], where=f"{nml.path}: &predictors predictors")
    if predictor_keys["process_predictors"]:
        if predictor_keys["decomposition_model"]:
            preds += [p for p in ("DecompIndex", "SOCxDecomp") if p not in preds]
        if predictor_keys["proda_soc_file"]:
            preds += [p for p in ("PRODA_SOC",) if p not in preds]
    return preds


def load_inputs(run: Run) -> Inputs:
    """Step 1: read and check every input before anything is written.

    Parameters
    ----------
    run : Run
        The state of the chain (namelist, output folder, log, results).

    Returns
    -------
    Inputs

    Raises
    ------
    ConfigError, DataError
        One line naming the key or the file.
    """
    nml = run.nml
    srdb_keys, predictor_keys, model_keys = nml["srdb"], nml["predictors"], nml["models"]
    turnover_keys, twobox_keys = nml["turnover"], nml["twobox"]
    rec = read_srdb(srdb_keys["srdb_file"])
    preds = candidate_predictors(nml)
    bad = [c for c in model_keys["candidates"] if c not in selection.CANDIDATES]
    if bad:
        raise ConfigError(f"{nml.path}: &models candidates: unknown {bad} (known: {', '.join(selection.CANDIDATES)})")
    if "hybrid" in model_keys["candidates"] and not predictor_keys["decomposition_model"]:
        if "candidates" in nml.present.get("models", set()):
            raise ConfigError(f"{nml.path}: &models candidates 'hybrid' needs &predictors decomposition_model")
        model_keys["candidates"] = [c for c in model_keys["candidates"] if c != "hybrid"]
        run.log("Candidates: 'hybrid' left out (no &predictors decomposition_model)")
    grid = CovariateGrid(predictor_keys["grid_file"])
    notes = add_derived_fields(grid, preds + list(PROCESS_INPUTS), predictor_keys["decomposition_model"],
                               predictor_keys["proda_soc_file"], predictor_keys["proda_soc_var"])
    for p in preds + list(SEED_PREDICTORS):
        if ALL_PREDICTORS[p].kind in ("grid", "decomposition", "proda"):
            grid.predictor_field(p)
    matched = read_matched(predictor_keys["matched_file"])
    traj = None
    if twobox_keys["enabled"]:
        from pysoc.upscale.twobox import read_trajectories
        traj = read_trajectories(twobox_keys["trajectories_file"])
    if turnover_keys["enabled"] and turnover_keys["csoil_source"] == "file":
        from pysoc.upscale.turnover import load_csoil_file
        if not turnover_keys["csoil_file"] or not turnover_keys["csoil_var"]:
            raise ConfigError(f"{nml.path}: &turnover csoil_source='file' needs csoil_file and csoil_var")
        load_csoil_file(turnover_keys["csoil_file"], turnover_keys["csoil_var"], grid.lat[:2], grid.lon[:2])
    for n in notes:
        run.log(f"Predictor fields: {n}")
    return Inputs(rec, grid, preds, matched, traj)


# ============================================================================ steps 2-3
def filter_options(nml: Namelist) -> FilterOptions:
    """The SRDB filters of ``&srdb``.

    Parameters
    ----------
    nml : Namelist

    Returns
    -------
    FilterOptions
    """
    srdb_keys = nml["srdb"]
    return FilterOptions(min_years=srdb_keys["min_years"],
                         control_labels=tuple(x for x in srdb_keys["control_labels"] if x),
                         excluded_methods=tuple(x for x in srdb_keys["excluded_methods"] if x),
                         excluded_quality_flags=tuple(x for x in srdb_keys["excluded_quality_flags"] if x),
                         drop_duplicates=srdb_keys["drop_duplicates"], drop_nonpositive=srdb_keys["drop_nonpositive"],
                         outlier_sd=srdb_keys["outlier_sd"])


def filter_records(run: Run, inp: Inputs) -> tuple[pd.DataFrame, FilterOptions]:
    """Step 2: apply the SRDB filters (report written as ``srdb_filter_report.csv``).

    Parameters
    ----------
    run : Run
        The state of the chain (namelist, output folder, log, results).
    inp : Inputs

    Returns
    -------
    records : pandas.DataFrame
    options : FilterOptions
        Carrying the training outlier window (saved with the model).
    """
    opts = filter_options(run.nml)
    if not run.nml["srdb"]["apply_filters"]:
        return inp.records, opts
    rec, rep = apply_filters(inp.records, opts)
    for ln in rep.lines():
        run.log(ln)
    output.write_csv(rep.as_frame(), run.out / "srdb_filter_report.csv", float_format=None)
    run.res["n_records_input"], run.res["n_records_filtered"] = rep.n_input, rep.n_output
    run.res["outlier_window"] = list(rep.outlier_bounds) if rep.outlier_bounds else None
    if len(rec) < 20:
        raise DataError(f"{inp.records.attrs.get('source', 'SRDB')}: only {len(rec)} records pass the filters")
    return rec, rep.trained(opts)


def training_data(run: Run, inp: Inputs, records: pd.DataFrame) -> SiteData:
    """Step 3: predictors at the records (candidate + seed + baseline + process inputs).

    Parameters
    ----------
    run : Run
        The state of the chain (namelist, output folder, log, results).
    inp : Inputs
    records : pandas.DataFrame

    Returns
    -------
    SiteData
    """
    predictor_keys = run.nml["predictors"]
    extra = tuple(SEED_PREDICTORS) + PROCESS_INPUTS
    data = training_table(records, inp.grid, inp.predictors, predictor_keys["fill_km"], predictor_keys["site_climate"],
                          "grid", predictor_keys["climate_zones"], extra)
    run.log("Predictors:")
    for ln in data.lines:
        run.log(ln)
    if len(data.dropped):
        output.write_csv(data.dropped, run.out / "srdb_records_not_used.csv", float_format=None)
    have = [p.name for p in STUDY_PREDICTORS if p.grid_var is not None]
    run.log(f"  study predictors available on the grid ({len(have)}/19): {', '.join(have)}")
    run.log(f"  candidate predictors ({len(inp.predictors)}): {', '.join(inp.predictors)}")
    zc = data.table["zone"].value_counts()
    zones = {z: int(zc.get(z, 0)) for z in ("tropical", "temperate", "boreal")}
    run.log(f"  training records: {len(data.table)} at {data.table['site'].nunique()} sites in "
            f"{data.table['cell'].nunique()} 0.5° cells (" + ", ".join(f"{z} {n}" for z, n in zones.items()) + ")")
    run.res.update(n_training=len(data.table), n_sites=int(data.table["site"].nunique()),
                   n_cells=int(data.table["cell"].nunique()), zones=zones)
    avail = availability_table()
    avail["candidate"] = avail["predictor"].isin(inp.predictors)
    output.write_csv(avail, run.out / "predictor_availability.csv", float_format=None)
    return data


# ============================================================================ step 4
@dataclass
class Evaluation:
    """Grouped-CV results: the fold sets, the table of candidates and baselines, the selected
    candidate with its predictors and configuration."""

    fold_sets: list
    table: pd.DataFrame
    predictors: list[str]
    selected: str
    config: dict
    scores: dict
    tuning: pd.DataFrame
    selection_trials: pd.DataFrame | None
    seed_config: dict | None = None
    selected_oof: np.ndarray | None = None     # out-of-fold predictions, first repeat
    linear_oof: np.ndarray | None = None


def fold_sets(run: Run, tab: pd.DataFrame, offset: int = 0, repeats: int | None = None,
              n_folds: int | None = None) -> list:
    """Repeated grouped folds of the namelist's &cv settings.

    Parameters
    ----------
    run : Run
        The state of the chain (namelist, output folder, log, results).
    tab : pandas.DataFrame
        Training table (Latitude, Longitude, zone).
    offset : int
        Shifts the seeds (tuning folds 0, reporting folds 1000, nested CV 2000-4000).
    repeats, n_folds : int, optional
        Default ``&cv repeats`` and ``n_folds``.

    Returns
    -------
    list
        One fold assignment per repeat.
    """
    cv_keys, seed = run.nml["cv"], run.nml["run"]["seed"]
    lat, lon, zone = tab["Latitude"].to_numpy(float), tab["Longitude"].to_numpy(float), tab["zone"].to_numpy()
    return [upscale_models.grouped_folds(lat, lon, zone, n_folds or cv_keys["n_folds"], seed + offset + repeat,
                                         cv_keys["group"], cv_keys["cell_deg"], cv_keys["buffer_km"])
            for repeat in range(repeats or cv_keys["repeats"])]


def _score_row(model: str, sc: selection.Score, cv: str, **extra) -> dict:
    return {"model": model, "cv": cv, **{k: sc.mean[k] for k in selection.METRICS},
            **{f"{k}_sd": sc.sd[k] for k in selection.METRICS}, "n": sc.mean.get("n"), **extra}


def seed_rf(run: Run, data: SiteData, folds) -> tuple[selection.Score, dict, selection.Score]:
    """The seed's RF: ntree x mtry tuned by record-level CV as in the study, then scored on
    the grouped folds and on the record-level folds.

    Parameters
    ----------
    run : Run
        The state of the chain (namelist, output folder, log, results).
    data : SiteData
    folds : list
        The grouped reporting folds.

    Returns
    -------
    grouped : Score
    config : dict
    record : Score
    """
    model_keys, seed, nj = run.nml["models"], run.nml["run"]["seed"], run.nml["run"]["n_jobs"]
    st = seed_table(data.table)
    X = encode_design(st, list(SEED_PREDICTORS), where="seed predictors").to_numpy(float)
    rfolds = upscale_models.stratified_folds(st["zone"].to_numpy(), run.nml["cv"]["n_folds"], seed)
    mtry = [m for m in model_keys["rf_mtry"] if m <= X.shape[1]]
    _, cfg = upscale_models.tune_rf(X, data.y, rfolds, model_keys["rf_ntree"], mtry, seed, nj,
                                    run.nml["cv"]["criterion"], run.nml["run"]["progress"])
    sts = run.settings()
    grouped = selection.score_repeats(lambda: selection.estimator("rf_seed", cfg, [], sts), X, data.y, folds)
    record = selection.score_repeats(lambda: selection.estimator("rf_seed", cfg, [], sts), X, data.y, [rfolds])
    return grouped, cfg, record


def record_level(run: Run, data: SiteData, name: str, cfg: dict, preds: list[str]) -> list[dict]:
    """Secondary line: record-level CV stratified by climate zone (the seed's design).

    Parameters
    ----------
    run : Run
        The state of the chain (namelist, output folder, log, results).
    data : SiteData
    name : str
        The selected candidate.
    cfg : dict
        Its configuration.
    preds : list of str
        Its predictors.

    Returns
    -------
    list of dict
        Rows of ``cv_skill.csv`` (baselines and the candidate).
    """
    rfolds = [upscale_models.stratified_folds(data.table["zone"].to_numpy(), run.nml["cv"]["n_folds"],
                                              run.nml["run"]["seed"])]
    rows = [_score_row(k, v, "record-level") for k, v in selection.baseline_scores(data.table, data.y, rfolds).items()]
    X, cols = selection.design_matrix(data.table, preds, name)
    st = run.settings()
    sc = selection.score_repeats(lambda: selection.estimator(name, cfg, cols, st), X, data.y, rfolds)
    return rows + [_score_row(name, sc, "record-level", selected=True)]


def cv_label(nml: Namelist) -> str:
    """How the grouped CV groups the records (for table columns and log lines).

    Parameters
    ----------
    nml : Namelist

    Returns
    -------
    str
    """
    cv_keys = nml["cv"]
    unit = f"{cv_keys['cell_deg']:g}° cell" if cv_keys["group"] == "cell" else "site"
    return f"grouped by {unit}, {cv_keys['buffer_km']:g} km buffer"


def evaluate(run: Run, data: SiteData, candidates: list[str]) -> Evaluation:
    """Step 4: the selection pipeline on the tuning folds; every candidate's chosen
    configuration and the baselines re-scored on separate reporting folds (other fold
    assignments), where the candidate is selected; the seed RF; record-level CV."""
    cv_keys, model_keys = run.nml["cv"], run.nml["models"]
    st = run.settings()
    tune_folds, folds = fold_sets(run, data.table), fold_sets(run, data.table, offset=1000)
    ch, best = selection.select_procedure(data.table, data.y, candidates, model_keys["candidates"], st, tune_folds,
                                          folds, run.nml["predictors"]["select_predictors"])
    if ch.trials is not None:
        output.write_csv(ch.trials, run.out / "predictor_selection.csv", float_format="%.4f")
        dropped = sorted(set(candidates) - set(ch.predictors))
        run.log(f"Predictor selection (backward elimination of families, grouped CV): kept {len(ch.predictors)} "
                f"of {len(candidates)}" + (f"; dropped {', '.join(dropped)}" if dropped else ""))
    base = selection.baseline_scores(data.table, data.y, folds)
    sel = ch.candidate
    label = cv_label(run.nml)
    rows = [_score_row(k, v, label) for k, v in base.items()]
    rows += [_score_row(k, v, label, config=json.dumps(v.config), selected=(k == sel)) for k, v in best.items()]
    seed_cfg = None
    if model_keys["seed_rf"]:
        grouped, seed_cfg, record = seed_rf(run, data, folds)
        rows.append(_score_row("rf_seed", grouped, label, config=json.dumps(seed_cfg)))
        if cv_keys["record_cv"]:
            rows.append(_score_row("rf_seed", record, "record-level", config=json.dumps(seed_cfg)))
    if cv_keys["record_cv"]:
        rows += record_level(run, data, sel, best[sel].config, ch.predictors)
    table = pd.DataFrame(rows)
    table["selected"] = table["selected"].fillna(False).astype(bool)
    lin = base["linear MAT + MAP"].mean["R2"]
    table["R2_minus_linear"] = table["R2"] - np.where(table["cv"] == label, lin, np.nan)
    scores = {"selected": best[sel].mean | {"sd": best[sel].sd}, **{k: v.mean for k, v in base.items()}}
    return Evaluation(folds, table, ch.predictors, sel, best[sel].config, scores, ch.tuning, ch.trials, seed_cfg,
                      best[sel].oof, base["linear MAT + MAP"].oof)


def nested(run: Run, data: SiteData, candidates: list[str]) -> pd.DataFrame | None:
    """Optional nested grouped CV of the whole selection pipeline (``&cv nested_folds``).

    Parameters
    ----------
    run : Run
        The state of the chain (namelist, output folder, log, results).
    data : SiteData
    candidates : list of str
        Candidate predictors.

    Returns
    -------
    pandas.DataFrame or None
        Skill of the pipeline and of the baselines on the outer folds (``cv_nested.csv``);
        None when ``nested_folds < 2``.
    """
    cv_keys = run.nml["cv"]
    if cv_keys["nested_folds"] < 2:
        return None
    outer = fold_sets(run, data.table, offset=2000, repeats=1, n_folds=cv_keys["nested_folds"])[0]
    def inner(sub):
        return fold_sets(run, sub, offset=3000), fold_sets(run, sub, offset=4000)

    tab, res = selection.nested_cv(data.table, data.y, candidates, run.nml["models"]["candidates"], run.settings(),
                                   outer, inner, run.nml["predictors"]["select_predictors"])
    output.write_csv(tab, run.out / "cv_nested.csv", float_format="%.4f")
    run.log(f"Nested grouped CV ({cv_keys['nested_folds']} outer folds, {cv_label(run.nml)}; the whole selection "
            f"procedure repeated inside each outer training set; chosen: {', '.join(c.candidate for c in res)}):")
    for row in tab.itertuples():
        run.log(f"  {row.model:<17s} R2 {row.R2:.3f}  NSE {row.NSE:.3f}  RMSE {row.RMSE:.1f}  bias {row.bias:+.1f}")
    run.res["nested_cv"] = tab.to_dict(orient="records")
    return tab


def report_evaluation(run: Run, ev: Evaluation) -> None:
    """Write ``cv_skill.csv`` and ``cv_tuning.csv`` and log the grouped-CV table, the choice
    of the one-standard-error rule and the gain of the selected model over linear MAT + MAP.

    Parameters
    ----------
    run : Run
        The state of the chain (namelist, output folder, log, results).
    ev : Evaluation
    """
    output.write_csv(ev.table, run.out / "cv_skill.csv", float_format="%.4f")
    output.write_csv(ev.tuning, run.out / "cv_tuning.csv", float_format="%.4f")
    cv_keys = run.nml["cv"]
    run.log(f"Grouped CV ({cv_keys['n_folds']} folds x {cv_keys['repeats']} repeats, {ev.table['cv'].iloc[0]}); "
            f"mean ± SD over repeats; R2 = squared Pearson r of the pooled out-of-fold predictions:")
    for row in ev.table.itertuples():
        mark = "  <- selected" if row.selected else ""
        run.log(f"  {row.model:<17s} [{row.cv}]: R2 {row.R2:.3f} ± {row.R2_sd:.3f}  NSE {row.NSE:.3f}  "
                f"RMSE {row.RMSE:.1f}  bias {row.bias:+.1f}{mark}")
    grouped = ev.table[(ev.table["cv"] == ev.table["cv"].iloc[0]) & ev.table["model"].isin(selection.CANDIDATES)]
    crit = run.nml["cv"]["criterion"]
    top = grouped.loc[grouped[crit].idxmin() if crit == "RMSE" else grouped[crit].idxmax(), "model"]
    if top != ev.selected:
        run.log(f"  best by {crit}: {top}; the one-standard-error rule picks {ev.selected} (within 1 SE of the "
                f"best test-fold MSE, first in the order {', '.join(selection.PREFERENCE)})")
    lin = ev.scores["linear MAT + MAP"]["R2"]
    gain = ev.scores["selected"]["R2"] - lin
    run.log(f"  selected {ev.selected} {ev.config}: grouped-CV R2 {ev.scores['selected']['R2']:.3f} = linear "
            f"MAT + MAP {lin:.3f} {gain:+.3f} (docs/upscale_rh.md compares the gain with the study's target)")
    run.res["cv"] = ev.table.replace({np.nan: None}).to_dict(orient="records")
    run.res["selected"] = {"model": ev.selected, "config": ev.config, "predictors": ev.predictors,
                           "R2_minus_linear": gain}


# ============================================================================ step 5
def bootstrap_members(factory, X: np.ndarray, y: np.ndarray, groups: np.ndarray, n: int, seed: int,
                      progress: bool = False) -> list:
    """Refits on grouped bootstrap resamples (cells drawn with replacement).

    Parameters
    ----------
    factory : callable
        Returns an unfitted estimator.
    X, y : numpy.ndarray
        Design matrix and target.
    groups : numpy.ndarray
        Group (cell) of each record.
    n : int
        Number of members.
    seed : int
    progress : bool

    Returns
    -------
    list
        ``n`` fitted estimators.
    """
    rng = np.random.default_rng(seed + 7919)
    ug, inv = np.unique(groups, return_inverse=True)
    rows_of = [np.flatnonzero(inv == g) for g in range(len(ug))]
    out = []
    for _ in upscale_models._progress(range(n), progress, desc="bootstrap members", leave=False):
        idx = np.concatenate([rows_of[g] for g in rng.integers(0, len(ug), len(ug))])
        out.append(factory().fit(X[idx], y[idx]))
    return out


def fit_selected(run: Run, inp: Inputs, data: SiteData, ev: Evaluation, opts: FilterOptions) -> Path:
    """Step 5: the selected model on all records, its members, the baselines; saved.

    Parameters
    ----------
    run : Run
        The state of the chain (namelist, output folder, log, results).
    inp : Inputs
    data : SiteData
    ev : Evaluation
    opts : FilterOptions

    Returns
    -------
    pathlib.Path
        The saved model (``&run model_name``).
    """
    run_keys, predictor_keys, model_keys = run.nml["run"], run.nml["predictors"], run.nml["models"]
    st = run.settings()
    X, cols = selection.design_matrix(data.table, ev.predictors, ev.selected)

    def factory():
        return selection.estimator(ev.selected, ev.config, cols, st)

    est = factory().fit(X, data.y)
    members = bootstrap_members(factory, X, data.y, data.table["cell"].to_numpy(), model_keys["n_members"],
                                run_keys["seed"], run_keys["progress"])
    Xb = data.table[["MAT", "MAP"]].to_numpy(float)
    t = data.table
    model = UpscaleModel(
        estimator=est, members=members,
        baselines={"mean": upscale_models.MeanBaseline().fit(Xb, data.y),
                   "linear": upscale_models.LinearBaseline().fit(Xb, data.y)},
        predictors=list(ev.predictors), columns=cols, candidate=ev.selected, config=dict(ev.config),
        process_inputs=list(PROCESS_INPUTS) if ev.selected == "hybrid" else [], fill_km=predictor_keys["fill_km"],
        zones=predictor_keys["climate_zones"], decomposition_model=predictor_keys["decomposition_model"],
        proda_soc_file=predictor_keys["proda_soc_file"], proda_soc_var=predictor_keys["proda_soc_var"],
        filters=opts.to_dict(),
        grid_file=_portable(predictor_keys["grid_file"]), grid_sha256=inp.grid.checksum(),
        skill={**ev.scores, "cv": ev.table["cv"].iloc[0]},
        training={"n_records": len(t), "n_sites": int(t["site"].nunique()), "n_cells": int(t["cell"].nunique()),
                  "rh_mean": float(data.y.mean()), "rh_sd": float(data.y.std(ddof=1)),
                  "srdb_file": Path(run.nml["srdb"]["srdb_file"]).name})
    if ev.selected == "hybrid":
        model.training["process_params"] = est.process_params_
    path = model.save(run.out / run_keys["model_name"])
    run.log(f"Saved model: {path} ({path.stat().st_size / 1e6:.1f} MB; {model.describe()}; "
            f"{len(members)} bootstrap members)")
    run.res["model_file"] = str(path)
    return path


def _portable(path: str) -> str:
    """A path as 'pkgdata:...' when it lies in the shipped data (so saved models move)."""
    from pysoc.io.namelist import PKGDATA
    try:
        return "pkgdata:" + Path(path).resolve().relative_to(PKGDATA.resolve()).as_posix()
    except ValueError:
        return str(path)


# ============================================================================ step 6
@dataclass
class Diagnostics:
    """Step 6 results: grouped permutation importance, partial dependence per predictor and
    PCA group importance (None when not computed)."""

    importance: pd.DataFrame | None
    pdp: dict
    pca: pd.DataFrame | None


def diagnostics(run: Run, data: SiteData, ev: Evaluation, model: UpscaleModel) -> Diagnostics:
    """Grouped permutation importance (fold models of the first repeat), partial dependence
    of the final model, the seed's PCA group importance on the grouped folds.

    Parameters
    ----------
    run : Run
        The state of the chain (namelist, output folder, log, results).
    data : SiteData
    ev : Evaluation
    model : UpscaleModel
        The saved model.

    Returns
    -------
    Diagnostics
    """
    model_keys, seed = run.nml["models"], run.nml["run"]["seed"]
    X, cols = selection.design_matrix(data.table, ev.predictors, ev.selected)
    st = run.settings()
    names = (list(PROCESS_INPUTS) if ev.selected == "hybrid" else []) + cols
    perm = None
    if model_keys["permutation_repeats"] > 0:
        cv = upscale_models.cross_validate(lambda: selection.estimator(ev.selected, ev.config, cols, st), X, data.y,
                                           ev.fold_sets[0])
        perm = upscale_models.permutation_importance_cv(cv, X, data.y, names, model_keys["permutation_repeats"], seed,
                                                        run.nml["run"]["progress"])
        output.write_csv(perm, run.out / "importance_permutation.csv", float_format="%.3f")
        run.log("  grouped permutation importance (% of the held-out MSE rise): " + ", ".join(
            f"{p} {v:.1f}" for p, v in zip(perm["predictor"][:12], perm["importance_pct"][:12])))
    order = list(perm["predictor"]) if perm is not None else list(ev.predictors)
    numeric = [p for p in order if p in names][:model_keys["pdp_top"]]
    pdp = partial_dependence(model, X, names, numeric)
    if pdp:
        output.write_csv(pd.concat([c.assign(predictor=p) for p, c in pdp.items()]), run.out / "partial_dependence.csv",
                         float_format="%.4f")
    pca = None
    if model_keys["pca_components"] > 0 and ev.seed_config is not None:
        num = [p for p in ev.predictors if p in cols]
        pca, sk, _ = upscale_models.pca_group_importance(data.table[num], data.y, ev.fold_sets[0],
                                                         ev.seed_config["ntree"], ev.seed_config["mtry"], seed,
                                                         run.nml["run"]["n_jobs"], model_keys["pca_components"])
        output.write_csv(pca, run.out / "importance_pca_groups.csv", float_format="%.3f")
        run.log("  PCA group importance (%): " + ", ".join(
            f"{g} {v:.1f}" if a else f"{g} n/a" for g, v, a in zip(pca["group"], pca["importance_pct"],
                                                                  pca["available"]))
            + f"; PC forest grouped-CV R2 {sk['R2']:.2f}")
    return Diagnostics(perm, pdp, pca)


def partial_dependence(model: UpscaleModel, X: np.ndarray, names: list[str], preds: list[str],
                       resolution: int = 25) -> dict[str, pd.DataFrame]:
    """Partial dependence of the final model (brute force: the mean prediction over the
    training records with one predictor -- every design column of that name -- set to each
    value of a grid over its 5-95 % range); ``rh_sd`` is the spread over the bootstrap members.

    Parameters
    ----------
    model : UpscaleModel
    X : numpy.ndarray
        Training design matrix.
    names : list of str
        The predictor of each design column.
    preds : list of str
        Predictors to vary.
    resolution : int
        Grid points per predictor.

    Returns
    -------
    dict
        Predictor -> DataFrame (value, rh_mean, rh_sd).
    """
    out = {}
    n = X.shape[0]
    for p in preds:
        idx = [i for i, c in enumerate(names) if c == p]
        grid = np.linspace(*np.percentile(X[:, idx[0]], [5, 95]), resolution)
        big = np.tile(X, (resolution, 1))
        big[:, idx] = np.repeat(grid, n)[:, None]
        curves = np.array([np.asarray(m.predict(big), float).reshape(resolution, n).mean(1)
                           for m in [model.estimator] + list(model.members)])
        out[p] = pd.DataFrame({"value": grid, "rh_mean": curves[0],
                               "rh_sd": curves[1:].std(0, ddof=1) if len(curves) > 2 else np.zeros(resolution)})
    return out


# ============================================================================ step 7
@dataclass
class MapResult:
    """Step 7: the map cells, the central and member predictions (g C m-2 yr-1), the cell
    weights (m2) and the global totals (Pg C yr-1) of the members and of the central map."""

    cells: object
    central: np.ndarray
    members: np.ndarray
    weight: np.ndarray
    totals: np.ndarray
    total: float


def predict_map(grid: CovariateGrid, model: UpscaleModel, area: str) -> MapResult:
    """Rh of every map cell from the saved model (same gap-fill rule as at sites).

    Parameters
    ----------
    grid : CovariateGrid
    model : UpscaleModel
    area : str
        ``&predictors area`` (which cells are mapped).

    Returns
    -------
    MapResult
    """
    need = list(dict.fromkeys(list(model.predictors) + list(model.process_inputs)))
    cells = grid.cells(need, area, model.fill_km, model.zones)
    central, mem = model.predict_design(model.design(cells.table))
    w = cells.table["weight"].to_numpy(float)
    totals = np.array([global_total(m, w) for m in mem])
    return MapResult(cells, central, mem, w, totals, global_total(central, w))


def make_map(run: Run, inp: Inputs, model: UpscaleModel) -> tuple[MapResult, object]:
    """Step 7: the global map, its totals by member and zone (``global_rh_members.csv``).

    Parameters
    ----------
    run : Run
        The state of the chain (namelist, output folder, log, results).
    inp : Inputs
    model : UpscaleModel

    Returns
    -------
    map : MapResult
    dataset : xarray.Dataset
        The CF map dataset (written later as ``rh_map.nc``).
    """
    predictor_keys = run.nml["predictors"]
    mp = predict_map(inp.grid, model, predictor_keys["area"])
    lo, hi = np.percentile(mp.totals, [5, 95])
    sd = float(mp.totals.std(ddof=1)) if len(mp.totals) > 1 else 0.0
    run.res.update(global_rh_PgC_yr=mp.total, global_rh_sd_PgC_yr=sd, global_rh_p05_PgC_yr=float(lo),
                   global_rh_p95_PgC_yr=float(hi), global_rh_members_mean_PgC_yr=float(mp.totals.mean()),
                   map_area_Mkm2=float(mp.weight.sum()) / 1e12,
                   map_area_dropped_Mkm2=mp.cells.area_dropped_m2 / 1e12)
    run.log(f"Global Rh ({model.candidate}, from the saved model): {mp.total:.1f} Pg C yr-1, 5-95 % of "
            f"{len(mp.totals)} grouped-bootstrap members {lo:.1f}-{hi:.1f} (SD {sd:.1f}) over "
            f"{mp.weight.sum() / 1e12:.1f} Mkm2 ({predictor_keys['area']} area; "
            f"{mp.cells.area_dropped_m2 / 1e12:.2f} Mkm2 in "
            f"{mp.cells.n_dropped} cells without a predictor within {model.fill_km:g} km)")
    filled = {k: v for k, v in mp.cells.n_filled.items() if v}
    if filled:
        run.log("  map cells gap-filled from a neighbour: " + ", ".join(f"{k} {v}" for k, v in filled.items()))
    z = mp.cells.table["zone"].to_numpy()
    run.res["global_rh_by_zone_PgC_yr"] = {k: global_total(mp.central[z == k], mp.weight[z == k])
                                           for k in ("tropical", "temperate", "boreal")}
    ds = output.rh_map_dataset(inp.grid, mp, model, run.nml.text or None)
    output.write_csv(pd.DataFrame({"member": np.arange(1, len(mp.totals) + 1), "global_rh_PgC_yr": mp.totals}),
                     run.out / "global_rh_members.csv", float_format="%.4f")
    return mp, ds


def turnover(run: Run, inp: Inputs, mp: MapResult, ds) -> None:
    """Step 8 (``&turnover enabled``): τsoil = cSoil / Rh per cell and globally, added to the
    map dataset ``ds``.

    Parameters
    ----------
    run : Run
        The state of the chain (namelist, output folder, log, results).
    inp : Inputs
    mp : MapResult
    ds : xarray.Dataset
    """
    turnover_keys, predictor_keys, seed = run.nml["turnover"], run.nml["predictors"], run.nml["run"]["seed"]
    if not turnover_keys["enabled"]:
        return
    from pysoc.upscale.turnover import choose_csoil, global_tau, turnover_map
    cs = choose_csoil(turnover_keys["csoil_source"], inp.grid, inp.matched, turnover_keys["csoil_file"],
                      turnover_keys["csoil_var"], predictor_keys["fill_km"], seed)
    cells = mp.cells.table
    cs_cells = cs.field_g_m2[cells["ilat"].to_numpy(), cells["ilon"].to_numpy()]
    rel = cs.scale_sd / cs.scale if cs.scale > 0 else 0.0
    gt = global_tau(cs_cells, mp.members, mp.weight, turnover_keys["rh_min"], rel, central=mp.central)
    output.add_turnover(ds, inp.grid.to_map(mp.cells, cs_cells),
                        turnover_map(inp.grid.to_map(mp.cells, cs_cells), ds["rh"].values, turnover_keys["rh_min"]),
                        cs.description, turnover_keys["rh_min"])
    run.res["tau"] = gt | {"csoil_source": turnover_keys["csoil_source"], "csoil_description": cs.description,
                           "csoil_scale": cs.scale, "csoil_scale_sd": cs.scale_sd, "csoil_scale_sites": cs.n_sites}
    run.log(f"Turnover time: global {gt['tau_global_yr']:.1f} yr, 5-95 % {gt['tau_p05_yr']:.1f}-{gt['tau_p95_yr']:.1f} "
            f"(SD {gt['tau_sd_yr']:.1f}, members and cSoil factor; area-weighted median of cells "
            f"{gt['tau_median_cell_yr']:.1f} yr; cSoil total {gt['csoil_total_PgC']:.0f} Pg C) — cSoil: "
            f"{cs.description}")


def twobox(run: Run, inp: Inputs) -> object | None:
    """Step 9 (``&twobox enabled``): the 2-box constraint of the model trajectories
    (``twobox_summary.csv``, ``twobox_series.nc``).

    Parameters
    ----------
    run : Run
        The state of the chain (namelist, output folder, log, results).
    inp : Inputs

    Returns
    -------
    TwoBoxResult or None

    Raises
    ------
    ConfigError
        ``tau_soil_from_upscale`` without ``&turnover enabled``.
    """
    twobox_keys = run.nml["twobox"]
    if not twobox_keys["enabled"]:
        return None
    from pysoc.upscale.twobox import constrain
    traj = inp.trajectories
    ts_obs = (twobox_keys["tau_soil_obs"], twobox_keys["tau_soil_obs_sd"])
    if twobox_keys["tau_soil_from_upscale"]:
        if "tau" not in run.res:
            raise ConfigError(f"{run.nml.path}: &twobox tau_soil_from_upscale needs &turnover enabled")
        ts_obs = (run.res["tau"]["tau_global_yr"], run.res["tau"]["tau_sd_yr"])
    ref = None
    if twobox_keys["ref_start"] or twobox_keys["ref_end"]:
        ref = (twobox_keys["ref_start"] or int(traj["year"].min()), twobox_keys["ref_end"] or int(traj["year"].max()))
    tb = constrain(traj, (twobox_keys["tau_veg_obs"], twobox_keys["tau_veg_obs_sd"]), ts_obs, ref,
                   twobox_keys["n_veg"], twobox_keys["n_soil"], run.nml["run"]["seed"], twobox_keys["tau_min"],
                   run.nml["run"]["progress"])
    output.write_csv(tb.summary, run.out / "twobox_summary.csv", float_format="%.4f")
    output.write_netcdf(output.twobox_dataset(tb, twobox_keys, ts_obs, run.nml.text or None),
                        run.out / "twobox_series.nc")
    mm = tb.summary[tb.summary["model"] == "multi-model mean"].iloc[0]
    run.res["twobox"] = {k: float(mm[k]) for k in ("dcveg_orig", "dcsoil_orig", "dctotal_orig", "dcveg_constr",
                                                   "dcsoil_constr", "dctotal_constr", "dctotal_constr_sd")}
    run.res["twobox"].update(tau_soil_obs=list(ts_obs), n_clipped=tb.n_clipped)
    run.log(f"2-box ({len(tb.series)} models, {int(mm['year_start'])}-{int(mm['year_end'])}, {twobox_keys['n_veg']} x "
            f"{twobox_keys['n_soil']} Monte Carlo, τsoil_obs {ts_obs[0]:.1f} ± {ts_obs[1]:.1f} yr): multi-model mean "
            f"ΔcTotal {mm['dctotal_orig']:.1f} Pg C with own τ -> {mm['dctotal_constr']:.1f} ± "
            f"{mm['dctotal_constr_sd']:.1f} Pg C constrained")
    return tb


def figures(run: Run, plots, data: SiteData, ev: Evaluation, diag: Diagnostics, mp: MapResult, ds, tb) -> None:
    """Figures through the writer the CLI passes (``pysoc.upscale.plots``).

    Parameters
    ----------
    run : Run
        The state of the chain (namelist, output folder, log, results).
    plots : module or None
        None (or ``&run figures = .false.``): no figures.
    data, ev, diag, mp, ds, tb
        The results of the previous steps.
    """
    if plots is None or not run.nml["run"]["figures"]:
        return
    fig = run.out / "figures"
    sel = ev.table[ev.table["selected"] & (ev.table["cv"] == ev.table["cv"].iloc[0])].iloc[0]
    lin = ev.table[ev.table["model"] == "linear MAT + MAP"].iloc[0]
    plots.cv_scatter(data.y, ev.selected_oof, ev.linear_oof, dict(sel), dict(lin), data.table["zone"].to_numpy(),
                     fig / "upscale_cv.png", names=(ev.selected, "linear MAT + MAP"))
    plots.skill_table(ev.table, fig / "upscale_skill.png")
    groups = {p: ALL_PREDICTORS[p].group for p in ALL_PREDICTORS}
    if diag.importance is not None:
        plots.importance(None, diag.importance, groups, fig / "upscale_importance.png")
    plots.pdp(diag.pdp, {p: ALL_PREDICTORS[p].units for p in diag.pdp if p in ALL_PREDICTORS}, fig / "upscale_pdp.png")
    lo, hi = run.res["global_rh_p05_PgC_yr"], run.res["global_rh_p95_PgC_yr"]
    plots.global_map(ds["lat"].values, ds["lon"].values, ds["rh"].values,
                     f"Rh, {ev.selected}: {mp.total:.1f} Pg C yr$^{{-1}}$ (5-95 %: {lo:.1f}-{hi:.1f})",
                     "g C m$^{-2}$ yr$^{-1}$", fig / "upscale_rh_map.png", vmin=0,
                     field2=ds["rh_p95"].values - ds["rh_p05"].values,
                     title2="5-95 % range over the grouped-bootstrap members", label2="g C m$^{-2}$ yr$^{-1}$")
    if "tau_soil" in ds:
        plots.global_map(ds["lat"].values, ds["lon"].values, np.log10(ds["tau_soil"].values),
                         f"τ_soil = cSoil / Rh (global {run.res['tau']['tau_global_yr']:.0f} yr)", "log10(τ / yr)",
                         fig / "upscale_tau_map.png", vmin=0.5, vmax=3, cmap="magma_r")
    if tb is not None:
        plots.twobox(tb.summary, tb.series, fig / "upscale_twobox.png")


# ============================================================================ the chain
def run(nml: Namelist, verbose: bool = True, plots=None) -> dict:
    """Run the whole chain of a checked namelist.

    Parameters
    ----------
    nml : Namelist
        From ``UPSCALE_NAMELIST.read(path)``.
    verbose : bool
        Print the summary lines.
    plots : module or None
        Figure writer (the CLI passes :mod:`pysoc.upscale.plots`); None = no figures.

    Returns
    -------
    dict
        The headline numbers (also written to ``summary.json``), with the log lines.
    """
    state = Run(nml, verbose)
    state.lap("start")
    inp = load_inputs(state)
    records, opts = filter_records(state, inp)
    data = training_data(state, inp, records)
    state.lap("inputs")
    ev = evaluate(state, data, inp.predictors)
    report_evaluation(state, ev)
    state.lap("grouped CV and selection")
    nested(state, data, inp.predictors)
    state.lap("nested CV")
    path = fit_selected(state, inp, data, ev, opts)
    state.lap("fit and save")
    model = UpscaleModel.load(path)          # the map and the diagnostics use the saved model
    diag = diagnostics(state, data, ev, model)
    output.write_csv(data.table.assign(rh_cv_selected=ev.selected_oof).drop(
        columns=[c for c in data.table.columns if c.startswith("gridfrac_")]), state.out / "srdb_rh_training.csv",
                     float_format=None)
    state.lap("diagnostics")
    mp, ds = make_map(state, inp, model)
    turnover(state, inp, mp, ds)
    output.write_netcdf(ds, state.out / "rh_map.nc")
    tb = twobox(state, inp)
    state.lap("map, turnover, 2-box")
    figures(state, plots, data, ev, diag, mp, ds, tb)
    state.lap("figures")
    state.res["runtime_s"] = time.time() - state.t0
    state.log(f"done in {state.res['runtime_s']:.0f} s (CPU by step: " + ", ".join(f"{k} {v:.0f} s" for k, v in
                                                                     state.res["cpu_s"].items() if k != "start")
              + f"); outputs in {state.out}")
    output.write_text("\n".join(state.lines) + "\n", state.out / "summary.txt")
    output.write_text(json.dumps(state.res, indent=2, default=float) + "\n", state.out / "summary.json")
    state.res["lines"] = state.lines
    return state.res

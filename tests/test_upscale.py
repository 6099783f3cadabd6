"""Tests of pysoc.upscale: SRDB filters, predictors, CV folds, RF/XGBoost, map totals,
turnover time, 2-box model and the pysoc-upscale CLI (fast settings)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from pysoc.errors import ConfigError, DataError
from pysoc.io.namelist import PKGDATA
from pysoc.upscale import models as M
from pysoc.upscale.grid import CovariateGrid, assign_site_vegetation, global_total
from pysoc.upscale.predictors import (DEFAULT_PREDICTORS, STUDY_PREDICTORS, VEG_CLASSES, apply_tundra_rule,
                                      check_predictor_names, climate_zone_from_koppen, encode_design)
from pysoc.upscale.srdb import FilterOptions, apply_filters, read_srdb
from pysoc.upscale.turnover import global_tau, scale_factor_from_sites, turnover_map
from pysoc.upscale.twobox import check_trajectories, constrain, run_twobox

GRID = PKGDATA / "grids" / "upscale_covariates_1deg.nc"
SHARED_SRDB = Path(__file__).resolve().parents[2] / "shared" / "data" / "srdb" / "srdb-data.csv"


@pytest.fixture(scope="module")
def grid():
    return CovariateGrid(GRID)


# --------------------------------------------------------------------------- SRDB filters
def _record(n, **kw):
    base = dict(Record_number=n, Latitude=45.0, Longitude=10.0, Study_midyear=2005.5, YearsOfData=1,
                Manipulation="", Meas_method="IRGA", Rh_annual=400.0 + n, Ecosystem_type="Forest",
                Quality_flag="", Duplicate_record="")
    base.update(kw)
    return base


def _handmade(tmp_path):
    rows = [_record(i) for i in range(1, 41)]                       # 40 good records, Rh 401..440
    rows += [
        _record(101, Rh_annual=np.nan),                             # not an Rh record
        _record(102, YearsOfData=0.5),                              # < 1 year
        _record(103, Latitude=np.nan),                              # no coordinates
        _record(104, Study_midyear=np.nan),                         # no year
        _record(105, Manipulation="Fertilized "),                   # manipulated (with stray space)
        _record(106, Meas_method="Alkali absorption"),              # alkali trap
        _record(107, Rh_annual=-20.0),                              # negative flux
        _record(108, Rh_annual=5000.0),                             # > 6 SD outlier
        _record(109, Manipulation="Control", Ecosystem_type="Grassland "),  # control label: kept
    ]
    p = tmp_path / "srdb.csv"
    pd.DataFrame(rows).to_csv(p, index=False)
    return p


def test_filters_remove_one_record_of_each_kind(tmp_path):
    df = read_srdb(_handmade(tmp_path))
    assert df["Ecosystem_type"].iloc[-1] == "Grassland"             # whitespace stripped
    kept, rep = apply_filters(df)
    removed = {name: n for name, n, _ in rep.steps}
    assert removed == {"rh_present": 1, "one_year": 1, "coordinates_year": 2, "no_manipulation": 1,
                       "method": 1, "nonpositive": 1, "outlier_6sd": 1}
    assert sorted(kept["Record_number"]) == list(range(1, 41)) + [109]
    assert rep.n_output == len(kept) == 41
    assert rep.outlier_bounds[1] < 5000.0


def test_filter_options_quality_duplicates(tmp_path):
    rows = [_record(i) for i in range(1, 21)]
    rows += [_record(50, Quality_flag="Q01, Q11"), _record(51, Duplicate_record="1234")]
    p = tmp_path / "s.csv"
    pd.DataFrame(rows).to_csv(p, index=False)
    kept, rep = apply_filters(read_srdb(p), FilterOptions(excluded_quality_flags=("Q11",), drop_duplicates=True))
    removed = {name: n for name, n, _ in rep.steps}
    assert removed["quality"] == 1 and removed["duplicates"] == 1
    assert 50 not in kept["Record_number"].to_list() and 51 not in kept["Record_number"].to_list()


def test_srdb_missing_column_is_clear_error(tmp_path):
    p = tmp_path / "bad.csv"
    pd.DataFrame([_record(1)]).drop(columns=["Meas_method"]).to_csv(p, index=False)
    with pytest.raises(DataError, match="Meas_method"):
        read_srdb(p)
    with pytest.raises(DataError, match="not found"):
        read_srdb(tmp_path / "nope.csv")


def test_shipped_filtered_table_matches_filters():
    rec = read_srdb(PKGDATA / "srdb" / "srdb_rh_records.csv")
    kept, rep = apply_filters(rec)
    shipped = pd.read_csv(PKGDATA / "srdb" / "srdb_rh_filtered.csv")
    assert len(rec) == 1064
    assert sorted(kept["Record_number"]) == sorted(shipped["Record_number"])
    assert (kept["Rh_annual"] > 0).all() and not kept["Manipulation"].isin(["Fertilized", "Warmed"]).any()


@pytest.mark.skipif(not SHARED_SRDB.is_file(), reason="project source data not present")
def test_full_srdb_gives_same_filtered_records():
    kept, _ = apply_filters(read_srdb(SHARED_SRDB))
    shipped = pd.read_csv(PKGDATA / "srdb" / "srdb_rh_filtered.csv")
    assert sorted(kept["Record_number"]) == sorted(shipped["Record_number"])


# --------------------------------------------------------------------------- predictors
def test_predictor_inventory_has_the_19_study_predictors():
    assert len(STUDY_PREDICTORS) == 19
    with pytest.raises(DataError, match="not available on the grid"):
        check_predictor_names(["MAT", "LAI"])
    with pytest.raises(DataError, match="unknown predictor"):
        check_predictor_names(["MAT", "Foo"])
    assert check_predictor_names(list(DEFAULT_PREDICTORS)) == list(DEFAULT_PREDICTORS)


def test_encode_design_errors():
    df = pd.DataFrame({"MAT": [1.0, 2.0], "MAP": [500.0, 600.0], "Veg": ["ENF", "Crop"]})
    D = encode_design(df, ["MAT", "MAP", "Veg"])
    assert D.shape == (2, 2 + len(VEG_CLASSES)) and D["Veg_ENF"].tolist() == [1.0, 0.0]
    with pytest.raises(DataError, match="'Clay' is missing"):
        encode_design(df, ["MAT", "Clay"])
    with pytest.raises(DataError, match="unknown vegetation class.*'Jungle'"):
        encode_design(df.assign(Veg=["ENF", "Jungle"]), ["MAT", "Veg"])
    with pytest.raises(DataError, match="'MAP' has 1 missing"):
        encode_design(df.assign(MAP=[500.0, np.nan]), ["MAT", "MAP"])


def test_tundra_rule_and_zones():
    v = apply_tundra_rule(np.array(["Grassland", "Grassland", "ENF"], dtype=object), np.array([60.0, 40.0, 60.0]))
    assert v.tolist() == ["Tundra", "Grassland", "ENF"]
    z = climate_zone_from_koppen(np.array([1, 2, 3, 4, 5, 0, 0]), np.array([0, 0, 0, 0, 0, 5.0, 65.0]))
    assert z.tolist() == ["tropical", "temperate", "temperate", "boreal", "boreal", "tropical", "boreal"]


def test_grid_sampling_and_site_vegetation(grid):
    # Manaus (tropical, EBF), central Siberia (boreal), a point in the ocean 50 km off a coast
    lat = np.array([-3.1, 61.0, 0.0])
    lon = np.array([-60.0, 100.0, -30.0])
    s = grid.sample(lat, lon, ["MAT", "MAP", "Clay"], fill_km=150.0)
    assert 24 < s["MAT"][0] < 30 and s["MAP"][0] > 1500
    assert s["MAT"][1] < 0
    assert np.isnan(s["MAT"][2])                                    # mid-Atlantic: nothing within 150 km
    assert s["reason"].tolist() == ["", "", "no MAT within 150 km"]
    rec = pd.DataFrame({"Latitude": lat, "Longitude": lon, "Ecosystem_type": ["Forest", "Grassland", "Forest"],
                        "Leaf_habit": ["Evergreen", None, "Deciduous"]})
    veg = assign_site_vegetation(rec, s)
    assert veg.tolist() == ["EBF", "Tundra", "DBF"]


# --------------------------------------------------------------------------- folds and models
def test_folds_keep_climate_zone_proportions():
    zones = np.array(["tropical"] * 56 + ["temperate"] * 274 + ["boreal"] * 315)
    folds = M.stratified_folds(zones, 10, seed=3)
    test_idx = np.concatenate([te for _, te in folds])
    assert sorted(test_idx) == list(range(len(zones)))             # a partition
    for tr, te in folds:
        for z, n in (("tropical", 56), ("temperate", 274), ("boreal", 315)):
            assert abs((zones[te] == z).sum() - n / 10) <= 1
        assert len(np.intersect1d(tr, te)) == 0


def test_grouped_folds_never_split_a_site():
    rng = np.random.default_rng(0)
    sites = np.repeat(np.arange(120), rng.integers(1, 5, 120))
    zones = np.array(["tropical", "temperate", "boreal"])[sites % 3]
    for tr, te in M.stratified_folds(zones, 5, 1, groups=sites):
        assert not set(sites[tr]) & set(sites[te])
    with pytest.raises(DataError, match="smaller than n_folds"):
        M.stratified_folds(np.array(["a"] * 3 + ["b"] * 30), 5)


def test_rf_learns_a_known_function():
    rng = np.random.default_rng(42)
    X = rng.uniform(0, 1, size=(500, 4))
    y = 300 + 400 * X[:, 0] + 150 * np.sin(6 * X[:, 1]) + 5 * rng.normal(size=500)
    folds = M.stratified_folds(np.where(X[:, 3] < 0.3, "a", "b"), 5, 1)
    cv = M.cross_validate(lambda: M.make_rf(60, 2, 1, 1), X, y, folds)
    assert cv.skill["R2"] > 0.9 and cv.skill["NSE"] > 0.9
    xg = M.cross_validate(lambda: M.make_xgb(1, 1, n_estimators=200, learning_rate=0.1), X, y, folds)
    assert xg.skill["NSE"] > 0.9
    imp = M.impurity_importance(cv.models, ["x0", "x1", "x2", "x3"])
    assert set(imp["predictor"][:2]) == {"x0", "x1"} and abs(imp["importance_pct"].sum() - 100) < 1e-9
    perm = M.permutation_importance_cv(cv, X, y, ["x0", "x1", "x2", "x3"], n_repeats=2)
    assert perm["predictor"][0] == "x0" and perm["mse_increase"].iloc[-1] < 0.05 * perm["mse_increase"].iloc[0]
    pdp = M.partial_dependence_cv(cv.models, X, ["x0", "x1", "x2", "x3"], ["x0"], grid_resolution=10)
    assert np.all(np.diff(pdp["x0"]["rh_mean"]) > -20)              # increasing in x0
    assert pdp["x0"]["rh_mean"].iloc[-1] - pdp["x0"]["rh_mean"].iloc[0] > 200


def test_tune_rf_tree_prefix_equals_smaller_forest():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 5))
    y = X[:, 0] * 3 + X[:, 1] + rng.normal(size=120)
    folds = M.stratified_folds(np.where(X[:, 2] > 0, "a", "b"), 3, 1)
    tab, best = M.tune_rf(X, y, folds, ntrees=(10, 20), mtrys=(2, 3), seed=7)
    assert len(tab) == 4 and best["ntree"] in (10, 20) and best["mtry"] in (2, 3)
    direct = M.cross_validate(lambda: M.make_rf(10, 3, 7), X, y, folds)
    row = tab[(tab.ntree == 10) & (tab.mtry == 3)].iloc[0]
    assert row["RMSE"] == pytest.approx(direct.skill["RMSE"], rel=1e-12)
    with pytest.raises(ConfigError, match="rf_mtry"):
        M.tune_rf(X, y, folds, mtrys=(9,))


def test_skill_definitions():
    o = np.array([1.0, 2.0, 3.0, 4.0])
    s = M.skill(o, 2 * o)                                           # perfectly correlated, biased
    assert s["R2"] == pytest.approx(1.0) and s["NSE"] < 0 and s["RMSE"] == pytest.approx(np.sqrt(7.5))


def test_pca_group_importance_sums_to_100():
    rng = np.random.default_rng(0)
    d = pd.DataFrame({"MAT": rng.normal(size=200), "MAP": rng.normal(size=200), "AGB": rng.normal(size=200),
                      "Clay": rng.normal(size=200), "SOC": rng.normal(size=200)})
    y = 5 * d["MAT"] + rng.normal(size=200)
    folds = M.stratified_folds(np.where(d["SOC"] > 0, "a", "b"), 4, 1)
    tab, sk, ev = M.pca_group_importance(d, y, folds, 30, 2, 1)
    assert tab.set_index("group").loc["climate", "importance_pct"] > 50
    assert not tab.set_index("group").loc["soil_biotic", "available"]
    assert tab["importance_pct"].sum() == pytest.approx(100.0)


# --------------------------------------------------------------------------- map and turnover
def test_constant_field_total_equals_constant_times_land_area(grid):
    w = grid.area_weight("land")
    land_area = float(np.sum(grid.field("cell_area") * np.nan_to_num(grid.field("land_fraction"))))
    assert 130e12 < land_area < 135e12                              # Earth's land without Antarctica
    assert global_total(np.full(w.shape, 500.0), w) == pytest.approx(500.0 * land_area / 1e15, rel=1e-12)
    cells = grid.cells(["MAT", "MAP", "Veg"], area="vegetated")
    wv = cells.table["weight"].to_numpy()
    veg_area = float(np.sum(grid.area_weight("vegetated")))
    assert global_total(np.full(len(wv), 1.0), wv) == pytest.approx(wv.sum() / 1e15)
    assert wv.sum() <= veg_area * (1 + 1e-12) and wv.sum() > 0.97 * veg_area
    m = grid.to_map(cells, np.ones(len(wv)))
    assert np.nansum(m) == len(wv)


def test_turnover_time():
    cs = np.array([[1e4, 2e4], [np.nan, 5e3]])
    rh = np.array([[500.0, 400.0], [300.0, 5.0]])
    tau = turnover_map(cs, rh, rh_min=10.0)
    assert tau[0, 0] == pytest.approx(20.0) and tau[0, 1] == pytest.approx(50.0)
    assert np.isnan(tau[1, 0]) and np.isnan(tau[1, 1])
    members = np.stack([np.full(4, 400.0), np.full(4, 600.0)])
    g = global_tau(np.full(4, 2e4), members, np.ones(4))
    assert g["tau_global_yr"] == pytest.approx(2e4 / 500.0) and g["tau_sd_yr"] > 0
    k, sd, n = scale_factor_from_sites(np.full(20, 10.0), np.full(20, 20.0))
    assert k == pytest.approx(5.0) and sd == pytest.approx(0.0, abs=1e-12) and n == 20


# --------------------------------------------------------------------------- 2-box model
def test_twobox_mass_balance_and_steady_state():
    T = 60
    npp = 50 + 0.5 * np.arange(T)
    tv = 8 + 0.01 * np.arange(T)
    ts = 30 - 0.05 * np.arange(T)
    cv, cs, rh = run_twobox(npp, tv, ts)
    d_stock = (cv[1:] + cs[1:]) - (cv[:-1] + cs[:-1])
    assert np.allclose(d_stock, npp[1:] - rh[1:], rtol=0, atol=1e-10 * cs.max())
    cv, cs, rh = run_twobox(np.full(T, 60.0), np.full(T, 10.0), np.full(T, 40.0))
    assert np.allclose(cv, 600.0) and np.allclose(cs, 2400.0) and np.allclose(rh, 60.0)


def test_twobox_constraint():
    yrs = np.arange(1950, 2001)
    df = pd.DataFrame({"model": "m1", "year": yrs, "npp": 50 + 0.3 * (yrs - 1950),
                       "tau_veg": np.full(yrs.size, 8.0), "tau_soil": np.full(yrs.size, 20.0)})
    same = constrain(df, (8.0, 0.0), (20.0, 0.0), n_veg=3, n_soil=3)   # obs = sim: constrained = original
    r = same.summary.iloc[0]
    assert r["dctotal_constr"] == pytest.approx(r["dctotal_orig"]) and r["dctotal_constr_sd"] == pytest.approx(0)
    slow = constrain(df, (10.3, 1.4), (38.3, 11.0), n_veg=100, n_soil=100, seed=2)
    r = slow.summary.iloc[0]
    assert r["dcsoil_constr"] > r["dcsoil_orig"] > 0                # slower turnover stores more carbon
    assert r["dctotal_constr_sd"] > 0
    again = constrain(df, (10.3, 1.4), (38.3, 11.0), n_veg=100, n_soil=100, seed=2)
    assert again.summary.equals(slow.summary)                        # seeded


def test_twobox_tau_from_stocks_and_bad_input():
    yrs = np.arange(2000, 2010)
    npp = np.full(10, 60.0)
    df = pd.DataFrame({"model": "a", "year": yrs, "npp": npp, "cveg": np.full(10, 600.0),
                       "csoil": np.full(10, 1800.0), "rh": np.full(10, 60.0)})
    out = check_trajectories(df)
    assert np.allclose(out["tau_veg"], 10.0) and np.allclose(out["tau_soil"], 30.0)
    with pytest.raises(DataError, match="tau_soil must be finite and > 0.*year 2003"):
        check_trajectories(df.drop(columns=["cveg", "csoil", "rh"]).assign(
            tau_veg=8.0, tau_soil=np.where(yrs == 2003, np.nan, 20.0)))
    with pytest.raises(DataError, match="column 'npp' missing"):
        check_trajectories(df.drop(columns=["npp"]))


# --------------------------------------------------------------------------- CLI
FAST_NML = """
&run
  output_dir = 'out'
  n_jobs = 1
  progress = .false.
  figures = {figures}
/
&predictors
  predictors = 'MAT', 'MAP', 'Tseas', 'Clay', 'SOC', 'LandCover'
  decomposition_model = 'clm5'
  select_predictors = .false.
/
&cv
  n_folds = 3
  repeats = 1
/
&models
  candidates = 'rf', 'xgb', 'hybrid'
  ntree = 15
  leaf_sizes = 5
  max_features = 0.5
  xgb_depths = 2
  xgb_rounds = 20
  rf_ntree = 10
  rf_mtry = 3
  n_members = 2
  permutation_repeats = 1
  pdp_top = 2
  pca_components = 0
/
&twobox
  n_veg = 5
  n_soil = 5
/
"""


def test_cli_end_to_end_fast(tmp_path, capsys):
    from pysoc.cli.upscale import main
    from pysoc.upscale.saved import UpscaleModel
    nml = tmp_path / "u.nml"
    nml.write_text(FAST_NML.format(figures=".true."))
    assert main([str(nml), "--quiet"]) == 0
    out = tmp_path / "out"
    s = json.loads((out / "summary.json").read_text())
    assert s["n_records_filtered"] == 651 and s["n_training"] > 600
    assert 20 < s["global_rh_PgC_yr"] < 100 and s["global_rh_p05_PgC_yr"] <= s["global_rh_p95_PgC_yr"]
    cv = pd.read_csv(out / "cv_skill.csv")
    grouped = cv[cv["cv"].str.startswith("grouped")]
    assert {"training mean", "linear MAT + MAP", "rf", "xgb", "hybrid", "rf_seed"} <= set(grouped["model"])
    assert grouped["selected"].sum() == 1 and {"R2", "RMSE", "bias", "NSE"} <= set(cv.columns)
    assert (cv["cv"] == "record-level").sum() >= 3                   # the secondary line
    ds = xr.open_dataset(out / "rh_map.nc")
    assert ds.attrs["Conventions"] == "CF-1.8" and ds["lat"].attrs["units"] == "degrees_north"
    assert ds["rh"].attrs["units"] == "g m-2 yr-1" and ds["tau_soil"].attrs["units"] == "yr"
    tot = float((ds["rh"].fillna(0) * ds["area_weight"]).sum()) / 1e15
    assert tot == pytest.approx(s["global_rh_PgC_yr"], rel=1e-5)
    assert (out / "figures" / "upscale_rh_map.png").stat().st_size > 10_000
    assert not list(out.glob(".*.part"))
    tb = pd.read_csv(out / "twobox_summary.csv")
    assert tb["model"].iloc[-1] == "multi-model mean" and len(tb) == 9
    from cfcheck import assert_cf_compliant
    ds.close()
    assert_cf_compliant(out / "rh_map.nc")
    assert_cf_compliant(out / "twobox_series.nc")
    ds = xr.open_dataset(out / "rh_map.nc")
    # the map comes from the saved model: predicting at cell centres gives the map values
    model = UpscaleModel.load(out / "rh_model.zip")
    grid = CovariateGrid(GRID)
    model.prepare_grid(grid)
    rh = ds["rh"].values
    ii, jj = np.nonzero(np.isfinite(rh))
    pick = np.random.default_rng(0).choice(len(ii), 50, replace=False)
    p = model.predict_sites(grid, ds["lat"].values[ii[pick]], ds["lon"].values[jj[pick]])
    assert np.allclose(p["rh"].to_numpy(), rh[ii[pick], jj[pick]], rtol=1e-5)   # float32 on disk


def test_cli_errors(tmp_path, capsys):
    from pysoc.cli.upscale import main
    nml = tmp_path / "bad.nml"
    nml.write_text("&models\n  n_trees = 5\n/\n")
    assert main([str(nml)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pysoc-upscale: error:") and "n_trees" in err and len(err.strip().splitlines()) == 1
    nml.write_text("&predictors\n  predictors = 'MAT', 'LAI'\n/\n")
    assert main([str(nml)]) == 2
    assert "'LAI' is not available on the grid" in capsys.readouterr().err
    nml.write_text("&predictors\n  grid_file = 'missing.nc'\n/\n&run\n output_dir='o'\n/\n")
    assert main([str(nml)]) == 2
    assert "missing.nc: covariate grid not found" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()                            # inputs checked before any output
    assert main(["--describe-namelist"]) == 0
    assert "&twobox" in capsys.readouterr().out


def test_user_csoil_file_units_and_regridding(tmp_path):
    from pysoc.upscale.turnover import load_csoil_file
    lat = np.arange(-89.0, 90.0, 2.0)
    lon = np.arange(1.0, 360.0, 2.0)                                 # 0..360 convention
    val = np.broadcast_to(10.0 + lat[:, None] * 0 + lon[None, :] * 0.01, (lat.size, lon.size))
    ds = xr.Dataset({"cSoil": (("lat", "lon"), val, {"units": "kg C m-2"})}, coords={"lat": lat, "lon": lon})
    p = tmp_path / "cs.nc"
    ds.to_netcdf(p)
    out = load_csoil_file(p, "cSoil", np.array([0.5, 45.5]), np.array([-179.5, 10.5]))
    assert out.shape == (2, 2)
    assert out[0, 1] == pytest.approx(1000 * (10 + 11.0 * 0.01))     # lon 10.5 -> nearest 11
    assert out[0, 0] == pytest.approx(1000 * (10 + 181.0 * 0.01))    # lon -179.5 = 180.5 -> 181
    ds["cSoil"].attrs["units"] = "furlongs"
    ds.to_netcdf(tmp_path / "bad.nc")
    with pytest.raises(DataError, match="units 'furlongs'"):
        load_csoil_file(tmp_path / "bad.nc", "cSoil", lat[:2], lon[:2])
    with pytest.raises(DataError, match="variable 'soc' not found"):
        load_csoil_file(p, "soc", lat[:2], lon[:2])


def test_twobox_reads_netcdf_trajectories(tmp_path):
    from pysoc.upscale.twobox import read_trajectories
    yrs = np.arange(1990, 2000)
    ds = xr.Dataset({"npp": (("model", "year"), np.full((2, 10), 55.0)),
                     "tau_veg": (("model", "year"), np.full((2, 10), 9.0)),
                     "tau_soil": (("model", "year"), np.full((2, 10), 25.0))},
                    coords={"model": ["a", "b"], "year": yrs})
    p = tmp_path / "traj.nc"
    ds.to_netcdf(p)
    df = read_trajectories(p)
    assert sorted(df["model"].unique()) == ["a", "b"] and len(df) == 20
    r = constrain(df, (9.0, 0.0), (25.0, 0.0), n_veg=2, n_soil=2)
    assert r.summary["dctotal_orig"].abs().max() < 1e-9             # steady NPP and τ: no accumulation

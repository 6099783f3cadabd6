"""Tests of the grouped-CV upscaling: strict SRDB reading, stored filter window, grouped
folds with a buffer, the one gap-fill rule, the decomposition index from the model object,
the hybrid and monotone learners, the saved model (save -> load -> predict identical,
version refusal) and ``pysoc-upscale predict`` / ``evaluate``."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pysoc.errors import DataError
from pysoc.io.namelist import PKGDATA
from pysoc.upscale import models as M
from pysoc.upscale import selection as S
from pysoc.upscale.grid import CovariateGrid
from pysoc.upscale.saved import UpscaleModel
from pysoc.upscale.sites import add_derived_fields, training_table
from pysoc.upscale.srdb import FilterOptions, apply_filters, read_srdb

GRID = PKGDATA / "grids" / "upscale_covariates_1deg.nc"
RECORDS = PKGDATA / "srdb" / "srdb_rh_records.csv"
PREDS = ["MAT", "MAP", "Tseas", "SOC", "LandCover", "Koppen", "DecompIndex"]


@pytest.fixture(scope="module")
def grid():
    g = CovariateGrid(GRID)
    add_derived_fields(g, PREDS + ["SOCxDecomp"], "clm5")
    return g


@pytest.fixture(scope="module")
def training(grid):
    rec, rep = apply_filters(read_srdb(RECORDS))
    return training_table(rec, grid, PREDS, 300.0, extra=("MAT", "MAP", "Tseas", "SOC")), rep


def _model(training, name="rf", config=None, members=2):
    data, rep = training
    st = S.Settings(ntree=20, seed=3, decomposition_model="clm5")
    config = config or {"min_samples_leaf": 5, "max_features": 0.5}
    X, cols = S.design_matrix(data.table, PREDS, name)
    est = S.estimator(name, config, cols, st).fit(X, data.y)
    mem = [S.estimator(name, config, cols, st).fit(X[i::2], data.y[i::2]) for i in range(members)]
    Xb = data.table[["MAT", "MAP"]].to_numpy(float)
    return UpscaleModel(estimator=est, members=mem,
                        baselines={"mean": M.MeanBaseline().fit(Xb, data.y), "linear": M.LinearBaseline().fit(Xb, data.y)},
                        predictors=PREDS, columns=cols, candidate=name, config=config,
                        process_inputs=["MAT", "Tseas", "MAP", "SOC"] if name == "hybrid" else [], fill_km=300.0,
                        decomposition_model="clm5", filters=rep.trained(FilterOptions()).to_dict(),
                        grid_file="pkgdata:grids/upscale_covariates_1deg.nc", grid_sha256=CovariateGrid(GRID).checksum())


# --------------------------------------------------------------------------- strict SRDB reading
def _write(tmp_path, text):
    p = tmp_path / "srdb.csv"
    p.write_text(text)
    return p


HEAD = "Record_number,Latitude,Longitude,Study_midyear,YearsOfData,Manipulation,Meas_method,Rh_annual,Notes\n"


def test_read_srdb_wrong_field_count_names_line(tmp_path):
    p = _write(tmp_path, HEAD + "1,45,5,2000,1,,IRGA,300,ok\n2,45,5,2000,1,,IRGA,300\n")
    with pytest.raises(DataError, match=r"srdb.csv:3: record has 8 fields, the header has 9"):
        read_srdb(p)
    p = _write(tmp_path, HEAD + '1,45,5,2000,1,,IRGA,300,"two\nlines"\n2,45,5,2000,1,,IRGA,300,x,extra\n')
    with pytest.raises(DataError, match=r"srdb.csv:4: record has 10 fields"):   # multi-line field counted
        read_srdb(p)


def test_read_srdb_non_numeric_and_truncated(tmp_path):
    p = _write(tmp_path, HEAD + "1,45,5,2000,1,,IRGA,300,a\n2,45,5,2000,1,,IRGA,3O0,b\n3,45,5,2000,1,,IRGA,x,c\n")
    with pytest.raises(DataError, match=r"srdb.csv:3: column 'Rh_annual' value '3O0' is not a number "
                                        r"\(and 1 more in this column\)"):
        read_srdb(p)
    p = _write(tmp_path, HEAD + "1,45,5,2000,1,,IRGA,300,a\n2,45,5,2000,1,,IRGA,2")     # cut mid-record
    with pytest.raises(DataError, match=r"srdb.csv:3: file ends inside a record"):
        read_srdb(p)
    p = _write(tmp_path, HEAD + '1,45,5,2000,1,,IRGA,300,"unterminated\n')
    with pytest.raises(DataError, match=r"srdb.csv:\d+: (malformed CSV|record has)"):
        read_srdb(p)
    ok = read_srdb(_write(tmp_path, HEAD + "1,45,5,2000,1,,IRGA,NA,a\n2,45,5,2000,1,,IRGA,,b\n"))
    assert ok["Rh_annual"].isna().all() and ok["_line"].tolist() == [2, 3]


def test_truncated_shipped_table_is_refused(tmp_path):
    text = RECORDS.read_text()
    cut = tmp_path / "cut.csv"
    cut.write_text(text[: len(text) // 2])
    with pytest.raises(DataError, match="cut.csv:"):
        read_srdb(cut)


def test_stored_outlier_window_is_not_recomputed():
    df = read_srdb(RECORDS)
    kept, rep = apply_filters(df)
    trained = rep.trained(FilterOptions())
    assert trained.outlier_window == rep.outlier_bounds
    again, rep2 = apply_filters(kept, trained)                          # filtered table, stored window
    assert len(again) == len(kept) and rep2.outlier_bounds == rep.outlier_bounds
    _, fresh = apply_filters(kept)                                      # a recomputed window moves
    assert fresh.outlier_bounds != rep.outlier_bounds
    assert FilterOptions.from_dict(json.loads(json.dumps(trained.to_dict()))) == trained


# --------------------------------------------------------------------------- folds, gap fill
def test_grouped_folds_keep_cells_apart_with_buffer():
    rng = np.random.default_rng(4)
    lat = rng.uniform(30, 60, 400)
    lon = rng.uniform(-10, 30, 400)
    zone = np.where(lat > 45, "boreal", "temperate")
    cells = M.cell_ids(lat, lon)
    from pysoc.upscale.grid import R_EARTH_KM, _xyz
    xyz = _xyz(lat, lon)
    for tr, te in M.grouped_folds(lat, lon, zone, 5, 1, "cell", 0.5, buffer_km=100.0):
        assert not set(cells[tr]) & set(cells[te])
        d = np.linalg.norm(xyz[tr][:, None] - xyz[te][None], axis=-1).min()
        assert 2 * R_EARTH_KM * np.arcsin(d / 2) > 100.0
    folds = M.grouped_folds(lat, lon, zone, 5, 1, "site")
    assert sorted(np.concatenate([te for _, te in folds])) == list(range(400))


def test_one_gap_fill_rule_for_sites_and_cells(grid):
    cells = grid.cells(["SOC", "MAT"], fill_km=300.0)
    t = cells.table
    k = t.index[t["fill_km_max"] > 0][0]                                # a cell filled from a neighbour
    s = grid.sample([t.loc[k, "lat"]], [t.loc[k, "lon"]], ["SOC", "MAT"], 300.0)
    assert s["SOC"][0] == t.loc[k, "SOC"] and s["reason"][0] == ""
    far = grid.sample([-40.0, 0.0], [-120.0, -30.0], ["SOC"], 300.0)   # South Pacific, mid-Atlantic
    assert far["reason"].tolist() == ["no SOC within 300 km"] * 2
    near = grid.sample([21.3], [-157.8], ["SOC"], 300.0)                # Honolulu
    assert near["reason"][0] == "" or "within 300 km" in near["reason"][0]


# --------------------------------------------------------------------------- process-informed parts
def test_decomposition_index_uses_the_models_scalars(grid):
    from pysoc.models import get_model
    from pysoc.upscale.process import decomposition_index, monthly_soil_temperature, water_scalar
    m = get_model("clm5")
    mat, b4, p = np.array([-5.0, 10.0, 25.0]), np.array([1200.0, 600.0, 100.0]), np.array([400.0, 900.0, 2500.0])
    idx = decomposition_index(m, mat, b4, p, {"q10": 2.0})
    t = monthly_soil_temperature(mat, b4) + 273.15
    w = np.minimum(1.0, water_scalar(mat, b4, p))                       # w_scaling 1
    assert np.allclose(idx, np.mean(2.0 ** ((t - 298.15) / 10.0) * w[:, None], axis=1), rtol=1e-12)
    assert np.all(np.diff(decomposition_index(m, [0, 10, 20], [500] * 3, [3000] * 3)) > 0)
    with pytest.raises(Exception, match="does not provide decomposition_scalars"):
        from pysoc.upscale.process import decomposition_model
        decomposition_model("mimics")
    assert np.nanmax(grid.derived["DecompIndex"]) > 0.5 and np.isnan(grid.derived["DecompIndex"]).any()


def test_hybrid_recovers_a_known_q10():
    from pysoc.models import get_model
    from pysoc.upscale.process import ProcessRh, decomposition_index
    rng = np.random.default_rng(2)
    n = 300
    Xp = np.column_stack([rng.uniform(-5, 28, n), rng.uniform(100, 1500, n), rng.uniform(200, 3000, n),
                          rng.uniform(10, 120, n)])
    m = get_model("clm5")
    y = np.exp(4.0) * Xp[:, 3] ** 0.5 * decomposition_index(m, *Xp[:, :3].T, {"q10": 2.2, "w_scaling": 1.0})
    fit = ProcessRh(m).fit(Xp, y * np.exp(rng.normal(0, 0.02, n)))
    assert fit.params()["q10"] == pytest.approx(2.2, rel=0.03) and fit.params()["b1"] == pytest.approx(0.5, abs=0.05)
    h = M.HybridRegressor("clm5", M.make_rf(10, 1.0, 1)).fit(np.column_stack([Xp, rng.normal(size=n)]), y)
    assert h.process_params_["q10"] == pytest.approx(2.2, rel=0.1)


def test_monotone_xgb_is_monotone_in_constrained_columns():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (300, 3))
    y = 100 * X[:, 0] - 80 * (X[:, 0] > 0.7) + 50 * X[:, 1] + rng.normal(0, 5, 300)
    cols = ["MAT", "MAP", "BIO2"]
    assert S.monotone_signs(cols) == (1, 0, 0)
    m = S.estimator("xgb_monotone", {"max_depth": 3, "n_estimators": 200}, cols, S.Settings()).fit(X, y)
    g = np.column_stack([np.linspace(0, 1, 50), np.full(50, 0.5), np.full(50, 0.5)])
    assert np.all(np.diff(m.predict(g)) >= -1e-6)


# --------------------------------------------------------------------------- saved model
@pytest.mark.parametrize("name,config", [("rf", None), ("xgb", {"max_depth": 2, "n_estimators": 30}),
                                         ("hybrid", None)])
def test_save_load_predict_identical(tmp_path, grid, training, name, config):
    model = _model(training, name, config)
    lat = np.array([52.0, -3.1, 61.0, 0.0])
    lon = np.array([5.0, -60.0, 100.0, -30.0])
    before = model.predict_sites(grid, lat, lon)
    path = model.save(tmp_path / "m.zip")
    again = UpscaleModel.load(path)
    g2 = CovariateGrid(GRID)
    again.prepare_grid(g2)
    after = again.predict_sites(g2, lat, lon)
    pd.testing.assert_frame_equal(before, after)                        # bitwise
    assert after["status"].tolist() == ["ok", "ok", "ok", "not predicted"]
    assert after["reason"][3].startswith("no ") and np.isnan(after["rh"][3])
    assert (after["rh_p05"][:3] <= after["rh_p95"][:3]).all()
    meta = json.loads(zipfile.ZipFile(path).read("model.json"))
    assert meta["predictors"] == PREDS and meta["filters"]["outlier_window"][1] == pytest.approx(2350.09, abs=0.01)


def test_incompatible_model_file_is_refused(tmp_path, training):
    path = _model(training, "rf", members=0).save(tmp_path / "m.zip")
    meta = json.loads(zipfile.ZipFile(path).read("model.json"))
    blob = zipfile.ZipFile(path).read("estimators.skops")
    for change, msg in (({"versions": meta["versions"] | {"sklearn": "0.24.2"}}, "written with sklearn 0.24.2"),
                        ({"format_version": 99}, "format version 99")):
        bad = tmp_path / "bad.zip"
        with zipfile.ZipFile(bad, "w") as z:
            z.writestr("model.json", json.dumps(meta | change))
            z.writestr("estimators.skops", blob)
        with pytest.raises(DataError, match=msg):
            UpscaleModel.load(bad)
    (tmp_path / "junk.zip").write_text("not a zip")
    with pytest.raises(DataError, match="not a pysoc-upscale model file"):
        UpscaleModel.load(tmp_path / "junk.zip")


def test_cli_predict_and_evaluate(tmp_path, training, capsys):
    from pysoc.cli.upscale import main
    path = _model(training, "rf").save(tmp_path / "m.zip")
    sites = tmp_path / "sites.csv"
    pd.DataFrame({"name": ["a", "b", "c"], "Latitude": [45.0, 0.0, "x"], "Longitude": [10.0, -30.0, 5.0]}
                 ).to_csv(sites, index=False)
    out = tmp_path / "pred.csv"
    assert main(["predict", str(path), str(sites), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "sites.csv:4 (nan, 5.0): not predicted: coordinates missing or outside the globe" in err
    assert "sites.csv:3 (0.0, -30.0): not predicted: no MAT within 300 km" in err
    assert "1 of 3 sites predicted" in err
    p = pd.read_csv(out)
    assert p["status"].tolist() == ["ok", "not predicted", "not predicted"] and p["name"].tolist() == ["a", "b", "c"]
    assert main(["predict", str(path), "-3.1,-60.0", "45,10", "--quiet"]) == 0      # negative: not an option
    table = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert len(table) == 2 and table["rh"].notna().all() and table["lat"].tolist() == [-3.1, 45.0]
    assert main(["predict", str(path), "0,-30"]) == 2                   # nothing predicted: error exit
    assert "no site could be predicted" in capsys.readouterr().err
    assert main(["evaluate", str(path), str(RECORDS)]) == 0
    text = capsys.readouterr().out
    assert "outlier_window" in text and "(stored with the model)" in text and "linear MAT + MAP" in text
    assert "records predicted:" in text


@pytest.mark.slow
def test_bench_script_runs(tmp_path, training):
    path = _model(training, "rf", members=1).save(tmp_path / "m.zip")
    import subprocess
    import sys
    r = subprocess.run([sys.executable, str(Path(__file__).parents[1] / "scripts" / "bench_upscale.py"),
                        "--model", str(path), "--sites", "2000"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "2000 sites" in r.stdout and "s CPU" in r.stdout


def test_proda_soc_map_becomes_a_predictor(tmp_path):
    import xarray as xr
    from pysoc.upscale.workflow import UPSCALE_NAMELIST, candidate_predictors
    lat, lon = np.arange(-89.0, 90.0, 2.0), np.arange(-179.0, 180.0, 2.0)
    soc = np.broadcast_to(5.0 + 0.1 * np.abs(lat)[:, None], (lat.size, lon.size))
    xr.Dataset({"soc_0_100": (("lat", "lon"), soc, {"units": "kg m-2"})},
               coords={"lat": lat, "lon": lon}).to_netcdf(tmp_path / "proda.nc")
    nml = tmp_path / "p.nml"
    nml.write_text("&predictors\n  predictors = 'MAT', 'SOC'\n  proda_soc_file = 'proda.nc'\n"
                   "  proda_soc_var = 'soc_0_100'\n/\n")
    n = UPSCALE_NAMELIST.read(nml)
    preds = candidate_predictors(n)
    assert preds == ["MAT", "SOC", "PRODA_SOC"]
    g = CovariateGrid(GRID)
    notes = add_derived_fields(g, preds, "", n["predictors"]["proda_soc_file"], "soc_0_100")
    assert "PRODA SOC map proda.nc:soc_0_100" in notes[0]
    s = g.sample([60.2], [25.0], preds, 300.0)
    assert s["PRODA_SOC"][0] == pytest.approx(1000 * (5.0 + 0.1 * 61.0))     # g m-2, nearest 2-degree row
    with pytest.raises(Exception, match="PRODA_SOC needs"):
        add_derived_fields(CovariateGrid(GRID), ["PRODA_SOC"])

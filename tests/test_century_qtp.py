"""Qinghai-Tibet Plateau data and the annual tower-flux streams of the CENTURY experiment
(seed 000 with real fluxes): shipped tower-years, site climates corrected to the towers,
the calendar-year observation operator, towers without SOC as sites, the GPP equivalent of
CENTURY's production, and the build script against the shared data (skipped without it)."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from pysoc.da.likelihood import (STREAMS, CostFunction, ParameterMapper, StreamSpec, annual_operator,
                                 attach_annual_fluxes, build_site_observations, pooled_skill, read_annual_fluxes,
                                 stream_skill)
from pysoc.errors import DataError
from pysoc.io.profiles import read_profiles, select
from pysoc.models import century as C

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "pysoc" / "data" / "century"
SHARED = ROOT.parent / "shared" / "data"
HAIBEI = "Chen_2021_98a8ce3e"


def _build_module():
    spec = importlib.util.spec_from_file_location("build_century_qtp", ROOT / "scripts" / "build_century_qtp.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def model():
    return C.Century()


@pytest.fixture(scope="module")
def fluxes():
    return pd.read_csv(DATA / "qtp_fluxes.csv")


@pytest.fixture(scope="module")
def profiles():
    prof = read_profiles(DATA / "qtp_sites.csv", DATA / "qtp_layers.csv")
    return attach_annual_fluxes(prof, DATA / "qtp_fluxes.csv")


# ---- shipped data -----------------------------------------------------------------------------------
def test_tower_years_and_their_uncertainty(fluxes):
    assert sorted(zip(fluxes.tower, fluxes.year)) == [("CN-Dan", 2004), ("CN-Dan", 2005), ("CN-Ha2", 2003),
                                                      ("CN-Ha2", 2004), ("CN-Ha2", 2005), ("CN-HaM", 2002),
                                                      ("CN-HaM", 2003), ("CN-HaM", 2004)]
    np.testing.assert_allclose(fluxes.nep_dt, fluxes.gpp_dt - fluxes.reco_dt, atol=1e-3)
    np.testing.assert_allclose(fluxes.nep_nt, fluxes.gpp_nt - fluxes.reco_nt, atol=1e-3)
    np.testing.assert_allclose(fluxes.nep_g_m2_yr, 0.5 * (fluxes.nep_dt + fluxes.nep_nt), atol=1e-3)
    np.testing.assert_allclose(fluxes.nep_sd_g_m2_yr, 0.5 * np.abs(fluxes.nep_dt - fluxes.nep_nt), atol=1e-3)
    np.testing.assert_allclose(fluxes.gpp_sd_g_m2_yr, 0.5 * np.abs(fluxes.gpp_dt - fluxes.gpp_nt), atol=1e-3)
    assert set(fluxes[fluxes.tower == "CN-HaM"].site_id) == {HAIBEI}          # the tower at profile 30


def test_tower_values_equal_the_shared_fluxnet_rows(fluxes):
    path = SHARED / "srdb_rh_matched" / "fluxnet_annual.csv"
    if not path.is_file():
        pytest.skip("shared FLUXNET table not available")
    fx = pd.read_csv(path, encoding="latin-1").set_index(["SITE_ID", "Year"])
    for r in fluxes.itertuples():
        src = fx.loc[(r.tower, float(r.year))]
        for ours, theirs in (("gpp_dt", "GPP_DT_VUT_REF"), ("gpp_nt", "GPP_NT_VUT_REF"), ("reco_dt", "RECO_DT_VUT_REF"),
                             ("reco_nt", "RECO_NT_VUT_REF"), ("ta_f_degC", "TA_F"), ("p_f_mm", "P_F")):
            assert getattr(r, ours) == pytest.approx(src[theirs], abs=1e-3), (r.tower, r.year, ours)


def test_site_forcings_match_the_towers_annual_means(model, fluxes):
    sites = pd.read_csv(DATA / "qtp_sites.csv")
    assert len(sites) == 25 and set(sites.meta_vegetation) == {"meadow", "steppe"}
    for sid in list(sites.site_id) + ["CN-Ha2", "CN-Dan"]:
        f = model.load_forcing(DATA / "qtp_forcing" / f"{sid}.nc")
        assert f.sizes["time"] == 48 and f.sizes["spinup_time"] == 12
        dtr = float((f.tmax_spinup - f.tmin_spinup).mean())
        assert 11.0 < dtr < 18.0, sid          # a diurnal range, not the grid's monthly extreme range (~26)
    for (tower, sid), g in fluxes.groupby(["tower", "site_id"]):
        f = model.load_forcing(DATA / "qtp_forcing" / f"{sid}.nc")
        yr = pd.DatetimeIndex(f.time.values).year
        for r in g.itertuples():
            m = yr == r.year
            assert float((0.5 * (f.tmax + f.tmin))[m].mean()) == pytest.approx(r.ta_f_degC, abs=1e-9), tower
            assert float(f.prec[m].sum()) == pytest.approx(r.p_f_mm, rel=1e-9), tower
    hb = xr.open_dataset(DATA / "haibei_forcing.nc")
    same = xr.open_dataset(DATA / "qtp_forcing" / f"{HAIBEI}.nc")
    np.testing.assert_array_equal(hb.tmax.values, same.tmax.values)


def test_climatology_reconstruction():
    b = _build_module()
    bio = np.array([-2.55, 26.1, 53.4, 896.5, 20.5, -28.4, 48.9, 8.0, -14.0, 8.53, -13.34, 459.3, 94.0, 1.0, 93.4,
                    264.0, 5.2, 260.0, 5.0])
    tx, tn, pr, fit, checks = b.climatology(bio, 1.0)
    assert np.mean(0.5 * (tx + tn)) == pytest.approx(bio[0], abs=1e-12)
    assert np.mean(tx - tn) == pytest.approx(bio[1], abs=1e-12)
    assert pr.sum() == pytest.approx(bio[11], rel=1e-9) and pr.max() == pytest.approx(bio[12], rel=1e-9)
    tx2, tn2, _, _, _ = b.climatology(bio, 0.559)
    np.testing.assert_allclose(tx2 - tn2, 0.559 * (tx - tn), rtol=1e-12)
    np.testing.assert_allclose(tx2 + tn2, tx + tn, rtol=1e-12)
    assert b.socd_0_30([0, 30], [10, 50], [10000.0, 5000.0]) == pytest.approx(
        (10 * 1e4 + np.trapezoid(np.interp(np.linspace(10, 30, 201), [5, 40], [1e4, 5e3]),
                                 np.linspace(10, 30, 201))) / 1e5, rel=1e-4)


def test_regional_grid():
    g = xr.open_dataset(DATA / "qtp_grid.nc")
    assert g.sizes["cell"] > 500 and float(g.lat.min()) >= 27 and float(g.lon.max()) <= 105
    area = float((g.cell_area * g.grassland_fraction).sum()) / 1e12
    assert 1.0 < area < 2.0                                   # million km2 (seed 000: ~1.45)
    assert float((g.tmax_spinup - g.tmin_spinup).mean()) < 18.0


# ---- annual streams ----------------------------------------------------------------------------------
def test_annual_operator():
    f = xr.Dataset(coords={"time": pd.date_range("2002-01-01", periods=48, freq="MS") + pd.Timedelta(days=14)})
    W = annual_operator(f, [2003, 2005])
    assert W.shape == (2, 48) and W.sum() == 24
    np.testing.assert_array_equal(np.flatnonzero(W[0]), np.arange(12, 24))
    with pytest.raises(DataError, match="year 2006 has 0 months"):
        annual_operator(f, [2006], "site x")
    with pytest.raises(DataError, match="datetime"):
        annual_operator(xr.Dataset(coords={"time": np.arange(48)}), [2003])


def test_flux_sites_and_observations(profiles):
    by = {p.site_id: p for p in profiles}
    assert len(profiles) == 27 and by["CN-Dan"].n_layers == 0 and by["CN-Ha2"].meta["tower"] == "CN-Ha2"
    assert list(by[HAIBEI].meta["annual_fluxes"]["year"]) == [2002, 2003, 2004] and by[HAIBEI].n_layers == 2
    assert len(select(profiles, min_layers=1, min_depth=0.0)) == 27            # the towers pass the selection
    specs = [StreamSpec("soc_0_30"), StreamSpec("nep_annual", sigma_abs=30.0), StreamSpec("gpp_annual")]
    bounds = np.array([[0.0, 0.3]])
    tower = build_site_observations(by["CN-Dan"], bounds, specs)
    assert set(tower.streams) == {"nep_annual", "gpp_annual"} and any("tower fluxes only" in n for n in tower.notes)
    fl = by["CN-Dan"].meta["annual_fluxes"]
    st = tower.streams["nep_annual"]
    np.testing.assert_allclose(st.sigma, np.sqrt(fl["nep_annual"][1] ** 2 + 30.0 ** 2))
    np.testing.assert_allclose(tower.streams["gpp_annual"].sigma,
                               np.sqrt(fl["gpp_annual"][1] ** 2 + (STREAMS["gpp_annual"].sigma_rel * fl["gpp_annual"][0]) ** 2))
    soc_only = build_site_observations(by["Chen_2021_38e2d23e"], bounds, specs)
    assert set(soc_only.streams) == {"soc_0_30"}
    both = build_site_observations(by[HAIBEI], bounds, specs)
    assert set(both.streams) == {"soc_0_30", "nep_annual", "gpp_annual"}


def test_bad_flux_tables(tmp_path, profiles):
    p = tmp_path / "f.csv"
    pd.DataFrame({"site_id": ["a", "a"], "year": [2003, 2003], "nep_g_m2_yr": [1.0, 2.0]}).to_csv(p, index=False)
    with pytest.raises(DataError, match="appears twice"):
        read_annual_fluxes(p)
    pd.DataFrame({"site_id": ["a"], "year": [2003.5], "nep_g_m2_yr": [1.0]}).to_csv(p, index=False)
    with pytest.raises(DataError, match="integers"):
        read_annual_fluxes(p)
    pd.DataFrame({"site_id": ["a"], "yr": [2003], "nep_g_m2_yr": [1.0]}).to_csv(p, index=False)
    with pytest.raises(DataError, match="missing column 'year'"):
        read_annual_fluxes(p)
    pd.DataFrame({"site_id": ["new"], "year": [2003], "nep_g_m2_yr": [1.0]}).to_csv(p, index=False)
    with pytest.raises(DataError, match="no lat/lon"):
        attach_annual_fluxes(list(profiles[:2]), p)


def test_annual_cost_sums_the_model_months(model, profiles):
    """The cost of the annual streams equals the Gaussian misfit of the calendar-year sums of
    the model's monthly NEP and GPP (= NPP / gpp_cue)."""
    by = {p.site_id: p for p in profiles}
    f = model.load_forcing(DATA / "qtp_forcing" / f"{HAIBEI}.nc")
    specs = [StreamSpec("soc_0_30"), StreamSpec("nep_annual", sigma_abs=30.0), StreamSpec("gpp_annual")]
    obs = build_site_observations(by[HAIBEI], np.array([[0.0, 0.3]]), specs)
    free = [model.parameters.index(n) for n in C.CALIBRATED]
    mapper = ParameterMapper(model, free, model.parameters.vector("meadow"))
    cost = CostFunction(model, [f], [obs], mapper)
    kp = np.random.default_rng(3).uniform(0.3, 0.7, (4, len(free)))
    J = cost(kp)[0]
    res = model.evaluate(f, mapper(kp))
    yr = pd.DatetimeIndex(f.time.values).year
    expect = np.zeros(4)
    for name, out in (("nep_annual", "nep_monthly"), ("gpp_annual", "gpp_monthly")):
        st = obs.streams[name]
        pred = np.stack([res.outputs[out][:, yr == y].sum(axis=1) for y in st.years], axis=1)
        expect += ((pred - st.y) ** 2 / (2 * st.sigma ** 2)).sum(axis=1)
    s = obs.streams["soc_0_30"]
    expect += ((res.outputs["soc_0_30"] - s.y[0]) ** 2 / (2 * s.sigma[0] ** 2))
    np.testing.assert_allclose(J, np.where(res.status == 0, expect, np.inf), rtol=1e-12)


def test_gpp_equivalent_of_production(model):
    f = model.load_forcing(DATA / "haibei_forcing.nc")
    th = model.parameters.vector("meadow")[None]
    a = model.evaluate(f, th)
    b = C.Century(gpp_cue=0.4).evaluate(f, th)
    np.testing.assert_array_equal(a.outputs["gpp_monthly"], a.outputs["npp_monthly"] / 0.5)
    np.testing.assert_array_equal(b.outputs["gpp_monthly"], b.outputs["npp_monthly"] / 0.4)
    for k in ("soc_0_30", "nep_monthly", "npp_monthly", "rh_monthly", "pools"):
        np.testing.assert_array_equal(a.outputs[k], b.outputs[k])          # nothing else depends on gpp_cue


def test_pooled_skill():
    s = pooled_skill([1.0, 2.0, np.nan, 4.0], [1.5, 2.0, 9.0, 3.0])
    assert s["n"] == 3 and s["bias"] == pytest.approx((0.5 + 0 - 1) / 3)
    assert s["r2"] == pytest.approx(1 - 1.25 / (14 / 3))
    e = [{"obs": {"soc_0_30": {"y": np.array([1.0]), "mean": np.array([2.0])}}}, None,
         {"obs": {"soc_0_30": {"y": np.array([3.0]), "mean": np.array([3.0])}}}]
    sk = stream_skill(e)["soc_0_30"]
    assert sk["n"] == 2 and sk["n_sites"] == 2 and sk["rmse"] == pytest.approx(np.sqrt(0.5))


@pytest.mark.slow
def test_build_script_reproduces_the_shipped_files(tmp_path):
    grid, fx, israd = (SHARED / "grids" / "global_covariates.nc", SHARED / "srdb_rh_matched" / "fluxnet_annual.csv",
                       SHARED / "israd")
    if not (grid.is_file() and fx.is_file() and israd.is_dir()):
        pytest.skip("shared data not available")
    _build_module().main(grid, fx, israd, tmp_path)
    for name in ("qtp_sites.csv", "qtp_layers.csv", "qtp_fluxes.csv", "qtp_climate_check.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / name), pd.read_csv(DATA / name))
    for name in ["haibei_forcing.nc", "qtp_grid.nc"] + [f"qtp_forcing/{p.name}" for p in (DATA / "qtp_forcing").iterdir()]:
        a, b = xr.open_dataset(tmp_path / name), xr.open_dataset(DATA / name)
        xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())


@pytest.mark.slow
def test_experiment_script_smoke(tmp_path):
    """scripts/century_qtp.py end to end with tiny chains (one split)."""
    spec = importlib.util.spec_from_file_location("century_qtp", ROOT / "scripts" / "century_qtp.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--smoke", "--splits", "1", "--draws", "4", "--out", str(tmp_path)]) == 0
    m = pd.read_csv(tmp_path / "century_qtp_metrics.csv")
    assert set(m.option) == {"default", "Opt1", "Opt2", "Opt2+GPP"} and set(m.stream) == {"SOCD", "NEP", "GPP"}
    v = m[(m.set == "validation") & (m.stream == "SOCD")]
    assert (v.n == 10).all()                                   # 40 % of the 25 profiles held out
    stock = pd.read_csv(tmp_path / "century_qtp_stock.csv")
    assert np.isfinite(stock["default"].iloc[0]) and stock["default"].iloc[0] > 0

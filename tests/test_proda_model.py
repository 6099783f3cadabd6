"""The saved PRODA model (pysoc.proda.model): save -> load -> predict identical, safe format
with version and parameter-table checks, predictions at new sites with unpredictable sites
reported (an island far from any grid cell), CF-1.8 outputs; the scoring of held-out profiles
(metrics, bootstrap intervals, stocks, the direct random forest); the one-line error when no
site passes the filters and the warning on wide bootstrap totals."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from pysoc.errors import DataError
from pysoc.io.namelist import PKGDATA
from pysoc.io.profiles import read_profiles
from pysoc.models import get_model
from pysoc.proda import covariates as cv
from pysoc.proda.model import ProdaModel
from pysoc.proda.posteriors import synthetic_site_posteriors

GRID = PKGDATA / "proda" / "proda_covariates_2deg.nc"
NETP = dict(backend="sklearn", hidden_layer_sizes=(16,), dropout=0.0, loss="mse", learning_rate=None, batch_size=16,
            max_epochs=200, patience=30, validation_fraction=0.2, alpha=0.1)


@pytest.fixture(scope="module")
def trained():
    """A small model trained on synthetic posteriors of the shipped ISRaD profiles."""
    from pysoc.proda.training import fit_model

    model = get_model("clm5")
    profiles = read_profiles(PKGDATA / "profiles" / "israd_sites.csv", PKGDATA / "profiles" / "israd_layers.csv")
    grid = cv.CovariateGrid(GRID)
    covs = cv.resolve([])
    sc = cv.site_covariates(profiles, covs, grid, max_km=250.0)
    ok = np.flatnonzero(sc.complete())
    profiles, X = [profiles[i] for i in ok], sc.values[ok]
    xn = (X - X.min(0)) / np.where(np.ptp(X, 0) > 0, np.ptp(X, 0), 1.0)
    post = synthetic_site_posteriors(model, [p.site_id for p in profiles], xn, seed=1, n_draws=20)
    post.mean = np.clip(0.3 + 0.4 * post.mean, 0, 1)          # away from the singular ends of the prior box
    post.draws = np.clip(0.3 + 0.4 * post.draws, 0, 1)
    post.mode = post.mean.copy()
    pm = fit_model(model, post, profiles, X, covs, NETP, seed=5, n_bootstrap=3, draws=True,
                   settings={"grid_file": "pkgdata:proda/proda_covariates_2deg.nc", "site_max_km": 250.0})
    return pm, profiles


@pytest.fixture
def sites_csv(tmp_path, trained):
    """Six shipped sites (covariates from the table) + coordinates only + an island far from any cell."""
    src = pd.read_csv(PKGDATA / "profiles" / "israd_sites.csv")
    keep = src[src["site_id"].isin([p.site_id for p in trained[1][:6]])]
    extra = pd.DataFrame({"site_id": ["only_coordinates", "hawaii_island"], "lat": [45.5, 19.6],
                          "lon": [-93.0, -155.5]})
    df = pd.concat([keep, extra], ignore_index=True)
    f = tmp_path / "sites.csv"
    df.to_csv(f, index=False)
    return f


def _same(a, b):
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


def test_save_load_predict_identical(tmp_path, trained, sites_csv):
    pm, _ = trained
    before = pm.predict(sites_csv)
    path = pm.save(tmp_path / "m_model.nc")
    pm2 = ProdaModel.load(path)
    after = pm2.predict(sites_csv)
    for v in before.dataset.data_vars:
        if before.dataset[v].dtype.kind == "f":
            assert _same(before.dataset[v].values, after.dataset[v].values), v
    pd.testing.assert_frame_equal(before.sites, after.sites)
    pd.testing.assert_frame_equal(before.profiles, after.profiles)
    assert before.failures == after.failures
    for name in ("best", "boot", "draws"):
        assert _same(pm.predict_kp(pm.training.X, name), pm2.predict_kp(pm2.training.X, name))
    # the file carries what the issue lists
    assert list(pm2.covariates) == list(pm.covariates) and pm2.model_name == "clm5"
    assert pm2.model_options["grid"] == "clm5_20" and pm2.pysoc_version == pm.pysoc_version
    assert list(pm2.training.site_ids) == list(pm.training.site_ids)
    assert _same(pm2.base_kp, pm.base_kp) and pm2.ensemble("boot").n_members == 3
    # covariates through their training distribution; outputs inside the training targets' range
    assert pm2.input_transform.kind == "quantile" and _same(pm2.input_transform.knots, pm.input_transform.knots)
    xt = pm2.input_transform.apply(pm2.training.X)
    assert xt.min() >= 0.0 and xt.max() <= 1.0
    far = pm2.predict_kp(pm2.training.X * 50.0 + 1e4, "best")[0]           # far outside the training covariates
    b = pm2.ensemble("best")
    assert np.all(far >= b.y_min - 1e-15) and np.all(far <= b.y_max + 1e-15)
    np.testing.assert_allclose(b.y_min, pm2.training.kp_mean.min(axis=0))
    assert not list(tmp_path.glob("*.part"))


def test_predictions_report_unpredictable_sites(tmp_path, trained, sites_csv):
    pm, _ = trained
    pred = pm.predict(sites_csv)
    st = pred.sites.set_index("site_id")
    assert (st["status"] == 0).sum() == 7                              # 6 table sites + coordinates only
    assert st.loc["hawaii_island", "status"] == 1
    reason = dict(pred.failures)["hawaii_island"]
    assert "km away" in reason and "site_max_km = 250" in reason
    ok = st["status"] == 0
    s = st.loc[ok]
    assert np.all(np.isfinite(s["stock_0_100cm_kg_m2"])) and np.all(s["stock_0_100cm_kg_m2"] >
                                                                     s["stock_0_30cm_kg_m2"])
    assert np.all(s["stock_0_100cm_p05_kg_m2"] <= s["stock_0_100cm_p95_kg_m2"])
    ds = pred.dataset
    assert ds["soc"].attrs["units"] == "kg m-3" and ds["soc_stock"].attrs["units"] == "kg m-2"
    assert ds["status"].attrs["flag_meanings"].split()[0] == "predicted"
    # stocks are the integrals of the layer densities
    from pysoc.profiles import interval_integrals

    i = int(np.flatnonzero(ok.to_numpy())[0])
    np.testing.assert_allclose(interval_integrals(ds["soc"].values[i], pm.model.bounds, [(0.0, 1.0)])[0],
                               ds["soc_stock"].values[i, 1], rtol=1e-12)
    # parameters of predicted sites inside the prior box; fixed ones marked
    q = ds["q10"].values[ok.to_numpy()]
    spec = pm.model.parameters["q10"]
    assert np.all((q >= spec.prior_min) & (q <= spec.prior_max))
    files = pred.write(tmp_path / "pred")
    assert [f.name for f in files] == ["pred.nc", "pred_sites.csv", "pred_profiles.csv"]
    prof = pd.read_csv(files[2])
    assert prof["site_id"].nunique() == 7 and len(prof) == 7 * pm.model.nlev
    _cf_ok(files[0])


def _cf_ok(path):
    """No error (high-priority finding) of the IOOS compliance checker for CF-1.8."""
    import json

    runner = pytest.importorskip("compliance_checker.runner")
    cs = runner.CheckSuite()
    cs.load_all_available_checkers()
    out = path.with_suffix(".cf.json")
    runner.ComplianceChecker.run_checker(str(path), ["cf:1.8"], 0, "normal", output_filename=str(out),
                                         output_format="json")
    rep = json.loads(out.read_text())["cf:1.8"]
    errors = [m for r in rep.get("high_priorities", []) for m in r.get("msgs", [])]
    assert not errors, errors


def test_cf_compliance_of_model_file(tmp_path, trained):
    _cf_ok(trained[0].save(tmp_path / "cf_model.nc"))


def test_model_file_checks(tmp_path, trained):
    pm, _ = trained
    path = pm.save(tmp_path / "v.nc")
    ds = xr.load_dataset(path)
    import json

    meta = json.loads(ds.attrs["pysoc_proda_model"])
    meta["format_version"] = 99
    bad = ds.copy()
    bad.attrs["pysoc_proda_model"] = json.dumps(meta)
    bad.to_netcdf(tmp_path / "v99.nc")
    with pytest.raises(DataError, match=r"format 99 .*reads format 1 only"):
        ProdaModel.load(tmp_path / "v99.nc")
    prior = ds.copy()
    prior["prior_max"] = prior["prior_max"] * 2.0
    prior.to_netcdf(tmp_path / "prior.nc")
    with pytest.raises(DataError, match="prior box"):
        ProdaModel.load(tmp_path / "prior.nc")
    xr.Dataset({"a": ("x", [1.0])}).to_netcdf(tmp_path / "other.nc")
    with pytest.raises(DataError, match="not a PRODA model file"):
        ProdaModel.load(tmp_path / "other.nc")
    with pytest.raises(DataError, match="not found"):
        ProdaModel.load(tmp_path / "none.nc")


# ---- scoring ----------------------------------------------------------------------------------------------
def test_metrics_and_bootstrap_intervals():
    from pysoc.proda.scoring import LayerValues, metrics_table

    rng = np.random.default_rng(0)
    n_sites, per = 40, 5
    site = np.repeat(np.arange(n_sites), per)
    top = np.tile(np.array([0.0, 0.1, 0.3, 0.6, 1.0]), n_sites)
    bot = np.tile(np.array([0.1, 0.3, 0.6, 1.0, 1.5]), n_sites)
    obs = rng.lognormal(9.5, 0.8, site.size)
    good = obs * rng.lognormal(0, 0.2, site.size)
    lv = LayerValues(site, top, bot, obs, {"neural_network": good, "constant": np.full(site.size, obs.mean())},
                     {}, np.array([f"s{i}" for i in range(n_sites)], dtype=object))
    lv.mod["constant"] = lv.mod["constant"] + rng.normal(0, 1.0, site.size)
    met, diff = metrics_table(lv, n_boot=300, seed=1)
    r = met.set_index("method").loc["neural_network"]
    assert r["r2"] == pytest.approx(np.corrcoef(obs, good)[0, 1] ** 2, rel=1e-9)
    assert r["rmse_kg_m3"] == pytest.approx(np.sqrt(np.mean((obs - good) ** 2)) / 1000, rel=1e-9)
    assert r["r2_lo"] < r["r2"] < r["r2_hi"] and r["n_layers"] == 200
    mid = 0.5 * (top + bot)
    sel = mid < 0.3
    assert r["r2_0_30"] == pytest.approx(np.corrcoef(obs[sel], good[sel])[0, 1] ** 2, rel=1e-9)
    assert r["n_layers_0_30"] == 2 * n_sites and r["n_layers_100_plus"] == n_sites
    # 0-30 cm stock: the profile operator on the observed and on the modelled layers
    from pysoc.io.profiles import Profile

    o30, m30 = [], []
    for i in range(n_sites):
        k = site == i
        o30.append(Profile(str(i), 0, 0, top[k], bot[k], obs[k], None).stock(0, 0.3))
        m30.append(Profile(str(i), 0, 0, top[k], bot[k], good[k], None).stock(0, 0.3))
    assert r["stock_r2_0_30"] == pytest.approx(np.corrcoef(o30, m30)[0, 1] ** 2, rel=1e-9)
    d = diff.set_index("baseline").loc["constant"]
    assert d["delta_r2"] > 0.5 and d["delta_r2_lo"] > 0 and d["p_not_better"] == 0.0


def test_direct_random_forest_learns_a_depth_relation(trained):
    from pysoc.proda.direct import DirectSOC
    from pysoc.proda.model import TrainingSites

    rng = np.random.default_rng(2)
    n, per = 80, 6
    X = rng.uniform(0, 1, (n, 3))
    site = np.repeat(np.arange(n), per).astype(np.int32)
    top = np.tile(np.linspace(0, 1.5, per, endpoint=False), n)
    bot = top + 0.25
    soc = 2e4 * (1 + 3 * X[site, 0]) * np.exp(-2 * top)
    tr = TrainingSites(np.arange(n).astype(str), np.zeros(n), np.zeros(n), X, np.zeros((n, 1)), np.zeros((n, 1)),
                       site, top, bot, soc)
    rf = DirectSOC(0).fit(tr)
    Xt = rng.uniform(0, 1, (20, 3))
    st = np.repeat(np.arange(20), per)
    tt = np.tile(np.linspace(0, 1.5, per, endpoint=False), 20)
    truth = 2e4 * (1 + 3 * Xt[st, 0]) * np.exp(-2 * tt)
    pred = rf.predict(Xt, st, tt, tt + 0.25)
    assert np.corrcoef(pred, truth)[0, 1] ** 2 > 0.8


def test_score_methods_rows(trained):
    from pysoc.io.site_forcing import site_forcing
    from pysoc.proda.scoring import BASE_METHODS, score_methods

    pm, profiles = trained
    test = profiles[:5]
    model = pm.model
    prep = model.prepare([site_forcing(model, p) for p in test])
    X = pm.training.X[:5]
    lv = score_methods(pm, test, prep, X, n_random=20, seed=0)
    assert set(lv.mod) == set(BASE_METHODS)
    n_layers = sum(p.n_layers for p in test)
    for m, v in lv.mod.items():
        assert v.shape == (n_layers,) and np.isfinite(v).mean() > 0.9, m
    # the constant set is the mean of the training posterior means
    np.testing.assert_allclose(pm.constant_kp(), pm.training.kp_mean.mean(axis=0))


# ---- workflow messages -------------------------------------------------------------------------------------
def test_no_site_passes_the_filters_is_one_line(tmp_path, capsys):
    from pysoc.cli.proda import main

    model = get_model("clm5")
    names = model.parameters.names
    theta = model.parameters.to_physical(np.full((3, len(names)), 0.5))
    df = pd.DataFrame({"site_id": ["a", "b", "c"], "status": "ok", "gr_mean": [1.2, 1.3, 1.0],
                       "soc_profile_nse": [0.5, 0.5, -0.5]})
    for j, n in enumerate(names):
        df[f"{n}_mean"] = theta[:, j]
    df.to_csv(tmp_path / "post.csv", index=False)
    (tmp_path / "p.nml").write_text("&proda\n posterior_file = 'post.csv'\n max_gelman_rubin = 1.0\n"
                                    " progress = .false.\n/\n")
    assert main([str(tmp_path / "p.nml")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no site passes the filters" in err
    assert "max_gelman_rubin = 1" in err and "min_nse" in err and "Traceback" not in err


def test_wide_bootstrap_band_warning():
    from pysoc.proda.workflow import totals_lines

    tot = pd.DataFrame({"depth_interval": ["0-30 cm", "0-100 cm", "0-860 cm (whole column)"],
                        "best_pg": [500.0, 900.0, 3000.0], "boot_median_pg": [480.0, 3000.0, 1.0],
                        "boot_p05_pg": [400.0, 1090.0, 1.0], "boot_p95_pg": [560.0, 10479.0, 100.0]})
    out = totals_lines(tot)
    assert len(out) == 2 and out[0][1] is None
    assert "0-100 cm" in out[1][1] and "factor 2" in out[1][1] and "1090-10479" in out[1][1]

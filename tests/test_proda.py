"""PRODA building blocks: the network (synthetic covariate -> parameter recovery,
normalisation round trip, determinism), covariate mapping and bad-input handling, grid
forcing equivalence with the site forcing, area weighting of the totals, system
components (Rh identity with the kernel, B = beta^5), bootstrap and fold construction."""

import numpy as np
import pandas as pd
import pytest

from pysoc.errors import ConfigError, DataError
from pysoc.io.namelist import PKGDATA
from pysoc.proda import covariates as cv
from pysoc.proda.network import ProdaNetwork, loss_value, torch_available
from pysoc.proda.output import load_dataset
from pysoc.proda.posteriors import SitePosteriors, synthetic_relation

GRID = PKGDATA / "proda" / "proda_covariates_2deg.nc"
SMALL = dict(hidden_layer_sizes=(32, 32), max_epochs=300, patience=40)


@pytest.fixture(scope="module")
def grid():
    return cv.CovariateGrid(GRID)


def synthetic_data(n=400, k=8, p=4, seed=0, noise=0.02):
    rng = np.random.default_rng(seed)
    lo, hi = rng.uniform(-50, 50, k), rng.uniform(60, 3000, k)
    f = synthetic_relation(k, p, seed, n_active=2)

    def draw(m):
        X = lo + rng.uniform(0, 1, (m, k)) * (hi - lo)
        return X, f((X - lo) / (hi - lo))

    X, y = draw(n)
    Xt, yt = draw(300)
    return X, np.clip(y + rng.normal(0, noise, y.shape), 0, 1), Xt, yt


# ---- network -----------------------------------------------------------------------------------------
def test_network_recovers_known_relation():
    X, y, Xt, yt = synthetic_data()
    net = ProdaNetwork(**SMALL, random_state=3).fit(X, y)
    pred = net.predict(Xt)
    r2 = 1 - ((pred - yt) ** 2).sum(axis=0) / ((yt - yt.mean(axis=0)) ** 2).sum(axis=0)
    assert np.all(r2 > 0.8), r2
    assert 1 <= net.best_epoch_ <= net.n_epochs_ and net.best_val_loss_ == min(net.val_loss_curve_)
    assert pred.min() >= 1e-3 and pred.max() <= 1 - 1e-3          # clipped into the prior box
    # same seed, same network; scikit-learn conventions (clone, get_params, score)
    from sklearn.base import clone

    again = clone(net).fit(X, y)
    np.testing.assert_array_equal(again.predict(Xt), pred)
    assert again.get_params()["hidden_layer_sizes"] == (32, 32) and not hasattr(clone(net), "x_min_")
    assert net.score(Xt, yt) > 0.8


def test_normalisation_round_trip():
    X, y, Xt, _ = synthetic_data(n=60)
    X[:, 2] = 7.5                                                  # constant column
    net = ProdaNetwork(hidden_layer_sizes=(4,), max_epochs=2).fit(X, y)
    Xn = net.normalise(X)
    train_rows = Xn[np.isin(np.arange(len(X)), np.arange(len(X)))]
    assert np.allclose(net.denormalise(Xn), X)
    assert np.allclose(net.denormalise(net.normalise(Xt)), Xt)
    assert np.all(Xn[:, 2] == 0.0)
    # the training rows (90 %) span [0, 1]; validation rows may fall slightly outside
    assert train_rows.min() >= -0.5 and train_rows.max() <= 1.5
    assert np.isclose(net.normalise(net.x_min_[None, :]), 0).all()
    assert np.isclose(net.normalise(net.x_max_[None, :])[:, net.x_max_ > net.x_min_], 1).all()


def test_network_bad_input():
    X, y, _, _ = synthetic_data(n=40)
    with pytest.raises(ConfigError, match="backend"):
        ProdaNetwork(backend="keras").fit(X, y)
    with pytest.raises(ConfigError, match="loss"):
        ProdaNetwork(loss="huber").fit(X, y)
    net = ProdaNetwork(hidden_layer_sizes=(4,), max_epochs=2).fit(X, y)
    with pytest.raises(DataError, match="trained with 8"):
        net.predict(X[:, :5])
    Xb = X.copy()
    Xb[3, 1] = np.nan
    with pytest.raises(DataError, match="non-finite covariate"):
        net.predict(Xb)
    with pytest.raises(ConfigError, match="not fitted"):
        ProdaNetwork().predict(X)
    assert loss_value(np.zeros(4), np.full(4, 0.5), "l1xl2") == pytest.approx(0.5 * 0.25)


@pytest.mark.skipif(not torch_available(), reason="PyTorch (pysoc[torch]) not installed")
def test_torch_backend_same_api():
    X, y, Xt, yt = synthetic_data(n=300)
    net = ProdaNetwork(backend="torch", hidden_layer_sizes=(64, 64), dropout=0.1, max_epochs=150, patience=30,
                       random_state=1).fit(X, y)
    pred = net.predict(Xt)
    assert pred.shape == yt.shape
    assert np.corrcoef(pred.ravel(), yt.ravel())[0, 1] > 0.8
    np.testing.assert_allclose(ProdaNetwork(**net.get_params()).fit(X, y).predict(Xt), pred, atol=1e-10)


def test_torch_missing_is_a_clear_error(monkeypatch):
    import builtins

    real = builtins.__import__

    def fake(name, *a, **k):
        if name == "torch":
            raise ImportError("no torch")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ConfigError, match=r"pysoc\[torch\]"):
        ProdaNetwork(backend="torch", max_epochs=1).fit(*synthetic_data(n=20)[:2])


# ---- covariates ----------------------------------------------------------------------------------------
class P:
    def __init__(self, sid, lat, lon, cov, meta):
        self.site_id, self.lat, self.lon, self.covariates, self.meta = sid, lat, lon, cov, meta


def _site_row(extra=None):
    cov = {c: 1.0 for c in ("sg_clay_0cm_percent", "sg_clay_10cm_percent", "sg_bd_0cm_g_cm3", "sg_bd_10cm_g_cm3",
                            "sg_cstock_0_10cm_kg_m2", "sg_cstock_10_30cm_kg_m2")}
    cov.update({c.site.column: 10.0 for c in cv.COVARIATES if isinstance(c.site, cv.Col)})
    cov.update(extra or {})
    return cov


def test_mapping_table_is_explicit_and_complete(grid):
    assert len(cv.COVARIATES) == len(set(cv.COVARIATE_NAMES))
    grid.check(cv.COVARIATES)                                     # every grid variable exists in the shipped file
    md = cv.mapping_markdown()
    assert md.count("\n") == len(cv.COVARIATES) + 1 and "`wc_bio12_map_mm_yr`" in md
    with pytest.raises(ConfigError, match="unknown PRODA covariate 'bio20'"):
        cv.resolve(["bio01", "bio20"])


def test_site_covariates_sources_and_missing(grid):
    profs = [P("a", 45.0, 10.0, _site_row(), {"modis_land_cover": "Mixed Forests", "koppen": "Dfb"}),
             P("b", -3.0, -60.0, _site_row({"wc_bio12_map_mm_yr": np.nan}), {"koppen": "Af"})]
    sc = cv.site_covariates(profs, cv.COVARIATES, grid)
    j = {n: i for i, n in enumerate(sc.names)}
    assert sc.values[0, j["lc_forest"]] == 1 and sc.values[0, j["lc_cropland"]] == 0
    assert sc.values[0, j["koppen_D"]] == 1 and sc.values[1, j["koppen_A"]] == 1
    assert sc.values[0, j["clay_5cm"]] == 1.0 and sc.values[0, j["soc_stock_5_15cm"]] == 7.5
    assert sc.origin[0, j["agb_carbon"]] == "grid" and np.isfinite(sc.values[0, j["agb_carbon"]])
    # land cover missing at site b: taken from the grid cell (fractions), reported
    assert sc.origin[1, j["lc_forest"]] == "grid" and 0 <= sc.values[1, j["lc_forest"]] <= 1
    assert sc.report["grid_filled"]["lc_forest"] == 1
    # a missing table value stays missing (never filled) and is reported
    assert np.isnan(sc.values[1, j["bio12"]]) and sc.report["missing"] == {"bio12": 1}
    assert list(sc.complete()) == [True, False]


def test_site_table_without_a_mapped_column_is_an_error(grid):
    cov = _site_row()
    del cov["wc_bio07_t_annual_range_degC"]
    with pytest.raises(DataError, match="sites.csv: column 'wc_bio07_t_annual_range_degC' missing.*bio07"):
        cv.site_covariates([P("a", 0, 0, cov, {})], cv.COVARIATES, grid, sites_file="sites.csv")


def test_grid_missing_variable_and_nan_cells(tmp_path, grid):
    ds = load_dataset(GRID)
    bad = ds.drop_vars("clay_sg_5cm")
    bad.to_netcdf(tmp_path / "nogrid.nc")
    g2 = cv.CovariateGrid(tmp_path / "nogrid.nc")
    with pytest.raises(DataError, match="nogrid.nc: variable 'clay_sg_5cm' missing .*clay_5cm"):
        g2.check(cv.COVARIATES)
    # NaN cells: masked and reported with fill='none', never filled
    covs = cv.resolve(["bio01", "bio12", "clay_5cm"])
    t0 = cv.grid_covariates(grid, covs)
    ds2 = ds.copy(deep=True)
    lat_i, lon_i = grid.ilat[t0.cells[:7]], grid.ilon[t0.cells[:7]]
    v = ds2["bioclim"].values
    v[0, lat_i, lon_i] = np.nan
    ds2["bioclim"] = (ds2["bioclim"].dims, v, ds["bioclim"].attrs)
    ds2.to_netcdf(tmp_path / "nan.nc")
    g3 = cv.CovariateGrid(tmp_path / "nan.nc")
    t = cv.grid_covariates(g3, covs)
    assert t.cells.size == t0.cells.size - 7
    assert set(t0.cells[:7]) <= set(t.masked) and t.missing_by_covariate["bio01"] >= 7
    assert "masked" in t.summary() and np.isfinite(t.values).all()
    assert t.masked_area_m2 > t0.masked_area_m2
    # explicit nearest-cell filling is reported per covariate
    tf = cv.grid_covariates(g3, covs, fill="nearest", max_km=1000.0)
    assert tf.filled["bio01"] >= 7 and set(t0.cells[:7]) <= set(tf.cells)
    with pytest.raises(ConfigError, match="fill"):
        cv.grid_covariates(grid, covs, fill="mean")


def test_grid_area_weighting_uniform_field(grid):
    """A uniform 1 kg C m-2 field sums to the land area (m2) x 1e-12 Pg."""
    from pysoc.proda.gridrun import area_total_pg

    ds = load_dataset(GRID)
    land = (ds["landmask_isimip"].values == 1)
    area = (ds["cell_area"].values * np.nan_to_num(ds["land_fraction_modis"].values))[land].sum()
    assert area == pytest.approx(grid.land_area.sum(), rel=1e-12)
    assert area / 1e12 == pytest.approx(132.5, abs=0.5)       # ISIMIP land without Antarctica (m2 / 1e12)
    assert area_total_pg(np.ones(grid.n_cells), grid.land_area) == pytest.approx(area * 1e-12, rel=1e-12)
    t = cv.grid_covariates(grid, cv.resolve(["bio01"]))
    assert area_total_pg(np.ones(t.cells.size), t.area) + t.masked_area_m2 * 1e-12 == pytest.approx(
        area * 1e-12, rel=1e-9)
    tot = area_total_pg(np.array([[1.0, np.nan, 2.0]]), np.array([1e12, 5e12, 2e12]))
    assert tot[0] == pytest.approx(5.0)                            # NaN cells are left out, never filled


def test_ice_sheets_left_out(grid):
    t = cv.grid_covariates(grid, cv.resolve(["bio01"]), max_ice_fraction=0.5)
    assert t.ice.size > 0 and not set(t.ice) & set(t.cells) and not set(t.ice) & set(t.masked)
    assert np.all(grid.cell_lat[t.ice] > 55)                      # Greenland (no Antarctica in the mask)


# ---- forcing of grid cells ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["clm5", "compas"])
def test_grid_forcing_equals_site_forcing(name):
    from pysoc.io.site_forcing import site_forcing
    from pysoc.models import get_model
    from pysoc.proda.forcing import CellClimate, PseudoProfile, prepared_forcing

    m = get_model(name)
    rng = np.random.default_rng(1)
    n = 12
    clim = CellClimate(rng.uniform(-50, 80, n), rng.uniform(-25, 28, n), rng.uniform(20, 3500, n),
                       rng.uniform(30, 2000, n), rng.integers(0, 17, n))
    prep = prepared_forcing(m, clim)
    ref = m.prepare([site_forcing(m, PseudoProfile(i, clim.lat[i], 0.0, clim.mat[i], clim.map[i], clim.bio4[i],
                                                    clim.igbp[i])) for i in range(n)])
    assert set(prep) == set(ref)
    for k in ref:
        np.testing.assert_allclose(np.asarray(prep[k], float), np.asarray(ref[k], float), rtol=0, atol=1e-9,
                                   err_msg=k)
    clim.map[3] = np.nan
    with pytest.raises(DataError, match="cell 3"):
        prepared_forcing(m, clim)


# ---- components -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["clm5", "compas"])
def test_components_respiration_identity_and_beta(name):
    from pysoc.models import get_model
    from pysoc.proda.components import system_components
    from pysoc.proda.forcing import CellClimate, prepared_forcing

    m = get_model(name)
    rng = np.random.default_rng(2)
    n = 30
    clim = CellClimate(rng.uniform(-40, 75, n), rng.uniform(-15, 28, n), rng.uniform(200, 3000, n),
                       rng.uniform(100, 1500, n), rng.integers(1, 15, n))
    prep = prepared_forcing(m, clim)
    theta = m.to_physical(rng.uniform(0.1, 0.9, (n, len(m.parameters))))
    res = m.evaluate(prep, theta, site_index=np.arange(n))
    c = system_components(m, prep, theta, res.outputs["pools"], status=res.status)
    ok = res.ok
    assert ok.sum() >= 5
    # Rh = (1 - CTE) x total decomposition flux, to round-off, against the kernel's Rh
    np.testing.assert_allclose(c["respiration_from_components"][ok], res.outputs["rh"][ok], rtol=1e-9)
    np.testing.assert_allclose((1 - c["cte"][ok]) * c["total_flux"][ok], res.outputs["rh"][ok], rtol=1e-9)
    beta = theta[:, m.parameters.index("beta")]
    surface = np.asarray(prep["altmax_lastyear"]).max(axis=0) <= 0     # frozen all year: all input in layer 1
    assert 0 < surface.sum() < n
    # a Jackson profile gives beta^5 (up to the truncation of the profile at the column bottom)
    np.testing.assert_allclose(c["b_system"][ok & ~surface], beta[ok & ~surface] ** 5, rtol=1e-5)
    assert np.all(c["b_system"][ok & surface] == 0)
    for k in ("cte", "xi_system", "b_system"):
        assert np.all((c[k][ok] >= 0) & (c[k][ok] <= 1)), k
    assert np.all(c["k_system"][ok] > 0) and np.all(c["v_system"][ok] >= 0)
    assert np.all(np.isnan(c["cte"][~ok]))


def test_transport_diagonal_matches_dense_reference(clm5):
    from pysoc.models._clm5_dense import _transport
    from pysoc.proda.components import diffusivity_profile, transport_diagonal

    for nb, alt in [(20, 8.6), (10, 8.6), (20, 1.0), (12, 1.5), (20, 0.0)]:
        d = diffusivity_profile(clm5.zisoi, [nb], [alt], [1e-4], [5e-4])
        diag = transport_diagonal(clm5.dz, clm5.zisoi, clm5.zsoi, d)[0]
        np.testing.assert_allclose(diag, np.diag(_transport(clm5, nb, alt, 1e-4, 5e-4)), rtol=1e-12, atol=1e-30)


# ---- ensembles, folds, posteriors -------------------------------------------------------------------------
def test_bootstrap_members():
    from pysoc.proda.ensemble import member_specs, member_targets

    specs = member_specs(50, 6, 0.1, seed=4, n_draws=10)
    assert len(specs) == 7 and np.array_equal(specs[0].rows, np.arange(50))
    for s in specs:
        assert s.rows.size == 50
        v, t = set(s.rows[s.validation]), set(s.rows[~s.validation])
        assert v and t and not v & t                           # no site both trains and validates
    assert len({tuple(s.rows) for s in specs[1:]}) == 6
    again = member_specs(50, 6, 0.1, seed=4, n_draws=10)
    assert all(np.array_equal(a.rows, b.rows) and np.array_equal(a.draw, b.draw) for a, b in zip(specs, again))
    mean = np.random.default_rng(0).uniform(size=(50, 3))
    draws = mean[:, None, :] + np.random.default_rng(1).normal(0, 0.1, (50, 10, 3))
    np.testing.assert_array_equal(member_targets(specs[0], mean, draws, "draws"), mean)   # best guess: means
    y = member_targets(specs[2], mean, draws, "draws")
    np.testing.assert_array_equal(y, draws[specs[2].rows, specs[2].draw])
    with pytest.raises(DataError, match="posterior draws"):
        member_targets(specs[2], mean, None, "draws")


def test_folds():
    from pysoc.proda.evaluate import blocked_folds, random_folds

    rng = np.random.default_rng(0)
    lat, lon = rng.uniform(-50, 70, 200), rng.uniform(-170, 170, 200)
    f = random_folds(200, 5, 1)
    assert np.bincount(f).tolist() == [40] * 5
    b = blocked_folds(lat, lon, 5, 20.0, 1)
    key = np.floor((lat + 90) / 20).astype(int) * 1000 + np.floor((lon + 180) / 20).astype(int)
    for k in np.unique(key):
        assert np.unique(b[key == k]).size == 1                   # whole blocks per fold
    assert np.bincount(b, minlength=5).min() > 0
    with pytest.raises(ConfigError, match="blocks"):
        blocked_folds(lat[:3], lon[:3], 5, 20.0)


def test_site_posteriors_csv_and_filter(tmp_path, clm5):
    names = clm5.parameters.names
    kp = np.random.default_rng(0).uniform(0.1, 0.9, (4, len(names)))
    theta = clm5.parameters.to_physical(kp)
    df = pd.DataFrame({"site_id": list("abcd"), "status": ["ok", "ok", "failed", "ok"],
                       "gr_mean": [1.01, 1.2, np.nan, 1.02], "soc_profile_nse": [0.5, 0.6, np.nan, -0.3]})
    for j, n in enumerate(names):
        df[f"{n}_mean"] = theta[:, j]
    df.to_csv(tmp_path / "s.csv", index=False)
    from pysoc.proda.posteriors import load_site_posteriors

    sp = load_site_posteriors(tmp_path / "s.csv", clm5)
    assert list(sp.site_ids) == ["a", "b", "d"] and sp.draws is None
    np.testing.assert_allclose(sp.mean, kp[[0, 1, 3]], atol=1e-12)
    kept, removed = sp.quality_filter(1.05, 0.0)
    assert list(kept.site_ids) == ["a"] and [r[0] for r in removed] == ["b", "d"]
    with pytest.raises(DataError, match="not found"):
        load_site_posteriors(tmp_path / "none.nc", clm5)
    sub = SitePosteriors("clm5", ("q10", "beta"), ["x"], [[0.2, 0.3]], base_kp=np.full(21, 0.5), all_names=names)
    full = sub.full_kp(np.array([[0.9, 0.1]]))
    assert full[0, names.index("q10")] == 0.9 and full[0, names.index("beta")] == 0.1 and full[0, 0] == 0.5

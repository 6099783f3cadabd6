"""COMPAS kernel: regression (spec §6.3/6.6), validity reasons, kp aliasing (Q-1..Q-3),
mass balance, transient convergence, first-order limit, batching, errors."""

import numpy as np
import pytest
import xarray as xr

from conftest import DATA, read_profile_csv, step_amount, synthetic_forcing
from pysoc import _status
from pysoc._kernels import compas as K
from pysoc._kernels import compas_probes as P   # test-only entry point (one-layer soil step)
from pysoc.errors import ConfigError, DataError, KernelError, ParameterError
from pysoc.models import get_model
from pysoc.models.compas import REASONS, reason_codes_match_kernel

CASES = [  # file, site, kp, valid
    ("compas_site1_kp0.5.csv", 1, 0.5, True),
    ("compas_site1_kp0.3.csv", 1, 0.3, True),
    ("compas_site1_kp0.7.csv", 1, 0.7, False),
    ("compas_site2_kp0.5.csv", 2, 0.5, False),
    ("compas_site2_kp0.7.csv", 2, 0.7, False),
]
DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31.0])
LOW_RATIO = [k for k, v in REASONS.items() if v == "low_total_to_mic_ratio"][0]


@pytest.fixture(scope="module")
def compas():
    return get_model("compas")


@pytest.fixture(scope="module")
def legacy():
    return get_model("compas", legacy_kp13_alias=True)


@pytest.fixture(scope="module")
def site1(compas):
    return synthetic_forcing(compas, 1)


@pytest.fixture(scope="module")
def site2(compas):
    return synthetic_forcing(compas, 2)


def constant_rate_forcing(site1):
    """Site 1 with litter inputs at a constant daily rate (months of unequal length)."""
    f = site1.copy(deep=True)
    f["litter_input"].values[:] = np.array([100.0, 200.0, 150.0, 50.0])[None, :] * DAYS[:, None] / 365.0
    return f


# ---- regression ------------------------------------------------------------------------------
@pytest.mark.parametrize("fname,site,kp,valid", CASES)
def test_regression_steady_state(legacy, compas, site1, site2, fname, site, kp, valid):
    """§6.6: valid cases all 20 x 8 values and the 5 stocks to 1e-8 with status ok; invalid cases
    status invalid (ratio < 10) with raw values = -(file values) (site 2: layers 1-13 to 1e-8,
    full-column stocks to 1e-5). The files use the published kp aliasing (uniform kp)."""
    ref, stock = read_profile_csv(DATA / "compas" / fname)
    forcing = site1 if site == 1 else site2
    kpv = np.full(23, kp)
    res = legacy.evaluate(forcing, legacy.to_physical(kpv))
    pools = res.outputs["pools"][0].T                       # (nlev, 8)
    soil = pools[:, 4:8]
    stocks = np.r_[(soil * legacy.dz[:, None]).sum(axis=0), (soil.sum(axis=1) * legacy.dz).sum()]
    nl, stock_tol = (13, 1e-5) if site == 2 else (20, 1e-8)
    if valid:
        assert res.status[0] == _status.OK and res.reason[0] == 0
        assert (stock > 0).all()
    else:
        assert res.status[0] == _status.ERR_INVALID
        assert REASONS[int(res.reason[0])] == "low_total_to_mic_ratio"
        assert (pools >= 0).all()                              # raw, never sign-flipped
        assert stocks[-1] / stocks[1] < 10
        ref, stock = -ref, -stock
    np.testing.assert_allclose(pools[:nl], ref[:nl], rtol=1e-8, atol=0)
    np.testing.assert_allclose(stocks, stock, rtol=stock_tol, atol=0)
    # uniform kp, so the default (documented) mapping gives identical results
    same = compas.evaluate(forcing, compas.to_physical(kpv))
    np.testing.assert_array_equal(same.outputs["pools"], res.outputs["pools"])


def test_kp13_alias_switch(compas, legacy, site1):
    """Q-1/Q-2 with kp(11) != kp(13): documented mapping uses kp(11) for tau4s3; the legacy
    option uses kp(13) and ignores kp(11)."""
    kp = np.full(23, 0.5)
    kp[10], kp[12] = 0.2, 0.6
    i = compas.parameters.index("tau4s3")
    assert compas.to_physical(kp)[i] == pytest.approx(10 ** (3 * 0.2 - 3), rel=1e-14)
    assert legacy.to_physical(kp)[i] == pytest.approx(10 ** (3 * 0.6 - 3), rel=1e-14)
    j = compas.parameters.index("mm_const_assim")
    assert compas.to_physical(kp)[j] == legacy.to_physical(kp)[j] == pytest.approx(0.6 * 2700 + 300)
    kp2 = kp.copy()
    kp2[10] = 0.9                                     # kp(11) is dead under the alias
    np.testing.assert_array_equal(legacy.to_physical(kp2), legacy.to_physical(kp))
    assert compas.to_physical(kp2)[i] != compas.to_physical(kp)[i]
    # batched (nset, 23) mapping and the kernel see the difference
    both = compas.to_physical(np.vstack([kp, kp2]))
    r = compas.evaluate(site1, both)
    assert not np.allclose(r.outputs["pools"][0][6], r.outputs["pools"][1][6])   # ENZ differs
    rl = legacy.evaluate(site1, legacy.to_physical(np.vstack([kp, kp2])))
    np.testing.assert_array_equal(rl.outputs["pools"][0], rl.outputs["pools"][1])


def test_reason_codes_match_kernel():
    assert reason_codes_match_kernel()
    assert set(REASONS.values()) == {"ok", "negative_pool", "low_total_to_mic_ratio", "no_finite_soc",
                                     "no_finite_doc", "singular_litter_solve"}


# ---- validity ----------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::pysoc.params.OutsidePriorWarning")
@pytest.mark.parametrize("over,reason,pool", [
    ({"tau4s4": 0.1}, "no_finite_soc", 7),                     # depolymerisation too slow
    ({"tau4s1": 0.5, "mic_cue": 0.2}, "no_finite_doc", 4),     # uptake too slow for microbial demand
])
def test_no_finite_solution_is_reported(compas, site1, over, reason, pool):
    theta = compas.param_vector(over, warn_prior=False)
    res = compas.evaluate(site1, theta)
    assert res.status[0] == _status.ERR_INVALID and REASONS[int(res.reason[0])] == reason
    pools = res.outputs["pools"][0]
    bad = np.isnan(pools[pool])
    assert bad.any()                                            # no finite value there: NaN, not a number
    others = np.delete(pools, pool, axis=0)
    assert np.isfinite(others).all() and (others >= 0).all()     # the rest is raw and positive
    assert reason in res.describe(0)
    with pytest.raises(KernelError, match=reason) as exc:
        compas.steady_state(site1, theta)
    assert exc.value.reason == reason and exc.value.code == _status.ERR_INVALID
    ds = compas.steady_state(site1, theta, errors="return")
    assert int(ds.status) == _status.ERR_INVALID and ds.attrs["reason"] == reason


def test_singular_litter_and_ratio_threshold(compas, site1):
    dead = site1.copy(deep=True)
    dead["w_scalar"].values[:] = 0.0                            # no decomposition anywhere
    res = compas.evaluate(dead, compas.param_vector())
    assert res.status[0] == _status.ERR_INVALID and REASONS[int(res.reason[0])] == "singular_litter_solve"
    assert np.isfinite(res.outputs["pools"]).all()
    # the reference threshold is an option: the kp 0.7 case becomes valid when it is switched off
    theta = compas.to_physical(np.full(23, 0.7))
    assert compas.evaluate(site1, theta).reason[0] == LOW_RATIO
    off = get_model("compas", min_total_to_mic_ratio=0.0).evaluate(site1, theta)
    assert off.status[0] == _status.OK


# ---- mass balance and diagnostics -----------------------------------------------------------------
@pytest.mark.parametrize("site", [1, 2])
def test_steady_state_mass_balance_and_diagnostics(compas, site1, site2, site):
    ds = compas.steady_state(site1 if site == 1 else site2, errors="return")
    inp = float(ds.input)
    assert inp == pytest.approx(500.0)
    assert abs(float(ds.mass_balance_residual)) < 1e-12 * float(ds.input)   # g m-2 yr-1, relative 1e-12
    assert float(ds.rh_pathway.sum()) == pytest.approx(inp, rel=1e-12)
    # fluxes close every pool: litter in = litter out, soil pools in balance
    col = ds.flux_col.to_series()
    assert col["cwd_fragmentation"] == pytest.approx(100.0, rel=1e-10)
    growth = col["input_mic"] + ds.attrs["param_mic_cue"] * col["doc_uptake"]
    assert growth == pytest.approx(col["microbial_death"] + col["enzyme_production"], rel=1e-10)
    assert col["enzyme_production"] == pytest.approx(col["enzyme_turnover"], rel=1e-10)
    assert 0 < float(ds.cue_effective) < 1
    # stocks per pool and interval add up to the column stocks
    whole = ds.pool_stock.sel(depth_interval="whole column")
    assert float(whole.sel(pool=["DOC", "MIC", "ENZ", "SOC"]).sum()) == pytest.approx(
        float(ds.soc_stock.sel(depth_interval="whole column")), rel=1e-12)
    assert (ds.km_ratio.values > 0).all()


@pytest.mark.filterwarnings("ignore::pysoc.params.OutsidePriorWarning")
def test_first_order_limit_analytic(compas, site1):
    """Km >> substrate: scaling Km and the maximum rates by s (v/Km fixed) leaves litter, MIC
    and ENZ unchanged, and SOC (DOC) -> the first-order (bilinear) steady state
    S_lin = inflow / ((v/Km) ENZ) with S_MM / S_lin - 1 = 1 / (Km xi / S_MM) exactly, i.e. the
    deviation from first-order kinetics is the inverse of the Km/substrate ratio (seed 001 Fig. 5)."""
    base = compas.param_vector()
    names = compas.parameters.names
    ix = {n: names.index(n) for n in ("mm_const_assim", "mm_const_decom", "tau4s1", "tau4s4")}
    prev_dev = None
    ref = None
    for s in (1.0, 1e2, 1e4):
        th = base.copy()
        th[ix["mm_const_assim"]] *= s
        th[ix["mm_const_decom"]] *= s
        th[ix["tau4s1"]] /= s
        th[ix["tau4s4"]] /= s
        ds = compas.steady_state(site1, th, errors="return")
        pools = ds.cpools.values
        if ref is None:
            ref = pools
        np.testing.assert_allclose(pools[[0, 1, 2, 3, 5, 6]], ref[[0, 1, 2, 3, 5, 6]], rtol=1e-12)
        fl = ds.flux_vr.to_pandas()                                     # g C m-3 yr-1
        p = ds.attrs
        kappa_d = (1.0 / th[ix["tau4s4"]]) / th[ix["mm_const_decom"]]   # yr-1 per (g C m-3) of ENZ
        kappa_a = (1.0 / th[ix["tau4s1"]]) / th[ix["mm_const_assim"]]
        soc_lin = (fl["input_soc"] + p["param_pdeath2soc"] * fl["microbial_death"]).values / (kappa_d * pools[6])
        doc_lin = ((fl["microbial_death"] + fl["enzyme_production"] - fl["input_mic"]).values
                   / (p["param_mic_cue"] * kappa_a * pools[5]))
        r_doc, r_soc = ds.km_ratio.values
        np.testing.assert_allclose(pools[7] / soc_lin - 1, 1 / r_soc, rtol=1e-7)
        np.testing.assert_allclose(pools[4] / doc_lin - 1, 1 / r_doc, rtol=1e-7)
        dev = max((pools[7] / soc_lin - 1).max(), (pools[4] / doc_lin - 1).max())
        if prev_dev is not None:
            assert dev < prev_dev / 50                                   # -> 0 like 1/s
        prev_dev = dev
    assert prev_dev < 1e-2                                               # Km/substrate > 100 -> < 1 %


def test_xi_averaging_option(site1, site2):
    a, b = get_model("compas"), get_model("compas", xi_averaging="mean_of_products")
    th = a.param_vector()
    # constant forcing (site 1): both averages coincide
    np.testing.assert_allclose(a.evaluate(site1, th).outputs["pools"], b.evaluate(site1, th).outputs["pools"],
                               rtol=1e-12)
    # the two averages differ only when two scalars co-vary in time: site 2 has a seasonal
    # temperature but a constant water scalar, so make the water scalar seasonal too
    f = site2.copy(deep=True)
    f["w_scalar"].values[:] = f["w_scalar"].values * (1 + 0.5 * np.cos(2 * np.pi * (np.arange(12) - 6) / 12))[:, None]
    pa, pb = a.evaluate(f, th).outputs["pools"], b.evaluate(f, th).outputs["pools"]
    assert np.abs(pa[0, :, :5] / pb[0, :, :5] - 1).max() > 1e-3


# ---- transient ------------------------------------------------------------------------------------
def test_transient_converges_monthly(compas, site1):
    """Monthly backward-Euler steps from positive starts far from equilibrium converge to the
    closed-form steady state. Only the top layers relax within centuries: SOC turnover grows from
    ~5 yr at the surface to >1e12 yr below 1.5 m with the default beta (docs/compas.md)."""
    f = constant_rate_forcing(site1)
    theta = compas.param_vector()
    ss = compas.steady_state(f, theta).cpools.values
    rng = np.random.default_rng(7)
    for x0 in (0.5 * ss, 2.0 * ss, rng.uniform(0.1, 10.0, ss.shape) * ss):
        tr = compas.transient(f, theta, n_years=300, initial=x0)
        assert int(tr.status) == _status.OK
        rel = np.abs(tr.cpools.values[-1] / ss - 1)[:, :2]
        assert rel.max() < 1e-9
        assert np.abs(step_amount(tr)).max() < 1e-10
    # the steady state is a fixed point of the implicit step in every layer
    tr = compas.transient(f, theta, n_years=2, initial="steady_state")
    np.testing.assert_allclose(tr.cpools.values[-1], ss, rtol=1e-12)


def test_transient_converges_all_layers_long_steps(site1):
    """All 20 layers: inputs spread over the column (beta 0.9999) and slow depth attenuation
    (efolding 10 m) give finite relaxation times everywhere; 10-year implicit steps from 0.5x,
    2x, random and zero starts reach the closed form to 1e-10."""
    m = get_model("compas", efolding=10.0)
    th = m.param_vector({"beta": 0.9999})
    ss = m.steady_state(site1, th).cpools.values
    prep = m.prepare(site1)
    n, dt = 2500, 3650.0
    rep = lambda a: np.asfortranarray(np.repeat(a[:, :1, 0], n, axis=1))  # noqa: E731
    lit = np.asfortranarray(np.repeat((np.array([100.0, 200.0, 150.0, 50.0]) / 365.0 * dt)[:, None], n, axis=1))
    rng = np.random.default_rng(3)
    for x0 in (0.5 * ss, 2.0 * ss, rng.uniform(0.1, 10.0, ss.shape) * ss, np.zeros_like(ss)):
        x, rh, st = K.transient(m.dz, m.zisoi, m.zsoi, th, rep(prep["tsoi"]), rep(prep["w_scalar"]),
                                rep(prep["o_scalar"]), rep(prep["fpi"]), lit, np.full(n, 3.0), np.full(n, 3.0),
                                20, np.full(n, dt), 1, np.asfortranarray(x0.T), 10.0, 0.0)
        assert st == _status.OK
        assert np.abs(x[:, :, -1].T / ss - 1).max() < 1e-10
        tot = (x * m.dz[:, None, None]).sum(axis=(0, 1))
        prev = np.r_[(x0 * m.dz).sum(), tot[:-1]]
        mb = lit.sum(axis=0) - (tot - prev) - (rh * m.dz[:, None, None]).sum(axis=(0, 1))
        assert np.abs(mb).max() < 1e-10 * lit.sum(axis=0).max()


def test_transient_seasonal_site_conserves_mass(compas, site2):
    tr = compas.transient(site2, compas.param_vector(), n_years=5, initial="zero")
    assert int(tr.status) == _status.OK
    assert (tr.cpools.values >= 0).all()
    assert np.abs(step_amount(tr)).max() < 1e-9
    assert (tr.rh.sel(pool=["CWD", "MIC", "ENZ", "SOC"]).values == 0).all()


def test_soil_step_any_step_length():
    """The implicit soil step is solvable for any step (0.01 d to 1e7 d) and state: positive,
    mass conserving and a root of the backward-Euler equations to round-off."""
    m = get_model("compas")
    rng = np.random.default_rng(11)
    names = m.parameters.names
    for _ in range(60):
        th = m.to_physical(rng.uniform(0.02, 0.98, 23))
        p = dict(zip(names, th))
        xi = 10 ** rng.uniform(-6, 0)
        yold = 10 ** rng.uniform(-12, 5, 4)
        inputs = 10 ** rng.uniform(-15, 0, 3)
        dt = 10 ** rng.uniform(-2, 7)
        y, u, ok = P.soil_step(th, xi, dt, *inputs, yold)
        assert ok and (y >= 0).all()
        ks1, kd, ke, ks3, ks4 = (xi / (365 * p[k]) for k in ("tau4s1", "tau4s2_death", "tau4s2_enz", "tau4s3",
                                                               "tau4s4"))
        U = ks1 * y[1] * y[0] / (p["mm_const_assim"] * xi + y[0])
        D = ks4 * y[2] * y[3] / (p["mm_const_decom"] * xi + y[3])
        cue, pd = p["mic_cue"], p["pdeath2soc"]
        f = np.array([inputs[0] + (1 - pd) * kd * y[1] + ks3 * y[2] + D - U, inputs[1] + cue * U - (kd + ke) * y[1],
                      ke * y[1] - ks3 * y[2], inputs[2] + pd * kd * y[1] - D])
        scale = yold + y + dt * np.abs(np.array([inputs[0] + kd * y[1] + ks3 * y[2] + D + U,
                                                 inputs[1] + U + (kd + ke) * y[1], (ke * y[1] + ks3 * y[2]),
                                                 inputs[2] + kd * y[1] + D]))
        assert (np.abs(y - yold - dt * f) <= 1e-13 * scale).all()
        assert u == pytest.approx(U, rel=1e-12, abs=1e-300)
        mb = (y.sum() - yold.sum()) - dt * inputs.sum() + (1 - cue) * U * dt
        assert abs(mb) <= 1e-13 * (yold.sum() + y.sum() + dt * inputs.sum())


# ---- interface -----------------------------------------------------------------------------------
def test_batched_equals_single_and_site_index(compas, site1, site2):
    rng = np.random.default_rng(1)
    theta = compas.to_physical(rng.uniform(0.05, 0.95, size=(6, 23)))
    batch = compas.evaluate(site1, theta)
    for i in range(6):
        single = compas.evaluate(site1, theta[i])
        np.testing.assert_array_equal(single.outputs["pools"][0], batch.outputs["pools"][i])
        assert single.reason[0] == batch.reason[i]
    prep = compas.prepare([site1, site2])
    both = compas.evaluate(prep, np.vstack([theta[0], theta[0]]), site_index=[0, 1])
    np.testing.assert_array_equal(both.outputs["pools"][0], batch.outputs["pools"][0])
    np.testing.assert_array_equal(both.outputs["pools"][1], compas.evaluate(site2, theta[0]).outputs["pools"][0])
    km = compas.evaluate(prep, theta[:2], observables=("soc_profile", "soc_0_30", "km_ratio"))
    assert km.outputs["km_ratio"].shape == (2, 2, compas.nlev) and km.outputs["soc_0_30"].shape == (2,)


def test_matches_dense_numpy_reference(compas, site2):
    """Independent dense NumPy build (4 nlev litter matrix + closed form; the benchmark baseline)."""
    from pysoc.models._compas_dense import dense_steady_state
    prep = compas.prepare(site2)
    theta = compas.to_physical(np.random.default_rng(3).uniform(0.1, 0.9, size=(3, 23)))
    fast = compas.evaluate(prep, theta).outputs["pools"]
    for i in range(3):
        np.testing.assert_allclose(fast[i][:, :13], dense_steady_state(compas, prep, theta[i])[:, :13], rtol=1e-11)


def test_parameter_and_option_errors(compas, site1):
    base = compas.param_vector()
    for name, bad in [("tau4s4", 0.0), ("tau4s2_death", -1.0), ("w_scaling", 0.0), ("mic_cue", 1.0),
                      ("pl3s4", 1.5), ("beta", 1.0), ("mm_const_decom", np.nan)]:
        theta = base.copy()
        theta[compas.parameters.index(name)] = bad
        with pytest.raises(ParameterError, match=name):
            compas.steady_state(site1, theta)
        assert compas.evaluate(site1, theta).status[0] == _status.ERR_PARAM   # batch path flags it too
    with pytest.raises(ParameterError, match="23"):
        compas.evaluate(site1, base[:21])
    with pytest.raises(ConfigError, match="unknown option"):
        get_model("compas", legacy_alias=True)
    with pytest.raises(ConfigError, match="not one of"):
        get_model("compas", xi_averaging="mean")
    with pytest.raises(ConfigError, match="minimum"):
        get_model("compas", efolding=0.0)
    with pytest.raises(ConfigError, match="initial"):
        compas.transient(site1, base, initial=np.ones((7, 20)))


def test_forcing_errors_use_the_clm5_format(compas, site1, tmp_path):
    bad = site1.copy(deep=True).drop_vars("tsoi")
    bad.to_netcdf(tmp_path / "bad.nc")
    with pytest.raises(DataError, match="missing variable 'tsoi'"):
        compas.load_forcing(tmp_path / "bad.nc")
    neg = site1.copy(deep=True)
    neg["litter_input"].values[0, 1] = -1.0
    with pytest.raises(DataError, match="litter_input"):
        compas.validate_forcing(neg)


def test_shipped_namelist_runs(tmp_path, capsys):
    from pathlib import Path

    from pysoc.cli.run import main as run_main
    repo = Path(__file__).resolve().parents[1]
    text = (repo / "namelists" / "compas_steady_state.nml").read_text().replace("../output/", str(tmp_path) + "/")
    nml = tmp_path / "compas_steady_state.nml"
    nml.write_text(text)
    assert run_main([str(nml)]) == 0
    assert "mass-balance residual" in capsys.readouterr().out
    ds = xr.open_dataset(tmp_path / "compas_steady_state.nc")
    assert ds.attrs["model"] == "compas" and int(ds.status) == 0 and int(ds.reason) == 0
    assert abs(float(ds.mass_balance_residual)) < 1e-12 * float(ds.input)   # g m-2 yr-1, relative 1e-12
    assert ds.km_ratio.attrs["units"] == "1" and "flag_meanings" in ds.reason.attrs


def test_ten_layer_grid(site1):
    m = get_model("compas", grid="clm45_10")
    f = synthetic_forcing(m, 1)
    ds = m.steady_state(f)
    assert ds.sizes["level"] == 10 and abs(float(ds.mass_balance_residual)) < 1e-12 * float(ds.input)
    tr = m.transient(f, n_years=2, initial="zero")
    assert np.abs(step_amount(tr)).max() < 1e-10

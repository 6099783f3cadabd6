"""CLM5 vertical matrix kernel: regression, conservation, transient, grids, errors."""

import warnings

import numpy as np
import pytest

from conftest import DATA, read_profile_csv, step_amount, synthetic_forcing
from pysoc import _status
from pysoc._kernels import core
from pysoc.errors import ConfigError, DataError, KernelError, ParameterError
from pysoc.models import get_model
from pysoc.params import OutsidePriorWarning

CASES = [  # (file, site, kp) ; kp None = CLM5-default-like vector
    ("clm5_proda_site1_kp0.5.csv", 1, 0.5),
    ("clm5_proda_site1_kp0.25.csv", 1, 0.25),
    ("clm5_proda_site1_clm5def.csv", 1, None),
    ("clm5_proda_site2_kp0.5.csv", 2, 0.5),
]


def kp_vector(kp):
    if kp is None:
        return np.loadtxt(DATA / "clm5" / "clm5_proda_kp_clm5def.txt")
    return np.full(21, kp)


@pytest.mark.parametrize("fname,site,kp", CASES)
def test_regression_steady_state(clm5, fname, site, kp):
    """spec §6.6: all values (site 2: layers 1-13) and the SOC stock to 1e-8 relative."""
    ref, stock = read_profile_csv(DATA / "clm5" / fname)
    forcing = synthetic_forcing(clm5, site)
    theta = clm5.to_physical(kp_vector(kp))  # kp is not clipped (clm5def has kp = 10)
    res = clm5.evaluate(forcing, theta)
    assert res.status[0] == _status.OK
    pools = res.outputs["pools"][0].T                       # (nlev, 7)
    nl = 13 if site == 2 else 20
    np.testing.assert_allclose(pools[:nl], ref[:nl], rtol=1e-8, atol=0)
    soc_stock = float((res.outputs["soc_profile"][0] * clm5.dz).sum())
    assert abs(soc_stock - stock[0]) / stock[0] < 1e-8


def test_transport_conserves_mass_every_regime():
    """M-3: every column of diag(dz) T sums to zero, also with bedrock above the bottom,
    cryoturbation reaching bedrock and advection."""
    dz, zisoi, zsoi, _ = core.grid(1, 20)
    for nb, alt, adv in [(20, 3.0, 0.0), (10, 3.0, 0.0), (10, 3.0, 1e-5), (15, 1.0, 0.0), (5, 1.5, 0.0),
                         (20, 0.0, 0.0)]:
        tl, td, tu = core.transport(dz, zisoi, zsoi, nb, alt, 1e-4 / 365, 5e-4 / 365, adv / 365)
        t = np.diag(td) + np.diag(tl[1:], -1) + np.diag(tu[:-1], 1)
        colsum = (dz[:, None] * t).sum(axis=0)
        assert np.abs(colsum).max() <= 1e-15 * max(np.abs(t).max(), 1e-30) * 10, (nb, alt, adv)


@pytest.mark.parametrize("site", [1, 2])
def test_steady_state_mass_balance(clm5, site):
    forcing = synthetic_forcing(clm5, site)
    theta = clm5.to_physical(np.full(21, 0.5))
    ds = clm5.steady_state(forcing, theta)
    assert abs(float(ds.mass_balance_residual)) < 1e-12 * float(ds.input)   # g m-2 yr-1, relative 1e-12
    assert float(ds.input) == pytest.approx(500.0)


def test_transient_mass_balance_and_convergence(clm5):
    """Implicit monthly steps conserve mass to round-off; with inputs at a constant daily
    rate and constant scalars the transient converges to the analytic steady state."""
    f = synthetic_forcing(clm5, 1)
    days = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31.0])
    f["litter_input"].values[:] = np.array([100.0, 200.0, 150.0, 50.0])[None, :] * days[:, None] / 365.0
    theta = clm5.to_physical(np.full(21, 0.5))
    ss = clm5.steady_state(f, theta)
    tr = clm5.transient(f, theta, n_years=3, initial="zero")
    scale = float(tr.input.max())
    assert np.abs(step_amount(tr)).max() < 1e-10 * scale * 100
    # start from the steady state: stays there (fixed point of the implicit step)
    tr2 = clm5.transient(f, theta, n_years=2, initial="steady_state")
    rel = np.abs(tr2.cpools.isel(time=-1) - ss.cpools) / ss.cpools.max()
    assert float(rel.max()) < 1e-9
    # from zero it converges under repeated forcing; the approach is monotone. Deep layers
    # (rates x exp(-z/efolding)) take millions of years, so compare 0-30 cm after 8000 yr
    kp = np.full(21, 0.5)
    kp[3], kp[9] = 1.0, 0.0            # efolding 1 m, tau_s3 200 yr
    theta = clm5.to_physical(kp)
    ss = clm5.steady_state(f, theta)
    tr3 = clm5.transient(f, theta, n_years=8000, initial="zero")
    top = tr3.soc_stock.isel(depth_interval=0).values[11::12]
    target = float(ss.soc_stock.isel(depth_interval=0))
    assert abs(top[-1] - target) / target < 1e-3
    assert np.all(np.diff(np.abs(top - target)) <= 1e-9 * target)


def test_transient_seasonal_site_conserves_mass(clm5):
    f = synthetic_forcing(clm5, 2)                 # frozen winters, cryoturbation
    tr = clm5.transient(f, clm5.to_physical(np.full(21, 0.5)), n_years=5, initial="zero")
    assert (tr.cpools.values >= 0).all()
    assert np.abs(step_amount(tr)).max() < 1e-9


def test_ten_layer_grid():
    m = get_model("clm5", grid="clm45_10")
    assert m.nlev == 10
    np.testing.assert_allclose(m.zisoi[-1], 3.801882, atol=1e-6)
    np.testing.assert_allclose(m.dz[0], 0.017513, atol=1e-6)
    f = synthetic_forcing(m, 1)
    ds = m.steady_state(f, m.to_physical(np.full(21, 0.5)))
    assert abs(float(ds.mass_balance_residual)) < 1e-12 * float(ds.input)   # g m-2 yr-1, relative 1e-12
    assert float(ds.soc_stock.isel(depth_interval=-1)) > 0
    tr = m.transient(f, m.to_physical(np.full(21, 0.5)), n_years=2, initial="zero")
    assert np.abs(step_amount(tr)).max() < 1e-10


def test_batched_equals_single_and_site_index(clm5):
    f1, f2 = synthetic_forcing(clm5, 1), synthetic_forcing(clm5, 2)
    rng = np.random.default_rng(1)
    theta = clm5.to_physical(rng.uniform(0.05, 0.95, size=(7, 21)))
    batch = clm5.evaluate(f1, theta)
    for i in range(7):
        single = clm5.evaluate(f1, theta[i])
        np.testing.assert_array_equal(single.outputs["pools"][0], batch.outputs["pools"][i])
    prep = clm5.prepare([f1, f2])
    both = clm5.evaluate(prep, np.vstack([theta[0], theta[0]]), site_index=[0, 1])
    np.testing.assert_array_equal(both.outputs["pools"][0], batch.outputs["pools"][0])
    np.testing.assert_array_equal(both.outputs["pools"][1], clm5.evaluate(f2, theta[0]).outputs["pools"][0])


def test_matches_dense_numpy_reference(clm5):
    """Independent dense NumPy build of the same 140x140 system (scripts/bench_kernels.py)."""
    from pysoc.models._clm5_dense import dense_steady_state
    f = synthetic_forcing(clm5, 2)
    theta = clm5.to_physical(np.random.default_rng(3).uniform(0.1, 0.9, size=(3, 21)))
    prep = clm5.prepare(f)
    fast = clm5.evaluate(prep, theta).outputs["pools"]
    for i in range(3):
        dense = dense_steady_state(clm5, prep, theta[i])
        np.testing.assert_allclose(fast[i][:, :13], dense[:, :13], rtol=1e-9)


def test_singular_system_is_reported_not_garbage(clm5):
    f = synthetic_forcing(clm5, 1)
    theta = clm5.to_physical(np.full(21, 0.5))
    theta[clm5.parameters.index("w_scaling")] = 0.0    # no decomposition anywhere
    res = clm5.evaluate(f, theta)
    assert res.status[0] == _status.ERR_SINGULAR
    with pytest.raises(KernelError, match="singular"):
        clm5.steady_state(f, theta)
    with pytest.raises(KernelError, match="steady state cannot be the initial state"):
        clm5.transient(f, theta, initial="steady_state")     # never a silent start from zeros


def test_parameter_domain_errors(clm5):
    f = synthetic_forcing(clm5, 1)
    base = clm5.parameters.vector("clm5")
    warnings.simplefilter("ignore", OutsidePriorWarning)
    for name, bad in [("taul1", -0.1), ("diffus", -1e-4), ("fl1s1", 1.2), ("beta", 1.0), ("beta", 0.0),
                      ("q10", np.nan)]:
        theta = base.copy()
        theta[clm5.parameters.index(name)] = bad
        with pytest.raises(ParameterError, match=name):
            clm5.steady_state(f, theta)
        assert clm5.evaluate(f, theta).status[0] == _status.ERR_PARAM   # batch path flags it too


def test_outside_prior_is_a_warning_not_an_error(clm5):
    f = synthetic_forcing(clm5, 1)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        clm5.steady_state(f)       # CLM5 defaults: efolding 10 m outside [0, 1]
    assert any(issubclass(x.category, OutsidePriorWarning) and "efolding" in str(x.message) for x in w)


def test_forcing_errors(clm5, tmp_path):
    good = synthetic_forcing(clm5, 1)
    cases = {
        "missing": (lambda d: d.drop_vars("tsoi"), "missing variable 'tsoi'"),
        "nan": (lambda d: d.assign(tsoi=d.tsoi.where(d.level != 3)), "'tsoi'.*NaN"),
        "units": (lambda d: d.assign(tsoi=d.tsoi.assign_attrs(units="degC")), "units 'degC'"),
        "range": (lambda d: d.assign(w_scalar=d.w_scalar * 3), "'w_scalar'.*above the valid range"),
        "shape": (lambda d: d.isel(level=slice(0, 19)), "'level'|depth"),
        "months": (lambda d: d.isel(time=slice(0, 11)), "whole years"),
        "bedrock": (lambda d: d.assign(nbedrock=25), "nbedrock"),
    }
    for name, (mutate, pattern) in cases.items():
        bad = mutate(good.copy(deep=True))
        path = tmp_path / f"{name}.nc"
        bad.to_netcdf(path)
        with pytest.raises(DataError, match=pattern):
            clm5.load_forcing(path)
    with pytest.raises(DataError, match="not found"):
        clm5.load_forcing(tmp_path / "absent.nc")


def test_unknown_option_and_grid():
    with pytest.raises(ConfigError, match="unknown option"):
        get_model("clm5", gird="clm5_20")
    with pytest.raises(ConfigError, match="not one of"):
        get_model("clm5", grid="clm5_25")


def test_status_codes_match_fortran():
    codes = core.status_codes()
    assert list(codes) == [_status.OK, _status.ERR_SHAPE, _status.ERR_PARAM, _status.ERR_FORCING,
                           _status.ERR_SINGULAR, _status.ERR_NOT_CONVERGED, _status.ERR_INVALID,
                           _status.ERR_NONFINITE]


def test_kp_mapping_round_trip(clm5):
    kp = np.random.default_rng(0).uniform(0, 1, size=(5, 21))
    np.testing.assert_allclose(clm5.parameters.to_kp(clm5.to_physical(kp)), kp, atol=1e-12)
    np.testing.assert_allclose(clm5.parameters.kp_vector("clm5"), kp_vector(None), rtol=1e-4)


def test_forcing_without_sand_revalidates(clm5):
    """An optional variable filled as unknown (NaN) survives a second validation."""
    f = synthetic_forcing(clm5, 1).drop_vars("sand")
    once = clm5.validate_forcing(f)
    assert np.isnan(float(once["sand"]))
    twice = clm5.validate_forcing(once)
    assert np.isnan(float(twice["sand"]))

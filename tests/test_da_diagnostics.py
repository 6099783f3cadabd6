"""Gelman-Rubin, acceptance flags, GEV mode, quantiles and fit metrics."""

import numpy as np
import pytest
from scipy import stats

from pysoc.da import diagnostics as dg


def test_gelman_rubin_formula_and_limits():
    rng = np.random.default_rng(0)
    same = rng.normal(size=(3, 5000, 2))
    gr = dg.gelman_rubin(same)
    assert np.all(np.abs(gr - 1.0) < 0.01)
    shifted = same + np.array([0.0, 3.0, 6.0])[:, None, None]
    assert np.all(dg.gelman_rubin(shifted) > 2.0)
    # hand computation of eq. 9-10 for a small case
    x = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]])[..., None]
    K, N = 2, 3
    m = x.mean(axis=1)[:, 0]
    B = N / (K - 1) * ((m - m.mean()) ** 2).sum()
    W = ((x[..., 0] - m[:, None]) ** 2).sum() / (K * (N - 1))
    assert dg.gelman_rubin(x)[0] == pytest.approx(np.sqrt((W * (N - 1) / N + B / N) / W))
    const = np.ones((3, 10, 1))
    assert dg.gelman_rubin(const)[0] == 1.0
    stuck = np.stack([np.zeros((10, 1)), np.ones((10, 1))])
    assert np.isinf(dg.gelman_rubin(stuck)[0])


def test_acceptance_flags():
    np.testing.assert_array_equal(dg.acceptance_ok([0.1, 0.15, 0.3, 0.5, 0.6]), [False, True, True, True, False])
    np.testing.assert_array_equal(dg.acceptance_ok([0.12], 0.10, 0.5), [True])


@pytest.mark.parametrize("c", [-0.2, 0.0, 0.3])
def test_gev_mode_recovers_the_mode_of_a_gev_sample(c):
    dist = stats.genextreme(c, loc=0.4, scale=0.05)
    x = dist.rvs(size=3000, random_state=np.random.default_rng(1))
    grid = np.linspace(0.2, 0.8, 20001)
    true_mode = grid[np.argmax(dist.pdf(grid))]
    mode, method = dg.gev_mode(x)
    assert method == "gev"
    assert mode == pytest.approx(true_mode, abs=0.01)


def test_gev_mode_fallbacks():
    assert dg.gev_mode(np.full(50, 0.3)) == (0.3, "constant")
    bimodal = np.r_[np.random.default_rng(2).normal(0.2, 0.01, 500), np.random.default_rng(3).normal(0.6, 0.01, 500)]
    mode, method = dg.gev_mode(bimodal)
    assert method in ("gev", "kde")
    assert np.isfinite(mode) and 0.15 < mode < 0.65


def test_metrics_against_hand_values():
    obs = np.array([1.0, 2.0, 3.0, 4.0])
    mod = np.array([1.5, 2.0, 2.5, 4.5])
    m = dg.metrics(obs, mod, n_params=3)
    res = obs - mod
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean(res ** 2)))
    assert m["mae"] == pytest.approx(0.375)
    assert m["nse"] == pytest.approx(1 - (res ** 2).sum() / ((obs - 2.5) ** 2).sum())
    r = np.corrcoef(obs, mod)[0, 1]
    assert m["r"] == pytest.approx(r) and m["r2"] == pytest.approx(r * r)
    slope, icpt = np.polyfit(obs, mod, 1)
    assert m["slope"] == pytest.approx(slope) and m["intercept"] == pytest.approx(icpt)
    assert m["bic"] == pytest.approx(2 * 4 * np.log(m["rmse"]) + 2 * 3)
    perfect = dg.metrics(obs, obs)
    assert perfect["nse"] == 1.0 and perfect["rmse"] == 0.0
    nan = dg.metrics([1.0, np.nan, 3.0], [1.0, 2.0, np.nan])
    assert nan["n"] == 1


def test_quantiles_thinning_and_parameter_rmse_correlation():
    d = np.arange(30, dtype=float).reshape(3, 10, 1)
    np.testing.assert_allclose(dg.quantiles(d, (0.0, 0.5, 1.0))[:, 0], [0.0, 14.5, 29.0])
    idx = dg.thin_indices(100, 7)
    assert idx[0] == 0 and idx[-1] == 99 and idx.size == 7
    np.testing.assert_array_equal(dg.thin_indices(5, 10), np.arange(5))
    rng = np.random.default_rng(0)
    p = rng.random((200, 2))
    rmse = 2 * p[:, 0] + 0.01 * rng.random(200)
    r = dg.parameter_rmse_correlation(p, rmse)
    assert r[0] > 0.99 and abs(r[1]) < 0.2


def test_gev_fit_is_the_maximum_likelihood_of_scipy_genextreme():
    """Own likelihood = scipy.stats.genextreme.logpdf; the fit reaches scipy's optimum."""
    rng = np.random.default_rng(5)
    x = stats.genextreme(0.2, loc=0.3, scale=0.05).rvs(size=800, random_state=rng)
    assert dg._gev_nll([0.2, 0.3, np.log(0.05)], x) == pytest.approx(-stats.genextreme.logpdf(x, 0.2, 0.3, 0.05).sum())
    c, loc, scale = dg.gev_fit(x)
    ref = stats.genextreme.fit(x)
    assert dg._gev_nll([c, loc, np.log(scale)], x) <= dg._gev_nll([ref[0], ref[1], np.log(ref[2])], x) + 1e-6
    np.testing.assert_allclose([c, loc, scale], ref, rtol=0.02, atol=0.002)

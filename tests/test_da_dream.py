"""DREAM(ZS), the default sampler: known answers within Monte Carlo error (a correlated
21-D Gaussian, a bimodal mixture, a curved Rosenbrock-like target, a flat posterior on the
prior box), convergence-driven stopping, determinism, bitwise resume through the block
backend, invalid regions, and one-line errors for bad settings."""

import numpy as np
import pytest
from scipy import stats

from pysoc.da import convergence as cv
from pysoc.da.dream import DreamSettings, DreamZS
from pysoc.da.sampler import BlockBackend
from pysoc.errors import ConfigError, KernelError


def run(cost, d, seed=1, **kw):
    return DreamZS(cost, d, DreamSettings(**kw), np.random.SeedSequence(seed)).run()


def diagnostics(dz):
    post = dz.posterior()
    return post, cv.arviz_diagnostics(post)


def assert_moments(w, mean, var, k=4.0):
    """Mean and variance of chains w (chain, draw, d) within k Monte Carlo standard errors
    (ArviZ: MCSE of the mean of x and of (x - mean)^2)."""
    dev2 = (w - np.asarray(mean)) ** 2
    m_err = cv.arviz_diagnostics(w)["mcse_mean"]
    v_err = cv.arviz_diagnostics(dev2)["mcse_mean"]
    flat = w.reshape(-1, w.shape[2])
    assert np.all(np.abs(flat.mean(axis=0) - mean) < k * m_err), (flat.mean(axis=0), mean, m_err)
    assert np.all(np.abs(dev2.reshape(-1, w.shape[2]).mean(axis=0) - var) < k * v_err), \
        (dev2.reshape(-1, w.shape[2]).mean(axis=0), var, v_err)


# ---- known answers ----------------------------------------------------------------------------------------
D21 = 21
_rng = np.random.default_rng(3)
_A = _rng.standard_normal((D21, D21))
_C = _A @ _A.T
_R = _C / np.outer(np.sqrt(np.diag(_C)), np.sqrt(np.diag(_C)))
SD21 = _rng.uniform(0.01, 0.06, D21)
MU21 = _rng.uniform(0.3, 0.7, D21)
COV21 = _R * np.outer(SD21, SD21)
PREC21 = np.linalg.inv(COV21)


def gauss21(kp):
    x = kp - MU21
    return 0.5 * np.einsum("ni,ij,nj->n", x, PREC21, x)


@pytest.fixture(scope="module")
def gaussian_run():
    return run(gauss21, D21, seed=11)


def test_correlated_21d_gaussian(gaussian_run):
    """Converges by its own criterion; means and variances within 4 MCSE (ArviZ),
    correlations (condition number of the target ~1e3) within 0.1."""
    dz = gaussian_run
    assert dz.stop_reason == "converged"
    post, dg = diagnostics(dz)
    assert dg["rhat"].max() <= 1.05 and dg["ess_bulk"].min() >= 400
    assert_moments(dz.window_chains(), MU21, SD21 ** 2)
    window = dz.window_chains().reshape(-1, D21)
    corr = np.corrcoef(window, rowvar=False)
    assert np.abs(corr - _R).max() < 0.1


def test_stopping_diagnostics_equal_arviz_on_the_saved_draws(gaussian_run):
    """The sampler stops on the draws it returns; ArviZ on those draws gives the numbers it
    stopped on (same algorithm, agreement to round-off)."""
    dz = gaussian_run
    post, dg = diagnostics(dz)
    own = dz.last_diagnostics
    np.testing.assert_allclose(own["rhat"], dg["rhat"], rtol=1e-12)
    np.testing.assert_allclose(own["ess_bulk"], dg["ess_bulk"], rtol=1e-10)
    assert post.shape == (24, 100, D21)
    lo, hi = dz.window()
    assert lo >= dz.settings.burn_in * hi and lo >= dz.adapt_end


def mixture_cost(kp):
    """Two modes along the first coordinate (weights 0.3 and 0.7, sd 0.03, 8 sd apart)."""
    x = np.atleast_2d(kp)
    rest = (((x[:, 1:] - 0.5) / 0.05) ** 2).sum(axis=1)
    a = np.log(0.3) - 0.5 * ((x[:, 0] - 0.3) / 0.03) ** 2
    b = np.log(0.7) - 0.5 * ((x[:, 0] - 0.54) / 0.03) ** 2
    return 0.5 * rest - np.logaddexp(a, b)


def test_bimodal_mixture_weights():
    """The chains jump between the modes (unit-γ and snooker moves) and the mode weights
    are recovered within 4 Monte Carlo standard errors of the indicator."""
    dz = run(mixture_cost, 4, seed=2, ess_target=400)
    assert dz.stop_reason == "converged"
    w = dz.window_chains()
    ind = (w[..., 0] > 0.42).astype(float)
    frac = ind.mean()
    ess = float(cv.arviz_diagnostics(ind[..., None])["ess_bulk"][0])
    se = np.sqrt(frac * (1 - frac) / ess)
    assert abs(frac - 0.7) < 4 * se + 1e-3, (frac, se)
    # every chain visited both modes
    assert np.all(ind.max(axis=1) == 1) and np.all(ind.min(axis=1) == 0)


def banana_cost(kp):
    """x1 = 0.5 + s z1, x2 = 0.5 + s (z2 + (z1² − 1)), z ~ N(0, I): E x2 = 0.5,
    var x2 = 3 s² (a curved, Rosenbrock-like ridge)."""
    s = 0.04
    z1 = (kp[:, 0] - 0.5) / s
    z2 = (kp[:, 1] - 0.5) / s - (z1 ** 2 - 1.0)
    return 0.5 * (z1 ** 2 + z2 ** 2)


def test_curved_rosenbrock_like_target():
    dz = run(banana_cost, 2, seed=3)
    assert dz.stop_reason == "converged"
    assert_moments(dz.window_chains(), [0.5, 0.5], [0.04 ** 2, 3 * 0.04 ** 2])


def test_flat_posterior_is_uniform_on_the_prior_box():
    """J = 0: kp must be uniform on [0, 1]^5 (the logit Jacobian is what makes it so)."""
    dz = run(lambda kp: np.zeros(kp.shape[0]), 5, seed=4)
    assert dz.stop_reason == "converged"
    post = dz.posterior()
    assert_moments(dz.window_chains(), np.full(5, 0.5), np.full(5, 1 / 12))
    thin = post.reshape(-1, 5)[::4]
    for j in range(5):
        assert stats.kstest(thin[:, j], "uniform").pvalue > 1e-3


# ---- behaviour -------------------------------------------------------------------------------------------
def quick(**kw):
    base = dict(n_chains=8, min_generations=200, ess_target=200, max_evaluations=400_000, block_size=60)
    base.update(kw)
    return DreamSettings(**base)


def simple_cost(kp):
    return 0.5 * (((kp - 0.4) / 0.08) ** 2).sum(axis=1)


def test_same_seed_same_chains_and_other_seed_differs():
    a = DreamZS(simple_cost, 3, quick(), np.random.SeedSequence(9)).run()
    b = DreamZS(simple_cost, 3, quick(), np.random.SeedSequence(9)).run()
    c = DreamZS(simple_cost, 3, quick(), np.random.SeedSequence(10)).run()
    np.testing.assert_array_equal(a.window_chains(), b.window_chains())
    assert a.generations == b.generations
    assert not np.array_equal(a.buffers[0].kp[:100], c.buffers[0].kp[:100])


@pytest.mark.parametrize("stop_blocks", [1, 3, 6])
def test_resume_from_checkpoint_is_bitwise_identical(tmp_path, stop_blocks):
    """Checkpoint after every block (one appended chunk each), stop, restore into a new
    sampler: the chains, the archive and the stopping point are identical."""
    ref = DreamZS(simple_cost, 3, quick(), np.random.SeedSequence(9)).run()

    class Stop(Exception):
        pass

    count = [0]
    backend = BlockBackend(tmp_path / "ck")

    def cb(dz):
        count[0] += 1
        dz.checkpoint(backend)
        if count[0] == stop_blocks:
            raise Stop

    with pytest.raises(Stop):
        DreamZS(simple_cost, 3, quick(), np.random.SeedSequence(9)).run(callback=cb)
    res = DreamZS(simple_cost, 3, quick(), np.random.SeedSequence(9))
    assert res.restore(backend)
    res.run()
    assert res.generations == ref.generations and res.stop_reason == ref.stop_reason
    n = ref.generations
    np.testing.assert_array_equal(res.buffers[0].kp[:n], ref.buffers[0].kp[:n])
    np.testing.assert_array_equal(res.buffers[0].cost[:n], ref.buffers[0].cost[:n])
    np.testing.assert_array_equal(res.archive.view, ref.archive.view)


def test_budget_exhausted_is_reported_not_converged():
    """An ESS target out of reach of the budget stops at max_evaluations with the reason
    recorded."""
    dz = DreamZS(simple_cost, 3, quick(ess_target=600, max_evaluations=8 * 300), np.random.SeedSequence(1)).run()
    assert dz.stop_reason == "max_evaluations"
    assert dz.generations == 300
    assert dz.n_evaluations <= 8 * 300 + 8


def test_invalid_region_is_never_accepted():
    def cost(kp):
        c = simple_cost(kp)
        return np.where(kp[:, 0] > 0.45, np.inf, c)

    dz = DreamZS(cost, 3, quick(), np.random.SeedSequence(2)).run()
    kp = dz.buffers[0].kp[:dz.generations]
    assert np.all(kp[..., 0] <= 0.45) and dz.n_invalid.sum() > 0
    assert np.all(np.isfinite(dz.buffers[0].cost[:dz.generations]))


def test_no_valid_start_raises():
    with pytest.raises(KernelError, match="no valid starting point"):
        DreamZS(lambda kp: np.full(kp.shape[0], np.inf), 2, quick(max_start_tries=2),
                np.random.SeedSequence(1)).run()


@pytest.mark.parametrize("kw,match", [
    (dict(n_chains=3), "n_chains = 3: must be >= 4"),
    (dict(ess_target=0.0), "ess_target = 0.0: must be > 0"),
    (dict(rhat_target=0.99), "rhat_target = 0.99: must be >= 1"),
    (dict(p_unit=0.6, p_snooker=0.5), "p_unit \\+ p_snooker"),
    (dict(ess_target=5000.0), "ess_target = 5000.0: must be <= 0.8 n_chains x draws_saved"),
])
def test_bad_settings_one_line(kw, match):
    with pytest.raises(ConfigError, match=match) as err:
        DreamSettings(**kw).check()
    assert "\n" not in str(err.value)


def test_budget_exhausted_while_adapting_still_returns_a_flagged_posterior():
    """A posterior far narrower than the prior, a tiny budget: the run ends while adapting;
    the last 75 % of it is returned (for inspection), and the stop reason says why."""
    cost = lambda kp: 0.5 * (((kp - 0.5) / 0.001) ** 2).sum(axis=1)  # noqa: E731
    dz = DreamZS(cost, 5, quick(min_generations=100, max_evaluations=8 * 300, ess_target=100),
                 np.random.SeedSequence(1)).run()
    assert dz.stop_reason == "max_evaluations" and dz.adapting
    lo, hi = dz.window()
    assert hi == 300 and 75 <= lo < 300 and dz.posterior().shape == (8, 100, 5)

"""SCE-UA and Morris screening."""

import numpy as np
import pytest

from pysoc.da.morris import MorrisSettings, morris_screening
from pysoc.da.optimize import SCEUASettings, sceua
from pysoc.errors import ConfigError, KernelError


def rosenbrock01(kp):
    """Rosenbrock on [-2, 2]^n mapped to the unit box; minimum 0 at kp = 0.75."""
    x = 4 * np.atleast_2d(kp) - 2
    return (100 * (x[:, 1:] - x[:, :-1] ** 2) ** 2 + (1 - x[:, :-1]) ** 2).sum(axis=1)


def test_sceua_finds_rosenbrock_minimum():
    res = sceua(rosenbrock01, 4, SCEUASettings(max_evals=30000, pcento=1e-6, kstop=10),
                np.random.default_rng(0))
    np.testing.assert_allclose(res.x, 0.75, atol=0.01)
    assert res.cost < 1e-3
    assert res.n_evals <= 30000 + 200
    assert res.history == sorted(res.history, reverse=True)       # best cost never gets worse


def test_sceua_multimodal_and_invalid_region():
    """Rastrigin-like surface with an invalid corner (cost = inf): the global optimum is found."""
    def f(kp):
        kp = np.atleast_2d(kp)
        x = 10 * (kp - 0.3)
        c = (x ** 2 - 3 * np.cos(2 * np.pi * x) + 3).sum(axis=1)
        return np.where(kp.sum(axis=1) > 1.6, np.inf, c)

    res = sceua(f, 3, SCEUASettings(n_complexes=6, max_evals=20000), np.random.default_rng(1))
    np.testing.assert_allclose(res.x, 0.3, atol=0.02)


def test_sceua_deterministic_and_settings_checked():
    a = sceua(rosenbrock01, 2, SCEUASettings(max_evals=2000), np.random.default_rng(5))
    b = sceua(rosenbrock01, 2, SCEUASettings(max_evals=2000), np.random.default_rng(5))
    np.testing.assert_array_equal(a.x, b.x)
    with pytest.raises(ConfigError):
        sceua(rosenbrock01, 2, SCEUASettings(subcomplex_size=9, points_per_complex=5), np.random.default_rng(0))


def test_morris_ranks_parameters():
    """J = 10 kp0 + 3 kp1^2 + 0 kp2: mu* orders the parameters, kp2 has no effect."""
    def f(kp):
        kp = np.atleast_2d(kp)
        return 10 * kp[:, 0] + 3 * kp[:, 1] ** 2 + 1.0

    r = morris_screening(f, ["a", "b", "c"], MorrisSettings(n_trajectories=20), seed=3)
    assert r["mu_star"][0] == pytest.approx(10.0, rel=1e-9)     # linear: every elementary effect is 10
    assert r["sigma"][0] == pytest.approx(0.0, abs=1e-9)
    assert r["mu_star"][0] > r["mu_star"][1] > r["mu_star"][2] == 0.0
    assert r["n_trajectories_used"] == 20 and r["n_evals"] == 20 * 4
    assert np.all(np.isfinite(r["importance"]))


def test_morris_drops_trajectories_with_failed_runs():
    def f(kp):
        kp = np.atleast_2d(kp)
        return np.where(kp[:, 0] > 0.9, np.inf, kp.sum(axis=1))

    r = morris_screening(f, ["a", "b"], MorrisSettings(n_trajectories=30), seed=1)
    assert 2 <= r["n_trajectories_used"] < 30
    np.testing.assert_allclose(r["mu_star"], 1.0)
    with pytest.raises(KernelError):
        morris_screening(lambda kp: np.full(np.atleast_2d(kp).shape[0], np.inf), ["a", "b"],
                         MorrisSettings(n_trajectories=4), seed=1)
    with pytest.raises(ConfigError):
        MorrisSettings(num_levels=3).check()

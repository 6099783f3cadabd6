"""The vectorised convergence diagnostics used for stopping agree with ArviZ."""

import numpy as np
import pytest

from pysoc.da import convergence as cv


def ar1_chains(shape, seed=0, shift=0.0):
    rng = np.random.default_rng(seed)
    c, n, d = shape
    x = np.zeros(shape)
    e = rng.standard_normal(shape)
    phi = rng.uniform(0.0, 0.95, d)
    for t in range(1, n):
        x[:, t] = phi * x[:, t - 1] + e[:, t]
    x[:, :, 0] += shift * np.arange(c)[:, None]          # chains that disagree
    x[:, :, 1] = np.round(x[:, :, 1])                   # ties (repeated states)
    return x


@pytest.mark.parametrize("shape,shift", [((16, 200, 6), 0.0), ((3, 1000, 4), 0.5), ((16, 57, 5), 0.0),
                                         ((4, 9, 3), 0.2)])
def test_matches_arviz(shape, shift):
    x = ar1_chains(shape, shift=shift)
    x[:, :, 2] = 1.0                                     # a constant parameter
    ref = cv.arviz_diagnostics(x)
    own = {"rhat": cv.rhat_rank(x), "ess_bulk": cv.ess_bulk(x), "ess_tail": cv.ess_tail(x),
           "mcse_mean": cv.mcse_mean(x)}
    for k, v in own.items():
        a, b = v, ref[k]
        assert np.array_equal(np.isnan(a), np.isnan(b)), k
        ok = ~np.isnan(b)
        np.testing.assert_allclose(a[ok], b[ok], rtol=1e-10, err_msg=k)


def test_detects_disagreeing_chains():
    x = ar1_chains((8, 400, 3), shift=2.0)
    r = cv.rhat_rank(x)
    assert r[0] > 1.5 and r[2] < 1.05

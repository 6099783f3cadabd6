"""Convergence diagnostics of MCMC draws: rank-normalised split-R̂, bulk and tail ESS and
the Monte Carlo standard error of the mean (Vehtari, Gelman, Simpson, Carpenter and Bürkner
2021, *Bayesian Analysis* 16, 667–718), as ArviZ computes them.

Two implementations of the same statistics:

- :func:`arviz_diagnostics` calls ArviZ (``arviz.rhat(method="rank")``, ``arviz.ess``
  with ``method="bulk"`` / ``"tail"``, ``arviz.mcse``). It is what the calibration writes to
  its outputs, so that a user who recomputes the diagnostics from the stored draws with
  ArviZ gets the same numbers.
- :func:`rhat_rank`, :func:`ess_bulk`, :func:`ess_tail` and :func:`mcse_mean` are the same
  algorithms vectorised over parameters in NumPy. The convergence-driven stopping of the
  population sampler checks them after every block of generations; at 21 parameters they
  cost about 2 ms where the ArviZ calls cost about 50 ms. They are tested against ArviZ
  (``tests/test_da_convergence.py``, agreement to 1e-10 relative).

All functions take draws shaped (chain, draw, parameter) and return one value per
parameter.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import special

_RESOLUTION = np.finfo(float).resolution


def _split(draws: np.ndarray) -> np.ndarray:
    """(chain, draw, d) -> (2 chain, draw // 2, d): first and last halves of every chain."""
    half = draws.shape[1] // 2
    return np.concatenate([draws[:, :half], draws[:, draws.shape[1] - half:]], axis=0)


def _z_scale(x: np.ndarray) -> np.ndarray:
    """Rank-normalisation per parameter (average ranks over all chains and draws, Blom's
    offset 3/8, standard-normal quantiles)."""
    m, n, d = x.shape
    from scipy.stats import rankdata   # lazy: scipy.stats costs ~0.5 s of import (fixed cost of every run)

    rank = rankdata(x.reshape(m * n, d), method="average", axis=0)
    size = m * n
    # ndtri is the standard-normal quantile (what scipy.stats.norm.ppf computes, bitwise) without
    # the distribution machinery's argument checks
    return special.ndtri((rank - 0.375) / (size - 0.75 + 1.0)).reshape(m, n, d)


def _rhat(x: np.ndarray) -> np.ndarray:
    """Classic potential scale reduction of (m, n, d) chains (ArviZ ``_rhat``)."""
    n = x.shape[1]
    chain_mean = x.mean(axis=1)
    chain_var = x.var(axis=1, ddof=1)
    between = n * chain_mean.var(axis=0, ddof=1)
    within = chain_var.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt((between / within + n - 1) / n)


def _autocov(x: np.ndarray) -> np.ndarray:
    """Autocovariance of every chain and parameter at every lag (FFT), (m, n, d)."""
    n = x.shape[1]
    nfft = _next_fast_len(2 * n)
    dev = x - x.mean(axis=1, keepdims=True)
    f = np.fft.rfft(dev, n=nfft, axis=1)
    f *= np.conjugate(f)
    return np.fft.irfft(f, n=nfft, axis=1)[:, :n] / n


def _next_fast_len(n: int) -> int:
    from scipy.fft import next_fast_len
    return next_fast_len(n)


def _ess(x: np.ndarray) -> np.ndarray:
    """Effective sample size of (m, n, d) chains with Geyer's initial monotone sequence
    (ArviZ ``_ess``), vectorised over the last axis."""
    x = np.asarray(x, dtype=float)
    m, n, d = x.shape
    out = np.full(d, np.nan)
    const = (x.max(axis=(0, 1)) - x.min(axis=(0, 1))) < _RESOLUTION
    out[const] = m * n
    live = ~const & np.isfinite(x).all(axis=(0, 1))
    if not live.any() or n < 4:
        return out
    xs = x[:, :, live]
    acov = _autocov(xs)
    chain_mean = xs.mean(axis=1)
    mean_var = acov[:, 0].mean(axis=0) * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if m > 1:
        var_plus = var_plus + chain_mean.var(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = 1.0 - (mean_var - acov.mean(axis=0)) / var_plus           # (n, k)
    k = xs.shape[2]
    rho_t = np.zeros((n, k))
    rho_t[0] = 1.0
    even = np.ones(k)
    odd = rho[1].copy()
    rho_t[1] = odd
    t_end = np.full(k, 1)
    active = np.ones(k, bool)
    t = 1
    # Geyer's initial positive sequence (each parameter stops at its own t)
    while True:
        active &= (t < n - 3) & ((even + odd) > 0.0)
        if not active.any():
            break
        even = np.where(active, rho[t + 1], even)
        odd = np.where(active, rho[t + 2], odd)
        keep = active & ((even + odd) >= 0)
        rho_t[t + 1] = np.where(keep, even, rho_t[t + 1])
        rho_t[t + 2] = np.where(keep, odd, rho_t[t + 2])
        t += 2
        t_end = np.where(active, t, t_end)
    max_t = t_end - 2
    cols = np.arange(k)
    fix = even > 0
    rho_t[max_t[fix] + 1, cols[fix]] = even[fix]
    # Geyer's initial monotone sequence
    t = 1
    while (t <= max_t - 2).any():
        go = t <= max_t - 2
        bump = go & ((rho_t[t + 1] + rho_t[t + 2]) > (rho_t[t - 1] + rho_t[t]))
        mean_prev = (rho_t[t - 1] + rho_t[t]) / 2.0
        rho_t[t + 1] = np.where(bump, mean_prev, rho_t[t + 1])
        rho_t[t + 2] = np.where(bump, mean_prev, rho_t[t + 2])
        t += 2
    lag = np.arange(n)[:, None]
    first = np.where(lag <= max_t, rho_t, 0.0).sum(axis=0)
    tail = np.where(lag == max_t + 1, rho_t, 0.0).sum(axis=0)
    tau = -1.0 + 2.0 * first + tail
    size = m * n
    tau = np.maximum(tau, 1.0 / np.log10(size))
    ess = size / tau
    ess[np.isnan(rho_t).any(axis=0)] = np.nan
    out[live] = ess
    return out


def _check(draws) -> np.ndarray:
    draws = np.asarray(draws, dtype=float)
    if draws.ndim == 2:
        draws = draws[:, :, None]
    if draws.ndim != 3:
        raise ValueError("draws must be shaped (chain, draw, parameter)")
    return draws


def rhat_rank(draws) -> np.ndarray:
    """Rank-normalised split-R̂ per parameter: the larger of the bulk (rank-normalised)
    and the tail (folded, rank-normalised) split-R̂. NaN with fewer than 2 chains or 4
    draws, or with non-finite draws."""
    x = _check(draws)
    m, n, d = x.shape
    out = np.full(d, np.nan)
    ok = np.isfinite(x).all(axis=(0, 1))
    if m < 2 or n < 4 or not ok.any():
        return out
    s = _split(x[:, :, ok])
    bulk = _rhat(_z_scale(s))
    folded = np.abs(s - np.median(s.reshape(-1, s.shape[2]), axis=0))
    tail = _rhat(_z_scale(folded))
    out[ok] = np.maximum(bulk, tail)
    return out


def ess_bulk(draws) -> np.ndarray:
    """Bulk effective sample size per parameter (split, rank-normalised chains)."""
    x = _check(draws)
    if x.shape[1] < 4:
        return np.full(x.shape[2], np.nan)
    return _ess(_z_scale(_split(x)))


def ess_tail(draws, prob: tuple[float, float] = (0.05, 0.95)) -> np.ndarray:
    """Tail effective sample size per parameter: the smaller ESS of the indicators of the
    5 % and 95 % quantiles."""
    x = _check(draws)
    if x.shape[1] < 4:
        return np.full(x.shape[2], np.nan)
    flat = x.reshape(-1, x.shape[2])
    out = None
    for p in prob:
        q = np.quantile(flat, p, axis=0)
        e = _ess(_split((x <= q).astype(float)))
        out = e if out is None else np.minimum(out, e)
    return out


def mcse_mean(draws) -> np.ndarray:
    """Monte Carlo standard error of the posterior mean per parameter."""
    x = _check(draws)
    ess = _ess(_split(x))
    sd = x.reshape(-1, x.shape[2]).std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return sd / np.sqrt(ess)


def summary(draws) -> dict[str, np.ndarray]:
    """The stopping diagnostics in one call: ``rhat`` (rank-normalised split-R̂) and
    ``ess_bulk`` per parameter, sharing the rank-normalisation of the split chains
    (identical to :func:`rhat_rank` and :func:`ess_bulk`)."""
    x = _check(draws)
    m, n, d = x.shape
    out = {"rhat": np.full(d, np.nan), "ess_bulk": np.full(d, np.nan)}
    if n < 4:
        return out
    s = _split(x)
    z = _z_scale(s)
    out["ess_bulk"] = _ess(z)
    ok = np.isfinite(x).all(axis=(0, 1))
    if m < 2 or not ok.any():
        return out
    s, z = s[:, :, ok], z[:, :, ok]
    folded = np.abs(s - np.median(s.reshape(-1, s.shape[2]), axis=0))
    out["rhat"][ok] = np.maximum(_rhat(z), _rhat(_z_scale(folded)))
    return out


def split_rhat(draws) -> np.ndarray:
    """Classic split-R̂ (no rank normalisation) per parameter: cheap, for coarse checks such
    as the end of a burn-in (R̂ < 1.2, Gelman and Rubin 1992; Vrugt 2016)."""
    x = _check(draws)
    if x.shape[0] < 2 or x.shape[1] < 4:
        return np.full(x.shape[2], np.nan)
    return _rhat(_split(x))


def arviz_diagnostics(draws, names=None) -> dict[str, np.ndarray]:
    """ArviZ's rank-normalised split-R̂, bulk and tail ESS and MCSE of the mean per
    parameter.

    Parameters
    ----------
    draws : array_like, shape (chain, draw, parameter)
        Posterior draws.
    names : sequence of str, optional
        Parameter names (only used to label the ArviZ dataset).

    Returns
    -------
    dict
        ``rhat``, ``ess_bulk``, ``ess_tail``, ``mcse_mean``: arrays (parameter,).

    Examples
    --------
    >>> import numpy as np
    >>> d = arviz_diagnostics(np.random.default_rng(0).standard_normal((4, 500, 2)))
    >>> bool(np.all(d["rhat"] < 1.01)) and bool(np.all(d["ess_bulk"] > 1000))
    True
    """
    x = _check(draws)
    az = import_arviz()
    names = list(names) if names is not None else [f"p{j}" for j in range(x.shape[2])]
    ds = az.convert_to_dataset({n: x[:, :, j] for j, n in enumerate(names)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = {
            "rhat": az.rhat(ds, method="rank"),
            "ess_bulk": az.ess(ds, method="bulk"),
            "ess_tail": az.ess(ds, method="tail"),
            "mcse_mean": az.mcse(ds, method="mean"),
        }
    return {k: np.array([float(v[n]) for n in names]) for k, v in out.items()}


def import_arviz():
    """ArviZ, imported without its 'undergoing a major refactor' FutureWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import arviz
    return arviz


__all__ = ["rhat_rank", "ess_bulk", "ess_tail", "mcse_mean", "summary", "split_rhat", "arviz_diagnostics", "import_arviz"]

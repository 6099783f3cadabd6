"""Convergence diagnostics, point estimates and fit metrics (spec methods.md §1–2).

- :func:`gelman_rubin`: seed 002 eq. 9–10 per parameter (K chains of N draws after burn-in);
- :func:`acceptance_ok`: acceptance-rate window ([15 %, 50 %] seeds 000/002, [10 %, 50 %] seed 001);
- :func:`gev_mode`: the posterior mode from a generalised extreme value distribution fitted
  by maximum likelihood (seed 002 "MLE", PRODA); the density is scipy.stats.genextreme's
  (shape c), fitted with a vectorised likelihood started from L-moment estimates (scipy's
  generic ``genextreme.fit`` costs ~0.1 s per parameter, too slow for 21 parameters per site);
- :func:`metrics`: R², RMSE, MAE, NSE, Pearson r, regression slope/intercept, BIC.
"""

from __future__ import annotations

import math
import warnings

import numpy as np


def gelman_rubin(draws: np.ndarray) -> np.ndarray:
    """Gelman–Rubin statistic per parameter (seed 002 eq. 9–10).

    draws: (K chains, N draws, d). B = N/(K−1) Σ_k (c̄_k − c̄)², W = 1/(K(N−1)) Σ_k Σ_n (c − c̄_k)²,
    G-R = sqrt((W (N−1)/N + B/N) / W). A parameter that is constant in all chains gives 1;
    constant within chains but different between them gives +inf."""
    draws = np.asarray(draws, dtype=float)
    K, N = draws.shape[:2]
    if K < 2 or N < 2:
        return np.full(draws.shape[2:], np.nan)
    means = draws.mean(axis=1)
    B = N / (K - 1) * ((means - means.mean(axis=0)) ** 2).sum(axis=0)
    W = ((draws - means[:, None]) ** 2).sum(axis=(0, 1)) / (K * (N - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        gr = np.sqrt((W * (N - 1) / N + B / N) / W)
    gr = np.where((W == 0) & (B == 0), 1.0, gr)
    return np.where((W == 0) & (B > 0), np.inf, gr)


def acceptance_ok(rates, low: float = 0.15, high: float = 0.5) -> np.ndarray:
    """True where the acceptance rate lies in [low, high]."""
    rates = np.asarray(rates, dtype=float)
    return (rates >= low) & (rates <= high)


def _gev_nll(params, z) -> float:
    """Negative log-likelihood of a GEV (scipy's shape convention c; c > 0: bounded above)."""
    c, loc, log_scale = params
    scale = math.exp(log_scale)
    u = (z - loc) / scale
    if abs(c) < 1e-9:
        return float(z.size * log_scale + np.sum(u + np.exp(-u)))
    y = 1.0 - c * u
    if np.any(y <= 0.0):
        return np.inf
    ly = np.log(y)
    return float(z.size * log_scale - (1.0 / c - 1.0) * ly.sum() + np.exp(ly / c).sum())


def gev_lmoments(x) -> tuple[float, float, float]:
    """GEV (c, loc, scale) from sample L-moments (Hosking, Wallis and Wood 1985); c in
    scipy's convention (Hosking's k)."""
    x = np.sort(np.asarray(x, dtype=float))
    n = x.size
    i = np.arange(n)
    b0 = x.mean()
    b1 = np.sum(i / (n - 1) * x) / n
    b2 = np.sum(i * (i - 1) / ((n - 1) * (n - 2)) * x) / n
    l1, l2, l3 = b0, 2 * b1 - b0, 6 * b2 - 6 * b1 + b0
    t3 = l3 / l2
    cc = 2.0 / (3.0 + t3) - math.log(2.0) / math.log(3.0)
    k = 7.8590 * cc + 2.9554 * cc * cc
    if abs(k) < 1e-6:
        scale = l2 / math.log(2.0)
        return 0.0, l1 - 0.5772156649 * scale, scale
    g = math.gamma(1.0 + k)
    scale = l2 * k / ((1.0 - 2.0 ** (-k)) * g)
    return k, l1 - scale * (1.0 - g) / k, scale


def gev_fit(x) -> tuple[float, float, float]:
    """Maximum-likelihood GEV fit (c, loc, scale), started from the L-moment estimates."""
    from scipy.optimize import minimize

    z = np.asarray(x, dtype=float)
    c0, loc0, sc0 = gev_lmoments(z)
    c0 = float(np.clip(c0, -0.9, 0.9))
    start = np.array([c0, loc0, math.log(sc0)])
    if not np.isfinite(_gev_nll(start, z)):        # the sample must lie inside the support
        start = np.array([0.0, loc0, math.log(sc0)])
    res = minimize(_gev_nll, start, args=(z,), method="Nelder-Mead",
                   options={"xatol": 1e-6, "fatol": 1e-8, "maxiter": 2000})
    c, loc, ls = res.x
    return float(c), float(loc), float(math.exp(ls))


def gev_mode(samples, kde_points: int = 512) -> tuple[float, str]:
    """Mode of a GEV fitted by maximum likelihood to ``samples`` (standardised first).
    Returns (mode, method): 'gev', or 'kde' (Gaussian kernel density) when the fit fails
    or has shape c >= 1 (no interior mode), 'constant' or 'median' for degenerate samples."""
    x = np.asarray(samples, dtype=float).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), "none"
    m, s = float(x.mean()), float(x.std())
    if np.ptp(x) == 0.0:
        return float(x[0]), "constant"
    if s == 0.0 or x.size < 10:
        return float(np.median(x)), "median"
    z = (x - m) / s
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            c, loc, scale = gev_fit(z)
        if np.isfinite([c, loc, scale]).all() and scale > 0 and c < 1.0:
            mode = loc if abs(c) < 1e-8 else loc + scale * (1.0 - (1.0 - c) ** c) / c
            if np.isfinite(mode) and z.min() - 1e-9 <= mode <= z.max() + 1e-9:
                return m + s * float(mode), "gev"
    except (ValueError, FloatingPointError, ZeroDivisionError, OverflowError):
        pass
    try:
        from scipy import stats

        kde = stats.gaussian_kde(z)
        grid = np.linspace(z.min(), z.max(), kde_points)
        return m + s * float(grid[np.argmax(kde(grid))]), "kde"
    except (ValueError, np.linalg.LinAlgError):
        return float(np.median(x)), "median"


def quantiles(draws: np.ndarray, q=(0.05, 0.25, 0.5, 0.75, 0.95)) -> np.ndarray:
    """Quantiles over all chains and draws: draws (K, N, d) -> (nq, d)."""
    d = np.asarray(draws, dtype=float)
    return np.quantile(d.reshape(-1, d.shape[-1]), q, axis=0)


def metrics(obs, mod, n_params: int = 0) -> dict[str, float]:
    """Fit metrics of modelled vs observed values.

    r2: coefficient of determination of the least-squares line mod ~ obs (= r²);
    nse: Nash–Sutcliffe efficiency 1 − Σ(obs − mod)² / Σ(obs − mean obs)² (= R² of the 1:1
    line, seed 002; seed 001's site filter NSE ≥ 0); rmse, mae; r: Pearson correlation;
    slope, intercept: least-squares regression of mod on obs; bic = 2 N log(RMSE) + 2 N_p
    (seed 003 eq. 18); n: number of pairs used (finite in both)."""
    obs = np.asarray(obs, dtype=float).ravel()
    mod = np.asarray(mod, dtype=float).ravel()
    ok = np.isfinite(obs) & np.isfinite(mod)
    o, m = obs[ok], mod[ok]
    n = int(o.size)
    out = dict(n=n, r2=np.nan, rmse=np.nan, mae=np.nan, nse=np.nan, r=np.nan, slope=np.nan, intercept=np.nan,
               bic=np.nan)
    if n == 0:
        return out
    res = o - m
    out["rmse"] = float(np.sqrt(np.mean(res ** 2)))
    out["mae"] = float(np.mean(np.abs(res)))
    sst = float(((o - o.mean()) ** 2).sum())
    out["nse"] = float(1.0 - (res ** 2).sum() / sst) if sst > 0 else np.nan
    with np.errstate(divide="ignore"):
        out["bic"] = float(2 * n * np.log(out["rmse"]) + 2 * n_params)
    if n >= 2 and o.std() > 0 and m.std() > 0:
        r = float(np.corrcoef(o, m)[0, 1])
        out["r"] = r
        out["r2"] = r * r
        slope, intercept = np.polyfit(o, m, 1)
        out["slope"], out["intercept"] = float(slope), float(intercept)
    return out


def parameter_rmse_correlation(params: np.ndarray, rmse: np.ndarray) -> np.ndarray:
    """Pearson r between each parameter and the RMSE over a set of runs (seed 000 eq. 9):
    params (n, d), rmse (n,) -> (d,)."""
    p = np.asarray(params, dtype=float)
    e = np.asarray(rmse, dtype=float)
    ok = np.isfinite(e) & np.isfinite(p).all(axis=1)
    p, e = p[ok], e[ok]
    if e.size < 3 or e.std() == 0:
        return np.full(p.shape[1], np.nan)
    pc = p - p.mean(axis=0)
    ec = e - e.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        return (pc * ec[:, None]).sum(axis=0) / np.sqrt((pc ** 2).sum(axis=0) * (ec ** 2).sum())


def thin_indices(n: int, k: int) -> np.ndarray:
    """k indices evenly spread over range(n) (all when k >= n), the last one included."""
    if k >= n:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, k)).astype(int))


__all__ = ["gelman_rubin", "acceptance_ok", "gev_mode", "quantiles", "metrics", "parameter_rmse_correlation",
           "thin_indices"]

"""Cross-validated evaluation of PRODA (spec methods.md §3.4; seed 002 Table 1).

Sites are split into K folds, spatially blocked first (lat/lon blocks of ``block_deg``
degrees assigned whole to folds, so held-out sites are geographically apart from the
training sites: the headline) and at random (secondary: part of its skill is interpolation
between nearby sites). For every fold a PRODA model is trained on the other folds exactly as
the final model is (:func:`pysoc.proda.training.fit_model`, best-guess network only) and the
held-out sites are scored with :func:`pysoc.proda.scoring.score_methods`: network, model
defaults, one constant parameter set, random sampling of site optima, direct random forest,
and -- when given -- one-batch DA and the sites' own posterior means (site-by-site DA, an
in-sample reference as in Table 1). Metrics over all held-out layers, with bootstrap
confidence intervals over sites (:func:`pysoc.proda.scoring.metrics_table`).

Parameter skill per split: held-out R² (1 - SSE/SST) and r of every predicted kp against the
site's posterior mean, and the spread ratio sd(predicted) / sd(posterior means) over the
held-out sites (1 = the network reproduces the site-to-site variation; an unbiased predictor
with R² = r² has a ratio near r).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pysoc.errors import ConfigError
from pysoc.da.parallel import SerialExecutor, owner
from pysoc.proda.scoring import BASE_METHODS, LayerValues, metrics_table, score_methods

METHODS = BASE_METHODS + ("one_batch", "site_by_site")
SPLITS = ("blocked", "random")


def random_folds(n: int, k: int, seed: int = 0) -> np.ndarray:
    """Fold id (0..k-1) per site, balanced, random.

    Parameters
    ----------
    n : int
        Number of sites.
    k : int
        Number of folds, 2 <= k <= n.
    seed : int

    Returns
    -------
    numpy.ndarray
        (n,) fold ids; fold sizes differ by at most one.

    Raises
    ------
    ConfigError
        k outside [2, n].

    Examples
    --------
    >>> f = random_folds(7, 3, seed=1)
    >>> sorted(np.bincount(f).tolist())
    [2, 2, 3]
    """
    if k < 2 or k > n:
        raise ConfigError(f"cv_folds must be in [2, number of sites = {n}], got {k}")
    rng = np.random.default_rng(seed)
    f = np.arange(n) % k
    rng.shuffle(f)
    return f


def blocked_folds(lat, lon, k: int, block_deg: float = 10.0, seed: int = 0) -> np.ndarray:
    """Fold id per site with whole lat/lon blocks of ``block_deg`` degrees per fold: blocks
    (largest first, ties in random order) go to the fold with the fewest sites so far.

    Parameters
    ----------
    lat, lon : array_like
        Site coordinates (degrees).
    k : int
        Number of folds.
    block_deg : float
        Block size (degrees).
    seed : int

    Returns
    -------
    numpy.ndarray
        Fold id per site; sites of one block share a fold.

    Raises
    ------
    ConfigError
        ``block_deg <= 0`` or fewer blocks than folds.

    Examples
    --------
    >>> f = blocked_folds([1.0, 2.0, 45.0, 46.0], [1.0, 2.0, 45.0, 46.0], 2, block_deg=10.0)
    >>> bool(f[0] == f[1] and f[2] == f[3] and f[0] != f[2])
    True
    """
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    if block_deg <= 0:
        raise ConfigError(f"block_deg must be > 0, got {block_deg}")
    key = np.floor((lat + 90.0) / block_deg).astype(int) * 100000 + np.floor((lon + 180.0) / block_deg).astype(int)
    blocks, inv = np.unique(key, return_inverse=True)
    if blocks.size < k:
        raise ConfigError(f"spatially blocked split: only {blocks.size} blocks of {block_deg:g} degrees for "
                          f"{k} folds; use a smaller block_deg or fewer folds")
    rng = np.random.default_rng(seed)
    counts = np.bincount(inv)
    order = rng.permutation(blocks.size)
    order = order[np.argsort(-counts[order], kind="stable")]      # large blocks first, random ties
    load = np.zeros(k, int)
    bfold = np.empty(blocks.size, int)
    for b in order:
        f = int(np.argmin(load))
        bfold[b] = f
        load[f] += counts[b]
    return bfold[inv]


def make_folds(profiles, splits, folds: int, block_deg: float, seed: int) -> dict:
    """Fold ids of every split.

    Parameters
    ----------
    profiles : sequence
        Objects with ``lat`` and ``lon``.
    splits : sequence of str
        'blocked' (:func:`blocked_folds`) and/or 'random' (:func:`random_folds`).
    folds : int
    block_deg : float
    seed : int

    Returns
    -------
    dict
        Split -> fold id per profile.

    Raises
    ------
    ConfigError
        An unknown split, or folds that the sites cannot fill.
    """
    lat = np.array([p.lat for p in profiles])
    lon = np.array([p.lon for p in profiles])
    out = {}
    for sp in splits:
        if sp == "random":
            out[sp] = random_folds(len(profiles), folds, seed)
        elif sp == "blocked":
            out[sp] = blocked_folds(lat, lon, folds, block_deg, seed)
        else:
            raise ConfigError(f"unknown split {sp!r} (known: {', '.join(SPLITS)})")
    return out


def _fold(task, data, fold_ids, cfg):
    """Train on the other folds, score the held-out fold: (LayerValues, kp_pred, test)."""
    from pysoc.proda.training import fit_model

    sp, f, t = task
    model, profiles, forcings, X, post = data
    test = np.flatnonzero(fold_ids[sp] == f)
    train = np.flatnonzero(fold_ids[sp] != f)
    pm = fit_model(model, post.subset(train), [profiles[i] for i in train], X[train], cfg["covs"], cfg["netp"],
                   seed=cfg["seed"] + 1000 * (1 + t), n_bootstrap=0, settings=cfg.get("settings"),
                   options=cfg.get("options"))
    prep = model.prepare([forcings[i] for i in test])
    extra = {"site_by_site": model.to_physical(post.full_kp(post.mean[test]))}
    if cfg.get("one_batch_kp") is not None:
        extra["one_batch"] = np.repeat(model.to_physical(np.asarray(cfg["one_batch_kp"], float))[None, :],
                                       test.size, axis=0)
    lv = score_methods(pm, [profiles[i] for i in test], prep, X[test], n_random=cfg["n_random"],
                       seed=cfg["seed"] + 7 * t + 1, extra=extra)
    return lv, pm.predict_kp(X[test], "best")[0], test


def evaluate_heldout(model, profiles, forcings, X, post, network_params: dict, covs, *, folds: int = 5,
                     block_deg: float = 10.0, seed: int = 0, n_random: int = 1000, one_batch_kp=None,
                     splits=SPLITS, n_boot: int = 1000, options: dict | None = None, comm=None,
                     progress=None) -> dict | None:
    """K-fold evaluation (module docstring).

    Parameters
    ----------
    model : SoilCarbonModel
    profiles, forcings : list
        Profiles and their site-forcing datasets (aligned with the rows of X and post).
    X : ndarray (n, ncov)
    post : SitePosteriors
    network_params : dict
        Keyword arguments of :class:`~pysoc.proda.network.ProdaNetwork`.
    covs : sequence of Covariate
    folds, block_deg, seed, n_random, one_batch_kp, splits, n_boot
        See the ``&evaluation`` namelist group.
    options : dict, optional
        Training options of :func:`pysoc.proda.training.fit_model`.
    comm : SerialExecutor or MPIExecutor, optional
        Executor of :func:`pysoc.da.parallel.get_executor` (default serial).
        Folds are spread round-robin over the ranks.
    progress : callable, optional

    Returns
    -------
    dict or None
        On rank 0: 'metrics', 'differences', 'pairs', 'parameters' (DataFrames, column
        'split') and 'folds'; None on the other ranks.
    """
    comm = comm or SerialExecutor()
    fold_ids = make_folds(profiles, splits, folds, block_deg, seed)
    cfg = dict(covs=covs, netp=network_params, seed=seed, n_random=n_random, one_batch_kp=one_batch_kp,
               options=options)
    tasks = [(sp, f, t) for t, (sp, f) in enumerate((sp, f) for sp in splits for f in range(folds))]
    local = {}
    for task in (t for t in tasks if owner(t[2], comm.size) == comm.rank):
        local[task[:2]] = _fold(task, (model, profiles, forcings, X, post), fold_ids, cfg)
        if progress is not None:
            progress(f"{task[0]} fold {task[1] + 1}/{folds}")
    gathered = comm.gather(local, root=0)
    if comm.rank != 0:
        return None
    res = {}
    for d in gathered:
        res.update(d)
    out = {k: [] for k in ("metrics", "differences", "pairs", "parameters")}
    for sp in splits:
        for k, df in _split_tables(sp, [res[(sp, f)] for f in range(folds)], post, n_boot, seed).items():
            out[k].append(df)
    out = {k: pd.concat(v, ignore_index=True) for k, v in out.items()}
    out["folds"] = fold_ids
    return out


def _split_tables(split: str, fold_results: list, post, n_boot: int, seed: int) -> dict:
    """Metrics, differences, pairs and parameter skill of one split from its folds'
    (layer values, predicted kp, test rows), each with a leading 'split' column."""
    lv = LayerValues.concat([r[0] for r in fold_results])
    met, diff = metrics_table(lv, n_boot, seed)
    kp = np.full_like(post.mean, np.nan)
    for _, kp_test, test in fold_results:
        kp[test] = kp_test
    tables = {"metrics": met, "differences": diff, "pairs": lv.pairs_table(), "parameters": parameter_skill(post, kp)}
    for df in tables.values():
        df.insert(0, "split", split)
    return tables


def parameter_skill(post, kp_pred: np.ndarray) -> pd.DataFrame:
    """Held-out skill of the predicted kp against the posterior means, per parameter.

    Parameters
    ----------
    post : SitePosteriors
    kp_pred : numpy.ndarray
        (site, parameter) predicted kp (NaN where not predicted).

    Returns
    -------
    pandas.DataFrame
        One row per parameter: r2, r, the spreads of the posterior means and of the
        predictions, their ratio and the mean posterior SD.
    """
    rows = []
    for j, name in enumerate(post.param_names):
        t, p = post.mean[:, j], kp_pred[:, j]
        ok = np.isfinite(t) & np.isfinite(p)
        t, p = t[ok], p[ok]
        sst = float(((t - t.mean()) ** 2).sum()) if t.size else 0.0
        rows.append(dict(parameter=name, r2=float(1 - ((t - p) ** 2).sum() / sst) if sst > 0 else np.nan,
                         r=float(np.corrcoef(t, p)[0, 1]) if t.size > 2 and t.std() > 0 and p.std() > 0 else np.nan,
                         sd_posterior_means=float(t.std()) if t.size else np.nan,
                         sd_predicted=float(p.std()) if p.size else np.nan,
                         spread_ratio=float(p.std() / t.std()) if t.size and t.std() > 0 else np.nan,
                         posterior_sd_kp=float(np.nanmean(post.draws[ok, :, j].std(axis=1)))
                         if post.draws is not None else np.nan))
    return pd.DataFrame(rows)

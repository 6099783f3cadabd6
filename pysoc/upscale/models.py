"""Learners of site Rh and their cross-validation: random forest (the seed's configuration
and a regularised one), extremely randomised trees, XGBoost (optionally with monotone
constraints), the hybrid process + ML model, grouped folds (by grid cell or site, with a
distance buffer), record-level folds (the seed's design), skill scores, impurity /
permutation importance, partial dependence and PCA group importance (methods.md §4.3, seed
004 "Geospatial modelling of Rh").

Skill scores (on the pooled out-of-fold predictions):

- ``R2``  — squared Pearson correlation of predicted vs observed (the study's "goodness of
  fit", which is why its R² can be below its NSE);
- ``NSE`` — Nash-Sutcliffe efficiency, 1 - SSE / SST;
- ``RMSE`` in g C m-2 yr-1.

``mtry`` is scikit-learn's ``max_features`` (number of design-matrix columns tried at each
split, as in R randomForest); the vegetation type is one-hot encoded, so its classes count
as separate columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.decomposition import PCA
from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor
from sklearn.inspection import partial_dependence
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from pysoc.errors import ConfigError, DataError
from pysoc.upscale.predictors import ALL_PREDICTORS, column_groups


def _progress(it, enabled: bool, **kw):
    if not enabled:
        return it
    from tqdm.auto import tqdm
    return tqdm(it, **kw)


# ----------------------------------------------------------------------------- metrics
def skill(obs: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """R2 (squared Pearson r), NSE, RMSE, bias (pred - obs) and n."""
    o, p = np.asarray(obs, float), np.asarray(pred, float)
    if o.shape != p.shape or o.size < 2:
        raise DataError(f"skill: need matching arrays of >= 2 values, got {o.shape} and {p.shape}")
    r = np.corrcoef(o, p)[0, 1] if np.std(p) > 0 and np.std(o) > 0 else 0.0
    sse = float(np.sum((p - o) ** 2))
    sst = float(np.sum((o - o.mean()) ** 2))
    return {"R2": float(r * r), "NSE": 1.0 - sse / sst if sst > 0 else float("nan"),
            "RMSE": float(np.sqrt(sse / o.size)), "bias": float(np.mean(p - o)), "n": int(o.size)}


# ----------------------------------------------------------------------------- folds
def stratified_folds(strata: np.ndarray, n_folds: int = 10, seed: int = 1,
                     groups: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """k folds with each stratum (climate zone) represented in proportion in every fold;
    with ``groups`` (e.g. site ids) no group is split between training and test."""
    strata = np.asarray(strata)
    if n_folds < 2:
        raise ConfigError(f"n_folds must be >= 2, got {n_folds}")
    _, counts = np.unique(strata, return_counts=True)
    if counts.min() < n_folds:
        small = {s: int(c) for s, c in zip(*np.unique(strata, return_counts=True)) if c < n_folds}
        raise DataError(f"stratified CV: stratum sizes {small} smaller than n_folds={n_folds}")
    idx = np.zeros(len(strata))
    if groups is None:
        cv = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        return [(tr, te) for tr, te in cv.split(idx, strata)]
    cv = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return [(tr, te) for tr, te in cv.split(idx, strata, groups)]


def cell_ids(lat: np.ndarray, lon: np.ndarray, cell_deg: float = 0.5) -> np.ndarray:
    """Id of the ``cell_deg`` grid cell of each location (``"lat0,lon0"`` of its corner)."""
    la, lo = np.asarray(lat, float), np.asarray(lon, float)
    ok = np.isfinite(la) & np.isfinite(lo)
    i = np.floor(np.where(ok, la, 0.0) / cell_deg).astype(np.int64)
    j = np.floor(np.where(ok, lo, 0.0) / cell_deg).astype(np.int64)
    return np.array([f"{a * cell_deg:g},{b * cell_deg:g}" if g else "nan" for a, b, g in zip(i, j, ok)], dtype=object)


def site_ids(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Site id: coordinates rounded to 0.01 degree."""
    return np.array([f"{a:.2f},{b:.2f}" for a, b in zip(np.asarray(lat, float), np.asarray(lon, float))],
                    dtype=object)


def grouped_folds(lat: np.ndarray, lon: np.ndarray, strata: np.ndarray, n_folds: int = 10, seed: int = 1,
                  group: str = "cell", cell_deg: float = 0.5,
                  buffer_km: float = 0.0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Spatially grouped folds: every record of a group (a ``cell_deg`` grid cell or a site)
    is in the same test fold, groups are spread over the folds with each stratum (climate
    zone) in proportion, and training records closer than ``buffer_km`` to any test record
    are left out of that fold's training set.

    Parameters
    ----------
    lat, lon : array_like
        Record coordinates (degrees).
    strata : array_like
        Stratum of each record (climate zone).
    n_folds, seed : int
        Number of folds and the seed of the assignment.
    group : {'cell', 'site'}
        Grouping unit.
    cell_deg : float
        Cell size of ``group='cell'``.
    buffer_km : float
        Distance buffer between training and test records (0 = none).

    Returns
    -------
    list of (train, test) index arrays

    Examples
    --------
    >>> import numpy as np
    >>> lat = np.repeat(np.arange(40), 3) * 1.0; lon = np.zeros(120)
    >>> f = grouped_folds(lat, lon, np.array(["a"] * 120), 4, 1, buffer_km=150)
    >>> all(np.min(np.abs(lat[tr][:, None] - lat[te][None, :])) > 1.3 for tr, te in f)
    True
    """
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    if group not in ("cell", "site"):
        raise ConfigError(f"CV group {group!r} not one of 'cell', 'site'")
    groups = cell_ids(lat, lon, cell_deg) if group == "cell" else site_ids(lat, lon)
    if len(np.unique(groups)) < n_folds:
        raise DataError(f"grouped CV: {len(np.unique(groups))} groups, fewer than n_folds={n_folds}")
    folds = stratified_folds(strata, n_folds, seed, groups=groups)
    if buffer_km <= 0:
        return folds
    from pysoc.io.grid import NearestCells

    out = []
    for tr, te in folds:
        _, km = NearestCells(lat[te], lon[te]).query(lat[tr], lon[tr])
        out.append((tr[km > buffer_km], te))
    return out


# ----------------------------------------------------------------------------- learners
def make_rf(ntree: int, mtry: int, seed: int, n_jobs: int = 1, min_samples_leaf: int = 1,
            min_samples_split: int = 6) -> RandomForestRegressor:
    """Random forest as in R randomForest regression: bootstrap samples, ``mtry`` columns per
    split, nodes of <= 5 records not split (nodesize 5 -> min_samples_split 6)."""
    return RandomForestRegressor(n_estimators=ntree, max_features=mtry, random_state=seed, n_jobs=n_jobs,
                                 min_samples_leaf=min_samples_leaf, min_samples_split=min_samples_split,
                                 bootstrap=True)


def make_extra_trees(ntree: int, max_features: float, seed: int, n_jobs: int = 1,
                     min_samples_leaf: int = 5) -> ExtraTreesRegressor:
    """Extremely randomised trees (random split points; no bootstrap)."""
    return ExtraTreesRegressor(n_estimators=ntree, max_features=max_features, min_samples_leaf=min_samples_leaf,
                               random_state=seed, n_jobs=n_jobs)


def make_xgb(seed: int, n_jobs: int = 1, n_estimators: int = 400, max_depth: int = 4,
             learning_rate: float = 0.03, subsample: float = 0.8, colsample_bytree: float = 0.8,
             min_child_weight: float = 3.0, reg_lambda: float = 1.0, monotone_constraints=None):
    """XGBoost regressor (hist trees); ``monotone_constraints`` a tuple of -1/0/+1 per column."""
    import xgboost as xgb
    kw = {} if monotone_constraints is None else {"monotone_constraints": tuple(int(c) for c in monotone_constraints)}
    return xgb.XGBRegressor(n_estimators=n_estimators, max_depth=max_depth, learning_rate=learning_rate,
                            subsample=subsample, colsample_bytree=colsample_bytree,
                            min_child_weight=min_child_weight, reg_lambda=reg_lambda, tree_method="hist",
                            random_state=seed, n_jobs=n_jobs, verbosity=0, **kw)


class LinearBaseline(BaseEstimator, RegressorMixin):
    """Least-squares line on the first ``n_columns`` columns (the MAT + MAP baseline)."""

    def __init__(self, n_columns: int = 2):
        self.n_columns = n_columns

    def fit(self, X, y):
        A = np.column_stack([np.ones(len(y)), np.asarray(X, float)[:, :self.n_columns]])
        self.coef_ = np.linalg.lstsq(A, np.asarray(y, float), rcond=None)[0]
        return self

    def predict(self, X):
        X = np.asarray(X, float)[:, :self.n_columns]
        return self.coef_[0] + X @ self.coef_[1:]


class MeanBaseline(BaseEstimator, RegressorMixin):
    """The training mean."""

    def fit(self, X, y):
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)


class HybridRegressor(BaseEstimator, RegressorMixin):
    """Process-based Rh plus a machine-learning model of its residual.

    The first four columns of ``X`` are the process inputs (MAT, Tseas, MAP, SOC, see
    :data:`pysoc.upscale.process.PROCESS_INPUTS`); the residual learner sees all columns.
    The process part (:class:`pysoc.upscale.process.ProcessRh`) uses the temperature and water
    scalars of ``decomposition_model`` with calibrated Q10 and water scaling.

    Parameters
    ----------
    decomposition_model : str
        Name of the soil-carbon model giving the scalars.
    residual : estimator or None
        Regressor fitted to ``y - Rh_proc`` (None: process part only).
    """

    def __init__(self, decomposition_model: str = "", residual=None):
        self.decomposition_model = decomposition_model
        self.residual = residual

    def _process(self):
        from pysoc.upscale.process import ProcessRh, decomposition_model
        proc = ProcessRh(decomposition_model(self.decomposition_model))
        if hasattr(self, "process_coef_"):
            proc.coef = np.asarray(self.process_coef_, float)
        return proc

    def fit(self, X, y):
        X, y = np.asarray(X, float), np.asarray(y, float)
        proc = self._process().fit(X[:, :4], y)
        self.process_coef_ = np.asarray(proc.coef, float)
        self.process_params_ = proc.params()
        if self.residual is not None:
            self.residual_ = clone(self.residual).fit(X, y - proc.predict(X[:, :4]))
        return self

    def predict_process(self, X):
        """The process part alone (g C m-2 yr-1)."""
        return self._process().predict(np.asarray(X, float)[:, :4])

    def predict(self, X):
        X = np.asarray(X, float)
        p = self.predict_process(X)
        if self.residual is not None:
            p = p + self.residual_.predict(X)
        return p


@dataclass
class CVResult:
    """Models of the k folds, pooled out-of-fold predictions and skill."""

    name: str
    models: list
    oof: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray]]
    skill: dict[str, float]
    fold_skill: pd.DataFrame
    params: dict = field(default_factory=dict)


def cross_validate(factory: Callable[[], object], X: np.ndarray, y: np.ndarray,
                   folds: list[tuple[np.ndarray, np.ndarray]], name: str = "model",
                   progress: bool = False, params: dict | None = None) -> CVResult:
    """Fit one model per fold; predict the held-out fold."""
    X, y = np.asarray(X, float), np.asarray(y, float)
    oof = np.full(len(y), np.nan)
    models, rows = [], []
    for k, (tr, te) in enumerate(_progress(folds, progress, desc=f"CV {name}", leave=False)):
        m = factory()
        m.fit(X[tr], y[tr])
        oof[te] = m.predict(X[te])
        models.append(m)
        rows.append({"fold": k + 1, **skill(y[te], oof[te])})
    if np.isnan(oof).any():
        raise DataError("cross_validate: folds do not cover every record")
    return CVResult(name, models, oof, folds, skill(y, oof), pd.DataFrame(rows), dict(params or {}))


def tune_rf(X: np.ndarray, y: np.ndarray, folds, ntrees=(100, 150, 200), mtrys=(2, 3, 4, 5),
            seed: int = 1, n_jobs: int = 1, criterion: str = "RMSE", progress: bool = False,
            min_samples_leaf: int = 1, min_samples_split: int = 6) -> tuple[pd.DataFrame, dict]:
    """CV skill of every (ntree, mtry). One forest of max(ntree) trees is grown per
    (mtry, fold); the forest of n trees is its first n trees (identical to growing n trees
    with the same seed, because scikit-learn draws the per-tree seeds in sequence)."""
    X, y = np.asarray(X, float), np.asarray(y, float)
    ntrees = sorted(set(int(n) for n in ntrees))
    bad = [m for m in mtrys if m < 1 or m > X.shape[1]]
    if bad:
        raise ConfigError(f"rf_mtry values {bad} outside [1, {X.shape[1]}] (number of design columns)")
    rows = []
    nmax = ntrees[-1]
    jobs = [(m, k) for m in mtrys for k in range(len(folds))]
    oof = {(n, m): np.full(len(y), np.nan) for n in ntrees for m in mtrys}
    for m, k in _progress(jobs, progress, desc="RF ntree x mtry grid"):
        tr, te = folds[k]
        rf = make_rf(nmax, m, seed, n_jobs, min_samples_leaf, min_samples_split).fit(X[tr], y[tr])
        per_tree = np.stack([t.predict(X[te]) for t in rf.estimators_])
        csum = np.cumsum(per_tree, axis=0)
        for n in ntrees:
            oof[(n, m)][te] = csum[n - 1] / n
    for (n, m), p in oof.items():
        rows.append({"ntree": n, "mtry": m, **skill(y, p)})
    tab = pd.DataFrame(rows).sort_values(["ntree", "mtry"]).reset_index(drop=True)
    if criterion not in ("RMSE", "NSE", "R2"):
        raise ConfigError(f"tuning criterion {criterion!r} not one of RMSE, NSE, R2")
    best = tab.loc[tab[criterion].idxmin() if criterion == "RMSE" else tab[criterion].idxmax()]
    return tab, {"ntree": int(best["ntree"]), "mtry": int(best["mtry"])}


# ----------------------------------------------------------------------------- importance
def impurity_importance(models: list, columns: list[str]) -> pd.DataFrame:
    """Impurity (node-purity) importance in % of the total, per predictor (Veg one-hot
    columns summed), mean and SD over the CV models."""
    groups = column_groups(columns)
    vals = []
    for m in models:
        fi = np.asarray(m.feature_importances_, float)
        v = np.array([fi[idx].sum() for idx in groups.values()])
        vals.append(100.0 * v / v.sum() if v.sum() > 0 else v)
    vals = np.array(vals)
    return (pd.DataFrame({"predictor": list(groups), "importance_pct": vals.mean(0), "sd_pct": vals.std(0, ddof=1)
                          if len(vals) > 1 else 0.0}).sort_values("importance_pct", ascending=False)
            .reset_index(drop=True))


def permutation_importance_cv(cv: CVResult, X: np.ndarray, y: np.ndarray, columns: list[str],
                              n_repeats: int = 5, seed: int = 1, progress: bool = False) -> pd.DataFrame:
    """Held-out permutation importance: for each fold model, the rise of the test-fold MSE
    when one predictor (all Veg columns jointly) is shuffled; mean and SD over folds, also
    as % of the summed rises."""
    X, y = np.asarray(X, float), np.asarray(y, float)
    groups = column_groups(columns)
    rng = np.random.default_rng(seed)
    res = np.zeros((len(cv.models), len(groups)))
    for k, (m, (_, te)) in enumerate(_progress(list(zip(cv.models, cv.folds)), progress,
                                               desc="permutation importance", leave=False)):
        Xt, yt = X[te], y[te]
        base = np.mean((m.predict(Xt) - yt) ** 2)
        for g, idx in enumerate(groups.values()):
            rises = []
            for _ in range(n_repeats):
                Xp = Xt.copy()
                perm = rng.permutation(len(te))
                Xp[:, idx] = Xt[perm][:, idx]
                rises.append(np.mean((m.predict(Xp) - yt) ** 2) - base)
            res[k, g] = np.mean(rises)
    mean = res.mean(0)
    tot = np.clip(mean, 0, None).sum()
    return (pd.DataFrame({"predictor": list(groups), "mse_increase": mean,
                          "sd": res.std(0, ddof=1) if len(res) > 1 else 0.0,
                          "importance_pct": 100 * np.clip(mean, 0, None) / tot if tot > 0 else 0.0})
            .sort_values("mse_increase", ascending=False).reset_index(drop=True))


def partial_dependence_cv(models: list, X: np.ndarray, columns: list[str], predictors: list[str],
                          grid_resolution: int = 25, percentiles=(0.05, 0.95)) -> dict[str, pd.DataFrame]:
    """Partial dependence of Rh on each numeric predictor, averaged over the CV models
    (scikit-learn ``partial_dependence``; the value grid spans the given percentiles)."""
    X = np.asarray(X, float)
    out = {}
    for p in predictors:
        if p not in columns:
            continue
        j = columns.index(p)
        curves, grid = [], None
        for m in models:
            method = "recursion" if isinstance(m, RandomForestRegressor) else "brute"
            r = partial_dependence(m, X, [j], grid_resolution=grid_resolution, percentiles=percentiles,
                                   kind="average", method=method)
            grid = r["grid_values"][0]
            curves.append(r["average"][0])
        c = np.array(curves)
        out[p] = pd.DataFrame({"value": grid, "rh_mean": c.mean(0), "rh_sd": c.std(0, ddof=1) if len(c) > 1 else 0.0})
    return out


GROUP_ORDER = ("climate", "vegetation", "soil_abiotic", "soil_biotic")


def pca_group_importance(design: pd.DataFrame, y: np.ndarray, folds, ntree: int, mtry: int, seed: int,
                         n_jobs: int = 1, n_pc: int = 2, min_samples_leaf: int = 1,
                         min_samples_split: int = 6) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """Study's group importance: per predictor group (climate, vegetation, soil abiotic, soil
    biotic; the categorical vegetation type excluded), standardise, take the first ``n_pc``
    principal components, fit an RF on all PCs, sum the impurity importance per group.
    Returns (group table, CV skill of the PC forest, explained-variance table)."""
    y = np.asarray(y, float)
    feats, names, ev_rows, grp_of = [], [], [], {}
    for g in GROUP_ORDER:
        cols = [c for c in design.columns if c in ALL_PREDICTORS and ALL_PREDICTORS[c].group == g]
        if not cols:
            continue
        Z = design[cols].to_numpy(float)
        sd = Z.std(0)
        Z = (Z - Z.mean(0)) / np.where(sd > 0, sd, 1.0)
        k = min(n_pc, len(cols))
        pca = PCA(n_components=k, random_state=seed).fit(Z)
        S = pca.transform(Z)
        for i in range(k):
            nm = f"{g}_PC{i + 1}"
            feats.append(S[:, i])
            names.append(nm)
            grp_of[nm] = g
            ev_rows.append({"group": g, "component": i + 1, "explained_variance_ratio": pca.explained_variance_ratio_[i],
                            "predictors": " ".join(cols)})
    if not feats:
        raise DataError("PCA group importance: no numeric predictors")
    P = np.column_stack(feats)
    m = min(mtry, P.shape[1])
    cv = cross_validate(lambda: make_rf(ntree, m, seed, n_jobs, min_samples_leaf, min_samples_split), P, y, folds,
                        name="PC forest")
    imp = impurity_importance(cv.models, names)
    imp["group"] = imp["predictor"].map(grp_of)
    tab = imp.groupby("group", sort=False)["importance_pct"].sum().reindex(GROUP_ORDER)
    out = pd.DataFrame({"group": list(GROUP_ORDER), "importance_pct": tab.to_numpy(),
                        "available": [g in grp_of.values() for g in GROUP_ORDER]})
    return out, cv.skill, pd.DataFrame(ev_rows)


def predict_ensemble(models: list, X: np.ndarray, batch: int = 20000) -> np.ndarray:
    """Predictions of every model, shape (n_models, n_rows)."""
    X = np.asarray(X, float)
    out = np.empty((len(models), X.shape[0]))
    for i, m in enumerate(models):
        for s in range(0, X.shape[0], batch):
            out[i, s:s + batch] = m.predict(X[s:s + batch])
    return out

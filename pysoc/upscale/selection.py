"""Model and predictor selection by grouped cross-validation.

Every candidate is scored on the same repeated grouped folds (:func:`pysoc.upscale.models.
grouped_folds`), next to the two baselines (training mean, linear MAT + MAP) on the same
folds. Scores are those of the pooled out-of-fold predictions of each repeat, averaged over
the repeats (± SD over repeats). The selection criterion (RMSE by default) picks the
hyperparameters of each candidate; the candidate is picked by the one-standard-error rule
(:func:`pick`): the first of :data:`PREFERENCE` (physically constrained first) whose test-fold
MSE is within one standard error of the best one's. Nested grouped CV (:func:`nested_cv`)
showed that picking the plain best among close candidates, and eliminating predictor
families, chases fold noise on ~200 grid cells (docs/upscale_rh.md).

Candidates (:data:`CANDIDATES`):

- ``rf``            random forest, regularised (leaf size x columns per split grid);
- ``extra_trees``   extremely randomised trees, same grid;
- ``xgb``           XGBoost (depth x rounds grid, learning rate 0.03);
- ``xgb_monotone``  XGBoost with monotone constraints where the predictor's ``sign`` is set;
- ``hybrid``        process Rh with calibrated Q10 and water response + random forest of the
                    residual (needs a decomposition model);
- ``rf_seed``       the seed-004 random forest (its 12 predictors, ntree x mtry grid, nodes of
                    <= 5 records not split), for comparison; never selected.

Predictor selection (:func:`select_families`): backward elimination of predictor families
(temperature, precipitation, texture, soil, biomass, land cover, Köppen, process) with a
fast reference learner (100 extremely randomised trees, leaves of >= 5 records): a family is
dropped when the grouped-CV score without it is no worse; repeated until every removal makes
the score worse. Off by default (``&predictors select_predictors``): nested CV showed that it
chases fold noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from pysoc.errors import ConfigError
from pysoc.upscale import models as M
from pysoc.upscale.predictors import ALL_PREDICTORS, families, predictor_of_column

CANDIDATES = ("rf", "extra_trees", "xgb", "xgb_monotone", "hybrid")
#: order of preference of the one-standard-error rule: physically constrained learners first
#: (monotone constraints, process part), then the unconstrained ones by increasing flexibility
PREFERENCE = ("xgb_monotone", "hybrid", "xgb", "rf", "extra_trees")
METRICS = ("R2", "NSE", "RMSE", "bias")


@dataclass
class Settings:
    """Hyperparameter grids and shared settings (namelist group ``&models``)."""

    seed: int = 1
    n_jobs: int = 1
    criterion: str = "RMSE"
    ntree: int = 200
    leaf_sizes: tuple[int, ...] = (5, 15)
    max_features: tuple[float, ...] = (0.33, 0.6)
    xgb_depths: tuple[int, ...] = (1, 2, 3)
    xgb_rounds: tuple[int, ...] = (100, 200, 400, 800)
    xgb_learning_rate: float = 0.03
    xgb_subsample: float = 0.8
    xgb_colsample: float = 0.6
    xgb_min_child_weight: float = 5.0
    decomposition_model: str = ""
    progress: bool = False
    one_se: bool = True


@dataclass
class Score:
    """Repeated-CV score of one configuration."""

    mean: dict[str, float]
    sd: dict[str, float]
    oof: np.ndarray                 # out-of-fold predictions of the first repeat
    config: dict = field(default_factory=dict)
    fold_mse: np.ndarray | None = None   # test-fold MSE of every fold of every repeat


def _fold_mse(y: np.ndarray, oof: np.ndarray, folds) -> np.ndarray:
    return np.array([np.mean((oof[te] - y[te]) ** 2) for _, te in folds])


def score_repeats(factory: Callable[[], object], X: np.ndarray, y: np.ndarray, fold_sets) -> Score:
    """Pooled out-of-fold skill per repeat, mean and SD over repeats."""
    rows, first, mse = [], None, []
    for folds in fold_sets:
        cv = M.cross_validate(factory, X, y, folds)
        rows.append(cv.skill)
        mse.append(_fold_mse(np.asarray(y, float), cv.oof, folds))
        first = cv.oof if first is None else first
    d = pd.DataFrame(rows)
    sd = d[list(METRICS)].std(ddof=1) if len(d) > 1 else pd.Series(0.0, index=list(METRICS))
    return Score({k: float(d[k].mean()) for k in METRICS} | {"n": int(d["n"].iloc[0])},
                 {k: float(sd[k]) for k in METRICS}, first, fold_mse=np.concatenate(mse))


def better(a: dict, b: dict, criterion: str) -> bool:
    """True when score ``a`` is at least as good as ``b`` by ``criterion``."""
    return a[criterion] <= b[criterion] if criterion == "RMSE" else a[criterion] >= b[criterion]


def pick(best: dict[str, Score], criterion: str, one_se: bool = True) -> str:
    """The selected candidate: the best by ``criterion``, or with the one-standard-error rule
    the first candidate in :data:`PREFERENCE` whose test-fold MSE is within one standard error
    of the best's (paired over the folds of all repeats).

    Examples
    --------
    >>> import numpy as np
    >>> a = Score({"RMSE": 10.0}, {}, None, fold_mse=np.array([100.0, 101.0, 99.0, 100.0]))
    >>> b = Score({"RMSE": 9.9}, {}, None, fold_mse=np.array([95.0, 104.0, 96.0, 101.0]))
    >>> pick({"rf": b, "xgb_monotone": a}, "RMSE"), pick({"rf": b, "xgb_monotone": a}, "RMSE", False)
    ('xgb_monotone', 'rf')
    """
    top = None
    for name, sc in best.items():
        if top is None or not better(best[top].mean, sc.mean, criterion):
            top = name
    if not one_se:
        return top
    for name in sorted(best, key=lambda n: PREFERENCE.index(n) if n in PREFERENCE else len(PREFERENCE)):
        d = best[name].fold_mse - best[top].fold_mse
        if d.mean() <= d.std(ddof=1) / np.sqrt(d.size):
            return name
    return top


def _best(scores: list[Score], criterion: str) -> Score:
    best = scores[0]
    for s in scores[1:]:
        if not better(best.mean, s.mean, criterion):
            best = s
    return best


# ----------------------------------------------------------------------------- designs
def monotone_signs(columns: list[str]) -> tuple[int, ...]:
    """Monotone constraint of each design column (+1 where the predictor's sign is set)."""
    return tuple(int(ALL_PREDICTORS[predictor_of_column(c)].sign) if predictor_of_column(c) in ALL_PREDICTORS
                 else 0 for c in columns)


def estimator(name: str, config: dict, columns: list[str], st: Settings):
    """An unfitted estimator of candidate ``name`` with hyperparameters ``config``."""
    if name in ("rf", "rf_seed"):
        if name == "rf_seed":
            return M.make_rf(config["ntree"], config["mtry"], st.seed, st.n_jobs, 1, 6)
        return M.make_rf(st.ntree, config["max_features"], st.seed, st.n_jobs, config["min_samples_leaf"], 2)
    if name == "extra_trees":
        return M.make_extra_trees(st.ntree, config["max_features"], st.seed, st.n_jobs, config["min_samples_leaf"])
    if name in ("xgb", "xgb_monotone"):
        mono = monotone_signs(columns) if name == "xgb_monotone" else None
        # one thread: on a loaded machine OpenMP threads of XGBoost spin (27x slower measured)
        return M.make_xgb(st.seed, 1, config["n_estimators"], config["max_depth"], st.xgb_learning_rate,
                          st.xgb_subsample, st.xgb_colsample, st.xgb_min_child_weight, 1.0, mono)
    if name == "hybrid":
        if not st.decomposition_model:
            raise ConfigError("candidate 'hybrid' needs &predictors decomposition_model")
        res = M.make_rf(st.ntree, config["max_features"], st.seed, st.n_jobs, config["min_samples_leaf"], 2)
        return M.HybridRegressor(st.decomposition_model, res)
    raise ConfigError(f"unknown candidate model {name!r} (known: {', '.join(CANDIDATES)}, rf_seed)")


def configs(name: str, st: Settings) -> list[dict]:
    """The hyperparameter grid of a candidate."""
    if name in ("rf", "extra_trees", "hybrid"):
        return [{"min_samples_leaf": int(leaf), "max_features": float(mf)}
                for leaf in st.leaf_sizes for mf in st.max_features]
    if name in ("xgb", "xgb_monotone"):
        return [{"max_depth": int(d), "n_estimators": int(max(st.xgb_rounds))} for d in st.xgb_depths]
    raise ConfigError(f"unknown candidate model {name!r}")


def _xgb_staged(name, cfg, X, y, fold_sets, columns, st) -> list[Score]:
    """XGBoost rounds as prefixes of one fit per fold (same trees as fitting fewer rounds)."""
    rounds = sorted(set(int(r) for r in st.xgb_rounds))
    per = {r: [] for r in rounds}
    for folds in fold_sets:
        oof = {r: np.full(len(y), np.nan) for r in rounds}
        for tr, te in folds:
            m = estimator(name, cfg, columns, st).fit(X[tr], y[tr])
            for r in rounds:
                oof[r][te] = m.predict(X[te], iteration_range=(0, r))
        for r in rounds:
            per[r].append((M.skill(y, oof[r]), oof[r], _fold_mse(y, oof[r], folds)))
    out = []
    for r in rounds:
        d = pd.DataFrame([s for s, _, _ in per[r]])
        sd = d[list(METRICS)].std(ddof=1) if len(d) > 1 else pd.Series(0.0, index=list(METRICS))
        out.append(Score({k: float(d[k].mean()) for k in METRICS} | {"n": len(y)},
                         {k: float(sd[k]) for k in METRICS}, per[r][0][1], cfg | {"n_estimators": r},
                         np.concatenate([m for _, _, m in per[r]])))
    return out


def tune(name: str, X: np.ndarray, y: np.ndarray, fold_sets, columns: list[str], st: Settings
         ) -> tuple[Score, pd.DataFrame]:
    """Grouped-CV score of every configuration of candidate ``name``; the best by the
    criterion and the table of all."""
    scores: list[Score] = []
    for cfg in M._progress(configs(name, st), st.progress, desc=f"tuning {name}", leave=False):
        if name in ("xgb", "xgb_monotone"):
            scores += _xgb_staged(name, cfg, X, y, fold_sets, columns, st)
        else:
            s = score_repeats(lambda: estimator(name, cfg, columns, st), X, y, fold_sets)
            s.config = dict(cfg)
            scores.append(s)
    tab = pd.DataFrame([{"model": name, **s.config, **s.mean, **{f"{k}_sd": v for k, v in s.sd.items()}}
                        for s in scores])
    return _best(scores, st.criterion), tab


# ----------------------------------------------------------------------------- predictors
def select_families(design_of: Callable[[list[str]], np.ndarray], predictors: list[str], y: np.ndarray,
                    fold_sets, st: Settings) -> tuple[list[str], pd.DataFrame]:
    """Backward elimination of predictor families by grouped CV (module docstring).

    ``design_of(predictors)`` returns the design matrix of a predictor list. Returns the kept
    predictors and the table of every trial (step, family dropped, score)."""
    fam = families(predictors)
    keep = list(fam)

    def run(fs):
        preds = [p for f in fs for p in fam[f]]
        return score_repeats(lambda: M.make_extra_trees(100, 0.33, st.seed, st.n_jobs, 5), design_of(preds), y,
                             fold_sets).mean

    cur = run(keep)
    rows = [{"step": 0, "dropped": "", "families": " ".join(keep), **cur, "kept": True}]
    step = 0
    while len(keep) > 1:
        step += 1
        trial = {f: run([g for g in keep if g != f]) for f in
                 M._progress(keep, st.progress, desc=f"predictor selection, step {step}", leave=False)}
        rows += [{"step": step, "dropped": f, "families": " ".join(g for g in keep if g != f), **s, "kept": False}
                 for f, s in trial.items()]
        f = min(trial, key=lambda k: trial[k]["RMSE"]) if st.criterion == "RMSE" else \
            max(trial, key=lambda k: trial[k][st.criterion])
        if not better(trial[f], cur, st.criterion):
            break
        keep.remove(f)
        cur = trial[f]
        rows[[i for i, r in enumerate(rows) if r["step"] == step and r["dropped"] == f][0]]["kept"] = True
    return [p for f in keep for p in fam[f]], pd.DataFrame(rows)


# ----------------------------------------------------------------------------- the pipeline
def design_matrix(tab: pd.DataFrame, predictors: list[str], candidate: str) -> tuple[np.ndarray, list[str]]:
    """Design of a candidate: the encoded predictors, preceded by the process inputs
    (:data:`pysoc.upscale.process.PROCESS_INPUTS`) for the hybrid model."""
    from pysoc.upscale.predictors import encode_design
    from pysoc.upscale.process import PROCESS_INPUTS
    D = encode_design(tab, predictors, where="site predictors")
    X = D.to_numpy(float)
    if candidate == "hybrid":
        X = np.column_stack([tab[list(PROCESS_INPUTS)].to_numpy(float), X])
    return X, list(D.columns)


def baseline_scores(tab: pd.DataFrame, y: np.ndarray, fold_sets) -> dict[str, Score]:
    """Training mean and linear MAT + MAP on the given folds."""
    X = tab[["MAT", "MAP"]].to_numpy(float)
    return {"training mean": score_repeats(M.MeanBaseline, X, y, fold_sets),
            "linear MAT + MAP": score_repeats(M.LinearBaseline, X, y, fold_sets)}


@dataclass
class Choice:
    """Outcome of the selection pipeline on one training table."""

    predictors: list[str]
    candidate: str
    config: dict
    best: dict[str, Score]          # best configuration of every candidate
    tuning: pd.DataFrame
    trials: pd.DataFrame | None


def choose(tab: pd.DataFrame, y: np.ndarray, predictors: list[str], candidates, st: Settings, fold_sets,
           select: bool = True) -> Choice:
    """The whole selection pipeline: predictor families (if ``select``), then every
    candidate's hyperparameters, then the candidate, all by grouped CV on ``fold_sets``."""
    preds, trials = list(predictors), None
    if select:
        preds, trials = select_families(lambda ps: design_matrix(tab, ps, "rf")[0], preds, y, fold_sets, st)
    best, tabs = {}, []
    for name in candidates:
        X, cols = design_matrix(tab, preds, name)
        best[name], t = tune(name, X, y, fold_sets, cols, st)
        tabs.append(t)
    sel = pick(best, st.criterion, st.one_se)
    return Choice(preds, sel, dict(best[sel].config), best, pd.concat(tabs, ignore_index=True), trials)


def select_procedure(tab: pd.DataFrame, y: np.ndarray, predictors: list[str], candidates, st: Settings,
                     tune_sets, report_sets, select: bool = False) -> tuple[Choice, dict[str, Score]]:
    """The selection procedure of ``pysoc-upscale``: :func:`choose` on the tuning folds, every
    candidate's best configuration re-scored on other fold assignments (the reporting folds),
    the candidate picked there by :func:`pick`. Returns the choice and the reporting scores."""
    ch = choose(tab, y, predictors, candidates, st, tune_sets, select)
    rescored = {}
    for name, sc in ch.best.items():
        X, cols = design_matrix(tab, ch.predictors, name)
        rescored[name] = score_repeats(lambda: estimator(name, sc.config, cols, st), X, y, report_sets)
        rescored[name].config = dict(sc.config)
    ch.candidate = pick(rescored, st.criterion, st.one_se)
    ch.config = dict(rescored[ch.candidate].config)
    return ch, rescored


def nested_cv(tab: pd.DataFrame, y: np.ndarray, predictors: list[str], candidates, st: Settings,
              outer, inner_folds: Callable[[pd.DataFrame], tuple[list, list]],
              select: bool = False) -> tuple[pd.DataFrame, list]:
    """Nested grouped CV of the whole procedure: for each outer fold,
    :func:`select_procedure` runs on the outer training records only (tuning and reporting
    folds from ``inner_folds``), the chosen model is fitted there and predicts the outer test
    fold; the baselines are fitted on the same outer training records. Returns the skill
    table (pooled outer predictions) and the choices made per outer fold."""
    import warnings
    oof = {k: np.full(len(y), np.nan) for k in ("selected pipeline", "training mean", "linear MAT + MAP")}
    choices = []
    for k, (tr, te) in enumerate(M._progress(outer, st.progress, desc="nested CV (outer folds)")):
        sub = tab.iloc[tr]
        with warnings.catch_warnings():   # joblib worker threads reused across forests: benign, repeated
            warnings.filterwarnings("ignore", message=".*sklearn.utils.parallel.delayed. should be used")
            ch, _ = select_procedure(sub, y[tr], predictors, candidates, st, *inner_folds(sub), select=select)
        choices.append(ch)
        Xa, cols = design_matrix(tab, ch.predictors, ch.candidate)
        m = estimator(ch.candidate, ch.config, cols, st).fit(Xa[tr], y[tr])
        oof["selected pipeline"][te] = m.predict(Xa[te])
        Xb = tab[["MAT", "MAP"]].to_numpy(float)
        oof["training mean"][te] = M.MeanBaseline().fit(Xb[tr], y[tr]).predict(Xb[te])
        oof["linear MAT + MAP"][te] = M.LinearBaseline().fit(Xb[tr], y[tr]).predict(Xb[te])
    rows = [{"model": k, **M.skill(y, v)} for k, v in oof.items()]
    return pd.DataFrame(rows), choices

"""Scores of PRODA and its baselines on held-out profiles (seed 002 Table 1, extended;
``pysoc-proda evaluate MODEL SITES LAYERS`` and the cross-validation of ``pysoc-proda``).

Methods, each giving the modelled mean SOC density over every observed layer:

- ``neural_network``: the model's best-guess network;
- ``default``: the soil-carbon model's default parameter set;
- ``constant``: one constant parameter set, the mean of the training sites' posterior means;
- ``random_sampling``: seed 002's random sampling of site optima: ``n_random`` vectors, each
  parameter drawn independently from the training sites' optima; the modelled profile is the
  mean over the vectors;
- ``direct_rf``: a random forest predicting layer SOC density from the same covariates and
  the depth, without the process model (:mod:`pysoc.proda.direct`);
- extra rows given by the caller (``one_batch``, ``site_by_site``) as parameter vectors.

Metrics (SOC density in kg C m-3; layers pooled over sites): R² = r² of the regression line
(Table 1's definition), NSE (1 - SSE/SST, the R² of the 1:1 line), RMSE, bias, overall and
per depth class of the layer mid-point (0-30, 30-100, > 100 cm); stock R² (r²) over sites of
the 0-30 and 0-100 cm stocks (observed: :meth:`Profile.stock`, >= 90 % of the interval
observed; modelled: the same operator on the modelled layer values). Confidence intervals:
2.5-97.5 % of a bootstrap over sites (sites resampled with replacement, every metric of every
method from the same resamples). ``differences``: the network minus each baseline on the
layers where both have values (paired bootstrap; ``p_not_better`` = share of resamples where
the network's R² is not higher).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pysoc.errors import DataError
from pysoc.profiles import interval_means

BASE_METHODS = ("neural_network", "default", "constant", "random_sampling", "direct_rf")
DEPTH_CLASSES = (("0_30", 0.0, 0.3), ("30_100", 0.3, 1.0), ("100_plus", 1.0, np.inf))
STOCK_INTERVALS = (("0_30", 0.0, 0.3), ("0_100", 0.0, 1.0))
#: seed 002 Table 1 (CLM5, conterminous USA): R^2 per method (the rows it has)
SEED002_R2 = {"default": 0.32, "one_batch": 0.43, "random_sampling": 0.36, "neural_network": 0.62,
              "site_by_site": 0.95}


@dataclass
class LayerValues:
    """Observed and modelled layers of a set of sites (g C m-3), one ``mod`` per method."""

    site: np.ndarray
    top: np.ndarray
    bottom: np.ndarray
    obs: np.ndarray
    mod: dict = field(default_factory=dict)
    failed_sites: dict = field(default_factory=dict)
    site_ids: np.ndarray | None = None

    @classmethod
    def of_profiles(cls, profiles) -> LayerValues:
        n = [p.n_layers for p in profiles]
        site = np.repeat(np.arange(len(profiles)), n)
        cat = (lambda f: np.concatenate([f(p) for p in profiles])) if profiles else (lambda f: np.empty(0))
        return cls(site, cat(lambda p: p.top), cat(lambda p: p.bottom), cat(lambda p: p.soc),
                   site_ids=np.array([p.site_id for p in profiles], dtype=object))

    @staticmethod
    def concat(parts) -> LayerValues:
        parts = [p for p in parts if p.site.size or p.site_ids is not None]
        off = np.cumsum([0] + [len(p.site_ids) for p in parts])
        methods = parts[0].mod.keys() if parts else ()
        out = LayerValues(np.concatenate([p.site + o for p, o in zip(parts, off)]),
                          np.concatenate([p.top for p in parts]), np.concatenate([p.bottom for p in parts]),
                          np.concatenate([p.obs for p in parts]),
                          {m: np.concatenate([p.mod[m] for p in parts]) for m in methods},
                          {m: sum(p.failed_sites.get(m, 0) for p in parts) for m in methods},
                          np.concatenate([p.site_ids for p in parts]))
        return out

    def pairs_table(self) -> pd.DataFrame:
        rows = []
        for m, v in self.mod.items():
            rows.append(pd.DataFrame({"method": m, "site_id": self.site_ids[self.site], "top_m": self.top,
                                      "bottom_m": self.bottom, "obs_g_m3": self.obs, "mod_g_m3": v}))
        return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


# ---- modelled values of the methods -----------------------------------------------------------------
def modelled_layers(model, soc: np.ndarray, profiles) -> np.ndarray:
    """Modelled mean density over every observed layer (concatenated over sites) from model
    profiles soc (nsite, nlev) g C m-3 (NaN rows for failed sites)."""
    out = [interval_means(row[None, :], model.bounds, p.bounds)[0] for row, p in zip(soc, profiles)]
    return np.concatenate(out) if out else np.empty(0)


def _run(model, prep, theta, n):
    from pysoc.proda.predict import run_kernel

    soc, status, _ = run_kernel(model, prep, theta, np.arange(n, dtype=np.int32))
    return soc, int((status != 0).sum())


def random_sampling_profiles(model, pm, prep, n_sites: int, n_random: int, seed: int) -> tuple[np.ndarray, int]:
    """Mean SOC profile of every site over ``n_random`` vectors drawn from the training optima."""
    from pysoc.proda.predict import run_kernel

    rng = np.random.default_rng(seed)
    opt = pm.training.kp_optimum
    idx = rng.integers(0, opt.shape[0], (n_random, opt.shape[1]))
    theta = pm.theta(opt[idx, np.arange(opt.shape[1])[None, :]])
    out = np.full((n_sites, model.nlev), np.nan)
    failed = 0
    for s in range(n_sites):
        soc, st, _ = run_kernel(model, prep, theta, np.full(n_random, s, np.int32))
        ok = st == 0
        if ok.any():
            out[s] = soc[ok].mean(axis=0)
        else:
            failed += 1
    return out, failed


def score_methods(pm, profiles, prep, X, *, n_random: int = 1000, seed: int = 0, extra: dict | None = None,
                  direct=None) -> LayerValues:
    """Modelled layer values of every method at ``profiles`` (forcing ``prep``, covariates X).

    ``extra``: method name -> physical parameter vectors (n, nall) of the sites (e.g.
    one-batch, site-by-site). ``direct``: a fitted :class:`~pysoc.proda.direct.DirectSOC`
    (default: fitted here on the model's training layers)."""
    from pysoc.proda.direct import DirectSOC

    model = pm.model
    n = len(profiles)
    lv = LayerValues.of_profiles(profiles)
    thetas = {"neural_network": pm.theta(pm.predict_kp(X, "best")[0]),
              "default": np.repeat(model.param_vector(None, warn_prior=False)[None, :], n, axis=0),
              "constant": np.repeat(pm.theta(pm.constant_kp())[None, :], n, axis=0)}
    for name, th in thetas.items():
        soc, lv.failed_sites[name] = _run(model, prep, th, n)
        lv.mod[name] = modelled_layers(model, soc, profiles)
    soc, lv.failed_sites["random_sampling"] = random_sampling_profiles(model, pm, prep, n, n_random, seed)
    lv.mod["random_sampling"] = modelled_layers(model, soc, profiles)
    rf = direct if direct is not None else DirectSOC(seed).fit(pm.training)
    lv.mod["direct_rf"] = rf.predict(X, lv.site, lv.top, lv.bottom)
    lv.failed_sites["direct_rf"] = 0
    for name, th in (extra or {}).items():
        soc, lv.failed_sites[name] = _run(model, prep, np.asarray(th, float), n)
        lv.mod[name] = modelled_layers(model, soc, profiles)
    return lv


# ---- metrics with bootstrap intervals ------------------------------------------------------------------
def _weighted(o, m, w):
    """r², NSE, RMSE, bias for weights w (B, n) of pairs (o, m) (n,) -> arrays (B,)."""
    sw = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mo, mm = (w @ o) / sw, (w @ m) / sw
        voo = (w @ (o * o)) / sw - mo * mo
        vmm = (w @ (m * m)) / sw - mm * mm
        vom = (w @ (o * m)) / sw - mo * mm
        sse = (w @ ((o - m) ** 2)) / sw
        r2 = np.where((voo > 0) & (vmm > 0), vom * vom / (voo * vmm), np.nan)
        return {"r2": r2, "nse": np.where(voo > 0, 1.0 - sse / voo, np.nan), "rmse": np.sqrt(sse),
                "bias": mm - mo, "n": sw}


def _stock_pairs(lv: LayerValues, method: str, top: float, bottom: float):
    """Observed and modelled stocks (kg C m-2) of [top, bottom] per site (NaN where < 90 % observed)."""
    ov = np.clip(np.minimum(lv.bottom, bottom) - np.maximum(lv.top, top), 0.0, None)
    ns = len(lv.site_ids)
    cover = np.bincount(lv.site, ov, ns)
    obs = np.bincount(lv.site, lv.obs * ov, ns)
    mod_v = lv.mod[method]
    mod = np.bincount(lv.site, np.nan_to_num(mod_v) * ov, ns)
    bad = np.bincount(lv.site, (~np.isfinite(mod_v) & (ov > 0)).astype(float), ns) > 0
    ok = (cover >= 0.9 * (bottom - top)) & (cover > 0) & ~bad
    with np.errstate(invalid="ignore", divide="ignore"):
        f = (bottom - top) / cover / 1000.0
    return np.where(ok, obs * f, np.nan), np.where(ok, mod * f, np.nan)


def _boot_weights(n_sites: int, n_boot: int, seed: int) -> np.ndarray:
    """Row 0: every site once; rows 1..: multinomial resample counts of the sites."""
    rng = np.random.default_rng(seed)
    w = np.ones((n_boot + 1, n_sites))
    if n_boot and n_sites:
        w[1:] = rng.multinomial(n_sites, np.full(n_sites, 1.0 / n_sites), size=n_boot)
    return w


def _summary(name: str, vals: np.ndarray, row: dict, scale: float = 1.0) -> None:
    row[name] = float(vals[0]) * scale
    b = vals[1:][np.isfinite(vals[1:])] * scale
    row[f"{name}_lo"] = float(np.quantile(b, 0.025)) if b.size else np.nan
    row[f"{name}_hi"] = float(np.quantile(b, 0.975)) if b.size else np.nan


def metrics_table(lv: LayerValues, n_boot: int = 1000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(metrics, differences) tables of :class:`LayerValues` (module docstring)."""
    W = _boot_weights(len(lv.site_ids), n_boot, seed)
    mid = 0.5 * (lv.top + lv.bottom)
    rows, stats = [], {}
    for meth, mod in lv.mod.items():
        ok = np.isfinite(lv.obs) & np.isfinite(mod)
        row = {"method": meth, "n_sites": int(np.unique(lv.site[ok]).size), "n_layers": int(ok.sum()),
               "failed_sites": int(lv.failed_sites.get(meth, 0)),
               "layers_without_model_value": int((np.isfinite(lv.obs) & ~np.isfinite(mod)).sum())}
        st = _weighted(lv.obs[ok] / 1000.0, mod[ok] / 1000.0, W[:, lv.site[ok]])
        stats[meth] = st
        _summary("r2", st["r2"], row)
        _summary("nse", st["nse"], row)
        _summary("rmse_kg_m3", st["rmse"], row)
        row["bias_kg_m3"] = float(st["bias"][0])
        for tag, a, b in DEPTH_CLASSES:
            sel = ok & (mid >= a) & (mid < b)
            row[f"n_layers_{tag}"] = int(sel.sum())
            sd = _weighted(lv.obs[sel] / 1000.0, mod[sel] / 1000.0, W[:, lv.site[sel]])
            _summary(f"r2_{tag}", sd["r2"], row)
            _summary(f"rmse_{tag}_kg_m3", sd["rmse"], row)
        for tag, a, b in STOCK_INTERVALS:
            o, m = _stock_pairs(lv, meth, a, b)
            f = np.isfinite(o) & np.isfinite(m)
            row[f"n_sites_stock_{tag}"] = int(f.sum())
            ss = _weighted(o[f], m[f], W[:, np.flatnonzero(f)])
            _summary(f"stock_r2_{tag}", ss["r2"], row)
        row["seed002_r2"] = SEED002_R2.get(meth, np.nan)
        rows.append(row)
    return pd.DataFrame(rows), _differences(lv, W)


def _differences(lv: LayerValues, W: np.ndarray) -> pd.DataFrame:
    if "neural_network" not in lv.mod:
        return pd.DataFrame()
    nn = lv.mod["neural_network"]
    rows = []
    for meth, mod in lv.mod.items():
        if meth == "neural_network":
            continue
        ok = np.isfinite(lv.obs) & np.isfinite(nn) & np.isfinite(mod)
        a = _weighted(lv.obs[ok] / 1e3, nn[ok] / 1e3, W[:, lv.site[ok]])
        b = _weighted(lv.obs[ok] / 1e3, mod[ok] / 1e3, W[:, lv.site[ok]])
        row = {"baseline": meth, "n_layers": int(ok.sum())}
        _summary("delta_r2", a["r2"] - b["r2"], row)
        _summary("delta_rmse_kg_m3", a["rmse"] - b["rmse"], row)
        d = (a["r2"] - b["r2"])[1:]
        row["p_not_better"] = float(np.mean(d[np.isfinite(d)] <= 0)) if np.isfinite(d).any() else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def metric_lines(met: pd.DataFrame, diff: pd.DataFrame, indent: str = "  ") -> list[str]:
    """Text lines of one metrics table and its differences (log and CLI output)."""
    lines = [f"{indent}{'method':16s} R2 [95 % CI over sites]  RMSE kg C m-3  R2 0-30 / 30-100 / >100 cm  "
             f"stock R2 0-30 / 0-100 cm"]
    for r in met.itertuples():
        lines.append(f"{indent}{r.method:16s} {r.r2:5.2f} [{r.r2_lo:5.2f}, {r.r2_hi:5.2f}]  {r.rmse_kg_m3:6.2f}       "
                     f"{r.r2_0_30:5.2f} / {r.r2_30_100:5.2f} / {r.r2_100_plus:5.2f}      "
                     f"{r.stock_r2_0_30:5.2f} / {r.stock_r2_0_100:5.2f}   ({r.n_layers} layers, {r.n_sites} sites)")
    for r in diff.itertuples():
        lines.append(f"{indent}network - {r.baseline:16s} dR2 {r.delta_r2:+5.2f} [{r.delta_r2_lo:+.2f}, "
                     f"{r.delta_r2_hi:+.2f}]  dRMSE {r.delta_rmse_kg_m3:+6.2f}")
    return lines


# ---- pysoc-proda evaluate ----------------------------------------------------------------------------------
@dataclass
class Evaluation:
    """Result of :func:`evaluate_model`."""

    metrics: pd.DataFrame
    differences: pd.DataFrame
    pairs: pd.DataFrame
    failures: list

    def write(self, prefix) -> list:
        from pathlib import Path

        from pysoc.proda.output import write_csv

        prefix = Path(prefix)
        return [write_csv(self.metrics, prefix.with_name(prefix.name + "_evaluation.csv")),
                write_csv(self.differences, prefix.with_name(prefix.name + "_differences.csv")),
                write_csv(self.pairs, prefix.with_name(prefix.name + "_evaluation_pairs.csv"))]


def evaluate_model(pm, sites, layers, *, n_random: int = 1000, n_boot: int = 1000, seed: int = 0, grid=None,
                   max_km: float | None = None, progress: bool = False) -> Evaluation:
    """Score a saved model on held-out profiles against the baselines (module docstring).

    Parameters
    ----------
    pm : ProdaModel
        The model (trained without these sites).
    sites, layers : str or Path
        Profile tables of the held-out sites (:func:`pysoc.io.profiles.read_profiles` format).
    n_random : int
        Vectors of the random-sampling method (seed 002: 1000).
    n_boot : int
        Bootstrap resamples of the sites for the confidence intervals.
    seed : int
        Seed of the random sampling, the forest and the bootstrap.
    grid, max_km
        Covariate grid and distance limit for covariates the table lacks (default: the model's).
    progress : bool
        Progress bar while the sites are prepared.

    Returns
    -------
    Evaluation
        ``metrics`` (one row per method), ``differences`` (network minus each baseline),
        ``pairs`` (every layer and method) and ``failures`` [(site_id, reason)].

    Raises
    ------
    DataError
        Bad tables, or no held-out site could be prepared.
    """
    from pysoc.proda.predict import _bar
    from pysoc.proda.sites import load_sites, prepare_new_sites

    profiles = load_sites(sites, layers)
    ss = prepare_new_sites(pm, profiles, grid=grid, max_km=max_km, progress=_bar(progress, "sites"))
    if ss.usable.size == 0:
        raise DataError(f"{sites}: none of the {len(profiles)} sites can be evaluated (first: "
                        f"{ss.failures()[0][0]}: {ss.failures()[0][1]})")
    use = [ss.profiles[i] for i in ss.usable]
    lv = score_methods(pm, use, ss.prep, ss.X[ss.usable], n_random=n_random, seed=seed)
    met, diff = metrics_table(lv, n_boot, seed)
    met.insert(1, "n_sites_not_evaluated", len(ss.failures()))
    return Evaluation(met, diff, lv.pairs_table(), ss.failures())

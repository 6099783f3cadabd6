"""Figures of the Rh upscaling (matplotlib, Agg backend, PNG)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from pysoc.upscale.output import _atomic  # noqa: E402


def _save(fig, path: Path) -> Path:
    out = _atomic(Path(path), lambda tmp: fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png"))
    plt.close(fig)
    return out


def cv_scatter(obs, pred_a, pred_b, skill_a: dict, skill_b: dict | None, zone, path,
               names=("selected model", "linear MAT + MAP")) -> Path:
    """Out-of-fold predictions (grouped CV) of two models against the observations."""
    fig, axes = plt.subplots(1, 2 if pred_b is not None else 1, figsize=(9 if pred_b is not None else 4.8, 4.3),
                             squeeze=False)
    hi = float(np.nanmax([np.max(obs), np.max(pred_a)])) * 1.05
    colors = {"tropical": "tab:red", "temperate": "tab:green", "boreal": "tab:blue"}
    for ax, pred, sk, name in zip(axes[0], [pred_a, pred_b], [skill_a, skill_b], names):
        if pred is None:
            continue
        for z, c in colors.items():
            m = np.asarray(zone) == z
            ax.scatter(obs[m], pred[m], s=9, alpha=0.6, color=c, label=f"{z} (n={m.sum()})")
        ax.plot([0, hi], [0, hi], "k--", lw=0.8)
        ax.set_xlim(0, hi)
        ax.set_ylim(0, hi)
        ax.set_xlabel("observed Rh (g C m$^{-2}$ yr$^{-1}$)")
        ax.set_ylabel("grouped-CV predicted Rh")
        ax.set_title(f"{name}: R²={sk['R2']:.2f} NSE={sk['NSE']:.2f} RMSE={sk['RMSE']:.0f}", fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
    return _save(fig, path)


def skill_table(table: pd.DataFrame, path) -> Path:
    """Grouped-CV R² and RMSE (mean ± SD over repeats) of the baselines and candidates."""
    t = table[table["cv"] == table["cv"].iloc[0]].reset_index(drop=True)
    fig, axes = plt.subplots(1, 2, figsize=(9, 0.35 * len(t) + 1.4), sharey=True)
    y = np.arange(len(t))[::-1]
    col = ["0.6" if m in ("training mean", "linear MAT + MAP") else ("tab:red" if s else "tab:blue")
           for m, s in zip(t["model"], t["selected"])]
    for ax, k, lab in ((axes[0], "R2", "grouped-CV R²"), (axes[1], "RMSE", "grouped-CV RMSE (g C m$^{-2}$ yr$^{-1}$)")):
        ax.barh(y, t[k], xerr=t[f"{k}_sd"], color=col)
        ax.set_xlabel(lab)
    lin = t.loc[t["model"] == "linear MAT + MAP", "R2"]
    if len(lin):
        axes[0].axvline(float(lin.iloc[0]), color="k", ls=":", lw=1, label="linear MAT + MAP (baseline)")
        axes[0].legend(fontsize=7, loc="lower right")
    axes[0].set_yticks(y, t["model"], fontsize=8)
    fig.suptitle(t["cv"].iloc[0], fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def importance(imp: pd.DataFrame | None, perm: pd.DataFrame | None, groups: dict, path) -> Path:
    """Impurity importance (if given) and grouped permutation importance."""
    colors = {"climate": "tab:green", "vegetation": "tab:red", "soil_abiotic": "tab:blue", "soil_biotic": "tab:orange"}
    panels = [x for x in (imp, perm) if x is not None]
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n, 0.3 * max(len(x) for x in panels) + 1.2), squeeze=False)
    col = 0
    if imp is not None:
        d = imp.iloc[::-1]
        ax = axes[0, 0]
        ax.barh(d["predictor"], d["importance_pct"], xerr=d["sd_pct"],
                color=[colors.get(groups.get(p), "grey") for p in d["predictor"]])
        ax.set_xlabel("impurity importance (%)")
        ax.set_title("node purity (mean ± SD over CV forests)", fontsize=9)
        col = 1
    if perm is not None:
        d = perm.iloc[::-1]
        ax = axes[0, col]
        ax.barh(d["predictor"], d["mse_increase"] / 1e3, xerr=d["sd"] / 1e3,
                color=[colors.get(groups.get(p), "grey") for p in d["predictor"]])
        ax.set_xlabel("held-out MSE increase (10$^3$ (g C m$^{-2}$ yr$^{-1}$)$^2$)")
        ax.set_title("grouped permutation importance (held-out folds)", fontsize=9)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colors.values()]
    fig.legend(handles, list(colors), loc="lower center", ncol=4, fontsize=7, bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return _save(fig, path)


def pdp(curves: dict[str, pd.DataFrame], units: dict[str, str], path) -> Path:
    n = len(curves)
    if n == 0:
        return None
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 2.7 * rows), squeeze=False)
    for ax, (name, c) in zip(axes.ravel(), curves.items()):
        ax.plot(c["value"], c["rh_mean"], "k-")
        ax.fill_between(c["value"], c["rh_mean"] - c["rh_sd"], c["rh_mean"] + c["rh_sd"], color="tab:blue", alpha=0.3)
        ax.set_xlabel(f"{name} ({units.get(name, '')})")
        ax.set_ylabel("f(Rh) (g C m$^{-2}$ yr$^{-1}$)")
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    return _save(fig, path)


def global_map(lat, lon, field, title: str, label: str, path, vmin=None, vmax=None, cmap="viridis", field2=None,
               title2: str = "", label2: str = "") -> Path:
    n = 2 if field2 is not None else 1
    fig, axes = plt.subplots(n, 1, figsize=(8, 3.7 * n), squeeze=False)
    for ax, f, t, lab in zip(axes[:, 0], [field, field2], [title, title2], [label, label2]):
        if f is None:
            continue
        im = ax.pcolormesh(lon, lat, np.ma.masked_invalid(f), shading="auto", cmap=cmap,
                           vmin=vmin if f is field else None, vmax=vmax if f is field else None)
        ax.set_title(t, fontsize=9)
        ax.set_xlim(-180, 180)
        ax.set_ylim(-60, 85)
        ax.set_aspect("equal")
        ax.set_facecolor("0.92")
        fig.colorbar(im, ax=ax, label=lab, shrink=0.8)
    fig.tight_layout()
    return _save(fig, path)


def twobox(summary: pd.DataFrame, series: dict[str, pd.DataFrame], path) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    ax = axes[0]
    for name, s in series.items():
        base = s["cveg_orig"].iloc[0] + s["csoil_orig"].iloc[0]
        l, = ax.plot(s["year"], s["cveg_orig"] + s["csoil_orig"] - base, "--", lw=1)
        basec = s["cveg_constr"].iloc[0] + s["csoil_constr"].iloc[0]
        m = s["ctotal_constr"] - basec
        ax.plot(s["year"], m, "-", color=l.get_color(), lw=1.2, label=name)
    ax.set_xlabel("year")
    ax.set_ylabel("ΔcTotal since first year (Pg C)")
    ax.set_title("dashed: own τ (2-box emulation); solid: τ constrained", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    ax = axes[1]
    s = summary[summary["model"] != "multi-model mean"]
    x = np.arange(len(s))
    ax.bar(x - 0.2, s["dctotal_orig"], 0.4, label="original τ")
    ax.bar(x + 0.2, s["dctotal_constr"], 0.4, yerr=s["dctotal_constr_sd"], label="constrained τ (mean ± SD)")
    ax.set_xticks(x, s["model"], rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("ΔcTotal (Pg C)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)

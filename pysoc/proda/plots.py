"""Figures of ``pysoc-proda`` (matplotlib, Agg): observed vs modelled SOC for the methods of
seed 002 Table 1, maps of SOC and of the system components, latitudinal profiles
(seed 001 Fig. 2c) and the model-comparison scatter plots (seed 001 Fig. 4)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from pysoc.proda.components import COMPONENTS
from pysoc.proda.evaluate import METHODS
from pysoc.proda.output import interval_label, zonal_mean

LABELS = {"default": "default parameters", "one_batch": "one-batch DA", "random_sampling": "random sampling",
          "neural_network": "neural network (PRODA)", "site_by_site": "site-by-site DA (in-sample)",
          "constant": "one constant parameter set", "direct_rf": "direct random forest (no model)"}


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.part.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    tmp.replace(path)
    return path


def scatter_figure(pairs, metrics, path, title: str = "") -> Path:
    """Observed vs modelled layer SOC density (kg C m-3, log axes) per method and split."""
    plt = _plt()
    splits = sorted(dict.fromkeys(pairs["split"]), key=lambda s: s != "blocked") if len(pairs) else []
    methods = [m for m in METHODS if m in set(pairs["method"])]
    fig, axes = plt.subplots(max(len(splits), 1), max(len(methods), 1), figsize=(3.0 * max(len(methods), 1),
                                                                                  3.1 * max(len(splits), 1)),
                             squeeze=False)
    for i, sp in enumerate(splits):
        for j, m in enumerate(methods):
            ax = axes[i, j]
            d = pairs[(pairs["split"] == sp) & (pairs["method"] == m)]
            o, p = d["obs_g_m3"].to_numpy() / 1000.0, d["mod_g_m3"].to_numpy() / 1000.0
            ok = np.isfinite(o) & np.isfinite(p) & (o > 0) & (p > 0)
            ax.scatter(o[ok], p[ok], s=5, alpha=0.4, color="C0" if m == "neural_network" else "0.35", lw=0)
            lo = max(min(o[ok].min(), p[ok].min()) if ok.any() else 0.01, 1e-3)
            hi = max(o[ok].max(), p[ok].max()) if ok.any() else 100.0
            ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
            ax.set_xscale("log")
            ax.set_yscale("log")
            row = metrics[(metrics["split"] == sp) & (metrics["method"] == m)]
            if len(row):
                r = row.iloc[0]
                ax.text(0.04, 0.96, f"R² {r['r2']:.2f}\nRMSE {r['rmse_kg_m3']:.1f}\nn {int(r['n_layers'])}",
                        transform=ax.transAxes, va="top", fontsize=8)
            ax.set_title(f"{LABELS.get(m, m)}\n{sp} split", fontsize=8)
            if i == len(splits) - 1:
                ax.set_xlabel("observed SOC (kg C m$^{-3}$)", fontsize=8)
            if j == 0:
                ax.set_ylabel("modelled SOC (kg C m$^{-3}$)", fontsize=8)
            ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def _map(ax, ds, field, title, cmap="viridis", log=False, vmin=None, vmax=None, units=""):
    import matplotlib.colors as mcolors

    lon, lat = ds["lon"].values, ds["lat"].values
    v = np.asarray(field, float)
    fin = v[np.isfinite(v)]
    if vmin is None:
        vmin = np.quantile(fin, 0.02) if fin.size else 0
    if vmax is None:
        vmax = np.quantile(fin, 0.98) if fin.size else 1
    norm = mcolors.LogNorm(max(vmin, 1e-3), max(vmax, 2e-3)) if log else mcolors.Normalize(vmin, vmax)
    land = np.isfinite(ds["land_area"].values)
    ax.pcolormesh(lon, lat, np.where(land, 0.0, np.nan), cmap="Greys", vmin=0, vmax=4, shading="auto")
    im = ax.pcolormesh(lon, lat, v, cmap=cmap, norm=norm, shading="auto")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([-60, -30, 0, 30, 60])
    ax.tick_params(labelsize=7)
    ax.set_ylim(-60, 85)
    cb = ax.figure.colorbar(im, ax=ax, shrink=0.8, pad=0.01)
    cb.ax.tick_params(labelsize=7)
    cb.set_label(units, fontsize=7)


def soc_map_figure(ds, path, interval: int = 1) -> Path:
    """Best-guess SOC map with the bootstrap spread of both ensembles."""
    plt = _plt()
    panels = [("soc_stock", "SOC stock, best guess", "YlGnBu", True)]
    if "soc_stock_boot_sd" in ds:
        panels.append(("soc_stock_boot_sd", "bootstrap sd (trained on posterior means)", "magma_r", False))
    if "soc_stock_draws_sd" in ds:
        panels.append(("soc_stock_draws_sd", "bootstrap sd (trained on posterior draws)", "magma_r", False))
    fig, axes = plt.subplots(len(panels), 1, figsize=(7.5, 3.2 * len(panels)), squeeze=False)
    lab = interval_label(ds, interval)
    sdmax = max([np.nanquantile(ds[v].values[interval], 0.98) for v, *_ in panels[1:]] or [None]) \
        if len(panels) > 1 else None
    for ax, (v, t, cm, lg) in zip(axes[:, 0], panels):
        _map(ax, ds, ds[v].values[interval], f"{t} ({lab})", cmap=cm, log=lg,
             vmin=0 if not lg else None, vmax=sdmax if not lg else None, units="kg C m$^{-2}$")
    tot = ds["soc_total"].values[interval]
    fig.suptitle(f"PRODA {ds.attrs.get('model', '')}: global SOC {lab} = {tot:.0f} Pg C (modelled cells)", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def components_figure(ds, path) -> Path:
    plt = _plt()
    items = [(k, COMPONENTS[k][1].split(" (")[0], COMPONENTS[k][0]) for k in COMPONENTS if k in ds] + \
        [("litter_input", "plant carbon input", "g C m$^{-2}$ yr$^{-1}$")]
    fig, axes = plt.subplots(3, 2, figsize=(12, 9), squeeze=False)
    for ax, (k, t, u) in zip(axes.ravel(), items):
        _map(ax, ds, ds[k].values, t, cmap="viridis", log=k in ("k_system", "v_system"), units=u)
    for ax in axes.ravel()[len(items):]:
        ax.axis("off")
    fig.suptitle(f"PRODA {ds.attrs.get('model', '')}: system-level components (seed 001 eq. 10-14)", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def latitude_figure(ds_list, path, interval: int = 1, labels=None) -> Path:
    """Latitudinal profiles of SOC (seed 001 Fig. 2c): zonal area-weighted mean stock of the
    best guess with the 5-95 % range of the bootstrap members (zonal means per member)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.2, 5.5))
    for k, ds in enumerate(ds_list):
        lat = ds["lat"].values
        lab = (labels or [ds.attrs.get("model", f"model {k}") for ds in ds_list])[k]
        zm = zonal_mean(ds, ds["soc_stock"].values[interval])
        col = f"C{k}"
        ax.plot(zm, lat, color=col, lw=1.6, label=f"{lab} best guess")
        for name, ls, alpha in (("boot", "-", 0.25), ("draws", "--", 0.12)):
            v = f"soc_zonal_{name}"
            if v in ds and ds[v].shape[0] > 1:
                z = ds[v].values
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)      # latitudes without land
                    lo, hi = np.nanquantile(z, 0.05, axis=0), np.nanquantile(z, 0.95, axis=0)
                ax.fill_betweenx(lat, lo, hi, color=col, alpha=alpha, lw=0,
                                 label=f"{lab} 5-95 % ({'posterior means' if name == 'boot' else 'posterior draws'})")
    ax.set_ylim(-60, 85)
    ax.set_xlabel(f"SOC {interval_label(ds_list[0], interval)} (kg C m$^{{-2}}$)")
    ax.set_ylabel("latitude (°N)")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def comparison_figure(ds_a, ds_b, table, path, interval: int = 1) -> Path:
    """Scatter of the two models' SOC (log) and components with Pearson r (seed 001 Fig. 4)."""
    plt = _plt()
    rows = list(table.itertuples())
    n = len(rows)
    ncol = 4
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 3.0 * nrow), squeeze=False)
    for ax, r in zip(axes.ravel(), rows):
        a = ds_a[r.variable].values[interval] if r.variable == "soc_stock" else ds_a[r.variable].values
        b = ds_b[r.variable].values[interval] if r.variable == "soc_stock" else ds_b[r.variable].values
        if r.variable == "soc_stock":
            with np.errstate(divide="ignore", invalid="ignore"):
                a, b = np.log10(a), np.log10(b)
        ok = np.isfinite(a) & np.isfinite(b)
        ax.scatter(a[ok], b[ok], s=3, alpha=0.3, lw=0)
        lo, hi = (min(a[ok].min(), b[ok].min()), max(a[ok].max(), b[ok].max())) if ok.any() else (0, 1)
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.7)
        ax.set_title(f"{r.variable}: r = {r.pearson_r:.2f}", fontsize=9)
        ax.set_xlabel(str(r.model_a), fontsize=8)
        ax.set_ylabel(str(r.model_b), fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.tight_layout()
    return _save(fig, path)

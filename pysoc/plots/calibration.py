"""Calibration figures: traces, posterior violins against the prior ranges (seed 000
Fig. 4), observed vs modelled profiles with the 5–95 % posterior predictive band, and every
calibrated stream against its observations with its skill."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

CHAIN_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def _grid(n: int, ncol: int = 4):
    ncol = min(ncol, n)
    nrow = int(np.ceil(n / ncol))
    return nrow, ncol


def _ok_results(run):
    return [r for r in run.results if r.ok and hasattr(r.data, "draws")]


def _figure_sites(run, k):
    """Indices (into run.profiles) of up to k successful sites."""
    if run.config.mode == "one_batch":
        return list(run.one_batch_sites[:k])
    return [r.index for r in run.results if r.ok][:k]


def trace_figure(run, result=None, label: str = ""):
    """Thinned traces of kp for every parameter and chain over the test and formal runs,
    with the test/formal boundary and the end of burn-in.

    Parameters
    ----------
    run : pysoc.da.run.RunResult
    result : pysoc.da.run.SiteResult, optional
        The site whose traces are drawn (default: the first calibrated one).
    label : str
        Added to the title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    cfg = run.config
    res = result or _ok_results(run)[0]
    tk, it = res.data.trace_kp
    names = run.param_names
    nrow, ncol = _grid(len(names) + 1)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 1.9 * nrow), sharex=True, squeeze=False)
    if res.data.sampler == "am":
        n_test = cfg.am.n_test
        burn = n_test + int(cfg.burn_in_fraction * cfg.am.n_formal)
    else:                               # dream_zs: no test run; the posterior window starts at burn
        n_test, burn = None, res.data.diagnostics.window[0]
    for j, name in enumerate(names):
        ax = axes.flat[j]
        for c in range(tk.shape[0]):
            ax.plot(it, tk[c, :, j], lw=0.6, color=CHAIN_COLORS[c % len(CHAIN_COLORS)])
        ax.set_ylim(0, 1)
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=7)
    ax = axes.flat[len(names)]
    tc = res.data.trace_cost
    for c in range(tc.shape[0]):
        ax.semilogy(it, np.where(np.isfinite(tc[c]), tc[c], np.nan), lw=0.6, color=CHAIN_COLORS[c % 6])
    ax.set_title("cost J", fontsize=8)
    ax.tick_params(labelsize=7)
    for ax in axes.flat[:len(names) + 1]:
        if n_test is not None:
            ax.axvline(n_test, color="k", lw=0.6, ls=":")
        ax.axvline(burn, color="k", lw=0.6, ls="--")
    for ax in axes.flat[len(names) + 1:]:
        ax.set_visible(False)
    what = "dotted: end of test run; dashed: end of burn-in" if n_test is not None else \
        "dashed: start of the posterior window"
    fig.suptitle(f"Trace of kp {label} ({what})", fontsize=9)
    fig.supxlabel("iteration" if n_test is not None else "generation", fontsize=8)
    fig.tight_layout()
    return fig


def violin_figure(run, sites=None):
    """Posterior distributions per parameter (violins with median and quartiles) for up to
    ``figure_sites`` sites, y axis = prior range, dashed line = prior mean (seed 000 Fig. 4).

    Parameters
    ----------
    run : pysoc.da.run.RunResult
    sites : list of int, optional
        Indices into ``run.profiles`` (default: the first ``figure_sites`` calibrated ones).

    Returns
    -------
    matplotlib.figure.Figure
    """
    cfg = run.config
    names = run.param_names
    table = run.model.parameters
    if cfg.mode == "one_batch":
        groups = [("one batch", run.results[0].data.draws)]
    else:
        by = {r.index: r for r in _ok_results(run)}
        sites = sites if sites is not None else _figure_sites(run, cfg.figure_sites)
        groups = [(str(run.profiles[i].site_id), by[i].data.draws) for i in sites if i in by]
    nrow, ncol = _grid(len(names), 5)
    fig, axes = plt.subplots(nrow, ncol, figsize=(2.6 * ncol, 2.3 * nrow), squeeze=False)
    for j, name in enumerate(names):
        ax = axes.flat[j]
        spec = table[name]
        data = [g[1][..., j].ravel() for g in groups]
        pos = np.arange(1, len(data) + 1)
        parts = ax.violinplot(data, positions=pos, showextrema=False, widths=0.8)
        for b in parts["bodies"]:
            b.set_alpha(0.5)
        q = np.array([np.quantile(x, [0.25, 0.5, 0.75]) for x in data])
        ax.vlines(pos, q[:, 0], q[:, 2], color="k", lw=3)
        ax.scatter(pos, q[:, 1], color="red", s=8, zorder=3)
        ax.axhline(0.5 * (spec.prior_min + spec.prior_max), color="grey", ls="--", lw=0.8)
        ax.set_ylim(spec.prior_min, spec.prior_max)
        ax.set_title(f"{name} ({spec.units})", fontsize=8)
        ax.set_xticks(pos)
        ax.set_xticklabels([g[0] for g in groups], rotation=90, fontsize=6)
        ax.tick_params(axis="y", labelsize=7)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    fig.suptitle("Posterior distributions within the prior ranges (y axis); dashed: prior mean; "
                 "red dot: median, bar: 25-75 %", fontsize=9)
    fig.tight_layout()
    return fig


def _entries(run):
    from pysoc.da.output import site_entries
    return site_entries(run)


def profile_figure(run, sites=None):
    """Observed layers (boxes) vs the modelled profile: posterior predictive mean (line),
    5–95 % band (shaded) and the predicted layer means (dots with 5–95 % bars).

    Parameters
    ----------
    run : pysoc.da.run.RunResult
    sites : list of int, optional
        Indices into ``run.profiles`` (default: the first ``figure_sites`` calibrated ones).

    Returns
    -------
    matplotlib.figure.Figure
    """
    cfg = run.config
    entries = _entries(run)
    sites = sites if sites is not None else _figure_sites(run, cfg.figure_sites)
    sites = [i for i in sites if entries[i] is not None]
    nrow, ncol = _grid(max(len(sites), 1), 3)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.4 * ncol, 3.6 * nrow), squeeze=False)
    b = run.bounds
    sc = 1e-3                                   # g C m-3 -> kg C m-3 for the axis
    for ax, i in zip(axes.flat, sites):
        e = entries[i]
        o = e.obs.get("soc_profile")
        zmax = 1.2 * float(np.nanmax(o.bottom)) if o is not None else 1.0
        if b is not None:
            keep = b[:, 0] < zmax
            zz = np.repeat(b[keep], 1, axis=0)
            edges = np.concatenate([zz[:, 0], zz[-1:, 1]])
            for key, kw in (("profile_mean", dict(color="tab:blue", lw=1.5, label="model mean")),):
                v = getattr(e, key)[keep] * sc
                ax.stairs(v, edges, orientation="horizontal", **kw)
            lo, hi = e.profile_q05[keep] * sc, e.profile_q95[keep] * sc
            if np.any(hi > lo):                 # a posterior band (a point optimum has none)
                zs = np.repeat(edges, 2)[1:-1]
                ax.fill_betweenx(zs, np.repeat(lo, 2), np.repeat(hi, 2), color="tab:blue", alpha=0.25,
                                 label="model 5-95 %")
        if o is not None:
            y, mean, q05, q95 = o.y * sc, o.mean * sc, o.q05 * sc, o.q95 * sc
            for t, bo, yy in zip(o.top, o.bottom, y):
                ax.add_patch(plt.Rectangle((0, t), yy, bo - t, fill=False, ec="k", lw=0.8))
            mid = 0.5 * (o.top + o.bottom)
            ax.errorbar(mean, mid, xerr=_bars(mean, q05, q95), fmt="o",
                        color="tab:red", ms=3, lw=0.8, label="model, layer means")
            ax.plot([], [], color="k", lw=0.8, label="observed layers")
            xmax = np.nanmax(np.concatenate([y, q95]))
            ax.set_xlim(0, 1.15 * xmax if np.isfinite(xmax) and xmax > 0 else 1)
            nse = o.metrics["nse"]
            ax.set_title(f"{run.profiles[i].site_id}  NSE {nse:.2f}", fontsize=8)
        ax.set_ylim(zmax, 0)
        ax.set_xlabel("SOC (kg C m$^{-3}$)", fontsize=8)
        ax.set_ylabel("depth (m)", fontsize=8)
        ax.tick_params(labelsize=7)
    if sites:
        axes.flat[0].legend(fontsize=6, loc="lower right")
    for ax in axes.flat[len(sites):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def _bars(mean, q05, q95):
    """Error bars of the 5-95 % interval, or None for a point estimate (no empty bars)."""
    lo, hi = np.clip(mean - q05, 0, None), np.clip(q95 - mean, 0, None)
    return [lo, hi] if np.any(lo + hi > 0) else None


def d14c_figure(run, sites=None):
    """Observed Δ14C of each layer (vertical segments over the layer's depth range) and the
    modelled carbon-weighted Δ14C of the same layers (dots, with the 5-95 % posterior
    predictive interval for a posterior), per site with Δ14C observations; RMSE and NSE of the
    layer values in the title.

    Parameters
    ----------
    run : pysoc.da.run.RunResult
    sites : list of int, optional
        Indices into ``run.profiles`` (default: every calibrated site with Δ14C, at most
        ``figure_sites``).

    Returns
    -------
    matplotlib.figure.Figure or None
        None when no site has Δ14C observations.
    """
    entries = _entries(run)
    if sites is None:
        sites = [i for i, e in enumerate(entries) if e is not None and "d14c_profile" in e.obs]
        sites = sites[:max(run.config.figure_sites, 1)]
    if not sites:
        return None
    nrow, ncol = _grid(len(sites), 3)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.4 * ncol, 3.6 * nrow), squeeze=False)
    for ax, i in zip(axes.flat, sites):
        o = entries[i].obs["d14c_profile"]
        for t, bo, yy in zip(o.top, o.bottom, o.y):
            ax.plot([yy, yy], [t, bo], color="k", lw=1.6)
        ax.plot([], [], color="k", lw=1.6, label="observed layers")
        mid = 0.5 * (o.top + o.bottom)
        ax.errorbar(o.mean, mid, xerr=_bars(o.mean, o.q05, o.q95), fmt="o", color="tab:red", ms=3.5, lw=0.8,
                    label="model, layer means")
        ax.axvline(0.0, color="0.6", lw=0.6, ls=":")
        m = o.metrics
        ax.set_title(f"{run.profiles[i].site_id}  RMSE {m['rmse']:.0f} per mil, NSE {m['nse']:.2f}", fontsize=8)
        ax.set_ylim(1.2 * float(np.nanmax(o.bottom)), 0)
        ax.set_xlabel("Δ$^{14}$C (per mil)", fontsize=8)
        ax.set_ylabel("depth (m)", fontsize=8)
        ax.tick_params(labelsize=7)
    axes.flat[0].legend(fontsize=6, loc="lower left")
    for ax in axes.flat[len(sites):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def stream_figure(run):
    """Every calibrated stream against its observations: posterior predictive mean with the
    5-95 % band (vertical bars) and the observation's sigma (horizontal bars), one colour per
    site, the 1:1 line, and the pooled skill (R² = 1 - SSE/SST, RMSE, bias, n) in the title.

    Parameters
    ----------
    run : pysoc.da.run.RunResult

    Returns
    -------
    matplotlib.figure.Figure
    """
    from pysoc.da.likelihood import STREAMS, stream_skill

    cfg = run.config
    entries = _entries(run)
    skill = stream_skill(entries)
    names = list(skill)
    fig, axes = plt.subplots(1, max(len(names), 1), figsize=(max(4.2 * len(names), 6.0), 4.3), squeeze=False)
    cmap = plt.get_cmap("tab20")
    for ax, name in zip(axes.flat, names):
        k = 0
        for i, e in enumerate(entries):
            if e is None or name not in e.obs:
                continue
            o = e.obs[name]
            y, m = np.ravel(o.y), np.ravel(o.mean)
            err = [np.clip(m - np.ravel(o.q05), 0, None), np.clip(np.ravel(o.q95) - m, 0, None)]
            ax.errorbar(y, m, yerr=err, xerr=np.ravel(o.sigma), fmt="o", ms=3.5, lw=0.7, color=cmap(k % 20),
                        label=str(run.profiles[i].site_id)[:18])
            k += 1
        lo, hi = ax.get_xlim()
        lo2, hi2 = ax.get_ylim()
        a, b = min(lo, lo2), max(hi, hi2)
        ax.plot([a, b], [a, b], color="k", lw=0.7, ls="--")
        ax.set_xlim(a, b)
        ax.set_ylim(a, b)
        u = STREAMS[name].units if name in STREAMS else ""
        ax.set_xlabel(f"observed ({u})", fontsize=8)
        ax.set_ylabel(f"model ({u})", fontsize=8)
        sk = skill[name]
        ax.set_title(f"{name}: R$^2$ {sk['r2']:.2f}, RMSE {sk['rmse']:.3g}, bias {sk['bias']:+.3g}\n"
                     f"{sk['n']} obs at {sk['n_sites']} sites", fontsize=8)
        ax.tick_params(labelsize=7)
        if 1 < k <= 8:
            ax.legend(fontsize=5.5, loc="upper left")
    fig.suptitle(f"{run.model.name} {cfg.method} ({cfg.mode}, run '{cfg.run_name}'):\ncalibrated streams against "
                 f"their observations (posterior predictive mean and 5-95 %; horizontal bars: sigma)", fontsize=8.5)
    fig.tight_layout()
    return fig


def morris_figure(run):
    """Median Morris mu* of the cost per parameter over the sites (bars: min-max).

    Parameters
    ----------
    run : pysoc.da.run.RunResult

    Returns
    -------
    matplotlib.figure.Figure
    """
    names = run.param_names
    if run.config.mode == "one_batch":
        mu = run.results[0].data.mu_star[None]
    else:
        mu = np.array([r.data.mu_star for r in run.results if r.ok])
    fig, ax = plt.subplots(figsize=(max(6, 0.35 * len(names)), 3.2))
    med = np.nanmedian(mu, axis=0)
    ax.bar(np.arange(len(names)), med, color="tab:blue")
    if mu.shape[0] > 1:
        ax.errorbar(np.arange(len(names)), med, yerr=[med - mu.min(axis=0), mu.max(axis=0) - med], fmt="none",
                    color="k", lw=0.8)
    ax.set_xticks(np.arange(len(names)))
    ax.set_xticklabels(names, rotation=90, fontsize=7)
    ax.set_ylabel("Morris $\\mu^*$ of the cost")
    fig.tight_layout()
    return fig


def all_figures(run, outdir, base: str) -> dict:
    """Draw the figures of the run's method and save them as ``<base>_<name>.png``.

    The figure writer of :func:`pysoc.da.run.execute` (passed by pysoc-calibrate).

    Parameters
    ----------
    run : pysoc.da.run.RunResult
    outdir : path
    base : str
        The run name.

    Returns
    -------
    dict
        'figure_<name>' -> path.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = {}
    cfg = run.config

    def save(fig, key):
        p = outdir / f"{base}_{key}.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths[f"figure_{key}"] = p

    if cfg.method == "mcmc":
        ok = _ok_results(run)
        if ok:
            save(trace_figure(run, ok[0], label=f"({ok[0].site_id})"), "trace")
            save(violin_figure(run), "violins")
    if cfg.method in ("mcmc", "sceua") and any(e is not None for e in _entries(run)):
        save(profile_figure(run), "profiles")
        save(stream_figure(run), "streams")
        fig = d14c_figure(run)
        if fig is not None:
            save(fig, "d14c_profiles")
    if cfg.method == "morris" and any(r.ok for r in run.results):
        save(morris_figure(run), "morris")
    return paths


__all__ = ["trace_figure", "violin_figure", "profile_figure", "d14c_figure", "stream_figure", "morris_figure",
           "all_figures"]

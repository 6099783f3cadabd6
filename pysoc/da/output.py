"""Outputs of a calibration: one NetCDF file per run and a flat CSV site summary.

Adaptive Metropolis (``<run_name>_posterior.nc``) uses the ArviZ InferenceData layout
(groups written with ``xarray.Dataset.to_netcdf(group=...)``; dims ``chain``, ``draw``
first, plus ``site`` in site-by-site mode); it opens with ``arviz.from_netcdf``:

- ``posterior``: one variable per calibrated parameter (physical units) and ``kp``
  (normalised values), saved draws after burn-in (thinned to ``draws_saved`` per chain);
- ``sample_stats``: ``lp`` (= −cost of each draw), acceptance rates, counts of failed
  kernel runs and out-of-box proposals, thinned traces of the whole run (test + formal);
- ``log_likelihood``: pointwise terms −w (y − ŷ)²/(2σ²) per stream (no normalising constant);
- ``posterior_predictive``: the model's value at each observation for every saved draw;
- ``observed_data`` / ``constant_data``: observations, σ, weights, layer bounds, site
  coordinates, prior ranges, fixed parameter values, true values of synthetic sites;
- root group (CF-1.8): per-site summary — status and error, Gelman–Rubin, convergence and
  acceptance flags, posterior mean/sd/GEV mode/quantiles, fit metrics, posterior
  predictive mean and 5–95 % band on the model levels and at the observations.

SCE-UA (``<run_name>_sceua.nc``) and Morris (``<run_name>_morris.nc``) write one CF dataset.
Everything is written to a temporary file and renamed on success.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

import pysoc
from pysoc.da import diagnostics as dg
from pysoc.da.likelihood import STREAMS
from pysoc.io.atomic import atomic_path, write_csv  # write_csv: the one CSV writer, re-exported

METRICS = ("nse", "r2", "rmse", "mae", "r", "slope", "intercept", "bic", "n")
SITE_STATUS = {"flag_values": np.array([0, 1], np.int8), "flag_meanings": "ok failed",
               "long_name": "calibration status of the site", "units": "1"}


# ---- helpers ------------------------------------------------------------------------------------------
def site_entries(run) -> list:
    """The posterior predictive of every selected profile.

    Parameters
    ----------
    run : pysoc.da.run.RunResult

    Returns
    -------
    list of pysoc.da.results.SitePrediction or None
        One per ``run.profiles``; None for a site that failed or was excluded, and for every
        site of a Morris screening (no predictions).
    """
    n = len(run.profiles)
    out = [None] * n
    cfg = run.config
    if cfg.mode == "site_by_site":
        for r in run.results:
            if r.ok and getattr(r.data, "sites", None):
                out[r.index] = r.data.sites[0]
    else:
        sites = getattr(run.results[0].data, "sites", [])
        for j, i in enumerate(run.one_batch_sites):
            if j < len(sites):
                out[i] = sites[j]
    return out


def _status_errors(run):
    n = len(run.profiles)
    status = np.zeros(n, np.int8)
    errors = [""] * n
    cfg = run.config
    if cfg.mode == "site_by_site":
        for r in run.results:
            if not r.ok:
                status[r.index], errors[r.index] = 1, r.error
    else:
        used = set(run.one_batch_sites)
        for i in range(n):
            if i not in used:
                status[i] = 1
        for r in run.results[1:]:
            errors[r.index] = r.error
    return status, errors


def _streams(entries) -> list[str]:
    names = []
    for e in entries:
        if e is not None:
            for k in e.obs:
                if k not in names:
                    names.append(k)
    return sorted(names, key=list(STREAMS).index)


def _obs_arrays(entries, name):
    """Padded (site, obs) arrays of one stream."""
    n = len(entries)
    m = max((e.obs[name].y.size for e in entries if e is not None and name in e.obs), default=0)
    keys = ("y", "sigma", "weight", "top", "bottom", "mean", "q05", "q95")
    out = {k: np.full((n, m), np.nan) for k in keys}
    for i, e in enumerate(entries):
        if e is None or name not in e.obs:
            continue
        o = e.obs[name]
        k = o.y.size
        for key in keys:
            if getattr(o, key) is not None:
                out[key][i, :k] = getattr(o, key)
    return out, m


def _coords(run, arviz: bool = False) -> dict:
    """Coordinates of the per-site groups. CF groups (root): ``site`` and ``parameter`` are
    plain index dimensions with the labels in auxiliary string variables (CF checkers do
    not accept string coordinate variables). ArviZ groups: ``site`` and ``parameter`` are
    labelled by site id and parameter name, so ``.sel(site=...)`` works."""
    prof = run.profiles
    ids = np.array([str(p.site_id) for p in prof], dtype=object)
    names = np.array(run.param_names, dtype=object)
    if arviz:
        return {"site": ("site", ids), "parameter": ("parameter", names)}
    return {"site_id": ("site", ids, {"long_name": "site identifier", "cf_role": "timeseries_id"}),
            "parameter_name": ("parameter", names, {"long_name": "calibrated parameter"})}


def _param_attrs(run, j):
    spec = run.model.parameters[run.param_names[j]]
    return {"units": spec.units, "long_name": spec.description, "prior_min": spec.prior_min,
            "prior_max": spec.prior_max}


def _constant_data(run, entries, streams) -> xr.Dataset:
    ds = xr.Dataset(coords=_coords(run, arviz=True))
    ds["lat"] = ("site", np.array([p.lat for p in run.profiles], float), {"units": "degrees_north",
                                                                          "standard_name": "latitude"})
    ds["lon"] = ("site", np.array([p.lon for p in run.profiles], float), {"units": "degrees_east",
                                                                          "standard_name": "longitude"})
    table = run.model.parameters
    ds["prior_min"] = ("parameter", np.array([table[n].prior_min for n in run.param_names]),
                       {"units": "1", "long_name": "lower bound of the uniform prior (units of each parameter)"})
    ds["prior_max"] = ("parameter", np.array([table[n].prior_max for n in run.param_names]),
                       {"units": "1", "long_name": "upper bound of the uniform prior (units of each parameter)"})
    ds["parameter_units"] = ("parameter", np.array([table[n].units for n in run.param_names], dtype=object))
    fixed = [n for n in table.names if n not in run.param_names]
    theta = run.model.parameters.vector(run.config.parameter_set or None, overrides=run.config.fixed)
    if fixed:
        ds = ds.assign_coords(fixed_parameter=("fixed_parameter", np.array(fixed, dtype=object)))
        ds["fixed_value"] = ("fixed_parameter", np.array([theta[table.index(n)] for n in fixed]),
                             {"units": "1", "long_name": "value of the parameters that were not calibrated "
                                                         "(units of each parameter)"})
    for name in streams:
        arr, m = _obs_arrays(entries, name)
        dim = f"obs_{name}"
        units = STREAMS[name].units
        ds[f"{name}_sigma"] = (("site", dim), arr["sigma"], {"units": units, "long_name": f"sigma of {name}"})
        ds[f"{name}_weight"] = (("site", dim), arr["weight"], {"units": "1",
                                                              "long_name": f"weight of {name} in the cost"})
        if STREAMS[name].kind in ("profile", "weighted_profile"):
            ds[f"{name}_top"] = (("site", dim), arr["top"], {"units": "m", "positive": "down",
                                                             "long_name": "top of the observed layer"})
            ds[f"{name}_bottom"] = (("site", dim), arr["bottom"], {"units": "m", "positive": "down",
                                                                   "long_name": "bottom of the observed layer"})
    if run.bounds is not None:
        ds["depth_bnds"] = (("level", "nv"), run.bounds, {"units": "m", "positive": "down",
                                                          "long_name": "model layer interfaces"})
    kt = [np.asarray(p.meta["kp_true"], float) if "kp_true" in getattr(p, "meta", {}) else None for p in run.profiles]
    if any(k is not None for k in kt):
        arr = np.full((len(kt), len(run.param_names)), np.nan)
        for i, k in enumerate(kt):
            if k is not None:
                arr[i] = k
        ds["kp_true"] = (("site", "parameter"), arr, {"units": "1",
                                                      "long_name": "true normalised parameters of synthetic sites"})
        ds["true_value"] = (("site", "parameter"), run.model.parameters.to_physical(
            _full_kp(run, arr)) [:, [run.model.parameters.index(n) for n in run.param_names]],
            {"units": "1", "long_name": "true parameter values of synthetic sites (units of each parameter)"})
    return ds


def _full_kp(run, kp_free):
    table = run.model.parameters
    theta = table.vector(run.config.parameter_set or None, overrides=run.config.fixed)
    full = np.broadcast_to(table.to_kp(theta), (kp_free.shape[0], len(table))).copy()
    full[:, [table.index(n) for n in run.param_names]] = kp_free
    return full


def _observed_data(run, entries, streams) -> xr.Dataset:
    ds = xr.Dataset(coords=_coords(run, arviz=True))
    for name in streams:
        arr, _ = _obs_arrays(entries, name)
        ds[name] = (("site", f"obs_{name}"), arr["y"], {"units": STREAMS[name].units,
                                                        "long_name": STREAMS[name].long_name})
    return ds


def _predictive_summary(ds: xr.Dataset, run, entries, streams) -> None:
    """Posterior predictive bands and metrics (root group)."""
    n = len(entries)
    nlev = None if run.bounds is None else run.bounds.shape[0]
    if nlev:
        for key, ln in (("profile_mean", "posterior predictive mean"), ("profile_q05", "5 % quantile"),
                        ("profile_q95", "95 % quantile")):
            arr = np.full((n, nlev), np.nan)
            for i, e in enumerate(entries):
                if e is not None:
                    arr[i] = getattr(e, key)
            ds[f"soc_{key}"] = (("site", "level"), arr, {"units": "g C m-3",
                                                         "long_name": f"modelled SOC profile: {ln}"})
        ds = ds
    for name in streams:
        arr, _ = _obs_arrays(entries, name)
        dim = f"obs_{name}"
        u = STREAMS[name].units
        ds[f"{name}_pred_mean"] = (("site", dim), arr["mean"], {"units": u, "long_name": f"{name}: posterior "
                                                                                         "predictive mean"})
        ds[f"{name}_pred_q05"] = (("site", dim), arr["q05"], {"units": u, "long_name": f"{name}: 5 % quantile"})
        ds[f"{name}_pred_q95"] = (("site", dim), arr["q95"], {"units": u, "long_name": f"{name}: 95 % quantile"})
        for m in METRICS:
            vals = np.array([e.obs[name].metrics[m] if e is not None and name in e.obs else np.nan
                             for e in entries], float)
            ds[f"{name}_{m}"] = ("site", vals, {"units": u if m in ("rmse", "mae", "intercept") else "1",
                                               "long_name": f"{name}: {_METRIC_DOC[m]}"})


_METRIC_DOC = {"nse": "Nash-Sutcliffe efficiency of the predictive mean", "r2": "squared Pearson correlation",
               "rmse": "root mean square error", "mae": "mean absolute error", "r": "Pearson correlation",
               "slope": "slope of the regression of modelled on observed", "intercept": "intercept of that regression",
               "bic": "BIC = 2 N log(RMSE) + 2 Np (seed 003)", "n": "number of observations"}


def _references(run) -> str:
    cfg = run.config
    if cfg.method == "mcmc" and cfg.sampler == "dream_zs":
        sampler = ("ter Braak and Vrugt 2008 (DE-MCz, snooker); Vrugt 2016 (DREAM, crossover adaptation); "
                   "Vehtari et al. 2021 (rank-normalised R-hat, ESS)")
    elif cfg.method == "mcmc":
        sampler = "Haario et al. 2001 (adaptive Metropolis); Vehtari et al. 2021 (rank-normalised R-hat, ESS)"
    elif cfg.method == "sceua":
        sampler = "Duan et al. 1993 (SCE-UA)"
    else:
        sampler = "Morris 1991; Herman and Usher 2017 (SALib)"
    model = getattr(run.model, "references", "")
    return "; ".join(x for x in (sampler, model) if x)


def _attrs(run, title: str) -> dict:
    cfg = run.config
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    a = {"Conventions": "CF-1.8", "title": title, "institution": "pysoc", "source": f"pysoc {pysoc.__version__}",
         "history": f"{now} created by pysoc-calibrate", "created_at": now, "inference_library": "pysoc",
         "inference_library_version": pysoc.__version__, "model": run.model.name, "method": cfg.method,
         "sampler": cfg.sampler if cfg.method == "mcmc" else "",
         "mode": cfg.mode, "seed": cfg.seed, "streams": ", ".join(s.name for s in cfg.streams),
         "references": _references(run)}
    for k, v in run.summary.items():
        if isinstance(v, (int, float, np.integer, np.floating)):
            a[f"summary_{k}"] = float(v)
    if cfg.namelist_text:
        a["namelist"] = cfg.namelist_text
    return a


# ---- MCMC (DREAM(ZS) and adaptive Metropolis) ---------------------------------------------------------
def mcmc_groups(run) -> dict[str, xr.Dataset]:
    """The InferenceData groups of an MCMC calibration plus the CF root group.

    Parameters
    ----------
    run : pysoc.da.run.RunResult
        Of method 'mcmc' (DREAM(ZS) or AM; site-by-site or one-batch).

    Returns
    -------
    dict
        Group name -> Dataset: 'posterior', 'sample_stats', 'log_likelihood',
        'posterior_predictive', 'observed_data', 'constant_data' and the root '/'
        (module docstring), for :func:`write_groups`.
    """
    entries = site_entries(run)
    streams = _streams(entries)
    post, ss, coords, sites = _posterior_groups(run)
    groups = {"posterior": post, "sample_stats": ss}
    groups.update(_flat_observation_groups(run, entries, streams, coords, sites))
    groups["constant_data"] = _constant_data(run, entries, streams)
    groups["/"] = _mcmc_root(run, entries, streams)
    return groups


def _arviz_coords(run, n_chain, n_draw, sites: bool) -> dict:
    c = {"chain": ("chain", np.arange(n_chain)), "draw": ("draw", np.arange(n_draw)),
         "parameter": ("parameter", np.array(run.param_names, dtype=object))}
    if sites:
        c["site"] = ("site", np.array([str(p.site_id) for p in run.profiles], dtype=object))
    return c


def _posterior_groups(run):
    """posterior and sample_stats (ArviZ layout; ``site`` labelled by site id)."""
    cfg = run.config
    names, P = run.param_names, len(run.param_names)
    by_site = cfg.mode == "site_by_site"
    datas = [(r.index, r.data) for r in run.results if r.ok] if by_site else [(None, run.results[0].data)]
    K = cfg.n_chains
    D = max((d.draws.shape[1] for _, d in datas), default=1)
    T = max((d.trace_cost.shape[1] for _, d in datas), default=1)
    S = len(run.profiles)
    lead = (S,) if by_site else ()
    coords = _arviz_coords(run, K, D, by_site)
    arr = {"draws": np.full((K, D) + lead + (P,), np.nan), "kp": np.full((K, D) + lead + (P,), np.nan),
           "lp": np.full((K, D) + lead, np.nan), "tr_kp": np.full((K, T) + lead + (P,), np.nan),
           "tr_cost": np.full((K, T) + lead, np.nan)}
    chain = {k: np.full((K,) + lead, np.nan) for k in ("acc", "acct")}
    chain.update({k: np.zeros((K,) + lead, np.int64) for k in ("accok", "ninv", "nout")})
    tr_it = np.zeros(T)
    for i, d in datas:
        at = (slice(None), slice(0, d.draws.shape[1])) + ((i,) if by_site else ())
        arr["draws"][at], arr["kp"][at], arr["lp"][at] = d.draws, d.draws_kp, d.lp
        tk, it = d.trace_kp
        tat = (slice(None), slice(0, tk.shape[1])) + ((i,) if by_site else ())
        arr["tr_kp"][tat], arr["tr_cost"][tat] = tk, d.trace_cost
        tr_it[:it.size] = it
        cat = (slice(None),) + ((i,) if by_site else ())
        for k, key in (("acc", "acceptance_rate"), ("acct", "acceptance_rate_test"), ("accok", "acceptance_ok"),
                       ("ninv", "n_invalid"), ("nout", "n_outside")):
            chain[k][cat] = getattr(d.diagnostics, key)
    dims = ("chain", "draw") + (("site",) if by_site else ())
    post = xr.Dataset(coords=coords)
    for j, n in enumerate(names):
        post[n] = (dims, arr["draws"][..., j], _param_attrs(run, j))
    post["kp"] = (dims + ("parameter",), arr["kp"], {"units": "1", "long_name": "normalised parameters"})
    ss = xr.Dataset(coords={**coords, "trace": ("trace", np.arange(T))})
    ss["lp"] = (dims, arr["lp"], {"units": "1", "long_name": "log posterior density up to a constant (= -cost)"})
    tdims = ("chain", "trace") + (("site",) if by_site else ())
    ss["trace_iteration"] = ("trace", tr_it, {"units": "1", "long_name": "iteration (generation) of the thinned trace "
                                                                          "of the whole run, burn-in included"})
    ss["trace_kp"] = (tdims + ("parameter",), arr["tr_kp"], {"units": "1"})
    ss["trace_cost"] = (tdims, arr["tr_cost"], {"units": "1", "long_name": "cost J of the trace"})
    cdims = ("chain",) + (("site",) if by_site else ())
    lo, hi = cfg.acceptance_window
    ss["acceptance_rate"] = (cdims, chain["acc"], {"units": "1", "long_name": "acceptance rate over the posterior "
                                                                              "window (AM: formal run)"})
    ss["acceptance_rate_test"] = (cdims, chain["acct"], {"units": "1", "long_name": "acceptance rate of the AM test "
                                                                                    "run (NaN for dream_zs)"})
    ss["acceptance_ok"] = (cdims, chain["accok"].astype(np.int8), {
        "units": "1", "flag_values": np.array([0, 1], np.int8), "flag_meanings": "outside_window inside_window",
        "valid_window": [lo, hi]})
    ss["n_invalid"] = (cdims, chain["ninv"], {"units": "1", "long_name": "proposals rejected because the kernel "
                                                                         "failed"})
    ss["n_outside"] = (cdims, chain["nout"], {"units": "1", "long_name": "proposals outside the prior box"})
    return post, ss, coords, datas


def _flat_observation_groups(run, entries, streams, coords, datas) -> dict[str, xr.Dataset]:
    """log_likelihood, posterior_predictive and observed_data with the observations of all
    calibrated sites along one dimension per stream (``obs_<stream>``, labelled by the
    site of each observation): no padding, so ``arviz.loo`` works on the file and, with
    :func:`site_inference_data`, per site."""
    cfg = run.config
    by_site = cfg.mode == "site_by_site"
    K, D = coords["chain"][1].size, coords["draw"][1].size
    base = {k: v for k, v in coords.items() if k in ("chain", "draw")}
    ll, pp, od = xr.Dataset(coords=base), xr.Dataset(coords=base), xr.Dataset()
    for name in streams:
        cols_ll, cols_pp, y, site_of, layer = [], [], [], [], []
        for i, e in enumerate(entries):
            if e is None or name not in e.pred:
                continue
            p, lk = e.pred[name], e.loglik[name]
            if p.shape[1] != D:
                continue                     # a site with fewer saved draws cannot share the draw axis
            cols_pp.append(p)
            cols_ll.append(lk)
            y.append(e.obs[name].y)
            site_of += [str(run.profiles[i].site_id)] * p.shape[2]
            layer += list(range(p.shape[2]))
        dim = f"obs_{name}"
        if not cols_pp:
            continue
        oc = {dim: (dim, np.arange(len(site_of))), f"{dim}_site": (dim, np.array(site_of, dtype=object)),
              f"{dim}_index": (dim, np.array(layer))}
        info = STREAMS[name]
        ll = ll.assign_coords(oc)
        pp = pp.assign_coords(oc)
        od = od.assign_coords(oc)
        ll[name] = (("chain", "draw", dim), np.concatenate(cols_ll, axis=2), {
            "units": "1", "long_name": "pointwise log-likelihood -w (y - yhat)^2 / (2 sigma^2) (no normalising "
                                       "constant)"})
        pp[name] = (("chain", "draw", dim), np.concatenate(cols_pp, axis=2), {
            "units": info.units, "long_name": f"modelled {info.long_name}"})
        od[name] = ((dim,), np.concatenate(y), {"units": info.units, "long_name": info.long_name})
    return {"log_likelihood": ll, "posterior_predictive": pp, "observed_data": od}


def site_inference_data(source, site_id: str):
    """The InferenceData of one site of a site-by-site calibration: its posterior, sample
    stats and its own observations (no other site's), ready for ``arviz.summary`` and
    ``arviz.loo``.

    Parameters
    ----------
    source : path or arviz.InferenceData
        A ``<run_name>_posterior.nc`` file written by pysoc-calibrate, or its InferenceData.
    site_id : str

    Returns
    -------
    arviz.InferenceData

    Raises
    ------
    DataError
        When the site is not in the file.
    """
    from pysoc.da.convergence import import_arviz
    from pysoc.errors import DataError

    az = import_arviz()
    idata = source if hasattr(source, "groups") else az.from_netcdf(str(source))
    post = idata.posterior
    if "site" not in post.dims or site_id not in list(post["site"].values):
        raise DataError(f"site {site_id!r} is not a site of this site-by-site calibration")
    out = {"posterior": post.sel(site=site_id), "sample_stats": idata.sample_stats.sel(site=site_id)}
    for g in ("log_likelihood", "posterior_predictive", "observed_data"):
        if g in idata.groups():
            ds = getattr(idata, g)
            keep = {}
            for dim in [d for d in ds.dims if d.startswith("obs_")]:
                keep[dim] = np.flatnonzero(ds[f"{dim}_site"].values == site_id)
            out[g] = ds.isel(keep)
    return az.InferenceData(**out)


def _mcmc_root(run, entries, streams) -> xr.Dataset:
    """CF root group: per-site summary (status, diagnostics, posterior statistics, fit)."""
    cfg = run.config
    status, errors = _status_errors(run)
    root = xr.Dataset(coords={**_coords(run), "quantile": ("quantile", np.asarray(cfg.quantiles, float), {
        "units": "1", "long_name": "probability of the posterior quantile"})})
    root["parameter_units"] = ("parameter", np.array([run.model.parameters[n].units for n in run.param_names],
                                                     dtype=object), {"long_name": "units of each parameter"})
    root["status"] = ("site", status, SITE_STATUS)
    root["error"] = ("site", np.array(errors, dtype=object), {"long_name": "why the site failed"})
    if cfg.mode == "site_by_site":
        _site_stats(root, run, len(run.profiles), len(run.param_names))
    else:
        _batch_stats(root, run)
    _predictive_summary(root, run, entries, streams)
    if run.bounds is not None:
        root = root.assign_coords(depth=("level", run.bounds.mean(axis=1), {"units": "m", "positive": "down",
                                                                            "standard_name": "depth",
                                                                            "bounds": "depth_bnds"}),
                                  depth_bnds=(("level", "nv"), run.bounds, {"units": "m"}))
    return root


_PER_PARAMETER = "units: those of each parameter (parameter_units)"
STOP_FLAGS = {"flag_values": np.array([0, 1, 2], np.int8),
              "flag_meanings": "converged max_evaluations fixed_length",
              "long_name": "why the sampler stopped"}
_STOP_CODE = {"converged": 0, "max_evaluations": 1, "fixed_length": 2}


def _diag_vars(root, dims, vals: dict, cfg) -> None:
    """Convergence diagnostics (ArviZ) and flags."""
    root["rhat"] = (dims + ("parameter",), vals["rhat"], {
        "units": "1", "long_name": "rank-normalised split-R-hat of the saved draws (ArviZ)", "target": cfg.rhat_target})
    root["ess_bulk"] = (dims + ("parameter",), vals["ess_bulk"], {
        "units": "1", "long_name": "bulk effective sample size of the saved draws (ArviZ)", "target": cfg.ess_target})
    root["ess_tail"] = (dims + ("parameter",), vals["ess_tail"], {
        "units": "1", "long_name": "tail (5 % and 95 % quantile) effective sample size (ArviZ)"})
    root["mcse_mean"] = (dims + ("parameter",), vals["mcse_mean"], {
        "long_name": "Monte Carlo standard error of the posterior mean (ArviZ)", "comment": _PER_PARAMETER})
    root["converged"] = (dims, vals["converged"].astype(np.int8), {
        "units": "1", "long_name": "the posterior passed the convergence diagnostics", "flag_values": np.array([0, 1], np.int8), "flag_meanings": "not_converged converged",
        "comment": f"converged: every parameter has rank-normalised split-R-hat <= {cfg.rhat_target:g} and bulk "
                   f"ESS >= {cfg.ess_target:g}; do not use a posterior with converged = 0 without checking it"})
    root["stop_reason"] = (dims, vals["stop"].astype(np.int8), STOP_FLAGS)
    root["gelman_rubin"] = (dims + ("parameter",), vals["gr"], {
        "units": "1", "long_name": "classic Gelman-Rubin statistic of all post-burn-in draws (seed 002 eq. 10; "
                                   "for comparison with the papers)"})
    root["gelman_rubin_mean"] = (dims, vals["grm"], {"units": "1", "long_name": "mean classic Gelman-Rubin"})
    root["converged_gr"] = (dims, vals["conv_gr"].astype(np.int8), {
        "units": "1", "long_name": "classic Gelman-Rubin criterion met", "flag_values": np.array([0, 1], np.int8), "flag_meanings": "not_converged converged",
        "threshold": cfg.gr_threshold, "comment": "classic criterion of seed 001: mean Gelman-Rubin <= threshold"})
    root["n_evaluations"] = (dims, np.asarray(vals["nev"]).astype(np.int32), {
        "units": "1", "long_name": "model evaluations of the sampler"})


def _stat_vars(root, dims, vals: dict) -> None:
    root["posterior_mean"] = (dims + ("parameter",), vals["mean"], {"long_name": "posterior mean",
                                                                     "comment": _PER_PARAMETER})
    root["posterior_sd"] = (dims + ("parameter",), vals["sd"], {"long_name": "posterior standard deviation",
                                                                 "comment": _PER_PARAMETER})
    root["posterior_mode"] = (dims + ("parameter",), vals["mode"], {
        "long_name": "posterior mode of a fitted GEV (seed 002)", "comment": _PER_PARAMETER})
    root["posterior_quantile"] = (dims + ("quantile", "parameter"), vals["q"], {"long_name": "posterior quantile",
                                                                                 "comment": _PER_PARAMETER})
    root["kp_mean"] = (dims + ("parameter",), vals["kp_mean"], {"units": "1",
                                                                 "long_name": "posterior mean of kp (normalised)"})


#: (key of the root-group values, attribute of McmcSummary) and (..., attribute of McmcDiagnostics)
_POSTERIOR_KEYS = (("mean", "mean"), ("sd", "sd"), ("mode", "mode"), ("kp_mean", "kp_mean"))
_DIAGNOSTIC_KEYS = (("gr", "gelman_rubin"), ("rhat", "rhat"), ("ess_bulk", "ess_bulk"), ("ess_tail", "ess_tail"),
                    ("mcse_mean", "mcse_mean"))


def _summary_values(d) -> dict:
    """The root-group values of one McmcSummary (keys of _POSTERIOR_KEYS, _DIAGNOSTIC_KEYS and q, grm, nev,
    converged, conv_gr, acc_site, stop)."""
    g = d.diagnostics
    vals = {k: getattr(d, key) for k, key in _POSTERIOR_KEYS}
    vals.update({k: getattr(g, key) for k, key in _DIAGNOSTIC_KEYS})
    vals.update(q=d.quantiles, grm=g.gr_mean, nev=g.n_sampler_evaluations, converged=g.converged,
                conv_gr=g.converged_gr, acc_site=bool(np.all(g.acceptance_ok)), stop=_STOP_CODE[g.stop_reason])
    return vals


def _collect(run, S, P):
    cfg = run.config
    vals = {k: np.full((S, P), np.nan) for k, _ in _POSTERIOR_KEYS + _DIAGNOSTIC_KEYS}
    vals["q"] = np.full((S, len(cfg.quantiles), P), np.nan)
    vals["grm"] = np.full(S, np.nan)
    vals["nev"] = np.zeros(S, np.int64)
    for k in ("converged", "conv_gr", "acc_site"):
        vals[k] = np.zeros(S, np.int8)
    vals["stop"] = np.full(S, -1, np.int8)
    for r in run.results:
        if not r.ok:
            continue
        for k, v in _summary_values(r.data).items():
            vals[k][r.index] = v
    return vals


def _site_stats(root, run, S, P):
    vals = _collect(run, S, P)
    _stat_vars(root, ("site",), vals)
    _diag_vars(root, ("site",), vals, run.config)
    root["stop_reason"].attrs["_FillValue"] = np.int8(-1)
    root["acceptance_ok"] = ("site", vals["acc_site"], {"units": "1", "long_name": "acceptance rates of all chains "
                                                        "inside the sampler's window",
                                                        "flag_values": np.array([0, 1], np.int8),
                                                        "flag_meanings": "some_chain_outside all_chains_inside"})
    rmse_r = np.full((S, P), np.nan)
    wall, cpu = np.full(S, np.nan), np.full(S, np.nan)
    rank = np.full(S, -1, np.int32)
    for r in run.results:
        wall[r.index], cpu[r.index], rank[r.index] = r.wall_time, r.cpu_time, r.rank
        if r.ok and r.data.sites[0].rmse_draws is not None:
            rmse_r[r.index] = dg.parameter_rmse_correlation(r.data.draws.reshape(-1, P), r.data.sites[0].rmse_draws)
    root["parameter_rmse_r"] = (("site", "parameter"), rmse_r, {"units": "1", "long_name": "Pearson r between "
                                "parameter and RMSE over the saved draws (seed 000)"})
    root["wall_time"] = ("site", wall, {"units": "s", "long_name": "wall-clock time of the site"})
    root["cpu_time"] = ("site", cpu, {"units": "s", "long_name": "CPU time of the site"})
    root["rank"] = ("site", rank, {"units": "1", "long_name": "MPI rank that calibrated the site"})


def _batch_stats(root, run):
    vals = {k: np.asarray(v) for k, v in _summary_values(run.results[0].data).items() if k != "acc_site"}
    _stat_vars(root, (), vals)
    _diag_vars(root, (), vals, run.config)


# ---- SCE-UA and Morris ----------------------------------------------------------------------------------
def sceua_groups(run) -> dict[str, xr.Dataset]:
    """The groups of an SCE-UA calibration: root (optimum, cost, predictive fit per site),
    'observed_data' and 'constant_data'.

    Parameters
    ----------
    run : pysoc.da.run.RunResult

    Returns
    -------
    dict
        Group name -> Dataset, for :func:`write_groups`.
    """
    cfg = run.config
    entries = site_entries(run)
    streams = _streams(entries)
    status, errors = _status_errors(run)
    S, P = len(run.profiles), len(run.param_names)
    root = xr.Dataset(coords=_coords(run))
    root["status"] = ("site", status, SITE_STATUS)
    root["error"] = ("site", np.array(errors, dtype=object))
    if cfg.mode == "site_by_site":
        best = np.full((S, P), np.nan)
        kpb = np.full((S, P), np.nan)
        cost = np.full(S, np.nan)
        nev = np.zeros(S, np.int32)
        conv = np.zeros(S, np.int8)
        for r in run.results:
            if r.ok:
                best[r.index], kpb[r.index], cost[r.index] = r.data.best, r.data.kp_best, r.data.cost
                nev[r.index], conv[r.index] = r.data.n_evals, r.data.converged
        dims = ("site", "parameter")
        root["cost"] = ("site", cost, {"units": "1", "long_name": "cost J at the optimum"})
        root["n_evals"] = ("site", nev, {"units": "1"})
        root["converged"] = ("site", conv, {"units": "1", "flag_values": np.array([0, 1], np.int8),
                                            "flag_meanings": "budget_exhausted converged"})
    else:
        d = run.results[0].data
        best, kpb = d.best, d.kp_best
        dims = ("parameter",)
        root.attrs.update(cost=float(d.cost), n_evals=int(d.n_evals), converged=int(d.converged),
                          stop_reason=d.reason)
    for j, n in enumerate(run.param_names):
        root[n] = (dims[:-1], best[..., j], _param_attrs(run, j))
    root["kp_best"] = (dims, kpb, {"units": "1", "long_name": "normalised optimum"})
    _predictive_summary(root, run, entries, streams)
    return {"/": root, "observed_data": _observed_data(run, entries, streams),
            "constant_data": _constant_data(run, entries, streams)}


def morris_groups(run) -> dict[str, xr.Dataset]:
    """The root group of a Morris screening: mu, mu*, sigma, the confidence of mu* and the
    importance per site (or for the one batch) and parameter.

    Parameters
    ----------
    run : pysoc.da.run.RunResult

    Returns
    -------
    dict
        ``{'/': Dataset}``, for :func:`write_groups`.
    """
    cfg = run.config
    status, errors = _status_errors(run)
    S, P = len(run.profiles), len(run.param_names)
    root = xr.Dataset(coords=_coords(run))
    root["status"] = ("site", status, SITE_STATUS)
    root["error"] = ("site", np.array(errors, dtype=object))
    keys = ("mu", "mu_star", "sigma", "mu_star_conf", "importance")
    docs = {"mu": "mean elementary effect", "mu_star": "mean absolute elementary effect",
            "sigma": "standard deviation of the elementary effects", "mu_star_conf": "95 % confidence of mu_star",
            "importance": "sqrt(mu^2 + sigma^2) / sd over parameters (seed 003)"}
    unit = "1" if cfg.morris.response == "cost" else "1"
    if cfg.mode == "site_by_site":
        arr = {k: np.full((S, P), np.nan) for k in keys}
        used = np.zeros(S, np.int32)
        for r in run.results:
            if r.ok:
                for k in keys:
                    arr[k][r.index] = getattr(r.data, k)
                used[r.index] = r.data.n_trajectories_used
        for k in keys:
            root[k] = (("site", "parameter"), arr[k], {"units": unit, "long_name": docs[k]})
        root["n_trajectories_used"] = ("site", used, {"units": "1"})
    else:
        d = run.results[0].data
        for k in keys:
            root[k] = ("parameter", getattr(d, k), {"units": unit, "long_name": docs[k]})
        root.attrs["n_trajectories_used"] = int(d.n_trajectories_used)
    root.attrs["response"] = cfg.morris.response
    root.attrs["num_levels"] = cfg.morris.num_levels
    return {"/": root}


# ---- writing ---------------------------------------------------------------------------------------------
def _encoding(ds: xr.Dataset) -> dict:
    enc = {}
    for name, var in ds.data_vars.items():
        if var.dtype.kind == "f":
            enc[name] = {"zlib": True, "complevel": 4, "_FillValue": np.nan}
    for name in ds.coords:
        if ds[name].dtype.kind == "f":
            enc[name] = {"_FillValue": None}
    return enc


def _canonical_units(ds: xr.Dataset) -> xr.Dataset:
    """The project's UDUNITS spellings (pysoc.io.netcdf: 'g C m-3' -> 'g m-3', 'per mil' ->
    '1e-3'); an amount per month keeps 'per month' in its long_name."""
    from pysoc.io.netcdf import canonical_units

    for var in ds.variables.values():
        if "units" in var.attrs:
            units, cell = canonical_units(str(var.attrs["units"]))
            if cell and units != var.attrs["units"]:
                var.attrs["long_name"] = f"{var.attrs.get('long_name', '')} (amount per month)".strip()
            var.attrs["units"] = units
    return ds


def write_groups(groups: dict[str, xr.Dataset], path, attrs: dict) -> Path:
    """Write the groups to one NetCDF-4 file (root group '/' first), atomically, with the
    project's UDUNITS spellings.

    Parameters
    ----------
    groups : dict
        Group name ('/' for the root) -> Dataset.
    path : path
        The file (a temporary ``.part`` file is renamed on success).
    attrs : dict
        Global attributes of the root group (the provenance ones are copied to every group).

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = xr.Dataset({"cost": ("site", np.array([1.5, 2.0]), {"units": "1"})})
    >>> post = xr.Dataset({"k": (("chain", "draw"), np.zeros((2, 3)), {"units": "yr"})})
    >>> f = write_groups({"/": root, "posterior": post}, pathlib.Path(tempfile.mkdtemp()) / "r.nc",
    ...                  {"Conventions": "CF-1.8", "created_at": "2026-01-01T00:00:00+00:00"})
    >>> with xr.open_dataset(f, group="posterior") as ds:
    ...     ds["k"].shape, ds.attrs["created_at"]
    ((2, 3), '2026-01-01T00:00:00+00:00')
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        root = _canonical_units(groups.get("/", xr.Dataset()).copy())
        root.attrs.update(attrs)
        root.to_netcdf(tmp, mode="w", format="NETCDF4", encoding=_encoding(root))
        for name, ds in groups.items():
            if name == "/":
                continue
            ds = _canonical_units(ds.copy())
            ds.attrs.update({k: attrs[k] for k in ("created_at", "inference_library", "inference_library_version")
                             if k in attrs})
            ds.to_netcdf(tmp, mode="a", group=name, format="NETCDF4", encoding=_encoding(ds))
    return path


def site_table(run) -> pd.DataFrame:
    """The flat site summary (``<run_name>_sites.csv``).

    Parameters
    ----------
    run : pysoc.da.run.RunResult

    Returns
    -------
    pandas.DataFrame
        One row per selected profile (status, error, fit metrics per stream, timings, the
        method's per-site results) plus one per profile the selection removed ('excluded').
    """
    cfg = run.config
    entries = site_entries(run)
    status, errors = _status_errors(run)
    rows = []
    res_by_index = {r.index: r for r in run.results if r.index >= 0}
    for i, p in enumerate(run.profiles):
        row = {"site_id": p.site_id, "lat": p.lat, "lon": p.lon, "status": "ok" if status[i] == 0 else "failed",
               "error": errors[i]}
        e = entries[i]
        if e is not None:
            for name, o in e.obs.items():
                row[f"{name}_n_obs"] = o.y.size
                for m in ("nse", "r2", "rmse", "mae", "r", "slope", "intercept", "bic"):
                    row[f"{name}_{m}"] = o.metrics[m]
        r = res_by_index.get(i)
        if r is not None:
            row["wall_time_s"] = r.wall_time
            row["cpu_time_s"] = r.cpu_time
            row["rank"] = r.rank
        if r is not None and r.ok and cfg.mode == "site_by_site":
            d = r.data
            if cfg.method == "mcmc":
                row.update(_mcmc_row(run, d))
            elif cfg.method == "sceua":
                row["cost"] = d.cost
                row["n_evals"] = d.n_evals
                row["converged"] = d.converged
                for j, n in enumerate(run.param_names):
                    row[f"{n}_best"] = d.best[j]
            else:
                for j, n in enumerate(run.param_names):
                    row[f"{n}_mu_star"] = d.mu_star[j]
                    row[f"{n}_importance"] = d.importance[j]
        if "kp_true" in getattr(p, "meta", {}):
            for j, n in enumerate(run.param_names):
                row[f"{n}_kp_true"] = float(p.meta["kp_true"][j])
        rows.append(row)
    for sid, reason in run.removed:
        rows.append({"site_id": sid, "status": "excluded", "error": reason})
    return pd.DataFrame(rows)


def _mcmc_row(run, d) -> dict:
    cfg = run.config
    g = d.diagnostics
    row = {"converged": bool(g.converged), "stop_reason": g.stop_reason, "rhat_max": g.rhat_max,
           "ess_bulk_min": g.ess_bulk_min, "ess_tail_min": float(np.nanmin(g.ess_tail)),
           "n_evaluations": g.n_sampler_evaluations, "n_generations": g.n_generations,
           "gr_mean": g.gr_mean, "gr_max": float(np.max(g.gelman_rubin)), "converged_gr": bool(g.converged_gr),
           "acceptance_min": float(np.min(g.acceptance_rate)), "acceptance_max": float(np.max(g.acceptance_rate)),
           "acceptance_ok": bool(np.all(g.acceptance_ok)), "n_invalid": int(np.sum(g.n_invalid))}
    qs = list(cfg.quantiles)
    for j, n in enumerate(run.param_names):
        row[f"{n}_mean"] = d.mean[j]
        row[f"{n}_mode"] = d.mode[j]
        row[f"{n}_q05"] = d.quantiles[qs.index(0.05)][j] if 0.05 in qs else np.nan
        row[f"{n}_q95"] = d.quantiles[qs.index(0.95)][j] if 0.95 in qs else np.nan
        row[f"{n}_rhat"] = g.rhat[j]
        row[f"{n}_ess_bulk"] = g.ess_bulk[j]
        row[f"{n}_ess_tail"] = g.ess_tail[j]
        row[f"{n}_mcse_mean"] = g.mcse_mean[j]
    return row


def write_all(run, figure_writer=None) -> dict:
    """Write the NetCDF file of the method, the site CSV and (optionally) the figures.

    Parameters
    ----------
    run : pysoc.da.run.RunResult
    figure_writer : callable, optional
        ``figure_writer(run, outdir, base) -> {name: path}`` (used when ``config.figures``).

    Returns
    -------
    dict
        'netcdf', 'csv' and the figure names -> paths.
    """
    cfg = run.config
    out = Path(cfg.output_dir)
    base = cfg.run_name
    if cfg.method == "mcmc":
        groups, nc = mcmc_groups(run), out / f"{base}_posterior.nc"
        label = "DREAM(ZS)" if cfg.sampler == "dream_zs" else "adaptive Metropolis"
        title = f"pysoc {run.model.name} {label} calibration ({cfg.mode})"
    elif cfg.method == "sceua":
        groups, nc = sceua_groups(run), out / f"{base}_sceua.nc"
        title = f"pysoc {run.model.name} SCE-UA optimisation ({cfg.mode})"
    else:
        groups, nc = morris_groups(run), out / f"{base}_morris.nc"
        title = f"pysoc {run.model.name} Morris screening ({cfg.mode})"
    paths = {"netcdf": write_groups(groups, nc, _attrs(run, title)),
             "csv": write_csv(site_table(run), out / f"{base}_sites.csv")}
    if cfg.figures and figure_writer is not None:
        paths.update(figure_writer(run, out, base))
    return paths


__all__ = ["mcmc_groups", "site_inference_data", "site_entries", "sceua_groups", "morris_groups", "write_groups", "site_table", "write_csv", "write_all"]

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
from pysoc.da.likelihood import STREAMS
from pysoc.io.atomic import atomic_path

METRICS = ("nse", "r2", "rmse", "mae", "r", "slope", "intercept", "bic", "n")
SITE_STATUS = {"flag_values": np.array([0, 1], np.int8), "flag_meanings": "ok failed",
               "long_name": "calibration status of the site", "units": "1"}


# ---- helpers ------------------------------------------------------------------------------------------
def _site_entries(run) -> list:
    """Per selected profile: the predictive entry dict or None (failed/excluded)."""
    n = len(run.profiles)
    out = [None] * n
    cfg = run.config
    if cfg.mode == "site_by_site":
        for r in run.results:
            if r.ok and "sites" in r.data:
                out[r.index] = r.data["sites"][0]
    else:
        r = run.results[0]
        for j, i in enumerate(run.one_batch_sites):
            if j < len(r.data.get("sites", [])):
                out[i] = r.data["sites"][j]
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
            for k in e["obs"]:
                if k not in names:
                    names.append(k)
    return sorted(names, key=list(STREAMS).index)


def _obs_arrays(entries, name):
    """Padded (site, obs) arrays of one stream."""
    n = len(entries)
    m = max((e["obs"][name]["y"].size for e in entries if e is not None and name in e["obs"]), default=0)
    keys = ("y", "sigma", "weight", "top", "bottom", "mean", "q05", "q95")
    out = {k: np.full((n, m), np.nan) for k in keys}
    for i, e in enumerate(entries):
        if e is None or name not in e["obs"]:
            continue
        o = e["obs"][name]
        k = o["y"].size
        for key in keys:
            if o.get(key) is not None:
                out[key][i, :k] = o[key]
    return out, m


def _coords(run, n_chain=None, n_draw=None):
    prof = run.profiles
    c = {"site": ("site", np.arange(len(prof))),
         "site_id": ("site", np.array([str(p.site_id) for p in prof], dtype=object)),
         "parameter": ("parameter", np.array(run.param_names, dtype=object))}
    if n_chain is not None:
        c["chain"] = ("chain", np.arange(n_chain))
    if n_draw is not None:
        c["draw"] = ("draw", np.arange(n_draw))
    return c


def _param_attrs(run, j):
    spec = run.model.parameters[run.param_names[j]]
    return {"units": spec.units, "long_name": spec.description, "prior_min": spec.prior_min,
            "prior_max": spec.prior_max}


def _constant_data(run, entries, streams) -> xr.Dataset:
    ds = xr.Dataset(coords=_coords(run))
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
    ds = xr.Dataset(coords=_coords(run))
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
                    arr[i] = e[key]
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
            vals = np.array([e["obs"][name]["metrics"][m] if e is not None and name in e["obs"] else np.nan
                             for e in entries], float)
            ds[f"{name}_{m}"] = ("site", vals, {"units": u if m in ("rmse", "mae", "intercept") else "1",
                                               "long_name": f"{name}: {_METRIC_DOC[m]}"})


_METRIC_DOC = {"nse": "Nash-Sutcliffe efficiency of the predictive mean", "r2": "squared Pearson correlation",
               "rmse": "root mean square error", "mae": "mean absolute error", "r": "Pearson correlation",
               "slope": "slope of the regression of modelled on observed", "intercept": "intercept of that regression",
               "bic": "BIC = 2 N log(RMSE) + 2 Np (seed 003)", "n": "number of observations"}


def _attrs(run, title: str) -> dict:
    cfg = run.config
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    a = {"Conventions": "CF-1.8", "title": title, "institution": "pysoc", "source": f"pysoc {pysoc.__version__}",
         "history": f"{now} created by pysoc-calibrate", "created_at": now, "inference_library": "pysoc",
         "inference_library_version": pysoc.__version__, "model": run.model.name, "method": cfg.method,
         "mode": cfg.mode, "seed": cfg.seed, "streams": ", ".join(s.name for s in cfg.streams),
         "references": "Haario et al. 2001; Tao et al. 2020, 2023; seeds 000-003 of the pysoc spec"}
    for k, v in run.summary.items():
        if isinstance(v, (int, float, np.integer, np.floating)):
            a[f"summary_{k}"] = float(v)
    if cfg.namelist_text:
        a["namelist"] = cfg.namelist_text
    return a


# ---- adaptive Metropolis -------------------------------------------------------------------------------
def am_groups(run) -> dict[str, xr.Dataset]:
    cfg = run.config
    entries = _site_entries(run)
    streams = _streams(entries)
    names = run.param_names
    P = len(names)
    status, errors = _status_errors(run)
    groups: dict[str, xr.Dataset] = {}
    if cfg.mode == "site_by_site":
        ok = [r for r in run.results if r.ok]
        S = len(run.profiles)
        K = cfg.am.n_chains
        D = max((r.data["draws"].shape[1] for r in ok), default=1)
        T = max((r.data["trace_cost"].shape[1] for r in ok), default=1)
        coords = _coords(run, K, D)

        def site_arr(shape, fill=np.nan, dtype=float):
            return np.full(shape, fill, dtype=dtype)

        draws = site_arr((K, D, S, P))
        kp = site_arr((K, D, S, P))
        lp = site_arr((K, D, S))
        acc = site_arr((K, S))
        acct = site_arr((K, S))
        accok = np.zeros((K, S), np.int8)
        ninv = np.zeros((K, S), np.int64)
        nout = np.zeros((K, S), np.int64)
        tr_kp = site_arr((K, T, S, P))
        tr_cost = site_arr((K, T, S))
        tr_it = np.zeros(T)
        for r in ok:
            d, i = r.data, r.index
            nd = d["draws"].shape[1]
            draws[:, :nd, i] = d["draws"]
            kp[:, :nd, i] = d["draws_kp"]
            lp[:, :nd, i] = d["lp"]
            acc[:, i], acct[:, i] = d["acceptance_rate"], d["acceptance_rate_test"]
            accok[:, i] = d["acceptance_ok"]
            ninv[:, i], nout[:, i] = d["n_invalid"], d["n_outside"]
            tk, it = d["trace_kp"]
            tr_kp[:, :tk.shape[1], i] = tk
            tr_cost[:, :tk.shape[1], i] = d["trace_cost"]
            tr_it[:it.size] = it
        post = xr.Dataset(coords=coords)
        for j, n in enumerate(names):
            post[n] = (("chain", "draw", "site"), draws[..., j], _param_attrs(run, j))
        post["kp"] = (("chain", "draw", "site", "parameter"), kp, {"units": "1", "long_name": "normalised parameters"})
        ss = xr.Dataset(coords={**coords, "trace": ("trace", np.arange(T))})
        ss["lp"] = (("chain", "draw", "site"), lp, {"units": "1", "long_name": "log posterior density up to a "
                                                                              "constant (= -cost)"})
        ss["trace_iteration"] = ("trace", tr_it, {"units": "1", "long_name": "iteration (test run first, then formal "
                                                                              "run) of the thinned trace"})
        ss["trace_kp"] = (("chain", "trace", "site", "parameter"), tr_kp, {"units": "1"})
        ss["trace_cost"] = (("chain", "trace", "site"), tr_cost, {"units": "1", "long_name": "cost J of the trace"})
        chain_dims = ("chain", "site")
        ll_dims = ("chain", "draw", "site")
    else:
        r = run.results[0]
        d = r.data
        K, D = d["draws"].shape[:2]
        coords = _coords(run, K, D)
        post = xr.Dataset(coords=coords)
        for j, n in enumerate(names):
            post[n] = (("chain", "draw"), d["draws"][..., j], _param_attrs(run, j))
        post["kp"] = (("chain", "draw", "parameter"), d["draws_kp"], {"units": "1"})
        tk, it = d["trace_kp"]
        ss = xr.Dataset(coords={**coords, "trace": ("trace", np.arange(it.size))})
        ss["lp"] = (("chain", "draw"), d["lp"], {"units": "1", "long_name": "log posterior density up to a constant"})
        ss["trace_iteration"] = ("trace", it, {"units": "1"})
        ss["trace_kp"] = (("chain", "trace", "parameter"), tk, {"units": "1"})
        ss["trace_cost"] = (("chain", "trace"), d["trace_cost"], {"units": "1"})
        acc, acct, accok = d["acceptance_rate"], d["acceptance_rate_test"], d["acceptance_ok"].astype(np.int8)
        ninv, nout = d["n_invalid"], d["n_outside"]
        chain_dims = ("chain",)
        ll_dims = ("chain", "draw", "site")
        S = len(run.profiles)
    ss["acceptance_rate"] = (chain_dims, acc, {"units": "1", "long_name": "acceptance rate of the formal run"})
    ss["acceptance_rate_test"] = (chain_dims, acct, {"units": "1", "long_name": "acceptance rate of the test run"})
    ss["acceptance_ok"] = (chain_dims, accok, {"units": "1", "flag_values": np.array([0, 1], np.int8),
                                               "flag_meanings": "outside_window inside_window",
                                               "valid_window": [cfg.acceptance_min, cfg.acceptance_max]})
    ss["n_invalid"] = (chain_dims, ninv, {"units": "1", "long_name": "proposals rejected because the kernel failed"})
    ss["n_outside"] = (chain_dims, nout, {"units": "1", "long_name": "proposals outside the prior box"})
    groups["posterior"] = post
    groups["sample_stats"] = ss
    ll = xr.Dataset(coords=coords)
    pp = xr.Dataset(coords=coords)
    for name in streams:
        _, m = _obs_arrays(entries, name)
        pa = np.full((K, D, S, m), np.nan)
        la = np.full((K, D, S, m), np.nan)
        for i, e in enumerate(entries):
            if e is None or name not in e["pred"]:
                continue
            p = e["pred"][name]
            pa[:, :p.shape[1], i, :p.shape[2]] = p
            la[:, :p.shape[1], i, :p.shape[2]] = e["loglik"][name]
        dims = ll_dims + (f"obs_{name}",)
        pp[name] = (dims, pa, {"units": STREAMS[name].units, "long_name": f"modelled {STREAMS[name].long_name}"})
        ll[name] = (dims, la, {"units": "1", "long_name": "pointwise log-likelihood -w (y - yhat)^2 / (2 sigma^2) "
                                                         "(no normalising constant)"})
    groups["log_likelihood"] = ll
    groups["posterior_predictive"] = pp
    groups["observed_data"] = _observed_data(run, entries, streams)
    groups["constant_data"] = _constant_data(run, entries, streams)
    # root: per-site summary
    root = xr.Dataset(coords={**_coords(run), "quantile": ("quantile", np.asarray(cfg.quantiles, float))})
    root["status"] = ("site", status, SITE_STATUS)
    root["error"] = ("site", np.array(errors, dtype=object))
    if cfg.mode == "site_by_site":
        _site_stats(root, run, S, P)
    else:
        _batch_stats(root, run)
    _predictive_summary(root, run, entries, streams)
    if run.bounds is not None:
        root = root.assign_coords(depth=("level", run.bounds.mean(axis=1), {"units": "m", "positive": "down",
                                                                            "standard_name": "depth",
                                                                            "bounds": "depth_bnds"}),
                                  depth_bnds=(("level", "nv"), run.bounds, {"units": "m"}))
    groups["/"] = root
    return groups


def _site_stats(root, run, S, P):
    cfg = run.config
    Q = len(cfg.quantiles)
    f = {k: np.full((S, P), np.nan) for k in ("mean", "sd", "mode", "kp_mean", "gr")}
    q = np.full((S, Q, P), np.nan)
    grm = np.full(S, np.nan)
    conv = np.zeros(S, np.int8)
    acc_site = np.zeros(S, np.int8)
    wall = np.full(S, np.nan)
    rank = np.full(S, -1, np.int32)
    rmse_r = np.full((S, P), np.nan)
    for r in run.results:
        wall[r.index], rank[r.index] = r.wall_time, r.rank
        if not r.ok:
            continue
        d, i = r.data, r.index
        f["mean"][i], f["sd"][i], f["mode"][i], f["kp_mean"][i], f["gr"][i] = (d["mean"], d["sd"], d["mode"],
                                                                               d["kp_mean"], d["gelman_rubin"])
        q[i] = d["quantiles"]
        grm[i] = d["gr_mean"]
        conv[i] = d["gr_mean"] <= cfg.gr_threshold
        acc_site[i] = bool(np.all(d["acceptance_ok"]))
        e = d["sites"][0]
        if "rmse_draws" in e:
            from pysoc.da.diagnostics import parameter_rmse_correlation
            rmse_r[i] = parameter_rmse_correlation(d["draws"].reshape(-1, P), e["rmse_draws"])
    u = "1"
    root["posterior_mean"] = (("site", "parameter"), f["mean"], {"units": u, "long_name": "posterior mean "
                                                                                          "(units of each parameter)"})
    root["posterior_sd"] = (("site", "parameter"), f["sd"], {"units": u, "long_name": "posterior standard deviation"})
    root["posterior_mode"] = (("site", "parameter"), f["mode"], {"units": u, "long_name": "posterior mode of a "
                                                                                          "fitted GEV (seed 002)"})
    root["posterior_quantile"] = (("site", "quantile", "parameter"), q, {"units": u})
    root["kp_mean"] = (("site", "parameter"), f["kp_mean"], {"units": "1", "long_name": "posterior mean of kp"})
    root["gelman_rubin"] = (("site", "parameter"), f["gr"], {"units": "1", "long_name": "Gelman-Rubin statistic "
                                                                                         "(seed 002 eq. 10)"})
    root["gelman_rubin_mean"] = ("site", grm, {"units": "1"})
    root["converged"] = ("site", conv, {"units": "1", "flag_values": np.array([0, 1], np.int8),
                                        "flag_meanings": "not_converged converged",
                                        "threshold": cfg.gr_threshold, "comment": "mean G-R <= threshold"})
    root["acceptance_ok"] = ("site", acc_site, {"units": "1", "flag_values": np.array([0, 1], np.int8),
                                                "flag_meanings": "some_chain_outside all_chains_inside"})
    root["parameter_rmse_r"] = (("site", "parameter"), rmse_r, {"units": "1", "long_name": "Pearson r between "
                                                                "parameter and RMSE over the saved draws (seed 000)"})
    root["wall_time"] = ("site", wall, {"units": "s"})
    root["rank"] = ("site", rank, {"units": "1", "long_name": "MPI rank that calibrated the site"})


def _batch_stats(root, run):
    cfg = run.config
    d = run.results[0].data
    root["posterior_mean"] = ("parameter", d["mean"], {"units": "1"})
    root["posterior_sd"] = ("parameter", d["sd"], {"units": "1"})
    root["posterior_mode"] = ("parameter", d["mode"], {"units": "1"})
    root["posterior_quantile"] = (("quantile", "parameter"), d["quantiles"], {"units": "1"})
    root["kp_mean"] = ("parameter", d["kp_mean"], {"units": "1"})
    root["gelman_rubin"] = ("parameter", d["gelman_rubin"], {"units": "1"})
    root.attrs["gelman_rubin_mean"] = float(d["gr_mean"])
    root.attrs["converged"] = int(d["gr_mean"] <= cfg.gr_threshold)


# ---- SCE-UA and Morris ----------------------------------------------------------------------------------
def sceua_groups(run) -> dict[str, xr.Dataset]:
    cfg = run.config
    entries = _site_entries(run)
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
        nev = np.zeros(S, np.int64)
        conv = np.zeros(S, np.int8)
        for r in run.results:
            if r.ok:
                best[r.index], kpb[r.index], cost[r.index] = r.data["best"], r.data["kp_best"], r.data["cost"]
                nev[r.index], conv[r.index] = r.data["n_evals"], r.data["converged"]
        dims = ("site", "parameter")
        root["cost"] = ("site", cost, {"units": "1", "long_name": "cost J at the optimum"})
        root["n_evals"] = ("site", nev, {"units": "1"})
        root["converged"] = ("site", conv, {"units": "1", "flag_values": np.array([0, 1], np.int8),
                                            "flag_meanings": "budget_exhausted converged"})
    else:
        d = run.results[0].data
        best, kpb = d["best"], d["kp_best"]
        dims = ("parameter",)
        root.attrs.update(cost=float(d["cost"]), n_evals=int(d["n_evals"]), converged=int(d["converged"]),
                          stop_reason=d["reason"])
    for j, n in enumerate(run.param_names):
        root[n] = (dims[:-1], best[..., j], _param_attrs(run, j))
    root["kp_best"] = (dims, kpb, {"units": "1", "long_name": "normalised optimum"})
    _predictive_summary(root, run, entries, streams)
    return {"/": root, "observed_data": _observed_data(run, entries, streams),
            "constant_data": _constant_data(run, entries, streams)}


def morris_groups(run) -> dict[str, xr.Dataset]:
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
        used = np.zeros(S, np.int64)
        for r in run.results:
            if r.ok:
                for k in keys:
                    arr[k][r.index] = r.data[k]
                used[r.index] = r.data["n_trajectories_used"]
        for k in keys:
            root[k] = (("site", "parameter"), arr[k], {"units": unit, "long_name": docs[k]})
        root["n_trajectories_used"] = ("site", used, {"units": "1"})
    else:
        d = run.results[0].data
        for k in keys:
            root[k] = ("parameter", d[k], {"units": unit, "long_name": docs[k]})
        root.attrs["n_trajectories_used"] = int(d["n_trajectories_used"])
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


def write_groups(groups: dict[str, xr.Dataset], path, attrs: dict) -> Path:
    """Write the groups to one NetCDF-4 file (root group '/' first), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        root = groups.get("/", xr.Dataset())
        root = root.copy()
        root.attrs.update(attrs)
        root.to_netcdf(tmp, mode="w", format="NETCDF4", encoding=_encoding(root))
        for name, ds in groups.items():
            if name == "/":
                continue
            ds = ds.copy()
            ds.attrs.update({k: attrs[k] for k in ("created_at", "inference_library", "inference_library_version")
                             if k in attrs})
            ds.to_netcdf(tmp, mode="a", group=name, format="NETCDF4", encoding=_encoding(ds))
    return path


def site_table(run) -> pd.DataFrame:
    """Flat summary: one row per selected profile (plus the profiles the selection removed)."""
    cfg = run.config
    entries = _site_entries(run)
    status, errors = _status_errors(run)
    rows = []
    res_by_index = {r.index: r for r in run.results if r.index >= 0}
    for i, p in enumerate(run.profiles):
        row = {"site_id": p.site_id, "lat": p.lat, "lon": p.lon, "status": "ok" if status[i] == 0 else "failed",
               "error": errors[i]}
        e = entries[i]
        if e is not None:
            for name, o in e["obs"].items():
                row[f"{name}_n_obs"] = o["y"].size
                for m in ("nse", "r2", "rmse", "mae", "r", "slope", "intercept", "bic"):
                    row[f"{name}_{m}"] = o["metrics"][m]
        r = res_by_index.get(i)
        if r is not None:
            row["wall_time_s"] = r.wall_time
            row["rank"] = r.rank
        if r is not None and r.ok and cfg.mode == "site_by_site":
            d = r.data
            if cfg.method == "am":
                row["gr_mean"] = d["gr_mean"]
                row["gr_max"] = float(np.max(d["gelman_rubin"]))
                row["converged"] = bool(d["gr_mean"] <= cfg.gr_threshold)
                row["acceptance_min"] = float(np.min(d["acceptance_rate"]))
                row["acceptance_max"] = float(np.max(d["acceptance_rate"]))
                row["acceptance_ok"] = bool(np.all(d["acceptance_ok"]))
                row["n_invalid"] = int(np.sum(d["n_invalid"]))
                for j, n in enumerate(run.param_names):
                    row[f"{n}_mean"] = d["mean"][j]
                    row[f"{n}_mode"] = d["mode"][j]
                    row[f"{n}_q05"] = d["quantiles"][list(cfg.quantiles).index(0.05)][j] if 0.05 in cfg.quantiles \
                        else np.nan
                    row[f"{n}_q95"] = d["quantiles"][list(cfg.quantiles).index(0.95)][j] if 0.95 in cfg.quantiles \
                        else np.nan
            elif cfg.method == "sceua":
                row["cost"] = d["cost"]
                row["n_evals"] = d["n_evals"]
                row["converged"] = d["converged"]
                for j, n in enumerate(run.param_names):
                    row[f"{n}_best"] = d["best"][j]
            else:
                for j, n in enumerate(run.param_names):
                    row[f"{n}_mu_star"] = d["mu_star"][j]
                    row[f"{n}_importance"] = d["importance"][j]
        if "kp_true" in getattr(p, "meta", {}):
            for j, n in enumerate(run.param_names):
                row[f"{n}_kp_true"] = float(p.meta["kp_true"][j])
        rows.append(row)
    for sid, reason in run.removed:
        rows.append({"site_id": sid, "status": "excluded", "error": reason})
    return pd.DataFrame(rows)


def write_csv(df: pd.DataFrame, path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g")
    return path


def write_all(run, figure_writer=None) -> dict:
    cfg = run.config
    out = Path(cfg.output_dir)
    base = cfg.run_name
    if cfg.method == "am":
        groups, nc = am_groups(run), out / f"{base}_posterior.nc"
        title = f"pysoc {run.model.name} adaptive Metropolis calibration ({cfg.mode})"
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


__all__ = ["am_groups", "sceua_groups", "morris_groups", "write_groups", "site_table", "write_csv", "write_all"]

"""Predictions of a saved PRODA model at new sites (``pysoc-proda predict MODEL SITES``;
docs/proda.md, "Predicting at new sites").

For every usable site (:mod:`pysoc.proda.sites`) the best-guess network gives the parameter
vector; the members of the band ensemble (posterior-draw ensemble when the model has one,
else the bootstrap on posterior means) give the spread. The kernel runs in one batched call
per ensemble; the outputs are the SOC profile on the model layers, stocks over 0-30, 0-100,
0-200 cm and the whole column, and the parameters, each as the best guess with the ensemble
mean and 5-95 % band. Sites that cannot be predicted are kept with status and reason.

Files (:meth:`Prediction.write`): ``PREFIX.nc`` (CF-1.8), ``PREFIX_sites.csv`` (one row per
site: status, reason, stocks with bands, parameters) and ``PREFIX_profiles.csv`` (one row
per site and model layer).
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from pysoc.errors import DataError
from pysoc.proda.output import ensemble_quantile

#: status of a site in a prediction
STATUS = {0: "predicted", 1: "missing_covariate", 2: "no_site_forcing", 3: "kernel_failed"}


@dataclass
class Prediction:
    """Result of :func:`predict_sites`: the CF dataset, the per-site and per-layer tables,
    the unpredictable sites and the process time spent in kernel calls."""

    dataset: xr.Dataset
    sites: pd.DataFrame
    profiles: pd.DataFrame
    failures: list = field(default_factory=list)
    kernel_seconds: float = 0.0

    @property
    def n_predicted(self) -> int:
        return int((self.sites["status"] == 0).sum())

    def write(self, prefix) -> list[Path]:
        """Write ``PREFIX.nc``, ``PREFIX_sites.csv`` and ``PREFIX_profiles.csv`` atomically."""
        from pysoc.forcing import write_netcdf_atomic
        from pysoc.proda.output import write_csv

        prefix = Path(prefix)
        enc = {v: {"zlib": True, "complevel": 4} for v in self.dataset.data_vars
               if self.dataset[v].dtype.kind == "f"}
        for v in self.dataset.variables:
            if self.dataset[v].dtype.kind == "f":
                enc.setdefault(v, {})["_FillValue"] = np.nan if v in self.dataset.data_vars else None
        return [write_netcdf_atomic(self.dataset, prefix.with_name(prefix.name + ".nc"), encoding=enc),
                write_csv(self.sites, prefix.with_name(prefix.name + "_sites.csv")),
                write_csv(self.profiles, prefix.with_name(prefix.name + "_profiles.csv"))]


def run_kernel(model, prep, theta, site_index, chunk: int = 20000):
    """SOC profiles (n, nlev) g C m-3 (NaN where failed), status (n,) and the process time
    (s) of batched kernel calls for parameter vectors ``theta`` (n, nall) at ``site_index``."""
    n = theta.shape[0]
    soc = np.full((n, model.nlev), np.nan)
    status = np.zeros(n, np.int32)
    cpu = 0.0
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        t0 = time.process_time()
        res = model.evaluate(prep, theta[a:b], observables=("soc_profile",),
                             site_index=np.asarray(site_index[a:b], np.int32))
        cpu += time.process_time() - t0
        ok = res.ok
        soc[a:b][ok] = res.outputs["soc_profile"][ok]
        status[a:b] = res.status
    return soc, status, cpu


def predict_sites(pm, sites, grid=None, max_km: float | None = None, ensemble: str | None = None,
                  progress: bool = False) -> Prediction:
    """Predict SOC profiles, stocks and parameters at new sites.

    Parameters
    ----------
    pm : ProdaModel
        The saved model.
    sites : str, Path, DataFrame or list of Profile
        Sites table (``site_id``, ``lat``, ``lon``; covariate columns optional, named as in
        the profile tables), or profiles.
    grid : CovariateGrid, optional
        Covariate grid for covariates the table lacks (default: the model's).
    max_km : float, optional
        Largest distance of a grid covariate from a site (default: the model's ``site_max_km``).
    ensemble : str, optional
        Ensemble of the bands: 'draws', 'boot' or 'best' (default :meth:`ProdaModel.band_ensemble`).
    progress : bool
        Show a progress bar (tqdm, stderr).

    Returns
    -------
    Prediction

    Raises
    ------
    DataError
        A bad sites table (one line naming file, column and line).

    Examples
    --------
    >>> from pysoc.proda.model import ProdaModel
    >>> pred = ProdaModel.load("output/proda_clm5_model.nc").predict("sites.csv")   # doctest: +SKIP
    >>> pred.write("output/my_sites")                                               # doctest: +SKIP
    """
    from pysoc.proda.gridrun import stock_intervals, stock_labels
    from pysoc.proda.sites import load_sites, prepare_new_sites
    from pysoc.profiles import interval_integrals

    profiles = load_sites(sites)
    if not profiles:
        raise DataError(f"{sites}: no site in the sites table")
    bar = _bar(progress, "sites")
    ss = prepare_new_sites(pm, profiles, grid=grid, max_km=max_km, progress=bar)
    model = pm.model
    ens_name = ensemble or pm.band_ensemble()
    X = ss.X[ss.usable]
    nu = ss.usable.size
    cpu = 0.0
    kp_best = pm.predict_kp(X, "best")[0] if nu else np.empty((0, len(pm.predicted)))
    kp_ens = pm.predict_kp(X, ens_name) if nu else np.empty((0, 0, len(pm.predicted)))
    idx = np.arange(nu, dtype=np.int32)
    soc_b, st_b, c = run_kernel(model, ss.prep, pm.theta(kp_best), idx) if nu else \
        (np.empty((0, model.nlev)), np.empty(0, np.int32), 0.0)
    cpu += c
    m = kp_ens.shape[0]
    soc_e = np.full((m, nu, model.nlev), np.nan)
    members = range(m) if not progress else _bar(True, f"{ens_name} members")(range(m))
    for k in members:
        if nu:
            s, _, c = run_kernel(model, ss.prep, pm.theta(kp_ens[k]), idx)
            soc_e[k], cpu = s, cpu + c
    intervals = stock_intervals(model)
    labels = stock_labels(model)
    stock_b = interval_integrals(soc_b, model.bounds, intervals) / 1000.0
    stock_e = interval_integrals(soc_e, model.bounds, intervals) / 1000.0
    reasons = list(ss.reasons)
    for j, i in enumerate(ss.usable):
        if st_b[j] != 0:
            reasons[i] = f"kernel failed with the predicted parameters (status {int(st_b[j])})"
    res = dict(kp_best=kp_best, kp_ens=kp_ens, soc_b=soc_b, soc_e=soc_e, stock_b=stock_b, stock_e=stock_e,
               st_b=st_b, reasons=reasons, intervals=intervals, labels=labels, ensemble=ens_name)
    ds = _dataset(pm, ss, res, cpu)
    return Prediction(ds, _sites_table(pm, ss, res), _profiles_table(pm, ss, res),
                      [(p.site_id, r) for p, r in zip(ss.profiles, reasons) if r is not None], cpu)


def _bar(enabled: bool, desc: str):
    if not enabled:
        return None
    from tqdm import tqdm

    return lambda it: tqdm(it, desc=desc, unit="site" if desc == "sites" else "member", leave=False)


def _status(ss, res) -> np.ndarray:
    st = np.zeros(ss.n, np.int8)
    for i, r in enumerate(res["reasons"]):
        if r is None:
            continue
        st[i] = 1 if r.startswith("covariate") else 2 if r.startswith("site forcing") else 3
    return st


def _full(ss, arr, fill=np.nan):
    """Rows of the usable sites (axis -2 for ensembles) scattered onto all sites."""
    arr = np.asarray(arr, float)
    if arr.ndim == 3:
        out = np.full((arr.shape[0], ss.n) + arr.shape[2:], fill)
        out[:, ss.usable] = arr
        return out
    out = np.full((ss.n,) + arr.shape[1:], fill)
    out[ss.usable] = arr
    return out


def _nanmean(a):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, axis=0) if a.shape[0] else np.full(a.shape[1:], np.nan)


def _dataset(pm, ss, res, cpu) -> xr.Dataset:
    model = pm.model
    ok = _status(ss, res) == 0
    soc_b = np.where(ok[:, None], _full(ss, res["soc_b"]) / 1000.0, np.nan)
    soc_e = _full(ss, res["soc_e"]) / 1000.0
    stk_b = np.where(ok[:, None], _full(ss, res["stock_b"]), np.nan)
    stk_e = _full(ss, res["stock_e"])
    prof = ss.profiles
    ds = xr.Dataset(coords={
        "lat": ("site", [p.lat for p in prof], {"units": "degrees_north", "standard_name": "latitude"}),
        "lon": ("site", [p.lon for p in prof], {"units": "degrees_east", "standard_name": "longitude"}),
        "site_id": ("site", np.array([p.site_id for p in prof], dtype=object), {"long_name": "site id",
                                                                               "cf_role": "timeseries_id"}),
        "depth": ("depth", model.zsoi, {"units": "m", "positive": "down", "standard_name": "depth",
                                        "long_name": "layer node depth", "bounds": "depth_bnds"}),
    })
    ds["depth_bnds"] = (("depth", "nv"), model.bounds, {"units": "m"})
    ds["interval_label"] = (("interval",), np.array(res["labels"], dtype=object), {"long_name": "depth interval"})
    ds["interval_bnds"] = (("interval", "nv"), res["intervals"], {"units": "m", "long_name": "top and bottom "
                                                                  "of the depth interval"})
    st = _status(ss, res)
    ds["status"] = (("site",), st, {"long_name": "prediction status of the site", "units": "1",
                                    "flag_values": np.array(sorted(STATUS), np.int8),
                                    "flag_meanings": " ".join(STATUS[k] for k in sorted(STATUS))})
    ds["reason"] = (("site",), np.array([r or "" for r in res["reasons"]], dtype=object),
                    {"long_name": "why the site could not be predicted (empty: predicted)"})
    den = {"units": "kg m-3", "long_name": "SOC density of the model layer (carbon per m3 of soil)"}
    stk = {"units": "kg m-2", "standard_name": "soil_mass_content_of_carbon"}
    e = res["ensemble"]
    ds["soc"] = (("site", "depth"), soc_b, {**den, "long_name": den["long_name"] + ", best-guess network"})
    ds["soc_stock"] = (("site", "interval"), stk_b, {**stk, "long_name": "SOC stock, best-guess network"})
    for stat, f in (("mean", _nanmean), ("p05", lambda a: ensemble_quantile(a, 0.05)), ("p95", lambda a: ensemble_quantile(a, 0.95))):
        ds[f"soc_{stat}"] = (("site", "depth"), f(soc_e), {**den, "long_name": den["long_name"] + f", {stat} of "
                             f"the '{e}' ensemble ({soc_e.shape[0]} members)"})
        ds[f"soc_stock_{stat}"] = (("site", "interval"), f(stk_e), {**stk, "long_name": f"SOC stock, {stat} of the "
                                   f"'{e}' ensemble"})
    nok = np.isfinite(stk_e[..., 0]).sum(axis=0) if stk_e.shape[0] else np.zeros(ss.n, int)
    ds["members_ok"] = (("site",), np.asarray(nok, np.int32), {"units": "1", "long_name": f"members of the '{e}' "
                        f"ensemble whose kernel run succeeded (of {soc_e.shape[0]}); the bands use these"})
    _add_parameters(ds, pm, ss, res)
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    ds.attrs.update({"Conventions": "CF-1.8", "title": f"PRODA {pm.model_name} predictions at sites",
                     "institution": "pysoc", "source": f"pysoc {pm.pysoc_version} model applied by pysoc-proda "
                     "predict", "history": f"{now} pysoc-proda predict",
                     "references": "Tao et al. 2020 Front. Big Data (seed 002); Tao et al. 2024 GCB (seed 001)",
                     "proda_model": str(pm.settings.get("source", "")), "band_ensemble": e,
                     "sites_predicted": int(ok.sum()), "sites_not_predicted": int((~ok).sum()),
                     "kernel_process_seconds": float(cpu)})
    return ds


def _add_parameters(ds, pm, ss, res) -> None:
    model = pm.model
    ok = _status(ss, res) == 0
    th_b = np.where(ok[:, None], _full(ss, pm.theta(res["kp_best"])), np.nan)
    th_e = _full(ss, pm.theta(res["kp_ens"])) if res["kp_ens"].size else np.empty((0, ss.n, len(pm.parameter_names)))
    for j, spec in enumerate(model.parameters):
        att = {"units": spec.units, "long_name": spec.description}
        if spec.name not in pm.predicted:
            att["comment"] = "not calibrated: fixed value"
        ds[spec.name] = (("site",), th_b[:, j], {**att, "long_name": att["long_name"] + " (best guess)"})
        if spec.name in pm.predicted:
            for stat, f in (("p05", lambda a: ensemble_quantile(a, 0.05)), ("p95", lambda a: ensemble_quantile(a, 0.95))):
                ds[f"{spec.name}_{stat}"] = (("site",), f(th_e[:, :, j]), {**att, "long_name": att["long_name"]
                                             + f" ({stat} of the '{res['ensemble']}' ensemble)"})


def _sites_table(pm, ss, res) -> pd.DataFrame:
    st = _status(ss, res)
    ok = st == 0
    rows = pd.DataFrame({"site_id": [p.site_id for p in ss.profiles], "lat": [p.lat for p in ss.profiles],
                         "lon": [p.lon for p in ss.profiles], "status": st,
                         "status_name": [STATUS[int(s)] for s in st], "reason": [r or "" for r in res["reasons"]]})
    stk_b = np.where(ok[:, None], _full(ss, res["stock_b"]), np.nan)
    stk_e = _full(ss, res["stock_e"])
    p05, p95 = ensemble_quantile(stk_e, 0.05), ensemble_quantile(stk_e, 0.95)
    rows["members_ok"] = np.isfinite(stk_e[..., 0]).sum(axis=0) if stk_e.shape[0] else 0
    for k, lab in enumerate(res["labels"]):
        tag = _tag(lab)
        rows[f"stock_{tag}_kg_m2"] = stk_b[:, k]
        rows[f"stock_{tag}_p05_kg_m2"] = p05[:, k]
        rows[f"stock_{tag}_p95_kg_m2"] = p95[:, k]
    th_b = np.where(ok[:, None], _full(ss, pm.theta(res["kp_best"])), np.nan)
    for j, name in enumerate(pm.parameter_names):
        if name in pm.predicted:
            rows[name] = th_b[:, j]
    return rows


def _tag(label: str) -> str:
    t = label.split(" ")[0].replace("-", "_")
    return t + ("cm" if "whole" not in label else "cm_column")


def _profiles_table(pm, ss, res) -> pd.DataFrame:
    model = pm.model
    ok = _status(ss, res) == 0
    soc_b = _full(ss, res["soc_b"]) / 1000.0
    soc_e = _full(ss, res["soc_e"]) / 1000.0
    p05, p95 = ensemble_quantile(soc_e, 0.05), ensemble_quantile(soc_e, 0.95)
    keep = np.flatnonzero(ok)
    nl = model.nlev
    return pd.DataFrame({
        "site_id": np.repeat([ss.profiles[i].site_id for i in keep], nl),
        "top_m": np.tile(model.bounds[:, 0], keep.size), "bottom_m": np.tile(model.bounds[:, 1], keep.size),
        "soc_kg_m3": soc_b[keep].ravel(), "soc_p05_kg_m3": p05[keep].ravel(), "soc_p95_kg_m3": p95[keep].ravel()})

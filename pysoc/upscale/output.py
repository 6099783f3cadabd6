"""Atomic writers (temporary file in the target folder, renamed on success) and the CF-1.8
map dataset of the upscaling."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

import pysoc
from pysoc.errors import DataError
from pysoc.io.atomic import atomic_path, write_csv  # noqa: F401  (the one CSV writer, re-exported)


def _atomic(path: Path, write) -> Path:
    with atomic_path(path) as tmp:
        write(tmp)
    return Path(path)


def write_netcdf(ds: xr.Dataset, path: str | Path) -> Path:
    """Write a CF dataset (zlib-compressed floats) atomically."""
    for v in ds.data_vars:
        if "units" not in ds[v].attrs and ds[v].dtype.kind == "f" and not v.endswith("_bnds"):
            raise DataError(f"{path}: variable {v!r} has no units attribute")
    enc = {}
    for v in ds.data_vars:
        if v.endswith("_bnds"):
            enc[v] = {"_FillValue": None}
        elif ds[v].dtype.kind == "f":
            enc[v] = {"zlib": True, "complevel": 4, "_FillValue": -9999.0, "dtype": "float32"}
    for c in ds.coords:
        enc[c] = {"_FillValue": None}
    return _atomic(Path(path), lambda tmp: ds.to_netcdf(tmp, encoding=enc, format="NETCDF4"))


def write_text(text: str, path: str | Path) -> Path:
    return _atomic(Path(path), lambda tmp: Path(tmp).write_text(text))


def grid_dataset(lat: np.ndarray, lon: np.ndarray, title: str, **attrs) -> xr.Dataset:
    """Empty CF-1.8 dataset on a regular lat/lon grid with bounds."""
    dlat = float(np.median(np.diff(lat))) if lat.size > 1 else 1.0
    dlon = float(np.median(np.diff(lon))) if lon.size > 1 else 1.0
    ds = xr.Dataset(coords={
        "lat": ("lat", np.asarray(lat, float), {"units": "degrees_north", "standard_name": "latitude",
                                               "long_name": "latitude", "axis": "Y", "bounds": "lat_bnds"}),
        "lon": ("lon", np.asarray(lon, float), {"units": "degrees_east", "standard_name": "longitude",
                                               "long_name": "longitude", "axis": "X", "bounds": "lon_bnds"}),
    })
    ds["lat_bnds"] = (("lat", "nv"), np.column_stack([lat - dlat / 2, lat + dlat / 2]), {"units": "degrees_north"})
    ds["lon_bnds"] = (("lon", "nv"), np.column_stack([lon - dlon / 2, lon + dlon / 2]), {"units": "degrees_east"})
    ds.attrs = {"Conventions": "CF-1.8", "title": title, "institution": "pysoc",
                "source": f"pysoc {pysoc.__version__} (pysoc.upscale)",
                "history": f"{_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')} created by pysoc-upscale",
                "references": "Rh upscaling after seed 004 (random forest on SRDB); see docs/upscale_rh.md"}
    ds.attrs.update({k: v for k, v in attrs.items() if v is not None})
    return ds


RH_STANDARD_NAME = "heterotrophic_respiration_carbon_flux"


def rh_map_dataset(grid, mp, model, namelist_text: str | None = None) -> xr.Dataset:
    """CF-1.8 dataset of the Rh map of a saved model: ``rh`` (central), ``rh_p05``,
    ``rh_p95``, ``rh_sd`` (over the bootstrap members) and the area weight."""
    lo, hi = np.percentile(mp.totals, [5, 95])
    ds = grid_dataset(grid.lat, grid.lon, "Soil heterotrophic respiration upscaled from SRDB",
                      summary=f"{model.candidate} {model.config} on {', '.join(model.predictors)}; band: "
                              f"{len(model.members)} refits on grouped bootstrap resamples of the training cells",
                      global_rh_PgC_yr=f"{mp.total:.3f}", global_rh_p05_PgC_yr=f"{lo:.3f}",
                      global_rh_p95_PgC_yr=f"{hi:.3f}", covariate_grid=Path(model.grid_file).name,
                      gap_fill=f"a predictor missing in a cell takes the nearest cell with a value within "
                               f"{model.fill_km:g} km; cells beyond are not predicted", namelist=namelist_text)
    clim = "climatological (predictors 1980-2009 climate, 2010 biomass, 2019 land cover)"
    to_map = grid.to_map
    ds["rh"] = (("lat", "lon"), to_map(mp.cells, mp.central),
                {"units": "g m-2 yr-1", "standard_name": RH_STANDARD_NAME,
                 "long_name": "soil heterotrophic respiration (carbon), selected model fitted on all records",
                 "comment": clim})
    for name, val, ln in (("rh_p05", np.percentile(mp.members, 5, axis=0), "5th percentile over the members"),
                          ("rh_p95", np.percentile(mp.members, 95, axis=0), "95th percentile over the members"),
                          ("rh_sd", mp.members.std(axis=0, ddof=1) if len(mp.members) > 1
                           else np.zeros(mp.central.shape), "standard deviation over the members")):
        ds[name] = (("lat", "lon"), to_map(mp.cells, val), {"units": "g m-2 yr-1",
                                                            "long_name": f"soil heterotrophic respiration, {ln}"})
    wmap = to_map(mp.cells, mp.weight)
    ds["area_weight"] = (("lat", "lon"), np.where(np.isfinite(wmap), wmap, 0.0),
                         {"units": "m2", "long_name": "area of the cell used for totals",
                          "cell_methods": "area: sum"})
    return ds


def add_turnover(ds: xr.Dataset, csoil_map: np.ndarray, tau_map: np.ndarray, description: str,
                 rh_min: float) -> None:
    """Add cSoil and τ to the map dataset."""
    ds["csoil"] = (("lat", "lon"), csoil_map, {"units": "g m-2", "long_name": "soil organic carbon stock used for "
                                                                              "the turnover time",
                                               "comment": description})
    ds["tau_soil"] = (("lat", "lon"), tau_map, {"units": "yr", "long_name": "soil carbon turnover time cSoil / Rh",
                                                "comment": f"cells with Rh < {rh_min:g} g C m-2 yr-1 masked; "
                                                           f"cSoil: {description}"})


def twobox_dataset(tb, B: dict, ts_obs: tuple[float, float], namelist_text: str | None = None) -> xr.Dataset:
    """CF dataset of the 2-box series (dims model, year)."""
    names = list(tb.series)
    yrs = np.unique(np.concatenate([s["year"].to_numpy() for s in tb.series.values()]))
    days = np.array([(_dt.date(int(y), 7, 1) - _dt.date(1850, 1, 1)).days for y in yrs], dtype=np.float64)
    tds = xr.Dataset(coords={
        "model": ("model", np.arange(1, len(names) + 1, dtype=np.int32),
                  {"long_name": "model index", "units": "1"}),
        "time": ("time", days, {"units": "days since 1850-01-01", "calendar": "proleptic_gregorian",
                                "standard_name": "time", "long_name": "middle of the year"}),
    })
    tds["model_name"] = (("model",), np.array(names, dtype=object), {"long_name": "model name"})
    tds["year"] = (("time",), yrs.astype(np.int32), {"long_name": "calendar year", "units": "1"})
    spec = {"npp": ("Pg yr-1", "net primary production (carbon)"),
            "tau_veg_sim": ("yr", "model vegetation turnover time"),
            "tau_soil_sim": ("yr", "model soil turnover time"),
            "cveg_orig": ("Pg", "vegetation carbon, 2-box with the model's own tau"),
            "csoil_orig": ("Pg", "soil carbon, 2-box with the model's own tau"),
            "rh_orig": ("Pg yr-1", "heterotrophic respiration, 2-box with the model's own tau"),
            "cveg_constr": ("Pg", "vegetation carbon, constrained tau, Monte Carlo mean"),
            "csoil_constr": ("Pg", "soil carbon, constrained tau, Monte Carlo mean"),
            "ctotal_constr": ("Pg", "total carbon, constrained tau, Monte Carlo mean"),
            "ctotal_constr_sd": ("Pg", "total carbon, constrained tau, Monte Carlo SD")}
    for v, (u, ln) in spec.items():
        a = np.full((len(names), len(yrs)), np.nan)
        for i, n in enumerate(names):
            s = tb.series[n]
            a[i, np.searchsorted(yrs, s["year"].to_numpy())] = s[v].to_numpy()
        tds[v] = (("model", "time"), a, {"units": u, "long_name": ln})
    tds.attrs = {"Conventions": "CF-1.8", "title": "2-box model constrained by observation-based turnover times",
                 "institution": "pysoc", "source": "pysoc.upscale.twobox",
                 "tau_veg_obs": f"{B['tau_veg_obs']} +- {B['tau_veg_obs_sd']} yr",
                 "tau_soil_obs": f"{ts_obs[0]:.3f} +- {ts_obs[1]:.3f} yr",
                 "monte_carlo": f"{B['n_veg']} x {B['n_soil']}", "trajectories": Path(B["trajectories_file"]).name,
                 "history": "created by pysoc-upscale"}
    if namelist_text:
        tds.attrs["namelist"] = namelist_text
    return tds

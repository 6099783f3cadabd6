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
from pysoc.io.atomic import atomic_path


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


def write_csv(df: pd.DataFrame, path: str | Path, **kw) -> Path:
    return _atomic(Path(path), lambda tmp: df.to_csv(tmp, index=False, **kw))


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

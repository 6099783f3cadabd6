"""CF-1.8 NetCDF output of model runs."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np
import xarray as xr

import pysoc
from pysoc.forcing import write_netcdf_atomic


def finalize(ds: xr.Dataset, title: str, namelist_text: str = "", source_files: dict | None = None) -> xr.Dataset:
    """Global attributes (CF-1.8, provenance, namelist text) on a result dataset."""
    ds = ds.copy()
    ds.attrs.update({
        "Conventions": "CF-1.8",
        "title": title,
        "institution": "pysoc",
        "source": f"pysoc {pysoc.__version__}",
        "history": f"{_dt.datetime.now(_dt.timezone.utc).isoformat(timespec='seconds')} created by pysoc "
                   f"{pysoc.__version__}",
        "references": "Lu et al. 2020 JAMES; Tao et al. 2023 Nature (PRODA); see docs/",
    })
    if namelist_text:
        ds.attrs["namelist"] = namelist_text
    for k, v in (source_files or {}).items():
        ds.attrs[f"input_{k}"] = str(v)
    for name, var in ds.variables.items():
        if var.dtype.kind in "OU":
            continue
        if "units" not in var.attrs and name not in ds.dims and var.dtype.kind == "f":
            var.attrs["units"] = "1"
    return ds


def write(ds: xr.Dataset, path, title: str, namelist_text: str = "", source_files: dict | None = None) -> Path:
    """Write a finalized dataset atomically (temporary file + rename)."""
    ds = finalize(ds, title, namelist_text, source_files)
    encoding = {}
    for name, var in ds.data_vars.items():
        if var.dtype.kind == "f":
            encoding[name] = {"zlib": True, "complevel": 4, "_FillValue": None if var.ndim == 0 else np.nan}
    for name in ds.coords:
        if ds[name].dtype.kind == "f":
            encoding[name] = {"_FillValue": None}
    return write_netcdf_atomic(ds, path, encoding=encoding)

"""Output frequency and size of transient runs, in the manner of CTSM's history tapes
(``hist_nhtfrq``: how often; ``hist_mfilt``: how much): every step ('monthly'), annual means,
and only the last N years; the output size and memory of a run estimated before it starts.

Aggregation follows the variables' ``cell_methods``: per-step amounts ('time: sum', e.g. the
respiration during a month, g m-2) are summed over the year; every other variable with a
time dimension (states at the end of each step, step-mean rates) is averaged with the step
lengths as weights. Time bounds cover the aggregated steps.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from pysoc.errors import ConfigError
from pysoc.io.netcdf import DAYS_PER_YEAR, nbytes

FREQUENCIES = ("monthly", "annual")
MB = 1024.0 * 1024.0


def year_index(ds: xr.Dataset) -> np.ndarray:
    """Year (0-based, from the first step) of every step, from ``time_bnds`` (365-day years)."""
    if "time_bnds" not in ds.variables:
        raise ConfigError("output frequency: the dataset has no time_bnds (not a pysoc transient)")
    lower = np.asarray(ds["time_bnds"].values, float)[:, 0]
    return np.floor((lower - lower[0]) / DAYS_PER_YEAR + 1e-9).astype(int)


def select_last_years(ds: xr.Dataset, last_years: int) -> xr.Dataset:
    """The steps of the last ``last_years`` years (0: all)."""
    if not last_years or "time" not in ds.dims:
        return ds
    year = year_index(ds)
    return ds.isel(time=np.flatnonzero(year > year.max() - int(last_years)))


def annual(ds: xr.Dataset) -> xr.Dataset:
    """Annual aggregation of a transient dataset (see the module docstring).

    Parameters
    ----------
    ds : xarray.Dataset
        A transient result with ``time`` and ``time_bnds``.

    Returns
    -------
    xarray.Dataset
        One step per (365-day) year: sums of the per-step amounts, step-length weighted means
        of everything else; ``time`` is the middle of the year.

    Examples
    --------
    >>> from pysoc.io.netcdf import time_coords, month_steps
    >>> ds = xr.Dataset({"rh": ("time", np.ones(24), {"cell_methods": "time: sum"})},
    ...                 coords=time_coords(month_steps(24)))
    >>> annual(ds)["rh"].values.tolist()
    [12.0, 12.0]
    """
    year = year_index(ds)
    starts = np.flatnonzero(np.r_[True, np.diff(year) != 0])
    bnds = np.asarray(ds["time_bnds"].values, float)
    w = bnds[:, 1] - bnds[:, 0]
    lower, upper = bnds[starts, 0], np.r_[bnds[starts[1:], 0], bnds[-1, 1]]
    out = xr.Dataset(attrs=dict(ds.attrs))
    tattrs = dict(ds["time"].attrs, long_name="time (middle of the year)")
    coords = {"time": ("time", 0.5 * (lower + upper), tattrs),
              "time_bnds": (("time", "nv"), np.stack([lower, upper], axis=1), dict(ds["time_bnds"].attrs))}
    for name, var in ds.variables.items():
        if name in ("time", "time_bnds"):
            continue
        if "time" not in var.dims:
            (out.coords if name in ds.coords else out)[name] = var
            continue
        if var.dtype.kind not in "f":
            continue                      # integer labels of the steps (month) do not aggregate
        axis = var.dims.index("time")
        vals = np.moveaxis(np.asarray(var.values, float), axis, 0)
        attrs = dict(var.attrs)
        if "time: sum" in str(attrs.get("cell_methods", "")):
            agg = np.add.reduceat(vals, starts, axis=0)
            attrs["long_name"] = str(attrs.get("long_name", name)).replace("during the step", "during the year")
        else:
            ww = w.reshape((-1,) + (1,) * (vals.ndim - 1))
            agg = np.add.reduceat(vals * ww, starts, axis=0) / np.add.reduceat(ww, starts, axis=0)
            attrs["cell_methods"] = "time: mean"
            attrs["long_name"] = f"{attrs.get('long_name', name)} (annual mean)"
        dims = ("time",) + tuple(d for d in var.dims if d != "time")
        data = xr.Variable(dims, agg, attrs).transpose(*var.dims)
        (out.coords if name in ds.coords else out)[name] = data
    out = out.assign_coords(coords)
    out.attrs["output_frequency"] = "annual"
    return out


def reduce(ds: xr.Dataset, frequency: str = "monthly", last_years: int = 0) -> xr.Dataset:
    """Apply an output frequency ('monthly': every step; 'annual') and keep only the last
    ``last_years`` years (0: all) of a transient dataset; datasets without time pass."""
    if frequency not in FREQUENCIES:
        raise ConfigError(f"output frequency {frequency!r} is not one of {', '.join(FREQUENCIES)}")
    if "time" not in ds.dims or "time_bnds" not in ds.variables:
        return ds
    ds = select_last_years(ds, last_years)
    if frequency == "annual":
        ds = annual(ds)
    else:
        ds.attrs["output_frequency"] = "monthly"
    return ds


def output_steps(nstep: int, steps_per_year: int, frequency: str, last_years: int) -> int:
    """Number of time records written for a run of ``nstep`` steps."""
    nyears = int(np.ceil(nstep / max(steps_per_year, 1)))
    if last_years:
        nyears = min(nyears, int(last_years))
        nstep = min(nstep, nyears * steps_per_year)
    return nyears if frequency == "annual" else nstep


def split_bytes(ds: xr.Dataset) -> tuple[int, int]:
    """(bytes without a time dimension, bytes per time step) of a dataset."""
    static = nbytes(ds.drop_dims("time")) if "time" in ds.dims else nbytes(ds)
    if "time" not in ds.dims or ds.sizes["time"] == 0:
        return static, 0
    return static, int(np.ceil((nbytes(ds) - static) / ds.sizes["time"]))


def describe_bytes(n: float) -> str:
    if n >= 1024 ** 3:
        return f"{n / 1024 ** 3:.1f} GB"
    if n >= MB:
        return f"{n / MB:.1f} MB"
    return f"{n / 1024:.0f} kB"


__all__ = ["FREQUENCIES", "reduce", "annual", "select_last_years", "year_index", "output_steps", "split_bytes",
           "describe_bytes"]

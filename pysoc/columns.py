"""Many columns per run: forcing with a ``column`` dimension (1-D output, as CTSM's
``hist_dov2xy = .false.`` history files) or a ``lat``/``lon`` grid, stacked into one
``column`` dimension for the kernels and put back into the input's layout afterwards.

The model-independent part of multi-column runs (pysoc-run): detecting the layout,
finding cells without data (ocean, inactive CTSM columns), assembling the per-chunk
results with a per-column ``status`` (kernel status, ``invalid_forcing``, ``no_data``,
``failed``) and ``column_message``, and restoring the grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from pysoc.errors import DataError

COLUMN = "column"
GRID_DIMS = ("lat", "lon")

#: column status codes beyond the kernel's (mirror of pysoc.models.base.COLUMN_*)
INVALID_FORCING, NO_DATA, FAILED = 8, 9, 10


def layout_of(ds: xr.Dataset) -> str | None:
    """'column' (a ``column`` dimension), 'grid' (``lat`` and ``lon`` dimensions) or None
    (one site)."""
    if COLUMN in ds.dims:
        return "column"
    if all(d in ds.dims for d in GRID_DIMS):
        return "grid"
    return None


@dataclass
class ColumnForcing:
    """A forcing dataset with many columns, stacked along ``column``.

    data: the forcing with a ``column`` dimension (grid cells in C order of (lat, lon)).
    layout: 'column' or 'grid'.
    no_data: (ncol,) True where every value of every forcing variable is missing.
    coords: coordinates of the input's spatial dimensions, restored on the output.
    grid: (lat values, lon values) of a grid layout.
    """

    data: xr.Dataset
    layout: str
    no_data: np.ndarray
    coords: dict = field(default_factory=dict)
    grid: tuple | None = None

    @property
    def ncol(self) -> int:
        return int(self.data.sizes[COLUMN])

    @classmethod
    def from_dataset(cls, ds: xr.Dataset, source: str = "<forcing>") -> "ColumnForcing":
        """Stack a column or grid forcing. Raises DataError when the layout is neither.

        Parameters
        ----------
        ds : xarray.Dataset
            Forcing with a ``column`` dimension or ``lat`` and ``lon`` dimensions.
        source : str
            File name for the messages.

        Returns
        -------
        ColumnForcing
        """
        layout = layout_of(ds)
        if layout is None:
            raise DataError(f"{source}: no 'column' dimension and no 'lat'/'lon' dimensions")
        if layout == "grid":
            lat, lon = (np.asarray(ds[d].values) for d in GRID_DIMS)
            coords = {k: ds[k] for k in ds.coords if set(ds[k].dims) <= set(GRID_DIMS)}
            data = ds.drop_vars([k for k in coords]).stack({COLUMN: GRID_DIMS}, create_index=False)
            data = data.drop_vars([v for v in GRID_DIMS if v in data.variables])
            grid = (lat, lon)
        else:
            coords = {k: ds[k] for k in ds.coords if ds[k].dims == (COLUMN,)}
            data, grid = ds, None
        return cls(data=data, layout=layout, no_data=_no_data(data), coords=coords, grid=grid)

    def restore(self, out: xr.Dataset) -> xr.Dataset:
        """Put a result with a ``column`` dimension (all columns) back into the input's layout:
        the column coordinates of the input (lat, lon, CTSM cols1d_*), or the (lat, lon) grid
        with the grid dimensions last."""
        if self.layout == "column":
            return out.assign_coords({k: v for k, v in self.coords.items()})
        lat, lon = self.grid
        index = pd.MultiIndex.from_product([np.arange(lat.size), np.arange(lon.size)], names=["_ilat", "_ilon"])
        out = out.assign_coords(xr.Coordinates.from_pandas_multiindex(index, COLUMN)).unstack(COLUMN)
        out = out.rename({"_ilat": "lat", "_ilon": "lon"}).drop_vars(["lat", "lon"], errors="ignore")
        out = out.assign_coords({k: v for k, v in self.coords.items()})
        return out.transpose(..., "lat", "lon")


def _no_data(ds: xr.Dataset) -> np.ndarray:
    """Columns where every value of every float variable with a column dimension is NaN."""
    empty = np.ones(ds.sizes[COLUMN], dtype=bool)
    seen = False
    for var in ds.data_vars.values():
        if COLUMN not in var.dims or var.dtype.kind != "f":
            continue
        seen = True
        v = np.asarray(var.transpose(COLUMN, ...).values, float).reshape(ds.sizes[COLUMN], -1)
        empty &= ~np.isfinite(v).any(axis=1)
    return empty if seen else np.zeros(ds.sizes[COLUMN], dtype=bool)


def chunks(positions: np.ndarray, size: int) -> list[np.ndarray]:
    """Consecutive chunks of at most ``size`` positions."""
    size = max(1, int(size))
    return [positions[i:i + size] for i in range(0, len(positions), size)]


def assemble(parts: dict, ncol: int, messages: dict[int, str], codes: dict[int, int], status_attrs: dict,
             dim: str = COLUMN) -> xr.Dataset:
    """All columns of a multi-column run in one dataset.

    Parameters
    ----------
    parts : dict
        Chunk id -> (positions, dataset with ``dim`` over those positions) of the columns run.
    ncol : int
        Number of columns of the input.
    messages : dict
        Position -> reason of every column not run (invalid forcing, no data).
    codes : dict
        Position -> status code of every column not run.
    status_attrs : dict
        CF attributes of the per-column ``status`` (flag values and meanings).
    dim : str
        Column dimension.

    Returns
    -------
    xarray.Dataset
        Every column in input order; columns not run have NaN values, their status code and
        their reason in ``column_message``.
    """
    if not parts:
        raise DataError("no column could be run")
    order = sorted(parts, key=lambda k: int(parts[k][0][0]))
    pos = np.concatenate([np.asarray(parts[k][0], int) for k in order])
    ds = xr.concat([parts[k][1] for k in order], dim=dim, data_vars="minimal", coords="minimal",
                   compat="override", join="override", combine_attrs="override")
    ints = [n for n, v in ds.data_vars.items() if dim in v.dims and v.dtype.kind in "iu"]
    ds = ds.assign_coords({dim: pos}).reindex({dim: np.arange(ncol)})
    status = ds["status"].values
    status = np.where(np.isfinite(status), status, FAILED)
    bad = status != 0                      # kernel failures of columns that ran: no values
    for name, var in ds.data_vars.items():
        if dim in var.dims and var.dtype.kind == "f" and name not in ints and name != "status" and bad.any():
            axis = var.dims.index(dim)
            vals = np.moveaxis(var.values, axis, 0)
            vals[bad] = np.nan
    for name in ints:
        if name == "status":
            continue
        vals = ds[name].values
        ds[name] = (ds[name].dims, np.where(np.isfinite(vals), vals, -1).astype(np.int32),
                    {**ds[name].attrs, "_FillValue": np.int32(-1)})
    text = np.array(["" for _ in range(ncol)], dtype=object)
    if "column_message" in ds:
        text = np.array(["" if not isinstance(t, str) else t for t in ds["column_message"].values], dtype=object)
    for p, code in codes.items():
        status[p] = code
        text[p] = messages.get(p, "")
    ds["status"] = ((dim,), status.astype(np.int32), status_attrs)
    ds["column_message"] = ((dim,), text, {"long_name": "why the column was not run or failed ('' if it ran)"})
    return ds.drop_vars(dim)


__all__ = ["ColumnForcing", "layout_of", "chunks", "assemble", "COLUMN", "INVALID_FORCING", "NO_DATA", "FAILED"]

"""CTSM history files (h0/h1 tapes, monthly means): the generic reading for forcing.

:func:`read_history` opens one history file or a glob of monthly files, 1-D column output
(``hist_dov2xy = .false.``: dimension ``column`` with the ``cols1d_*`` metadata) or gridded
output (``lat``, ``lon``), and returns a :class:`History`: the data, the calendar month of
every step, the first year and the spatial dimensions. Its methods read one CTSM variable at
a time (:meth:`History.field`: fill values, static fields, vertical levels, units; the row of
a :class:`CtsmField` table) and assemble a forcing dataset with the history's spatial
dimensions and column metadata (:meth:`History.dataset`). Which CTSM variables make which
forcing variables is the model's knowledge: the ``ctsm_forcing`` capability of a model
(:data:`pysoc.models.base.CAPABILITIES`) holds its table and builds its forcing layout;
:func:`markdown_table` prints such a table (docs/offline_runs.md).

Vertical levels: CTSM writes ``TSOI`` on ``levgrnd`` and the decomposition fields on
``levdcmp``, with the node depths as coordinate values. The rule (``levels``):

- ``'match'`` (default): the first ``nlev`` history levels must have the node depths of the
  model grid (CLM5 20-layer grid = CTSM's 20 soil levels; the 5 bedrock levels below are
  dropped). A mismatch is an error naming the first differing level.
- ``'interpolate'``: node values are interpolated linearly in depth to the model's nodes
  (constant beyond the deepest/shallowest history node).

A decomposition dimension of length 1 (CTSM without vertically resolved soil carbon) is
broadcast to every layer. Carbon inputs are column totals (:meth:`History.carbon_input`;
the kernels spread them with their own profile); vertically resolved CTSM inputs are
integrated over the history levels with ``DZSOI`` (or the model's layer thicknesses when
the levels match).
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from pysoc.errors import ConfigError, DataError
from pysoc.io.netcdf import MONTH_DAYS

VERTICAL_DIMS = ("levgrnd", "levsoi", "levdcmp")
SPATIAL_DIMS = ("column", "lat", "lon")
SPVAL = 1.0e35          #: CTSM fill value is 1e36; anything at or above this is missing
LEVELS = ("match", "interpolate")
_UNITLESS = {"1", "", "-", "unitless", "none", "fraction", "proportion", "dimensionless"}


@dataclass(frozen=True)
class CtsmField:
    """One row of a model's CTSM -> forcing table (read by :meth:`History.field`).

    ``kind``: 'vertical' (time x level x space, mapped to the model's levels), 'column'
    (time x space), 'static' (space only; the first time step of a timed variable) or
    'surface' (static, top level of a vertical variable). ``units`` are the forcing's units;
    vertical and column fields are converted to them ('K' from degC, 'm' from cm/mm, '1'
    checked unitless), static ones are taken as they are.
    """

    pysoc: str
    names: tuple[str, ...]
    kind: str
    ctsm_units: str
    units: str
    required: bool
    note: str


def is_history(ds: xr.Dataset) -> bool:
    """True when ``ds`` looks like a CTSM history file (CTSM names, no pysoc forcing names)."""
    return ("TSOI" in ds or "W_SCALAR" in ds) and "tsoi" not in ds


def history_files(pattern: str | Path) -> list[Path]:
    """The files of a path or a glob pattern (sorted); DataError when none exists."""
    text = str(pattern)
    files = sorted(Path(p) for p in glob.glob(text)) if any(c in text for c in "*?[") else [Path(text)]
    files = [f for f in files if f.is_file()]
    if not files:
        raise DataError(f"{text}: forcing file not found")
    return files


def open_history(pattern: str | Path) -> xr.Dataset:
    """One dataset from a history file or a glob of files (concatenated in time order)."""
    parts = []
    for f in history_files(pattern):
        try:
            with xr.open_dataset(f, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)) as ds:
                parts.append(ds.load())
        except Exception as exc:
            raise DataError(f"{f}: cannot read as NetCDF ({exc})") from None
    if len(parts) == 1:
        return parts[0]
    static = [v for v in parts[0].data_vars if "time" not in parts[0][v].dims]
    timed = [p.drop_vars([v for v in static if v in p]) for p in parts]
    ds = xr.concat(timed, dim="time", data_vars="minimal", coords="minimal", compat="override")
    return ds.assign({v: parts[0][v] for v in static}).sortby("time")


def months_of(ds: xr.Dataset, source: str) -> tuple[np.ndarray, int]:
    """(calendar month of every time step, year of the first step) from ``time_bounds`` /
    ``time_bnds`` (the start of each averaging interval) or, without bounds, from the time
    stamps (CESM puts a monthly mean at the end of its month: 1 February for January).
    Checks consecutive months from January over whole years."""
    bname = next((b for b in ("time_bounds", "time_bnds") if b in ds.variables), None)
    if "time" not in ds.variables or ds.sizes.get("time", 0) == 0:
        raise DataError(f"{source}: no 'time' dimension (a CTSM h0/h1 history file has monthly means in time)")
    if bname is not None:
        stamps = ds[bname].values[:, 0]
        shift = 0.0
    else:
        stamps = ds["time"].values
        shift = -1.0
    try:
        ym = np.array([(t.year, t.month) if shift == 0.0 else _minus_days(t, 1) for t in stamps])
    except AttributeError:
        raise DataError(f"{source}: variable 'time' is not a decodable CF time (units 'days since ...')") from None
    idx = ym[:, 0] * 12 + ym[:, 1] - 1
    gaps = np.flatnonzero(np.diff(idx) != 1)
    if gaps.size:
        i = int(gaps[0])
        raise DataError(f"{source}: time steps {i} and {i + 1} are not consecutive months "
                        f"({ym[i][0]:04d}-{ym[i][1]:02d} then {ym[i + 1][0]:04d}-{ym[i + 1][1]:02d}); pysoc reads "
                        f"monthly history (h0, hist_nhtfrq = 0)")
    if ym[0][1] != 1 or len(idx) % 12:
        raise DataError(f"{source}: history starts in {ym[0][0]:04d}-{ym[0][1]:02d} with {len(idx)} months; "
                        f"pysoc needs whole years of months starting in January")
    return ym[:, 1].astype(int), int(ym[0][0])


def _minus_days(t, days: float):
    import datetime as _dt

    u = t - _dt.timedelta(days=days)
    return (u.year, u.month)


def _find(ds: xr.Dataset, names, source: str, pysoc: str, required: bool, alternatives: str = ""):
    for n in names:
        if n in ds.variables:
            return n, ds[n]
    if required:
        alt = f"; alternatives: {', '.join(names[1:])}" if len(names) > 1 else ""
        raise DataError(f"{source}: missing CTSM variable '{names[0]}' (pysoc '{pysoc}'{alt}{alternatives}); add "
                        f"it to the history tape (hist_fincl) or see docs/offline_runs.md")
    return None, None


def _clean(da: xr.DataArray) -> xr.DataArray:
    v = np.asarray(da.values, float)
    return da.copy(data=np.where(np.abs(v) >= SPVAL, np.nan, v))


def _vertical_dim(da: xr.DataArray) -> str | None:
    return next((d for d in da.dims if d in VERTICAL_DIMS), None)


def to_model_levels(da: xr.DataArray, zsoi: np.ndarray, levels: str, source: str, name: str) -> xr.DataArray:
    """Map a field on history levels to the model's node depths (dimension ``level``) by the
    module's rule; a field without levels, or with one decomposition level, is broadcast."""
    nlev = zsoi.size
    vdim = _vertical_dim(da)
    if vdim is None or da.sizes[vdim] == 1:
        base = da.isel({vdim: 0}, drop=True) if vdim else da
        return base.expand_dims(level=nlev, axis=list(base.dims).index("time") + 1 if "time" in base.dims else 0)
    n = da.sizes[vdim]
    z = np.asarray(da[vdim].values, float) if vdim in da.coords and da[vdim].dtype.kind == "f" else None
    if levels == "match":
        if n < nlev:
            raise DataError(f"{source}: variable '{name}' has {n} levels ({vdim}), fewer than the {nlev} layers of "
                            f"the model grid; use a grid with fewer layers or &ctsm levels = 'interpolate'")
        if z is not None and not np.allclose(z[:nlev], zsoi, rtol=1e-3, atol=1e-5):
            k = int(np.flatnonzero(~np.isclose(z[:nlev], zsoi, rtol=1e-3, atol=1e-5))[0])
            raise DataError(f"{source}: variable '{name}': {vdim} node depth {z[k]:.4g} m at level {k + 1} "
                            f"differs from the model's {zsoi[k]:.4g} m (&ctsm levels = 'match'); choose the "
                            f"matching grid or &ctsm levels = 'interpolate'")
        return da.isel({vdim: slice(0, nlev)}).rename({vdim: "level"}).drop_vars(vdim, errors="ignore")
    if z is None:
        raise DataError(f"{source}: variable '{name}': {vdim} has no node-depth coordinate to interpolate from")
    idx = np.clip(np.searchsorted(z, zsoi), 1, n - 1)
    w = np.clip((zsoi - z[idx - 1]) / (z[idx] - z[idx - 1]), 0.0, 1.0)
    lo = da.isel({vdim: idx - 1}).values
    hi = da.isel({vdim: idx}).values
    axis = da.dims.index(vdim)
    shape = [1] * da.ndim
    shape[axis] = nlev
    out = lo * (1 - w.reshape(shape)) + hi * w.reshape(shape)
    dims = tuple("level" if d == vdim else d for d in da.dims)
    return xr.DataArray(out, dims=dims, attrs=dict(da.attrs))


def _unitless(da: xr.DataArray, source: str, name: str) -> xr.DataArray:
    u = str(da.attrs.get("units", "")).strip().lower()
    if u not in _UNITLESS:
        raise DataError(f"{source}: variable '{name}' has units '{da.attrs.get('units')}', expected a fraction "
                        f"(unitless)")
    return da


def _kelvin(da: xr.DataArray, source: str, name: str) -> xr.DataArray:
    u = str(da.attrs.get("units", "K")).strip()
    if u in ("K", "kelvin", "degK"):
        return da
    if u in ("C", "degC", "deg_C", "celsius", "degree_Celsius"):
        return da + 273.15
    raise DataError(f"{source}: variable '{name}' has units '{u}', expected K (or degC)")


def _metres(da: xr.DataArray, source: str, name: str) -> xr.DataArray:
    u = str(da.attrs.get("units", "m")).strip()
    factor = {"m": 1.0, "meter": 1.0, "meters": 1.0, "cm": 0.01, "mm": 0.001}.get(u)
    if factor is None:
        raise DataError(f"{source}: variable '{name}' has units '{u}', expected m")
    return da * factor


_MASS = {"g": 1.0, "gc": 1.0, "kg": 1000.0, "kgc": 1000.0, "mg": 1e-3, "mgc": 1e-3}
#: amount per day -> factor to "per that time unit"; None: per month (already a monthly amount)
_PER = {"s": 86400.0, "sec": 86400.0, "d": 1.0, "day": 1.0, "yr": 1 / 365.0, "y": 1 / 365.0, "year": 1 / 365.0,
        "month": None, "mon": None}


def parse_flux_units(units: str) -> tuple[float, int, float | None]:
    """(grams per mass unit, 2 or 3 for per m2 or per m3, time factor per day or None for per
    month) of a carbon flux spelling such as 'gC/m^2/s', 'g C m-3 s-1', 'gC/m2/yr'.

    Examples
    --------
    >>> parse_flux_units("gC/m^2/s")
    (1.0, 2, 86400.0)
    """
    u = str(units).strip().lower().replace(" ", "").replace("**", "^")
    m = re.fullmatch(r"([a-z]+?)/m\^?([23])/([a-z]+)", u) or re.fullmatch(r"([a-z]+?)m-([23])([a-z]+?)-1", u)
    if not m or m.group(1) not in _MASS or m.group(3) not in _PER:
        raise ValueError(units)
    return _MASS[m.group(1)], int(m.group(2)), _PER[m.group(3)]


def litter_month(da: xr.DataArray, months: np.ndarray, dz_hist, source: str, name: str) -> xr.DataArray:
    """A CTSM carbon input (per m2, or per m3 on history levels) -> column amount per month
    (g m-2 month-1), with the days of each calendar month."""
    try:
        grams, power, per_day = parse_flux_units(da.attrs.get("units", ""))
    except ValueError:
        raise DataError(f"{source}: variable '{name}' has units '{da.attrs.get('units')}'; expected a carbon flux "
                        f"such as gC/m^2/s (per m2) or gC/m^3/s (per m3 on the history levels)") from None
    vdim = _vertical_dim(da)
    if power == 3:
        if vdim is None:
            raise DataError(f"{source}: variable '{name}' is per m3 but has no vertical dimension")
        dz = dz_hist(da, vdim)
        da = (da * dz).sum(vdim, skipna=False)
    elif vdim is not None:
        raise DataError(f"{source}: variable '{name}' is per m2 but has a vertical dimension '{vdim}'")
    days = MONTH_DAYS[months - 1]
    factor = 1.0 if per_day is None else per_day * days
    shape = [1] * da.ndim
    shape[da.dims.index("time")] = len(months)
    return da * grams * np.reshape(factor, shape)


def _dz_function(raw: xr.DataArray | None, model_dz: np.ndarray, source: str):
    def dz_hist(da: xr.DataArray, vdim: str):
        n = da.sizes[vdim]
        if raw is not None:
            d = raw.rename({_vertical_dim(raw): vdim}).isel({vdim: slice(0, n)})
            return d.drop_vars(vdim, errors="ignore")
        if n < model_dz.size:
            raise DataError(f"{source}: litter inputs on {n} {vdim} levels need DZSOI in the history file")
        thick = np.zeros(n)
        thick[:model_dz.size] = model_dz       # levels below the model column are not counted
        return xr.DataArray(thick, dims=(vdim,))
    return dz_hist


def previous_year_max(da: xr.DataArray) -> xr.DataArray:
    """Previous year's maximum of a monthly field for every month (first year: its own
    maximum), e.g. ``ALTMAX_LASTYEAR`` from ``ALTMAX``.

    Examples
    --------
    >>> da = xr.DataArray(np.arange(24.0), dims=("time",))
    >>> previous_year_max(da).values[[0, 11, 12, 23]].tolist()
    [11.0, 11.0, 11.0, 11.0]
    """
    nt = da.sizes["time"]
    ny = nt // 12
    vals = np.moveaxis(np.asarray(da.values, float), da.dims.index("time"), 0)
    annual = np.nanmax(vals.reshape((ny, 12) + vals.shape[1:]), axis=1)
    prev = np.concatenate([annual[:1], annual[:-1]], axis=0)
    out = np.repeat(prev, 12, axis=0)
    return da.copy(data=np.moveaxis(out, 0, da.dims.index("time")))


def _space(ds: xr.Dataset, source: str) -> tuple[str, ...]:
    if "column" in ds.dims:
        return ("column",)
    if "lat" in ds.dims and "lon" in ds.dims:
        return ("lat", "lon")
    if "lndgrid" in ds.dims:
        raise DataError(f"{source}: unstructured 'lndgrid' output is not supported; write the history with "
                        f"hist_dov2xy = .false. (dimension 'column') or on a lat/lon grid")
    raise DataError(f"{source}: no spatial dimension 'column' (1-D output) or 'lat'/'lon' (gridded output)")


def check_levels(levels: str) -> str:
    """``levels`` if it is a rule of :data:`LEVELS`, else ConfigError naming ``&ctsm levels``."""
    if levels not in LEVELS:
        raise ConfigError(f"&ctsm levels: {levels!r} is not one of {', '.join(map(repr, LEVELS))}")
    return levels


_CONVERT = {"K": _kelvin, "1": _unitless, "m": _metres}


@dataclass
class History:
    """A CTSM history opened for forcing (:func:`read_history`).

    Attributes
    ----------
    data : xarray.Dataset
        The history as read (fill values still in).
    source : str
        The file or glob, for the messages.
    months : numpy.ndarray
        Calendar month (1-12) of every time step.
    start_year : int
        Year of the first step.
    space : tuple of str
        Spatial dimensions: ``('column',)`` or ``('lat', 'lon')``.
    """

    data: xr.Dataset
    source: str
    months: np.ndarray
    start_year: int
    space: tuple[str, ...]

    def find(self, names, target: str, required: bool = True, alternatives: str = ""):
        """(name, values with fill values as NaN) of the first of ``names`` in the file, or
        (None, None) when none is and not ``required``; DataError naming the CTSM variable
        (and ``target``, the forcing variable it makes) when required."""
        name, da = _find(self.data, names, self.source, target, required, alternatives)
        return (name, _clean(da)) if da is not None else (None, None)

    def field(self, f: CtsmField, zsoi: np.ndarray, levels: str = "match") -> xr.DataArray | None:
        """One row of a CTSM table read: found (or None when optional and absent), fill values
        as NaN, static fields without time, vertical ones on the model's nodes ``zsoi``
        (dimension ``level``, rule ``levels``), converted to ``f.units``."""
        name, da = self.find(f.names, f.pysoc, f.required)
        if da is None:
            return None
        if f.kind in ("static", "surface") and "time" in da.dims:
            da = da.isel(time=0, drop=True)
        if f.kind == "surface" and _vertical_dim(da):
            da = da.isel({_vertical_dim(da): 0}, drop=True)
        if f.kind == "vertical":
            da = to_model_levels(da, zsoi, levels, self.source, name)
        convert = _CONVERT.get(f.units) if f.kind in ("vertical", "column") else None
        return convert(da, self.source, name) if convert else da

    def constant(self, value: float) -> xr.DataArray:
        """A field of ``value`` over the spatial dimensions."""
        return xr.DataArray(np.full([self.data.sizes[d] for d in self.space], float(value)), dims=self.space)

    def carbon_input(self, name: str, dz: np.ndarray, target: str, alternatives: str = "") -> xr.DataArray:
        """A CTSM carbon input as a column amount per month (g C m-2 month-1; time x space):
        per m3 integrated over the history levels with ``DZSOI`` (or ``dz``, the model's
        thicknesses, for the levels it has), per s/d/yr times the days of each month."""
        _, da = self.find((name,), target, True, alternatives)
        raw = _clean(self.data["DZSOI"]) if "DZSOI" in self.data else None
        return litter_month(da, self.months, _dz_function(raw, dz, self.source), self.source, name)

    def dataset(self, data: dict, coords: dict) -> xr.Dataset:
        """The forcing dataset of ``data`` (name -> DataArray whose dimensions end with the
        spatial ones) with the time axis (``time`` month index, ``month``), the model's
        ``coords``, the history's spatial coordinates or ``cols1d_*`` column metadata (with
        ``lat``/``lon``), and attributes ``source_file``, ``ctsm_start_year``, ``ctsm_case``."""
        raw, space = self.data, self.space
        data = {k: da.drop_vars([c for c in da.coords if c not in space], errors="ignore") for k, da in data.items()}
        nt = len(self.months)
        allc = {"time": ("time", np.arange(nt), {"long_name": "month index from January of the first year"}),
                "month": ("time", self.months, {"long_name": "calendar month"}), **coords}
        for c in raw.coords if "column" not in space else []:
            if set(raw[c].dims) <= set(space) and raw[c].dims:
                allc[c] = raw[c]
        ds = xr.Dataset(data, coords=allc)
        if "column" in space:
            ds = _column_metadata(ds, raw)
        ds.attrs.update({"source_file": self.source, "ctsm_start_year": self.start_year,
                         "title": "pysoc forcing from CTSM history",
                         "ctsm_case": str(raw.attrs.get("case_id", raw.attrs.get("case_title", "")))})
        return ds


def _column_metadata(ds: xr.Dataset, raw: xr.Dataset) -> xr.Dataset:
    meta = {v: raw[v].copy() for v in raw.variables if v.startswith("cols1d_") and raw[v].dims == ("column",)}
    for v, da in meta.items():
        da.attrs.setdefault("long_name", f"CTSM column metadata {v[len('cols1d_'):]}")
        if v in ("cols1d_lat", "cols1d_lon"):
            da.attrs.setdefault("standard_name", "latitude" if v.endswith("lat") else "longitude")
            da.attrs.setdefault("units", "degrees_north" if v.endswith("lat") else "degrees_east")
    ds = ds.assign_coords(meta)
    if "cols1d_lat" in ds.coords:
        ds = ds.assign_coords(lat=("column", np.asarray(ds["cols1d_lat"].values, float),
                                   {"units": "degrees_north", "standard_name": "latitude"}),
                              lon=("column", np.asarray(ds["cols1d_lon"].values, float),
                                   {"units": "degrees_east", "standard_name": "longitude"}))
    return ds


def read_history(pattern) -> History:
    """Open CTSM history output for forcing (a model's ``ctsm_forcing`` maps it).

    Parameters
    ----------
    pattern : str or path
        A history file, or a glob of monthly files (``case.clm2.h0.*.nc``).

    Returns
    -------
    History
        The data with its months, first year and spatial dimensions.

    Raises
    ------
    DataError
        No such file, not NetCDF, not whole years of consecutive monthly means starting in
        January, no ``column`` or ``lat``/``lon`` dimension.

    Examples
    --------
    >>> from pysoc.io.namelist import PKGDATA
    >>> h = read_history(PKGDATA / "ctsm" / "example_h0.nc")
    >>> h.space, h.start_year, h.months[:3].tolist()
    (('column',), 2000, [1, 2, 3])
    """
    source = str(pattern)
    raw = open_history(pattern)
    months, year0 = months_of(raw, source)
    return History(raw, source, months, year0, _space(raw, source))


def markdown_table(fields, carbon_inputs=(), not_used=None) -> str:
    """A CTSM -> forcing table in Markdown (docs/offline_runs.md).

    Parameters
    ----------
    fields : sequence of CtsmField
        The model's table.
    carbon_inputs : sequence of (str, sequence of str)
        (forcing variable label, CTSM variables) of carbon inputs read with
        :meth:`History.carbon_input`.
    not_used : mapping, optional
        CTSM variable -> why it is not read.

    Returns
    -------
    str

    Examples
    --------
    >>> print(markdown_table([CtsmField("x", ("X",), "column", "m", "m", True, "a note")]).splitlines()[-1])
    | `x` | `X` | m | m | a note |
    """
    lines = ["| pysoc | CTSM history name(s) | CTSM units | pysoc units | conversion / notes |",
             "|---|---|---|---|---|"]
    for f in fields:
        req = "" if f.required else " (optional)"
        lines.append(f"| `{f.pysoc}`{req} | {', '.join(f'`{n}`' for n in f.names)} | {f.ctsm_units} | {f.units} | "
                     f"{f.note} |")
    for label, names in carbon_inputs:
        lines.append(f"| {label} | {', '.join(f'`{n}`' for n in names)} | gC/m^3/s "
                     f"(on levdcmp) or gC/m^2/s | g C m-2 month-1 | per m3: integrated over the history levels "
                     f"(x DZSOI); x 86400 s x days of the month (31, 28, 31, ... noleap); also per d or yr |")
    for k, why in (not_used or {}).items():
        lines.append(f"| (not read) | `{k}` | | | {why} |")
    return "\n".join(lines)


__all__ = ["read_history", "History", "CtsmField", "check_levels", "is_history", "open_history", "history_files",
           "months_of", "to_model_levels", "litter_month", "previous_year_max", "parse_flux_units", "markdown_table",
           "LEVELS"]

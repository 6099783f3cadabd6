"""CTSM history files (h0/h1 tapes, monthly means) as pysoc forcing.

:func:`read_history` reads one history file or a glob of monthly files, 1-D column output
(``hist_dov2xy = .false.``: dimension ``column`` with the ``cols1d_*`` metadata) or gridded
output (``lat``, ``lon``), and returns a multi-column forcing dataset in the pysoc format
of the CLM5-family kernels (variables ``tsoi``, ``w_scalar``, ``o_scalar``, ``fpi``,
``litter_input``, ``altmax``, ``altmax_lastyear``, ``nbedrock``; docs/clm5.md) with the
history's spatial dimensions. :data:`FIELDS` is the one table of CTSM names, units and
conversions (also printed in docs/offline_runs.md by :func:`markdown_table`).

Vertical levels: CTSM writes ``TSOI`` on ``levgrnd`` and the decomposition fields on
``levdcmp``, with the node depths as coordinate values. The rule (``levels``):

- ``'match'`` (default): the first ``nlev`` history levels must have the node depths of the
  model grid (CLM5 20-layer grid = CTSM's 20 soil levels; the 5 bedrock levels below are
  dropped). A mismatch is an error naming the first differing level.
- ``'interpolate'``: node values are interpolated linearly in depth to the model's nodes
  (constant beyond the deepest/shallowest history node).

A decomposition dimension of length 1 (CTSM without vertically resolved soil carbon) is
broadcast to every layer. Litter inputs are column totals in pysoc (the kernels spread
them with their Jackson-beta profile); vertically resolved CTSM inputs are integrated over
the history levels with ``DZSOI`` (or the model's layer thicknesses when the levels match).
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
LITTER_TYPES = ("CWD", "L1", "L2", "L3")
#: CTSM litter inputs per pysoc litter type (CWD, metabolic, cellulose, lignin): the matrix-CN
#: input vectors PRODA reads from CESM2 (spec models.md §2.10); override with &ctsm litter_variables
LITTER_DEFAULT = ("CWD_INPUT_ACC_VECTOR", "LITR1_INPUT_ACC_VECTOR", "LITR2_INPUT_ACC_VECTOR",
                  "LITR3_INPUT_ACC_VECTOR")
_UNITLESS = {"1", "", "-", "unitless", "none", "fraction", "proportion", "dimensionless"}


@dataclass(frozen=True)
class CtsmField:
    """One row of the CTSM -> pysoc table."""

    pysoc: str
    names: tuple[str, ...]
    kind: str            #: 'vertical', 'column' (time x space) or 'static' (space only)
    ctsm_units: str
    units: str
    required: bool
    note: str


FIELDS = (
    CtsmField("tsoi", ("TSOI",), "vertical", "K", "K", True,
              "soil temperature at the layer nodes (levgrnd); degC is converted"),
    CtsmField("w_scalar", ("W_SCALAR",), "vertical", "unitless", "1", True,
              "moisture scalar of decomposition (levdcmp); pysoc applies w_scaling to it"),
    CtsmField("o_scalar", ("O_SCALAR",), "vertical", "unitless", "1", False,
              "oxygen (anoxia) scalar (levdcmp); absent: 1"),
    CtsmField("fpi", ("FPI_vr", "FPI"), "vertical", "proportion", "1", False,
              "N limitation of litter decomposition; FPI (column value) is used for every layer; absent: 1"),
    CtsmField("altmax", ("ALTMAX",), "column", "m", "m", True, "maximum active-layer thickness this year"),
    CtsmField("altmax_lastyear", ("ALTMAX_LASTYEAR",), "column", "m", "m", False,
              "absent: the previous year's maximum of ALTMAX (first year: its own)"),
    CtsmField("nbedrock", ("nbedrock",), "static", "1", "1", False,
              "layers above bedrock; absent: &ctsm nbedrock (required then)"),
    CtsmField("sand", ("CELLSAND",), "static", "%", "%", False, "informational (top layer); absent: NaN"),
)
#: CTSM fields deliberately not read, with the reason
NOT_USED = {
    "T_SCALAR": "pysoc computes the temperature scalar from TSOI with its own (calibrated) q10; CTSM's "
                "T_SCALAR would fix the temperature sensitivity to CTSM's Q10",
}


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


def _altmax_lastyear(altmax: xr.DataArray) -> xr.DataArray:
    """Previous year's maximum of ALTMAX for every month (first year: its own maximum)."""
    nt = altmax.sizes["time"]
    ny = nt // 12
    vals = np.moveaxis(np.asarray(altmax.values, float), altmax.dims.index("time"), 0)
    annual = np.nanmax(vals.reshape((ny, 12) + vals.shape[1:]), axis=1)
    prev = np.concatenate([annual[:1], annual[:-1]], axis=0)
    out = np.repeat(prev, 12, axis=0)
    return altmax.copy(data=np.moveaxis(out, 0, altmax.dims.index("time")))


def _space(ds: xr.Dataset, source: str) -> tuple[str, ...]:
    if "column" in ds.dims:
        return ("column",)
    if "lat" in ds.dims and "lon" in ds.dims:
        return ("lat", "lon")
    if "lndgrid" in ds.dims:
        raise DataError(f"{source}: unstructured 'lndgrid' output is not supported; write the history with "
                        f"hist_dov2xy = .false. (dimension 'column') or on a lat/lon grid")
    raise DataError(f"{source}: no spatial dimension 'column' (1-D output) or 'lat'/'lon' (gridded output)")


def read_history(pattern, zsoi: np.ndarray, dz: np.ndarray, levels: str = "match",
                 litter_variables=LITTER_DEFAULT, nbedrock: int = 0) -> xr.Dataset:
    """Forcing of the CLM5-family kernels from CTSM history output.

    Parameters
    ----------
    pattern : str or path
        A history file, or a glob of monthly files (``case.clm2.h0.*.nc``).
    zsoi, dz : numpy.ndarray
        Node depths and thicknesses (m) of the model grid.
    levels : {'match', 'interpolate'}
        Vertical rule (module docstring).
    litter_variables : sequence of 4 str
        CTSM variables of the CWD, metabolic, cellulose and lignin litter inputs.
    nbedrock : int
        Layers above bedrock when the file has no ``nbedrock`` (0: read it).

    Returns
    -------
    xarray.Dataset
        pysoc forcing with the history's spatial dimensions (``column`` or ``lat``/``lon``),
        attributes ``source_file`` and ``ctsm_start_year``.

    Raises
    ------
    DataError
        Missing variables (naming the CTSM variable and its alternatives), bad units,
        levels that do not match, not whole years of monthly means.
    """
    if levels not in LEVELS:
        raise ConfigError(f"&ctsm levels: {levels!r} is not one of {', '.join(map(repr, LEVELS))}")
    if len(litter_variables) != 4:
        raise ConfigError(f"&ctsm litter_variables: expected 4 names (CWD, L1, L2, L3), got {list(litter_variables)}")
    source = str(pattern)
    raw = open_history(pattern)
    months, year0 = months_of(raw, source)
    space = _space(raw, source)
    out = {}
    for f in FIELDS:
        name, da = _find(raw, f.names, source, f.pysoc, f.required)
        if da is None:
            continue
        da = _clean(da)
        if f.kind == "static" and "time" in da.dims:
            da = da.isel(time=0, drop=True)
        if f.pysoc == "sand" and _vertical_dim(da):
            da = da.isel({_vertical_dim(da): 0}, drop=True)
        if f.kind == "vertical":
            da = to_model_levels(da, zsoi, levels, source, name)
        convert = {"K": _kelvin, "1": _unitless, "m": _metres}.get(f.units) if f.pysoc not in ("nbedrock",
                                                                                             "sand") else None
        out[f.pysoc] = convert(da, source, name) if convert else da
    if "altmax_lastyear" not in out:
        out["altmax_lastyear"] = _altmax_lastyear(out["altmax"])
    if "nbedrock" not in out:
        if not nbedrock:
            raise DataError(f"{source}: missing CTSM variable 'nbedrock' (pysoc 'nbedrock', the number of soil layers "
                            f"above bedrock); set &ctsm nbedrock = N to use N layers in every column")
        out["nbedrock"] = xr.DataArray(np.full([raw.sizes[d] for d in space], float(nbedrock)), dims=space)
    dz_hist = _dz_function(_clean(raw["DZSOI"]) if "DZSOI" in raw else None, dz, source)
    lit = []
    for lt, vname in zip(LITTER_TYPES, litter_variables):
        _, da = _find(raw, (vname,), source, f"litter_input ({lt})", True,
                      alternatives="; other CTSM inputs: set &ctsm litter_variables")
        lit.append(litter_month(_clean(da), months, dz_hist, source, vname))
    out["litter_input"] = xr.concat(lit, dim="litter_type")
    return _assemble(out, raw, months, year0, space, zsoi, source)


def _assemble(out: dict, raw: xr.Dataset, months, year0: int, space, zsoi, source: str) -> xr.Dataset:
    order = {"tsoi": ("time", "level"), "w_scalar": ("time", "level"), "o_scalar": ("time", "level"),
             "fpi": ("time", "level"), "litter_input": ("time", "litter_type"), "altmax": ("time",),
             "altmax_lastyear": ("time",), "nbedrock": (), "sand": ()}
    data = {}
    for k, da in out.items():
        da = da.drop_vars([c for c in da.coords if c not in space], errors="ignore")
        units = {"tsoi": "K", "litter_input": "g C m-2 month-1", "altmax": "m", "altmax_lastyear": "m",
                 "sand": "%"}.get(k, "1")
        data[k] = da.transpose(*order[k], *space).assign_attrs(units=units)
    nt = len(months)
    coords = {"time": ("time", np.arange(nt), {"long_name": "month index from January of the first year"}),
              "month": ("time", months, {"long_name": "calendar month"}),
              "level": ("level", np.arange(1, zsoi.size + 1)), "depth": ("level", zsoi, {"units": "m"}),
              "litter_type": ("litter_type", list(LITTER_TYPES))}
    for c in raw.coords if "column" not in space else []:
        if set(raw[c].dims) <= set(space) and raw[c].dims:
            coords[c] = raw[c]
    ds = xr.Dataset(data, coords=coords)
    if "column" in space:
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
    ds.attrs.update({"source_file": source, "ctsm_start_year": year0, "title": "pysoc forcing from CTSM history",
                     "ctsm_case": str(raw.attrs.get("case_id", raw.attrs.get("case_title", "")))})
    return ds


def markdown_table(litter_variables=LITTER_DEFAULT) -> str:
    """The CTSM -> pysoc table of docs/offline_runs.md."""
    lines = ["| pysoc | CTSM history name(s) | CTSM units | pysoc units | conversion / notes |",
             "|---|---|---|---|---|"]
    for f in FIELDS:
        req = "" if f.required else " (optional)"
        lines.append(f"| `{f.pysoc}`{req} | {', '.join(f'`{n}`' for n in f.names)} | {f.ctsm_units} | {f.units} | "
                     f"{f.note} |")
    lines.append(f"| `litter_input` (CWD, L1, L2, L3) | {', '.join(f'`{n}`' for n in litter_variables)} | gC/m^3/s "
                 f"(on levdcmp) or gC/m^2/s | g C m-2 month-1 | per m3: integrated over the history levels "
                 f"(x DZSOI); x 86400 s x days of the month (31, 28, 31, ... noleap); also per d or yr |")
    for k, why in NOT_USED.items():
        lines.append(f"| (not read) | `{k}` | | | {why} |")
    return "\n".join(lines)


__all__ = ["read_history", "is_history", "open_history", "history_files", "months_of", "to_model_levels",
           "litter_month", "parse_flux_units", "markdown_table", "FIELDS", "NOT_USED", "LITTER_DEFAULT", "LEVELS"]

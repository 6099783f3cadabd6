"""CF-1.8 NetCDF output of pysoc: the project's canonical units and standard names, time
coordinates, and the file layout, written atomically.

Three layers:

- **Constants** every engineer uses for labelled output: :data:`UNITS` (one UDUNITS unit
  per quantity, documented in docs/offline_runs.md), :data:`STANDARD_NAMES` (CF standard
  names of pysoc variables), :data:`CALENDAR` (pysoc years are 365-day years).
- **In-memory labelling**: :func:`canonicalize` maps legacy unit spellings to the canonical
  units and adds standard names and ``cell_methods``; :func:`time_coords` builds a CF time
  coordinate ("days since ...", calendar ``noleap``) with bounds for a series of steps.
- **File layout**: :func:`cf_encode` turns a labelled dataset into its CF form (string
  labels become auxiliary coordinates, integers int32, parameters scalar variables with
  their own units); :func:`write` writes it through :mod:`pysoc.io.atomic`;
  :func:`open_output` reads a pysoc file back with the string labels as dimension
  coordinates again (``ds.sel(pool="S1")``).

Every file written by :func:`write` passes IOOS compliance-checker ``--test=cf:1.8``
without errors (tests/test_cf_compliance.py).
"""

from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path

import numpy as np
import xarray as xr

import pysoc
from pysoc.forcing import write_netcdf_atomic

#: calendar of every pysoc time axis (CLM/CTSM use the same): 365-day years, no leap days
CALENDAR = "noleap"
DAYS_PER_YEAR = 365.0
#: calendar days of the months of the noleap calendar
MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=float)

# ---- canonical units (UDUNITS spellings); the carbon is said by long_name/standard_name --------
STOCK = "g m-2"            #: carbon mass per unit area (stocks; amounts during a step with time: sum)
CONCENTRATION = "g m-3"    #: carbon mass per unit soil volume
FLUX = "g m-2 yr-1"        #: carbon flux per unit area (rate; yr = 365-day year of the noleap calendar)
FLUX_VOLUME = "g m-3 yr-1"  #: carbon flux per unit soil volume (rate)
TOTAL = "Pg"               #: global totals
DEPTH = "m"
DURATION = "yr"            #: turnover and residence times, ages
FRACTION = "1"             #: dimensionless ratios, scalars, fractions
DELTA14C = "1e-3"          #: Delta14C and other per-mil quantities ("per mil" is not UDUNITS)
TEMPERATURE = "K"          #: CLM/CTSM soil temperature; MIMICS/CENTURY forcing keep degC (also UDUNITS)
AREA = "m2"

#: the table of docs/offline_runs.md: (quantity, unit, notes)
UNIT_TABLE = (
    ("carbon stock per unit area (pool, SOC, litter stocks)", STOCK, "long_name/standard_name say carbon"),
    ("carbon amount during one time step (transient fluxes)", STOCK,
     "cell_methods = 'time: sum'; rate = amount / step length (time_bnds)"),
    ("carbon concentration per unit soil volume", CONCENTRATION, "1 mg C cm-3 = 1000 g m-3"),
    ("carbon flux per unit area (steady-state input, Rh; Rh maps)", FLUX, "yr: the 365-day year of pysoc"),
    ("carbon flux per unit soil volume", FLUX_VOLUME, ""),
    ("carbon amount per unit volume during one time step", CONCENTRATION, "cell_methods = 'time: sum'"),
    ("SOC density of the calibration observable soc_0_30", "kg m-2", "kept in kg m-2 (seed-000 comparisons)"),
    ("global carbon totals", TOTAL, ""),
    ("depth, layer bounds, active-layer depth", DEPTH, "positive = 'down'"),
    ("turnover, residence and transit times", DURATION, ""),
    ("Delta14C", DELTA14C, "per mil; 'per mil' is not a UDUNITS unit"),
    ("fraction modern, scalars, fractions, ratios", FRACTION, ""),
    ("soil temperature (CLM5/COMPAS, CTSM)", TEMPERATURE, "MIMICS and CENTURY forcing: degC"),
    ("time", f"days since YYYY-01-01 00:00:00, calendar {CALENDAR}", "time_bnds give every step"),
)

#: legacy spelling -> canonical unit, or (canonical unit, cell_methods) for per-step amounts
LEGACY_UNITS = {
    "g C m-2": STOCK, "gC m-2": STOCK, "gC/m2": STOCK, "gC/m^2": STOCK,
    "g C m-3": CONCENTRATION, "gC m-3": CONCENTRATION, "gC/m3": CONCENTRATION, "gC/m^3": CONCENTRATION,
    "g C m-2 yr-1": FLUX, "gC m-2 yr-1": FLUX, "g m-2 y-1": FLUX,
    "g C m-3 yr-1": FLUX_VOLUME,
    "kg C m-2": "kg m-2", "Pg C": TOTAL,
    "per mil": DELTA14C, "permil": DELTA14C, "per_mil": DELTA14C,
    "g C m-2 month-1": (STOCK, "time: sum"), "g m-2 month-1": (STOCK, "time: sum"),
    "g C m-3 month-1": (CONCENTRATION, "time: sum"), "g m-3 month-1": (CONCENTRATION, "time: sum"),
    "cm month-1": ("cm", "time: sum"),
}

#: CF standard names of pysoc variables (cf-standard-name-table v93). ``when`` restricts the
#: name to variables whose units are a rate ("rate") or a stock ("stock") and which have no
#: pool/pathway dimension (the standard names describe the column totals).
STANDARD_NAMES = {
    "soc_stock": ("carbon_mass_content_of_soil_layer", "stock"),
    "litter_stock": ("litter_mass_content_of_carbon", "stock"),
    "rh": ("surface_upward_mass_flux_of_carbon_dioxide_expressed_as_carbon_due_to_heterotrophic_respiration",
           "rate"),
    "npp": ("net_primary_productivity_of_biomass_expressed_as_carbon", "rate"),
    "nep": ("net_ecosystem_production_expressed_as_carbon_per_unit_area", "rate"),
    "leach": ("mass_flux_of_carbon_out_of_soil_due_to_leaching_and_runoff", "rate"),
    "tsoi": ("soil_temperature", None),
    "altmax": ("permafrost_active_layer_thickness", None),
    "depth": ("depth", None),
    "lat": ("latitude", None),
    "lon": ("longitude", None),
    "time": ("time", None),
}
_PER_POOL_DIMS = ("pool", "pathway", "flux", "plant_pool")


#: parameter units of the parameter tables that UDUNITS cannot parse -> UDUNITS form
PARAMETER_UNITS = {
    "mg C (mg MIC)-1 h-1": "h-1",
    "g m-2 month-1 (ly d-1)-1": "g m-2 month-1 (langley d-1)-1",
    "cm ly-1 degC-1": "cm langley-1 degC-1",
}


def canonical_units(units: str) -> tuple[str, str | None]:
    """(canonical unit, cell_methods or None) of a unit spelling; unknown spellings are
    returned unchanged."""
    u = LEGACY_UNITS.get(str(units).strip(), str(units).strip())
    return (u, None) if isinstance(u, str) else u


def canonicalize(ds: xr.Dataset) -> xr.Dataset:
    """Canonical units, ``cell_methods`` of per-step amounts and CF standard names on every
    variable of ``ds`` (in place; idempotent). Returns ``ds``.

    Examples
    --------
    >>> ds = xr.Dataset({"soc_stock": ((), 1.0, {"units": "g C m-2"})})
    >>> canonicalize(ds)["soc_stock"].attrs["units"]
    'g m-2'
    """
    for name, var in ds.variables.items():
        if "units" in var.attrs:
            units, cm = canonical_units(var.attrs["units"])
            var.attrs["units"] = units
            if cm and "time" in var.dims:
                var.attrs["cell_methods"] = cm
        entry = STANDARD_NAMES.get(str(name))
        if entry is None or "standard_name" in var.attrs:
            continue
        sname, when = entry
        units = str(var.attrs.get("units", ""))
        amount = "time: sum" in str(var.attrs.get("cell_methods", ""))
        if when and any(d in var.dims for d in _PER_POOL_DIMS):
            continue
        if when == "rate" and not (units.endswith("yr-1") or units.endswith("s-1") or units.endswith("d-1")):
            continue
        if when == "stock" and (amount or units not in (STOCK, "kg m-2")):
            continue
        var.attrs["standard_name"] = sname
    return ds


# ---- time -------------------------------------------------------------------------------------------
def time_units(start_year: int = 1) -> str:
    return f"days since {int(start_year):04d}-01-01 00:00:00"


def month_steps(nstep: int) -> np.ndarray:
    """Days of ``nstep`` consecutive calendar months from January (noleap)."""
    return np.resize(MONTH_DAYS, int(nstep))


def time_coords(step_days, start_year: int = 1, offset_days: float = 0.0, months: bool | None = None) -> dict:
    """CF time coordinate of consecutive steps of ``step_days`` days (noleap calendar) from
    January 1 of ``start_year`` (+ ``offset_days``): name -> (dims, values, attrs) for
    ``time`` (middle of each step), ``time_bnds`` and, for calendar months, ``month``.

    Parameters
    ----------
    step_days : array_like
        Length of every step in days.
    start_year : int
        Year of the time origin ("days since <start_year>-01-01").
    offset_days : float
        Days from the origin to the start of the first step.
    months : bool, optional
        Add the calendar-month coordinate (default: when the steps are calendar months).

    Returns
    -------
    dict
        Coordinates to pass to :class:`xarray.Dataset` (``coords=``).

    Examples
    --------
    >>> c = time_coords(month_steps(12))
    >>> float(c["time"][1][0]), c["time"][2]["calendar"]
    (15.5, 'noleap')
    """
    days = np.asarray(step_days, dtype=float)
    upper = offset_days + np.cumsum(days)
    lower = upper - days
    out = {
        "time": (("time",), 0.5 * (lower + upper), {
            "standard_name": "time", "long_name": "time (middle of the step)", "units": time_units(start_year),
            "calendar": CALENDAR, "axis": "T", "bounds": "time_bnds"}),
        "time_bnds": (("time", "nv"), np.stack([lower, upper], axis=1), {"units": time_units(start_year),
                                                                       "calendar": CALENDAR}),
    }
    if months is None:
        months = days.size > 0 and np.array_equal(days, month_steps(days.size)) and offset_days % DAYS_PER_YEAR == 0
    if months:
        out["month"] = (("time",), (np.arange(days.size) % 12 + 1).astype(np.int32),
                        {"long_name": "calendar month", "units": "1"})
    return out


def shift_time_origin(ds: xr.Dataset, start_year: int) -> xr.Dataset:
    """Move the time origin to January 1 of ``start_year`` (noleap years all have 365 days,
    so only the units change). Returns ``ds`` (in place)."""
    for name in ("time", "time_bnds"):
        if name in ds.variables and "since" in str(ds[name].attrs.get("units", "")):
            ds[name].attrs["units"] = time_units(start_year)
    return ds


def start_year_of(ds: xr.Dataset) -> int | None:
    """Year of the time origin of a pysoc dataset ('days since YYYY-...'), or None."""
    if "time" not in ds.variables:
        return None
    m = re.search(r"since\s+(-?\d+)-", str(ds["time"].attrs.get("units", "")))
    return int(m.group(1)) if m else None


# ---- global attributes and file layout ------------------------------------------------------------------
def finalize(ds: xr.Dataset, title: str, namelist_text: str = "", source_files: dict | None = None) -> xr.Dataset:
    """Global attributes (CF-1.8, provenance, namelist text) on a result dataset (copy)."""
    ds = ds.copy()
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    ds.attrs.update({"Conventions": "CF-1.8", "title": title, "institution": "pysoc",
                     "source": f"pysoc {pysoc.__version__}",
                     "history": f"{now} created by pysoc {pysoc.__version__}"})
    ds.attrs.setdefault("references", "see docs/ of pysoc")
    if namelist_text:
        ds.attrs["namelist"] = namelist_text
    for k, v in (source_files or {}).items():
        ds.attrs[f"input_{k}"] = str(v)
    for name, var in ds.variables.items():
        if var.dtype.kind == "f" and "units" not in var.attrs and name not in ds.dims:
            var.attrs["units"] = "1"
    return ds


def parameters_of(ds: xr.Dataset) -> dict:
    """{name: (value, units)} of the parameters of a run, from a file's ``parameter_value``
    table or from the ``param_<name>`` attributes of an in-memory result."""
    if "parameter_value" in ds:
        names = ds["parameter_name"] if "parameter_name" in ds.variables else ds["parameter"]
        return {str(n): (float(v), str(u)) for n, v, u in zip(names.values, ds["parameter_value"].values,
                                                              ds["parameter_units"].values)}
    units = dict(item.split(":", 1) for item in str(ds.attrs.get("parameter_units", "")).split(";") if ":" in item)
    units = {k.strip(): v.strip() for k, v in units.items()}
    return {k[6:]: (float(v), units.get(k[6:], "1")) for k, v in ds.attrs.items() if k.startswith("param_")}


def _label_name(ds: xr.Dataset, dim: str) -> str:
    for cand in (f"{dim}_name", f"{dim}_label"):
        if cand not in ds.variables:
            return cand
    return f"{dim}_label_"


def _string_dims_to_labels(ds: xr.Dataset) -> xr.Dataset:
    """String dimension coordinates -> auxiliary label coordinates (CF 1.8 §6.1); a dimension
    with bounds (depth_interval) gets a numeric coordinate: the interval bottoms."""
    for dim in list(ds.dims):
        if dim not in ds.coords or ds[dim].dtype.kind not in "OUS":
            continue
        labels = np.asarray(ds[dim].values).astype(str).astype(object)
        attrs = dict(ds[dim].attrs)
        name = _label_name(ds, dim)
        ds = ds.drop_vars(dim)
        ds = ds.assign_coords({name: ((dim,), labels, {"long_name": attrs.get("long_name", f"name of the {dim}"),
                                                        "labels_of_dimension": dim})})
        bnds = f"{dim}_bnds"
        if bnds in ds.variables:          # a vertical auxiliary coordinate with the interval bounds
            b = np.asarray(ds[bnds].values, float)
            ds = ds.assign_coords({f"{dim}_bottom": ((dim,), b[:, 1], {
                "standard_name": "depth", "long_name": f"bottom of the {dim.replace('_', ' ')} (bounds: {bnds})",
                "units": ds[bnds].attrs.get("units", "m"), "positive": "down", "bounds": bnds})})
    return ds


def _parameters_to_variables(ds: xr.Dataset) -> xr.Dataset:
    """Global attributes param_<name> -> one table along a ``parameter`` dimension:
    ``parameter_value`` with the labels ``parameter_name`` and, per parameter, its UDUNITS
    units ``parameter_units`` (auxiliary coordinates); units from the attribute
    parameter_units 'name: units; ...'."""
    units = {}
    for item in str(ds.attrs.pop("parameter_units", "")).split(";"):
        if ":" in item:
            k, v = item.split(":", 1)
            units[k.strip()] = v.strip()
    keys = [k for k in ds.attrs if k.startswith("param_")]
    if not keys:
        return ds
    names = [k[len("param_"):] for k in keys]
    values = np.array([float(ds.attrs.pop(k)) for k in keys])
    udu = [canonical_units(PARAMETER_UNITS.get(units.get(n, "1"), units.get(n, "1")))[0] for n in names]
    ds = ds.assign_coords(parameter_name=("parameter", np.array(names, dtype=object),
                                          {"long_name": "model parameter", "labels_of_dimension": "parameter"}),
                          parameter_units=("parameter", np.array(udu, dtype=object),
                                           {"long_name": "UDUNITS units of each parameter value"}))
    ds["parameter_value"] = (("parameter",), values, {
        "long_name": "value of every model parameter used by the run (physical units, see parameter_units)",
        "comment": "each value has its own units, given by the auxiliary coordinate parameter_units"})
    return ds


def cf_encode(ds: xr.Dataset) -> xr.Dataset:
    """The CF-1.8 file layout of a labelled pysoc dataset (a copy): canonical units and
    standard names, string labels as auxiliary coordinates, parameters as scalar variables
    with units, int32 integers, no second (datetime) time coordinate.

    Parameters
    ----------
    ds : xarray.Dataset
        A dataset returned by a model (``steady_state``, ``transient``) or by pysoc-run.

    Returns
    -------
    xarray.Dataset
        The dataset as it is written to disk (see :func:`open_output` for the way back).
    """
    ds = canonicalize(ds.copy())
    if "time" in ds.variables and "since" in str(ds["time"].attrs.get("units", "")):
        ds = ds.drop_vars([v for v in ("date",) if v in ds.variables])
    ds = _string_dims_to_labels(ds)
    ds = _parameters_to_variables(ds)
    for name in list(ds.variables):
        var = ds[name]
        if var.dtype.kind == "b":
            ds[name] = var.astype(np.int8)
        elif var.dtype.kind in "iu" and var.dtype.itemsize > 4:
            vals = np.asarray(var.values)
            if vals.size and (vals.min() < np.iinfo(np.int32).min or vals.max() > np.iinfo(np.int32).max):
                ds[name] = var.astype(float)
            else:
                ds[name] = var.astype(np.int32)
        elif var.dtype.kind == "U":
            ds[name] = var.astype(object)
    for name in list(ds.variables):
        bnds = ds[name].attrs.get("bounds")
        if bnds in ds.variables:          # CF 7.1: bounds inherit the attributes of their coordinate
            keep = {k: ds[name].attrs[k] for k in ("units", "calendar") if k in ds[name].attrs}
            ds[bnds].attrs = keep
    for name in ds.variables:
        if name.endswith("_bnds") and not ds[name].attrs and not any(
                ds[v].attrs.get("bounds") == name for v in ds.variables):
            ds[name].attrs["long_name"] = f"bounds of {name[:-5]}"
    return ds


def encoding_of(ds: xr.Dataset, complevel: int = 4) -> dict:
    """NetCDF encoding: compressed floats with NaN fill for arrays, no fill for coordinates."""
    enc = {}
    for name, var in ds.data_vars.items():
        if var.dtype.kind == "f":
            enc[name] = {"zlib": True, "complevel": complevel, "_FillValue": None if var.ndim == 0 else np.nan}
    for name in ds.coords:
        if ds[name].dtype.kind == "f":
            enc[name] = {"_FillValue": None}
    for name in ("time", "time_bnds"):
        if name in ds.variables:
            enc.setdefault(name, {})["_FillValue"] = None
    return enc


def write(ds: xr.Dataset, path, title: str, namelist_text: str = "", source_files: dict | None = None) -> Path:
    """Write a result dataset in its CF-1.8 layout, atomically (temporary file + rename).

    Parameters
    ----------
    ds : xarray.Dataset
        Labelled result (models' ``steady_state``/``transient``, pysoc-run columns).
    path : path-like
        Output file.
    title : str
        Global attribute ``title``.
    namelist_text : str
        Namelist text stored in the global attribute ``namelist``.
    source_files : dict, optional
        Input files, stored as global attributes ``input_<key>``.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    ds = cf_encode(finalize(ds, title, namelist_text, source_files))
    return write_netcdf_atomic(ds, path, encoding=encoding_of(ds))


def open_output(path) -> xr.Dataset:
    """Open a file written by :func:`write` with the labels back as dimension coordinates
    (``ds.sel(pool="S1")``, ``ds.sel(depth_interval="0-30 cm")``), times decoded (cftime).

    Parameters
    ----------
    path : path-like
        A pysoc output file.

    Returns
    -------
    xarray.Dataset
        The dataset, loaded into memory.
    """
    with xr.open_dataset(path, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)) as ds:
        ds = ds.load()
    for name in list(ds.coords):
        dim = ds[name].attrs.get("labels_of_dimension")
        if dim and dim in ds.dims:
            labels = np.asarray(ds[name].values).astype(str)
            extra = [dim] if dim in ds.coords else []
            ds = ds.drop_vars(extra + [name]).assign_coords({dim: (dim, labels)})
    return ds


def nbytes(ds: xr.Dataset) -> int:
    """Uncompressed size of the variables of ``ds`` in bytes (strings counted as 16 bytes)."""
    total = 0
    for var in ds.variables.values():
        total += var.size * (16 if var.dtype.kind in "OUS" else var.dtype.itemsize)
    return int(total)


__all__ = ["CALENDAR", "DAYS_PER_YEAR", "MONTH_DAYS", "UNITS", "UNIT_TABLE", "STANDARD_NAMES", "LEGACY_UNITS",
           "STOCK", "CONCENTRATION", "FLUX", "FLUX_VOLUME", "TOTAL", "DEPTH", "DURATION", "FRACTION", "DELTA14C",
           "TEMPERATURE", "AREA", "canonical_units", "canonicalize", "time_coords", "time_units", "month_steps",
           "shift_time_origin", "start_year_of", "finalize", "cf_encode", "encoding_of", "write", "open_output",
           "nbytes"]

#: quantity -> canonical unit (the keys other modules use)
UNITS = {"stock": STOCK, "concentration": CONCENTRATION, "flux": FLUX, "flux_volume": FLUX_VOLUME,
         "total": TOTAL, "depth": DEPTH, "duration": DURATION, "fraction": FRACTION, "delta14c": DELTA14C,
         "temperature": TEMPERATURE, "area": AREA}

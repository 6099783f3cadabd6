"""Forcing schemas: which variables a kernel needs, their dimensions, units and
valid ranges. ``ForcingSchema.validate`` turns any problem into one
:class:`~pysoc.errors.DataError` line naming the file and the variable."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from pysoc.errors import DataError
from pysoc.io.atomic import atomic_path

#: unit spellings accepted as equal (CF/UDUNITS aliases we meet in practice)
_UNIT_ALIASES = {
    "1": {"1", "-", "", "dimensionless", "fraction"},
    "K": {"K", "kelvin", "degK"},
    "m": {"m", "meter", "metre", "meters", "metres"},
    "%": {"%", "percent"},
}


#: unit spellings of temperatures in degrees Celsius (converted explicitly to and from K)
_CELSIUS = {"degC", "deg_C", "C", "celsius", "Celsius", "degree_Celsius", "degrees_Celsius", "degree_C", "°C"}
#: spellings of dimensionless units: a variable in these units may come without a units attribute
_DIMENSIONLESS = _UNIT_ALIASES["1"]
_NETCDF_MAGIC = (b"CDF\x01", b"CDF\x02", b"CDF\x05", b"\x89HDF\r\n\x1a\n")


def check_netcdf_file(path: str | os.PathLike, what: str = "forcing file") -> Path:
    """DataError (one line naming the file) unless ``path`` is a file that starts like NetCDF
    (classic or NetCDF-4/HDF5): not found, a directory, empty, or another format (e.g. CSV).
    Reads only the first bytes.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    what : str
        What the file is, for the messages.

    Returns
    -------
    pathlib.Path
        The path.

    Examples
    --------
    >>> check_netcdf_file("/nonexistent.nc", "map file")
    Traceback (most recent call last):
    pysoc.errors.DataError: /nonexistent.nc: map file not found
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a {what}")
    if not path.is_file():
        raise DataError(f"{path}: {what} not found")
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise DataError(f"{path}: cannot read the {what} ({os.strerror(exc.errno) if exc.errno else exc})") from None
    if not head:
        raise DataError(f"{path}: the {what} is empty (0 bytes), not NetCDF")
    if not head.startswith(_NETCDF_MAGIC):
        text = head.decode("ascii", "replace")
        hint = (" (it looks like a text or CSV file)" if all(32 <= b < 127 or b in (9, 10, 13) for b in head)
                else "")
        raise DataError(f"{path}: the {what} is not a NetCDF file{hint}; it starts with {text[:8]!r}")
    return path


def open_netcdf(path: str | os.PathLike, what: str = "forcing file") -> xr.Dataset:
    """Read a NetCDF file into memory with one-line errors naming the file: not found, a
    directory, empty, not NetCDF (e.g. a CSV table), or unreadable (the first line of the
    reader's message).

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    what : str
        What the file is, for the messages.

    Returns
    -------
    xarray.Dataset
        The loaded dataset (the file is closed).

    Raises
    ------
    DataError
        One line naming the file.

    Examples
    --------
    >>> open_netcdf("/nonexistent.nc")
    Traceback (most recent call last):
    pysoc.errors.DataError: /nonexistent.nc: forcing file not found
    """
    path = check_netcdf_file(path, what)
    try:
        with xr.open_dataset(path) as ds:
            return ds.load()
    except Exception as exc:  # noqa: BLE001  (netCDF4/HDF5/xarray raise many types)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: cannot read the {what} as NetCDF ({first})") from None


def is_celsius(units: str) -> bool:
    """True for spellings of degrees Celsius ('degC', 'deg_C', 'celsius', ...)."""
    return str(units).strip() in _CELSIUS


def units_equal(a: str, b: str) -> bool:
    a, b = a.strip(), b.strip()
    if a == b:
        return True
    for aliases in _UNIT_ALIASES.values():
        if a in aliases and b in aliases:
            return True
    return False


@dataclass(frozen=True)
class VariableSpec:
    """One forcing variable. ``dims`` are the required dimension names (in the order
    the kernel uses); ``default`` fills an optional variable that is absent."""

    name: str
    dims: tuple[str, ...]
    units: str
    long_name: str
    valid_min: float | None = None
    valid_max: float | None = None
    required: bool = True
    default: float | None = None
    integer: bool = False

    def describe(self) -> str:
        rng = f" valid [{'' if self.valid_min is None else self.valid_min}, " \
              f"{'' if self.valid_max is None else self.valid_max}]"
        opt = "" if self.required else f" optional (default {self.default})"
        return f"`{self.name}`({', '.join(self.dims)}) [{self.units}]{rng}{opt}: {self.long_name}"


class ForcingSchema:
    """The forcing format of one model."""

    def __init__(self, model: str, variables: list[VariableSpec], doc: str = ""):
        self.model = model
        self.variables = {v.name: v for v in variables}
        self.doc = doc

    def __iter__(self):
        return iter(self.variables.values())

    def validate(self, ds: xr.Dataset, source: str = "<dataset>", sizes: dict | None = None) -> xr.Dataset:
        """Check presence, dimensions, units, NaN and ranges; return a dataset with the
        variables transposed to the schema's dimension order and optional ones filled.
        ``sizes`` optionally fixes dimension lengths (e.g. {'level': 20})."""
        out = {}            # name -> (dims, values, attrs); one Dataset at the end (fast)
        sizes = dict(sizes or {})
        for spec in self.variables.values():
            where = f"{source}: variable '{spec.name}'"
            if spec.name not in ds:
                if spec.required:
                    raise DataError(f"{source}: missing variable '{spec.name}' ({spec.long_name}, "
                                    f"dims {spec.dims}, units {spec.units})")
                shape = []
                for d in spec.dims:
                    if d not in sizes and d not in ds.sizes:
                        raise DataError(f"{where}: cannot fill the optional variable, dimension '{d}' unknown")
                    shape.append(sizes.get(d, ds.sizes.get(d)))
                out[spec.name] = (spec.dims, np.full(shape, spec.default, dtype=float),
                                  {"units": spec.units, "long_name": spec.long_name})
                continue
            da = ds[spec.name]
            if set(da.dims) != set(spec.dims):
                raise DataError(f"{where}: dimensions {da.dims}, expected {spec.dims}")
            da = da.transpose(*spec.dims)
            for d in spec.dims:
                n = sizes.setdefault(d, da.sizes[d])
                if da.sizes[d] != n:
                    raise DataError(f"{where}: dimension '{d}' has length {da.sizes[d]}, expected {n}")
                _check_not_empty(where, d, n)
            try:
                values, where = _in_units(da, spec, where)
            except (TypeError, ValueError):
                raise DataError(f"{where}: values are not numeric") from None
            unknown_ok = (not spec.required and spec.default is not None and np.isnan(spec.default)
                          and np.isnan(values).all())   # an optional value given as 'unknown'
            bad = ~np.isfinite(values)
            if bad.any() and not unknown_ok:
                idx = tuple(int(i) for i in np.argwhere(bad)[0])
                raise DataError(f"{where}: {int(bad.sum())} NaN/non-finite value(s), first at index "
                                f"{dict(zip(spec.dims, idx))}")
            if unknown_ok:
                out[spec.name] = (spec.dims, values, dict(da.attrs))
                continue
            if spec.valid_min is not None and values.size and values.min() < spec.valid_min:
                raise DataError(f"{where}: minimum {values.min():g} below the valid range "
                                f"[{spec.valid_min}, {spec.valid_max}] {spec.units}")
            if spec.valid_max is not None and values.size and values.max() > spec.valid_max:
                raise DataError(f"{where}: maximum {values.max():g} above the valid range "
                                f"[{spec.valid_min}, {spec.valid_max}] {spec.units}")
            if spec.integer and np.any(values != np.round(values)):
                raise DataError(f"{where}: values must be integers")
            attrs = _attrs(da, spec)
            out[spec.name] = (spec.dims, values, attrs)
        dims = {d for v in out.values() for d in v[0]}
        coords = {name: coord for name, coord in ds.coords.items() if all(d in dims for d in coord.dims)}
        return xr.Dataset(out, coords=coords, attrs=dict(ds.attrs))

    def validate_columns(self, ds: xr.Dataset, source: str = "<dataset>", sizes: dict | None = None,
                         dim: str = "column") -> tuple[xr.Dataset, dict[int, str]]:
        """:meth:`validate` for a dataset with an extra column dimension ``dim`` on any
        variable, all columns at once. File-level problems (a missing variable, wrong
        dimensions or units) raise :class:`~pysoc.errors.DataError`; problems of single
        columns (NaN, out of range, not integer) are returned as failures instead.

        Parameters
        ----------
        ds : xarray.Dataset
            Forcing with a column dimension.
        source : str
            File name for the messages.
        sizes : dict, optional
            Fixed dimension lengths (e.g. ``{'level': 20}``).
        dim : str
            Name of the column dimension.

        Returns
        -------
        validated : xarray.Dataset
            Every schema variable with ``dim`` first (broadcast when a variable has no
            column dimension), optional variables filled.
        failures : dict
            Column position -> one-line reason (the first problem found in that column).

        Examples
        --------
        >>> schema = ForcingSchema("demo", [VariableSpec("x", (), "1", "demo", 0.0, 1.0)])
        >>> ds = xr.Dataset({"x": ("column", [0.5, 2.0])})
        >>> schema.validate_columns(ds)[1]
        {1: "<dataset> column 1: variable 'x': maximum 2 above the valid range [0.0, 1.0] 1"}
        """
        ncol = ds.sizes[dim]
        sizes = dict(sizes or {})
        out = xr.Dataset(attrs=dict(ds.attrs))
        failures: dict[int, str] = {}

        def fail(cols, text):
            for c in np.atleast_1d(cols):
                failures.setdefault(int(c), f"{source} {dim} {int(c)}: {text}")

        for spec in self.variables.values():
            where = f"{source}: variable '{spec.name}'"
            if spec.name not in ds:
                if spec.required:
                    raise DataError(f"{source}: missing variable '{spec.name}' ({spec.long_name}, "
                                    f"dims {spec.dims}, units {spec.units})")
                shape = [ncol]
                for d in spec.dims:
                    if d not in sizes and d not in ds.sizes:
                        raise DataError(f"{where}: cannot fill the optional variable, dimension '{d}' unknown")
                    shape.append(sizes.get(d, ds.sizes.get(d)))
                out[spec.name] = ((dim,) + spec.dims, np.full(shape, spec.default, dtype=float),
                                  {"units": spec.units, "long_name": spec.long_name})
                continue
            da = ds[spec.name]
            if set(da.dims) - {dim} != set(spec.dims):
                raise DataError(f"{where}: dimensions {da.dims}, expected {spec.dims} (plus '{dim}')")
            if dim not in da.dims:
                da = da.expand_dims({dim: ncol})
            da = da.transpose(dim, *spec.dims)
            for d in spec.dims:
                n = sizes.setdefault(d, da.sizes[d])
                if da.sizes[d] != n:
                    raise DataError(f"{where}: dimension '{d}' has length {da.sizes[d]}, expected {n}")
                _check_not_empty(where, d, n)
            try:
                values, where = _in_units(da, spec, where)
            except (TypeError, ValueError):
                raise DataError(f"{where}: values are not numeric") from None
            for c, text in _column_problems(spec, values, ncol):
                fail(c, text)
            attrs = _attrs(da, spec)
            out[spec.name] = ((dim,) + spec.dims, values, attrs)
        for name, coord in ds.coords.items():
            if all(d in out.dims for d in coord.dims):
                out = out.assign_coords({name: coord})
        return out, failures

    def load(self, path: str | os.PathLike, sizes: dict | None = None) -> xr.Dataset:
        """Read (:func:`open_netcdf`) and :meth:`validate` a forcing file."""
        return self.validate(open_netcdf(path), source=str(path), sizes=sizes)

    def markdown(self) -> str:
        return "\n".join(f"- {v.describe()}" for v in self.variables.values())


def _check_not_empty(where: str, dim: str, n: int) -> None:
    if n == 0:
        what = " (no time steps)" if dim == "time" else ""
        raise DataError(f"{where}: dimension '{dim}' has length 0{what}")


def _in_units(da: xr.DataArray, spec: VariableSpec, where: str) -> tuple[np.ndarray, str]:
    """Values of ``da`` as floats in the schema's units, and ``where`` for the later messages
    (noting a conversion). A variable without a ``units`` attribute is accepted only when the
    schema's units are dimensionless (the values are never guessed); degrees Celsius and
    kelvin are converted explicitly; other units must equal the schema's."""
    units = da.attrs.get("units")
    values = np.asarray(da.values, dtype=float)
    if units is None:
        unknown = not spec.required and spec.default is not None and np.isnan(spec.default) and np.isnan(values).all()
        if spec.units in _DIMENSIONLESS or unknown:       # dimensionless, or an optional value given as 'unknown'
            return values, where
        raise DataError(f"{where}: no 'units' attribute; expected '{spec.units}' ({spec.long_name}; units are "
                        f"not guessed: set the attribute" + (", 'K' or 'degC'" if spec.units == "K" or
                                                            is_celsius(spec.units) else "") + ")")
    units = str(units)
    if units_equal(units, spec.units):
        return values, where
    if spec.units == "K" and is_celsius(units):
        return values + 273.15, f"{where} (units '{units}' converted to K)"
    if is_celsius(spec.units) and units_equal(units, "K"):
        return values - 273.15, f"{where} (units 'K' converted to {spec.units})"
    raise DataError(f"{where}: units '{units}', expected '{spec.units}'")


def _attrs(da: xr.DataArray, spec: VariableSpec) -> dict:
    """Attributes of a validated variable: its own, with the schema's units (after any
    conversion) and long name by default."""
    attrs = dict(da.attrs)
    if "units" in attrs and not units_equal(str(attrs["units"]), spec.units):
        attrs["units"] = spec.units                     # converted by _in_units
    attrs.setdefault("units", spec.units)
    attrs.setdefault("long_name", spec.long_name)
    return attrs


def _column_problems(spec: VariableSpec, values: np.ndarray, ncol: int):
    """(column, message) of the first problems of every column of one variable
    (values: column first): non-finite values, range, integers; the messages of
    :meth:`ForcingSchema.validate`."""
    flat = values.reshape(ncol, -1)
    out = []
    bad = ~np.isfinite(flat)
    unknown = np.zeros(ncol, dtype=bool)
    if not spec.required and spec.default is not None and np.isnan(spec.default) and flat.shape[1]:
        unknown = np.isnan(flat).all(axis=1)          # an optional value given as 'unknown'
    for c in np.flatnonzero(bad.any(axis=1) & ~unknown):
        idx = np.unravel_index(int(np.flatnonzero(bad[c])[0]), values.shape[1:])
        out.append((c, f"variable '{spec.name}': {int(bad[c].sum())} NaN/non-finite value(s), first at index "
                       f"{dict(zip(spec.dims, (int(i) for i in idx)))}"))
    if not flat.shape[1]:
        return out
    lo = np.where(bad, np.inf, flat).min(axis=1)
    hi = np.where(bad, -np.inf, flat).max(axis=1)
    rng = f"[{spec.valid_min}, {spec.valid_max}] {spec.units}"
    if spec.valid_min is not None:
        out += [(c, f"variable '{spec.name}': minimum {lo[c]:g} below the valid range {rng}")
                for c in np.flatnonzero(lo < spec.valid_min)]
    if spec.valid_max is not None:
        out += [(c, f"variable '{spec.name}': maximum {hi[c]:g} above the valid range {rng}")
                for c in np.flatnonzero(hi > spec.valid_max)]
    if spec.integer:
        v = np.where(bad, 0.0, flat)
        out += [(c, f"variable '{spec.name}': values must be integers") for c in np.flatnonzero((v != np.round(v)).any(1))]
    return out


def write_netcdf_atomic(ds: xr.Dataset, path: str | os.PathLike, encoding: dict | None = None) -> Path:
    """Write ``ds`` to a temporary file next to ``path`` and rename it into place, so
    that a failure never leaves a partial file behind."""
    path = Path(path)
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, encoding=encoding, format="NETCDF4")
    return path

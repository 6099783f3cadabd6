"""Covariate grids: a regular latitude-longitude CF NetCDF file held in memory, the cell that
contains a location, and the one nearest-cell search of pysoc.

:class:`CovariateGrid` reads and checks the file (one line naming the file and the variable
for every problem) and answers two questions about locations given in degrees:

- :meth:`CovariateGrid.locate`: the cell that contains the location (cell edges half-way
  between centres);
- :meth:`CovariateGrid.nearest`: the nearest cell centre, among the cells where a mask is
  True, by great-circle distance, within a largest distance.

The search is a KD-tree of the cell centres as unit vectors (:class:`NearestCells`): the
chord between unit vectors is a monotonic function of the great-circle angle, so the nearest
chord is the nearest cell on the sphere, with no special case at the date line or the poles.
Trees are built once per mask and kept.

PRODA (:class:`pysoc.proda.covariates.CovariateGrid`: land cells and the covariate mapping
table) and the Rh upscaling (:class:`pysoc.upscale.grid.CovariateGrid`: predictors and the
gap-fill rule) extend this class.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path
from typing import Iterable

import numpy as np
import xarray as xr
from scipy.spatial import cKDTree

from pysoc.errors import DataError

#: mean Earth radius (km) of the great-circle distances
R_EARTH_KM = 6371.0072


def unit_vectors(lat, lon) -> np.ndarray:
    """Unit vectors of locations on the sphere.

    Parameters
    ----------
    lat, lon : array_like
        Latitude and longitude (degrees).

    Returns
    -------
    numpy.ndarray
        (n, 3) Cartesian coordinates on the unit sphere.

    Examples
    --------
    >>> unit_vectors([0.0, 90.0], [0.0, 0.0]).round(12)
    array([[1., 0., 0.],
           [0., 0., 1.]])
    """
    la, lo = np.deg2rad(np.asarray(lat, float)), np.deg2rad(np.asarray(lon, float))
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def km_to_chord(km: float) -> float:
    """Chord length on the unit sphere of a great-circle distance (at most the diameter).

    Parameters
    ----------
    km : float
        Great-circle distance (km).

    Returns
    -------
    float

    Examples
    --------
    >>> round(km_to_chord(np.pi * R_EARTH_KM), 12)
    2.0
    """
    return float(2.0 * np.sin(min(km / R_EARTH_KM, np.pi) / 2.0))


def chord_to_km(d) -> np.ndarray:
    """Great-circle distance (km) of a chord length on the unit sphere.

    Parameters
    ----------
    d : array_like
        Chord lengths (0 to 2).

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> float(chord_to_km(km_to_chord(300.0))).__round__(9)
    300.0
    """
    return 2.0 * R_EARTH_KM * np.arcsin(np.clip(np.asarray(d, float) / 2.0, 0.0, 1.0))


class NearestCells:
    """The one nearest-cell search: a KD-tree of cell centres as unit vectors.

    Parameters
    ----------
    lat, lon : array_like
        Cell centres (degrees), one per candidate cell.
    index : array_like of int, optional
        What to return for each candidate (default its position).

    Examples
    --------
    >>> nc = NearestCells([0.0, 10.0], [0.0, 0.0], index=[7, 9])
    >>> j, km = nc.query([1.0, 9.0, -40.0], [0.0, 0.0, 0.0], max_km=500.0)
    >>> j.tolist(), km.round(1).tolist()
    ([7, 9, -1], [111.2, 111.2, 4447.8])
    """

    def __init__(self, lat, lon, index=None):
        lat = np.asarray(lat, float).ravel()
        self.index = np.arange(lat.size) if index is None else np.asarray(index).ravel()
        self.tree = cKDTree(unit_vectors(lat, lon)) if lat.size else None

    def __len__(self) -> int:
        return int(self.index.size)

    def query(self, lat, lon, max_km: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
        """The nearest candidate of each location.

        Parameters
        ----------
        lat, lon : array_like
            Locations (degrees, finite).
        max_km : float
            Largest distance of a match.

        Returns
        -------
        index : numpy.ndarray
            ``index`` of the nearest candidate, -1 when it is farther than ``max_km`` (or
            there is no candidate).
        km : numpy.ndarray
            Great-circle distance to the nearest candidate (also when farther than
            ``max_km``; inf when there is no candidate).
        """
        n = np.size(lat)
        if self.tree is None or n == 0:
            return np.full(n, -1, dtype=np.int64), np.full(n, np.inf)
        d, j = self.tree.query(unit_vectors(lat, lon))
        km = chord_to_km(d)
        return np.where(km <= max_km, self.index[j], -1).astype(np.int64), km


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class CovariateGrid:
    """A regular lat/lon covariate NetCDF file loaded into memory.

    Parameters
    ----------
    path : str or pathlib.Path
        CF NetCDF file with 1-D ``lat`` and ``lon`` coordinates.
    required : iterable of str
        Variables the file must have (besides ``lat`` and ``lon``).
    ascending_lat : bool
        Require ``lat`` ascending (else ascending or descending); ``lon`` must ascend.

    Attributes
    ----------
    path : pathlib.Path
    ds : xarray.Dataset
        The file's contents (the file is closed).
    lat, lon : numpy.ndarray
        Cell centres (degrees).

    Raises
    ------
    DataError
        The file is missing, not NetCDF, unreadable, lacks a required variable, or its
        coordinates are not 1-D and monotonic (one line naming the file).

    Examples
    --------
    >>> from pysoc.io.namelist import PKGDATA
    >>> g = CovariateGrid(PKGDATA / "proda" / "proda_covariates_2deg.nc", required=["cell_area"])
    >>> g.shape
    (90, 180)
    >>> j = g.locate([0.5], [0.5])
    >>> g.LAT.ravel()[j].tolist(), g.LON.ravel()[j].tolist()
    ([1.0], [1.0])
    """

    what = "covariate grid"

    def __init__(self, path, required: Iterable[str] = (), ascending_lat: bool = False):
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"{self.path}: {self.what} not found")
        from pysoc.forcing import check_netcdf_file

        check_netcdf_file(self.path, self.what)          # one line for an empty or non-NetCDF file
        try:
            with xr.open_dataset(self.path, mask_and_scale=True) as f:
                ds = f.load()
        except Exception as exc:  # noqa: BLE001  (any reader failure is one line naming the file)
            raise DataError(f"{self.path}: cannot read the {self.what} ({_first_line(exc)})") from None
        for v in ("lat", "lon", *required):
            if v not in ds.variables:
                raise DataError(f"{self.path}: variable '{v}' missing from the {self.what}")
        lat = np.asarray(ds["lat"].values, float)
        lon = np.asarray(ds["lon"].values, float)
        if lat.ndim != 1 or lon.ndim != 1 or lat.size < 2 or lon.size < 2:
            raise DataError(f"{self.path}: 'lat' and 'lon' must be 1-D coordinates of a regular grid "
                            f"(at least 2 values each)")
        dlat = np.diff(lat)
        if not (np.all(dlat > 0) or (not ascending_lat and np.all(dlat < 0))) or not np.all(np.diff(lon) > 0):
            raise DataError(f"{self.path}: 'lat' must be {'ascending' if ascending_lat else 'monotonic'} and "
                            f"'lon' ascending")
        self.ds = ds
        self.lat, self.lon = lat, lon
        self._searches: dict[bytes, NearestCells] = {}

    # ---- geometry ---------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """(nlat, nlon)."""
        return (self.lat.size, self.lon.size)

    @cached_property
    def LAT(self) -> np.ndarray:  # noqa: N802  (the grid's latitude field)
        """(nlat, nlon) latitude of the cell centres."""
        return np.meshgrid(self.lat, self.lon, indexing="ij")[0]

    @cached_property
    def LON(self) -> np.ndarray:  # noqa: N802
        """(nlat, nlon) longitude of the cell centres."""
        return np.meshgrid(self.lat, self.lon, indexing="ij")[1]

    def checksum(self) -> str:
        """sha256 of the grid file (stored in saved models).

        Returns
        -------
        str
            Hex digest.
        """
        h = hashlib.sha256()
        with open(self.path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()

    def field2d(self, name: str) -> np.ndarray:
        """A (lat, lon) variable as a float array.

        Parameters
        ----------
        name : str
            Variable name.

        Returns
        -------
        numpy.ndarray
            (nlat, nlon), NaN where the file has fill values.

        Raises
        ------
        DataError
            The variable is missing or has other dimensions.
        """
        if name not in self.ds.variables:
            raise DataError(f"{self.path}: variable '{name}' missing from the {self.what}")
        v = self.ds[name]
        if set(v.dims) != {"lat", "lon"}:
            raise DataError(f"{self.path}: variable '{name}' has dims {v.dims}, expected (lat, lon)")
        return np.asarray(v.transpose("lat", "lon").values, dtype=float)

    def locate(self, lat, lon) -> np.ndarray:
        """Flat (C-order) index of the cell containing each location.

        Parameters
        ----------
        lat, lon : array_like
            Locations (degrees).

        Returns
        -------
        numpy.ndarray
            Flat index into (nlat, nlon); -1 outside the grid or for non-finite coordinates.
        """
        lat, lon = np.asarray(lat, float), np.asarray(lon, float)
        glat = self.lat if self.lat[1] > self.lat[0] else self.lat[::-1]
        dlat = np.r_[np.diff(glat), np.diff(glat)[-1:]]
        dlon = np.r_[np.diff(self.lon), np.diff(self.lon)[-1:]]
        edges_lat = np.r_[glat - dlat / 2, glat[-1] + dlat[-1] / 2]
        edges_lon = np.r_[self.lon - dlon / 2, self.lon[-1] + dlon[-1] / 2]
        i = np.searchsorted(edges_lat, lat, side="right") - 1
        j = np.searchsorted(edges_lon, lon, side="right") - 1
        ok = (i >= 0) & (i < glat.size) & (j >= 0) & (j < self.lon.size) & np.isfinite(lat) & np.isfinite(lon)
        i = np.clip(i, 0, glat.size - 1)
        if glat is not self.lat:
            i = glat.size - 1 - i
        return np.where(ok, i * self.lon.size + np.clip(j, 0, self.lon.size - 1), -1)

    # ---- the nearest-cell search --------------------------------------------------------------
    def search(self, valid: np.ndarray) -> NearestCells:
        """The nearest-cell search over the cells where ``valid`` (built once per mask).

        Parameters
        ----------
        valid : numpy.ndarray of bool
            (nlat, nlon) mask of the candidate cells.

        Returns
        -------
        NearestCells
            Returning flat (C-order) cell indices.
        """
        valid = np.asarray(valid, bool)
        if valid.shape != self.shape:
            raise DataError(f"{self.path}: mask of shape {valid.shape}, grid is {self.shape}")
        key = np.packbits(valid).tobytes()
        if key not in self._searches:
            idx = np.flatnonzero(valid.ravel())
            self._searches[key] = NearestCells(self.LAT.ravel()[idx], self.LON.ravel()[idx], idx)
        return self._searches[key]

    def nearest(self, valid: np.ndarray, lat, lon, max_km: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
        """The nearest cell where ``valid``, by great-circle distance between the location and
        the cell centres.

        Parameters
        ----------
        valid : numpy.ndarray of bool
            (nlat, nlon) mask of the candidate cells.
        lat, lon : array_like
            Locations (degrees, finite).
        max_km : float
            Largest distance of a match.

        Returns
        -------
        index : numpy.ndarray
            Flat (C-order) index of the nearest valid cell, -1 beyond ``max_km`` or when no
            cell is valid.
        km : numpy.ndarray
            Distance to the nearest valid cell (also beyond ``max_km``; inf when none).

        Examples
        --------
        >>> from pysoc.io.namelist import PKGDATA
        >>> g = CovariateGrid(PKGDATA / "proda" / "proda_covariates_2deg.nc")
        >>> valid = np.zeros(g.shape, bool); valid[45, 90] = True      # the cell at (1 N, 1 E)
        >>> j, km = g.nearest(valid, [0.0, 40.0], [0.0, 0.0], max_km=1000.0)
        >>> j.tolist(), km.round(0).tolist()
        ([8190, -1], [157.0, 4338.0])
        """
        return self.search(valid).query(lat, lon, max_km)


__all__ = ["R_EARTH_KM", "CovariateGrid", "NearestCells", "chord_to_km", "km_to_chord", "unit_vectors"]

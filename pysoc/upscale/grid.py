"""Gridded covariates: reading and checking the covariate NetCDF, the predictor values at
sites and at map cells with ONE gap-fill rule, and area-weighted global totals.

Gap-fill rule (the same for sites and map cells, :meth:`CovariateGrid.sample`): a predictor
takes the value of the grid cell that contains the location when that cell has one, else
the value of the nearest cell that has one (great-circle distance from the location to the
cell centre) if it lies within ``fill_km``; otherwise the location has no value and is
reported with the reason (``"no SOC within 300 km"``). A site therefore gets the value of
the map cell it lies in whenever that cell is in the map.

The grid must be a regular lat/lon CF file with ``cell_area`` (m2), ``land_fraction``,
``vegetated_fraction`` (1), ``veg_fraction(veg_class, lat, lon)``, ``koppen_main_class`` and
the ``grid_var`` of every predictor used (see :mod:`pysoc.upscale.predictors`). The shipped
``pkgdata:grids/upscale_covariates_1deg.nc`` is such a file. Derived fields (the
decomposition index, a PRODA SOC map) are added with :meth:`CovariateGrid.add_field` and are
then sampled like any other variable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pysoc.errors import DataError
from pysoc.io import grid as _grid
from pysoc.io.grid import R_EARTH_KM, chord_to_km  # noqa: F401  (re-exported)
from pysoc.upscale.predictors import (ALL_PREDICTORS, FOREST_CLASSES, SRDB_ECOSYSTEM_TO_VEG, VEG_BASE_CLASSES,
                                      apply_tundra_rule, climate_zone_from_koppen, climate_zone_from_latitude)

BASE_VARS = ("cell_area", "land_fraction", "vegetated_fraction", "veg_fraction", "koppen_main_class")

_xyz = _grid.unit_vectors          # earlier names (spatial blocking in pysoc.upscale.models, tests)
_chord = _grid.km_to_chord


@dataclass
class GridCells:
    """Predictor table of the map cells (one row per cell in the prediction domain)."""

    table: pd.DataFrame          # lat, lon, ilat, ilon, weight (m2), zone, koppen, predictor columns
    shape: tuple[int, int]
    n_filled: dict[str, int]     # per predictor, cells gap-filled from a neighbour
    area_dropped_m2: float       # domain area without predictors even after gap filling
    n_dropped: int = 0


class CovariateGrid(_grid.CovariateGrid):
    """The covariate grid of the Rh upscaling: a :class:`pysoc.io.grid.CovariateGrid` (reading,
    checks, :meth:`locate`, the nearest-cell search) with the predictors and the gap-fill rule.

    Parameters
    ----------
    path : str or Path
        CF NetCDF with the variables listed in the module docstring (``lat`` ascending).

    Raises
    ------
    DataError
        Missing file, unreadable file or missing base variables (naming the file and variable).

    Examples
    --------
    >>> from pysoc.io.namelist import PKGDATA
    >>> g = CovariateGrid(PKGDATA / "grids" / "upscale_covariates_1deg.nc")
    >>> g.sample([48.0], [11.0], ["MAT"], fill_km=300.0)["reason"].tolist()
    ['']
    """

    def __init__(self, path: str | Path):
        super().__init__(path, required=BASE_VARS, ascending_lat=True)
        self.derived: dict[str, np.ndarray] = {}
        flags = self.ds["veg_fraction"].attrs.get("flag_meanings", " ".join(VEG_BASE_CLASSES)).split()
        if tuple(flags) != VEG_BASE_CLASSES:
            raise DataError(f"{self.path}: veg_fraction classes {flags} differ from {VEG_BASE_CLASSES}")

    # ------------------------------------------------------------------ fields
    def field(self, name: str) -> np.ndarray:
        if name not in self.ds.variables:
            raise DataError(f"{self.path}: variable {name!r} missing from the covariate grid")
        return self.ds[name].values

    def add_field(self, name: str, values: np.ndarray) -> None:
        """Register a derived (lat, lon) field under a predictor name (NaN = no value)."""
        values = np.asarray(values, float)
        if values.shape != self.LAT.shape:
            raise DataError(f"derived field {name!r} has shape {values.shape}, grid is {self.LAT.shape}")
        self.derived[name] = values

    def predictor_field(self, pred: str) -> np.ndarray:
        """(lat, lon) float field of a numeric predictor (NaN where the grid has no value)."""
        if pred in self.derived:
            return self.derived[pred]
        p = ALL_PREDICTORS[pred]
        if p.grid_var is None or p.kind != "grid":
            raise DataError(f"{self.path}: predictor {pred!r} has no gridded field here "
                            f"({p.note or 'derived predictor not computed'})")
        a = self.field(p.grid_var).astype(np.float64)
        return np.where(a <= -9990, np.nan, a)

    def area_weight(self, kind: str = "vegetated") -> np.ndarray:
        """Cell weight in m2: cell_area times the vegetated (or land) fraction."""
        frac = {"vegetated": "vegetated_fraction", "land": "land_fraction"}.get(kind)
        if frac is None:
            raise DataError(f"area weight {kind!r} not one of 'vegetated', 'land'")
        return np.nan_to_num(self.field("cell_area").astype(np.float64) * self.field(frac).astype(np.float64))

    def veg_class_map(self) -> np.ndarray:
        vf = np.nan_to_num(self.field("veg_fraction").astype(np.float64))
        cls = np.array(VEG_BASE_CLASSES, dtype=object)[vf.argmax(0)]
        cls = np.where(vf.sum(0) > 0, cls, None)
        return apply_tundra_rule(cls, self.LAT)

    # ------------------------------------------------------------------ the gap-fill rule
    def fill_source(self, valid: np.ndarray, lat: np.ndarray, lon: np.ndarray, max_km: float,
                    own: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Flat index of the cell that gives each location its value under the gap-fill rule:
        the containing cell (``own``, from :meth:`locate` if not given) when ``valid`` there,
        else the nearest valid cell within ``max_km`` (:meth:`nearest`; -1 if none).

        Parameters
        ----------
        valid : numpy.ndarray of bool
            (nlat, nlon) cells that have a value.
        lat, lon : array_like
            Locations (degrees).
        max_km : float
            Largest gap-fill distance.
        own : array_like, optional
            Flat index of each location's own cell.

        Returns
        -------
        index : numpy.ndarray
            Flat cell index, -1 when no cell gives a value.
        km : numpy.ndarray
            Distance (0 for the own cell, NaN when none).
        """
        lat, lon = np.asarray(lat, float), np.asarray(lon, float)
        own = self.locate(lat, lon) if own is None else np.asarray(own)
        vflat = valid.ravel()
        out = np.where((own >= 0) & vflat[np.maximum(own, 0)], own, -1)
        dist = np.where(out >= 0, 0.0, np.nan)
        miss = np.flatnonzero((out < 0) & np.isfinite(lat) & np.isfinite(lon))
        if miss.size and vflat.any():
            j, km = self.nearest(valid, lat[miss], lon[miss], max_km)
            ok = j >= 0
            out[miss[ok]] = j[ok]
            dist[miss[ok]] = km[ok]
        return out, dist

    # ------------------------------------------------------------------ sampling (sites and cells)
    def _sample_one(self, values: np.ndarray, valid: np.ndarray, lat, lon, fill_km, own):
        j, d = self.fill_source(valid, lat, lon, fill_km, own)
        flat = values.reshape(values.shape[:-2] + (-1,))
        got = flat[..., np.maximum(j, 0)]
        return np.where(j >= 0, got, np.nan), j, d

    def sample(self, lat: np.ndarray, lon: np.ndarray, predictors: list[str], fill_km: float,
               own: np.ndarray | None = None) -> pd.DataFrame:
        """Predictor values at locations under the gap-fill rule.

        Parameters
        ----------
        lat, lon : array_like
            Locations (degrees).
        predictors : list of str
            Predictor names (numeric, ``LandCover``, ``Koppen``, ``Veg``).
        fill_km : float
            Largest distance of the gap fill.
        own : array_like, optional
            Flat index of each location's own cell (map cells pass theirs).

        Returns
        -------
        pandas.DataFrame
            One column per numeric predictor, ``LC_<class>`` shares, ``koppen`` (1-5, 0 =
            none), ``gridfrac_<class>`` (vegetation shares used for ``Veg``), ``fill_km_max``
            (largest gap-fill distance used) and ``reason`` ('' when every predictor has a
            value, else which predictor is missing within ``fill_km``).
        """
        lat, lon = np.asarray(lat, float), np.asarray(lon, float)
        own = self.locate(lat, lon) if own is None else np.asarray(own)
        out: dict[str, np.ndarray] = {}
        dmax = np.zeros(lat.size)
        reasons = np.full(lat.size, "", dtype=object)

        def note(name, j, d):
            nonlocal dmax
            dmax = np.fmax(dmax, np.where(j >= 0, d, np.nan))
            bad = (j < 0) & (reasons == "")
            reasons[bad] = f"no {name} within {fill_km:g} km"

        bad_coord = ~(np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180))
        reasons[bad_coord] = "coordinates missing or outside the globe"
        need_veg = {"Veg", "LandCover"} & set(predictors)
        for pred in predictors:
            if pred in ("Veg", "LandCover", "Koppen"):
                continue
            a = self.predictor_field(pred)
            out[pred], j, d = self._sample_one(a, np.isfinite(a), lat, lon, fill_km, own)
            note(pred, j, d)
        k = self.field("koppen_main_class").astype(np.int64)
        kv, j, d = self._sample_one(k.astype(float), k > 0, lat, lon, fill_km, own)
        out["koppen"] = np.where(np.isfinite(kv), kv, 0).astype(np.int64)
        if "Koppen" in predictors:
            note("Koppen", j, d)
        vf = np.nan_to_num(self.field("veg_fraction").astype(np.float64))
        fr, j, d = self._sample_one(vf, vf.sum(0) > 0, lat, lon, fill_km, own)
        for i, c in enumerate(VEG_BASE_CLASSES):
            out[f"gridfrac_{c}"] = fr[i]
            if "LandCover" in predictors:
                out[f"LC_{c}"] = fr[i]
        if need_veg:
            note("land cover", j, d)
        df = pd.DataFrame(out)
        df["fill_km_max"] = dmax
        df["reason"] = reasons
        return df

    # ------------------------------------------------------------------ map cells
    def cells(self, predictors: list[str], area: str = "vegetated", fill_km: float = 300.0,
              zone_source: str = "koppen") -> GridCells:
        """Predictor table of all cells with positive area weight, climate and a vegetation
        class, with the gap-fill rule of :meth:`sample`; cells still without a predictor are
        dropped (their area is reported)."""
        w = self.area_weight(area)
        veg = self.veg_class_map()
        mat = self.predictor_field("MAT")
        dom = (w > 0) & np.isfinite(mat) & (veg != None)  # noqa: E711
        il, jl = np.nonzero(dom)
        flat = np.flatnonzero(dom.ravel())
        s = self.sample(self.LAT[dom], self.LON[dom], list(predictors), fill_km, own=flat)
        tab = pd.DataFrame({"lat": self.LAT[dom], "lon": self.LON[dom], "ilat": il, "ilon": jl, "weight": w[dom],
                            "Veg": veg[dom]})
        tab = pd.concat([tab, s.drop(columns=[c for c in s.columns if c.startswith("gridfrac_")])], axis=1)
        tab["zone"] = (climate_zone_from_koppen(tab["koppen"].to_numpy(), tab["lat"].to_numpy())
                       if zone_source == "koppen" else climate_zone_from_latitude(tab["lat"].to_numpy()))
        keep = (tab["reason"] == "").to_numpy()
        n_filled = {}
        for pred in predictors:
            if pred in ALL_PREDICTORS and ALL_PREDICTORS[pred].kind in ("grid", "decomposition", "proda"):
                a = self.predictor_field(pred)
                n_filled[pred] = int((~np.isfinite(a[dom]) & keep).sum())
        dropped = float(tab["weight"][~keep].sum())
        return GridCells(tab[keep].reset_index(drop=True), self.LAT.shape, n_filled, dropped, int((~keep).sum()))

    def to_map(self, cells: GridCells, values: np.ndarray) -> np.ndarray:
        """Scatter per-cell values back onto the (lat, lon) grid (NaN elsewhere)."""
        out = np.full(cells.shape, np.nan)
        out[cells.table["ilat"].to_numpy(), cells.table["ilon"].to_numpy()] = values
        return out


def global_total(values: np.ndarray, weight_m2: np.ndarray) -> float:
    """Area-weighted global total: sum(values [g C m-2 yr-1] * weight [m2]) in Pg C yr-1."""
    v = np.asarray(values, float)
    w = np.asarray(weight_m2, float)
    if v.shape != w.shape:
        raise DataError(f"global_total: values shape {v.shape} differs from weights {w.shape}")
    ok = np.isfinite(v) & (w > 0)
    return float(np.sum(v[ok] * w[ok]) / 1e15)


def assign_site_vegetation(records: pd.DataFrame, sampled: pd.DataFrame, source: str = "record") -> np.ndarray:
    """Vegetation class of each site. ``source='record'``: SRDB Ecosystem_type (forest
    subtype from Leaf_habit and the grid's forest-type shares at the site), grid class when
    the record's type is bare/urban/unknown. ``source='grid'``: the grid class at the site.
    The tundra rule is applied at the end."""
    lat = records["Latitude"].to_numpy(float)
    fr = sampled[[f"gridfrac_{c}" for c in VEG_BASE_CLASSES]].to_numpy(float)
    has = np.isfinite(fr).all(1) & (np.nan_to_num(fr).sum(1) > 0)
    grid_cls = np.where(has, np.array(VEG_BASE_CLASSES, dtype=object)[np.nan_to_num(fr).argmax(1)], None)
    out = np.empty(len(records), dtype=object)
    n = len(records)
    eco = records["Ecosystem_type"].astype(object).to_numpy() if "Ecosystem_type" in records else [None] * n
    leaf = records["Leaf_habit"].astype(object).to_numpy() if "Leaf_habit" in records else [None] * n
    fi = [VEG_BASE_CLASSES.index(c) for c in FOREST_CLASSES]
    for k in range(n):
        e = eco[k] if isinstance(eco[k], str) else None
        cls = SRDB_ECOSYSTEM_TO_VEG.get(e) if (source == "record" and e) else None
        if cls == "forest":
            lh = leaf[k] if isinstance(leaf[k], str) else ""
            cand = {"Evergreen": ("ENF", "EBF"), "Deciduous": ("DNF", "DBF"), "Mixed": ("MF",)}.get(lh, FOREST_CLASSES)
            shares = np.array([fr[k, fi[FOREST_CLASSES.index(c)]] if has[k] else 0.0 for c in cand])
            if shares.max() > 0:
                cls = cand[int(shares.argmax())]
            else:
                trop = abs(lat[k]) < 23.5
                cls = {"Evergreen": "EBF" if trop else "ENF", "Deciduous": "DBF", "Mixed": "MF"}.get(
                    lh, "EBF" if trop else "MF")
        if cls is None:
            cls = grid_cls[k]
        out[k] = cls
    return apply_tundra_rule(out, lat)

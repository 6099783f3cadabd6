"""Gridded covariates: reading and checking the covariate NetCDF, sampling it at sites
(nearest valid cell), building the predictor table of the map cells (with nearest-cell gap
filling of soil/biomass gaps) and area-weighted global totals.

The grid must be a regular lat/lon CF file with ``cell_area`` (m2), ``land_fraction``,
``vegetated_fraction`` (1), ``veg_fraction(veg_class, lat, lon)``, ``koppen_main_class`` and
the ``grid_var`` of every predictor used (see :mod:`pysoc.upscale.predictors`). The shipped
``pkgdata:grids/upscale_covariates_1deg.nc`` is such a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from scipy.spatial import cKDTree

from pysoc.errors import DataError
from pysoc.upscale.predictors import (ALL_PREDICTORS, FOREST_CLASSES, SRDB_ECOSYSTEM_TO_VEG,
                                      VEG_BASE_CLASSES, apply_tundra_rule, climate_zone_from_koppen,
                                      climate_zone_from_latitude)

R_EARTH_KM = 6371.0072
BASE_VARS = ("cell_area", "land_fraction", "vegetated_fraction", "veg_fraction", "koppen_main_class")


def _xyz(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.deg2rad(np.asarray(lat, float)), np.deg2rad(np.asarray(lon, float))
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def _chord(km: float) -> float:
    return 2.0 * np.sin(min(km / R_EARTH_KM, np.pi) / 2.0)


@dataclass
class GridCells:
    """Predictor table of the map cells (one row per cell in the prediction domain)."""

    table: pd.DataFrame          # lat, lon, ilat, ilon, weight (m2), Veg, zone, predictor columns
    shape: tuple[int, int]
    n_filled: dict[str, int]     # per predictor, cells gap-filled from a neighbour
    area_dropped_m2: float       # domain area without predictors even after gap filling


class CovariateGrid:
    """A covariate grid opened with xarray (loaded into memory)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"{self.path}: covariate grid not found")
        try:
            ds = xr.open_dataset(self.path)
            ds = ds.load()
        except Exception as exc:
            raise DataError(f"{self.path}: cannot read the covariate grid ({exc})") from None
        for v in BASE_VARS + ("lat", "lon"):
            if v not in ds.variables:
                raise DataError(f"{self.path}: variable {v!r} missing from the covariate grid")
        self.ds = ds
        self.lat = ds["lat"].values.astype(float)
        self.lon = ds["lon"].values.astype(float)
        if self.lat.ndim != 1 or self.lon.ndim != 1 or np.any(np.diff(self.lat) <= 0):
            raise DataError(f"{self.path}: lat must be 1-D and ascending, lon 1-D")
        self.LAT, self.LON = np.meshgrid(self.lat, self.lon, indexing="ij")
        self._trees: dict[bytes, tuple[cKDTree, np.ndarray]] = {}
        flags = ds["veg_fraction"].attrs.get("flag_meanings", " ".join(VEG_BASE_CLASSES)).split()
        if tuple(flags) != VEG_BASE_CLASSES:
            raise DataError(f"{self.path}: veg_fraction classes {flags} differ from {VEG_BASE_CLASSES}")

    # ------------------------------------------------------------------ basics
    def field(self, name: str) -> np.ndarray:
        if name not in self.ds.variables:
            raise DataError(f"{self.path}: variable {name!r} missing from the covariate grid")
        return self.ds[name].values

    def predictor_field(self, pred: str) -> np.ndarray:
        p = ALL_PREDICTORS[pred]
        if p.grid_var is None:
            raise DataError(f"predictor {pred!r} has no gridded source")
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

    # ------------------------------------------------------------------ sampling
    def _tree(self, valid: np.ndarray) -> tuple[cKDTree, np.ndarray]:
        key = np.packbits(valid).tobytes()
        if key not in self._trees:
            idx = np.flatnonzero(valid.ravel())
            if idx.size == 0:
                raise DataError(f"{self.path}: a covariate has no valid cell")
            self._trees[key] = (cKDTree(_xyz(self.LAT.ravel()[idx], self.LON.ravel()[idx])), idx)
        return self._trees[key]

    def nearest(self, valid: np.ndarray, lat: np.ndarray, lon: np.ndarray, max_km: float) -> np.ndarray:
        """Flat index of the nearest cell where ``valid`` holds (-1 if none within max_km)."""
        tree, idx = self._tree(valid)
        d, j = tree.query(_xyz(lat, lon), distance_upper_bound=_chord(max_km))
        out = np.full(len(d), -1, dtype=np.int64)
        ok = np.isfinite(d)
        out[ok] = idx[j[ok]]
        return out

    def sample_sites(self, lat: np.ndarray, lon: np.ndarray, predictors: list[str],
                     max_km: float) -> pd.DataFrame:
        """Value of every numeric predictor at the nearest valid cell (NaN beyond max_km),
        the site's Köppen class and the grid vegetation-class fractions."""
        lat, lon = np.asarray(lat, float), np.asarray(lon, float)
        out = {}
        for pred in predictors:
            if pred == "Veg":
                continue
            a = self.predictor_field(pred)
            j = self.nearest(np.isfinite(a), lat, lon, max_km)
            out[pred] = np.where(j >= 0, a.ravel()[np.maximum(j, 0)], np.nan)
        k = self.field("koppen_main_class").astype(int)
        j = self.nearest(k > 0, lat, lon, max_km)
        out["koppen"] = np.where(j >= 0, k.ravel()[np.maximum(j, 0)], 0)
        vf = np.nan_to_num(self.field("veg_fraction").astype(np.float64))
        j = self.nearest(vf.sum(0) > 0, lat, lon, max_km)
        for i, c in enumerate(VEG_BASE_CLASSES):
            out[f"gridfrac_{c}"] = np.where(j >= 0, vf[i].ravel()[np.maximum(j, 0)], np.nan)
        return pd.DataFrame(out)

    # ------------------------------------------------------------------ map cells
    def cells(self, predictors: list[str], area: str = "vegetated", fill_km: float = 500.0,
              zone_source: str = "koppen") -> GridCells:
        """Predictor table of all cells with positive area weight and climate. Soil and
        biomass gaps are filled from the nearest valid cell within ``fill_km``; cells still
        without a predictor are dropped (their area is reported)."""
        w = self.area_weight(area)
        veg = self.veg_class_map()
        mat = self.predictor_field("MAT")
        dom = (w > 0) & np.isfinite(mat) & (veg != None)  # noqa: E711
        il, jl = np.nonzero(dom)
        tab = {"lat": self.LAT[dom], "lon": self.LON[dom], "ilat": il, "ilon": jl, "weight": w[dom]}
        keep = np.ones(dom.sum(), bool)
        n_filled = {}
        for pred in predictors:
            if pred == "Veg":
                tab["Veg"] = veg[dom]
                continue
            a = self.predictor_field(pred)
            v = a[dom]
            miss = ~np.isfinite(v)
            n_filled[pred] = 0
            if miss.any():
                j = self.nearest(np.isfinite(a), tab["lat"][miss], tab["lon"][miss], fill_km)
                fill = np.where(j >= 0, a.ravel()[np.maximum(j, 0)], np.nan)
                v = v.copy()
                v[miss] = fill
                n_filled[pred] = int(np.isfinite(fill).sum())
            keep &= np.isfinite(v)
            tab[pred] = v
        k = self.field("koppen_main_class").astype(int)[dom]
        tab["zone"] = (climate_zone_from_koppen(k, tab["lat"]) if zone_source == "koppen"
                       else climate_zone_from_latitude(tab["lat"]))
        df = pd.DataFrame(tab)
        dropped = float(df["weight"][~keep].sum())
        return GridCells(df[keep].reset_index(drop=True), self.LAT.shape, n_filled, dropped)

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
    eco = records["Ecosystem_type"].astype(object).to_numpy() if "Ecosystem_type" in records else [None] * len(records)
    leaf = records["Leaf_habit"].astype(object).to_numpy() if "Leaf_habit" in records else [None] * len(records)
    fi = [VEG_BASE_CLASSES.index(c) for c in FOREST_CLASSES]
    for n in range(len(records)):
        e = eco[n] if isinstance(eco[n], str) else None
        cls = SRDB_ECOSYSTEM_TO_VEG.get(e) if (source == "record" and e) else None
        if cls == "forest":
            lh = leaf[n] if isinstance(leaf[n], str) else ""
            cand = {"Evergreen": ("ENF", "EBF"), "Deciduous": ("DNF", "DBF"), "Mixed": ("MF",)}.get(lh, FOREST_CLASSES)
            shares = np.array([fr[n, fi[FOREST_CLASSES.index(c)]] if has[n] else 0.0 for c in cand])
            if shares.max() > 0:
                cls = cand[int(shares.argmax())]
            else:
                trop = abs(lat[n]) < 23.5
                cls = {"Evergreen": "EBF" if trop else "ENF", "Deciduous": "DBF", "Mixed": "MF"}.get(
                    lh, "EBF" if trop else "MF")
        if cls is None:
            cls = grid_cls[n]
        out[n] = cls
    return apply_tundra_rule(out, lat)

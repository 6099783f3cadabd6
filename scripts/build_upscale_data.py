#!/usr/bin/env python
"""Build the small data files shipped with ``pysoc.upscale`` from the project's source data.

Usage::

    python scripts/build_upscale_data.py --srdb DIR_WITH_srdb-data.csv \
        --matched DIR_WITH_srdb_filtered.csv --grid PATH/global_covariates.nc \
        [--isimip DIR_WITH_isimip_annual_global_gpp.csv] [--factor 2]

Writes (paths inside the repository):

- ``pysoc/data/srdb/srdb_rh_records.csv``  every SRDB record with ``Rh_annual`` (selected columns,
  whitespace stripped) — the input of the filters;
- ``pysoc/data/srdb/srdb_rh_filtered.csv`` the same after the study's filters (default options);
- ``pysoc/data/srdb/srdb_rh_matched.csv``  the ``Rh_annual`` rows of the rh-changes matched table
  (selected predictor columns, keyed by ``Record_number``);
- ``pysoc/data/grids/upscale_covariates_1deg.nc`` the 0.5° covariate grid block-aggregated by
  ``--factor`` (2 -> 1°), only the variables the upscaling uses;
- ``pysoc/data/upscale/twobox_example.csv`` the worked 2-box example (needs ``--isimip``).

The source directories are given on the command line; nothing here has a default location.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from pysoc.io.atomic import atomic_path
from pysoc.upscale.srdb import KEEP_COLUMNS, apply_filters, read_srdb
from pysoc.upscale.predictors import IGBP_TO_VEG, VEG_BASE_CLASSES

REPO = Path(__file__).resolve().parent.parent
R_EARTH = 6_371_007.2

#: the 19 bioclimatic variables (dismo::biovars): index, grid variable, units, long name
BIOCLIM = [
    (1, "mat", "degC", "annual mean temperature"), (2, "bio2", "degC", "mean diurnal range"),
    (3, "bio3", "%", "isothermality (BIO2/BIO7 x 100)"), (4, "bio4", "degC*100", "temperature seasonality (sd x 100)"),
    (5, "bio5", "degC", "max temperature of the warmest month"), (6, "bio6", "degC", "min temperature of the coldest month"),
    (7, "bio7", "degC", "temperature annual range"), (8, "bio8", "degC", "mean temperature of the wettest quarter"),
    (9, "bio9", "degC", "mean temperature of the driest quarter"),
    (10, "bio10", "degC", "mean temperature of the warmest quarter"),
    (11, "bio11", "degC", "mean temperature of the coldest quarter"), (12, "map", "mm", "annual precipitation"),
    (13, "bio13", "mm", "precipitation of the wettest month"), (14, "bio14", "mm", "precipitation of the driest month"),
    (15, "bio15", "%", "precipitation seasonality (coefficient of variation)"),
    (16, "bio16", "mm", "precipitation of the wettest quarter"), (17, "bio17", "mm", "precipitation of the driest quarter"),
    (18, "bio18", "mm", "precipitation of the warmest quarter"), (19, "bio19", "mm", "precipitation of the coldest quarter"),
]

MATCHED_KEEP = ["Record_number", "Latitude", "Longitude", "Study_midyear", "Rh_annual",
                "mat_hadcrut4", "map_hadcrut4", "pet", "SOC", "sm", "gpp_beer", "gpp_modis"]


def build_srdb(srdb_dir: Path, matched_dir: Path) -> None:
    out = REPO / "pysoc/data/srdb"
    out.mkdir(parents=True, exist_ok=True)
    df = read_srdb(srdb_dir / "srdb-data.csv")
    rh = df[df["Rh_annual"].notna()]
    rh = rh[[c for c in KEEP_COLUMNS if c in rh.columns]]
    rh.to_csv(out / "srdb_rh_records.csv", index=False)
    filt, rep = apply_filters(rh)
    filt.to_csv(out / "srdb_rh_filtered.csv", index=False)
    print("\n".join(rep.lines()))
    m = pd.read_csv(matched_dir / "srdb_filtered.csv", low_memory=False)
    m = m[m["Rh_annual"].notna()][MATCHED_KEEP]
    m.to_csv(out / "srdb_rh_matched.csv", index=False)
    shutil.copyfile(srdb_dir / "LICENSE.txt", out / "LICENSE.txt")
    print(f"wrote {len(rh)} Rh records, {len(filt)} filtered, {len(m)} matched rows")


def _block(a: np.ndarray, f: int) -> np.ndarray:
    """(..., nlat, nlon) -> (..., nlat/f, nlon/f, f*f)"""
    *lead, ny, nx = a.shape
    b = a.reshape(*lead, ny // f, f, nx // f, f)
    b = np.moveaxis(b, -3, -2)
    return b.reshape(*lead, ny // f, nx // f, f * f)


class _Aggregator:
    """Block aggregation of the 0.5 deg source grid by ``factor``."""

    def __init__(self, src: xr.Dataset, factor: int):
        self.src, self.f = src, factor
        self.res = 0.5 * factor
        self.lat = src["lat"].values.reshape(-1, factor).mean(axis=1)
        self.lon = src["lon"].values.reshape(-1, factor).mean(axis=1)
        self.A = _block(src["cell_area"].values.astype(np.float64), factor)
        self.Atot = self.A.sum(-1)
        self.land = (src["landmask_isimip"].values == 1).astype(np.float64)
        self.common = (f"{factor}x{factor} block aggregation of the 0.5 deg file global_covariates.nc "
                       f"(see pysoc/data/grids/SOURCE.md)")

    def share(self, x: np.ndarray) -> np.ndarray:
        """Area-weighted sum over the sub-cells of x (a fraction field) divided by the cell area."""
        return (self.A * _block(x, self.f)).sum(-1) / self.Atot

    def mean_valid(self, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        x = x.astype(np.float64)
        ok = np.isfinite(x) & (x > -9990)
        if mask is not None:
            ok &= mask > 0
        w = self.A * _block(ok.astype(np.float64), self.f)
        s = (w * _block(np.where(ok, x, 0.0), self.f)).sum(-1)
        ws = w.sum(-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(ws > 0, s / ws, np.nan).astype(np.float32)

    def put(self, out: xr.Dataset, name: str, data: np.ndarray, like: str, **extra) -> None:
        attrs = {k: v for k, v in self.src[like].attrs.items() if k in ("units", "long_name", "standard_name",
                                                                          "source", "license", "references")}
        attrs.update(extra)
        attrs["comment"] = (attrs.get("comment", "") + " " + self.common + "; mean over valid sub-cells").strip()
        out[name] = (("lat", "lon"), data, attrs)


def _base_fields(g: _Aggregator) -> xr.Dataset:
    """Coordinates, bounds, cell area, land and vegetated fractions."""
    src, res, lat, lon = g.src, g.res, g.lat, g.lon
    latb = np.stack([lat - res / 2, lat + res / 2], axis=1)
    lonb = np.stack([lon - res / 2, lon + res / 2], axis=1)
    area = (R_EARTH**2 * np.deg2rad(res)
            * (np.sin(np.deg2rad(latb[:, 1])) - np.sin(np.deg2rad(latb[:, 0]))))[:, None] * np.ones(lon.size)
    lf = np.nan_to_num(src["land_fraction_modis"].values.astype(np.float64))
    igbp = np.nan_to_num(src["igbp_fraction"].values.astype(np.float64))  # (17, lat, lon)
    vegetated = igbp[[k for k, v in IGBP_TO_VEG.items() if v is not None]].sum(0)
    out = xr.Dataset(coords={
        "lat": ("lat", lat, {"units": "degrees_north", "standard_name": "latitude",
                             "long_name": "latitude", "bounds": "lat_bnds", "axis": "Y"}),
        "lon": ("lon", lon, {"units": "degrees_east", "standard_name": "longitude",
                             "long_name": "longitude", "bounds": "lon_bnds", "axis": "X"}),
    })
    out["lat_bnds"] = (("lat", "nv"), latb)
    out["lon_bnds"] = (("lon", "nv"), lonb)
    out["cell_area"] = (("lat", "lon"), area.astype(np.float64), {
        "units": "m2", "long_name": "area of grid cell", "standard_name": "cell_area",
        "comment": f"spherical Earth R = {R_EARTH} m"})
    out["land_fraction"] = (("lat", "lon"), g.share(g.land * lf).astype(np.float32), {
        "units": "1", "long_name": "land fraction (ISIMIP land mask x MODIS MCD12C1 2019 non-water fraction)",
        "standard_name": "land_area_fraction",
        "comment": "area-weighted mean over the 0.5 deg sub-cells of landmask_isimip*land_fraction_modis; "
                   "Antarctica excluded (no ISIMIP climate). " + g.common,
        "source": src["land_fraction_modis"].attrs["source"] + "; " + src["landmask_isimip"].attrs["source"],
        "license": src["land_fraction_modis"].attrs["license"]})
    out["vegetated_fraction"] = (("lat", "lon"), g.share(g.land * vegetated).astype(np.float32), {
        "units": "1", "long_name": "vegetated land fraction (IGBP classes 1-12 and 14 inside the ISIMIP land mask)",
        "comment": "excludes water (0), urban (13), snow/ice (15) and barren (16), standing in for the "
                   "study's NDVI < 0.1 mask. " + g.common,
        "source": src["igbp_fraction"].attrs["source"], "license": src["igbp_fraction"].attrs["license"]})
    return out


def _classes(out: xr.Dataset, g: _Aggregator) -> xr.Dataset:
    """Vegetation-class shares (study classes, before the tundra rule) and the Koppen class."""
    src = g.src
    igbp = np.nan_to_num(src["igbp_fraction"].values.astype(np.float64))
    vf = np.zeros((len(VEG_BASE_CLASSES),) + g.Atot.shape)
    for code, cls in IGBP_TO_VEG.items():
        if cls is not None:
            vf[VEG_BASE_CLASSES.index(cls)] += (g.A * _block(g.land * igbp[code], g.f)).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        vsum = vf.sum(0)
        vf = np.where(vsum > 0, vf / np.where(vsum > 0, vsum, 1), 0.0)
    out = out.assign_coords(veg_class=("veg_class", np.arange(1, len(VEG_BASE_CLASSES) + 1, dtype=np.int8),
                                       {"long_name": "vegetation class index",
                                        "flag_values": np.arange(1, len(VEG_BASE_CLASSES) + 1, dtype=np.int8),
                                        "flag_meanings": " ".join(VEG_BASE_CLASSES)}))
    out["veg_fraction"] = (("veg_class", "lat", "lon"), vf.astype(np.float32), {
        "units": "1", "long_name": "share of the vegetated land of the cell in each study vegetation class",
        "comment": "IGBP -> class: 1 ENF, 2 EBF, 3 DNF, 4 DBF, 5 MF, 6-7 Shrub, 8-9 Savanna, 10 Grassland, "
                   "11 Wetland, 12 and 14 Crop (the tundra rule, >55N, is applied by pysoc at run time). " + g.common,
        "source": src["igbp_fraction"].attrs["source"], "license": src["igbp_fraction"].attrs["license"],
        "references": "Friedl & Sulla-Menashe (2015) doi:10.5067/MODIS/MCD12C1.006"})
    kf = np.nan_to_num(src["koppen_main_fraction"].values.astype(np.float64))
    kagg = np.stack([(g.A * _block(kf[i] * np.nan_to_num(src["koppen_land_fraction"].values), g.f)).sum(-1)
                     for i in range(5)])
    out["koppen_main_class"] = (("lat", "lon"), np.where(kagg.sum(0) > 0, kagg.argmax(0) + 1, 0).astype(np.int8), {
        "long_name": "majority Koppen-Geiger main climate group", "flag_values": np.arange(6, dtype=np.int8),
        "flag_meanings": "none A_tropical B_arid C_temperate D_cold E_polar",
        "comment": "class with the largest aggregated pixel share. " + g.common,
        "source": src["koppen_main_class"].attrs["source"], "license": src["koppen_main_class"].attrs["license"],
        "references": src["koppen_main_class"].attrs.get("references", "")})
    return out


def _climate_soil(out: xr.Dataset, g: _Aggregator) -> None:
    """The 19 bioclimatic variables (climate over ISIMIP land only), soil and biomass."""
    src = g.src
    g.put(out, "mat", g.mean_valid(src["mat"].values, g.land), "mat")
    g.put(out, "map", g.mean_valid(src["map"].values, g.land), "map")
    bio = src["bioclim"].values
    for idx, name, units, ln in BIOCLIM:
        if name not in ("mat", "map"):
            g.put(out, name, g.mean_valid(bio[idx - 1], g.land), "bioclim", units=units,
                  long_name=f"{ln} (BIO{idx}), 1980-2009")
    for v in ("clay_sg_5cm", "bulk_density_sg_5cm", "soc_stock_sg_5_15cm", "agb_carbon_2010",
              "bgb_carbon_2010", "sand_fraction_testbed", "silt_fraction_testbed", "clay_fraction_testbed"):
        g.put(out, v, g.mean_valid(src[v].values), v)


def build_grid(grid_path: Path, factor: int) -> None:
    g = _Aggregator(xr.open_dataset(grid_path), factor)
    out = _classes(_base_fields(g), g)
    _climate_soil(out, g)
    out.attrs = {
        "Conventions": "CF-1.8",
        "title": f"Coarse ({g.res:g} deg) covariates for pysoc Rh upscaling",
        "institution": "pysoc; compiled from public datasets (see per-variable source/license and SOURCE.md)",
        "source": f"block aggregation ({factor}x{factor}) of global_covariates.nc (0.5 deg)",
        "history": "built by scripts/build_upscale_data.py",
        "missing_value_convention": "float variables NaN (_FillValue -9999) where no valid sub-cell",
    }
    enc = {v: {"zlib": True, "complevel": 9} for v in out.data_vars}
    for v in out.data_vars:
        if out[v].dtype.kind == "f" and v not in ("lat_bnds", "lon_bnds"):
            enc[v]["_FillValue"] = -9999.0
            if v not in ("cell_area",):
                enc[v]["dtype"] = "float32"
    for v in ("lat_bnds", "lon_bnds", "koppen_main_class"):
        enc[v]["_FillValue"] = None
    for c in ("lat", "lon", "veg_class"):
        enc[c] = {"_FillValue": None}
    dst = REPO / "pysoc/data/grids" / f"upscale_covariates_{g.res:g}deg.nc"
    with atomic_path(dst) as tmp:              # a reader holding the old file keeps it intact
        out.to_netcdf(tmp, encoding=enc)
    print(f"wrote {dst} ({dst.stat().st_size / 1e6:.2f} MB); land area "
          f"{float((out.cell_area * out.land_fraction).sum()) / 1e12:.2f} Mkm2, vegetated "
          f"{float((out.cell_area * out.vegetated_fraction).sum()) / 1e12:.2f} Mkm2")


def build_twobox_example(isimip_dir: Path) -> None:
    from pysoc.upscale.twobox import make_example_table
    gpp = pd.read_csv(isimip_dir / "isimip_annual_global_gpp.csv")
    tab = make_example_table(gpp)
    dst = REPO / "pysoc/data/upscale/twobox_example.csv"
    dst.parent.mkdir(parents=True, exist_ok=True)
    tab.to_csv(dst, index=False, float_format="%.5g")
    print(f"wrote {dst} ({len(tab)} rows, models {sorted(tab.model.unique())})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--srdb", type=Path, help="folder with srdb-data.csv and LICENSE.txt")
    ap.add_argument("--matched", type=Path, help="folder with srdb_filtered.csv (rh-changes)")
    ap.add_argument("--grid", type=Path, help="global_covariates.nc (0.5 deg)")
    ap.add_argument("--isimip", type=Path, help="folder with isimip_annual_global_gpp.csv")
    ap.add_argument("--factor", type=int, default=2, help="block size in 0.5-deg cells (2 -> 1 deg)")
    a = ap.parse_args()
    if a.srdb and a.matched:
        build_srdb(a.srdb, a.matched)
    if a.grid:
        build_grid(a.grid, a.factor)
    if a.isimip:
        build_twobox_example(a.isimip)


if __name__ == "__main__":
    main()

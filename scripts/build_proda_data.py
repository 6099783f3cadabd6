"""Build the coarse covariate grid shipped for PRODA (pysoc/data/proda/proda_covariates_2deg.nc)
from the 0.5-degree global covariate file (layout of global_covariates.nc).

Usage: python scripts/build_proda_data.py GLOBAL_COVARIATES_NC [OUT_NC] [--factor 4]

Aggregation of factor x factor blocks of 0.5-degree cells (factor 4 -> 2 degrees):
- cell_area: sum; landmask_isimip: 1 when any sub-cell is land;
- land_fraction_modis: sum over land sub-cells of (area x land fraction) / block area, so the
  land area (cell_area x land_fraction_modis) of the coarse grid equals the land area of
  the land cells of the fine grid;
- continuous covariates (bioclim, soil, biomass, texture) and koppen_main_fraction: mean over
  the land sub-cells with a value, weighted by their land area (NaN when none has a value);
- igbp_fraction: area-weighted mean over all sub-cells (still sums to 1); igbp_majority:
  class 1-16 with the largest aggregated fraction (0 when the block has no land).
Variable attributes (source, licence, references) are copied and the aggregation noted.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import xarray as xr

ROOT = Path(__file__).resolve().parent.parent
CONTINUOUS = ("clay_sg_5cm", "bulk_density_sg_5cm", "soc_stock_sg_5_15cm", "agb_carbon_2010", "bgb_carbon_2010",
              "sand_fraction_testbed")


def blocks(a: np.ndarray, f: int) -> np.ndarray:
    """(..., nlat, nlon) -> (..., nlat/f, nlon/f, f*f)."""
    *lead, ny, nx = a.shape
    b = a.reshape(*lead, ny // f, f, nx // f, f)
    b = np.moveaxis(b, -3, -2)
    return b.reshape(*lead, ny // f, nx // f, f * f)


def wmean(v: np.ndarray, w: np.ndarray, f: int) -> np.ndarray:
    vb, wb = blocks(v, f), blocks(np.broadcast_to(w, v.shape), f)
    ok = np.isfinite(vb) & (wb > 0)
    ws = np.where(ok, wb, 0.0).sum(axis=-1)
    s = np.where(ok, vb * wb, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ws > 0, s / ws, np.nan)


def build(src: Path, f: int) -> xr.Dataset:
    ds = xr.open_dataset(src)
    area = ds["cell_area"].values.astype(float)
    lf = np.nan_to_num(ds["land_fraction_modis"].values.astype(float))
    mask = ds["landmask_isimip"].values == 1
    w_land = np.where(mask, area * lf, 0.0)
    lat = ds["lat"].values.reshape(-1, f).mean(axis=1)
    lon = ds["lon"].values.reshape(-1, f).mean(axis=1)
    lat_b = np.stack([ds["lat_bnds"].values[::f, 0], ds["lat_bnds"].values[f - 1::f, 1]], axis=1)
    lon_b = np.stack([ds["lon_bnds"].values[::f, 0], ds["lon_bnds"].values[f - 1::f, 1]], axis=1)
    out = xr.Dataset(coords={"lat": ("lat", lat, ds["lat"].attrs), "lon": ("lon", lon, ds["lon"].attrs),
                             "igbp_class": ds["igbp_class"], "koppen_class": ds["koppen_class"],
                             "bioclim_index": ds["bioclim_index"]})
    out["lat_bnds"] = (("lat", "nv"), lat_b)
    out["lon_bnds"] = (("lon", "nv"), lon_b)
    note = f"aggregated from 0.5 deg to {0.5 * f:g} deg by scripts/build_proda_data.py"

    def attrs(name, comment):
        a = {k: v for k, v in ds[name].attrs.items() if k not in ("_FillValue",)}
        a["comment"] = (a.get("comment", "") + " | " if a.get("comment") else "") + f"{note}: {comment}"
        return a

    carea = blocks(area, f).sum(axis=-1)
    out["cell_area"] = (("lat", "lon"), carea, attrs("cell_area", "sum of the sub-cell areas"))
    land_area = blocks(w_land, f).sum(axis=-1)
    out["land_fraction_modis"] = (("lat", "lon"), (land_area / carea).astype(np.float32),
                                  attrs("land_fraction_modis", "land area of the ISIMIP land sub-cells / cell area"))
    out["landmask_isimip"] = (("lat", "lon"), (blocks(mask, f).any(axis=-1)).astype(np.int8),
                              attrs("landmask_isimip", "1 when any sub-cell is land"))
    for v in CONTINUOUS:
        out[v] = (("lat", "lon"), wmean(ds[v].values.astype(float), w_land, f).astype(np.float32),
                  attrs(v, "land-area-weighted mean of the land sub-cells with a value"))
    bio = np.stack([wmean(ds["bioclim"].values[i].astype(float), w_land, f) for i in range(ds.sizes["bioclim_index"])])
    out["bioclim"] = (("bioclim_index", "lat", "lon"), bio.astype(np.float32),
                      attrs("bioclim", "land-area-weighted mean of the land sub-cells"))
    kf = np.stack([wmean(ds["koppen_main_fraction"].values[i].astype(float), w_land, f)
                   for i in range(ds.sizes["koppen_class"])])
    out["koppen_main_fraction"] = (("koppen_class", "lat", "lon"), kf.astype(np.float32),
                                   attrs("koppen_main_fraction", "land-area-weighted mean of the land sub-cells"))
    igf = np.stack([wmean(np.nan_to_num(ds["igbp_fraction"].values[i].astype(float)), area, f)
                    for i in range(ds.sizes["igbp_class"])])
    out["igbp_fraction"] = (("igbp_class", "lat", "lon"), igf.astype(np.float32),
                            attrs("igbp_fraction", "area-weighted mean of all sub-cells"))
    land_classes = igf[1:]
    maj = np.where(land_classes.sum(axis=0) > 0, np.argmax(land_classes, axis=0) + 1, 0).astype(np.int8)
    out["igbp_majority"] = (("lat", "lon"), maj, attrs("igbp_majority", "class with the largest aggregated "
                                                                        "fraction among classes 1-16"))
    out.attrs = {k: v for k, v in ds.attrs.items()}
    out.attrs["title"] = f"Coarse ({0.5 * f:g} deg) environmental covariates for pysoc PRODA"
    out.attrs["history"] = f"{ds.attrs.get('history', '')}; {note}"
    out.attrs["grid"] = f"regular lat-lon, {0.5 * f:g} deg"
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src", type=Path)
    ap.add_argument("out", type=Path, nargs="?", default=ROOT / "pysoc/data/proda/proda_covariates_2deg.nc")
    ap.add_argument("--factor", type=int, default=4)
    a = ap.parse_args()
    ds = build(a.src, a.factor)
    enc = {v: {"zlib": True, "complevel": 9} for v in ds.data_vars}
    for v in ds.data_vars:
        if ds[v].dtype.kind == "f":
            enc[v]["_FillValue"] = np.float32(-9999.0) if ds[v].dtype == np.float32 else -9999.0
            if ds[v].dtype == np.float32:
                enc[v]["least_significant_digit"] = 4
    for c in ("lat", "lon"):
        enc[c] = {"_FillValue": None}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    ds.to_netcdf(a.out, encoding=enc, format="NETCDF4")
    print(f"wrote {a.out} ({a.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()

"""Outputs of ``pysoc-proda``: the CF-1.8 map file and the CSV tables.

Map file ``<run_name>_maps.nc`` (lat, lon grid of the covariate file; ocean and masked
cells are NaN, ``cell_status`` says why):

- ``soc_stock`` (depth_interval, lat, lon), kg C m-2: best-guess network;
- ``soc_stock_boot_mean`` / ``_sd`` / ``_p05`` / ``_p95``: bootstrap ensemble trained on
  posterior means (PRODA); ``soc_stock_draws_*``: ensemble trained on posterior draws;
- one variable per model parameter (physical units; best guess), ``<name>_boot_sd``;
- system components ``cte``, ``k_system``, ``xi_system``, ``v_system``, ``b_system`` (best
  guess; ``*_boot_sd`` when computed for the members) and ``litter_input`` (g C m-2 yr-1);
- ``land_area`` (m2) used for the totals; ``soc_total`` (depth_interval), Pg C, and the
  member totals ``soc_total_boot`` / ``soc_total_draws`` (member, depth_interval).
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

import pysoc
from pysoc.forcing import write_netcdf_atomic
from pysoc.io.atomic import write_csv  # noqa: F401  (the one CSV writer; pysoc.proda.output.write_csv)
from pysoc.proda.components import COMPONENTS
from pysoc.proda.gridrun import area_total_pg

CELL_STATUS = {"flag_values": np.array([0, 1, 2, 3, 4, 5], np.int8),
               "flag_meanings": "not_land modelled masked_missing_covariates kernel_failed ice_sheet outside_region",
               "long_name": "status of the grid cell in the PRODA run", "units": "1"}


def to_map(grid, cells: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Scatter per-cell values (..., ncell) onto the (..., nlat, nlon) grid (NaN elsewhere)."""
    values = np.asarray(values, float)
    out = np.full(values.shape[:-1] + grid.shape, np.nan)
    out[..., grid.ilat[cells], grid.ilon[cells]] = values
    return out


def ensemble_quantile(a, q):
    """``np.nanquantile(a, q, axis=0)``, bitwise, without its per-column Python loop where a
    column has no NaN (np.quantile on all columns, nanquantile only on those with a NaN)."""
    import warnings

    a = np.asarray(a, dtype=float)
    if not a.shape[0]:
        return np.full(a.shape[1:], np.nan)
    out = np.quantile(a, q, axis=0)
    bad = np.isnan(a).any(axis=0)
    if bad.any():
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            out[bad] = np.nanquantile(a[:, bad], q, axis=0)
    return out


def maps_dataset(model, table, best, labels, intervals, boot=None, draws=None, post=None, attrs=None) -> xr.Dataset:
    """Assemble the map dataset (module docstring) from the gathered runs."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # all-NaN cells of failed members
        return _maps_dataset(model, table, best, labels, intervals, boot, draws, post, attrs)


def _maps_dataset(model, table, best, labels, intervals, boot, draws, post, attrs) -> xr.Dataset:
    grid = table.grid
    cells = table.cells
    lat = xr.DataArray(grid.lat, dims="lat", attrs={"units": "degrees_north", "standard_name": "latitude",
                                                     "long_name": "latitude"})
    lon = xr.DataArray(grid.lon, dims="lon", attrs={"units": "degrees_east", "standard_name": "longitude",
                                                     "long_name": "longitude"})
    intervals = np.asarray(intervals, float)
    ds = xr.Dataset(coords={"lat": lat, "lon": lon,
                            "depth_interval": ("depth_interval", intervals[:, 1], {
                                "units": "m", "positive": "down", "standard_name": "depth", "axis": "Z",
                                "bounds": "depth_interval_bnds",
                                "long_name": "bottom of the depth interval (the stock is over its bounds)"})})
    ds["depth_interval_bnds"] = (("depth_interval", "nv"), intervals, {
        "units": "m", "long_name": "top and bottom of the depth interval"})
    ds["depth_interval_label"] = (("depth_interval",), np.array(labels, dtype=object), {
        "long_name": "depth interval"})
    gds = grid.ds
    if "lat_bnds" in gds and "lon_bnds" in gds:
        ds["lat"].attrs["bounds"] = "lat_bnds"
        ds["lon"].attrs["bounds"] = "lon_bnds"
        ds["lat_bnds"] = (("lat", "nv"), np.asarray(gds["lat_bnds"].values, float), {"units": "degrees_north"})
        ds["lon_bnds"] = (("lon", "nv"), np.asarray(gds["lon_bnds"].values, float), {"units": "degrees_east"})
    ok_best = np.asarray(best.status) == 0
    status = np.zeros(grid.shape, np.int8)
    status[grid.ilat, grid.ilon] = 5
    status[grid.ilat[table.masked], grid.ilon[table.masked]] = 2
    status[grid.ilat[table.ice], grid.ilon[table.ice]] = 4
    status[grid.ilat[cells], grid.ilon[cells]] = np.where(ok_best, 1, 3)
    ds["cell_status"] = (("lat", "lon"), status, CELL_STATUS)
    area = np.zeros(grid.shape)
    area[grid.ilat, grid.ilon] = grid.land_area
    ds["land_area"] = (("lat", "lon"), np.where(area > 0, area, np.nan), {
        "units": "m2", "standard_name": "cell_area", "long_name": "land area of the cell (cell area x land fraction)"})
    sv = np.asarray(best.stocks, float).T                                 # (nint, ncell)
    ds["soc_stock"] = (("depth_interval", "lat", "lon"), to_map(grid, cells, sv), {
        "units": "kg m-2", "long_name": "SOC stock (best-guess network)",
        "standard_name": "soil_mass_content_of_carbon", "comment": "carbon mass per m2 of land"})
    a = table.area
    ds["soc_total"] = (("depth_interval",), area_total_pg(sv, a), {
        "units": "Pg", "long_name": "global SOC stock of the modelled cells (best guess)"})
    for name, run in (("boot", boot), ("draws", draws)):
        if run is None:
            continue
        st = np.asarray(run.stocks, float)                                # (member, nint, ncell)
        what = "posterior means" if name == "boot" else "posterior draws"
        for stat, arr in (("mean", np.nanmean(st, axis=0) if st.shape[0] else None),
                          ("sd", np.nanstd(st, axis=0, ddof=1) if st.shape[0] > 1 else None),
                          ("p05", ensemble_quantile(st, 0.05)), ("p95", ensemble_quantile(st, 0.95))):
            if arr is None:
                continue
            ds[f"soc_stock_{name}_{stat}"] = (("depth_interval", "lat", "lon"), to_map(grid, cells, arr), {
                "units": "kg m-2", "long_name": f"SOC stock, bootstrap {stat} (networks trained on {what})"})
        ds = ds.assign_coords({f"member_{name}": (f"member_{name}", np.asarray(run.members, np.int32), {
            "long_name": f"bootstrap member (networks trained on {what})", "units": "1"})})
        ds[f"soc_total_{name}"] = ((f"member_{name}", "depth_interval"), area_total_pg(st, a[None, None, :]), {
            "units": "Pg", "long_name": f"global SOC stock of each bootstrap member (trained on {what})"})
        if run.failed is not None:
            ds[f"failed_cells_{name}"] = ((f"member_{name}",), np.asarray(run.failed, np.int32), {
                "units": "1", "long_name": "cells where the kernel failed (left out of that member's total)"})
        if name == "boot" and run.theta_sd is not None:
            for j, spec in enumerate(model.parameters):
                ds[f"{spec.name}_boot_sd"] = (("lat", "lon"), to_map(grid, cells, run.theta_sd[:, j]), {
                    "units": spec.units, "long_name": f"{spec.description}: bootstrap standard deviation"})
        for k, v in run.components.items():
            ds[f"{k}_{name}_sd"] = (("lat", "lon"), to_map(grid, cells, np.nanstd(np.asarray(v, float), axis=0,
                                                                                  ddof=1)),
                                    {"units": COMPONENTS[k][0], "long_name": f"{COMPONENTS[k][1]}: bootstrap sd "
                                                                             f"(trained on {what})"})
    calibrated = set(post.param_names) if post is not None else set(model.parameters.names)
    for j, spec in enumerate(model.parameters):
        ds[spec.name] = (("lat", "lon"), to_map(grid, cells, best.theta[:, j]), {
            "units": spec.units, "long_name": spec.description + ("" if spec.name in calibrated else
                                                                  " (not calibrated: fixed)"),
            "prior_min": spec.prior_min, "prior_max": spec.prior_max})
    for k, (u, ln) in COMPONENTS.items():
        ds[k] = (("lat", "lon"), to_map(grid, cells, best.components[k]), {"units": u, "long_name": ln})
    ds["litter_input"] = (("lat", "lon"), to_map(grid, cells, best.npp), {
        "units": "g m-2 yr-1", "long_name": "plant carbon input to the soil (litter input = Miami NPP)"})
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    ds.attrs.update({"Conventions": "CF-1.8", "title": f"PRODA {model.name} maps", "institution": "pysoc",
                     "source": f"pysoc {pysoc.__version__} (pysoc-proda)", "history": f"{now} created by pysoc-proda",
                     "references": "Tao et al. 2020 Front. Big Data (seed 002); Tao et al. 2024 GCB (seed 001)",
                     "model": model.name, "covariate_grid": str(grid.path)})
    for k, v in (attrs or {}).items():
        ds.attrs[k] = v if isinstance(v, (int, float, str)) else str(v)
    return ds


def interval_label(ds, i: int) -> str:
    """Text label ('0-100 cm') of depth interval ``i`` of a map file (older files: the coordinate)."""
    if "depth_interval_label" in ds:
        return str(ds["depth_interval_label"].values[i])
    return str(ds["depth_interval"].values[i])


def zonal_mean(ds, field: np.ndarray) -> np.ndarray:
    """Area-weighted mean over longitude per latitude row of (..., lat, lon) fields."""
    a = np.nan_to_num(ds["land_area"].values)
    v = np.asarray(field, float)
    w = np.where(np.isfinite(v), a, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nansum(np.nan_to_num(v) * w, axis=-1) / np.where(w.sum(axis=-1) > 0, w.sum(axis=-1), np.nan)


def load_dataset(path) -> xr.Dataset:
    """Read a NetCDF file fully into memory and close it (no lingering file handles:
    re-opening files whose handles are still cached can crash netCDF4/HDF5)."""
    with xr.open_dataset(path) as ds:
        return ds.load()


def write_maps(ds: xr.Dataset, path) -> Path:
    enc = {}
    for name, var in ds.data_vars.items():
        if var.dtype.kind == "f":
            enc[name] = {"zlib": True, "complevel": 4, "_FillValue": np.float32(np.nan) if var.ndim else None,
                         "dtype": "float32" if var.ndim >= 2 else "float64"}
    for name in ds.coords:
        if ds[name].dtype.kind == "f":
            enc[name] = {"_FillValue": None}
    for name in ("lat_bnds", "lon_bnds", "depth_interval_bnds"):
        if name in ds:
            enc[name] = {"_FillValue": None}
    return write_netcdf_atomic(ds, path, encoding=enc)


def totals_table(ds: xr.Dataset) -> pd.DataFrame:
    """Global totals (Pg C) per depth interval: best guess, bootstrap spread of both
    ensembles and the widening of the 5–95 % band by the posterior draws."""
    rows = []
    for i in range(ds.sizes["depth_interval"]):
        row = {"depth_interval": interval_label(ds, i), "best_pg": float(ds["soc_total"].values[i])}
        for name in ("boot", "draws"):
            v = f"soc_total_{name}"
            if v in ds and ds[v].shape[0]:
                t = np.asarray(ds[v].values[:, i], float)
                row[f"{name}_mean_pg"] = float(np.mean(t))
                row[f"{name}_median_pg"] = float(np.median(t))
                row[f"{name}_sd_pg"] = float(np.std(t, ddof=1)) if t.size > 1 else np.nan
                row[f"{name}_p05_pg"] = float(np.quantile(t, 0.05))
                row[f"{name}_p95_pg"] = float(np.quantile(t, 0.95))
        if "boot_sd_pg" in row and "draws_sd_pg" in row and row["boot_sd_pg"] > 0:
            row["widening_sd"] = row["draws_sd_pg"] / row["boot_sd_pg"]
            w0 = row["boot_p95_pg"] - row["boot_p05_pg"]
            row["widening_p05_p95"] = (row["draws_p95_pg"] - row["draws_p05_pg"]) / w0 if w0 > 0 else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def cell_widening(ds: xr.Dataset, interval: int = 1) -> dict:
    """Median over cells of the ratio of the per-cell bootstrap sd (draws / means)."""
    if "soc_stock_draws_sd" not in ds or "soc_stock_boot_sd" not in ds:
        return {}
    a = ds["soc_stock_boot_sd"].values[interval]
    b = ds["soc_stock_draws_sd"].values[interval]
    ok = np.isfinite(a) & np.isfinite(b) & (a > 0)
    if not ok.any():
        return {}
    r = b[ok] / a[ok]
    return {"median_cell_sd_ratio": float(np.median(r)), "p10_cell_sd_ratio": float(np.quantile(r, 0.1)),
            "p90_cell_sd_ratio": float(np.quantile(r, 0.9))}


# ---- comparison of two models (seed 001 Fig. 4) ---------------------------------------------------------
def compare_maps(path_a, path_b, interval: int = 1) -> pd.DataFrame:
    """Pearson correlation between two PRODA map files (e.g. CLM5 and COMPAS) over the cells
    modelled in both: SOC stock (log-transformed, as seed 001) of one depth interval and the
    system components."""
    from pysoc.errors import DataError

    dsa, dsb = load_dataset(path_a), load_dataset(path_b)
    for p, d in ((path_a, dsa), (path_b, dsb)):
        if "soc_stock" not in d:
            raise DataError(f"{p}: variable 'soc_stock' missing (not a pysoc-proda map file)")
    if dsa.sizes.get("lat") != dsb.sizes.get("lat") or dsa.sizes.get("lon") != dsb.sizes.get("lon") or \
            not np.allclose(dsa["lat"].values, dsb["lat"].values) or not np.allclose(dsa["lon"].values,
                                                                                       dsb["lon"].values):
        raise DataError(f"{path_b}: grid differs from {path_a}")
    rows = []
    items = [("soc_stock", "log10 SOC stock " + interval_label(dsa, interval))] + \
        [(k, COMPONENTS[k][1]) for k in COMPONENTS] + [("litter_input", "plant carbon input")]
    for var, desc in items:
        if var not in dsa or var not in dsb:
            continue
        a = dsa[var].values[interval] if var == "soc_stock" else dsa[var].values
        b = dsb[var].values[interval] if var == "soc_stock" else dsb[var].values
        if var == "soc_stock":
            with np.errstate(divide="ignore", invalid="ignore"):
                a, b = np.log10(np.where(a > 0, a, np.nan)), np.log10(np.where(b > 0, b, np.nan))
        ok = np.isfinite(a) & np.isfinite(b)
        r = float(np.corrcoef(a[ok], b[ok])[0, 1]) if ok.sum() > 2 and a[ok].std() > 0 and b[ok].std() > 0 \
            else np.nan
        rows.append(dict(variable=var, description=desc, n_cells=int(ok.sum()), pearson_r=r,
                         mean_a=float(np.mean(a[ok])) if ok.any() else np.nan,
                         mean_b=float(np.mean(b[ok])) if ok.any() else np.nan,
                         model_a=dsa.attrs.get("model", str(path_a)), model_b=dsb.attrs.get("model", str(path_b))))
    return pd.DataFrame(rows)

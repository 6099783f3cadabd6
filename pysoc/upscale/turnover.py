"""Soil carbon turnover time τ_soil = cSoil / Rh (seed 004 eq. 2; methods.md §4.5).

cSoil sources (namelist ``&turnover csoil_source``):

- ``'sg_5_15cm'``        SoilGrids250m SOC stock of the 5-15 cm layer as shipped on the grid.
                         This is ONE 10-cm layer, so τ is far below a 0-1 m value.
- ``'sg_5_15cm_scaled'`` the same layer scaled to 0-1 m by the ratio Σ SOC(0-1 m) / Σ SOC(5-15 cm)
                         at the SRDB Rh sites of the rh-changes matched table (its ``SOC`` column
                         is SoilGrids-1km 0-1 m, kg C m-2). A single global factor: crude, no litter.
- ``'file'``             a user-supplied 0-1 m (or other) cSoil NetCDF (``csoil_file``,
                         ``csoil_var``), units kg C m-2, g C m-2, Mg C ha-1 or t C ha-1; sampled to the
                         map grid by nearest neighbour when the grids differ.

The global mean τ is the ratio of the area-weighted totals Σ cSoil·A / Σ Rh·A over cells
where both are defined (the usual definition of a global turnover time); an area-weighted
median of the cell values is also reported. Cells with Rh below ``rh_min`` are excluded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from pysoc.errors import ConfigError, DataError

UNIT_TO_G_M2 = {"kg C m-2": 1000.0, "kg m-2": 1000.0, "kgC m-2": 1000.0, "kg C/m2": 1000.0,
                "g C m-2": 1.0, "g m-2": 1.0, "gC m-2": 1.0, "g C/m2": 1.0,
                "Mg ha-1": 100.0, "Mg C ha-1": 100.0, "MgC ha-1": 100.0, "t ha-1": 100.0, "t C ha-1": 100.0}


@dataclass
class CSoil:
    field_g_m2: np.ndarray   # (lat, lon) cSoil in g C m-2 (NaN where unknown)
    description: str
    scale: float = 1.0
    scale_sd: float = 0.0
    n_sites: int = 0


def scale_factor_from_sites(soc_1m_kg_m2: np.ndarray, soc_5_15_mg_ha: np.ndarray, n_boot: int = 500,
                            seed: int = 1) -> tuple[float, float, int]:
    """Ratio of sums Σ SOC(0-1 m) / Σ SOC(5-15 cm) with a site bootstrap SD."""
    a = np.asarray(soc_1m_kg_m2, float) * 1000.0
    b = np.asarray(soc_5_15_mg_ha, float) * 100.0
    ok = np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0)
    a, b = a[ok], b[ok]
    if a.size < 10:
        raise DataError(f"cSoil scaling: only {a.size} sites with both 0-1 m and 5-15 cm SOC (need >= 10)")
    ratio = a.sum() / b.sum()
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, a.size, size=(n_boot, a.size))
    boot = a[idx].sum(1) / b[idx].sum(1)
    return float(ratio), float(boot.std(ddof=1)), int(a.size)


def load_csoil_file(path: str | Path, var: str, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """cSoil from a NetCDF (lat, lon) field, converted to g C m-2, nearest-neighbour to the grid."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: cSoil file not found")
    try:
        ds = xr.open_dataset(path)
    except Exception as exc:
        raise DataError(f"{path}: cannot read the cSoil file ({exc})") from None
    if var not in ds:
        raise DataError(f"{path}: variable {var!r} not found (variables: {', '.join(map(str, ds.data_vars))})")
    da = ds[var].squeeze(drop=True)
    units = str(da.attrs.get("units", "")).strip()
    if units not in UNIT_TO_G_M2:
        raise DataError(f"{path}: {var} units {units!r} not one of {', '.join(sorted(set(UNIT_TO_G_M2)))}")
    latn = next((n for n in ("lat", "latitude", "y") if n in da.dims), None)
    lonn = next((n for n in ("lon", "longitude", "x") if n in da.dims), None)
    if latn is None or lonn is None or da.ndim != 2:
        raise DataError(f"{path}: {var} must be a 2-D (lat, lon) field, has dims {da.dims}")
    src_lon = da[lonn].values
    tgt_lon = np.where(lon < 0, lon + 360, lon) if src_lon.max() > 180 else lon
    out = da.sel({latn: xr.DataArray(lat, dims="lat"), lonn: xr.DataArray(tgt_lon, dims="lon")},
                 method="nearest").transpose("lat", "lon").values.astype(float)
    out = np.where(out < 0, np.nan, out) * UNIT_TO_G_M2[units]
    return out


def turnover_map(csoil_g_m2: np.ndarray, rh_g_m2_yr: np.ndarray, rh_min: float = 10.0) -> np.ndarray:
    """τ = cSoil / Rh in years where Rh >= rh_min and cSoil is known."""
    cs = np.asarray(csoil_g_m2, float)
    rh = np.asarray(rh_g_m2_yr, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = np.where(np.isfinite(cs) & np.isfinite(rh) & (rh >= rh_min), cs / rh, np.nan)
    return tau


def global_tau(csoil: np.ndarray, rh_members: np.ndarray, weight: np.ndarray, rh_min: float = 10.0,
               scale_rel_sd: float = 0.0, central: np.ndarray | None = None) -> dict[str, float]:
    """Global τ = Σ cSoil·A / Σ Rh·A over the cells where the central Rh (``central``, else
    the member mean) is at least ``rh_min``. The band combines the spread of τ over the Rh
    members with the relative SD of the cSoil scale factor: SD = hypot(SD_members, τ·rel),
    and 5-95 % = the member percentiles widened by the same factor."""
    rh_members = np.atleast_2d(np.asarray(rh_members, float))
    rh_c = rh_members.mean(0) if central is None else np.asarray(central, float)
    ok = np.isfinite(csoil) & np.isfinite(rh_c) & (rh_c >= rh_min) & (weight > 0)
    if not ok.any():
        raise DataError("turnover: no cell with both cSoil and Rh")
    cs_tot = float(np.sum(csoil[ok] * weight[ok]))
    tau = cs_tot / float(np.sum(rh_c[ok] * weight[ok]))
    members = np.array([cs_tot / float(np.sum(r[ok] * weight[ok])) for r in rh_members])
    sd_rh = float(members.std(ddof=1)) if len(members) > 1 else 0.0
    sd = float(np.hypot(sd_rh, tau * scale_rel_sd))
    if sd_rh > 0:
        lo, hi = np.percentile(members, [5, 95])
        p05, p95 = tau - (tau - lo) * sd / sd_rh, tau + (hi - tau) * sd / sd_rh
    else:
        p05, p95 = tau - 1.645 * sd, tau + 1.645 * sd
    cell = csoil[ok] / rh_c[ok]
    order = np.argsort(cell)
    cw = np.cumsum(weight[ok][order])
    median = float(cell[order][np.searchsorted(cw, 0.5 * cw[-1])])
    return {"tau_global_yr": tau, "tau_sd_yr": sd, "tau_sd_rh_yr": sd_rh, "tau_p05_yr": float(p05),
            "tau_p95_yr": float(p95), "tau_median_cell_yr": median, "csoil_total_PgC": cs_tot / 1e15,
            "area_m2": float(weight[ok].sum())}


def choose_csoil(source: str, grid, matched: pd.DataFrame | None, csoil_file: str = "", csoil_var: str = "",
                 max_km: float = 150.0, seed: int = 1) -> CSoil:
    """Build the cSoil field for the chosen source (see module doc)."""
    if source in ("sg_5_15cm", "sg_5_15cm_scaled"):
        layer = grid.predictor_field("SOC") * 100.0    # Mg C ha-1 -> g C m-2
        if source == "sg_5_15cm":
            return CSoil(layer, "SoilGrids250m 2017 SOC stock, 5-15 cm layer only (NOT 0-1 m)")
        if matched is None or "SOC" not in matched.columns:
            raise ConfigError("csoil_source='sg_5_15cm_scaled' needs the matched table with a SOC column "
                              "(&predictors matched_file)")
        m = matched[np.isfinite(pd.to_numeric(matched["SOC"], errors="coerce"))]
        s = grid.sample(m["Latitude"].to_numpy(float), m["Longitude"].to_numpy(float), ["SOC"], max_km)
        k, sd, n = scale_factor_from_sites(m["SOC"].to_numpy(float), s["SOC"].to_numpy(float), seed=seed)
        return CSoil(layer * k, f"SoilGrids250m 2017 5-15 cm SOC stock x {k:.2f} (0-1 m / 5-15 cm ratio of "
                     f"SoilGrids SOC at {n} SRDB sites, rh-changes matched table); no litter", k, sd, n)
    if source == "file":
        if not csoil_file or not csoil_var:
            raise ConfigError("csoil_source='file' needs csoil_file and csoil_var")
        return CSoil(load_csoil_file(csoil_file, csoil_var, grid.lat, grid.lon),
                     f"user cSoil {Path(csoil_file).name}:{csoil_var}")
    raise ConfigError(f"csoil_source {source!r} not one of 'sg_5_15cm', 'sg_5_15cm_scaled', 'file'")

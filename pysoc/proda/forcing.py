"""Forcing of grid cells for the CLM5 / COMPAS kernels, built with the approximations of
:mod:`pysoc.io.site_forcing` (the ones used for the site calibrations) from gridded
covariates, vectorised over cells.

Quantities per cell and their grid source (the site builder's covariate in brackets):

- MAT = BIO1 (``wc_bio01_mat_degC``), MAP = BIO12 (``wc_bio12_map_mm_yr``);
- seasonal amplitude from BIO4 (``wc_bio04_t_seasonality_degC_x100``), exactly as
  :func:`pysoc.io.site_forcing.seasonal_amplitude`;
- PET: no PET grid exists, so Holdridge PET from the monthly air temperature -- the
  site builder's fallback when a site has no PET covariate;
- NPP: Miami model (site builder default ``npp='miami'``);
- CWD share of the litter input from the IGBP majority class (``igbp_majority``) read as
  the MODIS land-cover name (site builder: ISRaD land cover, then the MODIS class);
- nbedrock = all layers (no bedrock grid); oxygen and nitrogen scalars 1.

The arrays are returned in the layout of ``model.prepare`` (the kernel layout), which the
tests check against ``model.prepare([site_forcing(model, pseudo_profile)])`` for the
same covariate values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pysoc.errors import ConfigError, DataError
from pysoc.io import site_forcing as sf

#: IGBP class code -> MODIS land-cover name (as in the ISRaD table / site_forcing.CWD_FRACTION)
IGBP_NAMES = {
    0: "water bodies", 1: "evergreen needleleaf forests", 2: "evergreen broadleaf forests",
    3: "deciduous needleleaf forests", 4: "deciduous broadleaf forests", 5: "mixed forests",
    6: "closed shrublands", 7: "open shrublands", 8: "woody savannas", 9: "savannas", 10: "grasslands",
    11: "permanent wetlands", 12: "cropland", 13: "urban and built-up lands",
    14: "cropland/natural vegetation mosaics", 15: "permanent snow and ice", 16: "barren",
}
#: the grid fields the forcing needs: name -> (grid variable, index along its extra dim)
GRID_FIELDS = {"mat": ("bioclim", 1), "map": ("bioclim", 12), "bio4": ("bioclim", 4),
               "igbp": ("igbp_majority", None)}
SUPPORTED = ("clm5", "compas")


@dataclass
class CellClimate:
    """Per-cell inputs of the forcing (1-D arrays over cells)."""

    lat: np.ndarray
    mat: np.ndarray
    map: np.ndarray
    bio4: np.ndarray
    igbp: np.ndarray
    attrs: dict = field(default_factory=dict)

    def __post_init__(self):
        n = np.asarray(self.lat).size
        for k in ("lat", "mat", "map", "bio4", "igbp"):
            v = np.asarray(getattr(self, k), dtype=float).reshape(-1)
            if v.size != n:
                raise DataError(f"cell climate: '{k}' has {v.size} values, expected {n}")
            setattr(self, k, v)

    @property
    def n(self) -> int:
        return int(self.lat.size)

    def subset(self, idx) -> CellClimate:
        return CellClimate(self.lat[idx], self.mat[idx], self.map[idx], self.bio4[idx], self.igbp[idx], self.attrs)

    def invalid(self) -> np.ndarray:
        """Cells whose climate cannot build a forcing (non-finite MAT/MAP/BIO4, MAP < 0)."""
        return ~(np.isfinite(self.mat) & np.isfinite(self.map) & np.isfinite(self.bio4) & (self.map >= 0))


def cell_climate(grid, cells: np.ndarray) -> CellClimate:
    """The forcing inputs of land cells ``cells`` (indices into ``grid``'s land cells)."""
    ds = grid.ds
    vals = {}
    for k, (var, idx) in GRID_FIELDS.items():
        if var not in ds.variables:
            raise DataError(f"{grid.path}: variable '{var}' missing from the covariate grid (needed for the "
                            f"model forcing: {k})")
        v = ds[var]
        if idx is not None:
            v = v.sel(bioclim_index=idx) if "bioclim_index" in v.dims else None
            if v is None:
                raise DataError(f"{grid.path}: variable '{var}' has no dimension 'bioclim_index'")
        f = np.asarray(v.transpose("lat", "lon").values, float)
        vals[k] = f[grid.ilat[cells], grid.ilon[cells]]
    return CellClimate(grid.cell_lat[cells], vals["mat"], vals["map"], vals["bio4"],
                       np.nan_to_num(vals["igbp"], nan=0.0), attrs={"grid": str(grid.path)})


def cwd_fractions(igbp: np.ndarray) -> np.ndarray:
    """CWD share of the litter input per cell from the IGBP class (site_forcing.cwd_fraction)."""
    out = np.empty(igbp.size)
    cache = {}
    for i, c in enumerate(np.asarray(igbp, int)):
        if c not in cache:
            cache[c] = sf.cwd_fraction({"modis_land_cover": IGBP_NAMES.get(int(c), "")})[0]
        out[i] = cache[c]
    return out


def prepared_forcing(model, clim: CellClimate) -> dict:
    """Kernel-layout forcing arrays (as ``model.prepare`` returns) for every cell."""
    if getattr(model, "name", None) not in SUPPORTED:
        raise ConfigError(f"grid forcing: model {getattr(model, 'name', model)!r} is not supported "
                          f"(supported: {', '.join(SUPPORTED)})")
    bad = clim.invalid()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"grid forcing: cell {i} (lat {clim.lat[i]:.2f}) has no valid climate (MAT, MAP, BIO4); "
                        f"mask such cells first")
    n = clim.n
    z = np.asarray(model.zsoi, float)
    zi = np.asarray(model.zisoi, float)
    nlev = z.size
    deep = float(zi[-1])
    amp = np.sqrt(2.0) * clim.bio4 / 100.0                            # seasonal_amplitude, BIO4 branch
    m = np.arange(1, 13, dtype=float)
    m_max = np.where(clim.lat >= 0, 7.0, 1.0)
    d = sf.DAMPING_DEPTH
    phase = 2.0 * np.pi * (m[None, :] - m_max[:, None]) / 12.0        # (n, 12)
    # soil_temperature: MAT + A exp(-z/d) cos(2 pi (m - m_max)/12 - z/d)
    tsoi = 273.15 + clim.mat[:, None, None] + amp[:, None, None] * np.exp(-z / d)[None, None, :] * \
        np.cos(phase[:, :, None] - (z / d)[None, None, :])                 # (n, 12, nlev)
    t_air = clim.mat[:, None] + amp[:, None] * np.cos(phase)               # (n, 12) at z = 0
    pet = sf.HOLDRIDGE * np.clip(t_air, 0.0, 30.0).mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        aridity = np.where(pet > 0, clim.map / pet, np.inf)
    w = sf.century_wfunc(aridity)
    npp = sf.miami_npp(clim.mat, clim.map)
    fcwd = cwd_fractions(clim.igbp)
    q = np.asarray(sf.LITTER_QUALITY)
    annual = npp[:, None] * np.column_stack([fcwd, (1.0 - fcwd)[:, None] * q[None, :]])   # (n, 4)
    alt = np.array([sf.active_layer_depth(float(t), float(a), deep) for t, a in zip(clim.mat, amp)])
    ones = np.ones((nlev, 12, n))
    out = {
        "tsoi": np.asfortranarray(np.transpose(tsoi, (2, 1, 0))),
        "w_scalar": np.asfortranarray(np.broadcast_to(w[None, None, :], (nlev, 12, n)).copy()),
        "o_scalar": np.asfortranarray(ones),
        "fpi": np.asfortranarray(ones.copy()),
        "litter_input": np.asfortranarray(np.broadcast_to((annual / 12.0).T[:, None, :], (4, 12, n)).copy()),
        "altmax": np.asfortranarray(np.broadcast_to(alt[None, :], (12, n)).copy()),
        "altmax_lastyear": np.asfortranarray(np.broadcast_to(alt[None, :], (12, n)).copy()),
        "nbedrock": np.full(n, nlev, dtype=np.int32),
        "nsite": n,
    }
    return out


def subset_prepared(prep: dict, idx) -> dict:
    """The prepared arrays of a subset of cells (site axis last)."""
    idx = np.asarray(idx)
    out = {}
    for k, v in prep.items():
        if k == "nsite":
            continue
        if k == "nbedrock":
            out[k] = np.asarray(v)[idx].astype(np.int32)
        else:
            out[k] = np.asfortranarray(np.asarray(v)[..., idx])
    out["nsite"] = int(idx.size)
    return out


def npp_of(prep: dict) -> np.ndarray:
    """Annual litter input (g C m-2 yr-1) per cell of prepared arrays."""
    return np.asarray(prep["litter_input"]).sum(axis=(0, 1))


class PseudoProfile:
    """A profile-like object carrying cell covariates under the site-table names, so that
    :func:`pysoc.io.site_forcing.site_forcing` can be applied to a grid cell (tests)."""

    def __init__(self, site_id, lat, lon, mat, map_, bio4, igbp):
        self.site_id, self.lat, self.lon = str(site_id), float(lat), float(lon)
        self.covariates = {"wc_bio01_mat_degC": float(mat), "wc_bio12_map_mm_yr": float(map_),
                           "wc_bio04_t_seasonality_degC_x100": float(bio4)}
        self.meta = {"modis_land_cover": IGBP_NAMES.get(int(igbp), "")}
        self.max_depth = 0.0

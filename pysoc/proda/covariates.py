"""Environmental covariates of PRODA: one explicit mapping table between the per-site
covariates of the profile table (ISRaD "extra" columns, :mod:`pysoc.io.israd`) and the
variables of the gridded covariate file (``global_covariates.nc`` layout, 0.5 degrees, or
the shipped coarse subset ``pkgdata:proda/proda_covariates_2deg.nc``).

Every PRODA covariate (:data:`COVARIATES`) states how its value is obtained

- at a site: a column (or a linear combination of columns) of the sites table, a class of a
  descriptive column (land cover, Koppen zone), the latitude, or -- for quantities the site
  table does not carry -- the value of the nearest valid grid cell (``AtSite``);
- on the grid: a variable (or an index of a variable, or a sum of class fractions).

Names never match implicitly: a covariate whose site column or grid variable is missing is
an error naming the file, the column/variable and the covariate. Values are never filled
silently: sites with a missing value are dropped (reported), grid cells with a missing
value are masked (reported) unless the caller asks for nearest-cell filling (reported).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from pysoc.errors import ConfigError, DataError
from pysoc.io import grid as _grid
from pysoc.io.grid import R_EARTH_KM  # noqa: F401  (re-exported)


# ---- site sources ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Col:
    """Column of the sites table times ``scale``."""

    column: str
    scale: float = 1.0

    def columns(self):
        return (self.column,)

    def text(self) -> str:
        return f"`{self.column}`" + (f" x {self.scale:g}" if self.scale != 1.0 else "")


@dataclass(frozen=True)
class Lin:
    """Linear combination sum(coef * column) of sites-table columns (all must be finite)."""

    terms: tuple[tuple[str, float], ...]

    def columns(self):
        return tuple(c for c, _ in self.terms)

    def text(self) -> str:
        return " + ".join(f"{w:g} x `{c}`" for c, w in self.terms)


@dataclass(frozen=True)
class Category:
    """1 when the descriptive column ``meta`` (lower case) is one of ``values``, else 0;
    missing when the column is empty (then ``fallback``: 'grid' samples the grid)."""

    meta: str
    values: tuple[str, ...]
    prefix: bool = False          #: match the first characters (Koppen zone letters)
    fallback: str = "grid"        #: 'grid' or 'none'

    def columns(self):
        return ()

    def text(self) -> str:
        how = "starts with" if self.prefix else "is"
        fb = "; grid cell at the site when empty" if self.fallback == "grid" else ""
        return f"`{self.meta}` {how} " + " / ".join(repr(v) for v in self.values) + fb


@dataclass(frozen=True)
class Latitude:
    def columns(self):
        return ()

    def text(self) -> str:
        return "site latitude"


@dataclass(frozen=True)
class AtSite:
    """Value of the grid covariate at the nearest valid grid cell of the site."""

    def columns(self):
        return ()

    def text(self) -> str:
        return "nearest valid grid cell"


# ---- grid sources --------------------------------------------------------------------------------
@dataclass(frozen=True)
class GVar:
    """Grid variable (lat, lon), or one index along an extra dimension."""

    var: str
    dim: str | None = None
    index: int | None = None

    def variables(self):
        return (self.var,)

    def text(self) -> str:
        return f"`{self.var}`" + (f"[{self.dim}={self.index}]" if self.dim else "")


@dataclass(frozen=True)
class GSum:
    """Sum of a class-fraction variable over several classes of dimension ``dim``."""

    var: str
    dim: str
    indices: tuple[int, ...]

    def variables(self):
        return (self.var,)

    def text(self) -> str:
        return f"sum of `{self.var}`[{self.dim}={','.join(map(str, self.indices))}]"


@dataclass(frozen=True)
class GLat:
    def variables(self):
        return ()

    def text(self) -> str:
        return "cell-centre latitude"


@dataclass(frozen=True)
class Covariate:
    name: str
    units: str
    group: str
    description: str
    site: object
    grid: object


def _bio(i: int, col: str, units: str, desc: str) -> Covariate:
    return Covariate(f"bio{i:02d}", units, "climate", f"{desc} (BIO{i})", Col(col), GVar("bioclim", "bioclim_index", i))


#: IGBP classes of MCD12C1 (igbp_class index) grouped into the land-cover covariates
IGBP_GROUPS = {
    "forest": (1, 2, 3, 4, 5),
    "shrubland": (6, 7),
    "savanna": (8, 9),
    "grassland": (10,),
    "cropland": (12, 14),
    "other": (11, 13, 15, 16),
}
#: MODIS land-cover names of the ISRaD table in each group (lower case)
MODIS_NAMES = {
    "forest": ("evergreen needleleaf forests", "evergreen broadleaf forests", "deciduous needleleaf forests",
               "deciduous broadleaf forests", "mixed forests"),
    "shrubland": ("closed shrublands", "open shrublands"),
    "savanna": ("woody savannas", "savannas"),
    "grassland": ("grasslands",),
    "cropland": ("croplands", "cropland", "cropland/natural vegetation mosaics"),
    "other": ("permanent wetlands", "urban and built-up lands", "permanent snow and ice", "barren",
              "snow and ice", "water bodies"),
}

#: The mapping table (docs/proda.md renders it). Units are those of both sides.
COVARIATES: tuple[Covariate, ...] = tuple(
    [
        _bio(1, "wc_bio01_mat_degC", "degC", "annual mean air temperature"),
        _bio(2, "wc_bio02_diurnal_range_degC", "degC", "mean diurnal range"),
        _bio(3, "wc_bio03_isothermality_percent", "%", "isothermality"),
        _bio(4, "wc_bio04_t_seasonality_degC_x100", "degC x 100", "temperature seasonality"),
        _bio(5, "wc_bio05_tmax_warmest_month_degC", "degC", "max temperature of the warmest month"),
        _bio(6, "wc_bio06_tmin_coldest_month_degC", "degC", "min temperature of the coldest month"),
        _bio(7, "wc_bio07_t_annual_range_degC", "degC", "temperature annual range"),
        _bio(8, "wc_bio08_t_wettest_quarter_degC", "degC", "mean temperature of the wettest quarter"),
        _bio(9, "wc_bio09_t_driest_quarter_degC", "degC", "mean temperature of the driest quarter"),
        _bio(10, "wc_bio10_t_warmest_quarter_degC", "degC", "mean temperature of the warmest quarter"),
        _bio(11, "wc_bio11_t_coldest_quarter_degC", "degC", "mean temperature of the coldest quarter"),
        _bio(12, "wc_bio12_map_mm_yr", "mm yr-1", "annual precipitation"),
        _bio(13, "wc_bio13_p_wettest_month_mm", "mm", "precipitation of the wettest month"),
        _bio(14, "wc_bio14_p_driest_month_mm", "mm", "precipitation of the driest month"),
        _bio(15, "wc_bio15_p_seasonality_cv_percent", "%", "precipitation seasonality"),
        _bio(16, "wc_bio16_p_wettest_quarter_mm", "mm", "precipitation of the wettest quarter"),
        _bio(17, "wc_bio17_p_driest_quarter_mm", "mm", "precipitation of the driest quarter"),
        _bio(18, "wc_bio18_p_warmest_quarter_mm", "mm", "precipitation of the warmest quarter"),
        _bio(19, "wc_bio19_p_coldest_quarter_mm", "mm", "precipitation of the coldest quarter"),
        Covariate("clay_5cm", "%", "soil", "clay content near 5 cm (site: mean of the 0 and 10 cm SoilGrids layers)",
                  Lin((("sg_clay_0cm_percent", 0.5), ("sg_clay_10cm_percent", 0.5))), GVar("clay_sg_5cm")),
        Covariate("bd_5cm", "g cm-3", "soil", "fine-earth bulk density near 5 cm (site: mean of 0 and 10 cm)",
                  Lin((("sg_bd_0cm_g_cm3", 0.5), ("sg_bd_10cm_g_cm3", 0.5))), GVar("bulk_density_sg_5cm")),
        Covariate("soc_stock_5_15cm", "Mg C ha-1", "soil",
                  "SoilGrids SOC stock of the 5-15 cm layer (site: 5 x stock 0-10 + 2.5 x stock 10-30 cm in "
                  "kg m-2, i.e. half of 0-10 cm plus a quarter of 10-30 cm, in Mg ha-1)",
                  Lin((("sg_cstock_0_10cm_kg_m2", 5.0), ("sg_cstock_10_30cm_kg_m2", 2.5))),
                  GVar("soc_stock_sg_5_15cm")),
        Covariate("sand_fraction", "1", "soil", "sand fraction of the CASA-CNP/MIMICS testbed texture grid",
                  AtSite(), GVar("sand_fraction_testbed")),
        Covariate("agb_carbon", "Mg C ha-1", "vegetation", "aboveground live biomass carbon 2010 (Spawn & Gibbs)",
                  AtSite(), GVar("agb_carbon_2010")),
        Covariate("bgb_carbon", "Mg C ha-1", "vegetation", "belowground live biomass carbon 2010 (Spawn & Gibbs)",
                  AtSite(), GVar("bgb_carbon_2010")),
    ]
    + [Covariate(f"lc_{g}", "1", "vegetation",
                 f"land cover {g} (site: MODIS class of the profile, 0/1; grid: MCD12C1 2019 area fraction)",
                 Category("modis_land_cover", MODIS_NAMES[g]), GSum("igbp_fraction", "igbp_class", IGBP_GROUPS[g]))
       for g in IGBP_GROUPS]
    + [Covariate(f"koppen_{z}", "1", "climate", f"Koppen-Geiger main group {z} (site: 0/1; grid: area fraction)",
                 Category("koppen", (z,), prefix=True), GVar("koppen_main_fraction", "koppen_class", i + 1))
       for i, z in enumerate("ABCDE")]
    + [Covariate("lat", "degrees_north", "geography", "latitude", Latitude(), GLat())]
)
COVARIATE_NAMES = tuple(c.name for c in COVARIATES)
_BY_NAME = {c.name: c for c in COVARIATES}

#: site-table covariates known but not usable on the grid (reported by ``usage_report``)
NOT_ON_GRID = {
    "cru_mat_degC": "CRU TS temperature: the grid carries GSWP3-W5E5 bioclim (BIO1 used instead)",
    "cru_map_mm_yr": "CRU TS precipitation: BIO12 used instead",
    "pet_mm_yr": "no open PET grid (grids/SOURCE.md)",
    "et0_gai3_mm_yr": "no open PET grid",
    "tc_soil_moisture_mm": "no soil-moisture grid",
    "gpp_fluxcom_gC_m2_d": "no usable GPP grid",
    "elevation_m": "no elevation grid",
    "mat_reported_degC": "study-reported, not gridded", "map_reported_mm_yr": "study-reported, not gridded",
    "bedrock_depth_cm": "study-reported, not gridded",
    "obs_sand_0_30cm_percent": "measured, not gridded", "obs_clay_0_30cm_percent": "measured, not gridded",
    "obs_ph_h2o_0_30cm": "measured, not gridded",
}


def resolve(names: Sequence[str] | None) -> tuple[Covariate, ...]:
    """The covariates named (all when None or empty); unknown names are a ConfigError."""
    names = [n.strip() for n in (names or []) if str(n).strip()]
    if not names:
        return COVARIATES
    out = []
    for n in names:
        if n not in _BY_NAME:
            raise ConfigError(f"unknown PRODA covariate {n!r} (known: {', '.join(COVARIATE_NAMES)})")
        out.append(_BY_NAME[n])
    if len(set(out)) != len(out):
        raise ConfigError("PRODA covariates: a covariate is listed twice")
    return tuple(out)


def mapping_markdown(covs: Sequence[Covariate] = COVARIATES) -> str:
    """The mapping table as Markdown (docs/proda.md)."""
    lines = ["| covariate | units | group | site (profile table) | grid (covariate NetCDF) |",
             "|---|---|---|---|---|"]
    for c in covs:
        lines.append(f"| `{c.name}` | {c.units} | {c.group} | {c.site.text()} | {c.grid.text()} |")
    return "\n".join(lines)


# ---- the covariate grid ----------------------------------------------------------------------------
class CovariateGrid(_grid.CovariateGrid):
    """The covariate grid of PRODA: a :class:`pysoc.io.grid.CovariateGrid` (reading, checks,
    the nearest-cell search) and its land cells.

    Land cells: ``land_mask_var`` == 1 (default ``landmask_isimip``) and positive land area.
    Land area of a cell = ``cell_area`` (m2) x ``land_fraction_var`` (default
    ``land_fraction_modis``).

    Parameters
    ----------
    path : str or pathlib.Path
        Covariate NetCDF (``global_covariates.nc`` layout).
    land_mask_var, land_fraction_var, area_var : str
        Variables of the land mask, the land fraction (1) and the cell area (m2).

    Raises
    ------
    DataError
        Missing or unreadable file, missing variable, negative areas, wrong area units, land
        fraction outside [0, 1] (one line naming the file and the variable).

    Examples
    --------
    >>> from pysoc.io.namelist import PKGDATA
    >>> g = CovariateGrid(PKGDATA / "proda" / "proda_covariates_2deg.nc")
    >>> g.shape, g.n_cells > 0
    ((90, 180), True)
    """

    def __init__(self, path, land_mask_var: str = "landmask_isimip", land_fraction_var: str = "land_fraction_modis",
                 area_var: str = "cell_area"):
        super().__init__(path, required=(area_var, land_fraction_var, land_mask_var))
        ds = self.ds
        self.area_var, self.land_fraction_var, self.land_mask_var = area_var, land_fraction_var, land_mask_var
        area = self.field2d(area_var)
        lf = self.field2d(land_fraction_var)
        mask = self.field2d(land_mask_var)
        if np.any(area[np.isfinite(area)] < 0):
            raise DataError(f"{self.path}: variable '{area_var}' has negative cell areas")
        if ds[area_var].attrs.get("units", "m2") not in ("m2", "m^2", "m**2"):
            raise DataError(f"{self.path}: variable '{area_var}' has units {ds[area_var].attrs.get('units')!r}, "
                            f"expected 'm2'")
        fin = np.isfinite(lf)
        if np.any((lf[fin] < 0) | (lf[fin] > 1.0 + 1e-6)):
            raise DataError(f"{self.path}: variable '{land_fraction_var}' outside [0, 1]")
        self.cell_area = np.where(np.isfinite(area), area, 0.0)
        self.land_fraction = np.where(fin, np.clip(lf, 0.0, 1.0), 0.0)
        self.land = (np.nan_to_num(mask) == 1) & (self.cell_area * self.land_fraction > 0)
        self.ilat, self.ilon = np.nonzero(self.land)
        self.cell_lat = self.lat[self.ilat]
        self.cell_lon = self.lon[self.ilon]
        self.land_area = (self.cell_area * self.land_fraction)[self.ilat, self.ilon]   # m2 per land cell

    @property
    def n_cells(self) -> int:
        return int(self.ilat.size)

    def check(self, covs: Sequence[Covariate]) -> None:
        """DataError naming the first grid variable (or index) a covariate needs but the file lacks."""
        for c in covs:
            src = c.grid
            for v in src.variables():
                if v not in self.ds.variables:
                    raise DataError(f"{self.path}: variable '{v}' missing from the covariate grid (needed for "
                                    f"covariate '{c.name}')")
                var = self.ds[v]
                dim = getattr(src, "dim", None)
                if dim is not None:
                    if dim not in var.dims:
                        raise DataError(f"{self.path}: variable '{v}' has no dimension '{dim}' (covariate '{c.name}')")
                    idx = (src.index,) if isinstance(src, GVar) else src.indices
                    labels = self.ds[dim].values if dim in self.ds.coords else np.arange(var.sizes[dim])
                    for i in idx:
                        if i not in set(np.asarray(labels).tolist()):
                            raise DataError(f"{self.path}: variable '{v}' has no {dim} = {i} (covariate '{c.name}')")
                elif set(var.dims) != {"lat", "lon"}:
                    raise DataError(f"{self.path}: variable '{v}' has dims {var.dims}, expected (lat, lon) "
                                    f"(covariate '{c.name}')")

    def field(self, cov: Covariate) -> np.ndarray:
        """(nlat, nlon) field of one covariate (NaN where missing)."""
        src = cov.grid
        if isinstance(src, GLat):
            return np.broadcast_to(self.lat[:, None], self.shape).astype(float)
        self.check([cov])
        var = self.ds[src.var]
        if isinstance(src, GVar) and src.dim is None:
            return np.asarray(var.transpose("lat", "lon").values, float)
        sel = var.sel({src.dim: src.index}) if isinstance(src, GVar) else var.sel({src.dim: list(src.indices)}).sum(
            src.dim, skipna=False)
        return np.asarray(sel.transpose("lat", "lon").values, float)

    def cell_values(self, covs: Sequence[Covariate]) -> np.ndarray:
        """(n_cells, ncov) covariate values of the land cells (NaN where missing)."""
        self.check(covs)
        return np.column_stack([self.field(c)[self.ilat, self.ilon] for c in covs]) if covs else \
            np.empty((self.n_cells, 0))

    # -- nearest valid cell -----------------------------------------------------------------------
    def nearest_valid(self, lat, lon, values: np.ndarray, valid: np.ndarray, max_km: float
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Values of the nearest land cell that has them (:meth:`nearest`, the one search).

        Parameters
        ----------
        lat, lon : array_like
            Locations (degrees).
        values : numpy.ndarray
            (n_cells, k) values of the land cells.
        valid : numpy.ndarray of bool
            (n_cells,) land cells that may give their values.
        max_km : float
            Largest distance.

        Returns
        -------
        values : numpy.ndarray
            (n, k), NaN where no valid land cell lies within ``max_km``.
        km : numpy.ndarray
            (n,) distance to the nearest valid land cell (also beyond ``max_km``; inf when
            no land cell is valid).
        """
        out = np.full((np.size(lat), values.shape[1]), np.nan)
        mask = np.zeros(self.shape, bool)
        mask[self.ilat[valid], self.ilon[valid]] = True
        j, km = self.nearest(mask, lat, lon, max_km)
        ok = j >= 0
        out[ok] = values[self._land_index[j[ok]]]
        return out, km

    @cached_property
    def _land_index(self) -> np.ndarray:
        """Land-cell number of each flat grid cell (-1 where not land)."""
        idx = np.full(self.lat.size * self.lon.size, -1, dtype=np.int64)
        idx[np.ravel_multi_index((self.ilat, self.ilon), self.shape)] = np.arange(self.n_cells)
        return idx


# ---- site covariates ------------------------------------------------------------------------------
@dataclass
class SiteCovariates:
    """Covariate matrix of the sites: values (nsite, ncov) (NaN = missing), and where each
    value came from ('table', 'grid', 'missing')."""

    site_ids: np.ndarray
    names: tuple[str, ...]
    values: np.ndarray
    origin: np.ndarray
    report: dict = field(default_factory=dict)

    def complete(self) -> np.ndarray:
        return np.isfinite(self.values).all(axis=1)


def site_covariates(profiles, covs: Sequence[Covariate], grid: CovariateGrid | None = None,
                    sites_file: str = "<sites table>", max_km: float = 250.0, grid_fallback: bool = False
                    ) -> SiteCovariates:
    """Covariates of profiles (objects with ``site_id``, ``lat``, ``lon``, ``covariates``,
    ``meta``). A covariate whose site column is absent from *every* profile is a DataError
    (mismatched names); missing values at single sites stay NaN (reported).

    ``grid_fallback=True`` (prediction at new sites): every covariate the table does not give
    (column absent or value missing) is sampled from the nearest valid grid cell within
    ``max_km``; ``report['nearest_km']`` then holds, per covariate still missing somewhere,
    the distance (km) from each site to the nearest grid cell that has a value (NaN where the
    value was found)."""
    n, k = len(profiles), len(covs)
    vals = np.full((n, k), np.nan)
    origin = np.full((n, k), "missing", dtype=object)
    present_cols = set()
    for p in profiles:
        present_cols.update(p.covariates.keys())
    for j, c in enumerate(covs):
        for col in c.site.columns():
            if col not in present_cols and not grid_fallback:
                raise DataError(f"{sites_file}: column '{col}' missing from the sites table (needed for covariate "
                                f"'{c.name}'; mapping table in pysoc.proda.covariates)")
    need_grid = [j for j, c in enumerate(covs) if isinstance(c.site, AtSite) or grid_fallback
                 or (isinstance(c.site, Category) and c.site.fallback == "grid")]
    for i, p in enumerate(profiles):
        for j, c in enumerate(covs):
            s = c.site
            v = np.nan
            if isinstance(s, Col):
                v = p.covariates.get(s.column, np.nan) * s.scale
            elif isinstance(s, Lin):
                parts = [p.covariates.get(col, np.nan) for col, _ in s.terms]
                v = float(sum(w * x for (_, w), x in zip(s.terms, parts))) if np.all(np.isfinite(parts)) else np.nan
            elif isinstance(s, Category):
                m = p.meta.get(s.meta)
                if isinstance(m, str) and m.strip():
                    t = m.strip().lower()
                    hit = any(t.startswith(x.lower()) for x in s.values) if s.prefix else t in s.values
                    v = 1.0 if hit else 0.0
            elif isinstance(s, Latitude):
                v = float(p.lat)
            if np.isfinite(v):
                vals[i, j] = v
                origin[i, j] = "table"
    report = {"grid_filled": {}, "missing": {}, "nearest_km": {}}
    if need_grid:
        if grid is None:
            names = [covs[j].name for j in need_grid if isinstance(covs[j].site, AtSite)]
            if names:
                raise ConfigError(f"covariates {', '.join(names)} are sampled from the covariate grid at the sites: "
                                  f"a covariate grid is required")
        else:
            lat = np.array([p.lat for p in profiles])
            lon = np.array([p.lon for p in profiles])
            for j in need_grid:
                c = covs[j]
                todo = ~np.isfinite(vals[:, j])
                if not todo.any():
                    continue
                cellv = grid.cell_values([c])
                got, km = grid.nearest_valid(lat[todo], lon[todo], cellv, np.isfinite(cellv[:, 0]), max_km)
                idx = np.flatnonzero(todo)
                ok = np.isfinite(got[:, 0])
                vals[idx[ok], j] = got[ok, 0]
                origin[idx[ok], j] = "grid"
                report["grid_filled"][c.name] = int(ok.sum())
                if (~ok).any():
                    d = np.full(n, np.nan)
                    d[idx[~ok]] = km[~ok]
                    report["nearest_km"][c.name] = d
    for j, c in enumerate(covs):
        nmiss = int((~np.isfinite(vals[:, j])).sum())
        if nmiss:
            report["missing"][c.name] = nmiss
    return SiteCovariates(np.array([p.site_id for p in profiles], dtype=object), tuple(c.name for c in covs),
                          vals, origin, report)


# ---- gridded covariates ---------------------------------------------------------------------------
@dataclass
class GridCovariateTable:
    """Covariates of the land cells used for prediction.

    values: (ncell, ncov) of the kept cells; cells: indices into the grid's land cells;
    masked: land cells without a complete set of covariates (masked, never filled unless
    ``filled`` says so); filled: per covariate, number of cells filled from a neighbour;
    ice: land cells left out as ice sheets."""

    grid: CovariateGrid
    names: tuple[str, ...]
    values: np.ndarray
    cells: np.ndarray
    masked: np.ndarray
    masked_area_m2: float
    filled: dict
    missing_by_covariate: dict
    ice: np.ndarray = field(default_factory=lambda: np.empty(0, int))
    ice_area_m2: float = 0.0

    @property
    def lat(self) -> np.ndarray:
        return self.grid.cell_lat[self.cells]

    @property
    def lon(self) -> np.ndarray:
        return self.grid.cell_lon[self.cells]

    @property
    def area(self) -> np.ndarray:
        return self.grid.land_area[self.cells]

    def summary(self) -> str:
        g = self.grid
        tot = g.land_area.sum()
        s = (f"{self.cells.size} of {g.n_cells} land cells with all {len(self.names)} covariates; "
             f"{self.masked.size} masked ({self.masked_area_m2 / 1e12:.2f} million km2, "
             f"{100 * self.masked_area_m2 / tot:.1f} % of the land area)")
        if self.missing_by_covariate:
            worst = sorted(self.missing_by_covariate.items(), key=lambda kv: -kv[1])[:4]
            s += "; missing: " + ", ".join(f"{k} {v}" for k, v in worst)
        if self.filled:
            s += "; filled from the nearest cell: " + ", ".join(f"{k} {v}" for k, v in self.filled.items() if v)
        if self.ice.size:
            s += f"; {self.ice.size} ice-sheet cells left out ({self.ice_area_m2 / 1e12:.2f} million km2)"
        return s


def ice_cells(grid: CovariateGrid, max_ice_fraction: float) -> np.ndarray:
    """Land cells whose land is mostly permanent snow and ice (IGBP class 15 share of the
    non-water fraction above ``max_ice_fraction``)."""
    if "igbp_fraction" not in grid.ds.variables:
        raise DataError(f"{grid.path}: variable 'igbp_fraction' missing (needed to leave out ice sheets; "
                        f"set max_ice_fraction = 1 to keep them)")
    f = grid.ds["igbp_fraction"]
    ice = np.asarray(f.sel(igbp_class=15).transpose("lat", "lon").values, float)[grid.ilat, grid.ilon]
    water = np.asarray(f.sel(igbp_class=0).transpose("lat", "lon").values, float)[grid.ilat, grid.ilon]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(1.0 - water > 0, ice / (1.0 - water), 0.0)
    return np.flatnonzero(np.nan_to_num(share) > max_ice_fraction)


def grid_covariates(grid: CovariateGrid, covs: Sequence[Covariate], fill: str = "none",
                    max_km: float = 250.0, max_ice_fraction: float = 1.0, region=None) -> GridCovariateTable:
    """Covariates of the land cells. ``fill='none'``: cells with any missing covariate are
    masked (reported); ``fill='nearest'``: a missing value takes the value of the nearest
    cell that has it within ``max_km`` (reported per covariate); cells still incomplete are
    masked. Cells that are mostly ice (``max_ice_fraction`` < 1) are left out (reported).
    ``region`` = (lat_min, lat_max, lon_min, lon_max) restricts the domain."""
    if fill not in ("none", "nearest"):
        raise ConfigError(f"grid covariates: fill must be 'none' or 'nearest', got {fill!r}")
    ice = ice_cells(grid, max_ice_fraction) if max_ice_fraction < 1.0 else np.empty(0, int)
    is_ice = np.zeros(grid.n_cells, bool)
    is_ice[ice] = True
    vals = grid.cell_values(covs)
    vals[is_ice] = np.nan                      # ice sheets: never modelled, never donors
    missing = {c.name: int((~np.isfinite(vals[~is_ice, j])).sum()) for j, c in enumerate(covs)
               if (~np.isfinite(vals[~is_ice, j])).any()}
    filled = {}
    if fill == "nearest":
        for j, c in enumerate(covs):
            bad = ~np.isfinite(vals[:, j]) & ~is_ice
            have = np.isfinite(vals[:, j])
            if bad.any() and have.any():
                got, _ = grid.nearest_valid(grid.cell_lat[bad], grid.cell_lon[bad], vals[:, [j]], have, max_km)
                idx = np.flatnonzero(bad)
                ok = np.isfinite(got[:, 0])
                vals[idx[ok], j] = got[ok, 0]
                filled[c.name] = int(ok.sum())
    inside = np.ones(grid.n_cells, bool)
    if region is not None and len(region):
        if len(region) != 4:
            raise ConfigError("grid region: expected 4 values lat_min, lat_max, lon_min, lon_max")
        la0, la1, lo0, lo1 = region
        inside = (grid.cell_lat >= la0) & (grid.cell_lat <= la1) & (grid.cell_lon >= lo0) & (grid.cell_lon <= lo1)
    complete = np.isfinite(vals).all(axis=1) & inside
    cells = np.flatnonzero(complete)
    masked = np.flatnonzero(~complete & ~is_ice & inside)
    ice = np.flatnonzero(is_ice & inside)
    return GridCovariateTable(grid, tuple(c.name for c in covs), vals[complete], cells, masked,
                              float(grid.land_area[masked].sum()), filled, missing, ice,
                              float(grid.land_area[ice].sum()))

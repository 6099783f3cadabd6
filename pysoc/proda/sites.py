"""New sites for a saved PRODA model: covariates, site forcing and the reason when a site
cannot be predicted (``pysoc-proda predict`` / ``evaluate``; docs/proda.md).

For every site of a table:

1. covariates (:mod:`pysoc.proda.covariates`): the table's value where present, else the
   value of the nearest grid cell that has one within ``site_max_km`` (the same limit as in
   training); a covariate found nowhere within the limit makes the site unpredictable, with
   the distance to the nearest cell that has it;
2. site forcing: the calibration's approximations (:func:`pysoc.io.site_forcing.site_forcing`)
   from the site's covariates; the few the forcing needs (MAT = BIO1, MAP = BIO12, BIO4,
   land cover) are taken from the grid cell when the table has none (the values of step 1);
3. the prepared kernel arrays of the usable sites (one batched kernel call later).

Sites that fail any step are kept in the result with their reason, never dropped silently.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from pysoc.errors import ConfigError, DataError, PysocError

#: site-table covariate filled from a PRODA covariate when the table has no value (site forcing inputs)
FORCING_FROM_COVARIATE = {"wc_bio01_mat_degC": "bio01", "wc_bio12_map_mm_yr": "bio12",
                          "wc_bio04_t_seasonality_degC_x100": "bio04"}


@dataclass
class SiteSet:
    """Sites prepared for a PRODA model.

    profiles: every requested site (covariates completed from the grid where used); X: (n,
    ncov) covariates (NaN rows where unusable); origin: (n, ncov) 'table' / 'grid' /
    'missing'; reasons: None for usable sites, else why not; usable: indices of the usable
    sites; prep: prepared kernel arrays of the usable sites (row i = usable[i])."""

    profiles: list
    X: np.ndarray
    origin: np.ndarray
    reasons: list
    usable: np.ndarray
    prep: object = None

    @property
    def n(self) -> int:
        return len(self.profiles)

    def failures(self) -> list[tuple[str, str]]:
        """[(site_id, reason), ...] of the sites that cannot be predicted."""
        return [(p.site_id, r) for p, r in zip(self.profiles, self.reasons) if r is not None]


def load_sites(sites, layers=None) -> list:
    """Profiles from a sites table path (and a layers table for evaluation), a DataFrame of
    sites, or a list of :class:`~pysoc.io.profiles.Profile`."""
    import pandas as pd

    from pysoc.io.profiles import read_profiles, read_sites

    if isinstance(sites, (list, tuple)):
        return list(sites)
    if isinstance(sites, pd.DataFrame):
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory() as d:
            f = Path(d) / "sites.csv"
            sites.to_csv(f, index=False)
            return read_sites(f)
    return read_profiles(sites, layers) if layers is not None else read_sites(sites)


def _missing_reason(name: str, km: float, max_km: float, from_table: bool) -> str:
    where = "no value in the sites table and " if from_table else ""
    if not np.isfinite(km):
        return f"covariate '{name}': {where}no grid cell has a value"
    return (f"covariate '{name}': {where}the nearest grid cell with a value is {km:,.0f} km away "
            f"(site_max_km = {max_km:g})")


def _has_land_cover(profile) -> bool:
    return any(isinstance(profile.meta.get(k), str) and profile.meta.get(k).strip()
               for k in ("land_cover", "modis_land_cover"))


def _grid_land_cover(grid, profiles, max_km: float) -> list:
    """MODIS land-cover name of the nearest grid cell (IGBP majority class) of the profiles
    that have none in the table (None otherwise or when no cell is within ``max_km``)."""
    from pysoc.proda.forcing import IGBP_NAMES

    out = [None] * len(profiles)
    todo = [i for i, p in enumerate(profiles) if not _has_land_cover(p)]
    if not todo or grid is None or "igbp_majority" not in grid.ds.variables:
        return out
    f = np.asarray(grid.ds["igbp_majority"].transpose("lat", "lon").values, float)[grid.ilat, grid.ilon]
    got, _ = grid.nearest_valid([profiles[i].lat for i in todo], [profiles[i].lon for i in todo], f[:, None],
                                np.isfinite(f), max_km)
    for i, v in zip(todo, got[:, 0]):
        if np.isfinite(v):
            out[i] = IGBP_NAMES.get(int(v), "")
    return out


def _forcing_profile(profile, covs, x, land_cover):
    """A copy of the profile whose forcing covariates and land cover come from the grid where
    the table has none."""
    p = copy.copy(profile)
    p.covariates = dict(profile.covariates)
    p.meta = dict(profile.meta)
    names = [c.name for c in covs]
    for col, cname in FORCING_FROM_COVARIATE.items():
        v = p.covariates.get(col)
        if (v is None or not np.isfinite(v)) and cname in names and np.isfinite(x[names.index(cname)]):
            p.covariates[col] = float(x[names.index(cname)])
    if land_cover is not None:
        p.meta["modis_land_cover"] = land_cover
    return p


def prepare_new_sites(pm, profiles, grid=None, max_km: float | None = None, progress=None) -> SiteSet:
    """Covariates, forcing and kernel arrays of ``profiles`` for the PRODA model ``pm``
    (module docstring).

    Parameters
    ----------
    pm : ProdaModel
        The model (its covariates, soil-carbon model and covariate grid).
    profiles : list of Profile
        The sites (layers are not needed).
    grid : CovariateGrid, optional
        The covariate grid (default: the model's ``grid_file``).
    max_km : float, optional
        Largest distance of a covariate sampled from the grid (default: the model's
        ``site_max_km``).
    progress : callable, optional
        Called with an iterable of the sites to wrap it (e.g. ``tqdm``).

    Returns
    -------
    SiteSet
    """
    from pysoc.io.site_forcing import site_forcing
    from pysoc.proda import covariates as cv

    covs = cv.resolve(pm.covariates)
    if grid is None:
        grid = model_grid(pm)
    max_km = float(pm.settings.get("site_max_km", 250.0) if max_km is None else max_km)
    sc = cv.site_covariates(profiles, covs, grid, max_km=max_km, grid_fallback=True)
    reasons = [None] * len(profiles)
    for j, c in enumerate(covs):
        km = sc.report["nearest_km"].get(c.name)
        for i in np.flatnonzero(~np.isfinite(sc.values[:, j])):
            if reasons[i] is None:
                reasons[i] = _missing_reason(c.name, km[i] if km is not None else np.inf, max_km,
                                             bool(c.site.columns()))
    model = pm.model
    lcs = _grid_land_cover(grid, profiles, max_km)
    forcings, usable, out_profiles = [], [], []
    items = enumerate(profiles) if progress is None else progress(list(enumerate(profiles)))
    for i, p in items:
        fp = _forcing_profile(p, covs, sc.values[i], lcs[i])
        out_profiles.append(fp)
        if reasons[i] is not None:
            continue
        try:
            forcings.append(site_forcing(model, fp))
            usable.append(i)
        except ConfigError:
            raise
        except PysocError as exc:
            reasons[i] = f"site forcing: {exc}"
    prep = model.prepare(forcings) if forcings else None
    return SiteSet(out_profiles, sc.values, sc.origin, reasons, np.asarray(usable, int), prep)


def model_grid(pm, path=None):
    """The covariate grid of a model (``path`` overrides the stored ``grid_file``)."""
    from pathlib import Path

    from pysoc.io.namelist import resolve_path
    from pysoc.proda.covariates import CovariateGrid

    g = path if path is not None else pm.settings.get("grid_file")
    if not g:
        raise DataError(f"{pm.settings.get('source', 'PRODA model')}: no covariate grid recorded; give one "
                        f"(--grid-file)")
    return CovariateGrid(resolve_path(str(g), Path.cwd()))


def portable_path(path) -> str:
    """``pkgdata:<relative>`` for files shipped with pysoc, else the absolute path."""
    from pathlib import Path

    from pysoc.io.namelist import PKGDATA

    p = Path(path).resolve()
    try:
        return "pkgdata:" + str(p.relative_to(Path(PKGDATA).resolve()))
    except ValueError:
        return str(p)

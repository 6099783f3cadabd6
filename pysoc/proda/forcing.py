"""Forcing of grid cells: the covariate-grid fields a model's ``cell_forcing`` capability
needs (:class:`~pysoc.io.site_forcing.CellClimate`), read per land cell, and the prepared
forcing the model builds from them (vectorised over cells).

Quantities per cell and their grid source (the site builder's covariate in brackets):

- MAT = BIO1 (``wc_bio01_mat_degC``), MAP = BIO12 (``wc_bio12_map_mm_yr``);
- seasonal amplitude from BIO4 (``wc_bio04_t_seasonality_degC_x100``);
- the IGBP majority class (``igbp_majority``), read as the MODIS land-cover name.

How a model turns them into forcing is the model's (e.g. CLM5: Holdridge PET, Miami NPP,
CWD share of the class, all layers above bedrock; the tests check it against
``model.prepare([model.site_forcing(pseudo_profile)])`` for the same covariate values).
This module names no model: it asks the model for the capability.
"""

from __future__ import annotations

import numpy as np

from pysoc.errors import DataError
from pysoc.io.site_forcing import IGBP_NAMES, CellClimate, PseudoProfile, cwd_fractions  # noqa: F401 (re-exported)

#: the grid fields the forcing needs: name -> (grid variable, index along its extra dim)
GRID_FIELDS = {"mat": ("bioclim", 1), "map": ("bioclim", 12), "bio4": ("bioclim", 4),
               "igbp": ("igbp_majority", None)}


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


def prepared_forcing(model, clim: CellClimate) -> dict:
    """The model's prepared forcing of every cell (its ``cell_forcing`` capability).

    Parameters
    ----------
    model : pysoc.models.base.SoilCarbonModel
        A model providing ``cell_forcing``.
    clim : CellClimate
        The climate of the cells.

    Returns
    -------
    prepared forcing
        As the model's ``prepare`` returns for a list of sites (site i = cell i).

    Raises
    ------
    ConfigError
        The model does not provide ``cell_forcing``.
    DataError
        A cell without a valid climate (named).
    """
    model.require("cell_forcing", "grid forcing")
    bad = clim.invalid()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"grid forcing: cell {i} (lat {clim.lat[i]:.2f}) has no valid climate (MAT, MAP, BIO4); "
                        f"mask such cells first")
    return model.cell_forcing(clim)

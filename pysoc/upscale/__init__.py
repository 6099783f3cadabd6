"""Heterotrophic-respiration (Rh) upscaling after seed 004 (methods.md §4): SRDB ingest and
filters, site and gridded predictors, random forest / XGBoost with climate-zone-stratified
cross-validation, importance and partial dependence, global map and total, soil carbon
turnover time and the 2-box model constraint. Command line: ``pysoc-upscale NAMELIST``;
documentation: docs/upscale_rh.md.

Modules: :mod:`~pysoc.upscale.srdb` (ingest, filters), :mod:`~pysoc.upscale.predictors`
(the 19 study predictors and what is available), :mod:`~pysoc.upscale.grid` (covariate grid,
sampling, totals), :mod:`~pysoc.upscale.models` (RF/XGBoost, CV, importance),
:mod:`~pysoc.upscale.turnover`, :mod:`~pysoc.upscale.twobox`, :mod:`~pysoc.upscale.workflow`
(namelist and the whole chain).
"""

from pysoc.upscale.grid import CovariateGrid, global_total
from pysoc.upscale.srdb import FilterOptions, apply_filters, read_srdb

__all__ = ["CovariateGrid", "FilterOptions", "apply_filters", "global_total", "read_srdb"]

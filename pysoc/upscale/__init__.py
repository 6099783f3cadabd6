"""Heterotrophic-respiration (Rh) upscaling after seed 004 (methods.md §4), judged by grouped
cross-validation: SRDB ingest (strict) and filters, predictors at sites and on the grid with
one gap-fill rule, process-informed predictors from a soil-carbon model's decomposition
response, model and predictor selection by grouped CV next to two baselines, a saved model
that predicts at new sites and maps Rh, soil carbon turnover time and the 2-box model
constraint. Command line: ``pysoc-upscale NAMELIST``, ``pysoc-upscale predict MODEL SITES``,
``pysoc-upscale evaluate MODEL RECORDS``; documentation: docs/upscale_rh.md.

Modules: :mod:`~pysoc.upscale.srdb` (ingest, filters), :mod:`~pysoc.upscale.predictors`
(the predictor registry), :mod:`~pysoc.upscale.grid` (covariate grid, the gap-fill rule,
totals), :mod:`~pysoc.upscale.process` (decomposition index, process Rh),
:mod:`~pysoc.upscale.sites` (predictor tables at sites), :mod:`~pysoc.upscale.models`
(learners, grouped folds, importance), :mod:`~pysoc.upscale.selection` (grouped-CV
selection, nested CV), :mod:`~pysoc.upscale.saved` (the saved model),
:mod:`~pysoc.upscale.evaluate`, :mod:`~pysoc.upscale.turnover`, :mod:`~pysoc.upscale.twobox`,
:mod:`~pysoc.upscale.workflow` (namelist and the whole chain).
"""

from pysoc.upscale.grid import CovariateGrid, global_total
from pysoc.upscale.saved import UpscaleModel
from pysoc.upscale.srdb import FilterOptions, apply_filters, read_srdb

__all__ = ["CovariateGrid", "FilterOptions", "UpscaleModel", "apply_filters", "global_total", "read_srdb"]

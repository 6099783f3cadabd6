"""PRODA: PROcess-guided deep learning and DAta-driven modelling (spec methods.md §3;
seeds 001 §2.6–2.7 and 002; docs/proda.md).

- :mod:`pysoc.proda.posteriors`: site posteriors of the calibration engine (adapter) and
  synthetic posteriors with a known covariate -> parameter relation;
- :mod:`pysoc.proda.covariates`: the site <-> grid covariate mapping table, the covariate
  grid, site and grid covariate matrices (missing values reported, never filled silently);
- :mod:`pysoc.proda.network`: :class:`ProdaNetwork`, scikit-learn or PyTorch backend;
- :mod:`pysoc.proda.ensemble`: best-guess network and bootstrap members (posterior means
  or posterior draws), trained round-robin over MPI ranks;
- :mod:`pysoc.proda.evaluate`: held-out evaluation (random / spatially blocked folds) against
  default, one-batch, random-sampling and site-by-site parameters (seed 002 Table 1);
- :mod:`pysoc.proda.forcing`: kernel forcing of grid cells (the site-forcing approximations);
- :mod:`pysoc.proda.gridrun`: forward runs of every land cell over MPI ranks, stocks, totals;
- :mod:`pysoc.proda.components`: system-level components CTE, K, xi, V, B (seed 001 eq. 10–14);
- :mod:`pysoc.proda.output`, :mod:`pysoc.proda.plots`: CF-NetCDF maps, CSV tables, figures;
- :mod:`pysoc.proda.workflow`: the ``pysoc-proda`` namelist and pipeline.
"""

from pysoc.proda.network import ProdaNetwork
from pysoc.proda.posteriors import SitePosteriors, load_site_posteriors

__all__ = ["ProdaNetwork", "SitePosteriors", "load_site_posteriors"]

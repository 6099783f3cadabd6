"""pysoc: soil organic carbon process models with Bayesian data assimilation."""

__version__ = "0.1.0"

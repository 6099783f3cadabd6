"""Direct machine-learning baseline of the PRODA evaluation (docs/proda.md): a random forest
that predicts the SOC density of a layer from the same covariates as the network plus the
layer depth, without the process model (SoilGrids-style digital soil mapping; Hengl et al.
2017, Poggio et al. 2021 use depth as a covariate of a (quantile) random forest).

Features: the site covariates, the top, bottom and mid-depth of the layer (m). Target: the
observed SOC density of the layer (g C m-3, untransformed: the evaluation scores densities).
Settings are fixed a priori (not tuned on held-out data): 300 trees, at least 5 layers per
leaf, a third of the features tried at each split (the usual regression default).
"""

from __future__ import annotations

import numpy as np

from pysoc.errors import DataError

RF_SETTINGS = {"n_estimators": 300, "min_samples_leaf": 5, "max_features": 1.0 / 3.0}


def layer_features(X_sites: np.ndarray, site_rows, top, bottom) -> np.ndarray:
    """Feature rows (nlayer, ncov + 3): covariates of the layer's site, top, bottom, middle (m)."""
    top, bottom = np.asarray(top, float), np.asarray(bottom, float)
    return np.column_stack([np.asarray(X_sites, float)[np.asarray(site_rows, int)], top, bottom,
                            0.5 * (top + bottom)])


class DirectSOC:
    """Random forest of layer SOC density on covariates and depth (module docstring).

    Parameters
    ----------
    random_state : int
        Seed of the forest.
    n_jobs : int
        Worker threads of scikit-learn (1: the machine is shared).

    Examples
    --------
    >>> rf = DirectSOC(0).fit(model.training)                          # doctest: +SKIP
    >>> rf.predict(X_test, site_rows, top, bottom)                     # doctest: +SKIP
    """

    def __init__(self, random_state: int = 0, n_jobs: int = 1, **settings):
        self.random_state = int(random_state)
        self.n_jobs = int(n_jobs)
        self.settings = {**RF_SETTINGS, **settings}

    def fit(self, training) -> DirectSOC:
        """Fit on the observed layers of :class:`~pysoc.proda.model.TrainingSites`."""
        from sklearn.ensemble import RandomForestRegressor

        if training.layer_site.size < 10:
            raise DataError(f"direct random forest: only {training.layer_site.size} training layers")
        F = layer_features(training.X, training.layer_site, training.layer_top, training.layer_bottom)
        self.forest_ = RandomForestRegressor(random_state=self.random_state, n_jobs=self.n_jobs, **self.settings)
        self.forest_.fit(F, np.asarray(training.layer_soc, float))
        return self

    def predict(self, X_sites, site_rows, top, bottom) -> np.ndarray:
        """SOC density (g C m-3) of layers [top, bottom] (m) of the sites ``site_rows`` (rows of X_sites)."""
        if len(top) == 0:
            return np.empty(0)
        return self.forest_.predict(layer_features(X_sites, site_rows, top, bottom))

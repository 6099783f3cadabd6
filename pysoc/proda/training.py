"""Training of a PRODA model: one function used by the cross-validation folds and by the
final model of ``pysoc-proda``, so that what is evaluated is what is saved.

:func:`fit_model` trains the best-guess network (member 0: every site once, targets the
posterior means, 90/10 train/validation split) and, when asked, ``n_bootstrap`` bootstrap
members on posterior means and the same members on posterior draws
(:mod:`pysoc.proda.ensemble`), over MPI ranks round-robin; every rank gets the whole model.
"""

from __future__ import annotations

import numpy as np

from pysoc.errors import ConfigError
from pysoc.proda.ensemble import member_specs, train_members
from pysoc.proda.model import InputTransform, NetworkEnsemble, ProdaModel
from pysoc.da.parallel import SerialExecutor

#: training options (``&network`` keys of the same names) and their defaults
OPTIONS = {"input_transform": "quantile", "clip_to_training": True}


def _gather_ensemble(comm, nets: dict, ids) -> list:
    """Networks {index: ProdaNetwork} spread over ranks -> list of layer-array dicts in ``ids`` order."""
    local = {i: n.layer_arrays() for i, n in nets.items()}
    merged = {}
    for part in comm.allgather(local):
        merged.update(part)
    return [merged[i] for i in ids]


class _Arrays:
    """Adapter: stored layer arrays behave like a fitted network for NetworkEnsemble."""

    def __init__(self, arrays: dict):
        self._a = arrays

    def layer_arrays(self) -> dict:
        return self._a


def fit_model(model, post, profiles, X, covs, network_params: dict, *, seed: int = 0, n_bootstrap: int = 0,
              draws: bool = False, settings: dict | None = None, options: dict | None = None, comm=None,
              progress=None) -> ProdaModel:
    """Train a PRODA model.

    Parameters
    ----------
    model : SoilCarbonModel
        The model the posteriors belong to.
    post : SitePosteriors
        Posteriors of the training sites (rows aligned with ``profiles`` and ``X``).
    profiles : list of Profile
        Training profiles (kept in the model for the baselines).
    X : ndarray (n, ncov)
        Covariates of the training sites.
    covs : sequence of Covariate
        The covariates of the columns of X.
    network_params : dict
        Keyword arguments of :class:`~pysoc.proda.network.ProdaNetwork`.
    seed : int
        Seed of the member resamples, splits and networks.
    n_bootstrap : int
        Bootstrap members (0: best-guess network only).
    draws : bool
        Also train the bootstrap members on posterior draws (needs ``post.draws``).
    settings : dict, optional
        Stored in the model (provenance, grid_file, site_max_km, ...).
    options : dict, optional
        :data:`OPTIONS`: ``input_transform`` ('quantile': covariates through their training
        distribution, :class:`~pysoc.proda.model.InputTransform`; 'none') and
        ``clip_to_training`` (outputs clipped to the range of the training targets of each
        ensemble: no parameter beyond what the calibrated sites had).
    comm : SerialExecutor or MPIExecutor, optional
        Executor of :func:`pysoc.da.parallel.get_executor` (default serial).
        Members are trained round-robin over the ranks.
    progress : callable, optional
        Called with the member index after each member this rank trained.

    Returns
    -------
    ProdaModel
        The same model on every rank.
    """
    comm = comm or SerialExecutor()
    opts = {**OPTIONS, **(options or {})}
    unknown = set(opts) - set(OPTIONS)
    if unknown:
        raise ConfigError(f"PRODA training: unknown option {sorted(unknown)[0]!r} (known: {', '.join(OPTIONS)})")
    tf = InputTransform.fit(X, opts["input_transform"])
    Xt = tf.apply(X)
    nd = None if post.draws is None else post.draws.shape[1]
    specs = member_specs(post.n_sites, n_bootstrap, network_params["validation_fraction"], seed, n_draws=nd)
    ens = {}
    nets = train_members(specs, Xt, post.mean, post.draws, network_params, "mean", comm, progress=progress)
    ids = [s.index for s in specs]
    arrays = _gather_ensemble(comm, nets, ids)
    ens["best"] = NetworkEnsemble.from_networks([_Arrays(arrays[0])])
    if n_bootstrap:
        ens["boot"] = NetworkEnsemble.from_networks([_Arrays(a) for a in arrays[1:]])
        if draws and post.draws is not None:
            dn = train_members(specs[1:], Xt, post.mean, post.draws, network_params, "draws", comm,
                               progress=progress)
            ens["draws"] = NetworkEnsemble.from_networks([_Arrays(a) for a in _gather_ensemble(comm, dn, ids[1:])])
    if opts["clip_to_training"]:
        for name, e in ens.items():
            y = post.draws.reshape(-1, post.draws.shape[-1]) if name == "draws" else post.mean
            e.y_min, e.y_max = np.min(y, axis=0), np.max(y, axis=0)
    st = {"network": {k: (list(v) if isinstance(v, tuple) else v) for k, v in network_params.items()},
          "seed": int(seed), "n_bootstrap": int(n_bootstrap), "training_options": opts, **(settings or {})}
    return ProdaModel.from_training(model, post, profiles, X, covs, ens, st, input_transform=tf)

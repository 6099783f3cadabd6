"""Bootstrap ensembles of PRODA networks (spec methods.md §3.3, §3.7; seed 001 §2.7).

Member 0 is the *best-guess* network: every site once, targets = posterior means, a random
90/10 train/validation split. Members 1..B resample the sites with replacement (PRODA's
200-fold bootstrap); the validation rows of a member are the copies of a random 10 % of
its distinct sites (no site is in both parts).

Posterior propagation (beyond PRODA, seed 001 §2.7): with ``targets='draws'`` every row of
a bootstrap member takes one random posterior draw of its site instead of the posterior
mean, so the ensemble spread carries the site posterior uncertainty as well as the
sampling of sites. Both kinds of ensemble use the same resamples and network seeds
(paired), so the widening of the bands is due to the posterior draws alone.

Training is distributed over MPI ranks round-robin (:func:`pysoc.da.parallel.owner`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pysoc.errors import ConfigError, DataError
from pysoc.proda.network import ProdaNetwork
from pysoc.da.parallel import SerialExecutor, owner


@dataclass
class MemberSpec:
    """One ensemble member: rows (site indices, with repeats), which rows validate, and
    for draw-trained members the posterior draw of each row."""

    index: int
    rows: np.ndarray
    validation: np.ndarray
    seed: int
    draw: np.ndarray | None = None


def member_specs(n_sites: int, n_bootstrap: int, validation_fraction: float = 0.1, seed: int = 0,
                 n_draws: int | None = None) -> list[MemberSpec]:
    """Member 0 (best guess) plus ``n_bootstrap`` bootstrap members. ``n_draws`` (posterior
    draws per site) adds a draw index per row (used when training on draws)."""
    if n_sites < 3:
        raise DataError(f"PRODA needs at least 3 calibrated sites with covariates, got {n_sites}")
    if n_bootstrap < 0:
        raise ConfigError(f"n_bootstrap must be >= 0, got {n_bootstrap}")
    ss = np.random.SeedSequence(seed)
    specs = []
    for m, child in enumerate(ss.spawn(n_bootstrap + 1)):
        rng = np.random.default_rng(child)
        rows = np.arange(n_sites) if m == 0 else rng.integers(0, n_sites, n_sites)
        distinct = np.unique(rows)
        nval = max(1, int(round(validation_fraction * distinct.size)))
        if distinct.size - nval < 1:
            nval = distinct.size - 1
        vsites = rng.choice(distinct, size=nval, replace=False)
        validation = np.isin(rows, vsites)
        draw = rng.integers(0, n_draws, rows.size) if n_draws else None
        specs.append(MemberSpec(m, rows, validation, int(rng.integers(0, 2**31 - 1)), draw))
    return specs


def member_targets(spec: MemberSpec, mean: np.ndarray, draws: np.ndarray | None, targets: str) -> np.ndarray:
    """Training targets (kp) of the rows of a member."""
    if targets == "mean" or spec.index == 0:
        return mean[spec.rows]
    if targets != "draws":
        raise ConfigError(f"ensemble targets must be 'mean' or 'draws', got {targets!r}")
    if draws is None or spec.draw is None:
        raise DataError("training on posterior draws needs posterior draws (none in the site posterior file)")
    return draws[spec.rows, spec.draw % draws.shape[1]]


def train_member(spec: MemberSpec, X: np.ndarray, mean: np.ndarray, draws: np.ndarray | None,
                 network_params: dict, targets: str = "mean") -> ProdaNetwork:
    """Fit the network of one member."""
    y = member_targets(spec, mean, draws, targets)
    Xr = X[spec.rows]
    v = spec.validation
    net = ProdaNetwork(**{**network_params, "random_state": spec.seed})
    return net.fit(Xr[~v], y[~v], Xr[v], y[v])


def train_members(specs, X, mean, draws, network_params, targets="mean", comm=None, progress=None) -> dict:
    """Networks of the members owned by this rank: {member index: ProdaNetwork}."""
    comm = comm or SerialExecutor()
    out = {}
    for spec in specs:
        if owner(spec.index, comm.size) != comm.rank:
            continue
        out[spec.index] = train_member(spec, X, mean, draws, network_params, targets)
        if progress is not None:
            progress(spec.index)
    return out


def broadcast_member(comm, nets: dict, index: int):
    """The network of member ``index`` on every rank (sent by its owner)."""
    root = owner(index, comm.size)
    return comm.bcast(nets.get(index) if comm.rank == root else None, root=root)

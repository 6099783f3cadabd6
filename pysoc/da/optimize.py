"""SCE-UA global optimiser (shuffled complex evolution; Duan, Sorooshian and Gupta 1992,
Duan et al. 1993 J. Optim. Theory Appl. 76; used for MIMICS in seed 003).

Implemented from the published algorithm on the unit box kp ∈ [0, 1]^n:

1. sample s = p·m points uniformly, evaluate, sort by cost;
2. partition into p complexes of m points (complex k gets the points k, k+p, k+2p, … of
   the sorted population);
3. evolve every complex β times with competitive complex evolution (CCE): pick q points
   with the trapezoidal probabilities ρ_i = 2(m + 1 − i)/(m(m + 1)); α times reflect the
   worst point of the sub-complex through the centroid of the others; when the
   reflection leaves the box, or is not better, contract half-way to the centroid; when
   that is not better either, draw a random point in the smallest hypercube containing
   the complex;
4. shuffle (merge and sort all complexes) and repeat until the evaluation budget is
   spent, the best cost improved by less than ``pcento`` (fraction) over ``kstop``
   shuffling loops, or the population's normalised geometric range is below ``peps``.

Defaults follow Duan et al. 1994: m = 2n + 1, q = n + 1, α = 1, β = 2n + 1. The CCE steps
of all complexes are evaluated together (one cost call per step for all complexes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from pysoc.errors import ConfigError


@dataclass(frozen=True)
class SCEUASettings:
    """Settings of :func:`sceua` (the ``&sceua`` namelist group); 0 = the default of Duan
    et al. 1994 for the problem size n."""

    n_complexes: int = 4          #: p
    points_per_complex: int = 0   #: m (0 = 2n + 1)
    subcomplex_size: int = 0      #: q (0 = n + 1)
    evolution_steps: int = 0      #: β (0 = 2n + 1)
    offspring: int = 1            #: α
    max_evals: int = 20000
    kstop: int = 5
    pcento: float = 0.001
    peps: float = 1e-3

    def check(self) -> "SCEUASettings":
        if self.n_complexes < 1 or self.max_evals < 1 or self.kstop < 1 or self.offspring < 1:
            raise ConfigError("sceua: n_complexes, max_evals, kstop and offspring must be >= 1")
        if self.points_per_complex < 0 or self.subcomplex_size < 0 or self.evolution_steps < 0:
            raise ConfigError("sceua: points_per_complex, subcomplex_size and evolution_steps must be >= 0")
        return self


@dataclass
class OptimumResult:
    """Outcome of :func:`sceua`."""

    x: np.ndarray                 #: best kp (n,)
    cost: float
    n_evals: int
    n_loops: int
    converged: bool
    reason: str
    history: list = field(default_factory=list)   #: best cost after each shuffling loop


class _Counted:
    """The cost function with a count of the evaluated points."""

    def __init__(self, cost_fn: Callable[[np.ndarray], np.ndarray]):
        self.cost_fn = cost_fn
        self.evals = 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.evals += x.shape[0]
        return np.asarray(self.cost_fn(x), dtype=float)


def _sorted(X: np.ndarray, F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(F, kind="stable")
    return X[order], F[order]


def _offspring(cX, cF, L, f: _Counted, rng: np.random.Generator) -> None:
    """One offspring of every complex (in place): reflect the worst point of the sub-complex
    ``L`` through the centroid of the others (a random point of the complex's hypercube when
    the reflection leaves the box), else contract half-way, else draw a random point."""
    p, n = cX.shape[0], cX.shape[2]
    bX = np.take_along_axis(cX, L[:, :, None], axis=1)     # (p, q, n)
    bF = np.take_along_axis(cF, L, axis=1)
    srt = np.argsort(bF, axis=1, kind="stable")
    L[:] = np.take_along_axis(L, srt, axis=1)
    bX = np.take_along_axis(bX, srt[:, :, None], axis=1)
    bF = np.take_along_axis(bF, srt, axis=1)
    worst, fworst = bX[:, -1], bF[:, -1]
    g = bX[:, :-1].mean(axis=1)
    lo, hi = cX.min(axis=1), cX.max(axis=1)
    new = 2.0 * g - worst
    outside = ((new < 0.0) | (new > 1.0)).any(axis=1)
    if outside.any():
        k = int(outside.sum())
        new[outside] = lo[outside] + rng.random((k, n)) * (hi[outside] - lo[outside])
    fnew = f(new)
    fail = ~(fnew < fworst)
    if fail.any():
        con = (g[fail] + worst[fail]) / 2.0
        fcon = f(con)
        better = fcon < fworst[fail]
        idx = np.flatnonzero(fail)
        new[idx[better]], fnew[idx[better]] = con[better], fcon[better]
        still = idx[~better]
        if still.size:
            z = lo[still] + rng.random((still.size, n)) * (hi[still] - lo[still])
            new[still], fnew[still] = z, f(z)
    pos = L[:, -1]
    cX[np.arange(p), pos] = new
    cF[np.arange(p), pos] = fnew


def _evolve(X, F, s: SCEUASettings, shape: tuple, f: _Counted, rng: np.random.Generator):
    """Competitive complex evolution of all complexes (``shape`` = (p, m, q, beta)) for one
    shuffling loop; returns the complexes merged and sorted."""
    p, m, q, beta = shape
    prob = 2.0 * (m + 1 - np.arange(1, m + 1)) / (m * (m + 1))
    cX = np.stack([X[k::p] for k in range(p)])          # (p, m, n): complex k holds sorted points k, k+p, ...
    cF = np.stack([F[k::p] for k in range(p)])          # (p, m)
    for _ in range(beta):
        # q points per complex, without replacement, trapezoidal probabilities
        L = np.stack([np.sort(rng.choice(m, size=q, replace=False, p=prob)) for _ in range(p)])
        for _ in range(s.offspring):
            _offspring(cX, cF, L, f, rng)
        srt = np.argsort(cF, axis=1, kind="stable")
        cX = np.take_along_axis(cX, srt[:, :, None], axis=1)
        cF = np.take_along_axis(cF, srt, axis=1)
        if f.evals >= s.max_evals:
            break
    return _sorted(cX.reshape(p * m, -1), cF.reshape(p * m))


def _stopped(history: list, X: np.ndarray, F: np.ndarray, s: SCEUASettings) -> str:
    """'' while the search goes on, else why it converged."""
    if len(history) > s.kstop:
        old = history[-1 - s.kstop]
        if np.isfinite(old) and abs(old - F[0]) <= s.pcento * max(abs(old), 1e-300):
            return "no_improvement"
    if np.isfinite(F).all():
        rng_par = X.max(axis=0) - X.min(axis=0)
        if float(np.exp(np.mean(np.log(np.maximum(rng_par, 1e-300))))) < s.peps:
            return "population_converged"
    return ""


def sceua(cost_fn: Callable[[np.ndarray], np.ndarray], ndim: int, settings: SCEUASettings,
          rng: np.random.Generator, callback: Callable[[], None] | None = None) -> OptimumResult:
    """Minimise ``cost_fn`` on the unit box [0, 1]^ndim with SCE-UA.

    Parameters
    ----------
    cost_fn : callable
        ``cost_fn(kp)`` with kp (k, ndim) returns the k costs (inf or NaN for an invalid point).
    ndim : int
        Number of parameters.
    settings : SCEUASettings
        Complexes, their sizes, the evaluation budget and the stopping criteria.
    rng : numpy.random.Generator
        Source of every random draw (the result is a function of its state).
    callback : callable, optional
        Called without arguments after every shuffling loop.

    Returns
    -------
    OptimumResult
        The best point, its cost, evaluations and loops used, and why the search stopped
        ('no_improvement', 'population_converged' or 'max_evals').

    Raises
    ------
    ConfigError
        Settings out of range (``subcomplex_size`` not in [2, ``points_per_complex``], ...).

    Examples
    --------
    >>> import numpy as np
    >>> bowl = lambda kp: ((kp - 0.3) ** 2).sum(axis=1)
    >>> res = sceua(bowl, 2, SCEUASettings(max_evals=3000), np.random.default_rng(0))
    >>> bool(np.allclose(res.x, 0.3, atol=0.02)), res.converged
    (True, True)
    """
    s = settings.check()
    n = int(ndim)
    m = s.points_per_complex or 2 * n + 1
    q = s.subcomplex_size or n + 1
    if not 2 <= q <= m:
        raise ConfigError(f"sceua: subcomplex_size q = {q} must lie in [2, points_per_complex = {m}]")
    shape = (s.n_complexes, m, q, s.evolution_steps or 2 * n + 1)
    f = _Counted(cost_fn)
    X = rng.random((s.n_complexes * m, n))
    X, F = _sorted(X, f(X))
    history = [float(F[0])]
    loops, reason = 0, ""
    while f.evals < s.max_evals:
        loops += 1
        X, F = _evolve(X, F, s, shape, f, rng)
        history.append(float(F[0]))
        if callback is not None:
            callback()
        reason = _stopped(history, X, F, s)
        if reason:
            break
    return OptimumResult(X[0].copy(), float(F[0]), f.evals, loops, bool(reason), reason or "max_evals", history)


__all__ = ["SCEUASettings", "OptimumResult", "sceua"]

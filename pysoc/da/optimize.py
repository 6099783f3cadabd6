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
    x: np.ndarray                 #: best kp (n,)
    cost: float
    n_evals: int
    n_loops: int
    converged: bool
    reason: str
    history: list = field(default_factory=list)   #: best cost after each shuffling loop


def sceua(cost_fn: Callable[[np.ndarray], np.ndarray], ndim: int, settings: SCEUASettings,
          rng: np.random.Generator, callback: Callable[[], None] | None = None) -> OptimumResult:
    """Minimise cost_fn(kp (k, n)) -> (k,) on [0, 1]^n."""
    s = settings.check()
    n = int(ndim)
    p = s.n_complexes
    m = s.points_per_complex or 2 * n + 1
    q = s.subcomplex_size or n + 1
    beta = s.evolution_steps or 2 * n + 1
    if not 2 <= q <= m:
        raise ConfigError(f"sceua: subcomplex_size q = {q} must lie in [2, points_per_complex = {m}]")
    npt = p * m
    evals = 0

    def f(x):
        nonlocal evals
        evals += x.shape[0]
        return np.asarray(cost_fn(x), dtype=float)

    X = rng.random((npt, n))
    F = f(X)
    order = np.argsort(F, kind="stable")
    X, F = X[order], F[order]
    prob = 2.0 * (m + 1 - np.arange(1, m + 1)) / (m * (m + 1))
    history = [float(F[0])]
    loops = 0
    reason = "max_evals"
    converged = False
    while evals < s.max_evals:
        loops += 1
        # partition: complex k holds sorted points k, k+p, ...
        cX = np.stack([X[k::p] for k in range(p)])          # (p, m, n)
        cF = np.stack([F[k::p] for k in range(p)])          # (p, m)
        for _ in range(beta):
            # choose q points per complex (without replacement, trapezoidal probabilities)
            L = np.stack([np.sort(rng.choice(m, size=q, replace=False, p=prob)) for _ in range(p)])
            for _ in range(s.offspring):
                bX = np.take_along_axis(cX, L[:, :, None], axis=1)     # (p, q, n)
                bF = np.take_along_axis(cF, L, axis=1)
                srt = np.argsort(bF, axis=1, kind="stable")
                L = np.take_along_axis(L, srt, axis=1)
                bX = np.take_along_axis(bX, srt[:, :, None], axis=1)
                bF = np.take_along_axis(bF, srt, axis=1)
                worst = bX[:, -1]
                fworst = bF[:, -1]
                g = bX[:, :-1].mean(axis=1)
                lo = cX.min(axis=1)
                hi = cX.max(axis=1)
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
            srt = np.argsort(cF, axis=1, kind="stable")
            cX = np.take_along_axis(cX, srt[:, :, None], axis=1)
            cF = np.take_along_axis(cF, srt, axis=1)
            L = None
            if evals >= s.max_evals:
                break
        # shuffle
        X = cX.reshape(npt, n)
        F = cF.reshape(npt)
        order = np.argsort(F, kind="stable")
        X, F = X[order], F[order]
        history.append(float(F[0]))
        if callback is not None:
            callback()
        if len(history) > s.kstop:
            old = history[-1 - s.kstop]
            if np.isfinite(old) and abs(old - F[0]) <= s.pcento * max(abs(old), 1e-300):
                reason, converged = "no_improvement", True
                break
        finite = np.isfinite(F)
        if finite.all():
            rng_par = X.max(axis=0) - X.min(axis=0)
            gnrng = float(np.exp(np.mean(np.log(np.maximum(rng_par, 1e-300)))))
            if gnrng < s.peps:
                reason, converged = "population_converged", True
                break
    return OptimumResult(X[0].copy(), float(F[0]), evals, loops, converged, reason, history)


__all__ = ["SCEUASettings", "OptimumResult", "sceua"]

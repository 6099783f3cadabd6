"""Adaptive Metropolis (spec methods.md §2; seeds 000 §2.3, 002 eq. 6–8; Haario et al. 2001).

The sampler knows nothing about models: it minimises/samples ``exp(−J(kp))`` for a cost
function ``J(kp (n, d)) -> (n,)`` on the unit box kp ∈ [0, 1]^d (uniform prior; proposals
outside the box are rejected without evaluation). All chains advance together and are
evaluated in one call per iteration.

1. **Test run** (``n_test`` iterations): ``kp_new = kp_old + r / D``, r ~ U(−0.5, 0.5) per
   parameter (move :class:`UniformWalk`).
2. **Formal run** (``n_formal`` iterations): ``kp_new ~ N(kp_old, C_t)`` (move
   :class:`HaarioMove`) with ``C_t = C0`` for t < t0, where C0 = s_d (cov + ε I) of the
   accepted test-run states of the chain (``scale_c0``; unscaled, the covariance of a test
   run that wandered over the prior box gives proposals so wide in d = 21 that the chains
   stall until t0), and ``C_t = s_d cov(θ_0..θ_{t−1}) + s_d ε I``, s_d = 2.38²/d, afterwards. The history covariance is accumulated recursively
   (batched Welford/Chan updates); the proposal factor is refreshed every
   ``adapt_interval`` iterations (1 = every iteration, as in Haario et al.).
3. Acceptance ``min(1, exp(−(J_new − J_old)))``; optionally PRODA's ``·log(iter + 2)``
   tempering (off by default; not in the papers).

Random numbers: one :class:`numpy.random.Generator` per chain (from a
:class:`~numpy.random.SeedSequence` the caller keys by site and chain, never by MPI
rank), drawn in blocks of ``block_size`` iterations aligned to the start of each phase.
The complete state (chains, costs, generator states, covariance accumulators, counters)
is a plain dict (:meth:`AdaptiveMetropolis.state_dict`) taken at block boundaries, so a
run restored from a checkpoint continues bitwise identically.
"""

from __future__ import annotations

import math
import os
import pickle
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from pysoc.errors import ConfigError, KernelError
from pysoc.io.atomic import atomic_path

STATE_VERSION = 1


@dataclass(frozen=True)
class AMSettings:
    """Settings of the adaptive Metropolis sampler (defaults of seeds 000/001/002)."""

    n_chains: int = 3
    n_test: int = 20000
    n_formal: int = 50000
    step_divisor: float = 5.0          #: D of the test run: max step = range / (2 D)
    t0: int = 4000                     #: formal-run iterations with the test-run covariance C0
    epsilon: float = 1e-8              #: ε of C_t (kp units squared)
    sd_scale: float = 2.38 ** 2        #: s_d = sd_scale / d
    adapt_interval: int = 10           #: refresh the proposal covariance every k iterations
    block_size: int = 1000             #: random numbers drawn and checkpoints taken per block
    tempering: bool = False            #: PRODA's Δcost·log(iter + 2) (not in the papers)
    scale_c0: bool = True              #: C0 = s_d (cov(test) + ε I); False: C0 = cov(test) + ε I
    max_start_tries: int = 100         #: redraws of a start point with a failing kernel

    def check(self) -> "AMSettings":
        if self.n_chains < 1 or self.n_test < 0 or self.n_formal < 1:
            raise ConfigError("mcmc: n_chains >= 1, n_test >= 0 and n_formal >= 1 are required")
        if self.step_divisor <= 0 or self.epsilon <= 0 or self.sd_scale <= 0:
            raise ConfigError("mcmc: step_divisor, epsilon and sd_scale must be positive")
        if self.adapt_interval < 1 or self.block_size < 1 or self.t0 < 0:
            raise ConfigError("mcmc: adapt_interval >= 1, block_size >= 1 and t0 >= 0 are required")
        return self


class State:
    """The current state of all chains: kp (nchain, d), cost (nchain,), phase (0 test,
    1 formal, 2 done) and iteration within the phase."""

    __slots__ = ("kp", "cost", "phase", "iteration")

    def __init__(self, kp, cost, phase=0, iteration=0):
        self.kp = kp
        self.cost = cost
        self.phase = phase
        self.iteration = iteration


# ---- moves ---------------------------------------------------------------------------------------
class UniformWalk:
    """Test-run move, seed 002 eq. 7: kp + r/D, r ~ U(−0.5, 0.5)."""

    def __init__(self, ndim: int, step_divisor: float):
        self.ndim = ndim
        self.scale = 1.0 / step_divisor

    def draw(self, gen: np.random.Generator, n: int) -> np.ndarray:
        return (gen.random((n, self.ndim)) - 0.5) * self.scale

    @staticmethod
    def propose(kp: np.ndarray, step: np.ndarray) -> np.ndarray:
        return kp + step

    def initial_covariance(self, epsilon: float) -> np.ndarray:
        """Covariance of one step (fallback C0 when a test run accepted too few states)."""
        return np.eye(self.ndim) * (self.scale ** 2 / 12.0 + epsilon)


class HaarioMove:
    """Formal-run move, seed 002 eq. 8 (Haario et al. 2001), one covariance per chain."""

    def __init__(self, ndim: int, nchain: int, settings: AMSettings):
        self.ndim, self.nchain = ndim, nchain
        self.sd = settings.sd_scale / ndim
        self.eps = settings.epsilon
        self.t0 = settings.t0
        self.interval = settings.adapt_interval
        self.C0 = np.broadcast_to(np.eye(ndim), (nchain, ndim, ndim)).copy()
        self.L = self.C0.copy()
        self.mean = np.zeros((nchain, ndim))
        self.M2 = np.zeros((nchain, ndim, ndim))
        self.count = 0
        self.n_factor_failures = 0

    def set_c0(self, C0: np.ndarray) -> None:
        self.C0 = np.asarray(C0, float).copy()
        self.L = self._factor(self.C0, self.L)

    def draw(self, gen: np.random.Generator, n: int) -> np.ndarray:
        return gen.standard_normal((n, self.ndim))

    def propose(self, kp: np.ndarray, z: np.ndarray) -> np.ndarray:
        return kp + np.matmul(self.L, z[..., None])[..., 0]

    def due(self, t: int) -> bool:
        return t >= self.t0 and (t - self.t0) % self.interval == 0

    def tune(self, history: np.ndarray) -> None:
        """history: the formal-run states so far (t, nchain, d); only the part not yet
        merged is read (recursive update of mean and scatter matrix)."""
        new = history[self.count:]
        k = new.shape[0]
        if k:
            mb = new.mean(axis=0)
            dev = new - mb
            M2b = np.einsum("kci,kcj->cij", dev, dev)
            n = self.count + k
            delta = mb - self.mean
            self.mean = self.mean + delta * (k / n)
            self.M2 = self.M2 + M2b + np.einsum("ci,cj->cij", delta, delta) * (self.count * k / n)
            self.count = n
        if self.count < 2:
            return
        C = self.sd * (self.M2 / (self.count - 1) + self.eps * np.eye(self.ndim))
        self.L = self._factor(C, self.L)

    def _factor(self, C: np.ndarray, previous: np.ndarray) -> np.ndarray:
        try:
            return np.linalg.cholesky(C)
        except np.linalg.LinAlgError:
            out = previous.copy()
            for c in range(C.shape[0]):
                try:
                    out[c] = np.linalg.cholesky(C[c])
                except np.linalg.LinAlgError:
                    self.n_factor_failures += 1
            return out

    def state_dict(self) -> dict:
        return {"C0": self.C0, "L": self.L, "mean": self.mean, "M2": self.M2, "count": self.count,
                "n_factor_failures": self.n_factor_failures}

    def load_state_dict(self, d: dict) -> None:
        for k, v in d.items():
            setattr(self, k, v.copy() if isinstance(v, np.ndarray) else v)


def dispersed_starts(gen: np.random.Generator, nchain: int, ndim: int) -> np.ndarray:
    """Latin-hypercube starts: per parameter, chain k lies in its own stratum of [0, 1]
    (within the central 80 % of the stratum), strata permuted per parameter."""
    out = np.empty((nchain, ndim))
    for j in range(ndim):
        perm = gen.permutation(nchain)
        out[:, j] = (perm + 0.1 + 0.8 * gen.random(nchain)) / nchain
    return out


# ---- sampler ---------------------------------------------------------------------------------------
class AdaptiveMetropolis:
    """Adaptive Metropolis over ``n_chains`` chains on the unit box.

    cost_fn(kp (n, d)) -> (n,) costs (+inf = invalid, rejected). ``chain_seeds``: one
    SeedSequence per chain; ``start_seed``: the SeedSequence of the dispersed starts.
    """

    def __init__(self, cost_fn: Callable[[np.ndarray], np.ndarray], ndim: int, settings: AMSettings,
                 chain_seeds, start_seed, start: np.ndarray | None = None):
        self.cost_fn = cost_fn
        self.ndim = int(ndim)
        self.settings = settings.check()
        c, d = settings.n_chains, self.ndim
        if len(chain_seeds) != c:
            raise ValueError("one SeedSequence per chain")
        self.gens = [np.random.Generator(np.random.PCG64(s)) for s in chain_seeds]
        self.start_gen = np.random.Generator(np.random.PCG64(start_seed))
        self.walk = UniformWalk(d, settings.step_divisor)
        self.haario = HaarioMove(d, c, settings)
        self.user_start = None if start is None else np.asarray(start, float).reshape(c, d)
        self.state: State | None = None
        self.test_kp = np.full((settings.n_test, c, d), np.nan)
        self.test_cost = np.full((settings.n_test, c), np.nan)
        self.test_acc = np.zeros((settings.n_test, c), bool)
        self.formal_kp = np.full((settings.n_formal, c, d), np.nan)
        self.formal_cost = np.full((settings.n_formal, c), np.nan)
        self.formal_acc = np.zeros((settings.n_formal, c), bool)
        self.n_outside = np.zeros((2, c), np.int64)   # proposals outside the box, per phase
        self.n_invalid = np.zeros((2, c), np.int64)   # kernel failures (cost = inf), per phase
        self.start_kp = None
        self.start_cost = None
        self.n_start_redraws = 0

    # ---- properties ---------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.state is not None and self.state.phase == 2

    @property
    def iterations_done(self) -> int:
        if self.state is None:
            return 0
        if self.state.phase == 2:
            return self.settings.n_test + self.settings.n_formal
        return self.state.iteration + (self.settings.n_test if self.state.phase == 1 else 0)

    @property
    def iterations_total(self) -> int:
        return self.settings.n_test + self.settings.n_formal

    def acceptance_rate(self, phase: int = 1) -> np.ndarray:
        acc = self.formal_acc if phase == 1 else self.test_acc
        n = acc.shape[0]
        return acc.sum(axis=0) / n if n else np.full(self.settings.n_chains, np.nan)

    # ---- running ------------------------------------------------------------------------------
    def _initialise(self) -> None:
        c, d = self.settings.n_chains, self.ndim
        kp = dispersed_starts(self.start_gen, c, d) if self.user_start is None else self.user_start.copy()
        cost = np.asarray(self.cost_fn(kp), float)
        tries = 0
        while not np.isfinite(cost).all():
            bad = ~np.isfinite(cost)
            if tries >= self.settings.max_start_tries:
                raise KernelError(f"no valid starting point for {int(bad.sum())} chain(s) after "
                                  f"{self.settings.max_start_tries} random redraws (every proposal fails in the kernel)")
            kp[bad] = 0.05 + 0.9 * self.start_gen.random((int(bad.sum()), d))
            cost[bad] = self.cost_fn(kp[bad])
            tries += 1
            self.n_start_redraws += int(bad.sum())
        self.start_kp, self.start_cost = kp.copy(), cost.copy()
        self.state = State(kp, cost, phase=0 if self.settings.n_test > 0 else 1, iteration=0)
        if self.state.phase == 1:
            self.haario.set_c0(np.broadcast_to(self.walk.initial_covariance(self.settings.epsilon), (c, d, d)))

    def run(self, callback: Callable[["AdaptiveMetropolis"], None] | None = None) -> "AdaptiveMetropolis":
        """Run (or continue) to the end; ``callback(self)`` after every block (checkpoints,
        progress, MPI service)."""
        if self.state is None:
            self._initialise()
        s = self.settings
        while self.state.phase < 2:
            phase, t = self.state.phase, self.state.iteration
            total = s.n_test if phase == 0 else s.n_formal
            nb = min(s.block_size, total - t)
            if nb > 0:
                self._block(phase, t, nb)
                self.state.iteration = t + nb
            if self.state.iteration >= total:
                if phase == 0:
                    self._end_test_run()
                else:
                    self.state.phase, self.state.iteration = 2, 0
            if callback is not None:
                callback(self)
        return self

    def _end_test_run(self) -> None:
        s, d = self.settings, self.ndim
        C0 = np.empty((s.n_chains, d, d))
        fallback = self.walk.initial_covariance(s.epsilon)
        for c in range(s.n_chains):
            acc = self.test_kp[self.test_acc[:, c], c]
            C0[c] = np.cov(acc, rowvar=False) + s.epsilon * np.eye(d) if acc.shape[0] > d else fallback
        if s.scale_c0:
            C0 *= self.haario.sd
        self.haario.set_c0(C0)
        self.state.phase, self.state.iteration = 1, 0

    def _block(self, phase: int, t0: int, nb: int) -> None:
        s = self.settings
        move = self.walk if phase == 0 else self.haario
        rnd = np.stack([move.draw(g, nb) for g in self.gens], axis=1)            # (nb, c, d)
        with np.errstate(divide="ignore"):
            logu = np.log(np.stack([g.random(nb) for g in self.gens], axis=1))    # (nb, c)
        rec_kp, rec_cost, rec_acc = ((self.test_kp, self.test_cost, self.test_acc) if phase == 0 else
                                     (self.formal_kp, self.formal_cost, self.formal_acc))
        x, J = self.state.kp, self.state.cost
        cost_fn = self.cost_fn
        tune = phase == 1
        haario = self.haario
        temper_offset = 0 if phase == 0 else s.n_test
        outside = np.zeros((nb, s.n_chains), bool)
        invalid = np.zeros((nb, s.n_chains), bool)
        inf = np.inf
        with np.errstate(invalid="ignore", over="ignore"):
            for i in range(nb):
                t = t0 + i
                if tune and haario.due(t):
                    haario.tune(rec_kp[:t])
                prop = move.propose(x, rnd[i])
                inb = (prop.min(axis=1) >= 0.0) & (prop.max(axis=1) <= 1.0)
                if inb.all():
                    Jn = cost_fn(prop)
                else:
                    Jn = np.full(s.n_chains, inf)
                    if inb.any():
                        Jn[inb] = cost_fn(prop[inb])
                    outside[i] = ~inb
                if s.tempering:
                    acc = logu[i] < (J - Jn) * math.log(temper_offset + t + 2)
                else:
                    acc = logu[i] < (J - Jn)
                if acc.any():
                    x = np.where(acc[:, None], prop, x)
                    J = np.where(acc, Jn, J)
                invalid[i] = inb & (Jn == inf)
                rec_kp[t] = x
                rec_cost[t] = J
                rec_acc[t] = acc
        self.state.kp, self.state.cost = x, J
        self.n_outside[phase] += outside.sum(axis=0)
        self.n_invalid[phase] += invalid.sum(axis=0)

    # ---- posterior --------------------------------------------------------------------------------
    def posterior(self, burn_in: float = 0.5, samples: str = "chain") -> np.ndarray:
        """Post-burn-in formal-run draws (nchain, n, d).

        samples='chain': the Markov chain (repeated states included), burn-in = the first
        ``burn_in`` fraction of the formal-run iterations (statistically correct).
        samples='accepted': the accepted states only, burn-in = the first ``burn_in``
        fraction of them (the PRODA / seed 001–002 convention); chains are cut to the
        shortest so that all have the same length (the last states are kept)."""
        if samples == "chain":
            start = int(math.floor(burn_in * self.settings.n_formal))
            return np.ascontiguousarray(self.formal_kp[start:].transpose(1, 0, 2))
        if samples != "accepted":
            raise ConfigError(f"posterior samples must be 'chain' or 'accepted', got {samples!r}")
        per = []
        for c in range(self.settings.n_chains):
            acc = self.formal_kp[self.formal_acc[:, c], c]
            per.append(acc[int(math.floor(burn_in * acc.shape[0])):])
        n = min(p.shape[0] for p in per)
        return np.stack([p[p.shape[0] - n:] for p in per]) if n else np.empty((len(per), 0, self.ndim))

    def posterior_cost(self, burn_in: float = 0.5, samples: str = "chain") -> np.ndarray:
        if samples == "chain":
            start = int(math.floor(burn_in * self.settings.n_formal))
            return np.ascontiguousarray(self.formal_cost[start:].T)
        per = []
        for c in range(self.settings.n_chains):
            acc = self.formal_cost[self.formal_acc[:, c], c]
            per.append(acc[int(math.floor(burn_in * acc.shape[0])):])
        n = min(p.shape[0] for p in per)
        return np.stack([p[p.shape[0] - n:] for p in per])

    # ---- checkpoint state -------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to continue bitwise identically (only the filled part of the
        chain arrays)."""
        st = self.state
        if st is None:
            return {"version": STATE_VERSION, "settings": asdict(self.settings), "ndim": self.ndim, "started": False}
        nt = self.settings.n_test if st.phase >= 1 else st.iteration
        nf = self.settings.n_formal if st.phase == 2 else (st.iteration if st.phase == 1 else 0)
        return {
            "version": STATE_VERSION, "settings": asdict(self.settings), "ndim": self.ndim, "started": True,
            "phase": st.phase, "iteration": st.iteration, "kp": st.kp.copy(), "cost": st.cost.copy(),
            "gens": [g.bit_generator.state for g in self.gens], "start_gen": self.start_gen.bit_generator.state,
            "haario": self.haario.state_dict(),
            "test": (self.test_kp[:nt].copy(), self.test_cost[:nt].copy(), self.test_acc[:nt].copy()),
            "formal": (self.formal_kp[:nf].copy(), self.formal_cost[:nf].copy(), self.formal_acc[:nf].copy()),
            "n_outside": self.n_outside.copy(), "n_invalid": self.n_invalid.copy(),
            "start_kp": self.start_kp, "start_cost": self.start_cost, "n_start_redraws": self.n_start_redraws,
        }

    def load_state_dict(self, d: dict) -> None:
        if d.get("version") != STATE_VERSION or d.get("ndim") != self.ndim or \
                d.get("settings") != asdict(self.settings):
            raise ConfigError("checkpoint was written with other sampler settings or another parameter set")
        if not d["started"]:
            return
        self.state = State(d["kp"].copy(), d["cost"].copy(), d["phase"], d["iteration"])
        for g, gs in zip(self.gens, d["gens"]):
            g.bit_generator.state = gs
        self.start_gen.bit_generator.state = d["start_gen"]
        self.haario.load_state_dict(d["haario"])
        for (kp, cost, acc), (dk, dc, da) in (((self.test_kp, self.test_cost, self.test_acc), d["test"]),
                                              ((self.formal_kp, self.formal_cost, self.formal_acc), d["formal"])):
            n = dk.shape[0]
            kp[:n], cost[:n], acc[:n] = dk, dc, da
        self.n_outside[:] = d["n_outside"]
        self.n_invalid[:] = d["n_invalid"]
        self.start_kp, self.start_cost = d["start_kp"], d["start_cost"]
        self.n_start_redraws = d["n_start_redraws"]


# ---- checkpoint backend -----------------------------------------------------------------------------
class CheckpointStore:
    """A directory of pickled objects written atomically (temporary file + rename), so a
    run killed at any moment leaves either the previous or the new version of a file."""

    def __init__(self, directory):
        self.dir = Path(directory)

    def path(self, key: str) -> Path:
        return self.dir / f"{key}.pkl"

    def save(self, key: str, obj) -> Path:
        path = self.path(key)
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
            fh.flush()
            os.fsync(fh.fileno())
        return path

    def load(self, key: str):
        path = self.path(key)
        if not path.is_file():
            return None
        with open(path, "rb") as fh:
            return pickle.load(fh)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def remove(self, key: str) -> None:
        try:
            self.path(key).unlink()
        except FileNotFoundError:
            pass

    def keys(self, prefix: str = "") -> list[str]:
        if not self.dir.is_dir():
            return []
        return sorted(p.stem for p in self.dir.glob(f"{prefix}*.pkl"))


__all__ = ["AMSettings", "State", "UniformWalk", "HaarioMove", "AdaptiveMetropolis", "dispersed_starts",
           "CheckpointStore"]

"""Population MCMC on the unit box of normalised parameters, model-agnostic.

The samplers sample ``p(kp) ∝ exp(−J(kp))`` for a cost function ``J(kp (n, d)) -> (n,)`` on
the unit box kp ∈ [0, 1]^d (uniform prior; ``J = +inf`` marks a failed kernel run, which is
rejected). All chains advance together and are evaluated in **one call per step**, which is
what makes the batched Fortran kernels fast. The pieces, in the style of emcee:

- a **space** in which the chains move: :class:`UnitBox` (kp itself; proposals outside the
  box are rejected without a model run) or :class:`LogitBox` (y = logit kp, unbounded, with
  the log Jacobian Σ log kp(1 − kp) in the log density, so that no proposal is wasted);
- **moves** (:mod:`pysoc.da.moves`) that draw the random numbers of a block and propose a
  step for all chains (``propose``) and may adapt (``tune``);
- one **state** (:class:`State`: coordinates, kp, cost, log density of every chain);
- **chain buffers** (:class:`ChainBuffer`) that grow by blocks, and a checkpoint
  **backend** (:class:`BlockBackend`) that appends the blocks written since the last
  checkpoint as one file and rewrites only a small state file, so that checkpoints cost
  what was added, not the whole run;
- the samplers: :class:`AdaptiveMetropolis` (the seed method: uniform test run + Haario
  formal run, spec methods.md §2) here, and :class:`pysoc.da.dream.DreamZS` (the default: a
  DREAM(ZS) population sampler with convergence-driven stopping).

Random numbers come from :class:`numpy.random.Generator` streams that the caller keys by
site and chain (never by MPI rank); they are drawn block by block, and checkpoints are taken
at block boundaries, so a run restored from a checkpoint continues bitwise identically.
"""

from __future__ import annotations

import math
import os
import pickle
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from scipy import special

from pysoc.da.diagnostics import thin_indices
from pysoc.da.moves import HaarioMove, Move, UniformWalk
from pysoc.errors import ConfigError, KernelError
from pysoc.io.atomic import atomic_path

STATE_VERSION = 2


# ---- spaces --------------------------------------------------------------------------------------------
class UnitBox:
    """Chains move in kp itself; proposals outside [0, 1]^d have zero prior density and are
    rejected without a model run (the seed method)."""

    name = "unit_box"
    has_jacobian = False

    @staticmethod
    def to_kp(x):
        return x

    @staticmethod
    def from_kp(kp):
        return np.asarray(kp, float).copy()

    @staticmethod
    def prepare(x):
        """kp, in-box mask and log Jacobian (None) of coordinates x (n, d)."""
        return x, (x.min(axis=1) >= 0.0) & (x.max(axis=1) <= 1.0), None

    @staticmethod
    def log_jacobian_kp(kp):
        return None


class LogitBox:
    """Chains move in y = logit(kp) ∈ R^d. The density of y is p(kp(y)) Π kp(1 − kp), so
    the log Jacobian Σ_j log kp_j(1 − kp_j) is added to −J; a uniform prior on the box is a
    product of standard logistic densities in y. Only coordinates so extreme that kp rounds
    to a bound (|y| > 36, prior density < 1e-15) are rejected, by their infinite Jacobian.
    (Computed from kp: log1p(−kp) loses relative precision only for |y| > 20, where the
    prior density is below 1e-8.)"""

    name = "logit"
    has_jacobian = True

    @staticmethod
    def to_kp(y):
        return special.expit(y)

    @staticmethod
    def from_kp(kp):
        return special.logit(np.asarray(kp, float))

    @staticmethod
    def prepare(y):
        """kp, in-box mask and log Jacobian of coordinates y (n, d)."""
        kp = special.expit(y)
        lj = (np.log(kp) + np.log1p(-kp)).sum(axis=1)
        return kp, np.isfinite(lj), lj

    @staticmethod
    def log_jacobian_kp(kp):
        return np.log(kp).sum(axis=1) + np.log1p(-kp).sum(axis=1)


SPACES = {"unit_box": UnitBox, "logit": LogitBox}


# ---- state and buffers ----------------------------------------------------------------------------------
class State:
    """The current state of all chains: coordinates ``x`` in the sampling space (nchain, d),
    ``kp`` (nchain, d), ``cost`` J (nchain,), log density ``lp`` in the sampling space,
    the phase and the iteration within the phase."""

    __slots__ = ("x", "kp", "cost", "lp", "phase", "iteration")

    def __init__(self, x, kp, cost, lp, phase=0, iteration=0):
        self.x, self.kp, self.cost, self.lp = x, kp, cost, lp
        self.phase, self.iteration = phase, iteration


class ChainBuffer:
    """Recorded chains of one phase: kp (t, nchain, d), cost (t, nchain), accepted
    (t, nchain), growing by blocks (capacity doubles). ``n`` rows are filled, ``flushed``
    of them are already in the checkpoint backend."""

    def __init__(self, nchain: int, ndim: int, capacity: int = 0):
        self.nchain, self.ndim = nchain, ndim
        self.kp = np.full((capacity, nchain, ndim), np.nan)
        self.cost = np.full((capacity, nchain), np.nan)
        self.acc = np.zeros((capacity, nchain), bool)
        self.n = 0
        self.flushed = 0

    def reserve(self, rows: int) -> None:
        need = self.n + rows
        cap = self.kp.shape[0]
        if need <= cap:
            return
        new = max(need, 2 * cap, 256)
        for name in ("kp", "cost", "acc"):
            old = getattr(self, name)
            arr = np.empty((new,) + old.shape[1:], dtype=old.dtype)   # rows >= n are written before use
            arr[:self.n] = old[:self.n]
            setattr(self, name, arr)

    def rows(self, start: int = 0, stop: int | None = None):
        stop = self.n if stop is None else stop
        return self.kp[start:stop], self.cost[start:stop], self.acc[start:stop]

    def append(self, kp, cost, acc) -> None:
        k = kp.shape[0]
        self.reserve(k)
        self.kp[self.n:self.n + k], self.cost[self.n:self.n + k], self.acc[self.n:self.n + k] = kp, cost, acc
        self.n += k


class GrowableArray:
    """Rows appended to a (capacity, d) array; ``view`` is the filled part."""

    def __init__(self, ndim: int, capacity: int = 256):
        self.data = np.empty((capacity, ndim))
        self.n = 0
        self.flushed = 0

    def append(self, rows: np.ndarray) -> None:
        k = rows.shape[0]
        if self.n + k > self.data.shape[0]:
            new = np.empty((max(2 * self.data.shape[0], self.n + k), self.data.shape[1]))
            new[:self.n] = self.data[:self.n]
            self.data = new
        self.data[self.n:self.n + k] = rows
        self.n += k

    @property
    def view(self) -> np.ndarray:
        return self.data[:self.n]


# ---- checkpoint backend -------------------------------------------------------------------------------
class BlockBackend:
    """Checkpoint of one sampler in a directory: ``chunk_<k>.npz`` holds the chain rows
    (and archive rows) recorded between two checkpoints, ``state.pkl`` the small state
    (generators, current state, adaptation, counters, and how many chunks are valid). Each
    checkpoint writes one new chunk and rewrites the state file, both atomically; a run
    killed at any moment leaves a consistent checkpoint (chunks not listed in the state
    are ignored and overwritten)."""

    def __init__(self, directory):
        self.dir = Path(directory)

    @property
    def state_path(self) -> Path:
        return self.dir / "state.pkl"

    def exists(self) -> bool:
        return self.state_path.is_file()

    def save(self, state: dict, chunk: dict | None) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        if chunk is not None:
            k = state["n_chunks"] - 1
            with atomic_path(self.dir / f"chunk_{k:05d}.npz") as tmp:
                with open(tmp, "wb") as fh:
                    np.savez(fh, **chunk)
                    fh.flush()
                    os.fsync(fh.fileno())
        with atomic_path(self.state_path) as tmp, open(tmp, "wb") as fh:
            pickle.dump(state, fh, protocol=pickle.HIGHEST_PROTOCOL)
            fh.flush()
            os.fsync(fh.fileno())

    def load(self) -> tuple[dict, list[dict]] | None:
        if not self.exists():
            return None
        with open(self.state_path, "rb") as fh:
            state = pickle.load(fh)
        chunks = []
        for k in range(state.get("n_chunks", 0)):
            with np.load(self.dir / f"chunk_{k:05d}.npz") as z:
                chunks.append({n: z[n] for n in z.files})
        return state, chunks

    def remove(self) -> None:
        if not self.dir.is_dir():
            return
        for p in self.dir.iterdir():
            if p.name == "state.pkl" or p.name.startswith("chunk_") or p.name.endswith(".part"):
                p.unlink(missing_ok=True)
        try:
            self.dir.rmdir()
        except OSError:
            pass


class CheckpointStore:
    """A directory of pickled objects written atomically (temporary file + rename), so a
    run killed at any moment leaves either the previous or the new version of a file.
    Sampler checkpoints live in :class:`BlockBackend` subdirectories (:meth:`backend`)."""

    def __init__(self, directory):
        self.dir = Path(directory)

    def path(self, key: str) -> Path:
        return self.dir / f"{key}.pkl"

    def backend(self, key: str) -> BlockBackend:
        return BlockBackend(self.dir / key)

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
        self.backend(key).remove()

    def keys(self, prefix: str = "") -> list[str]:
        if not self.dir.is_dir():
            return []
        return sorted(p.stem for p in self.dir.glob(f"{prefix}*.pkl"))


# ---- the generic sampler ---------------------------------------------------------------------------------
def dispersed_starts(gen: np.random.Generator, nchain: int, ndim: int) -> np.ndarray:
    """Latin-hypercube starts: per parameter, chain k lies in its own stratum of [0, 1]
    (within the central 80 % of the stratum), strata permuted per parameter."""
    out = np.empty((nchain, ndim))
    for j in range(ndim):
        perm = gen.permutation(nchain)
        out[:, j] = (perm + 0.1 + 0.8 * gen.random(nchain)) / nchain
    return out


class PopulationSampler:
    """Machinery shared by the samplers: evaluation of a population of proposals in one
    cost call, the Metropolis–Hastings step, recording into chain buffers, the start
    points, and checkpoints through a :class:`BlockBackend`.

    Subclasses define the phases (moves and lengths) in :meth:`run`, the checkpoint
    ``settings_dict`` and any extra state (``_extra_state`` / ``_load_extra``).
    """

    space = UnitBox
    per_chain_rng = True

    def __init__(self, cost_fn: Callable[[np.ndarray], np.ndarray], ndim: int, nchain: int):
        self.cost_fn = cost_fn
        self.ndim, self.nchain = int(ndim), int(nchain)
        self.state: State | None = None
        self.buffers: list[ChainBuffer] = []
        self.n_outside = np.zeros((1, nchain), np.int64)
        self.n_invalid = np.zeros((1, nchain), np.int64)
        self.n_evaluations = 0
        self.n_chunks = 0
        self.start_kp = None
        self.start_cost = None
        self.n_start_redraws = 0
        self.rngs: list[np.random.Generator] = []
        self.start_gen: np.random.Generator | None = None

    # ---- evaluation --------------------------------------------------------------------------------
    def _evaluate(self, x: np.ndarray):
        """kp, cost, log density and the in-box mask of proposals x (n, d)."""
        kp, inb, lj = self.space.prepare(x)
        if inb.all():
            J = np.asarray(self.cost_fn(kp), float)
            self.n_evaluations += kp.shape[0]
        else:
            J = np.full(kp.shape[0], np.inf)
            if inb.any():
                J[inb] = self.cost_fn(kp[inb])
                self.n_evaluations += int(inb.sum())
        lp = -J if lj is None else lj - J
        return kp, J, lp, inb

    def _initialise(self, kp0: np.ndarray | None, max_tries: int, phase: int) -> None:
        c, d = self.nchain, self.ndim
        kp = dispersed_starts(self.start_gen, c, d) if kp0 is None else np.asarray(kp0, float).reshape(c, d).copy()
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            cost = np.asarray(self.cost_fn(kp), float)
        self.n_evaluations += c
        tries = 0
        while not np.isfinite(cost).all():
            bad = ~np.isfinite(cost)
            if tries >= max_tries:
                raise KernelError(f"no valid starting point for {int(bad.sum())} chain(s) after "
                                  f"{max_tries} random redraws (every proposal fails in the kernel)")
            kp[bad] = 0.05 + 0.9 * self.start_gen.random((int(bad.sum()), d))
            with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
                cost[bad] = self.cost_fn(kp[bad])
            self.n_evaluations += int(bad.sum())
            tries += 1
            self.n_start_redraws += int(bad.sum())
        self.start_kp, self.start_cost = kp.copy(), cost.copy()
        x = self.space.from_kp(kp)
        lj = self.space.log_jacobian_kp(kp)
        lp = -cost if lj is None else lj - cost
        self.state = State(x, kp, cost, lp, phase=phase, iteration=0)

    def _logu(self, nb: int) -> np.ndarray:
        with np.errstate(divide="ignore"):
            if self.per_chain_rng:
                return np.log(np.stack([g.random(nb) for g in self.rngs], axis=1))
            return np.log(self.rngs[0].random((nb, self.nchain)))

    def _block(self, move: Move, buf: ChainBuffer, phase: int, t0: int, nb: int, temper_offset=None,
               after_step=None):
        """Run ``nb`` steps of ``move`` from step ``t0`` of the phase, recording into ``buf``
        (rows t0 .. t0 + nb − 1). Returns the block's random numbers (for adaptation).

        The loop keeps Python to a minimum: the state arrays are updated in place, the
        chains are recorded in the sampling coordinates and mapped to kp once per block,
        and the counts of proposals outside the box / failing in the kernel are taken
        from per-block scratch arrays."""
        rnd = move.draw(self.rngs, nb)
        logu = self._logu(nb)
        buf.reserve(nb)
        st = self.state
        x, J, lp = st.x.copy(), st.cost.copy(), st.lp.copy()
        before = move.adapts_before_step
        rec_x, rec_cost, rec_acc = buf.kp, buf.cost, buf.acc
        scratch_J = np.empty((nb, self.nchain))
        scratch_in = np.empty((nb, self.nchain), bool)
        evaluate, propose, copyto = self._evaluate, move.propose, np.copyto
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            for i in range(nb):
                t = t0 + i
                if before:
                    move.before_step(t, rec_x)
                prop, logh = propose(x, rnd, i)
                _, Jn, lpn, inb = evaluate(prop)
                delta = lpn - lp
                if logh is not None:
                    delta = delta + logh
                if temper_offset is not None:
                    delta = delta * math.log(temper_offset + t + 2)
                acc = logu[i] < delta
                if acc.any():
                    copyto(x, prop, where=acc[:, None])
                    copyto(J, Jn, where=acc)
                    copyto(lp, lpn, where=acc)
                rec_x[t] = x
                rec_cost[t] = J
                rec_acc[t] = acc
                scratch_J[i] = Jn
                scratch_in[i] = inb
                if after_step is not None:
                    after_step(t, x)
        if self.space.has_jacobian:                       # recorded in y: kp once per block
            rec_x[t0:t0 + nb] = self.space.to_kp(rec_x[t0:t0 + nb])
        st.x, st.cost, st.lp = x, J, lp
        st.kp = self.space.to_kp(x) if self.space.has_jacobian else x
        buf.n = max(buf.n, t0 + nb)
        self.n_outside[phase] += (~scratch_in).sum(axis=0)
        self.n_invalid[phase] += (scratch_in & (scratch_J == np.inf)).sum(axis=0)
        return rnd

    # ---- checkpoints -----------------------------------------------------------------------------------
    def settings_dict(self) -> dict:
        raise NotImplementedError

    def _extra_state(self) -> dict:
        return {}

    def _load_extra(self, d: dict) -> None:
        pass

    def _extra_chunk(self) -> dict:
        return {}

    def _load_extra_chunks(self, chunks: list[dict]) -> None:
        pass

    def state_dict(self) -> dict:
        """The small state (everything but the recorded chains)."""
        st = self.state
        base = {"version": STATE_VERSION, "sampler": type(self).__name__, "settings": self.settings_dict(),
                "ndim": self.ndim, "nchain": self.nchain, "started": st is not None}
        if st is None:
            return base
        base.update({
            "phase": st.phase, "iteration": st.iteration, "x": st.x.copy(), "kp": st.kp.copy(),
            "cost": st.cost.copy(), "lp": st.lp.copy(),
            "rngs": [g.bit_generator.state for g in self.rngs], "start_gen": self.start_gen.bit_generator.state,
            "rows": [b.n for b in self.buffers], "n_outside": self.n_outside.copy(),
            "n_invalid": self.n_invalid.copy(), "n_evaluations": self.n_evaluations,
            "start_kp": self.start_kp, "start_cost": self.start_cost, "n_start_redraws": self.n_start_redraws,
        })
        base.update(self._extra_state())
        return base

    def checkpoint(self, backend: BlockBackend, extra: dict | None = None) -> None:
        """Append what was recorded since the last checkpoint and rewrite the small state."""
        chunk = {}
        for k, b in enumerate(self.buffers):
            kp, cost, acc = b.rows(b.flushed)
            chunk[f"kp{k}"], chunk[f"cost{k}"], chunk[f"acc{k}"] = kp, cost, acc
        chunk.update(self._extra_chunk())
        self.n_chunks += 1
        state = self.state_dict()
        state["n_chunks"] = self.n_chunks
        state["extra"] = extra or {}
        backend.save(state, chunk)
        for b in self.buffers:
            b.flushed = b.n
        self._mark_flushed()

    def _mark_flushed(self) -> None:
        pass

    def restore(self, backend: BlockBackend, extra_check: Callable[[dict], bool] | None = None) -> bool:
        """Continue from a checkpoint; False (nothing changed) when there is none, or when
        ``extra_check(extra)`` rejects it. A checkpoint of other settings is an error."""
        loaded = backend.load()
        if loaded is None:
            return False
        state, chunks = loaded
        if extra_check is not None and not extra_check(state.get("extra", {})):
            return False
        self.load_state_dict(state)
        for k, b in enumerate(self.buffers):
            b.n = 0
            for ch in chunks:
                b.append(ch[f"kp{k}"], ch[f"cost{k}"], ch[f"acc{k}"])
            b.flushed = b.n
            if b.n != state["rows"][k]:
                raise ConfigError(f"{backend.dir}: checkpoint is incomplete (chain rows {b.n} != {state['rows'][k]})")
        self._load_extra_chunks(chunks)
        self.n_chunks = state["n_chunks"]
        return True

    def load_state_dict(self, d: dict) -> None:
        if d.get("version") != STATE_VERSION or d.get("sampler") != type(self).__name__ or \
                d.get("ndim") != self.ndim or d.get("settings") != self.settings_dict():
            raise ConfigError("checkpoint was written with other sampler settings or another parameter set")
        if not d["started"]:
            return
        self.state = State(d["x"].copy(), d["kp"].copy(), d["cost"].copy(), d["lp"].copy(), d["phase"],
                           d["iteration"])
        for g, gs in zip(self.rngs, d["rngs"]):
            g.bit_generator.state = gs
        self.start_gen.bit_generator.state = d["start_gen"]
        self.n_outside[:] = d["n_outside"]
        self.n_invalid[:] = d["n_invalid"]
        self.n_evaluations = d["n_evaluations"]
        self.start_kp, self.start_cost = d["start_kp"], d["start_cost"]
        self.n_start_redraws = d["n_start_redraws"]
        self._load_extra(d)


# ---- adaptive Metropolis (seed method) ----------------------------------------------------------------
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


class AdaptiveMetropolis(PopulationSampler):
    """Adaptive Metropolis over ``n_chains`` independent chains on the unit box (spec
    methods.md §2; seeds 000 §2.3, 002 eq. 6–8; Haario et al. 2001).

    1. **Test run** (``n_test`` iterations): move :class:`~pysoc.da.moves.UniformWalk`.
    2. **Formal run** (``n_formal`` iterations): move :class:`~pysoc.da.moves.HaarioMove`
       with ``C_t = C0`` for t < t0, where C0 = s_d (cov + ε I) of the accepted test-run
       states of the chain (``scale_c0``), then the adapted covariance.
    3. Acceptance ``min(1, exp(−(J_new − J_old)))``; optionally PRODA's ``·log(iter + 2)``
       tempering (off by default; not in the papers).

    One generator per chain (``chain_seeds``), drawn in blocks of ``block_size``
    iterations aligned to the start of each phase; ``start_seed`` gives the dispersed
    starts.

    Parameters
    ----------
    cost_fn : callable
        ``cost_fn(kp (n, d)) -> (n,)`` costs; +inf marks an invalid kernel run.
    ndim : int
        Number of calibrated parameters d.
    settings : AMSettings
    chain_seeds : sequence of numpy.random.SeedSequence
        One per chain.
    start_seed : numpy.random.SeedSequence
    start : array_like, optional
        Start points (n_chains, d); dispersed Latin-hypercube starts by default.
    """

    space = UnitBox
    per_chain_rng = True

    def __init__(self, cost_fn, ndim: int, settings: AMSettings, chain_seeds, start_seed, start=None):
        self.settings = settings.check()
        super().__init__(cost_fn, ndim, settings.n_chains)
        c, d = settings.n_chains, self.ndim
        if len(chain_seeds) != c:
            raise ValueError("one SeedSequence per chain")
        self.rngs = [np.random.Generator(np.random.PCG64(s)) for s in chain_seeds]
        self.start_gen = np.random.Generator(np.random.PCG64(start_seed))
        self.walk = UniformWalk(d, settings.step_divisor)
        self.haario = HaarioMove(d, c, settings)
        self.user_start = None if start is None else np.asarray(start, float).reshape(c, d)
        self.buffers = [ChainBuffer(c, d, settings.n_test), ChainBuffer(c, d, settings.n_formal)]
        self.n_outside = np.zeros((2, c), np.int64)   # proposals outside the box, per phase
        self.n_invalid = np.zeros((2, c), np.int64)   # kernel failures (cost = inf), per phase

    # ---- recorded chains (full length once the run is complete) ------------------------------------
    @property
    def test_kp(self):
        return self.buffers[0].kp

    @property
    def test_cost(self):
        return self.buffers[0].cost

    @property
    def test_acc(self):
        return self.buffers[0].acc

    @property
    def formal_kp(self):
        return self.buffers[1].kp

    @property
    def formal_cost(self):
        return self.buffers[1].cost

    @property
    def formal_acc(self):
        return self.buffers[1].acc

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

    # ---- running --------------------------------------------------------------------------------------
    def _initialise_am(self) -> None:
        s = self.settings
        self._initialise(self.user_start, s.max_start_tries, phase=0 if s.n_test > 0 else 1)
        if self.state.phase == 1:
            c, d = s.n_chains, self.ndim
            self.haario.set_c0(np.broadcast_to(self.walk.initial_covariance(s.epsilon), (c, d, d)))

    def run(self, callback: Callable[["AdaptiveMetropolis"], None] | None = None) -> "AdaptiveMetropolis":
        """Run (or continue) to the end; ``callback(self)`` after every block (checkpoints,
        progress, MPI service)."""
        if self.state is None:
            self._initialise_am()
        s = self.settings
        while self.state.phase < 2:
            phase, t = self.state.phase, self.state.iteration
            total = s.n_test if phase == 0 else s.n_formal
            nb = min(s.block_size, total - t)
            if nb > 0:
                move = self.walk if phase == 0 else self.haario
                offset = (0 if phase == 0 else s.n_test) if s.tempering else None
                self._block(move, self.buffers[phase], phase, t, nb, temper_offset=offset)
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

    # ---- posterior --------------------------------------------------------------------------------
    def posterior(self, burn_in: float = 0.5, samples: str = "chain") -> np.ndarray:
        """Post-burn-in formal-run draws (nchain, n, d).

        samples='chain': the Markov chain (repeated states included), burn-in = the first
        ``burn_in`` fraction of the formal-run iterations (statistically correct).
        samples='accepted': the accepted states only, burn-in = the first ``burn_in``
        fraction of them (the PRODA / seed 001–002 convention); chains are cut to the
        shortest so that all have the same length (the last states are kept)."""
        return self._posterior(self.formal_kp, burn_in, samples)

    def posterior_cost(self, burn_in: float = 0.5, samples: str = "chain") -> np.ndarray:
        return self._posterior(self.formal_cost[..., None], burn_in, samples)[..., 0]

    def _posterior(self, arr, burn_in, samples):
        if samples == "chain":
            start = int(math.floor(burn_in * self.settings.n_formal))
            return np.ascontiguousarray(arr[start:].transpose(1, 0, 2))
        if samples != "accepted":
            raise ConfigError(f"posterior samples must be 'chain' or 'accepted', got {samples!r}")
        per = []
        for c in range(self.settings.n_chains):
            acc = arr[self.formal_acc[:, c], c]
            per.append(acc[int(math.floor(burn_in * acc.shape[0])):])
        n = min(p.shape[0] for p in per)
        return np.stack([p[p.shape[0] - n:] for p in per]) if n else np.empty((len(per), 0, arr.shape[2]))

    def trace(self, k: int = 400):
        """Thinned trace of the whole run (test run, then formal run): kp (nchain, k, d),
        cost (nchain, k) and the iteration numbers (k,)."""
        kp = np.concatenate([self.test_kp, self.formal_kp], axis=0)
        cost = np.concatenate([self.test_cost, self.formal_cost], axis=0)
        i = thin_indices(kp.shape[0], k)
        return kp[i].transpose(1, 0, 2), cost[i].T, i

    # ---- checkpoint state -------------------------------------------------------------------------
    def settings_dict(self) -> dict:
        return asdict(self.settings)

    def _extra_state(self) -> dict:
        return {"haario": self.haario.state_dict()}

    def _load_extra(self, d: dict) -> None:
        self.haario.load_state_dict(d["haario"])


__all__ = ["AMSettings", "State", "UniformWalk", "HaarioMove", "AdaptiveMetropolis", "PopulationSampler",
           "dispersed_starts", "CheckpointStore", "BlockBackend", "ChainBuffer", "GrowableArray", "UnitBox",
           "LogitBox", "SPACES"]

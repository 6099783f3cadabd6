"""DREAM(ZS): the default calibration sampler — a differential-evolution population sampler
with an archive of past states, batched over chains, that stops when it has converged.

Why this method (docs/calibration.md has the measurements): soil-carbon posteriors have
10–30 correlated, partly unidentified parameters. Differential evolution proposals take
their direction and scale from differences of past states, so they follow correlations
and scale without a covariance estimate; the archive (ter Braak and Vrugt 2008) lets a
modest population sample a 21-dimensional posterior; randomised subspace (crossover)
sampling with adapted crossover probabilities (Vrugt 2016) is what keeps the acceptance
useful in high dimension. All chains of a site advance together and are evaluated in one
batched kernel call per generation.

Algorithm (one generation = one proposal per chain):

1. Start: ``n_chains`` dispersed Latin-hypercube points (redrawn where the kernel fails);
   the archive Z holds ``archive_init`` (default 10 d) prior draws.
2. Chains move in y = logit(kp) (:class:`~pysoc.da.sampler.LogitBox`); the log density is
   −J(kp) + Σ log kp(1 − kp), so proposals never leave the prior box.
3. Proposals: :class:`~pysoc.da.moves.DEMove` (parallel direction with crossover, unit
   jumps, snooker); Metropolis–Hastings acceptance. Every ``archive_thin`` generations the
   current states join the archive.
4. Every check (first after ``min_generations``, then whenever the run has grown by
   ``check_growth``): the window is the last ``1 − burn_in`` of the generations, starting no
   earlier than the end of adaptation; ``draws_per_chain`` evenly spaced draws of each
   chain in the window are the posterior, and the run stops when every parameter has
   rank-normalised split-R̂ ≤ ``rhat_target`` and bulk ESS ≥ ``ess_target`` on those draws
   (the same draws are written to the output, so ArviZ gives the same numbers), or when
   ``max_evaluations`` is spent.
5. Adaptation (crossover probabilities; chains stuck in a low-density region reset to the
   best chain, Vrugt 2016's interquartile-range rule) happens at checks only until the
   window's R̂ first falls below ``adapt_rhat``; the window never includes it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from pysoc.da import convergence as cv
from pysoc.da.moves import DEMove
from pysoc.da.sampler import ChainBuffer, GrowableArray, LogitBox, PopulationSampler, thin_indices
from pysoc.errors import ConfigError

STOP_REASONS = ("converged", "max_evaluations")


@dataclass(frozen=True)
class DreamSettings:
    """Settings of :class:`DreamZS` (namelist group ``&mcmc``; defaults in brackets)."""

    n_chains: int = 24            #: chains of the population, evaluated together
    delta_max: int = 1            #: pairs of archive differences per proposal, δ ~ U{1..delta_max}
    n_cr: int = 1                 #: crossover values CR = m / n_cr (1: no crossover, all coordinates move)
    p_unit: float = 0.2           #: probability of a unit jump rate (γ = 1, all coordinates)
    p_snooker: float = 0.1        #: probability of a snooker update
    c_lambda: float = 0.1         #: λ ~ U(−c, c) per coordinate
    c_zeta: float = 1e-6          #: ζ ~ N(0, c*²) per coordinate (logit units)
    jump_scale: float = 1.0       #: β0: γ = β0 2.38 / sqrt(2 δ d')
    archive_recent: float = 0.5   #: proposals draw from the archive rows of the generations >= r t (0: all)
    archive_thin: int = 10        #: states join the archive every k generations
    archive_init: int = 0         #: prior draws in the initial archive (0: 10 d)
    rhat_target: float = 1.05
    ess_target: float = 400.0
    burn_in: float = 0.25         #: fraction of the generations discarded (never less than the adaptation)
    draws_per_chain: int = 100    #: posterior draws per chain (evenly spaced in the window)
    min_generations: int = 500
    max_evaluations: int = 2_000_000
    check_growth: float = 0.2     #: next check when the run has grown by this fraction
    check_min: int = 100          #: ... and by at least this many generations
    block_size: int = 1000        #: generations per block of random numbers (checkpoints between blocks)
    adapt_rhat: float = 1.2       #: adaptation stops when the window's max R̂ first falls below
    outlier_iqr: float = 2.0      #: chains with mean log density < Q1 − k IQR are reset (0: never)
    max_start_tries: int = 100

    def check(self) -> "DreamSettings":
        def bad(key, rule, value):
            raise ConfigError(f"mcmc: {key} = {value!r}: must be {rule}")
        if self.n_chains < 4:
            bad("n_chains", ">= 4 for the dream_zs sampler (split-R-hat needs several chains; 24 by default)",
                self.n_chains)
        if not self.rhat_target >= 1.0:
            bad("rhat_target", ">= 1 (rank-normalised split-R-hat is >= 1; the seeds use 1.05)", self.rhat_target)
        if not self.ess_target > 0:
            bad("ess_target", "> 0 (bulk effective sample size; 400 recommended)", self.ess_target)
        if self.delta_max < 1:
            bad("delta_max", ">= 1", self.delta_max)
        if self.n_cr < 1:
            bad("n_cr", ">= 1", self.n_cr)
        for key in ("p_unit", "p_snooker"):
            v = getattr(self, key)
            if not 0.0 <= v <= 1.0:
                bad(key, "in [0, 1]", v)
        if self.p_unit + self.p_snooker > 1.0:
            bad("p_unit + p_snooker", "<= 1", self.p_unit + self.p_snooker)
        if self.archive_thin < 1:
            bad("archive_thin", ">= 1", self.archive_thin)
        if not 0.0 <= self.archive_recent < 1.0:
            bad("archive_recent", "in [0, 1)", self.archive_recent)
        if not 0.0 <= self.burn_in < 1.0:
            bad("burn_in", "in [0, 1)", self.burn_in)
        if self.draws_per_chain < 4:
            bad("draws_saved", ">= 4 per chain for the dream_zs diagnostics", self.draws_per_chain)
        if self.ess_target > 0.8 * self.n_chains * self.draws_per_chain:
            bad("ess_target", f"<= 0.8 n_chains x draws_saved = {0.8 * self.n_chains * self.draws_per_chain:g} (the ESS "
                f"is measured on the saved draws; raise draws_saved or n_chains)", self.ess_target)
        if self.min_generations < 8:
            bad("min_generations", ">= 8", self.min_generations)
        if self.max_evaluations < self.n_chains * self.min_generations:
            bad("max_evaluations", f">= n_chains x min_generations = {self.n_chains * self.min_generations}",
                self.max_evaluations)
        if self.block_size < 1:
            bad("block_size", ">= 1", self.block_size)
        if self.check_growth <= 0 or self.check_min < 1:
            bad("check_growth / check_min", "> 0 / >= 1", (self.check_growth, self.check_min))
        if self.archive_init and self.archive_init < 2 * self.delta_max + 1:
            bad("archive_init", f">= 2 delta_max + 1 = {2 * self.delta_max + 1} (or 0 for 10 d)", self.archive_init)
        return self


class DreamZS(PopulationSampler):
    """DREAM(ZS) over ``n_chains`` chains with convergence-driven stopping.

    Parameters
    ----------
    cost_fn : callable
        ``cost_fn(kp (n, d)) -> (n,)``; +inf marks an invalid kernel run (rejected).
    ndim : int
        Number of calibrated parameters d.
    settings : DreamSettings
    seed : numpy.random.SeedSequence
        The population's stream (the caller keys it by site, never by MPI rank).
    start : array_like, optional
        Start points (n_chains, d) in kp; dispersed Latin-hypercube starts by default.

    Examples
    --------
    >>> import numpy as np
    >>> s = DreamSettings(n_chains=8, min_generations=400, ess_target=200, max_evaluations=200_000)
    >>> cost = lambda kp: 0.5 * (((kp - 0.5) / 0.1) ** 2).sum(axis=1)
    >>> dz = DreamZS(cost, 3, s, np.random.SeedSequence(1)).run()
    >>> dz.stop_reason, bool(np.all(np.abs(dz.posterior().mean(axis=(0, 1)) - 0.5) < 0.02))
    ('converged', True)
    """

    space = LogitBox
    per_chain_rng = False

    def __init__(self, cost_fn: Callable[[np.ndarray], np.ndarray], ndim: int, settings: DreamSettings, seed,
                 start=None):
        self.settings = settings.check()
        super().__init__(cost_fn, ndim, settings.n_chains)
        s, d = self.settings, self.ndim
        root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        run_seed, start_seed = root.spawn(2)
        self.rngs = [np.random.Generator(np.random.PCG64(run_seed))]
        self.start_gen = np.random.Generator(np.random.PCG64(start_seed))
        self.move = DEMove(d, s.n_chains, s.delta_max, s.n_cr, s.p_unit, s.p_snooker, s.c_lambda, s.c_zeta,
                           s.jump_scale)
        self.user_start = None if start is None else np.asarray(start, float).reshape(s.n_chains, d)
        self.buffers = [ChainBuffer(s.n_chains, d, 0)]
        self.archive = GrowableArray(d, max(256, 4 * self._m0()))
        self.adapting = True
        self.adapt_end = 0                 #: generation at which adaptation stopped
        self.last_reset = 0                #: generation of the last outlier reset
        self.n_resets = 0
        self.next_check = s.min_generations
        self.stop_reason = ""
        self.history: list[tuple] = []     #: (generation, max R-hat, min bulk ESS) at each check
        self.last_diagnostics: dict = {}
        self.n_accepted = np.zeros(s.n_chains, np.int64)

    def _m0(self) -> int:
        return self.settings.archive_init or 10 * self.ndim

    # ---- progress -------------------------------------------------------------------------------------
    @property
    def generations(self) -> int:
        return self.buffers[0].n

    @property
    def done(self) -> bool:
        return bool(self.stop_reason)

    @property
    def max_generations(self) -> int:
        return self.settings.max_evaluations // self.nchain

    @property
    def iterations_done(self) -> int:
        return self.generations

    @property
    def iterations_total(self) -> int:
        return self.max_generations

    def acceptance_rate(self, phase: int = 1) -> np.ndarray:
        """Acceptance rate per chain over the posterior window."""
        lo, hi = self.window()
        acc = self.buffers[0].acc[lo:hi]
        return acc.mean(axis=0) if hi > lo else np.full(self.nchain, np.nan)

    # ---- running --------------------------------------------------------------------------------------
    def _start(self) -> None:
        s, d = self.settings, self.ndim
        self._initialise(self.user_start, s.max_start_tries, phase=1)
        m0 = self._m0()
        kp0 = (np.arange(m0)[:, None] + self.start_gen.random((m0, d))) / m0      # Latin hypercube
        for j in range(d):
            kp0[:, j] = kp0[self.start_gen.permutation(m0), j]
        self.archive.append(self.space.from_kp(kp0))
        self._set_archive()

    def _set_archive(self) -> None:
        self.move.archive = self.archive.data[:self.archive.n]

    def run(self, callback: Callable[["DreamZS"], None] | None = None) -> "DreamZS":
        """Run (or continue) until converged or out of budget; ``callback(self)`` after every
        block (checkpoints, progress, MPI service)."""
        if self.state is None:
            self._start()
        self._set_archive()
        s = self.settings
        while not self.stop_reason:
            target = min(self.next_check, self.max_generations)
            while self.generations < target:
                self._run_block(min(s.block_size, target - self.generations))
                if self.generations < target and callback is not None:
                    callback(self)
            self._check()
            if callback is not None:
                callback(self)
        return self

    def _run_block(self, nb: int) -> None:
        T = self.generations
        s = self.settings
        if self.archive.n != self._m0() + self.nchain * (T // s.archive_thin):
            raise ConfigError("internal: archive rows out of step with the generations")
        self.move.schedule = (T, self._m0(), self.nchain, s.archive_thin, s.archive_recent,
                              max(2 * s.delta_max + 1, 2 * self.ndim))
        kp0 = self.state.kp.copy()
        scale = kp0.std(axis=0) if self.adapting else None
        rnd = self._block(self.move, self.buffers[0], 0, T, nb, after_step=self._after_step)
        kp, _, acc = self.buffers[0].rows(T, T + nb)
        self.n_accepted += acc.sum(axis=0)
        if self.adapting:
            steps = np.diff(np.concatenate([kp0[None], kp]), axis=0)
            with np.errstate(divide="ignore", invalid="ignore"):
                jumps = ((steps / np.where(scale > 0, scale, np.inf)) ** 2).sum(axis=2)
            self.move.record_block(rnd, jumps, acc)

    def _after_step(self, t: int, x: np.ndarray) -> None:
        if (t + 1) % self.settings.archive_thin == 0:
            self.archive.append(x)
            self._set_archive()

    # ---- convergence ---------------------------------------------------------------------------------------
    def window(self) -> tuple[int, int]:
        """[first, last) generations of the posterior window: the last ``1 − burn_in`` of the
        run, never starting before the end of adaptation — except when the budget ran out
        while still adapting: then the run is flagged not converged, and its last
        ``1 − burn_in`` is returned anyway so that the user can look at it."""
        T = self.generations
        out_of_budget = self.stop_reason == "max_evaluations"
        adapt = T if (self.adapting and not out_of_budget) else (0 if self.adapting else self.adapt_end)
        lo = max(int(math.floor(self.settings.burn_in * T)), adapt, self.last_reset)
        return min(lo, T), T

    def draw_indices(self) -> np.ndarray:
        lo, hi = self.window()
        n = hi - lo
        k = min(self.settings.draws_per_chain, n)
        if k <= 0:
            return np.zeros(0, np.intp)
        return lo + np.floor((np.arange(k) + 0.5) * n / k).astype(np.intp)

    def _check(self) -> None:
        s = self.settings
        T = self.generations
        buf = self.buffers[0]
        if self.adapting:
            self.move.adapt()
            self._reset_outliers(T)
        lo_adapt = max(int(math.floor(s.burn_in * T)), self.last_reset)
        if self.adapting and T - lo_adapt >= 8:
            idx = lo_adapt + np.floor((np.arange(min(s.draws_per_chain, T - lo_adapt)) + 0.5) *
                                      (T - lo_adapt) / min(s.draws_per_chain, T - lo_adapt)).astype(np.intp)
            r = cv.split_rhat(buf.kp[idx].transpose(1, 0, 2))
            if np.isfinite(r).all() and r.max() <= s.adapt_rhat:
                self.adapting = False
                self.adapt_end = T
        diag = {"rhat": np.full(self.ndim, np.nan), "ess_bulk": np.full(self.ndim, np.nan)}
        idx = self.draw_indices()
        if not self.adapting and idx.size >= 8:
            diag = cv.summary(buf.kp[idx].transpose(1, 0, 2))
        self.last_diagnostics = diag
        rmax = float(np.max(diag["rhat"])) if np.isfinite(diag["rhat"]).all() else float("inf")
        emin = float(np.min(diag["ess_bulk"])) if np.isfinite(diag["ess_bulk"]).all() else 0.0
        self.history.append((T, rmax, emin))
        if rmax <= s.rhat_target and emin >= s.ess_target and idx.size >= s.draws_per_chain:
            self.stop_reason = "converged"
        elif T >= self.max_generations:
            self.stop_reason = "max_evaluations"
        else:
            self.next_check = self._next_check(T, emin, rmax)

    def _next_check(self, T: int, ess: float, rhat: float) -> int:
        """Generation of the next check: where the window should hold ``ess_target`` if the
        ESS keeps growing in proportion to the window length (with a 10 % margin), bounded
        to [5 %, 100 %] growth; ``check_growth`` while adapting or without an ESS."""
        s = self.settings
        grow = T * (1.0 + s.check_growth)
        if not self.adapting and ess > 0 and rhat <= 1.2:
            lo, hi = self.window()
            need = (hi - lo) * 1.1 * s.ess_target / ess
            grow = max(self.adapt_end + need, need / (1.0 - s.burn_in))
            grow = min(max(grow, T * 1.05), T * 2.0)
        return int(min(self.max_generations, max(T + s.check_min, math.ceil(grow))))

    def _reset_outliers(self, T: int) -> None:
        """Vrugt 2016's IQR rule on the mean log density of each chain over the last half."""
        k = self.settings.outlier_iqr
        if k <= 0 or T < 20:
            return
        buf = self.buffers[0]
        lo = max(T // 2, self.last_reset)
        if T - lo < 10:
            return
        with np.errstate(invalid="ignore"):
            mean_lp = -buf.cost[lo:T].mean(axis=0)
        if not np.isfinite(mean_lp).all():
            return
        q1, q3 = np.percentile(mean_lp, [25, 75])
        # an absolute margin too: in d dimensions the log density of a chain that samples the
        # posterior fluctuates by about sqrt(d / 2), so chains are reset only when clearly stuck
        out = mean_lp < q1 - max(k * (q3 - q1), 2.0 * math.sqrt(self.ndim / 2.0))
        if not out.any():
            return
        st = self.state
        best = int(np.argmax(st.lp))
        st.x[out], st.kp[out], st.cost[out], st.lp[out] = st.x[best], st.kp[best], st.cost[best], st.lp[best]
        self.n_resets += int(out.sum())
        self.last_reset = T

    # ---- posterior ------------------------------------------------------------------------------------
    def posterior(self) -> np.ndarray:
        """The posterior draws (nchain, draws_per_chain, d) in kp: evenly spaced in the window."""
        return np.ascontiguousarray(self.buffers[0].kp[self.draw_indices()].transpose(1, 0, 2))

    def posterior_cost(self) -> np.ndarray:
        return np.ascontiguousarray(self.buffers[0].cost[self.draw_indices()].T)

    def window_chains(self) -> np.ndarray:
        """Every generation of the window (nchain, n, d) in kp."""
        lo, hi = self.window()
        return np.ascontiguousarray(self.buffers[0].kp[lo:hi].transpose(1, 0, 2))

    def trace(self, k: int = 400):
        """Thinned trace of the whole run: kp (nchain, k, d), cost (nchain, k), generations (k,)."""
        buf = self.buffers[0]
        i = thin_indices(buf.n, k)
        return buf.kp[i].transpose(1, 0, 2), buf.cost[i].T, i

    # ---- checkpoint state -------------------------------------------------------------------------
    def settings_dict(self) -> dict:
        return asdict(self.settings)

    def _extra_state(self) -> dict:
        return {"move": self.move.state_dict(), "adapting": self.adapting, "adapt_end": self.adapt_end,
                "last_reset": self.last_reset, "n_resets": self.n_resets, "next_check": self.next_check,
                "stop_reason": self.stop_reason, "history": list(self.history),
                "n_accepted": self.n_accepted.copy(), "archive_rows": self.archive.n,
                "last_diagnostics": dict(self.last_diagnostics)}

    def _load_extra(self, d: dict) -> None:
        self.move.load_state_dict(d["move"])
        for k in ("adapting", "adapt_end", "last_reset", "n_resets", "next_check", "stop_reason"):
            setattr(self, k, d[k])
        self.history = list(d["history"])
        self.n_accepted = d["n_accepted"].copy()
        self.last_diagnostics = dict(d["last_diagnostics"])
        self._archive_rows = d["archive_rows"]

    def _extra_chunk(self) -> dict:
        return {"archive": self.archive.view[self.archive.flushed:].copy()}

    def _mark_flushed(self) -> None:
        self.archive.flushed = self.archive.n

    def _load_extra_chunks(self, chunks: list[dict]) -> None:
        self.archive = GrowableArray(self.ndim, max(256, 4 * self._m0()))
        for ch in chunks:
            self.archive.append(ch["archive"])
        if self.archive.n != self._archive_rows:
            raise ConfigError("checkpoint is incomplete (archive rows)")
        self.archive.flushed = self.archive.n
        self._set_archive()


__all__ = ["DreamSettings", "DreamZS", "STOP_REASONS"]

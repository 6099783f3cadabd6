"""Proposal moves of the population samplers (:mod:`pysoc.da.sampler`).

A move is a strategy object in the style of emcee's moves: it draws the random numbers of
a block of steps at once (:meth:`Move.draw`), then proposes one step for all chains
(:meth:`Move.propose`, vectorised over chains) and may adapt itself (``tune``). The
sampler evaluates all proposals of a step in one batched call, applies the Metropolis–
Hastings rule and records the chains; it knows nothing about the model.

- :class:`UniformWalk`: the test run of seed 002 eq. 7, ``kp + r/D``, r ~ U(−0.5, 0.5).
- :class:`HaarioMove`: adaptive Metropolis (Haario et al. 2001; seed 002 eq. 8), one
  covariance per chain, recursively updated.
- :class:`DEMove`: the DREAM(ZS) proposal (ter Braak and Vrugt 2008; Vrugt 2016):
  differential evolution from an archive of past states with randomised subspace
  (crossover) sampling, occasional unit jumps between modes, and snooker updates.
"""

from __future__ import annotations

import math

import numpy as np


class Move:
    """Protocol of a move. ``draw(rngs, nb)`` returns the random numbers of ``nb`` steps;
    ``propose(x, rnd, i)`` returns the proposals (nchain, d) of step ``i`` of the block and
    the log Hastings ratio (nchain,) or None for a symmetric move."""

    #: the sampler calls ``before_step(t, history)`` before each step when True
    adapts_before_step = False

    def draw(self, rngs, nb: int):
        raise NotImplementedError

    def propose(self, x: np.ndarray, rnd, i: int):
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, d: dict) -> None:
        for k, v in d.items():
            setattr(self, k, v.copy() if isinstance(v, np.ndarray) else v)


# ---- adaptive Metropolis (seed method) --------------------------------------------------------------
class UniformWalk(Move):
    """Test-run move, seed 002 eq. 7: kp + r/D, r ~ U(−0.5, 0.5), independent per chain
    (one generator per chain)."""

    def __init__(self, ndim: int, step_divisor: float):
        self.ndim = ndim
        self.scale = 1.0 / step_divisor

    def draw(self, rngs, nb: int):
        return np.stack([(g.random((nb, self.ndim)) - 0.5) * self.scale for g in rngs], axis=1)

    def propose(self, x, rnd, i):
        return x + rnd[i], None

    def initial_covariance(self, epsilon: float) -> np.ndarray:
        """Covariance of one step (fallback C0 when a test run accepted too few states)."""
        return np.eye(self.ndim) * (self.scale ** 2 / 12.0 + epsilon)


class HaarioMove(Move):
    """Formal-run move, seed 002 eq. 8 (Haario et al. 2001), one covariance per chain:
    ``C_t = C0`` for t < t0, then ``s_d cov(θ_0..θ_{t−1}) + s_d ε I`` refreshed every
    ``adapt_interval`` steps (mean and scatter matrix merged recursively)."""

    adapts_before_step = True

    def __init__(self, ndim: int, nchain: int, settings):
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

    def draw(self, rngs, nb: int):
        return np.stack([g.standard_normal((nb, self.ndim)) for g in rngs], axis=1)

    def propose(self, x, rnd, i):
        return x + np.matmul(self.L, rnd[i][..., None])[..., 0], None

    def before_step(self, t: int, history: np.ndarray) -> None:
        if t >= self.t0 and (t - self.t0) % self.interval == 0:
            self.tune(history[:t])

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


# ---- DREAM(ZS) ---------------------------------------------------------------------------------------
class DEMove(Move):
    """DREAM(ZS) proposal for all chains of a population from an archive Z of past states.

    Each generation is, for all chains together, one of three updates (chosen with
    probabilities 1 − ``p_unit`` − ``p_snooker``, ``p_unit`` and ``p_snooker``; a mixture of
    valid kernels chosen independently of the state is a valid kernel):

    - **parallel direction** with crossover: for chain i::

          dx[A] = (1 + λ) γ(δ, d') Σ_{j=1..δ} (Z[a_j] − Z[b_j])[A] + ζ[A],    γ = 2.38 / sqrt(2 δ d')

      with δ ~ U{1..``delta_max``} pairs of distinct archive states, A the d' coordinates
      selected by crossover with probability CR (at least one), λ ~ U(−c, c) and
      ζ ~ N(0, c*²) per coordinate. CR is one of ``m / n_cr`` (m = 1..n_cr), chosen with
      probabilities ``p_cr`` that the sampler adapts during burn-in to the normalised
      squared jump distance of each value (Vrugt 2016, §3.3);
    - **unit jump**: the same with γ = 1 over all coordinates (jumps between modes);
    - **snooker** (ter Braak and Vrugt 2008): along the line through x_i and an archive
      state z, ``x_i + γ_s (P(Z[a]) − P(Z[b]))`` with P the projection on that line,
      γ_s ~ U(1.2, 2.2), log Hastings ratio (d − 1) log(‖x' − z‖ / ‖x_i − z‖).

    The random numbers of a block come from the population's generator and are turned
    into per-step scale factors at once (:meth:`draw`), so a step costs a gather from the
    archive and a few array operations. The sampler sets the archive view (``archive``)
    and the growth schedule of the block (``schedule``) before drawing.
    """

    def __init__(self, ndim: int, nchain: int, delta_max: int = 1, n_cr: int = 3, p_unit: float = 0.2,
                 p_snooker: float = 0.1, c_lambda: float = 0.1, c_zeta: float = 1e-6, jump_scale: float = 1.0):
        self.ndim, self.nchain = int(ndim), int(nchain)
        self.jump_scale = float(jump_scale)
        self.delta_max, self.n_cr = int(delta_max), int(n_cr)
        self.p_unit, self.p_snooker = float(p_unit), float(p_snooker)
        self.c_lambda, self.c_zeta = float(c_lambda), float(c_zeta)
        self.cr_values = np.arange(1, self.n_cr + 1) / self.n_cr
        self.p_cr = np.full(self.n_cr, 1.0 / self.n_cr)
        self.cr_jump = np.zeros(self.n_cr)      #: summed normalised squared jump distance per CR
        self.cr_count = np.zeros(self.n_cr)     #: number of DE proposals per CR
        self.archive = None                     #: archive rows the proposals draw from (set by the sampler)
        self.schedule = None                    #: (t0, prior rows, rows per append, every k, recent, min rows)

    # ---- randomness of a block ---------------------------------------------------------------
    def archive_rows(self, t0: int, nb: int):
        """First and last (exclusive) archive rows used at steps t0 .. t0 + nb − 1.

        The archive holds ``m0`` prior draws, then ``per`` rows appended after every
        ``every``-th generation, so it has m0 + per ⌊t / every⌋ rows at step t. With
        ``recent`` = r > 0 the proposals draw from the rows recorded at generations
        ≥ ⌊r t⌋ (a window that slides as the run grows, so that burn-in states and prior draws
        drop out; a deterministic function of t, so the kernel at each step is fixed), or from
        the whole archive while that window holds fewer than ``min_rows`` rows."""
        _, m0, per, every, recent, min_rows = self.schedule
        t = t0 + np.arange(nb)
        M = m0 + per * (t // every)
        lo = np.zeros(nb, np.int64)
        if recent > 0:
            g0 = np.floor(recent * t).astype(np.int64)
            j0 = np.maximum(-(-(g0 + 1) // every) - 1, 0)
            lo = m0 + per * j0
            lo = np.where(M - lo >= min_rows, lo, 0)
        return lo, M

    def draw(self, rngs, nb: int):
        """Random numbers and scale factors of ``nb`` generations: kind (0 parallel, 1 unit,
        2 snooker), archive indices (nb, n, 2 δmax + 1) for the archive size at each step,
        factors F (nb, n, d) and offsets (nb, n, d) with dx = F · Σ(Z[a] − Z[b]) + offset,
        CR index and the snooker jump rates."""
        g = rngs[0]
        n, d, k = self.nchain, self.ndim, self.delta_max
        u_kind = g.random(nb)
        u_cr = g.random((nb, n))
        u_cross = g.random((nb, n, d))
        force = g.integers(0, d, (nb, n))
        delta = g.integers(1, k + 1, (nb, n)) if k > 1 else np.ones((nb, n), np.int64)
        u_pick = g.random((nb, n, 2 * k + 1))
        lam = g.uniform(-self.c_lambda, self.c_lambda, (nb, n, d))
        zeta = g.standard_normal((nb, n, d)) * self.c_zeta
        gsnook = g.uniform(1.2, 2.2, (nb, n))
        kind = np.where(u_kind < self.p_snooker, 2, np.where(u_kind < self.p_snooker + self.p_unit, 1, 0))
        # the archive rows each step draws from: [lo, M)
        lo, M = self.archive_rows(t0 := self.schedule[0], nb)
        size = (M - lo)[:, None, None]
        ia = lo[:, None, None] + (u_pick[:, :, :k] * size).astype(np.intp)
        ib = lo[:, None, None] + (ia - lo[:, None, None] + 1 +
                                  (u_pick[:, :, k:2 * k] * (size - 1)).astype(np.intp)) % size
        iz = lo[:, None] + (u_pick[:, :, 2 * k] * size[:, :, 0]).astype(np.intp)
        # crossover (fixed p_cr within a block: the sampler adapts it between blocks)
        m = np.minimum(np.searchsorted(np.cumsum(self.p_cr), u_cr, side="right"), self.n_cr - 1)
        cross = u_cross < self.cr_values[m][..., None]
        none = ~cross.any(axis=2)
        if none.any():
            s, c = np.nonzero(none)
            cross[s, c, force[s, c]] = True
        unit = kind == 1
        cross[unit] = True
        dprime = cross.sum(axis=2)
        gamma = np.where(unit[:, None], 1.0, self.jump_scale * 2.38 / np.sqrt(2.0 * delta * dprime))
        F = (1.0 + lam) * gamma[..., None] * cross
        off = zeta * cross
        if k > 1:
            pair_mask = np.arange(k) < delta[..., None]            # (nb, n, k)
        else:
            pair_mask = None
        return {"kind": kind, "ia": ia, "ib": ib, "iz": iz, "F": F, "off": off, "m": m, "gsnook": gsnook,
                "pair_mask": pair_mask}

    # ---- proposal --------------------------------------------------------------------------------------
    def propose(self, x, rnd, i):
        Z = self.archive
        kind = rnd["kind"][i]
        if kind == 2:
            return self._snooker(x, Z, rnd["iz"][i], rnd["ia"][i, :, 0], rnd["ib"][i, :, 0], rnd["gsnook"][i])
        if self.delta_max == 1:
            sdiff = Z[rnd["ia"][i, :, 0]] - Z[rnd["ib"][i, :, 0]]
        else:
            diff = Z[rnd["ia"][i]] - Z[rnd["ib"][i]]                  # (n, k, d)
            sdiff = (diff * rnd["pair_mask"][i][..., None]).sum(axis=1)
        return x + rnd["F"][i] * sdiff + rnd["off"][i], None

    def _snooker(self, x, Z, iz, ia, ib, gs):
        z = Z[iz]
        line = x - z
        norm = np.sqrt((line * line).sum(axis=1))
        ok = norm > 0.0
        safe = np.where(ok, norm, 1.0)
        e = line / safe[:, None]
        proj = ((Z[ia] - Z[ib]) * e).sum(axis=1)
        new = x + (gs * proj)[:, None] * e
        new_norm = np.sqrt(((new - z) ** 2).sum(axis=1))
        with np.errstate(divide="ignore"):
            logh = (self.ndim - 1) * (np.log(new_norm) - np.log(safe))
        return np.where(ok[:, None], new, x), np.where(ok, logh, 0.0)

    # ---- crossover adaptation -------------------------------------------------------------------------
    def record_block(self, rnd, jumps: np.ndarray, accepted: np.ndarray) -> None:
        """Add a block's statistics: per DE proposal its CR value, and for accepted ones the
        normalised squared jump distance (Vrugt 2016 eq. 26). ``jumps`` (nb, n)."""
        de = (rnd["kind"] == 0)[:, None] & np.ones(accepted.shape, bool)
        m = rnd["m"]
        self.cr_count += np.bincount(m[de], minlength=self.n_cr)
        use = de & accepted & np.isfinite(jumps)
        self.cr_jump += np.bincount(m[use], weights=jumps[use], minlength=self.n_cr)

    def adapt(self) -> None:
        """Update the selection probabilities of the CR values from the jump statistics
        (every CR keeps at least 5 % / n_cr so that none is lost)."""
        if (self.cr_count == 0).any() or self.cr_jump.sum() <= 0:
            return
        rate = self.cr_jump / self.cr_count
        p = rate / rate.sum()
        p = np.maximum(p, 0.05 / self.n_cr)
        self.p_cr = p / p.sum()

    def state_dict(self) -> dict:
        return {"p_cr": self.p_cr, "cr_jump": self.cr_jump, "cr_count": self.cr_count}


__all__ = ["Move", "UniformWalk", "HaarioMove", "DEMove"]

"""Morris elementary-effects screening of the cost function (seed 003 §2.3; Morris 1991)
with SALib: 4 levels (Δ = 2/3 of the range), 50 trajectories by default, on the unit box
of the calibrated parameters. Output per parameter: μ, μ*, σ, the confidence of μ* and
seed 003's importance θ_m = sqrt(μ_m² + σ_m²) / sd_m'(sqrt(μ_m'² + σ_m'²)).

Trajectories with a failed kernel evaluation (cost = +inf) are dropped before the
analysis; their number is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from pysoc.errors import ConfigError, KernelError


@dataclass(frozen=True)
class MorrisSettings:
    n_trajectories: int = 50
    num_levels: int = 4
    response: str = "cost"          #: 'cost' or 'log_cost' (log10 of J)
    num_resamples: int = 100        #: bootstrap resamples of the μ* confidence interval
    batch: int = 512                #: parameter vectors per kernel call

    def check(self) -> "MorrisSettings":
        if self.n_trajectories < 2 or self.num_levels < 2 or self.num_levels % 2:
            raise ConfigError("morris: n_trajectories >= 2 and an even num_levels >= 2 are required")
        if self.response not in ("cost", "log_cost"):
            raise ConfigError(f"morris: response must be 'cost' or 'log_cost', got {self.response!r}")
        return self


def morris_screening(cost_fn: Callable[[np.ndarray], np.ndarray], names: Sequence[str], settings: MorrisSettings,
                     seed: int, callback: Callable[[], None] | None = None) -> dict:
    from SALib.analyze import morris as analyze
    from SALib.sample import morris as sample

    s = settings.check()
    d = len(names)
    problem = {"num_vars": d, "names": list(names), "bounds": [[0.0, 1.0]] * d}
    X = sample.sample(problem, s.n_trajectories, num_levels=s.num_levels, seed=int(seed))
    Y = np.empty(X.shape[0])
    for a in range(0, X.shape[0], s.batch):
        Y[a:a + s.batch] = cost_fn(X[a:a + s.batch])
        if callback is not None:
            callback()
    if s.response == "log_cost":
        with np.errstate(divide="ignore"):
            Y = np.log10(Y)
    per = d + 1
    traj_ok = np.isfinite(Y).reshape(-1, per).all(axis=1)
    n_ok = int(traj_ok.sum())
    if n_ok < 2:
        raise KernelError(f"morris: only {n_ok} of {traj_ok.size} trajectories have a valid kernel run everywhere")
    keep = np.repeat(traj_ok, per)
    res = analyze.analyze(problem, X[keep], Y[keep], num_resamples=s.num_resamples, num_levels=s.num_levels,
                          seed=int(seed))
    mu = np.asarray(res["mu"], float)
    sigma = np.asarray(res["sigma"], float)
    strength = np.sqrt(mu ** 2 + sigma ** 2)
    sd = strength.std(ddof=1) if d > 1 else np.nan
    return {"mu": mu, "mu_star": np.asarray(res["mu_star"], float), "sigma": sigma,
            "mu_star_conf": np.asarray(res["mu_star_conf"], float),
            "importance": strength / sd if sd and np.isfinite(sd) and sd > 0 else np.full(d, np.nan),
            "n_trajectories_used": n_ok, "n_trajectories": int(traj_ok.size), "n_evals": int(X.shape[0])}


__all__ = ["MorrisSettings", "morris_screening"]

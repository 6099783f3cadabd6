"""Typed per-site summaries of a calibration (what :class:`pysoc.da.run.SiteResult.data`
holds): one dataclass per method plus the posterior predictive of each site.

- :class:`McmcSummary` (DREAM(ZS) and adaptive Metropolis): saved draws, posterior
  statistics, traces, :class:`McmcDiagnostics` and one :class:`SitePrediction` per site of
  the cost function (one in site-by-site mode, every calibrated site in one-batch mode);
- :class:`SceuaSummary`: the optimum and its predictions;
- :class:`MorrisSummary`: elementary-effect statistics.

A :class:`SitePrediction` holds, per data stream, a :class:`StreamFit`: the observations
(``y``, ``sigma``, ``weight``, layer ``top``/``bottom``), the posterior predictive mean and
5/95 % quantiles at them and the fit metrics of the mean
(:func:`pysoc.da.diagnostics.metrics`). Arrays keep the shapes the engine produced; the
writers in :mod:`pysoc.da.output` lay them out in files.

Examples
--------
>>> import numpy as np
>>> fit = StreamFit(y=np.array([2.0, 1.0]), sigma=np.array([0.2, 0.1]), weight=np.ones(2),
...                 mean=np.array([1.9, 1.1]), q05=np.array([1.5, 0.8]), q95=np.array([2.3, 1.4]),
...                 metrics={"nse": 0.92})
>>> site = SitePrediction("syn001", obs={"soc_profile": fit})
>>> site.metric("soc_profile", "nse"), bool(np.isnan(site.metric("nep_monthly", "nse")))
(0.92, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: layout of the per-site summaries in checkpoint files (1: the earlier nested dicts)
SUMMARY_LAYOUT = 2


@dataclass
class StreamFit:
    """One data stream at one site: observations, posterior predictive band and fit.

    Attributes
    ----------
    y, sigma, weight : numpy.ndarray
        Observations (nobs,), their sigma and their weight in the cost (units of the stream).
    mean, q05, q95 : numpy.ndarray
        Posterior predictive mean and 5 % / 95 % quantiles at the observations.
    metrics : dict
        Fit metrics of ``mean`` against ``y`` (keys of :data:`pysoc.da.output.METRICS`).
    top, bottom : numpy.ndarray or None
        Layer bounds (m) of profile streams.
    """

    y: np.ndarray
    sigma: np.ndarray
    weight: np.ndarray
    mean: np.ndarray
    q05: np.ndarray
    q95: np.ndarray
    metrics: dict = field(default_factory=dict)
    top: np.ndarray | None = None
    bottom: np.ndarray | None = None


@dataclass
class SitePrediction:
    """Posterior predictive of the saved draws at one site.

    Attributes
    ----------
    site_id : str
    obs : dict
        Stream name -> :class:`StreamFit`.
    pred, loglik : dict
        Stream name -> predictions and pointwise log-likelihood terms, (chain, draw, nobs).
    profile_mean, profile_q05, profile_q95 : numpy.ndarray or None
        Modelled SOC on the model levels (g C m-3): mean and 5-95 % band.
    n_failed_predictive : int
        Saved draws whose kernel run failed.
    rmse_draws : numpy.ndarray or None
        RMSE of the SOC profile of every saved draw (None without a profile stream).
    notes : list of str
        Notes of the observation set-up (layers dropped, ...).
    """

    site_id: str
    obs: dict = field(default_factory=dict)
    pred: dict = field(default_factory=dict)
    loglik: dict = field(default_factory=dict)
    profile_mean: np.ndarray | None = None
    profile_q05: np.ndarray | None = None
    profile_q95: np.ndarray | None = None
    n_failed_predictive: int = 0
    rmse_draws: np.ndarray | None = None
    notes: list = field(default_factory=list)

    def metric(self, stream: str, name: str, default: float = float("nan")) -> float:
        """Fit metric ``name`` of ``stream`` (``default`` when the site has no such stream)."""
        fit = self.obs.get(stream)
        return default if fit is None else fit.metrics.get(name, default)


@dataclass
class McmcDiagnostics:
    """Convergence diagnostics of one MCMC run (:func:`pysoc.da.run.convergence_summary`).

    Attributes
    ----------
    rhat, ess_bulk, ess_tail, mcse_mean : numpy.ndarray
        ArviZ diagnostics of the saved draws, per parameter.
    rhat_max, ess_bulk_min : float
    converged : bool
        Every R-hat <= ``rhat_target`` and every bulk ESS >= ``ess_target``.
    stop_reason : str
        'converged', 'max_evaluations' (DREAM(ZS)) or 'fixed_length' (AM).
    gelman_rubin, gr_mean, converged_gr
        Classic Gelman-Rubin of all post-burn-in draws, its mean and the seed criterion.
    acceptance_rate, acceptance_rate_test, acceptance_ok : numpy.ndarray
        Per chain: posterior-window (AM: formal run) and test-run rates, inside the window.
    n_invalid, n_outside : numpy.ndarray
        Per chain: proposals rejected because the kernel failed / outside the prior box.
    window, adapt_end, n_resets, p_cr, check_history
        DREAM(ZS) only (None or 0 for AM).
    """

    rhat: np.ndarray
    ess_bulk: np.ndarray
    ess_tail: np.ndarray
    mcse_mean: np.ndarray
    rhat_max: float
    ess_bulk_min: float
    converged: bool
    stop_reason: str
    n_generations: int
    gelman_rubin: np.ndarray
    gr_mean: float
    converged_gr: bool
    acceptance_rate: np.ndarray
    acceptance_ok: np.ndarray
    n_invalid: np.ndarray
    n_outside: np.ndarray
    n_start_redraws: int
    start_kp: np.ndarray
    n_sampler_evaluations: int
    acceptance_rate_test: np.ndarray
    n_factor_failures: int = 0
    n_resets: int = 0
    adapt_end: int | None = None
    window: tuple | None = None
    p_cr: np.ndarray | None = None
    check_history: np.ndarray | None = None


@dataclass
class McmcSummary:
    """Posterior of one MCMC calibration (one site, or all sites in one-batch mode).

    Attributes
    ----------
    sampler : str
        'dream_zs' or 'am'.
    draws, draws_kp : numpy.ndarray
        Saved draws (chain, draw, parameter) in physical units and normalised.
    lp : numpy.ndarray
        -cost of the saved draws (chain, draw).
    mean, sd, mode, kp_mean : numpy.ndarray
        Posterior statistics of all post-burn-in draws (mode: GEV fit of the saved draws).
    quantiles : numpy.ndarray
        (quantile, parameter), the configuration's quantiles.
    mode_method : list of str
    n_posterior : int
        Post-burn-in draws per chain.
    trace_kp : tuple
        (thinned kp trace (chain, trace, parameter), its iterations).
    trace_cost : numpy.ndarray
    diagnostics : McmcDiagnostics
    sites : list of SitePrediction
    n_evaluations : int or None
        Kernel evaluations of the cost function (site-by-site mode; None in one-batch mode).
    """

    sampler: str
    draws_kp: np.ndarray
    draws: np.ndarray
    lp: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    quantiles: np.ndarray
    kp_mean: np.ndarray
    n_posterior: int
    trace_kp: tuple
    trace_cost: np.ndarray
    mode: np.ndarray
    mode_method: list
    diagnostics: McmcDiagnostics
    sites: list = field(default_factory=list)
    n_evaluations: int | None = None


@dataclass
class SceuaSummary:
    """Optimum of one SCE-UA run.

    Attributes
    ----------
    kp_best, best : numpy.ndarray
        The optimum, normalised and in physical units.
    cost : float
    n_evals, n_loops : int
    converged : bool
    reason : str
        Why the optimiser stopped.
    history : numpy.ndarray
        Best cost per loop.
    sites : list of SitePrediction
    n_evaluations : int or None
    """

    kp_best: np.ndarray
    best: np.ndarray
    cost: float
    n_evals: int
    n_loops: int
    converged: bool
    reason: str
    history: np.ndarray
    sites: list = field(default_factory=list)
    n_evaluations: int | None = None


@dataclass
class MorrisSummary:
    """Morris elementary effects of one screening (:func:`pysoc.da.morris.morris_screening`).

    Attributes
    ----------
    mu, mu_star, sigma, mu_star_conf, importance : numpy.ndarray
        Per parameter.
    n_trajectories_used, n_trajectories, n_evals : int
    n_evaluations : int or None
    """

    mu: np.ndarray
    mu_star: np.ndarray
    sigma: np.ndarray
    mu_star_conf: np.ndarray
    importance: np.ndarray
    n_trajectories_used: int
    n_trajectories: int
    n_evals: int
    n_evaluations: int | None = None


__all__ = ["StreamFit", "SitePrediction", "McmcDiagnostics", "McmcSummary", "SceuaSummary", "MorrisSummary",
           "SUMMARY_LAYOUT"]

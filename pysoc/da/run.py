"""Orchestration of a calibration: sites -> observations and forcing -> method (adaptive
Metropolis, SCE-UA, Morris) -> per-site results -> outputs.

Modes (spec methods.md §2.7):

- ``site_by_site``: every profile is calibrated on its own (all chains of a site in one
  kernel call per iteration); sites are farmed out over the MPI ranks with dynamic load
  balancing (:mod:`pysoc.da.parallel`); a site that fails (missing covariate, no valid
  start, NaN from the kernel...) is recorded with its error and the run continues.
- ``one_batch``: one parameter vector for all profiles; the cost of a proposal is the sum
  of the site costs, computed in parallel over ranks (one allreduce per iteration).

Random streams come from ``SeedSequence(seed, spawn_key=(crc32(site_id), ...))``: a site
gets the same chains whatever the other sites, the number of ranks or the rank that
runs it. Checkpoints (:class:`~pysoc.da.sampler.CheckpointStore`): one file per finished
site plus the sampler state of sites in progress (every ``checkpoint_interval`` seconds,
at block boundaries), so a killed run resumes without losing finished sites or chain
progress and continues bitwise identically.

Hooks (:class:`RunHooks`, :func:`add_hook`): objects whose methods the engine calls at fixed
points of a run: before a site is set up, when a one-batch rank has built its cost function,
after every sampler block. They observe (progress bars, profiling) or raise; the test suite
uses them to inject failures and to kill a rank mid-run (tests/calibrate_hooks.py); the
engine itself installs none.
"""

from __future__ import annotations

import hashlib
import os
import time
import warnings
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pysoc.da import convergence as cv
from pysoc.da import diagnostics as dg
from pysoc.da.dream import DreamSettings, DreamZS
from pysoc.da.likelihood import (FLUX_COLUMNS, STREAMS, CostFunction, DepthWeights, ParameterMapper, StreamSpec,
                                 build_site_observations)
from pysoc.da.morris import MorrisSettings, morris_screening
from pysoc.da.optimize import SCEUASettings, sceua
from pysoc.da.parallel import Progress, SerialExecutor
from pysoc.da.results import (SUMMARY_LAYOUT, McmcDiagnostics, McmcSummary, MorrisSummary, SceuaSummary,
                              SitePrediction, StreamFit)
from pysoc.da.sampler import AdaptiveMetropolis, AMSettings, CheckpointStore
from pysoc.errors import ConfigError, DataError, PysocError, PysocWarning
from pysoc.models import DEFAULT_MODEL, get_model

METHODS = ("mcmc", "sceua", "morris")
SAMPLERS = ("dream_zs", "am")
MODES = ("site_by_site", "one_batch")
#: acceptance-rate window that is healthy for each sampler (flags outside it; not a convergence test)
ACCEPTANCE_WINDOWS = {"am": (0.15, 0.5), "dream_zs": (0.05, 0.5)}
#: default burn-in fraction: the seeds' first half of the formal run for am; for dream_zs the first
#: quarter of the generations, and never less than its adaptation period (docs/calibration.md)
BURN_IN = {"am": 0.5, "dream_zs": 0.25}
ONE_BATCH_KEY = 0xFFFFFFFF


@dataclass
class CalibrationConfig:
    """All settings of a calibration (the namelist of ``pysoc-calibrate`` maps onto this;
    see pysoc/cli/calibrate.py for the documentation of every key).

    Examples
    --------
    >>> cfg = CalibrationConfig(method="am").check()         # the pre-0.2 spelling of the AM sampler
    >>> cfg.method, cfg.sampler, cfg.burn_in_fraction, cfg.acceptance_window
    ('mcmc', 'am', 0.5, (0.15, 0.5))
    >>> CalibrationConfig(mode="all").check()
    Traceback (most recent call last):
    ...
    pysoc.errors.ConfigError: calibrate: mode 'all' is not one of site_by_site, one_batch
    """

    model: str = DEFAULT_MODEL
    model_options: dict = field(default_factory=dict)
    method: str = "mcmc"
    sampler: str = "dream_zs"               #: 'dream_zs' (default) or 'am' (the seed method)
    mode: str = "site_by_site"
    parameters: tuple = ()                  #: calibrated parameters (empty = all)
    parameter_set: str = ""                 #: named set for the fixed parameters
    fixed: dict = field(default_factory=dict)   #: physical overrides of fixed parameters
    streams: tuple = (StreamSpec("soc_profile"),)
    depth_weights: DepthWeights = DepthWeights()
    am: AMSettings = AMSettings()
    dream: DreamSettings = DreamSettings()
    burn_in: float = -1.0                   #: < 0: the sampler's default (BURN_IN)
    posterior_samples: str = "chain"
    draws_saved: int = 100
    acceptance_min: float = -1.0            #: < 0: the sampler's window (ACCEPTANCE_WINDOWS)
    acceptance_max: float = -1.0
    rhat_target: float = 1.05               #: converged: every parameter rank-normalised split-R-hat <= this
    ess_target: float = 400.0               #: ... and bulk ESS >= this
    gr_threshold: float = 1.05              #: classic Gelman-Rubin threshold (reported, seeds 001/002)
    nse_threshold: float = 0.0
    quantiles: tuple = (0.05, 0.25, 0.5, 0.75, 0.95)
    gev_mode: bool = True
    sceua: SCEUASettings = SCEUASettings()
    morris: MorrisSettings = MorrisSettings()
    seed: int = 20240601
    forcing_file: str = ""                  #: '' = site_forcing from covariates; may contain {site_id}
    min_layers: int = 3
    min_depth: float = 0.5
    output_dir: str = "output"
    run_name: str = "calibration"
    checkpoint_dir: str = ""
    checkpoint_interval: float = 60.0
    resume: bool = True
    keep_checkpoint: bool = False
    progress: bool = True
    progress_interval: float = 30.0
    write_output: bool = True
    figures: bool = True
    figure_sites: int = 6
    namelist_text: str = ""
    input_files: tuple = ()

    def check(self) -> "CalibrationConfig":
        if self.method == "am":                 # before 0.2: method = 'am' (now a sampler of method 'mcmc')
            self.method, self.sampler = "mcmc", "am"
        if self.method not in METHODS:
            raise ConfigError(f"calibrate: method {self.method!r} is not one of {', '.join(METHODS)}")
        if self.mode not in MODES:
            raise ConfigError(f"calibrate: mode {self.mode!r} is not one of {', '.join(MODES)}")
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"mcmc: sampler {self.sampler!r} is not one of {', '.join(SAMPLERS)}")
        if not self.rhat_target >= 1.0:
            raise ConfigError(f"mcmc: rhat_target = {self.rhat_target!r}: must be >= 1 (rank-normalised split-R-hat "
                              f"is >= 1; the seeds use 1.05)")
        if not self.ess_target > 0:
            raise ConfigError(f"mcmc: ess_target = {self.ess_target!r}: must be > 0 (bulk effective sample size; "
                              f"400 recommended)")
        lo, hi = self.acceptance_window
        if not 0.0 <= lo < hi <= 1.0:
            raise ConfigError(f"mcmc: acceptance_min = {lo!r} and acceptance_max = {hi!r}: need 0 <= min < max <= 1")
        if not (self.burn_in < 0 or 0.0 <= self.burn_in < 1.0):
            raise ConfigError(f"mcmc: burn_in = {self.burn_in!r}: must lie in [0, 1) (or -1 for the sampler's "
                              f"default)")
        if self.posterior_samples not in ("chain", "accepted"):
            raise ConfigError(f"mcmc: posterior_samples must be 'chain' or 'accepted', got {self.posterior_samples!r}")
        if self.draws_saved < 1:
            raise ConfigError("mcmc: draws_saved must be >= 1")
        if not self.streams:
            raise ConfigError("likelihood: at least one data stream is required")
        for s in self.streams:
            if s.name not in STREAMS:
                raise ConfigError(f"likelihood: unknown stream {s.name!r} (known: {', '.join(STREAMS)})")
            r = s.resolved()
            if STREAMS[s.name].kind != "annual" and not (r.sigma_rel > 0 or r.sigma_abs > 0):
                raise ConfigError(f"&likelihood sigma_rel = {r.sigma_rel:g} and sigma_abs = {r.sigma_abs:g} for stream "
                                  f"{s.name}: sigma = max(sigma_rel |y|, sigma_abs) = 0 for every observation; set a "
                                  f"positive sigma_rel or sigma_abs")
        if self.sampler == "am":
            self.am.check()
            if self.method == "mcmc" and self.am.n_test == 0 and self.am.t0 >= self.am.n_formal:
                warnings.warn(f"&mcmc t0 = {self.am.t0} >= n_formal = {self.am.n_formal} with n_test = 0: without a "
                              f"test run C0 is the initial uniform-walk covariance and the proposal never adapts; "
                              f"set t0 < n_formal or n_test > 0", PysocWarning, stacklevel=2)
        else:
            self.dream = self.dream_settings()
        self.sceua.check()
        self.morris.check()
        return self

    def fingerprint(self) -> str:
        """Hash of everything that changes results (not output, progress or checkpoint keys),
        plus the contents of the input files."""
        keep = {k: v for k, v in asdict(self).items() if k not in (
            "output_dir", "run_name", "checkpoint_dir", "checkpoint_interval", "resume", "keep_checkpoint",
            "progress", "progress_interval", "write_output", "figures", "figure_sites", "namelist_text",
            "input_files")}
        h = hashlib.sha256(repr(sorted(keep.items(), key=lambda kv: kv[0])).encode())
        for f in self.input_files:
            p = Path(f)
            if p.is_file():
                h.update(p.read_bytes())
        return h.hexdigest()[:16]

    def dream_settings(self) -> DreamSettings:
        """The DREAM(ZS) settings with the shared targets of this configuration."""
        from dataclasses import replace
        return replace(self.dream, rhat_target=self.rhat_target, ess_target=self.ess_target, burn_in=self.burn_in_fraction,
                       draws_per_chain=self.draws_saved).check()

    @property
    def burn_in_fraction(self) -> float:
        return BURN_IN[self.sampler] if self.burn_in < 0 else self.burn_in

    @property
    def acceptance_window(self) -> tuple[float, float]:
        lo, hi = ACCEPTANCE_WINDOWS[self.sampler]
        return (lo if self.acceptance_min < 0 else self.acceptance_min,
                hi if self.acceptance_max < 0 else self.acceptance_max)

    @property
    def n_chains(self) -> int:
        return self.am.n_chains if self.sampler == "am" else self.dream.n_chains

    @property
    def checkpoint_path(self) -> Path:
        return Path(self.checkpoint_dir) if self.checkpoint_dir else Path(self.output_dir) / f"{self.run_name}.checkpoint"


@dataclass
class SiteResult:
    """Outcome of one site (site-by-site mode) or of the one-batch run (index -1).

    Attributes
    ----------
    index : int
        Position in the selected profiles (-1: the one-batch result).
    site_id : str
    status : str
        'ok' or 'failed'.
    error : str
        Why the site failed ('' when ok).
    wall_time, cpu_time : float
        Seconds of wall-clock and of CPU time of the process while it calibrated the site.
    rank : int
        MPI rank that calibrated the site.
    data : McmcSummary, SceuaSummary, MorrisSummary or None
        The typed summary of the method (:mod:`pysoc.da.results`); None when the site failed.
    """

    index: int
    site_id: str
    status: str
    error: str = ""
    wall_time: float = 0.0
    cpu_time: float = 0.0
    rank: int = 0
    data: McmcSummary | SceuaSummary | MorrisSummary | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class RunResult:
    """Everything a calibration produced (rank 0).

    Attributes
    ----------
    config : CalibrationConfig
    param_names : list of str
        The calibrated parameters.
    profiles : list
        The selected profiles.
    results : list of SiteResult
        One per profile (site-by-site) or the one-batch result followed by the sites that
        failed their set-up (one-batch).
    removed : list of tuple
        (site_id, reason) of the profiles the selection left out.
    outputs : dict
        Name -> path of the files written.
    summary : dict
        :func:`summarise_run`.
    model, bounds, one_batch_sites
        The model, its layer interfaces (m) and the profile indices of a one-batch run.
    """

    config: CalibrationConfig
    param_names: list
    profiles: list
    results: list                    #: SiteResult per site (site_by_site) or one (one_batch)
    removed: list                    #: (site_id, reason) of profiles left out by the selection
    outputs: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    model: Any = None
    bounds: np.ndarray | None = None
    one_batch_sites: list = field(default_factory=list)


# ---- hooks ----------------------------------------------------------------------------------------
class RunHooks:
    """Callbacks of a calibration run; every method is a no-op here, subclasses override
    the ones they need and are installed with :func:`add_hook`.

    A hook runs on the rank that reaches the point (``ctx.ex.rank``). An exception it
    raises propagates like one raised by the engine at that point: a
    :class:`~pysoc.errors.PysocError` from :meth:`site_started` fails that site only (the
    run continues), any other exception ends the run (under MPI, every rank).

    Examples
    --------
    >>> class CountBlocks(RunHooks):
    ...     def __init__(self):
    ...         self.n = 0
    ...     def block_done(self, ctx, sampler):
    ...         self.n += 1
    >>> hook = add_hook(CountBlocks())
    >>> hook in active_hooks()
    True
    >>> remove_hook(hook)
    >>> hook in active_hooks()
    False
    """

    def site_started(self, ctx: "Context", site_id: str) -> None:
        """Called before the forcing and observations of a site are set up (both modes)."""

    def batch_ready(self, ctx: "Context") -> None:
        """Called in one-batch mode once this rank has built its share of the cost function."""

    def block_done(self, ctx: "Context", sampler) -> None:
        """Called after every sampler block (after the checkpoint of that block, if any)."""


_HOOKS: list = []


def add_hook(hook: RunHooks) -> RunHooks:
    """Install ``hook`` for the runs that start afterwards in this process.

    Parameters
    ----------
    hook : RunHooks

    Returns
    -------
    RunHooks
        ``hook`` itself (to pass to :func:`remove_hook`).
    """
    _HOOKS.append(hook)
    return hook


def remove_hook(hook: RunHooks) -> None:
    """Uninstall a hook installed with :func:`add_hook` (no error when it is not installed).

    Parameters
    ----------
    hook : RunHooks
    """
    if hook in _HOOKS:
        _HOOKS.remove(hook)


def active_hooks() -> tuple:
    """The installed hooks.

    Returns
    -------
    tuple of RunHooks
        In the order they are called (a :class:`Context` keeps the hooks installed when it
        was built).
    """
    return tuple(_HOOKS)


# ---- helpers --------------------------------------------------------------------------------------

def site_key(site_id: str) -> int:
    """The key of a site's random streams: CRC-32 of its id (independent of the other sites,
    the number of ranks and the rank that calibrates it).

    Parameters
    ----------
    site_id : str

    Returns
    -------
    int

    Examples
    --------
    >>> site_key("syn001") == site_key("syn001") != site_key("syn002")
    True
    """
    return zlib.crc32(str(site_id).encode())


def seeds_for(seed: int, key: int, n_chains: int):
    """Seed sequences of the AM chains of one site and of its start-point draws.

    Parameters
    ----------
    seed : int
        ``&calibrate seed``.
    key : int
        :func:`site_key` of the site (:data:`ONE_BATCH_KEY` for the one-batch run).
    n_chains : int

    Returns
    -------
    chains : list of numpy.random.SeedSequence
        One per chain (spawn key (key, 1, chain)).
    start : numpy.random.SeedSequence
        Spawn key (key, 0).

    Examples
    --------
    >>> chains, start = seeds_for(1, site_key("a"), 3)
    >>> len(chains), chains[2].spawn_key[1:]
    (3, (1, 2))
    """
    chains = [np.random.SeedSequence(seed, spawn_key=(key, 1, c)) for c in range(n_chains)]
    return chains, np.random.SeedSequence(seed, spawn_key=(key, 0))


class Context:
    """What every rank needs to calibrate sites (built identically on every rank)."""

    def __init__(self, config: CalibrationConfig, profiles: Sequence, executor=None):
        self.config = config.check()
        self.ex = executor or SerialExecutor()
        self.model = get_model(config.model, **config.model_options)
        table = self.model.parameters
        names = [table.names[table.index(n)] for n in config.parameters] or list(table.names)
        if len(set(names)) != len(names):
            raise ConfigError("calibrate: a parameter is listed twice in 'parameters'")
        self.param_names = names
        self.free = [table.index(n) for n in names]
        check_streams(self.model, config.streams)
        check_memory(self.config, len(self.free))
        theta = table.vector(config.parameter_set or None, overrides=config.fixed)
        self.theta_fixed = table.check(theta, source="&parameters", warn_prior=False, free=names)
        self.mapper = ParameterMapper(self.model, self.free, self.theta_fixed)
        self.profiles = list(profiles)
        ids = [p.site_id for p in self.profiles]
        if len(set(ids)) != len(ids):
            raise DataError("profiles: duplicate site_id values")
        self.store = CheckpointStore(config.checkpoint_path)
        self.fingerprint = config.fingerprint()
        self.progress = Progress(self.ex, len(self.profiles), config.progress, config.progress_interval)
        self._forcing_cache: dict = {}
        self.hooks = active_hooks()
        self.bounds = None

    # ---- inputs ---------------------------------------------------------------------------------
    def forcing_for(self, profile):
        path = (profile.meta or {}).get("forcing_file") if hasattr(profile, "meta") else None
        if not path and self.config.forcing_file:
            path = self.config.forcing_file.replace("{site_id}", str(profile.site_id))
        if path:
            path = str(path)
            if path not in self._forcing_cache:
                self._forcing_cache[path] = self.model.load_forcing(path)
            return self._forcing_cache[path]
        try:
            from pysoc.io.site_forcing import site_forcing
        except ModuleNotFoundError:
            raise ConfigError("calibrate: forcing from site covariates (pysoc.io.site_forcing) is not available; "
                              "set forcing_file") from None
        return site_forcing(self.model, profile)

    def site_setup(self, profile):
        forcing = self.forcing_for(profile)
        if self.bounds is None:
            res = self.model.evaluate(forcing, self.theta_fixed[None], observables=("soc_profile",))
            if res.depth_bounds is None:
                raise ConfigError(f"model {self.model.name} does not report depth_bounds; profile streams need them")
            self.bounds = np.asarray(res.depth_bounds, float)
        n_time = forcing.sizes.get("time") if hasattr(forcing, "sizes") else None
        obs = build_site_observations(profile, self.bounds, self.config.streams, self.config.depth_weights,
                                      n_time=n_time)
        return forcing, obs

    def call_hooks(self, point: str, *args) -> None:
        """Call method ``point`` of :class:`RunHooks` on every installed hook."""
        for hook in self.hooks:
            getattr(hook, point)(self, *args)


# ---- checks of everything that would fail every site (before any sampling) ------------------------------
class NothingCalibrated(DataError):
    """Every site failed (or none could be set up): raised identically on every rank."""


def check_streams(model, specs) -> None:
    """Check that the model produces the output every data stream compares with.

    Parameters
    ----------
    model : SoilCarbonModel
    specs : sequence of StreamSpec

    Raises
    ------
    ConfigError
        One line naming the stream, the output it needs and the streams possible with the model.
    """
    obs = set(model.observables)
    possible = [n for n, i in STREAMS.items() if i.output in obs and (i.kind != "weighted_profile" or
                                                                      "soc_profile" in obs)]
    for s in specs:
        info = STREAMS[s.name]
        if info.output not in obs:
            raise ConfigError(f"&likelihood streams: {s.name!r} needs the model output {info.output!r}, which "
                              f"{model.name} does not provide (streams possible with {model.name}: "
                              f"{', '.join(possible)})")


def _memory_bytes() -> float:
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return float("inf")


def _bytes_text(b: float) -> str:
    for unit, f in (("TiB", 2.0 ** 40), ("GiB", 2.0 ** 30), ("MiB", 2.0 ** 20)):
        if b >= f:
            return f"{b / f:.3g} {unit}"
    return f"{b / 1024:.3g} KiB"


def sampler_memory(cfg: CalibrationConfig, ndim: int) -> tuple[float, str, str]:
    """Estimated bytes of the chain buffers of one site (the largest arrays of a calibration),
    the namelist key that sets them and a description: am keeps every iteration of the test and
    formal runs of every chain; dream_zs, at worst (not converged), every generation up to
    ``max_evaluations`` plus the archive.

    Parameters
    ----------
    cfg : CalibrationConfig
    ndim : int
        Number of calibrated parameters.

    Returns
    -------
    bytes : float
        0 for SCE-UA and Morris.
    key : str
        ``'n_formal = ...'`` or ``'max_evaluations = ...'``.
    text : str

    Examples
    --------
    >>> need, key, _ = sampler_memory(CalibrationConfig(sampler="am").check(), 3)
    >>> key, need > 0
    ('n_formal = 50000', True)
    """
    per_row = cfg.n_chains * (8.0 * ndim + 8.0 + 1.0)          # kp, cost, accepted flag
    if cfg.method != "mcmc":
        return 0.0, "", ""
    if cfg.sampler == "am":
        rows = float(cfg.am.n_test) + float(cfg.am.n_formal)
        return rows * per_row, f"n_formal = {cfg.am.n_formal}", (
            f"{cfg.n_chains} chains x {rows:.3g} iterations x {ndim} parameters")
    gens = float(cfg.dream.max_evaluations) / cfg.n_chains
    archive = gens * cfg.n_chains / cfg.dream.archive_thin * 8.0 * ndim
    return gens * per_row + archive, f"max_evaluations = {cfg.dream.max_evaluations}", (
        f"{cfg.n_chains} chains x {gens:.3g} generations x {ndim} parameters if a site does not converge")


def check_memory(cfg: CalibrationConfig, ndim: int) -> None:
    """Refuse, before anything is allocated or written, chain buffers of one site that would
    not fit in the memory of the machine.

    Parameters
    ----------
    cfg : CalibrationConfig
    ndim : int

    Raises
    ------
    ConfigError
        Naming the &mcmc key to lower, the estimate and the machine's memory.
    """
    need, key, text = sampler_memory(cfg, ndim)
    have = _memory_bytes()
    if need > 0.9 * have:
        raise ConfigError(f"&mcmc {key}: the chains of one site would need about {_bytes_text(need)} of memory "
                          f"({text}), more than the {_bytes_text(have)} of this machine; lower {key.split(' =')[0]}")


def check_site_inputs(ctx: "Context") -> None:
    """Inputs that every site needs, checked once before sampling: observations of the
    requested streams exist at some site, the forcing shared by all sites can be read (loaded
    once), per-site forcing files exist for at least one site, and the model can build forcing
    from site covariates when no forcing file is given.

    Parameters
    ----------
    ctx : Context

    Raises
    ------
    ConfigError, DataError
        One line naming the key or the file.
    """
    cfg, profiles = ctx.config, ctx.profiles
    names = {s.name for s in cfg.streams}
    meta = [getattr(p, "meta", None) or {} for p in profiles]
    if "nep_monthly" in names and not any(m.get("nep_monthly") is not None for m in meta):
        raise ConfigError("&likelihood streams: 'nep_monthly' needs monthly NEP observations and no site has any: "
                          "set &calibrate nep_file (CSV site_id, month, nep_g_m2_month)")
    for st in ("nep_annual", "gpp_annual"):
        if st in names and not any(st in (m.get("annual_fluxes") or {}) for m in meta):
            raise ConfigError(f"&likelihood streams: {st!r} needs tower-year fluxes and no site has any: set "
                              f"&calibrate flux_file (CSV site_id, year, {', '.join(FLUX_COLUMNS[st])})")
    own = [bool(m.get("forcing_file")) for m in meta]
    if all(own) or not profiles:
        return
    path = cfg.forcing_file
    if path and "{site_id}" not in path:
        ctx.forcing_for(profiles[own.index(False)])           # read and validated once, cached
    elif path:
        files = [path.replace("{site_id}", str(p.site_id)) for p, o in zip(profiles, own) if not o]
        if not any(Path(f).is_file() for f in files):
            raise DataError(f"{files[0]}: forcing file not found, nor for any other site (&calibrate forcing_file = "
                            f"'{path}')")
    else:
        if not ctx.model.provides("site_forcing"):
            from pysoc.models import models_with
            raise ConfigError(f"&calibrate forcing_file = '': {ctx.model.name} forcing cannot be built from the site "
                              f"covariates (possible for: {', '.join(models_with('site_forcing'))}); set forcing_file")


def _nothing_calibrated(results: list) -> str | None:
    """The error of a run in which every site failed (None when a site succeeded)."""
    if not results or any(r.ok for r in results):
        return None
    first = results[0]
    same = all(r.error == first.error for r in results)
    detail = first.error if str(first.site_id) in first.error else f"site {first.site_id}: {first.error}"
    return (f"no site was calibrated: all {len(results)} failed" + (" with the same error" if same and len(results) > 1
                                                                   else "") + f"; {detail}")


# ---- per-site methods -------------------------------------------------------------------------------
def _mcmc_callback(ctx: Context, key: str, label: str, t_start: float, save: bool = True):
    state = {"ckpt": time.monotonic(), "print": time.monotonic()}
    cfg = ctx.config
    backend = ctx.store.backend(key)

    def cb(sampler) -> None:
        now = time.monotonic()
        if save and now - state["ckpt"] >= cfg.checkpoint_interval and not sampler.done:
            sampler.checkpoint(backend, extra={"fingerprint": ctx.fingerprint})
            state["ckpt"] = now
        if now - state["print"] >= cfg.progress_interval:
            ctx.progress.line(f"{label}: iteration {sampler.iterations_done}/{sampler.iterations_total} "
                              f"({now - t_start:.0f} s)")
            state["print"] = now
        ctx.ex.service()
        ctx.call_hooks("block_done", sampler)

    return cb


def make_sampler(cfg: CalibrationConfig, ndim: int, cost_fn, key_int: int):
    """The configured sampler of ``ndim`` parameters for one site (or the one-batch run),
    with its random streams keyed by the seed and the site, never by the MPI rank.

    Parameters
    ----------
    cfg : CalibrationConfig
    ndim : int
    cost_fn : callable
        kp (k, ndim) -> cost (k,).
    key_int : int
        :func:`site_key` of the site, or :data:`ONE_BATCH_KEY`.

    Returns
    -------
    AdaptiveMetropolis or DreamZS
    """
    if cfg.sampler == "am":
        chains, start = seeds_for(cfg.seed, key_int, cfg.am.n_chains)
        return AdaptiveMetropolis(cost_fn, ndim, cfg.am, chains, start)
    return DreamZS(cost_fn, ndim, cfg.dream, np.random.SeedSequence(cfg.seed, spawn_key=(key_int, 4)))


def run_mcmc(ctx: Context, cost_fn, key_int: int, ckpt_key: str, label: str, save: bool = True):
    """Run (or resume from its checkpoint) the sampler of one site.

    Parameters
    ----------
    ctx : Context
    cost_fn : callable
    key_int : int
        Key of the random streams (:func:`site_key`).
    ckpt_key : str
        Name of the sampler state in the checkpoint store.
    label : str
        Progress-line prefix.
    save : bool
        Write checkpoints every ``checkpoint_interval`` seconds.

    Returns
    -------
    AdaptiveMetropolis or DreamZS
        The finished sampler.
    """
    cfg = ctx.config
    sampler = make_sampler(cfg, len(ctx.free), cost_fn, key_int)
    resumed = cfg.resume and sampler.restore(ctx.store.backend(ckpt_key),
                                             lambda extra: extra.get("fingerprint") == ctx.fingerprint)
    if resumed:
        ctx.progress.line(f"{label}: resuming at iteration {sampler.iterations_done}/{sampler.iterations_total}")
    sampler.run(callback=_mcmc_callback(ctx, ckpt_key, label, time.monotonic(), save))
    return sampler


def _posterior_draws(ctx: Context, sampler):
    """(all post-burn-in draws, their costs, the saved draws, their costs) in kp."""
    cfg = ctx.config
    if isinstance(sampler, DreamZS):
        return sampler.window_chains(), None, sampler.posterior(), sampler.posterior_cost()
    post = sampler.posterior(cfg.burn_in_fraction, cfg.posterior_samples)          # (K, N, d) kp
    post_cost = sampler.posterior_cost(cfg.burn_in_fraction, cfg.posterior_samples)
    if post.shape[1] < 2:
        raise DataError(f"fewer than 2 posterior draws per chain ({cfg.posterior_samples} samples after burn-in)")
    idx = dg.thin_indices(post.shape[1], cfg.draws_saved)
    return post, post_cost, post[:, idx], post_cost[:, idx]


def convergence_summary(ctx: Context, sampler, draws_phys: np.ndarray, post_kp: np.ndarray) -> McmcDiagnostics:
    """ArviZ diagnostics of the saved draws, the classic Gelman-Rubin of all post-burn-in
    draws, acceptance and why the sampler stopped.

    Parameters
    ----------
    ctx : Context
    sampler : AdaptiveMetropolis or DreamZS
        Finished.
    draws_phys : numpy.ndarray
        Saved draws (chain, draw, parameter) in physical units.
    post_kp : numpy.ndarray
        All post-burn-in draws in kp.

    Returns
    -------
    McmcDiagnostics
    """
    cfg = ctx.config
    diag = cv.arviz_diagnostics(draws_phys, ctx.param_names)
    gr = dg.gelman_rubin(post_kp)
    finite = np.isfinite(gr)
    gr_mean = float(np.mean(gr)) if finite.all() else float("inf")
    rhat_ok = bool(np.isfinite(diag["rhat"]).all() and diag["rhat"].max() <= cfg.rhat_target)
    ess_ok = bool(np.isfinite(diag["ess_bulk"]).all() and diag["ess_bulk"].min() >= cfg.ess_target)
    acc = sampler.acceptance_rate(1)
    lo, hi = cfg.acceptance_window
    if isinstance(sampler, DreamZS):
        stop, n_gen = sampler.stop_reason, sampler.generations
        extra = {"acceptance_rate_test": np.full(sampler.nchain, np.nan), "n_resets": sampler.n_resets,
                 "adapt_end": sampler.adapt_end, "window": sampler.window(), "p_cr": sampler.move.p_cr.copy(),
                 "check_history": np.array(sampler.history, float), "n_factor_failures": 0}
    else:
        stop, n_gen = "fixed_length", sampler.iterations_total
        extra = {"acceptance_rate_test": sampler.acceptance_rate(0),
                 "n_factor_failures": sampler.haario.n_factor_failures}
    return McmcDiagnostics(
        rhat=diag["rhat"], ess_bulk=diag["ess_bulk"], ess_tail=diag["ess_tail"], mcse_mean=diag["mcse_mean"],
        rhat_max=float(np.nanmax(diag["rhat"])) if rhat_ok or np.isfinite(diag["rhat"]).any() else float("inf"),
        ess_bulk_min=float(np.nanmin(diag["ess_bulk"])) if np.isfinite(diag["ess_bulk"]).any() else 0.0,
        converged=rhat_ok and ess_ok, stop_reason=stop, n_generations=int(n_gen),
        gelman_rubin=gr, gr_mean=gr_mean, converged_gr=gr_mean <= cfg.gr_threshold,
        acceptance_rate=acc, acceptance_ok=dg.acceptance_ok(acc, lo, hi),
        n_invalid=sampler.n_invalid.sum(axis=0), n_outside=sampler.n_outside.sum(axis=0),
        n_start_redraws=sampler.n_start_redraws, start_kp=sampler.start_kp,
        n_sampler_evaluations=int(sampler.n_evaluations), **extra)


def summarise_mcmc(ctx: Context, sampler, cost: CostFunction) -> McmcSummary:
    """Posterior statistics, saved draws, diagnostics, posterior predictive and fit metrics.

    Parameters
    ----------
    ctx : Context
    sampler : AdaptiveMetropolis or DreamZS
        Finished.
    cost : CostFunction
        Of the site (its predictions give the posterior predictive).

    Returns
    -------
    McmcSummary
    """
    cfg = ctx.config
    post, _, draws_kp, draws_cost = _posterior_draws(ctx, sampler)
    K, N, d = post.shape
    free = ctx.mapper.free
    phys = ctx.mapper(post.reshape(-1, d))[:, free].reshape(K, N, d)
    nd = draws_kp.shape[1]
    draws = ctx.mapper(draws_kp.reshape(-1, d))[:, free].reshape(K, nd, d)
    pred = cost.predict(draws_kp.reshape(-1, d))
    tr_kp, tr_cost, tr_it = sampler.trace(400)
    diagnostics = convergence_summary(ctx, sampler, draws, post)
    if cfg.gev_mode:
        modes = [dg.gev_mode(draws[..., j]) for j in range(d)]
        mode, mode_method = np.array([m for m, _ in modes]), [s for _, s in modes]
    else:
        mode, mode_method = np.full(d, np.nan), ["none"] * d
    return McmcSummary(
        sampler=cfg.sampler, draws_kp=draws_kp, draws=draws, lp=-draws_cost,
        mean=phys.reshape(-1, d).mean(axis=0), sd=phys.reshape(-1, d).std(axis=0),
        quantiles=dg.quantiles(phys, cfg.quantiles), kp_mean=post.reshape(-1, d).mean(axis=0), n_posterior=N,
        trace_kp=(tr_kp, tr_it), trace_cost=tr_cost, mode=mode, mode_method=mode_method, diagnostics=diagnostics,
        sites=_predictive(pred, cost, K, nd))


def _predictive(pred: dict, cost: CostFunction, K: int, nd: int) -> list[SitePrediction]:
    """Posterior predictive of the saved draws, per site of the cost function: predictions
    (K, nd, nobs) per stream, log-likelihood terms, the model profile band and metrics."""
    out = []
    for s, site in enumerate(cost.sites):
        prof = pred["soc_profile"][s]                                      # (K*nd, nlev)
        with np.errstate(all="ignore"):
            entry = SitePrediction(site.site_id, profile_mean=np.nanmean(prof, axis=0),
                                   profile_q05=np.nanquantile(prof, 0.05, axis=0),
                                   profile_q95=np.nanquantile(prof, 0.95, axis=0),
                                   n_failed_predictive=int((pred["status"][s] != 0).sum()), notes=list(site.notes))
        for name, stream in site.streams.items():
            k = stream.nobs
            p = pred["pred"][name][s][:, :k]
            entry.pred[name] = p.reshape(K, nd, k)
            entry.loglik[name] = pred["loglik"][name][s][:, :k].reshape(K, nd, k)
            with np.errstate(all="ignore"):
                pm = np.nanmean(p, axis=0)
                entry.obs[name] = StreamFit(y=stream.y, sigma=stream.sigma, weight=stream.weight, top=stream.top,
                                            bottom=stream.bottom, mean=pm, q05=np.nanquantile(p, 0.05, axis=0),
                                            q95=np.nanquantile(p, 0.95, axis=0))
            entry.obs[name].metrics = dg.metrics(stream.y, pm, n_params=len(cost.mapper.free))
            if name == "soc_profile":
                entry.rmse_draws = np.sqrt(np.nanmean((p - stream.y) ** 2, axis=1))
        out.append(entry)
    return out


def _sceua_summary(ctx: Context, opt, sites: list) -> SceuaSummary:
    return SceuaSummary(kp_best=opt.x, best=ctx.mapper(opt.x[None])[0, ctx.mapper.free], cost=opt.cost,
                        n_evals=opt.n_evals, n_loops=opt.n_loops, converged=opt.converged, reason=opt.reason,
                        history=np.array(opt.history), sites=sites)


def summarise_sceua(ctx: Context, opt, cost: CostFunction) -> SceuaSummary:
    """The optimum of a site and its predictions.

    Parameters
    ----------
    ctx : Context
    opt : OptimumResult
    cost : CostFunction

    Returns
    -------
    SceuaSummary
    """
    return _sceua_summary(ctx, opt, _predictive(cost.predict(opt.x[None]), cost, 1, 1))


def calibrate_site(ctx: Context, index: int) -> SiteResult:
    """Calibrate one site with the configured method (site-by-site mode).

    Parameters
    ----------
    ctx : Context
        From :func:`prepare`.
    index : int
        Position of the site in ``ctx.profiles``.

    Returns
    -------
    SiteResult
        Status 'ok' with the typed summary in ``data`` (:class:`McmcSummary`,
        :class:`SceuaSummary` or :class:`MorrisSummary`), or 'failed' with the one-line error
        of a :class:`~pysoc.errors.PysocError` (other exceptions propagate).
    """
    profile = ctx.profiles[index]
    sid = str(profile.site_id)
    t0, c0 = time.monotonic(), time.process_time()
    label = f"site {index + 1}/{len(ctx.profiles)} {sid}"
    try:
        ctx.call_hooks("site_started", sid)
        forcing, obs = ctx.site_setup(profile)
        cost = CostFunction(ctx.model, [forcing], [obs], ctx.mapper)
        fn = _row0(cost)
        key = site_key(sid)
        if ctx.config.method == "mcmc":
            sampler = run_mcmc(ctx, fn, key, f"progress_{index:06d}", label)
            data = summarise_mcmc(ctx, sampler, cost)
        elif ctx.config.method == "sceua":
            rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(ctx.config.seed, spawn_key=(key, 2))))
            opt = sceua(fn, len(ctx.free), ctx.config.sceua, rng, callback=ctx.ex.service)
            data = summarise_sceua(ctx, opt, cost)
        else:
            mseed = int(np.random.SeedSequence(ctx.config.seed, spawn_key=(key, 3)).generate_state(1)[0])
            data = MorrisSummary(**morris_screening(fn, ctx.param_names, ctx.config.morris, mseed,
                                                    callback=ctx.ex.service))
        data.n_evaluations = cost.n_evaluations
        res = SiteResult(index, sid, "ok", data=data)
    except PysocError as exc:
        res = SiteResult(index, sid, "failed", error=str(exc))
    res.wall_time = time.monotonic() - t0
    res.cpu_time = time.process_time() - c0
    res.rank = ctx.ex.rank
    return res


def _row0(cost: CostFunction):
    return cost.site_cost


# ---- runs --------------------------------------------------------------------------------------------
def _prepare_store(ctx: Context) -> None:
    """Rank 0: check or create the checkpoint manifest (other ranks wait)."""
    cfg = ctx.config
    store = ctx.store
    error = None
    if ctx.ex.is_root:
        man = store.load("manifest")
        ids = [p.site_id for p in ctx.profiles]
        if man is not None and cfg.resume and man.get("layout", 1) != SUMMARY_LAYOUT:
            error = (f"{store.dir}: checkpoint written by an earlier pysoc (site summaries as dicts, layout "
                     f"{man.get('layout', 1)}; this version reads layout {SUMMARY_LAYOUT}); delete the directory or "
                     f"set &calibrate resume = .false.")
        elif man is not None and cfg.resume and man.get("fingerprint") != ctx.fingerprint:
            error = (f"{store.dir}: checkpoint of a run with other settings or inputs; delete the directory or set "
                     f"&calibrate resume = .false.")
        elif man is not None and cfg.resume and man.get("site_ids") != ids:
            error = f"{store.dir}: checkpoint of a run with other sites; delete the directory or set resume = .false."
        else:
            if man is not None and not cfg.resume:
                _clear_store(store)
            store.save("manifest", {"fingerprint": ctx.fingerprint, "site_ids": ids, "method": cfg.method,
                                    "mode": cfg.mode, "layout": SUMMARY_LAYOUT})
    error = ctx.ex.bcast(error)
    if error:
        raise ConfigError(error)


def _clear_store(store: CheckpointStore) -> None:
    if not store.dir.is_dir():
        return
    for p in store.dir.iterdir():
        if p.suffix in (".pkl", ".part") or p.name.endswith(".part"):
            p.unlink(missing_ok=True)
    try:
        store.dir.rmdir()
    except OSError:
        pass


def run_site_by_site(ctx: Context) -> list:
    """Calibrate every site on its own, farmed out over the ranks; finished sites are read
    from the checkpoint when resuming.

    Parameters
    ----------
    ctx : Context

    Returns
    -------
    list of SiteResult
        One per profile on rank 0; empty on the other ranks.
    """
    cfg = ctx.config
    store = ctx.store
    n = len(ctx.profiles)
    results: dict[int, SiteResult] = {}
    done_before = set()
    if ctx.ex.is_root and cfg.resume:
        for i in range(n):
            r = store.load(f"done_{i:06d}")
            if r is not None:
                results[i] = r
                done_before.add(i)
        if done_before:
            ctx.progress.line(f"resuming: {len(done_before)} finished site(s) read from {store.dir}")
    tasks = ctx.ex.bcast([i for i in range(n) if i not in done_before])
    n_failed = [sum(1 for r in results.values() if not r.ok)]

    def work(i: int) -> SiteResult:
        r = calibrate_site(ctx, i)
        if r.ok:
            store.save(f"done_{i:06d}", r)
        store.remove(f"progress_{i:06d}")
        text = (f"site {i + 1}/{n} {r.site_id}: {r.status} in {r.wall_time:.1f} s" +
                (f" ({r.error})" if not r.ok else _short(r, cfg)))
        ctx.progress.site_done(text)
        return r

    def on_result(i: int, r: SiteResult, source: int) -> None:
        results[i] = r
        if not r.ok:
            n_failed[0] += 1
        ctx.progress.overall(len(results), n_failed[0], len(done_before))

    ctx.ex.farm(tasks, work, on_result)
    if not ctx.ex.is_root:
        return []
    return [results[i] for i in range(n)]


def _short(r: SiteResult, cfg) -> str:
    d = r.data
    if cfg.method == "mcmc":
        g = d.diagnostics
        flag = "converged" if g.converged else f"NOT converged ({g.stop_reason})"
        return (f" ({flag}: max R-hat {g.rhat_max:.3f}, min bulk ESS {g.ess_bulk_min:.0f}, "
                f"{g.n_sampler_evaluations} evaluations, median acceptance {np.median(g.acceptance_rate):.2f}, "
                f"NSE {d.sites[0].metric('soc_profile', 'nse'):.2f})")
    if cfg.method == "sceua":
        return f" (cost {d.cost:.4g} after {d.n_evals} evaluations, {d.reason})"
    return f" ({d.n_trajectories_used}/{d.n_trajectories} trajectories)"


def run_one_batch(ctx: Context) -> tuple[list, list]:
    """One parameter vector for all profiles. Every rank sets up every site (so failures
    are excluded identically everywhere) and prepares only its own share.

    Parameters
    ----------
    ctx : Context

    Returns
    -------
    results : list of SiteResult
        The one-batch result (index -1; its data on rank 0 only).
    failed : list of SiteResult
        The sites whose set-up failed.
    used : list of int
        Profile indices of the sites in the batch.

    Raises
    ------
    NothingCalibrated
        No site could be set up.
    """
    setups, failed = [], []
    for i, p in enumerate(ctx.profiles):
        try:
            ctx.call_hooks("site_started", str(p.site_id))
            setups.append((i, *ctx.site_setup(p)))
        except PysocError as exc:
            failed.append(SiteResult(i, str(p.site_id), "failed", error=str(exc)))
    if not setups:
        raise NothingCalibrated(f"one-batch calibration: no usable site" +
                                (f"; site {failed[0].site_id}: {failed[0].error}" if failed else ""))
    ctx.progress.line(f"one-batch: {len(setups)} site(s), {len(failed)} excluded") if ctx.ex.is_root else None
    nsite = len(setups)
    mine = [k for k in range(nsite) if k % ctx.ex.size == ctx.ex.rank]
    local = (CostFunction(ctx.model, [setups[k][1] for k in mine], [setups[k][2] for k in mine], ctx.mapper)
             if mine else None)
    ctx.call_hooks("batch_ready")

    def site_costs(kp):
        kp = np.atleast_2d(kp)
        full = np.zeros((nsite, kp.shape[0]))
        if local is not None:
            full[mine] = local(kp)
        return ctx.ex.allreduce_sum(full)

    def total(kp):
        return site_costs(kp).sum(axis=0)

    t0, c0 = time.monotonic(), time.process_time()
    data = _one_batch_method(ctx, total, local, mine)
    if ctx.ex.is_root:
        ctx.store.remove("progress_onebatch")
    result = SiteResult(-1, "one_batch", "ok", data=data, wall_time=time.monotonic() - t0,
                        cpu_time=time.process_time() - c0, rank=ctx.ex.rank)
    return [result], failed, [setups[k][0] for k in range(nsite)]


def _gather_predictions(ctx: Context, local, mine: list, kp: np.ndarray, K: int, nd: int) -> list:
    """The posterior predictive of every site of the batch, gathered on rank 0 in site order
    (each rank predicts its own share ``mine`` at the draws ``kp`` (K * nd, d))."""
    local_pred = _predictive(local.predict(kp), local, K, nd) if local is not None else []
    gathered = ctx.ex.gather([(mine[j], e) for j, e in enumerate(local_pred)])
    if not ctx.ex.is_root:
        return []
    return [e for _, e in sorted((x for part in gathered for x in part), key=lambda t: t[0])]


def _one_batch_method(ctx: Context, total, local, mine: list):
    """The configured method on the summed cost ``total`` (collective); the summary on rank
    0, None elsewhere for MCMC and SCE-UA."""
    cfg = ctx.config
    if cfg.method == "mcmc":
        sampler = run_mcmc(ctx, total, ONE_BATCH_KEY, "progress_onebatch", "one-batch", save=ctx.ex.is_root)
        draws_kp = _posterior_draws(ctx, sampler)[2]
        K, nd = draws_kp.shape[:2]
        sites = _gather_predictions(ctx, local, mine, draws_kp.reshape(-1, draws_kp.shape[2]), K, nd)
        if not ctx.ex.is_root:
            return None
        data = summarise_mcmc(ctx, sampler, _NoPredict())
        data.sites = sites
        return data
    if cfg.method == "sceua":
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(cfg.seed, spawn_key=(ONE_BATCH_KEY, 2))))
        opt = sceua(total, len(ctx.free), cfg.sceua, rng)
        sites = _gather_predictions(ctx, local, mine, opt.x[None], 1, 1)
        return _sceua_summary(ctx, opt, sites) if ctx.ex.is_root else None
    mseed = int(np.random.SeedSequence(cfg.seed, spawn_key=(ONE_BATCH_KEY, 3)).generate_state(1)[0])
    return MorrisSummary(**morris_screening(total, ctx.param_names, cfg.morris, mseed))


class _NoPredict:
    """Stand-in cost for summarise_mcmc in one-batch mode (predictions are gathered separately)."""

    sites: list = []
    mapper = None

    def predict(self, kp):
        return {"soc_profile": np.zeros((0,)), "status": np.zeros((0,)), "pred": {}, "loglik": {}}


class CheckpointMismatch(ConfigError):
    """The checkpoint directory belongs to another run (raised identically on every rank)."""


def prepare(config: CalibrationConfig, profiles: Sequence, executor=None) -> Context:
    """Select the profiles and build the context of the run (model, parameters, checks of
    everything that would fail every site). No MPI communication: an error here is raised
    before any rank waits for another.

    Parameters
    ----------
    config : CalibrationConfig
    profiles : sequence of pysoc.io.profiles.Profile
    executor : SerialExecutor or MPIExecutor, optional
        :func:`pysoc.da.parallel.get_executor` (default serial).

    Returns
    -------
    Context

    Raises
    ------
    ConfigError, DataError
        A setting out of range, a stream the model cannot produce, inputs that no site can
        use, or no profile passing the selection (``min_layers``, ``min_depth``).
    """
    from pysoc.io.profiles import select

    ex = executor or SerialExecutor()
    sel = select(profiles, min_layers=config.min_layers, min_depth=config.min_depth)
    if not len(sel):
        raise DataError(f"no profile passes the selection (min_layers {config.min_layers}, min_depth "
                        f"{config.min_depth} m): {sel.summary()}")
    ctx = Context(config, list(sel), ex)
    ctx.removed = list(sel.removed)
    check_site_inputs(ctx)
    return ctx


def execute(ctx: Context, figure_writer=None) -> RunResult | None:
    """Run the prepared calibration (collective over the ranks of ``ctx.ex``), resuming
    from the checkpoint directory when it holds one of the same run.

    Parameters
    ----------
    ctx : Context
        From :func:`prepare`.
    figure_writer : callable, optional
        ``figure_writer(run, outdir, base) -> {name: path}`` draws the figures (the CLI passes
        ``pysoc.plots.calibration.all_figures``; the engine never imports plotting code).

    Returns
    -------
    RunResult or None
        On rank 0 (outputs written when ``config.write_output``); None on the other ranks.

    Raises
    ------
    CheckpointMismatch
        The checkpoint belongs to a run with other settings, inputs or sites, or was written
        by an earlier pysoc (dict site summaries).
    NothingCalibrated
        Every site failed (no output is written, the checkpoint is removed).
    """
    config, ex = ctx.config, ctx.ex
    try:
        _prepare_store(ctx)
    except ConfigError as exc:
        raise CheckpointMismatch(str(exc)) from None
    one_batch_sites: list = []
    if config.mode == "site_by_site":
        results = run_site_by_site(ctx)
    else:
        results, failed, one_batch_sites = run_one_batch(ctx)
        results = results + failed
    nothing = ex.bcast(_nothing_calibrated(results) if ex.is_root else None)
    if nothing:                       # every site failed: no outputs, no checkpoint, the same error on every rank
        if ex.is_root:
            _clear_store(ctx.store)
        raise NothingCalibrated(nothing)
    if not ex.is_root:
        ex.barrier()
        return None
    if ctx.bounds is None:            # the model grid, when the root computed no site itself
        for p in ctx.profiles:
            try:
                ctx.site_setup(p)
                break
            except PysocError:
                continue
    run = RunResult(config, ctx.param_names, ctx.profiles, results, getattr(ctx, "removed", []), model=ctx.model,
                    bounds=ctx.bounds, one_batch_sites=one_batch_sites)
    run.summary = summarise_run(run)
    if config.write_output:
        from pysoc.da import output
        run.outputs = output.write_all(run, figure_writer)
    if not config.keep_checkpoint:
        _clear_store(ctx.store)
    ex.barrier()
    return run


def run_calibration(config: CalibrationConfig, profiles: Sequence, executor=None,
                    figure_writer=None) -> RunResult | None:
    """Run a calibration on ``profiles``: :func:`prepare` then :func:`execute`.

    Parameters
    ----------
    config : CalibrationConfig
    profiles : sequence
        Objects with the attributes of :class:`pysoc.io.profiles.Profile`.
    executor, figure_writer
        As in :func:`prepare` and :func:`execute`.

    Returns
    -------
    RunResult or None
        On rank 0; ``run.results[i].data`` is the typed summary of site i.

    Raises
    ------
    ConfigError, DataError
        As :func:`prepare` and :func:`execute`.

    Examples
    --------
    SCE-UA on two synthetic profiles made with known parameters (a few seconds):

    >>> import tempfile
    >>> from pysoc.da.likelihood import ParameterMapper
    >>> from pysoc.da.optimize import SCEUASettings
    >>> from pysoc.da.synthetic import synthetic_profiles
    >>> from pysoc.io.namelist import PKGDATA
    >>> model = get_model("clm5")
    >>> names = ("tau4s2", "efolding")
    >>> mapper = ParameterMapper(model, [model.parameters.index(n) for n in names], model.parameters.vector())
    >>> forcing = [str(PKGDATA / "forcing" / f"clm5_synthetic_site{i}.nc") for i in (1, 2)]
    >>> profiles = synthetic_profiles(model, mapper, forcing, 2, [10, 30, 50, 100], seed=3)
    >>> cfg = CalibrationConfig(method="sceua", parameters=names, sceua=SCEUASettings(max_evals=300),
    ...                         write_output=False, progress=False, checkpoint_dir=tempfile.mkdtemp())
    >>> run = run_calibration(cfg, profiles)
    >>> [r.status for r in run.results], type(run.results[0].data).__name__
    (['ok', 'ok'], 'SceuaSummary')
    >>> run.results[0].data.sites[0].metric("soc_profile", "nse") > 0.5
    True
    """
    return execute(prepare(config, profiles, executor), figure_writer)


def summarise_run(run: RunResult) -> dict:
    """Headline numbers of a run (``run.summary``, also in the NetCDF attributes).

    Parameters
    ----------
    run : RunResult

    Returns
    -------
    dict
        ``n_sites``, ``n_removed``, ``n_ok``, ``n_failed``; for MCMC also the fractions of
        converged / well-fitted sites, why the others stopped, median NSE, acceptance, CPU
        time and evaluations per site and (synthetic sites) ``recovery_r``.
    """
    cfg = run.config
    out: dict = {"n_sites": len(run.profiles), "n_removed": len(run.removed)}
    if cfg.method == "mcmc" and cfg.mode == "site_by_site":
        ok = [r for r in run.results if r.ok]
        out["n_ok"] = len(ok)
        out["n_failed"] = sum(1 for r in run.results if not r.ok)
        out.update(_mcmc_fractions(cfg, [r.data.diagnostics for r in ok]))
        nse = [r.data.sites[0].metric("soc_profile", "nse") for r in ok]
        out["median_nse"] = float(np.nanmedian(nse)) if ok and np.isfinite(nse).any() else float("nan")
        out["fraction_nse_ok"] = float(np.mean(np.asarray(nse) >= cfg.nse_threshold)) if ok else float("nan")
        out["median_wall_time"] = float(np.median([r.wall_time for r in ok])) if ok else float("nan")
        out["median_cpu_time"] = float(np.median([r.cpu_time for r in ok])) if ok else float("nan")
        out["median_evaluations"] = float(np.median([r.data.diagnostics.n_sampler_evaluations for r in ok])) \
            if ok else float("nan")
        rec = recovery(run)
        if rec is not None:
            out["recovery_r"] = rec
    elif cfg.method == "mcmc":
        r = run.results[0]
        out["n_ok"] = len(r.data.sites)
        out["n_failed"] = sum(1 for x in run.results[1:] if not x.ok)
        out.update(_mcmc_fractions(cfg, [r.data.diagnostics]))
        nse = [e.metric("soc_profile", "nse") for e in r.data.sites]
        out["median_nse"] = float(np.nanmedian(nse)) if np.isfinite(nse).any() else float("nan")
        out["median_cpu_time"] = float(r.cpu_time)
    else:
        out["n_ok"] = sum(1 for r in run.results if r.ok)
        out["n_failed"] = sum(1 for r in run.results if not r.ok)
    return out


def _mcmc_fractions(cfg: CalibrationConfig, datas: list) -> dict:
    """Fractions of the runs (their :class:`McmcDiagnostics`) that converged etc."""
    if not datas:
        return {"fraction_converged": float("nan"), "fraction_converged_gr": float("nan"),
                "fraction_acceptance_ok": float("nan"), "n_not_converged_budget": 0}
    return {
        "fraction_converged": float(np.mean([d.converged for d in datas])),
        "fraction_converged_gr": float(np.mean([d.converged_gr for d in datas])),
        "fraction_acceptance_ok": float(np.mean([bool(np.all(d.acceptance_ok)) for d in datas])),
        "median_acceptance": float(np.median([np.median(d.acceptance_rate) for d in datas])),
        "n_not_converged_budget": int(sum(1 for d in datas if not d.converged and
                                          d.stop_reason == "max_evaluations")),
        "n_not_converged": int(sum(1 for d in datas if not d.converged)),
    }


def recovery(run: RunResult) -> dict | None:
    """Parameter recovery of synthetic sites (seed 001).

    Parameters
    ----------
    run : RunResult

    Returns
    -------
    dict or None
        Parameter -> Pearson r between the true kp (``profile.meta['kp_true']``) and the
        posterior-mean kp over the sites; None with fewer than 3 such sites.
    """
    pairs = [(np.asarray(run.profiles[r.index].meta["kp_true"], float), r.data.kp_mean)
             for r in run.results if r.ok and "kp_true" in getattr(run.profiles[r.index], "meta", {})]
    if len(pairs) < 3:
        return None
    true = np.stack([p[0] for p in pairs])
    est = np.stack([p[1] for p in pairs])
    out = {}
    for j, name in enumerate(run.param_names):
        a, b = true[:, j], est[:, j]
        out[name] = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else float("nan")
    return out


__all__ = ["CalibrationConfig", "SiteResult", "RunResult", "Context", "McmcSummary", "McmcDiagnostics",
           "SceuaSummary", "MorrisSummary", "SitePrediction", "StreamFit", "RunHooks", "add_hook", "remove_hook",
           "active_hooks", "run_calibration", "prepare", "execute",
           "make_sampler", "run_mcmc", "summarise_mcmc", "METHODS", "SAMPLERS", "ACCEPTANCE_WINDOWS",
           "CheckpointMismatch", "NothingCalibrated", "calibrate_site", "check_memory", "check_site_inputs",
           "check_streams", "sampler_memory",
           "summarise_run", "recovery", "site_key", "seeds_for"]

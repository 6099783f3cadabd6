"""``pysoc-calibrate NAMELIST``: Bayesian calibration (adaptive Metropolis), SCE-UA
optimisation or Morris screening of a soil-carbon model against soil profiles.

Serial: ``pysoc-calibrate NAMELIST``. Parallel: ``mpirun -n N pysoc-calibrate NAMELIST``
(sites are farmed out over the ranks; results do not depend on N). Documentation of
every key: ``pysoc-calibrate --describe-namelist clm5`` and docs/calibration.md.

Namelist groups: ``&calibrate`` (what and where), ``&mcmc`` (adaptive Metropolis),
``&likelihood`` (data streams and σ), ``&sceua``, ``&morris``, ``&synthetic`` (synthetic
profiles from known parameters), ``&parameters`` (values of the parameters that are not
calibrated, physical units) and ``&<model>`` (model options).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from pysoc.cli import add_describe_namelist, add_version, run_main
from pysoc.errors import ConfigError, DataError, PysocWarning
from pysoc.io.atomic import check_output_dir
from pysoc.io.namelist import Group, Key, NamelistSpec, read_model_namelist, resolve_path
from pysoc.models import DEFAULT_MODEL, REGISTRY, model_class

PROG = "pysoc-calibrate"

CALIBRATE = Group("calibrate", (
    Key("model", "str", DEFAULT_MODEL, "model to calibrate", choices=tuple(REGISTRY)),
    Key("method", "str", "mcmc", "'mcmc' Bayesian posterior (sampler chosen in &mcmc), 'sceua' SCE-UA optimum, "
        "'morris' Morris screening of the cost ('am' is accepted as method = 'mcmc' with sampler = 'am')",
        choices=("mcmc", "am", "sceua", "morris")),
    Key("mode", "str", "site_by_site", "'site_by_site': each profile on its own; 'one_batch': one parameter "
        "vector for all profiles", choices=("site_by_site", "one_batch")),
    Key("profiles", "str", "files", "'files': sites_file + layers_file; 'synthetic': profiles generated from "
        "known parameters (&synthetic; parameter-recovery experiment)", choices=("files", "synthetic")),
    Key("sites_file", "str", "pkgdata:profiles/israd_sites.csv", "sites table of the profiles (CSV; "
        "docs/data.md)", path=True),
    Key("layers_file", "str", "pkgdata:profiles/israd_layers.csv", "layers table of the profiles (CSV)", path=True),
    Key("site_ids", "list[str]", [], "calibrate only these site_id values (empty: all)"),
    Key("max_sites", "int", 0, "calibrate at most this many profiles, in file order (0: all)", min=0),
    Key("forcing_file", "str", "", "forcing of every site: '' = built from the site covariates "
        "(pysoc.io.site_forcing); a path containing {site_id} = one file per site; another path = the same "
        "forcing for all sites"),
    Key("nep_file", "str", "", "monthly NEP observations for the nep_monthly stream: CSV with columns site_id, "
        "month (1 = first forcing month), nep_g_m2_month", path=True),
    Key("flux_file", "str", "", "tower-year fluxes for the nep_annual / gpp_annual streams: CSV with columns "
        "site_id, year, nep_g_m2_yr, nep_sd_g_m2_yr, gpp_g_m2_yr, gpp_sd_g_m2_yr (and lat, lon for towers that "
        "are not profiles: they become sites without SOC layers); pysoc.da.likelihood.read_annual_fluxes",
        path=True),
    Key("parameters", "list[str]", [], "parameters to calibrate (empty: all of the model's parameters); the "
        "others keep parameter_set plus &parameters"),
    Key("parameter_set", "str", "", "named parameter set of the fixed parameters ('' = model default)"),
    Key("seed", "int", 20240601, "random seed; streams are keyed by (site, chain), never by MPI rank", min=0),
    Key("min_layers", "int", 3, "profiles with fewer observed layers are excluded (seed 001: <= 2)", min=1),
    Key("min_depth", "float", 0.5, "profiles whose deepest layer bottom is not below this depth are excluded "
        "(seed 001: 50 cm)", min=0.0, units="m"),
    Key("output_dir", "str", "output", "directory of the outputs (relative to the namelist file)", path=True),
    Key("run_name", "str", "calibration", "prefix of the output files: <run_name>_posterior.nc, "
        "<run_name>_sites.csv, <run_name>_*.png"),
    Key("figures", "bool", True, "write the figures (traces, violins, profiles)"),
    Key("figure_sites", "int", 6, "number of sites shown in the violin and profile figures", min=1, max=60),
    Key("checkpoint_dir", "str", "", "checkpoint directory ('' = <output_dir>/<run_name>.checkpoint); must be "
        "shared by all ranks", path=True),
    Key("checkpoint_interval", "float", 60.0, "seconds between checkpoints of a site in progress (0: every "
        "block); finished sites are always saved", min=0.0, units="s"),
    Key("resume", "bool", True, "continue from the checkpoint of an interrupted run with the same settings"),
    Key("keep_checkpoint", "bool", False, "keep the checkpoint directory after a successful run"),
    Key("progress", "bool", True, "progress lines on stderr (per rank and overall, with ETA)"),
    Key("progress_interval", "float", 30.0, "seconds between progress lines of a long site", min=0.0, units="s"),
), doc="What to calibrate, against which profiles, and where the outputs go.")

MCMC = Group("mcmc", (
    Key("sampler", "str", "dream_zs", "'dream_zs': DREAM(ZS) population sampler, all chains in one kernel call per "
        "generation, runs until converged (default; docs/calibration.md); 'am': the seed method, a uniform test "
        "run then Haario adaptive Metropolis of fixed length (seeds 000-002)", choices=("dream_zs", "am")),
    Key("rhat_target", "float", 1.05, "converged when every parameter has rank-normalised split-R-hat <= this "
        "(ArviZ; the seeds' threshold 1.05); dream_zs stops there", min=1.0),
    Key("ess_target", "float", 400.0, "... and bulk effective sample size >= this (Vehtari et al. 2021 recommend "
        "400)", min=1e-9),
    Key("n_chains", "int", 0, "chains per site (0: 24 for dream_zs, 3 for am as in seeds 000-002); dream_zs needs "
        ">= 4", min=0, max=256),
    Key("max_evaluations", "int", 2000000, "dream_zs: budget of model evaluations per site (the run stops there "
        "if not converged, and the site is flagged)", min=1),
    Key("min_generations", "int", 500, "dream_zs: generations before the first convergence check", min=8),
    Key("delta_max", "int", 1, "dream_zs: largest number of archive-difference pairs per proposal", min=1, max=5),
    Key("n_cr", "int", 1, "dream_zs: number of crossover values CR = m / n_cr, adapted during burn-in (1: no "
        "crossover, every coordinate moves; best on the correlated soil-carbon posteriors, docs/calibration.md)", min=1,
        max=20),
    Key("p_unit", "float", 0.2, "dream_zs: probability of a unit jump rate (gamma = 1) between modes", min=0.0,
        max=1.0),
    Key("p_snooker", "float", 0.1, "dream_zs: probability of a snooker update", min=0.0, max=1.0),
    Key("archive_thin", "int", 10, "dream_zs: the chains' states join the archive every k generations", min=1),
    Key("n_test", "int", 20000, "am: iterations of the test run (uniform proposals; seeds 000/001: 20 000)", min=0),
    Key("n_formal", "int", 50000, "am: iterations of the formal run (Haario proposals; seed 001: 50 000)", min=2),
    Key("step_divisor", "float", 5.0, "am: D of the test run: kp_new = kp_old + r/D, r ~ U(-0.5, 0.5) (seed 002 "
        "eq. 7)", min=1e-6),
    Key("t0", "int", 4000, "am: formal-run iterations that use the test-run covariance C0 before adapting "
        "(Haario t0; PRODA re-estimates after 4000)", min=0),
    Key("scale_c0", "bool", True, "am: scale the test-run covariance C0 by s_d like C_t (.false.: C0 unscaled, "
        "which in high dimension makes the chains stall until t0)"),
    Key("epsilon", "float", 1e-8, "am: epsilon of C_t = s_d cov + s_d epsilon I (kp units squared)", min=1e-300),
    Key("sd_scale", "float", 5.6644, "am: s_d = sd_scale / d (Haario: 2.38^2 = 5.6644)", min=1e-6),
    Key("adapt_interval", "int", 10, "am: refresh the proposal covariance every k iterations (1 = every "
        "iteration)", min=1),
    Key("tempering", "bool", False, "am: multiply the cost difference by log(iteration + 2) as PRODA's MATLAB "
        "code (not in the papers)"),
    Key("block_size", "int", 1000, "iterations (generations) per block of random numbers; checkpoints and MPI "
        "service happen between blocks", min=1),
    Key("max_start_tries", "int", 100, "redraws of a starting point whose kernel run fails", min=0),
    Key("burn_in", "float", -1.0, "fraction of the run discarded as burn-in (-1: the sampler's default; am: 0.5 "
        "of the formal run as in the seeds; dream_zs: 0.25 of all generations, and never less than its adaptation "
        "period)", min=-1.0, max=0.99),
    Key("posterior_samples", "str", "chain", "am: 'chain': the Markov chain after burn-in (repeated states "
        "count); 'accepted': only accepted states, burn-in = first half of them (PRODA convention)",
        choices=("chain", "accepted")),
    Key("draws_saved", "int", 100, "posterior draws per chain written to the output and used for the "
        "diagnostics and the posterior predictive (evenly thinned)", min=4),
    Key("acceptance_min", "float", -1.0, "chains with an acceptance rate below are flagged (-1: the sampler's "
        "healthy window, 0.15 for am (seeds 000/002), 0.05 for dream_zs)", min=-1.0, max=1.0),
    Key("acceptance_max", "float", -1.0, "chains with an acceptance rate above are flagged (-1: 0.5)", min=-1.0,
        max=1.0),
    Key("gr_threshold", "float", 1.05, "classic Gelman-Rubin: reported as converged_gr when the mean over "
        "parameters is <= this (seed 001); not the convergence criterion", min=1.0),
    Key("nse_threshold", "float", 0.0, "a site fits when the NSE of the posterior predictive mean is >= this",
        max=1.0),
    Key("quantiles", "list[float]", [0.05, 0.25, 0.5, 0.75, 0.95], "posterior quantiles to report", min=0.0, max=1.0),
    Key("gev_mode", "bool", True, "posterior mode from a fitted GEV distribution (seed 002)"),
), doc="Markov chain Monte Carlo: sampler, convergence targets and output (spec methods.md §2).")

LIKELIHOOD = Group("likelihood", (
    Key("streams", "list[str]", ["soc_profile"], "data streams of the cost: soc_profile, soc_0_30, d14c_profile, "
        "nep_monthly, nep_annual, gpp_annual (tower-years, flux_file)",
        choices=("soc_profile", "soc_0_30", "d14c_profile", "nep_monthly", "nep_annual", "gpp_annual")),
    Key("sigma_rel", "list[float]", [], "per stream: sigma as a fraction of the observed value (empty: 0.3 for "
        "SOC and NEP, 0 for d14c)", min=0.0),
    Key("sigma_abs", "list[float]", [], "per stream: lower bound of sigma in the stream's units (empty: 0 for "
        "SOC, 100 per mil for d14c, 1 g C m-2 month-1 for NEP)", min=0.0),
    Key("weights", "list[float]", [], "per stream: weight lambda of the stream in the cost (empty: 1, and 5 for "
        "d14c as seed 003)", min=0.0),
    Key("depth_weights", "bool", False, "weights exp(-|depth|) with 10 for the top and bottom layers (seed 002)"),
    Key("top_bottom_weight", "float", 10.0, "weight of the top and bottom observed layers with depth_weights",
        min=0.0),
), doc="Cost J = sum over streams of lambda sum_j w_j (y_j - yhat_j)^2 / (2 sigma_j^2), "
       "sigma_j = max(sigma_rel |y_j|, sigma_abs).")

SCEUA = Group("sceua", (
    Key("n_complexes", "int", 4, "number of complexes p", min=1),
    Key("points_per_complex", "int", 0, "points per complex m (0: 2n + 1)", min=0),
    Key("subcomplex_size", "int", 0, "points per sub-complex q (0: n + 1)", min=0),
    Key("evolution_steps", "int", 0, "CCE steps per complex between shuffles beta (0: 2n + 1)", min=0),
    Key("offspring", "int", 1, "offspring per sub-complex alpha", min=1),
    Key("max_evals", "int", 20000, "budget of cost evaluations", min=1),
    Key("kstop", "int", 5, "shuffling loops over which the improvement is measured", min=1),
    Key("pcento", "float", 0.001, "stop when the best cost improved by less than this fraction over kstop loops",
        min=0.0),
    Key("peps", "float", 0.001, "stop when the normalised geometric range of the population is below this",
        min=0.0),
), doc="SCE-UA optimiser (Duan et al. 1993).")

MORRIS = Group("morris", (
    Key("n_trajectories", "int", 50, "Morris trajectories (seed 003: 50)", min=2),
    Key("num_levels", "int", 4, "grid levels (seed 003: 4, so delta = 2/3 of the range)", min=2),
    Key("response", "str", "cost", "screen the cost J or log10(J)", choices=("cost", "log_cost")),
    Key("num_resamples", "int", 100, "bootstrap resamples of the mu* confidence interval", min=1),
), doc="Morris elementary-effects screening of the cost (SALib).")

SYNTHETIC = Group("synthetic", (
    Key("forcing_files", "list[str]", ["pkgdata:forcing/clm5_synthetic_site1.nc",
                                       "pkgdata:forcing/clm5_synthetic_site2.nc"],
        "forcing of the synthetic sites (cycled)"),
    Key("n_sites", "int", 6, "number of synthetic profiles", min=1),
    Key("layer_bottoms_cm", "list[float]", [10.0, 20.0, 30.0, 50.0, 70.0, 100.0, 150.0],
        "bottoms of the observed layers (cm; the first layer starts at 0)", min=0.0),
    Key("kp_min", "float", 0.2, "true kp of the calibrated parameters are drawn uniformly in [kp_min, kp_max]",
        min=0.0, max=1.0),
    Key("kp_max", "float", 0.8, "upper end of the true kp", min=0.0, max=1.0),
    Key("noise_rel", "float", 0.0, "multiplicative Gaussian noise (fraction) on the synthetic SOC", min=0.0),
    Key("seed", "int", 1, "seed of the true parameters and the noise", min=0),
), doc="Synthetic profiles from known parameters (profiles = 'synthetic'; seed 001 parameter recovery).")


def build_spec(model_name: str) -> NamelistSpec:
    """The namelist of pysoc-calibrate for one model (its &parameters and options groups).

    Parameters
    ----------
    model_name : str
        A registry name (:data:`pysoc.models.REGISTRY`).

    Returns
    -------
    NamelistSpec

    Examples
    --------
    >>> spec = build_spec("clm5")
    >>> list(spec.groups)[:5]
    ['calibrate', 'mcmc', 'likelihood', 'sceua', 'morris']
    """
    cls = model_class(model_name)
    return NamelistSpec([CALIBRATE, MCMC, LIKELIHOOD, SCEUA, MORRIS, SYNTHETIC,
                         cls.parameters.namelist_group("parameters", f"{cls.name}: values of the parameters that "
                                                       "are not calibrated (physical units; names case-insensitive, "
                                                       "indexed names as array elements, e.g. PRDX(1) = 0.5; "
                                                       "`pysoc-run --list-parameters`)"),
                         cls.options_group], doc="Namelist of pysoc-calibrate.")


def load_namelist(path: Path):
    """Read and check a pysoc-calibrate namelist.

    Parameters
    ----------
    path : path

    Returns
    -------
    nml : Namelist
    model_name : str

    Raises
    ------
    ConfigError
        One line naming the file, the group and the key.
    """
    return read_model_namelist(path, "calibrate", tuple(REGISTRY), build_spec)


def _per_stream(values, n, key, src):
    if not values:
        return [None] * n
    if len(values) != n:
        raise ConfigError(f"{src}: &likelihood {key} has {len(values)} values for {n} streams")
    return list(values)


def _stream_specs(lik_keys, src: str) -> tuple:
    """The &likelihood streams with their per-stream sigma and weights."""
    from pysoc.da.likelihood import StreamSpec

    streams = list(lik_keys["streams"])
    if len(set(streams)) != len(streams):
        raise ConfigError(f"{src}: &likelihood streams lists a stream twice")
    n = len(streams)
    per = [_per_stream(lik_keys[k], n, k, src) for k in ("sigma_rel", "sigma_abs", "weights")]
    return tuple(StreamSpec(name, *values) for name, *values in zip(streams, *per))


def _sampler_settings(mcmc_keys, method: str, sampler: str, src: str):
    """(AMSettings, DreamSettings) of &mcmc; n_chains = 0 means the sampler's default."""
    from pysoc.da.dream import DreamSettings
    from pysoc.da.sampler import AMSettings

    chains = mcmc_keys["n_chains"] or (3 if sampler == "am" else 24)
    am = AMSettings(n_chains=chains, **{k: mcmc_keys[k] for k in (
        "n_test", "n_formal", "step_divisor", "t0", "epsilon", "sd_scale", "adapt_interval", "block_size", "tempering",
        "max_start_tries", "scale_c0")})
    dream = DreamSettings(n_chains=chains, **{k: mcmc_keys[k] for k in (
        "delta_max", "n_cr", "p_unit", "p_snooker", "archive_thin", "min_generations", "max_evaluations", "block_size",
        "max_start_tries")})
    if method == "mcmc" and sampler == "am" and chains < 2:
        raise ConfigError(f"{src}: &mcmc n_chains = {chains}: must be >= 2 for the am sampler (Gelman-Rubin needs "
                          f"several chains)")
    if method == "mcmc" and sampler == "dream_zs" and chains < 4:
        raise ConfigError(f"{src}: &mcmc n_chains = {chains}: must be >= 4 for the dream_zs sampler (24 by default)")
    return am, dream


def _forcing_path(forcing: str, src: str) -> str:
    """&calibrate forcing_file relative to the namelist ('{site_id}' kept)."""
    if not forcing:
        return forcing
    base = Path(src).resolve().parent
    if "{site_id}" not in forcing:
        return str(resolve_path(forcing, base))
    return str(resolve_path(forcing.replace("{site_id}", "@@SITE@@"), base)).replace("@@SITE@@", "{site_id}")


def _check_output_keys(cal_keys, src: str) -> None:
    check_output_dir(cal_keys["output_dir"], f"{src}: &calibrate output_dir")
    if cal_keys["checkpoint_dir"]:
        check_output_dir(cal_keys["checkpoint_dir"], f"{src}: &calibrate checkpoint_dir")
    name = cal_keys["run_name"]
    if not name or "/" in name or name in (".", ".."):
        raise ConfigError(f"{src}: &calibrate run_name = {name!r}: must be a non-empty file-name prefix "
                          f"without '/' (the outputs go to output_dir)")


def _calibrated_names(requested, model_name: str, src: str) -> tuple:
    """&calibrate parameters spelled as in the model's table (names are case-insensitive)."""
    table = model_class(model_name).parameters
    names = []
    for name in requested:
        if table.lookup(name) is None:
            raise ConfigError(f"{src}: &calibrate parameters: {name!r} is not a parameter of {model_name} (known: "
                              f"{', '.join(table.names)})")
        names.append(table.lookup(name))
    return tuple(names)


def config_from_namelist(nml, model_name: str, src: str):
    """The calibration settings of a checked namelist.

    Parameters
    ----------
    nml : Namelist
        From :func:`load_namelist`.
    model_name : str
        The registry name of the model (``&calibrate model``).
    src : str
        The namelist file (prefix of every error message).

    Returns
    -------
    pysoc.da.run.CalibrationConfig
        Checked (:meth:`~pysoc.da.run.CalibrationConfig.check`).

    Raises
    ------
    ConfigError
        One line naming the file, the group and the key.
    """
    from pysoc.da.likelihood import DepthWeights
    from pysoc.da.morris import MorrisSettings
    from pysoc.da.optimize import SCEUASettings
    from pysoc.da.run import CalibrationConfig

    cal_keys, mcmc_keys, lik_keys = nml["calibrate"], nml["mcmc"], nml["likelihood"]
    specs = _stream_specs(lik_keys, src)
    method, sampler = cal_keys["method"], mcmc_keys["sampler"]
    if method == "am":
        method, sampler = "mcmc", "am"
    am, dream = _sampler_settings(mcmc_keys, method, sampler, src)
    sce_keys, morris_keys = nml["sceua"], nml["morris"]
    if morris_keys["num_levels"] % 2:
        raise ConfigError(f"{src}: &morris num_levels must be even")
    forcing = _forcing_path(cal_keys["forcing_file"], src)
    _check_output_keys(cal_keys, src)
    names = _calibrated_names(cal_keys["parameters"], model_name, src)
    inputs = [cal_keys["sites_file"], cal_keys["layers_file"]] if cal_keys["profiles"] == "files" else []
    inputs += [cal_keys[k] for k in ("nep_file", "flux_file") if cal_keys[k]]
    same = {k: mcmc_keys[k] for k in ("rhat_target", "ess_target", "burn_in", "posterior_samples", "draws_saved",
                                      "acceptance_min", "acceptance_max", "gr_threshold", "nse_threshold", "gev_mode")}
    same.update({k: cal_keys[k] for k in ("mode", "parameter_set", "seed", "min_layers", "min_depth", "output_dir",
                                          "run_name", "checkpoint_dir", "checkpoint_interval", "resume",
                                          "keep_checkpoint", "progress", "progress_interval", "figures",
                                          "figure_sites")})
    config = CalibrationConfig(
        model=model_name, model_options=dict(nml[model_name]), method=method, sampler=sampler, parameters=names,
        fixed=dict(nml["parameters"]), streams=specs,
        depth_weights=DepthWeights(lik_keys["depth_weights"], lik_keys["top_bottom_weight"]), am=am, dream=dream,
        quantiles=tuple(mcmc_keys["quantiles"]),
        sceua=SCEUASettings(*(sce_keys[k] for k in ("n_complexes", "points_per_complex", "subcomplex_size",
                                                     "evolution_steps", "offspring", "max_evals", "kstop", "pcento",
                                                     "peps"))),
        morris=MorrisSettings(*(morris_keys[k] for k in ("n_trajectories", "num_levels", "response",
                                                          "num_resamples"))),
        forcing_file=forcing, namelist_text=nml.text, input_files=tuple(inputs), **same)
    with in_file(src):
        return config.check()


class in_file:
    """Context manager: a ConfigError raised inside gets the namelist file in front of its
    message (the engine names the group and key, the CLI the file)."""

    def __init__(self, src: str):
        self.src = src

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if isinstance(exc, ConfigError) and not str(exc).startswith(self.src):
            raise type(exc)(f"{self.src}: {exc}") from None
        return False


def load_profiles(nml, config, src: str) -> list:
    """The profiles of &calibrate: synthetic (made with the model and known parameters) or
    read from the sites/layers tables, with fluxes, a site subset and NEP attached.

    Parameters
    ----------
    nml : Namelist
    config : pysoc.da.run.CalibrationConfig
    src : str
        The namelist file (prefix of error messages).

    Returns
    -------
    list of pysoc.io.profiles.Profile

    Raises
    ------
    ConfigError, DataError
    """
    c = nml["calibrate"]
    if c["profiles"] == "synthetic":
        from pysoc.da.likelihood import ParameterMapper
        from pysoc.da.synthetic import synthetic_profiles
        from pysoc.models import get_model

        sy = nml["synthetic"]
        if sy["kp_min"] >= sy["kp_max"]:
            raise ConfigError(f"{src}: &synthetic kp_min must be < kp_max")
        model = get_model(config.model, **config.model_options)
        table = model.parameters
        names = list(config.parameters) or list(table.names)
        free = [table.index(n) for n in names]
        theta = table.check(table.vector(config.parameter_set or None, overrides=config.fixed), warn_prior=False,
                            source=f"{src}: &parameters", free=names)
        base = Path(src).resolve().parent
        files = [str(resolve_path(f, base)) for f in sy["forcing_files"]]
        profiles = synthetic_profiles(model, ParameterMapper(model, free, theta), files, sy["n_sites"],
                                      sy["layer_bottoms_cm"], sy["kp_min"], sy["kp_max"], sy["noise_rel"], sy["seed"])
    else:
        from pysoc.io.profiles import read_profiles

        profiles = read_profiles(c["sites_file"], c["layers_file"])
    if c["flux_file"]:
        from pysoc.da.likelihood import attach_annual_fluxes

        profiles = attach_annual_fluxes(profiles, c["flux_file"])
    if c["site_ids"]:
        want = [str(s) for s in c["site_ids"]]
        have = {p.site_id: p for p in profiles}
        missing = [s for s in want if s not in have]
        if missing:
            raise ConfigError(f"{src}: &calibrate site_ids: {missing[0]!r} is not among the profiles")
        profiles = [have[s] for s in want]
    if c["max_sites"]:
        profiles = profiles[:c["max_sites"]]
    if c["nep_file"]:
        attach_nep(profiles, c["nep_file"])
    return profiles


def attach_nep(profiles, path) -> None:
    """Attach monthly NEP observations to the profiles (``profile.meta['nep_monthly']``, one
    value per month from the first forcing month, NaN where not observed).

    Parameters
    ----------
    profiles : list of Profile
    path : path
        CSV with columns site_id, month (1 = the first forcing month), nep_g_m2_month.

    Raises
    ------
    DataError
        The file missing, a column missing or a month not an integer >= 1.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    df = pd.read_csv(path, comment="#")
    for col in ("site_id", "month", "nep_g_m2_month"):
        if col not in df.columns:
            raise DataError(f"{path}: missing column '{col}' (need site_id, month, nep_g_m2_month)")
    df["site_id"] = df["site_id"].astype(str)
    for p in profiles:
        sub = df[df["site_id"] == str(p.site_id)]
        if sub.empty:
            continue
        months = sub["month"].to_numpy()
        if (months < 1).any() or (months != np.round(months)).any():
            raise DataError(f"{path}: column 'month' of site {p.site_id}: months must be integers >= 1")
        series = np.full(int(months.max()), np.nan)
        series[months.astype(int) - 1] = sub["nep_g_m2_month"].to_numpy(float)
        p.meta["nep_monthly"] = series


def summary_text(run) -> str:
    """The summary printed at the end of a run (convergence, acceptance, fit per stream).

    Parameters
    ----------
    run : pysoc.da.run.RunResult

    Returns
    -------
    str
    """
    cfg = run.config
    s = run.summary
    lines = [f"{PROG}: {run.model.name} {cfg.method} ({cfg.mode}) on {s['n_sites']} profiles "
             f"({s.get('n_removed', 0)} excluded by the selection)"]
    for k, p in run.outputs.items():
        lines.append(f"  {k:>16s}: {p}")
    if cfg.method == "mcmc":
        lines += _mcmc_lines(run)
        if np.isfinite(s.get("median_nse", np.nan)):
            lines.append(f"  median NSE of the posterior predictive mean: {s['median_nse']:.3f}")
        lines += _skill_lines(run)
        if "recovery_r" in s:
            rec = ", ".join(f"{k} {v:.2f}" for k, v in s["recovery_r"].items())
            lines.append(f"  recovery (r of true vs posterior-mean kp): {rec}")
    else:
        lines.append(f"  sites done: {s.get('n_ok', 0)}, failed: {s.get('n_failed', 0)}")
        if cfg.method == "sceua":
            lines += _skill_lines(run) + _site_skill_lines(run)
    return "\n".join(lines)


def _site_skill_lines(run, max_sites: int = 20) -> list[str]:
    """Per site and stream: NSE (1 - SSE/SST) and RMSE of the fit (at most ``max_sites`` lines)."""
    from pysoc.da.likelihood import STREAMS, stream_skill
    from pysoc.da.output import site_entries

    entries = [(p.site_id, e) for p, e in zip(run.profiles, site_entries(run)) if e is not None]
    if not entries or len(entries) > max_sites:
        return []
    out = ["  per site (NSE, RMSE):"]
    for sid, e in entries:
        parts = [f"{name} NSE {m['r2']:.2f}, RMSE {m['rmse']:.3g} {STREAMS[name].units if name in STREAMS else ''}"
                 for name, m in stream_skill([e]).items()]
        out.append(f"    {sid}: " + "; ".join(parts))
    return out


def _mcmc_lines(run) -> list[str]:
    """Convergence, why sites stopped, acceptance with the window right for the sampler,
    and what a flag means."""
    cfg, s = run.config, run.summary
    lo, hi = cfg.acceptance_window
    n_ok = s.get("n_ok", 0)
    pct = (lambda f: f"{100 * f:.0f} %" if np.isfinite(f) else "n/a")
    label = "DREAM(ZS)" if cfg.sampler == "dream_zs" else "adaptive Metropolis (seed method)"
    lines = [f"  sampler: {label}, {cfg.n_chains} chains per site"]
    if cfg.mode == "site_by_site":
        lines.append(f"  sites calibrated: {n_ok}, failed: {s.get('n_failed', 0)}")
    lines.append(f"  converged (every parameter rank-normalised split-R-hat <= {cfg.rhat_target:g} and bulk ESS >= "
                 f"{cfg.ess_target:g}, ArviZ): {pct(s.get('fraction_converged', np.nan))}")
    n_bad = s.get("n_not_converged", 0)
    if n_bad:
        if cfg.sampler == "dream_zs":
            lines.append(f"    {n_bad} not converged ({s.get('n_not_converged_budget', 0)} stopped at max_evaluations "
                         f"= {cfg.dream.max_evaluations}): their posteriors carry converged = 0 in the outputs; do not "
                         f"use them unchecked: raise &mcmc max_evaluations, or look at the trace figure for a chain "
                         f"stuck in another mode")
        else:
            lines.append(f"    {n_bad} not converged: their posteriors carry converged = 0; the am sampler runs a "
                         f"fixed length: raise n_formal or use sampler = 'dream_zs', which runs until converged")
    lines.append(f"  classic Gelman-Rubin (mean over parameters <= {cfg.gr_threshold:g}, seed 001; for comparison "
                 f"with the papers): {pct(s.get('fraction_converged_gr', np.nan))}")
    if "median_acceptance" in s:
        meaning = ("a chain outside it moves too rarely (below) or takes too small steps (above); with dream_zs "
                   "this is not a convergence test: judge by R-hat and ESS"
                   if cfg.sampler == "dream_zs" else
                   "a chain outside it is poorly tuned (seeds 000/002 flag it): with 21 parameters Haario's "
                   "s_d = 2.38^2/d gives about 6 %, so the flag fires; sd_scale = 2.4 gives about 15 %")
        lines.append(f"  acceptance: median {100 * s['median_acceptance']:.0f} %; all chains in "
                     f"[{100 * lo:g}, {100 * hi:g}] % at {pct(s.get('fraction_acceptance_ok', np.nan))} of the sites "
                     f"({meaning})")
    if np.isfinite(s.get("median_cpu_time", np.nan)):
        ev = s.get("median_evaluations")
        lines.append(f"  median CPU time per site: {s['median_cpu_time']:.1f} s" +
                     (f", {ev:.0f} model evaluations" if ev is not None and np.isfinite(ev) else ""))
    return lines


def _skill_lines(run) -> list[str]:
    """Per calibrated stream: skill of the posterior predictive mean pooled over the sites."""
    from pysoc.da.likelihood import STREAMS, stream_skill
    from pysoc.da.output import site_entries

    out = []
    for name, m in stream_skill(site_entries(run)).items():
        u = STREAMS[name].units if name in STREAMS else ""
        out.append(f"  {name}: {m['n']} obs at {m['n_sites']} sites, R2 (1 - SSE/SST) {m['r2']:.2f}, "
                   f"RMSE {m['rmse']:.3g} {u}, bias {m['bias']:+.3g} {u}")
    return out


def main(argv=None) -> int:
    """``pysoc-calibrate NAMELIST`` (serial or under mpirun).

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success; 2 after a one-line ``pysoc-calibrate: error: ...`` (bad input, a
        checkpoint of another run, every site failed).
    """
    p = argparse.ArgumentParser(prog=PROG, description="Calibrate a pysoc soil-carbon model against soil profiles "
                                "(adaptive Metropolis, SCE-UA or Morris), serially or with mpirun.")
    p.add_argument("namelist", nargs="?", type=Path, help="namelist file (see namelists/calibrate_clm5_demo.nml)")
    add_describe_namelist(p)
    add_version(p, PROG)
    args = p.parse_args(argv)
    if args.describe_namelist:
        return run_main(PROG, lambda: print(build_spec(args.describe_namelist).markdown()) or 0)
    if args.namelist is None:
        p.error("a namelist file is required")

    from pysoc.da import run as da_run
    from pysoc.da.parallel import abort_on_error, collective_setup, get_executor

    def all_figures(run, outdir, base):
        # lazy: matplotlib (~0.4 s of import) only when figures are drawn
        from pysoc.plots.calibration import all_figures as draw
        return draw(run, outdir, base)

    ex = get_executor()
    notes: list[str] = []

    def setup():
        src = str(args.namelist)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", PysocWarning)
            nml, model_name = load_namelist(args.namelist)
            config = config_from_namelist(nml, model_name, src)
            profiles = load_profiles(nml, config, src)
            with in_file(src):
                ctx = da_run.prepare(config, profiles, ex)
        notes.extend(dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, PysocWarning)))
        return ctx

    def report_notes():
        if ex.is_root:
            for text in notes:
                print(f"{PROG}: warning: {args.namelist}: {text}", file=sys.stderr, flush=True)

    if ex.size == 1:
        def go():
            ctx = setup()
            report_notes()
            run = da_run.execute(ctx, all_figures)
            print(summary_text(run))
            return 0
        return run_main(PROG, go)

    # several ranks: a setup error is gathered so that every rank stops together (no MPI_Abort)
    ctx = collective_setup(ex, PROG, setup)
    if ctx is None:
        return 2
    report_notes()
    try:
        run = da_run.execute(ctx, all_figures)
    except (da_run.CheckpointMismatch, da_run.NothingCalibrated) as exc:   # raised identically on every rank
        if ex.is_root:
            print(f"{PROG}: error: {exc}", file=sys.stderr, flush=True)
        return 2
    except BaseException as exc:  # noqa: BLE001  (any error on any rank ends the whole job)
        abort_on_error(ex, PROG, exc)
        return 2
    if ex.is_root:
        print(summary_text(run), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Site posteriors: the input of PRODA step 1 (spec methods.md §3.1).

:class:`SitePosteriors` holds, for every calibrated site, the posterior mean and mode of
the parameters and (optionally) posterior draws, all in the normalised calibration
coordinate ``kp`` in [0, 1] (value = min + kp (max - min), the box of the uniform prior),
plus per-site convergence and fit diagnostics used to filter sites as seed 001 does
(Gelman-Rubin <= 1.05, NSE >= 0).

``load_site_posteriors(path, model)`` reads the outputs of the calibration engine
(:mod:`pysoc.da`): the posterior NetCDF in ArviZ layout or its CSV site summary.
``synthetic_site_posteriors`` builds posteriors with a known covariate -> parameter
relation for tests and demonstrations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pysoc.errors import DataError


@dataclass
class SitePosteriors:
    """Posterior summaries of site-by-site calibrations (all parameters in kp units).

    site_ids: (nsite,) identifiers matching the profile table.
    mean, mode: (nsite, npar) posterior mean / mode (mode may be None).
    draws: (nsite, ndraw, npar) posterior draws or None.
    gelman_rubin: (nsite,) mean Gelman-Rubin statistic over parameters (NaN = unknown).
    nse: (nsite,) Nash-Sutcliffe efficiency of the posterior-mean fit (NaN = unknown).
    converged: (nsite,) 1 when the calibration's own convergence test passed (pysoc-calibrate:
    rank-normalised R-hat and bulk ESS), 0 when not, NaN = unknown.
    """

    model: str
    param_names: tuple[str, ...]
    site_ids: np.ndarray
    mean: np.ndarray
    mode: np.ndarray | None = None
    draws: np.ndarray | None = None
    gelman_rubin: np.ndarray | None = None
    nse: np.ndarray | None = None
    source: str = ""
    base_kp: np.ndarray | None = None
    all_names: tuple[str, ...] | None = None
    attrs: dict = field(default_factory=dict)
    converged: np.ndarray | None = None

    def __post_init__(self):
        self.param_names = tuple(self.param_names)
        if self.all_names is None:
            self.all_names = self.param_names
        self.all_names = tuple(self.all_names)
        if self.base_kp is None:
            self.base_kp = np.full(len(self.all_names), 0.5)
        self.base_kp = np.asarray(self.base_kp, dtype=float)
        missing = [n for n in self.param_names if n not in self.all_names]
        if missing:
            raise DataError(f"{self.source or 'site posteriors'}: parameter {missing[0]!r} is not a model parameter")
        self.columns = np.array([self.all_names.index(n) for n in self.param_names], dtype=int)
        self.site_ids = np.asarray([str(s) for s in self.site_ids], dtype=object)
        self.mean = np.asarray(self.mean, dtype=float)
        n, p = self.site_ids.size, len(self.param_names)
        if self.mean.shape != (n, p):
            raise DataError(f"{self.source or 'site posteriors'}: posterior means have shape {self.mean.shape}, "
                            f"expected ({n}, {p}) sites x parameters")
        if self.mode is not None:
            self.mode = np.asarray(self.mode, dtype=float)
            if self.mode.shape != (n, p):
                raise DataError(f"{self.source}: posterior modes have shape {self.mode.shape}, expected ({n}, {p})")
        if self.draws is not None:
            self.draws = np.asarray(self.draws, dtype=float)
            if self.draws.ndim != 3 or self.draws.shape[0] != n or self.draws.shape[2] != p:
                raise DataError(f"{self.source}: posterior draws have shape {self.draws.shape}, expected "
                                f"({n}, ndraw, {p})")
        for name in ("gelman_rubin", "nse", "converged"):
            v = getattr(self, name)
            setattr(self, name, np.full(n, np.nan) if v is None else np.asarray(v, dtype=float).reshape(n))
        if len(set(self.site_ids)) != n:
            raise DataError(f"{self.source or 'site posteriors'}: duplicate site ids")
        bad = ~np.isfinite(self.mean).all(axis=1)
        if bad.any():
            raise DataError(f"{self.source or 'site posteriors'}: non-finite posterior mean at site "
                            f"{self.site_ids[np.flatnonzero(bad)[0]]!r}")

    @property
    def n_sites(self) -> int:
        return int(self.site_ids.size)

    def full_kp(self, kp) -> np.ndarray:
        """kp of the calibrated parameters (..., ncal) -> kp of all model parameters (..., nall),
        the parameters that were not calibrated at their fixed values."""
        kp = np.asarray(kp, dtype=float)
        out = np.broadcast_to(self.base_kp, kp.shape[:-1] + (self.base_kp.size,)).copy()
        out[..., self.columns] = kp
        return out

    def subset(self, index) -> SitePosteriors:
        idx = np.asarray(index)
        return SitePosteriors(self.model, self.param_names, self.site_ids[idx], self.mean[idx],
                              None if self.mode is None else self.mode[idx],
                              None if self.draws is None else self.draws[idx],
                              self.gelman_rubin[idx], self.nse[idx], self.source, self.base_kp, self.all_names,
                              dict(self.attrs), self.converged[idx])

    def select_sites(self, site_ids: Sequence[str]) -> SitePosteriors:
        pos = {s: i for i, s in enumerate(self.site_ids)}
        missing = [s for s in site_ids if s not in pos]
        if missing:
            raise DataError(f"{self.source or 'site posteriors'}: no posterior for site {missing[0]!r}")
        return self.subset([pos[s] for s in site_ids])

    def quality_filter(self, max_gelman_rubin: float | None = 1.05, min_nse: float | None = 0.0,
                       require_converged: bool = False) -> tuple[SitePosteriors, list[tuple[str, str]]]:
        """Sites passing the filters -- the calibration's convergence test when
        ``require_converged``, then the seed-001 filters G-R <= 1.05 and NSE >= 0 (unknown
        values pass) -- and [(site_id, reason), ...] for the removed ones (the first failed
        filter of each)."""
        keep = np.ones(self.n_sites, bool)
        removed = []
        for i, s in enumerate(self.site_ids):
            gr, nse = self.gelman_rubin[i], self.nse[i]
            if require_converged and self.converged[i] == 0:
                keep[i] = False
                removed.append((s, "not converged (the calibration's R-hat/ESS test)"))
            elif max_gelman_rubin is not None and np.isfinite(gr) and gr > max_gelman_rubin:
                keep[i] = False
                removed.append((s, f"Gelman-Rubin {gr:.3f} > {max_gelman_rubin:g}"))
            elif min_nse is not None and np.isfinite(nse) and nse < min_nse:
                keep[i] = False
                removed.append((s, f"NSE {nse:.3f} < {min_nse:g}"))
        return self.subset(np.flatnonzero(keep)), removed


# ---- reading the calibration engine's outputs --------------------------------------------------
def load_site_posteriors(path, model, max_draws: int | None = 200) -> SitePosteriors:
    """Read site-by-site calibration results of ``model`` (a model instance).

    ``.nc``: the engine's posterior NetCDF (:mod:`pysoc.da.output`): root group with
    ``site_id``, ``status`` (0 ok), ``kp_mean`` (site, parameter), ``posterior_mode``
    (physical), ``gelman_rubin_mean``, ``soc_profile_nse``; group ``posterior`` with ``kp``
    (chain, draw, site, parameter); group ``constant_data`` with the values of the
    parameters that were not calibrated. Failed sites (status != 0) are left out.
    ``max_draws`` posterior draws per site are kept (evenly thinned over the pooled chains).

    ``.csv``: the engine's flat site summary (``site_id``, ``status``, ``<param>_mean`` and
    ``<param>_mode`` in physical units, ``gr_mean``, ``soc_profile_nse``); no draws; parameters
    without columns are taken as fixed at the model's default set (``attrs['fixed_from']``).

    Parameters
    ----------
    path : path
        ``<run_name>_posterior.nc`` or ``<run_name>_sites.csv`` of pysoc-calibrate.
    model : SoilCarbonModel
        The model the file was calibrated for (checked against the file).
    max_draws : int or None
        Draws kept per site (None: all).

    Returns
    -------
    SitePosteriors

    Raises
    ------
    DataError
        One line: the file missing, of another model, one-batch, or lacking a variable.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: site posterior file not found")
    if path.suffix.lower() in (".nc", ".nc4", ".netcdf"):
        return _load_netcdf(path, model, max_draws)
    if path.suffix.lower() in (".csv", ".txt"):
        return _load_csv(path, model)
    raise DataError(f"{path}: unknown site posterior format (expected the .nc posterior or the .csv site summary)")


def _base_kp(model, fixed: dict) -> np.ndarray:
    theta = model.parameters.vector(None, overrides=fixed)
    return np.asarray(model.parameters.to_kp(theta), dtype=float)


def _load_csv(path: Path, model) -> SitePosteriors:
    try:
        df = pd.read_csv(path)
    except Exception as exc:
        raise DataError(f"{path}: cannot read the site summary ({str(exc).splitlines()[0]})") from None
    if "site_id" not in df.columns:
        raise DataError(f"{path}: missing column 'site_id' in the site summary")
    if "status" in df.columns:
        df = df[df["status"].astype(str) == "ok"]
    df = df.rename(columns={c: model.parameters.lookup(c.rpartition("_")[0]) + "_" + c.rpartition("_")[2]
                            for c in df.columns if c.rpartition("_")[0] in model.parameters.aliases})  # former names
    names = tuple(n for n in model.parameters.names if f"{n}_mean" in df.columns)
    if not names:
        raise DataError(f"{path}: no column '<parameter>_mean' for any {model.name} parameter "
                        f"(e.g. '{model.parameters.names[0]}_mean')")
    idx = [model.parameters.index(n) for n in names]
    base = _base_kp(model, {})

    def kp_of(suffix):
        cols = [f"{n}_{suffix}" for n in names]
        if not all(c in df.columns for c in cols):
            return None
        full = np.repeat(model.parameters.defaults[None, :], len(df), axis=0)
        full[:, idx] = df[cols].to_numpy(dtype=float)
        return np.asarray(model.parameters.to_kp(full), float)[:, idx]

    mean, mode = kp_of("mean"), kp_of("mode")
    gr = _first_col(df, ("gr_mean", "gelman_rubin_mean"))
    nse = _first_col(df, ("soc_profile_nse", "nse"))
    sp = SitePosteriors(model.name, names, df["site_id"].astype(str).str.strip().to_numpy(), mean, mode, None,
                        gr, nse, source=str(path), base_kp=base, all_names=model.parameters.names)
    if len(names) < len(model.parameters):
        sp.attrs["fixed_from"] = "model default parameter set (the CSV summary does not record fixed values)"
    return sp


def _first_col(df: pd.DataFrame, names) -> np.ndarray | None:
    for n in names:
        if n in df.columns:
            return pd.to_numeric(df[n], errors="coerce").to_numpy(dtype=float)
    return None


def _open_group(path: Path, group: str | None):
    import xarray as xr

    try:
        with xr.open_dataset(path, group=group) as ds:
            return ds.load()
    except Exception as exc:
        raise DataError(f"{path}: cannot read group '{group or '/'}' ({str(exc).splitlines()[0]})") from None


def _fixed_values(path: Path) -> dict:
    try:
        const = _open_group(path, "constant_data")
    except DataError:
        return {}
    if "fixed_value" not in const:
        return {}
    return {str(n): float(v) for n, v in zip(const["fixed_parameter"].values, const["fixed_value"].values)}


def _parameter_names(root, path) -> tuple:
    """Calibrated parameter names of a posterior file: ``parameter_name`` (pysoc >= 0.2,
    CF root group) or the ``parameter`` coordinate (0.1)."""
    for key in ("parameter_name", "parameter"):
        if key in root.variables:
            return tuple(str(n) for n in root[key].values)
    raise DataError(f"{path}: no variable 'parameter_name' in the root group (not a pysoc-calibrate posterior)")


def _check_model(root, path: Path, model) -> None:
    """DataError when the posterior file was written for another model (its ``model`` attribute)."""
    other = str(root.attrs.get("model", "")).strip().lower()
    if other and other != model.name:
        raise DataError(f"{path}: this posterior is for {other}, not {model.name} (calibrate with model = "
                        f"'{model.name}', or set model = '{other}')")


def _load_netcdf(path: Path, model, max_draws) -> SitePosteriors:
    root = _open_group(path, None)
    _check_model(root, path, model)
    post = _open_group(path, "posterior")
    # the table's names (ParameterError for a foreign parameter; a former name is read as the current one)
    names = tuple(model.parameters.names[model.parameters.index(n)] for n in _parameter_names(root, path))
    if "kp" not in post:
        raise DataError(f"{path}: group 'posterior' has no variable 'kp'")
    if "site" not in post["kp"].dims:
        raise DataError(f"{path}: a one-batch posterior (no 'site' dimension); PRODA needs site-by-site results")
    for v in ("site_id", "kp_mean"):
        if v not in root:
            raise DataError(f"{path}: variable '{v}' missing from the root group")
    site_ids = np.asarray(root["site_id"].values).astype(str)
    status = np.asarray(root["status"].values) if "status" in root else np.zeros(site_ids.size)
    ok = status == 0
    mean = np.asarray(root["kp_mean"].transpose("site", "parameter").values, float)
    ok &= np.isfinite(mean).all(axis=1)
    idx = [model.parameters.index(n) for n in names]
    fixed = _fixed_values(path)
    base = _base_kp(model, fixed)
    mode = None
    if "posterior_mode" in root:
        full = np.repeat(model.parameters.to_physical(base)[None, :], site_ids.size, axis=0)
        full[:, idx] = np.asarray(root["posterior_mode"].transpose("site", "parameter").values, float)
        with np.errstate(invalid="ignore"):
            mode = np.asarray(model.parameters.to_kp(full), float)[:, idx]
        mode = np.where(np.isfinite(mode), mode, mean)
    kp = np.asarray(post["kp"].transpose("site", "chain", "draw", "parameter").values, float)
    nsite, nchain, ndraw, npar = kp.shape
    pooled = kp.reshape(nsite, nchain * ndraw, npar)
    if max_draws is not None and pooled.shape[1] > max_draws:
        keep = np.unique(np.round(np.linspace(0, pooled.shape[1] - 1, max_draws)).astype(int))
        pooled = pooled[:, keep]
    gr = np.asarray(root["gelman_rubin_mean"].values, float) if "gelman_rubin_mean" in root else None
    nse = np.asarray(root["soc_profile_nse"].values, float) if "soc_profile_nse" in root else None
    conv = np.asarray(root["converged"].values, float) if "converged" in root else None
    sel = np.flatnonzero(ok)
    draws = pooled[sel]
    if not np.isfinite(draws).all():
        # chains of unequal length are NaN-padded: replace the padding by the site mean
        draws = np.where(np.isfinite(draws), draws, mean[sel][:, None, :])
    sp = SitePosteriors(model.name, names, site_ids[sel], mean[sel], None if mode is None else mode[sel], draws,
                        None if gr is None else gr[sel], None if nse is None else nse[sel], source=str(path),
                        base_kp=base, all_names=model.parameters.names,
                        converged=None if conv is None else conv[sel])
    sp.attrs["failed_sites"] = [str(s) for s in site_ids[~ok]]
    sp.attrs["fixed"] = fixed
    return sp


def load_one_batch(path, model) -> np.ndarray:
    """Full kp vector (all model parameters) of a one-batch calibration: the posterior mean
    of the calibrated parameters, the fixed values of the others.

    Parameters
    ----------
    path : path
        ``<run_name>_posterior.nc`` of a one-batch pysoc-calibrate run.
    model : SoilCarbonModel

    Returns
    -------
    numpy.ndarray
        kp of every model parameter.

    Raises
    ------
    DataError
        The file missing, of another model, site-by-site or not a pysoc-calibrate posterior.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: one-batch posterior file not found")
    root = _open_group(path, None)
    _check_model(root, path, model)
    if "kp_mean" not in root:
        raise DataError(f"{path}: variable 'kp_mean' missing (not a pysoc-calibrate posterior)")
    if "site" in root["kp_mean"].dims:
        raise DataError(f"{path}: a site-by-site posterior; the one-batch comparison needs mode = 'one_batch'")
    names = list(_parameter_names(root, path))
    base = _base_kp(model, _fixed_values(path))
    base[[model.parameters.index(n) for n in names]] = np.asarray(root["kp_mean"].values, float)
    return base


# ---- synthetic posteriors -----------------------------------------------------------------------
def synthetic_relation(n_cov: int, n_par: int, seed: int = 0, n_active: int = 3):
    """A smooth known covariate -> kp relation: kp = 0.1 + 0.8 sigmoid(W (x - 0.5) + b) with
    x the covariates normalised to [0, 1]; W has ``n_active`` non-zero weights per parameter.
    Returns f(xn (n, n_cov)) -> (n, n_par)."""
    rng = np.random.default_rng(seed)
    w = np.zeros((n_cov, n_par))
    for j in range(n_par):
        idx = rng.choice(n_cov, size=min(n_active, n_cov), replace=False)
        w[idx, j] = rng.uniform(2.0, 5.0, idx.size) * rng.choice([-1.0, 1.0], idx.size)
    b = rng.normal(0.0, 0.5, n_par)

    def f(xn):
        z = (np.asarray(xn, float) - 0.5) @ w + b
        return 0.1 + 0.8 / (1.0 + np.exp(-z))

    f.weights = w
    f.bias = b
    return f


def synthetic_site_posteriors(model, site_ids, covariates_normalised, seed: int = 0, noise: float = 0.03,
                              posterior_sd: float = 0.08, n_draws: int = 100, relation=None) -> SitePosteriors:
    """Posteriors with a known relation (:func:`synthetic_relation`) plus site noise: the
    posterior mean is f(x) + N(0, noise), draws are N(mean, posterior_sd) reflected into
    [0, 1]. ``attrs['truth']`` holds f(x).

    Parameters
    ----------
    model : SoilCarbonModel
    site_ids : sequence of str
    covariates_normalised : array_like
        (site, covariate) in [0, 1].
    seed : int
    noise, posterior_sd : float
        SD (kp) of the site noise and of the draws around the site mean.
    n_draws : int
    relation : callable, optional
        Default :func:`synthetic_relation` of the covariates.

    Returns
    -------
    SitePosteriors

    Examples
    --------
    >>> from pysoc.models import get_model
    >>> sp = synthetic_site_posteriors(get_model("clm5"), ["a", "b"], [[0.2, 0.4], [0.6, 0.9]], n_draws=10)
    >>> sp.n_sites, sp.draws.shape[1], bool(((sp.draws >= 0) & (sp.draws <= 1)).all())
    (2, 10, True)
    """
    rng = np.random.default_rng(seed + 1)
    x = np.asarray(covariates_normalised, float)
    npar = len(model.parameters)
    f = relation or synthetic_relation(x.shape[1], npar, seed)
    truth = f(x)
    mean = np.clip(truth + rng.normal(0.0, noise, truth.shape), 0.0, 1.0)
    draws = mean[:, None, :] + rng.normal(0.0, posterior_sd, (x.shape[0], n_draws, npar))
    draws = np.abs(draws)
    draws = np.where(draws > 1.0, 2.0 - draws, draws)
    draws = np.clip(draws, 0.0, 1.0)
    mean = draws.mean(axis=1)
    sp = SitePosteriors(model.name, model.parameters.names, site_ids, mean, mean.copy(), draws,
                        np.full(len(site_ids), 1.01), np.full(len(site_ids), 0.5), source="synthetic",
                        base_kp=np.full(npar, 0.5), all_names=model.parameters.names)
    sp.attrs["truth"] = truth
    return sp

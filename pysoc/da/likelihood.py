"""Observation operators and the Gaussian cost of several data streams (spec methods.md §1).

A *data stream* compares one model output with one kind of observation of a site:

================  ==================  ==============  ===========================================
stream            model output        units           operator
================  ==================  ==============  ===========================================
``soc_profile``   ``soc_profile``     g C m-3         mean of the layer profile over each observed
                                                      depth interval [top, bottom]
``soc_0_30``      ``soc_0_30``        kg C m-2        SOC density 0–30 cm (observed: the profile's
                                                      stock 0–30 cm, or covariate ``socd_0_30_kg_m2``)
``d14c_profile``  ``d14c_profile``    per mil         carbon-weighted mean Δ14C over each interval
``nep_monthly``   ``nep_monthly``     g C m-2 mo-1    selection of the observed months
``nep_annual``    ``nep_monthly``     g C m-2 yr-1    sum of the monthly NEP over each observed
                                                      calendar year (tower-year NEP = GPP − RECO)
``gpp_annual``    ``gpp_monthly``     g C m-2 yr-1    sum of the monthly GPP equivalent of the
                                                      model's production over each calendar year
================  ==================  ==============  ===========================================

The annual streams (``kind = 'annual'``) take their observations from
``profile.meta['annual_fluxes']`` (:func:`attach_annual_fluxes`): calendar years, values and
a per-observation standard deviation s_j (e.g. half the difference of the day- and night-time
flux partitionings); their σ_j = sqrt(s_j² + max(σ_rel |y_j|, σ_abs)²). The operator is built
from the forcing's datetime ``time`` axis when the cost function is set up: row j sums the
12 months of year j (a year the forcing does not cover completely is a DataError). A site
with tower fluxes but no SOC observations (no layers) skips the SOC streams; a site without
tower fluxes skips the annual streams.

Cost (seeds 000 eq. 4, 002 eq. 5.2, 003 eq. 14)::

    J(θ) = Σ_streams λ_s Σ_j w_j (y_j − ŷ_j(θ))² / (2 σ_j²),   σ_j = max(σ_rel |y_j|, σ_abs)

with σ_rel = 0.3 for SOC by default, per-stream weights λ_s (e.g. 5 for Δ14C, seed 003) and
optional depth weights w_j = exp(−|z_j|) (z_j: layer mid-depth, m) with weight 10 for the
top and bottom observed layers (seed 002; off by default, then w_j = 1).

A kernel status other than ok gives J = +inf (the proposal is rejected); a NaN with status
ok is a :class:`~pysoc.errors.KernelError`. Evaluations are batched: one kernel call
computes all parameter vectors (all chains) of all sites of a :class:`CostFunction`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

import pandas as pd

from pysoc import _status
from pysoc.errors import ConfigError, DataError, KernelError
from pysoc.models.base import SoilCarbonModel
from pysoc.profiles import overlap_matrix


@dataclass(frozen=True)
class StreamInfo:
    output: str            #: name of the model output in BatchResult.outputs
    units: str
    kind: str              #: 'profile', 'weighted_profile', 'scalar', 'series'
    long_name: str
    sigma_rel: float       #: default relative standard deviation
    sigma_abs: float       #: default absolute floor of the standard deviation (units)
    weight: float = 1.0    #: default stream weight λ


STREAMS: dict[str, StreamInfo] = {
    "soc_profile": StreamInfo("soc_profile", "g C m-3", "profile", "SOC density of the observed layers",
                              0.3, 0.0),
    "soc_0_30": StreamInfo("soc_0_30", "kg C m-2", "scalar", "SOC density (stock) 0-30 cm", 0.3, 0.0),
    "d14c_profile": StreamInfo("d14c_profile", "per mil", "weighted_profile",
                               "radiocarbon (Delta 14C) of the observed layers", 0.0, 100.0, 5.0),
    "nep_monthly": StreamInfo("nep_monthly", "g C m-2 month-1", "series", "monthly net ecosystem production",
                              0.3, 1.0),
    "nep_annual": StreamInfo("nep_monthly", "g C m-2 yr-1", "annual", "annual net ecosystem production "
                             "(tower-year GPP - RECO)", 0.0, 30.0),
    "gpp_annual": StreamInfo("gpp_monthly", "g C m-2 yr-1", "annual", "annual gross primary production "
                             "(tower-year; model: production / gpp_cue)", 0.2, 0.0),
}


@dataclass(frozen=True)
class StreamSpec:
    """One stream of the cost: name (key of :data:`STREAMS`), σ = max(σ_rel |y|, σ_abs),
    weight λ. ``None`` takes the stream's default."""

    name: str
    sigma_rel: float | None = None
    sigma_abs: float | None = None
    weight: float | None = None

    def resolved(self) -> "StreamSpec":
        info = STREAMS[self.name]
        return StreamSpec(self.name, info.sigma_rel if self.sigma_rel is None else float(self.sigma_rel),
                          info.sigma_abs if self.sigma_abs is None else float(self.sigma_abs),
                          info.weight if self.weight is None else float(self.weight))


@dataclass(frozen=True)
class DepthWeights:
    """Depth weights of seed 002: exp(−|mid-depth|) and ``top_bottom`` for the top and
    bottom observed layers. Applies to profile streams."""

    enabled: bool = False
    top_bottom: float = 10.0

    def weights(self, top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
        n = top.size
        if not self.enabled or n == 0:
            return np.ones(n)
        w = np.exp(-np.abs(0.5 * (top + bottom)))
        w[0] = self.top_bottom
        w[-1] = self.top_bottom
        return w


@dataclass
class ObsStream:
    """Observations of one stream at one site with the linear operator that maps the
    model output (nout values per parameter vector) to the observations: ŷ = W @ out
    (profile, scalar, series) or ŷ = W @ (out·soc) / W @ soc (weighted_profile)."""

    name: str
    y: np.ndarray
    sigma: np.ndarray
    weight: np.ndarray     #: w_j λ_s
    W: np.ndarray          #: (nobs, nout)
    top: np.ndarray | None = None
    bottom: np.ndarray | None = None
    years: np.ndarray | None = None    #: calendar year of each observation (annual streams)

    @property
    def coef(self) -> np.ndarray:
        return self.weight / (2.0 * self.sigma ** 2)

    @property
    def nobs(self) -> int:
        return int(self.y.size)


@dataclass
class SiteObservations:
    site_id: str
    streams: dict[str, ObsStream]
    notes: list[str] = field(default_factory=list)

    @property
    def nobs(self) -> int:
        return sum(s.nobs for s in self.streams.values())


def _sigma(y: np.ndarray, spec: StreamSpec, where: str) -> np.ndarray:
    sig = np.maximum(spec.sigma_rel * np.abs(y), spec.sigma_abs)
    if not (sig > 0).all():
        i = int(np.flatnonzero(~(sig > 0))[0])
        raise DataError(f"{where}: observation {i + 1} of stream {spec.name} = {y[i]:g} gives sigma = 0 "
                        f"(sigma_rel {spec.sigma_rel:g}, sigma_abs {spec.sigma_abs:g}); set a positive sigma_abs")
    return sig


def build_site_observations(profile, bounds: np.ndarray, specs: Sequence[StreamSpec],
                            depth_weights: DepthWeights = DepthWeights(), n_time: int | None = None
                            ) -> SiteObservations:
    """Observations of one profile for the given streams on a model grid ``bounds``
    ((nlev, 2) m). ``profile`` has the attributes of :class:`pysoc.io.profiles.Profile`;
    NEP observations come from ``profile.meta['nep_monthly']`` (array over the forcing's
    months, NaN where missing), ``n_time`` being the number of forcing months."""
    bounds = np.asarray(bounds, dtype=float)
    zbot = float(bounds[-1, 1])
    where = f"site {profile.site_id}"
    out: dict[str, ObsStream] = {}
    notes: list[str] = []
    for spec in specs:
        if spec.name not in STREAMS:
            raise ConfigError(f"unknown data stream {spec.name!r} (known: {', '.join(STREAMS)})")
        spec = spec.resolved()
        info = STREAMS[spec.name]
        if info.kind in ("profile", "weighted_profile"):
            top = np.asarray(profile.top, float)
            bot = np.asarray(profile.bottom, float)
            vals = np.asarray(profile.soc if spec.name == "soc_profile" else
                              (profile.d14c if profile.d14c is not None else np.full(top.size, np.nan)), float)
            keep = np.isfinite(vals)
            below = top >= zbot
            if (below & keep).any():
                notes.append(f"{spec.name}: {int((below & keep).sum())} layer(s) below the model column "
                             f"({100 * zbot:g} cm) ignored")
            keep &= ~below
            if not keep.any():
                if spec.name == "soc_profile" and _flux_only(profile):
                    notes.append(f"{spec.name}: no SOC layers (tower fluxes only)")
                    continue
                if spec.name == "soc_profile":
                    raise DataError(f"{where}: no usable SOC layers within the model column")
                continue
            top, bot, y = top[keep], bot[keep], vals[keep]
            W = overlap_matrix(bounds, np.stack([top, bot], axis=1))
            if info.kind == "profile":
                W = W / W.sum(axis=1, keepdims=True)
            w = depth_weights.weights(top, bot) * spec.weight
            out[spec.name] = ObsStream(spec.name, y, _sigma(y, spec, where), w, W, top, bot)
        elif info.kind == "scalar":
            y = float(profile.covariates.get("socd_0_30_kg_m2", np.nan))
            if not np.isfinite(y):
                stock = profile.stock(0.0, 0.3) if hasattr(profile, "stock") else np.nan
                y = stock / 1000.0
            if not np.isfinite(y) and _flux_only(profile):
                notes.append(f"{spec.name}: no SOC observation (tower fluxes only)")
                continue
            if not np.isfinite(y):
                raise DataError(f"{where}: stream soc_0_30 needs observed layers covering 0-30 cm or the "
                                f"covariate 'socd_0_30_kg_m2'")
            ya = np.array([y])
            out[spec.name] = ObsStream(spec.name, ya, _sigma(ya, spec, where), np.array([spec.weight]),
                                       np.ones((1, 1)))
        elif info.kind == "annual":
            st = _annual_stream(profile, spec, where)
            if st is None:
                notes.append(f"{spec.name}: no tower-year observations at this site")
            else:
                out[spec.name] = st
        else:  # series
            series = profile.meta.get("nep_monthly") if hasattr(profile, "meta") else None
            if series is None:
                raise DataError(f"{where}: stream nep_monthly needs monthly NEP observations (nep_file)")
            series = np.asarray(series, float)
            if n_time is not None and series.size > n_time:
                raise DataError(f"{where}: {series.size} monthly NEP values but the forcing has {n_time} months")
            if n_time is not None and series.size < n_time:
                series = np.concatenate([series, np.full(n_time - series.size, np.nan)])
            idx = np.flatnonzero(np.isfinite(series))
            if idx.size == 0:
                raise DataError(f"{where}: no finite monthly NEP observation")
            W = np.zeros((idx.size, series.size))
            W[np.arange(idx.size), idx] = 1.0
            y = series[idx]
            out[spec.name] = ObsStream(spec.name, y, _sigma(y, spec, where), np.full(idx.size, spec.weight), W)
    if not out:
        raise DataError(f"{where}: no observations for the streams {', '.join(s.name for s in specs)}")
    return SiteObservations(profile.site_id, out, notes)


def _flux_only(profile) -> bool:
    """A site with tower fluxes and no SOC layers (created by :func:`attach_annual_fluxes`)."""
    return getattr(profile, "n_layers", 1) == 0 and bool((getattr(profile, "meta", None) or {}).get("annual_fluxes"))


def _annual_stream(profile, spec: StreamSpec, where: str) -> "ObsStream | None":
    """Tower-year observations of an annual stream, or None when the site has none. The
    operator W is set by :class:`CostFunction` from the forcing's calendar."""
    fl = (getattr(profile, "meta", None) or {}).get("annual_fluxes") or {}
    if spec.name not in fl:
        return None
    years = np.asarray(fl["year"], int)
    y, sd = (np.asarray(a, float) for a in fl[spec.name])
    keep = np.isfinite(y)
    if not keep.any():
        return None
    years, y, sd = years[keep], y[keep], np.where(np.isfinite(sd[keep]), sd[keep], 0.0)
    floor = np.maximum(spec.sigma_rel * np.abs(y), spec.sigma_abs)
    sig = np.sqrt(sd ** 2 + floor ** 2)
    if not (sig > 0).all():
        i = int(np.flatnonzero(~(sig > 0))[0])
        raise DataError(f"{where}: observation {years[i]} of stream {spec.name} has sigma = 0 (no sd given, "
                        f"sigma_rel {spec.sigma_rel:g}, sigma_abs {spec.sigma_abs:g}); set a positive sigma_abs")
    return ObsStream(spec.name, y, sig, np.full(y.size, spec.weight), np.zeros((y.size, 0)), years=years)


def annual_operator(forcing, years, where: str = "") -> np.ndarray:
    """(nyear, ntime) matrix summing the months of each calendar year in ``years`` from the
    datetime ``time`` coordinate of ``forcing``.

    Parameters
    ----------
    forcing : xarray.Dataset
        Site forcing with a datetime64 ``time`` coordinate (one value per model step).
    years : array_like of int
        Calendar years of the observations.
    where : str
        Prefix of error messages (site).

    Returns
    -------
    numpy.ndarray
        W with W[j, t] = 1 when step t lies in ``years[j]``.

    Raises
    ------
    DataError
        The forcing has no datetime time axis, or a year is not covered by 12 months.

    Examples
    --------
    >>> import pandas as pd, xarray as xr
    >>> f = xr.Dataset(coords={"time": pd.date_range("2002-01-01", periods=24, freq="MS")})
    >>> annual_operator(f, [2003]).sum(axis=1)
    array([12.])
    """
    t = forcing["time"].values if "time" in getattr(forcing, "coords", {}) else None
    if t is None or not np.issubdtype(np.asarray(t).dtype, np.datetime64):
        raise DataError(f"{where}: annual flux streams need a forcing with a datetime 'time' coordinate")
    yr = pd.DatetimeIndex(t).year.to_numpy()
    years = np.asarray(years, int)
    W = (yr[None, :] == years[:, None]).astype(float)
    n = W.sum(axis=1)
    bad = np.flatnonzero(n != 12)
    if bad.size:
        raise DataError(f"{where}: observed year {years[bad[0]]} has {int(n[bad[0]])} months in the forcing "
                        f"(it covers {yr.min()}-{yr.max()}); annual streams need all 12 months of the year")
    return W


# ---- tower fluxes ------------------------------------------------------------------------------
#: columns of the annual flux table (value, standard deviation) per annual stream
FLUX_COLUMNS = {"nep_annual": ("nep_g_m2_yr", "nep_sd_g_m2_yr"), "gpp_annual": ("gpp_g_m2_yr", "gpp_sd_g_m2_yr")}


def read_annual_fluxes(path) -> pd.DataFrame:
    """Read a tower-year flux table (CSV): ``site_id``, ``year`` and, per stream of
    :data:`FLUX_COLUMNS`, the value and optionally its standard deviation (g C m-2 yr-1);
    ``lat``/``lon`` for sites that are not profiles.

    Parameters
    ----------
    path : str or Path
        The CSV file (``#`` starts a comment line).

    Returns
    -------
    pandas.DataFrame
        The table with ``site_id`` as str and ``year`` as int.

    Raises
    ------
    DataError
        Missing file or column, non-integer year, duplicate (site_id, year), negative sd.

    Examples
    --------
    >>> df = read_annual_fluxes("pysoc/data/century/qtp_fluxes.csv")  # doctest: +SKIP
    """
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    df = pd.read_csv(path, comment="#")
    for col in ("site_id", "year"):
        if col not in df.columns:
            raise DataError(f"{path}: missing column '{col}' (tower-year table: site_id, year, "
                            f"{', '.join(c for pair in FLUX_COLUMNS.values() for c in pair)})")
    if not any(v in df.columns for v, _ in FLUX_COLUMNS.values()):
        raise DataError(f"{path}: no flux column (need one of {', '.join(v for v, _ in FLUX_COLUMNS.values())})")
    yr = pd.to_numeric(df["year"], errors="coerce")
    if yr.isna().any() or (yr != np.round(yr)).any():
        raise DataError(f"{path}: column 'year', line {int(np.flatnonzero(yr.isna() | (yr != np.round(yr)))[0]) + 2}"
                        f": years must be integers")
    df["year"], df["site_id"] = yr.astype(int), df["site_id"].astype(str).str.strip()
    dup = df.duplicated(["site_id", "year"])
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataError(f"{path}: line {i + 2}: site {df.site_id.iloc[i]!r} year {df.year.iloc[i]} appears twice")
    for v, sd in FLUX_COLUMNS.values():
        if sd in df.columns and (pd.to_numeric(df[sd], errors="coerce") < 0).any():
            raise DataError(f"{path}: column '{sd}': standard deviations must be >= 0")
    return df


def attach_annual_fluxes(profiles, path) -> list:
    """Attach tower-year fluxes to the profiles (``profile.meta['annual_fluxes']``) and append
    one flux-only site (no layers) for every ``site_id`` of the table that is not a profile.

    Parameters
    ----------
    profiles : list of Profile
        Profiles of the calibration (modified in place).
    path : str or Path
        Tower-year table (:func:`read_annual_fluxes`); flux-only sites need ``lat``, ``lon``.

    Returns
    -------
    list of Profile
        ``profiles`` followed by the flux-only sites, in the order of the table.

    Raises
    ------
    DataError
        As :func:`read_annual_fluxes`, or a flux-only site without coordinates.
    """
    from pysoc.io.profiles import Profile

    df = read_annual_fluxes(path)
    by_id = {str(p.site_id): p for p in profiles}
    out = list(profiles)
    for sid, g in df.groupby("site_id", sort=False):
        g = g.sort_values("year")
        fl = {"year": g["year"].to_numpy(int)}
        for name, (v, sd) in FLUX_COLUMNS.items():
            if v in g.columns:
                fl[name] = (pd.to_numeric(g[v], errors="coerce").to_numpy(float),
                            pd.to_numeric(g[sd], errors="coerce").to_numpy(float) if sd in g.columns
                            else np.zeros(len(g)))
        p = by_id.get(sid)
        if p is None:
            lat, lon = (pd.to_numeric(g[c], errors="coerce") if c in g.columns else pd.Series([np.nan])
                        for c in ("lat", "lon"))
            if not (np.isfinite(lat.iloc[0]) and np.isfinite(lon.iloc[0])):
                raise DataError(f"{path}: site {sid!r} is not among the profiles and has no lat/lon columns")
            meta = {"source": (str(path), ""), "flux_site": True}
            if "tower" in g.columns:
                meta["tower"] = str(g["tower"].iloc[0])
            p = Profile(site_id=sid, lat=float(lat.iloc[0]), lon=float(lon.iloc[0]), top=np.empty(0),
                        bottom=np.empty(0), soc=np.empty(0), d14c=None, meta=meta)
            out.append(p)
            by_id[sid] = p
        p.meta["annual_fluxes"] = fl
    return out


# ---- parameters --------------------------------------------------------------------------------
class ParameterMapper:
    """kp of the calibrated parameters (n, nfree) -> physical vectors (n, npar) with the
    other parameters fixed. Maps through ``model.to_physical`` (models may override it);
    when a model keeps the base implementation, an equivalent vectorised map is used (it
    is checked against ``model.to_physical`` at construction)."""

    def __init__(self, model: SoilCarbonModel, free: Sequence[int], fixed_values: np.ndarray):
        self.model = model
        self.npar = len(model.parameters)
        self.free = np.asarray(free, dtype=np.intp)
        self.nfree = self.free.size
        self.fixed_values = np.asarray(fixed_values, dtype=float)
        self.fixed_mask = np.ones(self.npar, bool)
        self.fixed_mask[self.free] = False
        with np.errstate(all="ignore"):
            self.kp_fixed = model.parameters.to_kp(self.fixed_values)
        self._fast = None
        if type(model).to_physical is SoilCarbonModel.to_physical:
            specs = [model.parameters.specs[i] for i in self.free]
            lin = np.array([s.scale == "linear" for s in specs])
            lo = np.array([s.prior_min for s in specs], float)
            hi = np.array([s.prior_max for s in specs], float)
            llo = np.array([np.log10(s.prior_min) if s.scale == "log10" else 0.0 for s in specs])
            lhi = np.array([np.log10(s.prior_max) if s.scale == "log10" else 0.0 for s in specs])
            if self.nfree == self.npar:
                self.free = np.arange(self.npar)      # the identity path of _map_fast needs the order
            self._fast = (bool(lin.all()), lin, lo, hi - lo, llo, lhi - llo)
            probe = np.random.default_rng(0).random((8, self.nfree))
            if not np.allclose(self._map_fast(probe), self._map_model(probe), rtol=1e-13, atol=0.0):
                self._fast = None

    def _map_model(self, kp):
        full = np.broadcast_to(self.kp_fixed, (kp.shape[0], self.npar)).copy()
        full[:, self.free] = kp
        theta = np.asarray(self.model.to_physical(full), dtype=float)
        theta[:, self.fixed_mask] = self.fixed_values[self.fixed_mask]
        return theta

    def _map_fast(self, kp):
        all_lin, lin, lo, span, llo, lspan = self._fast
        if all_lin and self.nfree == self.npar:
            return lo + kp * span
        theta = np.empty((kp.shape[0], self.npar))
        theta[:] = self.fixed_values
        if all_lin:
            theta[:, self.free] = lo + kp * span
        else:
            theta[:, self.free] = np.where(lin, lo + kp * span, 10.0 ** (llo + kp * lspan))
        return theta

    def __call__(self, kp) -> np.ndarray:
        kp = np.atleast_2d(np.asarray(kp, dtype=float))
        return self._map_fast(kp) if self._fast is not None else self._map_model(kp)


# ---- cost --------------------------------------------------------------------------------------
class CostFunction:
    """J(kp) for one or several sites of one model.

    ``prepared``: the forcing of each site after ``model.prepare``; with several sites they
    are prepared together and evaluated in one kernel call (every model's ``evaluate`` takes
    ``site_index``, :meth:`pysoc.models.base.SoilCarbonModel.evaluate`). ``__call__(kp)``
    with kp (n, nfree) returns the cost
    (nsite, n).
    """

    def __init__(self, model: SoilCarbonModel, forcings: Sequence, sites: Sequence[SiteObservations],
                 mapper: ParameterMapper):
        if len(forcings) != len(sites):
            raise ValueError("one forcing per site")
        for site, f in zip(sites, forcings):          # annual streams: operator from the forcing calendar
            for st in site.streams.values():
                if STREAMS[st.name].kind == "annual":
                    st.W = annual_operator(f, st.years, f"site {site.site_id}: stream {st.name}")
        self.model = model
        self.sites = list(sites)
        self.nsite = len(self.sites)
        self.mapper = mapper
        names = sorted({n for s in self.sites for n in s.streams}, key=list(STREAMS).index)
        outputs = []
        for n in names:
            info = STREAMS[n]
            if info.output not in model.observables:
                raise ConfigError(f"data stream {n!r} needs model output {info.output!r}, which {model.name} does "
                                  f"not provide (observables: {', '.join(model.observables)})")
            outputs.append(info.output)
            if info.kind == "weighted_profile":
                outputs.append("soc_profile")
        self.observables = tuple(dict.fromkeys(["soc_profile"] + outputs))
        self.stream_names = names
        self.batched = self.nsite > 1
        if self.batched:
            self.prepared = model.prepare(list(forcings))
        else:
            self.prepared = [model.prepare(f) for f in forcings]
        # per site and stream: (stream, model output, W^T (nout, k), y, coef, kind). Every site is
        # computed with its own unpadded operator, so a site's cost is bitwise the same
        # whatever other sites share the call (one-batch over any number of MPI ranks).
        self._site_ops = []
        for site in self.sites:
            ops = []
            for n in names:
                st = site.streams.get(n)
                if st is not None:
                    ops.append((n, STREAMS[n].output, np.ascontiguousarray(st.W.T), st.y.copy(), st.coef.copy(),
                                STREAMS[n].kind))
            self._site_ops.append(ops)
        self._maxobs = {n: max((s.streams[n].nobs for s in self.sites if n in s.streams), default=0) for n in names}
        self.n_evaluations = 0

    # ---- evaluation -----------------------------------------------------------------------
    def run_model(self, theta: np.ndarray):
        """status (nsite, n) and outputs {name: (nsite, n, ...)} for physical theta (n, npar)."""
        n = theta.shape[0]
        self.n_evaluations += n * self.nsite
        if self.nsite == 1:
            res = self.model.evaluate(self.prepared[0], theta, observables=self.observables)
            status = np.asarray(res.status).reshape(1, n)
            outputs = {k: np.asarray(res.outputs[k])[None] for k in self.observables if k in res.outputs}
        elif self.batched:
            th = np.tile(theta, (self.nsite, 1))
            idx = np.repeat(np.arange(self.nsite, dtype=np.int32), n)
            res = self.model.evaluate(self.prepared, th, observables=self.observables, site_index=idx)
            status = np.asarray(res.status).reshape(self.nsite, n)
            outputs = {k: np.asarray(v).reshape((self.nsite, n) + np.shape(v)[1:]) for k, v in res.outputs.items()}
        else:
            results = [self.model.evaluate(p, theta, observables=self.observables) for p in self.prepared]
            status = np.stack([np.asarray(r.status) for r in results])
            outputs = {k: np.stack([np.asarray(r.outputs[k]) for r in results]) for k in results[0].outputs}
        if len(outputs) < len(self.observables):
            missing = [k for k in self.observables if k not in outputs]
            raise KernelError(f"{self.model.name}.evaluate did not return output(s) {', '.join(missing)}")
        return status, outputs

    @staticmethod
    def _site_pred(s, out_name, Wt, kind, outputs):
        out = outputs[out_name][s]
        if out.ndim == 1:
            out = out[:, None]
        if kind == "weighted_profile":
            soc = outputs["soc_profile"][s]
            return ((out * soc) @ Wt) / (soc @ Wt)
        return out @ Wt

    def cost_from_outputs(self, status, outputs) -> np.ndarray:
        """Cost (nsite, n) from model outputs; +inf where the status is not ok."""
        n = status.shape[1]
        J = np.empty((self.nsite, n))
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            for s, ops in enumerate(self._site_ops):
                js = None
                for name, out_name, Wt, y, coef, kind in ops:
                    r = self._site_pred(s, out_name, Wt, kind, outputs) - y
                    term = (r * r) @ coef
                    js = term if js is None else js + term
                J[s] = js
        ok = status == _status.OK
        bad = np.isnan(J) & ok
        if bad.any():
            s = int(np.argwhere(bad)[0][0])
            raise KernelError(f"site {self.sites[s].site_id}: {self.model.name} returned status ok but a NaN "
                              f"in outputs {', '.join(self.observables)}", code=_status.ERR_NONFINITE)
        J[~ok] = np.inf
        return J

    def __call__(self, kp) -> np.ndarray:
        theta = self.mapper(kp)
        status, outputs = self.run_model(theta)
        return self.cost_from_outputs(status, outputs)

    def site_cost(self, kp) -> np.ndarray:
        """Cost (n,) of a one-site cost function: bitwise ``self(kp)[0]`` with less Python
        per call (what the samplers call every generation in site-by-site mode). Floating-
        point warnings are left to the caller (the samplers run inside ``np.errstate``)."""
        if self.nsite != 1:
            raise ValueError("site_cost needs a cost function of one site")
        theta = self.mapper(kp)
        self.n_evaluations += theta.shape[0]
        res = self.model.evaluate(self.prepared[0], theta, observables=self.observables)
        outs = res.outputs
        J = None
        for name, out_name, Wt, y, coef, kind in self._site_ops[0]:
            out = outs[out_name]
            if out.ndim == 1:
                out = out[:, None]
            if kind == "weighted_profile":
                soc = outs["soc_profile"]
                pred = ((out * soc) @ Wt) / (soc @ Wt)
            else:
                pred = out @ Wt
            r = pred - y
            term = (r * r) @ coef
            J = term if J is None else J + term
        ok = res.status == _status.OK
        if not ok.all() or np.isnan(J).any():
            if len(outs) < len(self.observables) or any(k not in outs for k in self.observables):
                missing = [k for k in self.observables if k not in outs]
                raise KernelError(f"{self.model.name}.evaluate did not return output(s) {', '.join(missing)}")
            bad = np.isnan(J) & ok
            if bad.any():
                raise KernelError(f"site {self.sites[0].site_id}: {self.model.name} returned status ok but a NaN "
                                  f"in outputs {', '.join(self.observables)}", code=_status.ERR_NONFINITE)
            J = np.where(ok, J, np.inf)
        return J

    def predict(self, kp) -> dict:
        """Everything the output needs for parameter vectors kp (n, nfree): status
        (nsite, n), cost (nsite, n), per stream the predictions (nsite, n, maxobs) and the
        pointwise log-likelihood terms −coef (y − ŷ)², and the model SOC profile
        (nsite, n, nlev)."""
        theta = self.mapper(kp)
        status, outputs = self.run_model(theta)
        cost = self.cost_from_outputs(status, outputs)
        ok = status == _status.OK
        res = {"status": status, "cost": cost, "soc_profile": np.where(ok[..., None], outputs["soc_profile"], np.nan),
               "pred": {}, "loglik": {}}
        n = status.shape[1]
        for name in self.stream_names:
            m = self._maxobs[name]
            res["pred"][name] = np.full((self.nsite, n, m), np.nan)
            res["loglik"][name] = np.full((self.nsite, n, m), np.nan)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            for s, ops in enumerate(self._site_ops):
                for name, out_name, Wt, y, coef, kind in ops:
                    pred = self._site_pred(s, out_name, Wt, kind, outputs)
                    k = y.size
                    res["pred"][name][s, :, :k] = np.where(ok[s][:, None], pred, np.nan)
                    res["loglik"][name][s, :, :k] = -coef * (pred - y) ** 2
        return res


# ---- skill of the posterior predictive, pooled over sites ----------------------------------------
def pooled_skill(y, yhat) -> dict:
    """Skill of predictions ``yhat`` of observations ``y`` (NaN pairs dropped): R² = 1 − SSE/SST
    (seed 000 eq. 8; can be negative), RMSE, bias = mean(yhat − y), Pearson r and n.

    Parameters
    ----------
    y, yhat : array_like
        Observations and predictions of one stream.

    Returns
    -------
    dict
        Keys ``r2``, ``rmse``, ``bias``, ``r``, ``n`` (NaN where undefined).

    Examples
    --------
    >>> pooled_skill([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])["rmse"]
    0.5773502691896257
    """
    y, f = np.asarray(y, float).ravel(), np.asarray(yhat, float).ravel()
    ok = np.isfinite(y) & np.isfinite(f)
    y, f = y[ok], f[ok]
    n = int(y.size)
    if n == 0:
        return {"r2": float("nan"), "rmse": float("nan"), "bias": float("nan"), "r": float("nan"), "n": 0}
    sst = float(((y - y.mean()) ** 2).sum())
    sse = float(((y - f) ** 2).sum())
    r = float(np.corrcoef(y, f)[0, 1]) if n > 2 and y.std() > 0 and f.std() > 0 else float("nan")
    return {"r2": 1.0 - sse / sst if sst > 0 else float("nan"), "rmse": float(np.sqrt(sse / n)),
            "bias": float((f - y).mean()), "r": r, "n": n}


def stream_skill(entries) -> dict:
    """Pooled skill per stream of posterior-predictive site entries (None entries are skipped).

    Parameters
    ----------
    entries : sequence of SitePrediction, dict or None
        One entry per site: :class:`pysoc.da.results.SitePrediction` (``.obs[stream].y``,
        ``.mean``, as the calibration results hold them) or ``{'obs': {stream: {'y', 'mean'}}}``.

    Returns
    -------
    dict
        stream -> :func:`pooled_skill` of the posterior predictive mean, plus ``n_sites``.
    """
    acc: dict = {}
    for e in entries:
        if e is None:
            continue
        for name, o in (e.obs if hasattr(e, "obs") else e.get("obs", {})).items():
            y, f = (o.y, o.mean) if hasattr(o, "y") else (o["y"], o["mean"])
            a = acc.setdefault(name, ([], [], 0))
            acc[name] = (a[0] + list(np.ravel(y)), a[1] + list(np.ravel(f)), a[2] + 1)
    out = {}
    for name in sorted(acc, key=lambda n: list(STREAMS).index(n) if n in STREAMS else 99):
        y, f, ns = acc[name]
        out[name] = {**pooled_skill(y, f), "n_sites": ns}
    return out


__all__ = ["STREAMS", "StreamSpec", "StreamInfo", "DepthWeights", "ObsStream", "SiteObservations",
           "build_site_observations", "ParameterMapper", "CostFunction", "annual_operator", "read_annual_fluxes",
           "attach_annual_fluxes", "FLUX_COLUMNS", "pooled_skill", "stream_skill"]

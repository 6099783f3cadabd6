"""COMPAS: microbial-explicit, vertically resolved soil carbon model (Tao et al. 2024 GCB,
the model PRODA calibrates next to CLM5; seed 001; spec models.md §3).

Eight pools in every layer of the CLM5 grid: litter CWD, L1 (metabolic), L2 (cellulose),
L3 (lignin) with the CLM5 machinery (transport, Jackson beta input profile, scalars), and
mineral-soil DOC, microbial biomass (MIC), enzymes (ENZ) and mineral-associated SOC with
Michaelis-Menten DOC uptake by microbes and SOC depolymerisation by enzymes. The Fortran
kernel (``fortran/soc_compas.f90``) solves the steady state (litter by structured linear
solves, soil pools in closed form per layer) and integrates the transient (backward Euler,
Newton per layer). Equations, units and the validity reasons: docs/compas.md.

The forcing is exactly the CLM5 forcing (same file format and files); forcing handling is
delegated to a :class:`~pysoc.models.clm5.CLM5` instance on the same grid.

Invalid steady states are never sign-flipped: ``BatchResult.status`` is ERR_INVALID and
``BatchResult.reason`` says why (``REASONS``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import xarray as xr

from pysoc import _status
from pysoc._kernels import compas as _k
from pysoc.errors import KernelError
from pysoc.io import netcdf
from pysoc.io.namelist import Group, Key
from pysoc.models import components as sc
from pysoc.models.base import BatchResult, SoilCarbonModel, mass_balance_residual, status_dataarray
from pysoc.models.clm5 import (CLM5, FORCING, GRIDS, clm5_cell_forcing, clm5_ctsm_forcing, clm5_site_forcing,
                               initial_state, mean_transport_diagonal, monthly_series)
from pysoc.params import ParameterSpec, ParameterTable, as_2d
from pysoc.profiles import interval_integrals

#: reason codes qualifying ERR_INVALID (mirror of soc_compas COMPAS_REASON_*; tested)
REASONS = {
    0: "ok",
    1: "negative_pool",
    2: "low_total_to_mic_ratio",
    3: "no_finite_soc",
    4: "no_finite_doc",
    5: "singular_litter_solve",
}
REASON_TEXT = {
    0: "valid steady state",
    1: "a pool is negative",
    2: "column stock (DOC+MIC+ENZ+SOC) / MIC stock below min_total_to_mic_ratio",
    3: "no finite SOC: depolymerisation capacity k_s4 xi ENZ cannot balance the SOC inputs in some layer",
    4: "no finite DOC: microbial uptake capacity cannot balance the DOC demand in some layer",
    5: "the litter system is singular (no decomposition in some layer)",
}
XI_MODES = {"product_of_means": 0, "mean_of_products": 1}
#: flux diagnostics of the kernel (columns of ``_k.fluxes``), g C m-3 d-1
FLUXES = ("cwd_fragmentation", "l1_decomposition", "l2_decomposition", "l3_decomposition", "input_doc",
          "input_mic", "input_soc", "doc_uptake", "depolymerisation", "microbial_death", "enzyme_production",
          "enzyme_turnover", "rh_l1", "rh_l2", "rh_l3", "rh_doc", "litter_uptake")
PATHWAYS = ("L1", "L2", "L3", "DOC")

P = ParameterSpec
_POS = dict(lower=0.0, lower_inclusive=False)
_FRAC = dict(lower=0.0, upper=1.0)
#: para_name order of COMPAS (PRODA_MIC v22) and the kp mappings of spec models.md §3.4.
#: Default set = prior midpoint (kp = 0.5 everywhere; the published code gives no
#: complete set of default values).
_SPECS = (
    P("diffus", "m2 yr-1", 0, 3e-5, 5e-4, "bioturbation diffusivity", lower=0.0),
    P("cryo", "m2 yr-1", 0, 3e-5, 1.6e-3, "cryoturbation diffusivity", lower=0.0),
    P("q10", "1", 0, 1.2, 3.0, "Q10 of decomposition (also below freezing)", **_POS),
    P("w_scaling", "1", 0, 0.0, 5.0, "multiplier on the water scalar (capped at 1)", **_POS),
    P("tau4cwd", "yr", 0, 1.0, 6.0, "turnover time of coarse woody debris", **_POS),
    P("tau4l1", "yr", 0, 0.0, 0.1, "turnover time of metabolic litter", **_POS),
    P("tau4l2", "yr", 0, 0.1, 0.3, "turnover time of cellulose and lignin litter", **_POS),
    P("tau4s1", "yr", 0, 0.001, 0.03, "DOC uptake: 1/(365 tau) is the maximum specific uptake rate (d-1)", **_POS),
    P("tau4s2_death", "yr", 0, 0.0, 2.0, "microbial turnover time by death", **_POS),
    P("tau4s2_enz", "yr", 0, 15.0, 30.0, "microbial biomass time scale of enzyme production", **_POS),
    P("tau4s3", "yr", 0, 1e-3, 1.0, "enzyme turnover time (kp mapping log10)", scale="log10", **_POS),
    P("tau4s4", "yr", 0, 0.0, 3e-4, "SOC depolymerisation: 1/(365 tau) is the maximum rate per unit enzyme (d-1)",
      **_POS),
    P("mm_const_assim", "g C m-3", 0, 300.0, 3000.0, "Michaelis-Menten constant of DOC uptake (times xi)", **_POS),
    P("mm_const_decom", "g C m-3", 0, 1e5, 1e6, "Michaelis-Menten constant of SOC depolymerisation (times xi)",
      **_POS),
    P("fcwdl2", "1", 0, 0.5, 1.0, "fraction of CWD fragmented to cellulose litter (rest to lignin)", **_FRAC),
    P("pl1s1", "1", 0, 0.0, 0.1, "fraction of metabolic litter decomposition going to DOC", **_FRAC),
    P("pl2s1", "1", 0, 0.05, 0.3, "fraction of cellulose litter decomposition going to DOC", **_FRAC),
    P("pl3s4", "1", 0, 0.6, 0.95, "fraction of lignin litter decomposition going to mineral SOC", **_FRAC),
    P("l1_cue", "1", 0, 0.4, 0.9, "microbial CUE of metabolic litter taken up", **_FRAC),
    P("l2l3_cue", "1", 0, 0.0, 0.4, "microbial CUE of cellulose and lignin litter taken up", **_FRAC),
    P("mic_cue", "1", 0, 0.01, 0.7, "microbial CUE of DOC uptake", lower=0.0, upper=1.0, upper_inclusive=False),
    P("pdeath2soc", "1", 0, 0.0, 1.0, "fraction of dead microbial biomass going to mineral SOC (rest to DOC)",
      **_FRAC),
    P("beta", "1", 0, 0.5, 0.9999, "Jackson beta of the litter input profile", lower=0.0, upper=1.0,
      lower_inclusive=False, upper_inclusive=False),
)
_MID = [float(s.to_physical(0.5)) for s in _SPECS]
#: ``bio`` (PRODA_MIC's name of the bioturbation diffusivity) is read as ``diffus``, the name CLM5
#: gives the same parameter (one name for one quantity), with a deprecation warning
PARAMETERS = ParameterTable("compas", tuple(dataclasses.replace(s, default=v) for s, v in zip(_SPECS, _MID)),
                            default_set="prior_mid", aliases={"bio": "diffus"})
PARAMETERS.named_sets["prior_mid"] = dict(zip(PARAMETERS.names, _MID))

IDX_TAU4S3 = PARAMETERS.index("tau4s3")          # kp(11)
IDX_MM_ASSIM = PARAMETERS.index("mm_const_assim")  # kp(13)

OPTIONS = Group("compas", (
    Key("grid", "str", "clm5_20", "vertical grid: CLM5 20 layers to 8.60 m, or CLM4.5-style 10 layers to 3.80 m",
        choices=tuple(GRIDS)),
    Key("legacy_kp13_alias", "bool", False,
        "map kp as the published code does: tau4s3 from kp(13) (the kp of mm_const_assim), kp(11) unused "
        "(spec Q-2). Affects only the kp -> physical mapping (calibration); physical values are never changed"),
    Key("efolding", "float", 0.5, "e-folding depth of the decomposition rates, exp(-z/efolding) (published: 0.5 m)",
        min=1e-3, max=1e3, units="m"),
    Key("xi_averaging", "str", "product_of_means",
        "steady-state scalar xi: product of the monthly means of the temperature, water and oxygen scalars "
        "(published COMPAS, regression targets) or mean of their monthly products (as CLM5)",
        choices=tuple(XI_MODES)),
    Key("min_total_to_mic_ratio", "float", 10.0,
        "validity test of the steady state: column (DOC+MIC+ENZ+SOC) / MIC stock must be >= this "
        "(reference code: 10; 0 switches the test off)", min=0.0, max=1e6),
    Key("advection", "float", 0.0, "downward advection velocity of litter in the bioturbation regime",
        min=0.0, max=1.0, units="m yr-1"),
    Key("substeps", "int", 1, "backward-Euler sub-steps per month in transient runs (accuracy of the "
        "seasonal cycle; the implicit step itself is stable for any length)", min=1, max=1000),
), doc="Options of the COMPAS kernel.")


class COMPAS(SoilCarbonModel):
    """COMPAS microbial-explicit vertical model (8 pools x nlev layers; 23 parameters).

    The forcing is the CLM5 forcing (same files); invalid steady states have status
    ERR_INVALID with a reason (:data:`REASONS`), never a sign-flipped value.

    Parameters
    ----------
    **options
        Keys of ``&compas`` (:data:`OPTIONS`).

    Examples
    --------
    >>> from pysoc.io.namelist import PKGDATA
    >>> m = COMPAS()
    >>> m.soc_pools, m.litter_pools
    (('DOC', 'MIC', 'ENZ', 'SOC'), ('CWD', 'L1', 'L2', 'L3'))
    >>> m.capabilities
    ('site_forcing', 'cell_forcing', 'ctsm_forcing', 'system_components')
    >>> ss = m.steady_state(PKGDATA / "forcing" / "clm5_synthetic_site1.nc", errors="ignore")
    >>> int(ss.status), str(ss.attrs["reason"])
    (0, 'ok')
    """

    name = "compas"
    long_name = "COMPAS microbial-explicit vertical soil carbon model (Tao et al. 2024, PRODA_MIC v22)"
    pools = ("CWD", "L1", "L2", "L3", "DOC", "MIC", "ENZ", "SOC")
    pool_long_names = ("coarse woody debris", "metabolic litter", "cellulose litter", "lignin litter",
                       "dissolved organic carbon", "microbial biomass", "extracellular enzymes",
                       "mineral-associated organic carbon")
    soc_pools = ("DOC", "MIC", "ENZ", "SOC")
    litter_pools = ("CWD", "L1", "L2", "L3")
    temperature_variable = "tsoi"
    parameters = PARAMETERS
    forcing_schema = FORCING
    options_group = OPTIONS
    observables = ("soc_profile", "soc_0_30", "pools", "rh", "km_ratio")
    #: status invalid_solution flags a computed solution (REASONS): its values stay (spec §6.6 regression)
    invalid_solutions_kept = True
    reasons = REASONS
    references = ("Tao et al. 2024 Global Change Biology (COMPAS; convergence of structurally different models "
                  "after data assimilation); Tao et al. 2023 Nature 618 981-985 (PRODA); docs/compas.md")

    def __init__(self, **options):
        super().__init__(**options)
        self._forcing = CLM5(grid=self.options["grid"])   # same forcing format and files
        self.dz, self.zisoi, self.zsoi = self._forcing.dz, self._forcing.zisoi, self._forcing.zsoi
        self.nlev = self.dz.size
        self.bounds = self._forcing.bounds
        self._xi_mode = XI_MODES[self.options["xi_averaging"]]

    # ---- kp mapping (the calibration engine maps through this method) -------------------
    def to_physical(self, kp) -> np.ndarray:
        """kp (..., 23) -> physical values. With ``legacy_kp13_alias`` tau4s3 is computed
        from kp(13) as in the published code (kp(11) is then unused); otherwise from kp(11)."""
        kp = np.asarray(kp, dtype=float)
        out = self.parameters.to_physical(kp)
        if self.options["legacy_kp13_alias"]:
            out[..., IDX_TAU4S3] = self.parameters.specs[IDX_TAU4S3].to_physical(kp[..., IDX_MM_ASSIM])
        return out

    # ---- forcing (delegated: the CLM5 format) ----------------------------------------------
    def load_forcing(self, path) -> xr.Dataset:
        ds = self._forcing.load_forcing(path)
        ds.attrs["source_file"] = str(path)      # error messages name the file actually read
        return ds

    def validate_forcing(self, ds: xr.Dataset, source: str = "<forcing>") -> xr.Dataset:
        return self._forcing.validate_forcing(ds, source)

    def validate_columns(self, ds: xr.Dataset, source: str = "<forcing>", dim: str = "column"):
        """All columns at once, as CLM5 (the same forcing format)."""
        return self._forcing.validate_columns(ds, source, dim)

    def forcing_dataset(self, *args, **kwargs) -> xr.Dataset:
        """Build a forcing dataset from arrays (see :meth:`CLM5.forcing_dataset`)."""
        return self._forcing.forcing_dataset(*args, **kwargs)

    def prepare(self, forcing) -> dict:
        """Fortran-ordered climatology arrays for one site or a list of sites."""
        return self._forcing.prepare(forcing)

    # ---- kernels -----------------------------------------------------------------------
    def _common(self):
        return float(self.options["efolding"]), self._xi_mode, float(self.options["advection"])

    def evaluate(self, forcing, theta, observables=("soc_profile",), site_index=None) -> BatchResult:
        """Steady states of many parameter vectors in one kernel call.

        Parameters
        ----------
        forcing : xarray.Dataset or list of xarray.Dataset or dict
            A site, several sites, or the result of :meth:`prepare` / :meth:`cell_forcing`.
        theta : array_like
            (nset, 23) physical parameter values.
        observables : tuple of str
            On request 'soc_0_30' (kg C m-2) and 'km_ratio' (nset, 2, nlev): Km xi / substrate
            for DOC uptake and SOC depolymerisation (one extra kernel call per vector).
        site_index : array_like of int, optional
            (nset,) 0-based site of each vector (default all 0).

        Returns
        -------
        BatchResult
            'pools' (nset, 8, nlev), 'soc_profile' (DOC+MIC+ENZ+SOC), 'rh', 'input'
            (g C m-2 yr-1), status with ``reason`` (:data:`REASONS`).
        """
        prep = forcing if isinstance(forcing, dict) else self.prepare(forcing)
        theta2 = as_2d(theta, len(self.parameters), "compas parameters")
        par = np.asfortranarray(theta2.T)
        nset = par.shape[1]
        if site_index is None:
            site_index = np.zeros(nset, dtype=np.int32)
        idx = np.asarray(site_index, dtype=np.int32) + 1
        efold, xi_mode, adv = self._common()
        x, inp, rh, reason, status = _k.steady_batch(
            self.dz, self.zisoi, self.zsoi, par, idx, prep["tsoi"], prep["w_scalar"], prep["o_scalar"],
            prep["fpi"], prep["litter_input"], prep["altmax"], prep["altmax_lastyear"], prep["nbedrock"],
            efold, xi_mode, adv, float(self.options["min_total_to_mic_ratio"]))
        pools = np.moveaxis(x, (0, 1, 2), (2, 1, 0))                  # (nset, 8, nlev)
        soc = pools[:, self.soc_index, :].sum(axis=1)
        outputs = {"soc_profile": soc, "pools": pools, "rh": rh, "input": inp}
        if "soc_0_30" in observables:
            outputs["soc_0_30"] = interval_integrals(soc, self.bounds, [(0.0, 0.3)])[:, 0] / 1000.0
        if "km_ratio" in observables:
            ratio = np.full((nset, 2, self.nlev), np.nan)
            for i in range(nset):
                ops = self._operators(prep, theta2[i], int(idx[i]) - 1)
                if ops is not None:
                    ratio[i] = self._km_ratio(theta2[i], ops["xi"], pools[i])
            outputs["km_ratio"] = ratio
        return BatchResult(status=np.asarray(status), outputs=outputs, depth_bounds=self.bounds,
                           reason=np.asarray(reason), reason_names=dict(REASONS))

    def _operators(self, prep: dict, theta, site: int = 0) -> dict | None:
        efold, xi_mode, adv = self._common()
        s = (slice(None), slice(None), site)
        xi, xil, kk, tl, td, tu, prof, status = _k.operators(
            self.dz, self.zisoi, self.zsoi, np.asarray(theta, float), prep["tsoi"][s], prep["w_scalar"][s],
            prep["o_scalar"][s], prep["fpi"][s], prep["altmax"][:, site], prep["altmax_lastyear"][:, site],
            int(prep["nbedrock"][site]), efold, xi_mode, adv)
        if status != _status.OK:
            return None
        return dict(xi=xi, xil=xil, kk=kk, tl=tl, td=td, tu=tu, prof=prof)

    def _km_ratio(self, theta, xi, pools) -> np.ndarray:
        """(2, nlev): effective half-saturation Km xi over the substrate (DOC, SOC)."""
        p = dict(zip(self.parameters.names, theta))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.stack([p["mm_const_assim"] * xi / pools[4], p["mm_const_decom"] * xi / pools[7]])

    def fluxes(self, theta, kk, xi, pools) -> np.ndarray:
        """Every carbon flux (nlev, 17) g C m-3 d-1 of a state ``pools`` (8, nlev); columns
        named in ``FLUXES``."""
        return _k.fluxes(np.asarray(theta, float), np.asfortranarray(kk), xi, np.asfortranarray(pools.T))

    def _raise_invalid(self, res: BatchResult, context: str) -> None:
        bad = np.flatnonzero(~res.ok)
        if bad.size:
            i = int(bad[0])
            code = int(res.status[i])
            reason = REASONS.get(int(res.reason[i])) if code == _status.ERR_INVALID else None
            extra = f" -- {REASON_TEXT[int(res.reason[i])]}" if reason else ""
            raise KernelError(f"{context + ': ' if context else ''}{self.name} kernel failed: "
                              f"{res.describe(i)}{extra}", code=code, reason=reason)

    def steady_state(self, forcing: xr.Dataset, params=None, *, errors: str = "raise",
                     parameter_set: str | None = None) -> xr.Dataset:
        """Steady state for one parameter vector (physical values). ``errors='raise'``
        raises KernelError (with ``.reason``) for a non-ok status; otherwise the raw
        values are returned with ``status`` and ``reason`` variables (pools without a
        finite solution are NaN)."""
        theta = self.param_vector(params, parameter_set)
        prep = self.prepare(forcing)
        res = self.evaluate(prep, theta, observables=("soc_profile",))
        if errors == "raise":
            self._raise_invalid(res, str(forcing.attrs.get("source_file", "steady state")))
        ds = self._steady_dataset(res, prep, theta)
        ds.attrs["reason"] = REASONS[int(res.reason[0])]
        return self._attach_params(ds, theta)

    def steady_state_columns(self, forcing: xr.Dataset, params=None, dim: str = "column") -> xr.Dataset:
        """Steady states of every column of a validated column forcing in one kernel call
        (see :meth:`SoilCarbonModel.steady_state_columns`); diagnostics per column."""
        theta = self.param_vector(params, warn_prior=False)
        prep = self.prepare(forcing)
        n = prep["nsite"]
        res = self.evaluate(prep, np.tile(theta, (n, 1)), observables=("soc_profile",), site_index=np.arange(n))
        return self._attach_params(self._steady_dataset(res, prep, theta, dim), theta)

    def _steady_dataset(self, res: BatchResult, prep: dict, theta, dim: str | None = None) -> xr.Dataset:
        """Labelled steady states of the rows of ``res`` (site i = row i) along ``dim`` (None:
        row 0 without a column dimension); per-row values are the single-site expressions."""
        n = len(res) if dim else 1
        lead = (dim,) if dim else ()
        sq = (lambda a: a) if dim else (lambda a: a[0])  # noqa: E731
        allp = res.outputs["pools"][:n]
        ds = self._state_dataset(sq(allp), lead_dims=lead)
        inp = np.asarray(res.outputs["input"], float)[:n]
        rh = np.asarray(res.outputs["rh"], float)[:n]
        total = np.array([float((p * self.dz).sum()) for p in allp])
        with np.errstate(divide="ignore", invalid="ignore"):
            tau = np.where(inp > 0, total / inp, np.nan)
        ds["input"] = (lead, sq(inp), {"units": netcdf.FLUX, "long_name": "column litter input"})
        ds["rh"] = (lead, sq(rh), {"units": netcdf.FLUX, "long_name": "heterotrophic respiration"})
        mb, mb_attrs = mass_balance_residual(sq(inp), 0.0, sq(rh))
        ds["mass_balance_residual"] = (lead, mb, mb_attrs)
        ds["residence_time"] = (lead, sq(tau), {
            "units": "yr", "long_name": "ecosystem residence time (total carbon / input)"})
        diags = []
        for i in range(n):
            ops = self._operators(prep, theta, i)
            diags.append(None if ops is None else self._diagnostics(theta, ops, allp[i]))
        ds = _assign_diagnostics(ds, diags, dim)
        ds["status"] = status_dataarray(sq(np.asarray(res.status)[:n]), dims=lead)
        ds["reason"] = _reason_dataarray(sq(np.asarray(res.reason)[:n]), dims=lead)
        ds.attrs["mode"] = "steady_state"
        return ds

    def _diagnostics(self, theta, ops: dict, pools: np.ndarray) -> dict:
        """Flux, CUE and Michaelis-Menten diagnostics of one steady state: name -> (dims, values, attrs)."""
        fl = self.fluxes(theta, ops["kk"], ops["xi"], pools) * 365.0      # g C m-3 yr-1
        col = (fl * self.dz[:, None]).sum(axis=0)                         # g C m-2 yr-1
        p = dict(zip(self.parameters.names, theta))
        out = {}
        out["xi"] = (("level",), ops["xi"], {"units": "1", "long_name": "environmental scalar of the soil pools "
                                             "and CWD (temperature x water x oxygen x depth)"})
        out["xi_litter"] = (("level",), ops["xil"], {"units": "1", "long_name": "scalar of litter L1-L3 (xi x N)"})
        out["flux_vr"] = (("level", "flux"), fl, {"units": netcdf.FLUX_VOLUME, "long_name": "carbon fluxes per layer"})
        out["flux_col"] = (("flux",), col, {"units": netcdf.FLUX, "long_name": "carbon fluxes of the column"})
        rh_path = col[[FLUXES.index(f"rh_{k.lower()}") for k in PATHWAYS]]
        out["rh_pathway"] = (("pathway",), rh_path, {"units": netcdf.FLUX,
                                                    "long_name": "heterotrophic respiration by pathway"})
        out["cue_pathway"] = (("pathway",), np.array([p["l1_cue"], p["l2l3_cue"], p["l2l3_cue"], p["mic_cue"]]), {
            "units": "1", "long_name": "microbial carbon use efficiency of each uptake pathway"})
        growth = fl[:, FLUXES.index("input_mic")] + p["mic_cue"] * fl[:, FLUXES.index("doc_uptake")]
        uptake = fl[:, FLUXES.index("litter_uptake")] + fl[:, FLUXES.index("doc_uptake")]
        with np.errstate(divide="ignore", invalid="ignore"):
            cue_vr = np.where(uptake > 0, growth / uptake, np.nan)
            cue_col = float((growth * self.dz).sum() / (uptake * self.dz).sum())
        out["cue_effective_vr"] = (("level",), cue_vr, {"units": "1", "long_name":
                                   "effective microbial CUE per layer (growth / uptake, all pathways)"})
        out["cue_effective"] = ((), cue_col, {"units": "1", "long_name":
                                "effective microbial CUE of the column (growth / uptake, all pathways)"})
        ratio = self._km_ratio(theta, ops["xi"], pools)
        out["km_ratio"] = (("process", "level"), ratio, {"units": "1", "long_name":
                           "effective Michaelis-Menten constant Km xi over its substrate (DOC for uptake, "
                           "SOC for depolymerisation); >> 1 means first-order kinetics (Tao et al. 2024 Fig. 5)"})
        with np.errstate(divide="ignore", invalid="ignore"):
            out["km_param_ratio"] = (("process", "level"), np.stack(
                [p["mm_const_assim"] / pools[4], p["mm_const_decom"] / pools[7]]), {
                "units": "1", "long_name": "Michaelis-Menten parameter Km over its substrate (without xi)"})
        return out

    def transient(self, forcing: xr.Dataset, params=None, *, errors: str = "raise", n_years: int | None = None,
                  initial: str | np.ndarray = "steady_state", parameter_set: str | None = None) -> xr.Dataset:
        """Monthly backward-Euler integration. A 12-month climatology is repeated
        ``n_years`` (default 1); a multi-year series runs once. ``initial``: 'steady_state'
        (of the mean forcing; must be finite and >= 0), 'zero', or an array (8, nlev) g C m-3."""
        theta = self.param_vector(params, parameter_set)
        ser, nstep, days = monthly_series(forcing, n_years)
        x0, ss = initial_state(self, forcing, theta, initial)
        f = lambda a: np.asfortranarray(a.T)  # noqa: E731  (time, level) -> (level, time)
        efold, _, adv = self._common()
        x, rh, status = _k.transient(
            self.dz, self.zisoi, self.zsoi, theta, f(ser["tsoi"]), f(ser["w_scalar"]), f(ser["o_scalar"]),
            f(ser["fpi"]), f(ser["litter_input"]), ser["altmax"], ser["altmax_lastyear"], int(forcing["nbedrock"]),
            days, int(self.options["substeps"]), np.asfortranarray(x0.T), efold, adv)
        if status != _status.OK and errors == "raise":
            raise KernelError(f"{forcing.attrs.get('source_file', 'transient')}: compas transient failed: "
                              f"{_status.name(status)} ({_status.message(status)})", code=int(status))
        cp = np.moveaxis(x, (0, 1, 2), (2, 1, 0))                     # (time, pool, level)
        rh_vr = np.moveaxis(rh, (0, 1, 2), (2, 1, 0))
        ds = self._state_dataset(cp, days=days)
        ds["rh_vr"] = (("time", "pool", "level"), rh_vr, {
            "units": netcdf.CONCENTRATION, "cell_methods": "time: sum",
            "long_name": "heterotrophic respiration per pathway (L1, L2, L3 litter uptake; DOC uptake) and layer "
                         "during the step"})
        ds["rh"] = (("time", "pool"), (rh_vr * self.dz).sum(axis=-1), {
            "units": netcdf.STOCK, "cell_methods": "time: sum",
            "long_name": "heterotrophic respiration per pathway during the step"})
        self.add_column_budget(ds, cp, x0, ser["litter_input"].sum(axis=1), ds["rh"].values.sum(axis=1), ss)
        ds["days"] = (("time",), days, {"units": "d", "long_name": "length of the step"})
        ds["status"] = status_dataarray(status)
        ds.attrs["mode"] = "transient"
        return self._attach_params(ds, theta)

    # ---- labelled output -----------------------------------------------------------------
    def _state_dataset(self, pools: np.ndarray, days=None, lead_dims: tuple = ()) -> xr.Dataset:
        tc = None if days is None else self.time_coords(days)
        return self.layered_dataset(pools, self.soc_index, "mineral-soil organic carbon (DOC+MIC+ENZ+SOC)",
                                    self.litter_index, "litter and CWD stock of the column", tc, lead_dims=lead_dims)

    def _attach_params(self, ds: xr.Dataset, theta: np.ndarray) -> xr.Dataset:
        ds.attrs["grid"] = self.options["grid"]
        return self.attach_params(ds, theta)

    # ---- capabilities: forcing from covariates (the CLM5 format), system components ------------
    def site_forcing(self, profile, npp: str = "miami") -> xr.Dataset:
        """Forcing of one profile from its covariates: the CLM5 builder
        (:meth:`pysoc.models.clm5.CLM5.site_forcing`; the same forcing format)."""
        return clm5_site_forcing(self, profile, npp)

    def cell_forcing(self, climate) -> dict:
        """Prepared forcing of grid cells: the CLM5 builder
        (:meth:`pysoc.models.clm5.CLM5.cell_forcing`; the same forcing format)."""
        return clm5_cell_forcing(self, climate)

    def ctsm_forcing(self, history, levels: str = "match", litter_variables=None, nbedrock: int = 0) -> xr.Dataset:
        """Forcing of many columns from CTSM history output: the CLM5 mapping
        (:meth:`pysoc.models.clm5.CLM5.ctsm_forcing`; the same forcing format)."""
        return clm5_ctsm_forcing(self, history, levels, litter_variables, nbedrock)

    def system_components(self, prep, theta, pools, site_index) -> dict:
        """System-level components of steady states (capability; see
        :mod:`pysoc.models.components`): outflows and respired fractions from the kernel's
        fluxes (:data:`FLUXES`), k_j the effective first-order rate F_j / sum xi x dz, xi the
        kernel's environmental scalar; COMPAS mixes litter only. Rows whose operators cannot
        be built or whose pools are not finite are NaN.

        Parameters
        ----------
        prep : dict
            Prepared forcing (:meth:`prepare` or :meth:`cell_forcing`).
        theta : numpy.ndarray
            (n, 23) physical parameters.
        pools : numpy.ndarray
            (n, 8, nlev) steady-state pools, g C m-3.
        site_index : numpy.ndarray
            (n,) 0-based site of each row.

        Returns
        -------
        dict
            Name -> (n,) array (:data:`pysoc.models.components.COMPONENTS` and more).
        """
        return _components(self, prep, theta, pools, site_index)


#: the column outflow F_j of each pool (sums of FLUXES) and the respired part of it
_OUTFLOW = (("cwd_fragmentation",), ("l1_decomposition",), ("l2_decomposition",), ("l3_decomposition",),
            ("doc_uptake",), ("microbial_death", "enzyme_production"), ("enzyme_turnover",), ("depolymerisation",))
_RESPIRED = ((), ("rh_l1",), ("rh_l2",), ("rh_l3",), ("rh_doc",), (), (), ())


def _components(model: COMPAS, prep, theta, pools, site_index) -> dict:
    n = theta.shape[0]
    p = {nm: theta[:, i] for i, nm in enumerate(model.parameters.names)}
    dz, zisoi = model.dz, model.zisoi
    npool = len(model.pools)
    fcol = np.full((n, npool), np.nan)
    resp = np.full((n, npool), np.nan)
    xi = np.full((n, model.nlev), np.nan)
    keff = np.full((n, npool), np.nan)
    fi = {f: i for i, f in enumerate(FLUXES)}
    for c in range(n):
        ops = model._operators(prep, theta[c], int(site_index[c]))
        if ops is None or not np.all(np.isfinite(pools[c])):
            continue
        fl = model.fluxes(theta[c], ops["kk"], ops["xi"], pools[c]) * 365.0          # (nlev, 17) g C m-3 yr-1
        col = (fl * dz[:, None]).sum(axis=0)
        fcol[c] = [sum(col[fi[f]] for f in fs) for fs in _OUTFLOW]
        resp[c] = [sum(col[fi[f]] for f in fs) if fs else 0.0 for fs in _RESPIRED]
        xi[c] = ops["xi"]
        xil = ops["xil"]
        xij = np.stack([ops["xi"], xil, xil, xil, ops["xi"], ops["xi"], ops["xi"], ops["xi"]])
        denom = (xij * pools[c] * dz).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            keff[c] = np.where(denom > 0, np.asarray(fcol[c]) / denom, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(fcol > 0, 1.0 - resp / fcol, 1.0)
    s = np.asarray(site_index)
    diag, surface_only = mean_transport_diagonal(model, prep, s, p["diffus"], p["cryo"])
    return sc.assemble(dz, zisoi, pools, fcol, a, keff, xi, diag, p["beta"], surface_only)


def _assign_diagnostics(ds: xr.Dataset, diags: list, dim: str | None) -> xr.Dataset:
    """Put per-column diagnostics (dicts from COMPAS._diagnostics, None where the operators
    could not be built) into ``ds``: stacked along ``dim`` with NaN for missing columns, or
    row 0 alone when ``dim`` is None."""
    first = next((d for d in diags if d is not None), None)
    if first is None:
        return ds
    ds = ds.assign_coords(flux=("flux", list(FLUXES)), pathway=("pathway", list(PATHWAYS)),
                          process=("process", ["doc_uptake", "depolymerisation"]))
    for name, (dims, values, attrs) in first.items():
        if dim is None:
            ds[name] = (dims, values, attrs)
            continue
        shape = np.shape(values)
        arr = np.stack([np.full(shape, np.nan) if d is None else np.asarray(d[name][1], float) for d in diags])
        ds[name] = ((dim,) + dims, arr, attrs)
    return ds


def _reason_dataarray(code, dims=()) -> xr.DataArray:
    return xr.DataArray(np.asarray(code, dtype=np.int32), dims=dims, attrs={
        "long_name": "reason of an invalid steady state (status invalid_solution)", "units": "1",
        "flag_values": np.array(sorted(REASONS), dtype=np.int32),
        "flag_meanings": " ".join(REASONS[k] for k in sorted(REASONS))})


def reason_codes_match_kernel() -> bool:
    """True when REASONS mirrors the kernel's reason codes (used by the tests)."""
    return list(_k.reason_codes()) == sorted(REASONS)


__all__ = ["COMPAS", "PARAMETERS", "OPTIONS", "REASONS", "FLUXES"]

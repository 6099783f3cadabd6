"""Two-pool soil carbon model: the template of a pysoc kernel (docs/adding_a_model.md).

One bulk soil layer (thickness ``&twopool thickness``, default 0.3 m) with two pools,
litter (LIT) and soil organic matter (SOM), first-order decay, a humification fraction and
one environmental scalar (rate = base x named scalars, as in CTSM)::

    dLIT/dt = I - k_lit xi LIT                 k = 1 / tau (yr-1) at xi = 1
    dSOM/dt = hum k_lit xi LIT - k_som xi SOM   xi = f_T f_W
    f_T = q10 ** ((T - t_ref) / 10)            f_W = min(1, w / w_opt)

The Fortran kernel (``fortran/soc_twopool.f90``, entry points ``fortran/api_twopool.f90``)
gives the analytic steady state of the mean forcing and a monthly transient solved exactly
month by month. This module is the whole Python side of the model: the pool and parameter
tables, the forcing schema, the namelist options, and the methods of the contract
(:class:`~pysoc.models.base.SoilCarbonModel`), including the optional capabilities
``site_forcing``, ``cell_forcing``, ``system_components`` and ``decomposition_scalars``,
so that pysoc-run, pysoc-calibrate and pysoc-proda run it without knowing its name.

Units at this interface: pools g C m-3 (kernel: g C m-2 of the layer), litter input
g C m-2 month-1, soil temperature K, relative soil water 1, fluxes g C m-2 yr-1.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from pysoc import _status
from pysoc._kernels import twopool as _k
from pysoc.errors import ConfigError, DataError, KernelError
from pysoc.forcing import ForcingSchema, VariableSpec
from pysoc.io import netcdf
from pysoc.io import site_forcing as sf
from pysoc.io.namelist import Group, Key
from pysoc.models.base import BatchResult, SoilCarbonModel, mass_balance_residual, status_dataarray
from pysoc.params import ParameterSpec, ParameterTable, as_2d
from pysoc.profiles import interval_integrals

#: calendar days of the months (no leap years)
DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=float)
DAYS_PER_YEAR = 365.0

_POS = dict(lower=0.0, lower_inclusive=False)
PARAMETERS = ParameterTable("twopool", (
    ParameterSpec("tau_lit", "yr", 1.0, 0.2, 5.0, "turnover time of litter at xi = 1", **_POS),
    ParameterSpec("tau_som", "yr", 30.0, 5.0, 200.0, "turnover time of soil organic matter at xi = 1",
                  scale="log10", **_POS),
    ParameterSpec("hum", "1", 0.3, 0.05, 0.6, "humification fraction: share of the litter decomposition that "
                  "becomes SOM (the rest is respired)", lower=0.0, upper=1.0),
    ParameterSpec("q10", "1", 2.0, 1.2, 3.0, "temperature sensitivity: rate factor per 10 K warming", **_POS),
    ParameterSpec("w_opt", "1", 0.6, 0.2, 1.0, "relative soil water above which moisture does not limit "
                  "decomposition", lower=0.0, upper=1.0, lower_inclusive=False),
))

FORCING = ForcingSchema("twopool", [
    VariableSpec("tsoi", ("time",), "K", "soil temperature of the layer", 150.0, 350.0),
    VariableSpec("soil_moisture", ("time",), "1", "relative soil water content of the layer "
                 "(volumetric water / porosity)", 0.0, 1.0),
    VariableSpec("litter_input", ("time",), "g C m-2 month-1", "litter input to the layer per month", 0.0, 1e5),
], doc="Monthly forcing of the two-pool template model (one site, whole years of months).")

OPTIONS = Group("twopool", (
    Key("thickness", "float", 0.3, "thickness of the one soil layer", min=0.01, max=10.0, units="m"),
    Key("t_ref", "float", 288.15, "reference temperature of the turnover times (f_T = 1)", min=200.0, max=350.0,
        units="K"),
), doc="Options of the two-pool template kernel.")


class TwoPool(SoilCarbonModel):
    """Two-pool (litter, SOM) one-layer template model.

    Parameters
    ----------
    **options
        Keys of the namelist group ``&twopool`` (``thickness`` m, ``t_ref`` K).

    Examples
    --------
    >>> from pysoc.models import get_model
    >>> m = get_model("twopool")
    >>> f = m.forcing_dataset(np.full(12, 288.15), np.full(12, 0.6), np.full(12, 30.0))
    >>> res = m.evaluate(f, m.parameters.defaults)
    >>> res.outputs["pools"][0, :, 0] * m.dz[0]          # g C m-2: LIT = I tau_lit, SOM = hum I tau_som
    array([ 360., 3240.])
    """

    name = "twopool"
    long_name = "two-pool (litter, SOM) one-layer soil carbon model, the pysoc template kernel"
    pools = ("LIT", "SOM")
    pool_long_names = ("litter", "soil organic matter")
    soc_pools = ("SOM",)
    litter_pools = ("LIT",)
    temperature_variable = "tsoi"
    parameters = PARAMETERS
    forcing_schema = FORCING
    options_group = OPTIONS
    observables = ("soc_profile", "soc_0_30", "pools", "rh", "input")
    #: a small forcing the model runs on (the conformance suite, tests/test_conformance.py, uses it)
    example_forcing = "pkgdata:twopool/forcing_site1.nc"
    references = "docs/adding_a_model.md (template kernel; first-order two-pool model with Q10 and moisture scalar)"

    def __init__(self, **options):
        super().__init__(**options)
        self.set_grid([float(self.options["thickness"])])          # one layer: nlev, dz, zisoi, zsoi, bounds
        self._soc = list(self.pools).index("SOM")
        self._lit = list(self.pools).index("LIT")

    # ---- forcing -----------------------------------------------------------------------
    def load_forcing(self, path) -> xr.Dataset:
        """Read and validate a forcing file (DataError naming the file and the variable)."""
        ds = self.forcing_schema.load(path)
        ds.attrs["source_file"] = str(path)
        return self._check_forcing(ds, str(path))

    def validate_forcing(self, ds: xr.Dataset, source: str = "<forcing>") -> xr.Dataset:
        """Validate a forcing dataset against :data:`FORCING` (units converted, e.g. degC -> K)."""
        return self._check_forcing(self.forcing_schema.validate(ds, source=source), source)

    @staticmethod
    def _check_forcing(ds: xr.Dataset, source: str) -> xr.Dataset:
        nt = ds.sizes["time"]
        if nt % 12 != 0:
            raise DataError(f"{source}: dimension 'time' has {nt} steps; expected whole years of months "
                            f"(12 for a climatology, 12 n for n years starting in January)")
        ds.attrs.setdefault("source_file", source)
        return ds

    def forcing_dataset(self, tsoi, soil_moisture, litter_input, attrs=None) -> xr.Dataset:
        """A validated forcing dataset from monthly arrays.

        Parameters
        ----------
        tsoi : array_like
            (ntime,) soil temperature, K.
        soil_moisture : array_like
            (ntime,) relative soil water content, 0-1.
        litter_input : array_like
            (ntime,) litter input, g C m-2 month-1.
        attrs : dict, optional
            Global attributes.

        Returns
        -------
        xarray.Dataset
            Validated forcing (CF time coordinate, noleap calendar).

        Raises
        ------
        DataError
            A value outside the valid range of :data:`FORCING` (one line naming the variable).

        Examples
        --------
        >>> from pysoc.models import get_model
        >>> f = get_model("twopool").forcing_dataset(np.full(12, 283.15), 0.5, 30.0)
        >>> f.sizes["time"], f["litter_input"].attrs["units"]
        (12, 'g C m-2 month-1')
        """
        t = np.asarray(tsoi, float).reshape(-1)
        nt = t.size
        data = {"tsoi": ("time", t), "soil_moisture": ("time", np.broadcast_to(soil_moisture, (nt,)).astype(float)),
                "litter_input": ("time", np.broadcast_to(litter_input, (nt,)).astype(float))}
        ds = xr.Dataset(data, attrs={"Conventions": "CF-1.8", "title": "pysoc two-pool forcing", **(attrs or {})})
        for name, spec in self.forcing_schema.variables.items():
            ds[name].attrs.update(units=spec.units, long_name=spec.long_name)
        ds = ds.assign_coords(netcdf.time_coords(np.resize(DAYS_IN_MONTH, nt)))
        return self.validate_forcing(ds, source="<arrays>")

    def prepare(self, forcing) -> dict:
        """Kernel arrays of one site, a list of sites or a column forcing (``column`` first):
        month-of-year means (12, nsite) of each variable, and the days of the months."""
        if isinstance(forcing, xr.Dataset) and "column" in forcing.dims:
            sites = [forcing.isel(column=i) for i in range(forcing.sizes["column"])]
        else:
            sites = forcing if isinstance(forcing, (list, tuple)) else [forcing]
        if any(isinstance(ds, dict) for ds in sites):
            raise ConfigError("prepare() takes forcing datasets, not prepared arrays")
        out = {k: np.asfortranarray(np.stack([_climatology(ds[k].values) for ds in sites], axis=-1))
               for k in ("tsoi", "soil_moisture", "litter_input")}
        out["days"] = DAYS_IN_MONTH.copy()
        out["nsite"] = len(sites)
        return out

    # ---- kernels -----------------------------------------------------------------------
    def evaluate(self, forcing, theta, observables=("soc_profile",), site_index=None) -> BatchResult:
        """Analytic steady states of many parameter vectors in one kernel call.

        Parameters
        ----------
        forcing : xarray.Dataset or list of xarray.Dataset or dict
            One site, several sites, or the result of :meth:`prepare` / :meth:`cell_forcing`.
        theta : array_like
            (nset, 5) physical parameter values.
        observables : tuple of str
            Outputs wanted; every output of :attr:`observables` is always returned.
        site_index : array_like of int, optional
            (nset,) 0-based site of each row (default 0).

        Returns
        -------
        BatchResult
            ``pools`` (nset, 2, 1) and ``soc_profile`` (nset, 1) g C m-3, ``soc_0_30`` kg C m-2,
            ``rh`` and ``input`` g C m-2 yr-1, ``xi`` (nset,) mean environmental scalar.
        """
        prep = forcing if isinstance(forcing, dict) else self.prepare(forcing)
        par = np.asfortranarray(as_2d(theta, len(self.parameters), "twopool parameters").T)
        nset = par.shape[1]
        idx = np.zeros(nset, np.int32) if site_index is None else np.asarray(site_index, np.int32)
        if idx.shape != (nset,):
            raise ConfigError(f"twopool.evaluate: site_index has shape {idx.shape}, expected ({nset},)")
        x, inp, rh, xi, status = _k.steady_batch(par, idx + 1, prep["tsoi"], prep["soil_moisture"],
                                                 prep["litter_input"], prep["days"], float(self.options["t_ref"]))
        pools = (x.T / self.dz[0])[:, :, None]                        # (nset, 2, 1) g C m-3
        soc = pools[:, self._soc, :]
        outputs = {"pools": pools, "soc_profile": soc, "rh": rh, "input": inp, "xi": xi,
                   "soc_0_30": interval_integrals(soc, self.bounds, [(0.0, 0.3)])[:, 0] / 1000.0}
        return BatchResult(status=np.asarray(status), outputs=outputs, depth_bounds=self.bounds)

    def steady_state(self, forcing: xr.Dataset, params=None, *, errors: str = "raise",
                     parameter_set: str | None = None) -> xr.Dataset:
        """Labelled steady state of the mean forcing for one parameter vector.

        Parameters
        ----------
        forcing : xarray.Dataset or path
            Forcing of one site.
        params : array_like or mapping, optional
            Physical values (full vector, or overrides by name of the default set).
        errors : {'raise', 'ignore'}
            'raise': KernelError for a status that is not ok; else the values with ``status``.
        parameter_set : str, optional
            Named parameter set.

        Returns
        -------
        xarray.Dataset
            ``cpools``, ``soc``, stocks, ``input``, ``rh``, ``mass_balance_residual``, ``status``.

        Raises
        ------
        ParameterError
            A parameter outside its physical domain.
        KernelError
            The kernel status is not ok (with ``errors='raise'``).

        Examples
        --------
        >>> from pysoc.models import get_model
        >>> from pysoc.io.namelist import PKGDATA
        >>> m = get_model("twopool")
        >>> ss = m.steady_state(PKGDATA / "twopool" / "forcing_site1.nc")
        >>> round(ss["soc_stock"].sel(depth_interval="0-30 cm").item(), 1), round(float(ss["rh"]), 6)
        (7152.9, 400.0)
        """
        theta = self.param_vector(params, parameter_set)
        res = self.evaluate(forcing, theta)
        if errors == "raise":
            self.raise_for_status(res, context=str(forcing.attrs.get("source_file", "steady state")))
        ds = self._state_dataset(res.outputs["pools"][0])
        inp, rh = float(res.outputs["input"][0]), float(res.outputs["rh"][0])
        ds["input"] = ((), inp, {"units": netcdf.FLUX, "long_name": "litter input"})
        ds["rh"] = ((), rh, {"units": netcdf.FLUX, "long_name": "heterotrophic respiration"})
        ds["mass_balance_residual"] = ((),) + mass_balance_residual(inp, 0.0, rh)   # the contract's one meaning
        ds["xi"] = ((), float(res.outputs["xi"][0]), {"units": "1", "long_name": "mean environmental scalar"})
        ds["status"] = status_dataarray(res.status[0])
        ds.attrs["mode"] = "steady_state"
        return self.attach_params(ds, theta)

    def transient(self, forcing: xr.Dataset, params=None, *, errors: str = "raise", n_years: int | None = None,
                  initial: str | np.ndarray = "steady_state", parameter_set: str | None = None) -> xr.Dataset:
        """Monthly transient, solved exactly month by month.

        Parameters
        ----------
        forcing : xarray.Dataset or path
            Forcing of one site; a 12-month climatology is repeated ``n_years`` (default 1),
            a longer series runs once.
        params : array_like or mapping, optional
            Physical values.
        errors : {'raise', 'ignore'}
            As in :meth:`steady_state`.
        n_years : int, optional
            Repetitions of a climatology.
        initial : {'steady_state', 'zero'} or array_like
            Initial pools: the steady state of the mean forcing, zero, or (2, 1) g C m-3.
        parameter_set : str, optional
            Named parameter set.

        Returns
        -------
        xarray.Dataset
            Pools at the end of every month, ``rh`` per pool and the column budget
            (``input`` g C m-2 during each month, ``mass_balance_residual`` g C m-2 yr-1).

        Raises
        ------
        ConfigError
            A bad ``n_years`` or ``initial``.
        KernelError
            The kernel status is not ok (with ``errors='raise'``).

        Examples
        --------
        >>> from pysoc.models import get_model
        >>> from pysoc.io.namelist import PKGDATA
        >>> tr = get_model("twopool").transient(PKGDATA / "twopool" / "forcing_site1.nc", n_years=2)
        >>> tr.sizes["time"], bool(abs(tr["mass_balance_residual"]).max() < 1e-9)
        (24, True)
        """
        theta = self.param_vector(params, parameter_set)
        nt = forcing.sizes["time"]
        reps = 1 if n_years is None or nt > 12 else int(n_years)
        if reps < 1:
            raise ConfigError(f"transient: n_years must be >= 1, got {n_years}")
        ser = {k: np.tile(np.asarray(forcing[k].values, float), reps) for k in ("tsoi", "soil_moisture",
                                                                             "litter_input")}
        days = np.resize(DAYS_IN_MONTH, nt * reps)
        x0, steady = self._initial(forcing, theta, initial)
        x, rh, status = _k.transient(theta, ser["tsoi"], ser["soil_moisture"], ser["litter_input"], days,
                                     float(self.options["t_ref"]), x0[:, 0] * self.dz[0])
        if status != _status.OK and errors == "raise":
            raise KernelError(f"{forcing.attrs.get('source_file', 'transient')}: twopool transient failed: "
                              f"{_status.name(status)} ({_status.message(status)})", code=int(status))
        cp = (x.T / self.dz[0])[:, :, None]                           # (time, pool, 1) g C m-3
        ds = self._state_dataset(cp, days)
        ds["rh"] = (("time", "pool"), rh.T, {"units": netcdf.STOCK, "cell_methods": "time: sum",
                                             "long_name": "heterotrophic respiration per pool during the step"})
        self.add_column_budget(ds, cp, x0, ser["litter_input"], rh.sum(axis=0), steady)
        ds["days"] = (("time",), days, {"units": "d", "long_name": "length of the step"})
        ds["status"] = status_dataarray(status)
        ds.attrs["mode"] = "transient"
        return self.attach_params(ds, theta)

    def _initial(self, forcing, theta, initial):
        """(initial pools (2, 1) g C m-3, steady state or None) of a transient run."""
        if isinstance(initial, str) and initial == "steady_state":
            res = self.evaluate(forcing, theta)
            if not res.ok[0]:
                raise KernelError(f"transient: the steady state cannot be the initial state ({res.describe(0)}); "
                                  f"use initial='zero' or an array", code=int(res.status[0]))
            return res.outputs["pools"][0], res.outputs["pools"][0]
        if isinstance(initial, str) and initial == "zero":
            return np.zeros((2, 1)), None
        if isinstance(initial, str):
            raise ConfigError(f"transient: initial must be 'steady_state', 'zero' or an array, got {initial!r}")
        x0 = np.asarray(initial, float).reshape(-1, 1)
        if x0.shape != (2, 1) or not np.all(np.isfinite(x0)) or (x0 < 0).any():
            raise ConfigError("transient: initial state must be finite, >= 0, shape (2, 1) g C m-3")
        return x0, None

    def _state_dataset(self, pools: np.ndarray, days=None) -> xr.Dataset:
        tc = None if days is None else self.time_coords(days)
        return self.layered_dataset(pools, [self._soc], "soil organic matter", [self._lit],
                                    "litter stock of the layer", tc)

    # ---- optional capabilities -------------------------------------------------------------
    def decomposition_scalars(self, soil_temperature_k, water_scalar, params=None):
        """Temperature and moisture scalars of the kernel, elementwise (capability).

        Parameters
        ----------
        soil_temperature_k : array_like
            Soil temperature, K.
        water_scalar : array_like
            Relative soil water content (0-1), broadcast against the temperature.
        params : mapping, optional
            Overrides of the default parameters by name.

        Returns
        -------
        f_t, f_w : numpy.ndarray
            ``q10 ** ((T - t_ref) / 10)`` and ``min(1, w / w_opt)``.

        Examples
        --------
        >>> from pysoc.models import get_model
        >>> ft, fw = get_model("twopool").decomposition_scalars([288.15, 298.15], [0.3, 0.9])
        >>> ft.tolist(), fw.tolist()
        ([1.0, 2.0], [0.5, 1.0])
        """
        p = dict(zip(self.parameters.names, self.param_vector(params, warn_prior=False)))
        t, w = np.broadcast_arrays(np.asarray(soil_temperature_k, float), np.asarray(water_scalar, float))
        _, ft, fw = _k.scalars(np.ascontiguousarray(t.ravel()), np.ascontiguousarray(w.ravel()), p["q10"],
                               p["w_opt"], float(self.options["t_ref"]))
        return ft.reshape(t.shape), fw.reshape(t.shape)

    def site_forcing(self, profile, npp: str = "miami") -> xr.Dataset:
        """Forcing of one profile from its covariates (capability), with the approximations of
        :mod:`pysoc.io.site_forcing`: the monthly soil temperature at the middle of the layer,
        relative soil water = the Century moisture function of P/PET, litter input = NPP / 12.

        Parameters
        ----------
        profile : pysoc.io.profiles.Profile
            A profile with covariates (MAT, MAP, ...).
        npp : {'miami', 'gpp'}
            Litter input from the Miami model or 0.46 x FLUXCOM GPP.

        Returns
        -------
        xarray.Dataset

        Raises
        ------
        DataError
            A covariate is missing.

        Examples
        --------
        >>> from pysoc.models import get_model
        >>> from pysoc.io.site_forcing import PseudoProfile
        >>> m = get_model("twopool")
        >>> f = m.site_forcing(PseudoProfile("s1", 45.0, 7.0, 9.0, 800.0, 900.0, 4))
        >>> m.evaluate(f, m.parameters.defaults).outputs["soc_0_30"].round(3)
        array([6.421])
        """
        c = sf.site_climate(profile, npp)
        tsoi = 273.15 + sf.soil_temperature(self.zsoi, c["mat"], c["amplitude"], profile.lat)[:, 0]
        w = float(sf.century_wfunc(c["aridity"]))
        return self.forcing_dataset(tsoi, np.full(12, w), np.full(12, c["npp"] / 12.0), attrs={
            "site_id": profile.site_id, "lat": profile.lat, "lon": profile.lon,
            "source": "pysoc.io.site_forcing: approximate climatology from profile covariates (docs/data.md)",
            "npp_g_C_m2_yr": c["npp"], "npp_method": c["npp_source"], "mat_degC": c["mat"],
            "aridity_p_over_pet": c["aridity"]})

    def cell_forcing(self, climate) -> dict:
        """Prepared forcing of grid cells (capability): :meth:`site_forcing`'s approximations
        vectorised over cells (BIO4 amplitude, Holdridge PET, Miami NPP).

        Parameters
        ----------
        climate : pysoc.io.site_forcing.CellClimate
            Per-cell latitude, MAT, MAP, BIO4.

        Returns
        -------
        dict
            As :meth:`prepare` returns for the list of cells.

        Examples
        --------
        >>> from pysoc.models import get_model
        >>> from pysoc.io.site_forcing import CellClimate
        >>> m = get_model("twopool")
        >>> prep = m.cell_forcing(CellClimate([45.0], [9.0], [800.0], [900.0], [4]))
        >>> m.evaluate(prep, m.parameters.defaults, site_index=[0]).outputs["soc_0_30"].round(3)
        array([6.421])
        """
        amp = np.sqrt(2.0) * climate.bio4 / 100.0
        tsoi = np.stack([sf.soil_temperature(self.zsoi, t, a, la)[:, 0]
                         for t, a, la in zip(climate.mat, amp, climate.lat)], axis=-1)    # (12, n) degC
        t_air = np.stack([sf.soil_temperature([0.0], t, a, la)[:, 0]
                          for t, a, la in zip(climate.mat, amp, climate.lat)], axis=-1)
        pet = sf.HOLDRIDGE * np.clip(t_air, 0.0, 30.0).mean(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            aridity = np.where(pet > 0, climate.map / pet, np.inf)
        n = climate.n
        return {"tsoi": np.asfortranarray(273.15 + tsoi),
                "soil_moisture": np.asfortranarray(np.broadcast_to(sf.century_wfunc(aridity), (12, n))),
                "litter_input": np.asfortranarray(np.broadcast_to(sf.miami_npp(climate.mat, climate.map) / 12.0,
                                                                  (12, n))),
                "days": DAYS_IN_MONTH.copy(), "nsite": n}

    def system_components(self, prep, theta, pools, site_index) -> dict:
        """System-level components of steady states (capability; seed 001 eq. 10-14).

        For two first-order pools in one layer: ``cte`` = hum F_lit / (F_lit + F_som),
        ``k_system`` = sum_j X_j / tau_j / sum_j X_j, ``xi_system`` = the mean scalar,
        ``v_system`` = 0 (no vertical transport), ``b_system`` = 0 (all input in the layer).

        Parameters
        ----------
        prep : dict
            Prepared forcing (:meth:`prepare` or :meth:`cell_forcing`).
        theta : numpy.ndarray
            (n, 5) physical parameter values.
        pools : numpy.ndarray
            (n, 2, 1) steady-state pools, g C m-3.
        site_index : numpy.ndarray
            (n,) 0-based site of each row.

        Returns
        -------
        dict
            ``cte``, ``k_system`` (yr-1), ``xi_system``, ``v_system`` (yr-1), ``b_system``,
            ``total_flux`` and ``respiration_from_components`` (g C m-2 yr-1), each (n,).

        Examples
        --------
        >>> from pysoc.models import get_model
        >>> from pysoc.io.site_forcing import CellClimate
        >>> m = get_model("twopool")
        >>> prep = m.cell_forcing(CellClimate([45.0], [9.0], [800.0], [900.0], [4]))
        >>> res = m.evaluate(prep, m.parameters.defaults, site_index=[0])
        >>> c = m.system_components(prep, m.parameters.defaults[None], res.outputs["pools"], np.array([0]))
        >>> round(float(c["cte"][0]), 4), bool(np.isclose(c["respiration_from_components"], res.outputs["rh"]))
        (0.2308, True)
        """
        theta = np.atleast_2d(np.asarray(theta, float))
        p = {n: theta[:, i] for i, n in enumerate(self.parameters.names)}
        res = self.evaluate(prep, theta, site_index=site_index)
        xi = np.asarray(res.outputs["xi"], float)
        stock = np.asarray(pools, float)[:, :, 0] * self.dz[0]                   # (n, 2) g C m-2
        k = np.stack([1.0 / p["tau_lit"], 1.0 / p["tau_som"]], axis=1)          # yr-1
        flux = k * xi[:, None] * stock                                          # g C m-2 yr-1 leaving each pool
        total = flux.sum(axis=1)
        kept = np.stack([p["hum"], np.zeros_like(p["hum"])], axis=1)            # share of each outflow kept
        with np.errstate(divide="ignore", invalid="ignore"):
            return {"cte": (kept * flux).sum(axis=1) / total,
                    "k_system": (k * stock).sum(axis=1) / stock.sum(axis=1),
                    "xi_system": xi, "v_system": np.zeros_like(xi), "b_system": np.zeros_like(xi),
                    "total_flux": total, "respiration_from_components": ((1.0 - kept) * flux).sum(axis=1)}


def _climatology(values) -> np.ndarray:
    """Month-of-year means (12,) of a series of whole years of months."""
    v = np.asarray(values, float).reshape(-1)
    return v.reshape(-1, 12).mean(axis=0)


def kernel_sizes() -> tuple[int, int]:
    """(number of parameters, number of pools) as the Fortran module declares them."""
    npar, npool = _k.sizes()
    return int(npar), int(npool)


__all__ = ["TwoPool", "PARAMETERS", "FORCING", "OPTIONS", "kernel_sizes"]

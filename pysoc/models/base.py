"""The one contract every soil-carbon kernel implements (docs/adding_a_model.md).

A model is a small object holding its options (from the namelist group named after the
model). What the rest of pysoc may rely on, and nothing else:

**Declared by the class** (data, in the style of CTSM's decomposition cascade tables):

- ``name``, ``long_name``, ``references`` — identity; ``name`` is the registry and
  namelist name.
- ``pools``, ``pool_long_names`` — the pool table; ``soc_pools`` (summed into SOC) and
  ``litter_pools`` (litter and debris) name subsets of it, and :attr:`soc_index` /
  :attr:`litter_index` are derived from them (never hard-coded positions).
- ``parameters`` (:class:`~pysoc.params.ParameterTable`: units, defaults, priors, physical
  domain, constraints that involve several parameters), ``forcing_schema``
  (:class:`~pysoc.forcing.ForcingSchema`, units of every forcing variable; files in other
  units are converted on load or refused; ``temperature_variable`` names the temperature
  forcing and :attr:`temperature_units` its unit, ``K`` or ``degC``), ``options_group``
  (namelist group ``&<name>``).
- ``observables`` — the outputs :meth:`evaluate` can return, each with the one meaning and
  unit of :data:`OUTPUTS`.

**Set by the instance** (the vertical grid of a layered model; a bulk model has one
layer): ``nlev`` (layers), ``dz`` (m), ``zisoi`` (layer bottoms, m), ``zsoi`` (node
depths, m), ``bounds`` ((nlev, 2) layer top and bottom, m); :meth:`set_grid` sets them all.

**Methods every kernel implements**: ``load_forcing(path)``, ``steady_state(forcing,
params)`` and ``transient(forcing, params, ...)`` (labelled :class:`xarray.Dataset`), and
``evaluate(forcing, theta, observables, site_index=None)`` -> :class:`BatchResult`: many
parameter vectors (rows of ``theta``, physical values) in one kernel call, each with the
forcing of site ``site_index[i]`` when ``forcing`` is a list of sites (or the ``prepare``
result of one). ``prepare`` converts forcing once into kernel arrays (optional). Every
steady state and transient dataset carries ``mass_balance_residual`` with the one meaning
of :data:`MASS_BALANCE_RESIDUAL` (input - change in carbon - losses, g C m-2 yr-1).

**Optional capabilities** (:data:`CAPABILITIES`; a model declares one by implementing the
method, :meth:`provides` / :attr:`capabilities` report them, :func:`pysoc.models.models_with`
finds the registry models having them; the signatures are documented on the placeholder
methods below): ``site_forcing(profile, **options)`` — forcing dataset from a profile's
covariates (calibration without land-model output, PRODA); ``cell_forcing(climate)`` —
prepared forcing of grid cells from a :class:`pysoc.io.site_forcing.CellClimate` (PRODA
maps); ``ctsm_forcing(history, levels, litter_variables, nbedrock)`` — forcing of many
columns from CTSM history output (:mod:`pysoc.io.ctsm` reads it, the model maps it onto its
forcing variables; ``pysoc-run``); ``system_components(prep, theta, pools, site_index)`` — the system-level components
of seed 001 eq. 10-14 (:mod:`pysoc.models.components`);
``decomposition_scalars(soil_temperature_k, water_scalar, params)`` — the kernel's
temperature and moisture functions (Rh upscaling). Code outside ``pysoc/models`` asks the
model, never its name (tests/test_structure.py).

Parameters are physical values everywhere in this interface; ``kp`` (normalised) values
only appear in the calibration engine, through :meth:`to_physical`.
"""

from __future__ import annotations

import functools
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import numpy as np
import xarray as xr

from pysoc import _status
from pysoc.errors import ConfigError, DataError, InputTypeError, KernelError, PysocError
from pysoc.forcing import ForcingSchema, write_netcdf_atomic
from pysoc.io import netcdf
from pysoc.io.namelist import Group
from pysoc.params import ParameterTable
from pysoc.profiles import interval_integrals, interval_labels, stock_intervals


@dataclass
class BatchResult:
    """Result of one batched evaluation (one row per parameter vector).

    Attributes
    ----------
    status : numpy.ndarray
        (nset,) kernel status codes (0 = ok), see ``pysoc._status``.
    outputs : dict of str to numpy.ndarray
        Named arrays with the row as first axis; the names, dimensions and units of
        :data:`OUTPUTS` (e.g. 'soc_profile' (nset, nlev) g C m-3, 'soc_0_30' (nset,) kg C m-2,
        'pools' (nset, npool, nlev) g C m-3, 'rh' (nset,) g C m-2 yr-1).
    depth_bounds : numpy.ndarray or None
        (nlev, 2) layer top and bottom (m) of the profile outputs.
    reason : numpy.ndarray or None
        (nset,) model-specific reason codes qualifying status ERR_INVALID.
    reason_names : mapping of int to str
        Names of the reason codes.

    Examples
    --------
    >>> import numpy as np
    >>> r = BatchResult(np.array([0, 5]), {"rh": np.array([1.0, np.nan])}, reason=np.array([0, 2]),
    ...                 reason_names={2: "negative_pool"})
    >>> len(r), r.ok.tolist(), r.describe(0)
    (2, [True, False], 'ok (success)')
    """

    status: np.ndarray
    outputs: dict[str, np.ndarray]
    depth_bounds: np.ndarray | None = None
    reason: np.ndarray | None = None
    reason_names: Mapping[int, str] = field(default_factory=dict)

    @property
    def ok(self) -> np.ndarray:
        """(nset,) True where the status is ok."""
        return self.status == _status.OK

    def __len__(self) -> int:
        return int(self.status.shape[0])

    def describe(self, i: int) -> str:
        """One line on the status of row ``i`` (with the model's reason for ERR_INVALID)."""
        code = int(self.status[i])
        text = f"{_status.name(code)} ({_status.message(code)})"
        if self.reason is not None and code == _status.ERR_INVALID:
            text += f": {self.reason_names.get(int(self.reason[i]), str(int(self.reason[i])))}"
        return text


@dataclass(frozen=True)
class OutputSpec:
    """Meaning of a :class:`BatchResult` output.

    Attributes
    ----------
    dims : tuple of str
        Dimensions after the row (parameter set) dimension.
    units : str
        Canonical (UDUNITS) units.
    long_name : str
        Description.

    Examples
    --------
    >>> OUTPUTS["soc_profile"].dims, OUTPUTS["soc_profile"].units
    (('level',), 'g m-3')
    """

    dims: tuple
    units: str
    long_name: str


#: the outputs of :meth:`SoilCarbonModel.evaluate`, one meaning and unit each; a model's
#: ``observables`` are names of this table (the conformance suite checks it)
OUTPUTS: dict[str, OutputSpec] = {
    "soc_profile": OutputSpec(("level",), netcdf.CONCENTRATION, "SOC of each layer (sum of the soc_pools)"),
    "soc_0_30": OutputSpec((), "kg m-2", "SOC stock 0-30 cm"),
    "pools": OutputSpec(("pool", "level"), netcdf.CONCENTRATION, "carbon of each pool and layer"),
    "rh": OutputSpec((), netcdf.FLUX, "heterotrophic respiration of the column (steady state)"),
    "input": OutputSpec((), netcdf.FLUX, "carbon input to the column (steady state)"),
    "d14c_profile": OutputSpec(("level",), netcdf.DELTA14C, "Delta14C of the SOC of each layer"),
    "km_ratio": OutputSpec(("process", "level"), netcdf.FRACTION,
                           "Michaelis-Menten constant over substrate of each process (e.g. uptake, depolymerisation)"),
    "nep_monthly": OutputSpec(("time",), netcdf.STOCK, "net ecosystem production during each month"),
    "npp_monthly": OutputSpec(("time",), netcdf.STOCK, "net primary production during each month"),
    "gpp_monthly": OutputSpec(("time",), netcdf.STOCK, "gross primary production during each month"),
    "rh_monthly": OutputSpec(("time",), netcdf.STOCK, "heterotrophic respiration during each month"),
}

#: the one meaning and unit of the ``mass_balance_residual`` of every steady state and transient
#: dataset: input - change in carbon - respiration (- other losses, e.g. leaching), as a rate in
#: g C m-2 yr-1. A steady state's is input - respiration (no change); a transient step's is the
#: budget of the step divided by its length (a mean over the step, cell_methods 'time: mean').
MASS_BALANCE_RESIDUAL = OutputSpec((), netcdf.FLUX, "input - change in carbon stock - respiration (and other "
                                   "losses), as a rate")

#: optional capabilities a model may declare by implementing the method of that name
CAPABILITIES = ("site_forcing", "cell_forcing", "ctsm_forcing", "system_components", "decomposition_scalars")


def mass_balance_residual(inputs, change, losses, step_years=None) -> tuple[np.ndarray, dict]:
    """Values and attributes of ``mass_balance_residual`` (:data:`MASS_BALANCE_RESIDUAL`).

    Parameters
    ----------
    inputs, change, losses : array_like
        Carbon input, change in carbon stock and losses (respiration, leaching): rates in
        g C m-2 yr-1 at steady state (``change`` 0), amounts in g C m-2 during each step of a
        transient.
    step_years : array_like, optional
        Length of each step in years (365-day years); None for a steady state.

    Returns
    -------
    values : numpy.ndarray
        ``inputs - change - losses`` in g C m-2 yr-1.
    attrs : dict
        ``units``, ``long_name`` (and ``cell_methods`` for a transient).

    Examples
    --------
    >>> v, a = mass_balance_residual([31.0], [1.0], [29.0], step_years=[31 / 365])
    >>> round(float(v[0]), 6), a["units"], a["cell_methods"]
    (11.774194, 'g m-2 yr-1', 'time: mean')
    >>> mass_balance_residual(500.0, 0.0, 500.0)[0]
    0.0
    """
    spec = MASS_BALANCE_RESIDUAL
    v = np.asarray(inputs, float) - np.asarray(change, float) - np.asarray(losses, float)
    attrs = {"units": spec.units, "long_name": spec.long_name}
    if step_years is None:
        return (float(v) if v.ndim == 0 else v), {**attrs, "long_name": "input - respiration (and other losses) "
                                                  "at steady state"}
    return v / np.asarray(step_years, float), {**attrs, "cell_methods": "time: mean"}


def nan_failed_rows(result: BatchResult, keep: tuple = (), keep_invalid: bool = False) -> BatchResult:
    """Set the float outputs of the rows whose status is not ok to NaN (in place; the ok rows
    are untouched, bitwise). Outputs named in ``keep`` (solver diagnostics) keep their values;
    with ``keep_invalid`` so do rows of status invalid_solution (a computed solution flagged by
    a model-specific reason, e.g. COMPAS's reference regression of flagged solutions).

    Parameters
    ----------
    result : BatchResult
        A batched evaluation.
    keep : tuple of str
        Outputs left as they are.
    keep_invalid : bool
        Leave the rows of status ERR_INVALID as they are.

    Returns
    -------
    BatchResult
        ``result``.
    """
    status = np.asarray(result.status)
    if not status.any():                               # every row ok (status 0): nothing to do, fast
        return result
    bad = (status != _status.OK) & (status != _status.ERR_INVALID) if keep_invalid else status != _status.OK
    rows = np.flatnonzero(bad)
    if not rows.size:
        return result
    n = status.shape[0]
    for name, value in list(result.outputs.items()):
        a = value if isinstance(value, np.ndarray) else np.asarray(value)
        if name in keep or a.dtype.kind != "f" or a.ndim == 0 or a.shape[0] != n:
            continue
        if not a.flags.writeable:
            a = a.copy()
        a[rows] = np.nan
        result.outputs[name] = a
    return result


def _capability_stub(method):
    """Mark the base-class placeholder of an optional capability: it raises ConfigError and
    :meth:`SoilCarbonModel.provides` reports the capability as absent until overridden."""
    @functools.wraps(method)
    def stub(self, *args, **kw):
        self.require(method.__name__)
    stub._pysoc_capability_stub = True
    return stub


def _single_run(method):
    """Wrap ``steady_state``/``transient``: the forcing may be a dataset or a path
    (:meth:`SoilCarbonModel.as_forcing`); when the run fails, a forcing that does not pass the
    model's validation is named instead of the kernel status (e.g. the variable with a NaN)."""
    @functools.wraps(method)
    def run(self, forcing=None, *args, **kw):
        forcing = self.as_forcing(forcing, method.__name__)
        try:
            return method(self, forcing, *args, **kw)
        except (KernelError, DataError) as exc:
            problem = self.forcing_problem(forcing)
            if problem is not None and str(problem) != str(exc):
                raise problem from None
            raise
    run._pysoc_wrapped = True
    return run


def _batched(method):
    """Wrap ``evaluate``: forcing types checked (:meth:`SoilCarbonModel.as_forcing`), and the
    outputs of failed rows set to NaN (:func:`nan_failed_rows`)."""
    @functools.wraps(method)
    def evaluate(self, forcing=None, theta=None, *args, **kw):
        if not isinstance(forcing, dict):
            forcing = ([self.as_forcing(f, "evaluate") for f in forcing] if isinstance(forcing, (list, tuple))
                       else self.as_forcing(forcing, "evaluate"))
        return nan_failed_rows(method(self, forcing, theta, *args, **kw), self.diagnostic_outputs,
                               self.invalid_solutions_kept)
    evaluate._pysoc_wrapped = True
    return evaluate


class SoilCarbonModel(ABC):
    """Base class of the kernels (the contract of the module docstring).

    Subclasses declare the class attributes (pools, parameters, forcing schema, options
    group, observables), set the grid in ``__init__`` (:meth:`set_grid`) and implement
    ``load_forcing``, ``steady_state``, ``transient`` and ``evaluate``; optional
    capabilities are methods they override (:data:`CAPABILITIES`). Every subclass's
    ``steady_state`` and ``transient`` accept a forcing dataset or the path of a forcing
    file and name an invalid forcing variable when a run fails; its ``evaluate`` returns NaN
    outputs in the rows whose status is not ok (except the solver diagnostics listed in
    ``diagnostic_outputs``, and the flagged solutions of status invalid_solution when
    ``invalid_solutions_kept``).

    Parameters
    ----------
    **options
        Keys of the namelist group ``&<name>`` (:attr:`options_group`); the others take
        their defaults.

    Raises
    ------
    ConfigError
        An unknown option or a value out of its range.

    Examples
    --------
    >>> from pysoc.io.namelist import PKGDATA
    >>> from pysoc.models import get_model
    >>> m = get_model("clm5")
    >>> f = m.load_forcing(PKGDATA / "forcing" / "clm5_synthetic_site1.nc")
    >>> ss = m.steady_state(f, m.to_physical([0.5] * len(m.parameters)))
    >>> int(ss.status), ss["mass_balance_residual"].attrs["units"]
    (0, 'g m-2 yr-1')
    >>> get_model("clm5", grid="clm45_10").nlev
    10
    """

    name: ClassVar[str]
    long_name: ClassVar[str]
    pools: ClassVar[tuple[str, ...]]
    pool_long_names: ClassVar[tuple[str, ...]]
    soc_pools: ClassVar[tuple[str, ...]]       #: pools summed into SOC
    litter_pools: ClassVar[tuple[str, ...]] = ()   #: litter and debris pools (column litter stock)
    #: forcing variable holding the (soil, else air) temperature, if any (units: :attr:`temperature_units`)
    temperature_variable: ClassVar[str | None] = None

    # ---- the vertical grid, set by every instance (a bulk model has one layer) -------------
    nlev: int                 #: number of layers
    dz: np.ndarray            #: (nlev,) layer thickness, m
    zisoi: np.ndarray         #: (nlev,) depth of the bottom of each layer, m
    zsoi: np.ndarray          #: (nlev,) node depth of each layer, m
    bounds: np.ndarray        #: (nlev, 2) top and bottom of each layer, m
    parameters: ClassVar[ParameterTable]
    forcing_schema: ClassVar[ForcingSchema]
    options_group: ClassVar[Group]             #: namelist group &<name>: model options
    observables: ClassVar[tuple[str, ...]] = ("soc_profile",)
    references: ClassVar[str] = ""             #: literature of the model (global attribute of outputs)
    diagnostic_outputs: ClassVar[tuple[str, ...]] = ()   #: outputs of evaluate kept in failed rows
    #: rows of status invalid_solution keep their (flagged) values in evaluate instead of NaN
    invalid_solutions_kept: ClassVar[bool] = False

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        for name, wrap in (("steady_state", _single_run), ("transient", _single_run), ("evaluate", _batched)):
            f = cls.__dict__.get(name)
            if f is not None and not getattr(f, "__isabstractmethod__", False) and \
                    not getattr(f, "_pysoc_wrapped", False):
                setattr(cls, name, wrap(f))

    def __init__(self, **options: Any):
        self.options = _check_options(self.options_group, options, self.name)

    # ---- the contract derived from the declarations --------------------------------------
    def set_grid(self, dz, zisoi=None, zsoi=None) -> None:
        """Set the vertical grid attributes (``nlev``, ``dz``, ``zisoi``, ``zsoi``, ``bounds``)
        from the layer thicknesses; ``zisoi`` defaults to their cumulative sum and ``zsoi``
        to the layer midpoints.

        Parameters
        ----------
        dz : array_like
            (nlev,) layer thicknesses, m.
        zisoi, zsoi : array_like, optional
            (nlev,) layer bottoms and node depths, m.

        Examples
        --------
        >>> from pysoc.models import get_model
        >>> m = get_model("century")
        >>> m.set_grid([0.25, 0.5])
        >>> m.nlev, m.zsoi.tolist(), m.bounds.tolist()
        (2, [0.125, 0.5], [[0.0, 0.25], [0.25, 0.75]])
        """
        self.dz = np.asarray(dz, dtype=float).reshape(-1)
        self.nlev = int(self.dz.size)
        self.zisoi = np.cumsum(self.dz) if zisoi is None else np.asarray(zisoi, dtype=float)
        self.zsoi = self.zisoi - 0.5 * self.dz if zsoi is None else np.asarray(zsoi, dtype=float)
        self.bounds = np.stack([np.concatenate([[0.0], self.zisoi[:-1]]), self.zisoi], axis=1)

    @classmethod
    def pool_selector(cls, names) -> slice | np.ndarray:
        """Positions of the named pools in :attr:`pools`: a slice when they are consecutive
        (a view, and the sums over it are bitwise those over an explicit range), else an
        integer array.

        Parameters
        ----------
        names : sequence of str
            Pool names (each in :attr:`pools`).

        Returns
        -------
        slice or numpy.ndarray
            Index along the pool axis.

        Raises
        ------
        ConfigError
            A name that is not a pool of the model.

        Examples
        --------
        >>> from pysoc.models import model_class
        >>> model_class("clm5").pool_selector(("S1", "S2", "S3"))
        slice(4, 7, None)
        """
        pos = []
        for n in names:
            if n not in cls.pools:
                raise ConfigError(f"{cls.name}: {n!r} is not a pool (pools: {', '.join(cls.pools)})")
            pos.append(cls.pools.index(n))
        if pos and pos == list(range(pos[0], pos[0] + len(pos))):
            return slice(pos[0], pos[0] + len(pos))
        return np.asarray(pos, dtype=int)

    @property
    def soc_index(self) -> slice | np.ndarray:
        """Index of the :attr:`soc_pools` along the pool axis (see :meth:`pool_selector`).

        Examples
        --------
        >>> from pysoc.models import get_model
        >>> get_model("compas").soc_index
        slice(4, 8, None)
        """
        return type(self).pool_selector(self.soc_pools)

    @property
    def litter_index(self) -> slice | np.ndarray:
        """Index of the :attr:`litter_pools` along the pool axis (see :meth:`pool_selector`).

        Examples
        --------
        >>> from pysoc.models import get_model
        >>> get_model("clm5").litter_index
        slice(0, 4, None)
        """
        return type(self).pool_selector(self.litter_pools)

    @classmethod
    def provides(cls, capability: str) -> bool:
        """Whether the model implements an optional capability of :data:`CAPABILITIES`.

        Parameters
        ----------
        capability : str
            A name of :data:`CAPABILITIES`.

        Returns
        -------
        bool

        Raises
        ------
        ConfigError
            ``capability`` is not one of :data:`CAPABILITIES`.

        Examples
        --------
        >>> from pysoc.models import model_class
        >>> model_class("clm5").provides("system_components"), model_class("century").provides("cell_forcing")
        (True, False)
        """
        if capability not in CAPABILITIES:
            raise ConfigError(f"unknown capability {capability!r} (known: {', '.join(CAPABILITIES)})")
        f = getattr(cls, capability, None)
        return callable(f) and not getattr(f, "_pysoc_capability_stub", False)

    @property
    def capabilities(self) -> tuple[str, ...]:
        """The optional capabilities (:data:`CAPABILITIES`) this model implements.

        Examples
        --------
        >>> from pysoc.models import get_model
        >>> get_model("mimics").capabilities
        ('site_forcing',)
        """
        return tuple(c for c in CAPABILITIES if type(self).provides(c))

    @property
    def temperature_units(self) -> str | None:
        """Units of the temperature forcing (:attr:`temperature_variable`): ``K`` or ``degC``
        (None if the forcing has no temperature). Files in the other unit are converted on load.

        Examples
        --------
        >>> from pysoc.models import get_model
        >>> get_model("clm5").temperature_units, get_model("mimics").temperature_units
        ('K', 'degC')
        """
        v = self.temperature_variable
        return None if v is None else self.forcing_schema.variables[v].units

    def require(self, capability: str, purpose: str = "") -> None:
        """ConfigError (one line naming the model and the capability) unless the model
        provides ``capability``.

        Parameters
        ----------
        capability : str
            A name of :data:`CAPABILITIES`.
        purpose : str
            What needs it, for the message.

        Raises
        ------
        ConfigError
            The model does not implement it.

        Examples
        --------
        >>> from pysoc.models import get_model
        >>> get_model("century").require("site_forcing", "calibration")
        Traceback (most recent call last):
        pysoc.errors.ConfigError: model 'century' does not provide site_forcing (needed for calibration)
        """
        if not type(self).provides(capability):
            raise ConfigError(f"model {self.name!r} does not provide {capability}"
                              + (f" (needed for {purpose})" if purpose else ""))

    # ---- optional capabilities: a model declares one by overriding the method -------------
    @_capability_stub
    def site_forcing(self, profile, **options) -> xr.Dataset:
        """Validated forcing dataset of one soil profile from its covariates (capability).

        Parameters
        ----------
        profile : pysoc.io.profiles.Profile
            A profile with ``site_id``, ``lat``, ``lon``, ``covariates``, ``meta``, ``max_depth``.
        **options
            Builder options; every builder accepts ``npp`` = 'miami' (default) or 'gpp'
            (see :func:`pysoc.io.site_forcing.site_climate`).

        Returns
        -------
        xarray.Dataset
            A forcing that :meth:`validate_forcing` accepts.

        Raises
        ------
        DataError
            A covariate the builder needs is missing (one line naming it).
        """

    @_capability_stub
    def cell_forcing(self, climate) -> Any:
        """Prepared forcing (as :meth:`prepare` returns for a list of sites, site ``i`` = cell
        ``i``) of grid cells from their climate (capability).

        Parameters
        ----------
        climate : pysoc.io.site_forcing.CellClimate
            Per-cell MAT, MAP, BIO4, IGBP class and latitude (cells with invalid climate are
            refused by the caller before).

        Returns
        -------
        prepared forcing
            Passed to :meth:`evaluate` with ``site_index``.
        """

    @_capability_stub
    def ctsm_forcing(self, history, levels: str = "match", litter_variables=None, nbedrock: int = 0) -> xr.Dataset:
        """Forcing of many columns from CTSM history output (capability).

        The generic reading (files, time axis, fill values, levels, units) is
        :mod:`pysoc.io.ctsm`; the model maps the CTSM variables onto its forcing variables.

        Parameters
        ----------
        history : str or path or pysoc.io.ctsm.History
            A history file, a glob of monthly files, or an opened history
            (:func:`pysoc.io.ctsm.read_history`).
        levels : {'match', 'interpolate'}
            Vertical rule (``&ctsm levels``).
        litter_variables : sequence of str, optional
            CTSM variables of the litter inputs, one per litter pool (``&ctsm
            litter_variables``; None or empty: the model's default).
        nbedrock : int
            Layers above bedrock when the file has no ``nbedrock`` (0: read it).

        Returns
        -------
        xarray.Dataset
            Forcing with the history's spatial dimensions (``column`` or ``lat``/``lon``) that
            :meth:`validate_columns` checks; attribute ``ctsm_start_year``.

        Raises
        ------
        ConfigError
            Bad ``levels`` or litter variables.
        DataError
            A missing CTSM variable (named), bad units, levels that do not match.
        """

    @_capability_stub
    def system_components(self, prep, theta: np.ndarray, pools: np.ndarray, site_index: np.ndarray) -> dict:
        """System-level components of seed 001 eq. 10-14 of steady states (capability).

        Parameters
        ----------
        prep : prepared forcing
            As :meth:`prepare` or :meth:`cell_forcing` returns.
        theta : numpy.ndarray
            (n, npar) physical parameter values.
        pools : numpy.ndarray
            (n, npool, nlev) steady-state pools (g C m-3) the kernel returned for ``theta``.
        site_index : numpy.ndarray
            (n,) 0-based site of each row.

        Returns
        -------
        dict
            Name -> (n,) array for every name of
            :data:`pysoc.models.components.COMPONENTS` (plus ``total_flux`` and
            ``respiration_from_components``).
        """

    @_capability_stub
    def decomposition_scalars(self, soil_temperature_k, water_scalar, params=None):
        """Temperature and water scalars of the decomposition rates, elementwise (capability).

        Parameters
        ----------
        soil_temperature_k : array_like
            Soil temperature in K (whatever :attr:`temperature_units` of the forcing).
        water_scalar : array_like
            Water scalar (0-1), broadcast against the temperature.
        params : mapping, optional
            Overrides of the default parameters by name.

        Returns
        -------
        xi_t, xi_w : numpy.ndarray
        """

    # ---- inputs of single runs ------------------------------------------------------------
    def as_forcing(self, forcing, what: str = "steady_state") -> xr.Dataset:
        """The forcing of a run: a dataset (checked for empty dimensions) or the path of a
        forcing file (read and validated with :meth:`load_forcing`).

        Parameters
        ----------
        forcing : xarray.Dataset or str or os.PathLike
            The forcing.
        what : str
            The method, for the messages.

        Returns
        -------
        xarray.Dataset
            The forcing dataset.

        Raises
        ------
        InputTypeError
            Neither a dataset nor a path (also a TypeError).
        DataError
            A forcing variable with an empty dimension, or a file that cannot be read.
        """
        if isinstance(forcing, (str, os.PathLike)):
            return self.load_forcing(forcing)
        if not isinstance(forcing, xr.Dataset):
            raise InputTypeError(f"{self.name}.{what}: forcing must be an xarray.Dataset (from load_forcing or "
                                 f"forcing_dataset) or the path of a forcing file, got "
                                 f"{'None' if forcing is None else type(forcing).__name__}")
        src = forcing.attrs.get("source_file", "<in-memory forcing>")
        for spec in self.forcing_schema:
            if spec.name in forcing.variables:
                for d in forcing[spec.name].dims:
                    if forcing.sizes[d] == 0:
                        raise DataError(f"{src}: variable '{spec.name}': dimension '{d}' has length 0" +
                                        (" (no time steps)" if d == "time" else ""))
        return forcing

    def forcing_problem(self, forcing) -> DataError | None:
        """Why a forcing dataset does not pass the model's validation (None when it does):
        used to name the variable at fault when a kernel reports a bad forcing."""
        validate = getattr(self, "validate_forcing", None)
        if validate is None or not isinstance(forcing, xr.Dataset):
            return None
        try:
            validate(forcing, source=str(forcing.attrs.get("source_file", "<in-memory forcing>")))
        except DataError as exc:
            return exc
        except PysocError:
            return None
        return None

    # ---- what every kernel provides ------------------------------------------------
    @abstractmethod
    def load_forcing(self, path) -> xr.Dataset:
        """Read and validate a forcing file of the model's :attr:`forcing_schema`.

        Parameters
        ----------
        path : str or os.PathLike
            NetCDF forcing file (variables in other units are converted or refused).

        Returns
        -------
        xarray.Dataset
            The validated forcing (``attrs['source_file']`` = ``path``).

        Raises
        ------
        DataError
            One line naming the file and the variable at fault.
        """

    @abstractmethod
    def steady_state(self, forcing: xr.Dataset, params=None, *, errors: str = "raise") -> xr.Dataset:
        """Steady state for one parameter vector.

        Parameters
        ----------
        forcing : xarray.Dataset or path
            The forcing (a path is read with :meth:`load_forcing`).
        params : array_like or mapping, optional
            Physical parameter vector, or overrides of the default set by name.
        errors : {'raise', 'ignore'}
            Raise KernelError for a status that is not ok, or return the dataset with it.

        Returns
        -------
        xarray.Dataset
            Labelled state (``cpools``, ``soc``, stocks, ``input``, ``rh``,
            ``mass_balance_residual`` (:data:`MASS_BALANCE_RESIDUAL`), ``status``), CF metadata.

        Raises
        ------
        KernelError
            The kernel failed (``errors='raise'``); a bad forcing variable is named instead.
        """

    @abstractmethod
    def transient(self, forcing: xr.Dataset, params=None, *, errors: str = "raise", **kw) -> xr.Dataset:
        """Time integration for one parameter vector.

        Parameters
        ----------
        forcing : xarray.Dataset or path
            The forcing.
        params : array_like or mapping, optional
            Physical parameter vector, or overrides of the default set by name.
        errors : {'raise', 'ignore'}
            As :meth:`steady_state`.
        **kw
            Model options of the run (e.g. ``n_years``, ``initial``).

        Returns
        -------
        xarray.Dataset
            Labelled states along CF ``time`` with the column budget
            (``mass_balance_residual``: :data:`MASS_BALANCE_RESIDUAL`).
        """

    @abstractmethod
    def evaluate(self, forcing, theta: np.ndarray, observables=("soc_profile",), site_index=None) -> BatchResult:
        """Batched evaluation of many parameter vectors in one kernel call.

        Parameters
        ----------
        forcing : xarray.Dataset or list of xarray.Dataset or prepared forcing
            One site, several sites, or the result of :meth:`prepare` of either.
        theta : array_like
            (nset, npar) physical parameter values (one row per evaluation).
        observables : tuple of str
            Outputs wanted (names of :data:`OUTPUTS`); a model may return more.
        site_index : array_like of int, optional
            (nset,) 0-based site of each row when ``forcing`` holds several sites
            (default: every row on site 0).

        Returns
        -------
        BatchResult
            Status per row and the outputs, NaN in rows whose status is not ok.
        """

    # ---- shared helpers ----------------------------------------------------------------
    def write_forcing(self, ds: xr.Dataset, path) -> None:
        """Write a forcing dataset to ``path`` atomically (:mod:`pysoc.io.atomic`)."""
        write_netcdf_atomic(ds, path)

    def prepare(self, forcing: xr.Dataset) -> Any:
        """Convert validated forcing once into the arrays the kernel takes (override for
        speed; the result is passed back to :meth:`evaluate`).

        Parameters
        ----------
        forcing : xarray.Dataset or list of xarray.Dataset
            One site or several (site ``i`` is ``site_index`` i of :meth:`evaluate`).

        Returns
        -------
        prepared forcing
            Opaque to callers; this generic version returns ``forcing``.
        """
        return forcing

    def to_physical(self, kp) -> np.ndarray:
        """Normalised calibration coordinates -> physical values. The calibration engine
        always maps through this method, so a model can override it (e.g. COMPAS's legacy kp
        aliasing) without the engine knowing.

        Parameters
        ----------
        kp : array_like
            (..., npar) values in [0, 1] (0 = prior minimum, 1 = prior maximum).

        Returns
        -------
        numpy.ndarray
            (..., npar) physical values.

        Examples
        --------
        >>> from pysoc.models import get_model
        >>> m = get_model("clm5")
        >>> float(m.to_physical([0.5] * 21)[m.parameters.index("q10")])
        2.1
        """
        return self.parameters.to_physical(kp)

    def param_vector(self, params=None, parameter_set: str | None = None, source: str = "",
                     warn_prior: bool = True) -> np.ndarray:
        """Physical parameter vector, checked against the physical domain.

        Parameters
        ----------
        params : array_like or mapping, optional
            A full vector, or overrides by name of the set ``parameter_set`` (None: the set).
        parameter_set : str, optional
            A named set of the table (default: the model's default set).
        source : str
            Where the values come from, for the messages.
        warn_prior : bool
            Warn (OutsidePriorWarning) about values outside the calibration prior.

        Returns
        -------
        numpy.ndarray
            (npar,) physical values.

        Raises
        ------
        ParameterError
            An unknown name, a value outside the physical domain or a broken constraint.

        Examples
        --------
        >>> from pysoc.models import get_model
        >>> m = get_model("compas")
        >>> float(m.param_vector({"q10": 2.0}, warn_prior=False)[2])
        2.0
        """
        if params is None or isinstance(params, Mapping):
            v = self.parameters.vector(parameter_set, overrides=params)
        else:
            v = np.asarray(params, dtype=float)
        return self.parameters.check(v, source=source, warn_prior=warn_prior)

    def raise_for_status(self, result: BatchResult, context: str = "") -> None:
        """KernelError (one line, the status of the first failed row) unless every row is ok.

        Parameters
        ----------
        result : BatchResult
            A batched evaluation.
        context : str
            Prefix of the message (e.g. the forcing file).

        Raises
        ------
        KernelError
            Some row's status is not ok (``code`` = that status).
        """
        bad = np.flatnonzero(~result.ok)
        if bad.size:
            i = int(bad[0])
            raise KernelError(f"{context + ': ' if context else ''}{self.name} kernel failed: "
                              f"{result.describe(i)}", code=int(result.status[i]))

    # ---- labelled output shared by the kernels ---------------------------------------------
    def attach_params(self, ds: xr.Dataset, theta: np.ndarray) -> xr.Dataset:
        """Model name, options, the references of the model and the full parameter set
        (``param_<name>``, units in ``parameter_units``) as global attributes; canonical units
        and CF standard names on every variable (:func:`pysoc.io.netcdf.canonicalize`)."""
        ds.attrs["model"] = self.name
        ds.attrs["model_long_name"] = self.long_name
        if self.references:
            ds.attrs["references"] = self.references
        for k, v in self.options.items():
            ds.attrs[f"option_{k}"] = (int(v) if isinstance(v, bool) else
                                       (np.asarray(v, float) if isinstance(v, list) else v))
        for spec, v in zip(self.parameters, np.ravel(theta)):
            ds.attrs[f"param_{spec.name}"] = float(v)
        ds.attrs["parameter_units"] = "; ".join(f"{s.name}: {s.units}" for s in self.parameters)
        return netcdf.canonicalize(ds)

    @staticmethod
    def time_coords(step_days, start_year: int = 1, offset_days: float = 0.0) -> dict:
        """CF time coordinates (``time`` "days since", calendar noleap, ``time_bnds``, and
        ``month`` for calendar months) of consecutive steps of ``step_days`` days; see
        :func:`pysoc.io.netcdf.time_coords`."""
        return netcdf.time_coords(step_days, start_year=start_year, offset_days=offset_days)

    def layered_dataset(self, pools: np.ndarray, soc_pools: list[int], soc_long_name: str,
                        litter_pools: list[int], litter_long_name: str, time_coords: dict | None = None,
                        cpools_long_name: str = "carbon concentration per pool and layer",
                        lead_dims: tuple[str, ...] = ()) -> xr.Dataset:
        """Labelled state of a layered kernel (attributes dz, zsoi, bounds, nlev): ``cpools``
        (..., pool, level) g m-3, ``soc`` (..., level), ``soc_stock`` and ``pool_stock`` per depth
        interval (0-30, 0-100, 0-200 cm, whole column) g m-2 and the column ``litter_stock``.
        ``time_coords`` (name -> (values, attrs) or (dims, values, attrs), e.g. from
        :meth:`time_coords`) adds a ``time`` dimension after the ``lead_dims`` (e.g. ``column``)."""
        tdim = () if time_coords is None else ("time",)
        dims = tuple(lead_dims) + tdim + ("pool", "level")
        coords = {
            "pool": ("pool", list(self.pools), {"long_name": "carbon pool"}),
            "level": ("level", np.arange(1, self.nlev + 1, dtype=np.int32), {"long_name": "soil layer index",
                                                                           "units": "1"}),
            "depth": ("level", self.zsoi, {"units": "m", "positive": "down", "standard_name": "depth",
                                           "long_name": "layer node depth", "bounds": "depth_bnds"}),
            "depth_bnds": (("level", "nv"), self.bounds, {"units": "m", "long_name": "layer top and bottom"}),
            "pool_long_name": ("pool", list(self.pool_long_names), {"long_name": "description of the pool"}),
        }
        for name, entry in (time_coords or {}).items():
            coords[name] = entry if len(entry) == 3 else ("time",) + tuple(entry)
        intervals = stock_intervals(self.bounds)
        labels = interval_labels(intervals)
        labels[-1] = "whole column"
        coords["depth_interval"] = ("depth_interval", labels, {"long_name": "depth interval from the surface"})
        coords["depth_interval_bnds"] = (("depth_interval", "nv"), intervals, {
            "units": "m", "long_name": "top and bottom of the depth interval"})
        ds = xr.Dataset(coords=coords)
        u = netcdf
        nl = len(lead_dims)
        ds["cpools"] = (dims, pools, {"units": u.CONCENTRATION, "long_name": cpools_long_name})
        soc = pools[..., soc_pools, :].sum(axis=-2)
        ds["soc"] = (dims[:-2] + ("level",), soc, {"units": u.CONCENTRATION, "long_name": soc_long_name})
        ds["soc_stock"] = (dims[:-2] + ("depth_interval",), _rowwise(
            lambda a: interval_integrals(a, self.bounds, intervals), soc, nl), {
            "units": u.STOCK, "long_name": f"{soc_long_name}: stock per depth interval"})
        ds["pool_stock"] = (dims[:-1] + ("depth_interval",), _rowwise(
            lambda a: interval_integrals(a, self.bounds, intervals), pools, nl), {
            "units": u.STOCK, "long_name": "carbon stock per pool and depth interval"})
        ds["litter_stock"] = (dims[:-2], _rowwise(
            lambda a: (a[..., litter_pools, :] * self.dz).sum(axis=(-2, -1)), pools, nl), {
            "units": u.STOCK, "long_name": litter_long_name})
        return ds

    def add_column_budget(self, ds: xr.Dataset, pools: np.ndarray, x0: np.ndarray, inputs: np.ndarray,
                          rh: np.ndarray, steady: np.ndarray | None = None) -> xr.Dataset:
        """Column carbon budget of a monthly transient run of a layered kernel: ``input``,
        ``mass_balance_residual`` (:data:`MASS_BALANCE_RESIDUAL`: input - change in column
        stock - respiration, g m-2 yr-1 over each step) and, given the steady state of the mean
        forcing, ``storage_potential``. pools (time, pool, level) and x0 (pool, level) in g m-3;
        inputs and rh (time,) g m-2 during each step; the step lengths from ``ds['time_bnds']``
        (days)."""
        total = (pools * self.dz).sum(axis=(1, 2))
        prev = np.concatenate([[float((x0 * self.dz).sum())], total[:-1]])
        amount = {"units": netcdf.STOCK, "cell_methods": "time: sum"}
        ds["input"] = (("time",), inputs, {**amount, "long_name": "column litter input during the step"})
        days = np.diff(np.asarray(ds["time_bnds"].values, float), axis=1)[:, 0]
        values, attrs = mass_balance_residual(inputs, total - prev, rh, days / 365.0)
        ds["mass_balance_residual"] = (("time",), values, attrs)
        if steady is not None:
            ds["storage_potential"] = (("time",), float((steady * self.dz).sum()) - total, {
                "units": netcdf.STOCK, "long_name": "storage capacity (mean-forcing steady state) minus current "
                                                    "stock, at the end of the step"})
        return ds

    # ---- many columns per run (pysoc-run) -----------------------------------------------------
    def transient_steps(self, forcing: xr.Dataset, n_years: int | None = None) -> tuple[int, int]:
        """(time steps of a transient run, steps per year). Monthly kernels repeat a 12-month
        climatology ``n_years`` times and run a longer monthly series once."""
        nt = forcing.sizes["time"]
        reps = 1 if n_years is None or nt > 12 else int(n_years)
        return nt * reps, 12

    def probe_forcing(self, forcing: xr.Dataset) -> xr.Dataset:
        """A one-year forcing for a short probe run (size and time estimates)."""
        return forcing.isel(time=slice(0, 12)) if forcing.sizes["time"] > 12 else forcing

    def validate_columns(self, ds: xr.Dataset, source: str = "<forcing>", dim: str = "column"):
        """Validate a forcing dataset with a column dimension ``dim`` column by column.

        Parameters
        ----------
        ds : xarray.Dataset
            Forcing in the model's format with an extra dimension ``dim``.
        source : str
            Name of the file (for the messages).
        dim : str
            Name of the column dimension.

        Returns
        -------
        forcing : xarray.Dataset or None
            The validated forcing of the valid columns, stacked along ``dim`` (None if none).
        index : numpy.ndarray
            Positions (in ``ds``) of the columns kept in ``forcing``.
        failures : dict
            Position -> one-line reason of every column that failed validation.

        Notes
        -----
        This generic version calls :meth:`validate_forcing` per column; kernels whose
        forcing can be checked for all columns at once override it (CLM5, COMPAS).
        """
        good, index, failures = [], [], {}
        for i in range(ds.sizes[dim]):
            sub = ds.isel({dim: i})
            try:
                good.append(self.validate_forcing(sub, source=f"{source} {dim} {i}"))
                index.append(i)
            except PysocError as exc:
                failures[i] = str(exc)
        if not good:
            return None, np.zeros(0, dtype=int), failures
        out = xr.concat(good, dim=dim, data_vars="all", coords="minimal", compat="override", join="override",
                        combine_attrs="drop_conflicts")
        return out, np.asarray(index, dtype=int), failures

    def steady_state_columns(self, forcing: xr.Dataset, params=None, dim: str = "column") -> xr.Dataset:
        """Steady states of every column of a validated column forcing (from
        :meth:`validate_columns`) for one parameter vector: the labelled dataset of
        :meth:`steady_state` with a leading dimension ``dim``. Columns whose kernel status
        is not ok keep their values and their ``status``; a column that raises becomes status
        ``failed`` with its message in ``column_message``.

        Parameters
        ----------
        forcing : xarray.Dataset
            Validated forcing with a column dimension.
        params : array_like or mapping, optional
            Physical parameter vector (default set if None).
        dim : str
            Name of the column dimension.

        Returns
        -------
        xarray.Dataset
            One steady state per column along ``dim``.

        Notes
        -----
        This generic version runs :meth:`steady_state` column by column (kernels with a
        batched steady state override it with one kernel call for all columns).
        """
        theta = self.param_vector(params, warn_prior=False)
        results = []
        for i in range(forcing.sizes[dim]):
            sub = forcing.isel({dim: i})
            sub.attrs["source_file"] = f"{forcing.attrs.get('source_file', '<forcing>')} {dim} {i}"
            try:
                results.append(self.steady_state(sub, theta, errors="ignore"))
            except PysocError as exc:
                results.append(exc)
        return stack_columns(results, dim)

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}({opts})"


def _rowwise(f, arr: np.ndarray, nlead: int) -> np.ndarray:
    """f applied to every entry of the ``nlead`` leading (column) dimensions of ``arr``
    separately, so that a column of a batch gets bitwise the one-site result."""
    if nlead == 0:
        return f(arr)
    lead = arr.shape[:nlead]
    flat = arr.reshape((-1,) + arr.shape[nlead:])
    out = np.stack([f(a) for a in flat]) if flat.shape[0] else f(flat)
    return out.reshape(lead + out.shape[1:])


def _check_options(group: Group, options: Mapping[str, Any], model: str) -> dict[str, Any]:
    out = {}
    for k, v in options.items():
        key = group.key(k)
        if key is None:
            raise ConfigError(f"{model}: unknown option {k!r} (known: {', '.join(x.name for x in group.keys)})")
        out[k] = key.check(v, f"{model} option {k}")
    for key in group.keys:
        out.setdefault(key.name, key.default)
    return out


def status_dataarray(status, dims=()) -> xr.DataArray:
    """Kernel status codes as an int32 DataArray with CF flag attributes.

    Parameters
    ----------
    status : array_like of int
        Status codes (``pysoc._status``).
    dims : tuple of str
        Dimensions of ``status``.

    Returns
    -------
    xarray.DataArray

    Examples
    --------
    >>> da = status_dataarray([0, 1], dims=("column",))
    >>> da.dtype.name, "flag_meanings" in da.attrs
    ('int32', True)
    """
    return xr.DataArray(np.asarray(status, dtype=np.int32), dims=dims, attrs=_status.cf_attrs())


#: column status codes of pysoc-run beyond the kernel codes (pysoc._status)
COLUMN_INVALID_FORCING = 8
COLUMN_NO_DATA = 9
COLUMN_FAILED = 10
COLUMN_STATUS = {**{k: v[0] for k, v in _status.STATUS.items()}, COLUMN_INVALID_FORCING: "invalid_forcing",
                 COLUMN_NO_DATA: "no_data", COLUMN_FAILED: "failed"}


def column_status_attrs() -> dict:
    """CF flag attributes of the per-column ``status`` of multi-column runs.

    Returns
    -------
    dict
        ``long_name``, ``units``, ``flag_values`` and ``flag_meanings`` (kernel codes and
        the column codes :data:`COLUMN_STATUS`).

    Examples
    --------
    >>> column_status_attrs()["flag_meanings"].split()[-1]
    'failed'
    """
    codes = sorted(COLUMN_STATUS)
    return {"long_name": "status of the column (kernel status, or why the column was not run)", "units": "1",
            "flag_values": np.array(codes, dtype=np.int32), "flag_meanings": " ".join(COLUMN_STATUS[c] for c in codes)}


def stack_columns(results: list, dim: str = "column") -> xr.Dataset:
    """Stack per-column results along a new leading dimension.

    Parameters
    ----------
    results : list of xarray.Dataset or Exception
        Datasets with the same layout, or the exception of a column that failed.
    dim : str
        Name of the new dimension.

    Returns
    -------
    xarray.Dataset
        Failed columns have NaN values, ``status`` = failed and their message in
        ``column_message``.

    Raises
    ------
    Exception
        The first exception when no column succeeded.

    Examples
    --------
    >>> import xarray as xr
    >>> ok = xr.Dataset({"soc": ((), 1.0), "status": status_dataarray(0)})
    >>> out = stack_columns([ok, ValueError("no data")])
    >>> out["status"].values.tolist(), out["column_message"].values.tolist()
    ([0, 10], ['', 'no data'])
    """
    template = next((r for r in results if isinstance(r, xr.Dataset)), None)
    if template is None:
        raise results[0]
    filled = []
    for r in results:
        if isinstance(r, xr.Dataset):
            filled.append(r)
            continue
        blank = template.copy(deep=True)
        for name, var in blank.data_vars.items():
            if var.dtype.kind == "f":
                var.values[...] = np.nan
        blank["status"] = xr.DataArray(np.int32(COLUMN_FAILED), attrs=dict(template["status"].attrs))
        filled.append(blank)
    out = xr.concat(filled, dim=dim, data_vars="all", coords="minimal", compat="override", join="override",
                    combine_attrs="override")
    msgs = ["" if isinstance(r, xr.Dataset) else str(r) for r in results]
    if any(msgs):
        out["column_message"] = ((dim,), np.array(msgs, dtype=object), {"long_name": "why the column failed"})
    if "status" in out:
        out["status"] = out["status"].astype(np.int32)
        out["status"].attrs = column_status_attrs()
    return out

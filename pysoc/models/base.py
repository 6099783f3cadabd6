"""The one interface every soil-carbon kernel implements.

A model is a small object holding its options (from the namelist group named after
the model). It knows its pools, its :class:`~pysoc.params.ParameterTable`, its
:class:`~pysoc.forcing.ForcingSchema` and how to run:

- ``steady_state(forcing, params)`` -> labelled :class:`xarray.Dataset`
- ``transient(forcing, params, ...)`` -> labelled :class:`xarray.Dataset` with ``time``
- ``evaluate(forcing, theta)`` -> :class:`BatchResult`, many parameter vectors in one
  kernel call: what the calibration engine, PRODA and the benchmarks use.

The calibration engine needs nothing else: observation operators work on
``BatchResult.outputs`` (named arrays such as ``soc_profile``), and parameters are
mapped with ``parameters.to_physical``. Parameters are physical values everywhere in
this interface; ``kp`` (normalised) values only appear in the calibration engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import numpy as np
import xarray as xr

from pysoc import _status
from pysoc.errors import ConfigError, KernelError
from pysoc.forcing import ForcingSchema, write_netcdf_atomic
from pysoc.io.namelist import Group
from pysoc.params import ParameterTable
from pysoc.profiles import interval_integrals, interval_labels, stock_intervals


@dataclass
class BatchResult:
    """Result of one batched evaluation (one row per parameter vector).

    status: (nset,) kernel status codes (0 = ok), see ``pysoc._status``.
    outputs: named arrays with the set as first axis. Standard names:
      'soc_profile' (nset, nlev) g C m-3, total SOC per layer;
      'soc_0_30' (nset,) kg C m-2; 'nep_monthly' (nset, ntime) g C m-2 month-1;
      'd14c_profile' (nset, nlev) per mil; 'pools' (nset, npool, nlev) g C m-3;
      'rh' (nset,) g C m-2 yr-1.
    depth_bounds: (nlev, 2) layer top/bottom (m) of the profile outputs.
    reason: optional (nset,) model-specific reason codes for ERR_INVALID.
    """

    status: np.ndarray
    outputs: dict[str, np.ndarray]
    depth_bounds: np.ndarray | None = None
    reason: np.ndarray | None = None
    reason_names: Mapping[int, str] = field(default_factory=dict)

    @property
    def ok(self) -> np.ndarray:
        return self.status == _status.OK

    def __len__(self) -> int:
        return int(self.status.shape[0])

    def describe(self, i: int) -> str:
        code = int(self.status[i])
        text = f"{_status.name(code)} ({_status.message(code)})"
        if self.reason is not None and code == _status.ERR_INVALID:
            text += f": {self.reason_names.get(int(self.reason[i]), str(int(self.reason[i])))}"
        return text


class SoilCarbonModel(ABC):
    """Base class of the kernels. Subclasses set the class attributes and implement
    ``load_forcing``, ``steady_state``, ``transient`` and ``evaluate``."""

    name: ClassVar[str]
    long_name: ClassVar[str]
    pools: ClassVar[tuple[str, ...]]
    pool_long_names: ClassVar[tuple[str, ...]]
    soc_pools: ClassVar[tuple[str, ...]]       #: pools summed into SOC
    parameters: ClassVar[ParameterTable]
    forcing_schema: ClassVar[ForcingSchema]
    options_group: ClassVar[Group]             #: namelist group &<name>: model options
    observables: ClassVar[tuple[str, ...]] = ("soc_profile",)

    def __init__(self, **options: Any):
        self.options = _check_options(self.options_group, options, self.name)

    # ---- what every kernel provides ------------------------------------------------
    @abstractmethod
    def load_forcing(self, path) -> xr.Dataset:
        """Read and validate a forcing file (DataError naming file and variable)."""

    @abstractmethod
    def steady_state(self, forcing: xr.Dataset, params=None, *, errors: str = "raise") -> xr.Dataset:
        """Steady state for one parameter vector (physical values; default set if None)."""

    @abstractmethod
    def transient(self, forcing: xr.Dataset, params=None, *, errors: str = "raise", **kw) -> xr.Dataset:
        """Time integration for one parameter vector."""

    @abstractmethod
    def evaluate(self, forcing, theta: np.ndarray, observables=("soc_profile",)) -> BatchResult:
        """Batched evaluation of theta (nset, npar) physical values for one site."""

    # ---- shared helpers ----------------------------------------------------------------
    def write_forcing(self, ds: xr.Dataset, path) -> None:
        """Write a forcing dataset (atomically)."""
        write_netcdf_atomic(ds, path)

    def prepare(self, forcing: xr.Dataset) -> Any:
        """Convert a validated forcing dataset once into the arrays the kernel takes
        (override for speed; the result is passed back to ``evaluate``)."""
        return forcing

    def to_physical(self, kp) -> np.ndarray:
        """Normalised calibration coordinates kp (..., npar) -> physical values. The
        calibration engine always maps through this method, so a model can override it
        (e.g. COMPAS's legacy kp aliasing) without the engine knowing."""
        return self.parameters.to_physical(kp)

    def param_vector(self, params=None, parameter_set: str | None = None, source: str = "",
                     warn_prior: bool = True) -> np.ndarray:
        """Physical parameter vector: a named set, a mapping of overrides, or a full vector."""
        if params is None or isinstance(params, Mapping):
            v = self.parameters.vector(parameter_set, overrides=params)
        else:
            v = np.asarray(params, dtype=float)
        return self.parameters.check(v, source=source, warn_prior=warn_prior)

    def raise_for_status(self, result: BatchResult, context: str = "") -> None:
        bad = np.flatnonzero(~result.ok)
        if bad.size:
            i = int(bad[0])
            raise KernelError(f"{context + ': ' if context else ''}{self.name} kernel failed: "
                              f"{result.describe(i)}", code=int(result.status[i]))

    # ---- labelled output shared by the kernels ---------------------------------------------
    def attach_params(self, ds: xr.Dataset, theta: np.ndarray) -> xr.Dataset:
        """Model name, options and the full parameter set (``param_<name>``) as global attributes."""
        ds.attrs["model"] = self.name
        ds.attrs["model_long_name"] = self.long_name
        for k, v in self.options.items():
            ds.attrs[f"option_{k}"] = (int(v) if isinstance(v, bool) else
                                       (np.asarray(v, float) if isinstance(v, list) else v))
        for spec, v in zip(self.parameters, np.ravel(theta)):
            ds.attrs[f"param_{spec.name}"] = float(v)
        ds.attrs["parameter_units"] = "; ".join(f"{s.name}: {s.units}" for s in self.parameters)
        return ds

    def layered_dataset(self, pools: np.ndarray, soc_pools: list[int], soc_long_name: str,
                        litter_pools: list[int], litter_long_name: str, time_coords: dict | None = None,
                        cpools_long_name: str = "carbon concentration per pool and layer") -> xr.Dataset:
        """Labelled state of a layered kernel (attributes dz, zsoi, bounds, nlev): ``cpools``
        (..., pool, level) g C m-3, ``soc`` (..., level), ``soc_stock`` and ``pool_stock`` per depth
        interval (0-30, 0-100, 0-200 cm, whole column) g C m-2 and the column ``litter_stock``.
        ``time_coords`` (name -> (values, attrs)) adds a leading ``time`` dimension."""
        dims = ("pool", "level") if time_coords is None else ("time", "pool", "level")
        coords = {
            "pool": ("pool", list(self.pools), {"long_name": "carbon pool"}),
            "level": ("level", np.arange(1, self.nlev + 1), {"long_name": "soil layer index"}),
            "depth": ("level", self.zsoi, {"units": "m", "positive": "down", "standard_name": "depth",
                                           "long_name": "layer node depth", "bounds": "depth_bnds"}),
            "depth_bnds": (("level", "nv"), self.bounds, {"units": "m"}),
            "pool_long_name": ("pool", list(self.pool_long_names)),
        }
        for name, (values, attrs) in (time_coords or {}).items():
            coords[name] = ("time", np.asarray(values), attrs)
        intervals = stock_intervals(self.bounds)
        labels = interval_labels(intervals)
        labels[-1] = "whole column"
        coords["depth_interval"] = ("depth_interval", labels)
        coords["depth_interval_bnds"] = (("depth_interval", "nv"), intervals, {"units": "m"})
        ds = xr.Dataset(coords=coords)
        ds["cpools"] = (dims, pools, {"units": "g C m-3", "long_name": cpools_long_name})
        soc = pools[..., soc_pools, :].sum(axis=-2)
        ds["soc"] = (dims[:-2] + ("level",), soc, {"units": "g C m-3", "long_name": soc_long_name})
        ds["soc_stock"] = (dims[:-2] + ("depth_interval",), interval_integrals(soc, self.bounds, intervals), {
            "units": "g C m-2", "long_name": f"{soc_long_name}: stock per depth interval"})
        ds["pool_stock"] = (dims[:-1] + ("depth_interval",), interval_integrals(pools, self.bounds, intervals), {
            "units": "g C m-2", "long_name": "carbon stock per pool and depth interval"})
        ds["litter_stock"] = (dims[:-2], (pools[..., litter_pools, :] * self.dz).sum(axis=(-2, -1)), {
            "units": "g C m-2", "long_name": litter_long_name})
        return ds

    def add_column_budget(self, ds: xr.Dataset, pools: np.ndarray, x0: np.ndarray, inputs: np.ndarray,
                          rh: np.ndarray, steady: np.ndarray | None = None) -> xr.Dataset:
        """Column carbon budget of a monthly transient run of a layered kernel: ``input``,
        ``mass_balance_residual`` = input - change in column stock - respiration (g C m-2 per
        month) and, given the steady state of the mean forcing, ``storage_potential``.
        pools (time, pool, level) and x0 (pool, level) in g C m-3; inputs and rh (time,) g C m-2."""
        total = (pools * self.dz).sum(axis=(1, 2))
        prev = np.concatenate([[float((x0 * self.dz).sum())], total[:-1]])
        ds["input"] = (("time",), inputs, {"units": "g C m-2 month-1",
                                          "long_name": "column litter input during the month"})
        ds["mass_balance_residual"] = (("time",), inputs - (total - prev) - rh, {
            "units": "g C m-2 month-1", "long_name": "input - change in column stock - respiration"})
        if steady is not None:
            ds["storage_potential"] = (("time",), float((steady * self.dz).sum()) - total, {
                "units": "g C m-2", "long_name": "storage capacity (mean-forcing steady state) minus current stock"})
        return ds

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}({opts})"


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
    return xr.DataArray(np.asarray(status, dtype=np.int32), dims=dims, attrs=_status.cf_attrs())

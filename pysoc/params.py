"""Parameter tables: name, units, default, calibration prior, physical domain and the
mapping between the normalised calibration coordinate ``kp`` in [0, 1] and the
physical value.

The calibration engine works on ``kp`` (uniform prior on the box [0, 1]^n); kernels
take physical values. ``kp`` outside [0, 1] is allowed in forward runs (CLM5's own
defaults lie outside PRODA's priors): such values are reported as warnings, never
clipped.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from pysoc.errors import ParameterError


class OutsidePriorWarning(UserWarning):
    """A parameter value lies outside its calibration prior (allowed in forward runs)."""


@dataclass(frozen=True)
class ParameterSpec:
    """One model parameter.

    ``scale`` is the kp mapping: 'linear' (value = min + kp (max - min)) or 'log10'
    (log10 value = log10 min + kp (log10 max - log10 min)). The physical domain is
    ``lower``/``upper`` with inclusive flags; it is checked on every evaluation.
    """

    name: str
    units: str
    default: float
    prior_min: float
    prior_max: float
    description: str
    lower: float = -math.inf
    upper: float = math.inf
    lower_inclusive: bool = True
    upper_inclusive: bool = True
    scale: str = "linear"

    def __post_init__(self):
        if self.scale not in ("linear", "log10"):
            raise ValueError(f"parameter {self.name}: unknown scale {self.scale!r}")
        if not self.prior_min < self.prior_max:
            raise ValueError(f"parameter {self.name}: prior_min must be < prior_max")

    def domain_text(self) -> str:
        lo = "[" if self.lower_inclusive else "("
        hi = "]" if self.upper_inclusive else ")"
        return f"{lo}{self.lower:g}, {self.upper:g}{hi}"

    def in_domain(self, v):
        v = np.asarray(v, dtype=float)
        ok_lo = v >= self.lower if self.lower_inclusive else v > self.lower
        ok_hi = v <= self.upper if self.upper_inclusive else v < self.upper
        return np.isfinite(v) & ok_lo & ok_hi

    def to_physical(self, kp):
        kp = np.asarray(kp, dtype=float)
        if self.scale == "log10":
            a, b = math.log10(self.prior_min), math.log10(self.prior_max)
            return 10.0 ** (a + kp * (b - a))
        return self.prior_min + kp * (self.prior_max - self.prior_min)

    def to_kp(self, value):
        value = np.asarray(value, dtype=float)
        if self.scale == "log10":
            a, b = math.log10(self.prior_min), math.log10(self.prior_max)
            return (np.log10(value) - a) / (b - a)
        return (value - self.prior_min) / (self.prior_max - self.prior_min)


@dataclass
class ParameterTable:
    """Ordered parameters of one model plus named parameter sets (physical values)."""

    model: str
    specs: tuple[ParameterSpec, ...]
    named_sets: dict[str, Mapping[str, float]] = field(default_factory=dict)
    default_set: str = "default"

    def __post_init__(self):
        self.names = tuple(s.name for s in self.specs)
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"{self.model}: duplicate parameter names")
        self._index = {n: i for i, n in enumerate(self.names)}
        self.named_sets = dict(self.named_sets)
        self.named_sets.setdefault("default", {s.name: s.default for s in self.specs})
        for sname, values in self.named_sets.items():
            unknown = set(values) - set(self.names)
            if unknown:
                raise ValueError(f"{self.model}: parameter set {sname!r} has unknown names {sorted(unknown)}")

    # ---- basic properties -------------------------------------------------------
    def __len__(self) -> int:
        return len(self.specs)

    def __iter__(self):
        return iter(self.specs)

    def __getitem__(self, name: str) -> ParameterSpec:
        return self.specs[self.index(name)]

    def index(self, name: str) -> int:
        try:
            return self._index[name]
        except KeyError:
            raise ParameterError(f"{self.model}: unknown parameter {name!r} "
                                 f"(known: {', '.join(self.names)})") from None

    @property
    def defaults(self) -> np.ndarray:
        return np.array([s.default for s in self.specs])

    @property
    def prior_min(self) -> np.ndarray:
        return np.array([s.prior_min for s in self.specs])

    @property
    def prior_max(self) -> np.ndarray:
        return np.array([s.prior_max for s in self.specs])

    @property
    def units(self) -> tuple[str, ...]:
        return tuple(s.units for s in self.specs)

    # ---- kp <-> physical -----------------------------------------------------------
    def to_physical(self, kp) -> np.ndarray:
        """kp (..., n) -> physical values (..., n). Not clipped."""
        kp = np.asarray(kp, dtype=float)
        if kp.shape[-1] != len(self):
            raise ParameterError(f"{self.model}: expected {len(self)} kp values, got shape {kp.shape}")
        out = np.empty_like(kp)
        for i, s in enumerate(self.specs):
            out[..., i] = s.to_physical(kp[..., i])
        return out

    def to_kp(self, values) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        if values.shape[-1] != len(self):
            raise ParameterError(f"{self.model}: expected {len(self)} values, got shape {values.shape}")
        out = np.empty_like(values)
        for i, s in enumerate(self.specs):
            out[..., i] = s.to_kp(values[..., i])
        return out

    # ---- building and checking vectors ---------------------------------------------
    def vector(self, parameter_set: str | None = None, overrides: Mapping[str, float] | None = None,
               kp_overrides: Mapping[str, float] | None = None) -> np.ndarray:
        """Physical parameter vector from a named set plus overrides (physical values)
        and kp overrides (normalised values)."""
        name = parameter_set or self.default_set
        if name not in self.named_sets:
            raise ParameterError(f"{self.model}: unknown parameter set {name!r} "
                                 f"(known: {', '.join(self.named_sets)})")
        base = dict(self.named_sets["default"])
        base.update(self.named_sets[name])
        v = np.array([base[n] for n in self.names], dtype=float)
        for k, val in (overrides or {}).items():
            v[self.index(k)] = float(val)
        for k, val in (kp_overrides or {}).items():
            i = self.index(k)
            v[i] = float(self.specs[i].to_physical(float(val)))
        return v

    def kp_vector(self, parameter_set: str) -> np.ndarray:
        return self.to_kp(self.vector(parameter_set))

    def check(self, values, source: str = "", warn_prior: bool = True) -> np.ndarray:
        """Raise ParameterError for values outside the physical domain (naming the
        parameter and its domain); warn for values outside the calibration prior."""
        v = np.asarray(values, dtype=float)
        if v.shape[-1] != len(self):
            raise ParameterError(f"{source or self.model}: expected {len(self)} parameter values "
                                 f"({', '.join(self.names)}), got shape {v.shape}")
        where = f"{source}: " if source else ""
        flat = v.reshape(-1, len(self))
        for i, s in enumerate(self.specs):
            bad = ~s.in_domain(flat[:, i])
            if bad.any():
                val = flat[bad, i][0]
                raise ParameterError(f"{where}{self.model} parameter {s.name} = {val:g} is outside its "
                                     f"physical domain {s.domain_text()} ({s.units}; {s.description})")
            if warn_prior:
                out = (flat[:, i] < s.prior_min) | (flat[:, i] > s.prior_max)
                if out.any():
                    warnings.warn(f"{where}{self.model} parameter {s.name} = {flat[out, i][0]:g} is outside "
                                  f"the calibration prior [{s.prior_min:g}, {s.prior_max:g}] {s.units}",
                                  OutsidePriorWarning, stacklevel=2)
        return v

    def as_records(self) -> list[dict]:
        return [dict(name=s.name, units=s.units, default=s.default, prior_min=s.prior_min,
                     prior_max=s.prior_max, domain=s.domain_text(), scale=s.scale,
                     description=s.description) for s in self.specs]

    def markdown(self) -> str:
        lines = ["| # | name | units | default | prior min | prior max | domain | description |",
                 "|---|---|---|---|---|---|---|---|"]
        for i, s in enumerate(self.specs, 1):
            lines.append(f"| {i} | `{s.name}` | {s.units} | {s.default:g} | {s.prior_min:g} | "
                         f"{s.prior_max:g} | {s.domain_text()} | {s.description} |")
        return "\n".join(lines)


def select(table: ParameterTable, names: Sequence[str] | None) -> list[int]:
    """Indices of the named parameters (all when names is None or empty)."""
    if not names:
        return list(range(len(table)))
    return [table.index(n) for n in names]


def as_2d(theta, n: int, what: str = "parameters") -> np.ndarray:
    theta = np.asarray(theta, dtype=float)
    if theta.ndim == 1:
        theta = theta[None, :]
    if theta.ndim != 2 or theta.shape[1] != n:
        raise ParameterError(f"{what}: expected shape (nset, {n}), got {theta.shape}")
    return theta


__all__ = ["ParameterSpec", "ParameterTable", "OutsidePriorWarning", "select", "as_2d"]


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
from typing import Any, Callable, Mapping, Sequence

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


@dataclass(frozen=True)
class Constraint:
    """A constraint that involves several parameters (each may lie inside its own domain
    while together they are inconsistent). Checked by :meth:`ParameterTable.check` before
    any kernel runs; the message names the parameters and their values.

    Build constraints with :func:`sum_at_most`, :func:`increasing` or :func:`positive`.

    Parameters
    ----------
    names : tuple of str
        The parameters involved (names of the table).
    kind : str
        'sum_at_most' (sum of the values <= ``bound``), 'increasing' (each value exceeds the
        one before it, or is >= it when ``strict`` is False) or 'positive'
        (``func(*values) > 0``).
    description : str
        Why the constraint holds (shown in the message).
    bound : float
        Upper bound of 'sum_at_most'.
    strict : bool
        Strict ordering for 'increasing'.
    func : callable, optional
        Scalar function of the values for 'positive'.
    label : str
        Short name of ``func`` in messages (e.g. 'the temperature function at 30 degC').

    Examples
    --------
    >>> c = sum_at_most(("a", "b"), 1.0, "outgoing fractions")
    >>> c.message([0.8, 0.6])
    'a + b = 0.8 + 0.6 = 1.4 exceeds 1 (outgoing fractions)'
    """

    names: tuple[str, ...]
    kind: str
    description: str = ""
    bound: float = 1.0
    strict: bool = True
    func: Callable[..., float] | None = None
    label: str = ""

    def __post_init__(self):
        if self.kind not in ("sum_at_most", "increasing", "positive"):
            raise ValueError(f"constraint on {self.names}: unknown kind {self.kind!r}")
        if self.kind == "positive" and self.func is None:
            raise ValueError(f"constraint on {self.names}: kind 'positive' needs func")

    def violated(self, values: np.ndarray) -> np.ndarray:
        """(n,) True where rows of ``values`` (n, len(names)) violate the constraint."""
        v = np.asarray(values, dtype=float)
        if self.kind == "sum_at_most":
            return ~(v.sum(axis=1) <= self.bound)
        if self.kind == "increasing":
            d = np.diff(v, axis=1)
            return ~((d > 0) if self.strict else (d >= 0)).all(axis=1)
        return ~np.array([self.func(*row) > 0 for row in v], dtype=bool)

    def message(self, row: Sequence[float]) -> str:
        """One line naming the parameters, their values and the rule."""
        row = [float(x) for x in row]
        why = f" ({self.description})" if self.description else ""
        if self.kind == "sum_at_most":
            return (f"{' + '.join(self.names)} = {' + '.join(f'{x:g}' for x in row)} = {sum(row):g} exceeds "
                    f"{self.bound:g}{why}")
        if self.kind == "increasing":
            rel = "must exceed" if self.strict else "must not be below"
            for k in range(1, len(row)):
                if not (row[k] > row[k - 1] if self.strict else row[k] >= row[k - 1]):
                    return f"{self.names[k]} = {row[k]:g} {rel} {self.names[k - 1]} = {row[k - 1]:g}{why}"
        vals = ", ".join(f"{n} = {x:g}" for n, x in zip(self.names, row))
        label = self.label or "the combination"
        if self.kind == "positive":
            return f"{vals} give {label} = {self.func(*row):g}, which must be > 0{why}"
        return f"{vals} violate the constraint{why}"


def sum_at_most(names: Sequence[str], bound: float = 1.0, description: str = "") -> Constraint:
    """Constraint: the parameters sum to at most ``bound`` (e.g. the fractions leaving a pool).

    Examples
    --------
    >>> sum_at_most(("fs1s2", "fs1s3")).violated(np.array([[0.8, 0.6], [0.5, 0.1]]))
    array([ True, False])
    """
    return Constraint(tuple(names), "sum_at_most", description, bound=float(bound))


def increasing(names: Sequence[str], strict: bool = True, description: str = "") -> Constraint:
    """Constraint: each parameter exceeds the one before it (``strict``) or is not below it.

    Examples
    --------
    >>> increasing(("PPDF(1)", "PPDF(2)")).message([18.0, 15.0])
    'PPDF(2) = 15 must exceed PPDF(1) = 18'
    """
    return Constraint(tuple(names), "increasing", description, strict=strict)


def positive(names: Sequence[str], func: Callable[..., float], label: str, description: str = "") -> Constraint:
    """Constraint: ``func(*values)`` of the parameters is positive.

    Examples
    --------
    >>> positive(("a", "b"), lambda a, b: a - b, "a - b").violated(np.array([[1.0, 2.0]]))
    array([ True])
    """
    return Constraint(tuple(names), "positive", description, func=func, label=label)


def _warn_alias(model: str, old: str, new: str) -> None:
    from pysoc.errors import PysocWarning
    warnings.warn(f"{model}: parameter {old!r} is now called {new!r} (the old name is still read; it is deprecated)",
                  PysocWarning, stacklevel=4)


def _key(name: str) -> str:
    """Spelling-insensitive key of a parameter name: lower case, no blanks ('PRDX (1)' = 'prdx(1)')."""
    return "".join(str(name).split()).lower()


@dataclass
class ParameterTable:
    """Ordered parameters of one model plus named parameter sets (physical values) and the
    constraints that involve several parameters (:class:`Constraint`). Names are looked up
    case-insensitively (namelists lowercase them)."""

    model: str
    specs: tuple[ParameterSpec, ...]
    named_sets: dict[str, Mapping[str, float]] = field(default_factory=dict)
    default_set: str = "default"
    constraints: tuple[Constraint, ...] = ()
    #: former names still read (namelists, posterior files), old name -> current name; a use
    #: of an old name warns once (PysocWarning, a deprecation note)
    aliases: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        self.names = tuple(s.name for s in self.specs)
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"{self.model}: duplicate parameter names")
        self._index = {n: i for i, n in enumerate(self.names)}
        self._folded = {_key(n): i for i, n in enumerate(self.names)}
        if len(self._folded) != len(self.names):
            raise ValueError(f"{self.model}: parameter names that differ only in case")
        self.aliases = dict(self.aliases)
        for old, new in self.aliases.items():
            if new not in self._index or _key(old) in self._folded:
                raise ValueError(f"{self.model}: alias {old!r} -> {new!r} must name a parameter and not be one")
        self._alias = {_key(old): new for old, new in self.aliases.items()}
        self.constraints = tuple(self.constraints)
        for c in self.constraints:
            unknown = [n for n in c.names if n not in self._index]
            if unknown:
                raise ValueError(f"{self.model}: constraint on unknown parameters {unknown}")
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

    def _position(self, name: str) -> int | None:
        i = self._index.get(name)
        if i is None:
            i = self._folded.get(_key(name))
        if i is None and _key(name) in getattr(self, "_alias", {}):
            new = self._alias[_key(name)]
            _warn_alias(self.model, str(name), new)
            i = self._index[new]
        return i

    def index(self, name: str) -> int:
        """Position of a parameter; the name is matched case-insensitively, and a former
        name (:attr:`aliases`) is read with a deprecation warning.

        Examples
        --------
        >>> import warnings
        >>> t = ParameterTable("demo", (ParameterSpec("diffus", "m2 yr-1", 1e-4, 0.0, 1e-3, "demo"),),
        ...                    aliases={"bio": "diffus"})
        >>> with warnings.catch_warnings(record=True) as w:
        ...     warnings.simplefilter("always")
        ...     t.index("BIO"), str(w[0].message)
        (0, "demo: parameter 'BIO' is now called 'diffus' (the old name is still read; it is deprecated)")
        """
        i = self._position(name)
        if i is None:
            raise ParameterError(f"{self.model}: unknown parameter {name!r} "
                                 f"(known: {', '.join(self.names)})")
        return i

    def lookup(self, name: str) -> str | None:
        """The table's spelling of ``name`` (matched case-insensitively, blanks ignored), or
        None when the model has no such parameter.

        Examples
        --------
        >>> t = ParameterTable("demo", (ParameterSpec("PRDX(1)", "1", 1.0, 0.5, 2.0, "demo"),))
        >>> t.lookup("prdx(1)"), t.lookup("prdx")
        ('PRDX(1)', None)
        """
        i = self._position(name)
        return None if i is None else self.names[i]

    def namelist_group(self, group: str, doc: str):
        """The namelist group of parameter overrides by name (``&parameters``, ``&kp``):
        every parameter of the table is a key, matched case-insensitively, indexed names
        such as ``PRDX(1)`` or ``FLIGNI(2,1)`` written as Fortran array elements; values
        are real numbers (the caller's ``check`` applies the domains).

        Parameters
        ----------
        group : str
            Name of the group.
        doc : str
            Its documentation.

        Returns
        -------
        pysoc.io.namelist.Group
            A group with open keys restricted to the table's names.
        """
        from pysoc.errors import ConfigError
        from pysoc.io.namelist import Group

        def value(key: str, v: Any, where: str) -> float:
            if self.lookup(key) is None:
                raise ConfigError(f"{where}: unknown parameter of {self.model} (known: {', '.join(self.names)})")
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ConfigError(f"{where}: expected a real number, got {v!r}")
            if not math.isfinite(float(v)):
                raise ConfigError(f"{where}: value must be finite, got {v!r}")
            return float(v)

        return Group(group, (), doc, open_keys=value, open_names=self.lookup)

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

    def check(self, values, source: str = "", warn_prior: bool = True, free: Sequence[str] = ()) -> np.ndarray:
        """Raise ParameterError for values outside the physical domain (naming the
        parameter and its domain) or violating a constraint of several parameters (naming
        them and their values); warn for values outside the calibration prior. Constraints
        that involve a parameter named in ``free`` (calibrated, so its value here is only a
        placeholder) are not checked."""
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
        skip = {self.names[self.index(n)] for n in free}
        for c in self.constraints:
            if skip.intersection(c.names):
                continue
            cols = flat[:, [self._index[n] for n in c.names]]
            bad = c.violated(cols)
            if bad.any():
                raise ParameterError(f"{where}{self.model} parameters {c.message(cols[bad][0])}")
        return v

    def constraint_problems(self, values) -> list[str]:
        """Messages of the constraints (:class:`Constraint`) that one parameter vector
        violates; empty when it is consistent."""
        v = np.asarray(values, dtype=float).reshape(1, len(self))
        out = []
        for c in self.constraints:
            cols = v[:, [self._index[n] for n in c.names]]
            if c.violated(cols)[0]:
                out.append(c.message(cols[0]))
        return out

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
    """Parameter vectors as a (nset, n) float array; ParameterError for another shape or for
    an empty batch (nset = 0: the kernels need at least one vector)."""
    try:
        theta = np.asarray(theta, dtype=float)
    except (TypeError, ValueError):
        raise ParameterError(f"{what}: expected an array of real numbers of shape (nset, {n}), got "
                             f"{type(theta).__name__}") from None
    if theta.ndim == 1:
        theta = theta[None, :]
    if theta.ndim != 2 or theta.shape[1] != n:
        raise ParameterError(f"{what}: expected shape (nset, {n}), got {theta.shape}")
    if theta.shape[0] == 0:
        raise ParameterError(f"{what}: no parameter vector given (shape {theta.shape}); pass at least one row")
    return theta


__all__ = ["ParameterSpec", "ParameterTable", "Constraint", "sum_at_most", "increasing", "positive",
           "OutsidePriorWarning", "select", "as_2d"]


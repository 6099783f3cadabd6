"""Namelist registry: every key of every namelist group is declared once, with its
type, default, allowed values and documentation. Reading a namelist (f90nml) checks
it against the registry; unknown groups or keys, wrong types and out-of-range values
raise :class:`~pysoc.errors.ConfigError` naming the file, the group and the key.

Paths: a string key declared with ``path=True`` is resolved relative to the
namelist file's directory; the prefix ``pkgdata:`` refers to the data shipped inside
the package (``pysoc/data``), so shipped namelists work from any directory.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import f90nml

from pysoc.errors import ConfigError

PKGDATA = Path(__file__).resolve().parent.parent / "data"

_TYPES = {"str": str, "int": int, "float": float, "bool": bool}


@dataclass(frozen=True)
class Key:
    """One namelist key. ``type`` is 'str', 'int', 'float', 'bool', or a list type
    'list[str]', 'list[int]', 'list[float]'."""

    name: str
    type: str
    default: Any
    doc: str
    choices: tuple | None = None
    min: float | None = None
    max: float | None = None
    path: bool = False
    required: bool = False
    units: str = ""

    def check(self, value: Any, where: str) -> Any:
        is_list = self.type.startswith("list[")
        base = self.type[5:-1] if is_list else self.type
        if is_list:
            values = list(value) if isinstance(value, (list, tuple)) else [value]
            return [self._check_one(v, base, where) for v in values]
        if isinstance(value, list):
            raise ConfigError(f"{where}: expected one {base} value, got a list {value!r}")
        return self._check_one(value, base, where)

    def _check_one(self, v: Any, base: str, where: str) -> Any:
        if base == "float" and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if base == "bool" and not isinstance(v, bool):
            raise ConfigError(f"{where}: expected .true. or .false., got {v!r}")
        if base == "int" and (isinstance(v, bool) or not isinstance(v, int)):
            raise ConfigError(f"{where}: expected an integer, got {v!r}")
        if base == "float" and (isinstance(v, bool) or not isinstance(v, float)):
            raise ConfigError(f"{where}: expected a real number, got {v!r}")
        if base == "str" and not isinstance(v, str):
            raise ConfigError(f"{where}: expected a quoted string, got {v!r}")
        if base == "float" and not math.isfinite(v):
            raise ConfigError(f"{where}: value must be finite, got {v!r}")
        if self.choices is not None and v not in self.choices:
            raise ConfigError(f"{where}: {v!r} is not one of {', '.join(map(repr, self.choices))}")
        if self.min is not None and v < self.min:
            raise ConfigError(f"{where}: {v!r} is below the allowed minimum {self.min}")
        if self.max is not None and v > self.max:
            raise ConfigError(f"{where}: {v!r} is above the allowed maximum {self.max}")
        return v

    def describe(self) -> str:
        rng = ""
        if self.choices:
            rng = "one of " + ", ".join(map(repr, self.choices))
        elif self.min is not None or self.max is not None:
            rng = f"[{'' if self.min is None else self.min}, {'' if self.max is None else self.max}]"
        unit = f" ({self.units})" if self.units else ""
        return f"`{self.name}` ({self.type}, default {self.default!r}{', ' + rng if rng else ''}){unit}: {self.doc}"


@dataclass(frozen=True)
class Group:
    """A namelist group. ``open_keys`` validates groups whose keys are not fixed
    (e.g. parameter overrides by parameter name): it receives (key, value, where)
    and returns the checked value or raises ConfigError. ``open_names`` (optional) maps
    a key as written (lower case from f90nml; Fortran array elements as ``name(i)`` or
    ``name(i,j)``) to the name stored, or None when unknown; with it, indexed keys such as
    ``PRDX(1) = 0.5`` and arrays such as ``PPDF = 1, 2`` become one key per element."""

    name: str
    keys: tuple[Key, ...]
    doc: str
    open_keys: Callable[[str, Any, str], Any] | None = None
    open_names: Callable[[str], str | None] | None = None

    def key(self, name: str) -> Key | None:
        for k in self.keys:
            if k.name == name:
                return k
        return None


@dataclass
class Namelist:
    """A checked namelist: ``nml[group][key]`` with defaults filled in, plus the text."""

    path: Path | None
    groups: dict[str, dict[str, Any]]
    text: str = ""
    present: dict[str, set] = field(default_factory=dict)

    def __getitem__(self, group: str) -> dict[str, Any]:
        return self.groups[group]

    def __contains__(self, group: str) -> bool:
        return group in self.groups


class NamelistSpec:
    """The registry of one namelist kind (e.g. the namelist of ``pysoc-run``)."""

    def __init__(self, groups: list[Group], doc: str = ""):
        self.groups = {g.name: g for g in groups}
        self.doc = doc

    def add_group(self, group: Group) -> None:
        self.groups[group.name] = group

    def read(self, path: str | Path, extra_groups: Mapping[str, Group] | None = None) -> Namelist:
        raw, text = read_raw(path)
        return self.check(raw, source=path, text=text, extra_groups=extra_groups)

    def check(self, raw: Mapping, source: str | Path | None = None, text: str = "",
              extra_groups: Mapping[str, Group] | None = None) -> Namelist:
        groups = dict(self.groups)
        if extra_groups:
            groups.update(extra_groups)
        src = str(source) if source is not None else "<namelist>"
        base_dir = Path(source).resolve().parent if source is not None else Path.cwd()
        out: dict[str, dict[str, Any]] = {}
        present: dict[str, set] = {}
        _check_groups_once(raw, src)
        for gname, gvals in raw.items():
            gname = gname.lower()
            if gname not in groups:
                raise ConfigError(f"{src}: unknown namelist group &{gname} (known: "
                                  f"{', '.join('&' + g for g in groups)})")
            if isinstance(gvals, list):
                raise ConfigError(f"{src}: namelist group &{gname} appears more than once")
            group = groups[gname]
            vals: dict[str, Any] = {}
            starts = getattr(gvals, "start_index", None) or {}
            for kname, value in gvals.items():
                kname = kname.lower()
                where = f"{src}: &{gname} {kname}"
                key = group.key(kname)
                if key is None:
                    if group.open_keys is None:
                        known = ", ".join(k.name for k in group.keys)
                        raise ConfigError(f"{where}: unknown key (known keys: {known})")
                    for name, v in open_items(group, kname, value, starts.get(kname), where):
                        if name in vals:
                            raise ConfigError(f"{src}: &{gname} {name} is given twice")
                        vals[name] = group.open_keys(name, v, f"{src}: &{gname} {name}")
                    continue
                v = key.check(value, where)
                if key.path and isinstance(v, str) and v:
                    v = str(resolve_path(v, base_dir))
                vals[kname] = v
            out[gname] = vals
            present[gname] = set(vals)
        for gname, group in groups.items():
            vals = out.setdefault(gname, {})
            for key in group.keys:
                if key.name not in vals:
                    if key.required:
                        raise ConfigError(f"{src}: &{gname} {key.name} is required ({key.doc})")
                    default = key.default
                    if key.path and isinstance(default, str) and default:
                        default = str(resolve_path(default, base_dir))
                    vals[key.name] = default
        return Namelist(path=Path(source) if source is not None else None, groups=out,
                        text=text, present=present)

    def markdown(self) -> str:
        """Documentation of every group and key (used in docs/)."""
        lines = [self.doc, ""] if self.doc else []
        for g in self.groups.values():
            lines += [f"### `&{g.name}`", "", g.doc, ""]
            lines += [f"- {k.describe()}" for k in g.keys]
            lines.append("")
        return "\n".join(lines)


def open_items(group: Group, kname: str, value: Any, start, where: str) -> list[tuple[str, Any]]:
    """(name, value) pairs of one key of an open group. With ``group.open_names``, Fortran
    array syntax becomes one entry per element: ``PRDX(1) = 0.5`` (f90nml: key 'prdx', value
    [0.5], start index [1]), ``FLIGNI(2,1) = 0.5`` (nested lists, outer = last index) and
    ``PPDF = 1, 2, 3`` (elements 1, 2, 3 of an array whose elements are the names); an
    array name given one value sets element 1, as in Fortran.

    Examples
    --------
    >>> g = Group("p", (), "", open_keys=lambda k, v, w: v, open_names={"a(1)": "A(1)", "a(2)": "A(2)"}.get)
    >>> open_items(g, "a", [1.0, 2.0], None, "")
    [('A(1)', 1.0), ('A(2)', 2.0)]
    """
    canon = group.open_names
    if canon is None:
        return [(kname, value)]
    if start is None:
        if canon(kname) is not None:
            return [(canon(kname), value)]
        if canon(f"{kname}(1)") is None:
            if canon(f"{kname}(1,1)") is not None:
                raise ConfigError(f"{where}: give the elements of the array one by one, e.g. {kname}(1,1) = ...")
            return [(kname, value)]                     # unknown: open_keys names the known keys
        start = [1]
    items = []
    for idx, v in _elements(value, list(start)):
        if v is None:
            continue
        written = f"{kname}({','.join(str(i) for i in idx)})"
        items.append((canon(written) or written, v))
    return items


def _elements(value: Any, start: list) -> list[tuple[tuple, Any]]:
    """(index tuple, value) of an f90nml array value starting at index ``start``."""
    outer = value if isinstance(value, list) else [value]
    if len(start) == 1:
        return [((start[0] + i,), v) for i, v in enumerate(outer)]
    out = []
    for j, inner in enumerate(outer):
        if inner is not None:
            out += [(idx + (start[-1] + j,), v) for idx, v in _elements(inner, start[:-1])]
    return out


def read_raw(path: str | Path):
    """Parse a namelist file with f90nml (unchecked): (raw namelist, text). Values f90nml
    would drop with a warning (e.g. ``X(3) = 1.0, 2.0``) are an error."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory, not a namelist file")
    if not path.is_file():
        raise ConfigError(f"{path}: namelist file not found")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the namelist ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            raw = f90nml.reads(text)
        except Exception as exc:  # f90nml raises several types on syntax errors
            msg = " ".join(str(exc).split()) or f"{type(exc).__name__} in f90nml; check quotes and parentheses"
            raise ConfigError(f"{path}: cannot parse the namelist ({msg})") from None
    for w in caught:
        msg = " ".join(str(w.message).replace("f90nml: warning:", "").split())
        raise ConfigError(f"{path}: {msg[:1].lower() + msg[1:]} (give one value per array element, e.g. "
                          f"X(3) = 1.0 and X(4) = 2.0 on separate lines)")
    return raw, text


def _check_groups_once(raw, source) -> None:
    """ConfigError when a group appears twice (f90nml makes a 'Cogroup' of it)."""
    seen = set()
    for gname in raw.keys():
        g = str(gname).lower()
        if g in seen or isinstance(raw[gname], list):
            raise ConfigError(f"{source}: namelist group &{g} appears more than once (give each group once)")
        seen.add(g)


def read_model_namelist(path: str | Path, group: str, allowed, build_spec: Callable[[str], "NamelistSpec"],
                        default: str | None = None):
    """Read a namelist whose groups depend on the model named by ``&<group> model``:
    returns (checked namelist, model name). ``build_spec(model)`` gives the registry;
    ``default`` (the model when the key is absent) is the first of ``allowed`` unless given."""
    raw, text = read_raw(path)
    _check_groups_once(raw, path)
    if default is None:
        default = next(iter(allowed), "")
    name = str(raw.get(group, {}).get("model", default)).lower()
    if name not in allowed:
        raise ConfigError(f"{path}: &{group} model: {name!r} is not one of {', '.join(map(repr, allowed))}")
    return build_spec(name).check(raw, source=Path(path), text=text), name


def resolve_path(value: str, base_dir: Path) -> Path:
    """Resolve ``pkgdata:`` paths and paths relative to the namelist directory."""
    if value.startswith("pkgdata:"):
        return PKGDATA / value[len("pkgdata:"):]
    p = Path(value).expanduser()
    return (p if p.is_absolute() else (base_dir / p)).resolve()

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
    and returns the checked value or raises ConfigError."""

    name: str
    keys: tuple[Key, ...]
    doc: str
    open_keys: Callable[[str, Any, str], Any] | None = None

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
        for gname, gvals in raw.items():
            gname = gname.lower()
            if gname not in groups:
                raise ConfigError(f"{src}: unknown namelist group &{gname} (known: "
                                  f"{', '.join('&' + g for g in groups)})")
            if isinstance(gvals, list):
                raise ConfigError(f"{src}: namelist group &{gname} appears more than once")
            group = groups[gname]
            vals: dict[str, Any] = {}
            for kname, value in gvals.items():
                kname = kname.lower()
                where = f"{src}: &{gname} {kname}"
                key = group.key(kname)
                if key is None:
                    if group.open_keys is None:
                        known = ", ".join(k.name for k in group.keys)
                        raise ConfigError(f"{where}: unknown key (known keys: {known})")
                    vals[kname] = group.open_keys(kname, value, where)
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


def read_raw(path: str | Path):
    """Parse a namelist file with f90nml (unchecked): (raw namelist, text)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: namelist file not found")
    try:
        text = path.read_text()
        return f90nml.reads(text), text
    except Exception as exc:  # f90nml raises several types on syntax errors
        raise ConfigError(f"{path}: cannot parse the namelist ({exc})") from None


def read_model_namelist(path: str | Path, group: str, allowed, build_spec: Callable[[str], "NamelistSpec"],
                        default: str = "clm5"):
    """Read a namelist whose groups depend on the model named by ``&<group> model``:
    returns (checked namelist, model name). ``build_spec(model)`` gives the registry."""
    raw, text = read_raw(path)
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

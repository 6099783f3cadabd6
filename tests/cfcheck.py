"""CF-1.8 compliance of NetCDF files with the IOOS compliance-checker (the check every file
written by a pysoc CLI must pass). Import from any test::

    from cfcheck import assert_cf_compliant
    assert_cf_compliant(path)               # no error-level (high priority) finding

``cf_findings(path)`` returns every finding (level 3 = error, 2 = warning, 1 = info) for
reports. Exceptions raised inside the checker (e.g. on string coordinate variables) count as
errors: a file the checker cannot check is not compliant.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ERROR, WARNING, INFO = 3, 2, 1


def cf_findings(path, version: str = "1.8") -> list[tuple[int, str, str]]:
    """(level, section, message) of every failed check, plus ('checker exception', name)."""
    runner = pytest.importorskip("compliance_checker.runner")
    suite = runner.CheckSuite()
    suite.load_all_available_checkers()
    ds = suite.load_dataset(str(path))
    try:
        groups, errors = suite.run_all(ds, [f"cf:{version}"], skip_checks=[])[f"cf:{version}"]
    finally:
        ds.close()          # an open handle makes later opens of the same file fail (HDF error)
    out = [(ERROR, "checker exception", f"{name}: {exc[0]!r}") for name, exc in errors.items()]
    for g in groups:
        if g.value[0] < g.value[1]:
            out.extend((int(g.weight), str(g.name), str(m)) for m in (g.msgs or ["(no message)"]))
    return out


def assert_cf_compliant(path, version: str = "1.8", level: int = ERROR) -> list:
    """Fail with the list of findings at ``level`` or above; return the lower-level ones."""
    path = Path(path)
    assert path.is_file(), path
    found = cf_findings(path, version)
    bad = [f for f in found if f[0] >= level]
    assert not bad, f"{path.name}: CF-{version} findings:\n" + "\n".join(f"  [{lv}] {sec}: {msg}"
                                                                         for lv, sec, msg in bad)
    return [f for f in found if f[0] < level]


def string_coordinate_variables(path) -> list[str]:
    """Coordinate variables (same name as their dimension) holding strings."""
    import netCDF4

    with netCDF4.Dataset(path) as nc:
        return [name for name, var in nc.variables.items()
                if var.dimensions == (name,) and (var.dtype is str or getattr(var.dtype, "kind", "") in "SU")]

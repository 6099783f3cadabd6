"""Bad input of pysoc-run (issue 15): every class gives exit status 2 and one line naming the
file, the key and the allowed range, no traceback and no new file; every model's parameter
names (indexed CENTURY names included) can be set from a namelist, case-insensitively."""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from badinput import console_script, files_under, one_error_line, read_only_dir
from pysoc.cli.run import build_spec, load
from pysoc.cli.run import main as run_main
from pysoc.io import netcdf
from pysoc.io.namelist import PKGDATA, resolve_path
from pysoc.models import REGISTRY, model_class

PROG = "pysoc-run"
SITE = PKGDATA / "forcing" / "clm5_synthetic_site1.nc"
BASE = """&run
  model = '{model}'
  mode = 'steady_state'
  forcing_file = '{forcing}'
  output_file = '{output}'
  parameter_set = '{pset}'
  summary = .false.
/
"""
FORCING = {"clm5": SITE, "compas": SITE, "mimics": PKGDATA / "mimics" / "forcing_bartlett_B2.nc",
           "century": PKGDATA / "century" / "haibei_forcing.nc"}
FORCING.update({n: resolve_path(model_class(n).example_forcing, PKGDATA) for n in REGISTRY   # newer kernels
                if n not in FORCING and getattr(model_class(n), "example_forcing", None)})


def nml(tmp_path, extra="", model="clm5", forcing=None, output="out/run.nc", pset="", name="run.nml"):
    p = tmp_path / name
    p.write_text(BASE.format(model=model, forcing=forcing or FORCING[model], output=output, pset=pset) + extra)
    return p


def fails(tmp_path, capsys, path, fragments):
    return one_error_line(run_main, [path], capsys, PROG, fragments, watch=[tmp_path])


# ---- the namelist itself ----------------------------------------------------------------------------
NAMELIST_CASES = {
    "group twice": ("&run\n  model = 'clm5'\n/\n", ["&run appears more than once"]),
    "dropped value": ("&parameters\n  q10(1) = 1.5, 2.0\n/\n", ["2.0 is not assigned", "one value per array element"]),
    "not closed": ("&parameters\n  q10 = 2\n", ["cannot parse the namelist", "End-of-file"]),
    "open quote": ("&clm5\n  grid = 'clm5_20\n/\n", ["cannot parse the namelist", "check quotes"]),
    "list for a scalar": ("&parameters\n  q10 = 1.5, 2.0\n/\n", ["&parameters q10", "expected a real number"]),
    "string value": ("&parameters\n  q10 = 'two'\n/\n", ["&parameters q10", "expected a real number"]),
    "unknown parameter": ("&parameters\n  q11 = 2.0\n/\n", ["&parameters q11", "unknown parameter", "q10"]),
    "unknown kp": ("&kp\n  Q11 = 0.5\n/\n", ["&kp q11", "unknown parameter"]),
    "outside domain": ("&parameters\n  Q10 = -1.0\n/\n", ["q10 = -1", "physical domain (0, inf]"]),
}


@pytest.mark.parametrize("case", sorted(NAMELIST_CASES))
def test_namelist_errors(tmp_path, capsys, case):
    extra, frags = NAMELIST_CASES[case]
    fails(tmp_path, capsys, nml(tmp_path, extra), ["run.nml"] + frags)


def test_namelist_file_is_a_directory(tmp_path, capsys):
    (tmp_path / "d.nml").mkdir()
    fails(tmp_path, capsys, tmp_path / "d.nml", ["d.nml", "is a directory"])


# ---- every parameter name of every model, case-insensitively, indexed ones as array elements --------------
@pytest.mark.parametrize("model", sorted(REGISTRY))
@pytest.mark.parametrize("group,spelling", [("parameters", str), ("parameters", str.upper), ("kp", str.lower)])
def test_every_parameter_round_trips_through_a_namelist(tmp_path, model, group, spelling):
    """Write every parameter of the model's table into &parameters / &kp (as written in the
    table, all upper case, all lower case) and read it back: the same names, bitwise the same
    values (issue 15: f90nml lowercases and parses PRDX(1) as an array element)."""
    table = model_class(model).parameters
    rng = np.random.default_rng(len(table))
    scale = np.where(rng.random(len(table)) < 0.5, 1.0, 1.2345e-5)       # some with an exponent
    values = {n: float(v) for n, v in zip(table.names, rng.uniform(0.05, 0.95, len(table)) * scale)}
    body = "".join(f"  {spelling(n)} = {v!r}\n" for n, v in values.items())
    p = nml(tmp_path, f"&{group}\n{body}/\n", model=model)
    read, name = load(p)
    assert name == model
    assert sorted(read[group]) == sorted(table.names)
    assert read[group] == values                        # the same names and bitwise the same values


def test_century_array_syntax_and_a_run_with_overrides(tmp_path, capsys):
    """PPDF = a, b (elements 1, 2), FLIGNI(2,1) and DEC4 in any case set the right parameters;
    the run uses them (the output records every parameter)."""
    extra = ("&parameters\n  DEC4 = 0.006\n  prdx(1) = 0.5\n  PPDF = 17.0, 41.0\n  FLIGNI(2,1) = 0.013\n/\n"
             "&kp\n  Teff(3) = 0.5\n/\n")
    p = nml(tmp_path, extra, model="century", pset="meadow", output="out/c.nc")
    read, _ = load(p)
    assert read["parameters"] == {"DEC4": 0.006, "PRDX(1)": 0.5, "PPDF(1)": 17.0, "PPDF(2)": 41.0,
                                  "FLIGNI(2,1)": 0.013}
    assert run_main([str(p)]) == 0
    with xr.open_dataset(tmp_path / "out" / "c.nc") as ds:
        params = netcdf.parameters_of(ds)
    assert params["DEC4"][0] == 0.006 and params["PPDF(2)"][0] == 41.0 and params["FLIGNI(2,1)"][0] == 0.013
    teff3 = model_class("century").parameters["TEFF(3)"]
    assert params["TEFF(3)"][0] == pytest.approx(teff3.to_physical(0.5))


def test_flat_list_for_a_two_dimensional_name(tmp_path, capsys):
    p = nml(tmp_path, "&parameters\n  FLIGNI = 0.1, 0.2\n/\n", model="century")
    fails(tmp_path, capsys, p, ["&parameters fligni", "one by one", "fligni(1,1)"])


# ---- constraints of several parameters, checked before the kernel -------------------------------------------
CONSTRAINTS = [
    ("clm5", "fs1s2 = 0.8\n  fs1s3 = 0.6", ["fs1s2 + fs1s3 = 0.8 + 0.6 = 1.4 exceeds 1"]),
    ("clm5", "FS2S1 = 0.7\n  fs2s3 = 0.4", ["fs2s1 + fs2s3 = 0.7 + 0.4 = 1.1 exceeds 1"]),
    ("century", "PPDF(1) = 30.0\n  PPDF(2) = 25.0", ["PPDF(2) = 25 must exceed PPDF(1) = 30"]),
    ("century", "P1CO2A(2) = 0.8\n  P1CO2B(2) = 0.4", ["P1CO2A(2) + P1CO2B(2) = 0.8 + 0.4 = 1.2 exceeds 1"]),
    ("century", "ANEREF(1) = 2.0\n  ANEREF(2) = 1.0", ["ANEREF(2) = 1 must exceed ANEREF(1) = 2"]),
    ("century", "PPRPTS(1) = 1.0\n  PPRPTS(3) = 0.5", ["PPRPTS(3) = 0.5 must exceed PPRPTS(1) = 1"]),
    ("century", "TEFF(1) = 15.0\n  TEFF(2) = -20.0\n  TEFF(3) = 1.0\n  TEFF(4) = 0.05",
     ["TEFF(1) = 15, TEFF(2) = -20", "temperature function at 30 degC", "must be > 0"]),
    ("mimics", "tau_mod_min = 1.2\n  tau_mod_max = 1.1", ["tau_mod_max = 1.1 must not be below tau_mod_min = 1.2"]),
]


@pytest.mark.parametrize("model,body,frags", CONSTRAINTS)
def test_constraints_of_several_parameters(tmp_path, capsys, model, body, frags):
    """Each value within its own domain, together inconsistent: one line naming the
    parameters and their values (not 'kernel failed: bad_parameter' blaming the forcing)."""
    p = nml(tmp_path, f"&parameters\n  {body}\n/\n", model=model)
    line = fails(tmp_path, capsys, p, ["run.nml", f"{model} parameters"] + frags)
    assert "kernel" not in line


# ---- output paths, checked before any work -----------------------------------------------------------------
def test_output_paths(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    (tmp_path / "adir").mkdir()
    cases = [("", ["&run output_file = ''", "not a file name"]),
             (str(tmp_path / "adir"), ["&run output_file", "adir", "is a directory"]),
             (str(tmp_path / "file" / "out.nc"), ["&run output_file", "file is a file, not a directory"]),
             (str(tmp_path / "file" / "a" / "out.nc"), ["file is a file, not a directory"])]
    for out, frags in cases:
        fails(tmp_path, capsys, nml(tmp_path, output=out), ["run.nml"] + frags)


def test_read_only_output_directory(tmp_path, capsys):
    ro = tmp_path / "ro"
    undo = read_only_dir(ro)
    if undo is None:
        pytest.skip("cannot make a read-only directory here")
    try:
        fails(tmp_path, capsys, nml(tmp_path, output=str(ro / "out.nc")), ["&run output_file", "cannot write to"])
        fails(tmp_path, capsys, nml(tmp_path, output=str(ro / "sub" / "out.nc")), ["cannot create directories in"])
    finally:
        undo()


# ---- forcing files ----------------------------------------------------------------------------------------------
def _variant(tmp_path, name, mutate):
    with xr.open_dataset(SITE) as src:
        ds = mutate(src.load())
    path = tmp_path / "in" / name
    path.parent.mkdir(exist_ok=True)
    ds.to_netcdf(path, format="NETCDF3_64BIT")        # (NetCDF-4 cannot store a zero-length fixed dimension)
    return path


def _no_units(ds):
    ds["tsoi"] = ds["tsoi"] - 273.15
    ds["tsoi"].attrs = {}
    return ds


def test_forcing_files(tmp_path, capsys):
    d = tmp_path / "in"
    d.mkdir()
    (d / "empty.nc").write_bytes(b"")
    (d / "table.nc").write_text("site_id,lat,lon\nA,1,2\n")
    cases = [
        (d / "missing.nc", ["missing.nc", "forcing file not found"]),
        (d / "empty.nc", ["empty.nc", "empty (0 bytes)"]),
        (d / "table.nc", ["table.nc", "not a NetCDF file", "CSV"]),
        (d, ["is a directory"]),
        (_variant(tmp_path, "zero.nc", lambda ds: ds.isel(time=slice(0, 0))),
         ["zero.nc", "variable 'tsoi'", "dimension 'time' has length 0"]),
        (_variant(tmp_path, "nounits.nc", _no_units), ["nounits.nc", "variable 'tsoi'", "no 'units' attribute",
                                                       "expected 'K'"]),
        (_variant(tmp_path, "litter.nc", lambda ds: ds.assign(litter_input=ds.litter_input.assign_attrs(units="kg"))),
         ["litter.nc", "variable 'litter_input'", "units 'kg'", "expected 'g C m-2 month-1'"]),
        (_variant(tmp_path, "nan.nc", lambda ds: ds.assign(w_scalar=ds.w_scalar.where(ds.level != 4))),
         ["nan.nc", "variable 'w_scalar'", "NaN"]),
    ]
    for forcing, frags in cases:
        fails(tmp_path, capsys, nml(tmp_path, forcing=forcing), frags)


def test_celsius_is_converted_explicitly(tmp_path, capsys):
    def celsius(ds):
        ds["tsoi"] = (ds["tsoi"] - 273.15).assign_attrs(units="degC")
        return ds
    k = nml(tmp_path, forcing=SITE, output="k.nc", name="k.nml")
    c = nml(tmp_path, forcing=_variant(tmp_path, "c.nc", celsius), output="c.nc", name="c.nml")
    assert run_main([str(k)]) == 0 and run_main([str(c)]) == 0
    with xr.open_dataset(tmp_path / "k.nc") as a, xr.open_dataset(tmp_path / "c.nc") as b:
        np.testing.assert_allclose(b.soc.values, a.soc.values, rtol=1e-9)


# ---- a killed run leaves no hidden partial file --------------------------------------------------------------------
def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_partial_files_are_visible_and_cleaned_at_the_next_start(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    stale = out / f"run.nc.{_dead_pid()}.abc123.part"          # what a killed writer leaves: visible
    stale.write_bytes(b"half")
    legacy = out / ".run.nc.xyz789.part"                       # hidden leftover of an older pysoc
    legacy.write_bytes(b"half")
    old = time.time() - 7200
    os.utime(legacy, (old, old))
    other = out / "other.nc.1.abc.part"                        # another target's file is left alone
    other.write_bytes(b"x")
    assert run_main([str(nml(tmp_path))]) == 0
    assert not stale.exists() and not legacy.exists() and other.exists()
    assert sorted(p.name for p in out.iterdir()) == ["other.nc.1.abc.part", "run.nc"]


# ---- under mpirun: one line from rank 0, every rank exits 2, no MPI_Abort -------------------------------------------
@pytest.mark.mpi
def test_mpi_configuration_error_ends_every_rank_cleanly(tmp_path):
    import shutil
    if shutil.which("mpirun") is None:
        pytest.skip("mpirun not available")
    pytest.importorskip("mpi4py")
    subprocess.run([sys.executable, "-c", "import pysoc._kernels.clm5"], capture_output=True, timeout=600)
    (tmp_path / "file").write_text("x")
    p = nml(tmp_path, output=str(tmp_path / "file" / "out.nc"))
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1")
    before = files_under(tmp_path)
    r = subprocess.run(["timeout", "120", "mpirun", "-q", "--oversubscribe", "-n", "2", console_script(PROG), str(p)],
                       capture_output=True, text=True, env=env, timeout=150)
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines == [f"{PROG}: error: {p}: &run output_file = '{tmp_path / 'file' / 'out.nc'}': {tmp_path / 'file'} "
                     f"is a file, not a directory"], r.stderr
    assert "MPI_ABORT" not in r.stdout + r.stderr and files_under(tmp_path) == before


def test_console_script_has_no_traceback(tmp_path):
    """The installed entry point (a real process): exit 2 and one line for a &run given twice."""
    p = nml(tmp_path, "&run\n  model = 'clm5'\n/\n")
    r = subprocess.run([console_script(PROG), str(p)], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [f"{PROG}: error: {p}: namelist group &run appears more than once "
                                            f"(give each group once)"]


def test_spec_lists_parameter_groups_for_every_model():
    for model in REGISTRY:
        spec = build_spec(model)
        assert spec.groups["parameters"].open_names is not None and spec.groups["kp"].open_names is not None

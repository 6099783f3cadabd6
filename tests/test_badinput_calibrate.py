"""Bad input of pysoc-calibrate (issue 15): configuration errors that would fail every site are
found once, before sampling (exit 2, one line naming the file, the key and the allowed range,
no output, no checkpoint); a run in which every site failed exits 2; parameter names of every
model (indexed CENTURY names included) can be set case-insensitively."""

import os
import subprocess

import numpy as np
import pytest

from badinput import console_script, files_under, one_error_line, read_only_dir
from calibrate_hooks import injected
from pysoc.cli.calibrate import config_from_namelist, load_namelist
from pysoc.cli.calibrate import main as calibrate_main
from pysoc.models import REGISTRY, model_class

PROG = "pysoc-calibrate"

SYNTHETIC = """&calibrate
  model = 'clm5'
  method = '{method}'
  profiles = 'synthetic'
  parameters = {parameters}
  output_dir = 'out'
  run_name = 'c'
  figures = .false.
  progress = .false.
/
&synthetic
  n_sites = 2
/
&sceua
  max_evals = 40
/
"""

CENTURY = """&calibrate
  model = 'century'
  method = 'am'
  mode = 'one_batch'
  sites_file = 'pkgdata:century/qtp_sites.csv'
  layers_file = 'pkgdata:century/qtp_layers.csv'
  forcing_file = '{forcing}'
  parameters = 'DEC4', 'prdx(1)'
  min_layers = 1
  min_depth = 0.0
  output_dir = 'out'
  figures = .false.
  progress = .false.
/
&likelihood
  streams = {streams}
/
"""


def write(tmp_path, text, name="cal.nml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def synthetic(tmp_path, extra="", method="sceua", parameters="'tau4s2', 'Q10'", name="cal.nml"):
    return write(tmp_path, SYNTHETIC.format(method=method, parameters=parameters) + extra, name)


def fails(tmp_path, capsys, path, fragments):
    return one_error_line(calibrate_main, [path], capsys, PROG, fragments, watch=[tmp_path])


# ---- the namelist and the parameter names ------------------------------------------------------------------
def test_namelist_errors(tmp_path, capsys):
    cases = [("&calibrate\n  seed = 1\n/\n", ["&calibrate appears more than once"]),
             ("&mcmc\n  n_chains = 4\n/\n&mcmc\n  n_chains = 8\n/\n", ["&mcmc appears more than once"]),
             ("&parameters\n  q10 = 1.5, 2.0\n/\n", ["&parameters q10", "expected a real number"]),
             ("&parameters\n  beta = 1.5\n/\n", ["&parameters", "beta = 1.5", "physical domain (0, 1)"])]
    for extra, frags in cases:
        fails(tmp_path, capsys, synthetic(tmp_path, extra), ["cal.nml"] + frags)
    fails(tmp_path, capsys, synthetic(tmp_path, parameters="'tau4s2', 'q11'"),
          ["&calibrate parameters: 'q11' is not a parameter of clm5", "known: diffus"])


@pytest.mark.parametrize("model", sorted(REGISTRY))
def test_every_parameter_round_trips_through_the_calibrate_namelist(tmp_path, model):
    """&parameters of pysoc-calibrate: every parameter of the table, upper case, read back with
    the table's names and bitwise the same values; &calibrate parameters in any case become the
    table's names."""
    table = model_class(model).parameters
    values = {n: float(v) for n, v in zip(table.names, np.linspace(0.1, 0.9, len(table)) / 7.0)}
    body = "".join(f"  {n.upper()} = {v!r}\n" for n, v in values.items())
    names = ", ".join(f"'{n.lower()}'" for n in table.names[:3])
    text = (f"&calibrate\n  model = '{model}'\n  parameters = {names}\n  output_dir = 'out'\n/\n"
            f"&parameters\n{body}/\n")
    nml, name = load_namelist(write(tmp_path, text))
    assert nml["parameters"] == values
    assert nml["calibrate"]["parameters"] == [n.lower() for n in table.names[:3]]
    cfg = config_from_namelist(nml, name, str(tmp_path / "cal.nml"))
    assert cfg.parameters == tuple(table.names[:3]) and cfg.fixed == values


# ---- configuration errors that hit every site, found before sampling --------------------------------------------
def test_configuration_errors_before_sampling(tmp_path, capsys):
    cases = [
        ("&likelihood\n  sigma_rel = 0.0\n/\n", ["&likelihood sigma_rel = 0 and sigma_abs = 0", "soc_profile",
                                                 "sigma = max(sigma_rel |y|, sigma_abs) = 0"]),
        ("&likelihood\n  streams = 'soc_0_30'\n  sigma_rel = 0.0\n  sigma_abs = 0.0\n/\n", ["soc_0_30",
                                                                                             "sigma_abs"]),
        ("&likelihood\n  streams = 'soc_profile', 'd14c_profile'\n/\n",
         ["&likelihood streams: 'd14c_profile' needs the model output 'd14c_profile'", "clm5 does not provide",
          "soc_profile, soc_0_30"]),
        ("&likelihood\n  streams = 'nep_monthly'\n/\n", ["'nep_monthly' needs the model output"]),
    ]
    for extra, frags in cases:
        fails(tmp_path, capsys, synthetic(tmp_path, extra, parameters="'tau4s2'"), ["cal.nml"] + frags)
    # the forcing file of every site, read once before sampling
    files = SYNTHETIC.format(method="sceua", parameters="'tau4s2'").replace(
        "  profiles = 'synthetic'\n", "  forcing_file = 'missing.nc'\n  max_sites = 3\n")
    fails(tmp_path, capsys, write(tmp_path, files), ["missing.nc: forcing file not found"])
    (tmp_path / "table.nc").write_text("site_id,lat\n")
    fails(tmp_path, capsys, write(tmp_path, files.replace("missing.nc", "table.nc")),
          ["table.nc", "not a NetCDF file"])
    assert not (tmp_path / "out").exists()


def test_century_inputs_every_site_needs(tmp_path, capsys):
    """NEP / flux streams without their observation files, forcing that cannot be built from
    covariates, and per-site forcing files of which none exists: one line, exit 2."""
    qtp = "pkgdata:century/qtp_forcing/{site_id}.nc"
    cases = [(qtp, "'soc_0_30', 'nep_monthly'", ["'nep_monthly' needs monthly NEP observations", "nep_file"]),
             (qtp, "'soc_0_30', 'nep_annual'", ["'nep_annual' needs tower-year fluxes", "flux_file",
                                                "nep_g_m2_yr"]),
             ("", "'soc_0_30'", ["&calibrate forcing_file = ''", "cannot be built from the site covariates",
                                 "set forcing_file"]),
             ("nowhere/{site_id}.nc", "'soc_0_30'", ["forcing file not found, nor for any other site",
                                                      "&calibrate forcing_file"])]
    for forcing, streams, frags in cases:
        p = write(tmp_path, CENTURY.format(forcing=forcing, streams=streams))
        fails(tmp_path, capsys, p, ["cal.nml"] + frags if "nowhere" not in forcing else frags)


def test_chain_memory_is_estimated_before_anything_is_written(tmp_path, capsys):
    am = synthetic(tmp_path, "&mcmc\n  sampler = 'am'\n  n_formal = 1000000000000\n/\n", method="mcmc")
    fails(tmp_path, capsys, am, ["cal.nml", "&mcmc n_formal = 1000000000000", "TiB", "lower n_formal"])
    dz = synthetic(tmp_path, "&mcmc\n  max_evaluations = 1000000000000\n/\n", method="mcmc")
    fails(tmp_path, capsys, dz, ["&mcmc max_evaluations = 1000000000000", "does not converge"])
    assert not list(tmp_path.rglob("manifest.pkl")) and not (tmp_path / "out").exists()


# ---- output paths ------------------------------------------------------------------------------------------------
def test_output_paths(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    base = SYNTHETIC.format(method="sceua", parameters="'tau4s2'")
    cases = [("output_dir = 'file/sub'", ["&calibrate output_dir", "file is a file, not a directory"]),
             ("output_dir = 'file'", ["&calibrate output_dir", "exists and is not a directory"]),
             ("output_dir = 'out'\n  checkpoint_dir = 'file/ck'", ["&calibrate checkpoint_dir",
                                                                  "not a directory"]),
             ("output_dir = 'out'", ["&calibrate run_name = 'a/b'", "without '/'"])]
    for key, frags in cases:
        text = base.replace("output_dir = 'out'", key)
        if "run_name" in frags[0]:
            text = text.replace("run_name = 'c'", "run_name = 'a/b'")
        fails(tmp_path, capsys, write(tmp_path, text), ["cal.nml"] + frags)
    ro = tmp_path / "ro"
    undo = read_only_dir(ro)
    if undo is not None:
        try:
            fails(tmp_path, capsys, write(tmp_path, base.replace("output_dir = 'out'", "output_dir = 'ro'")),
                  ["&calibrate output_dir", "cannot write to"])
        finally:
            undo()


# ---- constraints of several parameters ----------------------------------------------------------------------------
def test_fixed_parameters_violating_a_constraint(tmp_path, capsys):
    bad = synthetic(tmp_path, "&parameters\n  fs1s2 = 0.8\n  FS1S3 = 0.6\n/\n")
    fails(tmp_path, capsys, bad, ["cal.nml: &parameters", "fs1s2 + fs1s3 = 0.8 + 0.6 = 1.4 exceeds 1"])
    # a constraint with a calibrated parameter is left to the sampler (its proposals are rejected)
    ok = synthetic(tmp_path, "&parameters\n  fs1s3 = 0.6\n/\n", parameters="'tau4s2', 'fs1s2'", name="ok.nml")
    assert calibrate_main([str(ok)]) == 0
    capsys.readouterr()


# ---- every site failed -------------------------------------------------------------------------------------------
def test_a_run_in_which_every_site_failed_exits_2(tmp_path, capsys):
    with injected("site_error@syn001,site_error@syn002"):
        line = fails(tmp_path, capsys, synthetic(tmp_path), ["no site was calibrated: all 2 failed",
                                                             "site syn001"])
    assert "injected" in line
    assert not list(tmp_path.rglob("*.pkl")) and not list(tmp_path.rglob("*.checkpoint"))


def test_one_site_failing_is_reported_and_the_rest_continue(tmp_path, capsys):
    with injected("site_error@syn001"):
        assert calibrate_main([str(synthetic(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "sites done: 1, failed: 1" in out and (tmp_path / "out" / "c_sites.csv").is_file()


# ---- a configuration that runs but not as intended warns ------------------------------------------------------------
def test_t0_beyond_the_formal_run_without_test_run_warns(tmp_path, capsys):
    p = synthetic(tmp_path, "&mcmc\n  sampler = 'am'\n  n_chains = 2\n  n_test = 0\n  n_formal = 120\n  t0 = 500\n"
                  "  block_size = 60\n  draws_saved = 10\n/\n", method="mcmc", parameters="'tau4s2'")
    assert calibrate_main([str(p)]) == 0
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith(f"{PROG}: warning: {p}: &mcmc t0 = 500 >= n_formal = 120 with "
                                               f"n_test = 0"), err
    assert "never adapts" in err[0]


# ---- under mpirun ------------------------------------------------------------------------------------------------------
@pytest.mark.mpi
@pytest.mark.slow
def test_mpi_configuration_error_ends_every_rank_cleanly(tmp_path):
    import shutil
    if shutil.which("mpirun") is None:
        pytest.skip("mpirun not available")
    pytest.importorskip("mpi4py")
    p = synthetic(tmp_path, "&likelihood\n  sigma_rel = 0.0\n/\n")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1")
    before = files_under(tmp_path)
    r = subprocess.run(["timeout", "120", "mpirun", "-q", "--oversubscribe", "-n", "2", console_script(PROG), str(p)],
                       capture_output=True, text=True, env=env, timeout=150)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "sigma_rel = 0" in lines[0], r.stderr
    assert "MPI_ABORT" not in r.stderr and files_under(tmp_path) == before


def test_console_script_exit_status(tmp_path):
    p = synthetic(tmp_path, "&likelihood\n  sigma_rel = 0.0\n/\n")
    r = subprocess.run([console_script(PROG), str(p)], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1

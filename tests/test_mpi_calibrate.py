"""`mpirun pysoc-calibrate`: 1, 2 and 3 ranks (oversubscribed) give identical results, a
failing site is recorded, an exception on one rank aborts the job cleanly, a run whose
rank 0 is killed resumes to exactly the uninterrupted result, and one-batch with 3 ranks
equals the serial run. The default sampler (DREAM(ZS)) with small targets."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import calibrate_hooks

pytestmark = pytest.mark.mpi

if shutil.which("mpirun") is None:
    pytest.skip("mpirun not available", allow_module_level=True)
try:
    import mpi4py  # noqa: F401
except ImportError:
    pytest.skip("mpi4py not available", allow_module_level=True)

NML = """&calibrate
  profiles = 'synthetic'
  parameters = 'tau4s2', 'efolding', 'beta'
  output_dir = '{out}'
  run_name = 'mpi'
  figures = .false.
  checkpoint_interval = 0.0
  mode = '{mode}'
/
&mcmc
  sampler = 'dream_zs'
  n_chains = 8
  min_generations = 200
  ess_target = 100
  block_size = 100
  draws_saved = 20
/
&synthetic
  n_sites = 5
/
"""


BUILD_RACE = ("ninja: build stopped", "file too short", "meson-python: building", "rebuilding", "Error: Cannot open "
              "module file", "cannot find libsoc_core", "Cannot rename module file")


def warm_up():
    """Let one process bring the editable build up to date, so that the ranks started by
    mpirun do not rebuild it concurrently."""
    subprocess.run([sys.executable, "-c", "import pysoc._kernels.clm5"], capture_output=True, timeout=600)


@pytest.fixture(scope="module", autouse=True)
def _fresh_build():
    warm_up()


def launch(tmp_path: Path, name: str, nranks: int, inject: str = "", mode: str = "site_by_site"):
    out = tmp_path / name
    nml = tmp_path / f"{name}.nml"
    if not nml.exists():
        nml.write_text(NML.format(out=out, mode=mode))
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", PYSOC_CALIBRATE_INJECT=inject, OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1")
    # the CLI with the failure-injection hooks of tests/calibrate_hooks.py installed
    cmd = ["timeout", "120", "mpirun", "--oversubscribe", "-n", str(nranks), sys.executable, "-m", "mpi4py",
           calibrate_hooks.SCRIPT, str(nml)]
    for _ in range(3):
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=150)
        # in a checkout where Fortran sources change while the test runs, the editable
        # install rebuilds on import and ranks can race; retry (nothing else is retried)
        if p.returncode == 0 or not any(sig in p.stderr for sig in BUILD_RACE):
            break
        warm_up()
    return p, out / "mpi_posterior.nc"


def load(nc: Path) -> dict:
    out = {}
    for group in ("posterior", "sample_stats", "posterior_predictive", "log_likelihood", None):
        with xr.open_dataset(nc, group=group) as ds:
            for k, v in ds.data_vars.items():
                out[f"{group}/{k}"] = v.values
    return out


def assert_same(a: dict, b: dict, skip=("None/wall_time", "None/cpu_time", "None/rank")):
    assert set(a) == set(b)
    for k in a:
        if k in skip:
            continue
        if a[k].dtype.kind in "fiu":
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        else:
            assert list(a[k]) == list(b[k]), k


@pytest.fixture(scope="module")
def rank_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mpi")
    runs = {}
    for n in (1, 2, 3):
        p, nc = launch(tmp, f"n{n}", n, inject="site_error@syn003")
        assert p.returncode == 0, p.stderr[-3000:]
        runs[n] = (p, nc)
    return tmp, runs


def test_same_results_with_1_2_3_ranks(rank_runs):
    tmp, runs = rank_runs
    ref = load(runs[1][1])
    for n in (2, 3):
        assert_same(ref, load(runs[n][1]))
    with xr.open_dataset(runs[3][1]) as root:
        ranks = set(root["rank"].values.tolist()) - {-1}
        assert len(ranks) >= 2                          # the work really was shared
        # the failing site is recorded, the others are calibrated
        assert root["status"].values.tolist() == [0, 0, 1, 0, 0]
        assert "injected site failure" in str(root["error"].values[2])
    p = runs[3][0]
    assert "[rank 1/3]" in p.stderr and "progress 5/5 sites done (1 failed)" in p.stderr
    assert "sites calibrated: 4, failed: 1" in p.stdout


def test_exception_on_one_rank_aborts_cleanly(tmp_path):
    p, nc = launch(tmp_path, "abort", 2, inject="error@rank=1")
    assert p.returncode not in (0, 124), "job hung or succeeded"
    assert "pysoc-calibrate: error (rank 1 of 2): RuntimeError: injected failure on rank 1" in p.stderr
    assert not nc.exists()



def test_kill_and_resume_reproduces_uninterrupted_run(rank_runs):
    tmp, runs = rank_runs
    name = "kill"
    p, nc = launch(tmp, name, 2, inject="site_error@syn003,kill@block=9")
    assert p.returncode != 0 and not nc.exists()
    ckpt = tmp / name / "mpi.checkpoint"
    files = sorted(x.name for x in ckpt.iterdir())
    assert any(f.startswith("done_") for f in files), files
    progress = [x for x in ckpt.iterdir() if x.name.startswith("progress_")]
    assert progress and all((x / "state.pkl").is_file() for x in progress), files
    p, nc = launch(tmp, name, 2, inject="site_error@syn003")
    assert p.returncode == 0, p.stderr[-3000:]
    assert "resum" in p.stderr
    assert_same(load(runs[2][1]), load(nc))
    assert not ckpt.exists()



def test_one_batch_allreduce_matches_serial(tmp_path):
    p, nc = launch(tmp_path, "batch", 3, mode="one_batch")
    assert p.returncode == 0, p.stderr[-3000:]
    from pysoc.cli.calibrate import config_from_namelist, load_namelist, load_profiles
    from pysoc.da import run as da_run
    nml, model = load_namelist(tmp_path / "batch.nml")
    cfg = config_from_namelist(nml, model, str(tmp_path / "batch.nml"))
    from dataclasses import replace
    cfg = replace(cfg, output_dir=str(tmp_path / "serial"), progress=False)
    da_run.run_calibration(cfg, load_profiles(nml, cfg, str(tmp_path / "batch.nml")))
    assert_same(load(tmp_path / "serial" / "mpi_posterior.nc"), load(nc))

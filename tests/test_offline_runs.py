"""Many columns per pysoc-run (batched steady states bitwise equal to one site at a time,
transients column by column, failures per column, MPI ranks), output frequency and the
up-front size and memory limits, progress during long kernel calls."""

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import synthetic_forcing
from ctsm_layout import history

from pysoc.cli.run import TimedProgress
from pysoc.cli.run import main as run_main
from pysoc.io import history as hist
from pysoc.models import get_model
from pysoc.models.base import SoilCarbonModel

REPO = Path(__file__).resolve().parents[1]


def nml(tmp_path, name, body):
    p = tmp_path / f"{name}.nml"
    p.write_text(body)
    return p


def two_sites(model):
    """Synthetic sites 1 and 2 stacked along 'column' (site 2 with a zero water scalar in
    column 2: no decomposition, singular)."""
    a, b = synthetic_forcing(model, 1), synthetic_forcing(model, 2)
    dead = b.copy(deep=True)
    dead["w_scalar"][:] = 0.0
    return xr.concat([a, b, dead], dim="column", data_vars="all", coords="minimal", compat="override")


@pytest.mark.parametrize("name", ["clm5", "compas"])
def test_batched_columns_equal_single_sites_bitwise(name):
    m = get_model(name)
    f = two_sites(m)
    val, ok, bad = m.validate_columns(f, "stack")
    assert list(ok) == [0, 1, 2] and not bad
    theta = m.param_vector(warn_prior=False)
    batch = m.steady_state_columns(val, theta)
    loop = SoilCarbonModel.steady_state_columns(m, val, theta)          # one site at a time
    for v in ("cpools", "soc_stock", "pool_stock", "litter_stock", "rh", "residence_time", "status"):
        np.testing.assert_array_equal(batch[v].values, loop[v].values, err_msg=v)
    one = m.steady_state(synthetic_forcing(m, 2), theta, errors="ignore")
    np.testing.assert_array_equal(batch.soc_stock.values[1], one.soc_stock.values)
    assert int(batch.status[2]) != 0                                     # w_scalar = 0: singular


def test_column_forcing_in_pysoc_format_through_pysoc_run(tmp_path, capsys):
    m = get_model("clm5")
    two_sites(m).to_netcdf(tmp_path / "cols.nc")
    p = nml(tmp_path, "cols", "&run\n  forcing_file = 'cols.nc'\n  output_file = 'cols_out.nc'\n/\n"
                              "&output\n  chunk_columns = 2\n/\n")
    assert run_main([str(p)]) == 0
    err = capsys.readouterr().err
    assert "column 2: kernel status singular" in err
    with xr.open_dataset(tmp_path / "cols_out.nc") as ds:
        assert list(ds.status.values) == [0, 0, 4] and np.isnan(ds.cpools.values[2]).all()
    # transient column by column: the singular column cannot start from its steady state
    p = nml(tmp_path, "tr", "&run\n  mode = 'transient'\n  forcing_file = 'cols.nc'\n  output_file = 'tr.nc'\n/\n"
                            "&transient\n  n_years = 3\n/\n&output\n  frequency = 'annual'\n  last_years = 2\n/\n")
    assert run_main([str(p)]) == 0
    assert "column 2: " in capsys.readouterr().err
    with xr.open_dataset(tmp_path / "tr.nc") as ds:
        assert ds.sizes["time"] == 2 and list(ds.status.values) == [0, 0, 10]
        assert "steady state cannot be the initial state" in str(ds.column_message.values[2])
        single = m.transient(synthetic_forcing(m, 1), m.param_vector(warn_prior=False), n_years=3)
        ref = hist.reduce(single, "annual", 2)
        np.testing.assert_array_equal(ds.soc_stock.values[0], ref.soc_stock.values)


def test_generic_column_path_for_mimics_and_century(tmp_path):
    """Kernels without a batched steady state run column by column through the same CLI."""
    pkg = REPO / "pysoc" / "data"
    for name, src, opts in (("mimics", pkg / "mimics" / "forcing_bartlett_B2.nc", "&mimics\n  check_stability = "
                                                                                   ".false.\n/\n"),
                            ("century", pkg / "century" / "haibei_forcing.nc", "")):
        with xr.open_dataset(src) as f:
            stack = xr.concat([f.load()] * 2, dim="column", data_vars="all", coords="minimal", compat="override")
        stack.to_netcdf(tmp_path / f"{name}_cols.nc")
        p = nml(tmp_path, name, f"&run\n  model = '{name}'\n  forcing_file = '{name}_cols.nc'\n  output_file = "
                                f"'{name}_out.nc'\n  progress = .false.\n/\n{opts}")
        assert run_main([str(p)]) == 0
        with xr.open_dataset(tmp_path / f"{name}_out.nc") as ds:
            assert ds.sizes["column"] == 2 and list(ds.status.values) == [0, 0]
            np.testing.assert_array_equal(ds.soc_stock.values[0], ds.soc_stock.values[1])


def test_shipped_ctsm_namelists_run(tmp_path):
    for name in ("clm5_ctsm_steady_state.nml", "clm5_ctsm_transient.nml"):
        text = (REPO / "namelists" / name).read_text().replace("../output/", f"{tmp_path}/")
        p = nml(tmp_path, name[:-4], text.replace("&run\n", "&run\n  progress = .false.\n", 1))
        assert run_main([str(p)]) == 0
        with xr.open_dataset(tmp_path / name.replace(".nml", ".nc")) as ds:
            assert ds.sizes["column"] == 48 and int((ds.status == 0).sum()) == 47 and int(ds.status[7]) == 9
            if "time" in ds.dims:
                assert ds.sizes["time"] == 2 and int(ds.time.dt.year[0]) == 2000     # annual means of 2000, 2001


def test_annual_means_and_last_years():
    m = get_model("clm5")
    tr = m.transient(synthetic_forcing(m, 2), m.param_vector(warn_prior=False), n_years=3, initial="zero")
    a = hist.reduce(tr, "annual")
    assert a.sizes["time"] == 3 and a.rh.attrs["cell_methods"] == "time: sum"
    np.testing.assert_allclose(a.rh.values, tr.rh.values.reshape(3, 12, 7).sum(axis=1))     # amounts summed
    w = tr.days.values.reshape(3, 12)[:, :, None]
    np.testing.assert_allclose(a.soc_stock.values, (tr.soc_stock.values.reshape(3, 12, 4) * w).sum(1) / w.sum(1))
    np.testing.assert_allclose(a.time_bnds.values, [[0, 365], [365, 730], [730, 1095]])
    last = hist.reduce(tr, "monthly", last_years=1)
    assert last.sizes["time"] == 12 and float(last.time_bnds[0, 0]) == 730.0
    assert hist.output_steps(36, 12, "annual", 0) == 3 and hist.output_steps(36, 12, "monthly", 1) == 12


def test_size_and_memory_limits_before_the_run(tmp_path, capsys):
    base = ("&run\n  mode = 'transient'\n  forcing_file = 'pkgdata:forcing/clm5_synthetic_site2.nc'\n"
            "  output_file = 'big.nc'\n/\n&transient\n  n_years = 100000\n  initial = 'zero'\n/\n")
    t0 = time.monotonic()
    assert run_main([str(nml(tmp_path, "big", base))]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "&output max_output_mb = 2000" in err[0] and "1200000 steps" in err[0]
    assert run_main([str(nml(tmp_path, "big2", base + "&output\n  frequency = 'annual'\n/\n"))]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "&output max_memory_mb = 4000" in err[-1] and "raise max_memory_mb" in err[-1]
    assert time.monotonic() - t0 < 30            # refused up front, from a one-year probe
    assert not (tmp_path / "big.nc").exists()


def test_progress_runs_while_the_kernel_runs(capsys):
    """The kernels release the GIL, so the clock-driven bar advances during one long call."""
    m = get_model("mimics", n_layers=4, layer_thickness=0.1, substep_hours=1.0, radiocarbon=False)
    f = m.forcing_dataset(np.full((12, 4), 10.0), 0.2, 300.0, 300.0, 20.0, 35.0, attrs={"lat": 45.0})
    ticks = []
    stop = threading.Event()
    thread = threading.Thread(target=lambda: [ticks.append(1) for _ in iter(lambda: stop.wait(0.01), True)])
    thread.start()
    t0 = time.monotonic()
    m.transient(f, n_years=3)
    dt = time.monotonic() - t0
    stop.set()
    thread.join()
    assert len(ticks) > 0.3 * dt / 0.01
    with TimedProgress(2.5, True, "demo"):
        time.sleep(1.2)
    err = capsys.readouterr().err
    assert "demo" in err and "(estimated)" in err


@pytest.mark.mpi
@pytest.mark.skipif(shutil.which("mpirun") is None, reason="mpirun not available")
def test_mpirun_two_ranks_equal_serial(tmp_path):
    history(12, 1, seed=9, spval_columns=(3,)).to_netcdf(tmp_path / "h0.nc")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OMP_NUM_THREADS="1")
    subprocess.run([sys.executable, "-c", "import pysoc._kernels.clm5"], capture_output=True, timeout=600)
    outs = {}
    for mode, extra in (("steady_state", "&output\n  chunk_columns = 3\n/\n"), ("transient", "")):
        for n in (1, 2):
            p = nml(tmp_path, f"{mode}{n}", f"&run\n  mode = '{mode}'\n  forcing_file = 'h0.nc'\n  output_file = "
                                            f"'{mode}{n}.nc'\n  progress = .false.\n/\n{extra}")
            cmd = ["timeout", "300", "mpirun", "--oversubscribe", "-n", str(n), sys.executable, "-m", "mpi4py", "-m",
                   "pysoc.cli.run", str(p)]
            r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=330)
            assert r.returncode == 0, r.stderr
            with xr.open_dataset(tmp_path / f"{mode}{n}.nc") as ds:
                outs[mode, n] = ds.load()
        a, b = outs[mode, 1], outs[mode, 2]
        for v in a.data_vars:
            np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=f"{mode} {v}")
        assert list(a.status.values).count(9) == 1

"""pysoc-run: namelist-driven runs, clear one-line errors, no partial outputs."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from pysoc.cli.run import main as run_main
from pysoc.io import netcdf

REPO = Path(__file__).resolve().parents[1]


def write_nml(tmp_path, body, name="run.nml"):
    p = tmp_path / name
    p.write_text(body)
    return p


BASE = """&run
  model = 'clm5'
  mode = 'steady_state'
  forcing_file = 'pkgdata:forcing/clm5_synthetic_site1.nc'
  output_file = 'out.nc'
  parameter_set = 'prior_mid'
/
"""


def test_shipped_namelists_run(tmp_path, capsys):
    for name in ("clm5_steady_state.nml", "clm5_transient.nml"):
        text = (REPO / "namelists" / name).read_text()
        text = text.replace("../output/", str(tmp_path) + "/")
        nml = write_nml(tmp_path, text, name)
        assert run_main([str(nml)]) == 0
        out = capsys.readouterr().out
        assert "SOC stock" in out and "mass-balance residual" in out
    ds = xr.open_dataset(tmp_path / "clm5_steady_state.nc")
    assert ds.attrs["Conventions"] == "CF-1.8"
    assert ds.cpools.attrs["units"] == "g m-3"
    assert ds.soc_stock.attrs["units"] == "g m-2"
    assert ds.soc_stock.attrs["standard_name"] == "carbon_mass_content_of_soil_layer"
    assert ds.depth.attrs["positive"] == "down" and "depth_bnds" in ds
    params = netcdf.parameters_of(ds)
    assert "&run" in ds.attrs["namelist"] and params["q10"][1] == "1"
    assert params["tau4s2"][1] == "yr"                        # every parameter has its own units
    assert abs(float(ds.mass_balance_residual)) < 1e-12 * float(ds.input)   # g m-2 yr-1, relative 1e-12
    tr = xr.open_dataset(tmp_path / "clm5_transient.nc")
    assert tr.sizes["time"] == 600 and tr.rh.attrs["units"] == "g m-2"
    assert tr.rh.attrs["cell_methods"] == "time: sum"            # amount during the month
    assert tr.time.dt.calendar == "noleap" and tr.time.dt.month.values[:2].tolist() == [1, 2]


def test_overrides_by_name_and_kp(tmp_path):
    nml = write_nml(tmp_path, BASE + "&parameters\n  q10 = 2.0\n/\n&kp\n  beta = 0.0\n/\n")
    assert run_main([str(nml)]) == 0
    ds = xr.open_dataset(tmp_path / "out.nc")
    params = netcdf.parameters_of(ds)
    assert params["q10"][0] == 2.0 and params["beta"][0] == pytest.approx(0.5)




ERRORS = [
    # (namelist text, expected fragments of the one error line)
    (BASE + "&clm5\n  gird = 'clm5_20'\n/\n", ["&clm5 gird", "unknown key"]),
    (BASE + "&bogus\n  x = 1\n/\n", ["unknown namelist group &bogus"]),
    (BASE + "&parameters\n  tau_l1 = 0.1\n/\n", ["&parameters tau_l1", "unknown parameter"]),
    (BASE + "&parameters\n  taul1 = -0.1\n/\n", ["taul1", "physical domain"]),
    (BASE + "&parameters\n  diffus = -1e-4\n/\n", ["diffus", "physical domain"]),
    (BASE + "&parameters\n  fl1s1 = 1.5\n/\n", ["fl1s1", "[0, 1]"]),
    (BASE + "&parameters\n  beta = 1.0\n/\n", ["beta", "(0, 1)"]),
    (BASE + "&clm5\n  grid = 'clm5_99'\n/\n", ["&clm5 grid", "not one of"]),
    (BASE.replace("steady_state'", "steady'", 1), ["&run mode", "not one of"]),
    (BASE.replace("clm5_synthetic_site1.nc", "nope.nc"), ["nope.nc", "forcing file not found"]),
    (BASE.replace("parameter_set = 'prior_mid'", "parameter_set = 'nope'"), ["unknown parameter set 'nope'"]),
    (BASE + "&clm5\n  substeps = 0\n/\n", ["&clm5 substeps", "minimum"]),
]


@pytest.mark.parametrize("text,fragments", ERRORS)
def test_bad_namelists_give_one_clear_line_and_no_output(tmp_path, capsys, text, fragments):
    nml = write_nml(tmp_path, text)
    assert run_main([str(nml)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pysoc-run: error:"), err
    for frag in fragments:
        assert frag in err[0], (frag, err[0])
    assert not (tmp_path / "out.nc").exists()
    assert not list(tmp_path.glob(".out.nc.*"))


def test_bad_forcing_file_names_file_and_variable(tmp_path, capsys):
    src = xr.open_dataset(REPO / "pysoc" / "data" / "forcing" / "clm5_synthetic_site1.nc").load()
    bad = src.assign(w_scalar=src.w_scalar.where(src.level != 5))
    bad.to_netcdf(tmp_path / "bad.nc")
    nml = write_nml(tmp_path, BASE.replace("pkgdata:forcing/clm5_synthetic_site1.nc", "bad.nc"))
    assert run_main([str(nml)]) == 2
    err = capsys.readouterr().err
    assert "bad.nc" in err and "w_scalar" in err and "NaN" in err
    assert not (tmp_path / "out.nc").exists()


def test_console_script_exit_status(tmp_path):
    nml = write_nml(tmp_path, BASE + "&clm5\n  nope = 1\n/\n")
    exe = Path(sys.executable).parent / "pysoc-run"
    r = subprocess.run([str(exe), str(nml)], capture_output=True, text=True)
    assert r.returncode == 2 and "unknown key" in r.stderr and "Traceback" not in r.stderr


def test_describe_namelist_documents_every_key(capsys):
    assert run_main(["--describe-namelist", "clm5"]) == 0
    text = capsys.readouterr().out
    for key in ("forcing_file", "n_years", "normalize_q10_to_century_tfunc", "substeps", "advection"):
        assert f"`{key}`" in text
    np.testing.assert_equal("default" in text, True)

"""CTSM history files (written here in the h0 layout) as pysoc forcing: variables, units and
their conversion, levels, time, fill values, missing variables naming the CTSM name and the
alternatives; and through pysoc-run with the input's dimensions kept."""

import numpy as np
import pytest
import xarray as xr
from ctsm_layout import DZSOI, LEVGRND, history

from pysoc.cli.run import main as run_main
from pysoc.errors import ConfigError, DataError
from pysoc.io import ctsm
from pysoc.models import get_model
from pysoc.models.clm5 import ctsm_table

DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31.0])


@pytest.fixture(scope="module")
def clm5():
    return get_model("clm5")


def write(tmp_path, ds, name="h0.nc"):
    ds.to_netcdf(tmp_path / name)
    return tmp_path / name


def test_column_history_maps_names_units_and_levels(tmp_path, clm5):
    h = history(3, 2, seed=5)
    f = clm5.ctsm_forcing(write(tmp_path, h))
    assert f.tsoi.dims == ("time", "level", "column") and f.sizes["level"] == 20    # 5 bedrock levels dropped
    np.testing.assert_allclose(f.tsoi.values, h.TSOI.values[:, :20], rtol=1e-6)
    np.testing.assert_allclose(f.fpi.values, h.FPI_vr.values[:, :20], rtol=1e-6)
    assert f.attrs["ctsm_start_year"] == 1 and list(f.month.values[:13]) == list(range(1, 13)) + [1]
    # litter: gC/m^3/s on levdcmp x DZSOI x 86400 s x days of the month = g m-2 month-1 per type
    vec = h.LITR2_INPUT_ACC_VECTOR.values.astype(float)                             # (time, lev, col)
    expect = (vec * DZSOI[None, :, None]).sum(axis=1) * 86400.0 * np.tile(DAYS, 2)[:, None]
    np.testing.assert_allclose(f.litter_input.sel(litter_type="L2").values, expect, rtol=1e-5)
    annual = f.litter_input.isel(time=slice(0, 12)).sum(("time", "litter_type")).values
    np.testing.assert_allclose(annual, ctsm_npp(3, seed=5), rtol=1e-4)              # the NPP that went in
    assert float(f.lat[0]) == 30.0 and "cols1d_itype_lunit" in f.coords
    val, ok, bad = clm5.validate_columns(f, "h0.nc")
    assert list(ok) == [0, 1, 2] and not bad


def ctsm_npp(ncol, seed):
    import ctsm_layout

    return ctsm_layout._mod.fields(ncol, 1, seed)["npp"]


def test_gridded_history_and_degc_and_missing_lastyear(tmp_path, clm5):
    h = history(4, 1, layout="grid").drop_vars("ALTMAX_LASTYEAR")
    h["TSOI"] = h.TSOI - 273.15
    h["TSOI"].attrs["units"] = "degC"
    f = clm5.ctsm_forcing(write(tmp_path, h))
    assert f.tsoi.dims == ("time", "level", "lat", "lon") and float(f.tsoi.min()) > 250.0
    np.testing.assert_allclose(f.altmax_lastyear.values, f.altmax.values)          # first year: its own maximum


def test_missing_variable_names_ctsm_variable_and_alternatives(tmp_path, clm5):
    with pytest.raises(DataError, match=r"missing CTSM variable 'W_SCALAR' \(pysoc 'w_scalar'"):
        clm5.ctsm_forcing(write(tmp_path, history(2, drop=("W_SCALAR",))))
    with pytest.raises(DataError, match=r"'CWD_INPUT_ACC_VECTOR'.*litter_variables"):
        clm5.ctsm_forcing(write(tmp_path, history(2, drop=("CWD_INPUT_ACC_VECTOR",)), "b.nc"))
    with pytest.raises(DataError, match=r"'nbedrock'.*&ctsm nbedrock"):
        clm5.ctsm_forcing(write(tmp_path, history(2, drop=("nbedrock",)), "c.nc"))
    f = clm5.ctsm_forcing(tmp_path / "c.nc", nbedrock=12)
    assert (f.nbedrock.values == 12).all()
    # optional fields: O_SCALAR absent -> 1 when validated; FPI_vr absent -> FPI (column value)
    h = history(2, drop=("O_SCALAR", "FPI_vr"))
    h["FPI"] = (("time", "column"), np.full((12, 2), 0.7, np.float32), {"units": "proportion"})
    f = clm5.ctsm_forcing(write(tmp_path, h, "d.nc"))
    val, _, _ = clm5.validate_columns(f, "d.nc")
    assert float(val.o_scalar.min()) == 1.0 and np.allclose(val.fpi.values, 0.7)


def test_levels_rule_match_or_interpolate(tmp_path, clm5):
    h = history(2)
    path = write(tmp_path, h)
    ten = get_model("clm5", grid="clm45_10")
    with pytest.raises(DataError, match=r"levgrnd node depth 0.01 m at level 1 differs .* 'interpolate'"):
        ten.ctsm_forcing(path)
    f = ten.ctsm_forcing(path, levels="interpolate")
    expect = np.interp(ten.zsoi, LEVGRND, h.TSOI.values[3, :, 1].astype(float))
    np.testing.assert_allclose(f.tsoi.values[3, :, 1], expect, rtol=1e-6)
    # one decomposition level (CTSM without vertical soil carbon): broadcast to every layer
    one = history(2).isel(levdcmp=[0])
    f = clm5.ctsm_forcing(write(tmp_path, one, "one.nc"))
    assert (f.w_scalar.values == f.w_scalar.values[:, :1, :]).all()


def test_time_must_be_whole_years_from_january(tmp_path, clm5):
    h = history(2, 2).isel(time=slice(3, 15))
    with pytest.raises(DataError, match=r"starts in 0001-04 .* January"):
        clm5.ctsm_forcing(write(tmp_path, h))
    h = history(2, 2).isel(time=[0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12])
    with pytest.raises(DataError, match=r"not consecutive months"):
        clm5.ctsm_forcing(write(tmp_path, h, "gap.nc"))


def test_monthly_files_by_glob_and_units_parsing(tmp_path, clm5):
    h = history(2, 1, start_year=1850)
    for m in range(12):
        h.isel(time=[m]).to_netcdf(tmp_path / f"case.clm2.h0.1850-{m + 1:02d}.nc")
    f = clm5.ctsm_forcing(str(tmp_path / "case.clm2.h0.*.nc"))
    assert f.sizes["time"] == 12 and f.attrs["ctsm_start_year"] == 1850
    assert ctsm.parse_flux_units("g C m-2 s-1") == (1.0, 2, 86400.0)
    assert ctsm.parse_flux_units("kgC/m3/yr") == (1000.0, 3, 1 / 365.0)
    with pytest.raises(ValueError):
        ctsm.parse_flux_units("gC/m^3")                      # an amount, not a flux
    assert "T_SCALAR" in ctsm_table() and "`TSOI`" in ctsm_table()


def test_pysoc_run_on_ctsm_columns_reports_failures_and_keeps_dims(tmp_path, capsys):
    h = history(5, 1, seed=3, spval_columns=(1,))
    h["W_SCALAR"][:, 4, 3] = np.nan                          # one bad value in column 3
    h.to_netcdf(tmp_path / "h0.nc")
    (tmp_path / "run.nml").write_text("&run\n  model = 'compas'\n  forcing_file = 'h0.nc'\n"
                                      "  output_file = 'out.nc'\n  progress = .false.\n/\n")
    assert run_main([str(tmp_path / "run.nml")]) == 0
    err = capsys.readouterr().err
    assert "column 3:" in err and "w_scalar" in err and "NaN" in err
    assert "1 of 5 columns have no data" in err
    # COMPAS at the prior middle has no valid steady state in columns 0 and 4 of this forcing
    assert "column 0: kernel status invalid_solution" in err and "low_total_to_mic_ratio" in err
    with xr.open_dataset(tmp_path / "out.nc") as ds:
        assert ds.sizes["column"] == 5 and list(ds.status.values) == [6, 9, 0, 8, 6]
        assert "w_scalar" in str(ds.column_message.values[3]) and str(ds.column_message.values[2]) == ""
        assert np.isnan(ds.soc_stock.values[[0, 1, 3, 4]]).all() and np.isfinite(ds.soc_stock.values[2]).all()
        assert (ds.cols1d_ixy.values == np.arange(1, 6)).all()
    # every column unusable: exit 2, one line, no output
    bad = history(2, 1, spval_columns=(0, 1))
    bad.to_netcdf(tmp_path / "bad.nc")
    (tmp_path / "bad.nml").write_text("&run\n  forcing_file = 'bad.nc'\n  output_file = 'bad_out.nc'\n/\n")
    assert run_main([str(tmp_path / "bad.nml")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1].startswith("pysoc-run: error:") and "no column" in lines[-1]
    assert not (tmp_path / "bad_out.nc").exists()


def test_ctsm_forcing_is_a_model_capability(tmp_path, clm5, capsys):
    """io.ctsm reads CTSM history without knowing a model's layout; the model maps it
    (capability ctsm_forcing); pysoc-run refuses a model without it in one line."""
    path = write(tmp_path, history(2, seed=1))
    h = ctsm.read_history(path)
    assert isinstance(h, ctsm.History) and h.space == ("column",) and h.months.tolist() == list(range(1, 13))
    xr.testing.assert_identical(clm5.ctsm_forcing(h), clm5.ctsm_forcing(path))
    assert list(clm5.ctsm_forcing(h).litter_type.values) == list(clm5.litter_pools)
    assert get_model("compas").provides("ctsm_forcing") and not get_model("mimics").provides("ctsm_forcing")
    with pytest.raises(ConfigError, match=r"expected 4 names \(CWD, L1, L2, L3\)"):
        clm5.ctsm_forcing(h, litter_variables=["CWD_INPUT_ACC_VECTOR"])
    with pytest.raises(ConfigError, match="&ctsm levels"):
        clm5.ctsm_forcing(h, levels="nearest")
    (tmp_path / "m.nml").write_text(f"&run\n  model = 'mimics'\n  forcing_file = '{path}'\n  forcing_format = 'ctsm'\n"
                                    "  output_file = 'out.nc'\n/\n")
    assert run_main([str(tmp_path / "m.nml")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "forcing_format = 'ctsm'" in lines[0] and "'mimics'" in lines[0]
    assert not (tmp_path / "out.nc").exists()

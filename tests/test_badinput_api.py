"""Bad input of the Python API (issue 15): one-line PysocErrors naming the file, variable,
parameter and range; NaN (never 0.0) outputs in failed rows of ``evaluate`` with the ok rows
bitwise unchanged; forcing given as a path; explicit unit conversion; atomic writes whose
temporary files are visible and cleaned."""

import os
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from pysoc.errors import ConfigError, DataError, InputTypeError, ParameterError, PysocError
from pysoc.forcing import check_netcdf_file, open_netcdf
from pysoc.io.atomic import atomic_path, check_output_dir, check_output_file, remove_stale_parts
from pysoc.io.namelist import PKGDATA, Group, open_items, read_raw, resolve_path
from pysoc.models import REGISTRY, get_model, model_class
from pysoc.params import ParameterSpec, ParameterTable, increasing, positive, sum_at_most

FORCING = {"clm5": PKGDATA / "forcing" / "clm5_synthetic_site1.nc",
           "compas": PKGDATA / "forcing" / "clm5_synthetic_site1.nc",
           "mimics": PKGDATA / "mimics" / "forcing_bartlett_B2.nc",
           "century": PKGDATA / "century" / "haibei_forcing.nc"}
FORCING.update({n: resolve_path(model_class(n).example_forcing, PKGDATA) for n in REGISTRY   # newer kernels
                if n not in FORCING and getattr(model_class(n), "example_forcing", None)})
MODELS = sorted(REGISTRY)
pytestmark = pytest.mark.filterwarnings("ignore::pysoc.params.OutsidePriorWarning")


def one_line(exc) -> str:
    text = str(exc.value if hasattr(exc, "value") else exc)
    assert "\n" not in text and text, text
    return text


@pytest.fixture(scope="module")
def loaded():
    out = {}
    for name in MODELS:
        m = get_model(name)
        out[name] = (m, m.load_forcing(FORCING[name]))
    return out


# ---- evaluate ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", MODELS)
def test_evaluate_empty_batch_and_wrong_types(loaded, name):
    m, f = loaded[name]
    n = len(m.parameters)
    with pytest.raises(ParameterError) as e:
        m.evaluate(f, np.zeros((0, n)))
    assert f"{name} parameters: no parameter vector given (shape (0, {n}))" in one_line(e)
    with pytest.raises(ParameterError) as e:
        m.evaluate(f, np.zeros((2, n + 1)))
    assert f"expected shape (nset, {n})" in one_line(e)
    for bad in (None, 3.0):
        with pytest.raises(InputTypeError) as e:
            m.evaluate(bad, m.parameters.defaults)
        assert isinstance(e.value, TypeError) and f"{name}.evaluate: forcing must be an xarray.Dataset" in one_line(e)


@pytest.mark.parametrize("name", MODELS)
def test_failed_rows_are_nan_and_ok_rows_bitwise(loaded, name):
    m, f = loaded[name]
    ok = m.param_vector(warn_prior=False)
    bad = -np.abs(ok) - 1.0                                # outside the physical domain: the kernel rejects it
    res = m.evaluate(f, np.vstack([ok, bad, ok]))
    alone = m.evaluate(f, ok[None])
    assert res.status[0] == 0 and res.status[2] == 0 and res.status[1] != 0
    for key, value in alone.outputs.items():
        a = np.asarray(res.outputs[key])
        if a.dtype.kind != "f" or a.ndim == 0 or key in m.diagnostic_outputs:
            continue
        np.testing.assert_array_equal(a[0], np.asarray(value)[0], err_msg=key)     # ok rows bitwise
        assert np.isnan(a[1]).all(), key                                         # failed row: NaN, not 0.0


# ---- single runs: forcing as a path, wrong types, invalid in-memory forcing ------------------------------------------
@pytest.mark.parametrize("name", MODELS)
def test_single_runs(loaded, name, tmp_path):
    m, f = loaded[name]
    a = m.steady_state(str(FORCING[name]))
    b = m.steady_state(f)
    np.testing.assert_array_equal(a["soc_stock"].values, b["soc_stock"].values)
    for call in (m.steady_state, m.transient):
        with pytest.raises(InputTypeError) as e:
            call(None)
        assert f"{name}.{call.__name__}: forcing must be" in one_line(e) and "got None" in str(e.value)
    with pytest.raises(DataError) as e:
        m.steady_state(tmp_path / "absent.nc")
    assert "absent.nc: forcing file not found" in one_line(e)
    var = next(v for v in m.forcing_schema.variables.values() if "time" in v.dims)
    nan = f.copy(deep=True)
    nan[var.name].values[(0,) * nan[var.name].ndim] = np.nan
    with pytest.raises(DataError) as e:
        m.transient(nan)
    assert f"variable '{var.name}'" in one_line(e) and "NaN" in str(e.value)
    with pytest.raises(DataError) as e:
        m.steady_state(f.isel(time=slice(0, 0)))
    assert "dimension 'time' has length 0 (no time steps)" in one_line(e)


def test_in_memory_nan_named_by_the_steady_state(loaded):
    m, f = loaded["clm5"]
    g = f.copy(deep=True)
    g["w_scalar"].values[3, 2] = np.nan
    with pytest.raises(DataError) as e:
        m.steady_state(g)
    assert "variable 'w_scalar': 1 NaN/non-finite value(s), first at index {'time': 3, 'level': 2}" in one_line(e)


def test_constraints_through_the_api(loaded):
    m, f = loaded["clm5"]
    with pytest.raises(ParameterError) as e:
        m.steady_state(f, {"FS1S2": 0.8, "fs1s3": 0.6})
    assert "clm5 parameters fs1s2 + fs1s3 = 0.8 + 0.6 = 1.4 exceeds 1" in one_line(e)
    t = m.parameters
    theta = t.vector(overrides={"fs1s2": 0.8, "fs1s3": 0.6})
    assert t.constraint_problems(theta) == ["fs1s2 + fs1s3 = 0.8 + 0.6 = 1.4 exceeds 1 (fractions of fast SOM "
                                            "passed to slow and passive SOM)"]
    assert t.check(theta, warn_prior=False, free=["FS1S2"]) is not None          # a calibrated one: left out


def test_every_named_parameter_set_satisfies_its_constraints():
    for name in MODELS:
        t = get_model(name).parameters
        for s in t.named_sets:
            assert t.constraint_problems(t.vector(s)) == [], (name, s)


# ---- units ----------------------------------------------------------------------------------------------------------
def test_units_are_required_or_converted_explicitly(loaded):
    m, f = loaded["clm5"]
    with xr.open_dataset(FORCING["clm5"]) as src:      # closed: an unclosed handle of a file that is opened
        raw = src.load()                                # again later can crash netCDF4 at garbage collection
    c = raw.copy()
    c["tsoi"] = (raw["tsoi"] - 273.15).assign_attrs(units="degC")
    v = m.validate_forcing(c)
    np.testing.assert_allclose(v["tsoi"].values, f["tsoi"].values, rtol=0, atol=1e-12)
    assert v["tsoi"].attrs["units"] == "K"
    c["tsoi"] = c["tsoi"] + 200.0                                        # a degC value far out of range
    with pytest.raises(DataError) as e:
        m.validate_forcing(c)
    assert "variable 'tsoi' (units 'degC' converted to K): maximum" in one_line(e)
    n = raw.copy()
    n["tsoi"].attrs = {}
    with pytest.raises(DataError) as e:
        m.validate_forcing(n)
    assert "variable 'tsoi': no 'units' attribute; expected 'K'" in one_line(e)
    n = raw.copy()
    n["w_scalar"].attrs = {}                                             # dimensionless: no units needed
    m.validate_forcing(n)
    mim, fm = loaded["mimics"]
    k = fm.copy()
    k["tsoi"] = (fm["tsoi"] + 273.15).assign_attrs(units="K")           # MIMICS takes degC
    np.testing.assert_allclose(mim.validate_forcing(k)["tsoi"].values, fm["tsoi"].values, atol=1e-12)


def test_netcdf_files(tmp_path):
    (tmp_path / "empty.nc").write_bytes(b"")
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    (tmp_path / "junk.nc").write_bytes(bytes(range(256)))
    cases = [(tmp_path / "empty.nc", "empty (0 bytes)"), (tmp_path / "t.csv", "looks like a text or CSV file"),
             (tmp_path / "junk.nc", "is not a NetCDF file"), (tmp_path, "is a directory"),
             (tmp_path / "absent.nc", "forcing file not found")]
    for path, frag in cases:
        with pytest.raises(DataError) as e:
            open_netcdf(path)
        assert str(path) in one_line(e) and frag in str(e.value)
    assert check_netcdf_file(FORCING["clm5"]) == FORCING["clm5"]


# ---- parameter names -------------------------------------------------------------------------------------------------
def test_parameter_names_case_insensitive():
    t = get_model("century").parameters
    assert t.lookup("prdx(1)") == "PRDX(1)" and t.lookup("FLIGNI (2,1)") == "FLIGNI(2,1)" and t.lookup("prdx") is None
    assert t.index("dec4") == t.index("DEC4")
    with pytest.raises(ParameterError) as e:
        t.index("dec9")
    assert "century: unknown parameter 'dec9'" in one_line(e)
    with pytest.raises(ValueError):
        ParameterTable("x", (ParameterSpec("A", "1", 1, 0, 2, ""), ParameterSpec("a", "1", 1, 0, 2, "")))


def test_namelist_array_elements():
    names = {"ppdf(1)": "PPDF(1)", "ppdf(2)": "PPDF(2)", "fligni(1,1)": "FLIGNI(1,1)", "fligni(2,1)": "FLIGNI(2,1)",
             "fligni(1,2)": "FLIGNI(1,2)", "dec4": "DEC4"}
    g = Group("parameters", (), "", open_keys=lambda k, v, w: v, open_names=names.get)
    assert open_items(g, "ppdf", [1.0, 2.0], None, "") == [("PPDF(1)", 1.0), ("PPDF(2)", 2.0)]
    assert open_items(g, "ppdf", [None, 2.0], [1], "") == [("PPDF(2)", 2.0)]
    assert open_items(g, "ppdf", 5.0, None, "") == [("PPDF(1)", 5.0)]                 # element 1, as in Fortran
    assert open_items(g, "fligni", [[None, 0.5], [0.7]], [1, 1], "") == [("FLIGNI(2,1)", 0.5), ("FLIGNI(1,2)", 0.7)]
    assert open_items(g, "dec4", 0.1, None, "") == [("DEC4", 0.1)]
    assert open_items(g, "nope", 0.1, None, "") == [("nope", 0.1)]                      # open_keys names it
    with pytest.raises(ConfigError) as e:
        open_items(g, "fligni", [1.0, 2.0], None, "f.nml: &parameters fligni")
    assert "one by one" in one_line(e)


def test_read_raw_errors(tmp_path):
    (tmp_path / "a.nml").write_text("&p\n  x(1) = 1.0, 2.0\n/\n")
    with pytest.raises(ConfigError) as e:
        read_raw(tmp_path / "a.nml")
    assert "a.nml: value 2.0 is not assigned to any variable" in one_line(e)
    (tmp_path / "b.nml").write_bytes(b"\xff\xfe&p x=1 /")
    with pytest.raises(ConfigError) as e:
        read_raw(tmp_path / "b.nml")
    assert "b.nml" in one_line(e)


def test_constraint_builders():
    c = sum_at_most(("a", "b"), 1.0, "why")
    assert c.message([0.7, 0.5]) == "a + b = 0.7 + 0.5 = 1.2 exceeds 1 (why)"
    assert increasing(("a", "b", "c")).violated(np.array([[1, 2, 3], [1, 3, 2]])).tolist() == [False, True]
    assert increasing(("a", "b"), strict=False).violated(np.array([[1.0, 1.0]])).tolist() == [False]
    p = positive(("a",), lambda a: a - 1, "a - 1")
    assert p.message([0.5]) == "a = 0.5 give a - 1 = -0.5, which must be > 0"


# ---- atomic writes and output paths ----------------------------------------------------------------------------------
def test_atomic_path_visible_temporary_and_no_leftover(tmp_path):
    target = tmp_path / "out.nc"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and not tmp.name.startswith(".")
        assert tmp.name.startswith(f"out.nc.{os.getpid()}.") and tmp.name.endswith(".part")
        tmp.write_text("complete")
    assert target.read_text() == "complete" and sorted(p.name for p in tmp_path.iterdir()) == ["out.nc"]
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "complete" and sorted(p.name for p in tmp_path.iterdir()) == ["out.nc"]
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    dead = tmp_path / f"out.nc.{p.pid}.x1.part"
    live = tmp_path / f"out.nc.{os.getpid()}.x2.part"
    dead.write_text("")
    live.write_text("")
    assert remove_stale_parts(target) == [dead] and live.exists()


def test_output_path_checks(tmp_path):
    (tmp_path / "f").write_text("x")
    for path, frag in [("", "not a file name"), (tmp_path, "is a directory"),
                       (tmp_path / "f" / "x.nc", "is a file, not a directory")]:
        with pytest.raises(ConfigError) as e:
            check_output_file(path, "demo")
        assert one_line(e).startswith("demo = ") and frag in str(e.value)
    with pytest.raises(ConfigError) as e:
        check_output_dir(tmp_path / "f", "demo")
    assert "exists and is not a directory" in one_line(e)
    assert check_output_dir(tmp_path / "new" / "deep", "demo") == tmp_path / "new" / "deep"
    assert not (tmp_path / "new").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["f"]


# ---- calibration engine ------------------------------------------------------------------------------------------------
def test_engine_checks_before_sampling():
    from pysoc.da import run as da_run
    from pysoc.da.likelihood import StreamSpec

    cfg = da_run.CalibrationConfig(streams=(StreamSpec("soc_profile", 0.0, 0.0),))
    with pytest.raises(ConfigError) as e:
        cfg.check()
    assert "&likelihood sigma_rel = 0 and sigma_abs = 0 for stream soc_profile" in one_line(e)
    with pytest.raises(ConfigError) as e:
        da_run.check_streams(get_model("clm5"), (StreamSpec("d14c_profile"),))
    assert "'d14c_profile' needs the model output 'd14c_profile', which clm5 does not provide" in one_line(e)
    big = da_run.CalibrationConfig(sampler="am", am=da_run.AMSettings(n_formal=10 ** 12)).check()
    need, key, _ = da_run.sampler_memory(big, 21)
    assert need > 3e14 and key == "n_formal = 1000000000000"
    with pytest.raises(ConfigError) as e:
        da_run.check_memory(big, 21)
    assert "&mcmc n_formal = 1000000000000: the chains of one site would need about" in one_line(e)
    assert issubclass(da_run.NothingCalibrated, PysocError)

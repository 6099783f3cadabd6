"""Every model through pysoc-run (steady state and transient, one site and many columns)
writes files that pass IOOS compliance-checker CF-1.8 without errors, with a decodable
noleap time, no string coordinate variables, standard names, UDUNITS units, the model's own
references and flag attributes on status fields."""

import re
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from cfcheck import assert_cf_compliant, string_coordinate_variables
from ctsm_layout import history

from pysoc.cli.run import main as run_main
from pysoc.io import netcdf
from pysoc.models import get_model

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "pysoc" / "data"


def shipped(tmp_path, name, extra="", replace=()):
    text = (REPO / "namelists" / name).read_text().replace("../output/", f"{tmp_path}/")
    text = text.replace("pkgdata:", f"{PKG}/")
    for old, new in replace:
        assert old in text, old
        text = text.replace(old, new)
    nml = tmp_path / name
    nml.write_text(text + extra)
    assert run_main([str(nml)]) == 0
    return tmp_path / name.replace(".nml", ".nc")


def opened(path) -> xr.Dataset:
    """The file's contents, loaded and closed (no handle stays open between tests)."""
    with xr.open_dataset(path, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True), cache=False) as ds:
        return ds.load()


def mimics_transient(tmp_path):
    m = get_model("mimics", n_layers=4, layer_thickness=0.1, substep_hours=730.0)
    t = 10.0 + 8.0 * np.cos(2 * np.pi * (np.arange(12) - 6.5) / 12)
    f = m.forcing_dataset(np.repeat(t[:, None], 4, 1), 0.2, 300.0, 300.0, 20.0, 35.0, attrs={"lat": 45.0})
    m.write_forcing(f, tmp_path / "mimics_forcing.nc")
    nml = tmp_path / "mimics_tr.nml"
    nml.write_text(f"""&run
  model = 'mimics'
  mode = 'transient'
  forcing_file = 'mimics_forcing.nc'
  output_file = 'mimics_tr.nc'
/
&transient
  n_years = 2
/
&mimics
  n_layers = 4
  layer_thickness = 0.1
  substep_hours = 730.0
/
""")
    assert run_main([str(nml)]) == 0
    return tmp_path / "mimics_tr.nc"


CASES = {
    "clm5_steady": lambda p: shipped(p, "clm5_steady_state.nml"),
    "clm5_transient": lambda p: shipped(p, "clm5_transient.nml", replace=[("n_years = 50", "n_years = 2")]),
    "compas_steady": lambda p: shipped(p, "compas_steady_state.nml"),
    "compas_transient": lambda p: shipped(p, "compas_steady_state.nml", "&transient\n  n_years = 2\n/\n",
                                          [("mode = 'steady_state'", "mode = 'transient'")]),
    "mimics_steady": lambda p: shipped(p, "mimics_profile.nml", replace=[("check_stability = .true.",
                                                                          "check_stability = .false.")]),
    "mimics_transient": mimics_transient,
    "century_transient": lambda p: shipped(p, "century_site.nml"),
    "century_steady": lambda p: shipped(p, "century_site.nml", replace=[("mode = 'transient'",
                                                                         "mode = 'steady_state'")]),
}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    return {k: f(tmp_path_factory.mktemp(k)) for k, f in CASES.items()}


@pytest.mark.parametrize("case", list(CASES))
def test_pysoc_run_output_is_cf_compliant(outputs, case):
    path = outputs[case]
    assert_cf_compliant(path)
    assert string_coordinate_variables(path) == []
    ds = opened(path)
    model = ds.attrs["model"]
    assert ds["soc_stock"].attrs["standard_name"] == "carbon_mass_content_of_soil_layer"
    assert ds["soc_stock"].attrs["units"] == netcdf.STOCK
    assert "flag_values" in ds["status"].attrs and "flag_meanings" in ds["status"].attrs
    if "time" in ds.dims:
        assert ds["time"].dt.calendar == "noleap" and "since" in ds["time"].encoding["units"]
        assert "time_bnds" in ds and ds.time.dt.month.values[0] == 1
    for name, var in ds.variables.items():
        u = str(var.attrs.get("units", ""))
        assert not re.search(r"\bk?g C\b|per mil|month-1", u), (name, u)      # UDUNITS spellings
    refs = ds.attrs["references"]
    if model in ("mimics", "century"):
        assert "Lu et al." not in refs and "Tao et al." not in refs
    assert {"clm5": "Lu et al.", "compas": "Tao et al. 2024", "mimics": "Wieder", "century": "Parton"}[model] in refs
    params = netcdf.parameters_of(ds)
    assert len(params) == len(get_model(model).parameters) and all(u for _, u in params.values())


def test_rates_and_amounts_are_labelled(outputs):
    ss, tr = opened(outputs["clm5_steady"]), opened(outputs["clm5_transient"])
    assert ss["rh"].attrs["units"] == netcdf.FLUX
    assert ss["rh"].attrs["standard_name"].endswith("due_to_heterotrophic_respiration")
    assert tr["rh"].attrs["units"] == netcdf.STOCK and tr["rh"].attrs["cell_methods"] == "time: sum"
    assert "standard_name" not in tr["rh"].attrs                  # per pool, an amount: no CF name
    ce = opened(outputs["century_transient"])
    assert ce["npp"].attrs["cell_methods"] == "time: sum" and ce["npp"].attrs["units"] == "g m-2"
    assert int(ce["time"].dt.year.values[0]) == 2002               # origin at the forcing's first year
    assert "date" not in ce.variables


def test_mimics_bit_field_and_delta14c(outputs):
    ds = opened(outputs["mimics_steady"])
    r = ds["reason"]
    assert list(r.attrs["flag_masks"]) == [1, 2, 4] and len(r.attrs["flag_meanings"].split()) == 3
    assert "flag_values" not in r.attrs
    assert ds["d14c"].attrs["units"] == netcdf.DELTA14C and "per mil" in ds["d14c"].attrs["long_name"]
    tr = opened(outputs["mimics_transient"])
    assert tr["time"].dt.year.values[0] == 1950 and tr.sizes["time"] == 24


def test_open_output_restores_labels(outputs):
    ds = netcdf.open_output(outputs["compas_steady"])
    assert float(ds.pool_stock.sel(pool="MIC", depth_interval="0-30 cm")) > 0
    assert list(ds.flux.values)[:2] == ["cwd_fragmentation", "l1_decomposition"]
    assert netcdf.parameters_of(ds)["mic_cue"] == (pytest.approx(0.355), "1")


def test_multi_column_outputs_are_cf_compliant(tmp_path):
    annual = "&transient\n  n_years = 2\n/\n&output\n  frequency = 'annual'\n/\n"
    for layout, mode, extra in (("column", "steady_state", ""), ("grid", "transient", annual)):
        history(4, 1, layout=layout, spval_columns=(1,)).to_netcdf(tmp_path / f"h0_{layout}.nc")
        nml = tmp_path / f"{layout}_{mode}.nml"
        nml.write_text(f"&run\n  model = 'clm5'\n  mode = '{mode}'\n  forcing_file = 'h0_{layout}.nc'\n"
                       f"  output_file = '{layout}_{mode}.nc'\n  progress = .false.\n/\n{extra}")
        assert run_main([str(nml)]) == 0
        path = tmp_path / f"{layout}_{mode}.nc"
        assert_cf_compliant(path)
        ds = opened(path)
        assert ("column" in ds.dims) == (layout == "column")
        assert ds["status"].attrs["flag_meanings"].split()[9] == "no_data"
        assert "lat" in ds.coords and ds["lat"].attrs["standard_name"] == "latitude"

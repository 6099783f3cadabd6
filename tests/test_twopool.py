"""The two-pool template kernel (pysoc/models/twopool.py, docs/adding_a_model.md): its
equations against independent Python, its f2py boundary, and the proof of the issue-16
contract: the model runs through pysoc-run, pysoc-calibrate and pysoc-proda with the shipped
namelists (shrunk to test size), although no code outside its own files names it."""

from pathlib import Path

import f90nml
import numpy as np
import pytest
import xarray as xr
from scipy.linalg import expm

from pysoc import _status
from pysoc.io import netcdf
from pysoc.models import get_model
from pysoc.models.twopool import DAYS_IN_MONTH, PARAMETERS, TwoPool, kernel_sizes

REPO = Path(__file__).resolve().parents[1]
NML = REPO / "namelists"


@pytest.fixture(scope="module")
def model():
    return get_model("twopool")


@pytest.fixture(scope="module")
def forcing(model):
    return model.load_forcing(REPO / "pysoc/data/twopool/forcing_site1.nc")


def test_kernel_constants_match_the_tables():
    assert kernel_sizes() == (len(PARAMETERS), len(TwoPool.pools))


def test_analytic_steady_state(model, forcing):
    """LIT = I tau_lit / xi and SOM = hum I tau_som / xi with xi the day-weighted mean of
    f_T f_W computed here in Python; Rh = input."""
    p = dict(zip(PARAMETERS.names, PARAMETERS.defaults))
    t, w = forcing["tsoi"].values, forcing["soil_moisture"].values
    xi = (p["q10"] ** ((t - 288.15) / 10.0) * np.minimum(1.0, w / p["w_opt"]) * DAYS_IN_MONTH).sum() / 365.0
    inp = forcing["litter_input"].values.sum()                                      # g C m-2 yr-1
    res = model.evaluate(forcing, PARAMETERS.defaults, observables=model.observables)
    stock = res.outputs["pools"][0, :, 0] * model.dz[0]
    np.testing.assert_allclose(stock, [inp * p["tau_lit"] / xi, p["hum"] * inp * p["tau_som"] / xi], rtol=1e-12)
    assert res.outputs["rh"][0] == pytest.approx(inp, rel=1e-12)
    assert res.outputs["soc_0_30"][0] == pytest.approx(stock[1] / 1000.0, rel=1e-12)
    ft, fw = model.decomposition_scalars(t, w)
    assert float(res.outputs["xi"][0]) == pytest.approx(float((ft * fw * DAYS_IN_MONTH).sum() / 365.0), rel=1e-12)


def test_transient_is_the_exact_solution(model, forcing):
    """Each month equals the matrix exponential of the linear system (scipy) from the previous
    state; a constant forcing from zero reaches the steady state."""
    theta = PARAMETERS.defaults
    p = dict(zip(PARAMETERS.names, theta))
    tr = model.transient(forcing, theta, n_years=1, initial="zero")
    x = tr["cpools"].values[:, :, 0] * model.dz[0]                                  # (12, 2) g C m-2
    ft, fw = model.decomposition_scalars(forcing["tsoi"].values, forcing["soil_moisture"].values)
    prev = np.zeros(2)
    for m in range(12):
        a, b = ft[m] * fw[m] / (365.0 * p["tau_lit"]), ft[m] * fw[m] / (365.0 * p["tau_som"])
        u = forcing["litter_input"].values[m] / DAYS_IN_MONTH[m]
        big = np.zeros((3, 3))
        big[:2, :2] = [[-a, 0.0], [p["hum"] * a, -b]]
        big[0, 2] = u
        prev = (expm(big * DAYS_IN_MONTH[m]) @ np.append(prev, 1.0))[:2]
        np.testing.assert_allclose(x[m], prev, rtol=1e-11)
    flat = model.forcing_dataset(np.full(12, 290.0), np.full(12, 0.5), 30.0 * DAYS_IN_MONTH / 30.4)
    long = model.transient(flat, theta, n_years=400, initial="zero")
    steady = model.evaluate(flat, theta).outputs["pools"][0]
    np.testing.assert_allclose(long["cpools"].values[-1], steady, rtol=2e-5)
    assert np.abs(long["mass_balance_residual"].values).max() < 1e-9 * float(long["input"].max())


def test_f2py_boundary_checks_sizes():
    from pysoc._kernels import twopool as k

    days = DAYS_IN_MONTH
    ok = (np.full(12, 290.0), np.full(12, 0.5), np.full(12, 30.0), days)
    with pytest.raises(ValueError, match="`par`"):
        k.transient(np.ones(4), *ok, 288.15, np.zeros(2))
    with pytest.raises(ValueError, match="`w`"):
        k.transient(PARAMETERS.defaults, np.full(12, 290.0), np.full(11, 0.5), np.full(12, 30.0), days, 288.15,
                    np.zeros(2))
    with pytest.raises(ValueError, match="`x0`"):
        k.transient(PARAMETERS.defaults, *ok, 288.15, np.zeros(3))


def test_status_codes_of_the_kernel(model, forcing):
    prep = model.prepare(forcing)
    theta = np.tile(PARAMETERS.defaults, (3, 1))
    theta[1, PARAMETERS.index("hum")] = 1.5
    res = model.evaluate(prep, theta)
    assert res.status.tolist() == [_status.OK, _status.ERR_PARAM, _status.OK]
    dry = dict(prep, soil_moisture=np.zeros_like(prep["soil_moisture"]))
    assert model.evaluate(dry, PARAMETERS.defaults).status[0] == _status.ERR_SINGULAR
    bad = dict(prep, tsoi=np.where(np.arange(12)[:, None] == 3, np.nan, prep["tsoi"]))
    assert model.evaluate(bad, PARAMETERS.defaults).status[0] == _status.ERR_FORCING
    assert model.evaluate(prep, PARAMETERS.defaults, site_index=[1]).status[0] == _status.ERR_SHAPE


def test_forcing_in_degc_is_converted(model, forcing, tmp_path):
    ds = forcing.copy(deep=True)
    ds["tsoi"] = ds["tsoi"] - 273.15
    ds["tsoi"].attrs["units"] = "degC"
    ds.to_netcdf(tmp_path / "c.nc")
    back = model.load_forcing(tmp_path / "c.nc")
    np.testing.assert_allclose(back["tsoi"].values, forcing["tsoi"].values, rtol=1e-12)


# ---- the proof: the three CLIs with the shipped namelists, nothing outside the model's files names it --------
def _shrunk(name: str, tmp: Path, changes: dict) -> Path:
    nml = f90nml.read(NML / name)
    for group, values in changes.items():
        nml[group].update(values)
    out = tmp / name
    nml.write(out, force=True)
    return out


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    from pysoc.cli.calibrate import main as calibrate_main
    from pysoc.cli.proda import main as proda_main
    from pysoc.cli.run import main as run_main

    tmp = tmp_path_factory.mktemp("twopool_cli")
    for name in ("twopool_steady_state.nml", "twopool_transient.nml"):
        path = _shrunk(name, tmp, {"run": {"output_file": f"out/{name[:-4]}.nc"}})
        assert run_main([str(path)]) == 0
    cal = _shrunk("calibrate_twopool.nml", tmp, {
        "calibrate": {"max_sites": 16, "output_dir": "out", "figures": False, "progress": False},
        "mcmc": {"max_evaluations": 40000}})
    assert calibrate_main([str(cal)]) == 0
    proda = _shrunk("proda_twopool.nml", tmp, {
        "proda": {"posterior_file": "out/calibrate_twopool_posterior.nc", "output_dir": "out", "figures": False,
                  "progress": False, "require_converged": False},
        "network": {"max_epochs": 40, "patience": 10},
        "evaluation": {"folds": 3, "block_deg": 30.0, "n_random": 20, "n_boot": 50},
        "grid": {"n_bootstrap": 2, "region": [20.0, 60.0, -130.0, -60.0]}})
    assert proda_main([str(proda)]) == 0
    return tmp / "out"


def test_pysoc_run_outputs(cli_run):
    from cfcheck import assert_cf_compliant

    with xr.open_dataset(cli_run / "twopool_steady_state.nc") as ds:
        assert ds.attrs["model"] == "twopool" and float(ds["rh"]) == pytest.approx(float(ds["input"]), rel=1e-9)
        assert netcdf.parameters_of(ds)["tau_som"][0] == 30.0          # the &parameters override
    with xr.open_dataset(cli_run / "twopool_transient.nc") as ds:
        assert ds.sizes["time"] == 600 and np.abs(ds["mass_balance_residual"].values).max() < 1e-6
    for f in ("twopool_steady_state.nc", "twopool_transient.nc"):
        assert_cf_compliant(cli_run / f)


def test_pysoc_calibrate_and_proda_outputs(cli_run):
    import pandas as pd

    sites = pd.read_csv(cli_run / "calibrate_twopool_sites.csv")
    assert len(sites) == 16 and (sites["status"] == "ok").all()
    with xr.open_dataset(cli_run / "calibrate_twopool_posterior.nc") as ds:
        assert ds.attrs["model"] == "twopool"
    from pysoc.proda.output import load_dataset

    maps = load_dataset(cli_run / "proda_twopool_maps.nc")
    assert maps.attrs["model"] == "twopool" and "tau_som" in maps
    v = maps["tau_som"].values[np.isfinite(maps["tau_som"].values)]
    assert v.size > 50 and v.min() >= PARAMETERS["tau_som"].prior_min and v.max() <= PARAMETERS["tau_som"].prior_max
    for comp in ("cte", "k_system", "xi_system"):
        assert comp in maps
    assert (cli_run / "proda_twopool_totals.csv").is_file()

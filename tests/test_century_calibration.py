"""The shipped CENTURY calibration namelists of the Qinghai-Tibet Plateau experiment (seed 000
Opt1, Opt2, Opt2 + GPP, site by site) run end to end through pysoc-calibrate on shipped data
(tiny chains), calibrate exactly the 24 Table-1 parameters, use the real tower-years and
report every stream with its skill. The monthly-NEP stream is still checked, on a labelled
synthetic series made in the test (no synthetic series is shipped)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from pysoc.cli.calibrate import main
from pysoc.models import century as C

NML = Path(__file__).resolve().parent.parent / "namelists"
DATA = Path(C.__file__).resolve().parent.parent / "data" / "century"
HAIBEI = "Chen_2021_98a8ce3e"


def shortened(name: str, tmp_path: Path, extra: str = "") -> Path:
    """The shipped namelist with tiny adaptive-Metropolis chains (a DREAM(ZS) namelist is run with
    the am sampler here: DREAM needs its adaptation to finish, far beyond a unit test's budget)."""
    text = (NML / name).read_text()
    if "sampler = 'dream_zs'" in text:
        lines = [ln for ln in text.splitlines() if not ln.strip().startswith(("max_evaluations", "! ..."))]
        text = "\n".join(lines).replace("  sampler = 'dream_zs'", "  sampler = 'am'\n  n_chains = 3\n  n_test = 1\n"
                                                                "  n_formal = 2\n  t0 = 1")
    for a in ("output_dir = '../output'", "n_chains = 3", "sampler = 'am'"):
        assert a in text, a
    text = text.replace("output_dir = '../output'", f"output_dir = '{tmp_path}'")
    for key, value in (("n_test", 20), ("n_formal", 40), ("t0", 10)):
        text = "\n".join(f"  {key} = {value}" if ln.strip().startswith(f"{key} =") else ln for ln in text.splitlines())
    text = text.replace("&mcmc", "&mcmc\n  draws_saved = 5").replace(
        "  seed = 20220601", "  seed = 20220601\n  figures = .false.\n  progress = .false." + extra)
    p = tmp_path / name
    p.write_text(text)
    return p


def _groups(tmp_path, run):
    f = tmp_path / f"{run}_posterior.nc"
    return {g: xr.open_dataset(f, group=g) for g in ("posterior", "observed_data", "posterior_predictive")}


@pytest.mark.parametrize("name,run,streams", [
    ("calibrate_century_opt1.nml", "calibrate_century_opt1", ("soc_0_30",)),
    ("calibrate_century.nml", "calibrate_century_opt2", ("soc_0_30", "nep_annual")),
    ("calibrate_century_opt2_gpp.nml", "calibrate_century_opt2_gpp", ("soc_0_30", "nep_annual", "gpp_annual"))])
def test_qtp_namelists_run(tmp_path, capsys, name, run, streams):
    assert main([str(shortened(name, tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "median NSE" not in out                       # undefined for one value per site: not printed
    for s in streams:
        assert f"  {s}: " in out and "R2 (1 - SSE/SST)" in out
    g = _groups(tmp_path, run)
    assert [v for v in g["posterior"].data_vars if v != "kp"] == list(C.CALIBRATED)
    assert tuple(g["observed_data"].data_vars) == streams
    sites = pd.read_csv(DATA / "qtp_sites.csv")
    table = pd.read_csv(tmp_path / f"{run}_sites.csv")
    towers = ["CN-Dan", "CN-Ha2"] if len(streams) > 1 else []     # towers without SOC join with the fluxes
    assert sorted(table["site_id"]) == sorted(list(sites["site_id"]) + towers)
    assert (table["status"] == "ok").all()

    def observed(name):                                     # layout-independent: the finite observed values
        v = g["observed_data"][name].values
        return np.sort(v[np.isfinite(v)])

    np.testing.assert_allclose(observed("soc_0_30"), np.sort(sites["socd_0_30_kg_m2"].to_numpy()))
    fx = pd.read_csv(DATA / "qtp_fluxes.csv")
    for s in streams[1:]:
        col = {"nep_annual": "nep_g_m2_yr", "gpp_annual": "gpp_g_m2_yr"}[s]
        np.testing.assert_allclose(observed(s), np.sort(fx[col].to_numpy()))
        assert table[f"{s}_n_obs"].sum() == len(fx) == 8
    if towers:
        assert table.set_index("site_id").loc[towers, "soc_0_30_n_obs"].isna().all()
    pp = g["posterior_predictive"]["soc_0_30"].values
    assert np.isfinite(pp).sum() > 0 and np.nanmin(pp) >= 0
    for n in C.CALIBRATED:                                   # every draw inside the Table 1 priors
        s, v = C.PARAMETERS[n], g["posterior"][n].values
        assert v.min() >= s.prior_min - 1e-12 and v.max() <= s.prior_max + 1e-12, n


def test_namelist_samplers():
    """One-batch namelists: the seed's AM (DREAM(ZS) does not finish its adaptation within a demo's
    budget on this problem); site by site: pysoc's default DREAM(ZS) with a bounded budget."""
    from pysoc.cli.calibrate import config_from_namelist, load_namelist

    for name, sampler in (("calibrate_century_opt1.nml", "am"), ("calibrate_century.nml", "am"),
                          ("calibrate_century_opt2_gpp.nml", "am"), ("calibrate_century_sites.nml", "dream_zs")):
        nml, model = load_namelist(NML / name)
        cfg = config_from_namelist(nml, model, str(NML / name))
        assert (cfg.method, cfg.sampler) == ("mcmc", sampler), name
        if sampler == "dream_zs":
            assert cfg.dream.max_evaluations == 60000 and cfg.n_chains >= 4
        else:
            assert (cfg.am.n_chains, cfg.am.n_test, cfg.am.n_formal) == (3, 2000, 6000)


def test_site_by_site_namelist_runs(tmp_path, capsys):
    extra = f"\n  site_ids = '{HAIBEI}', 'CN-Dan', 'Chen_2021_38e2d23e'"
    assert main([str(shortened("calibrate_century_sites.nml", tmp_path, extra))]) == 0
    table = pd.read_csv(tmp_path / "calibrate_century_sites_sites.csv")
    assert list(table["site_id"]) == [HAIBEI, "CN-Dan", "Chen_2021_38e2d23e"]
    assert (table["status"] == "ok").all()
    assert table.loc[0, "nep_annual_n_obs"] == 3 and table.loc[0, "soc_0_30_n_obs"] == 1      # SOC + CN-HaM
    assert table.loc[1, "nep_annual_n_obs"] == 2 and np.isnan(table.loc[1, "soc_0_30_n_obs"])  # tower only
    assert np.isnan(table.loc[2, "nep_annual_n_obs"])                                          # profile only


def test_monthly_nep_stream_on_a_synthetic_fixture(tmp_path):
    """nep_monthly (monthly observations, nep_file): a SYNTHETIC series (the model with the
    seed-000 M_Opt2 means + noise sd 5) at Haibei, made here; recovers a finite posterior."""
    m = C.Century()
    f = m.load_forcing(DATA / "haibei_forcing.nc")
    nep = m.evaluate(f, m.parameters.vector("meadow_opt2")).outputs["nep_monthly"][0]
    obs = nep + np.random.default_rng(2022).normal(0.0, 5.0, nep.size)
    pd.DataFrame({"site_id": HAIBEI, "month": np.arange(1, nep.size + 1), "nep_g_m2_month": obs}).to_csv(
        tmp_path / "nep_synthetic.csv", index=False)
    extra = f"\n  site_ids = '{HAIBEI}'\n  nep_file = '{tmp_path / 'nep_synthetic.csv'}'"
    p = shortened("calibrate_century_sites.nml", tmp_path, extra)
    text = p.read_text().replace("streams = 'soc_0_30', 'nep_annual'", "streams = 'soc_0_30', 'nep_monthly'")
    text = text.replace("sigma_abs = 0.0, 30.0", "sigma_abs = 0.0, 5.0")
    p.write_text(text)
    assert main([str(p)]) == 0
    g = _groups(tmp_path, "calibrate_century_sites")
    assert np.isfinite(g["observed_data"]["nep_monthly"].values).sum() == 48
    table = pd.read_csv(tmp_path / "calibrate_century_sites_sites.csv")
    assert table.loc[0, "nep_monthly_n_obs"] == 48 and np.isfinite(table.loc[0, "nep_monthly_rmse"])

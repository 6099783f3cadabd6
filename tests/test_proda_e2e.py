"""End to end on a small real subset: pysoc-calibrate (site-by-site adaptive Metropolis on
shipped ISRaD profiles, short chains) -> pysoc-proda (held-out evaluation, networks,
bootstrap on posterior means and draws, grid run) -> CF-NetCDF maps, totals, figures.
Also: one-line CLI errors and the two-model comparison."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pysoc.cli.calibrate import main as calibrate_main
from pysoc.cli.proda import main as proda_main
from pysoc.proda.output import load_dataset

REPO = Path(__file__).resolve().parents[1]

CAL = """&calibrate
  model = 'clm5'
  mode = 'site_by_site'
  sites_file = 'pkgdata:profiles/israd_sites.csv'
  layers_file = 'pkgdata:profiles/israd_layers.csv'
  site_ids = {sites}
  output_dir = 'cal'
  run_name = 'cal'
  figures = .false.
  progress = .false.
/
&mcmc
  sampler = 'am'            ! the seed method: short fixed-length chains for this pipeline test
  n_chains = 2
  n_test = 150
  n_formal = 300
  t0 = 100
  draws_saved = 20
/
"""

PRODA = """&proda
  posterior_file = 'cal/cal_posterior.nc'
  require_converged = .false.       ! the short test chains have not converged
  max_gelman_rubin = 100.0
  min_nse = -100.0
  output_dir = 'out'
  run_name = 'p'
  progress = .false.
  seed = 3
/
&network
  hidden_layers = 12
  max_epochs = 60
  patience = 15
/
&evaluation
  folds = 3
  block_deg = 30.0
  n_random = 20
/
&grid
  fill = 'nearest'
  region = 20.0, 60.0, -130.0, -60.0
  n_bootstrap = 3
  member_components = .true.
/
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("proda_e2e")
    sites = pd.read_csv(REPO / "pysoc/data/profiles/israd_sites.csv")
    ids = ", ".join(f"'{s}'" for s in sites["site_id"].iloc[:10])
    (tmp / "cal.nml").write_text(CAL.format(sites=ids))
    assert calibrate_main([str(tmp / "cal.nml")]) == 0
    (tmp / "proda.nml").write_text(PRODA)
    assert proda_main([str(tmp / "proda.nml")]) == 0
    return tmp


def test_outputs_exist_and_are_cf(run):
    out = run / "out"
    for f in ("p_maps.nc", "p_model.nc", "p_totals.csv", "p_evaluation.csv", "p_differences.csv",
              "p_evaluation_pairs.csv", "p_parameter_skill.csv", "p_covariates.csv", "p_scatter.png", "p_soc_maps.png",
              "p_components.png", "p_latitude.png"):
        assert (out / f).is_file(), f
    assert not list(out.glob("*.part*"))
    ds = load_dataset(out / "p_maps.nc")
    assert ds.attrs["Conventions"] == "CF-1.8"
    assert ds["soc_stock"].attrs["units"] == "kg m-2" and ds["soc_total"].attrs["units"] == "Pg"
    assert ds["land_area"].attrs["units"] == "m2"
    assert list(ds["depth_interval_label"].values[:3]) == ["0-30 cm", "0-100 cm", "0-200 cm"]
    np.testing.assert_allclose(ds["depth_interval"].values[:3], [0.3, 1.0, 2.0])
    for name in ("diffus", "q10", "tau4s3", "cte", "k_system", "xi_system", "v_system", "b_system", "litter_input",
                 "soc_stock_boot_sd", "soc_stock_draws_sd", "cte_boot_sd", "soc_zonal_boot"):
        assert name in ds, name
    assert ds["tau4s3"].attrs["units"] == "yr"
    # stocks increase with depth where modelled; cells outside the region are not modelled
    s = ds["soc_stock"].values
    ok = np.isfinite(s[0])
    assert ok.sum() > 50 and np.all(s[1][ok] >= s[0][ok]) and np.all(s[2][ok] >= s[1][ok])
    st = ds["cell_status"].values
    assert set(np.unique(st)) <= {0, 1, 2, 3, 4, 5} and (st == 5).sum() > 0
    lat = np.broadcast_to(ds["lat"].values[:, None], st.shape)
    assert np.all((lat[st == 1] >= 20) & (lat[st == 1] <= 60))
    # the totals are the area-weighted sums of the maps
    tot = float(np.nansum(s[1] * ds["land_area"].values)) * 1e-12
    assert tot == pytest.approx(float(ds["soc_total"].values[1]), rel=1e-5)
    assert ds["soc_total_boot"].shape == (3, 4) and ds["soc_total_draws"].shape == (3, 4)
    # parameters of the best guess lie inside the prior box
    for n in ("q10", "beta", "fs1s2"):
        v = ds[n].values[np.isfinite(ds[n].values)]
        assert v.min() >= ds[n].attrs["prior_min"] and v.max() <= ds[n].attrs["prior_max"]


def test_maps_use_the_saved_model(run):
    """The parameter maps are the saved model applied to the grid covariates (float32 maps)."""
    from pysoc.proda import covariates as cv
    from pysoc.proda.model import ProdaModel

    pm = ProdaModel.load(run / "out" / "p_model.nc")
    ds = load_dataset(run / "out" / "p_maps.nc")
    grid = cv.CovariateGrid(REPO / "pysoc/data/proda/proda_covariates_2deg.nc")
    table = cv.grid_covariates(grid, cv.resolve(pm.covariates), fill="nearest", max_km=500.0, max_ice_fraction=0.5,
                               region=(20.0, 60.0, -130.0, -60.0))
    theta = pm.theta(pm.predict_kp(table.values)[0])
    j = pm.parameter_names.index("q10")
    np.testing.assert_allclose(ds["q10"].values[grid.ilat[table.cells], grid.ilon[table.cells]], theta[:, j],
                               rtol=1e-6)


def test_maps_are_cf_compliant(run):
    from test_proda_model import _cf_ok

    _cf_ok(run / "out" / "p_maps.nc")


def test_evaluation_table(run):
    ev = pd.read_csv(run / "out" / "p_evaluation.csv")
    assert list(dict.fromkeys(ev["split"])) == ["blocked", "random"]          # blocked: the headline
    assert set(ev["method"]) == {"default", "constant", "random_sampling", "neural_network", "direct_rf",
                                 "site_by_site"}
    assert np.all(ev["n_layers"] > 20) and np.all(ev["r2"].between(0, 1))
    assert np.all(ev["r2_lo"] <= ev["r2"]) and np.all(ev["r2"] <= ev["r2_hi"])
    for c in ("rmse_kg_m3", "r2_0_30", "r2_30_100", "r2_100_plus", "rmse_0_30_kg_m3", "stock_r2_0_30",
              "stock_r2_0_100", "nse"):
        assert c in ev.columns, c
    assert set(ev["seed002_r2"].dropna()) <= {0.32, 0.36, 0.62, 0.95}
    diff = pd.read_csv(run / "out" / "p_differences.csv")
    assert set(diff["baseline"]) == set(ev["method"]) - {"neural_network"}
    ps = pd.read_csv(run / "out" / "p_parameter_skill.csv")
    assert {"r2", "spread_ratio", "sd_predicted", "sd_posterior_means"} <= set(ps.columns) and len(ps) == 2 * 21
    tot = pd.read_csv(run / "out" / "p_totals.csv")
    assert {"best_pg", "boot_sd_pg", "draws_sd_pg", "widening_sd"} <= set(tot.columns)
    cov = pd.read_csv(run / "out" / "p_covariates.csv")
    assert len(cov) == 37 and cov.loc[cov.covariate == "agb_carbon", "sites_from_grid"].iloc[0] > 0


def test_predict_cli_reports_the_island_and_predicts_the_rest(run, capsys):
    """pysoc-proda predict on a table with an island far from any grid cell with biomass."""
    sites = pd.DataFrame({"site_id": ["iowa", "hawaii", "amazon"], "lat": [42.0, 19.7, -3.1],
                          "lon": [-93.5, -155.5, -60.0]})
    sites.to_csv(run / "new_sites.csv", index=False)
    rc = proda_main(["predict", str(run / "out" / "p_model.nc"), str(run / "new_sites.csv"), "--output",
                     str(run / "pred" / "new"), "--no-progress"])
    assert rc == 0
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if "not predicted" in ln]
    assert len(lines) == 1 and "site hawaii not predicted: covariate" in lines[0] and "km away" in lines[0]
    tab = pd.read_csv(run / "pred" / "new_sites.csv")
    assert list(tab["status_name"]) == ["predicted", "missing_covariate", "predicted"]
    assert np.isfinite(tab.loc[0, "stock_0_100cm_kg_m2"]) and (run / "pred" / "new.nc").is_file()
    # nothing predictable: one line, exit 2
    sites.iloc[[1]].to_csv(run / "island.csv", index=False)
    assert proda_main(["predict", str(run / "out" / "p_model.nc"), str(run / "island.csv"), "--no-progress"]) == 2
    assert "none of the 1 sites could be predicted" in capsys.readouterr().err


def test_evaluate_cli_on_held_out_profiles(run, capsys):
    """pysoc-proda evaluate on shipped profiles the model was not trained on."""
    from pysoc.proda.model import ProdaModel

    pm = ProdaModel.load(run / "out" / "p_model.nc")
    sites = pd.read_csv(REPO / "pysoc/data/profiles/israd_sites.csv")
    layers = pd.read_csv(REPO / "pysoc/data/profiles/israd_layers.csv")
    held = sites[~sites["site_id"].isin(pm.training.site_ids)].head(8)
    held.to_csv(run / "held_sites.csv", index=False)
    layers[layers["site_id"].isin(held["site_id"])].to_csv(run / "held_layers.csv", index=False)
    rc = proda_main(["evaluate", str(run / "out" / "p_model.nc"), str(run / "held_sites.csv"),
                     str(run / "held_layers.csv"), "--n-random", "20", "--n-boot", "50", "--no-progress",
                     "--output", str(run / "held")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "neural_network" in out and "direct_rf" in out and "network - constant" in out
    ev = pd.read_csv(run / "held_evaluation.csv")
    assert set(ev["method"]) == {"neural_network", "default", "constant", "random_sampling", "direct_rf"}
    assert ev["n_sites"].max() <= 8 and (run / "held_differences.csv").is_file()


def test_compare_two_runs(run, capsys):
    """The comparison machinery (here CLM5 against itself under a different seed)."""
    a = run / "out" / "p_maps.nc"
    ds = load_dataset(a)
    ds["cte"] = ds["cte"] * 0.5 + 0.1                               # a linear change keeps r = 1
    b = run / "out" / "q_maps.nc"
    ds.to_netcdf(b)
    assert proda_main(["--compare", str(a), str(b), "--output", str(run / "cmp")]) == 0
    table = pd.read_csv(run / "cmp_comparison.csv")
    r = dict(zip(table["variable"], table["pearson_r"]))
    assert r["soc_stock"] == pytest.approx(1.0) and r["cte"] == pytest.approx(1.0)
    assert (run / "cmp_comparison.png").is_file() and (run / "cmp_latitude.png").is_file()
    assert "pearson_r" in capsys.readouterr().out


def test_cli_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "bad.nml").write_text("&proda\n posterior_file = 'x.nc'\n colour = 'red'\n/\n")
    assert proda_main([str(tmp_path / "bad.nml")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "&proda colour: unknown key" in err
    (tmp_path / "nofile.nml").write_text("&proda\n posterior_file = 'missing.nc'\n/\n")
    assert proda_main([str(tmp_path / "nofile.nml")]) == 2
    assert "missing.nc: site posterior file not found" in capsys.readouterr().err
    (tmp_path / "cov.nml").write_text("&proda\n posterior_file = 'x.nc'\n covariates = 'bio01', 'npp'\n/\n")
    (tmp_path / "x.nc").write_text("")
    assert proda_main([str(tmp_path / "cov.nml")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown PRODA covariate 'npp'" in err
    assert proda_main(["--list-covariates"]) == 0
    assert "wc_bio01_mat_degC" in capsys.readouterr().out


def test_shipped_namelist_is_valid():
    from pysoc.proda.workflow import load_namelist

    nml = load_namelist(REPO / "namelists" / "proda_clm5.nml")
    assert nml["proda"]["model"] == "clm5" and nml["grid"]["fill"] == "nearest"
    assert Path(nml["proda"]["grid_file"]).is_file()

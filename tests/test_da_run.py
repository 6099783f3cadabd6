"""Calibration runs end to end (serial): parameter recovery on synthetic CLM5 profiles
(seed 001), one-batch mode, failing sites, outputs, checkpoint resume, SCE-UA, Morris, CLI."""

from dataclasses import replace

import numpy as np
import pytest

from pysoc.plots.calibration import all_figures
import xarray as xr

from calibrate_hooks import injected
from pysoc.da import run as da_run
from pysoc.da.likelihood import ParameterMapper
from pysoc.da.dream import DreamSettings
from pysoc.da.sampler import AMSettings
from pysoc.da.synthetic import synthetic_profiles
from pysoc.errors import ConfigError
from pysoc.io.namelist import PKGDATA

FORCING = [str(PKGDATA / "forcing" / "clm5_synthetic_site1.nc"), str(PKGDATA / "forcing" / "clm5_synthetic_site2.nc")]
LAYERS = [10, 20, 30, 50, 70, 100, 150]
RECOVERY = ("tau4s2", "efolding", "beta")


def make_profiles(clm5, names, n, kp=(0.2, 0.8), seed=3, noise=0.0):
    table = clm5.parameters
    mapper = ParameterMapper(clm5, [table.index(x) for x in names], table.vector())
    return synthetic_profiles(clm5, mapper, FORCING, n, LAYERS, kp[0], kp[1], noise, seed)


#: small DREAM(ZS) runs for the engine tests (3 parameters)
FAST = DreamSettings(n_chains=8, min_generations=200, block_size=100, max_evaluations=400_000)


def config(tmp_path, names, **kw):
    base = dict(parameters=tuple(names), dream=FAST, ess_target=200.0,
                am=AMSettings(n_test=400, n_formal=800, t0=200, block_size=200),
                output_dir=str(tmp_path / "out"), run_name="t", draws_saved=40, figures=False, progress=False,
                checkpoint_interval=0.0)
    base.update(kw)
    return da_run.CalibrationConfig(**base)


@pytest.fixture(scope="module")
def recovery_run(clm5, tmp_path_factory):
    """8 synthetic profiles (7 layers to 1.5 m) from known tau4s2, efolding, beta."""
    tmp = tmp_path_factory.mktemp("recovery")
    prof = make_profiles(clm5, RECOVERY, 8)
    cfg = config(tmp, RECOVERY, draws_saved=100, ess_target=400.0, figures=True)
    return da_run.run_calibration(cfg, prof, figure_writer=all_figures), prof


def test_parameter_recovery_seed001(recovery_run, clm5):
    """Well-identified parameters (slow-pool turnover, e-folding depth of decomposition) are
    recovered tightly; the truth lies inside the 5-95 % posterior interval for most
    site x parameter pairs; the posterior predictive fits the profiles."""
    run, prof = recovery_run
    rec = run.summary["recovery_r"]
    assert rec["tau4s2"] > 0.85 and rec["efolding"] > 0.85, rec
    table = clm5.parameters
    inside, n, rel_sd = 0, 0, []
    for r in run.results:
        assert r.ok
        kp_true = prof[r.index].meta["kp_true"]
        theta_true = np.array([table[nm].to_physical(k) for nm, k in zip(RECOVERY, kp_true)])
        q = r.data.quantiles                       # (5, 3): 5, 25, 50, 75, 95 %
        inside += int(((theta_true >= q[0]) & (theta_true <= q[-1])).sum())
        n += 3
        rng = table.prior_max[[table.index(x) for x in RECOVERY]] - table.prior_min[[table.index(x) for x in RECOVERY]]
        rel_sd.append(r.data.sd[:2] / rng[:2])
        assert r.data.sites[0].obs["soc_profile"].metrics["nse"] > 0.9
    assert inside / n >= 0.75
    # tau4s2 and efolding constrained well below the sd of the uniform prior (0.29 of the range)
    assert np.all(np.median(rel_sd, axis=0) < 0.2), np.median(rel_sd, axis=0)
    assert run.summary["fraction_converged"] == 1.0
    for r in run.results:
        assert r.data.diagnostics.converged and r.data.diagnostics.stop_reason == "converged"
        assert r.data.diagnostics.rhat_max <= 1.05 and r.data.diagnostics.ess_bulk_min >= 400


def test_outputs_arviz_layout(recovery_run):
    run, prof = recovery_run
    nc = run.outputs["netcdf"]
    root = xr.open_dataset(nc)
    post = xr.open_dataset(nc, group="posterior")
    ss = xr.open_dataset(nc, group="sample_stats")
    pp = xr.open_dataset(nc, group="posterior_predictive")
    ll = xr.open_dataset(nc, group="log_likelihood")
    obs = xr.open_dataset(nc, group="observed_data")
    cd = xr.open_dataset(nc, group="constant_data")
    assert post["tau4s2"].dims == ("chain", "draw", "site")
    assert post.sizes["chain"] == 8 and post.sizes["draw"] == 100 and post.sizes["site"] == 8
    assert post["tau4s2"].attrs["units"] == "yr"
    r0 = run.results[0]
    np.testing.assert_array_equal(post["kp"].values[:, :, 0, :], r0.data.draws_kp)
    assert list(post["site"].values) == [p.site_id for p in prof]           # labelled by site id
    assert ss["lp"].dims == ("chain", "draw", "site") and np.all(ss["lp"].values <= 0)
    assert ss["acceptance_rate"].dims == ("chain", "site")
    # observations of all sites along one dimension, labelled by site: no NaN padding
    assert pp["soc_profile"].dims == ("chain", "draw", "obs_soc_profile")
    assert ll["soc_profile"].dims == pp["soc_profile"].dims
    assert np.isfinite(ll["soc_profile"].values).all()
    sel = ll["obs_soc_profile_site"].values == prof[0].site_id
    np.testing.assert_allclose(obs["soc_profile"].values[sel], prof[0].soc)
    np.testing.assert_allclose(cd["kp_true"].values[0], prof[0].meta["kp_true"])
    assert cd["soc_profile_top"].attrs["positive"] == "down"
    assert root.attrs["Conventions"] == "CF-1.8" and root.attrs["inference_library"] == "pysoc"
    assert "ter Braak" in root.attrs["references"]
    assert set(root["status"].values) == {0}
    for v in ("rhat", "ess_bulk", "ess_tail", "mcse_mean", "gelman_rubin"):
        assert root[v].dims == ("site", "parameter"), v
    assert root["converged"].values.tolist() == [1] * 8
    assert root["stop_reason"].attrs["flag_meanings"].split()[0] == "converged"
    assert root["soc_profile_mean"].dims == ("site", "level")
    assert np.all(root["soc_profile_q05"].values <= root["soc_profile_q95"].values)
    assert "units" not in root["posterior_mean"].attrs                     # one unit per parameter
    assert list(root["parameter_units"].values) == ["yr", "m", "1"]
    for f in (root, post, ss, pp, ll, obs, cd):
        f.close()
    import pandas as pd
    df = pd.read_csv(run.outputs["csv"])
    assert len(df) == 8 and set(df["status"]) == {"ok"}
    assert {"converged", "rhat_max", "ess_bulk_min", "stop_reason", "tau4s2_rhat", "tau4s2_ess_bulk", "gr_mean",
            "soc_profile_nse", "tau4s2_mean", "tau4s2_mode", "tau4s2_kp_true", "cpu_time_s"} <= set(df)
    for k in ("figure_trace", "figure_violins", "figure_profiles"):
        assert run.outputs[k].stat().st_size > 10000


def test_posterior_file_works_with_arviz(recovery_run):
    """ArviZ reads the file; summary and loo run on the whole file and per site, and the
    diagnostics in the file are ArviZ's own on the stored draws."""
    import warnings
    from pysoc.da.convergence import import_arviz
    from pysoc.da.output import site_inference_data
    az = import_arviz()
    run, prof = recovery_run
    idata = az.from_netcdf(str(run.outputs["netcdf"]))
    sid = prof[3].site_id
    summ = az.summary(idata.posterior.sel(site=sid), var_names=list(RECOVERY), kind="diagnostics")
    root = xr.open_dataset(run.outputs["netcdf"])
    np.testing.assert_allclose(summ["ess_bulk"].values, root["ess_bulk"].values[3], rtol=0, atol=0.5)
    root.close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loo_all = az.loo(idata)
        loo_one = az.loo(site_inference_data(idata, sid))
    assert np.isfinite(loo_all.elpd_loo) and np.isfinite(loo_one.elpd_loo)
    assert loo_one.n_data_points == len(prof[3].soc)


def test_same_seed_same_result_any_order(clm5, tmp_path):
    """A site's chains depend on its id and the seed only, not on the other sites."""
    prof = make_profiles(clm5, RECOVERY, 3)
    cfg = config(tmp_path, RECOVERY, write_output=False)
    a = da_run.run_calibration(cfg, prof)
    b = da_run.run_calibration(replace(cfg, checkpoint_dir=str(tmp_path / "ck2")), [prof[2], prof[0]])
    np.testing.assert_array_equal(a.results[2].data.draws, b.results[0].data.draws)
    np.testing.assert_array_equal(a.results[0].data.draws, b.results[1].data.draws)


def test_failing_site_recorded_and_run_continues(clm5, tmp_path):
    prof = make_profiles(clm5, RECOVERY, 3)
    with injected("site_error@syn002"):
        run = da_run.run_calibration(config(tmp_path, RECOVERY), prof)
    st = [r.status for r in run.results]
    assert st == ["ok", "failed", "ok"]
    assert "injected site failure" in run.results[1].error
    assert run.summary["n_failed"] == 1
    root = xr.open_dataset(run.outputs["netcdf"])
    assert root["status"].values.tolist() == [0, 1, 0]
    assert "injected" in str(root["error"].values[1])
    assert np.isnan(root["posterior_mean"].values[1]).all()
    root.close()


def test_missing_forcing_is_a_site_failure(clm5, tmp_path):
    prof = make_profiles(clm5, RECOVERY, 2)
    prof[1].meta["forcing_file"] = str(tmp_path / "nope.nc")
    run = da_run.run_calibration(config(tmp_path, RECOVERY, write_output=False), prof)
    assert run.results[0].ok and not run.results[1].ok
    assert "nope.nc" in run.results[1].error


def test_kill_and_resume_reproduces_uninterrupted_run(clm5, tmp_path):
    prof = make_profiles(clm5, RECOVERY, 3)
    cfg = config(tmp_path, RECOVERY)
    ref = da_run.run_calibration(replace(cfg, output_dir=str(tmp_path / "ref")), prof)

    class Killed(BaseException):
        pass

    class KillAt(da_run.RunHooks):
        """Counts sampler blocks; raises Killed at block ``at`` (never when at is None)."""

        def __init__(self, at=None):
            self.count, self.at = 0, at

        def block_done(self, ctx, sampler):
            self.count += 1
            if self.count == self.at:
                raise Killed

    counter = da_run.add_hook(KillAt())
    try:
        da_run.run_calibration(replace(cfg, output_dir=str(tmp_path / "ref2"), checkpoint_dir=str(tmp_path / "ck2")),
                               prof)
    finally:
        da_run.remove_hook(counter)
    killer = da_run.add_hook(KillAt(counter.count // 2))     # in the middle of the run (a site in progress)
    try:
        with pytest.raises(Killed):
            da_run.run_calibration(cfg, prof)
    finally:
        da_run.remove_hook(killer)
    store = da_run.CheckpointStore(cfg.checkpoint_path)
    done = [i for i in range(3) if store.exists(f"done_{i:06d}")]
    progress = [i for i in range(3) if store.backend(f"progress_{i:06d}").exists()]
    assert len(progress) == 1 and progress[0] not in done and len(done) >= 1
    assert len(list(store.backend(f"progress_{progress[0]:06d}").dir.glob("chunk_*.npz"))) >= 1
    run = da_run.run_calibration(cfg, prof)
    for a, b in zip(ref.results, run.results):
        np.testing.assert_array_equal(a.data.draws, b.data.draws)
        np.testing.assert_array_equal(a.data.lp, b.data.lp)
        np.testing.assert_array_equal(a.data.diagnostics.acceptance_rate, b.data.diagnostics.acceptance_rate)
    assert not cfg.checkpoint_path.exists()          # removed after success


def test_checkpoint_of_other_settings_is_refused(clm5, tmp_path, monkeypatch):
    prof = make_profiles(clm5, RECOVERY, 2)
    cfg = config(tmp_path, RECOVERY, keep_checkpoint=True, write_output=False)
    da_run.run_calibration(cfg, prof)
    with pytest.raises(da_run.CheckpointMismatch, match="other settings"):
        da_run.run_calibration(replace(cfg, seed=99), prof)
    run = da_run.run_calibration(replace(cfg, seed=99, resume=False), prof)
    assert all(r.ok for r in run.results)


def test_checkpoint_of_the_dict_layout_is_refused(clm5, tmp_path):
    """A checkpoint whose finished sites hold the earlier nested-dict summaries (manifest
    without 'layout') is refused with one line, before any site is calibrated."""
    from pysoc.da.sampler import CheckpointStore
    prof = make_profiles(clm5, RECOVERY, 2)
    cfg = config(tmp_path, RECOVERY, write_output=False)
    ctx = da_run.prepare(cfg, prof)
    store = CheckpointStore(cfg.checkpoint_path)
    store.save("manifest", {"fingerprint": ctx.fingerprint, "site_ids": [p.site_id for p in ctx.profiles],
                            "method": cfg.method, "mode": cfg.mode})
    store.save("done_000000", da_run.SiteResult(0, ctx.profiles[0].site_id, "ok", data={"draws": np.zeros(3)}))
    with pytest.raises(da_run.CheckpointMismatch, match="earlier pysoc .* layout 1.*resume = .false.") as err:
        da_run.execute(ctx)
    assert "\n" not in str(err.value)
    run = da_run.run_calibration(replace(cfg, resume=False), prof)
    assert all(isinstance(r.data, da_run.McmcSummary) for r in run.results)


def test_one_batch_mode(clm5, tmp_path):
    """Three profiles from the same parameters: one parameter vector fits all; the cost
    is the sum of the site costs."""
    prof = make_profiles(clm5, RECOVERY, 3, kp=(0.5, 0.5 + 1e-9))
    cfg = config(tmp_path, RECOVERY, mode="one_batch", draws_saved=50)
    run = da_run.run_calibration(cfg, prof)
    d = run.results[0].data
    assert d.draws.shape == (8, 50, 3) and d.diagnostics.converged
    assert abs(d.kp_mean[0] - 0.5) < 0.1            # tau4s2
    assert len(d.sites) == 3
    post = xr.open_dataset(run.outputs["netcdf"], group="posterior")
    assert post["tau4s2"].dims == ("chain", "draw")
    post.close()
    pp = xr.open_dataset(run.outputs["netcdf"], group="posterior_predictive")
    assert pp["soc_profile"].dims == ("chain", "draw", "obs_soc_profile")
    assert pp.sizes["obs_soc_profile"] == sum(len(p.soc) for p in prof)
    pp.close()
    # the one-batch cost is the sum of the single-site costs
    ctx = da_run.prepare(cfg, prof)
    kp = np.random.default_rng(0).random((4, 3))
    costs = []
    for p in ctx.profiles:
        f, o = ctx.site_setup(p)
        costs.append(da_run.CostFunction(ctx.model, [f], [o], ctx.mapper)(kp)[0])
    setups = [ctx.site_setup(p) for p in ctx.profiles]
    multi = da_run.CostFunction(ctx.model, [s[0] for s in setups], [s[1] for s in setups], ctx.mapper)
    np.testing.assert_allclose(multi(kp).sum(axis=0), np.sum(costs, axis=0), rtol=1e-12)


def test_sceua_and_morris_methods(clm5, tmp_path):
    prof = make_profiles(clm5, RECOVERY, 2)
    from pysoc.da.optimize import SCEUASettings
    from pysoc.da.morris import MorrisSettings
    run = da_run.run_calibration(config(tmp_path, RECOVERY, method="sceua", sceua=SCEUASettings(max_evals=1500),
                                        figures=True), prof, figure_writer=all_figures)
    for r in run.results:
        assert r.ok and 0 < r.data.n_evals <= 1500 + 100
        assert r.data.sites[0].obs["soc_profile"].metrics["nse"] > 0.9
    root = xr.open_dataset(run.outputs["netcdf"])
    assert root["tau4s2"].dims == ("site",) and root["kp_best"].dims == ("site", "parameter")
    root.close()
    assert run.outputs["figure_profiles"].exists()
    run = da_run.run_calibration(config(tmp_path, RECOVERY, method="morris", run_name="m",
                                        morris=MorrisSettings(n_trajectories=10)), prof)
    r = run.results[0]
    assert r.ok and r.data.mu_star.shape == (3,)
    root = xr.open_dataset(run.outputs["netcdf"])
    assert root["mu_star"].dims == ("site", "parameter")
    root.close()


def test_config_errors():
    with pytest.raises(ConfigError):
        da_run.CalibrationConfig(method="nuts").check()
    with pytest.raises(ConfigError):
        da_run.CalibrationConfig(burn_in=1.0).check()
    for kw, match in ((dict(sampler="nuts"), "sampler 'nuts' is not one of dream_zs, am"),
                      (dict(ess_target=0.0), "ess_target = 0.0: must be > 0"),
                      (dict(rhat_target=0.9), "rhat_target = 0.9: must be >= 1"),
                      (dict(dream=DreamSettings(n_chains=2)), "n_chains = 2: must be >= 4")):
        with pytest.raises(ConfigError, match=match):
            da_run.CalibrationConfig(**kw).check()


def test_am_sampler_still_available(clm5, tmp_path):
    """The seed method through the engine: 3 chains of fixed length, classic and ArviZ
    diagnostics reported ('am' as method name is the old spelling of sampler = 'am')."""
    prof = make_profiles(clm5, RECOVERY, 2)
    run = da_run.run_calibration(config(tmp_path, RECOVERY, method="am", write_output=False), prof)
    assert run.config.method == "mcmc" and run.config.sampler == "am"
    d = run.results[0].data
    assert d.draws.shape == (3, 40, 3) and d.diagnostics.stop_reason == "fixed_length"
    assert np.isfinite(d.diagnostics.rhat).all() and np.isfinite(d.diagnostics.gelman_rubin).all()


# ---- CLI -----------------------------------------------------------------------------------------
NML = """&calibrate
  profiles = 'synthetic'
  parameters = 'tau4s2', 'efolding'
  output_dir = 'out'
  run_name = 'cli'
  figures = .false.
  {extra}
/
&mcmc
  n_chains = 8
  min_generations = 200
  ess_target = 100
  block_size = 100
  draws_saved = 20
/
&synthetic
  n_sites = 3
/
"""


def run_cli(capsys, *args):
    from pysoc.cli.calibrate import main
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_serial_run_and_errors(tmp_path, capsys):
    nml = tmp_path / "c.nml"
    nml.write_text(NML.format(extra=""))
    code, out, err = run_cli(capsys, nml)
    assert code == 0, err
    assert "median NSE" in out and "recovery" in out
    assert (tmp_path / "out" / "cli_posterior.nc").is_file()
    assert "progress 3/3 sites done" in err
    for extra, word in (("bogus_key = 1", "bogus_key"), ("parameters = 'tau4s2', 'nope'", "nope"),
                        ("method = 'nuts'", "nuts"), ("sites_file = 'missing.csv'\n profiles = 'files'", "missing.csv")):
        nml.write_text(NML.format(extra=extra))
        code, out, err = run_cli(capsys, nml)
        assert code == 2, (extra, err)
        assert err.startswith("pysoc-calibrate: error:") and err.strip().count("\n") == 0 and word in err


def test_cli_describe_namelist(capsys):
    code, out, err = run_cli(capsys, "--describe-namelist", "clm5")
    assert code == 0
    for key in ("&mcmc", "sampler", "rhat_target", "ess_target", "max_evaluations", "n_formal", "step_divisor",
                "&likelihood", "sigma_rel", "&sceua", "&morris", "&clm5"):
        assert key in out


def test_am_engine_results_bitwise_unchanged(tmp_path):
    """The seed method through the engine on two real shipped profiles: hashes of the saved
    draws and log densities recorded with pysoc 0.1.0 (before the sampler refactor; the
    profiles carried the ids Baisden_2007_001 / _004 then, which key their random streams)."""
    import hashlib
    from pysoc.io.profiles import read_profiles, select
    prof = select(read_profiles(PKGDATA / "profiles" / "israd_sites.csv", PKGDATA / "profiles" / "israd_layers.csv"))[:2]
    for p, old in zip(prof, ("Baisden_2007_001", "Baisden_2007_004")):
        p.site_id = old
    cfg = da_run.CalibrationConfig(model="clm5", sampler="am", am=AMSettings(n_test=1000, n_formal=2000, t0=400,
                                                                              block_size=500),
                                   write_output=False, progress=False, checkpoint_dir=str(tmp_path / "ck"),
                                   resume=False, draws_saved=50)
    ctx = da_run.prepare(cfg, prof)
    for i, expected in enumerate(("1adc3bac2406b072", "d27d75d05eeb0f7b")):
        r = da_run.calibrate_site(ctx, i)
        m = hashlib.sha256()
        for a in (r.data.draws_kp, r.data.lp):
            m.update(np.ascontiguousarray(a).tobytes())
        assert m.hexdigest()[:16] == expected

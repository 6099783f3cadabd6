"""Reproduce the real-data PRODA example of docs/proda.md: ISRaD profiles -> site-by-site
calibration of CLM5 (and optionally COMPAS) -> pysoc-proda on a covariate grid (held-out
evaluation, saved model, maps) -> two-model comparison.

Usage:
  python scripts/proda_israd_example.py ISRAD_DIR GRID_NC OUTDIR [--ranks 2] [--sampler dream_zs]
         [--one-batch] [--compas] [--stages convert,calibrate,proda] [--smoke]

ISRAD_DIR holds the ISRaD "extra" tables (ISRaD_extra_{layer,profile}.csv.gz,
ISRaD_extra_{metadata,site}.csv, optional vonFromm2024 table; see docs/data.md); GRID_NC is a
covariate grid in the global_covariates.nc layout (0.5 degrees in the docs; the shipped
pysoc/data/proda/proda_covariates_2deg.nc also works). Everything is written below OUTDIR:
the profile tables, the namelists, the calibration outputs and the PRODA outputs.

Sampler (``&mcmc``): ``dream_zs`` (default; runs each site until every parameter has
rank-normalised split-R-hat <= 1.05 and bulk ESS >= 400, at most 2 million evaluations) with
the convergence filters of PRODA on (``require_converged``, mean Gelman-Rubin <= 1.05 and
NSE >= 0, seed 001); ``am``: the former set-up, 3 chains x (5 000 + 10 000) adaptive
Metropolis iterations, with the G-R filter off (no site reaches it with such short chains).
The calibration resumes from its checkpoint when interrupted; ``--stages`` runs a subset of
the steps (e.g. ``proda`` alone on existing calibrations).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

CAL = """&calibrate
  model = '{model}'
  method = 'mcmc'
  mode = '{mode}'
  sites_file = '{sites}'
  layers_file = '{layers}'
  output_dir = 'cal'
  run_name = '{model}_{tag}'
  figures = .false.
  progress_interval = 300.0
/
&mcmc
{mcmc}/
"""
MCMC = {
    "dream_zs": "  sampler = 'dream_zs'\n  rhat_target = 1.05\n  ess_target = 400.0\n  max_evaluations = {max_eval}\n",
    "am": "  sampler = 'am'\n  n_chains = 3\n  n_test = {n_test}\n  n_formal = {n_formal}\n  t0 = {t0}\n"
          "  draws_saved = 100\n",
}
FILTERS = {
    "dream_zs": "  require_converged = .true.         ! calibration's own R-hat/ESS criterion\n"
                "  max_gelman_rubin = 1.05            ! seed 001\n",
    "am": "  require_converged = .false.\n"
          "  max_gelman_rubin = 100.0           ! short AM chains: no site reaches G-R <= 1.05 (docs/proda.md)\n",
}

PRODA = """&proda
  model = '{model}'
  posterior_file = 'cal/{model}_sbs_posterior.nc'
  one_batch_file = '{one_batch}'
  sites_file = '{sites}'
  layers_file = '{layers}'
  grid_file = '{grid}'
{filters}  min_nse = 0.0
  output_dir = 'proda'
  run_name = 'proda_{model}'
/
&network
  hidden_layers = 32
  alpha = 0.3
  max_epochs = 1000
  patience = 60
  input_transform = 'quantile'
  clip_to_training = .true.
/
&evaluation
  splits = 'blocked', 'random'
  folds = 5
  block_deg = 10.0
  n_random = {n_random}
/
&grid
  fill = 'nearest'
  fill_max_km = 500.0
  n_bootstrap = {n_boot}
  posterior_draws = .true.
/
"""
STAGES = ("convert", "calibrate", "proda")


def launch(args, ranks: int, cwd: Path) -> None:
    cmd = [sys.executable, "-m"] + args
    if ranks > 1:
        cmd = ["mpirun", "--oversubscribe", "-n", str(ranks), sys.executable, "-m", "mpi4py", "-m"] + args
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=cwd, check=True, env=dict(os.environ, OMP_NUM_THREADS="1"))


def convert(d: Path, out: Path, smoke: bool) -> None:
    from pysoc.io.israd import convert_israd

    vf = d / "vonFromm2024_ISRaD_lyr_filtered_2023-02-08.csv.gz"
    sites, layers, report = convert_israd(d / "ISRaD_extra_layer.csv.gz", d / "ISRaD_extra_profile.csv.gz",
                                          d / "ISRaD_extra_metadata.csv", d / "ISRaD_extra_site.csv",
                                          vf if vf.exists() else None)
    print(report.text())
    if smoke:
        sites = sites.iloc[::max(1, len(sites) // 20)].head(20)
        layers = layers[layers["site_id"].isin(sites["site_id"])]
    sites.to_csv(out / "israd_sites.csv", index=False)
    layers.to_csv(out / "israd_layers.csv", index=False)


def calibrate(a, out: Path, model: str, common: dict) -> None:
    modes = [("site_by_site", "sbs")] + ([("one_batch", "batch")] if a.one_batch and model == "clm5" else [])
    n_test, n_formal = (200, 400) if a.smoke else ((5000, 10000) if model == "clm5" else (3000, 6000))
    for mode, tag in modes:
        mcmc = MCMC[a.sampler].format(n_test=n_test, n_formal=n_formal, t0=min(2000, n_formal // 2),
                                      max_eval=20000 if a.smoke else 2000000)
        nml = out / f"calibrate_{model}_{tag}.nml"
        nml.write_text(CAL.format(model=model, mode=mode, tag=tag, mcmc=mcmc, **common))
        launch(["pysoc.cli.calibrate", str(nml)], a.ranks if mode == "site_by_site" else 1, out)


def proda(a, out: Path, model: str, common: dict) -> None:
    nml = out / f"proda_{model}.nml"
    one_batch = f"cal/{model}_batch_posterior.nc" if a.one_batch and model == "clm5" else ""
    nml.write_text(PRODA.format(model=model, grid=a.grid.resolve(), one_batch=one_batch, filters=FILTERS[a.sampler],
                                n_random=20 if a.smoke else (1000 if model == "clm5" else 300),
                                n_boot=2 if a.smoke else (50 if model == "clm5" else 20), **common))
    launch(["pysoc.cli.proda", str(nml)], a.ranks, out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("israd_dir", type=Path)
    ap.add_argument("grid", type=Path)
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--sampler", choices=tuple(MCMC), default="dream_zs")
    ap.add_argument("--one-batch", action="store_true", help="also a one-batch calibration of CLM5 (a row of the "
                    "evaluation; slow with dream_zs: every generation runs all sites)")
    ap.add_argument("--compas", action="store_true", help="also calibrate and generalise COMPAS, then compare")
    ap.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated subset of {', '.join(STAGES)}")
    ap.add_argument("--smoke", action="store_true", help="a minutes-long check of the pipeline: 20 profiles, short "
                    "chains, 2 bootstrap members (numbers meaningless)")
    a = ap.parse_args()
    stages = [s.strip() for s in a.stages.split(",") if s.strip()]
    bad = [s for s in stages if s not in STAGES]
    if bad:
        ap.error(f"unknown stage {bad[0]!r} (known: {', '.join(STAGES)})")
    out = a.outdir.resolve()
    out.mkdir(parents=True, exist_ok=True)
    if "convert" in stages:
        convert(a.israd_dir, out, a.smoke)
    common = dict(sites="israd_sites.csv", layers="israd_layers.csv")
    for model in ["clm5"] + (["compas"] if a.compas else []):
        if "calibrate" in stages:
            calibrate(a, out, model, common)
        if "proda" in stages:
            proda(a, out, model, common)
    if a.compas and "proda" in stages:
        launch(["pysoc.cli.proda", "--compare", "proda/proda_clm5_maps.nc", "proda/proda_compas_maps.nc",
                "--output", "proda/clm5_vs_compas"], 1, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

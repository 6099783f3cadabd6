"""Reproduce the real-data PRODA example of docs/proda.md: ISRaD profiles -> site-by-site and
one-batch calibration of CLM5 (and optionally COMPAS) -> pysoc-proda on a covariate grid ->
two-model comparison.

Usage:
  python scripts/proda_israd_example.py ISRAD_DIR GRID_NC OUTDIR [--ranks 2] [--compas]

ISRAD_DIR holds the ISRaD "extra" tables (ISRaD_extra_{layer,profile}.csv.gz,
ISRaD_extra_{metadata,site}.csv, optional vonFromm2024 table; see docs/data.md); GRID_NC is a
covariate grid in the global_covariates.nc layout (0.5 degrees in the docs; the shipped
pysoc/data/proda/proda_covariates_2deg.nc also works). Everything is written below OUTDIR:
the profile tables, the namelists, the calibration outputs and the PRODA outputs.
Settings are those of docs/proda.md (short chains: the G-R filter is switched off).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

CAL = """&calibrate
  model = '{model}'
  mode = '{mode}'
  sites_file = '{sites}'
  layers_file = '{layers}'
  output_dir = 'cal'
  run_name = '{model}_{tag}'
  figures = .false.
  progress_interval = 300.0
/
&mcmc
  n_chains = 3
  n_test = {n_test}
  n_formal = {n_formal}
  t0 = {t0}
  draws_saved = 100
/
"""

PRODA = """&proda
  model = '{model}'
  posterior_file = 'cal/{model}_sbs_posterior.nc'
  one_batch_file = '{one_batch}'
  sites_file = '{sites}'
  layers_file = '{layers}'
  grid_file = '{grid}'
  max_gelman_rubin = 100.0          ! short chains: no site reaches G-R <= 1.05 (docs/proda.md)
  min_nse = 0.0
  output_dir = 'proda'
  run_name = 'proda_{model}'
/
&network
  hidden_layers = 128, 128
  alpha = 0.3
  max_epochs = 1000
  patience = 60
/
&evaluation
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


def launch(args, ranks: int, cwd: Path) -> None:
    cmd = [sys.executable, "-m"] + args
    if ranks > 1:
        cmd = ["mpirun", "--oversubscribe", "-n", str(ranks), sys.executable, "-m", "mpi4py", "-m"] + args
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=cwd, check=True, env=dict(os.environ, OMP_NUM_THREADS="1"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("israd_dir", type=Path)
    ap.add_argument("grid", type=Path)
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--compas", action="store_true", help="also calibrate and generalise COMPAS, then compare")
    ap.add_argument("--smoke", action="store_true", help="a minutes-long check of the pipeline: 20 profiles, short "
                    "chains, 2 bootstrap members (numbers meaningless)")
    a = ap.parse_args()
    from pysoc.io.israd import convert_israd

    out = a.outdir.resolve()
    out.mkdir(parents=True, exist_ok=True)
    d = a.israd_dir
    vf = d / "vonFromm2024_ISRaD_lyr_filtered_2023-02-08.csv.gz"
    sites, layers, report = convert_israd(d / "ISRaD_extra_layer.csv.gz", d / "ISRaD_extra_profile.csv.gz",
                                          d / "ISRaD_extra_metadata.csv", d / "ISRaD_extra_site.csv",
                                          vf if vf.exists() else None)
    print(report.text())
    if a.smoke:
        sites = sites.iloc[::max(1, len(sites) // 20)].head(20)
        layers = layers[layers["site_id"].isin(sites["site_id"])]
    sites.to_csv(out / "israd_sites.csv", index=False)
    layers.to_csv(out / "israd_layers.csv", index=False)
    common = dict(sites="israd_sites.csv", layers="israd_layers.csv")
    models = [("clm5", 5000, 10000)] + ([("compas", 3000, 6000)] if a.compas else [])
    if a.smoke:
        models = [(m, 200, 400) for m, _, _ in models]
    for model, n_test, n_formal in models:
        for mode, tag in (("site_by_site", "sbs"), ("one_batch", "batch")):
            if model == "compas" and mode == "one_batch":
                continue
            nml = out / f"calibrate_{model}_{tag}.nml"
            nml.write_text(CAL.format(model=model, mode=mode, tag=tag, n_test=n_test, n_formal=n_formal,
                                      t0=min(2000, n_formal // 2), **common))
            launch(["pysoc.cli.calibrate", str(nml)], a.ranks if mode == "site_by_site" else 1, out)
        nml = out / f"proda_{model}.nml"
        nml.write_text(PRODA.format(model=model, grid=a.grid.resolve(),
                                    one_batch=f"cal/{model}_batch_posterior.nc" if model == "clm5" else "",
                                    n_random=20 if a.smoke else (1000 if model == "clm5" else 300),
                                    n_boot=2 if a.smoke else (50 if model == "clm5" else 20), **common))
        launch(["pysoc.cli.proda", str(nml)], a.ranks, out)
    if a.compas:
        launch(["pysoc.cli.proda", "--compare", "proda/proda_clm5_maps.nc", "proda/proda_compas_maps.nc",
                "--output", "proda/clm5_vs_compas"], 1, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

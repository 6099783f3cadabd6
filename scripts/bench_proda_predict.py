"""Benchmark: a saved PRODA model predicts N new sites (docs/proda.md, "Predicting at new sites").

Usage: python scripts/bench_proda_predict.py [MODEL] [--n 1000] [--seed 0]

MODEL defaults to output/proda_clm5_model.nc, the model file of `make demo` (pysoc-proda
namelists/proda_clm5.nml). The sites are N land cells of the model's covariate grid drawn at
random, given by coordinates only, so every covariate and forcing input is sampled from the
grid (the slowest path). Printed: sites predicted, kernel calls and their process time
(``time.process_time`` around the batched kernel calls: best guess + every member of the band
ensemble), and the process and wall time of the whole prediction (covariates, site forcing,
kernel, outputs).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", nargs="?", type=Path, default=ROOT / "output" / "proda_clm5_model.nc")
    ap.add_argument("--n", type=int, default=1000, help="number of sites")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    if not a.model.is_file():
        print(f"{a.model}: model file not found (run `make demo` or pysoc-proda first)", file=sys.stderr)
        return 2
    from pysoc.proda.model import ProdaModel
    from pysoc.proda.sites import model_grid

    pm = ProdaModel.load(a.model)
    grid = model_grid(pm)
    rng = np.random.default_rng(a.seed)
    cells = rng.choice(grid.n_cells, size=a.n, replace=a.n > grid.n_cells)
    sites = pd.DataFrame({"site_id": [f"cell_{i}" for i in range(a.n)], "lat": grid.cell_lat[cells],
                          "lon": grid.cell_lon[cells]})
    c0, w0 = time.process_time(), time.perf_counter()
    pred = pm.predict(sites)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    ens = pm.band_ensemble()
    n_ok = pred.n_predicted
    runs = n_ok * (1 + pm.ensemble(ens).n_members)
    print(f"model {a.model} ({pm.model_name}, band ensemble '{ens}' with {pm.ensemble(ens).n_members} members)")
    print(f"{a.n} sites: {n_ok} predicted, {len(pred.failures)} not predictable")
    print(f"kernel: {runs} steady states, process time {pred.kernel_seconds:.2f} s "
          f"({runs / max(pred.kernel_seconds, 1e-9):,.0f} per s)")
    print(f"whole prediction: process time {cpu:.2f} s, wall time {wall:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Time the prediction of a saved Rh model at many new sites (docs/upscale_rh.md).

    python scripts/bench_upscale.py [--model output/upscale_rh/rh_model.zip] [--sites 10000]

Draws ``--sites`` random locations on vegetated land (seeded; uniform over the vegetated cells
of the model's covariate grid, jittered inside the cell), then times what
``pysoc-upscale predict`` does: load the model file, open the grid, compute the derived
predictor fields, sample the predictors under the gap-fill rule and predict with the model
and its bootstrap members. Prints CPU and wall time (the machine may be shared: CPU time is
the number to compare). Not a test: the limit of the issue is 10 s for 10,000 sites.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=Path(__file__).resolve().parents[1] / "output" / "upscale_rh" /
                    "rh_model.zip", help="saved model (run pysoc-upscale namelists/upscale_rh.nml first)")
    ap.add_argument("--sites", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    from pysoc.io.namelist import resolve_path
    from pysoc.upscale.grid import CovariateGrid
    from pysoc.upscale.saved import UpscaleModel

    if not a.model.is_file():
        raise SystemExit(f"{a.model}: no saved model; run `pysoc-upscale namelists/upscale_rh.nml` or pass --model")
    c0, w0 = time.process_time(), time.perf_counter()
    model = UpscaleModel.load(a.model)
    grid = CovariateGrid(resolve_path(model.grid_file, Path.cwd()))
    model.prepare_grid(grid)
    c1, w1 = time.process_time(), time.perf_counter()
    rng = np.random.default_rng(a.seed)
    veg = np.flatnonzero(grid.area_weight("vegetated").ravel() > 0)
    pick = rng.choice(veg, a.sites)
    dlat, dlon = np.diff(grid.lat).mean(), np.diff(grid.lon).mean()
    lat = grid.LAT.ravel()[pick] + rng.uniform(-0.5, 0.5, a.sites) * dlat
    lon = grid.LON.ravel()[pick] + rng.uniform(-0.5, 0.5, a.sites) * dlon
    c2, w2 = time.process_time(), time.perf_counter()
    pred = model.predict_sites(grid, lat, lon)
    c3, w3 = time.process_time(), time.perf_counter()
    n_ok = int((pred["status"] == "ok").sum())
    print(f"model {a.model.name}: {model.candidate} {model.config}, {len(model.members)} members")
    print(f"load model + grid + derived fields: {c1 - c0:.2f} s CPU ({w1 - w0:.2f} s wall)")
    print(f"predict at {a.sites} sites ({n_ok} predicted, {a.sites - n_ok} beyond {model.fill_km:g} km): "
          f"{c3 - c2:.2f} s CPU ({w3 - w2:.2f} s wall)")
    print(f"total for {a.sites} sites: {c3 - c0 - (c2 - c1):.2f} s CPU ({w3 - w0 - (w2 - w1):.2f} s wall); "
          f"limit 10 s")


if __name__ == "__main__":
    main()

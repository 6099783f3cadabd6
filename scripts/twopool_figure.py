"""Figure of docs/adding_a_model.md: the two-pool template kernel run through the three CLIs.

(a) pysoc-run: 50 years of the synthetic climatology from zero carbon (namelists/twopool_transient.nml)
    next to the analytic steady state (namelists/twopool_steady_state.nml);
(b) pysoc-calibrate: posterior mean tau_som of the 48 ISRaD profiles against the site MAT
    (namelists/calibrate_twopool.nml);
(c) pysoc-proda: the best-guess map of tau_som (namelists/proda_twopool.nml).

Run the four namelists first (outputs in output/), then ``python scripts/twopool_figure.py``.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "output"


def main() -> Path:
    fig, ax = plt.subplots(1, 3, figsize=(14, 3.8), gridspec_kw={"width_ratios": [1, 1, 1.5]})
    with xr.open_dataset(OUT / "twopool_transient.nc") as tr, xr.open_dataset(OUT / "twopool_steady_state.nc") as ss:
        years = np.arange(tr.sizes["time"]) / 12.0
        for i, (pool, colour) in enumerate((("LIT", "tab:green"), ("SOM", "tab:brown"))):   # pool order of twopool
            stock = tr["pool_stock"].isel(pool=i, depth_interval=-1).values / 1000.0
            ax[0].plot(years, stock, color=colour, label=f"{pool} (transient from zero)")
            ax[0].axhline(float(ss["pool_stock"].isel(pool=i, depth_interval=-1)) / 1000.0, color=colour,
                          ls="--", lw=0.8, label=f"{pool} analytic steady state")
    ax[0].set(xlabel="year", ylabel="stock (kg C m$^{-2}$)", title="(a) pysoc-run")
    ax[0].legend(fontsize=7)
    sites = pd.read_csv(OUT / "calibrate_twopool_sites.csv")
    table = pd.read_csv(REPO / "pysoc/data/profiles/israd_sites.csv").set_index("site_id")
    mat = table.loc[sites["site_id"], "wc_bio01_mat_degC"].values
    ax[1].scatter(mat, sites["tau_som_mean"], s=12)
    ax[1].set(yscale="log", xlabel="site MAT (°C)", ylabel="posterior mean tau_som (yr)", title="(b) pysoc-calibrate")
    with xr.open_dataset(OUT / "proda_twopool_maps.nc") as maps:
        im = ax[2].pcolormesh(maps["lon"], maps["lat"], maps["tau_som"], shading="auto", norm=matplotlib.colors.LogNorm())
    fig.colorbar(im, ax=ax[2], label="tau_som (yr)")
    ax[2].set(xlabel="longitude", ylabel="latitude", title="(c) pysoc-proda: best-guess tau_som")
    fig.tight_layout()
    path = REPO / "docs" / "figures" / "twopool_example.png"
    fig.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    print(main())

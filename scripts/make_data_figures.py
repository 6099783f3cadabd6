"""Figure of the shipped ISRaD profiles (docs/figures/data_profiles.png) and the numbers
quoted in docs/data.md: climate space, SOC density and Δ14C profiles, and the CLM5 steady
state (default parameters) under the approximate site forcing against the observations.

Usage: python scripts/make_data_figures.py [OUT_PNG]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("MPLBACKEND", "Agg")
import matplotlib.pyplot as plt  # noqa: E402

from pysoc.io.profiles import read_profiles, select  # noqa: E402
from pysoc.io.site_forcing import site_forcings  # noqa: E402
from pysoc.models import get_model  # noqa: E402
from pysoc.profiles import interval_means  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "pysoc" / "data" / "profiles"
COLORS = {"A": "tab:green", "B": "tab:orange", "C": "tab:blue", "D": "tab:purple", "E": "tab:gray"}
NAMES = {"A": "A tropical", "B": "B arid", "C": "C temperate", "D": "D cold", "E": "E polar"}
MARKERS = {"forest": "^", "rangeland/grassland": "s", "cultivated": "D", "shrubland": "o", "tundra": "*",
           "bare": "P"}


def model_vs_obs(profiles):
    m = get_model("clm5")
    forcings, failures = site_forcings(m, profiles)
    if failures:
        raise SystemExit(f"site forcing failed: {failures}")
    theta = np.tile(m.param_vector(warn_prior=False), (len(profiles), 1))
    res = m.evaluate(m.prepare(forcings), theta, site_index=np.arange(len(profiles)))
    m.raise_for_status(res, "data figure")
    soc = res.outputs["soc_profile"]
    mod, obs, ratio = [], [], []
    for i, p in enumerate(profiles):
        w = np.clip(np.minimum(p.bottom, 0.3) - p.top, 0.0, None)
        mm = interval_means(soc[i], m.bounds, p.bounds)
        mod.append((mm * w).sum() / w.sum())
        obs.append((p.soc * w).sum() / w.sum())
        ratio.append(mod[-1] / obs[-1])
    return np.array(mod), np.array(obs), np.array(ratio), forcings


def main(out=ROOT / "docs" / "figures" / "data_profiles.png") -> None:
    ps = read_profiles(DATA / "israd_sites.csv", DATA / "israd_layers.csv")
    sel = select(ps)
    print(sel.summary())
    mod, obs, ratio, forcings = model_vs_obs(ps)
    fig, ax = plt.subplots(1, 4, figsize=(16, 4.6))
    for p in ps:
        k = (p.meta.get("koppen") or "?")[0]
        c = COLORS.get(k, "k")
        mk = MARKERS.get(p.meta.get("land_cover") or "", "v")
        ax[0].scatter(p.covariates["wc_bio01_mat_degC"], p.covariates["wc_bio12_map_mm_yr"], c=c, marker=mk,
                      s=40, edgecolor="k", linewidth=0.4)
        zmid = 100 * (p.top + p.bottom) / 2
        ax[1].step(np.repeat(p.soc / 1000.0, 2), 100 * np.ravel(np.column_stack([p.top, p.bottom])),
                   color=c, lw=0.8, alpha=0.7)
        if p.d14c is not None:
            ok = np.isfinite(p.d14c)
            ax[2].plot(p.d14c[ok], zmid[ok], "-o", color=c, ms=2.5, lw=0.7, alpha=0.7)
    for k, name in NAMES.items():
        ax[0].scatter([], [], c=COLORS[k], label=name)
    for lc, mk in MARKERS.items():
        ax[0].scatter([], [], c="w", edgecolor="k", marker=mk, label=lc)
    ax[0].set(xlabel="MAT (°C, WorldClim BIO1)", ylabel="MAP (mm yr⁻¹, BIO12)", yscale="log", ylim=(50, 8000),
              title=f"(a) {len(ps)} ISRaD profiles: climate")
    ax[0].legend(fontsize=6.5, ncol=2, loc="upper left", framealpha=0.9)
    ax[1].set(xscale="log", xlabel="SOC density (kg C m⁻³)", ylabel="depth (cm)", ylim=(250, 0),
              title="(b) observed SOC profiles")
    ax[2].axvline(0, color="k", lw=0.5)
    ax[2].set(xlabel="bulk-soil Δ¹⁴C (‰)", ylabel="depth (cm)", ylim=(250, 0), title="(c) radiocarbon")
    for p, x, y in zip(ps, obs, mod):
        ax[3].scatter(x / 1000.0, y / 1000.0, c=COLORS.get((p.meta.get("koppen") or "?")[0], "k"),
                      marker=MARKERS.get(p.meta.get("land_cover") or "", "v"), s=36, edgecolor="k", linewidth=0.4)
    lim = [0.5, 200]
    ax[3].plot(lim, lim, "k-", lw=0.7)
    ax[3].set(xscale="log", yscale="log", xlim=lim, ylim=lim, xlabel="observed, kg C m⁻³",
              ylabel="CLM5 default + site forcing, kg C m⁻³",
              title=f"(d) mean SOC 0–30 cm, median ratio {np.median(ratio):.2f}")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")
    npp = np.array([f.attrs["npp_g_C_m2_yr"] for f in forcings])
    alt = np.array([f.attrs["active_layer_m"] for f in forcings])
    print(f"median modelled/observed SOC 0-30 cm: {np.median(ratio):.2f} "
          f"(10-90 %: {np.percentile(ratio, 10):.2f}-{np.percentile(ratio, 90):.2f}); "
          f"log10 ratio r with obs: {np.corrcoef(np.log(obs), np.log(mod))[0, 1]:.2f}")
    print(f"NPP {npp.min():.0f}-{npp.max():.0f} g C m-2 yr-1; permafrost sites: {int((alt < 8.6).sum())} "
          f"(ALT {', '.join(f'{a:.2f}' for a in alt[alt < 8.6])} m)")
    nl = sum(p.n_layers for p in ps)
    print(f"layers {nl}; with measured BD {sum(int((~p.meta['bd_pedotransfer']).sum()) for p in ps)}; "
          f"with D14C {sum(int(np.isfinite(p.d14c).sum()) for p in ps if p.d14c is not None)}; "
          f"coarse reported {sum(int((~p.meta['coarse_default']).sum()) for p in ps)}")


if __name__ == "__main__":
    main(*sys.argv[1:])

"""Figures of docs/mimics.md (docs/figures/mimics_*.png).

Usage: python scripts/make_mimics_figures.py [--calibration output/calibrate_mimics_sites.csv]
       [--skip-spinup]

1. mimics_lter.png: the 14 LTER single-layer steady states (MIMSOC) of the three regression
   configurations, pysoc against the targets and the R stode reference.
2. mimics_profile.png: SOC and Delta14C of ISRaD profile McFarlane_2013_013 (Bartlett B2,
   namelists/mimics_profile.nml) observed and modelled with the default multipliers and, if a
   calibration table is given (pysoc-calibrate namelists/calibrate_mimics.nml), with the
   SCE-UA optimum of that site.
3. mimics_spinup.png: distance of the time-stepping spin-up (daily backward-Euler steps) to the
   Newton root, year by year, with the seed 003 stopping criterion marked.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIG = ROOT / "docs" / "figures"
TD = ROOT / "tests" / "data" / "mimics"
PD = ROOT / "pysoc" / "data" / "mimics"


def fig_lter(get_model):
    cases = [("forward", "gmd2015", "mimics2015_forward_LTER_steadystate.csv", "GMD 2015 forward"),
             ("reverse", "sandbox_fmet_fixed", "mimics_sandbox_reverse_fMETfixed_LTER_steadystate.csv",
              "sandbox reverse, fixed fMET"),
             ("reverse", "sandbox", "mimics_sandbox_reverse_fMETcalc_LTER_steadystate.csv",
              "sandbox reverse, fMET from lig:N")]
    master = pd.read_csv(TD / "LTER_SITE_1_master.csv")
    stode = pd.read_csv(TD / "LTER_SITE_1.csv")
    rref = pd.read_csv(TD / "LTER_MIMSOC_R_vs_Py_reference.csv")
    rref = rref[rref.SOURCE == "R"].set_index("SITE")
    fig, ax = plt.subplots(1, 2, figsize=(10, 4.4))
    for (kin, pset, fname, label), mk in zip(cases, "osD"):
        m = get_model("mimics", n_layers=1, layer_thickness=0.3, kinetics=kin)
        if kin == "forward":
            fs = [m.forcing_dataset(r.MAT, r.CLAY2 / 100, r.ANPP / 2, 0.0, 20.0, 20.0) for r in master.itertuples()]
        else:
            fs = [m.forcing_dataset(r.TSOI, r.CLAY / 100, r.ANPP / 2, 0.0, r.lig_N, r.lig_N) for r in stode.itertuples()]
        th = np.repeat(m.parameters.vector(pset)[None], len(fs), 0)
        res = m.evaluate(fs, th, site_index=np.arange(len(fs)))
        mimsoc = res.outputs["pools"][:, :, 0].sum(axis=1) / 1000 * 0.3
        ref = pd.read_csv(TD / fname)
        ax[0].plot(ref.MIMSOC_kgCm2, mimsoc, mk, mfc="none", label=label)
        rel = np.abs(res.outputs["pools"][:, :, 0] / 1000 / ref[["LITm", "LITs", "MICr", "MICk", "SOMp", "SOMc",
                                                                   "SOMa"]].to_numpy() - 1).max(axis=1)
        ax[1].semilogy(np.arange(14), rel, mk + "-", mfc="none", label=label)
        if pset == "sandbox_fmet_fixed":
            r_vals = rref.loc[stode.Site, "MIMSOC"].to_numpy()
            ax[0].plot(r_vals, mimsoc, "k+", label="R stode reference (sandbox, fixed fMET)")
    lim = [1, 7]
    ax[0].plot(lim, lim, "k:", lw=0.8)
    ax[0].set(xlabel="target MIMSOC (kg C m$^{-2}$, 0-30 cm)", ylabel="pysoc MIMSOC (kg C m$^{-2}$)",
              title="14 LTER sites, single 30 cm layer")
    ax[0].legend(fontsize=7)
    ax[1].axhline(1e-8, color="r", ls="--", lw=0.8, label="tolerance 1e-8")
    ax[1].set_xticks(np.arange(14), master.Site, rotation=90, fontsize=7)
    ax[1].set(ylabel="max relative error over the 7 pools", title="per-pool agreement with the targets")
    ax[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(FIG / "mimics_lter.png", dpi=120)
    plt.close(fig)


def fig_profile(get_model, calibration: Path | None):
    from pysoc.io.profiles import read_profiles
    m = get_model("mimics")
    f = m.load_forcing(PD / "forcing_bartlett_B2.nc")
    prof = {p.site_id: p for p in read_profiles(PD / "mcfarlane2013_sites.csv", PD / "mcfarlane2013_layers.csv")}
    p = prof["McFarlane_2013_013"]
    runs = [("default multipliers (seed 003 Table 1)", m.parameters.vector("wang2021"), "C0"),
            ("seed 003 Table 2, Bartlett", m.parameters.vector("wang2021_bartlett"), "C2")]
    if calibration is not None and calibration.is_file():
        cal = pd.read_csv(calibration).set_index("site_id")
        if p.site_id in cal.index:
            names = ("x_v", "x_k", "x_d", "x_diff", "alpha_r", "alpha_v", "beta")
            best = {n: float(cal.loc[p.site_id, f"{n}_best"]) for n in names}
            runs.append(("SCE-UA optimum (calibrate_mimics.nml)", m.parameters.vector("wang2021", overrides=best), "C3"))
    fig, ax = plt.subplots(1, 2, figsize=(9, 5), sharey=True)
    z = m.zsoi
    for lab, th, col in runs:
        ds = m.steady_state(f, th)
        ax[0].plot(ds.soc.values / 1000, z, "-", color=col, label=lab)
        ax[1].plot(ds.d14c.values, z, "-", color=col)
    for t, b, s, d in zip(p.top, p.bottom, p.soc, p.d14c):
        ax[0].plot([s / 1000] * 2, [t, b], "k-", lw=2)
        ax[1].plot([d] * 2, [t, b], "k-", lw=2)
    ax[0].plot([], [], "k-", lw=2, label="observed (ISRaD McFarlane et al. 2013)")
    ax[0].set(xlabel="SOC (kg C m$^{-3}$)", ylabel="depth (m)", title="Bartlett B2: SOC")
    ax[1].set(xlabel=r"$\Delta^{14}$C (per mil), 2007", title=r"Bartlett B2: $\Delta^{14}$C of SOM")
    ax[0].invert_yaxis()
    ax[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(FIG / "mimics_profile.png", dpi=120)
    plt.close(fig)


def fig_spinup(get_model):
    from pysoc._kernels import mimics as K
    m = get_model("mimics", substep_hours=24.0, radiocarbon=False)
    f = m.load_forcing(PD / "forcing_bartlett_B2.nc")
    flat = m.forcing_dataset(f["tsoi"].values.mean(axis=0), f["clay"].values, float(f["litter_above"]),
                             float(f["litter_below"]), float(f["lignin_n_above"]), float(f["lignin_n_below"]),
                             attrs=dict(f.attrs))
    th = m.parameters.vector("wang2021")
    root = m.steady_state(flat, th).cpools.values
    prep = m.prepare(flat)
    x0, _ = K.initial_guess(m.dz, th, prep["clay"][:, 0], prep["tsoi"][:, :, 0], prep["wsc"][:, :, 0],
                            prep["litter"][:, 0], m.kin, 1)
    years = 4000
    one = m.forcing_dataset(np.repeat(flat["tsoi"].values, 1, axis=0), f["clay"].values,
                            float(f["litter_above"]), float(f["litter_below"]), float(f["lignin_n_above"]),
                            float(f["lignin_n_below"]), attrs=dict(f.attrs))
    tr = m.transient(one, th, n_years=years, initial=x0.T * 1000)
    x = tr.cpools.values
    dist = np.abs(x / root - 1).max(axis=(1, 2))
    socdist = np.abs((x[:, 2:] * m.dz).sum(axis=(1, 2)) / (root[2:] * m.dz).sum() - 1)
    change = np.abs(np.diff(x, axis=0) / x[:-1]).max(axis=(1, 2))
    stop = int(np.argmax(change < 1e-4)) + 2 if (change < 1e-4).any() else years
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    yr = np.arange(1, years + 1)
    ax.semilogy(yr, dist, label="max over pools and layers |C/C* - 1|")
    ax.semilogy(yr, socdist, label="SOC stock |S/S* - 1|")
    ax.semilogy(yr[1:], change, label="largest relative change between years")
    ax.axhline(1e-4, color="k", ls=":", lw=0.8)
    ax.axvline(stop, color="r", ls="--", lw=0.8, label=f"seed 003 criterion (< 0.01 %/yr) met: year {stop}")
    ax.set(xlabel="spin-up year", ylabel="relative distance", title="spin-up vs the Newton root (20 x 5 cm, Bartlett)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(FIG / "mimics_spinup.png", dpi=120)
    plt.close(fig)
    print(f"spin-up: criterion met in year {stop}; there max distance {dist[stop - 1]:.2e}, SOC {socdist[stop - 1]:.2e}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calibration", type=Path, default=ROOT / "output" / "calibrate_mimics_sites.csv")
    ap.add_argument("--skip-spinup", action="store_true")
    args = ap.parse_args(argv)
    from pysoc.models import get_model
    from pysoc.params import OutsidePriorWarning
    warnings.simplefilter("ignore", OutsidePriorWarning)
    FIG.mkdir(parents=True, exist_ok=True)
    fig_lter(get_model)
    fig_profile(get_model, args.calibration)
    if not args.skip_spinup:
        fig_spinup(get_model)
    return 0


if __name__ == "__main__":
    sys.exit(main())

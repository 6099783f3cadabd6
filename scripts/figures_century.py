"""Figures of docs/century.md: docs/figures/century_haibei.png (forcing, monthly fluxes,
pools, spin-up), docs/figures/century_scalars.png (production and decomposition response
functions) and, when the output of namelists/calibrate_century.nml exists,
docs/figures/century_opt2_streams.png. The seed-000 comparison on the plateau
(docs/figures/century_qtp.png) is made by scripts/century_qtp.py --figure.

Usage: python scripts/figures_century.py [OUTDIR] [CALIBRATION_OUTPUT_DIR (default output/)]
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from pysoc._kernels import century_probes as K  # noqa: E402  (test and diagnostic probes)
from pysoc.models import get_model  # noqa: E402
from pysoc.models import century as C  # noqa: E402

FORCING = Path(C.__file__).resolve().parent.parent / "data" / "century" / "haibei_forcing.nc"


def haibei(out: Path) -> None:
    model = get_model("century")
    f = model.load_forcing(FORCING)
    ss = model.steady_state(f)
    tr = model.transient(f)
    prep = model.prepare(f)
    th = np.asfortranarray(model.parameters.vector("meadow")[:, None])
    idx = np.ones(1, np.int32)
    st0, _ = model.initial_state(prep, th, idx)
    ny = 8000
    p2 = dict(prep)
    for k in ("tmax", "tmin", "prec"):
        p2[k] = np.asfortranarray(np.tile(prep[k + "_spinup"], (ny, 1)))
    states, _, _ = model.run_kernel(p2, th, idx, st0)
    soc_classic = states[5:8, 11::12, 0].sum(axis=0) / 1000.0
    fast, nit, _ = model.spinup(prep, th, idx, st0, "fast")
    soc_fast = fast[5:8, 0].sum() / 1000.0

    fig, ax = plt.subplots(2, 2, figsize=(11, 7.5))
    m = np.arange(1, 13)
    a = ax[0, 0]
    a.plot(m, f["tmax_spinup"], "r-", label="tmax")
    a.plot(m, f["tmin_spinup"], "b-", label="tmin")
    a.plot(m, ss["stemp"], "k--", label="soil surface T (decomposition)")
    a.set_ylabel("°C")
    a.set_xlabel("month")
    b = a.twinx()
    b.bar(m, f["prec_spinup"], color="0.8", zorder=0, label="precipitation")
    b.set_ylabel("precipitation (mm month$^{-1}$)")
    a.set_zorder(b.get_zorder() + 1)
    a.patch.set_visible(False)
    a.legend(loc="upper left", fontsize=8)
    a.set_title("(a) Haibei spin-up climate (1980–2009 cell, corrected to CN-HaM)", fontsize=10)

    a = ax[0, 1]
    t = np.arange(tr.sizes["time"])
    a.plot(t, tr["npp"], "g-", label="NPP")
    a.plot(t, tr["rh"], "-", color="brown", label="Rh")
    a.plot(t, tr["nep"], "k-", label="NEP = NPP − Rh")
    a.axhline(0, color="0.6", lw=0.5)
    ny_tr = tr.sizes["time"] // 12
    a.set_xticks(np.arange(0, 12 * ny_tr + 1, 12), [str(2002 + k) for k in range(ny_tr + 1)])
    a.set_ylabel("g C m$^{-2}$ month$^{-1}$")
    a.legend(fontsize=8)
    a.set_title(f"(b) 2002–{2001 + ny_tr} after spin-up (annual NEP "
                f"{', '.join(f'{v:.0f}' for v in tr['nep'].values.reshape(ny_tr, 12).sum(1))})", fontsize=10)

    a = ax[1, 0]
    pools = ss["cpools"].mean("time").values
    order = [0, 1, 4, 8, 2, 3, 5, 6, 7]
    a.barh([C.POOLS[i] for i in order], [pools[i] for i in order],
           color=["tab:olive"] * 4 + ["tab:brown"] * 2 + ["tab:blue"] * 3)
    a.set_xscale("log")
    a.set_xlabel("g C m$^{-2}$ (annual mean at steady state)")
    sites = pd.read_csv(FORCING.parent / "qtp_sites.csv")
    obs = float(sites.loc[sites["meta_tower"] == "CN-HaM", "socd_0_30_kg_m2"].iloc[0])
    a.set_title(f"(c) litter/SOM pools; SOC 0–30 cm {float(ss['soc_0_30'].mean()):.2f} kg C m$^{{-2}}$ "
                f"(observed {obs:.1f})", fontsize=10)

    a = ax[1, 1]
    years = np.arange(1, ny + 1)
    a.plot(years, soc_classic, "k-", label="classic spin-up (repeated climatology)")
    a.axhline(soc_fast, color="tab:red", ls="--", label=f"fast matrix spin-up ({nit[0]} periods)")
    a.axvline(4000, color="0.5", ls=":", label="4000 yr (seed 000)")
    a.set_xlabel("simulated years")
    a.set_ylabel("SOC 0–30 cm (kg C m$^{-2}$)")
    a.set_ylim(0, soc_fast * 1.1)
    a.legend(fontsize=8, loc="lower right")
    a.set_title(f"(d) spin-up: after 4000 yr {100 * (soc_classic[3999] / soc_fast - 1):+.2f} % "
                f"of the fixed point", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "century_haibei.png", dpi=110)
    plt.close(fig)


def scalars(out: Path) -> None:
    model = get_model("century")
    meadow, steppe = model.parameters.vector("meadow"), model.parameters.vector("steppe")
    idx = {n: model.parameters.index(n) for n in ("PPDF(1)", "PPDF(2)", "PPDF(3)", "PPDF(4)")}
    t = np.linspace(-15, 45, 241)
    fig, ax = plt.subplots(1, 3, figsize=(12, 3.6))
    for name, v in (("meadow", meadow), ("steppe", steppe)):
        ax[0].plot(t, K.gpdf_curve(t, *(v[idx[k]] for k in ("PPDF(1)", "PPDF(2)", "PPDF(3)", "PPDF(4)"))),
                   label=f"{name}: PPDF = {v[idx['PPDF(1)']]:g}, {v[idx['PPDF(2)']]:g}, "
                         f"{v[idx['PPDF(3)']]:g}, {v[idx['PPDF(4)']]:g}")
    ax[0].set_xlabel("production temperature ctemp (°C)")
    ax[0].set_title("temperature effect on production", fontsize=10)
    ax[0].legend(fontsize=7)
    x = np.linspace(0, 1.5, 151)
    for wc in (0.1, 0.2, 0.3):
        ax[1].plot(x, [K.scalars(v, 1, 20, 0, 1, 0.8, wc, 15.4, 11.75, 29.7, 0.031)[0] for v in x],
                   label=f"h2ogef, wc = {wc}")
    ax[1].plot(x, [K.scalars(0.5, v, 20, 0, 1, 0.8, 0.1, 15.4, 11.75, 29.7, 0.031)[1] for v in x], "k--",
               label="wfunc (decomposition)")
    ax[1].set_xlabel("available water / PET")
    ax[1].set_title("moisture effects (PPRPTS = 0, 1, 0.8)", fontsize=10)
    ax[1].legend(fontsize=7)
    for teff1 in (10.0, 15.4, 20.0):
        ax[2].plot(t, [K.scalars(0.5, 1, v, 0, 1, 0.8, 0.1, teff1, 11.75, 29.7, 0.031)[2] for v in t],
                   label=f"TEFF(1) = {teff1:g}")
    ax[2].set_xlabel("soil surface temperature (°C)")
    ax[2].set_title("temperature effect on decomposition", fontsize=10)
    ax[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "century_scalars.png", dpi=110)
    plt.close(fig)


def calibration(out: Path, caldir: Path) -> bool:
    """docs/figures/century_opt2_streams.png: the streams figure that pysoc-calibrate writes for
    namelists/calibrate_century.nml (Opt2, one batch: SOC and tower NEP against the model)."""
    import shutil

    src = caldir / "calibrate_century_opt2_streams.png"
    if not src.is_file():
        print(f"no {src}: run pysoc-calibrate namelists/calibrate_century.nml first; century_opt2_streams.png "
              f"not made (the seed-000 comparison figure is made by scripts/century_qtp.py --figure)")
        return False
    shutil.copyfile(src, out / "century_opt2_streams.png")
    return True


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent / "docs" / "figures"
    caldir = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "output"
    out.mkdir(parents=True, exist_ok=True)
    haibei(out)
    scalars(out)
    calibration(out, caldir)
    print(f"figures written to {out}")


if __name__ == "__main__":
    main()

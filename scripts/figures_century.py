"""Figures of docs/century.md: docs/figures/century_haibei.png (forcing, monthly fluxes,
pools, spin-up), docs/figures/century_scalars.png (production and decomposition response
functions) and, when the outputs of the two calibration namelists exist,
docs/figures/century_calibration.png (Opt1 vs Opt2 posterior predictive).

Usage: python scripts/figures_century.py [OUTDIR] [CALIBRATION_OUTPUT_DIR (default output/)]
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pysoc._kernels import century as K  # noqa: E402
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
    a.set_title("(a) Haibei climatology 1980–2009 (ISIMIP3a cell)", fontsize=10)

    a = ax[0, 1]
    t = np.arange(tr.sizes["time"])
    a.plot(t, tr["npp"], "g-", label="NPP")
    a.plot(t, tr["rh"], "-", color="brown", label="Rh")
    a.plot(t, tr["nep"], "k-", label="NEP = NPP − Rh")
    a.axhline(0, color="0.6", lw=0.5)
    a.set_xticks(np.arange(0, 37, 12), ["2002", "2003", "2004", "2005"])
    a.set_ylabel("g C m$^{-2}$ month$^{-1}$")
    a.legend(fontsize=8)
    a.set_title(f"(b) transient 2002–2004 after spin-up (annual NEP "
                f"{', '.join(f'{v:.0f}' for v in tr['nep'].values.reshape(3, 12).sum(1))})", fontsize=10)

    a = ax[1, 0]
    pools = ss["cpools"].mean("time").values
    order = [0, 1, 4, 8, 2, 3, 5, 6, 7]
    a.barh([C.POOLS[i] for i in order], [pools[i] for i in order],
           color=["tab:olive"] * 4 + ["tab:brown"] * 2 + ["tab:blue"] * 3)
    a.set_xscale("log")
    a.set_xlabel("g C m$^{-2}$ (annual mean at steady state)")
    a.set_title(f"(c) litter/SOM pools; SOC 0–30 cm {float(ss['soc_0_30'].mean()):.2f} kg C m$^{{-2}}$ "
                f"(observed 13.4)", fontsize=10)

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
    import xarray as xr

    files = {k: caldir / f"calibrate_century_{k}_posterior.nc" for k in ("opt1", "opt2")}
    if not all(f.is_file() for f in files.values()):
        print(f"no calibration outputs in {caldir}: run pysoc-calibrate namelists/calibrate_century.nml and "
              f"namelists/calibrate_century_opt1.nml first; century_calibration.png not made")
        return False
    pp = {k: xr.open_dataset(f, group="posterior_predictive") for k, f in files.items()}
    obs = {k: xr.open_dataset(f, group="observed_data") for k, f in files.items()}
    post = {k: xr.open_dataset(f, group="posterior") for k, f in files.items()}
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.8), gridspec_kw={"width_ratios": [1, 2.2, 1.3]})
    a = ax[0]
    data = [pp[k]["soc_0_30"].values.ravel() for k in ("opt1", "opt2")]
    a.violinplot(data, showmedians=True)
    a.axhline(float(obs["opt1"]["soc_0_30"].values.ravel()[0]), color="k", ls="--", label="observed")
    a.set_xticks([1, 2], ["Opt1\n(SOC)", "Opt2\n(SOC + NEP)"])
    a.set_ylabel("SOC 0–30 cm (kg C m$^{-2}$)")
    a.legend(fontsize=8)
    a.set_title("(a) posterior predictive SOC", fontsize=10)
    a = ax[1]
    t = np.arange(36)
    for k, c in (("opt1", "tab:blue"), ("opt2", "tab:red")):
        nep = xr.open_dataset(files["opt2"], group="observed_data")["nep_monthly"].values.ravel()
        if "nep_monthly" in pp[k]:
            v = pp[k]["nep_monthly"].values.reshape(-1, 36)
        else:   # Opt1 has no NEP stream: re-run the model for its posterior draws
            model = get_model("century")
            f = model.load_forcing(FORCING)
            th = np.tile(model.parameters.vector("meadow"), (60, 1))
            draws = post[k]
            sel = np.linspace(0, draws.sizes["chain"] * draws.sizes["draw"] - 1, 60).astype(int)
            for n in C.CALIBRATED:
                th[:, model.parameters.index(n)] = draws[n].values.ravel()[sel]
            v = model.evaluate(f, th).outputs["nep_monthly"]
        q = np.nanquantile(v, [0.05, 0.5, 0.95], axis=0)
        a.fill_between(t, q[0], q[2], color=c, alpha=0.25)
        a.plot(t, q[1], color=c, label=f"{k.capitalize()} median, 5–95 %")
    a.plot(t, nep, "k.", label="synthetic NEP 'observations'")
    a.set_xticks(np.arange(0, 37, 12), ["2002", "2003", "2004", "2005"])
    a.set_ylabel("NEP (g C m$^{-2}$ month$^{-1}$)")
    a.legend(fontsize=8)
    a.set_title("(b) monthly NEP (synthetic observations: M_Opt2 means + noise)", fontsize=10)
    a = ax[2]
    names = ["PRDX(1)", "PPDF(1)", "PPDF(2)", "FSDETH(1)", "RDR", "DEC4", "TEFF(1)", "TEFF(2)"]
    for j, (k, c) in enumerate((("opt1", "tab:blue"), ("opt2", "tab:red"))):
        for i, n in enumerate(names):
            s = C.PARAMETERS[n]
            kp = (post[k][n].values.ravel() - s.prior_min) / (s.prior_max - s.prior_min)
            a.plot(np.quantile(kp, [0.05, 0.95]), [i + 0.15 * (2 * j - 1)] * 2, color=c, lw=3,
                   label=k.capitalize() if i == 0 else None)
            a.plot(np.median(kp), i + 0.15 * (2 * j - 1), "o", color=c, ms=3)
    for i, n in enumerate(names):
        s = C.PARAMETERS[n]
        a.plot((C.MEADOW_OPT2[n] - s.prior_min) / (s.prior_max - s.prior_min), i, "k|", ms=10)
    a.set_yticks(range(len(names)), names)
    a.set_xlim(0, 1)
    a.set_xlabel("position in the prior range (| = NEP truth)")
    a.legend(fontsize=8)
    a.set_title("(c) posterior 5–95 %", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "century_calibration.png", dpi=110)
    plt.close(fig)
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

"""Figure of docs/offline_runs.md, from the worked example: the CTSM-layout example history
(pysoc/data/ctsm/example_h0.nc, 48 columns) -> pysoc-run (steady state of every column; a
1000-year transient from zero on the first year of the history, annual means) -> xarray.

Usage: python scripts/figures_offline.py [OUT.png]
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from pysoc.cli.run import main as pysoc_run  # noqa: E402
from pysoc.io import netcdf  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "pysoc" / "data" / "ctsm" / "example_h0.nc"


def run(tmp: Path):
    ss_nml = (REPO / "namelists" / "clm5_ctsm_steady_state.nml").read_text()
    ss_nml = ss_nml.replace("pkgdata:ctsm/example_h0.nc", str(EXAMPLE)).replace("../output/", f"{tmp}/")
    (tmp / "ss.nml").write_text(ss_nml.replace("&run\n", "&run\n  progress = .false.\n", 1))
    assert pysoc_run([str(tmp / "ss.nml")]) == 0
    with xr.open_dataset(EXAMPLE) as h:                      # one year of the history: a climatology
        h.isel(time=slice(0, 12)).to_netcdf(tmp / "h0_year.nc")
    for mode, extra in (("steady_state", ""), ("transient", "&transient\n  n_years = 1000\n  initial = 'zero'\n/\n"
                                                             "&output\n  frequency = 'annual'\n/\n")):
        (tmp / f"{mode}.nml").write_text(f"&run\n  model = 'clm5'\n  mode = '{mode}'\n  forcing_file = "
                                         f"'{tmp}/h0_year.nc'\n  output_file = '{tmp}/{mode}.nc'\n  parameter_set = "
                                         f"'prior_mid'\n  progress = .false.\n/\n{extra}")
        assert pysoc_run([str(tmp / f"{mode}.nml")]) == 0
    return (netcdf.open_output(tmp / "clm5_ctsm_steady_state.nc"), netcdf.open_output(tmp / "steady_state.nc"),
            netcdf.open_output(tmp / "transient.nc"))


def figure(ss: xr.Dataset, ss1: xr.Dataset, tr: xr.Dataset, out: Path) -> None:
    with xr.open_dataset(EXAMPLE) as h:
        t1m = (h.TSOI.isel(levgrnd=slice(0, 9)).mean(("time", "levgrnd")) - 273.15).values
        w = h.W_SCALAR.isel(levdcmp=slice(0, 9)).mean(("time", "levdcmp")).values
    ok = ss.status.values == 0
    soc = ss.soc_stock.sel(depth_interval="0-100 cm").values / 1000.0
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.9))
    prof = ss.soc.values[ok] / 1000.0                          # kg C m-3
    prof = np.where(prof > 1e-6 * prof.max(), prof, np.nan)     # (almost) no carbon below bedrock (nbedrock)
    for p in prof:
        ax[0].semilogx(p, ss.depth, color="0.6", lw=0.6)
    ax[0].semilogx(np.nanmedian(prof, axis=0), ss.depth, color="k", lw=2, label=f"median of {ok.sum()} columns")
    ax[0].set(ylim=(3.0, 0), xlim=(1.0, 1e2), xlabel="SOC (kg C m$^{-3}$)", ylabel="depth (m)",
              title="a  steady-state profile of every column")
    ax[0].legend(loc="lower left", fontsize=8)
    sc = ax[1].scatter(t1m[ok], soc[ok], c=w[ok], cmap="BrBG", s=40)
    fig.colorbar(sc, ax=ax[1], label="mean W_SCALAR 0-1 m")
    ax[1].set(xlabel="mean TSOI 0-1 m (degC)", ylabel="SOC 0-100 cm (kg C m$^{-2}$)",
              title="b  SOC against the CTSM forcing")
    years = tr.time.dt.year.values
    for c, col in zip((0, 10, 20, 30), ("C0", "C1", "C2", "C3")):
        ax[2].plot(years, tr.soc_stock.isel(column=c).sel(depth_interval="0-30 cm") / 1000, color=col,
                   label=f"column {c}")
        ax[2].axhline(float(ss1.soc_stock.isel(column=c).sel(depth_interval="0-30 cm")) / 1000, color=col,
                      ls=":", lw=1)
    ax[2].set(xlabel="year (annual means, noleap calendar)", ylabel="SOC 0-30 cm (kg C m$^{-2}$)",
              title="c  1000-year transient from zero")
    ax[2].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(out, dpi=130)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else REPO / "docs" / "figures" / "offline_columns.png"
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as d:
        ss, ss1, tr = run(Path(d))
        figure(ss, ss1, tr, out)
    soc = ss.soc_stock.sel(depth_interval="0-100 cm").where(ss.status == 0)
    print(out, f"{int((ss.status == 0).sum())} columns, median SOC 0-100 cm {float(soc.median()) / 1000:.1f} kg m-2")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

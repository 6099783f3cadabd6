"""Morris importance of the 7 MIMICS multipliers for J1 (SOC) and J2 (Delta14C), seed 003
Figure 2 in kind: table and figure from the two pysoc-calibrate Morris runs.

Usage::

    cd namelists && pysoc-calibrate morris_mimics_soc.nml && pysoc-calibrate morris_mimics_d14c.nml
    cd .. && python scripts/mimics_morris.py [--soc output/morris_mimics_soc_morris.nc]
        [--d14c output/morris_mimics_d14c_morris.nc] [--table docs/mimics_morris.csv]
        [--figure docs/figures/mimics_morris.png]

Importance theta_m = sqrt(mu_m^2 + sigma_m^2) / sd_m'(sqrt(mu_m'^2 + sigma_m'^2)) per site
(computed by pysoc.da.morris, written as 'importance'); the table gives it per site and
term, the mean over the sites and the rank of the mean (1 = most important). The figure
shows the importance per site (thin lines) and the mean over the sites (thick grey line)
for J1 and J2, as seed 003 Figure 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LABELS = {"x_v": "$x_v$", "x_k": "$x_K$", "x_d": "$x_d$", "x_diff": "$x_D$", "alpha_r": r"$\alpha_r$",
          "alpha_v": r"$\alpha_v$", "beta": r"$\beta$"}
PROFILE_NAMES = {"McFarlane_2013_001": "Harvard H2", "McFarlane_2013_005": "MI-Coarse 60M",
                 "McFarlane_2013_013": "Bartlett B2"}


def read_importance(path: Path, term: str) -> pd.DataFrame:
    """Long table (term, site_id, parameter, importance, mu, mu_star, sigma, n_traj) of one run."""
    if not path.is_file():
        raise SystemExit(f"mimics_morris: error: {path}: Morris output not found (run pysoc-calibrate "
                         f"namelists/morris_mimics_{term}.nml first)")
    with xr.open_dataset(path) as ds:
        sites = [str(s) for s in ds["site_id"].values]
        names = [str(p) for p in ds["parameter_name"].values]
        ok = np.asarray(ds["status"].values) == 0
        rows = []
        for i, s in enumerate(sites):
            if not ok[i]:
                continue
            for j, p in enumerate(names):
                rows.append({"term": term, "site_id": s, "parameter": p,
                             "importance": float(ds["importance"].values[i, j]), "mu": float(ds["mu"].values[i, j]),
                             "mu_star": float(ds["mu_star"].values[i, j]), "sigma": float(ds["sigma"].values[i, j]),
                             "n_trajectories_used": int(ds["n_trajectories_used"].values[i])})
    return pd.DataFrame(rows)


def ranking(df: pd.DataFrame) -> pd.DataFrame:
    """Mean importance over the sites per term and parameter, with its rank (1 = largest)
    and the number of sites where the parameter is the most important one."""
    mean = df.groupby(["term", "parameter"], sort=False)["importance"].mean().unstack("term")
    out = pd.DataFrame(index=mean.index)
    for term in mean.columns:
        out[f"{term}_mean"] = mean[term]
        out[f"{term}_rank"] = mean[term].rank(ascending=False).astype(int)
        top = df[df.term == term].loc[lambda d: d.groupby("site_id")["importance"].idxmax()]
        out[f"{term}_n_top"] = top["parameter"].value_counts().reindex(mean.index).fillna(0).astype(int)
    return out


def figure(df: pd.DataFrame, path: Path) -> None:
    terms = [("soc", "J1: SOC concentration"), ("d14c", "J2: $\\Delta^{14}$C")]
    names = list(dict.fromkeys(df["parameter"]))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    x = np.arange(len(names))
    for ax, (term, title) in zip(axes, terms):
        d = df[df.term == term]
        for sid, g in d.groupby("site_id"):
            g = g.set_index("parameter").reindex(names)
            named = sid in PROFILE_NAMES
            ax.plot(x, g["importance"], "-o", ms=3 if named else 2, lw=1.2 if named else 0.6,
                    alpha=1.0 if named else 0.45, label=PROFILE_NAMES.get(sid))
        mean = d.groupby("parameter")["importance"].mean().reindex(names)
        ax.plot(x, mean, "-", color="0.45", lw=4, alpha=0.7, label="mean of the sites")
        ax.set_xticks(x)
        ax.set_xticklabels([LABELS.get(n, n) for n in names])
        ax.set_title(f"{title} ({d.site_id.nunique()} profiles)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(r"importance $\theta$")
    axes[1].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    from pysoc.io.atomic import atomic_path
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="mimics_morris", description=__doc__.split("\n\n")[0])
    p.add_argument("--soc", type=Path, default=ROOT / "output" / "morris_mimics_soc_morris.nc")
    p.add_argument("--d14c", type=Path, default=ROOT / "output" / "morris_mimics_d14c_morris.nc")
    p.add_argument("--table", type=Path, default=ROOT / "docs" / "mimics_morris.csv")
    p.add_argument("--figure", type=Path, default=ROOT / "docs" / "figures" / "mimics_morris.png")
    a = p.parse_args(argv)
    from pysoc.io.atomic import write_csv
    df = pd.concat([read_importance(a.soc, "soc"), read_importance(a.d14c, "d14c")], ignore_index=True)
    write_csv(df, a.table, float_format="%.4g")
    rank = ranking(df)
    print(rank.round(2).to_string())
    wide = df.pivot_table(index=["term", "site_id"], columns="parameter", values="importance", sort=False)
    print(wide.round(2).to_string())
    figure(df, a.figure)
    print(f"wrote {a.table} and {a.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

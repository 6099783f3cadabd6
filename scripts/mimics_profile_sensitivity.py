"""Sensitivity of the simulated mean SOC profile to x_D, alpha_v and alpha_r (seed 003
Figure 7 in kind), for the one forest type of the shipped profiles: the 13 McFarlane 2013
temperate deciduous broadleaf forest profiles (DBF), with the seed 003 Table 3 DBF
multipliers (parameter set ``wang2021_dbf``) as the reference.

Usage::

    python scripts/mimics_profile_sensitivity.py [--table docs/mimics_profile_sensitivity.csv]
        [--figure docs/figures/mimics_profile_sensitivity.png]

Each of the three parameters is reduced and increased by 25 % (seed 003 Figure 7) with the
other multipliers at the reference; the steady-state SOC profile (20 x 5 cm, forcing from the
site covariates) is averaged over the profiles. Printed: the relative change of the mean
profile per parameter and direction, averaged over 0-30 cm and 30-100 cm.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "pysoc" / "data" / "mimics"
PARAMS = (("x_diff", "$x_D$", "k"), ("alpha_v", r"$\alpha_v$", "tab:red"), ("alpha_r", r"$\alpha_r$", "tab:green"))
FACTORS = (0.75, 1.25)


def profiles_sensitivity(parameter_set: str = "wang2021_dbf"):
    """Mean SOC profile (g C m-3) over the shipped profiles for the reference and each
    parameter x factor: (depth (m), {label: profile}, number of profiles used)."""
    from pysoc.io.profiles import read_profiles
    from pysoc.models import get_model

    model = get_model("mimics")
    table = model.parameters
    ref = table.vector(parameter_set)
    cases = {"reference": ref}
    for name, _, _ in PARAMS:
        for f in FACTORS:
            th = ref.copy()
            th[table.index(name)] *= f
            cases[f"{name} x{f:g}"] = th
    theta = np.stack(list(cases.values()))
    socs, used = [], 0
    for prof in read_profiles(DATA / "mcfarlane2013_sites.csv", DATA / "mcfarlane2013_layers.csv"):
        forcing = model.site_forcing(prof)
        res = model.evaluate(forcing, theta, observables=("soc_profile",))
        if (np.asarray(res.status) != 0).any():
            print(f"mimics_profile_sensitivity: {prof.site_id}: a steady state failed, profile skipped",
                  file=sys.stderr)
            continue
        socs.append(res.outputs["soc_profile"])
        used += 1
    if not used:
        raise SystemExit("mimics_profile_sensitivity: error: no profile gave valid steady states")
    mean = np.mean(socs, axis=0)
    return model.zsoi, dict(zip(cases, mean)), used


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="mimics_profile_sensitivity", description=__doc__.split("\n\n")[0])
    p.add_argument("--table", type=Path, default=ROOT / "docs" / "mimics_profile_sensitivity.csv")
    p.add_argument("--figure", type=Path, default=ROOT / "docs" / "figures" / "mimics_profile_sensitivity.png")
    p.add_argument("--parameter-set", default="wang2021_dbf")
    a = p.parse_args(argv)
    from pysoc.io.atomic import atomic_path, write_csv

    z, prof, n = profiles_sensitivity(a.parameter_set)
    ref = prof["reference"]
    df = pd.DataFrame({"depth_m": z, **{k: v for k, v in prof.items()}})
    write_csv(df, a.table, float_format="%.6g")
    rows = []
    for k, v in prof.items():
        if k == "reference":
            continue
        rel = v / ref - 1.0
        rows.append({"case": k, "rel_change_0_30cm": rel[z < 0.3].mean(), "rel_change_30_100cm": rel[z > 0.3].mean(),
                     "rel_change_max_abs": np.abs(rel).max()})
    summ = pd.DataFrame(rows)
    print(f"mean SOC profile of {n} profiles, reference {a.parameter_set}")
    print(summ.round(3).to_string(index=False))
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.6), sharey=True)
    axes[0].plot(ref / 1000.0, z * 100, color="tab:blue", lw=2.5, label=f"reference ({a.parameter_set})")
    for name, lab, col in PARAMS:
        for f, ls in zip(FACTORS, ("-", "--")):
            v = prof[f"{name} x{f:g}"]
            axes[0].plot(v / 1000.0, z * 100, color=col, ls=ls, lw=1.2, label=f"{lab} {'-' if f < 1 else '+'}25 %")
            axes[1].plot(100 * (v / ref - 1.0), z * 100, color=col, ls=ls, lw=1.2)
    axes[0].set_xscale("log")
    axes[0].set_xticks([1, 2, 5, 10, 20])
    axes[0].xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    axes[0].xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes[0].set_xlabel("mean SOC (kg C m$^{-3}$)")
    axes[0].set_ylabel("depth (cm)")
    axes[0].invert_yaxis()
    axes[0].legend(fontsize=7)
    axes[1].axvline(0, color="0.5", lw=0.8)
    axes[1].set_xlabel("change of the mean SOC (%)")
    axes[0].set_title(f"DBF: {n} McFarlane 2013 profiles")
    axes[1].set_title("solid: -25 %, dashed: +25 %")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    a.figure.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(a.figure) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    print(f"wrote {a.table} and {a.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

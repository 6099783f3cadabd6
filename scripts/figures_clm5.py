"""Figures of docs/clm5.md: steady-state SOC profiles of the two synthetic sites and a
transient approach to steady state. Usage: python scripts/figures_clm5.py [OUTDIR]"""

import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_synthetic_forcing import synthetic_site  # noqa: E402

from pysoc.models import get_model  # noqa: E402

warnings.simplefilter("ignore")


def main(outdir="docs/figures"):
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    m = get_model("clm5")
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.2))
    for site, ax in zip((1, 2), axes[:2]):
        f = synthetic_site(m, site)
        for label, theta in [("CLM5 defaults", m.parameters.vector("clm5")),
                             ("PRODA prior mid (kp 0.5)", m.parameters.vector("prior_mid"))]:
            ss = m.steady_state(f, theta)
            ax.step(ss.soc.values / 1000, ss.depth.values, where="mid", label=label)
        ax.set_ylim(3, 0)
        ax.set_xlabel("SOC (kg C m$^{-3}$)")
        ax.set_ylabel("depth (m)")
        ax.set_title(f"synthetic site {site}: steady state")
        ax.legend(fontsize=8)
    f = synthetic_site(m, 2)
    theta = m.parameters.vector("prior_mid")
    tr = m.transient(f, theta, n_years=20000, initial="zero").isel(time=slice(11, None, 12))
    ss = m.steady_state(f, theta)
    years = np.arange(1, tr.sizes["time"] + 1)
    for i, lab in enumerate(tr.depth_interval.values[:3]):
        ax = axes[2]
        ax.plot(years, tr.soc_stock.isel(depth_interval=i) / 1000, label=f"{lab}")
        ax.axhline(float(ss.soc_stock.isel(depth_interval=i)) / 1000, color=f"C{i}", ls=":", lw=1)
    axes[2].set_xscale("log")
    axes[2].set_xlabel("years from zero carbon")
    axes[2].set_ylabel("SOC stock (kg C m$^{-2}$)")
    axes[2].set_title("site 2: transient (dotted: steady state)")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "clm5_profiles.png", dpi=110)
    print(out / "clm5_profiles.png")


if __name__ == "__main__":
    main(*sys.argv[1:])

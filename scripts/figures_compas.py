"""Figures of docs/compas.md: steady-state pool profiles and the approach to steady state
(compas_profiles.png), and the Michaelis-Menten constants against their substrates over a
prior ensemble (compas_km_ratio.png, the quantity of Tao et al. 2024 Fig. 5).
Usage: python scripts/figures_compas.py [OUTDIR]"""

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
from pysoc.models.compas import REASONS  # noqa: E402

warnings.simplefilter("ignore")
DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31.0])


def profiles(m, out):
    fig, axes = plt.subplots(1, 3, figsize=(12.5, 4.3))
    f1 = synthetic_site(m, 1)
    theta = m.param_vector()
    ds = m.steady_state(f1, theta)
    z = ds.depth.values
    ax = axes[0]
    for pool, c in zip(("DOC", "MIC", "ENZ", "SOC"), ("tab:blue", "tab:green", "tab:orange", "tab:brown")):
        ax.semilogx(ds.cpools.sel(pool=pool), z, "o-", ms=3, color=c, label=pool)
    ax.semilogx(ds.cpools.sel(pool=["CWD", "L1", "L2", "L3"]).sum("pool"), z, "k--", label="litter + CWD")
    ax.set_ylim(2.0, 0)
    ax.set_xlim(1e-3, 1e5)
    ax.set_xlabel("g C m$^{-3}$")
    ax.set_ylabel("depth (m)")
    ax.set_title("steady state, site 1, prior mid (kp 0.5)", fontsize=10)
    ax.legend(fontsize=8, loc="lower left")

    ax = axes[1]
    for site, ls in ((1, "-"), (2, "--")):
        f = synthetic_site(m, site)
        d = m.steady_state(f, theta, errors="return")
        r = d.km_ratio
        lab = f"site {site}" + ("" if int(d.status) == 0 else f" ({d.attrs['reason']})")
        ax.semilogx(r.sel(process="doc_uptake"), z, ls, color="tab:blue", label=f"DOC uptake, {lab}")
        ax.semilogx(r.sel(process="depolymerisation"), z, ls, color="tab:brown", label=f"SOC depolym., {lab}")
    ax.axvline(100, color="0.5", lw=0.8, ls=":")
    ax.set_xlim(1, 300)
    ax.set_ylim(2.0, 0)
    ax.set_xlabel(r"$K_m\,\xi$ / substrate")
    ax.set_title("Michaelis-Menten constant / substrate", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")

    ax = axes[2]
    f = f1.copy(deep=True)
    f["litter_input"].values[:] = np.array([100.0, 200.0, 150.0, 50.0])[None, :] * DAYS[:, None] / 365.0
    ss = m.steady_state(f, theta)
    tr = m.transient(f, theta, n_years=2000, initial="zero")
    years = (np.arange(tr.sizes["time"]) + 1) / 12.0
    for k, c, lab in ((0, "tab:brown", "0-30 cm"), (1, "tab:olive", "0-100 cm"), (3, "0.4", "whole column")):
        ax.semilogx(years, tr.soc_stock.isel(depth_interval=k) / float(ss.soc_stock.isel(depth_interval=k)),
                    color=c, label=f"DOC+MIC+ENZ+SOC {lab}")
    ax.semilogx(years, tr.pool_stock.sel(pool="MIC").isel(depth_interval=0)
                / float(ss.pool_stock.sel(pool="MIC").isel(depth_interval=0)), color="tab:green", label="MIC 0-30 cm")
    ax.axhline(1.0, color="k", ls=":", lw=0.8)
    ax.set_xlabel("years from zero carbon")
    ax.set_ylabel("stock / closed-form steady state")
    ax.set_title("transient, monthly implicit steps", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(out / "compas_profiles.png", dpi=120)
    plt.close(fig)


def km_ratio(m, out, n=4000):
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.3))
    rng = np.random.default_rng(0)
    theta = m.to_physical(rng.uniform(0.0, 1.0, size=(n, 23)))
    lines = []
    for site, ax in zip((1, 2), axes):
        f = synthetic_site(m, site)
        res = m.evaluate(f, theta, observables=("soc_profile", "km_ratio"))
        ok = res.ok
        top = m.zisoi <= 1.0 + 1e-9                                    # layers in 0-1 m
        pools = res.outputs["pools"][ok][:, :, top]
        ratio = res.outputs["km_ratio"][ok][:, :, top]
        for proc, (k, c, lab) in enumerate(((4, "tab:blue", "DOC uptake"), (7, "tab:brown", "SOC depolymerisation"))):
            sub = pools[:, k].ravel()
            km = (ratio[:, proc] * pools[:, k]).ravel()
            ax.loglog(sub, km, ".", ms=1.5, alpha=0.3, color=c, label=f"{lab}: {np.mean(ratio[:, proc] > 100):.0%} > 100")
        x = np.logspace(-2, 7, 10)
        ax.loglog(x, x, "k-", lw=0.8, label="Km = substrate")
        ax.loglog(x, 100 * x, "k--", lw=0.8, label="Km = 100 x substrate")
        counts = {REASONS[k]: int((res.reason == k).sum()) for k in sorted(REASONS)}
        ax.set_title(f"site {site}: {ok.sum()} of {n} prior draws valid", fontsize=10)
        ax.set_xlabel("substrate (g C m$^{-3}$), layers 0-1 m")
        ax.set_ylabel(r"$K_m\,\xi$ (g C m$^{-3}$)")
        ax.legend(fontsize=7, loc="upper left", markerscale=6)
        lines.append(f"site {site}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    fig.tight_layout()
    fig.savefig(out / "compas_km_ratio.png", dpi=120)
    plt.close(fig)
    return lines


def main(outdir="docs/figures"):
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    m = get_model("compas")
    profiles(m, out)
    for line in km_ratio(m, out):
        print(line)
    print(f"wrote {out / 'compas_profiles.png'}, {out / 'compas_km_ratio.png'}")


if __name__ == "__main__":
    main(*sys.argv[1:])

"""Forest-type calibration and validation of vertical MIMICS (seed 003 Table 4 in kind) on the
shipped ISRaD forest profiles (pysoc/data/mimics/forest_types, scripts/build_mimics_forest_types.py).

Usage::

    python scripts/mimics_forest_types.py [--max-evals 800] [--n-complexes 2] [--jobs 2]
        [--table docs/mimics_forest_types.csv] [--figure docs/figures/mimics_forest_types.png]
        [--max-sites N] [--seed 20210223]

Per forest type (ENF, EBF, DBF, BNF) the ISRaD sites (entry + site name: profiles of one site
stay together) are split at random into a calibration and a validation half. One parameter set
per type (the 7 multipliers of seed 003 Table 1, uniform priors on its ranges, the other 63
parameters at ``wang2021``) is fitted to all calibration profiles together (one-batch: the cost
is the sum of the site costs J1, SOC density with sigma = 10 % of the observation) by SCE-UA with
the budget given; the forcing of every profile comes from its covariates
(``model.site_forcing``). Written: a table per type and set (n sites, n layers, r^2 of the
regression of modeled on observed SOC concentration as in seed 003, NSE, RMSE, bias, a, b; the
seed's Table 4 values next to it), the same metrics of two baselines on the validation half
(uncalibrated ``wang2021`` multipliers; the calibration-half mean observed concentration per
10-cm depth bin), the fitted multipliers, and the mean-profile figure.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "pysoc" / "data" / "mimics" / "forest_types"
TYPES = ("ENF", "EBF", "DBF", "BNF")
MULT = ("x_v", "x_k", "x_d", "x_diff", "alpha_r", "alpha_v", "beta")
#: seed 003 Table 4 (N, RMSE g C/kg, a, b, r^2), calibration (C) and validation (V)
SEED_TABLE4 = {("ENF", "cal"): (32, 18.7, 10.3, 0.50, 0.43), ("ENF", "val"): (32, 18.3, 10.0, 0.50, 0.47),
               ("EBF", "cal"): (16, 13.1, 9.9, 0.64, 0.62), ("EBF", "val"): (17, 13.3, 12.9, 0.71, 0.45),
               ("DBF", "cal"): (39, 13.9, 7.22, 0.52, 0.45), ("DBF", "val"): (39, 11.1, 5.56, 0.58, 0.63),
               ("BNF", "cal"): (4, 4.9, 1.9, 0.95, 0.93), ("BNF", "val"): (5, 10.5, -1.7, 1.03, 0.77)}


def load(max_sites: int | None = None):
    """Shipped forest profiles grouped by type: {type: [Profile, ...]}."""
    from pysoc.io.profiles import read_profiles

    out = {t: [] for t in TYPES}
    for p in read_profiles(DATA / "sites.csv", DATA / "layers.csv"):
        out[str(p.meta["meta_forest_type"] if "meta_forest_type" in p.meta else p.meta["forest_type"])].append(p)
    if max_sites:   # smoke runs: one profile of each ISRaD site first, so that every type can be split
        for t, v in out.items():
            rank, seen = [], {}
            for p in v:
                seen[_group(p)] = seen.get(_group(p), -1) + 1
                rank.append(seen[_group(p)])
            out[t] = [p for _, p in sorted(zip(rank, v), key=lambda x: x[0])][:max_sites]
    return out


def _group(p) -> str:
    return f"{p.meta.get('entry_name')}|{p.meta.get('site_name')}"


def split(profiles, rng: np.random.Generator):
    """Calibration and validation halves of whole ISRaD sites (entry + site name), so that no
    site is on both sides: the sites in random order, the largest first, each to the half with
    fewer profiles so far (balanced numbers of profiles)."""
    groups: dict[str, list] = {}
    for p in profiles:
        groups.setdefault(_group(p), []).append(p)
    keys = sorted(groups)
    rng.shuffle(keys)
    keys.sort(key=lambda k: -len(groups[k]))          # stable: random order within equal sizes
    cal, val = [], []
    for k in keys:
        (cal if len(cal) <= len(val) else val).extend(groups[k])
    return cal, val


def cost_function(model, mapper, profiles):
    from pysoc.da.likelihood import CostFunction, StreamSpec, build_site_observations

    spec = [StreamSpec("soc_profile", sigma_rel=0.1, sigma_abs=0.0, weight=1.0)]
    obs = [build_site_observations(p, model.bounds, spec) for p in profiles]
    return CostFunction(model, [model.site_forcing(p) for p in profiles], obs, mapper), obs


def concentrations(profiles, obs, pred, zbot: float):
    """Observed and modeled SOC (g C/kg) and layer mid-depths (m), pooled over profiles:
    modeled density x (observed g/kg / observed density) of each layer (the layer's BD and
    coarse fraction)."""
    y, yh, z = [], [], []
    for i, (p, o) in enumerate(zip(profiles, obs)):
        st = o.streams["soc_profile"]
        keep = np.isfinite(p.soc) & (np.asarray(p.top) < zbot)      # the layers of build_site_observations
        conv = 10.0 * np.asarray(p.meta["soc_percent"], float)[keep] / np.asarray(p.soc)[keep]
        k = st.y.size
        y.append(st.y * conv)
        yh.append(pred[i, :k] * conv)
        z.append(0.5 * (st.top + st.bottom))
    return np.concatenate(y), np.concatenate(yh), np.concatenate(z)


def skill(y, yh) -> dict:
    ok = np.isfinite(y) & np.isfinite(yh)
    y, yh = y[ok], yh[ok]
    b, a = np.polyfit(y, yh, 1)
    r = np.corrcoef(y, yh)[0, 1]
    return {"n_layers": int(y.size), "r2": r * r, "nse": 1.0 - np.sum((yh - y) ** 2) / np.sum((y - y.mean()) ** 2),
            "rmse": float(np.sqrt(np.mean((yh - y) ** 2))), "bias": float(np.mean(yh - y)), "a": a, "b": b}


def depth_bin_baseline(zc, yc, zv):
    """Mean calibration-half concentration of the 10-cm depth bin of each validation layer."""
    bins = np.minimum((zc * 10).astype(int), 9)
    means = np.array([yc[bins == k].mean() if (bins == k).any() else np.nan for k in range(10)])
    fill = pd.Series(means).ffill().bfill().to_numpy()
    return fill[np.minimum((zv * 10).astype(int), 9)]


def run_type(args):
    """Calibrate one forest type and evaluate both halves (worker)."""
    ftype, cal, val, max_evals, n_complexes, seed = args
    from pysoc.da.likelihood import ParameterMapper
    from pysoc.da.optimize import SCEUASettings, sceua
    from pysoc.models import get_model

    model = get_model("mimics")
    table = model.parameters
    ref = table.vector("wang2021")
    free = [table.index(n) for n in MULT]
    mapper = ParameterMapper(model, free, ref)
    cf_cal, obs_cal = cost_function(model, mapper, cal)
    cf_val, obs_val = cost_function(model, mapper, val)
    t0 = time.process_time()
    loops = [0]

    def progress():
        loops[0] += 1
        print(f"mimics_forest_types: {ftype}: shuffling loop {loops[0]}, {cf_cal.n_evaluations // len(cal)} "
              f"evaluations", file=sys.stderr, flush=True)

    with np.errstate(all="ignore"):
        res = sceua(lambda kp: cf_cal(kp).sum(axis=0), len(free),
                    SCEUASettings(n_complexes=n_complexes, max_evals=max_evals), np.random.default_rng(seed),
                    callback=progress)
    cpu = time.process_time() - t0
    kp_ref = table.to_kp(ref)[free][None]
    out = {"type": ftype, "cost": res.cost, "evals": res.n_evals, "reason": res.reason, "cpu_s": cpu, "theta": mapper(res.x[None])[0][free], "n_cal": len(cal), "n_val": len(val)}
    for name, cf, obs, profs in (("cal", cf_cal, obs_cal, cal), ("val", cf_val, obs_val, val)):
        pr = cf.predict(res.x[None])["pred"]["soc_profile"][:, 0, :]
        zbot = float(model.bounds[-1, 1])
        out[name] = concentrations(profs, obs, pr, zbot)
        if name == "val":
            out["val_default"] = concentrations(profs, obs, cf.predict(kp_ref)["pred"]["soc_profile"][:, 0, :], zbot)
    return out


def table_rows(results) -> pd.DataFrame:
    """The Table 4 analog: per type, calibration, validation and the two validation baselines."""
    rows = []
    for r in results:
        zc = r["cal"][2]
        cases = [("cal", "calibrated", r["cal"]), ("val", "calibrated", r["val"]),
                 ("val", "baseline: wang2021 multipliers", r["val_default"]),
                 ("val", "baseline: depth-bin mean of cal half",
                  (r["val"][0], depth_bin_baseline(zc, r["cal"][0], r["val"][2]), r["val"][2]))]
        for half, pred, (y, yh, _) in cases:
            seed = SEED_TABLE4[(r["type"], half)] if pred == "calibrated" else (np.nan,) * 5
            rows.append({"forest_type": r["type"], "set": half, "prediction": pred,
                         "n_sites": r["n_cal"] if half == "cal" else r["n_val"], **skill(y, yh),
                         "seed_n": seed[0], "seed_rmse": seed[1], "seed_a": seed[2], "seed_b": seed[3],
                         "seed_r2": seed[4]})
    return pd.DataFrame(rows)


def figure(results, path: Path) -> None:
    """Mean observed and modeled SOC concentration per 10-cm bin, calibration (top) and validation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pysoc.io.atomic import atomic_path

    fig, axes = plt.subplots(2, len(results), figsize=(3.0 * len(results), 6.4), sharey=True, squeeze=False)
    for j, r in enumerate(results):
        for i, half in enumerate(("cal", "val")):
            ax = axes[i, j]
            y, yh, z = r[half]
            b = np.minimum((z * 10).astype(int), 9)
            ks = np.unique(b)
            mid = (ks + 0.5) * 10.0
            ax.plot([y[b == k].mean() for k in ks], mid, "ko-", label="observed")
            ax.plot([yh[b == k].mean() for k in ks], mid, "o-", color="0.55", mfc="none", label="MIMICS")
            if half == "val":
                yd = r["val_default"][1]
                ax.plot([yd[b == k].mean() for k in ks], mid, ":", color="tab:red", label="wang2021 (uncalibrated)")
            s = skill(y, yh)
            n = r["n_cal"] if half == "cal" else r["n_val"]
            ax.set_title(f"{r['type']} ({'C' if half == 'cal' else 'V'}), n={n}\n"
                         f"r$^2$={s['r2']:.2f} RMSE={s['rmse']:.1f}", fontsize=9)
            ax.grid(alpha=0.3)
            if i == 1:
                ax.set_xlabel("SOC (g C kg$^{-1}$)")
            if j == 0:
                ax.set_ylabel("depth (cm)")
    axes[0, 0].invert_yaxis()
    axes[1, 0].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


SENS = (("x_diff", "$x_D$", "k"), ("alpha_v", r"$\alpha_v$", "tab:red"), ("alpha_r", r"$\alpha_r$", "tab:green"))


def sensitivity(groups, params: pd.DataFrame):
    """Seed 003 Figure 7 per type: mean steady-state SOC profile (g C m-3) of all profiles of
    the type with its calibrated multipliers and with x_D, alpha_v, alpha_r x 0.75 and x 1.25:
    {type: {case: profile}}, the node depths (m) and a table of relative changes."""
    from pysoc.models import get_model

    model = get_model("mimics")
    table = model.parameters
    out, rows = {}, []
    for _, row in params.iterrows():
        ref = table.vector("wang2021")
        for n in MULT:
            ref[table.index(n)] = row[n]
        cases = {"reference": ref}
        for n, _, _ in SENS:
            for f in (0.75, 1.25):
                th = ref.copy()
                th[table.index(n)] *= f
                cases[f"{n} x{f:g}"] = th
        theta = np.stack(list(cases.values()))
        socs = []
        for prof in groups[row["forest_type"]]:
            res = model.evaluate(model.site_forcing(prof), theta, observables=("soc_profile",))
            if (np.asarray(res.status) == 0).all():
                socs.append(res.outputs["soc_profile"])
        mean = dict(zip(cases, np.mean(socs, axis=0)))
        out[row["forest_type"]] = mean
        z = model.zsoi
        for k, v in mean.items():
            if k != "reference":
                rel = v / mean["reference"] - 1.0
                rows.append({"forest_type": row["forest_type"], "case": k, "n_profiles": len(socs),
                             "rel_change_0_30cm": rel[z < 0.3].mean(), "rel_change_30_100cm": rel[z > 0.3].mean()})
    return out, model.zsoi, pd.DataFrame(rows)


def sensitivity_figure(prof, z, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pysoc.io.atomic import atomic_path

    import matplotlib.ticker

    fig, axes = plt.subplots(1, len(prof), figsize=(3.0 * len(prof), 4.2), sharey=True, squeeze=False)
    for ax, (t, cases) in zip(axes[0], prof.items()):
        ax.plot(cases["reference"] / 1000.0, z * 100, color="tab:blue", lw=2.2, label="calibrated")
        for n, lab, col in SENS:
            for f, ls in ((0.75, "-"), (1.25, "--")):
                ax.plot(cases[f"{n} x{f:g}"] / 1000.0, z * 100, color=col, ls=ls, lw=1.0,
                        label=f"{lab} {'-' if f < 1 else '+'}25 %")
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(t)
        ax.set_xlabel("mean SOC (kg C m$^{-3}$)")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("depth (cm)")
    axes[0, 0].invert_yaxis()
    axes[0, 0].legend(fontsize=6)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def run_sensitivity(groups, params, a) -> None:
    from pysoc.io.atomic import write_csv

    prof, z, tab = sensitivity(groups, params)
    write_csv(tab, a.sensitivity_table, float_format="%.4g")
    sensitivity_figure(prof, z, a.sensitivity_figure)
    print(tab.round(3).to_string(index=False))
    print(f"wrote {a.sensitivity_table} and {a.sensitivity_figure}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="mimics_forest_types", description=__doc__.split("\n\n")[0])
    p.add_argument("--max-evals", type=int, default=800, help="SCE-UA evaluations per type (default 800)")
    p.add_argument("--n-complexes", type=int, default=2)
    p.add_argument("--jobs", type=int, default=2, help="worker processes (at most 2 on the project machine)")
    p.add_argument("--max-sites", type=int, default=0, help="first N profiles per type only (0 = all; smoke runs)")
    p.add_argument("--seed", type=int, default=20210223)
    p.add_argument("--table", type=Path, default=ROOT / "docs" / "mimics_forest_types.csv")
    p.add_argument("--params", type=Path, default=ROOT / "docs" / "mimics_forest_types_params.csv")
    p.add_argument("--figure", type=Path, default=ROOT / "docs" / "figures" / "mimics_forest_types.png")
    p.add_argument("--sensitivity-table", type=Path, default=ROOT / "docs" / "mimics_forest_types_sensitivity.csv")
    p.add_argument("--sensitivity-figure", type=Path,
                   default=ROOT / "docs" / "figures" / "mimics_forest_types_sensitivity.png")
    p.add_argument("--sensitivity-only", action="store_true",
                   help="only the profile sensitivity, from the multipliers in --params of an earlier run")
    a = p.parse_args(argv)
    if a.sensitivity_only:
        if not a.params.exists():
            p.error(f"--sensitivity-only needs the parameter table {a.params} of an earlier run")
        run_sensitivity(load(a.max_sites or None), pd.read_csv(a.params), a)
        return 0
    if a.max_evals < 1 or a.n_complexes < 1 or not 1 <= a.jobs <= 8 or a.max_sites < 0:
        p.error("--max-evals and --n-complexes must be >= 1, --jobs in [1, 8], --max-sites >= 0")
    from pysoc.io.atomic import write_csv

    groups = load(a.max_sites or None)
    rng = np.random.default_rng(a.seed)
    tasks = []
    for k, t in enumerate(TYPES):
        cal, val = split(groups[t], rng)
        if not cal or not val:
            print(f"mimics_forest_types: {t}: too few ISRaD sites to split ({len(groups[t])} profiles), skipped",
                  file=sys.stderr)
            continue
        tasks.append((t, cal, val, a.max_evals, a.n_complexes, a.seed + k))
    if not tasks:
        print("mimics_forest_types: error: no forest type could be split", file=sys.stderr)
        return 1
    if a.jobs > 1:
        with ProcessPoolExecutor(max_workers=min(a.jobs, len(tasks))) as ex:
            results = list(ex.map(run_type, tasks))
    else:
        results = [run_type(t) for t in tasks]
    for r in results:
        print(f"{r['type']}: {r['n_cal']} cal / {r['n_val']} val profiles, {r['evals']} evaluations "
              f"({r['reason']}), {r['cpu_s']:.0f} s CPU, J = {r['cost']:.4g}")
    tab = table_rows(results)
    write_csv(tab, a.table, float_format="%.4g")
    par = pd.DataFrame([{"forest_type": r["type"], **dict(zip(MULT, r["theta"])), "cost": r["cost"],
                         "evaluations": r["evals"], "stop": r["reason"]} for r in results])
    write_csv(par, a.params, float_format="%.10g")   # full precision: --sensitivity-only reproduces the run
    figure(results, a.figure)
    print(tab.round(3).to_string(index=False))
    print(par.round(3).to_string(index=False))
    print(f"wrote {a.table}, {a.params} and {a.figure}")
    run_sensitivity(groups, par, a)
    return 0


if __name__ == "__main__":
    sys.exit(main())

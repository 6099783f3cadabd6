"""Benchmark of the calibration samplers on the same sites in one run: the seed method
(adaptive Metropolis, 3 chains x (20 000 test + 50 000 formal) iterations, spec methods.md
§2) against the default DREAM(ZS) sampler (runs until every parameter has rank-normalised
split-R-hat <= 1.05 and bulk ESS >= 400), plus the cost of one evaluation.

    python scripts/bench_calibration.py                 # the 48 shipped CLM5 profiles
    python scripts/bench_calibration.py --sites 8 --model compas
    python scripts/bench_calibration.py --skip-am       # DREAM(ZS) only
    python scripts/bench_calibration.py --fixed-cost    # fixed cost of one pysoc-calibrate run, per phase

Per sampler it prints: the share of sites converged (ArviZ on the posterior draws: every
parameter R-hat <= 1.05 and bulk ESS >= 400), the median CPU seconds per site, the median
over sites of the min-over-parameters bulk ESS per CPU second and per 1 000 model
evaluations, and the ratio between the samplers. ESS is ArviZ's: for the adaptive
Metropolis on all post-burn-in draws of its formal run, for DREAM(ZS) on the draws it
returns (the ones written to the posterior file). CPU time is process time of this process
(one core): run it on an otherwise idle machine for stable numbers.

``--fixed-cost [NAMELIST]`` times one whole ``pysoc-calibrate`` run in a fresh interpreter
(the CLI's own steps, in-process), per phase, in CPU seconds (``time.process_time``) and
wall seconds: imports, namelist + profiles + context, checkpoint store, site forcing and
observations, sampling, per-site summaries, run summary, NetCDF + CSV, figures, summary
text. The default namelist is calibrate_clm5_demo.nml cut to 2 sites and the smallest
DREAM(ZS) budget (24 chains x 500 generations), output to a temporary directory; "fixed
cost" is the total minus sampling. It also lists the heavy libraries the run imported.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


def _fixed_cost_child(argv) -> int:
    """The --fixed-cost measurement (run in a fresh interpreter, before any other import)."""
    import tempfile
    from pathlib import Path
    clock = {}
    c0, w0 = time.process_time(), time.perf_counter()

    def tick(name, c, w):
        a = clock.setdefault(name, [0.0, 0.0])
        a[0] += time.process_time() - c
        a[1] += time.perf_counter() - w

    c, w = time.process_time(), time.perf_counter()
    import numpy  # noqa: F401
    from pysoc.cli import calibrate as cli
    from pysoc.da import run as da_run
    from pysoc.da.parallel import get_executor
    from pysoc.da import sampler as smp
    tick("imports (CLI, engine)", c, w)

    def timed(name, fn):
        def wrapper(*a, **k):
            c, w = time.process_time(), time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                tick(name, c, w)
        return wrapper

    nml_path = Path(argv[argv.index("--fixed-cost-child") + 1])
    figures = "--no-figures" not in argv

    def all_figures(run, outdir, base):
        c, w = time.process_time(), time.perf_counter()
        from pysoc.plots.calibration import all_figures as fig
        tick("figures: import matplotlib", c, w)
        return timed("figures: draw + save", fig)(run, outdir, base)

    # the phases: wrap the engine's own functions (no change to what runs)
    da_run.Context.site_setup = timed("site forcing + observations", da_run.Context.site_setup)
    da_run.run_mcmc = timed("sampling (sampler / optimiser)", da_run.run_mcmc)
    da_run.summarise_mcmc = timed("per-site summary (diagnostics, predictive)", da_run.summarise_mcmc)
    da_run.sceua = timed("sampling (sampler / optimiser)", da_run.sceua)                 # method = 'sceua'
    da_run.summarise_sceua = timed("per-site summary (diagnostics, predictive)", da_run.summarise_sceua)
    da_run.summarise_run = timed("run summary", da_run.summarise_run)
    da_run._prepare_store = timed("checkpoint store", da_run._prepare_store)
    for m in ("save", "load", "remove"):
        setattr(smp.CheckpointStore, m, timed("checkpoint store", getattr(smp.CheckpointStore, m)))
    da_run._clear_store = timed("checkpoint store", da_run._clear_store)
    from pysoc.da import output
    output.write_groups = timed("NetCDF (posterior)", output.write_groups)
    output.write_csv = timed("site CSV", output.write_csv)
    c, w = time.process_time(), time.perf_counter()
    ex = get_executor()
    nml, model_name = cli.load_namelist(nml_path)
    config = cli.config_from_namelist(nml, model_name, str(nml_path))
    config.figures = figures
    profiles = cli.load_profiles(nml, config, str(nml_path))
    ctx = da_run.prepare(config, profiles, ex)
    tick("namelist, profiles, context", c, w)
    run = da_run.execute(ctx, all_figures)
    if run is None:                                       # under mpirun: rank 0 reports
        return 0
    c, w = time.process_time(), time.perf_counter()
    text = cli.summary_text(run)
    tick("summary text", c, w)
    total_c, total_w = time.process_time() - c0, time.perf_counter() - w0
    accounted = sum(v[0] for k, v in clock.items())
    clock["other (output groups, glue)"] = [total_c - accounted, total_w - sum(v[1] for v in clock.values())]
    print(f"fixed cost of one pysoc-calibrate run ({len(ctx.profiles)} sites, {ex.size} rank(s), method {config.method}, "
          f"figures {'on' if figures else 'off'}), CPU s / wall s per phase:")
    for k, (pc, pw) in clock.items():
        print(f"  {k:46s} {pc:6.3f}  {pw:6.3f}")
    samp = clock.get("sampling (sampler / optimiser)", [0.0, 0.0])
    print(f"  {'total (in process)':46s} {total_c:6.3f}  {total_w:6.3f}")
    print(f"  {'FIXED COST (total - sampling)':46s} {total_c - samp[0]:6.3f}  {total_w - samp[1]:6.3f}")
    heavy = [m for m in ("matplotlib", "arviz", "scipy.stats", "scipy.optimize", "sklearn", "xarray", "pandas",
                         "netCDF4", "h5netcdf", "numpy.f2py", "tqdm") if m in sys.modules]
    print(f"  heavy modules loaded: {', '.join(heavy)}")
    print(f"  ({len(text.splitlines())} summary lines; outputs {', '.join(sorted(run.outputs))})")
    return 0


def _default_fixed_cost_namelist(tmp) -> str:
    from pathlib import Path
    src = (Path(__file__).resolve().parents[1] / "namelists" / "calibrate_clm5_demo.nml").read_text()
    lines = []
    for line in src.splitlines():
        key = line.split("=")[0].strip()
        if key == "output_dir":
            line = f"  output_dir = '{tmp}/out'"
        elif key == "run_name":
            line = "  run_name = 'fixed_cost'\n  max_sites = 2\n  progress = .false.\n  resume = .false."
        elif key == "max_evaluations":
            line = "  max_evaluations = 12000"
        lines.append(line)
    p = Path(tmp) / "fixed_cost.nml"
    p.write_text("\n".join(lines) + "\n")
    return str(p)


def fixed_cost(namelist: str | None, figures: bool) -> int:
    """Run the measurement in a fresh interpreter (imports counted cold-ish: OS file cache warm)."""
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        nml = namelist or _default_fixed_cost_namelist(tmp)
        cmd = [sys.executable, __file__, "--fixed-cost-child", nml] + ([] if figures else ["--no-figures"])
        w = time.perf_counter()
        r = subprocess.run(cmd, env=os.environ.copy())
        print(f"  {'whole process incl. interpreter start (wall)':46s}         {time.perf_counter() - w:6.3f}")
        return r.returncode


if __name__ == "__main__" and "--fixed-cost-child" in sys.argv:
    raise SystemExit(_fixed_cost_child(sys.argv))

import numpy as np  # noqa: E402

from pysoc.da import convergence as cv  # noqa: E402
from pysoc.da import run as da_run  # noqa: E402
from pysoc.da.likelihood import CostFunction  # noqa: E402
from pysoc.da.sampler import AMSettings  # noqa: E402
from pysoc.io.namelist import PKGDATA  # noqa: E402
from pysoc.io.profiles import read_profiles, select  # noqa: E402


def site_costs(model: str, n: int):
    profiles = select(read_profiles(PKGDATA / "profiles" / "israd_sites.csv",
                                    PKGDATA / "profiles" / "israd_layers.csv"))
    cfg = da_run.CalibrationConfig(model=model, write_output=False, progress=False, checkpoint_dir="/tmp/pysoc_bench",
                                   resume=False)
    ctx = da_run.prepare(cfg, profiles[:n] if n else profiles)
    out = []
    for p in ctx.profiles:
        try:
            forcing, obs = ctx.site_setup(p)
        except Exception as exc:                          # noqa: BLE001  (report and go on)
            print(f"  {p.site_id}: skipped ({exc})")
            continue
        out.append((p.site_id, CostFunction(ctx.model, [forcing], [obs], ctx.mapper)))
    return ctx, out


def run_one(ctx, sampler_name, cost, key, am):
    cfg = da_run.CalibrationConfig(model=ctx.config.model, sampler=sampler_name, am=am, write_output=False,
                                   progress=False, checkpoint_dir="/tmp/pysoc_bench", resume=False).check()
    fn = lambda kp: cost(kp)[0]  # noqa: E731
    t = time.process_time()
    n0 = cost.n_evaluations
    try:
        s = da_run.make_sampler(cfg, len(ctx.free), fn, key)
        s.run()
    except Exception as exc:                              # noqa: BLE001
        return {"ok": False, "error": str(exc)}
    cpu = time.process_time() - t
    if sampler_name == "am":
        draws = s.posterior(0.5)
    else:
        draws = s.posterior()
    d = cv.arviz_diagnostics(draws)
    ess = float(np.min(d["ess_bulk"]))
    rhat = float(np.max(d["rhat"]))
    evals = cost.n_evaluations - n0
    return {"ok": True, "cpu": cpu, "evals": evals, "ess": ess, "rhat": rhat,
            "converged": bool(rhat <= 1.05 and ess >= 400), "acc": float(np.median(s.acceptance_rate(1)))}


def overhead(ctx, cost, n=16, reps=2000):
    """CPU microseconds per evaluation: model.evaluate alone, the whole cost function."""
    kp = np.random.default_rng(0).uniform(0.2, 0.8, (n, len(ctx.free)))
    theta = ctx.mapper(kp)
    for name, fn in (("model.evaluate", lambda: ctx.model.evaluate(cost.prepared[0], theta,
                                                                   observables=cost.observables)),
                     ("cost function", lambda: cost(kp))):
        fn()
        t = time.process_time()
        for _ in range(reps):
            fn()
        yield name, 1e6 * (time.process_time() - t) / (reps * n)


def summary(name, res):
    ok = [r for r in res if r["ok"]]
    conv = np.mean([r["converged"] for r in ok]) if ok else float("nan")
    cpu = np.nanmedian([r["cpu"] for r in ok])
    per_s = np.nanmedian([r["ess"] / r["cpu"] for r in ok])
    per_k = np.nanmedian([1000 * r["ess"] / r["evals"] for r in ok])
    print(f"{name:22s} sites {len(ok):3d}  converged {100 * conv:5.1f} %  median CPU/site {cpu:6.2f} s  "
          f"min-ESS per CPU-s {per_s:7.1f}  min-ESS per 1000 evaluations {per_k:5.2f}  "
          f"median evaluations {np.median([r['evals'] for r in ok]):9.0f}  median acceptance "
          f"{np.nanmedian([r['acc'] for r in ok]):.3f}")
    return per_s, per_k, cpu


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="clm5")
    ap.add_argument("--sites", type=int, default=0, help="first N shipped profiles (0: all)")
    ap.add_argument("--am-test", type=int, default=20000)
    ap.add_argument("--am-formal", type=int, default=50000)
    ap.add_argument("--skip-am", action="store_true")
    ap.add_argument("--fixed-cost", nargs="?", const="", default=None, metavar="NAMELIST",
                    help="time the fixed cost of one pysoc-calibrate run per phase (default: 2 demo sites, tiny budget)")
    ap.add_argument("--no-figures", action="store_true", help="with --fixed-cost: figures = .false.")
    args = ap.parse_args(argv)
    if args.fixed_cost is not None:
        return fixed_cost(args.fixed_cost or None, not args.no_figures)
    ctx, costs = site_costs(args.model, args.sites)
    print(f"{args.model}: {len(costs)} sites, {len(ctx.free)} parameters")
    for name, us in overhead(ctx, costs[0][1]):
        print(f"  {name:16s} {us:6.2f} us CPU per evaluation (16 parameter vectors per call)")
    am = AMSettings(n_test=args.am_test, n_formal=args.am_formal)
    samplers = ["dream_zs"] + ([] if args.skip_am else ["am"])
    res = {s: [] for s in samplers}
    for sid, cost in costs:
        line = [f"{sid:32s}"]
        for s in samplers:
            r = run_one(ctx, s, cost, da_run.site_key(sid), am)
            res[s].append(r)
            line.append(f"{s} " + (f"conv {int(r['converged'])} R-hat {r['rhat']:.3f} ESS {r['ess']:5.0f} "
                                   f"{r['cpu']:6.2f} s {r['evals']:8d} ev" if r["ok"] else f"failed: {r['error']}"))
        print("  " + " | ".join(line), flush=True)
    print()
    stats = {s: summary(s, res[s]) for s in samplers}
    if "am" in stats:
        d, a = stats["dream_zs"], stats["am"]
        print(f"ratio dream_zs / am: min-ESS per CPU-s {d[0] / a[0]:.1f}x, per evaluation {d[1] / a[1]:.1f}x, "
              f"CPU per site {d[2] / a[2]:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

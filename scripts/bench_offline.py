"""Offline-run benchmark (numbers of docs/offline_runs.md): columns per second of multi-column
steady states, batched in one kernel call (``model.steady_state_columns``) against one column
at a time (the generic base-class loop, same run, CPU time), for CLM5 and COMPAS from a
CTSM-layout file and for MIMICS and CENTURY (generic, column by column); transient columns per
second; output sizes per output frequency; optionally pysoc-run under mpirun.

Usage: python scripts/bench_offline.py [--columns 2000] [--mpi]
Runs on one core (OMP_NUM_THREADS=1). Timings are CPU seconds (time.process_time) except
the end-to-end and MPI wall times.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
warnings.simplefilter("ignore")

from ctsm_example import history  # noqa: E402

from pysoc.models import get_model  # noqa: E402
from pysoc.models.base import SoilCarbonModel  # noqa: E402

PKG = HERE.parent / "pysoc" / "data"


def cpu(fn):
    t = time.process_time()
    out = fn()
    return out, time.process_time() - t


def steady_rates(model, valid: xr.Dataset, n_single: int = 100):
    theta = model.param_vector(warn_prior=False)
    n = valid.sizes["column"]
    batched = type(model).steady_state_columns is not SoilCarbonModel.steady_state_columns
    t_b = cpu(lambda: model.steady_state_columns(valid, theta))[1] if batched else np.nan
    k = min(n, n_single)
    t_1 = cpu(lambda: SoilCarbonModel.steady_state_columns(model, valid.isel(column=slice(0, k)), theta))[1]
    return (n / t_b if batched else np.nan), k / t_1


def stacked(ds: xr.Dataset, n: int) -> xr.Dataset:
    return xr.concat([ds] * n, dim="column", data_vars="all", coords="minimal", compat="override")


def bench_steady(args, tmp: Path) -> list[str]:
    rows = ["| model | columns | batched (one kernel call per chunk) | one column at a time | ratio |",
            "|---|---|---|---|---|"]
    history(args.columns, 1, seed=1).to_netcdf(tmp / "h0.nc")
    for name in ("clm5", "compas"):
        m = get_model(name)
        f = m.ctsm_forcing(tmp / "h0.nc")
        val, _, _ = m.validate_columns(f, "h0.nc")
        b, one = steady_rates(m, val)
        rows.append(f"| {name} | {val.sizes['column']} | {b:,.0f} col/s | {one:,.0f} col/s | {b / one:.0f}x |")
    m = get_model("mimics", check_stability=False)
    f = m.load_forcing(PKG / "mimics" / "forcing_bartlett_B2.nc")
    val, _, _ = m.validate_columns(stacked(f, 20), "B2")
    _, one = steady_rates(m, val, 20)
    rows.append(f"| mimics (20 layers, with 14C) | 20 | (column by column) | {one:,.1f} col/s | - |")
    m = get_model("century")
    f = m.load_forcing(PKG / "century" / "haibei_forcing.nc")
    val, _, _ = m.validate_columns(stacked(f, 20), "haibei")
    _, one = steady_rates(m, val, 20)
    rows.append(f"| century (fast spin-up) | 20 | (column by column) | {one:,.1f} col/s | - |")
    return rows


def run_cli(nml: Path) -> float:
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "pysoc.cli.run", str(nml)], capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(r.stderr)
    return time.perf_counter() - t


def bench_end_to_end(args, tmp: Path) -> list[str]:
    (tmp / "ss.nml").write_text("&run\n  forcing_file = 'h0.nc'\n  output_file = 'ss.nc'\n  progress = .false.\n"
                                "  summary = .false.\n/\n")
    wall = run_cli(tmp / "ss.nml")
    return [f"- end to end, `pysoc-run` CLM5 steady state of {args.columns} CTSM columns (read, validate, run, "
            f"write; wall time incl. start-up): {wall:.1f} s, output {(tmp / 'ss.nc').stat().st_size / 1e6:.1f} MB"]


def bench_frequency(args, tmp: Path) -> list[str]:
    n, years = args.transient_columns, args.years
    history(n, 1, seed=2).to_netcdf(tmp / "h1.nc")
    rows = ["| output | records per column | uncompressed | file on disk (zlib 4) | pysoc-run (wall) |",
            "|---|---|---|---|---|"]
    for label, extra in (("monthly", ""), ("annual means", "  frequency = 'annual'\n"),
                         ("last year, monthly", "  last_years = 1\n")):
        nml = tmp / "tr.nml"
        nml.write_text(f"&run\n  mode = 'transient'\n  forcing_file = 'h1.nc'\n  output_file = 'tr.nc'\n"
                       f"  progress = .false.\n  summary = .false.\n/\n&transient\n  n_years = {years}\n"
                       f"  initial = 'zero'\n/\n&output\n{extra}/\n")
        wall = run_cli(nml)
        with xr.open_dataset(tmp / "tr.nc") as ds:
            rec = ds.sizes["time"]
            raw = sum(v.size * v.dtype.itemsize for v in ds.variables.values() if v.dtype.kind != "O")
        rows.append(f"| {label} | {rec} | {raw / 1e6:.1f} MB | {(tmp / 'tr.nc').stat().st_size / 1e6:.1f} MB | "
                    f"{wall:.1f} s |")
    m = get_model("clm5")
    f = m.ctsm_forcing(tmp / "h1.nc")
    val, _, _ = m.validate_columns(f, "h1.nc")
    th = m.param_vector(warn_prior=False)
    k = min(20, n)
    t = cpu(lambda: [m.transient(val.isel(column=i), th, n_years=years, initial="zero") for i in range(k)])[1]
    rows.append("")
    rows.append(f"- CLM5 transient, {years} years monthly, one column per kernel call: {k / t:.1f} columns/s "
                f"({t / k * 1e3:.0f} ms CPU per column; {n} columns x {years} years in the table above)")
    return rows


def bench_mpi(args, tmp: Path) -> list[str]:
    rows = ["| ranks | wall time |", "|---|---|"]
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1")
    (tmp / "mpi.nml").write_text(f"&run\n  mode = 'transient'\n  forcing_file = 'h1.nc'\n  output_file = 'mpi.nc'\n"
                                 f"  progress = .false.\n  summary = .false.\n/\n&transient\n  n_years = {args.years}\n"
                                 f"  initial = 'zero'\n/\n&output\n  frequency = 'annual'\n/\n")
    for n in (1, 2):
        t = time.perf_counter()
        subprocess.run(["mpirun", "--oversubscribe", "-n", str(n), sys.executable, "-m", "mpi4py", "-m",
                        "pysoc.cli.run", str(tmp / "mpi.nml")], check=True, capture_output=True, env=env)
        rows.append(f"| {n} | {time.perf_counter() - t:.1f} s |")
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--columns", type=int, default=2000)
    p.add_argument("--transient-columns", type=int, default=100)
    p.add_argument("--years", type=int, default=50)
    p.add_argument("--mpi", action="store_true")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        out = ["### Steady states, columns per second (CPU time, one core)", ""] + bench_steady(args, tmp)
        out += [""] + bench_end_to_end(args, tmp)
        out += ["", f"### Transients: {args.transient_columns} CLM5 columns x {args.years} years, output size per "
                    f"frequency", ""] + bench_frequency(args, tmp)
        if args.mpi:
            out += ["", f"### pysoc-run under mpirun ({args.transient_columns} columns x {args.years} years, annual "
                        f"output)", ""] + bench_mpi(args, tmp)
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``pysoc-run NAMELIST``: a forward model run (steady state or transient) from a namelist,
for one site or for many columns at once (docs/offline_runs.md).

Namelist groups:

- ``&run``: model, mode, forcing file (pysoc format, or CTSM history files), output file,
  parameter set, progress;
- ``&parameters``: overrides by parameter name, physical values in the units of the
  model's parameter table (``pysoc-run --list-parameters MODEL``);
- ``&kp``: overrides by parameter name as normalised values (value = min + kp (max - min));
- ``&transient``: length and initial state of transient runs;
- ``&output``: output frequency (monthly, annual means), last years only, time origin,
  limits on the estimated output size and memory, columns per kernel call;
- ``&ctsm``: how CTSM history files are read (vertical levels, litter variables);
- ``&<model>``: options of the chosen model (e.g. ``&clm5 grid = 'clm5_20'``).

Forcing with a ``column`` dimension or a ``lat``/``lon`` grid runs every column in one
call: steady states batched in Fortran (``model.steady_state_columns``), transients column
by column; over MPI ranks when started with ``mpirun``. The output keeps the input's
dimensions; a column that fails is reported with its index and reason (``status``,
``column_message``) and the others are written.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import tracemalloc
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from pysoc import _status
from pysoc.cli import add_describe_namelist, add_version, run_main
from pysoc.columns import INVALID_FORCING, NO_DATA, ColumnForcing, assemble, chunks, layout_of
from pysoc.da.parallel import abort_on_error, collective_setup, get_executor
from pysoc.errors import ConfigError, DataError, PysocError
from pysoc.forcing import open_netcdf
from pysoc.io import ctsm, history, netcdf
from pysoc.io.atomic import check_output_file, describe_os_error
from pysoc.io.namelist import Group, Key, NamelistSpec, read_model_namelist
from pysoc.models import DEFAULT_MODEL, REGISTRY, model_class
from pysoc.models.base import SoilCarbonModel, column_status_attrs, stack_columns
from pysoc.params import OutsidePriorWarning

PROG = "pysoc-run"

RUN = Group("run", (
    Key("model", "str", DEFAULT_MODEL, "model to run", choices=tuple(REGISTRY)),
    Key("mode", "str", "steady_state", "steady_state or transient", choices=("steady_state", "transient")),
    Key("forcing_file", "str", "", "forcing (NetCDF; format in docs/<model>.md, or CTSM history files, also a glob "
        "such as 'hist/case.clm2.h0.*.nc'); a 'column' dimension or a lat/lon grid runs many columns",
        path=True, required=True),
    Key("forcing_format", "str", "auto", "'pysoc' (docs/<model>.md), 'ctsm' (CTSM h0/h1 history, &ctsm), or "
        "'auto' (ctsm when the file has CTSM names such as TSOI, W_SCALAR)", choices=("auto", "pysoc", "ctsm")),
    Key("output_file", "str", "output/pysoc_run.nc", "output NetCDF (written atomically)", path=True),
    Key("parameter_set", "str", "", "named parameter set of the model ('' = the model's default set)"),
    Key("summary", "bool", True, "print a short summary (stocks by depth, mass balance) to stdout"),
    Key("progress", "bool", True, "progress bar on stderr (many columns; transients longer than a few seconds)"),
), doc="What to run.")

TRANSIENT = Group("transient", (
    Key("n_years", "int", 1, "years to run when the forcing is a 12-month climatology (a longer series runs once)",
        min=1, max=100000),
    Key("initial", "str", "steady_state", "initial state: steady state of the mean forcing, or zero",
        choices=("steady_state", "zero")),
), doc="Transient runs.")

OUTPUT = Group("output", (
    Key("frequency", "str", "monthly", "time records of transient output, as CTSM hist_nhtfrq: 'monthly' every "
        "model step (hist_nhtfrq = 0), 'annual' annual means (states and rates weighted by step length; per-step "
        "amounts with cell_methods 'time: sum' summed over the year)", choices=history.FREQUENCIES),
    Key("last_years", "int", 0, "write only the last N years of a transient (0: all; 1: the last year only)",
        min=0, max=1000000),
    Key("start_year", "int", 0, "year of the time origin, time = days since <start_year>-01-01 (noleap); 0: from "
        "the forcing (CTSM history, CENTURY dates, MIMICS start_year), else year 1", min=0, max=9999),
    Key("max_output_mb", "float", 2000.0, "refuse a run whose estimated output (uncompressed) is larger",
        min=0.0, units="MB"),
    Key("max_memory_mb", "float", 4000.0, "refuse a run whose estimated peak memory (per process) is larger",
        min=0.0, units="MB"),
    Key("chunk_columns", "int", 512, "columns per kernel call (and per MPI task) of multi-column steady states",
        min=1, max=1000000),
), doc="Output frequency, size limits and batching (estimated before the run starts).")

CTSM = Group("ctsm", (
    Key("levels", "str", "match", "vertical levels of the history file: 'match' (the first levels must have the "
        "model's node depths; deeper levels dropped) or 'interpolate' (linear in depth)", choices=ctsm.LEVELS),
    Key("litter_variables", "list[str]", [], "CTSM variables of the litter inputs, one per litter pool of the "
        "model (per m3 on levdcmp, or per m2); empty: the model's default (CLM5 and COMPAS: the matrix-CN input "
        "vectors CWD_INPUT_ACC_VECTOR, LITR1..3_INPUT_ACC_VECTOR)"),
    Key("nbedrock", "int", 0, "soil layers above bedrock for every column when the file has no nbedrock "
        "(0: read nbedrock from the file)", min=0, max=100),
), doc="Reading CTSM history files (docs/offline_runs.md has the variable table).")


def build_spec(model_name: str) -> NamelistSpec:
    cls = model_class(model_name)
    table = cls.parameters
    names = ("by parameter name, case-insensitive; indexed names as Fortran array elements, e.g. PRDX(1) = 0.5; "
             "`pysoc-run --list-parameters`")
    groups = [RUN, TRANSIENT, OUTPUT, CTSM,
              table.namelist_group("parameters", f"{cls.name} parameter overrides (physical values; {names})"),
              table.namelist_group("kp", f"{cls.name} parameter overrides (normalised kp values; {names})"),
              cls.options_group]
    return NamelistSpec(groups, doc="Namelist of pysoc-run.")


def load(path: Path):
    return read_model_namelist(path, "run", tuple(REGISTRY), build_spec)


def parameter_vector(model: SoilCarbonModel, nml) -> np.ndarray:
    """Physical parameters: the named set, &parameters overrides, then &kp overrides mapped
    through the model's own kp mapping (e.g. COMPAS's legacy kp aliasing)."""
    theta = model.parameters.vector(nml["run"]["parameter_set"] or None, overrides=nml["parameters"])
    if nml["kp"]:
        kp = model.parameters.to_kp(theta)
        for name, value in nml["kp"].items():
            kp[model.parameters.index(name)] = value
        mapped = model.to_physical(kp)
        changed = mapped != model.parameters.to_physical(model.parameters.to_kp(theta))
        theta = np.where(changed, mapped, theta)
        for name in nml["kp"]:
            theta[model.parameters.index(name)] = mapped[model.parameters.index(name)]
    return theta


# ---- forcing -----------------------------------------------------------------------------------------
def read_forcing(model: SoilCarbonModel, nml):
    """(forcing, start year or None): a validated one-site dataset, or a ColumnForcing."""
    path = nml["run"]["forcing_file"]
    fmt = nml["run"]["forcing_format"]
    if Path(path).is_dir():
        raise DataError(f"{path}: is a directory, not a forcing file (&run forcing_file: a file, or a glob of CTSM "
                        f"history files such as 'hist/case.clm2.h0.*.nc')")
    if fmt == "auto":
        fmt = "ctsm" if _looks_like_ctsm(path) else "pysoc"
    if fmt == "ctsm":
        if not model.provides("ctsm_forcing"):
            raise ConfigError(f"{path}: &run forcing_format = 'ctsm': model {model.name!r} does not take the CLM5 "
                              f"forcing variables that CTSM history provides (docs/offline_runs.md)")
        c = nml["ctsm"]
        raw = model.ctsm_forcing(path, levels=c["levels"], litter_variables=c["litter_variables"],
                                 nbedrock=c["nbedrock"])
        return ColumnForcing.from_dataset(raw, str(path)), raw.attrs.get("ctsm_start_year")
    raw = _open(path)
    if layout_of(raw) is None:
        return model.load_forcing(path), None
    return ColumnForcing.from_dataset(raw, str(path)), None


def _looks_like_ctsm(path) -> bool:
    files = ctsm.history_files(path)
    try:
        with xr.open_dataset(files[0], decode_times=False) as ds:
            return ctsm.is_history(ds)
    except Exception:
        return False


def _open(path) -> xr.Dataset:
    return open_netcdf(path, "forcing file")


# ---- estimates ------------------------------------------------------------------------------------------
@dataclass
class Estimate:
    output_bytes: float
    memory_bytes: float
    seconds: float
    records: int
    text: str


def probe_run(model, forcing1: xr.Dataset, theta, nml, years: int = 1, traced: bool = False):
    """(result, peak traced bytes or 0, wall seconds) of a short probe: ``years`` of a transient
    of one column, or the steady state of one column or of a sample of columns."""
    if traced:
        tracemalloc.start()
    t0 = time.perf_counter()             # wall clock: the progress bar runs on it too
    try:
        if nml["run"]["mode"] == "transient":
            probe = model.transient(model.probe_forcing(forcing1), theta, n_years=years,
                                    initial=nml["transient"]["initial"])
        elif "column" in forcing1.dims:              # a sample of columns, in one kernel call
            probe = model.steady_state_columns(forcing1, theta)
        else:
            probe = model.steady_state(forcing1, theta, errors="ignore")
        dt = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] if traced else 0
    finally:
        if traced:
            tracemalloc.stop()
    return probe, peak, dt


def estimate(model, forcing1: xr.Dataset, theta, nml, ncol: int, nproc: int) -> Estimate:
    """Output size, peak memory and run time of a run, from short probes of one column.

    A one-year probe gives the output size per record and the time; when the run is long
    and the probe cheap, a longer probe gives the time per step without the fixed costs;
    when the memory may matter, traced probes of one and two years give the memory per step
    (the kernel holds every step of a column)."""
    out = nml["output"]
    probe, _, t1 = probe_run(model, forcing1, theta, nml)
    if nml["run"]["mode"] != "transient":
        k = probe.sizes.get("column", 1)
        per_col = netcdf.nbytes(probe) / k
        return Estimate(per_col * ncol, 3.0 * per_col * min(ncol, out["chunk_columns"]) + per_col * ncol,
                        t1 / k * ncol / nproc, 1, f"{ncol} column(s), steady state")
    nstep, spy = model.transient_steps(forcing1, nml["transient"]["n_years"])
    pstep = probe.sizes["time"]
    static, per_record = history.split_bytes(history.reduce(probe, out["frequency"]))
    records = history.output_steps(nstep, spy, out["frequency"], out["last_years"])
    out_bytes = ncol * (static + per_record * records)
    per_sec = t1 / pstep
    if per_sec * nstep > 2.0 and nstep > 2 * pstep and t1 < 0.2:
        years = min(100 if t1 < 0.05 else 10, nstep // spy)     # long enough to outweigh the fixed costs
        p2, _, t2 = probe_run(model, forcing1, theta, nml, years=years)
        steps2 = p2.sizes["time"]
        per_sec = (t2 - t1) / (steps2 - pstep) if t2 > t1 and steps2 > pstep else t2 / steps2
    mem = 3.0 * history.split_bytes(probe)[1] * nstep + out_bytes               # rough: kernel + dataset + copy
    if mem > 0.1 * out["max_memory_mb"] * history.MB and nstep > 2 * pstep:
        _, peak1, _ = probe_run(model, forcing1, theta, nml, traced=True)
        p2, peak2, _ = probe_run(model, forcing1, theta, nml, years=2, traced=True)
        slope = max(peak2 - peak1, 0.0) / max(p2.sizes["time"] - pstep, 1)
        mem = peak1 + slope * (nstep - pstep) + out_bytes
    secs = (t1 + per_sec * (nstep - pstep)) * ncol / nproc
    text = f"{ncol} column(s) x {nstep} steps ({nstep // spy} years), {records} {out['frequency']} record(s)"
    return Estimate(out_bytes, mem, secs, records, text)


def check_limits(est: Estimate, nml, src: str) -> None:
    out = nml["output"]
    mb = history.MB
    if est.output_bytes > out["max_output_mb"] * mb:
        raise ConfigError(f"{src}: &output max_output_mb = {out['max_output_mb']:g}: the estimated output is "
                          f"{est.output_bytes / mb:.0f} MB ({est.text}); write annual means (&output frequency = "
                          f"'annual'), the last years only (last_years), fewer years, or raise max_output_mb")
    if est.memory_bytes > out["max_memory_mb"] * mb:
        raise ConfigError(f"{src}: &output max_memory_mb = {out['max_memory_mb']:g}: the estimated peak memory is "
                          f"{est.memory_bytes / mb:.0f} MB ({est.text}; the kernel holds every step of a column); "
                          f"run fewer years or raise max_memory_mb")


# ---- progress -------------------------------------------------------------------------------------------
class TimedProgress:
    """A progress bar driven by the clock for one long kernel call (the kernels release the
    GIL): the fraction of the estimated run time, labelled as an estimate."""

    def __init__(self, seconds: float, enabled: bool, desc: str):
        self.seconds, self.enabled, self.desc = max(seconds, 1e-3), enabled and seconds > 2.0, desc
        self._stop = threading.Event()
        self._thread = None

    def __enter__(self):
        if self.enabled:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _run(self):
        from tqdm import tqdm

        with tqdm(total=100, desc=self.desc, unit="%", file=sys.stderr, leave=False,
                  bar_format="{desc}: {bar} ~{n:.0f}% (estimated) {elapsed}") as bar:
            t0 = time.monotonic()
            while not self._stop.wait(0.5):
                bar.n = min(99.0, 100.0 * (time.monotonic() - t0) / self.seconds)
                bar.refresh()

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return False


def _bar(total: int, enabled: bool, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="col", file=sys.stderr, disable=not enabled or total < 2,
                mininterval=0.5)


# ---- runs ------------------------------------------------------------------------------------------------
@dataclass
class Setup:
    """Everything a run needs, checked before any work starts (identical on every MPI rank)."""

    nml: object
    model: SoilCarbonModel
    src: str
    theta: np.ndarray
    forcing: object
    start: object
    plan: object
    warnings: list


def setup(nml_path: Path, ex) -> Setup:
    """Read and check the namelist, the output path, the parameters and the forcing, and plan
    the run (estimates against the limits): every configuration error is raised here, before
    any kernel runs and before anything is written."""
    nml, model_name = load(nml_path)
    cls = model_class(model_name)
    model = cls(**nml[cls.options_group.name])
    src = str(nml_path)
    check_output_file(nml["run"]["output_file"], f"{src}: &run output_file")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OutsidePriorWarning)
        theta = model.parameters.check(parameter_vector(model, nml), source=src)
        warnings.simplefilter("ignore", OutsidePriorWarning)  # reported once, above
        forcing, start = read_forcing(model, nml)
        if isinstance(forcing, ColumnForcing):
            plan = plan_columns(model, forcing, theta, nml, ex, src)
        else:
            plan = plan_single(model, forcing, theta, nml, src)
    return Setup(nml, model, src, theta, forcing, start, plan, list(caught))


def run(nml_path: Path) -> int:
    ex = get_executor()
    st = collective_setup(ex, PROG, lambda: setup(nml_path, ex))
    if st is None:                   # a configuration error, reported once by rank 0; every rank stops
        return 2
    nml, model, src, theta = st.nml, st.model, st.src, st.theta
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore", OutsidePriorWarning)      # reported once, by setup
        try:
            if isinstance(st.forcing, ColumnForcing):
                ds, failed = run_columns(model, st.forcing, theta, nml, ex, src, st.plan)
            else:
                ds, failed = run_single(model, st.forcing, theta, nml, src, ex.is_root, st.plan), {}
        except PysocError as exc:
            if ex.size > 1:
                abort_on_error(ex, PROG, exc)
            raise
    if not ex.is_root:
        return 0
    for w in st.warnings + list(caught):
        print(f"{PROG}: warning: {w.message}", file=sys.stderr)
    start = nml["output"]["start_year"] or st.start
    if start:
        netcdf.shift_time_origin(ds, int(start))
    try:
        out = netcdf.write(ds, nml["run"]["output_file"], title=f"pysoc {model.name} {nml['run']['mode']} run",
                           namelist_text=nml.text, source_files={"forcing_file": nml["run"]["forcing_file"],
                                                                 "namelist": Path(src).resolve()})
    except OSError as exc:
        raise DataError(f"{src}: &run output_file: cannot write {describe_os_error(exc)}") from None
    report_failures(failed)
    if nml["run"]["summary"]:
        print(summarize(ds, out))
    return 0


def plan_single(model, forcing: xr.Dataset, theta, nml, src: str):
    """The estimate of a one-site transient, checked against the limits (None for a steady state)."""
    if nml["run"]["mode"] == "steady_state":
        return None
    est = estimate(model, forcing, theta, nml, 1, 1)
    check_limits(est, nml, src)
    return est


def run_single(model, forcing: xr.Dataset, theta, nml, src: str, verbose: bool, est=None) -> xr.Dataset:
    """One site: the model's steady state, or its transient at the output frequency."""
    if nml["run"]["mode"] == "steady_state":
        return model.steady_state(forcing, theta)
    if est is None:
        est = plan_single(model, forcing, theta, nml, src)
    if verbose and est.seconds > 2.0:
        print(f"{PROG}: {model.name} transient, {est.text}: output ~{history.describe_bytes(est.output_bytes)}, "
              f"peak memory ~{history.describe_bytes(est.memory_bytes)}, ~{est.seconds:.0f} s", file=sys.stderr)
    with TimedProgress(est.seconds, nml["run"]["progress"] and verbose, f"{PROG} {model.name} transient"):
        ds = model.transient(forcing, theta, n_years=nml["transient"]["n_years"], initial=nml["transient"]["initial"])
    return history.reduce(ds, nml["output"]["frequency"], nml["output"]["last_years"])


@dataclass
class ColumnPlan:
    """Validated columns of a column or grid forcing and the run's estimate."""

    valid: xr.Dataset
    pos: np.ndarray
    codes: dict
    msgs: dict
    est: Estimate


def plan_columns(model, cf: ColumnForcing, theta, nml, ex, src: str) -> ColumnPlan:
    """Validate every column and estimate the run (checked against the limits)."""
    source = str(nml["run"]["forcing_file"])
    todo = np.flatnonzero(~cf.no_data)
    codes = {int(p): NO_DATA for p in np.flatnonzero(cf.no_data)}
    msgs = {p: "no data: every forcing value is missing (ocean, lake, glacier or inactive column)" for p in codes}
    valid, index, bad = (model.validate_columns(cf.data.isel(column=todo), source) if todo.size
                         else (None, np.zeros(0, int), {}))
    for k, text in bad.items():
        codes[int(todo[k])], msgs[int(todo[k])] = INVALID_FORCING, text.replace(
            f"column {k}:", f"column {int(todo[k])}:")
    pos = todo[index]
    if valid is None:
        raise DataError(f"{source}: no column can be run ({len(bad)} with invalid forcing, {cf.ncol - todo.size} "
                        f"without data){': ' + next(iter(bad.values())) if bad else ''}")
    mode = nml["run"]["mode"]
    batched = type(model).steady_state_columns is not SoilCarbonModel.steady_state_columns
    sample = (valid.isel(column=slice(0, min(32, len(pos)))) if mode == "steady_state" and batched
              else _column(valid, 0, source, int(pos[0])))
    est = estimate(model, sample, theta, nml, len(pos), ex.size)
    check_limits(est, nml, src)
    return ColumnPlan(valid, pos, codes, msgs, est)


def run_columns(model, cf: ColumnForcing, theta, nml, ex, src: str, plan: ColumnPlan | None = None):
    """Every column of a column or grid forcing: (dataset in the input's layout, failures)."""
    source = str(nml["run"]["forcing_file"])
    if plan is None:
        plan = plan_columns(model, cf, theta, nml, ex, src)
    valid, pos, codes, msgs, est = plan.valid, plan.pos, plan.codes, plan.msgs, plan.est
    mode = nml["run"]["mode"]
    if ex.is_root and nml["run"]["progress"]:
        print(f"{PROG}: {model.name} {mode}, {est.text} ({len(codes)} not run), {ex.size} process(es): output "
              f"~{history.describe_bytes(est.output_bytes)}, peak memory ~{history.describe_bytes(est.memory_bytes)},"
              f" ~{est.seconds:.0f} s", file=sys.stderr)
    parts = farm_columns(model, valid, pos, theta, nml, ex, source)
    if not ex.is_root:
        return None, {}
    ds = assemble(parts, cf.ncol, msgs, codes, column_status_attrs())
    status = ds["status"].values
    for p in np.flatnonzero((status != 0) & (ds["column_message"].values == "")):
        ds["column_message"].values[p] = kernel_message(ds, int(p))
    failed = {int(p): str(ds["column_message"].values[p]) for p in np.flatnonzero((status != 0) & (status != NO_DATA))}
    if not (status == 0).any():
        first = next(iter(failed), None)
        raise DataError(f"{source}: no column produced output" + (f"; column {first}: {failed[first]}" if failed
                                                                   else " (every column is without data)"))
    if ex.is_root and (status == NO_DATA).any():
        print(f"{PROG}: {int((status == NO_DATA).sum())} of {cf.ncol} columns have no data (status no_data) and "
              f"were not run", file=sys.stderr)
    ds = cf.restore(ds)
    ds.attrs["columns_failed"] = int(len(failed))
    return ds, failed


def _column(valid: xr.Dataset, i: int, source: str, position: int) -> xr.Dataset:
    col = valid.isel(column=i)
    col.attrs["source_file"] = f"{source} column {position}"
    return col


def farm_columns(model, valid: xr.Dataset, pos: np.ndarray, theta, nml, ex, source: str) -> dict:
    """Run the valid columns over the executor's ranks; rank 0 returns chunk -> (positions,
    dataset). Steady states: chunks of columns in one kernel call; transients: one column each."""
    mode = nml["run"]["mode"]
    size = nml["output"]["chunk_columns"] if mode == "steady_state" else 1
    groups = chunks(np.arange(len(pos)), size)
    parts: dict = {}
    bar = _bar(len(pos), nml["run"]["progress"] and ex.is_root, f"{PROG} {model.name} {mode}")

    def work(k: int):
        idx = groups[k]
        if mode == "steady_state":
            return pos[idx], steady_chunk(model, valid.isel(column=idx), theta)
        col = _column(valid, int(idx[0]), source, int(pos[idx[0]]))
        try:
            ds = model.transient(col, theta, n_years=nml["transient"]["n_years"], initial=nml["transient"]["initial"])
            ds = history.reduce(ds, nml["output"]["frequency"], nml["output"]["last_years"])
        except PysocError as exc:
            ds = exc
        return pos[idx], ds

    def on_result(k, result, rank):
        parts[k] = result
        bar.update(len(result[0]))

    ex.farm(range(len(groups)), work, on_result)
    bar.close()
    if mode == "transient" and ex.is_root:
        order = sorted(parts)
        stacked = stack_columns([parts[k][1] for k in order], "column")
        return {0: (np.concatenate([parts[k][0] for k in order]), stacked)}
    return parts


def steady_chunk(model, forcing: xr.Dataset, theta) -> xr.Dataset:
    """Steady states of a chunk of columns in one kernel call; column by column when the
    batched call itself fails (then every column reports its own error)."""
    try:
        return model.steady_state_columns(forcing, theta)
    except PysocError:
        return SoilCarbonModel.steady_state_columns(model, forcing, theta)


# ---- reports ---------------------------------------------------------------------------------------------
def kernel_message(ds: xr.Dataset, p: int) -> str:
    """Why the kernel failed in column ``p``: its status and, when the model returns one, the
    reason, decoded from the CF flag attributes of ``reason``."""
    code = int(ds["status"].values[p])
    text = f"kernel status {_status.name(code)} ({_status.message(code)})"
    if "reason" in ds and "column" in ds["reason"].dims:
        r, a = int(ds["reason"].values[p]), ds["reason"].attrs
        names = str(a.get("flag_meanings", "")).split()
        if "flag_masks" in a:
            hit = [n for m, n in zip(np.atleast_1d(a["flag_masks"]), names) if r & int(m)]
        else:
            hit = [n for v, n in zip(np.atleast_1d(a.get("flag_values", [])), names) if r == int(v) and r != 0]
        if hit:
            text += ": " + "+".join(hit)
    return text


def report_failures(failed: dict, limit: int = 10) -> None:
    for p in list(failed)[:limit]:
        print(f"{PROG}: warning: column {p}: {failed[p]}", file=sys.stderr)
    if len(failed) > limit:
        print(f"{PROG}: warning: ... and {len(failed) - limit} more columns not run or failed (status, "
              f"column_message in the output)", file=sys.stderr)


def summarize(ds, out_path) -> str:
    lines = [f"{PROG}: {ds.attrs.get('model')} {ds.attrs.get('mode')} -> {out_path}"]
    stock = ds["soc_stock"]
    spatial = [d for d in stock.dims if d in ("column", "lat", "lon")]
    if spatial:
        ok = ds["status"] == 0
        lines.append(f"  {int(ok.sum())} of {int(ok.size)} columns ran; mean over them:")
        stock = stock.where(ok).mean(spatial)
    if "time" in stock.dims:
        stock = stock.isel(time=-1)
        lines.append(f"  final SOC stock after {ds.sizes['time']} {ds.attrs.get('output_frequency', 'steps')} "
                     f"records:")
    else:
        lines.append("  SOC stock:")
    for lab, v in zip(stock["depth_interval"].values, stock.values):
        lines.append(f"    {lab:>14s}: {v:12.1f} g C m-2")
    mb = ds["mass_balance_residual"]
    units = mb.attrs.get("units", "g m-2 yr-1")
    if "time" in mb.dims:
        lines.append(f"  mass-balance residual: max |input - dC - Rh| = {float(np.abs(mb).max()):.2e} {units} "
                     f"(rate over a record)")
    else:
        lines.append(f"  mass-balance residual: max |input - Rh| = {float(np.abs(mb).max()):.2e} {units}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description="Run a pysoc soil-carbon model from a namelist, for one "
                                "site or many columns (docs/offline_runs.md).")
    p.add_argument("namelist", nargs="?", type=Path, help="namelist file (see namelists/)")
    p.add_argument("--list-parameters", metavar="MODEL", help="print the parameter table of MODEL and exit")
    add_describe_namelist(p)
    add_version(p, PROG)
    args = p.parse_args(argv)

    def go():
        if args.list_parameters:
            print(model_class(args.list_parameters).parameters.markdown())
            return 0
        if args.describe_namelist:
            print(build_spec(args.describe_namelist).markdown())
            return 0
        if args.namelist is None:
            p.error("a namelist file is required")
        return run(args.namelist)

    return run_main(PROG, go)


if __name__ == "__main__":
    sys.exit(main())

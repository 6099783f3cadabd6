"""``pysoc-run NAMELIST``: a forward model run (steady state or transient) from a namelist.

Namelist groups:

- ``&run``: model, mode, forcing file, output file, parameter set;
- ``&parameters``: overrides by parameter name, physical values in the units of the
  model's parameter table (``pysoc-run --list-parameters MODEL``);
- ``&kp``: overrides by parameter name as normalised values (value = min + kp (max - min));
- ``&transient``: length and initial state of transient runs;
- ``&<model>``: options of the chosen model (e.g. ``&clm5 grid = 'clm5_20'``).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

from pysoc.cli import run_main
from pysoc.errors import ConfigError
from pysoc.io import netcdf
from pysoc.io.namelist import Group, Key, NamelistSpec, read_model_namelist
from pysoc.models import REGISTRY, model_class
from pysoc.params import OutsidePriorWarning

RUN = Group("run", (
    Key("model", "str", "clm5", "model to run", choices=tuple(REGISTRY)),
    Key("mode", "str", "steady_state", "steady_state or transient", choices=("steady_state", "transient")),
    Key("forcing_file", "str", "", "site forcing (NetCDF; format in docs/<model>.md)", path=True, required=True),
    Key("output_file", "str", "output/pysoc_run.nc", "output NetCDF (written atomically)", path=True),
    Key("parameter_set", "str", "", "named parameter set of the model ('' = the model's default set)"),
    Key("summary", "bool", True, "print a short summary (stocks by depth, mass balance) to stdout"),
), doc="What to run.")

TRANSIENT = Group("transient", (
    Key("n_years", "int", 1, "years to run when the forcing is a 12-month climatology (a longer series runs once)",
        min=1, max=100000),
    Key("initial", "str", "steady_state", "initial state: steady state of the mean forcing, or zero",
        choices=("steady_state", "zero")),
), doc="Transient runs.")


def build_spec(model_name: str) -> NamelistSpec:
    cls = model_class(model_name)
    table = cls.parameters

    def physical(key, value, where):
        table.index(key) if key in table.names else _unknown(key, where, table)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a real number, got {value!r}")
        return float(value)

    def normalised(key, value, where):
        v = physical(key, value, where)
        return v

    groups = [RUN, TRANSIENT,
              Group("parameters", (), f"{cls.name} parameter overrides (physical values)", open_keys=physical),
              Group("kp", (), f"{cls.name} parameter overrides (normalised kp values)", open_keys=normalised),
              cls.options_group]
    return NamelistSpec(groups, doc="Namelist of pysoc-run.")


def _unknown(key, where, table):
    raise ConfigError(f"{where}: unknown parameter (known: {', '.join(table.names)})")


def load(path: Path):
    return read_model_namelist(path, "run", tuple(REGISTRY), build_spec)


def run(nml_path: Path) -> int:
    nml, model_name = load(nml_path)
    cls = model_class(model_name)
    model = cls(**nml[cls.options_group.name])
    src = str(nml_path)
    forcing = model.load_forcing(nml["run"]["forcing_file"])
    theta = model.parameters.vector(nml["run"]["parameter_set"] or None, overrides=nml["parameters"])
    if nml["kp"]:
        # kp overrides go through the model's own mapping (e.g. COMPAS's legacy kp aliasing)
        kp = model.parameters.to_kp(theta)
        for name, value in nml["kp"].items():
            kp[model.parameters.index(name)] = value
        mapped = model.to_physical(kp)
        changed = mapped != model.parameters.to_physical(model.parameters.to_kp(theta))
        theta = np.where(changed, mapped, theta)
        for name in nml["kp"]:
            theta[model.parameters.index(name)] = mapped[model.parameters.index(name)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OutsidePriorWarning)
        theta = model.parameters.check(theta, source=src)
        warnings.simplefilter("ignore", OutsidePriorWarning)  # reported once, above
        if nml["run"]["mode"] == "steady_state":
            ds = model.steady_state(forcing, theta)
        else:
            ds = model.transient(forcing, theta, n_years=nml["transient"]["n_years"],
                                 initial=nml["transient"]["initial"])
    for w in caught:
        print(f"pysoc-run: warning: {w.message}", file=sys.stderr)
    out = netcdf.write(ds, nml["run"]["output_file"], title=f"pysoc {model.name} {nml['run']['mode']} run",
                       namelist_text=nml.text, source_files={"forcing_file": nml["run"]["forcing_file"],
                                                             "namelist": Path(src).resolve()})
    if nml["run"]["summary"]:
        print(summarize(ds, out))
    return 0


def summarize(ds, out_path) -> str:
    lines = [f"pysoc-run: {ds.attrs.get('model')} {ds.attrs.get('mode')} -> {out_path}"]
    stock = ds["soc_stock"]
    if "time" in stock.dims:
        stock = stock.isel(time=-1)
        lines.append(f"  final SOC stock after {ds.sizes['time']} months:")
    else:
        lines.append("  SOC stock:")
    for lab, v in zip(stock["depth_interval"].values, stock.values):
        lines.append(f"    {lab:>14s}: {v:12.1f} g C m-2")
    mb = ds["mass_balance_residual"]
    if "time" in mb.dims:
        lines.append(f"  mass-balance residual: max |input - dC - Rh| = {float(np.abs(mb).max()):.2e} g C m-2 month-1")
    else:
        lines.append(f"  mass-balance residual: (input - Rh)/input = {float(mb):.2e}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="pysoc-run", description="Run a pysoc soil-carbon model from a namelist.")
    p.add_argument("namelist", nargs="?", type=Path, help="namelist file (see namelists/)")
    p.add_argument("--list-parameters", metavar="MODEL", help="print the parameter table of MODEL and exit")
    p.add_argument("--describe-namelist", metavar="MODEL", help="print every namelist key for MODEL and exit")
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

    return run_main("pysoc-run", go)


if __name__ == "__main__":
    sys.exit(main())

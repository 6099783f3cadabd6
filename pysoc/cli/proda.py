"""``pysoc-proda NAMELIST``: PRODA -- neural-network generalisation of site calibrations to
gridded parameter and SOC maps with bootstrap and posterior uncertainty; every run writes the
trained model, ``<run_name>_model.nc`` (docs/proda.md).

``pysoc-proda predict MODEL SITES [--output PREFIX]`` applies a saved model to a sites table
(SOC profiles, stocks and parameters with 5-95 % bands; sites that cannot be predicted are
listed one per line with the reason). ``pysoc-proda evaluate MODEL SITES LAYERS`` scores a
saved model on held-out profiles next to the baselines. ``pysoc-proda --compare A_maps.nc
B_maps.nc`` correlates the SOC and system-component maps of two runs (e.g. CLM5 and COMPAS;
seed 001 Fig. 4). Run under ``mpirun -n N`` to spread the networks and the grid cells over N
ranks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pysoc.cli import add_describe_namelist, add_version, run_main

SUBCOMMANDS = ("predict", "evaluate")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        return _sub(argv[0], argv[1:])
    p = argparse.ArgumentParser(prog="pysoc-proda", description="PRODA: site posteriors -> neural network -> "
                                "gridded parameters, SOC maps and uncertainty. Subcommands: 'pysoc-proda predict "
                                "MODEL SITES', 'pysoc-proda evaluate MODEL SITES LAYERS' (--help each).")
    p.add_argument("namelist", nargs="?", type=Path, help="namelist file (see namelists/proda_clm5.nml)")
    add_describe_namelist(p)
    add_version(p, "pysoc-proda")
    p.add_argument("--list-covariates", action="store_true", help="print the covariate mapping table and exit")
    p.add_argument("--compare", nargs=2, type=Path, metavar=("A_MAPS", "B_MAPS"),
                   help="correlate two map files of pysoc-proda (e.g. CLM5 and COMPAS) and exit")
    p.add_argument("--output", type=Path, default=None,
                   help="with --compare: prefix of the CSV table and figure (default: print the table only)")
    args = p.parse_args(argv)

    def go():
        if args.describe_namelist:
            from pysoc.proda.workflow import build_spec
            print(build_spec(args.describe_namelist).markdown())
            return 0
        if args.list_covariates:
            from pysoc.proda.covariates import mapping_markdown
            print(mapping_markdown())
            return 0
        if args.compare:
            return compare(*args.compare, args.output)
        if args.namelist is None:
            p.error("a namelist file is required")
        from pysoc.proda import plots
        from pysoc.proda.workflow import load_namelist, run_namelist
        nml = load_namelist(args.namelist)
        preflight(nml)
        return run_namelist(nml, plots=plots)

    return run_main("pysoc-proda", go)


def preflight(nml) -> None:
    """Checks of a run's namelist before any work, so that nothing is written when they fail:
    the output directory can be written, and a grid region is well formed and holds land cells
    of the covariate grid."""
    from pysoc.errors import ConfigError
    from pysoc.io.atomic import check_output_dir

    src = nml.path
    p, g = nml["proda"], nml["grid"]
    check_output_dir(p["output_dir"], f"{src}: &proda output_dir")
    region = list(g["region"])
    if not (g["enabled"] and region):
        return
    if len(region) != 4 or not (region[0] < region[1] and region[2] < region[3]):
        raise ConfigError(f"{src}: &grid region = {', '.join(f'{v:g}' for v in region)}: expected 4 values lat_min, "
                          f"lat_max, lon_min, lon_max with lat_min < lat_max and lon_min < lon_max")
    from pysoc.proda.covariates import CovariateGrid

    grid = CovariateGrid(p["grid_file"])
    la0, la1, lo0, lo1 = region
    inside = (grid.cell_lat >= la0) & (grid.cell_lat <= la1) & (grid.cell_lon >= lo0) & (grid.cell_lon <= lo1)
    if not inside.any():
        raise ConfigError(f"{src}: &grid region = {', '.join(f'{v:g}' for v in region)}: no land cell of {grid.path} "
                          f"lies in lat [{la0:g}, {la1:g}], lon [{lo0:g}, {lo1:g}]")


def _sub(cmd: str, argv) -> int:
    prog = f"pysoc-proda {cmd}"
    p = argparse.ArgumentParser(prog=prog, description=(
        "Apply a saved PRODA model (<run>_model.nc of pysoc-proda) to new sites: SOC profiles, stocks and "
        "parameters with 5-95 % bands." if cmd == "predict" else
        "Score a saved PRODA model on held-out profiles next to the baselines (seed 002 Table 1 + direct ML)."))
    p.add_argument("model", type=Path, help="model file written by pysoc-proda (<run_name>_model.nc)")
    p.add_argument("sites", type=Path, help="sites table (site_id, lat, lon; covariate columns optional)")
    if cmd == "evaluate":
        p.add_argument("layers", type=Path, help="layers table of the held-out profiles")
        p.add_argument("--n-random", type=int, default=1000, help="vectors of the random-sampling method")
        p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples of the sites (CIs)")
        p.add_argument("--seed", type=int, default=0, help="seed of random sampling, forest and bootstrap")
    else:
        p.add_argument("--ensemble", choices=("draws", "boot", "best"), default=None,
                       help="ensemble of the bands (default: draws if the model has it, else boot)")
    p.add_argument("--output", type=Path, default=None,
                   help="output prefix (default: the sites file name without .csv, + '_predicted'/'_scored')")
    p.add_argument("--grid-file", type=Path, default=None, help="covariate grid (default: the model's)")
    p.add_argument("--site-max-km", type=float, default=None,
                   help="largest distance of a covariate sampled from the grid (default: the model's)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    return run_main(prog, lambda: (predict if cmd == "predict" else evaluate)(args, prog))


def _load(args):
    from pysoc.errors import ConfigError
    from pysoc.proda.model import ProdaModel
    from pysoc.proda.sites import model_grid

    if args.site_max_km is not None and args.site_max_km < 0:
        raise ConfigError(f"--site-max-km must be >= 0, got {args.site_max_km:g}")
    pm = ProdaModel.load(args.model)
    grid = model_grid(pm, args.grid_file) if args.grid_file is not None else None
    return pm, grid


def _prefix(args, tag: str) -> Path:
    if args.output is not None:
        return args.output
    s = Path(args.sites)
    return s.with_name(s.stem + f"_{tag}")


def predict(args, prog: str) -> int:
    from pysoc.errors import DataError

    pm, grid = _load(args)
    pred = pm.predict(args.sites, grid=grid, max_km=args.site_max_km, ensemble=args.ensemble,
                      progress=not args.no_progress)
    for sid, reason in pred.failures:
        print(f"{prog}: site {sid} not predicted: {reason}", file=sys.stderr)
    if pred.n_predicted == 0:
        raise DataError(f"{args.sites}: none of the {len(pred.sites)} sites could be predicted (reasons above)")
    for w in pred.write(_prefix(args, "predicted")):
        print(f"{prog}: wrote {w}", file=sys.stderr)
    print(f"{prog}: {pred.n_predicted} of {len(pred.sites)} sites predicted; kernel process time "
          f"{pred.kernel_seconds:.2f} s", file=sys.stderr)
    return 0


def evaluate(args, prog: str) -> int:
    pm, grid = _load(args)
    ev = pm.evaluate(args.sites, args.layers, n_random=args.n_random, n_boot=args.n_boot, seed=args.seed, grid=grid,
                     max_km=args.site_max_km, progress=not args.no_progress)
    for sid, reason in ev.failures:
        print(f"{prog}: site {sid} not evaluated: {reason}", file=sys.stderr)
    from pysoc.proda.scoring import metric_lines

    print("\n".join(metric_lines(ev.metrics, ev.differences, indent="")))
    for w in ev.write(_prefix(args, "scored")):
        print(f"{prog}: wrote {w}", file=sys.stderr)
    return 0


def compare(a: Path, b: Path, prefix: Path | None) -> int:
    from pysoc.errors import DataError
    from pysoc.proda import output, plots

    from pysoc.forcing import check_netcdf_file

    for f in (a, b):
        if not Path(f).is_file():
            raise DataError(f"{f}: map file not found")
        check_netcdf_file(f, "map file")
    table = output.compare_maps(a, b)
    with_pd_opts = table[["variable", "n_cells", "pearson_r", "mean_a", "mean_b"]]
    print(with_pd_opts.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    if prefix is not None:
        output.write_csv(table, Path(f"{prefix}_comparison.csv"))
        dsa, dsb = output.load_dataset(a), output.load_dataset(b)
        plots.comparison_figure(dsa, dsb, table, Path(f"{prefix}_comparison.png"))
        plots.latitude_figure([dsa, dsb], Path(f"{prefix}_latitude.png"),
                              labels=[dsa.attrs.get("model", "A"), dsb.attrs.get("model", "B")])
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``pysoc-upscale``: heterotrophic-respiration upscaling from SRDB.

    pysoc-upscale NAMELIST                 fit (grouped CV selects the model), save it, map Rh,
                                           turnover time, 2-box constraint
    pysoc-upscale predict MODEL SITES      Rh at new sites from a saved model (SITES: a CSV/TSV
                                           table with latitude/longitude columns, or LAT,LON ...)
    pysoc-upscale evaluate MODEL RECORDS   score a saved model on new SRDB records (the model's
                                           stored filters), next to its stored baselines

All fitting options are namelist keys (``pysoc-upscale --describe-namelist`` lists them with defaults and
documentation); see docs/upscale_rh.md.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from pysoc.cli import add_describe_namelist, add_version, run_main
from pysoc.errors import DataError

_COORD = re.compile(r"^-?\d+(\.\d*)?,-?\d+(\.\d*)?$")


def _fit_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="pysoc-upscale", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("namelist", nargs="?", help="namelist file (e.g. namelists/upscale_rh.nml)")
    add_describe_namelist(ap, model=False)      # --keys: hidden alias
    add_version(ap, "pysoc-upscale")
    ap.add_argument("--quiet", action="store_true", help="no summary lines and no progress bars")
    args = ap.parse_args(argv)
    from pysoc.upscale.workflow import UPSCALE_NAMELIST, run
    if args.describe_namelist:
        print(UPSCALE_NAMELIST.markdown())
        return 0
    if not args.namelist:
        ap.error("a namelist file is required (or --describe-namelist, or the predict / evaluate commands)")
    nml = UPSCALE_NAMELIST.read(args.namelist)
    from pysoc.io.atomic import check_output_dir
    check_output_dir(nml["run"]["output_dir"], f"{args.namelist}: &run output_dir")   # before any work
    if args.quiet:
        nml["run"]["progress"] = False
    plots = None
    if nml["run"]["figures"]:
        from pysoc.upscale import plots
    run(nml, verbose=not args.quiet, plots=plots)
    return 0


def _load(model_path: str, grid: str | None):
    from pysoc.io.namelist import resolve_path
    from pysoc.upscale.grid import CovariateGrid
    from pysoc.upscale.saved import UpscaleModel
    model = UpscaleModel.load(model_path)
    g = CovariateGrid(resolve_path(grid or model.grid_file, Path.cwd()))
    notes = []
    if g.checksum() != model.grid_sha256:
        notes.append(f"note: covariate grid {g.path} differs from the one the model was trained on "
                     f"({model.grid_file})")
    model.prepare_grid(g)
    return model, g, notes


def _predict_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="pysoc-upscale predict",
                                 description="Rh (g C m-2 yr-1) at sites from a saved model; predictors come "
                                             "from the covariate grid, no observations are needed.")
    ap.add_argument("model", help="saved model (rh_model.zip written by pysoc-upscale)")
    ap.add_argument("sites", nargs="*", help="a CSV/TSV site table with latitude and longitude columns, or "
                                             "one or more LAT,LON coordinates (negative values allowed)")
    ap.add_argument("-o", "--output", help="output CSV (default: print the table)")
    ap.add_argument("--grid", help="covariate grid (default: the one stored in the model)")
    ap.add_argument("--quiet", action="store_true", help="no timing line")
    args, extra = ap.parse_known_args(argv)
    coords = [t for t in extra if _COORD.match(t)]
    if len(coords) != len(extra):
        ap.error(f"unrecognized arguments: {' '.join(t for t in extra if t not in coords)}")
    # '-3.1,-60' looks like an option to argparse: collect the sites back in command-line order
    wanted = set(args.sites) | set(coords)
    args.sites = [t for t in argv[1:] if t in wanted]
    if not args.sites:
        ap.error("the following arguments are required: sites")
    from pysoc.upscale.sites import read_sites
    t0 = time.process_time()
    model, grid, notes = _load(args.model, args.grid)
    sites = read_sites(args.sites if len(args.sites) > 1 else args.sites[0])
    pred = model.predict_sites(grid, sites["lat"].to_numpy(float), sites["lon"].to_numpy(float))
    out = sites.reset_index(drop=True).join(pred)
    for n in notes:
        print(n, file=sys.stderr)
    bad = out[out["status"] != "ok"]
    for r in bad.itertuples():
        print(f"{r.site_ref} ({r.lat}, {r.lon}): not predicted: {r.reason}", file=sys.stderr)
    if args.output:
        from pysoc.upscale.output import write_csv
        write_csv(out, args.output, float_format="%.4f")
    else:
        out.to_csv(sys.stdout, index=False, float_format="%.2f")
    if not args.quiet:
        print(f"pysoc-upscale predict: {len(out) - len(bad)} of {len(out)} sites predicted with {model.candidate} "
              f"({time.process_time() - t0:.2f} s CPU)" + (f"; written to {args.output}" if args.output else ""),
              file=sys.stderr)
    if len(bad) == len(out):
        raise DataError("no site could be predicted (reasons above)")
    return 0


def _evaluate_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="pysoc-upscale evaluate",
                                 description="Score a saved model on SRDB records it has not seen: the model's "
                                             "stored filters (with the training outlier window), then R2, NSE, "
                                             "RMSE and bias next to the stored training-mean and linear MAT + MAP "
                                             "baselines.")
    ap.add_argument("model", help="saved model")
    ap.add_argument("records", help="SRDB CSV with Rh_annual")
    ap.add_argument("--grid", help="covariate grid (default: the one stored in the model)")
    ap.add_argument("-o", "--output", help="CSV of the records with predictions")
    args = ap.parse_args(argv)
    from pysoc.upscale.evaluate import evaluate_records
    model, grid, notes = _load(args.model, args.grid)
    for n in notes:
        print(n, file=sys.stderr)
    res = evaluate_records(model, grid, args.records)
    for ln in res.lines:
        print(ln)
    if args.output:
        from pysoc.upscale.output import write_csv
        write_csv(res.table, args.output, float_format="%.4f")
    return 0


def _main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "predict":
        return _predict_main(argv[1:])
    if argv and argv[0] == "evaluate":
        return _evaluate_main(argv[1:])
    return _fit_main(argv)


def main(argv: list[str] | None = None) -> int:
    return run_main("pysoc-upscale", lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())

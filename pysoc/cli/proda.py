"""``pysoc-proda NAMELIST``: PRODA -- neural-network generalisation of site calibrations to
gridded parameter and SOC maps with bootstrap and posterior uncertainty (docs/proda.md).

``pysoc-proda --compare A_maps.nc B_maps.nc`` correlates the SOC and system-component maps
of two runs (e.g. CLM5 and COMPAS; seed 001 Fig. 4). Run under ``mpirun -n N`` to spread the
networks and the grid cells over N ranks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pysoc.cli import add_describe_namelist, add_version, run_main


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="pysoc-proda", description="PRODA: site posteriors -> neural network -> "
                                "gridded parameters, SOC maps and uncertainty.")
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
        from pysoc.proda.workflow import run
        return run(args.namelist, plots=plots)

    return run_main("pysoc-proda", go)


def compare(a: Path, b: Path, prefix: Path | None) -> int:
    from pysoc.errors import DataError
    from pysoc.proda import output, plots

    for f in (a, b):
        if not Path(f).is_file():
            raise DataError(f"{f}: map file not found")
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

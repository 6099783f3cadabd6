"""``pysoc-upscale NAMELIST``: heterotrophic-respiration upscaling (random forest / XGBoost on
SRDB), global map and total, soil carbon turnover time and the 2-box constraint.

All options are namelist keys (``pysoc-upscale --describe-namelist`` lists them with defaults and
documentation); see docs/upscale_rh.md.
"""

from __future__ import annotations

import argparse
import sys

from pysoc.cli import add_describe_namelist, add_version, run_main


def _main(argv: list[str] | None = None) -> int:
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
        ap.error("a namelist file is required (or --describe-namelist)")
    nml = UPSCALE_NAMELIST.read(args.namelist)
    if args.quiet:
        nml["run"]["progress"] = False
    run(nml, verbose=not args.quiet)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_main("pysoc-upscale", lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())

"""Reproduce the MIMICS package data in this folder (see SOURCE.md).

Usage: python pysoc/data/mimics/make_data.py ISRAD_DIR

1. ``mcfarlane2013_sites.csv`` / ``mcfarlane2013_layers.csv``: the ISRaD profiles of entry
   McFarlane_2013 (Harvard Forest, MI-Coarse UMBS, MI-Fine Colonial Point, Bartlett Forest;
   three of them are calibration sites of Wang et al. 2021, seed 003 Table 2) after the
   project's ISRaD conversion rules (``pysoc.io.israd.convert_israd``), in the two-table
   profile format of ``pysoc.io.profiles``.
2. ``forcing_bartlett_B2.nc``: MIMICS forcing of profile McFarlane_2013_013 (Bartlett B2) on
   the default grid (20 x 5 cm) from its covariates (``pysoc.models.mimics.site_forcing``),
   used by namelists/mimics_profile.nml.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ENTRY = "McFarlane_2013"
FORCING_SITE = "McFarlane_2013_013"
FILES = ("ISRaD_extra_layer.csv.gz", "ISRaD_extra_profile.csv.gz", "ISRaD_extra_metadata.csv",
         "ISRaD_extra_site.csv", "vonFromm2024_ISRaD_lyr_filtered_2023-02-08.csv.gz")


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__)
        return 2
    from pysoc.io.israd import convert_israd
    from pysoc.io.profiles import read_profiles
    from pysoc.models import get_model
    from pysoc.models.mimics import site_forcing

    src = Path(args[0])
    sites, layers, report = convert_israd(*(src / f for f in FILES))
    sites = sites[sites["entry_name"] == ENTRY].sort_values("site_id")
    layers = layers[layers["site_id"].isin(sites["site_id"])].sort_values(["site_id", "top_cm"])
    sites.to_csv(HERE / "mcfarlane2013_sites.csv", index=False, float_format="%.6g")
    layers.to_csv(HERE / "mcfarlane2013_layers.csv", index=False, float_format="%.6g")
    print(f"{len(sites)} profiles / {len(layers)} layers of {ENTRY}")
    profiles = {p.site_id: p for p in read_profiles(HERE / "mcfarlane2013_sites.csv",
                                                     HERE / "mcfarlane2013_layers.csv")}
    model = get_model("mimics")
    ds = site_forcing(model, profiles[FORCING_SITE])
    ds.attrs["title"] = f"MIMICS forcing of ISRaD profile {FORCING_SITE} (NH Bartlett Forest B2)"
    model.write_forcing(ds, HERE / "forcing_bartlett_B2.nc")
    print(f"wrote forcing_bartlett_B2.nc ({FORCING_SITE})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

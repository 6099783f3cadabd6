"""Build the shipped forest-type profile subset pysoc/data/mimics/forest_types/ from the
ISRaD extract (seed 003 Table 4 analog, docs/mimics.md "Forest-type calibration").

Usage::

    python scripts/build_mimics_forest_types.py ISRAD_DIR [--out pysoc/data/mimics/forest_types]
        [--max-per-type 30] [--seed 20210223]

ISRAD_DIR holds the ISRaD "extra" tables (as scripts/proda_israd_example.py). The profiles are
converted with :func:`pysoc.io.israd.convert_israd` (the project rules), then classified:

* forest: ISRaD ``pro_land_cover`` == 'forest';
* leaf habit: ISRaD ``pro_lc_leaf_type`` / ``pro_lc_phenology`` where given, else the MODIS
  land-cover class of the profile (Evergreen Needleleaf / Evergreen Broadleaf / Deciduous
  Broadleaf Forests); mixed forests, woody savannas and other classes are left out;
* boreal: Köppen-Geiger present climate D?c, D?d (subarctic) or E;
* ENF = evergreen needleleaf and not boreal, BNF = evergreen needleleaf and boreal,
  EBF = evergreen broadleaf, DBF = deciduous broadleaf;
* usable: the MIMICS site forcing can be built from the covariates and >= 3 observed layers lie
  in the 1 m model column;
* at most ``--max-per-type`` profiles per type, drawn at random (``--seed``) when more qualify.

The script is deterministic; it writes ``sites.csv`` and ``layers.csv`` (the two-table format of
pysoc.io.profiles) with a ``meta_forest_type`` column in the site table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
MODIS = {"Evergreen Needleleaf Forests": ("needleleaf", "evergreen"),
         "Evergreen Broadleaf Forests": ("broadleaf", "evergreen"),
         "Deciduous Broadleaf Forests": ("broadleaf", "deciduous")}
TYPES = ("ENF", "EBF", "DBF", "BNF")


def forest_type(sites: pd.DataFrame) -> pd.Series:
    """Forest type (ENF, EBF, DBF, BNF or '') of each converted ISRaD profile (module rules)."""
    def col(name):
        return sites[name].fillna("").astype(str).str.strip() if name in sites else pd.Series("", sites.index)
    modis = col("modis_land_cover")
    leaf = col("lc_leaf_type").str.lower()
    phen = col("lc_phenology").str.lower()
    leaf = leaf.where(leaf != "", modis.map(lambda m: MODIS.get(m, ("", ""))[0]))
    phen = phen.where(phen != "", modis.map(lambda m: MODIS.get(m, ("", ""))[1]))
    kg = col("koppen")
    boreal = kg.str.match(r"^D..?[cd]$") | kg.str.startswith("E")
    forest = col("land_cover").str.lower() == "forest"
    t = pd.Series("", index=sites.index)
    ne = forest & (leaf == "needleleaf") & (phen == "evergreen")
    t[ne & ~boreal] = "ENF"
    t[ne & boreal] = "BNF"
    t[forest & (leaf == "broadleaf") & (phen == "evergreen")] = "EBF"
    t[forest & (leaf == "broadleaf") & (phen == "deciduous")] = "DBF"
    return t


def usable(sites_csv: Path, layers_csv: Path) -> set[str]:
    """Site ids whose MIMICS forcing builds and with >= 3 layers above 1 m."""
    from pysoc.errors import DataError
    from pysoc.io.profiles import read_profiles
    from pysoc.models import get_model

    model = get_model("mimics")
    ok = set()
    for p in read_profiles(sites_csv, layers_csv):
        if int((np.asarray(p.top) < 1.0).sum()) < 3:
            continue
        try:
            model.site_forcing(p)
        except DataError:
            continue
        ok.add(p.site_id)
    return ok


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="build_mimics_forest_types", description=__doc__.split("\n\n")[0])
    p.add_argument("israd_dir", type=Path)
    p.add_argument("--out", type=Path, default=ROOT / "pysoc" / "data" / "mimics" / "forest_types")
    p.add_argument("--max-per-type", type=int, default=30)
    p.add_argument("--seed", type=int, default=20210223)
    a = p.parse_args(argv)
    from pysoc.io.atomic import write_csv
    from pysoc.io.israd import convert_israd

    d = a.israd_dir
    vf = d / "vonFromm2024_ISRaD_lyr_filtered_2023-02-08.csv.gz"
    sites, layers, report = convert_israd(d / "ISRaD_extra_layer.csv.gz", d / "ISRaD_extra_profile.csv.gz",
                                          d / "ISRaD_extra_metadata.csv", d / "ISRaD_extra_site.csv",
                                          vf if vf.exists() else None)
    print(report.text())
    sites["meta_forest_type"] = forest_type(sites)
    sites = sites[sites["meta_forest_type"] != ""]
    a.out.mkdir(parents=True, exist_ok=True)
    tmp_s, tmp_l = a.out / "sites.csv", a.out / "layers.csv"
    write_csv(sites, tmp_s)
    write_csv(layers[layers["site_id"].isin(sites["site_id"])], tmp_l)
    ok = usable(tmp_s, tmp_l)
    rng = np.random.default_rng(a.seed)
    keep = []
    for t in TYPES:
        ids = sorted(s for s in sites.loc[sites["meta_forest_type"] == t, "site_id"] if s in ok)
        if len(ids) > a.max_per_type:
            ids = sorted(rng.choice(ids, size=a.max_per_type, replace=False).tolist())
        keep += ids
        print(f"{t}: {len(ids)} profiles kept")
    sites = sites[sites["site_id"].isin(keep)].sort_values(["meta_forest_type", "site_id"])
    write_csv(sites, tmp_s, float_format="%.6g")
    write_csv(layers[layers["site_id"].isin(keep)], tmp_l, float_format="%.6g")
    print(f"wrote {tmp_s} ({len(sites)} profiles) and {tmp_l}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

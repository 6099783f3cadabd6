"""Reproduce the shipped ISRaD profile subset pysoc/data/profiles/{israd_sites,israd_layers}.csv
and its SOURCE.md from the ISRaD "extra" extract.

Usage: python scripts/make_israd_subset.py ISRAD_DIR [OUTDIR] [--n N]
  ISRAD_DIR holds ISRaD_extra_{layer,profile}.csv.gz, ISRaD_extra_{metadata,site}.csv and
  (optional) vonFromm2024_ISRaD_lyr_filtered_2023-02-08.csv.gz; OUTDIR defaults to
  pysoc/data/profiles; N (default 48) is the number of profiles shipped.

Steps: pysoc.io.israd.convert_israd (mineral soils, >= 3 layers, > 50 cm; docs/data.md),
then a deterministic, diversity-seeking pick (see ``pick``):
  candidates: depths start at the mineral surface (top of first layer = 0 cm), >= 3
  layers with bulk-layer Δ14C, no layer denser than 120 kg C m-3 (pedotransfer BD where
  BD is missing; guards against unit errors in the source);
  score: 2 if every layer has a measured bulk density, 1 otherwise; ties broken by the
  number of layers, then the order of the profile (``profile_order``: ISRaD entry, then site
  and profile names; the order of the sequential ids used before the ids became stable, so
  the pick did not change with them);
  strata: Köppen main class (A, B, C, D, E) × ISRaD land cover; first the best profile of
  every stratum (smallest stratum first), then round-robin over the strata among profiles
  with score 2, then score 1; at most 2 profiles per ISRaD entry (study) and 1 per ISRaD site.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from pysoc.io.israd import convert_israd, covariate_table
from pysoc.io.profiles import pedotransfer_bd

MAX_DENSITY = 120.0   # kg C m-3: no layer of a shipped profile above this (suspected unit errors)
ROOT = Path(__file__).resolve().parent.parent
FILES = {
    "layer": "ISRaD_extra_layer.csv.gz",
    "profile": "ISRaD_extra_profile.csv.gz",
    "metadata": "ISRaD_extra_metadata.csv",
    "site": "ISRaD_extra_site.csv",
    "vonfromm": "vonFromm2024_ISRaD_lyr_filtered_2023-02-08.csv.gz",
}


def profile_order(sites: pd.DataFrame) -> pd.Series:
    """Sort key of every profile of a whole conversion: ``<entry>_<nnn>``, nnn the rank of the
    (site, profile) names within the entry (what the site ids were before they became
    stable hashes, pysoc.io.israd.profile_id)."""
    k = sites[["entry_name", "site_name", "pro_name"]].astype(str).sort_values(["entry_name", "site_name", "pro_name"])
    rank = k.groupby("entry_name").cumcount().add(1)
    slug = k["entry_name"].str.replace(r"[^A-Za-z0-9]+", "_", regex=True).str.strip("_")
    return pd.Series([f"{e}_{i:03d}" for e, i in zip(slug, rank)], index=k.index).reindex(sites.index)


def pick(sites: pd.DataFrame, layers: pd.DataFrame, n: int, max_per_entry: int = 2) -> list[str]:
    g = layers.groupby("site_id")
    st = pd.DataFrame({"nlay": g.size(), "top0": g["top_cm"].min() == 0, "n14": g["d14c_permil"].count(),
                       "nbd": g["bd_g_cm3"].count()})
    bd = layers["bd_g_cm3"].where(layers["bd_g_cm3"] > 0, pedotransfer_bd(layers["soc_percent"]))
    st["max_density"] = (layers["soc_percent"] / 100.0 * bd * 1000.0).groupby(layers["site_id"]).max()
    s = sites.assign(_order=profile_order(sites)).set_index("site_id").join(st)
    s = s[s["top0"] & (s["n14"] >= 3) & (s["max_density"] <= MAX_DENSITY)].copy()
    s["score"] = np.where(s["nbd"] == s["nlay"], 2, 1)
    s["stratum"] = s["koppen"].fillna("?").str[0] + "/" + s["land_cover"].fillna("unknown")
    s = s.reset_index().sort_values(["score", "nlay", "_order"], ascending=[False, False, True])
    queues = {k: list(v["site_id"]) for k, v in s.groupby("stratum", sort=True)}
    order = sorted(queues, key=lambda k: (len(queues[k]), k))
    entry = s.set_index("site_id")["entry_name"]
    site = s.set_index("site_id")["site_name"]
    score = s.set_index("site_id")["score"]
    chosen, per_entry, used_sites = [], {}, set()

    def take(k: str, min_score: int) -> bool:
        q = queues[k]
        for sid in list(q):
            e, si = entry[sid], (entry[sid], site[sid])
            if score[sid] < min_score:
                continue
            q.remove(sid)
            if per_entry.get(e, 0) >= max_per_entry or si in used_sites:
                continue
            chosen.append(sid)
            per_entry[e] = per_entry.get(e, 0) + 1
            used_sites.add(si)
            return True
        return False

    # pass 1: the best profile of every stratum; then round-robin, BD-complete profiles first
    for k in order:
        if len(chosen) < n:
            take(k, 0)
    for min_score in (2, 1):
        progress = True
        while len(chosen) < n and progress:
            progress = False
            for k in order:
                if len(chosen) >= n:
                    break
                progress |= take(k, min_score)
    return chosen


SOURCE_HEAD = """# ISRaD soil-profile subset (pysoc/data/profiles)

**Files**: `israd_sites.csv` (one row per profile: `site_id`, `lat`, `lon`, descriptive
columns, covariates with units in their names) and `israd_layers.csv` (one row per layer:
`site_id`, `top_cm`, `bottom_cm`, `soc_percent`, `bd_g_cm3`, `coarse_percent`,
`d14c_permil`). Format and reader: `pysoc.io.profiles` and docs/data.md.

**Origin**: International Soil Radiocarbon Database (ISRaD), "ISRaD_extra" compiled
2023-02-08 with the ISRaD R package (tables layer, profile, site, metadata), plus two
profile covariates (`gpp_fluxcom_gC_m2_d`, `et0_gai3_mm_yr`) from the filtered layer table
of von Fromm et al. (2024). Produced by `scripts/make_israd_subset.py ISRAD_DIR`, which
runs `pysoc.io.israd.convert_israd` and the deterministic pick described below; re-running
it on the same extract reproduces these files exactly.

**Licence**: ISRaD data are CC BY 4.0. Cite:
- Lawrence, C. R. et al. (2020) An open-source database for the synthesis of soil radiocarbon
  data: International Soil Radiocarbon Database (ISRaD) version 1.0. *Earth Syst. Sci. Data*
  12, 61–76, doi:10.5194/essd-12-61-2020 (data v1.0: Zenodo doi:10.5281/zenodo.2613911);
  version used: ISRaD_extra compiled 2023-02-08.
- von Fromm, S. F. et al. (2024) *Global Change Biology* 30, e17320, doi:10.1111/gcb.17320
  (the two covariates above; Zenodo doi:10.5281/zenodo.11105261).
- the original study of every profile: column `doi` (and `citation`) of `israd_sites.csv`;
  the table below lists them.

Note: part of the ISRaD sites (186 entry/site pairs in 91 random 0.5° cells) was withheld
from the extract used here for independent evaluation; none of them can be in this subset.

## Selection

Conversion rules (`pysoc.io.israd`): profiles that are not peatland, not wetland, not
Histosols, control (untreated) profiles; layers with valid depths, top >= 0 cm (negative
depths are organic horizons above the mineral surface), not organic material (organic C
> 20 %, the WRB threshold, or an O/peat horizon label), organic C present and > 0, SOC
density with measured BD <= 150 kg C m-3; one sampling year per profile (the one with most layers); no overlapping layers; depths
re-referenced to the mineral surface when organic layers were removed from the top of a
profile not measured from the mineral surface; >= 3 layers and deepest bottom > 50 cm
(spec methods.md §1).

Pick of the shipped subset (`scripts/make_israd_subset.py`): depths start at 0 cm; >= 3
layers with bulk Δ14C; no layer denser than 120 kg C m-3; one profile from every Köppen main class × land-cover stratum
(rare strata first), then round-robin over the strata, profiles with a measured bulk
density in every layer first; at most 2 profiles per study and 1 per ISRaD site.

Values: `soc_percent` = ISRaD `lyr_c_org_filled` (organic C, mass %; measured, or total C
minus inorganic C with missing inorganic C taken as 0); `bd_g_cm3` = `lyr_bd_samp_filled`
(fine-earth bulk density, measured or derived by ISRaD from whole-soil BD and coarse
fraction; empty = not reported: the reader uses the pedotransfer of spec methods.md §1 and
flags it); `coarse_percent` = `lyr_coarse_tot_filled` (empty = not reported: 0 assumed,
flagged); `d14c_permil` = `lyr_14c` (bulk-soil Δ14C, per mil; empty = not measured).
Depths are cm below the mineral-soil surface; `depth_shift_cm` in the sites table gives
any re-referencing applied. `obs_year` is the sampling year (for the Δ14C bomb curve).
"""


def source_md(sites: pd.DataFrame, layers: pd.DataFrame, report_text: str) -> str:
    out = [SOURCE_HEAD]
    out.append("## Conversion report (whole extract)\n\n```\n" + report_text + "\n```\n")
    n14 = layers.groupby("site_id")["d14c_permil"].count()
    nbd = layers.groupby("site_id")["bd_g_cm3"].count()
    nl = layers.groupby("site_id").size()
    out.append(f"## Subset: {len(sites)} profiles, {len(layers)} layers, "
               f"{sites['entry_name'].nunique()} studies\n")
    out.append(f"Layers with Δ14C: {int(n14.sum())}; with measured bulk density: {int(nbd.sum())} "
               f"(profiles with BD in every layer: {int((nbd == nl).sum())}).\n")
    out.append("| study (ISRaD entry) | profiles | DOI (else the reference) | Köppen | land cover |\n"
               "|---|---|---|---|---|")
    for e, g in sites.groupby("entry_name", sort=True):
        doi = g["doi"].dropna().iloc[0] if g["doi"].notna().any() else ""
        if not doi:
            ref = str(g["citation"].dropna().iloc[0]) if g["citation"].notna().any() else ""
            cdoi = g["compilation_doi"].dropna().iloc[0] if g["compilation_doi"].notna().any() else ""
            doi = ref.replace("|", "/") + (f" (compilation doi:{cdoi})" if cdoi else "")
        out.append(f"| {e} | {len(g)} | {doi} | {', '.join(sorted(set(g['koppen'].fillna('?'))))} | "
                   f"{', '.join(sorted(set(g['land_cover'].fillna('unknown'))))} |")
    out.append("\n## Covariates (columns of `israd_sites.csv`)\n")
    out.append("NaN = not available. SoilGrids values are OpenLandMap/SoilGrids250m v0.2 point values "
               "extracted by ISRaD.extra (converted: bulk density /100 -> g cm-3, organic C /2 -> %).\n")
    out.append("| column | ISRaD source column | description |\n|---|---|---|")
    for col, src, desc in covariate_table():
        if col in sites.columns:
            out.append(f"| `{col}` | `{src}` | {desc} |")
    out.append("\nDescriptive columns (strings, not covariates): `entry_name`, `site_name`, `pro_name` (ISRaD keys), "
               "`doi` (original study; empty when it has none), `compilation_doi` (compilation ISRaD took the "
               "data from, if any), `citation` (reference, at most 200 characters), `obs_year`, `land_cover` (ISRaD `pro_land_cover`), `modis_land_cover` (MODIS "
               "class at 0.5°), `koppen`, `koppen_long` (Köppen-Geiger present), `usda_soil_order` (reported), "
               "`usda_soil_order_grid` (0.5° map), `graven_zone` (atmospheric 14C zone), `permafrost`, `country`, "
               "`lc_leaf_type`, `lc_phenology`, `depth_shift_cm`.\n")
    return "\n".join(out)


def amplitude_fit(profile_path) -> str:
    """Least-squares fit of the latitude rule of pysoc.io.site_forcing (AMPLITUDE_LAT):
    A = √2·BIO4/100 against c0 + c1|lat| + c2 lat² at every ISRaD profile with BIO4."""
    P = pd.read_csv(profile_path, low_memory=False)
    q = P[["pro_BIO4_C_WC2.1", "pro_lat"]].dropna()
    amp = np.sqrt(2.0) * q["pro_BIO4_C_WC2.1"].to_numpy() / 100.0
    lat = np.abs(q["pro_lat"].to_numpy())
    c = np.polyfit(lat, amp, 2)[::-1]
    res = amp - (c[0] + c[1] * lat + c[2] * lat ** 2)
    return (f"seasonal-amplitude latitude rule ({len(q)} profiles): c0 {c[0]:.3g}, c1 {c[1]:.3g}, c2 {c[2]:.3g}; "
            f"RMSE {np.sqrt(np.mean(res ** 2)):.2f} degC, R2 {1 - res.var() / amp.var():.2f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("israd_dir")
    ap.add_argument("outdir", nargs="?", default=str(ROOT / "pysoc" / "data" / "profiles"))
    ap.add_argument("--n", type=int, default=48)
    a = ap.parse_args(argv)
    d = Path(a.israd_dir)
    paths = {k: d / f for k, f in FILES.items()}
    sites, layers, rep = convert_israd(paths["layer"], paths["profile"], paths["metadata"], paths["site"],
                                       paths["vonfromm"] if paths["vonfromm"].exists() else None)
    print(rep.text())
    print(amplitude_fit(paths["profile"]))
    ids = pick(sites, layers, a.n)
    order = profile_order(sites)
    sub_s = sites[sites["site_id"].isin(ids)].assign(_order=order).sort_values("_order").drop(columns="_order")
    sub_s = sub_s.reset_index(drop=True)
    rank = {sid: i for i, sid in enumerate(sub_s["site_id"])}
    sub_l = layers[layers["site_id"].isin(ids)]
    sub_l = sub_l.assign(_r=sub_l["site_id"].map(rank)).sort_values(["_r", "top_cm"], kind="stable").drop(columns="_r")
    out = Path(a.outdir)
    out.mkdir(parents=True, exist_ok=True)
    sub_s.to_csv(out / "israd_sites.csv", index=False, float_format="%.6g")
    sub_l.to_csv(out / "israd_layers.csv", index=False, float_format="%.6g")
    (out / "SOURCE.md").write_text(source_md(sub_s, sub_l, rep.text()))
    print(f"wrote {len(sub_s)} profiles / {len(sub_l)} layers from {sub_s['entry_name'].nunique()} studies to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

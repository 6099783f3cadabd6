"""Convert the ISRaD "extra" extract (International Soil Radiocarbon Database, Lawrence et
al. 2020 ESSD, CC BY 4.0) into the pysoc profile tables of :mod:`pysoc.io.profiles`.

Paths are arguments: the package never assumes where the extract lives. The ISRaD tables
used are ``ISRaD_extra_layer.csv(.gz)`` and ``ISRaD_extra_profile.csv(.gz)`` (required),
``ISRaD_extra_metadata.csv`` (DOI and citation per entry) and ``ISRaD_extra_site.csv``
(elevation), plus optionally the von Fromm et al. (2024) flat layer table for its extra
covariates (FLUXCOM GPP, Global-Aridity ET0 v3).

Rules (docs/data.md, each counted in the :class:`ConversionReport`):

profiles: not peatland, land cover not wetland, USDA order not Histosols, control
treatment, coordinates present.
layers: finite depths with bottom > top; top >= 0 (negative depths are organic horizons
above the mineral surface); not organic material (organic C > ``max_soc_percent``, 20 %
= the WRB threshold of organic material, or an O/organic/peat horizon label); organic C
(``lyr_c_org_filled``: measured, or total minus inorganic C) present and > 0; SOC density
with a measured bulk density not above ``max_density_kg_m3`` (150 kg C m-3, beyond any
mineral horizon in the extract: such values are unit errors).
per profile: one sampling year (the one with most layers); no overlapping layers; when
organic layers with non-negative depths were removed from the top of a profile whose
depths do not start at the mineral surface (``lyr_all_org_neg`` not 'yes'), depths are
re-referenced to the mineral surface (``depth_shift_cm``); >= ``min_layers`` layers and
deepest bottom > ``min_depth_cm``.

Site ids (:func:`profile_id`): ``<entry>_<hash>`` from the ISRaD entry, site and profile
names, so the same profile has the same id in every conversion and different profiles never
share one (tables of different regions or extract versions can be merged, and posteriors
matched, by id).

Layer values written: ``soc_percent`` = lyr_c_org_filled; ``bd_g_cm3`` = lyr_bd_samp_filled
(fine-earth BD, measured or derived by ISRaD from total BD and coarse fraction), empty
when unknown (the reader then applies the pedotransfer and flags it); ``coarse_percent``
= lyr_coarse_tot_filled, empty when unknown (reader: 0, flagged); ``d14c_permil`` = lyr_14c.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pysoc.errors import DataError

KEY = ["entry_name", "site_name", "pro_name"]
#: hexadecimal digits of the profile-name hash in a site id (32 bits: a collision among the
#: ~4,000 ISRaD profiles has probability ~0.2 %, and every conversion checks for one)
ID_HASH_DIGITS = 8

#: profile-table column -> (covariate name with units, multiplier). SoilGrids columns are the
#: OpenLandMap/SoilGrids250m v0.2 layers extracted by ISRaD.extra (bulk density in 10 kg m-3,
#: organic C in 5 g kg-1, clay in %, coarse fragments in volume %, C stock in kg m-2).
COVARIATES: list[tuple[str, str, float, str]] = [
    ("pro_MAT", "mat_reported_degC", 1.0, "mean annual air temperature reported by the study"),
    ("pro_MAP", "map_reported_mm_yr", 1.0, "mean annual precipitation reported by the study"),
    ("pro_BIO1_C_WC2.1", "wc_bio01_mat_degC", 1.0, "WorldClim 2.1 BIO1 annual mean temperature"),
    ("pro_BIO2_C_WC2.1", "wc_bio02_diurnal_range_degC", 1.0, "BIO2 mean diurnal range"),
    ("pro_BIO3_C_WC2.1", "wc_bio03_isothermality_percent", 1.0, "BIO3 isothermality (BIO2/BIO7 x 100)"),
    ("pro_BIO4_C_WC2.1", "wc_bio04_t_seasonality_degC_x100", 1.0,
     "BIO4 temperature seasonality (standard deviation of monthly means x 100)"),
    ("pro_BIO5_C_WC2.1", "wc_bio05_tmax_warmest_month_degC", 1.0, "BIO5 max temperature of warmest month"),
    ("pro_BIO6_C_WC2.1", "wc_bio06_tmin_coldest_month_degC", 1.0, "BIO6 min temperature of coldest month"),
    ("pro_BIO7_C_WC2.1", "wc_bio07_t_annual_range_degC", 1.0, "BIO7 temperature annual range (BIO5-BIO6)"),
    ("pro_BIO8_C_WC2.1", "wc_bio08_t_wettest_quarter_degC", 1.0, "BIO8 mean temperature of wettest quarter"),
    ("pro_BIO9_C_WC2.1", "wc_bio09_t_driest_quarter_degC", 1.0, "BIO9 mean temperature of driest quarter"),
    ("pro_BIO10_C_WC2.1", "wc_bio10_t_warmest_quarter_degC", 1.0, "BIO10 mean temperature of warmest quarter"),
    ("pro_BIO11_C_WC2.1", "wc_bio11_t_coldest_quarter_degC", 1.0, "BIO11 mean temperature of coldest quarter"),
    ("pro_BIO12_mmyr_WC2.1", "wc_bio12_map_mm_yr", 1.0, "BIO12 annual precipitation"),
    ("pro_BIO13_mm_WC2.1", "wc_bio13_p_wettest_month_mm", 1.0, "BIO13 precipitation of wettest month"),
    ("pro_BIO14_mm_WC2.1", "wc_bio14_p_driest_month_mm", 1.0, "BIO14 precipitation of driest month"),
    ("pro_BIO15_WC2.1", "wc_bio15_p_seasonality_cv_percent", 1.0,
     "BIO15 precipitation seasonality (coefficient of variation)"),
    ("pro_BIO16_mm_WC2.1", "wc_bio16_p_wettest_quarter_mm", 1.0, "BIO16 precipitation of wettest quarter"),
    ("pro_BIO17_mm_WC2.1", "wc_bio17_p_driest_quarter_mm", 1.0, "BIO17 precipitation of driest quarter"),
    ("pro_BIO18_mm_WC2.1", "wc_bio18_p_warmest_quarter_mm", 1.0, "BIO18 precipitation of warmest quarter"),
    ("pro_BIO19_mm_WC2.1", "wc_bio19_p_coldest_quarter_mm", 1.0, "BIO19 precipitation of coldest quarter"),
    ("pro_MAT_CRUTSv323", "cru_mat_degC", 1.0, "CRU TS 3.23 mean annual temperature"),
    ("pro_MAP_CRUTSv323", "cru_map_mm_yr", 1.0, "CRU TS 3.23 mean annual precipitation"),
    ("pro_PET_mmyr", "pet_mm_yr", 1.0, "potential evapotranspiration (Penman-Monteith, Kramer & Chadwick 2018)"),
    ("pro_soilMoist_mm_TC", "tc_soil_moisture_mm", 1.0, "TerraClimate soil moisture"),
    ("pro_bedrock_depth", "bedrock_depth_cm", 1.0, "depth to bedrock reported by the study"),
] + [
    (f"pro_{v}_{d}_cm_SG", f"sg_{name}_{d}cm_{unit}", mult, f"SoilGrids250m v0.2 {desc} at {d} cm")
    for v, name, unit, mult, desc in (
        ("bd", "bd", "g_cm3", 0.01, "fine-earth bulk density"),
        ("clay", "clay", "percent", 1.0, "clay content"),
        ("coarse", "coarse", "percent_vol", 1.0, "coarse fragments"),
        ("corg", "orgc", "percent", 0.5, "organic carbon content"))
    for d in (0, 10, 30, 60, 100, 200)
] + [
    (f"pro_corgStock_{a}_{b}_cm_SG", f"sg_cstock_{a}_{b}cm_kg_m2", 1.0, f"SoilGrids250m v0.2 organic C stock {a}-{b} cm")
    for a, b in ((0, 10), (10, 30), (30, 60), (60, 100), (100, 200))
]
#: von Fromm et al. (2024) extra profile covariates (optional input)
VONFROMM_COVARIATES = [
    ("pro_GPP_Fluxcom_2001_2012_gC_m2d1", "gpp_fluxcom_gC_m2_d", 1.0, "FLUXCOM GPP 2001-2012 (von Fromm et al. 2024)"),
    ("pro_PET_mm_yr", "et0_gai3_mm_yr", 1.0, "Global Aridity Index and ET0 v3 reference ET (von Fromm et al. 2024)"),
]
#: layer-derived covariates (thickness-weighted means over 0-30 cm of the kept layers)
LAYER_COVARIATES = [
    ("lyr_sand_tot_psa", "obs_sand_0_30cm_percent", "measured sand content, 0-30 cm"),
    ("lyr_clay_tot_psa", "obs_clay_0_30cm_percent", "measured clay content, 0-30 cm"),
    ("lyr_ph_h2o", "obs_ph_h2o_0_30cm", "measured pH (H2O), 0-30 cm"),
]
#: profile-table column -> meta column (descriptive, strings)
META = [
    ("pro_land_cover", "land_cover"), ("Description", "modis_land_cover"), ("pro_KG_present_short", "koppen"),
    ("pro_KG_present_long", "koppen_long"), ("pro_usda_soil_order", "usda_soil_order"),
    ("pro_0.5_USDA_soilorder", "usda_soil_order_grid"), ("pro_graven_zone", "graven_zone"),
    ("pro_permafrost", "permafrost"), ("pro_country", "country"), ("pro_lc_leaf_type", "lc_leaf_type"),
    ("pro_lc_phenology", "lc_phenology"),
]
#: organic horizon labels: O, Oi, Oe, Oa, O1, ... (not the transitional OA / OC), L, F, H, and the
#: ISRaD peat / organic descriptors
_ORGANIC_LABEL = re.compile(r"^(O(?![A-Z])|[LFH]$|(?i:organic|peat|sphagnum|moss|herbaceous|ligneous|amorphous|"
                            r"limnic|lichen|feathermoss|brown moss|ice))")


@dataclass
class ConversionReport:
    """Counts of what each rule removed (profiles and layers), in the order applied."""

    profiles_in: int = 0
    layers_in: int = 0
    removed_profiles: dict[str, int] = field(default_factory=dict)
    removed_layers: dict[str, int] = field(default_factory=dict)
    profiles_out: int = 0
    layers_out: int = 0
    depth_shifted: int = 0
    multi_date: int = 0

    def add(self, what: str, reason: str, n: int) -> None:
        d = self.removed_profiles if what == "profiles" else self.removed_layers
        d[reason] = d.get(reason, 0) + int(n)

    def text(self) -> str:
        lines = [f"ISRaD conversion: {self.profiles_in} profiles / {self.layers_in} layers in"]
        for reason, n in self.removed_profiles.items():
            lines.append(f"  - {n:6d} profiles removed: {reason}")
        for reason, n in self.removed_layers.items():
            lines.append(f"  - {n:6d} layers removed: {reason}")
        lines.append(f"  {self.multi_date} profiles sampled in several years: the year with most layers kept")
        lines.append(f"  depths re-referenced to the mineral surface in {self.depth_shifted} profiles")
        lines.append(f"  = {self.profiles_out} profiles / {self.layers_out} layers out")
        return "\n".join(lines)


def _read(path, what: str) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: ISRaD {what} table not found")
    try:
        # the ISRaD names are read as text, so that a name like '12' or '1.0' is the same
        # string whatever else the file holds (the profile ids are derived from them)
        df = pd.read_csv(path, low_memory=False, dtype={k: str for k in KEY})
    except Exception as exc:
        raise DataError(f"{path}: cannot read the ISRaD {what} table ({str(exc).splitlines()[0]})") from None
    return df


def _need(df: pd.DataFrame, cols, path) -> None:
    for c in cols:
        if c not in df.columns:
            raise DataError(f"{path}: missing column '{c}' in the ISRaD table")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", str(text)).strip("_")


def profile_id(entry_name: str, site_name: str, pro_name: str) -> str:
    """Stable site id of an ISRaD profile: ``<entry>_<hash>``, the entry name made safe for
    file names (runs of other characters -> ``_``) and the first :data:`ID_HASH_DIGITS`
    hexadecimal digits of the SHA-1 of the three ISRaD names (entry, site, profile; exact
    text, joined by the unit separator U+001F).

    The id depends on the profile's own names only, so the same profile gets the same id in
    every conversion (any region, any extract version) and different profiles get
    different ids.

    Parameters
    ----------
    entry_name, site_name, pro_name : str
        ISRaD ``entry_name``, ``site_name`` and ``pro_name`` of the profile.

    Returns
    -------
    str
        The site id.

    Examples
    --------
    >>> profile_id("Baisden_2007", "China hat", "China hat_122")
    'Baisden_2007_b328080c'
    """
    text = "\x1f".join(str(v) for v in (entry_name, site_name, pro_name))
    return f"{_slug(entry_name)}_{hashlib.sha1(text.encode('utf-8')).hexdigest()[:ID_HASH_DIGITS]}"


def _profile_ids(keys: pd.DataFrame, path) -> list[str]:
    ids = [profile_id(*k) for k in keys[KEY].itertuples(index=False, name=None)]
    if len(set(ids)) != len(ids):
        seen = {}
        for k, i in zip(keys[KEY].itertuples(index=False, name=None), ids):
            if i in seen:
                raise DataError(f"{path}: profiles {seen[i]} and {k} get the same site id {i!r} (hash collision; "
                                f"raise pysoc.io.israd.ID_HASH_DIGITS)")
            seen[i] = k
    return ids


def convert_israd(layer_path, profile_path, metadata_path=None, site_path=None, vonfromm_path=None, *,
                  min_layers: int = 3, min_depth_cm: float = 50.0, max_soc_percent: float = 20.0,
                  max_density_kg_m3: float = 150.0) -> tuple[pd.DataFrame, pd.DataFrame, ConversionReport]:
    """Convert the ISRaD extract into (sites, layers) tables and a report of the counts
    removed by each rule (rules in the module docstring).

    Parameters
    ----------
    layer_path, profile_path : path
        ``ISRaD_extra_layer.csv(.gz)`` and ``ISRaD_extra_profile.csv(.gz)``.
    metadata_path, site_path : path, optional
        ``ISRaD_extra_metadata.csv`` (DOI and citation) and ``ISRaD_extra_site.csv`` (elevation).
    vonfromm_path : path, optional
        The von Fromm et al. (2024) layer table (:data:`VONFROMM_COVARIATES`).
    min_layers, min_depth_cm : int, float
        Profiles need at least ``min_layers`` layers and a deepest bottom below ``min_depth_cm``.
    max_soc_percent, max_density_kg_m3 : float
        Layers above these organic C contents / SOC densities are removed.

    Returns
    -------
    sites, layers : pandas.DataFrame
        The two tables of :func:`pysoc.io.profiles.read_profiles` (site ids of :func:`profile_id`).
    report : ConversionReport
        Counts removed by each rule (``report.text()``).

    Raises
    ------
    DataError
        A table missing or unreadable, a required column missing, or no profile left.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> key = "entry_name,site_name,pro_name"
    >>> _ = (d / "p.csv").write_text(f"{key},pro_lat,pro_long,pro_treatment\\ne,s,p1,45.0,7.0,control\\n")
    >>> rows = "".join(f"e,s,p1,{t},{t + 20},2.0,1.2,\\n" for t in (0, 20, 40))
    >>> _ = (d / "l.csv").write_text(f"{key},lyr_top,lyr_bot,lyr_c_org_filled,lyr_bd_samp_filled,lyr_14c\\n{rows}")
    >>> sites, layers, report = convert_israd(d / "l.csv", d / "p.csv")
    >>> list(sites["site_id"]), layers["bottom_cm"].tolist(), report.profiles_out
    (['e_...'], [20.0, 40.0, 60.0], 1)
    """
    lay = _read(layer_path, "layer")
    pro = _read(profile_path, "profile")
    _need(lay, KEY + ["lyr_top", "lyr_bot", "lyr_c_org_filled", "lyr_bd_samp_filled", "lyr_14c"], layer_path)
    _need(pro, KEY + ["pro_lat", "pro_long", "pro_treatment"], profile_path)
    rep = ConversionReport(profiles_in=len(pro), layers_in=len(lay))
    pro = _apply_profile_rules(pro, rep)
    n_lay = len(lay)
    lay = lay.merge(pro[KEY], on=KEY, how="inner")
    rep.add("layers", "belong to removed profiles", n_lay - len(lay))
    lay, organic_above = _apply_layer_rules(lay, rep, max_soc_percent, max_density_kg_m3)
    gone = set(map(tuple, pro[KEY].to_numpy())) - set(map(tuple, lay[KEY].drop_duplicates().to_numpy()))
    rep.add("profiles", "no usable layer left", len(gone))
    kept, kept_keys, shifts = _select_profiles(lay, organic_above, rep, min_layers, min_depth_cm)
    if kept is None:
        raise DataError(f"{layer_path}: no ISRaD profile passes the selection rules")
    # site ids: stable, from the entry, site and profile names (profile_id)
    keys = pd.DataFrame(kept_keys, columns=KEY).sort_values(KEY)
    keys["site_id"] = _profile_ids(keys, layer_path)
    kept = kept.merge(keys, on=KEY)
    layers = _layers_table(kept)
    prof = keys.merge(pro, on=KEY, how="left")
    sites = _sites_table(prof, kept, shifts, metadata_path, site_path, vonfromm_path)
    rep.profiles_out, rep.layers_out = len(sites), len(layers)
    return sites.reset_index(drop=True), layers, rep


def _remove(rules, index, rep: ConversionReport, what: str) -> pd.Series:
    """Apply (reason, mask) rules in order; count what each removes of what is left; the
    mask of the rows kept."""
    keep = pd.Series(True, index=index)
    for reason, mask in rules:
        mask = pd.Series(mask, index=index).fillna(False).astype(bool) & keep
        rep.add(what, reason, mask.sum())
        keep &= ~mask
    return keep


def _apply_profile_rules(pro: pd.DataFrame, rep: ConversionReport) -> pd.DataFrame:
    """Peatland, wetland, Histosol, not control, no coordinates."""
    def column(name):
        return pro.get(name, pd.Series(index=pro.index))

    rules = [
        ("peatland (pro_peatland == 'yes')", column("pro_peatland").eq("yes")),
        ("wetland land cover", column("pro_land_cover").eq("wetland")),
        ("Histosol (organic soil)", column("pro_usda_soil_order").eq("Histosols")),
        ("not a control profile (pro_treatment != 'control')", ~pro["pro_treatment"].eq("control")),
        ("missing coordinates", pro["pro_lat"].isna() | pro["pro_long"].isna()),
    ]
    return pro[_remove(rules, pro.index, rep, "profiles")]


def _apply_layer_rules(lay: pd.DataFrame, rep: ConversionReport, max_soc_percent: float,
                       max_density_kg_m3: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The layers kept and the organic layers at non-negative depths (for re-referencing)."""
    top, bot = lay["lyr_top"].astype(float), lay["lyr_bot"].astype(float)
    oc = lay["lyr_c_org_filled"].astype(float)
    hzn = lay.get("lyr_hzn", pd.Series("", index=lay.index)).fillna("").astype(str).str.strip()
    is_org = (oc > max_soc_percent) | hzn.str.match(_ORGANIC_LABEL)
    lay = lay.assign(_organic=is_org.to_numpy())
    organic_above = lay[(np.isfinite(top) & (top >= 0) & lay["_organic"])].copy()
    rules = [
        ("invalid depths (non-finite, bottom <= top)", ~(np.isfinite(top) & np.isfinite(bot) & (bot > top))),
        ("negative depth (organic horizon above the mineral surface)", top < 0),
        (f"organic material (organic C > {max_soc_percent:g} % or O/peat horizon label)", lay["_organic"]),
        ("no organic C value (lyr_c_org_filled missing)", oc.isna()),
        ("organic C <= 0", oc <= 0),
        (f"implausible SOC density with measured BD (> {max_density_kg_m3:g} kg C m-3; unit error?)",
         oc / 100.0 * lay["lyr_bd_samp_filled"].astype(float) * 1000.0 > max_density_kg_m3),
    ]
    return lay[_remove(rules, lay.index, rep, "layers")].copy(), organic_above


def _one_date(g: pd.DataFrame, rep: ConversionReport) -> tuple[pd.DataFrame, bool]:
    """The layers of the sampling year with most layers (the latest on a tie); True when
    the profile was sampled in several years."""
    if g["_year"].nunique() <= 1:
        return g, False
    counts = g.groupby("_year").size()
    best = counts[counts == counts.max()].index.max()
    rep.add("layers", "other sampling dates of the same profile", int((g["_year"] != best).sum()))
    return g[g["_year"] == best], True


def _depth_shift(g: pd.DataFrame, organic) -> float:
    """Depth (cm) of the mineral surface when organic layers were removed above the first
    kept layer of a profile whose depths do not start there (``lyr_all_org_neg`` not 'yes')."""
    allneg = str(g["lyr_all_org_neg"].iloc[0]) == "yes" if "lyr_all_org_neg" in g else False
    if allneg or organic is None:
        return 0.0
    above = organic[organic["lyr_bot"].astype(float) <= float(g["lyr_top"].iloc[0]) + 1e-9]
    return float(above["lyr_bot"].max()) if len(above) else 0.0


def _select_profiles(lay: pd.DataFrame, organic_above: pd.DataFrame, rep: ConversionReport, min_layers: int,
                     min_depth_cm: float):
    """Per-profile rules: one sampling year, no overlaps, enough layers, deep enough. Returns
    (the layers kept with their ``_shift``, or None; the keys kept; key -> depth shift)."""
    out_layers, kept_keys, shifts = [], [], {}
    org_groups = {k: g for k, g in organic_above.groupby(KEY, sort=False)}
    removed = {"overlap": 0, "few": 0, "shallow": 0}
    lay["_year"] = lay.get("lyr_obs_date_y", pd.Series(np.nan, index=lay.index)).fillna(-1)
    for k, g in lay.groupby(KEY, sort=True):
        g, several = _one_date(g, rep)
        rep.multi_date += int(several)
        g = g.sort_values(["lyr_top", "lyr_bot"])
        t, b = g["lyr_top"].to_numpy(float), g["lyr_bot"].to_numpy(float)
        shift = _depth_shift(g, org_groups.get(k))
        if np.any(t[1:] < b[:-1] - 1e-9):
            why, text = "overlap", "in profiles with overlapping layers"
        elif len(g) < min_layers:
            why, text = "few", f"in profiles with fewer than {min_layers} layers"
        elif not (b.max() - shift > min_depth_cm):
            why, text = "shallow", f"in profiles with max depth <= {min_depth_cm:g} cm"
        else:
            why = ""
        if why:
            removed[why] += 1
            rep.add("layers", text, len(g))
            continue
        rep.depth_shifted += int(shift > 0)
        shifts[k] = shift
        out_layers.append(g.assign(_shift=shift))
        kept_keys.append(k)
    rep.add("profiles", "overlapping layers", removed["overlap"])
    rep.add("profiles", f"fewer than {min_layers} layers", removed["few"])
    rep.add("profiles", f"max depth <= {min_depth_cm:g} cm", removed["shallow"])
    return (pd.concat(out_layers, ignore_index=True) if out_layers else None), kept_keys, shifts


def _layers_table(kept: pd.DataFrame) -> pd.DataFrame:
    """The layer table written (depths re-referenced; BD and coarse fraction empty when unknown)."""
    layers = pd.DataFrame({
        "site_id": kept["site_id"],
        "top_cm": kept["lyr_top"].astype(float) - kept["_shift"],
        "bottom_cm": kept["lyr_bot"].astype(float) - kept["_shift"],
        "soc_percent": kept["lyr_c_org_filled"].astype(float),
        "bd_g_cm3": kept["lyr_bd_samp_filled"].astype(float),
        "coarse_percent": kept.get("lyr_coarse_tot_filled", pd.Series(np.nan, index=kept.index)).astype(float),
        "d14c_permil": kept["lyr_14c"].astype(float),
    }).sort_values(["site_id", "top_cm"], kind="stable").reset_index(drop=True)
    layers.loc[~(layers["bd_g_cm3"] > 0), "bd_g_cm3"] = np.nan
    layers.loc[~(layers["coarse_percent"].between(0, 99.9)), "coarse_percent"] = np.nan
    return layers


def _sites_table(prof: pd.DataFrame, kept: pd.DataFrame, shifts: dict, metadata_path, site_path,
                 vonfromm_path) -> pd.DataFrame:
    """One row per kept profile: id, coordinates, ISRaD names, references, descriptors,
    covariates (profile table, optional tables, 0-30 cm layer means)."""
    sites = pd.DataFrame({"site_id": prof["site_id"], "lat": prof["pro_lat"].astype(float),
                          "lon": prof["pro_long"].astype(float)})
    for c in KEY:
        sites[c] = prof[c]
    if metadata_path is not None:
        _add_references(sites, prof, metadata_path)
    sites["obs_year"] = [_obs_year(kept[kept["site_id"] == s]) for s in sites["site_id"]]
    for src, dst in META:
        if src in prof:
            sites[dst] = prof[src]
    sites["depth_shift_cm"] = [shifts[tuple(r)] for r in prof[KEY].to_numpy()]
    for src, dst, mult, _ in COVARIATES:
        sites[dst] = pd.to_numeric(prof[src], errors="coerce") * mult if src in prof else np.nan
    sites["elevation_m"] = _elevation(prof, site_path)
    if vonfromm_path is not None:
        vf = _read(vonfromm_path, "von Fromm et al. (2024) layer")
        _need(vf, KEY, vonfromm_path)
        merged = prof[KEY].merge(vf.drop_duplicates(KEY), on=KEY, how="left")
        for src, dst, mult, _ in VONFROMM_COVARIATES:
            sites[dst] = pd.to_numeric(merged[src], errors="coerce") * mult if src in merged else np.nan
    for src, dst, _ in LAYER_COVARIATES:
        sites[dst] = [_mean_0_30(kept[kept["site_id"] == s], src) for s in sites["site_id"]]
    return sites


def _add_references(sites: pd.DataFrame, prof: pd.DataFrame, metadata_path) -> None:
    """DOI, compilation DOI and short citation of each profile's ISRaD entry."""
    meta = _read(metadata_path, "metadata")
    _need(meta, ["entry_name", "doi"], metadata_path)
    merged = prof[["entry_name"]].merge(meta.drop_duplicates("entry_name"), on="entry_name", how="left")
    sites["doi"] = merged["doi"].map(_clean_doi)
    if "compilation_doi" in merged:
        sites["compilation_doi"] = merged["compilation_doi"].map(_clean_doi)
    if "bibliographical_reference" in merged:
        sites["citation"] = merged["bibliographical_reference"].map(_short_citation)


def _elevation(prof: pd.DataFrame, site_path) -> pd.Series:
    """Profile elevation, else the site elevation of the ISRaD site table."""
    elev = pd.to_numeric(prof.get("pro_elevation"), errors="coerce")
    if site_path is None:
        return elev
    st = _read(site_path, "site")
    _need(st, ["entry_name", "site_name", "site_elevation"], site_path)
    on = ["entry_name", "site_name"]
    se = prof[on].merge(st.drop_duplicates(on), on=on, how="left")["site_elevation"]
    return elev.fillna(pd.to_numeric(se, errors="coerce"))


def covariate_table() -> list[tuple[str, str, str]]:
    """Every covariate the converter writes, with its source and meaning (docs/data.md).

    Returns
    -------
    list of tuple
        (covariate column, source column, description).

    Examples
    --------
    >>> rows = covariate_table()
    >>> rows[0]
    ('mat_reported_degC', 'pro_MAT', 'mean annual air temperature reported by the study')
    >>> "elevation_m" in [r[0] for r in rows]
    True
    """
    rows = [(dst, src, desc) for src, dst, _, desc in COVARIATES + VONFROMM_COVARIATES]
    rows.append(("elevation_m", "pro_elevation / site_elevation", "elevation reported by the study (m)"))
    rows += [(dst, src, desc) for src, dst, desc in LAYER_COVARIATES]
    return rows


def _mean_0_30(g: pd.DataFrame, col: str) -> float:
    if col not in g:
        return float("nan")
    t = g["lyr_top"].to_numpy(float) - g["_shift"].to_numpy(float)
    b = g["lyr_bot"].to_numpy(float) - g["_shift"].to_numpy(float)
    v = pd.to_numeric(g[col], errors="coerce").to_numpy(float)
    w = np.clip(np.minimum(b, 30.0) - np.maximum(t, 0.0), 0.0, None)
    ok = np.isfinite(v) & (w > 0)
    return float((v[ok] * w[ok]).sum() / w[ok].sum()) if ok.any() else float("nan")


def _obs_year(g: pd.DataFrame) -> float:
    y = g["_year"].to_numpy(float)
    y = y[y > 0]
    return float(pd.Series(y).mode().iloc[0]) if y.size else float("nan")


def _clean_doi(v) -> str | float:
    if not isinstance(v, str) or not v.strip():
        return np.nan
    v = v.strip().lstrip("\ufeff")
    v = re.sub(r"^(https?://)?(dx\.)?doi\.org/", "", v)
    return v if v.startswith("10.") else np.nan      # ISRaD writes 'israd' when there is none


def _short_citation(v) -> str | float:
    if not isinstance(v, str) or not v.strip():
        return np.nan
    v = " ".join(v.split())
    return v if len(v) <= 200 else v[:197] + "..."

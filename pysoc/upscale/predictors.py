"""Predictors of the Rh models (methods.md §4.2, seed 004 "Predictor variables").

The study used 19 predictors. :data:`STUDY_PREDICTORS` lists each with what pysoc can
provide from the shipped data (SRDB records, the rh-changes matched table, the coarse
covariate grid). Only predictors that exist both at the sites *and* on the global grid can
enter a model that is mapped; site-only variables are reported but not used.

Extra predictors (not in the study, :data:`EXTRA_PREDICTORS`): all 19 bioclimatic variables
of the grid (``MAT`` = BIO1, ``MAP`` = BIO12, ``Tseas`` = BIO4, ``Pseas`` = BIO15, ``Pdry`` =
BIO17 keep their seed names, the others are ``BIO2`` ... ``BIO19``), biomass carbon, bulk
density, the land-cover shares of the cell (``LandCover``), the Köppen main class
(``Koppen``) and process-informed predictors (:data:`PROCESS_PREDICTORS`): a decomposition
index from the temperature and water functions of a soil-carbon model
(:mod:`pysoc.upscale.process`), SOC × that index, and a PRODA SOC map when one is given.

Every predictor has a ``family`` (the unit of predictor selection by grouped CV) and a
``sign``: +1 where physics fixes the direction of the Rh response (warmer, more substrate,
more litter supply, faster decomposition -> more Rh), used by the monotone XGBoost.

Vegetation type follows the study: MODIS IGBP classes regrouped into ENF, EBF, DNF, DBF,
MF, Shrub (open + closed), Savanna (woody + savanna), Grassland, Crop (cropland +
mosaic) and Tundra (shrub/savanna/grassland north of 55°N); permanent wetlands (IGBP 11),
which the study does not list, are a class of their own (Wetland).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pysoc.errors import DataError

#: IGBP code -> study vegetation class (before the tundra rule); None = not vegetated
IGBP_TO_VEG: dict[int, str | None] = {
    0: None, 1: "ENF", 2: "EBF", 3: "DNF", 4: "DBF", 5: "MF", 6: "Shrub", 7: "Shrub",
    8: "Savanna", 9: "Savanna", 10: "Grassland", 11: "Wetland", 12: "Crop", 13: None,
    14: "Crop", 15: None, 16: None,
}
VEG_BASE_CLASSES: tuple[str, ...] = ("ENF", "EBF", "DNF", "DBF", "MF", "Shrub", "Savanna",
                                     "Grassland", "Wetland", "Crop")
VEG_CLASSES: tuple[str, ...] = VEG_BASE_CLASSES + ("Tundra",)
FOREST_CLASSES = ("ENF", "EBF", "DNF", "DBF", "MF")
TUNDRA_FROM = ("Shrub", "Savanna", "Grassland")
TUNDRA_LAT = 55.0

#: SRDB Ecosystem_type -> class ("forest" = pick the forest subtype; None = take the grid class)
SRDB_ECOSYSTEM_TO_VEG: dict[str, str | None] = {
    "Forest": "forest", "Grassland": "Grassland", "Agriculture": "Crop", "Cropland": "Crop",
    "Orchard": "Crop", "Shrubland": "Shrub", "Desert": "Shrub", "Savanna": "Savanna",
    "Tundra": "Tundra", "Wetland": "Wetland", "Peatland": "Wetland",
    "Waterlogged depression": "Wetland", "Bare": None, "Urban": None, "Mixed": None,
    "Salt pan": None,
}

CLIMATE_ZONES = ("tropical", "temperate", "boreal")


@dataclass(frozen=True)
class Predictor:
    """One predictor: ``name`` (column in the design matrix), its group, units, and where
    the value comes from at the sites and on the grid (``grid_var`` None = not mappable)."""

    name: str
    group: str            # climate | vegetation | soil_abiotic | soil_biotic
    units: str
    long_name: str
    grid_var: str | None
    record_col: str | None = None   # SRDB column used at sites when site_values='record'
    in_study: bool = True
    status: str = "available"       # available | proxy | partial | site-only | missing
    note: str = ""
    kind: str = "grid"              # grid | veg | landcover | koppen | decomposition | proda
    family: str = ""                # selection group (temperature, precipitation, texture, ...)
    sign: int = 0                   # +1: Rh rises with it (monotone constraint); 0: free


#: the study's 19 predictors and what pysoc can provide for each
STUDY_PREDICTORS: tuple[Predictor, ...] = (
    Predictor("MAT", "climate", "degC", "mean annual air temperature", "mat", "MAT", family="temperature", sign=1,
              note="ISIMIP3a GSWP3-W5E5 1980-2009 (BIO1) on the grid; SRDB MAT at sites if chosen"),
    Predictor("MAP", "climate", "mm yr-1", "mean annual precipitation", "map", "MAP", family="precipitation",
              note="ISIMIP3a GSWP3-W5E5 1980-2009 (BIO12) on the grid; SRDB MAP at sites if chosen"),
    Predictor("DryMonth", "climate", "month", "dry-month length (PET > P)", None, status="missing",
              note="no monthly PET/precipitation grid; proxies Pdry (BIO17) and Pseas (BIO15)"),
    Predictor("LAI", "vegetation", "m2 m-2", "mean annual leaf area index", None, "LAI",
              status="missing", note="no LAI grid (SRDB LAI at 140 Rh records only); proxy AGB"),
    Predictor("GSL", "vegetation", "day", "growing-season length", None, status="missing",
              note="no GIMMS phenology; proxy Tseas (BIO4)"),
    Predictor("Litter", "vegetation", "g C m-2 yr-1", "litter production", None, "Litter_flux",
              status="missing", note="no litter-production grid; proxies AGB and BGB (biomass carbon)"),
    Predictor("Ndep", "vegetation", "g N m-2 yr-1", "nitrogen deposition", None, "Ndep",
              status="missing", note="no N-deposition grid with clear provenance"),
    Predictor("SWC", "soil_abiotic", "m3 m-3", "soil water content", None, status="site-only",
              note="ESA-CCI sm in the matched table at ~320 Rh sites, no grid"),
    Predictor("Sand", "soil_abiotic", "1", "sand fraction", "sand_fraction_testbed", family="texture",
              status="partial", note="coarse CLM testbed texture (1.9 x 2.5 deg)"),
    Predictor("Silt", "soil_abiotic", "1", "silt fraction", "silt_fraction_testbed", family="texture",
              status="partial", note="coarse CLM testbed texture (1.9 x 2.5 deg)"),
    Predictor("Clay", "soil_abiotic", "%", "clay content at 5 cm", "clay_sg_5cm", family="texture",
              note="SoilGrids250m 2017, 5 cm"),
    Predictor("CEC", "soil_abiotic", "cmol kg-1", "cation-exchange capacity", None, status="missing"),
    Predictor("pH", "soil_abiotic", "1", "soil water pH", None, status="missing"),
    Predictor("SOC", "soil_abiotic", "Mg C ha-1", "soil organic carbon stock", "soc_stock_sg_5_15cm",
              family="soil", sign=1, status="partial", note="SoilGrids 5-15 cm layer stock only (study: 0-1 m)"),
    Predictor("TotN", "soil_abiotic", "g N m-2", "total nitrogen density", None, status="missing"),
    Predictor("CN", "soil_abiotic", "1", "soil C:N ratio", None, "Soil_CN", status="site-only",
              note="SRDB Soil_CN at ~1/3 of the Rh records, no grid"),
    Predictor("FB", "soil_biotic", "1", "fungal:bacterial ratio", None, status="missing"),
    Predictor("Nematode", "soil_biotic", "m-2", "nematode density", None, status="missing"),
    Predictor("Veg", "vegetation", "class", "vegetation type", "veg_fraction", kind="veg", family="landcover",
              note="SRDB Ecosystem_type + Leaf_habit at sites, MODIS IGBP 2019 on the grid"),
)

#: the bioclimatic variables without a seed name: BIO number -> (units, long name)
_BIO = {2: ("degC", "mean diurnal range"), 3: ("%", "isothermality (BIO2/BIO7 x 100)"),
        5: ("degC", "max temperature of the warmest month"), 6: ("degC", "min temperature of the coldest month"),
        7: ("degC", "temperature annual range"), 8: ("degC", "mean temperature of the wettest quarter"),
        9: ("degC", "mean temperature of the driest quarter"), 10: ("degC", "mean temperature of the warmest quarter"),
        11: ("degC", "mean temperature of the coldest quarter"), 13: ("mm", "precipitation of the wettest month"),
        14: ("mm", "precipitation of the driest month"), 16: ("mm", "precipitation of the wettest quarter"),
        18: ("mm", "precipitation of the warmest quarter"), 19: ("mm", "precipitation of the coldest quarter")}

#: extra predictors (not in the study) that stand in for missing ones or add mappable information
EXTRA_PREDICTORS: tuple[Predictor, ...] = (
    Predictor("AGB", "vegetation", "Mg C ha-1", "aboveground biomass carbon 2010", "agb_carbon_2010",
              in_study=False, status="proxy", family="biomass", sign=1,
              note="Spawn & Gibbs 2010; proxy for LAI / litter"),
    Predictor("BGB", "vegetation", "Mg C ha-1", "belowground biomass carbon 2010", "bgb_carbon_2010",
              in_study=False, status="proxy", family="biomass", sign=1,
              note="Spawn & Gibbs 2010; proxy for root litter"),
    Predictor("Pdry", "climate", "mm", "precipitation of the driest quarter (BIO17)", "bio17",
              in_study=False, status="proxy", family="precipitation", note="proxy for dry-month length"),
    Predictor("Pseas", "climate", "%", "precipitation seasonality (BIO15)", "bio15",
              in_study=False, status="proxy", family="precipitation", note="proxy for dry-month length"),
    Predictor("Tseas", "climate", "degC*100", "temperature seasonality (BIO4)", "bio4",
              in_study=False, status="proxy", family="temperature", note="proxy for growing-season length"),
    Predictor("BD", "soil_abiotic", "g cm-3", "bulk density at 5 cm", "bulk_density_sg_5cm",
              in_study=False, status="proxy", family="soil", note="SoilGrids250m 2017"),
) + tuple(
    Predictor(f"BIO{i}", "climate", u, f"{ln} (BIO{i})", f"bio{i}", in_study=False, status="extra",
              family="temperature" if i <= 11 else "precipitation", note="ISIMIP3a GSWP3-W5E5 1980-2009")
    for i, (u, ln) in _BIO.items()
) + (
    Predictor("LandCover", "vegetation", "1", "shares of the cell's vegetated land in the 10 classes",
              "veg_fraction", in_study=False, status="extra", kind="landcover", family="landcover",
              note="MODIS IGBP 2019 on the grid at sites and cells (columns LC_<class>)"),
    Predictor("Koppen", "climate", "class", "Köppen-Geiger main climate group", "koppen_main_class",
              in_study=False, status="extra", kind="koppen", family="koppen",
              note="Beck et al. 2018 (columns Koppen_A ... Koppen_E)"),
)

#: process-informed predictors (need a decomposition model or a PRODA SOC map)
PROCESS_PREDICTORS: tuple[Predictor, ...] = (
    Predictor("DecompIndex", "soil_abiotic", "1", "decomposition index: annual mean of the model's "
              "temperature x water scalars", None, in_study=False, status="process", kind="decomposition",
              family="process", sign=1, note="needs &predictors decomposition_model (pysoc.upscale.process)"),
    Predictor("SOCxDecomp", "soil_abiotic", "Mg C ha-1", "SOC 5-15 cm x decomposition index", None,
              in_study=False, status="process", kind="decomposition", family="process", sign=1,
              note="substrate x rate, proportional to a first-order Rh"),
    Predictor("PRODA_SOC", "soil_abiotic", "g m-2", "SOC stock from a PRODA map", None, in_study=False,
              status="process", kind="proda", family="process", sign=1,
              note="needs &predictors proda_soc_file, proda_soc_var"),
)

#: other spellings accepted in namelists -> canonical name
ALIASES = {"BIO1": "MAT", "BIO12": "MAP", "BIO4": "Tseas", "BIO15": "Pseas", "BIO17": "Pdry"}

ALL_PREDICTORS = {p.name: p for p in STUDY_PREDICTORS + EXTRA_PREDICTORS + PROCESS_PREDICTORS}
MAPPABLE = tuple(p.name for p in ALL_PREDICTORS.values() if p.grid_var is not None or p.kind in
                 ("decomposition", "proda"))
#: the seed-004 configuration (12 predictors, record climate and vegetation at the sites)
SEED_PREDICTORS = ("MAT", "MAP", "Pdry", "Tseas", "AGB", "BGB", "Sand", "Silt", "Clay", "SOC",
                   "BD", "Veg")
DEFAULT_PREDICTORS = SEED_PREDICTORS
#: every mappable predictor of the shipped grid, the candidate set of predictor selection
ALL_GRID_PREDICTORS = tuple(p.name for p in STUDY_PREDICTORS + EXTRA_PREDICTORS
                            if p.grid_var is not None and p.name != "Veg")
KOPPEN_CLASSES = ("A", "B", "C", "D", "E")


def availability_table() -> pd.DataFrame:
    """The study's 19 predictors and the extras, with availability and source."""
    rows = [dict(predictor=p.name, group=p.group, in_study=p.in_study, status=p.status,
                 grid_variable=p.grid_var or "", note=p.note) for p in ALL_PREDICTORS.values()]
    return pd.DataFrame(rows)


def check_predictor_names(names: list[str] | tuple[str, ...], where: str = "predictors") -> list[str]:
    """Every name must be a known, mappable predictor."""
    out = []
    for n in names:
        n = ALIASES.get(n, n)
        p = ALL_PREDICTORS.get(n)
        if p is None:
            raise DataError(f"{where}: unknown predictor {n!r} (mappable: {', '.join(MAPPABLE)})")
        if n not in MAPPABLE:
            raise DataError(f"{where}: predictor {n!r} is not available on the grid ({p.status}: {p.note}); "
                            f"mappable: {', '.join(MAPPABLE)}")
        if n in out:
            raise DataError(f"{where}: predictor {n!r} listed twice")
        out.append(n)
    if not out:
        raise DataError(f"{where}: no predictors given")
    return out


def apply_tundra_rule(veg: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Shrub, savanna and grassland north of 55°N become Tundra (study rule)."""
    veg = np.asarray(veg, dtype=object).copy()
    north = np.asarray(lat) > TUNDRA_LAT
    for c in TUNDRA_FROM:
        veg[(veg == c) & north] = "Tundra"
    return veg


def climate_zone_from_koppen(kclass: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Köppen main group -> study climate zone: A tropical; B, C temperate; D, E boreal.
    Cells without a class fall back to latitude (|lat| < 23.5 tropical, > 50 boreal)."""
    k = np.asarray(kclass)
    z = np.where(k == 1, "tropical", np.where(np.isin(k, (2, 3)), "temperate",
                                               np.where(np.isin(k, (4, 5)), "boreal", "")))
    fb = climate_zone_from_latitude(lat)
    return np.where(z == "", fb, z).astype(object)


def climate_zone_from_latitude(lat: np.ndarray) -> np.ndarray:
    a = np.abs(np.asarray(lat, dtype=float))
    return np.where(a < 23.5, "tropical", np.where(a > 50.0, "boreal", "temperate")).astype(object)


def encode_design(df: pd.DataFrame, predictors: list[str] | tuple[str, ...],
                  where: str = "design matrix") -> pd.DataFrame:
    """Numeric design matrix: numeric predictors as float columns, ``Veg`` one-hot encoded
    over :data:`VEG_CLASSES` (columns ``Veg_<class>``), ``LandCover`` as the shares ``LC_<class>``
    and ``Koppen`` one-hot (``Koppen_A`` ... ``Koppen_E``, from the column ``koppen``). Missing
    columns, unknown classes and non-finite values are errors naming the column."""
    cols = {}
    for name in predictors:
        if name not in df.columns and name not in ("LandCover", "Koppen"):
            raise DataError(f"{where}: predictor column {name!r} is missing "
                            f"(columns: {', '.join(map(str, df.columns))})")
        if name == "LandCover":
            for c in VEG_BASE_CLASSES:
                cols[f"LC_{c}"] = _numeric(df, f"LC_{c}", where)
            continue
        if name == "Koppen":
            if "koppen" not in df.columns:
                raise DataError(f"{where}: column 'koppen' (Köppen main class 1-5) is missing")
            k = pd.to_numeric(df["koppen"], errors="coerce").to_numpy(float)
            if np.any(~np.isin(k, np.arange(1, 6))):
                raise DataError(f"{where}: column 'koppen' has values outside 1-5 (no Köppen class)")
            for i, c in enumerate(KOPPEN_CLASSES):
                cols[f"Koppen_{c}"] = (k == i + 1).astype(np.float64)
            continue
        s = df[name]
        if name == "Veg":
            vals = s.astype(object).to_numpy()
            bad = sorted({str(v) for v in vals if v not in VEG_CLASSES})
            if bad:
                raise DataError(f"{where}: column 'Veg' has unknown vegetation class(es) "
                                f"{', '.join(map(repr, bad))} (allowed: {', '.join(VEG_CLASSES)})")
            for c in VEG_CLASSES:
                cols[f"Veg_{c}"] = (vals == c).astype(np.float64)
            continue
        try:
            v = pd.to_numeric(s, errors="raise").to_numpy(dtype=np.float64)
        except (ValueError, TypeError):
            raise DataError(f"{where}: predictor column {name!r} is not numeric") from None
        nbad = int((~np.isfinite(v)).sum())
        if nbad:
            raise DataError(f"{where}: predictor column {name!r} has {nbad} missing/non-finite value(s) "
                            f"(first at row {int(np.flatnonzero(~np.isfinite(v))[0])})")
        cols[name] = v
    return pd.DataFrame(cols, index=df.index)


def _numeric(df: pd.DataFrame, col: str, where: str) -> np.ndarray:
    if col not in df.columns:
        raise DataError(f"{where}: predictor column {col!r} is missing")
    v = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(v)):
        raise DataError(f"{where}: predictor column {col!r} has {int((~np.isfinite(v)).sum())} missing value(s)")
    return v


_PREFIX = {"Veg_": "Veg", "LC_": "LandCover", "Koppen_": "Koppen"}


def predictor_of_column(column: str) -> str:
    """Predictor a design-matrix column belongs to (``Veg_ENF`` -> ``Veg``, ``LC_Crop`` -> ``LandCover``)."""
    for pre, name in _PREFIX.items():
        if column.startswith(pre):
            return name
    return column


def families(predictors) -> dict[str, list[str]]:
    """Selection families (in first-seen order) -> their predictors."""
    out: dict[str, list[str]] = {}
    for p in predictors:
        out.setdefault(ALL_PREDICTORS[p].family or p, []).append(p)
    return out


def column_groups(columns: list[str]) -> dict[str, list[int]]:
    """Map predictor name -> design-matrix column indices (Veg, LandCover and Koppen gather
    their columns)."""
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(columns):
        key = predictor_of_column(c)
        groups.setdefault(key, []).append(i)
    return groups

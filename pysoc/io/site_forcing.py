"""Site forcing from profile covariates: approximate climatological forcing for sites that
have soil profiles but no land-model output (docs/data.md, "Site forcing").

PRODA drives its site calibrations with CESM2 history fields (TSOI, W_SCALAR, NPP, ...;
spec models.md §2.10), which are not available here. This module builds a monthly
climatology (12 steps) from the covariates of a :class:`~pysoc.io.profiles.Profile`
with documented approximations, all in this one module:

- litter input = NPP (steady state), NPP from the Miami model (Lieth 1975) with MAT and MAP,
  dry matter × 0.45 g C g-1 (or, option ``npp='gpp'``, 0.46 × FLUXCOM GPP); spread evenly
  over the months; a land-cover dependent fraction goes to CWD, the rest to metabolic /
  cellulose / lignin litter as 0.25 / 0.50 / 0.25 (CLM5 leaf and fine-root litter);
- soil temperature T(z, m) = MAT + A·exp(−z/d)·cos(2π(m − m_max)/12 − z/d), the annual
  heat wave in a homogeneous half-space (Carslaw & Jaeger 1959; Hillel 1998) with damping
  depth d = sqrt(2κ/ω), κ = 5e-7 m2 s-1 (d = 2.24 m); A from WorldClim BIO4 (A = √2·BIO4/100),
  else from BIO10 − BIO11, else a latitude rule; m_max = July (north) / January (south);
- water scalar from the aridity ratio P/PET with the Century moisture function
  w = 1/(1 + 30·exp(−8.5·P/PET)) (Parton et al. 1987/1993; spec models.md §1.6), uniform in
  depth and time; PET from the covariate, else Holdridge (1967) PET = 58.93·BT;
- oxygen and nitrogen scalars 1;
- active-layer depth where the annual maximum soil temperature MAT + A·exp(−z/d) crosses
  0 °C when MAT < 0 (permafrost), else the bottom of the model column;
- nbedrock from the reported depth to bedrock (at least the deepest observed layer), else nlev.

The model dispatch (:data:`BUILDERS`) maps a model name to its builder so that MIMICS and
CENTURY builders can be added later; only 'clm5' and 'compas' (same forcing format) exist.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import xarray as xr

from pysoc.errors import ConfigError, DataError, PysocError

# ---- constants of the approximations (documented in docs/data.md) ----------------------------
#: Miami model (Lieth 1975): g dry matter m-2 yr-1
MIAMI = {"a": 3000.0, "b": 1.315, "c": 0.119, "d": 0.000664}
CARBON_FRACTION = 0.45          #: g C per g dry matter
CUE = 0.46                      #: NPP/GPP (Collalti & Prentice 2019) for npp='gpp'
THERMAL_DIFFUSIVITY = 5.0e-7    #: m2 s-1, moist mineral soil (Hillel 1998 range 2e-7..1e-6)
SECONDS_PER_YEAR = 365.0 * 86400.0
DAMPING_DEPTH = math.sqrt(2.0 * THERMAL_DIFFUSIVITY / (2.0 * math.pi / SECONDS_PER_YEAR))  # m
#: quarter mean of cos over +-45 degrees: (BIO10 - BIO11)/2 = A·QUARTER_FACTOR
QUARTER_FACTOR = math.sin(math.pi / 4.0) / (math.pi / 4.0)
#: latitude rule A = max(0.5, c0 + c1|lat| + c2 lat^2) (°C), least squares to A = √2·BIO4/100
#: (WorldClim 2.1) at the 3,964 ISRaD profile locations, R² 0.77, RMSE 3.6 °C
#: (scripts/make_israd_subset.py prints the fit)
AMPLITUDE_LAT = (-0.28, 0.197, 0.00158)
AMPLITUDE_MIN = 0.5
CENTURY_W = (30.0, 8.5)         #: wfunc = 1/(1 + a·exp(−b·ratio)) (Century IDEF = 2)
HOLDRIDGE = 58.93               #: PET (mm yr-1) per °C of biotemperature
#: share of the non-woody litter: metabolic, cellulose, lignin (CLM5 lf_/fr_ flab, fcel, flig)
LITTER_QUALITY = (0.25, 0.50, 0.25)
#: fraction of the litter input that is coarse woody debris, by land cover (ISRaD pro_land_cover,
#: then the MODIS class); forests: wood ~30 % of NPP (Litton et al. 2007; Malhi et al. 2011)
CWD_FRACTION = {
    "forest": 0.30, "shrubland": 0.15, "woody savannas": 0.15, "savannas": 0.05, "open shrublands": 0.10,
    "closed shrublands": 0.15, "rangeland/grassland": 0.0, "grasslands": 0.0, "cultivated": 0.0,
    "cropland": 0.0, "cropland/natural vegetation mosaics": 0.05, "tundra": 0.0, "bare": 0.0, "barren": 0.0,
    "permanent wetlands": 0.05,
}
CWD_FRACTION_UNKNOWN = 0.10

#: covariates tried in order for each quantity (first finite value wins)
SOURCES = {
    "mat": ("wc_bio01_mat_degC", "cru_mat_degC", "mat_reported_degC"),
    "map": ("wc_bio12_map_mm_yr", "cru_map_mm_yr", "map_reported_mm_yr"),
    "pet": ("pet_mm_yr", "et0_gai3_mm_yr"),
    "bio4": ("wc_bio04_t_seasonality_degC_x100",),
    "bio10": ("wc_bio10_t_warmest_quarter_degC",),
    "bio11": ("wc_bio11_t_coldest_quarter_degC",),
    "gpp": ("gpp_fluxcom_gC_m2_d",),
    "bedrock": ("bedrock_depth_cm",),
    "sand": ("obs_sand_0_30cm_percent",),
}


# ---- the approximations as functions ---------------------------------------------------------
def miami_npp(mat_c, map_mm) -> np.ndarray:
    """Miami model NPP (g C m-2 yr-1) = 0.45 · min(3000/(1 + exp(1.315 − 0.119 T)),
    3000·(1 − exp(−0.000664 P))) with T in °C and P in mm yr-1 (Lieth 1975)."""
    t = np.asarray(mat_c, float)
    p = np.asarray(map_mm, float)
    npp_t = MIAMI["a"] / (1.0 + np.exp(MIAMI["b"] - MIAMI["c"] * t))
    npp_p = MIAMI["a"] * (1.0 - np.exp(-MIAMI["d"] * p))
    return CARBON_FRACTION * np.minimum(npp_t, npp_p)


def seasonal_amplitude(bio4=np.nan, bio10=np.nan, bio11=np.nan, lat=0.0) -> tuple[float, str]:
    """Amplitude A (°C) of the annual air-temperature sinusoid and how it was obtained."""
    if np.isfinite(bio4):
        return math.sqrt(2.0) * float(bio4) / 100.0, "BIO4"
    if np.isfinite(bio10) and np.isfinite(bio11):
        return (float(bio10) - float(bio11)) / (2.0 * QUARTER_FACTOR), "BIO10-BIO11"
    c0, c1, c2 = AMPLITUDE_LAT
    a = abs(float(lat))
    return max(AMPLITUDE_MIN, c0 + c1 * a + c2 * a * a), "latitude rule"


def soil_temperature(z, mat_c: float, amplitude: float, lat: float) -> np.ndarray:
    """Monthly soil temperature (°C), shape (12, nz), at depths z (m)."""
    z = np.asarray(z, float)
    m = np.arange(1, 13, dtype=float)[:, None]
    m_max = 7.0 if lat >= 0 else 1.0
    d = DAMPING_DEPTH
    return mat_c + amplitude * np.exp(-z / d)[None, :] * np.cos(2.0 * np.pi * (m - m_max) / 12.0 - z[None, :] / d)


def active_layer_depth(mat_c: float, amplitude: float, deep: float) -> float:
    """Depth (m) where the annual maximum MAT + A·exp(−z/d) falls to 0 °C (MAT < 0); ``deep``
    when the soil never stays frozen; 0 when it never thaws."""
    if mat_c >= 0.0:
        return float(deep)
    if amplitude <= -mat_c:
        return 0.0
    return float(min(deep, DAMPING_DEPTH * math.log(amplitude / -mat_c)))


def century_wfunc(ratio) -> np.ndarray:
    """Century moisture function of P/PET: 1/(1 + 30·exp(−8.5·ratio)), at most 1."""
    a, b = CENTURY_W
    return np.minimum(1.0, 1.0 / (1.0 + a * np.exp(-b * np.asarray(ratio, float))))


def holdridge_pet(monthly_t_c) -> float:
    """Holdridge (1967) PET (mm yr-1) = 58.93 × biotemperature (mean of monthly T clipped to [0, 30] °C)."""
    return float(HOLDRIDGE * np.clip(np.asarray(monthly_t_c, float), 0.0, 30.0).mean())


def cwd_fraction(meta: dict) -> tuple[float, str]:
    """CWD share of the litter input from the land cover in ``meta`` (ISRaD land_cover,
    then MODIS class), with the class used."""
    for key in ("land_cover", "modis_land_cover"):
        v = meta.get(key)
        if isinstance(v, str) and v.strip().lower() in CWD_FRACTION:
            return CWD_FRACTION[v.strip().lower()], v.strip()
        if isinstance(v, str) and "forest" in v.lower():
            return CWD_FRACTION["forest"], v.strip()
    return CWD_FRACTION_UNKNOWN, "unknown"


# ---- covariate resolution ---------------------------------------------------------------------
def _first(profile, quantity: str) -> tuple[float, str | None]:
    for name in SOURCES[quantity]:
        v = profile.covariates.get(name)
        if v is not None and np.isfinite(v):
            return float(v), name
    return float("nan"), None


def _require(profile, quantity: str, purpose: str) -> tuple[float, str]:
    v, src = _first(profile, quantity)
    if src is None:
        names = SOURCES[quantity]
        raise DataError(f"site {profile.site_id}: missing covariate '{names[0]}'"
                        + (f" (or {', '.join(names[1:])})" if len(names) > 1 else "") + f", needed for {purpose}")
    return v, src


def site_climate(profile, npp: str = "miami") -> dict:
    """The resolved site quantities shared by all model builders (values and sources)."""
    if npp not in ("miami", "gpp"):
        raise ConfigError(f"site_forcing: npp must be 'miami' or 'gpp', got {npp!r}")
    mat, mat_src = _require(profile, "mat", "soil temperature and NPP")
    amp, amp_src = seasonal_amplitude(_first(profile, "bio4")[0], _first(profile, "bio10")[0],
                                      _first(profile, "bio11")[0], profile.lat)
    if npp == "gpp":
        gpp, _ = _require(profile, "gpp", "NPP (npp='gpp')")
        npp_val, npp_src = CUE * gpp * 365.0, "0.46 x FLUXCOM GPP"
        map_, map_src = _first(profile, "map")
    else:
        map_, map_src = _require(profile, "map", "NPP (Miami model) and the water scalar")
        npp_val, npp_src = float(miami_npp(mat, map_)), "Miami model"
    t_air = soil_temperature([0.0], mat, amp, profile.lat)[:, 0]
    pet, pet_src = _first(profile, "pet")
    if pet_src is None or pet <= 0:
        pet, pet_src = holdridge_pet(t_air), "Holdridge"
    if not np.isfinite(map_):
        map_, map_src = _require(profile, "map", "the water scalar")
    fcwd, lc = cwd_fraction(profile.meta)
    return {"mat": mat, "mat_source": mat_src, "amplitude": amp, "amplitude_source": amp_src,
            "map": map_, "map_source": map_src, "pet": pet, "pet_source": pet_src,
            "aridity": map_ / pet if pet > 0 else np.inf, "npp": npp_val, "npp_source": npp_src,
            "cwd_fraction": fcwd, "land_cover": lc}


# ---- builders -----------------------------------------------------------------------------
def _clm5_like(model, profile, npp: str = "miami") -> xr.Dataset:
    """CLM5 / COMPAS forcing (same format): tsoi, w_scalar (12, nlev), litter_input (12, 4),
    altmax, altmax_lastyear, nbedrock, o_scalar = fpi = 1, sand when measured."""
    c = site_climate(profile, npp)
    z, zi = np.asarray(model.zsoi, float), np.asarray(model.zisoi, float)
    nlev = z.size
    tsoi = 273.15 + soil_temperature(z, c["mat"], c["amplitude"], profile.lat)
    w = float(century_wfunc(c["aridity"]))
    wsc = np.full((12, nlev), w)
    f = c["cwd_fraction"]
    annual = c["npp"] * np.array([f, *((1.0 - f) * np.asarray(LITTER_QUALITY))])
    litter = np.tile(annual / 12.0, (12, 1))
    alt = active_layer_depth(c["mat"], c["amplitude"], float(zi[-1]))
    bedrock, _ = _first(profile, "bedrock")
    nb = nlev
    if np.isfinite(bedrock) and bedrock > 0:
        zb = max(bedrock / 100.0, profile.max_depth)
        nb = int(min(nlev, max(1, np.searchsorted(zi, zb - 1e-9) + 1)))
    sand, _ = _first(profile, "sand")
    attrs = {
        "site_id": profile.site_id, "lat": profile.lat, "lon": profile.lon,
        "source": "pysoc.io.site_forcing: approximate climatology from profile covariates (docs/data.md)",
        "npp_g_C_m2_yr": c["npp"], "npp_method": c["npp_source"], "mat_degC": c["mat"],
        "mat_covariate": c["mat_source"], "map_mm_yr": c["map"], "map_covariate": str(c["map_source"]),
        "pet_mm_yr": c["pet"], "pet_covariate": c["pet_source"], "aridity_p_over_pet": c["aridity"],
        "t_amplitude_degC": c["amplitude"], "t_amplitude_method": c["amplitude_source"],
        "damping_depth_m": DAMPING_DEPTH, "cwd_fraction": f, "land_cover_used": c["land_cover"],
        "active_layer_m": alt, "permafrost": int(alt < float(zi[-1])),
    }
    ds = model.forcing_dataset(tsoi, wsc, litter, alt, alt, nb, sand=sand if np.isfinite(sand) else None,
                               attrs=attrs)
    if "sand" in ds and not np.isfinite(float(ds["sand"])):
        # the optional, informational 'sand' is filled with NaN when absent, and a NaN 'sand'
        # fails re-validation: leave it out so that validate_forcing(ds) accepts the dataset
        ds = ds.drop_vars("sand")
    return ds


#: model name -> builder(model, profile, **options); add 'mimics' / 'century' here
BUILDERS: dict[str, Callable] = {"clm5": _clm5_like, "compas": _clm5_like}


def _model(model):
    if isinstance(model, str):
        from pysoc.models import get_model
        return get_model(model)
    return model


def site_forcing(model, profile, **options) -> xr.Dataset:
    """Validated forcing dataset of ``model`` (a model instance or name) for one profile.
    Options: ``npp`` = 'miami' (default) or 'gpp'. Raises DataError naming a missing covariate."""
    model = _model(model)
    name = getattr(model, "name", str(model))
    if name not in BUILDERS:
        raise ConfigError(f"site_forcing: no site-forcing builder for model {name!r} "
                          f"(available: {', '.join(BUILDERS)})")
    return BUILDERS[name](model, profile, **options)


def site_forcings(model, profiles, **options) -> tuple[list[xr.Dataset], list[tuple[str, str]]]:
    """Forcings for many profiles: (forcings of the sites that worked, [(site_id, error
    message), ...] for those that did not). A bad site never stops the others."""
    model = _model(model)
    out, failures = [], []
    for p in profiles:
        try:
            out.append(site_forcing(model, p, **options))
        except ConfigError:
            raise
        except PysocError as exc:
            failures.append((p.site_id, str(exc)))
    return out, failures

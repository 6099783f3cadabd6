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

A model turns these quantities into its own forcing by implementing the ``site_forcing``
capability (:meth:`pysoc.models.base.SoilCarbonModel.site_forcing`) with the functions here;
:func:`site_forcing` asks the model. This module names no model and imports none.
:class:`CellClimate` holds the same quantities for grid cells (a model's ``cell_forcing``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

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
def covariate(profile, quantity: str) -> tuple[float, str | None]:
    """First finite covariate of ``profile`` among the :data:`SOURCES` of ``quantity``:
    (value, covariate name), or (NaN, None) when there is none.

    Examples
    --------
    >>> covariate(PseudoProfile("s", 0.0, 0.0, 12.5, 900.0, 200.0, 1), "mat")
    (12.5, 'wc_bio01_mat_degC')
    """
    for name in SOURCES[quantity]:
        v = profile.covariates.get(name)
        if v is not None and np.isfinite(v):
            return float(v), name
    return float("nan"), None


def _require(profile, quantity: str, purpose: str) -> tuple[float, str]:
    v, src = covariate(profile, quantity)
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
    amp, amp_src = seasonal_amplitude(covariate(profile, "bio4")[0], covariate(profile, "bio10")[0],
                                      covariate(profile, "bio11")[0], profile.lat)
    if npp == "gpp":
        gpp, _ = _require(profile, "gpp", "NPP (npp='gpp')")
        npp_val, npp_src = CUE * gpp * 365.0, "0.46 x FLUXCOM GPP"
        map_, map_src = covariate(profile, "map")
    else:
        map_, map_src = _require(profile, "map", "NPP (Miami model) and the water scalar")
        npp_val, npp_src = float(miami_npp(mat, map_)), "Miami model"
    t_air = soil_temperature([0.0], mat, amp, profile.lat)[:, 0]
    pet, pet_src = covariate(profile, "pet")
    if pet_src is None or pet <= 0:
        pet, pet_src = holdridge_pet(t_air), "Holdridge"
    if not np.isfinite(map_):
        map_, map_src = _require(profile, "map", "the water scalar")
    fcwd, lc = cwd_fraction(profile.meta)
    return {"mat": mat, "mat_source": mat_src, "amplitude": amp, "amplitude_source": amp_src,
            "map": map_, "map_source": map_src, "pet": pet, "pet_source": pet_src,
            "aridity": map_ / pet if pet > 0 else np.inf, "npp": npp_val, "npp_source": npp_src,
            "cwd_fraction": fcwd, "land_cover": lc}


# ---- the models' builders ---------------------------------------------------------------------
def site_forcing(model, profile, **options) -> xr.Dataset:
    """Validated forcing dataset of ``model`` for one profile: the model's ``site_forcing``
    capability (:meth:`pysoc.models.base.SoilCarbonModel.site_forcing`), built with the
    approximations of this module.

    Parameters
    ----------
    model : pysoc.models.base.SoilCarbonModel
        A model instance (``pysoc.models.get_model(name)``).
    profile : pysoc.io.profiles.Profile
        The profile.
    **options
        Options of the builder: ``npp`` = 'miami' (default) or 'gpp'.

    Returns
    -------
    xarray.Dataset
        The forcing.

    Raises
    ------
    ConfigError
        ``model`` is not a model object, or does not provide ``site_forcing``.
    DataError
        A covariate the builder needs is missing (named).

    Examples
    --------
    >>> from pysoc.models import get_model
    >>> p = PseudoProfile("s1", 45.0, 7.0, 10.0, 800.0, 700.0, 4)
    >>> site_forcing(get_model("clm5"), p).sizes["time"]
    12
    >>> site_forcing("clm5", p)
    Traceback (most recent call last):
    pysoc.errors.ConfigError: site_forcing: pass a model object (pysoc.models.get_model('clm5')), not a name
    """
    if isinstance(model, str) or not callable(getattr(model, "provides", None)):
        raise ConfigError(f"site_forcing: pass a model object (pysoc.models.get_model({model!r})), not a name"
                          if isinstance(model, str) else
                          f"site_forcing: expected a model object, got {type(model).__name__}")
    model.require("site_forcing", "forcing from site covariates")
    return model.site_forcing(profile, **options)


def site_forcings(model, profiles, **options) -> tuple[list[xr.Dataset], list[tuple[str, str]]]:
    """Forcings of many profiles: a bad site never stops the others.

    Parameters
    ----------
    model : pysoc.models.base.SoilCarbonModel
        A model providing ``site_forcing``.
    profiles : iterable of pysoc.io.profiles.Profile
        The profiles.
    **options
        As :func:`site_forcing`.

    Returns
    -------
    forcings : list of xarray.Dataset
        Forcings of the sites that worked, in order.
    failures : list of (str, str)
        (site_id, one-line message) of the sites that did not.

    Raises
    ------
    ConfigError
        A configuration problem (applies to every site).

    Examples
    --------
    >>> from pysoc.models import get_model
    >>> ok, bad = site_forcings(get_model("clm5"), [PseudoProfile("a", 45.0, 7.0, 10.0, 800.0, 700.0, 4),
    ...                                              PseudoProfile("b", 45.0, 7.0, float("nan"), 800.0, 700.0, 4)])
    >>> len(ok), bad[0][0]
    (1, 'b')
    """
    out, failures = [], []
    for p in profiles:
        try:
            out.append(site_forcing(model, p, **options))
        except ConfigError:
            raise
        except PysocError as exc:
            failures.append((p.site_id, str(exc)))
    return out, failures


# ---- climate of grid cells (the inputs of a model's ``cell_forcing``) -----------------------
#: IGBP class code -> MODIS land-cover name (as in the ISRaD table / CWD_FRACTION)
IGBP_NAMES = {
    0: "water bodies", 1: "evergreen needleleaf forests", 2: "evergreen broadleaf forests",
    3: "deciduous needleleaf forests", 4: "deciduous broadleaf forests", 5: "mixed forests",
    6: "closed shrublands", 7: "open shrublands", 8: "woody savannas", 9: "savannas", 10: "grasslands",
    11: "permanent wetlands", 12: "cropland", 13: "urban and built-up lands",
    14: "cropland/natural vegetation mosaics", 15: "permanent snow and ice", 16: "barren",
}


@dataclass
class CellClimate:
    """Per-cell climate of grid cells, the input of a model's ``cell_forcing`` (1-D arrays
    over cells): latitude (degrees north), MAT = WorldClim BIO1 (degC), MAP = BIO12
    (mm yr-1), BIO4 temperature seasonality (degC x 100) and the IGBP majority class.

    Examples
    --------
    >>> c = CellClimate([10.0, -20.0], [25.0, 15.0], [1500.0, float("nan")], [100.0, 300.0], [2, 10])
    >>> c.n, c.invalid().tolist(), c.subset([0]).n
    (2, [False, True], 1)
    """

    lat: np.ndarray
    mat: np.ndarray
    map: np.ndarray
    bio4: np.ndarray
    igbp: np.ndarray
    attrs: dict = field(default_factory=dict)

    def __post_init__(self):
        n = np.asarray(self.lat).size
        for k in ("lat", "mat", "map", "bio4", "igbp"):
            v = np.asarray(getattr(self, k), dtype=float).reshape(-1)
            if v.size != n:
                raise DataError(f"cell climate: '{k}' has {v.size} values, expected {n}")
            setattr(self, k, v)

    @property
    def n(self) -> int:
        """Number of cells."""
        return int(self.lat.size)

    def subset(self, idx) -> "CellClimate":
        """The climate of the cells ``idx``."""
        return CellClimate(self.lat[idx], self.mat[idx], self.map[idx], self.bio4[idx], self.igbp[idx], self.attrs)

    def invalid(self) -> np.ndarray:
        """Cells whose climate cannot build a forcing (non-finite MAT/MAP/BIO4, MAP < 0)."""
        return ~(np.isfinite(self.mat) & np.isfinite(self.map) & np.isfinite(self.bio4) & (self.map >= 0))

    def npp(self) -> np.ndarray:
        """Miami-model NPP (g C m-2 yr-1) of every cell: the litter input of the cell forcings."""
        return miami_npp(self.mat, self.map)


def cwd_fractions(igbp) -> np.ndarray:
    """CWD share of the litter input per cell from the IGBP class (:func:`cwd_fraction`).

    Examples
    --------
    >>> cwd_fractions([2, 10]).tolist()
    [0.3, 0.0]
    """
    igbp = np.asarray(igbp)
    out = np.empty(igbp.size)
    cache = {}
    for i, c in enumerate(np.asarray(igbp, int).reshape(-1)):
        if c not in cache:
            cache[c] = cwd_fraction({"modis_land_cover": IGBP_NAMES.get(int(c), "")})[0]
        out[i] = cache[c]
    return out


class PseudoProfile:
    """A profile-like object carrying cell covariates under the site-table names, so that a
    model's ``site_forcing`` can be applied to a grid cell (tests, examples)."""

    def __init__(self, site_id, lat, lon, mat, map_, bio4, igbp):
        self.site_id, self.lat, self.lon = str(site_id), float(lat), float(lon)
        self.covariates = {"wc_bio01_mat_degC": float(mat), "wc_bio12_map_mm_yr": float(map_),
                           "wc_bio04_t_seasonality_degC_x100": float(bio4)}
        self.meta = {"modis_land_cover": IGBP_NAMES.get(int(igbp), "")}
        self.max_depth = 0.0

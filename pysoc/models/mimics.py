"""Vertically resolved MIMICS with radiocarbon (Wieder et al. 2014 NCC, 2015 GMD; Wang et
al. 2021 JGR-B = seed 003; spec models.md §0.5 and §4).

Seven pools in every layer (LITm, LITs, MICr, MICk, SOMp, SOMc, SOMa; the order of the
regression files), Michaelis-Menten uptake by r- and K-strategist microbes (forward by
default, reverse as an option), temperature-dependent Vmax and Km, clay effects, density-
dependent microbial turnover tau MIC^beta, desorption, aboveground litter into the top layer,
root litter by a normalised negative exponential profile (alpha_r), Vmax x x_v exp(-alpha_v z),
Km x x_K, diffusion D = x_D D0 with zero flux at the surface and the bottom, and a 14C tracer
in every pool. The Fortran kernel (``fortran/soc_mimics.f90``) finds steady states by Newton's
method with pseudo-transient continuation and an analytic Jacobian, verifies each by its
residual and by the eigenvalues of the Jacobian, and integrates transients with backward
Euler (chord Newton). Equations, units, parameter sets and decisions: docs/mimics.md.

Units at this interface: concentrations g C m-3 (1 mg C cm-3 = 1000 g C m-3), litter input
g C m-2 yr-1, temperature degC, depth m. The kernel's own MIMICS parameters keep their
literature units (h-1, mg C cm-3, cm2 h-1), as in the parameter table.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from pysoc import _status
from pysoc._kernels import mimics as _k
from pysoc.errors import ConfigError, DataError, KernelError
from pysoc.forcing import ForcingSchema, VariableSpec
from pysoc.io import netcdf
from pysoc.io import site_forcing as sf
from pysoc.io.namelist import Group, Key
from pysoc.models.base import BatchResult, SoilCarbonModel, mass_balance_residual, status_dataarray
from pysoc.params import ParameterSpec, ParameterTable, as_2d, increasing
from pysoc.profiles import interval_integrals

POOLS = ("LITm", "LITs", "MICr", "MICk", "SOMp", "SOMc", "SOMa")
POOL_LONG_NAMES = ("metabolic litter", "structural litter", "r-strategist microbial biomass",
                   "K-strategist microbial biomass", "physically protected SOM", "chemically protected SOM",
                   "available SOM")
SOC_IDX = (2, 3, 4, 5, 6)      #: SOC = microbes + SOM (seed 003 eq. 15)
C14_IDX = (4, 5, 6)            #: radiocarbon of SOM = SOMp + SOMc + SOMa (seed 003 §2.2)
KINETICS = {"forward": 1, "reverse": 2}
#: reason bits returned with ERR_INVALID (mirror of soc_mimics REASON_*; tested)
REASON_BITS = {1: "microbial_group_extinct", 2: "unstable_root", 4: "stability_not_computed"}
REASONS = {0: "ok"}
for _r in range(1, 8):
    REASONS[_r] = "+".join(v for b, v in REASON_BITS.items() if _r & b)

HOURS_PER_YEAR = 8760.0
MG_CM3 = 1000.0                        #: g C m-3 per mg C cm-3
GM2YR_TO_MGCM2H = 0.1 / HOURS_PER_YEAR  #: g C m-2 yr-1 -> mg C cm-2 h-1
MEAN_LIFE_14C = 5730.0 / math.log(2.0)  #: yr (half-life 5730 yr, Godwin 1962): 8267 yr
DATA = Path(__file__).resolve().parent.parent / "data"
ATM14C_FILES = {"hua2013": "Hua2013_zones_1950_2010.csv", "hua2021": "Hua2021_zones_1941_2019.csv"}
ZONES = ("NHZone1", "NHZone2", "NHZone3", "SHZone12", "SHZone3")

# ---- parameter table ---------------------------------------------------------------------------
P = ParameterSpec
_PS = dict(lower=0.0, lower_inclusive=False)          # strictly positive
_NN = dict(lower=0.0)                                 # non-negative
_SUB = ("r_litm", "r_lits", "r_soma", "k_litm", "k_lits", "k_soma")
_SUBDOC = ("r on LITm", "r on LITs", "r on SOMa", "K on LITm", "K on LITs", "K on SOMa")


def _specs():
    s = []
    for n, d in zip(_SUB, _SUBDOC):
        s.append(P(f"vslope_{n}", "degC-1", 0.063, 0.03, 0.1, f"temperature slope of Vmax ({d})"))
    s.append(P("vint", "1", 5.47, 4.5, 6.5, "intercept of ln Vmax"))
    s.append(P("av", "mg C (mg MIC)-1 h-1", 8e-6, 2e-6, 3.2e-5, "Vmax scale aV", scale="log10", **_PS))
    for n, d, v in zip(_SUB, _SUBDOC, (10, 2, 10, 3, 3, 2)):
        s.append(P(f"vmod_{n}", "1", float(v), v / 4, v * 4, f"Vmax modifier vMOD ({d})", scale="log10", **_PS))
    for n, d, v in zip(_SUB, _SUBDOC, (0.017, 0.027, 0.017, 0.017, 0.027, 0.017)):
        s.append(P(f"kslope_{n}", "degC-1", v, 0.5 * v, 2.5 * v, f"temperature slope of Km ({d})"))
    s.append(P("kint", "1", 3.19, 2.5, 4.0, "intercept of ln Km"))
    s.append(P("ak", "mg C cm-3", 10.0, 1.0, 100.0, "Km scale aK", scale="log10", **_PS))
    for n, d, v in zip(_SUB, _SUBDOC, (8, 2, 4, 2, 4, 6)):
        s.append(P(f"kmod_{n}", "1", float(v), v / 4, v * 4,
                   f"Km divisor kMOD ({d}; x pSCALAR for SOMa)", scale="log10", **_PS))
    s.append(P("pscalar_1", "1", 2.0, 0.5, 8.0, "pSCALAR = p1 exp(p2 sqrt(clay)) on kMOD of SOMa", **_PS))
    s.append(P("pscalar_2", "1", -2.0, -4.0, 0.0, "pSCALAR exponent p2"))
    s.append(P("ko_r", "1", 4.0, 1.0, 10.0, "KO: Km multiplier of SOMc oxidation by r (x K of r on LITs)", **_PS))
    s.append(P("ko_k", "1", 4.0, 1.0, 10.0, "KO: Km multiplier of SOMc oxidation by K (x K of K on LITs)", **_PS))
    s.append(P("cue_r_met", "1", 0.55, 0.3, 0.8, "growth efficiency CUE1 of r on LITm and SOMa",
               lower=0.0, upper=1.0, lower_inclusive=False))
    s.append(P("cue_r_struc", "1", 0.25, 0.1, 0.5, "growth efficiency CUE2 of r on LITs",
               lower=0.0, upper=1.0, lower_inclusive=False))
    s.append(P("cue_k_met", "1", 0.75, 0.5, 0.9, "growth efficiency CUE3 of K on LITm and SOMa",
               lower=0.0, upper=1.0, lower_inclusive=False))
    s.append(P("cue_k_struc", "1", 0.35, 0.15, 0.6, "growth efficiency CUE4 of K on LITs",
               lower=0.0, upper=1.0, lower_inclusive=False))
    s.append(P("tau_r_1", "h-1", 5.2e-4, 1.3e-4, 2.1e-3, "turnover of r: tau_r = p1 exp(p2 fMET) tauMod "
               "(x MIC^(beta-1): units h-1 (mg C cm-3)^(1-beta))", scale="log10", **_PS))
    s.append(P("tau_r_2", "1", 0.3, 0.0, 0.6, "turnover of r: fMET exponent"))
    s.append(P("tau_k_1", "h-1", 2.4e-4, 6e-5, 9.6e-4, "turnover of K: tau_k = p1 exp(p2 fMET) tauMod",
               scale="log10", **_PS))
    s.append(P("tau_k_2", "1", 0.1, 0.0, 0.3, "turnover of K: fMET exponent"))
    s.append(P("tau_mod_ref", "g C m-2 yr-1", 100.0, 50.0, 200.0,
               "tauMod = clamp(sqrt(litter input / ref), min, max) x factor", **_PS))
    s.append(P("tau_mod_min", "1", 0.6, 0.0, 1.0, "lower clamp of sqrt(input/ref) (0: none)", **_NN))
    s.append(P("tau_mod_max", "1", 1.3, 1.0, 3.0, "upper clamp of sqrt(input/ref) (1e6: none)", **_NN))
    s.append(P("tau_mod_factor", "1", 1.0, 0.5, 2.5, "factor on tauMod (Tau_MOD4)", **_PS))
    s.append(P("fphys_r_1", "1", 0.3, 0.1, 0.6, "fPHYS_r = p1 exp(p2 clay): r turnover to SOMp", **_NN))
    s.append(P("fphys_r_2", "1", 1.3, 0.5, 2.0, "fPHYS_r clay exponent"))
    s.append(P("fphys_k_1", "1", 0.2, 0.05, 0.5, "fPHYS_k = p1 exp(p2 clay): K turnover to SOMp", **_NN))
    s.append(P("fphys_k_2", "1", 0.8, 0.3, 1.5, "fPHYS_k clay exponent"))
    s.append(P("fchem_r_1", "1", 0.1, 0.03, 0.3, "fCHEM_r = p1 exp(p2 fMET) p3: r turnover to SOMc", **_NN))
    s.append(P("fchem_r_2", "1", -3.0, -5.0, -1.0, "fCHEM_r fMET exponent"))
    s.append(P("fchem_r_3", "1", 1.0, 0.5, 3.0, "fCHEM_r factor", **_NN))
    s.append(P("fchem_k_1", "1", 0.3, 0.1, 0.9, "fCHEM_k = p1 exp(p2 fMET) p3: K turnover to SOMc", **_NN))
    s.append(P("fchem_k_2", "1", -3.0, -5.0, -1.0, "fCHEM_k fMET exponent"))
    s.append(P("fchem_k_3", "1", 1.0, 0.5, 3.0, "fCHEM_k factor", **_NN))
    s.append(P("desorb_1", "h-1", 1.5e-5, 1.5e-6, 1.5e-4, "desorption SOMp -> SOMa = p1 exp(p2 clay) (x x_d)",
               scale="log10", **_PS))
    s.append(P("desorb_2", "1", -1.5, -4.5, 0.0, "desorption clay exponent"))
    s.append(P("fi_met", "1", 0.05, 0.0, 0.3, "fraction of metabolic litter input entering SOMp directly",
               lower=0.0, upper=1.0, upper_inclusive=False))
    s.append(P("fi_struc", "1", 0.05, 0.0, 0.3, "fraction of structural litter input entering SOMc directly",
               lower=0.0, upper=1.0, upper_inclusive=False))
    s.append(P("fmet_1", "1", 1.0, 0.5, 1.0, "fMET = p1 (p2 - p3 lig:N)"))
    s.append(P("fmet_2", "1", 0.85, 0.7, 0.95, "fMET intercept p2"))
    s.append(P("fmet_3", "1", 0.013, 0.005, 0.02, "fMET slope p3 on lig:N"))
    s.append(P("fmet_fixed", "1", 0.0, 0.0, 0.9, "fixed metabolic fraction of both litter sources (0: from lig:N)",
               lower=0.0, upper=1.0, upper_inclusive=False))
    s.append(P("d0", "cm2 h-1", 1.14e-4, 5e-5, 2e-4, "base diffusion coefficient D0 (Koven et al. 2009)", **_NN))
    # seed 003 Table 1: the 7 calibration multipliers (ranges = prior; defaults in brackets)
    s.append(P("x_v", "1", 4.0, 2.0, 30.0, "scaling factor of Vmax (seed 003 x_v)", **_PS))
    s.append(P("x_k", "1", 8.0, 2.0, 30.0, "scaling factor of Km (seed 003 x_K)", **_PS))
    s.append(P("x_d", "1", 2.0, 0.1, 15.0, "scaling factor of the desorption rate (seed 003 x_d)", **_PS))
    s.append(P("x_diff", "1", 0.75, 0.01, 25.0, "scaling factor of the diffusion coefficient (seed 003 x_D)",
               **_NN))
    s.append(P("alpha_r", "m-1", 10.0, 1.0, 30.0, "decline of root input with depth, exp(-alpha_r z) "
               "(seed 003 alpha_r; z in m)", **_NN))
    s.append(P("alpha_v", "m-1", 1.0, 1.0, 30.0, "decline of Vmax with depth, exp(-alpha_v z) (seed 003 alpha_v)",
               **_NN))
    s.append(P("beta", "1", 1.2, 1.0, 2.0, "exponent of density-dependent microbial turnover tau MIC^beta",
               lower=1.0, upper=3.0))
    return tuple(s)


MULTIPLIERS = ("x_v", "x_k", "x_d", "x_diff", "alpha_r", "alpha_v", "beta")
PARAMETERS = ParameterTable("mimics", _specs(), default_set="wang2021", constraints=(
    increasing(("tau_mod_min", "tau_mod_max"), strict=False, description="clamps of the turnover modifier"),))
if len(PARAMETERS) != 70:  # pragma: no cover  (kernel layout: fortran/soc_mimics.f90 header)
    raise RuntimeError("mimics parameter table does not match the kernel layout (70 values)")

_ONE_LAYER = {"x_v": 1.0, "x_k": 1.0, "x_d": 1.0, "x_diff": 0.0, "alpha_r": 0.0, "alpha_v": 0.0, "beta": 1.0}
_GMD2015 = dict(_ONE_LAYER, tau_mod_min=0.0, tau_mod_max=1e6, tau_mod_factor=1.0, fmet_fixed=0.384642250)
_SANDBOX = dict(_ONE_LAYER, tau_mod_min=0.8, tau_mod_max=1.2, tau_mod_factor=2.0, ko_r=6.0, ko_k=6.0,
                **{f"kslope_{n}": v for n, v in zip(_SUB, (0.025, 0.035, 0.025, 0.025, 0.035, 0.025))})
#: named sets (physical values on top of 'default'); see docs/mimics.md for provenance
PARAMETERS.named_sets.update({
    # default of the vertical model: Wieder et al. 2015 Table B1 kinetics (seed 003 §2.1),
    # turnover modifier clamp [0.6, 1.3] (CABLE vmic code / Zhang et al. 2020), fMET from
    # lig:N, seed 003 Table 1 defaults of the 7 multipliers
    "wang2021": {},
    # single-layer 0-30 cm configurations of the LTER regression targets (spec §4.4, X-3)
    "gmd2015": _GMD2015,                                   # forward MM (kinetics = 'forward')
    "sandbox": _SANDBOX,                                   # reverse MM (kinetics = 'reverse')
    "sandbox_fmet_fixed": dict(_SANDBOX, fmet_fixed=0.3846423),
})
_TABLE3 = {"enf": (22.10, 22.31, 7.45, 8.59, 17.40, 2.41, 1.11), "ebf": (7.75, 11.72, 1.44, 1.55, 22.74, 4.71, 1.19),
           "dbf": (8.91, 15.49, 4.19, 0.63, 10.51, 1.56, 1.40), "bnf": (8.96, 23.97, 1.89, 0.06, 14.59, 3.89, 1.62),
           "misiones": (6.46, 11.77, 1.83, 2.07, 14.38, 5.60, 1.57),
           "kissoko": (18.25, 2.03, 0.79, 0.63, 15.19, 13.36, 2.00),
           "mi_coarse": (15.95, 9.38, 3.27, 7.71, 18.42, 3.91, 1.76),
           "bartlett": (5.90, 19.86, 4.53, 0.67, 23.35, 2.13, 1.74),
           "harvard": (5.70, 11.99, 3.67, 2.22, 24.66, 3.22, 1.40),
           "ozark": (13.72, 13.25, 1.07, 2.19, 24.76, 3.15, 1.53)}
for _n, _v in _TABLE3.items():   # seed 003 Tables 2 and 3 (calibrated with the authors' code)
    PARAMETERS.named_sets[f"wang2021_{_n}"] = dict(zip(MULTIPLIERS, _v))
PARAMETERS.named_sets["default"] = {s.name: s.default for s in PARAMETERS}

# ---- forcing --------------------------------------------------------------------------------------
FORCING = ForcingSchema("mimics", [
    VariableSpec("tsoi", ("time", "level"), "degC", "soil temperature; time = equal parts of one year "
                 "(1: annual mean, 12: months, ...)", -60.0, 60.0),
    VariableSpec("moisture_scalar", ("time", "level"), "1", "moisture scalar multiplying Vmax", 0.0, 10.0,
                 required=False, default=1.0),
    VariableSpec("clay", ("level",), "1", "clay fraction", 0.0, 1.0),
    VariableSpec("litter_above", (), "g C m-2 yr-1", "aboveground litter input (into layer 1)", 0.0, 1e5),
    VariableSpec("litter_below", (), "g C m-2 yr-1", "root litter input (exponential profile alpha_r)", 0.0, 1e5),
    VariableSpec("lignin_n_above", (), "1", "lignin:N ratio of the aboveground litter", 0.0, 300.0),
    VariableSpec("lignin_n_below", (), "1", "lignin:N ratio of the root litter", 0.0, 300.0),
    VariableSpec("sample_year", (), "yr", "year of the radiocarbon sampling (AD; NaN: no radiocarbon)",
                 1950.0, 2100.0, required=False, default=np.nan),
    VariableSpec("input_scale", ("time",), "1", "multiplier on both litter inputs (transient runs)", 0.0, 100.0,
                 required=False, default=1.0),
], doc="Site forcing of the MIMICS kernel. Global attributes: 'lat' (deg N; radiocarbon zone 'auto'), "
       "optional 'atm14c_zone'.")

OPTIONS = Group("mimics", (
    Key("kinetics", "str", "forward", "Michaelis-Menten form: forward (substrate saturation; GMD 2015, "
        "seed 003) or reverse (microbial saturation; MIMICS 'sandbox' sets)", choices=tuple(KINETICS)),
    Key("n_layers", "int", 20, "number of layers of the uniform grid (seed 003: 20 x 5 cm)", min=1, max=500),
    Key("layer_thickness", "float", 0.05, "layer thickness of the uniform grid", min=1e-4, max=10.0, units="m"),
    Key("layer_thicknesses", "list[float]", [], "thickness of every layer, top down (overrides n_layers and "
        "layer_thickness when given)", min=1e-4, max=10.0, units="m"),
    Key("check_stability", "bool", True, "accept a steady state only if every Jacobian eigenvalue has a "
        "negative real part (spec §4.8; costs a dense eigenvalue solve of size 7 n_layers)"),
    Key("radiocarbon", "bool", True, "compute radiocarbon when the forcing has a sample_year"),
    Key("atm14c_record", "str", "hua2021", "atmospheric 14C record: Hua et al. 2021 (1950-2019) or Hua et "
        "al. 2013 (1950-2010, seed 003); held at its last value after its end", choices=tuple(ATM14C_FILES)),
    Key("atm14c_zone", "str", "auto", "atmospheric zone of Hua et al. (auto: from the forcing attribute 'lat')",
        choices=("auto",) + ZONES),
    Key("atm14c_lag", "float", 1.0, "lag of litter 14C behind the atmosphere (seed 003: 1 yr)", min=0.0,
        max=50.0, units="yr"),
    Key("c14_substeps", "int", 1, "backward-Euler sub-steps per month of the bomb-period radiocarbon run "
        "(1: monthly; error < 0.5 per mil against hourly steps)", min=1, max=744),
    Key("substep_hours", "float", 1.0, "backward-Euler step of transient runs and spin-up (seed 003: 1 h)",
        min=1e-3, max=8760.0, units="h"),
    Key("start_year", "float", 1950.0, "calendar year at the start of transient runs (radiocarbon forcing)",
        min=1000.0, max=2100.0, units="yr"),
), doc="Options of the MIMICS kernel.")


# ---- atmospheric radiocarbon ------------------------------------------------------------------------
@lru_cache(maxsize=4)
def atm14c_table(record: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Shipped record -> {zone: (decimal year, F14C)}; zone names as in ``ZONES``."""
    if record not in ATM14C_FILES:
        raise ConfigError(f"mimics: unknown atm14c_record {record!r} (known: {', '.join(ATM14C_FILES)})")
    path = DATA / "atm14c" / ATM14C_FILES[record]
    if not path.is_file():
        raise DataError(f"{path}: atmospheric 14C record not found (package data incomplete)")
    df = pd.read_csv(path)
    out = {}
    for zone, g in df.groupby("zone"):
        name = "SHZone12" if zone in ("SHZone1-2", "SHZone12") else str(zone)
        g = g.sort_values("year_ad")
        out[name] = (g["year_ad"].to_numpy(float), g["f14c"].to_numpy(float))
    return out


def zone_of_latitude(lat: float) -> str:
    """Approximate atmospheric 14C zone of Hua et al. (2013, 2021) from latitude: NH zone 1
    north of 40 N, zone 2 20-40 N, zone 3 0-20 N, SH zones 1-2 0-40 S, SH zone 3 south of
    40 S (the published zone boundaries follow the seasonal ITCZ; set atm14c_zone to override)."""
    if not np.isfinite(lat) or abs(lat) > 90:
        raise DataError(f"atmospheric 14C zone: latitude {lat!r} is not a valid latitude")
    if lat >= 40:
        return "NHZone1"
    if lat >= 20:
        return "NHZone2"
    if lat >= 0:
        return "NHZone3"
    return "SHZone12" if lat >= -40 else "SHZone3"


def atm_f14c(t, record: str, zone: str, hold_before: float = 1950.0) -> np.ndarray:
    """Atmospheric F14C at decimal years t: the record interpolated linearly, held at its
    value at ``hold_before`` before that year (seed 003: 1950) and at its last value after
    its end."""
    tab = atm14c_table(record)
    if zone not in tab:
        raise ConfigError(f"mimics: zone {zone!r} not in record {record} (zones: {', '.join(tab)})")
    yr, f = tab[zone]
    t = np.maximum(np.asarray(t, float), hold_before)
    return np.interp(t, yr, f)


def d14c_from_f(f, year) -> np.ndarray:
    """Delta14C (per mil) of a sample of fraction modern F measured in ``year``
    (Stuiver & Polach 1977): (F exp((1950 - year)/8267) - 1) 1000."""
    return (np.asarray(f, float) * np.exp((1950.0 - np.asarray(year, float)) / MEAN_LIFE_14C) - 1.0) * 1000.0


def c14_schedule(sample_year: float, record: str, zone: str, lag: float = 1.0):
    """Steady-state litter F14C (1950 atmosphere) and the monthly litter F14C from 1950 to
    the middle of the sampling year (seed 003 §2.2): (f_ss, f_months, hours_per_month)."""
    f_ss = float(atm_f14c([1950.0], record, zone)[0])
    n = int(round((float(sample_year) + 0.5 - 1950.0) * 12.0))
    t_mid = 1950.0 + (np.arange(max(n, 0)) + 0.5) / 12.0
    return f_ss, atm_f14c(t_mid - lag, record, zone), HOURS_PER_YEAR / 12.0


# ---- the model -----------------------------------------------------------------------------------------
class MIMICS(SoilCarbonModel):
    """Vertically resolved MIMICS with radiocarbon (7 pools x n_layers).

    Parameters
    ----------
    **options
        Keys of ``&mimics`` (:data:`OPTIONS`): layers, kinetics, radiocarbon record, ...

    Examples
    --------
    >>> m = MIMICS(n_layers=4, layer_thickness=0.1)
    >>> m.nlev, m.zsoi.round(3).tolist(), m.temperature_units, m.capabilities
    (4, [0.05, 0.15, 0.25, 0.35], 'degC', ('site_forcing',))
    >>> m.soc_pools
    ('MICr', 'MICk', 'SOMp', 'SOMc', 'SOMa')
    """

    name = "mimics"
    long_name = "vertically resolved MIMICS with radiocarbon (Wieder et al. 2015; Wang et al. 2021)"
    pools = POOLS
    pool_long_names = POOL_LONG_NAMES
    soc_pools = tuple(POOLS[i] for i in SOC_IDX)
    litter_pools = ("LITm", "LITs")
    temperature_variable = "tsoi"
    parameters = PARAMETERS
    forcing_schema = FORCING
    options_group = OPTIONS
    diagnostic_outputs = ("residual", "max_eig")     #: kept in failed rows of evaluate (why the root failed)
    observables = ("soc_profile", "soc_0_30", "d14c_profile", "pools", "rh")
    references = ("Wieder et al. 2015 GMD doi:10.5194/gmd-8-1789-2015; Wang et al. 2021 JGR-B "
                  "doi:10.1029/2020JG006205; docs/mimics.md")

    def __init__(self, **options):
        super().__init__(**options)
        thick = self.options["layer_thicknesses"]
        if thick:
            dz = np.asarray(thick, float)
        else:
            dz = np.full(int(self.options["n_layers"]), float(self.options["layer_thickness"]))
        self.dz = dz
        self.nlev = dz.size
        self.zisoi = np.cumsum(dz)
        self.zsoi = self.zisoi - 0.5 * dz
        self.bounds = np.stack([self.zisoi - dz, self.zisoi], axis=1)
        self.kin = KINETICS[self.options["kinetics"]]

    # ---- forcing ---------------------------------------------------------------------------------
    def load_forcing(self, path) -> xr.Dataset:
        ds = self.forcing_schema.load(path, sizes={"level": self.nlev})
        ds.attrs["source_file"] = str(path)
        return self._check_forcing(ds, str(path))

    def validate_forcing(self, ds: xr.Dataset, source: str = "<forcing>") -> xr.Dataset:
        ds = self.forcing_schema.validate(ds, source=source, sizes={"level": self.nlev})
        return self._check_forcing(ds, source)

    def _check_forcing(self, ds: xr.Dataset, source: str) -> xr.Dataset:
        if float(ds["litter_above"]) + float(ds["litter_below"]) <= 0:
            raise DataError(f"{source}: variables 'litter_above' + 'litter_below' must be > 0 g C m-2 yr-1")
        if "depth" in ds.coords or "depth" in ds:
            depth = np.asarray(ds["depth"].values, float)
            if depth.shape != self.zsoi.shape or not np.allclose(depth, self.zsoi, rtol=1e-6, atol=1e-9):
                raise DataError(f"{source}: variable 'depth' does not match the node depths of the grid of "
                                f"the &mimics options ({self.nlev} layers, {self.zisoi[-1]:g} m)")
        ds.attrs.setdefault("source_file", source)
        return ds

    def forcing_dataset(self, tsoi, clay, litter_above, litter_below, lignin_n_above, lignin_n_below,
                        moisture_scalar=None, sample_year=np.nan, input_scale=None, attrs=None) -> xr.Dataset:
        """Forcing dataset from arrays: tsoi (ntime, nlev) degC (a scalar or (nlev,) is one
        time step), clay (nlev,) or scalar fraction, litter inputs g C m-2 yr-1."""
        t = np.asarray(tsoi, float)
        if t.ndim == 0:
            t = np.full((1, self.nlev), float(t))
        elif t.ndim == 1:
            t = t[None, :] if t.size == self.nlev else t[:, None]
        if t.ndim != 2 or t.shape[1] not in (1, self.nlev):
            raise DataError(f"<arrays>: tsoi has shape {np.shape(tsoi)}, expected (ntime, {self.nlev})")
        tsoi = np.array(np.broadcast_to(t, (t.shape[0], self.nlev)), dtype=float)
        nt = tsoi.shape[0]
        ms = np.ones_like(tsoi) if moisture_scalar is None else np.broadcast_to(
            np.asarray(moisture_scalar, float), tsoi.shape).copy()
        data = {
            "tsoi": (("time", "level"), tsoi, {"units": "degC"}),
            "moisture_scalar": (("time", "level"), ms, {"units": "1"}),
            "clay": (("level",), np.broadcast_to(np.asarray(clay, float), (self.nlev,)).copy(), {"units": "1"}),
            "litter_above": ((), float(litter_above), {"units": "g C m-2 yr-1"}),
            "litter_below": ((), float(litter_below), {"units": "g C m-2 yr-1"}),
            "lignin_n_above": ((), float(lignin_n_above), {"units": "1"}),
            "lignin_n_below": ((), float(lignin_n_below), {"units": "1"}),
            "sample_year": ((), float(sample_year), {"units": "yr"}),
            "input_scale": (("time",), np.ones(nt) if input_scale is None else
                            np.broadcast_to(np.asarray(input_scale, float), (nt,)).copy(), {"units": "1"}),
        }
        ds = xr.Dataset(data, coords=self._coords(nt), attrs=dict(attrs or {}))
        for name, spec in self.forcing_schema.variables.items():
            ds[name].attrs["long_name"] = spec.long_name
        ds.attrs.setdefault("Conventions", "CF-1.8")
        ds.attrs.setdefault("title", "pysoc MIMICS site forcing")
        return self.validate_forcing(ds, source="<arrays>")

    def _coords(self, nt: int) -> dict:
        return {
            "time": ("time", np.arange(nt), {"long_name": "step index (equal parts of one year)", "units": "1"}),
            "level": ("level", np.arange(1, self.nlev + 1), {"long_name": "soil layer index"}),
            "depth": ("level", self.zsoi, {"units": "m", "positive": "down", "standard_name": "depth",
                                           "long_name": "layer node depth", "bounds": "depth_bnds"}),
            "depth_bnds": (("level", "nv"), self.bounds, {"units": "m"}),
        }

    def zone(self, forcing: xr.Dataset) -> str:
        z = self.options["atm14c_zone"]
        if z == "auto":
            z = str(forcing.attrs.get("atm14c_zone", "auto"))
        if z == "auto":
            lat = forcing.attrs.get("lat")
            if lat is None and "lat" in forcing.variables and forcing["lat"].ndim == 0:
                lat = float(forcing["lat"])     # one column of a multi-column forcing
            if lat is None:
                raise DataError(f"{forcing.attrs.get('source_file', '<forcing>')}: radiocarbon needs the global "
                                f"attribute 'lat' (or 'atm14c_zone', or the option atm14c_zone)")
            z = zone_of_latitude(float(lat))
        if z not in ZONES:
            raise DataError(f"{forcing.attrs.get('source_file', '<forcing>')}: attribute atm14c_zone = {z!r} is not "
                            f"one of {', '.join(ZONES)}")
        return z

    # ---- preparation (kernel arrays, once per site) ---------------------------------------------
    def prepare(self, forcing) -> dict:
        sites = forcing if isinstance(forcing, (list, tuple)) else [forcing]
        nt = {ds.sizes["time"] for ds in sites if not isinstance(ds, dict)}
        if any(isinstance(ds, dict) for ds in sites):
            raise ConfigError("prepare() takes forcing datasets, not prepared arrays")
        if len(nt) != 1:
            raise DataError("mimics: the sites of one batch must have the same number of time steps "
                            f"(got {sorted(nt)})")
        tsoi = np.stack([np.asarray(ds["tsoi"].values, float).T for ds in sites], axis=-1)
        wsc = np.stack([np.asarray(ds["moisture_scalar"].values, float).T for ds in sites], axis=-1)
        clay = np.stack([np.asarray(ds["clay"].values, float) for ds in sites], axis=-1)
        lit = np.stack([[float(ds["litter_above"]), float(ds["litter_below"]), float(ds["lignin_n_above"]),
                         float(ds["lignin_n_below"])] for ds in sites], axis=-1)
        years = np.array([float(ds["sample_year"]) for ds in sites])
        out = {"tsoi": np.asfortranarray(tsoi), "wsc": np.asfortranarray(wsc), "clay": np.asfortranarray(clay),
               "litter": np.asfortranarray(lit), "sample_year": years, "nsite": len(sites),
               "sources": [str(ds.attrs.get("source_file", "<forcing>")) for ds in sites]}
        if self.options["radiocarbon"] and np.isfinite(years).any():
            sched = []
            for ds, y in zip(sites, years):
                if np.isfinite(y):
                    sched.append(c14_schedule(y, self.options["atm14c_record"], self.zone(ds),
                                              self.options["atm14c_lag"]))
                else:
                    sched.append((1.0, np.zeros(0), HOURS_PER_YEAR / 12.0))
            nmax = max(1, max(s[1].size for s in sched))
            fatm = np.zeros((nmax, len(sites)))
            hours = np.full((nmax, len(sites)), HOURS_PER_YEAR / 12.0)
            for i, s in enumerate(sched):
                fatm[: s[1].size, i] = s[1]
            out.update(fatm_ss=np.array([s[0] for s in sched]), fatm=np.asfortranarray(fatm),
                       hours=np.asfortranarray(hours), nvalid=np.array([s[1].size for s in sched], np.int32))
        return out

    # ---- kernels -----------------------------------------------------------------------------------
    def evaluate(self, forcing, theta, observables=("soc_profile",), site_index=None) -> BatchResult:
        """Steady states of many parameter vectors in one kernel call, with radiocarbon at
        the sampling year when 'd14c_profile' is asked for.

        Parameters
        ----------
        forcing : xarray.Dataset or list of xarray.Dataset or dict
            A site, several sites, or the result of :meth:`prepare`.
        theta : array_like
            (nset, npar) physical parameter values.
        observables : tuple of str
            Outputs wanted (:attr:`observables`).
        site_index : array_like of int, optional
            (nset,) 0-based site of each vector (default all 0).

        Returns
        -------
        BatchResult
            Outputs with the units of :data:`pysoc.models.base.OUTPUTS`; ``residual`` and
            ``max_eig`` (solver diagnostics) are kept in failed rows.
        """
        prep = forcing if isinstance(forcing, dict) else self.prepare(forcing)
        theta = np.asfortranarray(as_2d(theta, len(self.parameters), "mimics parameters").T)
        nset = theta.shape[1]
        idx = (np.zeros(nset, np.int32) if site_index is None else np.asarray(site_index, np.int32)) + 1
        want14 = "d14c_profile" in observables or "f14c" in observables
        stab = int(self.options["check_stability"])
        outputs = {}
        if want14:
            if "fatm" not in prep:
                raise DataError(f"{prep['sources'][0]}: radiocarbon needs the forcing variable 'sample_year' "
                                f"(and the option radiocarbon = .true.)")
            x, fm, fm_ss, resp, niter, resid, maxeig, status, reason = _k.profile_batch(
                self.dz, theta, idx, prep["clay"], prep["tsoi"], prep["wsc"], prep["litter"], self.kin, stab,
                prep["fatm_ss"], prep["fatm"], prep["hours"], prep["nvalid"], int(self.options["c14_substeps"]))
            fm = np.moveaxis(fm, (0, 1, 2), (2, 1, 0))
            outputs["f14c"] = fm
            outputs["f14c_1950"] = np.moveaxis(fm_ss, (0, 1, 2), (2, 1, 0))
        else:
            x, resp, niter, resid, maxeig, attempt, status, reason = _k.steady_batch(
                self.dz, theta, idx, prep["clay"], prep["tsoi"], prep["wsc"], prep["litter"], self.kin, stab,
                np.zeros((self.nlev, 7, nset), order="F"), 0)
            outputs["start"] = attempt         # starting point of the returned root (2..6: default guesses)
        pools = np.moveaxis(x, (0, 1, 2), (2, 1, 0)) * MG_CM3                    # (nset, 7, nlev) g C m-3
        soc = pools[:, SOC_IDX, :].sum(axis=1)
        outputs.update({"soc_profile": soc, "pools": pools, "niter": niter, "residual": resid, "max_eig": maxeig,
                        "rh_profile": resp.T * MG_CM3 * HOURS_PER_YEAR,
                        "rh": (resp.T * MG_CM3 * HOURS_PER_YEAR * self.dz).sum(axis=1)})
        if "soc_0_30" in observables:
            outputs["soc_0_30"] = interval_integrals(soc, self.bounds, [(0.0, 0.3)])[:, 0] / 1000.0
        if want14:
            som = pools[:, C14_IDX, :]
            with np.errstate(invalid="ignore", divide="ignore"):
                fsom = (fm[:, C14_IDX, :] * som).sum(axis=1) / som.sum(axis=1)
            years = prep["sample_year"][idx - 1] + 0.5        # the tracer run ends mid-year
            outputs["d14c_profile"] = d14c_from_f(fsom, years[:, None])
        return BatchResult(status=np.asarray(status), outputs=outputs, depth_bounds=self.bounds,
                           reason=np.asarray(reason), reason_names=REASONS)

    def explain_status(self, forcing: xr.Dataset, theta, code: int, reason: int = 0) -> str:
        """One-line explanation of a failed steady state (what, where, allowed range)."""
        src = str(forcing.attrs.get("source_file", "<forcing>"))
        theta = np.asarray(theta, float)
        p = dict(zip(self.parameters.names, theta))
        if code == _status.ERR_PARAM or code == _status.ERR_FORCING:
            fm = [p["fmet_fixed"]] * 2 if p["fmet_fixed"] > 0 else [
                p["fmet_1"] * (p["fmet_2"] - p["fmet_3"] * float(forcing[v])) for v in ("lignin_n_above",
                                                                                         "lignin_n_below")]
            for v, f in zip(("lignin_n_above", "lignin_n_below"), fm):
                if not 0.0 < f < 1.0:
                    return (f"{src}: metabolic fraction fMET = {f:.3g} from '{v}' = {float(forcing[v]):g} "
                            f"(fmet_1 (fmet_2 - fmet_3 lig:N)) must lie in (0, 1)")
            ia, ib = float(forcing["litter_above"]), float(forcing["litter_below"])
            fmet = (ia * fm[0] + ib * fm[1]) / (ia + ib)
            clay = np.asarray(forcing["clay"].values, float)
            for mic in ("r", "k"):
                fp = p[f"fphys_{mic}_1"] * np.exp(p[f"fphys_{mic}_2"] * clay)
                fc = np.full(clay.shape, p[f"fchem_{mic}_1"] * np.exp(p[f"fchem_{mic}_2"] * fmet) * p[f"fchem_{mic}_3"])
                bad = np.flatnonzero(fp + fc > 1.0)
                if bad.size:
                    j = int(bad[0])
                    return (f"{src}: fPHYS_{mic} + fCHEM_{mic} = {fp[j] + fc[j]:.3g} > 1 in layer {j + 1} "
                            f"(clay = {clay[j]:g}): the turnover partitioning of the parameters fphys_{mic}_*, "
                            f"fchem_{mic}_* must leave fAVAI >= 0")
            if p["tau_mod_max"] < p["tau_mod_min"]:
                return f"mimics parameter tau_mod_max = {p['tau_mod_max']:g} is below tau_mod_min = {p['tau_mod_min']:g}"
        text = f"{_status.name(code)} ({_status.message(code)})"
        if code == _status.ERR_INVALID:
            text += f": {REASONS.get(int(reason), reason)}"
        return f"{src}: mimics steady state failed: {text}"

    def steady_state(self, forcing: xr.Dataset, params=None, *, errors: str = "raise",
                     parameter_set: str | None = None) -> xr.Dataset:
        theta = self.param_vector(params, parameter_set)
        want14 = bool(self.options["radiocarbon"]) and np.isfinite(float(forcing["sample_year"]))
        obs = ("soc_profile", "soc_0_30") + (("d14c_profile",) if want14 else ())
        res = self.evaluate(forcing, theta, observables=obs)
        code = int(res.status[0])
        if errors == "raise" and code != _status.OK:
            raise KernelError(self.explain_status(forcing, theta, code, int(res.reason[0])), code=code,
                              reason=REASONS.get(int(res.reason[0])))
        pools = res.outputs["pools"][0]
        ds = self._state_dataset(pools)
        inp = float(forcing["litter_above"]) + float(forcing["litter_below"])
        rh = float(res.outputs["rh"][0])
        ds["rh_vr"] = (("level",), res.outputs["rh_profile"][0], {
            "units": "g C m-3 yr-1", "long_name": "heterotrophic respiration per layer"})
        ds["input"] = ((), inp, {"units": "g C m-2 yr-1", "long_name": "column litter input"})
        ds["rh"] = ((), rh, {"units": "g C m-2 yr-1", "long_name": "heterotrophic respiration of the column"})
        ds["mass_balance_residual"] = ((), *mass_balance_residual(inp, 0.0, rh))
        total = float((pools.sum(axis=0) * self.dz).sum())
        ds["residence_time"] = ((), total / inp, {"units": "yr",
                                                   "long_name": "ecosystem residence time (total carbon / input)"})
        for k, name, units, ln in (("residual", "residual", "1", "max |dC/dt| / (column input / depth)"),
                                   ("max_eig", "max_real_eigenvalue", "h-1",
                                    "largest real part of the Jacobian eigenvalues (< 0: stable)"),
                                   ("niter", "iterations", "1", "Newton / pseudo-transient iterations")):
            ds[name] = ((), res.outputs[k][0], {"units": units, "long_name": ln})
        if want14:
            year = float(forcing["sample_year"])
            ds["f14c"] = (("pool", "level"), res.outputs["f14c"][0], {
                "units": "1", "long_name": f"fraction modern of every pool in the middle of {year:g}"})
            ds["f14c_1950"] = (("pool", "level"), res.outputs["f14c_1950"][0], {
                "units": "1", "long_name": "fraction modern at the steady state with the 1950 atmosphere"})
            ds["d14c"] = (("level",), res.outputs["d14c_profile"][0], {
                "units": netcdf.DELTA14C, "long_name": f"Delta14C of SOM (SOMp+SOMc+SOMa) in {year:g} (per mil)"})
            ds.attrs["sample_year"] = year
            ds.attrs["atm14c_zone"] = self.zone(forcing)
        if "start" in res.outputs:
            ds["start"] = ((), int(res.outputs["start"][0]), {
                "long_name": "starting point of the returned root (1: given, 2-6: the solver's guesses)"})
        ds["status"] = status_dataarray(res.status[0])
        ds["reason"] = reason_dataarray(res.reason[0])
        ds.attrs["mode"] = "steady_state"
        return self._attach_params(ds, theta)

    def transient(self, forcing: xr.Dataset, params=None, *, errors: str = "raise", n_years: int | None = None,
                  initial="steady_state", parameter_set: str | None = None) -> xr.Dataset:
        """Backward-Euler run: the forcing's time steps are equal parts of one year,
        repeated ``n_years`` (default 1), each sub-stepped at ``substep_hours``. Radiocarbon
        (option radiocarbon) starts at ``start_year`` with the atmospheric record of the
        site's zone. ``initial``: 'steady_state' (of the mean forcing; tracer at its steady
        state with the atmosphere of start_year - lag) or an array (7, nlev) g C m-3."""
        theta = self.param_vector(params, parameter_set)
        nt = forcing.sizes["time"]
        reps = 1 if n_years is None else int(n_years)
        if reps < 1:
            raise ConfigError(f"transient: n_years must be >= 1, got {n_years}")
        nstep = nt * reps
        hours = np.full(nstep, HOURS_PER_YEAR / nt)
        nsub = max(1, int(round(HOURS_PER_YEAR / nt / float(self.options["substep_hours"]))))
        prep = self.prepare(forcing)
        with14 = bool(self.options["radiocarbon"])
        t0 = float(self.options["start_year"])
        tmid = t0 + (np.arange(nstep) + 0.5) / nt
        zone = self.zone(forcing) if with14 else None
        fatm = atm_f14c(tmid - self.options["atm14c_lag"], self.options["atm14c_record"], zone) if with14 \
            else np.zeros(nstep)
        x0 = self._initial_state(forcing, prep, theta, initial)
        par = np.asfortranarray(theta)
        if with14:
            f_init = float(atm_f14c([t0 - self.options["atm14c_lag"]], self.options["atm14c_record"], zone)[0])
            c0, st = _k.c14_steady(self.dz, par, prep["clay"][:, 0], prep["tsoi"][:, :, 0], prep["wsc"][:, :, 0],
                                   prep["litter"][:, 0], np.asfortranarray(x0.T), f_init, self.kin)
        else:
            c0 = np.zeros((self.nlev, 7))
        tile = lambda a: np.asfortranarray(np.tile(a, (1, reps)))  # noqa: E731  (nlev, nt) -> (nlev, nstep)
        iscl = np.tile(np.asarray(forcing["input_scale"].values, float), reps)
        x, c, rr, rr14, dd14, status = _k.transient(
            self.dz, par, prep["clay"][:, 0], tile(prep["tsoi"][:, :, 0]), tile(prep["wsc"][:, :, 0]),
            prep["litter"][:, 0], iscl, hours, fatm, nsub, int(with14), np.asfortranarray(x0.T),
            np.asfortranarray(c0), self.kin)
        if status != _status.OK and errors == "raise":
            raise KernelError(f"{forcing.attrs.get('source_file', 'transient')}: mimics transient failed: "
                              f"{_status.name(status)} ({_status.message(status)})", code=int(status))
        cp = np.moveaxis(x, (0, 1, 2), (2, 1, 0)) * MG_CM3                       # (time, pool, level)
        ds = self._state_dataset(cp, time=nstep, years=tmid, step_days=hours / 24.0)
        rh_vr = rr.T * MG_CM3 * HOURS_PER_YEAR                                    # g C m-3 yr-1
        ds["rh_vr"] = (("time", "level"), rh_vr, {"units": netcdf.FLUX_VOLUME, "cell_methods": "time: mean",
                                                  "long_name": "heterotrophic respiration (step mean)"})
        step_years = hours / HOURS_PER_YEAR
        amount = {"units": netcdf.STOCK, "cell_methods": "time: sum"}
        ds["rh"] = (("time",), (rh_vr * self.dz).sum(axis=1) * step_years, {
            **amount, "long_name": "heterotrophic respiration of the column during the step"})
        inp = (float(forcing["litter_above"]) + float(forcing["litter_below"])) * iscl * step_years
        ds["input"] = (("time",), inp, {**amount, "long_name": "litter input during the step"})
        total = (cp.sum(axis=1) * self.dz).sum(axis=1)
        prev = np.concatenate([[float((x0 * MG_CM3).sum(axis=0) @ self.dz)], total[:-1]])
        ds["mass_balance_residual"] = (("time",), *mass_balance_residual(inp, total - prev, ds["rh"].values,
                                                                        step_years))
        if with14:
            tend = t0 + (np.arange(nstep) + 1.0) / nt
            self._add_c14(ds, cp, c, c0, rr14, dd14, inp * fatm, step_years, tend)
            ds["f14c_atm_litter"] = (("time",), fatm, {"units": "1",
                                                       "long_name": "fraction modern of the litter input (lagged)"})
            ds.attrs["atm14c_zone"] = zone
        ds["status"] = status_dataarray(status)
        ds.attrs["mode"] = "transient"
        return self._attach_params(ds, theta)

    def _initial_state(self, forcing, prep, theta, initial) -> np.ndarray:
        """Initial pools (7, nlev) in mg C cm-3 of a transient run: the steady state of the mean
        forcing ('steady_state') or an array (7, nlev) g C m-3."""
        if isinstance(initial, str):
            if initial != "steady_state":
                raise ConfigError(f"transient: initial = {initial!r} is not possible for MIMICS (microbes cannot "
                                  f"grow from zero biomass); use 'steady_state' or an array (7, {self.nlev})")
            res = self.evaluate(prep, theta)
            if res.status[0] != _status.OK:
                raise KernelError(self.explain_status(forcing, theta, int(res.status[0]), int(res.reason[0])),
                                  code=int(res.status[0]))
            return res.outputs["pools"][0] / MG_CM3
        x0 = np.asarray(initial, float) / MG_CM3
        if x0.shape != (7, self.nlev) or not np.all(np.isfinite(x0)) or (x0 <= 0).any():
            raise ConfigError(f"transient: the initial state must be finite, > 0, shape (7, {self.nlev})")
        return x0

    def _add_c14(self, ds, cp, c, c0, rr14, dd14, input14, step_years, tend) -> None:
        """Radiocarbon of a transient run into ``ds``: f14c, d14c of SOM and the 14C budget
        (``c14_balance_residual``, g m-2 x fraction modern during each step)."""
        cc = np.moveaxis(c, (0, 1, 2), (2, 1, 0)) * MG_CM3
        with np.errstate(invalid="ignore", divide="ignore"):
            ds["f14c"] = (("time", "pool", "level"), cc / cp, {"units": "1", "long_name": "fraction modern (end of "
                                                                                          "step)"})
            fsom = cc[:, C14_IDX, :].sum(axis=1) / cp[:, C14_IDX, :].sum(axis=1)
        ds["d14c"] = (("time", "level"), d14c_from_f(fsom, tend[:, None]), {
            "units": netcdf.DELTA14C,
            "long_name": "Delta14C of SOM (SOMp+SOMc+SOMa) at the end of the step (per mil)"})
        dec = dd14.T * MG_CM3 * HOURS_PER_YEAR
        c14_tot = (cc.sum(axis=1) * self.dz).sum(axis=1)
        prev14 = np.concatenate([[float((c0.T * MG_CM3).sum(axis=0) @ self.dz)], c14_tot[:-1]])
        ds["c14_balance_residual"] = (("time",), input14 - (c14_tot - prev14) - (
            (rr14.T * MG_CM3 * HOURS_PER_YEAR * self.dz).sum(axis=1) + (dec * self.dz).sum(axis=1)) * step_years, {
            "units": netcdf.STOCK, "cell_methods": "time: sum",
            "long_name": "14C (x fraction modern): input - change - respiration - decay during the step"})

    def spinup(self, forcing: xr.Dataset, params=None, *, tol: float = 1e-4, max_years: int = 20000,
               initial=None, parameter_set: str | None = None) -> xr.Dataset:
        """Spin-up by time stepping as in seed 003 (backward Euler at ``substep_hours``, the
        forcing cycle repeated every year) until no pool changes by more than ``tol``
        (relative; seed 003: 1e-4) between successive years. ``initial``: (7, nlev) g C m-3,
        default the solver's first guess (mim_initial_guess, arbitrary proportions)."""
        theta = self.param_vector(params, parameter_set)
        prep = self.prepare(forcing)
        args = (self.dz, np.asfortranarray(theta), prep["clay"][:, 0], prep["tsoi"][:, :, 0], prep["wsc"][:, :, 0],
                prep["litter"][:, 0])
        if initial is None:
            x0, st = _k.initial_guess(*args, self.kin, 1)
            if st != _status.OK:
                raise KernelError(self.explain_status(forcing, theta, int(st)), code=int(st))
        else:
            x0 = (np.asarray(initial, float) / MG_CM3).T
        x, years, change, status = _k.spinup(*args, float(self.options["substep_hours"]), float(tol),
                                             int(max_years), np.asfortranarray(x0), self.kin)
        ds = self._state_dataset(x.T * MG_CM3)
        ds["years"] = ((), int(years), {"units": "yr", "long_name": "years of spin-up"})
        ds["last_change"] = ((), float(change), {"units": "1",
                                                 "long_name": "largest relative pool change in the last year"})
        ds["status"] = status_dataarray(status)
        ds.attrs["mode"] = "spinup"
        return self._attach_params(ds, theta)

    def transient_steps(self, forcing: xr.Dataset, n_years: int | None = None) -> tuple[int, int]:
        """The forcing's steps are equal parts of one year, repeated ``n_years``."""
        nt = forcing.sizes["time"]
        return nt * (1 if n_years is None else int(n_years)), nt

    def probe_forcing(self, forcing: xr.Dataset) -> xr.Dataset:
        return forcing

    # ---- labelled output ----------------------------------------------------------------------------
    def _state_dataset(self, pools: np.ndarray, time: int | None = None, years=None, step_days=None) -> xr.Dataset:
        tc = None
        if time is not None:
            t0 = float(self.options["start_year"])
            tc = self.time_coords(step_days, start_year=int(np.floor(t0)),
                                  offset_days=(t0 - np.floor(t0)) * 365.0)
            tc["year"] = (("time",), np.asarray(years, float), {"long_name": "decimal year AD (middle of the step)",
                                                                "units": "1"})
        ds = self.layered_dataset(pools, list(SOC_IDX), "soil organic carbon (MICr+MICk+SOMp+SOMc+SOMa)",
                                  [0, 1], "litter stock (LITm+LITs) of the column", tc,
                                  cpools_long_name="carbon concentration per pool and layer "
                                                   "(1 mg C cm-3 = 1000 g C m-3)")
        dims = ("pool", "level") if time is None else ("time", "pool", "level")
        ds["total_stock"] = (dims[:-2], (pools * self.dz).sum(axis=(-2, -1)), {
            "units": "g C m-2", "long_name": "carbon in all seven pools of the column (MIMSOC)"})
        return ds

    def _attach_params(self, ds: xr.Dataset, theta: np.ndarray) -> xr.Dataset:
        return self.attach_params(ds, theta)

    # ---- capability -----------------------------------------------------------------------------
    def site_forcing(self, profile, npp: str = "miami") -> xr.Dataset:
        """Forcing of one profile from its covariates (capability; :func:`site_forcing`).

        Parameters
        ----------
        profile : pysoc.io.profiles.Profile
            The profile (covariates with MAT, MAP and clay; meta with land cover, obs_year).
        npp : {'miami', 'gpp'}
            Litter input from the Miami model or 0.46 x FLUXCOM GPP.

        Returns
        -------
        xarray.Dataset
            A validated one-step forcing (the mean year).

        Raises
        ------
        DataError
            A missing covariate (named).
        """
        return site_forcing(self, profile, npp)


def reason_dataarray(code, dims=()) -> xr.DataArray:
    """The reason bits of invalid steady states as a CF bit field (flag_masks)."""
    bits = sorted(REASON_BITS)
    return xr.DataArray(np.asarray(code, dtype=np.int32), dims=dims, attrs={
        "long_name": "reason of an invalid steady state (bit field; 0: none)", "units": "1",
        "flag_masks": np.array(bits, dtype=np.int32), "flag_meanings": " ".join(REASON_BITS[b] for b in bits)})


# ---- site forcing from profile covariates (the site_forcing capability) ---------------------------------
#: fraction of the litter input entering below ground, by land cover (approximation; docs/mimics.md)
BELOW_FRACTION = {"forest": 0.35, "shrubland": 0.5, "rangeland/grassland": 0.6, "grasslands": 0.6,
                  "cultivated": 0.4, "cropland": 0.4, "tundra": 0.6}
BELOW_FRACTION_UNKNOWN = 0.5
LIGNIN_N = (20.0, 35.0)   #: lig:N of aboveground and root litter (approximation; docs/mimics.md)
_SG_DEPTHS = (0.0, 0.10, 0.30, 0.60, 1.00, 2.00)


def site_forcing(model: MIMICS, profile, npp: str = "miami") -> xr.Dataset:
    """MIMICS forcing of one profile from its covariates (docs/mimics.md, "Site forcing"):
    soil temperature = the 12 monthly air temperatures of pysoc.io.site_forcing, equal at all
    depths (seed 003 §2.2); no moisture effect; clay from SoilGrids at the node depths
    (else the observed 0-30 cm clay); litter input = NPP split above/below by land cover;
    lig:N 20 (aboveground) and 35 (roots); sample_year = the profile's sampling year."""
    c = sf.site_climate(profile, npp)
    t_air = sf.soil_temperature([0.0], c["mat"], c["amplitude"], profile.lat)[:, 0]
    tsoi = np.repeat(t_air[:, None], model.nlev, axis=1)
    sg = np.array([profile.covariates.get(f"sg_clay_{int(round(d * 100))}cm_percent", np.nan) for d in _SG_DEPTHS])
    if np.isfinite(sg).sum() >= 2:
        ok = np.isfinite(sg)
        clay = np.interp(model.zsoi, np.asarray(_SG_DEPTHS)[ok], sg[ok]) / 100.0
        clay_src = "SoilGrids clay profile"
    else:
        c030 = profile.covariates.get("obs_clay_0_30cm_percent", np.nan)
        if c030 is None or not np.isfinite(c030):
            raise DataError(f"site {profile.site_id}: missing covariate 'sg_clay_*cm_percent' (or "
                            f"obs_clay_0_30cm_percent), needed for the MIMICS clay forcing")
        clay = np.full(model.nlev, float(c030) / 100.0)
        clay_src = "observed clay 0-30 cm"
    clay = np.clip(clay, 0.0, 1.0)
    lc = str((profile.meta or {}).get("land_cover", "") or "").strip().lower()
    fb = BELOW_FRACTION.get(lc, BELOW_FRACTION_UNKNOWN)
    year = (profile.meta or {}).get("obs_year", np.nan)
    year = float(year) if year is not None and np.isfinite(float(year)) and float(year) >= 1950 else np.nan
    attrs = {"site_id": profile.site_id, "lat": float(profile.lat), "lon": float(profile.lon),
             "source": "pysoc.models.mimics.site_forcing: approximate forcing from profile covariates "
                       "(docs/mimics.md)",
             "npp_g_C_m2_yr": c["npp"], "npp_method": c["npp_source"], "mat_degC": c["mat"],
             "mat_covariate": c["mat_source"], "t_amplitude_degC": c["amplitude"], "clay_source": clay_src,
             "below_fraction": fb, "land_cover_used": lc or "unknown"}
    return model.forcing_dataset(tsoi, clay, c["npp"] * (1.0 - fb), c["npp"] * fb, LIGNIN_N[0], LIGNIN_N[1],
                                 sample_year=year, attrs=attrs)


__all__ = ["MIMICS", "PARAMETERS", "FORCING", "OPTIONS", "POOLS", "REASONS", "MULTIPLIERS", "site_forcing",
           "atm_f14c", "d14c_from_f", "zone_of_latitude", "c14_schedule"]

"""CENTURY 4.x monthly ecosystem model, carbon only (nitrogen never limits).

Equations: spec models.md §0.2 and §1 (litter/SOM), century_production.md (plant
production and water); the 24 calibrated parameters, their defaults (meadow, steppe) and
prior ranges of Zhao et al. 2022 (seed 000) Table 1. The Fortran kernel
(``fortran/soc_century.f90``, ``soc_century_production.f90``) steps the model month by
month (litter/SOM with NTSPM explicit sub-steps) and provides a classic spin-up (repeat a
forcing period for N years) and a fast spin-up (exact periodic fixed point of the
period map of the 12 carbon pools, iterated with Anderson acceleration).

Forcing file (NetCDF, one site; format in ``FORCING`` and docs/century.md): monthly
``tmax``, ``tmin`` (degC) and ``prec`` (mm month-1) over whole years starting in January,
site scalars (latitude, elevation, sand, clay, bulk density, pH, ...) and optionally a
spin-up climate ``tmax_spinup``/``tmin_spinup``/``prec_spinup`` (dimension
``spinup_time``, whole years) that is repeated during the spin-up; without it the
forcing itself is the spin-up period.

SOC density 0-30 cm (``soc_0_30``, kg C m-2) is the soil SOM (soil SOM1 + SOM2 + SOM3);
Century's soil is one bulk layer, taken here as 0-30 cm (the depth the seed-000 study
compares with). Litter, surface microbes and the surface SOM2 pool are not counted.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import xarray as xr

from pysoc import _status
from pysoc._kernels import century as _k
from pysoc.errors import ConfigError, DataError, KernelError, ParameterError
from pysoc.forcing import ForcingSchema, VariableSpec
from pysoc.io import netcdf
from pysoc.io.namelist import Group, Key
from pysoc.models.base import BatchResult, SoilCarbonModel, mass_balance_residual, status_dataarray
from pysoc.params import ParameterSpec, ParameterTable, as_2d, increasing, positive, sum_at_most

NPOOL, NSTATE, NOUT, NSITEV, NOPT = 9, 23, 24, 13, 8
SOIL_DEPTH = 0.3   #: m, the depth represented by the soil SOM pools (SOC density 0-30 cm)

POOLS = ("strucc_surface", "metabc_surface", "strucc_soil", "metabc_soil", "som1c_surface",
         "som1c_soil", "som2c_soil", "som3c", "som2c_surface")
POOL_LONG_NAMES = ("surface structural litter", "surface metabolic litter", "soil structural litter",
                   "soil metabolic litter", "surface SOM1 (surface microbes)", "soil SOM1 (active)",
                   "soil SOM2 (slow)", "SOM3 (passive)", "surface SOM2 (slow, surface)")
PLANT_POOLS = ("aglivc", "bglivc", "stdedc")
PLANT_LONG_NAMES = ("live shoots", "live roots", "standing dead")
#: kernel state vector (soc_century.f90)
STATE = POOLS + PLANT_POOLS + ("strlig_surface", "strlig_soil", "snow", "snlq", "asmos1", "asmos2",
                               "asmos3", "asmos4", "asmos_tank", "avh2o1", "avh2o3")
#: kernel monthly outputs (soc_century.f90, y_*)
OUTPUTS = ("npp", "rh", "nep", "leach", "npp_ag", "npp_bg", "pet", "aet", "defac", "tfunc", "wfunc",
           "stemp", "ctemp", "rprpet", "h2ogef", "potprd", "shoot_death", "fall", "root_death",
           "outflow", "runoff", "evap", "tran", "melt")
OUTPUT_META = {
    "npp": ("g C m-2 month-1", "net primary production"),
    "rh": ("g C m-2 month-1", "heterotrophic respiration"),
    "nep": ("g C m-2 month-1", "net ecosystem production NPP - Rh (positive = uptake)"),
    "leach": ("g C m-2 month-1", "organic carbon leaching"),
    "npp_ag": ("g C m-2 month-1", "aboveground NPP"),
    "npp_bg": ("g C m-2 month-1", "belowground NPP"),
    "pet": ("cm month-1", "potential evapotranspiration"),
    "aet": ("cm month-1", "actual evapotranspiration (evaporation + transpiration)"),
    "defac": ("1", "decomposition factor tfunc x wfunc"),
    "tfunc": ("1", "temperature effect on decomposition"),
    "wfunc": ("1", "moisture effect on decomposition"),
    "stemp": ("degC", "soil surface temperature seen by decomposition (0 under snow)"),
    "ctemp": ("degC", "soil surface temperature of production (live-shoot shading)"),
    "rprpet": ("1", "ratio of available water to PET (decomposition)"),
    "h2ogef": ("1", "moisture effect on production"),
    "potprd": ("1", "temperature effect on production (PPDF curve)"),
    "shoot_death": ("g C m-2 month-1", "live shoots -> standing dead"),
    "fall": ("g C m-2 month-1", "standing dead -> surface litter"),
    "root_death": ("g C m-2 month-1", "live roots -> soil litter"),
    "outflow": ("cm month-1", "water leaving the column (storm flow, base flow, runoff)"),
    "runoff": ("cm month-1", "surface runoff"),
    "evap": ("cm month-1", "evaporation and sublimation"),
    "tran": ("cm month-1", "transpiration"),
    "melt": ("cm month-1", "liquid water leaving the snow pack"),
}

# ---------------------------------------------------------------------------------------------
# parameters (order = kernel parameter vector; 1..24 = seed 000 Table 1)
# ---------------------------------------------------------------------------------------------
P = ParameterSpec
_NN = dict(lower=0.0)                                  # >= 0
_POS = dict(lower=0.0, lower_inclusive=False)          # > 0
_FRAC = dict(lower=0.0, upper=1.0)                     # [0, 1]

#: the 24 parameters calibrated in seed 000 (Table 1), by their CENTURY names
CALIBRATED = ("PRDX(1)", "PPDF(1)", "PPDF(2)", "PPDF(3)", "PPDF(4)", "PPRPTS(3)", "FSDETH(1)", "FALLRT",
              "RDR", "DEC3(1)", "DEC3(2)", "DEC4", "DEC5(1)", "DEC5(2)", "TEFF(1)", "TEFF(2)", "TEFF(3)",
              "P1CO2A(1)", "P1CO2A(2)", "P1CO2B(1)", "P1CO2B(2)", "P2CO2(1)", "P2CO2(2)", "P3CO2")

_SPECS = (
    # ---- seed 000 Table 1: default (meadow) and prior range ----
    P("PRDX(1)", "g m-2 month-1 (ly d-1)-1", 0.5, 0.3, 1.0,
      "potential production coefficient on extraterrestrial radiation (biomass; Century 4.5+ form)", **_NN),
    P("PPDF(1)", "degC", 18.0, 10.0, 25.0, "optimum temperature of production (Poisson density curve)"),
    P("PPDF(2)", "degC", 37.0, 25.0, 50.0, "maximum temperature of production (no production above)"),
    P("PPDF(3)", "1", 1.0, 0.5, 1.5, "left shape of the production temperature curve", **_POS),
    P("PPDF(4)", "1", 3.0, 2.0, 5.0, "right shape of the production temperature curve", **_POS),
    P("PPRPTS(3)", "1", 0.8, 0.7, 0.9, "lowest ratio of available water to PET without restriction of production",
      **_POS),
    P("FSDETH(1)", "month-1", 0.2, 0.1, 0.25, "maximum shoot death fraction per month (very dry)", **_FRAC),
    P("FALLRT", "month-1", 0.15, 0.1, 0.25, "fraction of standing dead falling to litter per month", **_FRAC),
    P("RDR", "month-1", 0.2, 0.1, 0.25, "maximum root death fraction per month (very dry soil)", **_FRAC),
    P("DEC3(1)", "yr-1", 6.0, 5.0, 8.0, "maximum decomposition rate of surface SOM1", **_NN),
    P("DEC3(2)", "yr-1", 7.3, 6.0, 10.0, "maximum decomposition rate of soil SOM1", **_NN),
    P("DEC4", "yr-1", 0.0066, 0.004, 0.008, "maximum decomposition rate of SOM3", **_NN),
    P("DEC5(1)", "yr-1", 0.2, 0.1, 0.3, "maximum decomposition rate of surface SOM2", **_NN),
    P("DEC5(2)", "yr-1", 0.2, 0.1, 0.3, "maximum decomposition rate of soil SOM2", **_NN),
    P("TEFF(1)", "degC", 15.4, 10.0, 20.0, "x of the inflection point of the decomposition temperature function"),
    P("TEFF(2)", "1", 11.75, 5.0, 15.0, "y of the inflection point of the decomposition temperature function"),
    P("TEFF(3)", "1", 29.7, 25.0, 35.0, "step size of the decomposition temperature function", **_POS),
    P("P1CO2A(1)", "1", 0.6, 0.4, 0.8, "CO2 loss fraction of surface SOM1 decomposition (intercept)", **_FRAC),
    P("P1CO2A(2)", "1", 0.17, 0.15, 0.19, "CO2 loss fraction of soil SOM1 decomposition (intercept)", **_FRAC),
    P("P1CO2B(1)", "1", 0.0, 0.0, 0.2, "CO2 loss fraction of surface SOM1 decomposition (slope on sand)", **_FRAC),
    P("P1CO2B(2)", "1", 0.68, 0.6, 0.75, "CO2 loss fraction of soil SOM1 decomposition (slope on sand)", **_FRAC),
    P("P2CO2(1)", "1", 0.55, 0.5, 0.6, "CO2 loss fraction of surface SOM2 decomposition", **_FRAC),
    P("P2CO2(2)", "1", 0.55, 0.5, 0.6, "CO2 loss fraction of soil SOM2 decomposition", **_FRAC),
    P("P3CO2", "1", 0.55, 0.5, 0.6, "CO2 loss fraction of SOM3 decomposition", **_FRAC),
    # ---- litter / SOM (fix.100; Parton et al. 1987 values, models.md §1.7) ----
    P("TEFF(4)", "degC-1", 0.031, 0.02, 0.04, "slope of the decomposition temperature function", **_POS),
    P("DEC1(1)", "yr-1", 3.9, 2.0, 6.0, "maximum decomposition rate of surface structural litter", **_NN),
    P("DEC1(2)", "yr-1", 4.9, 3.0, 7.0, "maximum decomposition rate of soil structural litter", **_NN),
    P("DEC2(1)", "yr-1", 14.8, 8.0, 20.0, "maximum decomposition rate of surface metabolic litter", **_NN),
    P("DEC2(2)", "yr-1", 18.5, 12.0, 25.0, "maximum decomposition rate of soil metabolic litter", **_NN),
    P("PLIGST(1)", "1", 3.0, 2.0, 4.0, "lignin effect on surface structural decomposition", **_NN),
    P("PLIGST(2)", "1", 3.0, 2.0, 4.0, "lignin effect on soil structural decomposition", **_NN),
    P("RSPLIG", "1", 0.3, 0.2, 0.4, "CO2 loss fraction of lignin -> SOM2", **_FRAC),
    P("PS1CO2(1)", "1", 0.45, 0.35, 0.55, "CO2 loss fraction of surface structural -> SOM1", **_FRAC),
    P("PS1CO2(2)", "1", 0.55, 0.45, 0.65, "CO2 loss fraction of soil structural -> SOM1", **_FRAC),
    P("PMCO2(1)", "1", 0.55, 0.45, 0.65, "CO2 loss fraction of surface metabolic -> SOM1", **_FRAC),
    P("PMCO2(2)", "1", 0.55, 0.45, 0.65, "CO2 loss fraction of soil metabolic -> SOM1", **_FRAC),
    P("PS1S3(1)", "1", 0.003, 0.001, 0.005, "soil SOM1 -> SOM3 fraction (intercept)", **_NN),
    P("PS1S3(2)", "1", 0.032, 0.02, 0.04, "soil SOM1 -> SOM3 fraction (slope on clay)", **_NN),
    P("PS2S3(1)", "1", 0.003, 0.001, 0.005, "soil SOM2 -> SOM3 fraction (intercept)", **_NN),
    P("PS2S3(2)", "1", 0.009, 0.005, 0.013, "soil SOM2 -> SOM3 fraction (slope on clay)", **_NN),
    P("PEFTXA", "1", 0.25, 0.15, 0.35, "texture effect on soil SOM1 decomposition (intercept)", **_NN),
    P("PEFTXB", "1", 0.75, 0.5, 1.0, "texture effect on soil SOM1 decomposition (slope on sand)", **_NN),
    P("SPL(1)", "1", 0.85, 0.75, 0.95, "metabolic fraction of residue (intercept)", **_FRAC),
    P("SPL(2)", "1", 0.013, 0.008, 0.018, "metabolic fraction of residue (slope on lignin:N)", **_NN),
    P("STRMAX(1)", "g C m-2", 5000.0, 2500.0, 7500.0, "maximum decomposable surface structural C", **_POS),
    P("STRMAX(2)", "g C m-2", 5000.0, 2500.0, 7500.0, "maximum decomposable soil structural C", **_POS),
    P("ANEREF(1)", "1", 1.5, 1.0, 2.0, "water/PET ratio above which anaerobic effects start", **_NN),
    P("ANEREF(2)", "1", 3.0, 2.5, 3.5, "water/PET ratio of the maximum anaerobic effect", **_NN),
    P("ANEREF(3)", "1", 0.3, 0.2, 0.4, "minimum anaerobic decomposition factor", **_FRAC),
    P("ANIMPT", "1", 5.0, 3.0, 7.0, "anaerobic effect on the flows to SOM3", **_NN),
    P("OMLECH(1)", "1", 0.03, 0.02, 0.04, "organic leaching fraction of soil SOM1 flow (intercept)", **_NN),
    P("OMLECH(2)", "1", 0.12, 0.08, 0.16, "organic leaching fraction of soil SOM1 flow (slope on sand)", **_NN),
    P("OMLECH(3)", "cm month-1", 60.0, 30.0, 90.0, "water flow out of layer 2 giving full leaching (models.md "
      "§1.7 value, UNVERIFIED)", **_POS),
    P("CMIX", "yr-1", 0.25, 0.1, 0.5, "mixing rate of surface SOM2 into soil SOM2 (DayCent crop.100)", **_NN),
    # ---- production, death, water (crop.100 / fix.100; century_production.md §11) ----
    P("PPRPTS(1)", "1", 0.0, 0.0, 0.2, "water/PET ratio stopping production at zero available water capacity"),
    P("PPRPTS(2)", "1", 1.0, 0.5, 1.5, "effect of available water capacity on PPRPTS(1)", **_NN),
    P("FSDETH(2)", "1", 0.95, 0.6, 1.0, "shoot death fraction in the senescence month", lower=0.0, upper=1.0),
    P("FSDETH(3)", "month-1", 0.2, 0.1, 0.3, "additional shoot death when live shoots exceed FSDETH(4)", **_FRAC),
    P("FSDETH(4)", "g C m-2", 150.0, 100.0, 200.0, "live-shoot carbon above which shading adds death", **_NN),
    P("RTDTMP", "degC", 0.0, -2.0, 4.0, "no root death below this soil surface temperature (alpine NWT value)"),
    P("BIOK5", "g C m-2", 60.0, 30.0, 90.0, "dead material halving production (obstruction)", **_POS),
    P("PMXBIO", "g m-2", 600.0, 400.0, 800.0, "maximum shading biomass in surface temperature", **_POS),
    P("PMXTMP", "m2 g-1", -0.0035, -0.005, -0.002, "effect of biomass on the surface maximum temperature"),
    P("PMNTMP", "degC m2 g-1", 0.004, 0.002, 0.006, "effect of biomass on the surface minimum temperature"),
    P("ELITST", "1", 0.4, 0.2, 0.6, "weight of surface litter in shading", **_NN),
    P("AGPPA", "1", -40.0, -50.0, -30.0, "Great-Plains root:shoot, shoot intercept"),
    P("AGPPB", "cm-1", 7.7, 6.0, 9.0, "Great-Plains root:shoot, shoot slope on precipitation"),
    P("BGPPA", "1", 100.0, 80.0, 120.0, "Great-Plains root:shoot, root intercept"),
    P("BGPPB", "cm-1", 7.0, 5.0, 9.0, "Great-Plains root:shoot, root slope on precipitation"),
    P("CFRTCW(1)", "1", 0.6, 0.4, 0.8, "root fraction at maximum water stress (perennial allocation)", **_FRAC),
    P("CFRTCW(2)", "1", 0.2, 0.1, 0.4, "root fraction without water stress (perennial allocation)", **_FRAC),
    P("CFRTCN(2)", "1", 0.25, 0.1, 0.4, "root fraction without nutrient stress (perennial allocation)", **_FRAC),
    P("FLIGNI(1,1)", "1", 0.02, 0.01, 0.05, "shoot lignin fraction, intercept"),
    P("FLIGNI(2,1)", "cm-1", 0.0012, 0.0006, 0.002, "shoot lignin fraction, slope on annual precipitation"),
    P("FLIGNI(1,2)", "1", 0.26, 0.2, 0.32, "root lignin fraction, intercept"),
    P("FLIGNI(2,2)", "cm-1", -0.0015, -0.002, -0.001, "root lignin fraction, slope on annual precipitation"),
    P("CNRES(1)", "1", 37.0, 25.0, 60.0, "C/N of aboveground residue (standing dead; century_production.md "
      "§9.6, CPR live C/N 25 with CRPRTF 0.3, VLOSSP 0.04)", **_POS),
    P("CNRES(2)", "1", 50.0, 35.0, 70.0, "C/N of root residue (PRBMN(1,1) of the alpine NWT option)", **_POS),
    P("DECK5", "cm", 5.0, 3.0, 8.0, "available water halving root death", **_POS),
    P("FWLOSS(1)", "1", 0.8, 0.6, 1.0, "scaling of interception loss", **_FRAC),
    P("FWLOSS(2)", "1", 0.8, 0.6, 1.0, "scaling of bare-soil evaporation", **_FRAC),
    P("FWLOSS(4)", "1", 0.8, 0.6, 1.0, "scaling of PET", **_POS),
    P("TMELT(1)", "degC", 0.0, -2.0, 2.0, "minimum air temperature for snow melt"),
    P("TMELT(2)", "cm ly-1 degC-1", 0.002, 0.001, 0.003, "snow melt per degree and langley", **_NN),
)

#: seed 000 Table 1 defaults that differ between the ecosystems (footnotes a-c)
STEPPE = {"PPDF(1)": 16.0, "PPDF(2)": 31.0, "PPDF(4)": 3.5}
#: SOM rate sets of the regression targets (models.md §1.7, §6.5)
PARTON1987 = {"DEC3(2)": 7.3, "DEC5(1)": 0.2, "DEC5(2)": 0.2, "DEC4": 0.0045, "PS1S3(2)": 0.032}
CENTURY45_LAPIG = {"DEC3(2)": 8.0, "DEC5(1)": 0.32, "DEC5(2)": 0.32, "DEC4": 0.0059, "PS1S3(2)": 0.022}

#: posterior means of seed 000 Table 1 (M_Opt1, M_Opt2: meadow calibrated on SOC density, on
#: SOC density + monthly NEP; S_Opt1: steppe on SOC density). The S_Opt2 column is incomplete in
#: the available text of the paper (P1CO2A(2) .. P3CO2 missing) and is not provided.
_T1 = ("PRDX(1)", "PPDF(1)", "PPDF(2)", "PPDF(3)", "PPDF(4)", "PPRPTS(3)", "FSDETH(1)", "FALLRT", "RDR",
       "DEC3(1)", "DEC3(2)", "DEC4", "DEC5(1)", "DEC5(2)", "TEFF(1)", "TEFF(2)", "TEFF(3)", "P1CO2A(1)",
       "P1CO2A(2)", "P1CO2B(1)", "P1CO2B(2)", "P2CO2(1)", "P2CO2(2)", "P3CO2")
MEADOW_OPT1 = dict(zip(_T1, (0.52, 15.70, 40.06, 0.99, 3.22, 0.80, 0.19, 0.15, 0.17, 6.53, 8.15, 0.0062, 0.20, 0.23,
                             13.71, 12.13, 29.65, 0.61, 0.17, 0.10, 0.68, 0.55, 0.56, 0.55)))
MEADOW_OPT2 = dict(zip(_T1, (0.44, 18.59, 42.44, 1.04, 3.16, 0.81, 0.16, 0.16, 0.19, 6.02, 7.32, 0.0060, 0.20, 0.20,
                             14.83, 12.06, 29.90, 0.57, 0.17, 0.09, 0.68, 0.53, 0.55, 0.55)))
STEPPE_OPT1 = dict(zip(_T1, (0.49, 16.02, 39.83, 0.97, 3.38, 0.81, 0.15, 0.16, 0.16, 6.55, 7.79, 0.0060, 0.19, 0.22,
                             14.36, 12.19, 29.67, 0.60, 0.17, 0.11, 0.67, 0.55, 0.55, 0.55)))

PARAMETERS = ParameterTable("century", _SPECS, default_set="meadow", constraints=(
    increasing(("PPDF(1)", "PPDF(2)"), description="maximum > optimum temperature of production"),
    sum_at_most(("P1CO2A(1)", "P1CO2B(1)"), 1.0, "respired fraction of surface SOM1 at full sand"),
    sum_at_most(("P1CO2A(2)", "P1CO2B(2)"), 1.0, "respired fraction of soil SOM1 at full sand"),
    positive(("TEFF(1)", "TEFF(2)", "TEFF(3)", "TEFF(4)"), lambda a, b, c, d: _catanf(30.0, a, b, c, d),
             "the temperature function at 30 degC"),
    increasing(("ANEREF(1)", "ANEREF(2)"), description="ratios of rain + irrigation to PET of the anaerobic "
                                                       "effect"),
    increasing(("PPRPTS(1)", "PPRPTS(3)"), description="water line of production"),
))
PARAMETERS.named_sets["meadow"] = {}
PARAMETERS.named_sets["steppe"] = dict(STEPPE)
PARAMETERS.named_sets["parton1987"] = dict(PARTON1987)
PARAMETERS.named_sets["century45_lapig"] = dict(CENTURY45_LAPIG)
PARAMETERS.named_sets["meadow_opt1"] = dict(MEADOW_OPT1)
PARAMETERS.named_sets["meadow_opt2"] = dict(MEADOW_OPT2)
PARAMETERS.named_sets["steppe_opt1"] = {**STEPPE, **STEPPE_OPT1}

_IDX = {n: i for i, n in enumerate(PARAMETERS.names)}

# ---------------------------------------------------------------------------------------------
# forcing and options
# ---------------------------------------------------------------------------------------------
FORCING = ForcingSchema("century", [
    VariableSpec("tmax", ("time",), "degC", "monthly mean of the daily maximum air temperature", -80.0, 60.0),
    VariableSpec("tmin", ("time",), "degC", "monthly mean of the daily minimum air temperature", -90.0, 60.0),
    VariableSpec("prec", ("time",), "mm month-1", "monthly precipitation", 0.0, 5000.0),
    VariableSpec("latitude", (), "degrees_north", "site latitude", -89.0, 89.0),
    VariableSpec("elevation", (), "m", "site elevation (used by the Linacre PET option only)", -500.0, 9000.0,
                 required=False, default=0.0),
    VariableSpec("sand", (), "1", "sand fraction of the topsoil", 0.0, 1.0),
    VariableSpec("clay", (), "1", "clay fraction of the topsoil", 0.0, 1.0),
    VariableSpec("bulk_density", (), "g cm-3", "fine-earth bulk density of the topsoil", 0.1, 2.65),
    VariableSpec("ph", (), "1", "soil pH (used only with the pH option)", 1.0, 14.0, required=False, default=7.0),
    VariableSpec("soil_om_c", (), "g C m-2", "soil organic carbon of the top 20 cm for the organic-matter term of "
                 "field capacity and wilting point (Century somsc)", 0.0, 1.0e5, required=False, default=5000.0),
    VariableSpec("drain", (), "1", "drainage (1 = well drained: no anaerobic effect)", 0.0, 1.0,
                 required=False, default=1.0),
    VariableSpec("senescence_month", (), "1", "month of shoot senescence (FSDETH(2) death, no growth); 0 = none",
                 0.0, 12.0, required=False, default=10.0, integer=True),
    VariableSpec("runoff_fraction", (), "1", "fraction of water above runoff_threshold that runs off (FRACRO)",
                 0.0, 1.0, required=False, default=0.15),
    VariableSpec("runoff_threshold", (), "cm month-1", "water input without runoff (PRECRO)", 0.0, 100.0,
                 required=False, default=8.0),
    VariableSpec("stormflow_fraction", (), "1", "fraction of drainage leaving as storm flow (STORMF)", 0.0, 1.0,
                 required=False, default=0.6),
    VariableSpec("baseflow_fraction", (), "1", "fraction of the holding tank leaving as base flow (BASEF)",
                 0.0, 1.0, required=False, default=0.3),
], doc="Monthly climate and site description of the CENTURY kernel (one site).")

SPINUP_FORCING = ForcingSchema("century", [
    VariableSpec("tmax_spinup", ("spinup_time",), "degC", "spin-up period: tmax", -80.0, 60.0),
    VariableSpec("tmin_spinup", ("spinup_time",), "degC", "spin-up period: tmin", -90.0, 60.0),
    VariableSpec("prec_spinup", ("spinup_time",), "mm month-1", "spin-up period: precipitation", 0.0, 5000.0),
], doc="Optional (detrended) climate period repeated during the spin-up.")

_SITE_VARS = ("latitude", "elevation", "sand", "clay", "bulk_density", "ph", "soil_om_c", "drain",
              "runoff_fraction", "runoff_threshold", "stormflow_fraction", "baseflow_fraction", "senescence_month")

OPTIONS = Group("century", (
    Key("surface_som2", "bool", True, "9-pool layout with a surface SOM2 pool (Century 4.6/DayCent); "
        ".false. gives the 8-pool Century 4.5 layout"),
    Key("ph_effect", "bool", False, "pH effect on decomposition (Century 4.7/DayCent arctangent functions)"),
    Key("pet_method", "str", "hargreaves", "PET: Century 4.5 Hargreaves form, or Century 4.0 Linacre with the "
        "site elevation", choices=("hargreaves", "linacre")),
    Key("allocation", "str", "great_plains", "root fraction of production: Great-Plains equation of annual "
        "precipitation (FRTCINDX 0), or perennial water-stress form (FRTCINDX 1)",
        choices=("great_plains", "perennial")),
    Key("swflag", "int", 1, "field capacity / wilting point: 1, 2 Gupta & Larson (-0.33, -0.10 bar), "
        "3, 4 Rawls et al.", min=1, max=4),
    Key("organic_leaching", "bool", False, "leaching of soil SOM1 carbon with water draining below layer 2"),
    Key("obstruction", "bool", True, "reduction of production by standing dead and litter (BIOFLG = 1)"),
    Key("ntspm", "int", 4, "decomposition sub-steps per month (NTSPM)", min=1, max=100),
    Key("spinup", "str", "fast", "spin-up before 'steady_state' runs and evaluations: fast matrix fixed point "
        "or classic repetition of the spin-up period", choices=("fast", "classic")),
    Key("spinup_years", "int", 4000, "years of the classic spin-up (seed 000: 4000)", min=1, max=1000000),
    Key("spinup_tol", "float", 1e-6, "fast spin-up: stop when the largest pool change over an iteration is "
        "below spinup_tol x total carbon; classic: stop early when the total changes less than this over a "
        "period (0 = run all spinup_years)", min=0.0, max=0.1),
    Key("spinup_maxit", "int", 200, "fast spin-up: maximum number of periods (iterations)", min=2, max=100000),
    Key("initial_rwcf", "float", 0.5, "initial relative water content of the soil layers", min=0.0, max=1.0),
    Key("gpp_cue", "float", 0.5, "carbon-use efficiency NPP/GPP that expresses CENTURY's production (NPP; the "
        "carbon-only kernel has no autotrophic respiration) as GPP for comparison with tower GPP: output "
        "gpp_monthly = npp / gpp_cue (docs/century.md)", min=0.05, max=1.0),
), doc="Options of the CENTURY kernel.")

_OPT_CODES = {"pet_method": {"hargreaves": 0, "linacre": 1}, "allocation": {"great_plains": 0, "perennial": 1}}


def _catanf(x, a, b, c, d):
    return b + (c / math.pi) * math.atan(math.pi * d * (x - a))


def consistency_problems(theta: np.ndarray, sand: float | None = None, clay: float | None = None,
                         wc: float | None = None) -> list[str]:
    """Cross-parameter constraints of the kernel (spec century_production.md P3, P16), as
    messages naming the parameters; empty when the vector is consistent."""
    v = {n: float(theta[i]) for n, i in _IDX.items()}
    out = PARAMETERS.constraint_problems(theta)        # the site-independent ones, declared with the table
    if wc is not None and not v["PPRPTS(3)"] > v["PPRPTS(1)"] + v["PPRPTS(2)"] * wc:
        out.append(f"PPRPTS(3) = {v['PPRPTS(3)']:g} must exceed PPRPTS(1) + PPRPTS(2) x wc = "
                   f"{v['PPRPTS(1)'] + v['PPRPTS(2)'] * wc:g} (wc = {wc:.3f}, available water fraction of layer 1)")
    if sand is not None and clay is not None:
        anmax = 1 + v["ANIMPT"] * (1 - v["ANEREF(3)"])
        s1 = v["P1CO2A(2)"] + v["P1CO2B(2)"] * sand + (v["PS1S3(1)"] + v["PS1S3(2)"] * clay) * anmax
        if s1 > 1:
            out.append(f"soil SOM1 losses P1CO2 + PS1S3 (x anaerobic factor) = {s1:g} exceed 1")
        s2 = v["P2CO2(2)"] + (v["PS2S3(1)"] + v["PS2S3(2)"] * clay) * anmax
        if s2 > 1:
            out.append(f"soil SOM2 losses P2CO2(2) + PS2S3 (x anaerobic factor) = {s2:g} exceed 1")
    return out


class Century(SoilCarbonModel):
    """CENTURY 4.x monthly model: plant production, water, 9 litter/SOM pools (carbon only),
    one bulk soil layer 0-30 cm.

    Parameters
    ----------
    **options
        Keys of ``&century`` (:data:`OPTIONS`).

    Examples
    --------
    >>> m = Century()
    >>> m.nlev, m.bounds.tolist(), m.soc_pools, m.capabilities
    (1, [[0.0, 0.3]], ('som1c_soil', 'som2c_soil', 'som3c'), ())
    """

    name = "century"
    long_name = "CENTURY 4.x monthly ecosystem carbon model (carbon only, seed 000 configuration)"
    pools = POOLS
    pool_long_names = POOL_LONG_NAMES
    soc_pools = ("som1c_soil", "som2c_soil", "som3c")
    litter_pools = ("strucc_surface", "metabc_surface", "strucc_soil", "metabc_soil")
    temperature_variable = "tmax"
    parameters = PARAMETERS
    forcing_schema = FORCING
    options_group = OPTIONS
    observables = ("soc_profile", "soc_0_30", "nep_monthly", "npp_monthly", "rh_monthly", "gpp_monthly", "pools")
    calibrated = CALIBRATED
    references = ("Parton et al. 1987 Soil Sci. Soc. Am. J. 51 1173-1179 (CENTURY); Zhao et al. 2022 Geoderma "
                  "doi:10.1016/j.geoderma.2022.116283 (seed 000); docs/century.md")

    def __init__(self, **options):
        super().__init__(**options)
        self.set_grid([SOIL_DEPTH])           # one bulk layer 0-30 cm (nlev, dz, zisoi, zsoi, bounds)

    # ---- options ----------------------------------------------------------------------------
    def opt_vector(self) -> np.ndarray:
        o = self.options
        return np.array([int(o["surface_som2"]), int(o["ph_effect"]), _OPT_CODES["pet_method"][o["pet_method"]],
                         _OPT_CODES["allocation"][o["allocation"]], int(o["swflag"]),
                         int(o["organic_leaching"]), int(o["obstruction"]), int(o["ntspm"])], dtype=np.int32)

    # ---- forcing ------------------------------------------------------------------------------
    def load_forcing(self, path) -> xr.Dataset:
        path = str(path)
        ds = self.forcing_schema.load(path)
        try:
            with xr.open_dataset(path) as raw:
                raw = raw.load()
        except Exception as exc:  # already readable above; defensive
            raise DataError(f"{path}: cannot read as NetCDF ({exc})") from None
        return self.validate_forcing(ds, source=path, raw=raw)

    def validate_forcing(self, ds: xr.Dataset, source: str = "<dataset>", raw: xr.Dataset | None = None
                         ) -> xr.Dataset:
        """Schema check plus CENTURY rules: whole years from January without missing
        months, tmin <= tmax, sand + clay <= 1, optional spin-up climate."""
        raw = ds if raw is None else raw
        ds = self.forcing_schema.validate(ds, source=source)
        nt = ds.sizes["time"]
        _check_months(raw, "time", nt, source, "")
        bad = np.flatnonzero(ds["tmin"].values > ds["tmax"].values)
        if bad.size:
            i = int(bad[0])
            raise DataError(f"{source}: variable 'tmin' exceeds 'tmax' in {bad.size} month(s), first at time index "
                            f"{i} (tmin {float(ds['tmin'][i]):g} > tmax {float(ds['tmax'][i]):g} degC)")
        if float(ds["sand"]) + float(ds["clay"]) > 1.0:
            raise DataError(f"{source}: variables 'sand' + 'clay' = {float(ds['sand']) + float(ds['clay']):g} "
                            f"exceed 1 (fractions)")
        names = [n for n in SPINUP_FORCING.variables if n in raw]
        if names:
            sp = SPINUP_FORCING.validate(raw[names] if len(names) == 3 else raw, source=source)
            _check_months(raw, "spinup_time", sp.sizes["spinup_time"], source, " (spin-up climate)")
            bad = np.flatnonzero(sp["tmin_spinup"].values > sp["tmax_spinup"].values)
            if bad.size:
                raise DataError(f"{source}: variable 'tmin_spinup' exceeds 'tmax_spinup' in {bad.size} month(s), "
                                f"first at spinup_time index {int(bad[0])}")
            for n in sp.data_vars:
                ds[n] = sp[n]
        ds.attrs.setdefault("source_file", source)
        return ds

    def forcing_dataset(self, tmax, tmin, prec, latitude, sand, clay, bulk_density, spinup=None,
                        attrs=None, **site) -> xr.Dataset:
        """Build a forcing dataset from arrays (tmax, tmin degC, prec mm month-1 over whole
        years); ``spinup`` = (tmax, tmin, prec) of the spin-up period; other site scalars
        (elevation, ph, soil_om_c, drain, senescence_month, ...) as keywords."""
        tmax = np.asarray(tmax, float)
        nt = tmax.size
        data = {"tmax": ("time", tmax), "tmin": ("time", np.asarray(tmin, float)),
                "prec": ("time", np.asarray(prec, float)),
                "latitude": ((), float(latitude)), "sand": ((), float(sand)), "clay": ((), float(clay)),
                "bulk_density": ((), float(bulk_density))}
        for k, v in site.items():
            if k not in FORCING.variables:
                raise ConfigError(f"forcing_dataset: unknown site variable {k!r}")
            data[k] = ((), float(v))
        if spinup is not None:
            for n, v in zip(("tmax_spinup", "tmin_spinup", "prec_spinup"), spinup):
                data[n] = ("spinup_time", np.asarray(v, float))
        ds = xr.Dataset(data, coords={"time": ("time", np.arange(nt), {"units": "1", "long_name": "month index"}),
                                      "month": ("time", np.arange(nt) % 12 + 1)}, attrs=dict(attrs or {}))
        for name, spec in {**FORCING.variables, **SPINUP_FORCING.variables}.items():
            if name in ds:
                ds[name].attrs.update(units=spec.units, long_name=spec.long_name)
        ds.attrs.setdefault("Conventions", "CF-1.8")
        return self.validate_forcing(ds, source="<arrays>")

    @staticmethod
    def with_spinup_period(forcing: xr.Dataset, first_year: int = 0, n_years: int | None = None,
                           detrend: bool = True) -> xr.Dataset:
        """A copy of ``forcing`` whose spin-up climate is years first_year .. first_year +
        n_years - 1 of its monthly series (seed 000: detrended 1961-1970 repeated 4000 years).
        With ``detrend``, the linear trend over the years is removed for every calendar month
        separately, keeping the mean of the period; precipitation is then clipped at 0 and
        rescaled to the period's total of that month."""
        ny_all = forcing.sizes["time"] // 12
        n_years = ny_all - first_year if n_years is None else int(n_years)
        if first_year < 0 or n_years < 1 or first_year + n_years > ny_all:
            raise ConfigError(f"with_spinup_period: years {first_year}..{first_year + n_years - 1} are not within "
                              f"the {ny_all} years of the forcing")
        out = forcing.drop_vars([n for n in ("tmax_spinup", "tmin_spinup", "prec_spinup", "spinup_time")
                                 if n in forcing.variables])
        sl = slice(12 * first_year, 12 * (first_year + n_years))
        yrs = np.arange(n_years) - (n_years - 1) / 2.0
        for k in ("tmax", "tmin", "prec"):
            v = np.asarray(forcing[k].values[sl], float).reshape(n_years, 12)
            if detrend and n_years > 1:
                slope = (yrs[:, None] * (v - v.mean(axis=0))).sum(axis=0) / (yrs**2).sum()
                w = v - yrs[:, None] * slope
                if k == "prec":
                    w = np.clip(w, 0.0, None)
                    tot = w.sum(axis=0)
                    w = np.where(tot > 0, w * v.sum(axis=0) / np.where(tot > 0, tot, 1.0), 0.0)
                v = w
            out[k + "_spinup"] = ("spinup_time", v.ravel(), dict(forcing[k].attrs, long_name="spin-up period: " + k))
        bad = np.flatnonzero(out["tmin_spinup"].values > out["tmax_spinup"].values)
        if bad.size:   # detrending both series can cross them in a month with a tiny range
            t = out["tmin_spinup"].values.copy()
            t[bad] = out["tmax_spinup"].values[bad]
            out["tmin_spinup"] = ("spinup_time", t, out["tmin_spinup"].attrs)
        out.attrs["spinup_period"] = f"years {first_year}..{first_year + n_years - 1} of the forcing" + \
            (", detrended" if detrend else "")
        return out

    # ---- preparation --------------------------------------------------------------------------
    def prepare(self, forcing) -> dict:
        """Kernel arrays for one site or a list of sites (same number of months):
        site vectors, climate in kernel units (precipitation cm month-1)."""
        sites = forcing if isinstance(forcing, (list, tuple)) else [forcing]
        if any(isinstance(s, dict) for s in sites):
            raise ConfigError("prepare() takes forcing datasets, not prepared arrays")
        nts = {s.sizes["time"] for s in sites}
        nsps = {(s.sizes["spinup_time"] if "tmax_spinup" in s else s.sizes["time"]) for s in sites}
        if len(nts) > 1 or len(nsps) > 1:
            raise DataError("century: all sites of one evaluation need the same number of forcing months")
        site = np.empty((NSITEV, len(sites)))
        tx, tn, pr, stx, stn, spr = ([] for _ in range(6))
        for j, s in enumerate(sites):
            site[:, j] = [float(s[n]) for n in _SITE_VARS]
            tx.append(s["tmax"].values); tn.append(s["tmin"].values); pr.append(s["prec"].values / 10.0)
            if "tmax_spinup" in s:
                stx.append(s["tmax_spinup"].values); stn.append(s["tmin_spinup"].values)
                spr.append(s["prec_spinup"].values / 10.0)
            else:
                stx.append(s["tmax"].values); stn.append(s["tmin"].values); spr.append(s["prec"].values / 10.0)
        f = lambda a: np.asfortranarray(np.stack(a, axis=-1), dtype=float)  # noqa: E731
        return {"site": np.asfortranarray(site), "tmax": f(tx), "tmin": f(tn), "prec": f(pr),
                "tmax_spinup": f(stx), "tmin_spinup": f(stn), "prec_spinup": f(spr), "nsite": len(sites),
                "pann": np.array([p[:12].sum() for p in spr]), "sand": site[2], "clay": site[3]}

    # ---- kernel calls ---------------------------------------------------------------------------
    def initial_state(self, prep: dict, theta: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        st, status = _k.initial_state(theta, idx, prep["site"], self.opt_vector(),
                                      float(self.options["initial_rwcf"]), prep["pann"])
        return st, np.asarray(status)

    def spinup(self, prep: dict, theta: np.ndarray, idx: np.ndarray, state0: np.ndarray,
               method: str | None = None):
        """Spin-up of every column of theta (npar, nset) from state0 (nstate, nset)."""
        method = method or self.options["spinup"]
        m = 1 if method == "fast" else 0
        tol = float(self.options["spinup_tol"])
        st, count, status = _k.spinup_batch(theta, idx, prep["site"], self.opt_vector(), prep["tmax_spinup"],
                                            prep["tmin_spinup"], prep["prec_spinup"], state0, m,
                                            int(self.options["spinup_years"]), tol if m == 0 else max(tol, 1e-14),
                                            int(self.options["spinup_maxit"]))
        return st, np.asarray(count), np.asarray(status)

    def run_kernel(self, prep: dict, theta: np.ndarray, idx: np.ndarray, state0: np.ndarray, spinup_climate=False):
        k = "_spinup" if spinup_climate else ""
        return _k.run_batch(theta, idx, prep["site"], self.opt_vector(), prep["tmax" + k], prep["tmin" + k],
                            prep["prec" + k], state0)

    def evaluate(self, forcing, theta, observables=("soc_0_30", "nep_monthly"), site_index=None) -> BatchResult:
        """Spin-up (option ``spinup``) over the spin-up climate, then a transient run over
        the forcing months, for theta (nset, npar) physical values. Outputs: 'soc_0_30'
        (kg C m-2, mean over the run), 'soc_profile' (nset, 1) g C m-3 over 0-30 cm,
        'nep_monthly', 'npp_monthly', 'rh_monthly' (nset, ntime) g C m-2 month-1,
        'gpp_monthly' = npp_monthly / option gpp_cue (the GPP equivalent of the production),
        'pools' (nset, 9) g C m-2 (mean over the run).

        Parameters
        ----------
        forcing : xarray.Dataset or list of xarray.Dataset or dict
            A site, several sites, or the result of :meth:`prepare`.
        theta : array_like
            (nset, npar) physical parameter values.
        observables : tuple of str
            Outputs wanted.
        site_index : array_like of int, optional
            (nset,) 0-based site of each vector (default all 0).

        Returns
        -------
        BatchResult
        """
        prep = forcing if isinstance(forcing, dict) else self.prepare(forcing)
        theta2 = as_2d(theta, len(self.parameters), "century parameters")
        nset = theta2.shape[0]
        if nset == 0:
            raise ConfigError("century evaluate: no parameter vector given (theta has 0 rows)")
        th = np.asfortranarray(theta2.T)
        idx = (np.zeros(nset, np.int32) if site_index is None else np.asarray(site_index, np.int32)) + 1
        st0, status = self.initial_state(prep, th, idx)
        st, _, s2 = self.spinup(prep, th, idx, st0)
        status = np.where(status == 0, s2, status)
        states, out, s3 = self.run_kernel(prep, th, idx, st)
        status = np.where(status == 0, np.asarray(s3), status)
        pools = states[:NPOOL]                                          # (9, ntime, nset)
        soil = pools[self.soc_index].sum(axis=0)                        # (ntime, nset)
        outputs = {
            "soc_0_30": soil.mean(axis=0) / 1000.0,
            "soc_profile": (soil.mean(axis=0) / SOIL_DEPTH)[:, None],
            "nep_monthly": np.ascontiguousarray(out[2].T),
            "npp_monthly": np.ascontiguousarray(out[0].T),
            "rh_monthly": np.ascontiguousarray(out[1].T),
            "gpp_monthly": np.ascontiguousarray(out[0].T) / float(self.options["gpp_cue"]),
            "pools": np.ascontiguousarray(pools.mean(axis=1).T),
        }
        bad = status == 0
        bad &= ~np.all(np.isfinite(outputs["nep_monthly"]), axis=1)
        status = np.where(bad, _status.ERR_NONFINITE, status)
        return BatchResult(status=np.asarray(status, dtype=np.int32), outputs=outputs, depth_bounds=self.bounds)

    # ---- single runs with labelled output ---------------------------------------------------------
    def _theta(self, forcing, params, parameter_set):
        theta = self.param_vector(params, parameter_set)
        prep = self.prepare(forcing)
        th = np.asfortranarray(theta[:, None])
        idx = np.ones(1, np.int32)
        st0, status = self.initial_state(prep, th, idx)
        if status[0] != _status.OK:
            self._raise(forcing, status[0], theta, prep, "initial state")
        return theta, prep, th, idx, st0

    def _raise(self, forcing, code, theta, prep, what):
        src = forcing.attrs.get("source_file", what)
        if code == _status.ERR_PARAM:
            probs = consistency_problems(theta, float(prep["sand"][0]), float(prep["clay"][0]), self._wc(prep))
            raise ParameterError(f"{src}: century {what}: inconsistent parameters: "
                                 f"{'; '.join(probs) or 'outside the physical domain'}")
        if code == _status.ERR_FORCING:
            raise DataError(f"{src}: century {what}: site description outside its physical domain (field capacity "
                            f"must exceed wilting point; check sand, clay, bulk_density, soil_om_c)")
        if code == _status.ERR_INVALID:
            raise KernelError(f"{src}: century {what}: no steady state: structural litter grows above STRMAX, whose "
                              f"capped decomposition cannot remove the litter input (status invalid_solution)",
                              code=int(code))
        if code == _status.ERR_NOT_CONVERGED:
            raise KernelError(f"{src}: century {what}: the fast spin-up found no periodic steady state in "
                              f"spinup_maxit = {self.options['spinup_maxit']} periods (status not_converged); try "
                              f"spinup = 'classic'", code=int(code))
        raise KernelError(f"{src}: century {what} failed: {_status.name(code)} ({_status.message(code)})",
                          code=int(code))

    def _wc(self, prep) -> float:
        s = prep["site"][:, 0]
        thfc, thwp = _k.water_props(int(self.options["swflag"]), s[2], s[3], s[4], s[6])
        return float(thfc[0] - thwp[0])

    def steady_state(self, forcing: xr.Dataset, params=None, *, errors: str = "raise",
                     parameter_set: str | None = None, method: str | None = None) -> xr.Dataset:
        """Spin-up to the periodic steady state of the spin-up climate, then one period of
        it: monthly fluxes and pools of the periodic cycle and their means."""
        theta, prep, th, idx, st0 = self._theta(forcing, params, parameter_set)
        st, count, status = self.spinup(prep, th, idx, st0, method)
        if status[0] != _status.OK and errors == "raise":
            self._raise(forcing, status[0], theta, prep, "spin-up")
        states, out, s3 = self.run_kernel(prep, th, idx, st, spinup_climate=True)
        ds = self._dataset(states[:, :, 0], out[:, :, 0], st[:, 0])
        ds["status"] = status_dataarray(status[0] if status[0] else s3[0])
        ds.attrs["mode"] = "steady_state"
        ds.attrs["spinup_method"] = method or self.options["spinup"]
        ds.attrs["spinup_count"] = int(count[0])
        ds.attrs["spinup_count_units"] = "periods" if (method or self.options["spinup"]) == "fast" else "years"
        return self._attach_params(ds, theta)

    def transient(self, forcing: xr.Dataset, params=None, *, errors: str = "raise", n_years: int | None = None,
                  initial="steady_state", parameter_set: str | None = None) -> xr.Dataset:
        """Monthly run over the forcing (a 12-month forcing is repeated ``n_years``; a longer
        series runs once). ``initial``: 'steady_state' (spin-up on the spin-up climate),
        'zero' (empty pools), or a state vector (23,) as in ``STATE``."""
        theta, prep, th, idx, st0 = self._theta(forcing, params, parameter_set)
        nt = forcing.sizes["time"]
        reps = 1 if n_years is None or nt > 12 else int(n_years)
        if reps < 1:
            raise ConfigError(f"transient: n_years must be >= 1, got {n_years}")
        if isinstance(initial, str):
            if initial == "steady_state":
                st, count, status = self.spinup(prep, th, idx, st0)
                if status[0] != _status.OK and errors == "raise":
                    self._raise(forcing, status[0], theta, prep, "spin-up")
            elif initial == "zero":
                st = st0
            else:
                raise ConfigError(f"transient: initial must be 'steady_state', 'zero' or a state vector, "
                                  f"got {initial!r}")
        else:
            x0 = np.asarray(initial, float)
            if x0.shape != (NSTATE,) or not np.all(np.isfinite(x0)) or (x0 < 0).any():
                raise ConfigError(f"transient: initial state must be finite, >= 0, shape ({NSTATE},)")
            st = np.asfortranarray(x0[:, None])
        if reps > 1:
            prep = dict(prep)
            for k in ("tmax", "tmin", "prec"):
                prep[k] = np.asfortranarray(np.tile(prep[k], (reps, 1)))
        states, out, s3 = self.run_kernel(prep, th, idx, st)
        if s3[0] != _status.OK and errors == "raise":
            self._raise(forcing, s3[0], theta, prep, "transient")
        ds = self._dataset(states[:, :, 0], out[:, :, 0], st[:, 0])
        if "time" in forcing.coords and np.issubdtype(forcing["time"].dtype, np.datetime64) and reps == 1:
            ds = ds.assign_coords(date=("time", forcing["time"].values))
            netcdf.shift_time_origin(ds, int(pd.DatetimeIndex(forcing["time"].values)[0].year))
        ds["status"] = status_dataarray(s3[0])
        ds.attrs["mode"] = "transient"
        return self._attach_params(ds, theta)

    # ---- labelled output ------------------------------------------------------------------------
    def _dataset(self, states: np.ndarray, out: np.ndarray, state0: np.ndarray) -> xr.Dataset:
        nt = states.shape[1]
        ds = xr.Dataset(coords={
            **self.time_coords(netcdf.month_steps(nt)),     # CF time, noleap calendar months
            "pool": ("pool", list(POOLS), {"long_name": "litter/SOM carbon pool"}),
            "pool_long_name": ("pool", list(POOL_LONG_NAMES)),
            "plant_pool": ("plant_pool", list(PLANT_POOLS)),
            "plant_pool_long_name": ("plant_pool", list(PLANT_LONG_NAMES)),
        })
        pools = states[:NPOOL].T                                   # (time, pool)
        plant = states[NPOOL:NPOOL + 3].T
        ds["cpools"] = (("time", "pool"), pools, {"units": "g C m-2", "long_name": "carbon per litter/SOM pool at "
                                                                                   "the end of the month"})
        ds["plant"] = (("time", "plant_pool"), plant, {"units": "g C m-2", "long_name": "plant carbon at the end of "
                                                                                       "the month"})
        for i, name in enumerate(OUTPUTS):
            units, ln = OUTPUT_META[name]
            ds[name] = (("time",), out[i], {"units": units, "long_name": ln})
        soil = pools[:, self.soc_index].sum(axis=1)
        ds["soc_0_30"] = (("time",), soil / 1000.0, {"units": "kg C m-2", "long_name":
                          "SOC density 0-30 cm (soil SOM1 + SOM2 + SOM3)"})
        ds = ds.assign_coords(depth_interval=("depth_interval", ["0-30 cm"]),
                              depth_interval_bnds=(("depth_interval", "nv"), [[0.0, SOIL_DEPTH]], {"units": "m"}))
        ds["soc_stock"] = (("time", "depth_interval"), soil[:, None], {"units": "g C m-2",
                           "long_name": "SOC stock per depth interval"})
        ds["litter_stock"] = (("time",), pools[:, self.litter_index].sum(axis=1), {"units": "g C m-2",
                              "long_name": "litter carbon (surface and soil, structural and metabolic)"})
        ds["snow"] = (("time",), states[14] + states[15], {"units": "cm", "long_name": "snow water equivalent"})
        ds["soil_water"] = (("time",), states[16:20].sum(axis=0), {"units": "cm", "long_name":
                            "water in the four 15-cm layers (0-60 cm)"})
        ds["avh2o1"] = (("time",), states[21], {"units": "cm", "long_name": "plant-available water 0-60 cm"})
        total = states[:NPOOL + 3].sum(axis=0)
        prev = np.concatenate([[float(state0[:NPOOL + 3].sum())], total[:-1]])
        ds["total_carbon"] = (("time",), total, {"units": "g C m-2", "long_name": "plant + litter + SOM carbon"})
        mb, mb_attrs = mass_balance_residual(out[0], total - prev, out[1] + out[3], np.full(total.shape, 1.0 / 12.0))
        ds["mass_balance_residual"] = (("time",), mb, {**mb_attrs, "long_name": "NPP - change in plant, litter and "
                                                       "SOM carbon - Rh - leaching, as a rate over the month"})
        ds["state_end"] = (("state",), states[:, -1], {"long_name": "kernel state at the end of the run "
                                                       "(restart vector)"})
        ds = ds.assign_coords(state=("state", list(STATE)))
        return ds

    def _attach_params(self, ds: xr.Dataset, theta: np.ndarray) -> xr.Dataset:
        return self.attach_params(ds, theta)


def parton1987_matrix(ln: float, ls: float, clay: float, silt: float, surface_in: float, soil_in: float,
                     xi: float = 1.0, ks=(0.076, 0.28, 0.094, 0.35, 0.14, 0.0038, 0.00013)):
    """The linear 7-pool Parton et al. (1987) matrix model in the reading of SoilR
    ``CenturyModel`` (spec models.md §1.7; equations only): pools STR.surface, MET.surface,
    STR.below, MET.below, ACT, SLW, PAS; weekly rates ks; LN lignin:N, Ls lignin fraction of
    structural litter. Returns A = xi T K (week-1) and the inputs u (per week)."""
    fm = 0.85 - 0.018 * ln
    k = np.array(ks, float) * np.array([math.exp(-3 * ls), 1, math.exp(-3 * ls), 1,
                                        1 - 0.75 * (clay + silt), 1, 1])
    es = 0.85 - 0.68 * (clay + silt)
    t = -np.eye(7)
    t[4, 0] = (1 - ls) * (1 - 0.45)
    t[5, 0] = ls * (1 - 0.3)
    t[4, 1] = 0.45
    t[4, 2] = (1 - ls) * (1 - 0.55)
    t[5, 2] = ls * (1 - 0.3)
    t[4, 3] = 0.45
    t[5, 4] = 1 - es - 0.004
    t[6, 4] = 0.004
    t[4, 5] = 0.42
    t[6, 5] = 0.03
    t[4, 6] = 0.45
    u = np.array([surface_in * (1 - fm), surface_in * fm, soil_in * (1 - fm), soil_in * fm, 0, 0, 0])
    return xi * t @ np.diag(k), u


def linear_steady_state(a, u) -> np.ndarray:
    """x = -a^-1 u with the kernel's pivoted dense LU (KernelError when singular)."""
    x, status = _k.linear_steady(np.asfortranarray(a, dtype=float), np.asarray(u, float))
    if status != _status.OK:
        raise KernelError(f"linear steady state: {_status.name(status)} ({_status.message(status)})", code=status)
    return x


def _check_months(raw: xr.Dataset, dim: str, n: int, source: str, what: str) -> None:
    """Whole years from January, consecutive months (when the coordinate is a date)."""
    if n < 12 or n % 12:
        raise DataError(f"{source}: dimension '{dim}'{what} has {n} months; CENTURY needs whole years of "
                        f"consecutive months starting in January")
    if dim in raw.coords and np.issubdtype(raw[dim].dtype, np.datetime64):
        t = pd.DatetimeIndex(raw[dim].values)
        ym = t.year * 12 + t.month - 1
        gaps = np.flatnonzero(np.diff(ym) != 1)
        if gaps.size:
            i = int(gaps[0])
            raise DataError(f"{source}: coordinate '{dim}'{what} is not consecutive months: "
                            f"{t[i]:%Y-%m} is followed by {t[i + 1]:%Y-%m} (missing or repeated month)")
        if t[0].month != 1:
            raise DataError(f"{source}: coordinate '{dim}'{what} starts in month {t[0].month}; CENTURY needs "
                            f"whole years starting in January")
    elif "month" in raw.coords and raw["month"].dims == (dim,):
        mon = np.asarray(raw["month"].values, int)
        expect = np.arange(n) % 12 + 1
        if not np.array_equal(mon, expect):
            i = int(np.flatnonzero(mon != expect)[0])
            raise DataError(f"{source}: coordinate 'month'{what} is {mon[i]} at index {i}, expected {expect[i]} "
                            f"(missing month, or not starting in January)")


__all__ = ["Century", "PARAMETERS", "FORCING", "OPTIONS", "CALIBRATED", "POOLS", "STATE", "OUTPUTS",
           "consistency_problems", "parton1987_matrix", "linear_steady_state", "PARTON1987", "CENTURY45_LAPIG",
           "STEPPE"]

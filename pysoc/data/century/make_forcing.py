"""Build the shipped CENTURY site forcing (haibei_forcing.nc) from the documented inputs.

Not used at run time; kept to make the shipped file reproducible (see SOURCE.md).
Usage: python make_forcing.py GLOBAL_COVARIATES_NC FLUXNET_ANNUAL_CSV OUT_NC

Monthly climatology from the 19 bioclimatic variables of the 0.5 degree ISIMIP3a
GSWP3-W5E5 1980-2009 climatology (no monthly values are available in the source):
  mean temperature  T(m) = BIO1 + A cos(2 pi (m - 7)/12),  A = (BIO10 - BIO11) / (2 * 0.9107)
                    (0.9107 = mean of cos over the three months centred on the peak)
  diurnal range     DTR(m) = BIO2 + d cos(2 pi (m - 7)/12),  d = BIO5 + BIO6 - 2 BIO1
  tmax, tmin        T(m) +- DTR(m)/2
  precipitation     P(m) = BIO14 + (BIO13 - BIO14) g(m)^k,  g = (1 + cos(2 pi (m - 7)/12))/2,
                    k chosen so that sum P = BIO12 (wettest month July, driest January; the
                    wettest and the warmest quarter coincide at this cell).
Interannual variation 2002-2004: the climatology shifted by the anomaly of the measured
annual mean air temperature (TA_F) and scaled by the ratio of the measured annual
precipitation (P_F) of FLUXNET2015 site CN-HaM to their 2002-2004 means.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import xarray as xr
from scipy.optimize import brentq

LAT, LON = 37.60, 101.24          # Chen et al. 2021 profile 30 (ISRaD entry Chen_2021)
YEARS = (2002, 2003, 2004)


def climatology(bio):
    m = np.arange(1, 13)
    c = np.cos(2 * np.pi * (m - 7) / 12)
    amp = (bio[9] - bio[10]) / (2 * (1 + 2 * np.cos(np.pi / 6)) / 3)
    d = bio[4] + bio[5] - 2 * bio[0]
    tmean = bio[0] + amp * c
    dtr = bio[1] + d * c
    g = (1 + c) / 2

    def total(k):
        return np.sum(bio[13] + (bio[12] - bio[13]) * g**k) - bio[11]

    k = brentq(total, 0.01, 50.0)
    prec = bio[13] + (bio[12] - bio[13]) * g**k
    checks = {
        "BIO4 (sd*100)": (bio[3], 100 * np.std(tmean)),
        "BIO5 (max tmax)": (bio[4], np.max(tmean + dtr / 2)),
        "BIO6 (min tmin)": (bio[5], np.min(tmean - dtr / 2)),
        "BIO15 (CV %)": (bio[14], 100 * np.std(prec, ddof=1) / np.mean(prec)),
        "BIO16 (wettest quarter)": (bio[15], max(np.sum(np.roll(prec, -i)[:3]) for i in range(12))),
        "BIO17 (driest quarter)": (bio[16], min(np.sum(np.roll(prec, -i)[:3]) for i in range(12))),
    }
    return tmean + dtr / 2, tmean - dtr / 2, prec, dict(amp=amp, d=d, k=k), checks


def socd_0_30(bd=1.0):
    """SOC stock (g C m-2) of Chen et al. (2021) profile 30: organic C 5.10 % (0-10 cm) and
    2.845 % (30-50 cm), linear in depth between the layer mid-points (5 and 40 cm),
    bulk density 1.0 g cm-3, no coarse fragments."""
    z = np.linspace(0.0, 30.0, 3001)
    c = np.where(z <= 10.0, 5.10, np.interp(z, [5.0, 40.0], [5.10, 2.845]))
    dens = c / 100.0 * bd * 1.0e6 / 100.0   # g C m-2 per cm of depth
    stock = lambda a, b: float(np.trapezoid(np.where((z >= a) & (z <= b), dens, 0.0), z))  # noqa: E731
    return {"0-30": stock(0, 30), "0-20": stock(0, 20)}


def main(grid_nc, fluxnet_csv, out_nc):
    g = xr.open_dataset(grid_nc).sel(lat=LAT, lon=LON, method="nearest")
    bio = np.asarray(g["bioclim"].values, float)
    tmax, tmin, prec, fit, checks = climatology(bio)
    fx = pd.read_csv(fluxnet_csv, encoding="latin-1")
    fx = fx[fx.SITE_ID == "CN-HaM"].set_index("Year").loc[list(YEARS)]
    dta = fx.TA_F.values - fx.TA_F.values.mean()
    rp = fx.P_F.values / fx.P_F.values.mean()
    ny = len(YEARS)
    tx = np.concatenate([tmax + dta[i] for i in range(ny)])
    tn = np.concatenate([tmin + dta[i] for i in range(ny)])
    pr = np.concatenate([prec * rp[i] for i in range(ny)])
    time = pd.date_range(f"{YEARS[0]}-01-01", periods=12 * ny, freq="MS") + pd.Timedelta(days=14)
    # soil: Chen et al. (2021) profile 30, 0-10 cm laboratory texture; topsoil bulk density of
    # the 0.5 degree cell (SoilGrids 5 cm); soil_om_c = observed SOC of 0-20 cm (see SOURCE.md)
    socd = socd_0_30()
    ds = xr.Dataset(
        {
            "tmax": ("time", tx, {"units": "degC", "long_name": "monthly mean of the daily maximum air temperature"}),
            "tmin": ("time", tn, {"units": "degC", "long_name": "monthly mean of the daily minimum air temperature"}),
            "prec": ("time", pr, {"units": "mm month-1", "long_name": "monthly precipitation"}),
            "tmax_spinup": ("spinup_time", tmax, {"units": "degC", "long_name": "1980-2009 climatology of tmax"}),
            "tmin_spinup": ("spinup_time", tmin, {"units": "degC", "long_name": "1980-2009 climatology of tmin"}),
            "prec_spinup": ("spinup_time", prec, {"units": "mm month-1", "long_name": "1980-2009 climatology of prec"}),
            "latitude": ((), LAT, {"units": "degrees_north", "long_name": "site latitude"}),
            "elevation": ((), 3250.0, {"units": "m", "long_name": "site elevation (Haibei station)"}),
            "sand": ((), 0.485, {"units": "1", "long_name": "sand fraction 0-10 cm (Chen et al. 2021)"}),
            "clay": ((), 0.075, {"units": "1", "long_name": "clay fraction 0-10 cm (Chen et al. 2021)"}),
            "bulk_density": ((), float(g["bulk_density_sg_5cm"]), {"units": "g cm-3",
                             "long_name": "fine-earth bulk density 5 cm (SoilGrids, 0.5 degree cell)"}),
            "ph": ((), 7.0, {"units": "1", "long_name": "soil pH: not measured, placeholder (pH option off)"}),
            "soil_om_c": ((), socd["0-20"], {"units": "g C m-2", "long_name": "observed SOC 0-20 cm"}),
            "senescence_month": ((), 10, {"units": "1", "long_name": "senescence month (October)"}),
            "drain": ((), 1.0, {"units": "1", "long_name": "drainage"}),
        },
        coords={"time": time, "spinup_time": ("spinup_time", np.arange(12), {"units": "1",
                                                                            "long_name": "month of the climatology"})},
        attrs={
            "title": "CENTURY site forcing, Haibei alpine meadow (Qinghai, China)",
            "Conventions": "CF-1.8",
            "site_name": "Haibei alpine meadow (Chen et al. 2021 profile 30; FLUXNET2015 CN-HaM area)",
            "longitude": LON,
            "grid_cell": f"{float(g.lat)} N, {float(g.lon)} E (0.5 degree)",
            "climatology_fit": ", ".join(f"{k}={v:.4g}" for k, v in fit.items()),
            "climatology_checks": "; ".join(f"{k}: source {a:.2f}, reconstructed {b:.2f}" for k, (a, b) in checks.items()),
            "socd_0_30_kg_m2": socd["0-30"] / 1000.0,
            "source": "pysoc/data/century/SOURCE.md",
        },
    )
    ds.to_netcdf(out_nc)
    print(ds)
    for k, (a, b) in checks.items():
        print(f"{k}: source {a:.2f}  reconstructed {b:.2f}")
    print(fit)


if __name__ == "__main__":
    main(*sys.argv[1:4])


def make_observations(outdir, seed=2022, sigma=5.0):
    """Observation files of the calibration demo (see SOURCE.md):
    haibei_sites.csv / haibei_layers.csv (observed profile, SOC density 0-30 cm as covariate)
    and haibei_nep_synthetic.csv: SYNTHETIC monthly NEP = CENTURY with the seed-000 M_Opt2
    posterior means (parameter set 'meadow_opt2') + Gaussian noise (sd sigma g C m-2 month-1)."""
    from pathlib import Path

    from pysoc.models import get_model

    outdir = Path(outdir)
    model = get_model("century")
    forcing = model.load_forcing(outdir / "haibei_forcing.nc")
    socd = socd_0_30()
    pd.DataFrame({"site_id": ["haibei"], "lat": [LAT], "lon": [LON], "entry_name": ["Chen_2021"],
                  "site_name": ["30"], "land_cover": ["alpine meadow"],
                  "socd_0_30_kg_m2": [round(socd["0-30"] / 1000.0, 4)]}).to_csv(outdir / "haibei_sites.csv", index=False)
    pd.DataFrame({"site_id": ["haibei", "haibei"], "top_cm": [0.0, 30.0], "bottom_cm": [10.0, 50.0],
                  "soc_percent": [5.10, 2.845376], "bd_g_cm3": [1.0, 1.0]}).to_csv(outdir / "haibei_layers.csv",
                                                                                   index=False)
    res = model.evaluate(forcing, model.parameters.vector("meadow_opt2"))
    nep = res.outputs["nep_monthly"][0]
    rng = np.random.default_rng(seed)
    obs = nep + rng.normal(0.0, sigma, nep.size)
    pd.DataFrame({"site_id": "haibei", "month": np.arange(1, nep.size + 1),
                  "nep_g_m2_month": np.round(obs, 3)}).to_csv(outdir / "haibei_nep_synthetic.csv", index=False)
    print(f"synthetic NEP: truth annual sums {nep.reshape(-1, 12).sum(1).round(1)}, "
          f"observed {obs.reshape(-1, 12).sum(1).round(1)}")

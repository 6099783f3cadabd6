"""Build the shipped CENTURY data of the Qinghai-Tibet Plateau (QTP) experiment (seed 000):
ISRaD profiles on the plateau, the FLUXNET2015 tower-years of CN-HaM, CN-Ha2 and CN-Dan,
one monthly site forcing per site and the climate of the plateau's grassland cells.

Usage: python scripts/build_century_qtp.py GLOBAL_COVARIATES_NC FLUXNET_ANNUAL_CSV ISRAD_DIR [OUTDIR]
(OUTDIR defaults to pysoc/data/century). Not used at run time; it makes the shipped files
reproducible (pysoc/data/century/SOURCE.md documents every choice).

Site climate (``climatology``): the covariate grid holds only the 19 bioclimatic variables of
ISIMIP3a GSWP3-W5E5 1980-2009, computed (rISIMIP / processNC ``summariseNC``) from the monthly
**maximum of the daily tasmax and minimum of the daily tasmin**, not their monthly means. BIO2
is therefore the mean *monthly extreme range* (26 degC at Haibei), not the mean diurnal range,
and BIO1 the mean of the monthly extremes' mid-points. The monthly climatology is reconstructed
from BIO1, BIO10, BIO11 (sinusoidal mean temperature), BIO2, BIO5, BIO6 (range) and BIO12-BIO14
(precipitation shape), and the range is multiplied by ``DTR_FACTOR`` = the median ratio of the
WorldClim 2.1 mean diurnal range (BIO2, from daily means; ISRaD covariate of every profile) to
the grid's BIO2 at the plateau's ISRaD profiles (0.56, spread 0.49-0.63).

Transient: the forcing runs 2002-2005 (covering every tower-year) after a spin-up on the
1980-2009 climatology. The years shift the climatology along the grid's own trend
(``(mat_1990_2019 - mat) / 10`` degC yr-1, precipitation likewise as a ratio). Where a tower
exists the site's climate is corrected to the tower: annual means of the tower years equal the
measured TA_F and P_F exactly; the spin-up climate is the tower's mean minus the trend back to
1994.5 (the centre of 1980-2009).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from scipy.optimize import brentq

from pysoc.io.israd import convert_israd
from pysoc.io.profiles import pedotransfer_bd

ROOT = Path(__file__).resolve().parent.parent
BOX = dict(lat=(27.0, 40.0), lon=(75.0, 105.0))       #: QTP box of the issue / seed 000 Fig. 1
YEARS = (2002, 2003, 2004, 2005)                       #: transient years (all tower-years)
CLIM_CENTRE = 1994.5                                   #: centre of the 1980-2009 climatology
MAT_DOMAIN = 3.0                                       #: degC: grid BIO1 below this = plateau cells
COS3 = (1 + 2 * np.cos(np.pi / 6)) / 3                 #: mean of cos over the 3 months at the peak
#: FLUXNET2015 towers used (FLUXNET2015 SITE_ID -> calibration site). CN-HaM stands at the Haibei
#: station next to Chen et al. (2021) profile 30 (FLUXNET lists 37.37 N 101.18 E: the
#: degrees-minutes 37 deg 37', 101 deg 18' of the Kobresia humilis meadow tower, 37.613 N
#: 101.313 E, ChinaFLUX); its fluxes and climate go with that profile.
TOWERS = {"CN-HaM": {"profile_site_name": "30", "drain": 1.0},
          "CN-Ha2": {"profile_site_name": None, "drain": 0.0},     # IGBP WET: swamp meadow
          "CN-Dan": {"profile_site_name": None, "drain": 1.0}}
ISRAD = {"layer": "ISRaD_extra_layer.csv.gz", "profile": "ISRaD_extra_profile.csv.gz",
         "metadata": "ISRaD_extra_metadata.csv", "site": "ISRaD_extra_site.csv"}
SITE_COLUMNS = ["site_id", "lat", "lon", "entry_name", "site_name", "pro_name", "doi", "citation", "obs_year",
                "land_cover", "koppen", "meta_vegetation", "meta_tower", "socd_0_30_kg_m2",
                "obs_sand_0_30cm_percent", "obs_clay_0_30cm_percent", "mat_reported_degC", "map_reported_mm_yr",
                "wc_bio01_mat_degC", "wc_bio02_diurnal_range_degC", "wc_bio12_map_mm_yr", "cru_mat_degC",
                "cru_map_mm_yr", "sg_bd_0cm_g_cm3", "sg_bd_10cm_g_cm3", "sg_cstock_0_10cm_kg_m2",
                "sg_cstock_10_30cm_kg_m2"]


# ---- climate ---------------------------------------------------------------------------------------
def climatology(bio, dtr_factor: float = 1.0):
    """Monthly tmax, tmin (degC) and prec (mm) from the 19 bioclimatic variables ``bio``.

    T(m) = BIO1 + A cos(2 pi (m - 7)/12), A = (BIO10 - BIO11) / (2 COS3); range(m) =
    dtr_factor (BIO2 + d cos(...)), d = BIO5 + BIO6 - 2 BIO1; tmax/tmin = T +- range/2;
    P(m) = BIO14 + (BIO13 - BIO14) g^k, g = (1 + cos(...))/2, k such that sum P = BIO12.
    Returns (tmax, tmin, prec, fit, checks): fit parameters and the bioclimatic variables not
    used in the fit next to their reconstruction."""
    bio = np.asarray(bio, float)
    c = np.cos(2 * np.pi * (np.arange(1, 13) - 7) / 12)
    amp = (bio[9] - bio[10]) / (2 * COS3)
    d = bio[4] + bio[5] - 2 * bio[0]
    tmean = bio[0] + amp * c
    dtr = dtr_factor * (bio[1] + d * c)
    g = (1 + c) / 2
    span = max(bio[12] - bio[13], 0.0)
    if span <= 0 or bio[11] <= 12 * bio[13]:
        prec = np.full(12, bio[11] / 12.0)
        k = float("nan")
    else:
        k = brentq(lambda kk: np.sum(bio[13] + span * g ** kk) - bio[11], 1e-3, 200.0)
        prec = bio[13] + span * g ** k
    checks = {"BIO4": (bio[3], 100 * np.std(tmean)),
              "BIO15": (bio[14], 100 * np.std(prec, ddof=1) / np.mean(prec)),
              "BIO16": (bio[15], max(np.sum(np.roll(prec, -i)[:3]) for i in range(12))),
              "BIO17": (bio[16], min(np.sum(np.roll(prec, -i)[:3]) for i in range(12)))}
    return tmean + dtr / 2, tmean - dtr / 2, prec, dict(amp=amp, d=d, k=k, dtr_factor=dtr_factor), checks


def trends(cell) -> tuple[float, float]:
    """Linear trend of the grid cell: temperature (degC yr-1) and precipitation (ratio yr-1)
    from the two 30-year climatologies 1980-2009 and 1990-2019 (centres 10 years apart)."""
    dt = (float(cell["mat_1990_2019"]) - float(cell["mat"])) / 10.0
    pm, pm2 = float(cell["map"]), float(cell["map_1990_2019"])
    rp = (pm2 / pm) ** 0.1 if pm > 0 and pm2 > 0 else 1.0
    return dt, rp


def site_climate(cell, dtr_factor: float, tower: pd.DataFrame | None = None) -> dict:
    """Spin-up climatology and 2002-2005 series of one site (module docstring).
    ``tower``: the tower's rows of the FLUXNET annual table (Year, TA_F, P_F) or None."""
    bio = np.asarray(cell["bioclim"].values, float)
    tx, tn, pr, fit, checks = climatology(bio, dtr_factor)
    dt, rp = trends(cell)
    t_off, p_fac = 0.0, 1.0
    anom_t = {y: 0.0 for y in YEARS}
    fac_p = {y: rp ** (y - CLIM_CENTRE) for y in YEARS}
    if tower is not None:
        ty = tower["Year"].to_numpy(int)
        ybar = ty.mean()
        t_mean, p_mean = tower["TA_F"].mean(), tower["P_F"].mean()
        t_off = t_mean - (bio[0] + dt * (ybar - CLIM_CENTRE))
        p_fac = p_mean / (bio[11] * rp ** (ybar - CLIM_CENTRE))
        for y, ta, pf in zip(ty, tower["TA_F"], tower["P_F"]):
            anom_t[y] = ta - (t_mean + dt * (y - ybar))
            fac_p[y] = pf / (bio[11] * p_fac)
    series = {k: [] for k in ("tmax", "tmin", "prec")}
    for y in YEARS:
        shift = t_off + dt * (y - CLIM_CENTRE) + anom_t[y]
        series["tmax"].append(tx + shift)
        series["tmin"].append(tn + shift)
        series["prec"].append(pr * p_fac * fac_p[y])
    return {"tmax_spinup": tx + t_off, "tmin_spinup": tn + t_off, "prec_spinup": pr * p_fac,
            **{k: np.concatenate(v) for k, v in series.items()}, "fit": fit, "checks": checks,
            "t_offset": t_off, "p_factor": p_fac, "trend_t": dt, "trend_p": rp, "bio": bio}


def dtr_factor_from_profiles(sites: pd.DataFrame, grid: xr.Dataset) -> tuple[float, np.ndarray]:
    """Median ratio of the WorldClim 2.1 mean diurnal range at each profile to the grid's BIO2."""
    r = []
    for _, p in sites.iterrows():
        b2 = float(grid["bioclim"].sel(lat=p.lat, lon=p.lon, method="nearest")[1])
        r.append(p["wc_bio02_diurnal_range_degC"] / b2)
    r = np.asarray(r, float)
    return float(np.nanmedian(r)), r


# ---- profiles ---------------------------------------------------------------------------------------
def socd_0_30(top_cm, bottom_cm, density_g_m3) -> float:
    """SOC stock 0-30 cm (kg C m-2) of a profile whose layers may leave gaps: each layer's
    density over its own depths, linear in depth between layer mid-points in the gaps
    (Chen et al. 2021 sampled 0-10 and 30-50 cm)."""
    z = np.linspace(0.0, 30.0, 3001)
    top, bot, dens = (np.asarray(a, float) for a in (top_cm, bottom_cm, density_g_m3))
    mid = 0.5 * (top + bot)
    val = np.interp(z, mid, dens)
    for t, b, d in zip(top, bot, dens):
        val = np.where((z >= t) & (z <= b), d, val)
    return float(np.trapezoid(val, z) / 100.0 / 1000.0)


def qtp_profiles(israd_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """ISRaD profiles in the QTP box (pysoc.io.israd.convert_israd, one layer and any depth
    allowed), with vegetation and the SOC density 0-30 cm from the reader's conversion
    (pedotransfer bulk density where none is measured, no coarse fragments)."""
    f = {k: israd_dir / v for k, v in ISRAD.items()}
    sites, layers, rep = convert_israd(f["layer"], f["profile"], f["metadata"], f["site"], min_layers=1,
                                       min_depth_cm=0.0)
    inbox = sites.lat.between(*BOX["lat"]) & sites.lon.between(*BOX["lon"])
    sites = sites[inbox].copy()
    layers = layers[layers.site_id.isin(sites.site_id)].copy()
    pro = pd.read_csv(f["profile"], low_memory=False)[["entry_name", "site_name", "pro_name", "pro_veg_note"]]
    sites = sites.merge(pro.astype({"site_name": str}), on=["entry_name", "site_name", "pro_name"], how="left")
    sites["meta_vegetation"] = np.where(sites["pro_veg_note"].str.contains("steppe", case=False, na=False),
                                        "steppe", "meadow")
    bd = layers["bd_g_cm3"].where(layers["bd_g_cm3"] > 0, pedotransfer_bd(layers["soc_percent"]))
    coarse = layers["coarse_percent"].fillna(0.0)
    layers["_dens"] = layers["soc_percent"] / 100 * bd * 1e6 * (1 - coarse / 100)
    socd = {s: socd_0_30(g.top_cm, g.bottom_cm, g._dens) for s, g in layers.groupby("site_id")}
    sites["socd_0_30_kg_m2"] = sites.site_id.map(socd).round(4)
    sites["meta_tower"] = ""
    return sites, layers.drop(columns="_dens"), rep.text()


# ---- fluxes -------------------------------------------------------------------------------------------
def tower_table(fluxnet_csv: Path, sites: pd.DataFrame) -> pd.DataFrame:
    """Tower-years: NEP = GPP - RECO of each partitioning (day-time DT, night-time NT), their
    mean and half-difference (partitioning uncertainty), GPP likewise."""
    fx = pd.read_csv(fluxnet_csv, encoding="latin-1")
    fx = fx[fx.SITE_ID.isin(TOWERS)].sort_values(["SITE_ID", "Year"])
    rows = []
    for _, r in fx.iterrows():
        t = TOWERS[r.SITE_ID]
        if t["profile_site_name"] is not None:
            p = sites[sites.site_name.astype(str) == t["profile_site_name"]].iloc[0]
            sid, lat, lon = p.site_id, p.lat, p.lon
        else:
            sid, lat, lon = r.SITE_ID, r.LOCATION_LAT, r.LOCATION_LONG
        nep_dt, nep_nt = r.GPP_DT_VUT_REF - r.RECO_DT_VUT_REF, r.GPP_NT_VUT_REF - r.RECO_NT_VUT_REF
        rows.append({"site_id": sid, "tower": r.SITE_ID, "tower_name": r.SITE_NAME, "igbp": r.IGBP,
                     "lat": lat, "lon": lon, "year": int(r.Year), "ta_f_degC": r.TA_F, "p_f_mm": r.P_F,
                     "gpp_dt": r.GPP_DT_VUT_REF, "gpp_nt": r.GPP_NT_VUT_REF, "reco_dt": r.RECO_DT_VUT_REF,
                     "reco_nt": r.RECO_NT_VUT_REF, "nep_dt": nep_dt, "nep_nt": nep_nt,
                     "nep_g_m2_yr": 0.5 * (nep_dt + nep_nt), "nep_sd_g_m2_yr": 0.5 * abs(nep_dt - nep_nt),
                     "gpp_g_m2_yr": 0.5 * (r.GPP_DT_VUT_REF + r.GPP_NT_VUT_REF),
                     "gpp_sd_g_m2_yr": 0.5 * abs(r.GPP_DT_VUT_REF - r.GPP_NT_VUT_REF)})
    return pd.DataFrame(rows).round(4)


# ---- site forcing ---------------------------------------------------------------------------------------
def _median_fill(value: float, fallback: float) -> float:
    return float(value) if np.isfinite(value) else float(fallback)


def soil_scalars(cell, fallback: dict, sand_pct=np.nan, clay_pct=np.nan) -> dict:
    """Soil description of a site: measured texture where given, else the grid's (SoilGrids clay
    5 cm, testbed sand); bulk density SoilGrids 5 cm; soil_om_c = 2 x SoilGrids 5-15 cm stock
    (0-20 cm estimate, g C m-2). NaN grid cells take the plateau median (``fallback``)."""
    clay = clay_pct / 100 if np.isfinite(clay_pct) else _median_fill(cell["clay_sg_5cm"], fallback["clay"]) / 100
    sand = sand_pct / 100 if np.isfinite(sand_pct) else _median_fill(cell["sand_fraction_testbed"], fallback["sand"])
    sand = min(sand, 1.0 - clay)
    return {"sand": round(float(sand), 4), "clay": round(float(clay), 4),
            "bulk_density": round(_median_fill(cell["bulk_density_sg_5cm"], fallback["bd"]), 4),
            "soil_om_c": round(200.0 * _median_fill(cell["soc_stock_sg_5_15cm"], fallback["soc"]), 1)}


def forcing_dataset(clim: dict, lat: float, soil: dict, drain: float, attrs: dict) -> xr.Dataset:
    """CENTURY forcing (CF-1.8; format in docs/century.md) with a datetime month axis."""
    time = pd.date_range(f"{YEARS[0]}-01-01", periods=12 * len(YEARS), freq="MS") + pd.Timedelta(days=14)
    t = {"units": "degC"}
    data = {
        "tmax": ("time", clim["tmax"], {**t, "long_name": "monthly mean of the daily maximum air temperature"}),
        "tmin": ("time", clim["tmin"], {**t, "long_name": "monthly mean of the daily minimum air temperature"}),
        "prec": ("time", clim["prec"], {"units": "mm month-1", "long_name": "monthly precipitation"}),
        "tmax_spinup": ("spinup_time", clim["tmax_spinup"], {**t, "long_name": "1980-2009 climatology of tmax"}),
        "tmin_spinup": ("spinup_time", clim["tmin_spinup"], {**t, "long_name": "1980-2009 climatology of tmin"}),
        "prec_spinup": ("spinup_time", clim["prec_spinup"], {"units": "mm month-1",
                                                             "long_name": "1980-2009 climatology of prec"}),
        "latitude": ((), float(lat), {"units": "degrees_north", "standard_name": "latitude",
                                      "long_name": "site latitude"}),
        "sand": ((), soil["sand"], {"units": "1", "long_name": "sand fraction of the topsoil"}),
        "clay": ((), soil["clay"], {"units": "1", "long_name": "clay fraction of the topsoil"}),
        "bulk_density": ((), soil["bulk_density"], {"units": "g cm-3", "long_name": "fine-earth bulk density "
                                                    "5 cm (SoilGrids, 0.5 degree cell)"}),
        "soil_om_c": ((), soil["soil_om_c"], {"units": "g C m-2", "long_name": "SOC 0-20 cm for the "
                                              "water-holding term (2 x SoilGrids 5-15 cm stock of the cell)"}),
        "senescence_month": ((), np.int32(10), {"units": "1", "long_name": "senescence month (October)"}),
        "drain": ((), float(drain), {"units": "1", "long_name": "drainage (1 well drained, 0 poorly drained)"}),
    }
    coords = {"time": ("time", time, {"standard_name": "time", "long_name": "middle of the month"}),
              "spinup_time": ("spinup_time", np.arange(12, dtype=np.int32), {
                  "units": "1", "long_name": "month of the climatology (0 = January)"})}
    return xr.Dataset(data, coords=coords, attrs={"Conventions": "CF-1.8", **attrs,
                                                  "history": "built by scripts/build_century_qtp.py"})


def _clim_attrs(clim: dict) -> dict:
    f = clim["fit"]
    return {"climatology_fit": f"amp={f['amp']:.4g} degC, d={f['d']:.4g} degC, k={f['k']:.4g}, "
                               f"dtr_factor={f['dtr_factor']:.4g}",
            "climatology_checks": "; ".join(f"{k}: source {a:.2f}, reconstructed {b:.2f}"
                                            for k, (a, b) in clim["checks"].items()),
            "temperature_offset_degC": float(clim["t_offset"]), "precipitation_factor": float(clim["p_factor"]),
            "trend_degC_per_yr": float(clim["trend_t"]), "trend_precipitation_ratio_per_yr": float(clim["trend_p"])}


def check_row(name, tower, clim, cell, extra=None) -> dict:
    """Reconstruction against the measured annual means (towers) and the profile covariates."""
    b = clim["bio"]
    row = {"site": name, "tower": tower or "", "cell_lat": float(cell.lat), "cell_lon": float(cell.lon),
           "grid_bio1_degC": b[0], "grid_bio2_degC": b[1], "grid_bio12_mm": b[11],
           "spinup_mat_degC": float(np.mean(0.5 * (clim["tmax_spinup"] + clim["tmin_spinup"]))),
           "spinup_dtr_degC": float(np.mean(clim["tmax_spinup"] - clim["tmin_spinup"])),
           "spinup_map_mm": float(np.sum(clim["prec_spinup"]))}
    tm = 0.5 * (clim["tmax"] + clim["tmin"])
    for i, y in enumerate(YEARS):
        row[f"t_{y}_degC"] = float(tm[12 * i:12 * i + 12].mean())
        row[f"p_{y}_mm"] = float(clim["prec"][12 * i:12 * i + 12].sum())
    row.update(extra or {})
    return row


def _fallbacks(grid: xr.Dataset) -> dict:
    dom = grid.sel(lat=slice(*BOX["lat"]), lon=slice(*BOX["lon"]))
    m = (dom["landmask_isimip"] == 1) & (dom["mat"] < MAT_DOMAIN)
    med = lambda v: float(dom[v].where(m).median())  # noqa: E731
    return {"clay": med("clay_sg_5cm"), "sand": med("sand_fraction_testbed"), "bd": med("bulk_density_sg_5cm"),
            "soc": med("soc_stock_sg_5_15cm")}


def site_forcings(sites, towers, fx, grid, dtr_factor, fallback) -> tuple[dict, list]:
    """{site_id: forcing} for every profile and every flux-only tower, and the check rows."""
    out, checks = {}, []
    tower_of = {r.site_id: r.tower for r in towers.drop_duplicates("site_id").itertuples()}
    for _, p in sites.iterrows():
        cell = grid.sel(lat=p.lat, lon=p.lon, method="nearest")
        tw = tower_of.get(p.site_id)
        clim = site_climate(cell, dtr_factor, fx[fx.SITE_ID == tw] if tw else None)
        soil = soil_scalars(cell, fallback, p.obs_sand_0_30cm_percent, p.obs_clay_0_30cm_percent)
        attrs = {"title": f"CENTURY site forcing, QTP profile {p.site_id} (Chen et al. 2021 site {p.site_name})"
                 + (f" with FLUXNET2015 tower {tw}" if tw else ""), "site_id": p.site_id,
                 "tower": tw or "", "source": "pysoc/data/century/SOURCE.md", **_clim_attrs(clim)}
        out[p.site_id] = forcing_dataset(clim, p.lat, soil, TOWERS[tw]["drain"] if tw else 1.0, attrs)
        checks.append(check_row(p.site_id, tw, clim, cell, {
            "wc_bio01_degC": p.wc_bio01_mat_degC, "wc_bio02_degC": p.wc_bio02_diurnal_range_degC,
            "wc_bio12_mm": p.wc_bio12_map_mm_yr, "cru_mat_degC": p.cru_mat_degC, "cru_map_mm": p.cru_map_mm_yr}))
    for tw, t in TOWERS.items():
        if t["profile_site_name"] is not None:
            continue
        r = towers[towers.tower == tw].iloc[0]
        cell = grid.sel(lat=r.lat, lon=r.lon, method="nearest")
        clim = site_climate(cell, dtr_factor, fx[fx.SITE_ID == tw])
        attrs = {"title": f"CENTURY site forcing, FLUXNET2015 tower {tw} ({r.tower_name})", "site_id": tw,
                 "tower": tw, "source": "pysoc/data/century/SOURCE.md", **_clim_attrs(clim)}
        out[tw] = forcing_dataset(clim, r.lat, soil_scalars(cell, fallback), t["drain"], attrs)
        checks.append(check_row(tw, tw, clim, cell))
    for row in checks:
        if row["tower"]:
            f = fx[fx.SITE_ID == row["tower"]]
            row["tower_ta_mean_degC"], row["tower_p_mean_mm"] = f.TA_F.mean(), f.P_F.mean()
    return out, checks


def regional_cells(grid: xr.Dataset, dtr_factor: float, fallback: dict) -> xr.Dataset:
    """Plateau grassland cells: the QTP box, ISIMIP land, grid BIO1 < MAT_DOMAIN (an altitude
    proxy: the grid has no elevation), grassland area = MODIS IGBP 10 fraction x cell area."""
    dom = grid.sel(lat=slice(*BOX["lat"]), lon=slice(*BOX["lon"]))
    m = ((dom["landmask_isimip"] == 1) & (dom["mat"] < MAT_DOMAIN) & (dom["igbp_fraction"][10] > 0)).values
    ii, jj = np.nonzero(m)
    n = ii.size
    keys = ("tmax", "tmin", "prec")
    arr = {k: np.empty((n, 12)) for k in keys}
    sc = {k: np.empty(n) for k in ("sand", "clay", "bulk_density", "soil_om_c", "trend_t", "trend_p")}
    for c, (i, j) in enumerate(zip(ii, jj)):
        cell = dom.isel(lat=i, lon=j)
        clim = site_climate(cell, dtr_factor)
        for k in keys:
            arr[k][c] = clim[k + "_spinup"]
        for k, v in soil_scalars(cell, fallback).items():
            sc[k][c] = v
        sc["trend_t"][c], sc["trend_p"][c] = clim["trend_t"], clim["trend_p"]
    lat, lon = dom.lat.values[ii], dom.lon.values[jj]
    area = dom["cell_area"].values[ii, jj]
    grass = dom["igbp_fraction"].values[10, ii, jj]
    ds = xr.Dataset(coords={"cell": ("cell", np.arange(n, dtype=np.int32), {"long_name": "plateau grassland cell "
                                                                                "index", "units": "1"}),
                            "lat": ("cell", lat, {"units": "degrees_north", "standard_name": "latitude"}),
                            "lon": ("cell", lon, {"units": "degrees_east", "standard_name": "longitude"})},
                    attrs={"Conventions": "CF-1.8", "title": "CENTURY climate and soil of the QTP grassland cells",
                           "source": "pysoc/data/century/SOURCE.md", "dtr_factor": dtr_factor,
                           "domain": f"{BOX}, ISIMIP land, grid BIO1 < {MAT_DOMAIN} degC, IGBP grassland > 0",
                           "history": "built by scripts/build_century_qtp.py"})
    lns = {"tmax": "1980-2009 climatology of tmax", "tmin": "1980-2009 climatology of tmin",
           "prec": "1980-2009 climatology of precipitation"}
    for k in keys:
        ds[k + "_spinup"] = (("cell", "calendar_month"), arr[k], {"units": "mm month-1" if k == "prec" else "degC",
                                                                  "long_name": lns[k]})
    units = {"sand": "1", "clay": "1", "bulk_density": "g cm-3", "soil_om_c": "g C m-2", "trend_t": "degC yr-1",
             "trend_p": "1"}
    for k, v in sc.items():
        ds[k] = ("cell", v, {"units": units[k], "long_name": k.replace("_", " ")})
    ds["cell_area"] = ("cell", area, {"units": "m2", "standard_name": "cell_area"})
    ds["grassland_fraction"] = ("cell", grass, {"units": "1", "long_name": "MODIS MCD12C1 2019 IGBP grassland "
                                                "(class 10) area fraction of the cell"})
    return ds


def _write_nc(ds: xr.Dataset, path: Path, zlib: bool = False) -> None:
    from pysoc.io.atomic import atomic_path

    enc = {v: {"_FillValue": None, **({"zlib": True} if zlib and ds[v].ndim else {})}
           for v in list(ds.data_vars) + list(ds.coords) if ds[v].dtype.kind == "f"}
    if "time" in ds.coords:
        enc["time"] = {"units": "days since 2002-01-01", "calendar": "proleptic_gregorian", "dtype": "float64",
                       "_FillValue": None}
    with atomic_path(path) as tmp:       # small site files as NetCDF-3 (a few kB instead of 20 kB of HDF5)
        ds.to_netcdf(tmp, encoding=enc, format="NETCDF4" if zlib else "NETCDF3_64BIT")


def model_view(forcings: dict) -> pd.DataFrame:
    """What CENTURY sees at Haibei with the raw and the corrected reconstruction (meadow set)."""
    from pysoc.models import get_model

    m = get_model("century")
    rows = []
    for name, f in forcings.items():
        ds = m.steady_state(m.validate_forcing(f))
        summer = ds["month"].isin([6, 7, 8]).values
        rows.append({"climate": name, "mat_degC": float((0.5 * (f.tmax_spinup + f.tmin_spinup)).mean()),
                     "dtr_degC": float((f.tmax_spinup - f.tmin_spinup).mean()), "pet_cm_yr": float(ds.pet.sum()),
                     "npp_g_m2_yr": float(ds.npp.sum()), "defac": float(ds.defac.mean()),
                     "ctemp_summer_degC": float(ds.ctemp.values[summer].mean()),
                     "stemp_summer_degC": float(ds.stemp.values[summer].mean()),
                     "soc_0_30_kg_m2": float(ds.soc_0_30.mean())})
    return pd.DataFrame(rows)


def main(grid_nc, fluxnet_csv, israd_dir, outdir=None) -> None:
    out = Path(outdir) if outdir else ROOT / "pysoc" / "data" / "century"
    grid = xr.open_dataset(grid_nc)
    fx = pd.read_csv(fluxnet_csv, encoding="latin-1")
    fx = fx[fx.SITE_ID.isin(TOWERS)]
    sites, layers, report = qtp_profiles(Path(israd_dir))
    dtr_factor, ratios = dtr_factor_from_profiles(sites, grid)
    towers = tower_table(Path(fluxnet_csv), sites)
    for r in towers.drop_duplicates("site_id").itertuples():
        sites.loc[sites.site_id == r.site_id, "meta_tower"] = r.tower
    fallback = _fallbacks(grid)
    forcings, checks = site_forcings(sites, towers, fx, grid, dtr_factor, fallback)
    (out / "qtp_forcing").mkdir(parents=True, exist_ok=True)
    for sid, ds in forcings.items():
        _write_nc(ds, out / "qtp_forcing" / f"{sid}.nc")
    sites[SITE_COLUMNS].to_csv(out / "qtp_sites.csv", index=False, float_format="%.6g")
    layers.to_csv(out / "qtp_layers.csv", index=False, float_format="%.6g")
    towers.to_csv(out / "qtp_fluxes.csv", index=False, float_format="%.6g")
    pd.DataFrame(checks).to_csv(out / "qtp_climate_check.csv", index=False, float_format="%.4g")
    _write_nc(regional_cells(grid, dtr_factor, fallback), out / "qtp_grid.nc", zlib=True)
    haibei = sites[sites.meta_tower == "CN-HaM"].site_id.iloc[0]
    hb = forcings[haibei].copy()
    hb.attrs.update(title="CENTURY site forcing, Haibei alpine meadow (Chen et al. 2021 profile 30, "
                    "FLUXNET2015 CN-HaM)", site_name="Haibei alpine meadow", longitude=float(
                        sites.loc[sites.site_id == haibei, "lon"].iloc[0]))
    _write_nc(hb, out / "haibei_forcing.nc")
    cell = grid.sel(lat=hb.latitude.item(), lon=float(sites.loc[sites.site_id == haibei, "lon"].iloc[0]),
                    method="nearest")
    raw = site_climate(cell, 1.0)
    raw_ds = forcing_dataset(raw, float(hb.latitude), {k: float(hb[k]) for k in ("sand", "clay", "bulk_density",
                                                                                  "soil_om_c")}, 1.0, {})
    view = model_view({"grid cell as is (range = BIO2)": raw_ds, "corrected (shipped)": hb})
    print(report)
    print(f"{len(sites)} QTP profiles, {len(towers)} tower-years, {len(forcings)} site forcings")
    print(f"DTR factor (WorldClim BIO2 / grid BIO2 at the profiles): median {dtr_factor:.3f}, "
          f"range {np.nanmin(ratios):.3f}-{np.nanmax(ratios):.3f}")
    print(pd.DataFrame(checks).round(2).to_string())
    print(view.round(3).to_string())


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__.split("\n\n")[1])
    main(*sys.argv[1:5])

"""The 2-box model (vegetation -> soil -> atmosphere) and the observation-based turnover
constraint of seed 004 (eq. 3-5; methods.md §4.6).

    dcVeg/dt  = NPP(t) - cVeg/τveg(t)
    dcSoil/dt = cVeg/τveg(t) - cSoil/τsoil(t)

Time stepping is backward Euler with the annual step (unconditionally stable, exactly
mass-conserving: ΔcVeg + ΔcSoil = (NPP - Rh)·Δt each year, and a steady state stays
steady). The first year is at steady state: cVeg = NPP·τveg, cSoil = NPP·τsoil.

Constraint (eq. 4-5): τ_corr(t) = τ_sim(t) + (τ_obs - mean τ_sim over the reference
period), i.e. the model's bias is removed while its interannual variation and trend are
kept. Monte Carlo: ``n_veg`` draws τveg_obs ~ N(μ, σ) crossed with ``n_soil`` draws
τsoil_obs ~ N(μ, σ) (default 100 x 100 = 10,000 runs per model; study: τveg 10.3 ± 1.4 yr,
τsoil 38.3 ± 11 yr), truncated below at ``tau_min``.

Input table (CSV long format or NetCDF with dims (model, year)): ``model``, ``year``,
``npp`` (Pg C yr-1) and either ``tau_veg``, ``tau_soil`` (yr) or ``cveg``, ``csoil`` (Pg C)
and ``rh`` (Pg C yr-1), from which τveg = cVeg / (NPP - ΔcVeg) and τsoil = cSoil / Rh
(eq. 1-2; the first year takes the second year's value).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import truncnorm

from pysoc.errors import DataError


def run_twobox(npp: np.ndarray, tau_veg: np.ndarray, tau_soil: np.ndarray, dt: float = 1.0):
    """Integrate the 2-box model. ``npp`` has shape (T,); ``tau_veg``/``tau_soil`` shape
    (..., T) (broadcast over leading ensemble dimensions). Returns cveg, csoil, rh with the
    shape (..., T) (stocks at the end of each year, Rh as the flux of each year); the first
    year is the steady state."""
    npp = np.asarray(npp, float)
    tv = np.asarray(tau_veg, float)
    ts = np.asarray(tau_soil, float)
    T = npp.shape[-1]
    shape = np.broadcast_shapes(tv.shape, ts.shape, npp.shape)
    tv = np.broadcast_to(tv, shape)
    ts = np.broadcast_to(ts, shape)
    if np.any(tv <= 0) or np.any(ts <= 0) or not (np.all(np.isfinite(tv)) and np.all(np.isfinite(ts))):
        raise DataError("2-box model: turnover times must be finite and > 0")
    cveg = np.empty(shape)
    csoil = np.empty(shape)
    rh = np.empty(shape)
    cveg[..., 0] = npp[..., 0] * tv[..., 0]
    csoil[..., 0] = npp[..., 0] * ts[..., 0]
    rh[..., 0] = csoil[..., 0] / ts[..., 0]
    for t in range(1, T):
        cv = (cveg[..., t - 1] + npp[..., t] * dt) / (1.0 + dt / tv[..., t])
        litter = cv / tv[..., t]
        cs = (csoil[..., t - 1] + litter * dt) / (1.0 + dt / ts[..., t])
        cveg[..., t], csoil[..., t], rh[..., t] = cv, cs, cs / ts[..., t]
    return cveg, csoil, rh


def read_trajectories(path: str | Path) -> pd.DataFrame:
    """Read model trajectories (CSV or NetCDF) into a long table with model, year, npp,
    tau_veg, tau_soil (and cveg, csoil, rh when given); checks columns and values."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: 2-box trajectory file not found")
    if path.suffix in (".nc", ".nc4", ".cdf"):
        import xarray as xr
        try:
            ds = xr.open_dataset(path)
        except Exception as exc:
            raise DataError(f"{path}: cannot read ({exc})") from None
        for d in ("model", "year"):
            if d not in ds.dims:
                raise DataError(f"{path}: dimension {d!r} missing (need dims model, year)")
        df = ds.to_dataframe().reset_index()
        df["model"] = df["model"].astype(str)
    else:
        try:
            df = pd.read_csv(path)
        except Exception as exc:
            raise DataError(f"{path}: cannot read ({exc})") from None
    return check_trajectories(df, str(path))


def check_trajectories(df: pd.DataFrame, where: str = "trajectories") -> pd.DataFrame:
    df = df.copy()
    df.columns = [c.strip().lower() for c in df.columns]
    for c in ("model", "year", "npp"):
        if c not in df.columns:
            raise DataError(f"{where}: column {c!r} missing (need model, year, npp and tau_veg, tau_soil "
                            f"or cveg, csoil, rh)")
    has_tau = {"tau_veg", "tau_soil"} <= set(df.columns)
    has_stock = {"cveg", "csoil", "rh"} <= set(df.columns)
    if not (has_tau or has_stock):
        raise DataError(f"{where}: need columns tau_veg, tau_soil (yr) or cveg, csoil (Pg C) and rh (Pg C yr-1)")
    df["model"] = df["model"].astype(str).str.strip()
    df = df.sort_values(["model", "year"]).reset_index(drop=True)
    parts = []
    for name, g in df.groupby("model", sort=True):
        g = g.copy()
        yrs = g["year"].to_numpy()
        if len(g) < 3 or np.any(np.diff(yrs) != 1):
            raise DataError(f"{where}: model {name!r} needs >= 3 consecutive annual rows (years {yrs.min()}-{yrs.max()})")
        if not has_tau:
            cveg, csoil, rh, npp = (g[c].to_numpy(float) for c in ("cveg", "csoil", "rh", "npp"))
            dveg = np.diff(cveg, prepend=np.nan)
            tv = cveg / (npp - dveg)
            tv[0] = tv[1]
            g["tau_veg"] = tv
            g["tau_soil"] = csoil / rh
        parts.append(g)
    df = pd.concat(parts, ignore_index=True)
    for c in ("npp", "tau_veg", "tau_soil"):
        v = pd.to_numeric(df[c], errors="coerce").to_numpy(float)
        bad = ~np.isfinite(v) | (v <= 0)
        if bad.any():
            row = df.iloc[int(np.flatnonzero(bad)[0])]
            raise DataError(f"{where}: {c} must be finite and > 0 (model {row['model']!r}, year {row['year']}: {row[c]!r})")
        df[c] = v
    return df


def draw_tau(mean: float, sd: float, n: int, rng: np.random.Generator, tau_min: float) -> np.ndarray:
    """n draws of N(mean, sd) truncated below at tau_min (sd = 0 -> the mean)."""
    if sd <= 0:
        return np.full(n, float(mean))
    a = (tau_min - mean) / sd
    return truncnorm.rvs(a, np.inf, loc=mean, scale=sd, size=n, random_state=rng)


@dataclass
class TwoBoxResult:
    summary: pd.DataFrame                 # one row per model (+ 'multi-model mean')
    series: dict[str, pd.DataFrame]       # per model: year, original and constrained stocks
    n_clipped: int


def constrain(df: pd.DataFrame, tau_veg_obs=(10.3, 1.4), tau_soil_obs=(38.3, 11.0),
              ref_years: tuple[int, int] | None = None, n_veg: int = 100, n_soil: int = 100,
              seed: int = 1, tau_min: float = 0.5, progress: bool = False) -> TwoBoxResult:
    """Emulate each model with its own τ (the 'original' 2-box run) and with bias-corrected
    τ over the Monte Carlo ensemble; report Δ stocks from the first to the last year."""
    rng = np.random.default_rng(seed)
    tv_obs = draw_tau(tau_veg_obs[0], tau_veg_obs[1], n_veg, rng, tau_min)
    ts_obs = draw_tau(tau_soil_obs[0], tau_soil_obs[1], n_soil, rng, tau_min)
    rows, series, n_clip = [], {}, 0
    groups = list(df.groupby("model", sort=True))
    if progress:
        from tqdm.auto import tqdm
        groups = tqdm(groups, desc="2-box Monte Carlo", leave=False)
    for name, g in groups:
        yrs = g["year"].to_numpy()
        npp, tv, ts = (g[c].to_numpy(float) for c in ("npp", "tau_veg", "tau_soil"))
        r0, r1 = ref_years if ref_years is not None else (yrs[0], yrs[-1])
        ref = (yrs >= r0) & (yrs <= r1)
        if not ref.any():
            raise DataError(f"2-box: reference period {r0}-{r1} outside the years of model {name!r} "
                            f"({yrs[0]}-{yrs[-1]})")
        cv0, cs0, rh0 = run_twobox(npp, tv, ts)
        tv_c = tv[None, :] + (tv_obs[:, None] - tv[ref].mean())          # (n_veg, T)
        ts_c = ts[None, :] + (ts_obs[:, None] - ts[ref].mean())          # (n_soil, T)
        n_clip += int((tv_c < tau_min).sum() + (ts_c < tau_min).sum())
        tv_c = np.maximum(tv_c, tau_min)[:, None, :]
        ts_c = np.maximum(ts_c, tau_min)[None, :, :]
        cv, cs, _ = run_twobox(npp, tv_c, ts_c)                          # (n_veg, n_soil, T)
        dveg = (cv[..., -1] - cv[..., 0]).ravel()
        dsoil = (cs[..., -1] - cs[..., 0]).ravel()
        dtot = dveg + dsoil
        row = {"model": name, "year_start": int(yrs[0]), "year_end": int(yrs[-1]),
               "tau_veg_sim_ref": float(tv[ref].mean()), "tau_soil_sim_ref": float(ts[ref].mean()),
               "dcveg_orig": float(cv0[-1] - cv0[0]), "dcsoil_orig": float(cs0[-1] - cs0[0]),
               "dctotal_orig": float(cv0[-1] + cs0[-1] - cv0[0] - cs0[0]),
               "dcveg_constr": float(dveg.mean()), "dcveg_constr_sd": float(dveg.std(ddof=1)),
               "dcsoil_constr": float(dsoil.mean()), "dcsoil_constr_sd": float(dsoil.std(ddof=1)),
               "dctotal_constr": float(dtot.mean()), "dctotal_constr_sd": float(dtot.std(ddof=1))}
        if {"cveg", "csoil"} <= set(g.columns):
            row["dctotal_dgvm"] = float(g["cveg"].iloc[-1] + g["csoil"].iloc[-1] - g["cveg"].iloc[0] - g["csoil"].iloc[0])
        rows.append(row)
        ctot = cv + cs
        series[name] = pd.DataFrame({
            "year": yrs, "npp": npp, "tau_veg_sim": tv, "tau_soil_sim": ts,
            "cveg_orig": cv0, "csoil_orig": cs0, "rh_orig": rh0,
            "cveg_constr": cv.mean((0, 1)), "csoil_constr": cs.mean((0, 1)),
            "ctotal_constr": ctot.mean((0, 1)), "ctotal_constr_sd": ctot.reshape(-1, len(yrs)).std(0, ddof=1)})
    summ = pd.DataFrame(rows)
    mean = {"model": "multi-model mean"}
    for c in summ.columns:
        if c not in ("model", "year_start", "year_end"):
            mean[c] = float(summ[c].mean())
    mean["year_start"], mean["year_end"] = int(summ["year_start"].min()), int(summ["year_end"].max())
    summ = pd.concat([summ, pd.DataFrame([mean])], ignore_index=True)
    return TwoBoxResult(summ, series, n_clip)


# --------------------------------------------------------------------------- worked example
#: illustrative simulated turnover times of the worked example: evenly spaced over the
#: TRENDY-v9 range reported in seed 004 (τsoil 13-36 yr) and over 6-12 yr for τveg
EXAMPLE_TAU_SOIL_RANGE = (13.0, 36.0)
EXAMPLE_TAU_VEG_RANGE = (6.0, 12.0)
EXAMPLE_CUE = 0.5
EXAMPLE_TAU_TREND = -0.002   # relative change per year (faster turnover with warming)


def make_example_table(gpp: pd.DataFrame) -> pd.DataFrame:
    """Worked 2-box input from ISIMIP2a global GPP (g C yr-1, one column per model):
    NPP = CUE x GPP (CUE 0.5) in Pg C yr-1, and illustrative τ_sim (see constants above)
    with a -0.2 % yr-1 trend. The τ values are NOT model output."""
    models = [c for c in gpp.columns if c != "year"]
    n = len(models)
    tsoil = np.linspace(*EXAMPLE_TAU_SOIL_RANGE, n)
    tveg = np.linspace(*EXAMPLE_TAU_VEG_RANGE, n)[::-1]
    yrs = gpp["year"].to_numpy(int)
    rows = []
    for i, m in enumerate(models):
        npp = EXAMPLE_CUE * gpp[m].to_numpy(float) / 1e15
        trend = 1.0 + EXAMPLE_TAU_TREND * (yrs - yrs[0])
        rows.append(pd.DataFrame({"model": m, "year": yrs, "npp": npp, "tau_veg": tveg[i] * trend,
                                  "tau_soil": tsoil[i] * trend}))
    return pd.concat(rows, ignore_index=True)

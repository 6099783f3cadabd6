"""The seed-000 comparison on the Qinghai-Tibet Plateau with real fluxes: default vs Opt1
(SOC) vs Opt2 (SOC + annual tower NEP) vs Opt2 + GPP, one parameter vector for the plateau,
judged on held-out observations, and the regional SOC stock 0-30 cm with its posterior band.

Usage: python scripts/century_qtp.py [--splits N] [--length F] [--out DIR] [--draws K] [--figure] [--smoke]

Everything comes from shipped data (pysoc/data/century, SOURCE.md) and the shipped namelists
(namelists/calibrate_century_opt1.nml, calibrate_century.nml, calibrate_century_opt2_gpp.nml:
streams, sigma, sampler and its settings are read from them, so the experiment follows the
namelists when their sampler changes).

Evaluation (seed 000 §2.4): the 25 SOC observations and the 8 tower-years are split at
random 60 / 40 into calibration and validation sets, separately (``split``; split 0 uses the
seed of the namelists). Each option is calibrated on the calibration set (one batch); K
posterior draws are run at every site and the posterior predictive mean is compared with the
validation observations: R² = 1 - SSE/SST (seed eq. 8), RMSE, bias = mean(model - obs), Pearson r
and χ² = mean(((model - obs) / sigma)²) with the calibration's sigma (the misfit the cost minimises).
``--splits N`` repeats this for N splits (mean and range reported). Default = Table 1 defaults
(meadow or steppe set by vegetation; towers meadow). The regional stock uses the posteriors of
split 0 on the 757 plateau grassland cells (qtp_grid.nc).

Writes DIR/century_qtp_metrics.csv (every split, option, stream, set), DIR/century_qtp_summary.md
(the table of docs/century.md), DIR/century_qtp_stock.csv, DIR/century_qtp_predictions.csv and
docs/figures/century_qtp.png (with ``--figure``). ``--smoke``: tiny chains (tests).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from pysoc.cli.calibrate import config_from_namelist, load_namelist, load_profiles
from pysoc.da import run as da_run
from pysoc.da.likelihood import annual_operator, pooled_skill
from pysoc.models import get_model

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "pysoc" / "data" / "century"
NML = ROOT / "namelists"
OPTIONS = {"Opt1": "calibrate_century_opt1.nml", "Opt2": "calibrate_century.nml",
           "Opt2+GPP": "calibrate_century_opt2_gpp.nml"}
HAIBEI = "Chen_2021_98a8ce3e"                          #: the profile with tower CN-HaM (qtp_fluxes.csv)
SEED000 = {"SOCD R2 default": 0.59, "SOCD R2 Opt1": 0.75, "SOCD R2 Opt2": 0.73, "NEP R2 default": 0.16,
           "NEP R2 Opt2": 0.62, "SOCD MAE default": 1.56, "SOCD MAE Opt1": 1.21, "SOCD MAE Opt2": 1.26,
           "NEP MAE default": 19.50, "NEP MAE Opt1": 15.13, "NEP MAE Opt2": 12.89,
           "stock Opt1 Pg": 6.63, "stock Opt2 Pg": 6.48}


# ---- data and split -----------------------------------------------------------------------------------
def load_all(climate: str = "grid"):
    """Profiles with tower fluxes (as the Opt2 namelist reads them) and the site forcings.
    ``climate = 'worldclim'`` (a sensitivity test, not the shipped set-up): profiles without a
    tower get the mean annual temperature and precipitation of their 1-km WorldClim 2.1 point
    (ISRaD covariates ``wc_bio01``, ``wc_bio12``) instead of the 0.5 degree cell's."""
    nml, model_name = load_namelist(NML / OPTIONS["Opt2"])
    cfg = config_from_namelist(nml, model_name, str(NML / OPTIONS["Opt2"]))
    profiles = load_profiles(nml, cfg, str(NML / OPTIONS["Opt2"]))
    model = get_model(cfg.model, **cfg.model_options)
    forcing = {p.site_id: model.load_forcing(cfg.forcing_file.replace("{site_id}", p.site_id)) for p in profiles}
    if climate == "worldclim":
        for p in profiles:
            if p.n_layers and not (p.meta or {}).get("annual_fluxes"):
                forcing[p.site_id] = point_climate(model, forcing[p.site_id], p.covariates["wc_bio01_mat_degC"],
                                                   p.covariates["wc_bio12_map_mm_yr"])
    return profiles, forcing, model, cfg


def point_climate(model, f, mat: float, map_mm: float):
    """The forcing shifted to the annual mean temperature ``mat`` and scaled to the annual
    precipitation ``map_mm`` of its spin-up climate (the years keep their offsets)."""
    g = f.copy()
    dt = mat - float((0.5 * (f.tmax_spinup + f.tmin_spinup)).mean())
    fp = map_mm / float(f.prec_spinup.sum())
    for k in ("tmax", "tmin", "tmax_spinup", "tmin_spinup"):
        g[k] = f[k] + dt
    for k in ("prec", "prec_spinup"):
        g[k] = f[k] * fp
    return model.validate_forcing(g, source=f.attrs.get("source_file", "") + " (WorldClim point climate)")


def split(profiles, seed: int, frac: float = 0.6) -> tuple[set, set]:
    """Random calibration set of SOC site ids and of (site, year) tower-years (seed 000: 60 %)."""
    rng = np.random.default_rng(seed)
    soc = sorted(p.site_id for p in profiles if p.n_layers > 0)
    ty = sorted((p.site_id, int(y)) for p in profiles for y in (p.meta.get("annual_fluxes") or {}).get("year", []))
    cal_soc = set(rng.choice(soc, int(round(frac * len(soc))), replace=False))
    idx = rng.choice(len(ty), int(round(frac * len(ty))), replace=False)
    return cal_soc, {ty[i] for i in idx}


def calibration_profiles(profiles, cal_soc: set, cal_ty: set, with_fluxes: bool) -> list:
    """Copies holding only the calibration observations: SOC of the calibration profiles,
    the calibration tower-years (a profile whose SOC is held out keeps its tower-years as a
    site without layers)."""
    out = []
    for p in profiles:
        q = copy.deepcopy(p)
        fl = q.meta.pop("annual_fluxes", None)
        if with_fluxes and fl:
            keep = np.array([(q.site_id, int(y)) in cal_ty for y in fl["year"]])
            if keep.any():
                q.meta["annual_fluxes"] = {k: (v[keep] if k == "year" else (v[0][keep], v[1][keep]))
                                           for k, v in fl.items()}
        has_flux = bool(q.meta.get("annual_fluxes"))
        if q.site_id in cal_soc:
            out.append(q)
        elif has_flux:
            q.top, q.bottom, q.soc, q.d14c = (np.empty(0),) * 3 + (None,)
            q.covariates = {k: v for k, v in q.covariates.items() if k != "socd_0_30_kg_m2"}
            out.append(q)
    return out


# ---- calibration and prediction -------------------------------------------------------------------------
def calibrate(option: str, profiles, outdir: Path, tag: str, smoke: bool, length: float = 1.0,
              forcing: dict | None = None) -> tuple[np.ndarray, dict]:
    """One-batch calibration with the option's shipped namelist on ``profiles`` (chain lengths or
    evaluation budget times ``length``); returns the saved posterior draws as full physical
    parameter vectors (n, npar) and run facts."""
    path = NML / OPTIONS[option]
    nml, model_name = load_namelist(path)
    cfg = config_from_namelist(nml, model_name, str(path))
    repl = dict(output_dir=str(outdir), run_name=f"{tag}_{option.replace('+', '_')}", figures=False,
                progress=False, write_output=False, resume=False)
    if length != 1.0 and cfg.sampler == "am":
        repl["am"] = dataclasses.replace(cfg.am, n_test=int(cfg.am.n_test * length),
                                         n_formal=int(cfg.am.n_formal * length), t0=int(cfg.am.t0 * length))
    elif length != 1.0:
        repl["dream"] = dataclasses.replace(cfg.dream, max_evaluations=int(cfg.dream.max_evaluations * length))
    if smoke:
        if cfg.sampler == "am":
            repl["am"] = dataclasses.replace(cfg.am, n_test=20, n_formal=40, t0=10)
        else:
            repl["dream"] = dataclasses.replace(cfg.dream, max_evaluations=4000, min_generations=8)
        repl["draws_saved"] = 5
    cfg = dataclasses.replace(cfg, **repl)
    if forcing is not None:                   # another forcing set (sensitivity runs): written next to the outputs
        fdir = outdir / "forcing"
        fdir.mkdir(parents=True, exist_ok=True)
        for p in profiles:
            forcing[p.site_id].to_netcdf(fdir / f"{p.site_id}.nc")
        cfg = dataclasses.replace(cfg, forcing_file=str(fdir / "{site_id}.nc"))
    t0 = time.process_time()
    run = da_run.run_calibration(cfg, profiles)
    d = run.results[0].data                  # McmcSummary (pysoc.da.results)
    draws = np.asarray(d.draws, float)
    table = run.model.parameters
    theta = np.tile(table.check(table.vector(cfg.parameter_set or None, overrides=cfg.fixed), warn_prior=False),
                    (draws.shape[0] * draws.shape[1], 1))
    theta[:, [table.index(n) for n in run.param_names]] = draws.reshape(-1, draws.shape[-1])
    facts = {"cpu_s": time.process_time() - t0, "n_sites": len(run.profiles), "sampler": getattr(cfg, "sampler", "am"),
             "rhat_max": float(np.nanmax(d.diagnostics.rhat)), "gr_mean": float(d.diagnostics.gr_mean),
             "converged": d.diagnostics.converged, "n_evaluations": d.n_evaluations,
             "mean": dict(zip(run.param_names, d.mean))}
    return theta, facts


def default_theta(model, profiles) -> dict:
    """Table 1 defaults: the steppe set at steppe profiles, the meadow set elsewhere."""
    tab = model.parameters
    return {p.site_id: tab.vector("steppe" if (p.meta or {}).get("meta_vegetation") == "steppe" else "meadow")[None]
            for p in profiles}


def predict(model, profiles, forcing, theta_by_site: dict) -> dict:
    """Posterior predictive at every site: SOC 0-30 cm (n,), annual NEP and GPP (n, nyear) of
    the site's tower-years (NaN for failed draws)."""
    out = {}
    for p in profiles:
        th = theta_by_site[p.site_id]
        res = model.evaluate(forcing[p.site_id], th, observables=("soc_0_30", "nep_monthly", "gpp_monthly"))
        ok = np.asarray(res.status) == 0
        soc = np.where(ok, res.outputs["soc_0_30"], np.nan)
        e = {"soc": soc, "n_failed": int((~ok).sum())}
        fl = (p.meta or {}).get("annual_fluxes")
        if fl:
            W = annual_operator(forcing[p.site_id], fl["year"], p.site_id)
            e["nep"] = np.where(ok[:, None], res.outputs["nep_monthly"] @ W.T, np.nan)
            e["gpp"] = np.where(ok[:, None], res.outputs["gpp_monthly"] @ W.T, np.nan)
        out[p.site_id] = e
    return out


# ---- records and metrics ------------------------------------------------------------------------------
def records(profiles, pred: dict, cal_soc: set, cal_ty: set, tag: dict) -> list[dict]:
    """One row per observation: observed, posterior predictive mean and 5-95 %, set."""
    rows = []
    q = lambda a: (np.nanmean(a, 0), np.nanquantile(a, 0.05, 0), np.nanquantile(a, 0.95, 0))  # noqa: E731
    for p in profiles:
        e = pred[p.site_id]
        y = p.covariates.get("socd_0_30_kg_m2", np.nan) if p.n_layers else np.nan
        if np.isfinite(y):
            m, lo, hi = q(e["soc"])
            rows.append({**tag, "stream": "SOCD", "site_id": p.site_id, "year": np.nan, "obs": y, "sigma": 0.3 * y,
                         "pred": m,
                         "q05": lo, "q95": hi, "set": "calibration" if p.site_id in cal_soc else "validation",
                         "vegetation": p.meta.get("meta_vegetation", "tower")})
        fl = (p.meta or {}).get("annual_fluxes")
        if fl:
            for stream, key in (("NEP", "nep_annual"), ("GPP", "gpp_annual")):
                m, lo, hi = q(e[stream.lower()])
                for j, yr in enumerate(fl["year"]):
                    y, sd = fl[key][0][j], fl[key][1][j]
                    floor = 30.0 if stream == "NEP" else 0.2 * abs(y)         # as in the shipped namelists
                    rows.append({**tag, "stream": stream, "site_id": p.site_id, "year": int(yr), "obs": y, "sd": sd,
                                 "sigma": float(np.hypot(sd, floor)), "pred": m[j], "q05": lo[j], "q95": hi[j],
                                 "set": "calibration" if (p.site_id, int(yr)) in cal_ty else "validation",
                                 "vegetation": "tower"})
    return rows


def metrics(pred: pd.DataFrame) -> pd.DataFrame:
    """Skill per split, option, stream and set (and 'all')."""
    rows = []
    for (sp, opt, stream), g in pred.groupby(["split", "option", "stream"], sort=False):
        for st in ("calibration", "validation", "all"):
            h = g if st == "all" else g[g["set"] == st]
            sk = pooled_skill(h["obs"], h["pred"])
            mae = float(np.nanmean(np.abs(h["pred"] - h["obs"]))) if len(h) else np.nan
            chi2 = float(np.nanmean(((h["pred"] - h["obs"]) / h["sigma"]) ** 2)) if len(h) else np.nan
            rows.append({"split": sp, "option": opt, "stream": stream, "set": st, **sk, "mae": mae, "chi2": chi2})
    return pd.DataFrame(rows)


# ---- regional stock -----------------------------------------------------------------------------------------
def regional_forcings(model, years=(2002, 2003, 2004, 2005)):
    """Forcing of every plateau grassland cell (qtp_grid.nc): spin-up climatology, then the
    years along the cell's trend (as the profile sites); returns (prepared arrays, grid)."""
    g = xr.open_dataset(DATA / "qtp_grid.nc")
    out = []
    for c in range(g.sizes["cell"]):
        x = g.isel(cell=c)
        tx, tn, pr = (x[k + "_spinup"].values for k in ("tmax", "tmin", "prec"))
        sh = np.concatenate([np.full(12, float(x.trend_t) * (y - 1994.5)) for y in years])
        fac = np.concatenate([np.full(12, float(x.trend_p) ** (y - 1994.5)) for y in years])
        ny = len(years)
        out.append(model.forcing_dataset(np.tile(tx, ny) + sh, np.tile(tn, ny) + sh, np.tile(pr, ny) * fac,
                                         float(x.lat), float(x.sand), float(x.clay), float(x.bulk_density),
                                         spinup=(tx, tn, pr), soil_om_c=float(x.soil_om_c), senescence_month=10))
    return model.prepare(out), g


def regional_stock(model, prep, grid, theta: np.ndarray) -> dict:
    """SOC stock 0-30 cm of the plateau grasslands (Pg C) for every parameter vector of
    ``theta`` (n, npar): sum over cells of SOCD x grassland area."""
    ncell, n = grid.sizes["cell"], theta.shape[0]
    res = model.evaluate(prep, np.tile(theta, (ncell, 1)), observables=("soc_0_30",),
                         site_index=np.repeat(np.arange(ncell, dtype=np.int32), n))
    soc = res.outputs["soc_0_30"].reshape(ncell, n).copy()
    bad = np.asarray(res.status).reshape(ncell, n) != 0
    n_fast_failed = int(bad.sum())
    if bad.any():                 # fast spin-up without a fixed point (cold, wet cells): the classic 4000 years
        classic = get_model(model.name, **{**model.options, "spinup": "classic", "spinup_years": 4000,
                                           "spinup_tol": 0.0})
        ci, dj = np.nonzero(bad)
        r2 = classic.evaluate(prep, theta[dj], observables=("soc_0_30",), site_index=ci.astype(np.int32))
        soc[ci, dj] = np.where(np.asarray(r2.status) == 0, r2.outputs["soc_0_30"], np.nan)
        bad[ci, dj] = np.asarray(r2.status) != 0
    area = (grid.cell_area * grid.grassland_fraction).values
    tot = np.where(bad.any(axis=0), np.nan, (np.where(bad, 0.0, soc) * area[:, None]).sum(axis=0) / 1e12)
    return {"stock_pg": tot, "n_fast_failed": n_fast_failed, "n_failed": int(bad.sum()),
            "area_mkm2": float(area.sum() / 1e12), "socd_mean": float(np.nanmean(soc, axis=1) @ area / area.sum())}


# ---- summary -------------------------------------------------------------------------------------------------
def _cell(m: pd.DataFrame, opt, stream, st, key, fmt):
    v = m[(m.option == opt) & (m.stream == stream) & (m.set == st)][key].to_numpy(float)
    if v.size == 0 or not np.isfinite(v).any():
        return "–"
    first = v[0]
    return fmt.format(first) + (f" [{fmt.format(np.nanmin(v))}, {fmt.format(np.nanmax(v))}]" if v.size > 1 else "")


def summary_markdown(m: pd.DataFrame, stock: dict, facts: dict, n_splits: int) -> str:
    """The default / Opt1 / Opt2 table of docs/century.md (split 0, [min, max] over splits)."""
    cols = [("SOCD", "r2", "{:.2f}"), ("SOCD", "rmse", "{:.2f}"), ("SOCD", "r", "{:.2f}"), ("SOCD", "chi2", "{:.1f}"),
            ("NEP", "r2", "{:.2f}"), ("NEP", "rmse", "{:.0f}"), ("NEP", "bias", "{:+.0f}"), ("GPP", "r2", "{:.2f}"),
            ("GPP", "rmse", "{:.0f}"), ("GPP", "bias", "{:+.0f}")]
    head = ("| option | SOCD R² | SOCD RMSE (kg C m⁻²) | SOCD r | SOCD χ² | NEP R² | NEP RMSE (g C m⁻² yr⁻¹) | NEP bias | "
            "GPP R² | GPP RMSE | GPP bias | SOC stock 0-30 cm (Pg C, 5-95 %) |")
    out = []
    for st in ("validation", "calibration"):
        out += [f"**{st} set** (split 0" + (f"; [min, max] over {n_splits} random splits" if n_splits > 1 else "")
                + ")", "", head, "|" + "---|" * 12]
        for opt in ["default"] + list(OPTIONS):
            s = stock.get(opt)
            band = (f"{np.median(s):.2f} ({np.quantile(s, 0.05):.2f}-{np.quantile(s, 0.95):.2f})" if s is not None
                    and s.size > 1 else (f"{s[0]:.2f}" if s is not None else "–"))
            out.append(f"| {opt} | " + " | ".join(_cell(m, opt, a, st, k, f) for a, k, f in cols) + f" | {band} |")
        out.append("")
    out.append("Seed 000 (validation, monthly NEP, 570 samples / 21 towers): SOCD R² 0.59 (default) → 0.75 (Opt1) / "
               "0.73 (Opt2); NEP R² 0.16 → 0.62 (Opt2); SOCD MAE 1.56 → 1.21 / 1.26 kg C m⁻²; NEP MAE 19.5 → 15.1 / "
               "12.9 g C m⁻² month⁻¹; topsoil stock 6.63 (Opt1) / 6.48 (Opt2) Pg C.")
    out.append("")
    for opt, f in facts.items():
        out.append(f"- {opt} (split 0): {f['n_sites']} sites, sampler {f['sampler']}, CPU {f['cpu_s']:.0f} s, "
                   f"max R-hat {f['rhat_max']:.2f}, mean G-R {f['gr_mean']:.2f}; regional stock from "
                   f"{f.get('stock_n', 0)} draws, {f.get('stock_fast_failed', 0)} cell-draws by the classic "
                   f"spin-up, {f.get('stock_failed', 0)} failed")
    return "\n".join(out)


# ---- figure --------------------------------------------------------------------------------------------------
COLORS = {"default": "0.45", "Opt1": "tab:blue", "Opt2": "tab:orange", "Opt2+GPP": "tab:green"}


def _scatter(ax, p, stream, units, title):
    for opt, g in p[p.stream == stream].groupby("option", sort=False):
        for st, mk in (("calibration", "o"), ("validation", "s")):
            h = g[g.set == st]
            ax.errorbar(h.obs, h.pred, yerr=[h.pred - h.q05, h.q95 - h.pred], fmt=mk, ms=4, lw=0.6,
                        color=COLORS[opt], mfc=COLORS[opt] if st == "validation" else "none",
                        label=f"{opt} ({st[:3]}.)" if stream != "SOCD" or st == "validation" else None)
    lim = [min(ax.get_xlim()[0], ax.get_ylim()[0]), max(ax.get_xlim()[1], ax.get_ylim()[1])]
    ax.plot(lim, lim, "k--", lw=0.7)
    ax.set_xlim(lim)
    ax.set_ylim(lim)
    ax.set_xlabel(f"observed ({units})", fontsize=8)
    ax.set_ylabel(f"model, posterior mean and 5-95 % ({units})", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)


def figure(pred: pd.DataFrame, m: pd.DataFrame, stock: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p0 = pred[pred.split == 0]
    fig, axes = plt.subplots(2, 3, figsize=(14.5, 9.0))
    socd = p0[p0.stream == "SOCD"]
    _scatter(axes[0, 0], socd[socd.set == "validation"], "SOCD", "kg C m$^{-2}$",
             "(a) SOC density 0-30 cm, validation profiles")
    axes[0, 0].legend(fontsize=6.5, loc="upper left")
    _scatter(axes[0, 1], p0, "NEP", "g C m$^{-2}$ yr$^{-1}$", "(b) annual NEP of the 8 tower-years\n"
             "(filled: validation, open: calibration)")
    axes[0, 1].legend(fontsize=6, loc="lower right", ncol=2)
    _scatter(axes[0, 2], p0, "GPP", "g C m$^{-2}$ yr$^{-1}$", "(c) annual GPP (model: NPP / gpp_cue)")
    ax = axes[1, 0]
    names = [o for o in ["default"] + list(OPTIONS) if o in stock]
    vals = [stock[o] for o in names]
    ax.boxplot(vals, whis=(5, 95), showfliers=False)
    ax.set_xticks(np.arange(1, len(names) + 1))
    ax.set_xticklabels(names, fontsize=8)
    ax.scatter([2, 3], [6.63, 6.48], marker="*", s=80, color="k", zorder=3, label="seed 000 (Opt1, Opt2)")
    ax.set_ylabel("SOC stock 0-30 cm of the QTP grasslands (Pg C)", fontsize=8)
    ax.set_title("(d) regional stock: posterior median, 25-75 %, 5-95 %", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[1, 1]
    mv = m[(m.set == "validation") & m.stream.isin(["SOCD", "NEP", "GPP"])]
    for k, stream in enumerate(("SOCD", "NEP", "GPP")):
        for j, opt in enumerate(["default"] + list(OPTIONS)):
            v = mv[(mv.stream == stream) & (mv.option == opt)]["r2"].to_numpy(float)
            if v.size:
                x = k + 0.2 * (j - 1.5)
                ax.bar(x, np.clip(v[0], -3, 1), width=0.18, color=COLORS[opt], label=opt if k == 0 else None)
                if v.size > 1:
                    ax.vlines(x, np.clip(v.min(), -3, 1), np.clip(v.max(), -3, 1), color="k", lw=1)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xticks(range(3))
    ax.set_xticklabels(["SOCD", "NEP", "GPP"])
    ax.set_ylim(-3, 1)
    ax.set_ylabel("validation R$^2$ = 1 - SSE/SST (clipped at -3)", fontsize=8)
    ax.set_title("(e) held-out skill (split 0; bars: range over splits)", fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    ax = axes[1, 2]
    nep = p0[p0.stream == "NEP"].copy()
    tower = {HAIBEI: "CN-HaM"}
    lab = [f"{tower.get(s, s)}\n{int(y)}" for s, y in nep[nep.option == "default"][["site_id", "year"]].to_numpy()]
    x = np.arange(len(lab))
    obs = nep[nep.option == "default"]
    ax.errorbar(x, obs.obs, yerr=obs.sd, fmt="ks", ms=5, label="tower (mean of DT, NT; bar: half difference)")
    for j, opt in enumerate(["default"] + list(OPTIONS)):
        g = nep[nep.option == opt]
        ax.errorbar(x + 0.12 * (j + 1), g.pred, yerr=[g.pred - g.q05, g.q95 - g.pred], fmt="o", ms=3.5, lw=0.7,
                    color=COLORS[opt], label=opt)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xticks(x)
    ax.set_xticklabels(lab, fontsize=6)
    ax.set_ylabel("NEP (g C m$^{-2}$ yr$^{-1}$)", fontsize=8)
    ax.set_title("(f) tower-years: observed NEP and the model", fontsize=9)
    ax.legend(fontsize=6.5)
    fig.suptitle("CENTURY on the Qinghai-Tibet Plateau (one parameter vector per option; seed 000 comparison "
                 "with real annual tower fluxes)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---- main ----------------------------------------------------------------------------------------------------
def run_split(k, seed, profiles, forcing, model, args, prep, grid):
    cal_soc, cal_ty = split(profiles, seed)
    tag = {"split": k}
    rows = records(profiles, predict(model, profiles, forcing, default_theta(model, profiles)), cal_soc, cal_ty,
                   {**tag, "option": "default"})
    stock, facts, means = {}, {}, {}
    rng = np.random.default_rng(seed)
    for opt in args.options:
        cal = calibration_profiles(profiles, cal_soc, cal_ty, with_fluxes=opt != "Opt1")
        theta, f = calibrate(opt, cal, Path(args.out) / "runs", f"qtp_split{k}", args.smoke, args.length,
                             forcing if args.climate != "grid" else None)
        sub = theta[rng.choice(theta.shape[0], min(args.draws, theta.shape[0]), replace=False)]
        pred = predict(model, profiles, forcing, {p.site_id: sub for p in profiles})
        rows += records(profiles, pred, cal_soc, cal_ty, {**tag, "option": opt})
        print(f"split {k} {opt}: {f['n_sites']} calibration sites, {f['cpu_s']:.0f} s CPU", flush=True)
        if k == 0:
            rs = regional_stock(model, prep, grid, sub)
            stock[opt] = rs["stock_pg"]
            f.update(stock_fast_failed=rs["n_fast_failed"], stock_failed=rs["n_failed"], stock_n=sub.shape[0])
            facts[opt], means[opt] = f, f["mean"]
    return rows, stock, facts, means


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--splits", type=int, default=3, help="random 60/40 splits (split 0 = the namelists' seed)")
    ap.add_argument("--draws", type=int, default=150, help="posterior draws run at every site and cell")
    ap.add_argument("--out", default=str(ROOT / "output" / "century_qtp"), help="output directory")
    ap.add_argument("--figure", action="store_true", help="write docs/figures/century_qtp.png")
    ap.add_argument("--length", type=float, default=1.0, help="chain lengths (am) or evaluation budget "
                    "(dream_zs) relative to the shipped namelists")
    ap.add_argument("--options", nargs="+", default=list(OPTIONS), choices=list(OPTIONS), help="options to run")
    ap.add_argument("--climate", default="grid", choices=("grid", "worldclim"), help="site climate: the shipped "
                    "grid-based forcings, or (sensitivity) profiles moved to their WorldClim point means")
    ap.add_argument("--smoke", action="store_true", help="tiny chains (tests)")
    ap.add_argument("--redraw", action="store_true", help="only redraw the figure from the CSV files in --out")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.redraw:
        st = pd.read_csv(out / "century_qtp_stock.csv")
        figure(pd.read_csv(out / "century_qtp_predictions.csv"), pd.read_csv(out / "century_qtp_metrics.csv"),
               {k: st[k].dropna().to_numpy() for k in st.columns}, ROOT / "docs" / "figures" / "century_qtp.png")
        return 0
    profiles, forcing, model, cfg = load_all(args.climate)
    prep, grid = regional_forcings(model)
    rows, stock, facts, means = [], {}, {}, {}
    for k in range(args.splits):
        r, s, f, mn = run_split(k, cfg.seed + k, profiles, forcing, model, args, prep, grid)
        rows += r
        stock.update(s)
        facts.update(f)
        means.update(mn)
    tab = model.parameters
    rs = regional_stock(model, prep, grid, tab.vector("meadow")[None])
    stock["default"] = rs["stock_pg"]
    print(f"regional: {grid.sizes['cell']} cells, grassland {rs['area_mkm2']:.3f} Mkm2, default mean SOCD "
          f"{rs['socd_mean']:.2f} kg C m-2 ({rs['n_fast_failed']} cells by the classic spin-up)")
    pred = pd.DataFrame(rows)
    m = metrics(pred)
    pred.to_csv(out / "century_qtp_predictions.csv", index=False, float_format="%.5g")
    m.to_csv(out / "century_qtp_metrics.csv", index=False, float_format="%.5g")
    pd.DataFrame({k: pd.Series(v) for k, v in stock.items()}).to_csv(out / "century_qtp_stock.csv", index=False,
                                                                     float_format="%.5g")
    pd.DataFrame(means).to_csv(out / "century_qtp_posterior_means.csv", float_format="%.5g")
    text = summary_markdown(m, stock, facts, args.splits)
    (out / "century_qtp_summary.md").write_text(text + "\n")
    print(text)
    if args.figure:
        figure(pred, m, stock, ROOT / "docs" / "figures" / "century_qtp.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

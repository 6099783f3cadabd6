"""The PRODA workflow behind ``pysoc-proda NAMELIST`` (spec methods.md §3; docs/proda.md).

1. Site posteriors of the calibration engine (``posterior_file``), filtered as seed 001
   (Gelman-Rubin <= 1.05, NSE >= 0), matched by ``site_id`` with the profile table.
2. Covariates at the sites (mapping table :mod:`pysoc.proda.covariates`); sites with a
   missing covariate are dropped (reported).
3. Held-out evaluation (random and spatially blocked K-fold) of the network against
   default parameters, one-batch DA, random sampling of site optima and site-by-site DA.
4. Grid: covariates of the land cells (NaN cells masked and reported, or filled from the
   nearest cell when asked), best-guess network, bootstrap ensembles trained on posterior
   means (PRODA) and on posterior draws (posterior propagation), forward runs of every
   cell, maps, components, area-weighted totals.
5. Outputs and figures in ``output_dir``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pysoc.errors import DataError
from pysoc.io.namelist import Group, Key, NamelistSpec, read_model_namelist
from pysoc.models import model_class, models_with

#: the capabilities PRODA needs of a model: site forcing (the calibration's forcing at the sites),
#: forcing of grid cells, and the system components of the maps
REQUIRED_CAPABILITIES = ("site_forcing", "cell_forcing", "system_components")
#: the registry models that have them (the first is the default)
MODELS = tuple(models_with(*REQUIRED_CAPABILITIES))

PRODA = Group("proda", (
    Key("model", "str", MODELS[0] if MODELS else "", "model whose site calibrations are generalised: a "
        "registry model providing " + ", ".join(REQUIRED_CAPABILITIES), choices=MODELS),
    Key("posterior_file", "str", "", "site-by-site calibration output of pysoc-calibrate: <run>_posterior.nc "
        "(posterior draws used) or <run>_sites.csv (means/modes only)", path=True, required=True),
    Key("one_batch_file", "str", "", "one-batch calibration output (<run>_posterior.nc of mode = 'one_batch') for "
        "the one-batch row of the evaluation ('' = row left out)", path=True),
    Key("sites_file", "str", "pkgdata:profiles/israd_sites.csv", "sites table of the calibrated profiles (CSV)",
        path=True),
    Key("layers_file", "str", "pkgdata:profiles/israd_layers.csv", "layers table of the calibrated profiles (CSV)",
        path=True),
    Key("grid_file", "str", "pkgdata:proda/proda_covariates_2deg.nc",
        "covariate grid (NetCDF, global_covariates.nc layout); also used for covariates sampled at the sites",
        path=True),
    Key("covariates", "list[str]", [], "PRODA covariates to use (empty: all of the mapping table; "
        "docs/proda.md)"),
    Key("site_max_km", "float", 250.0, "covariates sampled from the grid at a site use the nearest valid cell "
        "within this distance", min=0.0, max=20000.0, units="km"),
    Key("require_converged", "bool", True, "leave out sites whose calibration did not pass its own convergence "
        "test (pysoc-calibrate 'converged': rank-normalised R-hat and bulk ESS); files without it pass"),
    Key("max_gelman_rubin", "float", 1.05, "sites whose mean Gelman-Rubin statistic exceeds this are left out "
        "(seed 001)", min=1.0),
    Key("min_nse", "float", 0.0, "sites whose posterior fit has a lower NSE are left out (seed 001)", max=1.0),
    Key("max_draws", "int", 200, "posterior draws kept per site", min=1),
    Key("output_dir", "str", "output", "directory of the outputs (relative to the namelist file)", path=True),
    Key("run_name", "str", "proda", "prefix of the output files"),
    Key("seed", "int", 20240601, "random seed (splits, bootstrap, networks)", min=0),
    Key("figures", "bool", True, "write the figures"),
    Key("progress", "bool", True, "progress lines on stderr"),
    Key("mpi", "str", "auto", "use MPI when started by mpirun ('auto'), always ('on') or never ('off')",
        choices=("auto", "on", "off")),
), doc="Inputs, site filters and outputs of the PRODA workflow.")

NETWORK = Group("network", (
    Key("backend", "str", "sklearn", "'sklearn' (default; Adam, squared error, no dropout) or 'torch' (exact "
        "PRODA: dropout, Adadelta, L1xL2; needs pysoc[torch])", choices=("sklearn", "torch")),
    Key("hidden_layers", "list[int]", [256, 512, 512, 256], "nodes of the hidden layers (PRODA: 256 512 512 256)",
        min=1),
    Key("dropout", "float", 0.2, "dropout after each hidden layer (torch backend)", min=0.0, max=0.95),
    Key("loss", "str", "l1xl2", "loss / validation criterion: 'l1xl2' = mean absolute x mean squared error "
        "(seed 001), 'mse' (seed 002)", choices=("l1xl2", "mse")),
    Key("learning_rate", "float", 0.0, "learning rate (0: backend default, Adam 1e-3 / Adadelta 1.0)", min=0.0),
    Key("batch_size", "int", 32, "mini-batch size (PRODA: 32)", min=1),
    Key("max_epochs", "int", 6000, "maximum epochs; the epoch with the lowest validation loss is kept "
        "(PRODA: 6000)", min=1),
    Key("patience", "int", 200, "stop after this many epochs without a better validation loss (0: never)", min=0),
    Key("validation_fraction", "float", 0.1, "share of the sites used for validation (PRODA: 10 %)",
        min=0.01, max=0.5),
    Key("alpha", "float", 1e-4, "L2 penalty (sklearn backend)", min=0.0),
    Key("input_transform", "str", "quantile", "covariates before the network: 'quantile' = through their "
        "training distribution to [0, 1] (skewed covariates spread out; no extrapolation), 'none' = as they are "
        "(min-max scaled by the network)", choices=("quantile", "none")),
    Key("clip_to_training", "bool", True, "clip predicted parameters to the range of the training targets (no "
        "parameter beyond what the calibrated sites had)"),
), doc="The neural network (spec methods.md §3.3).")

EVALUATION = Group("evaluation", (
    Key("enabled", "bool", True, "run the held-out evaluation"),
    Key("splits", "list[str]", ["blocked", "random"], "splits: spatially 'blocked' K-fold (the headline) and/or "
        "'random' K-fold", choices=("random", "blocked")),
    Key("folds", "int", 5, "number of folds K", min=2, max=100),
    Key("block_deg", "float", 10.0, "size of the lat/lon blocks of the blocked split", min=0.1, max=180.0,
        units="degrees"),
    Key("n_random", "int", 1000, "parameter vectors of the random-sampling method (seed 002: 1000)", min=1),
    Key("n_boot", "int", 1000, "bootstrap resamples of the held-out sites for the confidence intervals", min=0,
        max=100000),
), doc="Held-out evaluation against observed profiles (seed 002 Table 1).")

GRID = Group("grid", (
    Key("enabled", "bool", True, "predict parameter maps and run the model on the grid"),
    Key("fill", "str", "none", "grid cells with a missing covariate: 'none' = masked (reported), 'nearest' = value "
        "of the nearest cell that has it (reported)", choices=("none", "nearest")),
    Key("fill_max_km", "float", 500.0, "largest distance of a nearest-cell fill", min=0.0, units="km"),
    Key("max_ice_fraction", "float", 0.5, "land cells whose land is mostly permanent snow and ice (MCD12C1 "
        "class 15 share above this) are left out as ice sheets (1: keep them)", min=0.0, max=1.0),
    Key("region", "list[float]", [], "lat_min, lat_max, lon_min, lon_max of a sub-region (empty: global)"),
    Key("n_bootstrap", "int", 200, "bootstrap members (PRODA: 200)", min=0, max=100000),
    Key("posterior_draws", "bool", True, "also train a bootstrap ensemble on posterior draws (posterior "
        "propagation; needs the .nc posterior)"),
    Key("member_components", "bool", False, "compute the system components for every bootstrap member "
        "(uncertainty maps of the components)"),
), doc="Gridded prediction and uncertainty (spec methods.md §3.5).")


def build_spec(model_name: str) -> NamelistSpec:
    cls = model_class(model_name)
    return NamelistSpec([PRODA, NETWORK, EVALUATION, GRID, cls.options_group], doc="Namelist of pysoc-proda.")


def load_namelist(path):
    return read_model_namelist(path, "proda", MODELS, build_spec, default=MODELS[0] if MODELS else "")[0]


def training_options(nml) -> dict:
    """Options of :func:`pysoc.proda.training.fit_model` from the &network group."""
    n = nml["network"]
    return {"input_transform": n["input_transform"], "clip_to_training": n["clip_to_training"]}


def network_params(nml) -> dict:
    n = nml["network"]
    return dict(backend=n["backend"], hidden_layer_sizes=tuple(n["hidden_layers"]), dropout=n["dropout"],
                loss=n["loss"], learning_rate=n["learning_rate"] or None, batch_size=n["batch_size"],
                max_epochs=n["max_epochs"], patience=n["patience"] or None,
                validation_fraction=n["validation_fraction"], alpha=n["alpha"])


class Log:
    def __init__(self, enabled: bool, rank: int):
        self.enabled, self.rank, self.t0 = enabled and rank == 0, rank, time.time()

    def __call__(self, msg: str) -> None:
        if self.enabled:
            print(f"pysoc-proda [{time.time() - self.t0:7.1f} s] {msg}", file=sys.stderr, flush=True)


def _match_sites(post, profiles, src):
    by_id = {p.site_id: p for p in profiles}
    keep = [i for i, s in enumerate(post.site_ids) if s in by_id]
    missing = [s for s in post.site_ids if s not in by_id]
    if not keep:
        raise DataError(f"{src}: none of the {post.n_sites} calibrated sites is in the profile table "
                        f"(first site_id {post.site_ids[0]!r})")
    post = post.subset(keep)
    return post, [by_id[s] for s in post.site_ids], missing


def _no_site_left(p, post0, removed) -> DataError:
    """One line naming the filter(s) that removed every site."""
    n_gr = sum(r.startswith("Gelman-Rubin") for _, r in removed)
    n_nse = sum(r.startswith("NSE") for _, r in removed)
    n_conv = sum(r.startswith("not converged") for _, r in removed)
    parts = [f"{n_conv} did not converge (require_converged)"] if n_conv else []
    if n_gr:
        parts.append(f"{n_gr} have a mean Gelman-Rubin above max_gelman_rubin = {p['max_gelman_rubin']:g}")
    if n_nse:
        parts.append(f"{n_nse} an NSE below min_nse = {p['min_nse']:g}")
    failed = len(post0.attrs.get("failed_sites", []))
    return DataError(f"{p['posterior_file']}: no site passes the filters: of {post0.n_sites} calibrated sites"
                     f"{f' ({failed} more failed)' if failed else ''}, " + " and ".join(parts) + " (&proda "
                     + ", ".join(k for k, n in (("require_converged", n_conv), ("max_gelman_rubin", n_gr),
                                                ("min_nse", n_nse)) if n) + ")")


def _site_forcings(model, profs, complete):
    forcings, ok = [], np.zeros(len(profs), bool)
    for i, pr in enumerate(profs):
        if not complete[i]:
            forcings.append(None)
            continue
        try:
            forcings.append(model.site_forcing(pr))
            ok[i] = True
        except DataError:
            forcings.append(None)
    return forcings, ok


def prepare_sites(nml, model, log):
    """Posteriors, profiles, covariates and forcing of the usable sites."""
    from pysoc.io.profiles import read_profiles
    from pysoc.proda import covariates as cv
    from pysoc.proda.posteriors import load_site_posteriors

    p = nml["proda"]
    post0 = load_site_posteriors(p["posterior_file"], model, max_draws=p["max_draws"])
    report = {"posterior_sites": post0.n_sites, "failed_calibrations": len(post0.attrs.get("failed_sites", []))}
    if post0.n_sites == 0:
        raise DataError(f"{p['posterior_file']}: no successfully calibrated site ({report['failed_calibrations']} "
                        f"failed)")
    post, removed = post0.quality_filter(p["max_gelman_rubin"], p["min_nse"], p["require_converged"])
    report["removed_quality"] = len(removed)
    for key, start in (("removed_not_converged", "not converged"), ("removed_gelman_rubin", "Gelman-Rubin"),
                       ("removed_nse", "NSE")):
        report[key] = sum(r.startswith(start) for _, r in removed)
    if post.n_sites == 0:
        raise _no_site_left(p, post0, removed)
    profiles = read_profiles(p["sites_file"], p["layers_file"])
    post, profs, missing = _match_sites(post, profiles, p["posterior_file"])
    report["not_in_profile_table"] = len(missing)
    covs = cv.resolve(p["covariates"])
    grid = cv.CovariateGrid(p["grid_file"])
    grid.check(covs)
    sc = cv.site_covariates(profs, covs, grid, sites_file=p["sites_file"], max_km=p["site_max_km"])
    complete = sc.complete()
    forcings, prep_ok = _site_forcings(model, profs, complete)
    keep = np.flatnonzero(complete & prep_ok)
    report["dropped_missing_covariate"] = int((~complete).sum())
    report["dropped_no_forcing"] = int((complete & ~prep_ok).sum())
    report["sites_used"] = int(keep.size)
    summary = (f"{report['sites_used']} sites used ({report['posterior_sites']} calibrated; removed: "
               f"{report['removed_not_converged']} not converged, {report['removed_gelman_rubin']} by G-R, "
               f"{report['removed_nse']} by NSE; {report['not_in_profile_table']} not in the profile table, "
               f"{report['dropped_missing_covariate']} with a missing covariate, {report['dropped_no_forcing']} "
               f"without site forcing)")
    if keep.size < 5:
        raise DataError(f"{p['posterior_file']}: only {summary}; PRODA needs at least 5")
    log(summary)
    post = post.subset(keep)
    profs = [profs[i] for i in keep]
    forcings = [forcings[i] for i in keep]
    X = sc.values[keep]
    origin = sc.origin[keep]
    cov_rows = []
    for j, c in enumerate(covs):
        cov_rows.append(dict(covariate=c.name, units=c.units, group=c.group, site_source=c.site.text(),
                             grid_source=c.grid.text(), sites_from_table=int((origin[:, j] == "table").sum()),
                             sites_from_grid=int((origin[:, j] == "grid").sum()),
                             sites_missing_before_drop=int(sc.report["missing"].get(c.name, 0)),
                             site_min=float(X[:, j].min()), site_max=float(X[:, j].max())))
    return dict(post=post, profiles=profs, X=X, forcings=forcings, prep=model.prepare(forcings), covs=covs,
                grid=grid, report=report, cov_table=pd.DataFrame(cov_rows))


def run(nml_path, plots=None) -> int:
    nml = load_namelist(nml_path)
    return run_namelist(nml, plots)


def run_namelist(nml, plots=None) -> int:
    """Run the workflow of a checked namelist. ``plots``: the figure writer (an object with
    scatter_figure, soc_map_figure, components_figure, latitude_figure; the CLI passes
    :mod:`pysoc.proda.plots`); None writes no figures."""
    from pysoc.proda import covariates as cv
    from pysoc.da.parallel import get_executor
    from pysoc.proda.training import fit_model

    p = nml["proda"]
    comm = get_executor(p["mpi"])
    log = Log(p["progress"], comm.rank)
    cls = model_class(p["model"])
    model = cls(**nml[cls.options_group.name])
    outdir = Path(p["output_dir"])
    name = p["run_name"]
    netp = network_params(nml)
    if netp["backend"] == "torch":
        from pysoc.proda.network import _import_torch
        _import_torch()
    cv.resolve(p["covariates"])            # unknown covariate names fail before any work
    log(f"model {model.name}, {comm.size} rank(s), network {netp['backend']} {netp['hidden_layer_sizes']}")
    site = prepare_sites(nml, model, log)
    written = []
    if comm.rank == 0:
        written.append(out_csv(site["cov_table"], outdir / f"{name}_covariates.csv"))
    if nml["evaluation"]["enabled"]:
        written += _evaluation(nml, model, site, netp, comm, log, plots)
    g = nml["grid"]
    log(f"training the PRODA model: best-guess network and {g['n_bootstrap']} bootstrap members"
        + (" (posterior means and draws)" if g["posterior_draws"] and site["post"].draws is not None else ""))
    pm = fit_model(model, site["post"], site["profiles"], site["X"], site["covs"], netp, seed=p["seed"],
                   n_bootstrap=g["n_bootstrap"], draws=g["posterior_draws"], settings=model_settings(nml, site),
                   options=training_options(nml), comm=comm, progress=lambda m: log(f"  member {m} trained") if m and m % 20 == 0 else None)
    if comm.rank == 0:
        written.append(pm.save(outdir / f"{name}_model.nc"))
    if g["enabled"]:
        written += _grid(nml, model, site, pm, comm, log, plots)
    if comm.rank == 0:
        for w in written:
            log(f"wrote {w}")
    return 0


def out_csv(df, path):
    from pysoc.proda.output import write_csv

    return write_csv(df, path)


def model_settings(nml, site) -> dict:
    """What a saved model records about its training run (provenance and prediction settings)."""
    from pysoc.proda.sites import portable_path

    p = nml["proda"]
    return {"grid_file": portable_path(p["grid_file"]), "site_max_km": p["site_max_km"],
            "site_forcing": "the model's site_forcing capability (defaults, as the calibration)",
            "posterior_file": str(p["posterior_file"]), "sites_file": str(p["sites_file"]),
            "max_gelman_rubin": p["max_gelman_rubin"], "min_nse": p["min_nse"],
            "sites_used": site["report"]["sites_used"], "namelist": nml.text}


def warn(msg: str, rank: int = 0) -> None:
    """A warning line on stderr (always shown, rank 0 only)."""
    if rank == 0:
        print(f"pysoc-proda: warning: {msg}", file=sys.stderr, flush=True)


def _evaluation(nml, model, site, netp, comm, log, plots) -> list:
    from pysoc.proda.evaluate import evaluate_heldout
    from pysoc.proda.posteriors import load_one_batch

    p, ev = nml["proda"], nml["evaluation"]
    name, outdir = p["run_name"], Path(p["output_dir"])
    ob = load_one_batch(p["one_batch_file"], model) if p["one_batch_file"] else None
    log("held-out evaluation: " + ", ".join(ev["splits"]) + f" ({ev['folds']} folds)")
    res = evaluate_heldout(model, site["profiles"], site["forcings"], site["X"], site["post"], netp, site["covs"],
                           folds=ev["folds"], block_deg=ev["block_deg"], seed=p["seed"], n_random=ev["n_random"],
                           one_batch_kp=ob, splits=tuple(ev["splits"]), n_boot=ev["n_boot"],
                           options=training_options(nml), comm=comm,
                           progress=lambda m: log(f"  {m}"))
    if comm.rank != 0:
        return []
    written = [out_csv(res[k], outdir / f"{name}_{f}.csv") for k, f in
               (("metrics", "evaluation"), ("differences", "differences"), ("pairs", "evaluation_pairs"),
                ("parameters", "parameter_skill"))]
    if p["figures"] and plots is not None:
        written.append(plots.scatter_figure(res["pairs"], res["metrics"], outdir / f"{name}_scatter.png",
                                            title=f"PRODA {model.name}: held-out profiles"))
    for line in evaluation_lines(res, ev["block_deg"]):
        log(line)
    return written


def evaluation_lines(res, block_deg: float) -> list[str]:
    """The log lines of the evaluation: spatially blocked split first (the headline)."""
    from pysoc.proda.scoring import metric_lines

    lines = []
    met, diff, ps = res["metrics"], res["differences"], res["parameters"]
    order = sorted(dict.fromkeys(met["split"]), key=lambda s: s != "blocked")
    for sp in order:
        head = f"spatially blocked folds ({block_deg:g} degree blocks; the headline)" if sp == "blocked" else \
            "random folds (secondary: includes interpolation between nearby sites)"
        lines.append(f"  {head}:")
        lines += metric_lines(met[met["split"] == sp], diff[diff["split"] == sp], indent="    ")
        p = ps[ps["split"] == sp]
        if len(p):
            best = p.sort_values("r2", ascending=False).head(6)
            lines.append("    held-out parameter R2 (spread ratio predicted/posterior): " + ", ".join(
                f"{r.parameter} {r.r2:.2f} ({r.spread_ratio:.2f})" for r in best.itertuples()))
    return lines


def _grid(nml, model, site, pm, comm, log, plots) -> list:
    from pysoc.proda import covariates as cv
    from pysoc.proda.gridrun import GridRunner

    g = nml["grid"]
    grid = site["grid"]
    table = cv.grid_covariates(grid, site["covs"], fill=g["fill"], max_km=g["fill_max_km"],
                               max_ice_fraction=g["max_ice_fraction"], region=g["region"] or None)
    if table.cells.size == 0:
        raise DataError(f"{grid.path}: no land cell with a complete set of covariates in the domain")
    log("grid: " + table.summary())
    runner = GridRunner(model, table, comm, full_kp=pm.full_kp, input_transform=pm.input_transform)
    best = runner.best(pm.ensemble("best"))
    boot = draws = None
    if "boot" in pm.ensembles:
        log("forward runs of the bootstrap members (posterior means)")
        boot = runner.ensemble(pm.ensemble("boot"), components=g["member_components"])
    if "draws" in pm.ensembles:
        log("forward runs of the bootstrap members (posterior draws)")
        draws = runner.ensemble(pm.ensemble("draws"), components=g["member_components"])
    elif g["posterior_draws"] and g["n_bootstrap"] and site["post"].draws is None:
        log("no posterior draws in the posterior file: the draw-trained ensemble is skipped")
    if comm.rank != 0:
        return []
    return _grid_outputs(nml, model, site, table, best, boot, draws, log, plots)


def _grid_outputs(nml, model, site, table, best, boot, draws, log, plots) -> list:
    from pysoc.proda import output as out
    from pysoc.proda.gridrun import stock_intervals, stock_labels

    p, g = nml["proda"], nml["grid"]
    name, outdir = p["run_name"], Path(p["output_dir"])
    attrs = {"sites_used": site["report"]["sites_used"], "covariates": ", ".join(table.names),
             "grid_cells_modelled": int(table.cells.size), "grid_cells_masked": int(table.masked.size),
             "grid_masked_area_m2": table.masked_area_m2, "grid_fill": g["fill"],
             "grid_ice_cells": int(table.ice.size), "grid_ice_area_m2": table.ice_area_m2,
             "grid_filled_cells": ", ".join(f"{k}: {v}" for k, v in table.filled.items()) or "none",
             "kernel_failed_cells_best": int((np.asarray(best.status) != 0).sum()),
             "network": str(network_params(nml)), "n_bootstrap": g["n_bootstrap"], "seed": p["seed"],
             "posterior_file": p["posterior_file"], "proda_model": f"{name}_model.nc", "namelist": nml.text}
    ds = out.maps_dataset(model, table, best, stock_labels(model), stock_intervals(model), boot, draws, site["post"],
                          attrs)
    ds = _add_zonal(ds, table, boot, draws)
    written = [out.write_maps(ds, outdir / f"{name}_maps.nc")]
    tot = out.totals_table(ds)
    written.append(out.write_csv(tot, outdir / f"{name}_totals.csv"))
    for line, wide in totals_lines(tot):
        log(line)
        if wide:
            warn(wide)
    wid = out.cell_widening(ds)
    if wid:
        log(f"  per-cell sd ratio draws/means (0-100 cm): median {wid['median_cell_sd_ratio']:.2f}")
    if p["figures"] and plots is not None:
        written.append(plots.soc_map_figure(ds, outdir / f"{name}_soc_maps.png"))
        written.append(plots.components_figure(ds, outdir / f"{name}_components.png"))
        written.append(plots.latitude_figure([ds], outdir / f"{name}_latitude.png"))
    return written


#: a bootstrap 5-95 % range of a total wider than this factor (p95 / p05) is warned about
WIDE_BAND_FACTOR = 2.0


def totals_lines(tot) -> list[tuple[str, str | None]]:
    """(log line, warning or None) per depth interval of the totals table (whole column: CSV only)."""
    out = []
    for r in tot.itertuples():
        if "whole column" in r.depth_interval:
            continue                   # below the observations: reported in the CSV only
        msg = f"  total {r.depth_interval}: best {r.best_pg:.0f} Pg C"
        wide = []
        for ens, what in (("boot", "bootstrap"), ("draws", "trained on posterior draws")):
            if not hasattr(r, f"{ens}_p05_pg"):
                continue
            lo, hi, med = getattr(r, f"{ens}_p05_pg"), getattr(r, f"{ens}_p95_pg"), getattr(r, f"{ens}_median_pg")
            msg += f"; {what} median {med:.0f} (5-95 % {lo:.0f}-{hi:.0f})"
            if not (lo > 0 and hi / lo <= WIDE_BAND_FACTOR):
                wide.append(f"{what} {lo:.0f}-{hi:.0f} Pg C")
        warning = (f"the 5-95 % range of the {r.depth_interval} total spans more than a factor "
                   f"{WIDE_BAND_FACTOR:g} ({'; '.join(wide)}): the global total is poorly constrained (too few or "
                   f"too noisy sites?)") if wide else None
        out.append((msg, warning))
    return out


def _add_zonal(ds, table, boot, draws, interval: int = 1):
    """Zonal (area-weighted) mean SOC of every member for the latitude figure."""
    from pysoc.proda.output import interval_label, to_map, zonal_mean

    for name, run in (("boot", boot), ("draws", draws)):
        if run is None or not len(run.members):
            continue
        z = np.stack([zonal_mean(ds, to_map(table.grid, table.cells, run.stocks[m, interval]))
                      for m in range(len(run.members))])
        ds[f"soc_zonal_{name}"] = ((f"member_{name}", "lat"), z, {
            "units": "kg m-2", "long_name": f"zonal mean SOC stock {interval_label(ds, interval)} of each "
                                           f"bootstrap member ({'posterior means' if name == 'boot' else 'draws'})"})
    return ds

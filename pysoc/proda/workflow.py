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
from pysoc.models import model_class

PRODA = Group("proda", (
    Key("model", "str", "clm5", "model whose site calibrations are generalised (grid forcing and system "
        "components exist for these two)", choices=("clm5", "compas")),
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
), doc="The neural network (spec methods.md §3.3).")

EVALUATION = Group("evaluation", (
    Key("enabled", "bool", True, "run the held-out evaluation"),
    Key("splits", "list[str]", ["random", "blocked"], "splits: 'random' K-fold and/or spatially 'blocked' K-fold",
        choices=("random", "blocked")),
    Key("folds", "int", 5, "number of folds K", min=2, max=100),
    Key("block_deg", "float", 10.0, "size of the lat/lon blocks of the blocked split", min=0.1, max=180.0,
        units="degrees"),
    Key("n_random", "int", 1000, "parameter vectors of the random-sampling method (seed 002: 1000)", min=1),
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
    return read_model_namelist(path, "proda", ("clm5", "compas"), build_spec)[0]


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


def prepare_sites(nml, model, log):
    """Posteriors, profiles, covariates and forcing of the usable sites."""
    from pysoc.io.profiles import read_profiles
    from pysoc.io.site_forcing import site_forcing
    from pysoc.proda import covariates as cv
    from pysoc.proda.posteriors import load_site_posteriors

    p = nml["proda"]
    post = load_site_posteriors(p["posterior_file"], model, max_draws=p["max_draws"])
    report = {"posterior_sites": post.n_sites, "failed_calibrations": len(post.attrs.get("failed_sites", []))}
    post, removed = post.quality_filter(p["max_gelman_rubin"], p["min_nse"])
    report["removed_quality"] = len(removed)
    profiles = read_profiles(p["sites_file"], p["layers_file"])
    post, profs, missing = _match_sites(post, profiles, p["posterior_file"])
    report["not_in_profile_table"] = len(missing)
    covs = cv.resolve(p["covariates"])
    grid = cv.CovariateGrid(p["grid_file"])
    grid.check(covs)
    sc = cv.site_covariates(profs, covs, grid, sites_file=p["sites_file"], max_km=p["site_max_km"])
    complete = sc.complete()
    forcings, prep_ok = [], np.zeros(len(profs), bool)
    for i, pr in enumerate(profs):
        if not complete[i]:
            continue
        try:
            forcings.append(site_forcing(model, pr))
            prep_ok[i] = True
        except DataError:
            pass
    keep = np.flatnonzero(complete & prep_ok)
    report["dropped_missing_covariate"] = int((~complete).sum())
    report["dropped_no_forcing"] = int((complete & ~prep_ok).sum())
    report["sites_used"] = int(keep.size)
    if keep.size < 5:
        raise DataError(f"{p['posterior_file']}: only {keep.size} usable sites (calibrated, passing the filters, with "
                        f"all covariates and a forcing); PRODA needs at least 5")
    post = post.subset(keep)
    profs = [profs[i] for i in keep]
    X = sc.values[keep]
    origin = sc.origin[keep]
    prep = model.prepare(forcings)
    log(f"{report['sites_used']} sites used ({report['posterior_sites']} calibrated, {report['removed_quality']} "
        f"removed by G-R/NSE, {report['not_in_profile_table']} not in the profile table, "
        f"{report['dropped_missing_covariate']} with a missing covariate)")
    cov_rows = []
    for j, c in enumerate(covs):
        cov_rows.append(dict(covariate=c.name, units=c.units, group=c.group, site_source=c.site.text(),
                             grid_source=c.grid.text(), sites_from_table=int((origin[:, j] == "table").sum()),
                             sites_from_grid=int((origin[:, j] == "grid").sum()),
                             sites_missing_before_drop=int(sc.report["missing"].get(c.name, 0)),
                             site_min=float(X[:, j].min()), site_max=float(X[:, j].max())))
    return dict(post=post, profiles=profs, X=X, prep=prep, covs=covs, grid=grid, report=report,
                cov_table=pd.DataFrame(cov_rows))


def run(nml_path, plots=None) -> int:
    nml = load_namelist(nml_path)
    return run_namelist(nml, plots)


def run_namelist(nml, plots=None) -> int:
    """Run the workflow of a checked namelist. ``plots``: the figure writer (an object with
    scatter_figure, soc_map_figure, components_figure, latitude_figure; the CLI passes
    :mod:`pysoc.proda.plots`); None writes no figures."""
    from pysoc.proda import covariates as cv
    from pysoc.proda import output as out
    from pysoc.proda.ensemble import member_specs, train_members
    from pysoc.proda.evaluate import evaluate_heldout
    from pysoc.proda.gridrun import GridRunner, stock_intervals, stock_labels
    from pysoc.proda.parallel import get_comm
    from pysoc.proda.posteriors import load_one_batch

    p = nml["proda"]
    comm = get_comm(p["mpi"])
    log = Log(p["progress"], comm.rank)
    cls = model_class(p["model"])
    model = cls(**nml[cls.options_group.name])
    outdir = Path(p["output_dir"])
    name = p["run_name"]
    netp = network_params(nml)
    seed = p["seed"]
    if netp["backend"] == "torch":
        from pysoc.proda.network import _import_torch
        _import_torch()
    cv.resolve(p["covariates"])            # unknown covariate names fail before any work
    log(f"model {model.name}, {comm.size} rank(s), network {netp['backend']} {netp['hidden_layer_sizes']}")
    site = prepare_sites(nml, model, log)
    post, X = site["post"], site["X"]
    written = []
    summary = {"sites_used": site["report"]["sites_used"]}
    if comm.rank == 0:
        written.append(out.write_csv(site["cov_table"], outdir / f"{name}_covariates.csv"))

    # ---- held-out evaluation
    ev = nml["evaluation"]
    if ev["enabled"]:
        ob = load_one_batch(p["one_batch_file"], model) if p["one_batch_file"] else None
        log("held-out evaluation: " + ", ".join(ev["splits"]) + f" ({ev['folds']} folds)")
        res = evaluate_heldout(model, site["profiles"], site["prep"], X, post, netp, folds=ev["folds"],
                               block_deg=ev["block_deg"], seed=seed, n_random=ev["n_random"], one_batch_kp=ob,
                               splits=tuple(ev["splits"]), comm=comm, progress=lambda m: log(f"  {m}"))
        if comm.rank == 0:
            written.append(out.write_csv(res["metrics"], outdir / f"{name}_evaluation.csv"))
            written.append(out.write_csv(res["pairs"], outdir / f"{name}_evaluation_pairs.csv"))
            written.append(out.write_csv(res["parameters"], outdir / f"{name}_parameter_skill.csv"))
            if p["figures"] and plots is not None:
                written.append(plots.scatter_figure(res["pairs"], res["metrics"], outdir / f"{name}_scatter.png",
                                                    title=f"PRODA {model.name}: held-out profiles"))
            for r in res["metrics"].itertuples():
                log(f"  {r.split:8s} {r.method:16s} R2 {r.r2:5.2f}  r {r.r:5.2f}  RMSE {r.rmse_kg_m3:6.2f} kg C m-3 "
                    f"({r.n_layers} layers, {r.n_sites} sites)")
            summary["evaluation"] = res["metrics"]

    # ---- grid
    g = nml["grid"]
    if g["enabled"]:
        grid = site["grid"]
        table = cv.grid_covariates(grid, site["covs"], fill=g["fill"], max_km=g["fill_max_km"],
                                   max_ice_fraction=g["max_ice_fraction"], region=g["region"] or None)
        if table.cells.size == 0:
            raise DataError(f"{grid.path}: no land cell with a complete set of covariates in the domain")
        log("grid: " + table.summary())
        runner = GridRunner(model, table, comm, full_kp=post.full_kp)
        nd = None if post.draws is None else post.draws.shape[1]
        specs = member_specs(post.n_sites, g["n_bootstrap"], netp["validation_fraction"], seed, n_draws=nd)
        log(f"training the best-guess network and {g['n_bootstrap']} bootstrap members on posterior means")
        nets = train_members(specs, X, post.mean, post.draws, netp, "mean", comm,
                             progress=lambda m: log(f"  member {m} trained") if m % 20 == 0 else None)
        best = runner.best(_bcast_net(comm, nets, 0))
        boot_ids = [s.index for s in specs[1:]]
        log("forward runs of the bootstrap members (posterior means)")
        boot = runner.ensemble(nets, boot_ids, components=g["member_components"]) if boot_ids else None
        draws = None
        if g["posterior_draws"] and boot_ids:
            if post.draws is None:
                log("no posterior draws in the posterior file: the draw-trained ensemble is skipped")
            else:
                log(f"training {len(boot_ids)} bootstrap members on posterior draws")
                dnets = train_members(specs[1:], X, post.mean, post.draws, netp, "draws", comm)
                draws = runner.ensemble(dnets, boot_ids, components=g["member_components"])
        if comm.rank == 0:
            intervals = stock_intervals(model)
            attrs = {"sites_used": site["report"]["sites_used"], "covariates": ", ".join(table.names),
                     "grid_cells_modelled": int(table.cells.size), "grid_cells_masked": int(table.masked.size),
                     "grid_masked_area_m2": table.masked_area_m2, "grid_fill": g["fill"],
                     "grid_ice_cells": int(table.ice.size), "grid_ice_area_m2": table.ice_area_m2,
                     "grid_filled_cells": ", ".join(f"{k}: {v}" for k, v in table.filled.items()) or "none",
                     "kernel_failed_cells_best": int((np.asarray(best.status) != 0).sum()),
                     "network": str(netp), "n_bootstrap": g["n_bootstrap"], "seed": seed,
                     "posterior_file": p["posterior_file"], "namelist": nml.text}
            ds = out.maps_dataset(model, table, best, stock_labels(model), intervals, boot, draws, post, attrs)
            ds = _add_zonal(ds, table, boot, draws)
            written.append(out.write_maps(ds, outdir / f"{name}_maps.nc"))
            tot = out.totals_table(ds)
            written.append(out.write_csv(tot, outdir / f"{name}_totals.csv"))
            wid = out.cell_widening(ds)
            for r in tot.itertuples():
                if "whole column" in r.depth_interval:
                    continue                   # below the observations: reported in the CSV only
                msg = f"  total {r.depth_interval}: best {r.best_pg:.0f} Pg C"
                if hasattr(r, "boot_sd_pg"):
                    msg += f"; bootstrap median {r.boot_median_pg:.0f} (5-95 % {r.boot_p05_pg:.0f}-{r.boot_p95_pg:.0f})"
                if hasattr(r, "draws_sd_pg"):
                    msg += f"; trained on posterior draws {r.draws_median_pg:.0f} ({r.draws_p05_pg:.0f}-" \
                           f"{r.draws_p95_pg:.0f}, band x {r.widening_p05_p95:.2f})"
                log(msg)
            if wid:
                log(f"  per-cell sd ratio draws/means (0-100 cm): median {wid['median_cell_sd_ratio']:.2f}")
            summary["totals"] = tot
            if p["figures"] and plots is not None:
                written.append(plots.soc_map_figure(ds, outdir / f"{name}_soc_maps.png"))
                written.append(plots.components_figure(ds, outdir / f"{name}_components.png"))
                written.append(plots.latitude_figure([ds], outdir / f"{name}_latitude.png"))
    if comm.rank == 0:
        for w in written:
            log(f"wrote {w}")
    return 0


def _bcast_net(comm, nets, index):
    from pysoc.proda.ensemble import broadcast_member
    return broadcast_member(comm, nets, index)


def _add_zonal(ds, table, boot, draws, interval: int = 1):
    """Zonal (area-weighted) mean SOC of every member for the latitude figure."""
    from pysoc.proda.output import to_map, zonal_mean

    for name, run in (("boot", boot), ("draws", draws)):
        if run is None or not len(run.members):
            continue
        z = np.stack([zonal_mean(ds, to_map(table.grid, table.cells, run.stocks[m, interval]))
                      for m in range(len(run.members))])
        ds[f"soc_zonal_{name}"] = ((f"member_{name}", "lat"), z, {
            "units": "kg m-2", "long_name": f"zonal mean SOC stock {ds['depth_interval'].values[interval]} of each "
                                           f"bootstrap member ({'posterior means' if name == 'boot' else 'draws'})"})
    return ds

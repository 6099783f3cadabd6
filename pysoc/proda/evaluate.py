"""Held-out evaluation of PRODA (spec methods.md §3.4; seed 002 Table 1).

Sites are split into K folds twice: at random, and spatially blocked (lat/lon blocks of
``block_deg`` degrees assigned whole to folds, so held-out sites are geographically apart
from the training sites). For every fold the methods below give parameters for the
held-out sites, the kernel is run, and the modelled mean SOC density over every observed
layer is compared with the observation:

- ``default``: the model's default parameter set (CLM5: the CLM5 values);
- ``one_batch``: the posterior mean of a one-batch calibration (all sites share one
  vector; from the engine's one-batch output when given);
- ``random_sampling``: seed 002's "random sampling of site optima": ``n_random`` vectors
  whose parameters are drawn independently from the empirical distributions of the
  training sites' posterior modes (means when no mode is available); the modelled profile
  is the mean over the vectors;
- ``neural_network``: a PRODA network trained on the training folds (posterior means);
- ``site_by_site``: each held-out site's own posterior mean (in-sample reference, as in
  Table 1).

Metrics (pooled over all held-out layers, SOC density in kg C m-3 as Table 1): R^2 of the
regression line (= r^2), Pearson r, RMSE, plus NSE, bias and the counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pysoc.errors import ConfigError
from pysoc.proda.network import ProdaNetwork
from pysoc.proda.parallel import SerialComm, owner
from pysoc.profiles import interval_means

METHODS = ("default", "one_batch", "random_sampling", "neural_network", "site_by_site")
#: seed 002 Table 1 (CLM5, conterminous USA): R^2, r, RMSE (kg C m-3)
SEED002_TABLE1 = {
    "default": (0.32, 0.57, 15.86), "one_batch": (0.43, 0.65, 11.41), "site_by_site": (0.95, 0.98, 3.32),
    "random_sampling": (0.36, 0.60, 12.39), "neural_network": (0.62, 0.79, 8.95),
}


def random_folds(n: int, k: int, seed: int = 0) -> np.ndarray:
    """Fold id (0..k-1) per site, balanced, random."""
    if k < 2 or k > n:
        raise ConfigError(f"cv_folds must be in [2, number of sites = {n}], got {k}")
    rng = np.random.default_rng(seed)
    f = np.arange(n) % k
    rng.shuffle(f)
    return f


def blocked_folds(lat, lon, k: int, block_deg: float = 10.0, seed: int = 0) -> np.ndarray:
    """Fold id per site with whole lat/lon blocks of ``block_deg`` degrees per fold: blocks
    in random order go to the fold with the fewest sites so far."""
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    if block_deg <= 0:
        raise ConfigError(f"block_deg must be > 0, got {block_deg}")
    key = np.floor((lat + 90.0) / block_deg).astype(int) * 100000 + np.floor((lon + 180.0) / block_deg).astype(int)
    blocks, inv = np.unique(key, return_inverse=True)
    if blocks.size < k:
        raise ConfigError(f"spatially blocked split: only {blocks.size} blocks of {block_deg:g} degrees for "
                          f"{k} folds; use a smaller block_deg or fewer folds")
    rng = np.random.default_rng(seed)
    counts = np.bincount(inv)
    order = rng.permutation(blocks.size)
    order = order[np.argsort(-counts[order], kind="stable")]      # large blocks first, random ties
    load = np.zeros(k, int)
    bfold = np.empty(blocks.size, int)
    for b in order:
        f = int(np.argmin(load))
        bfold[b] = f
        load[f] += counts[b]
    return bfold[inv]


def layer_means(model, soc_profiles: np.ndarray, profiles, sites) -> list[np.ndarray]:
    """Modelled mean SOC density (g C m-3) over the observed layers of each site."""
    out = []
    for row, s in zip(soc_profiles, sites):
        p = profiles[s]
        out.append(interval_means(row[None, :], model.bounds, p.bounds)[0])
    return out


def run_sites(model, prep, theta, sites) -> tuple[np.ndarray, np.ndarray]:
    """SOC profiles (n, nlev) and status (n,) of parameter vectors theta at ``sites``."""
    res = model.evaluate(prep, theta, observables=("soc_profile",), site_index=np.asarray(sites, np.int32))
    soc = np.where(res.ok[:, None], res.outputs["soc_profile"], np.nan)
    return soc, np.asarray(res.status)


@dataclass
class Pairs:
    """Observed and modelled layer values of one method (g C m-3) with their site index."""

    obs: list
    mod: list
    site: list
    failed_sites: int = 0          #: kernel failed for the site's parameters
    layers_below_column: int = 0   #: observed layers entirely below the model column (no model value)

    def arrays(self):
        if not self.obs:
            return np.array([]), np.array([]), np.array([], int)
        return (np.concatenate(self.obs), np.concatenate(self.mod),
                np.concatenate([np.full(len(o), s) for o, s in zip(self.obs, self.site)]))


def _collect(pairs: Pairs, model, soc, status, profiles, sites):
    for row, st, s in zip(soc, status, sites):
        p = profiles[s]
        m = interval_means(row[None, :], model.bounds, p.bounds)[0]
        pairs.obs.append(p.soc)
        pairs.mod.append(m)
        pairs.site.append(s)
        if st != 0:
            pairs.failed_sites += 1
        else:
            pairs.layers_below_column += int((~np.isfinite(m)).sum())


def random_sampling_theta(model, post, optima_kp: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n physical vectors with every calibrated parameter drawn independently from the
    empirical distribution of the training sites' optima (kp)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, optima_kp.shape[0], (n, optima_kp.shape[1]))
    kp = optima_kp[idx, np.arange(optima_kp.shape[1])[None, :]]
    return model.to_physical(post.full_kp(kp))


def mean_profile_over_vectors(model, prep, theta_set: np.ndarray, sites) -> np.ndarray:
    """Mean SOC profile (n_sites, nlev) of every site over all vectors of ``theta_set``
    (failed evaluations left out)."""
    nv = theta_set.shape[0]
    out = np.full((len(sites), model.nlev), np.nan)
    for i, s in enumerate(sites):
        soc, st = run_sites(model, prep, theta_set, np.full(nv, s))
        ok = st == 0
        if ok.any():
            out[i] = soc[ok].mean(axis=0)
    return out


def evaluate_heldout(model, profiles, prep, X, post, network_params: dict, *, folds: int = 5,
                     block_deg: float = 10.0, seed: int = 0, n_random: int = 1000, one_batch_kp=None,
                     splits=("random", "blocked"), comm=None, progress=None) -> dict:
    """Run the held-out comparison (module docstring). ``profiles`` (list, aligned with
    the rows of ``X`` and ``post``), ``prep`` the prepared forcing of these sites (site i =
    row i). Returns {'metrics': DataFrame, 'pairs': DataFrame, 'parameters': DataFrame}
    on rank 0 (None elsewhere)."""
    comm = comm or SerialComm()
    n = len(profiles)
    lat = np.array([p.lat for p in profiles])
    lon = np.array([p.lon for p in profiles])
    fold_ids = {}
    for sp in splits:
        if sp == "random":
            fold_ids[sp] = random_folds(n, folds, seed)
        elif sp == "blocked":
            fold_ids[sp] = blocked_folds(lat, lon, folds, block_deg, seed)
        else:
            raise ConfigError(f"unknown split {sp!r} (known: random, blocked)")
    optima = post.mode if post.mode is not None else post.mean
    tasks = [(sp, f) for sp in splits for f in range(folds)]
    local = {}
    for t, (sp, f) in enumerate(tasks):
        if owner(t, comm.size) != comm.rank:
            continue
        test = np.flatnonzero(fold_ids[sp] == f)
        train = np.flatnonzero(fold_ids[sp] != f)
        net = ProdaNetwork(**{**network_params, "random_state": seed + 1000 * (1 + t)})
        net.fit(X[train], post.mean[train])
        kp_nn = net.predict(X[test])
        soc_nn, st_nn = run_sites(model, prep, model.to_physical(post.full_kp(kp_nn)), test)
        rs_theta = random_sampling_theta(model, post, optima[train], n_random, seed + 7 * t + 1)
        soc_rs = mean_profile_over_vectors(model, prep, rs_theta, test)
        local[(sp, f)] = dict(test=test, kp_nn=kp_nn, soc_nn=soc_nn, st_nn=st_nn, soc_rs=soc_rs)
        if progress is not None:
            progress(f"{sp} fold {f + 1}/{folds}")
    gathered = comm.gather(local, root=0)
    if comm.rank != 0:
        return None
    results = {}
    for d in gathered:
        results.update(d)

    rows, pair_rows, par_rows = [], [], []
    # split-independent methods
    fixed = {}
    theta_def = np.repeat(model.param_vector(None, warn_prior=False)[None, :], n, axis=0)
    fixed["default"] = run_sites(model, prep, theta_def, np.arange(n))
    if one_batch_kp is not None:
        th = np.repeat(model.to_physical(np.asarray(one_batch_kp, float))[None, :], n, axis=0)
        fixed["one_batch"] = run_sites(model, prep, th, np.arange(n))
    fixed["site_by_site"] = run_sites(model, prep, model.to_physical(post.full_kp(post.mean)), np.arange(n))

    from pysoc.da.diagnostics import metrics as fit_metrics

    for sp in splits:
        per_method = {}
        for meth in METHODS:
            pairs = Pairs([], [], [])
            for f in range(folds):
                r = results[(sp, f)]
                test = r["test"]
                if meth in fixed:
                    soc, st = fixed[meth][0][test], fixed[meth][1][test]
                elif meth == "neural_network":
                    soc, st = r["soc_nn"], r["st_nn"]
                elif meth == "random_sampling":
                    soc = r["soc_rs"]
                    st = np.where(np.isfinite(soc).all(axis=1), 0, 5)
                else:
                    soc = None
                if soc is None:
                    break
                _collect(pairs, model, soc, st, profiles, test)
            else:
                per_method[meth] = pairs
        for meth, pairs in per_method.items():
            o, m, s = pairs.arrays()
            ok = np.isfinite(o) & np.isfinite(m)
            mt = fit_metrics(o[ok] / 1000.0, m[ok] / 1000.0)
            ref = SEED002_TABLE1.get(meth, (np.nan,) * 3)
            rows.append(dict(split=sp, method=meth, n_sites=int(np.unique(s[ok]).size), n_layers=int(ok.sum()),
                             failed_sites=pairs.failed_sites, layers_below_column=pairs.layers_below_column,
                             r2=mt["r2"], r=mt["r"], rmse_kg_m3=mt["rmse"],
                             nse=mt["nse"], bias_kg_m3=float(np.mean(m[ok] - o[ok]) / 1000.0) if ok.any() else np.nan,
                             seed002_r2=ref[0], seed002_r=ref[1], seed002_rmse=ref[2]))
            for oo, mm, ss in zip(o, m, s):
                pair_rows.append(dict(split=sp, method=meth, site_id=profiles[ss].site_id, obs_g_m3=oo, mod_g_m3=mm))
        # parameter skill of the network (kp, held-out)
        kp_pred = np.full_like(post.mean, np.nan)
        for f in range(folds):
            r = results[(sp, f)]
            kp_pred[r["test"]] = r["kp_nn"]
        for j, name in enumerate(post.param_names):
            t, pr = post.mean[:, j], kp_pred[:, j]
            sst = ((t - t.mean()) ** 2).sum()
            par_rows.append(dict(split=sp, parameter=name,
                                 r2=float(1 - ((t - pr) ** 2).sum() / sst) if sst > 0 else np.nan,
                                 r=float(np.corrcoef(t, pr)[0, 1]) if t.std() > 0 and pr.std() > 0 else np.nan,
                                 posterior_sd_kp=float(np.nanmean(post.draws[:, :, j].std(axis=1)))
                                 if post.draws is not None else np.nan))
    return {"metrics": pd.DataFrame(rows), "pairs": pd.DataFrame(pair_rows), "parameters": pd.DataFrame(par_rows),
            "folds": fold_ids}

"""Gridded forward runs of PRODA (spec methods.md §3.5–3.6): network -> parameter maps ->
steady state of every land cell -> SOC stock maps (0–30, 0–100, 0–200 cm and the whole
column), system components and area-weighted totals.

Cells are split over MPI ranks in contiguous chunks; each rank builds the forcing of its
cells once and, for every network of the ensemble (sent by the rank that trained it), predicts
its parameters, runs the kernel in one batched call and reduces the result to stocks;
rank 0 gathers and assembles the maps.

Area weighting: total (Pg C) = Σ_cells stock (kg C m-2) × land area (m2) × 1e-12, with
land area = cell_area × land fraction (:class:`pysoc.proda.covariates.CovariateGrid`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pysoc.proda.components import COMPONENTS, system_components
from pysoc.proda.forcing import cell_climate, prepared_forcing
from pysoc.da.parallel import SerialExecutor, chunk, gather_chunks
from pysoc.profiles import STANDARD_INTERVALS, interval_integrals, interval_labels

KG_TO_PG = 1e-12


def stock_intervals(model) -> np.ndarray:
    """0–30, 0–100, 0–200 cm and the whole column (m)."""
    return np.array(list(STANDARD_INTERVALS) + [(0.0, float(model.bounds[-1, 1]))])


def stock_labels(model) -> list[str]:
    labels = interval_labels(stock_intervals(model))
    labels[-1] = f"0-{100 * float(model.bounds[-1, 1]):g} cm (whole column)"
    return labels


def area_total_pg(stock_kg_m2: np.ndarray, area_m2: np.ndarray) -> np.ndarray:
    """Area-weighted total(s) in Pg C of stocks (..., ncell) kg C m-2 over cells with a
    finite stock."""
    s = np.asarray(stock_kg_m2, float)
    return np.nansum(s * np.asarray(area_m2, float), axis=-1) * KG_TO_PG


@dataclass
class EnsembleRun:
    """Gathered results of one ensemble on rank 0 (cells = kept land cells).

    stocks: (nmember, nint, ncell) kg C m-2 (NaN where the kernel failed); theta_mean /
    theta_sd: (ncell, npar) physical over the bootstrap members; components: name ->
    (nmember, ncell) when computed for the members."""

    members: list
    stocks: np.ndarray
    theta_mean: np.ndarray | None = None
    theta_sd: np.ndarray | None = None
    components: dict = field(default_factory=dict)
    failed: np.ndarray | None = None


@dataclass
class BestRun:
    kp: np.ndarray
    theta: np.ndarray
    stocks: np.ndarray
    status: np.ndarray
    components: dict
    npp: np.ndarray


class GridRunner:
    """Holds the per-rank forcing of a chunk of grid cells and runs networks on it."""

    def __init__(self, model, table, comm=None, intervals=None, full_kp=None, input_transform=None):
        self.model = model
        self.full_kp = full_kp if full_kp is not None else (lambda kp: kp)
        self.table = table
        self.comm = comm or SerialExecutor()
        self.n = table.values.shape[0]
        self.local = chunk(self.n, self.comm.rank, self.comm.size)
        self.X = table.values[self.local]
        if input_transform is not None:                 # the model's covariate transform (ProdaModel)
            self.X = input_transform.apply(self.X)
        clim = cell_climate(table.grid, table.cells[self.local])
        self.prep = prepared_forcing(model, clim)
        self.npp = clim.npp()                            # litter input of the cell forcings (Miami NPP)
        self.intervals = stock_intervals(model) if intervals is None else np.asarray(intervals, float)
        self.site_index = np.arange(self.local.size, dtype=np.int32)

    def _run(self, theta, want_pools=False):
        res = self.model.evaluate(self.prep, theta, observables=("soc_profile",), site_index=self.site_index)
        ok = res.ok
        soc = np.where(ok[:, None], res.outputs["soc_profile"], np.nan)
        stocks = interval_integrals(soc, self.model.bounds, self.intervals) / 1000.0   # kg C m-2
        return stocks, np.asarray(res.status), (res.outputs["pools"] if want_pools else None)

    def _components(self, theta, pools, status):
        if self.local.size == 0:
            return {k: np.empty(0) for k in COMPONENTS}
        c = system_components(self.model, self.prep, theta, pools, self.site_index, status)
        return {k: c[k] for k in COMPONENTS}

    def best(self, ens) -> BestRun | None:
        """The best-guess network (a one-member :class:`~pysoc.proda.model.NetworkEnsemble`)
        over all cells (gathered on rank 0)."""
        kp = ens.predict(self.X)[0] if self.local.size else np.empty((0, ens.n_outputs))
        theta = self.model.to_physical(self.full_kp(kp))
        stocks, status, pools = self._run(theta, want_pools=True) if self.local.size else \
            (np.empty((0, len(self.intervals))), np.empty(0, int), None)
        comps = self._components(theta, pools, status)
        npp = self.npp if self.local.size else np.empty(0)
        g = lambda a: gather_chunks(self.comm, a, self.n)
        out = BestRun(g(kp), g(theta), g(stocks), g(status), {k: g(v) for k, v in comps.items()}, g(npp))
        return out if self.comm.rank == 0 else None

    def ensemble(self, ens, member_ids=None, components: bool = False, progress=None) -> EnsembleRun | None:
        """Every member of a :class:`~pysoc.proda.model.NetworkEnsemble` (known on every rank)
        over all cells; ``member_ids`` label the members (default 1..n)."""
        member_ids = list(range(1, ens.n_members + 1)) if member_ids is None else list(member_ids)
        nint, npar = len(self.intervals), len(self.model.parameters)
        nloc = self.local.size
        stocks = np.full((len(member_ids), nint, nloc), np.nan, dtype=np.float32)
        comps = {k: np.full((len(member_ids), nloc), np.nan, dtype=np.float32) for k in COMPONENTS} \
            if components else {}
        s1 = np.zeros((nloc, npar))
        s2 = np.zeros((nloc, npar))
        failed = np.zeros(len(member_ids), dtype=np.int64)
        for i, m in enumerate(member_ids):
            if nloc:
                theta = self.model.to_physical(self.full_kp(ens.subset([i]).predict(self.X)[0]))
                st, status, pools = self._run(theta, want_pools=components)
                stocks[i] = st.T
                failed[i] = int((status != 0).sum())
                s1 += theta
                s2 += theta * theta
                if components:
                    for k, v in self._components(theta, pools, status).items():
                        comps[k][i] = v
            if progress is not None and self.comm.rank == 0:
                progress(m)
        nm = max(len(member_ids), 1)
        mean = s1 / nm
        sd = np.sqrt(np.maximum(s2 / nm - mean * mean, 0.0) * nm / max(nm - 1, 1))
        g = lambda a, ax=0: gather_chunks(self.comm, a, self.n, axis=ax)
        st_all = g(stocks, 2)
        out = EnsembleRun(list(member_ids), st_all, g(mean), g(sd), {k: g(v, 1) for k, v in comps.items()})
        fails = self.comm.gather(failed, root=0)
        if self.comm.rank != 0:
            return None
        out.failed = np.sum(fails, axis=0)
        return out

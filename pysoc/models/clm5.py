"""CLM5 vertical matrix soil carbon model, PRODA 21-parameter version.

Equations: spec models.md §2 (Lu et al. 2020 JAMES; Tao et al. 2023 Nature; seeds 001,
002). The Fortran kernel (``fortran/soc_clm5.f90``) solves the steady state
X = -(A xi K - T)^-1 B I with structured solves (no dense inverse) and integrates the
transient with implicit monthly steps.

Forcing file (NetCDF; dims ``time``, ``level``, ``litter_type``): see ``FORCING`` below
and docs/clm5.md. ``time`` holds consecutive calendar months starting in January: 12
steps are a monthly climatology, 12 n steps a monthly series of n years.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from pysoc import _status
from pysoc._kernels import clm5 as _k
from pysoc._kernels import core as _core
from pysoc.errors import ConfigError, DataError, KernelError
from pysoc.forcing import ForcingSchema, VariableSpec
from pysoc.io import ctsm, netcdf
from pysoc.io import site_forcing as sf
from pysoc.io.namelist import Group, Key
from pysoc.models import components as sc
from pysoc.models.base import BatchResult, SoilCarbonModel, mass_balance_residual, status_dataarray
from pysoc.params import ParameterSpec, ParameterTable, as_2d, sum_at_most
from pysoc.profiles import interval_integrals

DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=float)
LITTER_TYPES = ("CWD", "L1", "L2", "L3")
GRIDS = {"clm5_20": (1, 20), "clm45_10": (2, 10)}

_CF = ctsm.CtsmField
#: CTSM history -> the CLM5-family forcing (capability ctsm_forcing; the table of docs/offline_runs.md)
CTSM_FIELDS = (
    _CF("tsoi", ("TSOI",), "vertical", "K", "K", True,
        "soil temperature at the layer nodes (levgrnd); degC is converted"),
    _CF("w_scalar", ("W_SCALAR",), "vertical", "unitless", "1", True,
        "moisture scalar of decomposition (levdcmp); pysoc applies w_scaling to it"),
    _CF("o_scalar", ("O_SCALAR",), "vertical", "unitless", "1", False,
        "oxygen (anoxia) scalar (levdcmp); absent: 1"),
    _CF("fpi", ("FPI_vr", "FPI"), "vertical", "proportion", "1", False,
        "N limitation of litter decomposition; FPI (column value) is used for every layer; absent: 1"),
    _CF("altmax", ("ALTMAX",), "column", "m", "m", True, "maximum active-layer thickness this year"),
    _CF("altmax_lastyear", ("ALTMAX_LASTYEAR",), "column", "m", "m", False,
        "absent: the previous year's maximum of ALTMAX (first year: its own)"),
    _CF("nbedrock", ("nbedrock",), "static", "1", "1", False,
        "layers above bedrock; absent: &ctsm nbedrock (required then)"),
    _CF("sand", ("CELLSAND",), "surface", "%", "%", False, "informational (top layer); absent: NaN"),
)
#: CTSM litter inputs per litter type (CWD, metabolic, cellulose, lignin): the matrix-CN input
#: vectors PRODA reads from CESM2 (spec models.md §2.10); override with &ctsm litter_variables
CTSM_LITTER_VARIABLES = ("CWD_INPUT_ACC_VECTOR", "LITR1_INPUT_ACC_VECTOR", "LITR2_INPUT_ACC_VECTOR",
                         "LITR3_INPUT_ACC_VECTOR")
#: CTSM fields deliberately not read, with the reason
CTSM_NOT_USED = {
    "T_SCALAR": "pysoc computes the temperature scalar from TSOI with its own (calibrated) q10; CTSM's "
                "T_SCALAR would fix the temperature sensitivity to CTSM's Q10",
}

P = ParameterSpec
_POS = dict(lower=0.0, lower_inclusive=False)
_FRAC = dict(lower=0.0, upper=1.0)
#: PRODA parameter order and names (para_name), prior ranges of models.md §2.10,
#: defaults = CLM5 (PRODA comments / CTSM, no Q10 normalisation).
PARAMETERS = ParameterTable("clm5", (
    P("diffus", "m2 yr-1", 1e-4, 3e-5, 5e-4, "bioturbation diffusivity", lower=0.0),
    P("cryo", "m2 yr-1", 5e-4, 3e-5, 1.6e-3, "cryoturbation diffusivity", lower=0.0),
    P("q10", "1", 1.5, 1.2, 3.0, "Q10 of decomposition (also below freezing)", **_POS),
    P("efolding", "m", 10.0, 0.0, 1.0, "e-folding depth of decomposition rates", **_POS),
    P("taucwd", "yr", 1 / 0.3, 1.0, 6.0, "turnover time of coarse woody debris", **_POS),
    P("taul1", "yr", 1 / 18.5, 0.0, 0.11, "turnover time of metabolic litter", **_POS),
    P("taul2", "yr", 1 / 4.9, 0.1, 0.3, "turnover time of cellulose and lignin litter", **_POS),
    P("tau4s1", "yr", 1 / 7.3, 0.0, 1.0, "turnover time of fast SOM", **_POS),
    P("tau4s2", "yr", 5.0, 1.0, 50.0, "turnover time of slow SOM", **_POS),
    P("tau4s3", "yr", 1 / 0.0045, 200.0, 1000.0, "turnover time of passive SOM", **_POS),
    P("fl1s1", "1", 0.45, 0.1, 0.8, "transfer efficiency metabolic litter -> fast SOM", **_FRAC),
    P("fl2s1", "1", 0.5, 0.2, 0.8, "transfer efficiency cellulose litter -> fast SOM", **_FRAC),
    P("fl3s2", "1", 0.5, 0.2, 0.8, "transfer efficiency lignin litter -> slow SOM", **_FRAC),
    P("fs1s2", "1", 0.554, 0.0, 0.4, "transfer fast -> slow SOM (CLM5: 1 - t - 0.004, 0.554 at 40 % sand)", **_FRAC),
    P("fs1s3", "1", 0.004, 0.0, 0.05, "transfer fast -> passive SOM", **_FRAC),
    P("fs2s1", "1", 0.42, 0.1, 0.74, "transfer slow -> fast SOM", **_FRAC),
    P("fs2s3", "1", 0.03, 0.0, 0.1, "transfer slow -> passive SOM", **_FRAC),
    P("fs3s1", "1", 0.45, 0.0, 0.9, "transfer passive -> fast SOM", **_FRAC),
    P("fcwdl2", "1", 0.76, 0.5, 1.0, "fraction of CWD fragmented to cellulose litter (rest to lignin)", **_FRAC),
    P("w_scaling", "1", 1.0, 0.0, 5.0, "multiplier on the water scalar (capped at 1)", lower=0.0),
    P("beta", "1", 0.95, 0.5, 0.9999, "Jackson beta of the litter input profile", lower=0.0, upper=1.0,
      lower_inclusive=False, upper_inclusive=False),
), default_set="clm5", constraints=(
    sum_at_most(("fs1s2", "fs1s3"), 1.0, "fractions of fast SOM passed to slow and passive SOM"),
    sum_at_most(("fs2s1", "fs2s3"), 1.0, "fractions of slow SOM passed to fast and passive SOM"),
))
PARAMETERS.named_sets["clm5"] = {s.name: s.default for s in PARAMETERS}
PARAMETERS.named_sets["prior_mid"] = dict(zip(PARAMETERS.names, PARAMETERS.to_physical(np.full(21, 0.5))))

FORCING = ForcingSchema("clm5", [
    VariableSpec("tsoi", ("time", "level"), "K", "soil temperature", 150.0, 350.0),
    VariableSpec("w_scalar", ("time", "level"), "1", "water scalar of decomposition (CESM2 W_SCALAR)", 0.0, 1.0),
    VariableSpec("o_scalar", ("time", "level"), "1", "oxygen scalar of decomposition", 0.0, 1.0,
                 required=False, default=1.0),
    VariableSpec("fpi", ("time", "level"), "1", "nitrogen limitation of litter decomposition (CESM2 FPI_vr)",
                 0.0, 1.0, required=False, default=1.0),
    VariableSpec("litter_input", ("time", "litter_type"), "g C m-2 month-1",
                 "column litter input per month by type (CWD, L1 metabolic, L2 cellulose, L3 lignin)", 0.0, 1e5),
    VariableSpec("altmax", ("time",), "m", "maximum active-layer depth this year", 0.0, 100.0),
    VariableSpec("altmax_lastyear", ("time",), "m", "maximum active-layer depth last year", 0.0, 100.0),
    VariableSpec("nbedrock", (), "1", "number of soil layers above bedrock", 1.0, 100.0, integer=True),
    VariableSpec("sand", (), "%", "sand content; informational (CLM5's default fs1s2 = 1 - t - 0.004 "
                 "depends on it); NaN when absent", 0.0, 100.0, required=False, default=np.nan),
], doc="Monthly forcing of the CLM5 and COMPAS kernels (one site).")

OPTIONS = Group("clm5", (
    Key("grid", "str", "clm5_20", "vertical grid: CLM5 20 layers to 8.60 m, or CLM4.5-style 10 layers to 3.80 m",
        choices=tuple(GRIDS)),
    Key("normalize_q10_to_century_tfunc", "bool", False,
        "multiply the Q10 scalar by (catanf(15)/catanf(30))/Q10**(-1) as CTSM does (PRODA: off)"),
    Key("advection", "float", 0.0, "downward advection velocity of SOM in the bioturbation regime",
        min=0.0, max=1.0, units="m yr-1"),
    Key("substeps", "int", 1, "implicit sub-steps per month in transient runs", min=1, max=1000),
), doc="Options of the CLM5 kernel.")


def grid_arrays(name: str):
    """dz, zisoi, zsoi (m) of a named grid."""
    if name not in GRIDS:
        raise ConfigError(f"unknown grid {name!r} (known: {', '.join(GRIDS)})")
    kind, n = GRIDS[name]
    dz, zisoi, zsoi, status = _core.grid(kind, n)
    if status != 0:
        raise KernelError(f"grid {name}: kernel status {status}")
    return dz, zisoi, zsoi


def depth_bounds(zisoi: np.ndarray) -> np.ndarray:
    top = np.concatenate([[0.0], zisoi[:-1]])
    return np.stack([top, zisoi], axis=1)


def days_per_step(nt: int) -> np.ndarray:
    """Calendar days of consecutive months starting in January (no leap years, M-6)."""
    return np.resize(DAYS_IN_MONTH, nt)


def monthly_series(forcing: xr.Dataset, n_years: int | None):
    """Forcing arrays of a monthly transient run (CLM5 and COMPAS): a 12-month climatology
    repeated ``n_years`` (default 1), a longer series once. Returns (arrays, nstep, days)."""
    nt = forcing.sizes["time"]
    reps = 1 if n_years is None or nt > 12 else int(n_years)
    if reps < 1:
        raise ConfigError(f"transient: n_years must be >= 1, got {n_years}")
    ser = {k: np.tile(np.asarray(forcing[k].values, float), (reps,) + (1,) * (forcing[k].ndim - 1))
           for k in ("tsoi", "w_scalar", "o_scalar", "fpi", "litter_input", "altmax", "altmax_lastyear")}
    return ser, nt * reps, days_per_step(nt * reps)


def initial_state(model: SoilCarbonModel, forcing: xr.Dataset, theta: np.ndarray, initial):
    """Initial state (npool, nlev) g C m-3 of a transient run and the steady state of the
    mean forcing when that is the start: ``initial`` is 'steady_state', 'zero' or an array.
    A steady state that is not ok (singular, invalid, ...) is an error, never a silent start."""
    shape = (len(model.pools), model.nlev)
    if isinstance(initial, str):
        if initial == "steady_state":
            res = model.evaluate(forcing, theta)
            x0 = res.outputs["pools"][0]
            if not (res.ok[0] and np.all(np.isfinite(x0)) and (x0 >= 0).all()):
                raise KernelError(f"transient: the steady state cannot be the initial state ({res.describe(0)}); "
                                  f"use initial='zero' or an array", code=int(res.status[0]))
            return x0, x0
        if initial == "zero":
            return np.zeros(shape), None
        raise ConfigError(f"transient: initial must be 'steady_state', 'zero' or an array, got {initial!r}")
    x0 = np.asarray(initial, float)
    if x0.shape != shape or not np.all(np.isfinite(x0)) or (x0 < 0).any():
        raise ConfigError(f"transient: initial state must be finite, >= 0, shape {shape}")
    return x0, None


class CLM5(SoilCarbonModel):
    """CLM5 vertical matrix model (7 pools x nlev layers; PRODA's 21 parameters).

    Parameters
    ----------
    **options
        Keys of ``&clm5`` (:data:`OPTIONS`): ``grid``, ``normalize_q10_to_century_tfunc``,
        ``advection``, ``substeps``.

    Examples
    --------
    >>> import numpy as np
    >>> from pysoc.io.namelist import PKGDATA
    >>> m = CLM5()
    >>> m.nlev, m.soc_pools, m.temperature_units, m.capabilities[:2]
    (20, ('S1', 'S2', 'S3'), 'K', ('site_forcing', 'cell_forcing'))
    >>> f = m.load_forcing(PKGDATA / "forcing" / "clm5_synthetic_site1.nc")
    >>> res = m.evaluate(f, m.to_physical(np.full((3, 21), 0.5)), observables=("soc_0_30",))
    >>> res.ok.tolist(), np.round(res.outputs["soc_0_30"], 3).tolist()
    ([True, True, True], [14.26, 14.26, 14.26])
    """

    name = "clm5"
    long_name = "CLM5 vertical soil carbon matrix model (PRODA 21-parameter version)"
    pools = ("CWD", "L1", "L2", "L3", "S1", "S2", "S3")
    pool_long_names = ("coarse woody debris", "metabolic litter", "cellulose litter", "lignin litter",
                       "fast SOM", "slow SOM", "passive SOM")
    soc_pools = ("S1", "S2", "S3")
    litter_pools = ("CWD", "L1", "L2", "L3")
    temperature_variable = "tsoi"
    parameters = PARAMETERS
    forcing_schema = FORCING
    options_group = OPTIONS
    observables = ("soc_profile", "soc_0_30", "pools", "rh")
    references = ("Lu et al. 2020 JAMES 12 e2020MS002081 (matrix CLM5); Tao et al. 2023 Nature 618 981-985 "
                  "(PRODA); Koven et al. 2013 Biogeosciences 10 7109-7131 (vertical CLM); docs/clm5.md")

    def __init__(self, **options):
        super().__init__(**options)
        self.dz, self.zisoi, self.zsoi = grid_arrays(self.options["grid"])
        self.nlev = self.dz.size
        self.bounds = depth_bounds(self.zisoi)
        self._ones: dict = {}            # site_index 1 for batches of each size (not modified by the kernel)

    # ---- forcing ---------------------------------------------------------------------
    def load_forcing(self, path) -> xr.Dataset:
        ds = self.forcing_schema.load(path, sizes={"level": self.nlev, "litter_type": 4})
        ds.attrs["source_file"] = str(path)       # error messages name the file actually read
        return self._check_forcing(ds, str(path))

    def validate_forcing(self, ds: xr.Dataset, source: str = "<forcing>") -> xr.Dataset:
        ds = self.forcing_schema.validate(ds, source=source, sizes={"level": self.nlev, "litter_type": 4})
        return self._check_forcing(ds, source)

    def _check_forcing(self, ds: xr.Dataset, source: str) -> xr.Dataset:
        self._check_layout(ds, source)
        nb = int(ds["nbedrock"])
        if nb > self.nlev:
            raise DataError(self._nbedrock_message(source, nb))
        ds.attrs.setdefault("source_file", source)
        return ds

    def _check_layout(self, ds: xr.Dataset, source: str) -> None:
        nt = ds.sizes["time"]
        if nt % 12 != 0:
            raise DataError(f"{source}: dimension 'time' has {nt} steps; expected whole years of months "
                            f"(12 for a climatology, 12 n for n years starting in January)")
        if "depth" in ds.coords or "depth" in ds:
            depth = np.asarray(ds["depth"].values, dtype=float)
            if depth.shape != self.zsoi.shape or not np.allclose(depth, self.zsoi, rtol=1e-6, atol=1e-9):
                raise DataError(f"{source}: variable 'depth' does not match the node depths of grid "
                                f"{self.options['grid']}")

    def _nbedrock_message(self, source: str, nb: int) -> str:
        return f"{source}: variable 'nbedrock' = {nb} exceeds the {self.nlev} layers of grid {self.options['grid']}"

    def validate_columns(self, ds: xr.Dataset, source: str = "<forcing>", dim: str = "column"):
        """All columns at once (see :meth:`SoilCarbonModel.validate_columns`): the same checks
        and messages as :meth:`validate_forcing`, per column."""
        val, failures = self.forcing_schema.validate_columns(ds, source, sizes={"level": self.nlev, "litter_type": 4},
                                                             dim=dim)
        self._check_layout(val, source)
        nb = np.asarray(val["nbedrock"].values)
        for c in np.flatnonzero(np.isfinite(nb) & (nb > self.nlev)):
            failures.setdefault(int(c), self._nbedrock_message(f"{source} {dim} {int(c)}", int(nb[c])))
        ok = np.array([c for c in range(val.sizes[dim]) if c not in failures], dtype=int)
        if ok.size == 0:
            return None, ok, failures
        out = val.isel({dim: ok})
        out.attrs["source_file"] = source
        return out, ok, failures

    def forcing_dataset(self, tsoi, w_scalar, litter_input, altmax, altmax_lastyear, nbedrock,
                        o_scalar=None, fpi=None, sand=None, attrs=None) -> xr.Dataset:
        """Build a forcing dataset from arrays: tsoi, w_scalar, o_scalar, fpi (ntime, nlev);
        litter_input (ntime, 4) g C m-2 month-1; altmax, altmax_lastyear (ntime,) m."""
        tsoi = np.asarray(tsoi, dtype=float)
        nt = tsoi.shape[0]
        data = {
            "tsoi": (("time", "level"), tsoi, {"units": "K", "long_name": "soil temperature"}),
            "w_scalar": (("time", "level"), np.asarray(w_scalar, float), {"units": "1"}),
            "o_scalar": (("time", "level"), np.ones_like(tsoi) if o_scalar is None else np.asarray(o_scalar, float),
                         {"units": "1"}),
            "fpi": (("time", "level"), np.ones_like(tsoi) if fpi is None else np.asarray(fpi, float), {"units": "1"}),
            "litter_input": (("time", "litter_type"), np.asarray(litter_input, float), {"units": "g C m-2 month-1"}),
            "altmax": (("time",), np.broadcast_to(np.asarray(altmax, float), (nt,)).copy(), {"units": "m"}),
            "altmax_lastyear": (("time",), np.broadcast_to(np.asarray(altmax_lastyear, float), (nt,)).copy(),
                                {"units": "m"}),
            "nbedrock": ((), int(nbedrock), {"units": "1"}),
        }
        if sand is not None:
            data["sand"] = ((), float(sand), {"units": "%"})
        ds = xr.Dataset(data, coords=self._coords(nt), attrs=dict(attrs or {}))
        for name, spec in self.forcing_schema.variables.items():
            if name in ds:
                ds[name].attrs.setdefault("units", spec.units)
                ds[name].attrs["long_name"] = spec.long_name
        ds.attrs.setdefault("Conventions", "CF-1.8")
        ds.attrs.setdefault("title", "pysoc CLM5/COMPAS site forcing")
        return self.validate_forcing(ds, source="<arrays>")

    def _coords(self, nt: int) -> dict:
        return {
            "time": ("time", np.arange(nt), {"long_name": "month index from January of the first year",
                                             "units": "1"}),
            "month": ("time", np.arange(nt) % 12 + 1, {"long_name": "calendar month", "units": "1"}),
            "level": ("level", np.arange(1, self.nlev + 1), {"long_name": "soil layer index"}),
            "depth": ("level", self.zsoi, {"units": "m", "positive": "down", "long_name": "layer node depth",
                                           "bounds": "depth_bnds", "standard_name": "depth"}),
            "depth_bnds": (("level", "nv"), self.bounds, {"units": "m"}),
            "litter_type": ("litter_type", list(LITTER_TYPES)),
        }

    # ---- preparation (arrays in kernel layout, done once per site) -----------------------
    def prepare(self, forcing) -> dict:
        """Fortran-ordered climatology arrays for one site or a list of sites; month-of-year
        means when the forcing spans several years."""
        keys = ("tsoi", "w_scalar", "o_scalar", "fpi", "litter_input", "altmax", "altmax_lastyear", "nbedrock")
        if isinstance(forcing, xr.Dataset) and "column" in forcing.dims:    # validate_columns output
            return self._prepare_columns(forcing, keys)
        else:
            sites = forcing if isinstance(forcing, (list, tuple)) else [forcing]
        arrs = {k: [] for k in keys}
        for ds in sites:
            if isinstance(ds, dict):
                raise ConfigError("prepare() takes forcing datasets, not prepared arrays")
            value = lambda k: np.asarray(ds[k].values, float)  # noqa: E731
            nt = value("altmax").shape[0]
            ny = nt // 12
            for k in ("tsoi", "w_scalar", "o_scalar", "fpi"):
                v = value(k).reshape(ny, 12, self.nlev).mean(axis=0)
                arrs[k].append(v.T)                                   # (nlev, 12)
            arrs["litter_input"].append(value("litter_input").reshape(ny, 12, 4).mean(axis=0).T)  # (4, 12)
            for k in ("altmax", "altmax_lastyear"):
                arrs[k].append(value(k).reshape(ny, 12).mean(axis=0))
            arrs["nbedrock"].append(int(value("nbedrock")))
        out = {k: np.asfortranarray(np.stack(v, axis=-1)) for k, v in arrs.items() if k != "nbedrock"}
        out["nbedrock"] = np.asarray(arrs["nbedrock"], dtype=np.int32)
        out["nsite"] = len(sites)
        return out

    def _prepare_columns(self, forcing: xr.Dataset, keys) -> dict:
        """``prepare`` of a validated column forcing (column first) for all columns at once:
        the same month-of-year means, in the same order of operations, as one site at a time."""
        ncol, nt = forcing.sizes["column"], forcing.sizes["time"]
        ny = nt // 12
        out = {}
        for k in ("tsoi", "w_scalar", "o_scalar", "fpi"):
            v = np.asarray(forcing[k].values, float).reshape(ncol, ny, 12, self.nlev).mean(axis=1)
            out[k] = np.asfortranarray(np.transpose(v, (2, 1, 0)))                 # (nlev, 12, ncol)
        v = np.asarray(forcing["litter_input"].values, float).reshape(ncol, ny, 12, 4).mean(axis=1)
        out["litter_input"] = np.asfortranarray(np.transpose(v, (2, 1, 0)))        # (4, 12, ncol)
        for k in ("altmax", "altmax_lastyear"):
            v = np.asarray(forcing[k].values, float).reshape(ncol, ny, 12).mean(axis=1)
            out[k] = np.asfortranarray(v.T)                                        # (12, ncol)
        out["nbedrock"] = np.asarray(forcing["nbedrock"].values, float).astype(np.int32)
        out["nsite"] = ncol
        return out

    # ---- kernels -----------------------------------------------------------------------
    def evaluate(self, forcing, theta, observables=("soc_profile",), site_index=None) -> BatchResult:
        """Steady states of many parameter vectors in one kernel call.

        Parameters
        ----------
        forcing : xarray.Dataset or list of xarray.Dataset or dict
            A site, several sites, or the result of :meth:`prepare` / :meth:`cell_forcing`.
        theta : array_like
            (nset, 21) physical parameter values.
        observables : tuple of str
            ``soc_0_30`` is computed on request; ``soc_profile``, ``pools``, ``rh``, ``input``
            always.
        site_index : array_like of int, optional
            (nset,) 0-based site of each vector (default all 0).

        Returns
        -------
        BatchResult
            Outputs with the units of :data:`pysoc.models.base.OUTPUTS`.
        """
        prep = forcing if isinstance(forcing, dict) else self.prepare(forcing)
        theta = np.asfortranarray(as_2d(theta, len(self.parameters), "clm5 parameters").T)
        nset = theta.shape[1]
        if site_index is None:
            idx = self._ones.get(nset)
            if idx is None:
                idx = self._ones[nset] = np.ones(nset, dtype=np.int32)    # 1-based site 1
        else:
            idx = np.asarray(site_index, dtype=np.int32) + 1
        x, inp, rh, status = _k.steady_batch(
            self.dz, self.zisoi, self.zsoi, theta, idx, prep["tsoi"], prep["w_scalar"], prep["o_scalar"],
            prep["fpi"], prep["litter_input"], prep["altmax"], prep["altmax_lastyear"], prep["nbedrock"],
            int(self.options["normalize_q10_to_century_tfunc"]), float(self.options["advection"]))
        pools = x.transpose(2, 1, 0)                                   # (nset, 7, nlev), a view
        soc = pools[:, self.soc_index, :].sum(axis=1)
        outputs = {"soc_profile": soc, "pools": pools, "rh": rh, "input": inp}
        if "soc_0_30" in observables:
            outputs["soc_0_30"] = interval_integrals(soc, self.bounds, [(0.0, 0.3)])[:, 0] / 1000.0
        return BatchResult(status=np.asarray(status), outputs=outputs, depth_bounds=self.bounds)

    def steady_state(self, forcing: xr.Dataset, params=None, *, errors: str = "raise",
                     parameter_set: str | None = None) -> xr.Dataset:
        """Labelled steady state (see :meth:`SoilCarbonModel.steady_state`): pools, SOC,
        stocks per depth interval, input, rh, ``mass_balance_residual`` (g C m-2 yr-1),
        residence times, storage capacity, status. ``parameter_set`` names a set of the
        table (``clm5`` = the CLM5 defaults, ``prior_mid``)."""
        theta = self.param_vector(params, parameter_set)
        res = self.evaluate(forcing, theta, observables=("soc_profile", "soc_0_30"))
        if errors == "raise":
            self.raise_for_status(res, context=str(forcing.attrs.get("source_file", "steady state")))
        return self._attach_params(self._steady_dataset(res), theta)

    def steady_state_columns(self, forcing: xr.Dataset, params=None, dim: str = "column") -> xr.Dataset:
        """Steady states of every column of a validated column forcing in one kernel call
        (see :meth:`SoilCarbonModel.steady_state_columns`)."""
        theta = self.param_vector(params, warn_prior=False)
        prep = self.prepare(forcing)
        n = prep["nsite"]
        res = self.evaluate(prep, np.tile(theta, (n, 1)), observables=("soc_profile", "soc_0_30"),
                            site_index=np.arange(n))
        return self._attach_params(self._steady_dataset(res, dim), theta)

    def _steady_dataset(self, res: BatchResult, dim: str | None = None) -> xr.Dataset:
        """Labelled steady state of every row of ``res`` along ``dim`` (None: row 0 without a
        column dimension). Per-row sums are the single-site expressions (bitwise the same)."""
        n = len(res) if dim else 1
        lead = (dim,) if dim else ()
        sq = (lambda a: a) if dim else (lambda a: a[0])  # noqa: E731
        allp = res.outputs["pools"][:n]
        ds = self._state_dataset(sq(allp), lead_dims=lead)
        inp = np.asarray(res.outputs["input"], float)[:n]
        rh = np.asarray(res.outputs["rh"], float)[:n]
        total = np.array([float((p * self.dz).sum()) for p in allp])
        soc_total = np.array([float((p[self.soc_index] * self.dz).sum()) for p in allp])
        with np.errstate(divide="ignore", invalid="ignore"):
            tau, tau_soc = np.where(inp > 0, total / inp, np.nan), np.where(inp > 0, soc_total / inp, np.nan)
        ds["input"] = (lead, sq(inp), {"units": netcdf.FLUX, "long_name": "column litter input"})
        ds["rh"] = (lead, sq(rh), {"units": netcdf.FLUX, "long_name": "heterotrophic respiration"})
        mb, mb_attrs = mass_balance_residual(sq(inp), 0.0, sq(rh))
        ds["mass_balance_residual"] = (lead, mb, mb_attrs)
        ds["residence_time"] = (lead, sq(tau), {
            "units": "yr", "long_name": "ecosystem residence time tau_E (total carbon / input)"})
        ds["soc_residence_time"] = (lead, sq(tau_soc), {
            "units": "yr", "long_name": "SOC residence time (SOC stock / input)"})
        ds["storage_capacity"] = (lead + ("pool",), sq(np.stack([(p * self.dz).sum(axis=1) for p in allp])), {
            "units": netcdf.STOCK, "long_name": "carbon storage capacity X_c = tau_E u, per pool"})
        ds["status"] = status_dataarray(sq(np.asarray(res.status)[:n]), dims=lead)
        ds.attrs["mode"] = "steady_state"
        return ds

    def transient(self, forcing: xr.Dataset, params=None, *, errors: str = "raise", n_years: int | None = None,
                  initial: str | np.ndarray = "steady_state", parameter_set: str | None = None) -> xr.Dataset:
        """Monthly implicit integration (see :meth:`SoilCarbonModel.transient`).

        Parameters
        ----------
        forcing : xarray.Dataset or path
            Monthly forcing: a 12-month climatology is repeated ``n_years`` (default 1), a
            multi-year series runs once.
        params : array_like or mapping, optional
            Physical parameters or overrides of ``parameter_set``.
        errors : {'raise', 'ignore'}
            Raise KernelError when the kernel fails.
        n_years : int, optional
            Repetitions of a climatology.
        initial : {'steady_state', 'zero'} or numpy.ndarray
            Start: the steady state of the mean forcing, empty pools, or (7, nlev) g C m-3.
        parameter_set : str, optional
            Named parameter set.

        Returns
        -------
        xarray.Dataset
            Pools per month, ``rh_vr``, ``rh``, the column budget (``input``,
            ``mass_balance_residual`` g C m-2 yr-1 over each month, ``storage_potential``).

        Examples
        --------
        >>> from pysoc.io.namelist import PKGDATA
        >>> m = CLM5()
        >>> tr = m.transient(PKGDATA / "forcing" / "clm5_synthetic_site1.nc", m.to_physical([0.5] * 21), n_years=2)
        >>> tr.sizes["time"], bool(abs(tr["mass_balance_residual"]).max() < 1e-8)
        (24, True)
        """
        theta = self.param_vector(params, parameter_set)
        ser, nstep, days = monthly_series(forcing, n_years)
        x0, ss = initial_state(self, forcing, theta, initial)
        f = lambda a: np.asfortranarray(a.T)  # noqa: E731  (time, level) -> (level, time)
        x, rh, status = _k.transient(
            self.dz, self.zisoi, self.zsoi, theta, f(ser["tsoi"]), f(ser["w_scalar"]), f(ser["o_scalar"]),
            f(ser["fpi"]), f(ser["litter_input"]), ser["altmax"], ser["altmax_lastyear"], int(forcing["nbedrock"]),
            days, int(self.options["substeps"]), np.asfortranarray(x0.T),
            int(self.options["normalize_q10_to_century_tfunc"]), float(self.options["advection"]))
        if status != _status.OK and errors == "raise":
            raise KernelError(f"{forcing.attrs.get('source_file', 'transient')}: clm5 transient failed: "
                              f"{_status.name(status)} ({_status.message(status)})", code=int(status))
        cp = np.moveaxis(x, (0, 1, 2), (2, 1, 0))                     # (time, pool, level)
        rh_vr = np.moveaxis(rh, (0, 1, 2), (2, 1, 0))
        ds = self._state_dataset(cp, days=days)
        ds["rh_vr"] = (("time", "pool", "level"), rh_vr, {
            "units": netcdf.CONCENTRATION, "cell_methods": "time: sum",
            "long_name": "heterotrophic respiration per pool and layer during the step"})
        ds["rh"] = (("time", "pool"), (rh_vr * self.dz).sum(axis=-1), {
            "units": netcdf.STOCK, "cell_methods": "time: sum",
            "long_name": "heterotrophic respiration per pool during the step"})
        self.add_column_budget(ds, cp, x0, ser["litter_input"].sum(axis=1), ds["rh"].values.sum(axis=1), ss)
        ds["days"] = (("time",), days, {"units": "d", "long_name": "length of the step"})
        ds["status"] = status_dataarray(status)
        ds.attrs["mode"] = "transient"
        return self._attach_params(ds, theta)

    # ---- labelled output -----------------------------------------------------------------
    def _state_dataset(self, pools: np.ndarray, days=None, lead_dims: tuple = ()) -> xr.Dataset:
        tc = None if days is None else self.time_coords(days)
        return self.layered_dataset(pools, self.soc_index, "soil organic carbon (S1+S2+S3)", self.litter_index,
                                    "litter and CWD stock of the column", tc, lead_dims=lead_dims)

    def _attach_params(self, ds: xr.Dataset, theta: np.ndarray) -> xr.Dataset:
        ds.attrs["grid"] = self.options["grid"]
        return self.attach_params(ds, theta)

    # ---- decomposition response (a capability other packages may ask a model for) ------------
    #: parameters of :meth:`decomposition_scalars` that a caller may calibrate
    decomposition_parameters = ("q10", "w_scaling")

    def decomposition_scalars(self, soil_temperature_k, water_scalar, params=None):
        """Temperature and water scalars of the decomposition rates, elementwise, computed by
        the kernel's own functions (``soc_envscalars`` through ``pysoc._kernels.core``).

        Parameters
        ----------
        soil_temperature_k : array_like
            Soil temperature (K).
        water_scalar : array_like
            Water scalar before the model's scaling (the CESM2 ``W_SCALAR`` of the forcing,
            0-1); broadcast against ``soil_temperature_k``.
        params : mapping, optional
            Overrides of the default parameter set by name (e.g. ``{"q10": 2.0}``).

        Returns
        -------
        xi_t, xi_w : numpy.ndarray
            ``q10**((T - 298.15)/10)`` (times the Century normalisation when the option
            ``normalize_q10_to_century_tfunc`` is set) and ``min(1, w * w_scaling)``.

        Examples
        --------
        >>> from pysoc.models import get_model
        >>> xt, xw = get_model("clm5").decomposition_scalars([298.15, 308.15], 0.5, {"q10": 2.0})
        >>> [round(float(v), 6) for v in xt], [float(v) for v in xw]
        ([1.0, 2.0], [0.5, 0.5])
        """
        p = self.param_vector(params, warn_prior=False)
        q10 = float(p[self.parameters.index("q10")])
        scale = float(p[self.parameters.index("w_scaling")])
        t, w = np.broadcast_arrays(np.asarray(soil_temperature_k, float), np.asarray(water_scalar, float))
        xt, xw = _core.decomposition_scalars(np.ascontiguousarray(t.ravel()), np.ascontiguousarray(w.ravel()),
                                             q10, q10, scale, int(self.options["normalize_q10_to_century_tfunc"]))
        return xt.reshape(t.shape), xw.reshape(t.shape)

    # ---- capabilities: forcing from covariates, system components -----------------------------
    def site_forcing(self, profile, npp: str = "miami") -> xr.Dataset:
        """Forcing of one profile from its covariates (capability; the approximations of
        :mod:`pysoc.io.site_forcing`): tsoi, w_scalar (12, nlev), litter_input (12, 4),
        altmax, altmax_lastyear, nbedrock, o_scalar = fpi = 1, sand when measured.

        Parameters
        ----------
        profile : pysoc.io.profiles.Profile
            The profile (covariates, meta, lat, max_depth).
        npp : {'miami', 'gpp'}
            Litter input from the Miami model or 0.46 x FLUXCOM GPP.

        Returns
        -------
        xarray.Dataset
            A validated 12-month climatology.

        Raises
        ------
        DataError
            A missing covariate (named).

        Examples
        --------
        >>> from pysoc.io.site_forcing import PseudoProfile
        >>> m = CLM5()
        >>> ds = m.site_forcing(PseudoProfile("s1", 45.0, 7.0, 10.0, 800.0, 700.0, 4))
        >>> ds.sizes["time"], int(ds["nbedrock"]), round(float(ds["litter_input"].sum()), 3)
        (12, 20, 556.336)
        """
        return clm5_site_forcing(self, profile, npp)

    def cell_forcing(self, climate) -> dict:
        """Prepared forcing (the layout of :meth:`prepare`) of grid cells from their climate,
        vectorised over cells, with the approximations of :meth:`site_forcing` (capability):
        BIO4 amplitude, Holdridge PET, Miami NPP, CWD share of the IGBP class, all layers
        above bedrock.

        Parameters
        ----------
        climate : pysoc.io.site_forcing.CellClimate
            Per-cell climate (valid cells only).

        Returns
        -------
        dict
            Kernel arrays with the cell as last axis.

        Examples
        --------
        >>> from pysoc.io.site_forcing import CellClimate
        >>> prep = CLM5().cell_forcing(CellClimate([45.0], [10.0], [800.0], [700.0], [4]))
        >>> prep["tsoi"].shape, prep["nsite"]
        ((20, 12, 1), 1)
        """
        return clm5_cell_forcing(self, climate)

    def ctsm_forcing(self, history, levels: str = "match", litter_variables=None, nbedrock: int = 0) -> xr.Dataset:
        """Forcing of many columns from CTSM history output (capability; the table
        :data:`CTSM_FIELDS`, docs/offline_runs.md): tsoi, w_scalar, o_scalar, fpi on the
        model's levels, litter_input (column totals per month and litter type), altmax,
        altmax_lastyear, nbedrock, sand, with the history's spatial dimensions.

        Parameters
        ----------
        history : str or path or pysoc.io.ctsm.History
            A history file, a glob of monthly files, or an opened :func:`pysoc.io.ctsm.read_history`.
        levels : {'match', 'interpolate'}
            Vertical rule (:mod:`pysoc.io.ctsm`).
        litter_variables : sequence of 4 str, optional
            CTSM variables of the CWD, metabolic, cellulose and lignin litter inputs
            (default :data:`CTSM_LITTER_VARIABLES`).
        nbedrock : int
            Layers above bedrock when the file has no ``nbedrock`` (0: read it).

        Returns
        -------
        xarray.Dataset
            Forcing with dimensions ``time``, ``level``, ``litter_type`` and the spatial ones
            (``column`` or ``lat``/``lon``); attributes ``source_file``, ``ctsm_start_year``.
            Check it with :meth:`validate_columns`.

        Raises
        ------
        ConfigError
            An unknown ``levels`` rule or not 4 litter variables.
        DataError
            Missing variables (naming the CTSM variable and its alternatives), bad units,
            levels that do not match, not whole years of monthly means.

        Examples
        --------
        >>> from pysoc.io.namelist import PKGDATA
        >>> f = CLM5().ctsm_forcing(PKGDATA / "ctsm" / "example_h0.nc")
        >>> f.tsoi.dims, f.attrs["ctsm_start_year"]
        (('time', 'level', 'column'), 2000)
        """
        return clm5_ctsm_forcing(self, history, levels, litter_variables, nbedrock)

    def system_components(self, prep, theta, pools, site_index) -> dict:
        """System-level components of steady states (capability; see
        :mod:`pysoc.models.components`): k_j = 1/tau_j, xi = mean monthly T x W x O times the
        depth scalar, a_j the transfer coefficients of the A matrix.

        Parameters
        ----------
        prep : dict
            Prepared forcing (:meth:`prepare` or :meth:`cell_forcing`).
        theta : numpy.ndarray
            (n, 21) physical parameters.
        pools : numpy.ndarray
            (n, 7, nlev) steady-state pools, g C m-3.
        site_index : numpy.ndarray
            (n,) 0-based site of each row.

        Returns
        -------
        dict
            Name -> (n,) array (:data:`pysoc.models.components.COMPONENTS` and more).

        Raises
        ------
        ConfigError
            With the option ``normalize_q10_to_century_tfunc`` (not supported).
        """
        return clm5_components(self, prep, theta, pools, site_index)


def clm5_site_forcing(model, profile, npp: str = "miami") -> xr.Dataset:
    """The :meth:`CLM5.site_forcing` of ``model`` (CLM5 or a model with its forcing format)."""
    c = sf.site_climate(profile, npp)
    z, zi = np.asarray(model.zsoi, float), np.asarray(model.zisoi, float)
    nlev = z.size
    tsoi = 273.15 + sf.soil_temperature(z, c["mat"], c["amplitude"], profile.lat)
    w = float(sf.century_wfunc(c["aridity"]))
    wsc = np.full((12, nlev), w)
    f = c["cwd_fraction"]
    annual = c["npp"] * np.array([f, *((1.0 - f) * np.asarray(sf.LITTER_QUALITY))])
    litter = np.tile(annual / 12.0, (12, 1))
    alt = sf.active_layer_depth(c["mat"], c["amplitude"], float(zi[-1]))
    bedrock, _ = sf.covariate(profile, "bedrock")
    nb = nlev
    if np.isfinite(bedrock) and bedrock > 0:
        zb = max(bedrock / 100.0, profile.max_depth)
        nb = int(min(nlev, max(1, np.searchsorted(zi, zb - 1e-9) + 1)))
    sand, _ = sf.covariate(profile, "sand")
    attrs = {
        "site_id": profile.site_id, "lat": profile.lat, "lon": profile.lon,
        "source": "pysoc.io.site_forcing: approximate climatology from profile covariates (docs/data.md)",
        "npp_g_C_m2_yr": c["npp"], "npp_method": c["npp_source"], "mat_degC": c["mat"],
        "mat_covariate": c["mat_source"], "map_mm_yr": c["map"], "map_covariate": str(c["map_source"]),
        "pet_mm_yr": c["pet"], "pet_covariate": c["pet_source"], "aridity_p_over_pet": c["aridity"],
        "t_amplitude_degC": c["amplitude"], "t_amplitude_method": c["amplitude_source"],
        "damping_depth_m": sf.DAMPING_DEPTH, "cwd_fraction": f, "land_cover_used": c["land_cover"],
        "active_layer_m": alt, "permafrost": int(alt < float(zi[-1])),
    }
    ds = model.forcing_dataset(tsoi, wsc, litter, alt, alt, nb, sand=sand if np.isfinite(sand) else None,
                               attrs=attrs)
    if "sand" in ds and not np.isfinite(float(ds["sand"])):
        # the optional, informational 'sand' is filled with NaN when absent, and a NaN 'sand'
        # fails re-validation: leave it out so that validate_forcing(ds) accepts the dataset
        ds = ds.drop_vars("sand")
    return ds


def clm5_cell_forcing(model, clim) -> dict:
    """The :meth:`CLM5.cell_forcing` of ``model`` (CLM5 or a model with its forcing format)."""
    n = clim.n
    z = np.asarray(model.zsoi, float)
    zi = np.asarray(model.zisoi, float)
    nlev = z.size
    deep = float(zi[-1])
    amp = np.sqrt(2.0) * clim.bio4 / 100.0                            # seasonal_amplitude, BIO4 branch
    m = np.arange(1, 13, dtype=float)
    m_max = np.where(clim.lat >= 0, 7.0, 1.0)
    d = sf.DAMPING_DEPTH
    phase = 2.0 * np.pi * (m[None, :] - m_max[:, None]) / 12.0        # (n, 12)
    # soil_temperature: MAT + A exp(-z/d) cos(2 pi (m - m_max)/12 - z/d)
    tsoi = 273.15 + clim.mat[:, None, None] + amp[:, None, None] * np.exp(-z / d)[None, None, :] * \
        np.cos(phase[:, :, None] - (z / d)[None, None, :])                 # (n, 12, nlev)
    t_air = clim.mat[:, None] + amp[:, None] * np.cos(phase)               # (n, 12) at z = 0
    pet = sf.HOLDRIDGE * np.clip(t_air, 0.0, 30.0).mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        aridity = np.where(pet > 0, clim.map / pet, np.inf)
    w = sf.century_wfunc(aridity)
    npp = sf.miami_npp(clim.mat, clim.map)
    fcwd = sf.cwd_fractions(clim.igbp)
    q = np.asarray(sf.LITTER_QUALITY)
    annual = npp[:, None] * np.column_stack([fcwd, (1.0 - fcwd)[:, None] * q[None, :]])   # (n, 4)
    alt = np.array([sf.active_layer_depth(float(t), float(a), deep) for t, a in zip(clim.mat, amp)])
    ones = np.ones((nlev, 12, n))
    return {
        "tsoi": np.asfortranarray(np.transpose(tsoi, (2, 1, 0))),
        "w_scalar": np.asfortranarray(np.broadcast_to(w[None, None, :], (nlev, 12, n)).copy()),
        "o_scalar": np.asfortranarray(ones),
        "fpi": np.asfortranarray(ones.copy()),
        "litter_input": np.asfortranarray(np.broadcast_to((annual / 12.0).T[:, None, :], (4, 12, n)).copy()),
        "altmax": np.asfortranarray(np.broadcast_to(alt[None, :], (12, n)).copy()),
        "altmax_lastyear": np.asfortranarray(np.broadcast_to(alt[None, :], (12, n)).copy()),
        "nbedrock": np.full(n, nlev, dtype=np.int32),
        "nsite": n,
    }


def clm5_ctsm_forcing(model, history, levels: str = "match", litter_variables=None,
                      nbedrock: int = 0) -> xr.Dataset:
    """The :meth:`CLM5.ctsm_forcing` of ``model`` (CLM5 or a model with its forcing format)."""
    ctsm.check_levels(levels)
    litter_variables = tuple(litter_variables or CTSM_LITTER_VARIABLES)
    pools = tuple(model.litter_pools)
    if len(litter_variables) != len(pools):
        raise ConfigError(f"&ctsm litter_variables: expected {len(pools)} names ({', '.join(pools)}), got "
                          f"{list(litter_variables)}")
    h = history if isinstance(history, ctsm.History) else ctsm.read_history(history)
    out, kinds = {}, {f.pysoc: f for f in CTSM_FIELDS}
    for f in CTSM_FIELDS:
        da = h.field(f, model.zsoi, levels)
        if da is not None:
            out[f.pysoc] = da
    if "altmax_lastyear" not in out:
        out["altmax_lastyear"] = ctsm.previous_year_max(out["altmax"])
    if "nbedrock" not in out:
        if not nbedrock:
            raise DataError(f"{h.source}: missing CTSM variable 'nbedrock' (pysoc 'nbedrock', the number of soil "
                            f"layers above bedrock); set &ctsm nbedrock = N to use N layers in every column")
        out["nbedrock"] = h.constant(nbedrock)
    out["litter_input"] = xr.concat([h.carbon_input(v, model.dz, f"litter_input ({lt})", alternatives="; other "
                                                    "CTSM inputs: set &ctsm litter_variables")
                                     for lt, v in zip(pools, litter_variables)], dim="litter_type")
    lead = {"vertical": ("time", "level"), "column": ("time",), "static": (), "surface": ()}
    data = {}
    for k, da in out.items():
        order, units = (("time", "litter_type"), "g C m-2 month-1") if k == "litter_input" else \
            (lead[kinds[k].kind], kinds[k].units)
        data[k] = da.transpose(*order, *h.space).assign_attrs(units=units)
    return h.dataset(data, {"level": ("level", np.arange(1, model.nlev + 1)),
                            "depth": ("level", np.asarray(model.zsoi), {"units": "m"}),
                            "litter_type": ("litter_type", list(pools))})


def ctsm_table() -> str:
    """The CTSM -> forcing table of the CLM5-family ``ctsm_forcing`` (docs/offline_runs.md).

    Examples
    --------
    >>> "`TSOI`" in ctsm_table() and "T_SCALAR" in ctsm_table()
    True
    """
    return ctsm.markdown_table(CTSM_FIELDS, [(f"`litter_input` ({', '.join(LITTER_TYPES)})", CTSM_LITTER_VARIABLES)],
                               CTSM_NOT_USED)


def mean_transport_diagonal(model, prep: dict, s, bio, cryo) -> tuple[np.ndarray, np.ndarray]:
    """Mean over the months of the transport diagonal (n, nlev) yr-1 of the sites ``s`` of a
    prepared CLM5-format forcing, and whether each site's input is all at the surface
    (no active layer last year)."""
    alt = np.maximum(np.asarray(prep["altmax"])[:, s], np.asarray(prep["altmax_lastyear"])[:, s])   # (12, n)
    nb = np.asarray(prep["nbedrock"])[s]
    diag = np.zeros((np.size(s), model.nlev))
    for mth in range(alt.shape[0]):
        diag += sc.transport_diagonal(model.dz, model.zisoi, model.zsoi,
                                      sc.diffusivity_profile(model.zisoi, nb, alt[mth], bio, cryo))
    diag /= alt.shape[0]
    surface_only = np.asarray(prep["altmax_lastyear"])[:, s].max(axis=0) <= 0
    return diag, surface_only


def clm5_components(model: CLM5, prep, theta, pools, site_index) -> dict:
    """The :meth:`CLM5.system_components`."""
    if model.options.get("normalize_q10_to_century_tfunc"):
        raise ConfigError("system components: the option normalize_q10_to_century_tfunc is not supported")
    p = {n: theta[:, i] for i, n in enumerate(model.parameters.names)}
    s = np.asarray(site_index)
    dz, zisoi, zsoi = model.dz, model.zisoi, model.zsoi
    tsoi = np.asarray(prep["tsoi"])[:, :, s]                 # (nlev, 12, n)
    wsc = np.asarray(prep["w_scalar"])[:, :, s]
    osc = np.asarray(prep["o_scalar"])[:, :, s]
    fpi = np.asarray(prep["fpi"])[:, :, s]
    xit = sc.q10_scalar(tsoi, p["q10"][None, None, :])
    xiw = np.minimum(1.0, wsc * p["w_scaling"][None, None, :])
    depth = np.exp(-zsoi[:, None] / p["efolding"][None, :])  # (nlev, n)
    env = xit * xiw * osc                                     # (nlev, 12, n)
    xi = (env.mean(axis=1) * depth).T                         # (n, nlev) T x W x O x D
    xi_lit = ((env * fpi).mean(axis=1) * depth).T
    tau = np.column_stack([p["taucwd"], p["taul1"], p["taul2"], p["taul2"], p["tau4s1"], p["tau4s2"], p["tau4s3"]])
    k = 1.0 / tau                                             # (n, 7) yr-1
    xij = np.stack([xi, xi_lit, xi_lit, xi_lit, xi, xi, xi], axis=1)     # (n, 7, nlev)
    flux = k[:, :, None] * xij * pools                        # g C m-3 yr-1
    fcol = (flux * dz).sum(axis=2)                            # (n, 7)
    a = np.column_stack([np.ones_like(p["fl1s1"]), p["fl1s1"], p["fl2s1"], p["fl3s2"], p["fs1s2"] + p["fs1s3"],
                         p["fs2s1"] + p["fs2s3"], p["fs3s1"]])
    diag, surface_only = mean_transport_diagonal(model, prep, s, p["diffus"], p["cryo"])
    return sc.assemble(dz, zisoi, pools, fcol, a, k, xi, diag, p["beta"], surface_only)

"""Conformance suite of the model contract (issue 16; docs/adding_a_model.md).

In the spirit of scikit-learn's ``parametrize_with_checks``: one check function per property
of :class:`pysoc.models.base.SoilCarbonModel`, every check run on every model of the
registry (``pysoc.models.REGISTRY``). A new kernel gets the whole suite by its registry line;
it only has to say where its example forcing is (class attribute ``example_forcing``, a
``pkgdata:`` path, or the table :data:`EXAMPLES` below for the models that predate it).
A model that cannot satisfy a check carries an explicit, reasoned xfail in :data:`XFAIL`
(strict: the entry has to go when the model is fixed).

The checks (small configurations, the whole suite runs in well under a minute):

- ``check_declarations``: pools, SOC/litter subsets, grid attributes, observables are names
  of ``OUTPUTS``, options group named after the model, forcing variables with units;
- ``check_parameter_table``: every parameter with units, description, a default and prior
  range inside its physical domain, named sets valid, kp <-> physical round trip;
- ``check_labelled_outputs``: the observables with the shapes of ``OUTPUTS``, ``soc_profile``
  = the sum of the ``soc_pools``, labelled steady states in the units of ``OUTPUTS``;
- ``check_mass_balance``: steady state: respiration = input; transient: input = change in
  stock + respiration every month (the model's residual and an independent recomputation);
- ``check_steady_state_is_transient_limit``: under a constant forcing the transient started
  from the steady state stays there (the steady state is a fixed point of the time stepping,
  hence the limit of a long transient; a run from zero to convergence would take millennia of
  model time for the deep CLM5 pools, so convergence from zero is tested per model where it is
  cheap, e.g. tests/test_twopool.py);
- ``check_batched_equals_one_by_one``: rows of a batch, and sites picked by ``site_index``,
  bitwise equal to one-by-one evaluations;
- ``check_status_codes``: a parameter outside its domain gives status bad_parameter and NaN
  in its row only; the single-run API refuses it with one line; bad forcing named;
- ``check_namelist_round_trip``: options and parameters written to a namelist and read back
  bitwise; the model built from them reproduces the defaults;
- ``check_calibratable``: the most sensitive parameter recovered from a synthetic SOC
  profile by SCE-UA (a few hundred evaluations) through the calibration engine's cost;
- ``check_capabilities``: declared capabilities work (site and cell forcing agree, system
  components close the respiration budget, scalars behave, CTSM history forcing validates
  and runs), undeclared ones refuse.
"""

from __future__ import annotations

import warnings

import f90nml
import numpy as np
import pytest
import xarray as xr

from pysoc import _status
from pysoc.da.likelihood import CostFunction, ParameterMapper, StreamSpec, build_site_observations
from pysoc.da.optimize import SCEUASettings, sceua
from pysoc.da.synthetic import synthetic_profiles
from pysoc.errors import ConfigError, DataError, ParameterError
from pysoc.io import netcdf
from pysoc.io.namelist import PKGDATA, NamelistSpec
from pysoc.models import REGISTRY, get_model, model_class
from pysoc.models.base import CAPABILITIES, MASS_BALANCE_RESIDUAL, OUTPUTS
from pysoc.profiles import interval_integrals

pytestmark = pytest.mark.filterwarnings("ignore::pysoc.params.OutsidePriorWarning")

#: example forcing and small options of the models that do not declare ``example_forcing``
EXAMPLES = {
    "clm5": ("forcing/clm5_synthetic_site1.nc", {}),
    "compas": ("forcing/clm5_synthetic_site1.nc", {}),
    "mimics": ("mimics/forcing_bartlett_B2.nc", {}),
    "century": ("century/haibei_forcing.nc", {}),
}

#: (model, check) -> why the model cannot pass the check (reported by the suite as xfail)
XFAIL: dict[tuple[str, str], str] = {
    ("century", "check_labelled_outputs"):
        "CENTURY's evaluate returns 'pools' (nset, 9) without the level axis of OUTPUTS['pools'] "
        "(nset, npool, nlev), and its steady state is a labelled spin-up time series without 'soc'",
    ("century", "check_mass_balance"):
        "CENTURY is a plant-soil model: its steady state is a spin-up time series, not a column state with "
        "scalar 'input' and 'rh'; its own budget (plant + soil, mass_balance_residual) is tested in "
        "tests/test_century.py",
    ("century", "check_steady_state_is_transient_limit"):
        "CENTURY's steady state is a spin-up with a dynamic plant on the spin-up climate (spinup_time), not "
        "the fixed point of the transient under a constant forcing; the constant forcing of this check does "
        "not define its spin-up",
}


# ---- the registry of checks ------------------------------------------------------------------------
CHECKS = []


def check(f):
    """Register a check function ``f(case)``."""
    CHECKS.append(f)
    return f


class Case:
    """A model in a small configuration with its example forcing (built once per model)."""

    def __init__(self, name: str):
        cls = model_class(name)
        declared = getattr(cls, "example_forcing", None)
        if declared:
            path, options = str(declared), dict(getattr(cls, "example_options", {}) or {})
            path = PKGDATA / path[len("pkgdata:"):] if path.startswith("pkgdata:") else path
        elif name in EXAMPLES:
            rel, options = EXAMPLES[name]
            path = PKGDATA / rel
        else:
            pytest.fail(f"model {name!r}: declare example_forcing = 'pkgdata:<name>/<file>.nc' (a small forcing the "
                        f"conformance suite runs the model on; docs/adding_a_model.md)")
        self.name, self.path, self.options = name, path, options
        self.model = get_model(name, **options)
        self.forcing = self.model.load_forcing(path)
        self.theta = self.model.parameters.defaults

    def evaluate(self, theta=None, forcing=None, **kw):
        theta = self.theta if theta is None else theta
        return self.model.evaluate(self.forcing if forcing is None else forcing, np.atleast_2d(theta), **kw)


_CASES: dict[str, Case] = {}


def case_of(name: str) -> Case:
    if name not in _CASES:
        _CASES[name] = Case(name)
    return _CASES[name]


def parametrize_with_checks(names):
    """``pytest.mark.parametrize`` over (model, check) for the models ``names``, with the
    reasoned xfails of :data:`XFAIL` (scikit-learn's ``parametrize_with_checks`` pattern)."""
    params = []
    for name in names:
        for f in CHECKS:
            reason = XFAIL.get((name, f.__name__))
            marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
            params.append(pytest.param(name, f, id=f"{name}-{f.__name__}", marks=marks))
    return pytest.mark.parametrize("name,check_fn", params)


def _float_outputs(res):
    return {k: np.asarray(v) for k, v in res.outputs.items() if np.asarray(v).dtype.kind == "f"}


def _one_line(exc) -> str:
    text = str(exc.value)
    assert text and "\n" not in text, text
    return text


# ---- checks -----------------------------------------------------------------------------------------
@check
def check_declarations(c: Case):
    m, cls = c.model, type(c.model)
    assert cls.name == c.name and cls.options_group.name == c.name and cls.long_name
    assert len(cls.pools) == len(cls.pool_long_names) == len(set(cls.pools)) >= 1
    assert cls.soc_pools and set(cls.soc_pools) <= set(cls.pools)
    litter = tuple(getattr(cls, "litter_pools", ()))
    assert set(litter) <= set(cls.pools) and not set(litter) & set(cls.soc_pools)
    assert cls.observables and set(cls.observables) <= set(OUTPUTS), set(cls.observables) - set(OUTPUTS)
    assert "soc_profile" in cls.observables                      # the stream every calibration uses
    assert isinstance(m.nlev, int) and m.nlev >= 1
    dz = np.asarray(m.dz, float)
    assert dz.shape == (m.nlev,) and (dz > 0).all()
    np.testing.assert_allclose(m.zisoi, np.cumsum(dz), rtol=1e-9)
    assert m.bounds.shape == (m.nlev, 2)
    np.testing.assert_allclose(m.bounds[:, 1], m.zisoi, rtol=1e-12)
    assert ((m.zsoi >= m.bounds[:, 0]) & (m.zsoi <= m.bounds[:, 1])).all()
    units = getattr(m, "temperature_units", None)
    assert units in (None, "K", "degC")
    for spec in cls.forcing_schema:
        assert spec.units and spec.long_name and spec.dims is not None, spec


@check
def check_parameter_table(c: Case):
    table = c.model.parameters
    assert len(table) >= 1 and len(set(table.names)) == len(table)
    for s in table:
        assert s.units and s.description, f"{s.name}: units and description required"
        assert s.prior_min < s.prior_max
        # the interior of the prior inside the domain (an end may sit on an excluded boundary,
        # as PRODA's [0, x] priors of positive parameters)
        assert bool(s.in_domain(s.to_physical(1e-9))) and bool(s.in_domain(s.to_physical(1.0 - 1e-9))), \
            f"{s.name}: prior range {s.prior_min}..{s.prior_max} outside the domain {s.domain_text()}"
        assert bool(s.in_domain(s.default)), f"{s.name}: default {s.default} outside {s.domain_text()}"
    table.check(table.defaults, warn_prior=False)
    for sname in table.named_sets:
        table.check(table.vector(sname), warn_prior=False)
    kp = np.random.default_rng(1).random((5, len(table)))
    np.testing.assert_allclose(table.to_kp(table.to_physical(kp)), kp, rtol=1e-9, atol=1e-12)


@check
def check_labelled_outputs(c: Case):
    m = c.model
    res = c.evaluate(np.tile(c.theta, (2, 1)), observables=m.observables)
    assert res.ok.all(), res.describe(0)
    sizes = {"level": m.nlev, "pool": len(m.pools)}
    for name in m.observables:
        assert name in res.outputs, f"{name} not returned"
        a = np.asarray(res.outputs[name])
        dims = OUTPUTS[name].dims
        assert a.shape[0] == 2 and a.ndim == 1 + len(dims), (name, a.shape, dims)
        for d, n in zip(dims, a.shape[1:]):
            assert n == sizes.get(d, n), (name, d, n)
    np.testing.assert_array_equal(res.depth_bounds, m.bounds)
    if "pools" in res.outputs:
        soc = np.asarray(res.outputs["pools"])[:, m.soc_index, :].sum(axis=1)
        np.testing.assert_allclose(res.outputs["soc_profile"], soc, rtol=1e-12)
    if "soc_0_30" in res.outputs:
        stock = interval_integrals(np.asarray(res.outputs["soc_profile"]), m.bounds, [(0.0, 0.3)])[:, 0] / 1000.0
        np.testing.assert_allclose(res.outputs["soc_0_30"], stock, rtol=1e-9)
    ds = m.steady_state(c.forcing, c.theta)
    expect = {"cpools": OUTPUTS["pools"].units, "soc": OUTPUTS["soc_profile"].units,
              "input": OUTPUTS["input"].units, "rh": OUTPUTS["rh"].units}
    for var, units in expect.items():
        assert var in ds, f"steady state without {var}"
        assert ds[var].attrs.get("units") == units, (var, ds[var].attrs.get("units"), units)
    assert list(ds["pool"].values) == list(m.pools)


@check
def check_mass_balance(c: Case):
    m = c.model
    res = c.evaluate()
    steady = m.steady_state(c.forcing, c.theta)
    inp, rh = float(steady["input"]), float(steady["rh"])         # labelled column fluxes (g C m-2 yr-1)
    assert inp > 0 and rh == pytest.approx(inp, rel=1e-6), (inp, rh)
    if "input" in res.outputs and "rh" in res.outputs:
        assert float(res.outputs["input"][0]) == inp and float(res.outputs["rh"][0]) == rh
    tr = m.transient(c.forcing, c.theta, n_years=2, initial="steady_state")
    inputs = np.asarray(tr["input"].values, float)
    # the contract's one meaning and unit: input - change - respiration as a rate, g C m-2 yr-1
    assert tr["mass_balance_residual"].attrs["units"] == MASS_BALANCE_RESIDUAL.units
    assert steady["mass_balance_residual"].attrs["units"] == MASS_BALANCE_RESIDUAL.units
    assert float(steady["mass_balance_residual"]) == pytest.approx(inp - rh, abs=1e-9 * inp)
    scale = float(np.abs(inputs).max())                            # g m-2 during a step
    assert np.abs(tr["mass_balance_residual"].values).max() <= 1e-6 * 12.0 * scale
    # independently: input - change in column stock - respiration, from the labelled pools
    stock = (np.asarray(tr["cpools"].values) * m.dz).sum(axis=(1, 2))
    x0 = (np.asarray(res.outputs["pools"][0]) * m.dz).sum()
    resp = np.asarray(tr["rh"].values, float).reshape(stock.size, -1).sum(axis=1)
    resid = inputs - np.diff(np.concatenate([[x0], stock])) - resp
    assert np.abs(resid).max() <= 1e-6 * max(scale, float(stock.max()) * 1e-6), np.abs(resid).max()


def _constant_forcing(m, f: xr.Dataset) -> xr.Dataset:
    """The forcing with every monthly variable at its annual mean; amounts per month (units
    with 'month-1') in proportion to the days of the month, so that the rates are constant."""
    out = f.copy(deep=True)
    nt = f.sizes["time"]
    days = np.resize(np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], float), nt)
    for name, spec in m.forcing_schema.variables.items():
        if name not in f or "time" not in f[name].dims:
            continue
        v = f[name]
        per_month = "month-1" in spec.units
        rate = (v / xr.DataArray(days, dims="time")).mean("time") if per_month else v.mean("time")
        new = rate * xr.DataArray(days, dims="time") if per_month else rate.expand_dims(time=nt)
        out[name] = new.transpose(*v.dims).assign_attrs(v.attrs)
    return m.validate_forcing(out, source="<constant forcing>")


@check
def check_steady_state_is_transient_limit(c: Case):
    m = c.model
    flat = _constant_forcing(m, c.forcing)
    res = c.evaluate(forcing=flat)
    assert res.ok[0], res.describe(0)
    steady = np.asarray(res.outputs["pools"][0])
    tr = m.transient(flat, c.theta, n_years=3, initial="steady_state")
    end = np.asarray(tr["cpools"].isel(time=-1).values)
    np.testing.assert_allclose(end, steady, rtol=1e-6, atol=1e-9 * float(np.abs(steady).max()))


def _perturbed(m, f: xr.Dataset) -> xr.Dataset:
    """A second site: every carbon input of the forcing (units per m2) times 1.25."""
    g = f.copy(deep=True)
    for name, spec in m.forcing_schema.variables.items():
        if name in g and "m-2" in spec.units:
            g[name] = g[name] * 1.25
    return m.validate_forcing(g, source="<second site>")


@check
def check_batched_equals_one_by_one(c: Case):
    m = c.model
    kp = 0.3 + 0.4 * np.random.default_rng(7).random((3, len(m.parameters)))
    theta = np.asarray(m.to_physical(kp), float)
    batch = c.evaluate(theta, observables=m.observables)
    for i in range(3):
        one = c.evaluate(theta[i], observables=m.observables)
        assert one.status[0] == batch.status[i]
        for k, v in _float_outputs(one).items():
            np.testing.assert_array_equal(np.asarray(batch.outputs[k])[i], v[0], err_msg=k)
    sites = [c.forcing, _perturbed(m, c.forcing)]
    idx = np.array([1, 0, 1])
    many = m.evaluate(m.prepare(sites), theta, observables=m.observables, site_index=idx)
    for i in range(3):
        one = m.evaluate(sites[idx[i]], theta[i:i + 1], observables=m.observables)
        for k, v in _float_outputs(one).items():
            np.testing.assert_array_equal(np.asarray(many.outputs[k])[i], v[0], err_msg=f"site_index: {k}")
    assert not np.array_equal(many.outputs["soc_profile"][0], many.outputs["soc_profile"][1])


def _outside(spec) -> float:
    """A value outside the physical domain of a parameter."""
    if np.isfinite(spec.lower):
        return spec.lower - 1.0 - abs(spec.lower)
    return spec.upper + 1.0 + abs(spec.upper)


@check
def check_status_codes(c: Case):
    m = c.model
    specs = [s for s in m.parameters if np.isfinite(s.lower) or np.isfinite(s.upper)]
    assert specs, "no parameter with a physical domain"
    spec = specs[0]
    theta = np.tile(c.theta, (3, 1))
    theta[1, m.parameters.index(spec.name)] = _outside(spec)
    res = c.evaluate(theta)
    assert res.status[1] == _status.ERR_PARAM, res.describe(1)
    assert (res.status[[0, 2]] == _status.OK).all()
    for k, v in _float_outputs(res).items():
        if k in m.diagnostic_outputs or v.ndim == 0:
            continue
        assert np.isnan(v[1]).all(), k
        np.testing.assert_array_equal(v[0], _float_outputs(c.evaluate())[k][0], err_msg=k)
    with pytest.raises(ParameterError) as e:
        m.steady_state(c.forcing, theta[1])
    assert spec.name in _one_line(e)
    bad = c.forcing.copy(deep=True)
    var = next(s.name for s in m.forcing_schema if s.required and s.name in bad and bad[s.name].ndim)
    bad[var].values.flat[0] = np.nan
    with pytest.raises(DataError) as e:
        m.validate_forcing(bad, source="bad.nc")
    assert "bad.nc" in _one_line(e) and var in str(e.value)


@check
def check_namelist_round_trip(c: Case):
    import tempfile
    from pathlib import Path

    m, cls = c.model, type(c.model)
    options = {k.name: m.options[k.name] for k in cls.options_group.keys}
    params = {n: float(v) for n, v in zip(m.parameters.names, c.theta)}
    spec = NamelistSpec([cls.options_group, m.parameters.namelist_group("parameters", "overrides")])
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "model.nml"
        group = {k: v for k, v in options.items() if not (isinstance(v, (list, str)) and len(v) == 0)}
        f90nml.Namelist({c.name: group, "parameters": params}).write(path)
        nml = spec.read(path)
    assert nml[c.name] == options
    assert nml["parameters"] == params                       # bitwise the same values
    again = get_model(c.name, **nml[c.name])
    assert again.options == m.options
    theta = again.parameters.vector(None, overrides=nml["parameters"])
    np.testing.assert_array_equal(theta, c.theta)
    for k, v in _float_outputs(again.evaluate(c.forcing, theta[None])).items():
        np.testing.assert_array_equal(v, _float_outputs(c.evaluate())[k], err_msg=k)


def _most_sensitive(c: Case) -> int:
    """The parameter whose prior range changes the SOC profile most (log ratio)."""
    m = c.model
    kp0 = m.parameters.to_kp(c.theta)
    best, score = 0, -1.0
    for i in range(len(m.parameters)):
        kp = np.tile(kp0, (2, 1))
        kp[:, i] = (0.3, 0.7)
        res = c.evaluate(np.asarray(m.to_physical(kp), float))
        soc = np.asarray(res.outputs["soc_profile"], float).sum(axis=1)
        s = abs(float(np.log(soc[0] / soc[1]))) if res.ok.all() and (soc > 0).all() else -1.0
        if s > score:
            best, score = i, s
    return best


@check
def check_calibratable(c: Case):
    m = c.model
    free = _most_sensitive(c)
    mapper = ParameterMapper(m, [free], c.theta)
    zbot = float(m.bounds[-1, 1])
    layers = [b for b in (10.0, 30.0, 60.0) if b / 100.0 <= zbot + 1e-9] or [100.0 * zbot]
    (profile,) = synthetic_profiles(m, mapper, [str(c.path)], 1, layers, kp_min=0.3, kp_max=0.7, seed=3)
    obs = build_site_observations(profile, m.bounds, [StreamSpec("soc_profile", sigma_rel=0.1)])
    cost = CostFunction(m, [c.forcing], [obs], mapper)
    best = sceua(lambda kp: cost(kp)[0], 1, SCEUASettings(n_complexes=2, max_evals=300, kstop=3),
                 np.random.default_rng(11))
    truth = float(profile.meta["kp_true"][0])
    assert best.n_evals <= 400
    assert abs(float(best.x[0]) - truth) < 0.02, (m.parameters.names[free], best.x, truth)


@check
def check_capabilities(c: Case):
    m, cls = c.model, type(c.model)
    assert set(m.capabilities) <= set(CAPABILITIES)
    for cap in CAPABILITIES:
        if cap not in m.capabilities:
            with pytest.raises(ConfigError) as e:
                getattr(m, cap)(None)
            assert cap in _one_line(e)
    if "site_forcing" in m.capabilities or "cell_forcing" in m.capabilities:
        from pysoc.io.site_forcing import CellClimate, PseudoProfile

        cells = [("c1", 45.0, 7.0, 9.0, 800.0, 900.0, 4), ("c2", -12.0, -50.0, 24.0, 1600.0, 150.0, 2)]
        theta = np.tile(c.theta, (2, 1))
        if "site_forcing" in m.capabilities:
            profiles = [PseudoProfile(*x) for x in cells]
            for p in profiles:                               # soil covariates some builders need
                p.covariates.update({"obs_clay_0_30cm_percent": 20.0, "obs_sand_0_30cm_percent": 40.0})
            sites = [m.site_forcing(p) for p in profiles]
            for ds in sites:
                m.validate_forcing(ds, source="<site forcing>")
            by_site = m.evaluate(m.prepare(sites), theta, site_index=np.arange(2))
            assert by_site.ok.all(), by_site.describe(0)
        if "cell_forcing" in m.capabilities:
            clim = CellClimate(*(np.array([x[i] for x in cells], float) for i in (1, 3, 4, 5, 6)))
            prep = m.cell_forcing(clim)
            by_cell = m.evaluate(prep, theta, site_index=np.arange(2))
            assert by_cell.ok.all(), by_cell.describe(0)
            if "site_forcing" in m.capabilities:
                np.testing.assert_allclose(by_cell.outputs["soc_profile"], by_site.outputs["soc_profile"],
                                           rtol=1e-9)
            if "system_components" in m.capabilities:
                from pysoc.models.components import COMPONENTS

                comp = m.system_components(prep, theta, np.asarray(by_cell.outputs["pools"]), np.arange(2))
                for k in COMPONENTS:
                    assert np.asarray(comp[k]).shape == (2,) and np.isfinite(comp[k]).all(), k
                assert ((comp["cte"] >= 0) & (comp["cte"] <= 1)).all()
                if "respiration_from_components" in comp:
                    np.testing.assert_allclose(comp["respiration_from_components"], by_cell.outputs["rh"], rtol=1e-6)
    if "ctsm_forcing" in m.capabilities:                 # the shipped CTSM-layout history, any grid
        f = m.ctsm_forcing(PKGDATA / "ctsm" / "example_h0.nc", levels="interpolate")
        val, ok, bad = m.validate_columns(f, "example_h0.nc")
        assert ok.size > f.sizes["column"] // 2, bad
        one = m.evaluate(val.isel(column=0).drop_vars("column", errors="ignore"), c.theta[None, :])
        assert one.outputs["soc_profile"].shape[0] == 1
    if "decomposition_scalars" in m.capabilities:
        ft, fw = m.decomposition_scalars(np.array([278.15, 288.15, 298.15]), 0.5)
        assert ft.shape == fw.shape == (3,)
        assert (np.diff(ft) > 0).all() and ((fw >= 0) & (fw <= 1)).all()


# ---- the suite -------------------------------------------------------------------------------------------
@parametrize_with_checks(sorted(REGISTRY))
def test_conformance(name, check_fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        check_fn(case_of(name))


def test_every_check_is_run_and_every_xfail_is_reasoned():
    names = {f.__name__ for f in CHECKS}
    assert len(names) == len(CHECKS) >= 10
    for (model, chk), reason in XFAIL.items():
        assert model in REGISTRY and chk in names and len(reason) > 40, (model, chk)

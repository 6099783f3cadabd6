"""Observation operators, cost of several data streams, parameter mapping."""

import numpy as np
import pytest

from pysoc import _status
from pysoc.da.likelihood import (CostFunction, DepthWeights, ParameterMapper, StreamSpec,
                                 build_site_observations)
from pysoc.errors import ConfigError, DataError, KernelError
from pysoc.forcing import ForcingSchema
from pysoc.io.profiles import Profile
from pysoc.io.namelist import Group
from pysoc.models.base import BatchResult, SoilCarbonModel
from pysoc.params import ParameterSpec, ParameterTable
from pysoc.profiles import interval_means

BOUNDS = np.array([[0.0, 0.1], [0.1, 0.3], [0.3, 0.6], [0.6, 1.0], [1.0, 2.0]])


class ToyModel(SoilCarbonModel):
    """soc(z) = a exp(-z/b) per layer (node depth), d14c(z) = -c 1000 z, NEP = a/1000 sin(month),
    soc_0_30 analytic. Status 'invalid' when b > 0.9, NaN with status ok when flag 'nan' is set."""

    name = "toy"
    long_name = "toy model"
    pools = ("S",)
    pool_long_names = ("soil",)
    soc_pools = ("S",)
    parameters = ParameterTable("toy", (
        ParameterSpec("a", "g C m-3", 5e4, 1e4, 1e5, "surface SOC"),
        ParameterSpec("b", "m", 0.3, 0.05, 1.0, "e-folding depth", lower=0.0),
        ParameterSpec("c", "1", 0.1, 0.01, 1.0, "radiocarbon slope", scale="log10", lower=0.0),
    ))
    forcing_schema = ForcingSchema("toy", [])
    options_group = Group("toy", (), "no options")
    observables = ("soc_profile", "soc_0_30", "d14c_profile", "nep_monthly")

    def __init__(self, nan=False, **options):
        super().__init__(**options)
        self.nan = nan
        self.calls = 0

    def load_forcing(self, path):
        raise NotImplementedError

    def steady_state(self, forcing, params=None, *, errors="raise"):
        raise NotImplementedError

    def transient(self, forcing, params=None, *, errors="raise", **kw):
        raise NotImplementedError

    def prepare(self, forcing):
        if isinstance(forcing, list):
            return {"scale": np.array([f["scale"] for f in forcing])}
        return {"scale": np.array([forcing["scale"]])}

    def evaluate(self, forcing, theta, observables=("soc_profile",), site_index=None):
        self.calls += 1
        theta = np.atleast_2d(theta)
        n = theta.shape[0]
        si = np.zeros(n, int) if site_index is None else np.asarray(site_index)
        scale = forcing["scale"][si]
        a, b, c = theta[:, 0] * scale, theta[:, 1], theta[:, 2]
        z = BOUNDS.mean(axis=1)
        soc = a[:, None] * np.exp(-z[None] / b[:, None])
        status = np.where(b > 0.9, _status.ERR_INVALID, _status.OK)
        if self.nan:
            soc[:, 2] = np.nan
        months = np.arange(24)
        out = {"soc_profile": soc, "soc_0_30": (soc[:, :2] * np.diff(BOUNDS[:2], axis=1).T).sum(1) / 1000,
               "d14c_profile": -1000 * c[:, None] * z[None], "nep_monthly": a[:, None] / 1000 * np.sin(months)[None]}
        return BatchResult(status=status, outputs=out, depth_bounds=BOUNDS)


def profile(top, bottom, soc, d14c=None, **meta):
    return Profile(site_id=meta.pop("site_id", "s1"), lat=0.0, lon=0.0, top=top, bottom=bottom, soc=soc, d14c=d14c,
                   covariates=meta.pop("cov", {}), meta=meta)


def test_interval_mean_operator_and_default_sigma():
    p = profile([0.0, 0.2, 0.5], [0.2, 0.5, 1.5], [40000.0, 20000.0, 5000.0])
    obs = build_site_observations(p, BOUNDS, [StreamSpec("soc_profile")])
    st = obs.streams["soc_profile"]
    conc = np.array([[10.0, 20.0, 30.0, 40.0, 50.0]])
    np.testing.assert_allclose(conc @ st.W.T, interval_means(conc, BOUNDS, np.stack([p.top, p.bottom], 1)))
    # layer 0-0.2 m: 0.1 m of 10 and 0.1 m of 20
    np.testing.assert_allclose((conc @ st.W.T)[0, 0], 15.0)
    np.testing.assert_allclose(st.sigma, 0.3 * p.soc)
    np.testing.assert_allclose(st.weight, 1.0)
    np.testing.assert_allclose(st.coef, 1.0 / (2 * (0.3 * p.soc) ** 2))


def test_depth_weights_seed002():
    w = DepthWeights(True, 10.0).weights(np.array([0.0, 0.1, 0.3, 0.6]), np.array([0.1, 0.3, 0.6, 1.0]))
    np.testing.assert_allclose(w, [10.0, np.exp(-0.2), np.exp(-0.45), 10.0])
    np.testing.assert_allclose(DepthWeights().weights(np.zeros(3), np.ones(3)), 1.0)


def test_layers_below_column_dropped_and_nan_layers_ignored():
    p = profile([0.0, 0.5, 2.5], [0.5, 1.0, 3.0], [3e4, np.nan, 1e4])
    obs = build_site_observations(p, BOUNDS, [StreamSpec("soc_profile")])
    assert obs.streams["soc_profile"].nobs == 1
    assert "below the model column" in obs.notes[0]


def test_sigma_floor_errors_and_unknown_stream():
    p = profile([0.0, 0.3], [0.3, 0.6], [3e4, 0.0])
    with pytest.raises(DataError, match="sigma = 0"):
        build_site_observations(p, BOUNDS, [StreamSpec("soc_profile")])
    obs = build_site_observations(p, BOUNDS, [StreamSpec("soc_profile", sigma_abs=100.0)])
    np.testing.assert_allclose(obs.streams["soc_profile"].sigma, [9000.0, 100.0])
    with pytest.raises(ConfigError, match="unknown data stream"):
        build_site_observations(p, BOUNDS, [StreamSpec("bogus")])


def test_cost_zero_at_truth_and_gaussian_form():
    model = ToyModel()
    theta_true = np.array([6e4, 0.4, 0.2])
    res = model.evaluate(model.prepare({"scale": 1.0}), theta_true[None])
    tops, bots = np.array([0.0, 0.1, 0.3, 0.6]), np.array([0.1, 0.3, 0.6, 1.0])
    y = res.outputs["soc_profile"][0, :4]
    p = profile(tops, bots, y)
    obs = build_site_observations(p, BOUNDS, [StreamSpec("soc_profile", sigma_rel=0.1)])
    mapper = ParameterMapper(model, [0, 1], theta_true)
    cost = CostFunction(model, [{"scale": 1.0}], [obs], mapper)
    kp_true = model.parameters.to_kp(theta_true)[:2]
    assert cost(kp_true[None])[0, 0] == pytest.approx(0.0, abs=1e-20)
    kp = np.array([[0.3, 0.2]])
    th = mapper(kp)[0]
    pred = th[0] * np.exp(-BOUNDS.mean(1)[:4] / th[1])
    np.testing.assert_allclose(cost(kp)[0, 0], np.sum((pred - y) ** 2 / (2 * (0.1 * y) ** 2)), rtol=1e-12)


def test_several_streams_add_with_weights():
    """J(soc + d14c with lambda 5) = J(soc) + 5 J(d14c) (seed 003 eq. 14)."""
    model = ToyModel()
    p = profile([0.0, 0.1, 0.3], [0.1, 0.3, 0.6], [4e4, 3e4, 1e4], d14c=[-20.0, -80.0, np.nan])
    mapper = ParameterMapper(model, [0, 1, 2], model.parameters.defaults)
    kp = np.random.default_rng(0).random((4, 3)) * 0.5
    J = {}
    for streams in (["soc_profile"], ["d14c_profile"], ["soc_profile", "d14c_profile"]):
        specs = [StreamSpec(s) for s in streams]
        obs = build_site_observations(p, BOUNDS, specs)
        J[tuple(streams)] = CostFunction(model, [{"scale": 1.0}], [obs], mapper)(kp)[0]
    np.testing.assert_allclose(J[("soc_profile", "d14c_profile")], J[("soc_profile",)] + J[("d14c_profile",)])
    obs = build_site_observations(p, BOUNDS, [StreamSpec("d14c_profile")])
    st = obs.streams["d14c_profile"]
    assert st.nobs == 2                                     # NaN layer dropped
    np.testing.assert_allclose(st.weight, 5.0)              # default lambda of seed 003
    np.testing.assert_allclose(st.sigma, 100.0)


def test_d14c_is_carbon_weighted():
    model = ToyModel()
    p = profile([0.0], [0.3], [3e4], d14c=[-50.0])
    obs = build_site_observations(p, BOUNDS, [StreamSpec("d14c_profile")])
    mapper = ParameterMapper(model, [0, 1, 2], model.parameters.defaults)
    cost = CostFunction(model, [{"scale": 1.0}], [obs], mapper)
    kp = np.array([[0.5, 0.3, 0.4]])
    pred = cost.predict(kp)["pred"]["d14c_profile"][0, 0, 0]
    th = mapper(kp)[0]
    z = BOUNDS.mean(1)[:2]
    soc = th[0] * np.exp(-z / th[1])
    d14 = -1000 * th[2] * z
    w = soc * np.array([0.1, 0.2])
    assert pred == pytest.approx((w * d14).sum() / w.sum(), rel=1e-12)


def test_scalar_and_series_streams():
    model = ToyModel()
    nep = np.full(24, np.nan)
    nep[[2, 5, 7]] = [10.0, -5.0, 3.0]
    p = profile([0.0, 0.1, 0.3], [0.1, 0.3, 0.6], [4e4, 3e4, 1e4], nep_monthly=nep)
    obs = build_site_observations(p, BOUNDS, [StreamSpec("soc_0_30"), StreamSpec("nep_monthly")], n_time=24)
    y30 = obs.streams["soc_0_30"].y[0]
    assert y30 == pytest.approx((4e4 * 0.1 + 3e4 * 0.2) / 1000)
    st = obs.streams["nep_monthly"]
    np.testing.assert_allclose(st.y, [10.0, -5.0, 3.0])
    np.testing.assert_allclose(st.sigma, [3.0, 1.5, 1.0])   # max(0.3 |y|, 1)
    mapper = ParameterMapper(model, [0, 1, 2], model.parameters.defaults)
    cost = CostFunction(model, [{"scale": 1.0}], [obs], mapper)
    pr = cost.predict(np.array([[0.5, 0.5, 0.5]]))
    th = mapper(np.array([[0.5, 0.5, 0.5]]))[0]
    np.testing.assert_allclose(pr["pred"]["nep_monthly"][0, 0], th[0] / 1000 * np.sin([2, 5, 7]))
    with pytest.raises(DataError, match="0-30 cm"):
        build_site_observations(profile([0.2], [0.6], [1e4]), BOUNDS, [StreamSpec("soc_0_30")])
    with pytest.raises(DataError, match="NEP"):
        build_site_observations(profile([0.0], [0.6], [1e4]), BOUNDS, [StreamSpec("nep_monthly")])


def test_multi_site_batched_equals_single_sites():
    model = ToyModel()
    profs = [profile([0.0, 0.1, 0.3], [0.1, 0.3, 0.6], [4e4, 3e4, 1e4], site_id="a"),
             profile([0.0, 0.3], [0.3, 1.0], [2e4, 5e3], site_id="b"),
             profile([0.0, 0.1, 0.3, 0.6], [0.1, 0.3, 0.6, 1.0], [5e4, 3e4, 1e4, 2e3], site_id="c")]
    forc = [{"scale": 1.0}, {"scale": 0.5}, {"scale": 2.0}]
    mapper = ParameterMapper(model, [0, 1], model.parameters.defaults)
    obs = [build_site_observations(p, BOUNDS, [StreamSpec("soc_profile")]) for p in profs]
    kp = np.random.default_rng(1).random((5, 2)) * 0.8
    multi = CostFunction(model, forc, obs, mapper)
    assert multi.batched
    model.calls = 0
    J = multi(kp)
    assert model.calls == 1                          # one kernel call for all sites and vectors
    single = np.stack([CostFunction(model, [f], [o], mapper)(kp)[0] for f, o in zip(forc, obs)])
    np.testing.assert_allclose(J, single, rtol=1e-13)


def test_failed_status_gives_inf_and_nan_raises():
    model = ToyModel()
    p = profile([0.0, 0.1, 0.3], [0.1, 0.3, 0.6], [4e4, 3e4, 1e4])
    obs = build_site_observations(p, BOUNDS, [StreamSpec("soc_profile")])
    mapper = ParameterMapper(model, [0, 1], model.parameters.defaults)
    cost = CostFunction(model, [{"scale": 1.0}], [obs], mapper)
    J = cost(np.array([[0.5, 0.5], [0.5, 0.99]]))[0]          # b = 0.99 m -> status invalid
    assert np.isfinite(J[0]) and J[1] == np.inf
    bad = CostFunction(ToyModel(nan=True), [{"scale": 1.0}], [obs], mapper)
    with pytest.raises(KernelError, match="NaN"):
        bad(np.array([[0.5, 0.5]]))


def test_stream_needs_model_output():
    from pysoc.models import get_model
    clm5 = get_model("clm5")
    p = profile([0.0, 0.1, 0.3], [0.1, 0.3, 0.6], [4e4, 3e4, 1e4], d14c=[0.0, -10.0, -50.0])
    obs = build_site_observations(p, BOUNDS, [StreamSpec("d14c_profile")])
    mapper = ParameterMapper(clm5, [0], clm5.parameters.defaults)
    with pytest.raises(ConfigError, match="d14c_profile"):
        CostFunction(clm5, [None], [obs], mapper)


def test_mapper_fast_path_equals_model_to_physical_and_keeps_fixed():
    model = ToyModel()
    fixed = np.array([3e4, 0.5, 0.07])
    m = ParameterMapper(model, [2, 0], fixed)
    assert m._fast is not None
    kp = np.random.default_rng(2).random((6, 2))
    th = m(kp)
    np.testing.assert_allclose(th, m._map_model(kp), rtol=1e-14)
    np.testing.assert_allclose(th[:, 1], 0.5)
    np.testing.assert_allclose(th[:, 2], 10 ** (np.log10(0.01) + kp[:, 0] * 2), rtol=1e-14)   # log10 scale

    class Overriding(ToyModel):
        def to_physical(self, kp):
            out = self.parameters.to_physical(kp)
            out[..., 1] = out[..., 1] * 0 + 0.25      # e.g. COMPAS-style aliasing
            return out

    m2 = ParameterMapper(Overriding(), [0, 1], fixed)
    assert m2._fast is None                            # the model's own mapping is used
    np.testing.assert_allclose(m2(kp)[:, 1], 0.25)


def test_clm5_fast_mapping_matches_to_physical(clm5):
    m = ParameterMapper(clm5, range(21), clm5.parameters.defaults)
    assert m._fast is not None
    kp = np.random.default_rng(4).random((5, 21))
    np.testing.assert_array_equal(m(kp), clm5.to_physical(kp))

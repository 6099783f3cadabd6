"""The model contract of pysoc.models.base (issue 16): declarations from which the rest is
derived, capabilities as methods, one meaning and unit per shared output, one name per
parameter. The behaviour of every registry model is in tests/test_conformance.py; this
file checks the contract machinery itself."""

import inspect
import warnings

import numpy as np
import pytest

from conftest import synthetic_forcing
from pysoc.errors import ConfigError, PysocWarning
from pysoc.models import available_models, get_model, model_class, models_with
from pysoc.models.base import CAPABILITIES, MASS_BALANCE_RESIDUAL, SoilCarbonModel, mass_balance_residual

MODELS = available_models()


@pytest.mark.parametrize("name", MODELS)
def test_declarations_and_derived_indices(name):
    m = get_model(name)
    for attr in ("nlev", "dz", "zisoi", "zsoi", "bounds"):
        assert hasattr(m, attr), f"{name}: grid attribute {attr} not set"
    assert m.dz.shape == m.zisoi.shape == m.zsoi.shape == (m.nlev,) and m.bounds.shape == (m.nlev, 2)
    np.testing.assert_allclose(m.bounds[:, 1] - m.bounds[:, 0], m.dz, rtol=1e-12)
    pools = np.asarray(m.pools)
    assert list(pools[m.soc_index]) == list(m.soc_pools)
    assert list(pools[m.litter_index]) == list(m.litter_pools)
    assert not set(m.soc_pools) & set(m.litter_pools)
    assert "site_index" in inspect.signature(type(m).evaluate).parameters
    assert set(m.capabilities) <= set(CAPABILITIES)
    assert m.temperature_units in ("K", "degC", None)
    if m.temperature_variable is not None:
        assert m.forcing_schema.variables[m.temperature_variable].units == m.temperature_units


def test_pool_selector():
    cls = model_class("compas")
    assert cls.pool_selector(("DOC", "MIC", "ENZ", "SOC")) == slice(4, 8)
    np.testing.assert_array_equal(cls.pool_selector(("CWD", "SOC")), [0, 7])
    with pytest.raises(ConfigError, match="'S9' is not a pool"):
        cls.pool_selector(("S9",))


def test_capabilities_are_methods():
    """A capability is a method the model overrides; the base-class placeholder refuses in one
    line; workflows take their models from the registry by capability."""
    cen = get_model("century")
    assert cen.capabilities == () and not type(cen).provides("site_forcing")
    with pytest.raises(ConfigError, match="model 'century' does not provide cell_forcing"):
        cen.cell_forcing(None)
    with pytest.raises(ConfigError, match="unknown capability"):
        SoilCarbonModel.provides("maps")
    assert {"clm5", "compas"} <= set(models_with("site_forcing", "cell_forcing", "system_components"))
    assert "mimics" in models_with("site_forcing") and "mimics" not in models_with("cell_forcing")
    from pysoc.proda import workflow
    assert set(workflow.MODELS) == set(models_with(*workflow.REQUIRED_CAPABILITIES))
    assert workflow.PRODA.key("model").choices == workflow.MODELS


def test_mass_balance_residual_one_meaning():
    """g C m-2 yr-1 in steady states and transients alike (a transient step's budget over its length)."""
    assert MASS_BALANCE_RESIDUAL.units == "g m-2 yr-1"
    m = get_model("clm5")
    f = synthetic_forcing(m, 1)
    theta = m.to_physical(np.full(len(m.parameters), 0.5))
    ss = m.steady_state(f, theta)
    tr = m.transient(f, theta, n_years=1, initial="zero")
    for ds in (ss, tr):
        assert ds["mass_balance_residual"].attrs["units"] == "g m-2 yr-1"
    assert tr["mass_balance_residual"].attrs["cell_methods"] == "time: mean"
    assert abs(float(ss["mass_balance_residual"])) < 1e-12 * float(ss["input"])
    # the definition, from the dataset's own budget terms
    total = (tr["cpools"] * m.dz).sum(("pool", "level")).values
    prev = np.concatenate([[0.0], total[:-1]])
    step_years = tr["days"].values / 365.0
    expect = (tr["input"].values - (total - prev) - tr["rh"].sum("pool").values) / step_years
    np.testing.assert_allclose(tr["mass_balance_residual"].values, expect, rtol=0, atol=1e-9)
    v, attrs = mass_balance_residual(10.0, 0.0, 9.0)
    assert v == 1.0 and "cell_methods" not in attrs


def test_bioturbation_has_one_name():
    """COMPAS's 'bio' is CLM5's 'diffus'; the old name is read (namelists, posterior files) with a
    deprecation warning."""
    clm5, compas = get_model("clm5"), get_model("compas")
    assert "diffus" in clm5.parameters.names and "diffus" in compas.parameters.names
    assert "bio" not in compas.parameters.names and compas.parameters.aliases == {"bio": "diffus"}
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert compas.parameters.index("bio") == compas.parameters.index("diffus") == 0
        assert compas.parameters.lookup("BIO") == "diffus"
        v = compas.param_vector({"bio": 2e-4}, warn_prior=False)
    assert v[0] == 2e-4
    assert any(issubclass(x.category, PysocWarning) and "'bio' is now called 'diffus'" in str(x.message) for x in w)
    grp = compas.parameters.namelist_group("parameters", "")
    with pytest.warns(PysocWarning, match="deprecated"):
        assert grp.open_names("bio") == "diffus"             # a namelist &parameters bio = ... still reads


def test_default_model_comes_from_the_registry():
    from pysoc.models import DEFAULT_MODEL, REGISTRY
    assert DEFAULT_MODEL == next(iter(REGISTRY))

"""Site forcing from profile covariates (pysoc.io.site_forcing)."""

import copy
import math
from pathlib import Path

import numpy as np
import pytest

from pysoc.errors import ConfigError, DataError
from pysoc.io import site_forcing as sf
from pysoc.io.profiles import Profile, read_profiles
from pysoc.profiles import interval_means

DATA = Path(__file__).resolve().parent.parent / "pysoc" / "data" / "profiles"


@pytest.fixture(scope="module")
def shipped():
    return read_profiles(DATA / "israd_sites.csv", DATA / "israd_layers.csv")


def _profile(**cov):
    base = {"wc_bio01_mat_degC": 10.0, "wc_bio12_map_mm_yr": 800.0, "pet_mm_yr": 700.0,
            "wc_bio04_t_seasonality_degC_x100": 700.0}
    base.update(cov)
    base = {k: v for k, v in base.items() if v is not None}
    return Profile("T1", 45.0, 10.0, [0.0, 0.2, 0.5], [0.2, 0.5, 1.0], [2e4, 1e4, 5e3], None,
                   covariates=base, meta={"land_cover": "forest"})


# ---- the approximations ---------------------------------------------------------------------
def test_miami_npp():
    # T-limited and P-limited branches of Lieth's (1975) Miami model, x 0.45 g C / g dry matter
    t_lim = 3000.0 / (1.0 + math.exp(1.315 - 0.119 * 0.0))
    assert sf.miami_npp(0.0, 3000.0) == pytest.approx(0.45 * t_lim)
    p_lim = 3000.0 * (1.0 - math.exp(-0.000664 * 300.0))
    assert sf.miami_npp(25.0, 300.0) == pytest.approx(0.45 * p_lim)
    assert 0 < sf.miami_npp(-20.0, 200.0) < sf.miami_npp(10.0, 800.0) < sf.miami_npp(27.0, 3000.0) < 1350.0


def test_temperature_wave():
    amp, how = sf.seasonal_amplitude(bio4=1000.0)
    assert how == "BIO4" and amp == pytest.approx(math.sqrt(2.0) * 10.0)
    # a pure sinusoid of amplitude A has quarter means +-A·sin(pi/4)/(pi/4)
    a2, how2 = sf.seasonal_amplitude(bio10=10.0 + 10.0 * sf.QUARTER_FACTOR, bio11=10.0 - 10.0 * sf.QUARTER_FACTOR)
    assert how2 == "BIO10-BIO11" and a2 == pytest.approx(10.0)
    a3, how3 = sf.seasonal_amplitude(lat=-60.0)
    assert how3 == "latitude rule" and 10.0 < a3 < 25.0 and sf.seasonal_amplitude(lat=0.0)[0] < 1.0
    d = sf.DAMPING_DEPTH
    assert d == pytest.approx(2.24, abs=0.01)
    t = sf.soil_temperature([0.0, d, 3 * d], 5.0, 12.0, 45.0)
    np.testing.assert_allclose(t.mean(axis=0), 5.0, atol=1e-12)             # annual mean = MAT at all depths
    half_range = (t.max(axis=0) - t.min(axis=0)) / 2.0
    assert half_range[0] == pytest.approx(12.0, rel=1e-9)                     # surface: full amplitude
    assert half_range[1] == pytest.approx(12.0 / math.e, rel=0.05)           # damped by e at depth d
    assert np.argmax(t[:, 0]) == 6 and np.argmax(sf.soil_temperature([0.0], 5.0, 12.0, -30.0)[:, 0]) == 0


def test_active_layer_and_water():
    assert sf.active_layer_depth(2.0, 15.0, 8.6) == 8.6                       # no permafrost
    assert sf.active_layer_depth(-5.0, 10.0, 8.6) == pytest.approx(sf.DAMPING_DEPTH * math.log(2.0))
    assert sf.active_layer_depth(-15.0, 10.0, 8.6) == 0.0                     # never thaws
    w = sf.century_wfunc(np.array([0.05, 0.3, 0.6, 1.0, 3.0]))
    assert np.all(np.diff(w) > 0) and w[-1] == pytest.approx(1.0, abs=1e-3) and w[0] < 0.05
    assert sf.holdridge_pet([10.0] * 12) == pytest.approx(589.3)
    assert sf.holdridge_pet([-5.0] * 6 + [40.0] * 6) == pytest.approx(58.93 * 15.0)


def test_forcing_content(clm5):
    p = _profile(bedrock_depth_cm=150.0, obs_sand_0_30cm_percent=35.0)
    ds = sf.site_forcing(clm5, p)
    lit = ds["litter_input"].values
    npp = float(sf.miami_npp(10.0, 800.0))
    assert lit.sum() == pytest.approx(npp)                                     # litter input = NPP
    assert lit[:, 0].sum() == pytest.approx(0.30 * npp)                        # forest CWD share
    np.testing.assert_allclose(lit[:, 1:].sum(axis=0) / lit[:, 1:].sum(), [0.25, 0.5, 0.25])
    assert float(ds["w_scalar"][0, 0]) == pytest.approx(float(sf.century_wfunc(800.0 / 700.0)))
    assert float(ds["altmax"][0]) == pytest.approx(float(clm5.zisoi[-1]))      # MAT > 0: deep
    assert int(ds["nbedrock"]) == 10 and clm5.zisoi[9] >= 1.5 > clm5.zisoi[8]  # layer holding 1.5 m
    assert float(ds["sand"]) == 35.0
    np.testing.assert_allclose(ds["tsoi"].values.mean(axis=0), 283.15, atol=1e-9)
    assert ds.attrs["site_id"] == "T1" and ds.attrs["t_amplitude_method"] == "BIO4"
    # fallbacks: CRU MAT when WorldClim is missing; Holdridge PET when PET is missing
    ds2 = sf.site_forcing(clm5, _profile(wc_bio01_mat_degC=None, cru_mat_degC=-4.0, pet_mm_yr=None,
                                         wc_bio04_t_seasonality_degC_x100=None))
    assert ds2.attrs["mat_covariate"] == "cru_mat_degC" and ds2.attrs["pet_covariate"] == "Holdridge"
    assert ds2.attrs["t_amplitude_method"] == "latitude rule"
    assert 0.0 < float(ds2["altmax"][0]) < float(clm5.zisoi[-1])              # permafrost


def test_missing_covariate_and_batch(clm5, shipped):
    bad = _profile(wc_bio12_map_mm_yr=None)
    with pytest.raises(DataError, match=r"site T1: missing covariate 'wc_bio12_map_mm_yr' \(or cru_map_mm_yr"):
        sf.site_forcing(clm5, bad)
    with pytest.raises(DataError, match="gpp_fluxcom_gC_m2_d"):
        sf.site_forcing(clm5, _profile(), npp="gpp")
    forcings, failures = sf.site_forcings(clm5, [shipped[0], bad, shipped[1]])
    assert [f.attrs["site_id"] for f in forcings] == [shipped[0].site_id, shipped[1].site_id]
    assert failures == [("T1", failures[0][1])] and "wc_bio12_map_mm_yr" in failures[0][1]
    with pytest.raises(ConfigError, match="expected a model object, got M"):
        sf.site_forcing(type("M", (), {"name": "no_such_model"})(), shipped[0])
    with pytest.raises(ConfigError, match=r"pass a model object \(pysoc.models.get_model\('clm5'\)\)"):
        sf.site_forcing("clm5", shipped[0])
    with pytest.raises(ConfigError, match="npp must be"):
        sf.site_forcings(clm5, shipped[:2], npp="casa")


def test_shipped_profiles_steady_state(clm5, shipped):
    """Every shipped profile gives a forcing the CLM5 model accepts and a steady state with
    finite positive SOC under the default parameters; the modelled/observed 0-30 cm ratio is
    printed (a check of the approximations, not a calibration target)."""
    forcings, failures = sf.site_forcings(clm5, shipped)
    assert failures == [] and len(forcings) == len(shipped)
    for f in forcings:
        clm5.validate_forcing(f, source=f.attrs["site_id"])
    theta = np.tile(clm5.param_vector(warn_prior=False), (len(shipped), 1))
    res = clm5.evaluate(clm5.prepare(forcings), theta, observables=("soc_profile", "soc_0_30"),
                        site_index=np.arange(len(shipped)))
    assert np.all(res.status == 0)
    soc = res.outputs["soc_profile"]
    assert np.all(np.isfinite(soc)) and np.all(soc[:, :10] > 0) and np.all(res.outputs["soc_0_30"] > 0)
    ratios = []
    for i, p in enumerate(shipped):   # model vs observation over the observed parts of 0-30 cm
        w = np.clip(np.minimum(p.bottom, 0.3) - p.top, 0.0, None)
        ratios.append((interval_means(soc[i], clm5.bounds, p.bounds) * w).sum() / (p.soc * w).sum())
    med = float(np.median(ratios))
    print(f"\nmedian modelled/observed SOC 0-30 cm (CLM5 defaults, {len(shipped)} ISRaD profiles): {med:.2f}")
    assert 0.1 < med < 10.0                  # right order of magnitude: units and inputs are consistent


def test_compas_same_format(shipped):
    from pysoc.models import get_model
    try:
        compas = get_model("compas")
    except ConfigError:
        pytest.skip("COMPAS not built")
    ds = sf.site_forcing(compas, shipped[0])
    compas.validate_forcing(ds, source="compas site forcing")
    assert ds.sizes["level"] == compas.zsoi.size


def test_profile_not_mutated(clm5, shipped):
    p = shipped[0]
    before = copy.deepcopy(p.covariates)
    sf.site_forcing(clm5, p)
    assert p.covariates == before


def test_builders_are_model_methods(clm5, shipped):
    """The per-model builders are the models' ``site_forcing`` capability: io keeps no registry
    of models and imports none; a model without the capability is refused in one line."""
    from pysoc.models import get_model, model_class, models_with
    assert not hasattr(sf, "BUILDERS")
    ds = sf.site_forcing(clm5, shipped[0])
    assert ds.identical(clm5.site_forcing(shipped[0]))
    assert "clm5" in models_with("site_forcing") and not model_class("century").provides("site_forcing")
    with pytest.raises(ConfigError, match="model 'century' does not provide site_forcing"):
        sf.site_forcing(get_model("century"), shipped[0])
    mim = get_model("mimics")
    assert "site_forcing" in mim.capabilities
    m = sf.site_forcing(mim, shipped[0])
    mim.validate_forcing(m, source="mimics site forcing")
    assert m.attrs["site_id"] == shipped[0].site_id

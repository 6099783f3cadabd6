"""CENTURY kernel: regression targets (models.md §6.5), mass balance, spin-up agreement,
check values of century_production.md §14, behaviour and bad input."""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from conftest import DATA
from pysoc import _status
from pysoc._kernels import century as K
from pysoc._kernels import century_probes as P   # test-only entry points of single components
from pysoc.errors import ConfigError, DataError, KernelError, ParameterError
from pysoc.models import get_model
from pysoc.models import century as C
from pysoc.params import OutsidePriorWarning

FORCING = Path(C.__file__).resolve().parent.parent / "data" / "century" / "haibei_forcing.nc"
INPUTS = np.array([90.0, 60.0, 70.0, 80.0, 0, 0, 0, 0, 0])  # g C m-2 yr-1 (models.md §6.5)
STRLIG = np.array([0.25, 0.20])


@pytest.fixture(scope="module")
def model():
    return get_model("century")


@pytest.fixture(scope="module")
def forcing(model):
    return model.load_forcing(FORCING)


def site_vector(sand=0.4, clay=0.2):
    # lat, elev, sand, clay, bulkd, ph, somsc, drain, fracro, precro, stormf, basef, senm
    return np.array([40.0, 0.0, sand, clay, 1.2, 7.0, 5000.0, 1.0, 0.15, 8.0, 0.6, 0.3, 10.0])


def read_century8():
    """{(rate set, defac): (8 pools, total)} from the regression file."""
    out, key = {}, None
    for line in (DATA / "century" / "century8_linear_steadystate.txt").read_text().splitlines():
        if line.startswith("Parton1987") or line.startswith("lapig"):
            key = ("parton1987" if line.startswith("Parton") else "century45_lapig",
                   float(line.split("defac")[1].split()[0]))
        elif "X(gC/m2)=" in line:
            v = line.split("=")[1].split()
            out[key] = (np.array(v[:8], float), float(line.split("all")[1]))
    return out


def theta_of(model, name):
    return model.parameters.vector(name)


# ---- regression: 8-pool linear steady states ----------------------------------------------------------
@pytest.mark.parametrize("key", [("parton1987", 1.0), ("parton1987", 0.5), ("century45_lapig", 1.0),
                                 ("century45_lapig", 0.5)])
def test_century8_matrix_steady_state(model, key):
    """§6.5/6.6: all 8 pools to <= 1e-6 relative (file printed to 1e-6 absolute), surface SOM2 off."""
    ref, total = read_century8()[key]
    opt = get_model("century", surface_som2=False).opt_vector()
    th = theta_of(model, key[0])
    x, status = P.som_steady_batch(th[:, None], site_vector(), opt, np.array([key[1]]), np.ones(1),
                                   STRLIG[:, None], INPUTS[:, None])
    assert status[0] == _status.OK
    np.testing.assert_allclose(x[:8, 0], ref, rtol=1e-6)
    assert x[8, 0] == 0.0
    assert abs(x[:8, 0].sum() - total) <= 1e-6 * total


@pytest.mark.parametrize("key", [("parton1987", 1.0), ("century45_lapig", 0.5)])
def test_century8_long_time_stepping(model, key):
    """The same steady states reached by monthly explicit stepping (NTSPM = 4) from empty
    pools, inputs spread over the sub-steps (whose fixed point is exactly -(AK)^-1 I)."""
    ref, _ = read_century8()[key]
    opt = get_model("century", surface_som2=False).opt_vector()
    ny = 40000
    nm = 12 * ny
    x, co2, status = P.som_run(theta_of(model, key[0]), site_vector(), opt, np.full(nm, key[1]), np.ones(nm),
                               STRLIG, np.tile(INPUTS[:, None] / 12.0, (1, nm)), 1, np.zeros(9))
    assert status == _status.OK
    np.testing.assert_allclose(x[:8, -1], ref, rtol=1e-6)
    # annual respiration equals the annual input at steady state
    assert abs(co2[-12:].sum() - INPUTS.sum()) < 1e-6 * INPUTS.sum()


def test_defac_halving_doubles_every_pool(model):
    """§0.6 linear scaling: halving defac doubles every steady-state pool (also 9 pools)."""
    for surf2 in (False, True):
        opt = get_model("century", surface_som2=surf2).opt_vector()
        th = np.tile(theta_of(model, "meadow")[:, None], (1, 2))
        x, status = P.som_steady_batch(np.asfortranarray(th), site_vector(), opt, np.array([1.0, 0.5]),
                                       np.ones(2), np.tile(STRLIG[:, None], (1, 2)), np.tile(INPUTS[:, None], (1, 2)))
        assert (status == 0).all()
        np.testing.assert_allclose(x[:, 1], 2 * x[:, 0], rtol=1e-12)
        assert (x[8, 0] > 0) == surf2


def test_surface_som2_flows_conserve_and_route(model):
    """Columns of the 9-pool A K: total outflow = CO2 + transfers; surface SOM2 feeds surface
    SOM1 and soil SOM2 (DayCent layout); surface structural lignin and surface SOM1 go to
    surface SOM2."""
    opt = model.opt_vector()
    th = theta_of(model, "meadow")
    ak, k, status = P.som_matrix(th, site_vector(), opt, 0.7, 1.0, STRLIG)
    assert status == 0
    assert (ak.sum(axis=0) <= 1e-15).all()          # respiration >= 0 from every pool
    assert ak[8, 0] > 0 and ak[8, 4] > 0 and ak[6, 0] == 0 and ak[6, 4] == 0
    assert ak[4, 8] > 0 and ak[6, 8] > 0 and ak[7, 8] == 0
    # surface SOM2 decomposition respires P2CO2(1) of its decomposition flow, mixing none
    dec = th[C._IDX["DEC5(1)"]] * 0.7
    mix = th[C._IDX["CMIX"]] * 0.7
    assert np.isclose(-ak[:, 8].sum(), dec * th[C._IDX["P2CO2(1)"]], rtol=1e-12)
    assert np.isclose(ak[6, 8], mix, rtol=1e-12)


def test_soilr_parton1987_matrix_and_steady_state():
    """SoilR CenturyModel example (§6.5): A matrix and steady state to printed precision."""
    text = (DATA / "century" / "soilr_centurymodel_example_steadystate.txt").read_text().splitlines()
    a, u = C.parton1987_matrix(ln=0.5, ls=0.1, clay=0.2, silt=0.45, surface_in=345 / 795, soil_in=450 / 795)
    rows = [ln for ln in text if re.match(r"^\[\d+,\]", ln.strip())]
    vals = [[float(v) for v in ln.split("]", 1)[1].split()] for ln in rows]
    ref_a = np.hstack([np.array(vals[:7]), np.array(vals[7:])])
    np.testing.assert_allclose(a, ref_a, rtol=1e-12, atol=1e-17)
    ss_lines = text[text.index(next(t for t in text if t.startswith("steady state"))) + 1:]
    ref_x = np.array([float(v) for ln in ss_lines[:2] for v in ln.split("]", 1)[1].split()])
    x = C.linear_steady_state(a, u)
    np.testing.assert_allclose(x, ref_x, rtol=1e-12)


# ---- check values of century_production.md §14 -------------------------------------------------
def test_production_check_values():
    sw, dl = P.radiation(37.6)
    assert round(sw[6]) == 1013 and round(sw[0]) == 410
    assert round(P.radiation(40.0)[0][6]) == 1011
    assert abs(dl[6] - 14.44) < 0.01 and abs(dl[0] - 9.57) < 0.01
    assert abs(P.pet_month(20.0, 5.0, 7, 37.6, 0.0, 0.0, 0.0, 0.8, 0) - 12.16) < 0.01
    tx = np.array([-8, -5, 1, 7, 12, 16, 18, 17, 13, 6, -2, -6.0])
    tn = np.array([-22, -19, -13, -7, -2, 2, 5, 4, -1, -8, -16, -21.0])
    tm = (tx + tn) / 2
    assert abs(P.pet_month(18.0, 5.0, 7, 37.6, 0.0, tm.max(), tm.min(), 0.9, 1) - 9.68) < 0.01
    assert abs(P.pet_month(18.0, 5.0, 7, 37.6, 3200.0, tm.max(), tm.min(), 0.9, 1) - 22.5) < 0.05
    np.testing.assert_allclose(P.gpdf_curve(np.array([-5, 0, 5, 10, 15, 20, 25, 30.0]), 15, 32, 1, 3.5),
                               [0.038, 0.183, 0.500, 0.851, 1.000, 0.863, 0.541, 0.157], atol=6e-4)
    # (exact values 0.49946 and 0.97746; the spec rounds them to 0.500 and 0.978)
    np.testing.assert_allclose(P.gpdf_curve(np.array([10, 20, 25, 30, 32.0]), 30, 45, 1, 2.5),
                               [0.125, 0.592, 0.875, 1.000, 0.978], atol=6e-4)
    np.testing.assert_allclose(P.gpdf_curve(np.array([10, 20, 30.0]), 18, 35, 1.2, 3.0),
                               [0.664, 0.975, 0.340], atol=6e-4)
    for bio, (txs, tns, ct) in {0: (32.81, 3.22, 18.02), 100: (27.78, 3.62, 15.70), 300: (21.74, 4.42, 13.08),
                                600: (17.87, 5.62, 11.75)}.items():
        r = P.surface_temperature(18.0, 5.0, bio, -0.0035, 0.004, dl[6])
        np.testing.assert_allclose(r[:3], (txs, tns, ct), atol=0.006)
    assert abs(P.surface_temperature(18.0, 5.0, 300, -0.0035, 0.004, dl[6])[3] - 15.19) < 0.01
    thfc, thwp = K.water_props(1, 0.40, 0.25, 1.2, 5000.0)
    assert abs(thfc[0] - 0.366) < 5e-4 and abs(thwp[0] - 0.222) < 5e-4
    wc = thfc[0] - thwp[0]
    for x, h in [(0.2, 0.085), (0.4, 0.390), (0.6, 0.695), (0.8, 1.0), (1.5, 1.0)]:
        assert abs(P.scalars(x, 1.0, 20.0, 0.0, 1.0, 0.8, 0.144, 15.4, 11.75, 29.7, 0.031)[0] - h) < 1e-3
    for r, w in [(0.2, 0.154), (0.4, 0.500), (0.6, 0.845), (1.0, 0.994)]:
        assert abs(P.scalars(0.5, r, 20.0, 0, 1, 0.8, wc, 15.4, 11.75, 29.7, 0.031)[1] - w) < 1e-3
    # residue split: standing dead C/N 37, P_ann 40 cm -> metabolic 0.77 (§9.6)
    fm, ls = P.residue_split(0.02 + 0.0012 * 40, 37.0, 0.85, 0.013)
    assert abs(fm - 0.77) < 0.005 and abs(ls - 0.068 / (1 - fm)) < 1e-3


def test_tcalc_uses_the_shared_century_tfunc():
    t = np.linspace(-30, 45, 16)
    ref = P.tfunc_default(t)
    got = [P.scalars(0.5, 1.0, v, 0, 1, 0.8, 0.1, 15.4, 11.75, 29.7, 0.031)[2] for v in t]
    np.testing.assert_allclose(got, ref, rtol=1e-14)
    assert np.all(np.diff(ref) >= 0) and ref.min() >= 0.01


# ---- full model: conservation, spin-up ------------------------------------------------------------------
def test_mass_and_water_balance_every_month(model, forcing):
    """NPP = Δ(plant + litter + SOM) + Rh (+ leaching) every month to round-off, from empty
    pools (large transients) and with organic leaching on; water closes too."""
    for opts in ({}, {"organic_leaching": True, "surface_som2": False}):
        m = get_model("century", **opts)
        ds = m.transient(forcing, initial="zero", n_years=None)
        tot = float(np.abs(ds["total_carbon"]).max())
        assert ds["mass_balance_residual"].attrs["units"] == "g m-2 yr-1"      # a rate: x 1/12 yr = the month
        assert float(np.abs(ds["mass_balance_residual"] / 12.0).max()) <= 1e-12 * max(tot, 1.0) * 10
        assert float(ds["npp"].sum()) > 0 and float(ds["rh"].sum()) > 0
    prep = model.prepare(forcing)
    th = np.asfortranarray(model.parameters.vector()[:, None])
    st0, _ = model.initial_state(prep, th, np.ones(1, np.int32))
    states, out, status = model.run_kernel(prep, th, np.ones(1, np.int32), st0)
    water = lambda s: s[14] + s[15] + s[16:21].sum(axis=0)  # noqa: E731
    w = np.concatenate([[water(st0[:, 0])], water(states[:, :, 0])])
    resid = np.diff(w) - (prep["prec"][:, 0] - out[7, :, 0] - out[19, :, 0])
    assert np.abs(resid).max() < 1e-11


def test_fast_spinup_matches_classic(model, forcing):
    """Fast (matrix) spin-up vs classic repetition run to stability: total SOC within 0.1 %
    (in practice ~1e-6), with far fewer simulated years."""
    prep = model.prepare(forcing)
    th = np.asfortranarray(model.parameters.vector()[:, None])
    idx = np.ones(1, np.int32)
    st0, _ = model.initial_state(prep, th, idx)
    fast, nper, s1 = model.spinup(prep, th, idx, st0, "fast")
    classic = get_model("century", spinup_years=100000, spinup_tol=1e-10)
    slow, nyr, s2 = classic.spinup(prep, th, idx, st0, "classic")
    assert s1[0] == 0 and s2[0] == 0
    soc_f, soc_c = fast[5:8, 0].sum(), slow[5:8, 0].sum()
    assert abs(soc_f / soc_c - 1) < 1e-3
    assert abs(fast[:12, 0].sum() / slow[:12, 0].sum() - 1) < 1e-3
    assert nyr[0] > 100 * nper[0]
    # the spun-up state is periodic: one more period changes no pool
    states, out, _ = model.run_kernel(prep, th, idx, fast, spinup_climate=True)
    assert abs(states[:12, -1, 0].sum() / fast[:12, 0].sum() - 1) < 1e-5
    assert abs(out[2, :, 0].sum()) < 1e-3 * out[0, :, 0].sum()   # annual NEP ~ 0 at steady state


def test_transient_outputs_labelled(model, forcing):
    ds = model.transient(forcing)
    assert ds.sizes["time"] == forcing.sizes["time"] == 48 and list(ds["pool"].values) == list(C.POOLS)
    np.testing.assert_allclose(ds["nep"], ds["npp"] - ds["rh"], rtol=0, atol=1e-12)
    assert ds["cpools"].attrs["units"] == "g m-2" and ds["soc_0_30"].attrs["units"] == "kg m-2"   # UDUNITS
    np.testing.assert_allclose(ds["soc_0_30"], ds["cpools"].sel(pool=list(model.soc_pools)).sum("pool") / 1000)
    assert "date" in ds.coords and str(ds["date"].values[0])[:7] == "2002-01"


def test_evaluate_batched_equals_single(model, forcing):
    rng = np.random.default_rng(1)
    kp = np.full((6, len(model.parameters)), np.nan)
    base = model.parameters.kp_vector("meadow")
    kp[:] = base
    ic = [model.parameters.index(n) for n in C.CALIBRATED]
    kp[:, ic] = rng.uniform(0, 1, (6, len(ic)))
    theta = model.to_physical(kp)
    res = model.evaluate(forcing, theta)
    assert (res.status == 0).all()
    for i in (0, 5):
        one = model.evaluate(forcing, theta[i])
        np.testing.assert_array_equal(one.outputs["nep_monthly"][0], res.outputs["nep_monthly"][i])
        assert one.outputs["soc_0_30"][0] == res.outputs["soc_0_30"][i]
    assert res.outputs["nep_monthly"].shape == (6, 48) and res.outputs["soc_profile"].shape == (6, 1)


def test_detrended_spinup_period(model, forcing):
    """with_spinup_period: per-calendar-month linear detrending that keeps the period mean."""
    t = np.arange(forcing.sizes["time"])
    ds = forcing.copy()
    ds["tmax"] = ("time", forcing["tmax"].values + 0.1 * t / 12, forcing["tmax"].attrs)
    ds["tmin"] = ("time", forcing["tmin"].values + 0.1 * t / 12, forcing["tmin"].attrs)
    sp = model.with_spinup_period(ds, 0, 3)
    v = sp["tmax_spinup"].values.reshape(3, 12)
    np.testing.assert_allclose(v.mean(axis=0), ds["tmax"].values[:36].reshape(3, 12).mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(np.polyfit(np.arange(3), v, 1)[0], 0.0, atol=1e-12)   # no trend in any month
    np.testing.assert_allclose(sp["prec_spinup"].values.reshape(3, 12).sum(0),
                               forcing["prec"].values[:36].reshape(3, 12).sum(0), rtol=1e-12)
    assert model.steady_state(model.validate_forcing(sp))["status"] == 0
    with pytest.raises(ConfigError, match="not within"):
        model.with_spinup_period(forcing, 2, 5)        # years 2..6 of a 4-year forcing


# ---- behaviour -----------------------------------------------------------------------------------------
def _clim(model, forcing, dT=0.0, pfac=1.0, **site):
    tx, tn, pr = (forcing[k + "_spinup"].values for k in ("tmax", "tmin", "prec"))
    return model.forcing_dataset(np.tile(tx + dT, 2), np.tile(tn + dT, 2), np.tile(pr * pfac, 2),
                                 float(forcing["latitude"]), float(forcing["sand"]), float(forcing["clay"]),
                                 float(forcing["bulk_density"]), soil_om_c=float(forcing["soil_om_c"]), **site)


def test_warmer_decomposes_faster(model, forcing):
    ak1, k1, _ = P.som_matrix(model.parameters.vector(), site_vector(), model.opt_vector(), 0.3, 1.0, STRLIG)
    f = [P.scalars(0.5, 1.0, t, 0, 1, 0.8, 0.1, 15.4, 11.75, 29.7, 0.031)[2] for t in (0.0, 5.0, 10.0)]
    assert f[0] < f[1] < f[2]
    cold, warm = (model.steady_state(_clim(model, forcing, dT)) for dT in (0.0, 2.0))
    # turnover rate of soil SOM (Rh from soil pools is not separated; use defac and Rh/SOC)
    assert float(warm["defac"].mean()) > float(cold["defac"].mean())
    assert float(warm["rh"].sum() / warm["soc_0_30"].mean()) > float(cold["rh"].sum() / cold["soc_0_30"].mean())


def test_no_production_when_too_cold_or_too_hot(model, forcing):
    tx, tn, pr = (forcing[k].values[:12] for k in ("tmax", "tmin", "prec"))
    cold = model.forcing_dataset(np.minimum(tx, -1.0) - 5, np.minimum(tn, -2.0) - 5, pr, 37.6, 0.485, 0.075, 1.0)
    ds = model.transient(cold, initial="zero", n_years=3)
    assert float(ds["npp"].max()) == 0.0 and float(ds["stemp"].max()) <= 0.0
    assert P.gpdf_curve(np.array([37.0, 40.0, 60.0]), 18.0, 37.0, 1.0, 3.0).max() == 0.0
    hot = model.transient(model.forcing_dataset(tx * 0 + 58, tn * 0 + 50, pr, 37.6, 0.485, 0.075, 1.0),
                          initial="zero", n_years=2)
    assert float(hot["ctemp"].min()) > 37.0 and float(hot["npp"].max()) == 0.0


def test_drought_lowers_npp(model, forcing):
    wet, dry = (model.steady_state(_clim(model, forcing, pfac=f)) for f in (1.0, 0.4))
    assert float(dry["npp"].sum()) < 0.9 * float(wet["npp"].sum())
    assert float(dry["h2ogef"].mean()) < float(wet["h2ogef"].mean())


def test_pools_never_negative_over_prior(model, forcing):
    rng = np.random.default_rng(7)
    kp = np.tile(model.parameters.kp_vector("meadow"), (40, 1))
    ic = [model.parameters.index(n) for n in C.CALIBRATED]
    kp[:, ic] = rng.uniform(0, 1, (40, len(ic)))
    theta = model.to_physical(kp)
    prep = model.prepare(forcing)
    th = np.asfortranarray(theta.T)
    idx = np.ones(40, np.int32)
    st0, _ = model.initial_state(prep, th, idx)
    st, _, s = model.spinup(prep, th, idx, st0)
    states, out, s3 = model.run_kernel(prep, th, idx, st)
    # a few prior draws have no steady state (invalid: structural litter above STRMAX) or no
    # periodic fixed point (not converged); the rest run, and no pool is ever negative
    assert set(np.unique(s)) <= {_status.OK, _status.ERR_INVALID, _status.ERR_NOT_CONVERGED}
    assert (s == 0).mean() >= 0.9 and (np.asarray(s3) == 0).all()
    assert states.min() >= 0.0 and out[0].min() >= 0.0 and out[1].min() >= 0.0


def test_no_steady_state_is_reported(model, forcing):
    """Structural litter input above the STRMAX-capped decomposition: no steady state exists;
    the fast spin-up says so (invalid) instead of returning numbers."""
    th = model.parameters.vector(overrides={"STRMAX(2)": 20.0})
    res = model.evaluate(forcing, th)
    assert res.status[0] == _status.ERR_INVALID
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutsidePriorWarning)
        with pytest.raises(KernelError, match="no steady state: structural litter grows above STRMAX"):
            model.steady_state(forcing, th)


# ---- parameters and presets -------------------------------------------------------------------------
def test_seed000_parameter_table(model):
    t = model.parameters
    assert t.names[:24] == C.CALIBRATED
    table1 = {"PRDX(1)": (0.5, 0.3, 1), "PPDF(1)": (18, 10, 25), "PPDF(2)": (37, 25, 50), "PPDF(3)": (1, 0.5, 1.5),
              "PPDF(4)": (3, 2, 5), "PPRPTS(3)": (0.8, 0.7, 0.9), "FSDETH(1)": (0.2, 0.1, 0.25),
              "FALLRT": (0.15, 0.1, 0.25), "RDR": (0.2, 0.1, 0.25), "DEC3(1)": (6, 5, 8), "DEC3(2)": (7.3, 6, 10),
              "DEC4": (0.0066, 0.004, 0.008), "DEC5(1)": (0.2, 0.1, 0.3), "DEC5(2)": (0.2, 0.1, 0.3),
              "TEFF(1)": (15.4, 10, 20), "TEFF(2)": (11.75, 5, 15), "TEFF(3)": (29.7, 25, 35),
              "P1CO2A(1)": (0.6, 0.4, 0.8), "P1CO2A(2)": (0.17, 0.15, 0.19), "P1CO2B(1)": (0, 0, 0.2),
              "P1CO2B(2)": (0.68, 0.6, 0.75), "P2CO2(1)": (0.55, 0.5, 0.6), "P2CO2(2)": (0.55, 0.5, 0.6),
              "P3CO2": (0.55, 0.5, 0.6)}
    for name, (d, lo, hi) in table1.items():
        s = t[name]
        assert (s.default, s.prior_min, s.prior_max) == (d, lo, hi), name
    steppe = t.vector("steppe")
    assert [steppe[t.index(n)] for n in ("PPDF(1)", "PPDF(2)", "PPDF(4)")] == [16.0, 31.0, 3.5]
    assert np.array_equal(t.vector("meadow"), t.defaults)
    opt2 = t.vector("meadow_opt2")               # Table 1 M_Opt2 posterior means
    assert opt2[t.index("PRDX(1)")] == 0.44 and opt2[t.index("PPDF(2)")] == 42.44
    assert t.vector("steppe_opt1")[t.index("DEC3(2)")] == 7.79
    n = K.layout()
    assert n == (len(t), C.NSTATE, C.NOUT, C.NSITEV, C.NOPT, C.NPOOL)


# ---- bad input ------------------------------------------------------------------------------------------
def _write(ds, tmp_path, name="f.nc"):
    p = tmp_path / name
    ds.to_netcdf(p)
    return p


def test_bad_forcing_files(model, forcing, tmp_path):
    raw = xr.open_dataset(FORCING).load()
    with pytest.raises(DataError, match="missing or repeated month"):
        model.load_forcing(_write(raw.drop_isel(time=[5]).isel(time=slice(0, 24)), tmp_path, "gap.nc"))
    with pytest.raises(DataError, match="35 months"):
        model.load_forcing(_write(raw.isel(time=slice(0, 35)), tmp_path, "short.nc"))
    bad = raw.copy(deep=True)
    bad["tmin"][3] = float(bad["tmax"][3]) + 1
    with pytest.raises(DataError, match=r"'tmin' exceeds 'tmax'.*time index 3"):
        model.load_forcing(_write(bad, tmp_path, "tmin.nc"))
    bad = raw.copy(deep=True)
    bad["prec"][7] = -1.0
    with pytest.raises(DataError, match=r"variable 'prec': minimum -1 below the valid range"):
        model.load_forcing(_write(bad, tmp_path, "prec.nc"))
    with pytest.raises(DataError, match="missing variable 'tmax'"):
        model.load_forcing(_write(raw.drop_vars("tmax"), tmp_path, "notmax.nc"))
    bad = raw.copy(deep=True)
    bad["clay"] = bad["clay"] * 0 + 0.7
    with pytest.raises(DataError, match="'sand' \\+ 'clay'"):
        model.load_forcing(_write(bad, tmp_path, "tex.nc"))
    with pytest.raises(DataError, match="spinup_time"):
        model.load_forcing(_write(raw.isel(spinup_time=slice(0, 11)), tmp_path, "sp.nc"))


def test_bad_parameters(model, forcing):
    with pytest.raises(ParameterError, match=r"RDR = 1.5 is outside its physical domain \[0, 1\]"):
        model.transient(forcing, {"RDR": 1.5})
    with pytest.raises(ParameterError, match=r"PPDF\(2\) = 15 must exceed PPDF\(1\) = 18"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OutsidePriorWarning)
            model.steady_state(forcing, {"PPDF(2)": 15.0})
    with pytest.warns(OutsidePriorWarning, match="DEC4"):
        model.steady_state(forcing, {"DEC4": 0.01})
    with pytest.raises(ParameterError, match="unknown parameter"):
        model.parameters.vector(overrides={"DEC9": 1.0})
    with pytest.raises(ConfigError, match="unknown option"):
        get_model("century", ntspm_bad=3)
    # batched evaluation never raises: a bad vector gets a status, the others run
    th = np.tile(model.parameters.vector(), (2, 1))
    th[1, model.parameters.index("PPDF(2)")] = 10.0
    res = model.evaluate(forcing, th)
    assert res.status[0] == 0 and res.status[1] == _status.ERR_PARAM


def test_shipped_namelist_runs(tmp_path):
    """namelists/century_site.nml runs out of the box through pysoc-run."""
    from pysoc.cli.run import main
    nml = Path(__file__).resolve().parent.parent / "namelists" / "century_site.nml"
    text = nml.read_text().replace("../output/century_site.nc", str(tmp_path / "out.nc"))
    p = tmp_path / "c.nml"
    p.write_text(text)
    assert main([str(p)]) == 0
    ds = xr.open_dataset(tmp_path / "out.nc")
    assert ds.attrs["model"] == "century" and "nep" in ds and ds.sizes["time"] == 48

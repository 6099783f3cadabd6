"""Profile tables (pysoc.io.profiles), the ISRaD converter (pysoc.io.israd) and the shipped
ISRaD subset (pysoc/data/profiles)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import SHARED, requires_shared
from pysoc.errors import DataError
from pysoc.io.israd import convert_israd, profile_id
from pysoc.io.profiles import (Profile, pedotransfer_bd, profiles_to_tables, read_profiles, select, soc_density,
                               write_profiles)

DATA = Path(__file__).resolve().parent.parent / "pysoc" / "data" / "profiles"
SITES, LAYERS = DATA / "israd_sites.csv", DATA / "israd_layers.csv"


@pytest.fixture(scope="module")
def shipped():
    return read_profiles(SITES, LAYERS)


def write_tables(tmp_path, sites: str, layers: str):
    s, l = tmp_path / "sites.csv", tmp_path / "layers.csv"
    s.write_text(sites)
    l.write_text(layers)
    return s, l


GOOD_SITES = "site_id,lat,lon,doi,wc_bio01_mat_degC\nA,10,20,10.1/x,12.5\nB,-5,100,,\n"
GOOD_LAYERS = ("site_id,top_cm,bottom_cm,soc_percent,bd_g_cm3,coarse_percent,d14c_permil\n"
               "A,0,10,2.0,1.2,10,50\nA,10,30,1.0,,,\nA,30,60,0.5,1.5,0,-200\n"
               "B,0,20,3.0,1.0,,\nB,20,40,1.0,1.3,,\n")


# ---- observation operator ---------------------------------------------------------------------
def test_pedotransfer_formula():
    # BD = 0.32 + 1.30 exp(-0.0089 * 1.724 * SOC%)  (spec methods.md §1)
    assert pedotransfer_bd(0.0) == pytest.approx(1.62)
    assert pedotransfer_bd(2.0) == pytest.approx(0.32 + 1.30 * np.exp(-0.0089 * 3.448), rel=1e-12)
    assert pedotransfer_bd(58.0) == pytest.approx(0.32 + 1.30 * np.exp(-0.0089 * 99.992), rel=1e-12)
    assert np.all(np.diff(pedotransfer_bd(np.linspace(0, 50, 11))) < 0)   # BD falls with organic matter


def test_soc_density_operator():
    # 2 % C, BD 1.2 g cm-3, 10 % coarse -> 0.02 * 1.2e6 * 0.9 g C m-3
    assert soc_density(2.0, 1.2, 10.0) == pytest.approx(21600.0)
    assert soc_density(1.0, 1.0) == pytest.approx(10000.0)


def test_reader_applies_pedotransfer_and_flags(tmp_path):
    s, l = write_tables(tmp_path, GOOD_SITES, GOOD_LAYERS)
    a, b = read_profiles(s, l)
    assert a.site_id == "A" and b.site_id == "B"
    np.testing.assert_allclose(a.top, [0.0, 0.1, 0.3])
    np.testing.assert_allclose(a.bottom, [0.1, 0.3, 0.6])
    bd_pt = pedotransfer_bd(1.0)
    np.testing.assert_allclose(a.soc, [0.02 * 1.2e6 * 0.9, 0.01 * bd_pt * 1e6, 0.005 * 1.5e6])
    np.testing.assert_array_equal(a.meta["bd_pedotransfer"], [False, True, False])
    np.testing.assert_array_equal(a.meta["coarse_default"], [False, True, False])
    assert a.meta["bd_g_cm3"][1] == pytest.approx(bd_pt)
    np.testing.assert_array_equal(np.isnan(a.d14c), [False, True, False])
    assert b.d14c is None                                   # no radiocarbon at all
    assert a.covariates == {"wc_bio01_mat_degC": 12.5}
    assert np.isnan(b.covariates["wc_bio01_mat_degC"])      # NaN = covariate not available
    assert a.meta["doi"] == "10.1/x" and b.meta["doi"] is None
    # stock 0-30 cm: 0.1 m * 21600 + 0.2 m * soc[1]
    assert a.stock(0.0, 0.3) == pytest.approx(0.1 * a.soc[0] + 0.2 * a.soc[1])
    assert np.isnan(b.stock(0.0, 0.6))                      # only 40 of 60 cm observed


def test_round_trip_shipped(tmp_path, shipped):
    s, l = tmp_path / "s.csv", tmp_path / "l.csv"
    write_profiles(shipped, s, l)
    again = read_profiles(s, l)
    assert [p.site_id for p in again] == [p.site_id for p in shipped]
    for p, q in zip(shipped, again):
        np.testing.assert_allclose(q.top, p.top, rtol=0, atol=1e-9)
        np.testing.assert_allclose(q.bottom, p.bottom, rtol=0, atol=1e-9)
        np.testing.assert_allclose(q.soc, p.soc, rtol=1e-5)
        assert (p.d14c is None) == (q.d14c is None)
        if p.d14c is not None:
            np.testing.assert_allclose(q.d14c, p.d14c, rtol=1e-5)
        np.testing.assert_array_equal(q.meta["bd_pedotransfer"], p.meta["bd_pedotransfer"])
        np.testing.assert_array_equal(q.meta["coarse_default"], p.meta["coarse_default"])
        assert q.covariates.keys() == p.covariates.keys()
        np.testing.assert_allclose(list(q.covariates.values()), list(p.covariates.values()), rtol=1e-5)
        assert q.meta["entry_name"] == p.meta["entry_name"] and q.meta["doi"] == p.meta["doi"]
        assert (q.lat, q.lon) == pytest.approx((p.lat, p.lon))


def test_round_trip_density_only(tmp_path):
    p = Profile("X1", 45.0, 7.5, top=[0.0, 0.2, 0.5], bottom=[0.2, 0.5, 1.0], soc=[2.0e4, 8.0e3, 3.0e3],
                d14c=None, covariates={"mat_degC": 8.0}, meta={"doi": "10.5/y"})
    sites, layers = profiles_to_tables([p])
    assert list(layers["soc_density_g_m3"]) == [2.0e4, 8.0e3, 3.0e3]
    assert layers["soc_percent"].isna().all()
    s, l = tmp_path / "s.csv", tmp_path / "l.csv"
    write_profiles([p], s, l)
    (q,) = read_profiles(s, l)
    np.testing.assert_allclose(q.soc, p.soc)
    np.testing.assert_allclose(q.bottom, p.bottom)
    assert q.covariates == {"mat_degC": 8.0} and q.meta["doi"] == "10.5/y"


# ---- selection ------------------------------------------------------------------------------
def _p(sid, bottoms):
    b = np.asarray(bottoms, float)
    return Profile(sid, 0.0, 0.0, np.concatenate([[0.0], b[:-1]]), b, np.full(b.size, 1e4), None)


def test_select_rules():
    ps = [_p("two", [0.3, 0.8]), _p("shallow", [0.1, 0.3, 0.5]), _p("ok", [0.1, 0.3, 0.51]),
          _p("deep", [0.2, 0.4, 0.6, 1.0])]
    kept = select(ps)
    assert [p.site_id for p in kept] == ["ok", "deep"]
    reasons = dict(kept.removed)
    assert set(reasons) == {"two", "shallow"}
    assert reasons["two"].startswith("fewer than 3 layers")
    assert reasons["shallow"].startswith("max depth <= 50 cm")
    assert "removed 2" in kept.summary()
    assert [p.site_id for p in select(ps, min_layers=2, min_depth=0.3)] == ["two", "shallow", "ok", "deep"]


# ---- bad input: one line naming file, column and line -----------------------------------------
BAD = [
    ("missing column", GOOD_SITES, GOOD_LAYERS.replace("bottom_cm", "bot"), ["layers.csv", "'bottom_cm'"]),
    ("missing site column", GOOD_SITES.replace("lat,", "la,"), GOOD_LAYERS, ["sites.csv", "'lat'"]),
    ("NaN in required", GOOD_SITES, GOOD_LAYERS.replace("A,10,30,1.0,,,", "A,10,,1.0,,,"),
     ["layers.csv", "'bottom_cm'", "line 3", "NaN"]),
    ("NaN lat", GOOD_SITES.replace("B,-5,", "B,,"), GOOD_LAYERS, ["sites.csv", "'lat'", "line 3"]),
    ("no SOC", GOOD_SITES, GOOD_LAYERS.replace("A,30,60,0.5,", "A,30,60,,"), ["layers.csv", "'soc_percent'", "line 4"]),
    ("overlap", GOOD_SITES, GOOD_LAYERS.replace("A,30,60", "A,25,60"), ["layers.csv", "'top_cm'", "line 4", "overlaps"]),
    ("unsorted", GOOD_SITES, GOOD_LAYERS.replace("A,0,10,2.0,1.2,10,50\nA,10,30,1.0,,,",
                                                 "A,10,30,1.0,,,\nA,0,10,2.0,1.2,10,50"),
     ["layers.csv", "'top_cm'", "line 3", "not sorted"]),
    ("negative depth", GOOD_SITES, GOOD_LAYERS.replace("B,0,20", "B,-5,20"), ["layers.csv", "'top_cm'", "line 5"]),
    ("negative SOC", GOOD_SITES, GOOD_LAYERS.replace("B,20,40,1.0", "B,20,40,-1.0"),
     ["layers.csv", "'soc_percent'", "line 6"]),
    ("BD in kg m-3", GOOD_SITES, GOOD_LAYERS.replace("1.5,0,-200", "1500,0,-200"),
     ["layers.csv", "'bd_g_cm3'", "line 4", "kg m-3"]),
    ("units in name", GOOD_SITES, GOOD_LAYERS.replace("bd_g_cm3", "bd_kg_m3"), ["layers.csv", "'bd_kg_m3'", "bd_g_cm3"]),
    ("SOC in g/kg", GOOD_SITES, GOOD_LAYERS.replace("B,0,20,3.0", "B,0,20,300"), ["'soc_percent'", "line 5"]),
    ("text in number", GOOD_SITES, GOOD_LAYERS.replace("A,0,10,2.0", "A,0,10,2,0%"), ["layers.csv", "line 2"]),
    ("bottom <= top", GOOD_SITES, GOOD_LAYERS.replace("B,20,40", "B,20,20"), ["'bottom_cm'", "line 6"]),
    ("unknown site", GOOD_SITES, GOOD_LAYERS + "C,0,10,1,1,0,\n", ["layers.csv", "'site_id'", "line 7", "'C'"]),
    ("site without layers", GOOD_SITES + "D,0,0,,\n", GOOD_LAYERS, ["sites.csv", "'D'", "no layers"]),
    ("non-consecutive", GOOD_SITES, GOOD_LAYERS + "A,60,80,0.2,1.5,0,\n", ["'site_id'", "line 7", "consecutive"]),
    ("duplicate site", GOOD_SITES + "A,1,1,,\n", GOOD_LAYERS, ["sites.csv", "duplicate", "line 4"]),
    ("bad covariate", GOOD_SITES.replace("12.5", "warm"), GOOD_LAYERS, ["sites.csv", "'wc_bio01_mat_degC'", "line 2"]),
]


@pytest.mark.parametrize("case,sites,layers,needles", BAD, ids=[b[0] for b in BAD])
def test_bad_input_one_line_error(tmp_path, case, sites, layers, needles):
    s, l = write_tables(tmp_path, sites, layers)
    with pytest.raises(DataError) as exc:
        read_profiles(s, l)
    msg = str(exc.value)
    assert "\n" not in msg
    for n in needles:
        assert n in msg, (case, msg)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="nope.csv: file not found"):
        read_profiles(tmp_path / "nope.csv", LAYERS)


# ---- shipped subset ---------------------------------------------------------------------------
def test_shipped_subset(shipped):
    assert 30 <= len(shipped) <= 60
    assert SITES.stat().st_size + LAYERS.stat().st_size < 300_000
    assert len(select(shipped)) == len(shipped)                  # every profile passes the DA rules
    koppen = {p.meta["koppen"][0] for p in shipped}
    assert {"A", "B", "C", "D", "E"} <= koppen                   # all main climate classes
    assert len({p.meta["entry_name"] for p in shipped}) >= 20    # many independent studies
    for p in shipped:
        assert p.top[0] == 0.0 and np.all(p.soc > 0) and np.all(np.isfinite(p.soc))
        assert p.has_d14c and np.isfinite(p.d14c).sum() >= 3
        assert (p.meta["doi"] or "").startswith("10.") or p.meta["citation"]     # attribution of every profile
        assert np.isfinite(p.covariates["wc_bio01_mat_degC"]) and np.isfinite(p.covariates["pet_mm_yr"])
        # SOC densities of mineral soil: 10 g C m-3 .. 150 kg C m-3
        assert 10.0 < p.soc.min() and p.soc.max() < 1.5e5
    measured = sum((~p.meta["bd_pedotransfer"]).sum() for p in shipped)
    assert measured / sum(p.n_layers for p in shipped) > 0.8


# ---- converter --------------------------------------------------------------------------------
def _mini_israd(tmp_path):
    """A tiny ISRaD-like extract exercising every rule."""
    pro = pd.DataFrame({
        "entry_name": ["E1", "E1", "E1", "E2", "E2", "E2", "E2"],
        "site_name": ["s1", "s1", "s2", "s3", "s3", "s4", "s5"],
        "pro_name": ["p1", "peat", "p2", "p3", "trt", "few", "shallow"],
        "pro_lat": [60.0, 60.0, 10.0, -30.0, -30.0, 5.0, 5.0],
        "pro_long": [20.0, 20.0, 30.0, 150.0, 150.0, 5.0, 5.0],
        "pro_treatment": ["control", "control", "control", "control", "treatment", "control", "control"],
        "pro_peatland": [None, "yes", None, None, None, None, None],
        "pro_land_cover": ["forest", "forest", "rangeland/grassland", "forest", "forest", "forest", "forest"],
        "pro_BIO1_C_WC2.1": [2.0, 2.0, 25.0, 15.0, 15.0, 20.0, 20.0],
        "pro_bd_0_cm_SG": [110.0] * 7, "pro_corg_0_cm_SG": [10.0] * 7,
    })

    def lyr(e, s, p, rows, allneg=None):
        return [dict(entry_name=e, site_name=s, pro_name=p, lyr_top=t, lyr_bot=b, lyr_c_org_filled=c,
                     lyr_bd_samp_filled=bd, lyr_14c=d, lyr_hzn=h, lyr_all_org_neg=allneg, lyr_obs_date_y=y)
                for t, b, c, bd, d, h, y in rows]
    rows = []
    # p1: O horizon at -5..0 (negative), then 4 mineral layers; one layer without C
    rows += lyr("E1", "s1", "p1", [(-5, 0, 40, 0.1, 100, "Oa", 2000), (0, 10, 3, 1.1, 50, "A", 2000),
                                   (10, 30, 1, 1.3, -50, "B", 2000), (30, 60, 0.5, None, -200, "B", 2000),
                                   (60, 100, None, 1.5, None, "C", 2000), (60, 90, 0.3, 1.5, -400, "C", 1990)], "yes")
    rows += lyr("E1", "s1", "peat", [(0, 10, 40, 0.1, 0, "Oi", 2000), (10, 40, 45, 0.1, 0, "Oe", 2000),
                                     (40, 80, 42, 0.1, 0, "Oa", 2000)])
    # p2: depths from the top of a 5 cm O horizon (lyr_all_org_neg missing) -> re-referenced
    rows += lyr("E1", "s2", "p2", [(0, 5, 35, 0.2, 80, "O", 2010), (5, 15, 2, 1.2, 20, "A", 2010),
                                   (15, 45, 1, 1.4, -80, "B", 2010), (45, 80, 0.4, 1.5, -300, "C", 2010)])
    rows += lyr("E2", "s3", "p3", [(0, 20, 2, 1.2, 0, "A", 2015), (20, 40, 1, 1.3, -100, "B", 2015),
                                   (30, 70, 0.5, 1.4, -300, "B", 2015)])                  # overlap
    rows += lyr("E2", "s3", "trt", [(0, 20, 2, 1.2, 0, "A", 2015), (20, 40, 1, 1.3, 0, "B", 2015),
                                    (40, 70, 0.5, 1.4, 0, "B", 2015)])
    rows += lyr("E2", "s4", "few", [(0, 30, 2, 1.2, 0, "A", 2015), (30, 90, 1, 1.3, 0, "B", 2015)])
    rows += lyr("E2", "s5", "shallow", [(0, 10, 2, 1.2, 0, "A", 2015), (10, 30, 1, 1.3, 0, "B", 2015),
                                        (30, 50, 1, 1.3, 0, "B", 2015)])
    lay = pd.DataFrame(rows)
    meta = pd.DataFrame({"entry_name": ["E1", "E2"], "doi": ["https://doi.org/10.1/e1", "10.1/e2"],
                         "bibliographical_reference": ["Author A (2001)", "Author B (2002)"]})
    paths = [tmp_path / "layer.csv.gz", tmp_path / "profile.csv", tmp_path / "meta.csv"]
    lay.to_csv(paths[0], index=False)
    pro.to_csv(paths[1], index=False)
    meta.to_csv(paths[2], index=False)
    return paths


def test_converter_rules(tmp_path):
    lp, pp, mp = _mini_israd(tmp_path)
    sites, layers, rep = convert_israd(lp, pp, mp)
    assert list(sites["pro_name"]) == ["p1", "p2"]
    assert list(sites["site_id"]) == [profile_id("E1", "s1", "p1"), profile_id("E1", "s2", "p2")]
    assert all(sid.startswith("E1_") and len(sid) == 3 + 8 for sid in sites["site_id"])
    r = rep.removed_profiles
    assert r["peatland (pro_peatland == 'yes')"] == 1
    assert r["not a control profile (pro_treatment != 'control')"] == 1
    assert r["overlapping layers"] == 1 and r["fewer than 3 layers"] == 1 and r["max depth <= 50 cm"] == 1
    rl = rep.removed_layers
    assert rl["negative depth (organic horizon above the mineral surface)"] == 1
    assert rl["organic material (organic C > 20 % or O/peat horizon label)"] == 1
    assert rl["no organic C value (lyr_c_org_filled missing)"] == 1
    assert rl["other sampling dates of the same profile"] == 1
    assert rep.profiles_out == 2 and rep.depth_shifted == 1
    p1 = layers[layers.site_id == profile_id("E1", "s1", "p1")]
    assert list(p1.top_cm) == [0, 10, 30] and list(p1.bottom_cm) == [10, 30, 60]
    assert np.isnan(p1.bd_g_cm3.iloc[2])                    # missing BD left for the pedotransfer
    p2 = layers[layers.site_id == profile_id("E1", "s2", "p2")]
    assert list(p2.top_cm) == [0, 10, 40] and list(p2.bottom_cm) == [10, 40, 75]   # shifted by 5 cm
    assert sites.loc[1, "depth_shift_cm"] == 5.0
    assert list(sites["doi"]) == ["10.1/e1", "10.1/e1"]
    assert sites.loc[0, "sg_bd_0cm_g_cm3"] == pytest.approx(1.10)       # 10 kg m-3 units -> g cm-3
    assert sites.loc[0, "sg_orgc_0cm_percent"] == pytest.approx(5.0)    # 5 g kg-1 units -> %
    assert "peatland" in rep.text()
    # the tables read back as profiles that pass the DA selection
    s, l = tmp_path / "s.csv", tmp_path / "l.csv"
    sites.to_csv(s, index=False)
    layers.to_csv(l, index=False)
    ps = read_profiles(s, l)
    assert len(select(ps)) == 2 and ps[0].meta["bd_pedotransfer"].tolist() == [False, False, True]


def test_converter_ids_stable_across_overlapping_regions(tmp_path):
    """Two conversions of overlapping regions: the same profile gets the same id in both,
    different profiles never share one (the former sequential ids <entry>_<nnn> gave the
    first profile of an entry in each region the same id)."""
    lp, pp, mp = _mini_israd(tmp_path)
    lay, pro = pd.read_csv(lp), pd.read_csv(pp)
    extra = pro[pro.pro_name == "p2"].assign(site_name="s0", pro_name="p0", pro_lat=-10.0)   # a third good profile
    pro = pd.concat([pro, extra], ignore_index=True)
    lay = pd.concat([lay, lay[lay.pro_name == "p2"].assign(site_name="s0", pro_name="p0")], ignore_index=True)
    out = {}
    for name, (la0, la1) in {"north": (0.0, 90.0), "south": (-90.0, 20.0)}.items():
        d = tmp_path / name
        d.mkdir()
        p = pro[pro.pro_lat.between(la0, la1)]
        p.to_csv(d / "profile.csv", index=False)
        lay.merge(p[["entry_name", "site_name", "pro_name"]]).to_csv(d / "layer.csv", index=False)
        sites, layers, _ = convert_israd(d / "layer.csv", d / "profile.csv")
        assert set(layers["site_id"]) == set(sites["site_id"])
        out[name] = dict(zip(zip(sites.site_name, sites.pro_name), sites.site_id))
    north, south = out["north"], out["south"]
    assert set(north) == {("s1", "p1"), ("s2", "p2")} and set(south) == {("s2", "p2"), ("s0", "p0")}
    assert north[("s2", "p2")] == south[("s2", "p2")]                  # shared profile (lat 10): same id
    assert north[("s1", "p1")] != south[("s0", "p0")]                  # first of entry E1 in each region
    merged = {**north, **south}
    assert len(set(merged.values())) == len(merged) == 3               # merged tables: unique ids
    # ids depend on the exact names only; a numeric-looking name is the same text in every table
    assert profile_id("E", "12", "1.0") != profile_id("E", "12", "1") != profile_id("E", "1", "21")


def test_converter_missing_table(tmp_path):
    with pytest.raises(DataError, match="ISRaD layer table not found"):
        convert_israd(tmp_path / "none.csv", tmp_path / "none2.csv")


@requires_shared
def test_subset_reproducible(tmp_path):
    """scripts/make_israd_subset.py on ../shared reproduces the shipped files exactly."""
    import importlib.util
    src = SHARED / "data" / "israd"
    if not (src / "ISRaD_extra_layer.csv.gz").exists():
        pytest.skip("ISRaD extract not present")
    spec = importlib.util.spec_from_file_location("mis", Path(__file__).resolve().parent.parent / "scripts"
                                                  / "make_israd_subset.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main([str(src), str(tmp_path)]) == 0
    for name in ("israd_sites.csv", "israd_layers.csv"):
        assert (tmp_path / name).read_text() == (DATA / name).read_text(), name


def test_interval_integrals_are_row_invariant():
    """A row's stocks are bitwise the same alone, in any batch, or split over MPI ranks (a BLAS
    product's last bits depend on the number of rows), and equal the plain sum."""
    from pysoc.profiles import interval_integrals, interval_means, overlap_matrix, stock_intervals

    bounds = np.column_stack([np.r_[0.0, np.cumsum(np.full(19, 0.1))], np.cumsum(np.full(20, 0.1))])
    iv = stock_intervals(bounds)
    conc = np.random.default_rng(3).lognormal(8.0, 1.0, size=(500, 20))
    full = interval_integrals(conc, bounds, iv)
    for start, n in ((0, 1), (7, 3), (100, 64), (11, 333)):
        assert np.array_equal(interval_integrals(conc[start:start + n], bounds, iv), full[start:start + n])
    np.testing.assert_allclose(full, conc @ overlap_matrix(bounds, iv).T, rtol=1e-14)
    means = interval_means(conc[:5], bounds, [(0.0, 0.3), (5.0, 6.0)])
    np.testing.assert_allclose(means[:, 0], conc[:5, :3].mean(axis=1), rtol=1e-14)
    assert np.isnan(means[:, 1]).all()                      # an interval below the column

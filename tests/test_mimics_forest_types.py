"""Forest-type calibration/validation of MIMICS (scripts/mimics_forest_types.py, seed 003
Table 4 analog): a shrunk run on the shipped profiles gives every row with finite numbers."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "pysoc" / "data" / "mimics" / "forest_types"


def _script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_shipped_subset_has_four_types_with_attribution():
    sites = pd.read_csv(DATA / "sites.csv")
    counts = sites["meta_forest_type"].value_counts()
    assert set(counts.index) == {"ENF", "EBF", "DBF", "BNF"}
    assert (counts >= 10).all() and (counts <= 30).all()
    assert "CC BY 4.0" in (DATA / "SOURCE.md").read_text()


def test_forest_type_rule():
    ft = _script("build_mimics_forest_types").forest_type
    df = pd.DataFrame({"land_cover": ["forest", "forest", "forest", "forest", "shrubland", "forest"],
                       "modis_land_cover": ["Evergreen Needleleaf Forests", "Evergreen Needleleaf Forests",
                                            "Mixed Forests", "Deciduous Broadleaf Forests",
                                            "Evergreen Needleleaf Forests", "Mixed Forests"],
                       "lc_leaf_type": [None, None, "broadleaf", None, None, None],
                       "lc_phenology": [None, None, "evergreen", None, None, None],
                       "koppen": ["Cfb", "Dfc", "Af", "Dfb", "Cfb", "Cfb"]})
    assert ft(df).tolist() == ["ENF", "BNF", "EBF", "DBF", "", ""]


def test_shrunk_run_table(tmp_path):
    mod = _script("mimics_forest_types")
    t, par, fig = tmp_path / "t.csv", tmp_path / "p.csv", tmp_path / "f.png"
    rc = mod.main(["--max-sites", "4", "--max-evals", "24", "--jobs", "1", "--table", str(t),
                   "--params", str(par), "--figure", str(fig), "--sensitivity-table", str(tmp_path / "s.csv"),
                   "--sensitivity-figure", str(tmp_path / "s.png")])
    assert rc == 0 and fig.stat().st_size > 0 and (tmp_path / "s.png").stat().st_size > 0
    tab = pd.read_csv(t)
    assert len(tab) == 16 and set(tab["forest_type"]) == {"ENF", "EBF", "DBF", "BNF"}
    assert sorted(tab["set"].unique()) == ["cal", "val"]
    num = tab[["n_sites", "n_layers", "r2", "rmse", "bias", "a", "b"]].to_numpy(float)
    assert np.isfinite(num).all() and (tab["rmse"] > 0).all()
    cal = tab[tab["prediction"] == "calibrated"]
    assert np.isfinite(cal[["seed_r2", "seed_rmse"]].to_numpy(float)).all()
    p = pd.read_csv(par)
    assert len(p) == 4 and np.isfinite(p[["x_v", "x_k", "x_d", "x_diff", "alpha_r", "alpha_v", "beta"]]).all().all()
    sens = pd.read_csv(tmp_path / "s.csv")
    assert len(sens) == 4 * 6 and np.isfinite(sens[["rel_change_0_30cm", "rel_change_30_100cm"]]).all().all()


def test_split_keeps_sites_together():
    mod = _script("mimics_forest_types")
    profs = mod.load()["DBF"]
    cal, val = mod.split(profs, np.random.default_rng(0))
    gc = {mod._group(p) for p in cal}
    gv = {mod._group(p) for p in val}
    assert not gc & gv and len(cal) + len(val) == len(profs)

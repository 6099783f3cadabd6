"""MIMICS experiments of issue 19: the shipped Morris namelists run through pysoc-calibrate
(a few trajectories at one site), the table/figure script reads their output, and the
SCE-UA summary prints the fit per site and stream (Delta14C next to SOC)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from pysoc.cli import calibrate

ROOT = Path(__file__).resolve().parent.parent
NML = ROOT / "namelists"


def _script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _namelist(src: Path, dst: Path, out: Path, **subs) -> Path:
    """Copy of a shipped namelist with the output elsewhere and keys replaced (regex -> text)."""
    text = src.read_text().replace("output_dir = '../output'", f"output_dir = '{out}'")
    for pattern, repl in subs.items():
        text, n = re.subn(pattern, repl, text)
        assert n == 1, pattern
    dst.write_text(text)
    return dst


@pytest.fixture(scope="module")
def morris_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("morris")
    paths = {}
    for term in ("soc", "d14c"):
        nml = _namelist(NML / f"morris_mimics_{term}.nml", tmp / f"m_{term}.nml", tmp,
                        **{r"n_trajectories = 50": "n_trajectories = 4",
                           r"forcing_file = ''": "site_ids = 'McFarlane_2013_013'\n  forcing_file = ''"})
        assert calibrate.main([str(nml)]) == 0
        paths[term] = tmp / f"morris_mimics_{term}_morris.nc"
    return tmp, paths


def test_morris_namelists_give_importance_per_parameter(morris_runs):
    _, paths = morris_runs
    for term, path in paths.items():
        with xr.open_dataset(path) as ds:
            assert [str(p) for p in ds["parameter_name"].values] == ["x_v", "x_k", "x_d", "x_diff", "alpha_r",
                                                                      "alpha_v", "beta"]
            imp = np.asarray(ds["importance"].values)
            assert imp.shape == (1, 7) and np.isfinite(imp).all() and (imp >= 0).all()
            # theta is normalised by its standard deviation over the 7 parameters
            s = np.sqrt(ds["mu"].values ** 2 + ds["sigma"].values ** 2)[0]
            np.testing.assert_allclose(imp[0], s / s.std(ddof=1), rtol=1e-12)
            assert int(ds["n_trajectories_used"].values[0]) >= 2


def test_morris_table_and_figure(morris_runs, tmp_path):
    tmp, paths = morris_runs
    mod = _script("mimics_morris")
    table, fig = tmp_path / "t.csv", tmp_path / "f.png"
    assert mod.main(["--soc", str(paths["soc"]), "--d14c", str(paths["d14c"]), "--table", str(table),
                     "--figure", str(fig)]) == 0
    df = mod.read_importance(paths["d14c"], "d14c")
    assert len(df) == 7 and set(df.site_id) == {"McFarlane_2013_013"}
    rank = mod.ranking(mod.pd.concat([df, mod.read_importance(paths["soc"], "soc")]))
    assert sorted(rank["d14c_rank"]) == list(range(1, 8)) and rank["soc_n_top"].sum() == 1
    assert table.stat().st_size > 0 and fig.stat().st_size > 0


def test_sceua_summary_prints_fit_per_site(tmp_path, capsys):
    nml = _namelist(NML / "calibrate_mimics.nml", tmp_path / "c.nml", tmp_path,
                    **{r"site_ids = [^\n]*": "site_ids = 'McFarlane_2013_013'", r"max_evals = 3000": "max_evals = 80"})
    assert calibrate.main([str(nml)]) == 0
    out = capsys.readouterr().out
    assert "per site (NSE, RMSE):" in out
    line = [ln for ln in out.splitlines() if ln.strip().startswith("McFarlane_2013_013:")]
    assert len(line) == 1 and "soc_profile NSE" in line[0] and "d14c_profile NSE" in line[0] and "per mil" in line[0]


def test_profile_sensitivity_script(tmp_path):
    mod = _script("mimics_profile_sensitivity")
    table, fig = tmp_path / "s.csv", tmp_path / "s.png"
    assert mod.main(["--table", str(table), "--figure", str(fig)]) == 0
    df = mod.pd.read_csv(table)
    cases = ["reference"] + [f"{n} x{f:g}" for n, _, _ in mod.PARAMS for f in mod.FACTORS]
    assert list(df.columns) == ["depth_m"] + cases and len(df) == 20
    vals = df[cases].to_numpy()
    assert np.isfinite(vals).all() and (vals > 0).all()
    # the perturbations change the profile, the reference is the parameter set itself
    assert all(not np.allclose(df[c], df["reference"]) for c in cases[1:])
    assert fig.stat().st_size > 0

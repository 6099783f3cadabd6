"""Bad input of pysoc-proda (issue 15): exit status 2, one line naming the file, the key and
the allowed range, no traceback and no new file (an empty region leaves no _covariates.csv)."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from badinput import one_error_line
from pysoc.cli.proda import main as proda_main
from pysoc.io.namelist import PKGDATA
from pysoc.models import model_class

PROG = "pysoc-proda"


@pytest.fixture()
def posterior(tmp_path):
    """A small site-by-site CLM5 posterior in the layout of pysoc-calibrate (8 shipped sites)."""
    sites = pd.read_csv(PKGDATA / "profiles" / "israd_sites.csv")["site_id"].astype(str).iloc[:8].tolist()
    names = list(model_class("clm5").parameters.names)
    kp = np.random.default_rng(0).uniform(0.3, 0.7, (2, 10, len(sites), len(names)))
    n = len(sites)
    root = xr.Dataset({"parameter_name": ("parameter", names), "site_id": ("site", sites),
                       "status": ("site", np.zeros(n, np.int32)), "kp_mean": (("site", "parameter"), kp.mean((0, 1))),
                       "gelman_rubin_mean": ("site", np.full(n, 2.0)), "soc_profile_nse": ("site", np.full(n, 0.5)),
                       "converged": ("site", np.ones(n))}, attrs={"model": "clm5"})
    path = tmp_path / "post.nc"
    root.to_netcdf(path)
    xr.Dataset({"kp": (("chain", "draw", "site", "parameter"), kp)}).to_netcdf(path, group="posterior", mode="a")
    return path


def namelist(tmp_path, proda="", extra="", name="p.nml"):
    p = tmp_path / name
    p.write_text(f"&proda\n  posterior_file = 'post.nc'\n  output_dir = 'out'\n  progress = .false.\n{proda}/\n{extra}")
    return p


def fails(tmp_path, capsys, argv, fragments, prog=PROG):
    return one_error_line(proda_main, argv, capsys, prog, fragments, watch=[tmp_path])


def test_namelist_and_posterior(tmp_path, capsys, posterior):
    cases = [("", "&proda\n/\n", ["p.nml", "&proda appears more than once"]),
             ("", "", [str(posterior), "no site passes the filters", "8 have a mean Gelman-Rubin above "
                       "max_gelman_rubin = 1.05"]),
             ("  model = 'compas'\n", "", [str(posterior), "this posterior is for clm5, not compas"]),
             ("  max_gelman_rubin = 3.0\n  posterior_file = 'absent.nc'\n", "", ["absent.nc",
                                                                              "site posterior file not found"])]
    for proda, extra, frags in cases:
        fails(tmp_path, capsys, [namelist(tmp_path, proda, extra)], frags)
    (tmp_path / "table.nc").write_text("site_id,kp\nA,1\n")
    fails(tmp_path, capsys, [namelist(tmp_path, "  posterior_file = 'table.nc'\n")], ["table.nc", "cannot read"])


def test_outputs_and_region_checked_before_any_work(tmp_path, capsys, posterior):
    (tmp_path / "file").write_text("x")
    ok = "  max_gelman_rubin = 3.0\n"
    cases = [(ok + "  output_dir = 'file/out'\n", "", ["&proda output_dir", "file is a file, not a directory"]),
             (ok, "&grid\n  region = 0.0, 1.0, -30.0, -29.0\n/\n",
              ["&grid region = 0, 1, -30, -29", "no land cell", "lies in lat [0, 1], lon [-30, -29]"]),
             (ok, "&grid\n  region = 10.0, 0.0, 0.0, 10.0\n/\n", ["&grid region = 10, 0, 0, 10",
                                                               "lat_min < lat_max"]),
             (ok, "&grid\n  region = 10.0, 20.0, 0.0\n/\n", ["&grid region", "expected 4 values"])]
    for proda, extra, frags in cases:
        fails(tmp_path, capsys, [namelist(tmp_path, proda, extra)], ["p.nml"] + frags)
    assert not (tmp_path / "out").exists()                # no _covariates.csv of an empty region


def test_predict_evaluate_compare(tmp_path, capsys, posterior):
    (tmp_path / "sites.csv").write_text("site_id,lat,lon\nA,40.0,-100.0\n")
    (tmp_path / "empty.nc").write_bytes(b"")
    cases = [(["predict", "absent.nc", "sites.csv"], "pysoc-proda predict", ["absent.nc", "model file not found"]),
             (["predict", "sites.csv", "sites.csv"], "pysoc-proda predict", ["sites.csv", "cannot read"]),
             (["predict", "empty.nc", "sites.csv"], "pysoc-proda predict", ["empty.nc"]),
             (["evaluate", str(posterior), "sites.csv", "sites.csv"], "pysoc-proda evaluate",
              ["post.nc", "not a PRODA model file"]),
             (["--compare", "sites.csv", "empty.nc"], PROG, ["sites.csv", "not a NetCDF file"]),
             (["--compare", str(posterior), "empty.nc"], PROG, ["empty.nc", "empty (0 bytes)"]),
             (["--compare", str(posterior), str(posterior)], PROG, ["post.nc", "not a pysoc-proda map file"])]
    for argv, prog, frags in cases:
        fails(tmp_path, capsys, [str(tmp_path / a) if a.endswith((".csv", ".nc")) and "/" not in a else a
                                 for a in argv], frags, prog=prog)

"""COMPAS through pysoc-calibrate: the shipped namelist runs (tiny settings), the kp(13)
alias goes through ``COMPAS.to_physical``, and every retained posterior draw is a valid
steady state (invalid proposals are rejected by status, not by sign)."""

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

calibrate = pytest.importorskip("pysoc.cli.calibrate")

from pysoc import _status  # noqa: E402
from pysoc.models import get_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def small_namelist(tmp_path, alias: bool) -> Path:
    text = (REPO / "namelists" / "calibrate_compas.nml").read_text()
    for old, new in [("'../output'", f"'{tmp_path}/out'"), ("max_sites = 6", "max_sites = 1"),
                     ("ess_target = 400", "ess_target = 100\n  n_chains = 8\n  min_generations = 200\n"
                                          "  draws_saved = 20"),
                     ("max_evaluations = 2000000", "max_evaluations = 100000")]:
        assert old in text, old
        text = text.replace(old, new)
    text = text.replace("legacy_kp13_alias = .false.", f"legacy_kp13_alias = {'.true.' if alias else '.false.'}")
    text = text.replace("&calibrate\n", "&calibrate\n  figures = .false.\n  progress = .false.\n")
    p = tmp_path / "calibrate_compas.nml"
    p.write_text(text)
    return p


def test_calibrate_compas_namelist_with_legacy_alias(tmp_path):
    nml = small_namelist(tmp_path, alias=True)
    assert calibrate.main([str(nml)]) == 0
    post = xr.open_dataset(tmp_path / "out" / "calibrate_compas_posterior.nc", group="posterior")
    t3 = post["tau4s3"].values.ravel()
    kp13 = (post["mm_const_assim"].values.ravel() - 300.0) / 2700.0
    np.testing.assert_allclose(t3, 10 ** (3 * kp13 - 3), rtol=1e-12)     # published aliasing
    # every retained draw is a valid steady state at that site's forcing
    model = get_model("compas", legacy_kp13_alias=True)
    names = list(model.parameters.names)
    theta = np.stack([post[n].values.ravel() for n in names], axis=1)
    from pysoc.io.namelist import PKGDATA
    from pysoc.io.profiles import read_profiles
    from pysoc.io.site_forcing import site_forcing
    root = xr.open_dataset(tmp_path / "out" / "calibrate_compas_posterior.nc")
    sid = str(np.ravel(root["site_id"].values)[0])
    assert int(np.ravel(root["status"].values)[0]) == 0
    profile = next(p for p in read_profiles(PKGDATA / "profiles" / "israd_sites.csv",
                                            PKGDATA / "profiles" / "israd_layers.csv") if p.site_id == sid)
    res = model.evaluate(site_forcing(model, profile), theta)
    assert (res.status == _status.OK).all()

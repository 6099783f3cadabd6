"""The shipped CENTURY calibration namelists (seed 000 Opt1 and Opt2) run end to end through
pysoc-calibrate (shortened chains) and calibrate exactly the 24 Table-1 parameters."""

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from pysoc.cli.calibrate import main
from pysoc.models import century as C

NML = Path(__file__).resolve().parent.parent / "namelists"


def shortened(name: str, tmp_path: Path) -> Path:
    text = (NML / name).read_text()
    for a, b in (("output_dir = '../output'", f"output_dir = '{tmp_path}'"), ("n_test = 2000", "n_test = 150"),
                 ("n_formal = 6000", "n_formal = 300"), ("t0 = 1000", "t0 = 50")):
        assert a in text, a
        text = text.replace(a, b)
    text = text.replace("&mcmc", "&mcmc\n  draws_saved = 20").replace("  seed = 20220601", "  seed = 20220601\n  "
                                                                        "figures = .false.\n  progress = .false.")
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("name,streams", [("calibrate_century.nml", ("soc_0_30", "nep_monthly")),
                                          ("calibrate_century_opt1.nml", ("soc_0_30",))])
def test_calibration_namelists_run(tmp_path, name, streams):
    assert main([str(shortened(name, tmp_path))]) == 0
    run = "calibrate_century_opt2" if "opt1" not in name else "calibrate_century_opt1"
    post = xr.open_dataset(tmp_path / f"{run}_posterior.nc", group="posterior")
    assert [v for v in post.data_vars if v != "kp"] == list(C.CALIBRATED)
    obs = xr.open_dataset(tmp_path / f"{run}_posterior.nc", group="observed_data")
    assert tuple(obs.data_vars) == streams
    assert np.isclose(float(obs["soc_0_30"].values.ravel()[0]), 13.3673)
    if "nep_monthly" in streams:
        assert obs["nep_monthly"].size == 36
    pp = xr.open_dataset(tmp_path / f"{run}_posterior.nc", group="posterior_predictive")
    assert np.all(np.isfinite(pp["soc_0_30"].values)) and float(pp["soc_0_30"].min()) >= 0
    # every draw lies inside the Table 1 priors
    for n in C.CALIBRATED:
        s = C.PARAMETERS[n]
        v = post[n].values
        assert v.min() >= s.prior_min - 1e-12 and v.max() <= s.prior_max + 1e-12, n

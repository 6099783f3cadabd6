import os
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
SHARED = HERE.parent.parent / "shared"

# the tests must exercise the built (editable) package, not a stray source copy
import pysoc  # noqa: E402
import pysoc._kernels.core  # noqa: E402,F401  (fails loudly when the extension is not built)


@pytest.fixture(scope="session")
def clm5():
    from pysoc.models import get_model
    return get_model("clm5")


def synthetic_forcing(model, site):
    """The §6.1 synthetic sites (also shipped as pysoc/data/forcing/clm5_synthetic_site*.nc)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("msf", HERE.parent / "scripts" / "make_synthetic_forcing.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.synthetic_site(model, site)


def read_profile_csv(path):
    lines = Path(path).read_text().splitlines()
    stock = np.array([float(v) for v in lines[1].split()[2:]])
    table = np.loadtxt(path, delimiter=",", skiprows=3)
    return table[:, 1:], stock


requires_shared = pytest.mark.skipif(not SHARED.exists(), reason="../shared not present")
os.environ.setdefault("MPLBACKEND", "Agg")


def step_amount(ds):
    """``mass_balance_residual`` of a transient (a rate, g m-2 yr-1 over each step) times the
    step length (``time_bnds``, days of a 365-day year): the residual in g m-2 per step."""
    days = np.diff(np.asarray(ds["time_bnds"].values, float), axis=1)[:, 0]
    return np.asarray(ds["mass_balance_residual"].values, float) * days / 365.0

"""The numpydoc examples of the public API run as doctests (cheap examples only; an expensive
one is marked ``# doctest: +SKIP``). Each owner appends their modules to MODULES."""

import doctest
import importlib

import pytest

MODULES = [
    "pysoc.profiles",
    "pysoc.da.parallel",
    "pysoc.io.atomic",
    "pysoc.io.grid",
    "pysoc.proda.covariates",
    "pysoc.upscale.grid",
    "pysoc.da.results",
    "pysoc.da.run",
    "pysoc.da.optimize",
    "pysoc.io.israd",
    "pysoc.da.output",
    "pysoc.cli.calibrate",
    "pysoc.proda.evaluate",
    "pysoc.proda.posteriors",
    "pysoc.models",
    "pysoc.models.base",
    "pysoc.models.clm5",
    "pysoc.models.compas",
    "pysoc.models.mimics",
    "pysoc.models.century",
    "pysoc.io.site_forcing",
    "pysoc.params",
    "pysoc.models.twopool",
    "pysoc.io.ctsm",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0, f"{name}: no examples"
    assert res.failed == 0, f"{name}: {res.failed} of {res.attempted} examples failed"

"""CTSM-layout history files written by the tests themselves: the generator lives in
scripts/ctsm_example.py (also used by the docs example and the benchmark)."""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "pysoc_ctsm_example", Path(__file__).resolve().parents[1] / "scripts" / "ctsm_example.py")
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)

history = _mod.history
LEVGRND = _mod.LEVGRND
DZSOI = _mod.DZSOI
SPVAL = _mod.SPVAL

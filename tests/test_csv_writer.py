"""The one CSV writer (pysoc.io.atomic.write_csv): the names used by da, proda and upscale
are that function, its files get mode 0644 under umask 022 like every other output (PRODA's
own writer left 0600), it is atomic, and its number format is that of the former writers."""

import os
import stat

import numpy as np
import pandas as pd
import pytest

from pysoc.da import output as da_out
from pysoc.io import atomic
from pysoc.proda import output as proda_out
from pysoc.upscale import output as upscale_out


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_one_writer():
    assert da_out.write_csv is atomic.write_csv
    assert proda_out.write_csv is atomic.write_csv
    assert upscale_out.write_csv is atomic.write_csv


@pytest.mark.parametrize("mod", [da_out, proda_out, upscale_out], ids=["da", "proda", "upscale"])
def test_mode_0644(tmp_path, umask022, mod):
    p = mod.write_csv(pd.DataFrame({"a": [1.0, 2.0]}), tmp_path / "sub" / "t.csv")
    assert stat.S_IMODE(p.stat().st_mode) == 0o644
    assert [q.name for q in p.parent.iterdir()] == ["t.csv"]              # no temporary left


def test_mode_follows_umask(tmp_path):
    old = os.umask(0o077)
    try:
        p = atomic.write_csv(pd.DataFrame({"a": [1]}), tmp_path / "t.csv")
    finally:
        os.umask(old)
    assert stat.S_IMODE(p.stat().st_mode) == 0o600


def test_format_and_keywords(tmp_path):
    df = pd.DataFrame({"x": [np.pi, np.nan], "s": ["a", "b"]})
    assert atomic.write_csv(df, tmp_path / "a.csv").read_text() == "x,s\n3.14159,a\n,b\n"
    assert atomic.write_csv(df, tmp_path / "b.csv", float_format="%.2f").read_text() == "x,s\n3.14,a\n,b\n"
    full = atomic.write_csv(df, tmp_path / "c.csv", float_format=None)
    assert pd.read_csv(full)["x"].iloc[0] == np.pi                        # round trip
    assert atomic.write_csv(df, tmp_path / "d.csv", index=True).read_text().startswith(",x,s\n0,")


def test_atomic_on_failure(tmp_path):
    target = tmp_path / "t.csv"
    atomic.write_csv(pd.DataFrame({"a": [1]}), target)

    class Broken(pd.DataFrame):
        def to_csv(self, *a, **k):
            open(a[0], "w").write("half")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic.write_csv(Broken({"a": [2]}), target)
    assert target.read_text() == "a\n1\n"                                  # the old file, whole
    assert [q.name for q in tmp_path.iterdir()] == ["t.csv"]

"""Rebuild the example forcing of the two-pool template model (pysoc/data/twopool/SOURCE.md).

``forcing_site1.nc`` is a synthetic monthly climatology of a temperate site: soil temperature
8 degC + 9 degC cos(2 pi (m - 7.5) / 12) (warmest in July/August), relative soil water
0.55 - 0.25 cos(2 pi (m - 7.5) / 12) (driest in summer) and a litter input of 400 g C m-2 yr-1,
half of it spread evenly over the year and half falling in October and November.
Run: ``python pysoc/data/twopool/make_data.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MAT_DEGC, AMPLITUDE_DEGC = 8.0, 9.0
WATER_MEAN, WATER_AMPLITUDE = 0.55, 0.25
LITTER_G_C_M2_YR = 400.0


def build():
    """The example forcing dataset (validated by the two-pool model)."""
    from pysoc.models import get_model

    m = np.arange(1, 13, dtype=float)
    season = np.cos(2.0 * np.pi * (m - 7.5) / 12.0)
    litter = np.full(12, 0.5 * LITTER_G_C_M2_YR / 12.0)
    litter[[9, 10]] += 0.25 * LITTER_G_C_M2_YR
    return get_model("twopool").forcing_dataset(
        273.15 + MAT_DEGC + AMPLITUDE_DEGC * season, WATER_MEAN - WATER_AMPLITUDE * season, litter, attrs={
            "title": "pysoc two-pool example forcing (synthetic temperate site)",
            "source": "synthetic, pysoc/data/twopool/make_data.py (see its docstring)",
            "history": "written by pysoc/data/twopool/make_data.py"})


if __name__ == "__main__":
    from pysoc.forcing import write_netcdf_atomic

    ds = build()
    ds.attrs.pop("source_file", None)
    write_netcdf_atomic(ds, HERE / "forcing_site1.nc", encoding={"time": {"_FillValue": None}})
    print(ds)

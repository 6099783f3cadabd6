"""Write the synthetic CLM5/COMPAS test sites of spec models.md §6.1 as pysoc forcing files.

Site 1 (bioturbation): nbedrock 20, active layer 3 m, T = 288.15 K, W_SCALAR 0.6, O 1, FPI 1.
Site 2 (cryoturbation, shallow bedrock): nbedrock 15, altmax 1.0 m, altmax_lastyear 0.8 m,
T(l, m) = 273.15 + 2 + 8 exp(-z_l/1 m) cos(2 pi (m - 7)/12), W(l) = 0.3 + 0.4 exp(-z_l/2 m), FPI 0.8.
Both: sand 40 %, monthly column inputs CWD 100/12, L1 200/12, L2 150/12, L3 50/12 g C m-2.

Usage: python scripts/make_synthetic_forcing.py [OUTDIR]   (default pysoc/data/forcing)
"""

import sys
from pathlib import Path

import numpy as np

from pysoc.models import get_model


def synthetic_site(model, site: int):
    z = model.zsoi
    nlev = z.size
    lit = np.tile(np.array([100.0, 200.0, 150.0, 50.0]) / 12.0, (12, 1))
    if site == 1:
        return model.forcing_dataset(np.full((12, nlev), 288.15), np.full((12, nlev), 0.6), lit, 3.0, 3.0,
                                     nlev, sand=40.0, attrs={"site": "synthetic site 1 (spec models.md 6.1)"})
    m = np.arange(1, 13)[:, None]
    tsoi = 273.15 + 2.0 + 8.0 * np.exp(-z[None, :] / 1.0) * np.cos(2 * np.pi * (m - 7) / 12.0)
    w = np.tile(0.3 + 0.4 * np.exp(-z / 2.0), (12, 1))
    return model.forcing_dataset(tsoi, w, lit, 1.0, 0.8, 15, fpi=np.full((12, nlev), 0.8), sand=40.0,
                                 attrs={"site": "synthetic site 2 (spec models.md 6.1)"})


def main(outdir="pysoc/data/forcing"):
    model = get_model("clm5")
    out = Path(outdir)
    for site in (1, 2):
        ds = synthetic_site(model, site)
        ds.attrs["comment"] = ("Synthetic forcing defined in the pysoc kernel specification (models.md 6.1); "
                               "used by the regression tests and the demo namelists.")
        model.write_forcing(ds, out / f"clm5_synthetic_site{site}.nc")
        print(out / f"clm5_synthetic_site{site}.nc")


if __name__ == "__main__":
    main(*sys.argv[1:])

"""Synthetic CTSM history files (h0 layout: monthly means, ``time`` at the end of each
month with ``time_bounds``, noleap calendar, ``levgrnd``/``levdcmp`` node depths as coordinates,
fill value 1e36, ``cols1d_*`` metadata) for the docs example, the benchmark and the tests.
The numbers are plausible temperate-site values varied by column, not CTSM output."""

from __future__ import annotations

import numpy as np
import xarray as xr

#: CTSM CLM5 levgrnd node depths: 20 soil levels and 5 bedrock levels (m)
LEVGRND = np.array([0.01, 0.04, 0.09, 0.16, 0.26, 0.40, 0.58, 0.80, 1.06, 1.36, 1.70, 2.08, 2.50, 2.99, 3.58,
                    4.27, 5.06, 5.95, 6.94, 8.03, 9.795, 13.328, 19.483, 28.871, 41.998])
DZSOI = np.array([0.02, 0.04, 0.06, 0.08, 0.12, 0.16, 0.20, 0.24, 0.28, 0.32, 0.36, 0.40, 0.44, 0.54, 0.64, 0.74,
                  0.84, 0.94, 1.04, 1.14, 2.39, 4.676, 7.635, 11.140, 15.115])
DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=float)
SPVAL = 1.0e36


def fields(ncol: int, nyears: int = 1, seed: int = 0):
    """Column fields (time, lev, col) of a plausible temperate site, varied by column."""
    rng = np.random.default_rng(seed)
    nt = 12 * nyears
    m = np.arange(nt) % 12
    season = np.cos(2 * np.pi * (m - 6.5) / 12)[:, None, None]          # warm in July
    depth = np.exp(-LEVGRND / 2.0)[None, :, None]
    tmean = rng.uniform(278.0, 295.0, ncol)[None, None, :]
    tsoi = tmean + 8.0 * season * depth
    w = np.clip(rng.uniform(0.3, 0.9, ncol)[None, None, :] + 0.1 * season + 0 * depth, 0.05, 1.0)
    w = np.broadcast_to(w, (nt, LEVGRND.size, ncol)).copy()
    o = np.ones_like(w)
    fpi = np.full_like(w, 0.8)
    npp = rng.uniform(300.0, 800.0, ncol)                                # g C m-2 yr-1 into litter
    split = np.array([0.1, 0.3, 0.45, 0.15])                             # CWD, L1, L2, L3
    prof = np.where(np.arange(LEVGRND.size) < 20, np.exp(-LEVGRND / 0.3), 0.0)
    prof = prof / (prof * DZSOI).sum()                                   # m-1, integrates to 1
    per_s = npp[None, :] / (365.0 * 86400.0)                             # g m-2 s-1 (constant rate)
    inputs = [np.broadcast_to(per_s[:, None, :] * f * prof[None, :, None], (nt, LEVGRND.size, ncol)).copy()
              for f in split]                                            # g m-3 s-1
    alt = np.broadcast_to(rng.uniform(0.8, 9.0, ncol)[None, :], (nt, ncol)).copy()   # < 2 m: cryoturbation
    nbedrock = rng.integers(8, 21, ncol).astype(float)
    return dict(tsoi=tsoi, w=w, o=o, fpi=fpi, inputs=inputs, alt=alt, npp=npp, split=split, nbedrock=nbedrock)


def history(ncol: int = 4, nyears: int = 1, seed: int = 0, layout: str = "column", start_year: int = 1,
            drop: tuple = (), spval_columns: tuple = ()) -> xr.Dataset:
    """A CTSM h0-style dataset with ``ncol`` columns (layout 'column') or a 2 x ncol/2 grid
    ('grid'). ``spval_columns`` get the CTSM fill value everywhere (e.g. a lake column)."""
    f = fields(ncol, nyears, seed)
    nt = 12 * nyears
    ends = np.cumsum(np.tile(DAYS, nyears)) + 365.0 * (start_year - 1)
    lower = ends - np.tile(DAYS, nyears)
    tattr = {"units": "days since 0001-01-01 00:00:00", "calendar": "noleap", "long_name": "time",
             "bounds": "time_bounds"}

    def put(a, vert=True):
        a = np.array(a, dtype=np.float32)
        for c in spval_columns:
            a[..., c] = SPVAL
        return a

    vars_ = {
        "TSOI": (("time", "levgrnd", "column"), put(f["tsoi"]), {"units": "K", "long_name": "soil temperature"}),
        "W_SCALAR": (("time", "levdcmp", "column"), put(f["w"]), {"units": "unitless", "long_name":
                     "Moisture (dryness) inhibition of decomposition"}),
        "T_SCALAR": (("time", "levdcmp", "column"), put(np.full_like(f["w"], 0.5)), {"units": "unitless"}),
        "O_SCALAR": (("time", "levdcmp", "column"), put(f["o"]), {"units": "unitless"}),
        "FPI_vr": (("time", "levdcmp", "column"), put(f["fpi"]), {"units": "proportion"}),
        "ALTMAX": (("time", "column"), put(f["alt"]), {"units": "m"}),
        "ALTMAX_LASTYEAR": (("time", "column"), put(f["alt"]), {"units": "m"}),
        "nbedrock": (("column",), put(f["nbedrock"]), {"long_name": "index of shallowest bedrock layer"}),
        "DZSOI": (("levgrnd", "column"), put(np.repeat(DZSOI[:, None], ncol, axis=1)), {"units": "m"}),
    }
    for name, a in zip(("CWD", "LITR1", "LITR2", "LITR3"), f["inputs"]):
        vars_[f"{name}_INPUT_ACC_VECTOR"] = (("time", "levdcmp", "column"), put(a), {"units": "gC/m^3/s"})
    for k in drop:
        vars_.pop(k)
    ds = xr.Dataset(vars_, coords={
        "time": ("time", ends, tattr),
        "levgrnd": ("levgrnd", LEVGRND, {"units": "m", "long_name": "coordinate soil levels"}),
        "levdcmp": ("levdcmp", LEVGRND, {"units": "m", "long_name": "coordinate levels for soil decomposition"}),
    })
    ds["time_bounds"] = (("time", "hist_interval"), np.stack([lower, ends], axis=1), {"units": tattr["units"],
                                                                                     "calendar": "noleap"})
    lat = np.linspace(30.0, 60.0, ncol)
    lon = np.linspace(-100.0, 20.0, ncol)
    ds["cols1d_lat"] = ("column", lat, {"units": "degrees_north"})
    ds["cols1d_lon"] = ("column", lon, {"units": "degrees_east"})
    ds["cols1d_ixy"] = ("column", np.arange(1, ncol + 1, dtype=np.int32))
    ds["cols1d_itype_lunit"] = ("column", np.ones(ncol, dtype=np.int32))
    for k in list(ds.data_vars):
        if ds[k].dtype == np.float32:
            ds[k].encoding["_FillValue"] = np.float32(SPVAL)
    ds.attrs.update({"title": "CLM History file information", "source": "Community Terrestrial Systems Model",
                     "case_id": "pysoc_test", "hist_dov2xy": "false"})
    if layout == "grid":
        ds = _to_grid(ds, ncol)
    return ds


def _to_grid(ds: xr.Dataset, ncol: int) -> xr.Dataset:
    nlat, nlon = 2, ncol // 2
    out = xr.Dataset(attrs=ds.attrs, coords={k: ds[k] for k in ("time", "levgrnd", "levdcmp")})
    out["time_bounds"] = ds["time_bounds"]
    for k, v in ds.data_vars.items():
        if "column" not in v.dims or k.startswith("cols1d"):
            continue
        dims = tuple(d for d in v.dims if d != "column") + ("lat", "lon")
        out[k] = (dims, np.asarray(v.values).reshape(v.shape[:-1] + (nlat, nlon)), v.attrs)
        out[k].encoding = dict(v.encoding)
    out = out.assign_coords(lat=("lat", np.array([40.0, 50.0]), {"units": "degrees_north"}),
                            lon=("lon", np.linspace(0.0, 10.0, nlon), {"units": "degrees_east"}))
    return out


def main(argv=None) -> int:
    """Write an example history file: ``python scripts/ctsm_example.py OUT.nc [--columns N]
    [--years Y] [--layout column|grid] [--seed S] [--start-year YYYY]``. The shipped example
    pysoc/data/ctsm/example_h0.nc is ``--columns 48 --years 2 --seed 14 --start-year 2000``
    (column 7 is a lake: CTSM fill values only)."""
    import argparse

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("out")
    p.add_argument("--columns", type=int, default=48)
    p.add_argument("--years", type=int, default=2)
    p.add_argument("--layout", choices=("column", "grid"), default="column")
    p.add_argument("--seed", type=int, default=14)
    p.add_argument("--start-year", type=int, default=2000)
    a = p.parse_args(argv)
    ds = history(a.columns, a.years, seed=a.seed, layout=a.layout, start_year=a.start_year,
                 spval_columns=(7,) if a.columns > 7 else ())
    enc = {k: {"zlib": True, "complevel": 5} for k in ds.data_vars if ds[k].dtype.kind == "f"}
    for k in enc:
        enc[k]["_FillValue"] = ds[k].encoding.get("_FillValue")
    ds.to_netcdf(a.out, encoding=enc)
    print(a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

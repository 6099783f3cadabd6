"""The one covariate-grid class (pysoc.io.grid): reading and checks with one line per problem,
the containing cell, and the one nearest-cell search (KD-tree of unit vectors) against a
brute-force haversine search, across the date line and near the poles. PRODA's and the
upscaling's grids are this class."""

import numpy as np
import pytest
import xarray as xr

from pysoc.errors import DataError
from pysoc.io import grid as G
from pysoc.proda.covariates import CovariateGrid as ProdaGrid
from pysoc.upscale.grid import CovariateGrid as UpscaleGrid


def haversine_km(lat1, lon1, lat2, lon2):
    la1, lo1, la2, lo2 = map(np.deg2rad, (lat1, lon1, lat2, lon2))
    h = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2) ** 2
    return 2 * G.R_EARTH_KM * np.arcsin(np.sqrt(h))


def write_grid(path, lat, lon, **fields):
    ds = xr.Dataset({k: (("lat", "lon"), v) for k, v in fields.items()},
                    coords={"lat": ("lat", np.asarray(lat, float)), "lon": ("lon", np.asarray(lon, float))})
    ds.to_netcdf(path)
    return path


@pytest.fixture
def small(tmp_path):
    lat, lon = np.arange(-87.5, 90, 5.0), np.arange(-177.5, 180, 5.0)
    rng = np.random.default_rng(3)
    return write_grid(tmp_path / "g.nc", lat, lon, x=rng.normal(size=(lat.size, lon.size)))


def test_both_grids_are_the_one_class():
    assert issubclass(ProdaGrid, G.CovariateGrid) and issubclass(UpscaleGrid, G.CovariateGrid)
    for cls in (ProdaGrid, UpscaleGrid):           # no search of their own
        assert "search" not in vars(cls) and "nearest" not in vars(cls) and "_tree" not in vars(cls)


def test_nearest_equals_brute_force(small):
    g = G.CovariateGrid(small, required=["x"])
    rng = np.random.default_rng(0)
    valid = rng.random(g.shape) < 0.05
    lat = np.r_[rng.uniform(-90, 90, 400), 89.9, -89.9, 10.0, 10.0]
    lon = np.r_[rng.uniform(-180, 180, 400), 0.0, 100.0, 179.9, -179.9]      # poles, date line
    j, km = g.nearest(valid, lat, lon)
    cand = np.flatnonzero(valid.ravel())
    d = haversine_km(lat[:, None], lon[:, None], g.LAT.ravel()[cand][None], g.LON.ravel()[cand][None])
    np.testing.assert_allclose(km, d.min(1), rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(d[np.arange(lat.size), np.searchsorted(cand, j)], d.min(1), rtol=1e-9, atol=1e-6)
    jm, kmm = g.nearest(valid, lat, lon, max_km=300.0)
    assert np.array_equal(jm, np.where(km <= 300.0, j, -1)) and np.array_equal(kmm, km)
    assert g.search(valid) is g.search(valid.copy())                       # one tree per mask
    jn, kn = g.nearest(np.zeros(g.shape, bool), lat[:3], lon[:3])
    assert (jn == -1).all() and np.isinf(kn).all()


def test_locate_both_latitude_orders(tmp_path, small):
    g = G.CovariateGrid(small)
    ds = xr.open_dataset(small).load()
    flipped = write_grid(tmp_path / "flip.nc", ds["lat"].values[::-1], ds["lon"].values, x=ds["x"].values[::-1])
    h = G.CovariateGrid(flipped)
    lat = np.array([-89.0, -2.4, 0.0, 2.6, 47.3, 89.9, 91.0, np.nan])
    lon = np.array([-179.9, 0.1, 0.0, 2.6, 11.0, 179.9, 0.0, 0.0])
    a, b = g.locate(lat, lon), h.locate(lat, lon)
    assert (a[-2:] == -1).all() and (b[-2:] == -1).all()
    for f, grid in ((a, g), (b, h)):
        ok = f >= 0
        assert (np.abs(grid.LAT.ravel()[f[ok]] - lat[ok]) <= 2.5).all()
        assert (np.abs(grid.LON.ravel()[f[ok]] - lon[ok]) <= 2.5).all()
    with pytest.raises(DataError, match="'lat' must be ascending"):
        G.CovariateGrid(flipped, ascending_lat=True)


def test_one_line_errors(tmp_path, small):
    with pytest.raises(DataError, match=r"nope.nc: covariate grid not found"):
        G.CovariateGrid(tmp_path / "nope.nc")
    (tmp_path / "t.nc").write_text("lat,lon\n1,2\n")
    with pytest.raises(DataError, match="t.nc") as e:
        G.CovariateGrid(tmp_path / "t.nc")
    assert "\n" not in str(e.value)
    with pytest.raises(DataError, match="variable 'cell_area' missing from the covariate grid"):
        G.CovariateGrid(small, required=["cell_area"])
    bad = write_grid(tmp_path / "bad.nc", [0.0, 5.0, 2.0], [0.0, 1.0], x=np.zeros((3, 2)))
    with pytest.raises(DataError, match="'lat' must be monotonic"):
        G.CovariateGrid(bad)
    one = write_grid(tmp_path / "one.nc", [0.0], [0.0, 1.0], x=np.zeros((1, 2)))
    with pytest.raises(DataError, match="at least 2 values"):
        G.CovariateGrid(one)
    g = G.CovariateGrid(small)
    with pytest.raises(DataError, match="variable 'y' missing"):
        g.field2d("y")
    with pytest.raises(DataError, match="mask of shape"):
        g.search(np.ones((2, 2), bool))


def test_checksum(small):
    import hashlib

    assert G.CovariateGrid(small).checksum() == hashlib.sha256(small.read_bytes()).hexdigest()

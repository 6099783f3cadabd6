"""Plain NumPy dense implementation of the CLM5 steady state (independent of the
Fortran kernel): the benchmark baseline and a cross-check in the tests.

It builds the full (7 nlev) x (7 nlev) matrix A xi K - T from the equations of spec
models.md §2 and calls ``numpy.linalg.solve`` -- what a straightforward port of the
PRODA MATLAB code does.
"""

from __future__ import annotations

import numpy as np

DPY = 365.0


def _q10(t, q10):
    return np.where(t >= 273.15, q10 ** ((t - 298.15) / 10.0), q10 ** (-2.5) * q10 ** ((t - 273.15) / 10.0))


def _transport(model, nbedrock, alt, bio, cryo):
    zisoi, zsoi, dz, n = model.zisoi, model.zsoi, model.dz, model.nlev
    d = np.zeros(n)
    jmax = min(nbedrock + 1, n)
    if 0 < alt <= 2.0:
        zlim = min(3.0, zisoi[nbedrock]) if nbedrock < n else 3.0
        for j in range(jmax):
            if zisoi[j] < alt:
                d[j] = cryo
            elif zlim > alt:
                d[j] = max(cryo * (1 - (zisoi[j] - alt) / (zlim - alt)), 0.0)
    elif alt > 0:
        d[:jmax] = bio
    d[np.abs(d) < 1e-30] = 1e-30
    t = np.zeros((n, n))
    for j in range(n - 1):
        dnode = zsoi[j + 1] - zsoi[j]
        w = (zsoi[j + 1] - zisoi[j]) / dnode
        c = 1.0 / ((1 - w) / d[j] + w / d[j + 1]) / dnode
        t[j, j] += c / dz[j]
        t[j, j + 1] -= c / dz[j]
        t[j + 1, j + 1] += c / dz[j + 1]
        t[j + 1, j] -= c / dz[j + 1]
    return t


def mean_transport(model, prep, site, bio, cryo):
    """Transport matrix T (nlev square, d-1) averaged over the forcing months; bio and cryo
    in m2 d-1."""
    nmon = prep["altmax"].shape[0]
    t = np.zeros((model.nlev, model.nlev))
    for mon in range(nmon):
        alt = max(prep["altmax"][mon, site], prep["altmax_lastyear"][mon, site])
        t += _transport(model, int(prep["nbedrock"][site]), alt, bio, cryo)
    return t / nmon


def litter_inputs(model, prep, site, beta):
    """Litter input rates (4, nlev) g C m-3 d-1 of CWD, L1, L2, L3 (Jackson beta profile)."""
    edges = np.concatenate([[0.0], model.zisoi])
    frac = beta ** (100 * edges[:-1]) - beta ** (100 * edges[1:])
    if prep["altmax_lastyear"][:, site].max() <= 0:
        frac = np.zeros(model.nlev)
        frac[0] = 1.0
    frac /= frac.sum()
    annual = prep["litter_input"][:, :, site].sum(axis=1) * 12.0 / prep["litter_input"].shape[1]
    return annual[:, None] * frac[None, :] / model.dz[None, :] / DPY


def dense_matrix(model, prep, theta, site=0):
    """(M, b) with M = A xi K - T (7 nlev square, pool-major) and b = B I (g C m-3 d-1)."""
    p = dict(zip(model.parameters.names, theta))
    n = model.nlev
    tsoi, wsc, osc, fpi = (prep[k][:, :, site] for k in ("tsoi", "w_scalar", "o_scalar", "fpi"))
    xi = _q10(tsoi, p["q10"]) * np.minimum(1.0, wsc * p["w_scaling"]) * osc
    depth = np.exp(-model.zsoi / p["efolding"])
    xi_mean = xi.mean(axis=1) * depth
    xin_mean = (xi * fpi).mean(axis=1) * depth
    tau = [p["taucwd"], p["taul1"], p["taul2"], p["taul2"], p["tau4s1"], p["tau4s2"], p["tau4s3"]]
    k = np.array([1.0 / (DPY * t) for t in tau])
    kk = np.empty((7, n))
    kk[0] = k[0] * xi_mean
    kk[1:4] = k[1:4, None] * xin_mean
    kk[4:7] = k[4:7, None] * xi_mean
    a = -np.eye(7)
    a[2, 0], a[3, 0] = p["fcwdl2"], 1 - p["fcwdl2"]
    a[4, 1], a[4, 2], a[5, 3] = p["fl1s1"], p["fl2s1"], p["fl3s2"]
    a[5, 4], a[6, 4], a[4, 5], a[6, 5], a[4, 6] = p["fs1s2"], p["fs1s3"], p["fs2s1"], p["fs2s3"], p["fs3s1"]
    m = np.zeros((7 * n, 7 * n))
    for i in range(7):
        for q in range(7):
            if a[i, q] != 0:
                m[i * n:(i + 1) * n, q * n:(q + 1) * n] += np.diag(a[i, q] * kk[q])
    t = mean_transport(model, prep, site, p["diffus"] / DPY, p["cryo"] / DPY)
    for i in range(1, 7):
        m[i * n:(i + 1) * n, i * n:(i + 1) * n] -= t
    b = np.zeros(7 * n)
    b[:4 * n] = litter_inputs(model, prep, site, p["beta"]).ravel()
    return m, b


def dense_steady_state(model, prep, theta, site=0):
    """Steady state pools (7, nlev) g C m-3 by a dense solve."""
    m, b = dense_matrix(model, prep, theta, site)
    return np.linalg.solve(m, -b).reshape(7, model.nlev)

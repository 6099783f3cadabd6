"""Plain NumPy dense implementation of the COMPAS steady state (independent of the Fortran
kernel): the benchmark baseline and a cross-check in the tests.

It builds the full (4 nlev) x (4 nlev) litter matrix A_L xi K_L - T from the equations of
spec models.md §3.2, calls ``numpy.linalg.solve`` (what a straightforward port of the
published MATLAB code does) and evaluates the closed-form soil pools of §3.3 with array
arithmetic. The transport matrix comes from the CLM5 dense baseline (same equations).
"""

from __future__ import annotations

import numpy as np

from pysoc.models._clm5_dense import _q10, litter_inputs, mean_transport

DPY = 365.0


def dense_litter_system(model, prep, theta, site=0):
    """(M, b, xi, xil): M = A_L xi K_L - T (4 nlev square, pool-major CWD, L1, L2, L3),
    b = B I (g C m-3 d-1) and the scalars of the soil pools (xi) and of L1..L3 (xil)."""
    p = dict(zip(model.parameters.names, theta))
    n = model.nlev
    tsoi, wsc, osc, fpi = (prep[k][:, :, site] for k in ("tsoi", "w_scalar", "o_scalar", "fpi"))
    depth = np.exp(-model.zsoi / model.options["efolding"])
    xit = _q10(tsoi, p["q10"])
    xiw = np.minimum(1.0, wsc * p["w_scaling"])
    if model.options["xi_averaging"] == "mean_of_products":
        xi = (xit * xiw * osc).mean(axis=1) * depth
        xil = (xit * xiw * osc * fpi).mean(axis=1) * depth
    else:
        xi = xit.mean(axis=1) * xiw.mean(axis=1) * osc.mean(axis=1) * depth
        xil = xi * fpi.mean(axis=1)
    kk = np.empty((4, n))
    kk[0] = xi / (DPY * p["tau4cwd"])
    kk[1] = xil / (DPY * p["tau4l1"])
    kk[2] = xil / (DPY * p["tau4l2"])
    kk[3] = xil / (DPY * p["tau4l2"])
    m = np.zeros((4 * n, 4 * n))
    for i in range(4):
        m[i * n:(i + 1) * n, i * n:(i + 1) * n] = -np.diag(kk[i])
    m[2 * n:3 * n, 0:n] += np.diag(p["fcwdl2"] * kk[0])
    m[3 * n:4 * n, 0:n] += np.diag((1 - p["fcwdl2"]) * kk[0])
    t = mean_transport(model, prep, site, p["diffus"] / DPY, p["cryo"] / DPY)
    for i in range(1, 4):
        m[i * n:(i + 1) * n, i * n:(i + 1) * n] -= t
    b = litter_inputs(model, prep, site, p["beta"]).ravel()
    return m, b, xi, xil, kk


def dense_steady_state(model, prep, theta, site=0):
    """Steady-state pools (8, nlev) g C m-3: dense litter solve + closed-form soil pools.
    No validity checks (values as computed, NaN/inf where the closed form has none)."""
    p = dict(zip(model.parameters.names, theta))
    n = model.nlev
    m, b, xi, _, kk = dense_litter_system(model, prep, theta, site)
    lit = np.linalg.solve(m, -b).reshape(4, n)
    f1, f2, f3 = kk[1] * lit[1], kk[2] * lit[2], kk[3] * lit[3]
    i_doc = f1 * p["pl1s1"] + f2 * p["pl2s1"]
    i_mic = (f1 * (1 - p["pl1s1"]) * p["l1_cue"] + f2 * (1 - p["pl2s1"]) * p["l2l3_cue"]
             + f3 * (1 - p["pl3s4"]) * p["l2l3_cue"])
    i_soc = f3 * p["pl3s4"]
    ks1, kd, ke, ks3, ks4 = (1.0 / (DPY * p[k]) for k in ("tau4s1", "tau4s2_death", "tau4s2_enz", "tau4s3",
                                                          "tau4s4"))
    cue, pd = p["mic_cue"], p["pdeath2soc"]
    mic = (i_mic + cue * (i_soc + i_doc)) / ((1 - cue) * (kd + ke) * xi)
    enz = ke / ks3 * mic
    with np.errstate(divide="ignore", invalid="ignore"):
        soc = (i_soc + pd * kd * xi * mic) * p["mm_const_decom"] * xi / (ks4 * xi * enz - pd * kd * xi * mic - i_soc)
        doc = ((kd + ke) * xi * mic - i_mic) * p["mm_const_assim"] * xi / ((cue * ks1 * xi - (kd + ke) * xi) * mic
                                                                          + i_mic)
    return np.vstack([lit, doc, mic, enz, soc])

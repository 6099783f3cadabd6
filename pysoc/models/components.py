"""System-level model components of seed 001 (§2.7, eq. 10–14), per site or grid cell, from
the steady state of a model (spec methods.md §3.6): the shared mathematics of the models'
``system_components`` capability (:mod:`pysoc.proda.components` applies it to grid cells).

With x_{j,z} the steady-state carbon of pool j in layer z (g C m-3), Δz the layer
thickness and F_{j,z} the carbon leaving pool j in layer z by decomposition or
transformation (g C m-3 yr-1):

- ``cte`` (eq. 10): carbon transfer efficiency Σ_j a_j F_j / Σ_j F_j, where
  F_j = Σ_z F_{j,z} Δz and a_j = Σ_i a_ij is the fraction of the outflow of pool j that stays
  in the soil system (CLM5: the transfer coefficients of the A matrix; COMPAS: transfers
  and microbial growth, a_j = 1 − respired fraction). Identity used in the tests:
  Rh = (1 − CTE) Σ_j F_j.
- ``k_system`` (eq. 11, yr-1): Σ_j k_j X_j / Σ_j X_j with X_j = Σ_z x_{j,z} Δz and k_j the
  baseline rate at optimal conditions: CLM5 1/τ_j; COMPAS (Michaelis-Menten pools) the
  effective first-order rate F_j / Σ_z ξ_z x_{j,z} Δz (reduces to 1/τ_j for linear pools).
- ``xi_system`` (eq. 13, 1): Σ_z ξ_z X_z / Σ_z X_z with ξ_z the product of the temperature,
  water (and oxygen) scalars and the depth scalar in layer z (CLM5: mean over the months
  of the monthly products, as the kernel; COMPAS: the kernel's ξ), X_z = Σ_j x_{j,z} Δz.
- ``v_system`` (eq. 12, yr-1): Σ_z v_z X_z / Σ_z X_z with v_z the rate at which carbon
  leaves layer z by vertical mixing, the diagonal of the transport operator T (mean over
  the months). COMPAS mixes litter only (its mineral pools are immobile).
- ``b_system`` (eq. 14, 1): [Σ_z exp(ln(1 − Y_z)/D_z) / n]^5, Y_z the cumulative fraction of
  the input above the bottom D_z (cm) of layer z; the bottom layer (Y = 1, ln 0 undefined)
  is left out, so a Jackson profile gives exactly β^5, the share of the input below 5 cm.

Also returned: ``input`` (g C m-2 yr-1), ``rh`` (kernel), ``total_flux`` Σ_j F_j.
"""

from __future__ import annotations

import numpy as np

#: the components of :meth:`~pysoc.models.base.SoilCarbonModel.system_components`: name -> (units, meaning)
COMPONENTS = {
    "cte": ("1", "system-level carbon transfer efficiency (seed 001 eq. 10)"),
    "k_system": ("yr-1", "system-level baseline decomposition rate (seed 001 eq. 11)"),
    "xi_system": ("1", "system-level environmental modifier (seed 001 eq. 13)"),
    "v_system": ("yr-1", "system-level vertical transport rate (seed 001 eq. 12)"),
    "b_system": ("1", "system-level input allocation index: share of inputs below 5 cm (seed 001 eq. 14)"),
}


def q10_scalar(tsoi, q10):
    """CLM5/PRODA temperature scalar (K): Q10^((T - 298.15)/10) above freezing, continuous
    Q10^(-2.5) Q10^((T - 273.15)/10) below (froz_q10 = q10)."""
    return np.where(tsoi >= 273.15, q10 ** ((tsoi - 298.15) / 10.0), q10 ** (-2.5) * q10 ** ((tsoi - 273.15) / 10.0))


def diffusivity_profile(zisoi, nbedrock, alt, bio, cryo) -> np.ndarray:
    """Diffusivity D_j (m2 yr-1) per layer interface (spec models.md §2.6) for arrays of
    cells: nbedrock, alt, bio, cryo (n,) -> (n, nlev)."""
    zisoi = np.asarray(zisoi, float)
    nlev = zisoi.size
    n = np.size(alt)
    j = np.arange(nlev)[None, :]
    nb = np.asarray(nbedrock, int)[:, None]
    alt = np.asarray(alt, float)[:, None]
    bio = np.asarray(bio, float)[:, None]
    cryo = np.asarray(cryo, float)[:, None]
    active = j < np.minimum(nb + 1, nlev)
    zb = np.where(nb[:, 0] < nlev, zisoi[np.clip(nb[:, 0], 0, nlev - 1)], 3.0)[:, None]
    zlim = np.minimum(3.0, zb)
    zj = np.broadcast_to(zisoi[None, :], (n, nlev))
    with np.errstate(divide="ignore", invalid="ignore"):
        lin = np.where(zlim > alt, np.maximum(cryo * (1.0 - (zj - alt) / (zlim - alt)), 0.0), 0.0)
    d_cryo = np.where(zj < alt, cryo, lin)
    d = np.where((alt > 0) & (alt <= 2.0), d_cryo, np.where(alt > 0, bio, 0.0))
    d = np.where(active, d, 0.0)
    return np.where(np.abs(d) < 1e-30, 1e-30, d)


def transport_diagonal(dz, zisoi, zsoi, dcoef) -> np.ndarray:
    """Diagonal of the zero-flux transport operator T (yr-1) for diffusivities dcoef (n, nlev)."""
    dz, zisoi, zsoi = (np.asarray(a, float) for a in (dz, zisoi, zsoi))
    dnode = zsoi[1:] - zsoi[:-1]
    w = (zsoi[1:] - zisoi[:-1]) / dnode
    c = 1.0 / ((1.0 - w) / dcoef[:, :-1] + w / dcoef[:, 1:]) / dnode        # (n, nlev-1) interface j|j+1
    diag = np.zeros_like(dcoef)
    diag[:, :-1] += c
    diag[:, 1:] += c
    return diag / dz[None, :]


def input_tail(zisoi, beta, surface_only) -> np.ndarray:
    """1 − Y_z (n, nlev): share of the Jackson-profile input below the bottom of each layer."""
    zisoi = np.asarray(zisoi, float)
    beta = np.asarray(beta, float)[:, None]
    dcm = 100.0 * zisoi[None, :]
    bot = beta ** dcm[:, -1:]
    tail = (beta ** dcm - bot) / (1.0 - bot)
    tail = np.clip(tail, 0.0, 1.0)
    tail[:, -1] = 0.0
    return np.where(np.asarray(surface_only, bool)[:, None], 0.0, tail)


def b_system(zisoi, tail) -> np.ndarray:
    """Eq. 14 from the input tails (n, nlev); the bottom layer and layers with no input
    below are left out of the mean (ln 0)."""
    dcm = 100.0 * np.asarray(zisoi, float)[None, :]
    valid = tail > 0
    with np.errstate(divide="ignore"):
        per_cm = np.where(valid, np.exp(np.log(np.where(valid, tail, 1.0)) / dcm), 0.0)
    nvalid = valid.sum(axis=1)
    mean = np.where(nvalid > 0, per_cm.sum(axis=1) / np.maximum(nvalid, 1), 0.0)
    return mean ** 5


def weighted(v, w):
    """Row-wise weighted mean of v (n, m) with weights w (n, m); NaN where the weights sum to 0."""
    s = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(s > 0, (v * w).sum(axis=1) / s, np.nan)


def assemble(dz, zisoi, pools, fcol, a, k, xi, vdiag, beta, surface_only) -> dict:
    """The components from the per-pool column outflows ``fcol`` (n, npool) g C m-2 yr-1, the
    fractions ``a`` (n, npool) of them that stay in the soil, the baseline rates ``k`` (n, npool)
    yr-1, the environmental scalar ``xi`` (n, nlev), the transport diagonal ``vdiag`` (n, nlev)
    yr-1, the Jackson ``beta`` (n,) and ``surface_only`` (n,) (inputs all at the surface)."""
    stock_pool = (pools * dz).sum(axis=2)                     # (n, npool) g C m-2
    stock_layer = (pools * dz).sum(axis=1)                    # (n, nlev)
    total_flux = fcol.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cte = np.where(total_flux > 0, (a * fcol).sum(axis=1) / total_flux, np.nan)
    return {
        "cte": cte,
        "k_system": weighted(k, stock_pool),
        "xi_system": weighted(xi, stock_layer),
        "v_system": weighted(vdiag, stock_layer),
        "b_system": b_system(zisoi, input_tail(zisoi, beta, surface_only)),
        "total_flux": total_flux,
        "respiration_from_components": ((1.0 - a) * fcol).sum(axis=1),
    }

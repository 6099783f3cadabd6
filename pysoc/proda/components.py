"""System-level model components of seed 001 (§2.7, eq. 10–14) of grid cells or sites, from
the steady state of a model (spec methods.md §3.6).

Each model computes them itself (its ``system_components`` capability,
:meth:`pysoc.models.base.SoilCarbonModel.system_components`), with the shared mathematics
of :mod:`pysoc.models.components` (definitions of ``cte``, ``k_system``, ``xi_system``,
``v_system``, ``b_system`` there). This module asks the model and sets the rows whose
kernel status is not ok to NaN; it names no model.
"""

from __future__ import annotations

import numpy as np

from pysoc import _status
from pysoc.models.components import (COMPONENTS, b_system, diffusivity_profile, input_tail,  # noqa: F401
                                     transport_diagonal)


def system_components(model, prep, theta, pools, site_index=None, status=None) -> dict:
    """Components of ``COMPONENTS`` (n,) of steady states, from the model's
    ``system_components`` capability.

    Parameters
    ----------
    model : pysoc.models.base.SoilCarbonModel
        A model providing ``system_components``.
    prep : prepared forcing
        As the model's ``prepare`` or ``cell_forcing`` returns.
    theta : array_like
        (n, npar) physical parameter vectors.
    pools : array_like
        (n, npool, nlev) steady-state pools the kernel returned for them.
    site_index : array_like of int, optional
        (n,) 0-based site of each vector (default: row i on site i).
    status : array_like of int, optional
        (n,) kernel status; rows not ok give NaN.

    Returns
    -------
    dict
        Name -> (n,) array.

    Raises
    ------
    ConfigError
        The model does not provide ``system_components``.
    """
    model.require("system_components", "the system-level components")
    theta = np.atleast_2d(np.asarray(theta, float))
    pools = np.asarray(pools, float)
    n = theta.shape[0]
    site_index = np.arange(n) if site_index is None else np.asarray(site_index, int)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = model.system_components(prep, theta, pools, site_index)
    if status is not None:
        bad = np.asarray(status) != _status.OK
        for v in out.values():
            v[bad] = np.nan
    return out

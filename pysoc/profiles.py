"""Vertical profile arithmetic shared by outputs and observation operators:
integrals and means of piecewise-constant layer profiles over depth intervals."""

from __future__ import annotations

import numpy as np

#: default reporting intervals (m): 0-30, 0-100, 0-200 cm; the whole column is added
STANDARD_INTERVALS = ((0.0, 0.3), (0.0, 1.0), (0.0, 2.0))


def overlap_matrix(bounds: np.ndarray, intervals: np.ndarray) -> np.ndarray:
    """Thickness (m) of the overlap of every model layer with every interval.

    bounds: (nlev, 2) layer top/bottom depths (m); intervals: (nint, 2) top/bottom (m).
    Returns W (nint, nlev) such that W @ conc gives the integral over each interval of a
    piecewise-constant profile (conc in X m-3 -> X m-2)."""
    bounds = np.asarray(bounds, dtype=float)
    intervals = np.atleast_2d(np.asarray(intervals, dtype=float))
    top = np.maximum(intervals[:, None, 0], bounds[None, :, 0])
    bot = np.minimum(intervals[:, None, 1], bounds[None, :, 1])
    return np.clip(bot - top, 0.0, None)


def _weighted_sums(conc, w: np.ndarray) -> np.ndarray:
    """sum_l conc[..., l] * w[i, l] -> (..., nint), each row summed on its own: the bits of a
    row do not depend on how many rows there are (a BLAS product's do, through its blocking,
    which made batched and MPI-split results differ in the last bit)."""
    conc = np.asarray(conc, dtype=float)
    return (conc[..., None, :] * w).sum(axis=-1)


def interval_integrals(conc: np.ndarray, bounds: np.ndarray, intervals) -> np.ndarray:
    """Integrals over depth intervals of layer concentrations conc (..., nlev) -> (..., nint).

    Each row is computed independently of the others (bitwise the same alone or in a batch).

    Examples
    --------
    >>> b = np.array([[0.0, 0.1], [0.1, 0.3]])
    >>> interval_integrals(np.array([[1000.0, 500.0]]), b, [(0.0, 0.2)])
    array([[150.]])
    """
    return _weighted_sums(conc, overlap_matrix(bounds, intervals))


def interval_means(conc: np.ndarray, bounds: np.ndarray, intervals) -> np.ndarray:
    """Mean concentration over each interval (only the part of the interval covered by
    the model column counts). Intervals entirely below the column give NaN."""
    w = overlap_matrix(bounds, intervals)
    cover = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _weighted_sums(conc, w) / np.where(cover > 0, cover, np.nan)


def stock_intervals(bounds: np.ndarray) -> np.ndarray:
    """The standard intervals plus the whole column, (nint, 2)."""
    zmax = float(np.asarray(bounds)[-1, 1])
    return np.array(list(STANDARD_INTERVALS) + [(0.0, zmax)])


def interval_labels(intervals) -> list[str]:
    out = []
    for top, bot in np.atleast_2d(intervals):
        out.append(f"{100 * top:g}-{100 * bot:g} cm")
    return out

"""Process-informed predictors and the process part of the hybrid Rh model.

Both use the decomposition response of a soil-carbon model, asked from the model object
(``model.decomposition_scalars(soil_temperature_k, water_scalar, params)``, a capability a
model declares by providing the method, with ``decomposition_parameters``); no model is named
here, the model is the namelist key ``&predictors decomposition_model``.

Climate -> scalars, with the approximations of :mod:`pysoc.io.site_forcing` (the project's
site forcing for places without land-model output):

- monthly soil temperature at :data:`SOIL_DEPTH_M` from MAT and the BIO4 amplitude
  (``A = sqrt(2) BIO4 / 100``, damped heat wave ``site_forcing.soil_temperature``);
- water scalar ``w = 1 / (1 + 30 exp(-8.5 P/PET))`` (Century moisture function of the
  aridity ratio, ``site_forcing.century_wfunc``) with Holdridge PET from the monthly
  temperatures (``site_forcing.HOLDRIDGE``).

The decomposition index is the annual mean over the 12 months of ``xi_t(T_m) * xi_w(w)``
with the model's default parameters (dimensionless, 1 = reference conditions). The annual
mean does not depend on the phase of the seasonal cycle, so latitude is not needed.

The process Rh of the hybrid model is ``Rh_proc = exp(b0) * SOC**b1 * index(q10, w_scaling)``,
the first-order decomposition flux of a substrate proxy (SOC 5-15 cm) with the model's
temperature and moisture response, whose parameters (``model.decomposition_parameters``,
within their prior ranges) are calibrated with ``b0`` and ``b1`` by least squares on log Rh.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from scipy.optimize import least_squares

from pysoc.errors import ConfigError, DataError
from pysoc.io import site_forcing as sf

#: depth (m) of the soil temperature fed to the model's temperature function
SOIL_DEPTH_M = 0.1
#: climate inputs of the process part, in this order (predictor names)
PROCESS_INPUTS = ("MAT", "Tseas", "MAP", "SOC")
T_FREEZE = 273.15


def decomposition_model(name: str):
    """The model object that provides ``decomposition_scalars`` (ConfigError otherwise).

    Parameters
    ----------
    name : str
        Registered model name (``pysoc.models.REGISTRY``).

    Returns
    -------
    SoilCarbonModel
        The configured model with default options.

    Raises
    ------
    ConfigError
        Unknown model, or a model that does not provide its decomposition scalars.
    """
    from pysoc.models import get_model
    m = get_model(name)
    if not m.provides("decomposition_scalars"):
        raise ConfigError(f"model {name!r} does not provide decomposition_scalars (temperature and water "
                          f"scalars of its decomposition); choose another &predictors decomposition_model")
    return m


def monthly_soil_temperature(mat_c, bio4, depth_m: float = SOIL_DEPTH_M) -> np.ndarray:
    """Monthly temperature (degC) at ``depth_m`` (0 = air), shape (n, 12)."""
    mat = np.asarray(mat_c, float).reshape(-1, 1, 1)
    amp = (np.sqrt(2.0) * np.asarray(bio4, float) / 100.0).reshape(-1, 1, 1)
    t = sf.soil_temperature(np.array([depth_m]), mat, amp, 1.0)   # (n, 12, 1); phase irrelevant
    return t[..., 0]


def water_scalar(mat_c, bio4, map_mm) -> np.ndarray:
    """Century water scalar of P/PET with Holdridge PET from monthly air temperature (n,)."""
    air = monthly_soil_temperature(mat_c, bio4, 0.0)
    pet = sf.HOLDRIDGE * np.clip(air, 0.0, 30.0).mean(axis=1)
    ratio = np.asarray(map_mm, float) / np.maximum(pet, 1.0)
    return sf.century_wfunc(ratio)


def decomposition_index(model, mat_c, bio4, map_mm, params: Mapping[str, float] | None = None) -> np.ndarray:
    """Annual mean of the model's temperature x water scalars from climate (n,).

    Parameters
    ----------
    model : SoilCarbonModel
        A model with ``decomposition_scalars`` (see :func:`decomposition_model`).
    mat_c, bio4, map_mm : array_like
        Mean annual temperature (degC), temperature seasonality BIO4 (degC x 100) and mean
        annual precipitation (mm yr-1).
    params : mapping, optional
        Parameter overrides passed to the model (e.g. a calibrated ``q10``).

    Returns
    -------
    numpy.ndarray
        The index (dimensionless); NaN where an input is missing.

    Examples
    --------
    >>> import numpy as np
    >>> class Toy:   # q10 = 2 about 25 degC, water scalar as given
    ...     def decomposition_scalars(self, t_k, w, params=None):
    ...         return 2.0 ** ((np.asarray(t_k) - 298.15) / 10.0), np.broadcast_to(w, np.shape(t_k))
    >>> idx = decomposition_index(Toy(), [5.0, 25.0], [0.0, 0.0], [3000.0, 3000.0])
    >>> round(float(idx[1] / idx[0]), 3)    # 20 degC warmer, wet: 2**2
    4.0
    """
    mat, b4, p = (np.asarray(a, float).ravel() for a in (mat_c, bio4, map_mm))
    out = np.full(mat.shape, np.nan)
    ok = np.isfinite(mat) & np.isfinite(b4) & np.isfinite(p)
    if not ok.any():
        return out
    t = monthly_soil_temperature(mat[ok], b4[ok])
    w = water_scalar(mat[ok], b4[ok], p[ok])
    xt, xw = model.decomposition_scalars(t + T_FREEZE, np.broadcast_to(w[:, None], t.shape), params)
    out[ok] = np.mean(np.asarray(xt) * np.asarray(xw), axis=1)
    return out


class ProcessRh:
    """First-order process Rh with calibrated temperature and moisture response.

    ``Rh = exp(b0) * SOC**b1 * decomposition_index(model, climate, {calibrated params})``.

    Parameters
    ----------
    model : SoilCarbonModel
        Model with ``decomposition_scalars`` and ``decomposition_parameters``.
    """

    def __init__(self, model):
        self.model = model
        names = tuple(getattr(model, "decomposition_parameters", ()))
        specs = [model.parameters.specs[model.parameters.index(n)] for n in names]
        self.names = names
        self.bounds = [(float(s.prior_min), float(s.prior_max)) for s in specs]
        self.start = [float(min(max(s.default, lo), hi)) for s, (lo, hi) in zip(specs, self.bounds)]
        self.coef: np.ndarray | None = None

    def _predict(self, theta: np.ndarray, Xp: np.ndarray) -> np.ndarray:
        b0, b1, *rest = theta
        idx = decomposition_index(self.model, Xp[:, 0], Xp[:, 1], Xp[:, 2], dict(zip(self.names, rest)))
        return np.exp(b0) * np.maximum(Xp[:, 3], 1e-3) ** b1 * idx

    def fit(self, Xp: np.ndarray, y: np.ndarray) -> "ProcessRh":
        """Least squares on log Rh over b0, b1 in [0, 1.5] and the model parameters within
        their prior ranges. ``Xp`` columns: :data:`PROCESS_INPUTS`."""
        Xp, y = np.asarray(Xp, float), np.asarray(y, float)
        if np.any(y <= 0) or not np.all(np.isfinite(Xp)):
            raise DataError("process Rh: needs Rh > 0 and finite MAT, Tseas, MAP, SOC at every record")
        ly = np.log(y)

        def resid(th):
            return np.log(np.maximum(self._predict(th, Xp), 1e-9)) - ly

        lo = [-20.0, 0.0] + [b[0] for b in self.bounds]
        hi = [20.0, 1.5] + [b[1] for b in self.bounds]
        x0 = np.array([np.log(np.mean(y)), 0.2] + self.start)
        x0[0] = ly.mean() - np.mean(np.log(np.maximum(self._predict(np.r_[0.0, x0[1:]], Xp), 1e-9)))
        self.coef = least_squares(resid, x0, bounds=(lo, hi), x_scale="jac").x
        return self

    def predict(self, Xp: np.ndarray) -> np.ndarray:
        """Process Rh (g C m-2 yr-1) at the rows of ``Xp``."""
        if self.coef is None:
            raise ConfigError("ProcessRh: predict before fit")
        return self._predict(self.coef, np.asarray(Xp, float))

    def params(self) -> dict[str, float]:
        """Calibrated coefficients by name (b0, b1 and the model parameters)."""
        return dict(zip(("b0", "b1") + self.names, map(float, self.coef)))

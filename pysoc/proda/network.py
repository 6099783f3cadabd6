"""The PRODA neural network (spec methods.md §3.2–3.3; seeds 001 §2.6, 002).

:class:`ProdaNetwork` is a scikit-learn-style estimator mapping environmental covariates
to normalised model parameters (kp in [0, 1]):

- inputs are min-max normalised to [0, 1] with the training minima/maxima (learned
  ``x_min_`` / ``x_max_``; constant columns map to 0);
- targets are kp values (already the prior box mapped to [0, 1]); predictions are clipped
  to [clip_margin, 1 - clip_margin] (``clip_output``) so that every predicted vector lies
  inside the prior box, away from its singular ends;
- training runs epoch by epoch; after every epoch the validation loss is computed and the
  weights of the epoch with the lowest validation loss are kept (PRODA's best-validation
  epoch selection); ``patience`` stops early after that many epochs without improvement
  (None = run all ``max_epochs``);
- validation: ``X_val``/``y_val`` when given, else a random ``validation_fraction`` of the
  training rows (PRODA: 90/10).

Backends (same API, same selection logic):

- ``'sklearn'`` (default): :class:`sklearn.neural_network.MLPRegressor` trained one epoch
  per ``partial_fit`` call (Adam, squared-error loss, L2 penalty ``alpha``; scikit-learn has
  no dropout and no Adadelta). ``loss`` selects the validation criterion.
- ``'torch'`` (optional extra ``pysoc[torch]``, torch==2.13.0, imported lazily): the exact
  PRODA configuration -- ReLU layers with dropout after each hidden layer, Adadelta,
  mini-batches, loss ``'l1xl2'`` (mean absolute error x mean squared error, seed 001) or
  ``'mse'`` (seed 002).

The PRODA architecture is the default: 4 hidden layers 256-512-512-256, dropout 0.2,
batch 32, up to 6000 epochs.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from pysoc.errors import ConfigError, DataError

LOSSES = ("l1xl2", "mse")
BACKENDS = ("sklearn", "torch")


def loss_value(y_true: np.ndarray, y_pred: np.ndarray, loss: str) -> float:
    e = np.asarray(y_true, float) - np.asarray(y_pred, float)
    if loss == "mse":
        return float(np.mean(e * e))
    if loss == "l1xl2":
        return float(np.mean(np.abs(e)) * np.mean(e * e))
    raise ConfigError(f"unknown loss {loss!r} (known: {', '.join(LOSSES)})")


class ProdaNetwork(RegressorMixin, BaseEstimator):
    """Covariates -> kp regression network (module docstring). Hyper-parameters are stored
    as given and checked in ``fit`` (scikit-learn conventions: ``get_params``,
    ``set_params`` and ``sklearn.base.clone`` work)."""

    def __init__(self, backend: str = "sklearn", hidden_layer_sizes=(256, 512, 512, 256), dropout: float = 0.2,
                 loss: str = "l1xl2", learning_rate: float | None = None, batch_size: int = 32,
                 max_epochs: int = 6000, patience: int | None = 200, validation_fraction: float = 0.1,
                 alpha: float = 1e-4, clip_output: bool = True, clip_margin: float = 1e-3, random_state: int = 0,
                 verbose: bool = False):
        self.backend = backend
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
        self.loss = loss
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.alpha = alpha
        self.clip_output = clip_output
        self.clip_margin = clip_margin
        self.random_state = random_state
        self.verbose = verbose

    def _check_settings(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"ProdaNetwork: backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.loss not in LOSSES:
            raise ConfigError(f"ProdaNetwork: loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        try:
            self._hidden = tuple(int(h) for h in np.atleast_1d(self.hidden_layer_sizes))
        except (TypeError, ValueError):
            raise ConfigError(f"ProdaNetwork: hidden_layer_sizes must be integers, got {self.hidden_layer_sizes!r}") \
                from None
        if not self._hidden or min(self._hidden) < 1:
            raise ConfigError("ProdaNetwork: hidden_layer_sizes must be positive integers")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"ProdaNetwork: dropout must be in [0, 1), got {self.dropout}")
        if int(self.batch_size) < 1 or int(self.max_epochs) < 1:
            raise ConfigError("ProdaNetwork: batch_size and max_epochs must be >= 1")
        if not 0.0 < self.validation_fraction < 1.0:
            raise ConfigError(f"ProdaNetwork: validation_fraction must be in (0, 1), got {self.validation_fraction}")

    # ---- normalisation ------------------------------------------------------------------------
    def _scale(self, X: np.ndarray) -> np.ndarray:
        return (X - self.x_min_) / self.x_range_

    def normalise(self, X) -> np.ndarray:
        """Covariates -> [0, 1] with the training minima and maxima (values outside the
        training range map outside [0, 1])."""
        self._check_fitted()
        return self._scale(self._check_X(X))

    def denormalise(self, Xn) -> np.ndarray:
        """Inverse of :meth:`normalise` (constant columns come back as their constant)."""
        self._check_fitted()
        return np.asarray(Xn, float) * self.x_range_ + self.x_min_

    def _check_X(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if X.ndim != 2:
            raise DataError(f"ProdaNetwork: covariates must be a 2-D array (samples, covariates), got {X.shape}")
        if hasattr(self, "n_features_in_") and X.shape[1] != self.n_features_in_:
            raise DataError(f"ProdaNetwork: {X.shape[1]} covariates given, the network was trained with "
                            f"{self.n_features_in_}")
        if not np.isfinite(X).all():
            i, j = np.argwhere(~np.isfinite(X))[0]
            raise DataError(f"ProdaNetwork: non-finite covariate value (row {i}, column {j}); mask such rows first")
        return X

    def _check_fitted(self) -> None:
        if not hasattr(self, "x_min_"):
            raise ConfigError("ProdaNetwork: not fitted yet (call fit first)")

    # ---- fit / predict ---------------------------------------------------------------------------
    def fit(self, X, y, X_val=None, y_val=None) -> ProdaNetwork:
        self._check_settings()
        X = self._check_X(X)
        y = np.asarray(y, dtype=float)
        if y.ndim == 1:
            y = y[:, None]
        if y.shape[0] != X.shape[0]:
            raise DataError(f"ProdaNetwork: {X.shape[0]} covariate rows but {y.shape[0]} target rows")
        if not np.isfinite(y).all():
            raise DataError("ProdaNetwork: non-finite target value")
        rng = np.random.default_rng(self.random_state)
        if X_val is None:
            n = X.shape[0]
            if n < 2:
                raise DataError("ProdaNetwork: at least 2 samples are needed (training + validation)")
            nval = max(1, int(round(self.validation_fraction * n)))
            perm = rng.permutation(n)
            vi, ti = perm[:nval], perm[nval:]
            X_val, y_val, X, y = X[vi], y[vi], X[ti], y[ti]
        else:
            X_val = np.asarray(X_val, float)
            y_val = np.asarray(y_val, float).reshape(X_val.shape[0], -1)
        self.n_features_in_ = X.shape[1]
        self.n_outputs_ = y.shape[1]
        self.x_min_ = X.min(axis=0)
        self.x_max_ = X.max(axis=0)
        rng_ = self.x_max_ - self.x_min_
        self.x_range_ = np.where(rng_ > 0, rng_, 1.0)
        Xs, Xvs = self._scale(X), self._scale(self._check_X(X_val))
        if self.backend == "sklearn":
            self._fit_sklearn(Xs, y, Xvs, y_val)
        else:
            self._fit_torch(Xs, y, Xvs, y_val)
        return self

    def _raw_predict(self, Xs: np.ndarray) -> np.ndarray:
        if self.backend == "sklearn":
            out = self.model_.predict(Xs)
        else:
            out = _torch_predict(self.model_, Xs)
        return np.asarray(out, float).reshape(Xs.shape[0], self.n_outputs_)

    def _clip(self, out: np.ndarray) -> np.ndarray:
        m = float(self.clip_margin)
        return np.clip(out, m, 1.0 - m) if self.clip_output else out

    def predict(self, X) -> np.ndarray:
        """Predicted targets (n, n_outputs) in kp units, clipped to [margin, 1 - margin]
        (default margin 1e-3: the ends of some prior boxes are singular, e.g. a turnover
        time or an e-folding depth of 0)."""
        self._check_fitted()
        return self._clip(self._raw_predict(self._scale(self._check_X(X))))

    def layer_arrays(self) -> dict:
        """The fitted network as plain arrays (what a saved PRODA model stores): ``x_min``,
        ``x_range`` (ncov,), ``weights`` [(n_in, n_out), ...] and ``biases`` [(n_out,), ...]
        of the ReLU layers (identity output layer), and ``clip_margin`` (None = no clipping).
        ``relu(...relu(((X - x_min) / x_range) @ W0 + b0)...) @ WL + bL``, clipped, is
        :meth:`predict` (both backends; dropout is inactive in prediction).

        Returns
        -------
        dict
            Copies of the arrays (float64).
        """
        self._check_fitted()
        if self.backend == "sklearn":
            weights = [np.array(c, float) for c in self.model_.coefs_]
            biases = [np.array(b, float) for b in self.model_.intercepts_]
        else:
            lin = [m for m in self.model_ if hasattr(m, "weight")]
            weights = [m.weight.detach().numpy().T.astype(float) for m in lin]
            biases = [m.bias.detach().numpy().astype(float) for m in lin]
        return {"x_min": np.array(self.x_min_, float), "x_range": np.array(self.x_range_, float),
                "weights": weights, "biases": biases,
                "clip_margin": float(self.clip_margin) if self.clip_output else None}

    # ---- backends ----------------------------------------------------------------------------
    def _epoch_loop(self, train_epoch, predict_val, y_val, get_state, set_state) -> None:
        best, best_state, best_epoch, since = np.inf, None, 0, 0
        self.loss_curve_, self.val_loss_curve_ = [], []
        for epoch in range(1, int(self.max_epochs) + 1):
            self.loss_curve_.append(float(train_epoch()))
            v = loss_value(y_val, self._clip(predict_val()), self.loss)
            self.val_loss_curve_.append(v)
            if v < best:
                best, best_state, best_epoch, since = v, get_state(), epoch, 0
            else:
                since += 1
            if self.verbose and epoch % 100 == 0:
                print(f"epoch {epoch}: train {self.loss_curve_[-1]:.4g} val {v:.4g} (best {best:.4g} @ {best_epoch})")
            if self.patience is not None and since >= int(self.patience):
                break
        set_state(best_state)
        self.best_epoch_ = best_epoch
        self.best_val_loss_ = float(best)
        self.n_epochs_ = len(self.loss_curve_)

    def _fit_sklearn(self, X, y, Xv, yv) -> None:
        from sklearn.neural_network import MLPRegressor

        lr = 1e-3 if self.learning_rate is None else float(self.learning_rate)
        m = MLPRegressor(hidden_layer_sizes=self._hidden, activation="relu", solver="adam",
                         alpha=float(self.alpha), batch_size=int(min(self.batch_size, X.shape[0])),
                         learning_rate_init=lr, shuffle=True, random_state=int(self.random_state))
        yt = y if y.shape[1] > 1 else y[:, 0]

        def train_epoch():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m.partial_fit(X, yt)
            return m.loss_

        def predict_val():
            return np.asarray(m.predict(Xv), float).reshape(Xv.shape[0], -1)

        def get_state():
            return ([c.copy() for c in m.coefs_], [b.copy() for b in m.intercepts_])

        def set_state(s):
            m.coefs_, m.intercepts_ = [c.copy() for c in s[0]], [b.copy() for b in s[1]]

        self._epoch_loop(train_epoch, predict_val, yv, get_state, set_state)
        self.model_ = m

    def _fit_torch(self, X, y, Xv, yv) -> None:
        torch = _import_torch()
        torch.manual_seed(int(self.random_state))
        gen = torch.Generator().manual_seed(int(self.random_state))
        layers, n_in = [], X.shape[1]
        for h in self._hidden:
            layers += [torch.nn.Linear(n_in, h), torch.nn.ReLU(), torch.nn.Dropout(float(self.dropout))]
            n_in = h
        layers.append(torch.nn.Linear(n_in, y.shape[1]))
        net = torch.nn.Sequential(*layers).double()
        lr = 1.0 if self.learning_rate is None else float(self.learning_rate)
        opt = torch.optim.Adadelta(net.parameters(), lr=lr)
        Xt, yt = torch.from_numpy(np.ascontiguousarray(X)), torch.from_numpy(np.ascontiguousarray(y))
        Xvt = torch.from_numpy(np.ascontiguousarray(Xv))
        bs = int(self.batch_size)

        def crit(pred, target):
            e = pred - target
            if self.loss == "mse":
                return (e * e).mean()
            return e.abs().mean() * (e * e).mean()

        def train_epoch():
            net.train()
            perm = torch.randperm(Xt.shape[0], generator=gen)
            tot, nb = 0.0, 0
            for s in range(0, Xt.shape[0], bs):
                idx = perm[s:s + bs]
                opt.zero_grad()
                lo = crit(net(Xt[idx]), yt[idx])
                lo.backward()
                opt.step()
                tot += float(lo.detach())
                nb += 1
            return tot / max(nb, 1)

        def predict_val():
            net.eval()
            with torch.no_grad():
                return net(Xvt).numpy()

        def get_state():
            return copy.deepcopy(net.state_dict())

        def set_state(s):
            net.load_state_dict(s)

        self._epoch_loop(train_epoch, predict_val, yv, get_state, set_state)
        net.eval()
        self.model_ = net


def _import_torch():
    try:
        import torch
    except ImportError:
        raise ConfigError("the PyTorch backend needs the optional extra: pip install 'pysoc[torch]' "
                          "(torch==2.13.0)") from None
    return torch


def _torch_predict(net, Xs: np.ndarray) -> np.ndarray:
    torch = _import_torch()
    net.eval()
    with torch.no_grad():
        return net(torch.from_numpy(np.ascontiguousarray(Xs, dtype=np.float64))).numpy()


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True

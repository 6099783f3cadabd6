"""A saved, reusable PRODA model (docs/proda.md, "The saved model").

:class:`ProdaModel` holds everything needed to apply a trained PRODA network to new sites
and to score it against baselines, in one NetCDF file of documented arrays (no pickle):

- the network ensembles as stacked arrays (:class:`NetworkEnsemble`): ``best`` (the
  best-guess network), ``boot`` (bootstrap members trained on posterior means) and
  ``draws`` (bootstrap members trained on posterior draws), each with the covariate
  scaling (training minima and ranges) of its members;
- the covariate names (:data:`pysoc.proda.covariates.COVARIATES`) in network order, the
  covariate grid and the distance limit used to sample covariates at sites;
- the soil-carbon model: name, options (vertical grid, ...), the parameter table it was
  trained with (names and prior boxes: the kp -> physical mapping) and the values of the
  parameters the calibration kept fixed (``base_kp``);
- the training sites: ids, coordinates, covariates, posterior means and optima (the
  constant-parameter and random-sampling baselines of ``pysoc-proda evaluate``) and their
  observed layers (the direct random-forest baseline);
- provenance: pysoc version, file-format version, network settings, seed, namelist.

The file is CF-1.8 NetCDF-4 (global attribute ``pysoc_proda_model_format``); a file of an
unknown format version, or one whose parameter table no longer matches the model's, is
refused with one clear line. Predictions always go through the stored arrays, so a loaded
model predicts exactly what the saved one did.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

import pysoc
from pysoc.errors import DataError

FORMAT_NAME = "pysoc-proda-model"
FORMAT_VERSION = 1
ENSEMBLES = ("best", "boot", "draws")


# ---- covariate transform ---------------------------------------------------------------------------
@dataclass
class InputTransform:
    """Transform of the covariates before the networks, fitted on the training sites.

    ``'quantile'``: every covariate is mapped through its training empirical distribution
    (piecewise linear between at most 101 quantiles, knots (ncov, nknot) NaN-padded), so that
    skewed covariates (precipitation, biomass, SOC stocks) spread over [0, 1] instead of
    crowding near 0; values beyond the training range map to 0 or 1 (no extrapolation).
    ``'none'``: covariates as they are (the networks still min-max scale them)."""

    kind: str = "none"
    knots: np.ndarray | None = None

    @classmethod
    def fit(cls, X, kind: str = "quantile", n_quantiles: int = 101) -> InputTransform:
        X = np.asarray(X, float)
        if kind == "none":
            return cls("none")
        if kind != "quantile":
            raise DataError(f"input transform must be 'quantile' or 'none', got {kind!r}")
        ks = [np.unique(np.quantile(X[:, j], np.linspace(0.0, 1.0, n_quantiles))) for j in range(X.shape[1])]
        knots = np.full((X.shape[1], max(len(k) for k in ks)), np.nan)
        for j, k in enumerate(ks):
            knots[j, :k.size] = k
        return cls("quantile", knots)

    def apply(self, X) -> np.ndarray:
        X = np.asarray(X, float)
        if self.kind == "none":
            return X
        out = np.empty_like(X)
        for j in range(X.shape[1]):
            k = self.knots[j][np.isfinite(self.knots[j])]
            out[:, j] = np.interp(X[:, j], k, np.linspace(0.0, 1.0, k.size)) if k.size > 1 else 0.0
        return out


# ---- network ensembles as arrays ------------------------------------------------------------------
@dataclass
class NetworkEnsemble:
    """Members of one ensemble of feed-forward ReLU networks with the same architecture,
    stacked along a leading member axis.

    x_min, x_range: (nmember, ncov) input scaling; weights[i]: (nmember, n_i, n_{i+1});
    biases[i]: (nmember, n_{i+1}); clip_margin: outputs clipped to [m, 1 - m] (None: not);
    y_min, y_max: (nout,) outputs clipped to the range of the training targets (None: not)."""

    x_min: np.ndarray
    x_range: np.ndarray
    weights: list
    biases: list
    clip_margin: float | None = 1e-3
    y_min: np.ndarray | None = None
    y_max: np.ndarray | None = None

    @property
    def n_members(self) -> int:
        return int(self.x_min.shape[0])

    @property
    def n_inputs(self) -> int:
        return int(self.x_min.shape[1])

    @property
    def n_outputs(self) -> int:
        return int(self.weights[-1].shape[2])

    @property
    def hidden_layer_sizes(self) -> tuple[int, ...]:
        return tuple(int(w.shape[2]) for w in self.weights[:-1])

    @classmethod
    def from_networks(cls, nets) -> NetworkEnsemble:
        """Stack fitted :class:`~pysoc.proda.network.ProdaNetwork` objects (same architecture)."""
        arrs = [n.layer_arrays() for n in nets]
        if not arrs:
            raise DataError("a network ensemble needs at least one member")
        shapes = {tuple(w.shape for w in a["weights"]) for a in arrs}
        if len(shapes) != 1:
            raise DataError("the members of a network ensemble must have the same architecture")
        nl = len(arrs[0]["weights"])
        return cls(np.stack([a["x_min"] for a in arrs]), np.stack([a["x_range"] for a in arrs]),
                   [np.stack([a["weights"][i] for a in arrs]) for i in range(nl)],
                   [np.stack([a["biases"][i] for a in arrs]) for i in range(nl)], arrs[0]["clip_margin"])

    def predict(self, X) -> np.ndarray:
        """Outputs (nmember, n, nout) of every member for covariates X (n, ncov)."""
        X = np.asarray(X, float)
        if X.ndim != 2 or X.shape[1] != self.n_inputs:
            raise DataError(f"network ensemble: covariates must have shape (n, {self.n_inputs}), got {X.shape}")
        out = np.empty((self.n_members, X.shape[0], self.n_outputs))
        for m in range(self.n_members):
            a = (X - self.x_min[m]) / self.x_range[m]
            for i, (w, b) in enumerate(zip(self.weights, self.biases)):
                a = a @ w[m] + b[m]
                if i < len(self.weights) - 1:
                    np.maximum(a, 0.0, out=a)
            out[m] = a
        if self.clip_margin is not None:
            np.clip(out, self.clip_margin, 1.0 - self.clip_margin, out=out)
        if self.y_min is not None:
            np.clip(out, self.y_min, self.y_max, out=out)
        return out

    def subset(self, members) -> NetworkEnsemble:
        idx = np.asarray(members, int)
        return NetworkEnsemble(self.x_min[idx], self.x_range[idx], [w[idx] for w in self.weights],
                               [b[idx] for b in self.biases], self.clip_margin, self.y_min, self.y_max)


# ---- training data kept in the model --------------------------------------------------------------
@dataclass
class TrainingSites:
    """The sites a model was trained on (aligned arrays) and their observed layers.

    X: (n, ncov) covariates; kp_mean / kp_optimum: (n, npred) posterior means and optima
    (modes; means when unknown); layer_site: (nlayer,) row of each layer; layer_top,
    layer_bottom (m) and layer_soc (g C m-3)."""

    site_ids: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    X: np.ndarray
    kp_mean: np.ndarray
    kp_optimum: np.ndarray
    layer_site: np.ndarray
    layer_top: np.ndarray
    layer_bottom: np.ndarray
    layer_soc: np.ndarray

    @classmethod
    def from_profiles(cls, profiles, X, kp_mean, kp_optimum=None) -> TrainingSites:
        n = len(profiles)
        rows = np.concatenate([np.full(p.n_layers, i) for i, p in enumerate(profiles)]) if n else np.empty(0, int)
        cat = (lambda f: np.concatenate([f(p) for p in profiles])) if n else (lambda f: np.empty(0))
        return cls(np.array([p.site_id for p in profiles], dtype=object), np.array([p.lat for p in profiles], float),
                   np.array([p.lon for p in profiles], float), np.asarray(X, float), np.asarray(kp_mean, float),
                   np.asarray(kp_mean if kp_optimum is None else kp_optimum, float), rows.astype(np.int32),
                   cat(lambda p: p.top), cat(lambda p: p.bottom), cat(lambda p: p.soc))

    @property
    def n_sites(self) -> int:
        return int(self.site_ids.size)


# ---- the model ------------------------------------------------------------------------------------
@dataclass
class ProdaModel:
    """A trained PRODA model (module docstring): covariates -> kp of the predicted
    parameters -> physical parameter vectors of the soil-carbon model.

    Use :meth:`save` / :meth:`load` for the file, :meth:`predict_kp` and :meth:`theta` for
    parameters, :meth:`predict` (``pysoc-proda predict``) for SOC profiles and stocks at new
    sites and :meth:`evaluate` (``pysoc-proda evaluate``) for held-out scores.

    Examples
    --------
    >>> pm = ProdaModel.load("output/proda_clm5_model.nc")          # doctest: +SKIP
    >>> result = pm.predict("my_sites.csv")                         # doctest: +SKIP
    >>> result.dataset["soc_stock"].sel(depth_interval="0-100 cm")  # doctest: +SKIP
    """

    model_name: str
    model_options: dict
    parameter_names: tuple
    prior_min: np.ndarray
    prior_max: np.ndarray
    predicted: tuple
    base_kp: np.ndarray
    covariates: tuple
    ensembles: dict
    training: TrainingSites
    settings: dict = field(default_factory=dict)
    pysoc_version: str = pysoc.__version__
    created: str = ""
    input_transform: InputTransform = field(default_factory=InputTransform)

    def __post_init__(self):
        self.parameter_names = tuple(str(n) for n in self.parameter_names)
        self.predicted = tuple(str(n) for n in self.predicted)
        self.covariates = tuple(str(n) for n in self.covariates)
        self.base_kp = np.asarray(self.base_kp, float)
        self.columns = np.array([self.parameter_names.index(n) for n in self.predicted], int)
        if "best" not in self.ensembles:
            raise DataError("a PRODA model needs the best-guess network (ensemble 'best')")
        for name, ens in self.ensembles.items():
            if ens.n_inputs != len(self.covariates) or ens.n_outputs != len(self.predicted):
                raise DataError(f"PRODA model: ensemble '{name}' maps {ens.n_inputs} covariates to {ens.n_outputs} "
                                f"parameters, expected {len(self.covariates)} -> {len(self.predicted)}")
        self._model = None

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_training(cls, model, post, profiles, X, covariates, nets: dict, settings: dict | None = None,
                      input_transform: InputTransform | None = None) -> ProdaModel:
        """Assemble a model from the training of ``pysoc-proda``.

        Parameters
        ----------
        model : SoilCarbonModel
            The configured soil-carbon model the site posteriors belong to.
        post : SitePosteriors
            Posteriors of the training sites (rows aligned with ``profiles`` and ``X``).
        profiles : list of Profile
            The training profiles (ids, coordinates, observed layers).
        X : ndarray (n, ncov)
            Covariates of the training sites.
        covariates : sequence
            Covariate objects or names, in column order of ``X``.
        nets : dict
            Ensemble name ('best', 'boot', 'draws') -> NetworkEnsemble or list of fitted
            ProdaNetwork.
        settings : dict, optional
            Provenance and prediction settings (network parameters, grid_file, site_max_km, ...).
        input_transform : InputTransform, optional
            Applied to the covariates before the networks (default: none).

        Returns
        -------
        ProdaModel
        """
        names = [getattr(c, "name", c) for c in covariates]
        ens = {k: v if isinstance(v, NetworkEnsemble) else NetworkEnsemble.from_networks(v)
               for k, v in nets.items() if v is not None and (isinstance(v, NetworkEnsemble) or len(v))}
        p = model.parameters
        optimum = post.mode if post.mode is not None else post.mean
        now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        pm = cls(model.name, dict(model.options), p.names, np.array([s.prior_min for s in p], float),
                 np.array([s.prior_max for s in p], float), post.param_names, post.base_kp, names, ens,
                 TrainingSites.from_profiles(profiles, X, post.mean, optimum), dict(settings or {}),
                 pysoc.__version__, now, input_transform or InputTransform())
        pm._model = model
        return pm

    # -- the soil-carbon model --------------------------------------------------------------------
    @property
    def model(self):
        """The configured soil-carbon model (built from the stored name and options)."""
        if self._model is None:
            from pysoc.models import get_model

            self._model = get_model(self.model_name, **self.model_options)
            self._check_parameter_table(self._model, self.settings.get("source", "PRODA model"))
        return self._model

    def _check_parameter_table(self, model, src) -> None:
        p = model.parameters
        if tuple(p.names) != self.parameter_names:
            raise DataError(f"{src}: trained with the {self.model_name} parameters "
                            f"{', '.join(self.parameter_names)}; this pysoc has {', '.join(p.names)} "
                            f"(retrain the PRODA model)")
        lo = np.array([s.prior_min for s in p], float)
        hi = np.array([s.prior_max for s in p], float)
        bad = np.flatnonzero(~(np.isclose(lo, self.prior_min) & np.isclose(hi, self.prior_max)))
        if bad.size:
            j = int(bad[0])
            raise DataError(f"{src}: parameter {self.parameter_names[j]!r} was trained with the prior box "
                            f"[{self.prior_min[j]:g}, {self.prior_max[j]:g}], this pysoc uses [{lo[j]:g}, {hi[j]:g}] "
                            f"(kp would map to other values; retrain the PRODA model)")

    # -- parameters -------------------------------------------------------------------------------
    def ensemble(self, name: str = "best") -> NetworkEnsemble:
        if name not in self.ensembles:
            raise DataError(f"PRODA model: no ensemble {name!r} (has: {', '.join(self.ensembles)})")
        return self.ensembles[name]

    def band_ensemble(self) -> str:
        """The ensemble used for 5-95 % bands: posterior draws when present (site posterior
        and site sampling uncertainty), else the bootstrap on posterior means, else none."""
        for name in ("draws", "boot"):
            if name in self.ensembles:
                return name
        return "best"

    def predict_kp(self, X, ensemble: str = "best") -> np.ndarray:
        """kp (nmember, n, npred) of the predicted parameters for covariates X (n, ncov)."""
        return self.ensemble(ensemble).predict(self.input_transform.apply(X))

    def full_kp(self, kp) -> np.ndarray:
        """kp of the predicted parameters (..., npred) -> kp of all parameters (..., nall)."""
        kp = np.asarray(kp, float)
        out = np.broadcast_to(self.base_kp, kp.shape[:-1] + (self.base_kp.size,)).copy()
        out[..., self.columns] = kp
        return out

    def theta(self, kp) -> np.ndarray:
        """Physical parameter vectors (..., nall) for kp of the predicted parameters."""
        return self.model.to_physical(self.full_kp(kp))

    def constant_kp(self) -> np.ndarray:
        """The one constant parameter set: mean of the training posterior means (npred,)."""
        return self.training.kp_mean.mean(axis=0)

    # -- use ----------------------------------------------------------------------------------------
    def predict(self, sites, **kw):
        """SOC profiles, stocks and parameters at new sites (:func:`pysoc.proda.predict.predict_sites`)."""
        from pysoc.proda.predict import predict_sites

        return predict_sites(self, sites, **kw)

    def evaluate(self, sites, layers, **kw):
        """Held-out scores against the baselines (:func:`pysoc.proda.scoring.evaluate_model`)."""
        from pysoc.proda.scoring import evaluate_model

        return evaluate_model(self, sites, layers, **kw)

    # -- file -------------------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write the model file (CF-1.8 NetCDF-4, atomically).

        Parameters
        ----------
        path : str or Path
            Output file (``<run>_model.nc`` by convention).

        Returns
        -------
        Path
            The file written.
        """
        from pysoc.io.atomic import atomic_path

        ds = _to_dataset(self)
        path = Path(path)
        with atomic_path(path) as tmp:
            ds.to_netcdf(tmp, format="NETCDF4", engine="netcdf4")
        return path

    @classmethod
    def load(cls, path) -> ProdaModel:
        """Read a model file written by :meth:`save`.

        Parameters
        ----------
        path : str or Path
            The model file.

        Returns
        -------
        ProdaModel

        Raises
        ------
        DataError
            The file is missing, not a PRODA model, of an unsupported format version, or was
            trained with another parameter table than this pysoc's model.
        """
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: PRODA model file not found")
        try:
            with xr.open_dataset(path, engine="netcdf4") as f:
                ds = f.load()
        except Exception as exc:
            raise DataError(f"{path}: cannot read the PRODA model file ({str(exc).splitlines()[0]})") from None
        pm = _from_dataset(ds, path)
        pm.settings["source"] = str(path)
        return pm


# ---- NetCDF layout ----------------------------------------------------------------------------------
def _to_dataset(pm: ProdaModel) -> xr.Dataset:
    tr = pm.training
    data = {
        "covariate_name": (("covariate",), np.array(pm.covariates, dtype=object),
                           {"long_name": "PRODA covariate of each network input (pysoc.proda.covariates)"}),
        "parameter_name": (("parameter",), np.array(pm.predicted, dtype=object),
                           {"long_name": "model parameter of each network output (kp, prior box mapped to [0, 1])"}),
        "model_parameter_name": (("model_parameter",), np.array(pm.parameter_names, dtype=object),
                                 {"long_name": "all parameters of the soil-carbon model"}),
        "prior_min": (("model_parameter",), pm.prior_min, {"units": "1", "long_name": "lower end of the prior box "
                                                           "(parameter units: pysoc parameter table)"}),
        "prior_max": (("model_parameter",), pm.prior_max, {"units": "1", "long_name": "upper end of the prior box"}),
        "base_kp": (("model_parameter",), pm.base_kp, {"units": "1", "long_name": "kp of every parameter; the "
                                                       "parameters not predicted keep these values"}),
        "training_site_id": (("training_site",), np.array(tr.site_ids, dtype=object),
                             {"long_name": "site id of each training site"}),
        "training_lat": (("training_site",), tr.lat, {"units": "degrees_north", "standard_name": "latitude"}),
        "training_lon": (("training_site",), tr.lon, {"units": "degrees_east", "standard_name": "longitude"}),
        "training_covariates": (("training_site", "covariate"), tr.X, {"units": "1", "long_name": "covariates of "
                                "the training sites (units of each covariate: pysoc-proda --list-covariates)"}),
        "training_kp_mean": (("training_site", "parameter"), tr.kp_mean,
                             {"units": "1", "long_name": "posterior mean (kp) of the training sites"}),
        "training_kp_optimum": (("training_site", "parameter"), tr.kp_optimum,
                                {"units": "1", "long_name": "posterior optimum (mode, kp) of the training sites"}),
        "training_layer_site": (("training_layer",), tr.layer_site.astype(np.int32),
                                {"units": "1", "long_name": "row of training_site_id of each observed layer"}),
        "training_layer_top": (("training_layer",), tr.layer_top, {"units": "m", "long_name": "layer top depth"}),
        "training_layer_bottom": (("training_layer",), tr.layer_bottom, {"units": "m",
                                                                         "long_name": "layer bottom depth"}),
        "training_layer_soc": (("training_layer",), tr.layer_soc, {"units": "g m-3", "long_name": "observed SOC "
                                                                   "density of the layer (carbon per m3 of soil)"}),
    }
    if pm.input_transform.kind != "none":
        data["input_knots"] = (("covariate", "knot"), pm.input_transform.knots, {
            "units": "1", "long_name": "training quantiles of each covariate (NaN-padded): the covariates are "
            "mapped piecewise linearly from these knots to [0, 1] before the networks"})
    for name, ens in pm.ensembles.items():
        md = f"member_{name}"
        if ens.y_min is not None:
            data[f"{name}_y_min"] = (("parameter",), ens.y_min, {"units": "1", "long_name": f"ensemble {name}: "
                                     "lowest training target (kp); outputs are clipped to [y_min, y_max]"})
            data[f"{name}_y_max"] = (("parameter",), ens.y_max, {"units": "1", "long_name": f"ensemble {name}: "
                                     "highest training target (kp)"})
        data[f"{name}_x_min"] = ((md, "covariate"), ens.x_min, {"units": "1", "long_name": f"ensemble {name}: "
                                 "training minimum of each covariate (input scaling)"})
        data[f"{name}_x_range"] = ((md, "covariate"), ens.x_range, {"units": "1", "long_name": f"ensemble {name}: "
                                   "training range of each covariate (1 for constant columns)"})
        for i, (w, b) in enumerate(zip(ens.weights, ens.biases)):
            d_in, d_out = f"width_{i}", f"width_{i + 1}"
            data[f"{name}_weight_{i}"] = ((md, d_in, d_out), w, {"units": "1", "long_name": f"ensemble {name}: "
                                          f"weights of layer {i}"})
            data[f"{name}_bias_{i}"] = ((md, d_out), b, {"units": "1", "long_name": f"ensemble {name}: biases of "
                                        f"layer {i}"})
    meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "pysoc_version": pm.pysoc_version,
            "created": pm.created, "model": pm.model_name, "model_options": pm.model_options,
            "ensembles": {k: {"members": e.n_members, "layers": len(e.weights), "clip_margin": e.clip_margin,
                              "clip_to_training": e.y_min is not None} for k, e in pm.ensembles.items()},
            "input_transform": pm.input_transform.kind,
            "settings": {k: v for k, v in pm.settings.items() if k != "source"}}
    attrs = {"Conventions": "CF-1.8", "title": f"PRODA model ({pm.model_name}): covariates -> parameters",
             "institution": "pysoc", "source": f"pysoc {pm.pysoc_version} (pysoc-proda)",
             "history": f"{pm.created} created by pysoc-proda",
             "references": "Tao et al. 2020 Front. Big Data (seed 002); Tao et al. 2024 GCB (seed 001)",
             "comment": "covariates x -> (input_knots transform) -> a = (x - E_x_min[m]) / E_x_range[m]; layer i "
                        "of ensemble E: a = relu(a @ E_weight_i[m] + E_bias_i[m]) (no relu on the last layer); "
                        "output kp clipped to [clip_margin, 1 - clip_margin] and to [E_y_min, E_y_max]; "
                        "docs/proda.md",
             "pysoc_proda_model_format": FORMAT_VERSION, "pysoc_proda_model": json.dumps(meta, default=_json)}
    ds = xr.Dataset(data, attrs=attrs)
    for v in ds.variables:
        if ds[v].dtype.kind == "f":
            ds[v].encoding.update({"zlib": True, "complevel": 4, "_FillValue": None})
    return ds


def _json(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


def _from_dataset(ds: xr.Dataset, path) -> ProdaModel:
    if "pysoc_proda_model" not in ds.attrs:
        raise DataError(f"{path}: not a PRODA model file (no global attribute 'pysoc_proda_model')")
    try:
        meta = json.loads(ds.attrs["pysoc_proda_model"])
    except ValueError:
        raise DataError(f"{path}: the global attribute 'pysoc_proda_model' is not valid JSON") from None
    ver = meta.get("format_version")
    if meta.get("format") != FORMAT_NAME or not isinstance(ver, int):
        raise DataError(f"{path}: not a PRODA model file (format {meta.get('format')!r})")
    if ver != FORMAT_VERSION:
        raise DataError(f"{path}: PRODA model file format {ver} (written by pysoc {meta.get('pysoc_version')}); "
                        f"this pysoc {pysoc.__version__} reads format {FORMAT_VERSION} only: retrain the model with "
                        f"this version or use pysoc {meta.get('pysoc_version')}")
    try:
        ens = {}
        for name, e in meta["ensembles"].items():
            nl = int(e["layers"])
            clip = bool(e.get("clip_to_training"))
            ens[name] = NetworkEnsemble(ds[f"{name}_x_min"].values, ds[f"{name}_x_range"].values,
                                        [ds[f"{name}_weight_{i}"].values for i in range(nl)],
                                        [ds[f"{name}_bias_{i}"].values for i in range(nl)], e["clip_margin"],
                                        ds[f"{name}_y_min"].values if clip else None,
                                        ds[f"{name}_y_max"].values if clip else None)
        kind = meta.get("input_transform", "none")
        tf = InputTransform(kind, ds["input_knots"].values if kind != "none" else None)
        tr = TrainingSites(ds["training_site_id"].values.astype(str).astype(object), ds["training_lat"].values,
                           ds["training_lon"].values, ds["training_covariates"].values,
                           ds["training_kp_mean"].values, ds["training_kp_optimum"].values,
                           ds["training_layer_site"].values.astype(int), ds["training_layer_top"].values,
                           ds["training_layer_bottom"].values, ds["training_layer_soc"].values)
        pm = ProdaModel(meta["model"], meta["model_options"], ds["model_parameter_name"].values.astype(str),
                        ds["prior_min"].values, ds["prior_max"].values, ds["parameter_name"].values.astype(str),
                        ds["base_kp"].values, ds["covariate_name"].values.astype(str), ens, tr,
                        meta.get("settings", {}), meta.get("pysoc_version", "?"), meta.get("created", ""), tf)
    except KeyError as exc:
        raise DataError(f"{path}: PRODA model file is incomplete (missing {exc})") from None
    from pysoc.errors import ConfigError
    from pysoc.proda.covariates import resolve

    try:
        resolve(pm.covariates)
    except ConfigError as exc:
        raise DataError(f"{path}: {exc}") from None
    pm.settings["source"] = str(path)
    pm.model                                    # model and parameter table checked now
    return pm

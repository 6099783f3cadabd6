"""The saved Rh model: the selected estimator, its bootstrap members, predictor list, filters
and gap-fill rule in one file, and prediction at new sites and on the map from it.

File layout (a zip archive, written atomically):

- ``model.json`` — readable metadata: format version, the versions of pysoc, scikit-learn,
  xgboost, numpy and skops it was written with, the predictors and design columns, the
  selected candidate and its hyperparameters, the SRDB filters with the training outlier
  window, the gap-fill distance, the decomposition model, the covariate grid (name and
  sha256), the training summary and the grouped-CV skill with its baselines;
- ``estimators.skops`` — the fitted estimators in the skops format (no pickle): the model
  fitted on all training records, the members refitted on grouped bootstrap resamples (the
  bands), and the two baselines.

:meth:`UpscaleModel.load` reads ``model.json`` first and refuses a file of another format
version or written with another scikit-learn / xgboost minor version (the stored trees may
not mean the same), with one line saying which; only the estimator types listed in
:data:`TRUSTED_TYPES` are loaded.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pysoc.errors import DataError
from pysoc.io.atomic import atomic_path

FORMAT_VERSION = 1
#: estimator types (besides the skops defaults) a model file may contain
TRUSTED_TYPES = (
    "pysoc.upscale.models.HybridRegressor", "pysoc.upscale.models.LinearBaseline",
    "pysoc.upscale.models.MeanBaseline", "sklearn.tree._tree.Tree", "xgboost.core.Booster",
    "xgboost.sklearn.XGBRegressor",
)
#: packages whose major.minor version must match between writing and loading
CHECKED_PACKAGES = ("sklearn", "xgboost")


def versions() -> dict[str, str]:
    """Versions of the packages a model file depends on."""
    import numpy
    import skops
    import sklearn
    import xgboost

    import pysoc
    return {"pysoc": pysoc.__version__, "sklearn": sklearn.__version__, "xgboost": xgboost.__version__,
            "numpy": numpy.__version__, "skops": skops.__version__}


def _minor(v: str) -> str:
    return ".".join(str(v).split(".")[:2])


@dataclass
class UpscaleModel:
    """A fitted Rh model with everything needed to predict at new places.

    ``estimator`` predicts from the design matrix (:meth:`design`); ``members`` give the band;
    ``baselines`` (``mean``, ``linear``: fitted on MAT, MAP) are kept to score new records."""

    estimator: object
    members: list
    baselines: dict
    predictors: list[str]
    columns: list[str]
    candidate: str
    config: dict
    process_inputs: list[str]
    fill_km: float
    zones: str = "koppen"
    decomposition_model: str = ""
    proda_soc_file: str = ""
    proda_soc_var: str = ""
    filters: dict = field(default_factory=dict)
    grid_file: str = ""
    grid_sha256: str = ""
    skill: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    versions: dict = field(default_factory=versions)
    format_version: int = FORMAT_VERSION

    # ------------------------------------------------------------------ file
    def metadata(self) -> dict:
        """Everything but the estimators (the content of ``model.json``)."""
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        for k in ("estimator", "members", "baselines"):
            d.pop(k)
        return d

    def save(self, path: str | Path) -> Path:
        """Write the model file atomically (layout in the module docstring)."""
        import skops.io as sio
        path = Path(path)
        blob = sio.dumps({"estimator": self.estimator, "members": list(self.members), "baselines": self.baselines},
                         compression=zipfile.ZIP_DEFLATED)
        meta = json.dumps(self.metadata(), indent=1, default=_json_default)
        with atomic_path(path) as tmp:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
                z.writestr("model.json", meta)
                z.writestr("estimators.skops", blob)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "UpscaleModel":
        """Read a model file; refuses other format versions and package versions.

        Raises
        ------
        DataError
            Not a model file, incompatible version, or an estimator type outside
            :data:`TRUSTED_TYPES`; one line naming the file.
        """
        import skops.io as sio
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: model file not found")
        try:
            with zipfile.ZipFile(path) as z:
                meta = json.loads(z.read("model.json"))
                blob = z.read("estimators.skops")
        except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
            raise DataError(f"{path}: not a pysoc-upscale model file ({exc})") from None
        _check_versions(path, meta)
        untrusted = [t for t in sio.get_untrusted_types(data=blob) if t not in TRUSTED_TYPES]
        if untrusted:
            raise DataError(f"{path}: model file contains untrusted type(s) {', '.join(untrusted)}; not loaded")
        est = sio.loads(blob, trusted=list(TRUSTED_TYPES))
        kw = {k: meta[k] for k in cls.__dataclass_fields__ if k in meta}
        return cls(estimator=est["estimator"], members=list(est["members"]), baselines=dict(est["baselines"]), **kw)

    # ------------------------------------------------------------------ prediction
    def prepare_grid(self, grid) -> list[str]:
        """Add the derived predictor fields this model needs to ``grid``."""
        from pysoc.upscale.sites import add_derived_fields
        return add_derived_fields(grid, list(self.predictors) + list(self.process_inputs), self.decomposition_model,
                                  self.proda_soc_file, self.proda_soc_var)

    def design(self, table: pd.DataFrame) -> np.ndarray:
        """Design matrix of a predictor table (process inputs first, then the encoded predictors)."""
        from pysoc.upscale.predictors import encode_design
        D = encode_design(table, self.predictors, where="prediction predictors")
        if list(D.columns) != list(self.columns):
            raise DataError(f"design columns {list(D.columns)} differ from the model's {self.columns}")
        X = D.to_numpy(float)
        if self.process_inputs:
            X = np.column_stack([table[list(self.process_inputs)].to_numpy(float), X])
        return X

    def predict_design(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Central prediction and member predictions (n_members, n) of a design matrix."""
        central = np.asarray(self.estimator.predict(X), float)
        mem = (np.stack([np.asarray(m.predict(X), float) for m in self.members]) if self.members
               else central[None, :])
        return central, mem

    def predict_sites(self, grid, lat, lon) -> pd.DataFrame:
        """Rh at sites (g C m-2 yr-1): ``rh``, ``rh_p05``, ``rh_p95`` (5-95 % of the members),
        ``rh_sd``, ``status`` ('ok' / 'not predicted') and ``reason``; predictors from the grid
        under the model's gap-fill rule (no observations needed)."""
        from pysoc.upscale.sites import sample_table
        need = list(dict.fromkeys(list(self.predictors) + list(self.process_inputs)))
        tab = sample_table(grid, lat, lon, need, self.fill_km, self.zones)
        ok = (tab["reason"] == "").to_numpy()
        out = pd.DataFrame({"rh": np.nan, "rh_p05": np.nan, "rh_p95": np.nan, "rh_sd": np.nan,
                            "status": np.where(ok, "ok", "not predicted"), "reason": tab["reason"].to_numpy(),
                            "fill_km_max": tab["fill_km_max"].to_numpy(), "zone": tab["zone"].to_numpy()})
        if ok.any():
            central, mem = self.predict_design(self.design(tab[ok]))
            out.loc[ok, "rh"] = central
            out.loc[ok, "rh_p05"] = np.percentile(mem, 5, axis=0)
            out.loc[ok, "rh_p95"] = np.percentile(mem, 95, axis=0)
            out.loc[ok, "rh_sd"] = mem.std(axis=0, ddof=1) if len(mem) > 1 else 0.0
        return out

    def describe(self) -> str:
        """One line: candidate, hyperparameters, predictors, training size and skill."""
        g = self.skill.get("selected", {})
        return (f"{self.candidate} {self.config} on {len(self.predictors)} predictors "
                f"({', '.join(self.predictors)}); {self.training.get('n_records', '?')} records; "
                f"grouped-CV R2 {g.get('R2', float('nan')):.3f} RMSE {g.get('RMSE', float('nan')):.1f}")


def _check_versions(path: Path, meta: dict) -> None:
    fv = meta.get("format_version")
    if fv != FORMAT_VERSION:
        raise DataError(f"{path}: model file format version {fv}, this pysoc reads version {FORMAT_VERSION}; "
                        f"refit with pysoc-upscale")
    have = versions()
    for pkg in CHECKED_PACKAGES:
        was = str(meta.get("versions", {}).get(pkg, "?"))
        if _minor(was) != _minor(have[pkg]):
            raise DataError(f"{path}: model written with {pkg} {was}, this environment has {pkg} {have[pkg]} "
                            f"(pysoc {meta.get('versions', {}).get('pysoc', '?')}); refit with pysoc-upscale")


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")

"""Scoring a saved Rh model on records it has not seen (``pysoc-upscale evaluate``).

The records go through the filters stored with the model — with the outlier window of the
training table, never recomputed on the new records — then the model predicts at their
coordinates exactly as at any new site, and the skill is reported next to the model's
stored baselines (training mean, linear MAT + MAP fitted on the training records).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pysoc.errors import DataError
from pysoc.upscale.models import skill
from pysoc.upscale.sites import sample_table
from pysoc.upscale.srdb import FilterOptions, apply_filters, read_srdb


@dataclass
class Evaluation:
    """Per-record predictions and the skill table."""

    table: pd.DataFrame
    skill: pd.DataFrame
    lines: list[str] = field(default_factory=list)


def evaluate_records(model, grid, path) -> Evaluation:
    """Filter (stored filters), predict and score SRDB records.

    Parameters
    ----------
    model : UpscaleModel
        A loaded model (with :meth:`~pysoc.upscale.saved.UpscaleModel.prepare_grid` done).
    grid : CovariateGrid
    path : str or Path
        SRDB CSV with ``Rh_annual``.

    Returns
    -------
    Evaluation

    Raises
    ------
    DataError
        Unreadable records, or fewer than 2 records that pass the filters and can be predicted.
    """
    rec = read_srdb(path)
    opts = FilterOptions.from_dict(model.filters)
    kept, rep = apply_filters(rec, opts)
    lines = rep.lines()
    lat, lon = kept["Latitude"].to_numpy(float), kept["Longitude"].to_numpy(float)
    pred = model.predict_sites(grid, lat, lon)
    base = sample_table(grid, lat, lon, ["MAT", "MAP"], model.fill_km, model.zones)
    ok = (pred["status"] == "ok").to_numpy() & (base["reason"] == "").to_numpy()
    if ok.sum() < 2:
        raise DataError(f"{path}: {int(ok.sum())} record(s) pass the model's filters and can be predicted (need 2)")
    y = kept["Rh_annual"].to_numpy(float)[ok]
    Xb = base.loc[ok, ["MAT", "MAP"]].to_numpy(float)
    rows = []
    for name, p in ((model.candidate, pred["rh"].to_numpy(float)[ok]),
                    ("training mean", model.baselines["mean"].predict(Xb)),
                    ("linear MAT + MAP", model.baselines["linear"].predict(Xb))):
        rows.append({"model": name, **skill(y, p)})
    sk = pd.DataFrame(rows)
    lines.append(f"records predicted: {int(ok.sum())} of {len(kept)} that pass the filters"
                 + (f" ({int((~ok).sum())} beyond {model.fill_km:g} km of a predictor)" if (~ok).any() else ""))
    for r in sk.itertuples():
        lines.append(f"  {r.model:<17s} R2 {r.R2:.3f}  NSE {r.NSE:.3f}  RMSE {r.RMSE:.1f}  bias {r.bias:+.1f}  n {r.n}")
    table = kept[["Record_number", "Latitude", "Longitude", "Rh_annual"]].reset_index(drop=True).join(pred)
    table["rh_linear"] = np.nan
    table.loc[ok, "rh_linear"] = model.baselines["linear"].predict(Xb)
    return Evaluation(table, sk, lines)

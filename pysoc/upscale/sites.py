"""Predictor tables at sites: derived grid fields (decomposition index, PRODA SOC), the
training table of the filtered SRDB records, and site tables for prediction (coordinates
only, no observations).

Every predictor value at a site comes from the covariate grid under the one gap-fill rule
of :meth:`pysoc.upscale.grid.CovariateGrid.sample` (the value of the site's own cell, else of
the nearest cell with a value within ``fill_km``), so a site gets the value of its map cell.
Sites without a value within ``fill_km`` are listed with the reason and left out.

Only the seed-004 configuration departs from this, on request (``site_climate='record'``,
``site_vegetation='record'``: SRDB-reported MAT/MAP and ecosystem type at training sites).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pysoc.errors import DataError
from pysoc.upscale.grid import CovariateGrid, assign_site_vegetation
from pysoc.upscale.models import cell_ids, site_ids
from pysoc.upscale.predictors import climate_zone_from_koppen, climate_zone_from_latitude

#: coordinate column spellings accepted in site tables (first match wins)
LAT_COLUMNS = ("lat", "latitude", "Latitude", "LAT", "Lat")
LON_COLUMNS = ("lon", "longitude", "Longitude", "LON", "Lon", "long")


@dataclass
class SiteData:
    """Training table: records with predictors, zone, site and cell ids; design matrix, target
    and the records left out (with the reason)."""

    table: pd.DataFrame
    design: pd.DataFrame
    y: np.ndarray
    dropped: pd.DataFrame
    lines: list[str] = field(default_factory=list)


def add_derived_fields(grid: CovariateGrid, predictors, decomposition_model: str = "",
                       proda_soc_file: str = "", proda_soc_var: str = "") -> list[str]:
    """Compute the process-informed predictor fields needed by ``predictors`` onto ``grid``.

    Parameters
    ----------
    grid : CovariateGrid
    predictors : iterable of str
    decomposition_model : str
        Model giving ``decomposition_scalars`` (needed for DecompIndex and SOCxDecomp).
    proda_soc_file, proda_soc_var : str
        NetCDF and variable of a PRODA SOC map (needed for PRODA_SOC).

    Returns
    -------
    list of str
        Descriptions of the fields computed.

    Raises
    ------
    ConfigError, DataError
        A process predictor without its source, naming the namelist key.
    """
    from pysoc.errors import ConfigError
    notes = []
    preds = set(predictors)
    if preds & {"DecompIndex", "SOCxDecomp"}:
        if not decomposition_model:
            raise ConfigError("predictors DecompIndex/SOCxDecomp need &predictors decomposition_model")
        from pysoc.upscale.process import decomposition_index, decomposition_model as get
        m = get(decomposition_model)
        idx = decomposition_index(m, grid.predictor_field("MAT"), grid.predictor_field("Tseas"),
                                  grid.predictor_field("MAP")).reshape(grid.LAT.shape)
        grid.add_field("DecompIndex", idx)
        grid.add_field("SOCxDecomp", idx * grid.predictor_field("SOC"))
        notes.append(f"decomposition index from the temperature and water scalars of model {decomposition_model!r}")
    if "PRODA_SOC" in preds:
        if not proda_soc_file or not proda_soc_var:
            raise ConfigError("predictor PRODA_SOC needs &predictors proda_soc_file and proda_soc_var")
        from pysoc.upscale.turnover import load_csoil_file
        grid.add_field("PRODA_SOC", load_csoil_file(proda_soc_file, proda_soc_var, grid.lat, grid.lon))
        notes.append(f"PRODA SOC map {Path(proda_soc_file).name}:{proda_soc_var} (g C m-2)")
    return notes


def sample_table(grid: CovariateGrid, lat, lon, predictors, fill_km: float, zones: str = "koppen") -> pd.DataFrame:
    """Predictor columns, ``Veg`` (grid class), ``koppen``, ``zone``, ``site``, ``cell`` and
    ``reason`` ('' = every predictor found) at the locations."""
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    need = [p for p in predictors if p != "Veg"]
    s = grid.sample(lat, lon, need + (["Veg"] if "Veg" in predictors else []), fill_km)
    rec = pd.DataFrame({"Latitude": lat, "Longitude": lon})
    s["Veg"] = assign_site_vegetation(rec, s, "grid")
    s["zone"] = (climate_zone_from_koppen(s["koppen"].to_numpy(), lat) if zones == "koppen"
                 else climate_zone_from_latitude(lat))
    s["site"] = site_ids(lat, lon)
    s["cell"] = cell_ids(lat, lon)
    return s


def training_table(records: pd.DataFrame, grid: CovariateGrid, predictors, fill_km: float,
                   site_climate: str = "grid", site_vegetation: str = "grid", zones: str = "koppen",
                   extra: tuple[str, ...] = ()) -> SiteData:
    """Predictors at the filtered SRDB records; records without a value within ``fill_km``
    are left out (listed in ``dropped`` with the reason).

    ``extra`` predictors are sampled too (e.g. the MAT/MAP of the linear baseline and the
    process inputs of the hybrid model) but are not part of ``design``.
    """
    from pysoc.upscale.predictors import encode_design
    lat, lon = records["Latitude"].to_numpy(float), records["Longitude"].to_numpy(float)
    allp = list(dict.fromkeys(list(predictors) + list(extra)))
    s = sample_table(grid, lat, lon, allp, fill_km, zones)
    s.index = records.index
    rec = records.rename(columns={c: f"{c}_record" for c in records.columns if c in s.columns})
    tab = pd.concat([rec, s], axis=1)
    lines = []
    if site_climate == "record":
        for p in ("MAT", "MAP"):
            if p in allp and f"{p}_record" in tab.columns:
                r = pd.to_numeric(tab[f"{p}_record"], errors="coerce").to_numpy(float)
                use = np.isfinite(r)
                tab[p] = np.where(use, r, tab[p].to_numpy())
                lines.append(f"  {p}: SRDB-reported value at {int(use.sum())} records, grid elsewhere")
    if site_vegetation == "record":
        tab["Veg"] = record_vegetation(tab)
    ok = (tab["reason"] == "").to_numpy() & tab["Veg"].notna().to_numpy()
    tab.loc[~ok & (tab["reason"] == ""), "reason"] = "no vegetation class"
    dropped = tab.loc[~ok, ["Record_number", "Latitude", "Longitude", "reason"]].reset_index(drop=True)
    lines.append(f"  records without a gridded predictor within {fill_km:g} km: {int((~ok).sum())} left out"
                 + (" (" + "; ".join(f"{r} {n}" for r, n in dropped["reason"].value_counts().items()) + ")"
                    if len(dropped) else ""))
    tab = tab[ok].copy()
    design = encode_design(tab, list(predictors), where="site predictors")
    return SiteData(tab, design, tab["Rh_annual"].to_numpy(float), dropped, lines)


def record_vegetation(tab: pd.DataFrame) -> np.ndarray:
    """Seed-004 vegetation class of training records: SRDB Ecosystem_type and Leaf_habit (with
    the grid's forest-type shares), the grid class where the record has none."""
    return assign_site_vegetation(tab, tab, "record")


def seed_table(tab: pd.DataFrame) -> pd.DataFrame:
    """The training table with the seed's site values: SRDB MAT/MAP where reported (grid
    elsewhere) and the SRDB ecosystem type for the vegetation class."""
    t = tab.copy()
    for p in ("MAT", "MAP"):
        if f"{p}_record" in t.columns:
            r = pd.to_numeric(t[f"{p}_record"], errors="coerce").to_numpy(float)
            t[p] = np.where(np.isfinite(r), r, t[p].to_numpy(float))
    t["Veg"] = record_vegetation(t)
    return t


def read_sites(spec) -> pd.DataFrame:
    """Sites to predict at: a CSV/TSV table with latitude and longitude columns (spellings
    :data:`LAT_COLUMNS`, :data:`LON_COLUMNS`), or a list of ``"LAT,LON"`` strings.

    Returns
    -------
    pandas.DataFrame
        The table with ``lat``, ``lon`` (float; NaN where not a number), ``site_row`` (line
        of the file, or position of the coordinate string) and ``site_ref`` (``file:line`` or
        ``site N``, used in messages).

    Raises
    ------
    DataError
        Unreadable file or no coordinate columns (naming the file).
    """
    items = [spec] if isinstance(spec, (str, Path)) else list(spec)
    if len(items) == 1 and Path(str(items[0])).is_file():
        path = Path(str(items[0]))
        try:
            df = pd.read_csv(path, sep=None, engine="python", dtype=str, keep_default_na=False)
        except Exception as exc:
            raise DataError(f"{path}: cannot read the site table ({exc})") from None
        la = next((c for c in LAT_COLUMNS if c in df.columns), None)
        lo = next((c for c in LON_COLUMNS if c in df.columns), None)
        if la is None or lo is None:
            raise DataError(f"{path}: site table needs latitude and longitude columns (one of "
                            f"{', '.join(LAT_COLUMNS)} / {', '.join(LON_COLUMNS)}); has {', '.join(df.columns)}")
        out = df.copy()
        out["lat"] = pd.to_numeric(df[la].str.strip(), errors="coerce")
        out["lon"] = pd.to_numeric(df[lo].str.strip(), errors="coerce")
        out["site_row"] = np.arange(2, len(df) + 2)
        out["site_ref"] = [f"{path}:{k}" for k in out["site_row"]]
        return out
    rows = []
    for k, it in enumerate(items):
        parts = str(it).replace(";", ",").split(",")
        if len(parts) != 2:
            raise DataError(f"site {it!r}: neither a readable file nor 'LAT,LON' coordinates")
        try:
            rows.append({"lat": float(parts[0]), "lon": float(parts[1]), "site_row": k + 1,
                         "site_ref": f"site {k + 1}"})
        except ValueError:
            raise DataError(f"site {it!r}: neither a readable file nor 'LAT,LON' coordinates") from None
    return pd.DataFrame(rows)

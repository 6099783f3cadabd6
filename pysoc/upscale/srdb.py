"""Ingest of the Global Soil Respiration Database (SRDB) and the record filters of the
Rh-upscaling study (methods.md §4.1, seed 004 "Site-level Rh measurements").

The filters, in the order they are applied (each one reports how many records it removes):

1. ``rh_present``      — a finite ``Rh_annual`` value (the table may hold Rs-only records);
2. ``one_year``        — measurement of at least one year: ``YearsOfData >= min_years``;
3. ``coordinates_year``— ``Latitude``, ``Longitude`` inside the globe and ``Study_midyear`` given;
4. ``no_manipulation`` — ``Manipulation`` blank (or one of the control labels);
5. ``method``          — ``Meas_method`` not alkali absorption (nor soda lime, the same trap chemistry);
6. ``quality``         — optional: drop listed ``Quality_flag`` codes (off by default);
7. ``duplicates``      — optional: drop known duplicates (``Duplicate_record`` set; off by default);
8. ``nonpositive``     — optional (on by default, NOT a filter of the study): ``Rh_annual <= 0``
                         (partitioning artefacts; a flux cannot be negative);
9. ``outlier_6sd``     — ``|Rh - mean| > 6 SD`` of the records left (one pass).

Multi-year records at one site stay separate samples (study criterion 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pysoc.errors import DataError

#: categorical SRDB columns whose stray whitespace is stripped on ingest
CATEGORICAL_COLUMNS = (
    "Quality_flag", "Country", "Region", "Site_name", "Site_ID", "Manipulation",
    "Manipulation_level", "Biome", "Ecosystem_type", "Ecosystem_state", "Leaf_habit",
    "Stage", "Soil_type", "Soil_drainage", "Meas_method", "Partition_method",
    "Duplicate_record",
)

#: columns the upscaling needs (``Rh_annual`` in g C m-2 yr-1)
REQUIRED_COLUMNS = ("Record_number", "Latitude", "Longitude", "Study_midyear", "YearsOfData",
                    "Manipulation", "Meas_method", "Rh_annual")

#: columns kept in the shipped Rh subset (everything the predictors or the report may use)
KEEP_COLUMNS = (
    "Record_number", "Study_number", "Author", "Duplicate_record", "Quality_flag", "Country",
    "Site_name", "Site_ID", "Study_midyear", "YearsOfData", "Latitude", "Longitude",
    "Elevation", "Manipulation", "Manipulation_level", "Biome", "Ecosystem_type",
    "Ecosystem_state", "Leaf_habit", "Stage", "Soil_drainage", "Soil_BD", "Soil_CN",
    "Soil_sand", "Soil_silt", "Soil_clay", "MAT", "MAP", "PET", "Study_temp", "Study_precip",
    "Meas_method", "Partition_method", "Rs_annual", "Ra_annual", "Rh_annual", "RC_annual",
    "GPP", "NPP", "ANPP", "BNPP", "Litter_flux", "Ndep", "LAI", "C_soilmineral", "C_soildepth",
)

DEFAULT_CONTROL_LABELS = ("None", "Control")
DEFAULT_EXCLUDED_METHODS = ("Alkali absorption", "Soda lime")


@dataclass
class FilterOptions:
    """Options of :func:`apply_filters` (namelist group ``&srdb``)."""

    min_years: float = 1.0
    control_labels: tuple[str, ...] = DEFAULT_CONTROL_LABELS
    excluded_methods: tuple[str, ...] = DEFAULT_EXCLUDED_METHODS
    excluded_quality_flags: tuple[str, ...] = ()
    drop_duplicates: bool = False
    drop_nonpositive: bool = True
    outlier_sd: float = 6.0


@dataclass
class FilterReport:
    """How many records each filter removed (in order), and what is left."""

    n_input: int
    steps: list[tuple[str, int, str]] = field(default_factory=list)  # (name, removed, doc)
    outlier_bounds: tuple[float, float] | None = None

    @property
    def n_output(self) -> int:
        return self.n_input - sum(n for _, n, _ in self.steps)

    def lines(self) -> list[str]:
        out = [f"SRDB input records: {self.n_input}"]
        left = self.n_input
        for name, n, doc in self.steps:
            left -= n
            out.append(f"  - {name:<17s} removed {n:5d}  (left {left:5d})  {doc}")
        if self.outlier_bounds is not None:
            lo, hi = self.outlier_bounds
            out.append(f"  6-SD window: [{lo:.1f}, {hi:.1f}] g C m-2 yr-1")
        out.append(f"SRDB records kept: {self.n_output}")
        return out

    def as_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.steps, columns=["filter", "removed", "description"])


def strip_categoricals(df: pd.DataFrame) -> pd.DataFrame:
    """Strip leading/trailing whitespace of the SRDB text columns ("Grassland " -> "Grassland");
    empty strings become missing."""
    df = df.copy()
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            continue
        s = s.astype("string").str.strip()
        df[col] = s.mask(s == "")
    return df


def read_srdb(path: str | Path) -> pd.DataFrame:
    """Read an SRDB table (full ``srdb-data.csv``, ``.csv.gz`` or the shipped Rh subset),
    strip whitespace in categorical fields and check the required columns."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: SRDB table not found")
    try:
        df = pd.read_csv(path, low_memory=False)  # default C parser: multi-line quoted Notes
    except Exception as exc:
        raise DataError(f"{path}: cannot read the SRDB table ({exc})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"{path}: SRDB table lacks required column(s) {', '.join(missing)}")
    for c in ("Latitude", "Longitude", "Study_midyear", "YearsOfData", "Rh_annual"):
        df[c] = pd.to_numeric(df[c], errors="coerce")
    for c in ("Duplicate_record",):
        if c in df.columns:
            df[c] = df[c].astype("string")
    df = strip_categoricals(df)
    df.attrs["source"] = str(path)
    return df


def apply_filters(df: pd.DataFrame, opts: FilterOptions | None = None) -> tuple[pd.DataFrame, FilterReport]:
    """Apply the study's record filters in order; return (kept records, report)."""
    opts = opts or FilterOptions()
    rep = FilterReport(n_input=len(df))
    cur = df

    def step(name: str, keep: pd.Series, doc: str) -> None:
        nonlocal cur
        keep = keep.fillna(False).astype(bool)
        rep.steps.append((name, int((~keep).sum()), doc))
        cur = cur[keep.to_numpy()]

    rh = pd.to_numeric(cur["Rh_annual"], errors="coerce")
    step("rh_present", pd.Series(np.isfinite(rh.to_numpy(dtype=float)), index=cur.index),
         "no finite Rh_annual")
    step("one_year", cur["YearsOfData"] >= opts.min_years,
         f"YearsOfData missing or < {opts.min_years:g}")
    lat, lon, yr = cur["Latitude"], cur["Longitude"], cur["Study_midyear"]
    step("coordinates_year",
         lat.between(-90, 90) & lon.between(-180, 180) & yr.notna(),
         "Latitude/Longitude missing or outside the globe, or Study_midyear missing")
    manip = cur["Manipulation"]
    step("no_manipulation", manip.isna() | manip.isin(list(opts.control_labels)),
         f"Manipulation set (kept: blank, {', '.join(opts.control_labels) or '-'})")
    method = cur["Meas_method"]
    step("method", ~method.isin(list(opts.excluded_methods)),
         f"Meas_method in {{{', '.join(opts.excluded_methods)}}}")
    if opts.excluded_quality_flags:
        qf = cur["Quality_flag"] if "Quality_flag" in cur.columns else pd.Series(pd.NA, index=cur.index)
        bad = qf.fillna("").astype(str).apply(
            lambda s: any(f.strip() in opts.excluded_quality_flags for f in s.split(",")))
        step("quality", ~bad, f"Quality_flag in {{{', '.join(opts.excluded_quality_flags)}}}")
    if opts.drop_duplicates and "Duplicate_record" in cur.columns:
        step("duplicates", cur["Duplicate_record"].isna(), "known duplicate (Duplicate_record set)")
    if opts.drop_nonpositive:
        step("nonpositive", cur["Rh_annual"] > 0, "Rh_annual <= 0 (not a study filter)")
    if opts.outlier_sd > 0 and len(cur) > 2:
        v = cur["Rh_annual"].to_numpy(dtype=float)
        mu, sd = float(np.mean(v)), float(np.std(v, ddof=1))
        lo, hi = mu - opts.outlier_sd * sd, mu + opts.outlier_sd * sd
        rep.outlier_bounds = (lo, hi)
        step("outlier_6sd" if opts.outlier_sd == 6 else f"outlier_{opts.outlier_sd:g}sd",
             cur["Rh_annual"].between(lo, hi), f"|Rh - mean| > {opts.outlier_sd:g} SD")
    out = cur.copy()
    out.attrs = dict(df.attrs)
    return out, rep

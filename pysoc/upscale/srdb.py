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
9. ``outlier_6sd``     — ``|Rh - mean| > 6 SD`` of the records left (one pass). The window is
                         computed once, on the training table, and stored with a saved model
                         (:attr:`FilterOptions.outlier_window`); filtering other records with a
                         stored window never recomputes it.

Multi-year records at one site stay separate samples (study criterion 2).

Reading is strict (:func:`read_srdb`): a record with the wrong number of fields, a value that
is not a number in a numeric column, or a file that ends inside a record stops the run with
one line naming the file, the line and the column; a table is never silently shortened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import csv
import gzip
import io

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

#: numeric SRDB fields (srdb-data_fields.txt); a non-empty value that is not a number is an error
NUMERIC_COLUMNS = (
    "Record_number", "Study_number", "Study_midyear", "YearsOfData", "Latitude", "Longitude",
    "Elevation", "Age_ecosystem", "Age_disturbance", "Soil_BD", "Soil_CN", "Soil_sand", "Soil_silt",
    "Soil_clay", "MAT", "MAP", "PET", "Study_temp", "Study_precip", "Collar_height", "Collar_depth",
    "Chamber_area", "Meas_interval", "Annual_coverage", "Rs_annual", "Rs_annual_err", "Rs_interann_err",
    "Rlitter_annual", "Ra_annual", "Rh_annual", "RC_annual", "Rs_spring", "Rs_summer", "Rs_autumn",
    "Rs_winter", "Rs_growingseason", "Rs_wet", "Rs_dry", "RC_seasonal", "GPP", "ER", "NEP", "NPP",
    "ANPP", "BNPP", "NPP_FR", "TBCA", "Litter_flux", "Rootlitter_flux", "TotDet_flux", "Ndep", "LAI",
    "BA", "C_veg_total", "C_AG", "C_BG", "C_CR", "C_FR", "C_litter", "C_soilmineral", "C_soildepth",
)
#: spellings of a missing value in numeric columns
MISSING_TOKENS = ("", "NA", "NaN", "nan", "N/A")

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
    #: fixed (low, high) Rh window of the outlier filter (from the training table); None = compute
    outlier_window: tuple[float, float] | None = None

    def to_dict(self) -> dict:
        """Plain-dict form (lists for tuples) stored in a saved model."""
        d = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "FilterOptions":
        """Inverse of :meth:`to_dict`."""
        kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**kw)


@dataclass
class FilterReport:
    """How many records each filter removed (in order), and what is left."""

    n_input: int
    steps: list[tuple[str, int, str]] = field(default_factory=list)  # (name, removed, doc)
    outlier_bounds: tuple[float, float] | None = None
    outlier_stored: bool = False

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
            how = "stored with the model" if self.outlier_stored else "mean ± outlier_sd SD of these records"
            out.append(f"  outlier window: [{lo:.1f}, {hi:.1f}] g C m-2 yr-1 ({how})")
        out.append(f"SRDB records kept: {self.n_output}")
        return out

    def as_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.steps, columns=["filter", "removed", "description"])

    def trained(self, opts: FilterOptions) -> FilterOptions:
        """``opts`` with the outlier window of this report fixed (what a saved model stores)."""
        from dataclasses import replace
        return replace(opts, outlier_window=self.outlier_bounds)


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


def _open_text(path: Path):
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _scan_records(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, records and the line number where each record starts; every record must have
    as many fields as the header and the file must end after a complete record."""
    with _open_text(path) as fh:
        text = fh.read()
    if not text.strip():
        raise DataError(f"{path}: SRDB table is empty")
    if not text.endswith(("\n", "\r")):
        last = text.count("\n") + 1
        raise DataError(f"{path}:{last}: file ends inside a record (no line end after the last record; "
                        f"truncated copy?)")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows, starts = [], []
    header: list[str] | None = None
    prev = 0
    try:
        for row in reader:
            start, prev = prev + 1, reader.line_num
            if not row:
                continue
            if header is None:
                header = [h.strip() for h in row]
                continue
            if len(row) != len(header):
                raise DataError(f"{path}:{start}: record has {len(row)} fields, the header has {len(header)}")
            rows.append(row)
            starts.append(start)
    except csv.Error as exc:
        raise DataError(f"{path}:{prev + 1}: malformed CSV ({exc}; truncated inside a quoted field?)") from None
    return header or [], rows, starts


def _to_numeric(path: Path, col: str, values: pd.Series, starts: np.ndarray) -> pd.Series:
    s = values.str.strip()
    missing = s.isin(MISSING_TOKENS)
    num = pd.to_numeric(s.mask(missing), errors="coerce")
    bad = np.flatnonzero((num.isna() & ~missing).to_numpy())
    if bad.size:
        i = int(bad[0])
        more = f" (and {bad.size - 1} more in this column)" if bad.size > 1 else ""
        raise DataError(f"{path}:{int(starts[i])}: column {col!r} value {s.iloc[i]!r} is not a number{more}")
    return num.astype(float)


def read_srdb(path: str | Path) -> pd.DataFrame:
    """Read an SRDB table (full ``srdb-data.csv``, ``.csv.gz`` or the shipped Rh subset).

    Parameters
    ----------
    path : str or Path
        The CSV file.

    Returns
    -------
    pandas.DataFrame
        One row per record; numeric SRDB fields as float (missing = NaN), text fields with
        surrounding whitespace stripped (empty = missing); ``attrs['source']`` is the path and
        column ``_line`` the line where each record starts.

    Raises
    ------
    DataError
        Missing file, a required column missing, a record with the wrong number of fields, a
        non-numeric value in a numeric column, or a file ending inside a record: one line
        naming the file and the line.

    Examples
    --------
    >>> from pysoc.io.namelist import PKGDATA
    >>> df = read_srdb(PKGDATA / "srdb" / "srdb_rh_records.csv")
    >>> len(df), int(df["_line"].iloc[0])
    (1064, 2)
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: SRDB table not found")
    try:
        header, rows, starts = _scan_records(path)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise DataError(f"{path}: SRDB table lacks required column(s) {', '.join(missing)}")
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise DataError(f"{path}: duplicate column name(s) {', '.join(dup)}")
    raw = pd.DataFrame(rows, columns=header, dtype=object).astype("string")
    lines = np.asarray(starts, dtype=np.int64)
    df = pd.DataFrame(index=raw.index)
    for c in header:
        df[c] = _to_numeric(path, c, raw[c], lines) if c in NUMERIC_COLUMNS else raw[c]
    df = strip_categoricals(df)
    for c in ("Duplicate_record",):
        if c in df.columns:
            df[c] = df[c].astype("string")
    df["_line"] = lines
    df.attrs["source"] = str(path)
    return df


def apply_filters(df: pd.DataFrame, opts: FilterOptions | None = None) -> tuple[pd.DataFrame, FilterReport]:
    """Apply the study's record filters in order.

    Parameters
    ----------
    df : pandas.DataFrame
        Records from :func:`read_srdb`.
    opts : FilterOptions, optional
        Filter options; with ``outlier_window`` set the outlier filter uses that fixed window
        instead of the mean ± ``outlier_sd`` SD of ``df``.

    Returns
    -------
    kept : pandas.DataFrame
        The records that pass.
    report : FilterReport
        Records removed per filter and the outlier window used (``outlier_bounds``);
        :meth:`FilterReport.trained` gives the options with that window fixed, to store with a
        model.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"Record_number": [1, 2], "Latitude": [45.0, 45.0], "Longitude": [5.0, 5.0],
    ...                    "Study_midyear": [2000.5] * 2, "YearsOfData": [1, 1], "Manipulation": [None] * 2,
    ...                    "Meas_method": ["IRGA"] * 2, "Rh_annual": [300.0, 9000.0]})
    >>> kept, rep = apply_filters(df, FilterOptions(outlier_window=(0.0, 2000.0)))
    >>> kept["Rh_annual"].tolist(), rep.outlier_bounds
    ([300.0], (0.0, 2000.0))
    """
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
    if opts.outlier_window is not None:
        lo, hi = (float(b) for b in opts.outlier_window)
        rep.outlier_bounds, rep.outlier_stored = (lo, hi), True
        step("outlier_window", cur["Rh_annual"].between(lo, hi),
             f"Rh outside the stored training window [{lo:.1f}, {hi:.1f}]")
    elif opts.outlier_sd > 0 and len(cur) > 2:
        v = cur["Rh_annual"].to_numpy(dtype=float)
        mu, sd = float(np.mean(v)), float(np.std(v, ddof=1))
        lo, hi = mu - opts.outlier_sd * sd, mu + opts.outlier_sd * sd
        rep.outlier_bounds = (lo, hi)
        step("outlier_6sd" if opts.outlier_sd == 6 else f"outlier_{opts.outlier_sd:g}sd",
             cur["Rh_annual"].between(lo, hi), f"|Rh - mean| > {opts.outlier_sd:g} SD")
    out = cur.copy()
    out.attrs = dict(df.attrs)
    return out, rep

"""Observed soil profiles: the two-table CSV format, the observation operator that turns
laboratory values into SOC density, and the profile-selection rules of the calibration.

Format (docs/data.md; shipped example ``pysoc/data/profiles/``):

*sites table* — one row per profile. Required columns ``site_id``, ``lat``, ``lon``
(degrees north / east). Columns named in :data:`META_COLUMNS` or starting with ``meta_``
are descriptive (strings allowed) and go to ``Profile.meta``; every other column is a
numeric covariate (units in the column name, NaN = not available) and goes to
``Profile.covariates``.

*layers table* — one row per observed layer, rows of a profile consecutive and sorted
from the surface down. Required: ``site_id``, ``top_cm``, ``bottom_cm`` (cm below the
mineral-soil surface, top >= 0) and, per row, ``soc_percent`` (organic C, mass % of the
fine earth) or ``soc_density_g_m3`` (g C per m3 of soil, used as is). Optional:
``bd_g_cm3`` (fine-earth bulk density; NaN -> pedotransfer of spec methods.md §1),
``coarse_percent`` (coarse fragments > 2 mm, volume %; NaN -> 0), ``d14c_permil``
(Δ14C of the bulk layer, per mil; NaN where not measured).

Observation operator (spec methods.md §1, seed 001 §2.1):
``soc [g C m-3] = soc_percent/100 × BD [g cm-3] × 1e6 × (1 − coarse_percent/100)``.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pysoc.errors import DataError

log = logging.getLogger(__name__)

#: pedotransfer BD = alpha + beta·exp(−gamma·OM), OM = 1.724·SOC% (seed 001; Grigal et al. 1989)
PEDOTRANSFER = {"alpha": 0.32, "beta": 1.30, "gamma": 0.0089, "om_factor": 1.724}

#: descriptive columns of the sites table (strings or numbers that are not covariates)
META_COLUMNS = (
    "entry_name", "site_name", "pro_name", "doi", "compilation_doi", "citation", "land_cover", "modis_land_cover",
    "koppen", "koppen_long", "usda_soil_order", "usda_soil_order_grid", "obs_year", "graven_zone",
    "permafrost", "country", "lc_leaf_type", "lc_phenology", "depth_shift_cm", "soc_source", "note",
)
SITE_REQUIRED = ("site_id", "lat", "lon")
LAYER_REQUIRED = ("site_id", "top_cm", "bottom_cm")
LAYER_OPTIONAL = ("soc_percent", "soc_density_g_m3", "bd_g_cm3", "coarse_percent", "d14c_permil")

#: valid ranges of the layer columns (inclusive), with a hint when a value falls outside
_LAYER_RANGES = {
    "top_cm": (0.0, 10000.0, "cm below the mineral surface; organic horizons (negative depths) are not allowed"),
    "bottom_cm": (0.0, 10000.0, "cm below the mineral surface"),
    "soc_percent": (0.0, 100.0, "mass %; values > 100 suggest g kg-1 or per mil"),
    "soc_density_g_m3": (0.0, 1.0e6, "g C m-3 of soil"),
    "bd_g_cm3": (0.01, 2.65, "g cm-3; values > 2.65 suggest kg m-3"),
    "coarse_percent": (0.0, 99.9, "volume %; values in [0, 1] for every row suggest a fraction"),
    "d14c_permil": (-1000.0, 2000.0, "per mil; fraction-modern values must be converted"),
}
#: column names that carry the right quantity in the wrong units -> the name we expect
_WRONG_UNIT_NAMES = {
    "top": "top_cm", "bottom": "bottom_cm", "top_m": "top_cm", "bottom_m": "bottom_cm",
    "top_mm": "top_cm", "bottom_mm": "bottom_cm", "depth_top": "top_cm", "depth_bottom": "bottom_cm",
    "soc": "soc_percent", "soc_g_kg": "soc_percent", "soc_permille": "soc_percent", "oc_g_kg": "soc_percent",
    "soc_fraction": "soc_percent", "soc_kg_m3": "soc_density_g_m3", "soc_density_kg_m3": "soc_density_g_m3",
    "bd": "bd_g_cm3", "bd_kg_m3": "bd_g_cm3", "bd_kg_dm3": "bd_g_cm3", "coarse": "coarse_percent",
    "coarse_fraction": "coarse_percent", "d14c": "d14c_permil", "fraction_modern": "d14c_permil",
    "latitude": "lat", "longitude": "lon",
}


def pedotransfer_bd(soc_percent, alpha: float = PEDOTRANSFER["alpha"], beta: float = PEDOTRANSFER["beta"],
                    gamma: float = PEDOTRANSFER["gamma"]) -> np.ndarray:
    """Fine-earth bulk density (g cm-3) from organic C (mass %): BD = α + β·exp(−γ·OM),
    OM = 1.724·SOC% (spec methods.md §1; seed 001 fit to WoSIS: α 0.32, β 1.30, γ 0.0089)."""
    om = PEDOTRANSFER["om_factor"] * np.asarray(soc_percent, dtype=float)
    return alpha + beta * np.exp(-gamma * om)


def soc_density(soc_percent, bd_g_cm3, coarse_percent=0.0) -> np.ndarray:
    """SOC density (g C m-3 of soil) = SOC% / 100 × BD × 1e6 × (1 − coarse/100)."""
    return (np.asarray(soc_percent, float) / 100.0 * np.asarray(bd_g_cm3, float) * 1.0e6
            * (1.0 - np.asarray(coarse_percent, float) / 100.0))


@dataclass
class Profile:
    """One observed soil profile. Depths in m below the mineral surface; ``soc`` is the
    SOC density of each observed layer in g C m-3 of soil; ``d14c`` per mil (NaN where
    missing) or None when the profile has no radiocarbon data. ``meta`` holds descriptive
    fields (ISRaD names, citation/DOI, ...) and per-layer arrays ``soc_percent``,
    ``bd_g_cm3`` (the BD used), ``bd_pedotransfer`` (bool), ``coarse_percent`` (used),
    ``coarse_default`` (bool: missing, 0 assumed)."""

    site_id: str
    lat: float
    lon: float
    top: np.ndarray
    bottom: np.ndarray
    soc: np.ndarray
    d14c: np.ndarray | None
    covariates: dict[str, float] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.top = np.asarray(self.top, dtype=float)
        self.bottom = np.asarray(self.bottom, dtype=float)
        self.soc = np.asarray(self.soc, dtype=float)
        if self.d14c is not None:
            self.d14c = np.asarray(self.d14c, dtype=float)
        n = self.top.shape
        if self.top.ndim != 1 or self.bottom.shape != n or self.soc.shape != n or \
                (self.d14c is not None and self.d14c.shape != n):
            raise DataError(f"profile {self.site_id}: top, bottom, soc and d14c must be 1-d arrays of one length")

    @property
    def n_layers(self) -> int:
        return int(self.top.size)

    @property
    def max_depth(self) -> float:
        """Bottom of the deepest observed layer (m)."""
        return float(self.bottom.max()) if self.top.size else 0.0

    @property
    def bounds(self) -> np.ndarray:
        """(nlayer, 2) top/bottom depths (m)."""
        return np.stack([self.top, self.bottom], axis=1)

    @property
    def has_d14c(self) -> bool:
        return self.d14c is not None and bool(np.isfinite(self.d14c).any())

    def coverage(self, top: float, bottom: float) -> float:
        """Fraction of [top, bottom] (m) covered by observed layers."""
        ov = np.clip(np.minimum(self.bottom, bottom) - np.maximum(self.top, top), 0.0, None)
        return float(ov.sum() / (bottom - top))

    def stock(self, top: float = 0.0, bottom: float = 0.3, min_coverage: float = 0.9) -> float:
        """Observed SOC stock (g C m-2) in [top, bottom] (m), integrating the piecewise-
        constant layer densities; gaps are filled with the mean density of the covered part.
        NaN when less than ``min_coverage`` of the interval is observed."""
        ov = np.clip(np.minimum(self.bottom, bottom) - np.maximum(self.top, top), 0.0, None)
        cover = ov.sum()
        if cover < min_coverage * (bottom - top) or cover <= 0:
            return float("nan")
        return float((self.soc * ov).sum() / cover * (bottom - top))


# ---- reading --------------------------------------------------------------------------------
def _read_csv(path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        return pd.read_csv(path, skipinitialspace=True)
    except Exception as exc:  # pandas raises several parser error types
        raise DataError(f"{path}: cannot read as CSV ({str(exc).splitlines()[0]})") from None


def _line(i: int) -> int:
    """File line of data row i (0-based; header on line 1)."""
    return int(i) + 2


def _check_columns(df: pd.DataFrame, path, required) -> None:
    cols = set(df.columns)
    for name in df.columns:
        if name in _WRONG_UNIT_NAMES and _WRONG_UNIT_NAMES[name] not in cols:
            raise DataError(f"{path}: column '{name}' has no or other units; expected "
                            f"'{_WRONG_UNIT_NAMES[name]}' ({_unit_of(_WRONG_UNIT_NAMES[name])})")
    for name in required:
        if name not in cols:
            raise DataError(f"{path}: missing column '{name}' (required: {', '.join(required)})")


def _unit_of(col: str) -> str:
    return {"top_cm": "cm", "bottom_cm": "cm", "soc_percent": "mass %", "soc_density_g_m3": "g C m-3",
            "bd_g_cm3": "g cm-3", "coarse_percent": "volume %", "d14c_permil": "per mil",
            "lat": "degrees north", "lon": "degrees east"}.get(col, "")


def _numeric(df: pd.DataFrame, col: str, path, required: bool, site_col="site_id", hint: str = "") -> np.ndarray:
    """Column as float; non-numeric entries and (if required) NaN are errors naming the row."""
    raw = df[col]
    vals = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad_text = np.isnan(vals) & raw.notna().to_numpy() & (raw.astype(str).str.strip() != "").to_numpy()
    if bad_text.any():
        i = int(np.flatnonzero(bad_text)[0])
        raise DataError(f"{path}: column '{col}', line {_line(i)}{_site(df, i, site_col)}: "
                        f"value {raw.iloc[i]!r} is not a number{hint}")
    if required and np.isnan(vals).any():
        i = int(np.flatnonzero(np.isnan(vals))[0])
        raise DataError(f"{path}: column '{col}', line {_line(i)}{_site(df, i, site_col)}: "
                        f"NaN/empty where a value is required")
    if np.isinf(vals).any():
        i = int(np.flatnonzero(np.isinf(vals))[0])
        raise DataError(f"{path}: column '{col}', line {_line(i)}{_site(df, i, site_col)}: infinite value")
    return vals


def _site(df, i, site_col="site_id") -> str:
    if site_col in df.columns:
        return f" (site_id {df[site_col].iloc[i]})"
    return ""


def _range(df, vals, col, path, lo, hi, hint="") -> None:
    bad = np.isfinite(vals) & ((vals < lo) | (vals > hi))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}: column '{col}', line {_line(i)}{_site(df, i)}: value {vals[i]:g} outside "
                        f"[{lo:g}, {hi:g}]{' (' + hint + ')' if hint else ''}")


def _read_sites(path) -> tuple[pd.DataFrame, list[str], list[str]]:
    df = _read_csv(path)
    _check_columns(df, path, SITE_REQUIRED)
    ids = df["site_id"]
    if ids.isna().any():
        i = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise DataError(f"{path}: column 'site_id', line {_line(i)}: empty site_id")
    df["site_id"] = ids.astype(str).str.strip()
    dup = df["site_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataError(f"{path}: column 'site_id', line {_line(i)}: duplicate site_id {df['site_id'].iloc[i]!r}")
    lat = _numeric(df, "lat", path, True)
    lon = _numeric(df, "lon", path, True)
    _range(df, lat, "lat", path, -90.0, 90.0, "degrees north")
    _range(df, lon, "lon", path, -180.0, 360.0, "degrees east")
    df["lat"], df["lon"] = lat, lon
    meta_cols = [c for c in df.columns if c not in SITE_REQUIRED and (c in META_COLUMNS or c.startswith("meta_"))]
    cov_cols = [c for c in df.columns if c not in SITE_REQUIRED and c not in meta_cols]
    for c in cov_cols:
        df[c] = _numeric(df, c, path, False, hint=" (covariate columns are numeric; name descriptive columns "
                                                  "'meta_<name>')")
    return df, meta_cols, cov_cols


def read_sites(sites_csv) -> list[Profile]:
    """Read a sites table alone (same columns and checks as :func:`read_profiles`) as
    profiles without layers: for predictions at sites with no observations.

    Parameters
    ----------
    sites_csv : str or Path
        The sites table (``site_id``, ``lat``, ``lon``, descriptive and covariate columns).

    Returns
    -------
    list of Profile
        One profile per row, with no layers (``n_layers == 0``).

    Raises
    ------
    DataError
        One line naming the file, the column and the line of the first problem.
    """
    sites, meta_cols, cov_cols = _read_sites(sites_csv)
    out = []
    for r in range(len(sites)):
        meta = {"source": (str(sites_csv), "")}
        for c in meta_cols:
            v = sites[c].iloc[r]
            meta[c] = None if (isinstance(v, float) and np.isnan(v)) else (v.item() if hasattr(v, "item") else v)
        out.append(Profile(site_id=sites["site_id"].iloc[r], lat=float(sites["lat"].iloc[r]),
                           lon=float(sites["lon"].iloc[r]), top=np.empty(0), bottom=np.empty(0), soc=np.empty(0),
                           d14c=None, covariates={c: float(sites[c].iloc[r]) for c in cov_cols}, meta=meta))
    return out


def read_profiles(sites_csv, layers_csv) -> list[Profile]:
    """Read the two-table format (module docstring). Any problem raises one
    :class:`~pysoc.errors.DataError` line naming the file, the column and the line."""
    sites, meta_cols, cov_cols = _read_sites(sites_csv)
    path = layers_csv
    lay = _read_csv(path)
    _check_columns(lay, path, LAYER_REQUIRED)
    if "soc_percent" not in lay.columns and "soc_density_g_m3" not in lay.columns:
        raise DataError(f"{path}: missing column 'soc_percent' (or 'soc_density_g_m3'): one of them is required")
    if lay["site_id"].isna().any():
        i = int(np.flatnonzero(lay["site_id"].isna().to_numpy())[0])
        raise DataError(f"{path}: column 'site_id', line {_line(i)}: empty site_id")
    lay["site_id"] = lay["site_id"].astype(str).str.strip()
    top = _numeric(lay, "top_cm", path, True)
    bot = _numeric(lay, "bottom_cm", path, True)
    cols = {c: (_numeric(lay, c, path, False) if c in lay.columns else np.full(len(lay), np.nan))
            for c in LAYER_OPTIONAL}
    for c, (lo, hi, hint) in _LAYER_RANGES.items():
        v = {"top_cm": top, "bottom_cm": bot}.get(c, cols.get(c))
        _range(lay, v, c, path, lo, hi, hint)
    if "coarse_percent" in lay.columns:
        cp = cols["coarse_percent"]
        fin = np.isfinite(cp)
        if fin.sum() >= 3 and np.all(cp[fin] <= 1.0) and np.any(cp[fin] > 0):
            i = int(np.flatnonzero(fin)[0])
            raise DataError(f"{path}: column 'coarse_percent', line {_line(i)}: all values <= 1 look like a "
                            f"fraction; expected volume % in [0, 100)")
    thin = bot <= top
    if thin.any():
        i = int(np.flatnonzero(thin)[0])
        raise DataError(f"{path}: column 'bottom_cm', line {_line(i)}{_site(lay, i)}: bottom {bot[i]:g} <= "
                        f"top {top[i]:g}")
    have_pct, have_dens = np.isfinite(cols["soc_percent"]), np.isfinite(cols["soc_density_g_m3"])
    nosoc = ~(have_pct | have_dens)
    if nosoc.any():
        i = int(np.flatnonzero(nosoc)[0])
        col = "soc_percent" if "soc_percent" in lay.columns else "soc_density_g_m3"
        raise DataError(f"{path}: column '{col}', line {_line(i)}{_site(lay, i)}: NaN/empty where a value is "
                        f"required (give soc_percent or soc_density_g_m3)")

    known = set(sites["site_id"])
    unknown = ~lay["site_id"].isin(known).to_numpy()
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise DataError(f"{path}: column 'site_id', line {_line(i)}: site_id {lay['site_id'].iloc[i]!r} is not in "
                        f"{sites_csv}")
    # rows of one profile must be consecutive
    sid = lay["site_id"].to_numpy()
    change = np.flatnonzero(sid[1:] != sid[:-1]) + 1
    starts = np.concatenate([[0], change])
    seen = set()
    for s in starts:
        if sid[s] in seen:
            raise DataError(f"{path}: column 'site_id', line {_line(s)}: rows of site_id {sid[s]!r} are not "
                            f"consecutive")
        seen.add(sid[s])
    missing = [s for s in sites["site_id"] if s not in seen]
    if missing:
        raise DataError(f"{sites_csv}: column 'site_id': site {missing[0]!r} has no layers in {layers_csv}")

    ends = np.concatenate([starts[1:], [len(lay)]])
    bounds = dict(zip(sid[starts], zip(starts, ends)))
    profiles = []
    for r in range(len(sites)):
        site = sites["site_id"].iloc[r]
        a, b = bounds[site]
        t, bo = top[a:b], bot[a:b]
        order_bad = np.flatnonzero(t[1:] < t[:-1])
        if order_bad.size:
            i = a + int(order_bad[0]) + 1
            raise DataError(f"{path}: column 'top_cm', line {_line(i)}{_site(lay, i)}: layers not sorted by depth "
                            f"(top {top[i]:g} after {top[i - 1]:g})")
        over = np.flatnonzero(t[1:] < bo[:-1] - 1e-9)
        if over.size:
            i = a + int(over[0]) + 1
            raise DataError(f"{path}: column 'top_cm', line {_line(i)}{_site(lay, i)}: layer {top[i]:g}-{bot[i]:g} cm "
                            f"overlaps the layer above ({top[i - 1]:g}-{bot[i - 1]:g} cm)")
        pct = cols["soc_percent"][a:b]
        dens = cols["soc_density_g_m3"][a:b]
        bd = cols["bd_g_cm3"][a:b].copy()
        coarse = cols["coarse_percent"][a:b].copy()
        bd_pt = ~np.isfinite(bd) & np.isfinite(pct) & ~np.isfinite(dens)
        bd[bd_pt] = pedotransfer_bd(pct[bd_pt])
        coarse_default = ~np.isfinite(coarse)
        coarse[coarse_default] = 0.0
        soc = np.where(np.isfinite(dens), dens, soc_density(pct, bd, coarse))
        d14 = cols["d14c_permil"][a:b]
        meta = {"soc_percent": pct, "bd_g_cm3": bd, "bd_pedotransfer": bd_pt, "coarse_percent": coarse,
                "coarse_default": coarse_default, "soc_density_given": np.isfinite(dens),
                "source": (str(sites_csv), str(layers_csv))}
        for c in meta_cols:
            v = sites[c].iloc[r]
            meta[c] = None if (isinstance(v, float) and np.isnan(v)) else (v.item() if hasattr(v, "item") else v)
        covs = {c: float(sites[c].iloc[r]) for c in cov_cols}
        profiles.append(Profile(site_id=site, lat=float(sites["lat"].iloc[r]), lon=float(sites["lon"].iloc[r]),
                                top=t / 100.0, bottom=bo / 100.0, soc=soc,
                                d14c=d14.copy() if np.isfinite(d14).any() else None,
                                covariates=covs, meta=meta))
    return profiles


# ---- writing ----------------------------------------------------------------------------------
_LAYER_META = ("soc_percent", "bd_g_cm3", "bd_pedotransfer", "coarse_percent", "coarse_default",
               "soc_density_given", "source")


def profiles_to_tables(profiles) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The inverse of :func:`read_profiles`: (sites, layers) DataFrames in the file format.
    Layer values are written as observed (BD from the pedotransfer and assumed coarse
    fractions are written as empty, so that reading the tables gives the same profiles);
    profiles without ``soc_percent`` in their meta are written as ``soc_density_g_m3``."""
    site_rows, layer_rows = [], []
    for p in profiles:
        row = {"site_id": p.site_id, "lat": p.lat, "lon": p.lon}
        for k, v in p.meta.items():
            if k in _LAYER_META or isinstance(v, np.ndarray):
                continue
            if k in META_COLUMNS or k.startswith("meta_"):
                row[k] = v
        row.update(p.covariates)
        site_rows.append(row)
        n = p.n_layers
        pct = np.asarray(p.meta.get("soc_percent", np.full(n, np.nan)), float)
        given = np.asarray(p.meta.get("soc_density_given", ~np.isfinite(pct)), bool) | ~np.isfinite(pct)
        bd = np.asarray(p.meta.get("bd_g_cm3", np.full(n, np.nan)), float).copy()
        bd[np.asarray(p.meta.get("bd_pedotransfer", np.zeros(n, bool)), bool) | given] = np.nan
        coarse = np.asarray(p.meta.get("coarse_percent", np.full(n, np.nan)), float).copy()
        coarse[np.asarray(p.meta.get("coarse_default", ~np.isfinite(coarse)), bool) | given] = np.nan
        d14 = p.d14c if p.d14c is not None else np.full(n, np.nan)
        for i in range(n):
            layer_rows.append({
                "site_id": p.site_id, "top_cm": _cm(p.top[i]), "bottom_cm": _cm(p.bottom[i]),
                "soc_percent": np.nan if given[i] else pct[i],
                "soc_density_g_m3": p.soc[i] if given[i] else np.nan,
                "bd_g_cm3": bd[i], "coarse_percent": coarse[i], "d14c_permil": d14[i]})
    sites = pd.DataFrame(site_rows)
    layers = pd.DataFrame(layer_rows, columns=["site_id", "top_cm", "bottom_cm", "soc_percent", "soc_density_g_m3",
                                               "bd_g_cm3", "coarse_percent", "d14c_permil"])
    if layers["soc_density_g_m3"].isna().all():
        layers = layers.drop(columns="soc_density_g_m3")
    return sites, layers


def _cm(z_m: float) -> float:
    return float(np.round(z_m * 100.0, 6))


def write_profiles(profiles, sites_csv, layers_csv, float_format: str = "%.6g") -> None:
    """Write the two tables (each to a temporary file renamed into place on success)."""
    sites, layers = profiles_to_tables(profiles)
    for df, path in ((sites, sites_csv), (layers, layers_csv)):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        os.close(fd)
        try:
            df.to_csv(tmp, index=False, float_format=float_format)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


# ---- selection --------------------------------------------------------------------------------
class Selection(list):
    """The kept profiles (a list) plus ``removed``: [(site_id, reason), ...]."""

    def __init__(self, kept, removed):
        super().__init__(kept)
        self.removed = list(removed)

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for _, reason in self.removed:
            key = reason.split(":")[0]
            counts[key] = counts.get(key, 0) + 1
        parts = [f"{n} {k}" for k, n in counts.items()]
        return f"kept {len(self)} profiles, removed {len(self.removed)}" + (f" ({'; '.join(parts)})" if parts else "")


def select(profiles, min_layers: int = 3, min_depth: float = 0.5) -> Selection:
    """Profiles usable for profile calibration (spec methods.md §1, seed 001): at least
    ``min_layers`` observed layers and a deepest layer bottom strictly below ``min_depth``
    (m); sites without layers that carry tower fluxes (``meta['annual_fluxes']``) are kept.
    Returns the kept profiles as a list whose ``removed`` attribute lists
    (site_id, reason) for each profile left out; the summary is also logged."""
    kept, removed = [], []
    for p in profiles:
        if p.n_layers == 0 and (getattr(p, "meta", None) or {}).get("annual_fluxes"):
            kept.append(p)                    # a flux tower without SOC layers (tower-year fluxes only)
        elif p.n_layers < min_layers:
            removed.append((p.site_id, f"fewer than {min_layers} layers: {p.n_layers}"))
        elif not p.max_depth > min_depth + 1e-9:
            removed.append((p.site_id, f"max depth <= {100 * min_depth:g} cm: {100 * p.max_depth:g} cm"))
        else:
            kept.append(p)
    out = Selection(kept, removed)
    log.info("select(min_layers=%d, min_depth=%g m): %s", min_layers, min_depth, out.summary())
    return out

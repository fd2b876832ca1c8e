"""Import a clinical table (CSV or Excel): column mapping, missing codes, units, S/F."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .._format import CLINICAL_COLUMNS
from ._problems import Problems

__all__ = ["EXTRA_CLINICAL_COLUMNS", "NUMERIC_COLUMNS", "NA_STRINGS", "read_clinical", "empty_clinical"]

#: Columns ingest adds to the cohort's clinical table besides :data:`CLINICAL_COLUMNS`.
EXTRA_CLINICAL_COLUMNS = ("o2_flow_lpm", "fio2_estimated")
NUMERIC_COLUMNS = ("day", "spo2", "fio2", "sf_ratio", "age", "readmit_30d", "o2_flow_lpm")
#: Cell texts that always mean "missing" (case-insensitive).
NA_STRINGS = frozenset({"", "na", "n/a", "nan", "none", "null", ".", "missing"})
ROOM_AIR = frozenset({"room air", "room_air", "ra", "none", "air"})
_YES = {"yes": 1.0, "y": 1.0, "true": 1.0, "no": 0.0, "n": 0.0, "false": 0.0}
#: Nasal-cannula rule of thumb: FiO2 = 0.21 + 0.04 x flow (L/min), valid up to 6 L/min.
FLOW_RULE_MAX_LPM = 6.0


def _read_table(path: Path, sheet: str | None) -> pd.DataFrame:
    if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        df = pd.read_excel(path, sheet_name=sheet or 0, dtype=object)
        return df.map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    return pd.read_csv(path, dtype=str, keep_default_na=False, sep=sep)


def empty_clinical(exams: pd.DataFrame) -> pd.DataFrame:
    """A clinical table with one all-missing row per exam of ``exams`` (``exam_id, patient_id``)."""
    out = pd.DataFrame({c: [np.nan] * len(exams) for c in CLINICAL_COLUMNS + EXTRA_CLINICAL_COLUMNS})
    out = out.astype({c: object for c in ("o2_device", "sex", "etiology", "discharge_exam_id")})
    out["patient_id"] = exams["patient_id"].to_numpy(dtype=object)
    out["exam_id"] = exams["exam_id"].to_numpy(dtype=object)
    out["fio2_estimated"] = False
    return out


def _is_na(text: str, na_codes: Sequence[str]) -> bool:
    t = text.strip()
    if t.lower() in NA_STRINGS:
        return True
    for code in na_codes:
        if t == code:
            return True
        try:
            if float(t) == float(code):
                return True
        except ValueError:
            pass
    return False


def read_clinical(
    path: str | os.PathLike,
    exams: pd.DataFrame,
    problems: Problems,
    *,
    column_map: Mapping[str, str] | None = None,
    na_codes: Sequence[str | float] = (),
    flow_to_fio2: bool = False,
    sheet: str | None = None,
) -> pd.DataFrame:
    """Read, map, clean and check a clinical table against the manifest's exams.

    Parameters
    ----------
    path : path-like
        CSV/TSV or Excel (``.xlsx``) file, one row per exam.
    exams : pandas.DataFrame
        ``exam_id, patient_id`` of the manifest, one row per exam.
    problems : Problems
        Receives every problem (messages name the file and line).
    column_map : mapping, optional
        lusfeat column -> column in the file, e.g. ``{"spo2": "SpO2 (%)"}``. One source
        column may feed several lusfeat columns. Unmapped lusfeat columns are taken from
        a column of the same name (any letter case) when present. ``o2_flow_lpm`` (oxygen flow, L/min)
        is read too.
    na_codes : sequence
        Extra missing-value codes such as ``-99`` (empty, NA, n/a, nan, none, null,
        "." are always missing).
    flow_to_fio2 : bool
        Estimate a missing FiO2 from the oxygen flow (nasal-cannula rule
        ``0.21 + 0.04 * L/min``, flows up to 6 L/min); marks ``fio2_estimated``.
    sheet : str, optional
        Excel sheet name (default: the first).

    Returns
    -------
    pandas.DataFrame
        One row per manifest exam (missing exams all-NaN), columns
        :data:`lusfeat.data.CLINICAL_COLUMNS` plus ``o2_flow_lpm, fio2_estimated``.
        SpO2 in percent, FiO2 as a fraction, ``sf_ratio = spo2 / fio2``.
    """
    path = Path(path)
    name = path.name
    base = empty_clinical(exams)
    raw = _load_table(path, sheet, problems)
    if raw is None:
        return base
    cols = _source_columns(raw, dict(column_map or {}), name, problems)
    if "exam_id" not in cols:
        problems.error(f"{name} has no exam_id column; add one or map it with --map exam_id=<column>")
        return base
    table = _parse_columns(raw, cols, name, [str(c) for c in na_codes], problems)
    rows = _match_exams(table, exams, name, problems)
    _units(table, name, problems, flow_to_fio2)
    return _per_manifest_exam(base, table, rows)


def _load_table(path: Path, sheet: str | None, problems: Problems) -> pd.DataFrame | None:
    """The clinical file's cells as read, header names stripped; None (with an error) when unreadable."""
    try:
        raw = _read_table(path, sheet)
    except FileNotFoundError:
        problems.error(f"clinical table {path} does not exist; check the --clinical path")
        return None
    except Exception as exc:
        problems.error(f"clinical table {path} is unreadable ({type(exc).__name__}: {exc}); save it as CSV or .xlsx")
        return None
    raw.columns = [str(c).strip() for c in raw.columns]
    return raw


def _source_columns(raw: pd.DataFrame, column_map: dict[str, str], name: str, problems: Problems) -> dict[str, str]:
    """lusfeat column -> file column, from ``column_map`` or a same-named column (any case).

    Mappings to unknown lusfeat columns or absent file columns are errors.
    """
    known = CLINICAL_COLUMNS + ("o2_flow_lpm",)
    for target, source in column_map.items():
        if target not in known:
            problems.error(f"--map {target}={source}: {target!r} is not a clinical column; use one of {list(known)}")
        elif source not in raw.columns:
            problems.error(f"--map {target}={source}: {name} has no column {source!r}; its columns are {list(raw.columns)}")
    lower = {c.lower(): c for c in raw.columns}
    cols = {t: column_map.get(t, lower.get(t, t)) for t in known}  # same name, any case
    return {t: s for t, s in cols.items() if s in raw.columns}


def _parse_columns(raw: pd.DataFrame, cols: dict[str, str], name: str, codes: list[str],
                   problems: Problems) -> pd.DataFrame:
    """The file's rows under lusfeat names: numbers as float (NaN when missing), text stripped or None."""
    table = pd.DataFrame(index=range(len(raw)))
    for target, source in cols.items():
        texts = raw[source].astype(str).tolist()
        if target in NUMERIC_COLUMNS:
            table[target] = _parse_numbers(texts, target, source, name, codes, problems)
        else:
            table[target] = [None if _is_na(t, codes) else t.strip() for t in texts]
    return table


def _parse_numbers(texts: list[str], target: str, source: str, name: str, codes: list[str],
                   problems: Problems) -> np.ndarray:
    """One numeric column as float64: missing codes NaN; text and negative values (but ``day``) errors."""
    values = []
    for i, t in enumerate(texts):
        where = f"{name} line {i + 2} ({source})"
        if _is_na(t, codes):
            values.append(np.nan)
            continue
        low = t.strip().lower()
        if target == "readmit_30d" and low in _YES:
            values.append(_YES[low])
            continue
        try:
            v = float(t.strip().rstrip("%"))
        except ValueError:
            problems.error(
                f"{where}: {target} {t!r} is not a number; enter one value "
                "or mark it missing (empty, NA, or a code passed with --na-code)"
            )
            values.append(np.nan)
            continue
        if v < 0 and target != "day":
            problems.error(
                f"{where}: {target} {t.strip()} is negative: a missing-value code? "
                f"pass --na-code {t.strip()} to treat it as missing"
            )
            v = np.nan
        values.append(v)
    return np.asarray(values, dtype=np.float64)


def _match_exams(table: pd.DataFrame, exams: pd.DataFrame, name: str, problems: Problems) -> dict[str, int]:
    """Row of ``table`` of each manifest exam.

    Empty, duplicate or unknown exam IDs and disagreeing patient IDs are errors; manifest
    exams without a row are warnings.
    """
    manifest_exams = dict(zip(exams["exam_id"].astype(str), exams["patient_id"].astype(str), strict=True))
    seen: dict[str, int] = {}
    rows: dict[str, int] = {}
    for i, exam in enumerate(table["exam_id"].tolist()):
        where = f"{name} line {i + 2}"
        if exam is None:
            problems.error(f"{where}: exam_id is empty; fill it in")
            continue
        if exam in seen:
            problems.error(f"{where}: exam {exam} already has a clinical row ({name} line {seen[exam] + 2}); keep one row per exam")
            continue
        seen[exam] = i
        if exam not in manifest_exams:
            problems.error(f"{where}: exam {exam!r} is not in the manifest; fix exam_id or remove the row")
            continue
        if "patient_id" in table.columns and table.at[i, "patient_id"] not in (None, manifest_exams[exam]):
            problems.error(
                f"{where}: patient_id {table.at[i, 'patient_id']!r} but the manifest has exam {exam} "
                f"under patient {manifest_exams[exam]!r}; make them agree"
            )
        rows[exam] = i
    for exam in manifest_exams:
        if exam not in rows and exam not in seen:
            problems.warn(f"{name}: exam {exam!r} (patient {manifest_exams[exam]}) has no clinical row; its clinical values stay missing")
    return rows


def _per_manifest_exam(base: pd.DataFrame, table: pd.DataFrame, rows: dict[str, int]) -> pd.DataFrame:
    """``base`` (one row per manifest exam) filled with each exam's clinical row, numbers as float64."""
    out = base
    for k, exam in enumerate(out["exam_id"].tolist()):
        i = rows.get(exam)
        if i is None:
            continue
        for c in table.columns:
            if c not in ("patient_id", "exam_id"):
                out.at[k, c] = table.at[i, c]
    for c in NUMERIC_COLUMNS:
        out[c] = pd.to_numeric(out[c], errors="coerce").astype(np.float64)
    out["fio2_estimated"] = out["fio2_estimated"].astype(bool)
    return out

def _units(table: pd.DataFrame, name: str, problems: Problems, flow_to_fio2: bool) -> None:
    """Check and convert SpO2/FiO2 units in place; estimate FiO2; compute S/F."""
    n = len(table)
    if "spo2" in table.columns:
        s = table["spo2"].to_numpy(dtype=float)
        ok = s[np.isfinite(s)]
        if ok.size and ok.max() <= 1.0:
            table["spo2"] = s * 100.0
            problems.note(f"{name}: SpO2 values are all <= 1: read as fractions and converted to percent")
        for i, v in enumerate(table["spo2"].to_numpy(dtype=float)):
            if np.isfinite(v) and not 50.0 <= v <= 100.0:
                problems.error(f"{name} line {i + 2}: SpO2 {v:g} is outside 50-100 %; fix the value or mark it missing")
    fio2 = table["fio2"].to_numpy(dtype=float) if "fio2" in table.columns else np.full(n, np.nan)
    pct = np.isfinite(fio2) & (fio2 > 1.0)
    if pct.any():
        fio2 = np.where(pct, fio2 / 100.0, fio2)
        problems.note(f"{name}: {int(pct.sum())} FiO2 value(s) above 1 read as percent and divided by 100")
    for i, v in enumerate(fio2):
        if np.isfinite(v) and not 0.21 - 1e-9 <= v <= 1.0 + 1e-9:
            problems.error(
                f"{name} line {i + 2}: FiO2 {v:g} is outside 0.21-1.0 (fraction; 21-100 if given in %); fix the value"
            )
    estimated = np.zeros(n, bool)
    device = table["o2_device"].tolist() if "o2_device" in table.columns else [None] * n
    room = np.array([d is not None and str(d).strip().lower() in ROOM_AIR for d in device])
    fill_room = room & ~np.isfinite(fio2)
    if fill_room.any():
        fio2 = np.where(fill_room, 0.21, fio2)
        problems.note(f"{name}: FiO2 set to 0.21 for {int(fill_room.sum())} exam(s) on room air")
    if "o2_flow_lpm" in table.columns:
        flow = table["o2_flow_lpm"].to_numpy(dtype=float)
        need = ~np.isfinite(fio2) & np.isfinite(flow)
        if need.any() and not flow_to_fio2:
            problems.note(f"{name}: {int(need.sum())} exam(s) have an O2 flow but no FiO2; pass --flow-to-fio2 to estimate it")
        elif need.any():
            for i in np.flatnonzero(need):
                if flow[i] > FLOW_RULE_MAX_LPM:
                    problems.warn(
                        f"{name} line {i + 2}: O2 flow {flow[i]:g} L/min is above {FLOW_RULE_MAX_LPM:g} L/min, where the "
                        "nasal-cannula rule does not hold; FiO2 left missing (record the FiO2)"
                    )
                    continue
                fio2[i] = 0.21 + 0.04 * flow[i]
                estimated[i] = True
            problems.note(f"{name}: FiO2 estimated from O2 flow (0.21 + 0.04 x L/min) for {int(estimated.sum())} exam(s)")
    table["fio2"] = fio2
    table["fio2_estimated"] = estimated
    spo2 = table["spo2"].to_numpy(dtype=float) if "spo2" in table.columns else np.full(n, np.nan)
    computed = spo2 / fio2
    if "sf_ratio" in table.columns:
        sf = table["sf_ratio"].to_numpy(dtype=float)
        both = np.isfinite(sf) & np.isfinite(computed)
        for i in np.flatnonzero(both & (np.abs(sf - computed) > 0.05 * np.abs(computed))):
            problems.warn(f"{name} line {i + 2}: sf_ratio {sf[i]:g} differs from SpO2/FiO2 = {computed[i]:.1f}; check the values")
        for i in np.flatnonzero(np.isfinite(sf) & ~np.isfinite(computed)):
            lacking = "SpO2" if not np.isfinite(spo2[i]) else "FiO2"
            problems.warn(
                f"{name} line {i + 2}: sf_ratio {sf[i]:g} is kept without {lacking}, so it cannot be checked "
                f"(nor excluded when SpO2 > 97 % on oxygen); fill in {lacking} or leave sf_ratio empty"
            )
        table["sf_ratio"] = np.where(np.isfinite(sf), sf, computed)
    else:
        table["sf_ratio"] = computed

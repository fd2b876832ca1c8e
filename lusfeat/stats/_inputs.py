"""Read analysis inputs: exam-level feature tables (named pipelines) and the clinical table."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._errors import CohortError, InputError
from .._io import fingerprint

__all__ = ["Pipeline", "load_pipelines", "load_clinical", "FeatureSource"]

logger = logging.getLogger(__name__)

#: What ``features``/``compare`` accept: a path, a DataFrame or a mapping name -> either.
FeatureSource = str | os.PathLike | pd.DataFrame | Mapping[str, "str | os.PathLike | pd.DataFrame"]

ID_COLUMNS = ("exam_id", "patient_id")
#: The exam-level wide table of a feature folder (what the analysis reads).
EXAM_TABLE = "exam_wide.parquet"


@dataclass
class Pipeline:
    """One named exam-level feature table.

    Attributes
    ----------
    name : str
        Pipeline name used in every output table.
    table : pandas.DataFrame
        One row per exam: ``exam_id``, ``patient_id`` and numeric feature columns.
    source : str
        Path it was read from, or ``"<DataFrame>"``.
    fingerprint : str
        Hash of the table contents.
    cohort_fingerprint : str or None
        Fingerprint of the cohort the features were computed from, as recorded
        in the folder's ``features.json`` (None for tables without one).
    """

    name: str
    table: pd.DataFrame
    source: str
    fingerprint: str
    cohort_fingerprint: str | None = None

    @property
    def feature_columns(self) -> list[str]:
        """Numeric feature columns (all columns but the IDs)."""
        return [c for c in self.table.columns if c not in ID_COLUMNS]


def _read_path(path: Path) -> tuple[str, pd.DataFrame, str | None]:
    if path.is_dir():
        name = path.name
        meta_path = path / "features.json"
        cohort_fp = None
        if meta_path.exists():
            from .._io import read_json

            meta = read_json(meta_path)
            name = str(meta.get("name") or name)
            cohort_fp = (meta.get("cohort") or {}).get("fingerprint")
        try:
            from ..features import read_features
        except ImportError:
            read_features = None
        if read_features is not None:
            try:
                return name, read_features(path, level="exam"), cohort_fp
            except FileNotFoundError:
                raise InputError(
                    f"{path / EXAM_TABLE} is missing: the feature folder is incomplete; recompute it "
                    f"with `lusfeat features COHORT --masks ... --out {path} --overwrite`"
                ) from None
        candidate = path / "exam.parquet"
        if candidate.exists():
            return name, pd.read_parquet(candidate), cohort_fp
        raise InputError(
            f"{path} is a folder but lusfeat.features.read_features is unavailable and "
            f"{candidate.name} is missing; pass the exam-level Parquet file instead"
        )
    if not path.exists():
        raise InputError(f"feature table {path} does not exist; pass a features folder or a Parquet file")
    if path.suffix.lower() not in (".parquet", ".pq"):
        raise InputError(f"feature table {path} must be a features folder or a .parquet file")
    try:
        return path.stem, pd.read_parquet(path), None
    except Exception as exc:
        raise InputError(f"feature table {path} is unreadable ({type(exc).__name__}: {exc})") from None


def _clean(name: str, source: str, df: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"pipeline {name!r} ({source}): expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in ID_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(
            f"pipeline {name!r} ({source}): feature table lacks {missing}; it needs one row per "
            f"exam with exam_id, patient_id and numeric feature columns (read it with level='exam')"
        )
    df = df.copy()
    df["exam_id"] = df["exam_id"].astype(str).astype(object)
    df["patient_id"] = df["patient_id"].astype(str).astype(object)
    dup = df["exam_id"][df["exam_id"].duplicated()]
    if len(dup):
        raise InputError(
            f"pipeline {name!r} ({source}): exam_id {dup.iloc[0]!r} appears more than once; "
            "the analysis needs the exam-level table (one row per exam)"
        )
    feats = []
    for c in df.columns:
        if c in ID_COLUMNS:
            continue
        col = df[c]
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            df[c] = col.astype(np.float64)
            feats.append(c)
        else:
            logger.debug("pipeline %s: ignoring non-numeric column %s", name, c)
    if not feats:
        raise InputError(f"pipeline {name!r} ({source}): no numeric feature columns")
    return df[list(ID_COLUMNS) + feats].reset_index(drop=True)


def _one(name: str | None, item: Any) -> Pipeline:
    if isinstance(item, pd.DataFrame):
        nm = name or "features"
        table = _clean(nm, "<DataFrame>", item)
        source = "<DataFrame>"
        cohort_fp = None
    elif isinstance(item, (str, os.PathLike)):
        path = Path(item)
        read_name, df, cohort_fp = _read_path(path)
        nm = name or read_name
        table = _clean(nm, str(path), df)
        source = str(path)
    else:
        raise InputError(
            f"features must be a path, a DataFrame or a dict name -> path/DataFrame; got {type(item).__name__}"
        )
    fp = fingerprint(
        list(table.columns), table["exam_id"].tolist(),
        np.ascontiguousarray(table.drop(columns=list(ID_COLUMNS)).to_numpy(np.float64)),
    )
    return Pipeline(name=nm, table=table, source=source, fingerprint=fp, cohort_fingerprint=cohort_fp)


def load_pipelines(features: FeatureSource, compare: Any = ()) -> list[Pipeline]:
    """Read the reference pipeline and the pipelines it is compared with.

    Parameters
    ----------
    features : path, DataFrame or mapping
        Reference pipeline(s). A mapping's first entry is the reference.
    compare : path, DataFrame, mapping or sequence of paths/DataFrames
        Pipelines compared with the reference.

    Returns
    -------
    list of Pipeline
        Reference first; names are unique.

    Raises
    ------
    InputError
        When a table is unreadable or malformed, or two pipelines share a name.
    """
    items: list[tuple[str | None, Any]] = []
    for src in (features, compare):
        if isinstance(src, Mapping):
            items += [(str(k), v) for k, v in src.items()]
        elif isinstance(src, (list, tuple)):
            items += [(None, v) for v in src]
        elif src is not None:
            items.append((None, src))
    if not items:
        raise InputError("no feature table given; pass FEATURES (a features folder or Parquet file)")
    pipes = [_one(n, v) for n, v in items]
    names = [p.name for p in pipes]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(
            f"pipeline name(s) {dup} used more than once; give the tables distinct folder/file "
            "names or pass a dict name -> table"
        )
    return pipes


def load_clinical(cohort: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The clinical table and cohort metadata from a cohort path, Cohort or DataFrame.

    Returns
    -------
    clinical : pandas.DataFrame
        One row per exam, IDs as strings.
    meta : dict
        ``cohort.json`` contents (empty for a bare DataFrame).

    Raises
    ------
    CohortError
        When the cohort cannot be opened or the clinical table lacks columns.
    """
    from ..data import open_cohort

    meta: dict[str, Any] = {}
    if isinstance(cohort, pd.DataFrame):
        clinical = cohort.copy()
        where = "clinical DataFrame"
    else:
        if isinstance(cohort, (str, os.PathLike)):
            cohort = open_cohort(cohort)
        clinical = cohort.clinical.copy()
        meta = dict(cohort.meta)
        where = str(Path(cohort.path) / "clinical.parquet")
    need = ("patient_id", "exam_id", "day", "spo2", "fio2", "sf_ratio", "o2_device",
            "readmit_30d", "discharge_exam_id")
    missing = [c for c in need if c not in clinical.columns]
    if missing:
        raise CohortError(f"{where} lacks column(s) {missing}; re-create or re-ingest the cohort")
    for c in ("patient_id", "exam_id", "discharge_exam_id"):
        clinical[c] = clinical[c].astype(object).where(clinical[c].notna(), None)
        clinical[c] = clinical[c].map(lambda v: None if v is None else str(v))
    clinical["o2_device"] = clinical["o2_device"].astype(object)
    for c in ("day", "spo2", "fio2", "sf_ratio"):
        clinical[c] = pd.to_numeric(clinical[c], errors="coerce").astype(np.float64)
    dup = clinical["exam_id"][clinical["exam_id"].duplicated()]
    if len(dup):
        raise CohortError(f"{where}: exam_id {dup.iloc[0]!r} appears more than once")
    return clinical.reset_index(drop=True), meta

"""Analysis tasks: turn the clinical table and feature tables into model inputs.

``sf``
    One row per exam: S/F at the exam from that exam's features. By default exams
    with SpO2 > 97% on supplemental oxygen are excluded (on the flat top of the
    oxyhaemoglobin curve S/F no longer reflects oxygenation) and counted.
``sf-change``
    One row per pair of consecutive exams of a patient (in exam-day order), from
    the feature deltas (``delta__<feature>``, later minus earlier) and baseline
    values (``base__<feature>``). The relative S/F change ``(SF2 - SF1) / SF1``
    is *worsened* at or below ``-margin``, *improved* at or above ``+margin`` and
    *stable* in between. The margin is fixed in advance: :data:`CHANGE_MARGIN`
    (10%, about the S/F change that follows one step of the oxygen device
    ladder). Binary (default): worsened (1) vs improved (0), stable pairs
    excluded. Three classes: worsened (0), stable (1), improved (2). A pair is
    excluded when either exam is (missing S/F, unreliable S/F, no features).
``readmission``
    One row per patient: 30-day readmission from the discharge exam's features
    (``discharge__<feature>``) and their change since the first exam
    (``change__<feature>``, discharge minus first).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._errors import InputError, LusfeatError
from ._inputs import Pipeline

__all__ = ["TASKS", "CHANGE_MARGIN", "TaskData", "TaskSkipped", "build_task", "match_pipeline"]

logger = logging.getLogger(__name__)

TASKS = ("sf", "sf-change", "readmission")
#: Default relative S/F change separating improved/worsened from stable (10%).
CHANGE_MARGIN = 0.10
#: SpO2 above which S/F is unreliable on supplemental oxygen (percent).
SPO2_CEILING = 97.0


class TaskSkipped(LusfeatError):
    """A task cannot run on this input (too few events, no rows); other tasks still run."""


@dataclass
class TaskData:
    """Model inputs of one task, rows aligned across pipelines.

    Attributes
    ----------
    task : str
    kind : {"regression", "binary", "multiclass"}
    y : (n,) float
        Outcome (S/F, or class index).
    groups : (n,) object
        Patient of each row.
    rows : pandas.DataFrame
        Row identifiers (``row_id``, ``patient_id``, ``exam_id`` and task specifics).
    features : dict of str -> (pandas.DataFrame)
        Per pipeline, ``(n, p)`` features (covariates appended).
    classes : tuple of str
        Class names by index (classification).
    excluded : dict of str -> int
        Rows excluded per reason.
    """

    task: str
    kind: str
    y: np.ndarray
    groups: np.ndarray
    rows: pd.DataFrame
    features: dict[str, pd.DataFrame]
    classes: tuple[str, ...] = ()
    excluded: dict[str, int] = field(default_factory=dict)

    @property
    def n_patients(self) -> int:
        return int(pd.unique(self.groups).size)


def match_pipeline(pipe: Pipeline, clinical: pd.DataFrame) -> str | None:
    """Check a pipeline's exams against the cohort; return a note or raise.

    Raises
    ------
    InputError
        When no exam matches, or an exam's patient differs from the cohort's.
    """
    fe = pipe.table[["exam_id", "patient_id"]]
    known = set(clinical["exam_id"])
    hit = fe["exam_id"].isin(known)
    if not hit.any():
        raise InputError(
            f"pipeline {pipe.name!r} ({pipe.source}): none of its {len(fe)} exam_ids (e.g. "
            f"{fe['exam_id'].iloc[0]!r}) is in the cohort's clinical table (e.g. "
            f"{clinical['exam_id'].iloc[0]!r}); were the features computed from this cohort?"
        )
    merged = fe[hit].merge(clinical[["exam_id", "patient_id"]], on="exam_id", suffixes=("", "_c"))
    bad = merged[merged["patient_id"] != merged["patient_id_c"]]
    if len(bad):
        r = bad.iloc[0]
        raise InputError(
            f"pipeline {pipe.name!r}: exam {r['exam_id']!r} belongs to patient {r['patient_id']!r} in "
            f"the feature table but to {r['patient_id_c']!r} in the cohort; recompute the features"
        )
    extra, missing = int((~hit).sum()), int((~clinical["exam_id"].isin(set(fe["exam_id"]))).sum())
    if extra or missing:
        return (f"pipeline {pipe.name!r}: {extra} feature exam(s) not in the cohort, "
                f"{missing} cohort exam(s) without features")
    return None


def _covariates(clinical: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    cols = []
    for c in names:
        if c not in clinical.columns:
            raise InputError(f"covariate {c!r} is not a clinical column; choose from {list(clinical.columns)}")
        col = clinical[c]
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            cols.append(col.astype(np.float64).rename(f"cov__{c}"))
        else:
            d = pd.get_dummies(col.astype(str), prefix=f"cov__{c}", drop_first=True, dtype=np.float64)
            cols += [d[k] for k in d.columns]
    return pd.concat(cols, axis=1) if cols else pd.DataFrame(index=clinical.index)


def _reliable_sf(clin: pd.DataFrame, exclude_unreliable: bool) -> tuple[pd.Series, dict[str, int]]:
    missing = ~np.isfinite(clin["sf_ratio"].to_numpy(np.float64))
    on_o2 = (clin["o2_device"].astype(str) != "room_air") | (clin["fio2"] > 0.21 + 1e-9)
    unreliable = (clin["spo2"] > SPO2_CEILING) & on_o2 & ~missing
    if not exclude_unreliable:
        unreliable &= False
    ok = ~missing & ~unreliable
    return ok, {"missing S/F": int(missing.sum()),
                f"SpO2 > {SPO2_CEILING:g}% on supplemental oxygen": int(unreliable.sum())}


def _feature_block(pipes: Sequence[Pipeline], exam_ids: pd.Series, prefix: str = "") -> dict[str, pd.DataFrame]:
    out = {}
    for p in pipes:
        t = p.table.set_index("exam_id")[p.feature_columns]
        block = t.reindex(exam_ids.to_numpy()).reset_index(drop=True)
        out[p.name] = block.add_prefix(prefix) if prefix else block
    return out


def _has_features(pipes: Sequence[Pipeline], exam_ids: pd.Series) -> np.ndarray:
    ok = np.ones(len(exam_ids), dtype=bool)
    for p in pipes:
        ok &= exam_ids.isin(set(p.table["exam_id"])).to_numpy()
    return ok


def _check_events(task: str, y: np.ndarray, classes: Sequence[str], min_events: int, folds: int) -> None:
    counts = np.bincount(y.astype(int), minlength=len(classes))
    need = max(min_events, folds)
    low = [f"{c}: {n}" for c, n in zip(classes, counts, strict=True) if n < need]
    if low:
        raise TaskSkipped(
            f"task {task!r}: too few events ({', '.join(low)}; need at least {need} per class, "
            f"the larger of --min-events {min_events} and --folds {folds}); add patients, or lower "
            "--min-events or --folds"
        )


@dataclass
class _Parts:
    """Rows, outcome, features and covariates of one task before the shared finishing."""

    rows: pd.DataFrame
    features: dict[str, pd.DataFrame]
    covariates: pd.DataFrame
    y: np.ndarray
    kind: str
    classes: tuple[str, ...]
    excluded: dict[str, int] = field(default_factory=dict)


def _sf_rows(clin, pipelines, cov, usable, min_events: int, folds: int) -> _Parts:
    """One row per exam with a reliable S/F and features; outcome S/F."""
    keep = usable.to_numpy()
    sel = clin[keep].reset_index(drop=True)
    rows = sel[["patient_id", "exam_id", "day", "spo2", "fio2", "o2_device"]].copy()
    rows.insert(0, "row_id", sel["exam_id"])
    feats = _feature_block(pipelines, sel["exam_id"])
    covs = cov[keep].reset_index(drop=True)
    y = sel["sf_ratio"].to_numpy(np.float64)
    need = max(min_events, folds)
    if sel["patient_id"].nunique() < need:
        raise TaskSkipped(
            f"task 'sf': only {sel['patient_id'].nunique()} patient(s) with usable S/F and "
            f"features (need at least {need}, the larger of --min-events {min_events} and --folds "
            f"{folds}); add patients, or lower --min-events or --folds"
        )
    return _Parts(rows, feats, covs, y, "regression", ())


def _consecutive_pairs(clin, usable: np.ndarray) -> tuple[list, list, int]:
    """Index pairs of consecutive exams of a patient both usable, and the count of unusable pairs."""
    order = clin.assign(_usable=usable).sort_values(["patient_id", "day"], kind="stable")
    first, second = [], []
    n_bad = 0
    for _, g in order.groupby("patient_id", sort=False):
        idx, use = g.index.to_numpy(), g["_usable"].to_numpy()
        for a in range(len(idx) - 1):
            if use[a] and use[a + 1]:
                first.append(idx[a])
                second.append(idx[a + 1])
            else:
                n_bad += 1
    return first, second, n_bad


def _sf_change_rows(clin, pipelines, cov, usable: np.ndarray, change_margin: float,
                    change_classes: int) -> _Parts:
    """One row per pair of consecutive usable exams; outcome the direction of the S/F change."""
    first, second, n_bad = _consecutive_pairs(clin, usable)
    a, b = clin.loc[first].reset_index(drop=True), clin.loc[second].reset_index(drop=True)
    rel = (b["sf_ratio"].to_numpy() - a["sf_ratio"].to_numpy()) / a["sf_ratio"].to_numpy()
    cls = np.where(rel <= -change_margin, 0, np.where(rel >= change_margin, 2, 1))
    excl = {"pairs with an unusable exam (missing/unreliable S/F or no features)": n_bad}
    if change_classes == 2:
        keep = cls != 1
        excl[f"stable pairs (|change| < {change_margin:.0%})"] = int((~keep).sum())
        y = (cls[keep] == 0).astype(np.float64)
        kind, classes = "binary", ("improved", "worsened")
    else:
        keep = np.ones(len(cls), dtype=bool)
        y = cls.astype(np.float64)
        kind, classes = "multiclass", ("worsened", "stable", "improved")
    a, b, rel = a[keep].reset_index(drop=True), b[keep].reset_index(drop=True), rel[keep]
    rows = pd.DataFrame({
        "row_id": a["exam_id"] + ">" + b["exam_id"], "patient_id": a["patient_id"],
        "exam_id": b["exam_id"], "exam_id_first": a["exam_id"],
        "day_gap": b["day"] - a["day"], "sf_first": a["sf_ratio"], "sf_second": b["sf_ratio"],
        "relative_change": rel,
    })
    base = _feature_block(pipelines, a["exam_id"], "base__")
    later = _feature_block(pipelines, b["exam_id"])
    feats = {}
    for name, bb in base.items():
        delta = later[name].to_numpy() - bb.to_numpy()
        d = pd.DataFrame(delta, columns=["delta__" + c for c in later[name].columns])
        feats[name] = pd.concat([d, bb], axis=1)
    first_keep = np.asarray(first, dtype=int)[keep] if len(first) else np.array([], dtype=int)
    covs = cov.loc[first_keep].reset_index(drop=True) if len(cov.columns) else pd.DataFrame(index=rows.index)
    if len(rows) == 0:
        raise TaskSkipped("task 'sf-change': no pairs of consecutive usable exams (it needs patients "
                          "with at least two exams with S/F and features)")
    return _Parts(rows, feats, covs, y, kind, classes, excl)


def _readmission_rows(clin, pipelines, cov, has_feat: np.ndarray) -> _Parts:
    """One row per patient with a known outcome; features at discharge and their change."""
    first_idx, dis_idx, y_list = [], [], []
    excl = {"missing readmit_30d": 0, "discharge exam unknown or without features": 0}
    ordered = clin.sort_values(["patient_id", "day"], kind="stable")
    for _, g in ordered.groupby("patient_id", sort=False):
        r = pd.to_numeric(g["readmit_30d"], errors="coerce").dropna()
        if r.empty:
            excl["missing readmit_30d"] += 1
            continue
        dis = g["discharge_exam_id"].dropna()
        dis_rows = g.index[g["exam_id"] == dis.iloc[0]] if len(dis) else []
        if len(dis_rows) == 0 or not has_feat[dis_rows[0]] or not has_feat[g.index[0]]:
            excl["discharge exam unknown or without features"] += 1
            continue
        first_idx.append(g.index[0])
        dis_idx.append(dis_rows[0])
        y_list.append(float(r.iloc[0] > 0))
    a, d = clin.loc[first_idx].reset_index(drop=True), clin.loc[dis_idx].reset_index(drop=True)
    y = np.asarray(y_list, dtype=np.float64)
    rows = pd.DataFrame({"row_id": d["patient_id"], "patient_id": d["patient_id"],
                         "exam_id": d["exam_id"], "exam_id_first": a["exam_id"],
                         "days_since_first": d["day"] - a["day"]})
    dis_f = _feature_block(pipelines, d["exam_id"])
    first_f = _feature_block(pipelines, a["exam_id"])
    feats = {}
    for name, df in dis_f.items():
        chg = pd.DataFrame(df.to_numpy() - first_f[name].to_numpy(),
                           columns=["change__" + c for c in df.columns])
        feats[name] = pd.concat([df.add_prefix("discharge__"), chg], axis=1)
    covs = cov.loc[first_idx].reset_index(drop=True) if len(cov.columns) else pd.DataFrame(index=rows.index)
    if len(rows) == 0:
        raise TaskSkipped("task 'readmission': no patient with a known outcome and discharge features")
    return _Parts(rows, feats, covs, y, "binary", ("not readmitted", "readmitted"), excl)


def build_task(
    task: str,
    clinical: pd.DataFrame,
    pipelines: Sequence[Pipeline],
    *,
    covariates: Sequence[str] = (),
    exclude_unreliable_sf: bool = True,
    change_margin: float = CHANGE_MARGIN,
    change_classes: int = 2,
    min_events: int = 10,
    folds: int = 5,
) -> TaskData:
    """Assemble the rows, outcome and per-pipeline features of one task.

    Parameters
    ----------
    task : {"sf", "sf-change", "readmission"}
    clinical : pandas.DataFrame
        Cohort clinical table (one row per exam).
    pipelines : sequence of Pipeline
        Feature tables; only exams present in all of them are used, so every
        pipeline sees identical rows (paired comparisons).
    covariates : sequence of str
        Clinical columns added to every pipeline's features (categorical ones
        one-hot encoded); patient-level tasks take them from the first exam.
    exclude_unreliable_sf : bool
        Drop exams with SpO2 > 97% on supplemental oxygen from S/F tasks.
    change_margin : float
        Relative S/F change (fraction) separating improved/worsened from stable.
    change_classes : {2, 3}
        Binary worsened vs improved, or worsened/stable/improved.
    min_events : int
        Minimum rows per class (classification) or patients (regression).
    folds : int
        Number of CV folds (each class needs at least this many rows).

    Returns
    -------
    TaskData

    Raises
    ------
    TaskSkipped
        When too few rows or events remain.
    InputError
        For an unknown task or option.
    """
    if task not in TASKS:
        raise InputError(f"--task must be one of {TASKS} or 'all'; got {task!r}")
    if change_classes not in (2, 3):
        raise InputError(f"change_classes must be 2 or 3; got {change_classes}")
    if not 0 < change_margin < 1:
        raise InputError(f"change margin must be a fraction in (0, 1); got {change_margin}")
    clin = clinical.reset_index(drop=True)
    has_feat = _has_features(pipelines, clin["exam_id"])
    cov = _covariates(clin, covariates)
    ok_sf, excl = _reliable_sf(clin, exclude_unreliable_sf)
    if task == "sf":
        parts = _sf_rows(clin, pipelines, cov, ok_sf & has_feat, min_events, folds)
        excl["no features"] = int((ok_sf & ~has_feat).sum())
    elif task == "sf-change":
        parts = _sf_change_rows(clin, pipelines, cov, (ok_sf & has_feat).to_numpy(), change_margin,
                                change_classes)
        excl = parts.excluded
        _check_events(task, parts.y, parts.classes, min_events, folds)
    else:
        parts = _readmission_rows(clin, pipelines, cov, has_feat)
        excl = parts.excluded
        _check_events(task, parts.y, parts.classes, min_events, folds)
    rows, feats, covs, y, kind, classes = (parts.rows, parts.features, parts.covariates, parts.y, parts.kind,
                                           parts.classes)

    if len(covs.columns):
        feats = {k: pd.concat([v, covs], axis=1) for k, v in feats.items()}
    excl = {k: v for k, v in excl.items() if v}
    for reason, n in excl.items():
        logger.info("task %s: excluded %d row(s): %s", task, n, reason)
    return TaskData(task=task, kind=kind, y=y, groups=rows["patient_id"].to_numpy(dtype=object),
                    rows=rows, features=feats, classes=classes, excluded=excl)

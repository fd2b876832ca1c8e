"""Aggregation of frame features: frame -> clip -> zone -> exam -> patient.

Rules (``f`` a frame feature of :data:`DICTIONARY`; NaN values are skipped,
an aggregate over only NaN is NaN):

- clip (frames of one clip): ``mean``, ``max``, and for finding features
  ``frac``, the fraction of frames with ``f > 0``.
- zone (clips of one zone of one exam): ``mean`` of the clip means, ``max`` of
  the clip maxima, ``frac`` mean of the clip fractions.
- exam (zones of one exam): ``sum`` over zones of the zone means (additive
  features only), ``mean`` over zones of the zone means, ``max`` over zones of
  the zone maxima, ``frac`` mean over zones of the zone fractions. The LUS
  score is per zone the worst (max) frame score; ``lus_score_sum`` is the sum
  of the zone scores and ``lus_score_12zone`` their mean times 12 (a 12-zone
  scale whatever the protocol).
- patient (exams of one patient ordered by clinical ``day``, then exam_id):
  ``first``, ``last`` and ``change = last - first`` of every exam column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._dictionary import DICTIONARY

__all__ = ["CLIP_KEYS", "ZONE_KEYS", "EXAM_KEYS", "aggregate_levels", "to_long"]

CLIP_KEYS = ["patient_id", "exam_id", "zone", "clip_id"]
ZONE_KEYS = ["patient_id", "exam_id", "zone"]
EXAM_KEYS = ["patient_id", "exam_id"]


def _frame_features() -> list:
    return [f for f in DICTIONARY if f.level == "frame"]


def _wide(index_df: pd.DataFrame, cols: dict[tuple[str, str], pd.Series]) -> tuple[pd.DataFrame, dict]:
    data = {f"{feat}_{agg}": s for (feat, agg), s in cols.items()}
    wide = pd.DataFrame(data)
    names = {f"{feat}_{agg}": (feat, agg) for (feat, agg) in cols}
    wide = wide.reset_index()
    return wide, names


def to_long(wide: pd.DataFrame, keys: list[str], names: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """Tidy long form: ``keys``, ``feature``, ``aggregate``, ``value``."""
    long = wide.melt(id_vars=keys, value_vars=list(names), var_name="column", value_name="value")
    feat = {c: f for c, (f, _) in names.items()}
    agg = {c: a for c, (_, a) in names.items()}
    long.insert(len(keys), "feature", long["column"].map(feat).astype("string"))
    long.insert(len(keys) + 1, "aggregate", long["column"].map(agg).astype("string"))
    long = long.drop(columns="column")
    long["value"] = long["value"].astype(np.float64)
    return long


def aggregate_levels(frames: pd.DataFrame, clinical: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Aggregate a frame table to clip, zone, exam and patient level.

    Parameters
    ----------
    frames : pandas.DataFrame
        One row per frame with ``patient_id, exam_id, zone, clip_id`` and every
        frame feature column.
    clinical : pandas.DataFrame, optional
        Clinical table (``exam_id``, ``day``) to order exams per patient.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``clip``, ``zone``, ``exam``, ``patient`` in long form and
        ``exam_wide`` (one row per exam, ``exam_id``, ``patient_id``,
        ``<feature>_<aggregate>`` float64 columns).
    """
    feats = _frame_features()
    clip_wide, clip_names = _clip_level(frames, feats)
    zone_wide, zone_names = _zone_level(clip_wide, feats)
    exam_wide, exam_names = _exam_level(zone_wide, feats)
    pat_wide, pat_names = _patient_level(exam_wide, list(exam_names), clinical)
    return {
        "clip": to_long(clip_wide, CLIP_KEYS, clip_names),
        "zone": to_long(zone_wide, ZONE_KEYS, zone_names),
        "exam": to_long(exam_wide, EXAM_KEYS, exam_names),
        "exam_wide": exam_wide,
        "patient": to_long(pat_wide, ["patient_id", "first_exam_id", "last_exam_id", "n_exams"], pat_names),
    }


def _clip_level(frames: pd.DataFrame, feats: list) -> tuple[pd.DataFrame, dict]:
    """Clip table: mean and max of every frame feature, and the share of frames showing each finding."""
    names = [f.name for f in feats]
    finding = [f.name for f in feats if f.finding]
    g = frames.groupby(CLIP_KEYS, sort=True, observed=True)
    cmean, cmax = g[names].mean(), g[names].max()
    cfrac = (frames[finding] > 0).astype(np.float64).groupby(
        [frames[k] for k in CLIP_KEYS], sort=True, observed=True).mean()
    clip_cols = {}
    for f in names:
        clip_cols[(f, "mean")] = cmean[f]
        clip_cols[(f, "max")] = cmax[f]
        if f in finding:
            clip_cols[(f, "frac")] = cfrac[f]
    return _wide(cmean, clip_cols)


def _zone_level(clip_wide: pd.DataFrame, feats: list) -> tuple[pd.DataFrame, dict]:
    """Zone table: mean of the clip means and shares, max of the clip maxima."""
    names = [f.name for f in feats]
    finding = [f.name for f in feats if f.finding]
    gz = clip_wide.groupby(ZONE_KEYS, sort=True, observed=True)
    zone_cols = {}
    zmean = gz[[f"{f}_mean" for f in names]].mean()
    zmax = gz[[f"{f}_max" for f in names]].max()
    zfrac = gz[[f"{f}_frac" for f in finding]].mean()
    for f in names:
        zone_cols[(f, "mean")] = zmean[f"{f}_mean"]
        zone_cols[(f, "max")] = zmax[f"{f}_max"]
        if f in finding:
            zone_cols[(f, "frac")] = zfrac[f"{f}_frac"]
    return _wide(zmean, zone_cols)


def _exam_level(zone_wide: pd.DataFrame, feats: list) -> tuple[pd.DataFrame, dict]:
    """Exam table (``exam_id, patient_id``, float64 values): zone sums of additive features, means,
    maxima and finding shares; the LUS score also as the sum and the 12-zone equivalent."""
    ge = zone_wide.groupby(EXAM_KEYS, sort=True, observed=True)
    exam_cols = {}
    for feat in feats:
        f = feat.name
        if f == "lus_score":
            exam_cols[(f, "sum")] = ge[f"{f}_max"].sum(min_count=1)
            exam_cols[(f, "12zone")] = ge[f"{f}_max"].mean() * 12.0
            exam_cols[(f, "mean")] = ge[f"{f}_mean"].mean()
            exam_cols[(f, "max")] = ge[f"{f}_max"].max()
            exam_cols[(f, "frac")] = ge[f"{f}_frac"].mean()
            continue
        if feat.additive:
            exam_cols[(f, "sum")] = ge[f"{f}_mean"].sum(min_count=1)
        exam_cols[(f, "mean")] = ge[f"{f}_mean"].mean()
        exam_cols[(f, "max")] = ge[f"{f}_max"].max()
        if feat.finding:
            exam_cols[(f, "frac")] = ge[f"{f}_frac"].mean()
    exam_wide, exam_names = _wide(pd.DataFrame(index=ge.size().index), exam_cols)
    value_cols = list(exam_names)
    exam_wide[value_cols] = exam_wide[value_cols].astype(np.float64)
    return exam_wide[["exam_id", "patient_id", *value_cols]], exam_names


def _patient_level(exam_wide: pd.DataFrame, value_cols: list[str],
                   clinical: pd.DataFrame | None) -> tuple[pd.DataFrame, dict]:
    """Patient table: first and last exam's values and their change, exams ordered by ``day``
    (then exam ID) when the clinical table has it."""
    order = exam_wide[["exam_id", "patient_id"]].copy()
    if clinical is not None and "day" in clinical.columns:
        day = clinical.drop_duplicates("exam_id").set_index("exam_id")["day"]
        order["day"] = order["exam_id"].map(day).astype(np.float64)
    else:
        order["day"] = np.nan
    order = order.sort_values(["patient_id", "day", "exam_id"], kind="stable")
    ordered = exam_wide.set_index("exam_id").loc[order["exam_id"]].reset_index()
    first = ordered.drop_duplicates("patient_id", keep="first").set_index("patient_id").sort_index()
    last = ordered.drop_duplicates("patient_id", keep="last").set_index("patient_id").sort_index()
    pat_cols = {}
    for c in value_cols:
        pat_cols[(c, "first")] = first[c]
        pat_cols[(c, "last")] = last[c]
        pat_cols[(c, "change")] = last[c] - first[c]
    pat_wide, pat_names = _wide(pd.DataFrame(index=first.index), pat_cols)
    pat_wide.insert(1, "first_exam_id", first["exam_id"].to_numpy())
    pat_wide.insert(2, "last_exam_id", last["exam_id"].to_numpy())
    pat_wide.insert(3, "n_exams", ordered.groupby("patient_id", sort=True).size().to_numpy())
    return pat_wide, pat_names

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

from typing import Any

import numpy as np
import pandas as pd

from ._dictionary import DICTIONARY

__all__ = ["CLIP_KEYS", "ZONE_KEYS", "EXAM_KEYS", "ClipAggregator", "aggregate_levels", "levels_from_clips", "wide_levels", "write_long", "LEVEL_KEYS", "to_long"]

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


def write_long(path: Any, wide: pd.DataFrame, keys: list[str], names: dict[str, tuple[str, str]]) -> None:
    """Write :func:`to_long` of ``wide`` to Parquet one value column at a time (the same table,
    without holding its long form: a clip table of 25,000 clips is 8 million long rows)."""
    from .._io import ParquetStream

    ids = wide[keys].reset_index(drop=True)
    with ParquetStream(path) as out:
        for column, (feat, agg) in names.items():
            n = len(ids)
            out.write(ids.assign(feature=pd.array([feat] * n, dtype="string"),
                                 aggregate=pd.array([agg] * n, dtype="string"),
                                 value=wide[column].to_numpy(dtype=np.float64)))


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
    return levels_from_clips(*_clip_level(frames, _frame_features()), clinical)


#: Key columns of the long table of each level.
LEVEL_KEYS: dict[str, list[str]] = {"clip": CLIP_KEYS, "zone": ZONE_KEYS, "exam": EXAM_KEYS,
                                    "patient": ["patient_id", "first_exam_id", "last_exam_id", "n_exams"]}


def wide_levels(clip_wide: pd.DataFrame, clip_names: dict[str, tuple[str, str]],
                clinical: pd.DataFrame | None = None) -> dict[str, tuple[pd.DataFrame, dict]]:
    """Wide tables and their column names of every level of :func:`aggregate_levels`, from its
    clip table (see :class:`ClipAggregator`); :func:`to_long` or :func:`write_long` give the long form."""
    feats = _frame_features()
    zone = _zone_level(clip_wide, feats)
    exam = _exam_level(zone[0], feats)
    patient = _patient_level(exam[0], list(exam[1]), clinical)
    return {"clip": (clip_wide, clip_names), "zone": zone, "exam": exam, "patient": patient}


def levels_from_clips(clip_wide: pd.DataFrame, clip_names: dict[str, tuple[str, str]],
                      clinical: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """The levels of :func:`aggregate_levels` (long tables and ``exam_wide``) from its clip table."""
    wide = wide_levels(clip_wide, clip_names, clinical)
    out = {level: to_long(w, LEVEL_KEYS[level], names) for level, (w, names) in wide.items()}
    out["exam_wide"] = wide["exam"][0]
    return out


class ClipAggregator:
    """Clip aggregates of a frame table that arrives in pieces (out of core).

    Frames arrive in array order, one piece at a time; a clip is aggregated as
    soon as its last frame has arrived, so only the frames of clips still open
    are held (one clip when clips are stored contiguously, as lusfeat writes
    them). The result equals the clip level of :func:`aggregate_levels` on the
    whole table, bit for bit: each clip sees the same rows in the same order.

    Parameters
    ----------
    ids : pandas.DataFrame
        ``N`` rows in array order with at least :data:`CLIP_KEYS` (the cohort's
        frame table).

    Examples
    --------
    >>> agg = ClipAggregator(ids)  # doctest: +SKIP
    >>> for piece in pieces:       # ids and features of the next rows
    ...     agg.add(piece)
    >>> levels = levels_from_clips(*agg.result(), clinical)
    """

    def __init__(self, ids: pd.DataFrame) -> None:
        codes = ids.groupby(CLIP_KEYS, sort=False, observed=True).ngroup().to_numpy()
        last = np.full(int(codes.max()) + 1 if len(codes) else 0, -1, dtype=np.int64)
        np.maximum.at(last, codes, np.arange(len(codes)))
        self._last_row = last[codes]  # per row: the row of its clip's last frame
        self._feats = _frame_features()
        self._pending: list[pd.DataFrame] = []
        self._rows: list[np.ndarray] = []
        self._done: list[pd.DataFrame] = []
        self._names: dict[str, tuple[str, str]] = {}
        self.n_rows = 0
        self.held_max = 0  # most frames held at once (a measure of the memory used)

    def add(self, piece: pd.DataFrame) -> None:
        """Add the next ``len(piece)`` rows (IDs with :data:`CLIP_KEYS` and the frame features)."""
        start, self.n_rows = self.n_rows, self.n_rows + len(piece)
        self._pending.append(piece.reset_index(drop=True))
        self._rows.append(np.arange(start, self.n_rows))
        pending = pd.concat(self._pending, ignore_index=True) if len(self._pending) > 1 else self._pending[0]
        rows = np.concatenate(self._rows)
        self.held_max = max(self.held_max, len(pending))
        closed = self._last_row[rows] < self.n_rows
        if closed.all():
            self._emit(pending)
            self._pending, self._rows = [], []
        elif closed.any():
            self._emit(pending[closed])
            self._pending, self._rows = [pending[~closed].reset_index(drop=True)], [rows[~closed]]
        else:
            self._pending, self._rows = [pending], [rows]

    def _emit(self, frames: pd.DataFrame) -> None:
        wide, self._names = _clip_level(frames, self._feats)
        self._done.append(wide)

    def result(self) -> tuple[pd.DataFrame, dict[str, tuple[str, str]]]:
        """The clip table (sorted by :data:`CLIP_KEYS`, as :func:`aggregate_levels` sorts it) and its names."""
        if len(self._last_row) != self.n_rows:
            raise ValueError(f"{self.n_rows} of {len(self._last_row)} frames were added")
        if not self._done:
            return _clip_level(pd.concat(self._pending, ignore_index=True) if self._pending
                               else pd.DataFrame(columns=[*CLIP_KEYS, *(f.name for f in self._feats)]), self._feats)
        wide = pd.concat(self._done, ignore_index=True) if len(self._done) > 1 else self._done[0]
        if len(self._done) > 1:
            wide = wide.sort_values(CLIP_KEYS, kind="stable").reset_index(drop=True)
        return wide, self._names


def _clip_level(frames: pd.DataFrame, feats: list) -> tuple[pd.DataFrame, dict]:
    """Clip table: mean and max of every frame feature, and the share of frames showing each finding.

    Reduced with NumPy one clip at a time (``reduceat`` over the clip's frames in
    array order), so a clip's values depend on its own frames alone: the same
    bits whether the table arrives whole or in pieces (pandas' grouped mean
    does not promise that).
    """
    names = [f.name for f in feats]
    finding = {f.name for f in feats if f.finding}
    g = frames.groupby(CLIP_KEYS, sort=True, observed=True)
    index = g.size().index
    codes = g.ngroup().to_numpy()
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(len(index)))
    n_frames = np.diff(np.append(starts, len(codes))).astype(np.float64)
    clip_cols = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for f in names:
            v = frames[f].to_numpy(dtype=np.float64)[order]
            if len(index) == 0:
                mean = vmax = frac = np.zeros(0)
            else:
                known = ~np.isnan(v)
                total = np.add.reduceat(np.where(known, v, 0.0), starts)
                count = np.add.reduceat(known.astype(np.int64), starts)
                mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
                vmax = np.fmax.reduceat(v, starts)
                frac = np.add.reduceat((v > 0).astype(np.int64), starts) / n_frames
            clip_cols[(f, "mean")] = pd.Series(mean, index=index)
            clip_cols[(f, "max")] = pd.Series(vmax, index=index)
            if f in finding:
                clip_cols[(f, "frac")] = pd.Series(frac, index=index)
    return _wide(pd.DataFrame(index=index), clip_cols)


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

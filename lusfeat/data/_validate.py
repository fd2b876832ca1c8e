"""``validate_cohort``: check a cohort folder and summarise it.

Every problem found is collected (not just the first) and reported with the
item at fault and the fix; :class:`lusfeat.ValidationError` carries them all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._errors import CohortError, ValidationError
from ._chunks import CHUNKS_FILE, read_chunk_manifest, verify_chunks
from ._format import ARRAYS_DIR, CLASS_NAMES, CLINICAL_COLUMNS, FRAME_COLUMNS, _open_cohort

__all__ = ["CohortSummary", "validate_cohort"]

#: Plausible SpO2 range in percent.
SPO2_RANGE = (50.0, 100.0)
#: FiO2 range as a fraction.
FIO2_RANGE = (0.21, 1.0)
#: Allowed relative mismatch between sf_ratio and spo2 / fio2.
SF_TOLERANCE = 0.01


@dataclass
class CohortSummary:
    """What :func:`validate_cohort` found in a valid cohort.

    Attributes
    ----------
    counts : dict
        patients, exams, zones, clips, frames, annotators, height, width.
    prevalence : pandas.DataFrame
        Per class: fraction of frames with the class in truth (if any) and in
        any annotator's labels, and the labelled pixel fraction.
    confidence_hist : pandas.Series
        Count of labelled pixels per confidence value (10-100 in steps of 10;
        other values are binned to the next multiple of 10).
    clinical : pandas.DataFrame
        ``describe()`` of spo2, fio2, sf_ratio, day, age.
    warnings : list of str
    """

    path: Path
    counts: dict[str, int]
    prevalence: pd.DataFrame
    confidence_hist: pd.Series
    clinical: pd.DataFrame
    warnings: list[str] = field(default_factory=list)

    def to_text(self) -> str:
        """Plain-text summary."""
        c = self.counts
        lines = [
            f"cohort {self.path}",
            f"  {c['patients']} patients, {c['exams']} exams, {c['clips']} clips, {c['frames']} frames "
            f"({c['height']}x{c['width']} px), {c['annotators']} annotator(s), zones: {c['zones']}",
            "  class prevalence (fraction of frames):",
            self.prevalence.to_string(float_format=lambda v: f"{v:.3f}").replace("\n", "\n    ").join(["    ", ""]),
            "  confidence histogram (labelled pixels):",
            "    " + "  ".join(f"{int(k)}:{int(v)}" for k, v in self.confidence_hist.items()),
            "  clinical:",
            self.clinical.to_string(float_format=lambda v: f"{v:.2f}").replace("\n", "\n    ").join(["    ", ""]),
        ]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _check_tables(frames: pd.DataFrame, clinical: pd.DataFrame, n: int, problems: list[str], path: Path) -> None:
    missing = [c for c in FRAME_COLUMNS if c not in frames.columns]
    if missing:
        problems.append(f"{path / 'frames.parquet'}: missing columns {missing}; re-create the cohort")
        return
    missing = [c for c in CLINICAL_COLUMNS if c not in clinical.columns]
    if missing:
        problems.append(f"{path / 'clinical.parquet'}: missing columns {missing}; add them")
        return
    if len(frames) != n:
        problems.append(
            f"frames.parquet has {len(frames)} rows but the arrays hold {n} frames; the table and arrays must match"
        )
    for col in ("frame_id", "patient_id", "exam_id", "zone", "clip_id"):
        bad = frames[col].isna()
        if bad.any():
            problems.append(f"frames.parquet: {int(bad.sum())} row(s) with missing {col} (first row {int(np.flatnonzero(bad)[0])})")
    dup = frames["frame_id"][frames["frame_id"].duplicated()]
    if len(dup):
        problems.append(f"frames.parquet: duplicate frame_id {list(dup.unique()[:5])}; frame IDs must be unique")
    ai = frames["array_index"].to_numpy()
    if len(ai) == n and not np.array_equal(np.sort(ai), np.arange(n)):
        problems.append("frames.parquet: array_index must be a permutation of 0..N-1")
    sp = frames["pixel_spacing_mm"].to_numpy(dtype=float)
    bad = np.isfinite(sp) & (sp <= 0)
    if bad.any():
        problems.append(f"frames.parquet: pixel_spacing_mm <= 0 in row {int(np.flatnonzero(bad)[0])}; use mm per pixel or NaN if unknown")
    dup = clinical["exam_id"][clinical["exam_id"].duplicated()]
    if len(dup):
        problems.append(f"clinical.parquet: duplicate exam_id {list(dup.unique()[:5])}; one row per exam")
    known = set(clinical["exam_id"])
    orphan = sorted(set(frames["exam_id"]) - known)
    if orphan:
        problems.append(
            f"frames of exam(s) {orphan[:5]}{' ...' if len(orphan) > 5 else ''} have no clinical row; add them to clinical.parquet"
        )
    pe = frames.drop_duplicates("exam_id").set_index("exam_id")["patient_id"]
    cp = clinical.set_index("exam_id")["patient_id"] if not clinical["exam_id"].duplicated().any() else None
    if cp is not None:
        common = pe.index.intersection(cp.index)
        wrong = [e for e in common if pe[e] != cp[e]]
        if wrong:
            problems.append(f"exam(s) {wrong[:5]} belong to different patients in frames and clinical tables")
    for col, (lo, hi), unit in (("spo2", SPO2_RANGE, "%"), ("fio2", FIO2_RANGE, "fraction")):
        v = pd.to_numeric(clinical[col], errors="coerce").to_numpy(dtype=float)
        nonfinite = ~np.isfinite(v) & clinical[col].notna().to_numpy()
        if nonfinite.any():
            i = int(np.flatnonzero(nonfinite)[0])
            problems.append(f"clinical.parquet row {i} (exam {clinical['exam_id'].iloc[i]}): {col} is not a finite number")
        out = np.isfinite(v) & ((v < lo) | (v > hi))
        for i in np.flatnonzero(out)[:5]:
            problems.append(
                f"clinical.parquet row {int(i)} (exam {clinical['exam_id'].iloc[i]}): {col}={v[i]:g} outside "
                f"{lo:g}-{hi:g} {unit}" + ("; give FiO2 as a fraction (0.21-1.0)" if col == "fio2" else "")
            )
    spo2 = pd.to_numeric(clinical["spo2"], errors="coerce").to_numpy(dtype=float)
    fio2 = pd.to_numeric(clinical["fio2"], errors="coerce").to_numpy(dtype=float)
    sf = pd.to_numeric(clinical["sf_ratio"], errors="coerce").to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        expect = spo2 / fio2
        rel = np.abs(sf - expect) / expect
    bad = np.isfinite(rel) & (rel > SF_TOLERANCE)
    for i in np.flatnonzero(bad)[:5]:
        problems.append(
            f"clinical.parquet row {int(i)} (exam {clinical['exam_id'].iloc[i]}): sf_ratio={sf[i]:.1f} but "
            f"spo2/fio2={expect[i]:.1f}; recompute sf_ratio"
        )
    for col in ("day", "age"):
        v = pd.to_numeric(clinical[col], errors="coerce").to_numpy(dtype=float)
        bad = clinical[col].notna().to_numpy() & ~np.isfinite(v)
        if bad.any():
            problems.append(f"clinical.parquet row {int(np.flatnonzero(bad)[0])}: {col} is not a finite number")


def validate_cohort(path: str | os.PathLike, *, batch: int = 64) -> CohortSummary:
    """Check a cohort and return its summary.

    Checks: metadata and format version, every chunk listed in ``chunks.json``
    present and unchanged (digest of its compressed bytes) and every chunk of
    every array decodable, shapes and dtypes consistent between tables and
    arrays, confidence within 0-100, unique IDs, every frame's exam in the
    clinical table, SpO2 50-100 %, FiO2 0.21-1.0, S/F consistent with
    SpO2/FiO2 (1 %), finite numbers. A cohort without ``chunks.json`` (written
    by an older lusfeat) gets a warning: lost chunks cannot be told from empty ones.

    Parameters
    ----------
    path : path-like
        Cohort folder.
    batch : int
        Frames read at a time (memory bound).

    Returns
    -------
    CohortSummary

    Raises
    ------
    ValidationError
        Listing every problem found, each with the item and the fix.
    """
    path = Path(path)
    try:
        cohort = _open_cohort(path, "skip")
        has_manifest = read_chunk_manifest(path) is not None
    except CohortError as exc:
        raise ValidationError([str(exc)], header=f"cohort {path} is invalid") from None
    chunk_problems = verify_chunks(path, ARRAYS_DIR, digests=True)
    problems: list[str] = []
    warnings: list[str] = []
    if not has_manifest:
        warnings.append(
            f"{path / CHUNKS_FILE} is absent (cohort written by an older lusfeat): a lost chunk would read as "
            "zeros unnoticed; re-create the cohort to add the chunk manifest"
        )
    _check_layout(cohort, problems)
    n = cohort.images.shape[0]
    _check_tables(cohort.frames, cohort.clinical, n, problems, path)
    if problems:
        raise ValidationError(chunk_problems + problems, header=f"cohort {path} is invalid")
    stats = _scan_arrays(cohort, batch, problems)
    if problems or chunk_problems:
        raise ValidationError(chunk_problems + problems, header=f"cohort {path} is invalid")
    return _summary(path, cohort, stats, warnings)


def _check_layout(cohort: Any, problems: list[str]) -> None:
    """Append a problem for each class list, array shape or dtype that disagrees with the format."""
    meta = cohort.meta
    if list(meta.get("classes", [])) != list(CLASS_NAMES):
        problems.append(f"cohort.json: classes {meta.get('classes')} differ from {list(CLASS_NAMES)}")
    img, conf, truth = cohort.images, cohort.confidence, cohort.truth
    n = img.shape[0]
    if img.ndim != 3 or str(img.dtype) != "uint8":
        problems.append(f"arrays.zarr/images: expected (N, H, W) uint8, got {img.shape} {img.dtype}")
    h, w = (img.shape[1], img.shape[2]) if img.ndim == 3 else (0, 0)
    exp = (n, conf.shape[1] if conf.ndim == 5 else 0, len(CLASS_NAMES), h, w)
    if conf.ndim != 5 or tuple(conf.shape) != exp or str(conf.dtype) != "uint8":
        problems.append(f"arrays.zarr/confidence: expected {exp} uint8, got {conf.shape} {conf.dtype}")
    if truth is not None and (tuple(truth.shape) != (n, len(CLASS_NAMES), h, w) or str(truth.dtype) != "bool"):
        problems.append(f"arrays.zarr/truth: expected {(n, len(CLASS_NAMES), h, w)} bool, got {truth.shape} {truth.dtype}")
    for key, val in (("height", h), ("width", w), ("n_frames", n)):
        if key in meta and meta[key] != val:
            problems.append(f"cohort.json: {key}={meta[key]} but arrays have {val}")


def _scan_arrays(cohort: Any, batch: int, problems: list[str]) -> dict[str, np.ndarray]:
    """Decode every array ``batch`` frames at a time, checking confidence values and counting labels.

    Unreadable chunks and confidence above 100 are appended to ``problems`` (the scan
    stops at the first batch with confidence above 100).

    Returns
    -------
    dict
        ``hist`` (11,) pixel counts per confidence decile (0, 1-10, ..., 91-100);
        ``labelled_frames``, ``labelled_pixels``, ``truth_frames`` (C,) sums over frames.
    """
    img, conf, truth = cohort.images, cohort.confidence, cohort.truth
    n = img.shape[0]
    c = len(CLASS_NAMES)
    hist = np.zeros(11, dtype=np.int64)
    labelled_frames = np.zeros(c, dtype=np.int64)
    labelled_px = np.zeros(c, dtype=np.float64)
    truth_frames = np.zeros(c, dtype=np.int64)
    for s in range(0, n, batch):
        read = {}
        for name, arr in (("images", img), ("confidence", conf), ("truth", truth)):
            if arr is None:
                continue
            try:
                read[name] = np.asarray(arr[s : s + batch])
            except CohortError as exc:
                problems.append(str(exc))
        if "confidence" not in read or (truth is not None and "truth" not in read):
            continue
        cb, tb = read["confidence"], read.get("truth")
        mx = int(cb.max()) if cb.size else 0
        if mx > 100:
            bad = np.argwhere(cb > 100)[0]
            problems.append(
                f"arrays.zarr/confidence: value {mx} > 100 at frame {s + int(bad[0])} (annotator {int(bad[1])}, "
                f"class {CLASS_NAMES[int(bad[2])]}); confidence is percent 0-100 (rescale 0-255 maps)"
            )
            break
        hist += np.bincount(((cb.ravel().astype(np.int64) + 9) // 10), minlength=11)[:11]
        any_lab = cb.max(axis=1) > 0  # (B, C, H, W)
        labelled_frames += any_lab.any(axis=(2, 3)).sum(axis=0)
        labelled_px += any_lab.mean(axis=(2, 3)).sum(axis=0)
        if tb is not None:
            truth_frames += tb.any(axis=(2, 3)).sum(axis=0)
    return {"hist": hist, "labelled_frames": labelled_frames, "labelled_pixels": labelled_px,
            "truth_frames": truth_frames}


def _summary(path: Path, cohort: Any, stats: dict[str, np.ndarray], warnings: list[str]) -> CohortSummary:
    """The :class:`CohortSummary` of a valid cohort from the scan's sums (adds the clinical-row warning)."""
    img, conf, truth = cohort.images, cohort.confidence, cohort.truth
    n, h, w = img.shape
    frames = cohort.frames
    no_clin_warn = set(cohort.clinical["exam_id"]) - set(frames["exam_id"])
    if no_clin_warn:
        warnings.append(f"{len(no_clin_warn)} clinical exam row(s) have no frames (e.g. {sorted(no_clin_warn)[:3]})")
    prev: dict[str, Any] = {
        "labelled_frames": stats["labelled_frames"] / n,
        "labelled_pixels": stats["labelled_pixels"] / n,
    }
    if truth is not None:
        prev["truth_frames"] = stats["truth_frames"] / n
    prevalence = pd.DataFrame(prev, index=list(CLASS_NAMES))
    counts = {
        "patients": int(frames["patient_id"].nunique()),
        "exams": int(frames["exam_id"].nunique()),
        "zones": int(frames["zone"].nunique()),
        "clips": int(frames["clip_id"].nunique()),
        "frames": int(n),
        "annotators": int(conf.shape[1]),
        "height": int(h),
        "width": int(w),
    }
    clin = cohort.clinical[["spo2", "fio2", "sf_ratio", "day", "age"]].apply(pd.to_numeric, errors="coerce")
    desc = clin.describe().T[["count", "mean", "min", "max"]]
    hist_s = pd.Series(stats["hist"][1:], index=np.arange(10, 101, 10), name="pixels")
    return CohortSummary(path, counts, prevalence, hist_s, desc, warnings)

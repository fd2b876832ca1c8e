"""Evaluate a mask set against truth and confidence references, with patient bootstrap CIs."""

from __future__ import annotations

import datetime as _dt
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._errors import InputError
from .._io import atomic_dir, check_fingerprint, write_json, write_parquet
from .._masks import MaskSource, MaskSourceKind, parse_mask_source
from .._progress import progress_bar
from .._resample import patient_counts
from .._summary import Summary
from ..data import open_cohort, open_masks
from ..labels import Fusion, fit_staple_table, fuse, fused_masks
from ._device import versions
from ._metrics import boundary, hd95_with_boundary, overlap_metrics

__all__ = ["EvaluationResult", "EvaluationSummary", "evaluate", "METRICS"]

logger = logging.getLogger(__name__)

#: Per-frame metrics, in the order of the summary.
METRICS: tuple[str, ...] = ("dice", "iou", "precision", "recall", "hd95")
#: Summary-only metric: Dice averaged over the frames whose reference is not empty.
PRESENT_DICE = "dice_present"
#: Frames read per step.
CHUNK = 64
#: Equal-width probability bins of the reliability table.
N_BINS = 10


@dataclass
class EvaluationSummary(Summary):
    """The summary of an evaluation; its text is one line per reference and class.

    ``tables["segmentation"]`` holds ``reference, class, metric, estimate,
    ci_low, ci_high, n``; :meth:`as_text` shows ``estimate [ci_low, ci_high]``
    for ``metrics`` (Dice, Dice over non-empty references and HD95 by
    default), plus the ECE line.
    """

    metrics: tuple[str, ...] = ("dice", "dice_present", "hd95")

    def as_text(self) -> str:
        """The text table (see the class docstring)."""
        return _summary_text(self.tables["segmentation"], self.title, self.metrics)


@dataclass
class EvaluationResult:
    """Results of :func:`evaluate`.

    Attributes
    ----------
    frames : DataFrame
        One row per frame, class and reference: ``array_index, frame_id, patient_id,
        exam_id, reference, class, dice, iou, precision, recall, hd95`` (pixels),
        ``hd95_mm``, ``pred_pixels, ref_pixels`` and ``empty`` (``none``, ``both``,
        ``prediction``, ``reference``: which of the two masks is empty).
    table : DataFrame
        ``reference, class, metric, estimate, ci_low, ci_high, n`` where
        ``estimate`` is the mean over frames (NaN values left out), the CI the 2.5
        and 97.5 percentiles of a patient-level bootstrap, ``n`` the frames
        averaged. Metrics: those of ``frames`` plus ``dice_present`` (Dice over the
        frames whose reference is not empty, so empty-vs-empty frames do not
        dominate rare classes). Calibration adds rows with reference
        ``confidence`` and metric ``ece``. Written as ``summary.parquet``.
    calibration : DataFrame
        Reliability table per class: ``class, bin, p_low, p_high, n_pixels,
        mean_probability, mean_confidence, gap`` (empty without probabilities).
    meta : dict
        Options, inputs and versions (written as ``evaluation.json``).
    header : str
        The first line of the text summary (masks, frames, draws, fusion).
    """

    frames: pd.DataFrame
    table: pd.DataFrame
    calibration: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)
    header: str = ""

    def summary(self, metrics: tuple[str, ...] = ("dice", "dice_present", "hd95")) -> EvaluationSummary:
        """:attr:`table` and the run's pairs as a :class:`~lusfeat._summary.Summary`; ``str()`` is text."""
        info = [(k, self.meta.get(k)) for k in ("masks", "n_frames", "bootstrap", "fusion") if k in self.meta]
        return EvaluationSummary(title=self.header, info=info, tables={"segmentation": self.table},
                                 metrics=tuple(metrics))

    def __str__(self) -> str:
        return self.summary().as_text()


def _summary_text(s: pd.DataFrame, header: str, metrics: tuple[str, ...]) -> str:
    lines = [header] if header else []
    lines.append(f"{'reference':<12} {'class':<14}" + "".join(f" {m:>22}" for m in metrics))
    for (ref, cls), g in s[s["metric"].isin(metrics)].groupby(["reference", "class"], sort=False):
        cells = []
        for m in metrics:
            row = g[g["metric"] == m]
            if row.empty:
                cells.append(f" {'-':>22}")
                continue
            r = row.iloc[0]
            cells.append(f" {_fmt(r.estimate)} [{_fmt(r.ci_low)}, {_fmt(r.ci_high)}]".rjust(23))
        lines.append(f"{ref:<12} {cls:<14}" + "".join(cells))
    ece = s[s["metric"] == "ece"]
    if not ece.empty:
        lines.append("calibration (ECE, probability vs fused confidence): " + ", ".join(
            f"{r['class']} {_fmt(r.estimate)}" for _, r in ece.iterrows()))
    return "\n".join(lines)


def _fmt(v: float) -> str:
    return "  nan" if not np.isfinite(v) else f"{v:5.3f}" if abs(v) < 10 else f"{v:5.1f}"


# Over 80 lines only through its docstring (every option of the public entry point); the
# body is the short sequence of named steps below.
def evaluate(
    cohort: Any,
    masks: Any,
    out: str | os.PathLike | None = None,
    *,
    thresholds: tuple[int, ...] = (50, 60, 70, 80, 90, 100),
    fusion: str = "mean",
    bootstrap: int = 1000,
    seed: int = 0,
    allow_foreign: bool = False,
    progress: bool = True,
    overwrite: bool = False,
) -> EvaluationResult:
    """Per-frame segmentation metrics, bootstrap summary and calibration of a mask set.

    References: ``truth`` (when the cohort has it) and ``labels:T`` = fused
    confidence ``>= T`` for each ``T`` in ``thresholds``. Metrics per frame and
    class: Dice, IoU, precision, recall and HD95 (pixels, and mm using the frame's
    pixel spacing); the empty-mask rule and the HD95 definition (SciPy
    ``distance_transform_edt``) are in :mod:`lusfeat.seg._metrics`. Calibration
    compares the stored probabilities with the fused confidence / 100, pixel by
    pixel, in 10 equal-width probability bins; ``ECE = sum_b (n_b / n) |mean p_b - mean c_b|``.

    Parameters
    ----------
    cohort : Cohort or path-like
    masks : MaskSet, path-like or MaskSource
        Mask set aligned with the cohort (frame ``i`` is ``array_index == i``),
        or its folder.
    out : path-like, optional
        Folder to write ``frames.parquet``, ``summary.parquet``,
        ``calibration.parquet`` and ``evaluation.json`` (atomically).
    thresholds : tuple of int
        Confidence thresholds (percent) of the ``labels:T`` references.
    fusion : {"mean", "max", "majority", "staple"}
        Annotator fusion of the confidence references.
    bootstrap : int
        Patient-level bootstrap draws for the 95 % CIs (0: no CIs).
    seed : int
        Bootstrap seed.
    allow_foreign : bool
        Evaluate masks that record another cohort's fingerprint (an error
        without it); ``evaluation.json`` then records ``foreign: true``.
    progress : bool
    overwrite : bool
        Replace an existing ``out``.

    Returns
    -------
    EvaluationResult

    Raises
    ------
    InputError
        When the mask set does not match the cohort (shape, or another cohort's
        fingerprint without ``allow_foreign``) or an option is invalid.

    Examples
    --------
    >>> res = evaluate("cohort", "masks/t60", "eval/t60", bootstrap=1000)  # doctest: +SKIP
    >>> res.table.query("reference == 'truth' and metric == 'dice'")  # doctest: +SKIP
    >>> print(res.summary())  # doctest: +SKIP
    """
    cohort, mset, foreign, thresholds, fusion = _open_inputs(cohort, masks, thresholds, fusion, bootstrap,
                                                             allow_foreign, out, overwrite)
    patient_codes, patient_idx = np.unique(cohort.frames["patient_id"].astype(str).to_numpy(), return_inverse=True)
    refs = _references(cohort, thresholds, fusion)
    parts, calib_counts, calib_conf = _scan(cohort, mset, refs, fusion, patient_idx, patient_codes.size,
                                            progress)
    table = _frame_table(parts, cohort.frames)
    draws = patient_counts(patient_codes.size, int(bootstrap), np.random.default_rng(seed))
    summary = _summarise(table, patient_codes, draws)
    calibration = pd.DataFrame(columns=["class", "bin", "p_low", "p_high", "n_pixels", "mean_probability",
                                        "mean_confidence", "gap"])
    if mset.probabilities is not None:
        calibration, ece_rows = _calibration(calib_counts, calib_conf, list(cohort.class_names), draws)
        summary = pd.concat([summary, ece_rows], ignore_index=True)
    meta = _meta(cohort, mset, foreign, list(refs), thresholds, fusion, bootstrap, seed)
    header = (f"evaluation of {mset.path} ({cohort.n_frames} frames, {int(bootstrap)} patient bootstrap draws, "
              f"fusion {fusion.value})")
    result = EvaluationResult(frames=table, table=summary, calibration=calibration, meta=meta, header=header)
    if out is not None:
        _write(out, result, overwrite)
    return result


def _frame_table(parts: list[pd.DataFrame], frames_tab: pd.DataFrame) -> pd.DataFrame:
    """The per-frame rows of every chunk and reference, with the frame, patient and exam ids."""
    table = pd.concat(parts, ignore_index=True)
    ids = frames_tab.set_index("array_index")[["frame_id", "patient_id", "exam_id"]].astype(str)
    table = table.join(ids, on="array_index")
    return table[["array_index", "frame_id", "patient_id", "exam_id", "reference", "class", *METRICS,
                  "hd95_mm", "pred_pixels", "ref_pixels", "empty"]]


def _meta(cohort: Any, mset: Any, foreign: bool, refs: list[str], thresholds: tuple[int, ...], fusion: Fusion,
          bootstrap: int, seed: int) -> dict[str, Any]:
    """The content of ``evaluation.json``: inputs, options, metric definitions and versions."""
    return {
        "producer": "lusfeat.seg.evaluate", "cohort": {"path": str(cohort.path),
                                                      "fingerprint": cohort.fingerprint},
        "masks": str(mset.path), "masks_meta": {k: mset.meta.get(k) for k in ("producer", "strategy", "run", "out_of_fold",
                                                                       "foreign")},
        "foreign": foreign,
        "n_frames": cohort.n_frames, "references": refs, "thresholds": list(thresholds), "fusion": fusion.value,
        "bootstrap": int(bootstrap), "seed": int(seed), "metrics": list(METRICS),
        "empty_rule": "both empty: Dice=IoU=precision=recall=1, HD95=0; one empty: Dice=IoU=0, "
                      "precision (empty prediction) or recall (empty reference) NaN, HD95 NaN",
        "hd95": "pixels; scipy.ndimage.distance_transform_edt between 4-cross boundaries",
        "versions": versions(), "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def _write(out: str | os.PathLike, result: EvaluationResult, overwrite: bool) -> None:
    """Write the tables and ``evaluation.json`` of ``result`` into ``out`` atomically."""
    with atomic_dir(out, overwrite=overwrite) as tmp:
        write_parquet(result.frames, tmp / "frames.parquet")
        write_parquet(result.table, tmp / "summary.parquet")
        write_parquet(result.calibration, tmp / "calibration.parquet")
        write_json(tmp / "evaluation.json", result.meta)
    logger.info("evaluation written to %s", out)


def _open_inputs(cohort, masks, thresholds, fusion, bootstrap, allow_foreign, out, overwrite):
    """Open and check the cohort, the mask set and the options; returns what :func:`evaluate` uses."""
    cohort = open_cohort(cohort) if isinstance(cohort, (str, os.PathLike)) else cohort
    cohort.require_labels("evaluate")  # the reference is the annotators' labels
    mset = _open_mask_set(masks)
    if tuple(mset.masks.shape) != (cohort.n_frames, len(cohort.class_names)) + cohort.shape:
        raise InputError(
            f"mask set {mset.path} has shape {tuple(mset.masks.shape)} but cohort {cohort.path} needs "
            f"{(cohort.n_frames, len(cohort.class_names)) + cohort.shape}; segment this cohort first"
        )
    foreign = check_fingerprint(f"mask set {mset.path}", mset.meta.get("cohort", {}).get("fingerprint"),
                                cohort.fingerprint, source=f"cohort {cohort.path}", allow_foreign=allow_foreign)
    thresholds = tuple(int(t) for t in thresholds)
    if any(not 1 <= t <= 100 for t in thresholds):
        raise InputError(f"thresholds must be in 1..100, got {thresholds}")
    if int(bootstrap) < 0:
        raise InputError(f"bootstrap must be >= 0, got {bootstrap}")
    fusion = Fusion(fusion) if fusion in {f.value for f in Fusion} else None
    if fusion is None:
        raise InputError(f"unknown fusion; expected one of {[f.value for f in Fusion]}")
    if out is not None and Path(out).exists() and not overwrite:
        raise InputError(f"output {out} already exists; choose another path or pass --overwrite")
    return cohort, mset, foreign, thresholds, fusion


def _open_mask_set(masks: Any) -> Any:
    """The mask set of ``masks``: a MaskSet, or a mask-set folder given as a path or a MaskSource."""
    if not isinstance(masks, (str, os.PathLike, MaskSource)):
        return masks
    src = parse_mask_source(masks if isinstance(masks, MaskSource) else Path(masks))
    if not src.on_disk:
        raise InputError(f"evaluate needs a mask-set folder (from `lusfeat segment`), got {src.spec!r}")
    return open_masks(src.path)  # explains what is wrong with a folder that is no mask set


def _references(cohort: Any, thresholds: tuple[int, ...], fusion: Fusion) -> dict[str, MaskSource]:
    """The reference mask sources by name: ``truth`` (when the cohort has it), then ``labels:T``."""
    refs = {"truth": parse_mask_source("truth")} if cohort.truth is not None else {}
    refs.update({f"labels:{t}": MaskSource.labels(t, fusion) for t in thresholds})
    return refs


def _scan(cohort, mset, refs, fusion, patient_idx, n_patients: int, progress: bool):
    """Per-frame metric rows against every reference, and per-patient probability histograms.

    ``refs`` maps reference names to their mask sources (see :func:`_references`).

    Returns
    -------
    parts : list of DataFrame
        :func:`_frame_rows` of each chunk and reference.
    calib_counts, calib_conf : (P, C, 256) float
        Pixels per probability byte, and their summed fused confidence (0-1).
    """
    classes = list(cohort.class_names)
    n_classes = len(classes)
    spacing = cohort.spacing
    has_probs = mset.probabilities is not None
    calib_counts = np.zeros((n_patients, n_classes, 256))
    calib_conf = np.zeros((n_patients, n_classes, 256))
    parts: list[pd.DataFrame] = []
    n = cohort.n_frames
    table = fit_staple_table(cohort.confidence, fusion)  # STAPLE over the whole cohort
    with progress_bar(enabled=progress) as bar:
        task = bar.add_task("evaluate", total=n)
        for start in range(0, n, CHUNK):
            stop = min(n, start + CHUNK)
            pred = np.asarray(mset.masks[start:stop], bool)
            pred_boundary = boundary(pred)
            fused = fuse(np.asarray(cohort.confidence[start:stop]), fusion, staple_table=table)
            for ref_name, src in refs.items():
                if src.kind is MaskSourceKind.TRUTH:
                    ref = np.asarray(cohort.truth[start:stop], bool)
                else:
                    ref = fused_masks(None, src.threshold, fused=fused)
                parts.append(_frame_rows(pred, pred_boundary, ref, ref_name, start, classes, spacing))
            if has_probs:
                probs = np.asarray(mset.probabilities[start:stop])
                pat = patient_idx[start:stop]
                key = ((pat[:, None, None, None] * n_classes + np.arange(n_classes)[None, :, None, None]) * 256
                       + probs).ravel()
                size = n_patients * n_classes * 256
                calib_counts += np.bincount(key, minlength=size).reshape(calib_counts.shape)
                calib_conf += np.bincount(key, weights=(fused / 100.0).ravel(), minlength=size).reshape(
                    calib_conf.shape)
            bar.advance(task, stop - start)
    return parts, calib_counts, calib_conf


def _frame_rows(pred: np.ndarray, pred_boundary: np.ndarray, ref: np.ndarray, ref_name: str, start: int,
                classes: list[str], spacing: np.ndarray) -> pd.DataFrame:
    b, c = pred.shape[:2]
    m = overlap_metrics(pred, ref)
    hd = hd95_with_boundary(pred, ref, pred_boundary)
    idx = np.repeat(np.arange(start, start + b), c)
    empty_p, empty_r = m["pred_pixels"] == 0, m["ref_pixels"] == 0
    empty = np.select([empty_p & empty_r, empty_p, empty_r], ["both", "prediction", "reference"], "none")
    return pd.DataFrame({
        "array_index": idx, "reference": ref_name, "class": np.tile(classes, b),
        "dice": m["dice"].ravel(), "iou": m["iou"].ravel(), "precision": m["precision"].ravel(),
        "recall": m["recall"].ravel(), "hd95": hd.ravel(), "hd95_mm": (hd * spacing[start:start + b, None]).ravel(),
        "pred_pixels": m["pred_pixels"].ravel(), "ref_pixels": m["ref_pixels"].ravel(), "empty": empty.ravel(),
    })


def _ci(stat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if stat.shape[0] == 0:
        nan = np.full(stat.shape[1:], np.nan)
        return nan, nan
    with np.errstate(all="ignore"):
        ok = np.isfinite(stat).any(axis=0)
        lo = np.full(stat.shape[1:], np.nan)
        hi = lo.copy()
        lo[ok] = np.nanpercentile(stat[:, ok], 2.5, axis=0)
        hi[ok] = np.nanpercentile(stat[:, ok], 97.5, axis=0)
    return lo, hi


def _summarise(table: pd.DataFrame, patient_codes: np.ndarray, draws: np.ndarray) -> pd.DataFrame:
    """Frame means per (reference, class, metric) with patient-bootstrap percentile CIs."""
    metrics = [*METRICS, PRESENT_DICE]
    table = table.assign(**{PRESENT_DICE: table["dice"].where(table["ref_pixels"] > 0)})
    long = table.melt(id_vars=["patient_id", "reference", "class"], value_vars=metrics,
                      var_name="metric", value_name="value").dropna(subset=["value"])
    keys = ["reference", "class", "metric"]
    groups = table[["reference", "class"]].drop_duplicates().merge(
        pd.DataFrame({"metric": metrics}), how="cross")
    sums = long.pivot_table(index="patient_id", columns=keys, values="value", aggfunc="sum", fill_value=0.0)
    counts = long.pivot_table(index="patient_id", columns=keys, values="value", aggfunc="count", fill_value=0)
    cols = pd.MultiIndex.from_frame(groups)
    sums = sums.reindex(index=patient_codes, columns=cols, fill_value=0.0).to_numpy(float)
    counts = counts.reindex(index=patient_codes, columns=cols, fill_value=0).to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        estimate = sums.sum(0) / counts.sum(0)
        boot = (draws @ sums) / (draws @ counts)
    lo, hi = _ci(boot)
    out = groups.copy()
    out["estimate"], out["ci_low"], out["ci_high"] = estimate, lo, hi
    out["n"] = counts.sum(0).astype(np.int64)
    return out


def _calibration(counts: np.ndarray, conf: np.ndarray, classes: list[str], draws: np.ndarray
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reliability table per class and ECE rows (with bootstrap CIs) from per-patient histograms."""
    levels = np.arange(256) / 255.0
    edges = np.linspace(0, 1, N_BINS + 1)
    bin_of = np.minimum((levels * N_BINS).astype(int), N_BINS - 1)
    onehot = np.eye(N_BINS)[bin_of]  # (256, B)

    def binned(cnt: np.ndarray, cf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return cnt @ onehot, (cnt * levels) @ onehot, cf @ onehot

    def ece(cnt: np.ndarray, cf: np.ndarray) -> np.ndarray:
        n_b, p_b, c_b = binned(cnt, cf)
        total = n_b.sum(-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.abs(p_b - c_b).sum(-1) / total

    n_b, p_b, c_b = binned(counts.sum(0), conf.sum(0))  # (C, B)
    rows = []
    for k, cls in enumerate(classes):
        for b in range(N_BINS):
            with np.errstate(invalid="ignore", divide="ignore"):
                mp, mc = p_b[k, b] / n_b[k, b], c_b[k, b] / n_b[k, b]
            rows.append((cls, b, edges[b], edges[b + 1], int(n_b[k, b]), mp, mc, mp - mc))
    table = pd.DataFrame(rows, columns=["class", "bin", "p_low", "p_high", "n_pixels", "mean_probability",
                                        "mean_confidence", "gap"])
    est = ece(counts.sum(0), conf.sum(0))  # (C,)
    p = counts.shape[0]
    boot = ece(np.tensordot(draws, counts.reshape(p, -1), 1).reshape(-1, *counts.shape[1:]),
               np.tensordot(draws, conf.reshape(p, -1), 1).reshape(-1, *conf.shape[1:]))
    lo, hi = _ci(boot)
    ece_rows = pd.DataFrame({"reference": "confidence", "class": classes, "metric": "ece", "estimate": est,
                             "ci_low": lo, "ci_high": hi, "n": counts.sum(axis=(0, 2)).astype(np.int64)})
    return table, ece_rows

"""COCO export for viewing and correcting in CVAT: predicted masks with scores, or labels.

Layout::

    OUT/
      annotations.json   COCO 1.0 instance segmentation (images, categories, annotations)
      images/<case>.png  the cohort's frames (grey PNG)
      manifest.csv       an ingest manifest of the images (patient, exam, zone, clip, frame)

Each annotation is one 8-connected region of one class, its segmentation a COCO RLE
(column-major counts list, ``iscrowd: 1``, which CVAT imports as a mask). From a mask
set (``lusfeat segment``), ``score`` is the region's mean predicted probability (0..1) and
``attributes.confidence`` the same in percent, so CVAT shows it as the confidence
attribute and ``lusfeat ingest`` reads it back. From the cohort's own labels each
annotator's confidence map is written losslessly: one annotation per region of each
confidence level, ``attributes = {confidence, annotator}``. With ``--strategy`` the
strategy's binary targets are written instead (annotator ``STRATEGY``, confidence 100).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..._errors import InputError
from ..._io import atomic_dir, check_fingerprint, write_json
from ..._progress import progress_bar
from .._format import CLASS_NAMES, Cohort
from ..annotations._rle import coco_rle_encode
from ._common import BATCH, case_ids, frames_in_order, iter_targets, write_png

__all__ = ["export_coco"]

logger = logging.getLogger(__name__)


def _regions(mask: np.ndarray) -> Iterator[np.ndarray]:
    from skimage.measure import label

    lab = label(mask, connectivity=2)
    for k in range(1, int(lab.max()) + 1):
        yield lab == k


def _annotation(ann_id: int, image_id: int, cls: int, region: np.ndarray, attrs: dict, score: float | None) -> dict:
    ys, xs = np.nonzero(region)
    out = {"id": ann_id, "image_id": image_id, "category_id": cls + 1, "iscrowd": 1,
           "segmentation": coco_rle_encode(region, compressed=False), "area": int(region.sum()),
           "bbox": [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)],
           "attributes": attrs}
    if score is not None:
        out["score"] = round(float(score), 4)
    return out


def _label_batches(cohort: Cohort, strategy) -> Iterator[tuple[int, list[tuple[str, np.ndarray]]]]:
    """Per frame batch: (annotator, (B, C, H, W) percent) planes to write."""
    if strategy is not None:
        for start, _, target, _ in iter_targets(cohort, strategy):
            yield start, [(strategy.spec, np.where(target >= 0.5, 100, 0).astype(np.uint8))]
        return
    names = list(cohort.meta.get("annotators") or [f"annotator_{a + 1}" for a in range(cohort.n_annotators)])
    for start in range(0, cohort.n_frames, BATCH):
        conf = np.asarray(cohort.confidence[start : start + BATCH])
        yield start, [(names[a], conf[:, a]) for a in range(conf.shape[1])]


def _mask_batches(cohort: Cohort, masks: Any) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
    for start in range(0, cohort.n_frames, BATCH):
        m = np.asarray(masks.masks[start : start + BATCH])
        p = None if masks.probabilities is None else np.asarray(masks.probabilities[start : start + BATCH])
        yield start, m, p


def _open_masks(cohort: Cohort, masks: str | Path, allow_foreign: bool) -> Any:
    from .._masks import open_masks

    ms = open_masks(masks)
    check_fingerprint(f"--masks {ms.path}", ms.meta.get("cohort", {}).get("fingerprint"), cohort.fingerprint,
                      source=f"cohort {cohort.path}", allow_foreign=allow_foreign)
    if tuple(ms.masks.shape) != (cohort.n_frames, len(CLASS_NAMES), *cohort.shape):
        raise InputError(f"--masks {ms.path}: masks are {tuple(ms.masks.shape)}, the cohort needs "
                         f"({cohort.n_frames}, {len(CLASS_NAMES)}, {cohort.shape[0]}, {cohort.shape[1]})")
    return ms


def export_coco(cohort: Cohort, out: str | Path, *, masks: str | Path | None = None, strategy=None,
                allow_foreign: bool = False, overwrite: bool = False, progress: bool = False) -> Path:
    """Write predicted masks (or the cohort's labels) as COCO with per-region scores.

    Parameters
    ----------
    cohort : Cohort
    out : path-like
    masks : path-like, optional
        A mask set of this cohort (``lusfeat segment``); its probabilities give the scores.
    strategy : lusfeat.labels.Strategy, optional
        Without ``masks``: write these binary targets instead of every annotator's
        confidence levels.
    allow_foreign, overwrite, progress : bool

    Returns
    -------
    Path
    """
    out = Path(out)
    if masks is not None and strategy is not None:
        raise InputError("--masks and --strategy exclude each other for --format coco: predicted masks carry "
                         "their own scores; drop --strategy")
    ms = _open_masks(cohort, masks, allow_foreign) if masks is not None else None
    frames = frames_in_order(cohort)
    cases = case_ids(frames)
    images = [{"id": i + 1, "file_name": f"{c}.png", "height": cohort.shape[0], "width": cohort.shape[1]}
              for i, c in enumerate(cases)]
    anns: list[dict] = []
    with atomic_dir(out, overwrite=overwrite) as tmp, progress_bar(enabled=progress, transient=True) as bar:
        task = bar.add_task("COCO export", total=cohort.n_frames)
        (tmp / "images").mkdir()
        batches = _mask_batches(cohort, ms) if ms is not None else _label_batches(cohort, strategy)
        for start, *parts in batches:
            b = _write_batch(tmp, cohort, cases, start, parts, ms is not None, anns)
            bar.advance(task, b)
        write_json(tmp / "annotations.json", {
            "info": {"description": f"lusfeat cohort {cohort.path.name}",
                     "source": "masks " + str(ms.path) if ms is not None else (
                         f"labels {strategy.spec}" if strategy is not None else "annotator confidence"),
                     "cohort_fingerprint": cohort.fingerprint},
            "licenses": [], "images": images,
            "categories": [{"id": k + 1, "name": c, "supercategory": ""} for k, c in enumerate(CLASS_NAMES)],
            "annotations": anns,
        })
        man = frames[["patient_id", "exam_id", "zone", "clip_id", "frame_index"]].copy()
        man.insert(0, "path", [f"images/{c}.png" for c in cases])
        man.to_csv(tmp / "manifest.csv", index=False)
    logger.info("COCO annotations of %d frame(s), %d region(s) written to %s", len(cases), len(anns),
                out / "annotations.json")
    return out


def _write_batch(tmp: Path, cohort: Cohort, cases: list[str], start: int, parts: list, predicted: bool,
                 anns: list[dict]) -> int:
    imgs = np.asarray(cohort.images[start : start + BATCH])
    for j in range(imgs.shape[0]):
        write_png(tmp / "images" / f"{cases[start + j]}.png", imgs[j])
    if predicted:
        m, p = parts
        for j, k in np.argwhere(m.reshape(m.shape[0], m.shape[1], -1).any(axis=2)):
            for region in _regions(m[j, k]):
                score = float(p[j, k][region].mean()) / 255.0 if p is not None else None
                attrs = {"confidence": int(round(100 * score))} if score is not None else {}
                anns.append(_annotation(len(anns) + 1, start + j + 1, int(k), region, attrs, score))
        return imgs.shape[0]
    (planes,) = parts
    for who, conf in planes:
        for j, k in np.argwhere(conf.reshape(conf.shape[0], conf.shape[1], -1).any(axis=2)):
            for level in np.unique(conf[j, k][conf[j, k] > 0]):
                for region in _regions(conf[j, k] == level):
                    anns.append(_annotation(len(anns) + 1, start + j + 1, int(k), region,
                                            {"confidence": int(level), "annotator": who}, None))
    return imgs.shape[0]

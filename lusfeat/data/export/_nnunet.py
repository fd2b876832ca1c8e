"""nnU-Net v2 raw dataset: ``imagesTr``, ``labelsTr``, ``dataset.json``, patient-grouped splits.

Layout (nnU-Net v2 "dataset format")::

    DatasetXXX_NAME/
      dataset.json        channel_names, labels, numTraining, file_ending (+ a "lusfeat" record)
      imagesTr/lus_000000_0000.png   one grey channel per case (case = cohort frame)
      labelsTr/lus_000000.png        integer labels, same size
      splits_final.json   folds by patient (copy to nnUNet_preprocessed/DatasetXXX_NAME/)
      cases.csv           case -> frame_id, patient_id, exam_id, array_index, fold

nnU-Net's labels are one integer per pixel while lusfeat's classes may overlap, so
classes are painted in a priority order and a later class wins where two overlap (the
default paints the large regions first and the thin lines last, so lines stay visible
inside consolidations and effusions). The order and the number of overlapping pixels are
written to ``dataset.json`` (``lusfeat.overlap``). With ``ignore:LO-HI`` every pixel whose
weight is 0 for some class (an uncertain confidence) gets nnU-Net's ``ignore`` label, the
highest label value, which nnU-Net leaves out of the loss.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..._errors import InputError
from ..._io import atomic_dir, write_json
from .._format import CLASS_NAMES, Cohort
from ._common import case_ids, frames_in_order, iter_targets, patient_folds, write_png

__all__ = ["DEFAULT_PRIORITY", "DATASET_NAME", "export_nnunet", "label_values", "encode_labels"]

logger = logging.getLogger(__name__)

#: Paint order of the classes (the last wins where classes overlap).
DEFAULT_PRIORITY: tuple[str, ...] = ("consolidation", "effusion", "b_line", "a_line", "pleural_line")
#: Folder names nnU-Net v2 accepts for a raw dataset.
DATASET_NAME = re.compile(r"^Dataset(\d{3})_([A-Za-z0-9_\-]+)$")


def label_values(ignore: bool) -> dict[str, int]:
    """nnU-Net ``labels``: background 0, the classes 1..5 in lusfeat order, then ``ignore``."""
    labels = {"background": 0, **{c: i + 1 for i, c in enumerate(CLASS_NAMES)}}
    if ignore:
        labels["ignore"] = len(CLASS_NAMES) + 1
    return labels


def encode_labels(target: np.ndarray, weight: np.ndarray, priority: Sequence[str],
                  ignore: bool) -> tuple[np.ndarray, int]:
    """One integer label per pixel from per-class binary targets.

    Parameters
    ----------
    target : (B, C, H, W) float
        Binary targets (1 = class present).
    weight : (B, C, H, W) float
        Loss weights; with ``ignore``, a 0 for any class makes the pixel ``ignore``.
    priority : sequence of str
        Paint order of the classes; later classes overwrite earlier ones.
    ignore : bool

    Returns
    -------
    labels : (B, H, W) uint8
    overlapping : int
        Pixels where two or more classes were present (resolved by ``priority``).
    """
    on = target >= 0.5
    labels = np.zeros((target.shape[0], *target.shape[2:]), np.uint8)
    values = label_values(ignore)
    for cls in priority:
        k = CLASS_NAMES.index(cls)
        labels[on[:, k]] = values[cls]
    if ignore:
        labels[(weight <= 0).any(axis=1)] = values["ignore"]
    return labels, int((on.sum(axis=1) > 1).sum())


def _check(out: Path, strategy, priority: Sequence[str]) -> None:
    if not DATASET_NAME.match(out.name):
        raise InputError(f"nnU-Net export {out}: the folder must be named DatasetXXX_NAME (three digits), "
                         f"e.g. {out.parent / 'Dataset501_LUS'}")
    if strategy.kind.value in ("soft", "weighted"):
        raise InputError(f"--strategy {strategy.spec}: nnU-Net trains on hard labels; use threshold:T, or "
                         "ignore:LO-HI to leave uncertain pixels out of the loss (or export --format monai)")
    if sorted(priority) != sorted(CLASS_NAMES):
        raise InputError(f"--priority {','.join(priority)}: list every class once, e.g. {','.join(DEFAULT_PRIORITY)}")


def export_nnunet(cohort: Cohort, out: str | Path, strategy, *, folds: int = 5, seed: int = 0,
                  priority: Sequence[str] = DEFAULT_PRIORITY, overwrite: bool = False,
                  progress: bool = False) -> Path:
    """Write a cohort as an nnU-Net v2 raw dataset (see the module docstring).

    Parameters
    ----------
    cohort : Cohort
    out : path-like
        ``.../DatasetXXX_NAME``.
    strategy : lusfeat.labels.Strategy
        ``threshold:T`` or ``ignore:LO-HI`` (with any fusion).
    folds : int
        Folds of ``splits_final.json`` (nnU-Net's default is 5); whole patients per fold.
    seed : int
        Seed of the patient shuffle (the folds equal ``lusfeat train --folds K --seed S``).
    priority : sequence of str
        Class paint order, see :func:`encode_labels`.
    overwrite, progress : bool

    Returns
    -------
    Path
    """
    out = Path(out)
    _check(out, strategy, priority)
    frames = frames_in_order(cohort)
    cases = case_ids(frames)
    fold = patient_folds(frames, folds, seed)
    ignore = strategy.kind.value == "ignore"
    overlap = 0
    with atomic_dir(out, overwrite=overwrite) as tmp:
        (tmp / "imagesTr").mkdir()
        (tmp / "labelsTr").mkdir()
        for start, images, target, weight in iter_targets(cohort, strategy, progress=progress, label="nnU-Net export"):
            labels, n_over = encode_labels(target, weight, priority, ignore)
            overlap += n_over
            for j in range(images.shape[0]):
                write_png(tmp / "imagesTr" / f"{cases[start + j]}_0000.png", images[j])
                write_png(tmp / "labelsTr" / f"{cases[start + j]}.png", labels[j])
        write_json(tmp / "dataset.json", {
            "name": out.name, "description": f"lusfeat cohort {cohort.path.name}, labels {strategy.spec}",
            "channel_names": {"0": "US"}, "labels": label_values(ignore), "numTraining": len(cases),
            "file_ending": ".png",
            "lusfeat": {"cohort": str(cohort.path.resolve()), "cohort_fingerprint": cohort.fingerprint,
                        "strategy": strategy.spec, "classes": list(CLASS_NAMES), "case_prefix": "lus",
                        "overlap": {"rule": "priority: a later class in paint_order wins where classes overlap",
                                    "paint_order": list(priority), "overlapping_pixels": overlap},
                        "ignore": "pixels with a loss weight of 0 for any class" if ignore else None,
                        "folds": folds, "seed": seed},
        })
        splits = [{"train": [c for c, f in zip(cases, fold, strict=True) if f != k],
                   "val": [c for c, f in zip(cases, fold, strict=True) if f == k]} for k in range(folds)]
        write_json(tmp / "splits_final.json", splits)
        table = frames[["frame_id", "patient_id", "exam_id", "array_index"]].assign(case=cases, fold=fold)
        table[["case", "frame_id", "patient_id", "exam_id", "array_index", "fold"]].to_csv(tmp / "cases.csv", index=False)
    logger.info("nnU-Net dataset of %d case(s) (%s, %d overlapping pixel(s) by priority) written to %s",
                len(cases), strategy.spec, overlap, out)
    return out


def read_cases(path: Path) -> pd.DataFrame:
    """``cases.csv`` of an export."""
    return pd.read_csv(path, dtype={"case": str, "frame_id": str, "patient_id": str})

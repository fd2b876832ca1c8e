"""What every exporter shares: case names, patient folds, label targets in batches, PNG I/O."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..._progress import progress_bar
from .._format import Cohort

__all__ = ["BATCH", "case_ids", "patient_folds", "iter_targets", "write_png", "read_png", "frames_in_order"]

#: Frames read and written per step.
BATCH = 64


def frames_in_order(cohort: Cohort) -> pd.DataFrame:
    """The frame table sorted by ``array_index`` (the order of every export)."""
    return cohort.frames.sort_values("array_index").reset_index(drop=True)


def case_ids(frames: pd.DataFrame, prefix: str = "lus") -> list[str]:
    """One file-safe case identifier per frame: ``PREFIX_<array_index, 6 digits>``.

    The array index makes the name unique and maps it back to the cohort; the frame ID
    travels beside it in ``cases.csv``.
    """
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", prefix):
        raise ValueError(f"case prefix {prefix!r} must be letters and digits")
    return [f"{prefix}_{int(i):06d}" for i in frames["array_index"]]


def patient_folds(frames: pd.DataFrame, folds: int, seed: int) -> np.ndarray:
    """Fold of each frame, whole patients per fold (the folds of ``lusfeat train``).

    Returns
    -------
    (N,) int
        Fold ``0..folds-1`` of each row of ``frames``.
    """
    from ...seg._folds import assign_folds

    table = assign_folds(frames["patient_id"].astype(str).to_numpy(), folds, seed)
    fold_of = dict(zip(table["patient_id"], table["fold"], strict=True))
    return np.array([fold_of[str(p)] for p in frames["patient_id"]], np.int64)


def iter_targets(cohort: Cohort, strategy: Any, *, progress: bool = False,
                 label: str = "exporting") -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """Images, targets and weights of the cohort's frames under a label strategy, in batches.

    Parameters
    ----------
    cohort : Cohort
    strategy : lusfeat.labels.Strategy
        Its fusion is fitted over all frames first for ``staple``.
    progress : bool
    label : str
        Progress-bar text.

    Yields
    ------
    start : int
        Array index of the batch's first frame.
    images : (B, H, W) uint8
    target : (B, C, H, W) float32
        0..1 (binary except for ``soft``).
    weight : (B, C, H, W) float32
        0..1; 0 marks pixels the strategy leaves out of the loss (``ignore``).
    """
    from ...labels import Fusion, fuse, staple_fit

    n = cohort.n_frames
    table = None
    if strategy.fusion is Fusion.STAPLE:
        table = staple_fit(np.asarray(cohort.confidence[s : s + BATCH]) for s in range(0, n, BATCH))[0]
    with progress_bar(enabled=progress, transient=True) as bar:
        task = bar.add_task(label, total=n)
        for start in range(0, n, BATCH):
            conf = np.asarray(cohort.confidence[start : start + BATCH])
            fused = fuse(conf, strategy.fusion, staple_table=table)
            target, weight = strategy.targets_from_fused(fused)
            yield start, np.asarray(cohort.images[start : start + BATCH]), np.asarray(target), np.asarray(weight)
            bar.advance(task, conf.shape[0])


def write_png(path: Path, array: np.ndarray) -> None:
    """Write a 2-D uint8 array as a lossless 8-bit grey PNG."""
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(array, np.uint8)).save(path, format="PNG")


def read_png(path: Path) -> np.ndarray:
    """Read a PNG as stored (no palette or colour conversion)."""
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im)

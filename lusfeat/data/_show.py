"""Render a grid of cohort frames with confidence, truth and predicted-mask overlays to a PNG."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._errors import InputError
from .._io import atomic_file
from ._format import CLASS_NAMES, Cohort, open_cohort

__all__ = ["show_cohort", "CLASS_COLORS", "overlay"]

#: RGB colour per class (pleural line, A-line, B-line, consolidation, effusion).
CLASS_COLORS = np.array(
    [[255, 220, 0], [0, 200, 255], [255, 60, 60], [80, 255, 80], [200, 90, 255]], dtype=np.float32
)


def overlay(image: np.ndarray, planes: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend class planes over a grayscale image.

    Parameters
    ----------
    image : (H, W) uint8
    planes : (C, H, W) float in [0, 1] (confidence / 100, or masks)
    alpha : float
        Opacity at full confidence.

    Returns
    -------
    (H, W, 3) uint8
    """
    rgb = np.repeat(image[..., None].astype(np.float32), 3, axis=-1)
    for c in range(planes.shape[0]):
        a = (alpha * np.asarray(planes[c], np.float32))[..., None]
        rgb = rgb * (1 - a) + CLASS_COLORS[c] * a
    return np.clip(rgb, 0, 255).astype(np.uint8)


def show_cohort(
    path: str | os.PathLike | Cohort,
    out: str | os.PathLike,
    *,
    n: int = 8,
    frames: list[int] | None = None,
    annotator: int | None = None,
    seed: int = 0,
    masks: str | os.PathLike | None = None,
    allow_foreign: bool = False,
) -> Path:
    """Save a PNG grid: each row is image | confidence | truth | masks overlay.

    The confidence column is left out for a cohort without annotator labels
    (ingested without masks), the truth column for a cohort without truth (every
    ingested one), the masks column when ``masks`` is not given.

    Parameters
    ----------
    path : path-like or Cohort
    out : path-like
        PNG file to write.
    n : int
        Number of frames (chosen evenly over the cohort, or at random with
        ``seed`` when the cohort is larger than ``8 n``).
    frames : list of int, optional
        Explicit array indices to show.
    annotator : int, optional
        Show this annotator's confidence instead of the mean over annotators.
    seed : int
        Seed for picking frames in a large cohort.
    masks : str or path-like, optional
        Masks to draw as well, in the syntax of ``lusfeat features --masks``: a mask
        set from ``lusfeat segment``, nnU-Net predictions, ``labels:T`` or ``truth``.
    allow_foreign : bool
        Draw masks that were made for another cohort.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    InputError
        For frame indices outside the cohort, an unknown annotator, or masks that do
        not fit the cohort.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    cohort = path if isinstance(path, Cohort) else open_cohort(path)
    N = cohort.n_frames
    if frames is None:
        if N <= 8 * n:
            frames = np.linspace(0, N - 1, min(n, N)).round().astype(int).tolist()
        else:
            frames = sorted(np.random.default_rng(seed).choice(N, size=n, replace=False).tolist())
    bad = [f for f in frames if not 0 <= f < N]
    if bad:
        raise InputError(f"frame indices {bad} outside 0..{N - 1}")
    if annotator is not None and not 0 <= annotator < cohort.n_annotators:
        raise InputError(f"--annotator must be in 0..{cohort.n_annotators - 1}, got {annotator}")
    has_truth = cohort.truth is not None
    reader = None
    if masks is not None:
        from ..features._extract import _MaskReader  # the one opener of every mask source

        reader = _MaskReader(cohort, masks, allow_foreign=allow_foreign)
    labelled = cohort.is_labelled
    cols = 1 + labelled + has_truth + (reader is not None)
    fig, axes = plt.subplots(len(frames), cols, figsize=(2.6 * cols, 2.6 * len(frames)), squeeze=False)
    for r, f in enumerate(frames):
        img = np.asarray(cohort.images[f])
        panels = [img[..., None].repeat(3, -1)]
        titles = ["image"]
        if labelled:
            conf = np.asarray(cohort.confidence[f]).astype(np.float32)
            fused = conf[annotator] if annotator is not None else conf.mean(axis=0)
            panels.append(overlay(img, fused / 100.0))
            titles.append("confidence" + (f" (annotator {annotator})" if annotator is not None else " (mean)"))
        if has_truth:
            panels.append(overlay(img, np.asarray(cohort.truth[f], np.float32)))
            titles.append("truth")
        if reader is not None:
            panels.append(overlay(img, np.asarray(reader.batch(f, f + 1))[0].astype(np.float32)))
            titles.append(f"masks: {reader.desc}"[:40])
        row = cohort.frames.iloc[f]
        for c, (p, t) in enumerate(zip(panels, titles, strict=True)):
            ax = axes[r, c]
            ax.imshow(p)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(t, fontsize=9)
        axes[r, 0].set_ylabel(f"{row['frame_id']}\n{row['probe']}", fontsize=7)
    handles = [Patch(color=CLASS_COLORS[i] / 255, label=n_) for i, n_ in enumerate(CLASS_NAMES)]
    fig.legend(handles=handles, loc="lower center", ncol=5, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    out = Path(out)
    with atomic_file(out) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return out

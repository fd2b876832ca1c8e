"""Preload a cohort's frames and strategy targets into memory as compact tensors.

Training on small cohorts is fastest when everything sits in memory (or GPU
memory) and batches are plain index operations, with no per-sample Python and
no loader processes. Images, targets and weights are stored as ``uint8``
(targets and weights quantised to 1/255) and converted per batch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from ..labels import Strategy, fit_staple_table, fuse
from ._device import resize

__all__ = ["FrameData", "load_frames", "read_images", "resize_area", "staple_table"]

logger = logging.getLogger(__name__)

#: Frames read from Zarr per step while preloading.
READ_CHUNK = 64


@dataclass
class FrameData:
    """Frames in memory at training size.

    Attributes
    ----------
    indices : (N,) int64 ndarray
        Cohort array indices of the rows.
    images : (N, 1, S, S') uint8 tensor
    target : (N, C, S, S') uint8 tensor, ``round(255 * target)``
    weight : (N, C, S, S') uint8 tensor, ``round(255 * weight)``
    """

    indices: np.ndarray
    images: torch.Tensor
    target: torch.Tensor
    weight: torch.Tensor


def _read(array: Any, idx: np.ndarray) -> np.ndarray:
    """Read rows ``idx`` (sorted) of a Zarr array; contiguous runs are sliced."""
    if idx.size and idx[-1] - idx[0] + 1 == idx.size:
        return np.asarray(array[int(idx[0]) : int(idx[-1]) + 1])
    return np.asarray(array.oindex[idx])


def read_images(cohort: Any, idx: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """Images ``(B, 1, S, S') float32`` in 0..1 for cohort rows ``idx``, resized to ``size``."""
    img = torch.from_numpy(_read(cohort.images, idx)).unsqueeze(1).float().div_(255.0)
    return resize(img, size)


def staple_table(cohort: Any, indices: np.ndarray, fusion: str) -> np.ndarray | None:
    """For ``staple`` fusion, the STAPLE table estimated over all frames ``indices``
    (read in chunks); ``None`` for the other fusions."""
    return fit_staple_table(cohort.confidence, fusion, indices=indices, chunk=READ_CHUNK)


def resize_area(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize ``(B, C, H, W)`` maps: area average when shrinking, bilinear when enlarging."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if size[0] <= x.shape[-2] and size[1] <= x.shape[-1]:
        return F.interpolate(x, size=size, mode="area")
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def _quantise(x: torch.Tensor) -> torch.Tensor:
    return x.mul(255.0).round_().clamp_(0, 255).to(torch.uint8)


def load_frames(
    cohort: Any, indices: np.ndarray, strategy: Strategy, size: tuple[int, int], progress: Any = None
) -> FrameData:
    """Read frames ``indices`` and compute the strategy's targets at ``size``.

    With ``staple`` fusion the STAPLE parameters are estimated once over all
    ``indices``. The strategy is applied at the cohort's resolution and the targets and
    weights are then resized to ``size`` (area averaging when shrinking,
    bilinear when enlarging), so a low-resolution target pixel holds the share
    of its area that is positive. Thresholding an already shrunk confidence map
    instead would erase thin structures (a 2-pixel pleural line averaged with
    its background falls below a high threshold) and bias the comparison of
    strategies against high thresholds.

    Parameters
    ----------
    cohort : Cohort
    indices : (N,) int ndarray
        Sorted array indices.
    strategy : Strategy
    size : (int, int)
        Training size ``(S, S')``.
    progress : callable, optional
        Called with the number of frames read after each chunk.
    """
    indices = np.asarray(indices, dtype=np.int64)
    table = staple_table(cohort, indices, strategy.fusion)
    imgs, tgts, wts = [], [], []
    for start in range(0, indices.size, READ_CHUNK):
        idx = indices[start : start + READ_CHUNK]
        imgs.append(_quantise(read_images(cohort, idx, size)))
        fused = fuse(_read(cohort.confidence, idx), strategy.fusion, staple_table=table)
        target, weight = strategy.targets_from_fused(fused)
        tgts.append(_quantise(resize_area(torch.from_numpy(target), size)))
        wts.append(_quantise(resize_area(torch.from_numpy(weight), size)))
        if progress is not None:
            progress(idx.size)
    c = len(cohort.class_names)
    empty = torch.zeros((0, c) + tuple(size), dtype=torch.uint8)
    return FrameData(
        indices=indices,
        images=torch.cat(imgs) if imgs else empty[:, :1],
        target=torch.cat(tgts) if tgts else empty,
        weight=torch.cat(wts) if wts else empty,
    )

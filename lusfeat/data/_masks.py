"""Mask sets: per-frame class masks (and probabilities) aligned with a cohort.

A mask set is one folder, written by ``lusfeat segment`` (or by any code that
produces masks) and read by ``lusfeat evaluate`` and ``lusfeat features``::

    MASKS/
      masks.json     metadata: classes, frame count, cohort fingerprint, producer
      masks.zarr/    Zarr v3 group chunked by frames
        masks          (N, C, H, W) bool
        probabilities  (N, C, H, W) uint8, round(255 * p)  (optional)

Frame ``i`` of a mask set is frame ``array_index == i`` of its cohort.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import CohortError, InputError
from .._io import read_json, write_json
from ._chunks import FrameArray, verify_chunks
from ._format import CLASS_NAMES, AtomicFolderWriter, create_frame_array

__all__ = ["MaskSet", "MaskWriter", "open_masks", "MASKS_FORMAT_VERSION"]

MASKS_FORMAT = "lusfeat-masks"
MASKS_FORMAT_VERSION = 1
MASKS_META = "masks.json"
MASKS_ARRAYS = "masks.zarr"


@dataclass
class MaskSet:
    """An opened mask set.

    Attributes
    ----------
    path : Path
    meta : dict
        Parsed ``masks.json``.
    masks : FrameArray
        ``(N, C, H, W) bool``, lazy (a corrupt chunk raises :class:`lusfeat.CohortError`).
    probabilities : FrameArray or None
        ``(N, C, H, W) uint8`` holding ``round(255 * p)``, lazy.
    """

    path: Path
    meta: dict[str, Any]
    masks: Any
    probabilities: Any = None

    @property
    def n_frames(self) -> int:
        return int(self.masks.shape[0])


def open_masks(path: str | os.PathLike, *, verify: bool = False) -> MaskSet:
    """Open a mask set folder lazily; errors name the missing piece.

    Parameters
    ----------
    path : path-like
        Mask set folder.
    verify : bool
        Compare every stored chunk with its digest in ``chunks.json``; without
        it only the presence of every listed chunk is checked.

    Raises
    ------
    CohortError
        When the folder is not a mask set, or an array or listed chunk is
        missing, unreadable or (with ``verify``) changed.
    """
    import zarr

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CohortError(f"{path} is a file, not a mask set folder; give the folder written by `lusfeat segment`")
    meta_path = path / MASKS_META
    if not meta_path.exists():
        raise CohortError(f"{meta_path} is missing: {path} is not a lusfeat mask set")
    try:
        meta = read_json(meta_path)
    except InputError as exc:
        raise CohortError(str(exc)) from None
    if meta.get("format") != MASKS_FORMAT or meta.get("format_version") != MASKS_FORMAT_VERSION:
        raise CohortError(
            f"{meta_path}: unknown format {meta.get('format')!r} version "
            f"{meta.get('format_version')!r}; expected {MASKS_FORMAT!r} v{MASKS_FORMAT_VERSION}"
        )
    try:
        group = zarr.open_group(str(path / MASKS_ARRAYS), mode="r")
        masks = group["masks"]
    except Exception as exc:
        raise CohortError(f"{path / MASKS_ARRAYS} is missing or unreadable ({exc})") from None
    probs = group["probabilities"] if "probabilities" in group else None
    if masks.ndim != 4 or masks.shape[1] != len(CLASS_NAMES):
        raise CohortError(
            f"{path}: masks have shape {masks.shape}; expected (N, {len(CLASS_NAMES)}, H, W)"
        )
    problems = verify_chunks(path, MASKS_ARRAYS, digests=verify)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise CohortError(problems[0] + more)
    where = path / MASKS_ARRAYS
    return MaskSet(path=path, meta=meta, masks=FrameArray(masks, str(where / "masks")),
                   probabilities=None if probs is None else FrameArray(probs, str(where / "probabilities")))


class MaskWriter(AtomicFolderWriter):
    """Write a mask set atomically, streaming frame batches.

    Parameters
    ----------
    path : path-like
        Final folder.
    n_frames, height, width : int
    with_probabilities : bool
        Also store ``probabilities`` (uint8, 255 * p).
    overwrite : bool
    chunk_frames : int

    Examples
    --------
    >>> with MaskWriter("m", 10, 64, 64) as w:  # doctest: +SKIP
    ...     w.write(0, masks)
    ...     w.finish({"producer": "truth"})
    """

    def __init__(
        self,
        path: str | os.PathLike,
        n_frames: int,
        height: int,
        width: int,
        with_probabilities: bool = False,
        overwrite: bool = False,
        chunk_frames: int = 32,
    ) -> None:
        self.path = Path(path)
        self.shape = (int(n_frames), len(CLASS_NAMES), int(height), int(width))
        self.with_probabilities = with_probabilities
        self.overwrite = overwrite
        self.chunk_frames = chunk_frames
        self._written = np.zeros(self.shape[0], dtype=bool)

    def __enter__(self) -> MaskWriter:
        group = self._open(MASKS_ARRAYS)
        self.masks = create_frame_array(group, "masks", self.shape, "bool", self.chunk_frames)
        self.probabilities = (
            create_frame_array(group, "probabilities", self.shape, "uint8", self.chunk_frames)
            if self.with_probabilities
            else None
        )
        return self

    def write(self, start: int, masks: np.ndarray, probabilities: np.ndarray | None = None) -> None:
        """Write frames ``start : start + len(masks)``; ``masks`` (B, C, H, W) bool."""
        b = masks.shape[0]
        if masks.shape[1:] != self.shape[1:]:
            raise InputError(f"masks must be (B, {self.shape[1]}, {self.shape[2]}, {self.shape[3]}), got {masks.shape}")
        self.masks[start : start + b] = masks.astype(bool, copy=False)
        if self.probabilities is not None:
            if probabilities is None:
                raise InputError("this writer stores probabilities; pass them")
            if probabilities.dtype != np.uint8:
                probabilities = np.clip(np.rint(np.asarray(probabilities, np.float32) * 255), 0, 255).astype(np.uint8)
            self.probabilities[start : start + b] = probabilities
        self._written[start : start + b] = True

    def finish(self, meta: dict[str, Any]) -> None:
        """Write ``masks.json``; call after all frames were written."""
        if not self._written.all():
            raise InputError(f"{int((~self._written).sum())} frame(s) of the mask set never written")
        full = {
            "format": MASKS_FORMAT,
            "format_version": MASKS_FORMAT_VERSION,
            "classes": list(CLASS_NAMES),
            "n_frames": self.shape[0],
            "height": self.shape[2],
            "width": self.shape[3],
            "has_probabilities": self.with_probabilities,
        }
        full.update(meta)
        write_json(self._tmp / MASKS_META, full)
        self._write_chunk_manifest(MASKS_ARRAYS, {"masks": self.masks, "probabilities": self.probabilities})
        self._finished = True

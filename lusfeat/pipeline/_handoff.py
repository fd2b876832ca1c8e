"""Segment and compute features in one pass: masks go from the network to the feature
kernels without being read back from disk (and, on CUDA, without leaving the GPU)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from .._errors import InputError

__all__ = ["segment_with_features"]

log = logging.getLogger(__name__)


def segment_with_features(
    cohort: Any,
    run: str | os.PathLike,
    masks_out: str | os.PathLike,
    features_out: str | os.PathLike | None = None,
    *,
    backend: str = "auto",
    scheduler: Any = None,
    batch_size: int = 64,
    allow_foreign: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    **options: Any,
) -> Path:
    """:func:`lusfeat.seg.segment`, and with ``features_out`` the feature tables of its masks.

    In process, every batch of predicted masks ``(B, 5, H, W) bool`` is handed to
    a :class:`lusfeat.features.FeatureSink` while still in memory: with the
    ``cuda`` backend and a CUDA device as a CuPy view of the torch tensor (no
    copy, no host round trip). The masks are still written to ``masks_out`` for
    evaluation, and the tables equal ``lusfeat features COHORT --masks MASKS``.
    With a ``scheduler`` the masks are written by the workers and the features
    then computed by the same cluster from the stored masks.

    Parameters
    ----------
    cohort : Cohort or path-like
    run, masks_out : path-like
        As :func:`lusfeat.seg.segment`.
    features_out : path-like, optional
        Feature folder to write (see :mod:`lusfeat.features`).
    backend : {"auto", "reference", "cpu", "cuda"}
        Feature backend.
    scheduler : str or distributed.Client, optional
    batch_size : int
        Frames per forward pass (and per feature batch).
    allow_foreign, overwrite, progress : bool
    **options
        Further :func:`lusfeat.seg.segment` options (device, threads, compile, threshold).

    Returns
    -------
    Path
        The mask set folder.

    Raises
    ------
    InputError
        When ``features_out`` exists without ``overwrite`` (checked before any work).
    """
    from ..data import open_cohort
    from ..features._extract import FeatureSink, describe_masks, extract
    from ..seg import segment

    common = dict(batch_size=batch_size, allow_foreign=allow_foreign, progress=progress, overwrite=overwrite,
                  **options)
    if features_out is None:
        return segment(cohort, run, masks_out, scheduler=scheduler, **common)
    features_out = Path(features_out)
    if features_out.exists() and not overwrite and (not features_out.is_dir() or any(features_out.iterdir())):
        raise InputError(f"--features {features_out} already exists; choose another folder or pass --overwrite")
    c = open_cohort(cohort) if isinstance(cohort, (str, os.PathLike)) else cohort
    if scheduler is not None:
        path = segment(c, run, masks_out, scheduler=scheduler, **common)
        extract(c, path, features_out, backend=backend, scheduler=scheduler, allow_foreign=allow_foreign,
                progress=progress, overwrite=overwrite)
        return path
    sink = FeatureSink(c, backend)
    path = segment(c, run, masks_out, on_masks=sink.add, **common)
    sink.write(features_out, describe_masks(c, path, allow_foreign=allow_foreign), overwrite=overwrite,
               extra={"batch": int(batch_size), "handoff": f"in memory from lusfeat segment ({sink.backend.value})"})
    return path

"""Annotator fusion: turn ``(N, A, C, H, W)`` confidence into one ``(N, C, H, W)`` map.

Every method returns a fused confidence in percent (0-100, ``float32``), so the
strategies in :mod:`lusfeat.labels._strategy` treat all of them alike.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

import numpy as np

from .._arrays import array_module
from .._errors import InputError

__all__ = ["Fusion", "fuse", "fused_masks", "staple", "staple_fit", "fit_staple_table", "array_module"]

logger = logging.getLogger(__name__)

#: Confidence (percent) at or above which an annotator's pixel counts as a positive vote
#: for the ``majority`` and ``staple`` methods.
VOTE_THRESHOLD = 50


class Fusion(StrEnum):
    """Annotator fusion methods (a plain string such as ``"mean"`` is accepted too)."""

    MEAN = "mean"
    MAX = "max"
    MAJORITY = "majority"
    STAPLE = "staple"


def _check_confidence(confidence: Any, kinds: str = "uif") -> None:
    shape = getattr(confidence, "shape", None)
    if shape is None or len(shape) != 5:
        raise InputError(
            "confidence must be an (N, A, C, H, W) array in percent; got "
            f"{'an object without a shape' if shape is None else f'shape {tuple(shape)}'}. "
            "Pass cohort.confidence[...] (add the annotator axis for a single annotator)."
        )
    if shape[1] < 1:
        raise InputError(f"confidence has no annotators (shape {tuple(shape)}); A must be >= 1")
    kind = np.dtype(confidence.dtype).kind
    if kind not in kinds:
        raise InputError(f"confidence must be numeric percent (uint8), got dtype {confidence.dtype}")


def fuse(confidence: Any, method: str | Fusion = "mean", *, staple_table: np.ndarray | None = None) -> Any:
    """Fuse the annotators' confidence maps into one map per class.

    Parameters
    ----------
    confidence : (N, A, C, H, W) uint8 array
        Per-annotator confidence in percent, 0-100 (0 also means "not labelled"
        and counts as 0 %). NumPy or CuPy; the result lives on the same device.
    method : {"mean", "max", "majority", "staple"}
        - ``mean``: ``c = (1/A) sum_a c_a``.
        - ``max``: ``c = max_a c_a``.
        - ``majority``: percentage of annotators voting positive,
          ``c = 100 * (1/A) sum_a [c_a >= 50]``.
        - ``staple``: each annotator's vote ``[c_a >= 50]`` enters STAPLE
          (Warfield et al., 2004): an EM estimate, per class over all frames, of
          each annotator's sensitivity and specificity; ``c`` is the posterior
          probability (percent) that the pixel is truly positive. See
          :func:`staple`.
    staple_table : (C, 2**A) ndarray, optional
        For ``staple``: posteriors per vote pattern from :func:`staple_fit`, so a
        cohort read in batches is fused with parameters estimated on all of it.
        Without it the EM runs on ``confidence`` alone.

    Returns
    -------
    (N, C, H, W) float32 array
        Fused confidence in percent, 0-100.

    Raises
    ------
    InputError
        When ``confidence`` is not 5-D numeric or ``method`` is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> conf = np.array([40, 80, 90], np.uint8).reshape(1, 3, 1, 1, 1)
    >>> float(fuse(conf, "mean")[0, 0, 0, 0])
    70.0
    >>> float(fuse(conf, "majority")[0, 0, 0, 0])  # 2 of 3 annotators >= 50
    66.66666412353516
    """
    _check_confidence(confidence)
    try:
        method = Fusion(method)
    except ValueError:
        raise InputError(
            f"unknown fusion method {method!r}; expected one of {[m.value for m in Fusion]}"
        ) from None
    xp = array_module(confidence)
    if method is Fusion.MEAN:
        return xp.mean(confidence, axis=1, dtype=xp.float32)
    if method is Fusion.MAX:
        return confidence.max(axis=1).astype(xp.float32)
    if method is Fusion.MAJORITY:
        votes = (confidence >= VOTE_THRESHOLD).sum(axis=1, dtype=xp.float32)
        return votes * xp.float32(100.0 / confidence.shape[1])
    if staple_table is None:
        return staple(confidence >= VOTE_THRESHOLD)[0] * xp.float32(100.0)
    pattern = _patterns(confidence >= VOTE_THRESHOLD)
    table = np.asarray(staple_table)
    if table.shape != (confidence.shape[2], 1 << confidence.shape[1]):
        raise InputError(
            f"staple_table has shape {table.shape}; expected (C, 2**A) = "
            f"{(confidence.shape[2], 1 << confidence.shape[1])} for this confidence"
        )
    return _lookup(xp, table, pattern) * xp.float32(100.0)


def fused_masks(
    confidence: Any,
    threshold: float,
    fusion: str | Fusion = "mean",
    *,
    staple_table: np.ndarray | None = None,
    fused: Any = None,
) -> Any:
    """Masks of the pixels whose fused annotator confidence is at least ``threshold``.

    ``mask = fuse(confidence, fusion) >= threshold``: the masks of the
    ``labels:T`` mask source (``lusfeat features --masks labels:T``), of the
    sweep's ``labels-T`` reference pipelines and of the ``labels:T``
    references of :func:`lusfeat.seg.evaluate`.

    Parameters
    ----------
    confidence : (N, A, C, H, W) uint8 array or None
        Per-annotator confidence in percent (NumPy or CuPy); ignored when
        ``fused`` is given.
    threshold : float
        ``T`` in percent (0-100).
    fusion : {"mean", "max", "majority", "staple"}
        Annotator fusion (see :func:`fuse`).
    staple_table : (C, 2**A) ndarray, optional
        For ``staple``: the table of :func:`staple_fit` over the whole cohort.
    fused : (N, C, H, W) float array, optional
        The already fused confidence (saves fusing again when one map is
        compared with several thresholds).

    Returns
    -------
    (N, C, H, W) bool array

    Raises
    ------
    InputError
        When ``threshold`` is outside 0..100, or for a bad ``confidence`` or
        ``fusion`` (see :func:`fuse`).

    Examples
    --------
    >>> conf = np.array([40, 80, 90], np.uint8).reshape(1, 3, 1, 1, 1)  # mean 70 %
    >>> bool(fused_masks(conf, 70)[0, 0, 0, 0]), bool(fused_masks(conf, 71)[0, 0, 0, 0])
    (True, False)
    """
    t = float(threshold)
    if not 0.0 <= t <= 100.0:
        raise InputError(f"fused-label threshold must be in [0, 100] percent, got {threshold!r}")
    if fused is None:
        fused = fuse(confidence, fusion, staple_table=staple_table)
    return fused >= t


def fit_staple_table(
    confidence: Any, fusion: str | Fusion, *, indices: Any = None, chunk: int = 256
) -> np.ndarray | None:
    """The STAPLE table of a cohort's confidence for ``staple`` fusion (``None`` for the others).

    Parameters
    ----------
    confidence : (N, A, C, H, W) array-like
        A cohort's ``confidence`` (Zarr or NumPy), read ``chunk`` frames at a time.
    fusion : str or Fusion
    indices : sequence of int, optional
        Sorted frame indices to estimate over (default: all frames).
    chunk : int
        Frames read per step.

    Returns
    -------
    (C, 2**A) ndarray or None
        The table for ``fuse(..., staple_table=table)`` (see :func:`staple_fit`).
    """
    if Fusion(fusion) is not Fusion.STAPLE:
        return None
    idx = np.arange(confidence.shape[0], dtype=np.int64) if indices is None else np.asarray(indices, np.int64)
    return staple_fit(_read_rows(confidence, idx[s : s + chunk]) for s in range(0, idx.size, chunk))[0]


def _read_rows(array: Any, idx: np.ndarray) -> np.ndarray:
    """Rows ``idx`` (sorted) of a Zarr or NumPy array; contiguous runs are sliced."""
    if idx.size and idx[-1] - idx[0] + 1 == idx.size:
        return np.asarray(array[int(idx[0]) : int(idx[-1]) + 1])
    if hasattr(array, "oindex"):
        return np.asarray(array.oindex[idx])
    return np.asarray(array)[idx]


def _patterns(decisions: Any) -> Any:
    """Vote pattern ``sum_a 2**a D_a`` per pixel, ``(N, C, H, W) int32``."""
    xp = array_module(decisions)
    a = decisions.shape[1]
    if a > 20:
        raise InputError(f"staple supports at most 20 annotators, got {a}; use fusion 'mean'")
    powers = xp.asarray((1 << np.arange(a)).reshape(1, a, 1, 1, 1), dtype=xp.int32)
    return (decisions.astype(xp.int32) * powers).sum(axis=1)


def _lookup(xp: Any, table: np.ndarray, pattern: Any) -> Any:
    lut = xp.asarray(table.astype(np.float32))  # (C, P)
    class_idx = xp.arange(table.shape[0], dtype=xp.int32).reshape(1, -1, 1, 1)
    return lut[class_idx, pattern]


def _pattern_counts(pattern: Any, n_patterns: int) -> np.ndarray:
    xp = array_module(pattern)
    return np.stack([
        np.asarray(_to_numpy(xp.bincount(pattern[:, k].ravel(), minlength=n_patterns)), float)
        for k in range(pattern.shape[1])
    ])


def staple_fit(
    batches: Any, *, max_iter: int = 100, tol: float = 1e-7
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimate STAPLE over confidence read in batches (one EM over all of them).

    Parameters
    ----------
    batches : iterable of (B, A, C, H, W) uint8 arrays
        Confidence in percent; votes are ``c >= 50``.
    max_iter, tol : see :func:`staple`

    Returns
    -------
    table : (C, 2**A) ndarray
        Posterior probability (0-1) of each vote pattern, for ``fuse(..., staple_table=table)``.
    sensitivity, specificity : (C, A) ndarray

    Examples
    --------
    >>> conf = np.zeros((4, 3, 5, 8, 8), np.uint8); conf[:, :2, 0, :4] = 90
    >>> table, sens, spec = staple_fit(conf[i : i + 2] for i in (0, 2))
    >>> fused = fuse(conf, "staple", staple_table=table)
    """
    counts = None
    a = None
    for batch in batches:
        _check_confidence(batch)
        a = batch.shape[1]
        c = _pattern_counts(_patterns(batch >= VOTE_THRESHOLD), 1 << a)
        counts = c if counts is None else counts + c
    if counts is None:
        raise InputError("staple_fit received no batches")
    return _fit_table(counts, a, max_iter, tol)


def _fit_table(counts: np.ndarray, a: int, max_iter: int, tol: float) -> tuple[np.ndarray, ...]:
    bits = ((np.arange(1 << a)[:, None] >> np.arange(a)[None, :]) & 1).astype(np.float64)  # (P, A)
    c = counts.shape[0]
    table, sens, spec = np.zeros((c, 1 << a)), np.zeros((c, a)), np.zeros((c, a))
    for k in range(c):
        table[k], sens[k], spec[k] = _staple_patterns(bits, counts[k], max_iter, tol)
    return table, sens, spec


def staple(
    decisions: Any,
    *,
    max_iter: int = 100,
    tol: float = 1e-7,
) -> tuple[Any, np.ndarray, np.ndarray]:
    """STAPLE: EM estimate of annotator sensitivity/specificity and the truth posterior.

    For each class separately, with binary votes ``D[i, a]`` over all pixels ``i``
    of all frames, a global prior ``f`` (initialised to ``mean(D)``) and
    per-annotator sensitivity ``p_a`` and specificity ``q_a`` (both
    initialised to 0.9), iterate

    - E step: ``W_i = f prod_a p_a^D (1-p_a)^(1-D) / (that + (1-f) prod_a q_a^(1-D) (1-q_a)^D)``
    - M step: ``p_a = sum_i W_i D_ia / sum_i W_i``, ``q_a = sum_i (1-W_i)(1-D_ia) / sum_i (1-W_i)``,
      ``f = mean_i W_i``

    until no parameter moves by more than ``tol``. Pixels with the same vote
    pattern share ``W``, so the EM runs on the ``2**A`` pattern counts (exact,
    and independent of the number of pixels).

    Parameters
    ----------
    decisions : (N, A, C, H, W) bool array
        Per-annotator binary votes (NumPy or CuPy).
    max_iter : int
        Maximum EM iterations.
    tol : float
        Convergence tolerance on sensitivities and specificities.

    Returns
    -------
    posterior : (N, C, H, W) float32 array
        Probability (0-1) that each pixel is positive.
    sensitivity, specificity : (C, A) float64 ndarray
        Estimated per class and annotator.

    Raises
    ------
    InputError
        When ``decisions`` is not 5-D or has more than 20 annotators.

    References
    ----------
    S. K. Warfield, K. H. Zou, W. M. Wells, "Simultaneous truth and performance
    level estimation (STAPLE)", IEEE TMI 23(7), 2004.
    """
    _check_confidence(decisions, kinds="biu")
    xp = array_module(decisions)
    a = decisions.shape[1]
    pattern = _patterns(decisions)
    table, sens, spec = _fit_table(_pattern_counts(pattern, 1 << a), a, max_iter, tol)
    return _lookup(xp, table, pattern), sens, spec


def _to_numpy(x: Any) -> np.ndarray:
    return x.get() if hasattr(x, "get") else np.asarray(x)


def _staple_patterns(
    bits: np.ndarray, counts: np.ndarray, max_iter: int, tol: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run STAPLE EM on vote patterns ``bits (P, A)`` with pixel ``counts (P,)``."""
    total = counts.sum()
    a = bits.shape[1]
    prior = float((bits * counts[:, None]).sum() / (total * a)) if total else 0.0
    if prior <= 0.0 or prior >= 1.0:  # nobody voted positive (or everyone did): nothing to learn
        w = np.full(len(counts), 1.0 if prior >= 1.0 else 0.0)
        return w, np.ones(a), np.ones(a)
    eps = 1e-10
    p = np.full(a, 0.9)
    q = np.full(a, 0.9)
    w = np.zeros(len(counts))
    for it in range(max_iter):
        log_a = np.log(prior) + bits @ np.log(np.clip(p, eps, 1)) + (1 - bits) @ np.log(np.clip(1 - p, eps, 1))
        log_b = np.log1p(-prior) + (1 - bits) @ np.log(np.clip(q, eps, 1)) + bits @ np.log(np.clip(1 - q, eps, 1))
        w = 1.0 / (1.0 + np.exp(np.clip(log_b - log_a, -700, 700)))
        cw = counts * w
        cv = counts * (1 - w)
        new_p = (cw @ bits) / max(cw.sum(), eps)
        new_q = (cv @ (1 - bits)) / max(cv.sum(), eps)
        new_prior = float(np.clip(cw.sum() / total, eps, 1 - eps))
        moved = max(np.abs(new_p - p).max(), np.abs(new_q - q).max(), abs(new_prior - prior))
        p, q, prior = new_p, new_q, new_prior
        if moved < tol:
            logger.debug("STAPLE converged after %d iterations", it + 1)
            break
    log_a = np.log(prior) + bits @ np.log(np.clip(p, eps, 1)) + (1 - bits) @ np.log(np.clip(1 - p, eps, 1))
    log_b = np.log1p(-prior) + (1 - bits) @ np.log(np.clip(q, eps, 1)) + bits @ np.log(np.clip(1 - q, eps, 1))
    w = 1.0 / (1.0 + np.exp(np.clip(log_b - log_a, -700, 700)))
    return w, p, q

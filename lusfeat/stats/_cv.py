"""Repeated patient-grouped K-fold splits.

Every split keeps all rows of a patient on one side. Binary and multiclass
outcomes use scikit-learn's :class:`~sklearn.model_selection.StratifiedGroupKFold`
(class balance per fold), continuous outcomes :class:`~sklearn.model_selection.GroupKFold`
with shuffling. Repeat ``r`` uses seed ``seed + r``, so the same rows, outcome
and seed always give the same folds, whichever feature pipeline is evaluated:
comparisons between pipelines are paired by construction.

Stratified grouped folds need at least ``K`` patients with rows of every
class. When a class has fewer, :func:`repeated_group_kfold` raises an
:class:`~lusfeat.InputError` naming the task, the counts and the fixes
(``--folds``, ``--min-events``), or, with ``fallback=True`` (documented
option ``--unstratified-fallback`` of ``lusfeat analyze``), logs a warning and
builds unstratified grouped folds instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np

from .._errors import InputError

__all__ = ["repeated_group_kfold", "inner_folds", "class_patient_counts"]

logger = logging.getLogger(__name__)


def class_patient_counts(groups: np.ndarray, y: np.ndarray) -> dict[object, int]:
    """Number of distinct patients with at least one row of each class.

    Parameters
    ----------
    groups : (n,) array
        Patient of each row.
    y : (n,) array
        Class of each row.

    Returns
    -------
    dict
        Class value -> patient count, classes in sorted order.
    """
    groups, y = np.asarray(groups), np.asarray(y)
    return {c.item() if hasattr(c, "item") else c: int(np.unique(groups[y == c]).size)
            for c in np.unique(y)}


def repeated_group_kfold(
    groups: np.ndarray,
    y: np.ndarray | None = None,
    *,
    folds: int = 5,
    repeats: int = 2,
    stratify: bool = False,
    seed: int = 0,
    fallback: bool = False,
    task: str = "",
) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
    """Yield ``(repeat, fold, train_idx, test_idx)`` for repeated grouped K-fold.

    Parameters
    ----------
    groups : (n,) array
        Patient of each row.
    y : (n,) array, optional
        Outcome; needed when ``stratify`` is true.
    folds : int
        Number of folds ``K`` (at least 2, at most the number of patients).
    repeats : int
        Number of repeats with different shuffles.
    stratify : bool
        Balance the classes of ``y`` across folds.
    seed : int
        Seed of repeat 0; repeat ``r`` uses ``seed + r``.
    fallback : bool
        When stratified folds cannot be built (a class has rows of fewer than
        ``K`` patients), log a warning and build unstratified grouped folds
        instead of raising.
    task : str
        Task name used in messages.

    Yields
    ------
    repeat, fold : int
    train_idx, test_idx : (n_train,) int, (n_test,) int

    Raises
    ------
    InputError
        When ``folds`` or ``repeats`` is out of range, or stratified folds
        cannot be built and ``fallback`` is false.

    Examples
    --------
    >>> g = np.repeat(np.arange(6), 2)
    >>> splits = list(repeated_group_kfold(g, folds=3, repeats=1))
    >>> len(splits), sorted(len(te) for *_, te in splits)
    (3, [4, 4, 4])
    """
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

    groups = np.asarray(groups)
    where = f"task {task!r}: " if task else ""
    _check_cv_options(groups, y, folds=folds, repeats=repeats, stratify=stratify, where=where)
    if stratify:
        stratify = _can_stratify(groups, y, folds, fallback, where)
    dummy = np.zeros(groups.shape[0])
    for r in range(repeats):
        if stratify:
            cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed + r)
            it = cv.split(dummy, y, groups)
        else:
            cv = GroupKFold(n_splits=folds, shuffle=True, random_state=seed + r)
            it = cv.split(dummy, groups=groups)
        for k, (tr, te) in enumerate(it):
            yield r, k, tr, te


def _check_cv_options(groups: np.ndarray, y: np.ndarray | None, *, folds: int, repeats: int, stratify: bool,
                      where: str) -> None:
    """Raise :class:`InputError` for out-of-range ``folds`` or ``repeats`` or stratification without ``y``."""
    n_groups = np.unique(groups).size
    if int(folds) != folds or folds < 2 or folds > n_groups:
        raise InputError(f"{where}--folds must be between 2 and the number of patients ({n_groups}); "
                         f"got {folds}")
    if int(repeats) != repeats or repeats < 1:
        raise InputError(f"--repeats must be at least 1; got {repeats}")
    if stratify and y is None:
        raise InputError("stratified splits need the outcome y")


def _can_stratify(groups: np.ndarray, y: np.ndarray, folds: int, fallback: bool, where: str) -> bool:
    """Whether stratified folds can be built: every class has rows of at least ``folds`` patients.

    Returns false (after a warning) when they cannot and ``fallback`` is true.

    Raises
    ------
    InputError
        When they cannot and ``fallback`` is false.
    """
    counts = class_patient_counts(groups, y)
    low = {c: n for c, n in counts.items() if n < folds}
    if low or len(counts) < 2:
        shown = ", ".join(f"class {c}: {n} patient(s)" for c, n in counts.items())
        msg = (f"{where}stratified {folds}-fold grouped CV needs at least {folds} patients with "
               f"rows of every class; got {shown}")
        if not fallback:
            raise InputError(f"{msg}; lower --folds, raise --min-events to skip the task, or "
                             "pass --unstratified-fallback")
        logger.warning("%s; using unstratified grouped folds (--unstratified-fallback)", msg)
        return False
    return True

def inner_folds(groups: np.ndarray, y: np.ndarray | None, folds: int, seed: int
                ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Grouped (stratified where ``y`` is given) inner folds of training rows for tuning.

    Fewer folds are used when a class has rows of fewer than ``folds`` patients,
    and an empty list is returned when no two folds can be built (at least 2
    patients per class, 4 patients overall); callers then keep their default
    hyperparameters. Every returned training part holds every class of ``y``.

    Parameters
    ----------
    groups : (n,) array
        Patient of each training row.
    y : (n,) array or None
        Classes (stratified folds), or None for a continuous outcome.
    folds : int
        Wanted number of inner folds.
    seed : int

    Returns
    -------
    list of (fit_idx, val_idx)
    """
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

    groups = np.asarray(groups)
    k = min(folds, np.unique(groups).size // 2)
    if y is not None:
        counts = class_patient_counts(groups, y)
        if len(counts) < 2:
            return []
        k = min(k, min(counts.values()))
    if k < 2:
        return []
    dummy = np.zeros(groups.shape[0])
    if y is None:
        it = GroupKFold(n_splits=k, shuffle=True, random_state=seed).split(dummy, groups=groups)
    else:
        it = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(dummy, y, groups)
    out = [(tr, te) for tr, te in it]
    if y is not None:
        n_cls = np.unique(y).size
        out = [(tr, te) for tr, te in out if np.unique(y[tr]).size == n_cls]
    return out

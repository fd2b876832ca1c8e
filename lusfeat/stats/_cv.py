"""Repeated patient-grouped K-fold splits.

Every split keeps all rows of a patient on one side. Binary and multiclass
outcomes use scikit-learn's :class:`~sklearn.model_selection.StratifiedGroupKFold`
(class balance per fold), continuous outcomes :class:`~sklearn.model_selection.GroupKFold`
with shuffling. Repeat ``r`` uses seed ``seed + r``, so the same rows, outcome
and seed always give the same folds, whichever feature pipeline is evaluated:
comparisons between pipelines are paired by construction.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .._errors import InputError

__all__ = ["repeated_group_kfold", "inner_group_split"]


def repeated_group_kfold(
    groups: np.ndarray,
    y: np.ndarray | None = None,
    *,
    folds: int = 5,
    repeats: int = 2,
    stratify: bool = False,
    seed: int = 0,
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

    Yields
    ------
    repeat, fold : int
    train_idx, test_idx : (n_train,) int, (n_test,) int

    Raises
    ------
    InputError
        When ``folds`` or ``repeats`` is out of range.

    Examples
    --------
    >>> g = np.repeat(np.arange(6), 2)
    >>> splits = list(repeated_group_kfold(g, folds=3, repeats=1))
    >>> len(splits), sorted(len(te) for *_, te in splits)
    (3, [4, 4, 4])
    """
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

    groups = np.asarray(groups)
    n_groups = np.unique(groups).size
    if folds < 2 or folds > n_groups:
        raise InputError(f"--folds must be between 2 and the number of patients ({n_groups}); got {folds}")
    if repeats < 1:
        raise InputError(f"--repeats must be at least 1; got {repeats}")
    if stratify and y is None:
        raise InputError("stratified splits need the outcome y")
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


def inner_group_split(
    groups: np.ndarray, fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Split rows into fit and early-stopping parts by patient.

    Parameters
    ----------
    groups : (n,) array
        Patient of each training row.
    fraction : float
        Share of patients held out for early stopping.
    seed : int

    Returns
    -------
    fit_idx, stop_idx : int arrays
        ``stop_idx`` is empty when there are fewer than 4 patients.
    """
    uniq = np.unique(groups)
    if uniq.size < 4:
        return np.arange(groups.shape[0]), np.array([], dtype=np.intp)
    rng = np.random.default_rng(seed)
    n_stop = max(1, int(round(fraction * uniq.size)))
    stop_groups = rng.choice(uniq, size=n_stop, replace=False)
    is_stop = np.isin(groups, stop_groups)
    return np.flatnonzero(~is_stop), np.flatnonzero(is_stop)

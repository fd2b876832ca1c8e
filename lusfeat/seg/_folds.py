"""Patient folds for cross-fitting and the validation split inside each fold."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._errors import InputError

__all__ = ["assign_folds", "make_splits"]


def assign_folds(patients: np.ndarray, folds: int, seed: int) -> pd.DataFrame:
    """Shuffle patients with ``seed`` and deal them round-robin into ``folds`` folds.

    Returns
    -------
    DataFrame
        ``patient_id`` (str), ``fold`` (int, 0..folds-1); with ``folds == 1`` every
        patient is in fold 0.
    """
    patients = np.unique(np.asarray(patients).astype(str))
    if folds < 1:
        raise InputError(f"folds must be >= 1, got {folds}")
    if folds > 1 and patients.size < folds:
        raise InputError(
            f"cross-fitting with {folds} folds needs at least {folds} patients; the cohort has "
            f"{patients.size}. Lower --folds."
        )
    order = np.random.default_rng(seed).permutation(patients.size)
    fold = np.empty(patients.size, dtype=np.int64)
    fold[order] = np.arange(patients.size) % folds
    return pd.DataFrame({"patient_id": patients, "fold": fold})


def make_splits(fold_table: pd.DataFrame, folds: int, val_fraction: float, seed: int) -> pd.DataFrame:
    """Roles of every patient for every model.

    Model ``k`` of a cross-fitted run (``folds >= 2``) never sees fold ``k``
    (role ``test``); of its other patients a fraction ``val_fraction`` (at least
    one, when three or more remain) is held out for validation (``val``) and the
    rest train (``train``). With ``folds == 1`` the single model has no test
    patients.

    Returns
    -------
    DataFrame
        ``model`` (int), ``patient_id`` (str), ``role`` in {train, val, test}.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise InputError(f"val_fraction must be in [0, 1), got {val_fraction}")
    rows = []
    for k in range(folds):
        held = fold_table["fold"].to_numpy() == k if folds > 1 else np.zeros(len(fold_table), bool)
        rest = fold_table["patient_id"].to_numpy()[~held].astype(str)
        rng = np.random.default_rng([seed, k, 7])
        n_val = max(1, round(val_fraction * rest.size)) if val_fraction > 0 and rest.size >= 3 else 0
        val = set(rng.choice(rest, size=n_val, replace=False).tolist()) if n_val else set()
        for pid in fold_table["patient_id"].to_numpy()[held].astype(str):
            rows.append((k, pid, "test"))
        for pid in rest:
            rows.append((k, pid, "val" if pid in val else "train"))
    return pd.DataFrame(rows, columns=["model", "patient_id", "role"])

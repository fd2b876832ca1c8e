"""Patient-bootstrap weights: the one generator behind every patient-level bootstrap of lusfeat.

A patient bootstrap resample draws ``P`` patients with replacement; a row's
weight in the resample is the number of times its patient was drawn. Every
bootstrap of lusfeat (segmentation CIs in :mod:`lusfeat.seg._evaluate`, the
plotted ROC/calibration bands in :mod:`lusfeat.stats._plots`, the analysis CIs
in :mod:`lusfeat.stats._bootstrap`) evaluates its statistic on these weights.

Two ways to draw, one representation:

* :func:`patient_counts` draws the counts directly (one multinomial draw per
  resample; seg evaluation and the plots);
* :func:`counts_from_indices` turns resampled patient indices, as
  :func:`scipy.stats.bootstrap` draws them (the analysis, whose BCa interval
  needs scipy's resamples), into the same counts.

:func:`row_weights` maps either to rows.
"""

from __future__ import annotations

import numpy as np

__all__ = ["counts_from_indices", "patient_counts", "patient_codes", "row_weights"]


def patient_codes(groups: np.ndarray) -> tuple[int, np.ndarray]:
    """Number of patients ``P`` and the patient code ``0..P-1`` of each row (sorted order)."""
    uniq, inverse = np.unique(np.asarray(groups), return_inverse=True)
    return int(uniq.size), inverse


def patient_counts(n_patients: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Times each patient is drawn in each of ``draws`` resamples.

    Parameters
    ----------
    n_patients : int
        ``P``, patients resampled.
    draws : int
        ``B``, resamples (0 gives an empty ``(0, P)`` array).
    rng : numpy.random.Generator
        Consumed by one ``multinomial(P, 1/P, size=B)`` call.

    Returns
    -------
    (B, P) float64
    """
    if draws == 0:
        return np.zeros((0, n_patients))
    p = np.full(n_patients, 1.0 / n_patients)
    return rng.multinomial(n_patients, p, size=draws).astype(np.float64)


def counts_from_indices(idx: np.ndarray, n_patients: int) -> np.ndarray:
    """Times each patient is drawn, from resampled patient indices.

    Parameters
    ----------
    idx : (B, k) int
        Patient indices ``0..P-1`` of each resample.
    n_patients : int

    Returns
    -------
    (B, P) float64
    """
    b = idx.shape[0]
    flat = (np.arange(b)[:, None] * n_patients + idx).ravel()
    return np.bincount(flat, minlength=b * n_patients).reshape(b, n_patients).astype(np.float64)


def row_weights(counts: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Row weights ``(B, n)`` from patient counts ``(B, P)`` and the rows' patient codes ``(n,)``."""
    return counts[:, codes]

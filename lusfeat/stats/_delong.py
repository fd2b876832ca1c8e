"""DeLong's test for correlated ROC curves, fast structural-components form.

DeLong, DeLong and Clarke-Pearson (1988) estimate the covariance of several
AUCs measured on the same cases from the structural components

    V10[i] = mean_j psi(X_i, Y_j)   (positive case i)
    V01[j] = mean_i psi(X_i, Y_j)   (negative case j)

with ``psi(x, y) = 1 if x > y, 1/2 if x == y, 0 otherwise``. Sun and Xu
(2014) showed that both follow from mid-ranks, in ``O(N log N)`` instead of
``O(m n)``: with ``Tz`` the mid-rank of a case among all cases and ``Tx``/
``Ty`` its mid-rank among the positives/negatives,

    V10[i] = (Tz[i] - Tx[i]) / n,    V01[j] = 1 - (Tz[j] - Ty[j]) / m.

Clustered data (several rows per patient, e.g. frame-, clip-, zone- or
exam-pair level) break DeLong's independence assumption. Obuchowski (1997)
sums the structural components within each cluster: with ``I`` clusters,
``m_i`` positives and ``n_i`` negatives in cluster ``i`` (``M``, ``N`` in all),
``V10_i`` the sum of the positives' ``V10`` in the cluster and ``V01_i`` that of
its negatives (components computed against *all* cases of the other class),

    S10 = I / ((I - 1) M) * sum_i (V10_i - m_i A)^2
    S01 = I / ((I - 1) N) * sum_i (V01_i - n_i A)^2
    S11 = I / (I - 1)     * sum_i (V10_i - m_i A) (V01_i - n_i A)
    Var(A) = S10 / M + S01 / N + 2 S11 / (M N),

and covariances of two scores alike with cross products. Equivalently
``Var(A) = I / (I - 1) * sum_i psi_i^2`` with the cluster influence
``psi_i = (V10_i - m_i A) / M + (V01_i - n_i A) / N``. With one row per
cluster ``S11 = 0`` and the variance equals DeLong's up to the small-sample
factors: ``I (M - 1) / ((I - 1) M)`` on the positives' term and
``I (N - 1) / ((I - 1) N)`` on the negatives'.

References
----------
N. A. Obuchowski, "Nonparametric analysis of clustered ROC curve data",
Biometrics 53 (1997) 567-578.
E. R. DeLong, D. M. DeLong, D. L. Clarke-Pearson, "Comparing the areas under two
or more correlated receiver operating characteristic curves: a nonparametric
approach", Biometrics 44 (1988) 837-845.
X. Sun, W. Xu, "Fast implementation of DeLong's algorithm for comparing the
areas under correlated receiver operating characteristic curves", IEEE Signal
Processing Letters 21 (2014) 1389-1393.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from .._errors import InputError

__all__ = ["DelongResult", "delong_covariance", "delong_test", "clustered_delong_covariance",
           "clustered_delong_test"]


def _midrank(x: np.ndarray) -> np.ndarray:
    """Mid-ranks (1-based, ties averaged) along the last axis."""
    return stats.rankdata(x, method="average", axis=-1)


def _check(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    s = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    if y.ndim != 1 or s.shape[-1] != y.shape[0]:
        raise InputError(
            f"DeLong needs y_true (n,) and scores (k, n) of matching n; got y_true {y.shape} "
            f"and scores {s.shape}"
        )
    if not np.isin(y, (0, 1)).all():
        raise InputError(f"DeLong needs a binary y_true of 0/1; got values {np.unique(y)[:5]}")
    if not np.isfinite(s).all():
        raise InputError("DeLong scores contain NaN or infinity; drop those cases first")
    if y.sum() == 0 or y.sum() == y.size:
        raise InputError("DeLong needs at least one positive and one negative case")
    return y.astype(bool), s


def delong_covariance(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUCs and their DeLong covariance matrix.

    Parameters
    ----------
    y_true : (n,) int
        1 for positive cases, 0 for negative cases; one case per patient.
    scores : (k, n) float or (n,) float
        Scores of ``k`` classifiers on the same cases (higher = more positive).

    Returns
    -------
    aucs : (k,) float
    cov : (k, k) float
        ``S10 / m + S01 / n`` with ``S10``/``S01`` the sample covariances
        (denominator ``m - 1``/``n - 1``) of the structural components.

    Raises
    ------
    InputError
        When shapes disagree, ``y_true`` is not binary, or a class is empty.

    Examples
    --------
    >>> aucs, cov = delong_covariance([1, 1, 0, 0, 0], [[0.9, 0.4, 0.5, 0.2, 0.1]])
    >>> round(float(aucs[0]), 4)
    0.8333
    """
    y, s = _check(y_true, scores)
    pos, neg = s[:, y], s[:, ~y]
    m, n = pos.shape[1], neg.shape[1]
    tx = _midrank(pos)
    ty = _midrank(neg)
    tz = _midrank(np.concatenate([pos, neg], axis=1))
    aucs = (tz[:, :m].sum(axis=1) / m - (m + 1) / 2.0) / n
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    s10 = np.atleast_2d(np.cov(v10)) if m > 1 else np.zeros((s.shape[0], s.shape[0]))
    s01 = np.atleast_2d(np.cov(v01)) if n > 1 else np.zeros((s.shape[0], s.shape[0]))
    return aucs, s10 / m + s01 / n


@dataclass(frozen=True)
class DelongResult:
    """Paired DeLong comparison of two AUCs (``auc2 - auc1``).

    Attributes
    ----------
    auc1, auc2 : float
        AUC of the reference and of the compared scores.
    difference : float
        ``auc2 - auc1``.
    se : float
        Standard error of the difference.
    z, p : float
        Two-sided z statistic and p-value.
    ci_low, ci_high : float
        Wald confidence interval of the difference.
    """

    auc1: float
    auc2: float
    difference: float
    se: float
    z: float
    p: float
    ci_low: float
    ci_high: float


def delong_test(
    y_true: np.ndarray, scores1: np.ndarray, scores2: np.ndarray, confidence_level: float = 0.95
) -> DelongResult:
    """Two-sided DeLong test of two correlated AUCs on the same cases.

    Parameters
    ----------
    y_true : (n,) int
        Binary outcome, one case per patient (cases must be independent).
    scores1, scores2 : (n,) float
        Reference and compared scores.
    confidence_level : float
        Level of the Wald interval of the difference.

    Returns
    -------
    DelongResult

    Examples
    --------
    >>> r = delong_test([1, 1, 0, 0, 0], [0.9, 0.4, 0.5, 0.2, 0.1], [0.9, 0.8, 0.5, 0.2, 0.1])
    >>> round(r.difference, 4)
    0.1667
    """
    aucs, cov = delong_covariance(y_true, np.vstack([scores1, scores2]))
    return _paired(aucs, cov, confidence_level)


def _paired(aucs: np.ndarray, cov: np.ndarray, confidence_level: float) -> DelongResult:
    """Wald test and interval of ``aucs[1] - aucs[0]`` from their covariance."""
    diff = float(aucs[1] - aucs[0])
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    se = float(np.sqrt(max(var, 0.0)))
    zq = float(stats.norm.ppf(0.5 + confidence_level / 2))
    if se > 0:
        z = diff / se
        p = float(2 * stats.norm.sf(abs(z)))
    else:
        z, p = (0.0, 1.0) if diff == 0 else (float(np.sign(diff) * np.inf), 0.0)
    return DelongResult(
        auc1=float(aucs[0]), auc2=float(aucs[1]), difference=diff, se=se, z=float(z), p=p,
        ci_low=diff - zq * se, ci_high=diff + zq * se,
    )


def clustered_delong_covariance(
    y_true: np.ndarray, scores: np.ndarray, clusters: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """AUCs and their cluster-robust covariance (Obuchowski 1997).

    Parameters
    ----------
    y_true : (n,) int
        1 for positive rows, 0 for negative rows.
    scores : (k, n) float or (n,) float
        Scores of ``k`` classifiers on the same rows.
    clusters : (n,) array
        Cluster (patient) of each row; rows of one cluster may be correlated,
        clusters are independent. A cluster may hold positives, negatives or both.

    Returns
    -------
    aucs : (k,) float
        The usual AUCs over all positive-negative row pairs.
    cov : (k, k) float
        ``I / (I - 1) * sum_i psi_i psi_i^T`` with ``psi_i`` the cluster
        influence of each score (module docstring).

    Raises
    ------
    InputError
        When shapes disagree, ``y_true`` is not binary, a class is empty or
        there are fewer than 2 clusters.

    Examples
    --------
    >>> aucs, cov = clustered_delong_covariance(
    ...     [1, 0, 1, 0, 1, 0], [0.9, 0.3, 0.6, 0.7, 0.8, 0.1], ["a", "a", "b", "b", "c", "c"])
    >>> round(float(aucs[0]), 4), bool(cov[0, 0] > 0)
    (0.8889, True)
    """
    y, s = _check(y_true, scores)
    g = np.asarray(clusters)
    if g.ndim != 1 or g.shape[0] != y.shape[0]:
        raise InputError(f"clustered DeLong needs clusters (n,) matching y_true; got {g.shape} "
                         f"for n = {y.shape[0]}")
    _, code = np.unique(g, return_inverse=True)
    n_clusters = int(code.max()) + 1
    if n_clusters < 2:
        raise InputError("clustered DeLong needs at least 2 clusters (patients)")
    pos, neg = s[:, y], s[:, ~y]
    m, n = pos.shape[1], neg.shape[1]
    tz = _midrank(np.concatenate([pos, neg], axis=1))
    aucs = (tz[:, :m].sum(axis=1) / m - (m + 1) / 2.0) / n
    v10 = (tz[:, :m] - _midrank(pos)) / n          # (k, m): share of negatives below each positive
    v01 = 1.0 - (tz[:, m:] - _midrank(neg)) / m    # (k, n): share of positives above each negative
    k = s.shape[0]
    c_pos, c_neg = code[y], code[~y]
    v10_i = np.stack([np.bincount(c_pos, v10[r], n_clusters) for r in range(k)])
    v01_i = np.stack([np.bincount(c_neg, v01[r], n_clusters) for r in range(k)])
    m_i = np.bincount(c_pos, minlength=n_clusters)
    n_i = np.bincount(c_neg, minlength=n_clusters)
    psi = (v10_i - m_i * aucs[:, None]) / m + (v01_i - n_i * aucs[:, None]) / n   # (k, I)
    cov = n_clusters / (n_clusters - 1) * (psi @ psi.T)
    return aucs, cov


def clustered_delong_test(
    y_true: np.ndarray, scores1: np.ndarray, scores2: np.ndarray, clusters: np.ndarray,
    confidence_level: float = 0.95,
) -> DelongResult:
    """Two-sided test of two correlated AUCs on clustered rows (Obuchowski 1997).

    Parameters
    ----------
    y_true : (n,) int
        Binary outcome per row.
    scores1, scores2 : (n,) float
        Reference and compared scores.
    clusters : (n,) array
        Patient of each row.
    confidence_level : float
        Level of the Wald interval of the difference.

    Returns
    -------
    DelongResult

    See Also
    --------
    delong_test : the same test for independent rows.
    """
    aucs, cov = clustered_delong_covariance(y_true, np.vstack([scores1, scores2]), clusters)
    return _paired(aucs, cov, confidence_level)

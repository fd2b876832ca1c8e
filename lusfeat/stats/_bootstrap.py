"""Patient-level (cluster) bootstrap with percentile and BCa intervals.

Resampling, the jackknife for the BCa acceleration and both intervals come from
:func:`scipy.stats.bootstrap`; lusfeat only supplies a vectorised statistic.
The data scipy resamples are patient indices ``0..P-1``; each resample (a row
of the index matrix scipy draws) becomes a ``(B, n)`` matrix of row weights,
the number of times each row's patient was drawn, and every metric is then
evaluated for all resamples at once (see :mod:`lusfeat.stats._metrics`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._errors import InputError
from .._resample import counts_from_indices, patient_codes, row_weights

__all__ = ["BootstrapResult", "cluster_bootstrap", "bootstrap_p_value"]

#: Resamples evaluated per call of the statistic (bounds memory, paces the progress bar).
BATCH = 250


@dataclass
class BootstrapResult:
    """Cluster-bootstrap summary of ``M`` statistics.

    Attributes
    ----------
    estimate : (M,) float
        Statistic on the original sample.
    percentile : (M, 2) float
        Percentile interval.
    bca : (M, 2) float
        Bias-corrected and accelerated interval (NaN where undefined).
    distribution : (M, B) float
        Bootstrap distribution.
    """

    estimate: np.ndarray
    percentile: np.ndarray
    bca: np.ndarray
    distribution: np.ndarray


def cluster_bootstrap(
    statistic: Callable[[np.ndarray], np.ndarray],
    groups: np.ndarray,
    *,
    n_resamples: int = 2000,
    confidence_level: float = 0.95,
    seed: int = 0,
    bca: bool = True,
    on_batch: Callable[[int], None] | None = None,
) -> BootstrapResult:
    """Bootstrap a vectorised statistic by resampling patients with replacement.

    Parameters
    ----------
    statistic : callable
        ``statistic(w)`` with ``w`` a ``(B, n)`` float matrix of row weights
        returns ``(M, B)`` values, one column per resample.
    groups : (n,) array
        Patient of each row.
    n_resamples : int
        Number of bootstrap resamples ``B``.
    confidence_level : float
        Coverage of both intervals.
    seed : int
        Seed of the resampling; equal seeds and groups draw identical resamples,
        which pairs the bootstraps of different pipelines.
    bca : bool
        Also compute the BCa interval (one leave-one-patient-out jackknife).
    on_batch : callable, optional
        Called with the number of resamples evaluated, for progress bars.

    Returns
    -------
    BootstrapResult

    Raises
    ------
    InputError
        With fewer than 2 patients or fewer than 2 resamples.

    Examples
    --------
    >>> g = np.repeat(np.arange(30), 2)
    >>> x = np.random.default_rng(0).normal(size=60)
    >>> res = cluster_bootstrap(lambda w: (w @ x / w.sum(1))[None], g, n_resamples=200)
    >>> bool(res.percentile[0, 0] < x.mean() < res.percentile[0, 1])
    True
    """
    groups = np.asarray(groups)
    n_groups, row_group = patient_codes(groups)
    if n_groups < 2:
        raise InputError(f"the bootstrap needs at least 2 patients; got {n_groups}")
    if n_resamples < 2:
        raise InputError(f"--bootstrap must be at least 2 resamples; got {n_resamples}")
    stat = _on_patient_draws(statistic, n_groups, row_group, on_batch)
    estimate = np.asarray(statistic(np.ones((1, groups.shape[0]))))[:, 0]
    pct, bca_ci, dist = _intervals(stat, n_groups, n_resamples=n_resamples, confidence_level=confidence_level,
                                   seed=seed, bca=bca)
    return BootstrapResult(
        estimate=estimate, percentile=np.atleast_2d(pct), bca=np.atleast_2d(bca_ci),
        distribution=dist,
    )


def _on_patient_draws(statistic: Callable[[np.ndarray], np.ndarray], n_groups: int, row_group: np.ndarray,
                      on_batch: Callable[[int], None] | None) -> Callable[..., np.ndarray]:
    """``statistic`` as scipy's vectorised bootstrap calls it: on resampled patient indices.

    Each resample's patient indices ``(..., n_groups)`` become row weights (how often
    each row's patient was drawn) before ``statistic`` sees them.
    """

    def stat(idx: np.ndarray, axis: int = -1) -> np.ndarray:
        idx = np.asarray(idx)
        lead = idx.shape[:-1]
        flat = idx.reshape(-1, idx.shape[-1])
        w = row_weights(counts_from_indices(flat, n_groups), row_group)
        out = np.asarray(statistic(w))
        if on_batch is not None and idx.ndim > 1 and idx.shape[-1] == n_groups:
            on_batch(flat.shape[0])
        return out.reshape((out.shape[0],) + lead)

    return stat


def _intervals(stat: Callable[..., np.ndarray], n_groups: int, *, n_resamples: int, confidence_level: float,
               seed: int, bca: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percentile and BCa intervals ``(M, 2)`` and the distribution ``(M, B)`` of a patient bootstrap.

    The BCa interval reuses the percentile run's resamples (NaN when ``bca`` is false).
    """
    from scipy.stats import bootstrap

    data = (np.arange(n_groups),)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # Degenerate distributions (a metric constant across resamples) give NaN
        # intervals; scipy warns about them, we report the NaN.
        warnings.simplefilter("ignore")
        rng = np.random.default_rng(seed)
        res = bootstrap(
            data, stat, n_resamples=n_resamples, vectorized=True, batch=BATCH,
            confidence_level=confidence_level, method="percentile", rng=rng,
        )
        pct = np.stack([res.confidence_interval.low, res.confidence_interval.high], axis=-1)
        if bca:
            res_bca = bootstrap(
                data, stat, n_resamples=0, vectorized=True, batch=BATCH,
                confidence_level=confidence_level, method="BCa", bootstrap_result=res,
                rng=np.random.default_rng(seed),
            )
            bca_ci = np.stack(
                [res_bca.confidence_interval.low, res_bca.confidence_interval.high], axis=-1
            )
        else:
            bca_ci = np.full_like(pct, np.nan)
    return pct, bca_ci, np.atleast_2d(res.bootstrap_distribution)

def bootstrap_p_value(estimate: np.ndarray, distribution: np.ndarray) -> np.ndarray:
    """Two-sided p-value of ``H0: difference = 0`` from the bootstrap standard error.

    ``z = d / SD(d*)`` with ``d`` the observed difference and ``SD(d*)`` the standard
    deviation of its bootstrap distribution, ``p = 2 (1 - Phi(|z|))``: the bootstrap
    test of pROC's ``roc.test(method = "bootstrap")`` (Robin et al. 2011), applied to
    every metric. Unlike counting resamples on either side of zero, it is not bounded
    below by ``2 / (B + 1)``, so it survives multiplicity adjustment across many
    comparisons.

    Parameters
    ----------
    estimate : (M,) float
        Observed differences.
    distribution : (M, B) float
        Bootstrap distribution of the differences (NaN resamples ignored).

    Returns
    -------
    (M,) float
        NaN where fewer than 2 resamples are finite; 1 where the difference and
        its spread are both zero.

    References
    ----------
    X. Robin et al., "pROC: an open-source package for R and S+ to analyze and compare
    ROC curves", BMC Bioinformatics 12 (2011) 77.
    """
    from scipy import stats

    d = np.atleast_2d(distribution)
    est = np.atleast_1d(np.asarray(estimate, dtype=np.float64))
    valid = np.isfinite(d).sum(axis=1)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        sd = np.nanstd(d, axis=1, ddof=1)
        z = np.abs(est) / sd
    p = 2 * stats.norm.sf(z)
    p = np.where((sd == 0) | ~np.isfinite(sd), np.where(est == 0, 1.0, 0.0), p)
    return np.where((valid >= 2) & np.isfinite(est), p, np.nan)

"""Cluster bootstrap: coverage on a known distribution, pairing, p-values."""

from __future__ import annotations

import numpy as np
import pytest

from lusfeat import InputError
from lusfeat.stats import bootstrap_p_value, cluster_bootstrap


def _clustered(rng, n_patients=40, rows=3, icc_sd=1.0):
    g = np.repeat(np.arange(n_patients), rows)
    x = rng.normal(0, icc_sd, n_patients)[g] + rng.normal(0, 1, g.size)
    return g, x


def _mean(x):
    return lambda w: ((w @ x) / w.sum(axis=1))[None]


def test_ci_coverage_of_a_known_mean_within_binomial_error():
    """Clustered normal data with true mean 0: 95% CIs cover 0 at ~95% (3-SE binomial band)."""
    rng = np.random.default_rng(2024)
    sims, hits_pct, hits_bca = 200, 0, 0
    for s in range(sims):
        g, x = _clustered(rng)
        res = cluster_bootstrap(_mean(x), g, n_resamples=400, seed=s)
        hits_pct += res.percentile[0, 0] <= 0 <= res.percentile[0, 1]
        hits_bca += res.bca[0, 0] <= 0 <= res.bca[0, 1]
    band = 3 * np.sqrt(0.95 * 0.05 / sims)
    assert abs(hits_pct / sims - 0.95) < band, hits_pct
    assert abs(hits_bca / sims - 0.95) < band, hits_bca


def test_row_level_resampling_would_undercover_cluster_level_does_not():
    """The bootstrap must resample patients: its SE matches the cluster-level SE."""
    rng = np.random.default_rng(1)
    g, x = _clustered(rng, n_patients=60, rows=5, icc_sd=2.0)
    res = cluster_bootstrap(_mean(x), g, n_resamples=2000, seed=0)
    se_boot = res.distribution[0].std()
    patient_means = np.bincount(g, x) / np.bincount(g)
    se_cluster = patient_means.std(ddof=1) / np.sqrt(60)
    se_naive = x.std(ddof=1) / np.sqrt(x.size)
    assert se_boot == pytest.approx(se_cluster, rel=0.1)
    assert se_boot > 1.5 * se_naive


def test_same_seed_same_resamples_and_paired_difference():
    rng = np.random.default_rng(0)
    g, x = _clustered(rng)
    y = x + rng.normal(0, 0.1, x.size)
    a = cluster_bootstrap(_mean(x), g, n_resamples=300, seed=5)
    b = cluster_bootstrap(_mean(y), g, n_resamples=300, seed=5)
    both = cluster_bootstrap(lambda w: np.r_[_mean(x)(w), _mean(y)(w) - _mean(x)(w)], g,
                             n_resamples=300, seed=5)
    np.testing.assert_allclose(both.distribution[0], a.distribution[0])
    np.testing.assert_allclose(both.distribution[1], b.distribution[0] - a.distribution[0])
    # paired: the SD of the difference is far below that of either mean
    assert both.distribution[1].std() < 0.2 * a.distribution[0].std()


def test_progress_callback_counts_resamples():
    g, x = _clustered(np.random.default_rng(0))
    seen = []
    cluster_bootstrap(_mean(x), g, n_resamples=600, seed=0, on_batch=seen.append)
    assert sum(seen) == 600


def test_p_value_from_bootstrap_se():
    from scipy import stats

    rng = np.random.default_rng(0)
    far = rng.normal(5, 1, (1, 999))
    null = rng.normal(0, 1, (1, 999))
    p_far = bootstrap_p_value(np.array([5.0]), far)[0]
    assert p_far == pytest.approx(2 * stats.norm.sf(5 / far.std(ddof=1)))
    assert p_far < 0.01 and p_far < 2 / 1000  # not bounded below by the resample count
    assert 0.2 < bootstrap_p_value(np.array([0.2]), null)[0] <= 1
    assert bootstrap_p_value(np.array([0.0]), np.zeros((1, 10)))[0] == 1.0
    assert np.isnan(bootstrap_p_value(np.array([1.0]), np.full((1, 10), np.nan))[0])


def test_bad_inputs():
    with pytest.raises(InputError, match="2 patients"):
        cluster_bootstrap(_mean(np.ones(3)), np.zeros(3), n_resamples=10)
    with pytest.raises(InputError, match="--bootstrap"):
        cluster_bootstrap(_mean(np.ones(4)), np.arange(4), n_resamples=1)

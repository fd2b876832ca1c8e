"""The one patient-bootstrap weight generator (lusfeat._resample) and its three users."""

from __future__ import annotations

import numpy as np

from lusfeat._resample import counts_from_indices, patient_codes, patient_counts, row_weights
from lusfeat.stats import cluster_bootstrap
from lusfeat.stats._plots import _weights


def test_counts_sum_to_the_patients_and_map_to_rows():
    groups = np.array(["b", "a", "b", "c", "c", "c"])
    n, codes = patient_codes(groups)
    assert n == 3 and codes.tolist() == [1, 0, 1, 2, 2, 2]
    counts = patient_counts(n, 50, np.random.default_rng(0))
    assert counts.shape == (50, 3) and np.all(counts.sum(axis=1) == 3)
    w = row_weights(counts, codes)
    np.testing.assert_array_equal(w[:, 0], counts[:, 1])
    np.testing.assert_array_equal(w[:, 3], w[:, 5])
    assert patient_counts(4, 0, np.random.default_rng(0)).shape == (0, 4)


def test_the_draws_are_one_multinomial_call():
    """Seeded draws equal the multinomial the plots and the segmentation CIs always used."""
    expected = np.random.default_rng(7).multinomial(5, np.full(5, 1 / 5), size=20).astype(float)
    np.testing.assert_array_equal(patient_counts(5, 20, np.random.default_rng(7)), expected)
    groups = np.repeat(np.arange(5), 2)
    np.testing.assert_array_equal(_weights(groups, 20, 7), expected[:, groups])


def test_counts_from_indices_counts_every_draw():
    idx = np.array([[0, 0, 2], [1, 2, 2]])
    np.testing.assert_array_equal(counts_from_indices(idx, 3), [[2, 0, 1], [0, 1, 2]])


def test_the_analysis_bootstrap_weights_are_scipy_resamples():
    """cluster_bootstrap's weights are the patient counts of scipy's resampled indices."""
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(12), 3)
    x = rng.normal(size=groups.size)
    seen = []

    def stat(w):
        seen.append(w)
        return ((w @ x) / w.sum(axis=1))[None]

    res = cluster_bootstrap(stat, groups, n_resamples=40, seed=3, bca=False)
    w = np.concatenate([s for s in seen[1:] if s.shape[0] == 40])
    assert np.all(w.sum(axis=1) == groups.size)
    np.testing.assert_allclose(res.distribution[0], (w @ x) / w.sum(axis=1))

"""DeLong variance and paired test against an independent hand computation."""

from __future__ import annotations

import numpy as np
import pytest

from lusfeat import InputError
from lusfeat.stats import delong_covariance, delong_test

# A small worked table: 6 diseased (positive) and 7 healthy (negative) cases rated by
# two readers on a 1-5 scale (ties within and across classes on purpose).
Y = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
R1 = np.array([5, 4, 4, 3, 5, 2, 1, 2, 3, 1, 2, 4, 1], dtype=float)
R2 = np.array([4, 5, 3, 3, 5, 3, 2, 1, 3, 2, 1, 3, 2], dtype=float)


def _psi(x, y):
    return 1.0 if x > y else 0.5 if x == y else 0.0


def _hand(y, scores):
    """DeLong et al. (1988) by definition: O(m n) structural components."""
    pos, neg = scores[:, y == 1], scores[:, y == 0]
    m, n = pos.shape[1], neg.shape[1]
    k = scores.shape[0]
    v10 = np.array([[sum(_psi(pos[r, i], neg[r, j]) for j in range(n)) / n for i in range(m)] for r in range(k)])
    v01 = np.array([[sum(_psi(pos[r, i], neg[r, j]) for i in range(m)) / m for j in range(n)] for r in range(k)])
    auc = v10.mean(axis=1)
    s10 = np.array([[np.sum((v10[a] - auc[a]) * (v10[b] - auc[b])) / (m - 1) for b in range(k)] for a in range(k)])
    s01 = np.array([[np.sum((v01[a] - auc[a]) * (v01[b] - auc[b])) / (n - 1) for b in range(k)] for a in range(k)])
    return auc, s10 / m + s01 / n


def test_worked_example_by_hand_fractions():
    # Reader 1: pairs won by each positive against the 7 negatives (ties count 1/2):
    # 5 -> 7, 4 -> 6.5, 4 -> 6.5, 3 -> 5.5, 5 -> 7, 2 -> 4 ; sum 36.5 of 42 pairs.
    aucs, _ = delong_covariance(Y, R1)
    assert aucs[0] == pytest.approx(36.5 / 42, abs=1e-12)


def test_fast_delong_equals_structural_components_definition():
    scores = np.vstack([R1, R2])
    auc_h, cov_h = _hand(Y, scores)
    aucs, cov = delong_covariance(Y, scores)
    np.testing.assert_allclose(aucs, auc_h, rtol=0, atol=1e-10)
    np.testing.assert_allclose(cov, cov_h, rtol=0, atol=1e-10)


def test_paired_test_equals_hand_z():
    from scipy import stats

    scores = np.vstack([R1, R2])
    auc_h, cov_h = _hand(Y, scores)
    var = cov_h[0, 0] + cov_h[1, 1] - 2 * cov_h[0, 1]
    z = (auc_h[1] - auc_h[0]) / np.sqrt(var)
    r = delong_test(Y, R1, R2)
    assert r.difference == pytest.approx(auc_h[1] - auc_h[0], abs=1e-10)
    assert r.se == pytest.approx(np.sqrt(var), abs=1e-10)
    assert r.z == pytest.approx(z, abs=1e-10)
    assert r.p == pytest.approx(2 * stats.norm.sf(abs(z)), abs=1e-10)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_continuous_scores_match_definition(seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(40) < 0.4).astype(int)
    y[:2] = [0, 1]
    scores = np.vstack([y + rng.normal(size=40), y * 0.5 + rng.normal(size=40), np.round(rng.normal(size=40), 1)])
    auc_h, cov_h = _hand(y, scores)
    aucs, cov = delong_covariance(y, scores)
    np.testing.assert_allclose(aucs, auc_h, atol=1e-10)
    np.testing.assert_allclose(cov, cov_h, atol=1e-10)


def test_identical_scores_give_p_one_and_bad_inputs_raise():
    r = delong_test(Y, R1, R1)
    assert r.difference == 0 and r.p == 1.0
    with pytest.raises(InputError, match="binary"):
        delong_covariance(np.full(13, 2), R1)
    with pytest.raises(InputError, match="positive and one negative"):
        delong_covariance(np.ones(13, int), R1)
    with pytest.raises(InputError, match="matching n"):
        delong_covariance(Y, R1[:5])

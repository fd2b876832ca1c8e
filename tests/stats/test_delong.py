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


# --- clustered DeLong (Obuchowski 1997) ---------------------------------------------------

def _obuchowski_by_definition(y, scores, clusters):
    """Obuchowski (1997), eqs. for S10, S01, S11 written out with O(M N) pair loops."""
    ids = list(dict.fromkeys(clusters))
    n_c = len(ids)
    out_auc, comps = [], []
    for s in scores:
        pos = [(c, v) for c, v, t in zip(clusters, s, y, strict=True) if t == 1]
        neg = [(c, v) for c, v, t in zip(clusters, s, y, strict=True) if t == 0]
        big_m, big_n = len(pos), len(neg)
        auc = sum(_psi(a, b) for _, a in pos for _, b in neg) / (big_m * big_n)
        v10 = {c: 0.0 for c in ids}
        v01 = {c: 0.0 for c in ids}
        m_i = {c: 0 for c in ids}
        n_i = {c: 0 for c in ids}
        for c, a in pos:
            v10[c] += sum(_psi(a, b) for _, b in neg) / big_n
            m_i[c] += 1
        for c, b in neg:
            v01[c] += sum(_psi(a, b) for _, a in pos) / big_m
            n_i[c] += 1
        out_auc.append(auc)
        comps.append((v10, v01, m_i, n_i, big_m, big_n))
    k = len(scores)
    cov = np.zeros((k, k))
    for r in range(k):
        for q in range(k):
            v10r, v01r, m_i, n_i, big_m, big_n = comps[r]
            v10q, v01q = comps[q][0], comps[q][1]
            ar, aq = out_auc[r], out_auc[q]
            s10 = n_c / ((n_c - 1) * big_m) * sum((v10r[c] - m_i[c] * ar) * (v10q[c] - m_i[c] * aq) for c in ids)
            s01 = n_c / ((n_c - 1) * big_n) * sum((v01r[c] - n_i[c] * ar) * (v01q[c] - n_i[c] * aq) for c in ids)
            s11 = n_c / (n_c - 1) * sum((v10r[c] - m_i[c] * ar) * (v01q[c] - n_i[c] * aq)
                                        + (v10q[c] - m_i[c] * aq) * (v01r[c] - n_i[c] * ar) for c in ids) / 2
            cov[r, q] = s10 / big_m + s01 / big_n + 2 * s11 / (big_m * big_n)
    return np.array(out_auc), cov


def test_clustered_hand_example():
    """Three patients with one positive and one negative row each, worked by hand.

    Positives 0.9 (a), 0.6 (b), 0.8 (c); negatives 0.3 (a), 0.7 (b), 0.1 (c).
    V10 (share of the 3 negatives below): 1, 2/3, 1; V01 (share of positives above): 1, 2/3, 1.
    AUC = 8/9. Per cluster V10_i - A = 1/9, -2/9, 1/9 and V01_i - A the same, so
    S10 = S01 = S11 = 3/2 * (1 + 4 + 1)/81 / {3, 3, 1} and
    Var = S10/3 + S01/3 + 2 S11/9 = 1/81 + 1/81 + 2/81 = 4/81.
    """
    from lusfeat.stats import clustered_delong_covariance

    y = [1, 0, 1, 0, 1, 0]
    s = [0.9, 0.3, 0.6, 0.7, 0.8, 0.1]
    g = ["a", "a", "b", "b", "c", "c"]
    aucs, cov = clustered_delong_covariance(y, s, g)
    s10 = 1.5 * (6 / 81) / 3
    s11 = 1.5 * (6 / 81)
    assert aucs[0] == pytest.approx(8 / 9, abs=1e-12)
    assert cov[0, 0] == pytest.approx(s10 / 3 + s10 / 3 + 2 * s11 / 9, abs=1e-12)
    assert cov[0, 0] == pytest.approx(4 / 81, abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_clustered_matches_obuchowski_definition(seed):
    from lusfeat.stats import clustered_delong_covariance

    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(12), rng.integers(1, 5, 12))
    u = rng.normal(size=12)[g]
    y = (rng.random(g.size) < 0.45).astype(int)
    y[:2] = [0, 1]
    scores = np.vstack([y + u + rng.normal(size=g.size), np.round(0.5 * y + u + rng.normal(size=g.size), 1)])
    auc_h, cov_h = _obuchowski_by_definition(y, scores, g)
    aucs, cov = clustered_delong_covariance(y, scores, g)
    np.testing.assert_allclose(aucs, auc_h, atol=1e-12)
    np.testing.assert_allclose(cov, cov_h, atol=1e-12)


def test_clustered_reduces_to_delong_with_one_row_per_cluster():
    """Singleton clusters: S11 = 0 and the variance is DeLong's up to I/(I-1) vs M/(M-1), N/(N-1)."""
    from lusfeat.stats import clustered_delong_covariance

    rng = np.random.default_rng(5)
    y = (rng.random(60) < 0.4).astype(int)
    scores = np.vstack([y + rng.normal(size=60), 0.7 * y + rng.normal(size=60)])
    pos, neg = scores[:, y == 1], scores[:, y == 0]
    m, n, i = pos.shape[1], neg.shape[1], 60
    auc_d, _ = delong_covariance(y, scores)
    _, cov_c = clustered_delong_covariance(y, scores, np.arange(60))
    v10 = np.array([[np.mean([_psi(a, b) for b in neg[r]]) for a in pos[r]] for r in range(2)])
    v01 = np.array([[np.mean([_psi(a, b) for a in pos[r]]) for b in neg[r]] for r in range(2)])
    s10, s01 = np.cov(v10), np.cov(v01)
    expected = i * (m - 1) / ((i - 1) * m) * s10 / m + i * (n - 1) / ((i - 1) * n) * s01 / n
    np.testing.assert_allclose(cov_c, expected, atol=1e-12)
    _, cov_d = delong_covariance(y, scores)
    np.testing.assert_allclose(cov_c, cov_d, rtol=0.05)  # and close to DeLong in size
    a = clustered_delong_covariance(y, scores, np.arange(60))[0]
    np.testing.assert_allclose(a, auc_d)


def test_clustered_variance_agrees_with_cluster_jackknife():
    """Brute force: leave-one-patient-out jackknife variance of the AUC difference."""
    from lusfeat.stats import clustered_delong_test
    from lusfeat.stats._metrics import auc as wauc

    rng = np.random.default_rng(8)
    n_c = 120
    g = np.repeat(np.arange(n_c), rng.integers(1, 6, n_c))
    u = rng.normal(0, 1.2, n_c)[g]
    y = (rng.random(g.size) < 1 / (1 + np.exp(-u))).astype(int)
    s1 = y + u + rng.normal(size=g.size)
    s2 = 0.6 * y + u + rng.normal(size=g.size)
    r = clustered_delong_test(y, s1, s2, g)
    w = (g[None, :] != np.arange(n_c)[:, None]).astype(float)  # resample i drops patient i's rows
    d = wauc(y, s2, w) - wauc(y, s1, w)
    var_jack = (n_c - 1) / n_c * np.sum((d - d.mean()) ** 2)
    assert r.se ** 2 == pytest.approx(var_jack, rel=0.1)
    r1 = clustered_delong_test(y, s1, s1 + 0.0, g)
    assert r1.difference == 0 and r1.p == 1.0


def test_clustered_variance_matches_monte_carlo_spread():
    """Over simulated clustered studies the mean estimated variance of the AUC matches the
    empirical variance of the AUC across studies (and the naive DeLong one does not)."""
    from lusfeat.stats import clustered_delong_covariance

    rng = np.random.default_rng(13)
    aucs, v_clu, v_naive = [], [], []
    for _ in range(300):
        n_c = 40
        g = np.repeat(np.arange(n_c), 4)  # 4 rows per patient, mostly of the patient's class
        y = np.repeat(rng.random(n_c) < 0.4, 4).astype(int)
        y[rng.random(g.size) < 0.15] ^= 1
        if y.min() == y.max():
            continue
        s = y + rng.normal(size=n_c)[g] + rng.normal(size=g.size)  # patient effect shared by rows
        a, c = clustered_delong_covariance(y, s, g)
        aucs.append(a[0])
        v_clu.append(c[0, 0])
        v_naive.append(delong_covariance(y, s)[1][0, 0])
    emp = np.var(aucs, ddof=1)
    assert np.mean(v_clu) == pytest.approx(emp, rel=0.2)
    assert np.mean(v_naive) < 0.7 * emp  # independent-row DeLong is far too small here


def test_clustered_bad_inputs():
    from lusfeat.stats import clustered_delong_covariance

    with pytest.raises(InputError, match="2 clusters"):
        clustered_delong_covariance([1, 0], [0.2, 0.1], ["a", "a"])
    with pytest.raises(InputError, match="matching y_true"):
        clustered_delong_covariance([1, 0], [0.2, 0.1], ["a"])

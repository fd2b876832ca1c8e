import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.distance import cdist

from lusfeat.seg import hd95, overlap_metrics
from lusfeat.seg._metrics import boundary


def _mask(h, w, pixels):
    m = np.zeros((h, w), bool)
    for y, x in pixels:
        m[y, x] = True
    return m


def test_hand_worked_overlap():
    # prediction 4 pixels, reference 6 pixels, 3 shared
    pred = _mask(4, 4, [(0, 0), (0, 1), (1, 0), (3, 3)])
    ref = _mask(4, 4, [(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 1)])
    m = overlap_metrics(pred[None], ref[None])
    assert m["dice"][0] == pytest.approx(2 * 3 / 10)
    assert m["iou"][0] == pytest.approx(3 / 7)
    assert m["precision"][0] == pytest.approx(3 / 4)
    assert m["recall"][0] == pytest.approx(3 / 6)
    assert (m["tp"][0], m["pred_pixels"][0], m["ref_pixels"][0]) == (3, 4, 6)


def test_empty_rules():
    empty = np.zeros((4, 4), bool)
    full = np.ones((4, 4), bool)
    pred = np.stack([empty, empty, full])
    ref = np.stack([empty, full, empty])
    m = overlap_metrics(pred, ref)
    hd = hd95(pred, ref)
    # both empty
    assert [m[k][0] for k in ("dice", "iou", "precision", "recall")] == [1, 1, 1, 1]
    assert hd[0] == 0
    # prediction empty only
    assert m["dice"][1] == 0 and m["iou"][1] == 0 and m["recall"][1] == 0
    assert np.isnan(m["precision"][1]) and np.isnan(hd[1])
    # reference empty only
    assert m["dice"][2] == 0 and m["iou"][2] == 0 and m["precision"][2] == 0
    assert np.isnan(m["recall"][2]) and np.isnan(hd[2])


def test_hd95_hand_worked():
    a = _mask(10, 10, [(1, 1)])
    b = _mask(10, 10, [(4, 5)])
    assert hd95(a[None], b[None])[0] == pytest.approx(5.0)
    # a 3x3 square against the same square shifted by 2 columns: every boundary pixel is
    # 0 or 2 away; 5 of 8 boundary pixels of each side move by 2 -> 95th percentile 2
    sq = np.zeros((10, 10), bool)
    sq[2:5, 2:5] = True
    assert hd95(sq[None], np.roll(sq, 2, axis=1)[None])[0] == pytest.approx(2.0)
    assert hd95(sq[None], sq[None])[0] == 0.0


def _hd_brute(p, r, q=95):
    bp = np.argwhere(boundary(p[None])[0])
    br = np.argwhere(boundary(r[None])[0])
    d = cdist(bp, br)
    return max(np.percentile(d.min(axis=1), q), np.percentile(d.min(axis=0), q))


masks = arrays(bool, (3, 2, 9, 11), elements=st.booleans())


@settings(max_examples=20, deadline=None)
@given(masks, masks)
def test_hd95_matches_brute_force(p, r):
    got = hd95(p, r)
    assert got.shape == (3, 2)
    for i in range(3):
        for k in range(2):
            a, b = p[i, k], r[i, k]
            if a.any() and b.any():
                assert got[i, k] == pytest.approx(_hd_brute(a, b))
                assert got[i, k] == pytest.approx(hd95(b[None], a[None])[0])  # symmetric
            elif not a.any() and not b.any():
                assert got[i, k] == 0
            else:
                assert np.isnan(got[i, k])


@settings(max_examples=20, deadline=None)
@given(masks, masks)
def test_overlap_bounds_and_identity(p, r):
    m = overlap_metrics(p, r)
    for k in ("dice", "iou"):
        assert np.all((m[k] >= 0) & (m[k] <= 1))
    assert np.all(m["iou"] <= m["dice"] + 1e-12)
    same = overlap_metrics(p, p)
    assert np.all(same["dice"] == 1) and np.all(same["iou"] == 1)


def test_hd95_edt_path_matches_pairwise(monkeypatch):
    from lusfeat.seg import _metrics

    rng = np.random.default_rng(1)
    p = rng.random((6, 3, 20, 24)) < 0.3
    r = rng.random((6, 3, 20, 24)) < 0.3
    pairwise = hd95(p, r)
    monkeypatch.setattr(_metrics, "PAIR_FACTOR", 0)  # force the distance-transform path
    np.testing.assert_allclose(hd95(p, r), pairwise)
    monkeypatch.setattr(_metrics, "PAIR_FACTOR", 10**9)
    np.testing.assert_allclose(hd95(p, r), pairwise)


@settings(max_examples=20, deadline=None)
@given(arrays(bool, (2, 7, 9), elements=st.booleans()))
def test_boundary_matches_scipy_erosion(m):
    from scipy import ndimage as ndi

    expected = np.stack([p & ~ndi.binary_erosion(p, ndi.generate_binary_structure(2, 1), border_value=0)
                         for p in m])
    np.testing.assert_array_equal(boundary(m), expected)

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lusfeat._errors import InputError
from lusfeat.labels import fuse, staple, staple_fit

conf_arrays = st.integers(1, 4).flatmap(
    lambda a: arrays(np.uint8, (2, a, 5, 3, 4), elements=st.integers(0, 100))
)


@settings(max_examples=25, deadline=None)
@given(conf_arrays)
def test_mean_max_majority_formulas(conf):
    a = conf.shape[1]
    c = conf.astype(np.float64)
    np.testing.assert_allclose(fuse(conf, "mean"), c.mean(axis=1), rtol=1e-6)
    np.testing.assert_array_equal(fuse(conf, "max"), c.max(axis=1))
    votes = (conf >= 50).sum(axis=1)
    np.testing.assert_allclose(fuse(conf, "majority"), 100 * votes / a, rtol=1e-6)


@settings(max_examples=25, deadline=None)
@given(conf_arrays)
def test_all_fusions_in_percent_range(conf):
    for method in ("mean", "max", "majority", "staple"):
        out = fuse(conf, method)
        assert out.shape == (conf.shape[0],) + conf.shape[2:]
        assert out.dtype == np.float32
        assert np.all((out >= 0) & (out <= 100))


def test_hand_worked_values():
    conf = np.array([40, 80, 90], np.uint8).reshape(1, 3, 1, 1, 1).repeat(5, axis=2)
    assert fuse(conf, "mean")[0, 0, 0, 0] == pytest.approx(70.0)
    assert fuse(conf, "max")[0, 0, 0, 0] == 90.0
    assert fuse(conf, "majority")[0, 0, 0, 0] == pytest.approx(200 / 3)


def test_staple_recovers_reliable_and_noisy_annotators():
    rng = np.random.default_rng(0)
    truth = rng.random((20, 1, 32, 32)) < 0.3
    flip = [0.02, 0.05, 0.35]  # annotator 2 is nearly random
    votes = np.stack([truth ^ (rng.random(truth.shape) < f) for f in flip], axis=1)
    votes = np.repeat(votes, 5, axis=2)  # 5 classes, same votes
    post, sens, spec = staple(votes)
    assert post.shape == (20, 5, 32, 32)
    for k in range(5):
        assert sens[k, 0] > 0.95 and spec[k, 0] > 0.95
        assert sens[k, 2] < 0.75 and spec[k, 2] < 0.75
    acc = ((post[:, 0] >= 0.5) == truth[:, 0]).mean()
    majority = (votes.sum(axis=1)[:, 0] >= 2) == truth[:, 0]
    assert acc >= majority.mean()
    assert acc > 0.97


def test_staple_unanimous_votes():
    votes = np.zeros((2, 3, 5, 4, 4), bool)
    votes[:, :, 1, :2] = True
    out = fuse(votes.astype(np.uint8) * 100, "staple")
    np.testing.assert_allclose(out[:, 1, :2], 100, atol=1e-3)
    np.testing.assert_allclose(out[:, 1, 2:], 0, atol=1e-3)
    np.testing.assert_array_equal(out[:, 0], 0)


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((2, 5, 4, 4), np.uint8), "N, A, C, H, W"),
        (np.zeros((1, 0, 5, 4, 4), np.uint8), "no annotators"),
        (np.zeros((1, 1, 5, 4, 4), "U1"), "numeric"),
    ],
)
def test_fuse_rejects_bad_input(bad, match):
    with pytest.raises(InputError, match=match):
        fuse(bad)


def test_fuse_rejects_unknown_method():
    with pytest.raises(InputError, match="unknown fusion method 'median'"):
        fuse(np.zeros((1, 1, 5, 2, 2), np.uint8), "median")


def test_staple_fit_over_batches_equals_one_pass():
    rng = np.random.default_rng(3)
    truth = rng.random((12, 1, 16, 16)) < 0.3
    votes = np.stack([truth ^ (rng.random(truth.shape) < f) for f in (0.05, 0.1, 0.3)], axis=1)
    conf = (np.repeat(votes, 5, axis=2) * 80).astype(np.uint8)
    whole = fuse(conf, "staple")
    table, sens, spec = staple_fit(conf[i : i + 4] for i in range(0, 12, 4))
    np.testing.assert_allclose(fuse(conf, "staple", staple_table=table), whole, rtol=1e-5, atol=1e-4)
    _, sens1, spec1 = staple(conf >= 50)
    np.testing.assert_allclose(sens, sens1)
    np.testing.assert_allclose(spec, spec1)
    # a batch alone gives a different estimate than the whole cohort
    assert not np.allclose(fuse(conf[:4], "staple"), whole[:4], atol=1e-3)
    with pytest.raises(InputError, match="staple_table has shape"):
        fuse(conf, "staple", staple_table=table[:, :4])

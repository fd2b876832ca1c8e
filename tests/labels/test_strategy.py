import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lusfeat._errors import InputError
from lusfeat.labels import Strategy, fuse, parse_strategy

fused_maps = arrays(np.float32, (3, 5, 4), elements=st.integers(0, 100).map(float))


@settings(max_examples=30, deadline=None)
@given(fused_maps, st.integers(1, 100))
def test_threshold(c, t):
    target, weight = parse_strategy(f"threshold:{t}").targets_from_fused(c)
    np.testing.assert_array_equal(target, (c >= t).astype(np.float32))
    np.testing.assert_array_equal(weight, 1.0)
    assert target.dtype == weight.dtype == np.float32


@settings(max_examples=30, deadline=None)
@given(fused_maps)
def test_soft(c):
    target, weight = parse_strategy("soft").targets_from_fused(c)
    np.testing.assert_allclose(target, c / 100, rtol=1e-6)
    np.testing.assert_array_equal(weight, 1.0)


@settings(max_examples=30, deadline=None)
@given(fused_maps, st.integers(1, 100))
def test_weighted(c, t):
    target, weight = parse_strategy(f"weighted:{t}").targets_from_fused(c)
    np.testing.assert_array_equal(target, (c >= t).astype(np.float32))
    for v, wv in zip(c.ravel(), weight.ravel(), strict=True):
        expected = (v - t) / (100 - t) if v >= t and t < 100 else 1.0 if v >= t else (t - v) / t
        assert wv == pytest.approx(expected, abs=1e-6)
    assert np.all((weight >= 0) & (weight <= 1))


def test_weighted_hand_worked():
    c = np.array([0.0, 30.0, 60.0, 80.0, 100.0], np.float32)
    target, weight = parse_strategy("weighted:60").targets_from_fused(c)
    np.testing.assert_array_equal(target, [0, 0, 1, 1, 1])
    np.testing.assert_allclose(weight, [1.0, 0.5, 0.0, 0.5, 1.0])


@settings(max_examples=30, deadline=None)
@given(fused_maps, st.integers(1, 99), st.integers(1, 99))
def test_ignore(c, a, b):
    lo, hi = sorted((a, b))
    if lo == hi:
        hi += 1
    target, weight = parse_strategy(f"ignore:{lo}-{hi}").targets_from_fused(c)
    excluded = (c >= lo) & (c < hi)
    np.testing.assert_array_equal(weight, (~excluded).astype(np.float32))
    np.testing.assert_array_equal(target[~excluded], (c[~excluded] >= lo).astype(np.float32))


def test_targets_use_the_fusion():
    conf = np.zeros((1, 3, 5, 1, 2), np.uint8)
    conf[0, :, 0, 0, 0] = [100, 100, 0]  # mean 66.7, majority 66.7, max 100
    conf[0, :, 0, 0, 1] = [100, 0, 0]  # mean 33.3, max 100
    t_mean, _ = parse_strategy("threshold:60").targets(conf)
    t_max, _ = parse_strategy("threshold:60@max").targets(conf)
    np.testing.assert_array_equal(t_mean[0, 0, 0], [1, 0])
    np.testing.assert_array_equal(t_max[0, 0, 0], [1, 1])
    np.testing.assert_array_equal(
        parse_strategy("soft").targets(conf)[0], fuse(conf, "mean") / 100
    )


@pytest.mark.parametrize(
    "text, name, spec",
    [
        ("threshold:60", "threshold-60", "threshold:60"),
        (" Threshold:60@MEAN ", "threshold-60", "threshold:60"),
        ("soft", "soft", "soft"),
        ("soft@staple", "soft-staple", "soft@staple"),
        ("weighted:70", "weighted-70", "weighted:70"),
        ("ignore:40-60", "ignore-40-60", "ignore:40-60"),
        ("ignore:40-60@majority", "ignore-40-60-majority", "ignore:40-60@majority"),
        ("threshold:60@staple", "threshold-60-staple", "threshold:60@staple"),
        ("threshold-60-staple", "threshold-60-staple", "threshold:60@staple"),
        ("ignore-40-60", "ignore-40-60", "ignore:40-60"),
    ],
)
def test_parse_and_names(text, name, spec):
    s = parse_strategy(text)
    assert (s.name, s.spec) == (name, spec)
    assert parse_strategy(s.spec) == s
    assert parse_strategy(s.name) == s
    assert parse_strategy(s) is s


@pytest.mark.parametrize(
    "text, match",
    [
        ("threshold:0", "1..100"),
        ("threshold:101", "1..100"),
        ("ignore:60-40", "LO < HI"),
        ("ignore:0-40", "LO < HI"),
        ("threshold", "cannot parse"),
        ("median:50", "cannot parse"),
        ("threshold:60@median", "invalid strategy"),
        ("", "cannot parse"),
    ],
)
def test_parse_errors(text, match):
    with pytest.raises(InputError, match=match):
        parse_strategy(text)


def test_strategy_constructor_validates():
    with pytest.raises(InputError, match="takes no threshold"):
        Strategy("soft", threshold=50)
    assert Strategy("threshold", threshold=60).name == "threshold-60"

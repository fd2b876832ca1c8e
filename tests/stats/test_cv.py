"""Grouped CV never leaks a patient; folds are reproducible and stratified."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lusfeat import InputError
from lusfeat.stats import repeated_group_kfold
from lusfeat.stats._cv import inner_group_split


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 4), min_size=6, max_size=30),
    folds=st.integers(2, 6),
    repeats=st.integers(1, 3),
    stratify=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_no_patient_on_both_sides(sizes, folds, repeats, stratify, seed):
    groups = np.repeat(np.arange(len(sizes)), sizes).astype(str)
    folds = min(folds, len(sizes))
    rng = np.random.default_rng(seed)
    y = np.repeat(rng.integers(0, 2, len(sizes)), sizes) if stratify else None
    if stratify:
        y[: sizes[0]] = 0
        y[-sizes[-1]:] = 1
    seen = {}
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # sklearn: class smaller than n_splits
        for r, _, tr, te in repeated_group_kfold(groups, y, folds=folds, repeats=repeats,
                                                  stratify=stratify, seed=seed):
            assert not set(groups[tr]) & set(groups[te])
            assert len(tr) + len(te) == len(groups)
            seen.setdefault(r, []).append(te)
    for tests in seen.values():  # each row tested exactly once per repeat
        np.testing.assert_array_equal(np.sort(np.concatenate(tests)), np.arange(len(groups)))


def test_reproducible_and_repeats_differ():
    g = np.repeat(np.arange(30), 2)
    a = [te.tolist() for *_, te in repeated_group_kfold(g, folds=5, repeats=2, seed=3)]
    b = [te.tolist() for *_, te in repeated_group_kfold(g, folds=5, repeats=2, seed=3)]
    assert a == b
    assert a[:5] != a[5:]


def test_stratified_folds_balance_classes():
    g = np.arange(100)
    y = (np.arange(100) < 20).astype(int)
    for *_, te in repeated_group_kfold(g, y, folds=5, repeats=1, stratify=True):
        assert y[te].sum() == 4


def test_inner_split_is_grouped():
    g = np.repeat(np.arange(20), 3)
    fit, stop = inner_group_split(g, 0.2, seed=1)
    assert not set(g[fit]) & set(g[stop]) and len(set(g[stop])) == 4


def test_bad_options():
    with pytest.raises(InputError, match="--folds"):
        list(repeated_group_kfold(np.arange(3), folds=5))
    with pytest.raises(InputError, match="--repeats"):
        list(repeated_group_kfold(np.arange(10), folds=2, repeats=0))

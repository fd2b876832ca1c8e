"""Grouped CV never leaks a patient; folds are reproducible and stratified."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lusfeat import InputError
from lusfeat.stats import repeated_group_kfold


def _feasible(groups, y, folds):
    """Stratified grouped folds exist when every class has rows of >= folds patients."""
    return all(np.unique(groups[y == c]).size >= folds for c in (0, 1))


@settings(deadline=None)
@given(
    sizes=st.lists(st.integers(1, 4), min_size=6, max_size=30),
    folds=st.integers(2, 6),
    repeats=st.integers(1, 3),
    stratify=st.booleans(),
    fallback=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_no_patient_on_both_sides(sizes, folds, repeats, stratify, fallback, seed):
    """Whatever the sizes and classes: either a clear InputError (stratified folds that
    cannot be built, no fallback) or folds that keep patients whole and test every row once."""
    groups = np.repeat(np.arange(len(sizes)), sizes).astype(str)
    folds = min(folds, len(sizes))
    rng = np.random.default_rng(seed)
    y = np.repeat(rng.integers(0, 2, len(sizes)), sizes) if stratify else None
    if stratify:
        y[: sizes[0]] = 0
        y[-sizes[-1]:] = 1
    run = lambda: list(repeated_group_kfold(groups, y, folds=folds, repeats=repeats,  # noqa: E731
                                            stratify=stratify, seed=seed, fallback=fallback, task="t"))
    if stratify and not fallback and not _feasible(groups, y, folds):
        with pytest.raises(InputError, match=r"task 't'.*--folds.*--min-events"):
            run()
        return
    seen = {}
    for r, _, tr, te in run():  # filterwarnings=error: no sklearn warning escapes either
        assert not set(groups[tr]) & set(groups[te])
        assert len(tr) + len(te) == len(groups)
        seen.setdefault(r, []).append(te)
    assert sorted(seen) == list(range(repeats))
    for tests in seen.values():  # each row tested exactly once per repeat, in `folds` folds
        assert len(tests) == folds
        np.testing.assert_array_equal(np.sort(np.concatenate(tests)), np.arange(len(groups)))


def test_found_example_is_a_clear_error_or_a_logged_fallback(caplog):
    """Six single-row patients, 4 folds: a class has fewer than 4 patients."""
    groups = np.arange(6).astype(str)
    y = np.array([0, 0, 0, 1, 1, 1])
    with pytest.raises(InputError) as err:
        list(repeated_group_kfold(groups, y, folds=4, stratify=True, task="readmission"))
    msg = str(err.value)
    assert "task 'readmission'" in msg and "class 0: 3 patient(s)" in msg and "--folds" in msg
    assert "\n" not in msg
    with caplog.at_level("WARNING", logger="lusfeat.stats._cv"):
        splits = list(repeated_group_kfold(groups, y, folds=4, repeats=1, stratify=True, fallback=True))
    assert len(splits) == 4 and "unstratified" in caplog.text


def test_inner_folds_hold_every_class_or_none():
    from lusfeat.stats._cv import inner_folds

    g = np.repeat(np.arange(20), 2)
    y = np.repeat((np.arange(20) % 4 == 0).astype(int), 2)  # 5 positive patients
    f = inner_folds(g, y, 3, seed=0)
    assert len(f) == 3
    for tr, te in f:
        assert set(y[tr]) == {0, 1} and not set(g[tr]) & set(g[te])
    assert inner_folds(g[:4], y[:4], 3, seed=0) == []  # one positive patient: no tuning folds


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


def test_bad_options():
    with pytest.raises(InputError, match="--folds"):
        list(repeated_group_kfold(np.arange(3), folds=5))
    with pytest.raises(InputError, match="--repeats"):
        list(repeated_group_kfold(np.arange(10), folds=2, repeats=0))

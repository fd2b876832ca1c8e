import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lusfeat._errors import InputError
from lusfeat.seg import assign_folds, make_splits


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 30), st.integers(1, 6), st.integers(0, 1000), st.sampled_from([0.0, 0.15, 0.5]))
def test_no_patient_in_its_own_model(n_patients, folds, seed, val_fraction):
    if folds > n_patients:
        return
    patients = np.array([f"P{i}" for i in range(n_patients)])
    table = assign_folds(np.repeat(patients, 3), folds, seed)
    assert sorted(table["patient_id"]) == sorted(patients)
    sizes = table["fold"].value_counts()
    assert sizes.max() - sizes.min() <= 1  # balanced
    splits = make_splits(table, folds, val_fraction, seed)
    fold_of = dict(zip(table["patient_id"], table["fold"], strict=True))
    for k in range(folds):
        roles = splits[splits["model"] == k].set_index("patient_id")["role"]
        assert len(roles) == n_patients  # every patient has exactly one role per model
        for pid, role in roles.items():
            if folds > 1 and fold_of[pid] == k:
                assert role == "test"
            else:
                assert role in ("train", "val")
        assert (roles == "train").any()


def test_folds_reproducible_and_seeded():
    p = np.arange(20).astype(str)
    a = assign_folds(p, 4, 1)
    assert a.equals(assign_folds(p, 4, 1))
    assert not a["fold"].equals(assign_folds(p, 4, 2)["fold"])


def test_too_many_folds():
    with pytest.raises(InputError, match="needs at least 5 patients"):
        assign_folds(np.array(["a", "b"]), 5, 0)

import json

import numpy as np
import pandas as pd
import pytest

from lusfeat._errors import InputError
from lusfeat.data import open_cohort, open_masks
from lusfeat.seg import UNetConfig, load_model, open_run, segment, train
from lusfeat.seg._data import read_images
from lusfeat.seg._segment import _predict

TINY = UNetConfig(depth=2, width=4)


@pytest.fixture(scope="module")
def crossfit_run(small_cohort, tmp_path_factory):
    return train(small_cohort, tmp_path_factory.mktemp("run") / "run", "threshold:60", folds=2, epochs=6,
                 batch_size=2, model=TINY, size=16, progress=False)


def test_segment_is_out_of_fold(small_cohort, crossfit_run, tmp_path):
    out = segment(small_cohort, crossfit_run, tmp_path / "m", batch_size=5, progress=False)
    ms = open_masks(out)
    cohort = open_cohort(small_cohort)
    assert ms.masks.shape == (cohort.n_frames, 5, 32, 32)
    assert ms.meta["out_of_fold"] is True and ms.meta["strategy"] == "threshold:60"
    assert ms.meta["frames_per_second"] > 0
    probs = np.asarray(ms.probabilities[:])
    np.testing.assert_array_equal(np.asarray(ms.masks[:]), probs >= 128)
    # each frame's prediction comes from the model of its own patient's fold
    folds = pd.read_parquet(crossfit_run / "folds.parquet").set_index("patient_id")["fold"]
    for i in (0, cohort.n_frames - 1):
        k = int(folds[str(cohort.frames["patient_id"].iloc[i])])
        net, ck = load_model(crossfit_run / f"fold-{k}" / "model.pt")
        own = _predict(net, read_images(cohort, np.array([i]), (16, 16)), ck["normalisation"]["mean"],
                       ck["normalisation"]["std"], (32, 32), net.head.weight.device)
        assert np.abs(probs[i].astype(int) - own[0]).max() <= 1  # BatchNorm folded for inference
        other, ck2 = load_model(crossfit_run / f"fold-{1 - k}" / "model.pt")
        alt = _predict(other, read_images(cohort, np.array([i]), (16, 16)), ck2["normalisation"]["mean"],
                       ck2["normalisation"]["std"], (32, 32), net.head.weight.device)
        assert np.abs(probs[i].astype(int) - alt[0]).max() > 1


def _own(run, k, cohort, i):
    """Float probabilities of frame ``i`` from fold ``k``'s model, ``(C, H, W)`` in 0-255."""
    import torch

    from lusfeat.seg._segment import _probabilities

    net, ck = load_model(run / f"fold-{k}" / "model.pt")
    with torch.no_grad():
        p = _probabilities(net, read_images(cohort, np.array([i]), (16, 16)), ck["normalisation"]["mean"],
                           ck["normalisation"]["std"], (32, 32), net.head.weight.device)
    return p[0].numpy() * 255


def test_new_patients_and_foreign_cohorts_get_the_fold_ensemble(small_cohort, crossfit_run, make_cohort, tmp_path):
    # a cohort with two patients the run never saw, beside two it did
    other = make_cohort("other", patients=2, seed=3)
    cohort = open_cohort(small_cohort)
    new = open_cohort(other)
    # the run's own cohort: known patients keep their fold's model
    from lusfeat.seg._segment import ENSEMBLE, frame_folds

    folds = pd.read_parquet(crossfit_run / "folds.parquet")
    ff, unseen = frame_folds(cohort, folds, 2)
    assert unseen == 0 and set(ff) <= {0, 1}
    renamed = folds.assign(patient_id=folds["patient_id"].where(folds["patient_id"] != "P00", "gone"))
    ff, unseen = frame_folds(cohort, renamed, 2)
    assert unseen == 4 and (ff[:4] == ENSEMBLE).all() and (ff[4:] >= 0).all()
    # a foreign cohort: its P00/P01 are other people, so every frame is new
    ff, unseen = frame_folds(new, folds, 2, foreign=True)
    assert unseen == new.n_frames and (ff == ENSEMBLE).all()
    assert (frame_folds(new, folds, 1, foreign=True)[0] == 0).all()  # one model: that model
    out = segment(other, crossfit_run, tmp_path / "m", batch_size=3, allow_foreign=True, progress=False)
    ms = open_masks(out)
    assert ms.meta["frames_unknown_to_run"] == new.n_frames and ms.meta["unknown_predicted_by"] == "fold ensemble"
    probs = np.asarray(ms.probabilities[:]).astype(float)
    for i in (0, new.n_frames - 1):
        mean = (_own(crossfit_run, 0, new, i) + _own(crossfit_run, 1, new, i)) / 2
        assert np.abs(probs[i] - mean).max() <= 1.0  # BatchNorm folded for inference, rounding
        assert np.abs(probs[i] - _own(crossfit_run, 0, new, i)).max() > 1  # not model 0 alone


def test_batch_size_does_not_change_results(small_cohort, crossfit_run, tmp_path):
    a = segment(small_cohort, crossfit_run, tmp_path / "a", batch_size=3, progress=False)
    b = segment(small_cohort, crossfit_run, tmp_path / "b", batch_size=64, progress=False)
    diff = np.abs(open_masks(a).probabilities[:].astype(int) - open_masks(b).probabilities[:].astype(int))
    assert diff.max() <= 1  # identical up to float rounding of batched convolutions


def test_segment_errors(small_cohort, crossfit_run, tmp_path):
    with pytest.raises(InputError, match="not a run folder"):
        segment(small_cohort, tmp_path / "nope", tmp_path / "m", progress=False)
    with pytest.raises(InputError, match="batch_size"):
        segment(small_cohort, crossfit_run, tmp_path / "m", batch_size=0, progress=False)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "f").write_text("x")
    with pytest.raises(InputError, match="already exists"):
        segment(small_cohort, crossfit_run, tmp_path / "busy", progress=False)


def test_open_run_reports_partial(tmp_path):
    (tmp_path / ".r.partial").mkdir()
    with pytest.raises(InputError, match="interrupted run"):
        open_run(tmp_path / "r")
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "run.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(InputError, match="expected 'lusfeat-run'"):
        open_run(tmp_path / "r")

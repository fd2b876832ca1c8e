import json

import numpy as np
import pandas as pd
import pytest
import torch

from lusfeat._errors import InputError
from lusfeat.data import open_cohort, open_masks
from lusfeat.seg import UNetConfig, load_checkpoint, load_model, segment, train
from lusfeat.seg import _train as train_module

TINY = UNetConfig(depth=2, width=4)


def test_tiny_model_overfits_a_handful_of_frames(tmp_path, make_cohort):
    cohort = make_cohort("c", patients=2, frames_per_patient=4, size=32, seed=3)
    run = train(cohort, tmp_path / "run", "threshold:60", epochs=60, model=UNetConfig(depth=2, width=8),
                batch_size=4, lr=1e-2, val_fraction=0, augmentation=False, threads=1, progress=False)
    masks = segment(cohort, run, tmp_path / "m", threads=1, progress=False)
    pred = np.asarray(open_masks(masks).masks[:])
    truth = np.asarray(open_cohort(cohort).truth[:])
    for k in range(pred.shape[1]):
        if truth[:, k].any():
            dice = 2 * (pred[:, k] & truth[:, k]).sum() / (pred[:, k].sum() + truth[:, k].sum())
            assert dice > 0.9, (k, dice)
        else:
            assert not pred[:, k].any()


def test_run_layout_and_cross_fitting(small_cohort, tmp_path):
    run = train(small_cohort, tmp_path / "run", "soft", folds=2, epochs=1, model=TINY, size=16,
                val_fraction=0.5, progress=False)
    meta = json.loads((run / "run.json").read_text())
    assert meta["strategy"] == "soft" and meta["cross_fitted"] and meta["folds"] == 2
    assert meta["input_size"] == [16, 16] and meta["frame_size"] == [32, 32]
    assert len(meta["fold_results"]) == 2
    folds = pd.read_parquet(run / "folds.parquet")
    splits = pd.read_parquet(run / "splits.parquet")
    assert set(folds["fold"]) == {0, 1}
    for k in range(2):
        assert (run / f"fold-{k}" / "model.pt").is_file()
        assert len(pd.read_parquet(run / f"fold-{k}" / "history.parquet")) == 1
        ckpt = load_checkpoint(run / f"fold-{k}" / "model.pt")
        trained_on = set(ckpt["train_patients"]) | set(ckpt["val_patients"])
        own = set(folds.loc[folds["fold"] == k, "patient_id"])
        assert own and not own & trained_on
        s = splits[splits["model"] == k].set_index("patient_id")["role"]
        assert set(s[s == "test"].index) == own
    assert not list(tmp_path.glob(".run.partial"))


def test_checkpoint_round_trip(small_cohort, tmp_path):
    run = train(small_cohort, tmp_path / "run", "threshold:60", epochs=1, model=TINY, progress=False)
    path = run / "fold-0" / "model.pt"
    net, ckpt = load_model(path)
    raw = torch.load(path, weights_only=True)  # plain data only, no pickled objects
    assert raw["format"] == "lusfeat-unet-checkpoint"
    for key in ("strategy", "model", "class_names", "input_size", "normalisation", "data_fingerprint", "versions"):
        assert key in ckpt
    assert ckpt["strategy"] == "threshold:60" and ckpt["model"] == TINY.to_dict()
    assert len(ckpt["class_names"]) == 5
    net2, _ = load_model(path)
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(net(x), net2(x))
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, raw["state_dict"][k])


def test_resume_after_interruption_matches_uninterrupted(small_cohort, tmp_path, monkeypatch):
    kw = dict(folds=2, epochs=2, model=TINY, size=16, progress=False, threads=1, val_fraction=0.3)
    ref = train(small_cohort, tmp_path / "ref", "threshold:60", **kw)
    calls = {"n": 0}
    real_save = train_module.save_checkpoint

    def failing_save(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:  # fold 1, first epoch, after fold 0 finished
            raise KeyboardInterrupt
        return real_save(*args, **kwargs)

    monkeypatch.setattr(train_module, "save_checkpoint", failing_save)
    with pytest.raises(KeyboardInterrupt):
        train(small_cohort, tmp_path / "run", "threshold:60", **kw)
    assert not (tmp_path / "run").exists()
    assert (tmp_path / ".run.partial" / "fold-0" / "model.pt").exists()
    monkeypatch.setattr(train_module, "save_checkpoint", real_save)
    run = train(small_cohort, tmp_path / "run", "threshold:60", **kw)
    for k in range(2):
        a = load_checkpoint(ref / f"fold-{k}" / "model.pt")["state_dict"]
        b = load_checkpoint(run / f"fold-{k}" / "model.pt")["state_dict"]
        for name in a:
            torch.testing.assert_close(a[name], b[name])


def test_changed_options_discard_stale_partial(small_cohort, tmp_path):
    partial = tmp_path / ".run.partial"
    partial.mkdir()
    (partial / "options.json").write_text('{"fingerprint": "other"}')
    (partial / "junk.txt").write_text("x")
    run = train(small_cohort, tmp_path / "run", "threshold:60", epochs=1, model=TINY, progress=False)
    assert not (run / "junk.txt").exists() and not partial.exists()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"strategy": "threshold:0"}, "1..100"),
        ({"folds": 9}, "needs at least 9 patients"),
        ({"device": "tpu"}, "unknown device"),
        ({"size": 4}, "size must be"),
        ({"epochs": 0}, "epochs must be >= 1"),
        ({"frames": [0, 999]}, "frames must be"),
        ({"model": UNetConfig(out_channels=3)}, "output channels"),
    ],
)
def test_train_rejects_bad_options(small_cohort, tmp_path, kwargs, match):
    with pytest.raises(InputError, match=match):
        train(small_cohort, tmp_path / "run", **{"epochs": 1, "model": TINY, "progress": False, **kwargs})


def test_existing_output_needs_overwrite(small_cohort, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "x").write_text("x")
    with pytest.raises(InputError, match="already exists"):
        train(small_cohort, tmp_path / "run", epochs=1, model=TINY, progress=False)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without CUDA")
def test_cuda_unavailable_message(small_cohort, tmp_path):
    with pytest.raises(InputError, match="CUDA is not available"):
        train(small_cohort, tmp_path / "run", device="cuda", epochs=1, model=TINY, progress=False)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_training_bf16(small_cohort, tmp_path):
    run = train(small_cohort, tmp_path / "run", epochs=1, model=TINY, device="cuda", progress=False)
    masks = segment(small_cohort, run, tmp_path / "m", device="cuda", progress=False)
    assert open_masks(masks).meta["device"].startswith("cuda")

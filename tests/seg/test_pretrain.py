"""Simulator pretraining (``pretrain``) and fine-tuning from a checkpoint (``train(init=...)``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lusfeat import InputError
from lusfeat._io import read_json
from lusfeat.seg import UNetConfig, load_checkpoint, pretrain, train
from lusfeat.seg._checkpoint import save_checkpoint
from lusfeat.seg._unet import UNet

LUSFEAT = Path(sys.executable).with_name("lusfeat")
TINY = UNetConfig(depth=2, width=4)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pre") / "pretrained"
    return pretrain(out, patients=3, frames=1, size=32, epochs=1, model=TINY, batch_size=8, threads=1,
                    progress=False)


def test_pretrain_writes_a_checkpoint_and_resumes(pretrained):
    meta = read_json(pretrained / "pretrain.json")
    assert meta["format"] == "lusfeat-pretrain" and meta["input_size"] == [32, 32]
    assert meta["simulator"]["patients"] == 3 and 0.0 <= meta["val_dice"] <= 1.0
    ckpt = load_checkpoint(pretrained / "model.pt")
    assert ckpt["model"] == TINY.to_dict() and ckpt["strategy"] == "threshold:60"
    stamp = (pretrained / "model.pt").stat().st_mtime_ns
    again = pretrain(pretrained, patients=3, frames=1, size=32, epochs=1, model=TINY, threads=1, progress=False)
    assert again == pretrained and (pretrained / "model.pt").stat().st_mtime_ns == stamp  # nothing redone


def test_finetune_starts_from_the_pretrained_weights(pretrained, make_cohort, tmp_path):
    cohort = make_cohort("c", size=32)
    run = train(cohort, tmp_path / "run", "threshold:60", epochs=1, lr=1e-12, init=pretrained, threads=1,
                val_fraction=0.0, progress=False)
    meta = read_json(run / "run.json")
    assert meta["init"]["path"].endswith("model.pt") and len(meta["init"]["digest"]) == 16
    assert meta["options"]["init"]["digest"] == meta["init"]["digest"]
    assert meta["model"] == TINY.to_dict() and meta["input_size"] == [32, 32]  # taken from the checkpoint
    start = load_checkpoint(pretrained / "model.pt")["state_dict"]
    tuned = load_checkpoint(run / "fold-0" / "model.pt")["state_dict"]
    convs = [k for k in start if k.endswith("weight") and start[k].ndim == 4]
    assert convs and all(torch.allclose(start[k], tuned[k], atol=1e-6) for k in convs)
    scratch = train(cohort, tmp_path / "scratch", "threshold:60", epochs=1, lr=1e-12, model=TINY, size=32,
                    threads=1, val_fraction=0.0, progress=False)
    fresh = load_checkpoint(scratch / "fold-0" / "model.pt")["state_dict"]
    assert not torch.allclose(start[convs[0]], fresh[convs[0]])


def test_init_mismatches_are_clear_errors(pretrained, make_cohort, tmp_path):
    cohort = make_cohort("c", size=32)
    with pytest.raises(InputError, match="--size 32"):
        train(cohort, tmp_path / "a", init=pretrained, size=48, epochs=1, progress=False)
    with pytest.raises(InputError, match="drop --depth/--width"):
        train(cohort, tmp_path / "b", init=pretrained, model=UNetConfig(depth=3, width=4), epochs=1,
              progress=False)
    with pytest.raises(InputError, match="no U-Net checkpoint"):
        train(cohort, tmp_path / "c", init=tmp_path / "nowhere", epochs=1, progress=False)
    other = tmp_path / "other.pt"
    net = UNet(UNetConfig(depth=2, width=4, out_channels=3))
    save_checkpoint(other, net, class_names=["a", "b", "c"], input_size=[32, 32], strategy="threshold:60")
    with pytest.raises(InputError, match="same classes"):
        train(cohort, tmp_path / "d", init=other, epochs=1, progress=False)
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir() if p.is_dir() and "partial" in p.name)


@pytest.mark.skipif(not LUSFEAT.exists(), reason="console script not installed")
def test_cli_init_error_is_one_line(make_cohort, tmp_path):
    cohort = make_cohort("c", size=32)
    proc = subprocess.run([str(LUSFEAT), "train", str(cohort), "--out", str(tmp_path / "r"), "--init",
                           str(tmp_path / "missing.pt"), "--epochs", "1", "--no-progress"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "no U-Net checkpoint" in proc.stderr and "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "r").exists()

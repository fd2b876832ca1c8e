"""Simulator pretraining (``pretrain``) and fine-tuning from a checkpoint (``train(init=...)``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
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


def _probabilities(run_or_ckpt: Path, images: torch.Tensor) -> torch.Tensor:
    """Sigmoid outputs ``(N, C, H, W)`` of a checkpoint on uint8 frames ``(N, 1, H, W)``."""
    ck = load_checkpoint(run_or_ckpt)
    net = UNet(UNetConfig.from_dict(ck["model"]))
    net.load_state_dict(ck["state_dict"])
    net.eval()
    norm = ck["normalisation"]
    with torch.no_grad():
        return torch.sigmoid(net((images.float() / 255.0 - norm["mean"]) / norm["std"]))


def test_ignore_class_keeps_what_init_knew(make_cohort, tmp_path, caplog):
    """Annotators who drew only B-lines: fine-tuned plainly the network unlearns the pleural line
    (with a warning); with --ignore-class it keeps the --init network's pleural output."""
    from lusfeat.data import open_cohort

    full = make_cohort("full", size=32)  # the same frames with every class drawn: the teacher learns them
    teacher_run = train(full, tmp_path / "teacher", "threshold:60", epochs=12, model=TINY, threads=1,
                        val_fraction=0.0, progress=False)
    cohort = make_cohort("b", size=32, drawn=(2,))
    others = ["pleural_line", "a_line", "consolidation", "effusion"]
    kw = {"epochs": 3, "init": teacher_run, "threads": 1, "val_fraction": 0.0, "progress": False}
    plain = train(cohort, tmp_path / "plain", "threshold:60", **kw)
    assert "no frame has a pleural_line or a_line or consolidation or effusion pixel" in caplog.text
    assert "forgets what --init knew of them" in caplog.text
    caplog.clear()
    kept = train(cohort, tmp_path / "kept", "threshold:60", ignore_classes=others, **kw)
    assert "no frame has" not in caplog.text
    assert read_json(kept / "run.json")["options"]["ignore_classes"] == others
    images = torch.from_numpy(open_cohort(cohort).images[:]).unsqueeze(1)
    teacher = _probabilities(teacher_run / "fold-0" / "model.pt", images)[:, 0]
    truth = torch.from_numpy(open_cohort(full).truth[:, 0]).bool()
    assert float(teacher[truth].mean()) > 0.5  # it knows the pleural line: something to forget
    on_plain = float(_probabilities(plain / "fold-0" / "model.pt", images)[:, 0][truth].mean())
    on_kept = float(_probabilities(kept / "fold-0" / "model.pt", images)[:, 0][truth].mean())
    # on the pleural-line pixels: the plain fine-tune drifts towards "absent", the distilled one stays
    assert on_plain < float(teacher[truth].mean()) - 0.1 and abs(on_kept - float(teacher[truth].mean())) < 0.1, (
        on_plain, on_kept)
    with pytest.raises(InputError, match=r"--ignore-class pleura: not a class of this cohort"):
        train(cohort, tmp_path / "bad", "threshold:60", ignore_classes=["pleura"], **kw)


def test_ignored_classes_from_scratch_leave_the_loss(small_cohort):
    """Without --init an ignored class gets weight 0; the others are untouched."""
    from lusfeat.data import open_cohort
    from lusfeat.labels import parse_strategy
    from lusfeat.seg._data import load_frames
    from lusfeat.seg._train import _leave_out

    c = open_cohort(small_cohort)
    data = load_frames(c, np.arange(c.n_frames), parse_strategy("threshold:60"), (32, 32))
    before = data.weight.clone()
    _leave_out(data, ["a_line", "effusion"], list(c.class_names), "threshold:60", None)
    assert int(data.weight[:, [1, 4]].max()) == 0
    assert torch.equal(data.weight[:, [0, 2, 3]], before[:, [0, 2, 3]])

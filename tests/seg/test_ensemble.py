"""Ensembles of U-Nets (``ensemble``, ``pretrain(members=...)``, ``lusfeat ensemble``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lusfeat import InputError
from lusfeat._io import file_digest, read_json
from lusfeat.data import open_masks
from lusfeat.data._gain import training_cohort
from lusfeat.seg import UNetConfig, ensemble, load_checkpoint, pretrain, segment, train
from lusfeat.seg._pretrain import pretrained_run

LUSFEAT = Path(sys.executable).with_name("lusfeat")
TINY = UNetConfig(depth=2, width=4)
KW = dict(patients=3, frames=1, size=32, epochs=1, model=TINY, batch_size=8, threads=1, progress=False)


@pytest.fixture(scope="module")
def pretrained2(tmp_path_factory) -> Path:
    """A two-member pretrain folder, grown from a one-member one (the first member is kept)."""
    out = tmp_path_factory.mktemp("ens") / "pre"
    pretrain(out, **KW)
    stamp = (out / "model.pt").stat().st_mtime_ns
    pretrain(out, members=2, **KW)
    assert (out / "model.pt").stat().st_mtime_ns == stamp  # member 0 not trained again
    return out


@pytest.fixture(scope="module")
def members(small_cohort, tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("members")
    runs = [train(small_cohort, root / f"s{s}", "threshold:60", epochs=1, size=32, model=TINY, seed=s, threads=1,
                  val_fraction=0.0, progress=False) for s in (0, 1)]
    # one epoch leaves both networks near their initial output; shift the second one's output
    # biases so that the two members predict clearly different probabilities
    path = runs[1] / "fold-0" / "model.pt"
    ckpt = load_checkpoint(path)
    bias = [k for k in ckpt["state_dict"] if k.endswith("bias")][-1]
    ckpt["state_dict"][bias] = ckpt["state_dict"][bias] + torch.tensor([3.0, -2.0, 1.5, 0.0, 2.5])
    torch.save(ckpt, path)
    return runs


def test_pretrain_members_layout(pretrained2):
    meta = read_json(pretrained2 / "pretrain.json")
    assert [m["seed"] for m in meta["members"]] == [0, 1] and meta["ensemble"] == "ensemble"
    member = read_json(pretrained2 / "member-1" / "pretrain.json")  # itself a pretrain folder
    assert member["simulator"]["seed"] == 1 and member["training"]["seed"] == 1
    assert member["cohort_fingerprint"] != meta["cohort_fingerprint"]  # its own simulated cohort
    run = read_json(pretrained2 / "ensemble" / "run.json")
    assert run["folds"] == 2 and run["cross_fitted"] is False and len(run["members"]) == 2
    assert run["cohort"]["path"] is None  # trained on two cohorts: foreign to each
    assert file_digest(pretrained2 / "ensemble" / "fold-0" / "model.pt") == file_digest(pretrained2 / "model.pt")
    assert file_digest(pretrained2 / "ensemble" / "fold-1" / "model.pt") == file_digest(
        pretrained2 / "member-1" / "model.pt")
    assert pretrained_run(pretrained2) == pretrained2 / "ensemble"
    assert training_cohort(pretrained2 / "ensemble").resolve() == (pretrained2 / "cohort").resolve()
    stamp = (pretrained2 / "ensemble" / "run.json").stat().st_mtime_ns
    pretrain(pretrained2, members=2, **KW)  # finished: nothing redone
    assert (pretrained2 / "ensemble" / "run.json").stat().st_mtime_ns == stamp


def test_single_member_pretrain_applies_its_run(tmp_path):
    out = pretrain(tmp_path / "one", **KW)
    assert pretrained_run(out) == out / "run" and not (out / "ensemble").exists()
    assert pretrained_run(out / "run") == out / "run"
    with pytest.raises(InputError, match="--members must be >= 1"):
        pretrain(tmp_path / "zero", members=0, **KW)
    assert not (tmp_path / "zero").exists()


def test_ensemble_predicts_the_mean_of_its_members(members, small_cohort, tmp_path):
    ens = ensemble(members, tmp_path / "ens")
    meta = read_json(ens / "run.json")
    assert meta["cohort"]["fingerprint"] == read_json(members[0] / "run.json")["cohort"]["fingerprint"]
    probs = []
    for k, run in enumerate([*members, ens]):
        masks = segment(small_cohort, run, tmp_path / f"m{k}", threads=1, progress=False)
        probs.append(open_masks(masks).probabilities[:].astype(float))
    mean = (probs[0] + probs[1]) / 2
    assert np.abs(probs[2] - mean).max() <= 1.0  # uint8 rounding of each member
    assert np.abs(probs[0] - probs[1]).mean() > 30  # the members differ, so this is not trivially true
    info = open_masks(tmp_path / "m2").meta
    assert info["folds"] == 2 and info["out_of_fold"] is False
    assert info["unknown_predicted_by"] == "member ensemble" and info["frames_unknown_to_run"] == 16


def test_members_of_other_input_sizes(members, small_cohort, tmp_path):
    """Each member sees the frames at its own input size; the ensemble still averages them."""
    small = train(small_cohort, tmp_path / "s24", "threshold:60", epochs=1, size=24, model=TINY, seed=3, threads=1,
                  val_fraction=0.0, progress=False)
    ens = ensemble([members[1], small], tmp_path / "ens")
    probs = [open_masks(segment(small_cohort, run, tmp_path / f"m{k}", threads=1, progress=False)).probabilities[:]
             .astype(float) for k, run in enumerate([members[1], small, ens])]
    assert np.abs(probs[2] - (probs[0] + probs[1]) / 2).max() <= 1.0


def test_ensemble_errors(members, small_cohort, tmp_path):
    with pytest.raises(InputError, match="two or more members"):
        ensemble(members[:1], tmp_path / "a")
    with pytest.raises(InputError, match="given twice"):
        ensemble([members[0], members[0]], tmp_path / "b")
    with pytest.raises(InputError, match="not a run folder"):
        ensemble([members[0], tmp_path / "nowhere"], tmp_path / "c")
    cross = train(small_cohort, tmp_path / "cross", "threshold:60", folds=2, epochs=1, size=32, model=TINY,
                  threads=1, val_fraction=0.0, progress=False)
    with pytest.raises(InputError, match="cross-fitted"):
        ensemble([members[0], cross], tmp_path / "d")
    soft = train(small_cohort, tmp_path / "soft", "soft", epochs=1, size=32, model=TINY, threads=1,
                 val_fraction=0.0, progress=False)
    with pytest.raises(InputError, match="label strategy"):
        ensemble([members[0], soft], tmp_path / "e")
    ens = ensemble(members, tmp_path / "f")
    with pytest.raises(InputError, match="itself an ensemble"):
        ensemble([members[0], ens], tmp_path / "g")
    with pytest.raises(InputError, match="already exists"):
        ensemble(members, ens)
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temporary left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cross", "f", "soft"]


@pytest.mark.skipif(not LUSFEAT.exists(), reason="console script not installed")
def test_cli_ensemble_and_its_errors(members, tmp_path):
    proc = subprocess.run([str(LUSFEAT), "ensemble", str(tmp_path / "ens"), *map(str, members)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "ensemble of 2 networks written" in proc.stdout and (tmp_path / "ens" / "fold-1" / "model.pt").is_file()
    proc = subprocess.run([str(LUSFEAT), "ensemble", str(tmp_path / "bad"), str(members[0]), str(tmp_path / "x")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "not a run folder" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()
    proc = subprocess.run([str(LUSFEAT), "pretrain", str(tmp_path / "p"), "--members", "0", "--no-progress"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "--members must be >= 1" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_ensemble_on_cuda_matches_the_cpu(members, small_cohort, tmp_path):
    ens = ensemble(members, tmp_path / "ens")
    cpu = open_masks(segment(small_cohort, ens, tmp_path / "cpu", device="cpu", threads=1, progress=False))
    gpu = open_masks(segment(small_cohort, ens, tmp_path / "gpu", device="cuda", progress=False))
    assert gpu.meta["device"].startswith("cuda") and gpu.meta["unknown_predicted_by"] == "member ensemble"
    diff = np.abs(gpu.probabilities[:].astype(float) - cpu.probabilities[:].astype(float))
    assert diff.mean() <= 2.0  # bf16 weights on CUDA, fp32 on the CPU (uint8 probability units)

"""A simulator-pretrained U-Net: a starting point for fine-tuning on real labelled frames.

``pretrain(OUT)`` simulates a large cohort with known truth and trains the
default U-Net on it; ``train(..., init=OUT)`` then fine-tunes that network on a
real cohort (see :func:`lusfeat.seg.train`). The folder::

    OUT/
      pretrain.json   what made it: simulator and training options, cohort
                      fingerprint, validation Dice, timings, versions
      model.pt        the pretrained checkpoint (the run's fold-0 best model)
      cohort/         the simulated cohort (kept so that a rerun can resume)
      run/            the training run (``lusfeat train`` layout)

Every step resumes: the cohort is written atomically and reused when its
simulator options match; an interrupted training resumes from its partial
run; a finished folder is left as it is (``overwrite`` redoes it).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from .._errors import InputError
from .._io import atomic_file, read_json, write_json
from ..labels import Strategy, parse_strategy
from ._device import resolve_device
from ._unet import UNetConfig

__all__ = ["pretrain", "PRETRAIN_FORMAT"]

logger = logging.getLogger(__name__)

PRETRAIN_FORMAT = "lusfeat-pretrain"


def pretrain(
    out: str | os.PathLike,
    *,
    patients: int = 120,
    frames: int = 2,
    size: int = 128,
    probe: str = "mixed",
    strategy: str | Strategy = "threshold:60",
    epochs: int = 10,
    model: UNetConfig | None = None,
    batch_size: int = 16,
    lr: float = 1e-2,
    seed: int = 0,
    device: str = "auto",
    threads: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Simulate a large cohort and train a U-Net on it, for fine-tuning elsewhere.

    Parameters
    ----------
    out : path-like
        Output folder (layout in the module docstring).
    patients, frames, size, probe : int, int, int, str
        Simulated cohort: patients (2-3 exams of 6 zones each), frames per clip,
        frame side in pixels (also the training size), probe geometry.
    strategy : str or Strategy
        Label strategy of the simulated annotators' confidence (the network
        learns what a fine-tuning cohort's labels will look like).
    epochs, model, batch_size, lr, seed, device, threads
        Training options (see :func:`lusfeat.seg.train`); ``model`` defaults to
        ``UNetConfig()``.
    progress : bool
        Progress bars.
    overwrite : bool
        Redo a finished folder.

    Returns
    -------
    Path
        ``out``; ``out / "model.pt"`` is the checkpoint to pass as ``init``.

    Raises
    ------
    InputError
        For invalid options, or ``out`` holding something else.

    Examples
    --------
    >>> from lusfeat.seg import pretrain, train
    >>> pre = pretrain("pretrained", patients=120, epochs=10)  # doctest: +SKIP
    >>> train("my_cohort", "runs/finetuned", "threshold:60", init=pre, epochs=10)  # doctest: +SKIP
    """
    from ..data import SimulationConfig, open_cohort, simulate_cohort
    from ._train import train

    t0 = time.perf_counter()
    out = Path(out)
    sim = SimulationConfig(patients=int(patients), exams=(2, 3), zones=6, frames=int(frames), size=int(size),
                           probe=probe, annotators=3, seed=int(seed))
    sim.check()
    # fail on bad options before simulating anything
    strat = parse_strategy(strategy)
    resolve_device(device)
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if int(value) < 1:
            raise InputError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    cfg = model if model is not None else UNetConfig()
    meta_path = out / "pretrain.json"
    if out.exists() and not overwrite:
        if meta_path.is_file() and (out / "model.pt").is_file():
            logger.info("pretrained model already in %s (pass overwrite to redo it)", out)
            return out
        if any(p.name not in ("cohort", "run", ".run.partial") for p in out.iterdir()):
            raise InputError(f"{out} exists and is not a pretrain folder; choose another OUT or pass --overwrite")
    if out.exists() and overwrite:
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)

    cohort_dir = out / "cohort"
    wanted = {**sim.__dict__, "exams": list(sim.exams)}
    if cohort_dir.exists():
        have = open_cohort(cohort_dir).meta.get("source", {}).get("simulator")
        if have != wanted:
            logger.info("simulated cohort in %s was made with other options; simulating again", cohort_dir)
            shutil.rmtree(cohort_dir)
    if not cohort_dir.exists():
        logger.info("simulating %d patients at %d px -> %s", patients, size, cohort_dir)
        simulate_cohort(cohort_dir, patients=sim.patients, exams=sim.exams, zones=sim.zones, frames=sim.frames,
                        size=sim.size, probe=sim.probe, annotators=sim.annotators, seed=sim.seed, progress=progress)
    cohort = open_cohort(cohort_dir)
    run_dir = out / "run"
    if not (run_dir / "run.json").is_file():
        if run_dir.exists():
            shutil.rmtree(run_dir)
        train(cohort, run_dir, strat, folds=1, epochs=epochs, device=device, size=size, seed=seed,
              model=cfg, batch_size=batch_size, lr=lr, val_fraction=0.1, threads=threads, progress=progress)
    run = read_json(run_dir / "run.json")
    with atomic_file(out / "model.pt") as tmp:
        shutil.copyfile(run_dir / "fold-0" / "model.pt", tmp)
    fold = run["fold_results"][0]
    meta: dict[str, Any] = {
        "format": PRETRAIN_FORMAT, "format_version": 1, "simulator": wanted, "strategy": run["strategy"],
        "model": run["model"], "input_size": run["input_size"], "class_names": run["class_names"],
        "cohort_fingerprint": cohort.fingerprint, "n_frames": int(cohort.n_frames),
        "training": {k: run["options"][k] for k in ("epochs", "batch_size", "lr", "seed", "augmentation")},
        "device": run["device"], "val_dice": fold["val_dice"], "best_epoch": fold["best_epoch"],
        "train_seconds": fold["seconds"], "elapsed_s": round(time.perf_counter() - t0, 3),
        "versions": run["versions"],
    }
    write_json(meta_path, meta)
    logger.info("pretrained U-Net (validation Dice %.3f) -> %s", fold["val_dice"], out / "model.pt")
    return out

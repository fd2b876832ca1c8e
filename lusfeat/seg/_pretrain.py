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

With ``members=N >= 2`` it trains an ensemble (:mod:`lusfeat.seg._ensemble`):
member 0 is the folder above (seed ``seed``), member ``k`` a pretrain folder of
its own with seed ``seed + k`` (its own simulated cohort and initialisation),
and the members are combined into one run::

      member-1/ ...   member k >= 1: a complete pretrain folder (seed + k)
      ensemble/       run folder applying every member (mean of probabilities)

``lusfeat segment COHORT OUT/ensemble`` (and the transfer benchmark, given
``OUT``) applies the ensemble; ``lusfeat train --init OUT`` fine-tunes from
member 0 (``model.pt``).

Every step resumes: the cohort is written atomically and reused when its
simulator options match; an interrupted training resumes from its partial
run; a finished folder is left as it is (``overwrite`` redoes it), except
that asking for more members than it has trains the missing ones.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from .._config import PRETRAIN_TRAIN
from .._errors import InputError
from .._io import atomic_file, file_digest, read_json, write_json
from ..labels import Strategy, parse_strategy
from ._device import resolve_device
from ._unet import UNetConfig

__all__ = ["pretrain", "pretrained_run", "PRETRAIN_FORMAT"]

logger = logging.getLogger(__name__)

PRETRAIN_FORMAT = "lusfeat-pretrain"


# Over 80 lines only through its docstring (every option of the public entry point); the
# body is the short sequence of named steps below.
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
    members: int = 1,
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
        Training options (see :func:`lusfeat.seg.train`); the defaults are
        :data:`lusfeat._config.PRETRAIN_TRAIN` (``model`` defaults to
        ``UNetConfig()``, 10 % of the patients held out for validation).
    members : int
        Networks to train, member ``k`` with seed ``seed + k`` (its own simulated
        cohort and initialisation); two or more are also combined into the
        ensemble run ``out / "ensemble"``. Each member costs a full pretraining.
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
    t0 = time.perf_counter()
    out = Path(out)
    if int(members) < 1:
        raise InputError(f"--members must be >= 1, got {members}")
    members = int(members)
    # fail on bad options before simulating anything
    sims = [_simulation(patients, frames, size, probe, seed + k) for k in range(members)]
    strat = parse_strategy(strategy)
    resolve_device(device)
    options = replace(PRETRAIN_TRAIN, epochs=epochs, batch_size=batch_size, lr=lr, device=device,
                      threads=threads, seed=seed, size=size)  # the training options' checks
    if _finished(out, overwrite, members):
        logger.info("pretrained model already in %s (pass overwrite to redo it)", out)
        return out
    cfg = model if model is not None else UNetConfig()
    metas = []
    for k, sim in enumerate(sims):
        if members > 1:
            logger.info("pretraining member %d of %d (seed %d)", k + 1, members, sim.seed)
        where = out if k == 0 else out / f"member-{k}"
        if k > 0 and _finished(where, False, 1):
            metas.append(read_json(where / "pretrain.json"))
            continue
        metas.append(_pretrain_member(where, sim, strat, replace(options, seed=sim.seed), cfg, progress))
        if k > 0:
            write_json(where / "pretrain.json", metas[-1])
    meta = dict(metas[0])
    if members > 1:
        from ._ensemble import ensemble

        ensemble([out / "run"] + [out / f"member-{k}" for k in range(1, members)], out / "ensemble", overwrite=True)
        meta["members"] = [{"folder": "." if k == 0 else f"member-{k}", "seed": m["simulator"]["seed"],
                            "val_dice": m["val_dice"], "cohort_fingerprint": m["cohort_fingerprint"]}
                           for k, m in enumerate(metas)]
        meta["ensemble"] = "ensemble"
    meta["elapsed_s"] = round(time.perf_counter() - t0, 3)
    write_json(out / "pretrain.json", meta)
    if members > 1:
        logger.info("pretrained %d U-Nets (validation Dice %s) -> ensemble %s; model.pt is member 0", members,
                    ", ".join(f"{m['val_dice']:.3f}" for m in metas), out / "ensemble")
    else:
        logger.info("pretrained U-Net (validation Dice %.3f) -> %s", meta["val_dice"], out / "model.pt")
    return out


def _simulation(patients: int, frames: int, size: int, probe: str, seed: int) -> Any:
    """The checked simulator options of one member."""
    from ..data import SimulationConfig

    sim = SimulationConfig(patients=int(patients), exams=(2, 3), zones=6, frames=int(frames), size=int(size),
                           probe=probe, annotators=3, seed=int(seed))
    sim.check()
    return sim


def _pretrain_member(out: Path, sim: Any, strat: Strategy, options: Any, cfg: UNetConfig,
                     progress: bool) -> dict[str, Any]:
    """Simulate and train one network in ``out`` (resumable); its ``pretrain.json`` record."""
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    cohort = _simulated_cohort(out / "cohort", sim, progress)
    run = _pretrain_run(cohort, out / "run", strat, options, cfg, progress)
    best = out / "run" / "fold-0" / "model.pt"
    if not (out / "model.pt").is_file() or file_digest(out / "model.pt") != file_digest(best):
        with atomic_file(out / "model.pt") as tmp:
            shutil.copyfile(best, tmp)
    fold = run["fold_results"][0]
    return {
        "format": PRETRAIN_FORMAT, "format_version": 1, "simulator": _simulator_record(sim),
        "strategy": run["strategy"], "model": run["model"], "input_size": run["input_size"],
        "class_names": run["class_names"], "cohort_fingerprint": cohort.fingerprint, "n_frames": int(cohort.n_frames),
        "training": {k: run["options"][k] for k in ("epochs", "batch_size", "lr", "seed", "augmentation")},
        "device": run["device"], "val_dice": fold["val_dice"], "best_epoch": fold["best_epoch"],
        "train_seconds": fold["seconds"], "elapsed_s": round(time.perf_counter() - t0, 3),
        "versions": run["versions"],
    }


def pretrained_run(path: str | os.PathLike) -> Path:
    """The run folder to apply for ``path``: a ``lusfeat pretrain`` folder's ensemble when it has one, else
    its run; any other folder (a run folder) as it is."""
    path = Path(path)
    if (path / "pretrain.json").is_file():
        return path / "ensemble" if (path / "ensemble" / "run.json").is_file() else path / "run"
    return path


def _finished(out: Path, overwrite: bool, members: int = 1) -> bool:
    """Whether ``out`` holds a finished pretrain folder of ``members`` networks to reuse; otherwise make it
    ready (InputError when it holds something else)."""
    if out.exists() and not overwrite:
        if (out / "pretrain.json").is_file() and (out / "model.pt").is_file():
            have = len(read_json(out / "pretrain.json").get("members") or [None])
            if have >= members:
                return True
            logger.info("%s has %d member(s); training the missing ones up to %d", out, have, members)
            return False
        stray = [p.name for p in out.iterdir()
                 if p.name not in ("cohort", "run", ".run.partial", "model.pt", "ensemble")
                 and not p.name.startswith(("member-", "."))]
        if stray:
            raise InputError(f"{out} exists and is not a pretrain folder (it holds {stray[0]}); "
                             "choose another OUT or pass --overwrite")
    if out.exists() and overwrite:
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    return False


def _simulator_record(sim: Any) -> dict[str, Any]:
    return {**sim.__dict__, "exams": list(sim.exams)}


def _simulated_cohort(cohort_dir: Path, sim: Any, progress: bool) -> Any:
    """The simulated cohort of ``sim`` in ``cohort_dir``: reused when made with the same options."""
    from ..data import open_cohort, simulate_cohort

    wanted = _simulator_record(sim)
    if cohort_dir.exists():
        have = open_cohort(cohort_dir).meta.get("source", {}).get("simulator")
        if have != wanted:
            logger.info("simulated cohort in %s was made with other options; simulating again", cohort_dir)
            shutil.rmtree(cohort_dir)
    if not cohort_dir.exists():
        logger.info("simulating %d patients at %d px -> %s", sim.patients, sim.size, cohort_dir)
        simulate_cohort(cohort_dir, patients=sim.patients, exams=sim.exams, zones=sim.zones, frames=sim.frames,
                        size=sim.size, probe=sim.probe, annotators=sim.annotators, seed=sim.seed, progress=progress)
    return open_cohort(cohort_dir)


def _pretrain_run(cohort: Any, run_dir: Path, strat: Strategy, options: Any, cfg: UNetConfig,
                  progress: bool) -> dict[str, Any]:
    """``run.json`` of the one-model training run in ``run_dir`` (trained unless finished; resumable)."""
    from ._train import train

    if not (run_dir / "run.json").is_file():
        if run_dir.exists():
            shutil.rmtree(run_dir)
        train(cohort, run_dir, strat, **{**options.train_kwargs(), "model": cfg}, progress=progress)
    return read_json(run_dir / "run.json")

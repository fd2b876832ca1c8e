"""Ensembles: several independently trained U-Nets applied as one run.

Networks trained by one recipe with other seeds (another simulated cohort,
another initialisation) agree on what the training data teach and disagree on
what they do not; the mean of their probabilities keeps the first and damps the
second (deep ensembles, Lakshminarayanan et al. 2017; nnU-Net applies its fold
models to new data the same way, Isensee et al. 2021). On frames unlike the
training data, such as real frames for a simulator-trained network, this is
where single networks differ most.

:func:`ensemble` combines finished single-model runs (``lusfeat train`` with one
fold, or ``lusfeat pretrain`` folders) into an ensemble run folder, in the run
layout :func:`lusfeat.seg.segment` reads::

    ENSEMBLE/
      run.json          format "lusfeat-run", ``folds`` = number of members,
                        ``cross_fitted`` false, ``members``: each member's run,
                        checkpoint digest, seed, cohort and validation Dice
      folds.parquet     empty: no patient is held out from any member, so every
                        frame is predicted by the mean of all members
      fold-K/model.pt   member K's checkpoint (a copy)

``fold-0`` is member 0, so ``lusfeat train --init ENSEMBLE`` fine-tunes from the
first member. The members must predict the same classes under the same label
strategy; their networks and input sizes may differ.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .._errors import InputError
from .._io import atomic_dir, file_digest, fingerprint, write_json, write_parquet
from ._device import versions

__all__ = ["ensemble", "member_run"]

logger = logging.getLogger(__name__)


def member_run(path: str | os.PathLike) -> Path:
    """The run folder behind ``path``: a run folder or a ``lusfeat pretrain`` folder (its run, or its
    ensemble when it has members, which :func:`ensemble` refuses as a member).

    Raises
    ------
    InputError
        When ``path`` is neither.
    """
    from ._pretrain import pretrained_run

    path = pretrained_run(path)  # a pretrain folder with members gives its ensemble: refused below
    if not (path / "run.json").is_file():
        raise InputError(f"{path} is not a run folder or a `lusfeat pretrain` folder (no run.json); "
                         "pass folders written by `lusfeat train` or `lusfeat pretrain`")
    return path


def _member(path: str | os.PathLike) -> dict[str, Any]:
    """What the ensemble records of one member (InputError for a run it cannot take)."""
    from ._segment import open_run

    run = member_run(path)
    meta, _ = open_run(run)
    if meta.get("members"):
        raise InputError(f"{run} is itself an ensemble; pass its members instead")
    if int(meta["folds"]) != 1:
        raise InputError(f"{run} is cross-fitted ({meta['folds']} folds); an ensemble combines single-model runs "
                         "(`lusfeat train --folds 1` or `lusfeat pretrain`)")
    ckpt = run / "fold-0" / "model.pt"
    if not ckpt.is_file():
        raise InputError(f"{ckpt} is missing; retrain the run")
    result = (meta.get("fold_results") or [{}])[0]
    return {
        "run": str(run.resolve()), "checkpoint_digest": file_digest(ckpt), "seed": meta.get("seed"),
        "strategy": meta["strategy"], "strategy_name": meta["strategy_name"], "class_names": list(meta["class_names"]),
        "model": meta["model"], "input_size": meta["input_size"], "frame_size": meta.get("frame_size"),
        "cohort": meta.get("cohort", {}), "val_dice": result.get("val_dice"), "_meta": meta, "_checkpoint": ckpt,
    }


def ensemble(members: Sequence[str | os.PathLike], out: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Combine single-model runs into one ensemble run (mean of their probabilities).

    Parameters
    ----------
    members : sequence of path-like
        Two or more run folders with one model each (``lusfeat train --folds 1``)
        or ``lusfeat pretrain`` folders, trained under the same label strategy
        for the same classes.
    out : path-like
        Ensemble run folder to write (layout in the module docstring); written
        in a temporary folder and renamed into place.
    overwrite : bool
        Replace an existing ``out``.

    Returns
    -------
    Path
        ``out``, a run folder for :func:`lusfeat.seg.segment`.

    Raises
    ------
    InputError
        For fewer than two members, a member that is not a single-model run,
        or members that predict other classes or use another label strategy.

    Examples
    --------
    >>> from lusfeat.seg import ensemble, segment
    >>> ens = ensemble(["pre_s0", "pre_s1", "pre_s2"], "runs/ensemble")  # doctest: +SKIP
    >>> segment("real_cohort", ens, "masks/ensemble", allow_foreign=True)  # doctest: +SKIP
    """
    if len(members) < 2:
        raise InputError(f"an ensemble needs two or more members, got {len(members)}")
    recs = [_member(m) for m in members]
    first = recs[0]
    for rec in recs[1:]:
        if rec["class_names"] != first["class_names"]:
            raise InputError(f"member {rec['run']} predicts {rec['class_names']} but {first['run']} predicts "
                             f"{first['class_names']}; members must predict the same classes")
        if rec["strategy"] != first["strategy"]:
            raise InputError(f"member {rec['run']} was trained under {rec['strategy']} but {first['run']} under "
                             f"{first['strategy']}; members must share the label strategy")
    digests = [r["checkpoint_digest"] for r in recs]
    if len(set(digests)) < len(digests):
        raise InputError("the same network is given twice among the members; pass each member once")
    out = Path(out)
    cohorts = sorted({str(r["cohort"].get("fingerprint")) for r in recs})
    # one shared cohort: the ensemble belongs to it; members trained on several cohorts
    # make an ensemble that belongs to none of them (applying it anywhere is foreign)
    cohort = (dict(first["cohort"]) if len(cohorts) == 1
              else {"path": None, "fingerprint": "ensemble-" + fingerprint(cohorts)})
    meta: dict[str, Any] = {
        "format": first["_meta"]["format"], "format_version": first["_meta"]["format_version"],
        "strategy": first["strategy"], "strategy_name": first["strategy_name"], "folds": len(recs),
        "cross_fitted": False, "model": first["model"], "input_size": first["input_size"],
        "frame_size": first["frame_size"], "class_names": first["class_names"], "cohort": cohort,
        "members": [{k: v for k, v in r.items() if not k.startswith("_")} for r in recs],
        "fingerprint": fingerprint("ensemble", digests), "versions": versions(),
        "fold_results": [(r["_meta"].get("fold_results") or [{}])[0] for r in recs],
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"), "producer": "lusfeat.seg.ensemble",
    }
    with atomic_dir(out, overwrite=overwrite) as tmp:
        for k, rec in enumerate(recs):
            (tmp / f"fold-{k}").mkdir()
            shutil.copyfile(rec["_checkpoint"], tmp / f"fold-{k}" / "model.pt")
        write_parquet(pd.DataFrame({"patient_id": pd.Series([], dtype=str), "fold": pd.Series([], dtype="int64")}),
                      tmp / "folds.parquet")
        write_json(tmp / "run.json", meta)
    dice = [r["val_dice"] for r in recs if r["val_dice"] is not None]
    logger.info("ensemble of %d networks (validation Dice %s) -> %s", len(recs),
                ", ".join(f"{d:.3f}" for d in dice) or "not recorded", out)
    return out

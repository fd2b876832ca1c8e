"""MONAI: a Decathlon-style datalist with multi-channel label files and folds by patient.

Layout::

    OUT/
      datalist.json          {"training": [{"image", "label", "weight", "fold", ...}], "labels", ...}
      images/lus_000000.npy  (1, H, W) uint8 grey frame
      labels/lus_000000.npy  (C, H, W) uint8 0/1 targets (soft: float32 0..1), C = 5 classes
      weights/lus_000000.npy (C, H, W) float32 loss weights (weighted and ignore strategies)

``monai.data.load_decathlon_datalist(OUT / "datalist.json", data_list_key="training")``
reads it (paths relative to the datalist); ``fold`` (whole patients per fold, the folds of
``lusfeat train``) selects cross-validation splits, as in MONAI Auto3DSeg datalists.
Classes overlap freely: each class is its own channel (train with sigmoid outputs).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..._io import atomic_dir, write_json
from .._format import CLASS_NAMES, Cohort
from ._common import case_ids, frames_in_order, iter_targets, patient_folds

__all__ = ["export_monai"]

logger = logging.getLogger(__name__)


def export_monai(cohort: Cohort, out: str | Path, strategy, *, folds: int = 5, seed: int = 0,
                 overwrite: bool = False, progress: bool = False) -> Path:
    """Write a cohort as a MONAI datalist with ``.npy`` images, labels and weights.

    Parameters
    ----------
    cohort : Cohort
    out : path-like
    strategy : lusfeat.labels.Strategy
        Any strategy: ``soft`` targets are stored as float32, weights (``weighted``,
        ``ignore``) in ``weights/``.
    folds, seed : int
        Patient folds, as :func:`lusfeat.data.export.export_nnunet`.
    overwrite, progress : bool

    Returns
    -------
    Path
    """
    out = Path(out)
    frames = frames_in_order(cohort)
    cases = case_ids(frames)
    fold = patient_folds(frames, folds, seed)
    soft = strategy.kind.value == "soft"
    weighted = strategy.kind.value in ("weighted", "ignore")
    items = []
    with atomic_dir(out, overwrite=overwrite) as tmp:
        for sub in ("images", "labels") + (("weights",) if weighted else ()):
            (tmp / sub).mkdir()
        for start, images, target, weight in iter_targets(cohort, strategy, progress=progress, label="MONAI export"):
            for j in range(images.shape[0]):
                i, case = start + j, cases[start + j]
                np.save(tmp / "images" / f"{case}.npy", images[j][None])
                np.save(tmp / "labels" / f"{case}.npy", target[j] if soft else (target[j] >= 0.5).astype(np.uint8))
                item = {"image": f"images/{case}.npy", "label": f"labels/{case}.npy"}
                if weighted:
                    np.save(tmp / "weights" / f"{case}.npy", weight[j].astype(np.float32))
                    item["weight"] = f"weights/{case}.npy"
                row = frames.iloc[i]
                items.append({**item, "fold": int(fold[i]), "patient_id": str(row["patient_id"]),
                              "exam_id": str(row["exam_id"]), "frame_id": str(row["frame_id"])})
        write_json(tmp / "datalist.json", {
            "name": out.name, "description": f"lusfeat cohort {cohort.path.name}, labels {strategy.spec}",
            "labels": {str(k): c for k, c in enumerate(CLASS_NAMES)}, "numTraining": len(items),
            "training": items,
            "lusfeat": {"cohort": str(cohort.path.resolve()), "cohort_fingerprint": cohort.fingerprint,
                        "strategy": strategy.spec, "label_channels": list(CLASS_NAMES),
                        "label_dtype": "float32" if soft else "uint8", "folds": folds, "seed": seed},
        })
    logger.info("MONAI datalist of %d frame(s) (%s, %d patient folds) written to %s", len(items),
                strategy.spec, folds, out / "datalist.json")
    return out

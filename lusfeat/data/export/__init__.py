"""Export a cohort for other trainers and tools, and read their predictions back.

* :func:`export_nnunet`: an nnU-Net v2 raw dataset (strategy applied, overlap by
  priority, ``ignore`` label, patient-grouped ``splits_final.json``);
* :func:`export_monai`: a Decathlon-style datalist with multi-channel labels and weights,
  folds by patient;
* :func:`export_coco`: predicted masks with per-region scores (or the labels), for
  pre-annotation in CVAT;
* :func:`read_predictions` / :func:`prediction_mask_set`: an nnU-Net prediction folder as
  cohort-aligned masks (``lusfeat features --masks PRED_DIR``).

``lusfeat export COHORT --format nnunet|monai|coco OUT`` calls :func:`export`.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

from ..._errors import InputError
from ._coco import export_coco
from ._monai import export_monai
from ._nnunet import DEFAULT_PRIORITY, encode_labels, export_nnunet, label_values
from ._predictions import is_prediction_folder, prediction_mask_set, read_predictions

__all__ = [
    "DEFAULT_PRIORITY",
    "ExportFormat",
    "encode_labels",
    "export",
    "export_coco",
    "export_monai",
    "export_nnunet",
    "is_prediction_folder",
    "label_values",
    "prediction_mask_set",
    "read_predictions",
]


class ExportFormat(StrEnum):
    """Export targets (a plain string works too)."""

    NNUNET = "nnunet"
    MONAI = "monai"
    COCO = "coco"


def export(cohort: str | os.PathLike, out: str | os.PathLike, format: str | ExportFormat, *,
           strategy: str | None = None, masks: str | os.PathLike | None = None, folds: int = 5, seed: int = 0,
           priority: tuple[str, ...] = DEFAULT_PRIORITY, allow_foreign: bool = False, overwrite: bool = False,
           progress: bool = False) -> Path:
    """Export a cohort (see the module docstring).

    Parameters
    ----------
    cohort : path-like
    out : path-like
    format : {"nnunet", "monai", "coco"}
    strategy : str, optional
        Label strategy (``lusfeat.labels.parse_strategy`` syntax); default ``threshold:60``
        for nnU-Net and MONAI; for COCO, none (every annotator's confidence).
    masks : path-like, optional
        COCO only: a mask set of predictions to write with their scores.
    folds, seed : int
        Patient folds (nnU-Net, MONAI).
    priority : tuple of str
        nnU-Net class paint order.
    allow_foreign, overwrite, progress : bool

    Returns
    -------
    Path
    """
    from ...labels import parse_strategy
    from .._format import open_cohort

    try:
        fmt = ExportFormat(format)
    except ValueError:
        raise InputError(f"--format {format!r} is not one of {[f.value for f in ExportFormat]}") from None
    if folds < 1:
        raise InputError(f"--folds must be >= 1, got {folds}")
    if masks is not None and fmt is not ExportFormat.COCO:
        raise InputError("--masks is for --format coco (predicted masks for CVAT); nnU-Net and MONAI exports "
                         "take the cohort's labels under --strategy")
    target = Path(out)
    if target.exists() and not overwrite and (not target.is_dir() or any(target.iterdir())):
        raise InputError(f"output {target} already exists; choose another path or pass --overwrite")
    c = open_cohort(cohort)
    if masks is None:  # the cohort's labels are exported, not predicted masks
        c.require_labels(f"export --format {fmt.value}")
    if fmt is ExportFormat.COCO:
        return export_coco(c, out, masks=masks, strategy=parse_strategy(strategy) if strategy else None,
                           allow_foreign=allow_foreign, overwrite=overwrite, progress=progress)
    s = parse_strategy(strategy or "threshold:60")
    if fmt is ExportFormat.NNUNET:
        return export_nnunet(c, out, s, folds=folds, seed=seed, priority=priority, overwrite=overwrite,
                             progress=progress)
    return export_monai(c, out, s, folds=folds, seed=seed, overwrite=overwrite, progress=progress)

"""Masks predicted by nnU-Net back into lusfeat (``lusfeat features --masks PRED_DIR``).

``nnUNetv2_predict -i DatasetXXX/imagesTr -o PRED_DIR ...`` writes one label PNG per case
(``lus_000012.png``) and copies the dataset's ``dataset.json`` (with its ``lusfeat``
record: cohort fingerprint and label values) into ``PRED_DIR``. Each label value becomes
its class's mask; the case name gives the cohort frame (``array_index``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..._errors import InputError
from ..._io import check_fingerprint, read_json
from .._format import CLASS_NAMES, Cohort
from ._common import read_png

__all__ = ["is_prediction_folder", "read_predictions", "prediction_mask_set"]

_CASE = re.compile(r"^([A-Za-z][A-Za-z0-9]*)_(\d+)\.png$")


def is_prediction_folder(path: str | os.PathLike) -> bool:
    """True for a folder with ``dataset.json`` and no ``masks.json`` (not a lusfeat mask set)."""
    p = Path(path)
    return p.is_dir() and (p / "dataset.json").is_file() and not (p / "masks.json").is_file()


def read_predictions(path: str | os.PathLike, cohort: Cohort, *,
                     allow_foreign: bool = False) -> tuple[np.ndarray, bool]:
    """Read an nnU-Net prediction folder as cohort-aligned masks.

    Parameters
    ----------
    path : path-like
        Folder written by ``nnUNetv2_predict`` for an export of this cohort.
    cohort : Cohort
    allow_foreign : bool
        Accept predictions made for another cohort's export.

    Returns
    -------
    masks : (N, C, H, W) bool
        In :data:`lusfeat.data.CLASS_NAMES` order, frame ``i`` = ``array_index == i``.
    foreign : bool
        True when the export was made from another cohort and ``allow_foreign`` let it pass.

    Raises
    ------
    InputError
        When ``dataset.json`` lacks the lusfeat record or a class, a case is missing,
        unnamed or of the wrong size, or a label value is unknown.
    """
    path = Path(path)
    meta = read_json(path / "dataset.json")
    info = meta.get("lusfeat") if isinstance(meta, dict) else None
    if not info:
        raise InputError(f"--masks {path}: dataset.json has no 'lusfeat' record; predict with a model trained on "
                         "a `lusfeat export --format nnunet` dataset")
    foreign = check_fingerprint(f"--masks {path}", info.get("cohort_fingerprint"), cohort.fingerprint,
                                source=f"cohort {cohort.path}", allow_foreign=allow_foreign)
    labels = meta.get("labels", {})
    missing = [c for c in CLASS_NAMES if c not in labels]
    if missing:
        raise InputError(f"--masks {path}: dataset.json labels lack {missing}; export again with lusfeat")
    n, (h, w) = cohort.n_frames, cohort.shape
    out = np.zeros((n, len(CLASS_NAMES), h, w), bool)
    seen = np.zeros(n, bool)
    prefix = info.get("case_prefix", "lus")
    for f in sorted(path.glob("*.png")):
        m = _CASE.match(f.name)
        if m is None or m[1] != prefix or int(m[2]) >= n:
            raise InputError(f"--masks {path}: {f.name} is not a case of this cohort ({prefix}_000000.png .. "
                             f"{prefix}_{n - 1:06d}.png); remove it")
        i = int(m[2])
        lab = read_png(f)
        if lab.shape != (h, w):
            raise InputError(f"--masks {path}: {f.name} is {lab.shape[1]} x {lab.shape[0]}, the cohort's frames "
                             f"are {w} x {h}")
        known = {int(v) for v in labels.values() if not isinstance(v, list)}
        bad = set(np.unique(lab).tolist()) - known
        if bad:
            raise InputError(f"--masks {path}: {f.name} holds label value(s) {sorted(bad)} not in dataset.json")
        for k, c in enumerate(CLASS_NAMES):
            out[i, k] = lab == int(labels[c])
        seen[i] = True
    if not seen.all():
        first = int(np.flatnonzero(~seen)[0])
        raise InputError(f"--masks {path}: predictions for {int((~seen).sum())} of {n} frame(s) are missing "
                         f"(first: {prefix}_{first:06d}.png); predict every case of imagesTr")
    return out, foreign


def prediction_mask_set(path: str | os.PathLike, cohort: Cohort, out: str | os.PathLike, *,
                        allow_foreign: bool = False, overwrite: bool = False) -> Path:
    """Convert an nnU-Net prediction folder into a lusfeat mask set (for ``lusfeat evaluate``).

    Returns
    -------
    Path
        The mask set folder (``masks.json`` names the producer and the cohort).
    """
    from .._masks import MaskWriter

    masks, foreign = read_predictions(path, cohort, allow_foreign=allow_foreign)
    with MaskWriter(out, *masks.shape[:1], *masks.shape[2:], overwrite=overwrite) as writer:
        writer.write(0, masks)
        writer.finish({"producer": {"kind": "nnunet", "predictions": str(Path(path).resolve())},
                       "cohort": {"path": str(cohort.path.resolve()), "fingerprint": cohort.fingerprint},
                       "foreign": foreign})
    return Path(out)

"""Mask sources: where the masks of a feature extraction, an evaluation or a sweep come from.

A mask source is written as one of

=========================  ===================================================
``truth``                  the cohort's true masks (simulated cohorts only)
``labels:T[@FUSION]``      fused annotator confidence ``>= T`` percent
                           (``T`` in 0..100; ``FUSION`` ``mean``, the default,
                           ``max``, ``majority`` or ``staple``; see
                           :func:`lusfeat.labels.fused_masks`)
``PATH``                   a mask-set folder (``lusfeat segment``), or an
                           nnU-Net prediction folder (one holding
                           ``dataset.json``, see
                           :func:`lusfeat.data.export.read_predictions`)
=========================  ===================================================

:func:`parse_mask_source` turns the text into a :class:`MaskSource` once, at
the command or function that receives it; the stages after it pass the object
on. The text as given stays the source's :attr:`MaskSource.text` (recorded in
``features.json`` and in feature fingerprints).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from ._errors import InputError
from .labels import Fusion

__all__ = ["MaskSource", "MaskSourceKind", "parse_mask_source"]


class MaskSourceKind(StrEnum):
    """The kinds of mask source."""

    TRUTH = "truth"
    LABELS = "labels"
    MASK_SET = "mask_set"
    PREDICTIONS = "predictions"


_FUSIONS = ", ".join(f.value for f in Fusion)


@dataclass(frozen=True)
class MaskSource:
    """A parsed mask source (see the module docstring for the syntax).

    Parameters
    ----------
    kind : MaskSourceKind
    text : str
        The source as the user wrote it (``labels:60``, ``masks/t60``).
    threshold : float or None
        ``T`` of ``labels:T`` (percent).
    fusion : Fusion
        Annotator fusion of ``labels:T``.
    path : Path or None
        Folder of a mask set or of nnU-Net predictions.

    Examples
    --------
    >>> src = parse_mask_source("labels:60@staple")
    >>> src.kind.value, src.threshold, src.fusion.value, src.spec
    ('labels', 60.0, 'staple', 'labels:60@staple')
    """

    kind: MaskSourceKind
    text: str
    threshold: float | None = None
    fusion: Fusion = Fusion.MEAN
    path: Path | None = None

    @classmethod
    def labels(cls, threshold: float, fusion: str | Fusion = Fusion.MEAN) -> MaskSource:
        """The ``labels:T[@FUSION]`` source (its text is the canonical :attr:`spec`)."""
        text = f"labels:{float(threshold):g}" + ("" if Fusion(fusion) is Fusion.MEAN else f"@{Fusion(fusion).value}")
        return parse_mask_source(text)

    @property
    def spec(self) -> str:
        """Canonical text form (``truth``, ``labels:60``, ``labels:60@staple`` or the folder)."""
        if self.kind is MaskSourceKind.TRUTH:
            return "truth"
        if self.kind is MaskSourceKind.LABELS:
            core = f"labels:{self.threshold:g}"
            return core if self.fusion is Fusion.MEAN else f"{core}@{self.fusion.value}"
        return str(self.path)

    @property
    def on_disk(self) -> bool:
        """True for the folder kinds (mask set, nnU-Net predictions)."""
        return self.kind in (MaskSourceKind.MASK_SET, MaskSourceKind.PREDICTIONS)

    def __str__(self) -> str:
        return self.spec


def _labels(text: str) -> MaskSource:
    core, sep, fusion = text.split(":", 1)[1].partition("@")
    try:
        threshold = float(core)
    except ValueError:
        raise InputError(f"--masks {text!r}: T must be a number in percent, e.g. labels:60") from None
    if not 0 <= threshold <= 100:
        raise InputError(f"--masks {text!r}: T must be in [0, 100] percent")
    if sep and fusion not in {f.value for f in Fusion}:
        raise InputError(f"--masks {text!r}: unknown fusion {fusion!r}; expected one of {_FUSIONS}")
    return MaskSource(MaskSourceKind.LABELS, text, threshold=threshold,
                      fusion=Fusion(fusion) if sep else Fusion.MEAN)


def parse_mask_source(value: str | os.PathLike | MaskSource) -> MaskSource:
    """Parse ``truth``, ``labels:T[@FUSION]`` or a folder into a :class:`MaskSource`.

    Parameters
    ----------
    value : str, path-like or MaskSource
        A :class:`MaskSource` is returned unchanged. A folder holding
        ``dataset.json`` is an nnU-Net prediction folder; any other path a
        mask set (whether it is one is checked when it is opened).

    Returns
    -------
    MaskSource

    Raises
    ------
    InputError
        For ``labels:T`` with a ``T`` that is not a number in 0..100 or an
        unknown fusion, or a value that is neither text nor a path; the
        message is one line naming ``--masks``.

    Examples
    --------
    >>> parse_mask_source("truth").kind.value
    'truth'
    >>> parse_mask_source("labels:70").threshold
    70.0
    """
    if isinstance(value, MaskSource):
        return value
    if isinstance(value, str) and value == "truth":
        return MaskSource(MaskSourceKind.TRUTH, value)
    if isinstance(value, str) and value.startswith("labels:"):
        return _labels(value)
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        kind = MaskSourceKind.PREDICTIONS if (path / "dataset.json").is_file() else MaskSourceKind.MASK_SET
        return MaskSource(kind, str(path), path=path)
    raise InputError(f"masks must be 'truth', 'labels:T', a mask-set path or an "
                     f"(N, 5, H, W) bool array; got {value!r}")

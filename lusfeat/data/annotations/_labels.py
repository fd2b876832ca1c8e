"""Tool labels to lusfeat classes, and each shape's confidence.

Label matching: a label is compared after lower-casing and turning spaces and hyphens
into underscores (``"B-line"`` -> ``b_line``). It maps to a class when

1. the label map names it (``--label-map aline=a_line``; the target ``-`` skips the label
   on purpose, without a warning), else
2. it is a class name itself (``b_line``), else
3. it ends in ``_NN`` (or `` NN``, ``-NN``) and the part before maps by 1 or 2: ``NN`` is
   then the shape's confidence in percent (``b_line_70``).

Confidence, in order: the confidence attribute (``--confidence-attribute``, percent
0..100), the label suffix, a detector ``score`` (COCO results, 0..1, times 100), the
default (``--default-confidence``, 100).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..._errors import InputError
from .._format import CLASS_NAMES
from ._shapes import Shape

__all__ = ["SKIP", "AnnotationOptions", "normalise_label", "parse_label_map", "resolve"]

#: Label-map target that skips a label deliberately.
SKIP = "-"
_SUFFIX = re.compile(r"^(.*?)[_ \-](\d{1,3})$")


def normalise_label(label: str) -> str:
    """Lower case, spaces and hyphens to underscores, outer whitespace stripped."""
    return re.sub(r"[\s\-]+", "_", str(label).strip().lower())


def _check_target(target: str, where: str) -> str:
    t = normalise_label(target) if target.strip() != SKIP else SKIP
    if t != SKIP and t not in CLASS_NAMES:
        raise InputError(f"{where}: {target!r} is not a lusfeat class; use one of {list(CLASS_NAMES)} or '-' to skip")
    return t


def parse_label_map(items: Sequence[str] = ()) -> dict[str, str]:
    """Parse ``--label-map`` values: ``TOOL=CLASS`` pairs or YAML/JSON files of such pairs.

    Parameters
    ----------
    items : sequence of str
        Each either ``TOOL_LABEL=CLASS`` or the path of a ``.json``/``.yaml``/``.yml``
        file holding a mapping ``{TOOL_LABEL: CLASS}``.

    Returns
    -------
    dict
        Normalised tool label -> class name (or :data:`SKIP`).

    Raises
    ------
    InputError
        On a malformed pair, an unreadable file or a target that is not a class.
    """
    out: dict[str, str] = {}
    for item in items:
        label, sep, target = item.partition("=")
        if sep and label.strip() and target.strip():
            out[normalise_label(label)] = _check_target(target, f"--label-map {item}")
            continue
        path = Path(os.path.expanduser(item))
        if not path.is_file():
            raise InputError(f"--label-map {item!r}: expected TOOL_LABEL=CLASS (e.g. aline=a_line) "
                             "or a YAML/JSON file of such pairs")
        out.update(_read_map_file(path))
    return out


def _read_map_file(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:
        raise InputError(f"--label-map {path}: cannot read it ({type(exc).__name__}: {exc}); "
                         "write a mapping TOOL_LABEL: CLASS in YAML or JSON") from None
    if not isinstance(data, Mapping):
        raise InputError(f"--label-map {path}: expected a mapping TOOL_LABEL: CLASS, got {type(data).__name__}")
    return {normalise_label(k): _check_target(str(v), f"--label-map {path} ({k})") for k, v in data.items()}


@dataclass(frozen=True)
class AnnotationOptions:
    """How shapes become confidence maps (recorded in ``cohort.json``).

    Parameters
    ----------
    label_map : dict
        From :func:`parse_label_map`.
    confidence_attribute : str or None
        Attribute holding the confidence in percent; ``None`` reads no attribute.
    default_confidence : float
        Percent given to shapes without an attribute, suffix or score.
    line_width : float
        Width in pixels (of the original frame) of polylines that state none.
    """

    label_map: dict[str, str] = field(default_factory=dict)
    confidence_attribute: str | None = "confidence"
    default_confidence: float = 100.0
    line_width: float = 3.0

    def __post_init__(self) -> None:
        if not 0 < float(self.default_confidence) <= 100:
            raise InputError(f"--default-confidence must be in 1..100 percent; got {self.default_confidence}")
        if not float(self.line_width) > 0:
            raise InputError(f"--line-width must be a positive number of pixels; got {self.line_width}")

    def as_dict(self) -> dict:
        return {"label_map": dict(self.label_map), "confidence_attribute": self.confidence_attribute,
                "default_confidence": float(self.default_confidence), "line_width": float(self.line_width)}


def _class_of(label: str, options: AnnotationOptions) -> str | None:
    if label in options.label_map:
        return options.label_map[label]
    return label if label in CLASS_NAMES else None


def _number(value: object) -> float:
    v = float(str(value).strip().rstrip("%"))
    if not math.isfinite(v):
        raise ValueError
    return v


def resolve(s: Shape, options: AnnotationOptions) -> tuple[str | None, float | None, str | None]:
    """The class and confidence of one shape.

    Returns
    -------
    cls : str or None
        Class name, :data:`SKIP`, or ``None`` for an unknown label.
    confidence : float or None
        Percent; ``None`` when the shape is unusable.
    problem : str or None
        An error message naming the shape and the fix, when its confidence is invalid.
    """
    label = normalise_label(s.label)
    cls, conf = _class_of(label, options), None
    if cls is None:
        m = _SUFFIX.match(label)
        if m and _class_of(m[1], options) is not None:
            cls, conf = _class_of(m[1], options), float(m[2])
            if conf > 100:
                return cls, None, f"{s.where}: label {s.label!r} ends in {m[2]}, above 100 percent; use 0..100"
    if cls is None or cls == SKIP:
        return cls, None, None
    attr = options.confidence_attribute
    if attr is not None and attr in s.attributes and str(s.attributes[attr]).strip() != "":
        try:
            conf = _number(s.attributes[attr])
        except ValueError:
            return cls, None, (f"{s.where}: attribute {attr!r} is {s.attributes[attr]!r}, not a number; "
                               "give the confidence in percent (10..100)")
        if not 0 <= conf <= 100:
            return cls, None, f"{s.where}: attribute {attr!r} is {conf:g}, outside 0..100 percent"
    elif conf is None and s.score is not None:
        if not 0 <= s.score <= 1:
            return cls, None, f"{s.where}: score {s.score:g} is outside 0..1"
        conf = 100.0 * s.score
    if conf is None:
        conf = float(options.default_confidence)
    return cls, conf, None

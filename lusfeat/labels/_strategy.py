"""Label strategies: fused confidence -> training targets and per-pixel loss weights.

A strategy is written as ``KIND[:ARGS][@FUSION]``:

==================  ==========================================================
``threshold:T``     target ``t = [c >= T]``, weight ``w = 1`` (``T`` in 1..100)
``soft``            target ``t = c / 100``, weight ``w = 1`` (soft-target BCE/Dice)
``weighted:T``      target ``t = [c >= T]``; weight is the distance of ``c`` to
                    ``T`` as a fraction of the way to the nearest end:
                    ``w = (c - T) / (100 - T)`` if ``c >= T`` else ``w = (T - c) / T``
                    (``w = 1`` when ``T = 100`` and ``c = 100``), so pixels at
                    0 % or 100 % weigh 1 and pixels at the threshold weigh 0.
``ignore:LO-HI``    target ``t = [c >= HI]``; weight ``w = 0`` where ``LO <= c < HI``
                    (excluded from the loss), else 1 (``1 <= LO < HI <= 100``)
==================  ==========================================================

``c`` is the annotators' fused confidence in percent (see :func:`fuse`);
``@FUSION`` picks the fusion (``mean``, the default, ``max``, ``majority`` or
``staple``), e.g. ``threshold:60@staple``. A strategy's canonical ``name`` is a
folder-safe string: ``threshold-60``, ``soft``, ``weighted-60``,
``ignore-40-60``, with ``-FUSION`` appended when the fusion is not ``mean``
(``threshold-60-staple``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .._errors import InputError
from ._fusion import Fusion, array_module, fuse

__all__ = ["Strategy", "StrategyKind", "parse_strategy"]


class StrategyKind(StrEnum):
    """The kinds of label strategy."""

    THRESHOLD = "threshold"
    SOFT = "soft"
    WEIGHTED = "weighted"
    IGNORE = "ignore"


_SYNTAX = "threshold:T, soft, weighted:T or ignore:LO-HI, optionally followed by @mean|@max|@majority|@staple"


@dataclass(frozen=True)
class Strategy:
    """A parsed label strategy (see the module docstring for every formula).

    Parameters
    ----------
    kind : StrategyKind or str
    threshold : int or None
        ``T`` of ``threshold`` and ``weighted``; ``HI`` of ``ignore``.
    low : int or None
        ``LO`` of ``ignore``.
    fusion : Fusion or str
        Annotator fusion, ``mean`` by default.

    Raises
    ------
    InputError
        When the numbers do not fit the kind (``T`` outside 1..100, ``LO >= HI``).

    Examples
    --------
    >>> s = parse_strategy("ignore:40-60")
    >>> s.name, s.spec
    ('ignore-40-60', 'ignore:40-60')
    """

    kind: StrategyKind
    threshold: int | None = None
    low: int | None = None
    fusion: Fusion = Fusion.MEAN

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", StrategyKind(self.kind))
            object.__setattr__(self, "fusion", Fusion(self.fusion))
        except ValueError as exc:
            raise InputError(f"invalid strategy ({exc}); expected {_SYNTAX}") from None
        k, t, lo = self.kind, self.threshold, self.low
        if k is StrategyKind.SOFT:
            if t is not None or lo is not None:
                raise InputError("strategy 'soft' takes no threshold; write 'soft'")
            return
        if t is None or not 1 <= int(t) <= 100:
            raise InputError(f"strategy {k.value!r} needs a threshold in 1..100, got {t!r}")
        object.__setattr__(self, "threshold", int(t))
        if k is StrategyKind.IGNORE:
            if lo is None or not 1 <= int(lo) < int(t):
                raise InputError(
                    f"strategy 'ignore:LO-HI' needs 1 <= LO < HI <= 100, got LO={lo!r}, HI={t!r}"
                )
            object.__setattr__(self, "low", int(lo))
        elif lo is not None:
            raise InputError(f"strategy {k.value!r} takes one threshold, not a range")

    @property
    def spec(self) -> str:
        """Canonical text form, parseable by :func:`parse_strategy` (``threshold:60@staple``)."""
        if self.kind is StrategyKind.SOFT:
            core = "soft"
        elif self.kind is StrategyKind.IGNORE:
            core = f"ignore:{self.low}-{self.threshold}"
        else:
            core = f"{self.kind.value}:{self.threshold}"
        return core if self.fusion is Fusion.MEAN else f"{core}@{self.fusion.value}"

    @property
    def name(self) -> str:
        """Folder-safe canonical name (``threshold-60``, ``ignore-40-60``, ``soft-staple``)."""
        return self.spec.replace(":", "-").replace("@", "-")

    def __str__(self) -> str:
        return self.spec

    def targets(self, confidence: Any) -> tuple[Any, Any]:
        """Targets and loss weights from per-annotator confidence.

        Parameters
        ----------
        confidence : (N, A, C, H, W) uint8 array
            Confidence in percent (NumPy or CuPy).

        Returns
        -------
        target : (N, C, H, W) float32 array
            In 0..1 (binary except for ``soft``).
        weight : (N, C, H, W) float32 array
            Per-pixel loss weight in 0..1.
        """
        return self.targets_from_fused(fuse(confidence, self.fusion))

    def targets_from_fused(self, fused: Any) -> tuple[Any, Any]:
        """Targets and loss weights from an already fused confidence map.

        Parameters
        ----------
        fused : (..., H, W) float array
            Fused confidence in percent (for example :func:`fuse` output,
            possibly resized).

        Returns
        -------
        target, weight : float32 arrays shaped like ``fused``
        """
        xp = array_module(fused)
        c = xp.asarray(fused, dtype=xp.float32)
        ones = xp.ones_like(c)
        if self.kind is StrategyKind.SOFT:
            return xp.clip(c / 100.0, 0.0, 1.0).astype(xp.float32), ones
        t = float(self.threshold)
        if self.kind is StrategyKind.THRESHOLD:
            return (c >= t).astype(xp.float32), ones
        if self.kind is StrategyKind.IGNORE:
            keep = (c < self.low) | (c >= t)
            return (c >= t).astype(xp.float32), keep.astype(xp.float32)
        above = c >= t
        hi_span = 100.0 - t
        w_hi = (c - t) / hi_span if hi_span > 0 else ones
        w = xp.where(above, w_hi, (t - c) / t)
        return above.astype(xp.float32), xp.clip(w, 0.0, 1.0).astype(xp.float32)


_PATTERNS = (
    (re.compile(r"^(threshold|weighted):(\d{1,3})$"), lambda m: (m[1], int(m[2]), None)),
    (re.compile(r"^soft$"), lambda m: ("soft", None, None)),
    (re.compile(r"^ignore:(\d{1,3})-(\d{1,3})$"), lambda m: ("ignore", int(m[2]), int(m[1]))),
)


def parse_strategy(text: str | Strategy) -> Strategy:
    """Parse ``KIND[:ARGS][@FUSION]`` into a :class:`Strategy`.

    Parameters
    ----------
    text : str or Strategy
        ``threshold:60``, ``soft``, ``weighted:60``, ``ignore:40-60``, each
        optionally with ``@mean`` (default), ``@max``, ``@majority`` or
        ``@staple``. The canonical folder names (``threshold-60``,
        ``ignore-40-60``, ``threshold-60-staple``) are accepted as well. A
        :class:`Strategy` is returned unchanged.

    Returns
    -------
    Strategy

    Raises
    ------
    InputError
        When the text matches no strategy; the message shows the syntax.

    Examples
    --------
    >>> parse_strategy("threshold:60@staple").name
    'threshold-60-staple'
    >>> parse_strategy("weighted-70").spec
    'weighted:70'
    """
    if isinstance(text, Strategy):
        return text
    if not isinstance(text, str):
        raise InputError(f"strategy must be a string such as 'threshold:60', got {type(text).__name__}")
    raw = text.strip().lower()
    core, _, fusion = raw.partition("@")
    if not fusion:
        # canonical folder name: threshold-60[-staple], ignore-40-60[-max], soft[-majority]
        parts = core.split("-")
        if parts[-1] in {f.value for f in Fusion} and len(parts) > 1:
            fusion = parts.pop()
        if len(parts) > 1 and ":" not in core:
            core = parts[0] + ":" + "-".join(parts[1:])
        else:
            core = "-".join(parts)
    for pattern, build in _PATTERNS:
        m = pattern.match(core)
        if m:
            kind, t, lo = build(m)
            return Strategy(kind, threshold=t, low=lo, fusion=fusion or Fusion.MEAN)
    raise InputError(f"cannot parse strategy {text!r}; expected {_SYNTAX} (e.g. 'threshold:60@staple')")

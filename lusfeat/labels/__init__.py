"""Confidence-label strategies: fuse annotators, turn confidence into targets and weights.

See :mod:`lusfeat.labels._strategy` for the strategy syntax and formulas::

    from lusfeat.labels import fuse, fused_masks, parse_strategy
    fused = fuse(cohort.confidence[:16], "mean")          # (N, C, H, W) float32 percent
    target, weight = parse_strategy("threshold:60").targets(cohort.confidence[:16])
    masks = fused_masks(cohort.confidence[:16], 60)       # fused confidence >= 60 %
"""

from ._fusion import Fusion, fit_staple_table, fuse, fused_masks, staple, staple_fit
from ._strategy import Strategy, StrategyKind, parse_strategy

__all__ = [
    "Fusion", "Strategy", "StrategyKind", "fuse", "fused_masks", "parse_strategy", "staple", "staple_fit",
    "fit_staple_table",
]

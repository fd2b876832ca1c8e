"""Annotator model of the simulator: what each simulated clinician draws, and how sure they are.

Each annotator ``a`` has a skill ``s_a ~ U(0.75, 1.0)``, a boundary jitter
``jitter_a ~ U(0.8, 2.0)`` px and a generosity ``halo_a ~ U(1.5, 3.5)`` px
(at 256 px frames; scaled with frame size, ``r = H / 256``). Every clip is
read once by every annotator, and each *reading* (annotator, clip) has its own
sloppiness ``q``, drawn once per reading and independently of the clip's
findings and severity:

    a reading is sloppy with probability ``p_a = 0.2 + 0.4 (1 - s_a)``
    (0.2-0.3); then ``q ~ U(0.5, 1)``, otherwise ``q ~ U(0, 0.2)``.

Sloppy readings mark many doubtful regions with wide, unsure outlines;
careful ones mark few. (Clips are annotated independently of their exam, so
the sloppiness varies per clip reading, not per exam.) In a reading the
annotator:

* sees each true finding with probability ``sigmoid((v - v50_a) / 0.08)``
  where ``v`` is the finding's visibility (0-1; faint, thin or small findings
  are harder) and ``v50_a = 0.45 - 0.25 * s_a``; missed findings are not drawn;
* draws what it saw with boundaries jittered by ``jitter_a`` (position, width
  and depth perturbations of the true shape);
* gives each drawn region a confidence
  ``c = round10(clip(100 (0.42 + 0.55 v) + N(0, 12), 10, 100))`` for its core
  and ``max(10, c - 20 - 10 B)`` (``B ~ Bernoulli(0.5)``) for a halo grown by
  ``halo = halo_a (0.5 + 4 q)`` px around it: confident cores, unsure outlines
  whose width varies from reading to reading (the pleural line and A-lines get
  half that halo);
* marks doubtful findings where there are none, all with a low confidence
  ``c_f = clip(round10(N(30, 9)), 10, 40)`` (halo as above):

  - ``Poisson(0.2 + 0.4 (1 - s_a) + 6 q)`` false B-lines (bright tissue
    streaks, comet tails) 3-8 px wide (``U(3, 8) max(r, 0.5)``, like real
    ones) anywhere across 10-90% of the width;
  - for each rib, with probability ``0.1 + 0.6 q``, a B-line 3-6 px wide along
    the lung-side edge of its acoustic shadow, at ``clip(round10(N(20, 9)),
    10, 40)``;
  - ``Poisson(0.03 + 0.6 q)`` false consolidations sized like real ones
    (half width 6-16% of the width, depth 8-22% of the height, irregular
    deep border) in the middle half of the image;
  - a false effusion (when none was seen) with probability
    ``1 - exp(-(0.03 + 0.3 q))``: a thin lens 2-4% of the height thick;
  - when no A-lines are visible, with probability ``0.6 q``, faint A-lines at
    the reverberation depths (as drawn for amplitude 0.3);
  - with probability ``0.1 + 0.8 q``, the pleural line traced through its gaps
    (rib shadows, breaks over consolidations) at ``c_f``;

  so low-confidence regions are more often wrong, and how many there are
  depends on the reading, not on the severity;
* always draws the pleural line (confidence 70-100) and draws A-lines when
  their amplitude makes them visible.

Confidence is stored in percent (multiples of 10), 0 meaning "not labelled".
Because the false regions mostly carry 20-40%, they survive a low threshold
on the mean over annotators (``labels:10`` keeps a region one of three
annotators marked at 30%) and not a high one (``labels:60``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ._sim_regions import _bline_region, _cons_region, bline_reading, class_regions, lung_surface
from ._sim_scene import BLine, Consolidation, Effusion, Scene, _smooth_noise

__all__ = ["Annotator", "make_annotators", "annotate_clip"]

# reading sloppiness q scales these (see the module docstring)
SLOPPY_BASE, SLOPPY_SKILL = 0.2, 0.4
HALO_BASE, HALO_SLOPE = 0.5, 4.0
FB_BASE, FB_SKILL, FB_SLOPPY = 0.2, 0.4, 6.0
RIB_BASE, RIB_SLOPPY = 0.1, 0.6
FC_BASE, FC_SLOPPY = 0.03, 0.6
FE_BASE, FE_SLOPPY = 0.03, 0.3
FA_SLOPPY = 0.6
PB_BASE, PB_SLOPPY = 0.1, 0.8
FALSE_CONF_MEAN, FALSE_CONF_SD = 30.0, 9.0


@dataclass(frozen=True)
class Annotator:
    """One simulated annotator's traits (pixels at 256 px frames)."""

    skill: float
    jitter: float
    halo: float

    @property
    def v50(self) -> float:
        return 0.45 - 0.25 * self.skill


def make_annotators(rng: np.random.Generator, n: int) -> list[Annotator]:
    """Draw ``n`` annotators."""
    return [
        Annotator(
            skill=float(rng.uniform(0.75, 1.0)),
            jitter=float(rng.uniform(0.8, 2.0)),
            halo=float(rng.uniform(1.5, 3.5)),
        )
        for _ in range(n)
    ]


def _round10(x: float) -> int:
    return int(min(100.0, max(10.0, 10 * np.round(x / 10))))


def _conf(rng: np.random.Generator, v: float) -> int:
    return _round10(100 * (0.42 + 0.55 * v) + rng.normal(0, 12))


def _false_conf(rng: np.random.Generator, mean: float = FALSE_CONF_MEAN) -> int:
    return int(min(40.0, max(10.0, 10 * np.round(rng.normal(mean, FALSE_CONF_SD) / 10))))


def _sees(rng: np.random.Generator, v: float, ann: Annotator) -> bool:
    return bool(rng.random() < 1 / (1 + np.exp(-(v - ann.v50) / 0.08)))


def annotate_clip(
    scene: Scene, annotators: list[Annotator], rng: np.random.Generator
) -> list[dict[str, np.ndarray]]:
    """Each annotator's confidence planes for one clip, in beam space.

    Returns
    -------
    list of dict
        Per annotator: ``pleural_line`` and ``effusion`` ``(H, W) uint8``,
        ``a_line``, ``b_line``, ``consolidation`` ``(H, W + 2 margin) uint8``.
    """
    return [_reading(scene, ann, rng) for ann in annotators]


# The helpers below draw from ``rng`` in the order _reading calls them; that order is part
# of the simulator (same seed, same cohort), so keep it when changing them.

def _reading(scene: Scene, ann: Annotator, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One annotator's confidence planes for one clip (see :func:`annotate_clip`)."""
    scale = scene.height / 256.0
    h, n, w = scene.height, scene.wide, scene.width
    # this reading's sloppiness, drawn once per (annotator, clip)
    sloppy = rng.random() < SLOPPY_BASE + SLOPPY_SKILL * (1 - ann.skill)
    q = float(rng.uniform(0.5, 1.0) if sloppy else rng.uniform(0.0, 0.2))
    view = scene.perturbed(rng, ann.jitter * scale)
    halo = ann.halo * scale * (HALO_BASE + HALO_SLOPE * q)
    planes = {
        "pleural_line": np.zeros((h, w), np.uint8),
        "effusion": np.zeros((h, w), np.uint8),
        "a_line": np.zeros((h, n), np.uint8),
        "b_line": np.zeros((h, n), np.uint8),
        "consolidation": np.zeros((h, n), np.uint8),
    }
    # what this annotator believes is there
    view.blines = [b for b in view.blines if _sees(rng, b.visibility, ann)]
    view.consolidations = [c for c in view.consolidations if _sees(rng, c.visibility, ann)]
    if view.effusion is not None and not _sees(rng, view.effusion.visibility, ann):
        view.effusion = None
    zl = lung_surface(view)
    blines = _false_blines(scene, ann, q, rng)
    # doubtful consolidations, sized like real ones
    for _ in range(rng.poisson(FC_BASE + FC_SLOPPY * q)):
        fc = Consolidation(
            center=float(rng.uniform(scene.margin + 0.25 * w, scene.margin + 0.75 * w)),
            half_width=float(rng.uniform(0.06, 0.16) * w),
            depth=float(rng.uniform(0.08, 0.22) * h),
            border=tuple(_smooth_noise(rng, 64, 4.0, 6).tolist()),
            bronchograms=(),
        )
        _paint_obj(planes["consolidation"], "c", fc, zl, halo, _false_conf(rng), rng)
    false_eff = rng.poisson(FE_BASE + FE_SLOPPY * q) > 0 and view.effusion is None
    for b in view.blines:
        blines.append((b, _conf(rng, b.visibility)))
    if blines:
        _paint_blines(planes["b_line"], blines, zl, halo, rng)
    for c in view.consolidations:
        _paint_obj(planes["consolidation"], "c", c, zl, halo, _conf(rng, c.visibility), rng)
    if view.effusion is not None or false_eff:
        _paint_effusion(planes, scene, view, false_eff, halo, rng)
    _paint_pleura(planes, view, halo, q, rng)
    _paint_a_line_reading(planes, view, halo, q, rng)
    return planes


def _false_blines(scene: Scene, ann: Annotator, q: float, rng: np.random.Generator) -> list[tuple[BLine, int]]:
    """B-lines an annotator marks that are not there, with their (low) confidences.

    Doubtful streaks sized like real B-lines, more for unskilled or sloppy readings, and
    the lung-side edges of rib shadows.
    """
    m, w = scene.margin, scene.width
    px = max(scene.height / 256.0, 0.5)
    blines: list[tuple[BLine, int]] = []
    # doubtful B-lines (bright tissue streaks, comet tails) sized like real ones
    for _ in range(rng.poisson(FB_BASE + FB_SKILL * (1 - ann.skill) + FB_SLOPPY * q)):
        fb = BLine(
            center=float(rng.uniform(m + 0.1 * w, m + 0.9 * w)),
            width=float(rng.uniform(3.0, 8.0) * px),
            brightness=0.4,
        )
        blines.append((fb, _false_conf(rng)))
    # the lung-side edge of a rib shadow read as a B-line
    for c_r, hw_r in scene.ribs:
        if rng.random() < RIB_BASE + RIB_SLOPPY * q:
            wd = float(rng.uniform(3.0, 6.0) * px)
            side = 1.0 if c_r < w / 2 else -1.0
            fb = BLine(
                center=float(m + c_r + side * (hw_r + 0.5 * wd)), width=wd, brightness=0.4
            )
            blines.append((fb, _false_conf(rng, 20.0)))
    return blines


def _paint_effusion(planes: dict[str, np.ndarray], scene: Scene, view: Scene, false_eff: bool, halo: float,
                    rng: np.random.Generator) -> None:
    """Paint the effusion the annotator sees, or a thin one imagined (``false_eff``) with low confidence."""
    if false_eff:
        view.effusion = Effusion(
            center=float(scene.margin + scene.width / 2),
            half_width=float(rng.uniform(0.2, 0.4) * scene.width),
            thickness=float(rng.uniform(0.02, 0.04) * scene.height),
        )
        c_e = _false_conf(rng)
    else:
        c_e = _conf(rng, view.effusion.visibility)
    _paint_classes(planes, view, ("effusion",), halo, c_e, rng)


def _paint_pleura(planes: dict[str, np.ndarray], view: Scene, halo: float, q: float,
                  rng: np.random.Generator) -> None:
    """Paint the pleural line; sloppier readings sometimes trace it through its gaps too."""
    c_p = _round10(rng.uniform(70, 100))
    _paint_classes(planes, view, ("pleural_line",), halo * 0.5, c_p, rng)
    if rng.random() < PB_BASE + PB_SLOPPY * q:
        # the pleura traced through its gaps (rib shadows, breaks) with low confidence
        bridged = replace(view, pleura_visible=np.ones(view.wide, dtype=bool))
        class_regions(
            bridged, grow=0.0, out=planes, value=_false_conf(rng), classes=("pleural_line",)
        )


def _paint_a_line_reading(planes: dict[str, np.ndarray], view: Scene, halo: float, q: float,
                          rng: np.random.Generator) -> None:
    """Paint A-lines, likelier the brighter they are; a sloppy reading may mark absent ones."""
    amp = view.a_line_amplitude
    if rng.random() < 1 / (1 + np.exp(-(amp - 0.25) / 0.06)):
        _paint_classes(
            planes, view, ("a_line",), halo * 0.5, _conf(rng, min(1.0, amp / 0.6)), rng
        )
    elif rng.random() < FA_SLOPPY * q:
        # faint reverberations marked where none are visible
        _paint_a_lines(planes["a_line"], view, halo * 0.5, _false_conf(rng))

def _paint_a_lines(plane, view, halo, conf) -> None:
    ghost = replace(view, a_line_amplitude=0.3, blines=[], consolidations=[])
    class_regions(ghost, grow=halo, out={"a_line": plane}, value=conf, classes=("a_line",))


def _low(conf: int, rng: np.random.Generator) -> int:
    return max(10, conf - 20 - 10 * int(rng.random() < 0.5))


def _paint_blines(plane, blines, zl, halo, rng) -> None:
    """Paint B-lines: each core at its confidence and its halo (grown by ``halo``
    px) at the lower one (:func:`_low`), drawn in the order given."""
    for b, conf in blines:
        bline_reading(plane, b, zl, halo, _low(conf, rng), conf)


def _paint_obj(plane, kind, obj, zl, halo, conf, rng) -> None:
    low = _low(conf, rng)
    fn = _bline_region if kind == "b" else _cons_region
    fn(plane, obj, zl, halo, low)
    fn(plane, obj, zl, 0.0, conf)


def _paint_classes(planes, view, classes, halo, conf, rng) -> None:
    low = _low(conf, rng)
    class_regions(view, grow=halo, out=planes, value=low, classes=classes)
    class_regions(view, grow=0.0, out=planes, value=conf, classes=classes)

"""Annotator model of the simulator: what each simulated clinician draws, and how sure they are.

Each annotator ``a`` has a skill ``s_a ~ U(0.75, 1.0)``, a boundary jitter
``jitter_a ~ U(0.8, 2.0)`` px and a generosity ``halo_a ~ U(1.5, 3.5)`` px
(at 256 px frames; scaled with frame size). Per clip the annotator:

* sees each true finding with probability ``sigmoid((v - v50_a) / 0.08)``
  where ``v`` is the finding's visibility (0-1; faint, thin or small findings
  are harder) and ``v50_a = 0.45 - 0.25 * s_a``; missed findings are not drawn;
* draws what it saw with boundaries jittered by ``jitter_a`` (position, width
  and depth perturbations of the true shape);
* gives each drawn region a confidence
  ``c = round10(clip(100 (0.42 + 0.55 v) + N(0, 12), 10, 100))`` for its core
  and ``max(10, c - 20 - 10 B)`` (``B ~ Bernoulli(0.5)``) for a halo grown by
  ``halo_a`` px around it: confident cores, unsure outlines;
* adds false regions: ``Poisson(0.25 + 0.4 (1 - s_a))`` false B-lines,
  ``Poisson(0.05)`` false consolidations and ``Poisson(0.03)`` false effusions
  per clip, with confidence ``round10(clip(N(35, 12), 10, 80))``, so
  low-confidence regions are more often wrong;
* always draws the pleural line (confidence 70-100) and draws A-lines when
  their amplitude makes them visible.

Confidence is stored in percent, 0 meaning "not labelled".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._sim_render import _bline_region, _cons_region, class_regions, lung_surface
from ._sim_scene import BLine, Consolidation, Effusion, Scene, _smooth_noise

__all__ = ["Annotator", "make_annotators", "annotate_clip"]


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
    return int(np.clip(10 * np.round(x / 10), 10, 100))


def _conf(rng: np.random.Generator, v: float) -> int:
    return _round10(100 * (0.42 + 0.55 * v) + rng.normal(0, 12))


def _false_conf(rng: np.random.Generator) -> int:
    return int(np.clip(10 * np.round(rng.normal(35, 12) / 10), 10, 80))


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
    scale = scene.height / 256.0
    out = []
    h, n = scene.height, scene.wide
    for ann in annotators:
        view = scene.perturbed(rng, ann.jitter * scale)
        halo = ann.halo * scale
        planes = {
            "pleural_line": np.zeros((h, scene.width), np.uint8),
            "effusion": np.zeros((h, scene.width), np.uint8),
            "a_line": np.zeros((h, n), np.uint8),
            "b_line": np.zeros((h, n), np.uint8),
            "consolidation": np.zeros((h, n), np.uint8),
        }
        # what this annotator believes is there
        view.blines = [b for b in view.blines if _sees(rng, b.visibility, ann)]
        view.consolidations = [c for c in view.consolidations if _sees(rng, c.visibility, ann)]
        if view.effusion is not None and not _sees(rng, view.effusion.visibility, ann):
            view.effusion = None
        for _ in range(rng.poisson(0.25 + 0.4 * (1 - ann.skill))):
            fb = BLine(
                center=float(rng.uniform(scene.margin + 0.1 * scene.width, scene.margin + 0.9 * scene.width)),
                width=float(rng.uniform(2.5, 5.0) * max(scale, 0.5)),
                brightness=0.4,
            )
            _paint_obj(planes["b_line"], "b", fb, view, halo, _false_conf(rng), rng)
        for _ in range(rng.poisson(0.05)):
            fc = Consolidation(
                center=float(rng.uniform(scene.margin + 0.3 * scene.width, scene.margin + 0.7 * scene.width)),
                half_width=float(rng.uniform(0.04, 0.08) * scene.width),
                depth=float(rng.uniform(0.05, 0.1) * scene.height),
                border=tuple(_smooth_noise(rng, 64, 4.0, 6).tolist()),
                bronchograms=(),
            )
            _paint_obj(planes["consolidation"], "c", fc, view, halo, _false_conf(rng), rng)
        false_eff = rng.poisson(0.03) > 0 and view.effusion is None
        for b in view.blines:
            _paint_obj(planes["b_line"], "b", b, view, halo, _conf(rng, b.visibility), rng)
        for c in view.consolidations:
            _paint_obj(planes["consolidation"], "c", c, view, halo, _conf(rng, c.visibility), rng)
        if view.effusion is not None or false_eff:
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
        c_p = _round10(rng.uniform(70, 100))
        _paint_classes(planes, view, ("pleural_line",), halo * 0.5, c_p, rng)
        amp = view.a_line_amplitude
        if rng.random() < 1 / (1 + np.exp(-(amp - 0.25) / 0.06)):
            _paint_classes(planes, view, ("a_line",), halo * 0.5, _conf(rng, min(1.0, amp / 0.6)), rng)
        out.append(planes)
    return out


def _paint_obj(plane, kind, obj, view, halo, conf, rng) -> None:
    zl = lung_surface(view)
    low = max(10, conf - 20 - 10 * int(rng.random() < 0.5))
    fn = _bline_region if kind == "b" else _cons_region
    fn(plane, obj, zl, halo, low)
    fn(plane, obj, zl, 0.0, conf)


def _paint_classes(planes, view, classes, halo, conf, rng) -> None:
    low = max(10, conf - 20 - 10 * int(rng.random() < 0.5))
    class_regions(view, grow=halo, out=planes, value=low, classes=classes)
    class_regions(view, grow=0.0, out=planes, value=conf, classes=classes)

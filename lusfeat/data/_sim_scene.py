"""Scene model of the simulator: which findings a lung zone shows, and their shapes.

All geometry is in *beam space*: rows are depth samples ``i = 0..H-1`` (top
= skin), columns are scan lines ``j = 0..W-1``. Convex frames are scan
converted to a fan afterwards (:mod:`lusfeat.data._sim_render`). Objects that
belong to the lung (A-lines, B-lines, consolidations) live on a grid widened
by ``margin`` columns on each side so that lung sliding can shift them.

Zone severity ``z`` (0 normal .. 5 diffusely consolidated) drives the draw:

* B-lines: ``Poisson(1.7 * max(0, z - 0.7))`` of them (at most 14), widths
  3-9 px (wider, i.e. coalescent, as ``z`` grows), brightness 0.45-1.0.
* A-lines: reverberations at multiples of the skin-pleura distance with
  amplitude ``0.75 * 0.62**(k-1)``, erased where B-lines or consolidations
  occupy the column; only visible ones (amplitude >= 0.12) are findings.
* Consolidation: with probability ``sigmoid(1.8 (z - 3.0))``, a subpleural
  hypoechoic region 12-45% of the width wide and 8-30% of the depth deep, with
  an irregular ("shred") deep border and air bronchograms; the pleural line
  above it is broken.
* Effusion (dependent zones only): with probability ``sigmoid(1.5 (z - 3.4))``,
  an anechoic lens between the parietal pleura and the lung surface.
* Pleural line: depth 14-30% of the image (probe dependent), thickness 2-4 px,
  irregularity growing with ``z``; ribs with acoustic shadows at the sides.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

__all__ = ["Scene", "BLine", "Consolidation", "Effusion", "sample_scene"]


def _smooth_noise(rng: np.random.Generator, n: int, scale: float, k: int = 4) -> np.ndarray:
    """Smooth 1-D noise in [-1, 1]: a random sum of ``k`` low-frequency sines."""
    t = np.linspace(0.0, 1.0, n)
    out = np.zeros(n)
    for m in range(1, k + 1):
        out += rng.normal(0, 1.0 / m) * np.sin(2 * np.pi * (m * scale * t + rng.random()))
    mx = np.abs(out).max()
    return out / mx if mx > 0 else out


@dataclass(frozen=True)
class BLine:
    """A B-line: a bright vertical band from the lung surface to the bottom.

    Attributes: ``center`` (column, widened grid), ``width`` (px), ``brightness``
    (relative echogenicity).
    """

    center: float
    width: float
    brightness: float
    scale: float = 1.0  # frame size / 256: visibility judges sizes as at 256 px

    @property
    def visibility(self) -> float:
        """How easy it is to see, 0-1 (bright and wide is easy)."""
        w256 = self.width / max(self.scale, 0.5)
        return float(np.clip((self.brightness - 0.35) / 0.6, 0, 1) * np.clip(w256 / 5.0, 0.5, 1.0))


@dataclass(frozen=True)
class Consolidation:
    """A subpleural consolidation (columns ``center +- half_width``, depth ``depth`` px)."""

    center: float
    half_width: float
    depth: float
    border: tuple[float, ...]  # smooth noise samples for the deep border, length 64
    bronchograms: tuple[tuple[float, float, float], ...]  # (u, v, length) in unit coords
    scale: float = 1.0  # frame size / 256

    @property
    def visibility(self) -> float:
        """How easy it is to see, 0-1: area as at 256 px frames (large is easy)."""
        return float(np.clip(self.half_width * self.depth / (300.0 * self.scale**2), 0.2, 1.0))


@dataclass(frozen=True)
class Effusion:
    """An anechoic lens below the parietal pleura (columns ``center +- half_width``)."""

    center: float
    half_width: float
    thickness: float
    scale: float = 1.0  # frame size / 256

    @property
    def visibility(self) -> float:
        """How easy it is to see, 0-1: thickness as at 256 px frames."""
        return float(np.clip(self.thickness / (12.0 * self.scale), 0.3, 1.0))


@dataclass
class Scene:
    """Everything the renderer needs for one clip, in beam-space pixels."""

    height: int
    width: int
    margin: int
    pleura_depth: np.ndarray  # (W + 2 margin,) float, depth of the pleural line per column
    pleura_thickness: float
    pleura_visible: np.ndarray  # (W + 2 margin,) bool, columns where the pleura is drawn
    ribs: list[tuple[float, float]]  # (center column, half width), tissue grid
    a_line_amplitude: float
    blines: list[BLine] = field(default_factory=list)
    consolidations: list[Consolidation] = field(default_factory=list)
    effusion: Effusion | None = None
    severity: float = 0.0

    @property
    def wide(self) -> int:
        return self.width + 2 * self.margin

    def perturbed(self, rng: np.random.Generator, jitter: float) -> Scene:
        """A copy with boundaries jittered by about ``jitter`` px (an annotator's view)."""
        s = replace(self)
        s.blines = [
            replace(b, center=b.center + rng.normal(0, jitter), width=max(1.5, b.width * (1 + rng.normal(0, 0.15))))
            for b in self.blines
        ]
        s.consolidations = [
            replace(
                c,
                center=c.center + rng.normal(0, jitter),
                half_width=max(3.0, c.half_width * (1 + rng.normal(0, 0.1))),
                depth=max(3.0, c.depth * (1 + rng.normal(0, 0.1))),
            )
            for c in self.consolidations
        ]
        if self.effusion is not None:
            e = self.effusion
            s.effusion = replace(
                e,
                center=e.center + rng.normal(0, jitter),
                half_width=max(4.0, e.half_width * (1 + rng.normal(0, 0.1))),
                thickness=max(2.0, e.thickness * (1 + rng.normal(0, 0.1))),
            )
        s.pleura_depth = self.pleura_depth + rng.normal(0, jitter * 0.3)
        s.pleura_thickness = max(1.5, self.pleura_thickness + rng.normal(0, 0.4))
        return s


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def sample_scene(
    rng: np.random.Generator,
    severity: float,
    height: int,
    width: int,
    probe: str,
    dependent: bool,
    margin: int = 8,
) -> Scene:
    """Draw the findings of one clip from its zone severity.

    Parameters
    ----------
    rng : numpy.random.Generator
    severity : float
        Zone severity (0 normal .. 5 severe; values outside are clipped).
    height, width : int
        Beam grid size in pixels.
    probe : {"linear", "convex"}
    dependent : bool
        Whether the zone is dependent (posterior/basal) and may show effusion.
    margin : int
        Extra lung columns on each side for lung sliding.
    """
    z = float(np.clip(severity, 0.0, 5.5))
    wide = width + 2 * margin
    scale = height / 256.0
    if probe == "linear":
        depth0 = rng.uniform(0.22, 0.32) * height
    else:
        depth0 = rng.uniform(0.13, 0.22) * height
    jj = np.arange(wide) - wide / 2
    tilt = rng.normal(0, 0.02)
    irregular = 0.4 + 0.5 * z
    pleura = depth0 + tilt * jj + irregular * scale * _smooth_noise(rng, wide, 3.0 + z)
    thickness = float(rng.uniform(2.0, 3.2) * max(scale, 0.6) + 0.25 * z * scale)

    # ribs: one at each side (convex) or one at a random side (linear), shadows only
    ribs: list[tuple[float, float]] = []
    n_ribs = 2 if probe == "convex" else int(rng.integers(0, 2))
    for side in rng.permutation([0, 1])[:n_ribs]:
        hw = rng.uniform(0.07, 0.12) * width
        c = hw * rng.uniform(-0.3, 0.6) if side == 0 else width - hw * rng.uniform(-0.3, 0.6)
        ribs.append((float(c), float(hw)))

    visible = np.ones(wide, dtype=bool)
    jt = np.arange(wide) - margin  # tissue-grid column of each wide column
    for c, hw in ribs:
        visible &= np.abs(jt - c) > hw

    # lung findings
    n_b = int(min(14, rng.poisson(1.7 * max(0.0, z - 0.7))))
    blines = []
    for _ in range(n_b):
        w = rng.uniform(3.0, 5.0 + 0.8 * z) * max(scale, 0.5)
        blines.append(
            BLine(
                center=float(rng.uniform(margin + 0.12 * width, margin + 0.88 * width)),
                width=float(w),
                brightness=float(np.clip(rng.uniform(0.45, 1.0) + 0.04 * z, 0.4, 1.0)),
                scale=scale,
            )
        )
    consolidations = []
    if rng.random() < _sigmoid(1.8 * (z - 3.0)):
        hw = rng.uniform(0.06, 0.1 + 0.025 * z) * width
        cons_depth = rng.uniform(0.08, 0.1 + 0.04 * z) * height
        c = rng.uniform(margin + 0.25 * width, margin + 0.75 * width)
        n_air = int(rng.integers(1, 5))
        bronch = tuple(
            (float(rng.uniform(-0.6, 0.6)), float(rng.uniform(0.2, 0.75)), float(rng.uniform(0.1, 0.3)))
            for _ in range(n_air)
        )
        consolidations.append(
            Consolidation(
                center=float(c),
                half_width=float(hw),
                depth=float(cons_depth),
                border=tuple(_smooth_noise(rng, 64, 4.0, 6).tolist()),
                bronchograms=bronch,
                scale=scale,
            )
        )
        # the pleural line is broken over the consolidation's middle
        gap = 0.45 * hw
        visible &= np.abs(np.arange(wide) - c) > gap
    effusion = None
    if dependent and rng.random() < _sigmoid(1.5 * (z - 3.4)):
        effusion = Effusion(
            center=float(rng.uniform(margin + 0.35 * width, margin + 0.65 * width)),
            half_width=float(rng.uniform(0.3, 0.55) * width),
            thickness=float(rng.uniform(0.04, 0.06 + 0.015 * z) * height),
            scale=scale,
        )
    a_amp = 0.75 * np.exp(-0.35 * n_b) * (0.4 if effusion is not None else 1.0)
    return Scene(
        height=height,
        width=width,
        margin=margin,
        pleura_depth=pleura,
        pleura_thickness=thickness,
        pleura_visible=visible,
        ribs=ribs,
        a_line_amplitude=float(a_amp),
        blines=blines,
        consolidations=consolidations,
        effusion=effusion,
        severity=z,
    )

"""Scene model of the simulator: the anatomy and findings of one clip, and their shapes.

All geometry is in *beam space*: rows are depth samples ``i = 0..H-1`` (top
= skin), columns are scan lines ``j = 0..W-1``. Convex frames are scan
converted to a fan afterwards (:mod:`lusfeat.data._sim_scanner`). Objects that
belong to the lung (A-lines, B-lines, consolidations) live on a grid widened
by ``margin`` columns on each side so that lung sliding can shift them.
Sizes below are quoted for 256 px frames and scale with the frame size.

Chest wall (Lichtenstein 2014, *Lung ultrasound in the critically ill*, ch. 2-4;
Volpicelli et al. 2012, *Intensive Care Med* 38:577):

* skin (a thin bright entry echo), subcutaneous fat (hypoechoic, with a few
  oblique septa) and one or two muscle layers (striated: short bright streaks
  along the fibres, with bright fascia lines between the layers) whose thicknesses are drawn per clip as random shares
  of the skin-pleura distance;
* the pleural line at 10-32 % of the image depth (convex) or 18-45 %
  (linear): a Gaussian depth profile 2-7 px wide at half maximum at 256 px (before
  the PSF; up to 2 px wider at the highest severity), whose thickness (2-4.5 px) and
  sharpness (profile width 0.8-1.6 times the half thickness) are drawn per clip, with a
  peak echo amplitude of 2-5 (soft tissue is 0.08-0.32 on the same scale) modulated
  +-25 % along the line, and an irregularity that grows with severity;
* ribs: convex views show 0-2 rib echoes (a bright curved surface slightly
  above the pleura) casting acoustic shadows; linear views 0-1.

Zone severity ``z`` (0 normal .. 5 diffusely consolidated) drives the findings:

* A-lines: reverberations at ``k`` times the skin-pleura distance
  (``k = 2, 3, ...``), amplitude ``a0 r**(k-2)`` with ``a0 ~ U(0.25, 0.7)``
  and a fast, uneven decay ``r ~ U(0.3, 0.65)``; each line is modulated along
  its length and erased where B-lines, consolidations or effusions occupy the
  column. Only A-lines of amplitude >= 0.12 are findings.
* B-lines: ``Poisson(1.6 * max(0, z - 0.7))`` of them (at most 12). Each starts
  at the lung surface; it is *laser-like* (constant width 5-12 px at 256 px, reaching the
  bottom) or *comet-like* (widening by 0.01-0.06 px per px of depth, and in 70 % fading
  over 35-100 % of the remaining depth); brightness 0.45-1.0. From ``z > 3.5``,
  with probability ``sigmoid(2 (z - 4.5))``, B-lines coalesce into *white
  lung*: one wide homogeneous band (50-100 % of the width) that is drawn as a B-line region.
* Consolidation: with probability ``sigmoid(1.8 (z - 3.0))``, a subpleural
  tissue-like (hepatised) region 12-45 % of the width wide and 8-30 % of the
  depth deep, with an irregular bright deep border (shred sign) and air
  bronchograms; the pleural line above it is broken.
* Effusion (dependent zones only): with probability ``sigmoid(1.5 (z - 3.4))``,
  an anechoic lens between the parietal pleura and the lung surface, whose
  deep edge (the visceral pleura) is visible.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

__all__ = ["Scene", "BLine", "Consolidation", "Effusion", "Layers", "sample_scene"]


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
    """A B-line: a vertical artifact from the lung surface down.

    Attributes
    ----------
    center : float
        Column on the widened lung grid.
    width : float
        Width at the lung surface, px.
    brightness : float
        Relative echogenicity (0-1).
    scale : float
        Frame size / 256: visibility judges sizes as at 256 px.
    widen : float
        Width growth per px of depth (0: laser-like).
    length : float
        Depth reached below the lung surface, px (``inf``: the image bottom).
    """

    center: float
    width: float
    brightness: float
    scale: float = 1.0
    widen: float = 0.0
    length: float = float("inf")

    @property
    def visibility(self) -> float:
        """How easy it is to see, 0-1 (bright, wide and long is easy)."""
        w256 = self.width / max(self.scale, 0.5)
        long = 1.0 if not np.isfinite(self.length) else min(1.0, max(0.5, self.length / (60 * max(self.scale, 0.5))))
        return float(min(1.0, max(0.0, (self.brightness - 0.35) / 0.6)) * min(1.0, max(0.5, w256 / 4.0)) * long)

    def half_width(self, below: np.ndarray) -> np.ndarray:
        """Half width (px) at ``below`` px under the lung surface."""
        return self.width / 2 + self.widen * np.maximum(below, 0) / 2


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


@dataclass(frozen=True)
class Layers:
    """Chest-wall layers as fractions of the skin-pleura distance.

    Attributes
    ----------
    fat : float
        Deep edge of the subcutaneous fat.
    fascia : tuple of float
        Fascia lines (bright interfaces) between the fat and the pleura.
    fascia_amp : tuple of float
        Their brightness.
    septa : tuple of (float, float)
        Fat septa: depth fraction and slope (rows per column).
    striation : float
        Strength of the muscle striation texture (0-1).
    fat_level, muscle_level : float
        Mean echogenicity of fat and muscle.
    """

    fat: float
    fascia: tuple[float, ...]
    fascia_amp: tuple[float, ...]
    septa: tuple[tuple[float, float], ...]
    striation: float
    fat_level: float
    muscle_level: float


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
    layers: Layers | None = None
    pleura_brightness: float = 1.0
    a_line_decay: float = 0.62
    a_line_gains: tuple[float, ...] = (1.0,) * 8  # uneven per-reverberation factors

    @property
    def wide(self) -> int:
        return self.width + 2 * self.margin

    def a_line_amplitudes(self) -> list[float]:
        """Amplitude of the reverberations ``k = 2, 3, ...`` (until they vanish)."""
        out = []
        for n in range(8):
            amp = self.a_line_amplitude * self.a_line_decay**n * self.a_line_gains[n % len(self.a_line_gains)]
            if amp < 0.03:
                break
            out.append(float(amp))
        return out

    def perturbed(self, rng: np.random.Generator, jitter: float) -> Scene:
        """A copy with boundaries jittered by about ``jitter`` px (an annotator's view)."""
        s = replace(self)
        s.blines = [
            replace(b, center=b.center + rng.normal(0, jitter), width=max(1.5, b.width * (1 + rng.normal(0, 0.15))),
                    length=b.length * float(np.clip(1 + rng.normal(0, 0.15), 0.5, 1.5)))
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


def _layers(rng: np.random.Generator) -> Layers:
    fat = float(rng.uniform(0.15, 0.45))
    n_fascia = int(rng.integers(1, 4))
    fascia = tuple(sorted(float(f) for f in rng.uniform(fat, 0.92, n_fascia)))
    fascia = (fat,) + fascia
    amps = tuple(float(a) for a in rng.uniform(0.4, 2.0, len(fascia)))
    septa = tuple((float(rng.uniform(0.1, 0.9) * fat), float(rng.normal(0, 0.06))) for _ in range(int(rng.integers(0, 4))))
    return Layers(
        fat=fat, fascia=fascia, fascia_amp=amps, septa=septa, striation=float(rng.uniform(0.2, 0.9)),
        fat_level=float(rng.uniform(0.08, 0.2)), muscle_level=float(rng.uniform(0.16, 0.32)),
    )


def sample_scene(
    rng: np.random.Generator,
    severity: float,
    height: int,
    width: int,
    probe: str,
    dependent: bool,
    margin: int = 8,
) -> Scene:
    """Draw the anatomy and findings of one clip from its zone severity.

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
    pleura, thickness = _pleura(rng, z, probe, height, wide, scale)
    ribs = _ribs(rng, probe, width)
    visible = np.ones(wide, dtype=bool)
    jt = np.arange(wide) - margin  # tissue-grid column of each wide column
    for c, hw in ribs:
        visible &= np.abs(jt - c) > hw
    blines, n_b = _blines(rng, z, height - float(pleura.mean()), width, margin, scale)
    consolidations = _consolidations(rng, z, height, width, margin, scale, visible)
    effusion = _effusion(rng, z, dependent, height, width, margin, scale)
    # A-lines from clear to barely visible (a third of clips show them faintly, as a
    # steep probe angle or a low gain does)
    faint = rng.uniform(0.05, 0.4) if rng.random() < 0.33 else 1.0
    a_amp = rng.uniform(0.25, 0.7) * faint * np.exp(-0.3 * n_b) * (0.4 if effusion is not None else 1.0)
    return Scene(
        height=height, width=width, margin=margin, pleura_depth=pleura, pleura_thickness=thickness,
        pleura_visible=visible, ribs=ribs, a_line_amplitude=float(a_amp), blines=blines,
        consolidations=consolidations, effusion=effusion, severity=z, layers=_layers(rng),
        pleura_brightness=float(rng.uniform(2.0, 5.0)), a_line_decay=float(rng.uniform(0.3, 0.65)),
        a_line_gains=tuple(float(g) for g in rng.uniform(0.5, 1.3, 8)),
    )


# The helpers below draw from ``rng`` in the order sample_scene calls them; that order is
# part of the simulator (same seed, same cohort), so keep it when changing them.

def _pleura(rng: np.random.Generator, z: float, probe: str, height: int, wide: int,
            scale: float) -> tuple[np.ndarray, float]:
    """Pleural-line depth ``(wide,)`` per column (tilted, rougher with severity) and its thickness."""
    depth0 = (rng.uniform(0.18, 0.45) if probe == "linear" else rng.uniform(0.10, 0.32)) * height
    jj = np.arange(wide) - wide / 2
    tilt = rng.normal(0, 0.03)
    irregular = 0.3 + 0.5 * z
    pleura = depth0 + tilt * jj + irregular * scale * _smooth_noise(rng, wide, 3.0 + z)
    pleura = np.clip(pleura, 0.06 * height, 0.6 * height)
    thickness = float(rng.uniform(2.0, 4.5) * max(scale, 0.5) + 0.25 * z * scale)
    return pleura, thickness


def _ribs(rng: np.random.Generator, probe: str, width: int) -> list[tuple[float, float]]:
    """``(centre, half width)`` of the rib shadows at the sides of the view (convex probes show more)."""
    ribs: list[tuple[float, float]] = []
    n_ribs = int(rng.choice([0, 1, 2, 2, 2])) if probe == "convex" else int(rng.integers(0, 2))
    sides = rng.permutation([0, 1])[:n_ribs] if n_ribs < 2 else np.array([0, 1])
    for side in sides:
        hw = rng.uniform(0.08, 0.22) * width
        c = hw * rng.uniform(-0.2, 1.3) if side == 0 else width - hw * rng.uniform(-0.2, 1.3)
        ribs.append((float(c), float(hw)))
    return ribs


def _blines(rng: np.random.Generator, z: float, below_max: float, width: int, margin: int,
            scale: float) -> tuple[list[BLine], int]:
    """The B-lines (a Poisson number growing with severity, plus white lung when severe) and that number.

    ``below_max`` is the mean depth below the pleural line, the longest a comet can be.
    """
    n_b = int(min(12, rng.poisson(1.6 * max(0.0, z - 0.7))))
    blines = []
    for _ in range(n_b):
        comet = rng.random() < 0.5
        w = rng.uniform(5.0, 12.0 + 1.5 * z) * max(scale, 0.5)
        blines.append(
            BLine(
                center=float(rng.uniform(margin + 0.1 * width, margin + 0.9 * width)),
                width=float(w),
                brightness=float(np.clip(rng.uniform(0.45, 1.0) + 0.03 * z, 0.4, 1.0)),
                scale=scale,
                widen=float(rng.uniform(0.01, 0.06)) if comet else 0.0,
                length=float(rng.uniform(0.35, 1.0) * below_max) if comet and rng.random() < 0.7 else float("inf"),
            )
        )
    if z > 3.5 and rng.random() < _sigmoid(2.0 * (z - 4.5)):
        # white lung: confluent B-lines over most of the view, homogeneous rather than a
        # bright cone between shadows (which a normal intercostal window can also be)
        hw = rng.uniform(0.25, 0.5) * width
        blines.append(BLine(center=float(rng.uniform(margin + hw, margin + width - hw)), width=float(2 * hw),
                            brightness=float(rng.uniform(0.45, 0.8)), scale=scale, widen=0.0))
    return blines, n_b


def _consolidations(rng: np.random.Generator, z: float, height: int, width: int, margin: int, scale: float,
                    visible: np.ndarray) -> list[Consolidation]:
    """At most one consolidation, likelier with severity; clears ``visible`` (in place) over its middle."""
    consolidations = []
    if rng.random() < _sigmoid(1.8 * (z - 3.0)):
        hw = rng.uniform(0.06, 0.1 + 0.025 * z) * width
        cons_depth = rng.uniform(0.08, 0.1 + 0.04 * z) * height
        c = rng.uniform(margin + 0.25 * width, margin + 0.75 * width)
        n_air = int(rng.integers(1, 6))
        bronch = tuple(
            (float(rng.uniform(-0.6, 0.6)), float(rng.uniform(0.2, 0.75)), float(rng.uniform(0.05, 0.3)))
            for _ in range(n_air)
        )
        consolidations.append(
            Consolidation(
                center=float(c), half_width=float(hw), depth=float(cons_depth),
                border=tuple(_smooth_noise(rng, 64, 4.0, 6).tolist()), bronchograms=bronch, scale=scale,
            )
        )
        gap = 0.45 * hw  # the pleural line is broken over the consolidation's middle
        visible &= np.abs(np.arange(visible.shape[0]) - c) > gap
    return consolidations


def _effusion(rng: np.random.Generator, z: float, dependent: bool, height: int, width: int, margin: int,
              scale: float) -> Effusion | None:
    """A pleural effusion, only in dependent zones and likelier with severity (None without)."""
    if dependent and rng.random() < _sigmoid(1.5 * (z - 3.4)):
        return Effusion(
            center=float(rng.uniform(margin + 0.35 * width, margin + 0.65 * width)),
            half_width=float(rng.uniform(0.3, 0.55) * width),
            thickness=float(rng.uniform(0.04, 0.06 + 0.015 * z) * height),
            scale=scale,
        )
    return None

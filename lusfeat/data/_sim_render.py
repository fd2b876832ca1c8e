"""Image formation of the simulator: echogenicity, speckle, gain, log compression, geometry.

Steps, each parameterised in :class:`RenderParams` (beam space, see
:mod:`lusfeat.data._sim_scene`):

1. *Echogenicity* ``E``: skin, fat with septa, striated muscle and fascia above
   the pleura; a bright pleural line; ribs with acoustic shadows; below the
   lung surface air with A-line reverberations at multiples of the pleural
   depth (fading ``0.62**k``), B-lines as bright bands from the lung surface to
   the bottom that erase A-lines, consolidations as tissue-like regions with
   bright air bronchograms and a bright shredded deep border, effusion as an
   anechoic lens with the visceral pleura below it.
2. *Speckle*: a complex Gaussian field blurred by the point-spread function
   (Gaussian, axial ``psf_axial`` and lateral ``psf_lateral`` px), whose
   magnitude is Rayleigh distributed; envelope ``A = E * |S|``.
3. *Lung sliding*: the lung side (and its speckle) shifts laterally by
   ``slide`` px over a clip while tissue stays; speckle decorrelates slowly
   between frames (``S_f = cos(f dphi) S_1 + sin(f dphi) S_2``).
4. *Depth attenuation and TGC*: residual gain ``exp(-atten * depth)``.
5. *Log compression* to 8 bits over ``dynamic_range`` dB.
6. *Geometry*: linear probes keep the rectangle; convex probes are scan
   converted to a fan (virtual apex above the image, black outside the sector)
   by a nearest-neighbour lookup shared by image, truth and annotations.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from ._sim_scene import BLine, Consolidation, Scene

__all__ = ["RenderParams", "Geometry", "make_geometry", "lung_surface", "class_regions", "render_clip"]


@dataclass(frozen=True)
class RenderParams:
    """Image-formation parameters (pixels at 256 px frames; scaled with size)."""

    psf_axial: float = 0.6
    psf_lateral: float = 1.1
    dynamic_range: tuple[float, float] = (50.0, 58.0)
    speckle_contrast: float = 0.55
    atten: tuple[float, float] = (0.2, 0.9)
    slide: tuple[float, float] = (1.5, 5.0)
    speckle_dphi: float = 0.35


@dataclass
class Geometry:
    """Scan conversion for one clip: ``out.flat = beam.flat[index] * valid``."""

    probe: str
    index: np.ndarray | None  # (H*W,) int64 into the beam grid, None for linear
    valid: np.ndarray | None  # (H, W) bool inside the sector
    depth_mm: float

    def apply(self, plane: np.ndarray, width: int, offset: int = 0) -> np.ndarray:
        """Map one beam-space plane ``(H, Wp)`` to the output ``(H, W)``.

        ``offset`` selects columns ``offset : offset + W`` of a widened plane.
        """
        if self.index is None:
            return plane[:, offset : offset + width]
        if plane.shape[1] != width or offset:
            plane = np.ascontiguousarray(plane[:, offset : offset + width])
        out = plane.reshape(-1)[self.index].reshape(plane.shape[0], width)
        if out.dtype == bool:
            out &= self.valid
        else:
            out *= self.valid
        return out


def make_geometry(rng: np.random.Generator, probe: str, size: int) -> Geometry:
    """Draw a probe geometry; convex fans have a virtual apex above the image.

    Convex fans use one of 3 x 3 radii and opening angles (cached lookups).
    """
    if probe == "linear":
        return Geometry("linear", None, None, depth_mm=float(rng.choice([40.0, 50.0, 60.0])))
    r0 = float(rng.choice([0.26, 0.31, 0.36]))
    half = float(rng.choice([30.0, 33.5, 37.0]))
    index, valid = _fan_lookup(size, r0, half)
    return Geometry("convex", index, valid, depth_mm=float(rng.choice([120.0, 140.0, 160.0])))


@functools.lru_cache(maxsize=32)
def _fan_lookup(size: int, r0_frac: float, half_deg: float) -> tuple[np.ndarray, np.ndarray]:
    r0 = r0_frac * size
    half = np.deg2rad(half_deg)
    top = 0.02 * size
    depth = 0.97 * size - top
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    dy = yy - (top - r0)
    dx = xx - (size - 1) / 2.0
    r = np.hypot(dx, dy)
    th = np.arctan2(dx, dy)
    row = np.rint((r - r0) / depth * (size - 1))
    col = np.rint((th + half) / (2 * half) * (size - 1))
    valid = (row >= 0) & (row <= size - 1) & (col >= 0) & (col <= size - 1)
    row = np.clip(row, 0, size - 1).astype(np.int64).ravel()
    col = np.clip(col, 0, size - 1).astype(np.int64).ravel()
    index = row * size + col
    index.setflags(write=False)
    valid.setflags(write=False)
    return index, valid


def lung_surface(scene: Scene) -> np.ndarray:
    """Depth of the lung surface per wide column (pleura, or below an effusion)."""
    zl = scene.pleura_depth.copy()
    e = scene.effusion
    if e is not None:
        u = (np.arange(scene.wide) - e.center) / e.half_width
        zl += e.thickness * np.sqrt(np.clip(1 - u * u, 0, None))
    return zl


def _cols(center: float, half: float, n: int) -> slice:
    return slice(max(0, int(np.floor(center - half))), min(n, int(np.ceil(center + half)) + 1))


def _bline_region(out: np.ndarray, b: BLine, zl: np.ndarray, grow: float, value) -> None:
    h, n = out.shape
    cs = _cols(b.center, b.width / 2 + grow, n)
    j = np.arange(cs.start, cs.stop)
    inside = np.abs(j - b.center) <= b.width / 2 + grow
    rows = np.arange(h)[:, None] >= (zl[cs] - grow)[None, :]
    m = rows & inside[None, :]
    _paint(out, (slice(None), cs), m, value)


def _cons_bottom(c: Consolidation, u: np.ndarray) -> np.ndarray:
    border = np.interp((u + 1) / 2 * 63, np.arange(64), np.asarray(c.border))
    return c.depth * np.sqrt(np.clip(1 - u * u, 0, None)) * (1 + 0.3 * border)


def _cons_region(out: np.ndarray, c: Consolidation, zl: np.ndarray, grow: float, value) -> None:
    h, n = out.shape
    hw = c.half_width + grow
    cs = _cols(c.center, hw, n)
    j = np.arange(cs.start, cs.stop)
    u = (j - c.center) / hw
    bottom = zl[cs] + _cons_bottom(c, np.clip(u, -1, 1)) + grow
    i = np.arange(h)[:, None]
    m = (i >= zl[cs][None, :] - grow) & (i <= bottom[None, :]) & (np.abs(u) < 1)[None, :]
    _paint(out, (slice(None), cs), m, value)


def _paint(out: np.ndarray, sl, m: np.ndarray, value) -> None:
    if out.dtype == bool:
        out[sl] |= m
    else:
        view = out[sl]
        np.maximum(view, np.where(m, np.uint8(value), np.uint8(0)), out=view)


def class_regions(
    scene: Scene,
    grow: float = 0.0,
    out: dict[str, np.ndarray] | None = None,
    value: int | None = None,
    classes: tuple[str, ...] = ("pleural_line", "a_line", "b_line", "consolidation", "effusion"),
) -> dict[str, np.ndarray]:
    """Paint each class's region of ``scene`` in beam space.

    Pleural line and effusion use the tissue grid ``(H, W)``; A-lines, B-lines
    and consolidations the widened lung grid ``(H, W + 2 margin)``.

    Parameters
    ----------
    scene : Scene
    grow : float
        Grow every region by this many pixels (an annotator's generous outline).
    out : dict, optional
        Planes to paint into (bool: union; uint8: maximum with ``value``).
    value : int, optional
        Confidence to paint (uint8 planes); ``None`` paints bool masks.
    """
    h, w, m = scene.height, scene.width, scene.margin
    if out is None:
        dt = bool if value is None else np.uint8
        out = {
            "pleural_line": np.zeros((h, w), dt),
            "effusion": np.zeros((h, w), dt),
            "a_line": np.zeros((h, scene.wide), dt),
            "b_line": np.zeros((h, scene.wide), dt),
            "consolidation": np.zeros((h, scene.wide), dt),
        }
    zl = lung_surface(scene)
    i = np.arange(h)[:, None]
    zp = scene.pleura_depth
    t2 = scene.pleura_thickness / 2
    if "pleural_line" in classes:
        vis = scene.pleura_visible[m : m + w]
        r0 = max(0, int(zp.min() - t2 - grow - 1))
        r1 = min(h, int(zp.max() + t2 + grow + 2))
        band = (np.abs(i[r0:r1] - zp[m : m + w][None, :]) <= t2 + grow) & vis[None, :]
        _paint(out["pleural_line"], (slice(r0, r1), slice(None)), band, value)
    if "effusion" in classes and scene.effusion is not None:
        e = scene.effusion
        cs = _cols(e.center, e.half_width + grow, scene.wide)
        j = np.arange(cs.start, cs.stop)
        u = (j - e.center) / (e.half_width + grow)
        top = zp[cs] + t2
        bot = zl[cs] + grow * (np.abs(u) < 1)
        reg = (i >= top[None, :] - 0) & (i < bot[None, :]) & (np.abs(u) < 1)[None, :]
        # map wide columns to tissue columns
        lo, hi = max(cs.start, m), min(cs.stop, m + w)
        if hi > lo:
            _paint(out["effusion"], (slice(None), slice(lo - m, hi - m)), reg[:, lo - cs.start : hi - cs.start], value)
    if "b_line" in classes:
        for b in scene.blines:
            _bline_region(out["b_line"], b, zl, grow, value)
    if "consolidation" in classes:
        for c in scene.consolidations:
            _cons_region(out["consolidation"], c, zl, grow, value)
    if "a_line" in classes:
        free = _a_line_columns(scene)
        for k in range(2, 8):
            amp = scene.a_line_amplitude * 0.62 ** (k - 2)
            if amp < 0.12:
                break
            depth = a_line_depth(scene, k)
            if depth.max() + t2 >= h - 1:
                break
            r0 = max(0, int(depth.min() - t2 - grow - 1))
            r1 = min(h, int(depth.max() + t2 + grow + 2))
            band = (np.abs(i[r0:r1] - depth[None, :]) <= t2 + grow) & free[None, :]
            _paint(out["a_line"], (slice(r0, r1), slice(None)), band, value)
    return out


def a_line_depth(scene: Scene, k: int) -> np.ndarray:
    """Depth of the ``k``-th reverberation per wide column: ``k`` times the
    smoothed pleural depth (A-lines repeat the skin-pleura distance)."""
    zp = scene.pleura_depth
    n = max(3, zp.size // 8)
    smooth = np.convolve(np.pad(zp, n, mode="edge"), np.ones(2 * n + 1) / (2 * n + 1), mode="same")[n:-n]
    return k * smooth


def _a_line_columns(scene: Scene) -> np.ndarray:
    """Wide columns where A-lines are visible (no B-line, consolidation or rib)."""
    n = scene.wide
    j = np.arange(n, dtype=np.float64)
    free = np.ones(n, dtype=bool)
    for b in scene.blines:
        free &= np.abs(j - b.center) > b.width / 2 + 1
    for c in scene.consolidations:
        free &= np.abs(j - c.center) > c.half_width + 1
    if scene.effusion is not None:
        free &= np.abs(j - scene.effusion.center) > scene.effusion.half_width
    return free


def _shadow_columns(scene: Scene) -> np.ndarray:
    """Tissue columns under a rib (acoustic shadow), ``(W,) bool``."""
    j = np.arange(scene.width, dtype=np.float64)
    sh = np.zeros(scene.width, dtype=bool)
    for c, hw in scene.ribs:
        sh |= np.abs(j - c) <= hw
    return sh


def tissue_echo(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """Echogenicity above the lung surface (and ribs, pleura, effusion), ``(H, W)``."""
    h, w, m = scene.height, scene.width, scene.margin
    i = np.arange(h, dtype=np.float32)[:, None]
    j = np.arange(w, dtype=np.float32)[None, :]
    zp = scene.pleura_depth[m : m + w].astype(np.float32)[None, :]
    s = h / 256.0
    frac = i / zp
    e = np.full((h, w), 0.16, np.float32)
    e = np.where(frac < 0.35, 0.11, e)
    e = np.where((frac >= 0.35) & (frac < 0.85), 0.2 + 0.04 * np.sin(2 * np.pi * i / (5.5 * s + 1) + 0.3 * j / w), e)
    # skin and fascia bright lines
    e += 0.5 * np.exp(-(((i - 1.5 * s) / (1.5 * s + 0.5)) ** 2))
    for f, amp in ((0.35, 0.3), (0.85, 0.35)):
        wav = f * zp + 1.5 * s * np.sin(2 * np.pi * j / w * rng.uniform(0.5, 1.5) + rng.uniform(0, 6))
        e += amp * np.exp(-(((i - wav) / (1.2 * s + 0.4)) ** 2))
    # a few fat septa
    for _ in range(int(rng.integers(1, 4))):
        d = rng.uniform(0.08, 0.3) * zp
        e += 0.2 * np.exp(-(((i - d - 0.05 * (j - w / 2)) / (0.8 * s + 0.4)) ** 2))
    # pleural line
    t2 = scene.pleura_thickness / 2
    vis = scene.pleura_visible[m : m + w][None, :]
    pl = np.exp(-(((i - zp) / (t2 + 0.3)) ** 2))
    e += np.where(vis, 1.25, 0.45) * pl
    # effusion: anechoic lens, visceral pleura below
    zl = lung_surface(scene)[m : m + w].astype(np.float32)[None, :]
    if scene.effusion is not None:
        eff = (i > zp + t2) & (i < zl)
        e = np.where(eff, 0.015, e)
        e += 0.8 * np.exp(-(((i - zl) / (t2 + 0.3)) ** 2)) * (zl > zp + 1)
    # ribs: bright curved surface, shadow below
    for c, hw in scene.ribs:
        u = (j - c) / hw
        inside = np.abs(u) <= 1
        surf = zp.mean() - 0.05 * h + 0.06 * h * u * u
        e += np.where(inside, 1.3 * np.exp(-(((i - surf) / (2.2 * s + 0.5)) ** 2)), 0)
        e = np.where(inside & (i > surf + 2 * s), e * 0.07, e)
    return e


def lung_echo(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """Echogenicity below the lung surface on the widened grid, ``(H, W + 2 margin)``."""
    h, n = scene.height, scene.wide
    i = np.arange(h, dtype=np.float32)[:, None]
    j = np.arange(n, dtype=np.float32)[None, :]
    zl = lung_surface(scene).astype(np.float32)[None, :]
    t2 = scene.pleura_thickness / 2
    below = np.clip(i - zl, 0, None)
    e = 0.03 + 0.09 * np.exp(-below / (0.12 * h))
    free = _a_line_columns(scene)[None, :]
    for k in range(2, 8):
        amp = scene.a_line_amplitude * 0.62 ** (k - 2)
        if amp < 0.05:
            break
        e += np.where(free, amp, 0.15 * amp) * np.exp(-(((i - a_line_depth(scene, k)[None, :]) / (t2 + 0.3)) ** 2))
    for b in scene.blines:
        prof = np.exp(-((np.abs(j - b.center) / (b.width / 2 + 0.5)) ** 2.5))
        e += 0.8 * b.brightness * prof * (0.65 + 0.35 * np.exp(-below / (0.6 * h))) * (i >= zl - 0.5)
    for c in scene.consolidations:
        cs = _cols(c.center, c.half_width, n)
        jj = np.arange(cs.start, cs.stop, dtype=np.float32)
        u = (jj - c.center) / c.half_width
        bottom = zl[0, cs] + _cons_bottom(c, np.clip(u, -1, 1))
        ii = i
        reg = (ii >= zl[:, cs]) & (ii <= bottom[None, :]) & (np.abs(u) < 1)[None, :]
        sub = e[:, cs]
        sub = np.where(reg, 0.24 + 0.04 * np.sin(jj / 3.0)[None, :], sub)
        shred = np.exp(-(((ii - bottom[None, :]) / 1.8) ** 2)) * (np.abs(u) < 1)[None, :]
        sub = sub + 0.75 * shred
        for uu, vv, ln in c.bronchograms:
            cj = c.center + uu * c.half_width
            ci = zl[0, int(np.clip(cj, 0, n - 1))] + vv * c.depth * 0.8
            blob = np.exp(-(((jj[None, :] - cj) / (ln * c.half_width + 1)) ** 2) - ((ii - ci) / 1.3) ** 2)
            sub = sub + 0.9 * blob * reg
        e[:, cs] = sub
    return e.astype(np.float32)


def speckle_fields(
    rng: np.random.Generator, h: int, n: int, params: RenderParams, scale: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two independent PSF-blurred complex Gaussian fields (real, imag parts), unit power."""
    sig = (params.psf_axial * scale + 0.3, params.psf_lateral * scale + 0.3)
    # one filtered field of twice the height gives the real and imaginary parts
    # of the first complex field; the second is the first rolled by half its
    # height (independent white noise underneath), saving two filter passes.
    f = gaussian_filter(rng.standard_normal((2 * h, n), dtype=np.float32), sig, mode="wrap")
    f /= np.float32(np.sqrt(2 * np.mean(f * f)))
    g1r, g1i = f[:h], f[h:]
    g2 = np.roll(f, h // 2, axis=0)
    return g1r, g1i, g2[h:], g2[:h]


def render_clip(
    scene: Scene,
    n_frames: int,
    geometry: Geometry,
    rng: np.random.Generator,
    params: RenderParams = RenderParams(),
) -> tuple[np.ndarray, np.ndarray]:
    """Render the B-mode frames of one clip.

    Returns
    -------
    images : (F, H, W) uint8
        Log-compressed, scan-converted frames.
    offsets : (F,) int
        Lung-sliding offset of each frame (columns into the widened grid).
    """
    h, w, m = scene.height, scene.width, scene.margin
    scale = h / 256.0
    tissue = tissue_echo(scene, rng)
    lung = lung_echo(scene, rng)
    zl = lung_surface(scene)[m : m + w]
    below = np.arange(h)[:, None] > (zl + scene.pleura_thickness / 2 + 0.5)[None, :]
    shadow = _shadow_columns(scene)
    shade = np.where(shadow, 0.07, 1.0).astype(np.float32)[None, :]
    g1r, g1i, g2r, g2i = speckle_fields(rng, h, scene.wide, params, scale)
    amp = rng.uniform(*params.slide) * scale
    phase = rng.uniform(0, 2 * np.pi)
    period = rng.uniform(6, 14)
    f_idx = np.arange(n_frames)
    offsets = np.clip(np.rint(m + amp * np.sin(2 * np.pi * f_idx / period + phase)), 0, 2 * m).astype(int)
    dr = rng.uniform(*params.dynamic_range)
    atten = rng.uniform(*params.atten)
    gain = (rng.uniform(0.85, 1.15) * np.exp(-atten * np.arange(h) / h)).astype(np.float32)[:, None]
    top = 20 * np.log10(4.5)
    k = np.float32(params.speckle_contrast)
    images = np.empty((n_frames, h, w), np.uint8)
    # rows above r_lo are tissue only, rows from r_hi on are lung only
    r_lo = int(np.clip(np.floor(zl.min()), 0, h))
    r_hi = int(np.clip(np.ceil(zl.max() + scene.pleura_thickness / 2 + 2), r_lo, h))
    below_mid = below[r_lo:r_hi]
    lung_gain = lung * gain
    tissue_gain = tissue * gain
    lo_db = np.float32(top - dr)
    scale_db = np.float32(255.0 / dr)
    img = np.empty((h, w), np.float32)
    for f in range(n_frames):
        c, s = np.float32(np.cos(params.speckle_dphi * f)), np.float32(np.sin(params.speckle_dphi * f))
        o = offsets[f]
        cols = slice(o, o + w)
        lr = c * g1r[r_lo:, cols] + s * g2r[r_lo:, cols]
        li = c * g1i[r_lo:, cols] + s * g2i[r_lo:, cols]
        lamp = lung_gain[r_lo:, cols] * shade * ((1 - k) + k * np.hypot(lr, li))
        tr = c * g1r[:r_hi, m : m + w] + s * g2r[:r_hi, m : m + w]
        ti = c * g1i[:r_hi, m : m + w] + s * g2i[:r_hi, m : m + w]
        tamp = tissue_gain[:r_hi] * ((1 - k) + k * np.hypot(tr, ti))
        img[:r_lo] = tamp[:r_lo]
        img[r_hi:] = lamp[r_hi - r_lo :]
        img[r_lo:r_hi] = np.where(below_mid, lamp[: r_hi - r_lo], tamp[r_lo:])
        np.log10(img + np.float32(1e-4), out=img)
        img *= np.float32(20.0)
        img -= lo_db
        img *= scale_db
        np.clip(img, 0, 255, out=img)
        images[f] = geometry.apply(img.astype(np.uint8), w)
    return images, offsets

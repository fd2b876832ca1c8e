"""Echo maps of the simulator: how strongly each beam-space sample scatters or reflects.

Two kinds of echo are kept apart because they look different on a scanner
(Wagner et al. 1983, *IEEE Trans Sonics Ultrason* 30:156; Szabo 2014,
*Diagnostic Ultrasound Imaging*, ch. 8):

* **diffuse** scattering (tissue parenchyma, B-lines, hepatised lung): many
  sub-resolution scatterers whose echoes interfere, so the renderer multiplies
  this map by complex Gaussian scatterer amplitudes before the point-spread
  function, giving fully developed (Rayleigh) speckle;
* **specular** reflection (skin entry echo, fascia, pleura, rib surface and the
  A-line reverberations of the pleura): coherent, so the map is blurred by the
  point-spread function as it is, giving continuous bright lines whose
  thickness grows with depth as the beam widens.

The tissue maps are ``(H, W / step)`` and static; the lung maps are ``(H,
(W + 2 margin) / step)`` and slide with the lung: the image is formed on
every ``step``-th scan line (a scanner forms about 128-256 lines and
interpolates between them; the lateral PSF is wider than two pixels anyway),
while truth and labels keep every column. Amplitudes are relative: soft
tissue about 0.1-0.3, bright interfaces up to a few units, anechoic fluid
about 0.005.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ._sim_kernels import box_filter, gaussian_noise
from ._sim_regions import _cols, _cons_bottom, a_line_columns, a_line_depth, lung_surface
from ._sim_scene import Scene, _smooth_noise

__all__ = ["tissue_echo", "lung_echo", "rib_shadow"]


def _line(i: np.ndarray, center: np.ndarray, half: float) -> np.ndarray:
    """Gaussian depth profile of a thin interface of half thickness ``half`` px."""
    return np.exp(-(((i - center) / (half + 0.35)) ** 2))


#: Interface profiles are evaluated within this many ``half + 0.35`` of their centre
#: (``exp(-3.8 ** 2)`` is 5e-7 of the peak, far below the speckle).
_REACH = 3.8


def _add_line(out: np.ndarray, center: np.ndarray | float, half: float, amp: np.ndarray | float = 1.0,
              cols: slice = slice(None)) -> None:
    """``out[:, cols] += amp * _line(rows, center, half)`` on the rows the line reaches only.

    ``center`` and ``amp`` are scalars or ``(1, ncols)`` rows for the columns ``cols``;
    the sum is the full-array one to within 5e-7 of the peak.
    """
    c = np.asarray(center, dtype=np.float32)
    reach = _REACH * (half + 0.35)
    lo, hi = max(0, int(np.floor(c.min() - reach))), min(out.shape[0], int(np.ceil(c.max() + reach)) + 1)
    if lo >= hi:
        return
    rows = np.arange(lo, hi, dtype=np.float32)[:, None]
    out[lo:hi, cols] += amp * _line(rows, c, half)


def _texture(rng: np.random.Generator, shape: tuple[int, int], sig: tuple[float, float]) -> np.ndarray:
    """Unit-variance smooth noise with correlation lengths about ``sig`` (rows, columns).

    Two box filters per axis (a triangular kernel of the same variance as a
    Gaussian of ``sig``): the cost does not grow with the correlation length.
    """
    t = gaussian_noise(rng, shape)
    for axis, sd in enumerate(sig):
        width = int(max(1, round(np.sqrt(6 * sd * sd + 1))))
        if width > 1:
            t = box_filter(box_filter(t, width, axis, "wrap"), width, axis, "wrap")
    sd = float(t.std())
    return t / sd if sd > 0 else t


def _step_cols(cs: slice, step: int) -> tuple[np.ndarray, slice]:
    """Full-grid columns of ``cs`` kept on a ``step`` grid, and their slice there."""
    lo, hi = -(-cs.start // step), -(-cs.stop // step)
    return np.arange(lo, hi, dtype=np.float32) * step, slice(lo, hi)


def tissue_echo(scene: Scene, rng: np.random.Generator, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Diffuse and specular echo of the chest wall, pleura, ribs and effusion.

    Parameters
    ----------
    scene : Scene
    rng : numpy.random.Generator
    step : int
        Keep every ``step``-th scan line.

    Returns
    -------
    diffuse, specular : (H, ceil(W / step)) float32
        Zero below the lung surface (the lung maps take over there), except
        for rib echoes.
    """
    h, w, m = scene.height, scene.width, scene.margin
    lay = scene.layers
    s = h / 256.0
    i = np.arange(h, dtype=np.float32)[:, None]
    j = np.arange(0, w, step, dtype=np.float32)[None, :]
    nw = j.shape[1]
    zp = scene.pleura_depth[m : m + w : step].astype(np.float32)[None, :]
    zl = lung_surface(scene)[m : m + w : step].astype(np.float32)[None, :]
    frac = i / zp
    # parenchyma: fat (hypoechoic, mildly mottled), then striated muscle
    striae = _texture(rng, (h, nw), (0.6 * s + 0.3, ((6 + 8 * rng.random()) * s + 1) / step))
    mottle = _texture(rng, (h, nw), ((3 + 3 * rng.random()) * s + 0.5, ((6 + 6 * rng.random()) * s + 0.5) / step))
    muscle = lay.muscle_level * np.clip(1 + 0.6 * lay.striation * striae + 0.3 * mottle, 0.2, None)
    fat = lay.fat_level * np.clip(1 + 0.5 * mottle, 0.2, None)
    diffuse = np.where(frac < lay.fat, fat, muscle)
    diffuse = np.where(i < zp, diffuse, 0.0)
    # interfaces: skin entry echo, fascia lines (slightly wavy), fat septa, pleura
    spec = np.zeros((h, nw), np.float32)
    _add_line(spec, 1.2 * s, 1.2 * s, 0.5 + 0.5 * rng.random())
    for f, amp in zip(lay.fascia, lay.fascia_amp, strict=True):
        wav = f * zp + 1.5 * s * np.sin(2 * np.pi * j / w * rng.uniform(0.3, 1.5) + rng.uniform(0, 6))
        along = 0.6 + 0.4 * _smooth_noise(rng, w, 2.0)[None, ::step]
        _add_line(spec, wav, 0.6 * s, amp * along)
    for d, slope in lay.septa:
        _add_line(spec, d * zp + slope * (j - w / 2), 0.5 * s, 0.25)
    # muscle striae: short bright streaks along the fibres (perimysium)
    for _ in range(int(rng.poisson(4 + 12 * lay.striation))):
        d = rng.uniform(lay.fat, 0.95)
        c0, half_len = rng.uniform(0, w), rng.uniform(0.04, 0.25) * w
        amp, tilt = rng.uniform(0.2, 1.0), rng.normal(0, 0.04)
        # columns where exp(-u^4) exceeds 5e-7 (|u| < 1.93)
        cs = slice(int(max(0, (c0 - 1.93 * half_len) // step)), int(min(nw, -(-(c0 + 1.93 * half_len) // step))))
        jc = j[:, cs]
        along = np.exp(-(((jc - c0) / half_len) ** 4))
        _add_line(spec, d * zp[:, cs] + tilt * (jc - c0), 0.5 * s, amp * along, cs)
    t2 = scene.pleura_thickness / 2
    vis = scene.pleura_visible[m : m + w : step].astype(np.float32)[None, :]
    along = scene.pleura_brightness * (0.75 + 0.25 * _smooth_noise(rng, w, 4.0))[None, ::step]
    sharp = t2 * rng.uniform(0.8, 1.6)
    _add_line(spec, zp, sharp, along * (0.15 + 0.85 * vis))
    if scene.effusion is not None:  # anechoic fluid, the visceral pleura below it is visible
        eff = (i > zp + t2) & (i < zl)
        diffuse = np.where(eff, 0.004, diffuse)
        _add_line(spec, zl, t2, 0.7 * scene.pleura_brightness * (zl > zp + 1))
    for c, hw in scene.ribs:  # rib surface: a bright arc slightly above the pleura
        cs = slice(int(max(0, -(-(c - hw) // step))), int(min(nw, (c + hw) // step + 1)))
        if cs.start >= cs.stop:
            continue
        u = (j[:, cs] - c) / hw
        surf = zp.mean() - 0.04 * h + 0.05 * h * u * u
        _add_line(spec, surf, 1.6 * s, rng.uniform(0.8, 1.5), cs)
    return diffuse.astype(np.float32), spec


def rib_shadow(scene: Scene, depth_floor: float, step: int = 1) -> np.ndarray:
    """Multiplicative acoustic shadow of the ribs, ``(H, ceil(W / step)) float32`` (1 = none)."""
    h, w, m = scene.height, scene.width, scene.margin
    j = np.arange(0, w, step, dtype=np.float32)[None, :]
    out = np.ones((h, j.shape[1]), np.float32)
    if not scene.ribs:
        return out
    s = h / 256.0
    i = np.arange(h, dtype=np.float32)[:, None]
    zp = float(scene.pleura_depth[m : m + w].mean())
    for c, hw in scene.ribs:
        u = (j - c) / hw
        surf = zp - 0.04 * h + 0.05 * h * u * u + 2.5 * s
        edge = np.clip(1.5 - np.abs(u) * 1.5 + 0.5, 0, 1)  # soft lateral edges
        out *= 1 - (1 - depth_floor) * edge * (i > surf)
    return gaussian_filter1d(out, (1.0 + s) / step, axis=1)


def lung_echo(scene: Scene, rng: np.random.Generator, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Diffuse and specular echo below the lung surface on the widened grid.

    Aerated lung reflects almost everything at the pleura, so what is seen below
    it is artifact: a diffuse haze (faint to tissue-bright), the A-line reverberations (specular,
    uneven and fading), B-lines (diffuse vertical bands, laser- or comet-like),
    and tissue-like hepatised lung where a consolidation is.

    Parameters
    ----------
    scene : Scene
    rng : numpy.random.Generator
    step : int
        Keep every ``step``-th column of the widened grid.

    Returns
    -------
    diffuse, specular : (H, ceil((W + 2 margin) / step)) float32
    """
    h, n = scene.height, scene.wide
    s = h / 256.0
    i = np.arange(h, dtype=np.float32)[:, None]
    j = np.arange(0, n, step, dtype=np.float32)[None, :]
    nw = j.shape[1]
    zl = lung_surface(scene)[::step].astype(np.float32)[None, :]
    t2 = scene.pleura_thickness / 2
    below = i - zl
    under = np.clip(below, 0, None)
    lung = 1.0 / (1.0 + np.exp(-np.clip(below - 0.5, -30, 30) / 0.7))  # soft start at the lung surface
    # the haze under a normal pleura ranges from faint to as bright as tissue: brightness
    # alone does not make a B-line, its contrast with the haze beside it does
    haze = float(np.exp(rng.uniform(np.log(0.05), np.log(0.8))))
    cloud = np.clip(1 + 0.25 * _texture(rng, (h, nw), ((4 + 4 * rng.random()) * s + 0.5, (10 * s + 1) / step)), 0.2, None)
    # reverberation streaks: long, narrow (1-3 px) vertical striations of the haze, common
    # under a normal pleura (short comet tails, I-lines); too narrow and too faint for B-lines
    streak = rng.uniform(0.0, 0.5) * _texture(rng, (h, nw), ((20 + 30 * rng.random()) * s, (1.0 + s) / step))
    decay = 0.4 + 0.6 * np.exp(-under / (rng.uniform(0.1, 0.4) * h))
    diffuse = lung * haze * np.clip(cloud + streak, 0.15, None) * decay
    spec = np.zeros((h, nw), np.float32)
    free = gaussian_filter1d(a_line_columns(scene).astype(np.float32), 1.5 + s)[None, ::step]
    for k, amp in enumerate(scene.a_line_amplitudes(), start=2):
        along = np.clip(1 + 0.45 * _smooth_noise(rng, n, 2.0 + k), 0.1, None)[None, ::step]
        _add_line(spec, a_line_depth(scene, k)[None, ::step].astype(np.float32), t2 * (1 + 0.35 * k),
                  amp * along * free)
    for b in scene.blines:
        # columns where the lateral profile exp(-|u|^1.6) exceeds 5e-7 (|u| < 5.3)
        reach = 5.3 * (float(b.half_width(np.float32(h))) + 0.5)
        cs = slice(int(max(0, (b.center - reach) // step)), int(min(nw, -(-(b.center + reach) // step))))
        if cs.start >= cs.stop:
            continue
        u_b = under[:, cs]
        hw = b.half_width(u_b) + 0.5
        prof = np.exp(-((np.abs(j[:, cs] - b.center) / hw) ** 1.6))
        if np.isfinite(b.length):
            fade = np.exp(-((u_b / max(b.length, 1.0)) ** 2) * 1.5)
        else:
            fade = 0.75 + 0.25 * np.exp(-u_b / (0.7 * h))
        diffuse[:, cs] += lung[:, cs] * haze * (0.8 + 2.2 * b.brightness) * prof * fade
    for c in scene.consolidations:
        jj, cs = _step_cols(_cols(c.center, c.half_width, n), step)
        u = (jj - c.center) / c.half_width
        bottom = zl[0, cs] + _cons_bottom(c, np.clip(u, -1, 1))
        reg = (i >= zl[:, cs]) & (i <= bottom[None, :]) & (np.abs(u) < 1)[None, :]
        tex = _texture(rng, (h, max(1, cs.stop - cs.start)), (2.0 * s + 0.5, (2.5 * s + 0.5) / step))
        level = rng.uniform(0.18, 0.32) * np.clip(1 + 0.35 * tex, 0.2, None)
        diffuse[:, cs] = np.where(reg, level, diffuse[:, cs])
        shred = np.exp(-(((i - bottom[None, :]) / (1.2 + 1.5 * s)) ** 2)) * (np.abs(u) < 1)[None, :]
        diffuse[:, cs] += 0.5 * shred * np.clip(1 + 0.6 * tex, 0, None)
        for uu, vv, ln in c.bronchograms:
            cj = c.center + uu * c.half_width
            ci = zl[0, int(np.clip(cj / step, 0, nw - 1))] + vv * c.depth * 0.8
            blob = np.exp(-(((jj[None, :] - cj) / (ln * c.half_width + 1)) ** 2) - ((i - ci) / (0.8 + s)) ** 2)
            spec[:, cs] += 0.9 * blob * reg
    return diffuse.astype(np.float32), spec.astype(np.float32)

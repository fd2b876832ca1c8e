"""The simulated scanner: probe geometry, point-spread function, gain, compression, display.

Everything here is drawn once per clip (a clinician sets up the scanner, then
records). Sizes are quoted for 256 px frames and scale with the frame size.

Native resolution
    Frames smaller than 256 px are formed at twice their size and
    area-averaged down, as a real scan exported at the scanner's resolution is
    resized by ingest (which averages speckle); truth and labels are looked up
    at the frame size directly.
Probe and geometry
    *Linear* probes (7-12 MHz, 30-60 mm deep) image a rectangle whose width is
    60-110 % of its depth; *convex* probes (2-5 MHz, 80-180 mm) a fan with a
    virtual apex above the skin (apex-to-skin radius 15-90 % of the depth,
    half-opening 28-40 degrees). As on an exported scan that went through
    :func:`lusfeat.data.ingest.ingest`, the scan region's bounding box is
    centred in the square frame: it fits inside (zero padding) or, for wide
    fans, is cut at the sides. Images are scan converted with bilinear
    interpolation (masks: nearest neighbour, so that truth and labels stay
    binary/percent); beams are apodised at the edges of the aperture.
Frequency (per clip)
    linear 7-12 MHz, convex 2-5 MHz. It sets the resolution: the PSF below is
    scaled by the wavelength in pixels relative to a typical clip (factor
    0.6-1.6), and the round-trip attenuation, 0.5 dB/cm/MHz in soft tissue
    (+-30 %) over the imaging depth.
Point-spread function (Szabo 2014, ch. 7-8; Jensen 1991, *J Acoust Soc Am* 89:182)
    Separable Gaussian, axial sigma 0.6-1.35 px and lateral sigma 2.4-5.7 px (at
    256 px, for a typical clip) at the focal depth (25-60 % of the image), widening away
    from it (axial by up to 0.3 px, lateral by up to 4.5 px more at 0.6 image depths; on
    a fan the beams also diverge with depth). Lateral resolution is set by the aperture
    (about wavelength x f-number) and axial resolution by the pulse length, so on
    clinical probes the lateral beam width is two to four times the axial resolution
    (Szabo 2014, ch. 7; Ng & Swanevelder 2011, *Contin Educ Anaesth Crit Care Pain*
    11:186); the speckle of real clips is accordingly elongated across the beam (patch
    gradient energy along the beam about 1.5 times that across it on the frames in
    ``bench_realism.py``). The image
    is a blend of a focal and a defocused version weighted by the distance to
    the focus.
Elevation (slice thickness; Goldstein & Madrazo 1981, *J Clin Ultrasound* 9:365;
Skolnick 1991, *Radiology* 180:65)
    A B-mode image averages the echo over the slice thickness of the beam, 1-5 mm:
    narrowest at the elevation focus of the probe's lens and widening away from it.
    What varies across the slice (a B-line's or bronchogram's cross-section, a
    reflector tilted out of the plane) is therefore partial-volumed: it loses contrast
    and spreads in depth. This is modelled on the diffuse echo maps, before the
    scatterers: each is blended with its Gaussian blur (axial sigma 0.3-1.0 px, lateral
    1.0-3.0 px at 256 px, scaled with the wavelength), with a weight of 0.1-0.3 at the
    elevation focus (30-70 % of the depth) rising to 0.4-0.8 half a depth away from it
    (:func:`elevation_blur`). The specular interfaces (skin, fascia, pleura, rib surfaces
    and the A-lines that repeat the pleura) extend across the whole slice, so averaging
    over it leaves them as they are; blurring them too made a network trained on the
    simulator miss the thin real pleural line more often (``benchmarks/README.md``).
Gain, TGC and compression
    Attenuation ``exp(-a depth / H)`` (``a`` from the frequency and depth, about
    3-7 nepers), compensated by a time-gain curve that undoes 40-80 % of it plus a smooth
    random +-4 dB (the user's TGC sliders); a noise floor (electronic noise,
    1-15 % of the echo of soft tissue at the full depth) that TGC amplifies;
    log compression over a dynamic range of 55-80 dB with the overall gain
    placing soft tissue at 40-65 % of the compressed range (Kremkau 2015,
    *Sonography Principles and Instruments*, ch. 5).
Display and domain randomisation (Tobin et al. 2017, *IROS*: randomise what the
model should not learn)
    compounding (40-90 % of the intensity replaced by its local mean: spatial
    compounding and speckle reduction make clinical speckle much weaker than
    fully developed speckle), a grey map (power 1.5-3, which darkens and smooths the low end as
    scanners' lung presets do), log-domain smoothing (20 % of clips: the log
    image blended 30-80 % with its local mean over a box of 3-7 x 4-10 px), additive noise (30 %), vignetting (half the clips), burned-in
    text (zone labels, depth, frequency, gain) outside the scan region (40 %)
    or inside it (20 %), depth-scale ticks (30 %), a gray ROI box outline (10 %), and
    colour overlays (a colour box outline such as a Doppler or measurement box, 15 %;
    colour markers or text, 10 %; inside or outside the scan region). The frames are
    gray, so inside the scan region a colour overlay is stored as
    :func:`lusfeat.data.ingest.ingest` leaves it on a real frame (its pixels filled from
    their gray neighbours); outside the region it is kept as its luma, as a gray export
    shows it (ingest zeroes what lies outside the region it detects, so there the
    overlays, like the gray text, stand for inputs that did not go through it). Contrast
    is randomised by the dynamic range and the display level, gamma by the grey map,
    blur by the PSF widths, the elevation blur and the log-domain smoothing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ._sim_kernels import gaussian_blur

__all__ = ["BurnIn", "Geometry", "Scanner", "make_geometry", "make_scanner", "psf_blur", "elevation_blur", "burn_in",
           "apply_burn_in"]


@dataclass
class Geometry:
    """Scan conversion of one clip from the beam grid ``(H, W)`` to the frame ``(S, S)``.

    Attributes
    ----------
    probe : {"linear", "convex"}
    nearest : (S*S,) int64 or None
        Flat index into the native beam grid of each frame pixel (nearest
        neighbour at the pixel centre); ``None`` when the frame is the beam grid.
    valid : (S, S) bool or None
        Frame pixels inside the scan region.
    bilinear : tuple
        ``(positions, index, w00, w01, w10, w11)``: flat frame positions inside
        the region, the flat index of their upper-left neighbour on the image
        beam grid ``(H, lines)`` and the four bilinear weights.
    lines : int
        Scan lines the image is formed on (``ceil(native / step)``).
    step : int
        Native frame columns per image scan line.
    factor : int
        Native size / frame size: images are formed at the native size and
        area-averaged down (as exported scans are resized by ingest).
    depth_mm : float
        Imaging depth.
    spacing_mm : float
        Frame pixel spacing.
    """

    probe: str
    nearest: np.ndarray | None
    valid: np.ndarray | None
    bilinear: tuple[np.ndarray, ...]
    lines: int
    step: int
    factor: int
    depth_mm: float
    spacing_mm: float

    def apply(self, plane: np.ndarray, width: int, offset: int = 0) -> np.ndarray:
        """Map a beam-space mask ``(H, Wp)`` (bool or uint8) to the frame, nearest neighbour.

        ``offset`` selects columns ``offset : offset + width`` of a widened plane.
        """
        if self.nearest is None:
            return plane[:, offset : offset + width]
        if plane.shape[1] != width or offset:
            plane = np.ascontiguousarray(plane[:, offset : offset + width])
        out = plane.reshape(-1)[self.nearest].reshape(self.valid.shape)
        if out.dtype == bool:
            out &= self.valid
        else:
            out *= self.valid
        return out

    def apply_image(self, plane: np.ndarray) -> np.ndarray:
        """Map a native beam-space image ``(N, lines) float32`` to the native frame
        ``(N, N)``, bilinear, 0 outside the scan region."""
        pos, idx, w00, w01, w10, w11 = self.bilinear
        w = plane.shape[1]
        p = plane.reshape(-1)
        val = p[idx] * w00
        val += p[idx + 1] * w01
        val += p[idx + w] * w10
        val += p[idx + w + 1] * w11
        n = plane.shape[0]
        if pos is None:  # the whole frame
            return val.reshape(n, -1)
        out = np.zeros(n * n, np.float32)
        out[pos] = val
        return out.reshape(n, n)


_R0 = (0.15, 0.3, 0.5, 0.7, 0.9)
_HALF = (28.0, 32.0, 36.0, 40.0)
_FILL = (1.0, 0.6, 0.45)
_ASPECT = (0.6, 0.75, 0.9, 1.0, 1.1)
#: Frames smaller than this are formed at twice their size and resized down.
NATIVE_MIN = 256


def native_factor(size: int) -> int:
    """Integer factor from the frame size up to the native (scanner) resolution:
    frames under :data:`NATIVE_MIN` px are formed at twice their size."""
    return 1 if int(size) >= NATIVE_MIN else 2


def line_step(native: int) -> int:
    """Frame columns per image scan line at the native resolution: 2 from 128 px on, else 1."""
    return 2 if native >= 128 else 1


def make_geometry(rng: np.random.Generator, probe: str, size: int) -> Geometry:
    """Draw a probe geometry (from a fixed menu, so the lookups are cached).

    The scene and the image are formed at the native size ``size * k``
    (:func:`native_factor`); images are resized to ``size`` afterwards and masks
    are looked up at ``size`` directly.
    """
    k = native_factor(size)
    if probe == "linear":
        depth = float(rng.choice([30.0, 40.0, 50.0, 60.0]))
        key = ("linear", float(rng.choice(_ASPECT)))
    else:
        depth = float(rng.choice([80.0, 100.0, 120.0, 140.0, 160.0, 180.0]))
        key = ("convex", float(rng.choice(_R0)), float(rng.choice(_HALF)), float(rng.choice(_FILL)))
    nearest, valid, bil, scale = _lookups(size, k, key)
    step = line_step(size * k)
    return Geometry(probe, nearest, valid, bil, -(-size * k // step), step, k, depth, depth / scale)


def _coords(n: int, key: tuple) -> tuple[np.ndarray, np.ndarray, float]:
    """Fractional depth and lateral position (0-1) of the centres of an ``n x n`` frame's
    pixels, and the frame pixels per unit depth, for a probe ``key``."""
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64) + 0.5
    if key[0] == "linear":
        aspect = key[1]  # width / depth, the rectangle centred in the frame
        scale = n / max(1.0, aspect)
        return (yy - (n - scale) / 2) / scale, (xx - n / 2) / (scale * aspect) + 0.5, scale
    r0, half_deg, fill = key[1:]
    half = np.deg2rad(half_deg)
    r1 = r0 + 1.0
    box_w, box_h = 2 * r1 * np.sin(half), r1 - r0 * np.cos(half)
    scale = n / max(box_h, fill * box_w)  # frame px per unit depth; fill < 1 cuts wide fans at the sides
    y_top = r0 * np.cos(half) - (n / scale - box_h) / 2
    yp, xp = yy / scale + y_top, (xx - n / 2) / scale
    return np.hypot(xp, yp) - r0, (np.arctan2(xp, yp) + half) / (2 * half), scale


@functools.lru_cache(maxsize=128)  # the whole menu (65 probe shapes) at one frame size
def _lookups(size: int, k: int, key: tuple):
    """Mask lookup (nearest, ``size`` frame from the native beam grid) and image lookup
    (bilinear, native frame from the native image scan lines), read-only."""
    native = size * k
    step = line_step(native)
    lines = -(-native // step)
    coords = _coords(size, key)
    u, v, _ = coords
    row, col = u * native - 0.5, v * native - 0.5
    valid = (row >= -0.5) & (row <= native - 0.5) & (col >= -0.5) & (col <= native - 0.5)
    rn = np.clip(np.rint(row), 0, native - 1).astype(np.int64)
    cn = np.clip(np.rint(col), 0, native - 1).astype(np.int64)
    nearest = (rn * native + cn).ravel()
    identity = k == 1 and key == ("linear", 1.0)
    u, v, scale_native = coords if native == size else _coords(native, key)
    row, col = u * native - 0.5, v * lines - 0.5
    vn = (row >= -0.5) & (row <= native - 0.5) & (col >= -0.5) & (col <= lines - 0.5)
    full = bool(vn.all())
    pos = None if full else np.flatnonzero(vn.ravel())
    r = np.clip(row.ravel() if full else row.ravel()[pos], 0, native - 1.001)
    c = col.ravel() if full else col.ravel()[pos]
    c = np.clip(c, 0, lines - 1.001) if lines > 1 else np.zeros_like(c)
    r0, c0 = np.floor(r), np.floor(c)
    fr, fc = (r - r0).astype(np.float32), (c - c0).astype(np.float32)
    idx = r0.astype(np.int64) * lines + c0.astype(np.int64)
    bil = (pos, idx, (1 - fr) * (1 - fc), (1 - fr) * fc, fr * (1 - fc), fr * fc)
    for a in (nearest, valid, *bil):
        if a is not None:
            a.setflags(write=False)
    if identity:
        nearest = valid = None
    return nearest, valid, bil, scale_native / k


@dataclass(frozen=True)
class Scanner:
    """One clip's scanner settings (pixels at the frame size; see the module docstring)."""

    frequency_mhz: float
    psf_near: tuple[float, float]
    psf_extra: tuple[float, float]
    focus: float
    atten: float
    tgc: np.ndarray  # (H,) float32 gain per row (compensation x sliders)
    apod: np.ndarray  # (W,) float32 lateral apodisation x vignetting
    noise_floor: float
    top_db: float
    dynamic_range: float
    lut: np.ndarray  # (1024,) uint8 grey map from 0..1
    compounding: float
    smoothing: float
    smooth_size: tuple[int, int]
    noise_sd: float
    elevation_focus: float = 0.5
    elevation_sigma: tuple[float, float] = (0.0, 0.0)  # (axial, lateral) px
    elevation_mix: tuple[float, float] = (0.0, 0.0)  # blend weight at the focus, half a depth away


def make_scanner(
    rng: np.random.Generator, probe: str, size: int, depth_mm: float, tissue_level: float = 0.2
) -> Scanner:
    """Draw the scanner settings of one clip (see the module docstring).

    ``size`` is the native frame size and ``depth_mm`` the imaging depth. Lateral
    sizes (PSF, smoothing, apodisation) are in image scan lines (:func:`line_step`
    columns each).
    """
    s = size / 256.0
    step = line_step(size)
    h, w = size, -(-size // step)
    z = np.arange(h, dtype=np.float32) / h
    freq = float(rng.uniform(7.0, 12.0) if probe == "linear" else rng.uniform(2.0, 5.0))
    # resolution follows the wavelength in pixels (1.0 for a typical clip)
    res = float(np.clip((1.54 / freq) / (depth_mm / size) / 0.9, 0.6, 1.6))
    # round-trip attenuation, 0.5 dB/cm/MHz in soft tissue (+-30 %), in nepers over the depth
    atten = float(0.5 * freq * depth_mm / 10 * 2 / 8.686 * rng.uniform(0.7, 1.3))
    knots = rng.normal(0, 4.0 / 20 * np.log(10), 5)  # +-4 dB in nepers
    sliders = np.interp(z, np.linspace(0, 1, 5), knots)
    tgc = np.exp(atten * z * rng.uniform(0.4, 0.8) + sliders).astype(np.float32)
    u = np.abs(np.arange(w, dtype=np.float32) - (w - 1) / 2) / (w / 2)
    edge = float(rng.uniform(0.02, 0.08))
    floor = float(rng.uniform(0.3, 0.6))
    apod = np.where(u > 1 - edge, floor + (1 - floor) * np.clip((1 - u) / edge, 0, 1), 1.0)
    if rng.random() < 0.5:
        apod = apod * (1 - rng.uniform(0, 0.4) * u**2)
    dr = float(rng.uniform(55.0, 80.0))
    display = float(rng.uniform(0.4, 0.65))  # where soft tissue sits on the grey scale
    top_db = 20 * np.log10(tissue_level) + (1 - display) * dr
    gamma = float(rng.uniform(1.5, 3.0))
    lut = np.rint(255 * np.linspace(0, 1, 1024) ** gamma).astype(np.uint8)
    return Scanner(
        frequency_mhz=freq,
        # lateral resolution about three times coarser than axial (see the module docstring)
        psf_near=(float(rng.uniform(0.45, 1.2) * s * res + 0.15), float((rng.uniform(1.5, 4.8) * s * res + 0.9) / step)),
        psf_extra=(float(rng.uniform(0.0, 0.3) * s * res), float(rng.uniform(0.9, 4.5) * s * res / step)),
        focus=float(rng.uniform(0.25, 0.6)),
        atten=atten, tgc=tgc, apod=apod.astype(np.float32),
        # electronic noise: a share of the deepest echo of soft tissue, amplified by the TGC
        noise_floor=float(rng.uniform(0.01, 0.15) * tissue_level * np.exp(-atten)),
        top_db=float(top_db), dynamic_range=dr, lut=lut,
        compounding=float(rng.uniform(0.4, 0.9)),
        smoothing=float(rng.uniform(0.3, 0.8)) if rng.random() < 0.2 else 0.0,
        smooth_size=(int(round(rng.uniform(3.0, 7.0) * s)), int(max(1, round(rng.uniform(4.0, 10.0) * s / step)))),
        noise_sd=float(rng.uniform(0.5, 2.5)) if rng.random() < 0.3 else 0.0,
        elevation_focus=float(rng.uniform(0.3, 0.7)),
        elevation_sigma=(float(rng.uniform(0.3, 1.0) * s * res), float(rng.uniform(1.0, 3.0) * s * res / step)),
        elevation_mix=(float(rng.uniform(0.1, 0.3)), float(rng.uniform(0.4, 0.8))),
    )


#: Gaussian kernels are cut at this many sigmas (the PSF's tails are below speckle level).
_TRUNCATE = 2.5


@functools.lru_cache(maxsize=64)
def _noise_gain(sig: tuple[float, ...]) -> float:
    """1 / RMS of unit white noise after the separable Gaussian blurs ``sig`` (axial, lateral pairs)."""
    n = 65
    d = np.zeros((n, n))
    d[n // 2, n // 2] = 1.0
    for k in range(0, len(sig), 2):
        d = gaussian_filter1d(gaussian_filter1d(d, sig[k], axis=0, truncate=_TRUNCATE), sig[k + 1], axis=1,
                              truncate=_TRUNCATE)
    return float(1.0 / np.sqrt((d**2).sum()))


def _far_weight(sc: Scanner, h: int) -> np.ndarray:
    """Weight ``(H, 1)`` of the defocused PSF: distance from the focus over 0.6 depths."""
    z = np.arange(h, dtype=np.float32) / h
    return np.clip(np.abs(z - sc.focus) / 0.6, 0, 1)[:, None].astype(np.float32)


def _blend_gain(sc: Scanner, h: int) -> np.ndarray:
    """Speckle normalisation ``(H, 1)`` that :func:`psf_blur` applies to diffuse fields."""
    w = _far_weight(sc, h)
    return (_noise_gain(sc.psf_near) * (1 - w) + _noise_gain(sc.psf_near + sc.psf_extra) * w).astype(np.float32)


def smooth(field: np.ndarray, sc: Scanner, mode: str = "nearest") -> np.ndarray:
    """Normalised blur of a smooth map by the focal PSF (for mean intensities)."""
    out = gaussian_blur(field, sc.psf_near[0], 0, mode, _TRUNCATE)
    return gaussian_blur(out, sc.psf_near[1], 1, mode, _TRUNCATE)


def elevation_blur(m: np.ndarray, sc: Scanner, mode: str = "nearest") -> np.ndarray:
    """Partial-volume blur of a diffuse echo map over the slice thickness (see the module docstring).

    Parameters
    ----------
    m : (H, W) float32
        Diffuse echo map in beam space, before the scatterers.
    sc : Scanner
    mode : {"nearest", "wrap"}
        Lateral edge handling (``"wrap"`` for the lung's widened grid).

    Returns
    -------
    (H, W) float32
        ``(1 - w(z)) m + w(z) G * m`` with ``w`` rising linearly from
        ``elevation_mix[0]`` at the elevation focus to ``elevation_mix[1]`` half a
        depth away (and held there); ``m`` itself when the scanner has no elevation blur.
    """
    near, far = sc.elevation_mix
    if far <= 0 and near <= 0:
        return m
    b = m
    if sc.elevation_sigma[0] > 0.05:
        b = gaussian_blur(b, sc.elevation_sigma[0], 0, "nearest", _TRUNCATE)
    if sc.elevation_sigma[1] > 0.05:
        b = gaussian_blur(b, sc.elevation_sigma[1], 1, mode, _TRUNCATE)
    if b is m:
        return m
    z = np.arange(m.shape[0], dtype=np.float32) / m.shape[0]
    w = (near + (far - near) * np.clip(np.abs(z - sc.elevation_focus) / 0.5, 0, 1)).astype(np.float32)[:, None]
    b = b - m
    b *= w
    b += m
    return b.astype(np.float32, copy=False)


def psf_blur(
    diffuse: list[np.ndarray], sc: Scanner, specular: np.ndarray | None = None, mode: str = "nearest",
) -> list[np.ndarray]:
    """Blur fields by the depth-dependent PSF of ``sc`` (a focal and a defocused
    version blended by the distance to the focus).

    Diffuse fields (echo map x complex Gaussian scatterers) are rescaled so that
    unit-reflectivity speckle has unit RMS at every depth. A ``specular`` map
    (coherent echo, kept at its amplitude) is added to the first field before
    blurring, since the blur is linear.
    """
    h = diffuse[0].shape[0]
    wfar = _far_weight(sc, h)
    g_near = _noise_gain(sc.psf_near)
    g_far = _noise_gain(sc.psf_near + sc.psf_extra)
    fields = list(diffuse)
    if specular is not None:
        # coherent amplitude must come out unscaled: divide by the blended gain first
        fields[0] = fields[0] + specular / _blend_gain(sc, h)
    out = []
    for f in fields:
        a = gaussian_blur(f, sc.psf_near[0], 0, mode, _TRUNCATE)
        a = gaussian_blur(a, sc.psf_near[1], 1, mode, _TRUNCATE)
        b = a
        if sc.psf_extra[0] > 0.05:
            b = gaussian_blur(b, sc.psf_extra[0], 0, mode, _TRUNCATE)
        if sc.psf_extra[1] > 0.05:
            b = gaussian_blur(b, sc.psf_extra[1], 1, mode, _TRUNCATE)
        res = b * (np.float32(g_far) * wfar)  # b may be a itself: form the blend anew
        res += a * (np.float32(g_near) * (1 - wfar))
        out.append(res)
    return out


_TEXT = ("L{z}", "R{z}", "{d} cm", "{f:.1f} MHz", "G {g}", "FR {r}", "DR {dr}", "C5-2", "L12-4", "MI 0.{m}",
         "TIS 0.{m}", "Lung", "PEN", "RES", "{z}")


@functools.lru_cache(maxsize=32)
def _font(size: int):
    """Pillow's built-in font at ``size`` px (loaded once per size)."""
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


@dataclass(frozen=True)
class BurnIn:
    """Burned-in annotations of one clip.

    Attributes
    ----------
    gray : (S, S) uint8 or None
        Gray text, ticks and boxes, drawn over the frame (maximum).
    colour : (S, S) bool or None
        Pixels of colour overlays.
    colour_luma : (S, S) uint8 or None
        Their luma (ITU-R BT.601), what a gray export shows of them.
    inside, outside : (S, S) bool or None
        The colour pixels inside and outside the clip's scan region.
    """

    gray: np.ndarray | None
    colour: np.ndarray | None = None
    colour_luma: np.ndarray | None = None
    inside: np.ndarray | None = None
    outside: np.ndarray | None = None


#: Saturated overlay colours of scanner software (RGB): yellow, green, cyan, orange, red, blue, magenta.
_COLOURS = ((255, 220, 0), (0, 230, 60), (0, 200, 255), (255, 140, 0), (230, 30, 30), (40, 90, 255), (220, 0, 220))


def burn_in(rng: np.random.Generator, valid: np.ndarray | None, size: int) -> BurnIn | None:
    """Burned-in annotations of one clip (``None`` if none).

    Gray text outside the scan region with probability 0.4 and inside it with 0.2;
    depth-scale ticks along one side (0.3); a gray ROI box outline (0.1); a colour box
    outline anywhere in the frame (0.15); colour markers or text (0.1). Apply it to a
    frame with :func:`apply_burn_in`.
    """
    from PIL import Image, ImageDraw

    region = np.ones((size, size), bool) if valid is None else valid
    want_out, want_in = rng.random() < 0.4, rng.random() < 0.2
    ticks, box = rng.random() < 0.3, rng.random() < 0.1
    colour_box, colour_marks = rng.random() < 0.15, rng.random() < 0.1
    if not (want_out or want_in or ticks or box or colour_box or colour_marks):
        return None
    img = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(img)
    font = _font(max(6, int(size * rng.uniform(0.035, 0.06))))

    def text() -> str:
        t = _TEXT[int(rng.integers(len(_TEXT)))]
        return t.format(z=int(rng.integers(1, 7)), d=int(rng.integers(4, 19)), f=rng.uniform(2, 12),
                        g=int(rng.integers(20, 90)), r=int(rng.integers(10, 60)), dr=int(rng.integers(40, 90)),
                        m=int(rng.integers(1, 10)))

    def place(inside: bool) -> None:
        for _ in range(20):
            x, y = int(rng.integers(0, max(1, int(0.8 * size)))), int(rng.integers(0, max(1, int(0.9 * size))))
            cy, cx = min(size - 1, y + 3), min(size - 1, x + 3)
            if bool(region[cy, cx]) == inside:
                draw.text((x, y), text(), fill=int(rng.integers(150, 256)), font=font)
                return

    if want_out and valid is not None and not valid.all():
        for _ in range(int(rng.integers(1, 4))):
            place(False)
    if want_in:
        place(True)
    if ticks:
        x = int(rng.choice([rng.integers(1, max(2, size // 12)), size - 1 - rng.integers(1, max(2, size // 12))]))
        step = max(4, int(size * rng.uniform(0.06, 0.12)))
        v = int(rng.integers(120, 230))
        for y in range(step, size - 2, step):
            draw.rectangle([x, y, x + max(1, size // 128), y + max(1, size // 128)], fill=v)
    if box:
        x0, y0 = int(rng.uniform(0.2, 0.5) * size), int(rng.uniform(0.2, 0.5) * size)
        x1, y1 = x0 + int(rng.uniform(0.15, 0.4) * size), y0 + int(rng.uniform(0.15, 0.4) * size)
        draw.rectangle([x0, y0, x1, y1], outline=int(rng.integers(100, 200)), width=1)
    gray = np.asarray(img, dtype=np.uint8) if (want_out or want_in or ticks or box) else None
    if not (colour_box or colour_marks):
        return BurnIn(gray)
    cimg = Image.new("RGB", (size, size), (0, 0, 0))
    cdraw = ImageDraw.Draw(cimg)
    if colour_box:  # a Doppler / measurement box, possibly reaching outside the scan region
        x0, y0 = int(rng.uniform(0.05, 0.6) * size), int(rng.uniform(0.05, 0.6) * size)
        x1, y1 = x0 + int(rng.uniform(0.15, 0.45) * size), y0 + int(rng.uniform(0.15, 0.45) * size)
        cdraw.rectangle([x0, y0, x1, y1], outline=_COLOURS[int(rng.integers(len(_COLOURS)))],
                        width=int(rng.integers(1, 3)))
    if colour_marks:  # focus or caliper markers and coloured text
        for _ in range(int(rng.integers(1, 4))):
            x, y = int(rng.integers(0, max(1, int(0.9 * size)))), int(rng.integers(0, max(1, int(0.9 * size))))
            colour = _COLOURS[int(rng.integers(len(_COLOURS)))]
            if rng.random() < 0.5:
                r = max(1, int(size * rng.uniform(0.01, 0.025)))
                cdraw.line([x - r, y, x + r, y], fill=colour, width=1)
                cdraw.line([x, y - r, x, y + r], fill=colour, width=1)
            else:
                cdraw.text((x, y), text(), fill=colour, font=font)
    rgb = np.asarray(cimg, dtype=np.float32)
    mask = rgb.max(axis=-1) > 0
    luma = np.rint(0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]).astype(np.uint8)
    return BurnIn(gray, mask, luma, mask & region, mask & ~region)


def apply_burn_in(frame: np.ndarray, overlay: BurnIn) -> np.ndarray:
    """A frame with a clip's burned-in annotations.

    Gray annotations are drawn over the frame; colour overlays inside the scan region
    are filled from their gray neighbours as
    :func:`lusfeat.data.ingest.preprocess_frame` fills them (a Gaussian-weighted mean,
    sigma 3 px of a 512 px scan, scaled to the frame), outside it their luma is kept.

    Parameters
    ----------
    frame : (S, S) uint8
    overlay : BurnIn
        From :func:`burn_in` with the clip's scan region.

    Returns
    -------
    (S, S) uint8
        A new array when anything is drawn (``frame`` is not written to).
    """
    from .ingest._preprocess import _fill

    out = frame if overlay.gray is None else np.maximum(frame, overlay.gray)
    if overlay.colour is None:
        return out
    if out is frame:
        out = frame.copy()
    if overlay.inside.any():
        filled = _fill(out.astype(np.float32), overlay.colour, sigma=max(0.75, 3.0 * out.shape[0] / 512))
        out[overlay.inside] = np.clip(np.rint(filled[overlay.inside]), 0, 255).astype(np.uint8)
    out[overlay.outside] = overlay.colour_luma[overlay.outside]
    return out

"""Image formation of the simulator: from a scene to the B-mode frames of one clip.

Per clip (:func:`render_clip`):

1. *Echo maps* (:mod:`lusfeat.data._sim_echo`): diffuse and specular echo of
   the chest wall (static) and of the lung (on a widened grid that slides),
   attenuated with depth, the diffuse maps blurred over the slice thickness
   (elevation partial volume); the noise floor is added to the lung's diffuse map.
2. *Scatterers and PSF* (:mod:`lusfeat.data._sim_scanner`): the diffuse maps
   multiply complex Gaussian scatterer amplitudes (one realisation for the
   chest wall, two for the lung), and every map is blurred by the
   depth-dependent point-spread function: radio-frequency-like complex fields.
3. *Per frame*: lung sliding shifts the lung fields laterally by ``slide`` px
   (``Poisson``-free sinusoid over the clip) and the lung's speckle
   decorrelates (``S_f = cos(f dphi) S_1 + sin(f dphi) S_2``); the envelope
   intensity ``|RF|^2`` is partly replaced by its local mean (compounding and
   speckle reduction), multiplied by TGC, apodisation and the rib shadows, log
   compressed over the dynamic range, blended with its local mean (the scanner's speckle reduction),
   scan converted (bilinear), mapped through the grey map, noised and overlaid
   with burned-in text and colour overlays (inside the scan region as ingest fills them).

Same random stream, same bytes: every draw comes from the clip's generator in
a fixed order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._sim_echo import lung_echo, rib_shadow, tissue_echo
from ._sim_kernels import box_filter, compose_log, gaussian_noise, scan_convert
from ._sim_scanner import (
    BurnIn,
    Geometry,
    Scanner,
    _blend_gain,
    apply_burn_in,
    burn_in,
    elevation_blur,
    psf_blur,
    smooth,
)
from ._sim_scene import Scene

__all__ = ["RenderParams", "render_clip"]


#: ``positions`` of a scan region covering the whole frame: empty and read-only, like the
#: lookups of the other regions, so the compiled scan conversion has one signature.
_ALL_POSITIONS = np.empty(0, np.int64)
_ALL_POSITIONS.setflags(write=False)


@dataclass(frozen=True)
class RenderParams:
    """Clip-level motion parameters (pixels at 256 px frames; scaled with size).

    Attributes
    ----------
    slide : (float, float)
        Range of the lung-sliding amplitude, px.
    speckle_dphi : float
        Lung speckle decorrelation per frame, radians.
    shadow_floor : (float, float)
        Range of the echo left in rib shadows (fraction).
    model : str
        Name of the image-formation model.
    """

    slide: tuple[float, float] = (1.5, 5.0)
    speckle_dphi: float = 0.35
    shadow_floor: tuple[float, float] = (0.04, 0.15)
    model: str = "scatterer-psf-v4"


def render_clip(
    scene: Scene,
    n_frames: int,
    geometry: Geometry,
    scanner: Scanner,
    rng: np.random.Generator,
    params: RenderParams = RenderParams(),
) -> tuple[np.ndarray, np.ndarray]:
    """Render the B-mode frames of one clip.

    Parameters
    ----------
    scene : Scene
        Anatomy and findings (beam space, ``H x W``).
    n_frames : int
    geometry : Geometry
        Scan conversion to the ``S x S`` frame.
    scanner : Scanner
        This clip's scanner settings.
    rng : numpy.random.Generator
    params : RenderParams

    Returns
    -------
    images : (F, S, S) uint8
        Frames as exported by the scanner and resized to ``S = H / geometry.factor``.
    offsets : (F,) int
        Lung-sliding offset of each frame (columns into the widened grid).
    """
    h, m = scene.height, scene.margin  # native size
    k = geometry.factor
    size = h // k
    step = geometry.step
    fields = _echo_fields(scene, geometry, scanner, rng)
    offset_map, k_db = _display_offsets(scene, scanner, rng, params, step)
    offsets = _sliding_offsets(rng, params, n_frames, h, m, step)
    overlay = burn_in(rng, geometry.valid, size)
    lut = scanner.lut.astype(np.float32)
    images = np.empty((n_frames, size, size), np.uint8)
    pos, idx, w00, w01, w10, w11 = geometry.bilinear
    pos = _ALL_POSITIONS if pos is None else pos
    resample = (pos, idx, w00, w01, w10, w11, lut, size * k)
    for f in range(n_frames):
        img = _beam_frame(fields, offset_map, k_db, int(offsets[f] // step), f, scanner, params)
        images[f] = _exported_frame(img, resample, geometry, scanner, overlay, size, rng)
    return images, offsets


@dataclass
class _EchoFields:
    """The clip's speckle fields in beam space, blurred by the PSF (see :func:`_echo_fields`)."""

    t_re: np.ndarray
    t_im: np.ndarray
    l1r: np.ndarray
    l1i: np.ndarray
    l2r: np.ndarray
    l2i: np.ndarray
    mean_t: np.ndarray
    mean_l: np.ndarray
    kappa: np.float32


def _echo_fields(scene: Scene, geometry: Geometry, scanner: Scanner, rng: np.random.Generator) -> _EchoFields:
    """Attenuated echo amplitudes times complex speckle, blurred by the PSF, and their local means.

    The diffuse echo maps are first blurred over the slice thickness (:func:`elevation_blur`).
    Chest wall: one complex field on the image lines. Lung: two complex
    realisations on the widened grid that frames blend between (decorrelating speckle);
    the specular part is coherent, the same in both.
    """
    h, m = scene.height, scene.margin
    step = geometry.step
    w = geometry.lines  # image scan lines
    mt = m // step  # lung-grid column of the first tissue line (margins are multiples of the step)
    att = np.exp(-scanner.atten * np.arange(h, dtype=np.float32) / h).astype(np.float32)[:, None]
    td, ts = tissue_echo(scene, rng, step)
    ld, ls = lung_echo(scene, rng, step)
    # partial volume over the slice thickness: the diffuse maps only (see elevation_blur)
    td = elevation_blur(td, scanner)
    ld = elevation_blur(ld, scanner, mode="wrap")
    n = ld.shape[1]
    td *= att
    ts *= att
    ld *= att
    ld += np.float32(scanner.noise_floor)
    ls *= att
    sc = gaussian_noise(rng, (6, h, n))
    # the chest wall's specular part rides on the real part (the blur is linear)
    t_re, t_im = psf_blur([td * sc[0, :, mt : mt + w], td * sc[1, :, mt : mt + w]], scanner, ts)
    l1r, l1i, l2r, l2i = psf_blur([ld * sc[2], ld * sc[3], ld * sc[4], ld * sc[5]], scanner, mode="wrap")
    l_sp = psf_blur([ls], scanner, mode="wrap")[0] / _blend_gain(scanner, h)
    l1r += l_sp
    l2r += l_sp  # the specular part is coherent: the same in both realisations
    # compounding / speckle reduction: a share kappa of the intensity is its local
    # mean (2 |diffuse|^2 plus |specular|^2, blurred by the PSF) instead of speckle
    kappa = np.float32(scanner.compounding)
    mean_t = smooth(2 * td * td + ts * ts, scanner)
    mean_t *= kappa
    mean_l = smooth(2 * ld * ld + ls * ls, scanner, mode="wrap")
    mean_l *= kappa
    return _EchoFields(t_re, t_im, l1r, l1i, l2r, l2i, mean_t, mean_l, kappa)


def _display_offsets(scene: Scene, scanner: Scanner, rng: np.random.Generator, params: RenderParams,
                     step: int) -> tuple[np.ndarray, np.float32]:
    """Display offset per pixel and the dB-to-display factor.

    The offset is TGC, apodisation and rib shadows in dB, minus the bottom of the
    dynamic range, over the dynamic range; the factor is 10 dB over the dynamic range.
    """
    gain = (scanner.tgc[:, None] * scanner.apod[None, :]).astype(np.float32)
    gain *= rib_shadow(scene, float(rng.uniform(*params.shadow_floor)), step)
    dr = np.float32(scanner.dynamic_range)
    offset_map = ((20 * np.log10(np.maximum(gain, 1e-6)) - (scanner.top_db - scanner.dynamic_range)) / dr)
    offset_map = offset_map.astype(np.float32)
    return offset_map, np.float32(10.0) / dr


def _sliding_offsets(rng: np.random.Generator, params: RenderParams, n_frames: int, h: int, m: int,
                     step: int) -> np.ndarray:
    """Lung-sliding offset of each frame: a sine of random amplitude, period and phase, in whole scan lines."""
    scale = h / 256.0
    amp = rng.uniform(*params.slide) * scale
    phase = rng.uniform(0, 2 * np.pi)
    period = rng.uniform(6, 14)
    f_idx = np.arange(n_frames)
    slide = np.rint((m + amp * np.sin(2 * np.pi * f_idx / period + phase)) / step)
    return np.clip(slide * step, 0, 2 * m).astype(int)  # whole scan lines


def _beam_frame(fields: _EchoFields, offset_map: np.ndarray, k_db: np.float32, lateral: int, f: int,
                scanner: Scanner, params: RenderParams) -> np.ndarray:
    """Display-scaled log image of frame ``f`` in beam space (speckle phase turned by ``f * speckle_dphi``)."""
    c, s = np.float32(np.cos(params.speckle_dphi * f)), np.float32(np.sin(params.speckle_dphi * f))
    one = np.float32(1.0)
    img = compose_log(fields.t_re, fields.t_im, fields.l1r, fields.l1i, fields.l2r, fields.l2i, fields.mean_t,
                      fields.mean_l, offset_map, lateral, one if f == 0 else c, np.float32(0) if f == 0 else s,
                      np.float32(fields.kappa), k_db)
    if scanner.smoothing > 0:  # speckle reduction: blend with a local mean
        sm = box_filter(box_filter(img, scanner.smooth_size[0], 0), scanner.smooth_size[1], 1)
        img *= np.float32(1 - scanner.smoothing)
        sm *= np.float32(scanner.smoothing)
        img += sm
    return img


def _exported_frame(img: np.ndarray, resample: tuple, geometry: Geometry, scanner: Scanner,
                    overlay: BurnIn | None, size: int, rng: np.random.Generator) -> np.ndarray:
    """A beam-space image scan-converted, resized to ``size``, with export noise and burned-in overlay."""
    k = geometry.factor
    q = scan_convert(img, *resample)
    if k > 1:  # resize to the frame size by area averaging, as ingest does
        q = q.reshape(size, k, size, k).mean(axis=(1, 3))
    q = np.rint(q).astype(np.uint8)
    if scanner.noise_sd > 0:
        noisy = gaussian_noise(rng, q.shape)
        noisy *= np.float32(scanner.noise_sd)
        noisy += q
        q = np.clip(noisy, 0, 255).astype(np.uint8)
        if geometry.valid is not None:
            q *= geometry.valid
    if overlay is not None:
        q = apply_burn_in(q, overlay)
    return q

"""Image formation of the simulator: from a scene to the B-mode frames of one clip.

Per clip (:func:`render_clip`):

1. *Echo maps* (:mod:`lusfeat.data._sim_echo`): diffuse and specular echo of
   the chest wall (static) and of the lung (on a widened grid that slides),
   attenuated with depth; the noise floor is added to the lung's diffuse map.
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
   with burned-in text.

Same random stream, same bytes: every draw comes from the clip's generator in
a fixed order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d

from ._sim_echo import lung_echo, rib_shadow, tissue_echo
from ._sim_kernels import compose_log, scan_convert
from ._sim_scanner import Geometry, Scanner, _blend_gain, burn_in, psf_blur, smooth
from ._sim_scene import Scene

__all__ = ["RenderParams", "render_clip"]


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
    model: str = "scatterer-psf-v2"


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
    scale = h / 256.0
    k = geometry.factor
    size = h // k
    step = geometry.step
    w = geometry.lines  # image scan lines
    mt = m // step  # lung-grid column of the first tissue line (margins are multiples of the step)
    att = np.exp(-scanner.atten * np.arange(h, dtype=np.float32) / h).astype(np.float32)[:, None]
    td, ts = tissue_echo(scene, rng, step)
    ld, ls = lung_echo(scene, rng, step)
    n = ld.shape[1]
    td *= att
    ts *= att
    ld *= att
    ld += np.float32(scanner.noise_floor)
    ls *= att
    sc = rng.standard_normal((6, h, n), dtype=np.float32)
    # the chest wall lies near the focus: its fields take the focal PSF (the specular
    # part rides on the real part, the blur being linear)
    t_re, t_im = psf_blur([td * sc[0, :, mt : mt + w], td * sc[1, :, mt : mt + w]], scanner, ts, focal=True)
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
    # display offset per pixel: TGC, apodisation and rib shadows in dB, minus the
    # bottom of the dynamic range, over the dynamic range
    gain = (scanner.tgc[:, None] * scanner.apod[None, :]).astype(np.float32)
    gain *= rib_shadow(scene, float(rng.uniform(*params.shadow_floor)), step)
    dr = np.float32(scanner.dynamic_range)
    offset_map = ((20 * np.log10(np.maximum(gain, 1e-6)) - (scanner.top_db - scanner.dynamic_range)) / dr)
    offset_map = offset_map.astype(np.float32)
    k_db = np.float32(10.0) / dr
    amp = rng.uniform(*params.slide) * scale
    phase = rng.uniform(0, 2 * np.pi)
    period = rng.uniform(6, 14)
    f_idx = np.arange(n_frames)
    slide = np.rint((m + amp * np.sin(2 * np.pi * f_idx / period + phase)) / step)
    offsets = np.clip(slide * step, 0, 2 * m).astype(int)  # whole scan lines
    overlay = burn_in(rng, geometry.valid, size)
    lut = scanner.lut.astype(np.float32)
    images = np.empty((n_frames, size, size), np.uint8)
    pos, idx, w00, w01, w10, w11 = geometry.bilinear
    pos = np.empty(0, np.int64) if pos is None else pos
    kappa_f, one = np.float32(kappa), np.float32(1.0)
    for f in range(n_frames):
        c, s = np.float32(np.cos(params.speckle_dphi * f)), np.float32(np.sin(params.speckle_dphi * f))
        img = compose_log(t_re, t_im, l1r, l1i, l2r, l2i, mean_t, mean_l, offset_map, int(offsets[f] // step),
                          one if f == 0 else c, np.float32(0) if f == 0 else s, kappa_f, k_db)
        if scanner.smoothing > 0:  # speckle reduction: blend with a local mean
            sm = uniform_filter1d(uniform_filter1d(img, scanner.smooth_size[0], axis=0), scanner.smooth_size[1], axis=1)
            img *= np.float32(1 - scanner.smoothing)
            sm *= np.float32(scanner.smoothing)
            img += sm
        q = scan_convert(img, pos, idx, w00, w01, w10, w11, lut, size * k)
        if k > 1:  # resize to the frame size by area averaging, as ingest does
            q = q.reshape(size, k, size, k).mean(axis=(1, 3))
        q = np.rint(q).astype(np.uint8)
        if scanner.noise_sd > 0:
            noisy = rng.standard_normal(q.shape, dtype=np.float32)
            noisy *= np.float32(scanner.noise_sd)
            noisy += q
            q = np.clip(noisy, 0, 255).astype(np.uint8)
            if geometry.valid is not None:
                q *= geometry.valid
        if overlay is not None:
            np.maximum(q, overlay, out=q)
        images[f] = q
    return images, offsets

"""Compiled steps of the renderer (numba, each with a NumPy twin used without numba).

A clip's echo maps, scatterers and PSF blurs are formed once; what changes from
frame to frame is the lung's lateral offset (lung sliding) and the speckle phase.
Each frame then takes two steps:

* :func:`compose_log` combines the static chest-wall field with the sliding lung
  fields at this frame's phase and forms the intensity with its compounded local
  mean (one compiled pass), then log-compresses it into display units (0-1 before
  clipping; NumPy's SIMD logarithm);
* :func:`scan_convert` (compiled) resamples the log image from the scan lines to the
  frame (bilinear, the lookup of :class:`lusfeat.data._sim_scanner.Geometry`),
  clips it and applies the grey map.

The PSF blurs (:func:`gaussian_blur`, the separable Gaussians the renderer
applies to every field of a clip) are compiled too: the depth pass adds whole
contiguous rows, the lateral pass contiguous slices of each row, so both vectorise.
So are the moving means (:func:`box_filter`, equal to ``scipy.ndimage.uniform_filter1d``)
of the tissue textures and of the scanner's speckle reduction.

Both frame steps follow the expressions of :func:`lusfeat.data._sim_render.render_clip`
operation by operation in float32.
"""

from __future__ import annotations

import functools

import numpy as np

try:
    from numba import njit
except ImportError:  # pragma: no cover - numba is a dependency; keep the renderer importable
    njit = None

__all__ = ["compose_log", "scan_convert", "gaussian_blur", "box_filter", "gaussian_noise"]


_LOG10_E = np.float32(np.log10(np.e))


def _intensity_py(t_re, t_im, l1r, l1i, l2r, l2i, mean_t, mean_l, col0, c, s, kappa):
    """NumPy twin of the compiled intensity step (the fallback without numba)."""
    w = t_re.shape[1]
    cols = slice(col0, col0 + w)
    re = t_re + c * l1r[:, cols] + s * l2r[:, cols]
    im = t_im + c * l1i[:, cols] + s * l2i[:, cols]
    re *= re
    im *= im
    re += im
    re *= np.float32(1) - kappa
    re += mean_t
    re += mean_l[:, cols]
    np.maximum(re, np.float32(1e-12), out=re)
    return re


if njit is not None:

    @njit(cache=True, nogil=True)
    def _intensity(t_re, t_im, l1r, l1i, l2r, l2i, mean_t, mean_l, col0, c, s, kappa):
        """Compounded intensity ``(H, W) float32`` of one frame, in one pass: the
        expressions of :func:`_intensity_py` element by element, in the same order."""
        h, w = t_re.shape
        out = np.empty((h, w), np.float32)
        keep = np.float32(1) - kappa
        floor = np.float32(1e-12)
        cols = slice(col0, col0 + w)
        for i in range(h):  # row slices: indices from 0 up, so the loop vectorises
            tr, ti, mt, o = t_re[i], t_im[i], mean_t[i], out[i]
            ar, ai, br, bi, ml = l1r[i, cols], l1i[i, cols], l2r[i, cols], l2i[i, cols], mean_l[i, cols]
            for j in range(w):
                re = tr[j] + c * ar[j] + s * br[j]
                im = ti[j] + c * ai[j] + s * bi[j]
                v = (re * re + im * im) * keep + mt[j] + ml[j]
                o[j] = max(v, floor)
        return out

else:  # pragma: no cover
    _intensity = _intensity_py


def compose_log(t_re, t_im, l1r, l1i, l2r, l2i, mean_t, mean_l, offset_map, col0, c, s, kappa, k_db):
    """Log-compressed display image of one frame, ``(H, W) float32``.

    The intensity is formed in one compiled pass; the logarithm is NumPy's SIMD
    natural logarithm (several times faster than a compiled scalar loop or NumPy's
    ``log10``), times ``log10(e)``.

    Parameters
    ----------
    t_re, t_im : (H, W) float32
        Chest-wall field (real and imaginary parts, PSF-blurred).
    l1r, l1i, l2r, l2i : (H, N) float32
        Two independent realisations of the lung field on the widened grid.
    mean_t : (H, W) float32
    mean_l : (H, N) float32
        Compounded local mean intensity (already times ``kappa``).
    offset_map : (H, W) float32
        TGC, apodisation and shadows in display units.
    col0 : int
        This frame's first lung column (lung sliding).
    c, s : float32
        Speckle phase: weights of the two lung realisations.
    kappa, k_db : float32
        Compounding share; 10 / dynamic range (dB).
    """
    img = _intensity(t_re, t_im, l1r, l1i, l2r, l2i, mean_t, mean_l, int(col0), np.float32(c), np.float32(s),
                     np.float32(kappa))
    np.log(img, out=img)  # NumPy's float32 natural log is SIMD; log10 is not (3.5x slower)
    img *= np.float32(k_db) * _LOG10_E
    img += offset_map
    return img


def _convert_py(img, pos, idx, w00, w01, w10, w11, lut, n):
    """NumPy twin of :func:`scan_convert` (the fallback without numba)."""
    w = img.shape[1]
    p = img.reshape(-1)
    val = p[idx] * w00
    val += p[idx + 1] * w01
    val += p[idx + w] * w10
    val += p[idx + w + 1] * w11
    np.clip(val, 0.0, 1.0, out=val)
    val *= np.float32(1023)
    q = lut[val.astype(np.int16)]
    if pos.size == 0:
        return q.reshape(n, n)
    out = np.zeros(n * n, np.float32)
    out[pos] = q
    return out.reshape(n, n)


if njit is not None:

    @njit(cache=True, nogil=True)
    def _convert_nb(img, pos, idx, w00, w01, w10, w11, lut, n):
        """Frame ``(n, n) float32`` of grey-map values from a log image ``(H, lines)``.

        ``pos`` (empty when the scan region is the whole frame), ``idx`` and the four
        weights are the bilinear lookup of the geometry; ``lut`` (1024,) float32 is
        the grey map; pixels outside the region are 0.
        """
        w = img.shape[1]
        p = img.ravel()
        out = np.zeros(n * n, np.float32)
        full = pos.size == 0
        for k in range(idx.size):
            i = idx[k]
            v = p[i] * w00[k] + p[i + 1] * w01[k] + p[i + w] * w10[k] + p[i + w + 1] * w11[k]
            if v < 0:
                v = np.float32(0)
            elif v > 1:
                v = np.float32(1)
            q = lut[np.int16(v * np.float32(1023))]
            out[k if full else pos[k]] = q
        return out.reshape(n, n)

    scan_convert = _convert_nb
else:  # pragma: no cover
    scan_convert = _convert_py


@functools.lru_cache(maxsize=256)  # a clip blurs ~32 fields with a handful of sigmas
def gaussian_kernel(sigma: float, truncate: float) -> np.ndarray:
    """Normalised Gaussian taps ``(2 r + 1,) float32``, ``r = int(truncate * sigma + 0.5)``
    (the kernel of :func:`scipy.ndimage.gaussian_filter1d`); cached, read-only."""
    r = int(truncate * float(sigma) + 0.5)
    x = np.arange(-r, r + 1, dtype=np.float64)
    phi = np.exp(-0.5 * (x / float(sigma)) ** 2)
    taps = (phi / phi.sum()).astype(np.float32)
    taps.setflags(write=False)
    return taps


def _depth_pass_py(x, k, wrap):
    h = x.shape[0]
    r = (k.size - 1) // 2
    src = np.arange(h)[:, None] + np.arange(-r, r + 1)[None, :]
    src = src % h if wrap else np.clip(src, 0, h - 1)
    return np.einsum("it...,t->i...", x[src], k).astype(np.float32)


if njit is not None:

    @njit(cache=True, nogil=True, inline="always")
    def _edge(src, n, wrap):
        """Sample index ``src`` of a line of ``n``: periodic (``wrap``) or the edge sample repeated."""
        return src % n if wrap else min(max(src, 0), n - 1)

    @njit(cache=True, nogil=True)
    def _depth_pass(x, k, wrap):
        """Correlate the rows of ``x (H, W) float32`` with ``k`` along depth (axis 0)."""
        h, w = x.shape
        r = (k.size - 1) // 2
        out = np.zeros((h, w), np.float32)
        for i in range(h):
            o = out[i]
            for t in range(k.size):
                kt = k[t]
                row = x[_edge(i + t - r, h, wrap)]
                for j in range(w):
                    o[j] += kt * row[j]
        return out

    @njit(cache=True, nogil=True)
    def _lateral_pass(x, k, wrap):
        """Correlate the rows of ``x (H, W) float32`` with ``k`` along each row (axis 1).

        The taps are accumulated in the order of :func:`_depth_pass` (equal to it on
        the transpose, bit for bit); the interior columns run as contiguous slices.
        """
        h, w = x.shape
        r = (k.size - 1) // 2
        out = np.zeros((h, w), np.float32)
        for i in range(h):
            o = out[i]
            row = x[i]
            for t in range(k.size):
                d = t - r
                kt = k[t]
                lo = max(0, -d)
                hi = min(w, w - d)
                for j in range(0, min(lo, w)):
                    o[j] += kt * row[_edge(j + d, w, wrap)]
                if hi > lo:  # contiguous slices: indices from 0 up, so the loop vectorises
                    ov = o[lo:hi]
                    rv = row[lo + d : hi + d]
                    for q in range(hi - lo):
                        ov[q] += kt * rv[q]
                for j in range(max(hi, lo), w):
                    o[j] += kt * row[_edge(j + d, w, wrap)]
        return out

else:  # pragma: no cover
    _depth_pass = _depth_pass_py

    def _lateral_pass(x, k, wrap):
        return np.ascontiguousarray(_depth_pass_py(np.ascontiguousarray(x.T), k, wrap).T)


def gaussian_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal samples ``shape float32`` by the Box-Muller transform.

    ``r = sqrt(-2 ln(1 - u1))``, ``(r cos 2 pi u2, r sin 2 pi u2)`` from float32
    uniforms (Box & Muller 1958), in NumPy's SIMD ufuncs: about twice as fast as
    ``Generator.standard_normal(dtype=float32)`` here. Exactly normal up to float32
    rounding and a tail cut at 5.77 SD (the smallest uniform step), which speckle
    never reaches; one draw of ``2 * ceil(size / 2)`` uniforms from ``rng``.
    """
    n = int(np.prod(shape))
    half = (n + 1) // 2
    u = rng.random(2 * half, dtype=np.float32)
    r, phi = u[:half], u[half:]
    np.subtract(np.float32(1), r, out=r)  # (0, 1]
    np.log(r, out=r)
    r *= np.float32(-2)
    np.sqrt(r, out=r)
    phi *= np.float32(2 * np.pi)
    out = np.empty(2 * half, np.float32)
    np.cos(phi, out=out[:half])
    np.sin(phi, out=out[half:])
    out[:half] *= r
    out[half:] *= r
    return out[:n].reshape(shape)


_BOX_MODES = {"wrap": 0, "reflect": 1}


def _box_py(x, width, axis, mode):
    """NumPy/SciPy twin of :func:`box_filter` (the fallback without numba)."""
    from scipy.ndimage import uniform_filter1d

    return uniform_filter1d(x, width, axis=axis, mode=("wrap", "reflect")[mode])


if njit is not None:

    @njit(cache=True, nogil=True, inline="always")
    def _extend(i, n, mode):
        """Index ``i`` of a line of ``n`` samples extended by ``mode`` (0 wrap, 1 reflect)."""
        if mode == 0:
            return i % n
        m = i % (2 * n)  # reflect: d c b a | a b c d | d c b a
        return m if m < n else 2 * n - 1 - m

    @njit(cache=True, nogil=True)
    def _box(x, width, axis, mode):
        """Moving mean of ``width`` samples along ``axis`` of ``x (H, W) float32``
        (window ``i - width // 2 ... i + (width - 1) // 2``, as ``uniform_filter1d``),
        a running sum in float64 over the line extended by ``mode``."""
        h, w = x.shape
        n = h if axis == 0 else w
        s1 = width // 2
        ext = np.empty(n + width - 1, np.int64)  # extended line position -> sample
        for k in range(ext.size):
            ext[k] = _extend(k - s1, n, mode)
        out = np.empty((h, w), np.float32)
        inv = 1.0 / width
        if axis == 0:  # running row sums, vectorised over the columns
            acc = np.zeros(w, np.float64)
            for t in range(width):
                row = x[ext[t]]
                for j in range(w):
                    acc[j] += row[j]
            for i in range(h):
                if i > 0:
                    add, sub = x[ext[i + width - 1]], x[ext[i - 1]]
                    for j in range(w):
                        acc[j] += np.float64(add[j]) - np.float64(sub[j])
                o = out[i]
                for j in range(w):
                    o[j] = acc[j] * inv
        else:
            buf = np.empty(ext.size, np.float64)
            for i in range(h):
                row, o = x[i], out[i]
                for k in range(ext.size):
                    buf[k] = row[ext[k]]
                a = 0.0
                for t in range(width):
                    a += buf[t]
                o[0] = a * inv
                for j in range(1, w):
                    a += buf[j + width - 1] - buf[j - 1]
                    o[j] = a * inv
        return out

else:  # pragma: no cover
    _box = _box_py


def box_filter(x: np.ndarray, width: int, axis: int, mode: str = "reflect") -> np.ndarray:
    """Moving mean of ``width`` samples along one axis of a 2-D float32 field.

    Equal to ``scipy.ndimage.uniform_filter1d(x, width, axis, mode=mode)`` to float32
    rounding (a float64 running sum), several times faster on the renderer's fields.

    Parameters
    ----------
    x : (H, W) float32
    width : int
        Window length, samples (>= 1).
    axis : {0, 1}
    mode : {"wrap", "reflect"}
        Edge handling: periodic, or mirrored about the edge (``d c b a | a b c d``).

    Returns
    -------
    (H, W) float32
    """
    return _box(np.ascontiguousarray(x, dtype=np.float32), int(width), int(axis), _BOX_MODES[mode])


def gaussian_blur(x: np.ndarray, sigma: float, axis: int, mode: str = "nearest", truncate: float = 4.0) -> np.ndarray:
    """Gaussian blur of a 2-D float32 field along one axis.

    Equal to ``scipy.ndimage.gaussian_filter1d(x, sigma, axis, mode=mode,
    truncate=truncate)`` to float32 rounding (it accumulates in float32), five to
    ten times faster on the renderer's fields.

    Parameters
    ----------
    x : (H, W) float32
    sigma : float
        Standard deviation, px (> 0).
    axis : {0, 1}
    mode : {"nearest", "wrap"}
        Edge handling: repeat the edge sample, or periodic.
    truncate : float
        Kernel half width in sigmas.

    Returns
    -------
    (H, W) float32, C-contiguous
    """
    k = gaussian_kernel(sigma, truncate)
    wrap = mode == "wrap"
    x = np.asarray(x, dtype=np.float32)
    x = np.ascontiguousarray(x)
    return _depth_pass(x, k, wrap) if axis == 0 else _lateral_pass(x, k, wrap)

"""Per-frame raw statistics in one numba pass per frame (the ``cpu`` backend).

Computes exactly the quantities of :func:`lusfeat.features._lus.pixel_stats`
(the record :data:`~lusfeat.features._layout.FRAME_STATS`) frame by frame inside one
compiled loop, reading each needed plane once instead of materialising
whole-batch temporaries. This is also the order in which a CUDA block would
accumulate them for its frame.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._layout import FRAME, FRAME_STATS
from ._lus import pixels_for

__all__ = ["pixel_stats_numba"]

_NR = len(FRAME_STATS)


@njit(cache=True, nogil=True)
def _count_plane(masks, words, words_ok, i, ci, nb, bw):
    """Pixels of class ``ci`` in frame ``i`` (empty 8-byte words skipped)."""
    cnt = 0
    plane = masks[i, ci]
    for r in range(plane.shape[0]):
        for k in range(nb):
            if words_ok and words[i, ci, r, k] == 0:
                continue
            for c in range(k * bw, k * bw + bw):
                cnt += plane[r, c]
    return cnt


@njit(cache=True, nogil=True)
def _pleural_columns(masks, images, has_images, words, words_ok, i, nb, bw, colcnt, top):
    """Per column: pleural pixels and first pleural row; returns pixels, row sum, intensity, last row."""
    P = masks[i, 0]
    h, w = P.shape
    for c in range(w):
        colcnt[c] = 0
        top[c] = -1
    pcount = 0
    rowsum = 0
    isum = 0
    last_row = -1
    for r in range(h):
        for kb in range(nb):
            if words_ok and words[i, 0, r, kb] == 0:
                continue
            for c in range(kb * bw, kb * bw + bw):
                if P[r, c]:
                    colcnt[c] += 1
                    if top[c] < 0:
                        top[c] = r
                    pcount += 1
                    rowsum += r
                    last_row = r
                    if has_images:
                        isum += images[i, r, c]
    return pcount, rowsum, isum, last_row


@njit(cache=True, nogil=True)
def _pleural_stats(o, colcnt, top, brk_i, last_row, xs, ys):
    """Coverage, r_p, depth sum, thickness and breaks into ``o``; the upper edge into ``xs, ys``."""
    w = colcnt.shape[0]
    ncov = 0
    sum_top = 0
    sum_cnt = 0
    first = -1
    last = -1
    for c in range(w):
        if colcnt[c] > 0:
            xs[ncov] = c
            ys[ncov] = top[c]
            ncov += 1
            sum_top += top[c]
            sum_cnt += colcnt[c]
            if first < 0:
                first = c
            last = c
    has_pl = ncov > 0
    r_p = last_row + 1 if has_pl else 0
    o[FRAME.ncov] = ncov
    o[FRAME.r_p] = r_p
    o[FRAME.sum_top] = sum_top
    if has_pl:
        tm = sum_cnt / ncov
        acc = 0.0
        for c in range(w):
            if colcnt[c] > 0:
                acc += (colcnt[c] - tm) ** 2
        o[FRAME.thick_mean] = tm
        o[FRAME.thick_sd] = np.sqrt(acc / ncov)
        breaks = 0
        gap = 0
        for c in range(first, last + 1):
            if colcnt[c] > 0:
                if gap >= brk_i:
                    breaks += 1
                gap = 0
            else:
                gap += 1
        o[FRAME.breaks] = breaks
    return ncov, r_p


@njit(cache=True, nogil=True)
def _roughness(xs, ys, ncov, q1, q2):
    """SD of the residual of ``ys`` from a least-squares quadratic in ``xs`` (modified Gram-Schmidt)."""
    if ncov < 3:
        return np.nan
    xm = 0.0
    ym = 0.0
    for j in range(ncov):
        xm += xs[j]
        ym += ys[j]
    xm /= ncov
    ym /= ncov
    q1n = 0.0
    u2m = 0.0
    for j in range(ncov):
        q1[j] = xs[j] - xm
        q1n += q1[j] * q1[j]
        u2m += q1[j] * q1[j]
    u2m /= ncov
    dot = 0.0
    for j in range(ncov):
        q2[j] = q1[j] * q1[j] - u2m
        dot += q2[j] * q1[j]
    q2n = 0.0
    for j in range(ncov):
        q2[j] -= dot / q1n * q1[j]
        q2n += q2[j] * q2[j]
    d1 = 0.0
    for j in range(ncov):
        ys[j] -= ym
        d1 += q1[j] * ys[j]
    d2 = 0.0
    for j in range(ncov):
        ys[j] -= d1 / q1n * q1[j]
        d2 += q2[j] * ys[j]
    ss = 0.0
    for j in range(ncov):
        ys[j] -= (d2 / q2n if q2n != 0 else 0.0) * q2[j]
        ss += ys[j] * ys[j]
    return np.sqrt(ss / ncov)


@njit(cache=True, nogil=True)
def _b_line_stats(o, masks, images, has_images, words, words_ok, i, nb, bw, colcnt, has_pl, r_p,
                  ref_i, nbw_i, pc, bcol, cs):
    """Reference-row, below-pleura and neighbour-column B-line statistics into ``o``; returns pixels."""
    B = masks[i, 2]
    h, w = B.shape
    wp = 0
    for c in range(w):
        pc[c] = 1 if (colcnt[c] > 0 or not has_pl) else 0
        wp += pc[c]
        bcol[c] = 0
    r_d = min(r_p + ref_i, h - 1)
    b_ref = 0
    b_ref_pc = 0
    for c in range(w):
        if B[r_d, c]:
            b_ref += 1
            b_ref_pc += pc[c]
    bcount = 0
    b_below = 0
    b_below_pc = 0
    b_isum = 0
    for r in range(h):
        for kb in range(nb):
            if words_ok and words[i, 2, r, kb] == 0:
                continue
            for c in range(kb * bw, kb * bw + bw):
                if B[r, c]:
                    bcount += 1
                    if r >= r_p:
                        b_below += 1
                        b_below_pc += pc[c]
                        bcol[c] = 1
                        if has_images:
                            b_isum += images[i, r, c]
    o[FRAME.b_ref] = b_ref
    o[FRAME.b_ref_pc] = b_ref_pc
    o[FRAME.wp] = wp
    o[FRAME.b_below_pc] = b_below_pc
    o[FRAME.b_below] = b_below
    if has_images:
        cs[0] = 0
        for c in range(w):
            cs[c + 1] = cs[c] + bcol[c]
        n_cols = 0
        n_isum = 0
        for c in range(w):
            lo = max(c - nbw_i, 0)
            hi = min(c + nbw_i + 1, w)
            if bcol[c] == 0 and cs[hi] - cs[lo] > 0:
                n_cols += 1
                for r in range(r_p, h):
                    n_isum += images[i, r, c]
        o[FRAME.b_isum] = b_isum
        o[FRAME.n_isum] = n_isum
        o[FRAME.n_count] = n_cols * (h - r_p)
    else:
        o[FRAME.b_isum] = np.nan
        o[FRAME.n_isum] = np.nan
        o[FRAME.n_count] = np.nan
    return bcount


@njit(cache=True, nogil=True)
def _effusion(masks, words, words_ok, i, nb, bw, colcnt):
    """Effusion pixels and the largest count in one column."""
    E = masks[i, 4]
    h, w = E.shape
    ecount = 0
    emax = 0
    for c in range(w):
        colcnt[c] = 0
    for r in range(h):
        for kb in range(nb):
            if words_ok and words[i, 4, r, kb] == 0:
                continue
            for c in range(kb * bw, kb * bw + bw):
                if E[r, c]:
                    colcnt[c] += 1
                    ecount += 1
    for c in range(w):
        if colcnt[c] > emax:
            emax = colcnt[c]
    return ecount, emax


@njit(cache=True, nogil=True)
def _frames_kernel(masks, images, has_images, brk, ref, nbw, words, words_ok):
    n, nc, h, w = masks.shape
    nb = w // 8 if words_ok else 1  # blocks per row; all-zero 8-byte words are skipped
    bw = 8 if words_ok else w
    pix = np.zeros((n, nc), dtype=np.float64)
    out = np.zeros((n, _NR), dtype=np.float64)
    colcnt = np.zeros(w, dtype=np.int64)
    top = np.zeros(w, dtype=np.int64)
    pc = np.zeros(w, dtype=np.uint8)
    bcol = np.zeros(w, dtype=np.uint8)
    cs = np.zeros(w + 1, dtype=np.int64)
    xs = np.zeros(w, dtype=np.float64)
    ys = np.zeros(w, dtype=np.float64)
    q1 = np.zeros(w, dtype=np.float64)
    q2 = np.zeros(w, dtype=np.float64)
    for i in range(n):
        o = out[i]
        for ci in (1, 3):
            pix[i, ci] = _count_plane(masks, words, words_ok, i, ci, nb, bw)
        pcount, rowsum, isum, last_row = _pleural_columns(masks, images, has_images, words, words_ok, i, nb,
                                                          bw, colcnt, top)
        pix[i, 0] = pcount
        ncov, r_p = _pleural_stats(o, colcnt, top, brk[i], last_row, xs, ys)
        o[FRAME.rough] = _roughness(xs, ys, ncov, q1, q2)
        o[FRAME.p_isum] = isum if has_images else np.nan
        o[FRAME.p_rowsum] = rowsum
        pix[i, 2] = _b_line_stats(o, masks, images, has_images, words, words_ok, i, nb, bw, colcnt,
                                  ncov > 0, r_p, ref[i], nbw[i], pc, bcol, cs)
        ecount, emax = _effusion(masks, words, words_ok, i, nb, bw, colcnt)
        pix[i, 4] = ecount
        o[FRAME.e_thick] = emax
    return pix, out


def pixel_stats_numba(masks: np.ndarray, images: np.ndarray | None, spacing: np.ndarray) -> dict:
    """Numba twin of :func:`lusfeat.features._lus.pixel_stats` (same keys and values)."""
    m = np.ascontiguousarray(masks).view(np.uint8)
    img = np.ascontiguousarray(images) if images is not None else np.zeros((1, 1, 1), np.uint8)
    ok = m.shape[3] % 8 == 0 and m.size > 0
    words = m.view(np.uint64) if ok else np.zeros((1, 1, 1, 1), np.uint64)
    pix, out = _frames_kernel(m, img, images is not None, pixels_for("break_length", spacing),
                              pixels_for("reference_depth", spacing),
                              pixels_for("neighbour_width", spacing), words, ok)
    raw = {name: out[:, j] for name, j in FRAME._asdict().items()}
    raw["pix"] = pix
    return raw

"""Row-run labelling with exact integer statistics (the ``cpu`` backend's core).

This module is the CPU twin of the CUDA kernel in :mod:`._cuda_kernels`: the
same algorithm, step for step, plane by plane:

1. find the row runs of the plane (raster order);
2. union-find over runs that touch in the previous row (8-connectivity), the
   root of a set being its first run, so labels follow scikit-image's raster
   order of first pixels;
3. accumulate per component, in int64, the closed-form run moments (area,
   sums of row, col, row^2, col^2, row*col), the bounding box, the
   intensity sum and the perimeter border-code classes;
4. per component, the convex hull of pixel-edge midpoints from the row
   extremes (Andrew's monotone chain on doubled integer coordinates) and the
   exact count of integer points inside it (scikit-image's ``area_convex``).

Floating-point values (centroid, inertia tensor, axis lengths...) are
derived from these integers in :mod:`._props`.
"""

from __future__ import annotations

import numpy as np

from ._layout import COMPONENT_STATS, STAT

try:
    from numba import njit
except ImportError:  # pure-Python fallback (slow; lets the cuda path import without numba)

    def njit(*args, **kwargs):
        if args and callable(args[0]):
            return args[0]
        return lambda f: f

__all__ = ["plane_stats", "label_planes"]

_NF = len(COMPONENT_STATS)


@njit(cache=True, nogil=True)
def _find(parent, i):
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:  # path compression
        nxt = parent[i]
        parent[i] = root
        i = nxt
    return root


@njit(cache=True, nogil=True)
def _hull_of_label(rows, starts, ends, run_ids, n_r, minr, xs_lo, xs_hi, hx, hy):
    """Hull (doubled coordinates, CCW) of a component's pixel-edge midpoints.

    ``xs_lo/xs_hi`` hold, per doubled row coordinate X = 2r-1 .. 2r+1, the
    smallest and largest doubled column Y of the candidate points.
    Returns the number of hull vertices written to ``hx, hy``.
    """
    nx = 2 * n_r + 1
    for k in range(nx):
        xs_lo[k] = 1 << 40
        xs_hi[k] = -(1 << 40)
    for t in range(run_ids.shape[0]):
        j = run_ids[t]
        r = rows[j]
        a = starts[j]
        b = ends[j]
        base = 2 * (r - minr)  # index of X = 2r - 1
        # X = 2r - 1 and 2r + 1: edge midpoints above/below the pixels, Y in [2a, 2b]
        for k in (base, base + 2):
            if 2 * a < xs_lo[k]:
                xs_lo[k] = 2 * a
            if 2 * b > xs_hi[k]:
                xs_hi[k] = 2 * b
        k = base + 1  # X = 2r: left/right edge midpoints
        if 2 * a - 1 < xs_lo[k]:
            xs_lo[k] = 2 * a - 1
        if 2 * b + 1 > xs_hi[k]:
            xs_hi[k] = 2 * b + 1
    # Andrew's monotone chain over points sorted by (X, Y)
    npts = 0
    px = np.empty(2 * nx, dtype=np.int64)
    py = np.empty(2 * nx, dtype=np.int64)
    for k in range(nx):
        if xs_hi[k] < xs_lo[k]:
            continue
        x = 2 * minr - 1 + k
        px[npts] = x
        py[npts] = xs_lo[k]
        npts += 1
        if xs_hi[k] != xs_lo[k]:
            px[npts] = x
            py[npts] = xs_hi[k]
            npts += 1
    m = 0
    for i in range(npts):  # lower hull
        while m >= 2 and ((hx[m - 1] - hx[m - 2]) * (py[i] - hy[m - 2])
                          - (hy[m - 1] - hy[m - 2]) * (px[i] - hx[m - 2])) <= 0:
            m -= 1
        hx[m] = px[i]
        hy[m] = py[i]
        m += 1
    lower = m + 1
    for i in range(npts - 2, -1, -1):  # upper hull
        while m >= lower and ((hx[m - 1] - hx[m - 2]) * (py[i] - hy[m - 2])
                              - (hy[m - 1] - hy[m - 2]) * (px[i] - hx[m - 2])) <= 0:
            m -= 1
        hx[m] = px[i]
        hy[m] = py[i]
        m += 1
    return m - 1  # last point repeats the first


@njit(cache=True, nogil=True)
def _hull_area_perimeter(hx, hy, nv, minr, maxr, minc, maxc):
    """Integer points in the closed hull polygon and the polygon's length (px)."""
    count = 0
    for r in range(minr, maxr + 1):
        rr = 2 * r
        lo = minc
        hi = maxc
        for i in range(nv):
            j = i + 1 if i + 1 < nv else 0
            dx = hx[j] - hx[i]
            dy = hy[j] - hy[i]
            # inside (left of edge i->j): dx*(C - Yi) - dy*(R - Xi) >= 0, C = 2c
            kk = dx * hy[i] + dy * (rr - hx[i])
            if dx > 0:
                c = -((-kk) // (2 * dx))
                if c > lo:
                    lo = c
            elif dx < 0:
                c = kk // (2 * dx)
                if c < hi:
                    hi = c
            elif -dy * (rr - hx[i]) < 0:
                hi = lo - 1
        if hi >= lo:
            count += hi - lo + 1
    per = 0.0
    for i in range(nv):
        j = i + 1 if i + 1 < nv else 0
        dx = float(hx[j] - hx[i])
        dy = float(hy[j] - hy[i])
        per += np.sqrt(dx * dx + dy * dy)
    return count, per / 2.0


@njit(cache=True, nogil=True)
def _code_class(code):
    # scikit-image perimeter weights: 1 at {5,7,15,17,25,27}, sqrt2 at {21,33},
    # (1+sqrt2)/2 at {13,23}
    if code == 5 or code == 7 or code == 15 or code == 17 or code == 25 or code == 27:
        return 1
    if code == 21 or code == 33:
        return 2
    if code == 13 or code == 23:
        return 3
    return 0


@njit(cache=True, nogil=True)
def _find_runs(m, p, words, words_ok, rows, starts, ends, parent, row_ptr):
    """Step 1: the plane's row runs in raster order; returns their number."""
    h, w = m.shape
    n = 0
    for r in range(h):
        row_ptr[r] = n
        c = 0
        while c < w:
            if words_ok and (c & 7) == 0 and c + 8 <= w and words[p, r, c >> 3] == 0:
                c += 8  # skip 8 empty pixels at once (masks are sparse)
                continue
            if m[r, c]:
                s = c
                while c < w and m[r, c]:
                    c += 1
                rows[n] = r
                starts[n] = s
                ends[n] = c - 1
                parent[n] = n
                n += 1
            else:
                c += 1
    row_ptr[h] = n
    return n


@njit(cache=True, nogil=True)
def _union_rows(h, starts, ends, parent, row_ptr):
    """Step 2: union-find with the previous row (8-connectivity), root = first run."""
    for r in range(1, h):
        i = row_ptr[r - 1]
        i_end = row_ptr[r]
        for j in range(row_ptr[r], row_ptr[r + 1]):
            while i < i_end and ends[i] + 1 < starts[j]:
                i += 1
            t = i
            while t < i_end and starts[t] <= ends[j] + 1:
                ra = _find(parent, t)
                rb = _find(parent, j)
                if ra < rb:
                    parent[rb] = ra
                elif rb < ra:
                    parent[ra] = rb
                t += 1


@njit(cache=True, nogil=True)
def _label_runs(n, parent, lab):
    """Labels 0.. of the roots in run order; every run gets its root's label. Returns the count."""
    n_lab = 0
    for j in range(n):
        root = _find(parent, j)
        if root == j:
            lab[j] = n_lab
            n_lab += 1
        else:
            lab[j] = lab[root]
    return n_lab


@njit(cache=True, nogil=True)
def _init_rows(out, base_k, n_lab, p, h, w):
    for q in range(n_lab):
        row = out[base_k + q]
        row[:] = 0
        row[STAT.plane] = p
        row[STAT.label] = q + 1
        row[STAT.min_r] = h
        row[STAT.min_c] = w
        row[STAT.max_r] = -1
        row[STAT.max_c] = -1


@njit(cache=True, nogil=True)
def _accumulate_runs(out, base_k, n, m, img, has_images, rows, starts, ends, lab, border):
    """Step 3: closed-form run moments, bbox and intensity; marks the border plane."""
    h = m.shape[0]
    for j in range(n):
        row = out[base_k + lab[j]]
        r = rows[j]
        a = starts[j]
        b = ends[j]
        ln = b - a + 1
        sc = (a + b) * ln // 2
        scc = (b * (b + 1) * (2 * b + 1) - (a - 1) * a * (2 * a - 1)) // 6
        row[STAT.area] += ln
        row[STAT.sum_r] += r * ln
        row[STAT.sum_c] += sc
        row[STAT.sum_rr] += r * r * ln
        row[STAT.sum_cc] += scc
        row[STAT.sum_rc] += r * sc
        if r < row[STAT.min_r]:
            row[STAT.min_r] = r
        if a < row[STAT.min_c]:
            row[STAT.min_c] = a
        if r > row[STAT.max_r]:
            row[STAT.max_r] = r
        if b > row[STAT.max_c]:
            row[STAT.max_c] = b
        for c in range(a, b + 1):
            if has_images:
                row[STAT.sum_i] += img[r, c]
            inner = (c > a and c < b and r > 0 and r < h - 1
                     and m[r - 1, c] != 0 and m[r + 1, c] != 0)
            border[r + 1, c + 1] = 0 if inner else 1


@njit(cache=True, nogil=True)
def _perimeter_classes(out, base_k, n, rows, starts, ends, lab, border):
    """Step 3 (cont.): perimeter code classes of the border pixels; clears the border plane."""
    for j in range(n):
        row = out[base_k + lab[j]]
        r = rows[j] + 1
        for c in range(starts[j] + 1, ends[j] + 2):
            if border[r, c]:
                code = (1 + 2 * (border[r - 1, c] + border[r + 1, c] + border[r, c - 1]
                                 + border[r, c + 1])
                        + 10 * (border[r - 1, c - 1] + border[r - 1, c + 1]
                                + border[r + 1, c - 1] + border[r + 1, c + 1]))
                cls = _code_class(code)
                if cls == 1:
                    row[STAT.n_p1] += 1
                elif cls == 2:
                    row[STAT.n_p2] += 1
                elif cls == 3:
                    row[STAT.n_p3] += 1
    for j in range(n):  # clear the border plane where we wrote
        r = rows[j] + 1
        for c in range(starts[j] + 1, ends[j] + 2):
            border[r, c] = 0


@njit(cache=True, nogil=True)
def _hulls(out, hper, base_k, n, n_lab, rows, starts, ends, lab, counts, xs_lo, xs_hi, hx, hy):
    """Step 4: convex hull area and length per component, from its runs in raster order."""
    for q in range(n_lab):
        counts[q] = 0
    for j in range(n):
        counts[lab[j]] += 1
    offs = np.empty(n_lab + 1, dtype=np.int64)
    offs[0] = 0
    for q in range(n_lab):
        offs[q + 1] = offs[q] + counts[q]
    fill = offs[:-1].copy()
    order = np.empty(n, dtype=np.int64)
    for j in range(n):
        order[fill[lab[j]]] = j
        fill[lab[j]] += 1
    for q in range(n_lab):
        row = out[base_k + q]
        minr = row[STAT.min_r]
        maxr = row[STAT.max_r]
        nv = _hull_of_label(rows, starts, ends, order[offs[q]:offs[q + 1]], maxr - minr + 1,
                            minr, xs_lo, xs_hi, hx, hy)
        cnt, per = _hull_area_perimeter(hx, hy, nv, minr, maxr, row[STAT.min_c], row[STAT.max_c])
        row[STAT.area_convex] = cnt
        hper[base_k + q] = per


@njit(cache=True, nogil=True)
def plane_stats(planes, images, plane_image, has_images, words, words_ok):
    """Label every plane and return exact per-component statistics.

    Parameters
    ----------
    planes : (P, H, W) uint8
        Binary planes (0/1).
    images : (F, H, W) uint8
        Intensity images (ignored unless ``has_images``; pass a (1, 1, 1) dummy).
    plane_image : (P,) int64
        Index into ``images`` of each plane.
    has_images : bool
    words : (P, H, W // 8) uint64
        The same planes viewed as 8-byte words (when ``W % 8 == 0``) to skip
        empty stretches quickly; pass a (1, 1, 1) dummy otherwise.
    words_ok : bool

    Returns
    -------
    stats : (K, 17) int64
        One row per component, columns :data:`~._layout.COMPONENT_STATS`,
        ordered by plane then label.
    hull_perimeter : (K,) float64
        Length of each component's convex hull polygon in pixels.
    """
    n_planes, h, w = planes.shape
    cap = 1024
    out = np.zeros((cap, _NF), dtype=np.int64)
    hper = np.zeros(cap, dtype=np.float64)
    k_out = 0
    max_runs = h * ((w + 1) // 2)
    rows = np.empty(max_runs, dtype=np.int64)
    starts = np.empty(max_runs, dtype=np.int64)
    ends = np.empty(max_runs, dtype=np.int64)
    parent = np.empty(max_runs, dtype=np.int64)
    lab = np.empty(max_runs, dtype=np.int64)
    counts = np.empty(max_runs, dtype=np.int64)
    row_ptr = np.empty(h + 1, dtype=np.int64)
    border = np.zeros((h + 2, w + 2), dtype=np.uint8)
    xs_lo = np.empty(2 * h + 3, dtype=np.int64)
    xs_hi = np.empty(2 * h + 3, dtype=np.int64)
    hx = np.empty(4 * h + 8, dtype=np.int64)
    hy = np.empty(4 * h + 8, dtype=np.int64)
    for p in range(n_planes):
        m = planes[p]
        n = _find_runs(m, p, words, words_ok, rows, starts, ends, parent, row_ptr)
        if n == 0:
            continue
        _union_rows(h, starts, ends, parent, row_ptr)
        n_lab = _label_runs(n, parent, lab)
        if k_out + n_lab > cap:
            while k_out + n_lab > cap:
                cap *= 2
            bigger = np.zeros((cap, _NF), dtype=np.int64)
            bigger[:k_out] = out[:k_out]
            out = bigger
            hp2 = np.zeros(cap, dtype=np.float64)
            hp2[:k_out] = hper[:k_out]
            hper = hp2
        _init_rows(out, k_out, n_lab, p, h, w)
        img = images[plane_image[p]] if has_images else images[0]
        _accumulate_runs(out, k_out, n, m, img, has_images, rows, starts, ends, lab, border)
        _perimeter_classes(out, k_out, n, rows, starts, ends, lab, border)
        _hulls(out, hper, k_out, n, n_lab, rows, starts, ends, lab, counts, xs_lo, xs_hi, hx, hy)
        k_out += n_lab
    return out[:k_out].copy(), hper[:k_out].copy()


def label_planes(planes: np.ndarray, images: np.ndarray | None, plane_image: np.ndarray):
    """:func:`plane_stats` on (P, H, W) uint8 planes, with the 8-byte word view when possible."""
    planes = np.ascontiguousarray(planes)
    p, h, w = planes.shape
    ok = w % 8 == 0 and p * h * w > 0
    words = planes.view(np.uint64) if ok else np.zeros((1, 1, 1), np.uint64)
    img = np.ascontiguousarray(images) if images is not None else np.zeros((1, 1, 1), np.uint8)
    return plane_stats(planes, img, plane_image, images is not None, words, ok)

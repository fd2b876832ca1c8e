"""CUDA source of the ``cuda`` backend: one block per frame-class plane.

The kernel ``lusfeat_label_stats_u8`` is the GPU twin of
:func:`lusfeat.features._runs.plane_stats` (same algorithm, same integer
results):

1. the plane's bool bytes are bit-packed into shared memory with warp ballots;
2. each row's runs are found with bit tricks, counted, prefix-summed and
   written in raster order to shared memory;
3. union-find over runs touching in the previous row (8-connectivity), lock
   free with ``atomicCAS``, always linking the larger root under the smaller,
   so every root is its component's first run (scikit-image's label order);
4. labels by a block prefix count of roots; one ``atomicAdd`` on a global
   counter reserves the plane's output rows (no host sync);
5. per run, closed-form moments, bbox, intensity sum and the perimeter code
   classes of its border pixels (from the bit-packed border mask); a warp per
   component gathers and reduces them in registers, or, for planes with many
   components, one thread per run adds them with 64-bit integer atomics
   (exact and order independent either way);
6. one warp lane per component builds the convex hull of pixel-edge
   midpoints from the row extremes (monotone chain on doubled integer
   coordinates) and counts the integer points inside it exactly.

Planes whose run count exceeds the shared-memory capacity set a flag and are
redone by the same kernel with run storage in global memory
(``lusfeat_label_stats_u8_global``).

Configuration, not patching: the source is compiled with the ``-D`` options of
:func:`compile_options` (block size ``LUSFEAT_BLOCK``, ``HULL_CAP`` and the
component-row layout of :mod:`._layout`) by :func:`build_kernels`, cached per
device with ``cupy.memoize``; :func:`launch_plan` sizes the launches. The host
emulator of the tests compiles the same text with the same options and sizes
its launches with the same :func:`launch_plan`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from ._layout import COMPONENT_STATS, cuda_defines

try:  # compiled kernels are cached per device and per options
    from cupy import memoize as _memoize
except ImportError:  # no CuPy: the builder is never called, but the module imports

    def _memoize(for_each_device: bool = False):
        return functools.cache

__all__ = ["BLOCK", "HULL_CAP", "KERNEL_SOURCE", "LaunchPlan", "STAT_COLUMNS", "build_kernels",
           "compile_options", "launch_plan"]

#: Number of int64 columns per component row (:data:`._layout.COMPONENT_STATS`).
STAT_COLUMNS = len(COMPONENT_STATS)

KERNEL_SOURCE = r"""
// Compile-time configuration: compile_options() passes every macro below as -D.
#if !defined(LUSFEAT_BLOCK) || !defined(HULL_CAP) || !defined(NF) || !defined(F_AREA_CONVEX)
#error "compile with lusfeat.features._cuda_kernels.compile_options()"
#endif
#if LUSFEAT_BLOCK % 32 != 0 || LUSFEAT_BLOCK > 1024
#error "LUSFEAT_BLOCK must be a multiple of 32, at most 1024"
#endif
// The dynamic shared-memory array of a block (a host emulator may define it otherwise).
#ifndef LUSFEAT_DYNAMIC_SHARED
#define LUSFEAT_DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#endif

typedef long long i64;
typedef unsigned long long u64;


__device__ __forceinline__ int uf_find(int* parent, int x) {
    volatile int* par = parent;   // other threads link roots concurrently
    int p = par[x];
    while (p != x) {
        x = p;
        p = par[x];
    }
    return x;
}

__device__ __forceinline__ void uf_unite(int* parent, int a, int b) {
    while (true) {
        a = uf_find(parent, a);
        b = uf_find(parent, b);
        if (a == b) return;
        if (a > b) { int t = a; a = b; b = t; }
        int old = atomicCAS(&parent[b], b, a);   // link root b under the smaller root a
        if (old == b) return;
        b = old;
    }
}

__device__ __forceinline__ int get_bit(const unsigned int* bits, int nw, int h, int w, int r, int c) {
    if (r < 0 || r >= h || c < 0 || c >= w) return 0;
    return (bits[r * nw + (c >> 5)] >> (c & 31)) & 1u;
}

// Exclusive block scan of vals[0..n) in place; returns the total. n <= 4 * LUSFEAT_BLOCK * k.
__device__ int block_exclusive_scan(int* vals, int n, int* tmp) {
    int per = (n + LUSFEAT_BLOCK - 1) / LUSFEAT_BLOCK;
    int lo = threadIdx.x * per;
    int hi = min(lo + per, n);
    int s = 0;
    for (int i = lo; i < hi; ++i) s += vals[i];
    tmp[threadIdx.x] = s;
    __syncthreads();
    for (int off = 1; off < LUSFEAT_BLOCK; off <<= 1) {
        int v = (threadIdx.x >= off) ? tmp[threadIdx.x - off] : 0;
        __syncthreads();
        tmp[threadIdx.x] += v;
        __syncthreads();
    }
    int run = tmp[threadIdx.x] - s;
    for (int i = lo; i < hi; ++i) { int v = vals[i]; vals[i] = run; run += v; }
    int total = tmp[LUSFEAT_BLOCK - 1];
    __syncthreads();
    return total;
}

// Packed doubled coordinates: (X + 2) << 16 | (Y + 2), both in [-1, 2049].
__device__ __forceinline__ i64 px_(unsigned int v) { return (i64)(v >> 16) - 2; }
__device__ __forceinline__ i64 py_(unsigned int v) { return (i64)(v & 0xffffu) - 2; }

__device__ __forceinline__ bool hull_push(unsigned int* st, int* n, int cap, i64 X, i64 Y, int lower) {
    while (*n >= 2) {
        i64 x1 = px_(st[*n - 2]), y1 = py_(st[*n - 2]), x2 = px_(st[*n - 1]), y2 = py_(st[*n - 1]);
        i64 cr = (x2 - x1) * (Y - y1) - (y2 - y1) * (X - x1);
        if (lower ? (cr <= 0) : (cr >= 0)) --*n; else break;
    }
    if (*n >= cap) return false;
    st[*n] = ((unsigned int)(X + 2) << 16) | (unsigned int)(Y + 2);
    ++*n;
    return true;
}

__device__ __forceinline__ bool hull_feed(unsigned int* lo_st, int* nl, unsigned int* up_st, int* nu,
                                          int cap, i64 X, i64 ylo, i64 yhi) {
    bool ok = hull_push(lo_st, nl, cap, X, ylo, 1) && hull_push(up_st, nu, cap, X, ylo, 0);
    if (yhi != ylo) ok = ok && hull_push(lo_st, nl, cap, X, yhi, 1) && hull_push(up_st, nu, cap, X, yhi, 0);
    return ok;
}

// Convex hull of the component's pixel-edge midpoints (doubled coordinates), fed in
// (X, Y) order from the row extremes; exact count of integer points inside; length.
// Returns false when a hull stack would exceed cap (the plane then goes to the fallback).
__device__ bool hull_count(const int* rstart, const int* rend, const int* lab, const int* row_ptr,
                           int q, i64 minr, i64 maxr, i64 minc, i64 maxc,
                           unsigned int* lo_st, unsigned int* up_st, int cap,
                           i64* out_count, double* out_per) {
    int nl = 0, nu = 0;
    bool ok = true;
    i64 pa = 0, pb = -1;   // extremes of the previous row, pending at X = 2(r-1)+1
    for (i64 r = minr; r <= maxr && ok; ++r) {
        i64 a = 1LL << 40, b = -(1LL << 40);
        for (int j = row_ptr[r]; j < row_ptr[r + 1]; ++j) {
            if (lab[j] != q) continue;
            if (rstart[j] < a) a = rstart[j];
            if (rend[j] > b) b = rend[j];
        }
        if (b < a) {  // cannot happen for a connected component; flush defensively
            if (pb >= pa) ok = hull_feed(lo_st, &nl, up_st, &nu, cap, 2 * r - 1, 2 * pa, 2 * pb);
            pb = pa - 1;
            continue;
        }
        i64 lo = 2 * a, hi = 2 * b;           // X = 2r - 1, merged with the previous row's X = 2r-1
        if (pb >= pa) { lo = min(lo, 2 * pa); hi = max(hi, 2 * pb); }
        ok = ok && hull_feed(lo_st, &nl, up_st, &nu, cap, 2 * r - 1, lo, hi);
        ok = ok && hull_feed(lo_st, &nl, up_st, &nu, cap, 2 * r, 2 * a - 1, 2 * b + 1);
        pa = a; pb = b;
    }
    if (ok && pb >= pa) ok = hull_feed(lo_st, &nl, up_st, &nu, cap, 2 * maxr + 1, 2 * pa, 2 * pb);
    if (!ok) return false;
    // CCW polygon: lower chain, then the upper chain reversed without its two ends
    int nv = nl + nu - 2;
    #define VX(i) ((i) < nl ? px_(lo_st[(i)]) : px_(up_st[nu - 2 - ((i) - nl)]))
    #define VY(i) ((i) < nl ? py_(lo_st[(i)]) : py_(up_st[nu - 2 - ((i) - nl)]))
    i64 count = 0;
    for (i64 r = minr; r <= maxr; ++r) {
        i64 rr = 2 * r, lo = minc, hi = maxc;
        for (int i = 0; i < nv; ++i) {
            int j = (i + 1 < nv) ? i + 1 : 0;
            i64 xi = VX(i), yi = VY(i);
            i64 dx = VX(j) - xi, dy = VY(j) - yi;
            i64 kk = dx * yi + dy * (rr - xi);
            if (dx > 0) {
                i64 d = 2 * dx;  // c >= ceil(kk / d)
                i64 c = (kk >= 0) ? (kk + d - 1) / d : -((-kk) / d);
                if (c > lo) lo = c;
            } else if (dx < 0) {
                i64 d = -2 * dx;  // c <= floor(kk / (2 dx)) = floor(-kk / d)
                i64 m = -kk;
                i64 c = (m >= 0) ? m / d : -((-m + d - 1) / d);
                if (c < hi) hi = c;
            } else if (-dy * (rr - xi) < 0) {
                hi = lo - 1;
            }
        }
        if (hi >= lo) count += hi - lo + 1;
    }
    double per = 0.0;
    for (int i = 0; i < nv; ++i) {
        int j = (i + 1 < nv) ? i + 1 : 0;
        double dx = (double)(VX(j) - VX(i)), dy = (double)(VY(j) - VY(i));
        per += sqrt(dx * dx + dy * dy);
    }
    #undef VX
    #undef VY
    *out_count = count;
    *out_per = per / 2.0;
    return true;
}

__device__ int code_class(int code) {
    switch (code) {
        case 5: case 7: case 15: case 17: case 25: case 27: return 1;
        case 21: case 33: return 2;
        case 13: case 23: return 3;
        default: return 0;
    }
}

struct RunSums {
    i64 area, sr, sc, srr, scc, src, minr, minc, maxr, maxc, si, p1, p2, p3;
};

__device__ __forceinline__ RunSums runsums_empty(int h, int w) {
    RunSums a;
    a.area = a.sr = a.sc = a.srr = a.scc = a.src = a.si = a.p1 = a.p2 = a.p3 = 0;
    a.minr = h; a.minc = w; a.maxr = -1; a.maxc = -1;
    return a;
}

// Closed-form moments of one run, its bbox, intensity sum and perimeter code classes.
__device__ __forceinline__ void run_accumulate(RunSums* acc, int rr, int ra, int rb,
                                               const unsigned int* border, int nw, int h, int w,
                                               const unsigned char* img, int has_images) {
    i64 r = rr, a = ra, b = rb, ln = b - a + 1;
    i64 sc = (a + b) * ln / 2;
    acc->area += ln;
    acc->sr += r * ln;
    acc->sc += sc;
    acc->srr += r * r * ln;
    acc->scc += (b * (b + 1) * (2 * b + 1) - (a - 1) * a * (2 * a - 1)) / 6;
    acc->src += r * sc;
    acc->minr = min(acc->minr, r); acc->minc = min(acc->minc, a);
    acc->maxr = max(acc->maxr, r); acc->maxc = max(acc->maxc, b);
    for (int c = ra; c <= rb; ++c) {
        if (has_images) acc->si += img[(u64)rr * w + c];
        if (!get_bit(border, nw, h, w, rr, c)) continue;
        int code = 1 + 2 * (get_bit(border, nw, h, w, rr - 1, c) + get_bit(border, nw, h, w, rr + 1, c)
                            + get_bit(border, nw, h, w, rr, c - 1) + get_bit(border, nw, h, w, rr, c + 1))
                   + 10 * (get_bit(border, nw, h, w, rr - 1, c - 1) + get_bit(border, nw, h, w, rr - 1, c + 1)
                           + get_bit(border, nw, h, w, rr + 1, c - 1) + get_bit(border, nw, h, w, rr + 1, c + 1));
        int cls = code_class(code);
        acc->p1 += cls == 1; acc->p2 += cls == 2; acc->p3 += cls == 3;
    }
}

__device__ __forceinline__ i64 shfl_down(i64 v, int o) { return __shfl_down_sync(0xffffffffu, v, o); }

__device__ RunSums warp_reduce(RunSums a) {
    for (int o = 16; o > 0; o >>= 1) {
        a.area += shfl_down(a.area, o); a.sr += shfl_down(a.sr, o); a.sc += shfl_down(a.sc, o);
        a.srr += shfl_down(a.srr, o); a.scc += shfl_down(a.scc, o); a.src += shfl_down(a.src, o);
        a.si += shfl_down(a.si, o); a.p1 += shfl_down(a.p1, o); a.p2 += shfl_down(a.p2, o);
        a.p3 += shfl_down(a.p3, o);
        a.minr = min(a.minr, shfl_down(a.minr, o)); a.minc = min(a.minc, shfl_down(a.minc, o));
        a.maxr = max(a.maxr, shfl_down(a.maxr, o)); a.maxc = max(a.maxc, shfl_down(a.maxc, o));
    }
    return a;
}

// smem layout: bits[h*nw] border[h*nw] row_ptr[h+1] tmp[blockDim] then run arrays
// (rrow, rstart, rend, parent, lab)[rmax] unless runs live in global memory.
__device__ void label_stats_plane(
    const unsigned char* __restrict__ planes, const unsigned char* __restrict__ images,
    int has_images, int n_classes, int h, int w, int p, int rmax,
    int* rrow, int* rstart, int* rend, int* parent, int* lab,
    unsigned int* bits, unsigned int* border, int* row_ptr, int* tmp,
    unsigned int* hull_store, int hull_cap,
    i64* stats, double* hper, unsigned long long* counter, long long cap,
    int* overflow, int* cap_flag)
{
    const int nw = (w + 31) >> 5;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = LUSFEAT_BLOCK >> 5;
    const unsigned char* m = planes + (u64)p * h * w;
    // 1. bit-pack with ballots
    for (int t = warp; t < h * nw; t += nwarps) {
        int r = t / nw, k = t % nw, c = (k << 5) + lane;
        int v = (c < w) ? (m[(u64)r * w + c] != 0) : 0;
        unsigned int word = __ballot_sync(0xffffffffu, v);
        if (lane == 0) bits[t] = word;
    }
    __syncthreads();
    // 2. runs per row: count, scan, write
    for (int r = threadIdx.x; r < h; r += LUSFEAT_BLOCK) {
        int cnt = 0;
        unsigned int carry = 0;
        for (int k = 0; k < nw; ++k) {
            unsigned int x = bits[r * nw + k];
            cnt += __popc(x & ~((x << 1) | carry));
            carry = x >> 31;
        }
        row_ptr[r] = cnt;
    }
    __syncthreads();
    int n = block_exclusive_scan(row_ptr, h, tmp);
    if (threadIdx.x == 0) row_ptr[h] = n;
    if (n > rmax) {  // block-uniform: too many runs for this storage
        if (threadIdx.x == 0) overflow[p] = 1;
        return;
    }
    __syncthreads();
    for (int r = threadIdx.x; r < h; r += LUSFEAT_BLOCK) {
        int j = row_ptr[r];
        unsigned int carry = 0;
        int open = -1;
        for (int k = 0; k < nw; ++k) {
            unsigned int x = bits[r * nw + k];
            unsigned int nxt = (k + 1 < nw) ? bits[r * nw + k + 1] : 0u;
            unsigned int st = x & ~((x << 1) | carry);
            unsigned int en = x & ~((x >> 1) | (nxt << 31));
            carry = x >> 31;
            while (st | en) {
                int bs = st ? __ffs(st) - 1 : 99;
                int be = en ? __ffs(en) - 1 : 99;
                if (bs <= be && st) {       // a run starts (a 1-pixel run starts and ends here)
                    open = (k << 5) + bs;
                    st &= st - 1;
                } else {
                    rrow[j] = r; rstart[j] = open; rend[j] = (k << 5) + be; parent[j] = j; ++j;
                    en &= en - 1;
                }
            }
        }
    }
    __syncthreads();
    // 3. union-find with the previous row (8-connectivity)
    for (int r = 1 + threadIdx.x; r < h; r += LUSFEAT_BLOCK) {
        int i = row_ptr[r - 1], i_end = row_ptr[r];
        for (int j = row_ptr[r]; j < row_ptr[r + 1]; ++j) {
            while (i < i_end && rend[i] + 1 < rstart[j]) ++i;
            for (int t = i; t < i_end && rstart[t] <= rend[j] + 1; ++t) uf_unite(parent, t, j);
        }
    }
    __syncthreads();
    // 4. labels: roots in run order
    for (int j = threadIdx.x; j < n; j += LUSFEAT_BLOCK) {
        int root = uf_find(parent, j);
        parent[j] = root;
        lab[j] = (root == j) ? 1 : 0;
    }
    __syncthreads();
    int n_lab = block_exclusive_scan(lab, n, tmp);  // lab[root] = label - 1
    __shared__ long long base_s;
    if (threadIdx.x == 0) {
        unsigned long long b = atomicAdd(counter, (unsigned long long)n_lab);
        base_s = (long long)b;
        if ((long long)b + n_lab > cap) *cap_flag = 1;
    }
    __syncthreads();
    const long long base = base_s;
    if (base + n_lab > cap) return;
    for (int j = threadIdx.x; j < n; j += LUSFEAT_BLOCK) {
        if (parent[j] != j) continue;
        i64* row = stats + (base + lab[j]) * NF;
        for (int f = 0; f < NF; ++f) row[f] = 0;
        row[F_PLANE] = p; row[F_LABEL] = lab[j] + 1;
        row[F_MIN_R] = h; row[F_MIN_C] = w; row[F_MAX_R] = -1; row[F_MAX_C] = -1;
    }
    __syncthreads();
    for (int j = threadIdx.x; j < n; j += LUSFEAT_BLOCK) {
        if (parent[j] != j) lab[j] = lab[parent[j]];
    }
    // border mask (bit parallel): pixel minus its 4-cross erosion, border value 0
    for (int t = threadIdx.x; t < h * nw; t += LUSFEAT_BLOCK) {
        int r = t / nw, k = t % nw;
        unsigned int x = bits[t];
        unsigned int prev = (k > 0) ? bits[t - 1] : 0u, nxt = (k + 1 < nw) ? bits[t + 1] : 0u;
        unsigned int left = (x << 1) | (prev >> 31), right = (x >> 1) | (nxt << 31);
        unsigned int up = (r > 0) ? bits[t - nw] : 0u, down = (r + 1 < h) ? bits[t + nw] : 0u;
        border[t] = x & ~(left & right & up & down);
    }
    __syncthreads();
    // 5. per component: moments, bbox, intensity, perimeter classes. Few components:
    // one warp per component gathers its runs and reduces in registers (no atomics);
    // many components: one thread per run with 64-bit integer atomics. Same integers.
    const unsigned char* img = images + (u64)(p / n_classes) * h * w;
    const bool by_component = (long long)n_lab * (long long)n <= 65536LL;
    if (by_component) {
        for (int q = warp; q < n_lab; q += nwarps) {
            RunSums acc = runsums_empty(h, w);
            for (int j = lane; j < n; j += 32) {
                if (lab[j] == q) run_accumulate(&acc, rrow[j], rstart[j], rend[j], border, nw, h, w, img, has_images);
            }
            acc = warp_reduce(acc);
            if (lane == 0) {
                i64* row = stats + (base + q) * NF;
                row[F_AREA] = acc.area; row[F_SUM_R] = acc.sr; row[F_SUM_C] = acc.sc;
                row[F_SUM_RR] = acc.srr; row[F_SUM_CC] = acc.scc; row[F_SUM_RC] = acc.src;
                row[F_MIN_R] = acc.minr; row[F_MIN_C] = acc.minc; row[F_MAX_R] = acc.maxr; row[F_MAX_C] = acc.maxc;
                row[F_SUM_I] = acc.si; row[F_N_P1] = acc.p1; row[F_N_P2] = acc.p2; row[F_N_P3] = acc.p3;
            }
        }
    } else {
        for (int j = threadIdx.x; j < n; j += LUSFEAT_BLOCK) {
            i64* row = stats + (base + lab[j]) * NF;
            RunSums acc = runsums_empty(h, w);
            run_accumulate(&acc, rrow[j], rstart[j], rend[j], border, nw, h, w, img, has_images);
            atomicAdd((u64*)&row[F_AREA], (u64)acc.area);
            atomicAdd((u64*)&row[F_SUM_R], (u64)acc.sr);
            atomicAdd((u64*)&row[F_SUM_C], (u64)acc.sc);
            atomicAdd((u64*)&row[F_SUM_RR], (u64)acc.srr);
            atomicAdd((u64*)&row[F_SUM_CC], (u64)acc.scc);
            atomicAdd((u64*)&row[F_SUM_RC], (u64)acc.src);
            atomicMin(&row[F_MIN_R], acc.minr); atomicMin(&row[F_MIN_C], acc.minc);
            atomicMax(&row[F_MAX_R], acc.maxr); atomicMax(&row[F_MAX_C], acc.maxc);
            if (acc.si) atomicAdd((u64*)&row[F_SUM_I], (u64)acc.si);
            if (acc.p1) atomicAdd((u64*)&row[F_N_P1], (u64)acc.p1);
            if (acc.p2) atomicAdd((u64*)&row[F_N_P2], (u64)acc.p2);
            if (acc.p3) atomicAdd((u64*)&row[F_N_P3], (u64)acc.p3);
        }
    }
    __syncthreads();
    // 6. convex hulls: one lane per component (lane 0 of each warp), stacks per warp
    if (lane == 0) {
        unsigned int* lo_st = hull_store + (u64)warp * 2 * hull_cap;
        unsigned int* up_st = lo_st + hull_cap;
        for (int q = warp; q < n_lab; q += nwarps) {
            i64* row = stats + (base + q) * NF;
            i64 cnt; double per;
            if (hull_count(rstart, rend, lab, row_ptr, q, row[F_MIN_R], row[F_MAX_R],
                           row[F_MIN_C], row[F_MAX_C], lo_st, up_st, hull_cap, &cnt, &per)) {
                row[F_AREA_CONVEX] = cnt;
                hper[base + q] = per;
            } else {
                overflow[p] = 2;  // redo this plane with global hull stacks
            }
        }
    }
}

extern "C" __global__ void __launch_bounds__(LUSFEAT_BLOCK) lusfeat_label_stats_u8(
    const unsigned char* planes, const unsigned char* images, int has_images, int n_classes,
    int h, int w, int rmax, i64* stats, double* hper,
    unsigned long long* counter, long long cap, int* overflow, int* cap_flag)
{
    LUSFEAT_DYNAMIC_SHARED(int, smem);
    const int nw = (w + 31) >> 5;
    unsigned int* bits = (unsigned int*)smem;
    unsigned int* border = bits + h * nw;
    int* row_ptr = (int*)(border + h * nw);
    int* tmp = row_ptr + h + 1;
    unsigned int* hull_store = (unsigned int*)(tmp + LUSFEAT_BLOCK);
    int* rrow = (int*)(hull_store + (LUSFEAT_BLOCK >> 5) * 2 * HULL_CAP);
    int* rstart = rrow + rmax;
    int* rend = rstart + rmax;
    int* parent = rend + rmax;
    int* lab = parent + rmax;
    label_stats_plane(planes, images, has_images, n_classes, h, w, blockIdx.x, rmax,
                      rrow, rstart, rend, parent, lab, bits, border, row_ptr, tmp,
                      hull_store, HULL_CAP, stats, hper, counter, cap, overflow, cap_flag);
}

// Fallback for planes that overflowed shared memory (runs or hull stacks): runs and
// hull stacks in global memory, one block per listed plane.
extern "C" __global__ void __launch_bounds__(LUSFEAT_BLOCK) lusfeat_label_stats_u8_global(
    const unsigned char* planes, const unsigned char* images, int has_images, int n_classes,
    int h, int w, const int* plane_ids, int* run_store, unsigned int* hull_scratch,
    i64* stats, double* hper, unsigned long long* counter, long long cap, int* overflow,
    int* cap_flag)
{
    LUSFEAT_DYNAMIC_SHARED(int, smem);
    const int nw = (w + 31) >> 5;
    const int rmax = h * ((w + 1) / 2);
    const int hull_cap = 4 * h + 8;
    unsigned int* bits = (unsigned int*)smem;
    unsigned int* border = bits + h * nw;
    int* row_ptr = (int*)(border + h * nw);
    int* tmp = row_ptr + h + 1;
    int* rrow = run_store + (u64)blockIdx.x * 5 * rmax;
    unsigned int* hs = hull_scratch + (u64)blockIdx.x * (LUSFEAT_BLOCK >> 5) * 2 * hull_cap;
    label_stats_plane(planes, images, has_images, n_classes, h, w, plane_ids[blockIdx.x], rmax,
                      rrow, rrow + rmax, rrow + 2 * rmax, rrow + 3 * rmax, rrow + 4 * rmax,
                      bits, border, row_ptr, tmp, hs, hull_cap, stats, hper, counter, cap,
                      overflow, cap_flag);
}
"""

#: Threads per block of both kernels (production value; a multiple of 32).
BLOCK = 256
#: Entries of each per-warp hull stack in shared memory (main kernel).
HULL_CAP = 128
#: Dynamic shared memory a block may use (bytes).
SHARED_LIMIT = 160 * 1024


def compile_options(block: int = BLOCK, hull_cap: int = HULL_CAP) -> tuple[str, ...]:
    """Compiler options of :data:`KERNEL_SOURCE` (NVRTC and the host emulator alike).

    Parameters
    ----------
    block : int
        Threads per block, a multiple of 32 (``-DLUSFEAT_BLOCK``).
    hull_cap : int
        Entries of each per-warp hull stack in shared memory (``-DHULL_CAP``).

    Returns
    -------
    tuple of str
        ``-D`` options: block size, hull capacity and the component-row layout
        of :func:`lusfeat.features._layout.cuda_defines`.
    """
    if block % 32 or not 32 <= block <= 1024:
        raise ValueError(f"block must be a multiple of 32 in [32, 1024]; got {block}")
    if hull_cap < 4:
        raise ValueError(f"hull_cap must be at least 4; got {hull_cap}")
    return (f"-DLUSFEAT_BLOCK={int(block)}", f"-DHULL_CAP={int(hull_cap)}") + cuda_defines()


@dataclass(frozen=True)
class LaunchPlan:
    """Sizes of one batch's launches (shared-memory kernel, then the global-memory fallback).

    Attributes
    ----------
    h, w : int
        Plane size in pixels.
    block : int
        Threads per block.
    rmax : int
        Run capacity of the shared-memory kernel (a multiple of 256, at most 4096).
    smem : int
        Dynamic shared memory of the shared-memory kernel (bytes).
    smem_global : int
        Dynamic shared memory of the fallback kernel (bytes).
    rmax_global : int
        Runs per plane in the fallback's global run store (``H * ceil(W / 2)``).
    hull_cap_global : int
        Entries of each per-warp hull stack of the fallback (``4 H + 8``).
    """

    h: int
    w: int
    block: int
    rmax: int
    smem: int
    smem_global: int
    rmax_global: int
    hull_cap_global: int

    @property
    def hull_scratch_per_plane(self) -> int:
        """uint32 entries of fallback hull stacks per redone plane."""
        return (self.block // 32) * 2 * self.hull_cap_global

    def output_rows(self, n_planes: int) -> int:
        """First guess of the component rows of ``n_planes`` planes (grown when it overflows)."""
        return max(4096, 32 * n_planes)

    def fallback_rows(self, n_redo: int) -> int:
        """Component rows reserved for ``n_redo`` planes of the fallback (an upper bound)."""
        return n_redo * (self.h * self.w // 4 + 4)


def _smem_bytes(h: int, w: int, block: int, hull_cap: int, rmax: int, with_runs: bool) -> int:
    nw = (w + 31) // 32
    words = 2 * h * nw + h + 1 + block  # bits, border, row_ptr, scan scratch
    if with_runs:
        words += (block // 32) * 2 * hull_cap + 5 * rmax
    return 4 * words


def launch_plan(h: int, w: int, *, block: int = BLOCK, hull_cap: int = HULL_CAP,
                shared_limit: int = SHARED_LIMIT) -> LaunchPlan:
    """Launch sizes for ``(H, W)`` planes, mirroring the kernels' shared-memory layout.

    Parameters
    ----------
    h, w : int
        Plane size in pixels.
    block, hull_cap : int
        The values the kernels were compiled with (:func:`compile_options`).
    shared_limit : int
        Dynamic shared memory a block may use (bytes); a smaller limit gives a
        smaller ``rmax`` (at least 256), so more planes take the fallback.

    Returns
    -------
    LaunchPlan
    """
    base = _smem_bytes(h, w, block, hull_cap, 0, True)
    r = (shared_limit - base) // 20
    rmax = int(max(256, min(4096, r // 256 * 256)))
    return LaunchPlan(h=h, w=w, block=block, rmax=rmax, smem=_smem_bytes(h, w, block, hull_cap, rmax, True),
                      smem_global=_smem_bytes(h, w, block, hull_cap, 0, False),
                      rmax_global=h * ((w + 1) // 2), hull_cap_global=4 * h + 8)


@_memoize(for_each_device=True)
def build_kernels(block: int = BLOCK, hull_cap: int = HULL_CAP):  # pragma: no cover - GPU only
    """Compile :data:`KERNEL_SOURCE` with :func:`compile_options` (once per device and options).

    Returns
    -------
    (cupy.RawKernel, cupy.RawKernel)
        ``lusfeat_label_stats_u8`` (shared-memory runs) and
        ``lusfeat_label_stats_u8_global`` (the fallback).
    """
    import cupy

    mod = cupy.RawModule(code=KERNEL_SOURCE, options=compile_options(block, hull_cap))
    return (mod.get_function("lusfeat_label_stats_u8"),
            mod.get_function("lusfeat_label_stats_u8_global"))

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
"""

from __future__ import annotations

__all__ = ["KERNEL_SOURCE", "STAT_COLUMNS", "get_kernels"]

#: Number of int64 columns per component row (same as ``_runs.STAT_FIELDS``).
STAT_COLUMNS = 17

KERNEL_SOURCE = r"""
typedef long long i64;
typedef unsigned long long u64;

#define NF 17
#define F_PLANE 0
#define F_LABEL 1
#define F_AREA 2
#define F_SR 3
#define F_SC 4
#define F_SRR 5
#define F_SCC 6
#define F_SRC 7
#define F_MINR 8
#define F_MINC 9
#define F_MAXR 10
#define F_MAXC 11
#define F_SI 12
#define F_P1 13
#define F_P2 14
#define F_P3 15
#define F_CONV 16

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

// Exclusive block scan of vals[0..n) in place; returns the total. n <= 4 * blockDim.x * k.
__device__ int block_exclusive_scan(int* vals, int n, int* tmp) {
    int per = (n + blockDim.x - 1) / blockDim.x;
    int lo = threadIdx.x * per;
    int hi = min(lo + per, n);
    int s = 0;
    for (int i = lo; i < hi; ++i) s += vals[i];
    tmp[threadIdx.x] = s;
    __syncthreads();
    for (int off = 1; off < blockDim.x; off <<= 1) {
        int v = (threadIdx.x >= off) ? tmp[threadIdx.x - off] : 0;
        __syncthreads();
        tmp[threadIdx.x] += v;
        __syncthreads();
    }
    int run = tmp[threadIdx.x] - s;
    for (int i = lo; i < hi; ++i) { int v = vals[i]; vals[i] = run; run += v; }
    int total = tmp[blockDim.x - 1];
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
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
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
    for (int r = threadIdx.x; r < h; r += blockDim.x) {
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
    for (int r = threadIdx.x; r < h; r += blockDim.x) {
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
    for (int r = 1 + threadIdx.x; r < h; r += blockDim.x) {
        int i = row_ptr[r - 1], i_end = row_ptr[r];
        for (int j = row_ptr[r]; j < row_ptr[r + 1]; ++j) {
            while (i < i_end && rend[i] + 1 < rstart[j]) ++i;
            for (int t = i; t < i_end && rstart[t] <= rend[j] + 1; ++t) uf_unite(parent, t, j);
        }
    }
    __syncthreads();
    // 4. labels: roots in run order
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
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
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        if (parent[j] != j) continue;
        i64* row = stats + (base + lab[j]) * NF;
        for (int f = 0; f < NF; ++f) row[f] = 0;
        row[F_PLANE] = p; row[F_LABEL] = lab[j] + 1;
        row[F_MINR] = h; row[F_MINC] = w; row[F_MAXR] = -1; row[F_MAXC] = -1;
    }
    __syncthreads();
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        if (parent[j] != j) lab[j] = lab[parent[j]];
    }
    // border mask (bit parallel): pixel minus its 4-cross erosion, border value 0
    for (int t = threadIdx.x; t < h * nw; t += blockDim.x) {
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
                row[F_AREA] = acc.area; row[F_SR] = acc.sr; row[F_SC] = acc.sc;
                row[F_SRR] = acc.srr; row[F_SCC] = acc.scc; row[F_SRC] = acc.src;
                row[F_MINR] = acc.minr; row[F_MINC] = acc.minc; row[F_MAXR] = acc.maxr; row[F_MAXC] = acc.maxc;
                row[F_SI] = acc.si; row[F_P1] = acc.p1; row[F_P2] = acc.p2; row[F_P3] = acc.p3;
            }
        }
    } else {
        for (int j = threadIdx.x; j < n; j += blockDim.x) {
            i64* row = stats + (base + lab[j]) * NF;
            RunSums acc = runsums_empty(h, w);
            run_accumulate(&acc, rrow[j], rstart[j], rend[j], border, nw, h, w, img, has_images);
            atomicAdd((u64*)&row[F_AREA], (u64)acc.area);
            atomicAdd((u64*)&row[F_SR], (u64)acc.sr);
            atomicAdd((u64*)&row[F_SC], (u64)acc.sc);
            atomicAdd((u64*)&row[F_SRR], (u64)acc.srr);
            atomicAdd((u64*)&row[F_SCC], (u64)acc.scc);
            atomicAdd((u64*)&row[F_SRC], (u64)acc.src);
            atomicMin(&row[F_MINR], acc.minr); atomicMin(&row[F_MINC], acc.minc);
            atomicMax(&row[F_MAXR], acc.maxr); atomicMax(&row[F_MAXC], acc.maxc);
            if (acc.si) atomicAdd((u64*)&row[F_SI], (u64)acc.si);
            if (acc.p1) atomicAdd((u64*)&row[F_P1], (u64)acc.p1);
            if (acc.p2) atomicAdd((u64*)&row[F_P2], (u64)acc.p2);
            if (acc.p3) atomicAdd((u64*)&row[F_P3], (u64)acc.p3);
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
            if (hull_count(rstart, rend, lab, row_ptr, q, row[F_MINR], row[F_MAXR],
                           row[F_MINC], row[F_MAXC], lo_st, up_st, hull_cap, &cnt, &per)) {
                row[F_CONV] = cnt;
                hper[base + q] = per;
            } else {
                overflow[p] = 2;  // redo this plane with global hull stacks
            }
        }
    }
}

#define HULL_CAP 128

extern "C" __global__ void lusfeat_label_stats_u8(
    const unsigned char* planes, const unsigned char* images, int has_images, int n_classes,
    int h, int w, int rmax, i64* stats, double* hper,
    unsigned long long* counter, long long cap, int* overflow, int* cap_flag)
{
    extern __shared__ int smem[];
    const int nw = (w + 31) >> 5;
    unsigned int* bits = (unsigned int*)smem;
    unsigned int* border = bits + h * nw;
    int* row_ptr = (int*)(border + h * nw);
    int* tmp = row_ptr + h + 1;
    unsigned int* hull_store = (unsigned int*)(tmp + blockDim.x);
    int* rrow = (int*)(hull_store + (blockDim.x >> 5) * 2 * HULL_CAP);
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
extern "C" __global__ void lusfeat_label_stats_u8_global(
    const unsigned char* planes, const unsigned char* images, int has_images, int n_classes,
    int h, int w, const int* plane_ids, int* run_store, unsigned int* hull_scratch,
    i64* stats, double* hper, unsigned long long* counter, long long cap, int* overflow,
    int* cap_flag)
{
    extern __shared__ int smem[];
    const int nw = (w + 31) >> 5;
    const int rmax = h * ((w + 1) / 2);
    const int hull_cap = 4 * h + 8;
    unsigned int* bits = (unsigned int*)smem;
    unsigned int* border = bits + h * nw;
    int* row_ptr = (int*)(border + h * nw);
    int* tmp = row_ptr + h + 1;
    int* rrow = run_store + (u64)blockIdx.x * 5 * rmax;
    unsigned int* hs = hull_scratch + (u64)blockIdx.x * (blockDim.x >> 5) * 2 * hull_cap;
    label_stats_plane(planes, images, has_images, n_classes, h, w, plane_ids[blockIdx.x], rmax,
                      rrow, rrow + rmax, rrow + 2 * rmax, rrow + 3 * rmax, rrow + 4 * rmax,
                      bits, border, row_ptr, tmp, hs, hull_cap, stats, hper, counter, cap,
                      overflow, cap_flag);
}
"""

#: Entries of each per-warp hull stack in shared memory (main kernel).
HULL_CAP = 128


def get_kernels():  # pragma: no cover - GPU only
    """Compile (once per device) and return ``(shared_kernel, global_kernel)``."""
    import cupy

    return _compiled(cupy.cuda.Device().id)


def _compiled(device_id: int):  # pragma: no cover - GPU only
    import cupy

    cache = _compiled.__dict__.setdefault("cache", {})
    if device_id not in cache:
        mod = cupy.RawModule(code=KERNEL_SOURCE)
        cache[device_id] = (mod.get_function("lusfeat_label_stats_u8"),
                            mod.get_function("lusfeat_label_stats_u8_global"))
    return cache[device_id]

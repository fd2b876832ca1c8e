// CPU emulation of the CUDA features the lusfeat kernels use, for testing the kernel source
// without a GPU: one std::thread per CUDA thread, std::barrier for __syncthreads and for the
// warp exchanges of __ballot_sync / __shfl_down_sync, std::atomic_ref for the atomics.
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>
struct dim3 { unsigned x, y, z; };
thread_local dim3 threadIdx;
thread_local dim3 blockIdx;
dim3 blockDim;
std::barrier<>* g_block_bar;
struct WarpX { std::barrier<>* bar; unsigned long long v[32]; };
std::vector<WarpX> g_warps;
int* g_smem;
inline void __syncthreads() { g_block_bar->arrive_and_wait(); }
inline unsigned __ballot_sync(unsigned, int pred) {
    WarpX& W = g_warps[threadIdx.x / 32]; int lane = threadIdx.x % 32;
    W.v[lane] = pred ? 1 : 0; W.bar->arrive_and_wait();
    unsigned r = 0; for (int i = 0; i < 32; ++i) r |= (unsigned)W.v[i] << i;
    W.bar->arrive_and_wait(); return r;
}
inline long long __shfl_down_sync(unsigned, long long v, int o) {
    WarpX& W = g_warps[threadIdx.x / 32]; int lane = threadIdx.x % 32;
    W.v[lane] = (unsigned long long)v; W.bar->arrive_and_wait();
    long long r = (lane + o < 32) ? (long long)W.v[lane + o] : v;
    W.bar->arrive_and_wait(); return r;
}
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __ffs(unsigned x) { return __builtin_ffs(x); }
inline int atomicCAS(int* a, int cmp, int val) { std::atomic_ref<int>(*a).compare_exchange_strong(cmp, val); return cmp; }
inline unsigned long long atomicAdd(unsigned long long* a, unsigned long long v) { return std::atomic_ref<unsigned long long>(*a).fetch_add(v); }
inline long long atomicMin(long long* a, long long v) { std::atomic_ref<long long> r(*a); long long o = r.load(); while (v < o && !r.compare_exchange_weak(o, v)) {} return o; }
inline long long atomicMax(long long* a, long long v) { std::atomic_ref<long long> r(*a); long long o = r.load(); while (v > o && !r.compare_exchange_weak(o, v)) {} return o; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline int min(int a, int b) { return a < b ? a : b; }
#define __device__
#define __global__
#define __forceinline__ inline
#define __restrict__
#define __launch_bounds__(n)
// Block-shared variables: blocks run one after another, so a static serves every block.
#define __shared__ static
// The dynamic shared-memory array: the block's buffer set up by launch() in driver.cpp.
#define LUSFEAT_DYNAMIC_SHARED(type, name) type* name = (type*)g_smem

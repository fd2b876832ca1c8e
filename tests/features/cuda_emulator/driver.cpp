#include "emu_prelude.h"
#include "kernel_source.cu"
// Runs the lusfeat CUDA kernels on the CPU (see emu_prelude.h), as lusfeat/features/_cuda.py
// launches them: the shared-memory kernel over all planes, then the global-memory kernel for
// the planes it flagged. The kernel source is included unchanged and compiled with the options
// of lusfeat.features._cuda_kernels.compile_options(); every size comes from launch_plan().
// Usage: driver IN OUT
//   IN:  int32 P, H, W, C, has_images, rmax, smem, smem_global, rmax_global,
//        hull_scratch_per_plane, output_rows, fallback_rows_per_plane;
//        planes (P*H*W u8); images ((P/C)*H*W u8, when has_images)
//   OUT: int64 K; int32 n_fallback_planes; stats (K*NF int64); hull perimeters (K float64)
// Exit status 3: the output rows of the plan were too few (the GPU path would grow them).
template <class F> void launch(int grid, size_t smem_bytes, F body) {
    const int threads = LUSFEAT_BLOCK;
    blockDim = {(unsigned)threads, 1, 1};
    for (int b = 0; b < grid; ++b) {
        std::vector<int> smem(smem_bytes / 4 + 16);
        g_smem = smem.data();
        std::barrier<> bar(threads);
        g_block_bar = &bar;
        g_warps.assign(threads / 32, WarpX{});
        for (auto& w : g_warps) w.bar = new std::barrier<>(32);
        std::vector<std::thread> ts;
        for (int t = 0; t < threads; ++t)
            ts.emplace_back([=]() { threadIdx = {(unsigned)t, 0, 0}; blockIdx = {(unsigned)b, 0, 0}; body(); });
        for (auto& t : ts) t.join();
        for (auto& w : g_warps) delete w.bar;
    }
}
int main(int argc, char** argv) {
    if (argc != 3) return 2;
    FILE* f = fopen(argv[1], "rb");
    int hdr[12]; if (fread(hdr, 4, 12, f) != 12) return 2;
    const int P = hdr[0], H = hdr[1], W = hdr[2], C = hdr[3], has = hdr[4], rmax = hdr[5];
    const size_t smem = (size_t)hdr[6], smem_g = (size_t)hdr[7];
    const int rmax_g = hdr[8], hull_per_plane = hdr[9];
    const long long cap = hdr[10], fallback_per_plane = hdr[11];
    std::vector<unsigned char> planes((size_t)P * H * W), images((size_t)(P / C) * H * W + 1);
    if (fread(planes.data(), 1, planes.size(), f) != planes.size()) return 2;
    if (has && fread(images.data(), 1, (size_t)(P / C) * H * W, f) != (size_t)(P / C) * H * W) return 2;
    fclose(f);
    std::vector<long long> stats(cap * NF); std::vector<double> hper(cap);
    unsigned long long counter = 0; std::vector<int> overflow(P, 0); int cap_flag = 0;
    launch(P, smem, [&]() {
        lusfeat_label_stats_u8(planes.data(), images.data(), has, C, H, W, rmax, stats.data(), hper.data(),
                               &counter, cap, overflow.data(), &cap_flag);
    });
    if (cap_flag) return 3;
    // keep rows of non-overflow planes, then the fallback for the others
    std::vector<int> redo;
    for (int p = 0; p < P; ++p) if (overflow[p]) redo.push_back(p);
    std::vector<long long> out; std::vector<double> outp;
    for (unsigned long long k = 0; k < counter; ++k) {
        if (overflow[stats[k * NF + F_PLANE]]) continue;
        out.insert(out.end(), &stats[k * NF], &stats[k * NF + NF]); outp.push_back(hper[k]);
    }
    if (!redo.empty()) {
        const long long cap2 = (long long)redo.size() * fallback_per_plane;
        std::vector<int> run_store((size_t)redo.size() * 5 * rmax_g);
        std::vector<unsigned> hull((size_t)redo.size() * hull_per_plane);
        std::vector<long long> st2(cap2 * NF); std::vector<double> hp2(cap2);
        unsigned long long c2 = 0; std::vector<int> ov2(P, 0); int f2 = 0;
        launch((int)redo.size(), smem_g, [&]() {
            lusfeat_label_stats_u8_global(planes.data(), images.data(), has, C, H, W, redo.data(),
                                          run_store.data(), hull.data(), st2.data(), hp2.data(), &c2, cap2,
                                          ov2.data(), &f2);
        });
        if (f2) return 3;
        for (unsigned long long k = 0; k < c2; ++k) {
            out.insert(out.end(), &st2[k * NF], &st2[k * NF + NF]); outp.push_back(hp2[k]);
        }
    }
    FILE* o = fopen(argv[2], "wb");
    long long k = (long long)outp.size(); int nred = (int)redo.size();
    fwrite(&k, 8, 1, o); fwrite(&nred, 4, 1, o);
    fwrite(out.data(), 8, out.size(), o); fwrite(outp.data(), 8, outp.size(), o);
    fclose(o);
    return 0;
}

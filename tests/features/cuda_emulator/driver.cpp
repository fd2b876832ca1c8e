#include "emu_prelude.h"
#include "kernel_body.inc"
// Runs the lusfeat CUDA kernels on the CPU (see emu_prelude.h), as lusfeat/features/_cuda.py
// launches them: the shared-memory kernel over all planes, then the global-memory kernel for
// the planes it flagged. Usage: driver IN OUT
//   IN:  int32 P, H, W, C, has_images, rmax, threads, hull_cap; planes (P*H*W u8); images
//   OUT: int64 K; int32 n_fallback_planes; stats (K*17 int64); hull perimeters (K float64)
template <class F> void launch(int grid, int threads, size_t smem_bytes, F body) {
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
    FILE* f = fopen(argv[1], "rb");
    int hdr[8]; if (fread(hdr, 4, 8, f) != 8) return 2;
    int P = hdr[0], H = hdr[1], W = hdr[2], C = hdr[3], has = hdr[4], rmax = hdr[5];
    const int threads = hdr[6], hull_cap = hdr[7];
    std::vector<unsigned char> planes((size_t)P * H * W), images((size_t)(P / C) * H * W + 1);
    if (fread(planes.data(), 1, planes.size(), f) != planes.size()) return 2;
    if (has && fread(images.data(), 1, (size_t)(P / C) * H * W, f) != (size_t)(P / C) * H * W) return 2;
    fclose(f);
    long long cap = 100000;
    std::vector<long long> stats(cap * 17); std::vector<double> hper(cap);
    unsigned long long counter = 0; std::vector<int> overflow(P, 0); int cap_flag = 0;
    int nw = (W + 31) / 32;
    size_t smem = 4 * (2 * H * nw + H + 1 + threads + (threads / 32) * 2 * hull_cap + 5 * rmax);
    launch(P, threads, smem, [&]() {
        lusfeat_label_stats_u8(planes.data(), images.data(), has, C, H, W, rmax, stats.data(), hper.data(),
                               &counter, cap, overflow.data(), &cap_flag);
    });
    // keep rows of non-overflow planes, then the fallback for the others
    std::vector<int> redo;
    for (int p = 0; p < P; ++p) if (overflow[p]) redo.push_back(p);
    unsigned long long total = counter;
    std::vector<long long> out; std::vector<double> outp;
    for (unsigned long long k = 0; k < total; ++k) {
        if (overflow[stats[k * 17]]) continue;
        out.insert(out.end(), &stats[k * 17], &stats[k * 17 + 17]); outp.push_back(hper[k]);
    }
    if (!redo.empty()) {
        int rmax_g = H * ((W + 1) / 2);
        std::vector<int> run_store((size_t)redo.size() * 5 * rmax_g);
        std::vector<unsigned> hull((size_t)redo.size() * (threads / 32) * 2 * (4 * H + 8));
        std::vector<long long> st2(cap * 17); std::vector<double> hp2(cap);
        unsigned long long c2 = 0; std::vector<int> ov2(P, 0); int f2 = 0;
        size_t smem_g = 4 * (2 * H * nw + H + 1 + threads);
        launch((int)redo.size(), threads, smem_g, [&]() {
            lusfeat_label_stats_u8_global(planes.data(), images.data(), has, C, H, W, redo.data(),
                                          run_store.data(), hull.data(), st2.data(), hp2.data(), &c2, cap,
                                          ov2.data(), &f2);
        });
        for (unsigned long long k = 0; k < c2; ++k) {
            out.insert(out.end(), &st2[k * 17], &st2[k * 17 + 17]); outp.push_back(hp2[k]);
        }
    }
    FILE* o = fopen(argv[2], "wb");
    long long k = (long long)outp.size(); int nred = (int)redo.size();
    fwrite(&k, 8, 1, o); fwrite(&nred, 4, 1, o);
    fwrite(out.data(), 8, out.size(), o); fwrite(outp.data(), 8, outp.size(), o);
    fclose(o);
    return 0;
}

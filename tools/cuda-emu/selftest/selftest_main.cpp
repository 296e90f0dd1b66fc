// Self-test driver for libdcc_cuda_emu.so: dlopens each library given on the command
// line (as LIB or LIB:THREADS, THREADS going to EMU_THREADS), launches the kernels of
// selftest/*.cu through the C ABI with real argument arrays, and checks the results.
// Prints "N passed, M failed" and exits non-zero on any failure.
#include <dlfcn.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "st_params.h"

namespace {

using LaunchFn = int (*)(const char*, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void**, char*, size_t);
using CountFn = int (*)();
using NameFn = const char* (*)(int);
using ParamCountFn = int (*)(int);
using ParamSizeFn = size_t (*)(int, int);

struct Lib {
    LaunchFn launch;
    CountFn count;
    NameFn name;
    ParamCountFn param_count;
    ParamSizeFn param_size;
};
Lib lib;

int passed = 0, failed = 0;
std::string current;

#define CHECK(cond, ...)                                                           \
    do {                                                                           \
        if (!(cond)) {                                                             \
            std::printf("  FAIL %s: %s:%d: %s -- ", current.c_str(), __FILE__, __LINE__, #cond); \
            std::printf(__VA_ARGS__);                                              \
            std::printf("\n");                                                     \
            ok = false;                                                            \
        }                                                                          \
    } while (0)

struct Dim {
    unsigned x = 1, y = 1, z = 1;
};

char errbuf[2048];

// Launches `name` with args[i] = &a_i, exactly as cuLaunchKernel takes them.
template <class... A> int launch(const char* name, Dim g, Dim b, A&... a) {
    void* args[] = {static_cast<void*>(&a)..., nullptr};
    errbuf[0] = 0;
    return lib.launch(name, g.x, g.y, g.z, b.x, b.y, b.z, args, errbuf, sizeof errbuf);
}

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

bool close(double a, double b, double tol) { return std::fabs(a - b) <= tol * (1.0 + std::fabs(b)); }

// ------------------------------------------------------------------------------------
bool t_registry() {
    bool ok = true;
    int n = lib.count();
    CHECK(n == 19, "kernel count %d", n);
    int found = 0;
    for (int i = 0; i < n; ++i) {
        std::string k = lib.name(i);
        if (k == "block_sum") {
            ++found;
            CHECK(lib.param_count(i) == 3, "block_sum params %d", lib.param_count(i));
            CHECK(lib.param_size(i, 0) == sizeof(StParams) && lib.param_size(i, 1) == 8 && lib.param_size(i, 2) == 8,
                  "block_sum sizes %zu %zu %zu", lib.param_size(i, 0), lib.param_size(i, 1), lib.param_size(i, 2));
        }
        if (k == "tiled_sgemm" || k == "histogram" || k == "warp_reduce") ++found;
    }
    CHECK(found == 4, "found %d of the expected names", found);
    CHECK(lib.name(n) == nullptr && lib.param_count(-1) == -1, "out-of-range index");
    return ok;
}

bool t_block_sum() {
    bool ok = true;
    StParams p{100000, 0, 0};
    std::vector<float> x(p.n);
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> d(-1, 1);
    for (float& v : x) v = d(rng);
    unsigned blocks = unsigned((p.n + 255) / 256);
    std::vector<float> out(blocks, -1);
    float* xp = x.data();
    float* op = out.data();
    int rc = launch("block_sum", {blocks}, {256}, p, xp, op);
    CHECK(rc == 0, "rc %d: %s", rc, errbuf);
    for (unsigned b = 0; b < blocks && ok; ++b) {
        double ref = 0;
        for (uint64_t i = b * 256ull; i < std::min<uint64_t>(p.n, (b + 1) * 256ull); ++i) ref += x[i];
        CHECK(close(out[b], ref, 1e-4), "block %u: %g vs %g", b, out[b], ref);
    }
    return ok;
}

bool t_big_block() {
    bool ok = true;
    StParams p{300000, 0, 0.25f};
    std::vector<float> x(p.n);
    std::mt19937 rng(2);
    std::uniform_real_distribution<float> d(-1, 1);
    for (float& v : x) v = d(rng);
    double total = 0;
    int flags[3] = {0, 0, 0};
    float* xp = x.data();
    double* tp = &total;
    int* fp = flags;
    unsigned blocks = 40;
    int rc = launch("big_block_sum", {blocks}, {1024}, p, xp, tp, fp);
    CHECK(rc == 0, "rc %d: %s", rc, errbuf);
    double ref = 0;
    int cnt = 0;
    for (uint64_t i = 0; i < p.n; ++i) ref += x[i];
    for (uint64_t i = 0; i < uint64_t(blocks) * 1024; ++i) cnt += i < p.n && x[i] > p.s;
    CHECK(close(total, ref, 1e-4), "sum %g vs %g", total, ref);
    CHECK(flags[0] == cnt, "syncthreads_count %d vs %d", flags[0], cnt);
    CHECK(flags[1] == 0 && flags[2] == int(blocks), "and %d or %d", flags[1], flags[2]);
    return ok;
}

bool t_warp_reduce() {
    bool ok = true;
    StParams p{1000, 0, 0};
    unsigned blocks = 8;  // 8 x 128 = 1024 threads >= n
    std::vector<float> x(p.n), sums(32, -1), all(1024, -1);
    for (unsigned i = 0; i < p.n; ++i) x[i] = float(i % 17) - 8.0f;
    float *xp = x.data(), *sp = sums.data(), *ap = all.data();
    int rc = launch("warp_reduce", {blocks}, {128}, p, xp, sp, ap);
    CHECK(rc == 0, "rc %d: %s", rc, errbuf);
    for (unsigned w = 0; w < 32; ++w) {
        float ref = 0;
        for (unsigned i = w * 32; i < w * 32 + 32; ++i) ref += i < p.n ? x[i] : 0.0f;
        CHECK(sums[w] == ref, "warp %u: %g vs %g", w, sums[w], ref);
        for (unsigned l = 0; l < 32 && ok; ++l) CHECK(all[w * 32 + l] == ref, "allsum warp %u lane %u", w, l);
    }
    return ok;
}

bool t_warp_scan() {
    bool ok = true;
    StParams p{0, 5, 0};
    const unsigned n = 256;
    std::vector<int> x(n), y(n, -1), bc(n, -1);
    std::vector<double> yd(n, -1);
    for (unsigned i = 0; i < n; ++i) x[i] = int(i * 7 % 11) - 3;
    int *xp = x.data(), *yp = y.data(), *bp = bc.data();
    double* dp = yd.data();
    int rc = launch("warp_scan", {2}, {128}, p, xp, yp, dp, bp);
    CHECK(rc == 0, "rc %d: %s", rc, errbuf);
    for (unsigned i = 0; i < n && ok; ++i) {
        int ref = 0;
        for (unsigned j = i - i % 16; j <= i; ++j) ref += x[j];
        CHECK(y[i] == ref && yd[i] == ref, "scan %u: %d %g vs %d", i, y[i], yd[i], ref);
        CHECK(bc[i] == x[i - i % 32 + 5], "broadcast %u", i);
    }
    return ok;
}

bool t_warp_vote() {
    bool ok = true;
    StParams p{0, 0, 0};
    const unsigned n = 128;
    std::vector<int> x(n);
    for (unsigned i = 0; i < n; ++i) x[i] = i < 32 ? 1 + int(i % 5) : i < 64 ? -1 : i < 96 ? int(i % 3) : int(i % 4) - 2;
    std::vector<unsigned> ballot(4), red(4), match(n);
    std::vector<int> anyall(4);
    int* xp = x.data();
    unsigned *bp = ballot.data(), *rp = red.data(), *mp = match.data();
    int* ap = anyall.data();
    int rc = launch("warp_vote", {1}, {128}, p, xp, bp, ap, rp, mp);
    CHECK(rc == 0, "rc %d: %s", rc, errbuf);
    for (unsigned w = 0; w < 4; ++w) {
        unsigned b = 0, sum = 0;
        for (unsigned l = 0; l < 32; ++l) {
            b |= unsigned(x[w * 32 + l] > 0) << l;
            sum += unsigned(x[w * 32 + l]);
        }
        CHECK(ballot[w] == b, "ballot %u: %08x vs %08x", w, ballot[w], b);
        CHECK(anyall[w] == int(b != 0) + 2 * int(b == ~0u), "any/all %u: %d", w, anyall[w]);
        CHECK(red[w] == sum, "reduce_add %u", w);
        for (unsigned l = 0; l < 32; ++l) {
            unsigned same = 0;
            for (unsigned m = 0; m < 32; ++m) same += x[w * 32 + m] % 3 == x[w * 32 + l] % 3;
            CHECK(match[w * 32 + l] == same, "match_any %u/%u: %u vs %u", w, l, match[w * 32 + l], same);
        }
    }
    return ok;
}

bool t_warp_partial() {
    bool ok = true;
    StParams p{0, 0, 0};
    std::vector<float> y(96, -1);
    std::vector<unsigned> ballot(4, 7);
    float* yp = y.data();
    unsigned* bp = ballot.data();
    int rc = launch("warp_partial", {1}, {48}, p, yp, bp);
    CHECK(rc == 0, "rc %d: %s", rc, errbuf);
    for (unsigned t = 0; t < 48; ++t) {
        unsigned lo = t - t % 16;
        float ref = 0;
        for (unsigned j = lo; j < lo + 16; ++j) ref += float(j);
        CHECK(y[t] == ref, "thread %u: %g vs %g", t, y[t], ref);
        CHECK(y[48 + t] == 16.0f, "half-warp group sum thread %u: %g", t, y[48 + t]);
    }
    CHECK(ballot[0] == 0x55555555u && ballot[1] == 0x5555u, "ballot %08x %08x", ballot[0], ballot[1]);
    CHECK(ballot[2] == 1u && ballot[3] == 1u, "activemask %08x %08x", ballot[2], ballot[3]);
    return ok;
}

bool t_histogram() {
    bool ok = true;
    StParams p{1u << 20, 200, 0};
    std::vector<unsigned> x(p.n), bins(p.k, 0), ref(p.k, 0);
    std::mt19937 rng(3);
    for (auto& v : x) v = rng();
    for (auto v : x) ref[v % p.k]++;
    unsigned* xp = x.data();
    unsigned* bp = bins.data();
    int rc = launch("histogram", {96}, {256}, p, xp, bp);
    CHECK(rc == 0, "rc %d: %s", rc, errbuf);
    CHECK(bins == ref, "bins differ");
    return ok;
}

bool t_atomics() {
    bool ok = true;
    StParams p{0, 0, 0};
    float fsum = 0;
    int imax = -1 << 30;
    unsigned umin = ~0u, inc = 0;
    unsigned long long cas = 1;
    int exch = 0;
    float* a0 = &fsum;
    int* a1 = &imax;
    unsigned* a2 = &umin;
    unsigned long long* a3 = &cas;
    unsigned* a4 = &inc;
    int* a5 = &exch;
    const unsigned blocks = 64, threads = 256, total = blocks * threads;
    int rc = launch("atomics_misc", {blocks}, {threads}, p, a0, a1, a2, a3, a4, a5);
    CHECK(rc == 0, "rc %d: %s", rc, errbuf);
    CHECK(fsum == 1.5f * total, "float atomicAdd %g", fsum);
    CHECK(imax == int(total) - 1 - 1000 && umin == 7, "max %d min %u", imax, umin);
    CHECK(cas == 1 + 2ull * total, "CAS loop %llu", cas);
    CHECK(inc == total % 101, "atomicInc %u", inc);
    CHECK(exch == 5, "exch %d", exch);
    return ok;
}

bool t_transpose2d() {
    bool ok = true;
    const unsigned rows = 300, cols = 200;
    StParams p{rows, cols, 0};
    std::vector<float> x(rows * cols), y(rows * cols, -1);
    for (unsigned i = 0; i < rows * cols; ++i) x[i] = float(i);
    float *xp = x.data(), *yp = y.data();
    int rc = launch("transpose2d", {(cols + 31) / 32, (rows + 31) / 32}, {32, 8}, p, xp, yp);
    CHECK(rc == 0, "rc %d: %s", rc, errbuf);
    for (unsigned r = 0; r < rows && ok; ++r)
        for (unsigned c = 0; c < cols && ok; ++c) CHECK(y[c * rows + r] == x[r * cols + c], "(%u,%u)", r, c);
    return ok;
}

bool t_grid3d() {
    bool ok = true;
    StParams p{0, 0, 0};
    const Dim g{3, 4, 5}, b{4, 2, 3};
    const unsigned nb = g.x * g.y * g.z, nt = b.x * b.y * b.z;
    struct U4 {
        unsigned x, y, z, w;
    };
    std::vector<U4> out(nb * nt, U4{0, 0, 0, 0});
    U4* op = out.data();
    int rc = launch("grid3d", g, b, p, op);
    CHECK(rc == 0, "rc %d: %s", rc, errbuf);
    for (unsigned bz = 0; bz < g.z; ++bz)
        for (unsigned by = 0; by < g.y; ++by)
            for (unsigned bx = 0; bx < g.x; ++bx)
                for (unsigned tz = 0; tz < b.z; ++tz)
                    for (unsigned ty = 0; ty < b.y; ++ty)
                        for (unsigned tx = 0; tx < b.x; ++tx) {
                            unsigned i = ((bz * g.y + by) * g.x + bx) * nt + (tz * b.y + ty) * b.x + tx;
                            const U4& u = out[i];
                            CHECK(u.x == (bx | by << 8 | bz << 16) && u.y == (tx | ty << 8 | tz << 16) &&
                                      u.z == (3u | 4u << 8 | 5u << 16) && u.w == (4u | 2u << 8 | 3u << 16),
                                  "element %u", i);
                            if (!ok) return ok;
                        }
    return ok;
}

bool t_sgemm() {
    bool ok = true;
    const unsigned m = 200, n = 136, k = 150;  // not multiples of the tile
    GemmP p{m, n, k, 0};
    std::vector<float> a(m * k), b(k * n), c(m * n, -1);
    std::mt19937 rng(4);
    std::uniform_real_distribution<float> d(-1, 1);
    for (float& v : a) v = d(rng);
    for (float& v : b) v = d(rng);
    float *ap = a.data(), *bp = b.data(), *cp = c.data();
    int rc = launch("tiled_sgemm", {(n + 63) / 64, (m + 63) / 64}, {256}, p, ap, bp, cp);
    CHECK(rc == 0, "rc %d: %s", rc, errbuf);
    for (unsigned i = 0; i < m && ok; ++i)
        for (unsigned j = 0; j < n && ok; ++j) {
            double ref = 0;
            for (unsigned q = 0; q < k; ++q) ref += double(a[i * k + q]) * b[q * n + j];
            CHECK(std::fabs(c[i * n + j] - ref) < 1e-4, "c[%u,%u] %g vs %g", i, j, c[i * n + j], ref);
        }
    return ok;
}

bool t_intrinsics() {
    bool ok = true;
    StParams p{0, 0, 2.5f};
    std::vector<float> f(16, -99);
    std::vector<int> n(16, -99);
    float* fp = f.data();
    int* np = n.data();
    int rc = launch("intrinsics", {1}, {32}, p, fp, np);
    CHECK(rc == 0, "rc %d: %s", rc, errbuf);
    const float fr[12] = {0, 0.5f, 1, 2.5f, 3.5f, 4.5f, 3.5f, 2.5f, 4.75f, INFINITY, 21, 23};
    for (int i = 0; i < 12; ++i) CHECK(f[i] == fr[i] || (i == 7 && close(f[i], fr[i], 1e-6)), "f[%d] = %g, want %g", i, f[i], fr[i]);
    const int nr[10] = {43108, 3, 25165824, -1, 14, -158, 1, 161608, 32, 1};
    for (int i = 0; i < 10; ++i) CHECK(n[i] == nr[i], "n[%d] = %d, want %d", i, n[i], nr[i]);
    return ok;
}

// Kernels that must fail with a clear message (and not hang); the emulator must work
// normally afterwards.
bool expect_error(const char* what, int rc, const std::vector<const char*>& needles) {
    bool ok = true;
    CHECK(rc != 0, "%s: launch succeeded", what);
    for (const char* s : needles) CHECK(std::strstr(errbuf, s) != nullptr, "%s: '%s' not in message: %s", what, s, errbuf);
    if (ok) std::printf("    %s -> %s\n", what, errbuf);
    return ok;
}

bool t_errors() {
    bool ok = true;
    StParams p{100, 2, 1.0f};
    std::vector<float> y(4096);
    std::vector<unsigned> u(64);
    float* yp = y.data();
    unsigned* up = u.data();
    ok &= expect_error("divergent __syncthreads", launch("divergent_sync", {4}, {64}, p, yp),
                       {"divergent_sync", "deadlock", "__syncthreads", "block (", "thread ("});
    ok &= expect_error("early return", launch("early_return_sync", {1}, {128}, p, yp),
                       {"early_return_sync", "exited", "thread (100,0,0)"});
    ok &= expect_error("warp divergence", launch("warp_diverge", {1}, {64}, p, yp),
                       {"warp_diverge", "__shfl_down_sync", "has exited"});
    ok &= expect_error("mismatched collectives", launch("warp_mismatch", {1}, {32}, p, up),
                       {"deadlock", "__ballot_sync", "__syncwarp"});
    ok &= expect_error("assert", launch("assert_kernel", {8}, {32}, p, yp), {"assertion", "block (2,0,0)"});
    ok &= expect_error("trap", launch("trap_kernel", {1}, {32}, p, yp), {"__trap", "thread (2,0,0)"});
    ok &= expect_error("unknown kernel", launch("no_such_kernel", {1}, {1}, p), {"unknown kernel"});
    ok &= expect_error("block too large", launch("block_sum", {1}, {2048}, p, yp, yp), {"invalid block"});
    ok &= expect_error("block 32x64", launch("block_sum", {1}, {32, 64}, p, yp, yp), {"invalid block"});
    ok &= expect_error("empty grid", launch("block_sum", {0}, {256}, p, yp, yp), {"invalid grid"});
    CHECK(lib.launch("block_sum", 1, 1, 1, 256, 1, 1, nullptr, errbuf, sizeof errbuf) != 0, "null args accepted");
    ok &= t_block_sum();  // still works after failures
    return ok;
}

bool t_concurrent_callers() {
    bool ok = true;
    bool r[3] = {true, true, true};
    std::vector<std::thread> ts;
    for (int t = 0; t < 3; ++t)
        ts.emplace_back([&, t] {
            StParams p{50000, 0, 2.0f};
            std::vector<float> x(p.n, float(t)), y(p.n);
            float *xp = x.data(), *yp = y.data();
            char err[256];
            for (int it = 0; it < 20; ++it) {
                void* args[] = {&p, &xp, &yp};
                if (lib.launch("axpb", 64, 1, 1, 256, 1, 1, args, err, sizeof err) != 0) r[t] = false;
                for (float v : y)
                    if (v != 2.0f * float(t) + 1.0f) r[t] = false;
            }
        });
    for (auto& t : ts) t.join();
    CHECK(r[0] && r[1] && r[2], "a concurrent caller saw a wrong result");
    return ok;
}

// Rough speed probes (not pass/fail): a conv-like tiled SGEMM and a grid-stride kernel.
bool t_perf() {
    bool ok = true;
    {
        const unsigned s = 256;
        GemmP p{s, s, s, 0};
        std::vector<float> a(s * s, 1.0f), b(s * s, 0.5f), c(s * s);
        float *ap = a.data(), *bp = b.data(), *cp = c.data();
        double t0 = now();
        int rc = launch("tiled_sgemm", {s / 64, s / 64}, {256}, p, ap, bp, cp);
        double dt = now() - t0;
        CHECK(rc == 0 && c[12345] == 0.5f * s, "rc %d c %g", rc, c[12345]);
        std::printf("    tiled_sgemm %ux%ux%u: %.1f ms (%u blocks of 256 threads, %u barriers each)\n", s, s, s, dt * 1e3,
                    (s / 64) * (s / 64), 2 * s / 16);
    }
    {
        StParams p{1u << 20, 0, 3.0f};
        std::vector<float> x(p.n, 1.0f), y(p.n);
        float *xp = x.data(), *yp = y.data();
        double t0 = now();
        int rc = launch("axpb", {unsigned(p.n / 256)}, {256}, p, xp, yp);
        double dt = now() - t0;
        CHECK(rc == 0 && y[777] == 4.0f, "rc %d", rc);
        std::printf("    axpb n=2^20 (4096 blocks x 256): %.1f ms = %.1f ns per CUDA thread\n", dt * 1e3, dt * 1e9 / p.n);
    }
    return ok;
}

void run(const char* name, bool (*fn)()) {
    current = name;
    bool ok = fn();
    (ok ? passed : failed)++;
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", name);
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s LIB[:THREADS]...\n", argv[0]);
        return 2;
    }
    for (int a = 1; a < argc; ++a) {
        std::string spec = argv[a], path = spec;
        size_t colon = spec.rfind(':');
        if (colon != std::string::npos) {
            path = spec.substr(0, colon);
            setenv("EMU_THREADS", spec.substr(colon + 1).c_str(), 1);
        } else {
            unsetenv("EMU_THREADS");
        }
        void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            std::printf("FAIL dlopen %s: %s\n", path.c_str(), dlerror());
            ++failed;
            continue;
        }
        lib.launch = reinterpret_cast<LaunchFn>(dlsym(h, "emu_launch"));
        lib.count = reinterpret_cast<CountFn>(dlsym(h, "emu_kernel_count"));
        lib.name = reinterpret_cast<NameFn>(dlsym(h, "emu_kernel_name"));
        lib.param_count = reinterpret_cast<ParamCountFn>(dlsym(h, "emu_kernel_param_count"));
        lib.param_size = reinterpret_cast<ParamSizeFn>(dlsym(h, "emu_kernel_param_size"));
        if (!lib.launch || !lib.count || !lib.name || !lib.param_count || !lib.param_size) {
            std::printf("FAIL %s: missing C ABI symbols\n", path.c_str());
            ++failed;
            continue;
        }
        std::printf("== %s (EMU_THREADS=%s)\n", path.c_str(), getenv("EMU_THREADS") ? getenv("EMU_THREADS") : "default");
        run("registry", t_registry);
        run("block_sum", t_block_sum);
        run("big_block_sum (1024 threads, syncthreads_count)", t_big_block);
        run("warp_reduce", t_warp_reduce);
        run("warp_scan", t_warp_scan);
        run("warp_vote", t_warp_vote);
        run("warp_partial", t_warp_partial);
        run("histogram", t_histogram);
        run("atomics", t_atomics);
        run("transpose2d", t_transpose2d);
        run("grid3d", t_grid3d);
        run("tiled_sgemm", t_sgemm);
        run("intrinsics", t_intrinsics);
        run("errors", t_errors);
        run("concurrent callers", t_concurrent_callers);
        run("perf", t_perf);
        // Not dlclosed: the library's worker threads stay until exit.
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

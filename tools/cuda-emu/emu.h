// emu.h - lets a CUDA kernel source (.cu) compile as plain C++20 under g++ so that it
// runs on the CPU through the fiber runtime in emu_runtime.cpp. Include it before the
// .cu (`g++ -include emu.h`, or `#include "emu.h"` first in a wrapper TU, which is what
// build.sh generates). See README.md for what is and is not emulated.
//
// Defining EMU_RUNTIME_INTERNAL before including it gives only the ABI part (types,
// runtime entry points) without the CUDA keywords and macros; emu_runtime.cpp uses that.
#pragma once

#include <atomic>
#include <bit>
#include <cassert>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <math.h>  // libstdc++'s math.h: float overloads (sqrt(float), ...) in the global namespace
#include <new>
#include <stdint.h>
#include <stdlib.h>
#include <tuple>
#include <type_traits>
#include <utility>

#define __CUDA_EMU__ 1

#define EMU_HIDDEN __attribute__((visibility("hidden")))

// ---------------------------------------------------------------------------------------
// Built-in vector types (CUDA's alignment), dim3.
// ---------------------------------------------------------------------------------------
struct uint3 { unsigned int x, y, z; };
struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
    constexpr operator uint3() const { return uint3{x, y, z}; }
};

// ---------------------------------------------------------------------------------------
// ABI shared with emu_runtime.cpp. Nothing here is meant for kernel code.
// ---------------------------------------------------------------------------------------
namespace emu {
// What a CUDA thread sees of itself. Every fiber runs on a stack slot of emu_stack_mask+1
// bytes (a power of two), aligned to its size; the last 8 bytes of the slot point at the
// running fiber's FiberCtx. So the built-in variables cost two loads and no TLS lookup.
struct FiberCtx {
    uint3 thread_idx;
    uint3 block_idx;
    dim3 block_dim;
    dim3 grid_dim;
};
}  // namespace emu
extern "C" EMU_HIDDEN uintptr_t emu_stack_mask;
namespace emu {
inline const FiberCtx* ctx() {
    uintptr_t sp;
#if defined(__x86_64__)
    asm("movq %%rsp, %0" : "=r"(sp));
#elif defined(__aarch64__)
    asm("mov %0, sp" : "=r"(sp));
#else
    char probe;
    sp = reinterpret_cast<uintptr_t>(&probe);
    asm("" : "+r"(sp));  // a plain integer from here on
#endif
    return *reinterpret_cast<const FiberCtx* const*>((sp | emu_stack_mask) - 7);
}

enum WarpOp : int {
    kWarpSync = 0,
    kShflIdx, kShflUp, kShflDown, kShflXor,
    kBallot, kAny, kAll,
    kMatchAny, kMatchAll,
    kReduceAddU, kReduceMinU, kReduceMaxU, kReduceMinI, kReduceMaxI,
    kReduceAnd, kReduceOr, kReduceXor,
    kWarpOpCount
};
enum BarrierOp : int { kBarSync = 0, kBarCount, kBarAnd, kBarOr };

using Trampoline = void (*)(void** args);
}  // namespace emu

extern "C" {
// Block barrier: suspends the calling fiber until every thread of the block arrives.
// Returns the count / and / or of `pred` over the block for the reducing variants.
EMU_HIDDEN int emu_rt_barrier(int op, int pred);
// Warp-level collective over the lanes of `mask` (see emu::WarpOp). Returns the result
// for the calling lane; values travel as 64-bit patterns.
EMU_HIDDEN unsigned long long emu_rt_warp(unsigned mask, unsigned long long value, int op, int arg, int width);
EMU_HIDDEN unsigned emu_rt_activemask(void);
// Fails the launch with `msg` and abandons the block (never returns into the kernel).
[[noreturn]] EMU_HIDDEN void emu_rt_fail(const char* msg);
[[noreturn]] EMU_HIDDEN void emu_rt_assert_fail(const char* expr, const char* file, int line, const char* func);
EMU_HIDDEN long long emu_rt_clock(void);
EMU_HIDDEN void emu_rt_register(const char* name, emu::Trampoline fn, int nparams, const size_t* param_sizes);
}

// ---------------------------------------------------------------------------------------
// Kernel registration: EMU_REGISTER(NAME) after the .cu has been included.
// ---------------------------------------------------------------------------------------
namespace emu {
template <class F> struct KernelSig;
template <class... A> struct KernelSig<void (*)(A...)> {
    using Params = std::tuple<std::remove_cvref_t<A>...>;
    static constexpr int count = int(sizeof...(A));
    static constexpr size_t sizes[sizeof...(A) + 1] = {sizeof(std::remove_cvref_t<A>)..., 0};
};
template <class... A> struct KernelSig<void (*)(A...) noexcept> : KernelSig<void (*)(A...)> {};

template <auto F, size_t... I>
inline void invoke_kernel(void** args, std::index_sequence<I...>) {
    using P = typename KernelSig<decltype(F)>::Params;
    // args[i] points at the i-th argument's value, as for cuLaunchKernel.
    F(*static_cast<std::tuple_element_t<I, P>*>(args[I])...);
}
template <auto F> void trampoline(void** args) {
    invoke_kernel<F>(args, std::make_index_sequence<KernelSig<decltype(F)>::count>{});
}
template <auto F> inline int register_kernel(const char* name) {
    using S = KernelSig<decltype(F)>;
    emu_rt_register(name, &trampoline<F>, S::count, S::sizes);
    return 0;
}
}  // namespace emu

#define EMU_REGISTER(NAME) \
    [[maybe_unused]] static const int emu_registered_##NAME = ::emu::register_kernel<&NAME>(#NAME);

#ifndef EMU_RUNTIME_INTERNAL

#pragma GCC diagnostic ignored "-Wattributes"       // always_inline on non-inline functions
#pragma GCC diagnostic ignored "-Wunknown-pragmas"  // #pragma unroll

// ---------------------------------------------------------------------------------------
// Keywords / qualifiers.
// ---------------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __noinline__ __attribute__((noinline))
#define __forceinline__ __attribute__((always_inline))
#define __restrict__
#define __launch_bounds__(...)
#define __grid_constant__
#define __constant__
#define __managed__
#define __align__(n) __attribute__((aligned(n)))
// One instance per OS worker thread; all fibers (CUDA threads) of the block that thread
// runs share it. Like CUDA shared memory it is not initialised at block start.
#define __shared__ static thread_local

// ---------------------------------------------------------------------------------------
// Built-in variables.
// ---------------------------------------------------------------------------------------
#define threadIdx (::emu::ctx()->thread_idx)
#define blockIdx (::emu::ctx()->block_idx)
#define blockDim (::emu::ctx()->block_dim)
#define gridDim (::emu::ctx()->grid_dim)
inline constexpr int warpSize = 32;

// ---------------------------------------------------------------------------------------
// Vector types.
// ---------------------------------------------------------------------------------------
struct __attribute__((aligned(2))) char2 { signed char x, y; };
struct __attribute__((aligned(2))) uchar2 { unsigned char x, y; };
struct __attribute__((aligned(4))) char4 { signed char x, y, z, w; };
struct __attribute__((aligned(4))) uchar4 { unsigned char x, y, z, w; };
struct __attribute__((aligned(4))) short2 { short x, y; };
struct __attribute__((aligned(4))) ushort2 { unsigned short x, y; };
struct __attribute__((aligned(8))) short4 { short x, y, z, w; };
struct __attribute__((aligned(8))) ushort4 { unsigned short x, y, z, w; };
struct float1 { float x; };
struct __attribute__((aligned(8))) float2 { float x, y; };
struct float3 { float x, y, z; };
struct __attribute__((aligned(16))) float4 { float x, y, z, w; };
struct int1 { int x; };
struct __attribute__((aligned(8))) int2 { int x, y; };
struct int3 { int x, y, z; };
struct __attribute__((aligned(16))) int4 { int x, y, z, w; };
struct uint1 { unsigned int x; };
struct __attribute__((aligned(8))) uint2 { unsigned int x, y; };
struct __attribute__((aligned(16))) uint4 { unsigned int x, y, z, w; };
struct __attribute__((aligned(16))) double2 { double x, y; };
struct __attribute__((aligned(16))) longlong2 { long long x, y; };
struct __attribute__((aligned(16))) ulonglong2 { unsigned long long x, y; };

inline constexpr char2 make_char2(signed char x, signed char y) { return {x, y}; }
inline constexpr uchar2 make_uchar2(unsigned char x, unsigned char y) { return {x, y}; }
inline constexpr char4 make_char4(signed char x, signed char y, signed char z, signed char w) { return {x, y, z, w}; }
inline constexpr uchar4 make_uchar4(unsigned char x, unsigned char y, unsigned char z, unsigned char w) { return {x, y, z, w}; }
inline constexpr short2 make_short2(short x, short y) { return {x, y}; }
inline constexpr ushort2 make_ushort2(unsigned short x, unsigned short y) { return {x, y}; }
inline constexpr float1 make_float1(float x) { return {x}; }
inline constexpr float2 make_float2(float x, float y) { return {x, y}; }
inline constexpr float3 make_float3(float x, float y, float z) { return {x, y, z}; }
inline constexpr float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline constexpr int2 make_int2(int x, int y) { return {x, y}; }
inline constexpr int3 make_int3(int x, int y, int z) { return {x, y, z}; }
inline constexpr int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline constexpr uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline constexpr uint3 make_uint3(unsigned x, unsigned y, unsigned z) { return {x, y, z}; }
inline constexpr uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
inline constexpr double2 make_double2(double x, double y) { return {x, y}; }
inline constexpr longlong2 make_longlong2(long long x, long long y) { return {x, y}; }
inline constexpr ulonglong2 make_ulonglong2(unsigned long long x, unsigned long long y) { return {x, y}; }

// ---------------------------------------------------------------------------------------
// Synchronisation and warp collectives.
// Every lane named in `mask` that exists in the block must reach a matching call (same
// intrinsic, same mask); lanes beyond blockDim are dropped from the mask.
// ---------------------------------------------------------------------------------------
inline void __syncthreads() { emu_rt_barrier(::emu::kBarSync, 0); }
inline int __syncthreads_count(int pred) { return emu_rt_barrier(::emu::kBarCount, pred); }
inline int __syncthreads_and(int pred) { return emu_rt_barrier(::emu::kBarAnd, pred); }
inline int __syncthreads_or(int pred) { return emu_rt_barrier(::emu::kBarOr, pred); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { emu_rt_warp(mask, 0, ::emu::kWarpSync, 0, 32); }
inline unsigned __activemask() { return emu_rt_activemask(); }

namespace emu {
template <class T> inline unsigned long long to_bits(T v) {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "warp intrinsics take values of at most 8 bytes");
    unsigned long long b = 0;
    std::memcpy(&b, &v, sizeof(T));
    return b;
}
template <class T> inline T from_bits(unsigned long long b) {
    T v;
    std::memcpy(&v, &b, sizeof(T));
    return v;
}
}  // namespace emu

template <class T> inline T __shfl_sync(unsigned mask, T var, int srcLane, int width = 32) {
    return ::emu::from_bits<T>(emu_rt_warp(mask, ::emu::to_bits(var), ::emu::kShflIdx, srcLane, width));
}
template <class T> inline T __shfl_up_sync(unsigned mask, T var, unsigned int delta, int width = 32) {
    return ::emu::from_bits<T>(emu_rt_warp(mask, ::emu::to_bits(var), ::emu::kShflUp, int(delta), width));
}
template <class T> inline T __shfl_down_sync(unsigned mask, T var, unsigned int delta, int width = 32) {
    return ::emu::from_bits<T>(emu_rt_warp(mask, ::emu::to_bits(var), ::emu::kShflDown, int(delta), width));
}
template <class T> inline T __shfl_xor_sync(unsigned mask, T var, int laneMask, int width = 32) {
    return ::emu::from_bits<T>(emu_rt_warp(mask, ::emu::to_bits(var), ::emu::kShflXor, laneMask, width));
}
inline unsigned __ballot_sync(unsigned mask, int pred) { return unsigned(emu_rt_warp(mask, pred != 0, ::emu::kBallot, 0, 32)); }
inline int __any_sync(unsigned mask, int pred) { return int(emu_rt_warp(mask, pred != 0, ::emu::kAny, 0, 32)); }
inline int __all_sync(unsigned mask, int pred) { return int(emu_rt_warp(mask, pred != 0, ::emu::kAll, 0, 32)); }
inline int __uni_sync(unsigned mask, int pred) {
    const unsigned b = __ballot_sync(mask, pred), present = __ballot_sync(mask, 1);
    return b == 0 || b == present;
}
template <class T> inline unsigned __match_any_sync(unsigned mask, T value) {
    return unsigned(emu_rt_warp(mask, ::emu::to_bits(value), ::emu::kMatchAny, 0, 32));
}
template <class T> inline unsigned __match_all_sync(unsigned mask, T value, int* pred) {
    unsigned r = unsigned(emu_rt_warp(mask, ::emu::to_bits(value), ::emu::kMatchAll, 0, 32));
    *pred = r != 0;
    return r;
}
inline unsigned __reduce_add_sync(unsigned mask, unsigned v) { return unsigned(emu_rt_warp(mask, v, ::emu::kReduceAddU, 0, 32)); }
inline int __reduce_add_sync(unsigned mask, int v) { return int(unsigned(emu_rt_warp(mask, unsigned(v), ::emu::kReduceAddU, 0, 32))); }
inline unsigned __reduce_min_sync(unsigned mask, unsigned v) { return unsigned(emu_rt_warp(mask, v, ::emu::kReduceMinU, 0, 32)); }
inline int __reduce_min_sync(unsigned mask, int v) { return int(unsigned(emu_rt_warp(mask, unsigned(v), ::emu::kReduceMinI, 0, 32))); }
inline unsigned __reduce_max_sync(unsigned mask, unsigned v) { return unsigned(emu_rt_warp(mask, v, ::emu::kReduceMaxU, 0, 32)); }
inline int __reduce_max_sync(unsigned mask, int v) { return int(unsigned(emu_rt_warp(mask, unsigned(v), ::emu::kReduceMaxI, 0, 32))); }
inline unsigned __reduce_and_sync(unsigned mask, unsigned v) { return unsigned(emu_rt_warp(mask, v, ::emu::kReduceAnd, 0, 32)); }
inline unsigned __reduce_or_sync(unsigned mask, unsigned v) { return unsigned(emu_rt_warp(mask, v, ::emu::kReduceOr, 0, 32)); }
inline unsigned __reduce_xor_sync(unsigned mask, unsigned v) { return unsigned(emu_rt_warp(mask, v, ::emu::kReduceXor, 0, 32)); }

inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_system() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_signal_fence(std::memory_order_seq_cst); }
[[noreturn]] inline void __trap() { emu_rt_fail("__trap() called"); }
[[noreturn]] inline void __brkpt() { emu_rt_fail("__brkpt() called"); }
inline void __nanosleep(unsigned) {}
inline long long clock64() { return emu_rt_clock(); }

// A failed assert() fails the launch (with the expression and location) instead of
// aborting the whole process. Under NDEBUG it vanishes as usual.
#ifndef NDEBUG
#undef assert
#define assert(e) (static_cast<bool>(e) ? void(0) : ::emu_rt_assert_fail(#e, __FILE__, __LINE__, __func__))
#endif

// ---------------------------------------------------------------------------------------
// Atomics: real atomics (blocks run concurrently on several OS threads), relaxed order
// like CUDA's. Each returns the old value.
// ---------------------------------------------------------------------------------------
namespace emu {
template <class T> inline T atomic_add(T* a, T v) { return std::atomic_ref<T>(*a).fetch_add(v, std::memory_order_relaxed); }
template <class T, class F> inline T atomic_update(T* a, F f) {
    std::atomic_ref<T> r(*a);
    T old = r.load(std::memory_order_relaxed);
    while (!r.compare_exchange_weak(old, f(old), std::memory_order_relaxed, std::memory_order_relaxed)) {
    }
    return old;
}
template <class T> inline T atomic_cas(T* a, T compare, T val) {
    std::atomic_ref<T>(*a).compare_exchange_strong(compare, val, std::memory_order_relaxed, std::memory_order_relaxed);
    return compare;  // holds the old value either way
}
}  // namespace emu

inline int atomicAdd(int* a, int v) { return ::emu::atomic_add(a, v); }
inline unsigned atomicAdd(unsigned* a, unsigned v) { return ::emu::atomic_add(a, v); }
inline unsigned long long atomicAdd(unsigned long long* a, unsigned long long v) { return ::emu::atomic_add(a, v); }
inline float atomicAdd(float* a, float v) { return ::emu::atomic_add(a, v); }
inline double atomicAdd(double* a, double v) { return ::emu::atomic_add(a, v); }
inline int atomicSub(int* a, int v) { return std::atomic_ref<int>(*a).fetch_sub(v, std::memory_order_relaxed); }
inline unsigned atomicSub(unsigned* a, unsigned v) { return std::atomic_ref<unsigned>(*a).fetch_sub(v, std::memory_order_relaxed); }

#define EMU_ATOMIC_EXCH(T) \
    inline T atomicExch(T* a, T v) { return std::atomic_ref<T>(*a).exchange(v, std::memory_order_relaxed); }
EMU_ATOMIC_EXCH(int)
EMU_ATOMIC_EXCH(unsigned)
EMU_ATOMIC_EXCH(unsigned long long)
EMU_ATOMIC_EXCH(float)
#undef EMU_ATOMIC_EXCH

#define EMU_ATOMIC_MINMAX(T)                                                                          \
    inline T atomicMin(T* a, T v) { return ::emu::atomic_update(a, [v](T o) { return v < o ? v : o; }); } \
    inline T atomicMax(T* a, T v) { return ::emu::atomic_update(a, [v](T o) { return v > o ? v : o; }); }
EMU_ATOMIC_MINMAX(int)
EMU_ATOMIC_MINMAX(unsigned)
EMU_ATOMIC_MINMAX(long long)
EMU_ATOMIC_MINMAX(unsigned long long)
#undef EMU_ATOMIC_MINMAX

#define EMU_ATOMIC_BITS(T)                                                                                          \
    inline T atomicAnd(T* a, T v) { return std::atomic_ref<T>(*a).fetch_and(v, std::memory_order_relaxed); }        \
    inline T atomicOr(T* a, T v) { return std::atomic_ref<T>(*a).fetch_or(v, std::memory_order_relaxed); }          \
    inline T atomicXor(T* a, T v) { return std::atomic_ref<T>(*a).fetch_xor(v, std::memory_order_relaxed); }
EMU_ATOMIC_BITS(int)
EMU_ATOMIC_BITS(unsigned)
EMU_ATOMIC_BITS(unsigned long long)
#undef EMU_ATOMIC_BITS

inline int atomicCAS(int* a, int compare, int val) { return ::emu::atomic_cas(a, compare, val); }
inline unsigned atomicCAS(unsigned* a, unsigned compare, unsigned val) { return ::emu::atomic_cas(a, compare, val); }
inline unsigned long long atomicCAS(unsigned long long* a, unsigned long long compare, unsigned long long val) {
    return ::emu::atomic_cas(a, compare, val);
}
inline unsigned short atomicCAS(unsigned short* a, unsigned short compare, unsigned short val) {
    return ::emu::atomic_cas(a, compare, val);
}
inline unsigned atomicInc(unsigned* a, unsigned val) {
    return ::emu::atomic_update(a, [val](unsigned o) { return o >= val ? 0u : o + 1; });
}
inline unsigned atomicDec(unsigned* a, unsigned val) {
    return ::emu::atomic_update(a, [val](unsigned o) { return (o == 0 || o > val) ? val : o - 1; });
}

// ---------------------------------------------------------------------------------------
// min / max: CUDA overloads them for every integer and floating type, mixed signedness
// promoted as in C++ (int with unsigned -> unsigned). Floating versions are fminf/fmaxf
// (a NaN operand yields the other operand).
// ---------------------------------------------------------------------------------------
template <class A, class B>
    requires(std::is_arithmetic_v<A> && std::is_arithmetic_v<B>)
inline constexpr std::common_type_t<A, B> min(A a, B b) {
    using C = std::common_type_t<A, B>;
    if constexpr (std::is_floating_point_v<C>) return std::fmin(C(a), C(b));
    else return C(b) < C(a) ? C(b) : C(a);
}
template <class A, class B>
    requires(std::is_arithmetic_v<A> && std::is_arithmetic_v<B>)
inline constexpr std::common_type_t<A, B> max(A a, B b) {
    using C = std::common_type_t<A, B>;
    if constexpr (std::is_floating_point_v<C>) return std::fmax(C(a), C(b));
    else return C(a) < C(b) ? C(b) : C(a);
}
inline unsigned umin(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned umax(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long llmin(long long a, long long b) { return a < b ? a : b; }
inline long long llmax(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long ullmin(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long ullmax(unsigned long long a, unsigned long long b) { return a > b ? a : b; }

// ---------------------------------------------------------------------------------------
// Math. <cmath>/<math.h> already give expf logf log1pf expm1f sqrtf fabsf fmaxf fminf powf
// tanhf floorf ceilf roundf fmaf exp log sqrt fabs fmax fmin ... (float overloads too).
// The fast intrinsics are computed at full precision here (results differ from the GPU
// in the last bits).
// ---------------------------------------------------------------------------------------
#ifndef INFINITY
#define INFINITY (__builtin_inff())
#endif
#ifndef NAN
#define NAN (__builtin_nanf(""))
#endif

inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float rcbrtf(float x) { return 1.0f / std::cbrt(x); }
inline float sinpif(float x) { return std::sin(float(M_PI) * x); }
inline float cospif(float x) { return std::cos(float(M_PI) * x); }
inline float normcdff(float x) { return 0.5f * std::erfc(-x * float(M_SQRT1_2)); }
inline double normcdf(double x) { return 0.5 * std::erfc(-x * M_SQRT1_2); }
inline float __expf(float x) { return std::exp(x); }
inline float __exp10f(float x) { return std::pow(10.0f, x); }
inline float __logf(float x) { return std::log(x); }
inline float __log2f(float x) { return std::log2(x); }
inline float __log10f(float x) { return std::log10(x); }
inline float __powf(float x, float y) { return std::pow(x, y); }
inline float __sinf(float x) { return std::sin(x); }
inline float __cosf(float x) { return std::cos(x); }
inline float __tanf(float x) { return std::tan(x); }
inline void __sincosf(float x, float* s, float* c) { *s = std::sin(x); *c = std::cos(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x > 0.0f ? (x < 1.0f ? x : 1.0f) : 0.0f; }  // NaN -> 0
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return std::sqrt(x); }
inline float __frsqrt_rn(float x) { return 1.0f / std::sqrt(x); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ddiv_rn(double a, double b) { return a / b; }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }
inline double __drcp_rn(double x) { return 1.0 / x; }
inline double __dsqrt_rn(double x) { return std::sqrt(x); }

inline float __int_as_float(int x) { return std::bit_cast<float>(x); }
inline int __float_as_int(float x) { return std::bit_cast<int>(x); }
inline float __uint_as_float(unsigned x) { return std::bit_cast<float>(x); }
inline unsigned __float_as_uint(float x) { return std::bit_cast<unsigned>(x); }
inline double __longlong_as_double(long long x) { return std::bit_cast<double>(x); }
inline long long __double_as_longlong(double x) { return std::bit_cast<long long>(x); }
inline int __double2hiint(double x) { return int(std::bit_cast<unsigned long long>(x) >> 32); }
inline int __double2loint(double x) { return int(unsigned(std::bit_cast<unsigned long long>(x))); }
inline double __hiloint2double(int hi, int lo) {
    return std::bit_cast<double>((static_cast<unsigned long long>(unsigned(hi)) << 32) | unsigned(lo));
}

// Float -> integer conversions saturate and map NaN to 0, as on the GPU.
namespace emu {
template <class I, class F> inline I sat_cast(F v) {
    if (std::isnan(v)) return 0;
    const F hi = std::ldexp(F(1), std::numeric_limits<I>::digits);  // 2^31, 2^32, 2^63, 2^64
    if (v >= hi) return std::numeric_limits<I>::max();
    if constexpr (std::is_signed_v<I>) {
        if (v < -hi) return std::numeric_limits<I>::min();
    } else {
        if (v <= F(-1)) return 0;
    }
    return static_cast<I>(v);
}
}  // namespace emu
#define EMU_CVT(NAME, I, F)                                                                  \
    inline I NAME##_rn(F v) { return ::emu::sat_cast<I>(std::nearbyint(v)); }               \
    inline I NAME##_rz(F v) { return ::emu::sat_cast<I>(std::trunc(v)); }                   \
    inline I NAME##_rd(F v) { return ::emu::sat_cast<I>(std::floor(v)); }                   \
    inline I NAME##_ru(F v) { return ::emu::sat_cast<I>(std::ceil(v)); }
EMU_CVT(__float2int, int, float)
EMU_CVT(__float2uint, unsigned, float)
EMU_CVT(__float2ll, long long, float)
EMU_CVT(__float2ull, unsigned long long, float)
EMU_CVT(__double2int, int, double)
EMU_CVT(__double2uint, unsigned, double)
EMU_CVT(__double2ll, long long, double)
EMU_CVT(__double2ull, unsigned long long, double)
#undef EMU_CVT
inline float __int2float_rn(int v) { return float(v); }
inline float __uint2float_rn(unsigned v) { return float(v); }
inline float __ll2float_rn(long long v) { return float(v); }
inline float __ull2float_rn(unsigned long long v) { return float(v); }
inline double __int2double_rn(int v) { return double(v); }
inline double __uint2double_rn(unsigned v) { return double(v); }
inline float __double2float_rn(double v) { return float(v); }

// Integer intrinsics.
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(unsigned(x)); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
    return __builtin_bswap32(x);
}
inline unsigned long long __brevll(unsigned long long x) {
    return (static_cast<unsigned long long>(__brev(unsigned(x))) << 32) | __brev(unsigned(x >> 32));
}
inline unsigned __umulhi(unsigned a, unsigned b) { return unsigned((static_cast<unsigned long long>(a) * b) >> 32); }
inline int __mulhi(int a, int b) { return int((static_cast<long long>(a) * b) >> 32); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
    return static_cast<unsigned long long>((static_cast<unsigned __int128>(a) * b) >> 64);
}
inline long long __mul64hi(long long a, long long b) { return static_cast<long long>((static_cast<__int128>(a) * b) >> 64); }
inline int __mul24(int a, int b) {
    long long x = static_cast<int>(unsigned(a) << 8) >> 8, y = static_cast<int>(unsigned(b) << 8) >> 8;
    return int(unsigned(static_cast<unsigned long long>(x * y)));
}
inline unsigned __umul24(unsigned a, unsigned b) { return (a & 0xffffffu) * (b & 0xffffffu); }
inline unsigned __byte_perm(unsigned x, unsigned y, unsigned s) {
    unsigned long long v = (static_cast<unsigned long long>(y) << 32) | x;
    unsigned r = 0;
    for (int i = 0; i < 4; ++i) r |= unsigned((v >> (8 * ((s >> (4 * i)) & 7))) & 0xff) << (8 * i);
    return r;
}
inline unsigned __funnelshift_l(unsigned lo, unsigned hi, unsigned shift) {
    unsigned long long v = (static_cast<unsigned long long>(hi) << 32) | lo;
    return unsigned((v << (shift & 31)) >> 32);
}
inline unsigned __funnelshift_lc(unsigned lo, unsigned hi, unsigned shift) {
    unsigned long long v = (static_cast<unsigned long long>(hi) << 32) | lo;
    return unsigned((v << (shift < 32 ? shift : 32)) >> 32);
}
inline unsigned __funnelshift_r(unsigned lo, unsigned hi, unsigned shift) {
    unsigned long long v = (static_cast<unsigned long long>(hi) << 32) | lo;
    return unsigned(v >> (shift & 31));
}
inline unsigned __funnelshift_rc(unsigned lo, unsigned hi, unsigned shift) {
    unsigned long long v = (static_cast<unsigned long long>(hi) << 32) | lo;
    return unsigned(v >> (shift < 32 ? shift : 32));
}

// Cache-hinted loads and stores are plain accesses.
template <class T> inline T __ldg(const T* p) { return *p; }
template <class T> inline T __ldcg(const T* p) { return *p; }
template <class T> inline T __ldca(const T* p) { return *p; }
template <class T> inline T __ldcs(const T* p) { return *p; }
template <class T> inline T __ldlu(const T* p) { return *p; }
template <class T> inline T __ldcv(const T* p) { return *p; }
template <class T> inline void __stwb(T* p, T v) { *p = v; }
template <class T> inline void __stcg(T* p, T v) { *p = v; }
template <class T> inline void __stcs(T* p, T v) { *p = v; }
template <class T> inline void __stwt(T* p, T v) { *p = v; }

#endif  // EMU_RUNTIME_INTERNAL

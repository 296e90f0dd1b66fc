// emu_runtime.cpp - CPU runtime for CUDA kernels compiled with emu.h.
//
// Model: every CUDA thread of a block is a fiber; all fibers of a block run on one OS
// thread, cooperatively: a fiber runs until it reaches __syncthreads / a warp collective
// / its end, then hands over to the next ready fiber (FIFO run queue). Blocks of a grid
// are spread over a pool of OS threads (EMU_THREADS), each running one block at a time,
// so __shared__ (static thread_local) is per block. Fibers switch with a small x86-64
// assembly routine (callee-saved registers + stack pointer, no syscall); other targets,
// or -DEMU_USE_UCONTEXT, use ucontext.
//
// When no fiber of a block is ready but some have not finished, the block is deadlocked
// (divergent __syncthreads, a warp collective some lane never reaches, ...): the launch
// fails with a message naming the kernel, the block and the threads involved.
#define EMU_RUNTIME_INTERNAL
#include "emu.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__) && !defined(EMU_USE_UCONTEXT)
#define EMU_ASM_SWITCH 1
#else
#define EMU_ASM_SWITCH 0
#include <ucontext.h>
#endif

#define EMU_EXPORT extern "C" __attribute__((visibility("default")))

extern "C" {
uintptr_t emu_stack_mask = 0;  // slot_bytes() - 1
}

namespace emu {

namespace {

constexpr unsigned kMaxBlockThreads = 1024;

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return buf;
}

// ---------------------------------------------------------------------------------------
// Context switching.
// ---------------------------------------------------------------------------------------
#if EMU_ASM_SWITCH
// void emu_ctx_switch(void** save_sp, void* load_sp): pushes the callee-saved registers
// (System V: rbx rbp r12-r15) on the current stack, stores rsp in *save_sp, loads
// load_sp and pops the other context's registers; `ret` resumes it. The SSE control
// register and x87 control word are shared by all fibers and left alone (kernels do not
// change rounding modes).
extern "C" void emu_ctx_switch(void** save_sp, void* load_sp) __attribute__((visibility("hidden")));
asm(R"(
    .text
    .p2align 4
    .globl emu_ctx_switch
    .hidden emu_ctx_switch
    .type emu_ctx_switch, @function
emu_ctx_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size emu_ctx_switch, .-emu_ctx_switch
)");

struct Context {
    void* sp = nullptr;
};
inline void ctx_switch(Context* from, Context* to) { emu_ctx_switch(&from->sp, to->sp); }
// A fresh context: six zero registers, then `entry` as the return address of the switch,
// then a null fake return address for entry (which never returns). The slot holding
// entry is 16-byte aligned so entry starts with rsp = 8 (mod 16), as after a call.
void ctx_make(Context* c, char* stack_lo, size_t size, void (*entry)()) {
    uintptr_t top = reinterpret_cast<uintptr_t>(stack_lo + size) & ~uintptr_t(15);
    void** sp = reinterpret_cast<void**>(top - 64);
    for (int i = 0; i < 6; ++i) sp[i] = nullptr;
    sp[6] = reinterpret_cast<void*>(entry);
    sp[7] = nullptr;
    c->sp = sp;
}
#else
struct Context {
    ucontext_t uc;
};
inline void ctx_switch(Context* from, Context* to) { swapcontext(&from->uc, &to->uc); }
void ctx_make(Context* c, char* stack_lo, size_t size, void (*entry)()) {
    getcontext(&c->uc);
    c->uc.uc_stack.ss_sp = stack_lo;
    c->uc.uc_stack.ss_size = size & ~size_t(15);
    c->uc.uc_link = nullptr;
    makecontext(&c->uc, entry, 0);
}
#endif

// ---------------------------------------------------------------------------------------
// Kernel registry (filled by the static initialisers of the generated TUs).
// ---------------------------------------------------------------------------------------
struct KernelInfo {
    std::string name;
    Trampoline fn;
    std::vector<size_t> param_sizes;
};
std::vector<KernelInfo>& registry() {
    static std::vector<KernelInfo> r;
    return r;
}
const KernelInfo* find_kernel(const char* name) {
    for (const KernelInfo& k : registry())
        if (k.name == name) return &k;
    return nullptr;
}

// ---------------------------------------------------------------------------------------
// Launch state shared by the OS threads working on one grid.
// ---------------------------------------------------------------------------------------
struct Launch {
    const KernelInfo* kernel = nullptr;
    dim3 grid, block;
    void** args = nullptr;
    unsigned nthreads = 0;
    uint64_t total_blocks = 0;
    std::atomic<uint64_t> next_block{0};
    std::atomic<bool> failed{false};
    std::mutex err_mu;
    std::string err;

    void fail(std::string msg) {
        std::lock_guard<std::mutex> lk(err_mu);
        if (!failed.load(std::memory_order_relaxed)) err = std::move(msg);
        failed.store(true, std::memory_order_relaxed);
    }
};

// ---------------------------------------------------------------------------------------
// Per-OS-thread worker: fibers, their stacks, and the state of the block it runs.
// ---------------------------------------------------------------------------------------
enum class FState : uint8_t { Ready, Running, AtBarrier, AtWarp, Done };

struct WarpGroup {  // one warp collective in progress: the lanes of `mask` meet here
    unsigned mask = 0, arrived = 0;
    int op = 0;
    int readers = 0;  // lanes that still have to read the result once released
    bool open = false, in_use = false;
    unsigned long long vals[32];
};

struct WarpState {
    std::unique_ptr<WarpGroup> groups[32];  // at most 32 disjoint collectives per warp
    unsigned ngroups = 0;
    unsigned existing = 0;  // lanes that exist in this block
    unsigned exited = 0;
};

struct Worker;

struct Fiber : FiberCtx {
    Context ctx;
    Worker* worker = nullptr;
    unsigned linear = 0;
    FState state = FState::Ready;
    bool started = false;        // has (or had) a stack; a fresh fiber has none yet
    WarpGroup* group = nullptr;  // while AtWarp
};

const char* warp_op_name(int op) {
    switch (op) {
        case kWarpSync: return "__syncwarp";
        case kShflIdx: return "__shfl_sync";
        case kShflUp: return "__shfl_up_sync";
        case kShflDown: return "__shfl_down_sync";
        case kShflXor: return "__shfl_xor_sync";
        case kBallot: return "__ballot_sync";
        case kAny: return "__any_sync";
        case kAll: return "__all_sync";
        case kMatchAny: return "__match_any_sync";
        case kMatchAll: return "__match_all_sync";
        case kReduceAddU: return "__reduce_add_sync";
        case kReduceMinU: case kReduceMinI: return "__reduce_min_sync";
        case kReduceMaxU: case kReduceMaxI: return "__reduce_max_sync";
        case kReduceAnd: return "__reduce_and_sync";
        case kReduceOr: return "__reduce_or_sync";
        case kReduceXor: return "__reduce_xor_sync";
        default: return "warp collective";
    }
}

void fiber_entry();

size_t page_size() {
    static const size_t p = size_t(sysconf(_SC_PAGESIZE));
    return p;
}

// Size of one fiber stack slot: EMU_STACK_KB (default 64) rounded up to a power of two,
// guard page included. Slots are aligned to their size (see emu::ctx()).
size_t slot_bytes() {
    static const size_t bytes = [] {
        size_t kb = 64;
        if (const char* s = getenv("EMU_STACK_KB")) {
            long v = strtol(s, nullptr, 10);
            if (v >= 16 && v <= 16384) kb = size_t(v);
        }
        size_t b = std::max<size_t>(kb * 1024, 4 * page_size());
        b = std::bit_ceil(b);
        emu_stack_mask = b - 1;
        return b;
    }();
    return bytes;
}

// The FiberCtx pointer at the top of the stack slot holding address `sp`.
inline const FiberCtx** slot_ctx_ptr(uintptr_t sp) {
    return reinterpret_cast<const FiberCtx**>((sp | emu_stack_mask) - 7);
}
inline Fiber* cur_fiber() { return const_cast<Fiber*>(static_cast<const Fiber*>(ctx())); }

struct Worker {
    // Block being run.
    Launch* launch = nullptr;
    const Launch* shape_launch = nullptr;  // launch whose block shape the fibers hold
    uint3 block_idx{};
    unsigned nthreads = 0, live = 0;
    unsigned bar_arrived = 0, bar_gen = 0, bar_true = 0, bar_result[2] = {0, 0};
    bool failed = false;
    std::string error;

    Fiber* fibers = nullptr;  // kMaxBlockThreads of them
    unsigned short* runq = nullptr;
    unsigned rq_head = 0, rq_count = 0;
    Context sched;
    WarpState warps[kMaxBlockThreads / 32];

    char* map = nullptr;    // mmap'ed region
    size_t map_bytes = 0;
    char* slots = nullptr;  // first slot, aligned to slot_bytes()
    unsigned slot_count = 0;

    Worker() {
        fibers = new Fiber[kMaxBlockThreads];
        runq = new unsigned short[kMaxBlockThreads];
        for (unsigned i = 0; i < kMaxBlockThreads; ++i) fibers[i].worker = this;
    }
    ~Worker() {
        if (map) munmap(map, map_bytes);
        delete[] fibers;
        delete[] runq;
    }

    bool ensure_stacks(unsigned n, std::string* err) {
        if (n <= slot_count) return true;
        const size_t S = slot_bytes();
        unsigned want = std::min(kMaxBlockThreads, std::max(n, slot_count * 2));
        if (map) munmap(map, map_bytes);
        map = slots = nullptr;
        slot_count = 0;
        size_t bytes = size_t(want + 1) * S;  // one extra slot to align the first
        void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                       -1, 0);
        if (p == MAP_FAILED) {
            *err = format("cannot map %zu bytes of fiber stacks (%u threads x %zu KiB)", bytes, want, S / 1024);
            return false;
        }
        map = static_cast<char*>(p);
        map_bytes = bytes;
        slots = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(map) + S - 1) & ~uintptr_t(S - 1));
        slot_count = want;
        // A guard page at the bottom of each slot turns a stack overflow into a SIGSEGV
        // instead of silent corruption. Best effort: stop if the kernel refuses more
        // mappings (vm.max_map_count).
        for (unsigned i = 0; i < want; ++i)
            if (mprotect(slots + size_t(i) * S, page_size(), PROT_NONE) != 0) break;
        return true;
    }

    void push(unsigned i) {
        unsigned pos = rq_head + rq_count;
        if (pos >= nthreads) pos -= nthreads;
        runq[pos] = static_cast<unsigned short>(i);
        ++rq_count;
    }
    Fiber* pop() {
        Fiber* f = &fibers[runq[rq_head]];
        if (++rq_head == nthreads) rq_head = 0;
        --rq_count;
        f->state = FState::Running;
        return f;
    }

    // Gives a fresh fiber the stack slot of its own index and a context that starts in
    // fiber_entry. (Slot i is only ever used by fiber i and by fresh fibers it hands its
    // stack to when it finishes, so slots never clash.)
    void start(Fiber* f) {
        const size_t S = slot_bytes();
        char* base = slots + size_t(f->linear) * S;
        *slot_ctx_ptr(reinterpret_cast<uintptr_t>(base)) = f;
        // Stagger the stack tops by cache lines so the fibers' frames do not all map to
        // the same L1 sets.
        const size_t color = size_t((f->linear * 7) % 64) * 64;
        ctx_make(&f->ctx, base + page_size(), S - page_size() - 16 - color, fiber_entry);
        f->started = true;
    }

    void switch_to(Context* from, Fiber* next) {
        if (!next->started) start(next);
        ctx_switch(from, &next->ctx);
    }

    // Suspends `self` (whose state the caller has set) and runs the next ready fiber,
    // or returns to the scheduler when none is ready.
    void switch_away(Fiber* self) {
        if (rq_count) switch_to(&self->ctx, pop());
        else ctx_switch(&self->ctx, &sched);
    }

    std::string where() const {
        return format("kernel '%s' block (%u,%u,%u)", launch->kernel->name.c_str(), block_idx.x, block_idx.y,
                      block_idx.z);
    }
    static std::string tid(const Fiber& f) {
        return format("thread (%u,%u,%u)", f.thread_idx.x, f.thread_idx.y, f.thread_idx.z);
    }

    void set_error(const std::string& msg) {
        if (!failed) error = msg;
        failed = true;
    }
    // Leaves the running fiber for good, after set_error.
    [[noreturn]] void fail_fiber(Fiber* self) {
        ctx_switch(&self->ctx, &sched);
        __builtin_trap();  // a failed fiber is never resumed
    }

    std::string describe_deadlock();
    void run_block(uint64_t linear_block);
};

std::string Worker::describe_deadlock() {
    const Fiber *first_bar = nullptr, *first_warp = nullptr, *first_done = nullptr;
    unsigned n_bar = 0, n_warp = 0, n_done = 0;
    for (unsigned i = 0; i < nthreads; ++i) {
        const Fiber& f = fibers[i];
        if (f.state == FState::AtBarrier) {
            if (!n_bar++) first_bar = &f;
        } else if (f.state == FState::AtWarp) {
            if (!n_warp++) first_warp = &f;
        } else if (f.state == FState::Done) {
            if (!n_done++) first_done = &f;
        }
    }
    std::string msg = where() + ": deadlock: ";
    if (first_warp) {
        const WarpGroup* g = first_warp->group;
        unsigned missing = g->mask & ~g->arrived;
        unsigned warp = first_warp->linear / 32;
        msg += format("%s (lane %u of warp %u) waits in %s(mask 0x%08x)", tid(*first_warp).c_str(),
                      first_warp->linear % 32, warp, warp_op_name(g->op), g->mask);
        if (missing) {
            unsigned lane = unsigned(__builtin_ctz(missing));
            const Fiber& m = fibers[warp * 32 + lane];
            msg += format(" but lane %u, %s, ", lane, tid(m).c_str());
            if (m.state == FState::Done) msg += "has exited";
            else if (m.state == FState::AtBarrier) msg += "waits at __syncthreads()";
            else if (m.state == FState::AtWarp)
                msg += format("waits in %s(mask 0x%08x)", warp_op_name(m.group->op), m.group->mask);
            else msg += "cannot proceed";
        }
        msg += "; every lane named in the mask must reach the same warp intrinsic";
        if (n_bar) msg += format(" (%u thread(s) wait at __syncthreads())", n_bar);
        return msg;
    }
    if (first_bar) {
        msg += format("%u of %u threads wait at __syncthreads() (first: %s)", n_bar, nthreads, tid(*first_bar).c_str());
        if (first_done)
            msg += format(" but %u thread(s) have exited without reaching it (first: %s)", n_done,
                          tid(*first_done).c_str());
        msg += "; __syncthreads() must be reached by every thread of the block (divergent barrier or early return)";
        return msg;
    }
    return msg + "no thread can proceed";
}

void Worker::run_block(uint64_t lb) {
    Launch& L = *launch;
    const dim3 g = L.grid, b = L.block;
    block_idx = uint3{unsigned(lb % g.x), unsigned((lb / g.x) % g.y), unsigned(lb / (uint64_t(g.x) * g.y))};
    nthreads = L.nthreads;
    live = nthreads;
    bar_arrived = bar_gen = bar_true = 0;
    failed = false;
    error.clear();

    const unsigned nwarps = (nthreads + 31) / 32;
    for (unsigned w = 0; w < nwarps; ++w) {
        WarpState& ws = warps[w];
        unsigned lanes = std::min(32u, nthreads - w * 32);
        ws.existing = lanes == 32 ? ~0u : (1u << lanes) - 1;
        ws.exited = 0;
        for (unsigned k = 0; k < ws.ngroups; ++k) ws.groups[k]->in_use = false;
    }
    const bool same_shape = shape_launch == &L;  // thread coordinates already set
    shape_launch = &L;
    unsigned tx = 0, ty = 0, tz = 0;
    for (unsigned i = 0; i < nthreads; ++i) {
        Fiber& f = fibers[i];
        if (!same_shape) {
            f.thread_idx = uint3{tx, ty, tz};
            f.block_dim = b;
            f.grid_dim = g;
            f.linear = i;
            if (++tx == b.x) {
                tx = 0;
                if (++ty == b.y) ty = 0, ++tz;
            }
        }
        f.block_idx = block_idx;
        f.state = FState::Ready;
        f.started = false;
        runq[i] = static_cast<unsigned short>(i);
    }
    rq_head = 0;
    rq_count = nthreads;

    while (rq_count && !failed) switch_to(&sched, pop());

    if (failed) L.fail(error);
    else if (live) L.fail(describe_deadlock());
}

// Bottom frame of every fiber stack. Runs the kernel for the fiber the slot belongs to;
// when it returns and the next ready fiber is fresh, runs that one right here on the
// same (now free, cache-hot) stack instead of switching: kernels without barriers run
// all threads of a block on one stack.
void fiber_entry() {
    Fiber* self = cur_fiber();
    Worker* w = self->worker;
    for (;;) {
        bool threw = false;
        try {
            w->launch->kernel->fn(w->launch->args);
        } catch (const std::exception& e) {
            threw = true;
            w->set_error(w->where() + ": " + Worker::tid(*self) + " threw a C++ exception: " + e.what());
        } catch (...) {
            threw = true;
            w->set_error(w->where() + ": " + Worker::tid(*self) + " threw a C++ exception");
        }
        if (threw) w->fail_fiber(self);
        self->state = FState::Done;
        --w->live;
        w->warps[self->linear / 32].exited |= 1u << (self->linear % 32);
        if (!w->rq_count) break;
        Fiber* next = w->pop();
        if (next->started) {
            ctx_switch(&self->ctx, &next->ctx);
            __builtin_trap();  // a finished fiber is never resumed
        }
        next->started = true;
        uintptr_t sp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
        *slot_ctx_ptr(sp) = next;
        self = next;
    }
    ctx_switch(&self->ctx, &w->sched);
    __builtin_trap();
}

void run_blocks(Launch& L) {
    static thread_local std::unique_ptr<Worker> owned;
    if (!owned) owned = std::make_unique<Worker>();
    Worker* w = owned.get();
    std::string err;
    if (!w->ensure_stacks(L.nthreads, &err)) {
        L.fail(err);
        return;
    }
    w->launch = &L;
    while (!L.failed.load(std::memory_order_relaxed)) {
        uint64_t b = L.next_block.fetch_add(1, std::memory_order_relaxed);
        if (b >= L.total_blocks) break;
        w->run_block(b);
    }
    w->launch = nullptr;
    w->shape_launch = nullptr;  // the next Launch may reuse this address
}

// ---------------------------------------------------------------------------------------
// Thread pool: EMU_THREADS OS threads in all, the launching thread being one of them.
// ---------------------------------------------------------------------------------------
class Pool {
  public:
    Pool() {
        unsigned n = std::thread::hardware_concurrency();
        if (const char* s = getenv("EMU_THREADS")) {
            long v = strtol(s, nullptr, 10);
            if (v >= 1) n = unsigned(std::min(v, 1024L));
        }
        nthreads_ = std::max(1u, n);
        for (unsigned i = 1; i < nthreads_; ++i) threads_.emplace_back([this, i] { loop(i); });
    }
    ~Pool() {
        {
            std::lock_guard<std::mutex> lk(mu_);
            stop_ = true;
        }
        cv_start_.notify_all();
        for (std::thread& t : threads_) t.join();
    }

    void run(Launch& L) {
        uint64_t extra = std::min<uint64_t>(nthreads_ - 1, L.total_blocks - 1);
        if (extra) {
            std::lock_guard<std::mutex> lk(mu_);
            job_ = &L;
            helpers_ = unsigned(extra);
            active_ = unsigned(extra);
            ++epoch_;
        }
        if (extra) cv_start_.notify_all();
        run_blocks(L);
        if (extra) {
            std::unique_lock<std::mutex> lk(mu_);
            cv_done_.wait(lk, [&] { return active_ == 0; });
            job_ = nullptr;
        }
    }

  private:
    void loop(unsigned idx) {
        uint64_t seen = 0;
        std::unique_lock<std::mutex> lk(mu_);
        for (;;) {
            cv_start_.wait(lk, [&] { return stop_ || epoch_ != seen; });
            if (stop_) return;
            seen = epoch_;
            if (idx > helpers_) continue;  // this grid needs fewer threads
            Launch* L = job_;
            lk.unlock();
            run_blocks(*L);
            lk.lock();
            if (--active_ == 0) cv_done_.notify_one();
        }
    }

    unsigned nthreads_ = 1;
    std::vector<std::thread> threads_;
    std::mutex mu_;
    std::condition_variable cv_start_, cv_done_;
    Launch* job_ = nullptr;
    uint64_t epoch_ = 0;
    unsigned helpers_ = 0, active_ = 0;
    bool stop_ = false;
};

Pool& pool() {
    static Pool p;
    return p;
}
std::mutex& launch_mutex() {
    static std::mutex m;
    return m;
}

int report(char* err, size_t err_len, int code, const std::string& msg) {
    if (err && err_len) snprintf(err, err_len, "%s", msg.c_str());
    return code;
}

}  // namespace
}  // namespace emu

using namespace emu;

// ---------------------------------------------------------------------------------------
// Entry points used by emu.h.
// ---------------------------------------------------------------------------------------
extern "C" int emu_rt_barrier(int op, int pred) {
    Fiber* self = cur_fiber();
    Worker* w = self->worker;
    w->bar_true += pred != 0;
    const unsigned gen = w->bar_gen;
    if (++w->bar_arrived == w->nthreads) {
        // Last arrival: every other thread waits here; release them all and go on.
        w->bar_result[gen & 1] = w->bar_true;
        w->bar_true = 0;
        w->bar_arrived = 0;
        ++w->bar_gen;
        for (unsigned i = 0; i < w->nthreads; ++i) {
            Fiber& f = w->fibers[i];
            if (f.state == FState::AtBarrier) {
                f.state = FState::Ready;
                w->push(i);
            }
        }
    } else {
        self->state = FState::AtBarrier;
        w->switch_away(self);
    }
    const unsigned count = w->bar_result[gen & 1];
    switch (op) {
        case kBarCount: return int(count);
        case kBarAnd: return count == w->nthreads;
        case kBarOr: return count != 0;
        default: return 0;
    }
}

extern "C" unsigned long long emu_rt_warp(unsigned mask, unsigned long long value, int op, int arg, int width) {
    Fiber* self = cur_fiber();
    Worker* w = self->worker;
    const unsigned lane = self->linear % 32, base = self->linear - lane;
    WarpState& ws = w->warps[self->linear / 32];

    if (width <= 0 || width > 32 || (width & (width - 1))) {
        w->set_error(w->where() + ": " + Worker::tid(*self) +
                     format(" calls %s with width %d (must be a power of two <= 32)", warp_op_name(op), width));
        w->fail_fiber(self);
    }
    if (!((mask >> lane) & 1)) {
        w->set_error(w->where() + ": " + Worker::tid(*self) +
                     format(" (lane %u) calls %s with mask 0x%08x, which does not include its own lane", lane,
                            warp_op_name(op), mask));
        w->fail_fiber(self);
    }
    const unsigned eff = mask & ws.existing;

    // Join the open collective with exactly this mask and intrinsic, else open a new one.
    // A lane that reaches a different collective than the one its warp-mates wait in is
    // not an error by itself (they may meet later); if they never do, the block ends up
    // deadlocked and the deadlock report names both collectives.
    WarpGroup* g = nullptr;
    for (unsigned k = 0; k < ws.ngroups; ++k) {
        WarpGroup* c = ws.groups[k].get();
        if (c->in_use && c->open && c->mask == eff && c->op == op) {
            g = c;
            break;
        }
    }
    if (!g) {
        for (unsigned k = 0; k < ws.ngroups && !g; ++k)
            if (!ws.groups[k]->in_use) g = ws.groups[k].get();
        if (!g) {  // at most 32 live groups: each lane is in at most one
            ws.groups[ws.ngroups] = std::make_unique<WarpGroup>();
            g = ws.groups[ws.ngroups++].get();
        }
        g->in_use = true;
        g->open = true;
        g->mask = eff;
        g->arrived = 0;
        g->op = op;
    }
    g->vals[lane] = value;
    g->arrived |= 1u << lane;
    if (g->arrived == g->mask) {
        g->open = false;
        g->readers = __builtin_popcount(g->mask);
        for (unsigned m = g->mask & ~(1u << lane); m; m &= m - 1) {
            unsigned l = unsigned(__builtin_ctz(m));
            w->fibers[base + l].state = FState::Ready;
            w->push(base + l);
        }
    } else {
        self->state = FState::AtWarp;
        self->group = g;
        w->switch_away(self);
    }

    // Released: every lane of the mask has deposited its value.
    const unsigned gm = g->mask;
    unsigned long long r = 0;
    switch (op) {
        case kWarpSync: break;
        case kShflIdx: case kShflUp: case kShflDown: case kShflXor: {
            // PTX shfl.sync semantics with the segment of `width` lanes holding this lane.
            const int seg_lo = int(lane & ~unsigned(width - 1)), seg_hi = int(lane | unsigned(width - 1));
            const int b = arg & 31;
            int j;
            bool ok;
            if (op == kShflIdx) {
                j = seg_lo | (arg & (width - 1));
                ok = true;
            } else if (op == kShflUp) {
                j = int(lane) - b;
                ok = j >= seg_lo;
            } else if (op == kShflDown) {
                j = int(lane) + b;
                ok = j <= seg_hi;
            } else {
                j = int(lane) ^ b;
                ok = j <= seg_hi;
            }
            // Out of the segment: own value. A source lane outside the mask is undefined
            // on the GPU; here it also yields the own value.
            if (!ok || !((gm >> j) & 1)) j = int(lane);
            r = g->vals[j];
            break;
        }
        case kBallot: case kAny: case kAll: {
            unsigned bits = 0;
            for (unsigned m = gm; m; m &= m - 1) {
                unsigned l = unsigned(__builtin_ctz(m));
                if (g->vals[l]) bits |= 1u << l;
            }
            r = op == kBallot ? bits : op == kAny ? (bits != 0) : (bits == gm);
            break;
        }
        case kMatchAny: case kMatchAll: {
            unsigned same = 0;
            for (unsigned m = gm; m; m &= m - 1) {
                unsigned l = unsigned(__builtin_ctz(m));
                if (g->vals[l] == value) same |= 1u << l;
            }
            r = op == kMatchAny ? same : (same == gm ? gm : 0);
            break;
        }
        default: {  // __reduce_*_sync over the 32-bit values of the mask's lanes
            unsigned acc = op == kReduceMinU || op == kReduceAnd ? ~0u
                           : op == kReduceMinI                  ? unsigned(INT_MAX)
                           : op == kReduceMaxI                  ? unsigned(INT_MIN)
                                                                : 0u;
            for (unsigned m = gm; m; m &= m - 1) {
                const unsigned v = unsigned(g->vals[__builtin_ctz(m)]);
                switch (op) {
                    case kReduceAddU: acc += v; break;
                    case kReduceMinU: acc = std::min(acc, v); break;
                    case kReduceMaxU: acc = std::max(acc, v); break;
                    case kReduceMinI: acc = unsigned(std::min(int(acc), int(v))); break;
                    case kReduceMaxI: acc = unsigned(std::max(int(acc), int(v))); break;
                    case kReduceAnd: acc &= v; break;
                    case kReduceOr: acc |= v; break;
                    case kReduceXor: acc ^= v; break;
                }
            }
            r = acc;
            break;
        }
    }
    if (--g->readers == 0) g->in_use = false;
    return r;
}

// Which lanes execute convergently is unknowable here, and CUDA guarantees nothing
// beyond the caller itself, so that is what the emulator reports. (Reporting every live
// lane would deadlock code that feeds the mask to a collective inside a branch.)
extern "C" unsigned emu_rt_activemask(void) { return 1u << (cur_fiber()->linear % 32); }

extern "C" void emu_rt_fail(const char* msg) {
    Fiber* self = cur_fiber();
    Worker* w = self->worker;
    w->set_error(w->where() + ": " + Worker::tid(*self) + ": " + msg);
    w->fail_fiber(self);
}

extern "C" void emu_rt_assert_fail(const char* expr, const char* file, int line, const char* func) {
    Fiber* self = cur_fiber();
    Worker* w = self->worker;
    w->set_error(w->where() + ": " + Worker::tid(*self) +
                 format(": assertion '%s' failed at %s:%d in %s", expr, file, line, func));
    w->fail_fiber(self);
}

extern "C" long long emu_rt_clock(void) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

extern "C" void emu_rt_register(const char* name, Trampoline fn, int nparams, const size_t* param_sizes) {
    registry().push_back(KernelInfo{name, fn, std::vector<size_t>(param_sizes, param_sizes + nparams)});
}

// ---------------------------------------------------------------------------------------
// C ABI of libdcc_cuda_emu.so.
// ---------------------------------------------------------------------------------------
EMU_EXPORT int emu_kernel_count(void) { return int(registry().size()); }

EMU_EXPORT const char* emu_kernel_name(int i) {
    if (i < 0 || size_t(i) >= registry().size()) return nullptr;
    return registry()[size_t(i)].name.c_str();
}

EMU_EXPORT int emu_kernel_param_count(int i) {
    if (i < 0 || size_t(i) >= registry().size()) return -1;
    return int(registry()[size_t(i)].param_sizes.size());
}

EMU_EXPORT size_t emu_kernel_param_size(int i, int j) {
    if (i < 0 || size_t(i) >= registry().size()) return 0;
    const std::vector<size_t>& s = registry()[size_t(i)].param_sizes;
    return j >= 0 && size_t(j) < s.size() ? s[size_t(j)] : 0;
}

EMU_EXPORT int emu_launch(const char* name, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                          unsigned bz, void** args, char* err, size_t err_len) {
    if (err && err_len) err[0] = 0;
    const KernelInfo* k = name ? find_kernel(name) : nullptr;
    if (!k) return report(err, err_len, 1, format("unknown kernel '%s' (%zu kernels registered)", name ? name : "(null)", registry().size()));
    const uint64_t nthreads = uint64_t(bx) * by * bz;
    if (!gx || !gy || !gz || gx > 0x7fffffffu || gy > 65535 || gz > 65535)
        return report(err, err_len, 2, format("kernel '%s': invalid grid (%u,%u,%u): x must be in 1..2^31-1, y and z in 1..65535",
                                              name, gx, gy, gz));
    if (!bx || !by || !bz || bx > 1024 || by > 1024 || bz > 64 || nthreads > kMaxBlockThreads)
        return report(err, err_len, 2, format("kernel '%s': invalid block (%u,%u,%u): at most (1024,1024,64) and 1024 threads",
                                              name, bx, by, bz));
    if (!args && !k->param_sizes.empty())
        return report(err, err_len, 2, format("kernel '%s' takes %zu arguments but args is null", name, k->param_sizes.size()));

    Launch L;
    L.kernel = k;
    L.grid = dim3(gx, gy, gz);
    L.block = dim3(bx, by, bz);
    L.args = args;
    L.nthreads = unsigned(nthreads);
    L.total_blocks = uint64_t(gx) * gy * gz;
    try {
        std::lock_guard<std::mutex> lk(launch_mutex());
        pool().run(L);
    } catch (const std::exception& e) {  // thread creation, allocation
        return report(err, err_len, 4, format("kernel '%s': emulator failure: %s", name, e.what()));
    }
    if (L.failed.load()) return report(err, err_len, 3, L.err);
    return 0;
}

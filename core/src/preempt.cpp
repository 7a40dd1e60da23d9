// preempt.cpp — stopping goroutines that run too long (Go: preemptone, preemptM,
// doSigPreempt, asyncPreempt, wantAsyncPreempt/isAsyncSafePoint in preempt.go and
// signal_unix.go), plus a backstop Go does not need.
//
// The problem: a goroutine in a loop that never calls into the runtime keeps its P, and
// every goroutine queued behind it on that P waits. sysmon notices (the P's schedtick
// has not moved for 10 ms) and asks it to stop, in three ways of increasing force:
//
// 1. Cooperative: P::preempt is set; the goroutine yields at its next runtime call
//    (go(), park, yield) or goro::preempt_point().
// 2. Asynchronous (x86-64): sysmon sends SIGURG to the goroutine's thread. The handler,
//    if the goroutine stopped at a safe instruction, rewrites the signal context so the
//    thread "calls" goro_async_preempt_entry (context/preempt_x86_64.S), which saves every
//    register and parks the goroutine on the global queue; it resumes later at exactly
//    that instruction. Rejected: switching stacks inside the handler (the signal mask and
//    the kernel's signal frame would travel with the goroutine). Safe means, as in Go:
//      - the thread is running the goroutine's own stack (not g0, not mid-switch);
//      - no runtime Lock or NoPreempt section is held (tls_rt.locks, .nopreempt): the runtime's
//        own state is consistent, and nothing this goroutine holds is needed by the
//        goroutines that run instead of it;
//      - it is not inside goro::blocking (tls_rt.in_call), whose fast path runs inline in
//        the program's own code with its P in registers;
//      - the pc is the program's own code: inside the main executable's text but not in
//        goro's runtime (section goro_rt, which core/CMakeLists.txt makes by renaming
//        the runtime objects' .text) — never libc, libstdc++ or the dynamic loader,
//        where a lock (malloc's, stdio's) may be held;
//      - enough stack is left for the register save area and the scheduler (32 KiB).
//    Otherwise the request stays pending and sysmon asks again.
// 3. Backstop: after 20 ms (two slices), a goroutine that is still not at a safe point
//    (say a long memcpy or a loop around malloc inside libc) loses its P the way a
//    syscall does: the handler, if no runtime Lock, section or call is held and the pc is
//    outside goro's runtime, detaches the P (status kSyscall, exactly what
//    enter_syscall does), and sysmon's retake hands it to another M. The hog keeps its
//    thread; its next runtime entry (any Lock, NoPreempt section, go(), park...) first
//    gets a P back (reattach -> exit_syscall). So no runnable goroutine waits more than
//    about 20 ms behind a hog, whatever the hog does.
//
// What users must know (README): a goroutine may move to another thread at any
// instruction of its own code. Don't keep the address of a thread_local across code
// that could run long (compilers cache it), and read errno right after the call that
// set it. Signals: SIGURG is installed with SA_RESTART and chained to the previous
// handler, which therefore also sees spurious SIGURGs (as under Go).
//
// Not available (cooperative only, plus the backstop where signals are used): aarch64
// async stops (no trampoline yet), sanitizer builds (their runtimes live in the main
// executable, so "the program's own code" cannot be told apart; TSan: no signals at all),
// and statically linked libc.
#include "preempt.hpp"

#include <cpuid.h>
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <ucontext.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "debug.hpp"
#include "g.hpp"
#include "m.hpp"
#include "p.hpp"
#include "sched.hpp"

extern "C" {
// Bounds of the runtime's code (core/CMakeLists.txt renames its .text to goro_rt; the
// linker defines these for a section named like a C identifier). Weak: absent if the
// rename did not happen, which disables async preemption.
extern char __start_goro_rt[] __attribute__((weak));
extern char __stop_goro_rt[] __attribute__((weak));
extern char __start_goro_rt_cold[] __attribute__((weak));
extern char __stop_goro_rt_cold[] __attribute__((weak));
// Read by the trampoline.
__attribute__((visibility("hidden"))) unsigned goro_xsave_size = 512 + 64;
__attribute__((visibility("hidden"))) unsigned char goro_use_xsave = 0;
void goro_async_preempt_entry();
void goro_async_preempted() noexcept;
}

namespace goro::detail {

constinit thread_local ThreadRt tls_rt __attribute__((tls_model("initial-exec")));

[[gnu::noinline]] ThreadRt* this_thread_rt() noexcept {
  asm volatile("" ::: "memory");
  return &tls_rt;
}

void exit_syscall_noyield() noexcept;

void reattach() noexcept {
  ThreadRt* rt = this_thread_rt();
  if (!rt->detached) return;
  rt->detached = false;
  exit_syscall_noyield();  // our old P if sysmon has not handed it off yet, any idle P, or wait
}

namespace {

std::uintptr_t g_text_lo = 0, g_text_hi = 0;  // the main executable's code
bool g_async_capable = false;  // stops at instructions are possible here
bool g_async = false;    // ... and enabled for this run() (GORO_DEBUG=asyncpreemptoff=0)
bool g_signals = false;  // send SIGURG at all (async or backstop)
struct sigaction g_old_urg;
std::atomic<bool> g_installed{false};
// relaxed counters: statistics.
std::atomic<std::uint64_t> g_n_signals{0}, g_n_async{0}, g_n_detached{0};

constexpr std::size_t kMinStackRoom = 32 * 1024;

bool in(std::uintptr_t pc, const char* lo, const char* hi) noexcept {
  return lo != nullptr && hi != nullptr && pc >= reinterpret_cast<std::uintptr_t>(lo) &&
         pc < reinterpret_cast<std::uintptr_t>(hi);
}

bool in_runtime(std::uintptr_t pc) noexcept {
  return in(pc, __start_goro_rt, __stop_goro_rt) ||
         in(pc, __start_goro_rt_cold, __stop_goro_rt_cold);
}

int find_main_text(struct dl_phdr_info* info, std::size_t, void*) {
  // The first object is the main program.
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X)) {
      std::uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
      std::uintptr_t hi = lo + ph.p_memsz;
      if (g_text_lo == 0 || lo < g_text_lo) g_text_lo = lo;
      if (hi > g_text_hi) g_text_hi = hi;
    }
  }
  return 1;  // stop after the main program
}

void detect_xsave() noexcept {
#if defined(__x86_64__)
  unsigned a, b, c, d;
  if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_OSXSAVE)) {
    if (__get_cpuid_count(0xD, 0, &a, &b, &c, &d) && b >= 576) {
      goro_use_xsave = 1;
      goro_xsave_size = (b + 63) / 64 * 64 + 64;
    }
  }
#endif
}

#if defined(__x86_64__)
// Go: doSigPreempt + asyncPreempt's injection.
bool try_async(ucontext_t* uc, G* g) noexcept {
  auto pc = static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
  auto sp = static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
  if (pc < g_text_lo || pc >= g_text_hi) return false;  // libc, libstdc++, ld.so, vdso...
  auto lo = reinterpret_cast<std::uintptr_t>(g->stack_base);
  if (sp - lo < kMinStackRoom + goro_xsave_size) return false;
  // Push the interrupted pc below the red zone, as a call would, and "call" the trampoline.
  std::uintptr_t nsp = sp - 128 - 8;
  *reinterpret_cast<std::uintptr_t*>(nsp) = pc;
  uc->uc_mcontext.gregs[REG_RSP] = static_cast<greg_t>(nsp);
  uc->uc_mcontext.gregs[REG_RIP] = reinterpret_cast<greg_t>(&goro_async_preempt_entry);
  return true;
}
#endif

// The backstop: give up the P like enter_syscall does, from the signal handler.
void detach(M* m, G* g, P* p) noexcept {
  std::uint64_t t = p->syscalltick.load(std::memory_order_relaxed) + 1;
  p->syscalltick.store(t, std::memory_order_relaxed);  // relaxed: as in enter_syscall
  g->status.store(GStatus::kSyscall, std::memory_order_relaxed);
  m->syscall_tick = t;
  m->oldp = p;
  m->p = nullptr;  // p->m stays: see P::m
  tls_rt.p = nullptr;
  tls_rt.detached = true;
  // release: as in enter_syscall (sysmon's CAS acquires).
  p->status.store(PStatus::kSyscall, std::memory_order_release);
}

void on_sigurg(int sig, siginfo_t* info, void* ctx) noexcept {
  int saved_errno = errno;
  M* m = current_m();
  if (m != nullptr) {
    // release: a later request may signal again (pairs with preempt_signal's exchange).
    m->signal_pending.store(false, std::memory_order_release);
    g_n_signals.fetch_add(1, std::memory_order_relaxed);
    G* g = m->curg;
    P* p = m->p;
    auto* uc = static_cast<ucontext_t*>(ctx);
    std::uint8_t level = p != nullptr ? p->preempt.load(std::memory_order_relaxed) : 0;
    if (g != nullptr && p != nullptr && level != 0 && tls_rt.locks == 0 && tls_rt.nopreempt == 0 && !tls_rt.detached &&
        !tls_rt.in_call &&
        g->stack_base != nullptr) {
#if defined(__x86_64__)
      auto sp = static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
      auto pc = static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
#elif defined(__aarch64__)
      auto sp = static_cast<std::uintptr_t>(uc->uc_mcontext.sp);
      auto pc = static_cast<std::uintptr_t>(uc->uc_mcontext.pc);
#endif
      auto lo = reinterpret_cast<std::uintptr_t>(g->stack_base);
      bool on_g_stack = sp > lo && sp <= lo + sched.stacks.stack_size();
      if (on_g_stack && !in_runtime(pc)) {
        bool done = false;
#if defined(__x86_64__)
        if (g_async && try_async(uc, g)) {
          g_n_async.fetch_add(1, std::memory_order_relaxed);
          done = true;
        }
#endif
        if (!done && level >= 2) {
          detach(m, g, p);
          g_n_detached.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }
  }
  // Chain: the program may use SIGURG itself (it then sees spurious ones, as under Go).
  if (g_old_urg.sa_flags & SA_SIGINFO) {
    if (g_old_urg.sa_sigaction != nullptr) g_old_urg.sa_sigaction(sig, info, ctx);
  } else if (g_old_urg.sa_handler != SIG_DFL && g_old_urg.sa_handler != SIG_IGN) {
    g_old_urg.sa_handler(sig);
  }
  errno = saved_errno;
}

}  // namespace

void preempt_init() noexcept {
#if GORO_TSAN
  return;  // TSan defers signals to its own safe points; cooperative preemption only
#else
  bool expected = false;
  // acq_rel: one installer per process (the handler stays; the settings are per run()).
  if (!g_installed.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
    g_async = g_async_capable && debug_setting("asyncpreemptoff", 0) == 0;
    return;
  }
  // asyncpreemptoff=1 (as in Go): no stops at arbitrary instructions; the signal still
  // serves the backstop, and the cooperative checks go on.
  bool async_off = debug_setting("asyncpreemptoff", 0) != 0;
  dl_iterate_phdr(&find_main_text, nullptr);
  detect_xsave();
  bool have_rt = __start_goro_rt != nullptr && __stop_goro_rt != nullptr;
  // libc linked statically: its code is "the program's own" by address. Don't stop there.
  auto malloc_pc = reinterpret_cast<std::uintptr_t>(dlsym(RTLD_DEFAULT, "malloc"));
  bool static_libc = malloc_pc == 0 || (malloc_pc >= g_text_lo && malloc_pc < g_text_hi);
  g_signals = have_rt;
#if defined(__x86_64__) && !GORO_ASAN
  g_async_capable = have_rt && !static_libc && g_text_lo != 0;
  g_async = g_async_capable && !async_off;
#endif
  if (!g_signals) return;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = &on_sigurg;
  sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
  sigfillset(&sa.sa_mask);
  sigaction(SIGURG, &sa, &g_old_urg);
#endif
}

bool async_preempt_enabled() noexcept { return g_async; }

void preempt_signal(M* m) noexcept {
  if (!g_signals || m == nullptr) return;
  // acq_rel: coalesces requests — only the caller that flips false -> true signals; the
  // handler resets it (Go: signalPending).
  if (m->signal_pending.exchange(true, std::memory_order_acq_rel)) return;
  if (pthread_kill(m->thread, SIGURG) != 0) m->signal_pending.store(false, std::memory_order_relaxed);
}

PreemptStats preempt_stats() noexcept {
  return {g_n_signals.load(std::memory_order_relaxed), g_n_async.load(std::memory_order_relaxed),
          g_n_detached.load(std::memory_order_relaxed)};
}

}  // namespace goro::detail

// Called by the trampoline on the preempted goroutine's stack, every register saved.
extern "C" void goro_async_preempted() noexcept { goro::detail::preempt_self(); }

// context.hpp — switching between stacks, and telling the sanitizers about it.
//
// The problem: a goroutine is a stack plus the registers that were live when it stopped.
// Rejected: ucontext (swapcontext makes a sigprocmask syscall per switch); Boost.Context's
// fcontext (a good switch, but a dependency for ~40 lines of assembly, and its
// transfer_t/ontop protocol does not fit the "post-switch action" design below; the
// side-by-side figures are in loadtest/README.md). Chosen: a hand-written switch per
// architecture (context/switch_x86_64.S, context/switch_aarch64.S) that saves only the
// callee-saved registers plus the FP control words, on the suspended stack itself, so a
// context is one pointer. A fresh goroutine has no frame at all until it first runs:
// goro_ctx_start sets the stack pointer and calls the entry function, so creating a
// goroutine touches no stack memory (the scheduler binds a stack only at first run).
//
// Room for asynchronous preemption: a goroutine stopped at an arbitrary instruction
// saves all its registers itself (a trampoline on its own stack) and then suspends
// through this same switch, so nothing here changes for it.
//
// Sanitizers (GORO_SANITIZE): ASan must know the bounds of the stack being switched to
// (__sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber) or it reports false
// stack-buffer overflows and corrupts its fake stacks; TSan must know which logical
// thread runs (__tsan_switch_to_fiber), or it sees two goroutines on one thread as one
// and misses races, and misattributes the happens-before of a migration.
#pragma once

#include <goro/core/detail/lock.hpp>
#include <goro/core/detail/sanitizers.hpp>

#include <cxxabi.h>

#include <cstddef>
#include <cstring>

#if GORO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if GORO_TSAN
#include <sanitizer/tsan_interface.h>
#endif

extern "C" {
void goro_ctx_switch(void** save_sp, void* load_sp);
void goro_ctx_start(void** save_sp, void* stack_top, void* arg, void (*fn)(void*));
}

namespace goro::detail {


// Swaps the thread's exception-handling state: from's goes into from, to's comes out.
// eh_globals: this thread's abi::__cxa_get_globals(), cached by the M (it never changes
// for a thread; calling it costs a PLT call and a __tls_get_addr each time).
[[gnu::always_inline]] inline void swap_eh(void* g, unsigned char* from_eh,
                                           const unsigned char* to_eh) noexcept {
  static_assert(sizeof(void*) + sizeof(unsigned) <= 16, "__cxa_eh_globals layout");
  std::memcpy(from_eh, g, 16);
  std::memcpy(g, to_eh, 16);
}

// One execution context: a goroutine's or an M's own thread stack (g0).
// Owner: the M running it, or, while suspended, whoever holds the G (a run queue slot,
// a wait queue under its lock).
struct Ctx {
  void* sp = nullptr;           // saved stack pointer while suspended; nullptr = never ran
  void* stack_lo = nullptr;     // lowest usable address (sanitizers, fault reports)
  std::size_t stack_size = 0;   // usable bytes above stack_lo
  int saved_locks = 0;          // tls_rt.locks of this context while suspended
  int saved_nopreempt = 0;      // tls_rt.nopreempt of this context while suspended
  // The C++ runtime's per-thread exception state (__cxa_eh_globals: the stack of
  // exceptions being handled, the uncaught count) belongs to the goroutine, not the
  // thread: a goroutine may block inside a catch block and resume on another thread.
  alignas(8) unsigned char eh[16] = {};
#if GORO_ASAN
  void* asan_fake_stack = nullptr;
#endif
#if GORO_TSAN
  void* tsan_fiber = nullptr;
#endif
};

// Always inlined, as are ctx_switch and ctx_start: under TSan, a function that calls
// __tsan_switch_to_fiber and then returns would pop its frame from the *new* fiber's
// shadow stack. Inlined, the frame that brackets the switch is the caller's, which
// returns only once its own fiber is resumed.
[[gnu::always_inline]] inline void sanitizer_before_switch(Ctx* from, Ctx* to, bool from_exits) noexcept {
#if GORO_ASAN
  __sanitizer_start_switch_fiber(from_exits ? nullptr : &from->asan_fake_stack, to->stack_lo,
                                 to->stack_size);
#endif
#if GORO_TSAN
  __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
  (void)from;
  (void)to;
  (void)from_exits;
}

// Runs first thing on the resumed side of every switch.
[[gnu::always_inline]] inline void sanitizer_after_switch(Ctx* resumed) noexcept {
#if GORO_ASAN
  __sanitizer_finish_switch_fiber(resumed ? resumed->asan_fake_stack : nullptr, nullptr, nullptr);
#endif
  (void)resumed;
}

// Suspends `from` and resumes `to` (which must have run before). Returns when someone
// switches back to `from`.
[[gnu::always_inline]] inline void ctx_switch(Ctx* from, Ctx* to, void* eh_globals,
                                              bool from_exits = false) noexcept {
  from->saved_locks = GORO_TLS_RT(locks);
  from->saved_nopreempt = GORO_TLS_RT(nopreempt);
  GORO_TLS_RT(locks) = to->saved_locks;
  GORO_TLS_RT(nopreempt) = to->saved_nopreempt;
  swap_eh(eh_globals, from->eh, to->eh);
  sanitizer_before_switch(from, to, from_exits);
  goro_ctx_switch(&from->sp, to->sp);
  sanitizer_after_switch(from);
}

// Suspends `from` and starts fn(arg) on the fresh stack of `to` (sp == nullptr).
[[gnu::always_inline]] inline void ctx_start(Ctx* from, Ctx* to, void* arg, void (*fn)(void*),
                                             void* eh_globals, bool from_exits = false) noexcept {
  from->saved_locks = GORO_TLS_RT(locks);
  from->saved_nopreempt = GORO_TLS_RT(nopreempt);
  GORO_TLS_RT(locks) = 0;  // a fresh goroutine holds nothing
  GORO_TLS_RT(nopreempt) = 0;
  static const unsigned char kNoExceptions[16] = {};
  swap_eh(eh_globals, from->eh, kNoExceptions);
  sanitizer_before_switch(from, to, from_exits);
  char* top = static_cast<char*>(to->stack_lo) + to->stack_size;
  goro_ctx_start(&from->sp, top, arg, fn);
  sanitizer_after_switch(from);
}

}  // namespace goro::detail

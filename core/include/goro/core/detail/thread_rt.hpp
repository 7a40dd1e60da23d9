// goro/core/detail/thread_rt.hpp — the runtime's per-thread state.
//
// A handful of fields that code running on a thread reads without going through its M
// (core/src/m.hpp): the preemption signal handler, which may run between any two
// instructions, and goro::blocking's inline fast path (goro/core/detail/syscall.hpp),
// for which one pointer chase more next to the kernel entry is a measurable part of a
// short system call.
#pragma once

#include <atomic>
#include <cstdint>

namespace goro::detail {

struct PSyscall;

// Per-thread runtime state. Owner: the thread (and its signal handler); sysmon reads
// `sysexit` of a thread whose P it is taking (through M::rt), and sched_trace reads
// `in_call` racily, for its report only.
//   locks: how many runtime Locks the running context holds;
//   nopreempt: how many NoPreempt sections it is in. The goroutine running here is never
//     preempted asynchronously, nor loses its P, while either is non-zero. Both are saved
//     and restored with the context on every switch (context.hpp); a goroutine parks
//     with its Locks released by park's unlock function, so it resumes with locks == 0.
//   detached: sysmon's backstop took this thread's P while it ran a CPU hog outside the
//     runtime; the next runtime entry must get a P back first (reattach()).
//   in_call: the goroutine here is inside goro::blocking's call (from the entry's first
//     store to the exit's last). Like nopreempt, it keeps the signal handler away; the
//     runtime refuses to park a goroutine while it is set. Never set across a switch.
//   p: the P of this thread's M (a copy of M::p, written with it on this thread), so
//     that the fast path reaches its P with one load.
//   sysexit: the tick of the last system call this thread returned from (the exit
//     mark of the handshake with sysmon, core/src/syscall.cpp). atomic: sysmon reads it.
struct ThreadRt {
  int locks = 0;
  int nopreempt = 0;
  bool detached = false;
  bool in_call = false;
  PSyscall* p = nullptr;
  std::atomic<std::uint64_t> sysexit{0};
};
// constinit: no dynamic initialization, so accesses need no TLS wrapper call.
extern constinit thread_local ThreadRt tls_rt __attribute__((tls_model("initial-exec")));
// On x86-64 an initial-exec thread-local is read and written %fs-relative at every
// access, so code that may have moved to another thread (after a switch) still reaches
// the right thread's copy as long as it never takes the variable's address. Elsewhere
// (aarch64 reads the thread pointer into a register, which compilers may reuse), go
// through a function that cannot be inlined.
ThreadRt* this_thread_rt() noexcept;
#if defined(__x86_64__)
#define GORO_TLS_RT(field) (::goro::detail::tls_rt.field)
#else
#define GORO_TLS_RT(field) (::goro::detail::this_thread_rt()->field)
#endif
// Gets a P back for a goroutine whose P was handed off by the backstop.
void reattach() noexcept;

}  // namespace goro::detail

// p.hpp — a logical processor (Go's runtime.p): the right to run goroutines, with the
// local state that makes running them cheap (run queue, free Gs, free stacks, id cache).
#pragma once

#include <atomic>
#include <cstdint>

#include <goro/core/detail/syscall.hpp>

#include "runq.hpp"
#include "stack.hpp"
#include "timers.hpp"

namespace goro::detail {

struct M;
struct G;

// PSyscall (goro/core/detail/syscall.hpp) holds status, preempt and syscalltick, the
// fields goro::blocking's inline fast path uses.
struct P : PSyscall {
  std::int32_t id = 0;
  // atomic: incremented by the owner at each schedule() that does not inherit a time
  // slice; read racily by sysmon (later) and schedtrace. relaxed: a counter.
  std::atomic<std::uint32_t> schedtick{0};
  // The goroutine this P last preempted (owner only; may be stale or reused: it only
  // makes one 61st-tick check pass over it, see find_runnable_fast).
  G* last_preempted = nullptr;
  // The M owning this P while running, and while that M sits in a system call with it
  // (sysmon finds the call's exit mark through it, syscall.cpp). Written by that M, or by
  // whoever owns the P (sched.lock for idle Ps, sysmon once it has taken it). atomic:
  // sysmon reads it while the M may be giving the P up; relaxed: see syscall.cpp.
  std::atomic<M*> m{nullptr};
  // Owner only: goroutines started by the running one since schedtick was spawn_tick
  // (spawn backpressure, see start_g).
  std::uint32_t spawn_tick = 0;
  std::uint32_t spawns = 0;
  P* link = nullptr;    // sched.pidle list; guarded by sched.lock
  RunQ runq;            // see runq.hpp for its own rules
  // Owner only: free Gs (linked by sched_link) and how many; overflow goes global.
  G* gfree = nullptr;
  std::int32_t gfree_count = 0;
  StackCache stacks;    // owner only
  TimerHeap timers;     // see timers.hpp for its own lock
  // Owner only: a batch of goroutine ids handed out without touching the global counter.
  std::uint64_t goid_next = 0, goid_end = 0;
};

}  // namespace goro::detail

// p.hpp — a logical processor (Go's runtime.p): the right to run goroutines, with the
// local state that makes running them cheap (run queue, free Gs, free stacks, id cache).
#pragma once

#include <atomic>
#include <cstdint>

#include "runq.hpp"
#include "stack.hpp"
#include "timers.hpp"

namespace goro::detail {

struct M;
struct G;

// Go: _Pidle, _Prunning, _Psyscall, _Pdead.
enum class PStatus : std::uint32_t {
  kIdle,     // on sched.pidle; owner: sched.lock
  kRunning,  // owned by p->m
  kSyscall,  // its M is in a blocking call and may come back for it (a plain store of
             // kRunning, see syscall.cpp), unless sysmon takes it first (via kTaking)
  kTaking,   // sysmon is taking it from its M in a blocking call; owner: sysmon, which
             // ends it within the round as kIdle (taken) or kSyscall (the M came back)
  kDead,     // beyond max_procs after a shrink; owner: sched.lock
};

struct P {
  std::int32_t id = 0;
  // atomic: written by the owner (or under sched.lock for idle/dead Ps); read racily by
  // stealers (skip idle Ps) and reports.
  std::atomic<PStatus> status{PStatus::kIdle};
  // atomic: incremented by the owner at each schedule() that does not inherit a time
  // slice; read racily by sysmon (later) and schedtrace. relaxed: a counter.
  std::atomic<std::uint32_t> schedtick{0};
  // atomic: incremented by the owner at each syscall entry; read by sysmon (relaxed:
  // sysmon only compares it with its previous sample).
  std::atomic<std::uint32_t> syscalltick{0};
  // atomic: set by sysmon (preempt_p) when the running goroutine has had its 10 ms (1)
  // or two slices (2: the backstop may take the P); cleared by the owner when a new time
  // slice starts. relaxed: a hint, re-sent if missed.
  std::atomic<std::uint8_t> preempt{0};
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

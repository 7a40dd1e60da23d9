// m.hpp — an OS thread (Go's runtime.m).
#pragma once

#include <atomic>
#include <cstdint>
#include <pthread.h>

#include <goro/core/detail/park.hpp>
#include <goro/core/detail/thread_rt.hpp>

#include "context.hpp"
#include "note.hpp"

namespace goro::detail {

struct G;
struct P;

// What the G being switched away from needs done once it is off its stack. Set by the
// M before a switch and run by the same M on the other side (post_switch() in sched.cpp):
// this is how a G can pick its successor on its own stack and switch to it directly,
// yet never be visible to another M while still running (Go does the same work after
// mcall has moved to g0: park_m, goschedImpl, goexit0).
enum class PostAction : std::uint8_t {
  kNone,
  kRequeue,  // put the G on the local run queue's tail (yield)
  kPark,     // run unlock_fn; if it returns false, ready the G again
  kExit,     // free the G (and its stack unless handed to the next G)
  kRequeueGlobal,  // put the G on the global queue (it lost its P during a syscall)
};

struct M {
  Ctx g0;                 // this thread's own stack; the scheduler loop runs on it
  void* eh_globals = nullptr;  // this thread's abi::__cxa_get_globals(); set at start
  std::int64_t id = 0;
  G* curg = nullptr;      // the G running on this M; owner: this M
  P* p = nullptr;         // owner: this M
  P* nextp = nullptr;     // handed over by startm() under sched.lock, read after note wakeup
  // The backstop's detach (preempt.cpp): the P it gave up for this M's hog, and the tick
  // it gave it, until reattach; owner: this M (and its signal handler).
  P* oldp = nullptr;
  std::uint64_t syscall_tick = 0;
  // This M's thread's runtime state (thread_rt.hpp), set as the thread starts: sysmon
  // reads the exit mark there (rt->sysexit, syscall.cpp), acquirep/releasep keep rt->p.
  ThreadRt* rt = nullptr;
  bool spinning = false;  // owner: this M; mirrored in sched.nmspinning
  Note park;              // this M sleeps here when idle (stopm)
  M* schedlink = nullptr; // sched.midle list; guarded by sched.lock
  pthread_t thread{};
  bool is_m0 = false;     // the thread that called run()

  // Post-switch work, owner: this M (set and run on the same thread).
  PostAction post = PostAction::kNone;
  G* post_g = nullptr;
  UnlockFn post_unlock = nullptr;
  void* post_arg = nullptr;

  void* altstack = nullptr;      // signal stack for guard-page faults and SIGURG
  // atomic: a SIGURG is in flight to this M (Go: signalPending); set by sysmon, cleared
  // by the handler. See preempt_signal.
  std::atomic<bool> signal_pending{false};
};

}  // namespace goro::detail

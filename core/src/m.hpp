// m.hpp — an OS thread (Go's runtime.m).
#pragma once

#include <atomic>
#include <cstdint>
#include <pthread.h>

#include <goro/core/detail/park.hpp>

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
  P* oldp = nullptr;      // the P this M held when it entered a syscall; owner: this M
  std::uint32_t syscall_tick = 0;  // oldp's syscalltick for this M's call; owner: this M
  // atomic: syscall_tick - 1 while this M is in that call, syscall_tick once it has left
  // it (the exit mark of syscall.cpp's handshake). Written by this M, read by sysmon.
  std::atomic<std::uint32_t> sysexit{0};
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

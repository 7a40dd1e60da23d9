// goro/core/detail/timer.hpp — the runtime's timers (Go: runtime.timer, addtimer,
// deltimer, checkTimers), on which sleep, Timer, Ticker, after, deadlines and contexts
// are built.
//
// Each P keeps a min-heap of its timers, run by the scheduler itself: an M checks its
// P's earliest timer at every scheduling decision, stealing Ms run other Ps' expired
// timers, and an M with nothing to run sleeps exactly until the earliest timer of all.
// There is no timer thread.
//
// Callbacks run on whatever M found the timer due, outside any goroutine's control:
// they must be short and must not block (ready a goroutine, a non-blocking channel
// send). A one-shot timer is marked "not pending" *before* its callback runs, so the
// callback may re-arm it or its owner free it; the callback's arg must stay valid on
// its own (the owner keeps it alive, e.g. a goroutine or a reference count). A periodic
// timer's callback runs under its P's timer lock, so del_timer waits for it.
#pragma once

#include <atomic>
#include <cstdint>

namespace goro::detail {

struct P;

// Monotonic nanoseconds (CLOCK_MONOTONIC).
std::int64_t nanotime() noexcept;

struct Timer {
  using Fn = void (*)(void* arg, std::uintptr_t seq) noexcept;
  std::int64_t when = 0;    // monotonic ns when it fires; set before add_timer
  std::int64_t period = 0;  // > 0: fires every period ns until deleted
  Fn fn = nullptr;
  void* arg = nullptr;
  std::uintptr_t seq = 0;   // passed to fn (e.g. to ignore stale firings)
  // Called (with arg) instead of fn for a timer still armed when run() ends, to release
  // what the armed timer holds (goro::after's channel); nullptr: nothing to release.
  void (*drop)(void* arg) noexcept = nullptr;

  // Runtime-owned. atomic: written under the owning P's timer lock, read lock-free to
  // find that P (acquire pairs with the release store made while inserting).
  std::atomic<P*> owner{nullptr};
  std::int32_t index = -1;  // position in owner's heap; guarded by owner's timer lock
};

// Arms t (t->when, fn, arg set; not already pending). Any goroutine or runtime context,
// but not while holding sched.lock or another timer's P lock.
void add_timer(Timer* t) noexcept;
// Disarms t. Returns true if it was pending (and now will not fire), false if it had
// already fired (its callback may still be running, unless periodic) or was never armed.
bool del_timer(Timer* t) noexcept;
// del_timer then add_timer with a new `when`. Returns what del_timer returned.
bool mod_timer(Timer* t, std::int64_t when) noexcept;

}  // namespace goro::detail

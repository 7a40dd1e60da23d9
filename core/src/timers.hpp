// timers.hpp — a P's timer heap and the scheduler's side of timers (timers.cpp).
#pragma once

#include <goro/core/detail/lock.hpp>
#include <goro/core/detail/timer.hpp>

#include <atomic>
#include <cstdint>
#include <vector>

namespace goro::detail {

struct P;

// Go: p.timers, p.timersLock, p.timer0When.
struct TimerHeap {
  // Guards heap and every Timer::index in it. Lock order: a P's timer lock is taken
  // before channel/primitive locks and sched.lock (a periodic callback readies
  // goroutines under it); never two P timer locks at once.
  Lock lock;
  std::vector<Timer*> heap;  // 4-ary min-heap on when, as Go's
  // atomic: the earliest when in heap, 0 if empty. Written under lock; read lock-free by
  // the scheduler (relaxed: a stale value only delays or advances one check).
  std::atomic<std::int64_t> timer0_when{0};
};

// Go: checkTimers. Runs p's timers due at `now`. Returns the P's next when (0: none).
std::int64_t check_timers(P* p, std::int64_t now) noexcept;
// The earliest timer over all Ps (0: none).
std::int64_t earliest_timer() noexcept;
// Whether any P has a timer pending (for the deadlock check).
bool any_timers() noexcept;
// Number of timers in p's heap (schedtrace).
std::size_t timer_count(P* p) noexcept;
// Inserts t into p's heap; true if it became p's earliest.
bool add_timer_to(P* p, Timer* t) noexcept;
// Moves every timer of a P that is going away to another P.
void move_timers(P* from, P* to) noexcept;
// Defined in sched.cpp: makes sure some M will wake up by `when` (Go: wakeNetPoller).
void wake_timer_sleeper(std::int64_t when) noexcept;

}  // namespace goro::detail

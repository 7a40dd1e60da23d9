// timers.cpp — per-P timer heaps, run by the scheduler (Go: time.go's addtimer,
// deltimer, checkTimers, runtimer, and findRunnable's pollUntil).
//
// Rejected: a timer thread (one more thread to wake, and a hop from it to the P that
// runs the woken goroutine); a global heap (one lock for every sleep in the process).
// Chosen, as Go: a 4-ary min-heap per P under a per-P lock, so adding a timer touches
// only the current P. The scheduler checks the current P's earliest timer (one relaxed
// load, plus a clock read only when a timer is pending) at every scheduling decision;
// stealing Ms run the due timers of other Ps, idle ones included; and an M with nothing
// to run sleeps until the earliest timer of all Ps (sched.cpp, stopm_timed). A new timer
// earlier than that sleep wakes the sleeping M (wake_timer_sleeper).
#include "timers.hpp"

#include <time.h>

#include "p.hpp"
#include "sched.hpp"

namespace goro::detail {

std::int64_t nanotime() noexcept {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

namespace {

constexpr std::size_t kArity = 4;

void sift_up(std::vector<Timer*>& h, std::size_t i) noexcept {
  Timer* t = h[i];
  while (i > 0) {
    std::size_t parent = (i - 1) / kArity;
    if (h[parent]->when <= t->when) break;
    h[i] = h[parent];
    h[i]->index = static_cast<std::int32_t>(i);
    i = parent;
  }
  h[i] = t;
  t->index = static_cast<std::int32_t>(i);
}

void sift_down(std::vector<Timer*>& h, std::size_t i) noexcept {
  Timer* t = h[i];
  std::size_t n = h.size();
  for (;;) {
    std::size_t first = i * kArity + 1;
    if (first >= n) break;
    std::size_t best = first;
    for (std::size_t c = first + 1; c < first + kArity && c < n; ++c) {
      if (h[c]->when < h[best]->when) best = c;
    }
    if (h[best]->when >= t->when) break;
    h[i] = h[best];
    h[i]->index = static_cast<std::int32_t>(i);
    i = best;
  }
  h[i] = t;
  t->index = static_cast<std::int32_t>(i);
}

// Requires heap.lock.
void remove_at(TimerHeap& th, std::size_t i) noexcept {
  auto& h = th.heap;
  Timer* last = h.back();
  h.pop_back();
  if (i < h.size()) {
    h[i] = last;
    last->index = static_cast<std::int32_t>(i);
    sift_down(h, i);
    sift_up(h, static_cast<std::size_t>(last->index));
  }
}

// Requires heap.lock.
void update_timer0(TimerHeap& th) noexcept {
  th.timer0_when.store(th.heap.empty() ? 0 : th.heap[0]->when, std::memory_order_seq_cst);
}

P* timer_home() noexcept {
  M* m = current_m();
  if (P* p = m != nullptr ? usable_p(m) : nullptr; p != nullptr) return p;
  return sched.allp[0].load(std::memory_order_acquire);
}

}  // namespace

// Inserts t into p's heap. Returns true if t became p's earliest timer.
bool add_timer_to(P* p, Timer* t) noexcept {
  TimerHeap& th = p->timers;
  th.lock.lock();
  th.heap.push_back(t);
  sift_up(th.heap, th.heap.size() - 1);
  // release: pairs with del_timer's acquire load of owner.
  t->owner.store(p, std::memory_order_release);
  bool first = t->index == 0;
  if (first) update_timer0(th);
  th.lock.unlock();
  return first;
}

void add_timer(Timer* t) noexcept {
  P* p = timer_home();
  // Read before the insertion: once in the heap, t may fire on another M at once, and its
  // owner (a goroutine the timer readied) may re-arm it there for its next wait.
  const std::int64_t when = t->when;
  if (add_timer_to(p, t)) wake_timer_sleeper(when);
}

bool del_timer(Timer* t) noexcept {
  for (;;) {
    // acquire: pairs with the release store in add_timer_to.
    P* p = t->owner.load(std::memory_order_acquire);
    if (p == nullptr) return false;
    TimerHeap& th = p->timers;
    th.lock.lock();
    if (t->owner.load(std::memory_order_relaxed) != p) {  // fired or moved meanwhile
      th.lock.unlock();
      continue;
    }
    bool was_first = t->index == 0;
    remove_at(th, static_cast<std::size_t>(t->index));
    t->index = -1;
    t->owner.store(nullptr, std::memory_order_relaxed);
    if (was_first) update_timer0(th);
    th.lock.unlock();
    return true;
  }
}

bool mod_timer(Timer* t, std::int64_t when) noexcept {
  bool was = del_timer(t);
  t->when = when;
  add_timer(t);
  return was;
}

namespace {

// Whether the run queue that ready() fills (this M's P's) is three-quarters full. Then
// check_timers leaves the rest of a burst of due timers in the heap for the next
// scheduling decision, one or more at a time as the queue drains, instead of readying
// them all now: past a full ring they would overflow to the global queue's tail and
// wait behind everything there (100,000 goroutines spawned at once, whose sleeps all
// end in bursts while most of them are still queued, never started: p99 lateness of
// 100+ ms, against a few ms this way). At least one timer fires per check, so timers
// always progress, whatever fills the queue.
bool run_queue_crowded() noexcept {
  M* m = GORO_CUR_M();
  P* p = m != nullptr ? m->p : nullptr;
  return p != nullptr && p->runq.size() >= kRunqSize * 3 / 4;
}

}  // namespace

std::int64_t check_timers(P* p, std::int64_t now) noexcept {
  TimerHeap& th = p->timers;
  std::int64_t next = th.timer0_when.load(std::memory_order_relaxed);
  if (next == 0 || next > now) return next;
  th.lock.lock();
  bool fired = false;
  while (!th.heap.empty() && th.heap[0]->when <= now) {
    if (fired && run_queue_crowded()) break;
    fired = true;
    Timer* t = th.heap[0];
    if (t->period > 0) {
      // Periodic: re-arm first (skipping missed periods, as a Ticker drops ticks), then
      // run the callback under the lock so del_timer waits for it.
      t->when += t->period * (1 + (now - t->when) / t->period);
      sift_down(th.heap, 0);
      t->fn(t->arg, t->seq);
      continue;
    }
    remove_at(th, 0);
    t->index = -1;
    Timer::Fn fn = t->fn;
    void* arg = t->arg;
    std::uintptr_t seq = t->seq;
    // Not pending any more: from here on t may be re-armed or freed by its owner.
    t->owner.store(nullptr, std::memory_order_release);
    update_timer0(th);
    th.lock.unlock();
    fn(arg, seq);
    th.lock.lock();
  }
  update_timer0(th);
  next = th.timer0_when.load(std::memory_order_relaxed);
  th.lock.unlock();
  return next;
}

std::int64_t earliest_timer() noexcept {
  std::int64_t best = 0;
  for (int i = 0; i < kMaxProcs; ++i) {
    P* p = sched.allp[i].load(std::memory_order_acquire);
    if (p == nullptr) break;
    // seq_cst: the timed-sleep handshake (wake_timer_sleeper / stopm_timed).
    std::int64_t w = p->timers.timer0_when.load(std::memory_order_seq_cst);
    if (w != 0 && (best == 0 || w < best)) best = w;
  }
  return best;
}

bool any_timers() noexcept { return earliest_timer() != 0; }

std::size_t timer_count(P* p) noexcept {
  p->timers.lock.lock();
  std::size_t n = p->timers.heap.size();
  p->timers.lock.unlock();
  return n;
}

// Moves every timer of a P that is going away to another P.
void move_timers(P* from, P* to) noexcept {
  std::vector<Timer*> moved;
  from->timers.lock.lock();
  moved.swap(from->timers.heap);
  for (Timer* t : moved) {
    t->index = -1;
    t->owner.store(nullptr, std::memory_order_relaxed);
  }
  update_timer0(from->timers);
  from->timers.lock.unlock();
  std::int64_t earliest = 0;
  for (Timer* t : moved) {
    add_timer_to(to, t);
    if (earliest == 0 || t->when < earliest) earliest = t->when;
  }
  if (earliest != 0) wake_timer_sleeper(earliest);
}

}  // namespace goro::detail

// cond.cpp — goro::Cond, Go's sync.Cond over Go's notifyList (runtime/sema.go).
//
// Problem: wait(m) must unlock m and park as one step with respect to signal(): a signal
// that comes after the unlock but before the park must not be lost, and signal() should
// wake waiters in arrival order.
//
// Rejected: parking with m still held and releasing it in park's unlock function (would
// tie Cond to one mutex type and run user unlock code on the scheduler's stack); a
// "pending signals" counter (a signal issued when nobody waits would wrongly wake a
// later waiter, which a condition variable must not do).
//
// Chosen: Go's ticket scheme. wait() takes a ticket from wait_ while still holding m, so
// tickets order waiters against every signal that can matter to them. notify_ is the
// next ticket to wake. signal() under lock_ advances notify_ by one and wakes the waiter
// holding the old value if it has parked; if it has not parked yet, it finds its ticket
// below notify_ when it gets to wait_ticket() and returns at once. broadcast() moves
// notify_ up to wait_ and wakes everyone parked. Tickets wrap around; comparisons use
// the signed difference (valid while fewer than 2^31 waiters are outstanding).
//
// Go functions mirrored: notifyListAdd (add_waiter), notifyListWait (wait_ticket),
// notifyListNotifyOne (signal), notifyListNotifyAll (broadcast), less (ticket_less).
#include <goro/core/cond.hpp>

namespace goro {

namespace {
// a < b in ticket order, robust to wraparound. Go: runtime.less.
bool ticket_less(std::uint32_t a, std::uint32_t b) noexcept {
  return static_cast<std::int32_t>(a - b) < 0;
}
}  // namespace

std::uint32_t Cond::add_waiter() noexcept {
  // seq_cst: pairs with the seq_cst load of wait_ in signal()/broadcast(). When the
  // notifier publishes its condition through m, m's release/acquire already orders
  // this; seq_cst also covers a notifier that sets a seq_cst atomic without m (the
  // store-buffering case: either it sees our ticket or we see its condition), as Go's
  // sequentially consistent atomics do.
  return wait_.fetch_add(1, std::memory_order_seq_cst);
}

void Cond::wait_ticket(std::uint32_t t) noexcept {
  detail::Waiter w;
  w.g = detail::current_g_or_die("goro::Cond::wait");
  w.value = t;
  lock_.lock();
  // relaxed: notify_ is written only under lock_, which we hold.
  if (ticket_less(t, notify_.load(std::memory_order_relaxed))) {
    lock_.unlock();  // signalled between our unlock of m and now
    return;
  }
  waiters_.push_back(&w);
  detail::park_unlock(lock_, detail::WaitReason::kSync);
}

void Cond::signal() noexcept {
  // Fast path: no ticket outstanding. seq_cst on wait_: see add_waiter(). relaxed on
  // notify_: a stale (smaller) value only sends us down the slow path, which re-reads it
  // under lock_.
  if (wait_.load(std::memory_order_seq_cst) == notify_.load(std::memory_order_relaxed)) {
    return;
  }
  lock_.lock();
  // relaxed: written only under lock_, which we hold.
  const std::uint32_t t = notify_.load(std::memory_order_relaxed);
  // seq_cst: as above (a waiter may be taking a ticket right now).
  if (t == wait_.load(std::memory_order_seq_cst)) {
    lock_.unlock();
    return;
  }
  // relaxed: readers either hold lock_ or tolerate a stale value (fast paths).
  notify_.store(t + 1, std::memory_order_relaxed);
  // The waiter with ticket t may not have parked yet; then it sees t < notify_ and
  // returns by itself.
  detail::Waiter* w = waiters_.remove_value(t);
  detail::G* g = w != nullptr ? w->g : nullptr;
  lock_.unlock();
  if (g != nullptr) detail::ready(g);
}

void Cond::broadcast() noexcept {
  // Fast path: as in signal().
  if (wait_.load(std::memory_order_seq_cst) == notify_.load(std::memory_order_relaxed)) {
    return;
  }
  lock_.lock();
  detail::Waiter* w = waiters_.take_all();
  // seq_cst load: as in signal(). relaxed store: as in signal().
  notify_.store(wait_.load(std::memory_order_seq_cst), std::memory_order_relaxed);
  lock_.unlock();
  // Each Waiter is valid until its goroutine is readied: read next and g first.
  while (w != nullptr) {
    detail::Waiter* next = w->next;
    detail::G* g = w->g;
    detail::ready(g);
    w = next;
  }
}

}  // namespace goro

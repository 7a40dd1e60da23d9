// goro/core/cond.hpp — a condition variable for goroutines (Go's sync.Cond).
//
//   goro::Mutex mu;  goro::Cond cond;  bool ready = false;
//   // waiter:                          // notifier:
//   mu.lock();                          mu.lock();
//   while (!ready) cond.wait(mu);       ready = true;
//   mu.unlock();                        mu.unlock();
//                                       cond.signal();   // or broadcast()
//
// wait(m) atomically (with respect to signal/broadcast) unlocks m and parks the
// goroutine; when woken it locks m again before returning. As in Go, the mutex is passed
// to wait() rather than bound at construction, any BasicLockable works (goro::Mutex,
// std::unique_lock<goro::Mutex>, goro::RWMutex, ...), and wakeups may be spurious from
// the caller's point of view (another goroutine may change the condition first), so wait
// in a loop or use wait(m, pred).
//
// Guarantees (Go's notifyList ticket scheme): every wait() takes a ticket while still
// holding m, so a signal() or broadcast() issued after the waiter released m always
// reaches it, even if the waiter has not parked yet (no lost wake-up); signal() wakes
// the waiter with the oldest ticket (FIFO). signal()/broadcast() may be called with or
// without m held and from any thread. Not copyable or movable.
//
// wait() with m not locked is a fatal error from m.unlock() (e.g. "sync: unlock of
// unlocked mutex"). wait() must run in a goroutine.
#pragma once

#include <atomic>
#include <cstdint>

#include <goro/core/detail/lock.hpp>
#include <goro/core/detail/sema.hpp>
#include <goro/core/mutex.hpp>

namespace goro {

class Cond {
 public:
  Cond() noexcept = default;
  Cond(const Cond&) = delete;
  Cond& operator=(const Cond&) = delete;

  // Go: Cond.Wait. Precondition: m is locked by the caller.
  void wait(Mutex& m) noexcept { wait<Mutex>(m); }

  template <class BasicLockable>
  void wait(BasicLockable& m) {
    const std::uint32_t ticket = add_waiter();
    m.unlock();
    wait_ticket(ticket);
    m.lock();
  }

  // Waits until pred() is true, checking it with m held: while (!pred()) wait(m).
  template <class BasicLockable, class Predicate>
  void wait(BasicLockable& m, Predicate pred) {
    while (!pred()) wait(m);
  }

  // Wakes the longest-waiting goroutine, if any. Go: Cond.Signal.
  void signal() noexcept;
  // Wakes every waiting goroutine. Go: Cond.Broadcast.
  void broadcast() noexcept;

 private:
  std::uint32_t add_waiter() noexcept;         // Go: runtime_notifyListAdd
  void wait_ticket(std::uint32_t t) noexcept;  // Go: runtime_notifyListWait

  // atomic: the next ticket to hand out; incremented by wait() (usually under the user's
  // mutex), read by signal()/broadcast() with or without lock_.
  std::atomic<std::uint32_t> wait_{0};
  // atomic: the next ticket to be notified; written only under lock_, read without it by
  // the fast paths of signal()/broadcast().
  std::atomic<std::uint32_t> notify_{0};
  detail::Lock lock_;          // guards waiters_ and writes of notify_
  detail::WaitQueue waiters_;  // parked waiters, value = ticket; guarded by lock_
};

}  // namespace goro

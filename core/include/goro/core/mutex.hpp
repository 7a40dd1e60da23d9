// goro/core/mutex.hpp — a mutual exclusion lock for goroutines (Go's sync.Mutex).
//
//   goro::Mutex mu;
//   {
//     std::lock_guard<goro::Mutex> hold(mu);   // or std::unique_lock, std::scoped_lock
//     ...
//   }
//
// A contended lock() spins briefly when that can pay off, then parks the goroutine —
// never the OS thread — so the P runs other goroutines meanwhile. Like Go's, the mutex
// is not fair in normal mode (a running goroutine may take it ahead of woken waiters,
// which is much faster), but a waiter that has waited more than 1 ms switches it to
// starvation mode, where unlock() hands ownership straight to the longest waiter.
// See core/src/mutex.cpp for the full story.
//
// Rules, as in Go:
// - The zero state is unlocked. Not copyable or movable.
// - It is not tied to a goroutine: one goroutine may lock it and another unlock it.
// - It is not recursive: locking it twice from the same goroutine deadlocks.
// - unlock() of an unlocked Mutex is a fatal error: it prints
//   "goro: fatal error: sync: unlock of unlocked mutex" and calls std::abort() (Go's fatal()
//   cannot be recovered either; an exception would leave the state word corrupted and
//   unlock() noexcept as std::mutex's is).
// - A lock() that has to wait must run in a goroutine (fatal error otherwise); try_lock()
//   and an uncontended lock()/unlock() work on any thread.
#pragma once

#include <atomic>
#include <cstdint>

#include <goro/core/detail/sema.hpp>

namespace goro {

namespace detail {
struct MutexTestAccess;  // tests only: reads the state word (Go's export_test.go idea)
}

class Mutex {
 public:
  Mutex() noexcept = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  // Blocks (parks the goroutine) until the mutex is ours. Go: Mutex.Lock.
  void lock() noexcept {
    std::int32_t expected = 0;
    // acquire: pairs with unlock()'s release, so our critical section sees the previous one.
    if (state_.compare_exchange_strong(expected, kLocked, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
      return;
    }
    lock_slow();
  }

  // Takes the mutex if that needs no waiting. Go: Mutex.TryLock (fails in starvation
  // mode, where the mutex belongs to the waiters).
  bool try_lock() noexcept {
    // relaxed: a guess checked by the CAS below.
    std::int32_t old = state_.load(std::memory_order_relaxed);
    if ((old & (kLocked | kStarving)) != 0) return false;
    // acquire: as in lock().
    return state_.compare_exchange_strong(old, old | kLocked, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

  // Go: Mutex.Unlock. May switch to a handed-off waiter in starvation mode.
  void unlock() noexcept {
    // release: publishes the critical section to the next owner (pairs with the acquire
    // CAS in lock()/try_lock()/lock_slow() and, in starvation mode, with the new owner's
    // acquire add in lock_slow()).
    std::int32_t now = state_.fetch_sub(kLocked, std::memory_order_release) - kLocked;
    if (now != 0) unlock_slow(now);
  }

 private:
  friend struct detail::MutexTestAccess;

  // The state word (Go's mutexLocked, mutexWoken, mutexStarving, mutexWaiterShift).
  static constexpr std::int32_t kLocked = 1;    // held
  static constexpr std::int32_t kWoken = 2;     // a waiter is awake: unlock need not wake one
  static constexpr std::int32_t kStarving = 4;  // ownership is handed to waiters in order
  static constexpr int kWaiterShift = 3;        // the rest counts waiters (parked or about to)

  void lock_slow() noexcept;
  void unlock_slow(std::int32_t now) noexcept;

  // atomic: the lock word, changed by CAS/add from every locker and unlocker.
  std::atomic<std::int32_t> state_{0};
  // Where waiters park; released once per waiter woken. Owned by this mutex.
  detail::Sema sema_;
};

}  // namespace goro

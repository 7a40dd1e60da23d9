// goro/core/detail/lock.hpp — the runtime's own mutex (Go's runtime.mutex).
//
// A futex word; taking it is a CAS 0 -> 1, after a brief spin the *thread* sleeps in
// futex(2). It is held only for short critical sections that never park a goroutine in
// between, except across park()'s switch: a goroutine may park holding a Lock that the
// post-switch unlock function (running on the same thread) then releases. Unlike
// std::mutex it may be released by another goroutine than the one that took it, which
// is what park needs.
//
// Releasing it is a plain store where the kernel offers membarrier(2) (g_lock_asym), and
// otherwise an exchange (Drepper, "Futexes are tricky": 0 unlocked, 1 locked, 2 locked
// with sleepers). The exchange is a locked instruction on every release (~7 ns on
// x86-64, as much as the CAS that took the lock), there only to learn whether someone
// sleeps. In the plain form a thread about to sleep counts itself in sleepers_, and the
// first of a group of sleepers runs membarrier(2), which makes every running thread of
// the process execute a full fence; a release stores 0, then reads sleepers_ (only a
// compiler barrier between). Dekker's pattern, as in syscall.cpp's exit: either the
// sleeper's CAS or futex check sees the 0, or the releaser sees the count and wakes one
// sleeper (later sleepers of the group are covered by the first one's release, whose
// RMW on the count orders it after theirs). A channel message, a lock round trip on each
// side, then costs two locked instructions instead of four. Sleeps come after ~10-20 us
// of spinning (lock.cpp) and are bounded, so a wake-up lost to a bug costs time, not a
// hang.
#pragma once

#include <atomic>
#include <cstdint>

#include <goro/core/detail/thread_rt.hpp>

namespace goro::detail {

// Whether Locks release with a plain store (see the top). Set once during static
// initialization (lock.cpp), while only one thread runs, and never changed after; false
// under TSan, which does not model membarrier(2), and where the kernel refuses it.
extern bool g_lock_asym;

class Lock {
 public:
  void lock() noexcept {
    // Count first, then look at `detached`: the signal handler detaches only while the
    // count is zero, so once it is up nothing can detach us; and if it happened just
    // before, we see it now. (The signal fence keeps the compiler from swapping the two.)
    // After reattach() the goroutine may be on another thread, so the slow path is out
    // of line and re-reads the thread-local there.
    ++tls_rt.locks;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (tls_rt.detached) {
      --tls_rt.locks;
      lock_after_reattach();
      return;
    }
    std::uint32_t expected = 0;
    // acquire: pairs with the release in unlock(), so the critical section sees the
    // previous holder's writes.
    if (state_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
      return;
    }
    lock_slow();
  }
  bool try_lock() noexcept {
    ++tls_rt.locks;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (tls_rt.detached) {
      --tls_rt.locks;
      return try_lock_after_reattach();
    }
    std::uint32_t expected = 0;
    // acquire: as in lock().
    if (state_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
      return true;
    }
    --tls_rt.locks;
    return false;
  }
  void unlock() noexcept {
    if (g_lock_asym) {
      // release: publishes the critical section to the next holder (pairs with lock()).
      state_.store(0, std::memory_order_release);
      // Store, then load, with only a compiler barrier between: a sleeper's membarrier
      // orders them (see the top). relaxed: the count is a hint for the wake-up alone.
      std::atomic_signal_fence(std::memory_order_seq_cst);
      if (sleepers_.load(std::memory_order_relaxed) != 0) wake_one();
    } else if (state_.exchange(0, std::memory_order_release) == 2) {  // release: as above
      wake_one();
    }
    std::atomic_signal_fence(std::memory_order_seq_cst);
    --tls_rt.locks;  // only once released: until then, still not preemptible
  }

 private:
  void lock_slow() noexcept;
  void lock_after_reattach() noexcept;      // out of line: reattach, then lock
  bool try_lock_after_reattach() noexcept;  // out of line: reattach, then try
  void wake_one() noexcept;
  // atomic futex word: 0 unlocked, 1 locked, 2 locked with sleepers.
  std::atomic<std::uint32_t> state_{0};
  // atomic: threads sleeping or about to sleep on state_ (plain-release form only);
  // changed by lock_slow's RMWs, read by unlock after its store (see the top).
  std::atomic<std::uint32_t> sleepers_{0};
};

}  // namespace goro::detail

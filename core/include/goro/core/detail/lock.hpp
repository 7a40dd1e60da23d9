// goro/core/detail/lock.hpp — the runtime's own mutex (Go's runtime.mutex).
//
// A futex word with three states (Drepper, "Futexes are tricky"): 0 unlocked, 1 locked,
// 2 locked with sleepers. It spins briefly, then sleeps the *thread* in futex(2). It is
// held only for short critical sections that never park a goroutine in between, except
// across park()'s switch: a goroutine may park holding a Lock that the post-switch
// unlock function (running on the same thread) then releases. Unlike std::mutex it may
// be released by another goroutine than the one that took it, which is what park needs.
#pragma once

#include <atomic>
#include <cstdint>

namespace goro::detail {

// Per-thread runtime state the preemption signal handler reads (preempt.cpp):
//   locks: how many runtime Locks (and NoPreempt sections) this context holds; the
//     goroutine running here is never preempted asynchronously while it is non-zero.
//     Saved and restored with the context on every switch (context.hpp).
//   detached: sysmon's backstop took this thread's P while it ran a CPU hog outside the
//     runtime; the next runtime entry must get a P back first (reattach()).
struct ThreadRt {
  int locks = 0;
  bool detached = false;
};
extern thread_local ThreadRt tls_rt __attribute__((tls_model("initial-exec")));
// Gets a P back for a goroutine whose P was handed off by the backstop.
void reattach() noexcept;

class Lock {
 public:
  void lock() noexcept {
    if (tls_rt.detached) reattach();
    ++tls_rt.locks;
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
    if (tls_rt.detached) reattach();
    std::uint32_t expected = 0;
    // acquire: as in lock().
    bool ok = state_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                             std::memory_order_relaxed);
    if (ok) ++tls_rt.locks;
    return ok;
  }
  void unlock() noexcept {
    --tls_rt.locks;
    // release: publishes the critical section to the next holder (pairs with lock()).
    if (state_.exchange(0, std::memory_order_release) == 2) {
      wake_one();
    }
  }

 private:
  void lock_slow() noexcept;
  void wake_one() noexcept;
  std::atomic<std::uint32_t> state_{0};
};

}  // namespace goro::detail

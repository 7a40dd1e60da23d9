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
//   locks: how many runtime Locks the running context holds;
//   nopreempt: how many NoPreempt sections it is in. The goroutine running here is never
//     preempted asynchronously, nor loses its P, while either is non-zero. Both are saved
//     and restored with the context on every switch (context.hpp); a goroutine parks
//     with its Locks released by park's unlock function, so it resumes with locks == 0.
//   detached: sysmon's backstop took this thread's P while it ran a CPU hog outside the
//     runtime; the next runtime entry must get a P back first (reattach()).
struct ThreadRt {
  int locks = 0;
  int nopreempt = 0;
  bool detached = false;
};
// constinit: no dynamic initialization, so accesses need no TLS wrapper call.
extern constinit thread_local ThreadRt tls_rt __attribute__((tls_model("initial-exec")));
// On x86-64 an initial-exec thread-local is read and written %fs-relative at every
// access, so code that may have moved to another thread (after a switch) still reaches
// the right thread's copy as long as it never takes the variable's address. Elsewhere
// (aarch64 reads the thread pointer into a register, which compilers may reuse), go
// through a function that cannot be inlined.
ThreadRt* this_thread_rt() noexcept;
#if defined(__x86_64__)
#define GORO_TLS_RT(field) (::goro::detail::tls_rt.field)
#else
#define GORO_TLS_RT(field) (::goro::detail::this_thread_rt()->field)
#endif
// Gets a P back for a goroutine whose P was handed off by the backstop.
void reattach() noexcept;

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
    // release: publishes the critical section to the next holder (pairs with lock()).
    if (state_.exchange(0, std::memory_order_release) == 2) {
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
  std::atomic<std::uint32_t> state_{0};
};

}  // namespace goro::detail

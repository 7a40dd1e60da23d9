// lock.cpp — the slow paths of detail::Lock (see goro/core/detail/lock.hpp) and the
// futex(2) wrappers the runtime's thread sleeps are made of.
#include <goro/core/detail/lock.hpp>
#include <goro/core/detail/sanitizers.hpp>

#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "futex.hpp"
#include "membarrier.hpp"
#include "note.hpp"

namespace goro::detail {

void futex_wait(std::atomic<std::uint32_t>* addr, std::uint32_t expected,
                std::int64_t timeout_ns) noexcept {
#if GORO_TSAN
  // TSan runs a signal's handler only when the thread that took the signal next passes
  // through one of its interceptors; the raw futex(2) below is none, and is restarted
  // after the signal, so a thread asleep here would hold a SIGTERM forever (the handler
  // never runs). Under TSan the sleep is cut into slices with an interceptor between.
  // Callers treat an early return as a spurious wake-up, which futex(2) allows anyway.
  constexpr std::int64_t kTsanSlice = 50'000'000;
  if (timeout_ns < 0 || timeout_ns > kTsanSlice) timeout_ns = kTsanSlice;
#endif
  struct timespec ts;
  struct timespec* tsp = nullptr;
  if (timeout_ns >= 0) {
    ts.tv_sec = timeout_ns / 1000000000;
    ts.tv_nsec = timeout_ns % 1000000000;
    tsp = &ts;
  }
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(addr), FUTEX_WAIT_PRIVATE, expected, tsp,
            nullptr, 0);
#if GORO_TSAN
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, nullptr, &mask);  // an interceptor: pending signals run here
#endif
}

void futex_wake(std::atomic<std::uint32_t>* addr, int n) noexcept {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(addr), FUTEX_WAKE_PRIVATE, n, nullptr,
            nullptr, 0);
}

namespace {
inline void cpu_relax() noexcept {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}
}  // namespace

namespace {

// With plain releases possible, a sleep on a Lock rechecks at least this often: a
// wake-up the protocol lost (it should not) costs this much time instead of a hang.
constexpr std::int64_t kAsymSleepNs = 10'000'000;
// Spins before a sleep: ~1,000 pauses with their loads take ~10-20 us on the 2-vCPU test
// VM, about what a futex sleep and wake-up round trip costs there. (100 spins, ~2 us,
// slept on the timer and scheduler locks of 100,000 goroutines waking at once ~1,500
// times in 150 ms: sync/sleep_100k_wall took 6 % longer once each first sleep also
// paid a membarrier.)
constexpr int kSpins = 1000;

}  // namespace

// Dynamic initialization of this translation unit: runs before main(), while only the
// main thread exists, so no Lock has a sleeper when the form is chosen.
bool g_lock_asym = membarrier_register();

void Lock::lock_slow() noexcept {
  // Spin a while: runtime critical sections are a few dozen instructions, and a holder
  // that keeps the lock longer usually lets go within the time a sleep would cost.
  for (int i = 0; i < kSpins; ++i) {
    std::uint32_t expected = 0;
    // acquire: as in lock().
    if (state_.load(std::memory_order_relaxed) == 0 &&
        state_.compare_exchange_weak(expected, 1, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
      return;
    }
    cpu_relax();
  }
  if (g_lock_asym) {
    // Count ourselves; the first of a group of sleepers then makes every running thread
    // fence (membarrier), so that a release in the plain form either lands before our
    // CAS below or reads the count and wakes one of us (see lock.hpp). The others need
    // not: the first one's release reads their counts (its RMWs order them). seq_cst:
    // the RMWs are full fences on every architecture, as the argument needs.
    if (sleepers_.fetch_add(1, std::memory_order_seq_cst) == 0 && !membarrier_all()) {
      std::atomic_thread_fence(std::memory_order_seq_cst);  // cannot fail once registered
    }
    for (;;) {
      std::uint32_t expected = 0;
      // acquire: as in lock().
      if (state_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                         std::memory_order_relaxed)) {
        break;
      }
      futex_wait(&state_, 1, kAsymSleepNs);
    }
    sleepers_.fetch_sub(1, std::memory_order_seq_cst);  // seq_cst: see above
    return;
  }
  // Mark "locked with sleepers" and sleep until we take it in that state.
  // acquire: taking the lock, pairs with unlock()'s release.
  while (state_.exchange(2, std::memory_order_acquire) != 0) {
    futex_wait(&state_, 2);
  }
}

void Lock::wake_one() noexcept { futex_wake(&state_, 1); }

ThreadRt* this_thread_rt() noexcept;

void Lock::lock_after_reattach() noexcept {
  reattach();
  ++this_thread_rt()->locks;  // re-read: we may be on another thread now
  std::uint32_t expected = 0;
  // acquire: as in lock().
  if (!state_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                      std::memory_order_relaxed)) {
    lock_slow();
  }
}

bool Lock::try_lock_after_reattach() noexcept {
  reattach();
  std::uint32_t expected = 0;
  ++this_thread_rt()->locks;
  // acquire: as in lock().
  if (state_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
    return true;
  }
  --this_thread_rt()->locks;
  return false;
}

bool Note::sleep_for(std::int64_t ns) noexcept {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(ns);
  // acquire: pairs with wakeup()'s release.
  while (key_.load(std::memory_order_acquire) == 0) {
    auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return false;
    futex_wait(&key_, 0, left);
  }
  return true;
}

}  // namespace goro::detail

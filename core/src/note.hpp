// note.hpp — a one-shot sleep/wake-up for an M (Go's note: notesleep / notewakeup).
//
// Owner: the M that sleeps on it. wakeup() may be called once per clear() by anyone;
// sleep() returns after that wakeup (at once if it already happened).
#pragma once

#include <atomic>
#include <cstdint>

#include "futex.hpp"

namespace goro::detail {

class Note {
 public:
  void clear() noexcept {
    // relaxed: only the owner clears, before publishing itself to wakers under sched.lock.
    key_.store(0, std::memory_order_relaxed);
  }
  void wakeup() noexcept {
    // release: the waker's writes (e.g. m->nextp) are visible after sleep() returns.
    if (key_.exchange(1, std::memory_order_release) == 0) futex_wake(&key_, 1);
  }
  void sleep() noexcept {
    // acquire: pairs with wakeup()'s release.
    while (key_.load(std::memory_order_acquire) == 0) futex_wait(&key_, 0);
  }
  // Returns true if woken, false on timeout.
  bool sleep_for(std::int64_t ns) noexcept;

 private:
  std::atomic<std::uint32_t> key_{0};
};

}  // namespace goro::detail

// goro/core/semaphore.hpp — a weighted counting semaphore for goroutines
// (golang.org/x/sync/semaphore.Weighted).
//
//   goro::Semaphore sem(4);        // 4 tokens, all available
//   sem.acquire();                 // take 1 (parks the goroutine while none is free)
//   sem.acquire(3);                // take 3 at once
//   sem.release(4);
//
// Strictly FIFO: waiters are served in arrival order, and a request that cannot be met
// yet blocks every request behind it, even smaller ones that would fit, so a large
// request is never starved by a stream of small ones. try_acquire(n) likewise fails
// while anyone is waiting.
//
// Errors (thrown, as x/sync panics or would block forever):
// - std::invalid_argument: a negative size or weight, or acquire(n) with n > size()
//   (it could never succeed; x/sync would block until its context is done).
// - std::logic_error: release(n) of more than is currently held (the semaphore is left
//   unchanged).
// acquire() that has to wait must run in a goroutine. Not copyable or movable.
#pragma once

#include <cstdint>

#include <goro/core/detail/lock.hpp>
#include <goro/core/detail/sema.hpp>

namespace goro {

class Semaphore {
 public:
  // A semaphore with `size` tokens, all available. Throws std::invalid_argument if size < 0.
  explicit Semaphore(std::int64_t size);
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  // Takes n tokens, parking until they are available and every earlier waiter is served.
  void acquire(std::int64_t n = 1);
  // Takes n tokens if they are available and nobody is waiting; never parks. n > size()
  // simply fails.
  bool try_acquire(std::int64_t n = 1);
  // Returns n tokens and wakes the waiters at the front that now fit, in order.
  void release(std::int64_t n = 1);

  std::int64_t size() const noexcept { return size_; }

 private:
  const std::int64_t size_;
  detail::Lock lock_;          // guards cur_ and waiters_
  std::int64_t cur_ = 0;       // tokens held (granted) right now; guarded by lock_
  detail::WaitQueue waiters_;  // FIFO, value = weight; guarded by lock_
};

}  // namespace goro

// goro/core/wait_group.hpp — wait for a collection of goroutines to finish (Go's sync.WaitGroup).
#pragma once

#include <cstdint>

#include <goro/core/detail/lock.hpp>

namespace goro {

namespace detail {
struct G;
}

// add(n) before starting work, done() when a piece finishes, wait() parks the calling
// goroutine (never the OS thread) until the counter is zero. A negative counter throws
// std::logic_error, as Go panics. Not copyable or movable: share it by reference.
class WaitGroup {
 public:
  WaitGroup() = default;
  WaitGroup(const WaitGroup&) = delete;
  WaitGroup& operator=(const WaitGroup&) = delete;

  void add(std::int64_t delta);
  void done() { add(-1); }
  void wait();

 private:
  // Guarded by lock_: the counter and the FIFO of parked waiters.
  detail::Lock lock_;
  std::int64_t count_ = 0;
  detail::G* waiters_head_ = nullptr;
  detail::G* waiters_tail_ = nullptr;
};

}  // namespace goro

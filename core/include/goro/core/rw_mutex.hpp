// goro/core/rw_mutex.hpp — a reader/writer lock for goroutines (Go's sync.RWMutex).
//
//   goro::RWMutex mu;
//   { std::shared_lock<goro::RWMutex> r(mu); ... }   // many readers at once
//   { std::lock_guard<goro::RWMutex> w(mu); ... }    // one writer, no readers
//
// Any number of readers or one writer. Writer preference, as in Go: once a writer calls
// lock(), new lock_shared() calls park until that writer has had the lock, so a stream
// of readers cannot starve writers. Consequently a goroutine that holds a read lock must
// not take it again recursively (a writer queued in between would deadlock both).
// Waiting parks the goroutine, never the thread. Not copyable or movable.
//
// Errors are fatal, as in Go (message on stderr, then std::abort()):
//   unlock() without lock()                "goro: fatal error: sync: Unlock of unlocked RWMutex"
//   unlock_shared() without lock_shared()  "goro: fatal error: sync: RUnlock of unlocked RWMutex"
#pragma once

#include <atomic>
#include <cstdint>

#include <goro/core/detail/sema.hpp>
#include <goro/core/mutex.hpp>

namespace goro {

class RWMutex {
 public:
  RWMutex() noexcept = default;
  RWMutex(const RWMutex&) = delete;
  RWMutex& operator=(const RWMutex&) = delete;

  // Exclusive (writer) side. Go: Lock, TryLock, Unlock.
  void lock() noexcept;
  bool try_lock() noexcept;
  void unlock() noexcept;

  // Shared (reader) side, named for std::shared_lock. Go: RLock, TryRLock, RUnlock.
  void lock_shared() noexcept {
    // acquire: pairs with unlock()'s release add, so a reader sees the last writer's
    // critical section when no writer is pending (otherwise reader_sem_ orders it).
    if (reader_count_.fetch_add(1, std::memory_order_acquire) + 1 < 0) {
      // A writer is pending or active: wait for it to finish.
      reader_sem_.acquire(/*lifo=*/false, detail::WaitReason::kRWMutexRead);
    }
  }
  bool try_lock_shared() noexcept;
  void unlock_shared() noexcept {
    // release: publishes our reads as finished before a writer that sees the decrement
    // (pairs with lock()'s acq_rel add and the reader_wait_ chain).
    const std::int32_t r = reader_count_.fetch_sub(1, std::memory_order_release) - 1;
    if (r < 0) unlock_shared_slow(r);
  }

 private:
  // Go: rwmutexMaxReaders. A writer subtracts this from reader_count_ to announce itself.
  static constexpr std::int32_t kMaxReaders = 1 << 30;

  void unlock_shared_slow(std::int32_t r) noexcept;

  Mutex w_;                  // held by the writer (pending or active): writers queue here
  detail::Sema writer_sem_;  // the pending writer parks here until departing readers finish
  detail::Sema reader_sem_;  // readers that arrived while a writer was pending park here
  // atomic: readers holding or waiting for the lock, minus kMaxReaders while a writer is
  // pending or active. Changed by every lock/unlock on either side.
  std::atomic<std::int32_t> reader_count_{0};
  // atomic: readers a pending writer still waits for (those that held the lock when it
  // announced itself). Added to by that writer, decremented by those readers.
  std::atomic<std::int32_t> reader_wait_{0};
};

}  // namespace goro

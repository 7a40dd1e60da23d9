// rw_mutex.cpp — goro::RWMutex, Go's sync.RWMutex for goroutines.
//
// Problem: many readers or one writer, cheap for readers (one atomic add each way when no
// writer is around), and writers must not starve under a continuous stream of readers.
//
// Rejected: a reader count guarded by a Mutex (every reader serializes on it); a
// reader-preferring lock (writers starve). Chosen: Go's design (src/sync/rwmutex.go).
// reader_count_ counts readers; a writer first takes w_ (so writers queue among
// themselves), then subtracts kMaxReaders from reader_count_, which both announces it
// (new readers see a negative count and park on reader_sem_) and tells it how many
// readers are still inside. It adds that number to reader_wait_ and parks on writer_sem_
// unless it is zero; each of those readers decrements reader_wait_ on the way out and the
// last one releases writer_sem_. The writer's unlock() adds kMaxReaders back and releases
// reader_sem_ once per reader that arrived meanwhile, then unlocks w_ for the next writer.
// The semaphores store tokens released before anyone waits, so a reader that counted
// itself but has not parked yet, or a writer that has not parked yet, still gets through.
//
// Go functions mirrored: RLock, TryRLock, RUnlock/rUnlockSlow, Lock, TryLock, Unlock.
#include <goro/core/rw_mutex.hpp>

namespace goro {

// Go: sync.(*RWMutex).TryRLock.
bool RWMutex::try_lock_shared() noexcept {
  // relaxed: a guess checked by the CAS below.
  std::int32_t c = reader_count_.load(std::memory_order_relaxed);
  for (;;) {
    if (c < 0) return false;  // a writer is pending or active
    // acquire: as in lock_shared().
    if (reader_count_.compare_exchange_weak(c, c + 1, std::memory_order_acquire,
                                            std::memory_order_relaxed)) {
      return true;
    }
  }
}

// Go: sync.(*RWMutex).rUnlockSlow. r is reader_count_ after our decrement (negative).
void RWMutex::unlock_shared_slow(std::int32_t r) noexcept {
  if (r + 1 == 0 || r + 1 == -kMaxReaders) {
    detail::sync_fatal("sync: RUnlock of unlocked RWMutex");
  }
  // A writer is pending. acq_rel: release publishes our reads as done; acquire collects
  // the earlier departing readers' releases so the last one passes them all on to the
  // writer through writer_sem_.
  if (reader_wait_.fetch_sub(1, std::memory_order_acq_rel) - 1 == 0) {
    // We are the last reader the writer waits for.
    writer_sem_.release(/*handoff=*/false);
  }
}

// Go: sync.(*RWMutex).Lock.
void RWMutex::lock() noexcept {
  // First, resolve competition with other writers.
  w_.lock();
  // Announce to readers there is a pending writer; the old value is the number of
  // readers inside. acquire: pairs with the release of readers that already left, so our
  // critical section comes after their reads.
  const std::int32_t r = reader_count_.fetch_sub(kMaxReaders, std::memory_order_acquire);
  // Wait for the r readers inside. Those that leave from now on decrement reader_wait_
  // (they see a negative count), possibly before our add: if all r have left, the add
  // brings it back to exactly 0 and we need not park. acq_rel: acquire pairs with the
  // departing readers' acq_rel decrements; release hands our count to the last of them.
  if (r != 0 && reader_wait_.fetch_add(r, std::memory_order_acq_rel) + r != 0) {
    writer_sem_.acquire(/*lifo=*/false, detail::WaitReason::kRWMutexWrite);
  }
}

// Go: sync.(*RWMutex).TryLock.
bool RWMutex::try_lock() noexcept {
  if (!w_.try_lock()) return false;
  std::int32_t zero = 0;
  // acquire: pairs with the last reader's release in unlock_shared().
  if (!reader_count_.compare_exchange_strong(zero, -kMaxReaders, std::memory_order_acquire,
                                             std::memory_order_relaxed)) {
    w_.unlock();
    return false;
  }
  return true;
}

// Go: sync.(*RWMutex).Unlock.
void RWMutex::unlock() noexcept {
  // Announce to readers there is no active writer. release: pairs with lock_shared()'s
  // acquire add, publishing our critical section to readers.
  const std::int32_t r =
      reader_count_.fetch_add(kMaxReaders, std::memory_order_release) + kMaxReaders;
  if (r >= kMaxReaders) {
    detail::sync_fatal("sync: Unlock of unlocked RWMutex");
  }
  // Unblock the r readers that arrived while we were pending or active.
  if (r > 0) reader_sem_.release(/*handoff=*/false, static_cast<std::uint32_t>(r));
  // Allow other writers to proceed.
  w_.unlock();
}

}  // namespace goro

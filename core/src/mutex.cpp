// mutex.cpp — goro::Mutex, Go's sync.Mutex for goroutines.
//
// The problem. Goroutines need mutual exclusion that blocks the goroutine, not the
// thread: a parked goroutine must leave its P free to run others. The mutex must be fast
// uncontended (one CAS each way), good under contention (little switching, no convoys),
// and must not starve anyone.
//
// Approaches rejected.
// - std::mutex / detail::Lock: they sleep the OS thread (and the P with it); with
//   GOMAXPROCS Ps, GOMAXPROCS blocked lockers would stop the whole program.
// - A strictly FIFO mutex (every unlock hands ownership to the next waiter): fair, but each
//   handoff costs a goroutine switch while the woken waiter gets scheduled, and a goroutine
//   that is already running on a CPU — the cheapest possible next owner — must queue.
//   Go measured this as much slower under load, and so would we.
// - A pure barging mutex (unlock wakes a waiter, who then competes with newcomers): fast,
//   but a waiter can lose the race forever to goroutines that are already running
//   (tail latency without bound).
//
// The chosen design is Go's (src/sync/mutex.go), two modes over one state word:
//   state = waiters << 3 | kStarving | kWoken | kLocked
// Normal mode: lock() CASes kLocked in; if it is held, a locker on a multi-CPU machine with
// other work running spins a few rounds (detail::can_spin), setting kWoken so unlock()
// does not wake a second goroutine needlessly; then it counts itself in the waiters and
// parks on sema_ (FIFO). unlock() clears kLocked and, if there are waiters and nobody is
// already awake, takes one waiter off the count, sets kWoken and releases sema_ once. The
// woken waiter competes with newcomers; if it loses it re-parks at the FRONT of the queue
// (Go's semacquire lifo), since it has waited longest.
// Starvation mode: a waiter that, once woken, finds it has waited more than 1 ms sets
// kStarving. From then on newcomers neither spin nor take the lock — they queue at the
// back — and unlock() hands ownership directly to the front waiter: it leaves kLocked
// clear, readies the waiter and yields to it (Sema::release(handoff) → yield_local), and
// the waiter sets kLocked itself. The last waiter, or one that waited under 1 ms, turns
// starvation mode off again.
//
// Memory orders: taking the lock (every path) is an acquire on state_ and giving it up is
// a release on state_, so critical sections are ordered through state_'s modification
// order (all later changes are RMWs, which continue the release sequence). The handoff
// path is additionally ordered by sema_'s Lock and ready()/park().
//
// Go functions mirrored: Mutex.Lock/lockSlow (lock/lock_slow), Mutex.TryLock (try_lock),
// Mutex.Unlock/unlockSlow (unlock/unlock_slow), runtime_canSpin/runtime_doSpin
// (detail::can_spin/spin_pause), runtime_SemacquireMutex/runtime_Semrelease
// (detail::Sema::acquire/release), runtime_nanotime (steady_clock).
#include <goro/core/mutex.hpp>

#include <chrono>

namespace goro {

namespace {

// Go: starvationThresholdNs. A waiter waiting longer than this turns on starvation mode.
constexpr std::int64_t kStarvationThresholdNs = 1'000'000;

std::int64_t nanotime() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// Go: sync.(*Mutex).lockSlow.
void Mutex::lock_slow() noexcept {
  // Spinning and parking both need a goroutine (and its P): check before either.
  (void)detail::current_g_or_die("goro::Mutex::lock");
  std::int64_t wait_start = 0;  // when we first queued; 0: not yet (so queue FIFO)
  bool starving = false;        // we have waited longer than the threshold
  bool awoke = false;           // we own the kWoken flag (set it ourselves or were woken)
  int iter = 0;
  // relaxed: a guess; every decision below is committed by a CAS that re-checks it.
  std::int32_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    // Spin only in normal mode with the lock held: in starvation mode the lock goes to the
    // queue anyway, and if it is free we should just try to take it.
    if ((old & (kLocked | kStarving)) == kLocked && detail::can_spin(iter)) {
      // Claim kWoken so the unlocker does not wake another waiter while we spin.
      // relaxed: kWoken is only a hint to unlock_slow(); it carries no data.
      if (!awoke && (old & kWoken) == 0 && (old >> kWaiterShift) != 0 &&
          state_.compare_exchange_strong(old, old | kWoken, std::memory_order_relaxed,
                                         std::memory_order_relaxed)) {
        awoke = true;
      }
      detail::spin_pause();
      ++iter;
      // relaxed: as above.
      old = state_.load(std::memory_order_relaxed);
      continue;
    }
    std::int32_t next = old;
    // Newcomers must not take a starving mutex: it belongs to the queue.
    if ((old & kStarving) == 0) next |= kLocked;
    // If we cannot take it now, count ourselves among the waiters.
    if ((old & (kLocked | kStarving)) != 0) next += 1 << kWaiterShift;
    // Switch to starvation mode, but only if it is held: unlock_slow() in starvation mode
    // expects a waiter to hand the lock to, which an unheld mutex may not have.
    if (starving && (old & kLocked) != 0) next |= kStarving;
    if (awoke) {
      // We were woken (or claimed kWoken while spinning): give the flag back either way.
      if ((next & kWoken) == 0) detail::sync_fatal("sync: inconsistent mutex state");
      next &= ~kWoken;
    }
    // acquire: when this CAS takes the lock it pairs with the previous owner's release in
    // unlock(); when it only registers us as a waiter, nothing is published either way.
    if (!state_.compare_exchange_weak(old, next, std::memory_order_acquire,
                                      std::memory_order_relaxed)) {
      continue;  // old was reloaded by the failed CAS
    }
    if ((old & (kLocked | kStarving)) == 0) break;  // we set kLocked on a free mutex
    // Queue. A goroutine that already waited goes to the front (Go: queueLifo).
    const bool lifo = wait_start != 0;
    if (wait_start == 0) wait_start = nanotime();
    sema_.acquire(lifo, detail::WaitReason::kMutex);
    starving = starving || nanotime() - wait_start > kStarvationThresholdNs;
    // relaxed: sema_ (its Lock and ready()/park()) orders this after the unlocker's
    // state changes, so a handoff's kStarving is visible here.
    old = state_.load(std::memory_order_relaxed);
    if ((old & kStarving) != 0) {
      // Handed off in starvation mode: the mutex is ours although kLocked is clear, and we
      // are still counted as a waiter. Set kLocked and drop ourselves from the count in
      // one add, leaving starvation mode if we are the last waiter or did not starve:
      // staying in it with no need would make every later lock() a handoff, which is slow.
      if ((old & (kLocked | kWoken)) != 0 || (old >> kWaiterShift) == 0) {
        detail::sync_fatal("sync: inconsistent mutex state");
      }
      std::int32_t delta = kLocked - (1 << kWaiterShift);
      if (!starving || (old >> kWaiterShift) == 1) delta -= kStarving;
      // acquire: the ownership transfer; pairs with the unlocker's release fetch_sub.
      state_.fetch_add(delta, std::memory_order_acquire);
      break;
    }
    // Normal mode: unlock_slow() set kWoken for us; compete again, from the front.
    awoke = true;
    iter = 0;
  }
}

// Go: sync.(*Mutex).unlockSlow. `now` is the state right after clearing kLocked.
void Mutex::unlock_slow(std::int32_t now) noexcept {
  if (((now + kLocked) & kLocked) == 0) {
    detail::sync_fatal("sync: unlock of unlocked mutex");
  }
  if ((now & kStarving) == 0) {
    std::int32_t old = now;
    for (;;) {
      // Nobody to wake, or someone already took the lock, is awake, or the mutex
      // turned starving (its new owner will do the waking): done.
      if ((old >> kWaiterShift) == 0 || (old & (kLocked | kWoken | kStarving)) != 0) return;
      // Take one waiter off the count and mark it awake, then wake it.
      // relaxed: this only claims the right to wake one waiter; the critical section
      // was published by unlock()'s release, and the wakee is ordered by sema_.
      if (state_.compare_exchange_weak(old, (old - (1 << kWaiterShift)) | kWoken,
                                       std::memory_order_relaxed, std::memory_order_relaxed)) {
        sema_.release(/*handoff=*/false);
        return;
      }
    }
  }
  // Starvation mode: hand the mutex to the front waiter and let it run now. kLocked stays
  // clear and the waiter sets it; newcomers see kStarving and queue meanwhile.
  sema_.release(/*handoff=*/true);
}

}  // namespace goro

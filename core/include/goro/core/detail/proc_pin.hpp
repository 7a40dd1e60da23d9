// goro/core/detail/proc_pin.hpp — keeping a goroutine on its logical processor (P) for
// a few instructions, for per-processor caches in the layers above core (goro::http's
// exchange pool and request ids): ProcPin, and ProcSlots, the per-P values it guards.
//
// While a ProcPin lives, the calling goroutine is not preempted asynchronously and its P
// is not taken from it (the count core's own NoPreempt sections raise, see lock.hpp), so
// index() — the P's number, 0 .. GORO_MAXPROCS-1 — belongs to this goroutine alone among
// those running: a per-index slot is private to it without atomics or locks. -1 outside
// a goroutine, or when the P was taken just before (the caller then uses its shared
// path). Between construction and destruction the caller must not park, block or call
// into the runtime (channels, mutexes, go(), sleep, I/O): nothing that could yield.
#pragma once

#include <atomic>

#include <goro/core/detail/lock.hpp>

namespace goro::detail {

// The number of the P the calling goroutine runs on, or -1 (not a goroutine, or no P).
int proc_index() noexcept;

class ProcPin {
 public:
  ProcPin() noexcept {
    // Count first, then look at `detached` (as Lock::lock): once the count is up nothing
    // can take the P; if it was taken just before, we see it now and use no slot.
    ++GORO_TLS_RT(nopreempt);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    index_ = GORO_TLS_RT(detached) ? -1 : proc_index();
  }
  ~ProcPin() {
    std::atomic_signal_fence(std::memory_order_seq_cst);
    --GORO_TLS_RT(nopreempt);
  }
  ProcPin(const ProcPin&) = delete;
  ProcPin& operator=(const ProcPin&) = delete;

  int index() const noexcept { return index_; }

 private:
  int index_;
};

// One T for each of the first N Ps, a cache line each (Ps on different CPUs share none).
// slot(pin) is the value of the P `pin` names — private to the pinned goroutine while the
// pin lives, so it is read and written without atomics or locks — or nullptr (outside a
// goroutine, a P just taken, a P numbered N or more): the caller then takes its shared
// path.
template <class T, int N = 64>
class ProcSlots {
 public:
  T* slot(const ProcPin& pin) noexcept {
    int i = pin.index();
    return i >= 0 && i < N ? &slots_[i].value : nullptr;
  }
  // Every slot, unpinned: only once no goroutine can be using them (the owner's teardown).
  template <class F>
  void for_each(F f) {
    for (Slot& s : slots_) f(s.value);
  }

 private:
  struct alignas(64) Slot {
    T value{};
  };
  Slot slots_[N];
};

}  // namespace goro::detail

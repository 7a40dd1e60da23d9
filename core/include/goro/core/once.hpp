// goro/core/once.hpp — run an initialization exactly once (Go's sync.Once).
//
//   goro::Once once;
//   once.call([] { init_tables(); });   // from any number of goroutines
//
// The first call() runs f; every concurrent call() parks (the goroutine, not the thread)
// until f has finished, and every call() that returns — the first included — sees all
// of f's effects. Later calls return at once.
//
// If f throws, the Once still counts as done, as Go's Once counts a panicking f as done:
// the exception propagates to the first caller only, and neither concurrent nor later
// callers run f again (so they may observe a half-done initialization; catch inside f if
// that matters). Calling call() on the same Once from inside f deadlocks, as in Go.
// Not copyable or movable.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <utility>

#include <goro/core/mutex.hpp>

namespace goro {

class Once {
 public:
  Once() noexcept = default;
  Once(const Once&) = delete;
  Once& operator=(const Once&) = delete;

  // Go: Once.Do.
  template <class F>
  void call(F&& f) {
    // acquire: pairs with the release store in call_slow(), so once we see "done" we see
    // everything f did. (The fast path must not be relaxed: see Go's Once.Do comment.)
    if (done_.load(std::memory_order_acquire) == 0) call_slow(std::forward<F>(f));
  }

 private:
  // Go: Once.doSlow.
  template <class F>
  void call_slow(F&& f) {
    std::lock_guard<Mutex> hold(m_);
    // relaxed: done_ is only set with m_ held, and we hold m_.
    if (done_.load(std::memory_order_relaxed) != 0) return;
    struct MarkDone {
      std::atomic<std::uint32_t>& done;
      // release: publishes f's effects to fast-path callers (pairs with call()'s acquire).
      ~MarkDone() { done.store(1, std::memory_order_release); }
    } mark{done_};
    std::invoke(std::forward<F>(f));
  }

  // atomic: 0 until f has run; set once under m_ (release), read by every call() (acquire).
  std::atomic<std::uint32_t> done_{0};
  Mutex m_;  // held by the goroutine running f; concurrent callers park on it
};

}  // namespace goro

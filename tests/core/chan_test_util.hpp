// chan_test_util.hpp — helpers shared by the channel and select tests (core and stress).
//
// Waiting for "goroutine X is parked" uses the testing view of the runtime (goro_testing,
// Go's export_test.go idea): a goroutine publishes its G just before the operation that
// should block, and the test yields until that G's status is kWaiting. The only park
// after the announcement is the operation under test, so kWaiting means "queued on
// the channel" (it enqueues itself before parking).
#pragma once

#include <goro/core/chan.hpp>
#include <goro/core/runtime.hpp>
#include <goro/core/wait_group.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <utility>

#include "g.hpp"
#include "hchan.hpp"

namespace goro_test {

using Clock = std::chrono::steady_clock;

template <class F>
void run_with(int procs, F&& f) {
  goro::run(goro::Config{.max_procs = procs}, std::forward<F>(f));
}

// Yields until pred() holds; fails the test (and returns false) after `limit`.
template <class Pred>
bool yield_until(Pred pred, std::chrono::seconds limit = std::chrono::seconds(30)) {
  const auto deadline = Clock::now() + limit;
  while (!pred()) {
    if (Clock::now() > deadline) {
      ADD_FAILURE() << "condition not reached within " << limit.count() << " s";
      return false;
    }
    goro::yield();
  }
  return true;
}

inline void yield_n(int n) {
  for (int i = 0; i < n; ++i) goro::yield();
}

// Goroutines the test waits for before run() returns. run() abandons goroutines still
// alive when main returns, without unwinding them, so a goroutine holding a Chan copy
// must be waited for or LeakSanitizer rightly reports the channel. The callable is
// destroyed before done(), so its captures are gone once wait() returns.
class Group {
 public:
  template <class F>
  void go(F&& f) {
    wg_.add(1);
    goro::go([this, fn = std::forward<F>(f)]() mutable {
      {
        auto local = std::move(fn);
        local();
      }
      wg_.done();
    });
  }
  void wait() { wg_.wait(); }

 private:
  goro::WaitGroup wg_;
};

// Where a goroutine says "I am about to block".
class ParkSpot {
 public:
  // Called by the goroutine right before its blocking operation.
  void announce() noexcept {
    // release: pairs with the acquire in parked(); the G pointer is all that is shared.
    g_.store(goro::detail::current_g(), std::memory_order_release);
  }
  // Whether the announced goroutine is parked now.
  bool parked() const noexcept {
    goro::detail::G* g = g_.load(std::memory_order_acquire);  // acquire: see announce()
    // relaxed: a status snapshot; the runtime writes it before the switch.
    return g != nullptr && g->status.load(std::memory_order_relaxed) == goro::detail::GStatus::kWaiting;
  }
  // Yields until the announced goroutine is parked.
  bool wait() const { return yield_until([&] { return parked(); }); }

 private:
  std::atomic<goro::detail::G*> g_{nullptr};
};

// Whether no goroutine is queued on ch (Go's export_test idea: the channel's internals).
// Meaningful once every goroutine that used ch has finished or is known to be elsewhere.
template <class T>
bool no_waiters(const goro::Chan<T>& ch) {
  auto* c = static_cast<goro::detail::ChanState*>(goro::detail::ChanAccess::header(ch));
  return c == nullptr || (c->recvq.racy_empty() && c->sendq.racy_empty());
}

// Counts live instances (constructions minus destructions) to catch leaks and double
// destruction of channel elements.
struct Tracked {
  static inline std::atomic<long> live{0};
  int v = 0;
  explicit Tracked(int x) noexcept : v(x) { live.fetch_add(1, std::memory_order_relaxed); }
  Tracked(const Tracked& o) noexcept : v(o.v) { live.fetch_add(1, std::memory_order_relaxed); }
  Tracked(Tracked&& o) noexcept : v(o.v) {
    o.v = -1;
    live.fetch_add(1, std::memory_order_relaxed);
  }
  Tracked& operator=(const Tracked&) = default;
  ~Tracked() { live.fetch_sub(1, std::memory_order_relaxed); }
};

}  // namespace goro_test

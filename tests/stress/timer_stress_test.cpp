// timer_stress_test.cpp — timers that fire as soon as they are armed, on several Ps.
//
// A sleep of a few microseconds is armed after the sleeper's switch (park's unlock step,
// on the M that switched away) and may fire on another M before the arming M has left
// the timer code; the goroutine it readies may then run on a third M and arm the same
// timer (its own, embedded in the goroutine) for its next sleep. Nothing in the arming
// path may touch the timer once it is in a heap. A plain run shows a lost or doubled
// wake-up (a hang, or a sleep that returns early); TSan shows a stray access (it found
// one: add_timer read the deadline after the insertion).
#include <goro/core/runtime.hpp>
#include <goro/core/time.hpp>
#include <goro/core/wait_group.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>

namespace {

#if defined(__SANITIZE_THREAD__)
constexpr int kSleeps = 1500;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr int kSleeps = 1500;
#else
constexpr int kSleeps = 5000;
#endif
#else
constexpr int kSleeps = 5000;
#endif

TEST(TimerStress, MicrosecondSleepsOnFourPsNeverWakeEarlyOrGetLost) {
  goro::Config cfg;
  cfg.max_procs = 4;
  constexpr int kGoroutines = 16;
  std::atomic<int> early{0};
  std::atomic<std::int64_t> done{0};
  goro::run(cfg, [&] {
    goro::WaitGroup wg;
    for (int k = 0; k < kGoroutines; ++k) {
      wg.add(1);
      goro::go([&, k] {
        std::mt19937 rng(static_cast<unsigned>(k));
        for (int i = 0; i < kSleeps; ++i) {
          auto d = std::chrono::microseconds(1 + rng() % 20);
          auto t0 = std::chrono::steady_clock::now();
          goro::sleep(d);
          // relaxed: counters read after wg.wait()
          if (std::chrono::steady_clock::now() - t0 < d) early.fetch_add(1, std::memory_order_relaxed);
          done.fetch_add(1, std::memory_order_relaxed);
        }
        wg.done();
      });
    }
    wg.wait();
  });
  EXPECT_EQ(early.load(), 0);
  EXPECT_EQ(done.load(), static_cast<std::int64_t>(kGoroutines) * kSleeps);
}

}  // namespace

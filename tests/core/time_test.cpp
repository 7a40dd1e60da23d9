// Timers: sleep, Timer, Ticker, after; ordering and (loose) accuracy; 100,000 sleepers;
// an idle runtime burns no CPU; the deadlock detector.
#include <goro/core/time.hpp>
#include <goro/goro.hpp>

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <vector>

using namespace std::chrono_literals;

namespace {

double cpu_seconds() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

TEST(Sleep, SleepsAtLeastTheDurationAndNotMuchMore) {
  for (int procs : {1, 2}) {
    goro::run(goro::Config{.max_procs = procs}, [] {
      auto t0 = goro::Clock::now();
      goro::sleep(20ms);
      auto took = goro::Clock::now() - t0;
      EXPECT_GE(took, 20ms);
      EXPECT_LT(took, 200ms);  // loose: catches a missed wake-up, not a slow one
      goro::sleep(0ms);        // just yields
      goro::sleep(-5ms);
    });
  }
}

TEST(Sleep, WakeOrderFollowsDeadlines) {
  goro::run(goro::Config{.max_procs = 2}, [] {
    std::mutex mu;
    std::vector<int> order;
    goro::WaitGroup wg;
    for (int i : {4, 1, 3, 0, 2}) {
      wg.add(1);
      goro::go([&, i] {
        goro::sleep(i * 40ms);
        std::lock_guard<std::mutex> l(mu);
        order.push_back(i);
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  });
}

TEST(Sleep, HundredThousandSleepersAtOnce) {
  goro::run(goro::Config{.max_procs = 2}, [] {
    constexpr int kN = 100000;
    std::atomic<int> woke{0};
    std::atomic<std::int64_t> worst_late_ns{0};
    goro::WaitGroup wg;
    wg.add(kN);
    auto t0 = goro::Clock::now();
    for (int i = 0; i < kN; ++i) {
      goro::go([&] {
        auto start = goro::Clock::now();
        goro::sleep(10ms);
        auto late = std::chrono::duration_cast<std::chrono::nanoseconds>(goro::Clock::now() - start - 10ms).count();
        EXPECT_GE(late, 0);
        std::int64_t w = worst_late_ns.load();
        while (late > w && !worst_late_ns.compare_exchange_weak(w, late)) {
        }
        woke++;
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(woke.load(), kN);
    EXPECT_LT(goro::Clock::now() - t0, 10s);
  });
}

// A burst of due timers is readied only as the run queue has room for it (so woken
// goroutines do not overflow to the global queue), but timers must still progress when
// something else keeps the queue full: 300 goroutines yielding to each other on one P
// keep its ring crowded while 1,000 sleepers, due all at once, must all wake.
TEST(Sleep, TimersFireWhileTheRunQueueIsCrowded) {
  goro::run(goro::Config{.max_procs = 1}, [] {
    std::atomic<bool> stop{false};
    goro::WaitGroup spinners, sleepers;
    constexpr int kSpinners = 300, kSleepers = 1000;
    spinners.add(kSpinners);
    for (int i = 0; i < kSpinners; ++i) {
      goro::go([&] {
        while (!stop.load(std::memory_order_relaxed)) goro::yield();
        spinners.done();
      });
    }
    std::atomic<int> woke{0};
    sleepers.add(kSleepers);
    auto t0 = goro::Clock::now();
    for (int i = 0; i < kSleepers; ++i) {
      goro::go([&] {
        goro::sleep(5ms);
        woke++;
        sleepers.done();
      });
    }
    sleepers.wait();
    // Loose: each scheduling decision fires at least one due timer, so 1,000 wake-ups
    // take about 1,000 switches; a starved heap would never finish.
    EXPECT_LT(goro::Clock::now() - t0, 5s);
    EXPECT_EQ(woke.load(), kSleepers);
    stop = true;
    spinners.wait();
  });
}

// Timers still armed when run() ends: goro::after's state and channel are released (the
// ASan job's leak check sees them otherwise), a Timer or Ticker handle that outlives
// run() can still be stopped, and the next run() starts clean.
TEST(Timer, ArmedTimersAtTheEndOfRunAreReleased) {
  goro::Chan<goro::Clock::time_point> kept;
  std::optional<goro::Timer> outliving;
  goro::run([&] {
    (void)goro::after(1h);  // nobody waits for it
    kept = goro::after(1h);
    outliving.emplace(1h);
    goro::Ticker ticker(1h);
  });
  EXPECT_FALSE(outliving->stop());  // not armed any more: run() dropped it
  EXPECT_TRUE(kept.try_recv().would_block());  // it never fired, and is still usable
  outliving.reset();
  goro::run([] {
    auto ch = goro::after(1ms);
    EXPECT_TRUE(ch.recv().has_value());
  });
}

TEST(Timer, FiresStopsAndResets) {
  goro::run([] {
    goro::Timer t(10ms);
    auto v = t.channel().recv();
    ASSERT_TRUE(v.has_value());
    EXPECT_FALSE(t.stop());  // already fired

    goro::Timer t2(1h);
    EXPECT_TRUE(t2.stop());
    EXPECT_FALSE(t2.stop());
    EXPECT_TRUE(t2.channel().try_recv().would_block());
    EXPECT_FALSE(t2.reset(5ms));
    EXPECT_TRUE(t2.channel().recv().has_value());

    { goro::Timer dropped(1ms); }  // destroyed before firing: nothing happens
    goro::sleep(5ms);

    auto ch = goro::after(5ms);
    EXPECT_TRUE(ch.recv().has_value());
  });
}

TEST(Ticker, TicksAndDropsForSlowReceivers) {
  goro::run([] {
    goro::Ticker tk(5ms);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(tk.channel().recv().has_value());
    goro::sleep(50ms);  // ~10 ticks pass; the channel holds at most one
    EXPECT_TRUE(tk.channel().try_recv().received());
    tk.stop();
    goro::sleep(20ms);
    EXPECT_TRUE(tk.channel().try_recv().would_block());
    EXPECT_THROW(goro::Ticker(0ms), std::invalid_argument);
  });
}

TEST(Idle, SleepingRuntimeBurnsNoCpu) {
  goro::run(goro::Config{.max_procs = 2}, [] {
    goro::WaitGroup wg;
    wg.add(10);
    for (int i = 0; i < 10; ++i) goro::go([&] {
      goro::sleep(300ms);
      wg.done();
    });
    double c0 = cpu_seconds();
    auto t0 = goro::Clock::now();
    wg.wait();
    double used = cpu_seconds() - c0;
    EXPECT_GE(goro::Clock::now() - t0, 290ms);
    EXPECT_LT(used, 0.1) << "CPU seconds burnt while every goroutine slept";
  });
}

class Deadlock : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(Deadlock, AllGoroutinesAsleepIsFatal) {
  EXPECT_EXIT(goro::run(goro::Config{.max_procs = 2},
                        [] {
                          goro::WaitGroup never;
                          never.add(1);
                          goro::go([&] { never.wait(); });
                          never.wait();
                        }),
              ::testing::ExitedWithCode(2),
              "fatal error: all goroutines are asleep - deadlock!(.|\n)*goroutine 1 \\[");
}

TEST(DeadlockNot, SleepersAreNotDeadlocked) {
  goro::run(goro::Config{.max_procs = 2}, [] {
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {
      goro::sleep(50ms);
      wg.done();
    });
    wg.wait();
  });
}

}  // namespace

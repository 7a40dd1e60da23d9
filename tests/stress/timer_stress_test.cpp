// timer_stress_test.cpp — timers that fire as soon as they are armed, on several Ps.
//
// A sleep of a few microseconds is armed after the sleeper's switch (park's unlock step,
// on the M that switched away) and may fire on another M before the arming M has left
// the timer code; the goroutine it readies may then run on a third M and arm the same
// timer (its own, embedded in the goroutine) for its next sleep. Nothing in the arming
// path may touch the timer once it is in a heap. A plain run shows a lost or doubled
// wake-up (a hang, or a sleep that returns early); TSan shows a stray access (it found
// one: add_timer read the deadline after the insertion).
//
// The second test races stop() and reset() against firings that happen on other Ps: each
// arming of a Timer must end in exactly one of "stop() returned true" or "one value on
// the channel", never both, never neither (a hang), and never a value from an earlier
// arming. Under TSan it found a second fault: a firing that sends on its channel from
// the timer run that follows a switch (post_switch, under NoPreempt) went through the
// channel's cooperative preemption check, which switched the goroutine out right there,
// in the middle of the scheduler's work for its P.
//
// The third has consumers select between a channel and after(a few microseconds), so
// that timeouts race with sends all the time: every value sent is received exactly once,
// whether the select it lands in also had its timer fire or not.
//
// The fourth churns Tickers of 5-50 us periods (a periodic timer re-arms itself in the
// heap, under the heap's lock, while its owner stops or resets it from another P): ticks
// keep coming while a Ticker runs, and none comes after stop() has returned.
#include <goro/core/chan.hpp>
#include <goro/core/runtime.hpp>
#include <goro/core/select.hpp>
#include <goro/core/time.hpp>
#include <goro/core/wait_group.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>

#include "short_slices.hpp"
#include "stress_scale.hpp"

namespace {

const int kSleeps = static_cast<int>(goro_test::scaled(5000));

// Runs body(rng) in n goroutines on `procs` Ps and waits for them all; goroutine k's
// generator is seeded seed + k.
template <class F>
void run_goroutines(int procs, int n, unsigned seed, F body) {
  goro::run(goro::Config{.max_procs = procs}, [&] {
    goro::WaitGroup wg;
    for (int k = 0; k < n; ++k) {
      wg.add(1);
      goro::go([&, k] {
        std::mt19937 rng(seed + static_cast<unsigned>(k));
        body(rng);
        wg.done();
      });
    }
    wg.wait();
  });
}

TEST(TimerStress, MicrosecondSleepsOnFourPsNeverWakeEarlyOrGetLost) {
  constexpr int kGoroutines = 16;
  std::atomic<int> early{0};
  std::atomic<std::int64_t> done{0};
  run_goroutines(4, kGoroutines, 0, [&](std::mt19937& rng) {
    for (int i = 0; i < kSleeps; ++i) {
      auto d = std::chrono::microseconds(1 + rng() % 20);
      auto t0 = std::chrono::steady_clock::now();
      goro::sleep(d);
      // relaxed: counters read after run() returns
      if (std::chrono::steady_clock::now() - t0 < d) early.fetch_add(1, std::memory_order_relaxed);
      done.fetch_add(1, std::memory_order_relaxed);
    }
  });
  EXPECT_EQ(early.load(), 0);
  EXPECT_EQ(done.load(), static_cast<std::int64_t>(kGoroutines) * kSleeps);
}

const int kArmings = 4 * kSleeps;

TEST(TimerStress, EachArmingEndsInOneStopOrOneValueAcrossFourPs) {
  constexpr int kGoroutines = 16;
  std::atomic<std::int64_t> stopped{0}, fired{0}, stale{0}, extra{0};
  run_goroutines(4, kGoroutines, 1000, [&](std::mt19937& rng) {
    goro::Timer t(std::chrono::hours(1));
    // relaxed: counters read after run() returns
    if (t.stop()) stopped.fetch_add(1, std::memory_order_relaxed);
    for (int i = 0; i < kArmings; ++i) {
      const auto armed = goro::Clock::now();
      t.reset(std::chrono::microseconds(rng() % 30));  // stopped or drained: returns false
      // Let it fire, or not: spin, yield or sleep a little, then stop it.
      switch (rng() % 4) {
        case 0:
          break;
        case 1:
          goro::yield();
          break;
        case 2:
          goro::sleep(std::chrono::microseconds(rng() % 30));
          break;
        default:
          for (int s = 0; s < 200; ++s) std::atomic_signal_fence(std::memory_order_seq_cst);
          break;
      }
      if (t.stop()) {
        stopped.fetch_add(1, std::memory_order_relaxed);
      } else {
        // It fired (maybe still firing on another P): its one value must come.
        std::optional<goro::Clock::time_point> v = t.channel().recv();
        fired.fetch_add(1, std::memory_order_relaxed);
        if (!v || *v < armed) stale.fetch_add(1, std::memory_order_relaxed);
      }
      if (t.channel().try_recv()) extra.fetch_add(1, std::memory_order_relaxed);
    }
  });
  EXPECT_EQ(stale.load(), 0);
  EXPECT_EQ(extra.load(), 0);
  EXPECT_EQ(stopped.load() + fired.load(), static_cast<std::int64_t>(kGoroutines) * (kArmings + 1));
  std::printf("[ %lld stopped, %lld fired ]\n", static_cast<long long>(stopped.load()),
              static_cast<long long>(fired.load()));
  EXPECT_GT(fired.load(), 0);
  EXPECT_GT(stopped.load(), kGoroutines);
}

TEST(TimerStress, SelectsWithTimeoutsLoseAndDoubleNothing) {
  constexpr int kProducers = 4, kConsumers = 12;
  const std::int64_t kPerProducer = kArmings;
  std::atomic<std::int64_t> received_sum{0}, received{0}, timeouts{0};
  goro::run(goro::Config{.max_procs = 4}, [&] {
    goro::Chan<std::int64_t> ch(0);  // unbuffered: each send meets one select
    goro::WaitGroup producers, consumers;
    for (int k = 0; k < kProducers; ++k) {
      producers.add(1);
      goro::go([&, k] {
        std::mt19937 rng(static_cast<unsigned>(3000 + k));
        for (std::int64_t i = 0; i < kPerProducer; ++i) {
          // Pauses now and then, so that the consumers' timeouts fire about as often as
          // values arrive.
          if (rng() % 4 == 0) goro::sleep(std::chrono::microseconds(rng() % 20));
          ch.send(k * kPerProducer + i + 1);
        }
        producers.done();
      });
    }
    for (int k = 0; k < kConsumers; ++k) {
      consumers.add(1);
      goro::go([&, k] {
        std::mt19937 rng(static_cast<unsigned>(2000 + k));
        for (bool open = true; open;) {
          goro::select(goro::recv(ch,
                                  [&](std::optional<std::int64_t> v) {
                                    if (!v) {
                                      open = false;
                                      return;
                                    }
                                    // relaxed: totals read after the WaitGroups
                                    received_sum.fetch_add(*v, std::memory_order_relaxed);
                                    received.fetch_add(1, std::memory_order_relaxed);
                                  }),
                       goro::recv(goro::after(std::chrono::microseconds(rng() % 20)),
                                  [&] { timeouts.fetch_add(1, std::memory_order_relaxed); }));
        }
        consumers.done();
      });
    }
    producers.wait();
    ch.close();
    consumers.wait();
  });
  const std::int64_t n = kProducers * kPerProducer;
  EXPECT_EQ(received.load(), n);
  EXPECT_EQ(received_sum.load(), n * (n + 1) / 2);
  EXPECT_GT(timeouts.load(), 0);
  std::printf("[ %lld values, %lld timeouts ]\n", static_cast<long long>(received.load()),
              static_cast<long long>(timeouts.load()));
}

using goro_test::ShortSlices;  // 50 us slices: preemption requests all the time

// With short slices: a periodic timer's callback runs under its heap's Lock, and its
// channel send used to honour a preemption request there, switching out with the Lock
// held: the next check_timers of that heap waited for a Lock whose holder sat in the
// global queue (on one P, forever).
void tickers_reset_and_stopped(int procs) {
  ShortSlices slices;
  constexpr int kGoroutines = 16;
  const int kRounds = kSleeps / 2;
  std::atomic<std::int64_t> ticks{0}, after_stop{0}, missing{0};
  run_goroutines(procs, kGoroutines, 4000, [&](std::mt19937& rng) {
    auto period = [&] { return std::chrono::microseconds(5 + rng() % 46); };
    goro::Ticker tk(period());
    for (int r = 0; r < kRounds; ++r) {
      for (int n = 1 + static_cast<int>(rng() % 3); n > 0; --n) {
        // A tick is due within a period; 1 s means it got lost.
        std::size_t i = goro::select(goro::recv(tk.channel()),
                                     goro::recv(goro::after(std::chrono::seconds(1))));
        // relaxed: counters read after run() returns
        (i == 0 ? ticks : missing).fetch_add(1, std::memory_order_relaxed);
      }
      if (rng() % 2 == 0) {
        tk.reset(period());  // re-armed while it may be firing on another P
        continue;
      }
      tk.stop();
      (void)tk.channel().try_recv();  // a tick sent before the stop may wait there
      goro::sleep(std::chrono::microseconds(60 + rng() % 40));  // > any period
      if (tk.channel().try_recv()) after_stop.fetch_add(1, std::memory_order_relaxed);
      tk.reset(period());
    }
  });
  EXPECT_EQ(after_stop.load(), 0);
  EXPECT_EQ(missing.load(), 0);
  EXPECT_GT(ticks.load(), kGoroutines * kRounds);
}

TEST(TimerStress, TickersResetAndStoppedWhileTickingOnOneP) { tickers_reset_and_stopped(1); }
TEST(TimerStress, TickersResetAndStoppedWhileTickingOnFourPs) { tickers_reset_and_stopped(4); }

}  // namespace

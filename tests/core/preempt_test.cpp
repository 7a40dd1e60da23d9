// Preemption: a goroutine that never yields cannot starve the others on its P —
// whether it loops in its own code (asynchronous stop by signal), or inside libc (the
// backstop hands its P off), and a preempted computation gives bit-identical results.
#include <goro/core/time.hpp>
#include <goro/goro.hpp>

#include <gtest/gtest.h>
#include <immintrin.h>
#include <malloc.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <vector>

#include "g.hpp"
#include "preempt.hpp"
#include "sched.hpp"

using namespace std::chrono_literals;

namespace {

bool sanitized() {
#if GORO_ASAN || GORO_TSAN
  return true;
#else
  return false;
#endif
}

// Runs hog() in one goroutine for `for_` while another sleeps 1 ms in a loop, with one
// P; returns the sleeper's worst lateness.
template <class Hog>
std::chrono::nanoseconds worst_lateness_behind(Hog hog, std::chrono::milliseconds for_) {
  std::chrono::nanoseconds worst{0};
  goro::run(goro::Config{.max_procs = 1}, [&] {
    std::atomic<bool> stop{false};
    goro::WaitGroup wg;
    wg.add(2);
    goro::go([&] {
      hog(stop);
      wg.done();
    });
    goro::go([&] {
      auto end = goro::Clock::now() + for_;
      while (goro::Clock::now() < end) {
        auto t0 = goro::Clock::now();
        goro::sleep(1ms);
        auto late = goro::Clock::now() - t0 - 1ms;
        if (late > worst) worst = std::chrono::duration_cast<std::chrono::nanoseconds>(late);
      }
      stop = true;
      wg.done();
    });
    wg.wait();
  });
  return worst;
}

volatile std::uint64_t g_sink;

TEST(Preempt, CallFreeLoopDoesNotStarveASleeper) {
  if (sanitized()) GTEST_SKIP() << "signal preemption is off under sanitizers";
  auto before = goro::detail::preempt_stats();
  auto worst = worst_lateness_behind(
      [](std::atomic<bool>& stop) {
        std::uint64_t x = 1;
        // No calls: only an asynchronous stop (or the backstop) can interrupt this.
        while (!stop.load(std::memory_order_relaxed)) x = x * 6364136223846793005ull + 1;
        g_sink = x;
      },
      2000ms);
  EXPECT_LT(worst, 200ms) << "sleeper starved: " << worst.count() / 1e6 << " ms";
  auto after = goro::detail::preempt_stats();
  if (goro::detail::async_preempt_enabled()) EXPECT_GT(after.async, before.async);
}

TEST(Preempt, HogInsideLibcIsBackstoppedAndHeapStaysSound) {
  if (sanitized()) GTEST_SKIP() << "signal preemption is off under sanitizers";
  auto before = goro::detail::preempt_stats();
  std::uint64_t checksum = 0;
  auto worst = worst_lateness_behind(
      [&](std::atomic<bool>& stop) {
        std::vector<char> a(1 << 20, 'a'), b(1 << 20);
        std::uint64_t sum = 0;
        while (!stop.load(std::memory_order_relaxed)) {
          std::memcpy(b.data(), a.data(), a.size());
          sum += std::strlen(static_cast<const char*>(b.data() + b.size() - 16)) > 0;
          // malloc/free churn inside libc, heap verified by contents
          for (int i = 0; i < 64; ++i) {
            char* p = static_cast<char*>(std::malloc(64 + i * 32));
            std::memset(p, i, 64 + i * 32);
            sum += static_cast<unsigned char>(p[63 + i * 32]);
            std::free(p);
          }
        }
        checksum = sum;
      },
      2000ms);
  EXPECT_LT(worst, 200ms) << "sleeper starved: " << worst.count() / 1e6 << " ms";
  EXPECT_GT(checksum, 0u);
  EXPECT_EQ(mallopt(M_CHECK_ACTION, 3), 1);
  auto after = goro::detail::preempt_stats();
  EXPECT_GT(after.async + after.detached, before.async + before.detached);
}

// The same floating-point and SIMD computation, alone and preempted thousands of times
// (a competing goroutine forces a switch every slice): results must be bit-identical.
// All in the program's own code (no libm calls), so stops are asynchronous ones.
double fp_work(std::uint64_t n) {
  __m128d acc = _mm_set1_pd(1.0);
  double s = 0.0;
  for (std::uint64_t i = 1; i <= n; ++i) {
    double d = static_cast<double>(i);
    __m128d v = _mm_sqrt_pd(_mm_set_pd(d, 1.0 / d));
    acc = _mm_add_pd(_mm_mul_pd(acc, _mm_set1_pd(0.999999)), v);
    double x = d * 1e-3;
    s += (x - x * x * x / 6.0 + x * x * x * x * x / 120.0) * 1e-12;
  }
  double out[2];
  _mm_storeu_pd(out, acc);
  return out[0] + out[1] + s;
}

TEST(Preempt, RegistersSurviveBitForBit) {
  if (sanitized()) GTEST_SKIP() << "signal preemption is off under sanitizers";
  constexpr std::uint64_t kN = 150'000'000;
  double alone = fp_work(kN);
  auto before = goro::detail::preempt_stats();
  ::setenv("GORO_DEBUG", "preemptus=200", 1);  // a 0.2 ms slice: thousands of stops
  double a = 0, b = 0;
  goro::run(goro::Config{.max_procs = 1}, [&] {
    goro::WaitGroup wg;
    wg.add(2);
    goro::go([&] {
      a = fp_work(kN);
      wg.done();
    });
    goro::go([&] {
      b = fp_work(kN);
      wg.done();
    });
    wg.wait();
  });
  ::unsetenv("GORO_DEBUG");
  auto after = goro::detail::preempt_stats();
  std::uint64_t bits_alone, bits_a, bits_b;
  std::memcpy(&bits_alone, &alone, 8);
  std::memcpy(&bits_a, &a, 8);
  std::memcpy(&bits_b, &b, 8);
  EXPECT_EQ(bits_a, bits_alone);
  EXPECT_EQ(bits_b, bits_alone);
  if (goro::detail::async_preempt_enabled()) {
    EXPECT_GT(after.async - before.async, 1000u) << "the computations were hardly preempted";
  }
}

TEST(Preempt, CooperativePointYields) {
  goro::run(goro::Config{.max_procs = 1}, [] {
    std::atomic<bool> other_ran{false};
    goro::go([&] { other_ran = true; });
    auto end = goro::Clock::now() + 2s;
    while (!other_ran && goro::Clock::now() < end) goro::preempt_point();
    EXPECT_TRUE(other_ran.load());
  });
}

}  // namespace

namespace {

// Two goroutines trading runnext forever (an unbuffered ping-pong) share one time slice;
// when it is used up, a goroutine waiting in the global queue gets the P.
TEST(Preempt, RunnextPairDoesNotStarveTheGlobalQueue) {
  goro::run(goro::Config{.max_procs = 1}, [] {
    std::atomic<bool> stop{false};
    goro::Chan<int> ping(0), pong(0);
    goro::WaitGroup pair;
    pair.add(2);
    goro::go([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        ping.send(1);
        pong.recv();
      }
      ping.close();
      pair.done();
    });
    goro::go([&] {
      while (ping.recv()) pong.send(1);
      pair.done();
    });
    goro::yield();  // let the pair get going
    std::atomic<bool> ran{false};
    auto t0 = goro::Clock::now();
    void* storage;
    using namespace goro::detail;
    G* g = new_g(sizeof(void*), alignof(void*), [](void* fn) {
      (*static_cast<std::atomic<bool>**>(fn))->store(true);
    }, &storage);
    ::new (storage) std::atomic<bool>*(&ran);
    globrunq_put_for_test(g);
    while (!ran.load() && goro::Clock::now() - t0 < 5s) goro::sleep(1ms);
    auto waited = goro::Clock::now() - t0;
    stop = true;
    pair.wait();
    EXPECT_TRUE(ran.load());
    EXPECT_LT(waited, 200ms) << "the runnext pair kept the P";
  });
}

// A goroutine whose channel operations never park (buffer room, a ready partner) is
// still stopped cooperatively: each operation is a runtime entry that honours sysmon's
// request, so with asynchronous preemption off the backstop never has to act.
TEST(Preempt, ChannelOperationsThatDoNotParkArePreemptionPoints) {
  ::setenv("GORO_DEBUG", "asyncpreemptoff=1", 1);
  auto before = goro::detail::preempt_stats();
  auto worst = worst_lateness_behind(
      [](std::atomic<bool>& stop) {
        goro::Chan<int> ch(1);
        while (!stop.load(std::memory_order_relaxed)) {
          ch.try_send(1);
          (void)ch.try_recv();
        }
      },
      500ms);
  ::unsetenv("GORO_DEBUG");
  auto after = goro::detail::preempt_stats();
  EXPECT_EQ(after.async, before.async);
  EXPECT_EQ(after.detached, before.detached) << "the backstop had to act";
  EXPECT_LT(worst, 200ms) << "sleeper starved: " << worst.count() / 1e6 << " ms";
}

TEST(Preempt, AsyncOffLeavesCooperativeAndBackstop) {
  if (sanitized()) GTEST_SKIP() << "signal preemption is off under sanitizers";
  ::setenv("GORO_DEBUG", "asyncpreemptoff=1", 1);
  auto before = goro::detail::preempt_stats();
  auto worst = worst_lateness_behind(
      [](std::atomic<bool>& stop) {
        std::uint64_t x = 1;
        while (!stop.load(std::memory_order_relaxed)) x = x * 6364136223846793005ull + 1;
        g_sink = x;
      },
      1000ms);
  ::unsetenv("GORO_DEBUG");
  auto after = goro::detail::preempt_stats();
  EXPECT_EQ(after.async, before.async);
  EXPECT_GT(after.detached, before.detached);
  EXPECT_LT(worst, 200ms) << "sleeper starved: " << worst.count() / 1e6 << " ms";
}

// Many call-free hogs preempted over and over while channel users pass messages, 2 Ps:
// every message arrives exactly once.
TEST(Preempt, HeavyPreemptionLosesNothing) {
#if GORO_TSAN
  // TSan defers signals to its own safe points, so goro installs no SIGURG handler
  // there: call-free hogs on every P can be neither stopped nor backstopped.
  GTEST_SKIP() << "no signal preemption under TSan: call-free hogs keep their Ps";
#endif
  goro::run(goro::Config{.max_procs = 2}, [] {
    std::atomic<bool> stop{false};
    goro::WaitGroup hogs;
    for (int h = 0; h < 4; ++h) {
      hogs.add(1);
      goro::go([&] {
        std::uint64_t x = 1;
        while (!stop.load(std::memory_order_relaxed)) x = x * 6364136223846793005ull + 1;
        g_sink = x;
        hogs.done();
      });
    }
    // Producers send for two seconds (several seconds of hogging in all).
    constexpr int kProducers = 4, kMaxPer = 4'000'000;
    goro::Chan<int> ch(16);
    std::vector<std::atomic<std::uint8_t>> seen(static_cast<std::size_t>(kProducers) * kMaxPer);
    std::atomic<long> sent{0};
    auto until = goro::Clock::now() + 2s;
    goro::WaitGroup producers, consumers;
    for (int p = 0; p < kProducers; ++p) {
      producers.add(1);
      goro::go([&, p] {
        int i = 0;
        for (; i < kMaxPer && (i % 256 != 0 || goro::Clock::now() < until); ++i) {
          ch.send(p * kMaxPer + i);
        }
        sent += i;
        producers.done();
      });
    }
    std::atomic<long> received{0};
    for (int c = 0; c < 4; ++c) {
      consumers.add(1);
      goro::go([&] {
        while (auto v = ch.recv()) {
          seen[static_cast<std::size_t>(*v)].fetch_add(1);
          received++;
        }
        consumers.done();
      });
    }
    producers.wait();
    ch.close();
    consumers.wait();
    stop = true;
    hogs.wait();
    EXPECT_EQ(received.load(), sent.load());
    EXPECT_GT(sent.load(), 1000);
    long twice = 0;
    for (auto& x : seen) twice += x.load() > 1;
    EXPECT_EQ(twice, 0);
  });
}

}  // namespace

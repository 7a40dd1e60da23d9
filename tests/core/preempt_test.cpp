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

#include "preempt.hpp"

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

// preempt_bench — goro's side of `loadtest/compare.sh preempt` (Go's: loadtest/go/preempt).
//
//   preempt_bench sleeper max|p99 [MS]  a goroutine in a call-free loop and a sleeper
//                                       waking every 1 ms share one P for MS ms (2000);
//                                       prints the sleeper's max or p99 lateness in us
//   preempt_bench cpu [N]               one CPU-bound goroutine (N LCG steps, 2e9):
//                                       prints its run time in ms (run it with and
//                                       without GORO_DEBUG=asyncpreemptoff=1)
#include <goro/goro.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

volatile std::uint64_t g_sink;

int sleeper(const char* metric, long ms) {
  std::vector<double> late_us;
  late_us.reserve(static_cast<std::size_t>(ms) + 16);
  goro::run(goro::Config{.max_procs = 1}, [&] {
    std::atomic<bool> stop{false};
    goro::WaitGroup wg;
    wg.add(2);
    goro::go([&] {
      std::uint64_t x = 1;
      while (!stop.load(std::memory_order_relaxed)) x = x * 6364136223846793005ull + 1;
      g_sink = x;
      wg.done();
    });
    goro::go([&] {
      auto end = goro::Clock::now() + std::chrono::milliseconds(ms);
      while (goro::Clock::now() < end) {
        auto t0 = goro::Clock::now();
        goro::sleep(std::chrono::milliseconds(1));
        auto late = goro::Clock::now() - t0 - std::chrono::milliseconds(1);
        late_us.push_back(std::chrono::duration<double, std::micro>(late).count());
      }
      stop = true;
      wg.done();
    });
    wg.wait();
  });
  std::sort(late_us.begin(), late_us.end());
  double v = 0;
  if (!late_us.empty()) {
    if (std::strcmp(metric, "max") == 0) {
      v = late_us.back();
    } else {
      v = late_us[static_cast<std::size_t>(0.99 * static_cast<double>(late_us.size() - 1))];
    }
  }
  std::printf("%.0f\ninfo samples %zu\n", v, late_us.size());
  return 0;
}

int cpu(long long n) {
  double ms = 0;
  goro::run(goro::Config{.max_procs = 1}, [&] {
    auto t0 = goro::Clock::now();
    std::uint64_t x = 1;
    for (long long i = 0; i < n; ++i) x = x * 6364136223846793005ull + 1;
    g_sink = x;
    ms = std::chrono::duration<double, std::milli>(goro::Clock::now() - t0).count();
  });
  std::printf("%.1f\n", ms);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::strcmp(argv[1], "sleeper") == 0) {
    return sleeper(argv[2], argc >= 4 ? std::atol(argv[3]) : 2000);
  }
  if (argc >= 2 && std::strcmp(argv[1], "cpu") == 0) {
    return cpu(argc >= 3 ? std::atoll(argv[2]) : 2'000'000'000LL);
  }
  std::fprintf(stderr, "usage: preempt_bench sleeper max|p99 [MS] | cpu [N]\n");
  return 2;
}

// sync_bench — goro's side of the "sync" benchmark suite (loadtest/compare.sh sync).
//
//   sync_bench CASE [N]
//
// Runs one case inside goro::run and prints its figure alone on the first line of
// standard output; later lines "info NAME VALUE" carry informational figures.
// loadtest/go/sync/main.go does the same work in Go with the same interface. The number
// of Ps comes from the environment (GORO_MAXPROCS), as Go's from GOMAXPROCS.
//
// Cases (N overrides the default size):
//   pingpong    round trips/s: two goroutines pass an int back and forth over two
//               unbuffered channels, N (1,000,000) round trips.
//   buffered    messages/s: one producer sends N (10,000,000) ints into a channel of
//               capacity 128 and closes it; one consumer receives until closed.
//   mutex       lock/unlock pairs/s: 4 goroutines each lock a shared Mutex, increment a
//               shared counter and unlock, N (2,000,000) times each.
//   sleep_wall  ms: N (100,000) goroutines each sleep 10 ms once; the time from the first
//               spawn until the last has finished. info late_p99_us, late_max_us.
//   sleep_late  us: the same run, reporting the p99 of each goroutine's lateness (wake-up
//               time minus the time its 10 ms sleep was due). info wall_ms, late_max_us.
//
// Only the work is timed, not the runtime's start-up or shutdown, on both sides.
#include <goro/goro.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "sync_bench: %s\n", what);
  std::exit(1);
}

double pingpong(std::int64_t n) {
  goro::Chan<int> ping(0), pong(0);
  goro::WaitGroup wg;
  wg.add(2);
  const auto start = Clock::now();
  goro::go([&] {
    for (std::int64_t i = 0; i < n; ++i) {
      ping.send(1);
      if (!pong.recv()) fail("pong closed");
    }
    wg.done();
  });
  goro::go([&] {
    for (std::int64_t i = 0; i < n; ++i) {
      std::optional<int> v = ping.recv();
      if (!v) fail("ping closed");
      pong.send(*v + 1);
    }
    wg.done();
  });
  wg.wait();
  return static_cast<double>(n) / seconds_since(start);
}

double buffered(std::int64_t n) {
  goro::Chan<std::int64_t> ch(128);
  goro::WaitGroup wg;
  wg.add(2);
  std::int64_t sum = 0;
  const auto start = Clock::now();
  goro::go([&] {
    for (std::int64_t i = 0; i < n; ++i) ch.send(i);
    ch.close();
    wg.done();
  });
  goro::go([&] {
    for (std::int64_t v : ch) sum += v;
    wg.done();
  });
  wg.wait();
  const double rate = static_cast<double>(n) / seconds_since(start);
  if (sum != n * (n - 1) / 2) fail("buffered: lost or duplicated messages");
  return rate;
}

double mutex(std::int64_t n) {
  constexpr int kGoroutines = 4;
  goro::Mutex mu;
  std::int64_t counter = 0;  // guarded by mu
  goro::WaitGroup wg;
  wg.add(kGoroutines);
  const auto start = Clock::now();
  for (int k = 0; k < kGoroutines; ++k) {
    goro::go([&] {
      for (std::int64_t i = 0; i < n; ++i) {
        mu.lock();
        ++counter;
        mu.unlock();
      }
      wg.done();
    });
  }
  wg.wait();
  const double rate = static_cast<double>(kGoroutines * n) / seconds_since(start);
  if (counter != kGoroutines * n) fail("mutex: lost increments");
  return rate;
}

struct Sleepers {
  double wall_ms;
  double late_p99_us;
  double late_max_us;
};

Sleepers sleepers(std::int64_t n) {
  const auto nsz = static_cast<std::size_t>(n);
  std::vector<std::int64_t> late_ns(nsz);  // slot i written by goroutine i only
  goro::WaitGroup wg;
  wg.add(n);
  const auto start = Clock::now();
  for (std::size_t i = 0; i < nsz; ++i) {
    goro::go([&, i] {
      const auto due = Clock::now() + 10ms;
      goro::sleep(10ms);
      late_ns[i] = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - due).count();
      wg.done();
    });
  }
  wg.wait();
  const double wall_ms = seconds_since(start) * 1e3;
  std::sort(late_ns.begin(), late_ns.end());
  const std::size_t p99 = std::min(nsz - 1, nsz * 99 / 100);
  return {wall_ms, static_cast<double>(late_ns[p99]) / 1e3,
          static_cast<double>(late_ns.back()) / 1e3};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: sync_bench pingpong|buffered|mutex|sleep_wall|sleep_late [N]\n");
    return 2;
  }
  const std::string name = argv[1];
  std::int64_t n = 0;
  if (argc == 3) {
    char* end = nullptr;
    n = std::strtoll(argv[2], &end, 10);
    if (*end != '\0' || n <= 0) fail("bad N");
  }
  auto or_default = [n](std::int64_t d) { return n > 0 ? n : d; };

  int rc = 0;
  if (name == "pingpong") {
    double rate = 0;
    rc = goro::run([&] { rate = pingpong(or_default(1'000'000)); });
    std::printf("%.0f\n", rate);
  } else if (name == "buffered") {
    double rate = 0;
    rc = goro::run([&] { rate = buffered(or_default(10'000'000)); });
    std::printf("%.0f\n", rate);
  } else if (name == "mutex") {
    double rate = 0;
    rc = goro::run([&] { rate = mutex(or_default(2'000'000)); });
    std::printf("%.0f\n", rate);
  } else if (name == "sleep_wall" || name == "sleep_late") {
    Sleepers s{};
    rc = goro::run([&] { s = sleepers(or_default(100'000)); });
    if (name == "sleep_wall") {
      std::printf("%.2f\ninfo late_p99_us %.1f\ninfo late_max_us %.1f\n", s.wall_ms, s.late_p99_us,
                  s.late_max_us);
    } else {
      std::printf("%.1f\ninfo wall_ms %.2f\ninfo late_max_us %.1f\n", s.late_p99_us, s.wall_ms,
                  s.late_max_us);
    }
  } else {
    std::fprintf(stderr, "sync_bench: unknown case '%s'\n", name.c_str());
    return 2;
  }
  return rc;
}

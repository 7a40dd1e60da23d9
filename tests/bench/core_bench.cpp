// core_bench — goro's side of the "core" benchmark suite (loadtest/compare.sh core).
//
//   core_bench CASE [N]
//
// Runs one case inside goro::run and prints its figure alone on the first line of
// standard output; optional later lines "info NAME VALUE" carry informational figures.
// loadtest/go/core/main.go does the same work in Go with the same interface, so the two
// can be run side by side with the same GORO_MAXPROCS / GOMAXPROCS and CPU pinning.
// The number of Ps comes from the environment (GORO_MAXPROCS), as Go's from GOMAXPROCS.
//
// Cases (N overrides the default size):
//   spawn_join      goroutines/s: spawn N (1,000,000) goroutines from main, each calling
//                   done() on a shared WaitGroup, then wait() for all of them.
//   yield_pingpong  ns per switch: two goroutines each call goro::yield() N (2,000,000)
//                   times; elapsed / (2N).
//   parked_rss      bytes per goroutine: the VmRSS delta with N (1,000,000) goroutines
//                   parked at once on a shared WaitGroup; "info pte_bytes" is the VmPTE
//                   (page table) delta per goroutine.
//
// Only the work is timed, not the runtime's start-up or shutdown, on both sides.
#include <goro/goro.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "core_bench: %s\n", what);
  std::exit(1);
}

double spawn_join(std::int64_t n) {
  goro::WaitGroup wg;
  const auto start = Clock::now();
  wg.add(n);
  for (std::int64_t i = 0; i < n; ++i) {
    goro::go([&wg] { wg.done(); });
  }
  wg.wait();
  return static_cast<double>(n) / seconds_since(start);
}

double yield_pingpong(std::int64_t n) {
  goro::WaitGroup wg;
  wg.add(2);
  const auto start = Clock::now();
  for (int k = 0; k < 2; ++k) {
    goro::go([&wg, n] {
      for (std::int64_t i = 0; i < n; ++i) {
        goro::yield();
      }
      wg.done();
    });
  }
  wg.wait();
  return seconds_since(start) * 1e9 / static_cast<double>(2 * n);
}

// A "Name:   123 kB" field of /proc/self/status, in bytes.
std::int64_t proc_status_bytes(const char* field) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) fail("cannot open /proc/self/status");
  char line[256];
  const std::size_t len = std::strlen(field);
  std::int64_t bytes = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, field, len) == 0 && line[len] == ':') {
      bytes = std::strtoll(line + len + 1, nullptr, 10) * 1024;
      break;
    }
  }
  std::fclose(f);
  if (bytes < 0) fail("field missing in /proc/self/status");
  return bytes;
}

struct Parked {
  double rss_per_g;
  double pte_per_g;
};

Parked parked_rss(std::int64_t n) {
  goro::WaitGroup ready;   // every goroutine has started
  goro::WaitGroup gate;    // main releases them all at once
  goro::WaitGroup exited;  // every goroutine has finished
  const std::int64_t rss0 = proc_status_bytes("VmRSS");
  const std::int64_t pte0 = proc_status_bytes("VmPTE");
  ready.add(n);
  gate.add(1);
  exited.add(n);
  for (std::int64_t i = 0; i < n; ++i) {
    goro::go([&] {
      ready.done();
      gate.wait();
      exited.done();
    });
  }
  ready.wait();
  // The last goroutine to call ready.done() may not have parked yet; let it.
  for (int i = 0; i < 16; ++i) goro::yield();
  const std::int64_t rss1 = proc_status_bytes("VmRSS");
  const std::int64_t pte1 = proc_status_bytes("VmPTE");
  gate.done();
  exited.wait();
  return {static_cast<double>(rss1 - rss0) / static_cast<double>(n),
          static_cast<double>(pte1 - pte0) / static_cast<double>(n)};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: core_bench spawn_join|yield_pingpong|parked_rss [N]\n");
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
  if (name == "spawn_join") {
    double rate = 0;
    rc = goro::run([&] { rate = spawn_join(or_default(1'000'000)); });
    std::printf("%.0f\n", rate);
  } else if (name == "yield_pingpong") {
    double ns = 0;
    rc = goro::run([&] { ns = yield_pingpong(or_default(2'000'000)); });
    std::printf("%.2f\n", ns);
  } else if (name == "parked_rss") {
    Parked p{};
    rc = goro::run([&] { p = parked_rss(or_default(1'000'000)); });
    std::printf("%.1f\ninfo pte_bytes %.1f\n", p.rss_per_g, p.pte_per_g);
  } else {
    std::fprintf(stderr, "core_bench: unknown case '%s'\n", name.c_str());
    return 2;
  }
  return rc;
}

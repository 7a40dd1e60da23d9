// hello — goro's core in one screen: goroutines, a WaitGroup, yield.
//
// Counts the primes below a limit twice: once split over many goroutines, which the
// runtime spreads over its Ps (one per CPU, or GORO_MAXPROCS), and once sequentially in
// the main goroutine, then checks that the two agree and shows who did what.
//
//   $ hello --goroutines 4 --limit 300000
//   goro: 2 procs (max_procs), main goroutine id 1
//   goro: 5 goroutines alive after spawning
//   goroutine   2: [        2,     75001)    7393 primes, 1 OS thread
//   ...
//   primes below 300000: 25997 in 4 goroutines on 2 OS threads, 0.007s
//   sequential check: 25997 in 0.013s (speed-up 1.83x on 2 procs)
#include <goro/goro.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr char kUsage[] =
    "usage: hello [--goroutines N] [--limit N] [--procs N]\n"
    "\n"
    "Counts the primes below LIMIT in N goroutines running on goro's scheduler, checks\n"
    "the result against a sequential count, and prints which goroutine did what.\n"
    "\n"
    "  --goroutines N  goroutines to split the work over (default 16)\n"
    "  --limit N       count primes in [2, N) (default 2000000)\n"
    "  --procs N       Ps to run on (default: GORO_MAXPROCS, else the CPUs available)\n"
    "  --help          this text\n"
    "\n"
    "Environment: GORO_MAXPROCS, GORO_STACK_SIZE, GORO_MAXTHREADS,\n"
    "GORO_DEBUG=randomize=1 (randomize scheduling choices).\n";

struct Options {
  int goroutines = 16;
  std::int64_t limit = 2'000'000;
  int procs = 0;  // 0: let the runtime decide
};

// What one worker goroutine reports back. Written by that goroutine only, read by the
// main goroutine after WaitGroup::wait (which orders the writes before the reads).
struct Part {
  std::uint64_t goroutine_id = 0;
  std::int64_t lo = 0;
  std::int64_t hi = 0;
  std::int64_t primes = 0;
  std::set<std::thread::id> threads;  // OS threads this goroutine ran on
};

bool is_prime(std::int64_t n) {
  if (n < 2) return false;
  if (n % 2 == 0) return n == 2;
  for (std::int64_t d = 3; d * d <= n; d += 2) {
    if (n % d == 0) return false;
  }
  return true;
}

// Counts primes in [lo, hi). Yields every few thousand numbers so goroutines sharing a P
// take turns, and notes each OS thread it finds itself on (goroutines can move).
std::int64_t count_primes(std::int64_t lo, std::int64_t hi, std::set<std::thread::id>* threads) {
  std::int64_t count = 0;
  for (std::int64_t n = lo; n < hi; ++n) {
    if (is_prime(n)) ++count;
    if ((n & 4095) == 0) {
      if (threads) threads->insert(std::this_thread::get_id());
      goro::yield();
    }
  }
  if (threads) threads->insert(std::this_thread::get_id());
  return count;
}

bool parse_int(const char* s, std::int64_t min, std::int64_t* out) {
  char* end = nullptr;
  long long v = std::strtoll(s, &end, 10);
  if (end == s || *end != '\0' || v < min) return false;
  *out = v;
  return true;
}

// Returns 0 to go on, -1 after printing --help, else the exit status for a bad argument.
int parse_args(int argc, char** argv, Options* opt) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return -1;
    }
    std::int64_t v = 0;
    bool ok = i + 1 < argc;
    if (ok && arg == "--goroutines") {
      ok = parse_int(argv[++i], 1, &v) && v <= 100000;
      opt->goroutines = static_cast<int>(v);
    } else if (ok && arg == "--limit") {
      ok = parse_int(argv[++i], 2, &v);
      opt->limit = v;
    } else if (ok && arg == "--procs") {
      ok = parse_int(argv[++i], 1, &v) && v <= 1024;
      opt->procs = static_cast<int>(v);
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "hello: bad argument '%s'\n\n%s", arg.c_str(), kUsage);
      return 2;
    }
  }
  return 0;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int hello(const Options& opt) {
  std::printf("goro: %d procs (max_procs), main goroutine id %llu\n", goro::max_procs(),
              static_cast<unsigned long long>(goro::goroutine_id()));

  // Parallel: one goroutine per slice of [2, limit).
  auto start = std::chrono::steady_clock::now();
  std::vector<Part> parts(static_cast<std::size_t>(opt.goroutines));
  const std::int64_t span = opt.limit - 2;
  goro::WaitGroup wg;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    Part& part = parts[i];
    part.lo = 2 + span * static_cast<std::int64_t>(i) / opt.goroutines;
    part.hi = 2 + span * static_cast<std::int64_t>(i + 1) / opt.goroutines;
    wg.add(1);
    goro::go([&part, &wg] {
      part.goroutine_id = goro::goroutine_id();
      part.primes = count_primes(part.lo, part.hi, &part.threads);
      wg.done();
    });
  }
  std::printf("goro: %lld goroutines alive after spawning\n",
              static_cast<long long>(goro::num_goroutines()));
  wg.wait();
  const double parallel_s = seconds_since(start);

  std::int64_t total = 0;
  std::set<std::thread::id> all_threads;
  for (const Part& part : parts) {
    std::printf("goroutine %3llu: [%9lld, %9lld) %7lld primes, %zu OS thread%s\n",
                static_cast<unsigned long long>(part.goroutine_id), static_cast<long long>(part.lo),
                static_cast<long long>(part.hi), static_cast<long long>(part.primes),
                part.threads.size(), part.threads.size() == 1 ? "" : "s");
    total += part.primes;
    all_threads.insert(part.threads.begin(), part.threads.end());
  }

  // Sequential, in the main goroutine, as the reference.
  start = std::chrono::steady_clock::now();
  const std::int64_t expected = count_primes(2, opt.limit, nullptr);
  const double sequential_s = seconds_since(start);

  std::printf("primes below %lld: %lld in %d goroutines on %zu OS threads, %.3fs\n",
              static_cast<long long>(opt.limit), static_cast<long long>(total), opt.goroutines,
              all_threads.size(), parallel_s);
  std::printf("sequential check: %lld in %.3fs (speed-up %.2fx on %d procs)\n",
              static_cast<long long>(expected), sequential_s,
              parallel_s > 0 ? sequential_s / parallel_s : 0.0, goro::max_procs());
  if (total != expected) {
    std::fprintf(stderr, "hello: MISMATCH: %lld != %lld\n", static_cast<long long>(total),
                 static_cast<long long>(expected));
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (int rc = parse_args(argc, argv, &opt); rc != 0) return rc < 0 ? 0 : rc;
  goro::Config cfg;
  cfg.max_procs = opt.procs;
  return goro::run(cfg, [&opt] { return hello(opt); });
}

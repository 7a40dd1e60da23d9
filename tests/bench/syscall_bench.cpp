// syscall_bench — goro's side of the "syscall" benchmark suite (loadtest/compare.sh syscall).
//
//   syscall_bench ticker K max|p99|threads [TICKS]
//   syscall_bench getpid [N]
//
// Prints the figure alone on the first line of standard output; later lines
// "info NAME VALUE" carry the other figures of the same run. loadtest/go/syscall/main.go
// does the same work in Go with the same interface. Run with GORO_MAXPROCS=1.
//
// ticker: K goroutines block in read(2) on K blocking pipes (through goro::blocking, so
//   their Ps are handed off), while another goroutine receives from a 1 ms Ticker TICKS
//   (2,000) times. A tick's lateness is its arrival time minus the tick it stands for:
//   the first 1 ms grid point (grid from the Ticker's creation) after the previous
//   arrival, so a stall that swallows ticks counts once, in full. Figures: "max" and
//   "p99" lateness in microseconds, "threads" the OS threads of the process
//   (/proc/self/task entries, the larger of two samples taken while the K goroutines are
//   blocked). Then one byte goes down each pipe and the readers finish.
// getpid: ns per goroutine-level call of getpid(2) through goro::blocking, N (2,000,000)
//   calls; info raw_ns: the bare getpid(2).
//
// Only the work is timed, not the runtime's start-up or shutdown, on both sides.
#include <goro/core/blocking.hpp>
#include <goro/goro.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "syscall_bench: %s\n", what);
  std::exit(1);
}

// Entries of /proc/self/task: the process's OS threads.
int thread_count() {
  DIR* d = ::opendir("/proc/self/task");
  if (d == nullptr) fail("cannot open /proc/self/task");
  int n = 0;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n;
}

struct TickerResult {
  double max_us;
  double p99_us;
  int threads;
};

TickerResult ticker(int k, int ticks) {
  std::vector<int> rd(static_cast<std::size_t>(k)), wr(static_cast<std::size_t>(k));
  for (int i = 0; i < k; ++i) {
    int fd[2];
    if (::pipe2(fd, O_CLOEXEC) != 0) fail("pipe2");
    rd[static_cast<std::size_t>(i)] = fd[0];
    wr[static_cast<std::size_t>(i)] = fd[1];
  }
  std::atomic<int> entered{0};
  goro::WaitGroup readers;
  readers.add(k);
  for (int i = 0; i < k; ++i) {
    goro::go([&, i] {
      char c;
      ssize_t n = goro::blocking([&] {
        entered.fetch_add(1);
        return ::read(rd[static_cast<std::size_t>(i)], &c, 1);
      });
      if (n != 1) fail("read");
      readers.done();
    });
  }
  while (entered.load() < k) goro::sleep(1ms);
  goro::sleep(20ms);  // let sysmon take the Ps of the blocked readers

  std::vector<std::int64_t> late_ns;
  late_ns.reserve(static_cast<std::size_t>(ticks));
  int threads = 0;
  const auto period = 1ms;
  const auto t0 = Clock::now();
  goro::Ticker t(period);
  auto due = t0 + period;
  for (int i = 0; i < ticks; ++i) {
    if (!t.channel().recv()) fail("ticker channel closed");
    const auto now = Clock::now();
    late_ns.push_back(std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::nanoseconds>(now - due).count()));
    due = t0 + period * ((now - t0) / period + 1);  // the next grid point after now
    if (i == ticks / 2 || i == ticks - 1) threads = std::max(threads, thread_count());
  }
  t.stop();

  for (int fd : wr) {
    if (::write(fd, "x", 1) != 1) fail("write");
  }
  readers.wait();
  for (int i = 0; i < k; ++i) {
    ::close(rd[static_cast<std::size_t>(i)]);
    ::close(wr[static_cast<std::size_t>(i)]);
  }
  std::sort(late_ns.begin(), late_ns.end());
  const std::size_t p99 = std::min(late_ns.size() - 1, late_ns.size() * 99 / 100);
  return {static_cast<double>(late_ns.back()) / 1e3, static_cast<double>(late_ns[p99]) / 1e3,
          threads};
}

struct GetpidResult {
  double ns;
  double raw_ns;
};

GetpidResult getpid_cost(std::int64_t n) {
  long sum = 0;
  auto start = Clock::now();
  for (std::int64_t i = 0; i < n; ++i) sum += goro::blocking([] { return ::getpid(); });
  const double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count() /
                    static_cast<double>(n);
  start = Clock::now();
  for (std::int64_t i = 0; i < n; ++i) sum += ::getpid();
  const double raw = std::chrono::duration<double, std::nano>(Clock::now() - start).count() /
                     static_cast<double>(n);
  if (sum == 0) fail("getpid");
  return {ns, raw};
}

std::int64_t parse_positive(const char* s) {
  char* end = nullptr;
  const std::int64_t v = std::strtoll(s, &end, 10);
  if (*end != '\0' || v <= 0) fail("bad number");
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string name = argc >= 2 ? argv[1] : "";
  if (name == "ticker" && (argc == 4 || argc == 5)) {
    const int k = static_cast<int>(parse_positive(argv[2]));
    const std::string metric = argv[3];
    const int ticks = argc == 5 ? static_cast<int>(parse_positive(argv[4])) : 2000;
    TickerResult r{};
    const int rc = goro::run([&] { r = ticker(k, ticks); });
    if (metric == "max") {
      std::printf("%.1f\ninfo p99_us %.1f\ninfo threads %d\n", r.max_us, r.p99_us, r.threads);
    } else if (metric == "p99") {
      std::printf("%.1f\ninfo max_us %.1f\ninfo threads %d\n", r.p99_us, r.max_us, r.threads);
    } else if (metric == "threads") {
      std::printf("%d\ninfo max_us %.1f\ninfo p99_us %.1f\n", r.threads, r.max_us, r.p99_us);
    } else {
      fail("metric must be max, p99 or threads");
    }
    return rc;
  }
  if (name == "getpid" && (argc == 2 || argc == 3)) {
    const std::int64_t n = argc == 3 ? parse_positive(argv[2]) : 2'000'000;
    GetpidResult r{};
    const int rc = goro::run([&] { r = getpid_cost(n); });
    std::printf("%.2f\ninfo raw_ns %.2f\n", r.ns, r.raw_ns);
    return rc;
  }
  std::fprintf(stderr, "usage: syscall_bench ticker K max|p99|threads [TICKS] | getpid [N]\n");
  return 2;
}

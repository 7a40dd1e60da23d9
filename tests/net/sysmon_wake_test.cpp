// sysmon (core/src/sysmon.cpp) while one P serves the network: goroutines that wait on
// sockets and run for microseconds at a time. sysmon must keep watching (a long runner
// among them is preempted so that the others' requests are not held up), but each of its
// wake-ups costs the serving thread, so it must not poll at its 20 us pace or wake on
// every idle-to-busy turn of the P. It wakes ~200 times a second here; the bound is 5x
// that, so only a wake-up policy gone wrong fails (a 20 us pace is 50,000 a second).
#include <gtest/gtest.h>

#include <goro/goro.hpp>
#include <goro/net.hpp>

#include <dirent.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "net_test_util.hpp"

namespace net = goro::net;
using namespace std::chrono_literals;

namespace {

// The voluntary context switches of the thread named `name` (its wake-ups from sleep),
// or -1 if there is none.
long voluntary_switches_of(const std::string& name) {
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return -1;
  long found = -1;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string task = std::string("/proc/self/task/") + e->d_name;
    std::string comm;
    std::getline(std::ifstream(task + "/comm"), comm);
    if (comm != name) continue;
    std::ifstream status(task + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0) {
        found = std::stol(line.substr(line.find(':') + 1));
      }
    }
  }
  closedir(d);
  return found;
}

TEST(SysmonWake, ABusyNetworkServerWakesSysmonRarely) {
  goro::run(goro::Config{.max_procs = 1}, [] {
    net_test::EchoServer srv;
    constexpr int kClients = 8;
    const auto run_for = 1s;
    const long before = voluntary_switches_of("goro-sysmon");
    ASSERT_GE(before, 0) << "no thread named goro-sysmon";
    const auto start = std::chrono::steady_clock::now();
    goro::WaitGroup wg;
    std::atomic<long> round_trips{0};  // relaxed adds: a count, read after wg.wait()
    for (int i = 0; i < kClients; ++i) {
      wg.add(1);
      goro::go([&] {
        net::Conn c = net::dial(srv.address());
        char msg[64] = {};
        char back[64];
        while (std::chrono::steady_clock::now() - start < run_for) {
          c.write(msg, sizeof msg);
          if (c.read_full(back, sizeof back) != sizeof back) {
            ADD_FAILURE() << "short echo";
            break;
          }
          round_trips.fetch_add(1, std::memory_order_relaxed);
        }
        wg.done();
      });
    }
    wg.wait();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const long after = voluntary_switches_of("goro-sysmon");
    ASSERT_GE(after, before) << "sysmon's thread went missing";
    const long wakeups = after - before;
    const double per_second = static_cast<double>(wakeups) / seconds;
    std::printf("[ info ] %ld round trips, sysmon woke %ld times in %.2f s (%.0f a second)\n",
                round_trips.load(), wakeups, seconds, per_second);
    EXPECT_GT(round_trips.load(), 1000);  // the P was busy serving, not idle
    EXPECT_LT(per_second, 1000.0);
  });
}

}  // namespace

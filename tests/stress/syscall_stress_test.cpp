// syscall_stress_test.cpp — sysmon taking Ps from system calls while their Ms come back.
//
// The exit of goro::blocking gets its P back with plain stores, and sysmon takes a P with
// a CAS to kTaking, a barrier (membarrier, or fences) and a check of the call's exit mark
// (core/src/syscall.cpp, top). If that handshake were wrong, an M coming back at the
// moment sysmon takes its P would keep running on a P that sysmon has also handed to
// another M: two Ms on one run queue, whose owner-only operations then lose or repeat
// goroutines. Here calls last around sysmon's 20 us look, so that takes and returns
// meet thousands of times (and some calls last long, see below), while every goroutine
// also spawns, yields and hands work through a channel (the run queues' owner paths):
// every spawned goroutine must run exactly once and every message arrive. Counts are
// cut 4x under TSan; GORO_STRESS_SCALE=<k> multiplies them.
#include <goro/core/blocking.hpp>
#include <goro/core/chan.hpp>
#include <goro/core/runtime.hpp>
#include <goro/core/wait_group.hpp>

#include <gtest/gtest.h>

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <tuple>
#include <vector>

#include "m.hpp"
#include "sched.hpp"
#include "stress_scale.hpp"

namespace {


// A call that stays in the kernel (sleeping) or on the CPU (spinning, as a long
// computation inside blocking() would) for about `us` microseconds.
void call_for(int us, bool spin) {
  if (spin) {
    timespec t0{}, t{};
    ::clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
      ::clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1'000'000'000L + (t.tv_nsec - t0.tv_nsec) < us * 1000L);
  } else {
    timespec d{0, us * 1000L};
    ::nanosleep(&d, nullptr);
  }
}

// (Ps, randomized mode: Config::randomize shuffles the run queues' choices meanwhile).
// The window that matters here — an exit between reading kSyscall and storing
// kRunning while sysmon takes the P — is nanoseconds wide, so a broken handshake shows
// here only sometimes; widening it artificially (tried: a randomized-mode spin of
// milliseconds in the exit) caught one, but only at a cost that broke other tests'
// bounds in randomized mode. The handshake's case is made at the top of syscall.cpp.
class SyscallStress : public ::testing::TestWithParam<std::tuple<int, bool>> {};

TEST_P(SyscallStress, TakesRaceWithReturnsAndNothingIsLostOrRunTwice) {
  const int procs = std::get<0>(GetParam());
  const bool randomize = std::get<1>(GetParam());
  const int kWorkers = 8;
  const int kCalls = static_cast<int>(goro_test::scaled(2000));
  std::atomic<std::int64_t> spawned_runs{0};
  std::atomic<std::int64_t> received{0};
  std::atomic<std::int64_t> p_changes{0};
  std::uint64_t takes = 0, abandoned = 0;
  std::vector<std::atomic<int>> ran(static_cast<std::size_t>(kWorkers) * kCalls);
  goro::run(goro::Config{.max_procs = procs, .randomize = randomize}, [&] {
    goro::Chan<int> ch(16);
    goro::WaitGroup consumers;
    consumers.add(1);
    goro::go([&] {
      for (;;) {
        auto v = ch.recv();
        if (!v) break;
        received.fetch_add(*v, std::memory_order_relaxed);
      }
      consumers.done();
    });
    goro::WaitGroup workers, children;
    workers.add(kWorkers);
    for (int w = 0; w < kWorkers; ++w) {
      goro::go([&, w] {
        std::minstd_rand rng(static_cast<unsigned>(w) * 7919u + 1u);
        for (int i = 0; i < kCalls; ++i) {
          // 0-60 us: below, at and above sysmon's 20 us look; one call in 8 lasts
          // 100-400 us, so that Ms whose P was taken long ago come back while the P's
          // new owner races sysmon for it (their exit marks must not mix).
          int us = rng() % 8 == 0 ? 100 + static_cast<int>(rng() % 301) : static_cast<int>(rng() % 61);
          bool spin = rng() % 4 == 0;
          goro::detail::P* before = goro::detail::current_m()->p;
          goro::blocking([&] { call_for(us, spin); });
          if (goro::detail::current_m()->p != before) p_changes.fetch_add(1, std::memory_order_relaxed);
          std::size_t slot = static_cast<std::size_t>(w) * kCalls + i;
          children.add(1);
          goro::go([&, slot] {
            ran[slot].fetch_add(1, std::memory_order_relaxed);
            spawned_runs.fetch_add(1, std::memory_order_relaxed);
            children.done();
          });
          if (i % 3 == 0) goro::yield();
          ch.send(1);
        }
        workers.done();
      });
    }
    workers.wait();
    children.wait();
    ch.close();
    consumers.wait();
    takes = goro::detail::sched.nsyscall_takes.load();
    abandoned = goro::detail::sched.nsyscall_takes_abandoned.load();
  });
  const std::int64_t total = static_cast<std::int64_t>(kWorkers) * kCalls;
  EXPECT_EQ(spawned_runs.load(), total);
  EXPECT_EQ(received.load(), total);
  for (std::size_t i = 0; i < ran.size(); ++i) {
    ASSERT_EQ(ran[i].load(), 1) << "goroutine " << i << " ran " << ran[i].load() << " times";
  }
  // The race was exercised: sysmon took Ps from calls (the counters start at zero with
  // each run()). Not a timing bound: one take in 16,000 calls of up to 60 us is all it asks.
  EXPECT_GT(takes, 0u);
  std::printf("[ info ] %d Ps%s: %lld calls; sysmon took %llu Ps and gave %llu back to an M "
              "that returned meanwhile; %lld calls came back to another P\n",
              procs, randomize ? " (randomized)" : "", static_cast<long long>(total), static_cast<unsigned long long>(takes),
              static_cast<unsigned long long>(abandoned), static_cast<long long>(p_changes.load()));
}

INSTANTIATE_TEST_SUITE_P(Procs, SyscallStress,
                         ::testing::Combine(::testing::Values(1, 2, 4), ::testing::Bool()));

}  // namespace

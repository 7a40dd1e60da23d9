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
#include "p.hpp"
#include "preempt.hpp"
#include "sched.hpp"
#include "short_slices.hpp"
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
          // new owner races sysmon for it (their exit marks must not mix); one in 64
          // lasts 2.5-4.5 ms, longer than sysmon's look once it has backed off (2 ms
          // while calls come and go), so that takes go on in every run: without them,
          // one ASan run in eight on 1 P had sysmon backed off from the start and took
          // nothing at all.
          const unsigned pick = rng() % 64;
          int us = pick == 0         ? 2500 + static_cast<int>(rng() % 2001)
                   : pick % 8 == 1 ? 100 + static_cast<int>(rng() % 301)
                                   : static_cast<int>(rng() % 61);
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

// goro::blocking's fast path runs inline in the caller's code, outside the runtime's
// section, with its P in registers; only tls_rt.in_call keeps the SIGURG handler from
// stopping the goroutine there (and moving it to another thread with a stale P) or
// detaching its P. Here goroutines alternate call-free loops (which draw the signal,
// with 50 us slices) with runs of short calls (where it lands), and after every call
// the goroutine's M must hold a P that is running, its own, and the thread-local copy.
class SyscallPreemptStress : public ::testing::TestWithParam<int> {};

// Keeps the goroutine on its M, with a P, for a few reads from the program's own code
// (NoPreempt is for the runtime's section, where no detach happens between its check and
// its count): count first, then get a P back if the backstop took it just before.
struct OneM {
  OneM() noexcept {
    ++goro::detail::tls_rt.nopreempt;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (goro::detail::tls_rt.detached) {
      --goro::detail::tls_rt.nopreempt;
      goro::detail::reattach();  // may move us to another thread (tls_rt is re-read)
      ++goro::detail::tls_rt.nopreempt;
    }
  }
  ~OneM() { --goro::detail::tls_rt.nopreempt; }
};

TEST_P(SyscallPreemptStress, SignalsLeaveAGoroutineInsideACallAlone) {
  const int procs = GetParam();
  const int kWorkers = 4;
  const int kRounds = static_cast<int>(goro_test::scaled(2000));
  const long pid = ::getpid();
  std::atomic<std::int64_t> calls{0}, bad{0}, wrong_result{0};
  std::vector<std::atomic<int>> ran(static_cast<std::size_t>(kWorkers) * kRounds);
  goro::detail::PreemptStats before{}, after{};
  {
    goro_test::ShortSlices slices;
    goro::run(goro::Config{.max_procs = procs}, [&] {
      before = goro::detail::preempt_stats();
      goro::WaitGroup wg, children;
      wg.add(kWorkers);
      for (int w = 0; w < kWorkers; ++w) {
        goro::go([&, w] {
          std::minstd_rand rng(static_cast<unsigned>(w) * 104729u + 3u);
          volatile std::uint64_t sink = 0;
          for (int r = 0; r < kRounds; ++r) {
            // A call-free loop of ~30-200 us: past the slice, so sysmon signals.
            const int spins = 20000 + static_cast<int>(rng() % 100000);
            for (int i = 0; i < spins; ++i) sink = sink * 31 + static_cast<std::uint64_t>(i);
            const int n = 20 + static_cast<int>(rng() % 200);
            for (int i = 0; i < n; ++i) {
              long got = i % 50 == 49
                             ? goro::blocking([] { return goro::blocking([] { return ::getpid(); }); })
                             : goro::blocking([] { return ::getpid(); });
              if (got != pid) wrong_result.fetch_add(1, std::memory_order_relaxed);
              {
                OneM pin;  // read the state of one M, not two
                goro::detail::M* m = goro::detail::current_m();
                goro::detail::P* p = m->p;
                if (p == nullptr || goro::detail::tls_rt.in_call || goro::detail::tls_rt.p != p ||
                    p->m.load(std::memory_order_relaxed) != m ||
                    p->status.load(std::memory_order_relaxed) != goro::detail::PStatus::kRunning) {
                  bad.fetch_add(1, std::memory_order_relaxed);
                }
              }
              calls.fetch_add(1, std::memory_order_relaxed);
            }
            // The run queues' owner paths: a P driven by two Ms loses or repeats these.
            children.add(1);
            goro::go([&, w, r] {
              ran[static_cast<std::size_t>(w) * kRounds + r].fetch_add(1, std::memory_order_relaxed);
              children.done();
            });
            if (r % 16 == 0) goro::yield();
          }
          wg.done();
        });
      }
      wg.wait();
      children.wait();
      after = goro::detail::preempt_stats();
    });
  }
  EXPECT_EQ(bad.load(), 0) << "calls that came back to a P not theirs";
  for (std::size_t i = 0; i < ran.size(); ++i) {
    ASSERT_EQ(ran[i].load(), 1) << "goroutine " << i << " ran " << ran[i].load() << " times";
  }
  EXPECT_EQ(wrong_result.load(), 0);
  EXPECT_GT(calls.load(), 0);
  if (goro::detail::async_preempt_enabled()) {
    // The signal was exercised (not a timing bound: one in the whole run is all it asks).
    EXPECT_GT(after.signals, before.signals);
  }
  if (goro::detail::async_preempt_enabled()) {
    // With stops at an instruction available, the backstop detaches a goroutine's P only
    // where the signal finds it outside the program's own code, and the only such code
    // these goroutines run outside the runtime is getpid inside their calls: any detach
    // here took a P from inside a call. (Without the in_call check in the handler: 54-74
    // per run on 1 P, 67-70 on 2.)
    EXPECT_EQ(after.detached, before.detached) << "the backstop detached a goroutine in a call";
  }
  std::printf("[ info ] %d Ps: %lld calls; %llu signals, %llu async stops, %llu detaches\n",
              procs, static_cast<long long>(calls.load()),
              static_cast<unsigned long long>(after.signals - before.signals),
              static_cast<unsigned long long>(after.async - before.async),
              static_cast<unsigned long long>(after.detached - before.detached));
}

INSTANTIATE_TEST_SUITE_P(Procs, SyscallPreemptStress, ::testing::Values(1, 2));

INSTANTIATE_TEST_SUITE_P(Procs, SyscallStress,
                         ::testing::Combine(::testing::Values(1, 2, 4), ::testing::Bool()));

}  // namespace

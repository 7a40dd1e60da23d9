// The runtime's own mutex (goro/core/detail/lock.hpp) and ProcPin
// (goro/core/detail/proc_pin.hpp).
//
// Lock: where membarrier(2) is available its release is a plain store, and a thread
// about to sleep relies on a membarrier to be seen (the asymmetric Dekker pattern).
// These tests force the sleep path (holders that keep the lock far longer than the
// spin before sleeping) and check mutual exclusion and that sleepers are woken: a
// wake-up lost would cost a sleeper its 10 ms safety timeout each time, which the loose
// time bound catches when it happens systematically.
#include <goro/core/detail/lock.hpp>
#include <goro/core/detail/proc_pin.hpp>
#include <goro/core/runtime.hpp>
#include <goro/core/wait_group.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using goro::detail::Lock;

void busy_for(std::chrono::microseconds d) {
  auto end = Clock::now() + d;
  while (Clock::now() < end) {
  }
}

// Threads (not goroutines: a Lock is a thread-level mutex) take turns; every tenth hold
// lasts 200 us, well past the ~10-20 us spin, so the others sleep on the futex.
TEST(Lock, LongHoldsPutWaitersToSleepAndEveryoneIsWoken) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 300;
  Lock lock;
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  long counter = 0;  // guarded by lock
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        lock.lock();
        if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
        ++counter;
        if ((i + t) % 10 == 0) busy_for(std::chrono::microseconds(200));
        inside.fetch_sub(1);
        lock.unlock();
      }
    });
  }
  for (auto& th : threads) th.join();
  auto took = Clock::now() - t0;
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(counter, long{kThreads} * kRounds);
  // The long holds add up to 4 * 30 * 200 us = 24 ms. Each lost wake-up would cost 10
  // ms; a protocol that lost them routinely (hundreds of sleeps) would take seconds.
  EXPECT_LT(took, std::chrono::seconds(3));
}

// Short critical sections hammered by more threads than CPUs: the spin mostly wins, the
// occasional sleeper (a holder descheduled by the OS) must still be woken.
TEST(Lock, ShortSectionsUnderOversubscriptionLoseNothing) {
  constexpr int kThreads = 6;
  constexpr int kRounds = 50'000;
  Lock lock;
  long counter = 0;  // guarded by lock
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        lock.lock();
        ++counter;
        lock.unlock();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(counter, long{kThreads} * kRounds);
}

TEST(Lock, TryLockFailsWhileHeld) {
  Lock lock;
  lock.lock();
  bool got = true;
  std::thread([&] { got = lock.try_lock(); }).join();
  EXPECT_FALSE(got);
  lock.unlock();
  std::thread([&] {
    got = lock.try_lock();
    if (got) lock.unlock();
  }).join();
  EXPECT_TRUE(got);
}

TEST(ProcPin, OutsideAGoroutineThereIsNoProcessor) {
  goro::detail::ProcPin pin;
  EXPECT_EQ(pin.index(), -1);
}

// Goroutines on 4 Ps, each pinning itself again and again: the index is a valid P
// number, and no two pinned goroutines ever hold the same one at the same time.
TEST(ProcPin, PinnedGoroutinesOnDifferentProcessorsHaveDifferentIndices) {
  constexpr int kProcs = 4;
  goro::Config cfg;
  cfg.max_procs = kProcs;
  std::atomic<int> clashes{0};
  std::atomic<int> bad_index{0};
  std::atomic<int> in_use[kProcs] = {};
  goro::run(cfg, [&] {
    goro::WaitGroup wg;
    for (int g = 0; g < 8; ++g) {
      wg.add(1);
      goro::go([&] {
        for (int i = 0; i < 20'000; ++i) {
          {
            goro::detail::ProcPin pin;
            int p = pin.index();
            if (p < 0 || p >= kProcs) {
              bad_index.fetch_add(1);
            } else {
              if (in_use[p].exchange(1) != 0) clashes.fetch_add(1);
              in_use[p].store(0);
            }
          }
          if (i % 64 == 0) goro::yield();
        }
        wg.done();
      });
    }
    wg.wait();
  });
  EXPECT_EQ(bad_index.load(), 0);
  EXPECT_EQ(clashes.load(), 0);
}

}  // namespace

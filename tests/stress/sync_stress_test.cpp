// sync_stress_test.cpp — long randomized runs of goro's sync primitives on 2+ Ps:
// millions of Mutex lock/unlock over a non-atomic counter, RWMutex reader/writer
// invariants, Once under contention, Cond producer/consumer and barrier (a lost wake-up
// hangs), weighted Semaphore bounds. Counts are cut 4x under TSan (ASan runs them in
// full), and GORO_STRESS_SCALE=<k> multiplies them.
#include <goro/core/cond.hpp>
#include <goro/core/mutex.hpp>
#include <goro/core/once.hpp>
#include <goro/core/runtime.hpp>
#include <goro/core/rw_mutex.hpp>
#include <goro/core/semaphore.hpp>
#include <goro/core/wait_group.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <vector>

#include "stress_scale.hpp"

namespace {

using goro_test::scaled;

template <class F>
void run_with(int procs, F&& f) {
  goro::run(goro::Config{.max_procs = procs}, std::forward<F>(f));
}

// Millions of lock/unlock on 4 Ps; the counter is a plain integer, so any overlap of
// critical sections loses increments (and TSan reports the race).
TEST(SyncStress, MutexMillionsOfLocks) {
  run_with(4, [] {
    goro::Mutex m;
    std::int64_t counter = 0;  // guarded by m
    constexpr int kGoroutines = 8;
    const std::int64_t iters = scaled(500'000);  // 8 × 500k = 4M lock/unlock pairs
    goro::WaitGroup wg;
    wg.add(kGoroutines);
    for (int g = 0; g < kGoroutines; ++g) {
      goro::go([&, g] {
        for (std::int64_t i = 0; i < iters; ++i) {
          if (g == 0 && (i & 3) == 0) {
            while (!m.try_lock()) goro::yield();
          } else {
            m.lock();
          }
          ++counter;
          m.unlock();
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(counter, kGoroutines * iters);
    EXPECT_TRUE(m.try_lock());
    m.unlock();
  });
}

// Critical sections that sometimes yield while holding the lock force waiters to park
// and wake (sema, LIFO requeue, starvation handoff) instead of just spinning.
TEST(SyncStress, MutexWithParkingWaiters) {
  run_with(3, [] {
    goro::Mutex m;
    std::int64_t counter = 0;  // guarded by m
    std::int64_t shadow = 0;   // guarded by m; must track counter exactly
    constexpr int kGoroutines = 64;
    const std::int64_t iters = scaled(10'000);
    goro::WaitGroup wg;
    wg.add(kGoroutines);
    for (int g = 0; g < kGoroutines; ++g) {
      goro::go([&, g] {
        std::minstd_rand rng(g + 1);
        for (std::int64_t i = 0; i < iters; ++i) {
          std::lock_guard<goro::Mutex> hold(m);
          const std::int64_t before = counter;
          if (rng() % 16 == 0) goro::yield();
          counter = before + 1;
          ++shadow;
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(counter, kGoroutines * iters);
    EXPECT_EQ(shadow, counter);
  });
}

TEST(SyncStress, MutexThousandsOfGoroutines) {
  run_with(2, [] {
    goro::Mutex m;
    std::int64_t counter = 0;  // guarded by m
    constexpr int kGoroutines = 2000;
    const std::int64_t iters = scaled(500);
    goro::WaitGroup wg;
    wg.add(kGoroutines);
    for (int g = 0; g < kGoroutines; ++g) {
      goro::go([&] {
        for (std::int64_t i = 0; i < iters; ++i) {
          m.lock();
          ++counter;
          m.unlock();
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(counter, kGoroutines * iters);
  });
}

// Readers never see a writer inside or a half-written (a, b); writers are alone.
TEST(SyncStress, RWMutexInvariants) {
  run_with(4, [] {
    goro::RWMutex rw;
    std::atomic<int> readers{0}, writers{0};
    std::atomic<std::int64_t> violations{0}, reads{0};
    std::int64_t a = 0, b = 0;  // guarded by rw; a == b outside a write
    constexpr int kWriters = 4, kReaders = 12;
    const std::int64_t writer_iters = scaled(20'000);
    const std::int64_t reader_iters = scaled(60'000);
    goro::WaitGroup wg;
    wg.add(kWriters + kReaders);
    for (int w = 0; w < kWriters; ++w) {
      goro::go([&, w] {
        std::minstd_rand rng(w + 100);
        for (std::int64_t i = 0; i < writer_iters; ++i) {
          if (rng() % 8 == 0) {
            if (!rw.try_lock()) {
              --i;
              goro::yield();
              continue;
            }
          } else {
            rw.lock();
          }
          if (writers.fetch_add(1) != 0 || readers.load() != 0) violations.fetch_add(1);
          ++a;
          if (rng() % 32 == 0) goro::yield();
          ++b;
          writers.fetch_sub(1);
          rw.unlock();
        }
        wg.done();
      });
    }
    for (int r = 0; r < kReaders; ++r) {
      goro::go([&, r] {
        std::minstd_rand rng(r + 200);
        for (std::int64_t i = 0; i < reader_iters; ++i) {
          std::shared_lock<goro::RWMutex> hold(rw, std::defer_lock);
          if (rng() % 8 == 0) {
            if (!hold.try_lock()) continue;
          } else {
            hold.lock();
          }
          readers.fetch_add(1);
          if (writers.load() != 0 || a != b) violations.fetch_add(1);
          if (rng() % 64 == 0) goro::yield();
          if (a != b) violations.fetch_add(1);
          readers.fetch_sub(1);
          reads.fetch_add(1);
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(violations.load(), 0);
    EXPECT_EQ(a, kWriters * writer_iters);
    EXPECT_EQ(b, a);
    EXPECT_GT(reads.load(), 0);
    EXPECT_TRUE(rw.try_lock());
    rw.unlock();
  });
}

// Many rounds of many goroutines racing on a fresh Once: f runs exactly once per round
// and every caller sees its result.
TEST(SyncStress, OnceUnderContention) {
  run_with(4, [] {
    const std::int64_t rounds = scaled(2'000);
    constexpr int kCallers = 16;
    std::atomic<std::int64_t> bad{0};
    for (std::int64_t r = 0; r < rounds; ++r) {
      auto once = std::make_unique<goro::Once>();
      int calls = 0;           // written by f only
      std::int64_t value = 0;  // written by f, read by callers after call()
      goro::WaitGroup wg;
      wg.add(kCallers);
      for (int c = 0; c < kCallers; ++c) {
        goro::go([&, r] {
          once->call([&] {
            ++calls;
            if (r % 3 == 0) goro::yield();
            value = r + 1;
          });
          if (value != r + 1) bad.fetch_add(1);
          wg.done();
        });
      }
      wg.wait();
      if (calls != 1) bad.fetch_add(1);
    }
    EXPECT_EQ(bad.load(), 0);
  });
}

// A bounded buffer with signal() (not broadcast): each lost wake-up would hang, each
// double delivery or loss shows in the per-item counts.
TEST(SyncStress, CondProducerConsumer) {
  run_with(4, [] {
    goro::Mutex m;
    goro::Cond not_full, not_empty;
    std::deque<std::int64_t> q;  // guarded by m
    constexpr std::size_t kCap = 8;
    constexpr int kProducers = 4, kConsumers = 4;
    const std::int64_t per_producer = scaled(100'000);
    const std::int64_t total = per_producer * kProducers;
    std::vector<std::uint8_t> seen(static_cast<std::size_t>(total), 0);  // guarded by m
    std::int64_t consumed = 0;                                           // guarded by m
    goro::WaitGroup wg;
    wg.add(kProducers + kConsumers);
    for (int p = 0; p < kProducers; ++p) {
      goro::go([&, p] {
        for (std::int64_t i = 0; i < per_producer; ++i) {
          std::unique_lock<goro::Mutex> hold(m);
          not_full.wait(hold, [&] { return q.size() < kCap; });
          q.push_back(p * per_producer + i);
          hold.unlock();
          not_empty.signal();
        }
        wg.done();
      });
    }
    for (int c = 0; c < kConsumers; ++c) {
      goro::go([&] {
        for (;;) {
          std::unique_lock<goro::Mutex> hold(m);
          not_empty.wait(hold, [&] { return !q.empty() || consumed == total; });
          if (q.empty()) break;  // everything consumed
          const std::int64_t item = q.front();
          q.pop_front();
          ++seen[static_cast<std::size_t>(item)];
          if (++consumed == total) not_empty.broadcast();  // release the other consumers
          hold.unlock();
          not_full.signal();
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(consumed, total);
    std::int64_t wrong = 0;
    for (auto s : seen) wrong += (s != 1);
    EXPECT_EQ(wrong, 0);
  });
}

// A reusable barrier from Mutex + Cond::broadcast: N goroutines, many phases.
TEST(SyncStress, CondBroadcastBarrier) {
  run_with(4, [] {
    goro::Mutex m;
    goro::Cond c;
    constexpr int kN = 16;
    const std::int64_t phases = scaled(5'000);
    int arrived = 0;              // guarded by m
    std::int64_t generation = 0;  // guarded by m
    // progress[i]: written by goroutine i before it arrives, read by the last arriver.
    std::vector<std::int64_t> progress(kN, 0);
    std::atomic<std::int64_t> bad{0};
    goro::WaitGroup wg;
    wg.add(kN);
    for (int i = 0; i < kN; ++i) {
      goro::go([&, i] {
        for (std::int64_t ph = 0; ph < phases; ++ph) {
          progress[i] = ph;
          std::unique_lock<goro::Mutex> hold(m);
          const std::int64_t gen = generation;
          if (++arrived == kN) {
            // Everyone reached phase ph: check, then open the next generation.
            for (int j = 0; j < kN; ++j) {
              if (progress[j] != ph) bad.fetch_add(1);
            }
            arrived = 0;
            ++generation;
            c.broadcast();
          } else {
            c.wait(hold, [&] { return generation != gen; });
          }
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(bad.load(), 0);
    EXPECT_EQ(generation, phases);
  });
}

// Random weights on a weighted semaphore: tokens held never exceed the size, and every
// request eventually gets through (FIFO: none starves).
TEST(SyncStress, SemaphoreWeighted) {
  run_with(4, [] {
    constexpr std::int64_t kSize = 16;
    goro::Semaphore s(kSize);
    std::atomic<std::int64_t> held{0}, over{0}, done_ops{0};
    constexpr int kGoroutines = 24;
    const std::int64_t iters = scaled(5'000);
    goro::WaitGroup wg;
    wg.add(kGoroutines);
    for (int g = 0; g < kGoroutines; ++g) {
      goro::go([&, g] {
        std::minstd_rand rng(g + 7);
        for (std::int64_t i = 0; i < iters; ++i) {
          const std::int64_t n = 1 + static_cast<std::int64_t>(rng() % kSize);
          if (rng() % 4 == 0) {
            if (!s.try_acquire(n)) continue;
          } else {
            s.acquire(n);
          }
          if (held.fetch_add(n) + n > kSize) over.fetch_add(1);
          if (rng() % 8 == 0) goro::yield();
          held.fetch_sub(n);
          s.release(n);
          done_ops.fetch_add(1);
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(over.load(), 0);
    EXPECT_GT(done_ops.load(), 0);
    EXPECT_TRUE(s.try_acquire(kSize));
  });
}

}  // namespace

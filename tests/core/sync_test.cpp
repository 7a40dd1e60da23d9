// sync_test.cpp — semantics and error cases of goro's sync primitives: Mutex, RWMutex,
// Once, Cond, Semaphore. Every blocking test runs inside goro::run; waits for another
// goroutine to reach a state poll with goro::yield() under a generous deadline (no
// timing assertions beyond loose bounds).
#include <goro/core/cond.hpp>
#include <goro/core/mutex.hpp>
#include <goro/core/once.hpp>
#include <goro/core/runtime.hpp>
#include <goro/core/rw_mutex.hpp>
#include <goro/core/semaphore.hpp>
#include <goro/core/wait_group.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace goro::detail {
// Go's export_test.go idea: the tests' view of Mutex's state word.
struct MutexTestAccess {
  static std::int32_t state(const Mutex& m) { return m.state_.load(std::memory_order_relaxed); }
  static bool locked(const Mutex& m) { return (state(m) & Mutex::kLocked) != 0; }
  static bool starving(const Mutex& m) { return (state(m) & Mutex::kStarving) != 0; }
  static int waiters(const Mutex& m) { return state(m) >> Mutex::kWaiterShift; }
};
}  // namespace goro::detail

namespace {

using goro::detail::MutexTestAccess;
using Clock = std::chrono::steady_clock;

// Yields until pred() holds; fails the test (and returns false) after `limit`.
template <class Pred>
bool yield_until(Pred pred, std::chrono::seconds limit = std::chrono::seconds(20)) {
  const auto deadline = Clock::now() + limit;
  while (!pred()) {
    if (Clock::now() > deadline) {
      ADD_FAILURE() << "condition not reached within " << limit.count() << " s";
      return false;
    }
    goro::yield();
  }
  return true;
}

// Yields n times: gives other goroutines a chance to (wrongly) make progress.
void yield_n(int n) {
  for (int i = 0; i < n; ++i) goro::yield();
}

// Busy-waits (without yielding) for d.
void busy_for(std::chrono::microseconds d) {
  const auto end = Clock::now() + d;
  while (Clock::now() < end) {
  }
}

template <class F>
void run_with(int procs, F&& f) {
  goro::run(goro::Config{.max_procs = procs}, std::forward<F>(f));
}

class SyncDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// ---------------------------------------------------------------------------------------
// Mutex

TEST(Mutex, LockTryLockUnlock) {
  run_with(2, [] {
    goro::Mutex m;
    EXPECT_TRUE(m.try_lock());
    EXPECT_FALSE(m.try_lock());
    m.unlock();
    m.lock();
    EXPECT_FALSE(m.try_lock());
    m.unlock();
    {
      std::lock_guard<goro::Mutex> hold(m);
      EXPECT_TRUE(MutexTestAccess::locked(m));
    }
    EXPECT_EQ(MutexTestAccess::state(m), 0);
    {
      std::unique_lock<goro::Mutex> hold(m, std::try_to_lock);
      EXPECT_TRUE(hold.owns_lock());
    }
    goro::Mutex m2;
    {
      std::scoped_lock both(m, m2);
      EXPECT_TRUE(MutexTestAccess::locked(m) && MutexTestAccess::locked(m2));
    }
    EXPECT_EQ(MutexTestAccess::state(m), 0);
    EXPECT_EQ(MutexTestAccess::state(m2), 0);
  });
}

TEST(Mutex, UncontendedWorksOutsideGoroutines) {
  goro::Mutex m;
  m.lock();
  EXPECT_FALSE(m.try_lock());
  m.unlock();
  EXPECT_EQ(MutexTestAccess::state(m), 0);
}

// With one P, a blocked lock() must park the goroutine: if it blocked the thread, the
// holder could never run again to unlock.
TEST(Mutex, ParksTheGoroutineNotTheThread) {
  run_with(1, [] {
    goro::Mutex m;
    std::atomic<bool> got{false};
    goro::WaitGroup wg;
    m.lock();
    wg.add(1);
    goro::go([&] {
      m.lock();
      got = true;
      m.unlock();
      wg.done();
    });
    yield_until([&] { return MutexTestAccess::waiters(m) == 1; });
    yield_n(10);
    EXPECT_FALSE(got.load());
    m.unlock();
    wg.wait();
    EXPECT_TRUE(got.load());
    EXPECT_EQ(MutexTestAccess::state(m), 0);
  });
}

// Go allows a mutex to be unlocked by another goroutine than the one that locked it.
TEST(Mutex, UnlockFromAnotherGoroutine) {
  run_with(2, [] {
    goro::Mutex m;
    goro::WaitGroup wg;
    m.lock();
    wg.add(1);
    goro::go([&] {
      m.unlock();
      wg.done();
    });
    wg.wait();
    EXPECT_TRUE(m.try_lock());
    m.unlock();
  });
}

TEST(Mutex, MutualExclusion) {
  run_with(4, [] {
    goro::Mutex m;
    std::int64_t counter = 0;  // guarded by m (deliberately not atomic)
    std::atomic<int> inside{0};
    std::atomic<bool> overlap{false};
    constexpr int kGoroutines = 8;
    constexpr int kIters = 20000;
    goro::WaitGroup wg;
    wg.add(kGoroutines);
    for (int g = 0; g < kGoroutines; ++g) {
      goro::go([&] {
        for (int i = 0; i < kIters; ++i) {
          std::lock_guard<goro::Mutex> hold(m);
          if (inside.fetch_add(1) != 0) overlap = true;
          ++counter;
          inside.fetch_sub(1);
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_FALSE(overlap.load());
    EXPECT_EQ(counter, std::int64_t{kGoroutines} * kIters);
    EXPECT_EQ(MutexTestAccess::state(m), 0);
  });
}

// Deterministic on one P: a waiter parks; after it has waited > 1 ms the holder unlocks
// (waking it) and barges back in before it runs. When it runs it finds the mutex held,
// must switch it to starvation mode and requeue at the front; the next unlock() hands
// the mutex to it, so the barging holder's next lock() waits behind it.
TEST(Mutex, StarvationModeEnteredAndHandsOff) {
  run_with(1, [] {
    goro::Mutex m;
    std::vector<char> order;  // guarded by m
    goro::WaitGroup wg;
    m.lock();
    wg.add(1);
    goro::go([&] {
      m.lock();
      order.push_back('W');
      m.unlock();
      wg.done();
    });
    yield_until([&] { return MutexTestAccess::waiters(m) == 1; });  // W is parked
    busy_for(std::chrono::milliseconds(3));  // W has now waited more than 1 ms
    // Normal mode: unlock() wakes W (runnable, not yet running) and we barge back in.
    m.unlock();
    m.lock();
    EXPECT_FALSE(MutexTestAccess::starving(m));
    // W runs, finds the mutex held after waiting > 1 ms: starvation mode.
    yield_until([&] { return MutexTestAccess::starving(m); });
    EXPECT_TRUE(MutexTestAccess::starving(m));
    EXPECT_EQ(MutexTestAccess::waiters(m), 1);
    order.push_back('H');
    m.unlock();  // hands the mutex to W
    m.lock();    // queues behind W (newcomers may not take a starving mutex)
    order.push_back('H');
    m.unlock();
    wg.wait();
    EXPECT_EQ(std::string(order.begin(), order.end()), "HWH");
    EXPECT_EQ(MutexTestAccess::state(m), 0);  // the last waiter left starvation mode
  });
}

// Two Ps, a hog that re-locks immediately after every unlock and holds the lock 2 ms at a
// time: without starvation mode a waiter could lose every race for the whole run. Loose:
// the waiter gets the mutex well within the run, and if the hog ever saw kStarving while
// holding the lock, the waiter (not the hog) was the next owner.
TEST(Mutex, WaiterIsNotStarvedByAHog) {
  run_with(2, [] {
    goro::Mutex m;
    std::vector<char> order;  // guarded by m: 'H' hog, 'W' waiter, '*' hog saw kStarving
    std::atomic<bool> waiter_done{false};
    std::atomic<bool> hog_started{false};
    Clock::duration waited{};
    goro::WaitGroup wg;
    wg.add(2);
    goro::go([&] {
      const auto stop = Clock::now() + std::chrono::seconds(20);
      while (!waiter_done.load() && Clock::now() < stop) {
        m.lock();
        order.push_back('H');
        hog_started = true;
        bool saw = false;
        const auto end = Clock::now() + std::chrono::milliseconds(2);
        while (Clock::now() < end) saw = saw || MutexTestAccess::starving(m);
        saw = saw || MutexTestAccess::starving(m);
        if (saw) order.push_back('*');
        m.unlock();
      }
      wg.done();
    });
    goro::go([&] {
      while (!hog_started.load()) goro::yield();
      const auto t0 = Clock::now();
      m.lock();
      waited = Clock::now() - t0;
      order.push_back('W');
      m.unlock();
      waiter_done = true;
      wg.done();
    });
    wg.wait();
    ASSERT_TRUE(waiter_done.load()) << "the waiter never got the mutex";
    EXPECT_LT(waited, std::chrono::seconds(5));
    const std::string s(order.begin(), order.end());
    const auto star = s.find('*');
    if (star != std::string::npos) {
      ASSERT_LT(star + 1, s.size());
      EXPECT_EQ(s[star + 1], 'W') << "after kStarving the waiter must own the mutex next: " << s;
    }
    EXPECT_EQ(MutexTestAccess::state(m), 0);
  });
}

// Waiters that all waited over 1 ms each get the lock once, and the state word returns
// to exactly 0 (no leftover waiter count, kWoken or kStarving), so later uncontended
// locks are back on the one-CAS fast path.
TEST(Mutex, LongQueuedWaitersAllProceedAndStateResets) {
  run_with(2, [] {
    goro::Mutex m;
    goro::WaitGroup wg;
    std::atomic<int> got{0};
    m.lock();
    constexpr int kWaiters = 3;
    wg.add(kWaiters);
    for (int i = 0; i < kWaiters; ++i) {
      goro::go([&] {
        m.lock();
        got.fetch_add(1);
        m.unlock();
        wg.done();
      });
    }
    yield_until([&] { return MutexTestAccess::waiters(m) == kWaiters; });
    busy_for(std::chrono::milliseconds(3));  // every waiter has now waited > 1 ms
    m.unlock();
    wg.wait();
    EXPECT_EQ(got.load(), kWaiters);
    EXPECT_EQ(MutexTestAccess::state(m), 0);
  });
}

TEST_F(SyncDeathTest, MutexUnlockOfUnlocked) {
  EXPECT_DEATH(run_with(1,
                        [] {
                          goro::Mutex m;
                          m.unlock();
                        }),
               "fatal error: sync: unlock of unlocked mutex");
}

TEST_F(SyncDeathTest, MutexDoubleUnlock) {
  EXPECT_DEATH(run_with(1,
                        [] {
                          goro::Mutex m;
                          m.lock();
                          m.unlock();
                          m.unlock();
                        }),
               "sync: unlock of unlocked mutex");
}

TEST_F(SyncDeathTest, MutexBlockingOutsideAGoroutine) {
  EXPECT_DEATH(run_with(2,
                        [] {
                          goro::Mutex m;
                          m.lock();
                          std::thread t([&] { m.lock(); });
                          t.join();
                        }),
               "would block outside a goroutine");
}

// ---------------------------------------------------------------------------------------
// RWMutex

TEST(RWMutex, Basics) {
  run_with(2, [] {
    goro::RWMutex rw;
    rw.lock();
    EXPECT_FALSE(rw.try_lock());
    EXPECT_FALSE(rw.try_lock_shared());
    rw.unlock();
    rw.lock_shared();
    EXPECT_TRUE(rw.try_lock_shared());
    EXPECT_FALSE(rw.try_lock());
    rw.unlock_shared();
    rw.unlock_shared();
    EXPECT_TRUE(rw.try_lock());
    rw.unlock();
    {
      std::shared_lock<goro::RWMutex> r1(rw);
      std::shared_lock<goro::RWMutex> r2(rw, std::try_to_lock);
      EXPECT_TRUE(r2.owns_lock());
    }
    { std::lock_guard<goro::RWMutex> w(rw); }
    EXPECT_TRUE(rw.try_lock());
    rw.unlock();
  });
}

// With one P, N readers can only all be inside at once if readers really share.
TEST(RWMutex, ReadersShare) {
  run_with(1, [] {
    goro::RWMutex rw;
    constexpr int kReaders = 8;
    std::atomic<int> inside{0};
    goro::WaitGroup wg;
    wg.add(kReaders);
    for (int i = 0; i < kReaders; ++i) {
      goro::go([&] {
        rw.lock_shared();
        inside.fetch_add(1);
        yield_until([&] { return inside.load() == kReaders; });
        rw.unlock_shared();
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(inside.load(), kReaders);
  });
}

// A writer waits for active readers; while it waits, new readers wait behind it (writer
// preference), and they get in after the writer.
TEST(RWMutex, PendingWriterBlocksNewReaders) {
  run_with(2, [] {
    goro::RWMutex rw;
    std::vector<char> order;  // guarded by order_mu
    goro::Mutex order_mu;
    auto note = [&](char c) {
      std::lock_guard<goro::Mutex> hold(order_mu);
      order.push_back(c);
    };
    std::atomic<bool> writer_in{false};
    goro::WaitGroup wg;
    rw.lock_shared();  // reader R1 (this goroutine)
    wg.add(1);
    goro::go([&] {  // writer W
      rw.lock();
      writer_in = true;
      note('W');
      rw.unlock();
      wg.done();
    });
    // Wait until W has announced itself: new readers are refused from then on.
    yield_until([&] {
      if (!rw.try_lock_shared()) return true;
      rw.unlock_shared();
      return false;
    });
    wg.add(1);
    std::atomic<bool> r2_in{false};
    goro::go([&] {  // reader R2, arriving while W is pending
      rw.lock_shared();
      r2_in = true;
      note('R');
      rw.unlock_shared();
      wg.done();
    });
    yield_n(50);
    EXPECT_FALSE(writer_in.load()) << "the writer got in while a reader held the lock";
    EXPECT_FALSE(r2_in.load()) << "a new reader got in ahead of a pending writer";
    rw.unlock_shared();  // R1 leaves: W goes, then R2
    wg.wait();
    ASSERT_EQ(order.size(), 2u);
    EXPECT_EQ(order[0], 'W');
    EXPECT_EQ(order[1], 'R');
  });
}

TEST(RWMutex, WriterExcludesEveryone) {
  run_with(4, [] {
    goro::RWMutex rw;
    std::atomic<int> readers{0}, writers{0};
    std::atomic<bool> bad{false};
    std::int64_t a = 0, b = 0;  // guarded by rw; a == b whenever rw is not write-locked
    goro::WaitGroup wg;
    constexpr int kIters = 2000;
    for (int i = 0; i < 6; ++i) {
      const bool writer = i < 2;
      wg.add(1);
      goro::go([&, writer] {
        for (int k = 0; k < kIters; ++k) {
          if (writer) {
            std::lock_guard<goro::RWMutex> w(rw);
            if (writers.fetch_add(1) != 0 || readers.load() != 0) bad = true;
            ++a;
            if ((k & 7) == 0) goro::yield();
            ++b;
            writers.fetch_sub(1);
          } else {
            std::shared_lock<goro::RWMutex> r(rw);
            readers.fetch_add(1);
            if (writers.load() != 0 || a != b) bad = true;
            readers.fetch_sub(1);
          }
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_FALSE(bad.load());
    EXPECT_EQ(a, 2 * kIters);
    EXPECT_EQ(b, 2 * kIters);
  });
}

TEST_F(SyncDeathTest, RWMutexUnlockOfUnlocked) {
  EXPECT_DEATH(run_with(1,
                        [] {
                          goro::RWMutex rw;
                          rw.unlock();
                        }),
               "fatal error: sync: Unlock of unlocked RWMutex");
}

TEST_F(SyncDeathTest, RWMutexUnlockWhileReadLocked) {
  EXPECT_DEATH(run_with(1,
                        [] {
                          goro::RWMutex rw;
                          rw.lock_shared();
                          rw.unlock();
                        }),
               "sync: Unlock of unlocked RWMutex");
}

TEST_F(SyncDeathTest, RWMutexRUnlockOfUnlocked) {
  EXPECT_DEATH(run_with(1,
                        [] {
                          goro::RWMutex rw;
                          rw.unlock_shared();
                        }),
               "fatal error: sync: RUnlock of unlocked RWMutex");
}

TEST_F(SyncDeathTest, RWMutexRUnlockWhileWriteLocked) {
  EXPECT_DEATH(run_with(1,
                        [] {
                          goro::RWMutex rw;
                          rw.lock();
                          rw.unlock_shared();
                        }),
               "sync: RUnlock of unlocked RWMutex");
}

// ---------------------------------------------------------------------------------------
// Once

TEST(Once, RunsOnceAndEveryCallerSeesTheResult) {
  run_with(2, [] {
    goro::Once once;
    int calls = 0;  // written by f only
    int value = 0;  // written by f, read by every caller after call() returns
    std::atomic<bool> bad{false};
    constexpr int kCallers = 50;
    goro::WaitGroup wg;
    wg.add(kCallers);
    for (int i = 0; i < kCallers; ++i) {
      goro::go([&] {
        once.call([&] {
          ++calls;
          yield_n(20);  // let the other callers arrive and park
          value = 42;
        });
        if (value != 42) bad = true;
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(calls, 1);
    EXPECT_FALSE(bad.load());
    once.call([&] { ++calls; });
    EXPECT_EQ(calls, 1);
  });
}

// With one P, concurrent callers must park (not spin the thread) while f runs.
TEST(Once, ConcurrentCallersParkWhileFRuns) {
  run_with(1, [] {
    goro::Once once;
    std::atomic<int> returned{0};
    std::atomic<bool> release{false};
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {
      once.call([&] { yield_until([&] { return release.load(); }); });
      returned.fetch_add(1);
      wg.done();
    });
    yield_n(5);
    for (int i = 0; i < 4; ++i) {
      wg.add(1);
      goro::go([&] {
        once.call([] { ADD_FAILURE() << "f ran twice"; });
        returned.fetch_add(1);
        wg.done();
      });
    }
    yield_n(50);
    EXPECT_EQ(returned.load(), 0);
    release = true;
    wg.wait();
    EXPECT_EQ(returned.load(), 5);
  });
}

// Like Go's Once, a call whose f throws still counts: the exception reaches that caller
// and f is never run again.
TEST(Once, ThrowingFunctionCountsAsDone) {
  run_with(1, [] {
    goro::Once once;
    int calls = 0;
    EXPECT_THROW(once.call([&] {
      ++calls;
      throw std::runtime_error("boom");
    }),
                 std::runtime_error);
    once.call([&] { ++calls; });
    EXPECT_EQ(calls, 1);
  });
}

TEST(Once, AcceptsMoveOnlyAndLvalueCallables) {
  run_with(1, [] {
    goro::Once once;
    auto p = std::make_unique<int>(7);
    int got = 0;
    once.call([&got, q = std::move(p)]() mutable { got = *q; });
    EXPECT_EQ(got, 7);
    goro::Once once2;
    auto f = [&got] { got = 8; };
    once2.call(f);
    EXPECT_EQ(got, 8);
  });
}

// ---------------------------------------------------------------------------------------
// Cond

// Waiters enter one at a time, so their tickets are in order 0..N-1; each signal() must
// wake exactly the longest waiter.
TEST(Cond, SignalWakesLongestWaiterFirst) {
  run_with(2, [] {
    goro::Mutex m;
    goro::Cond c;
    constexpr int kWaiters = 6;
    int entered = 0;        // guarded by m
    std::vector<int> woke;  // guarded by m
    goro::WaitGroup wg;
    for (int i = 0; i < kWaiters; ++i) {
      wg.add(1);
      goro::go([&, i] {
        std::unique_lock<goro::Mutex> hold(m);
        ++entered;
        c.wait(hold);  // a wake-up is never spurious here: only signal() wakes
        woke.push_back(i);
        hold.unlock();  // before done(): m lives in the main goroutine's frame
        wg.done();
      });
      // Once we can lock m and see entered == i+1, waiter i has its ticket.
      yield_until([&] {
        std::lock_guard<goro::Mutex> hold(m);
        return entered == i + 1;
      });
    }
    for (int k = 0; k < kWaiters; ++k) {
      c.signal();
      yield_until([&] {
        std::lock_guard<goro::Mutex> hold(m);
        return static_cast<int>(woke.size()) == k + 1;
      });
      std::lock_guard<goro::Mutex> hold(m);
      EXPECT_EQ(woke[k], k);
    }
    wg.wait();
  });
}

TEST(Cond, BroadcastWakesAll) {
  run_with(2, [] {
    goro::Mutex m;
    goro::Cond c;
    bool go_flag = false;  // guarded by m
    int waiting = 0;       // guarded by m
    constexpr int kWaiters = 20;
    std::atomic<int> done{0};
    goro::WaitGroup wg;
    wg.add(kWaiters);
    for (int i = 0; i < kWaiters; ++i) {
      goro::go([&] {
        std::unique_lock<goro::Mutex> hold(m);
        ++waiting;
        c.wait(hold, [&] { return go_flag; });
        done.fetch_add(1);
        hold.unlock();  // before done(): m lives in the main goroutine's frame
        wg.done();
      });
    }
    yield_until([&] {
      std::lock_guard<goro::Mutex> hold(m);
      return waiting == kWaiters;
    });
    {
      std::lock_guard<goro::Mutex> hold(m);
      go_flag = true;
    }
    c.broadcast();
    wg.wait();
    EXPECT_EQ(done.load(), kWaiters);
  });
}

// A signal() with nobody waiting is not remembered: a later waiter stays parked.
TEST(Cond, SignalWithoutWaitersIsNotStored) {
  run_with(2, [] {
    goro::Mutex m;
    goro::Cond c;
    c.signal();
    c.broadcast();
    std::atomic<bool> woke{false};
    bool entered = false;  // guarded by m
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {
      m.lock();
      entered = true;
      c.wait(m);
      woke = true;
      m.unlock();
      wg.done();
    });
    yield_until([&] {
      std::lock_guard<goro::Mutex> hold(m);
      return entered;
    });
    yield_n(50);
    EXPECT_FALSE(woke.load());
    c.signal();
    wg.wait();
    EXPECT_TRUE(woke.load());
  });
}

// Ping-pong through one Cond across two Ps: a lost wake-up hangs the test.
TEST(Cond, NoLostWakeupPingPong) {
  run_with(2, [] {
    goro::Mutex m;
    goro::Cond c;
    int turn = 0;  // guarded by m: 0 ping's turn, 1 pong's turn
    constexpr int kRounds = 20000;
    goro::WaitGroup wg;
    wg.add(2);
    for (int me = 0; me < 2; ++me) {
      goro::go([&, me] {
        for (int r = 0; r < kRounds; ++r) {
          std::unique_lock<goro::Mutex> hold(m);
          c.wait(hold, [&] { return turn == me; });
          turn = 1 - me;
          hold.unlock();
          c.signal();  // signal after unlocking: the window the ticket scheme covers
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(turn, 0);
  });
}

TEST(Cond, WorksWithOtherLockables) {
  run_with(2, [] {
    goro::RWMutex rw;
    goro::Cond c;
    bool ready = false;  // guarded by rw (exclusive)
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {
      std::unique_lock<goro::RWMutex> hold(rw);
      c.wait(hold, [&] { return ready; });
      wg.done();
    });
    yield_n(10);
    {
      std::lock_guard<goro::RWMutex> hold(rw);
      ready = true;
    }
    c.broadcast();
    wg.wait();
  });
}

TEST_F(SyncDeathTest, CondWaitWithUnlockedMutex) {
  EXPECT_DEATH(run_with(1,
                        [] {
                          goro::Mutex m;
                          goro::Cond c;
                          c.wait(m);
                        }),
               "sync: unlock of unlocked mutex");
}

// ---------------------------------------------------------------------------------------
// Semaphore

TEST(Semaphore, CountsTokens) {
  run_with(2, [] {
    goro::Semaphore s(3);
    EXPECT_EQ(s.size(), 3);
    EXPECT_TRUE(s.try_acquire(2));
    EXPECT_TRUE(s.try_acquire());
    EXPECT_FALSE(s.try_acquire());
    EXPECT_TRUE(s.try_acquire(0));
    s.release(3);
    EXPECT_FALSE(s.try_acquire(4));  // larger than the size: simply fails
    s.acquire(3);
    s.release(1);
    s.acquire(1);
    s.release(3);
    EXPECT_TRUE(s.try_acquire(3));
    s.release(3);
  });
}

TEST(Semaphore, Errors) {
  EXPECT_THROW(goro::Semaphore(-1), std::invalid_argument);
  run_with(1, [] {
    goro::Semaphore s(2);
    EXPECT_THROW(s.acquire(3), std::invalid_argument);
    EXPECT_THROW(s.acquire(-1), std::invalid_argument);
    EXPECT_THROW(s.try_acquire(-1), std::invalid_argument);
    EXPECT_THROW(s.release(-1), std::invalid_argument);
    EXPECT_THROW(s.release(1), std::logic_error);
    s.acquire(1);
    EXPECT_THROW(s.release(2), std::logic_error);
    s.release(1);  // the failed release left the count alone
    EXPECT_TRUE(s.try_acquire(2));
    s.release(2);
  });
}

// FIFO with a large request at the head: the small request behind it must wait even
// though it would fit, and try_acquire fails while anyone waits.
TEST(Semaphore, LargeRequestAtHeadBlocksSmallerOnes) {
  run_with(2, [] {
    goro::Semaphore s(10);
    s.acquire(10);
    std::vector<char> order;  // guarded by order_mu
    goro::Mutex order_mu;
    auto note = [&](char c) {
      std::lock_guard<goro::Mutex> hold(order_mu);
      order.push_back(c);
    };
    std::atomic<bool> big_in{false}, small_in{false};
    goro::WaitGroup wg;
    wg.add(2);
    goro::go([&] {
      s.acquire(10);
      big_in = true;
      note('B');
      s.release(10);
      wg.done();
    });
    // try_acquire(0) fails exactly when somebody waits.
    yield_until([&] { return !s.try_acquire(0); });
    goro::go([&] {
      s.acquire(1);
      small_in = true;
      note('s');
      s.release(1);
      wg.done();
    });
    s.release(1);  // 1 token free: enough for the small one, not the big one
    yield_n(50);
    EXPECT_FALSE(big_in.load());
    EXPECT_FALSE(small_in.load()) << "a small request overtook the large one at the head";
    EXPECT_FALSE(s.try_acquire(1)) << "try_acquire must not overtake waiters";
    s.release(9);
    wg.wait();
    ASSERT_EQ(order.size(), 2u);
    EXPECT_EQ(order[0], 'B');
    EXPECT_EQ(order[1], 's');
    EXPECT_TRUE(s.try_acquire(10));
    s.release(10);
  });
}

// One release wakes every front waiter that fits, in order.
TEST(Semaphore, ReleaseWakesAllThatFit) {
  run_with(2, [] {
    goro::Semaphore s(10);
    s.acquire(10);
    std::atomic<int> in{0};
    goro::WaitGroup wg;
    for (int i = 0; i < 3; ++i) {
      wg.add(1);
      goro::go([&] {
        s.acquire(3);
        in.fetch_add(1);
        wg.done();
      });
    }
    yield_n(20);
    EXPECT_EQ(in.load(), 0);
    s.release(10);
    wg.wait();
    EXPECT_EQ(in.load(), 3);
    EXPECT_TRUE(s.try_acquire(1));
    EXPECT_FALSE(s.try_acquire(1));  // 9 + 1 held
  });
}

TEST(Semaphore, BoundsConcurrency) {
  run_with(4, [] {
    goro::Semaphore s(3);
    std::atomic<int> inside{0}, max_inside{0};
    goro::WaitGroup wg;
    constexpr int kWorkers = 20;
    wg.add(kWorkers);
    for (int i = 0; i < kWorkers; ++i) {
      goro::go([&] {
        for (int k = 0; k < 200; ++k) {
          s.acquire();
          const int now = inside.fetch_add(1) + 1;
          int seen = max_inside.load();
          while (now > seen && !max_inside.compare_exchange_weak(seen, now)) {
          }
          goro::yield();
          inside.fetch_sub(1);
          s.release();
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_LE(max_inside.load(), 3);
    EXPECT_GE(max_inside.load(), 1);
    EXPECT_TRUE(s.try_acquire(3));
  });
}

}  // namespace

// --- WaitGroup -----------------------------------------------------------------------------

namespace {

TEST(WaitGroup, CountsDownAndWakesEveryWaiter) {
  goro::run(goro::Config{.max_procs = 2}, [] {
    goro::WaitGroup wg;
    wg.wait();  // zero: returns at once
    constexpr int kWorkers = 100, kWaiters = 8;
    std::atomic<int> finished{0}, woken{0};
    wg.add(kWorkers);
    goro::WaitGroup waiters_done;
    waiters_done.add(kWaiters);
    for (int i = 0; i < kWaiters; ++i) {
      goro::go([&] {
        wg.wait();
        EXPECT_EQ(finished.load(), kWorkers);  // every done() happened before
        woken.fetch_add(1);
        waiters_done.done();
      });
    }
    for (int i = 0; i < kWorkers; ++i) {
      goro::go([&] {
        goro::yield();
        finished.fetch_add(1);
        wg.done();
      });
    }
    wg.wait();
    waiters_done.wait();
    EXPECT_EQ(woken.load(), kWaiters);
    // Reused once every wait() has returned.
    wg.add(1);
    goro::go([&] { wg.done(); });
    wg.wait();
  });
}

TEST(WaitGroup, MisuseIsAnErrorThatLeavesTheCounterAlone) {
  goro::WaitGroup outside;
  outside.add(1);
  EXPECT_THROW(outside.wait(), std::logic_error);  // would block a thread: not a goroutine
  outside.done();
  outside.wait();  // zero: fine anywhere
  goro::run([] {
    goro::WaitGroup wg;
    EXPECT_THROW(wg.done(), std::logic_error);
    wg.add(2);
    EXPECT_THROW(wg.add(-3), std::logic_error);
    wg.done();
    wg.done();
    wg.wait();  // the failed calls changed nothing: two done() brought it to zero
  });
}

// The WaitGroup may be destroyed as soon as wait() returns, while the goroutine whose
// done() brought it to zero is still on its way out of done(): nothing may touch it
// then (on the heap here, so that ASan sees a use after free; a locked counter would
// have to be released before wait() could see zero, an atomic one must not be followed
// by a lock when nobody waits; an earlier attempt at Go's lock-free counter hung here).
TEST(WaitGroup, MayBeDestroyedAsSoonAsWaitReturns) {
  goro::run(goro::Config{.max_procs = 2}, [] {
    for (int i = 0; i < 20000; ++i) {
      auto wg = std::make_unique<goro::WaitGroup>();
      wg->add(2);
      goro::go([w = wg.get()] { w->done(); });
      goro::go([w = wg.get()] { w->done(); });
      if (i % 2 == 0) goro::yield();  // sometimes they finish before the wait, sometimes not
      wg->wait();
      wg.reset();
    }
  });
}

}  // namespace

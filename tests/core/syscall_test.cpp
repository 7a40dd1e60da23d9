// Blocking calls by P hand-off (goro::blocking), sysmon's retake, M reuse, schedtrace.
#include <goro/core/blocking.hpp>
#include <goro/core/time.hpp>
#include <goro/goro.hpp>

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "g.hpp"
#include "m.hpp"
#include "sched.hpp"

using namespace std::chrono_literals;

namespace {

int mcount() {
  goro::detail::sched.lock.lock();
  int n = goro::detail::sched.mcount;
  goro::detail::sched.lock.unlock();
  return n;
}

struct Pipe {
  int fd[2];
  Pipe() { EXPECT_EQ(::pipe(fd), 0); }
  ~Pipe() {
    ::close(fd[0]);
    ::close(fd[1]);
  }
};

// The P of a goroutine stuck in read(2) goes to another M: with one P, a ticker keeps
// ticking while the reader blocks for a second.
TEST(Blocking, TickerKeepsRunningWhileAGoroutineBlocksInRead) {
  goro::run(goro::Config{.max_procs = 1}, [] {
    Pipe p;
    std::thread writer([&] {
      std::this_thread::sleep_for(1s);
      char c = 'x';
      EXPECT_EQ(::write(p.fd[1], &c, 1), 1);
    });
    std::atomic<bool> done{false};
    goro::WaitGroup wg;
    wg.add(2);
    goro::go([&] {
      char c = 0;
      ssize_t n = goro::blocking([&] { return ::read(p.fd[0], &c, 1); });
      EXPECT_EQ(n, 1);
      EXPECT_EQ(c, 'x');
      done = true;
      wg.done();
    });
    std::int64_t worst_ns = 0;
    int ticks = 0;
    goro::go([&] {
      while (!done) {
        auto t0 = goro::Clock::now();
        goro::sleep(1ms);
        auto late = std::chrono::duration_cast<std::chrono::nanoseconds>(goro::Clock::now() - t0 - 1ms).count();
        if (late > worst_ns) worst_ns = late;
        ++ticks;
      }
      wg.done();
    });
    wg.wait();
    writer.join();
    EXPECT_GT(ticks, 100);  // ~1000 expected; the loose bound catches a stalled P
    EXPECT_LT(worst_ns, 100'000'000) << "max lateness " << worst_ns / 1e6 << " ms";
  });
}

TEST(Blocking, ThreadsAreBoundedAndReused) {
  goro::run(goro::Config{.max_procs = 2}, [] {
    for (int round = 0; round < 3; ++round) {
      constexpr int kN = 8;
      std::vector<Pipe> pipes(kN);
      std::atomic<int> entered{0};
      goro::WaitGroup wg;
      wg.add(kN);
      for (int i = 0; i < kN; ++i) {
        goro::go([&, i] {
          char c;
          goro::blocking([&] {
            entered++;
            return ::read(pipes[i].fd[0], &c, 1);
          });
          wg.done();
        });
      }
      while (entered.load() < kN) goro::sleep(1ms);
      goro::sleep(20ms);
      int ms = mcount();
      EXPECT_LE(ms, kN + goro::max_procs() + 3);
      static int after_first = 0;
      if (round == 0) after_first = ms;
      for (auto& p : pipes) {
        char c = 'y';
        EXPECT_EQ(::write(p.fd[1], &c, 1), 1);
      }
      wg.wait();
      if (round > 0) EXPECT_LE(mcount(), after_first + 1) << "Ms were not reused";
    }
  });
}

TEST(Blocking, ShortCallsStayOnTheFastPath) {
  goro::run(goro::Config{.max_procs = 1}, [] {
    int before = mcount();
    long sum = 0;
    for (int i = 0; i < 1'000'000; ++i) sum += goro::blocking([] { return ::getpid(); });
    EXPECT_GT(sum, 0);
    EXPECT_LE(mcount(), before + 1);  // sysmon may rarely catch one call mid-flight
  });
}

TEST(Blocking, ExceptionsAndValuesPropagate) {
  goro::run([] {
    EXPECT_EQ(goro::blocking([] { return 42; }), 42);
    EXPECT_THROW(goro::blocking([]() -> int { throw std::runtime_error("x"); }), std::runtime_error);
    goro::blocking_long([] { std::this_thread::sleep_for(5ms); });
  });
  EXPECT_EQ(goro::blocking([] { return 7; }), 7);  // outside the runtime: a plain call
}

// A goro::blocking (or blocking_long) inside another one's callable is a plain call: the
// goroutine is already off its P. Afterwards it uses the runtime as before.
TEST(Blocking, NestedCallsRunPlainly) {
  goro::run(goro::Config{.max_procs = 1}, [] {
    const int pid = ::getpid();
    EXPECT_EQ(goro::blocking([] { return goro::blocking([] { return ::getpid(); }); }), pid);
    EXPECT_EQ(goro::blocking([] { return goro::blocking_long([] { return ::getpid(); }); }), pid);
    EXPECT_EQ(goro::blocking_long([] { return goro::blocking([] { return ::getpid(); }); }), pid);
    EXPECT_THROW(goro::blocking([] {
                   goro::blocking([]() -> int { throw std::runtime_error("inner"); });
                 }),
                 std::runtime_error);
    goro::Chan<int> ch(1);
    goro::go([&] { ch.send(goro::blocking([] { return 5; })); });
    goro::sleep(1ms);
    EXPECT_EQ(ch.recv().value_or(0), 5);
  });
}

// Waking a goroutine from inside a call (a channel send to a waiting receiver) needs no
// P of its own: the woken one goes to the global queue, even while the P the call gave
// up runs something else on another thread. Starting one is refused.
TEST(Blocking, WakingOthersInsideACallNeedsNoP) {
  goro::run(goro::Config{.max_procs = 1}, [] {
    for (int round = 0; round < 20; ++round) {
      goro::Chan<int> ch(0);
      goro::WaitGroup wg;
      wg.add(2);
      int got = 0;
      goro::go([&] {
        got = ch.recv().value_or(-1);
        wg.done();
      });
      goro::go([&] { wg.done(); });  // runnable: sysmon hands our P off during the call
      goro::sleep(1ms);              // the receiver parks
      goro::blocking([&] {
        if (round % 2 == 0) std::this_thread::sleep_for(3ms);
        ch.send(round + 1);
      });
      wg.wait();
      EXPECT_EQ(got, round + 1);
    }
    EXPECT_THROW(goro::blocking([] { goro::go([] {}); }), std::logic_error);
  });
}

// A call whose P was taken while it ran (it sleeps 30 ms; with one P and a goroutine
// waiting to run, sysmon hands the P off), then throws: the exception leaves through the
// slow exit, which may move the goroutine to another thread inside the catch block.
TEST(Blocking, AnExceptionAfterThePWasTakenPropagates) {
  goro::run(goro::Config{.max_procs = 1}, [] {
    const auto takes = goro::detail::sched.nsyscall_takes.load();
    std::atomic<bool> ran{false};
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {
      ran = true;
      wg.done();
    });
    for (int i = 0; i < 3; ++i) {
      try {
        goro::blocking([] {
          std::this_thread::sleep_for(30ms);
          throw std::runtime_error("late");
        });
        ADD_FAILURE() << "no exception";
      } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "late");
      }
      EXPECT_EQ(std::uncaught_exceptions(), 0);
    }
    wg.wait();
    EXPECT_TRUE(ran.load());
    EXPECT_GT(goro::detail::sched.nsyscall_takes.load(), takes);
    // The runtime still works from here: a nested try on whatever thread we are on now.
    try {
      throw std::logic_error("after");
    } catch (const std::logic_error& e) {
      EXPECT_STREQ(e.what(), "after");
    }
  });
}

// A goroutine inside a call shows as Go shows it: status 3 (syscall), and its M blocked,
// whether or not its P has been handed off meanwhile.
TEST(SchedTrace, ShowsAGoroutineInACall) {
  goro::run(goro::Config{.max_procs = 2}, [] {
    Pipe p;
    std::atomic<std::uint64_t> id{0};
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {
      id = goro::detail::current_m()->curg->id;
      char c = 0;
      EXPECT_EQ(goro::blocking([&] { return ::read(p.fd[0], &c, 1); }), 1);
      wg.done();
    });
    std::string detail;
    for (int i = 0; i < 200; ++i) {
      goro::sleep(1ms);
      if (id.load() == 0) continue;
      detail = goro::sched_trace(true);
      if (detail.find("G" + std::to_string(id.load()) + ": status=3()") != std::string::npos) {
        break;
      }
    }
    EXPECT_NE(detail.find("G" + std::to_string(id.load()) + ": status=3()"), std::string::npos)
        << detail;
    EXPECT_NE(detail.find("blocked=true"), std::string::npos) << detail;
    char c = 'x';
    EXPECT_EQ(::write(p.fd[1], &c, 1), 1);
    wg.wait();
    detail = goro::sched_trace(true);
    EXPECT_EQ(detail.find("blocked=true"), std::string::npos) << detail;
  });
}

class BlockingFatal : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// Inside the callable the goroutine has no P of its own: parking there is refused with a
// clear message, on the fast path as after blocking_long.
TEST_F(BlockingFatal, ParkingInsideACallIsReported) {
  EXPECT_EXIT(goro::run([] { goro::blocking([] { goro::sleep(1ms); }); }),
              ::testing::ExitedWithCode(2), "used the runtime inside goro::blocking");
  EXPECT_EXIT(goro::run([] { goro::blocking_long([] { goro::sleep(1ms); }); }),
              ::testing::ExitedWithCode(2), "used the runtime inside goro::blocking");
}

TEST(SchedTrace, ParsesAndMatchesState) {
  goro::run(goro::Config{.max_procs = 2}, [] {
    const int ms_before = mcount();
    std::string line = goro::sched_trace();
    const int ms_after = mcount();  // an M may start meanwhile (a wakep after a preemption)
    std::smatch m;
    std::regex re(
        R"(gomaxprocs=(\d+) idleprocs=(\d+) threads=(\d+) spinningthreads=(\d+) needspinning=0 )"
        R"(idlethreads=(\d+) runqueue=(\d+) \[(\d+) (\d+)\] schedticks=\[(\d+) (\d+)\]\n)");
    ASSERT_TRUE(std::regex_match(line, m, re)) << line;
    EXPECT_EQ(std::stoi(m[1]), 2);
    EXPECT_LE(std::stoi(m[2]), 1);       // at least our P runs
    EXPECT_GE(std::stoi(m[3]), ms_before + 1);  // Ms plus sysmon
    EXPECT_LE(std::stoi(m[3]), ms_after + 1);
    std::string detail = goro::sched_trace(true);
    EXPECT_NE(detail.find("P0: status=1"), std::string::npos) << detail;
    EXPECT_NE(detail.find("G1: status=2()"), std::string::npos) << detail;
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] { wg.wait(); });
    goro::sleep(5ms);
    detail = goro::sched_trace(true);
    EXPECT_NE(detail.find("status=4(sync.WaitGroup"), std::string::npos) << detail;
    wg.done();
  });
}

}  // namespace

// chan_test.cpp — goro::Chan<T> semantics: unbuffered and buffered send/receive, close
// and its error cases, nil channels, non-blocking operations, FIFO service of waiters,
// direct hand-off, range iteration, move-only and over-aligned elements, element
// lifetimes, and use from outside goroutines. No timing assertions: "X is blocked" is
// established by the runtime's own view (ParkSpot) or by bounded yielding.
#include <goro/core/chan.hpp>
#include <goro/core/runtime.hpp>
#include <goro/core/wait_group.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "chan_test_util.hpp"

namespace {

using goro::Chan;
using goro::ChanClosedError;
using goro_test::Group;
using goro_test::ParkSpot;
using goro_test::run_with;
using goro_test::Tracked;
using goro_test::yield_n;
using goro_test::yield_until;

TEST(Chan, UnbufferedDeliversInOrder) {
  for (int procs : {1, 2}) {
    run_with(procs, [] {
      Chan<int> ch(0);
      EXPECT_EQ(ch.cap(), 0u);
      Group group;
      group.go([ch]() mutable {
        for (int i = 0; i < 1000; ++i) ch.send(i);
      });
      for (int i = 0; i < 1000; ++i) {
        std::optional<int> v = ch.recv();
        ASSERT_TRUE(v.has_value());
        EXPECT_EQ(*v, i);
      }
      group.wait();
    });
  }
}

TEST(Chan, UnbufferedSendWaitsForAReceiver) {
  run_with(2, [] {
    Chan<int> ch = goro::make_chan<int>();
    std::atomic<bool> sent{false};
    ParkSpot spot;
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {
      spot.announce();
      ch.send(7);
      sent.store(true);
      wg.done();
    });
    ASSERT_TRUE(spot.wait());
    yield_n(50);
    EXPECT_FALSE(sent.load());  // nobody received yet
    EXPECT_EQ(ch.recv(), 7);
    wg.wait();
    EXPECT_TRUE(sent.load());
  });
}

TEST(Chan, BufferedFillsThenBlocks) {
  run_with(1, [] {
    Chan<int> ch(3);
    EXPECT_EQ(ch.cap(), 3u);
    EXPECT_EQ(ch.len(), 0u);
    EXPECT_TRUE(ch.try_send(1));
    EXPECT_TRUE(ch.try_send(2));
    EXPECT_TRUE(ch.try_send(3));
    EXPECT_EQ(ch.len(), 3u);
    EXPECT_FALSE(ch.try_send(4));  // full
    EXPECT_EQ(ch.recv(), 1);
    EXPECT_TRUE(ch.try_send(4));
    EXPECT_EQ(ch.recv(), 2);
    EXPECT_EQ(ch.recv(), 3);
    EXPECT_EQ(ch.recv(), 4);
    EXPECT_EQ(ch.len(), 0u);
    auto r = ch.try_recv();
    EXPECT_FALSE(r);
    EXPECT_TRUE(r.would_block());
    EXPECT_EQ(r.status(), goro::RecvStatus::kWouldBlock);
  });
}

TEST(Chan, BufferedWrapsAroundManyTimes) {
  run_with(2, [] {
    Chan<int> ch(5);
    Group group;
    group.go([ch]() mutable {
      for (int i = 0; i < 10000; ++i) ch.send(i);
      ch.close();
    });
    int expect = 0;
    while (std::optional<int> v = ch.recv()) EXPECT_EQ(*v, expect++);
    EXPECT_EQ(expect, 10000);
    group.wait();
  });
}

TEST(Chan, CloseDrainsBufferThenReportsClosed) {
  run_with(1, [] {
    Chan<std::string> ch(4);
    ch.send("a");
    ch.send(std::string("b"));
    ch.close();
    EXPECT_EQ(ch.recv(), "a");
    auto r = ch.try_recv();
    ASSERT_TRUE(r.received());
    EXPECT_EQ(*r, "b");
    EXPECT_EQ(ch.recv(), std::nullopt);
    EXPECT_EQ(ch.recv(), std::nullopt);  // forever
    EXPECT_TRUE(ch.try_recv().closed());
    EXPECT_EQ(ch.try_recv().status(), goro::RecvStatus::kClosed);
  });
}

TEST(Chan, SendOnClosedThrows) {
  run_with(1, [] {
    for (std::size_t cap : {0u, 1u, 8u}) {
      Chan<int> ch(cap);
      ch.close();
      try {
        ch.send(1);
        ADD_FAILURE() << "send on closed channel did not throw";
      } catch (const ChanClosedError& e) {
        EXPECT_STREQ(e.what(), "send on closed channel");
      }
      EXPECT_THROW(ch.try_send(1), ChanClosedError);  // even the non-blocking form
      EXPECT_THROW(ch.send(1), std::logic_error);      // it is a logic_error
    }
  });
}

TEST(Chan, CloseTwiceThrows) {
  run_with(1, [] {
    Chan<int> ch(1);
    ch.close();
    try {
      ch.close();
      ADD_FAILURE() << "second close did not throw";
    } catch (const ChanClosedError& e) {
      EXPECT_STREQ(e.what(), "close of closed channel");
    }
  });
}

TEST(Chan, CloseNilThrows) {
  run_with(1, [] {
    Chan<int> nil;
    try {
      nil.close();
      ADD_FAILURE() << "close of nil channel did not throw";
    } catch (const std::logic_error& e) {
      EXPECT_STREQ(e.what(), "close of nil channel");
    }
  });
}

TEST(Chan, BlockedSenderThrowsWhenClosed) {
  for (std::size_t cap : {0u, 2u}) {
    run_with(2, [cap] {
      Chan<int> ch(cap);
      for (std::size_t i = 0; i < cap; ++i) ch.send(static_cast<int>(i));  // fill
      constexpr int kSenders = 4;
      std::atomic<int> threw{0};
      ParkSpot spots[kSenders];
      goro::WaitGroup wg;
      for (int s = 0; s < kSenders; ++s) {
        wg.add(1);
        goro::go([&, s] {
          spots[s].announce();
          try {
            ch.send(100 + s);
            ADD_FAILURE() << "blocked send completed on a channel nobody reads";
          } catch (const ChanClosedError& e) {
            EXPECT_STREQ(e.what(), "send on closed channel");
            threw.fetch_add(1);
          }
          wg.done();
        });
      }
      for (auto& s : spots) ASSERT_TRUE(s.wait());
      ch.close();
      wg.wait();
      EXPECT_EQ(threw.load(), kSenders);
      // The buffered values sent before close are still there; the senders' are not.
      for (std::size_t i = 0; i < cap; ++i) EXPECT_EQ(ch.recv(), static_cast<int>(i));
      EXPECT_EQ(ch.recv(), std::nullopt);
    });
  }
}

TEST(Chan, BlockedReceiversWakeWithNulloptOnClose) {
  run_with(2, [] {
    Chan<int> ch(0);
    constexpr int kReceivers = 8;
    std::atomic<int> closed_seen{0};
    ParkSpot spots[kReceivers];
    goro::WaitGroup wg;
    for (int r = 0; r < kReceivers; ++r) {
      wg.add(1);
      goro::go([&, r] {
        spots[r].announce();
        if (!ch.recv().has_value()) closed_seen.fetch_add(1);
        wg.done();
      });
    }
    for (auto& s : spots) ASSERT_TRUE(s.wait());
    ch.close();
    wg.wait();
    EXPECT_EQ(closed_seen.load(), kReceivers);
  });
}

TEST(Chan, NilChannelBlocksForeverAndNeverSucceeds) {
  run_with(2, [] {
    Chan<int> nil;
    EXPECT_FALSE(static_cast<bool>(nil));
    EXPECT_EQ(nil.len(), 0u);
    EXPECT_EQ(nil.cap(), 0u);
    EXPECT_FALSE(nil.try_send(1));
    EXPECT_TRUE(nil.try_recv().would_block());
    EXPECT_TRUE(nil == Chan<int>());
    EXPECT_FALSE(nil == Chan<int>(0));

    // A goroutine blocked on a nil channel stays blocked; run() abandons it at the end.
    std::atomic<int> progressed{0};
    ParkSpot recv_spot, send_spot;
    goro::go([&] {
      Chan<int> n;
      recv_spot.announce();
      n.recv();
      progressed.fetch_add(1);
    });
    goro::go([&] {
      Chan<int> n;
      send_spot.announce();
      n.send(1);
      progressed.fetch_add(1);
    });
    ASSERT_TRUE(recv_spot.wait());
    ASSERT_TRUE(send_spot.wait());
    yield_n(200);
    EXPECT_EQ(progressed.load(), 0);
    EXPECT_TRUE(recv_spot.parked());
    EXPECT_TRUE(send_spot.parked());
  });
}

TEST(Chan, HandlesShareOneChannel) {
  run_with(1, [] {
    Chan<int> a(2);
    Chan<int> b = a;
    EXPECT_TRUE(a == b);
    b.send(5);
    EXPECT_EQ(a.len(), 1u);
    EXPECT_EQ(a.recv(), 5);
    Chan<int> c;
    c = b;
    Chan<int> d(std::move(c));
    EXPECT_FALSE(static_cast<bool>(c));  // NOLINT(bugprone-use-after-move): moved-from is nil
    d.close();
    EXPECT_EQ(a.recv(), std::nullopt);
    Chan<int> e(1);
    EXPECT_FALSE(a == e);
    e = std::move(d);
    EXPECT_TRUE(e == a);
  });
}

TEST(Chan, MoveOnlyElements) {
  run_with(2, [] {
    for (std::size_t cap : {0u, 1u, 16u}) {
      Chan<std::unique_ptr<int>> ch(cap);
      Group group;
      group.go([ch]() mutable {
        for (int i = 0; i < 100; ++i) ch.send(std::make_unique<int>(i));
        ch.close();
      });
      int i = 0;
      for (std::unique_ptr<int>& p : ch) {
        EXPECT_NE(p, nullptr);
        if (p != nullptr) {
          EXPECT_EQ(*p, i);
        }
        ++i;
      }
      EXPECT_EQ(i, 100);
      group.wait();
    }
    // A failed try_send leaves the value with the caller.
    Chan<std::unique_ptr<int>> full(1);
    EXPECT_TRUE(full.try_send(std::make_unique<int>(1)));
    auto p = std::make_unique<int>(2);
    EXPECT_FALSE(full.try_send(std::move(p)));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p, 2);
    auto r = full.try_recv();
    ASSERT_TRUE(r);
    EXPECT_EQ(**r, 1);
  });
}

TEST(Chan, ReceiversAreServedFifo) {
  run_with(2, [] {
    Chan<int> ch(0);
    constexpr int kN = 16;
    int got[kN];
    ParkSpot spots[kN];
    goro::WaitGroup wg;
    // Park the receivers one by one, so the queue order is known.
    for (int r = 0; r < kN; ++r) {
      wg.add(1);
      goro::go([&, r] {
        spots[r].announce();
        got[r] = ch.recv().value_or(-1);
        wg.done();
      });
      ASSERT_TRUE(spots[r].wait());
    }
    for (int i = 0; i < kN; ++i) ch.send(i);
    wg.wait();
    for (int r = 0; r < kN; ++r) EXPECT_EQ(got[r], r) << "receiver " << r;
  });
}

TEST(Chan, SendersAreServedFifo) {
  for (std::size_t cap : {0u, 3u}) {
    run_with(2, [cap] {
      Chan<int> ch(cap);
      int next = 0;
      for (std::size_t i = 0; i < cap; ++i) ch.send(next++);  // fill the buffer
      constexpr int kN = 16;
      ParkSpot spots[kN];
      goro::WaitGroup wg;
      for (int s = 0; s < kN; ++s) {
        wg.add(1);
        const int v = next++;
        goro::go([&, s, v] {
          spots[s].announce();
          ch.send(v);
          wg.done();
        });
        ASSERT_TRUE(spots[s].wait());
      }
      // Buffered values first, then the parked senders' in the order they parked: a
      // receive from a full buffer takes the head and moves the oldest sender's value
      // in at the tail.
      for (int i = 0; i < next; ++i) EXPECT_EQ(ch.recv(), i);
      wg.wait();
      EXPECT_EQ(ch.len(), 0u);
    });
  }
}

TEST(Chan, SendHandsOffStraightToAParkedReceiver) {
  run_with(1, [] {
    // With a parked receiver, a send completes without the buffer: len stays 0 and the
    // receiver has the value even though the buffer has room.
    Chan<int> ch(4);
    ParkSpot spot;
    std::atomic<int> got{-1};
    goro::go([&] {
      spot.announce();
      got.store(ch.recv().value_or(-2));
    });
    ASSERT_TRUE(spot.wait());
    EXPECT_TRUE(ch.try_send(42));  // try_send succeeds on a parked receiver
    EXPECT_EQ(ch.len(), 0u);
    ASSERT_TRUE(yield_until([&] { return got.load() != -1; }));
    EXPECT_EQ(got.load(), 42);
  });
}

TEST(Chan, TryRecvTakesFromAParkedSender) {
  run_with(1, [] {
    Chan<int> ch(0);
    EXPECT_FALSE(ch.try_send(1));  // unbuffered, nobody waiting
    EXPECT_TRUE(ch.try_recv().would_block());
    ParkSpot spot;
    goro::go([&] {
      spot.announce();
      ch.send(9);
    });
    ASSERT_TRUE(spot.wait());
    auto r = ch.try_recv();
    ASSERT_TRUE(r.received());
    EXPECT_EQ(*r, 9);
  });
}

TEST(Chan, RangeIterationUntilClosed) {
  run_with(2, [] {
    Chan<int> ch(8);
    Group group;
    group.go([ch]() mutable {
      for (int i = 1; i <= 1000; ++i) ch.send(i);
      ch.close();
    });
    long sum = 0;
    int count = 0;
    for (int& v : ch) {
      sum += v;
      ++count;
    }
    EXPECT_EQ(count, 1000);
    EXPECT_EQ(sum, 1000L * 1001 / 2);

    // Iterating a closed, drained channel yields nothing; breaking out early is fine.
    for (int& v : ch) ADD_FAILURE() << "got " << v;
    Chan<int> ch2(4);
    for (int i = 0; i < 4; ++i) ch2.send(i);
    for (int& v : ch2) {
      if (v == 1) break;
    }
    EXPECT_EQ(ch2.recv(), 2);
    group.wait();
    static_assert(std::input_iterator<Chan<int>::iterator>);
    static_assert(std::ranges::input_range<Chan<int>>);
  });
}

TEST(Chan, ElementLifetimesAreExact) {
  const long before = Tracked::live.load();
  run_with(2, [] {
    {
      Chan<Tracked> ch(8);
      for (int i = 0; i < 5; ++i) ch.send(Tracked(i));
      EXPECT_EQ(ch.recv()->v, 0);
      // 4 buffered values remain; the channel dies with them.
    }
    {
      Chan<Tracked> ch(0);
      goro::WaitGroup wg;
      wg.add(1);
      goro::go([&] {
        for (int i = 0; i < 100; ++i) ch.send(Tracked(i));
        ch.close();
        wg.done();
      });
      int n = 0;
      for (Tracked& t : ch) EXPECT_EQ(t.v, n++);
      wg.wait();
      EXPECT_EQ(n, 100);
    }
    {
      // Receivers discarding values still destroy them.
      Chan<Tracked> ch(3);
      ch.send(Tracked(1));
      ch.send(Tracked(2));
      ch.close();
      while (ch.try_recv()) {
      }
    }
  });
  EXPECT_EQ(Tracked::live.load(), before);
}

struct alignas(64) Wide {
  unsigned char bytes[192];
  int id;
};

TEST(Chan, OverAlignedAndLargeElements) {
  run_with(2, [] {
    Chan<Wide> ch(3);
    Group group;
    group.go([ch]() mutable {
      for (int i = 0; i < 500; ++i) {
        Wide w{};
        w.id = i;
        for (auto& b : w.bytes) b = static_cast<unsigned char>(i);
        ch.send(w);
      }
      ch.close();
    });
    int i = 0;
    for (Wide& w : ch) {
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(&w) % 64, 0u);
      EXPECT_EQ(w.id, i);
      EXPECT_EQ(w.bytes[191], static_cast<unsigned char>(i));
      ++i;
    }
    EXPECT_EQ(i, 500);
    group.wait();
  });
}

TEST(Chan, ForeignThreadsUseNonBlockingOperations) {
  // try_send/try_recv/close need no goroutine; blocking outside one is an error.
  Chan<int> ch(1);
  EXPECT_TRUE(ch.try_send(1));
  EXPECT_THROW(ch.send(2), std::logic_error);  // would block outside a goroutine
  EXPECT_EQ(ch.try_recv().value(), 1);
  EXPECT_THROW(ch.recv(), std::logic_error);

  // The runtime cannot see a foreign thread coming: without this it would rightly call
  // "all goroutines asleep" a deadlock while the thread is still starting.
  goro::run(goro::Config{.max_procs = 2, .detect_deadlocks = false}, [&] {
    // A plain thread wakes a parked goroutine (ready() from outside the runtime).
    Chan<int> in(0);
    ParkSpot spot;
    std::atomic<int> got{0};
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {
      spot.announce();
      for (int i = 0; i < 1000; ++i) got.fetch_add(in.recv().value_or(0));
      wg.done();
    });
    ASSERT_TRUE(spot.wait());
    std::thread t([&] {
      for (int i = 0; i < 1000; ++i) {
        while (!in.try_send(1)) std::this_thread::yield();
      }
    });
    wg.wait();
    t.join();
    EXPECT_EQ(got.load(), 1000);
  });
}

TEST(Chan, PingPong) {
  for (int procs : {1, 2}) {
    run_with(procs, [] {
      Chan<int> ping(0), pong(0);
      Group group;
      group.go([ping, pong]() mutable {
        while (std::optional<int> v = ping.recv()) pong.send(*v + 1);
        pong.close();
      });
      int v = 0;
      for (int i = 0; i < 20000; ++i) {
        ping.send(v);
        v = *pong.recv();
      }
      ping.close();
      EXPECT_EQ(pong.recv(), std::nullopt);
      EXPECT_EQ(v, 20000);
      group.wait();
    });
  }
}

}  // namespace

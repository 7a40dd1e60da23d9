// goro::net reads that wait without a failing read first: after a read that left the
// socket empty (a short read, and no FIN seen by the poller), the next read parks on the
// poller at once instead of calling read(2) for an EAGAIN (net/src/fd.cpp, Fd::read;
// net/src/netpoll.cpp, poll_wait_quiet). These tests check that such reads keep the
// semantics of the plain path — data, EOF (also when the FIN came with the data),
// reset, deadlines, close from another goroutine — and that the path is taken.
#include <goro/net.hpp>

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "../../net/src/conn_access.hpp"  // the Fd under a Conn (next_read_waits_first)
#include "net_test_util.hpp"

using namespace std::chrono_literals;
namespace net = goro::net;
using goro::Clock;

namespace {

struct Pair {
  net::Listener ln;
  net::Conn client;
  net::Conn server;
};

Pair make_pair() {
  Pair p;
  p.ln = net::listen("127.0.0.1:0");
  goro::Chan<net::Conn> accepted(1);
  goro::go([&p, accepted]() mutable { accepted.send(p.ln.accept()); });
  p.client = net::dial(p.ln.local_address(), 5s);
  p.server = std::move(*accepted.recv());
  return p;
}

bool waits_first(net::Conn& c) { return net::detail::ConnAccess::fd(c)->next_read_waits_first(); }

// Reads one message that the peer wrote whole, so that the socket is empty afterwards.
std::string read_some(net::Conn& c) {
  char buf[256];
  std::size_t n = c.read(buf, sizeof buf);
  return std::string(buf, n);
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Runs fn in another goroutine after `delay` (none if zero); the destructor waits until
// fn has returned. A test's helper goroutine uses the test's locals (a Conn it writes to
// or closes, which may still be inside close() after the reader woke): they must outlive
// it, and run() must not end with it abandoned (ASan reports what it still held).
class Later {
 public:
  template <class F>
  Later(std::chrono::milliseconds delay, F fn) {
    done_.add(1);
    goro::go([this, delay, fn]() mutable {
      if (delay > std::chrono::milliseconds::zero()) goro::sleep(delay);
      fn();
      done_.done();
    });
  }
  ~Later() { done_.wait(); }
  Later(const Later&) = delete;
  Later& operator=(const Later&) = delete;

 private:
  goro::WaitGroup done_;
};

TEST(QuietRead, AReadThatEmptiesTheSocketMakesTheNextWaitFirst) {
  goro::run([] {
    Pair p = make_pair();
    p.server.write("hello");
    EXPECT_EQ(read_some(p.client), "hello");
    EXPECT_TRUE(waits_first(p.client));
    // A read that leaves bytes behind does not.
    p.server.write("0123456789");
    goro::sleep(20ms);  // all ten bytes queued
    char two[2];
    EXPECT_EQ(p.client.read(two, sizeof two), 2u);
    EXPECT_FALSE(waits_first(p.client));
    EXPECT_EQ(read_some(p.client), "23456789");
    EXPECT_TRUE(waits_first(p.client));
  });
}

TEST(QuietRead, DataWrittenLaterWakesTheReader) {
  goro::run([] {
    Pair p = make_pair();
    for (int i = 0; i < 50; ++i) {
      std::string msg = "m" + std::to_string(i);
      // Sometimes before the park, sometimes after.
      Later writer(msg.size() % 2 == 0 ? 1ms : 0ms, [&p, msg] { p.server.write(msg); });
      EXPECT_EQ(read_some(p.client), msg);
      EXPECT_TRUE(waits_first(p.client));
    }
  });
}

// The FIN came with the data (both queued before the read, and their edges already
// taken by the poller): the read that returns the data is short, but the poller saw the
// FIN (EPOLLRDHUP), so the next read makes the system call and sees EOF instead of
// waiting for an edge that never comes. With 1 P the writer's write and close run back
// to back while the reader is parked, so the poller takes both edges before the reader
// runs again.
TEST(QuietRead, DataAndFinQueuedTogetherEndInEof) {
  goro::Config cfg;
  cfg.max_procs = 1;
  goro::run(cfg, [] {
    for (int i = 0; i < 50; ++i) {
      Pair p = make_pair();
      Later writer(1ms, [&p, i] {  // the reader is parked by now
        p.server.write("last words");
        if (i % 2 == 0) {
          p.server.close();
        } else {
          p.server.shutdown_write();
        }
      });
      p.client.set_read_deadline(Clock::now() + 2s);  // a hang fails as a timeout
      std::string got;
      char buf[64];
      std::error_code ec;
      for (;;) {
        std::size_t n = p.client.read(buf, sizeof buf, ec);
        if (ec) break;
        got.append(buf, n);
      }
      ASSERT_EQ(ec, net::Errc::kEof) << ec.message();
      EXPECT_EQ(got, "last words");
    }
  });
}

TEST(QuietRead, FinAfterTheQuietReadEndsInEof) {
  goro::run([] {
    Pair p = make_pair();
    p.server.write("x");
    EXPECT_EQ(read_some(p.client), "x");
    ASSERT_TRUE(waits_first(p.client));
    Later closer(20ms, [&p] { p.server.shutdown_write(); });
    p.client.set_read_deadline(Clock::now() + 5s);
    char buf[8];
    std::error_code ec;
    EXPECT_EQ(p.client.read(buf, sizeof buf, ec), 0u);
    EXPECT_EQ(ec, net::Errc::kEof) << ec.message();
  });
}

TEST(QuietRead, PeerResetWakesTheReaderWithAnError) {
  goro::run([] {
    Pair p = make_pair();
    p.server.write("x");
    EXPECT_EQ(read_some(p.client), "x");
    ASSERT_TRUE(waits_first(p.client));
    Later closer(20ms, [&p] {
      p.server.set_linger(true, 0s);  // close sends a reset
      p.server.close();
    });
    p.client.set_read_deadline(Clock::now() + 5s);
    char buf[8];
    std::error_code ec;
    p.client.read(buf, sizeof buf, ec);
    EXPECT_TRUE(ec);
    EXPECT_NE(ec, net::Errc::kTimeout) << ec.message();
  });
}

TEST(QuietRead, DeadlineStillEndsTheWait) {
  goro::run([] {
    Pair p = make_pair();
    p.server.write("x");
    EXPECT_EQ(read_some(p.client), "x");
    ASSERT_TRUE(waits_first(p.client));
    p.client.set_read_deadline(Clock::now() + 50ms);
    auto t0 = Clock::now();
    char buf[8];
    std::error_code ec;
    EXPECT_EQ(p.client.read(buf, sizeof buf, ec), 0u);
    EXPECT_EQ(ec, net::Errc::kTimeout);
    EXPECT_GE(ms_since(t0), 40);
    // A deadline already passed fails at once, as before.
    EXPECT_EQ(p.client.read(buf, sizeof buf, ec), 0u);
    EXPECT_EQ(ec, net::Errc::kTimeout);
    // And data still flows once the deadline is lifted.
    p.client.set_read_deadline(net::kNoDeadline);
    p.server.write("y");
    EXPECT_EQ(read_some(p.client), "y");
  });
}

TEST(QuietRead, CloseFromAnotherGoroutineWakesTheReader) {
  goro::run([] {
    Pair p = make_pair();
    p.server.write("x");
    EXPECT_EQ(read_some(p.client), "x");
    ASSERT_TRUE(waits_first(p.client));
    {
      // The closer may still be inside close() (it waits for our read to let go) when
      // the read returns: Later's end waits for it (ASan saw the Fd leak without).
      Later closer(20ms, [&p] { p.client.close(); });
      char buf[8];
      std::error_code ec;
      EXPECT_EQ(p.client.read(buf, sizeof buf, ec), 0u);
      EXPECT_EQ(ec, net::Errc::kClosed) << ec.message();
    }
  });
}

// Many connections, each a stream of random-sized writes at random moments and a close;
// the readers must get every byte, in order, and EOF. With 2 Ps the poller's edges race
// the readers' checks on the other CPU.
void random_streams(int procs) {
  goro::Config cfg;
  cfg.max_procs = procs;
  goro::run(cfg, [] {
    net::Listener ln = net::listen("127.0.0.1:0");
    constexpr int kConns = 64;
    std::atomic<int> good{0};  // relaxed: read after the WaitGroup's wait
    goro::WaitGroup wg;
    wg.add(2 * kConns);
    goro::go([&] {
      for (int i = 0; i < kConns; ++i) {
        auto c = std::make_shared<net::Conn>(ln.accept());
        goro::go([c, &good, &wg] {
          std::uint64_t off = 0;
          std::vector<unsigned char> buf(4096), want(4096);
          std::error_code ec;
          bool ok = true;
          c->set_read_deadline(Clock::now() + 20s);
          for (;;) {
            std::size_t n = c->read(buf.data(), buf.size(), ec);
            if (ec) break;
            net_test::fill_pattern(7, off, want.data(), n);  // accept order is not dial order
            if (std::memcmp(buf.data(), want.data(), n) != 0) ok = false;
            off += n;
          }
          if (ok && ec == net::Errc::kEof && off == 20000) good.fetch_add(1, std::memory_order_relaxed);
          wg.done();
        });
      }
    });
    for (int i = 0; i < kConns; ++i) {
      goro::go([&, i] {
        net::Conn c = net::dial(ln.local_address(), 5s);
        std::mt19937 rng(static_cast<unsigned>(i));
        std::vector<unsigned char> out(2000);
        std::uint64_t off = 0;
        while (off < 20000) {
          std::size_t n = std::min<std::uint64_t>(1 + rng() % 2000, 20000 - off);
          net_test::fill_pattern(7, off, out.data(), n);
          c.write(out.data(), n);
          off += n;
          if (rng() % 4 == 0) goro::sleep(std::chrono::microseconds(rng() % 300));
          if (rng() % 3 == 0) goro::yield();
        }
        if (i % 2 == 0) c.shutdown_write();  // the FIN right behind the last bytes, or with close
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(good.load(std::memory_order_relaxed), kConns);
  });
}

TEST(QuietRead, RandomStreamsArriveWholeOneP) { random_streams(1); }
TEST(QuietRead, RandomStreamsArriveWholeTwoPs) { random_streams(2); }

// Conn::wait_readable: waits as a read would (first on the poller after a read that
// emptied the socket, else after a peek), reads nothing, and ends on data, EOF (reported
// by the read after it), a deadline or a close.
TEST(WaitReadable, ReturnsWhenDataArrivesAndConsumesNothing) {
  goro::run([] {
    Pair p = make_pair();
    for (int round = 0; round < 2; ++round) {  // round 0: peek path; 1: after a quiet read
      EXPECT_EQ(waits_first(p.client), round == 1);
      auto t0 = Clock::now();
      Later writer(50ms, [&p] { p.server.write("ping"); });
      std::error_code ec;
      p.client.wait_readable(ec);
      EXPECT_FALSE(ec) << ec.message();
      EXPECT_GE(ms_since(t0), 40);
      EXPECT_EQ(read_some(p.client), "ping");  // all of it still there
    }
    // Data already queued: no wait at all, on either path.
    p.server.write("now");
    goro::sleep(20ms);
    std::error_code ec;
    p.client.wait_readable(ec);
    EXPECT_FALSE(ec);
    EXPECT_EQ(read_some(p.client), "now");
  });
}

TEST(WaitReadable, EndOfStreamIsReadableAndTheReadReportsIt) {
  goro::run([] {
    Pair p = make_pair();
    p.server.write("last");
    EXPECT_EQ(read_some(p.client), "last");
    Later closer(30ms, [&p] { p.server.close(); });
    std::error_code ec;
    p.client.wait_readable(ec);
    EXPECT_FALSE(ec) << ec.message();
    char buf[8];
    EXPECT_EQ(p.client.read(buf, sizeof buf, ec), 0u);
    EXPECT_EQ(ec, net::Errc::kEof);
  });
}

TEST(WaitReadable, DeadlineAndCloseEndTheWait) {
  goro::run([] {
    Pair p = make_pair();
    p.client.set_read_deadline(Clock::now() + 80ms);
    auto t0 = Clock::now();
    std::error_code ec;
    p.client.wait_readable(ec);
    EXPECT_EQ(ec, net::Errc::kTimeout);
    EXPECT_GE(ms_since(t0), 70);
    EXPECT_LT(ms_since(t0), 2000);
    p.client.set_read_deadline(net::kNoDeadline);
    // A close from another goroutine wakes it with kClosed.
    goro::Chan<std::error_code> got(1);
    {
      Later waiter(0ms, [&p, &got] {
        std::error_code e;
        p.client.wait_readable(e);
        got.send(e);
      });
      goro::sleep(30ms);
      p.client.close();
      EXPECT_EQ(*got.recv(), net::Errc::kClosed);
    }
    p.client.wait_readable(ec);
    EXPECT_EQ(ec, net::Errc::kClosed);
    net::Conn none;
    none.wait_readable(ec);
    EXPECT_EQ(ec, net::Errc::kClosed);
  });
}

}  // namespace

// goro::net TCP: connect/accept/read/write, EOF and half close, errors (refused, reset,
// timeouts), deadlines (including changes while a goroutine is parked), close from
// another goroutine, IPv6, vectored writes, dial with a context, use from a plain thread,
// and serve()'s shutdown. Timings are checked only as loose bounds.
#include <goro/core/blocking.hpp>
#include <goro/net.hpp>

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "net_test_util.hpp"

using namespace std::chrono_literals;
namespace net = goro::net;
using goro::Clock;

namespace {

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// A listener and one accepted connection, plus the dialed side.
struct Pair {
  net::Listener ln;
  net::Conn client;
  net::Conn server;
};

Pair make_pair(const char* where = "127.0.0.1:0") {
  Pair p;
  p.ln = net::listen(where);
  goro::Chan<net::Conn> accepted(1);
  goro::go([&p, accepted]() mutable { accepted.send(p.ln.accept()); });
  p.client = net::dial(p.ln.local_address(), 5s);
  p.server = std::move(*accepted.recv());
  return p;
}

TEST(Tcp, EchoRoundTrip) {
  goro::run([] {
    net_test::EchoServer srv;
    net::Conn c = net::dial(srv.address());
    EXPECT_TRUE(c.is_open());
    EXPECT_EQ(c.remote_address(), srv.address());
    EXPECT_TRUE(c.local_address().is_loopback());
    for (int i = 0; i < 100; ++i) {
      std::string msg = "message " + std::to_string(i);
      EXPECT_EQ(c.write(msg), msg.size());
      std::string back(msg.size(), '\0');
      EXPECT_EQ(c.read_full(back.data(), back.size()), msg.size());
      EXPECT_EQ(back, msg);
    }
  });
}

TEST(Tcp, EofIsNotAnError) {
  goro::run([] {
    Pair p = make_pair();
    p.server.write("bye");
    p.server.close();
    char buf[16];
    std::error_code ec;
    EXPECT_EQ(p.client.read(buf, sizeof buf, ec), 3u);
    EXPECT_FALSE(ec);
    EXPECT_EQ(p.client.read(buf, sizeof buf, ec), 0u);
    EXPECT_EQ(ec, net::Errc::kEof);
    EXPECT_EQ(p.client.read(buf, sizeof buf), 0u);  // the throwing form returns 0
  });
}

TEST(Tcp, ReadFullReportsUnexpectedEof) {
  goro::run([] {
    Pair p = make_pair();
    p.server.write("abc");
    p.server.shutdown_write();
    char buf[8];
    std::error_code ec;
    EXPECT_EQ(p.client.read_full(buf, sizeof buf, ec), 3u);
    EXPECT_EQ(ec, net::Errc::kUnexpectedEof);
    EXPECT_EQ(p.client.read_full(buf, sizeof buf), 0u);  // at a clean EOF: 0
    Pair q = make_pair();
    q.server.write("xy");
    q.server.close();
    EXPECT_THROW(q.client.read_full(buf, sizeof buf), std::system_error);  // a partial one throws
  });
}

TEST(Tcp, HalfClose) {
  goro::run([] {
    Pair p = make_pair();
    goro::WaitGroup wg;
    wg.add(1);
    std::string got;
    goro::go([&] {
      char buf[64];
      std::error_code ec;
      for (;;) {
        std::size_t n = p.server.read(buf, sizeof buf, ec);
        if (ec) break;
        got.append(buf, n);
      }
      EXPECT_EQ(ec, net::Errc::kEof);
      p.server.write("response");  // the other direction still works
      p.server.close();
      wg.done();
    });
    p.client.write("request");
    p.client.shutdown_write();
    char buf[64];
    std::string resp;
    while (std::size_t n = p.client.read(buf, sizeof buf)) resp.append(buf, n);
    wg.wait();
    EXPECT_EQ(got, "request");
    EXPECT_EQ(resp, "response");
    std::error_code ec;
    p.client.write("more", ec);  // after our own shutdown_write
    EXPECT_TRUE(ec);
  });
}

TEST(Tcp, DialRefused) {
  goro::run([] {
    net::Address a;
    {
      net::Listener ln = net::listen("127.0.0.1:0");
      a = ln.local_address();
    }  // closed: nobody listens there now
    std::error_code ec;
    net::Conn c = net::dial(a, 1s, ec);
    EXPECT_EQ(ec, std::errc::connection_refused) << ec.message();
    EXPECT_FALSE(c.is_open());
    EXPECT_THROW(net::dial(a), std::system_error);
    EXPECT_THROW(net::dial("127.0.0.1:not-a-port"), std::system_error);
  });
}

// A listener whose accept queue is full and never drained: the kernel drops further
// SYNs, so connect(2) waits (the sandbox's network is closed, and a "non-routable"
// address may be answered by a proxy, so this is the reliable way to get a hanging dial).
struct Blackhole {
  net::Listener ln;
  std::vector<net::Conn> fillers;
  Blackhole() {
    net::ListenOptions o;
    o.backlog = 1;
    ln = net::listen(net::Address::parse("127.0.0.1", 0).value(), o);
    for (int i = 0; i < 16; ++i) {
      std::error_code ec;
      net::Conn c = net::dial(ln.local_address(), 200ms, ec);
      if (ec) break;  // the queue is full
      fillers.push_back(std::move(c));
    }
  }
};

TEST(Tcp, DialTimeout) {
  goro::run([] {
    Blackhole bh;
    auto t0 = Clock::now();
    std::error_code ec;
    net::Conn c = net::dial(bh.ln.local_address(), 300ms, ec);
    double ms = ms_since(t0);
    EXPECT_EQ(ec, net::Errc::kTimeout) << ec.message();
    EXPECT_EQ(ec, std::errc::timed_out);
    EXPECT_GE(ms, 250);
    EXPECT_LT(ms, 3000);
  });
}

TEST(Tcp, DialNonRoutableAddressEndsInTime) {
  // 10.255.255.1 normally never answers (a timeout). Sandboxes may answer it through a
  // proxy or report the network unreachable: any of these is fine, a hang is not.
  goro::run([] {
    auto t0 = Clock::now();
    std::error_code ec;
    net::Conn c = net::dial(net::Address::parse("10.255.255.1", 80).value(), 300ms, ec);
    double ms = ms_since(t0);
    EXPECT_LT(ms, 3000);
    if (ec) {
      EXPECT_TRUE(ec == std::errc::timed_out || ec == std::errc::network_unreachable ||
                  ec == std::errc::host_unreachable || ec == std::errc::connection_refused ||
                  ec == std::errc::permission_denied)
          << ec.message();
    }
    std::printf("dial 10.255.255.1:80 -> %s after %.0f ms\n",
                ec ? ec.message().c_str() : "connected", ms);
  });
}

TEST(Tcp, DialContextCancelled) {
  goro::run([] {
    Blackhole bh;
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    goro::go([cancel = cancel] {
      goro::sleep(100ms);
      cancel();
    });
    auto t0 = Clock::now();
    std::error_code ec;
    net::Conn c = net::dial(bh.ln.local_address(), ctx, ec);
    double ms = ms_since(t0);
    EXPECT_EQ(ec, goro::ContextError::kCanceled) << ec.message();
    EXPECT_GE(ms, 80);
    EXPECT_LT(ms, 3000);

    auto [tctx, tcancel] = goro::with_timeout(goro::background(), 150ms);
    t0 = Clock::now();
    c = net::dial(bh.ln.local_address(), tctx, ec);
    EXPECT_EQ(ec, std::errc::timed_out) << ec.message();
    EXPECT_GE(ms_since(t0), 100);
    tcancel();

    // Already cancelled: fails at once.
    c = net::dial(bh.ln.local_address(), ctx, ec);
    EXPECT_EQ(ec, goro::ContextError::kCanceled);
  });
}

TEST(Tcp, PeerResetWhileReading) {
  goro::run([] {
    Pair p = make_pair();
    goro::go([&] {
      goro::sleep(50ms);              // let the client park in read
      p.server.set_linger(true, 0s);  // close sends RST
      p.server.close();
    });
    char buf[16];
    std::error_code ec;
    EXPECT_EQ(p.client.read(buf, sizeof buf, ec), 0u);
    EXPECT_EQ(ec, std::errc::connection_reset) << ec.message();
    // Writing to a reset connection fails (EPIPE or ECONNRESET), without SIGPIPE.
    p.client.write("x", ec);
    EXPECT_TRUE(ec);
  });
}

TEST(Tcp, ReadDeadline) {
  goro::run([] {
    Pair p = make_pair();
    char buf[16];
    std::error_code ec;
    p.client.set_read_deadline(Clock::now() + 100ms);
    auto t0 = Clock::now();
    EXPECT_EQ(p.client.read(buf, sizeof buf, ec), 0u);
    EXPECT_EQ(ec, net::Errc::kTimeout);
    EXPECT_EQ(ec, std::errc::timed_out);
    double ms = ms_since(t0);
    EXPECT_GE(ms, 90);
    EXPECT_LT(ms, 2000);
    // The deadline stays passed: reads keep failing, even with data waiting.
    p.server.write("x");
    goro::sleep(20ms);
    p.client.read(buf, sizeof buf, ec);
    EXPECT_EQ(ec, net::Errc::kTimeout);
    // Moving it revives the connection; the write side was never affected.
    p.client.set_read_deadline(net::kNoDeadline);
    EXPECT_EQ(p.client.read(buf, sizeof buf), 1u);
    p.client.write("y");
    EXPECT_EQ(p.server.read(buf, sizeof buf), 1u);
  });
}

TEST(Tcp, WriteDeadlineWithAPeerThatStopsReading) {
  goro::run([] {
    Pair p = make_pair();
    std::vector<char> chunk(256 * 1024, 'z');
    p.client.set_write_deadline(Clock::now() + 200ms);
    auto t0 = Clock::now();
    std::error_code ec;
    std::size_t total = 0;
    for (int i = 0; i < 10000 && !ec; ++i) total += p.client.write(chunk.data(), chunk.size(), ec);
    double ms = ms_since(t0);
    EXPECT_EQ(ec, net::Errc::kTimeout) << ec.message();
    EXPECT_GT(total, 0u);  // the socket buffers took some before the write blocked
    EXPECT_GE(ms, 150);
    EXPECT_LT(ms, 3000);
    // Reading on the same connection is unaffected.
    p.server.write("r");
    char c;
    EXPECT_EQ(p.client.read(&c, 1), 1u);
  });
}

TEST(Tcp, DeadlineChangedWhileParked) {
  goro::run([] {
    Pair p = make_pair();
    char buf[16];
    std::error_code ec;

    // No deadline while parked; one arrives 50 ms later, 50 ms ahead: woken at ~100 ms.
    goro::go([&] {
      goro::sleep(50ms);
      p.client.set_read_deadline(Clock::now() + 50ms);
    });
    auto t0 = Clock::now();
    p.client.read(buf, sizeof buf, ec);
    double ms = ms_since(t0);
    EXPECT_EQ(ec, net::Errc::kTimeout);
    EXPECT_GE(ms, 90);
    EXPECT_LT(ms, 2000);

    // Extended while parked: the first deadline (100 ms) must not fire.
    p.client.set_read_deadline(Clock::now() + 100ms);
    goro::go([&] {
      goro::sleep(50ms);
      p.client.set_read_deadline(Clock::now() + 250ms);
    });
    t0 = Clock::now();
    p.client.read(buf, sizeof buf, ec);
    ms = ms_since(t0);
    EXPECT_EQ(ec, net::Errc::kTimeout);
    EXPECT_GE(ms, 280);
    EXPECT_LT(ms, 3000);

    // Moved into the past while parked: woken at once.
    p.client.set_read_deadline(net::kNoDeadline);
    goro::go([&] {
      goro::sleep(50ms);
      p.client.set_read_deadline(Clock::now() - 1s);
    });
    t0 = Clock::now();
    p.client.read(buf, sizeof buf, ec);
    EXPECT_EQ(ec, net::Errc::kTimeout);
    EXPECT_LT(ms_since(t0), 2000);

    // Cleared while parked: the stale timer firing later changes nothing, and data
    // still wakes the reader.
    p.client.set_read_deadline(Clock::now() + 50ms);
    p.client.set_read_deadline(net::kNoDeadline);
    goro::go([&] {
      goro::sleep(200ms);
      p.server.write("late");
    });
    t0 = Clock::now();
    std::size_t n = p.client.read(buf, sizeof buf, ec);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(std::string(buf, n), "late");
    EXPECT_GE(ms_since(t0), 150);
  });
}

TEST(Tcp, CloseFromAnotherGoroutineWakesReaderWriterAndAccept) {
  goro::run([] {
    Pair p = make_pair();
    goro::WaitGroup wg;
    std::error_code read_ec, write_ec, accept_ec;
    wg.add(3);
    goro::go([&] {
      char buf[16];
      p.client.read(buf, sizeof buf, read_ec);
      wg.done();
    });
    goro::go([&] {
      std::vector<char> chunk(1 << 20, 'w');
      for (int i = 0; i < 1000 && !write_ec; ++i)
        p.client.write(chunk.data(), chunk.size(), write_ec);
      wg.done();
    });
    goro::go([&] {
      p.ln.accept(accept_ec);
      wg.done();
    });
    goro::sleep(100ms);  // all three parked
    auto t0 = Clock::now();
    p.client.close();
    p.ln.close();
    wg.wait();
    EXPECT_LT(ms_since(t0), 2000);
    EXPECT_EQ(read_ec, net::Errc::kClosed) << read_ec.message();
    EXPECT_EQ(write_ec, net::Errc::kClosed) << write_ec.message();
    EXPECT_EQ(accept_ec, net::Errc::kClosed) << accept_ec.message();
    EXPECT_FALSE(p.client.is_open());
    std::error_code ec;
    p.client.close(ec);
    EXPECT_EQ(ec, net::Errc::kClosed);
    char c;
    p.client.read(&c, 1, ec);
    EXPECT_EQ(ec, net::Errc::kClosed);
    EXPECT_EQ(p.client.native_handle(), -1);
  });
}

TEST(Tcp, Ipv6) {
  goro::run([] {
    net_test::EchoServer srv("[::1]:0");
    EXPECT_TRUE(srv.address().is_ipv6());
    net::Conn c = net::dial(srv.address());
    EXPECT_TRUE(c.local_address().is_ipv6());
    c.write("six");
    char buf[3];
    EXPECT_EQ(c.read_full(buf, 3), 3u);
    EXPECT_EQ(std::string(buf, 3), "six");
    // By name and port string too.
    net::Conn d = net::dial("[::1]:" + std::to_string(srv.address().port()));
    d.write("v6");
    EXPECT_EQ(d.read_full(buf, 2), 2u);
  });
}

TEST(Tcp, WildcardListenerTakesIpv4AndIpv6) {
  goro::run([] {
    net::Listener ln = net::listen(":0");
    std::uint16_t port = ln.local_address().port();
    goro::Chan<std::string> peers(2);
    goro::go([&] {
      for (int i = 0; i < 2; ++i) {
        net::Conn c = ln.accept();
        peers.send(c.remote_address().ip() + " " + c.local_address().ip());
        c.write("hi");
      }
    });
    for (const char* host : {"127.0.0.1", "::1"}) {
      net::Conn c = net::dial(net::Address::parse(host, port).value());
      char buf[2];
      EXPECT_EQ(c.read_full(buf, 2), 2u) << host;
      // An IPv4 peer of the dual-stack socket shows as IPv4, not ::ffff:127.0.0.1.
      EXPECT_EQ(*peers.recv(), std::string(host) + " " + host);
    }
  });
}

TEST(Tcp, VectoredWrite) {
  goro::run([] {
    Pair p = make_pair();
    std::vector<unsigned char> a(3 << 20), b(100), c(5 << 20);
    net_test::fill_pattern(1, 0, a.data(), a.size());
    net_test::fill_pattern(1, a.size(), b.data(), b.size());
    net_test::fill_pattern(1, a.size() + b.size(), c.data(), c.size());
    std::size_t total = a.size() + b.size() + c.size();
    goro::go([&] {
      net::ConstBuffer bufs[] = {
          {a.data(), a.size()}, {nullptr, 0}, {b.data(), b.size()}, {c.data(), c.size()}};
      EXPECT_EQ(p.client.write(std::span<const net::ConstBuffer>(bufs)), total);
      p.client.shutdown_write();
    });
    std::vector<unsigned char> got(total);
    EXPECT_EQ(p.server.read_full(got.data(), got.size()), total);
    for (std::size_t i = 0; i < total; ++i) {
      if (got[i] != net_test::pattern_byte(1, i)) {
        ADD_FAILURE() << "byte " << i << " differs";
        break;
      }
    }
  });
}

TEST(Tcp, ConcurrentReadersAreSerialized) {
  goro::run([] {
    Pair p = make_pair();
    constexpr int kReaders = 8;
    constexpr int kBytes = 1 << 16;
    std::atomic<int> total{0};
    goro::WaitGroup wg;
    for (int i = 0; i < kReaders; ++i) {
      wg.add(1);
      goro::go([&] {
        char buf[100];
        std::error_code ec;
        for (;;) {
          std::size_t n = p.server.read(buf, sizeof buf, ec);
          if (ec) break;
          total += static_cast<int>(n);
        }
        wg.done();
      });
    }
    std::vector<char> data(kBytes, 'q');
    p.client.write(data.data(), data.size());
    p.client.shutdown_write();
    wg.wait();
    EXPECT_EQ(total.load(), kBytes);
  });
}

TEST(Tcp, MoveAndDestroyClose) {
  goro::run([] {
    { Pair warm = make_pair(); }  // the poller's own descriptors exist from the first socket on
    int before = net_test::count_fds();
    {
      Pair p = make_pair();
      net::Conn moved = std::move(p.client);
      EXPECT_FALSE(p.client.is_open());
      EXPECT_TRUE(moved.is_open());
      net::Conn other;
      other = std::move(moved);
      EXPECT_TRUE(other.is_open());
      net::Listener l2 = std::move(p.ln);
      EXPECT_TRUE(l2.is_open());
    }
    EXPECT_EQ(net_test::count_fds(), before);
  });
}

TEST(Tcp, PlainThreadOutsideTheRuntime) {
  goro::run([] {
    net_test::EchoServer srv;
    net::Address a = srv.address();
    std::string got;
    std::error_code ec;
    std::thread t([&] {  // not a goroutine: the calls block this thread
      net::Conn c = net::dial(a, 2s, ec);
      if (ec) return;
      c.write("thread", ec);
      char buf[6];
      c.set_read_deadline(Clock::now() + 2s);
      c.read_full(buf, sizeof buf, ec);
      got.assign(buf, sizeof buf);
      c.set_read_deadline(Clock::now() + 50ms);
      c.read(buf, sizeof buf, ec);  // nothing more comes: times out
    });
    goro::blocking_long([&] { t.join(); });
    EXPECT_EQ(got, "thread");
    EXPECT_EQ(ec, net::Errc::kTimeout);
  });
}

TEST(Tcp, SocketsOutliveRun) {
  // Made in one run(), with deadlines (timers) armed in it; used in the next run();
  // closed outside any. The first run's timers died with its Ps: nothing may touch them.
  Pair p;
  goro::run([&] {
    p = make_pair();
    p.client.set_read_deadline(Clock::now() + 10s);
    p.server.set_write_deadline(Clock::now() + 10s);
  });
  goro::run([&] {
    char buf[4];
    std::error_code ec;
    p.client.set_read_deadline(Clock::now() + 50ms);
    p.client.read(buf, sizeof buf, ec);
    EXPECT_EQ(ec, net::Errc::kTimeout);
    p.client.set_read_deadline(net::kNoDeadline);
    p.server.write("ok");
    EXPECT_EQ(p.client.read_full(buf, 2), 2u);
    p.server.set_write_deadline(Clock::now() + 10s);  // armed again, left armed
  });
  p.server.close();  // outside any run(): the armed timer is gone with its run
  char buf[4];
  std::error_code ec;
  p.client.set_read_deadline(Clock::now() + 2s);
  p.client.read(buf, sizeof buf, ec);  // blocks this thread in poll(2) until the EOF
  EXPECT_EQ(ec, net::Errc::kEof);
}

TEST(Serve, ShutdownWaitsForHandlersThenClosesTheirConnections) {
  goro::run([] {
    net::Listener ln = net::listen("127.0.0.1:0");
    net::Address a = ln.local_address();
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    std::atomic<int> finished{0};
    std::atomic<int> closed_errors{0};
    goro::Chan<int> served(1);
    goro::go([&, ctx = ctx] {
      net::ServeOptions o;
      o.context = ctx;
      o.shutdown_timeout = 200ms;
      net::serve(
          ln,
          [&](net::Conn& c) {
            char buf[16];
            std::error_code ec;
            c.read(buf, sizeof buf, ec);  // waits for a byte that never comes
            if (ec == net::Errc::kClosed) ++closed_errors;
            ++finished;
          },
          o);
      served.send(1);
    });
    std::vector<net::Conn> clients;
    for (int i = 0; i < 5; ++i) clients.push_back(net::dial(a));
    goro::sleep(100ms);
    auto t0 = Clock::now();
    cancel();
    served.recv();
    double ms = ms_since(t0);
    EXPECT_EQ(finished.load(), 5);
    EXPECT_EQ(closed_errors.load(), 5);
    EXPECT_GE(ms, 150);  // it waited for the handlers first
    EXPECT_LT(ms, 3000);
    std::error_code ec;
    net::dial(a, 1s, ec);  // the listener is gone
    EXPECT_EQ(ec, std::errc::connection_refused);
    // The clients see their connections closed.
    for (auto& c : clients) {
      char b;
      c.set_read_deadline(Clock::now() + 2s);
      c.read(&b, 1, ec);
      EXPECT_EQ(ec, net::Errc::kEof) << ec.message();
    }
  });
}

TEST(Serve, QuickHandlersLetShutdownReturnAtOnce) {
  goro::run([] {
    net_test::EchoServer srv;
    net::Conn c = net::dial(srv.address());
    c.write("x");
    char b;
    EXPECT_EQ(c.read(&b, 1), 1u);
    c.close();
    auto t0 = Clock::now();
    srv.stop();
    EXPECT_LT(ms_since(t0), 1500);
  });
}

}  // namespace

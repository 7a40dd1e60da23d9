// goro::net under load: 1,000 concurrent connections echoing 100 messages each, byte for
// byte, on 1 and on 2 Ps; 10,000 connections opened and closed without leaking a
// descriptor (counted in /proc/self/fd) or a poll descriptor.
#include <goro/net.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <vector>

#include "../../net/src/netpoll.hpp"  // poll_stats(): poll descriptors in use
#include "net_test_util.hpp"

using namespace std::chrono_literals;
namespace net = goro::net;

namespace {

constexpr int kConns = 1000;
constexpr int kMessages = 100;

// Message m of connection c: 1..300 bytes of that connection's pattern stream.
std::size_t message_size(int c, int m) {
  return 1 + static_cast<std::size_t>((c * 131 + m * 17) % 300);
}

void echo_many(int procs) {
  goro::Config cfg;
  cfg.max_procs = procs;
  goro::run(cfg, [] {
    net_test::EchoServer srv;
    std::atomic<int> ok{0};
    std::atomic<int> failed{0};
    goro::WaitGroup wg;
    for (int c = 0; c < kConns; ++c) {
      wg.add(1);
      goro::go([&, c] {
        std::error_code ec;
        net::Conn conn = net::dial(srv.address(), 10s, ec);
        if (ec) {
          ADD_FAILURE() << "dial: " << ec.message();
          ++failed;
          wg.done();
          return;
        }
        std::uint64_t off = 0;
        unsigned char out[300], in[300];
        bool good = true;
        for (int m = 0; m < kMessages && good; ++m) {
          std::size_t n = message_size(c, m);
          net_test::fill_pattern(static_cast<std::uint64_t>(c), off, out, n);
          conn.write(out, n, ec);
          if (!ec) conn.read_full(in, n, ec);
          if (ec) {
            ADD_FAILURE() << "conn " << c << " message " << m << ": " << ec.message();
            good = false;
          } else if (std::memcmp(in, out, n) != 0) {
            ADD_FAILURE() << "conn " << c << " message " << m << ": bytes differ";
            good = false;
          }
          off += n;
        }
        (good ? ok : failed)++;
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(ok.load(), kConns);
    EXPECT_EQ(failed.load(), 0);
  });
}

TEST(TcpLoad, ThousandConnectionsHundredMessagesOneP) { echo_many(1); }
TEST(TcpLoad, ThousandConnectionsHundredMessagesTwoPs) { echo_many(2); }

TEST(TcpLoad, TenThousandConnectionsNoDescriptorLeak) {
  goro::run([] {
    // Warm up: the poller's own descriptors (epoll, eventfds, timerfd) are made once.
    {
      net_test::EchoServer warm;
      net::dial(warm.address());
    }
    int fds_before = net_test::count_fds();
    std::int64_t pds_before = net::detail::poll_stats().open;
    {
      net::Listener ln = net::listen("127.0.0.1:0");
      net::Address a = ln.local_address();
      // The server answers one byte and closes first, so TIME_WAIT stays on its side
      // and the client's ephemeral ports are free again at once.
      goro::WaitGroup handlers;
      handlers.add(1);  // the accept loop itself
      goro::go([&] {
        std::error_code ec;
        for (;;) {
          net::Conn c = ln.accept(ec);
          if (ec == net::Errc::kClosed) break;
          if (ec) continue;
          handlers.add(1);
          goro::go([&handlers, c = std::move(c)]() mutable {
            char b;
            std::error_code e;
            if (c.read(&b, 1, e) == 1) c.write(&b, 1, e);
            c.close(e);
            handlers.done();
          });
        }
        handlers.done();
      });
      constexpr int kWorkers = 50;
      constexpr int kEach = 200;  // 10,000 in all
      std::atomic<int> done{0};
      goro::WaitGroup wg;
      for (int w = 0; w < kWorkers; ++w) {
        wg.add(1);
        goro::go([&] {
          for (int i = 0; i < kEach; ++i) {
            std::error_code ec;
            net::Conn c = net_test::dial_retry(a, 10s, ec);
            if (ec) {
              ADD_FAILURE() << "dial: " << ec.message();
              continue;
            }
            char b = 'k';
            c.write(&b, 1, ec);
            if (!ec && c.read(&b, 1, ec) == 1) ++done;
            // Closed by the destructor, half of them explicitly.
            if (i % 2 == 0) c.close();
          }
          wg.done();
        });
      }
      wg.wait();
      EXPECT_EQ(done.load(), kWorkers * kEach);
      ln.close();
      handlers.wait();
    }
    EXPECT_EQ(net_test::count_fds(), fds_before);
    EXPECT_EQ(net::detail::poll_stats().open, pds_before);
  });
}

}  // namespace

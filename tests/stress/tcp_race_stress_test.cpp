// goro::net under randomized races: closes landing at any moment of reads, writes,
// accepts and deadline changes, on 2 Ps (and under GORO_DEBUG=randomize=1 in CI): no
// crash, no hang, no lost wake-up, no descriptor leak.
#include <goro/net.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "../../net/src/netpoll.hpp"  // poll_stats()
#include "../net/net_test_util.hpp"

using namespace std::chrono_literals;
namespace net = goro::net;

namespace {

TEST(TcpRaceStress, CloseRacesReadWriteAndDeadlines) {
  goro::Config cfg;
  cfg.max_procs = 2;
  goro::run(cfg, [] {
    {
      net_test::EchoServer warm;
      net::dial(warm.address());
    }  // the poller's own fds
    int fds_before = net_test::count_fds();
    std::int64_t pds_before = net::detail::poll_stats().open;
    {
      net::Listener ln = net::listen("127.0.0.1:0");
      net::Address a = ln.local_address();
      constexpr int kRounds = 2000;
      std::atomic<int> rounds_done{0};
      goro::WaitGroup all;
      for (int w = 0; w < 8; ++w) {
        all.add(1);
        goro::go([&, w] {
          std::mt19937 rng(static_cast<unsigned>(w) * 7919u + 1);
          for (int r = w; r < kRounds; r += 8) {
            goro::Chan<net::Conn> acc(1);
            goro::go([&ln, acc]() mutable {
              std::error_code ec;
              net::Conn c = ln.accept(ec);
              acc.send(std::move(c));
            });
            std::error_code ec;
            // The workers share the listener, so `server` is some worker's peer, which
            // that worker may reset before our dial has even checked its outcome: a
            // dial error (ECONNRESET) is one of the races, not a failure.
            net::Conn client = net::dial(a, 5s, ec);
            net::Conn server = std::move(*acc.recv());
            if (!server.is_open()) {
              std::fprintf(stderr, "accept failed\n");
              std::abort();  // a goroutine cannot ASSERT its way out
            }
            goro::WaitGroup wg;
            wg.add(4);
            goro::go([&] {  // reader: until an error (closed, reset, EOF, timeout)
              char buf[4096];
              std::error_code e;
              while (!e) client.read(buf, sizeof buf, e);
              wg.done();
            });
            goro::go([&] {  // writer: fills the peer's buffers, then blocks
              std::vector<char> chunk(64 * 1024, 'r');
              std::error_code e;
              while (!e) server.write(chunk.data(), chunk.size(), e);
              wg.done();
            });
            unsigned delay = rng() % 300;
            int mode = static_cast<int>(rng() % 4);
            goro::go([&, delay, mode] {  // deadlines changing under the parked goroutines
              goro::sleep(std::chrono::microseconds(delay / 2));
              if (mode == 0)
                client.set_read_deadline(goro::Clock::now() + std::chrono::microseconds(delay));
              if (mode == 1)
                server.set_write_deadline(goro::Clock::now() + std::chrono::microseconds(delay));
              if (mode == 2) client.set_deadline(goro::Clock::now() - 1s);
              wg.done();
            });
            goro::go([&, delay, mode] {  // the closer, at a random moment
              goro::sleep(std::chrono::microseconds(delay));
              std::error_code e;
              if (mode == 3) server.set_linger(true, 0s, e);
              server.close(e);
              client.close(e);
              wg.done();
            });
            wg.wait();
            ++rounds_done;
          }
          all.done();
        });
      }
      all.wait();
      EXPECT_EQ(rounds_done.load(), kRounds);
    }
    EXPECT_EQ(net_test::count_fds(), fds_before);
    EXPECT_EQ(net::detail::poll_stats().open, pds_before);
  });
}

}  // namespace

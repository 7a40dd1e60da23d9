// A TCP proxy built from goro::net (serve + dial + relay, what examples/tcp_proxy does)
// in front of an echo backend: 100 MB go through it both ways at once, byte for byte;
// and when either side dies (the backend resets, or the client does), the proxy closes
// both of its connections.
#include <goro/net.hpp>

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

#include "../net/net_test_util.hpp"

using namespace std::chrono_literals;
namespace net = goro::net;

namespace {

// The proxy: listens on 127.0.0.1, relays each client to `backend`.
class Proxy {
 public:
  explicit Proxy(net::Address backend) : backend_(backend) {
    ln_ = net::listen("127.0.0.1:0");
    addr_ = ln_.local_address();
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    cancel_ = cancel;
    served_.add(1);
    // No counted reference outlives served_.done() (see net_test::EchoServer).
    goro::go([this, ctx = ctx]() mutable {
      {
        net::ServeOptions o;
        o.context = std::move(ctx);
        o.shutdown_timeout = 2s;
        net::serve(
            ln_,
            [this](net::Conn& client) {
              std::error_code ec;
              net::Conn up = net::dial(backend_, 3s, ec);
              if (ec) return;
              ++relays_started_;
              net::RelayResult r = net::relay(client, up);
              last_ = r;
              ++relays_done_;
            },
            o);
      }
      served_.done();
    });
  }
  ~Proxy() {
    cancel_();
    served_.wait();
  }
  const net::Address& address() const { return addr_; }
  int relays_done() const { return relays_done_.load(); }
  net::RelayResult last() const { return last_; }

 private:
  net::Address backend_;
  net::Listener ln_;
  net::Address addr_;
  goro::CancelFunc cancel_;
  goro::WaitGroup served_;
  std::atomic<int> relays_started_{0};
  std::atomic<int> relays_done_{0};
  net::RelayResult last_;
};

// The relay copies through a buffer unless SIGPIPE is ignored, then with splice(2):
// both ways are tested.
void hundred_megabytes_both_ways() {
  goro::run([] {
    net_test::EchoServer backend;
    Proxy proxy(backend.address());
    constexpr std::uint64_t kTotal = 100ull << 20;
    net::Conn c = net::dial(proxy.address());
    std::atomic<bool> write_ok{false};
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {  // the writer: 100 MB of pattern, then a half close
      std::vector<unsigned char> buf(256 * 1024);
      std::uint64_t off = 0;
      std::error_code ec;
      while (off < kTotal && !ec) {
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), kTotal - off));
        net_test::fill_pattern(7, off, buf.data(), n);
        c.write(buf.data(), n, ec);
        off += n;
      }
      EXPECT_FALSE(ec) << ec.message();
      c.shutdown_write();  // through the proxy to the backend, whose echo then ends
      write_ok = !ec;
      wg.done();
    });
    // The reader: the same 100 MB back, then the end of stream the proxy passed on.
    std::vector<unsigned char> buf(300 * 1024);
    std::uint64_t off = 0;
    std::error_code ec;
    bool same = true;
    auto t0 = goro::Clock::now();
    while (!ec) {
      std::size_t n = c.read(buf.data(), buf.size(), ec);
      for (std::size_t i = 0; i < n && same; ++i) {
        if (buf[i] != net_test::pattern_byte(7, off + i)) {
          ADD_FAILURE() << "byte " << off + i << " differs";
          same = false;
        }
      }
      off += n;
    }
    wg.wait();
    double secs = std::chrono::duration<double>(goro::Clock::now() - t0).count();
    EXPECT_EQ(ec, net::Errc::kEof) << ec.message();
    EXPECT_TRUE(write_ok.load());
    EXPECT_TRUE(same);
    EXPECT_EQ(off, kTotal);
    std::printf("100 MB each way through the proxy in %.2f s (%.0f MB/s per direction)\n", secs,
                100 / secs);
    // The relay ended cleanly in both directions.
    for (int i = 0; i < 200 && proxy.relays_done() < 1; ++i) goro::sleep(10ms);
    EXPECT_EQ(proxy.relays_done(), 1);
    EXPECT_FALSE(proxy.last().a_to_b_error) << proxy.last().a_to_b_error.message();
    EXPECT_FALSE(proxy.last().b_to_a_error) << proxy.last().b_to_a_error.message();
    EXPECT_EQ(proxy.last().a_to_b, kTotal);
    EXPECT_EQ(proxy.last().b_to_a, kTotal);
  });
}

TEST(ProxyStress, HundredMegabytesBothWaysIntactBuffered) { hundred_megabytes_both_ways(); }

TEST(ProxyStress, HundredMegabytesBothWaysIntactSpliced) {
  auto old = signal(SIGPIPE, SIG_IGN);
  hundred_megabytes_both_ways();
  signal(SIGPIPE, old);
}

// A backend that reads a little, then resets its connection.
void backend_death() {
  goro::run([] {
    net::Listener bl = net::listen("127.0.0.1:0");
    goro::go([&] {
      std::error_code ec;
      net::Conn b = bl.accept(ec);
      if (ec) return;
      char buf[1024];
      b.read(buf, sizeof buf, ec);
      b.set_linger(true, 0s);  // close with RST
      b.close();
    });
    Proxy proxy(bl.local_address());
    net::Conn c = net::dial(proxy.address());
    std::vector<char> chunk(64 * 1024, 'd');
    std::error_code ec;
    // Keep writing: once the backend is gone, the proxy closes us and writes fail.
    c.set_deadline(goro::Clock::now() + 10s);
    for (int i = 0; i < 100000 && !ec; ++i) c.write(chunk.data(), chunk.size(), ec);
    EXPECT_TRUE(ec == std::errc::connection_reset || ec == std::errc::broken_pipe) << ec.message();
    char b;
    c.read(&b, 1, ec);
    EXPECT_TRUE(ec == net::Errc::kEof || ec == std::errc::connection_reset) << ec.message();
    for (int i = 0; i < 200 && proxy.relays_done() < 1; ++i) goro::sleep(10ms);
    EXPECT_EQ(proxy.relays_done(), 1);
  });
}

// A client that dies (reset) while the backend streams: the proxy closes the backend.
void client_death() {
  goro::run([] {
    net::Listener bl = net::listen("127.0.0.1:0");
    goro::Chan<std::error_code> backend_end(1);
    goro::go([&] {
      std::error_code ec;
      {
        net::Conn b = bl.accept(ec);
        if (!ec) {
          std::vector<char> chunk(64 * 1024, 's');
          b.set_deadline(goro::Clock::now() + 10s);
          for (int i = 0; i < 100000 && !ec; ++i) b.write(chunk.data(), chunk.size(), ec);
        }
      }
      // Sent once the connection and the buffer are gone: main may return from run()
      // right after it receives, abandoning this goroutine (LeakSanitizer would report
      // what it still held).
      backend_end.send(ec);
    });
    Proxy proxy(bl.local_address());
    net::Conn c = net::dial(proxy.address());
    char buf[4096];
    EXPECT_GT(c.read(buf, sizeof buf), 0u);  // the stream flows
    c.set_linger(true, 0s);
    c.close();  // dies with RST
    std::error_code ec = *backend_end.recv();
    EXPECT_TRUE(ec == std::errc::connection_reset || ec == std::errc::broken_pipe) << ec.message();
    for (int i = 0; i < 200 && proxy.relays_done() < 1; ++i) goro::sleep(10ms);
    EXPECT_EQ(proxy.relays_done(), 1);
  });
}

TEST(ProxyStress, BackendDeathClosesTheClientSide) { backend_death(); }
TEST(ProxyStress, ClientDeathClosesTheBackendSide) { client_death(); }

TEST(ProxyStress, DeathsWithSplice) {
  // The same deaths with SIGPIPE ignored (splice): a reset peer must not kill us either.
  auto old = signal(SIGPIPE, SIG_IGN);
  backend_death();
  client_death();
  signal(SIGPIPE, old);
}

}  // namespace

// Helpers shared by the goro::net tests: descriptor counting, a deterministic byte
// pattern, an in-process echo server.
#pragma once

#include <goro/core/wait_group.hpp>
#include <goro/net.hpp>

#include <dirent.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace net_test {

// net::dial, retried for up to 10 s while the kernel has no local port to give
// (EAGAIN, EADDRNOTAVAIL). Tests that open thousands of connections in a burst, next to
// others doing the same under ctest -j, can find every ephemeral port of the loopback in
// TIME_WAIT for a moment (a port in TIME_WAIT is reused only after a second); that is the
// machine's limit, not what they test.
inline goro::net::Conn dial_retry(const goro::net::Address& a, goro::Duration timeout,
                                  std::error_code& ec) {
  for (int tries = 0;; ++tries) {
    goro::net::Conn c = goro::net::dial(a, timeout, ec);
    if (!ec || tries >= 1000 ||
        (ec != std::errc::resource_unavailable_try_again &&
         ec != std::errc::address_not_available)) {
      return c;
    }
    goro::sleep(std::chrono::milliseconds(10));
  }
}

// Open descriptors of this process (entries of /proc/self/fd, minus the DIR's own).
inline int count_fds() {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  int n = 0;
  while (readdir(d) != nullptr) ++n;
  closedir(d);
  return n - 3;  // ".", "..", and the directory's own descriptor
}

// The byte at position i of stream `seed` (cheap, position-addressable, not periodic
// at any small power of two).
inline unsigned char pattern_byte(std::uint64_t seed, std::uint64_t i) {
  std::uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ull ^ (seed * 0xD1B54A32D192ED03ull);
  x ^= x >> 29;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 32;
  return static_cast<unsigned char>(x);
}

inline void fill_pattern(std::uint64_t seed, std::uint64_t offset, unsigned char* p,
                         std::size_t n) {
  for (std::size_t k = 0; k < n; ++k) p[k] = pattern_byte(seed, offset + k);
}

// An echo server on 127.0.0.1 (or [::1]) run by serve() until stop() (or the end of the
// goroutine that owns it). Handlers echo until the end of stream.
class EchoServer {
 public:
  explicit EchoServer(const char* where = "127.0.0.1:0") {
    ln_ = goro::net::listen(where);
    addr_ = ln_.local_address();
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    cancel_ = cancel;
    served_.add(1);
    // The goroutine keeps no counted reference past served_.done() (the context goes
    // with the options' scope): should the runtime end before the goroutine has quite
    // finished, nothing it owned is left behind (LSan).
    goro::go([this, ctx = ctx]() mutable {
      {
        goro::net::ServeOptions o;
        o.context = std::move(ctx);
        o.shutdown_timeout = std::chrono::seconds(2);
        goro::net::serve(
            ln_,
            [](goro::net::Conn& c) {
              char buf[16384];
              std::error_code ec;
              for (;;) {
                std::size_t n = c.read(buf, sizeof buf, ec);
                if (ec) return;
                c.write(buf, n, ec);
                if (ec) return;
              }
            },
            o);
      }
      served_.done();
    });
  }
  ~EchoServer() { stop(); }
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  const goro::net::Address& address() const { return addr_; }

  void stop() {
    if (!stopped_) {
      stopped_ = true;
      cancel_();
      served_.wait();
    }
  }

 private:
  goro::net::Listener ln_;
  goro::net::Address addr_;
  goro::CancelFunc cancel_;
  goro::WaitGroup served_;
  bool stopped_ = false;
};

}  // namespace net_test

// goro::net::relay's two ways of moving bytes (net/src/copy.cpp): small messages through
// a buffer; once a read fills the buffer (a bulk transfer) and SIGPIPE is ignored, the
// rest of that direction through a pipe with splice(2). Both must carry every byte, in
// order, before, during and after the switch; the pipe shows up in /proc/self/fd only
// once a direction has switched, and never without SIGPIPE ignored.
#include <goro/net.hpp>

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <dirent.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "net_test_util.hpp"

using namespace std::chrono_literals;
namespace net = goro::net;

namespace {

// Pipes open in this process (entries of /proc/self/fd that link to "pipe:[...]").
int count_pipes() {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(d)) {
    char path[64];
    char target[64];
    std::snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
    ssize_t len = readlink(path, target, sizeof target - 1);
    if (len > 0) {
      target[len] = '\0';
      if (std::strncmp(target, "pipe:", 5) == 0) ++n;
    }
  }
  closedir(d);
  return n;
}

void ping_pong(net::Conn& c, int rounds, const char* tag) {
  for (int i = 0; i < rounds; ++i) {
    std::string msg = std::string(tag) + " " + std::to_string(i);
    c.write(msg);
    std::string back(msg.size(), '\0');
    ASSERT_EQ(c.read_full(back.data(), back.size()), msg.size());
    ASSERT_EQ(back, msg);
  }
}

// A client -> relay -> echo backend; small messages, 4 MiB each way at once, small
// messages again. expect_splice: whether the bulk transfer must have switched to a pipe.
void small_bulk_small(bool expect_splice) {
  goro::run([expect_splice] {
    net_test::EchoServer backend;
    net::Listener ln = net::listen("127.0.0.1:0");
    goro::Chan<net::RelayResult> done(1);
    goro::go([&, done]() mutable {
      net::Conn client = ln.accept();
      net::Conn up = net::dial(backend.address(), 5s);
      done.send(net::relay(client, up));
    });
    const int pipes0 = count_pipes();
    net::Conn c = net::dial(ln.local_address(), 5s);
    ping_pong(c, 50, "before");
    EXPECT_EQ(count_pipes(), pipes0);  // small messages: the buffer

    constexpr std::size_t kBulk = 4 << 20;
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {
      std::vector<unsigned char> out(64 * 1024);
      for (std::size_t off = 0; off < kBulk; off += out.size()) {
        net_test::fill_pattern(3, off, out.data(), out.size());
        c.write(out.data(), out.size());
      }
      wg.done();
    });
    std::vector<unsigned char> in(kBulk), want(kBulk);
    ASSERT_EQ(c.read_full(in.data(), in.size()), kBulk);
    net_test::fill_pattern(3, 0, want.data(), want.size());
    EXPECT_EQ(std::memcmp(in.data(), want.data(), kBulk), 0);
    wg.wait();
    if (expect_splice) {
      EXPECT_GT(count_pipes(), pipes0);  // a direction now splices through its pipe
    } else {
      EXPECT_EQ(count_pipes(), pipes0);
    }

    ping_pong(c, 50, "after");  // small messages through the pipe (or the buffer) too
    c.shutdown_write();
    char b;
    std::error_code ec;
    EXPECT_EQ(c.read(&b, 1, ec), 0u);
    EXPECT_EQ(ec, net::Errc::kEof);
    net::RelayResult r = *done.recv();
    EXPECT_FALSE(r.a_to_b_error) << r.a_to_b_error.message();
    EXPECT_FALSE(r.b_to_a_error) << r.b_to_a_error.message();
    EXPECT_EQ(r.a_to_b, r.b_to_a);
    EXPECT_GT(r.a_to_b, kBulk);
    EXPECT_EQ(count_pipes(), pipes0);  // the pipes went with the relay
  });
}

TEST(Relay, SmallMessagesThroughTheBufferBulkThroughAPipe) {
  auto old = signal(SIGPIPE, SIG_IGN);
  small_bulk_small(true);
  signal(SIGPIPE, old);
}

TEST(Relay, WithoutSigpipeIgnoredEverythingGoesThroughTheBuffer) {
  auto old = signal(SIGPIPE, SIG_DFL);
  small_bulk_small(false);
  signal(SIGPIPE, old);
}

}  // namespace

// goro::net::resolve and goro::net::Address: localhost, IP literals, service names,
// names that do not resolve (an error, never a crash or a hang), and lookups not
// stalling the runtime. The machine has no external DNS: no test depends on a public name.
#include <goro/net.hpp>

#include <gtest/gtest.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace net = goro::net;

namespace {

TEST(Resolve, Localhost) {
  goro::run([] {
    std::vector<net::Address> addrs = net::resolve("localhost", "8080");
    ASSERT_FALSE(addrs.empty());
    for (const net::Address& a : addrs) {
      EXPECT_TRUE(a.is_loopback()) << a.to_string();
      EXPECT_EQ(a.port(), 8080);
    }
  });
}

TEST(Resolve, Ipv4Literal) {
  goro::run([] {
    std::vector<net::Address> addrs = net::resolve("127.0.0.1", "8080");
    ASSERT_EQ(addrs.size(), 1u);
    const net::Address& a = addrs[0];
    EXPECT_EQ(a.family(), net::Family::kIPv4);
    EXPECT_EQ(a.ip(), "127.0.0.1");
    EXPECT_EQ(a.port(), 8080);
    EXPECT_EQ(a.to_string(), "127.0.0.1:8080");
    EXPECT_EQ(a.native_size(), sizeof(sockaddr_in));
    const auto* in = reinterpret_cast<const sockaddr_in*>(a.native_data());
    EXPECT_EQ(in->sin_family, AF_INET);
    EXPECT_EQ(ntohs(in->sin_port), 8080);
    EXPECT_EQ(ntohl(in->sin_addr.s_addr), 0x7f000001u);

    EXPECT_EQ(net::resolve("10.1.2.3", "")[0].to_string(), "10.1.2.3:0");
  });
}

TEST(Resolve, Ipv6Literal) {
  goro::run([] {
    std::vector<net::Address> addrs = net::resolve("::1", "443");
    ASSERT_EQ(addrs.size(), 1u);
    const net::Address& a = addrs[0];
    EXPECT_EQ(a.family(), net::Family::kIPv6);
    EXPECT_EQ(a.ip(), "::1");
    EXPECT_EQ(a.port(), 443);
    EXPECT_EQ(a.to_string(), "[::1]:443");
    EXPECT_TRUE(a.is_loopback());
    EXPECT_EQ(a.native_size(), sizeof(sockaddr_in6));

    auto b = net::resolve("2001:db8::1:0:0:1", "80");
    ASSERT_EQ(b.size(), 1u);
    EXPECT_EQ(b[0].ip(), "2001:db8::1:0:0:1");
    EXPECT_FALSE(b[0].is_loopback());
  });
}

TEST(Resolve, LiteralWithServiceName) {
  goro::run([] {
    // A service name goes through getaddrinfo(AI_NUMERICHOST) and /etc/services.
    std::vector<net::Address> addrs = net::resolve("127.0.0.1", "http");
    ASSERT_EQ(addrs.size(), 1u);
    EXPECT_EQ(addrs[0].port(), 80);
    std::error_code ec;
    net::resolve("127.0.0.1", "no-such-service-goro", ec);
    EXPECT_TRUE(ec);
    EXPECT_EQ(ec, net::ResolveErrc::kServiceNotFound) << ec.message();
  });
}

TEST(Resolve, EmptyHostIsLoopback) {
  goro::run([] {
    std::vector<net::Address> addrs = net::resolve("", "9000");
    ASSERT_FALSE(addrs.empty());
    for (const net::Address& a : addrs) {
      EXPECT_TRUE(a.is_loopback()) << a.to_string();
      EXPECT_EQ(a.port(), 9000);
    }
  });
}

// A name in the reserved .invalid domain (RFC 2606) never resolves. Without a reachable
// name server glibc answers "not found" or "try again"; either is a clean error.
TEST(Resolve, NameThatDoesNotResolveIsAnError) {
  goro::run([] {
    auto t0 = std::chrono::steady_clock::now();
    std::error_code ec;
    std::vector<net::Address> addrs = net::resolve("nonexistent.invalid", "80", ec);
    EXPECT_TRUE(addrs.empty());
    ASSERT_TRUE(ec);
    EXPECT_TRUE(ec == net::ResolveErrc::kHostNotFound || ec == net::ResolveErrc::kTryAgain ||
                ec == net::ResolveErrc::kNoAddress)
        << ec.category().name() << " " << ec.value() << ": " << ec.message();
    EXPECT_FALSE(ec.message().empty());

    try {
      net::resolve("nonexistent.invalid", "80");
      ADD_FAILURE() << "resolve of a non-existent name did not throw";
    } catch (const std::system_error& e) {
      std::string what = e.what();
      EXPECT_NE(what.find("lookup nonexistent.invalid"), std::string::npos) << what;
      EXPECT_NE(what.find(ec.message()), std::string::npos) << what;
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 60s);
  });
}

TEST(Resolve, ErrorCategoriesSpeakPlainly) {
  std::error_code ec(EAI_NONAME, net::gai_category());
  EXPECT_STREQ(net::gai_category().name(), "getaddrinfo");
  EXPECT_EQ(ec.message(), ::gai_strerror(EAI_NONAME));
  EXPECT_EQ(ec, net::ResolveErrc::kHostNotFound);
  EXPECT_NE(ec, net::ResolveErrc::kTryAgain);
  EXPECT_EQ(std::error_code(EAI_AGAIN, net::gai_category()), net::ResolveErrc::kTryAgain);
  EXPECT_EQ(std::error_code(EAI_MEMORY, net::gai_category()), std::errc::not_enough_memory);
  std::error_condition cond = net::ResolveErrc::kHostNotFound;
  EXPECT_EQ(cond.message(), "no such host");
}

TEST(Resolve, WorksOutsideTheRuntime) {
  std::vector<net::Address> addrs = net::resolve("localhost", "1");
  ASSERT_FALSE(addrs.empty());
  EXPECT_TRUE(addrs[0].is_loopback());
  std::error_code ec;
  net::resolve("nonexistent.invalid", "1", ec);
  EXPECT_TRUE(ec);
}

// Lookups hand their P off at once (blocking_long): with one P, many goroutines resolving
// at the same time do not stop a ticker goroutine, and every lookup completes. (Only a
// few lookups of the name that does not resolve: this sandbox's name server drops
// concurrent queries, and each dropped one costs glibc a 5 s timeout.)
TEST(Resolve, ConcurrentLookupsWithOnePDoNotStallTheRuntime) {
  goro::run(goro::Config{.max_procs = 1}, [] {
    std::atomic<bool> stop{false};
    std::int64_t worst_ns = 0;
    int ticks = 0;
    goro::WaitGroup ticker_done;
    ticker_done.add(1);
    goro::go([&] {
      while (!stop.load()) {
        auto t0 = goro::Clock::now();
        goro::sleep(1ms);
        auto late =
            std::chrono::duration_cast<std::chrono::nanoseconds>(goro::Clock::now() - t0 - 1ms);
        worst_ns = std::max<std::int64_t>(worst_ns, late.count());
        ++ticks;
      }
      ticker_done.done();
    });

    constexpr int kGoroutines = 16;
    constexpr int kRounds = 20;
    std::atomic<int> found{0}, failed{0};
    goro::WaitGroup wg;
    wg.add(kGoroutines + 1);
    for (int i = 0; i < kGoroutines; ++i) {
      goro::go([&] {
        for (int r = 0; r < kRounds; ++r) {
          std::error_code ec;
          auto a = net::resolve("localhost", std::to_string(1000 + r), ec);
          if (!ec && !a.empty() && a[0].port() == 1000 + r) ++found;
        }
        wg.done();
      });
    }
    goro::go([&] {
      std::error_code ec;
      auto a = net::resolve("nonexistent.invalid", "80", ec);
      if (ec && a.empty()) ++failed;
      wg.done();
    });
    wg.wait();
    stop = true;
    ticker_done.wait();
    EXPECT_EQ(found.load(), kGoroutines * kRounds);
    EXPECT_EQ(failed.load(), 1);
    EXPECT_GT(ticks, 0);
    EXPECT_LT(worst_ns, 100'000'000) << "max lateness " << worst_ns / 1e6 << " ms";
  });
}

TEST(Address, ParseAndFormat) {
  auto a = net::Address::parse("192.168.1.20", 53);
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->is_ipv4());
  EXPECT_EQ(a->to_string(), "192.168.1.20:53");
  EXPECT_FALSE(a->is_loopback());

  auto b = net::Address::parse("fe80::1%1", 7);  // numeric zone: interface index 1
  ASSERT_TRUE(b);
  EXPECT_EQ(b->scope_id(), 1u);
  EXPECT_EQ(b->ip().rfind("fe80::1%", 0), 0u) << b->ip();
  auto lo = net::Address::parse("fe80::1%lo", 7);  // named zone
  ASSERT_TRUE(lo);
  EXPECT_EQ(lo->scope_id(), 1u);
  EXPECT_EQ(lo->ip(), "fe80::1%lo");
  EXPECT_EQ(*lo, *b);

  for (const char* bad : {"", "1.2.3", "1.2.3.256", "localhost", "::g", "[::1]", "1.2.3.4%1",
                          "fe80::1%", "fe80::1%no-such-interface-goro"}) {
    EXPECT_FALSE(net::Address::parse(bad)) << bad;
  }

  net::Address zero;
  EXPECT_TRUE(zero.is_ipv4());
  EXPECT_TRUE(zero.is_unspecified());
  EXPECT_EQ(zero.to_string(), "0.0.0.0:0");
  EXPECT_TRUE(net::Address::parse("::")->is_unspecified());
  EXPECT_TRUE(net::Address::parse("::ffff:127.0.0.1")->is_loopback());
  EXPECT_TRUE(net::Address::parse("127.200.0.1")->is_loopback());
}

TEST(Address, ValueSemantics) {
  net::Address a = *net::Address::parse("::1", 80);
  net::Address b = a;
  EXPECT_EQ(a, b);
  b.set_port(81);
  EXPECT_NE(a, b);
  EXPECT_EQ(b.port(), 81);
  EXPECT_NE(*net::Address::parse("127.0.0.1", 80), *net::Address::parse("::ffff:127.0.0.1", 80));

  // From a kernel-style sockaddr, and back.
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons(1234);
  sa.sin6_addr = in6addr_loopback;
  auto c = net::Address::from_native(reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->to_string(), "[::1]:1234");
  EXPECT_FALSE(net::Address::from_native(reinterpret_cast<const sockaddr*>(&sa), 8));
  sockaddr un{};
  un.sa_family = AF_UNIX;
  EXPECT_FALSE(net::Address::from_native(&un, sizeof un));
}

}  // namespace

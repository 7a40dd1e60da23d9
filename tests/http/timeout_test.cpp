// Slow and silent clients: each timeout closes its connection without holding up the
// others.
#include <goro/http.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>

#include "http_test_util.hpp"

namespace http = goro::http;
using namespace http_test;
using std::chrono::milliseconds;

namespace {

http::ServerOptions short_timeouts() {
  http::ServerOptions o;
  o.read_header_timeout = milliseconds(400);
  o.read_body_timeout = milliseconds(400);
  o.write_timeout = milliseconds(400);
  o.idle_timeout = milliseconds(400);
  return o;
}

void add_routes(TestServer& ts) {
  ts.srv.get("/", [](const http::Request&, http::Response& res) { res.text("ok"); });
  ts.srv.post("/echo", [](const http::Request& req, http::Response& res) { res.send(req.body()); });
}

double ms_since(goro::Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(goro::Clock::now() - t).count();
}

TEST(Timeouts, SlowHeaderIsCutWhileOthersAreServed) {
  run([] {
    TestServer ts(short_timeouts());
    add_routes(ts);
    ts.start();
    // A slowloris: one header byte every 50 ms, for ever.
    std::atomic<bool> cut{false};
    std::atomic<double> cut_after{0};
    goro::Chan<int> done(1);
    goro::go([&] {
      {  // the client and its buffers are gone before `done` (run() may end right after)
        RawClient slow = ts.connect();
        std::string req = "GET / HTTP/1.1\r\nHost: t\r\nX-Slow: " + std::string(1000, 'z');
        auto t0 = goro::Clock::now();
        for (char ch : req) {
          if (!slow.send(std::string_view(&ch, 1))) break;
          goro::sleep(milliseconds(50));
          if (ms_since(t0) > 3000) break;
        }
        RawResponse r = slow.read_response(false, std::chrono::seconds(1));
        cut_after = ms_since(t0);
        cut = r.ok && r.status == 408;
      }
      done.send(1);
    });
    // Meanwhile, other clients get quick answers.
    goro::sleep(milliseconds(100));
    for (int i = 0; i < 20; ++i) {
      auto t0 = goro::Clock::now();
      RawResponse r = ts.request(get("/"));
      EXPECT_EQ(r.body, "ok");
      EXPECT_LT(ms_since(t0), 1000.0);  // not held up by the slow client (which takes 3 s)
      goro::sleep(milliseconds(10));
    }
    done.recv();
    EXPECT_TRUE(cut.load());
    // The head timeout is coarse (7/8 to all of it); the client notices at its next send.
    EXPECT_GT(cut_after.load(), 300.0);
    EXPECT_LT(cut_after.load(), 2500.0);
  });
}

// The issue's own shape: one header byte per second. Each byte comes well within any
// per-read timeout, so only a deadline for the whole head (read_header_timeout, 2.5 s
// here) can cut it; meanwhile a keep-alive client and new connections are served.
TEST(Timeouts, OneHeaderBytePerSecondIsCutByTheHeadDeadline) {
  run([] {
    http::ServerOptions o;
    o.read_header_timeout = milliseconds(2500);
    TestServer ts(o);
    add_routes(ts);
    ts.start();
    RawClient slow = ts.connect();
    auto t0 = goro::Clock::now();
    std::atomic<bool> stop{false};
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {
      {  // locals gone before wg.done() (run() may end soon after)
        std::string req = "GET / HTTP/1.1\r\nHost: t\r\nX-Slow: " + std::string(100, 'z');
        for (char ch : req) {
          if (stop.load() || !slow.send(std::string_view(&ch, 1))) break;
          for (int i = 0; i < 10 && !stop.load(); ++i) goro::sleep(milliseconds(100));
        }
      }
      wg.done();
    });
    // Served meanwhile: a keep-alive connection and fresh ones, every 200 ms.
    goro::Chan<int> others_done(1);
    std::atomic<int> served{0};
    goro::go([&] {
      {  // the client is gone before others_done
        RawClient ka = ts.connect();
        while (!stop.load()) {
          auto t = goro::Clock::now();
          ka.send(get("/"));
          if (ka.read_response().body == "ok" && ms_since(t) < 1000.0) ++served;
          auto t2 = goro::Clock::now();
          if (ts.request(get("/")).body == "ok" && ms_since(t2) < 1000.0) ++served;
          goro::sleep(milliseconds(200));
        }
      }
      others_done.send(1);
    });
    RawResponse r = slow.read_response(false, std::chrono::seconds(8));
    double cut_after = ms_since(t0);
    stop = true;
    wg.wait();
    others_done.recv();
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.status, 408);
    EXPECT_TRUE(r.closes());
    EXPECT_TRUE(slow.at_eof());
    EXPECT_GT(cut_after, 2000.0);  // not before 7/8 of the deadline
    EXPECT_LT(cut_after, 6000.0);
    EXPECT_GE(served.load(), 10);  // about 2 every 200 ms while the slow client lasted
  });
}

TEST(Timeouts, SilentConnectionIsClosed) {
  run([] {
    TestServer ts(short_timeouts());
    add_routes(ts);
    ts.start();
    RawClient c = ts.connect();
    auto t0 = goro::Clock::now();
    EXPECT_TRUE(c.at_eof(std::chrono::seconds(3)));  // nothing sent: closed, no response
    EXPECT_GT(ms_since(t0), 300.0);
    EXPECT_LT(ms_since(t0), 2500.0);
  });
}

TEST(Timeouts, IdleKeepAliveConnectionIsClosed) {
  run([] {
    http::ServerOptions o = short_timeouts();
    o.idle_timeout = milliseconds(300);
    TestServer ts(o);
    add_routes(ts);
    ts.start();
    RawClient c = ts.connect();
    c.send(get("/"));
    EXPECT_EQ(c.read_response().body, "ok");
    auto t0 = goro::Clock::now();
    EXPECT_TRUE(c.at_eof(std::chrono::seconds(3)));
    EXPECT_GT(ms_since(t0), 200.0);
    EXPECT_LT(ms_since(t0), 2500.0);
    // The server half-closed and lingers a moment for stray bytes; once we close too,
    // it lets go of the connection.
    c.conn().close();
    for (int i = 0; i < 50 && ts.srv.open_connections() != 0; ++i) goro::sleep(milliseconds(10));
    EXPECT_EQ(ts.srv.open_connections(), 0u);
  });
}

TEST(Timeouts, SlowBodyGets408) {
  run([] {
    TestServer ts(short_timeouts());
    add_routes(ts);
    ts.start();
    RawClient c = ts.connect();
    c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nab");  // then nothing
    auto t0 = goro::Clock::now();
    RawResponse r = c.read_response(false, std::chrono::seconds(3));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.status, 408);
    EXPECT_TRUE(r.closes());
    EXPECT_LT(ms_since(t0), 2500.0);
    EXPECT_TRUE(c.at_eof());
  });
}

// A chunked body trickling in (a chunk every 50 ms, for ever): the body deadline is for
// the whole body, so it is cut although every read succeeds quickly.
TEST(Timeouts, TrickledBodyIsCutByTheBodyDeadline) {
  run([] {
    TestServer ts(short_timeouts());
    add_routes(ts);
    ts.start();
    RawClient c = ts.connect();
    c.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    auto t0 = goro::Clock::now();
    std::atomic<bool> stop{false};
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {
      while (!stop.load() && ms_since(t0) < 5000 && c.send("1\r\nx\r\n")) goro::sleep(milliseconds(50));
      wg.done();
    });
    RawResponse r = c.read_response(false, std::chrono::seconds(5));
    double cut_after = ms_since(t0);
    stop = true;
    wg.wait();
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.status, 408);
    EXPECT_TRUE(r.closes());
    EXPECT_GT(cut_after, 300.0);
    EXPECT_LT(cut_after, 2500.0);
    EXPECT_EQ(ts.request(get("/")).body, "ok");
  });
}

TEST(Timeouts, ClientThatDoesNotReadIsCut) {
  run([] {
    http::ServerOptions o = short_timeouts();
    TestServer ts(o);
    std::atomic<bool> write_failed{false};
    ts.srv.get("/flood", [&](const http::Request&, http::Response& res) {
      std::string piece(1 << 16, 'f');
      try {
        for (int i = 0; i < 4096; ++i) res.write(piece);  // 256 MiB: never fits in buffers
      } catch (const std::system_error&) {
        write_failed = true;
        throw;
      }
    });
    add_routes(ts);
    ts.start();
    RawClient c = ts.connect();
    c.send(get("/flood"));  // and never read
    auto t0 = goro::Clock::now();
    while (!write_failed.load() && ms_since(t0) < 5000) goro::sleep(milliseconds(20));
    EXPECT_TRUE(write_failed.load());
    EXPECT_LT(ms_since(t0), 2500.0);
    // Others were never held up.
    EXPECT_EQ(ts.request(get("/")).body, "ok");
    // And the connection is let go of although the client, still connected, never reads.
    for (int i = 0; i < 300 && ts.srv.open_connections() != 0; ++i) goro::sleep(milliseconds(10));
    EXPECT_EQ(ts.srv.open_connections(), 0u);
  });
}

// Pipelined requests from a client that never reads their responses: once the socket
// buffers are full the server's write times out, and the connection is let go.
TEST(Timeouts, PipeliningClientThatDoesNotReadIsCut) {
  run([] {
    TestServer ts(short_timeouts());
    ts.srv.get("/big", [](const http::Request&, http::Response& res) { res.text(std::string(1 << 16, 'b')); });
    add_routes(ts);
    ts.start();
    RawClient c = ts.connect();
    std::string batch;
    for (int i = 0; i < 100; ++i) batch += get("/big");
    auto t0 = goro::Clock::now();
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {
      for (int i = 0; i < 100 && c.send(batch); ++i) {  // 100 x 100 x 64 KiB asked for
      }
      wg.done();
    });
    for (int i = 0; i < 200 && ts.srv.active_connections() == 0; ++i) goro::sleep(milliseconds(10));
    EXPECT_EQ(ts.srv.open_connections(), 1u);
    for (int i = 0; i < 500 && ts.srv.open_connections() != 0; ++i) goro::sleep(milliseconds(10));
    EXPECT_EQ(ts.srv.open_connections(), 0u);
    EXPECT_GT(ms_since(t0), 300.0);  // a write deadline, not something else, ended it
    EXPECT_LT(ms_since(t0), 4000.0);
    c.conn().close();
    wg.wait();
    EXPECT_EQ(ts.request(get("/")).body, "ok");
  });
}

TEST(Timeouts, NoTimeoutsMeansNoDeadline) {
  run([] {
    http::ServerOptions o;
    o.read_header_timeout = o.read_body_timeout = o.write_timeout = o.idle_timeout = goro::Duration::zero();
    TestServer ts(o);
    add_routes(ts);
    ts.start();
    RawClient c = ts.connect();
    c.send(get("/"));
    EXPECT_EQ(c.read_response().body, "ok");
    EXPECT_FALSE(c.at_eof(milliseconds(300)));  // still open
    c.send(get("/"));
    EXPECT_EQ(c.read_response().body, "ok");
  });
}

}  // namespace

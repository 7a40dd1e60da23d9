// Requests goro::http must refuse: malformed syntax, the request smuggling shapes, the
// size limits, unsupported versions and codings. Each is sent with a second, well-formed
// request right behind it (to a route that counts its calls): the server must answer the
// bad one with the right status, close the connection, and never run the second.
#include <goro/http.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "http_test_util.hpp"

namespace http = goro::http;
using namespace http_test;

namespace {

struct Case {
  const char* name;
  std::string request;  // bytes before the smuggled request
  int status;
};

class RejectTest : public ::testing::TestWithParam<Case> {};

constexpr char kSmuggled[] = "GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n";

http::ServerOptions small_limits() {
  http::ServerOptions o;
  o.max_request_line = 256;
  o.max_header_bytes = 1024;
  o.max_header_count = 10;
  o.max_body_bytes = 100;
  return o;
}

void add_routes(TestServer& ts, std::atomic<int>& smuggled) {
  ts.srv.get("/smuggled", [&smuggled](const http::Request&, http::Response& res) {
    ++smuggled;
    res.text("should never run");
  });
  auto echo = [](const http::Request& req, http::Response& res) { res.send(req.body()); };
  ts.srv.post("/", echo);
  ts.srv.get("/", echo);
}

TEST_P(RejectTest, AnsweredClosedAndNothingSmuggled) {
  const Case& c = GetParam();
  run([&] {
    TestServer ts(small_limits());
    std::atomic<int> smuggled{0};
    add_routes(ts, smuggled);
    ts.start();
    RawClient client = ts.connect();
    client.send(c.request + kSmuggled);
    RawResponse r = client.read_response();
    ASSERT_TRUE(r.ok) << c.name << ": " << r.error;
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.status_line << " " << r.body;
    EXPECT_TRUE(r.closes()) << c.name;
    EXPECT_TRUE(client.at_eof()) << c.name << ": more after the response: " << client.leftover();
    EXPECT_EQ(smuggled.load(), 0) << c.name;
    // The server is fine afterwards.
    RawResponse ok = ts.request("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok");
    EXPECT_EQ(ok.body, "ok");
  });
}

const std::string kPost = "POST / HTTP/1.1\r\nHost: t\r\n";

INSTANTIATE_TEST_SUITE_P(
    Smuggling, RejectTest,
    ::testing::Values(
        Case{"CL_then_TE", kPost + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
        Case{"TE_then_CL", kPost + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400},
        Case{"two_different_CLs", kPost + "Content-Length: 3\r\nContent-Length: 40\r\n\r\nabc", 400},
        Case{"two_equal_CLs", kPost + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400},
        Case{"CL_list", kPost + "Content-Length: 3, 3\r\n\r\nabc", 400},
        Case{"CL_negative", kPost + "Content-Length: -3\r\n\r\nabc", 400},
        Case{"CL_plus", kPost + "Content-Length: +3\r\n\r\nabc", 400},
        Case{"CL_hex", kPost + "Content-Length: 0x3\r\n\r\nabc", 400},
        Case{"chunk_size_not_hex", kPost + "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400},
        Case{"chunk_size_negative", kPost + "Transfer-Encoding: chunked\r\n\r\n-1\r\nabc\r\n0\r\n\r\n", 400},
        Case{"chunk_size_overflow",
             kPost + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nabc\r\n0\r\n\r\n", 400},
        Case{"chunk_size_space", kPost + "Transfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n", 400},
        Case{"chunk_data_too_long", kPost + "Transfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n", 400},
        Case{"chunk_bare_LF", kPost + "Transfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n", 400},
        Case{"TE_chunked_not_last", kPost + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400},
        Case{"TE_twice_chunked", kPost + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
        Case{"TE_unknown_coding", kPost + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
        Case{"TE_identity", kPost + "Transfer-Encoding: identity\r\n\r\n", 501},
        Case{"TE_in_http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
        Case{"obs_fold", "GET / HTTP/1.1\r\nHost: t\r\nX-Folded: a\r\n b\r\n\r\n", 400},
        Case{"obs_fold_tab", "GET / HTTP/1.1\r\nHost: t\r\nX-Folded: a\r\n\tb\r\n\r\n", 400},
        Case{"leading_space_first_field", "GET / HTTP/1.1\r\n Host: t\r\n\r\n", 400},
        Case{"bare_LF_in_headers", "GET / HTTP/1.1\r\nHost: t\nX: y\r\n\r\n", 400},
        Case{"bare_LF_ending_head", "GET / HTTP/1.1\r\nHost: t\r\n\n", 400},
        Case{"bare_LF_request_line", "GET / HTTP/1.1\nHost: t\r\n\r\n", 400},
        Case{"bare_CR", "GET / HTTP/1.1\r\nHost: t\rX: y\r\n\r\n", 400},
        Case{"space_before_colon", "GET / HTTP/1.1\r\nHost: t\r\nContent-Length : 5\r\n\r\nhello", 400},
        Case{"trailer_bare_LF", kPost + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: x\n\r\n", 400},
        Case{"trailer_obs_fold", kPost + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: x\r\n y\r\n\r\n", 400},
        Case{"trailer_ending_bare_LF", kPost + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: x\r\n\n", 400},
        Case{"CL_empty", kPost + "Content-Length: \r\n\r\n", 400},
        Case{"CL_obs_fold", kPost + "Content-Length: 3\r\n 0\r\n\r\nabc", 400},
        Case{"CL_space_inside", kPost + "Content-Length: 1 2\r\n\r\nabc", 400},
        Case{"TE_space_before_colon", kPost + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400},
        Case{"TE_obs_fold", kPost + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 400},
        Case{"TE_and_CL_in_http10", "POST / HTTP/1.0\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
        Case{"chunk_size_0x", kPost + "Transfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n", 400},
        Case{"chunk_size_empty", kPost + "Transfer-Encoding: chunked\r\n\r\n\r\nabc\r\n0\r\n\r\n", 400},
        Case{"chunk_data_bare_LF", kPost + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n", 400},
        Case{"chunk_ext_bare_LF", kPost + "Transfer-Encoding: chunked\r\n\r\n3;a=b\nabc\r\n0\r\n\r\n", 400},
        Case{"chunk_ext_bare_CR", kPost + "Transfer-Encoding: chunked\r\n\r\n3;a\rb\r\nabc\r\n0\r\n\r\n", 400},
        Case{"last_chunk_bare_LF", kPost + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\n\r\n", 400},
        Case{"chunked_no_final_CRLF_then_request", kPost + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n", 400}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Malformed, RejectTest,
    ::testing::Values(Case{"garbage", "this is not http\r\n\r\n", 400},
                      Case{"lower_case_method", "get / HTTP/1.1\r\nHost: t\r\n\r\n", 400},
                      Case{"no_host", "GET / HTTP/1.1\r\n\r\n", 400},
                      Case{"two_hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
                      Case{"control_char_in_value", "GET / HTTP/1.1\r\nHost: t\r\nX: a\x01z\r\n\r\n", 400},
                      Case{"nul_in_value", [] {
                        constexpr char kReq[] = "GET / HTTP/1.1\r\nHost: t\r\nX: a\0z\r\n\r\n";
                        return std::string(kReq, sizeof kReq - 1);
                      }(), 400},
                      Case{"space_in_target", "GET /a b HTTP/1.1\r\nHost: t\r\n\r\n", 400},
                      Case{"bad_version", "GET / HTTP/1.2\r\nHost: t\r\n\r\n", 400},
                      Case{"version_2", "GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505},
                      Case{"http09", "GET /\r\n\r\n", 505}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Limits, RejectTest,
    ::testing::Values(
        Case{"uri_too_long", "GET /" + std::string(300, 'a') + " HTTP/1.1\r\nHost: t\r\n\r\n", 414},
        Case{"header_block_too_large",
             "GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(1100, 'h') + "\r\n\r\n", 431},
        Case{"too_many_fields",
             [] {
               std::string s = "GET / HTTP/1.1\r\nHost: t\r\n";
               for (int i = 0; i < 11; ++i) s += "X-F" + std::to_string(i) + ": v\r\n";
               return s + "\r\n";
             }(),
             431},
        Case{"body_too_large_by_CL", kPost + "Content-Length: 101\r\n\r\n" + std::string(101, 'x'), 413},
        Case{"body_too_large_chunked",
             kPost + "Transfer-Encoding: chunked\r\n\r\n40\r\n" + std::string(64, 'x') + "\r\n40\r\n" +
                 std::string(64, 'y') + "\r\n0\r\n\r\n",
             413},
        Case{"chunk_too_large", kPost + "Transfer-Encoding: chunked\r\n\r\n1000\r\n" + std::string(64, 'x'), 413},
        Case{"too_many_trailers",
             [] {
               std::string s = kPost + "Transfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n";
               for (int i = 0; i < 11; ++i) s += "T" + std::to_string(i) + ": v\r\n";
               return s + "\r\n";
             }(),
             400}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Limits, JustUnderTheLimitsIsFine) {
  run([] {
    TestServer ts(small_limits());
    std::atomic<int> smuggled{0};
    add_routes(ts, smuggled);
    ts.start();
    std::string line = "GET /" + std::string(256 - 14, 'a') + " HTTP/1.1";  // exactly 256
    ASSERT_EQ(line.size(), 256u);
    RawResponse r = ts.request(line + "\r\nHost: t\r\n\r\n");
    EXPECT_EQ(r.status, 404);  // routed, not refused
    std::string fields = "POST / HTTP/1.1\r\nHost: t\r\n";
    for (int i = 0; i < 8; ++i) fields += "X-F" + std::to_string(i) + ": v\r\n";
    r = ts.request(fields + "Content-Length: 100\r\n\r\n" + std::string(100, 'z'));  // 10 fields
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, std::string(100, 'z'));
  });
}

// A request line or header block that never ends is refused once it passes its limit,
// not when a timeout finally runs out (the head timeout is 60 s here), and its bytes are
// not kept: the client is still sending a megabyte when the answer comes.
TEST(Limits, EndlessHeadsAreCutAtTheLimit) {
  struct Endless {
    const char* name;
    std::string start;
    int status;
  };
  for (const Endless& e : {Endless{"request line", "GET /", 414},
                           Endless{"header value", "GET / HTTP/1.1\r\nHost: t\r\nX-Long: ", 431},
                           Endless{"header fields", "GET / HTTP/1.1\r\nHost: t\r\n", 431}}) {
    run([&] {
      http::ServerOptions o;
      o.read_header_timeout = std::chrono::seconds(60);
      TestServer ts(o);
      std::atomic<int> smuggled{0};
      add_routes(ts, smuggled);
      ts.start();
      RawClient c = ts.connect();
      goro::WaitGroup wg;
      wg.add(1);
      goro::go([&] {
        c.send(e.start);
        std::string piece = e.status == 414 ? std::string(4096, 'a')
                                            : e.start.back() == ' ' ? std::string(4096, 'v') : "";
        for (int i = 0; i < 256; ++i) {
          std::string p = piece.empty() ? "X-F" + std::to_string(i) + ": v\r\n" : piece;
          if (!c.send(p)) break;
        }
        wg.done();
      });
      auto t0 = goro::Clock::now();
      RawResponse r = c.read_response(false, std::chrono::seconds(10));
      ASSERT_TRUE(r.ok) << e.name << ": " << r.error;
      EXPECT_EQ(r.status, e.status) << e.name;
      EXPECT_TRUE(r.closes()) << e.name;
      EXPECT_LT(std::chrono::duration<double>(goro::Clock::now() - t0).count(), 5.0) << e.name;
      c.conn().close();
      wg.wait();
      EXPECT_EQ(ts.request(get("/")).status, 200) << e.name;
    });
  }
}

TEST(Limits, LeadingEmptyLinesAreSkipped) {
  run([] {
    TestServer ts;
    ts.srv.get("/", [](const http::Request&, http::Response& res) { res.text("ok"); });
    ts.start();
    EXPECT_EQ(ts.request("\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n").body, "ok");
  });
}

TEST(Limits, UpgradeIsAnsweredThenClosed) {
  run([] {
    TestServer ts;
    ts.srv.get("/", [](const http::Request&, http::Response& res) { res.text("ok"); });
    ts.start();
    RawClient c = ts.connect();
    c.send("GET / HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"
           "\x81\x05hello");  // would be websocket frames
    RawResponse r = c.read_response();
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.closes());
    EXPECT_TRUE(c.at_eof());
  });
}

}  // namespace

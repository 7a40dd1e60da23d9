// Mutated requests against a live goro::http::Server, over real sockets: whatever the
// bytes, the server must answer with well-formed responses or close, never run a request
// that follows one it rejected, never hang, and leave no connection, descriptor or
// goroutine behind.
//
// Each case joins one to four well-formed requests (GET, HEAD, HTTP/1.0, POST with a
// Content-Length or a chunked body with an extension and a trailer, 100-continue, a
// streamed response), applies up to four mutations (a byte changed, inserted or removed,
// a line doubled, the input cut short, a number made huge, a header or a request line
// spliced in: the shapes of request smuggling), and sends the result in random pieces
// with short pauses between them (the server's incremental parsing), mostly followed by a
// half close (the server sees the end of the input at once), sometimes not (its timeouts
// end the connection). Eight clients run at once; about one case in five goes
// unmutated and must get exactly the expected responses.
//
// What the client reads back must parse, strictly, as a sequence of complete responses
// (interim 100 Continues, and final ones with Content-Length, chunked or, after
// "Connection: close", close-delimited bodies), ending in the server's close within a
// bound (10x the server's timeouts). A response saying "Connection: close" is the last.
// The routes' middleware marks each response it produced (X-Method) and counts it; the
// server's own error responses (400, 408, 413, 414, 417, 431, 500, 501, 505) carry no mark
// and close the connection, so nothing behind a rejected request ever reaches a handler.
// At the end the marked responses read equal the middleware's count, and the process is
// back to its goroutines and descriptors of before.
//
// A second test writes well-formed requests in the many equivalent ways HTTP/1.1 allows
// (the target in absolute form, percent-encoded or with its query reordered; header
// names in any case, spaces and tabs around values, extra fields, other chunk
// sizes with extensions and leading zeros, trailers, Content-Length with leading zeros),
// pipelined up to four deep: each must get exactly the answer its plain form gets. It
// found that a tab after a Content-Length, Transfer-Encoding or Connection value (OWS,
// like a space) made llhttp answer 400 or miss the token.
//
// A third test has the clients vanish instead: each closes or resets its connection at a
// random point (while sending, while a response of up to a megabyte streams back, after
// reading part of it, or after up to 100 ms), or stops reading and waits for the server's
// write timeout. The server must go on serving, and once it is stopped nothing may be
// left behind.
//
// GORO_FUZZ_SEED=N replays a run (a failure prints its seed, input and output);
// GORO_FUZZ_CASES=N changes the number of cases (defaults: 6000, 20000, 2000).
#include <goro/goro.hpp>
#include <goro/http.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "../http/http_test_util.hpp"
#include "../net/net_test_util.hpp"

namespace http = goro::http;
using namespace http_test;
using namespace std::chrono_literals;

namespace {

constexpr goro::Duration kServerTimeout = 1s;  // read-header, read-body, idle
constexpr goro::Duration kClientWait = 10 * kServerTimeout;

// A well-formed request and what the server answers it.
struct Seed {
  std::string bytes;
  int status;
  std::optional<std::string> body;  // nullopt: no body (HEAD)
  bool closes;                      // the server closes after it
  bool any_body = false;            // the body is the router's text: not compared
};

std::vector<Seed> seeds() {
  return {
      {"GET / HTTP/1.1\r\nHost: t\r\n\r\n", 200, "root", false},
      {"GET /q?a=1&b=%20x HTTP/1.1\r\nHost: t\r\nAccept: */*\r\nX-Long: " + std::string(200, 'a') +
           "\r\n\r\n",
       200, "a=1", false},
      {"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world", 200,
       "hello world", false},
      {"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
       "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer-A: x\r\n\r\n",
       200, "hello world", false},
      {"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n", 200, std::nullopt, false},
      {"GET / HTTP/1.0\r\n\r\n", 200, "root", true},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200, "root", false},
      {"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nabcd",
       200, "abcd", false},
      {"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n", 200, "abcdefg", false},
      {"DELETE /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", 405, "", false, true},
      {"GET /nowhere HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 404, "", true, true},
  };
}

// What is spliced into a request: bytes that matter to the grammar, numbers, and the
// header lines and request lines that request smuggling is made of.
const std::vector<std::string>& splices() {
  static const std::vector<std::string> v = {
      "\r",
      "\n",
      "\r\n",
      " ",
      "\t",
      ":",
      ";",
      "0",
      "9",
      "f",
      "-",
      "+",
      ",",
      "\"",
      std::string(1, '\0'),
      "\x80",
      "\xff",
      "%",
      "?",
      "#",
      "/..",
      "Content-Length: 3\r\n",
      "Content-Length: 0\r\n",
      "Content-Length: -1\r\n",
      "Content-Length: 99999999999999999999\r\n",
      "Content-Length: 1, 2\r\n",
      "Transfer-Encoding: chunked\r\n",
      "Transfer-Encoding: gzip, chunked\r\n",
      "Transfer-Encoding: chunked, gzip\r\n",
      "Transfer-Encoding : chunked\r\n",
      " folded\r\n",
      "\tfolded\r\n",
      "Connection: close\r\n",
      "Expect: 100-continue\r\n",
      "ffffffffffffffffff\r\n",
      "0\r\n\r\n",
      "5\r\nhello\r\n",
      "GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n",
      "HTTP/1.1",
      "HTTP/2.0",
      "GET / HTTP/1.1\n",
      std::string(300, 'x'),
      "X: " + std::string(1100, 'y') + "\r\n",
  };
  return v;
}

class Mutator {
 public:
  explicit Mutator(std::uint64_t seed) : rng_(seed) {}

  std::size_t below(std::size_t n) {
    return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
  }
  bool chance(int percent) { return static_cast<int>(below(100)) < percent; }

  void mutate(std::string& s) {
    if (s.empty()) return;
    std::size_t at = below(s.size());
    switch (below(7)) {
      case 0:  // one byte changed
        s[at] = chance(50) ? static_cast<char>(below(256)) : splices()[below(17)][0];
        break;
      case 1:  // something inserted
        s.insert(at, splices()[below(splices().size())]);
        break;
      case 2:  // a few bytes removed
        s.erase(at, 1 + below(8));
        break;
      case 3: {  // a line doubled
        std::size_t b = s.rfind('\n', at);
        b = b == std::string::npos ? 0 : b + 1;
        std::size_t e = s.find('\n', at);
        if (e != std::string::npos) s.insert(b, s.substr(b, e + 1 - b));
        break;
      }
      case 4:  // cut short
        s.resize(at);
        break;
      case 5: {  // a number made huge or negative
        std::size_t d = s.find_first_of("0123456789", at);
        if (d != std::string::npos) s.insert(d, chance(50) ? "18446744073709551616" : "-");
        break;
      }
      default:  // a request line or header line spliced in at a line start
        at = s.find('\n', at);
        if (at != std::string::npos) s.insert(at + 1, splices()[21 + below(splices().size() - 21)]);
        break;
    }
  }

  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
};

// One response of the stream the client read, or why the stream is not well-formed.
struct Parsed {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::optional<std::string> body;
  bool closes = false;

  std::optional<std::string> header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return std::nullopt;
  }
};

bool is_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Parses everything the server sent; false and a reason when it is not a sequence of
// complete, well-formed responses.
bool parse_stream(std::string_view in, std::vector<Parsed>& out, std::string& why) {
  std::size_t pos = 0;
  auto line = [&](std::string_view& l) {
    std::size_t e = in.find("\r\n", pos);
    if (e == std::string_view::npos) return false;
    l = in.substr(pos, e - pos);
    pos = e + 2;
    return true;
  };
  while (pos < in.size()) {
    Parsed r;
    std::string_view l;
    if (!line(l)) return why = "incomplete status line", false;
    if (l.size() < 13 || (l.substr(0, 9) != "HTTP/1.1 " && l.substr(0, 9) != "HTTP/1.0 ") ||
        l[12] != ' ' || l.find_first_not_of("0123456789", 9) != 12) {
      return why = "bad status line: " + std::string(l), false;
    }
    r.status = std::atoi(std::string(l.substr(9, 3)).c_str());
    for (;;) {
      if (!line(l)) return why = "incomplete head", false;
      if (l.empty()) break;
      std::size_t colon = l.find(':');
      if (colon == 0 || colon == std::string_view::npos || colon + 1 >= l.size() ||
          l[colon + 1] != ' ') {
        return why = "bad header line: " + std::string(l), false;
      }
      for (char c : l.substr(0, colon)) {
        if (!is_token_char(c)) return why = "bad header name: " + std::string(l), false;
      }
      for (char c : l.substr(colon + 2)) {
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) {
          return why = "control byte in a header value", false;
        }
      }
      r.headers.emplace_back(lower(l.substr(0, colon)), std::string(l.substr(colon + 2)));
    }
    r.closes = lower(r.header("connection").value_or("")) == "close";
    std::size_t cls = 0;
    for (const auto& h : r.headers) cls += h.first == "content-length";
    if (cls > 1) return why = "two Content-Length fields", false;
    bool chunked = r.header("transfer-encoding").has_value();
    if (chunked && (cls != 0 || lower(*r.header("transfer-encoding")) != "chunked")) {
      return why = "bad framing fields", false;
    }
    if (r.status >= 100 && r.status < 200) {
      if (r.status != 100 || !r.headers.empty()) return why = "unexpected interim response", false;
      out.push_back(std::move(r));
      continue;
    }
    bool head = r.header("x-method") == std::optional<std::string>("HEAD");
    if (head || r.status == 204 || r.status == 304) {
      out.push_back(std::move(r));
      continue;
    }
    std::string body;
    if (chunked) {
      for (;;) {
        if (!line(l)) return why = "incomplete chunk size", false;
        if (l.empty() || l.size() > 16 ||
            l.find_first_not_of("0123456789abcdefABCDEF") != std::string_view::npos) {
          return why = "bad chunk size: " + std::string(l), false;
        }
        std::size_t n = std::strtoul(std::string(l).c_str(), nullptr, 16);
        if (n == 0) {
          if (!line(l) || !l.empty()) return why = "bad last chunk", false;
          break;
        }
        if (in.size() - pos < n + 2 || in.substr(pos + n, 2) != "\r\n")
          return why = "bad chunk", false;
        body += in.substr(pos, n);
        pos += n + 2;
      }
    } else if (cls == 1) {
      std::string v = *r.header("content-length");
      if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos) {
        return why = "bad Content-Length: " + v, false;
      }
      std::size_t n = std::strtoul(v.c_str(), nullptr, 10);
      if (in.size() - pos < n) {
        // A server error to a HEAD request has no body: the connection ends after it.
        if (!r.header("x-method") && pos == in.size() && r.closes) {
          out.push_back(std::move(r));
          continue;
        }
        return why = "body shorter than its Content-Length", false;
      }
      body = std::string(in.substr(pos, n));
      pos += n;
    } else {
      if (!r.closes) return why = "no framing and no Connection: close", false;
      body = std::string(in.substr(pos));
      pos = in.size();
    }
    r.body = std::move(body);
    out.push_back(std::move(r));
  }
  return true;
}

// Reads until the server closes; false if it did not within `wait`.
bool read_to_close(goro::net::Conn& c, std::string& out, goro::Duration wait) {
  c.set_read_deadline(goro::Clock::now() + wait);
  char buf[8192];
  for (;;) {
    std::error_code ec;
    std::size_t n = c.read(buf, sizeof buf, ec);
    if (n > 0) out.append(buf, n);
    if (ec) return ec == goro::net::Errc::kEof || ec == std::errc::connection_reset;
  }
}

std::string escaped(std::string_view s) {
  std::string o;
  for (unsigned char c : s) {
    if (c == '\r') {
      o += "\\r";
    } else if (c == '\n') {
      o += "\\n\n";
    } else if (c < 0x20 || c >= 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      o += b;
    } else {
      o += static_cast<char>(c);
    }
  }
  return o.size() > 4000 ? o.substr(0, 4000) + "..." : o;
}

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

// The routes every test serves: what the seeds ask for.
void add_common_routes(http::Server& srv) {
  srv.get("/", [](const http::Request&, http::Response& res) { res.text("root"); });
  srv.get("/q", [](const http::Request& req, http::Response& res) {
    res.text("a=" + req.query_or("a", ""));
  });
  srv.post("/echo", [](const http::Request& req, http::Response& res) { res.send(req.body()); });
  srv.get("/stream", [](const http::Request&, http::Response& res) {
    res.write("abc");
    res.flush();
    res.write("defg");
  });
}

// Every timeout of the server at kServerTimeout.
void set_timeouts(http::ServerOptions& o) {
  o.read_header_timeout = kServerTimeout;
  o.read_body_timeout = kServerTimeout;
  o.idle_timeout = kServerTimeout;
  o.write_timeout = kServerTimeout;
}

// Runs case(i, k) for i = 0 .. cases-1 on `clients` goroutines (k: which one), each
// taking the next case number; with `failures`, stops handing cases out after 3.
template <class F>
void for_each_case(int clients, std::uint64_t cases, const std::atomic<std::uint64_t>* failures,
                   F run_case) {
  std::atomic<std::uint64_t> next{0};
  goro::WaitGroup wg;
  for (int k = 0; k < clients; ++k) {
    wg.add(1);
    goro::go([&, k] {
      for (;;) {
        const std::uint64_t i = next.fetch_add(1, std::memory_order_relaxed);  // relaxed: a ticket
        // relaxed: a hint (cases already under way finish)
        if (i >= cases || (failures != nullptr && failures->load(std::memory_order_relaxed) >= 3)) {
          break;
        }
        run_case(i, k);
      }
      wg.done();
    });
  }
  wg.wait();
}

// A connection to ts for case i, or nullopt (and a test failure) if the dial failed.
std::optional<RawClient> dial_case(const TestServer& ts, std::uint64_t i) {
  std::error_code ec;
  goro::net::Conn c = net_test::dial_retry(ts.addr, 5s, ec);
  if (ec) {
    ADD_FAILURE() << "case " << i << ": dial: " << ec.message();
    return std::nullopt;
  }
  return RawClient(std::move(c));
}

// Sends input in random pieces (70 % of the time the rest at once), with pauses of up to
// 500 us between some pieces if `pauses`; stops if the server closed on us.
void send_in_pieces(RawClient& c, std::string_view input, Mutator& m, bool pauses) {
  for (std::size_t pos = 0; pos < input.size();) {
    std::size_t n = m.chance(70) ? input.size() - pos : 1 + m.below(input.size() - pos);
    if (!c.send(input.substr(pos, n))) return;
    pos += n;
    if (pauses && pos < input.size() && m.chance(30)) {
      goro::sleep(std::chrono::microseconds(m.below(500)));
    }
  }
}

// What one request must get, for the cases whose answers are known.
struct Expected {
  int status;
  std::optional<std::string> body;  // nullopt: none (HEAD)
  bool any_body;                    // the body is the router's text: not compared
  bool closes;
  std::optional<std::string> method;  // the X-Method mark, when checked
  std::string what;                   // the request, for the failure message
};

// Whether rs holds exactly the answers `want`, up to the first that closes (an interim
// 100 Continue may come before any of them).
bool answers_match(const std::vector<Parsed>& rs, const std::vector<Expected>& want,
                   std::string& why) {
  std::size_t j = 0;
  for (const Expected& e : want) {
    // A 100 Continue comes only when the body had not arrived yet.
    if (j < rs.size() && rs[j].status == 100) ++j;
    if (j >= rs.size() || rs[j].status != e.status || rs[j].closes != e.closes ||
        (!e.any_body && rs[j].body != e.body) ||
        (e.method && rs[j].header("x-method") != e.method)) {
      why = "not the expected answer to " + e.what;
      return false;
    }
    ++j;
    if (e.closes) break;
  }
  if (j != rs.size()) {
    why = "more responses than requests";
    return false;
  }
  return true;
}

// The process's goroutines and descriptors, to compare with once the server is gone.
struct Baseline {
  std::int64_t goroutines;
  int fds;
};

Baseline take_baseline() {
  { goro::net::Listener warm = goro::net::listen("127.0.0.1:0"); }  // the poller's own fds
  return {goro::num_goroutines(), net_test::count_fds()};
}

void expect_back_to(const Baseline& b) {
  for (int i = 0; i < 500 && goro::num_goroutines() > b.goroutines; ++i) goro::sleep(10ms);
  EXPECT_EQ(goro::num_goroutines(), b.goroutines);
  for (int i = 0; i < 500 && net_test::count_fds() > b.fds; ++i) goro::sleep(10ms);
  EXPECT_EQ(net_test::count_fds(), b.fds);
}

TEST(HttpFuzzStress, MutatedRequestsGetWellFormedAnswersOrACloseAndLeakNothing) {
  const std::uint64_t seed = env_or("GORO_FUZZ_SEED", std::random_device{}());
  const std::uint64_t cases = env_or("GORO_FUZZ_CASES", 6000);
  SCOPED_TRACE("GORO_FUZZ_SEED=" + std::to_string(seed));
  const std::vector<Seed> kSeeds = seeds();
  constexpr int kClients = 8;

  run([&] {
    const Baseline before = take_baseline();
    // relaxed, all: counts read once the clients are done (for_each_case's WaitGroup).
    std::atomic<std::uint64_t> marked{0};  // responses the middleware finished
    std::atomic<std::uint64_t> marked_read{0};
    std::atomic<std::uint64_t> failures{0};
    std::atomic<std::uint64_t> rejected{0}, unmutated{0};
    {
      http::ServerOptions o;
      o.max_request_line = 256;
      o.max_header_bytes = 1024;
      o.max_header_count = 10;
      o.max_body_bytes = 100;
      set_timeouts(o);
      TestServer ts(o);
      ts.srv.use([&marked](http::Request& req, http::Response& res, const http::Next& next) {
        res.header("X-Method", req.method());
        next();
        marked.fetch_add(1, std::memory_order_relaxed);
      });
      add_common_routes(ts.srv);
      ts.srv.get("/smuggled",
                 [](const http::Request&, http::Response& res) { res.text("smuggled"); });
      ts.start();

      for_each_case(kClients, cases, &failures, [&](std::uint64_t i, int k) {
        Mutator m(seed * 0x9E3779B97F4A7C15ull + i);
        std::vector<const Seed*> parts;
        std::string input;
        for (std::size_t n = 1 + m.below(m.chance(60) ? 1 : 4); n > 0; --n) {
          parts.push_back(&kSeeds[m.below(kSeeds.size())]);
          input += parts.back()->bytes;
        }
        const bool mutated = !m.chance(20);
        if (mutated) {
          for (std::size_t n = 1 + m.below(4); n > 0; --n) m.mutate(input);
          if (m.chance(30)) input += "GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n";
        }
        const bool half_close = m.chance(95);

        std::optional<RawClient> c = dial_case(ts, i);
        if (!c) {
          failures.fetch_add(1, std::memory_order_relaxed);
          return;
        }
        send_in_pieces(*c, input, m, true);
        if (half_close) {
          std::error_code ec;
          c->conn().shutdown_write(ec);
        }
        std::string got;
        const bool closed = read_to_close(c->conn(), got, kClientWait);
        std::vector<Parsed> rs;
        std::string why;
        bool ok = closed && parse_stream(got, rs, why);
        if (!closed) {
          why = "the server did not close within " +
                std::to_string(
                    std::chrono::duration_cast<std::chrono::milliseconds>(kClientWait).count()) +
                " ms";
        }
        for (std::size_t j = 0; ok && j < rs.size(); ++j) {
          const Parsed& r = rs[j];
          if (r.status == 100) continue;
          bool last = j + 1 == rs.size();
          if (r.header("x-method")) {
            marked_read.fetch_add(1, std::memory_order_relaxed);
          } else {
            // The server's own answer: an error, after which nothing is read.
            static constexpr int kErrors[] = {400, 408, 413, 414, 417, 431, 500, 501, 505};
            if (std::find(std::begin(kErrors), std::end(kErrors), r.status) == std::end(kErrors)) {
              ok = false, why = "unmarked response " + std::to_string(r.status);
            } else if (!r.closes || !last) {
              ok = false, why = "an error response that does not end the connection";
            }
            rejected.fetch_add(1, std::memory_order_relaxed);
          }
          if (ok && r.closes && !last) ok = false, why = "a response after Connection: close";
        }
        if (ok && !mutated) {
          unmutated.fetch_add(1, std::memory_order_relaxed);
          // Exactly the seeds' answers, up to the first that closes.
          std::vector<Expected> want;
          for (const Seed* s : parts) {
            want.push_back(
                {s->status, s->body, s->any_body, s->closes, std::nullopt, escaped(s->bytes)});
          }
          ok = answers_match(rs, want, why);
        }
        if (!ok) {
          failures.fetch_add(1, std::memory_order_relaxed);
          ADD_FAILURE() << "case " << i << " (client " << k << (half_close ? ", half closed" : "")
                        << "): " << why << "\n--- sent:\n"
                        << escaped(input) << "\n--- received:\n"
                        << escaped(got);
        }
      });

      // The server still serves, and its count of marked responses matches what was read.
      RawResponse r = ts.request("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
      EXPECT_TRUE(r.ok) << r.error;
      EXPECT_EQ(r.body, "root");
      EXPECT_EQ(marked.load(), marked_read.load() + 1);
      EXPECT_TRUE(ts.stop(5s));
    }
    std::printf(
        "[ seed %llu ] %llu cases, %llu unmutated, %llu rejected by the server, %llu marked "
        "responses\n",
        static_cast<unsigned long long>(seed), static_cast<unsigned long long>(cases),
        static_cast<unsigned long long>(unmutated.load()),
        static_cast<unsigned long long>(rejected.load()),
        static_cast<unsigned long long>(marked_read.load()));
    expect_back_to(before);
  });
}

// A request written in one of the many equivalent ways HTTP/1.1 allows: header names in
// any case, optional whitespace around values, extra fields, a chunked body cut into
// other chunks (hex in either case, leading zeros, extensions), a Content-Length with
// leading zeros. Whatever the spelling, the answer must be the same.
struct Abstract {
  std::string method, target;
  bool http10 = false, keep_alive10 = false, close = false, chunked = false;
  std::string body;  // POST only
  int status;
  std::optional<std::string> answer;  // nullopt: no body (HEAD)
};

std::vector<Abstract> abstracts() {
  return {
      {"GET", "/", false, false, false, false, "", 200, "root"},
      {"GET", "/q?a=xyz&b=1", false, false, false, false, "", 200, "a=xyz"},
      {"HEAD", "/", false, false, false, false, "", 200, std::nullopt},
      {"POST", "/echo", false, false, false, false, "hello world", 200, "hello world"},
      {"POST", "/echo", false, false, false, true, "a chunked body, 33 bytes long...", 200,
       "a chunked body, 33 bytes long..."},
      {"POST", "/echo", false, false, false, false, "", 200, ""},
      {"GET", "/stream", false, false, false, false, "", 200, "abcdefg"},
      {"GET", "/", true, true, false, false, "", 200, "root"},
      {"GET", "/", false, false, true, false, "", 200, "root"},
  };
}

std::string render(const Abstract& a, Mutator& m) {
  auto name = [&](std::string n) {
    if (m.chance(50)) {
      for (char& c : n) {
        if (m.chance(50))
          c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32
                                                     : (c >= 'A' && c <= 'Z' ? c + 32 : c));
      }
    }
    return n;
  };
  auto ows = [&] {
    static const char* kOws[] = {"", " ", "  ", "\t", " \t "};
    return std::string(kOws[m.below(5)]);
  };
  std::vector<std::string> fields;
  if (!a.http10) fields.push_back(name("Host") + ":" + ows() + "t" + ows());
  if (a.keep_alive10) fields.push_back(name("Connection") + ":" + ows() + "keep-alive" + ows());
  if (a.close) fields.push_back(name("Connection") + ":" + ows() + "close" + ows());
  if (a.method == "POST") {
    if (a.chunked) {
      fields.push_back(name("Transfer-Encoding") + ":" + ows() + "chunked" + ows());
    } else {
      fields.push_back(name("Content-Length") + ":" + ows() + std::string(m.below(3), '0') +
                       std::to_string(a.body.size()) + ows());
    }
  }
  for (std::size_t n = m.below(4); n > 0; --n) {
    fields.push_back(name("X-Extra-" + std::to_string(n)) + ":" + ows() + "v" +
                     std::to_string(m.below(1000)) + ows());
  }
  std::shuffle(fields.begin(), fields.end(), m.rng());
  // The target in an equivalent form: absolute-form (RFC 9112 3.2.2), or unreserved
  // characters percent-encoded (RFC 3986 2.3), or the query's parameters reordered.
  std::string target = a.target;
  switch (m.below(4)) {
    case 0:
      target = "http://t" + target;
      break;
    case 1:
      if (target == "/echo") target = m.chance(50) ? "/%65cho" : "/ech%6F";
      if (target == "/stream") target = "/str%65am";
      if (target.rfind("/q?", 0) == 0) target = "/q?a=x%79z&b=1";
      break;
    case 2:
      if (target.rfind("/q?", 0) == 0) target = "/q?b=1&a=xyz";
      break;
    default:
      break;
  }
  std::string out = a.method + " " + target + (a.http10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
  for (const auto& f : fields) out += f + "\r\n";
  out += "\r\n";
  if (a.method == "POST" && a.chunked) {
    for (std::size_t pos = 0; pos < a.body.size();) {
      std::size_t n = std::min(a.body.size() - pos, 1 + m.below(12));
      char hex[32];
      std::snprintf(hex, sizeof hex, m.chance(50) ? "%zx" : "%zX", n);
      out += std::string(m.below(3), '0') + hex;
      if (m.chance(30)) out += ";ext=" + std::to_string(m.below(100));
      out += "\r\n" + a.body.substr(pos, n) + "\r\n";
      pos += n;
    }
    out += std::string(m.below(3), '0') + "0\r\n";
    if (m.chance(30)) out += name("X-Trailer") + ":" + ows() + "t" + ows() + "\r\n";
    out += "\r\n";
  } else if (a.method == "POST") {
    out += a.body;
  }
  return out;
}

TEST(HttpFuzzStress, EquivalentSpellingsGetTheSameAnswers) {
  const std::uint64_t seed = env_or("GORO_FUZZ_SEED", std::random_device{}());
  const std::uint64_t cases = env_or("GORO_FUZZ_CASES", 20000);
  SCOPED_TRACE("GORO_FUZZ_SEED=" + std::to_string(seed));
  const std::vector<Abstract> kAbstracts = abstracts();
  constexpr int kClients = 8;
  run([&] {
    http::ServerOptions o;
    o.max_body_bytes = 100;
    o.idle_timeout = kServerTimeout;
    TestServer ts(o);
    ts.srv.use([](http::Request& req, http::Response& res, const http::Next& next) {
      res.header("X-Method", req.method());
      next();
    });
    add_common_routes(ts.srv);
    ts.start();
    std::atomic<std::uint64_t> failures{0};  // relaxed: a hint for for_each_case
    for_each_case(kClients, cases, &failures, [&](std::uint64_t i, int) {
      Mutator m(seed * 0x9E3779B97F4A7C15ull + i);
      std::vector<Expected> want;
      std::string input;
      for (std::size_t n = 1 + m.below(4); n > 0; --n) {
        const Abstract& a = kAbstracts[m.below(kAbstracts.size())];
        input += render(a, m);
        want.push_back({a.status, a.answer, false, a.http10 ? !a.keep_alive10 : a.close, a.method,
                        a.method + " " + a.target});
      }
      std::optional<RawClient> c = dial_case(ts, i);
      if (!c) return;
      send_in_pieces(*c, input, m, false);
      std::error_code ec;
      c->conn().shutdown_write(ec);
      std::string got;
      std::vector<Parsed> rs;
      std::string why;
      bool ok = read_to_close(c->conn(), got, kClientWait) && parse_stream(got, rs, why);
      if (ok) {
        ok = answers_match(rs, want, why);
      } else if (why.empty()) {
        why = "no close from the server";
      }
      if (!ok) {
        failures.fetch_add(1, std::memory_order_relaxed);
        ADD_FAILURE() << "case " << i << ": " << why << "\n--- sent:\n"
                      << escaped(input) << "\n--- received:\n"
                      << escaped(got);
      }
    });
    EXPECT_TRUE(ts.stop(5s));
  });
}

TEST(HttpFuzzStress, ClientsThatVanishMidwayLeaveNothingBehind) {
  const std::uint64_t seed = env_or("GORO_FUZZ_SEED", std::random_device{}());
  const std::uint64_t cases = env_or("GORO_FUZZ_CASES", 2000);
  SCOPED_TRACE("GORO_FUZZ_SEED=" + std::to_string(seed));
  std::vector<std::string> inputs;
  for (const Seed& s : seeds()) inputs.push_back(s.bytes);
  inputs.push_back("GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
  inputs.push_back("GET /big HTTP/1.0\r\n\r\n");
  inputs.push_back(
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "10\r\n0123456789abcdef\r\n");  // the rest never comes
  constexpr int kClients = 8;

  run([&] {
    const Baseline before = take_baseline();
    // relaxed, both: statistics, read once the clients are done
    std::atomic<std::uint64_t> resets{0}, stalls{0};
    {
      http::ServerOptions o;
      o.max_body_bytes = 100;
      set_timeouts(o);
      TestServer ts(o);
      add_common_routes(ts.srv);
      ts.srv.get("/big", [](const http::Request&, http::Response& res) {
        const std::string block(16 * 1024, 'z');
        std::error_code ec;
        for (int i = 0; i < 64 && !ec; ++i) res.write(block, ec);  // 1 MiB, or until cut off
      });
      ts.start();

      for_each_case(kClients, cases, nullptr, [&](std::uint64_t i, int) {
        Mutator m(seed * 0x9E3779B97F4A7C15ull + i);
        std::string input;
        for (std::size_t n = 1 + m.below(3); n > 0; --n) input += inputs[m.below(inputs.size())];
        if (m.chance(30)) m.mutate(input);
        std::optional<RawClient> c = dial_case(ts, i);
        if (!c) return;
        if (m.chance(50)) {
          c->conn().set_linger(true, std::chrono::seconds(0));  // close() resets
          resets.fetch_add(1, std::memory_order_relaxed);
        }
        // Vanish while sending, or after reading up to `keep` bytes back.
        std::size_t cut = m.chance(30) ? m.below(input.size()) : input.size();
        std::size_t keep = m.below(2 << 20);
        if (!c->send(std::string_view(input).substr(0, cut)) || cut < input.size()) return;
        if (m.chance(2)) {
          // Stop reading with the connection open: the write timeout must end a big response.
          stalls.fetch_add(1, std::memory_order_relaxed);
          goro::sleep(kServerTimeout + 200ms);
          return;
        }
        // ... or after a random while (a keep-alive server would wait for more).
        c->conn().set_read_deadline(goro::Clock::now() + std::chrono::milliseconds(m.below(100)));
        char buf[16384];
        for (std::size_t got = 0; got < keep;) {
          std::error_code ec;
          std::size_t n = c->conn().read(buf, sizeof buf, ec);
          if (ec) break;
          got += n;
        }
      });  // each client's destructor closes (or resets) its connection

      RawResponse r = ts.request("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
      EXPECT_TRUE(r.ok) << r.error;
      EXPECT_EQ(r.body, "root");
      EXPECT_TRUE(ts.stop(5s));
    }
    std::printf("[ seed %llu ] %llu cases, %llu reset, %llu stalled\n",
                static_cast<unsigned long long>(seed), static_cast<unsigned long long>(cases),
                static_cast<unsigned long long>(resets.load()),
                static_cast<unsigned long long>(stalls.load()));
    expect_back_to(before);
  });
}

}  // namespace

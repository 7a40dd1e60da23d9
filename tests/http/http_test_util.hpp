// http_test_util.hpp — a server on a free loopback port and a byte-level HTTP client for
// goro::http's tests. Everything here runs inside goro::run.
//
//   TestServer ts;                             // Server with options, not yet serving
//   ts.srv.get("/", ...);
//   ts.start();                                // listens on 127.0.0.1:0, serves in a goroutine
//   RawClient c = ts.connect();
//   c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");   // exactly these bytes
//   RawResponse r = c.read_response();
//   EXPECT_EQ(r.status, 200);
//   EXPECT_TRUE(c.at_eof());                   // the server closed the connection
//   ts.stop();
//
//   CurlResult r = curl("-d 'x' " + ts.url("/echo"));   // the curl program (a test dependency)
//   EXPECT_EQ(r.code, 200);
#pragma once

#include <goro/core/blocking.hpp>
#include <goro/http.hpp>
#include <goro/net/tcp.hpp>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace http_test {

using namespace std::chrono_literals;

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c | 0x20);
  }
  return out;
}

struct RawResponse {
  bool ok = false;         // a complete response was read
  std::string error;       // why not
  int status = 0;
  std::string status_line;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::vector<std::pair<std::string, std::string>> trailers;
  bool chunked = false;

  std::optional<std::string> header(std::string_view name) const {
    std::string n = lower(name);
    for (const auto& [k, v] : headers) {
      if (k == n) return v;
    }
    return std::nullopt;
  }
  std::size_t count(std::string_view name) const {
    std::string n = lower(name);
    std::size_t c = 0;
    for (const auto& [k, v] : headers) c += k == n ? 1 : 0;
    return c;
  }
  bool closes() const { return lower(header("Connection").value_or("")) == "close"; }
};

// A client that sends exact bytes and parses responses itself.
class RawClient {
 public:
  RawClient() = default;
  explicit RawClient(goro::net::Conn c) : c_(std::move(c)) {}

  goro::net::Conn& conn() { return c_; }

  // Sends bytes; false if the connection failed.
  bool send(std::string_view bytes) {
    std::error_code ec;
    c_.write(bytes, ec);
    return !ec;
  }

  // Reads one response (head_request: a response to HEAD, no body). Waits at most `wait`.
  RawResponse read_response(bool head_request = false, goro::Duration wait = 5s) {
    RawResponse r;
    c_.set_read_deadline(goro::Clock::now() + wait);
    std::size_t end;
    for (;;) {
      end = buf_.find("\r\n\r\n");
      if (end != std::string::npos) break;
      if (!more(r)) return r;
    }
    std::string head = buf_.substr(0, end + 2);
    buf_.erase(0, end + 4);
    std::size_t eol = head.find("\r\n");
    r.status_line = head.substr(0, eol);
    if (r.status_line.size() < 12 || r.status_line.compare(0, 5, "HTTP/") != 0) {
      r.error = "bad status line: " + r.status_line;
      return r;
    }
    r.status = std::atoi(r.status_line.c_str() + 9);
    std::size_t pos = eol + 2;
    while (pos < head.size()) {
      std::size_t e = head.find("\r\n", pos);
      std::string line = head.substr(pos, e - pos);
      pos = e + 2;
      std::size_t colon = line.find(':');
      std::string v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      r.headers.emplace_back(lower(line.substr(0, colon)), v);
    }
    bool no_body = head_request || r.status < 200 || r.status == 204 || r.status == 304;
    if (no_body) {
      r.ok = true;
      return r;
    }
    if (lower(r.header("Transfer-Encoding").value_or("")) == "chunked") {
      r.chunked = true;
      for (;;) {
        std::size_t le;
        while ((le = buf_.find("\r\n")) == std::string::npos) {
          if (!more(r)) return r;
        }
        std::size_t size = std::strtoul(buf_.c_str(), nullptr, 16);
        buf_.erase(0, le + 2);
        if (size == 0) {
          for (;;) {  // trailers, then the empty line
            while ((le = buf_.find("\r\n")) == std::string::npos) {
              if (!more(r)) return r;
            }
            std::string line = buf_.substr(0, le);
            buf_.erase(0, le + 2);
            if (line.empty()) break;
            std::size_t colon = line.find(':');
            r.trailers.emplace_back(lower(line.substr(0, colon)), line.substr(colon + 2));
          }
          break;
        }
        while (buf_.size() < size + 2) {
          if (!more(r)) return r;
        }
        r.body += buf_.substr(0, size);
        buf_.erase(0, size + 2);
      }
    } else if (auto cl = r.header("Content-Length")) {
      std::size_t n = std::strtoul(cl->c_str(), nullptr, 10);
      while (buf_.size() < n) {
        if (!more(r)) return r;
      }
      r.body = buf_.substr(0, n);
      buf_.erase(0, n);
    } else {
      // Delimited by the end of the connection.
      while (more(r)) {
      }
      if (r.error != "eof") return r;
      r.error.clear();
      r.body = std::move(buf_);
      buf_.clear();
    }
    r.ok = true;
    return r;
  }

  // Whether the server closed the connection (EOF or reset) within `wait`, with no
  // further bytes sent. Extra bytes are kept in leftover().
  bool at_eof(goro::Duration wait = 3s) {
    if (!buf_.empty()) return false;
    c_.set_read_deadline(goro::Clock::now() + wait);
    char b[4096];
    std::error_code ec;
    std::size_t n = c_.read(b, sizeof b, ec);
    if (n > 0) {
      buf_.append(b, n);
      return false;
    }
    return ec == goro::net::Errc::kEof || ec == std::errc::connection_reset;
  }

  // Reads until the server closes (or `wait` passes); returns everything received.
  std::string read_until_eof(goro::Duration wait = 5s) {
    c_.set_read_deadline(goro::Clock::now() + wait);
    RawResponse dummy;
    while (more(dummy)) {
    }
    std::string all = std::move(buf_);
    buf_.clear();
    return all;
  }

  const std::string& leftover() const { return buf_; }

 private:
  bool more(RawResponse& r) {
    char b[16384];
    std::error_code ec;
    std::size_t n = c_.read(b, sizeof b, ec);
    if (ec) {
      r.error = ec == goro::net::Errc::kEof ? "eof" : ec.message();
      return false;
    }
    buf_.append(b, n);
    return true;
  }

  goro::net::Conn c_;
  std::string buf_;
};

// A Server on 127.0.0.1:<free port>, served from a goroutine.
struct TestServer {
  goro::http::Server srv;
  goro::net::Address addr;
  goro::Chan<goro::Signal> stopped{1};
  bool running = false;

  TestServer() = default;
  explicit TestServer(goro::http::ServerOptions o) : srv(std::move(o)) {}

  void start() {
    goro::net::Listener ln = goro::net::listen("127.0.0.1:0");
    addr = ln.local_address();
    running = true;
    goro::go([this, ln = std::move(ln)]() mutable {
      srv.serve(std::move(ln));
      stopped.send(goro::Signal{});
    });
  }

  RawClient connect() { return RawClient(goro::net::dial(addr, 5s)); }

  // "http://127.0.0.1:<port><path>", quoted for a shell.
  std::string url(std::string_view path) const {
    return "'http://127.0.0.1:" + std::to_string(addr.port()) + std::string(path) + "'";
  }

  // One request on a new connection.
  RawResponse request(std::string_view bytes, bool head_request = false) {
    RawClient c = connect();
    c.send(bytes);
    return c.read_response(head_request);
  }

  bool stop(goro::Duration grace = 2s) {
    if (!running) return true;
    running = false;
    bool graceful = srv.shutdown(grace);
    stopped.recv();
    return graceful;
  }
  ~TestServer() { stop(); }
};

// Runs f inside goro::run (each test gets a fresh runtime).
template <class F>
void run(F&& f) {
  goro::run([&] { f(); });
}

// Runs a blocking call: through goro::blocking inside a goroutine (the P goes on serving
// meanwhile), directly outside the runtime.
template <class F>
decltype(auto) blocking_call(F&& f) {
  if (goro::in_goroutine()) return goro::blocking(std::forward<F>(f));
  return f();
}

// What curl printed: the body (and, with -i/-v, the heads) and the final status code.
struct CurlResult {
  int code = 0;      // %{http_code}: 0 when no response came
  int exit = -1;     // curl's exit status
  std::string out;   // stdout and stderr
};

// Whether the curl program is installed (.ci/deps.sh lists it in GORO_TEST_DEPS).
inline bool have_curl() {
  return blocking_call([] { return std::system("command -v curl >/dev/null 2>&1"); }) == 0;
}

// Runs `curl -sS --max-time 20 ARGS` (ARGS: shell words) and collects its output; the
// status code comes from -w, on a last line of its own that is removed from `out`.
// Callable inside the runtime (the P goes on serving while curl runs) and outside it.
inline CurlResult curl(const std::string& args) {
  CurlResult r;
  blocking_call([&] {
    std::string cmd = "curl -sS --max-time 20 -w '\\n%{http_code}' " + args + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) return;
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) r.out.append(buf, n);
    int st = ::pclose(p);
    r.exit = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  });
  std::size_t nl = r.out.rfind('\n');
  if (nl != std::string::npos) {
    r.code = std::atoi(r.out.c_str() + nl + 1);
    r.out.erase(nl);
  }
  return r;
}

// "GET <path> HTTP/1.1" with a Host header, plus extra header lines (each ending in CRLF).
inline std::string get(std::string_view path, std::string_view extra = {}) {
  std::string s = "GET ";
  s += path;
  s += " HTTP/1.1\r\nHost: test\r\n";
  s += extra;
  s += "\r\n";
  return s;
}

}  // namespace http_test

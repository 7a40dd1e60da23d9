// http_service — goro's HTTP server showing each mechanism of the runtime on one route.
//
//   $ http_service --port 8080 &
//   $ curl localhost:8080/                          Hello, World!
//   $ curl -d 'some bytes' localhost:8080/echo      some bytes
//   $ curl localhost:8080/json                      {"message":"Hello, World!",...}
//   $ curl 'localhost:8080/file?path=README.md'     a file under --root, via goro::fs
//   $ curl 'localhost:8080/resolve?host=localhost'  ["127.0.0.1","::1"]
//   $ curl 'localhost:8080/spin?ms=200'             200 ms of CPU in a call-free loop
//   $ curl 'localhost:8080/sleep?ms=100'            a timer park
//   $ curl localhost:8080/debug/sched               the scheduler's state (schedtrace)
//
// What each route shows:
//  - /, /echo, /json: the goroutine-per-connection server itself; handlers are plain
//    synchronous functions.
//  - /file: blocking file system calls (open, read) through goro::fs: the goroutine's
//    thread blocks in the kernel and, if the call is slow, its P is handed to another
//    thread so other connections go on (Go's entersyscall/handoffp).
//  - /resolve: getaddrinfo through goro::net::resolve: the P is handed off at once.
//  - /spin: a loop with no function call in it, which only asynchronous preemption
//    (SIGURG, as Go 1.14+) can interrupt; meanwhile `GET /` on the same P still answers.
//  - /sleep: the goroutine parks on a timer; nothing else waits.
//  - /debug/sched: goro::sched_trace(true), Go's GODEBUG=schedtrace/scheddetail.
// SIGINT/SIGTERM shut down gracefully: no new connections, requests in flight finish
// (up to --grace seconds), then the process exits with status 0.
#include <goro/http.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#include <goro/core/blocking.hpp>
#include <goro/core/fs.hpp>
#include <goro/net/resolve.hpp>

namespace {

constexpr char kUsage[] =
    "usage: http_service [--port N] [--host ADDR] [--root DIR] [--grace SEC] [--log]\n"
    "\n"
    "An HTTP/1.1 service on goro: one goroutine per connection.\n"
    "\n"
    "  --port N     port to listen on (default 8080)\n"
    "  --host ADDR  address to listen on (default: every address)\n"
    "  --root DIR   directory GET /file serves from (default: the current directory)\n"
    "  --grace SEC  how long a shutdown (SIGINT, SIGTERM) waits for requests in flight\n"
    "               (default 10)\n"
    "  --log        log one line per request on stderr\n"
    "  --help       this text\n"
    "\n"
    "Routes:\n"
    "  GET  /                 Hello, World! (text/plain)\n"
    "  POST /echo             the request body\n"
    "  GET  /json             a small JSON document\n"
    "  GET  /file?path=P      the file P under --root (no .. escape), through goro::fs\n"
    "  GET  /resolve?host=H   the addresses of H, through goro::net::resolve\n"
    "  GET  /spin?ms=N        N ms (at most 5000) of CPU in a call-free loop\n"
    "  GET  /sleep?ms=N       answers after N ms (at most 60000) of goro::sleep\n"
    "  GET  /debug/sched      the scheduler's state (goro::sched_trace)\n"
    "\n"
    "Environment: GORO_MAXPROCS (Ps; default: the CPUs available), GORO_DEBUG.\n";

struct Options {
  int port = 8080;
  std::string host;
  std::string root = ".";
  int grace = 10;
  bool log = false;
};

bool parse_int(const char* s, int lo, int hi, int* out) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < lo || v > hi) return false;
  *out = static_cast<int>(v);
  return true;
}

// A query parameter as a bounded integer; nullopt if absent or not a number in range.
std::optional<int> query_int(const goro::http::Request& req, std::string_view name, int lo, int hi) {
  std::optional<std::string> v = req.query(name);
  int n = 0;
  if (!v || !parse_int(v->c_str(), lo, hi, &n)) return std::nullopt;
  return n;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

// --- /spin: a call-free loop ---------------------------------------------------------------

// The CPU's cycle counter, read by one instruction (no call, no system call).
inline std::uint64_t ticks() {
#if defined(__x86_64__)
  return __builtin_ia32_rdtsc();
#elif defined(__aarch64__)
  std::uint64_t v;
  asm volatile("mrs %0, cntvct_el0" : "=r"(v));
  return v;
#else
#error "http_service: /spin needs a cycle counter (x86-64 or aarch64)"
#endif
}

// Counter ticks per millisecond, measured once at start-up against steady_clock.
std::uint64_t calibrate_ticks() {
  using namespace std::chrono;
  auto t0 = steady_clock::now();
  std::uint64_t c0 = ticks();
  while (steady_clock::now() - t0 < milliseconds(20)) {
  }
  std::uint64_t c1 = ticks();
  auto us = duration_cast<microseconds>(steady_clock::now() - t0).count();
  return std::max<std::uint64_t>(1, (c1 - c0) * 1000 / static_cast<std::uint64_t>(us));
}

// Burns CPU until the counter passes `until`: the loop calls nothing, so no cooperative
// preemption point exists in it; only the runtime's asynchronous preemption can stop it.
inline std::uint64_t spin_until(std::uint64_t until, std::uint64_t x) {
  while (ticks() < until) {
    for (int i = 0; i < 64; ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
    }
    asm volatile("" : "+r"(x));
  }
  return x;
}

// --- /file: confined to the root ---------------------------------------------------------

std::string_view content_type_for(std::string_view path) {
  auto ends = [&](std::string_view ext) {
    return path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext;
  };
  if (ends(".html") || ends(".htm")) return "text/html; charset=utf-8";
  if (ends(".txt") || ends(".md") || ends(".cpp") || ends(".hpp") || ends(".sh")) return "text/plain; charset=utf-8";
  if (ends(".json")) return "application/json";
  if (ends(".css")) return "text/css";
  if (ends(".js")) return "text/javascript";
  if (ends(".png")) return "image/png";
  if (ends(".jpg") || ends(".jpeg")) return "image/jpeg";
  if (ends(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

// The file `rel` names under `root` (canonical), or an empty path if it is not one: an
// absolute path, a ".." component, or a symbolic link leading out of the root.
std::filesystem::path confine(const std::filesystem::path& root, std::string_view rel) {
  namespace fs = std::filesystem;
  if (rel.empty() || rel.front() == '/' || rel.find('\0') != std::string_view::npos) return {};
  fs::path p(rel);
  for (const auto& part : p) {
    if (part == "..") return {};
  }
  // weakly_canonical resolves symbolic links (lstat/readlink: blocking calls).
  std::error_code ec;
  fs::path full = goro::blocking([&] { return fs::weakly_canonical(root / p, ec); });
  if (ec) return {};
  auto [r, f] = std::mismatch(root.begin(), root.end(), full.begin(), full.end());
  if (r != root.end()) return {};
  return full;
}

void serve_file(const std::filesystem::path& root, const goro::http::Request& req,
                goro::http::Response& res) {
  std::optional<std::string> rel = req.query("path");
  if (!rel) throw goro::http::HttpError(400, "missing ?path=");
  std::filesystem::path full = confine(root, *rel);
  if (full.empty()) throw goro::http::HttpError(403, "outside the served directory");
  std::error_code ec;
  goro::fs::File f = goro::fs::open(full, goro::fs::kRead, ec);
  if (ec) throw goro::http::HttpError(ec == std::errc::no_such_file_or_directory ? 404 : 403, ec.message());
  goro::fs::FileInfo info = f.stat(ec);
  if (ec || !info.is_regular()) throw goro::http::HttpError(404, "not a regular file");
  res.header("Content-Type", content_type_for(full.native()));
  res.set_content_length(info.size);
  char buf[65536];
  std::uint64_t left = info.size;
  while (left > 0) {
    std::size_t n = f.read(buf, sizeof buf);  // goro::fs: a blocking read(2), P handed off if slow
    if (n == 0) break;
    n = static_cast<std::size_t>(std::min<std::uint64_t>(n, left));
    res.write(buf, n);
    left -= n;
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "http_service: %s needs a value\n%s", argv[i], kUsage);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--port") {
      if (!parse_int(value(), 0, 65535, &opt.port)) {
        std::fprintf(stderr, "http_service: --port wants 0..65535\n");
        return 2;
      }
    } else if (a == "--host") {
      opt.host = value();
    } else if (a == "--root") {
      opt.root = value();
    } else if (a == "--grace") {
      if (!parse_int(value(), 0, 3600, &opt.grace)) {
        std::fprintf(stderr, "http_service: --grace wants 0..3600 seconds\n");
        return 2;
      }
    } else if (a == "--log") {
      opt.log = true;
    } else {
      std::fprintf(stderr, "http_service: unknown option %s\n%s", argv[i], kUsage);
      return 2;
    }
  }
  std::error_code rec;
  std::filesystem::path root = std::filesystem::canonical(opt.root, rec);
  if (rec) {
    std::fprintf(stderr, "http_service: --root %s: %s\n", opt.root.c_str(), rec.message().c_str());
    return 2;
  }
  const std::uint64_t ticks_per_ms = calibrate_ticks();

  return goro::run([&]() -> int {
    namespace http = goro::http;
    http::Server srv;
    srv.use(http::request_id());
    if (opt.log) srv.use(http::logger());
    srv.use(http::recoverer());

    srv.get("/", [](const http::Request&, http::Response& res) { res.text("Hello, World!"); });

    srv.post("/echo", [](const http::Request& req, http::Response& res) {
      std::string_view type = req.header("Content-Type");
      if (!type.empty()) res.header("Content-Type", type);
      res.send(req.body());
    });

    srv.get("/json", [](const http::Request&, http::Response& res) {
      std::string body = "{\"message\":\"Hello, World!\",\"goroutines\":";
      body += std::to_string(goro::num_goroutines());
      body += ",\"procs\":";
      body += std::to_string(goro::max_procs());
      body += "}";
      res.json(std::move(body));
    });

    srv.get("/file", [&root](const http::Request& req, http::Response& res) { serve_file(root, req, res); });

    srv.get("/resolve", [](const http::Request& req, http::Response& res) {
      std::optional<std::string> host = req.query("host");
      if (!host || host->empty()) throw http::HttpError(400, "missing ?host=");
      std::error_code ec;
      std::vector<goro::net::Address> addrs = goro::net::resolve(*host, "", ec);
      if (ec) {
        res.status(ec == goro::net::ResolveErrc::kHostNotFound ? 404 : 502);
        res.json("{\"error\":" + json_string(ec.message()) + "}");
        return;
      }
      std::string body = "[";
      for (std::size_t i = 0; i < addrs.size(); ++i) {
        if (i > 0) body += ',';
        body += json_string(addrs[i].ip());
      }
      body += "]";
      res.json(std::move(body));
    });

    srv.get("/spin", [ticks_per_ms](const http::Request& req, http::Response& res) {
      std::optional<int> ms = query_int(req, "ms", 0, 5000);
      if (!ms) throw http::HttpError(400, "?ms= wants 0..5000");
      auto t0 = std::chrono::steady_clock::now();
      std::uint64_t x = spin_until(ticks() + ticks_per_ms * static_cast<std::uint64_t>(*ms), 88172645463325252ull);
      double took = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      char buf[128];
      std::snprintf(buf, sizeof buf, "spun %d ms (%.1f ms elapsed, x=%llx)\n", *ms, took,
                    static_cast<unsigned long long>(x & 0xffff));
      res.text(buf);
    });

    srv.get("/sleep", [](const http::Request& req, http::Response& res) {
      std::optional<int> ms = query_int(req, "ms", 0, 60000);
      if (!ms) throw http::HttpError(400, "?ms= wants 0..60000");
      goro::sleep(std::chrono::milliseconds(*ms));
      res.text("slept " + std::to_string(*ms) + " ms\n");
    });

    srv.get("/debug/sched", [](const http::Request&, http::Response& res) {
      res.text(goro::sched_trace(true));
    });

    srv.shutdown_on_signals(std::chrono::seconds(opt.grace));
    std::string addr = opt.host + ":" + std::to_string(opt.port);
    if (opt.host.find(':') != std::string::npos) addr = "[" + opt.host + "]:" + std::to_string(opt.port);
    std::error_code ec;
    goro::net::Listener ln = goro::net::listen(addr, {}, ec);
    if (ec) {
      std::fprintf(stderr, "http_service: listen %s: %s\n", addr.c_str(), ec.message().c_str());
      return 1;
    }
    std::fprintf(stderr, "http_service: listening on %s (%d procs, files from %s)\n",
                 ln.local_address().to_string().c_str(), goro::max_procs(), root.c_str());
    srv.serve(std::move(ln));  // returns once a shutdown is complete
    std::fprintf(stderr, "http_service: shut down\n");
    return 0;
  });
}

// middleware.cpp — request_id, recoverer and logger (goro/http/middleware.hpp).
#include <goro/http/middleware.hpp>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>

#include <goro/core/blocking.hpp>
#include <goro/core/detail/proc_pin.hpp>

#include "internal.hpp"

namespace goro::http {

namespace {

void write_stderr(std::string_view line) {
  std::string l(line);
  l += '\n';
  goro::blocking([&] { std::fwrite(l.data(), 1, l.size(), stderr); });
}

// Starts the response over with `status` and `body`, keeping the request id header.
void answer(Response& res, int status, std::string body) {
  std::string id(res.headers().get("X-Request-Id"));
  res.reset();
  if (!id.empty()) res.header("X-Request-Id", id);
  res.status(status).header("Connection", "close").text(std::move(body));
}

LogSink or_default(LogSink sink) { return sink ? std::move(sink) : LogSink(&write_stderr); }

bool is_token_id(std::string_view v) noexcept {
  if (v.empty() || v.size() > 64) return false;
  for (char c : v) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// The counter behind the ids. Each P with a slot (goro/core/detail/proc_pin.hpp) draws
// blocks of kIdBlock numbers from the shared counter and hands them out itself, so the
// shared atomic add, whose cache line travels between cores when several Ps serve
// requests, comes once per kIdBlock requests. Ids stay unique, not ordered across Ps.
// Without a slot (outside a goroutine, or past the first Ps) a number comes from the
// shared counter directly.
std::uint64_t next_id_number() noexcept {
  constexpr std::uint64_t kIdBlock = 1024;
  struct Block {
    std::uint64_t next = 0;
    std::uint64_t end = 0;
  };
  static goro::detail::ProcSlots<Block> blocks;
  // relaxed: only uniqueness matters (each number is handed out by exactly one RMW).
  static std::atomic<std::uint64_t> counter{0};
  goro::detail::ProcPin pin;
  Block* b = blocks.slot(pin);
  if (b == nullptr) return counter.fetch_add(1, std::memory_order_relaxed) + 1;
  if (b->next == b->end) {
    b->next = counter.fetch_add(kIdBlock, std::memory_order_relaxed) + 1;
    b->end = b->next + kIdBlock;
  }
  return b->next++;
}

// "<8 hex digits>-<counter>": the prefix random per process (formatted once), the counter
// per id. Formatted by hand into a small buffer: this runs on every request.
void new_request_id(Request& req) {
  struct Prefix {
    char hex[9];
    Prefix() {
      std::random_device rd;
      auto bits = static_cast<std::uint32_t>(rd());
      static constexpr char kHex[] = "0123456789abcdef";
      for (int i = 0; i < 8; ++i) hex[i] = kHex[(bits >> (28 - 4 * i)) & 0xf];
      hex[8] = '-';
    }
  };
  static const Prefix prefix;
  std::uint64_t n = next_id_number();
  char buf[32];
  std::memcpy(buf, prefix.hex, sizeof prefix.hex);
  char* end = std::to_chars(buf + sizeof prefix.hex, buf + sizeof buf, n).ptr;
  req.set_id(std::string_view(buf, static_cast<std::size_t>(end - buf)));
}

}  // namespace

Middleware request_id(std::string_view header) {
  // The name is checked here, once, and every id is a token (is_token_id, or made of hex
  // digits, '-' and digits), so the response field skips Headers::set's per-character
  // checks (~160 instructions of a ~6,000-instruction request). A name that is not a
  // token, or is Content-Length, takes Response::header as before (which throws or
  // treats it specially).
  const bool checked = detail::is_field_name(header) && !iequals(header, "Content-Length");
  return [header = std::string(header), checked](Request& req, Response& res, const Next& next) {
    std::string_view theirs = req.header(header);
    if (is_token_id(theirs)) {
      req.set_id(theirs);
    } else {
      new_request_id(req);
    }
    if (!checked) {
      res.header(header, req.id());
    } else if (!res.committed()) {
      detail::HeadersAccess::set_checked(res.headers(), header, req.id());
    }
    next();
  };
}

Middleware recoverer(LogSink sink) {
  return [sink = or_default(std::move(sink))](Request& req, Response& res, const Next& next) {
    try {
      next();
      return;
    } catch (const HttpError& e) {
      if (!res.committed()) {
        answer(res, e.status(), std::string(e.what()) + "\n");
        return;
      }
      throw;
    } catch (const std::exception& e) {
      std::string line = "panic: ";
      line += req.method();
      line += ' ';
      line += req.target();
      if (!req.id().empty()) {
        line += " id=";
        line += req.id();
      }
      line += ": ";
      line += e.what();
      sink(line);
    } catch (...) {
      std::string line = "panic: ";
      line += req.method();
      line += ' ';
      line += req.target();
      line += ": unknown exception";
      sink(line);
    }
    if (!res.committed()) {
      answer(res, 500, "Internal Server Error\n");
    } else {
      // Half a response is out: let the server cut the connection.
      throw HttpError(500, "handler failed after its response started");
    }
  };
}

Middleware logger(LogSink sink) {
  return [sink = or_default(std::move(sink))](Request& req, Response& res, const Next& next) {
    auto start = std::chrono::steady_clock::now();
    std::string line;
    auto finish = [&] {
      double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      line.reserve(128);
      line += req.remote_address().to_string();
      line += " \"";
      line += req.method();
      line += ' ';
      line += req.target();
      line += ' ';
      line += req.version();
      line += "\" ";
      char buf[96];
      int n = std::snprintf(buf, sizeof buf, "%d %lluB %.3fms", res.status(),
                            static_cast<unsigned long long>(res.bytes_written()), ms);
      line.append(buf, static_cast<std::size_t>(n));
      if (!req.id().empty()) {
        line += " id=";
        line += req.id();
      }
      sink(line);
    };
    try {
      next();
    } catch (...) {
      finish();
      throw;
    }
    finish();
  };
}

}  // namespace goro::http

// out_writer.hpp — how a response head is serialized: short pieces gathered in a stack
// buffer and appended to the connection's output string once.
//
// A response head is ~10-20 short pieces (status line, "Server: ", the name, CRLF, ...).
// Appending each to the std::string costs a call, a capacity check and a size update per
// piece; with the pieces copied into a scratch buffer (a fixed-size memcpy for literals,
// which the compiler inlines) and the buffer appended once, a small head costs one string
// append. Pieces that do not fit go straight to the string, so any head works. The
// scratch buffer is the caller's: the server passes one in its pooled exchange, warm in
// cache, rather than a stack array in each connection's own (cold) stack.
//
// status_line() gives the whole "HTTP/1.1 200 OK\r\n" line from a table built once,
// instead of formatting the code and looking up the reason phrase per response.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace goro::http::detail {

// "HTTP/1.1 <code> <reason>\r\n" ("Unknown" for a code without a reason phrase), for
// codes 100 to 599; "" for any other.
std::string_view status_line(int status);

class OutWriter {
 public:
  static constexpr std::size_t kCap = 512;  // bytes of scratch

  // scratch: kCap bytes, used until done().
  OutWriter(std::string& out, char* scratch) noexcept : out_(out), buf_(scratch) {}
  OutWriter(const OutWriter&) = delete;
  OutWriter& operator=(const OutWriter&) = delete;

  // Inlined: most pieces are literals, whose copy then compiles to a few moves.
  [[gnu::always_inline]] void put(std::string_view s) {
    if (s.size() > kCap - n_) [[unlikely]] {
      spill(s);
      return;
    }
    std::memcpy(buf_ + n_, s.data(), s.size());
    n_ += s.size();
  }

  void put_uint(std::uint64_t v) {
    char num[24];
    auto [end, ec] = std::to_chars(num, num + sizeof num, v);
    (void)ec;
    put(std::string_view(num, static_cast<std::size_t>(end - num)));
  }

  // Room for n bytes (n <= kCap) written by the caller, then advance(n).
  char* room(std::size_t n) {
    if (n > kCap - n_) done();
    return buf_ + n_;
  }
  void advance(std::size_t n) noexcept { n_ += n; }

  // Appends what is gathered to the string. Call it once at the end (and no put after).
  void done() {
    out_.append(buf_, n_);
    n_ = 0;
  }

 private:
  [[gnu::noinline]] void spill(std::string_view s) {
    done();
    if (s.size() > kCap) {
      out_.append(s);
    } else {
      std::memcpy(buf_, s.data(), s.size());
      n_ = s.size();
    }
  }

  std::string& out_;
  char* buf_;
  std::size_t n_ = 0;
};

}  // namespace goro::http::detail

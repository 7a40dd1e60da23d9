// parser.hpp — goro::http's wrapper of llhttp (private: llhttp stays out of public headers).
//
// Wrapped as Node.js wraps it (src/node_http_parser.cc): one llhttp_settings_t for the
// process, filled by llhttp_settings_init and then field by field, whose callbacks are
// static trampolines (Callback<&Parser::member>::raw) that find the Parser through
// llhttp_t::data and call the member.
//
// How the connection drives it (conn.cpp):
//  - A request head is fed in one execute() call, and only once the head scanner
//    (head_scan.hpp) has seen all of it and checked what llhttp accepts but we do not
//    (bare LF, bare CR, obs-fold, sizes). So every header field and value arrives as one
//    contiguous span, and the Request's views point straight into the read buffer.
//  - After the head, body bytes are fed as they come; on_body records spans (views into
//    the same buffer) that the body reader hands out.
//  - The parser pauses (execute returns early) at the end of each message, so pipelined
//    requests are parsed one at a time, and at a chunked body's last chunk, so the
//    trailer block goes through the head scanner before llhttp sees it.
//
// llhttp is compiled in strict mode (http/CMakeLists.txt) and no lenient flag is set:
// Content-Length with Transfer-Encoding, duplicate Content-Lengths, a Transfer-Encoding
// not ending in chunked, bad chunk sizes and whitespace before a colon are errors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <llhttp.h>

#include <goro/http/headers.hpp>
#include <goro/http/request.hpp>

namespace goro::http::detail {

class Parser {
 public:
  enum class Status {
    kNeedMore,      // consumed everything; the message goes on
    kMessageEnd,    // paused after a complete message (consumed: up to its end)
    kLastChunk,     // paused after a chunked body's last-chunk line (trailers follow)
    kError,         // see error_status() / error_reason()
  };
  struct Result {
    Status status;
    std::size_t consumed;
  };

  struct Span {
    const char* data;
    std::size_t size;
  };

  Parser() noexcept;
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  // Where the next message's parts go: the request (method, target, version, headers as
  // views into the fed bytes) and the trailer fields (copied). Resets per-message state.
  void begin(Request* req, Headers* trailers, std::size_t max_header_count,
             std::uint64_t max_body) noexcept;

  Result execute(const char* data, std::size_t n) noexcept;
  // After kMessageEnd or kLastChunk, before the next execute().
  void resume() noexcept { llhttp_resume(&p_); }
  // Back to the state of a new connection (its last message may have closed it, or
  // failed): before the parser serves another connection.
  void reset() noexcept { llhttp_reset(&p_); }

  // The head (valid once headers_done()).
  bool headers_done() const noexcept { return headers_done_; }
  bool message_done() const noexcept { return message_done_; }
  bool keep_alive() const noexcept { return keep_alive_; }
  bool chunked() const noexcept { return chunked_; }
  std::optional<std::uint64_t> content_length() const noexcept { return content_length_; }
  bool upgrade() const noexcept { return upgrade_; }
  // Host fields in the head, and the first Expect field's value (if any): noted while
  // the fields go by, so the connection needs no second pass over them.
  std::size_t host_count() const noexcept { return host_count_; }
  const std::optional<std::string_view>& expect() const noexcept { return expect_; }
  int http_major() const noexcept { return p_.http_major; }
  int http_minor() const noexcept { return p_.http_minor; }

  // Body spans parsed so far and not yet taken (views into the fed bytes).
  std::vector<Span>& spans() noexcept { return spans_; }
  std::uint64_t body_bytes() const noexcept { return body_bytes_; }

  // After kError: the status to answer with (400, 413, 431, 501, 505) and why.
  int error_status() const noexcept { return error_status_; }
  const char* error_reason() const noexcept { return error_reason_; }

 private:
  template <auto Member>
  struct Callback;

  int on_message_begin() noexcept;
  int on_url(const char* at, std::size_t n) noexcept;
  int on_header_field(const char* at, std::size_t n) noexcept;
  int on_header_value(const char* at, std::size_t n) noexcept;
  int on_header_value_complete() noexcept;
  int on_headers_complete() noexcept;
  int on_body(const char* at, std::size_t n) noexcept;
  int on_chunk_header() noexcept;
  int on_message_complete() noexcept;

  // Appends a span to a view, which must end where the span starts (one buffer).
  static bool extend(std::string_view& v, const char* at, std::size_t n) noexcept;
  int fail(int status, const char* reason) noexcept;

  static const llhttp_settings_t& settings() noexcept;

  llhttp_t p_;
  Request* req_ = nullptr;
  Headers* trailers_ = nullptr;
  std::size_t max_header_count_ = 0;
  std::uint64_t max_body_ = 0;

  std::string_view url_;
  std::string_view field_;
  std::string_view value_;
  bool in_field_ = false;
  std::size_t header_count_ = 0;
  bool headers_done_ = false;
  bool message_done_ = false;
  bool keep_alive_ = true;
  bool chunked_ = false;
  bool upgrade_ = false;
  bool te_seen_ = false;
  bool te_unsupported_ = false;  // a coding other than chunked
  std::size_t host_count_ = 0;
  std::optional<std::string_view> expect_;
  std::optional<std::uint64_t> content_length_;
  std::vector<Span> spans_;
  std::uint64_t body_bytes_ = 0;
  bool last_chunk_ = false;
  int error_status_ = 0;
  const char* error_reason_ = "";
};

}  // namespace goro::http::detail

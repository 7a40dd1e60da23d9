// goro/http/response.hpp — what a handler answers with.
//
//   res.text("Hello, World!");                         // 200, text/plain, Content-Length
//   res.status(201).header("Location", "/users/7").json(R"({"id":7})");
//
//   res.header("Content-Type", "text/event-stream");   // streamed: chunked (HTTP/1.1),
//   for (auto& ev : events) { res.write(ev); res.flush(); }   // or close-delimited (1.0)
//
//   res.set_content_length(size);                      // streamed with a known length
//   while (std::size_t n = file.read(buf, sizeof buf)) res.write(buf, n);
//
// Two ways to give a body:
//  - whole: text(), json(), html() or send() set it (a later call replaces it); it is sent
//    with a Content-Length when the handler returns, so status and headers may still
//    change until then (middleware can add headers after the handler ran).
//  - streamed: write() sends the status line and headers with the first bytes (the
//    response is then committed: status() and header() no longer change anything), with
//    Transfer-Encoding: chunked unless set_content_length() was called (HTTP/1.0 clients
//    get a body delimited by closing the connection). write() buffers up to a few KiB;
//    flush() pushes everything out. The response ends when the handler returns.
// A handler that sets nothing answers 200 with an empty body.
//
// The server adds Date and Server (unless set), Content-Length or Transfer-Encoding (it
// owns those two: a Content-Length set by header() acts as set_content_length; fields of
// those names put straight into headers() are never sent), and
// "Connection: close" when the connection will close. Setting "Connection: close" closes
// the connection after this response. To a HEAD request the body is not sent (a whole
// body's length still is). 1xx, 204 and 304 responses never carry a body.
//
// Errors writing to the connection (the client went away, the write timeout passed)
// are reported by write()/flush() (std::system_error, or the error_code forms); the
// connection is closed after the handler returns either way.
//
// A Response made by hand (unit tests) keeps everything in memory: body() returns the
// whole body or what write() appended.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <goro/http/headers.hpp>

namespace goro::http {

namespace detail {
struct ResponseAccess;
class ResponseSink;
}  // namespace detail

class Response {
 public:
  Response() noexcept = default;
  Response(Response&&) noexcept = default;
  Response& operator=(Response&&) noexcept = default;
  Response(const Response&) = delete;
  Response& operator=(const Response&) = delete;
  ~Response() = default;

  // The status code (default 200). Ignored once committed.
  Response& status(int code) noexcept;
  int status() const noexcept { return status_; }

  // Sets header `name` (replacing every field of that name) / appends one. Ignored once
  // committed.
  Response& header(std::string_view name, std::string_view value);
  Response& add_header(std::string_view name, std::string_view value);
  Headers& headers() noexcept { return headers_; }
  const Headers& headers() const noexcept { return headers_; }

  // The whole body, with a Content-Type if none is set yet: text/plain; charset=utf-8,
  // application/json, text/html; charset=utf-8; send() leaves it to the caller
  // (application/octet-stream if none). std::logic_error once write() has started.
  void text(std::string body);
  void json(std::string body);
  void html(std::string body);
  void send(std::string body);

  // Declares the length of a streamed body (before the first write()).
  void set_content_length(std::uint64_t n);

  // Streams body bytes (see the top of the file).
  void write(std::string_view data);
  void write(const void* data, std::size_t n) { write(std::string_view(static_cast<const char*>(data), n)); }
  void write(std::string_view data, std::error_code& ec) noexcept;
  void flush();
  void flush(std::error_code& ec) noexcept;

  // Forgets the status, headers and whole body set so far (an error handler starting
  // over). std::logic_error once committed.
  void reset();

  // Whether the status line and headers have been handed to the connection.
  bool committed() const noexcept { return committed_; }
  // Body bytes given so far (whole body: its size).
  std::uint64_t bytes_written() const noexcept {
    return has_whole_ ? body_.size() : streamed_;
  }
  // The whole body set by text()/json()/html()/send() (a hand-made Response: also what
  // write() appended).
  const std::string& body() const noexcept { return body_; }

 private:
  friend struct detail::ResponseAccess;
  // default_type: a string literal (it is added as a view, not copied), or "".
  void set_whole(std::string body, std::string_view default_type);

  int status_ = 200;
  Headers headers_;
  std::string body_;
  bool has_whole_ = false;   // text()/json()/html()/send() was called
  bool committed_ = false;   // the head went to the sink (streaming)
  std::optional<std::uint64_t> content_length_;
  std::uint64_t streamed_ = 0;             // body bytes given to write()
  detail::ResponseSink* sink_ = nullptr;   // the connection; nullptr for a hand-made one
};

}  // namespace goro::http

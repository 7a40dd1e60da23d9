// goro/http/request.hpp — an HTTP request as a handler sees it.
//
//   srv.post("/users/:id/avatar", [](const goro::http::Request& req, goro::http::Response& res) {
//     std::string_view id = req.param("id");                 // route parameter
//     std::string size = req.query_or("size", "64");         // ?size=128 (decoded)
//     std::string_view type = req.header("content-type");    // case-insensitive
//     const std::string& png = req.body();                   // the whole body, or:
//     char buf[16384];                                        // ... streamed:
//     while (std::size_t n = req.read_body(buf, sizeof buf)) consume(buf, n);
//     res.status(201).text("stored");
//   });
//
// The server builds one Request per request and hands it to the handler by const
// reference; its string_views (method, target, path, header fields) point into the
// connection's buffer and are valid until the handler returns. Copy what must live longer.
//
// The body: body() reads and keeps all of it (up to ServerOptions::max_body_bytes);
// read_body() streams it in pieces, Content-Length or chunked alike (chunked framing and
// extensions removed; trailers in trailers() once the body is read to its end). Use one
// or the other. If the client sent "Expect: 100-continue", the server sends the
// "100 Continue" interim response when the handler first reads the body, and never if it
// does not (it answers and closes the connection instead). Reading the body can fail:
// too large (HttpError 413), bad chunked framing (400), too slow (408); the throwing
// forms throw HttpError, which, uncaught, the server turns into that response.
//
// A Request can also be made by hand (unit tests of handlers and middleware):
//   goro::http::Request req("POST", "/echo?x=1", {{"Content-Type", "text/plain"}}, "hello");
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <goro/core/context.hpp>
#include <goro/http/headers.hpp>
#include <goro/http/status.hpp>
#include <goro/net/address.hpp>

namespace goro::http {

namespace detail {
struct RequestAccess;

// Where a request body comes from: the connection (conn.cpp) or memory.
class BodySource {
 public:
  // Up to n bytes of body; 0 at its end (ec clear) or on error (ec set).
  virtual std::size_t read(void* buf, std::size_t n, std::error_code& ec) noexcept = 0;
  // The chunked trailer fields, once read() returned 0.
  virtual const Headers& trailers() const noexcept = 0;

 protected:
  ~BodySource() = default;
};
}  // namespace detail

// Route parameters: ":id" and "*rest" segments of the matched pattern, decoded.
class Params {
 public:
  struct Param {
    std::string_view name;  // points into the router's pattern
    std::string value;
  };
  using const_iterator = std::vector<Param>::const_iterator;

  // The value of `name`, or "" if the route has no such parameter.
  std::string_view get(std::string_view name) const noexcept;
  std::optional<std::string_view> find(std::string_view name) const noexcept;
  void add(std::string_view name, std::string value) { params_.push_back({name, std::move(value)}); }
  void clear() noexcept { params_.clear(); }
  std::size_t size() const noexcept { return params_.size(); }
  bool empty() const noexcept { return params_.empty(); }
  const_iterator begin() const noexcept { return params_.begin(); }
  const_iterator end() const noexcept { return params_.end(); }
  // Removes the last n parameters (the router's backtracking).
  void pop(std::size_t n) noexcept { params_.resize(params_.size() - n); }

 private:
  std::vector<Param> params_;
};

class Request {
 public:
  // An empty "GET / HTTP/1.1" request.
  Request();
  // A request made by hand, HTTP/1.1, with an in-memory body (Content-Length set to its
  // size when non-empty).
  Request(std::string_view method, std::string_view target, Headers headers = {},
          std::string body = {});
  Request(Request&&) noexcept;
  Request& operator=(Request&&) noexcept;
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;
  ~Request();

  // "GET", "POST", ... (upper case, as sent).
  std::string_view method() const noexcept { return method_; }
  // The request-target as sent: "/a/b?x=1", "http://host/a" (absolute form), "*".
  std::string_view target() const noexcept { return target_; }
  // The path part of the target, still percent-encoded: "/a/b" ("*" for "OPTIONS *").
  std::string_view path() const noexcept { return path_; }
  // The query string without '?', still encoded: "x=1&y=2" ("" if none).
  std::string_view raw_query() const noexcept { return query_; }
  // The first value of query parameter `name`, decoded ('+' is a space), or nullopt.
  std::optional<std::string> query(std::string_view name) const;
  std::string query_or(std::string_view name, std::string_view fallback) const;
  // Every query parameter, decoded, in order.
  std::vector<std::pair<std::string, std::string>> query_params() const;

  int version_major() const noexcept { return major_; }
  int version_minor() const noexcept { return minor_; }
  // "HTTP/1.1" or "HTTP/1.0".
  std::string_view version() const noexcept;

  const Headers& headers() const noexcept { return headers_; }
  // The first value of header `name` (any case), "" if absent.
  std::string_view header(std::string_view name) const noexcept { return headers_.get(name); }
  bool has_header(std::string_view name) const noexcept { return headers_.has(name); }

  // Route parameter `name` ("" if the route has none), decoded.
  std::string_view param(std::string_view name) const noexcept { return params_.get(name); }
  const Params& params() const noexcept { return params_; }

  // Whether the client allows the connection to stay open after this request (HTTP/1.1
  // without "Connection: close", or HTTP/1.0 with "Connection: keep-alive").
  bool keep_alive() const noexcept { return keep_alive_; }

  const net::Address& remote_address() const noexcept { return *remote_; }
  const net::Address& local_address() const noexcept { return *local_; }

  // The declared body: Content-Length, or chunked (content_length() empty). Neither: no body.
  std::optional<std::uint64_t> content_length() const noexcept { return content_length_; }
  bool chunked() const noexcept { return chunked_; }
  bool has_body() const noexcept { return chunked_ || (content_length_ && *content_length_ > 0); }

  // The whole body, read on first call and kept (later calls return the same string).
  const std::string& body() const;
  const std::string& body(std::error_code& ec) const noexcept;
  // Up to n bytes of the body; 0 at its end.
  std::size_t read_body(void* buf, std::size_t n) const;
  std::size_t read_body(void* buf, std::size_t n, std::error_code& ec) const noexcept;
  // Trailer fields of a chunked body, once it has been read to the end.
  const Headers& trailers() const noexcept;

  // The request's context: cancelled when the server gives up on the connection (a
  // shutdown's grace period ran out). Middleware may replace it (e.g. with values).
  const Context& context() const noexcept { return ctx_; }
  void set_context(Context ctx) noexcept { ctx_ = std::move(ctx); }

  // The request id set by the request_id() middleware ("" without it).
  std::string_view id() const noexcept { return id_; }
  void set_id(std::string_view id) { id_.assign(id); }

  // Header edits for middleware (e.g. a proxy-header rewrite); the handler sees them.
  Headers& mutable_headers() noexcept { return headers_; }

 private:
  friend struct detail::RequestAccess;
  struct Owned;  // a hand-made request's target and body

  void reset() noexcept;

  std::string_view method_ = "GET";
  std::string_view target_ = "/";
  std::string_view path_ = "/";
  std::string_view query_;
  int major_ = 1;
  int minor_ = 1;
  bool keep_alive_ = true;
  bool chunked_ = false;
  std::optional<std::uint64_t> content_length_;
  Headers headers_;
  Params params_;
  // The connection's addresses (it outlives the request), or an empty one.
  static inline const net::Address kNoAddress{};
  const net::Address* remote_ = &kNoAddress;
  const net::Address* local_ = &kNoAddress;
  Context ctx_;
  std::string id_;

  detail::BodySource* source_ = nullptr;  // nullptr: no body
  enum class BodyState : unsigned char { kUntouched, kStreaming, kWhole };
  mutable BodyState body_state_ = BodyState::kUntouched;
  mutable std::string body_;  // body() keeps it here
  std::unique_ptr<Owned> owned_;
};

}  // namespace goro::http

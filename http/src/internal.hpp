// internal.hpp — goro::http's private access to its public types (the friends declared
// in the public headers), and the contract between Response and the connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include <goro/http/headers.hpp>
#include <goro/http/request.hpp>
#include <goro/http/response.hpp>

namespace goro::http::detail {

struct HeadersAccess {
  // Appends a field that points at bytes the Headers does not own (the connection's
  // buffer): no copy.
  static void add_view(Headers& h, std::string_view name, std::string_view value) {
    h.fields_.push_back({name, value});
  }
  // Extends the last field's value by bytes that directly follow it in memory.
  static Headers::Field& last(Headers& h) noexcept { return h.fields_.back(); }
  // Headers::set without its character checks, for a name and value the caller has
  // already checked (the request_id middleware: its name once, its values are tokens).
  static void set_checked(Headers& h, std::string_view name, std::string_view value) {
    h.set_unchecked(name, value);
  }
};

// Whether name is a field name Headers accepts (an RFC 9110 token).
bool is_field_name(std::string_view name) noexcept;

struct RequestAccess {
  static void reset(Request& r) noexcept { r.reset(); }
  static void set_method(Request& r, std::string_view m) noexcept { r.method_ = m; }
  // target must stay valid while the request is in use; splits path and query.
  static void set_target(Request& r, std::string_view target) noexcept;
  static void set_version(Request& r, int major, int minor) noexcept {
    r.major_ = major;
    r.minor_ = minor;
  }
  static void set_keep_alive(Request& r, bool k) noexcept { r.keep_alive_ = k; }
  static void set_framing(Request& r, bool chunked, std::optional<std::uint64_t> len) noexcept {
    r.chunked_ = chunked;
    r.content_length_ = len;
  }
  // remote and local must outlive the request (a connection's own).
  static void set_addresses(Request& r, const net::Address& remote,
                            const net::Address& local) noexcept {
    r.remote_ = &remote;
    r.local_ = &local;
  }
  static void set_source(Request& r, BodySource* s) noexcept { r.source_ = s; }
  static Headers& headers(Request& r) noexcept { return r.headers_; }
  static Params& params(Request& r) noexcept { return r.params_; }
  // Whether the handler started reading the body.
  static bool body_touched(const Request& r) noexcept {
    return r.body_state_ != Request::BodyState::kUntouched;
  }
};

// The connection side of a Response (conn.cpp). Response::write/flush call it.
class ResponseSink {
 public:
  // Sends the head (first call) and then data as body bytes.
  virtual void write(Response& res, std::string_view data, std::error_code& ec) noexcept = 0;
  virtual void flush(Response& res, std::error_code& ec) noexcept = 0;

 protected:
  ~ResponseSink() = default;
};

struct ResponseAccess {
  static void attach(Response& r, ResponseSink* s) noexcept { r.sink_ = s; }
  static void reset(Response& r) noexcept {
    r.status_ = 200;
    r.headers_.clear();
    r.body_.clear();
    r.has_whole_ = false;
    r.committed_ = false;
    r.content_length_.reset();
    r.streamed_ = 0;
  }
  static bool has_whole(const Response& r) noexcept { return r.has_whole_; }
  static void set_committed(Response& r) noexcept { r.committed_ = true; }
  static void add_streamed(Response& r, std::size_t n) noexcept { r.streamed_ += n; }
  static const std::optional<std::uint64_t>& content_length(const Response& r) noexcept {
    return r.content_length_;
  }
  static void set_content_length(Response& r, std::uint64_t n) noexcept { r.content_length_ = n; }
  static std::string& body(Response& r) noexcept { return r.body_; }
};

// Percent-decoding of a path segment or (plus_is_space) a query component. Malformed
// escapes are kept as they are.
std::string percent_decode(std::string_view s, bool plus_is_space);
bool needs_decode(std::string_view s, bool plus_is_space) noexcept;

}  // namespace goro::http::detail

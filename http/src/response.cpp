// response.cpp — Response: a whole body kept until the handler returns, or bytes streamed
// through the connection's ResponseSink (conn.cpp). A hand-made Response keeps
// everything in memory.
#include <goro/http/response.hpp>

#include <charconv>
#include <stdexcept>
#include <system_error>

#include "internal.hpp"

namespace goro::http {

Response& Response::status(int code) noexcept {
  if (!committed_) status_ = code;
  return *this;
}

Response& Response::header(std::string_view name, std::string_view value) {
  if (committed_) return *this;
  if (iequals(name, "Content-Length")) {
    std::uint64_t n = 0;
    auto [p, e] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (e == std::errc() && p == value.data() + value.size()) content_length_ = n;
    return *this;
  }
  headers_.set(name, value);
  return *this;
}

Response& Response::add_header(std::string_view name, std::string_view value) {
  if (committed_) return *this;
  if (iequals(name, "Content-Length")) return header(name, value);
  headers_.add(name, value);
  return *this;
}

void Response::set_whole(std::string body, std::string_view default_type) {
  if (committed_ || streamed_ > 0) {
    throw std::logic_error("goro::http::Response: a whole body after write() started streaming");
  }
  body_ = std::move(body);
  has_whole_ = true;
  if (!default_type.empty() && !headers_.has("Content-Type")) {
    // Both strings are literals (static storage): the field views them, uncopied.
    detail::HeadersAccess::add_view(headers_, "Content-Type", default_type);
  }
}

void Response::text(std::string body) { set_whole(std::move(body), "text/plain; charset=utf-8"); }
void Response::json(std::string body) { set_whole(std::move(body), "application/json"); }
void Response::html(std::string body) { set_whole(std::move(body), "text/html; charset=utf-8"); }
void Response::send(std::string body) { set_whole(std::move(body), "application/octet-stream"); }

void Response::reset() {
  if (committed_) throw std::logic_error("goro::http::Response::reset after the response started");
  status_ = 200;
  headers_.clear();
  body_.clear();
  has_whole_ = false;
  content_length_.reset();
  streamed_ = 0;
}

void Response::set_content_length(std::uint64_t n) {
  if (committed_ || streamed_ > 0) {
    throw std::logic_error("goro::http::Response: set_content_length after write() started");
  }
  content_length_ = n;
}

void Response::write(std::string_view data, std::error_code& ec) noexcept {
  ec.clear();
  if (has_whole_) {
    // A whole body was set and the handler streams anyway: the streamed bytes win.
    has_whole_ = false;
    body_.clear();
  }
  if (sink_ == nullptr) {
    try {
      body_.append(data);
    } catch (const std::bad_alloc&) {
      ec = std::make_error_code(std::errc::not_enough_memory);
      return;
    }
    committed_ = true;
    streamed_ += data.size();
    return;
  }
  sink_->write(*this, data, ec);
}

void Response::write(std::string_view data) {
  std::error_code ec;
  write(data, ec);
  if (ec) throw std::system_error(ec, "goro::http::Response::write");
}

void Response::flush(std::error_code& ec) noexcept {
  ec.clear();
  if (sink_ != nullptr) sink_->flush(*this, ec);
}

void Response::flush() {
  std::error_code ec;
  flush(ec);
  if (ec) throw std::system_error(ec, "goro::http::Response::flush");
}

}  // namespace goro::http

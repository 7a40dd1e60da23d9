// request.cpp — Request: target splitting, query parameters, the body read through a
// BodySource (the connection's, or memory for a hand-made request).
#include <goro/http/request.hpp>

#include <algorithm>
#include <cstring>

#include <goro/net/error.hpp>

#include "internal.hpp"

namespace goro::http {

namespace detail {

namespace {
int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

bool needs_decode(std::string_view s, bool plus_is_space) noexcept {
  for (char c : s) {
    if (c == '%' || (plus_is_space && c == '+')) return true;
  }
  return false;
}

std::string percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]);
      int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

void RequestAccess::set_target(Request& r, std::string_view target) noexcept {
  r.target_ = target;
  std::string_view t = target;
  // Absolute form (a proxy request, or a client that sends it anyway): drop
  // "scheme://authority" and keep the path.
  if (!t.empty() && t[0] != '/' && t != "*") {
    std::size_t scheme = t.find("://");
    if (scheme != std::string_view::npos) {
      std::size_t path_start = t.find_first_of("/?", scheme + 3);
      t = path_start == std::string_view::npos ? std::string_view("/") : t.substr(path_start);
    }
  }
  std::size_t q = t.find('?');
  if (q == std::string_view::npos) {
    r.path_ = t;
    r.query_ = {};
  } else {
    r.path_ = t.substr(0, q);
    r.query_ = t.substr(q + 1);
  }
  // Fragments are not sent by clients; drop one if present.
  if (std::size_t h = r.query_.find('#'); h != std::string_view::npos) r.query_ = r.query_.substr(0, h);
  if (r.query_.empty()) {
    if (std::size_t h = r.path_.find('#'); h != std::string_view::npos) r.path_ = r.path_.substr(0, h);
  }
  if (r.path_.empty()) r.path_ = "/";
}

}  // namespace detail

// --- a hand-made request's storage -----------------------------------------------------------

namespace {
class MemorySource final : public detail::BodySource {
 public:
  explicit MemorySource(std::string data) : data_(std::move(data)) {}
  std::size_t read(void* buf, std::size_t n, std::error_code& ec) noexcept override {
    ec.clear();
    std::size_t k = std::min(n, data_.size() - pos_);
    if (k > 0) std::memcpy(buf, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }
  const Headers& trailers() const noexcept override { return trailers_; }

 private:
  std::string data_;
  std::size_t pos_ = 0;
  Headers trailers_;
};

const Headers& empty_headers() noexcept {
  static const Headers h;
  return h;
}

// The status the throwing body calls answer with for a read error.
int status_for(const std::error_code& ec) noexcept {
  if (ec == Errc::kBodyTooLarge) return status::kPayloadTooLarge;
  if (ec == Errc::kBodyConsumed) return status::kInternalServerError;
  if (ec == net::Errc::kTimeout) return status::kRequestTimeout;
  return status::kBadRequest;
}

[[noreturn]] void throw_body_error(const std::error_code& ec) {
  throw HttpError(status_for(ec), "request body: " + ec.message());
}
}  // namespace

struct Request::Owned {
  std::string method;
  std::string target;
  MemorySource source;
};

// --- Request -----------------------------------------------------------------------------------

Request::Request() = default;

Request::Request(std::string_view method, std::string_view target, Headers headers,
                 std::string body)
    : headers_(std::move(headers)) {
  std::size_t size = body.size();
  owned_ = std::make_unique<Owned>(Owned{std::string(method), std::string(target),
                                         MemorySource(std::move(body))});
  method_ = owned_->method;
  detail::RequestAccess::set_target(*this, owned_->target);
  if (size > 0) {
    content_length_ = size;
    source_ = &owned_->source;
  }
  if (auto te = headers_.find("Transfer-Encoding"); te && iequals(*te, "chunked")) {
    chunked_ = true;
    content_length_.reset();
    source_ = &owned_->source;
  }
  if (iequals(headers_.get("Connection"), "close")) keep_alive_ = false;
}

Request::Request(Request&&) noexcept = default;
Request& Request::operator=(Request&&) noexcept = default;
Request::~Request() = default;

void Request::reset() noexcept {
  method_ = "GET";
  target_ = path_ = "/";
  query_ = {};
  major_ = minor_ = 1;
  keep_alive_ = true;
  chunked_ = false;
  content_length_.reset();
  headers_.clear();
  params_.clear();
  id_.clear();
  source_ = nullptr;
  body_state_ = BodyState::kUntouched;
  body_.clear();
}

std::string_view Request::version() const noexcept {
  return minor_ == 0 ? std::string_view("HTTP/1.0") : std::string_view("HTTP/1.1");
}

namespace {
// Calls f(name, value) for each "name=value" (or "name") pair of a raw query, undecoded.
template <class F>
void for_each_query_pair(std::string_view q, F&& f) {
  while (!q.empty()) {
    std::size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (pair.empty()) continue;
    std::size_t eq = pair.find('=');
    std::string_view name = pair.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (f(name, value)) return;
  }
}
}  // namespace

std::optional<std::string> Request::query(std::string_view name) const {
  std::optional<std::string> out;
  for_each_query_pair(query_, [&](std::string_view n, std::string_view v) {
    bool match = detail::needs_decode(n, true) ? detail::percent_decode(n, true) == name : n == name;
    if (match) out = detail::percent_decode(v, true);
    return match;
  });
  return out;
}

std::string Request::query_or(std::string_view name, std::string_view fallback) const {
  std::optional<std::string> v = query(name);
  return v ? std::move(*v) : std::string(fallback);
}

std::vector<std::pair<std::string, std::string>> Request::query_params() const {
  std::vector<std::pair<std::string, std::string>> out;
  for_each_query_pair(query_, [&](std::string_view n, std::string_view v) {
    out.emplace_back(detail::percent_decode(n, true), detail::percent_decode(v, true));
    return false;
  });
  return out;
}

// --- body --------------------------------------------------------------------------------------

const std::string& Request::body(std::error_code& ec) const noexcept {
  ec.clear();
  if (body_state_ == BodyState::kWhole) return body_;
  if (body_state_ == BodyState::kStreaming) {
    ec = Errc::kBodyConsumed;
    return body_;
  }
  body_state_ = BodyState::kWhole;
  if (source_ == nullptr) return body_;
  try {
    if (content_length_) body_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(*content_length_, 1 << 24)));
    char buf[16384];
    for (;;) {
      std::size_t n = source_->read(buf, sizeof buf, ec);
      if (ec || n == 0) break;
      body_.append(buf, n);
    }
  } catch (const std::bad_alloc&) {
    ec = std::make_error_code(std::errc::not_enough_memory);
  }
  return body_;
}

const std::string& Request::body() const {
  std::error_code ec;
  const std::string& b = body(ec);
  if (ec) throw_body_error(ec);
  return b;
}

std::size_t Request::read_body(void* buf, std::size_t n, std::error_code& ec) const noexcept {
  ec.clear();
  if (body_state_ == BodyState::kWhole) {
    ec = Errc::kBodyConsumed;
    return 0;
  }
  body_state_ = BodyState::kStreaming;
  if (source_ == nullptr || n == 0) return 0;
  return source_->read(buf, n, ec);
}

std::size_t Request::read_body(void* buf, std::size_t n) const {
  std::error_code ec;
  std::size_t k = read_body(buf, n, ec);
  if (ec) throw_body_error(ec);
  return k;
}

const Headers& Request::trailers() const noexcept {
  return source_ != nullptr ? source_->trailers() : empty_headers();
}

// --- Params ------------------------------------------------------------------------------------

std::string_view Params::get(std::string_view name) const noexcept {
  for (const Param& p : params_) {
    if (p.name == name) return p.value;
  }
  return {};
}

std::optional<std::string_view> Params::find(std::string_view name) const noexcept {
  for (const Param& p : params_) {
    if (p.name == name) return std::string_view(p.value);
  }
  return std::nullopt;
}

}  // namespace goro::http

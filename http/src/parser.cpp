// parser.cpp — the llhttp wrapper; see parser.hpp for how the connection uses it.
#include "parser.hpp"

#include "internal.hpp"

namespace goro::http::detail {

// Static trampolines from llhttp's C callbacks to Parser's members (the Parser is
// llhttp_t::data). Node.js's node_http_parser.cc does the same with its Proxy template.
template <int (Parser::*Member)() noexcept>
struct Parser::Callback<Member> {
  static int raw(llhttp_t* p) { return (static_cast<Parser*>(p->data)->*Member)(); }
};
template <int (Parser::*Member)(const char*, std::size_t) noexcept>
struct Parser::Callback<Member> {
  static int raw(llhttp_t* p, const char* at, std::size_t n) {
    return (static_cast<Parser*>(p->data)->*Member)(at, n);
  }
};

const llhttp_settings_t& Parser::settings() noexcept {
  static const llhttp_settings_t s = [] {
    llhttp_settings_t st;
    llhttp_settings_init(&st);
    st.on_message_begin = Callback<&Parser::on_message_begin>::raw;
    st.on_url = Callback<&Parser::on_url>::raw;
    st.on_header_field = Callback<&Parser::on_header_field>::raw;
    st.on_header_value = Callback<&Parser::on_header_value>::raw;
    st.on_header_value_complete = Callback<&Parser::on_header_value_complete>::raw;
    st.on_headers_complete = Callback<&Parser::on_headers_complete>::raw;
    st.on_body = Callback<&Parser::on_body>::raw;
    st.on_chunk_header = Callback<&Parser::on_chunk_header>::raw;
    st.on_message_complete = Callback<&Parser::on_message_complete>::raw;
    return st;
  }();
  return s;
}

Parser::Parser() noexcept {
  llhttp_init(&p_, HTTP_REQUEST, &settings());
  p_.data = this;
  // No lenient flag is ever set: each one reopens a request smuggling shape.
}

void Parser::begin(Request* req, Headers* trailers, std::size_t max_header_count,
                   std::uint64_t max_body) noexcept {
  req_ = req;
  trailers_ = trailers;
  max_header_count_ = max_header_count;
  max_body_ = max_body;
  url_ = field_ = value_ = {};
  in_field_ = false;
  header_count_ = 0;
  headers_done_ = message_done_ = false;
  keep_alive_ = true;
  chunked_ = upgrade_ = false;
  te_seen_ = te_unsupported_ = false;
  host_count_ = 0;
  expect_.reset();
  content_length_.reset();
  spans_.clear();
  body_bytes_ = 0;
  last_chunk_ = false;
  error_status_ = 0;
  error_reason_ = "";
}

Parser::Result Parser::execute(const char* data, std::size_t n) noexcept {
  llhttp_errno_t e = llhttp_execute(&p_, data, n);
  if (error_status_ != 0) return {Status::kError, 0};
  switch (e) {
    case HPE_OK:
      return {Status::kNeedMore, n};
    case HPE_PAUSED: {
      std::size_t used = static_cast<std::size_t>(llhttp_get_error_pos(&p_) - data);
      if (message_done_) return {Status::kMessageEnd, used};
      if (last_chunk_) return {Status::kLastChunk, used};
      fail(400, "unexpected pause");
      return {Status::kError, 0};
    }
    case HPE_PAUSED_UPGRADE:
      // CONNECT, or "Connection: upgrade" with Upgrade: the message is complete and what
      // follows would be another protocol. goro::http does not switch protocols: the
      // request is answered as usual and the connection closed after it.
      upgrade_ = true;
      message_done_ = true;
      return {Status::kMessageEnd, static_cast<std::size_t>(llhttp_get_error_pos(&p_) - data)};
    default:
      error_status_ = 400;
      error_reason_ = llhttp_get_error_reason(&p_);
      if (error_reason_ == nullptr) error_reason_ = llhttp_errno_name(e);
      return {Status::kError, 0};
  }
}

int Parser::fail(int status, const char* reason) noexcept {
  error_status_ = status;
  error_reason_ = reason;
  return -1;
}

bool Parser::extend(std::string_view& v, const char* at, std::size_t n) noexcept {
  if (v.empty()) {
    v = std::string_view(at, n);
    return true;
  }
  if (v.data() + v.size() != at) return false;
  v = std::string_view(v.data(), v.size() + n);
  return true;
}

int Parser::on_message_begin() noexcept { return 0; }

int Parser::on_url(const char* at, std::size_t n) noexcept {
  return extend(url_, at, n) ? 0 : fail(400, "request target split");
}

int Parser::on_header_field(const char* at, std::size_t n) noexcept {
  if (!in_field_) {
    field_ = {};
    value_ = {};
    in_field_ = true;
  }
  return extend(field_, at, n) ? 0 : fail(400, "header name split");
}

int Parser::on_header_value(const char* at, std::size_t n) noexcept {
  in_field_ = false;
  return extend(value_, at, n) ? 0 : fail(400, "header value split");
}

int Parser::on_header_value_complete() noexcept {
  in_field_ = false;
  // llhttp skips the whitespace before a value, not after it.
  std::string_view v = value_;
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (++header_count_ > max_header_count_) return fail(431, "too many header fields");
  try {
    if (headers_done_) {
      // Trailer fields: copied, the buffer they sit in is reused for the next request.
      if (trailers_ != nullptr) trailers_->add(field_, v);
      return 0;
    }
    HeadersAccess::add_view(RequestAccess::headers(*req_), field_, v);
  } catch (...) {
    return fail(500, "out of memory");
  }
  // The fields the connection looks at, told apart by length first (most fields match
  // none of them, and then no name is compared at all).
  switch (field_.size()) {
    case 4:
      if (iequals(field_, "Host")) ++host_count_;
      return 0;
    case 6:
      if (!expect_ && iequals(field_, "Expect")) expect_ = v;
      return 0;
    case 17:
      break;
    default:
      return 0;
  }
  if (iequals(field_, "Transfer-Encoding")) {
    te_seen_ = true;
    // Every coding must be "chunked" (llhttp checks that chunked comes last): we
    // implement no other transfer coding, and RFC 9112 says 501 for those.
    while (!v.empty()) {
      std::size_t comma = v.find(',');
      std::string_view tok = v.substr(0, comma);
      while (!tok.empty() && (tok.front() == ' ' || tok.front() == '\t')) tok.remove_prefix(1);
      while (!tok.empty() && (tok.back() == ' ' || tok.back() == '\t')) tok.remove_suffix(1);
      if (!tok.empty() && !iequals(tok, "chunked")) te_unsupported_ = true;
      v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
    }
  }
  return 0;
}

int Parser::on_headers_complete() noexcept {
  headers_done_ = true;
  header_count_ = 0;  // trailers count on their own
  int major = p_.http_major, minor = p_.http_minor;
  if (major != 1 || minor > 1) return fail(505, "unsupported HTTP version");
  if (te_seen_ && minor == 0) return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
  if (te_unsupported_) return fail(501, "unsupported transfer coding");
  chunked_ = (p_.flags & F_CHUNKED) != 0;
  if ((p_.flags & F_CONTENT_LENGTH) != 0) {
    content_length_ = p_.content_length;
    if (p_.content_length > max_body_) return fail(413, "request body too large");
  }
  keep_alive_ = llhttp_should_keep_alive(&p_) != 0;
  upgrade_ = p_.upgrade != 0;
  RequestAccess::set_method(*req_, llhttp_method_name(static_cast<llhttp_method_t>(p_.method)));
  RequestAccess::set_target(*req_, url_);
  RequestAccess::set_version(*req_, major, minor);
  RequestAccess::set_keep_alive(*req_, keep_alive_);
  RequestAccess::set_framing(*req_, chunked_, content_length_);
  return 0;
}

int Parser::on_body(const char* at, std::size_t n) noexcept {
  body_bytes_ += n;
  if (body_bytes_ > max_body_) return fail(413, "request body too large");
  try {
    spans_.push_back({at, n});
  } catch (...) {
    return fail(500, "out of memory");
  }
  return 0;
}

int Parser::on_chunk_header() noexcept {
  if (p_.content_length > max_body_ - body_bytes_) return fail(413, "request body too large");
  if (p_.content_length == 0) {
    last_chunk_ = true;
    return HPE_PAUSED;
  }
  return 0;
}

int Parser::on_message_complete() noexcept {
  message_done_ = true;
  return HPE_PAUSED;
}

}  // namespace goro::http::detail

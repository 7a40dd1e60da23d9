// status.cpp — reason phrases (RFC 9110 section 15) and the goro.http error category.
#include <goro/http/status.hpp>

#include <charconv>
#include <cstring>
#include <string>

#include "out_writer.hpp"

namespace goro::http {

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 102: return "Processing";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "";
  }
}

namespace {
class HttpCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "goro.http"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::kBodyTooLarge: return "request body too large";
      case Errc::kMalformedBody: return "malformed request body";
      case Errc::kBodyConsumed: return "request body already consumed";
    }
    return "unknown goro.http error";
  }
};
}  // namespace

const std::error_category& http_category() noexcept {
  static const HttpCategory cat;
  return cat;
}

namespace detail {

namespace {
// Every status line from 100 to 599, formatted once ("Unknown" where RFC 9110 names no
// reason).
struct StatusLines {
  static constexpr int kFirst = 100, kLast = 599;
  static constexpr std::size_t kWidth = 48;  // the longest line is 46 bytes
  char text[kLast - kFirst + 1][kWidth];
  unsigned char len[kLast - kFirst + 1];

  StatusLines() noexcept {
    for (int code = kFirst; code <= kLast; ++code) {
      std::string_view reason = reason_phrase(code);
      if (reason.empty()) reason = "Unknown";
      char* p = text[code - kFirst];
      char* q = p;
      std::memcpy(q, "HTTP/1.1 ", 9);
      q += 9;
      q = std::to_chars(q, q + 3, code).ptr;
      *q++ = ' ';
      std::memcpy(q, reason.data(), reason.size());
      q += reason.size();
      *q++ = '\r';
      *q++ = '\n';
      len[code - kFirst] = static_cast<unsigned char>(q - p);
    }
  }
};
}  // namespace

std::string_view status_line(int status) {
  static const StatusLines lines;
  if (status < StatusLines::kFirst || status > StatusLines::kLast) return {};
  int i = status - StatusLines::kFirst;
  return std::string_view(lines.text[i], lines.len[i]);
}

}  // namespace detail

}  // namespace goro::http

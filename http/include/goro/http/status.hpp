// goro/http/status.hpp — status codes, their reason phrases, and HttpError, the exception
// a handler throws to answer with a given status.
//
//   srv.get("/users/:id", [&](const Request& req, Response& res) {
//     auto it = users.find(std::string(req.param("id")));
//     if (it == users.end()) throw goro::http::HttpError(404, "no such user");
//     res.json(it->second);
//   });
//
// A thrown HttpError whose response has not started yet becomes that status with the
// message as a text/plain body; as with any exception from a handler, the connection is
// closed after that response (see server.hpp).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace goro::http {

// Status codes used by goro::http itself (any integer 100..999 may be sent).
namespace status {
inline constexpr int kContinue = 100;
inline constexpr int kOk = 200;
inline constexpr int kNoContent = 204;
inline constexpr int kNotModified = 304;
inline constexpr int kBadRequest = 400;
inline constexpr int kForbidden = 403;
inline constexpr int kNotFound = 404;
inline constexpr int kMethodNotAllowed = 405;
inline constexpr int kRequestTimeout = 408;
inline constexpr int kPayloadTooLarge = 413;
inline constexpr int kUriTooLong = 414;
inline constexpr int kExpectationFailed = 417;
inline constexpr int kRequestHeaderFieldsTooLarge = 431;
inline constexpr int kInternalServerError = 500;
inline constexpr int kNotImplemented = 501;
inline constexpr int kBadGateway = 502;
inline constexpr int kServiceUnavailable = 503;
inline constexpr int kHttpVersionNotSupported = 505;
}  // namespace status

// "OK", "Not Found", ...; "" for a code without a registered phrase.
std::string_view reason_phrase(int status) noexcept;

// Why reading a request body failed (the error_code forms of Request::read_body), in
// http_category() ("goro.http"). Timeouts and a stream that ended early are reported with
// goro::net's codes (net::Errc::kTimeout, net::Errc::kUnexpectedEof), I/O errors as errno.
enum class Errc : int {
  kBodyTooLarge = 1,  // more than ServerOptions::max_body_bytes (answered with 413)
  kMalformedBody,     // bad chunked framing (answered with 400)
  kBodyConsumed,      // body() after read_body() took part of it, or the reverse
};

const std::error_category& http_category() noexcept;

inline std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), http_category()};
}

// Thrown to answer with `status` (and `what()` as the body); also what the throwing
// body-reading calls throw (413, 400, 408).
class HttpError : public std::runtime_error {
 public:
  explicit HttpError(int status) : HttpError(status, std::string(reason_phrase(status))) {}
  HttpError(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
  int status() const noexcept { return status_; }

 private:
  int status_;
};

}  // namespace goro::http

template <>
struct std::is_error_code_enum<goro::http::Errc> : std::true_type {};

// goro/net/error.hpp — the errors goro::net adds to the system's errno values.
//
// Socket calls report failures as std::error_code: the errno of the system call
// (std::system_category(): ECONNREFUSED, ECONNRESET, EPIPE, ...) or one of these, in
// net_category() ("goro.net"):
//
//   Errc::kEof            end of stream: the peer closed its side (Go's io.EOF). Not a
//                         failure: the throwing read() returns 0 instead of throwing.
//   Errc::kUnexpectedEof  the stream ended inside something read_full() had to fill
//                         (Go's io.ErrUnexpectedEOF).
//   Errc::kTimeout        a deadline passed (Go's os.ErrDeadlineExceeded, "i/o timeout");
//                         compares equal to std::errc::timed_out.
//   Errc::kClosed         the connection or listener was closed, by this goroutine or
//                         another (Go's net.ErrClosed, "use of closed network connection").
//
//   std::error_code ec;
//   std::size_t n = conn.read(buf, sizeof buf, ec);
//   if (ec == goro::net::Errc::kEof) ...              // the peer is done sending
//   else if (ec == std::errc::timed_out) ...          // the read deadline passed
//   else if (ec) ...                                  // ECONNRESET and the like
#pragma once

#include <system_error>
#include <type_traits>

namespace goro::net {

enum class Errc : int {
  kEof = 1,
  kUnexpectedEof = 2,
  kTimeout = 3,
  kClosed = 4,
};

// The category of Errc codes, named "goro.net".
const std::error_category& net_category() noexcept;

inline std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), net_category()};
}

}  // namespace goro::net

template <>
struct std::is_error_code_enum<goro::net::Errc> : std::true_type {};

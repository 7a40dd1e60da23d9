// goro/net/copy.hpp — moving bytes between connections (Go's io.Copy, and the two-way
// copy at the heart of every TCP proxy).
//
//   goro::net::Conn client = ln.accept();
//   goro::net::Conn backend = goro::net::dial(backend_addr, 3s);
//   goro::net::RelayResult r = goro::net::relay(client, backend);   // until both are done
//
// copy(dst, src) reads src until the end of its stream and writes everything to dst;
// the end of src's stream is success. Small messages go through a 16 KiB buffer (a read
// and a write each, the cheapest way for them). Once a read fills the buffer — a bulk
// transfer — and the program ignores SIGPIPE (signal(SIGPIPE, SIG_IGN), as servers
// usually do), the rest goes through a pipe with splice(2) and never enters user space,
// as Go's io.Copy does between TCP connections (splice into a reset socket raises
// SIGPIPE, which would otherwise end the process). relay(a, b) copies a -> b and b -> a at the same
// time (the second direction in a new goroutine) and returns when both have finished:
//  - the end of one side's stream is passed on as a half close (shutdown_write on the
//    other side), so request/response protocols that half close work through it;
//  - an error on either side (reset, timeout, ...) closes both connections, which ends
//    the other direction too;
//  - when both directions are done, both connections are closed.
#pragma once

#include <cstdint>
#include <system_error>

#include <goro/core/time.hpp>
#include <goro/net/tcp.hpp>

namespace goro::net {

// Copies src to dst until src's end of stream; returns the bytes copied. ec: the first
// read or write error (not the end of stream).
std::uint64_t copy(Conn& dst, Conn& src, std::error_code& ec) noexcept;
std::uint64_t copy(Conn& dst, Conn& src);

struct RelayOptions {
  // A direction that moves no byte for this long fails with Errc::kTimeout (both
  // connections are then closed); 0: no limit. Each read re-arms the read deadline.
  Duration idle_timeout{0};
};

struct RelayResult {
  std::uint64_t a_to_b = 0;  // bytes copied from a to b
  std::uint64_t b_to_a = 0;
  std::error_code a_to_b_error;  // empty if that direction ended with a's end of stream
  std::error_code b_to_a_error;
};

// Copies both ways until both directions end (see the top of the file). Needs a goroutine.
RelayResult relay(Conn& a, Conn& b, const RelayOptions& opts = {});

}  // namespace goro::net

// goro/net/resolve.hpp — host and service names to addresses (Go's net.Resolver.LookupHost
// and LookupPort, as one call; Asio's ip::tcp::resolver).
//
//   std::vector<goro::net::Address> addrs = goro::net::resolve("localhost", "8080");
//   for (auto& a : addrs) std::printf("%s\n", a.to_string().c_str());   // 127.0.0.1:8080
//
//   std::error_code ec;
//   auto none = goro::net::resolve("nonexistent.invalid", "80", ec);
//   if (ec == goro::net::ResolveErrc::kHostNotFound) ...   // ec.message(): libc's words
//
// host: a name ("localhost", "example.com"), or an IPv4 or IPv6 literal ("127.0.0.1",
// "::1", "fe80::1%eth0"; no brackets); empty means the local machine's loopback
// addresses. service: a port number ("8080") or a service name from /etc/services
// ("http"); empty means port 0.
//
// How it runs: a literal host with a numeric service is parsed right here, no system
// call. A literal host with a service name goes to getaddrinfo(AI_NUMERICHOST) through
// goro::blocking() (it only reads /etc/services). Anything else calls getaddrinfo(3)
// — which may read files and wait on DNS servers for seconds — through
// goro::blocking_long(): the goroutine's P is handed to another thread at once (Go's
// entersyscallblock), so other goroutines never wait for a name server. Like Go's cgo
// resolver, each lookup in flight occupies one OS thread.
//
// Results: one Address per distinct (address, port), stream sockets, in getaddrinfo's
// order (RFC 6724: the preferred address first). IPv4 and IPv6 both, whatever the
// machine's interfaces (no AI_ADDRCONFIG), so "::1" resolves on an IPv4-only host.
//
// Errors, Asio's convention: the error_code overload never throws a lookup failure (it
// returns an empty vector and sets ec); the other throws std::system_error with
// what() = "lookup <host>: <libc's message>", e.g.
// "lookup nonexistent.invalid: Name or service not known".
// The codes are getaddrinfo's EAI_* values in gai_category() (messages from
// gai_strerror), except EAI_SYSTEM, reported as the errno in std::system_category().
// Compare them with the portable conditions of ResolveErrc.
#pragma once

#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include <goro/net/address.hpp>

namespace goro::net {

// Portable conditions for resolve()'s errors: ec == ResolveErrc::kHostNotFound.
enum class ResolveErrc {
  kHostNotFound = 1,  // EAI_NONAME: no such host (or, for a numeric-only lookup, not a literal)
  kNoAddress,         // EAI_NODATA, EAI_ADDRFAMILY: the name exists but has no address
  kTryAgain,          // EAI_AGAIN: temporary failure (a name server did not answer)
  kFailure,           // EAI_FAIL: non-recoverable name server failure
  kServiceNotFound,   // EAI_SERVICE: unknown service name
  kOther,             // any other EAI_* code (bad flags, family, memory, ...)
};

// The category of getaddrinfo's EAI_* codes (value: the code as getaddrinfo returned it).
const std::error_category& gai_category() noexcept;
// The category of ResolveErrc conditions.
const std::error_category& resolve_category() noexcept;

inline std::error_condition make_error_condition(ResolveErrc e) noexcept {
  return {static_cast<int>(e), resolve_category()};
}

std::vector<Address> resolve(std::string_view host, std::string_view service);
std::vector<Address> resolve(std::string_view host, std::string_view service, std::error_code& ec);

}  // namespace goro::net

template <>
struct std::is_error_condition_enum<goro::net::ResolveErrc> : std::true_type {};

// goro/net/address.hpp — an IP address and port (Go's netip.AddrPort / net.TCPAddr).
//
//   auto a = goro::net::Address::parse("::1", 8080);       // std::optional<Address>
//   a->to_string();                                         // "[::1]:8080"
//   ::connect(fd, a->native_data(), a->native_size());      // the sockaddr, ready to use
//
// A small value type: copyable, comparable, no allocation. It holds the socket address
// itself (a sockaddr_in or sockaddr_in6), so the sockets built on it pass it to the
// kernel as it is; ip() and to_string() format it on demand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

struct sockaddr;  // <sys/socket.h>; kept out of this header

namespace goro::net {

enum class Family : unsigned char {
  kIPv4,  // AF_INET
  kIPv6,  // AF_INET6
};

class Address {
 public:
  // 0.0.0.0:0 (IPv4, unspecified address, port 0).
  Address() noexcept;

  // An IP literal ("127.0.0.1", "::1", "fe80::1%eth0" with a zone) and a port; nullopt if
  // ip is not a literal (no name lookup: see resolve.hpp for that).
  static std::optional<Address> parse(std::string_view ip, std::uint16_t port = 0);

  // From a socket address the kernel or getaddrinfo filled in; nullopt unless it is an
  // AF_INET or AF_INET6 address of at least the right length.
  static std::optional<Address> from_native(const ::sockaddr* sa, std::size_t len) noexcept;

  Family family() const noexcept;
  bool is_ipv4() const noexcept { return family() == Family::kIPv4; }
  bool is_ipv6() const noexcept { return family() == Family::kIPv6; }

  // The address alone, in the usual text form: "127.0.0.1", "::1", "fe80::1%eth0".
  std::string ip() const;
  std::uint16_t port() const noexcept;  // host byte order
  void set_port(std::uint16_t port) noexcept;
  // IPv6 scope (interface index) of a link-local address; 0 for none and for IPv4.
  std::uint32_t scope_id() const noexcept;

  // 127.0.0.0/8 or ::1 (and ::ffff:127.0.0.0/104).
  bool is_loopback() const noexcept;
  // 0.0.0.0 or ::.
  bool is_unspecified() const noexcept;

  // "ip:port", IPv6 in brackets: "127.0.0.1:80", "[::1]:80" (Go's net.JoinHostPort).
  std::string to_string() const;

  // The socket address, for bind/connect/sendto, and its length (sizeof(sockaddr_in) or
  // sizeof(sockaddr_in6)).
  const ::sockaddr* native_data() const noexcept;
  ::sockaddr* native_data() noexcept;
  std::size_t native_size() const noexcept;

  // Same family, address, port and (IPv6) scope.
  friend bool operator==(const Address& a, const Address& b) noexcept;

 private:
  // Room for a sockaddr_in6 (28 bytes), aligned for it; checked in address.cpp.
  static constexpr std::size_t kStorage = 28;
  alignas(4) unsigned char storage_[kStorage];
};

}  // namespace goro::net

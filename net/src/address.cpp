// address.cpp — goro::net::Address: a sockaddr_in or sockaddr_in6 in a small value type.
//
// The bytes are the kernel's own structure, so sockets can hand native_data() to
// bind/connect as is; everything else (text form, loopback test) reads them. Interface
// names in IPv6 zones ("fe80::1%eth0") need if_nametoindex/if_indextoname, which ask the
// kernel (an ioctl on a socket), so those two go through goro::blocking().
#include <goro/core/blocking.hpp>
#include <goro/net/address.hpp>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>

namespace goro::net {

namespace {

static_assert(sizeof(sockaddr_in6) <= 28 && alignof(sockaddr_in6) <= 4,
              "Address::storage_ must hold a sockaddr_in6");
static_assert(sizeof(sockaddr_in) <= sizeof(sockaddr_in6));

// A zone: an interface name or a decimal index; 0 if unknown.
std::uint32_t zone_index(std::string_view zone) {
  if (zone.empty()) return 0;
  std::uint32_t idx = 0;
  auto [end, ec] = std::from_chars(zone.data(), zone.data() + zone.size(), idx);
  if (ec == std::errc() && end == zone.data() + zone.size()) return idx;
  std::string name(zone);
  return goro::blocking([&] { return ::if_nametoindex(name.c_str()); });
}

}  // namespace

Address::Address() noexcept {
  std::memset(storage_, 0, sizeof storage_);
  auto* in = reinterpret_cast<sockaddr_in*>(storage_);
  in->sin_family = AF_INET;
}

std::optional<Address> Address::parse(std::string_view ip, std::uint16_t port) {
  if (ip.empty() || ip.size() >= INET6_ADDRSTRLEN + IF_NAMESIZE + 1) return std::nullopt;
  std::string_view zone;
  if (std::size_t pct = ip.find('%'); pct != std::string_view::npos) {
    zone = ip.substr(pct + 1);
    ip = ip.substr(0, pct);
    if (zone.empty()) return std::nullopt;
  }
  char buf[INET6_ADDRSTRLEN + 1];
  if (ip.size() >= sizeof buf) return std::nullopt;
  std::memcpy(buf, ip.data(), ip.size());
  buf[ip.size()] = '\0';

  Address a;
  std::memset(a.storage_, 0, sizeof a.storage_);
  if (zone.empty()) {
    auto* in = reinterpret_cast<sockaddr_in*>(a.storage_);
    if (::inet_pton(AF_INET, buf, &in->sin_addr) == 1) {
      in->sin_family = AF_INET;
      in->sin_port = htons(port);
      return a;
    }
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(a.storage_);
  if (::inet_pton(AF_INET6, buf, &in6->sin6_addr) != 1) return std::nullopt;
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port);
  if (!zone.empty()) {
    in6->sin6_scope_id = zone_index(zone);
    if (in6->sin6_scope_id == 0) return std::nullopt;  // no such interface
  }
  return a;
}

std::optional<Address> Address::from_native(const ::sockaddr* sa, std::size_t len) noexcept {
  if (sa == nullptr) return std::nullopt;
  Address a;
  std::memset(a.storage_, 0, sizeof a.storage_);
  if (sa->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
    std::memcpy(a.storage_, sa, sizeof(sockaddr_in));
    return a;
  }
  if (sa->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    std::memcpy(a.storage_, sa, sizeof(sockaddr_in6));
    return a;
  }
  return std::nullopt;
}

Family Address::family() const noexcept {
  return native_data()->sa_family == AF_INET6 ? Family::kIPv6 : Family::kIPv4;
}

std::string Address::ip() const {
  char buf[INET6_ADDRSTRLEN];
  if (is_ipv4()) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(storage_);
    ::inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    return buf;
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(storage_);
  ::inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
  std::string s = buf;
  if (in6->sin6_scope_id != 0) {
    char name[IF_NAMESIZE];
    const std::uint32_t idx = in6->sin6_scope_id;
    const bool named = goro::blocking([&] { return ::if_indextoname(idx, name) != nullptr; });
    s += '%';
    s += named ? std::string(name) : std::to_string(idx);
  }
  return s;
}

std::uint16_t Address::port() const noexcept {
  if (is_ipv4()) return ntohs(reinterpret_cast<const sockaddr_in*>(storage_)->sin_port);
  return ntohs(reinterpret_cast<const sockaddr_in6*>(storage_)->sin6_port);
}

void Address::set_port(std::uint16_t port) noexcept {
  if (is_ipv4()) {
    reinterpret_cast<sockaddr_in*>(storage_)->sin_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in6*>(storage_)->sin6_port = htons(port);
  }
}

std::uint32_t Address::scope_id() const noexcept {
  if (is_ipv4()) return 0;
  return reinterpret_cast<const sockaddr_in6*>(storage_)->sin6_scope_id;
}

bool Address::is_loopback() const noexcept {
  if (is_ipv4()) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(storage_);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  const in6_addr& a6 = reinterpret_cast<const sockaddr_in6*>(storage_)->sin6_addr;
  if (IN6_IS_ADDR_LOOPBACK(&a6)) return true;
  return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
}

bool Address::is_unspecified() const noexcept {
  if (is_ipv4()) {
    return reinterpret_cast<const sockaddr_in*>(storage_)->sin_addr.s_addr == INADDR_ANY;
  }
  const in6_addr& a6 = reinterpret_cast<const sockaddr_in6*>(storage_)->sin6_addr;
  return IN6_IS_ADDR_UNSPECIFIED(&a6);
}

std::string Address::to_string() const {
  std::string s = is_ipv6() ? "[" + ip() + "]:" : ip() + ":";
  s += std::to_string(port());
  return s;
}

const ::sockaddr* Address::native_data() const noexcept {
  return reinterpret_cast<const ::sockaddr*>(storage_);
}

::sockaddr* Address::native_data() noexcept { return reinterpret_cast<::sockaddr*>(storage_); }

std::size_t Address::native_size() const noexcept {
  return is_ipv4() ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
}

bool operator==(const Address& a, const Address& b) noexcept {
  if (a.family() != b.family() || a.port() != b.port()) return false;
  if (a.is_ipv4()) {
    return reinterpret_cast<const sockaddr_in*>(a.storage_)->sin_addr.s_addr ==
           reinterpret_cast<const sockaddr_in*>(b.storage_)->sin_addr.s_addr;
  }
  const auto* x = reinterpret_cast<const sockaddr_in6*>(a.storage_);
  const auto* y = reinterpret_cast<const sockaddr_in6*>(b.storage_);
  return std::memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0 &&
         x->sin6_scope_id == y->sin6_scope_id;
}

}  // namespace goro::net

// resolve.cpp — goro::net::resolve: names to addresses on getaddrinfo(3).
//
// The problem: getaddrinfo may read /etc/hosts and /etc/services, load NSS modules and
// wait seconds for a name server; it has no non-blocking form (glibc's getaddrinfo_a
// runs it on a thread of its own and signals completion, which the netpoller does not
// exist yet to receive). Approaches:
//  - our own DNS client on the netpoller (Go's pure-Go resolver): no thread per lookup,
//    but a second implementation of /etc/nsswitch.conf, /etc/hosts, search domains,
//    ndots, EDNS... — and it disagrees with the system's resolver at the edges;
//  - a thread pool running getaddrinfo, woken per lookup: an extra wake-up per lookup
//    and one more place that owns threads;
//  - Go's cgo resolver: call getaddrinfo on the goroutine's thread, inside
//    entersyscallblock, which hands the P to another M at once.
// goro takes the last: goro::blocking_long() (syscall.cpp). A lookup costs a thread while
// it runs, exactly as in Go with the cgo resolver; the Ms are parked and reused after.
//
// Literals skip all of that: an IP literal with a numeric port is parsed with inet_pton
// (Address::parse), no system call at all; a literal with a service name asks
// getaddrinfo(AI_NUMERICHOST), which does not touch DNS, through the ordinary fast path.
//
// errno (for EAI_SYSTEM) is per thread and the goroutine may come back on another M, so
// it is read inside the blocking callable.
#include <goro/core/blocking.hpp>
#include <goro/net/resolve.hpp>

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <string>

namespace goro::net {

namespace {

class GaiCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "getaddrinfo"; }
  std::string message(int code) const override { return ::gai_strerror(code); }
  std::error_condition default_error_condition(int code) const noexcept override {
    switch (code) {
      case EAI_NONAME:
        return ResolveErrc::kHostNotFound;
#ifdef EAI_NODATA
      case EAI_NODATA:
        return ResolveErrc::kNoAddress;
#endif
#ifdef EAI_ADDRFAMILY
      case EAI_ADDRFAMILY:
        return ResolveErrc::kNoAddress;
#endif
      case EAI_AGAIN:
        return ResolveErrc::kTryAgain;
      case EAI_FAIL:
        return ResolveErrc::kFailure;
      case EAI_SERVICE:
        return ResolveErrc::kServiceNotFound;
      case EAI_MEMORY:
        return std::errc::not_enough_memory;
      default:
        return ResolveErrc::kOther;
    }
  }
};

class ResolveCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "goro.resolve"; }
  std::string message(int cond) const override {
    switch (static_cast<ResolveErrc>(cond)) {
      case ResolveErrc::kHostNotFound:
        return "no such host";
      case ResolveErrc::kNoAddress:
        return "host has no address";
      case ResolveErrc::kTryAgain:
        return "temporary failure in name resolution";
      case ResolveErrc::kFailure:
        return "non-recoverable failure in name resolution";
      case ResolveErrc::kServiceNotFound:
        return "unknown service";
      case ResolveErrc::kOther:
        return "name resolution failed";
    }
    return "unknown resolve condition";
  }
};

// A port number, or nullopt if service is not all digits up to 65535. Empty is port 0.
std::optional<std::uint16_t> numeric_port(std::string_view service) noexcept {
  if (service.empty()) return 0;
  unsigned v = 0;
  auto [end, ec] = std::from_chars(service.data(), service.data() + service.size(), v);
  if (ec != std::errc() || end != service.data() + service.size() || v > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(v);
}

struct GaiResult {
  int rc;   // getaddrinfo's return value
  int err;  // errno, for EAI_SYSTEM
  addrinfo* list;
};

std::vector<Address> collect(const addrinfo* list) {
  std::vector<Address> out;
  for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    std::optional<Address> a = Address::from_native(ai->ai_addr, ai->ai_addrlen);
    if (a && std::find(out.begin(), out.end(), *a) == out.end()) out.push_back(*a);
  }
  return out;
}

}  // namespace

const std::error_category& gai_category() noexcept {
  static const GaiCategory c;
  return c;
}

const std::error_category& resolve_category() noexcept {
  static const ResolveCategory c;
  return c;
}

std::vector<Address> resolve(std::string_view host, std::string_view service, std::error_code& ec) {
  ec.clear();
  const std::optional<std::uint16_t> port = numeric_port(service);
  // Literal and number: nothing to look up.
  std::optional<Address> literal;
  if (!host.empty()) literal = Address::parse(host, port.value_or(0));
  if (literal && port) return {*literal};

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;  // one entry per address, not one per socket type
  if (port) hints.ai_flags |= AI_NUMERICSERV;
  if (literal) hints.ai_flags |= AI_NUMERICHOST;

  const std::string h(host);
  // getaddrinfo(NULL, NULL) is an error; an empty service means port 0.
  const std::string s = service.empty() ? std::string("0") : std::string(service);
  const char* hp = host.empty() ? nullptr : h.c_str();
  auto call = [&]() -> GaiResult {
    addrinfo* list = nullptr;
    int rc = ::getaddrinfo(hp, s.c_str(), &hints, &list);
    return {rc, rc == EAI_SYSTEM ? errno : 0, list};
  };
  // A literal's lookup never leaves the machine: the fast path. A name may wait on DNS:
  // hand the P off at once.
  GaiResult r = literal ? goro::blocking(call) : goro::blocking_long(call);
  if (r.rc != 0) {
    if (r.rc == EAI_SYSTEM) {
      ec.assign(r.err != 0 ? r.err : EIO, std::system_category());
    } else {
      ec.assign(r.rc, gai_category());
    }
    return {};
  }
  std::vector<Address> out;
  try {
    out = collect(r.list);
  } catch (...) {
    ::freeaddrinfo(r.list);
    throw;
  }
  ::freeaddrinfo(r.list);
  if (out.empty()) ec.assign(EAI_NONAME, gai_category());  // only non-IP families came back
  return out;
}

std::vector<Address> resolve(std::string_view host, std::string_view service) {
  std::error_code ec;
  std::vector<Address> out = resolve(host, service, ec);
  if (ec) {
    std::string what = "lookup ";
    what += host.empty() ? std::string_view("(local host)") : host;
    if (!service.empty() && ec == ResolveErrc::kServiceNotFound) {
      what += " service ";
      what += service;
    }
    throw std::system_error(ec, what);
  }
  return out;
}

}  // namespace goro::net

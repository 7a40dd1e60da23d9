// tcp.cpp — goro::net::Conn, Listener, listen and dial (goro/net/tcp.hpp) on the Fd of
// fd.hpp (Go: net/tcpsock.go, tcpsock_posix.go, sock_posix.go, fd_unix.go's connect,
// sockopt_linux.go, tcpsockopt_unix.go).
#include <goro/net/tcp.hpp>

#include <goro/core/runtime.hpp>
#include <goro/core/select.hpp>
#include <goro/net/resolve.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "conn_access.hpp"
#include "fd.hpp"

namespace goro::net {

static_assert(sizeof(ConstBuffer) == sizeof(struct iovec) &&
                  offsetof(ConstBuffer, data) == offsetof(struct iovec, iov_base) &&
                  offsetof(ConstBuffer, size) == offsetof(struct iovec, iov_len),
              "ConstBuffer must be laid out as struct iovec");

namespace {

using detail::Fd;

std::error_code errno_code(int e) noexcept { return {e, std::system_category()}; }

[[noreturn]] void throw_error(const std::error_code& ec, const char* what) {
  throw std::system_error(ec, what);
}

// A Clock::time_point as the poller's deadline: 0 none, -1 passed, else nanotime.
std::int64_t deadline_ns(Clock::time_point t) noexcept {
  if (t == kNoDeadline) return 0;
  std::int64_t ns = goro::detail::to_nanotime(t);
  if (ns <= goro::detail::nanotime()) return -1;
  return ns;
}

// Go: maxListenerBacklog.
int max_backlog() noexcept {
  static const int n = [] {
    int v = SOMAXCONN;
    if (std::FILE* f = std::fopen("/proc/sys/net/core/somaxconn", "re")) {
      int x = 0;
      if (std::fscanf(f, "%d", &x) == 1 && x > 0) v = x;
      std::fclose(f);
    }
    return std::min(v, 65535);
  }();
  return n;
}

void set_keepalive_on(Fd* fd, Duration period, std::error_code& ec) noexcept {
  fd->setsockopt(SOL_SOCKET, SO_KEEPALIVE, 1, ec);
  if (ec) return;
  if (period <= Duration::zero()) return;
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(
                  period + std::chrono::nanoseconds(999'999'999))
                  .count();
  int s = static_cast<int>(std::clamp<std::int64_t>(secs, 1, 32767));
  fd->setsockopt(IPPROTO_TCP, TCP_KEEPINTVL, s, ec);
  if (ec) return;
  fd->setsockopt(IPPROTO_TCP, TCP_KEEPIDLE, s, ec);
}

// Go's defaults for a new connection: no Nagle, keep-alive every 15 s (keep_alive < 0:
// off). Failures here are ignored, as Go does.
void set_conn_defaults(Fd* fd, Duration keep_alive) noexcept {
  std::error_code ignored;
  fd->setsockopt(IPPROTO_TCP, TCP_NODELAY, 1, ignored);
  fd->enable_quiet_reads();
  if (keep_alive < Duration::zero()) return;
  if (keep_alive == Duration::zero()) keep_alive = std::chrono::seconds(15);
  set_keepalive_on(fd, keep_alive, ignored);
}

Fd* new_fd(int s, std::error_code& ec) noexcept {
  Fd* fd = new (std::nothrow) Fd(s, ec);
  if (fd == nullptr) {
    ::close(s);
    ec = std::make_error_code(std::errc::not_enough_memory);
    return nullptr;
  }
  if (ec) {
    fd->release_owner();
    return nullptr;
  }
  return fd;
}

bool parse_port(std::string_view s, std::uint16_t& port) noexcept {
  if (s.empty()) return false;
  unsigned v = 0;
  auto [end, err] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (err != std::errc() || end != s.data() + s.size() || v > 65535) return false;
  port = static_cast<std::uint16_t>(v);
  return true;
}

}  // namespace

bool split_host_port(std::string_view hp, std::string_view& host, std::string_view& port) {
  if (hp.empty()) return false;
  if (hp.front() == '[') {
    std::size_t close = hp.find(']');
    if (close == std::string_view::npos || close + 1 >= hp.size() || hp[close + 1] != ':')
      return false;
    host = hp.substr(1, close - 1);
    port = hp.substr(close + 2);
    return host.find('[') == std::string_view::npos && port.find(':') == std::string_view::npos;
  }
  std::size_t colon = hp.rfind(':');
  if (colon == std::string_view::npos) return false;
  host = hp.substr(0, colon);
  port = hp.substr(colon + 1);
  // An IPv6 literal must be bracketed: "::1:80" is ambiguous.
  return host.find(':') == std::string_view::npos && port.find(']') == std::string_view::npos;
}

// --- Conn --------------------------------------------------------------------------------

Conn::Conn(Conn&& o) noexcept : fd_(std::exchange(o.fd_, nullptr)) {}

Conn& Conn::operator=(Conn&& o) noexcept {
  if (this != &o) {
    if (fd_ != nullptr) fd_->release_owner();  // closes it
    fd_ = std::exchange(o.fd_, nullptr);
  }
  return *this;
}

Conn::~Conn() {
  if (fd_ != nullptr) fd_->release_owner();
}

bool Conn::is_open() const noexcept { return fd_ != nullptr && !fd_->closed(); }

std::size_t Conn::read(void* data, std::size_t size, std::error_code& ec) noexcept {
  if (fd_ == nullptr) {
    ec = Errc::kClosed;
    return 0;
  }
  return fd_->read(data, size, ec);
}

void Conn::wait_readable(std::error_code& ec) noexcept {
  if (fd_ == nullptr) {
    ec = Errc::kClosed;
    return;
  }
  fd_->wait_read(ec);
}

std::size_t Conn::read(void* data, std::size_t size) {
  std::error_code ec;
  std::size_t n = read(data, size, ec);
  if (ec && ec != Errc::kEof) throw_error(ec, "read");
  return n;
}

std::size_t Conn::read_full(void* data, std::size_t size, std::error_code& ec) noexcept {
  auto* p = static_cast<char*>(data);
  std::size_t got = 0;
  ec.clear();
  while (got < size) {
    got += read(p + got, size - got, ec);
    if (ec) {
      if (ec == Errc::kEof && got > 0) ec = Errc::kUnexpectedEof;
      return got;
    }
  }
  return got;
}

std::size_t Conn::read_full(void* data, std::size_t size) {
  std::error_code ec;
  std::size_t n = read_full(data, size, ec);
  if (ec == Errc::kEof) return 0;
  if (ec) throw_error(ec, "read");
  return n;
}

std::size_t Conn::write(const void* data, std::size_t size, std::error_code& ec) noexcept {
  if (fd_ == nullptr) {
    ec = Errc::kClosed;
    return 0;
  }
  return fd_->write(data, size, ec);
}

std::size_t Conn::write(const void* data, std::size_t size) {
  std::error_code ec;
  std::size_t n = write(data, size, ec);
  if (ec) throw_error(ec, "write");
  return n;
}

std::size_t Conn::write(std::span<const ConstBuffer> buffers, std::error_code& ec) noexcept {
  if (fd_ == nullptr) {
    ec = Errc::kClosed;
    return 0;
  }
  return fd_->writev(reinterpret_cast<const struct iovec*>(buffers.data()), buffers.size(), ec);
}

std::size_t Conn::write(std::span<const ConstBuffer> buffers) {
  std::error_code ec;
  std::size_t n = write(buffers, ec);
  if (ec) throw_error(ec, "write");
  return n;
}

void Conn::close(std::error_code& ec) noexcept {
  if (fd_ == nullptr) {
    ec = Errc::kClosed;
    return;
  }
  fd_->close(ec);
}

void Conn::close() {
  std::error_code ec;
  close(ec);
  if (ec) throw_error(ec, "close");
}

void Conn::shutdown_write(std::error_code& ec) noexcept {
  if (fd_ == nullptr) {
    ec = Errc::kClosed;
    return;
  }
  fd_->shutdown(SHUT_WR, ec);
}

void Conn::shutdown_write() {
  std::error_code ec;
  shutdown_write(ec);
  if (ec) throw_error(ec, "shutdown");
}

void Conn::shutdown_read(std::error_code& ec) noexcept {
  if (fd_ == nullptr) {
    ec = Errc::kClosed;
    return;
  }
  fd_->shutdown(SHUT_RD, ec);
}

void Conn::shutdown_read() {
  std::error_code ec;
  shutdown_read(ec);
  if (ec) throw_error(ec, "shutdown");
}

Address Conn::local_address() const {
  if (fd_ == nullptr) throw_error(Errc::kClosed, "getsockname");
  Address a;
  std::error_code ec;
  if (!fd_->local_address(a, ec)) throw_error(ec, "getsockname");
  return a;
}

Address Conn::remote_address() const {
  if (fd_ == nullptr) throw_error(Errc::kClosed, "getpeername");
  return fd_->remote;
}

void Conn::set_nodelay(bool on, std::error_code& ec) noexcept {
  if (fd_ == nullptr) {
    ec = Errc::kClosed;
    return;
  }
  fd_->setsockopt(IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0, ec);
}

void Conn::set_nodelay(bool on) {
  std::error_code ec;
  set_nodelay(on, ec);
  if (ec) throw_error(ec, "setsockopt");
}

void Conn::set_keepalive(bool on, Duration period, std::error_code& ec) noexcept {
  if (fd_ == nullptr) {
    ec = Errc::kClosed;
    return;
  }
  if (!on) {
    fd_->setsockopt(SOL_SOCKET, SO_KEEPALIVE, 0, ec);
    return;
  }
  set_keepalive_on(fd_, period, ec);
}

void Conn::set_keepalive(bool on, Duration period) {
  std::error_code ec;
  set_keepalive(on, period, ec);
  if (ec) throw_error(ec, "setsockopt");
}

void Conn::set_linger(bool on, std::chrono::seconds timeout, std::error_code& ec) noexcept {
  if (fd_ == nullptr) {
    ec = Errc::kClosed;
    return;
  }
  struct linger l {
    on ? 1 : 0, static_cast<int>(std::max<std::int64_t>(0, timeout.count()))
  };
  fd_->setsockopt(SOL_SOCKET, SO_LINGER, &l, sizeof l, ec);
}

void Conn::set_linger(bool on, std::chrono::seconds timeout) {
  std::error_code ec;
  set_linger(on, timeout, ec);
  if (ec) throw_error(ec, "setsockopt");
}

void Conn::set_deadline(Clock::time_point t) noexcept {
  if (fd_ != nullptr) fd_->set_deadline(deadline_ns(t), detail::kReadWrite);
}

void Conn::set_read_deadline(Clock::time_point t) noexcept {
  if (fd_ != nullptr) fd_->set_deadline(deadline_ns(t), detail::kRead);
}

void Conn::set_write_deadline(Clock::time_point t) noexcept {
  if (fd_ != nullptr) fd_->set_deadline(deadline_ns(t), detail::kWrite);
}

int Conn::native_handle() const noexcept {
  return fd_ != nullptr && !fd_->closed() ? fd_->sysfd() : -1;
}

Conn Conn::adopt(int s, std::error_code& ec) noexcept {
  Fd* fd = new_fd(s, ec);
  if (fd == nullptr) return Conn();
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (::getpeername(s, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    detail::address_from_native(reinterpret_cast<sockaddr*>(&ss), len, fd->remote);
  }
  return Conn(fd);
}

Conn Conn::adopt(int s) {
  std::error_code ec;
  Conn c = adopt(s, ec);
  if (ec) throw_error(ec, "adopt");
  return c;
}

// --- Listener ----------------------------------------------------------------------------

Listener::Listener(Listener&& o) noexcept
    : fd_(std::exchange(o.fd_, nullptr)), local_(o.local_), keep_alive_(o.keep_alive_) {}

Listener& Listener::operator=(Listener&& o) noexcept {
  if (this != &o) {
    if (fd_ != nullptr) fd_->release_owner();
    fd_ = std::exchange(o.fd_, nullptr);
    local_ = o.local_;
    keep_alive_ = o.keep_alive_;
  }
  return *this;
}

Listener::~Listener() {
  if (fd_ != nullptr) fd_->release_owner();
}

bool Listener::is_open() const noexcept { return fd_ != nullptr && !fd_->closed(); }

Conn Listener::accept(std::error_code& ec) noexcept {
  if (fd_ == nullptr) {
    ec = Errc::kClosed;
    return Conn();
  }
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int s = fd_->accept(reinterpret_cast<sockaddr*>(&ss), &len, ec);
  if (s < 0) return Conn();
  Fd* fd = new_fd(s, ec);
  if (fd == nullptr) return Conn();
  detail::address_from_native(reinterpret_cast<sockaddr*>(&ss), len, fd->remote);
  set_conn_defaults(fd, keep_alive_);
  return Conn(fd);
}

Conn Listener::accept() {
  std::error_code ec;
  Conn c = accept(ec);
  if (ec) throw_error(ec, "accept");
  return c;
}

void Listener::close(std::error_code& ec) noexcept {
  if (fd_ == nullptr) {
    ec = Errc::kClosed;
    return;
  }
  fd_->close(ec);
}

void Listener::close() {
  std::error_code ec;
  close(ec);
  if (ec) throw_error(ec, "close");
}

void Listener::set_deadline(Clock::time_point t) noexcept {
  if (fd_ != nullptr) fd_->set_deadline(deadline_ns(t), detail::kRead);
}

int Listener::native_handle() const noexcept {
  return fd_ != nullptr && !fd_->closed() ? fd_->sysfd() : -1;
}

// --- listen ------------------------------------------------------------------------------

Listener listen(const Address& addr, const ListenOptions& opts, std::error_code& ec) noexcept {
  int family = addr.is_ipv6() ? AF_INET6 : AF_INET;
  int s = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (s < 0) {
    ec = errno_code(errno);
    return Listener();
  }
  int one = 1;
  // Go sets SO_REUSEADDR on listeners: a restarted server can bind while old
  // connections sit in TIME_WAIT.
  ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (opts.reuse_port && ::setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    ec = errno_code(errno);
    ::close(s);
    return Listener();
  }
  if (addr.is_ipv6()) {
    // A specific IPv6 address listens on IPv6 only; the wildcard (from ":port") on both.
    int v6only = addr.is_unspecified() ? 0 : 1;
    ::setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
  }
  if (::bind(s, addr.native_data(), static_cast<socklen_t>(addr.native_size())) != 0) {
    ec = errno_code(errno);
    ::close(s);
    return Listener();
  }
  int backlog = opts.backlog > 0 ? opts.backlog : max_backlog();
  if (::listen(s, backlog) != 0) {
    ec = errno_code(errno);
    ::close(s);
    return Listener();
  }
  Fd* fd = new_fd(s, ec);
  if (fd == nullptr) return Listener();
  Address local = addr;
  if (!fd->local_address(local, ec)) {
    fd->release_owner();
    return Listener();
  }
  ec.clear();
  return detail::ConnAccess::make_listener(fd, local, opts.keep_alive);
}

Listener listen(const Address& addr, const ListenOptions& opts) {
  std::error_code ec;
  Listener l = listen(addr, opts, ec);
  if (ec) throw_error(ec, ("listen tcp " + addr.to_string()).c_str());
  return l;
}

Listener listen(std::string_view host_port, const ListenOptions& opts, std::error_code& ec) {
  std::string_view host, service;
  if (!split_host_port(host_port, host, service)) {
    ec = std::make_error_code(std::errc::invalid_argument);
    return Listener();
  }
  std::uint16_t port = 0;
  if (host.empty()) {
    // Every address of the machine: IPv6's wildcard, which takes IPv4 too, if the
    // system has IPv6; else IPv4's.
    if (!parse_port(service, port)) {
      std::vector<Address> a = resolve("0.0.0.0", service, ec);
      if (ec) return Listener();
      if (a.empty()) {
        ec = std::make_error_code(std::errc::invalid_argument);
        return Listener();
      }
      port = a.front().port();
    }
    Listener l = listen(*Address::parse("::", port), opts, ec);
    if (!ec) return l;
    if (ec != std::errc::address_family_not_supported) return Listener();
    return listen(*Address::parse("0.0.0.0", port), opts, ec);
  }
  if (parse_port(service, port)) {
    if (auto a = Address::parse(host, port)) return listen(*a, opts, ec);
  }
  std::vector<Address> addrs = resolve(host, service, ec);
  if (ec) return Listener();
  if (addrs.empty()) {
    ec = std::make_error_code(std::errc::address_not_available);
    return Listener();
  }
  // Go listens on the first address, preferring IPv4 for a name with both.
  auto it = std::find_if(addrs.begin(), addrs.end(), [](const Address& a) { return a.is_ipv4(); });
  return listen(it != addrs.end() ? *it : addrs.front(), opts, ec);
}

Listener listen(std::string_view host_port, const ListenOptions& opts) {
  std::error_code ec;
  Listener l = listen(host_port, opts, ec);
  if (ec) throw_error(ec, ("listen tcp " + std::string(host_port)).c_str());
  return l;
}

// --- dial --------------------------------------------------------------------------------

namespace {

// The context's deadline, and the option's timeout, as one poller deadline (0: none).
std::int64_t dial_deadline(const DialOptions& opts) noexcept {
  std::int64_t d = 0;
  if (opts.timeout > Duration::zero()) d = goro::detail::nanotime() + opts.timeout.count();
  if (auto cd = opts.context.deadline()) {
    std::int64_t c = deadline_ns(*cd);
    if (c < 0) return -1;
    if (c != 0 && (d == 0 || c < d)) d = c;
  }
  return d;
}

// Go: netFD.connect, including its "interrupter" goroutine that turns a cancelled
// context into a write deadline in the past.
void connect_and_wait(Fd* fd, std::int64_t deadline, const Context& ctx,
                      std::error_code& ec) noexcept {
  fd->set_deadline(deadline, detail::kWrite);
  Chan<Signal> done = ctx.done();
  if (!done || !goro::in_goroutine()) {
    fd->wait_connect(ec);
  } else {
    try {
      Chan<Signal> finished(0);
      Chan<bool> interrupted(1);
      goro::go([fd, done, finished, interrupted]() mutable {
        bool hit = false;
        goro::select(goro::recv(done, [&] { hit = true; }), goro::recv(finished));
        if (hit) fd->set_deadline(-1, detail::kWrite);  // wakes wait_connect
        interrupted.send(hit);
      });
      fd->wait_connect(ec);
      finished.close();
      // Wait for the interrupter: it touches fd, which may be closed right after this.
      std::optional<bool> hit = interrupted.recv();
      if (hit && *hit) ec = ctx.err();  // cancelled, even if the connect won the race
    } catch (...) {
      ec = std::make_error_code(std::errc::not_enough_memory);
    }
  }
  if (!ec) fd->set_deadline(0, detail::kWrite);
  if (ec == Errc::kTimeout && ctx.err()) ec = ctx.err();
}

Conn dial_one(const Address& addr, const DialOptions& opts, std::int64_t deadline,
              std::error_code& ec) noexcept {
  if (std::error_code cerr = opts.context.err()) {
    ec = cerr;
    return Conn();
  }
  if (deadline < 0) {
    ec = Errc::kTimeout;
    return Conn();
  }
  int family = addr.is_ipv6() ? AF_INET6 : AF_INET;
  int s = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (s < 0) {
    ec = errno_code(errno);
    return Conn();
  }
  if (opts.local && ::bind(s, opts.local->native_data(),
                           static_cast<socklen_t>(opts.local->native_size())) != 0) {
    ec = errno_code(errno);
    ::close(s);
    return Conn();
  }
  int r = ::connect(s, addr.native_data(), static_cast<socklen_t>(addr.native_size()));
  int err = r == 0 ? 0 : errno;
  if (err != 0 && err != EINPROGRESS && err != EALREADY && err != EINTR && err != EISCONN) {
    ::close(s);
    ec = errno_code(err);
    return Conn();
  }
  Fd* fd = new_fd(s, ec);  // registered after connect(2), as Go does: no stale edge
  if (fd == nullptr) return Conn();
  if (err == EINPROGRESS || err == EALREADY || err == EINTR) {
    connect_and_wait(fd, deadline, opts.context, ec);
    if (ec) {
      fd->release_owner();
      return Conn();
    }
  }
  fd->remote = addr;
  set_conn_defaults(fd, opts.keep_alive);
  ec.clear();
  return detail::ConnAccess::make(fd);
}

}  // namespace

Conn dial(const Address& addr, const DialOptions& opts, std::error_code& ec) noexcept {
  return dial_one(addr, opts, dial_deadline(opts), ec);
}

Conn dial(const Address& addr, const DialOptions& opts) {
  std::error_code ec;
  Conn c = dial(addr, opts, ec);
  if (ec) throw_error(ec, ("dial tcp " + addr.to_string()).c_str());
  return c;
}

Conn dial(const Address& addr, Duration timeout, std::error_code& ec) noexcept {
  DialOptions o;
  o.timeout = timeout;
  return dial(addr, o, ec);
}

Conn dial(const Address& addr, Duration timeout) {
  DialOptions o;
  o.timeout = timeout;
  return dial(addr, o);
}

Conn dial(const Address& addr, const Context& ctx, std::error_code& ec) noexcept {
  DialOptions o;
  o.context = ctx;
  return dial(addr, o, ec);
}

Conn dial(const Address& addr, const Context& ctx) {
  DialOptions o;
  o.context = ctx;
  return dial(addr, o);
}

Conn dial(std::string_view host_port, const DialOptions& opts, std::error_code& ec) {
  std::string_view host, service;
  if (!split_host_port(host_port, host, service)) {
    ec = std::make_error_code(std::errc::invalid_argument);
    return Conn();
  }
  std::int64_t deadline = dial_deadline(opts);
  std::vector<Address> addrs;
  std::uint16_t port = 0;
  if (parse_port(service, port) && !host.empty()) {
    if (auto a = Address::parse(host, port)) addrs.push_back(*a);
  }
  if (addrs.empty()) {
    addrs = resolve(host, service, ec);  // an empty host is the local machine
    if (ec) return Conn();
  }
  if (addrs.empty()) {
    ec = std::make_error_code(std::errc::address_not_available);
    return Conn();
  }
  // Go's dialSerial: each address in turn; the first error is the one reported.
  std::error_code first;
  for (const Address& a : addrs) {
    Conn c = dial_one(a, opts, deadline, ec);
    if (!ec) return c;
    if (!first) first = ec;
    if (ec == Errc::kTimeout || opts.context.err()) break;  // no time left for the rest
  }
  ec = first;
  return Conn();
}

Conn dial(std::string_view host_port, const DialOptions& opts) {
  std::error_code ec;
  Conn c = dial(host_port, opts, ec);
  if (ec) throw_error(ec, ("dial tcp " + std::string(host_port)).c_str());
  return c;
}

}  // namespace goro::net

// goro/net/tcp.hpp — TCP connections and listeners for goroutines (Go's net.TCPConn,
// net.TCPListener, net.Dial, net.Listen).
//
//   goro::run([] {
//     goro::net::Listener ln = goro::net::listen(":8080");
//     for (;;) {
//       goro::net::Conn c = ln.accept();
//       goro::go([c = std::move(c)]() mutable {        // one goroutine per connection
//         char buf[4096];
//         while (std::size_t n = c.read(buf, sizeof buf)) c.write(buf, n);  // 0: EOF
//       });
//     }
//   });
//
// Every call that would block parks the calling goroutine, never its thread: the socket
// is non-blocking, and on EAGAIN the goroutine waits in the runtime's network poller
// (Asio's reactor: epoll on Linux) until the descriptor is ready, a deadline passes, or
// another goroutine closes it. Called from a thread outside the runtime (or outside any
// run()), the same calls block that thread instead. Sockets may outlive a run() and be
// used in the next one; but when run() returns, goroutines still parked are abandoned
// (see goro/core/runtime.hpp), and a socket one of them was reading or writing keeps
// that call's reference forever: closing it would wait for ever. Let such goroutines
// finish (close the socket from another goroutine) before run() returns.
//
// Errors, Asio's convention: each call has an overload taking std::error_code& (never
// throws for I/O failures) and one that throws std::system_error. The codes are errno
// values (ECONNREFUSED, ECONNRESET, EPIPE, ...) and goro::net::Errc (error.hpp): kEof at
// the end of the stream (the throwing read() returns 0 instead), kTimeout when a
// deadline passed, kClosed on a closed connection.
//
// Concurrency: a Conn may be used by several goroutines at once; the useful pattern is
// one goroutine reading while another writes. Reads are serialized with each other, and
// so are writes (a write() of a whole buffer is never interleaved with another). close()
// may be called from any goroutine: one parked in read/write/accept on the same object
// returns Errc::kClosed at once, and close() returns once the descriptor is closed. As
// for any C++ object, a Conn must outlive every call on it (destroy it only after the
// other goroutines are done with it).
//
// Deadlines (Go's SetDeadline): an absolute time after which reads (or writes) fail
// with Errc::kTimeout, including one parked at that moment; setting a deadline while a
// goroutine is parked takes effect for it. kNoDeadline clears it. A deadline applies to
// all later calls, not just the next one: extend it (e.g. before each request) to keep
// a connection alive. Once a read timed out, reads keep failing until the deadline is
// moved.
//
// Defaults as Go's: TCP_NODELAY on; TCP keep-alive probes every 15 s on dialed and
// accepted connections (set_keepalive / keep_alive options to change it); listeners
// set SO_REUSEADDR. Descriptors are close-on-exec. Writes never raise SIGPIPE.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>

#include <goro/core/context.hpp>
#include <goro/core/time.hpp>
#include <goro/net/address.hpp>
#include <goro/net/error.hpp>

namespace goro::net {

namespace detail {
class Fd;
struct ConnAccess;
}  // namespace detail

// "No deadline" for set_deadline and friends.
inline constexpr Clock::time_point kNoDeadline = Clock::time_point::max();

// One piece of a vectored write; laid out like struct iovec, so an array of them is
// passed to sendmsg(2) as it is.
struct ConstBuffer {
  const void* data = nullptr;
  std::size_t size = 0;
};

// A TCP connection. Movable, not copyable; the destructor closes it.
class Conn {
 public:
  Conn() noexcept = default;  // not connected: every call fails with Errc::kClosed
  Conn(Conn&& o) noexcept;
  Conn& operator=(Conn&& o) noexcept;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn();

  // Whether this holds a connection that has not been closed.
  bool is_open() const noexcept;
  explicit operator bool() const noexcept { return is_open(); }

  // Reads what is available, at most size bytes, waiting until at least one byte is.
  // At the end of the stream: 0, with ec = Errc::kEof (the throwing form returns 0).
  std::size_t read(void* data, std::size_t size, std::error_code& ec) noexcept;
  std::size_t read(void* data, std::size_t size);

  // Waits until a read would not wait — bytes or the end of the stream are there, or an
  // error — or until the read deadline passes (Errc::kTimeout) or the connection is
  // closed; reads nothing (never Errc::kEof: the read that follows reports it). A server
  // waits this way for a keep-alive connection's next request without holding a buffer.
  void wait_readable(std::error_code& ec) noexcept;

  // Reads exactly size bytes. If the stream ends first: Errc::kEof if nothing was read,
  // else Errc::kUnexpectedEof; returns the count read either way. The throwing form
  // returns 0 at a clean end of stream (nothing read) and throws on a partial one.
  std::size_t read_full(void* data, std::size_t size, std::error_code& ec) noexcept;
  std::size_t read_full(void* data, std::size_t size);

  // Writes all size bytes, waiting as needed; returns size, or on error the count
  // written before it.
  std::size_t write(const void* data, std::size_t size, std::error_code& ec) noexcept;
  std::size_t write(const void* data, std::size_t size);
  std::size_t write(std::string_view s, std::error_code& ec) noexcept {
    return write(s.data(), s.size(), ec);
  }
  std::size_t write(std::string_view s) { return write(s.data(), s.size()); }
  // Vectored: writes every buffer, in order, with as few system calls as the kernel
  // allows (sendmsg). Returns the total written.
  std::size_t write(std::span<const ConstBuffer> buffers, std::error_code& ec) noexcept;
  std::size_t write(std::span<const ConstBuffer> buffers);

  // Closes the connection (see the top of the file). Errc::kClosed if already closed.
  void close(std::error_code& ec) noexcept;
  void close();

  // Half close (shutdown(SHUT_WR)): the peer reads EOF; this side may still read.
  void shutdown_write(std::error_code& ec) noexcept;
  void shutdown_write();
  // shutdown(SHUT_RD).
  void shutdown_read(std::error_code& ec) noexcept;
  void shutdown_read();

  Address local_address() const;
  Address remote_address() const;

  // TCP_NODELAY (on by default): send small writes at once instead of coalescing them.
  void set_nodelay(bool on, std::error_code& ec) noexcept;
  void set_nodelay(bool on);
  // SO_KEEPALIVE; with a positive period, probes start after `period` idle and repeat
  // every `period` (TCP_KEEPIDLE, TCP_KEEPINTVL; whole seconds, at least 1).
  void set_keepalive(bool on, Duration period, std::error_code& ec) noexcept;
  void set_keepalive(bool on, Duration period = std::chrono::seconds(15));
  // SO_LINGER: with on and a zero timeout, close() resets the connection (RST).
  void set_linger(bool on, std::chrono::seconds timeout, std::error_code& ec) noexcept;
  void set_linger(bool on, std::chrono::seconds timeout);

  // Deadlines for reads, writes, or both (see the top of the file).
  void set_deadline(Clock::time_point t) noexcept;
  void set_read_deadline(Clock::time_point t) noexcept;
  void set_write_deadline(Clock::time_point t) noexcept;

  // The socket descriptor (-1 if none). It stays owned by the Conn.
  int native_handle() const noexcept;

  // Takes ownership of a connected, non-blocking stream socket descriptor.
  static Conn adopt(int fd, std::error_code& ec) noexcept;
  static Conn adopt(int fd);

 private:
  friend class Listener;
  friend struct detail::ConnAccess;
  explicit Conn(detail::Fd* fd) noexcept : fd_(fd) {}
  detail::Fd* fd_ = nullptr;
};

struct ListenOptions {
  // Queue length for connections not yet accepted; 0: the system's maximum
  // (/proc/sys/net/core/somaxconn), as Go does.
  int backlog = 0;
  // SO_REUSEPORT: several listeners on one port share its connections.
  bool reuse_port = false;
  // Keep-alive period of accepted connections; 0: 15 s; negative: off.
  Duration keep_alive{0};
};

// A listening TCP socket. Movable, not copyable; the destructor closes it.
class Listener {
 public:
  Listener() noexcept = default;
  Listener(Listener&& o) noexcept;
  Listener& operator=(Listener&& o) noexcept;
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener();

  bool is_open() const noexcept;
  explicit operator bool() const noexcept { return is_open(); }

  // Waits for the next connection. Errors: EMFILE/ENFILE when out of descriptors (the
  // connection stays queued: retry later), Errc::kClosed once closed, Errc::kTimeout
  // past the deadline.
  Conn accept(std::error_code& ec) noexcept;
  Conn accept();

  // Stops listening; a goroutine parked in accept() returns Errc::kClosed.
  void close(std::error_code& ec) noexcept;
  void close();

  // The bound address (with the port the system chose for port 0).
  Address local_address() const noexcept { return local_; }

  // Deadline for accept().
  void set_deadline(Clock::time_point t) noexcept;

  int native_handle() const noexcept;

 private:
  friend struct detail::ConnAccess;
  detail::Fd* fd_ = nullptr;
  Address local_;
  Duration keep_alive_{0};
};

// Listens on addr (port 0: any free port; see local_address()).
Listener listen(const Address& addr, const ListenOptions& opts, std::error_code& ec) noexcept;
Listener listen(const Address& addr, const ListenOptions& opts = {});
// Listens on "host:port": "127.0.0.1:8080", "[::1]:0", "localhost:8080", or ":8080" for
// every address of the machine (IPv6 and IPv4 both when the system allows it).
Listener listen(std::string_view host_port, const ListenOptions& opts, std::error_code& ec);
Listener listen(std::string_view host_port, const ListenOptions& opts = {});

struct DialOptions {
  // Gives up after this long (Errc::kTimeout); 0: only the system's own limit.
  Duration timeout{0};
  // Gives up when ctx is cancelled (its err(): ContextError::kCanceled) or its deadline
  // passes (ContextError::kDeadlineExceeded).
  Context context;
  // Keep-alive period; 0: 15 s; negative: off.
  Duration keep_alive{0};
  // Local address to bind before connecting (port 0: any).
  std::optional<Address> local;
};

// Connects to addr.
Conn dial(const Address& addr, const DialOptions& opts, std::error_code& ec) noexcept;
Conn dial(const Address& addr, const DialOptions& opts);
Conn dial(const Address& addr, Duration timeout, std::error_code& ec) noexcept;
Conn dial(const Address& addr, Duration timeout = Duration::zero());
Conn dial(const Address& addr, const Context& ctx, std::error_code& ec) noexcept;
Conn dial(const Address& addr, const Context& ctx);
// Connects to "host:port", trying each address the name resolves to, in order, until one
// answers (the timeout and context cover the whole attempt, lookup included).
Conn dial(std::string_view host_port, const DialOptions& opts, std::error_code& ec);
Conn dial(std::string_view host_port, const DialOptions& opts = {});

// Splits "host:port", "[v6]:port" or ":port" (Go's net.SplitHostPort); false if malformed.
bool split_host_port(std::string_view host_port, std::string_view& host, std::string_view& port);

}  // namespace goro::net

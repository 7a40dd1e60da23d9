// fd.hpp — a socket descriptor on the poller: reference counting, one reader and one
// writer at a time, close from any goroutine (Go: internal/poll.FD and fdMutex).
//
// Private to goro::net (tcp.cpp, serve.cpp, copy.cpp use it). Every operation:
//   1. takes the fdMutex: a reference (so close(2) waits for it) plus, for reads and
//      writes, the read or write lock, so each direction has one goroutine at a time —
//      the poller's wait slot holds only one; later callers queue on a semaphore;
//   2. tries the non-blocking system call, and on EAGAIN waits on the poller
//      (netpoll.hpp), then retries;
//   3. drops the lock and the reference; the last reference of a closed Fd closes the
//      descriptor (destroy()).
// close() marks the Fd closed (new operations fail with Errc::kClosed at once), wakes
// any goroutine parked on it (its operation fails with Errc::kClosed), and returns once
// the descriptor is really closed, i.e. once the operations in flight have let go.
//
// Lifetime: the owner (Conn, Listener) gives it up with release_owner(), which closes it
// and drops the owner's reference. A close() in progress holds a reference of its own,
// so the usual pattern is safe: goroutine A closes, B (the owner) wakes up because of it
// and destroys its Conn while A is still finishing close(); the Fd goes when A is done.
// Other calls take no such reference: as for any C++ object, the owner must not destroy
// it while one of them may be in progress.
#pragma once

#include <goro/core/detail/sema.hpp>
#include <goro/net/address.hpp>

#include <sys/socket.h>
#include <sys/uio.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <system_error>

#include "netpoll.hpp"

namespace goro::net::detail {

// Go: internal/poll.fdMutex. state packs, from bit 0: closed (1 bit), read lock (1),
// write lock (1), references (20 bits), read waiters (20), write waiters (20).
class FdMutex {
 public:
  // Go: incref. false if closed.
  bool incref() noexcept;
  // Go: increfAndClose. Marks closed and takes a reference; false if already closed.
  // Queued lockers are released (they see closed and fail).
  bool incref_and_close() noexcept;
  // Go: decref. true if this was the last reference of a closed Fd (call destroy).
  bool decref() noexcept;
  // Go: rwlock / rwunlock. rwlock takes a reference and the lock, queueing behind the
  // holder; false if closed. rwunlock returns what decref would.
  bool rwlock(bool read) noexcept;
  bool rwunlock(bool read) noexcept;

 private:
  std::atomic<std::uint64_t> state_{0};
  goro::detail::Sema rsema_;
  goro::detail::Sema wsema_;
};

class alignas(64) Fd {
 public:
  // Takes ownership of sysfd (non-blocking, close-on-exec) and registers it with the
  // poller. On failure the descriptor is closed and ec set; the Fd must then be deleted.
  Fd(int sysfd, std::error_code& ec) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  // The owner is done with it: closes it (if nobody has) and drops the owner's reference.
  void release_owner() noexcept;

  int sysfd() const noexcept { return sysfd_; }

  // Reads at most len bytes. 0 with Errc::kEof at the end of the stream.
  std::size_t read(void* buf, std::size_t len, std::error_code& ec) noexcept;
  // Waits until a read would not wait (bytes, the end of the stream or an error are
  // queued), or for the read deadline / a close (ec as read(), never kEof); reads nothing.
  void wait_read(std::error_code& ec) noexcept;
  // A TCP connection: has the poller watch for the peer's FIN (EPOLLRDHUP), so that a
  // short read() proves the socket empty and the next read() can wait at once instead
  // of trying a read that would return EAGAIN (see read() in fd.cpp). Call before the
  // Fd is shared; a failure only leaves that off.
  void enable_quiet_reads() noexcept;
  // Testing: whether the next read() waits before its system call (no read in flight).
  bool next_read_waits_first() const noexcept { return rquiet_; }
  // Writes all len bytes (a partial count with ec on failure).
  std::size_t write(const void* buf, std::size_t len, std::error_code& ec) noexcept;
  // Writes all bytes of iov[0..n) (sendmsg, MSG_NOSIGNAL); iov is not modified.
  std::size_t writev(const struct iovec* iov, std::size_t n, std::error_code& ec) noexcept;
  // splice(2) from this socket into a pipe's write end (empty on entry): at most max
  // bytes, waiting for data as read() does. 0 with Errc::kEof at the end of the stream.
  std::size_t splice_in(int pipe_w, std::size_t max, std::error_code& ec) noexcept;
  // splice(2) exactly n bytes from a pipe's read end into this socket, waiting as write()
  // does. Returns the bytes moved (n unless ec).
  std::size_t splice_out(int pipe_r, std::size_t n, std::error_code& ec) noexcept;
  // accept4; the new descriptor is non-blocking and close-on-exec. -1 with ec on error.
  int accept(sockaddr* sa, socklen_t* len, std::error_code& ec) noexcept;
  // After a connect(2) that returned EINPROGRESS: waits until it completes (or the write
  // deadline passes, or the Fd is closed).
  void wait_connect(std::error_code& ec) noexcept;

  // Go: FD.Close. Errc::kClosed if already closed.
  void close(std::error_code& ec) noexcept;
  // shutdown(2), setsockopt(2), getsockname(2) under a reference.
  void shutdown(int how, std::error_code& ec) noexcept;
  void setsockopt(int level, int name, int value, std::error_code& ec) noexcept {
    setsockopt(level, name, &value, sizeof value, ec);
  }
  void setsockopt(int level, int name, const void* value, socklen_t len,
                  std::error_code& ec) noexcept;
  bool local_address(Address& out, std::error_code& ec) noexcept;

  // deadline: monotonic ns, 0 none, < 0 passed (see netpoll.hpp).
  void set_deadline(std::int64_t deadline, PollMode mode) noexcept;

  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }

 private:
  ~Fd() = default;  // via release() only
  void release() noexcept {
    // acq_rel: the last one out sees every other holder's writes before deleting.
    if (life_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  void destroy() noexcept;
  void drop(bool last) noexcept {
    if (last) destroy();
  }
  void wait_destroyed() noexcept;
  // The start of read() and wait_read(), under the read lock: drops a stale readiness
  // notice and, if the last read left the socket empty (rquiet_), waits for the next
  // edge first (*waited = true). An error from the poller ends the operation.
  PollErr read_prelude(bool* waited) noexcept;
  // After a system call on the descriptor failed (errno set): true to try it again —
  // EINTR, or EAGAIN once the poller says the descriptor is ready (the goroutine parks
  // meanwhile); false with ec set (the errno, or closed / deadline from the poller).
  bool retry(PollMode mode, std::error_code& ec) noexcept;

  // Laid out by temperature: a read or write touches the first cache line only (the
  // descriptor, the quiet-read state, the poll descriptor, the mutex's state word).
  int sysfd_ = -1;
  // Short reads prove the socket empty (enable_quiet_reads), written before the Fd is shared.
  bool quiet_reads_ = false;
  // The last read() left the socket empty (see read()) and had loaded rquiet_edges_
  // (poll_read_edges) before its system call: the next read() may wait first. Guarded by
  // the read lock (mu_.rwlock(true)).
  bool rquiet_ = false;
  std::atomic<bool> closed_{false};  // mirror of the mutex's closed bit, for closed()
  std::uint32_t rquiet_edges_ = 0;
  // References to this object (not to the descriptor: that is mu_'s): the owner's, plus
  // one per close() in progress. atomic: relaxed increments, acq_rel decrements.
  std::atomic<int> life_{1};
  PollDesc* pd_ = nullptr;
  // The goroutine waiting in close() for destroy(), or kDestroyed (Go: fd.csema).
  // atomic: exchanged by destroy(), CASed by the waiter's park commit.
  std::atomic<std::uintptr_t> close_waiter_{0};
  FdMutex mu_;  // its state word first (offset 32), its semaphores after

 public:
  // Set once by whoever made the Fd (accept, dial). Declared last: cold.
  Address remote;
};

// A kernel socket address as an Address; an IPv4-mapped IPv6 address (what a dual-stack
// listener reports for IPv4 peers) becomes the IPv4 address, as Go shows it.
bool address_from_native(const sockaddr* sa, socklen_t len, Address& out) noexcept;

// Maps a poller result to an error code (kClosing -> Errc::kClosed, kTimeout ->
// Errc::kTimeout).
std::error_code poll_error(PollErr e) noexcept;

}  // namespace goro::net::detail

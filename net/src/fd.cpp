// fd.cpp — goro::net's socket descriptor (see fd.hpp; Go: internal/poll/fd_mutex.go,
// fd_unix.go, fd_poll_runtime.go).
#include "fd.hpp"

#include <goro/core/detail/park.hpp>
#include <goro/core/detail/sanitizers.hpp>
#include <goro/core/runtime.hpp>
#include <goro/net/error.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace goro::net::detail {

namespace {

[[noreturn]] void fatal(const char* msg) noexcept {
  std::fprintf(stderr, "goro: fatal error: net: %s\n", msg);
  std::fflush(stderr);
  std::abort();
}

// Go: fdMutex's layout.
constexpr std::uint64_t kClosed = 1ull << 0;
constexpr std::uint64_t kRLock = 1ull << 1;
constexpr std::uint64_t kWLock = 1ull << 2;
constexpr std::uint64_t kRef = 1ull << 3;
constexpr std::uint64_t kRefMask = ((1ull << 20) - 1) << 3;
constexpr std::uint64_t kRWait = 1ull << 23;
constexpr std::uint64_t kRMask = ((1ull << 20) - 1) << 23;
constexpr std::uint64_t kWWait = 1ull << 43;
constexpr std::uint64_t kWMask = ((1ull << 20) - 1) << 43;

// Go: maxRW. Linux reads and writes at most ~2 GiB at a time; stay well below.
constexpr std::size_t kMaxRW = 1 << 30;

constexpr std::uintptr_t kDestroyed = 1;

std::error_code errno_code(int e) noexcept { return {e, std::system_category()}; }

}  // namespace

bool address_from_native(const sockaddr* sa, socklen_t len, Address& out) noexcept {
  if (sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      sockaddr_in in{};
      in.sin_family = AF_INET;
      in.sin_port = in6->sin6_port;
      std::memcpy(&in.sin_addr, &in6->sin6_addr.s6_addr[12], 4);
      if (auto a = Address::from_native(reinterpret_cast<const sockaddr*>(&in), sizeof in)) {
        out = *a;
        return true;
      }
      return false;
    }
  }
  if (auto a = Address::from_native(sa, len)) {
    out = *a;
    return true;
  }
  return false;
}

std::error_code poll_error(PollErr e) noexcept {
  switch (e) {
    case PollErr::kNone:
      return {};
    case PollErr::kClosing:
      return Errc::kClosed;
    case PollErr::kTimeout:
      return Errc::kTimeout;
  }
  return Errc::kClosed;
}

// --- FdMutex ---------------------------------------------------------------------------
// All CASes acq_rel: the state word is the only synchronization between an operation and
// the close that waits for it (the closer must see the operation's writes, e.g. to the
// descriptor, before destroy()).

bool FdMutex::incref() noexcept {
  std::uint64_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    if (old & kClosed) return false;
    std::uint64_t next = old + kRef;
    if ((next & kRefMask) == 0) fatal("too many concurrent operations on one descriptor");
    if (state_.compare_exchange_weak(old, next, std::memory_order_acq_rel)) return true;
  }
}

bool FdMutex::incref_and_close() noexcept {
  std::uint64_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    if (old & kClosed) return false;
    // Mark closed, take a reference, and drop every queued locker from the counts.
    std::uint64_t next = (old | kClosed) + kRef;
    if ((next & kRefMask) == 0) fatal("too many concurrent operations on one descriptor");
    next &= ~(kRMask | kWMask);
    if (state_.compare_exchange_weak(old, next, std::memory_order_acq_rel)) {
      // Wake the queued lockers: they retry, see kClosed and fail.
      for (; old & kRMask; old -= kRWait) rsema_.release(false);
      for (; old & kWMask; old -= kWWait) wsema_.release(false);
      return true;
    }
  }
}

bool FdMutex::decref() noexcept {
  std::uint64_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    if ((old & kRefMask) == 0) fatal("inconsistent descriptor reference count");
    std::uint64_t next = old - kRef;
    if (state_.compare_exchange_weak(old, next, std::memory_order_acq_rel)) {
      return (next & (kClosed | kRefMask)) == kClosed;
    }
  }
}

bool FdMutex::rwlock(bool read) noexcept {
  const std::uint64_t bit = read ? kRLock : kWLock;
  const std::uint64_t wait = read ? kRWait : kWWait;
  const std::uint64_t mask = read ? kRMask : kWMask;
  goro::detail::Sema& sema = read ? rsema_ : wsema_;
  std::uint64_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    if (old & kClosed) return false;
    std::uint64_t next;
    if ((old & bit) == 0) {
      next = (old | bit) + kRef;  // free: take it
      if ((next & kRefMask) == 0) fatal("too many concurrent operations on one descriptor");
    } else {
      next = old + wait;  // held: queue
      if ((next & mask) == 0) fatal("too many goroutines waiting on one descriptor");
    }
    if (state_.compare_exchange_weak(old, next, std::memory_order_acq_rel)) {
      if ((old & bit) == 0) return true;
      sema.acquire(false, goro::detail::WaitReason::kIOWait);
      // The releaser took our wait count off; try again.
      old = state_.load(std::memory_order_relaxed);
    }
  }
}

bool FdMutex::rwunlock(bool read) noexcept {
  const std::uint64_t bit = read ? kRLock : kWLock;
  const std::uint64_t wait = read ? kRWait : kWWait;
  const std::uint64_t mask = read ? kRMask : kWMask;
  goro::detail::Sema& sema = read ? rsema_ : wsema_;
  std::uint64_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    if ((old & bit) == 0 || (old & kRefMask) == 0) fatal("inconsistent descriptor lock");
    // Drop the lock and the reference, and hand a wake-up to one queued locker.
    std::uint64_t next = (old & ~bit) - kRef;
    if (old & mask) next -= wait;
    if (state_.compare_exchange_weak(old, next, std::memory_order_acq_rel)) {
      if (old & mask) sema.release(false);
      return (next & (kClosed | kRefMask)) == kClosed;
    }
  }
}

// --- Fd ----------------------------------------------------------------------------------

Fd::Fd(int sysfd, std::error_code& ec) noexcept : sysfd_(sysfd) {
  int err = 0;
  pd_ = poll_open(sysfd, &err);
  if (pd_ == nullptr) {
    ::close(sysfd_);
    sysfd_ = -1;
    mu_.incref_and_close();
    closed_.store(true, std::memory_order_release);
    close_waiter_.store(kDestroyed, std::memory_order_relaxed);
    ec = errno_code(err);
  } else {
    ec.clear();
  }
}

void Fd::release_owner() noexcept {
  std::error_code ignored;
  if (close_waiter_.load(std::memory_order_acquire) != kDestroyed) close(ignored);
  release();
}

void Fd::destroy() noexcept {
  // Deregister first: once close(2) returns, the number may belong to another socket.
  poll_close(pd_);
  pd_ = nullptr;
  ::close(sysfd_);  // Linux frees the descriptor even when close reports EINTR
  sysfd_ = -1;
  // acq_rel: publishes the above to the closer (pairs with its load or commit CAS).
  std::uintptr_t w = close_waiter_.exchange(kDestroyed, std::memory_order_acq_rel);
  if (w != 0 && w != kDestroyed) goro::detail::ready(reinterpret_cast<goro::detail::G*>(w));
}

void Fd::wait_destroyed() noexcept {
  if (close_waiter_.load(std::memory_order_acquire) == kDestroyed) return;
  if (!goro::in_goroutine()) {
    while (close_waiter_.load(std::memory_order_acquire) != kDestroyed) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    return;
  }
  goro::detail::park(
      [](goro::detail::G* g, void* arg) noexcept {
        auto* w = static_cast<std::atomic<std::uintptr_t>*>(arg);
        std::uintptr_t expected = 0;
        // acq_rel: pairs with destroy()'s exchange; failure means it already happened.
        return w->compare_exchange_strong(expected, reinterpret_cast<std::uintptr_t>(g),
                                          std::memory_order_acq_rel);
      },
      &close_waiter_, goro::detail::WaitReason::kIOWait);
}

void Fd::close(std::error_code& ec) noexcept {
  // relaxed: our caller holds a reference (the owner's, at least) while we take ours.
  life_.fetch_add(1, std::memory_order_relaxed);
  if (!mu_.incref_and_close()) {
    ec = Errc::kClosed;
    release();
    return;
  }
  closed_.store(true, std::memory_order_release);
  ec.clear();
  // Wake whoever is parked on the descriptor; from now on operations fail at once.
  poll_unblock(pd_);
  drop(mu_.decref());
  // Go: runtime_Semacquire(&fd.csema) — wait until the last operation has let go.
  wait_destroyed();
  release();  // the owner may have let go meanwhile (woken by this very close)
}

void Fd::enable_quiet_reads() noexcept { quiet_reads_ = poll_watch_hangup(pd_); }

namespace {

// The socket calls of the hot paths, as bare system calls. glibc's wrappers of
// recv/read/send/sendmsg are thread cancellation points: around the call they switch
// the thread to asynchronous cancellation and back, two atomic read-modify-writes per
// call (~1 % of the server's CPU in the keep-alive benchmark). goro never cancels
// threads, and syscall(3) is not a cancellation point. Under ThreadSanitizer the libc
// calls stay: its interceptors are what tell it that bytes written to a socket on one
// thread happen before their read on another.
constexpr bool kTsan = GORO_TSAN;

ssize_t sys_recv(int fd, void* buf, std::size_t len) noexcept {
  if constexpr (kTsan) return ::recv(fd, buf, len, 0);
  return ::syscall(SYS_recvfrom, fd, buf, len, 0, nullptr, nullptr);
}
ssize_t sys_read(int fd, void* buf, std::size_t len) noexcept {
  if constexpr (kTsan) return ::read(fd, buf, len);
  return ::syscall(SYS_read, fd, buf, len);
}
ssize_t sys_send(int fd, const void* buf, std::size_t len, int flags) noexcept {
  if constexpr (kTsan) return ::send(fd, buf, len, flags);
  return ::syscall(SYS_sendto, fd, buf, len, flags, nullptr, 0);
}
ssize_t sys_sendmsg(int fd, const struct msghdr* msg, int flags) noexcept {
  if constexpr (kTsan) return ::sendmsg(fd, msg, flags);
  return ::syscall(SYS_sendmsg, fd, msg, flags);
}

}  // namespace

PollErr Fd::read_prelude(bool* waited) noexcept {
  const bool quiet = rquiet_;
  rquiet_ = false;
  *waited = false;
  if (PollErr e = poll_reset(pd_, kRead); e != PollErr::kNone) return e;
  if (!quiet) return PollErr::kNone;
  *waited = true;
  return poll_wait_quiet(pd_, rquiet_edges_);
}

std::size_t Fd::read(void* buf, std::size_t len, std::error_code& ec) noexcept {
  if (!mu_.rwlock(true)) {
    ec = Errc::kClosed;
    return 0;
  }
  std::size_t result = 0;
  len = std::min(len, kMaxRW);
  // The system call first, as Go does, unless the last read proved the socket empty.
  // A short read proves it, with one exception: data followed by a FIN, which the read
  // consumes and read(2) reports only next time, with no further edge. The poller marks
  // a FIN it has seen (poll_hangup_seen, checked after the read); one it takes after our
  // snapshot of poll_read_edges changes the edge count instead, as anything else that
  // arrives after the read does. So after such a read the next one waits first
  // (poll_wait_quiet) and saves the read that would return EAGAIN: two system calls per
  // message in a request/response loop, not three.
  bool waited;
  if (PollErr e = read_prelude(&waited); e != PollErr::kNone) {
    ec = poll_error(e);
  } else {
    for (;;) {
      ssize_t n;
      std::uint32_t edges = 0;
      if (quiet_reads_) {
        edges = poll_read_edges(pd_);
        n = sys_recv(sysfd_, buf, len);
      } else {
        n = sys_read(sysfd_, buf, len);
      }
      if (n > 0) {
        ec.clear();
        result = static_cast<std::size_t>(n);
        if (quiet_reads_ && result < len && !poll_hangup_seen(pd_)) {
          rquiet_ = true;
          rquiet_edges_ = edges;
        }
        break;
      }
      if (n == 0) {
        // Go: eofError. A zero-length read is not the end of the stream.
        if (len == 0) {
          ec.clear();
        } else {
          ec = Errc::kEof;
        }
        break;
      }
      if (retry(kRead, ec)) continue;
      break;
    }
  }
  drop(mu_.rwunlock(true));
  return result;
}

void Fd::wait_read(std::error_code& ec) noexcept {
  if (!mu_.rwlock(true)) {
    ec = Errc::kClosed;
    return;
  }
  ec.clear();
  // As read(): after a read that proved the socket empty, the prelude
  // waits for the next edge; else ask the socket (a 1-byte peek) and wait only on EAGAIN.
  bool waited;
  if (PollErr e = read_prelude(&waited); e != PollErr::kNone) {
    ec = poll_error(e);
  } else if (!waited) {
    for (;;) {
      char c;
      if (::recv(sysfd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) >= 0) break;  // bytes or EOF
      if (errno != EAGAIN && errno != EINTR) break;  // the read reports the error
      if (!retry(kRead, ec)) break;
    }
  }
  drop(mu_.rwunlock(true));
}

bool Fd::retry(PollMode mode, std::error_code& ec) noexcept {
  const int err = errno;
  if (err == EINTR) return true;
  if (err == EAGAIN) {
    PollErr e = poll_wait(pd_, mode);  // parks until ready, closed or past the deadline
    if (e == PollErr::kNone) return true;
    ec = poll_error(e);
    return false;
  }
  ec = errno_code(err);
  return false;
}

std::size_t Fd::write(const void* buf, std::size_t len, std::error_code& ec) noexcept {
  if (!mu_.rwlock(false)) {
    ec = Errc::kClosed;
    return 0;
  }
  std::size_t done = 0;
  ec.clear();
  if (PollErr e = poll_reset(pd_, kWrite); e != PollErr::kNone) {
    ec = poll_error(e);
  } else {
    const char* p = static_cast<const char*>(buf);
    while (done < len) {
      std::size_t chunk = std::min(len - done, kMaxRW);
      // MSG_NOSIGNAL: a peer that is gone makes this EPIPE, not a process-killing SIGPIPE.
      ssize_t n = sys_send(sysfd_, p + done, chunk, MSG_NOSIGNAL);
      if (n > 0) {
        done += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && retry(kWrite, ec)) continue;
      if (n == 0) ec = Errc::kUnexpectedEof;
      break;
    }
  }
  drop(mu_.rwunlock(false));
  return done;
}

std::size_t Fd::writev(const struct iovec* iov, std::size_t n, std::error_code& ec) noexcept {
  if (!mu_.rwlock(false)) {
    ec = Errc::kClosed;
    return 0;
  }
  std::size_t done = 0;
  ec.clear();
  if (PollErr e = poll_reset(pd_, kWrite); e != PollErr::kNone) {
    ec = poll_error(e);
  } else {
    // A window of at most IOV_MAX entries starting at (i, off); the caller's array is
    // never written: the first entry of the window is copied and trimmed.
    constexpr std::size_t kIovMax = 1024;
    std::size_t i = 0;
    std::size_t off = 0;
    while (i < n && iov[i].iov_len == 0) ++i;
    while (i < n) {
      struct iovec local[kIovMax];
      std::size_t cnt = 0;
      for (std::size_t j = i; j < n && cnt < kIovMax; ++j) local[cnt++] = iov[j];
      local[0].iov_base = static_cast<char*>(local[0].iov_base) + off;
      local[0].iov_len -= off;
      struct msghdr msg {};
      msg.msg_iov = local;
      msg.msg_iovlen = cnt;
      ssize_t w = sys_sendmsg(sysfd_, &msg, MSG_NOSIGNAL);
      if (w > 0) {
        done += static_cast<std::size_t>(w);
        std::size_t left = static_cast<std::size_t>(w);
        while (i < n && left >= iov[i].iov_len - off) {
          left -= iov[i].iov_len - off;
          off = 0;
          ++i;
        }
        off += left;
        while (i < n && iov[i].iov_len == 0) ++i;
        continue;
      }
      if (w < 0 && retry(kWrite, ec)) continue;
      if (w == 0) ec = Errc::kUnexpectedEof;
      break;
    }
  }
  drop(mu_.rwunlock(false));
  return done;
}

std::size_t Fd::splice_in(int pipe_w, std::size_t max, std::error_code& ec) noexcept {
  if (!mu_.rwlock(true)) {
    ec = Errc::kClosed;
    return 0;
  }
  rquiet_ = false;  // splice(2) reports nothing of what is left
  std::size_t result = 0;
  if (PollErr e = poll_reset(pd_, kRead); e != PollErr::kNone) {
    ec = poll_error(e);
  } else {
    for (;;) {
      // The pipe is empty, so EAGAIN can only mean the socket has nothing (Go: spliceDrain).
      ssize_t n =
          ::splice(sysfd_, nullptr, pipe_w, nullptr, max, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        ec.clear();
        result = static_cast<std::size_t>(n);
        break;
      }
      if (n == 0) {
        ec = Errc::kEof;
        break;
      }
      if (retry(kRead, ec)) continue;
      break;
    }
  }
  drop(mu_.rwunlock(true));
  return result;
}

std::size_t Fd::splice_out(int pipe_r, std::size_t n, std::error_code& ec) noexcept {
  if (!mu_.rwlock(false)) {
    ec = Errc::kClosed;
    return 0;
  }
  std::size_t done = 0;
  ec.clear();
  if (PollErr e = poll_reset(pd_, kWrite); e != PollErr::kNone) {
    ec = poll_error(e);
  } else {
    while (done < n) {
      // The pipe holds the bytes, so EAGAIN means the socket's buffer is full.
      ssize_t w =
          ::splice(pipe_r, nullptr, sysfd_, nullptr, n - done, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (w > 0) {
        done += static_cast<std::size_t>(w);
        continue;
      }
      if (w < 0 && retry(kWrite, ec)) continue;
      if (w == 0) ec = Errc::kUnexpectedEof;
      break;
    }
  }
  drop(mu_.rwunlock(false));
  return done;
}

int Fd::accept(sockaddr* sa, socklen_t* len, std::error_code& ec) noexcept {
  if (!mu_.rwlock(true)) {
    ec = Errc::kClosed;
    return -1;
  }
  int s = -1;
  if (PollErr e = poll_reset(pd_, kRead); e != PollErr::kNone) {
    ec = poll_error(e);
  } else {
    socklen_t cap = *len;
    for (;;) {
      *len = cap;
      s = ::accept4(sysfd_, sa, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (s >= 0) {
        ec.clear();
        break;
      }
      // ECONNABORTED: a connection in the queue was reset before we took it (Go retries).
      if (errno == ECONNABORTED || retry(kRead, ec)) continue;
      break;
    }
  }
  drop(mu_.rwunlock(true));
  return s;
}

void Fd::wait_connect(std::error_code& ec) noexcept {
  if (!mu_.rwlock(false)) {
    ec = Errc::kClosed;
    return;
  }
  for (;;) {
    // Go: netFD.connect. Repeated connect(2) calls do not reliably report the outcome;
    // once writable, SO_ERROR does. The poller can wake us early: check with getpeername.
    if (PollErr e = poll_wait(pd_, kWrite); e != PollErr::kNone) {
      ec = poll_error(e);
      break;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(sysfd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
      ec = errno_code(errno);
      break;
    }
    if (err == EINPROGRESS || err == EALREADY || err == EINTR) continue;
    if (err == EISCONN) {
      ec.clear();
      break;
    }
    if (err != 0) {
      ec = errno_code(err);
      break;
    }
    sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (::getpeername(sysfd_, reinterpret_cast<sockaddr*>(&ss), &sl) == 0) {
      ec.clear();
      break;
    }
  }
  drop(mu_.rwunlock(false));
}

void Fd::shutdown(int how, std::error_code& ec) noexcept {
  if (!mu_.incref()) {
    ec = Errc::kClosed;
    return;
  }
  if (::shutdown(sysfd_, how) != 0) {
    ec = errno_code(errno);
  } else {
    ec.clear();
  }
  drop(mu_.decref());
}

void Fd::setsockopt(int level, int name, const void* value, socklen_t len,
                    std::error_code& ec) noexcept {
  if (!mu_.incref()) {
    ec = Errc::kClosed;
    return;
  }
  if (::setsockopt(sysfd_, level, name, value, len) != 0) {
    ec = errno_code(errno);
  } else {
    ec.clear();
  }
  drop(mu_.decref());
}

bool Fd::local_address(Address& out, std::error_code& ec) noexcept {
  if (!mu_.incref()) {
    ec = Errc::kClosed;
    return false;
  }
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  bool ok = false;
  if (::getsockname(sysfd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    ec = errno_code(errno);
  } else if (address_from_native(reinterpret_cast<sockaddr*>(&ss), len, out)) {
    ec.clear();
    ok = true;
  } else {
    ec = std::make_error_code(std::errc::address_family_not_supported);
  }
  drop(mu_.decref());
  return ok;
}

void Fd::set_deadline(std::int64_t deadline, PollMode mode) noexcept {
  if (!mu_.incref()) return;
  poll_set_deadline(pd_, deadline, mode);
  drop(mu_.decref());
}

}  // namespace goro::net::detail

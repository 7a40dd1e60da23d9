// copy.cpp — goro::net::copy and relay (goro/net/copy.hpp).
#include <goro/net/copy.hpp>

#include <goro/core/runtime.hpp>
#include <goro/core/wait_group.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <memory>
#include <new>

#include "conn_access.hpp"

namespace goro::net {

namespace {

constexpr std::size_t kBufSize = 16 * 1024;  // a read that fills it starts splicing
constexpr int kPipeSize = 1 << 20;  // Go's maxSpliceSize

// A pipe for splice(2), closed on scope exit.
struct Pipe {
  int fd[2] = {-1, -1};
  std::size_t capacity = 0;
  Pipe() noexcept {
    if (::pipe2(fd, O_CLOEXEC | O_NONBLOCK) != 0) {
      fd[0] = fd[1] = -1;
      return;
    }
    int got = ::fcntl(fd[1], F_SETPIPE_SZ, kPipeSize);  // may be refused: keep the default
    if (got <= 0) got = ::fcntl(fd[1], F_GETPIPE_SZ);
    capacity = got > 0 ? static_cast<std::size_t>(got) : 65536;
  }
  ~Pipe() {
    if (fd[0] >= 0) ::close(fd[0]);
    if (fd[1] >= 0) ::close(fd[1]);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  bool ok() const noexcept { return fd[0] >= 0; }
};

// Whether SIGPIPE is ignored. splice(2) into a socket the peer has reset raises SIGPIPE
// (there is no MSG_NOSIGNAL for it), which by default ends the process; Go's runtime
// ignores it for sockets, goro leaves the process's signal dispositions to the program.
bool sigpipe_ignored() noexcept {
  struct sigaction sa {};
  return ::sigaction(SIGPIPE, nullptr, &sa) == 0 && !(sa.sa_flags & SA_SIGINFO) &&
         sa.sa_handler == SIG_IGN;
}

// Zero-copy: socket -> pipe -> socket with splice(2), the bytes never entering user
// space (Go's io.Copy between TCP connections does the same). The pipe is empty between
// rounds. false if no pipe can be made (nothing was moved): the caller goes on through
// its buffer.
bool splice_loop(detail::Fd* out, detail::Fd* in, Conn& src, Duration idle,
                 std::uint64_t& total, std::error_code& ec) noexcept {
  Pipe pipe;
  if (!pipe.ok()) return false;
  for (;;) {
    if (idle > Duration::zero()) src.set_read_deadline(Clock::now() + idle);
    std::size_t n = in->splice_in(pipe.fd[1], pipe.capacity, ec);
    if (ec) {
      if (ec == Errc::kEof) ec.clear();
      return true;
    }
    total += out->splice_out(pipe.fd[0], n, ec);
    if (ec) return true;
  }
}

// Copies src to dst until src's end of stream or an error. With idle > 0, every read
// must see data within idle (the read deadline is pushed forward before each).
//
// Small messages go through a buffer: a read(2) and a send(2) each, and the read tells
// (see Fd::read) when the socket is empty, so the next read waits at once
// instead of first failing with EAGAIN. Moving the same message with splice(2) costs as
// many system calls plus one EAGAIN each time (splice reports nothing of what is left)
// and a pipe's bookkeeping. Once a read fills the whole buffer the stream is a bulk
// transfer: if splice can be used (both ends are goro sockets and SIGPIPE is ignored),
// the rest goes socket -> pipe -> socket with it, as haproxy's splice-auto does.
std::uint64_t copy_loop(Conn& dst, Conn& src, Duration idle, std::error_code& ec) noexcept {
  detail::Fd* in = detail::ConnAccess::fd(src);
  detail::Fd* out = detail::ConnAccess::fd(dst);
  bool can_splice = in != nullptr && out != nullptr && sigpipe_ignored();
  std::unique_ptr<char[]> buf(new (std::nothrow) char[kBufSize]);
  if (!buf) {
    ec = std::make_error_code(std::errc::not_enough_memory);
    return 0;
  }
  std::uint64_t total = 0;
  for (;;) {
    if (idle > Duration::zero()) src.set_read_deadline(Clock::now() + idle);
    std::size_t n = src.read(buf.get(), kBufSize, ec);
    if (ec) {
      if (ec == Errc::kEof) ec.clear();
      return total;
    }
    dst.write(buf.get(), n, ec);
    if (ec) return total;
    total += n;
    if (n == kBufSize && can_splice) {
      if (splice_loop(out, in, src, idle, total, ec)) return total;
      can_splice = false;  // no pipe to be had: stay with the buffer
    }
  }
}

}  // namespace

std::uint64_t copy(Conn& dst, Conn& src, std::error_code& ec) noexcept {
  return copy_loop(dst, src, Duration::zero(), ec);
}

std::uint64_t copy(Conn& dst, Conn& src) {
  std::error_code ec;
  std::uint64_t n = copy(dst, src, ec);
  if (ec) throw std::system_error(ec, "copy");
  return n;
}

RelayResult relay(Conn& a, Conn& b, const RelayOptions& opts) {
  RelayResult r;
  // One direction: copy, then pass the end of stream on as a half close, or on error
  // close both sides so the other direction stops too.
  auto pump = [&opts, &a, &b](Conn& from, Conn& to, std::uint64_t& bytes, std::error_code& err) {
    bytes = copy_loop(to, from, opts.idle_timeout, err);
    std::error_code ignored;
    if (!err) {
      to.shutdown_write(ignored);
    } else {
      a.close(ignored);
      b.close(ignored);
    }
  };
  WaitGroup wg;
  wg.add(1);
  goro::go([&] {
    pump(b, a, r.b_to_a, r.b_to_a_error);
    wg.done();
  });
  pump(a, b, r.a_to_b, r.a_to_b_error);
  wg.wait();
  std::error_code ignored;
  a.close(ignored);
  b.close(ignored);
  return r;
}

}  // namespace goro::net

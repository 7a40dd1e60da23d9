// signals.cpp — signals into a goroutine, the self-pipe way.
//
// A signal handler may do almost nothing (async-signal-safe calls only), and goro has no
// signal API of its own yet (a goro::signal::notify in the core, as Go's
// os/signal.Notify, would be the general home of this). So the handler writes the signal
// number into a socket pair whose other end a goroutine reads through goro::net, parked
// in the netpoller like any connection: no thread waits for signals.
//
// Each watch owns a slot in a small table of descriptors the handler writes to, so
// several Servers may watch at once. Stopping a watch restores the previous actions
// before it gives up its slot and descriptors.
#include "signals.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <system_error>
#include <vector>

#include <goro/core/runtime.hpp>
#include <goro/net/tcp.hpp>

namespace goro::http::detail {

namespace {

constexpr int kSlots = 16;
// atomic: written by start/stop (a goroutine), read by the signal handler (any thread).
std::atomic<int> g_slot_fd[kSlots] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                      -1, -1, -1, -1, -1, -1, -1, -1};

extern "C" void on_signal_write(int signo) {
  int saved = errno;
  unsigned char b = static_cast<unsigned char>(signo);
  for (auto& slot : g_slot_fd) {
    int fd = slot.load(std::memory_order_relaxed);
    if (fd >= 0) {
      ssize_t r = ::write(fd, &b, 1);  // non-blocking: a full pipe just drops it
      (void)r;
    }
  }
  errno = saved;
}

struct Watch {
  int write_fd = -1;
  int slot = -1;
  net::Conn reader;
  std::vector<int> signals;
  std::vector<struct sigaction> previous;
  std::atomic<bool> restored{false};
  std::atomic<bool> stopped{false};
  std::function<void(int)> on_signal;

  ~Watch() {
    if (write_fd >= 0) ::close(write_fd);
  }
  void restore() noexcept {
    if (restored.exchange(true)) return;
    for (std::size_t i = 0; i < signals.size(); ++i) sigaction(signals[i], &previous[i], nullptr);
  }
};

}  // namespace

std::shared_ptr<void> start_signal_watch(std::initializer_list<int> signals,
                                         std::function<void(int)> on_signal) {
  auto w = std::make_shared<Watch>();
  w->on_signal = std::move(on_signal);
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
    throw std::system_error(errno, std::system_category(), "socketpair");
  }
  w->write_fd = fds[1];
  std::error_code ec;
  w->reader = net::Conn::adopt(fds[0], ec);
  if (ec) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw std::system_error(ec, "signal watch");
  }
  for (int i = 0; i < kSlots && w->slot < 0; ++i) {
    int expected = -1;
    if (g_slot_fd[i].compare_exchange_strong(expected, w->write_fd)) w->slot = i;
  }
  if (w->slot < 0) {
    ::close(fds[1]);
    throw std::system_error(std::make_error_code(std::errc::too_many_files_open),
                            "signal watch: too many watches");
  }
  struct sigaction sa = {};
  sa.sa_handler = on_signal_write;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : signals) {
    struct sigaction old = {};
    if (sigaction(sig, &sa, &old) == 0) {
      w->signals.push_back(sig);
      w->previous.push_back(old);
    }
  }
  goro::go([w] {
    unsigned char b = 0;
    std::error_code rec;
    std::size_t n = w->reader.read(&b, 1, rec);
    if (rec || n != 1 || w->stopped.load()) return;
    w->restore();  // a second Ctrl-C gets the default action: the process ends
    w->on_signal(b);
  });
  return w;
}

void stop_signal_watch(const std::shared_ptr<void>& watch) noexcept {
  auto* w = static_cast<Watch*>(watch.get());
  if (w == nullptr || w->stopped.exchange(true)) return;
  w->restore();
  if (w->slot >= 0) g_slot_fd[w->slot].store(-1);
  std::error_code ec;
  w->reader.close(ec);
  // The write end stays open until the Watch goes: a handler that loaded the descriptor
  // just before the slot was cleared may still write to it.
}

}  // namespace goro::http::detail

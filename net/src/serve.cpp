// serve.cpp — goro::net::serve (goro/net/serve.hpp): the accept loop, back-off on
// temporary errors, and shutdown (Go: net/http.Server.Serve and Shutdown).
//
// Handlers are tracked in an intrusive list (one node on each handler goroutine's
// stack) under a goro::Mutex, so shutdown can close the connections of handlers that
// overstay; the state is shared (shared_ptr) because serve() may return before a stuck
// handler does.
#include <goro/net/serve.hpp>

#include <goro/core/chan.hpp>
#include <goro/core/mutex.hpp>
#include <goro/core/runtime.hpp>
#include <goro/core/select.hpp>
#include <goro/core/wait_group.hpp>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <utility>

namespace goro::net {

namespace {

// One running handler; lives on its goroutine's stack while linked.
struct Active {
  Conn* conn = nullptr;
  Active* prev = nullptr;
  Active* next = nullptr;
};

struct ServeState {
  explicit ServeState(Handler h) : handler(std::move(h)) {}
  const Handler handler;
  goro::Mutex mu;
  Active* head = nullptr;      // guarded by mu
  std::int64_t active = 0;     // handlers started and not finished; guarded by mu
  bool shutting_down = false;  // guarded by mu
  bool force_closed = false;   // guarded by mu: connections were closed by shutdown
  Chan<Signal> idle{0};        // closed (under mu) when shutting down with active == 0
};

// Go: the Temporary() errors of an accept, plus the resource shortages that pass.
bool temporary(const std::error_code& ec) noexcept {
  if (ec == Errc::kTimeout) return true;
  if (ec.category() != std::system_category()) return false;
  switch (ec.value()) {
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
    case ECONNRESET:
    case ECONNABORTED:
    case EPROTO:
    case EPERM:  // a firewall rule refused the connection
    case EINTR:
      return true;
    default:
      return false;
  }
}

// Waits until the channel is closed or d passes; true if it was closed. (A Timer, not
// after(): it is stopped on the way out instead of staying armed for d.)
bool wait_closed(Chan<Signal>& ch, Duration d) {
  bool closed = false;
  goro::Timer timer(d);
  goro::select(goro::recv(ch, [&] { closed = true; }), goro::recv(timer.channel()));
  return closed;
}

void run_handler(const std::shared_ptr<ServeState>& st, Conn& c) {
  Active a;
  a.conn = &c;
  st->mu.lock();
  a.next = st->head;
  if (st->head != nullptr) st->head->prev = &a;
  st->head = &a;
  bool closed = st->force_closed;
  st->mu.unlock();
  if (closed) {
    std::error_code ignored;
    c.close(ignored);  // shutdown already closed everyone else's
  }
  st->handler(c);
  st->mu.lock();
  if (a.prev != nullptr) a.prev->next = a.next;
  if (a.next != nullptr) a.next->prev = a.prev;
  if (st->head == &a) st->head = a.next;
  st->mu.unlock();
  std::error_code ignored;
  c.close(ignored);  // before we count as done: serve's return means closed descriptors
  st->mu.lock();
  if (--st->active == 0 && st->shutting_down) st->idle.close();
  st->mu.unlock();
}

}  // namespace

void serve(Listener& listener, Handler handler, const ServeOptions& opts, std::error_code& ec) {
  ec.clear();
  auto st = std::make_shared<ServeState>(std::move(handler));

  // Cancelling the context closes the listener, which ends the accept below.
  WaitGroup watcher;
  Chan<Signal> stop_watch(0);
  Chan<Signal> done = opts.context.done();
  if (done) {
    watcher.add(1);
    goro::go([&listener, &watcher, done, stop_watch]() mutable {
      bool cancelled = false;
      goro::select(goro::recv(done, [&] { cancelled = true; }), goro::recv(stop_watch));
      if (cancelled) {
        std::error_code ignored;
        listener.close(ignored);
      }
      watcher.done();
    });
  }

  Duration backoff{0};
  for (;;) {
    std::error_code aec;
    Conn c = listener.accept(aec);
    if (aec) {
      if (aec == Errc::kClosed) break;  // shut down (by the context or by our caller)
      if (!temporary(aec)) {
        ec = aec;
        break;
      }
      if (opts.on_accept_error) opts.on_accept_error(aec);
      // Go's http.Server: 5 ms, doubling, at most 1 s. The pending connection stays in
      // the listen queue; the next accept(2) takes it once a descriptor is free.
      backoff = backoff == Duration::zero() ? std::chrono::milliseconds(5)
                                            : std::min(backoff * 2, opts.max_backoff);
      if (done) {
        if (wait_closed(done, backoff)) break;
      } else {
        goro::sleep(backoff);
      }
      continue;
    }
    backoff = Duration::zero();
    st->mu.lock();
    ++st->active;
    st->mu.unlock();
    goro::go([st, c = std::move(c)]() mutable { run_handler(st, c); });
  }

  stop_watch.close();
  watcher.wait();
  std::error_code ignored;
  listener.close(ignored);

  st->mu.lock();
  st->shutting_down = true;
  bool idle = st->active == 0;
  st->mu.unlock();
  if (idle) return;
  if (wait_closed(st->idle, opts.shutdown_timeout)) return;
  // Handlers overstayed: close their connections (their I/O fails with Errc::kClosed).
  st->mu.lock();
  st->force_closed = true;
  for (Active* a = st->head; a != nullptr; a = a->next) a->conn->close(ignored);
  st->mu.unlock();
  wait_closed(st->idle, opts.shutdown_timeout);
}

void serve(Listener& listener, Handler handler, const ServeOptions& opts) {
  std::error_code ec;
  serve(listener, std::move(handler), opts, ec);
  if (ec) throw std::system_error(ec, "accept");
}

}  // namespace goro::net

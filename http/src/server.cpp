// server.cpp — Server: the accept loops, the set of open connections, and the graceful
// shutdown (Go's net/http Server.Serve and Server.Shutdown).
//
// serve() accepts and starts one goroutine per connection (conn.cpp), which registers
// itself in State::conns for its lifetime. shutdown():
//   1. sets shutting_down (once), closes every listener (their accept() returns kClosed),
//      and wakes each idle connection by moving its read deadline to the past: it sees
//      the flag and closes (ConnEntry explains the handshake);
//   2. waits until the last connection leaves (State::drained) or the grace period ends;
//   3. at the end of the grace period, cancels the requests' context and closes what is
//      left (their goroutines then fail their next read or write and finish);
//   4. closes State::done, which every serve() waits for before returning.
// Connections in the middle of a request finish it; their responses say
// "Connection: close" (conn.cpp checks shutting_down before each response head).
//
// Go's Shutdown polls for idle connections every few ms; here the connection goroutines
// notice the flag themselves, so nothing polls.
#include <goro/http/server.hpp>

#include <mutex>
#include <stdexcept>
#include <system_error>

#include <goro/core/runtime.hpp>
#include <goro/core/select.hpp>
#include <goro/core/time.hpp>
#include <goro/net/error.hpp>

#include "server_state.hpp"
#include "signals.hpp"

namespace goro::http {

// --- State -------------------------------------------------------------------------------------

namespace {
// Requires State::mu. During a shutdown, closes `drained` once no connection is left.
void check_drained(Server::State& s) {
  if (s.open == 0 && s.starting == 0 && s.shutting_down.load(std::memory_order_relaxed)) {
    if (!s.drained.try_recv().closed()) s.drained.close();
  }
}
}  // namespace

void Server::State::conn_starting() {
  std::lock_guard<Mutex> hold(mu);
  ++starting;
}

bool Server::State::add_conn(detail::ConnEntry* e) {
  std::lock_guard<Mutex> hold(mu);
  --starting;
  if (e == nullptr || shutting_down.load(std::memory_order_relaxed)) {
    check_drained(*this);
    return false;
  }
  e->prev = nullptr;
  e->next = conns;
  if (conns != nullptr) conns->prev = e;
  conns = e;
  ++open;
  return true;
}

void Server::State::remove_conn(detail::ConnEntry* e) {
  std::lock_guard<Mutex> hold(mu);
  if (e->prev != nullptr) e->prev->next = e->next;
  if (e->next != nullptr) e->next->prev = e->prev;
  if (conns == e) conns = e->next;
  e->prev = e->next = nullptr;
  e->conn = nullptr;
  --open;
  check_drained(*this);
}

// --- Server ------------------------------------------------------------------------------------

Server::Server() : Server(ServerOptions{}) {}

Server::Server(ServerOptions opts) : s_(std::make_shared<State>()) { s_->opts = std::move(opts); }

Server::Server(Server&&) noexcept = default;
Server& Server::operator=(Server&&) noexcept = default;

Server::~Server() {
  if (!s_) return;
  bool busy;
  {
    std::lock_guard<Mutex> hold(s_->mu);
    busy = s_->serving > 0 || s_->open > 0;
  }
  if (busy && goro::in_goroutine()) shutdown(Duration::zero());
}

Server& Server::route(std::string_view method, std::string_view pattern, Handler h) {
  s_->router.route(method, pattern, std::move(h));
  return *this;
}

Server& Server::use(Middleware m) {
  s_->router.use(std::move(m));
  return *this;
}

Router& Server::router() noexcept { return s_->router; }
ServerOptions& Server::options() noexcept { return s_->opts; }

std::size_t Server::open_connections() const noexcept {
  std::lock_guard<Mutex> hold(s_->mu);
  return s_->open;
}

std::size_t Server::active_connections() const noexcept {
  // Counted here rather than kept in a counter: a server-wide counter would be two
  // atomic read-modify-writes per request on one cache line shared by every P.
  std::lock_guard<Mutex> hold(s_->mu);
  std::size_t n = 0;
  for (const detail::ConnEntry* e = s_->conns; e != nullptr; e = e->next) {
    // relaxed: a snapshot; the list itself is guarded by mu.
    if (e->state.load(std::memory_order_relaxed) == detail::ConnEntry::kActive) ++n;
  }
  return n;
}

void Server::listen_and_serve(std::string_view host_port) {
  std::error_code ec;
  listen_and_serve(host_port, ec);
  if (ec) throw std::system_error(ec, "listen " + std::string(host_port));
}

void Server::listen_and_serve(std::string_view host_port, std::error_code& ec) {
  ec.clear();
  net::Listener ln = net::listen(host_port, net::ListenOptions{}, ec);
  if (ec) return;
  serve(std::move(ln));
}

std::optional<net::Address> Server::address(Duration wait) const {
  {
    std::lock_guard<Mutex> hold(s_->mu);
    if (s_->first_address || wait <= Duration::zero()) return s_->first_address;
  }
  Chan<Signal> listening = s_->listening;
  goro::Timer timer(wait);
  goro::select(goro::recv(listening), goro::recv(timer.channel()));
  std::lock_guard<Mutex> hold(s_->mu);
  return s_->first_address;
}

void Server::serve(net::Listener listener) {
  std::shared_ptr<State> s = s_;
  {
    std::lock_guard<Mutex> hold(s->mu);
    if (s->shutting_down.load(std::memory_order_relaxed)) {
      std::error_code ec;
      listener.close(ec);
      return;
    }
    s->listeners.push_back(&listener);
    ++s->serving;
    if (!s->first_address) {
      s->first_address = listener.local_address();
      s->listening.close();
    }
  }

  std::error_code fatal;
  Duration backoff = Duration::zero();
  for (;;) {
    std::error_code ec;
    net::Conn c = listener.accept(ec);
    if (!ec) {
      backoff = Duration::zero();
      s->conn_starting();
      s->conn_goroutines.add(1);
      // The goroutine's shared_ptr is released inside serve_conn; `raw` stays valid until
      // done() because this serve() frame keeps its own reference until the count drops.
      goro::go([raw = s.get(), sp = s, c = std::move(c)]() mutable {
        detail::serve_conn(std::move(sp), std::move(c));
        raw->conn_goroutines.done();
      });
      continue;
    }
    if (s->shutting_down.load(std::memory_order_relaxed) || ec == net::Errc::kClosed) break;
    // Out of descriptors, or a connection reset before we took it: wait and try again
    // (Go's Serve backs off from 5 ms to 1 s the same way).
    if (ec == std::errc::too_many_files_open || ec == std::errc::too_many_files_open_in_system ||
        ec == std::errc::connection_aborted || ec == std::errc::not_enough_memory ||
        ec == std::errc::no_buffer_space || ec == std::errc::interrupted) {
      backoff = backoff == Duration::zero() ? std::chrono::milliseconds(5) : backoff * 2;
      if (backoff > std::chrono::seconds(1)) backoff = std::chrono::seconds(1);
      goro::sleep(backoff);
      continue;
    }
    fatal = ec;
    break;
  }

  {
    std::lock_guard<Mutex> hold(s->mu);
    std::erase(s->listeners, &listener);
    --s->serving;
  }
  if (fatal) {
    // Connections go on; whoever shuts down later waits for them.
    go([s] { s->done.recv(); s->conn_goroutines.wait(); });
    throw std::system_error(fatal, "accept");
  }
  // Return once the shutdown that closed the listener is complete, and its connection
  // goroutines are gone (after a graceful one, they are finishing already; after one
  // that ran out of grace, some may be stuck in a handler: leave a goroutine to wait).
  Chan<Signal> done = s->done;
  done.recv();
  bool graceful;
  {
    std::lock_guard<Mutex> hold(s->mu);
    graceful = s->graceful;
  }
  if (graceful) {
    s->conn_goroutines.wait();
  } else {
    go([s] { s->conn_goroutines.wait(); });
  }
}

namespace {
bool shutdown_state(const std::shared_ptr<Server::State>& s, Duration grace) {
  Chan<Signal> drained = s->drained;
  Chan<Signal> done = s->done;
  bool first = false;
  s->mu.lock();
  if (!s->shutting_down.load(std::memory_order_relaxed)) {
    first = true;
    // seq_cst: pairs with the connections' idle handshake (ConnEntry::state).
    s->shutting_down.store(true, std::memory_order_seq_cst);
    for (net::Listener* l : s->listeners) {
      std::error_code ec;
      l->close(ec);
    }
    for (detail::ConnEntry* e = s->conns; e != nullptr; e = e->next) {
      if (e->state.load(std::memory_order_seq_cst) == detail::ConnEntry::kIdle) {
        e->interrupted.store(true, std::memory_order_release);  // before the deadline moves
        e->conn->set_read_deadline(Clock::time_point::min());
      }
    }
    check_drained(*s);
  }
  s->mu.unlock();
  if (!first) {
    // Another shutdown is under way (or over): wait for it.
    done.recv();
    std::lock_guard<Mutex> hold(s->mu);
    return s->graceful;
  }

  bool graceful = drained.try_recv().closed();
  if (!graceful && grace > Duration::zero()) {
    goro::Timer timer(grace);  // a Timer, not after(): stopped (and freed) when done
    goro::select(goro::recv(drained), goro::recv(timer.channel()));
    graceful = drained.try_recv().closed();
  }
  if (!graceful) {
    s->base.cancel();
    std::lock_guard<Mutex> hold(s->mu);
    for (detail::ConnEntry* e = s->conns; e != nullptr; e = e->next) {
      std::error_code ec;
      e->conn->close(ec);
    }
  }
  {
    std::lock_guard<Mutex> hold(s->mu);
    s->graceful = graceful;
  }
  if (s->signal_watch) detail::stop_signal_watch(s->signal_watch);
  done.close();
  return graceful;
}
}  // namespace

bool Server::shutdown(Duration grace) { return shutdown_state(s_, grace); }

void Server::shutdown_on_signals(Duration grace, std::initializer_list<int> signals) {
  std::weak_ptr<State> weak = s_;
  s_->signal_watch = detail::start_signal_watch(signals, [weak, grace](int) {
    if (std::shared_ptr<State> s = weak.lock()) shutdown_state(s, grace);
  });
}

}  // namespace goro::http

// server_state.hpp — what a Server shares with its connection goroutines (server.cpp,
// conn.cpp). Held by shared_ptr: a connection goroutine keeps it alive after the Server
// object is gone (a shutdown that ran out of grace leaves some of them still running).
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include <goro/core/chan.hpp>
#include <goro/core/context.hpp>
#include <goro/core/mutex.hpp>
#include <goro/core/wait_group.hpp>
#include <goro/http/router.hpp>
#include <goro/http/server.hpp>
#include <goro/net/tcp.hpp>

#include "exchange.hpp"

namespace goro::http {

namespace detail {

// One open connection, as the server's shutdown sees it. Lives in the connection's
// goroutine; linked into State::conns (guarded by State::mu) from accept to close.
struct ConnEntry {
  enum : int { kIdle = 0, kActive = 1 };
  net::Conn* conn = nullptr;  // guarded by State::mu for use by others (close, deadline)
  // atomic, seq_cst: the connection stores kIdle then loads State::shutting_down; the
  // shutdown stores shutting_down then loads state (Dekker): one of them sees the other,
  // so an idle connection either notices the shutdown itself or is interrupted by it.
  // (kActive is stored with release: see Connection::enter_active.)
  std::atomic<int> state{kActive};
  // atomic: set by the shutdown (release) before it moves the read deadline to the past;
  // read by the connection (acquire) after arming its own read deadline while idle (the
  // shutdown's may have been overwritten) and after a read timed out (a timeout it should
  // not act on if it has become active meanwhile).
  std::atomic<bool> interrupted{false};
  ConnEntry* prev = nullptr;  // guarded by State::mu
  ConnEntry* next = nullptr;  // guarded by State::mu
};

}  // namespace detail

struct Server::State {
  ServerOptions opts;
  Router router;

  // Cancelled when a shutdown gives up on the connections left (requests' context()).
  ContextWithCancel base = with_cancel(background());

  Mutex mu;  // guards everything below that is not atomic
  detail::ConnEntry* conns = nullptr;  // the open connections, a doubly linked list
  std::size_t open = 0;
  std::size_t starting = 0;  // accepted, goroutine started, not yet in conns
  std::vector<net::Listener*> listeners;  // being served (owned by the serve() frames)
  std::optional<net::Address> first_address;
  Chan<Signal> listening{0};  // closed when the first listener is registered
  int serving = 0;            // serve() calls running

  // atomic, seq_cst: see ConnEntry::state. Set once, by the first shutdown().
  std::atomic<bool> shutting_down{false};
  Chan<Signal> drained{0};    // closed when the last connection leaves during shutdown
  Chan<Signal> done{0};       // closed when shutdown() has finished
  bool graceful = true;       // shutdown's result, written before done closes
  // One count per connection goroutine, done() as its very last action (after it let go
  // of every reference to this State): serve() waits for it, so that when serve()
  // returns no connection goroutine is left to be abandoned half-way.
  WaitGroup conn_goroutines;

  // Request state for connections between waits (exchange.hpp).
  detail::ExchangePool exchanges;
  // The signal watcher (signals.cpp), if shutdown_on_signals() was called.
  std::shared_ptr<void> signal_watch;

  // Counts a connection whose goroutine is about to start (serve(), before go()).
  void conn_starting();
  // Registers the connection (its goroutine, first thing); false if shutting down (the
  // caller closes it) or e is nullptr (the goroutine gives up).
  bool add_conn(detail::ConnEntry* e);
  // Unregisters; after it, nobody else touches e->conn.
  void remove_conn(detail::ConnEntry* e);
};

namespace detail {
// The connection goroutine's body (conn.cpp).
void serve_conn(std::shared_ptr<Server::State> s, net::Conn c) noexcept;
}  // namespace detail

}  // namespace goro::http

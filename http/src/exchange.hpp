// exchange.hpp — the state of one request/response exchange, and the server's pool of
// them.
//
// The problem: a keep-alive connection spends most of its life waiting for its next
// request. If it kept its request state — read buffer, parser, Request, Response, output
// buffer: ~1 KiB of objects plus 12 KiB of buffers, ~25 cache lines touched per request —
// while it waits, a server with many busy connections touches all of that per connection
// in turn, and past a couple of hundred connections its working set no longer fits the
// CPU's L2 beside the kernel's: CPU per request at 256 connections rose ~9 % over 128,
// where nginx's rose ~4 % (loadtest/README, "Fifth session").
//
// So a connection that waits for its next request with nothing buffered gives its
// Exchange back first (conn.cpp, Connection::fill) and takes one again once the socket
// is readable (net::Conn::wait_readable): the one returned last, still in cache, as
// nginx allocates a request's memory from a pool it frees when the request ends. An idle
// keep-alive connection then holds only its Connection object and goroutine stack.
//
// The pool is per server, last in first out: the exchange returned last sits in a slot
// of the processor (P) the connection's goroutine runs on, taken and filled without a
// lock or an atomic (goro/core/detail/proc_pin.hpp); when the slot is taken, its
// occupant moves to a free list under a runtime Lock (never held across a park). With
// one busy P a request then costs no lock round trip at all where it cost two (four
// locked instructions); with several, each P keeps its own last exchange warm. The list
// keeps at most kMaxFree exchanges, the slots one each for the first 64 Ps (in
// use at once there are about as many as connections running or runnable, not as many
// as are open); one whose buffers grew past kMaxPooledBuffer is freed rather than
// pooled, so a burst of large requests does not pin memory.
#pragma once

#include <goro/core/detail/lock.hpp>
#include <goro/core/detail/proc_pin.hpp>
#include <goro/http/headers.hpp>
#include <goro/http/request.hpp>
#include <goro/http/response.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "out_writer.hpp"
#include "parser.hpp"

namespace goro::http::detail {

struct Exchange {
  // Initial read buffer: a head of up to 4 KiB plus conn.cpp's 4 KiB body window after
  // it, without growing.
  static constexpr std::size_t kBuffer = 8192;
  static constexpr std::size_t kOut = 4096;  // initial output buffer
  // Larger ones are not pooled (freed with their exchange).
  static constexpr std::size_t kMaxPooledBuffer = 16384;

  Exchange() : buf(std::make_unique_for_overwrite<char[]>(kBuffer)), cap(kBuffer) {
    out.reserve(kOut);
  }

  // Read buffer: the connection's positions in it (Connection::rpos_, wpos_) stay with
  // the connection, which gives the exchange back only when it holds no unread byte.
  std::unique_ptr<char[]> buf;
  std::size_t cap;
  Parser parser;
  Request req;
  Response res;
  Headers trailers;
  std::string out;  // response bytes not yet written
  char head_scratch[OutWriter::kCap];  // a response head is gathered here (out_writer.hpp)
  Exchange* next_free = nullptr;  // guarded by ExchangePool's lock while pooled
};

class ExchangePool {
 public:
  static constexpr int kMaxFree = 128;

  ExchangePool() = default;
  ExchangePool(const ExchangePool&) = delete;
  ExchangePool& operator=(const ExchangePool&) = delete;
  ~ExchangePool() {
    slots_.for_each([](Exchange*& x) { delete x; });
    while (free_ != nullptr) delete std::exchange(free_, free_->next_free);
  }

  // The exchange returned last, or a new one (std::bad_alloc if memory runs out).
  std::unique_ptr<Exchange> get() {
    {
      goro::detail::ProcPin pin;
      if (Exchange** s = slots_.slot(pin); s != nullptr && *s != nullptr) {
        return std::unique_ptr<Exchange>(std::exchange(*s, nullptr));
      }
    }
    lock_.lock();
    Exchange* x = free_;
    if (x != nullptr) {
      free_ = x->next_free;
      --nfree_;
    }
    lock_.unlock();
    if (x == nullptr) return std::make_unique<Exchange>();
    x->next_free = nullptr;
    return std::unique_ptr<Exchange>(x);
  }

  // Takes x back (its contents as they are: the next user resets what it uses).
  void put(std::unique_ptr<Exchange> x) noexcept {
    if (x == nullptr || x->cap > Exchange::kMaxPooledBuffer ||
        x->out.capacity() > Exchange::kMaxPooledBuffer) {
      return;  // grown: freed with x
    }
    x->out.clear();
    {
      goro::detail::ProcPin pin;
      if (Exchange** s = slots_.slot(pin); s != nullptr) {
        Exchange* older = std::exchange(*s, x.release());
        if (older == nullptr) return;
        x.reset(older);  // the slot's previous occupant goes to the list
      }
    }
    lock_.lock();
    if (nfree_ < kMaxFree) {
      x->next_free = free_;
      free_ = x.release();
      ++nfree_;
    }
    lock_.unlock();
  }

 private:
  goro::detail::ProcSlots<Exchange*> slots_;  // each P's last returned exchange
  goro::detail::Lock lock_;  // a leaf: guards free_ and nfree_
  Exchange* free_ = nullptr;
  int nfree_ = 0;
};

}  // namespace goro::http::detail

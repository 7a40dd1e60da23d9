// chan.cpp — channels: send, receive, close (Go: runtime/chan.go).
//
// The problem. A channel hands values from goroutines to goroutines. A sender must find
// either a parked receiver, room in the buffer, or park itself; a receiver the mirror
// image; close must wake everyone. Goroutines on different Ms race on all of it, and a
// goroutine parking must never miss the wake-up meant for it ("lost wake-up"), nor be
// woken twice, nor be woken while still running on its stack. select (select.cpp) waits
// on many channels at once with the same queues.
//
// Rejected approaches.
//  - A lock-free ring plus a separate waiter list: the "is anyone waiting?" check and
//    "park" become two steps that need a second handshake (an eventcount) to close the
//    window between them, and select would need to commit to several rings at once. Go
//    itself keeps one lock per channel; its fast paths are lock-free only for the
//    *failing* non-blocking case.
//  - A per-operation heap node (a promise/future per waiter): an allocation per blocking
//    operation, where Go uses a per-G cached sudog. goro's stacks never move, so the
//    waiter can simply live in the blocked goroutine's frame.
//  - Templates all the way down: every Chan<T> would instantiate the whole protocol.
//    Here the element type is erased into an ElemOps table (chan_core.hpp), so this file
//    and select.cpp are compiled once.
//
// The approach, as Go's. One detail::Lock per channel (ChanState::lock) guards the ring
// buffer and two FIFO wait queues of Waiters (Go's sudogs): recvq and sendq. Under the lock:
//  - send: closed -> throw; a parked receiver -> move the value straight into the
//    receiver's frame (no trip through the buffer) and ready it; room -> buffer it;
//    otherwise enqueue a Waiter pointing at the sender's value and park.
//  - receive: a parked sender -> take its value (unbuffered: directly; buffered: the
//    buffer is full, so take the head and put the sender's value at the tail, keeping
//    FIFO order); a buffered value -> take it; closed -> "closed" result; otherwise
//    enqueue a Waiter pointing at raw storage in the receiver's frame and park.
//  - close: mark closed, dequeue every waiter with success = false, unlock, ready them.
//  Parking uses the one protocol of park.hpp: the goroutine enqueues itself under the
//  lock and parks with an unlock function that releases the lock only after the switch,
//  so a waker that finds the Waiter can never ready a goroutine that is still running.
//  The waker writes the value and Waiter::success, sets g_param to the Waiter (Go's
//  gp.param = sg), releases the lock and only then calls ready(); the woken goroutine
//  reads its Waiter after park() returns — ready/park order those accesses. Wake-ups
//  are never spurious: only a waker that dequeued the Waiter under the lock readies it.
//
// Lock-free fast paths (Go's, for non-blocking operations that fail): try_send on an
// open full channel and try_recv on an empty one return without the lock by reading
// `closed`, `qcount` and the queues' heads atomically; see ChanState::full(). These only
// ever report "would block" or "closed and drained", both irreversible-or-harmless
// observations, exactly as in Go's chansend/chanrecv.
//
// Go functions mirrored: makechan (chan_make), chansend (chan_send), send
// (chan_send_direct), chanrecv (chan_recv), recv (chan_recv_direct), closechan
// (chan_close), waitq.enqueue/dequeue/dequeueSudoG (hchan.hpp), chanparkcommit
// (unlock_chan). selectgo is in select.cpp.
#include <goro/core/chan.hpp>

#include <algorithm>
#include <cassert>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>

#include "hchan.hpp"
#include "sched.hpp"

namespace goro::detail {

namespace {

// Go: chanparkcommit. Runs after the switch, on another stack.
bool unlock_chan(G*, void* c) noexcept {
  static_cast<ChanState*>(c)->lock.unlock();
  return true;
}

bool unlock_nothing(G*, void*) noexcept { return true; }

std::size_t round_up(std::size_t n, std::size_t a) noexcept { return (n + a - 1) / a * a; }

}  // namespace

[[noreturn]] void throw_send_on_closed() { throw ChanClosedError("send on closed channel"); }

G* chan_current_g(const char* what) {
  G* g = current_g();
  if (g == nullptr) {
    throw std::logic_error(std::string("goro: ") + what + " would block outside a goroutine");
  }
  return g;
}

void chan_park_forever(WaitReason reason) {
  chan_current_g(reason == WaitReason::kChanSend      ? "send on nil channel"
                 : reason == WaitReason::kChanReceive ? "receive from nil channel"
                                                      : "select");
  // Nobody holds a reference to this goroutine: no ready() can ever come. Loop anyway
  // so that this function provably never returns.
  for (;;) park(&unlock_nothing, nullptr, reason);
}

// Go: makechan.
ChanHeader* chan_make(const ElemOps* ops, std::size_t cap) {
  const std::size_t align = std::max(alignof(ChanState), ops->align);
  const std::size_t offset = round_up(sizeof(ChanState), ops->align);
  if (cap > (std::numeric_limits<std::size_t>::max() / 2 - offset) / ops->size) {
    throw std::length_error("goro::Chan: capacity out of range");  // Go: makechan: size out of range
  }
  void* mem = ::operator new(offset + cap * ops->size, std::align_val_t(align));
  auto* c = ::new (mem) ChanState();
  c->cap = cap;
  c->ops = ops;
  c->buf = static_cast<unsigned char*>(mem) + offset;
  c->alloc_align = align;
  return c;
}

void chan_destroy(ChanHeader* h) noexcept {
  auto* c = static_cast<ChanState*>(h);
  // The last handle is gone, so no goroutine can be parked here (a parked one holds a
  // handle) and no lock is needed: chan_release's acquire made every write visible.
  std::size_t n = c->qcount.load(std::memory_order_relaxed);  // relaxed: sole owner now
  for (std::size_t i = 0, x = c->recvx; i < n; ++i) {
    elem_destroy(c->ops, c->slot(x));
    if (++x == c->cap) x = 0;
  }
  const std::size_t align = c->alloc_align;
  c->~ChanState();
  ::operator delete(static_cast<void*>(c), std::align_val_t(align));
}

std::size_t chan_len(const ChanHeader* h) noexcept {
  if (h == nullptr) return 0;
  // relaxed: a snapshot with no ordering promise, like Go's len(ch).
  return static_cast<const ChanState*>(h)->qcount.load(std::memory_order_relaxed);
}

G* chan_send_direct(ChanState* c, Waiter* w, void* elem) noexcept {
  if (w->elem != nullptr) elem_move(c->ops, w->elem, elem);
  w->success = true;
  set_g_param(w->g, w);
  return w->g;
}

G* chan_recv_direct(ChanState* c, Waiter* w, void* slot) noexcept {
  if (c->cap == 0) {
    if (slot != nullptr) elem_move(c->ops, slot, w->elem);
  } else {
    // A sender is parked, so the buffer is full and recvx == sendx. Take the head and
    // put the sender's value in its place, which becomes the tail.
    void* head = c->slot(c->recvx);
    if (slot != nullptr) elem_move(c->ops, slot, head);
    elem_destroy(c->ops, head);
    elem_move(c->ops, head, w->elem);
    if (++c->recvx == c->cap) c->recvx = 0;
    c->sendx = c->recvx;
  }
  w->success = true;
  set_g_param(w->g, w);
  return w->g;
}

void chan_buf_put(ChanState* c, void* elem) noexcept {
  elem_move(c->ops, c->slot(c->sendx), elem);
  if (++c->sendx == c->cap) c->sendx = 0;
  // release: pairs with the fast paths' seq_cst loads, so a reader that sees this count
  // sees the close (or not) that preceded it under the lock. relaxed load: under lock.
  c->qcount.store(c->qcount.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

void chan_buf_take(ChanState* c, void* slot) noexcept {
  void* head = c->slot(c->recvx);
  if (slot != nullptr) elem_move(c->ops, slot, head);
  elem_destroy(c->ops, head);
  if (++c->recvx == c->cap) c->recvx = 0;
  // release: as in chan_buf_put (Go's scenario: drained after close must not read as
  // "open and empty"). relaxed load: under the lock.
  c->qcount.store(c->qcount.load(std::memory_order_relaxed) - 1, std::memory_order_release);
}

namespace {

// Go: chansend.
bool chan_send_impl(ChanHeader* h, void* elem, bool block) {
  if (h == nullptr) {
    if (!block) return false;
    chan_park_forever(WaitReason::kChanSend);
  }
  auto* c = static_cast<ChanState*>(h);

  // Fast path: a non-blocking send that must fail, decided without the lock. Not closed
  // (read first) then full: a channel cannot go from "ready to send" back to "not
  // ready" by being closed, so some moment between the two reads saw it open and full.
  // seq_cst: see ChanState::full().
  if (!block && !c->closed.load(std::memory_order_seq_cst) && c->full()) return false;

  c->lock.lock();
  // relaxed (here and below, under the lock): the lock orders every write to these.
  if (c->closed.load(std::memory_order_relaxed)) {
    c->lock.unlock();
    throw_send_on_closed();
  }
  if (Waiter* w = c->recvq.dequeue()) {
    G* g = chan_send_direct(c, w, elem);
    c->lock.unlock();
    ready(g);
    return true;
  }
  if (c->qcount.load(std::memory_order_relaxed) < c->cap) {
    chan_buf_put(c, elem);
    c->lock.unlock();
    return true;
  }
  if (!block) {
    c->lock.unlock();
    return false;
  }

  G* g = current_g();
  if (g == nullptr) {
    c->lock.unlock();
    chan_current_g("channel send");  // throws
  }
  Waiter me{g, nullptr, nullptr, elem, c, nullptr, 0, false};
  c->sendq.enqueue(&me);
  set_g_param(g, nullptr);
  park(&unlock_chan, c, WaitReason::kChanSend);
  // A receiver took the value (success) or close woke us (Go panics).
  assert(g_param(g) == &me);
  set_g_param(g, nullptr);
  if (!me.success) throw_send_on_closed();
  return true;
}

// Go: chanrecv.
RecvResult chan_recv_impl(ChanHeader* h, void* slot, bool block) {
  if (h == nullptr) {
    if (!block) return {false, false};
    chan_park_forever(WaitReason::kChanReceive);
  }
  auto* c = static_cast<ChanState*>(h);

  // Fast path: a non-blocking receive that must fail, decided without the lock.
  // Empty first, then not closed: since a channel is never reopened, "not closed" now
  // means "not closed" at the first read too, so there was a moment when it was open
  // and empty. If it is closed, re-check emptiness: data may have arrived between the
  // two reads (closed and drained is final). seq_cst: see ChanState::full().
  if (!block && c->empty()) {
    if (!c->closed.load(std::memory_order_seq_cst)) return {false, false};
    if (c->empty()) return {true, false};
  }

  c->lock.lock();
  // relaxed (here and below, under the lock): the lock orders every write to these.
  if (c->closed.load(std::memory_order_relaxed)) {
    if (c->qcount.load(std::memory_order_relaxed) == 0) {
      c->lock.unlock();
      return {true, false};
    }
    // Closed with values left: drain them first (close woke every sender already).
  } else if (Waiter* w = c->sendq.dequeue()) {
    G* g = chan_recv_direct(c, w, slot);
    c->lock.unlock();
    ready(g);
    return {true, true};
  }
  if (c->qcount.load(std::memory_order_relaxed) > 0) {
    chan_buf_take(c, slot);
    c->lock.unlock();
    return {true, true};
  }
  if (!block) {
    c->lock.unlock();
    return {false, false};
  }

  G* g = current_g();
  if (g == nullptr) {
    c->lock.unlock();
    chan_current_g("channel receive");  // throws
  }
  Waiter me{g, nullptr, nullptr, slot, c, nullptr, 0, false};
  c->recvq.enqueue(&me);
  set_g_param(g, nullptr);
  park(&unlock_chan, c, WaitReason::kChanReceive);
  // A sender moved a value into *slot (success), or close woke us.
  assert(g_param(g) == &me);
  set_g_param(g, nullptr);
  return {true, me.success};
}

}  // namespace

// Each operation is a runtime entry point: it honours a pending preemption request
// (sysmon's slice) on its way out, even when it did not park.
bool chan_send(ChanHeader* h, void* elem, bool block) {
  bool r = chan_send_impl(h, elem, block);
  preempt_check();
  return r;
}

RecvResult chan_recv(ChanHeader* h, void* slot, bool block) {
  RecvResult r = chan_recv_impl(h, slot, block);
  preempt_check();
  return r;
}

// Go: closechan.
void chan_close(ChanHeader* h) {
  if (h == nullptr) throw std::logic_error("close of nil channel");
  auto* c = static_cast<ChanState*>(h);

  c->lock.lock();
  if (c->closed.load(std::memory_order_relaxed)) {  // relaxed: under the lock
    c->lock.unlock();
    throw ChanClosedError("close of closed channel");
  }
  // release: pairs with the fast paths' seq_cst loads; a reader that sees "closed" sees
  // every buffered value that preceded the close under the lock.
  c->closed.store(true, std::memory_order_release);

  // Collect every waiter (receivers get "closed", senders will throw), oldest first,
  // linked through their now-free `next`; ready them only after unlocking (Go: glist).
  Waiter* head = nullptr;
  Waiter* tail = nullptr;
  auto collect = [&](WaitQ& q) {
    while (Waiter* w = q.dequeue()) {
      w->success = false;
      set_g_param(w->g, w);
      w->next = nullptr;
      (tail != nullptr ? tail->next : head) = w;
      tail = w;
    }
  };
  collect(c->recvq);
  collect(c->sendq);
  c->lock.unlock();

  while (head != nullptr) {
    // Read everything we need before ready(): afterwards the Waiter may be gone.
    Waiter* next = head->next;
    G* g = head->g;
    ready(g);
    head = next;
  }
}

}  // namespace goro::detail

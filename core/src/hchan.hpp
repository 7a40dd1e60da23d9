// hchan.hpp — a channel's state, its waiters and wait queues (Go's hchan, sudog, waitq).
// Shared by chan.cpp (send, receive, close) and select.cpp (selectgo); the story of how
// they fit together is at the top of chan.cpp.
#pragma once

#include <goro/core/detail/chan_core.hpp>
#include <goro/core/detail/lock.hpp>
#include <goro/core/detail/park.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace goro::detail {

struct ChanState;

// A goroutine waiting on one channel (Go: sudog). It lives in the waiting goroutine's own
// frame (chan_send/chan_recv) or in selectgo's scratch space, which stays put while the
// goroutine is parked: stacks never move in goro.
//
// Ownership: while linked into a WaitQ, every field but `g` is guarded by that queue's
// channel lock; the waker that dequeues it (and, for a select, wins *select_done) owns it
// until it calls ready(g); after that only g touches it.
struct Waiter {
  G* g;
  Waiter* next;  // WaitQ links; both nullptr once dequeued (WaitQ::remove relies on it)
  Waiter* prev;
  // send: the sender's live T (moved from by the receiver); receive: raw storage the
  // sender or the buffer moves a T into, or nullptr to discard.
  void* elem;
  ChanState* c;
  // Select only: the select's "done" word shared by all its waiters (Go: g.selectDone);
  // nullptr for a plain send/receive.
  std::atomic<std::uint32_t>* select_done;
  std::uint32_t case_index;  // select only: which case this waiter stands for
  // Written by the waker before ready(g): true = the value moved (Go: sudog.success);
  // false = woken by close.
  bool success;
};

// FIFO of Waiters (Go: waitq). Guarded by the owning channel's lock, except that `first`
// is also read without it by the non-blocking fast paths (ChanState::full/empty).
class WaitQ {
 public:
  void enqueue(Waiter* w) noexcept {
    w->next = nullptr;
    w->prev = last_;
    if (last_ != nullptr) {
      last_->next = w;
    } else {
      // release: only the null/non-null transition is read outside the lock (fast
      // paths, which never dereference it); release keeps those reads coherent with
      // the rest of the channel state published under the lock, as Go's stores are.
      first_.store(w, std::memory_order_release);
    }
    last_ = w;
  }

  // Go: waitq.dequeue. Pops the oldest waiter that can still be woken. A select waiter
  // counts only if this call wins its select's done word; losers (their select already
  // completed through another case) are dropped and left marked as dequeued, so that
  // selectgo's clean-up (remove) knows they are gone.
  Waiter* dequeue() noexcept {
    for (;;) {
      // relaxed: under the channel lock, which orders every write to first_.
      Waiter* w = first_.load(std::memory_order_relaxed);
      if (w == nullptr) return nullptr;
      Waiter* y = w->next;
      if (y == nullptr) {
        first_.store(nullptr, std::memory_order_release);  // release: see enqueue
        last_ = nullptr;
      } else {
        y->prev = nullptr;
        first_.store(y, std::memory_order_release);  // release: see enqueue
        w->next = nullptr;
      }
      // relaxed: only atomicity matters — exactly one waker (holding some channel's lock)
      // wins a select; what the winner then writes reaches the selecting goroutine
      // through ready()/park, and waiter links are guarded by their own channel's lock.
      if (w->select_done != nullptr &&
          w->select_done->exchange(1, std::memory_order_relaxed) != 0) {
        continue;
      }
      return w;
    }
  }

  // Go: waitq.dequeueSudoG. Unlinks w if it is still queued (a select's losing cases).
  void remove(Waiter* w) noexcept {
    Waiter* x = w->prev;
    Waiter* y = w->next;
    if (x != nullptr) {
      x->next = y;
      if (y != nullptr) {
        y->prev = x;
      } else {
        last_ = x;
      }
      w->prev = w->next = nullptr;
      return;
    }
    if (y != nullptr) {  // w is first
      y->prev = nullptr;
      first_.store(y, std::memory_order_release);  // release: see enqueue
      w->next = nullptr;
      return;
    }
    // No neighbours: w is the only element, or already dequeued.
    // relaxed: under the lock.
    if (first_.load(std::memory_order_relaxed) == w) {
      first_.store(nullptr, std::memory_order_release);  // release: see enqueue
      last_ = nullptr;
    }
  }

  // Lock-free peek for the fast paths. seq_cst: see ChanState::full().
  bool racy_empty() const noexcept { return first_.load(std::memory_order_seq_cst) == nullptr; }

 private:
  std::atomic<Waiter*> first_{nullptr};  // atomic: written under the lock; see racy_empty
  Waiter* last_ = nullptr;               // guarded by the channel lock
};

// Go: hchan. Allocated by chan_make in one block with its ring buffer right behind it.
struct ChanState : ChanHeader {
  const ElemOps* ops = nullptr;  // immutable
  unsigned char* buf = nullptr;  // immutable: cap slots of ops->size bytes
  std::size_t alloc_align = 0;   // immutable: the block's alignment, for chan_destroy

  // Owner of everything below: this lock. Held only for a few dozen instructions plus
  // element moves, never across a park except by the parking goroutine itself, whose
  // unlock function releases it after the switch. Lock order: channel locks are leaves,
  // except that a select holds several at once, always taken in address order.
  Lock lock;
  // atomic: written under `lock`; read without it by the fast paths and len().
  std::atomic<std::size_t> qcount{0};
  std::size_t sendx = 0;  // next slot to fill (guarded by lock)
  std::size_t recvx = 0;  // next slot to drain (guarded by lock)
  // atomic: set once, under `lock`, by close; read without it by the fast paths.
  std::atomic<bool> closed{false};
  WaitQ recvq;  // parked receivers (guarded by lock)
  WaitQ sendq;  // parked senders (guarded by lock)

  void* slot(std::size_t i) const noexcept { return buf + i * ops->size; }

  // Go: full(). Whether a send would block, read without the lock by the non-blocking
  // fast paths, which read two words (this and `closed`) and argue about a moment
  // between the two reads (see chan_send/chan_recv). What the argument needs: every
  // store to qcount, closed and the queue heads is a release made under the lock, and
  // these loads are at least acquire, so they stay in program order and a load that
  // reads a value stored after a close (say, the count of a buffer drained after the
  // close) also sees the close. seq_cst, as Go's atomic loads are: on x86 it is a plain
  // load, on ARM the same ldar as acquire.
  bool full() const noexcept {
    if (cap == 0) return recvq.racy_empty();
    return qcount.load(std::memory_order_seq_cst) == cap;
  }
  // Go: empty(). Whether a receive would block, read without the lock (as full()).
  bool empty() const noexcept {
    if (cap == 0) return sendq.racy_empty();
    return qcount.load(std::memory_order_seq_cst) == 0;
  }
};

inline void elem_move(const ElemOps* ops, void* dst, void* src) noexcept {
  if (ops->move != nullptr) {
    ops->move(dst, src);
  } else {
    std::memcpy(dst, src, ops->size);
  }
}
inline void elem_destroy(const ElemOps* ops, void* p) noexcept {
  if (ops->destroy != nullptr) ops->destroy(p);
}

// The operations shared by chan.cpp and select.cpp. All need c->lock held and leave it
// held; those returning a G hand back the goroutine to ready() once the caller has
// released its lock(s) (Go passes an unlock function instead; returning the G keeps the
// unlocking with the code that locked).

// Go: send (to a parked receiver). w came from c->recvq.dequeue().
G* chan_send_direct(ChanState* c, Waiter* w, void* elem) noexcept;
// Go: recv (from a parked sender). w came from c->sendq.dequeue(); the buffer, if any,
// is full: take its head and put the sender's value at its tail.
G* chan_recv_direct(ChanState* c, Waiter* w, void* slot) noexcept;
// Buffered send/receive; need qcount < cap / qcount > 0.
void chan_buf_put(ChanState* c, void* elem) noexcept;
void chan_buf_take(ChanState* c, void* slot) noexcept;

// Parks the calling goroutine for good (nil channel, empty select). Throws
// std::logic_error outside a goroutine.
[[noreturn]] void chan_park_forever(WaitReason reason);
// The running goroutine, or std::logic_error naming `what` if there is none.
G* chan_current_g(const char* what);

[[noreturn]] void throw_send_on_closed();

}  // namespace goro::detail

// select.cpp — waiting on several channel operations at once (Go: runtime/select.go).
//
// The problem. A select must commit to exactly one of its cases, atomically with respect
// to every channel involved: never take a value from two channels, never leave a sender
// believing it was received when the select went another way, and never deadlock with
// another select that locks the same channels in a different order. When several cases
// are ready it must not favour any (Go promises a uniform choice).
//
// Rejected: polling each case with try_send/try_recv in a loop (busy-waits, and the
// choice among ready cases drifts with timing); one global select lock (serialises
// every select in the program); parking once per channel (a goroutine can be on only
// one wait queue at a time that way).
//
// The approach, Go's selectgo, in three passes over the cases:
//  0. pollorder: a random permutation of the cases (Fisher–Yates with fastrand) — the
//     order in which ready cases are looked for, hence the uniform choice. lockorder:
//     the distinct channels sorted by address; every select takes channel locks in this
//     one global order, so two selects can never deadlock. Nil channels are skipped.
//  1. With all locks held, look for a ready case in pollorder (the same checks as
//     chan_send/chan_recv). Found: do it, unlock, done. None and there is a default:
//     unlock, return -1.
//  2. Enqueue one Waiter per case on its channel's queue, all pointing at one shared
//     "done" word (Go: g.selectDone), and park once; the unlock function releases every
//     lock after the switch. A waker on any channel that dequeues one of these Waiters
//     must first win done 0 -> 1 (WaitQ::dequeue); the first wins and completes its
//     case, later ones skip the stale Waiter as if it were not there.
//  3. Woken: the winning Waiter is in g_param. Take all the locks again and unlink the
//     other Waiters (they may still be queued; those a losing waker already popped are
//     recognised by their null links), unlock, report the winner's case.
// Waiters and the done word live in this frame; every access to them by other
// goroutines happens under a channel lock that pass 3 takes before this frame goes away.
//
// Go functions mirrored: selectgo, sellock, selunlock, selparkcommit (unlock_all), block
// (select with no cases).
#include <goro/core/chan.hpp>

#include <algorithm>
#include <cassert>
#include <functional>
#include <memory>

#include "debug.hpp"
#include "hchan.hpp"
#include "sched.hpp"

namespace goro::detail {

namespace {

// Inline room for this many cases; larger selects use the heap (allocated before any
// lock is taken).
constexpr std::size_t kInlineCases = 8;

// An array of n Ts: on the stack when small.
template <class T>
class Scratch {
 public:
  explicit Scratch(std::size_t n) {
    if (n > kInlineCases) {
      heap_.reset(new T[n]);
      data_ = heap_.get();
    }
  }
  T& operator[](std::size_t i) noexcept { return data_[i]; }
  T* data() noexcept { return data_; }

 private:
  T inline_[kInlineCases];
  std::unique_ptr<T[]> heap_;
  T* data_ = inline_;
};

// Go: sellock. Each distinct channel once, in address order.
void lock_all(ChanState* const* locks, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) locks[i]->lock.lock();
}

// Go: selunlock.
void unlock_all(ChanState* const* locks, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) locks[i]->lock.unlock();
}

struct ParkArg {
  ChanState* const* locks;
  std::size_t n;
};

// Go: selparkcommit. Runs after the switch, on another stack, possibly while the
// selecting goroutine — readied as soon as the first lock drops — already runs pass 3
// on another M. That is safe: it only reads `locks` (which lives in selectgo's frame),
// and selectgo cannot return before pass 3 has re-taken the last lock, which happens
// after this function's last read.
bool park_unlock_all(G*, void* arg) noexcept {
  auto* a = static_cast<ParkArg*>(arg);
  ChanState* const* locks = a->locks;
  const std::size_t n = a->n;
  for (std::size_t i = 0; i < n; ++i) locks[i]->lock.unlock();
  return true;
}

}  // namespace

namespace {

// Go: selectgo.
SelectResult selectgo_impl(Scase* cases, std::size_t n, bool block) {
  if (n == 0) {
    if (!block) return {-1, false};
    chan_park_forever(WaitReason::kSelectNoCases);  // Go: block()
  }

  Scratch<std::uint32_t> pollorder(n);
  Scratch<ChanState*> locks(n);

  // Pass 0. pollorder: "inside-out" Fisher–Yates over the non-nil cases.
  std::size_t norder = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (cases[i].c == nullptr) continue;
    std::uint32_t j = fastrandn(static_cast<std::uint32_t>(norder + 1));
    pollorder[norder] = pollorder[j];
    pollorder[j] = static_cast<std::uint32_t>(i);
    ++norder;
  }
  if (norder == 0) {
    if (!block) return {-1, false};
    chan_park_forever(WaitReason::kSelect);  // only nil channels: Go blocks forever too
  }
  // lockorder: distinct channels by address. std::less gives the total order on
  // pointers that the built-in < does not promise.
  for (std::size_t k = 0; k < norder; ++k) {
    locks[k] = static_cast<ChanState*>(cases[pollorder[k]].c);
  }
  std::sort(locks.data(), locks.data() + norder, std::less<ChanState*>());
  const std::size_t nlocks =
      static_cast<std::size_t>(std::unique(locks.data(), locks.data() + norder) - locks.data());

  // The Waiters for pass 2 are reserved now, so no allocation happens under the locks.
  Scratch<Waiter> waiters(block ? n : 0);

  lock_all(locks.data(), nlocks);

  // Pass 1: look for a ready case, in pollorder. relaxed loads: under the locks.
  for (std::size_t k = 0; k < norder; ++k) {
    const std::uint32_t i = pollorder[k];
    Scase& cs = cases[i];
    auto* c = static_cast<ChanState*>(cs.c);
    if (cs.is_send) {
      if (c->closed.load(std::memory_order_relaxed)) {
        unlock_all(locks.data(), nlocks);
        throw_send_on_closed();  // Go: sclose
      }
      if (Waiter* w = c->recvq.dequeue()) {
        G* wg = chan_send_direct(c, w, cs.elem);
        unlock_all(locks.data(), nlocks);
        ready(wg);
        return {static_cast<std::ptrdiff_t>(i), false};
      }
      if (c->qcount.load(std::memory_order_relaxed) < c->cap) {
        chan_buf_put(c, cs.elem);
        unlock_all(locks.data(), nlocks);
        return {static_cast<std::ptrdiff_t>(i), false};
      }
    } else {
      if (Waiter* w = c->sendq.dequeue()) {
        G* wg = chan_recv_direct(c, w, cs.elem);
        unlock_all(locks.data(), nlocks);
        ready(wg);
        return {static_cast<std::ptrdiff_t>(i), true};
      }
      if (c->qcount.load(std::memory_order_relaxed) > 0) {
        chan_buf_take(c, cs.elem);
        unlock_all(locks.data(), nlocks);
        return {static_cast<std::ptrdiff_t>(i), true};
      }
      if (c->closed.load(std::memory_order_relaxed)) {
        unlock_all(locks.data(), nlocks);
        return {static_cast<std::ptrdiff_t>(i), false};  // Go: rclose
      }
    }
  }
  if (!block) {
    unlock_all(locks.data(), nlocks);
    return {-1, false};
  }

  // Pass 2: a Waiter on every non-nil case (each fully assigned here), then park once.
  G* g = current_g();
  if (g == nullptr) {
    unlock_all(locks.data(), nlocks);
    chan_current_g("select");  // throws: would block outside a goroutine
  }
  // Written only by wakers holding a channel lock (see WaitQ::dequeue); outlives them
  // because pass 3 takes every lock again before this frame can go away.
  std::atomic<std::uint32_t> done{0};
  for (std::size_t i = 0; i < n; ++i) {
    Scase& cs = cases[i];
    if (cs.c == nullptr) continue;
    auto* c = static_cast<ChanState*>(cs.c);
    Waiter& w = waiters[i];
    w = Waiter{g, nullptr, nullptr, cs.elem, c, &done, static_cast<std::uint32_t>(i), false};
    (cs.is_send ? c->sendq : c->recvq).enqueue(&w);
  }
  set_g_param(g, nullptr);
  ParkArg arg{locks.data(), nlocks};
  park(&park_unlock_all, &arg, WaitReason::kSelect);

  // Pass 3: the winner is in g_param; unlink the rest.
  lock_all(locks.data(), nlocks);
  auto* won = static_cast<Waiter*>(g_param(g));
  set_g_param(g, nullptr);
  assert(won != nullptr && won >= &waiters[0] && won < &waiters[0] + n);
  for (std::size_t i = 0; i < n; ++i) {
    Scase& cs = cases[i];
    if (cs.c == nullptr || &waiters[i] == won) continue;
    auto* c = static_cast<ChanState*>(cs.c);
    (cs.is_send ? c->sendq : c->recvq).remove(&waiters[i]);
  }
  unlock_all(locks.data(), nlocks);

  const std::uint32_t i = won->case_index;
  if (cases[i].is_send) {
    if (!won->success) throw_send_on_closed();  // closed while we waited: Go panics
    return {static_cast<std::ptrdiff_t>(i), false};
  }
  return {static_cast<std::ptrdiff_t>(i), won->success};
}

}  // namespace

// A runtime entry point: honours a pending preemption request on its way out.
SelectResult selectgo(Scase* cases, std::size_t n, bool block) {
  SelectResult r = selectgo_impl(cases, n, block);
  preempt_check();
  return r;
}

}  // namespace goro::detail

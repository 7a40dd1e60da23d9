// goro/core/detail/sema.hpp — the wait queue and semaphore every sync primitive parks on.
//
// Go: runtime/sema.go (semacquire1, semrelease1, sudog). Go keeps one global table of
// wait trees keyed by address; goro gives each primitive its own small FIFO under a
// detail::Lock instead (the object is the key), which is simpler and never contends
// across unrelated primitives. The public headers embed these types, so they live here;
// the code is in core/src/sema.cpp.
//
// Protocol (see park.hpp): the waiter puts a Waiter on its own stack, links it into a
// WaitQueue under the primitive's Lock, and calls park_unlock(lock), which releases the
// Lock only once the goroutine is off its stack. A waker takes the Lock, unlinks the
// Waiter, copies out what it needs (g, next), drops the Lock and ready()s the g; after
// ready() it must not touch the Waiter again: its stack frame may be gone.
#pragma once

#include <atomic>
#include <cstdint>

#include <goro/core/detail/lock.hpp>
#include <goro/core/detail/park.hpp>

namespace goro::detail {

// One parked goroutine on a wait queue (Go's sudog). Lives on the parked goroutine's
// stack; valid from being linked until its goroutine is readied. goro does not use
// g_wait_link for these queues because waiters carry per-wait data (ticket, weight,
// "granted") that a bare G link cannot hold.
struct Waiter {
  G* g = nullptr;           // set by the waiter before linking; read by the waker
  Waiter* next = nullptr;   // guarded by the owning primitive's Lock
  std::uint64_t value = 0;  // payload (Cond ticket, Semaphore weight); set before linking
  // Written by the waker before ready(g), read by g after park() returns; ready/park order
  // the two (Go's sudog.ticket: "the waker handed me what I waited for").
  bool granted = false;
};

// Intrusive singly linked FIFO of Waiters. Not synchronized: every call is made with the
// owning primitive's Lock held.
class WaitQueue {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  Waiter* front() const noexcept { return head_; }

  void push_back(Waiter* w) noexcept {
    w->next = nullptr;
    if (tail_ != nullptr) {
      tail_->next = w;
    } else {
      head_ = w;
    }
    tail_ = w;
  }

  // Go: semaRoot.queue with lifo=true — a waiter that was woken and lost the race goes
  // back to the front rather than behind everyone who arrived while it ran.
  void push_front(Waiter* w) noexcept {
    w->next = head_;
    head_ = w;
    if (tail_ == nullptr) tail_ = w;
  }

  Waiter* pop_front() noexcept {
    Waiter* w = head_;
    if (w != nullptr) {
      head_ = w->next;
      if (head_ == nullptr) tail_ = nullptr;
      w->next = nullptr;
    }
    return w;
  }

  // Unlinks and returns the whole list (a nullptr-terminated chain through next).
  Waiter* take_all() noexcept {
    Waiter* w = head_;
    head_ = tail_ = nullptr;
    return w;
  }

  // Unlinks and returns the first waiter whose value is v, or nullptr.
  Waiter* remove_value(std::uint64_t v) noexcept {
    Waiter* prev = nullptr;
    for (Waiter* w = head_; w != nullptr; prev = w, w = w->next) {
      if (w->value != v) continue;
      if (prev != nullptr) {
        prev->next = w->next;
      } else {
        head_ = w->next;
      }
      if (tail_ == w) tail_ = prev;
      w->next = nullptr;
      return w;
    }
    return nullptr;
  }

 private:
  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
};

// Parks the running goroutine with `lock` held by the caller; the lock is released after
// the switch, so a waker that takes it can never ready() a goroutine still on its stack.
// Go: goparkunlock.
void park_unlock(Lock& lock, WaitReason reason) noexcept;

// The calling goroutine, or a fatal error naming `what` if the caller is not a goroutine
// (a sync primitive cannot park a plain thread).
G* current_g_or_die(const char* what) noexcept;
// The fatal error itself: "goro: fatal error: <what> would block outside a goroutine".
[[noreturn]] void fatal_outside_goroutine(const char* what) noexcept;

// Prints "goro: fatal error: <msg> (goroutine <id>)" on stderr and calls std::abort().
// Used for misuse Go reports with fatal() (unrecoverable, not a panic), e.g.
// "sync: unlock of unlocked mutex".
[[noreturn]] void sync_fatal(const char* msg) noexcept;

// A counting semaphore used as a sleep/wake-up primitive by Mutex and RWMutex (Go's
// runtime semaphore: "every sleep is paired with a single wakeup, even if the wakeup
// happens before the sleep"). Not the public goro::Semaphore.
//
// Tokens: release() gives its token straight to the front waiter if there is one
// (granted), otherwise stores it in count_; acquire() takes a stored token or parks.
// Unlike Go, a token is never put in count_ while someone is queued, so a waiter can
// never be woken only to find its token stolen: every wake-up carries the token.
class Sema {
 public:
  // Go: semacquire1(addr, lifo, ...). Takes one token, parking until one is released.
  // lifo: queue at the front (a waiter that already waited once, as Go's Mutex asks).
  void acquire(bool lifo, WaitReason reason) noexcept;
  // Go: cansemacquire. Takes a stored token without waiting.
  bool try_acquire() noexcept;
  // Go: semrelease1(addr, handoff, ...). Releases n tokens: each goes to the front waiter
  // (readied into this P's runnext) or, with nobody waiting, into count_. handoff: after
  // readying a waiter, yield so it runs at once on this P (Go: goyield), used by Mutex in
  // starvation mode so the new owner is not left waiting behind the releaser.
  void release(bool handoff, std::uint32_t n = 1) noexcept;

 private:
  // atomic: incremented by release() under lock_; decremented by try_acquire() with or
  // without lock_ (the lock-free fast path).
  std::atomic<std::uint32_t> count_{0};
  Lock lock_;          // guards waiters_ and every increment of count_
  WaitQueue waiters_;  // guarded by lock_
};

}  // namespace goro::detail

// sema.cpp — the sleep/wake-up semaphore and wait-queue helpers behind goro's sync
// primitives (see goro/core/detail/sema.hpp for the protocol).
//
// Problem: Mutex and RWMutex need "park until someone releases a token" where the release
// may come before the park (the waker saw a waiter count the waiter has not acted on yet).
//
// Rejected: Go's design — one global hash table of treaps keyed by address, with tokens
// always counted in the user's word and an nwait counter read without the lock — because
// goro can give every primitive its own queue (the object is the key), and counting the
// token before dequeuing lets a barging acquirer steal a token meant for a woken waiter,
// who must then requeue. Rejected too: parking on g_wait_link alone (no room for the
// per-wait "granted" flag).
//
// Chosen: count_ + a FIFO of stack-allocated Waiters under a Lock. release() always takes
// the Lock: if someone is queued it hands the token to the front waiter directly,
// otherwise it stores it. acquire() tries a lock-free decrement first, then re-checks
// under the Lock before queuing, so a token stored concurrently is never missed. Callers
// (Mutex, RWMutex) only release when their state word says someone is or will be waiting,
// so the Lock on release costs what Go's semaRoot lock costs.
//
// Go functions mirrored: semacquire1 (acquire), cansemacquire (try_acquire), semrelease1
// (release, including handoff + goyield), goparkunlock (park_unlock).
#include <goro/core/detail/sema.hpp>

#include <cassert>
#include <cstdio>
#include <cstdlib>

namespace goro::detail {

namespace {
bool unlock_lock(G* /*g*/, void* lock) noexcept {
  static_cast<Lock*>(lock)->unlock();
  return true;
}
}  // namespace

void park_unlock(Lock& lock, WaitReason reason) noexcept { park(&unlock_lock, &lock, reason); }

// The message format matches the runtime's fatal() ("goro: fatal error: ..."); unlike it
// we abort() rather than exit(2): these are bugs in the caller, and a core dump (or a
// debugger stop) at the misuse is worth more than a clean exit status.
void fatal_outside_goroutine(const char* what) noexcept {
  std::fprintf(stderr, "goro: fatal error: %s would block outside a goroutine\n", what);
  std::fflush(stderr);
  std::abort();
}

G* current_g_or_die(const char* what) noexcept {
  G* g = current_g();
  if (g == nullptr) fatal_outside_goroutine(what);
  return g;
}

void sync_fatal(const char* msg) noexcept {
  G* g = current_g();
  if (g != nullptr) {
    std::fprintf(stderr, "goro: fatal error: %s (goroutine %llu)\n", msg,
                 static_cast<unsigned long long>(g_id(g)));
  } else {
    std::fprintf(stderr, "goro: fatal error: %s\n", msg);
  }
  std::fflush(stderr);
  std::abort();
}

bool Sema::try_acquire() noexcept {
  // relaxed: only a first guess for the CAS below, which re-reads on failure.
  std::uint32_t v = count_.load(std::memory_order_relaxed);
  while (v > 0) {
    // acquire: pairs with the release increment in release(), so the taker sees what the
    // releaser did before releasing (the sync primitives' state changes).
    if (count_.compare_exchange_weak(v, v - 1, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

void Sema::acquire(bool lifo, WaitReason reason) noexcept {
  if (try_acquire()) return;
  Waiter w;
  w.g = current_g_or_die("goro sync primitive");
  lock_.lock();
  // Re-check under lock_: every increment of count_ happens under lock_, so either we
  // see the token here or its releaser will see us queued (no lost wake-up).
  if (try_acquire()) {
    lock_.unlock();
    return;
  }
  if (lifo) {
    waiters_.push_front(&w);
  } else {
    waiters_.push_back(&w);
  }
  park_unlock(lock_, reason);
  // release() unlinked us and handed us its token before ready()ing us.
  assert(w.granted);
}

void Sema::release(bool handoff, std::uint32_t n) noexcept {
  if (n == 0) return;
  Waiter* woken = nullptr;  // chain of waiters to ready once lock_ is dropped
  Waiter** tail = &woken;
  lock_.lock();
  for (; n > 0; --n) {
    Waiter* w = waiters_.pop_front();
    if (w == nullptr) break;
    w->granted = true;
    *tail = w;
    tail = &w->next;
  }
  if (n > 0) {
    // release: pairs with try_acquire()'s acquire CAS (a later taker sees our writes).
    count_.fetch_add(n, std::memory_order_release);
  }
  lock_.unlock();
  // The Waiters stay valid until their goroutines are readied: read next/g first.
  bool readied = false;
  while (woken != nullptr) {
    Waiter* next = woken->next;
    G* g = woken->g;
    ready(g);
    readied = true;
    woken = next;
  }
  // Go: semrelease1's "if s.ticket == 1 && getg().m.locks == 0 { goyield() }".
  if (handoff && readied && current_g() != nullptr) yield_local();
}

}  // namespace goro::detail

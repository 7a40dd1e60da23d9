// runq.cpp — the per-P run queue; the rules are in runq.hpp.
#include "runq.hpp"

#include <thread>

#include "debug.hpp"
#include "g.hpp"
#include "p.hpp"
#include "sched.hpp"

namespace goro::detail {

// Go: runqput.
void RunQ::put(P* p, G* g, bool next) noexcept {
  (void)p;
  if (g_randomize && next && fastrandn(2) == 0) next = false;
  if (next) {
    G* old = runnext_.load(std::memory_order_relaxed);
    // acq_rel: release publishes g's fields to a thief that takes it from runnext
    // (its CAS acquires); acquire pairs with a thief's clearing CAS.
    while (!runnext_.compare_exchange_weak(old, g, std::memory_order_acq_rel,
                                           std::memory_order_relaxed)) {
    }
    if (old == nullptr) return;
    g = old;  // kick the old runnext to the ring's tail
  }
  for (;;) {
    // acquire: pairs with consumers' release CAS on head, so the slots they vacated
    // are really free before we overwrite them.
    std::uint32_t h = head_.load(std::memory_order_acquire);
    std::uint32_t t = tail_.load(std::memory_order_relaxed);  // we are the only writer
    if (t - h < kRunqSize) {
      ring_[t % kRunqSize].store(g, std::memory_order_relaxed);
      // release: makes the slot (and g's fields) visible to consumers that acquire tail.
      tail_.store(t + 1, std::memory_order_release);
      return;
    }
    if (put_slow(g, h, t)) return;
    // the queue is not full any more (a thief took some); retry the fast path
  }
}

// Go: runqputslow. Moves half the ring plus g to the global queue in one batch.
bool RunQ::put_slow(G* g, std::uint32_t h, std::uint32_t t) noexcept {
  constexpr std::uint32_t n = kRunqSize / 2;
  G* batch[n + 1];
  if (t - h != kRunqSize) return false;
  for (std::uint32_t i = 0; i < n; ++i) {
    batch[i] = ring_[(h + i) % kRunqSize].load(std::memory_order_relaxed);
  }
  // release: the slots we read may be reused by the owner (us) only after this; a
  // failed CAS means a thief took some, so the ring is no longer full.
  if (!head_.compare_exchange_strong(h, h + n, std::memory_order_release,
                                     std::memory_order_relaxed)) {
    return false;
  }
  batch[n] = g;
  // Unlike Go, which moves the oldest half as it is: goroutines that have already run
  // (woken from a park, with a stack bound) stay here, up to a quarter of the ring,
  // ahead of goroutines never started. Those have done nothing yet and can wait at the
  // global queue's tail; a woken one sent there waits behind the whole spawn backlog
  // (100,000 sleepers spawned at once: p99 lateness 100+ ms, mostly that). Order among
  // the kept ones and among the moved ones is preserved.
  G* keep[kRunqSize / 4];
  std::uint32_t nkeep = 0, nmove = 0;
  for (std::uint32_t i = 0; i <= n; ++i) {
    G* b = batch[i];
    if (b->stack_base != nullptr && nkeep < kRunqSize / 4) {
      keep[nkeep++] = b;
    } else {
      batch[nmove++] = b;
    }
  }
  if (nkeep > 0) {
    // The ring has n free slots now (we claimed them), so the kept ones fit.
    std::uint32_t tt = tail_.load(std::memory_order_relaxed);  // we are the only writer
    for (std::uint32_t i = 0; i < nkeep; ++i) {
      ring_[(tt + i) % kRunqSize].store(keep[i], std::memory_order_relaxed);
    }
    // release: publishes the slots to consumers that acquire tail.
    tail_.store(tt + nkeep, std::memory_order_release);
  }
  if (nmove == 0) return true;
  if (g_randomize) {
    for (std::uint32_t i = 1; i < nmove; ++i) {
      std::uint32_t j = fastrandn(i + 1);
      G* tmp = batch[i];
      batch[i] = batch[j];
      batch[j] = tmp;
    }
  }
  for (std::uint32_t i = 0; i + 1 < nmove; ++i) batch[i]->sched_link = batch[i + 1];
  batch[nmove - 1]->sched_link = nullptr;
  globrunq_put_batch(batch[0], batch[nmove - 1], static_cast<std::int32_t>(nmove));
  return true;
}

std::uint32_t RunQ::drain(G** out) noexcept {
  std::uint32_t n = 0;
  bool inherit;
  while (G* g = get(&inherit)) out[n++] = g;
  return n;
}

// Go: runqgrab. Copies half of this queue (the victim's) into batch starting at
// batch_head and claims them. Called by a thief.
std::uint32_t RunQ::grab(G** batch, std::uint32_t batch_head, bool steal_runnext) noexcept {
  for (;;) {
    // acquire both: head pairs with other consumers' CAS, tail with the owner's
    // release store (we read slots the owner wrote).
    std::uint32_t h = head_.load(std::memory_order_acquire);
    std::uint32_t t = tail_.load(std::memory_order_acquire);
    std::uint32_t n = t - h;
    n = n - n / 2;
    if (n == 0) {
      if (steal_runnext) {
        G* next = runnext_.load(std::memory_order_acquire);
        if (next != nullptr) {
          // The owner is probably about to run it: give it a moment (Go sleeps 3 us).
          std::this_thread::yield();
          // acquire: pairs with the owner's release when it set runnext.
          if (!runnext_.compare_exchange_strong(next, nullptr, std::memory_order_acquire,
                                                std::memory_order_relaxed)) {
            continue;
          }
          batch[batch_head % kRunqSize] = next;
          return 1;
        }
      }
      return 0;
    }
    if (n > kRunqSize / 2) continue;  // read an inconsistent h and t
    for (std::uint32_t i = 0; i < n; ++i) {
      batch[(batch_head + i) % kRunqSize] = ring_[(h + i) % kRunqSize].load(std::memory_order_relaxed);
    }
    // release: the owner may reuse the slots once it sees the new head.
    if (head_.compare_exchange_strong(h, h + n, std::memory_order_release,
                                      std::memory_order_relaxed)) {
      return n;
    }
  }
}

// Go: runqsteal. `this` is the thief's own queue.
G* RunQ::steal_from(RunQ& victim, bool steal_runnext) noexcept {
  std::uint32_t t = tail_.load(std::memory_order_relaxed);  // owner (we are the thief P)
  G* batch[kRunqSize];
  std::uint32_t n = victim.grab(batch, 0, steal_runnext);
  if (n == 0) return nullptr;
  --n;
  G* g = batch[n];
  if (n == 0) return g;
  // Our ring is empty (we only steal when it is), so the n Gs fit.
  for (std::uint32_t i = 0; i < n; ++i) {
    ring_[(t + i) % kRunqSize].store(batch[i], std::memory_order_relaxed);
  }
  // release: publishes the stolen Gs in our ring to other thieves.
  tail_.store(t + n, std::memory_order_release);
  return g;
}

bool RunQ::empty() const noexcept {
  // Go: runqempty. A consistent snapshot of head, tail and runnext: tail re-read to make
  // sure a concurrent put() that moved runnext to the ring is not missed.
  for (;;) {
    std::uint32_t h = head_.load(std::memory_order_acquire);
    std::uint32_t t = tail_.load(std::memory_order_acquire);
    G* next = runnext_.load(std::memory_order_acquire);
    if (tail_.load(std::memory_order_acquire) == t) return h == t && next == nullptr;
  }
}

std::uint32_t RunQ::size() const noexcept {
  std::uint32_t h = head_.load(std::memory_order_acquire);
  std::uint32_t t = tail_.load(std::memory_order_acquire);
  return t - h + (runnext_.load(std::memory_order_relaxed) != nullptr ? 1 : 0);
}

}  // namespace goro::detail

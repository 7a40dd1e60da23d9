// runq.hpp — a P's local run queue: a 256-slot lock-free ring plus runnext (Go: runqput,
// runqget, runqgrab, runqsteal, runqputslow in proc.go).
//
// Single producer (the owner P pushes at tail), multiple consumers (the owner pops at
// head; thieves take half from head with one CAS). A slot is written only by the owner,
// at tail, where no consumer reads; consumers read slots in [head, tail) and then claim
// them by CAS on head, so a thief that read stale slots simply fails its CAS and retries.
// runnext holds the G readied by the running one: only the owner sets it (thieves may
// only clear it), and it runs next, inheriting the current time slice.
//
// Ring full: half the ring (128) plus the new G leave it in one batch, so a burst of
// spawns costs one global-lock acquisition per 128 goroutines. Of those, goroutines that
// have already run (up to 64) go back to this ring's tail and only the rest move to the
// global queue: a woken goroutine should not wait behind a backlog of never-started ones.
#pragma once

#include <atomic>
#include <cstdint>

#include "debug.hpp"

namespace goro::detail {

struct G;
struct P;

inline constexpr std::uint32_t kRunqSize = 256;

class RunQ {
 public:
  // Owner only. next: put g in runnext (the old runnext goes to the ring's tail).
  void put(P* p, G* g, bool next) noexcept;
  // Owner only: put g at the ring's tail (Go: runqput with next=false). Inline: every
  // yield and preemption requeues this way.
  void put_tail(G* g) noexcept;
  // Owner only. Returns nullptr if empty; inherit_time is true for the runnext G.
  // Inline: it is on every scheduling decision's path.
  G* get(bool* inherit_time) noexcept;
  // Owner only: the ring's head, leaving runnext alone (nullptr if the ring is empty).
  G* get_ring() noexcept;
  // Owner only: the G that get() would return after the next one (nullptr if none). A
  // hint: a thief may take it meanwhile. relaxed: nothing is read through it but
  // addresses to prefetch (Gs are recycled, never freed, while the scheduler runs).
  G* second() const noexcept {
    std::uint32_t h = head_.load(std::memory_order_relaxed);
    if (runnext_.load(std::memory_order_relaxed) == nullptr) ++h;
    if (static_cast<std::int32_t>(tail_.load(std::memory_order_relaxed) - h) <= 0) return nullptr;
    return ring_[h % kRunqSize].load(std::memory_order_relaxed);
  }
  // Owner only: moves everything out (for a P going away); returns the count.
  std::uint32_t drain(G** out) noexcept;
  // Thief (any thread): steals half of victim's queue into this (the thief P's own)
  // queue and returns one G to run, or nullptr.
  G* steal_from(RunQ& victim, bool steal_runnext) noexcept;
  bool empty() const noexcept;
  std::uint32_t size() const noexcept;  // approximate when read by others
  // Owner only: the ring has no free slot (the next put_tail would move half of it to
  // the global queue).
  bool ring_full() const noexcept {
    // relaxed tail: our own; acquire head: as put's own check (thieves free slots).
    return tail_.load(std::memory_order_relaxed) - head_.load(std::memory_order_acquire) >=
           kRunqSize;
  }

 private:
  bool put_slow(G* g, std::uint32_t head, std::uint32_t tail) noexcept;
  std::uint32_t grab(G** batch, std::uint32_t batch_head, bool steal_runnext) noexcept;

  // atomic: head is advanced by CAS by the owner and thieves (release: the slots they
  // read are free for the owner to reuse only after it loads head with acquire).
  alignas(64) std::atomic<std::uint32_t> head_{0};
  // atomic: written only by the owner (release: publishes slot contents); loaded with
  // acquire by thieves so they see the G pointers stored before.
  alignas(64) std::atomic<std::uint32_t> tail_{0};
  // atomic: set by the owner (CAS), cleared by owner or thief (CAS). seq_cst not needed:
  // the G it points to was published by the owner's release CAS.
  std::atomic<G*> runnext_{nullptr};
  // atomic slots: relaxed, because head/tail's acquire/release order them.
  std::atomic<G*> ring_[kRunqSize];
};

inline void RunQ::put_tail(G* g) noexcept {
  // acquire: pairs with consumers' release CAS on head, so the slots they vacated are
  // really free before we overwrite them.
  std::uint32_t h = head_.load(std::memory_order_acquire);
  std::uint32_t t = tail_.load(std::memory_order_relaxed);  // we are the only writer
  if (t - h < kRunqSize && !g_randomize) [[likely]] {
    ring_[t % kRunqSize].store(g, std::memory_order_relaxed);
    // release: makes the slot (and g's fields) visible to consumers that acquire tail.
    tail_.store(t + 1, std::memory_order_release);
    return;
  }
  put(nullptr, g, false);
}

inline G* RunQ::get(bool* inherit_time) noexcept {
  G* next = runnext_.load(std::memory_order_relaxed);
  // acquire: pairs with the release in put() (the owner is us, but a thief may have
  // cleared it concurrently; the CAS decides who runs it).
  if (next != nullptr && runnext_.compare_exchange_strong(next, nullptr, std::memory_order_acquire,
                                                          std::memory_order_relaxed)) {
    *inherit_time = true;
    return next;
  }
  *inherit_time = false;
  return get_ring();
}

inline G* RunQ::get_ring() noexcept {
  for (;;) {
    // acquire: pairs with thieves' release CAS (we must see their claim).
    std::uint32_t h = head_.load(std::memory_order_acquire);
    std::uint32_t t = tail_.load(std::memory_order_relaxed);  // owner
    if (t == h) return nullptr;
    G* g = ring_[h % kRunqSize].load(std::memory_order_relaxed);
    // release: the slot is free for reuse after this (pairs with put()'s acquire of head).
    if (head_.compare_exchange_weak(h, h + 1, std::memory_order_release,
                                    std::memory_order_relaxed)) {
      return g;
    }
  }
}

}  // namespace goro::detail

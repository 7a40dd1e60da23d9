// netpoll.cpp — the scheduler's side of the network poller (see
// goro/core/detail/netpoll.hpp for the contract; goro::net provides the poller).
#include <goro/core/detail/netpoll.hpp>

#include <atomic>

#include "debug.hpp"
#include "g.hpp"
#include "sched.hpp"

namespace goro::detail {

namespace {

// atomic: installed once per run(); acquire pairs with the release in netpoll_install
// (the ops table is fully written before it is published).
std::atomic<const NetpollOps*> g_ops{nullptr};
// atomic: goroutines parked on I/O. relaxed: a hint for "is polling worth it".
std::atomic<int> g_waiters{0};

// The goroutines one poll() readied. Only one M polls at a time, on its own thread.
thread_local G* t_head = nullptr;
thread_local G* t_tail = nullptr;
thread_local std::int32_t t_count = 0;

}  // namespace

void netpoll_install(const NetpollOps* ops) noexcept {
  const NetpollOps* expected = nullptr;
  // release: publishes *ops.
  g_ops.compare_exchange_strong(expected, ops, std::memory_order_release,
                                std::memory_order_relaxed);
}

bool netpoll_installed() noexcept { return g_ops.load(std::memory_order_acquire) != nullptr; }

void netpoll_waiters_add(int delta) noexcept {
  g_waiters.fetch_add(delta, std::memory_order_relaxed);
}

bool netpoll_has_waiters() noexcept {
  return g_waiters.load(std::memory_order_relaxed) > 0 && netpoll_installed();
}

void netpoll_ready(G* g) noexcept {
  GStatus expected = GStatus::kWaiting;
  // relaxed: the G is published later by the run queue's release store.
  if (!g->status.compare_exchange_strong(expected, GStatus::kRunnable, std::memory_order_relaxed)) {
    fatal("netpoll readied goroutine %llu in status %s (not waiting)",
          static_cast<unsigned long long>(g->id), g_status_string(expected));
  }
  g->wait_reason = WaitReason::kNone;
  g->sched_link = nullptr;
  if (t_tail != nullptr) {
    t_tail->sched_link = g;
  } else {
    t_head = g;
  }
  t_tail = g;
  ++t_count;
}

G* netpoll(std::int64_t delay_ns, std::int32_t* n) noexcept {
  const NetpollOps* ops = g_ops.load(std::memory_order_acquire);
  *n = 0;
  if (ops == nullptr) return nullptr;
  t_head = t_tail = nullptr;
  t_count = 0;
  ops->poll(delay_ns);
  G* list = t_head;
  *n = t_count;
  t_head = t_tail = nullptr;
  t_count = 0;
  return list;
}

void netpoll_break() noexcept {
  const NetpollOps* ops = g_ops.load(std::memory_order_acquire);
  if (ops != nullptr) ops->wake();
}

void netpoll_reset() noexcept {
  g_ops.store(nullptr, std::memory_order_release);
  g_waiters.store(0, std::memory_order_relaxed);
}

}  // namespace goro::detail

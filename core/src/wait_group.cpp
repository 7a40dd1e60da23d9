// wait_group.cpp — goro::WaitGroup on park/ready (Go: sync.WaitGroup over runtime_Semacquire).
//
// An atomic counter (one fetch_add per add/done, as Go's state word: many goroutines on
// several Ps finishing at once do not queue on a lock) and a FIFO of parked waiters
// under a detail::Lock. wait() checks the counter under the lock, enqueues the
// goroutine and parks with an unlock function that releases the lock after the switch,
// so the add() that reaches zero — which then takes the lock, detaches the whole list
// and readies each waiter — can never miss a waiter or ready one that is still running.
#include <goro/core/wait_group.hpp>

#include <goro/core/detail/park.hpp>

#include <stdexcept>

namespace goro {

void WaitGroup::add(std::int64_t delta) {
  // acq_rel: releases this goroutine's work to the waiter, and the add that reaches
  // zero acquires everyone else's before it wakes the waiters.
  std::int64_t v = count_.fetch_add(delta, std::memory_order_acq_rel) + delta;
  if (v < 0) {
    count_.fetch_sub(delta, std::memory_order_relaxed);  // leave the counter as it was
    throw std::logic_error("goro::WaitGroup: negative counter");
  }
  if (v != 0 || delta == 0) return;
  // Zero: wake whoever waits. A wait() that enqueued itself saw a non-zero counter under
  // the lock, so it is on the list by the time we hold the lock; one that comes after
  // sees zero and returns. (As in Go, an add from zero must not race with a wait.)
  lock_.lock();
  detail::G* list = waiters_head_;
  waiters_head_ = waiters_tail_ = nullptr;
  lock_.unlock();
  while (list != nullptr) {
    detail::G* next = detail::g_wait_link(list);  // read before ready(): it may run at once
    detail::g_wait_link(list) = nullptr;
    detail::ready(list);
    list = next;
  }
}

void WaitGroup::wait() {
  detail::G* g = detail::current_g();
  // acquire: pairs with the add that brought it to zero.
  if (count_.load(std::memory_order_acquire) == 0) return;
  lock_.lock();
  if (count_.load(std::memory_order_acquire) == 0) {
    lock_.unlock();
    return;
  }
  if (g == nullptr) {
    lock_.unlock();
    throw std::logic_error("goro::WaitGroup::wait called outside a goroutine");
  }
  detail::g_wait_link(g) = nullptr;
  if (waiters_tail_ != nullptr) {
    detail::g_wait_link(waiters_tail_) = g;
  } else {
    waiters_head_ = g;
  }
  waiters_tail_ = g;
  detail::park(
      [](detail::G*, void* lock) noexcept {
        static_cast<detail::Lock*>(lock)->unlock();
        return true;
      },
      &lock_, detail::WaitReason::kSync);
}

}  // namespace goro

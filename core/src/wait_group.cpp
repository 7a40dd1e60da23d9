// wait_group.cpp — goro::WaitGroup on park/ready (Go: sync.WaitGroup over runtime_Semacquire).
//
// A counter and a FIFO of parked waiters under one detail::Lock. wait() enqueues the
// goroutine and parks with an unlock function that releases the lock after the switch,
// so add() reaching zero — which takes the lock, detaches the whole list and readies
// each waiter — can never miss a waiter or ready one that is still running.
#include <goro/core/wait_group.hpp>

#include <goro/core/detail/park.hpp>

#include <stdexcept>

namespace goro {

void WaitGroup::add(std::int64_t delta) {
  lock_.lock();
  std::int64_t v = count_ + delta;
  if (v < 0) {
    lock_.unlock();
    throw std::logic_error("goro::WaitGroup: negative counter");
  }
  count_ = v;
  detail::G* list = nullptr;
  if (v == 0) {
    list = waiters_head_;
    waiters_head_ = waiters_tail_ = nullptr;
  }
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
  lock_.lock();
  if (count_ == 0) {
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

// semaphore.cpp — goro::Semaphore, a weighted FIFO semaphore
// (golang.org/x/sync/semaphore.Weighted, minus contexts).
//
// Problem: callers take n tokens at a time; a large request must not starve behind a
// stream of small ones, and no release may leave a waiter parked that now fits.
//
// Rejected: detail::Sema (one token per wake-up; a weight of n would take n wake-ups and
// interleave with others, so two large requests could deadlock each holding part);
// waking every waiter on release to re-check (a thundering herd, and still unfair).
//
// Chosen: x/sync's design. cur_ and a FIFO of waiters under one Lock; acquire() succeeds
// at once only if it fits AND nobody waits, else queues at the back; release() grants
// tokens to waiters from the front for as long as the front one fits, moving their
// weight into cur_ before waking them (so a woken waiter owns its tokens already), and
// stops at the first that does not fit. Whoever is woken was granted under the Lock, so
// no wake-up is lost or spurious.
//
// Go functions mirrored: Weighted.Acquire, TryAcquire, Release, notifyWaiters.
#include <goro/core/semaphore.hpp>

#include <stdexcept>

namespace goro {

Semaphore::Semaphore(std::int64_t size) : size_(size) {
  if (size < 0) throw std::invalid_argument("goro::Semaphore: negative size");
}

void Semaphore::acquire(std::int64_t n) {
  if (n < 0) throw std::invalid_argument("goro::Semaphore::acquire: negative weight");
  if (n > size_) {
    throw std::invalid_argument(
        "goro::Semaphore::acquire: weight larger than the semaphore's size (it could never "
        "be acquired)");
  }
  lock_.lock();
  if (size_ - cur_ >= n && waiters_.empty()) {
    cur_ += n;
    lock_.unlock();
    return;
  }
  detail::Waiter w;
  w.g = detail::current_g();
  if (w.g == nullptr) {
    lock_.unlock();
    detail::fatal_outside_goroutine("goro::Semaphore::acquire");
  }
  w.value = static_cast<std::uint64_t>(n);
  waiters_.push_back(&w);
  detail::park_unlock(lock_, detail::WaitReason::kSync);
  // release() added n to cur_ on our behalf before readying us.
}

bool Semaphore::try_acquire(std::int64_t n) {
  if (n < 0) throw std::invalid_argument("goro::Semaphore::try_acquire: negative weight");
  lock_.lock();
  const bool ok = size_ - cur_ >= n && waiters_.empty();
  if (ok) cur_ += n;
  lock_.unlock();
  return ok;
}

void Semaphore::release(std::int64_t n) {
  if (n < 0) throw std::invalid_argument("goro::Semaphore::release: negative weight");
  detail::Waiter* woken = nullptr;  // granted waiters, readied once lock_ is dropped
  detail::Waiter** tail = &woken;
  lock_.lock();
  if (n > cur_) {
    lock_.unlock();
    throw std::logic_error("goro::Semaphore::release: released more than held");
  }
  cur_ -= n;
  // Go: notifyWaiters. Serve from the front while the front fits; stop at the first
  // that does not, even if a smaller one behind it would (that is what keeps large
  // requests from starving).
  while (detail::Waiter* w = waiters_.front()) {
    const auto want = static_cast<std::int64_t>(w->value);
    if (size_ - cur_ < want) break;
    cur_ += want;
    waiters_.pop_front();
    *tail = w;
    tail = &w->next;
  }
  lock_.unlock();
  // Each Waiter is valid until its goroutine is readied: read next and g first.
  while (woken != nullptr) {
    detail::Waiter* next = woken->next;
    detail::G* g = woken->g;
    detail::ready(g);
    woken = next;
  }
}

}  // namespace goro

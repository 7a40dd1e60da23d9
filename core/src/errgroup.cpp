// errgroup.cpp — goro::ErrGroup (golang.org/x/sync/errgroup), the non-template half.
//
// A WaitGroup counts the tasks; the first failure is recorded under a small lock (Go
// uses a sync.Once) and cancels the group's context outside it. A task's end is ordered
// so that nothing it does can outlive the group: release its slot (the semaphore, read
// through sem_), then stop counting as active (under lock_, which set_limit checks before
// replacing sem_), then cancel if it failed first, then WaitGroup::done — after which
// wait() or the destructor may return and free the group, so done() is the last touch.
#include <goro/core/errgroup.hpp>

#include <stdexcept>

namespace goro {

ErrGroup::ErrGroup() : ErrGroup(background()) {}

ErrGroup::ErrGroup(const Context& parent) {
  auto [ctx, cancel] = with_cancel(parent);
  ctx_ = std::move(ctx);
  cancel_ = std::move(cancel);
}

ErrGroup::~ErrGroup() {
  // Tasks still running can only be left over from a scope that never reached wait():
  // ask them to stop, and do not let them outlive the group they reference.
  cancel_();
  wg_.wait();
}

void ErrGroup::begin() {
  lock_.lock();
  ++active_;
  lock_.unlock();
  wg_.add(1);
}

void ErrGroup::abandon() noexcept {
  if (sem_ != nullptr) sem_->release();
  lock_.lock();
  --active_;
  lock_.unlock();
  wg_.done();
}

void ErrGroup::finish(std::error_code ec, std::exception_ptr ex) noexcept {
  if (sem_ != nullptr) sem_->release();
  const bool failed = ex != nullptr || static_cast<bool>(ec);
  bool first = false;
  lock_.lock();
  if (failed && !failed_) {
    failed_ = true;
    err_ = ec;
    exc_ = std::move(ex);
    first = true;
  }
  --active_;
  lock_.unlock();
  if (first) cancel_();  // Go: g.errOnce.Do(... g.cancel(g.err))
  wg_.done();
}

void ErrGroup::set_limit(std::int64_t n) {
  lock_.lock();
  const std::int64_t active = active_;
  lock_.unlock();
  if (active != 0) {
    throw std::logic_error("goro::ErrGroup::set_limit: tasks of the group are still running");
  }
  if (n < 0) {
    sem_.reset();
  } else {
    sem_ = std::make_unique<Semaphore>(n);
  }
}

std::error_code ErrGroup::wait() {
  wg_.wait();
  cancel_();  // Go: Wait cancels the context once every task is done
  lock_.lock();
  std::error_code ec = err_;
  std::exception_ptr ex = exc_;
  lock_.unlock();
  if (ex != nullptr) std::rethrow_exception(ex);
  return ec;
}

}  // namespace goro

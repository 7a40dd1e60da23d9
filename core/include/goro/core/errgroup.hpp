// goro/core/errgroup.hpp — run goroutines as a group, wait for all, and stop the rest at
// the first error (golang.org/x/sync/errgroup: Group, WithContext, Go, TryGo, SetLimit,
// Wait).
//
//   std::error_code fetch_all(const goro::Context& parent, const std::vector<Url>& urls) {
//     goro::ErrGroup g(parent);                      // Go: g, ctx := errgroup.WithContext(parent)
//     for (const Url& u : urls)
//       g.go([&g, u]() -> std::error_code { return fetch(g.context(), u); });
//     return g.wait();                               // the first error, or {}
//   }
//
// A task is any callable taking no arguments that returns void or something convertible
// to std::error_code (an error-code enum, say). A task fails when it returns a non-empty
// error_code or throws; the group records the *first* failure only, and at that moment
// cancels context(), so the other tasks can notice (via context().done()) and stop.
// wait() parks until every task has finished, cancels context() (as Go's Wait does),
// then rethrows the first failure if it was an exception, or returns it if it was an
// error_code; {} if nothing failed. wait() may be called again: same outcome.
//
// context() is always a fresh child of the parent given to the constructor
// (background() for the default constructor), owned by the group: so a default-
// constructed group cancels its context on the first error too, which Go's zero Group
// cannot.
//
// set_limit(n) caps how many tasks run at once (n < 0: no cap, the default); go() then
// parks the caller until a slot frees, and try_go() starts the task only if a slot is
// free. Call it before starting tasks: it throws std::logic_error while any task of the
// group is running (Go panics), and must not race with go(). With a limit of 0, go()
// throws std::invalid_argument (it could never start) and try_go() returns false.
//
// Destroying a group whose tasks are still running (wait() was never called, e.g. an
// exception is unwinding the scope) cancels context() and waits for them, so tasks that
// reference the group or the scope never outlive it; their errors are dropped.
//
// go(), try_go() and wait() may be called from any goroutine, concurrently; a task may
// start more tasks of its own group. Not copyable or movable (tasks refer to it).
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>

#include <goro/core/context.hpp>
#include <goro/core/detail/lock.hpp>
#include <goro/core/runtime.hpp>
#include <goro/core/semaphore.hpp>
#include <goro/core/wait_group.hpp>

namespace goro {

class ErrGroup {
 public:
  // A group whose context() derives from background().
  ErrGroup();
  // A group whose context() derives from parent (Go: errgroup.WithContext).
  explicit ErrGroup(const Context& parent);
  ErrGroup(const ErrGroup&) = delete;
  ErrGroup& operator=(const ErrGroup&) = delete;
  // Cancels context() and waits for tasks still running (see the top of this file).
  ~ErrGroup();

  // Cancelled at the first failure, by wait(), or by the parent.
  const Context& context() const noexcept { return ctx_; }

  // Starts f() in a new goroutine (Go: Group.Go); with a limit, first parks until a slot
  // is free. Throws what goro::go or copying f throws (the task is then not started).
  template <class F>
  void go(F&& f) {
    check_task<F>();
    if (sem_ != nullptr) sem_->acquire();
    spawn(std::forward<F>(f));
  }

  // Like go(), but returns false instead of waiting for a slot (Go: Group.TryGo).
  template <class F>
  bool try_go(F&& f) {
    check_task<F>();
    if (sem_ != nullptr && !sem_->try_acquire()) return false;
    spawn(std::forward<F>(f));
    return true;
  }

  // At most n tasks at once; n < 0 removes the limit (Go: Group.SetLimit).
  void set_limit(std::int64_t n);

  // Waits for every task, cancels context(), then rethrows or returns the first failure.
  std::error_code wait();

 private:
  template <class F>
  static constexpr void check_task() {
    using Fn = std::decay_t<F>;
    static_assert(std::is_invocable_v<Fn&>, "goro::ErrGroup: a task is a callable taking no arguments");
    using R = std::invoke_result_t<Fn&>;
    static_assert(std::is_void_v<R> || std::is_convertible_v<R, std::error_code>,
                  "goro::ErrGroup: a task must return void or std::error_code");
  }

  // A slot (if limited) is held: counts the task and starts its goroutine.
  template <class F>
  void spawn(F&& f) {
    using Fn = std::decay_t<F>;
    begin();
    try {
      goro::go([this, fn = std::optional<Fn>(std::in_place, std::forward<F>(f))]() mutable {
        std::error_code ec;
        std::exception_ptr ex;
        try {
          if constexpr (std::is_void_v<std::invoke_result_t<Fn&>>) {
            std::invoke(*fn);
          } else {
            ec = std::invoke(*fn);
          }
        } catch (...) {
          ex = std::current_exception();
        }
        fn.reset();  // the task's captures die before wait() can return
        finish(ec, std::move(ex));
      });
    } catch (...) {
      abandon();
      throw;
    }
  }

  void begin();
  void abandon() noexcept;
  void finish(std::error_code ec, std::exception_ptr ex) noexcept;

  Context ctx_;        // immutable after construction
  CancelFunc cancel_;  // immutable after construction; cancels ctx_
  WaitGroup wg_;       // one count per task begun and not yet finished

  detail::Lock lock_;  // guards the four fields below
  std::int64_t active_ = 0;
  bool failed_ = false;
  std::error_code err_;    // the first failure, if a returned code
  std::exception_ptr exc_;  // the first failure, if an exception

  // Written only by set_limit, while no task is active (checked under lock_: a finishing
  // task releases its slot before it stops counting as active). Read by go()/try_go()
  // and finishing tasks.
  std::unique_ptr<Semaphore> sem_;
};

}  // namespace goro

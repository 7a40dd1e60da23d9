// goro/core/blocking.hpp — run a blocking system call without stalling other goroutines.
//
//   ssize_t n = goro::blocking([&] { return ::read(fd, buf, len); });
//
// The calling goroutine's thread blocks in the call; the runtime keeps the goroutine's
// logical processor (P) for it on the fast path (a short call costs a few stores, no
// thread wake-up), and if the call is still running after a sysmon tick (20 us or
// more) the P is handed to another thread so the other goroutines keep running.
// blocking_long() hands the P off at once: for calls known to block long (DNS).
//
// Inside f, do not use goro (no channels, mutexes, go, sleep): f runs without a P.
// Outside a goroutine both simply call f. Exceptions from f propagate.
#pragma once

#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include <goro/core/runtime.hpp>

namespace goro {

namespace detail {
// Return false, and do nothing, outside a goroutine (then f simply runs).
bool enter_syscall() noexcept;
bool enter_syscall_block() noexcept;
void exit_syscall() noexcept;

// The goroutine may resume on another thread after exit_syscall, so an exception is
// carried out of the catch block (whose bookkeeping is per thread) before it.
template <class F>
decltype(auto) run_blocking(F&& f, bool (*enter)() noexcept) {
  using R = std::invoke_result_t<F&>;
  if (!enter()) return std::invoke(f);
  std::exception_ptr ep;
  if constexpr (std::is_void_v<R>) {
    try {
      std::invoke(f);
    } catch (...) {
      ep = std::current_exception();
    }
    exit_syscall();
    if (ep) std::rethrow_exception(ep);
  } else {
    std::optional<R> r;
    try {
      r.emplace(std::invoke(f));
    } catch (...) {
      ep = std::current_exception();
    }
    exit_syscall();
    if (ep) std::rethrow_exception(ep);
    return R(std::move(*r));
  }
}
}  // namespace detail

template <class F>
decltype(auto) blocking(F&& f) {
  return detail::run_blocking(std::forward<F>(f), &detail::enter_syscall);
}

template <class F>
decltype(auto) blocking_long(F&& f) {
  return detail::run_blocking(std::forward<F>(f), &detail::enter_syscall_block);
}

}  // namespace goro

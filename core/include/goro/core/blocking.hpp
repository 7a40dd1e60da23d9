// goro/core/blocking.hpp — run a blocking system call without stalling other goroutines.
//
//   ssize_t n = goro::blocking([&] { return ::read(fd, buf, len); });
//
// The calling goroutine's thread blocks in the call; the runtime keeps the goroutine's
// logical processor (P) for it on the fast path (a short call costs a few loads and
// stores, inline, and no thread wake-up), and if the call is still running after a
// sysmon tick (20 us or more) the P is handed to another thread so the other goroutines
// keep running.
// blocking_long() hands the P off at once: for calls known to block long (DNS).
//
// Inside f, do not use goro (no channels, mutexes, go, sleep): f runs without a P, and a
// goroutine that parks there is stopped with a fatal error. A goro::blocking inside f, or
// outside a goroutine, simply calls its f. Exceptions from f propagate.
#pragma once

#include <functional>
#include <type_traits>
#include <utility>

#include <goro/core/detail/syscall.hpp>
#include <goro/core/runtime.hpp>

namespace goro {

namespace detail {

// An exception from f leaves through the exit too. The exit may move the goroutine to
// another thread, inside the catch block: the C++ runtime's state of exceptions being
// handled travels with the goroutine (core/src/context.hpp), so `throw;` still works.
template <class F, class Enter, class Exit>
decltype(auto) run_blocking(F& f, Enter enter, Exit exit) {
  using R = std::invoke_result_t<F&>;
  if (!enter()) return std::invoke(f);
  if constexpr (std::is_void_v<R>) {
    try {
      std::invoke(f);
    } catch (...) {
      exit();
      throw;
    }
    exit();
  } else {
    R r = [&]() -> R {
      try {
        return std::invoke(f);
      } catch (...) {
        exit();
        throw;
      }
    }();
    exit();
    return r;
  }
}
}  // namespace detail

template <class F>
decltype(auto) blocking(F&& f) {
  detail::SyscallCall call;
  return detail::run_blocking(
      f,
      [&]() noexcept {
        call = detail::enter_syscall();
        return call.p != nullptr;
      },
      [&]() noexcept { detail::exit_syscall(call); });
}

template <class F>
decltype(auto) blocking_long(F&& f) {
  return detail::run_blocking(
      f, []() noexcept { return detail::enter_syscall_block(); },
      []() noexcept { detail::exit_syscall_block(); });
}

}  // namespace goro

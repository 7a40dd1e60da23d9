// preempt.hpp — preemption of goroutines that run too long (preempt.cpp).
#pragma once

#include <goro/core/detail/lock.hpp>

#include <cstdint>

#include "context.hpp"

namespace goro::detail {

struct M;
struct P;

// Marks a runtime section in which the running goroutine must not be preempted
// asynchronously nor lose its P (Go: acquirem / m.locks). Counted in tls_rt.locks, which
// follows the context across switches.
struct NoPreempt {
  NoPreempt() noexcept {
    if (GORO_TLS_RT(detached)) reattach();  // get a P back first (may switch threads)
    ++GORO_TLS_RT(nopreempt);
  }
  ~NoPreempt() { --GORO_TLS_RT(nopreempt); }  // see GORO_TLS_RT: safe after a switch
  NoPreempt(const NoPreempt&) = delete;
  NoPreempt& operator=(const NoPreempt&) = delete;
};

// Installs the SIGURG handler (once per process) and finds the code ranges it checks.
void preempt_init() noexcept;
// Go: preemptM. Signals M m (coalesced: at most one signal in flight per M).
void preempt_signal(M* m) noexcept;
// Whether signal-based preemption is available here (x86-64, not under sanitizers,
// libc not linked statically, runtime code range known).
bool async_preempt_enabled() noexcept;

// Counters for tests and schedtrace (relaxed atomics).
struct PreemptStats {
  std::uint64_t signals;   // SIGURGs handled
  std::uint64_t async;     // goroutines stopped at an instruction
  std::uint64_t detached;  // Ps handed off from a hog (the backstop)
};
PreemptStats preempt_stats() noexcept;

}  // namespace goro::detail

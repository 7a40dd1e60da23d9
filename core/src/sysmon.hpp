// sysmon.hpp — the system monitor thread (Go: sysmon in proc.go).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include <goro/core/detail/syscall.hpp>

namespace goro::detail {

struct P;

// Started by run() after the Ps exist, stopped (and joined) at shutdown.
void sysmon_start() noexcept;
void sysmon_stop() noexcept;
// sysmon_deep (declared in goro/core/detail/syscall.hpp, for goro::blocking's inline
// path): an atomic futex word, 1 while sysmon sleeps deeply (every P idle), 2 while it
// sleeps more than 2 ms with Ps running, 0 otherwise; the wakers below clear it and wake
// sysmon. seq_cst: sysmon sets it and then re-checks npidle; wakers change npidle (or
// enter a syscall) and then read it — Dekker-style, so one of them notices the other.
void sysmon_wake_slow(bool syscall = false) noexcept;

// Wakes sysmon from its deep sleep (the runtime was idle and is not any more). Inline:
// every P going to work calls it, and it is one load when sysmon is awake (a plain mov
// on x86-64, even seq_cst). A system call's entry also wakes it from a long sleep
// (syscall.cpp): its P may need handing off within ~2 ms.
inline void sysmon_wake() noexcept {
  if (sysmon_deep.load(std::memory_order_seq_cst) == kSysmonDeep) sysmon_wake_slow();
}

// Go: preemptone. Asks whatever runs on P p to yield at its next preemption check.
void preempt_p(P* p, std::uint8_t level) noexcept;

// The schedtrace line (and with detail, Go's scheddetail lines for every P, M and G).
std::string sched_trace(bool detail);

}  // namespace goro::detail

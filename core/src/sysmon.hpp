// sysmon.hpp — the system monitor thread (Go: sysmon in proc.go).
#pragma once

#include <cstdint>
#include <string>

namespace goro::detail {

struct P;

// Started by run() after the Ps exist, stopped (and joined) at shutdown.
void sysmon_start() noexcept;
void sysmon_stop() noexcept;
// Wakes sysmon from its deep sleep (the runtime was idle and is not any more).
void sysmon_wake() noexcept;

// Go: preemptone. Asks whatever runs on P p to yield at its next preemption check.
void preempt_p(P* p, std::uint8_t level) noexcept;

// The schedtrace line (and with detail, Go's scheddetail lines for every P, M and G).
std::string sched_trace(bool detail);

}  // namespace goro::detail

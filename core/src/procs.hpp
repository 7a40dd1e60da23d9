// procs.hpp — how many Ps by default.
#pragma once

namespace goro::detail {

// GORO_MAXPROCS if set to a positive number; else the CPUs this process may use:
// sched_getaffinity's count, capped by the cgroup (v2 cpu.max, v1 cfs quota) CPU quota
// rounded up. At least 1.
int default_procs() noexcept;

// The cgroup CPU limit in CPUs (rounded up), or 0 when there is none.
int cgroup_cpu_limit() noexcept;

}  // namespace goro::detail

// membarrier.hpp — membarrier(2), the heavy side of the runtime's asymmetric fences: the
// runtime Lock's plain-store release (goro/core/detail/lock.hpp) and the syscall exit's
// handshake with sysmon (syscall.cpp). Their fast sides keep only a compiler barrier;
// the rare side makes every running thread of the process execute a full fence.
#pragma once

namespace goro::detail {

// Whether membarrier(PRIVATE_EXPEDITED) is registered for this process (done once, by
// the static initialization of lock.cpp: g_lock_asym holds the answer). False under
// TSan, which does not model it, where the kernel lacks it, and where seccomp refuses it.
bool membarrier_register() noexcept;

// Every running thread of the process executes a full memory fence before this returns.
// false only if membarrier_register() did not succeed (it cannot fail once registered).
bool membarrier_all() noexcept;

}  // namespace goro::detail

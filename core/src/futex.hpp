// futex.hpp — the two futex(2) calls the runtime sleeps and wakes threads with.
#pragma once

#include <atomic>
#include <cstdint>

namespace goro::detail {

// Sleeps while *addr == expected (or until woken, or spuriously); timeout_ns < 0: none.
void futex_wait(std::atomic<std::uint32_t>* addr, std::uint32_t expected,
                std::int64_t timeout_ns = -1) noexcept;
// Wakes up to n threads sleeping on addr.
void futex_wake(std::atomic<std::uint32_t>* addr, int n) noexcept;

}  // namespace goro::detail

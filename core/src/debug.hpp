// debug.hpp — fatal errors, GORO_* settings, and the randomized-scheduling debug mode.
#pragma once

#include <cstddef>
#include <cstdint>

namespace goro::detail {

// Prints "goro: fatal error: <message>" and exits the process with status 2 (Go's throw).
[[noreturn]] void fatal(const char* fmt, ...) noexcept __attribute__((format(printf, 1, 2)));

// GORO_DEBUG=key=value,key=value (Go's GODEBUG). Returns def when the key is absent.
long debug_setting(const char* key, long def) noexcept;

// Parses a size like "65536", "64K", "1M". Returns 0 on error.
std::size_t parse_size(const char* s) noexcept;

// Randomized scheduling (Go's randomizeScheduler): scheduling choices that Go leaves
// unspecified are made at random, so tests cannot lean on one order. Set at run().
extern bool g_randomize;

// A fast per-thread pseudo-random number (Go's cheaprand): wyrand on the M's state.
std::uint32_t fastrand() noexcept;
inline std::uint32_t fastrandn(std::uint32_t n) noexcept {
  return static_cast<std::uint32_t>((static_cast<std::uint64_t>(fastrand()) * n) >> 32);
}

}  // namespace goro::detail

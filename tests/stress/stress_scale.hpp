// stress_scale.hpp — how long the stress tests run: their counts scaled for the build
// (TSan runs them at a quarter: it is 5-15x slower) and by GORO_STRESS_SCALE=<k> (k x).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>

namespace goro_test {

#if defined(__SANITIZE_THREAD__)
inline constexpr int kSanitizerDivisor = 4;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr int kSanitizerDivisor = 4;
#else
inline constexpr int kSanitizerDivisor = 1;
#endif
#else
inline constexpr int kSanitizerDivisor = 1;
#endif

// n scaled for the build and GORO_STRESS_SCALE, at least 1.
inline std::int64_t scaled(std::int64_t n) {
  std::int64_t k = 1;
  if (const char* s = std::getenv("GORO_STRESS_SCALE"))
    k = std::max<std::int64_t>(1, std::atoll(s));
  return std::max<std::int64_t>(1, n * k / kSanitizerDivisor);
}

}  // namespace goro_test

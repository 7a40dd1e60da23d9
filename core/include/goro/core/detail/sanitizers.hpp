// goro/core/detail/sanitizers.hpp — which sanitizer this translation unit is built with.
//
// GORO_ASAN and GORO_TSAN are 1 under AddressSanitizer / ThreadSanitizer (clang's
// __has_feature or gcc's __SANITIZE_*__), else 0. Preprocessor macros because the
// runtime includes the sanitizers' own headers only when they are on (context.hpp);
// elsewhere they read as plain constants (`if constexpr (GORO_TSAN)`). The runtime, goro::net
// and the tests ask here instead of each testing the compiler's flags.
#pragma once

#if defined(__has_feature)
#if __has_feature(address_sanitizer) && !defined(GORO_ASAN)
#define GORO_ASAN 1
#endif
#if __has_feature(thread_sanitizer) && !defined(GORO_TSAN)
#define GORO_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(GORO_ASAN)
#define GORO_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(GORO_TSAN)
#define GORO_TSAN 1
#endif
#ifndef GORO_ASAN
#define GORO_ASAN 0
#endif
#ifndef GORO_TSAN
#define GORO_TSAN 0
#endif

// debug.cpp — fatal errors, GORO_DEBUG parsing, fastrand.
#include "debug.hpp"

#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace goro::detail {

bool g_randomize = false;

void fatal(const char* fmt, ...) noexcept {
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "goro: fatal error: %s\n", buf);
  std::fflush(stderr);
  std::_Exit(2);
}

long debug_setting(const char* key, long def) noexcept {
  const char* env = std::getenv("GORO_DEBUG");
  if (env == nullptr) return def;
  std::size_t klen = std::strlen(key);
  const char* p = env;
  while (*p != '\0') {
    const char* end = std::strchr(p, ',');
    if (end == nullptr) end = p + std::strlen(p);
    if (static_cast<std::size_t>(end - p) > klen && std::strncmp(p, key, klen) == 0 &&
        p[klen] == '=') {
      return std::strtol(p + klen + 1, nullptr, 10);
    }
    p = *end == ',' ? end + 1 : end;
  }
  return def;
}

std::size_t parse_size(const char* s) noexcept {
  if (s == nullptr || *s == '\0') return 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (end == s) return 0;
  switch (*end) {
    case '\0': break;
    case 'k': case 'K': v <<= 10; ++end; break;
    case 'm': case 'M': v <<= 20; ++end; break;
    case 'g': case 'G': v <<= 30; ++end; break;
    default: return 0;
  }
  if (*end == 'i' || *end == 'I') ++end;
  if (*end == 'b' || *end == 'B') ++end;
  if (*end != '\0') return 0;
  return static_cast<std::size_t>(v);
}

namespace {
thread_local std::uint64_t t_rand_state = 0;
}

std::uint32_t fastrand() noexcept {
  if (t_rand_state == 0) {
    t_rand_state = reinterpret_cast<std::uintptr_t>(&t_rand_state) ^
                   (static_cast<std::uint64_t>(::getpid()) << 32) ^ 0x9E3779B97F4A7C15ull;
  }
  // wyrand: good enough for scheduling choices, a handful of instructions.
  t_rand_state += 0xa0761d6478bd642full;
  __uint128_t m = static_cast<__uint128_t>(t_rand_state) * (t_rand_state ^ 0xe7037ed1a0b428dbull);
  return static_cast<std::uint32_t>((m >> 64) ^ m);
}

}  // namespace goro::detail

// date.cpp — a process-wide cache of the Date header's value.
//
// Every response carries Date; formatting it (gmtime_r + snprintf) costs more than the
// rest of a small response head, so it is done once per second and shared. The cached
// text sits in atomic words under a sequence lock: a reader copies the words and retries
// if the sequence number moved (or was odd: a writer was busy); the first goroutine that
// notices a new second and wins the `writing` flag reformats it. Readers never wait: one
// that loses the race formats for itself.
#include "date.hpp"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <ctime>

namespace goro::http::detail {

namespace {

constexpr std::size_t kWords = 4;  // 32 bytes hold the 29 characters
static_assert(kHttpDateSize <= kWords * 8);

struct DateCache {
  // atomic: odd while a writer updates words; release-stored even after, paired with the
  // readers' acquire loads.
  std::atomic<std::uint64_t> seq{0};
  std::atomic<std::int64_t> second{-1};  // the second the words show; under seq like them
  std::atomic<std::uint64_t> words[kWords] = {};
  std::atomic<bool> writing{false};  // acquire/release: one writer at a time
};

DateCache g_cache;

void format(std::int64_t sec, char out[kWords * 8]) noexcept {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t t = static_cast<std::time_t>(sec);
  std::tm tm;
  gmtime_r(&t, &tm);
  auto two = [](char* p, int v) {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
  };
  std::memcpy(out, kDays[tm.tm_wday], 3);
  out[3] = ',';
  out[4] = ' ';
  two(out + 5, tm.tm_mday);
  out[7] = ' ';
  std::memcpy(out + 8, kMonths[tm.tm_mon], 3);
  out[11] = ' ';
  int year = tm.tm_year + 1900;
  two(out + 12, (year / 100) % 100);
  two(out + 14, year % 100);
  out[16] = ' ';
  two(out + 17, tm.tm_hour);
  out[19] = ':';
  two(out + 20, tm.tm_min);
  out[22] = ':';
  two(out + 23, tm.tm_sec);
  std::memcpy(out + 25, " GMT", 4);
  std::memset(out + 29, 0, kWords * 8 - 29);
}

std::int64_t now_seconds() noexcept {
  timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return ts.tv_sec;
}

}  // namespace

void write_http_date(char* out) noexcept {
  std::int64_t sec = now_seconds();
  alignas(8) char text[kWords * 8];
  {
    std::uint64_t s1 = g_cache.seq.load(std::memory_order_acquire);
    std::int64_t cached = g_cache.second.load(std::memory_order_relaxed);
    std::uint64_t w[kWords];
    for (std::size_t i = 0; i < kWords; ++i) w[i] = g_cache.words[i].load(std::memory_order_relaxed);
    // acquire fence: the loads above happen before the second sequence load.
    std::atomic_thread_fence(std::memory_order_acquire);
    std::uint64_t s2 = g_cache.seq.load(std::memory_order_relaxed);
    if (s1 == s2 && (s1 & 1) == 0 && cached == sec) {
      std::memcpy(text, w, sizeof w);
      std::memcpy(out, text, kHttpDateSize);
      return;
    }
  }
  format(sec, text);
  std::memcpy(out, text, kHttpDateSize);
  bool expected = false;
  if (g_cache.writing.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
    std::uint64_t s = g_cache.seq.load(std::memory_order_relaxed);
    g_cache.seq.store(s + 1, std::memory_order_relaxed);
    // release fence: the odd sequence number is visible before any new word.
    std::atomic_thread_fence(std::memory_order_release);
    std::uint64_t w[kWords];
    std::memcpy(w, text, sizeof w);
    for (std::size_t i = 0; i < kWords; ++i) g_cache.words[i].store(w[i], std::memory_order_relaxed);
    g_cache.second.store(sec, std::memory_order_relaxed);
    g_cache.seq.store(s + 2, std::memory_order_release);  // pairs with the readers' acquire
    g_cache.writing.store(false, std::memory_order_release);
  }
}

}  // namespace goro::http::detail

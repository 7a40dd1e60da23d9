// date.hpp — the Date header's value (RFC 9110 IMF-fixdate), formatted once a second.
#pragma once

#include <string>

namespace goro::http::detail {

inline constexpr std::size_t kHttpDateSize = 29;  // "Sun, 06 Nov 1994 08:49:37 GMT"

// Writes the current time as an IMF-fixdate: kHttpDateSize bytes at out.
void write_http_date(char* out) noexcept;

// Appends the current time as an IMF-fixdate.
inline void append_http_date(std::string& out) {
  char text[kHttpDateSize];
  write_http_date(text);
  out.append(text, kHttpDateSize);
}

}  // namespace goro::http::detail

// date.hpp — the Date header's value (RFC 9110 IMF-fixdate), formatted once a second.
#pragma once

#include <string>

namespace goro::http::detail {

inline constexpr std::size_t kHttpDateSize = 29;  // "Sun, 06 Nov 1994 08:49:37 GMT"

// Appends the current time as an IMF-fixdate.
void append_http_date(std::string& out);

}  // namespace goro::http::detail

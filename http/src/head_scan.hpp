// head_scan.hpp — finds the end of a request head (or a chunked body's trailer block) and
// checks, before llhttp sees a byte of it, what llhttp would let through or what only we
// limit:
//   - every line ends with CRLF: a bare LF (llhttp accepts one ending the head or the
//     request line) or a bare CR is 400;
//   - no header line starts with SP or HTAB: obs-fold (line folding, which llhttp
//     accepts) is 400, as RFC 9112 section 5.2 allows a server to do;
//   - the request line is at most max_request_line bytes (414), the head at most
//     max_header_bytes (431), at most max_header_count fields (431).
// Empty lines before a request line are skipped (RFC 9112 section 2.2).
//
// Incremental: scan() is called again with the same bytes plus more, and resumes where
// it stopped, so a head that trickles in byte by byte costs O(n) in all.
#pragma once

#include <cstddef>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace goro::http::detail {

struct HeadLimits {
  std::size_t max_request_line;
  std::size_t max_header_bytes;
  std::size_t max_header_count;
};

class HeadScanner {
 public:
  enum class Result { kNeedMore, kComplete, kError };

  // request: a request head (a request line, then fields); else a trailer block.
  void reset(bool request, const HeadLimits& limits) noexcept {
    request_ = request;
    limits_ = limits;
    pos_ = next_ = start_ = end_ = 0;
    lines_ = fields_ = 0;
    trailing_ws_ = false;
    status_ = 0;
    reason_ = "";
  }

  // data[0, n) is everything received from the head's first byte on (the same bytes as
  // the previous call, plus more).
  Result scan(const char* data, std::size_t n) noexcept {
    for (;;) {
      // One pass per line: the first CR or LF ends it, and must be a CR before an LF.
      std::size_t brk = find_break(data, next_, n);
      if (brk == n || (data[brk] == '\r' && brk + 1 == n)) {
        std::size_t partial = n - pos_;
        if (request_ && lines_ == 0 && partial > limits_.max_request_line + 1) {
          return error(414, "request line too long");
        }
        if (n - start_ > limits_.max_header_bytes) return error(431, "header block too large");
        next_ = brk;  // a CR at the end is looked at again, with the byte after it
        return Result::kNeedMore;
      }
      if (data[brk] == '\n') return error(400, "bare LF");
      if (data[brk + 1] != '\n') return error(400, "bare CR");
      std::size_t lf = brk + 1;
      std::size_t len = brk - pos_;  // the line without its CRLF
      if (len == 0) {
        if (request_ && lines_ == 0) {
          // An empty line before the request line: skip it.
          pos_ = next_ = start_ = lf + 1;
          if (start_ > limits_.max_header_bytes) return error(400, "too many empty lines");
          continue;
        }
        end_ = lf + 1;
        if (end_ - start_ > limits_.max_header_bytes) return error(431, "header block too large");
        return Result::kComplete;
      }
      if (request_ && lines_ == 0) {
        if (len > limits_.max_request_line) return error(414, "request line too long");
      } else {
        if (data[pos_] == ' ' || data[pos_] == '\t') return error(400, "obs-fold header line");
        if (++fields_ > limits_.max_header_count) return error(431, "too many header fields");
        if (data[brk - 1] == ' ' || data[brk - 1] == '\t') trailing_ws_ = true;
      }
      ++lines_;
      pos_ = next_ = lf + 1;
      if (pos_ - start_ > limits_.max_header_bytes) return error(431, "header block too large");
    }
  }

  // After kComplete: the head is data[start(), end()) (leading empty lines excluded).
  std::size_t start() const noexcept { return start_; }
  std::size_t end() const noexcept { return end_; }
  // Bytes received past the skipped empty lines: whether a request has begun.
  bool started(std::size_t n) const noexcept { return n > start_; }
  // Whether some field line ends in whitespace (a space or a tab before its CRLF).
  bool trailing_whitespace() const noexcept { return trailing_ws_; }
  int error_status() const noexcept { return status_; }
  const char* error_reason() const noexcept { return reason_; }

 private:
  // The index of the first CR or LF in data[i, n), or n. Inline, 16 bytes a step, the
  // last step overlapping the one before (data[0, n) is all readable): a request's lines
  // are short, and two memchr calls per line (one for the LF, one for a bare CR before
  // it) cost more in calls than in scanning.
  static std::size_t find_break(const char* data, std::size_t i, std::size_t n) noexcept {
    if (i >= n) return n;
#if defined(__SSE2__)
    if (n >= 16) {
      for (; n - i >= 16; i += 16) {
        unsigned mask = breaks16(data + i);
        if (mask != 0) return i + static_cast<std::size_t>(__builtin_ctz(mask));
      }
      if (i == n) return n;
      // The last 16 bytes, shifted so that bit 0 is data[i].
      unsigned mask = breaks16(data + n - 16) >> (16 - (n - i));
      return mask != 0 ? i + static_cast<std::size_t>(__builtin_ctz(mask)) : n;
    }
#endif
    for (; i < n; ++i) {
      if (data[i] == '\r' || data[i] == '\n') return i;
    }
    return n;
  }

#if defined(__SSE2__)
  // Bit k set: p[k] is CR or LF.
  static unsigned breaks16(const char* p) noexcept {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i cr = _mm_cmpeq_epi8(v, _mm_set1_epi8('\r'));
    const __m128i lf = _mm_cmpeq_epi8(v, _mm_set1_epi8('\n'));
    return static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(cr, lf)));
  }
#endif

  Result error(int status, const char* reason) noexcept {
    status_ = status;
    reason_ = reason;
    return Result::kError;
  }

  bool request_ = true;
  HeadLimits limits_{};
  std::size_t pos_ = 0;    // start of the first line not yet complete
  std::size_t next_ = 0;   // where its scan resumes: data[pos_, next_) has no CR or LF
  std::size_t start_ = 0;  // start of the head (after skipped empty lines)
  std::size_t end_ = 0;
  std::size_t lines_ = 0;
  std::size_t fields_ = 0;
  bool trailing_ws_ = false;
  int status_ = 0;
  const char* reason_ = "";
};

}  // namespace goro::http::detail

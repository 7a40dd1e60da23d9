// The request-head scanner (http/src/head_scan.hpp), byte for byte against a plain model
// of its rules: CRLF line ends only (a bare LF or CR is 400), no obs-fold, leading empty
// lines skipped, and the request-line, head-size and field-count limits. Random heads
// over a small alphabet (CR, LF, SP, HTAB, letters) hit every rule at every offset, also
// past the scanner's 16-byte steps; fed whole, the scanner must give the model's answer
// (the end of the head, or the error's status), and fed in random pieces the same one.
#include <gtest/gtest.h>

#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include "../../http/src/head_scan.hpp"

using goro::http::detail::HeadLimits;
using goro::http::detail::HeadScanner;

namespace {

struct Outcome {
  HeadScanner::Result result;
  int status = 0;        // kError
  std::size_t start = 0;  // kComplete
  std::size_t end = 0;

  bool operator==(const Outcome& o) const {
    return result == o.result && status == o.status && start == o.start && end == o.end;
  }
};

std::string show(const Outcome& o) {
  switch (o.result) {
    case HeadScanner::Result::kNeedMore: return "need more";
    case HeadScanner::Result::kError: return "error " + std::to_string(o.status);
    case HeadScanner::Result::kComplete:
      return "complete [" + std::to_string(o.start) + ", " + std::to_string(o.end) + ")";
  }
  return "?";
}

// The rules, one line at a time, on the whole input (no incremental state). A line ends
// at the first CR or LF; a CR that is the input's last byte waits for more.
Outcome model(const std::string& s, bool request, const HeadLimits& lim) {
  std::size_t pos = 0, start = 0, lines = 0, fields = 0;
  auto err = [](int st) { return Outcome{HeadScanner::Result::kError, st}; };
  for (;;) {
    std::size_t brk = s.find_first_of("\r\n", pos);
    if (brk == std::string::npos || (s[brk] == '\r' && brk + 1 == s.size())) {
      if (request && lines == 0 && s.size() - pos > lim.max_request_line + 1) return err(414);
      if (s.size() - start > lim.max_header_bytes) return err(431);
      return {HeadScanner::Result::kNeedMore};
    }
    if (s[brk] == '\n' || s[brk + 1] != '\n') return err(400);
    std::size_t len = brk - pos, next = brk + 2;
    if (len == 0) {
      if (request && lines == 0) {
        pos = start = next;
        if (start > lim.max_header_bytes) return err(400);
        continue;
      }
      if (next - start > lim.max_header_bytes) return err(431);
      return {HeadScanner::Result::kComplete, 0, start, next};
    }
    if (request && lines == 0) {
      if (len > lim.max_request_line) return err(414);
    } else {
      if (s[pos] == ' ' || s[pos] == '\t') return err(400);
      if (++fields > lim.max_header_count) return err(431);
    }
    ++lines;
    pos = next;
    if (pos - start > lim.max_header_bytes) return err(431);
  }
}

Outcome outcome(const HeadScanner& sc, HeadScanner::Result r) {
  Outcome o{r};
  if (r == HeadScanner::Result::kError) o.status = sc.error_status();
  if (r == HeadScanner::Result::kComplete) {
    o.start = sc.start();
    o.end = sc.end();
  }
  return o;
}

// The scanner fed s[0, cut) for each cut in cuts (increasing), then all of s; it stops at
// the first answer that is not "need more", as the server does.
Outcome scan_in_pieces(const std::string& s, const std::vector<std::size_t>& cuts, bool request,
                       const HeadLimits& lim) {
  HeadScanner sc;
  sc.reset(request, lim);
  for (std::size_t cut : cuts) {
    HeadScanner::Result r = sc.scan(s.data(), cut);
    if (r != HeadScanner::Result::kNeedMore) return outcome(sc, r);
  }
  return outcome(sc, sc.scan(s.data(), s.size()));
}

TEST(HeadScan, AgreesWithTheModelOnRandomHeadsFedWholeAndInPieces) {
  std::mt19937 rng(20261207);
  const char alphabet[] = {'\r', '\n', ' ', '\t', 'a', 'b', ':', 'x', 'y', 'z'};
  // Mostly ordinary characters, so that long valid lines occur too.
  std::discrete_distribution<int> pick({4, 4, 3, 1, 20, 20, 3, 20, 20, 20});
  const HeadLimits lims[] = {{64, 256, 8}, {16, 48, 2}, {200, 4096, 100}};
  int complete = 0, errors = 0, more = 0;
  for (int iter = 0; iter < 60000; ++iter) {
    const HeadLimits& lim = lims[iter % 3];
    bool request = iter % 5 != 0;
    std::string s;
    std::size_t len = std::uniform_int_distribution<std::size_t>(0, 160)(rng);
    for (std::size_t i = 0; i < len; ++i) {
      // Now and then a well-formed CRLF, so heads often get past their first lines.
      if (rng() % 12 == 0) {
        s += "\r\n";
      } else {
        s += alphabet[pick(rng)];
      }
    }
    if (rng() % 3 == 0) s += "\r\n\r\n";
    Outcome want = model(s, request, lim);
    HeadScanner whole;
    whole.reset(request, lim);
    Outcome got = outcome(whole, whole.scan(s.data(), s.size()));
    ASSERT_EQ(got, want) << "whole, input " << testing::PrintToString(s) << ": got " << show(got)
                         << ", want " << show(want);
    std::vector<std::size_t> cuts;
    for (std::size_t c = 0; c < s.size(); c += 1 + rng() % 7) cuts.push_back(c);
    Outcome pieces = scan_in_pieces(s, cuts, request, lim);
    // In pieces, a line's length limit may strike before its malformed end arrives: any
    // error then (414 or 431 for 400), as a server reading the same bytes slowly would.
    if (want.result == HeadScanner::Result::kError) {
      ASSERT_EQ(pieces.result, HeadScanner::Result::kError)
          << "in pieces, input " << testing::PrintToString(s) << ": got " << show(pieces);
    } else {
      ASSERT_EQ(pieces, want) << "in pieces, input " << testing::PrintToString(s) << ": got "
                              << show(pieces) << ", want " << show(want);
    }
    if (want.result == HeadScanner::Result::kComplete) ++complete;
    if (want.result == HeadScanner::Result::kError) ++errors;
    if (want.result == HeadScanner::Result::kNeedMore) ++more;
  }
  // The inputs exercised every outcome, not only errors.
  EXPECT_GT(complete, 1000);
  EXPECT_GT(errors, 1000);
  EXPECT_GT(more, 1000);
}

TEST(HeadScan, ACrLfSplitAcrossReadsEndsTheLine) {
  const std::string head = "GET /a-path-longer-than-sixteen HTTP/1.1\r\nHost: t\r\n\r\n";
  HeadLimits lim{8192, 8192, 100};
  for (std::size_t cut = 0; cut <= head.size(); ++cut) {
    HeadScanner sc;
    sc.reset(true, lim);
    HeadScanner::Result first = sc.scan(head.data(), cut);
    if (cut < head.size()) {
      EXPECT_EQ(first, HeadScanner::Result::kNeedMore) << "cut " << cut;
      EXPECT_EQ(sc.scan(head.data(), head.size()), HeadScanner::Result::kComplete) << "cut " << cut;
    } else {
      EXPECT_EQ(first, HeadScanner::Result::kComplete);
    }
    EXPECT_EQ(sc.start(), 0u);
    EXPECT_EQ(sc.end(), head.size());
  }
}

TEST(HeadScan, EachMalformedLineEndIsA400WhereverItFalls) {
  HeadLimits lim{8192, 8192, 100};
  const std::string line = "X-Long-Header-Name: some value that spans steps";
  for (std::size_t at = 1; at < line.size(); ++at) {
    for (const char* bad : {"\n", "\rz"}) {
      std::string head =
          "GET / HTTP/1.1\r\n" + line.substr(0, at) + bad + line.substr(at) + "\r\n\r\n";
      HeadScanner sc;
      sc.reset(true, lim);
      ASSERT_EQ(sc.scan(head.data(), head.size()), HeadScanner::Result::kError) << at;
      EXPECT_EQ(sc.error_status(), 400);
    }
  }
}

}  // namespace

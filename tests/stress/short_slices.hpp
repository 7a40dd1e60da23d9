// short_slices.hpp — runs the goro::run() calls of a scope with 50 us time slices
// (GORO_DEBUG=preemptus=50 prepended to the caller's settings), so that sysmon asks
// goroutines to stop, by flag and by signal, thousands of times a second.
#pragma once

#include <cstdlib>
#include <string>

namespace goro_test {

class ShortSlices {
 public:
  ShortSlices() {
    const char* old = std::getenv("GORO_DEBUG");
    had_ = old != nullptr;
    if (had_) old_ = old;
    std::string v = "preemptus=50";
    if (had_ && !old_.empty()) v += "," + old_;
    ::setenv("GORO_DEBUG", v.c_str(), 1);
  }
  ~ShortSlices() {
    if (had_) {
      ::setenv("GORO_DEBUG", old_.c_str(), 1);
    } else {
      ::unsetenv("GORO_DEBUG");
    }
  }
  ShortSlices(const ShortSlices&) = delete;
  ShortSlices& operator=(const ShortSlices&) = delete;

 private:
  bool had_ = false;
  std::string old_;
};

}  // namespace goro_test

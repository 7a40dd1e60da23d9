// procs.cpp — the default number of Ps (Go: getproccount, plus the cgroup quota that
// Go 1.25 honours and that matters most in containers).
#include "procs.hpp"

#include <sched.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "debug.hpp"

namespace goro::detail {

namespace {

// The cgroup path of this process for a v1 controller ("cpu") or v2 (""), from
// /proc/self/cgroup lines "id:controllers:path".
std::string cgroup_path(const std::string& controller) {
  std::ifstream f("/proc/self/cgroup");
  std::string line;
  while (std::getline(f, line)) {
    auto a = line.find(':');
    auto b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string ctrls = line.substr(a + 1, b - a - 1);
    std::string path = line.substr(b + 1);
    if (controller.empty()) {
      if (line.compare(0, a, "0") == 0 && ctrls.empty()) return path;
    } else {
      std::stringstream ss(ctrls);
      std::string c;
      while (std::getline(ss, c, ',')) {
        if (c == controller) return path;
      }
    }
  }
  return "";
}

int ceil_div(long long q, long long p) { return static_cast<int>((q + p - 1) / p); }

// Walks from the process's cgroup up to the root, taking the tightest quota.
int v2_limit() {
  std::string path = cgroup_path("");
  if (path.empty()) return 0;
  int best = 0;
  for (;;) {
    std::ifstream f("/sys/fs/cgroup" + path + "/cpu.max");
    std::string quota;
    long long period = 0;
    if (f >> quota >> period && quota != "max" && period > 0) {
      int n = ceil_div(std::atoll(quota.c_str()), period);
      if (n > 0 && (best == 0 || n < best)) best = n;
    }
    if (path == "/" || path.empty()) break;
    auto slash = path.rfind('/');
    path = slash == 0 ? "/" : path.substr(0, slash);
  }
  return best;
}

int v1_limit() {
  std::string path = cgroup_path("cpu");
  if (path.empty()) return 0;
  for (const std::string& root : {std::string("/sys/fs/cgroup/cpu"),
                                  std::string("/sys/fs/cgroup/cpu,cpuacct")}) {
    std::ifstream fq(root + path + "/cpu.cfs_quota_us");
    std::ifstream fp(root + path + "/cpu.cfs_period_us");
    long long quota = 0, period = 0;
    if (fq >> quota && fp >> period) {
      if (quota > 0 && period > 0) return ceil_div(quota, period);
      return 0;
    }
  }
  return 0;
}

}  // namespace

int cgroup_cpu_limit() noexcept {
  try {
    int n = v2_limit();
    if (n == 0) n = v1_limit();
    return n;
  } catch (...) {
    return 0;
  }
}

int default_procs() noexcept {
  if (const char* env = std::getenv("GORO_MAXPROCS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  int n = 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
  if (n <= 0) n = 1;
  int limit = cgroup_cpu_limit();
  if (limit > 0 && limit < n) n = limit;
  return n;
}

}  // namespace goro::detail

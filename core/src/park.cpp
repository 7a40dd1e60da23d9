// park.cpp — the small accessors of park.hpp and the names of statuses and wait
// reasons. park() and ready() themselves live in sched.cpp, beside the switch they use.
#include <goro/core/detail/park.hpp>

#include <sched.h>

#include "debug.hpp"
#include "g.hpp"
#include "m.hpp"
#include "p.hpp"
#include "sched.hpp"

namespace goro::detail {

const char* wait_reason_string(WaitReason r) noexcept {
  switch (r) {
    case WaitReason::kNone: return "";
    case WaitReason::kChanReceive: return "chan receive";
    case WaitReason::kChanSend: return "chan send";
    case WaitReason::kSelect: return "select";
    case WaitReason::kSelectNoCases: return "select (no cases)";
    case WaitReason::kSleep: return "sleep";
    case WaitReason::kSync: return "sync.WaitGroup/Cond/Semaphore";
    case WaitReason::kMutex: return "sync.Mutex.Lock";
    case WaitReason::kRWMutexRead: return "sync.RWMutex.RLock";
    case WaitReason::kRWMutexWrite: return "sync.RWMutex.Lock";
    case WaitReason::kIOWait: return "IO wait";
    case WaitReason::kSyscall: return "syscall";
    case WaitReason::kTimer: return "timer";
    case WaitReason::kContext: return "context";
    case WaitReason::kPreempted: return "preempted";
  }
  return "?";
}

const char* g_status_string(GStatus s) noexcept {
  switch (s) {
    case GStatus::kIdle: return "idle";
    case GStatus::kRunnable: return "runnable";
    case GStatus::kRunning: return "running";
    case GStatus::kWaiting: return "waiting";
    case GStatus::kDead: return "dead";
    case GStatus::kSyscall: return "syscall";
  }
  return "?";
}

void* g_param(G* g) noexcept { return g->param; }
void set_g_param(G* g, void* v) noexcept { g->param = v; }
G*& g_wait_link(G* g) noexcept { return g->wait_link; }
std::uint64_t g_id(G* g) noexcept { return g->id; }

// Go: sync_runtime_canSpin. Spinning is worthwhile only on a multicore machine, with
// another P running (which could release the lock), and with nothing waiting to run here.
bool can_spin(int iter) noexcept {
  constexpr int kActiveSpin = 4;
  if (iter >= kActiveSpin) return false;
  static const int ncpu = [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
  }();
  if (ncpu <= 1) return false;
  std::int32_t procs = sched.gomaxprocs.load(std::memory_order_relaxed);
  if (procs <= sched.npidle.load(std::memory_order_relaxed) +
                   sched.nmspinning.load(std::memory_order_relaxed) + 1) {
    return false;
  }
  M* m = current_m();
  if (m == nullptr || m->p == nullptr || !m->p->runq.empty()) return false;
  return true;
}

void spin_pause() noexcept {
  // Go: procyield(active_spin_cnt = 30).
  for (int i = 0; i < 30; ++i) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
  }
}

}  // namespace goro::detail

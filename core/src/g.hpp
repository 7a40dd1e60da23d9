// g.hpp — a goroutine (Go's runtime.g).
#pragma once

#include <goro/core/detail/park.hpp>
#include <goro/core/detail/timer.hpp>
#include <goro/core/runtime.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "context.hpp"

namespace goro::detail {

struct M;

// Who owns a G, and whether it is on a queue (Go: _Gidle, _Grunnable, _Grunning, ...).
enum class GStatus : std::uint32_t {
  kIdle,      // just allocated or on a free list; owner: the free list's P or lock
  kRunnable,  // on a run queue (local ring, runnext or global), not running; owner: the queue
  kRunning,   // running user code, or inside goro::blocking's fast path (tls_rt.in_call:
              // the P is kSyscall, see syscall.cpp); owner: g->m, which also owns g->m->p
  kWaiting,   // parked; owner: whatever will ready() it (a wait queue, a timer, a fd)
  kSyscall,   // in goro::blocking_long, or a hog detached by the backstop, on g->m, which
              // has no P meanwhile; owner: that M
  kDead,      // finished; stack released, G about to go to a free list
};

const char* g_status_string(GStatus s) noexcept;

// Bytes of callable a G holds inline; larger callables live on the heap.
inline constexpr std::size_t kInlineFnBytes = 96;

// Laid out by temperature: what spawning and switching touch comes first, in two cache
// lines (and the callable in a third), so a G made on one P and run on another moves
// three lines, not six; the sleep timer, used only by goro::sleep, comes last.
struct alignas(64) G {
  // --- line 0: switching
  Ctx ctx;  // owner: see GStatus
  // atomic: written by the owner at each transition; read racily by reports (schedtrace,
  // deadlock dump) and by ready()'s CAS waiting -> runnable.
  std::atomic<GStatus> status{GStatus::kIdle};
  WaitReason wait_reason = WaitReason::kNone;  // written by the G before parking
  bool fn_on_heap = false;
  bool is_main = false;
  std::uint64_t id = 0;  // set at spawn; read by anyone while the G lives
  // --- line 1: queues, waits, the callable's place
  G* sched_link = nullptr;  // global run queue / free lists (guarded by their locks)
  G* wait_link = nullptr;   // a primitive's wait queue (guarded by its lock)
  void* param = nullptr;    // Go's g.param: set by the waker before ready(), read after park()
  M* m = nullptr;           // the M running this G; owner: that M
  char* stack_base = nullptr;  // the stack mapping bound at first run (stack.hpp); owner: G's owner
  GEntry entry = nullptr;
  void* fn = nullptr;       // the callable: points into fn_buf or to the heap
  std::size_t fn_align = 16;  // the alignment fn was allocated with (when on the heap)
  // --- lines 2-3: the callable, when it fits
  alignas(16) unsigned char fn_buf[kInlineFnBytes];
  // --- cold
  Timer sleep_timer;  // goro::sleep's timer (Go: g.timer), reused; owner: this G
  // On the global free list, which holds batches (chains by sched_link) so that a P
  // takes or gives many Gs without walking them: in a batch's first G, the next batch
  // and this batch's length. Guarded by sched.gflock.
  G* gfree_next_batch = nullptr;
  std::int32_t gfree_batch_n = 0;
};

}  // namespace goro::detail

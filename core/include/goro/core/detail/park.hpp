// goro/core/detail/park.hpp — the one park/ready mechanism every blocking operation uses.
//
// Go: runtime.gopark / runtime.goready. The protocol, for a primitive guarded by a Lock:
//
//   lock.lock();
//   if (must wait) {
//     enqueue(current_g());                        // visible to wakers under the lock
//     park([](G*, void* l) { static_cast<Lock*>(l)->unlock(); return true; }, &lock,
//          WaitReason::kSync);                      // returns once someone ready()s us
//   }
//
// park() switches away first and only then runs unlock_fn on the next goroutine's stack,
// so a waker that takes the lock and finds the G can never ready it while it is still
// running. If unlock_fn returns false, the park is abandoned and the G runs again.
// unlock_fn must release every detail::Lock the goroutine holds when it parks.
// A readied G goes to the waker's P `runnext` slot (it runs next, inheriting the time slice).
#pragma once

#include <cstdint>

namespace goro::detail {

struct G;

// Why a goroutine is parked (shown by schedtrace/scheddetail and the deadlock report).
enum class WaitReason : std::uint8_t {
  kNone,
  kChanReceive,
  kChanSend,
  kSelect,
  kSelectNoCases,
  kSleep,
  kSync,         // WaitGroup, Cond, Semaphore
  kMutex,
  kRWMutexRead,
  kRWMutexWrite,
  kIOWait,
  kSyscall,
  kTimer,
  kContext,
  kPreempted,
};

const char* wait_reason_string(WaitReason r) noexcept;

// The running goroutine; nullptr outside one.
G* current_g() noexcept;

// Parks the running goroutine. unlock_fn(g, arg) runs after the switch, on another stack;
// returning false cancels the park (the goroutine is made runnable again).
using UnlockFn = bool (*)(G* g, void* arg) noexcept;
void park(UnlockFn unlock_fn, void* arg, WaitReason reason) noexcept;

// Makes a parked goroutine runnable. Callable from any goroutine or thread.
void ready(G* g) noexcept;

// Per-G word for wakers to pass a result to the woken goroutine (Go's g.param).
void* g_param(G* g) noexcept;
void set_g_param(G* g, void* v) noexcept;
// Intrusive link for wait queues; owned by whoever holds the queue's lock.
G*& g_wait_link(G* g) noexcept;
std::uint64_t g_id(G* g) noexcept;

// Go: sync_runtime_canSpin. Whether a goroutine on its iter-th attempt to take a busy
// lock should spin rather than park: more than one CPU, another P running, and nothing
// waiting in this P's run queue. spin_pause() is one short CPU-friendly spin step.
bool can_spin(int iter) noexcept;
void spin_pause() noexcept;

// Go: goyield. Like goro::yield(), but the caller goes to the back of its P's local
// queue instead of anywhere, so a just-readied runnext G (e.g. a handed-off mutex
// waiter) runs first.
void yield_local() noexcept;

}  // namespace goro::detail

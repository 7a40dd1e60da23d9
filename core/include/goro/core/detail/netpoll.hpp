// goro/core/detail/netpoll.hpp — the contract between the scheduler and a network poller
// (Go: netpoll, netpollBreak, netpollinited, injectglist in proc.go).
//
// goro::net installs a poller (on Asio's reactor) when its first socket is made. The
// scheduler then drives it, as Go's does:
//   - an M that finds nothing in its run queues polls without blocking before stealing;
//   - when nothing at all is runnable, exactly one M blocks in poll() until the earliest
//     timer (instead of sleeping on a futex), and wake() interrupts it when an earlier
//     timer is armed or the runtime shuts down;
//   - sysmon polls if nobody has for 10 ms.
// poll() reports goroutines whose I/O is ready by calling netpoll_ready(g) for each (g
// must be parked, typically with WaitReason::kIOWait); the scheduler collects them and
// puts them on run queues where idle Ps will find them.
#pragma once

#include <cstdint>

namespace goro::detail {

struct G;

struct NetpollOps {
  // Waits for readiness up to delay_ns (0: don't wait, < 0: until woken). Thread-safe
  // for one caller at a time (the scheduler guarantees it).
  void (*poll)(std::int64_t delay_ns) noexcept;
  // Interrupts a blocking poll() from any thread; a wake() with no poll in progress
  // makes the next poll return at once.
  void (*wake)() noexcept;
};

// Installs the poller (once per run(); later calls are ignored). The scheduler stops
// using it when run() returns; net re-installs it in the next run().
void netpoll_install(const NetpollOps* ops) noexcept;
// Only inside NetpollOps::poll: g (parked) is ready to run.
void netpoll_ready(G* g) noexcept;
// Counts goroutines parked on I/O (Go: netpollWaiters); the scheduler polls only when
// there are some.
void netpoll_waiters_add(int delta) noexcept;
// Whether the current run() has a poller installed.
bool netpoll_installed() noexcept;

}  // namespace goro::detail

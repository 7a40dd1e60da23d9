// netpoll.hpp — goro::net's side of the network poller: per-descriptor wait slots on
// Asio's reactor (netpoll.cpp), in the shape of Go's runtime/netpoll.go
// (poll_runtime_pollOpen, pollReset, pollWait, pollSetDeadline, pollUnblock, pollClose).
//
// Private to goro::net; no Asio type appears here. fd.cpp (Go's internal/poll.FD) is
// the only user. The calling pattern for one operation, e.g. a read:
//
//   if (PollErr e = poll_reset(pd, kRead)) return e;          // closed or timed out
//   for (;;) {
//     n = ::read(fd, ...);
//     if (n < 0 && errno == EAGAIN)
//       if (PollErr e = poll_wait(pd, kRead); e == PollErr::kNone) continue;   // parks
//     ...
//   }
#pragma once

#include <cstdint>

namespace goro::net::detail {

struct PollDesc;

enum PollMode : int { kRead = 'r', kWrite = 'w', kReadWrite = 'r' + 'w' };

// Go: pollNoError, pollErrClosing, pollErrTimeout.
enum class PollErr : int { kNone = 0, kClosing = 1, kTimeout = 2 };

// Go: poll_runtime_pollOpen. Takes a descriptor from the cache, registers fd with the
// reactor (edge-triggered, read and write) and installs the poller in this run(). Returns
// nullptr and sets *err (an errno) if the reactor refuses the descriptor.
PollDesc* poll_open(int fd, int* err) noexcept;

// Go: poll_runtime_pollClose. Deregisters the descriptor (before the caller closes fd, so
// a reused fd number can never be hit) and returns pd to the cache. No goroutine may be
// parked on pd (call poll_unblock first); deadline timers are stopped.
void poll_close(PollDesc* pd) noexcept;

// Go: poll_runtime_pollReset. Before an operation: the error that stops it already (closed,
// deadline passed), else forgets a stale readiness notice for `mode`.
PollErr poll_reset(PollDesc* pd, PollMode mode) noexcept;

// Go: poll_runtime_pollWait. After EAGAIN: parks the calling goroutine until pd is ready
// for `mode` (WaitReason::kIOWait), its deadline passes or it is closed. kNone: retry the
// system call. Outside a goroutine, blocks the thread in poll(2) instead.
PollErr poll_wait(PollDesc* pd, PollMode mode) noexcept;

// The number of read readiness edges the poller has taken for pd so far (it wraps). A
// reader loads it before its system call, for poll_wait_quiet.
std::uint32_t poll_read_edges(const PollDesc* pd) noexcept;

// Registers pd's descriptor for EPOLLRDHUP too (call before it is shared), so that the
// poller notes a peer's FIN (and any hang-up or error) for poll_hangup_seen. false if
// epoll refused: then a short read proves nothing.
bool poll_watch_hangup(PollDesc* pd) noexcept;

// Whether the poller has seen a FIN, hang-up or error on pd (sticky). A short read made
// after a snapshot `edges` = poll_read_edges() left nothing queued — no byte and no FIN
// — unless this is true after it: a FIN taken before the snapshot is seen here, one
// taken after it changes the edge count.
bool poll_hangup_seen(const PollDesc* pd) noexcept;

// After a read that left the socket with nothing queued — no byte and no FIN (a short
// read, poll_hangup_seen false after it) — made with `edges` = poll_read_edges() loaded
// before that read: waits as poll_wait(kRead) does, without first trying the read that
// would only return EAGAIN, unless a read edge has arrived since `edges` (then kNone at
// once: read). Whatever arrives after such a read raises an edge the poller takes later,
// so nothing is missed; an edge taken between this check and the park leaves the slot
// kReady (see netpoll.cpp). Outside a goroutine: kNone (the caller reads, then waits as
// usual).
PollErr poll_wait_quiet(PollDesc* pd, std::uint32_t edges) noexcept;

// Go: poll_runtime_pollSetDeadline. deadline: monotonic ns (detail::nanotime), 0 for none,
// < 0 for "already passed". Takes effect for a goroutine parked on pd right now: it is
// woken with kTimeout if the new deadline has passed, and re-timed otherwise.
void poll_set_deadline(PollDesc* pd, std::int64_t deadline, PollMode mode) noexcept;

// Go: poll_runtime_pollUnblock. Marks pd closing and wakes its parked goroutines (they see
// kClosing); later operations fail with kClosing at once.
void poll_unblock(PollDesc* pd) noexcept;

// The descriptor pd was opened with.
int poll_fd(const PollDesc* pd) noexcept;

// Testing: descriptors in use and cached (never freed: a stale timer may still hold one).
struct PollStats {
  std::int64_t open;
  std::int64_t cached;
};
PollStats poll_stats() noexcept;

}  // namespace goro::net::detail

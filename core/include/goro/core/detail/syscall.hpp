// goro/core/detail/syscall.hpp — goro::blocking's fast path, inline in the caller.
//
// The protocol (Go's entersyscall/exitsyscall, and the handshake with sysmon that lets
// the exit's fast path be plain loads and stores) is described at the top of
// core/src/syscall.cpp; this header holds only what the caller's code must see to run
// the common case without a call into the runtime: the P's status, call tick and
// preempt flag, the thread's runtime state, and sysmon's sleep word.
//
// Why inline: a getpid(2) costs ~74 ns here, and the goal is that the whole path cost no
// more than Go's bare syscall.Getpid (~78 ns). Next to a kernel entry every out-of-line
// call and every chain of dependent loads costs 1-2 ns (measured: the same stores through
// tls_m -> M -> P cost 2-3 ns more than through the thread-local copy of the P), so the
// entry and the exit each touch one thread-local line and the P, and call nothing unless
// something is unusual (loadtest/README.md, tenth session).
#pragma once

#include <atomic>
#include <cstdint>

#include <goro/core/detail/thread_rt.hpp>

namespace goro::detail {

// Go: _Pidle, _Prunning, _Psyscall, _Pdead.
enum class PStatus : std::uint32_t {
  kIdle,     // on sched.pidle; owner: sched.lock
  kRunning,  // owned by p->m
  kSyscall,  // its M is in a blocking call and may come back for it (a plain store of
             // kRunning, see syscall.cpp), unless sysmon takes it first (via kTaking)
  kTaking,   // sysmon is taking it from its M in a blocking call; owner: sysmon, which
             // ends it within the round as kIdle (taken) or kSyscall (the M came back)
  kDead,     // beyond max_procs after a shrink; owner: sched.lock
};

// Each P's call ticks start at its id shifted by this much (see PSyscall::syscalltick).
inline constexpr int kSyscallTickBits = 48;

// The fields of a P (core/src/p.hpp, which derives from this) that the fast path uses.
struct PSyscall {
  // atomic: written by the owner (or under sched.lock for idle/dead Ps); read racily by
  // stealers (skip idle Ps) and reports, and by sysmon (see syscall.cpp).
  std::atomic<PStatus> status{PStatus::kIdle};
  // atomic: set by sysmon (preempt_p) when the running goroutine has had its 10 ms (1)
  // or two slices (2: the backstop may take the P); cleared by the owner when a new time
  // slice starts. relaxed: a hint, re-sent if missed.
  std::atomic<std::uint8_t> preempt{0};
  // atomic: incremented by the owner at each syscall entry; read by sysmon. Starts at
  // the P's id << kSyscallTickBits, so no two Ps' calls share a tick (and 2^48 calls,
  // 250 days of back-to-back getpids, never wrap into the next P's): an M's exit mark
  // can then never equal the tick of a call it has not returned from (syscall.cpp).
  std::atomic<std::uint64_t> syscalltick{0};
};

// sysmon's futex word (sysmon.hpp): 1 while it sleeps deeply (every P idle), 2 while it
// sleeps more than 2 ms with Ps running, 0 otherwise. A call's entry wakes it from either
// (its P may need handing off within ~2 ms), the exit from the deep one.
extern std::atomic<std::uint32_t> sysmon_deep;
inline constexpr std::uint32_t kSysmonDeep = 1, kSysmonLong = 2;
// Whether sysmon's side of the exit handshake is membarrier(2) (else the exit fences).
// Set before any goroutine runs; cleared for good by sysmon should membarrier ever fail.
// atomic: sysmon may clear it while exits read it; relaxed: an exit only picks its
// barrier by it, and sysmon takes nothing until a round after clearing it (see
// syscall_take_barrier), long after any exit that read the old value.
extern std::atomic<bool> g_syscall_asym;

// What the exit needs of the entry: the P it left (nullptr: no call was entered) and the
// call's tick.
struct SyscallCall {
  PSyscall* p = nullptr;
  std::uint64_t tick = 0;
};

// Out of line (core/src/syscall.cpp). By value: the caller keeps both in registers.
SyscallCall enter_syscall_slow() noexcept;
void exit_syscall_slow(PSyscall* p, std::uint64_t tick) noexcept;
void syscall_wake_sysmon(bool entry) noexcept;
bool enter_syscall_block() noexcept;
void exit_syscall_block() noexcept;
void preempt_self() noexcept;

// Go: entersyscall. A null p, with nothing done, where f simply runs: outside a
// goroutine, or inside another goro::blocking call (already off the P).
[[gnu::always_inline]] inline SyscallCall enter_syscall() noexcept {
  if (GORO_TLS_RT(in_call)) return {};
  // First, before anything of the P is in a register: from here on the signal handler
  // leaves this goroutine where it is (it could otherwise move it to another thread
  // between the load of the P and the stores below).
  GORO_TLS_RT(in_call) = true;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  PSyscall* p = GORO_TLS_RT(p);
  if (p == nullptr || GORO_TLS_RT(detached)) [[unlikely]] {
    return enter_syscall_slow();
  }
  // relaxed tick: sysmon reads it only after the status store below has published it
  // (its acquire CAS); the exit's ABA check reads our own store.
  const std::uint64_t t = p->syscalltick.load(std::memory_order_relaxed) + 1;
  p->syscalltick.store(t, std::memory_order_relaxed);
  // release: our run queue and timers, as we leave them, are visible to sysmon's
  // handoff once it sees kSyscall (its CAS acquires).
  p->status.store(PStatus::kSyscall, std::memory_order_release);
  // seq_cst load: see sysmon_deep (a plain mov on x86-64).
  if (sysmon_deep.load(std::memory_order_seq_cst) != 0) [[unlikely]] {
    syscall_wake_sysmon(true);
  }
  return {p, t};
}

// The exit's side of the handshake with sysmon (syscall.cpp): true, with p back in
// kRunning, if p is still ours for call `tick`; false if sysmon has taken it or is
// taking it (p untouched). Shared by the inline exit and a detached hog's reattach.
[[gnu::always_inline]] inline bool reclaim_p(PSyscall* p, std::uint64_t tick) noexcept {
  // The exit mark, then the P's status. relaxed store and a compiler barrier where
  // sysmon's side is membarrier(2); else a fence. relaxed flag: see g_syscall_asym.
  GORO_TLS_RT(sysexit).store(tick, std::memory_order_relaxed);
  if (g_syscall_asym.load(std::memory_order_relaxed)) {
    std::atomic_signal_fence(std::memory_order_seq_cst);
  } else {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  // acquire load: a kSyscall of another M's later call comes with that call's tick.
  if (p->status.load(std::memory_order_acquire) != PStatus::kSyscall ||
      p->syscalltick.load(std::memory_order_relaxed) != tick) [[unlikely]] {
    return false;
  }
  // Ours, and sysmon had not begun to take it when we looked; if it begins now it sees
  // our mark and backs off. relaxed: no data moves with it (we kept the P).
  p->status.store(PStatus::kRunning, std::memory_order_relaxed);
  // seq_cst load: see sysmon_deep.
  if (sysmon_deep.load(std::memory_order_seq_cst) == kSysmonDeep) [[unlikely]] {
    syscall_wake_sysmon(false);
  }
  return true;
}

// Go: exitsyscall (its fast path; the rest is exit_syscall_slow).
[[gnu::always_inline]] inline void exit_syscall(SyscallCall call) noexcept {
  PSyscall* p = call.p;
  if (!reclaim_p(p, call.tick)) [[unlikely]] {
    exit_syscall_slow(p, call.tick);
    return;
  }
  // sysmon's request to a goroutine that has made short calls back to back for a whole
  // slice (Go's sysretake). relaxed: see PSyscall::preempt. Read while the P is surely
  // ours; honoured once in_call is down (preempt_self switches).
  const bool yield = p->preempt.load(std::memory_order_relaxed) != 0;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  GORO_TLS_RT(in_call) = false;
  if (yield) [[unlikely]] {
    preempt_self();
  }
}

}  // namespace goro::detail

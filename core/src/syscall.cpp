// syscall.cpp — running blocking calls without blocking the runtime (Go: entersyscall,
// entersyscallblock, exitsyscall, exitsyscallfast, exitsyscall0 in proc.go).
//
// A goroutine about to block its thread in the kernel (read(2) on a pipe, fsync,
// getaddrinfo) must not take its P down with it: the other goroutines on that P would
// wait for the syscall. Handing the P to another thread on every call is what a thread
// pool does, and costs two thread wake-ups per call even for calls that return in a
// microsecond. Go's answer, which we follow:
//
//   enter: the M keeps a note of its P (m->oldp) and of the call's number (the P's
//     syscalltick, in m->syscall_tick) but gives the P up logically: its status becomes
//     kSyscall. No lock, no wake-up: a few stores.
//   sysmon (sysmon.cpp): a P that has stayed in kSyscall for a whole sysmon tick (20 us
//     or more) is taken (kSyscall -> kTaking -> kIdle, below) and handed off to another M.
//   exit: fast path, our old P is still in kSyscall for our call: store kRunning and go
//     on. Else any idle P. Else the goroutine goes to the global queue and this M parks,
//     to be reused.
//
// The exit's handshake with sysmon (Go uses a CAS on the exit side; we don't):
//   M, on its way out:   m->sysexit = T;  [barrier];  read p->status (and syscalltick)
//   sysmon, to take:     CAS p->status kSyscall -> kTaking;  [barrier];  read
//                        p->m->sysexit (p->m stays the M during its call)
// (T: the call's syscalltick; the entry set m->sysexit to T-1.) Dekker's pattern: one of
// the two sees the other's write. If sysmon sees the mark (or a newer call), the M is
// back: sysmon puts kSyscall back (a CAS, which fails if the M's kRunning landed first)
// and leaves the P. Else the M's read comes after sysmon's CAS and sees kTaking (or what
// follows it), so the M leaves the P to sysmon, which moves it to kIdle and hands it
// off. An M that reads kTaking waits the few microseconds until sysmon has decided, then
// tries again with a CAS. The mark is the M's own, not the P's: an M whose P was taken
// long ago, coming back from its call while the P's new owner races sysmon for it, must
// not be able to overwrite the new owner's mark.
// The barrier on sysmon's side is membarrier(2) (PRIVATE_EXPEDITED: it makes every
// running thread of the process execute a full fence), so the M's side needs only a
// compiler barrier: the exit's fast path is plain loads and stores. A CAS there costs
// on every call (right after the kernel returns it waits for the store buffer to drain:
// ~4 ns of a getpid), while sysmon takes a P only from calls that block. Without
// membarrier (old kernels, seccomp, and under TSan, which does not model it) the M's
// side is a full fence instead (sysmon's CAS is one already).
// The tick check in the fast path guards against ABA: after a take, another M may have
// put the same P in kSyscall for a call of its own (T+1...), which is not ours.
//
// enter_syscall_block is for calls known to block long (DNS): it hands the P off at
// once instead of waiting for sysmon.
#include <goro/core/blocking.hpp>

#include <sched.h>
#include <unistd.h>

#include "debug.hpp"
#include "g.hpp"
#include "m.hpp"
#include "membarrier.hpp"
#include "p.hpp"
#include "sched.hpp"
#include "preempt.hpp"
#include "sysmon.hpp"

namespace goro::detail {

namespace {

// The fast paths below call nothing (every call is a few instructions of its own here):
// the getpid benchmark measures this path against Go's bare syscall.Getpid. They need no
// NoPreempt: their code is in the runtime's section, where neither an asynchronous stop
// nor the backstop's detach ever happens (preempt.cpp); the slow paths, which reach into
// libc, take one.

// The part of entry that both kinds share. Returns nullptr outside a goroutine.
[[gnu::always_inline]] inline M* enter_common() noexcept {
  if (GORO_TLS_RT(detached)) reattach();  // before reading m: it may move us to another M
  M* m = GORO_CUR_M();
  if (m == nullptr) return nullptr;
  G* g = m->curg;
  if (g == nullptr) return nullptr;  // on g0: not a goroutine
  P* p = m->p;
  g->status.store(GStatus::kSyscall, std::memory_order_relaxed);
  // relaxed: sysmon compares samples of it, and reads it only after the status store
  // below has published it (its acquire CAS); the exit's ABA check is the M's own.
  std::uint32_t t = p->syscalltick.load(std::memory_order_relaxed) + 1;
  p->syscalltick.store(t, std::memory_order_relaxed);
  m->syscall_tick = t;
  // relaxed: read by sysmon only after the status store below (see the top).
  m->sysexit.store(t - 1, std::memory_order_relaxed);
  m->oldp = p;
  m->p = nullptr;  // p->m stays: sysmon finds our exit mark through it (P::m)
  return m;
}

// Whether sysmon's side of the exit handshake is membarrier(2); else the M's side
// fences. Written once by syscall_handshake_init before any goroutine runs.
bool g_asym = false;

// The M's barrier between its exit mark and its status load (see the top).
[[gnu::always_inline]] inline void exit_barrier() noexcept {
  if (g_asym) {
    std::atomic_signal_fence(std::memory_order_seq_cst);  // membarrier covers the CPU
  } else {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
}

// The old P is ours again: the rest of acquirep (whose status store the caller did;
// p->m is still m, see enter_common).
[[gnu::always_inline]] inline void reacquire(M* m, G* g, P* p) noexcept {
  m->p = p;
  g->status.store(GStatus::kRunning, std::memory_order_relaxed);
}

// Go: exitsyscall's slow paths (exitsyscallfast_pidle, exitsyscall0). oldp: the P we
// left for the call, which the fast path did not find in kSyscall for it.
[[gnu::noinline]] void exit_syscall_slow(M* m, G* g, P* oldp) noexcept {
  NoPreempt np;  // it calls into libc (wakep may create a thread) while holding state
  if (oldp != nullptr) {
    // sysmon may be between its CAS to kTaking and its decision (one membarrier): wait
    // for it, then try for our P again, now with a CAS (sysmon may try again too).
    for (int spins = 0;; ++spins) {
      // acquire: if it is a kSyscall of another M's call, we must see that call's tick.
      PStatus s = oldp->status.load(std::memory_order_acquire);
      if (s == PStatus::kTaking) {
        if (spins < 64) {
          spin_pause();
        } else {
          sched_yield();  // sysmon may be waiting for this CPU
        }
        continue;
      }
      PStatus expected = PStatus::kSyscall;
      // relaxed tick: ordered by the acquire above. acquire CAS: as in enter_syscall.
      if (s == PStatus::kSyscall &&
          oldp->syscalltick.load(std::memory_order_relaxed) == m->syscall_tick &&
          oldp->status.compare_exchange_strong(expected, PStatus::kRunning,
                                               std::memory_order_acquire)) {
        reacquire(m, g, oldp);
        return;
      }
      break;
    }
  }
  sched.lock.lock();
  P* p = pidleget();
  sched.lock.unlock();
  if (p != nullptr) {
    acquirep(m, p);
    g->status.store(GStatus::kRunning, std::memory_order_relaxed);
    // We may have taken the last idle P another M was about to spin on.
    wakep();
    return;
  }
  // No P: queue the goroutine and park this M.
  requeue_global_and_stop(m, g);
  g->status.store(GStatus::kRunning, std::memory_order_relaxed);
}

[[gnu::noinline]] void sysmon_wake_np(bool syscall) noexcept {
  NoPreempt np;  // futex_wake is a libc call
  sysmon_wake_slow(syscall);
}

}  // namespace

// Go: entersyscall.
bool enter_syscall() noexcept {
  M* m = enter_common();
  if (m == nullptr) return false;
  // release: our run queue and timers, as we leave them, are visible to sysmon's
  // handoff once it sees kSyscall (its CAS acquires).
  m->oldp->status.store(PStatus::kSyscall, std::memory_order_release);
  // seq_cst load: see sysmon_deep (a plain mov on x86-64). Deep or long sleep: wake it.
  if (sysmon_deep.load(std::memory_order_seq_cst) != 0) sysmon_wake_np(true);
  return true;
}

// Go: entersyscallblock.
bool enter_syscall_block() noexcept {
  M* m = enter_common();
  if (m == nullptr) return false;
  NoPreempt np;  // handoff_p reaches into libc (it may start a thread)
  P* p = m->oldp;
  m->oldp = nullptr;
  p->m.store(nullptr, std::memory_order_relaxed);  // relaxed: see P::m
  p->status.store(PStatus::kIdle, std::memory_order_relaxed);  // handoff_p owns it now
  handoff_p(p);
  return true;
}

// Go: exitsyscall. may_yield: honour sysmon's request (not when called by reattach,
// which runs at the entry of runtime functions that go on right after it).
[[gnu::always_inline]] inline void exit_syscall_impl(bool may_yield) noexcept {
  M* m = GORO_CUR_M();
  G* g = m->curg;
  P* oldp = m->oldp;
  m->oldp = nullptr;
  if (oldp != nullptr) [[likely]] {
    const std::uint32_t t = m->syscall_tick;
    // relaxed store, barrier, then loads: the handshake at the top (the barrier is
    // sysmon's membarrier, or the fence in exit_barrier). acquire load: a kSyscall of
    // another M's later call comes with that call's tick (published before it).
    m->sysexit.store(t, std::memory_order_relaxed);
    exit_barrier();
    if (oldp->status.load(std::memory_order_acquire) == PStatus::kSyscall &&
        oldp->syscalltick.load(std::memory_order_relaxed) == t) [[likely]] {
      // Ours, and sysmon had not begun to take it when we looked; if it begins now it
      // sees our mark and backs off. relaxed: no data moves with it (we kept the P).
      oldp->status.store(PStatus::kRunning, std::memory_order_relaxed);
      reacquire(m, g, oldp);
      // seq_cst load: see sysmon_deep.
      if (sysmon_deep.load(std::memory_order_seq_cst) == kSysmonDeep) sysmon_wake_np(false);
      // sysmon's request to a goroutine that has made short calls back to back for a
      // whole slice (Go's sysretake, see sysmon.cpp). relaxed: see P::preempt.
      if (may_yield && oldp->preempt.load(std::memory_order_relaxed) != 0) [[unlikely]] {
        preempt_self();
      }
      return;
    }
  }
  exit_syscall_slow(m, g, oldp);
}

void exit_syscall() noexcept { exit_syscall_impl(true); }
void exit_syscall_noyield() noexcept { exit_syscall_impl(false); }

void syscall_handshake_init() noexcept {
  g_asym = g_lock_asym;  // membarrier registered (lock.cpp), not under TSan
}

bool syscall_take_begin(P* p) noexcept {
  PStatus expected = PStatus::kSyscall;
  // acquire: pairs with enter_syscall's release; the P's queues are ours if we keep it.
  // (seq_cst: sysmon's side of the handshake when there is no membarrier.)
  return p->status.compare_exchange_strong(expected, PStatus::kTaking, std::memory_order_seq_cst);
}

bool syscall_take_barrier() noexcept {
  if (!g_asym) {
    // The exits fence themselves; this orders our CAS before the reads of the mark in
    // syscall_take_end (a full fence right after a CAS: free on x86-64).
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return true;
  }
  if (membarrier_all()) return true;
  // It cannot fail once registered (only for bad arguments or without registration);
  // should it, take nothing this round and have the exits fence from now on: the next
  // take comes a sysmon round (20 us or more) later, long after any exit that was past
  // its compiler-only barrier when the flag changed.
  g_asym = false;
  return false;
}

bool syscall_take_end(P* p, std::uint32_t tick, bool barrier_ok) noexcept {
  // relaxed: ordered after our CAS by the barrier (see the top). p->m is the M of call
  // `tick` as long as that call has not returned with the P (nobody else writes it while
  // the P is kTaking); if it has, the mark we read there says so, or the tick moved.
  M* m = p->m.load(std::memory_order_relaxed);
  std::uint32_t now = p->syscalltick.load(std::memory_order_relaxed);
  if (barrier_ok && m != nullptr && now == tick &&
      m->sysexit.load(std::memory_order_relaxed) != tick) {
    // Its M is still in call `tick`, and will see kTaking or later when it comes back.
    // (A CAS, not a store: were the handshake ever wrong, a lost take beats two owners.)
    PStatus expected = PStatus::kTaking;
    if (p->status.compare_exchange_strong(expected, PStatus::kIdle, std::memory_order_relaxed)) {
      p->m.store(nullptr, std::memory_order_relaxed);  // handoff_p owns it now
      sched.nsyscall_takes.fetch_add(1, std::memory_order_relaxed);  // relaxed: statistics
      return true;
    }
    return false;
  }
  sched.nsyscall_takes_abandoned.fetch_add(1, std::memory_order_relaxed);  // relaxed: same
  // The M is back (or on its way): give the P back; if its kRunning is already there,
  // the CAS fails, which is right too.
  PStatus expected = PStatus::kTaking;
  // release: our CAS took nothing; the M's kRunning or next kSyscall orders itself.
  p->status.compare_exchange_strong(expected, PStatus::kSyscall, std::memory_order_release,
                                    std::memory_order_relaxed);
  return false;
}

}  // namespace goro::detail

// syscall.cpp — running blocking calls without blocking the runtime (Go: entersyscall,
// entersyscallblock, exitsyscall, exitsyscallfast, exitsyscall0 in proc.go).
//
// A goroutine about to block its thread in the kernel (read(2) on a pipe, fsync,
// getaddrinfo) must not take its P down with it: the other goroutines on that P would
// wait for the syscall. Handing the P to another thread on every call is what a thread
// pool does, and costs two thread wake-ups per call even for calls that return in a
// microsecond. Go's answer, which we follow:
//
//   enter: the M keeps a note of its P (m->oldp) but gives it up logically: the P's
//     status becomes kSyscall. No lock, no wake-up: a few stores.
//   sysmon (sysmon.cpp): a P that has stayed in kSyscall for a whole sysmon tick (20 us
//     or more) is taken (CAS kSyscall -> kIdle) and handed off to another M.
//   exit: fast path, CAS our old P from kSyscall back to kRunning and go on. Else any
//     idle P. Else the goroutine goes to the global queue and this M parks, to be reused.
//
// enter_syscall_block is for calls known to block long (DNS): it hands the P off at
// once instead of waiting for sysmon.
#include <goro/core/blocking.hpp>

#include "debug.hpp"
#include "g.hpp"
#include "m.hpp"
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
  // relaxed: sysmon compares samples of it; no data is published through it.
  p->syscalltick.store(p->syscalltick.load(std::memory_order_relaxed) + 1,
                       std::memory_order_relaxed);
  m->oldp = p;
  m->p = nullptr;
  p->m = nullptr;
  m->in_syscall.store(true, std::memory_order_relaxed);
  return m;
}

// Go: exitsyscall's slow paths (exitsyscallfast_pidle, exitsyscall0).
[[gnu::noinline]] void exit_syscall_slow(M* m, G* g) noexcept {
  NoPreempt np;  // it calls into libc (wakep may create a thread) while holding state
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
  p->status.store(PStatus::kIdle, std::memory_order_relaxed);  // handoff_p owns it now
  handoff_p(p);
  return true;
}

// Go: exitsyscall. may_yield: honour sysmon's request (not when called by reattach,
// which runs at the entry of runtime functions that go on right after it).
[[gnu::always_inline]] inline void exit_syscall_impl(bool may_yield) noexcept {
  M* m = GORO_CUR_M();
  G* g = m->curg;
  m->in_syscall.store(false, std::memory_order_relaxed);
  P* oldp = m->oldp;
  m->oldp = nullptr;
  PStatus expected = PStatus::kSyscall;
  // acquire: pairs with the release store in enter_syscall (and, if sysmon took the P
  // and it came back to idle meanwhile, we go the pidleget way instead).
  if (oldp != nullptr && oldp->status.compare_exchange_strong(expected, PStatus::kRunning,
                                                             std::memory_order_acquire)) {
    // acquirep, whose status store the CAS did.
    m->p = oldp;
    oldp->m = m;
    g->status.store(GStatus::kRunning, std::memory_order_relaxed);
    // seq_cst load: see sysmon_deep.
    if (sysmon_deep.load(std::memory_order_seq_cst) == kSysmonDeep) sysmon_wake_np(false);
    // sysmon's request to a goroutine that has made short calls back to back for a
    // whole slice (Go's sysretake, see sysmon.cpp). relaxed: see P::preempt.
    if (may_yield && oldp->preempt.load(std::memory_order_relaxed) != 0) [[unlikely]] {
      preempt_self();
    }
    return;
  }
  exit_syscall_slow(m, g);
}

void exit_syscall() noexcept { exit_syscall_impl(true); }
void exit_syscall_noyield() noexcept { exit_syscall_impl(false); }

}  // namespace goro::detail

// syscall.cpp — running blocking calls without blocking the runtime (Go: entersyscall,
// entersyscallblock, exitsyscall, exitsyscallfast, exitsyscall0 in proc.go).
//
// A goroutine about to block its thread in the kernel (read(2) on a pipe, fsync,
// getaddrinfo) must not take its P down with it: the other goroutines on that P would
// wait for the syscall. Handing the P to another thread on every call is what a thread
// pool does, and costs two thread wake-ups per call even for calls that return in a
// microsecond. Go's answer, which we follow:
//
//   enter: the M keeps its P but gives it up logically: the P's status becomes kSyscall,
//     with a new call tick (p->syscalltick). No lock, no wake-up: two stores.
//   sysmon (sysmon.cpp): a P that has stayed in kSyscall for a whole sysmon tick (20 us
//     or more) is taken (kSyscall -> kTaking -> kIdle, below) and handed off to another M.
//   exit: fast path, our P is still in kSyscall for our call: store kRunning and go on.
//     Else any idle P. Else the goroutine goes to the global queue and this M parks,
//     to be reused.
//
// The fast path of both is inline in the caller (goro/core/detail/syscall.hpp): it
// reaches the P through the thread's runtime state (tls_rt.p, a copy of M::p) and keeps
// the P and the tick in registers across the call, so it touches neither the M nor the
// G. Meanwhile M::p still names the P, but the thread is marked in_call: the signal
// handler leaves it alone and the runtime refuses to park it. Everything unusual (no P,
// a detached hog, sysmon asleep, the P taken) goes out of line, here.
//
// The exit's handshake with sysmon (Go uses a CAS on the exit side; we don't):
//   M, on its way out:   tls_rt.sysexit = T;  [barrier];  read p->status (and syscalltick)
//   sysmon, to take:     CAS p->status kSyscall -> kTaking;  [barrier];  read
//                        p->m->rt->sysexit (p->m stays the M during its call)
// (T: the call's tick.) Dekker's pattern: one of the two sees the other's write. If sysmon
// sees the mark (or a newer call), the M is back: sysmon puts kSyscall back (a CAS,
// which fails if the M's kRunning landed first) and leaves the P. Else the M's read comes
// after sysmon's CAS and sees kTaking (or what follows it), so the M leaves the P to
// sysmon, which moves it to kIdle and hands it off. An M that reads kTaking waits the few
// microseconds until sysmon has decided, then tries again with a CAS. The mark is the
// M's own, not the P's: an M whose P was taken long ago, coming back from its call while
// the P's new owner races sysmon for it, must not be able to overwrite the new owner's
// mark. The entry writes no mark: a mark holds the tick of a call its M has returned
// from, and ticks are never reused (each P counts in a range of its own, see
// PSyscall::syscalltick; run() clears M0's mark, whose Ps count from the same bases
// again), so it can only equal T once the M is back from call T.
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

std::atomic<bool> g_syscall_asym{false};

namespace {

// The old P is ours again: the rest of acquirep (whose status store the caller did;
// p->m is still m, see the top).
void reacquire(M* m, G* g, P* p) noexcept {
  m->p = p;
  m->rt->p = p;
  g->status.store(GStatus::kRunning, std::memory_order_relaxed);
}

// Go: exitsyscall's slow paths (exitsyscallfast_pidle, exitsyscall0). oldp: the P we
// left for call t, which the fast path did not find in kSyscall for it (nullptr after
// blocking_long). m holds no P here.
void exit_slow(M* m, G* g, P* oldp, std::uint64_t t) noexcept {
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
      if (s == PStatus::kSyscall && oldp->syscalltick.load(std::memory_order_relaxed) == t &&
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

}  // namespace

// The inline entry found no P in tls_rt (no goroutine runs here) or a detached hog.
// Called with in_call set; this code is in the runtime's section, where the signal
// handler never stops a goroutine, so in_call may come down around reattach (which may
// move us to another thread). After it the goroutine has a P, and the inline entry does
// the rest.
SyscallCall enter_syscall_slow() noexcept {
  GORO_TLS_RT(in_call) = false;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (!GORO_TLS_RT(detached)) return {};  // outside a goroutine: f runs as a plain call
  reattach();
  return enter_syscall();
}

// The inline exit found its P taken, or being taken: its mark and barrier are done.
void exit_syscall_slow(PSyscall* p, std::uint64_t tick) noexcept {
  M* m = GORO_CUR_M();
  GORO_TLS_RT(in_call) = false;  // runtime section: see enter_syscall_slow
  m->p = nullptr;  // ours again only if exit_slow wins it back
  m->rt->p = nullptr;
  exit_slow(m, m->curg, static_cast<P*>(p), tick);
}

void syscall_wake_sysmon(bool entry) noexcept {
  NoPreempt np;  // futex_wake is a libc call
  sysmon_wake_slow(entry);
}

// Go: entersyscallblock.
bool enter_syscall_block() noexcept {
  if (GORO_TLS_RT(in_call)) return false;  // inside another call: already off the P
  if (GORO_TLS_RT(detached)) reattach();
  M* m = GORO_CUR_M();
  if (m == nullptr || m->curg == nullptr || m->p == nullptr) return false;  // no goroutine
  GORO_TLS_RT(in_call) = true;
  NoPreempt np;  // handoff_p reaches into libc (it may start a thread)
  P* p = m->p;
  m->curg->status.store(GStatus::kSyscall, std::memory_order_relaxed);
  // relaxed: sysmon only compares samples of it.
  p->syscalltick.store(p->syscalltick.load(std::memory_order_relaxed) + 1,
                       std::memory_order_relaxed);
  m->p = nullptr;
  m->rt->p = nullptr;
  p->m.store(nullptr, std::memory_order_relaxed);  // relaxed: see P::m
  p->status.store(PStatus::kIdle, std::memory_order_relaxed);  // handoff_p owns it now
  handoff_p(p);
  return true;
}

void exit_syscall_block() noexcept {
  M* m = GORO_CUR_M();
  GORO_TLS_RT(in_call) = false;
  exit_slow(m, m->curg, nullptr, 0);
}

// The exit of a detach (preempt.cpp), for reattach: like the inline exit, without the
// preemption check (reattach runs at the entry of runtime functions that go on right
// after it).
void exit_syscall_noyield() noexcept {
  M* m = GORO_CUR_M();
  G* g = m->curg;
  P* oldp = m->oldp;
  const std::uint64_t t = m->syscall_tick;
  m->oldp = nullptr;
  if (oldp != nullptr && reclaim_p(oldp, t)) {
    reacquire(m, g, oldp);  // the detach cleared M::p and made the G kSyscall
    return;
  }
  exit_slow(m, g, oldp, t);
}

void syscall_handshake_init() noexcept {
  // membarrier registered (lock.cpp), not under TSan. relaxed: before any goroutine runs.
  g_syscall_asym.store(g_lock_asym, std::memory_order_relaxed);
}

bool syscall_take_begin(P* p) noexcept {
  PStatus expected = PStatus::kSyscall;
  // acquire: pairs with enter_syscall's release; the P's queues are ours if we keep it.
  // (seq_cst: sysmon's side of the handshake when there is no membarrier.)
  return p->status.compare_exchange_strong(expected, PStatus::kTaking, std::memory_order_seq_cst);
}

bool syscall_take_barrier() noexcept {
  if (!g_syscall_asym.load(std::memory_order_relaxed)) {  // relaxed: only sysmon writes it
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
  g_syscall_asym.store(false, std::memory_order_relaxed);  // relaxed: see its declaration
  return false;
}

bool syscall_take_end(P* p, std::uint64_t tick, bool barrier_ok) noexcept {
  // relaxed: ordered after our CAS by the barrier (see the top). p->m is the M of call
  // `tick` as long as that call has not returned with the P (nobody else writes it while
  // the P is kTaking); if it has, the mark we read there says so, or the tick moved. Its
  // thread is alive: it cannot finish without this P.
  M* m = p->m.load(std::memory_order_relaxed);
  std::uint64_t now = p->syscalltick.load(std::memory_order_relaxed);
  if (barrier_ok && m != nullptr && now == tick &&
      m->rt->sysexit.load(std::memory_order_relaxed) != tick) {
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

// sched.hpp — the scheduler's global state and the functions the rest of core/ calls.
// The story of how it all fits together is at the top of sched.cpp.
#pragma once

#include <goro/core/detail/lock.hpp>
#include <goro/core/runtime.hpp>

#include <atomic>
#include <cstdint>
#include <vector>

#include "g.hpp"
#include "m.hpp"
#include "p.hpp"
#include "stack.hpp"

namespace goro::detail {

inline constexpr int kMaxProcs = 1024;

// Go: runtime.schedt. One instance, `sched`, lives while run() runs.
struct Sched {
  // sched.lock guards the idle M and P lists, the global run queue, allm and P status
  // changes to/from idle or dead. Lock order (see core/HACKING.md): sched.lock is taken
  // before gflock and StackPool's lock, never after; no other runtime lock is held
  // while taking it.
  Lock lock;

  M* midle = nullptr;        // idle Ms, linked by schedlink; guarded by lock
  std::int32_t nmidle = 0;   // guarded by lock
  std::int32_t mcount = 0;   // threads created so far; guarded by lock
  std::vector<M*> allm;      // guarded by lock; never shrinks while running

  P* pidle = nullptr;        // idle Ps, linked by link; guarded by lock
  // atomic: written under lock, read lock-free by wakep() and the spinning rule.
  // seq_cst: wakep()'s read must not be reordered before its caller's run queue store
  // (the Dekker-style handshake with an M going idle, see "Spinning Ms" in sched.cpp).
  std::atomic<std::int32_t> npidle{0};
  // atomic: number of spinning Ms; seq_cst for the same handshake.
  std::atomic<std::int32_t> nmspinning{0};

  G* runq_head = nullptr;    // global run queue, linked by sched_link; guarded by lock
  G* runq_tail = nullptr;
  // atomic: written under lock; read lock-free as a hint ("is it worth locking?").
  std::atomic<std::int32_t> runqsize{0};

  // atomic: written under lock by set_max_procs; read lock-free everywhere (relaxed:
  // a stale value only delays a shrink or grow to the next scheduling point).
  std::atomic<std::int32_t> gomaxprocs{0};
  // allp[i] is created once and lives until shutdown. atomic: stealers read it
  // lock-free (acquire pairs with the release store when a P is created).
  std::atomic<P*> allp[kMaxProcs] = {};

  // atomic: set once by the main goroutine's exit (under lock), read everywhere.
  std::atomic<bool> shutdown{false};
  // atomic counters; relaxed: statistics and ids, no data published through them.
  std::atomic<std::int64_t> ngoroutines{0};
  std::atomic<std::uint64_t> goid_gen{0};
  // Ps sysmon took from Ms in system calls, and takes it abandoned because the M came
  // back meanwhile (syscall.cpp's handshake). Written by sysmon only.
  std::atomic<std::uint64_t> nsyscall_takes{0}, nsyscall_takes_abandoned{0};

  // Free Gs not cached by a P, and every G chunk ever allocated (Go's sched.gFree and
  // allgs). gflock guards them; leaf lock. gfree is a list of batches (see
  // G::gfree_next_batch); ngfree counts Gs.
  Lock gflock;
  G* gfree = nullptr;
  std::int64_t ngfree = 0;
  std::vector<G*> gchunks;

  // The one M sleeping with a timeout until the earliest timer (Go: the M blocked in
  // netpoll with pollUntil). guarded by lock.
  M* timer_sleeper = nullptr;
  // atomic: that M's wake-up time, 0 if none. Written under lock; read lock-free by
  // add_timer (seq_cst: the timed-sleep handshake, see stopm_timed).
  std::atomic<std::int64_t> sleep_until{0};

  // Network poller state (Go: sched.lastpoll, sched.pollUntil). atomic: lastpoll is the
  // time of the last poll, or 0 while an M is blocked in the poller (the CAS to 0 elects
  // that one M); poll_until is when that M's poll times out (0: never). seq_cst: the
  // same handshake as sleep_until (wake_timer_sleeper reads them after arming a timer).
  std::atomic<std::int64_t> lastpoll{1};
  std::atomic<std::int64_t> poll_until{0};

  StackPool stacks;
  int max_threads = 10000;
  bool main_started = false;
  bool detect_deadlocks = true;  // set at run()  // written by M0 before any other M exists
};

extern Sched sched;

// The M running on this thread, or nullptr. Never inlined and never cached across a
// context switch: a goroutine may resume on another thread.
M* current_m() noexcept;
// The variable behind it, for GORO_CUR_M.
extern constinit thread_local M* tls_m __attribute__((tls_model("initial-exec")));
// The M of this thread, inline where it is safe (see GORO_TLS_RT in lock.hpp: x86-64
// reads initial-exec thread-locals %fs-relative at every access).
#if defined(__x86_64__)
#define GORO_CUR_M() (::goro::detail::tls_m)
#else
#define GORO_CUR_M() (::goro::detail::current_m())
#endif

// The P that code running on m (this thread's M) may use: M::p, but none inside
// goro::blocking's call, where M::p still names the P the call gave up (syscall.cpp).
// What the runtime does without a P (ready() to the global queue, timers to P 0, go()
// refused) it then does there too.
inline P* usable_p(M* m) noexcept { return GORO_TLS_RT(in_call) ? nullptr : m->p; }

// Go: gopreempt_m. The running goroutine goes to the global queue and its P runs
// another (a preemption). Does nothing inside a NoPreempt section or under a runtime
// Lock (Go: canPreemptM); the request then waits for the next entry point. Defined in
// sched.cpp.
void preempt_self() noexcept;

// The cooperative preemption check of runtime entry points that did not park (a channel
// operation that found a partner or buffer room): yields if sysmon asked this P to.
// One TLS load and one relaxed load (see P::preempt) otherwise.
inline void preempt_check() noexcept {
  M* m = GORO_CUR_M();
  if (m != nullptr && m->p != nullptr && m->curg != nullptr &&
      m->p->preempt.load(std::memory_order_relaxed) != 0) [[unlikely]] {
    preempt_self();
  }
}

// Go: globrunqputbatch. Takes sched.lock.
void globrunq_put_batch(G* head, G* tail, std::int32_t n) noexcept;
// Go: wakep. Starts a spinning M if there is an idle P and no spinning M.
void wakep() noexcept;

// The idle P and M lists (Go: pidleput, pidleget, mput, mget). Require sched.lock.
void pidleput(P* p) noexcept;
P* pidleget() noexcept;
void mput(M* m) noexcept;
M* mget() noexcept;
// Binds / unbinds an M and a P.
void acquirep(M* m, P* p) noexcept;
P* releasep(M* m) noexcept;
// Go: startm. Runs some M (idle or new) with P p (an idle P if nullptr).
void startm(P* p, bool spinning) noexcept;
// Go: stopm. Parks this M until startm hands it a P (or shutdown).
void stopm(M* m) noexcept;
// Go: globrunqput. Requires sched.lock.
void globrunq_put_locked(G* g) noexcept;
// Go: handoffp. Hands off P p (no M) from syscall or locked M.
void handoff_p(P* p) noexcept;
// Moves the running G off this M (which has no P) onto the global queue and runs g0.
// Go: exitsyscall0's slow path.
void requeue_global_and_stop(M* m, G* g) noexcept;

// sysmon's side of the system call exit handshake (syscall.cpp, top). To take Ps whose
// Ms sit in calls: syscall_take_begin on each (false: it is not in kSyscall any more),
// one syscall_take_barrier for all of them, then syscall_take_end on each with the
// syscalltick sampled before begin and the barrier's result; true: the P is kIdle and
// the caller must handoff_p it; false: it was left to its M. syscall_handshake_init
// chooses the barrier, once, before the first goroutine runs.
void syscall_handshake_init() noexcept;
bool syscall_take_begin(P* p) noexcept;
bool syscall_take_barrier() noexcept;
bool syscall_take_end(P* p, std::uint64_t tick, bool barrier_ok) noexcept;

// The scheduler's side of the network poller (netpoll.cpp).
G* netpoll(std::int64_t delay_ns, std::int32_t* n) noexcept;  // readied Gs, linked by sched_link
void netpoll_break() noexcept;
bool netpoll_has_waiters() noexcept;
void netpoll_reset() noexcept;
// Go: injectglist. Makes a list of runnable Gs (linked by sched_link) run somewhere.
void inject_glist(G* list, std::int32_t n) noexcept;

// Test hooks (tests/core): put g on the global queue instead of a local one.
void globrunq_put_for_test(G* g) noexcept;

}  // namespace goro::detail

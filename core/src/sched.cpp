// sched.cpp — goro's scheduler: Go's G/M/P model (Go: src/runtime/proc.go).
//
// The pieces
// ----------
//   G  a goroutine: a stackful coroutine running a C++ callable (g.hpp).
//   M  an OS thread (m.hpp). An M runs goroutines only while it holds a P.
//   P  a logical processor (p.hpp): the right to run Go code, plus the local state that
//      makes it cheap — a 256-slot run queue with a `runnext` slot (runq.hpp), caches of
//      free Gs and free stacks, a batch of goroutine ids. There are max_procs Ps
//      (GORO_MAXPROCS, default: the CPUs this process may use, procs.cpp).
//
// Who owns what
// -------------
//   - A running G is owned by its M, which owns its P. Everything "owner only" on a P is
//     touched only by the M holding it, without locks.
//   - A runnable G is owned by the queue it sits in: a P's ring or runnext (lock-free,
//     runq.hpp) or the global queue (sched.lock).
//   - A waiting G is owned by whatever will ready() it: a channel's wait queue under the
//     channel's lock, a WaitGroup's list under its lock, and so on. park() hands the G to
//     that owner only after it has switched off the G's stack (the post-switch action).
//   - sched.lock guards the idle P list, the idle M list, the global run queue and allm.
//
// Scheduling (Go: schedule, findRunnable)
// --------------------------------------
// An M looks for work in this order: every 61st schedule tick one G from the global
// queue (so two goroutines trading runnext cannot starve it); then runnext and the local
// ring; then a batch from the global queue; (the netpoller's hook — issue 6 — goes
// here); then stealing half of another P's queue, visiting the Ps in a random order,
// four passes, the last one also taking a victim's runnext; then it gives up its P,
// re-checks every queue, and sleeps (stopm) until startm() hands it a P.
//
// Where goro departs from Go's order, for latency (each measured, see loadtest/README):
//   - a full local ring keeps up to 64 goroutines that have already run and sends the
//     never-started ones to the global queue first (runq.cpp), and a burst of due
//     timers is readied only as the ring has room (timers.cpp): a woken goroutine does
//     not wait behind a backlog of spawned ones;
//   - sysmon preempts after a tenth of a slice when a timer of the P is that overdue
//     (sysmon.cpp), and a preempted goroutine's P polls the network before it runs the
//     next one (preempt_self), so a request or a sleeper behind a CPU hog waits ~1 ms,
//     not a whole slice or two;
//   - spawn backpressure (start_g): a goroutine that has started kSpawnBudget (8)
//     goroutines within one time slice, or filled its P's ring with them, yields to the
//     tail of its P's queue. Go's `go` never yields, so a loop spawning a million
//     goroutines makes a million live Gs before the first runs; here they run in small
//     batches while their G and stack are still in cache, and each P runs mostly what
//     it spawned instead of one P only spawning while the others only run what it
//     spawned (spawn+join of 1M goroutines: 5.5M/s -> 24M/s on one P, ~5M/s (bimodal)
//     -> 22M/s on two; loadtest/compare.sh core). The cost: a goroutine that spawns
//     many CPU-bound goroutines and then has more to do waits for them to take their
//     turns, where Go would let it finish its slice first.
//
// A G that blocks or yields picks its successor itself, on its own stack, from the fast
// sources (local, global) and switches to it directly — one switch instead of Go's two
// (G -> g0 -> G'). Only when that finds nothing does it switch to the M's own stack (g0),
// where the slow search (stealing, sleeping) runs. To make the direct switch safe, a G
// never becomes visible to other Ms while it is still running: what must happen to it
// (requeue it, release the lock it parked under, free it) is recorded in the M and done
// by the next context right after the switch (post_switch).
//
// Spinning Ms (Go: "Worker thread parking/unparking" in proc.go)
// --------------------------------------------------------------
// We want to keep enough Ms running to use all Ps, yet not burn CPU when there is no
// work. A "spinning" M holds a P and looks for work to steal. Rules, as Go's:
//   - When a goroutine becomes runnable (spawn, ready) and there is an idle P and no
//     spinning M, wakep() starts one spinning M (an idle one if any, else a new thread).
//   - At most half of the busy Ps' worth of Ms spin.
//   - A spinning M that finds work stops spinning and calls wakep() again, so wake-ups
//     chain while there is work to spread.
//   - A spinning M that finds nothing releases its P, decrements nmspinning, and only
//     then re-checks every P's queue. The submitter writes its queue, then reads npidle
//     and nmspinning. Both sides order "write mine, then read theirs" with a full
//     barrier (seq_cst RMW on one side, a seq_cst fence in wakep on the other), so at
//     least one of them sees the other: no work is left with every M asleep.
//
// Lock order
// ----------
//   sched.lock  >  sched.gflock  >  StackPool lock  (a lock may only be taken while
//   holding locks to its left). Primitive locks (channels, WaitGroup) are taken before
//   sched.lock: ready() may run with one held. No runtime lock is held across a context
//   switch, except the lock a goroutine parks under, which post_switch releases on the
//   same thread right after the switch.
//
// Hooks for later issues: sysmon (a thread with no P: retake, preemption), timers
// (per-P heaps checked in find_runnable, sleeping until the earliest) and the netpoller
// (polled in find_runnable, one M blocking in it when idle).
#include "sched.hpp"

#include <goro/core/detail/netpoll.hpp>
#include <goro/core/detail/proc_pin.hpp>

#include <cxxabi.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <numeric>
#include <string>
#include <new>
#include <stdexcept>
#include <typeinfo>

#include "debug.hpp"
#include "fault.hpp"
#include "preempt.hpp"
#include "procs.hpp"
#include "sysmon.hpp"
#include "timers.hpp"

namespace goro::detail {

Sched sched;

constinit thread_local M* tls_m __attribute__((tls_model("initial-exec"))) = nullptr;

namespace {
// The max_procs the next run() uses when set_max_procs is called outside run().
// relaxed: a setting read at the next run(); no other data is published through it.
std::atomic<int> g_pending_procs{0};
// atomic: true between run()'s start and its end; only for the reentrancy check.
std::atomic<bool> g_running{false};

constexpr std::int32_t kGFreeLocalMax = 64;
constexpr int kGChunk = 64;

}  // namespace

[[gnu::noinline]] M* current_m() noexcept {
  // The empty asm with a memory clobber keeps the compiler from proving this function
  // pure and merging two calls across a context switch (the goroutine may have moved).
  asm volatile("" ::: "memory");
  return tls_m;
}

// ---------------------------------------------------------------------------------
// Idle P and M lists, spinning (Go: pidleput, pidleget, mput, mget, startm, wakep).



// Requires sched.lock.
void pidleput(P* p) noexcept {
  p->status.store(PStatus::kIdle, std::memory_order_relaxed);
  p->m.store(nullptr, std::memory_order_relaxed);  // relaxed: see P::m
  p->link = sched.pidle;
  sched.pidle = p;
  // seq_cst: see Sched::npidle.
  sched.npidle.fetch_add(1, std::memory_order_seq_cst);
}

// Requires sched.lock.
P* pidleget() noexcept {
  P* p = sched.pidle;
  if (p != nullptr) {
    sched.pidle = p->link;
    p->link = nullptr;
    // seq_cst: see Sched::npidle.
    sched.npidle.fetch_sub(1, std::memory_order_seq_cst);
  }
  return p;
}

// Requires sched.lock.
void mput(M* m) noexcept {
  m->schedlink = sched.midle;
  sched.midle = m;
  ++sched.nmidle;
}

// Requires sched.lock.
M* mget() noexcept {
  M* m = sched.midle;
  if (m != nullptr) {
    sched.midle = m->schedlink;
    m->schedlink = nullptr;
    --sched.nmidle;
  }
  return m;
}

// Both always run on m's own thread.
void acquirep(M* m, P* p) noexcept {
  m->p = p;
  m->rt->p = p;
  p->m.store(m, std::memory_order_relaxed);  // relaxed: see P::m
  p->status.store(PStatus::kRunning, std::memory_order_relaxed);
  // A P going to work: sysmon must be awake to preempt (one relaxed-cost check when it
  // is; found when a goroutine woken by the poller took an idle P and hogged it).
  sysmon_wake();
}

P* releasep(M* m) noexcept {
  P* p = m->p;
  p->m.store(nullptr, std::memory_order_relaxed);  // relaxed: see P::m
  m->p = nullptr;
  m->rt->p = nullptr;
  return p;
}

namespace {
void* mstart(void* arg) noexcept;
}  // namespace

// Go: allocm. Requires sched.lock, which also orders the M into allm before a
// shutdown can snapshot it (teardown joins Ms in allm order: a creator before the Ms it
// created, so every pthread_create has completed by the time its M is joined).
M* allocm_locked(P* p, bool spinning) noexcept {
  M* m = new M();
  m->id = sched.mcount++;
  if (sched.mcount > sched.max_threads) {
    fatal("thread limit exceeded: %d OS threads (GORO_MAXTHREADS=%d)", sched.mcount,
          sched.max_threads);
  }
  m->nextp = p;
  m->spinning = spinning;
  sched.allm.push_back(m);
  return m;
}

// Go: newm's second half: starts the thread of an M from allocm_locked.
void newm_thread(M* m) noexcept {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 1 << 20);  // the scheduler and signal handlers run here
  int rc = pthread_create(&m->thread, &attr, &mstart, m);
  pthread_attr_destroy(&attr);
  if (rc != 0) fatal("cannot create an OS thread: %s", std::strerror(rc));
}

// Go: startm. Runs some M with P p (an idle P if p is nullptr). If spinning, the caller
// has already counted the new M in nmspinning.
void startm(P* p, bool spinning) noexcept {
  sysmon_wake();  // work is starting: sysmon must watch again
  sched.lock.lock();
  if (sched.shutdown.load(std::memory_order_relaxed)) {
    sched.lock.unlock();
    if (spinning) sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst);
    return;
  }
  if (p == nullptr) {
    p = pidleget();
    if (p == nullptr) {
      sched.lock.unlock();
      if (spinning) {
        // seq_cst: undoes wakep()'s increment, part of the spinning handshake.
        sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst);
      }
      return;
    }
  }
  M* nm = mget();
  if (nm == nullptr) {
    nm = allocm_locked(p, spinning);
    sched.lock.unlock();
    newm_thread(nm);
    return;
  }
  sched.lock.unlock();
  nm->spinning = spinning;
  nm->nextp = p;
  nm->park.wakeup();  // release: nextp and spinning are visible to the woken M
}

namespace {
void checkdead() noexcept;
}  // namespace

// Go: stopm. Parks this M (without a P) until startm hands it one, or shutdown.
void stopm(M* m) noexcept {
  sched.lock.lock();
  // Checked under the lock: the main goroutine's exit sets shutdown under it and then
  // wakes every M on the idle list, so an M can never sleep through shutdown.
  if (sched.shutdown.load(std::memory_order_relaxed)) {
    sched.lock.unlock();
    return;
  }
  m->park.clear();
  mput(m);
  checkdead();
  sched.lock.unlock();
  m->park.sleep();
  if (m->nextp != nullptr) {
    acquirep(m, m->nextp);
    m->nextp = nullptr;
  }
}

// Requires sched.lock. Unlinks m from the idle list; false if it was not there.
bool mremove(M* m) noexcept {
  for (M** link = &sched.midle; *link != nullptr; link = &(*link)->schedlink) {
    if (*link == m) {
      *link = m->schedlink;
      m->schedlink = nullptr;
      --sched.nmidle;
      return true;
    }
  }
  return false;
}

// Parks this M (without a P) until `until` (monotonic ns) for the earliest timer, or
// until startm hands it a P, or a new earlier timer wakes it to recompute. Returns with
// or without a P; the caller loops. Only one M sleeps this way (sched.timer_sleeper);
// others sleep untimed.
//
// The handshake with add_timer (Dekker-style, seq_cst): we publish sleep_until, then
// re-read the timer heaps; the adder publishes its timer, then reads sleep_until. At
// least one sees the other, so a timer earlier than our sleep is never slept through.
//
// A timer sleeper already in place is trusted only if it wakes by `until`: one that
// sleeps longer (it published its time before our timer was armed, and the arming saw
// an M in the poller and broke only that one) is taken off and woken to recompute, and
// we sleep in its place. Deferring to it left every M asleep past the timer, until the
// sleeper's own later time (a 200 ms shutdown grace ended by a 10 s timer).
//
// Wake-up rule for idle Ms: whoever takes an M off sched.midle (startm, main_exited,
// wake_timer_sleeper, stopm_timed) wakes it exactly once. An M that takes itself off
// (timeout) gets no wake-up; one that finds it was taken waits for that wake-up before
// going on, so no stale wake-up is left to cut a later sleep short.
void stopm_timed(M* m, std::int64_t until) noexcept {
  sched.lock.lock();
  if (sched.shutdown.load(std::memory_order_relaxed)) {
    sched.lock.unlock();
    stopm(m);
    return;
  }
  if (M* ts = sched.timer_sleeper; ts != nullptr) {
    if (until >= sched.sleep_until.load(std::memory_order_relaxed)) {
      sched.lock.unlock();
      stopm(m);  // it wakes in time for our timer
      return;
    }
    sched.timer_sleeper = nullptr;
    sched.sleep_until.store(0, std::memory_order_seq_cst);
    if (mremove(ts)) {
      ts->nextp = nullptr;
      ts->park.wakeup();  // it re-computes the earliest timer
    }
    // (Not on the list: startm took it, and it runs with a P now.)
  }
  m->park.clear();
  mput(m);
  sched.timer_sleeper = m;
  sched.sleep_until.store(until, std::memory_order_seq_cst);
  std::int64_t again = earliest_timer();
  sched.lock.unlock();
  if (again == 0 || again >= until) {
    std::int64_t left = until - nanotime();
    if (left > 0) m->park.sleep_for(left);
  }
  sched.lock.lock();
  if (sched.timer_sleeper == m) {
    sched.timer_sleeper = nullptr;
    sched.sleep_until.store(0, std::memory_order_seq_cst);
  }
  if (mremove(m)) {
    // Our own time-out (or an early re-check): take an idle P to run the timers.
    P* p = pidleget();
    sched.lock.unlock();
    if (p != nullptr) acquirep(m, p);
    return;
  }
  sched.lock.unlock();
  m->park.sleep();  // taken off the list by someone: their wake-up is coming
  if (m->nextp != nullptr) {
    acquirep(m, m->nextp);
    m->nextp = nullptr;
  }
}

// Go: resetspinning. Called by a spinning M that found work.
void reset_spinning(M* m) noexcept {
  m->spinning = false;
  // seq_cst: part of the spinning handshake (see the story above).
  if (sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst) <= 0) {
    fatal("negative spinning M count");
  }
  // We are about to run a G: there may be more work for another M.
  wakep();
}




// Go: handoffp. P p has no M (its M is stuck in a syscall, or went away): start an M
// for it if it has work or nobody else looks for work; else park it idle.
void handoff_p(P* p) noexcept {
  if (!p->runq.empty() || sched.runqsize.load(std::memory_order_relaxed) != 0) {
    startm(p, false);
    return;
  }
  std::int32_t expected = 0;
  // seq_cst: the spinning handshake; nobody spinning and no idle P: this P must look
  // for work itself (there may be goroutines on other Ps to steal).
  if (sched.nmspinning.load(std::memory_order_seq_cst) + sched.npidle.load(std::memory_order_seq_cst) == 0 &&
      sched.nmspinning.compare_exchange_strong(expected, 1, std::memory_order_seq_cst)) {
    startm(p, true);
    return;
  }
  sched.lock.lock();
  if (sched.runqsize.load(std::memory_order_relaxed) != 0) {
    sched.lock.unlock();
    startm(p, false);
    return;
  }
  pidleput(p);
  sched.lock.unlock();
  // Its timers still need someone to sleep until them.
  std::int64_t w = p->timers.timer0_when.load(std::memory_order_relaxed);
  if (w != 0) wake_timer_sleeper(w);
}

void wakep() noexcept {
  // The full fence orders the caller's preceding run queue store before the loads
  // below (StoreLoad): paired with the idle M's seq_cst decrement of nmspinning followed
  // by its queue re-check, at least one side sees the other's write.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sched.npidle.load(std::memory_order_seq_cst) == 0) return;
  std::int32_t expected = 0;
  // Only one M may be woken to spin at a time; it wakes the next when it finds work.
  if (sched.nmspinning.load(std::memory_order_seq_cst) != 0 ||
      !sched.nmspinning.compare_exchange_strong(expected, 1, std::memory_order_seq_cst)) {
    return;
  }
  startm(nullptr, true);
}

void inject_glist(G* list, std::int32_t n) noexcept {
  if (list == nullptr) return;
  M* m = current_m();
  P* p = m != nullptr ? m->p : nullptr;
  // As many as there are idle Ps go global, each with an M started for it; the rest
  // (when we hold a P) go on our own queue.
  std::int32_t nglobal = n;
  if (p != nullptr) {
    std::int32_t idle = sched.npidle.load(std::memory_order_seq_cst);
    if (idle < nglobal) nglobal = idle;
  }
  G* head = list;
  G* tail = nullptr;
  std::int32_t k = 0;
  for (G* g = list; g != nullptr && k < nglobal; g = g->sched_link) {
    tail = g;
    ++k;
  }
  G* rest = tail != nullptr ? tail->sched_link : list;
  if (k > 0) {
    globrunq_put_batch(head, tail, k);
    std::int32_t idle = sched.npidle.load(std::memory_order_seq_cst);
    for (std::int32_t i = 0; i < k && i < idle; ++i) startm(nullptr, false);
  }
  while (rest != nullptr) {
    G* next = rest->sched_link;
    p->runq.put(p, rest, false);
    rest = next;
  }
}

// ---------------------------------------------------------------------------------
// The global run queue (Go: globrunqput, globrunqputbatch, globrunqget).



// Requires sched.lock.
void globrunq_put_locked(G* g) noexcept {
  g->sched_link = nullptr;
  if (sched.runq_tail != nullptr) {
    sched.runq_tail->sched_link = g;
  } else {
    sched.runq_head = g;
  }
  sched.runq_tail = g;
  // relaxed: readers use it as a hint and take the lock before trusting it.
  sched.runqsize.fetch_add(1, std::memory_order_relaxed);
}

// Requires sched.lock. Takes a batch for P p: returns one G and puts the rest on p's
// local queue, which must be empty unless max == 1.
G* globrunq_get_locked(P* p, std::int32_t max) noexcept {
  std::int32_t size = sched.runqsize.load(std::memory_order_relaxed);
  if (size == 0) return nullptr;
  std::int32_t procs = sched.gomaxprocs.load(std::memory_order_relaxed);
  std::int32_t n = size / (procs > 0 ? procs : 1) + 1;
  if (n > size) n = size;
  if (max > 0 && n > max) n = max;
  if (n > static_cast<std::int32_t>(kRunqSize / 2)) n = kRunqSize / 2;
  sched.runqsize.fetch_sub(n, std::memory_order_relaxed);
  G* g = sched.runq_head;
  G* rest = g->sched_link;
  for (std::int32_t i = 1; i < n; ++i) {
    G* next = rest->sched_link;
    p->runq.put(p, rest, false);
    rest = next;
  }
  sched.runq_head = rest;
  if (rest == nullptr) sched.runq_tail = nullptr;
  g->sched_link = nullptr;
  return g;
}



void globrunq_put_batch(G* head, G* tail, std::int32_t n) noexcept {
  sched.lock.lock();
  tail->sched_link = nullptr;
  if (sched.runq_tail != nullptr) {
    sched.runq_tail->sched_link = head;
  } else {
    sched.runq_head = head;
  }
  sched.runq_tail = tail;
  sched.runqsize.fetch_add(n, std::memory_order_relaxed);
  sched.lock.unlock();
}

void globrunq_put_for_test(G* g) noexcept {
  sched.ngoroutines.fetch_add(1, std::memory_order_relaxed);
  g->status.store(GStatus::kRunnable, std::memory_order_relaxed);
  sched.lock.lock();
  globrunq_put_locked(g);
  sched.lock.unlock();
  wakep();
}

// ---------------------------------------------------------------------------------
// G allocation (Go: gfget, gfput, newproc1).

namespace {

// Pushes the chain head..(n Gs, sched_link-terminated) onto the global free list as one
// batch. Requires sched.gflock.
void gfree_push_batch_locked(G* head, std::int32_t n) noexcept {
  head->gfree_next_batch = sched.gfree;
  head->gfree_batch_n = n;
  sched.gfree = head;
  sched.ngfree += n;
}

G* gfget(P* p) noexcept {
  if (p->gfree == nullptr) {
    // A whole batch from the global list (Gs other Ps freed), without walking it: a G
    // freed on another P is a cache miss, paid once, when it is used.
    sched.gflock.lock();
    if (G* head = sched.gfree; head != nullptr) {
      sched.gfree = head->gfree_next_batch;
      sched.ngfree -= head->gfree_batch_n;
      p->gfree = head;
      p->gfree_count = head->gfree_batch_n;
      head->gfree_next_batch = nullptr;
    } else {
      G* chunk = new G[kGChunk];
      sched.gchunks.push_back(chunk);
      for (int i = 0; i < kGChunk; ++i) {
        chunk[i].sched_link = p->gfree;
        p->gfree = &chunk[i];
        ++p->gfree_count;
      }
    }
    sched.gflock.unlock();
  }
  G* g = p->gfree;
  p->gfree = g->sched_link;
  --p->gfree_count;
  g->sched_link = nullptr;
  return g;
}

void gfput(P* p, G* g) noexcept {
  g->status.store(GStatus::kIdle, std::memory_order_relaxed);
  g->sched_link = p->gfree;
  p->gfree = g;
  if (++p->gfree_count >= kGFreeLocalMax) {
    // Half of our list (recently freed here, so the walk is in cache) goes global.
    constexpr std::int32_t kBatch = kGFreeLocalMax / 2;
    G* head = p->gfree;
    G* last = head;
    for (std::int32_t i = 1; i < kBatch; ++i) last = last->sched_link;
    p->gfree = last->sched_link;
    last->sched_link = nullptr;
    p->gfree_count -= kBatch;
    sched.gflock.lock();
    gfree_push_batch_locked(head, kBatch);
    sched.gflock.unlock();
  }
}

std::uint64_t next_goid(P* p) noexcept {
  if (p->goid_next == p->goid_end) {
    constexpr std::uint64_t kBatch = 16;
    // relaxed: only uniqueness matters.
    std::uint64_t start = sched.goid_gen.fetch_add(kBatch, std::memory_order_relaxed);
    p->goid_next = start + 1;
    p->goid_end = start + 1 + kBatch;
  }
  return p->goid_next++;
}

void init_g(G* g, std::size_t size, std::size_t align, GEntry entry, void** storage) {
  // relaxed atomic: prefetch_stack may read it at any time through a stale run queue
  // slot (a G stolen, run, exited and now recycled here); any value is fine for it.
  std::atomic_ref<void*>(g->ctx.sp).store(nullptr, std::memory_order_relaxed);
  g->ctx.stack_lo = nullptr;
  g->ctx.stack_size = 0;
#if GORO_ASAN
  g->ctx.asan_fake_stack = nullptr;
#endif
  g->stack_base = nullptr;
  g->wait_reason = WaitReason::kNone;
  g->wait_link = nullptr;
  g->param = nullptr;
  g->m = nullptr;
  g->is_main = false;
  g->entry = entry;
  if (size <= kInlineFnBytes && align <= alignof(std::max_align_t)) {
    g->fn = g->fn_buf;
    g->fn_on_heap = false;
  } else {
    g->fn_align = align < 16 ? 16 : align;
    g->fn = ::operator new(size, std::align_val_t(g->fn_align));
    g->fn_on_heap = true;
  }
  *storage = g->fn;
}

void free_fn(G* g) noexcept {
  if (g->fn_on_heap) ::operator delete(g->fn, std::align_val_t(g->fn_align));
  g->fn = nullptr;
  g->fn_on_heap = false;
}

}  // namespace

G* new_g(std::size_t size, std::size_t align, GEntry entry, void** storage) {
  NoPreempt np;
  M* m = current_m();
  if (m == nullptr || m->p == nullptr || m->curg == nullptr) {
    throw std::logic_error("goro::go called outside goro::run (no goroutine is running)");
  }
  if (usable_p(m) == nullptr) {
    throw std::logic_error("goro::go called inside goro::blocking (its callable runs without a P)");
  }
  P* p = m->p;
  G* g = gfget(p);
  try {
    init_g(g, size, align, entry, storage);
  } catch (...) {
    gfput(p, g);
    throw;
  }
  g->id = next_goid(p);
  return g;
}

void free_unstarted_g(G* g) noexcept {
  NoPreempt np;
  M* m = current_m();
  free_fn(g);
  gfput(m->p, g);
}

// Spawn backpressure (see the top): goroutines one goroutine may start in a slice
// before it yields. Measured on spawn_join_1m, medians of 8 runs, 2 Ps / 1 P (M/s):
// budget 4: 20.2 / 19.9; 8: 21.7 / 22.7; 16: 18.5 / 25.0; 24: 18.8 / 24.9; 64: 15.4 /
// ~22; none (ring full only): ~7 on 2 Ps. (Those with the yield to the global queue;
// to the local tail, 8 gave 22.4-24.2 / 23.8-24.2, 4: 20.9 / 21.3, 16: 18.8 / 24.6.)
// On 2 Ps a small budget keeps each P running what it spawned.
constexpr std::uint32_t kSpawnBudget = 8;

void start_g(G* g) noexcept {
  bool preempt, backpressure;
  {
    NoPreempt np;
    // current_m() again: the goroutine may have moved while the callable was built.
    M* m = current_m();
    P* p = m->p;
    // relaxed: the G is published to other Ms by the run queue's release store.
    sched.ngoroutines.fetch_add(1, std::memory_order_relaxed);
    g->status.store(GStatus::kRunnable, std::memory_order_relaxed);
    p->runq.put(p, g, true);
    if (sched.main_started) wakep();
    // relaxed: see P::preempt.
    preempt = p->preempt.load(std::memory_order_relaxed) != 0;
    // Spawn backpressure (a departure from Go, see the top of the file): the budget of
    // this slice (schedtick moves when a new one starts) or a full ring.
    std::uint32_t tick = p->schedtick.load(std::memory_order_relaxed);
    if (p->spawn_tick != tick) {
      p->spawn_tick = tick;
      p->spawns = 0;
    }
    backpressure = ++p->spawns >= kSpawnBudget || p->runq.ring_full();
  }
  // Switch away only outside runtime locks and no-preemption sections: a goroutine
  // started from one (a runtime callback) must not leave there.
  if (!(preempt || backpressure) || GORO_TLS_RT(locks) != 0 || GORO_TLS_RT(nopreempt) != 0) {
    return;
  }
  if (preempt) {
    goro::preempt_point();
  } else {
    goro::yield();  // to the local queue's tail (Go's goyield): after what it spawned
  }
}

// ---------------------------------------------------------------------------------
// Switching (Go: execute, gogo, mcall + park_m / goschedImpl / goexit0).

namespace {

[[noreturn]] void g_main(void* arg) noexcept;

// Go: checkTimers. One relaxed load when no timer is pending. Runs only where no lock
// is held: a timer callback may take a channel's lock, which a goroutine parking right
// now still holds until post_switch releases it.
inline void run_timers(P* p) noexcept {
  std::int64_t w = p->timers.timer0_when.load(std::memory_order_relaxed);
  if (w != 0) {
    std::int64_t now = nanotime();
    if (w <= now) check_timers(p, now);
  }
}

void post_switch_action(M* m) noexcept;

// Go: park_m / goschedImpl / goexit0, the part that runs after the switch, then the
// timer check every scheduling decision makes.
inline void post_switch(M* m) noexcept {
  NoPreempt np;
  PostAction act = m->post;
  P* p = m->p;
  if (act == PostAction::kRequeue && p != nullptr) {
    // The yield and preemption case, inline: the G we left goes to our queue's tail.
    G* g = m->post_g;
    m->post = PostAction::kNone;
    m->post_g = nullptr;
    p->runq.put_tail(g);
  } else if (act != PostAction::kNone) {
    post_switch_action(m);
    p = m->p;
  }
  if (p != nullptr) run_timers(p);
}

void post_switch_action(M* m) noexcept {
  PostAction act = m->post;
  G* g = m->post_g;
  // Without a P (blocking_long) or inside a goro::blocking call (in_call; never set
  // across the exit's own switch, kRequeueGlobal).
  if ((m->p == nullptr || GORO_TLS_RT(in_call)) && act != PostAction::kRequeueGlobal &&
      act != PostAction::kNone) {
    fatal("goroutine %llu used the runtime inside goro::blocking (which runs without a P)",
          static_cast<unsigned long long>(g->id));
  }
  m->post = PostAction::kNone;
  m->post_g = nullptr;
  switch (act) {
    case PostAction::kNone:
      break;
    case PostAction::kRequeue:
      m->p->runq.put_tail(g);
      break;
    case PostAction::kPark: {
      UnlockFn fn = m->post_unlock;
      void* arg = m->post_arg;
      m->post_unlock = nullptr;
      m->post_arg = nullptr;
      // unlock_fn releases the Locks g parked holding (all of them: park's contract),
      // counted in g's context, not ours. g's count is settled before unlock_fn can make
      // g runnable: another M may resume it the moment the lock is released.
      ThreadRt* rt = this_thread_rt();
      g->ctx.saved_locks = 0;
      int before = rt->locks;
      bool keep = fn == nullptr || fn(g, arg);
      rt->locks = before;
      if (!keep) {
        // The park was called off: the G runs again, next.
        g->status.store(GStatus::kRunnable, std::memory_order_relaxed);
        m->p->runq.put(m->p, g, true);
      }
      break;
    }
    case PostAction::kRequeueGlobal:
      // The G's M lost its P in a syscall (exit_syscall's slow path): the G goes to the
      // global queue, and this M (on g0, without a P) looks for a P or sleeps.
      sched.lock.lock();
      globrunq_put_locked(g);
      sched.lock.unlock();
      wakep();
      break;
    case PostAction::kExit:
#if GORO_TSAN
      // A fiber per goroutine run, not per G: the exiting one never unwound its frames
      // in TSan's shadow stack, so reusing it would overflow that stack.
      __tsan_destroy_fiber(g->ctx.tsan_fiber);
      g->ctx.tsan_fiber = nullptr;
#endif
      if (g->stack_base != nullptr) {
        sched.stacks.free(m->p->stacks, g->stack_base);
        g->stack_base = nullptr;
      }
      free_fn(g);
      gfput(m->p, g);
      break;
  }
}

// Go: execute. Runs next on this M, switching from the context `from` (a G being
// suspended, or g0). from_g is the G being left, if any (for the stack hand-over).
void execute_first(M* m, G* next, Ctx* from, G* from_g, bool from_exits) noexcept;

// Brings the top of a suspended goroutine's stack (where it resumes: its saved registers
// and the frames it returns through, ~1 KiB deep in a server's connection goroutines) on
// its way into the cache, a whole run of another goroutine ahead of its switch. park()
// calls it with the goroutine queued after the one about to run: with hundreds of
// connection goroutines each resumed one's stack lines have left L1 and L2 since it last
// ran, and this cut ~1 % of the HTTP benchmark's CPU per request (keep-alive, 256
// connections; the switch was its hottest user-space function). Only there: on every
// switch (in execute) it cost goro::yield ~2.7 ns of its ~13, with nothing to prefetch.
[[gnu::always_inline]] inline void prefetch_stack(G* g) noexcept {
  if (g == nullptr) return;
  // relaxed: a hint (a thief's M may be switching it right now, or g may have been
  // stolen, run, exited and recycled: Gs live in chunks freed only when the runtime
  // stops, so it is always a G); any address is safe to prefetch.
  auto* sp = static_cast<const char*>(
      std::atomic_ref<void*>(g->ctx.sp).load(std::memory_order_relaxed));
  if (sp == nullptr) return;
  for (int i = 0; i < 16; ++i) __builtin_prefetch(sp + 64 * i);
}

[[gnu::always_inline]] inline void execute(M* m, G* next, bool inherit_time, Ctx* from, G* from_g,
                                           bool from_exits) noexcept {
  P* p = m->p;
  m->curg = next;
  next->m = m;
  next->status.store(GStatus::kRunning, std::memory_order_relaxed);
  if (!inherit_time) {
    // relaxed: a counter read racily by observers.
    p->schedtick.store(p->schedtick.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    p->preempt.store(0, std::memory_order_relaxed);  // a new time slice
  }
  if (next->ctx.sp != nullptr) [[likely]] {
    ctx_switch(from, &next->ctx, m->eh_globals, from_exits);
    return;
  }
  execute_first(m, next, from, from_g, from_exits);
}

// Stack colouring: how far below its stack's top a goroutine starts, 0 to 16 KiB in
// steps of a cache line, fixed per stack (a hash of its address). Stacks sit in slots
// of 272 KiB (guard + stack), so without it every goroutine's hottest lines (the first
// frames below the top) fall into the same 8 of the L2's 2,048 sets (a 1 MiB 8-way L2
// repeats every 128 KiB) and in the same L1 set: with a few hundred goroutines serving
// connections, those lines evict one another although the cache is far from full. The
// colour spreads them over all sets, at the price of at most 16 KiB (1/16) of each
// stack's depth.
std::size_t stack_color(const void* base) noexcept {
  auto a = reinterpret_cast<std::uintptr_t>(base) >> 12;
  std::size_t color = static_cast<std::size_t>((a * 0x9E3779B97F4A7C15ull) >> 56) * 64;
  return std::min(color, sched.stacks.stack_size() / 16 & ~std::size_t{63});
}

// execute's first run of a G: bind a stack and start it.
[[gnu::noinline]] void execute_first(M* m, G* next, Ctx* from, G* from_g, bool from_exits) noexcept {
  P* p = m->p;
  // First run: bind a stack. An exiting G hands its warm stack straight over (we are
  // still on it, but nothing of it is read after the switch); not under ASan, whose
  // shadow still marks the old frames.
#if !GORO_ASAN
  if (from_exits && from_g != nullptr && from_g->stack_base != nullptr) {
    next->stack_base = from_g->stack_base;
    from_g->stack_base = nullptr;
  } else
#endif
  {
    (void)from_g;
    next->stack_base = sched.stacks.alloc(p->stacks);
  }
  next->ctx.stack_lo = next->stack_base;
  next->ctx.stack_size = sched.stacks.stack_size() - stack_color(next->stack_base);
#if GORO_TSAN
  next->ctx.tsan_fiber = __tsan_create_fiber(0);
#endif
  ctx_start(from, &next->ctx, next, &g_main, m->eh_globals, from_exits);
}

// Go: the first part of findRunnable, cheap enough to run on a goroutine's stack.
[[gnu::always_inline]] inline G* find_runnable_fast(P* p, bool* inherit_time) noexcept {
  *inherit_time = false;
  // The slice is used up (sysmon asked for a preemption) and goroutines wait globally:
  // one of them goes first, so a pair trading runnext cannot keep the P forever (Go
  // gets the same from the preemption it then performs at the next function prologue).
  // relaxed: see P::preempt.
  if (p->preempt.load(std::memory_order_relaxed) != 0) [[unlikely]] {
    p->preempt.store(0, std::memory_order_relaxed);
    if (sched.runqsize.load(std::memory_order_relaxed) > 0) {
      sched.lock.lock();
      G* g = globrunq_get_locked(p, 1);
      sched.lock.unlock();
      if (g != nullptr) return g;
    }
    // Nor does runnext go first: it would inherit the used-up slice, and a pair
    // trading runnext through a channel would keep the ring waiting forever when the
    // pair is never stopped in its own code (asynchronous preemption off: sanitizer
    // builds, asyncpreemptoff=1). Go breaks the pair by moving the preempted goroutine
    // to the global queue; its successor then starts a fresh slice.
    if (G* g = p->runq.get_ring()) return g;
  }
  if (p->schedtick.load(std::memory_order_relaxed) % 61 == 0 &&
      sched.runqsize.load(std::memory_order_relaxed) > 0) {
    sched.lock.lock();
    // Not when the global queue's head is the goroutine this P has just preempted: it
    // has had its slice, and taking it back first would make a goroutine readied
    // meanwhile (a sleeper behind a CPU hog) wait a whole new slice, every 61st time.
    G* g = sched.runq_head != p->last_preempted ? globrunq_get_locked(p, 1) : nullptr;
    sched.lock.unlock();
    if (g != nullptr) return g;
  }
  if (G* g = p->runq.get(inherit_time)) return g;
  if (sched.runqsize.load(std::memory_order_relaxed) > 0) {
    sched.lock.lock();
    G* g = globrunq_get_locked(p, 0);
    sched.lock.unlock();
    if (g != nullptr) return g;
  }
  return nullptr;
}

bool must_leave_p(M* m) noexcept {
  return sched.shutdown.load(std::memory_order_relaxed) ||
         m->p->id >= sched.gomaxprocs.load(std::memory_order_relaxed);
}

// Suspends the running G `cur` (whose post-switch action is already recorded in m) and
// runs something else: a G found on the fast path, or this M's g0. Returns when cur is
// resumed, possibly on another M.
void switch_away(M* m, G* cur, bool exiting) noexcept {
  G* next = nullptr;
  bool inherit = false;
  if (!must_leave_p(m)) next = find_runnable_fast(m->p, &inherit);
  if (next != nullptr) {
    execute(m, next, inherit, &cur->ctx, cur, exiting);
  } else {
    m->curg = nullptr;
    ctx_switch(&cur->ctx, &m->g0, m->eh_globals, exiting);
  }
  post_switch(GORO_CUR_M());
}

}  // namespace

void requeue_global_and_stop(M* m, G* g) noexcept {
  g->status.store(GStatus::kRunnable, std::memory_order_relaxed);
  m->post = PostAction::kRequeueGlobal;
  m->post_g = g;
  m->curg = nullptr;
  ctx_switch(&g->ctx, &m->g0, m->eh_globals);
  // Resumed later by some M that took us off the global queue: finish its switch.
  post_switch(GORO_CUR_M());
}

namespace {

std::string demangle(const char* name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> d(abi::__cxa_demangle(name, nullptr, nullptr, &status),
                                           std::free);
  return status == 0 && d ? std::string(d.get()) : std::string(name);
}

// Go: an unrecovered panic. Called inside a catch block.
[[noreturn]] void report_uncaught(G* g) noexcept {
  std::string type = "unknown exception";
  if (std::type_info* t = abi::__cxa_current_exception_type()) type = demangle(t->name());
  std::string what;
  try {
    throw;
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  std::fprintf(stderr, "goro: panic: uncaught exception in goroutine %llu: %s%s%s\n",
               static_cast<unsigned long long>(g->id), type.c_str(), what.empty() ? "" : ": ",
               what.c_str());
  std::fprintf(stderr, "\ngoroutine %llu [running]: the exception escaped the goroutine's "
               "function; catch it inside the goroutine to recover.\n",
               static_cast<unsigned long long>(g->id));
  std::fflush(stderr);
  std::_Exit(2);
}

void main_exited() noexcept {
  sched.lock.lock();
  sched.shutdown.store(true, std::memory_order_relaxed);
  // Whoever takes an M off the idle list wakes it, exactly once (see stopm_timed).
  while (M* m = mget()) {
    if (m == sched.timer_sleeper) {
      sched.timer_sleeper = nullptr;
      sched.sleep_until.store(0, std::memory_order_seq_cst);
    }
    m->nextp = nullptr;
    m->park.wakeup();
  }
  sched.lock.unlock();
  netpoll_break();  // an M blocked in the poller must see the shutdown too
}

// Go: goexit1 / goexit0.
[[noreturn]] void goexit(M* m, G* g) noexcept {
  if (this_thread_rt()->detached) {
    reattach();  // the backstop took our P while the goroutine's last code ran
    m = current_m();
  }
  NoPreempt np;  // never unwound: the exiting context's count is dropped with it
  g->status.store(GStatus::kDead, std::memory_order_relaxed);
  // relaxed: a count.
  sched.ngoroutines.fetch_sub(1, std::memory_order_relaxed);
  if (g->is_main) main_exited();
  m->post = PostAction::kExit;
  m->post_g = g;
  switch_away(m, g, true);
  fatal("a dead goroutine was resumed");
}

// The bottom frame of every goroutine.
void g_main(void* arg) noexcept {
  G* g = static_cast<G*>(arg);
  sanitizer_after_switch(&g->ctx);
  post_switch(GORO_CUR_M());
  try {
    g->entry(g->fn);
  } catch (...) {
    report_uncaught(g);
  }
  goexit(current_m(), g);
}

// ---------------------------------------------------------------------------------
// The slow path (Go: findRunnable's second half, stealWork, schedule) on g0.

// Go: stealWork. Four passes over the Ps in a random order; the last also takes a
// victim's runnext.
G* steal_work(P* p) noexcept {
  constexpr int kStealTries = 4;
  for (int i = 0; i < kStealTries; ++i) {
    bool last = i == kStealTries - 1;
    std::uint32_t n = static_cast<std::uint32_t>(sched.gomaxprocs.load(std::memory_order_relaxed));
    if (n <= 1) return nullptr;  // (our own P's timers were checked by the fast path)
    // A random start and a stride coprime to n visit every P once (Go: randomOrder).
    std::uint32_t start = fastrandn(n);
    std::uint32_t stride;
    do {
      stride = 1 + fastrandn(n);
    } while (std::gcd(stride, n) != 1);
    for (std::uint32_t k = 0, idx = start; k < n; ++k, idx = (idx + stride) % n) {
      if (sched.shutdown.load(std::memory_order_relaxed)) return nullptr;
      P* victim = sched.allp[idx].load(std::memory_order_acquire);
      if (victim == nullptr || victim == p) continue;
      if (last) {
        // Run the victim's due timers (idle Ps' too): the goroutines they ready land
        // on our queue (Go: stealWork's checkTimers).
        std::int64_t w = victim->timers.timer0_when.load(std::memory_order_relaxed);
        if (w != 0 && w <= nanotime()) {
          check_timers(victim, nanotime());
          bool inherit;
          if (G* g = p->runq.get(&inherit)) return g;
        }
      }
      PStatus vs = victim->status.load(std::memory_order_relaxed);
      if (vs == PStatus::kIdle || vs == PStatus::kDead) continue;
      if (G* g = p->runq.steal_from(victim->runq, last)) return g;
    }
  }
  return nullptr;
}

// Moves everything off a P that is going away (shutdown or set_max_procs shrink) and
// marks it dead. Called by its M on g0.
void retire_p(M* m) noexcept {
  P* p = m->p;
  G* buf[kRunqSize + 1];
  std::uint32_t n = p->runq.drain(buf);
  if (n > 0) {
    for (std::uint32_t i = 0; i + 1 < n; ++i) buf[i]->sched_link = buf[i + 1];
    globrunq_put_batch(buf[0], buf[n - 1], static_cast<std::int32_t>(n));
  }
  sched.stacks.flush(p->stacks);
  move_timers(p, sched.allp[0].load(std::memory_order_acquire));
  if (p->gfree != nullptr) {
    sched.gflock.lock();
    gfree_push_batch_locked(p->gfree, p->gfree_count);
    sched.gflock.unlock();
    p->gfree = nullptr;
    p->gfree_count = 0;
  }
  sched.lock.lock();
  releasep(m);
  // set_max_procs may have grown back past this P while we drained it.
  if (p->id < sched.gomaxprocs.load(std::memory_order_relaxed)) {
    pidleput(p);
  } else {
    p->status.store(PStatus::kDead, std::memory_order_relaxed);
  }
  sched.lock.unlock();
  if (n > 0) wakep();
}

// A non-blocking poll, unless another M is polling. Returns the readied Gs.
G* poll_now(std::int32_t* n) noexcept {
  *n = 0;
  std::int64_t last = sched.lastpoll.load(std::memory_order_seq_cst);
  if (last == 0) return nullptr;
  // Claim the poller for a moment (lastpoll 0), then record the time.
  if (!sched.lastpoll.compare_exchange_strong(last, 0, std::memory_order_seq_cst)) return nullptr;
  G* list = netpoll(0, n);
  sched.lastpoll.store(nanotime(), std::memory_order_seq_cst);
  return list;
}

// How long an M that has run out of work polls the network before it goes on to give its
// P up (and, the last one, to block in the poller). Seastar's reactor polls likewise
// before it sleeps. A thread blocked in epoll_wait must be woken by whoever sends it
// data, and in a VM whose idle CPUs halt that is an IPI to a halted vCPU, paid by the
// sender: the HTTP benchmark's client (wrk, the bottleneck at 64 connections) spent ~1 %
// more CPU per request against goro than against nginx, whose worker, spending more CPU
// per request, blocks 2-3 times less often. 3 us (12 alternating runs): rps +1.0 %,
// server CPU per request +0.4 %, at 256 connections no change; 5 us cost +1.4 % CPU for
// +1.2 % rps, 20-100 us +4 % for +2 %. A server without traffic pays nothing (nothing
// turns idle), a lightly loaded one at most 3 us per turn to idle.
constexpr std::int64_t kIdlePollNs = 3'000;

// poll_now, again and again for up to kIdlePollNs while it finds nothing, unless work
// reaches the global queue or another M takes the poller meanwhile (this P's own queue
// is filled only by its owner: us). Returns the readied Gs, the first not queued.
G* poll_idle(std::int32_t* n) noexcept {
  if (G* list = poll_now(n)) return list;
  const std::int64_t until = nanotime() + kIdlePollNs;
  do {
    // relaxed: hints; the caller's slow path reads them again under the lock or by CAS.
    if (sched.runqsize.load(std::memory_order_relaxed) != 0 ||
        sched.lastpoll.load(std::memory_order_relaxed) == 0) {
      return nullptr;
    }
    if (G* list = poll_now(n)) return list;
  } while (nanotime() < until);
  return nullptr;
}

void run_all_timers() noexcept;

// This M (holding no P) becomes the one blocked in the poller, until `until` (0: no
// timer). Returns false if another M already is. On return m may hold a P (the loop in
// find_runnable goes on either way).
bool block_in_netpoll(M* m, std::int64_t until) noexcept {
  std::int64_t last = sched.lastpoll.load(std::memory_order_seq_cst);
  if (last == 0 || !sched.lastpoll.compare_exchange_strong(last, 0, std::memory_order_seq_cst)) {
    return false;
  }
  sched.poll_until.store(until, std::memory_order_seq_cst);
  // Re-check after publishing poll_until (the handshake with wake_timer_sleeper).
  std::int64_t again = earliest_timer();
  if (again != 0 && (until == 0 || again < until)) until = again;
  std::int64_t delay = -1;
  if (until != 0) {
    delay = until - nanotime();
    if (delay < 0) delay = 0;
  }
  std::int32_t n = 0;
  G* list = sched.shutdown.load(std::memory_order_relaxed) ? nullptr : netpoll(delay, &n);
  sched.poll_until.store(0, std::memory_order_seq_cst);
  sched.lastpoll.store(nanotime(), std::memory_order_seq_cst);
  sched.lock.lock();
  P* p = pidleget();
  sched.lock.unlock();
  if (p == nullptr) {
    inject_glist(list, n);  // no P: global queue, Ms started for idle Ps
    return true;
  }
  acquirep(m, p);
  run_all_timers();
  if (list != nullptr) inject_glist(list, n);
  return true;
}

// Runs the due timers of every P (called by an M that just got a P back after sleeping):
// the goroutines they ready go to that P's queue (ready() uses the current M's P).
void run_all_timers() noexcept {
  std::int64_t now = nanotime();
  for (int i = 0; i < kMaxProcs; ++i) {
    P* pp = sched.allp[i].load(std::memory_order_acquire);
    if (pp == nullptr) break;
    std::int64_t w = pp->timers.timer0_when.load(std::memory_order_relaxed);
    if (w != 0 && w <= now) check_timers(pp, now);
  }
}

// Go: findRunnable. Blocks until it finds a G to run on m (returned with m->p held), or
// returns nullptr at shutdown.
G* find_runnable(M* m, bool* inherit_time) noexcept {
  for (;;) {
    if (sched.shutdown.load(std::memory_order_relaxed)) return nullptr;
    P* p = m->p;
    if (p == nullptr) {
      // Our P was retired (set_max_procs shrink): find another or sleep.
      sched.lock.lock();
      P* np = pidleget();
      sched.lock.unlock();
      if (np == nullptr) {
        stopm(m);
      } else {
        acquirep(m, np);
      }
      continue;
    }
    if (p->id >= sched.gomaxprocs.load(std::memory_order_relaxed)) {
      retire_p(m);
      continue;
    }
    run_timers(p);
    if (G* g = find_runnable_fast(p, inherit_time)) return g;

    // Go: findRunnable's non-blocking netpoll, before stealing. lastpoll == 0 means an M
    // is blocked in the poller already, and the poller serves one caller at a time.
    if (netpoll_has_waiters() && sched.lastpoll.load(std::memory_order_relaxed) != 0) {
      std::int32_t n = 0;
      if (G* list = poll_idle(&n)) {
        G* g = list;
        inject_glist(list->sched_link, n - 1);
        g->sched_link = nullptr;
        *inherit_time = false;
        return g;
      }
    }

    std::int32_t procs = sched.gomaxprocs.load(std::memory_order_relaxed);
    if (m->spinning || 2 * sched.nmspinning.load(std::memory_order_seq_cst) <
                           procs - sched.npidle.load(std::memory_order_seq_cst)) {
      if (!m->spinning) {
        m->spinning = true;
        // seq_cst: the spinning handshake.
        sched.nmspinning.fetch_add(1, std::memory_order_seq_cst);
      }
      if (G* g = steal_work(p)) {
        *inherit_time = false;
        return g;
      }
    }

    // Nothing found: give up the P.
    sched.lock.lock();
    if (sched.shutdown.load(std::memory_order_relaxed)) {
      sched.lock.unlock();
      return nullptr;
    }
    if (sched.runqsize.load(std::memory_order_relaxed) != 0) {
      G* g = globrunq_get_locked(p, 0);
      sched.lock.unlock();
      *inherit_time = false;
      return g;
    }
    releasep(m);
    pidleput(p);
    sched.lock.unlock();

    if (m->spinning) {
      m->spinning = false;
      // seq_cst: decrement, then re-check the queues (the spinning handshake).
      if (sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst) <= 0) {
        fatal("negative spinning M count");
      }
      std::int32_t n = sched.gomaxprocs.load(std::memory_order_relaxed);
      bool work = sched.runqsize.load(std::memory_order_seq_cst) != 0;
      for (std::int32_t i = 0; i < n && !work; ++i) {
        P* pp = sched.allp[i].load(std::memory_order_acquire);
        if (pp != nullptr && !pp->runq.empty()) work = true;
      }
      if (work) {
        sched.lock.lock();
        P* np = pidleget();
        sched.lock.unlock();
        if (np != nullptr) {
          acquirep(m, np);
          m->spinning = true;
          sched.nmspinning.fetch_add(1, std::memory_order_seq_cst);
          continue;
        }
      }
    }

    std::int64_t until = earliest_timer();
    // Go: findRunnable's blocking netpoll. One M blocks in the poller until the earliest
    // timer, in place of the timed futex sleep.
    if (netpoll_has_waiters() && block_in_netpoll(m, until)) continue;
    if (until != 0) {
      stopm_timed(m, until);
      if (m->p != nullptr) run_all_timers();
    } else {
      stopm(m);
    }
  }
}

// Go: schedule, as the loop an M's own stack runs.
void schedule(M* m) noexcept {
  for (;;) {
    post_switch(m);
    bool inherit = false;
    G* g = find_runnable(m, &inherit);
    if (g == nullptr) return;  // shutdown
    if (m->spinning) reset_spinning(m);
    execute(m, g, inherit, &m->g0, nullptr, false);
  }
}

void init_g0(M* m) noexcept {
  m->eh_globals = abi::__cxa_get_globals();
#if GORO_TSAN
  m->g0.tsan_fiber = __tsan_get_current_fiber();
#endif
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* addr = nullptr;
    std::size_t size = 0;
    pthread_attr_getstack(&attr, &addr, &size);
    m->g0.stack_lo = addr;
    m->g0.stack_size = size;
    pthread_attr_destroy(&attr);
  }
}

// Go: mstart. The body of every M's thread but M0's.
void* mstart(void* arg) noexcept {
  M* m = static_cast<M*>(arg);
  tls_m = m;
  m->rt = this_thread_rt();
  init_g0(m);
  install_altstack(m);
  acquirep(m, m->nextp);
  m->nextp = nullptr;
  schedule(m);
  if (m->p != nullptr) releasep(m);
  remove_altstack(m);
  tls_m = nullptr;
  return nullptr;
}

P* new_p(std::int32_t id) {
  P* p = new P();
  p->id = id;
  // Each P's call ticks have a range of their own (see PSyscall::syscalltick). relaxed:
  // published with the P (allp's release, or sched.lock).
  p->syscalltick.store(static_cast<std::uint64_t>(id) << kSyscallTickBits,
                       std::memory_order_relaxed);
  // release: pairs with stealers' acquire load of allp[id].
  sched.allp[id].store(p, std::memory_order_release);
  return p;
}

// Runs on the thread that called run() after its scheduler loop ended: waits for the
// other Ms and frees everything.
void teardown() noexcept {
  sysmon_stop();
  sched.lock.lock();
  std::vector<M*> ms = sched.allm;
  sched.lock.unlock();
  for (M* m : ms) {
    if (!m->is_m0) pthread_join(m->thread, nullptr);
  }
  for (M* m : ms) delete m;
  std::vector<Timer*> dropped;
  for (int i = 0; i < kMaxProcs; ++i) {
    P* p = sched.allp[i].load(std::memory_order_relaxed);
    if (p != nullptr) {
      // Timers still armed (a goro::Timer outliving run()) must not point at a freed P,
      // and what an armed timer holds is released (below: a drop may free the timer).
      for (Timer* t : p->timers.heap) {
        t->index = -1;
        t->owner.store(nullptr, std::memory_order_relaxed);
        if (t->drop != nullptr) dropped.push_back(t);
      }
      delete p;
      sched.allp[i].store(nullptr, std::memory_order_relaxed);
    }
  }
  for (Timer* t : dropped) t->drop(t->arg);
  for (G* chunk : sched.gchunks) {
    for (int i = 0; i < kGChunk; ++i) {
      G* g = &chunk[i];
      // Abandoned goroutines are dropped without unwinding, as Go's exit does; a
      // callable that never started is freed without running its destructor either
      // (its captures may refer to the runtime being torn down).
      if (g->fn_on_heap) ::operator delete(g->fn, std::align_val_t(g->fn_align));
#if GORO_TSAN
      if (g->ctx.tsan_fiber != nullptr) __tsan_destroy_fiber(g->ctx.tsan_fiber);
#endif
    }
    delete[] chunk;
  }
  sched.gchunks.clear();
  sched.gfree = nullptr;
  sched.ngfree = 0;
  sched.stacks.destroy();
  sched.allm.clear();
  sched.midle = nullptr;
  sched.nmidle = 0;
  sched.mcount = 0;
  sched.pidle = nullptr;
  sched.npidle.store(0);
  sched.nmspinning.store(0);
  sched.runq_head = sched.runq_tail = nullptr;
  sched.runqsize.store(0);
  sched.ngoroutines.store(0);
  sched.main_started = false;
  sched.lastpoll.store(1);
  sched.poll_until.store(0);
  netpoll_reset();
}

// Go: checkdead. Requires sched.lock. Called when an M goes idle: if every M is idle,
// no timer is pending and no goroutine can run, no goroutine can ever run again.
void checkdead() noexcept {
  if (!sched.detect_deadlocks || sched.shutdown.load(std::memory_order_relaxed)) return;
  if (sched.nmidle != sched.mcount) return;  // some M is running (or in a syscall)
  if (any_timers()) return;                  // the timed sleeper will wake for it
  if (sched.runqsize.load(std::memory_order_relaxed) != 0) return;
  sched.gflock.lock();
  int waiting = 0;
  bool can_run = false;
  for (G* chunk : sched.gchunks) {
    for (int i = 0; i < kGChunk; ++i) {
      GStatus st = chunk[i].status.load(std::memory_order_relaxed);
      if (st == GStatus::kWaiting) ++waiting;
      if (st == GStatus::kRunnable || st == GStatus::kRunning || st == GStatus::kSyscall) {
        can_run = true;
      }
    }
  }
  if (can_run || waiting == 0) {
    sched.gflock.unlock();
    return;
  }
  std::fprintf(stderr, "fatal error: all goroutines are asleep - deadlock!\n");
  int shown = 0;
  for (G* chunk : sched.gchunks) {
    for (int i = 0; i < kGChunk; ++i) {
      G& g = chunk[i];
      if (g.status.load(std::memory_order_relaxed) != GStatus::kWaiting) continue;
      if (++shown > 100) continue;
      std::fprintf(stderr, "\ngoroutine %llu [%s]%s\n", static_cast<unsigned long long>(g.id),
                   wait_reason_string(g.wait_reason), g.is_main ? " (main)" : "");
    }
  }
  if (shown > 100) std::fprintf(stderr, "\n...and %d more goroutines\n", shown - 100);
  std::fflush(stderr);
  std::_Exit(2);
}

int configured_procs() noexcept {
  int n = g_pending_procs.load(std::memory_order_relaxed);
  return n > 0 ? n : default_procs();
}

}  // namespace

int run_main(const Config& cfg, std::size_t size, std::size_t align, GEntry entry,
             void (*construct)(void* dst, void* src), void* src, int* exit_code) {
  bool expected = false;
  // acq_rel: orders this run()'s start after a previous run()'s teardown.
  if (!g_running.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
    throw std::logic_error("goro::run called while the runtime is already running");
  }
  int procs = cfg.max_procs > 0 ? cfg.max_procs : configured_procs();
  if (procs > kMaxProcs) procs = kMaxProcs;
  std::size_t stack_size = cfg.stack_size;
  if (stack_size == 0) {
    if (const char* s = std::getenv("GORO_STACK_SIZE")) {
      stack_size = parse_size(s);
      if (stack_size == 0) fatal("GORO_STACK_SIZE=%s is not a size (e.g. 262144, 256K, 1M)", s);
    }
  }
#if GORO_ASAN
  if (stack_size == 0) stack_size = 1 << 20;  // ASan's redzones make frames bigger
#endif
  if (stack_size == 0) stack_size = 256 * 1024;
  int max_threads = cfg.max_threads;
  if (max_threads <= 0) {
    if (const char* s = std::getenv("GORO_MAXTHREADS")) max_threads = std::atoi(s);
  }
  if (max_threads <= 0) max_threads = 10000;
  g_randomize = cfg.randomize || debug_setting("randomize", 0) != 0;
  sched.detect_deadlocks = cfg.detect_deadlocks && debug_setting("checkdead", 1) != 0;

  sched.shutdown.store(false);
  sched.max_threads = max_threads;
  sched.stacks.init(stack_size);
  sched.goid_gen.store(1);  // the main goroutine is 1, as in Go
  sched.nsyscall_takes.store(0);
  sched.nsyscall_takes_abandoned.store(0);
  sched.gomaxprocs.store(procs);
  install_fault_handler();
  preempt_init();

  M* m0 = new M();
  m0->is_m0 = true;
  m0->thread = pthread_self();
  sched.allm.push_back(m0);
  sched.mcount = 1;
  tls_m = m0;
  m0->rt = this_thread_rt();
  // A mark left by an earlier run() on this thread could equal a tick of this one's Ps
  // (they count from the same bases again); 0 is no P's tick.
  m0->rt->sysexit.store(0, std::memory_order_relaxed);
  init_g0(m0);
  install_altstack(m0);

  sched.lock.lock();
  for (int i = procs - 1; i >= 0; --i) {
    P* p = new_p(i);
    if (i != 0) pidleput(p);
  }
  sched.lock.unlock();
  P* p0 = sched.allp[0].load(std::memory_order_relaxed);
  acquirep(m0, p0);

  // The main goroutine.
  G* g = gfget(p0);
  void* storage = nullptr;
  init_g(g, size, align, entry, &storage);
  g->id = 1;
  g->is_main = true;
  construct(storage, src);
  sched.ngoroutines.store(1);
  g->status.store(GStatus::kRunnable, std::memory_order_relaxed);
  p0->runq.put(p0, g, true);
  sched.main_started = true;
  syscall_handshake_init();
  sysmon_start();

  schedule(m0);

  if (m0->p != nullptr) releasep(m0);
  remove_altstack(m0);
  tls_m = nullptr;
  teardown();
  g_running.store(false, std::memory_order_release);
  return *exit_code;
}

// ---------------------------------------------------------------------------------
// park / ready / yield (Go: gopark, goready, Gosched).

G* current_g() noexcept {
  M* m = current_m();
  return m != nullptr ? m->curg : nullptr;
}

// goro/core/detail/proc_pin.hpp.
int proc_index() noexcept {
  M* m = GORO_CUR_M();
  if (m == nullptr || m->curg == nullptr || m->p == nullptr) return -1;
  return m->p->id;
}

void park(UnlockFn unlock_fn, void* arg, WaitReason reason) noexcept {
  NoPreempt np;
  M* m = current_m();
  G* g = m != nullptr ? m->curg : nullptr;
  if (g == nullptr) fatal("park called outside a goroutine");
  if (GORO_TLS_RT(in_call)) {
    fatal("goroutine %llu used the runtime inside goro::blocking (which runs without a P)",
          static_cast<unsigned long long>(g->id));
  }
  g->wait_reason = reason;
  g->status.store(GStatus::kWaiting, std::memory_order_relaxed);
  m->post = PostAction::kPark;
  m->post_g = g;
  m->post_unlock = unlock_fn;
  m->post_arg = arg;
  if (m->p != nullptr) prefetch_stack(m->p->runq.second());
  switch_away(m, g, false);
}

void ready(G* g) noexcept {
  GStatus expected = GStatus::kWaiting;
  // relaxed: the G itself is published by the run queue's release store; the CAS only
  // catches a double ready(), a bug in the caller.
  if (!g->status.compare_exchange_strong(expected, GStatus::kRunnable, std::memory_order_relaxed)) {
    fatal("ready of goroutine %llu in status %s (not waiting)",
          static_cast<unsigned long long>(g->id), g_status_string(expected));
  }
  g->wait_reason = WaitReason::kNone;
  NoPreempt np;
  M* m = current_m();
  if (P* p = m != nullptr ? usable_p(m) : nullptr; p != nullptr) {
    p->runq.put(p, g, true);
  } else {
    sched.lock.lock();
    globrunq_put_locked(g);
    sched.lock.unlock();
  }
  wakep();
}

void yield_local() noexcept { goro::yield(); }

// Go: gopreempt_m. A goroutine that used up its slice goes to the global queue, behind
// everyone, and the P runs something else.
void preempt_self() noexcept {
  // Not inside a NoPreempt section or under a Lock: a channel send by a timer callback
  // (Timer, Ticker, after) reaches here from check_timers, which post_switch runs under
  // NoPreempt, and a Ticker's callback under its heap's Lock. The request (P::preempt)
  // stays set for the next entry point. The signal path checked the same already. Nor
  // inside goro::blocking's call (a runtime call there is a misuse; park reports it).
  if (GORO_TLS_RT(nopreempt) != 0 || GORO_TLS_RT(locks) != 0 || GORO_TLS_RT(in_call)) return;
  NoPreempt np;
  M* m = current_m();
  G* g = m->curg;
  if (g == nullptr || m->p == nullptr) return;
  m->p->preempt.store(0, std::memory_order_relaxed);
  m->p->last_preempted = g;
  // Goroutines the network readied while this one ran go first (to our local queue;
  // the preempted one goes to the global queue). Go polls only after the global queue,
  // where the preempted hog then is, and leaves the rest to sysmon's 10 ms poll: a
  // request arriving behind a CPU hog on one P then waits up to two slices.
  if (netpoll_has_waiters()) {
    std::int32_t n = 0;
    if (G* list = poll_now(&n)) inject_glist(list, n);
  }
  g->status.store(GStatus::kRunnable, std::memory_order_relaxed);
  m->post = PostAction::kRequeueGlobal;
  m->post_g = g;
  switch_away(m, g, false);
}

// Go: wakeNetPoller. Makes sure some M wakes up by `when`.
void wake_timer_sleeper(std::int64_t when) noexcept {
  // seq_cst fence: orders our timer insertion before reading sleep_until (the timed
  // sleep handshake, see stopm_timed).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  bool polling = sched.lastpoll.load(std::memory_order_seq_cst) == 0;
  if (polling) {
    // An M is blocked in the poller: interrupt it if it would sleep past `when`.
    std::int64_t pu = sched.poll_until.load(std::memory_order_seq_cst);
    if (pu == 0 || when < pu) netpoll_break();
    // Go on to the timer sleeper: it may sleep past `when` too, and the poller, once
    // woken, may find no P, or no network waiter left, and sleep untimed, deferring to
    // the timer sleeper. (Reading sleep_until here also keeps stopm_timed's handshake:
    // its re-check of the timers pairs with this read.)
  }
  std::int64_t until = sched.sleep_until.load(std::memory_order_seq_cst);
  if (until != 0 && when >= until) return;  // the sleeper wakes in time
  if (until == 0) {
    // Nobody sleeps on timers: the poller (woken above) or an idle P's M (if any) will,
    // once it finds nothing.
    if (!polling) wakep();
    return;
  }
  sched.lock.lock();
  M* ts = sched.timer_sleeper;
  if (ts != nullptr && when < sched.sleep_until.load(std::memory_order_relaxed) && mremove(ts)) {
    sched.timer_sleeper = nullptr;
    sched.sleep_until.store(0, std::memory_order_seq_cst);
    ts->nextp = nullptr;
    ts->park.wakeup();  // it re-computes the earliest timer
  }
  sched.lock.unlock();
}

}  // namespace goro::detail

namespace goro {

using namespace detail;

void yield() noexcept {
  NoPreempt np;
  M* m = GORO_CUR_M();
  G* g = m != nullptr ? m->curg : nullptr;
  if (g == nullptr) {
    sched_yield();
    return;
  }
  G* next = nullptr;
  bool inherit = false;
  bool leave = must_leave_p(m);
  if (!leave) {
    next = find_runnable_fast(m->p, &inherit);
    if (next == nullptr) return;  // nothing else to run here: keep going
  }
  g->status.store(GStatus::kRunnable, std::memory_order_relaxed);
  m->post = PostAction::kRequeue;
  m->post_g = g;
  if (next != nullptr) {
    execute(m, next, inherit, &g->ctx, g, false);
  } else {
    m->curg = nullptr;
    ctx_switch(&g->ctx, &m->g0, m->eh_globals);
  }
  post_switch(GORO_CUR_M());
}

void preempt_point() noexcept {
  if (this_thread_rt()->detached) reattach();
  preempt_check();
}

std::string sched_trace(bool detail) { return detail::sched_trace(detail); }

std::uint64_t goroutine_id() noexcept {
  G* g = current_g();
  return g != nullptr ? g->id : 0;
}

std::int64_t num_goroutines() noexcept {
  return sched.ngoroutines.load(std::memory_order_relaxed);
}

int max_procs() noexcept {
  if (g_running.load(std::memory_order_acquire)) {
    int n = sched.gomaxprocs.load(std::memory_order_relaxed);
    if (n > 0) return n;
  }
  return configured_procs();
}

bool in_goroutine() noexcept { return current_g() != nullptr; }

int set_max_procs(int n) {
  int old = max_procs();
  if (n <= 0) return old;
  if (n > kMaxProcs) n = kMaxProcs;
  M* m = current_m();
  if (m == nullptr || !g_running.load(std::memory_order_acquire)) {
    g_pending_procs.store(n, std::memory_order_relaxed);
    return old;
  }
  g_pending_procs.store(n, std::memory_order_relaxed);
  NoPreempt np;
  sched.lock.lock();
  std::int32_t cur = sched.gomaxprocs.load(std::memory_order_relaxed);
  if (n > cur) {
    for (int i = cur; i < n; ++i) {
      P* p = sched.allp[i].load(std::memory_order_relaxed);
      if (p == nullptr) {
        p = new_p(i);
        pidleput(p);
      } else if (p->status.load(std::memory_order_relaxed) == PStatus::kDead) {
        pidleput(p);
      }
      // else: a P beyond the old count that has not retired yet keeps running.
    }
    sched.gomaxprocs.store(n, std::memory_order_relaxed);
  } else if (n < cur) {
    sched.gomaxprocs.store(n, std::memory_order_relaxed);
    // Idle Ps beyond n die now; running ones retire at their next scheduling point.
    P** link = &sched.pidle;
    while (*link != nullptr) {
      P* p = *link;
      if (p->id >= n) {
        *link = p->link;
        p->link = nullptr;
        p->status.store(PStatus::kDead, std::memory_order_relaxed);
        sched.npidle.fetch_sub(1, std::memory_order_seq_cst);
      } else {
        link = &p->link;
      }
    }
  }
  sched.lock.unlock();
  if (n > cur) {
    for (int i = cur; i < n; ++i) wakep();
  } else if (m->p != nullptr && m->p->id >= n && m->curg != nullptr) {
    yield();  // our own P is going away: move to g0 so it retires now
  }
  return old;
}

}  // namespace goro

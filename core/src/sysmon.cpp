// sysmon.cpp — the system monitor (Go: sysmon, retake, handoffp's caller, schedtrace).
//
// sysmon is a thread with no P: it never runs goroutines, so it keeps watching when every
// P is busy or stuck. Each round it:
//   - retakes Ps whose M has sat in a blocking call for a whole round (or 10 ms), and
//     hands them to other Ms (handoff_p), so the other goroutines on them keep running;
//   - asks a goroutine that has run for 10 ms without a scheduling point to yield
//     (preempt_p: the cooperative flag, seen at runtime calls and goro::preempt_point(),
//     and the signal for call-free code);
//   - asks the same, after only a tenth of a slice (1 ms), of a goroutine whose P has a
//     timer overdue by that much: timers live on their P and fire at its scheduling
//     decisions, so under Go's rule a CPU hog makes a sleeper on its P wake up to a whole
//     slice late (Go: 20 ms and more);
//   - while such a long runner holds a P and goroutines wait on the network, polls the
//     network every tenth of a slice (Go: when nobody has for 10 ms) and, when that
//     readies goroutines, queues them and asks the long runners to yield (net_preempt):
//     requests behind a CPU-heavy handler wait ~1 ms, not a slice or two. These two are
//     departures from Go, for external events only: goroutines readied by other
//     goroutines (channels, sync) still wait for the running one's slice;
//   - prints the schedtrace line when GORO_DEBUG=schedtrace=N asks for it.
// Between rounds it sleeps Go's backoff (20 us, doubling after 50 idle rounds, up to
// 10 ms), bounded while Ps run by the next due time it computed (a slice's end, an
// overdue timer's grace) and by 5 ms while slices start that it did not cause, or 2 ms
// while Ps make system calls; it sleeps deeply (until the next timer, or until woken)
// when every P is idle: an idle program burns no CPU for sysmon's sake.
#include "sysmon.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "debug.hpp"
#include "futex.hpp"
#include "g.hpp"
#include "m.hpp"
#include "p.hpp"
#include "sched.hpp"
#include "preempt.hpp"
#include "timers.hpp"

namespace goro::detail {

namespace {

// Go: forcePreemptNS (10 ms). GORO_DEBUG=preemptus=N changes it (tests use a short
// slice to preempt thousands of times).
std::int64_t g_slice_ns = 10'000'000;
constexpr std::int64_t kMaxDelayUs = 10'000;

// sysmon's private samples of each P (Go: sysmontick).
struct Tick {
  std::uint32_t schedtick = 0;
  std::int64_t schedwhen = 0;
  std::int64_t signalled = 0;  // when we last signalled this P's M
  std::uint64_t syscalltick = 0;
  std::int64_t syscallwhen = 0;
};

std::thread g_sysmon;
// atomic futex word: 0 running, 1 asked to stop; sysmon sleeps on it (so stop() wakes it).
std::atomic<std::uint32_t> g_stop{0};
// atomic: set by a system call's entry that woke sysmon from its deep sleep.
std::atomic<bool> g_syscall_wake{false};


struct Taking {
  P* p;
  std::uint64_t tick;  // its syscalltick when sysmon began to take it
};

// What a round of retake found besides the Ps it took: when sysmon must look again.
struct Watch {
  std::int64_t next_due = 0;  // earliest time a running P's slice or overdue timer is due
  bool syscall = false;       // some P is in a system call (or detached)
  bool new_slice = false;     // some P started a slice we did not cause (start unknown)
  // Ps whose goroutine has run a tenth of a slice or more (see net_preempt). Cleared,
  // not freed, each round: no allocation once it has grown to the number of Ps.
  std::vector<P*> long_runners;
  // Ps in kTaking this round, with the call each was in (same allocation rule).
  std::vector<Taking> taking;

  // Forget the last round. new_slice: whether to assume slices started unseen.
  void clear(bool assume_new_slice) noexcept {
    next_due = 0;
    syscall = false;
    new_slice = assume_new_slice;
    long_runners.clear();
    taking.clear();
  }
};

void due_at(Watch& w, std::int64_t when) noexcept {
  if (w.next_due == 0 || when < w.next_due) w.next_due = when;
}

// Whether nobody has polled the network for `age` ns: `last` is a value of
// Sched::lastpoll, 0 while an M is blocked in the poller (which is watching it).
bool net_stale(std::int64_t last, std::int64_t now, std::int64_t age) noexcept {
  return last != 0 && last + age <= now;
}

// Go: retake. Returns how many Ps it took.
int retake(std::vector<Tick>& ticks, std::int64_t now, Watch& watch) noexcept {
  int n = 0;
  std::int32_t procs = sched.gomaxprocs.load(std::memory_order_relaxed);
  if (static_cast<std::size_t>(procs) > ticks.size()) ticks.resize(static_cast<std::size_t>(procs));
  for (std::int32_t i = 0; i < procs; ++i) {
    P* p = sched.allp[i].load(std::memory_order_acquire);
    if (p == nullptr) continue;
    Tick& pd = ticks[static_cast<std::size_t>(i)];
    PStatus s = p->status.load(std::memory_order_acquire);
    if (s == PStatus::kRunning || s == PStatus::kSyscall) {
      std::uint32_t t = p->schedtick.load(std::memory_order_relaxed);
      if (pd.schedtick != t || pd.schedwhen == 0) {  // changed, or first seen: a new slice
        // Its start is known (within a tenth of a slice) only if our own preemption
        // request just ended the last one; otherwise sysmon must look again soon (below).
        if (pd.signalled == 0 || now - pd.signalled > g_slice_ns / 10) watch.new_slice = true;
        pd.schedtick = t;
        pd.schedwhen = now;
      }
      if (pd.schedwhen + g_slice_ns <= now && s == PStatus::kSyscall) {
        // Go: sysretake. A goroutine making short syscalls back to back keeps its P
        // without ever letting its syscall count stand still. Go hands such a P off
        // after a slice (and then polls at 20 us, as after any retake); we only raise
        // the preempt flag, which exit_syscall checks: the goroutine yields at its next
        // return from the kernel, at no cost to the calls before it. (No signal: it would
        // only interrupt the call.) A call that blocks is still taken below.
        // relaxed: a hint, see P::preempt.
        if (now - pd.signalled >= g_slice_ns / 20) {
          p->preempt.store(1, std::memory_order_relaxed);
          pd.signalled = now;
        }
      } else if (s == PStatus::kRunning) {
        // One slice: ask it to stop (flag + signal). Two: the backstop may take its P.
        // Or a timer of this P overdue by a tenth of a slice while its goroutine has run
        // that long: stop it now, not at the end of the slice (see the top).
        // relaxed: a hint, as the scheduler's own check of it.
        std::int64_t w = p->timers.timer0_when.load(std::memory_order_relaxed);
        std::int64_t due = pd.schedwhen + g_slice_ns;
        if (netpoll_has_waiters()) {
          if (pd.schedwhen + g_slice_ns / 10 <= now) {
            // Running a tenth of a slice already while goroutines wait on the network:
            // look at the network for it again in a tenth of a slice (net_preempt).
            watch.long_runners.push_back(p);
            due = std::min(due, now + g_slice_ns / 10);
          } else {
            // Look again when it would have run a tenth of a slice only if nobody has
            // polled the network for that long already (a long runner may have begun
            // before we first saw its slice); else in half a slice, as the 5 ms bound
            // below does anyway. A busy server, whose goroutines are all short and whose
            // Ms poll every few hundred microseconds, then costs sysmon ~200 wake-ups a
            // second, not ~500 (at a fifth of a slice) or ~1,000: in a VM each one cost
            // the serving thread tens of microseconds (timer, switch, cache), ~1 % of a
            // keep-alive request's CPU at 500. The price: a long runner is found up to
            // ~6 ms after it began (the next round within 5 ms, then 1 or 5 ms more),
            // not ~4 ms. relaxed: a hint; a stale value only moves one look.
            bool stale =
                net_stale(sched.lastpoll.load(std::memory_order_relaxed), now, g_slice_ns / 10);
            due = std::min(due, pd.schedwhen + (stale ? g_slice_ns / 10 : g_slice_ns / 2));
          }
        }
        if (w != 0) due = std::min(due, std::max(w, pd.schedwhen) + g_slice_ns / 10);
        if (due <= now) {
          std::uint8_t level = pd.schedwhen + 2 * g_slice_ns <= now ? 2 : 1;
          if (now - pd.signalled >= g_slice_ns / 20) {  // coalesce: at most 20 per slice
            preempt_p(p, level);
            pd.signalled = now;
          }
          // Not counted in n (as in Go): asking for a preemption is not "activity" that
          // keeps sysmon polling at 20 us. Look again when a repeat may be sent.
          due = pd.signalled + g_slice_ns / 20;
        }
        due_at(watch, due);
      }
    }
    std::uint64_t t = p->syscalltick.load(std::memory_order_relaxed);
    if (s != PStatus::kSyscall) {
      // Running, but it made system calls since the last round (a loop of short ones
      // spends most of its time in them): keep the 2 ms look, so that a call that
      // blocks is handed off soon, without its entry having to wake us each time.
      if (s == PStatus::kRunning && pd.syscalltick != t) {
        pd.syscalltick = t;
        pd.syscallwhen = now;
        watch.syscall = true;
      }
      continue;
    }
    watch.syscall = true;
    if (pd.syscalltick != t) {
      pd.syscalltick = t;
      pd.syscallwhen = now;
      continue;
    }
    // Leave it alone if it has nothing to do, someone else is looking for work, and the
    // call is young: it will probably come back for its P.
    if (p->runq.empty() &&
        sched.nmspinning.load(std::memory_order_seq_cst) + sched.npidle.load(std::memory_order_seq_cst) > 0 &&
        pd.syscallwhen + g_slice_ns > now) {
      continue;
    }
    if (syscall_take_begin(p)) watch.taking.push_back({p, t});
  }
  // The exit handshake (syscall.cpp): one barrier for every P being taken this round.
  if (!watch.taking.empty()) {
    bool ok = syscall_take_barrier();
    for (const Taking& tk : watch.taking) {
      if (syscall_take_end(tk.p, tk.tick, ok)) {
        ++n;
        handoff_p(tk.p);
      }
    }
  }
  return n;
}

// Go: sysmon's netpoll. If goroutines wait on the network and nobody has polled for
// `age` ns (nor is an M blocked in the poller: lastpoll 0), polls without blocking and
// queues what is ready. Returns whether that readied any goroutine.
bool poll_if_stale(std::int64_t now, std::int64_t age) noexcept {
  if (!netpoll_has_waiters()) return false;
  // seq_cst: see Sched::lastpoll (the CAS claims this poll against the Ms' own).
  std::int64_t last = sched.lastpoll.load(std::memory_order_seq_cst);
  if (!net_stale(last, now, age) ||
      !sched.lastpoll.compare_exchange_strong(last, now, std::memory_order_seq_cst)) {
    return false;
  }
  std::int32_t n = 0;
  G* list = netpoll(0, &n);
  if (list == nullptr) return false;
  inject_glist(list, n);
  return true;
}

// While a goroutine has held its P for a tenth of a slice (1 ms) or more, sysmon polls
// the network itself every tenth of a slice (Go: only when nobody has for 10 ms) and, if
// that readied goroutines, queues them and asks the long runners to yield now, not at the
// end of their slice — as for an overdue timer (see the top): requests arriving behind a
// CPU-heavy handler on one P wait ~1 ms, not 10-20.
void net_preempt(const Watch& watch, std::int64_t now) noexcept {
  if (watch.long_runners.empty() || !poll_if_stale(now, g_slice_ns / 10)) return;
  for (P* p : watch.long_runners) preempt_p(p, 1);
}

void sleep_us(std::int64_t us) noexcept {
  // acquire: pairs with sysmon_stop's release.
  if (g_stop.load(std::memory_order_acquire) == 0) futex_wait(&g_stop, 0, us * 1000);
}

bool all_idle() noexcept {
  return sched.npidle.load(std::memory_order_seq_cst) ==
         sched.gomaxprocs.load(std::memory_order_relaxed);
}

void sysmon_main() noexcept {
  g_slice_ns = debug_setting("preemptus", 10'000) * 1000;
  if (g_slice_ns < 50'000) g_slice_ns = 50'000;
  long trace_ms = debug_setting("schedtrace", 0);
  bool detail = debug_setting("scheddetail", 0) != 0;
  std::int64_t start = nanotime();
  std::int64_t last_trace = start;
  std::vector<Tick> ticks;
  std::int64_t delay = 20;
  int idle = 0;
  Watch watch;
  while (g_stop.load(std::memory_order_acquire) == 0) {
    if (idle == 0) {
      delay = 20;
    } else if (idle > 50) {
      delay *= 2;
    }
    if (delay > kMaxDelayUs) delay = kMaxDelayUs;
    // What we sleep this round: delay (Go's backoff) within the bounds below, which do
    // not touch the backoff itself (a bound from a due time is for this round only).
    std::int64_t sleep = delay;
    if (!all_idle()) {
      // While goroutines run, sysmon must see a slice start within a short lag (a
      // slice is counted from when sysmon first sees it) and wake when a slice or an
      // overdue timer comes due. It looks every 2 ms while Ps make system calls (a
      // blocked call's P is handed off within 2-4 ms; Go's sysmon, backed off to 10 ms
      // by calls that all return, takes 10-20), else every 5 ms (half a slice: slices
      // run 10-15 ms, Go's 10-20 ms), and in any case wakes at the next due time it
      // computed — exactly when a hog's slice ends. Each wake-up costs tens of
      // microseconds of some CPU (a busy proxy: ~1 % at 5 ms, ~5 % at 1 ms; a loop of
      // getpid(2) through goro::blocking on sysmon's CPU: 84.6 ns a call with looks
      // every 0.5 ms, 82 at 1 ms, 79.7 at 1.9 ms).
      // (The 5 ms bound only while slices start that sysmon did not cause: a lone CPU
      // hog costs it two wake-ups per slice, not three.)
      std::int64_t cap = watch.syscall     ? 2000
                         : watch.new_slice ? std::min<std::int64_t>(5000, g_slice_ns / 2000)
                                           : kMaxDelayUs;
      if (watch.next_due != 0) {
        std::int64_t until = (watch.next_due - nanotime()) / 1000 + 1;
        cap = std::min(cap, std::max<std::int64_t>(until, 20));
      }
      if (sleep > cap) sleep = cap;
    }
    if (sleep > 2000 && !all_idle()) {
      // A long sleep while goroutines run: a goroutine entering a system call wakes us
      // (a blocking call's P is then handed off within ~2 ms, not up to 5). Not at the
      // 2 ms of the calls' own look: every call's entry would wake us then.
      sysmon_deep.store(kSysmonLong, std::memory_order_seq_cst);
      if (g_stop.load(std::memory_order_acquire) == 0) {
        futex_wait(&sysmon_deep, kSysmonLong, sleep * 1000);
      }
      sysmon_deep.store(0, std::memory_order_seq_cst);
      // relaxed: a hint; the futex word carried the wake-up itself. The round that
      // follows sees the call, and the next one comes 2 ms later (watch.syscall):
      // no need for the 20 us backoff reset here.
      g_syscall_wake.store(false, std::memory_order_relaxed);
    } else {
      sleep_us(sleep);
    }
    if (g_stop.load(std::memory_order_acquire) != 0) break;

    if (trace_ms <= 0 && all_idle()) {
      // Deep sleep until the next timer or a wake-up (Go: sysmonwait).
      sysmon_deep.store(kSysmonDeep, std::memory_order_seq_cst);
      if (all_idle()) {
        std::int64_t next = earliest_timer();
        if (next == 0) {
          futex_wait(&sysmon_deep, kSysmonDeep);  // until sysmon_wake
        } else if (std::int64_t ns = next - nanotime(); ns > 0) {
          futex_wait(&sysmon_deep, kSysmonDeep, ns);
        }
      }
      sysmon_deep.store(0, std::memory_order_seq_cst);
      // Poll at 20 us again only if a system call woke us (its P may need handing off
      // soon), as Go does (syscallWake). A P merely going back to work keeps the
      // backoff: a server going idle and busy hundreds of times a second otherwise
      // had sysmon polling at 20 us after each, preempting the serving thread ~3,000
      // times a second (HTTP helper: 10-15 % of a request's CPU). Slices and overdue
      // timers are still met: the sleep is capped by their due times (below).
      // relaxed: a hint; the futex word carried the wake-up itself.
      if (g_syscall_wake.exchange(false, std::memory_order_relaxed)) idle = 0;
      watch.clear(true);  // what the last round saw is stale now
      continue;
    }
    std::int64_t now = nanotime();
    // Go: sysmon's netpoll, when nobody has polled for 10 ms.
    if (poll_if_stale(now, 10'000'000)) idle = 0;
    watch.clear(false);
    if (retake(ticks, now, watch) != 0) {
      idle = 0;
    } else {
      ++idle;
    }
    net_preempt(watch, now);
    if (trace_ms > 0 && now - last_trace >= trace_ms * 1'000'000) {
      last_trace = now;
      std::string line = sched_trace(detail);
      std::fprintf(stderr, "SCHED %lldms: %s", static_cast<long long>((now - start) / 1'000'000),
                   line.c_str());
      std::fflush(stderr);
    }
  }
}

}  // namespace

void sysmon_start() noexcept {
  g_stop.store(0, std::memory_order_relaxed);
  sysmon_deep.store(0, std::memory_order_relaxed);
  g_sysmon = std::thread(&sysmon_main);
  // So that top -H, perf and /proc/PID/task show which thread is sysmon. Named here, not
  // by the thread itself: the name is there before any goroutine runs.
  pthread_setname_np(g_sysmon.native_handle(), "goro-sysmon");
}

void sysmon_stop() noexcept {
  // release: pairs with sysmon's acquire loads.
  g_stop.store(1, std::memory_order_release);
  futex_wake(&g_stop, 1);
  sysmon_deep.store(0, std::memory_order_seq_cst);
  futex_wake(&sysmon_deep, 1);
  if (g_sysmon.joinable()) g_sysmon.join();
}

// seq_cst: see sysmon.hpp.
std::atomic<std::uint32_t> sysmon_deep{0};

void sysmon_wake_slow(bool syscall) noexcept {
  // relaxed: read by sysmon after the futex word's seq_cst handshake below.
  if (syscall) g_syscall_wake.store(true, std::memory_order_relaxed);
  // seq_cst: see sysmon_deep.
  sysmon_deep.store(0, std::memory_order_seq_cst);
  futex_wake(&sysmon_deep, 1);
}

void preempt_p(P* p, std::uint8_t level) noexcept {
  // relaxed: a hint; the running goroutine sees it at its next check, and the request
  // is repeated if it was missed.
  p->preempt.store(level, std::memory_order_relaxed);
  // relaxed read of p->m (Ms live as long as the runtime): a signal to the wrong M is
  // harmless, its handler finds no request on its own P. Not to a P's M in a system call
  // (p->m stays set then): the signal would only interrupt the call (EINTR for some).
  if (p->status.load(std::memory_order_relaxed) != PStatus::kRunning) return;
  M* m = p->m.load(std::memory_order_relaxed);
  if (m != nullptr) preempt_signal(m);
}

namespace {

// P::syscalltick without the P's base (PSyscall::syscalltick): the P's count of calls.
constexpr std::uint64_t kTickCount = (std::uint64_t{1} << kSyscallTickBits) - 1;

// Whether m's goroutine is inside goro::blocking: its thread's in_call (a short call
// leaves the G kRunning) or, after blocking_long or a detach, the G's kSyscall. For
// sched_trace only: m's thread lives as long as the runtime that reports on it.
__attribute__((no_sanitize("thread"))) bool in_call(const M* m) noexcept {
  const G* g = m->curg;
  if (g == nullptr) return false;
  return g->status.load(std::memory_order_relaxed) == GStatus::kSyscall ||
         (m->rt != nullptr && m->rt->in_call);
}

}  // namespace

// Reads other threads' fields without their locks, as Go's schedtrace does: a report,
// not a synchronisation point (hence excluded from TSan).
__attribute__((no_sanitize("thread"))) std::string sched_trace(bool detail) {
  char buf[512];
  std::string out;
  sched.lock.lock();
  std::int32_t procs = sched.gomaxprocs.load(std::memory_order_relaxed);
  std::snprintf(buf, sizeof buf,
                "gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d needspinning=0 "
                "idlethreads=%d runqueue=%d [",
                procs, sched.npidle.load(), sched.mcount + 1, sched.nmspinning.load(),
                sched.nmidle, sched.runqsize.load());
  out += buf;
  for (std::int32_t i = 0; i < procs; ++i) {
    P* p = sched.allp[i].load(std::memory_order_acquire);
    std::snprintf(buf, sizeof buf, "%s%u", i ? " " : "", p ? p->runq.size() : 0u);
    out += buf;
  }
  out += "] schedticks=[";
  for (std::int32_t i = 0; i < procs; ++i) {
    P* p = sched.allp[i].load(std::memory_order_acquire);
    std::snprintf(buf, sizeof buf, "%s%u", i ? " " : "", p ? p->schedtick.load() : 0u);
    out += buf;
  }
  out += "]\n";
  if (detail) {
    static const int kPStatus[] = {0, 1, 2, 2, 4};  // Go's _Pidle, _Prunning, _Psyscall (kTaking too), _Pdead
    for (std::int32_t i = 0; i < procs; ++i) {
      P* p = sched.allp[i].load(std::memory_order_acquire);
      if (p == nullptr) continue;
      std::snprintf(buf, sizeof buf,
                    "  P%d: status=%d schedtick=%u syscalltick=%llu m=%lld runqsize=%u "
                    "gfreecnt=%d timerslen=%zu\n",
                    i, kPStatus[static_cast<int>(p->status.load())], p->schedtick.load(),
                    static_cast<unsigned long long>(p->syscalltick.load() & kTickCount),
                    p->m.load() ? static_cast<long long>(p->m.load()->id) : -1LL,
                    p->runq.size(), p->gfree_count, p->timers.heap.size());
      out += buf;
    }
    for (M* m : sched.allm) {
      std::snprintf(buf, sizeof buf,
                    "  M%lld: p=%d curg=%lld mallocing=0 throwing=0 preemptoff= locks=0 dying=0 "
                    "spinning=%s blocked=%s lockedg=-1\n",
                    static_cast<long long>(m->id), m->p ? m->p->id : -1,
                    m->curg ? static_cast<long long>(m->curg->id) : -1LL,
                    m->spinning ? "true" : "false",
                    in_call(m) ? "true" : "false");
      out += buf;
    }
    // Go's numbering: _Grunnable 1, _Grunning 2, _Gsyscall 3, _Gwaiting 4.
    static const int kGStatus[] = {0, 1, 2, 4, 6, 3};
    sched.gflock.lock();
    for (G* chunk : sched.gchunks) {
      for (int i = 0; i < 64; ++i) {
        G& g = chunk[i];
        GStatus st = g.status.load(std::memory_order_relaxed);
        if (st == GStatus::kIdle || st == GStatus::kDead) continue;
        // A short call leaves the G kRunning (syscall.cpp): shown as Go shows it.
        int go_status = kGStatus[static_cast<int>(st)];
        if (st == GStatus::kRunning && g.m != nullptr && g.m->curg == &g && in_call(g.m)) {
          go_status = 3;
        }
        std::snprintf(buf, sizeof buf, "  G%llu: status=%d(%s) m=%lld lockedm=-1\n",
                      static_cast<unsigned long long>(g.id), go_status,
                      st == GStatus::kWaiting ? wait_reason_string(g.wait_reason) : "",
                      g.m && st == GStatus::kRunning ? static_cast<long long>(g.m->id) : -1LL);
        out += buf;
      }
    }
    sched.gflock.unlock();
  }
  sched.lock.unlock();
  return out;
}

}  // namespace goro::detail

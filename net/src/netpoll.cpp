// netpoll.cpp — the network poller: goroutines parked on sockets, woken by Asio's reactor
// (Go: runtime/netpoll.go and netpoll_epoll.go).
//
// The problem. A goroutine that reads a socket with no data must give up its thread and
// come back when data arrives, at the cost of a run-queue operation and not of a thread.
// The scheduler (core/src/sched.cpp) drives a poller through a two-function contract
// (goro/core/detail/netpoll.hpp): poll(delay) collects the goroutines whose descriptors
// became ready and hands them over with netpoll_ready(); wake() interrupts a blocking
// poll. This file is that poller.
//
// Per descriptor, as Go does: a PollDesc with two one-goroutine wait slots, rg (read) and
// wg (write), each holding
//   kNil    nothing happened, nobody waits
//   kReady  readiness arrived while nobody waited (consumed by the next wait)
//   kWait   a goroutine is about to park (between its CAS and the park's commit)
//   a G*    that goroutine is parked (WaitReason::kIOWait)
// An operation first tries the non-blocking system call; on EAGAIN, poll_wait moves the
// slot kNil -> kWait, re-checks the deadline/closing flags, parks, and after the switch
// commits kWait -> G (Go: netpollblock / netpollblockcommit). Readiness moves the slot
// to kReady and returns the G to run, if any (Go: netpollunblock). A readiness notice
// between the EAGAIN and the park is therefore never lost: the CAS kNil -> kWait fails
// on kReady, or the commit kWait -> G fails and the park is abandoned. Edge-triggered
// registration suffices: the goroutine always retries the system call until EAGAIN
// before it waits again. Spurious readiness (a stale event for a reused descriptor) only
// costs a retry. One exception to "retry until EAGAIN": a TCP read that came back short
// left the socket empty, and unless a FIN was queued too (see below) the next read waits
// at once (poll_wait_quiet), if no read edge was taken since a snapshot of
// PollDesc::redges loaded before that read — whatever arrives after it raises an edge
// taken after the snapshot. This saves the read that returns EAGAIN, a third of the
// system calls of a request/response loop. A short read also consumes a FIN queued behind
// its data, which read(2) reports only next time, with no further edge: so TCP sockets
// are registered with EPOLLRDHUP too (poll_watch_hangup), and once the poller has seen
// it (or EPOLLHUP, EPOLLERR) a short read no longer counts as quiet (PollDesc::hup). A
// FIN that arrives after the poller's last look raises an edge of its own, after the
// reader's snapshot. (nginx reads the same way; TCP_INQ's count with recvmsg(2) would
// say it too, at ~3 % more kernel time per read in the HTTP benchmark.)
// Deadlines are runtime timers (goro/core/detail/timer.hpp) carrying a sequence number;
// changing a deadline or closing bumps it, so a timer firing late for an old deadline
// finds a different number and does nothing (Go: rseq/wseq).
// PollDescs are never freed, only recycled through a cache: a deadline callback may
// still be running after its timer was deleted (Go: pollCache, persistentalloc).
//
// Readiness from Asio. Rejected:
//   - an asio socket per connection and one async_wait(wait_read, handler) per EAGAIN.
//     It is correct (with the op queue empty, a non-speculative start_op re-arms the
//     descriptor with EPOLL_CTL_MOD, so readiness that came before the wait is reported
//     again), but every wait then costs an extra epoll_ctl system call, a handler
//     operation from operator new (Asio recycles handler memory only on the thread
//     running the io_context, and a goroutine's thread is not that one), the reactor's
//     descriptor lock, and the scheduler's lock and work counter twice (post, complete).
//     Measured (a standalone loop on a socketpair, one thread, the 2-CPU test VM): a
//     write / wait / read cycle costs 4.0-4.4 us with bare epoll, +0.3-0.7 us with the
//     persistent op below (0 allocations), +0.4-3.4 us with async_wait (1 allocation,
//     1 epoll_ctl per wait), and 38 us when the waits are started from a thread other
//     than the one running the io_context, as goroutines would.
//   - raw epoll beside Asio: the issue asks for Asio's reactor (portable to kqueue
//     through the same interface), and it would duplicate what the reactor already does.
// Chosen: Asio's reactor (asio::detail::reactor, the epoll_reactor on Linux) with one
// *persistent* reactor_op per direction embedded in the PollDesc. The descriptor is
// registered once, when the socket is made, with register_internal_descriptor (the
// read op: EPOLLIN|EPOLLERR|EPOLLHUP|EPOLLPRI|EPOLLET; a TCP connection then adds
// EPOLLRDHUP with one EPOLL_CTL_MOD, poll_watch_hangup), and the write op is queued with
// start_op (which adds EPOLLOUT) when a write first has to wait: a socket whose writes
// never wait then reports EPOLLIN alone, and each edge runs one op, not two. Asio's
// descriptor_state::perform_io calls the op's perform function on every edge, under the
// descriptor's mutex; ours runs Go's netpollunblock, calls netpoll_ready for the parked
// goroutine and returns not_done, so the op stays queued for the next edge and nothing
// is ever completed, posted or allocated: an operation that must wait costs two CASes
// on the slot and no system call besides its own; readiness costs one CAS plus Asio's
// uncontended descriptor mutex. In the echo benchmark (loadtest/compare.sh tcp) the
// server spends ~92% of its CPU in the kernel, ~1.5% in goro::net and ~0.7% in Asio.
// Closing is deregister_internal_descriptor (EPOLL_CTL_DEL; the ops are unlinked and
// "destroyed", a no-op for ours) before the descriptor is closed, then
// cleanup_descriptor_data. Asio's interface is used as of 1.22 (libasio-dev 1.22.1);
// later versions add parameters to start_op.
// The reactor is driven here, not by Asio's scheduler: poll() calls epoll_reactor::run
// (one epoll_wait of up to 128 descriptors, as Go's netpoll) and completes the
// descriptor operations it returns itself, which runs descriptor_state::perform_io and
// so our ops. io_context::poll() did the same with its handler queue in between: the
// scheduler's mutex taken and released around every descriptor, its work counter, and
// epoll_wait called again until it came back empty (so a poll returned ~150 goroutines
// at 256 busy connections, in ~6 system calls, where Go takes one). Driven directly,
// 175 fewer instructions and two fewer locked instructions per request of the HTTP
// benchmark. What it takes from Asio's internals (1.22): epoll_reactor::run, the
// operation's stored events (scheduler_operation::task_result_, reached through a
// derived class), and a scheduler call-stack entry for the thread, which perform_io's
// bookkeeping expects (compensating_work_started). The poll runs on whatever M the
// scheduler chose (or sysmon); there is no thread for handlers. The io_context lives
// for the process and is never run, so sockets may outlive one run(); a goroutine left
// parked on one when its run() ended is forgotten (PollDesc::Slot::epoch) rather than
// readied in the next run.
//
// wake() is Go's netpollBreak: an eventfd registered like a socket, written once until a
// blocking poll consumes it (wake_sig_ coalesces writers). (Asio's own interrupter,
// reactor::interrupt(), would do too now that we call epoll_reactor::run ourselves; it
// costs the same system call.) The eventfd is edge-triggered too, so
// a non-blocking poll that drains it must not lose the wake for a blocking one: if a
// blocking poll is under way it writes the eventfd again, else it leaves pending_ for
// the next blocking poll, which then does not block (a Dekker pair with blocking_).
// Polls may be attempted by several threads at once (sysmon polls beside the scheduler,
// as in Go); one at a time runs the reactor (Poller::mu_, as Asio's scheduler runs its
// task on one thread at a time): a non-blocking poll that finds it taken returns
// nothing, the running poll reports what is ready. Goroutines start ops and register
// descriptors meanwhile, so the io_context keeps the default (locking) concurrency hint.
//
// Locks, in order: PollDesc::lock, then a P's timer lock (add_timer/del_timer under it);
// Poller::mu_ (held by the polling thread, across epoll_wait) before Asio's descriptor
// mutex, which the poller takes around perform (which takes no goro lock: slot CASes and
// netpoll_ready only) and the reactor calls here take alone; the cache lock and
// g_install_lock are leaves. Deadline callbacks take PollDesc::lock outside any timer
// lock, and ready() goroutines after releasing it.
//
// Timing: epoll_wait takes milliseconds; Asio rounds a timeout up to the next
// millisecond (Go rounds down, with 1 ms minimum), so a timer due in 100 us while every
// goroutine waits on sockets fires after up to 1 ms, as in Go.
#include "netpoll.hpp"

#include <goro/core/detail/lock.hpp>
#include <goro/core/detail/netpoll.hpp>
#include <goro/core/detail/park.hpp>
#include <goro/core/detail/timer.hpp>
#include <goro/core/runtime.hpp>

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>

#include <asio/detail/call_stack.hpp>
#include <asio/detail/op_queue.hpp>
#include <asio/detail/reactor.hpp>
#include <asio/detail/reactor_op.hpp>
#include <asio/detail/scheduler.hpp>
#include <asio/detail/scheduler_operation.hpp>
#include <asio/detail/scheduler_thread_info.hpp>
#include <asio/detail/thread_context.hpp>
#include <asio/io_context.hpp>

namespace goro::net::detail {

namespace {

using goro::detail::G;
using Reactor = asio::detail::reactor;
using ReactorOp = asio::detail::reactor_op;

#if defined(ASIO_HAS_EPOLL)
static_assert(std::is_same_v<Reactor, asio::detail::epoll_reactor>,
              "goro::net is written against Asio's epoll reactor on Linux");
#endif

[[noreturn]] void fatal(const char* msg) noexcept {
  std::fprintf(stderr, "goro: fatal error: netpoll: %s\n", msg);
  std::fflush(stderr);
  std::abort();
}

// Slot states (Go: pdNil, pdReady, pdWait); any other value is a parked G*.
constexpr std::uintptr_t kNil = 0;
constexpr std::uintptr_t kReady = 1;
constexpr std::uintptr_t kWait = 2;

// PollDesc::info bits (Go: pollDesc.atomicInfo), a lock-free summary of the fields
// guarded by PollDesc::lock for the checks on the I/O path.
constexpr std::uint32_t kInfoClosing = 1;
constexpr std::uint32_t kInfoReadExpired = 2;
constexpr std::uint32_t kInfoWriteExpired = 4;
constexpr std::uint32_t kInfoUnarmed = 8;  // a deadline is set but its timer is not armed

// Which run() this is, as far as the poller knows: bumped when a run() installs the
// poller (ensure_installed). Goroutines parked and timers armed in an earlier run() died
// with it (its Ps, timer heaps and Gs are freed): see PollDesc::Slot::epoch and
// PollDesc::timer_epoch. atomic: bumped under g_install_lock before the run's first
// socket operation goes on, read relaxed (it does not change while the run goes on).
std::atomic<std::uint64_t> g_epoch{1};

// Runtime calls from goroutines into Asio take pthread mutexes: the goroutine must not be
// preempted asynchronously (and moved to another thread) while it holds one. The same
// counter a runtime Lock raises (see goro/core/detail/lock.hpp).
struct NoPreempt {
  NoPreempt() noexcept {
    if (goro::detail::tls_rt.detached) goro::detail::reattach();
    ++goro::detail::tls_rt.locks;
  }
  ~NoPreempt() { --goro::detail::tls_rt.locks; }
  NoPreempt(const NoPreempt&) = delete;
  NoPreempt& operator=(const NoPreempt&) = delete;
};

using Operation = asio::detail::scheduler_operation;
using OpQueue = asio::detail::op_queue<Operation>;
using ThreadStack = asio::detail::call_stack<asio::detail::thread_context,
                                             asio::detail::thread_info_base>;

// Asio members that are not public, named through explicit instantiations of a template,
// where access checking does not apply ([temp.spec.general]/6): the friend function each
// instantiation defines returns the member pointer. TaskResult: the events
// epoll_reactor::run stored in a descriptor's operation for the scheduler (run_reactor);
// EpollFd and RegisteredEvents: the reactor's epoll descriptor and a descriptor's
// registered event mask, which Asio's later EPOLL_CTL_MODs start from (poll_watch_hangup).
template <class Tag, typename Tag::Type kMember>
struct PrivateMember {
  friend constexpr typename Tag::Type member(Tag) noexcept { return kMember; }
};
struct TaskResult {
  using Type = unsigned int Operation::*;
  friend constexpr Type member(TaskResult) noexcept;
};
struct EpollFd {
  using Type = int Reactor::*;
  friend constexpr Type member(EpollFd) noexcept;
};
struct RegisteredEvents {
  using Type = std::uint32_t Reactor::descriptor_state::*;
  friend constexpr Type member(RegisteredEvents) noexcept;
};
template struct PrivateMember<TaskResult, &Operation::task_result_>;
template struct PrivateMember<EpollFd, &Reactor::epoll_fd_>;
template struct PrivateMember<RegisteredEvents, &Reactor::descriptor_state::registered_events_>;

// The events epoll reported for the descriptor whose operations the poll running on
// this thread is performing (set by run_reactor around each; read by on_read_ready).
thread_local std::uint32_t t_ready_events = 0;

// A reactor operation that never completes: perform() runs fn_ on each readiness edge
// and says "not done", so the op stays queued on its descriptor for the next edge.
class ReadinessOp final : public ReactorOp {
 public:
  using Fn = void (*)(void* owner) noexcept;
  ReadinessOp(Fn fn, void* owner) noexcept
      : ReactorOp(asio::error_code(), &ReadinessOp::do_perform, &ReadinessOp::do_complete),
        fn_(fn),
        owner_(owner) {}

 private:
  static status do_perform(ReactorOp* base) {
    auto* op = static_cast<ReadinessOp*>(base);
    op->fn_(op->owner_);
    return not_done;
  }
  // Reached only when Asio unlinks the op (deregistration, reactor shutdown, a failed
  // registration): nothing to run, nothing to free — the op lives in its PollDesc.
  static void do_complete(void*, asio::detail::scheduler_operation*, const asio::error_code&,
                          std::size_t) {}

  Fn fn_;
  void* owner_;
};

void on_read_ready(void* pd) noexcept;
void on_write_ready(void* pd) noexcept;
void on_wake(void* poller) noexcept;
void read_deadline_fired(void* pd, std::uintptr_t seq) noexcept;
void write_deadline_fired(void* pd, std::uintptr_t seq) noexcept;

}  // namespace

// Go: pollDesc. Laid out by temperature: what a read or write that waits touches, and
// the poller's perform call, sits in the first two cache lines (rop's perform function
// at its end of line 0; its callback, both wait slots, redges and info in line 1): with
// hundreds of busy connections each request touches 2 lines of its PollDesc, not 4.
struct alignas(64) PollDesc {
  PollDesc() noexcept {
    rt.fn = &read_deadline_fired;
    rt.arg = this;
    wt.fn = &write_deadline_fired;
    wt.arg = this;
  }

  // Asio's side of reading. Owned by the goroutine that opens or closes the descriptor;
  // the reactor links the ops into its per-descriptor queues between poll_open and
  // poll_close.
  ReadinessOp rop{&on_read_ready, this};

  // The wait slots (see the top of the file). seq_cst: the waiter's CAS kNil -> kWait
  // followed by its load of info pairs with the closer's/deadline setter's store of
  // info followed by its load of the slot (Go's "need to recheck error states after
  // setting gpp to pdWait"): one of the two sees the other.
  struct Slot {
    std::atomic<std::uintptr_t> g{kNil};
    // The run() the parked G belongs to (g_epoch when it parked): written by the waiter
    // before the commit CAS publishes g, read by whoever takes g from the slot. A G
    // left parked when its run() ended is gone; readiness in a later run() drops it.
    std::uint64_t epoch = 0;
  };
  Slot rg;
  Slot wg;
  // Read readiness edges taken so far (poll_read_edges). atomic: bumped by the poller in
  // on_read_ready before it moves rg; seq_cst: the bump, then rg's CAS, pairs with
  // poll_wait_quiet's store to rg, then its load of redges (one of the two sees the other).
  std::atomic<std::uint32_t> redges{0};
  // atomic: written under lock (publish_info), read lock-free by check_err. seq_cst as above.
  std::atomic<std::uint32_t> info{0};
  int fd = -1;  // written by poll_open before registration, read-only until poll_close
  // The poller has seen the peer's FIN, a hang-up or an error on the descriptor
  // (EPOLLRDHUP, EPOLLHUP, EPOLLERR: see poll_hangup_seen). Sticky until poll_open reuses
  // the PollDesc. atomic: set by the poller in on_read_ready before its bump of redges
  // (seq_cst), which publishes it to a reader whose snapshot of redges sees the bump;
  // relaxed otherwise.
  std::atomic<bool> hup{false};
  // wop is queued (and EPOLLOUT registered): from the first write that had to wait, not
  // from poll_open, so that a socket whose writes never wait gets no EPOLLOUT in its
  // events and the poller runs one op per edge, not two. Written by writers (the Fd's
  // write lock serializes them) and poll_open. relaxed: read only by the writer side.
  std::atomic<bool> wop_queued{false};

  // --- colder: the write op (once a write waited), registration, deadlines.
  ReadinessOp wop{&on_write_ready, this};
  Reactor::per_descriptor_data reactor_data = nullptr;

  goro::detail::Lock lock;  // guards the fields below
  bool closing = false;
  std::uintptr_t rseq = 0;  // bumped when the read deadline changes or pd is reused
  std::uintptr_t wseq = 0;
  std::int64_t rd = 0;  // read deadline: 0 none, > 0 nanotime, -1 passed
  std::int64_t wd = 0;
  bool rt_set = false;  // rt was armed under the current rseq (Go: pd.rt.f != nil)
  bool wt_set = false;
  bool unarmed = false;           // rd/wd set outside a goroutine: arm at the next wait
  std::uint64_t timer_epoch = 0;  // g_epoch when rt/wt were armed
  goro::detail::Timer rt;
  goro::detail::Timer wt;

  PollDesc* next_free = nullptr;  // guarded by the cache's lock
};

namespace {

// --- the poller ------------------------------------------------------------------------

class Poller {
 public:
  Poller()
      : reactor_(asio::use_service<Reactor>(ctx_)),
        scheduler_(asio::use_service<asio::detail::scheduler>(ctx_)),
        wake_op_(&on_wake, this) {
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) fatal("eventfd failed");
    if (reactor_.register_internal_descriptor(Reactor::read_op, wake_fd_, wake_data_, &wake_op_) !=
        0) {
      fatal("cannot register the wake-up eventfd");
    }
  }

  Reactor& reactor() noexcept { return reactor_; }

  // Go: netpoll(delay). One epoll_wait (up to 128 descriptors), as Go's netpoll does;
  // see the top comment for why the reactor is driven here and not by Asio's scheduler.
  void poll(std::int64_t delay_ns) noexcept {
    try {
      if (delay_ns == 0) {
        // Another thread is polling (maybe blocked in epoll_wait): it reports what is
        // ready, as Asio's scheduler has a second caller of poll() return at once.
        std::unique_lock<std::mutex> lk(mu_, std::try_to_lock);
        if (!lk.owns_lock()) return;
        t_blocking = false;
        run_reactor(0);
        return;
      }
      t_blocking = true;
      // seq_cst: Dekker with woken (pending_ then blocking_ there; blocking_ then
      // pending_ here): a wake drained by a non-blocking poll is either seen here or
      // re-signalled to us. Set before waiting for mu_: a non-blocking poll holding it
      // then hands a wake over.
      blocking_.store(true, std::memory_order_seq_cst);
      {
        std::lock_guard<std::mutex> lk(mu_);
        if (pending_.exchange(false, std::memory_order_seq_cst)) {
          run_reactor(0);  // a wake is waiting: return at once
        } else {
          // epoll_wait counts milliseconds; the reactor rounds up (as Asio's run_one_for).
          run_reactor(delay_ns < 0 ? -1 : static_cast<long>((delay_ns + 999) / 1000));
        }
      }
      blocking_.store(false, std::memory_order_seq_cst);
      pending_.store(false, std::memory_order_relaxed);
      // Later wakes write the eventfd again (Go: netpollWakeSig.Store(0) after the read).
      wake_sig_.store(0, std::memory_order_seq_cst);
      t_blocking = false;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "goro: netpoll: %s\n", e.what());
      fatal("the reactor failed");
    }
  }

  // Go: netpollBreak.
  void wake() noexcept {
    // seq_cst: pairs with the reset in poll(); a failed exchange means a wake is in flight.
    if (wake_sig_.exchange(1, std::memory_order_seq_cst) != 0) return;
    signal();
  }

  // On a polling thread, from the reactor: the eventfd was written.
  void woken() noexcept {
    std::uint64_t v;
    while (::read(wake_fd_, &v, sizeof v) < 0 && errno == EINTR) {
    }
    if (t_blocking) return;  // this (blocking) poll returns now
    pending_.store(true, std::memory_order_seq_cst);
    if (blocking_.load(std::memory_order_seq_cst)) signal();  // hand it to the blocking poll
  }

 private:
  void signal() noexcept {
    std::uint64_t one = 1;
    while (::write(wake_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
  }

  static thread_local bool t_blocking;  // the poll running on this thread may block

  // One epoll_wait and the perform calls it leads to, under mu_ (see run_reactor).
  void run_reactor(long usec) {
    OpQueue ops;
    reactor_.run(usec, ops);
    if (ops.empty()) return;
    // descriptor_state::perform_io reports to the scheduler of the thread it runs on
    // (compensating_work_started, as no handler completes): make this thread look like
    // one of its threads for the duration. Nothing else of the scheduler is used.
    asio::detail::scheduler_thread_info info;
    info.private_outstanding_work = 0;
    ThreadStack::context in_scheduler(&scheduler_, info);
    while (Operation* op = ops.front()) {
      ops.pop();
      // A descriptor_state: perform_io(events) runs our ReadinessOps, which complete
      // nothing, so nothing is posted either.
      t_ready_events = op->*member(TaskResult{});
      op->complete(&scheduler_, asio::error_code(), t_ready_events);
    }
    t_ready_events = 0;
  }

  // The io_context owns the reactor (and the scheduler it reports to); it is never run.
  // Default concurrency hint: goroutines on other threads start ops (start_op) and
  // register descriptors while a poll runs, under the reactor's own mutexes.
  asio::io_context ctx_;
  Reactor& reactor_;
  asio::detail::scheduler& scheduler_;
  // Held by the thread running epoll_wait and the perform calls: one at a time, as Asio's
  // scheduler runs its reactor task on one thread at a time (epoll_reactor::run relies
  // on it). A leaf lock, held across a blocking epoll_wait.
  std::mutex mu_;
  int wake_fd_ = -1;
  Reactor::per_descriptor_data wake_data_ = nullptr;
  ReadinessOp wake_op_;
  std::atomic<std::uint32_t> wake_sig_{0};  // 1: the eventfd was written, not yet consumed
  std::atomic<bool> blocking_{false};       // a blocking poll is under way
  std::atomic<bool> pending_{false};        // a non-blocking poll drained a wake
};

thread_local bool Poller::t_blocking = false;

// Never destroyed: descriptors, their timers and goroutines parked on them may outlive
// static destruction (and every run()).
Poller& poller() {
  static Poller* p = new Poller();
  return *p;
}

void ops_poll(std::int64_t delay_ns) noexcept { poller().poll(delay_ns); }
void ops_wake() noexcept { poller().wake(); }

const goro::detail::NetpollOps kOps{&ops_poll, &ops_wake};

// The scheduler forgets the poller when run() returns; the first socket operation of the
// next run() installs it again, and starts a new epoch (g_epoch).
goro::detail::Lock g_install_lock;

void ensure_installed() noexcept {
  if (goro::detail::netpoll_installed()) return;
  g_install_lock.lock();
  if (!goro::detail::netpoll_installed()) {
    g_epoch.fetch_add(1, std::memory_order_relaxed);
    goro::detail::netpoll_install(&kOps);
  }
  g_install_lock.unlock();
}

void on_wake(void* p) noexcept { static_cast<Poller*>(p)->woken(); }

// --- the descriptor cache (Go: pollCache) ----------------------------------------------

class PollCache {
 public:
  PollDesc* alloc() {
    lock_.lock();
    if (free_ == nullptr) {
      lock_.unlock();
      auto* chunk = new PollDesc[kChunk];  // never freed (see the top of the file)
      lock_.lock();
      chunks_.push_back(chunk);
      for (int i = 0; i < kChunk; ++i) {
        chunk[i].next_free = free_;
        free_ = &chunk[i];
      }
      cached_ += kChunk;
    }
    PollDesc* pd = free_;
    free_ = pd->next_free;
    pd->next_free = nullptr;
    --cached_;
    ++open_;
    lock_.unlock();
    return pd;
  }

  void free(PollDesc* pd) noexcept {
    lock_.lock();
    pd->next_free = free_;
    free_ = pd;
    ++cached_;
    --open_;
    lock_.unlock();
  }

  PollStats stats() noexcept {
    lock_.lock();
    PollStats s{open_, cached_};
    lock_.unlock();
    return s;
  }

 private:
  static constexpr int kChunk = 64;
  goro::detail::Lock lock_;
  PollDesc* free_ = nullptr;       // guarded by lock_
  std::vector<PollDesc*> chunks_;  // guarded by lock_; keeps the chunks reachable
  std::int64_t open_ = 0;          // guarded by lock_
  std::int64_t cached_ = 0;        // guarded by lock_
};

PollCache& cache() {
  static PollCache* c = new PollCache();
  return *c;
}

// --- slot transitions --------------------------------------------------------------------

PollDesc::Slot& slot(PollDesc* pd, PollMode mode) noexcept {
  return mode == kRead ? pd->rg : pd->wg;
}

// Whether a goroutine of the current run() is parked in pd's slot (or about to be).
bool parked(PollDesc* pd, PollMode mode) noexcept {
  PollDesc::Slot& sl = slot(pd, mode);
  std::uintptr_t v = sl.g.load(std::memory_order_seq_cst);
  if (v == kNil || v == kReady) return false;
  return v == kWait || sl.epoch == g_epoch.load(std::memory_order_relaxed);
}

// Go: netpollcheckerr.
PollErr check_err(PollDesc* pd, PollMode mode) noexcept {
  std::uint32_t info = pd->info.load(std::memory_order_seq_cst);
  if (info & kInfoClosing) return PollErr::kClosing;
  if ((mode == kRead && (info & kInfoReadExpired)) ||
      (mode == kWrite && (info & kInfoWriteExpired))) {
    return PollErr::kTimeout;
  }
  return PollErr::kNone;
}

// Go: pollDesc.publishInfo. Requires pd->lock.
void publish_info(PollDesc* pd) noexcept {
  std::uint32_t info = 0;
  if (pd->closing) info |= kInfoClosing;
  if (pd->rd < 0) info |= kInfoReadExpired;
  if (pd->wd < 0) info |= kInfoWriteExpired;
  if (pd->unarmed) info |= kInfoUnarmed;
  pd->info.store(info, std::memory_order_seq_cst);
}

// Go: netpollunblock. Moves the slot on and returns the goroutine to ready, if any.
// ioready: readiness (the slot becomes kReady); else a deadline or close (kNil).
G* unblock(PollDesc* pd, PollMode mode, bool ioready) noexcept {
  PollDesc::Slot& sl = slot(pd, mode);
  std::atomic<std::uintptr_t>& gpp = sl.g;
  std::uintptr_t old = gpp.load(std::memory_order_seq_cst);
  for (;;) {
    if (old == kReady) return nullptr;
    if (old == kNil && !ioready) return nullptr;  // only readiness is remembered
    std::uintptr_t next = ioready ? kReady : kNil;
    // seq_cst: see PollDesc::rg. On success the G (if any) is ours to ready: its park has
    // committed (it is kWaiting) and nobody else can take it from the slot.
    if (gpp.compare_exchange_weak(old, next, std::memory_order_seq_cst)) break;
  }
  if (old == kWait) return nullptr;  // the waiter's commit will fail: it sees next itself
  if (old == kNil) return nullptr;
  if (sl.epoch != g_epoch.load(std::memory_order_relaxed)) return nullptr;  // a dead run's G
  goro::detail::netpoll_waiters_add(-1);
  return reinterpret_cast<G*>(old);
}

void on_read_ready(void* p) noexcept {
  auto* pd = static_cast<PollDesc*>(p);
  if (t_ready_events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    pd->hup.store(true, std::memory_order_relaxed);  // relaxed: see PollDesc::hup
  }
  // seq_cst: see PollDesc::redges.
  pd->redges.fetch_add(1, std::memory_order_seq_cst);
  if (G* g = unblock(pd, kRead, true)) goro::detail::netpoll_ready(g);
}

void on_write_ready(void* p) noexcept {
  if (G* g = unblock(static_cast<PollDesc*>(p), kWrite, true)) goro::detail::netpoll_ready(g);
}

// Go: netpollblockcommit. Runs after the switch: publish the parked G in its slot, unless
// the slot moved on (readiness, deadline, close) in the meantime — then run it again.
bool block_commit(G* g, void* arg) noexcept {
  auto* sl = static_cast<PollDesc::Slot*>(arg);
  sl->epoch = g_epoch.load(std::memory_order_relaxed);
  std::uintptr_t expected = kWait;
  // seq_cst: see PollDesc::rg; publishes g (and epoch) to whoever unblocks the slot.
  if (!sl->g.compare_exchange_strong(expected, reinterpret_cast<std::uintptr_t>(g),
                                     std::memory_order_seq_cst)) {
    return false;
  }
  goro::detail::netpoll_waiters_add(1);
  return true;
}

// Go: netpollblock. Returns true if readiness arrived, false if woken for another reason
// (deadline, close) or the park was not needed.
bool block(PollDesc* pd, PollMode mode) noexcept {
  PollDesc::Slot& sl = slot(pd, mode);
  std::atomic<std::uintptr_t>& gpp = sl.g;
  // Load first, then the one CAS the value calls for: a failing CAS is a locked
  // instruction too (~7 ns on the Intel test host), and the slot is usually kNil here.
  std::uintptr_t old = gpp.load(std::memory_order_seq_cst);
  for (;;) {
    if (old == kReady) {
      if (gpp.compare_exchange_strong(old, kNil, std::memory_order_seq_cst)) return true;
    } else if (old == kNil) {
      if (gpp.compare_exchange_strong(old, kWait, std::memory_order_seq_cst)) break;
    } else {
      fatal("two goroutines wait on one descriptor direction");
    }
  }
  // Re-check after kWait is visible: a closer or deadline setter publishes info and then
  // looks at the slot, so either it sees kWait (and wakes us by failing our commit) or we
  // see its flag here.
  if (check_err(pd, mode) == PollErr::kNone) {
    goro::detail::park(&block_commit, &sl, goro::detail::WaitReason::kIOWait);
  }
  // Woken by readiness, the slot holds kReady, which nobody but this goroutine changes
  // (unblock leaves a kReady alone): a plain store consumes it. Any other value (kNil from
  // a deadline or close, kWait after an abandoned park, which unblock may still turn
  // into kReady) is swapped out atomically.
  old = gpp.load(std::memory_order_seq_cst);
  if (old == kReady) {
    gpp.store(kNil, std::memory_order_release);
  } else {
    old = gpp.exchange(kNil, std::memory_order_seq_cst);
  }
  if (old > kWait) fatal("corrupted descriptor wait slot");
  return old == kReady;
}

// --- deadlines ---------------------------------------------------------------------------

// Arms (or re-arms) pd's timer for `mode` at its current deadline. Requires pd->lock;
// called in a goroutine (timers need the runtime).
void arm(PollDesc* pd, PollMode mode) noexcept {
  goro::detail::Timer& t = mode == kRead ? pd->rt : pd->wt;
  t.when = mode == kRead ? pd->rd : pd->wd;
  t.seq = mode == kRead ? pd->rseq : pd->wseq;
  goro::detail::add_timer(&t);
  (mode == kRead ? pd->rt_set : pd->wt_set) = true;
  pd->timer_epoch = g_epoch.load(std::memory_order_relaxed);
}

// Timers armed in an earlier run() went away with that run's timer heaps: forget them
// (never del_timer them). No poller installed means no run() has armed one since the
// last ended. Requires pd->lock.
void forget_dead_timers(PollDesc* pd) noexcept {
  if ((pd->rt_set || pd->wt_set) && (!goro::detail::netpoll_installed() ||
                                     pd->timer_epoch != g_epoch.load(std::memory_order_relaxed))) {
    pd->rt_set = pd->wt_set = false;
  }
}

// Go: poll_runtime_pollSetDeadline's per-direction part. Requires pd->lock.
void set_one(PollDesc* pd, PollMode mode, std::int64_t d, bool can_arm) noexcept {
  forget_dead_timers(pd);
  std::int64_t& dl = mode == kRead ? pd->rd : pd->wd;
  bool& set = mode == kRead ? pd->rt_set : pd->wt_set;
  std::uintptr_t& seq = mode == kRead ? pd->rseq : pd->wseq;
  goro::detail::Timer& t = mode == kRead ? pd->rt : pd->wt;
  std::int64_t d0 = dl;
  dl = d;
  if (!set) {
    if (d > 0) {
      if (can_arm) {
        arm(pd, mode);
      } else {
        pd->unarmed = true;
      }
    }
    return;
  }
  if (d == d0) return;
  ++seq;  // a firing of the old timer already in flight is now stale
  // del_timer before touching t: once it returns, the runtime no longer reads t (a
  // firing in flight copied what it needed first).
  goro::detail::del_timer(&t);
  set = false;
  if (d > 0) {
    if (can_arm) {
      arm(pd, mode);
    } else {
      pd->unarmed = true;
    }
  }
}

// Go: netpolldeadlineimpl.
void deadline_fired(PollDesc* pd, std::uintptr_t seq, PollMode mode) noexcept {
  pd->lock.lock();
  if (seq != (mode == kRead ? pd->rseq : pd->wseq)) {  // stale: deadline changed or pd reused
    pd->lock.unlock();
    return;
  }
  (mode == kRead ? pd->rd : pd->wd) = -1;
  publish_info(pd);
  G* g = unblock(pd, mode, false);
  pd->lock.unlock();
  if (g != nullptr) goro::detail::ready(g);
}

void read_deadline_fired(void* pd, std::uintptr_t seq) noexcept {
  deadline_fired(static_cast<PollDesc*>(pd), seq, kRead);
}
void write_deadline_fired(void* pd, std::uintptr_t seq) noexcept {
  deadline_fired(static_cast<PollDesc*>(pd), seq, kWrite);
}

// A deadline set from outside a goroutine has no timer yet: arm it before parking.
void arm_pending(PollDesc* pd) noexcept {
  pd->lock.lock();
  forget_dead_timers(pd);
  if (pd->unarmed && !pd->closing) {
    pd->unarmed = false;
    if (pd->rd > 0 && !pd->rt_set) arm(pd, kRead);
    if (pd->wd > 0 && !pd->wt_set) arm(pd, kWrite);
    publish_info(pd);
  }
  pd->lock.unlock();
}

// Outside a goroutine nothing can be parked: block the thread in poll(2), re-checking
// the closing flag and the deadline (whose timer may not run) every 50 ms.
PollErr wait_thread(PollDesc* pd, PollMode mode) noexcept {
  for (;;) {
    if (PollErr e = check_err(pd, mode); e != PollErr::kNone) return e;
    pd->lock.lock();
    std::int64_t d = mode == kRead ? pd->rd : pd->wd;
    pd->lock.unlock();
    int timeout_ms = 50;
    if (d > 0) {
      std::int64_t left = d - goro::detail::nanotime();
      if (left <= 0) return PollErr::kTimeout;
      if (left < 50'000'000) timeout_ms = static_cast<int>((left + 999'999) / 1'000'000);
    }
    struct pollfd p {
      pd->fd, static_cast<short>(mode == kRead ? POLLIN : POLLOUT), 0
    };
    if (::poll(&p, 1, timeout_ms) > 0) return PollErr::kNone;
  }
}

}  // namespace

// --- the interface ------------------------------------------------------------------------

PollDesc* poll_open(int fd, int* err) noexcept {
  Poller& p = poller();
  PollDesc* pd = cache().alloc();
  pd->lock.lock();
  if (parked(pd, kRead) || parked(pd, kWrite)) fatal("goroutine parked on a free descriptor");
  pd->fd = fd;
  pd->closing = false;
  ++pd->rseq;  // timers of a previous user are stale
  ++pd->wseq;
  pd->rd = pd->wd = 0;
  pd->rt_set = pd->wt_set = false;
  pd->unarmed = false;
  pd->rg.g.store(kNil, std::memory_order_relaxed);
  pd->wg.g.store(kNil, std::memory_order_relaxed);
  // relaxed: the descriptor is not registered yet; registration publishes it.
  pd->hup.store(false, std::memory_order_relaxed);
  publish_info(pd);
  pd->lock.unlock();

  int e;
  {
    NoPreempt np;
    pd->wop_queued.store(false, std::memory_order_relaxed);  // queued by poll_wait, if ever
    e = p.reactor().register_internal_descriptor(Reactor::read_op, fd, pd->reactor_data, &pd->rop);
    if (e != 0 && pd->reactor_data != nullptr) {
      p.reactor().deregister_internal_descriptor(fd, pd->reactor_data);
      p.reactor().cleanup_descriptor_data(pd->reactor_data);
    }
  }
  if (e != 0) {
    pd->fd = -1;
    cache().free(pd);
    *err = e;
    return nullptr;
  }
  if (goro::in_goroutine()) ensure_installed();
  return pd;
}

void poll_close(PollDesc* pd) noexcept {
  if (parked(pd, kRead) || parked(pd, kWrite))
    fatal("close of a descriptor with a parked goroutine");
  {
    NoPreempt np;
    // Before the caller's close(2): once the number is free another socket may get it.
    poller().reactor().deregister_internal_descriptor(pd->fd, pd->reactor_data);
    poller().reactor().cleanup_descriptor_data(pd->reactor_data);
  }
  pd->lock.lock();
  ++pd->rseq;
  ++pd->wseq;
  forget_dead_timers(pd);
  if (pd->rt_set) goro::detail::del_timer(&pd->rt);
  if (pd->wt_set) goro::detail::del_timer(&pd->wt);
  pd->rt_set = pd->wt_set = false;
  pd->fd = -1;
  pd->lock.unlock();
  cache().free(pd);
}

PollErr poll_reset(PollDesc* pd, PollMode mode) noexcept {
  if (PollErr e = check_err(pd, mode); e != PollErr::kNone) return e;
  // The caller is about to try the system call: an earlier readiness notice is moot.
  // release: plain store; only this goroutine waits in this direction (the Fd's lock).
  slot(pd, mode).g.store(kNil, std::memory_order_release);
  return PollErr::kNone;
}

PollErr poll_wait(PollDesc* pd, PollMode mode) noexcept {
  if (!goro::in_goroutine()) return wait_thread(pd, mode);
  ensure_installed();
  if (PollErr e = check_err(pd, mode); e != PollErr::kNone) return e;
  if (pd->info.load(std::memory_order_relaxed) & kInfoUnarmed) arm_pending(pd);
  if (mode == kWrite && !pd->wop_queued.load(std::memory_order_relaxed)) {
    // The first wait for writability: queue the write op now. Not speculative: it adds
    // EPOLLOUT with EPOLL_CTL_MOD, and the kernel then reports the socket writable if
    // it already is (room made since our EAGAIN), so no readiness is lost.
    NoPreempt np;
    poller().reactor().start_op(Reactor::write_op, pd->fd, pd->reactor_data, &pd->wop, false, false);
    pd->wop_queued.store(true, std::memory_order_relaxed);
  }
  while (!block(pd, mode)) {
    if (PollErr e = check_err(pd, mode); e != PollErr::kNone) return e;
    // Woken by a deadline that was then moved before we ran: wait again (Go does too).
  }
  return PollErr::kNone;
}

std::uint32_t poll_read_edges(const PollDesc* pd) noexcept {
  // seq_cst: the reader's snapshot before its system call; an edge it misses here is
  // one the poller takes after this load, and so after the read's look at the socket.
  return pd->redges.load(std::memory_order_seq_cst);
}

bool poll_watch_hangup(PollDesc* pd) noexcept {
  Reactor& r = poller().reactor();
  Reactor::descriptor_state* ds = pd->reactor_data;
  std::uint32_t& registered = ds->*member(RegisteredEvents{});
  epoll_event ev{};
  ev.events = registered | EPOLLRDHUP;
  ev.data.ptr = ds;
  if (::epoll_ctl(r.*member(EpollFd{}), EPOLL_CTL_MOD, pd->fd, &ev) != 0) return false;
  // Asio's own EPOLL_CTL_MOD (the write op's EPOLLOUT, start_op) starts from this mask,
  // and only the goroutine that registered the descriptor has it yet: no lock needed.
  registered = ev.events;
  return true;
}

bool poll_hangup_seen(const PollDesc* pd) noexcept {
  return pd->hup.load(std::memory_order_relaxed);  // relaxed: see PollDesc::hup
}

PollErr poll_wait_quiet(PollDesc* pd, std::uint32_t edges) noexcept {
  if (!goro::in_goroutine()) return PollErr::kNone;
  // Forget a readiness notice older than this check (the read lock's holder only writes
  // rg outside a wait). seq_cst, then the seq_cst load of redges: an edge whose bump we
  // do not see below comes after this store in the single total order, so its CAS on rg
  // (after its bump) finds kNil and leaves kReady, which block() then consumes.
  pd->rg.g.store(kNil, std::memory_order_seq_cst);
  if (pd->redges.load(std::memory_order_seq_cst) != edges) return PollErr::kNone;
  return poll_wait(pd, kRead);
}

void poll_set_deadline(PollDesc* pd, std::int64_t deadline, PollMode mode) noexcept {
  bool can_arm = goro::in_goroutine();
  if (can_arm) ensure_installed();  // this run's epoch before any timer is armed
  pd->lock.lock();
  if (pd->closing) {
    pd->lock.unlock();
    return;
  }
  if (mode == kRead || mode == kReadWrite) set_one(pd, kRead, deadline, can_arm);
  if (mode == kWrite || mode == kReadWrite) set_one(pd, kWrite, deadline, can_arm);
  publish_info(pd);
  // A deadline in the past wakes a goroutine parked right now (it sees kTimeout).
  G* rg = pd->rd < 0 ? unblock(pd, kRead, false) : nullptr;
  G* wg = pd->wd < 0 ? unblock(pd, kWrite, false) : nullptr;
  pd->lock.unlock();
  if (rg != nullptr) goro::detail::ready(rg);
  if (wg != nullptr) goro::detail::ready(wg);
}

void poll_unblock(PollDesc* pd) noexcept {
  pd->lock.lock();
  if (pd->closing) fatal("unblock of a closing descriptor");
  pd->closing = true;
  ++pd->rseq;
  ++pd->wseq;
  publish_info(pd);
  G* rg = unblock(pd, kRead, false);
  G* wg = unblock(pd, kWrite, false);
  forget_dead_timers(pd);
  if (pd->rt_set) goro::detail::del_timer(&pd->rt);
  if (pd->wt_set) goro::detail::del_timer(&pd->wt);
  pd->rt_set = pd->wt_set = false;
  pd->lock.unlock();
  if (rg != nullptr) goro::detail::ready(rg);
  if (wg != nullptr) goro::detail::ready(wg);
}

int poll_fd(const PollDesc* pd) noexcept { return pd->fd; }

PollStats poll_stats() noexcept { return cache().stats(); }

}  // namespace goro::net::detail

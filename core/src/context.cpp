// context.cpp — goro::Context: cancellation trees with deadlines and values (Go's
// package context: WithCancel, propagateCancel, cancelCtx.cancel, removeChild,
// WithDeadline, WithValue).
//
// The problem. A cancellation must reach every context derived from the cancelled one,
// however deep and wide the tree, exactly once, from any thread — including a scheduler
// thread running a deadline timer's callback, which must not block or park. Contexts
// are created and dropped all the time (one per request, one per call with a timeout),
// so a child that goes away first must not stay listed under a long-lived parent, and
// its timer must not stay in a timer heap.
//
// Rejected:
//  - A parent that polls, or children that each watch their parent's done() from a
//    goroutine: a goroutine per context, and a wake-up chain as long as the tree.
//  - Children held by strong references from their parent (Go's children map): with a
//    parent that is never cancelled (background, a server's root), every child whose
//    CancelFunc was never called would live forever. Go accepts that ("failing to call
//    cancel leaks the context") because its GC cannot help either; reference counts can.
//  - Recursion down the tree (Go's cancel calls child.cancel) and up it on release: a
//    context derived in a loop (ctx = with_cancel(ctx) ten thousand times) would
//    overflow a goroutine's or scheduler thread's stack. Both walks here are loops.
//  - A walk that holds one node's lock at a time (detach the children, unlock, cancel
//    them later): cheaper, but a second canceller — a timer firing, a child's own
//    CancelFunc — that finds a node already marked returns while the first is still
//    walking below it, so "cancel() returned" would not mean "the subtree is
//    cancelled". Go guarantees that (its cancel holds the parent's lock while it
//    cancels the children, and Err takes the lock); the stress test caught the gap.
//
// Chosen, as Go's cancelCtx but with reference counts and loops:
//  - Every context is a ContextNode, counted by its Context/CancelFunc handles, by each
//    child (a child holds its parent, so ancestors outlive descendants), and by an armed
//    deadline timer. A CancelNode is a cancellable context (with_cancel/deadline/timeout);
//    a ValueNode (with_value) only carries a value and delegates done/err/deadline to
//    its `anchor`, the nearest CancelNode above it (Go: parentCancelCtx).
//  - A CancelNode lists the CancelNodes whose nearest cancellable ancestor it is in an
//    intrusive doubly-linked list under its lock: *weak* entries. A child leaves the
//    list when it is cancelled (Go: removeChild) or when its last reference goes.
//  - cancel_tree (Go: cancelCtx.cancel): depth-first from an intrusive stack, holding
//    the locks on the path from the cancelled node down to the node being worked on
//    (parent before child, as Go). At each node: detach its children list, taking a
//    reference on each child still alive (one whose count reached zero is being
//    destroyed: nobody can observe it); cancel those children; then — post-order —
//    set the node's err, close its done, delete its timer, unlock. So a node's lock is
//    held until its whole subtree is cancelled: any other canceller, or anyone linking
//    a new child, waits for it, and when any cancel returns its subtree is done; and
//    err() (lock-free) reporting a reason means every descendant is cancelled too.
//    Finding no reason, err() takes the node's lock (as Go's Err always does), so it
//    waits for a cancel in progress: once a descendant's done is closed, every
//    ancestor the same cancel reached reports the reason (Go's order).
//    References are dropped after every lock is released.
//  - Linking a new child (Go: propagateCancel) takes the parent's lock, so a child is
//    either linked before the parent's cancel detaches the list, or sees the parent's
//    err and is cancelled at once with the same reason.
//  - Deadlines (Go: WithDeadline): the timer is armed only if err is still empty, and
//    a small state machine under the node's lock (timer_state) hands its deletion to
//    whoever comes last — the canceller, or the armer if the cancel came while it was
//    in add_timer — so an early cancel always deletes it. add_timer and del_timer run
//    with no context lock held. The timer holds one reference while armed: the one-shot
//    callback drops it after cancelling, or whoever deletes it drops it when del_timer
//    succeeds (exactly one of the two happens; the runtime marks a one-shot timer
//    not-pending before running its callback).
//
// The cost of Go's guarantee: detail::Lock sleeps the *thread* (not just the goroutine,
// as Go's mutex would), so a thread that links under, cancels, or drops a child of a
// node being cancelled waits for that node's subtree to be walked. Walks are
// proportional to the subtree and never block; trees are usually small.
//
// Lock order (HACKING.md's table: Context locks sit with the primitives' locks, after
// a P's timer lock). Per-node `mu`s, parent before child (cancel_tree only); nobody
// takes a parent's lock while holding a child's (unlinking happens after the child's
// lock is released; references are dropped with no lock held). A node's lock is held
// across closing its done channel (that channel's lock, then ready() and so
// sched.lock), never the other way round: nothing holding a channel lock calls into
// contexts. Timer operations (add_timer, del_timer: a P's timer lock) run with no
// context lock held. A node's lock counts in tls_rt.locks like every Lock, so a
// goroutine holding one is not preempted asynchronously; nothing here parks.
#include <goro/core/context.hpp>

#include <goro/core/detail/lock.hpp>
#include <goro/core/detail/timer.hpp>

#include <atomic>
#include <cassert>
#include <limits>
#include <string>

namespace goro {

namespace detail {

namespace {

constexpr std::int64_t kNoDeadline = std::numeric_limits<std::int64_t>::max();

// err values; 0 = not cancelled.
constexpr int kErrNone = 0;
constexpr int kErrCanceled = static_cast<int>(ContextError::kCanceled);
constexpr int kErrDeadline = static_cast<int>(ContextError::kDeadlineExceeded);

// atomic: a debug count of nodes alive (context_live_states). relaxed: a statistic; the
// tests that read it synchronize with the goroutines that changed it by other means
// (WaitGroup, run() returning).
std::atomic<std::int64_t> g_live_states{0};

// A nil channel: background's done().
constinit const Chan<Signal> kNilDone;

}  // namespace

struct CancelNode;

enum class NodeKind : std::uint8_t { kCancel, kValue };

struct ContextNode {
  ContextNode(NodeKind k, ContextNode* p, CancelNode* a) noexcept : kind(k), parent(p), anchor(a) {}

  // atomic: one per handle, child and armed timer; see context_retain/context_release.
  std::atomic<std::int64_t> refs{1};
  const NodeKind kind;
  // Immutable. The parent context (one counted reference), nullptr for background.
  ContextNode* const parent;
  // Immutable. The nearest cancellable context at or above this one (this node itself
  // for a CancelNode); nullptr if none, i.e. this context is never cancelled. Not
  // counted: the parent chain keeps it alive.
  CancelNode* const anchor;
};

// Go: valueCtx.
struct ValueNode final : ContextNode {
  ValueNode(ContextNode* p, const void* k, std::unique_ptr<ContextValueBox> b) noexcept
      : ContextNode(NodeKind::kValue, p, p != nullptr ? p->anchor : nullptr), key(k), box(std::move(b)) {}
  const void* const key;                         // immutable
  const std::unique_ptr<ContextValueBox> box;    // immutable
};

// Go: cancelCtx (+ timerCtx when armed).
struct CancelNode final : ContextNode {
  CancelNode(ContextNode* p, std::int64_t dl)
      : ContextNode(NodeKind::kCancel, p, this),
        link_parent(p != nullptr ? p->anchor : nullptr),
        deadline(dl),
        done(0) {}

  // Immutable: the CancelNode whose children list this one joins (parent's anchor), or
  // nullptr when no ancestor can be cancelled (Go: propagateCancel's `done == nil`).
  CancelNode* const link_parent;
  // Immutable: monotonic ns (nanotime), kNoDeadline if none. Already the minimum over
  // the ancestors: with_deadline never sets a later one than the parent's.
  const std::int64_t deadline;
  // The handle is immutable (read without a lock); the channel is closed once, by the
  // canceller that set err.
  Chan<Signal> done;

  // Owned by this node: guards err's transition, children, pending, timer_state — and,
  // for each node in `children`, that child's sib_prev / sib_next / linked. Held by a
  // canceller from reaching this node until its whole subtree is cancelled.
  Lock mu;
  // atomic: 0 until cancelled, then the reason, never changed again. Stored (release)
  // under mu by the canceller once every descendant is cancelled, just after done is
  // closed; loaded lock-free by err()
  // (acquire: pairs with that store, so whoever sees the reason also sees done closed
  // and everything the canceller did before). Under mu it is read relaxed: the lock
  // orders it.
  std::atomic<int> err{kErrNone};
  CancelNode* children = nullptr;  // guarded by mu: head of the weak children list
  // Guarded by mu: where the deadline timer is (see with_deadline_ns). While not kNone,
  // the timer holds one reference.
  enum class TimerState : std::uint8_t {
    kNone,                  // never armed, fired, or being deleted by a canceller
    kArming,                // with_deadline_ns is in add_timer, outside mu
    kArmed,                 // in a timer heap (or its callback is running)
    kCancelledWhileArming,  // cancelled during kArming: the armer deletes it
  };
  TimerState timer_state = TimerState::kNone;
  // Owned by the canceller that cancelled this node (finish_cancel, which moved
  // timer_state from kArmed to kNone under mu): it calls del_timer once it holds no
  // lock. No other canceller reads it.
  bool stop_timer = false;
  // Guarded by mu, used only by the canceller holding it (cancel_tree): children
  // detached from `children` and not yet cancelled, linked by their work_next.
  CancelNode* pending = nullptr;

  // Guarded by link_parent->mu: this node's entry in its link_parent's children list.
  CancelNode* sib_prev = nullptr;
  CancelNode* sib_next = nullptr;
  bool linked = false;

  // Owned by the canceller that detached this node from link_parent's list (only one
  // can: `linked` goes true -> false once): the link in link_parent's `pending`, then
  // in that canceller's stack, then in one of its lists of references to drop. A walk
  // that starts at this node never touches it.
  CancelNode* work_next = nullptr;

  // The deadline timer; runtime-owned while pending (see goro/core/detail/timer.hpp).
  Timer timer;
};

struct ContextAccess {
  static ContextNode* node(const Context& c) noexcept { return c.n_; }
  static ContextNode* node(const CancelFunc& f) noexcept { return f.n_; }
  static Context adopt_context(ContextNode* n) noexcept { return Context(n); }
  static CancelFunc adopt_cancel(ContextNode* n) noexcept { return CancelFunc(n); }
};

namespace {

void destroy(ContextNode* n) noexcept;

// Takes a reference unless the count already reached zero (the node is being
// destroyed: its destructor is waiting for, or past, our lock). Call with a lock that
// keeps the memory alive: the node's link_parent->mu while it is linked.
bool try_retain(ContextNode* n) noexcept {
  // relaxed: the memory is kept alive by the caller's lock, and taking a reference
  // publishes nothing (as weak_ptr::lock); the CAS only has to be atomic.
  std::int64_t r = n->refs.load(std::memory_order_relaxed);
  while (r != 0) {
    if (n->refs.compare_exchange_weak(r, r + 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

// Removes c from its link_parent's children list if it is still there (Go: removeChild).
void unlink_from_parent(CancelNode* c) noexcept {
  CancelNode* p = c->link_parent;
  if (p == nullptr) return;
  p->mu.lock();
  if (c->linked) {
    if (c->sib_prev != nullptr) {
      c->sib_prev->sib_next = c->sib_next;
    } else {
      p->children = c->sib_next;
    }
    if (c->sib_next != nullptr) c->sib_next->sib_prev = c->sib_prev;
    c->sib_prev = c->sib_next = nullptr;
    c->linked = false;
  }
  p->mu.unlock();
}

// Go: propagateCancel. Links a new, unshared c into its link_parent's children.
// Returns kErrNone, or the parent's reason if it is already cancelled (c not linked).
int link_to_parent(CancelNode* c) noexcept {
  CancelNode* p = c->link_parent;
  if (p == nullptr) return kErrNone;
  p->mu.lock();
  const int e = p->err.load(std::memory_order_relaxed);  // relaxed: under p->mu
  if (e == kErrNone) {
    c->sib_prev = nullptr;
    c->sib_next = p->children;
    if (p->children != nullptr) p->children->sib_prev = c;
    p->children = c;
    c->linked = true;
  }
  p->mu.unlock();
  return e;
}

// Detaches n's children list (n->mu held): every child is unlinked, and each live one,
// with a reference taken, goes on n->pending, to be cancelled before n itself.
void detach_children(CancelNode* n) noexcept {
  CancelNode* c = n->children;
  n->children = nullptr;
  CancelNode* pending = nullptr;
  while (c != nullptr) {
    CancelNode* next = c->sib_next;
    c->sib_prev = c->sib_next = nullptr;
    c->linked = false;
    if (try_retain(c)) {
      c->work_next = pending;
      pending = c;
    }
    c = next;
  }
  n->pending = pending;
}

// The last step of cancelling n, all of whose children are cancelled (n->mu held): close
// done, set the reason, and claim the timer for deletion (del_timer itself is called
// with no lock held: a P's timer lock comes before primitives' locks, HACKING.md).
void finish_cancel(CancelNode* n, int err) noexcept {
  // done first, then the reason (Go's contract both ways): whoever sees the reason
  // lock-free also sees done closed; whoever sees done closed before the reason is
  // stored finds err() at kErrNone, whose slow path waits for mu, held until after the
  // store.
  try {
    // done is never closed elsewhere, unless a user closed a copy against the rules;
    // cancellation must still complete then.
    n->done.close();
  } catch (const ChanClosedError&) {
  }
  // release: pairs with err()'s acquire load (see CancelNode::err).
  n->err.store(err, std::memory_order_release);
  switch (n->timer_state) {
    case CancelNode::TimerState::kArmed:
      n->timer_state = CancelNode::TimerState::kNone;
      n->stop_timer = true;
      break;
    case CancelNode::TimerState::kArming:
      n->timer_state = CancelNode::TimerState::kCancelledWhileArming;
      break;
    default:
      break;
  }
}

// Go: timerCtx.cancel's c.timer.Stop(), for a node whose timer finish_cancel claimed.
// No lock held; the caller holds a reference on n. If del_timer fails, the callback is
// running or about to: it finds n cancelled and drops the timer's reference itself.
void stop_claimed_timer(CancelNode* n) noexcept {
  if (!n->stop_timer) return;
  n->stop_timer = false;
  if (del_timer(&n->timer)) {
    // The timer's reference; never the last one (the caller holds one).
    n->refs.fetch_sub(1, std::memory_order_acq_rel);  // acq_rel: as context_release
  }
}

// Go: cancelCtx.cancel(removeFromParent, err), for a whole subtree, without recursion.
// The caller holds a reference on root.
//
// As Go's, it holds each node's lock from the moment it reaches the node until the
// node's whole subtree is cancelled, taking a child's lock while holding its parent's
// (lock order: parent before child). So another canceller of any node in the subtree,
// and anyone linking a new child under one, waits until that node's subtree is done:
// when any cancel returns, the subtree is cancelled. The walk is depth-first from an
// intrusive stack; each node's reason is set (and done closed) after its children's,
// so err() reporting a reason also means every descendant is cancelled. References
// taken on children are dropped only once every lock is released: dropping the last
// one unlinks the child, which takes its parent's lock.
void cancel_tree(CancelNode* root, int err, bool remove_from_parent) noexcept {
  root->mu.lock();
  if (root->err.load(std::memory_order_relaxed) != kErrNone) {  // relaxed: under mu
    root->mu.unlock();  // already cancelled, subtree and all (see above)
    return;
  }
  detach_children(root);
  // Locked nodes below root, deepest first, linked by work_next (root's own work_next
  // is not ours: a parent's canceller may have root on its pending list right now).
  CancelNode* stack = nullptr;
  // References to drop at the end, linked by work_next: nodes we cancelled (whose timer
  // claim, stop_timer, is ours to act on), and nodes someone else had cancelled first
  // (whose stop_timer belongs to that canceller: we must not even read it).
  CancelNode* finished = nullptr;
  CancelNode* skipped = nullptr;
  for (;;) {
    CancelNode* top = stack != nullptr ? stack : root;
    if (CancelNode* c = top->pending) {
      top->pending = c->work_next;
      c->mu.lock();  // its parent, top, is held
      if (c->err.load(std::memory_order_relaxed) != kErrNone) {  // relaxed: under mu
        // Cancelled (subtree and all) before we got here; its canceller may be
        // waiting for top's lock to unlink it.
        c->mu.unlock();
        c->work_next = skipped;
        skipped = c;
        continue;
      }
      detach_children(c);
      c->work_next = stack;
      stack = c;
      continue;
    }
    // Every child of top is cancelled: now top itself.
    finish_cancel(top, err);
    top->mu.unlock();
    if (top == root) break;
    stack = top->work_next;
    top->work_next = finished;
    finished = top;
  }
  stop_claimed_timer(root);
  if (remove_from_parent) unlink_from_parent(root);  // Go: removeChild
  while (finished != nullptr) {
    CancelNode* c = finished;
    finished = c->work_next;
    c->work_next = nullptr;
    stop_claimed_timer(c);
    context_release(c);  // the reference detach_children took
  }
  while (skipped != nullptr) {
    CancelNode* c = skipped;
    skipped = c->work_next;
    c->work_next = nullptr;
    context_release(c);  // the reference detach_children took
  }
}

// The deadline timer's callback: on a scheduler thread, outside any goroutine, no lock
// held (goro/core/detail/timer.hpp). Non-blocking: locks held briefly, a channel close.
void fire_deadline(void* arg, std::uintptr_t) noexcept {
  auto* n = static_cast<CancelNode*>(arg);
  cancel_tree(n, kErrDeadline, true);
  context_release(n);  // the armed reference
}

// Frees n, whose count reached zero; does not release n's parent (the caller does).
void destroy(ContextNode* n) noexcept {
  if (n->kind == NodeKind::kCancel) {
    auto* c = static_cast<CancelNode*>(n);
    // No timer can be pending: an armed timer holds a reference. A canceller that
    // detached c from its parent held a reference too, so `linked` is settled unless
    // a canceller's try_retain is racing with us, which skips us.
    unlink_from_parent(c);
    delete c;
  } else {
    delete static_cast<ValueNode*>(n);
  }
  g_live_states.fetch_sub(1, std::memory_order_relaxed);  // relaxed: see g_live_states
}

CancelNode* as_cancel(ContextNode* n) noexcept {
  assert(n == nullptr || n->kind == NodeKind::kCancel);
  return static_cast<CancelNode*>(n);
}

std::int64_t parent_deadline(const ContextNode* pn) noexcept {
  return pn != nullptr && pn->anchor != nullptr ? pn->anchor->deadline : kNoDeadline;
}

// Go: withCancel + the start of WithDeadlineCause. Makes c under parent, linked (or
// cancelled at once if the parent is), and returns the handles.
ContextWithCancel make_cancel_node(ContextNode* pn, std::int64_t deadline, CancelNode** out) {
  auto* c = new CancelNode(pn, deadline);
  g_live_states.fetch_add(1, std::memory_order_relaxed);  // relaxed: see g_live_states
  context_retain(pn);  // the child's reference on its parent
  // The handles: Context adopts the initial reference, CancelFunc takes another.
  c->refs.fetch_add(1, std::memory_order_relaxed);  // relaxed: c is not shared yet
  ContextWithCancel r{ContextAccess::adopt_context(c), ContextAccess::adopt_cancel(c)};
  const int e = link_to_parent(c);
  if (e != kErrNone) cancel_tree(c, e, false);  // Go: child.cancel(false, parent.Err(), ...)
  *out = c;
  return r;
}

std::int64_t saturating_add(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? kNoDeadline : std::numeric_limits<std::int64_t>::min();
  return r;
}

// Go: WithDeadlineCause.
ContextWithCancel with_deadline_ns(const Context& parent, std::int64_t when) {
  ContextNode* pn = ContextAccess::node(parent);
  const std::int64_t pd = parent_deadline(pn);
  CancelNode* c = nullptr;
  if (pd <= when) return make_cancel_node(pn, pd, &c);  // the parent's deadline comes first
  ContextWithCancel r = make_cancel_node(pn, when, &c);
  if (when <= nanotime()) {
    cancel_tree(c, kErrDeadline, true);  // already past
    return r;
  }
  // Arm the timer unless c is already cancelled, with add_timer outside c->mu (lock
  // order). A cancel that comes while we are in add_timer finds kArming and leaves the
  // deletion to us; one that comes later finds kArmed and deletes it itself.
  using TS = CancelNode::TimerState;
  c->mu.lock();
  const bool arm = c->err.load(std::memory_order_relaxed) == kErrNone;  // relaxed: under mu
  if (arm) {
    c->refs.fetch_add(1, std::memory_order_relaxed);  // the timer's reference; relaxed: we hold one
    c->timer_state = TS::kArming;
    c->timer.when = when;
    c->timer.period = 0;
    c->timer.fn = &fire_deadline;
    c->timer.arg = c;
  }
  c->mu.unlock();
  if (!arm) return r;
  add_timer(&c->timer);
  c->mu.lock();
  const bool cancelled = c->timer_state == TS::kCancelledWhileArming;
  c->timer_state = cancelled ? TS::kNone : TS::kArmed;
  c->mu.unlock();
  if (cancelled && del_timer(&c->timer)) {
    // The timer's reference; not the last one (r holds two).
    c->refs.fetch_sub(1, std::memory_order_acq_rel);  // acq_rel: as context_release
  }
  return r;
}

class ContextCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "goro.context"; }
  std::string message(int ev) const override {
    switch (ev) {
      case kErrCanceled: return "context canceled";
      case kErrDeadline: return "context deadline exceeded";
      default: return "unknown context error";
    }
  }
  std::error_condition default_error_condition(int ev) const noexcept override {
    switch (ev) {
      case kErrCanceled: return std::make_error_condition(std::errc::operation_canceled);
      case kErrDeadline: return std::make_error_condition(std::errc::timed_out);
      default: return std::error_condition(ev, *this);
    }
  }
};

}  // namespace

void context_retain(ContextNode* n) noexcept {
  // relaxed: the caller already holds a reference, so n cannot die meanwhile; only the
  // count's atomicity matters (the shared_ptr argument).
  if (n != nullptr) n->refs.fetch_add(1, std::memory_order_relaxed);
}

void context_release(ContextNode* n) noexcept {
  // A loop, not recursion: freeing a node releases its parent, and chains can be long.
  // acq_rel: release publishes this holder's uses of the node to whoever frees it;
  // acquire (on the last decrement) makes every other holder's uses visible first.
  while (n != nullptr && n->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    ContextNode* parent = n->parent;
    destroy(n);
    n = parent;
  }
}

const ContextValueBox* context_value(const ContextNode* n, const void* key) noexcept {
  // Go: value(). The chain is immutable: no lock.
  for (; n != nullptr; n = n->parent) {
    if (n->kind == NodeKind::kValue) {
      const auto* v = static_cast<const ValueNode*>(n);
      if (v->key == key) return v->box.get();
    }
  }
  return nullptr;
}

Context context_with_value(const Context& parent, const void* key,
                           std::unique_ptr<ContextValueBox> box) {
  ContextNode* pn = ContextAccess::node(parent);
  auto* v = new ValueNode(pn, key, std::move(box));
  g_live_states.fetch_add(1, std::memory_order_relaxed);  // relaxed: see g_live_states
  context_retain(pn);
  return ContextAccess::adopt_context(v);
}

std::int64_t context_live_states() noexcept {
  return g_live_states.load(std::memory_order_relaxed);  // relaxed: see g_live_states
}

std::size_t context_child_count(const Context& ctx) noexcept {
  ContextNode* n = ContextAccess::node(ctx);
  if (n == nullptr || n->anchor == nullptr) return 0;
  CancelNode* a = n->anchor;
  std::size_t k = 0;
  a->mu.lock();
  for (CancelNode* c = a->children; c != nullptr; c = c->sib_next) ++k;
  a->mu.unlock();
  return k;
}

bool context_timer_pending(const Context& ctx) noexcept {
  ContextNode* n = ContextAccess::node(ctx);
  if (n == nullptr || n->anchor == nullptr) return false;
  // acquire: as del_timer's load of owner (the runtime's release store on insertion).
  return n->anchor->timer.owner.load(std::memory_order_acquire) != nullptr;
}

}  // namespace detail

const std::error_category& context_category() noexcept {
  static const detail::ContextCategory category;
  return category;
}

Chan<Signal> Context::done() const noexcept {
  if (n_ == nullptr || n_->anchor == nullptr) return detail::kNilDone;
  return n_->anchor->done;
}

std::error_code Context::err() const noexcept {
  if (n_ == nullptr || n_->anchor == nullptr) return {};
  detail::CancelNode* a = n_->anchor;
  // acquire: pairs with finish_cancel's release store (see CancelNode::err).
  int e = a->err.load(std::memory_order_acquire);
  if (e == detail::kErrNone) {
    // Not cancelled, or being cancelled right now: a canceller sets a node's reason
    // only after its subtree's (so a reason seen here means every descendant is done),
    // and holds the node's lock from before it closes the first descendant's done. Go's
    // Err takes the lock: so does this slow path, so that whoever saw a descendant's
    // done closed by this cancel then sees our reason too (Go: a child is done only
    // after its parent's Err is set).
    a->mu.lock();
    e = a->err.load(std::memory_order_relaxed);  // relaxed: under mu
    a->mu.unlock();
    if (e == detail::kErrNone) return {};
  }
  return make_error_code(static_cast<ContextError>(e));
}

std::optional<Clock::time_point> Context::deadline() const noexcept {
  const std::int64_t d = detail::parent_deadline(n_);
  if (d == detail::kNoDeadline) return std::nullopt;
  return detail::from_nanotime(d);
}

void CancelFunc::operator()() const noexcept {
  if (n_ != nullptr) detail::cancel_tree(detail::as_cancel(n_), detail::kErrCanceled, true);
}

ContextWithCancel with_cancel(const Context& parent) {
  detail::ContextNode* pn = detail::ContextAccess::node(parent);
  detail::CancelNode* c = nullptr;
  return detail::make_cancel_node(pn, detail::parent_deadline(pn), &c);
}

ContextWithCancel with_deadline(const Context& parent, Clock::time_point deadline) {
  return detail::with_deadline_ns(parent, detail::to_nanotime(deadline));
}

ContextWithCancel with_timeout(const Context& parent, Duration timeout) {
  return detail::with_deadline_ns(parent, detail::saturating_add(detail::nanotime(), timeout.count()));
}

}  // namespace goro

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
//
// Chosen, as Go's cancelCtx but with reference counts:
//  - Every context is a ContextNode, counted by its Context/CancelFunc handles, by each
//    child (a child holds its parent, so ancestors outlive descendants), and by an armed
//    deadline timer. A CancelNode is a cancellable context (with_cancel/deadline/timeout);
//    a ValueNode (with_value) only carries a value and delegates done/err/deadline to
//    its `anchor`, the nearest CancelNode above it (Go: parentCancelCtx).
//  - A CancelNode lists its live cancellable descendants whose anchor-parent it is in an
//    intrusive doubly-linked list under its lock — *weak* entries. A child leaves the
//    list when it is cancelled (Go: removeChild) or when its last reference goes.
//  - cancel (Go: cancelCtx.cancel): under the node's lock, set err (first reason wins),
//    detach the whole children list, taking a reference on each child that is still
//    alive; unlock; close done; delete the timer; then cancel each detached child the
//    same way, from an intrusive work stack (no allocation, no recursion). A child whose
//    count already reached zero is skipped: it is being destroyed, nobody can observe it.
//  - Linking a new child (Go: propagateCancel) and cancelling both happen under the
//    parent's lock, so a child is either linked before the parent's cancel detaches the
//    list, or sees the parent's err and is cancelled at once.
//  - Deadlines (Go: WithDeadline): the timer is armed under the node's own lock only if
//    err is still empty, and cancel reads-and-clears `armed` under that lock, so an
//    early cancel always finds — and deletes — an armed timer. The timer holds one
//    reference while armed: the one-shot callback drops it after cancelling, or the
//    canceller drops it when del_timer succeeds (exactly one of the two happens; the
//    runtime marks a one-shot timer not-pending before running its callback).
//
// Lock order. The only locks here are the per-node `mu`s. No code holds two of them at
// once. mu is held across add_timer (which takes a P's timer lock; a one-shot timer
// callback runs with no P timer lock held and takes mu only briefly, so there is no
// cycle), and never across anything that may park, preempt or run a timer: closing
// done and del_timer happen after unlocking.
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

  // Owned by this node: guards err's transition, children, armed — and, for each node
  // in `children`, that child's sib_prev / sib_next / linked.
  Lock mu;
  // atomic: 0 until cancelled, then the reason, never changed again. Stored (release)
  // under mu by the first canceller, before done is closed; loaded lock-free by err()
  // (acquire: pairs with that store, so whoever sees the reason also sees everything
  // the canceller did before cancelling; done's close orders the rest). Under mu it is
  // read relaxed: the lock orders it.
  std::atomic<int> err{kErrNone};
  CancelNode* children = nullptr;  // guarded by mu: head of the weak children list
  bool armed = false;              // guarded by mu: the timer holds a reference and may be pending

  // Guarded by link_parent->mu: this node's entry in its link_parent's children list.
  CancelNode* sib_prev = nullptr;
  CancelNode* sib_next = nullptr;
  bool linked = false;

  // Owned by the canceller that detached this node from link_parent's list (only one
  // can: `linked` goes true -> false once): the next node on its work stack.
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

// One node's share of Go's cancelCtx.cancel: set the reason, detach the children
// (pushing each live one, with a reference, on *work), close done, delete the timer.
// Returns false if n was already cancelled. The caller holds a reference on n.
bool cancel_one(CancelNode* n, int err, CancelNode** work) noexcept {
  n->mu.lock();
  if (n->err.load(std::memory_order_relaxed) != kErrNone) {  // relaxed: under mu
    n->mu.unlock();
    return false;
  }
  // release: pairs with err()'s acquire load (see CancelNode::err).
  n->err.store(err, std::memory_order_release);
  CancelNode* c = n->children;
  n->children = nullptr;
  while (c != nullptr) {
    CancelNode* next = c->sib_next;
    c->sib_prev = c->sib_next = nullptr;
    c->linked = false;
    if (try_retain(c)) {
      c->work_next = *work;
      *work = c;
    }
    c = next;
  }
  const bool armed = n->armed;
  n->armed = false;
  n->mu.unlock();

  try {
    // done is never closed elsewhere, unless a user closed a copy against the rules;
    // cancellation must still complete then.
    n->done.close();
  } catch (const ChanClosedError&) {
  }
  // Go: timerCtx.cancel's c.timer.Stop(). If del_timer fails, the callback is running
  // or about to: it finds n cancelled and drops the timer's reference itself.
  if (armed && del_timer(&n->timer)) {
    // The timer's reference; never the last one (the caller holds one).
    n->refs.fetch_sub(1, std::memory_order_acq_rel);  // acq_rel: as context_release
  }
  return true;
}

// Go: cancelCtx.cancel(removeFromParent, err), for a whole subtree, without recursion.
// The caller holds a reference on root.
void cancel_tree(CancelNode* root, int err, bool remove_from_parent) noexcept {
  CancelNode* work = nullptr;
  if (!cancel_one(root, err, &work)) return;  // already cancelled: its children went then
  if (remove_from_parent) unlink_from_parent(root);
  while (work != nullptr) {
    CancelNode* c = work;
    work = c->work_next;
    c->work_next = nullptr;
    cancel_one(c, err, &work);  // its children, detached above, need no unlinking
    context_release(c);         // the reference try_retain took
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
  c->mu.lock();
  if (c->err.load(std::memory_order_relaxed) == kErrNone) {  // relaxed: under mu
    c->refs.fetch_add(1, std::memory_order_relaxed);  // the armed reference; relaxed: we hold one
    c->armed = true;
    c->timer.when = when;
    c->timer.period = 0;
    c->timer.fn = &fire_deadline;
    c->timer.arg = c;
    add_timer(&c->timer);
  }
  c->mu.unlock();
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
  // acquire: pairs with cancel_one's release store (see CancelNode::err).
  const int e = n_->anchor->err.load(std::memory_order_acquire);
  if (e == detail::kErrNone) return {};
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

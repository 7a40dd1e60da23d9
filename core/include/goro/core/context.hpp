// goro/core/context.hpp — cancellation trees, deadlines and request-scoped values (Go's
// package context).
//
//   void handle(const goro::Context& ctx, goro::Chan<Job> jobs) {
//     auto [sub, cancel] = goro::with_timeout(ctx, 100ms);   // Go: context.WithTimeout
//     for (;;) {
//       bool stop = false;
//       goro::select(goro::recv(jobs, [&](std::optional<Job> j) { if (j) run(*j); else stop = true; }),
//                    goro::recv(sub.done(), [&] { stop = true; }));
//       if (stop) break;
//     }
//     cancel();                                             // Go: defer cancel()
//     if (sub.err() == goro::ContextError::kDeadlineExceeded) ...
//   }
//
// Semantics follow Go's:
//  - A Context is a cheap-to-copy handle (one reference count) on immutable-once-made,
//    shared state. A default-constructed Context is background(): never cancelled, no
//    deadline, no values, and its done() is a nil channel (never ready in a select).
//  - with_cancel / with_timeout / with_deadline derive a child and return it with a
//    CancelFunc. Cancelling a context cancels all its descendants, with the same reason;
//    a child made from an already-cancelled parent is cancelled at once; cancel is
//    idempotent, the first reason sticks; a child cancelled on its own leaves its parent
//    at once (nothing accumulates under a long-lived parent).
//  - When a CancelFunc call returns, the context and every descendant are cancelled,
//    even if another cancellation (a timer, an ancestor's) was already under way: it
//    waits for that one to finish. A context's reason is set, and its done() closed,
//    only after all its descendants' are (so err() non-empty implies the same below).
//  - done() is a channel closed when the context is cancelled; err() is non-zero
//    exactly when done() is closed, seen from any goroutine. Receive from it
//    (goro::recv(ctx.done()) in a select, or ctx.done().recv()); never send on it or
//    close it.
//  - err() is a std::error_code: empty while the context lives, then ContextError::
//    kCanceled (a cancel function was called, here or on an ancestor) or
//    ContextError::kDeadlineExceeded (a deadline passed, here or on an ancestor). The
//    codes also compare equal to std::errc::operation_canceled and std::errc::timed_out.
//  - deadline() is the earliest deadline of the context and its ancestors.
//    with_deadline(parent, t) with a parent deadline no later than t adds none of its own
//    (Go does the same). A deadline already past cancels the child at once.
//  - A timeout's runtime timer is deleted as soon as the context is cancelled early.
//
// Unlike Go, calling the CancelFunc is optional: when the last Context, CancelFunc and
// (for a timeout) armed timer referring to a context are gone, it leaves its parent by
// itself. Cancelling still matters for what waits on done(): call it when the work is
// over, as Go's `defer cancel()` does. Caveat: a copy of done() kept after every handle
// of its context is gone is closed only if the context's timer fires; keep the Context.
//
// Values (Go: context.WithValue): a typed key whose identity is its address.
//   inline const goro::ContextKey<std::string> kRequestId;
//   goro::Context c = goro::with_value(ctx, kRequestId, std::string("r-42"));
//   if (const std::string* id = c.value(kRequestId)) ...   // nullptr if absent
// A value is found on the context it was attached to and on every descendant; the
// nearest one wins. The pointer stays valid while a handle on that context lives.
//
// Threads: every operation is safe from any goroutine, concurrently. CancelFunc and the
// accessors also work from threads outside the runtime while it runs; with_timeout and
// with_deadline arm a runtime timer, so they need the runtime to be running.
// Cancelling runs the whole subtree's cancellation on the calling thread (or, for a
// deadline, on the scheduler thread whose timer fired): it never parks, but takes time
// proportional to the number of descendants, during which threads touching that
// subtree (cancelling, deriving, dropping) wait. See core/src/context.cpp for the story.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>

#include <goro/core/chan.hpp>
#include <goro/core/time.hpp>

namespace goro {

// Why a context was cancelled: the values of its err().
enum class ContextError : int {
  kCanceled = 1,          // Go: context.Canceled ("context canceled")
  kDeadlineExceeded = 2,  // Go: context.DeadlineExceeded ("context deadline exceeded")
};

// The category of ContextError codes, named "goro.context".
const std::error_category& context_category() noexcept;

inline std::error_code make_error_code(ContextError e) noexcept {
  return std::error_code(static_cast<int>(e), context_category());
}

}  // namespace goro

template <>
struct std::is_error_code_enum<goro::ContextError> : std::true_type {};

namespace goro {

// The element type of a done() channel: carries nothing (Go's struct{}).
struct Signal {};

// A key for with_value / Context::value. Its identity is its address, so declare each
// key once (a namespace-scope `inline const` object, or a static); T is the value type.
template <class T>
class ContextKey {
 public:
  constexpr ContextKey() noexcept = default;
  ContextKey(const ContextKey&) = delete;
  ContextKey& operator=(const ContextKey&) = delete;
};

class Context;
class CancelFunc;

namespace detail {

struct ContextNode;    // shared state, defined in core/src/context.cpp
struct ContextAccess;  // context.cpp's view of handles

void context_retain(ContextNode* n) noexcept;
void context_release(ContextNode* n) noexcept;

// Type-erased storage of a with_value value.
struct ContextValueBox {
  virtual ~ContextValueBox() = default;
};
template <class T>
struct ContextValue final : ContextValueBox {
  template <class U>
  explicit ContextValue(U&& u) : value(std::forward<U>(u)) {}
  const T value;
};

// The box stored under key on n or its nearest ancestor that has one; nullptr if none.
const ContextValueBox* context_value(const ContextNode* n, const void* key) noexcept;
Context context_with_value(const Context& parent, const void* key,
                           std::unique_ptr<ContextValueBox> box);

// Testing and debugging (Go's export_test.go idea): context states alive in the process,
// the registered children of ctx's nearest cancellable context, and whether ctx's
// deadline timer is armed in a timer heap.
std::int64_t context_live_states() noexcept;
std::size_t context_child_count(const Context& ctx) noexcept;
bool context_timer_pending(const Context& ctx) noexcept;

}  // namespace detail

// A node of the cancellation tree; see the top of this file. Copies share the node.
class Context {
 public:
  // background(): never cancelled.
  Context() noexcept = default;
  Context(const Context& o) noexcept : n_(o.n_) { detail::context_retain(n_); }
  Context(Context&& o) noexcept : n_(std::exchange(o.n_, nullptr)) {}
  Context& operator=(const Context& o) noexcept {
    detail::context_retain(o.n_);
    detail::context_release(std::exchange(n_, o.n_));
    return *this;
  }
  Context& operator=(Context&& o) noexcept {
    if (this != &o) detail::context_release(std::exchange(n_, std::exchange(o.n_, nullptr)));
    return *this;
  }
  ~Context() { detail::context_release(n_); }

  // A handle on the channel closed when this context is cancelled (a reference-count
  // increment); a nil channel for contexts that can never be cancelled (background()
  // and values on it). Every call returns the same channel.
  Chan<Signal> done() const noexcept;
  // Empty until done() is closed; then why (ContextError).
  std::error_code err() const noexcept;
  // The earliest deadline of this context and its ancestors, if any.
  std::optional<Clock::time_point> deadline() const noexcept;

  // The value stored under key here or on the nearest ancestor that has one; nullptr if
  // none. Valid while a handle on this context lives.
  template <class T>
  const T* value(const ContextKey<T>& key) const noexcept {
    const detail::ContextValueBox* b = detail::context_value(n_, &key);
    return b != nullptr ? &static_cast<const detail::ContextValue<T>*>(b)->value : nullptr;
  }

  // Identity: copies of one context compare equal.
  friend bool operator==(const Context& a, const Context& b) noexcept { return a.n_ == b.n_; }

 private:
  friend struct detail::ContextAccess;
  explicit Context(detail::ContextNode* n) noexcept : n_(n) {}  // adopts one reference
  detail::ContextNode* n_ = nullptr;  // nullptr: background; else one counted reference
};

// Cancels the context it was returned with (Go: context.CancelFunc): its done() closes,
// its err() becomes kCanceled, every descendant follows, its timer (if any) is deleted
// and it leaves its parent. Idempotent; safe from any thread, concurrently. Copies
// cancel the same context; a default-constructed CancelFunc does nothing.
class CancelFunc {
 public:
  CancelFunc() noexcept = default;
  CancelFunc(const CancelFunc& o) noexcept : n_(o.n_) { detail::context_retain(n_); }
  CancelFunc(CancelFunc&& o) noexcept : n_(std::exchange(o.n_, nullptr)) {}
  CancelFunc& operator=(const CancelFunc& o) noexcept {
    detail::context_retain(o.n_);
    detail::context_release(std::exchange(n_, o.n_));
    return *this;
  }
  CancelFunc& operator=(CancelFunc&& o) noexcept {
    if (this != &o) detail::context_release(std::exchange(n_, std::exchange(o.n_, nullptr)));
    return *this;
  }
  ~CancelFunc() { detail::context_release(n_); }

  void operator()() const noexcept;
  explicit operator bool() const noexcept { return n_ != nullptr; }

 private:
  friend struct detail::ContextAccess;
  explicit CancelFunc(detail::ContextNode* n) noexcept : n_(n) {}  // adopts one reference
  detail::ContextNode* n_ = nullptr;  // a cancellable node (one counted reference), or nullptr
};

// What with_cancel, with_timeout and with_deadline return:
//   auto [ctx, cancel] = goro::with_cancel(parent);
struct ContextWithCancel {
  Context ctx;
  CancelFunc cancel;
};

// The root of every tree: never cancelled, no deadline, no values (Go: context.Background).
inline Context background() noexcept { return Context(); }

// A child cancelled by cancel() or with its parent (Go: context.WithCancel).
[[nodiscard]] ContextWithCancel with_cancel(const Context& parent);

// A child also cancelled, with kDeadlineExceeded, at `deadline` (Go: context.WithDeadline).
// Clock::time_point::max() means no deadline (and a timeout that overflows saturates to it).
[[nodiscard]] ContextWithCancel with_deadline(const Context& parent, Clock::time_point deadline);

// with_deadline(parent, now + timeout) (Go: context.WithTimeout).
[[nodiscard]] ContextWithCancel with_timeout(const Context& parent, Duration timeout);

// A child carrying value under key; cancelled exactly when parent is
// (Go: context.WithValue). U must convert to T.
template <class T, class U>
[[nodiscard]] Context with_value(const Context& parent, const ContextKey<T>& key, U&& value) {
  static_assert(std::is_constructible_v<T, U&&>, "goro::with_value: value does not convert to T");
  return detail::context_with_value(
      parent, &key, std::make_unique<detail::ContextValue<T>>(std::forward<U>(value)));
}

}  // namespace goro

// goro/core/select.hpp — Go's select statement: wait on several channel operations.
//
//   std::size_t i = goro::select(
//       goro::recv(jobs, [&](std::optional<Job> j) { if (j) run(*j); }),  // case j, ok := <-jobs
//       goro::send(results, r, [&] { ++sent; }),                          // case results <- r
//       goro::recv(ctx_done),                                             // case <-done
//       goro::default_case([] { idle(); }));                              // default
//
// Exactly one case runs: a ready one chosen uniformly at random when several are ready
// (Go's rule), else — without a default — the first to become ready; with a default and
// nothing ready, the default. select() returns the position of the case that ran (0-based,
// in argument order, the default included) and then calls that case's handler, after
// every channel lock is released, on the calling goroutine.
//
// Cases:
//   goro::recv(ch)                      receive and drop the value
//   goro::recv(ch, fn)                  fn(std::optional<T>): the value, or nullopt if
//                                       ch is closed; or fn() to ignore the value
//   goro::send(ch, value)               send (value is converted to T when the case is made)
//   goro::send(ch, value, fn)           ... and then fn()
//   goro::default_case(), default_case(fn)
// A nil channel's case is never ready (Go's idiom for switching a case off). A send case
// on a closed channel throws ChanClosedError when the select reaches it, as Go panics.
// goro::select() with no cases blocks forever (Go: select {}).
//
// Make cases inside the select(...) call: a case made from an lvalue Chan refers to it
// (the Chan must outlive the select); one made from an rvalue Chan owns it.
//
// goro::Select is the runtime-sized form (Go's reflect.Select), for a number of cases
// known only at run time:
//   goro::Select sel;
//   for (auto& in : inputs) sel.recv(in, [&](std::optional<int> v) { ... });
//   std::size_t i = sel.run();   // may be called again: the cases stay armed
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include <goro/core/chan.hpp>
#include <goro/core/detail/chan_core.hpp>

namespace goro {

namespace detail {

struct NoHandler {
  void operator()() const noexcept {}
};

template <class>
inline constexpr bool kDependentFalse = false;

template <class C>
struct IsChan : std::false_type {};
template <class T>
struct IsChan<Chan<T>> : std::true_type {};
template <class C>
concept AnyChan = IsChan<std::remove_cvref_t<C>>::value;

// A case made from an lvalue Chan refers to it; from an rvalue, owns it (no refcount
// traffic either way).
template <class C>
using ChanHolder =
    std::conditional_t<std::is_lvalue_reference_v<C>, const std::remove_cvref_t<C>&,
                       std::remove_cvref_t<C>>;

template <class T, class Holder, class F>
class RecvCase {
 public:
  template <class C, class G>
  RecvCase(C&& ch, G&& fn) : ch_(std::forward<C>(ch)), fn_(std::forward<G>(fn)) {}
  RecvCase(const RecvCase&) = delete;
  RecvCase& operator=(const RecvCase&) = delete;

  Scase scase() noexcept { return Scase{ChanAccess::header(ch_), slot_.raw(), false}; }
  // Called once, for the chosen case, with the locks released.
  void complete(bool ok) {
    std::optional<T> v;
    if (ok) {
      v.emplace(std::move(*slot_.get()));
      slot_.destroy();
    }
    if constexpr (std::is_invocable_v<F&, std::optional<T>&&>) {
      std::invoke(fn_, std::move(v));
    } else if constexpr (std::is_invocable_v<F&>) {
      std::invoke(fn_);
    } else {
      static_assert(kDependentFalse<F>,
                    "goro::recv handler must be callable with std::optional<T> or with nothing");
    }
  }

 private:
  Holder ch_;
  F fn_;
  RawSlot<T> slot_;  // selectgo constructs the received T here when this case wins
};

template <class T, class Holder, class F>
class SendCase {
 public:
  template <class C, class U, class G>
  SendCase(C&& ch, U&& v, G&& fn)
      : ch_(std::forward<C>(ch)), value_(std::forward<U>(v)), fn_(std::forward<G>(fn)) {}
  SendCase(const SendCase&) = delete;
  SendCase& operator=(const SendCase&) = delete;

  Scase scase() noexcept { return Scase{ChanAccess::header(ch_), &value_, true}; }
  void complete(bool) {
    static_assert(std::is_invocable_v<F&>, "goro::send handler must be callable with nothing");
    std::invoke(fn_);
  }

 private:
  Holder ch_;
  T value_;  // moved from by the channel if this case wins
  F fn_;
};

template <class F>
class DefaultCase {
 public:
  template <class G>
  explicit DefaultCase(G&& fn) : fn_(std::forward<G>(fn)) {}
  void complete() {
    static_assert(std::is_invocable_v<F&>, "goro::default_case handler must take nothing");
    std::invoke(fn_);
  }

 private:
  F fn_;
};

template <class>
struct IsCase : std::false_type {};
template <class T, class H, class F>
struct IsCase<RecvCase<T, H, F>> : std::true_type {};
template <class T, class H, class F>
struct IsCase<SendCase<T, H, F>> : std::true_type {};
template <class F>
struct IsCase<DefaultCase<F>> : std::true_type {};

template <class>
inline constexpr bool kIsDefault = false;
template <class F>
inline constexpr bool kIsDefault<DefaultCase<F>> = true;

// Position of each select() argument among the channel cases (-1: the default).
template <class... Cases>
constexpr std::array<std::ptrdiff_t, sizeof...(Cases)> case_indices() {
  constexpr bool kDef[] = {kIsDefault<Cases>..., false};
  std::array<std::ptrdiff_t, sizeof...(Cases)> a{};
  std::ptrdiff_t k = 0;
  for (std::size_t i = 0; i < sizeof...(Cases); ++i) a[i] = kDef[i] ? -1 : k++;
  return a;
}

template <std::size_t... I, class... Cases>
std::size_t select_impl(std::index_sequence<I...>, Cases&... cases) {
  constexpr std::size_t kDefaults = (std::size_t{kIsDefault<std::remove_cv_t<Cases>>} + ... + 0);
  static_assert(kDefaults <= 1, "goro::select: at most one default_case");
  constexpr std::size_t kChans = sizeof...(Cases) - kDefaults;
  [[maybe_unused]] constexpr std::array<std::ptrdiff_t, sizeof...(Cases)> kIndex =
      case_indices<std::remove_cv_t<Cases>...>();

  std::array<Scase, kChans> sc{};
  (
      [&] {
        if constexpr (!kIsDefault<std::remove_cv_t<Cases>>) sc[kIndex[I]] = cases.scase();
      }(),
      ...);
  [[maybe_unused]] const SelectResult r = selectgo(sc.data(), kChans, kDefaults == 0);
  std::size_t chosen = 0;
  (
      [&] {
        if constexpr (kIsDefault<std::remove_cv_t<Cases>>) {
          if (r.index < 0) {
            chosen = I;
            cases.complete();
          }
        } else {
          if (r.index == kIndex[I]) {
            chosen = I;
            cases.complete(r.recv_ok);
          }
        }
      }(),
      ...);
  return chosen;
}

}  // namespace detail

// case v, ok := <-ch: fn(std::optional<T>) (nullopt: closed), or fn() to drop the value.
template <detail::AnyChan C, class F = detail::NoHandler>
auto recv(C&& ch, F&& fn = F{}) {
  using T = typename std::remove_cvref_t<C>::value_type;
  return detail::RecvCase<T, detail::ChanHolder<C>, std::decay_t<F>>(std::forward<C>(ch),
                                                                       std::forward<F>(fn));
}

// case ch <- value: then fn().
template <detail::AnyChan C, class U, class F = detail::NoHandler>
auto send(C&& ch, U&& value, F&& fn = F{}) {
  using T = typename std::remove_cvref_t<C>::value_type;
  static_assert(std::is_constructible_v<T, U&&>, "goro::send: value is not convertible to T");
  return detail::SendCase<T, detail::ChanHolder<C>, std::decay_t<F>>(
      std::forward<C>(ch), std::forward<U>(value), std::forward<F>(fn));
}

// default: fn(). Makes the select non-blocking.
template <class F = detail::NoHandler>
auto default_case(F&& fn = F{}) {
  return detail::DefaultCase<std::decay_t<F>>(std::forward<F>(fn));
}

// Go's select statement; see the top of this file. Returns the position of the case that
// ran, in argument order.
template <class... Cases>
std::size_t select(Cases&&... cases) {
  static_assert((detail::IsCase<std::remove_cvref_t<Cases>>::value && ...),
                "goro::select takes goro::recv(...), goro::send(...) and goro::default_case(...)");
  return detail::select_impl(std::index_sequence_for<Cases...>{}, cases...);
}

// A select whose cases are added at run time (Go: reflect.Select). Case indices count
// from 0 in the order added, the default included. run() may be called repeatedly:
// receive cases stay armed; a send case that fired is disabled (it sent its value),
// as is any case passed to disable() — a disabled case acts as a nil channel, which is
// Go's idiom for switching a case off (`ch = nil`). Not thread-safe: one goroutine owns it.
class Select {
 public:
  Select() = default;
  Select(Select&&) noexcept = default;
  Select& operator=(Select&&) noexcept = default;

  template <class T, class F = detail::NoHandler>
  std::size_t recv(Chan<T> ch, F&& fn = F{}) {
    return add(std::make_unique<Dyn<detail::RecvCase<T, Chan<T>, std::decay_t<F>>>>(
        false, std::move(ch), std::forward<F>(fn)));
  }

  template <class T, class U, class F = detail::NoHandler>
  std::size_t send(Chan<T> ch, U&& value, F&& fn = F{}) {
    static_assert(std::is_constructible_v<T, U&&>, "goro::Select::send: value is not convertible to T");
    return add(std::make_unique<Dyn<detail::SendCase<T, Chan<T>, std::decay_t<F>>>>(
        true, std::move(ch), std::forward<U>(value), std::forward<F>(fn)));
  }

  // Throws std::logic_error if there already is one.
  template <class F = detail::NoHandler>
  std::size_t default_case(F&& fn = F{}) {
    if (default_ >= 0) throw std::logic_error("goro::Select: more than one default case");
    default_ = static_cast<std::ptrdiff_t>(cases_.size());
    return add(std::make_unique<DynDefault<std::decay_t<F>>>(std::forward<F>(fn)));
  }

  // The case at index i is never chosen again (until enable(i)).
  void disable(std::size_t i) { cases_.at(i)->enabled = false; }
  void enable(std::size_t i) { cases_.at(i)->enabled = true; }
  bool enabled(std::size_t i) const { return cases_.at(i)->enabled; }
  std::size_t size() const noexcept { return cases_.size(); }
  void clear() noexcept {
    cases_.clear();
    default_ = -1;
  }

  // Runs one case (blocking unless there is a default) and returns its index.
  std::size_t run() {
    scases_.resize(cases_.size());
    for (std::size_t i = 0; i < cases_.size(); ++i) {
      CaseBase& c = *cases_[i];
      scases_[i] = (c.enabled && static_cast<std::ptrdiff_t>(i) != default_)
                       ? c.scase()
                       : detail::Scase{nullptr, nullptr, false};
    }
    const detail::SelectResult r = detail::selectgo(scases_.data(), scases_.size(), default_ < 0);
    const std::size_t i = static_cast<std::size_t>(r.index < 0 ? default_ : r.index);
    CaseBase& c = *cases_[i];
    if (c.is_send) c.enabled = false;  // its value is gone
    c.complete(r.recv_ok);
    return i;
  }

 private:
  struct CaseBase {
    explicit CaseBase(bool send) : is_send(send) {}
    virtual ~CaseBase() = default;
    virtual detail::Scase scase() noexcept = 0;
    virtual void complete(bool ok) = 0;
    bool is_send;
    bool enabled = true;
  };
  template <class Case>
  struct Dyn final : CaseBase {
    template <class... A>
    explicit Dyn(bool send, A&&... a) : CaseBase(send), c(std::forward<A>(a)...) {}
    detail::Scase scase() noexcept override { return c.scase(); }
    void complete(bool ok) override { c.complete(ok); }
    Case c;
  };
  template <class F>
  struct DynDefault final : CaseBase {
    template <class G>
    explicit DynDefault(G&& fn) : CaseBase(false), c(std::forward<G>(fn)) {}
    detail::Scase scase() noexcept override { return {nullptr, nullptr, false}; }
    void complete(bool) override { c.complete(); }
    detail::DefaultCase<F> c;
  };

  std::size_t add(std::unique_ptr<CaseBase> c) {
    cases_.push_back(std::move(c));
    return cases_.size() - 1;
  }

  std::vector<std::unique_ptr<CaseBase>> cases_;
  std::vector<detail::Scase> scases_;  // rebuilt by each run(); kept to reuse its memory
  std::ptrdiff_t default_ = -1;        // index of the default case, or -1
};

}  // namespace goro

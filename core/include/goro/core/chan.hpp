// goro/core/chan.hpp — Go's channels: goro::Chan<T>.
//
//   goro::Chan<int> jobs(16);               // buffered, capacity 16 (Go: make(chan int, 16))
//   goro::Chan<int> done = goro::make_chan<int>();   // unbuffered (Go: make(chan int))
//   goro::go([=] { for (int& j : jobs) work(j); done.send(1); });
//   jobs.send(1); jobs.send(2); jobs.close();
//   done.recv();
//
// Semantics follow Go's exactly:
//  - A Chan is a handle with reference semantics: copies share one channel, copying is a
//    reference-count increment, == compares identity.
//  - A default-constructed Chan is a *nil channel*, as Go's `var ch chan T`: send and
//    recv block forever, try_send/try_recv never succeed, close throws. (So write
//    `Chan<T> ch(0)` or make_chan<T>() for an unbuffered channel, not `Chan<T> ch;`.)
//  - recv() returns std::nullopt once the channel is closed and drained (Go's v, ok with
//    ok == false). Values buffered before close are still delivered.
//  - Sending on a closed channel, or closing one twice, throws ChanClosedError (Go
//    panics); a sender blocked in send() when the channel is closed throws too. Closing
//    a nil channel throws std::logic_error. Receivers blocked at close wake with nullopt.
//  - Blocked senders and receivers are served first come, first served. A send to a
//    parked receiver moves the value straight into the receiver's frame.
//  - Blocking parks the goroutine, never the OS thread. Non-blocking operations
//    (try_send, try_recv, close, len) also work outside goroutines, e.g. from a
//    foreign thread; a blocking one there throws std::logic_error.
//
// T must be nothrow-move-constructible; move-only types work. T's move constructor and
// destructor run under the channel's lock: they must not block or touch channels.
#pragma once

#include <cstddef>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <goro/core/detail/chan_core.hpp>

namespace goro {

// Thrown where Go panics: "send on closed channel", "close of closed channel".
class ChanClosedError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// What a non-blocking receive found.
enum class RecvStatus : unsigned char {
  kReceived,    // a value was received
  kWouldBlock,  // nothing to receive right now (or a nil channel)
  kClosed,      // closed and drained: nothing will ever arrive
};

// Result of Chan<T>::try_recv(): a status and, when kReceived, the value.
//   if (auto r = ch.try_recv()) use(*r); else if (r.closed()) ...
template <class T>
class TryRecv {
 public:
  TryRecv(RecvStatus s, std::optional<T> v) : status_(s), value_(std::move(v)) {}
  RecvStatus status() const noexcept { return status_; }
  bool received() const noexcept { return status_ == RecvStatus::kReceived; }
  bool closed() const noexcept { return status_ == RecvStatus::kClosed; }
  bool would_block() const noexcept { return status_ == RecvStatus::kWouldBlock; }
  explicit operator bool() const noexcept { return received(); }
  std::optional<T>& value() & noexcept { return value_; }
  std::optional<T>&& value() && noexcept { return std::move(value_); }
  T& operator*() & noexcept { return *value_; }
  T* operator->() noexcept { return &*value_; }

 private:
  RecvStatus status_;
  std::optional<T> value_;
};

template <class T>
class Chan {
  static_assert(std::is_object_v<T> && !std::is_array_v<T> && !std::is_const_v<T>,
                "goro::Chan<T>: T must be a non-const object type");
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "goro::Chan<T>: T must be nothrow move constructible (values move under the "
                "channel's lock)");
  static_assert(std::is_nothrow_destructible_v<T>, "goro::Chan<T>: T must be nothrow destructible");

 public:
  using value_type = T;

  // A nil channel (Go: var ch chan T).
  Chan() noexcept = default;
  // A channel with room for `capacity` buffered values; 0 is unbuffered (Go: make).
  explicit Chan(std::size_t capacity)
      : c_(detail::chan_make(&detail::ElemOpsFor<T>::kOps, capacity)) {}

  Chan(const Chan& o) noexcept : c_(o.c_) { detail::chan_retain(c_); }
  Chan(Chan&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  Chan& operator=(const Chan& o) noexcept {
    detail::chan_retain(o.c_);
    detail::chan_release(std::exchange(c_, o.c_));
    return *this;
  }
  Chan& operator=(Chan&& o) noexcept {
    if (this != &o) detail::chan_release(std::exchange(c_, std::exchange(o.c_, nullptr)));
    return *this;
  }
  ~Chan() { detail::chan_release(c_); }

  // Sends v, waiting for room or a receiver. Throws ChanClosedError if closed.
  void send(T&& v) { detail::chan_send(c_, &v, true); }
  void send(const T& v)
    requires std::is_copy_constructible_v<T>
  {
    T copy(v);
    detail::chan_send(c_, &copy, true);
  }

  // Sends v only if that needs no waiting. On false, v was not moved from. Throws
  // ChanClosedError if closed.
  bool try_send(T&& v) { return detail::chan_send(c_, &v, false); }
  bool try_send(const T& v)
    requires std::is_copy_constructible_v<T>
  {
    T copy(v);
    return detail::chan_send(c_, &copy, false);
  }

  // Receives a value, waiting for one; std::nullopt when closed and drained.
  std::optional<T> recv() {
    detail::RawSlot<T> slot;
    if (!detail::chan_recv(c_, slot.raw(), true).received) return std::nullopt;
    return take(slot);
  }

  // Receives a value only if that needs no waiting.
  TryRecv<T> try_recv() {
    detail::RawSlot<T> slot;
    detail::RecvResult r = detail::chan_recv(c_, slot.raw(), false);
    if (r.received) return TryRecv<T>(RecvStatus::kReceived, take(slot));
    return TryRecv<T>(r.selected ? RecvStatus::kClosed : RecvStatus::kWouldBlock, std::nullopt);
  }

  // Closes the channel: no more sends; receivers drain the buffer, then get nullopt.
  void close() { detail::chan_close(c_); }

  // Buffered values right now (racy snapshot, as Go's len) and the capacity.
  std::size_t len() const noexcept { return detail::chan_len(c_); }
  std::size_t cap() const noexcept { return c_ != nullptr ? c_->cap : 0; }

  // Whether this is a real channel rather than a nil one.
  explicit operator bool() const noexcept { return c_ != nullptr; }
  friend bool operator==(const Chan& a, const Chan& b) noexcept { return a.c_ == b.c_; }

  // Range-style receive: `for (T& v : ch)` runs until the channel is closed and drained.
  class iterator {
   public:
    using iterator_concept = std::input_iterator_tag;
    using iterator_category = std::input_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using reference = T&;

    iterator() noexcept = default;
    iterator(iterator&& o) noexcept : c_(std::exchange(o.c_, nullptr)), full_(o.full_) {
      if (full_) {
        ::new (slot_.raw()) T(std::move(*o.slot_.get()));
        o.reset();
      }
    }
    iterator& operator=(iterator&& o) noexcept {
      if (this != &o) {
        reset();
        c_ = std::exchange(o.c_, nullptr);
        if (o.full_) {
          ::new (slot_.raw()) T(std::move(*o.slot_.get()));
          full_ = true;
          o.reset();
        }
      }
      return *this;
    }
    ~iterator() { reset(); }

    T& operator*() const noexcept { return *slot_.get(); }
    T* operator->() const noexcept { return slot_.get(); }
    iterator& operator++() {
      reset();
      full_ = detail::chan_recv(c_, slot_.raw(), true).received;
      if (!full_) c_ = nullptr;
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
      return !it.full_;
    }

   private:
    friend class Chan;
    explicit iterator(detail::ChanHeader* c) : c_(c) { ++*this; }
    void reset() noexcept {
      if (full_) {
        slot_.destroy();
        full_ = false;
      }
    }
    detail::ChanHeader* c_ = nullptr;  // borrowed: the Chan being iterated outlives us
    mutable detail::RawSlot<T> slot_;  // holds the current value while full_
    bool full_ = false;
  };

  // Receives the first value (blocking) and returns an iterator at it.
  iterator begin() { return iterator(c_); }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  friend struct detail::ChanAccess;
  // Moves the received value out of the slot (one move, straight into the result).
  static std::optional<T> take(detail::RawSlot<T>& slot) noexcept {
    std::optional<T> v(std::in_place, std::move(*slot.get()));
    slot.destroy();
    return v;
  }
  detail::ChanHeader* c_ = nullptr;  // nullptr: nil channel; else one counted reference
};

// Go: make(chan T, capacity).
template <class T>
Chan<T> make_chan(std::size_t capacity = 0) {
  return Chan<T>(capacity);
}

namespace detail {
struct ChanAccess {
  template <class T>
  static ChanHeader* header(const Chan<T>& ch) noexcept {
    return ch.c_;
  }
};
}  // namespace detail

}  // namespace goro

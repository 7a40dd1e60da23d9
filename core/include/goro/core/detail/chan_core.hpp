// goro/core/detail/chan_core.hpp — the type-erased channel core that Chan<T> and select wrap.
//
// Everything that locks, queues, parks and wakes is compiled once in core/src/chan.cpp and
// core/src/select.cpp. A channel sees its elements only through an ElemOps table (size,
// alignment, move-construct, destroy), so Chan<int>, Chan<std::string> and Chan<Job> share
// one implementation, and the templates in chan.hpp / select.hpp are thin shells.
//
// Element protocol (what "move" means here): a sender passes a pointer to a live T that it
// owns; the channel move-constructs from it (never destroys it: the sender's moved-from
// object dies in the sender's frame as usual). A receiver passes a pointer to raw storage
// for a T; if the operation reports a value, a T has been move-constructed there and the
// receiver now owns it. ElemOps::move must not throw (Chan<T> static_asserts it), because
// it runs under the channel lock.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace goro::detail {

// How a channel handles its element type without knowing it.
struct ElemOps {
  std::size_t size;
  std::size_t align;
  // Move-constructs a T at dst from the T at src (src stays alive, moved-from).
  // nullptr: trivially copyable, memcpy(dst, src, size) is enough.
  void (*move)(void* dst, void* src) noexcept;
  // Destroys the T at p. nullptr: trivially destructible.
  void (*destroy)(void* p) noexcept;
};

template <class T>
struct ElemOpsFor {
  static void move(void* dst, void* src) noexcept {
    ::new (dst) T(std::move(*std::launder(static_cast<T*>(src))));
  }
  static void destroy(void* p) noexcept { std::launder(static_cast<T*>(p))->~T(); }
  static constexpr ElemOps kOps{
      sizeof(T), alignof(T),
      std::is_trivially_copyable_v<T> ? nullptr : &ElemOpsFor::move,
      std::is_trivially_destructible_v<T> ? nullptr : &ElemOpsFor::destroy};
};

// The part of a channel that the Chan<T> handle touches inline; the rest (ChanState, Go's
// hchan) lives in core/src/hchan.hpp.
struct ChanHeader {
  // atomic: incremented by every handle copy and decremented by every handle destructor,
  // on any thread; see chan_retain/chan_release for the orders.
  std::atomic<std::size_t> refs{1};
  std::size_t cap = 0;  // immutable after chan_make: read by anyone without a lock
};

// Go: makechan. Throws std::length_error if cap * size overflows, std::bad_alloc.
ChanHeader* chan_make(const ElemOps* ops, std::size_t cap);
// Destroys buffered elements and frees the channel. Called on the last release.
void chan_destroy(ChanHeader* c) noexcept;

inline void chan_retain(ChanHeader* c) noexcept {
  // relaxed: the caller already holds a reference, so the object cannot die meanwhile;
  // only the count's atomicity matters (the shared_ptr argument).
  if (c != nullptr) c->refs.fetch_add(1, std::memory_order_relaxed);
}
inline void chan_release(ChanHeader* c) noexcept {
  // acq_rel: release publishes this handle's uses of the channel to whoever frees it;
  // acquire (on the last decrement) makes every other handle's uses visible before
  // chan_destroy touches the buffer.
  if (c != nullptr && c->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) chan_destroy(c);
}

// Go: chansend. Sends the T at *elem (moved from only if the send happens). block=false:
// returns false instead of waiting. nil channel (c == nullptr): block forever, or false.
// Throws ChanClosedError if the channel is closed, or gets closed while we wait;
// std::logic_error if it would have to park outside a goroutine.
bool chan_send(ChanHeader* c, void* elem, bool block);

struct RecvResult {
  bool selected;  // the operation completed (false only for a non-blocking miss)
  bool received;  // a T was constructed at *slot; false with selected: closed and drained
};
// Go: chanrecv. slot: raw storage for a T, or nullptr to discard the value.
RecvResult chan_recv(ChanHeader* c, void* slot, bool block);

// Go: closechan. Throws ChanClosedError (closed twice) or std::logic_error (nil channel).
void chan_close(ChanHeader* c);

// Go: len(ch). A racy snapshot, as in Go.
std::size_t chan_len(const ChanHeader* c) noexcept;

// One case of a select, as selectgo sees it (Go: runtime.scase).
struct Scase {
  ChanHeader* c;  // nullptr: a nil channel (or a disabled case), never ready
  void* elem;     // send: the value to move from; receive: raw storage (or nullptr)
  bool is_send;
};

struct SelectResult {
  std::ptrdiff_t index;  // the chosen case, or -1 when !block and no case was ready
  bool recv_ok;          // receive case: a value was received (false: closed)
};

// Go: selectgo. Chooses one ready case uniformly at random, else (block) waits for the
// first case to become ready, else returns index -1. A chosen send case on a closed
// channel throws ChanClosedError. n == 0 with block: parks forever (Go: select {}).
SelectResult selectgo(Scase* cases, std::size_t n, bool block);

// Element storage for one T that may or may not hold a value (no engaged flag: the
// owner knows). Used for receive slots.
template <class T>
struct RawSlot {
  alignas(T) unsigned char bytes[sizeof(T)];
  void* raw() noexcept { return bytes; }
  T* get() noexcept { return std::launder(reinterpret_cast<T*>(bytes)); }
  void destroy() noexcept { get()->~T(); }
};

struct ChanAccess;  // lets select.hpp reach a Chan's header without making it public

}  // namespace goro::detail

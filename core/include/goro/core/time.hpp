// goro/core/time.hpp — sleeping, timers and tickers (Go's time.Sleep, time.After,
// time.Timer, time.Ticker), all parking goroutines, never threads.
//
// Timers live in per-P heaps run by the scheduler itself (no timer thread); an idle
// runtime sleeps exactly until the earliest timer. Times are std::chrono::steady_clock.
#pragma once

#include <goro/core/chan.hpp>
#include <goro/core/detail/timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

namespace goro {

using Clock = std::chrono::steady_clock;
using Duration = std::chrono::nanoseconds;

// Parks the calling goroutine for at least d (Go's time.Sleep). d <= 0 just yields.
// Outside a goroutine, sleeps the thread.
void sleep(Duration d);

namespace detail {
std::int64_t to_nanotime(Clock::time_point t) noexcept;
Clock::time_point from_nanotime(std::int64_t ns) noexcept;

// Shared state of a Timer/Ticker: the runtime timer and the channel it sends on.
// Reference-counted: one reference per handle, one while armed (a one-shot callback
// releases the armed reference when it runs; del_timer's success releases it instead).
struct TimerState {
  Timer t;
  Chan<Clock::time_point> ch{1};
  std::atomic<int> refs{1};
  void retain() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }  // relaxed: as shared_ptr
  void release() noexcept {
    // acq_rel: the last release sees every other holder's writes before deleting.
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
};
void timer_state_arm(TimerState* s, std::int64_t when, std::int64_t period) noexcept;
bool timer_state_disarm(TimerState* s) noexcept;
}  // namespace detail

// A single event (Go's time.Timer): after d, the current time is sent on channel().
// stop() prevents the firing (true if it did); reset(d) re-arms it. Movable handle;
// destroying it stops the timer.
class Timer {
 public:
  explicit Timer(Duration d);
  Timer(Timer&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Timer& operator=(Timer&& o) noexcept;
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  ~Timer();

  Chan<Clock::time_point>& channel() noexcept { return s_->ch; }
  // Returns true if the call stopped the timer, false if it had already fired or stopped.
  bool stop() noexcept;
  // Stops the timer and re-arms it for d from now; returns what stop() would have.
  // As in Go, a value from an earlier firing may still sit in the channel.
  bool reset(Duration d) noexcept;

 private:
  detail::TimerState* s_;
};

// Repeated events every period (Go's time.Ticker); slow receivers miss ticks, they
// don't pile up. period must be positive (std::invalid_argument otherwise).
class Ticker {
 public:
  explicit Ticker(Duration period);
  Ticker(Ticker&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Ticker& operator=(Ticker&& o) noexcept;
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;
  ~Ticker();

  Chan<Clock::time_point>& channel() noexcept { return s_->ch; }
  void stop() noexcept;
  void reset(Duration period);

 private:
  detail::TimerState* s_;
};

// A channel that receives the time once, after d (Go's time.After).
Chan<Clock::time_point> after(Duration d);

}  // namespace goro

// time.cpp — goro::sleep, Timer, Ticker, after on the runtime's timers (timers.cpp).
#include <goro/core/time.hpp>

#include <goro/core/detail/park.hpp>
#include <goro/core/runtime.hpp>

#include <stdexcept>
#include <thread>

#include "g.hpp"

namespace goro {

namespace detail {

// steady_clock is CLOCK_MONOTONIC on Linux, the clock nanotime() reads.
std::int64_t to_nanotime(Clock::time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
Clock::time_point from_nanotime(std::int64_t ns) noexcept {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
}

namespace {

void fire_once(void* arg, std::uintptr_t) noexcept {
  auto* s = static_cast<TimerState*>(arg);
  s->ch.try_send(Clock::now());  // capacity 1: never blocks; a full channel drops it
  s->release();                  // the armed reference
}

void fire_periodic(void* arg, std::uintptr_t) noexcept {
  static_cast<TimerState*>(arg)->ch.try_send(Clock::now());
}

}  // namespace

void timer_state_arm(TimerState* s, std::int64_t when, std::int64_t period) noexcept {
  s->retain();  // held while armed
  s->t.when = when;
  s->t.period = period;
  s->t.fn = period > 0 ? &fire_periodic : &fire_once;
  s->t.arg = s;
  // Still armed when run() ends (an after(1h) nobody waited for): the armed reference
  // goes, so the state and its channel are freed (or left to the handles still held).
  s->t.drop = [](void* arg) noexcept { static_cast<TimerState*>(arg)->release(); };
  add_timer(&s->t);
}

bool timer_state_disarm(TimerState* s) noexcept {
  if (del_timer(&s->t)) {
    s->release();  // it will not fire: drop the armed reference
    return true;
  }
  return false;
}

}  // namespace detail

void sleep(Duration d) {
  detail::G* g = detail::current_g();
  if (g == nullptr) {
    std::this_thread::sleep_for(d);
    return;
  }
  if (d.count() <= 0) {
    yield();
    return;
  }
  detail::Timer& t = g->sleep_timer;
  t.when = detail::nanotime() + d.count();
  t.period = 0;
  t.fn = [](void* arg, std::uintptr_t) noexcept { detail::ready(static_cast<detail::G*>(arg)); };
  t.arg = g;
  // The timer is armed after the switch, so it cannot ready us while we still run.
  detail::park(
      [](detail::G*, void* timer) noexcept {
        detail::add_timer(static_cast<detail::Timer*>(timer));
        return true;
      },
      &t, detail::WaitReason::kSleep);
}

Timer::Timer(Duration d) : s_(new detail::TimerState()) {
  detail::timer_state_arm(s_, detail::nanotime() + (d.count() > 0 ? d.count() : 0), 0);
}

Timer& Timer::operator=(Timer&& o) noexcept {
  if (this != &o) {
    if (s_ != nullptr) {
      detail::timer_state_disarm(s_);
      s_->release();
    }
    s_ = std::exchange(o.s_, nullptr);
  }
  return *this;
}

Timer::~Timer() {
  if (s_ != nullptr) {
    detail::timer_state_disarm(s_);
    s_->release();
  }
}

bool Timer::stop() noexcept { return detail::timer_state_disarm(s_); }

bool Timer::reset(Duration d) noexcept {
  bool was = detail::timer_state_disarm(s_);
  detail::timer_state_arm(s_, detail::nanotime() + (d.count() > 0 ? d.count() : 0), 0);
  return was;
}

Ticker::Ticker(Duration period) : s_(nullptr) {
  if (period.count() <= 0) throw std::invalid_argument("goro::Ticker: non-positive period");
  s_ = new detail::TimerState();
  detail::timer_state_arm(s_, detail::nanotime() + period.count(), period.count());
}

Ticker& Ticker::operator=(Ticker&& o) noexcept {
  if (this != &o) {
    if (s_ != nullptr) {
      detail::timer_state_disarm(s_);
      s_->release();
    }
    s_ = std::exchange(o.s_, nullptr);
  }
  return *this;
}

Ticker::~Ticker() {
  if (s_ != nullptr) {
    detail::timer_state_disarm(s_);
    s_->release();
  }
}

void Ticker::stop() noexcept { detail::timer_state_disarm(s_); }

void Ticker::reset(Duration period) {
  if (period.count() <= 0) throw std::invalid_argument("goro::Ticker: non-positive period");
  detail::timer_state_disarm(s_);
  detail::timer_state_arm(s_, detail::nanotime() + period.count(), period.count());
}

Chan<Clock::time_point> after(Duration d) {
  auto* s = new detail::TimerState();
  Chan<Clock::time_point> ch = s->ch;
  // The handle's reference is handed to the armed timer: the state lives until it fires.
  detail::timer_state_arm(s, detail::nanotime() + (d.count() > 0 ? d.count() : 0), 0);
  s->release();
  return ch;
}

}  // namespace goro

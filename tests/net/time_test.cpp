// Timers where they meet the network poller: the idle Ms that sleep for the runtime's
// timers are one in the poller (while goroutines wait on the network) and one on a
// futex (sched.timer_sleeper). A timer armed just as the last network waiter went away
// used to break only the poller's sleep; the futex sleeper, sleeping until a much later
// timer, was trusted to wake in time, and every M slept past the new timer (a 30 ms
// timer fired after ~2 s, the later timer's time; in the HTTP server, shutdown(200ms)
// returned after a handler's 10 s timer). Here: a goroutine holds a 2 s timer, another
// waits in accept (the only network waiter); main closes the listener and at once waits
// on a 30 ms timer. Before the fix ~4.5 % of rounds were late.
#include <goro/core/chan.hpp>
#include <goro/core/runtime.hpp>
#include <goro/core/select.hpp>
#include <goro/core/time.hpp>
#include <goro/net.hpp>

#include <gtest/gtest.h>

#include <chrono>

using namespace std::chrono_literals;
namespace net = goro::net;

namespace {

TEST(TimerWake, ShortTimerRightAfterTheLastNetworkWaiterLeavesIsOnTime) {
  constexpr int kRounds = 120;
  int late = 0;
  double worst_ms = 0;
  goro::run([&] {
    for (int i = 0; i < kRounds; ++i) {
      std::error_code ec;
      net::Listener ln = net::listen("127.0.0.1:0", {}, ec);
      ASSERT_FALSE(ec) << ec.message();
      goro::Chan<goro::Signal> accepted(1), stop(1), held(1);
      goro::go([&] {
        std::error_code e;
        ln.accept(e);  // fails once the listener is closed
        accepted.send(goro::Signal{});
      });
      goro::go([&] {
        goro::Timer t(2s);
        goro::select(goro::recv(t.channel()), goro::recv(stop));
        held.send(goro::Signal{});
      });
      // Short-lived goroutines, so that several Ms go idle around the same time.
      for (int k = 0; k < 3; ++k) goro::go([] { goro::sleep(1ms); });
      goro::sleep(std::chrono::milliseconds(5 + (i % 7) * 4));
      auto t0 = goro::Clock::now();
      ln.close(ec);
      goro::Timer t(30ms);
      goro::select(goro::recv(t.channel()));
      double ms = std::chrono::duration<double, std::milli>(goro::Clock::now() - t0).count();
      if (ms > worst_ms) worst_ms = ms;
      // Loose (17x): a timer slept through waits for the 2 s one; scheduling noise on a
      // loaded machine does not come near 500 ms.
      if (ms > 500) ++late;
      stop.send(goro::Signal{});
      held.recv();
      accepted.recv();
    }
  });
  EXPECT_EQ(late, 0) << late << " of " << kRounds << " 30 ms timers fired after 500 ms (worst "
                     << worst_ms << " ms)";
}

}  // namespace

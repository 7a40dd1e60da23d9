// select_test.cpp — goro::select and goro::Select: ready cases, default, nil channels,
// closed channels (receive: nullopt; send: throws), blocking until one of several
// channels becomes ready and cleaning up the other cases, the uniform random choice among
// ready cases (chi-square bound over 100k rounds), same channel in several cases, pairing
// of two selects, select with no cases, move-only values, and the runtime-sized Select.
#include <goro/core/chan.hpp>
#include <goro/core/runtime.hpp>
#include <goro/core/select.hpp>
#include <goro/core/wait_group.hpp>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "chan_test_util.hpp"

namespace {

using goro::Chan;
using goro::ChanClosedError;
using goro_test::Group;
using goro_test::no_waiters;
using goro_test::ParkSpot;
using goro_test::run_with;
using goro_test::Tracked;
using goro_test::yield_n;
using goro_test::yield_until;

// Pearson's chi-square statistic of observed counts against a uniform expectation.
double chi_square(const std::vector<long>& counts) {
  long total = 0;
  for (long c : counts) total += c;
  const double expect = static_cast<double>(total) / static_cast<double>(counts.size());
  double chi2 = 0;
  for (long c : counts) chi2 += (static_cast<double>(c) - expect) * (static_cast<double>(c) - expect) / expect;
  return chi2;
}

TEST(Select, ReceivesFromTheReadyCase) {
  run_with(1, [] {
    Chan<int> a(1), b(1);
    b.send(7);
    int got = 0;
    std::size_t i = goro::select(goro::recv(a, [&](std::optional<int>) { ADD_FAILURE(); }),
                                 goro::recv(b, [&](std::optional<int> v) { got = v.value(); }));
    EXPECT_EQ(i, 1u);
    EXPECT_EQ(got, 7);
  });
}

TEST(Select, SendsOnTheReadyCase) {
  run_with(1, [] {
    Chan<int> full(1), room(1);
    full.send(0);
    bool ran = false;
    std::size_t i = goro::select(goro::send(full, 1, [] { ADD_FAILURE(); }),
                                 goro::send(room, 2, [&] { ran = true; }));
    EXPECT_EQ(i, 1u);
    EXPECT_TRUE(ran);
    EXPECT_EQ(room.recv(), 2);
    EXPECT_EQ(full.recv(), 0);
  });
}

TEST(Select, DefaultRunsWhenNothingIsReady) {
  run_with(1, [] {
    Chan<int> a(0), b(1);
    b.send(1);  // b is full: a send on it is not ready
    bool def = false;
    std::size_t i = goro::select(goro::recv(a), goro::send(b, 2),
                                 goro::default_case([&] { def = true; }));
    EXPECT_EQ(i, 2u);
    EXPECT_TRUE(def);
    // The default may come first too; the position is what counts.
    i = goro::select(goro::default_case(), goro::recv(b));
    EXPECT_EQ(i, 1u);  // b had a value
    i = goro::select(goro::default_case(), goro::recv(b));
    EXPECT_EQ(i, 0u);
    EXPECT_EQ(goro::select(goro::default_case()), 0u);
  });
}

TEST(Select, NilChannelsAreNeverReady) {
  run_with(1, [] {
    Chan<int> nil;
    bool def = false;
    EXPECT_EQ(goro::select(goro::recv(nil), goro::send(nil, 1), goro::default_case([&] { def = true; })), 2u);
    EXPECT_TRUE(def);
    // A nil case next to a ready one: the ready one, every time.
    Chan<int> ready(1);
    for (int k = 0; k < 100; ++k) {
      ready.send(k);
      EXPECT_EQ(goro::select(goro::recv(nil), goro::recv(ready), goro::send(nil, 3)), 1u);
    }
  });
}

TEST(Select, ClosedChannelReceiveCaseYieldsNullopt) {
  run_with(1, [] {
    Chan<int> c(2);
    c.send(1);
    c.close();
    std::vector<std::optional<int>> got;
    for (int k = 0; k < 3; ++k) {
      goro::select(goro::recv(c, [&](std::optional<int> v) { got.push_back(v); }),
                   goro::default_case([] { ADD_FAILURE() << "closed channel is always ready"; }));
    }
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0], 1);  // buffered value first
    EXPECT_EQ(got[1], std::nullopt);
    EXPECT_EQ(got[2], std::nullopt);
    // A handler may ignore the value.
    bool ran = false;
    goro::select(goro::recv(c, [&] { ran = true; }));
    EXPECT_TRUE(ran);
  });
}

TEST(Select, SendCaseOnClosedChannelThrows) {
  run_with(1, [] {
    Chan<int> c(1);
    c.close();
    EXPECT_THROW(goro::select(goro::send(c, 1)), ChanClosedError);
    EXPECT_THROW(goro::select(goro::send(c, 1), goro::default_case()), ChanClosedError);
  });
}

TEST(Select, BlocksUntilOneCaseIsReadyAndCleansUpTheOthers) {
  run_with(2, [] {
    Chan<int> a(0), b(0), c(0);
    ParkSpot spot;
    std::atomic<int> which{-1};
    std::atomic<int> value{0};
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {
      spot.announce();
      std::size_t i = goro::select(goro::recv(a), goro::recv(b, [&](std::optional<int> v) { value = *v; }),
                                   goro::recv(c));
      which.store(static_cast<int>(i));
      wg.done();
    });
    ASSERT_TRUE(spot.wait());
    b.send(5);
    wg.wait();
    EXPECT_EQ(which.load(), 1);
    EXPECT_EQ(value.load(), 5);
    // The select's waiters on a and c are gone: nobody is receiving there any more.
    EXPECT_TRUE(no_waiters(a));
    EXPECT_TRUE(no_waiters(b));
    EXPECT_TRUE(no_waiters(c));
    EXPECT_FALSE(a.try_send(1));
    EXPECT_FALSE(c.try_send(1));
  });
}

TEST(Select, BlockedSendCaseDeliversToALaterReceiver) {
  run_with(2, [] {
    Chan<std::string> out(0), other(0);
    ParkSpot spot;
    goro::WaitGroup wg;
    wg.add(1);
    bool sent = false;
    goro::go([&] {
      spot.announce();
      goro::select(goro::send(out, "hello", [&] { sent = true; }), goro::recv(other));
      wg.done();
    });
    ASSERT_TRUE(spot.wait());
    EXPECT_EQ(out.recv(), "hello");
    wg.wait();
    EXPECT_TRUE(sent);
    EXPECT_TRUE(no_waiters(out));
    EXPECT_TRUE(no_waiters(other));
    EXPECT_FALSE(other.try_send("x"));
  });
}

TEST(Select, BlockedSelectWakesOnClose) {
  run_with(2, [] {
    Chan<int> a(0), b(0);
    ParkSpot spot;
    std::atomic<int> result{-1};
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {
      spot.announce();
      goro::select(goro::recv(a, [&](std::optional<int> v) { result = v ? 1 : 0; }), goro::recv(b));
      wg.done();
    });
    ASSERT_TRUE(spot.wait());
    a.close();
    wg.wait();
    EXPECT_EQ(result.load(), 0);  // closed: nullopt
    EXPECT_TRUE(no_waiters(b));
    EXPECT_FALSE(b.try_send(1));
  });
}

TEST(Select, BlockedSendCaseThrowsOnClose) {
  run_with(2, [] {
    Chan<int> a(0), b(0);
    ParkSpot spot;
    std::atomic<bool> threw{false};
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {
      spot.announce();
      try {
        goro::select(goro::send(a, 1), goro::recv(b));
      } catch (const ChanClosedError&) {
        threw = true;
      }
      wg.done();
    });
    ASSERT_TRUE(spot.wait());
    a.close();
    wg.wait();
    EXPECT_TRUE(threw.load());
    EXPECT_TRUE(no_waiters(b));
    EXPECT_FALSE(b.try_send(1));
  });
}

TEST(Select, ChoosesUniformlyAmongReadyCases) {
  run_with(2, [] {
    constexpr int kCases = 4;
    constexpr long kRounds = 100000;
    std::array<Chan<int>, kCases> ch{Chan<int>(1), Chan<int>(1), Chan<int>(1), Chan<int>(1)};
    for (auto& c : ch) c.send(0);  // all ready
    std::vector<long> counts(kCases, 0);
    for (long r = 0; r < kRounds; ++r) {
      std::size_t i = goro::select(goro::recv(ch[0]), goro::recv(ch[1]), goro::recv(ch[2]),
                                   goro::recv(ch[3]));
      ++counts[i];
      ch[i].send(0);  // ready again
    }
    // df = 3: P(chi2 > 30) < 2e-6. A biased choice (e.g. always the first ready case in
    // argument order, or a 60/40 split) lands in the tens of thousands.
    const double chi2 = chi_square(counts);
    EXPECT_LT(chi2, 30.0) << counts[0] << " " << counts[1] << " " << counts[2] << " " << counts[3];
    for (long c : counts) EXPECT_GT(c, kRounds / kCases * 9 / 10);
  });
}

TEST(Select, ChoosesUniformlyAmongMixedSendAndReceive) {
  run_with(1, [] {
    constexpr long kRounds = 60000;
    Chan<int> in(1), out(1000000);
    Chan<int> nil;
    in.send(0);
    std::vector<long> counts(3, 0);
    for (long r = 0; r < kRounds; ++r) {
      std::size_t i = goro::select(goro::recv(in), goro::send(out, 1), goro::recv(nil),
                                   goro::send(out, 2));
      ASSERT_NE(i, 2u);
      ++counts[i == 3 ? 2 : i];
      if (i == 0) in.send(0);
    }
    EXPECT_LT(chi_square(counts), 30.0) << counts[0] << " " << counts[1] << " " << counts[2];
  });
}

TEST(Select, SameChannelInSeveralCases) {
  run_with(2, [] {
    Chan<int> c(0);
    constexpr int kN = 2000;
    Group group;
    group.go([c]() mutable {
      for (int i = 0; i < kN; ++i) c.send(i);
      c.close();
    });
    long sum = 0;
    int got = 0;
    bool open = true;
    while (open) {
      auto take = [&](std::optional<int> v) {
        if (!v) {
          open = false;
          return;
        }
        sum += *v;
        ++got;
      };
      goro::select(goro::recv(c, take), goro::recv(c, take), goro::recv(c, take));
    }
    EXPECT_EQ(got, kN);
    EXPECT_EQ(sum, static_cast<long>(kN) * (kN - 1) / 2);
    group.wait();
  });
}

TEST(Select, TwoSelectsWithSendAndReceiveOnOneChannelPairUp) {
  run_with(2, [] {
    constexpr int kRounds = 2000;
    Chan<int> c(0);
    std::atomic<int> sends{0}, recvs{0};
    goro::WaitGroup wg;
    for (int id = 0; id < 2; ++id) {
      wg.add(1);
      goro::go([&, id] {
        for (int r = 0; r < kRounds; ++r) {
          goro::select(goro::send(c, id, [&] { sends.fetch_add(1); }),
                       goro::recv(c, [&](std::optional<int> v) {
                         EXPECT_EQ(v, 1 - id);  // never our own value
                         recvs.fetch_add(1);
                       }));
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(sends.load(), kRounds);
    EXPECT_EQ(recvs.load(), kRounds);
    EXPECT_TRUE(no_waiters(c));
  });
}

TEST(Select, NoCasesBlocksForever) {
  run_with(2, [] {
    ParkSpot spot, nil_spot;
    std::atomic<int> progressed{0};
    goro::go([&] {
      spot.announce();
      goro::select();
      progressed.fetch_add(1);
    });
    goro::go([&] {
      Chan<int> nil;
      nil_spot.announce();
      goro::select(goro::recv(nil), goro::send(nil, 1));  // only nil channels: same
      progressed.fetch_add(1);
    });
    ASSERT_TRUE(spot.wait());
    ASSERT_TRUE(nil_spot.wait());
    yield_n(200);
    EXPECT_EQ(progressed.load(), 0);
    EXPECT_TRUE(spot.parked());
  });
}

TEST(Select, MoveOnlyValues) {
  run_with(2, [] {
    Chan<std::unique_ptr<int>> a(0), b(1);
    Group group;
    group.go([a]() mutable { a.send(std::make_unique<int>(11)); });
    std::unique_ptr<int> got;
    goro::select(goro::recv(a, [&](std::optional<std::unique_ptr<int>> v) { got = std::move(*v); }));
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(*got, 11);
    goro::select(goro::send(b, std::make_unique<int>(12)));
    EXPECT_EQ(**b.recv(), 12);
    group.wait();
  });
}

TEST(Select, LosingSendCaseKeepsAndDestroysItsValue) {
  const long before = Tracked::live.load();
  run_with(1, [] {
    Chan<Tracked> ready(1), blocked(0);
    std::size_t i = goro::select(goro::send(blocked, Tracked(1)), goro::send(ready, Tracked(2)));
    EXPECT_EQ(i, 1u);
    EXPECT_EQ(ready.recv()->v, 2);
    // A winning receive case's value is handed over once, not copied.
    ready.send(Tracked(3));
    goro::select(goro::recv(ready, [](std::optional<Tracked> t) { EXPECT_EQ(t->v, 3); }),
                 goro::recv(blocked));
  });
  EXPECT_EQ(Tracked::live.load(), before);
}

TEST(Select, CasesFromTemporaryChannelsOwnThem) {
  run_with(1, [] {
    auto make = [] {
      Chan<int> c(1);
      c.send(3);
      return c;
    };
    int got = 0;
    goro::select(goro::recv(make(), [&](std::optional<int> v) { got = *v; }));
    EXPECT_EQ(got, 3);
  });
}

TEST(Select, OutsideAGoroutine) {
  Chan<int> c(1);
  EXPECT_EQ(goro::select(goro::send(c, 1), goro::default_case()), 0u);
  EXPECT_EQ(goro::select(goro::send(c, 1), goro::default_case()), 1u);
  EXPECT_THROW(goro::select(goro::send(c, 1)), std::logic_error);  // would block
  EXPECT_EQ(goro::select(goro::recv(c)), 0u);                      // ready: fine
}

TEST(DynamicSelect, FanInWithDisableOnClose) {
  run_with(2, [] {
    constexpr int kInputs = 12;  // more than the inline case storage
    constexpr int kEach = 500;
    std::vector<Chan<int>> inputs;
    for (int i = 0; i < kInputs; ++i) inputs.emplace_back(i % 3);  // mixed capacities
    Group group;
    for (int i = 0; i < kInputs; ++i) {
      group.go([c = inputs[i], i]() mutable {
        for (int k = 0; k < kEach; ++k) c.send(i * kEach + k);
        c.close();
      });
    }
    goro::Select sel;
    std::vector<int> seen(kInputs * kEach, 0);
    int open = kInputs;
    for (int i = 0; i < kInputs; ++i) {
      std::size_t idx = sel.recv(inputs[i], [&, i](std::optional<int> v) {
        if (!v) {
          sel.disable(static_cast<std::size_t>(i));
          --open;
          return;
        }
        ++seen[*v];
      });
      EXPECT_EQ(idx, static_cast<std::size_t>(i));
    }
    EXPECT_EQ(sel.size(), static_cast<std::size_t>(kInputs));
    while (open > 0) sel.run();
    group.wait();
    for (int v = 0; v < kInputs * kEach; ++v) ASSERT_EQ(seen[v], 1) << "value " << v;
    for (int i = 0; i < kInputs; ++i) EXPECT_FALSE(sel.enabled(i));
  });
}

TEST(DynamicSelect, SendCaseFiresOnceAndDefault) {
  run_with(1, [] {
    Chan<int> out(4);
    goro::Select sel;
    int sent = 0, defaults = 0;
    EXPECT_EQ(sel.send(out, 5, [&] { ++sent; }), 0u);
    EXPECT_EQ(sel.default_case([&] { ++defaults; }), 1u);
    EXPECT_THROW(sel.default_case(), std::logic_error);
    EXPECT_EQ(sel.run(), 0u);  // sends 5
    EXPECT_FALSE(sel.enabled(0));
    EXPECT_EQ(sel.run(), 1u);  // spent send case: only the default remains
    EXPECT_EQ(sent, 1);
    EXPECT_EQ(defaults, 1);
    EXPECT_EQ(out.len(), 1u);
    sel.clear();
    EXPECT_EQ(sel.size(), 0u);
    sel.recv(out);
    EXPECT_EQ(sel.run(), 0u);
    EXPECT_EQ(out.len(), 0u);
  });
}

TEST(DynamicSelect, BlocksAndWakes) {
  run_with(2, [] {
    std::vector<Chan<int>> chans;
    for (int i = 0; i < 20; ++i) chans.emplace_back(0);
    ParkSpot spot;
    std::atomic<int> got{-1};
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {
      goro::Select sel;
      for (auto& c : chans) sel.recv(c, [&](std::optional<int> v) { got = *v; });
      spot.announce();
      sel.run();
      wg.done();
    });
    ASSERT_TRUE(spot.wait());
    chans[17].send(17);
    wg.wait();
    EXPECT_EQ(got.load(), 17);
    for (auto& c : chans) EXPECT_TRUE(no_waiters(c));  // all waiters removed
  });
}

}  // namespace

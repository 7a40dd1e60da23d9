// chan_stress_test.cpp — channels and select under load with several Ps: millions of
// operations by many producers and consumers, every message counted (no loss, no
// duplicate), sends racing with close, select fan-in/fan-out, selects that both send and
// receive on shared channels, polling selects with default, and a long pipeline. Sizes
// shrink under the sanitizers (they slow everything 5-20x), not the shape of the tests.
#include <goro/core/chan.hpp>
#include <goro/core/runtime.hpp>
#include <goro/core/select.hpp>
#include <goro/core/wait_group.hpp>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "../core/chan_test_util.hpp"

namespace {

using goro::Chan;
using goro_test::run_with;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr long kScale = 10;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr long kScale = 10;
#else
constexpr long kScale = 1;
#endif
#else
constexpr long kScale = 1;
#endif

// One counter per message value: each must end at exactly 1.
class Ledger {
 public:
  explicit Ledger(std::size_t n) : seen_(new std::atomic<std::uint8_t>[n]), n_(n) {
    for (std::size_t i = 0; i < n; ++i) seen_[i].store(0, std::memory_order_relaxed);
  }
  void mark(long v) {
    ASSERT_GE(v, 0);
    ASSERT_LT(static_cast<std::size_t>(v), n_);
    // relaxed: counted per value; read after WaitGroup::wait(), which orders everything.
    seen_[static_cast<std::size_t>(v)].fetch_add(1, std::memory_order_relaxed);
  }
  // Every value in [0, n) seen exactly once; reports the first few that were not.
  void expect_each_once() const {
    int reported = 0;
    for (std::size_t i = 0; i < n_; ++i) {
      unsigned c = seen_[i].load(std::memory_order_relaxed);
      if (c != 1) {
        ADD_FAILURE() << "value " << i << " received " << c << " times";
        if (++reported == 10) return;
      }
    }
  }

 private:
  std::unique_ptr<std::atomic<std::uint8_t>[]> seen_;
  std::size_t n_;
};

class ChanStress : public ::testing::TestWithParam<std::size_t> {};

TEST_P(ChanStress, ManyProducersManyConsumersCountEveryMessage) {
  const std::size_t cap = GetParam();
  constexpr int kProducers = 8, kConsumers = 8;
  const long per_producer = 250000 / kScale;
  const long total = kProducers * per_producer;
  Ledger ledger(static_cast<std::size_t>(total));
  run_with(4, [&] {
    Chan<long> ch(cap);
    goro::WaitGroup producers, consumers;
    std::atomic<long> received{0};
    for (int p = 0; p < kProducers; ++p) {
      producers.add(1);
      goro::go([&, p] {
        for (long i = 0; i < per_producer; ++i) ch.send(p * per_producer + i);
        producers.done();
      });
    }
    for (int c = 0; c < kConsumers; ++c) {
      consumers.add(1);
      goro::go([&] {
        long n = 0;
        for (long& v : ch) {
          ledger.mark(v);
          ++n;
        }
        received.fetch_add(n);
        consumers.done();
      });
    }
    producers.wait();
    ch.close();
    consumers.wait();
    EXPECT_EQ(received.load(), total);
  });
  ledger.expect_each_once();
}

TEST_P(ChanStress, SendsRaceWithClose) {
  const std::size_t cap = GetParam();
  const int rounds = static_cast<int>(2000 / kScale);
  long interrupted = 0;  // senders stopped by close (the race this test is about)
  run_with(4, [&] {
    for (int round = 0; round < rounds; ++round) {
      constexpr int kSenders = 4, kReceivers = 3;
      // Values per sender: enough that close usually lands mid-stream, few enough that
      // a round ends soon even when the closer is not scheduled for a while (a chain of
      // runnext hand-offs keeps a P busy for a whole time slice, as in Go).
      constexpr long kMax = 400;
      Chan<long> ch(cap);
      std::vector<long> sent_ok(kSenders, 0);  // sender s sent s*kMax + [0, sent_ok[s])
      std::vector<std::vector<long>> got(kReceivers);
      goro::WaitGroup wg;
      for (int s = 0; s < kSenders; ++s) {
        wg.add(1);
        goro::go([&, s] {
          try {
            for (long i = 0; i < kMax; ++i) {
              ch.send(s * kMax + i);
              ++sent_ok[s];
            }
          } catch (const goro::ChanClosedError&) {
          }
          wg.done();
        });
      }
      for (int r = 0; r < kReceivers; ++r) {
        wg.add(1);
        goro::go([&, r] {
          for (long& v : ch) got[r].push_back(v);
          wg.done();
        });
      }
      goro_test::yield_n(round % 7);
      ch.close();
      wg.wait();
      // What was received is exactly what sends reported as done: per sender, the
      // prefix [0, sent_ok) in order (receivers each see a sender's values in order).
      std::vector<std::vector<char>> seen(kSenders);
      for (int s = 0; s < kSenders; ++s) seen[s].assign(static_cast<std::size_t>(sent_ok[s]), 0);
      for (int r = 0; r < kReceivers; ++r) {
        std::vector<long> last(kSenders, -1);
        for (long v : got[r]) {
          const int s = static_cast<int>(v / kMax);
          const long i = v % kMax;
          ASSERT_LT(i, sent_ok[s]) << "received a value whose send threw";
          ASSERT_EQ(seen[s][i], 0) << "duplicate";
          seen[s][i] = 1;
          ASSERT_GT(i, last[s]) << "per-sender order broken";
          last[s] = i;
        }
      }
      for (int s = 0; s < kSenders; ++s) {
        for (long i = 0; i < sent_ok[s]; ++i) ASSERT_EQ(seen[s][i], 1) << "lost " << s << ":" << i;
        if (sent_ok[s] < kMax) ++interrupted;
      }
    }
  });
  EXPECT_GT(interrupted, 0) << "close never interrupted a sender: the race was not exercised";
}

INSTANTIATE_TEST_SUITE_P(Capacities, ChanStress, ::testing::Values(0u, 1u, 64u),
                         [](const ::testing::TestParamInfo<std::size_t>& p) {
                           return "cap" + std::to_string(p.param);
                         });

TEST(SelectStress, FanOutFanInOverFourChannels) {
  constexpr int kChans = 4, kProducers = 6, kConsumers = 6;
  const long per_producer = 150000 / kScale;
  const long total = kProducers * per_producer;
  Ledger ledger(static_cast<std::size_t>(total));
  run_with(4, [&] {
    std::array<Chan<long>, kChans> ch{Chan<long>(0), Chan<long>(1), Chan<long>(0), Chan<long>(16)};
    goro::WaitGroup producers, consumers;
    std::array<std::atomic<long>, kChans> per_chan{};
    for (int p = 0; p < kProducers; ++p) {
      producers.add(1);
      goro::go([&, p] {
        for (long i = 0; i < per_producer; ++i) {
          const long v = p * per_producer + i;
          // The value goes to exactly one of the channels.
          goro::select(goro::send(ch[0], v), goro::send(ch[1], v), goro::send(ch[2], v),
                       goro::send(ch[3], v));
        }
        producers.done();
      });
    }
    for (int c = 0; c < kConsumers; ++c) {
      consumers.add(1);
      goro::go([&] {
        // Go's idiom: a closed input is replaced by a nil channel.
        std::array<Chan<long>, kChans> in = ch;
        int open = kChans;
        while (open > 0) {
          auto on = [&](int k) {
            return [&, k](std::optional<long> v) {
              if (!v) {
                in[k] = Chan<long>();
                --open;
                return;
              }
              per_chan[k].fetch_add(1, std::memory_order_relaxed);
              ledger.mark(*v);
            };
          };
          goro::select(goro::recv(in[0], on(0)), goro::recv(in[1], on(1)), goro::recv(in[2], on(2)),
                       goro::recv(in[3], on(3)));
        }
        consumers.done();
      });
    }
    producers.wait();
    for (auto& c : ch) c.close();
    consumers.wait();
    for (auto& c : ch) EXPECT_TRUE(goro_test::no_waiters(c));
    long sum = 0;
    for (auto& n : per_chan) {
      EXPECT_GT(n.load(), 0);  // every channel was used
      sum += n.load();
    }
    EXPECT_EQ(sum, total);
  });
  ledger.expect_each_once();
}

TEST(SelectStress, SelectsThatSendAndReceiveOnSharedChannels) {
  // Workers each send their quota through selects that also receive; a drainer makes
  // sure sends can always complete. Every value is received exactly once, by a worker
  // or by the drainer.
  constexpr int kWorkers = 8;
  const long quota = 60000 / kScale;
  const long total = kWorkers * quota;
  Ledger ledger(static_cast<std::size_t>(total));
  run_with(4, [&] {
    Chan<long> a(0), b(2);
    goro::WaitGroup workers, drainers;
    for (int w = 0; w < kWorkers; ++w) {
      workers.add(1);
      goro::go([&, w] {
        long next = 0;
        while (next < quota) {
          const long v = w * quota + next;
          goro::select(goro::send(a, v, [&] { ++next; }), goro::send(b, v, [&] { ++next; }),
                       goro::recv(a, [&](std::optional<long> x) { ledger.mark(*x); }),
                       goro::recv(b, [&](std::optional<long> x) { ledger.mark(*x); }));
        }
        workers.done();
      });
    }
    for (Chan<long>* c : {&a, &b}) {
      drainers.add(1);
      goro::go([&, c] {
        for (long& v : *c) ledger.mark(v);
        drainers.done();
      });
    }
    workers.wait();
    a.close();
    b.close();
    drainers.wait();
    EXPECT_TRUE(goro_test::no_waiters(a));
    EXPECT_TRUE(goro_test::no_waiters(b));
  });
  ledger.expect_each_once();
}

TEST(SelectStress, PollingSelectsWithDefault) {
  // Pollers spin with select+default (the lock-free fast paths and the locked pass 1)
  // while blocking producers feed them; nothing is lost or duplicated.
  constexpr int kProducers = 4, kPollers = 4;
  const long per_producer = 100000 / kScale;
  const long total = kProducers * per_producer;
  Ledger ledger(static_cast<std::size_t>(total));
  run_with(4, [&] {
    Chan<long> a(0), b(8);
    goro::WaitGroup producers, pollers;
    std::atomic<bool> stop{false};
    for (int p = 0; p < kProducers; ++p) {
      producers.add(1);
      goro::go([&, p] {
        Chan<long>& c = (p % 2 == 0) ? a : b;
        for (long i = 0; i < per_producer; ++i) c.send(p * per_producer + i);
        producers.done();
      });
    }
    for (int q = 0; q < kPollers; ++q) {
      pollers.add(1);
      goro::go([&] {
        bool done = false;
        while (!done) {
          const bool stopping = stop.load();
          bool got = false;
          auto mark = [&](std::optional<long> v) {
            ledger.mark(*v);
            got = true;
          };
          goro::select(goro::recv(a, mark), goro::recv(b, mark), goro::default_case([] { goro::yield(); }));
          // Nothing was ready although every producer had finished before we looked:
          // nothing ever will be.
          if (stopping && !got) done = true;
        }
        pollers.done();
      });
    }
    producers.wait();
    stop.store(true);
    pollers.wait();
    EXPECT_TRUE(goro_test::no_waiters(a));
    EXPECT_TRUE(goro_test::no_waiters(b));
  });
  ledger.expect_each_once();
}

TEST(ChanStressPipeline, LongChainOfUnbufferedStages) {
  // 200 goroutines in a line, each passing values on: park/ready on every hop.
  constexpr int kStages = 200;
  constexpr long values = 20000 / kScale;
  run_with(4, [&] {
    std::vector<Chan<long>> links;
    for (int i = 0; i <= kStages; ++i) links.emplace_back(i % 4 == 0 ? 1 : 0);
    goro_test::Group group;
    for (int i = 0; i < kStages; ++i) {
      group.go([in = links[i], out = links[i + 1]]() mutable {
        for (long& v : in) out.send(v + 1);
        out.close();
      });
    }
    group.go([first = links[0]]() mutable {
      for (long v = 0; v < values; ++v) first.send(v);
      first.close();
    });
    long expect = kStages;
    for (long& v : links[kStages]) EXPECT_EQ(v, expect++);
    EXPECT_EQ(expect, kStages + values);
    group.wait();
  });
}

}  // namespace

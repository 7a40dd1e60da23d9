// context_stress_test.cpp — contexts created, cancelled, timed out and dropped by many
// goroutines at once on 2 Ps: a parent's cancel racing its children's own cancels and
// their timers, trees churned under a shared root, error groups failing at random.
// Every run ends by checking that no context state is left alive (the debug counter)
// and, under ASan, that none leaked or was freed twice. Counts are cut 4x under TSan,
// and GORO_STRESS_SCALE=<k> multiplies them.
#include <goro/core/context.hpp>
#include <goro/core/errgroup.hpp>
#include <goro/core/mutex.hpp>
#include <goro/core/runtime.hpp>
#include <goro/core/select.hpp>
#include <goro/core/time.hpp>
#include <goro/core/wait_group.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <random>
#include <vector>

#include "stress_scale.hpp"

using namespace std::chrono_literals;

namespace {

using goro_test::scaled;

using goro::ContextError;

const goro::ContextKey<int> kKey;

bool is_done(const goro::Context& ctx) { return ctx.done().try_recv().closed(); }

// Yields until every context state made since `live0` is gone (a timer callback may
// still be dropping its reference), failing after a few seconds.
void expect_all_freed(std::int64_t live0) {
  const auto limit = goro::Clock::now() + 10s;
  while (goro::detail::context_live_states() != live0 && goro::Clock::now() < limit) goro::sleep(1ms);
  EXPECT_EQ(goro::detail::context_live_states(), live0);
}

// A parent's cancel races its child's own cancel and the child's (very short) timer.
// Whatever wins, both end cancelled, the child's reason is one of the three, the parent
// has no children left, and nothing leaks.
TEST(ContextStress, ParentChildAndTimerRace) {
  const std::int64_t live0 = goro::detail::context_live_states();
  goro::run(goro::Config{.max_procs = 2}, [&] {
    const std::int64_t rounds = scaled(400000);
    std::mt19937 rng(1);
    goro::Chan<goro::CancelFunc> to_a(0), to_b(0);
    goro::Chan<int> finished(2);
    goro::WaitGroup cancellers;
    for (goro::Chan<goro::CancelFunc>* in : {&to_a, &to_b}) {
      cancellers.add(1);
      goro::go([&, in] {
        for (goro::CancelFunc& c : *in) {
          c();
          c = goro::CancelFunc();  // drop our reference before reporting
          finished.send(1);
        }
        cancellers.done();
      });
    }
    for (std::int64_t r = 0; r < rounds; ++r) {
      auto [parent, cancel_parent] = goro::with_cancel(goro::background());
      const int kind = static_cast<int>(rng() % 3);
      goro::ContextWithCancel child = kind == 0   ? goro::with_cancel(parent)
                                      : kind == 1 ? goro::with_timeout(parent, std::chrono::microseconds(rng() % 20))
                                                  : goro::with_cancel(goro::with_value(parent, kKey, 1));
      auto [grandchild, cancel_gc] = goro::with_timeout(child.ctx, 1h);
      // Two long-lived goroutines cancel (spawning two per round would mostly measure
      // goroutine creation, which is slow under TSan).
      to_a.send(cancel_parent);
      to_b.send(child.cancel);
      finished.recv();
      finished.recv();
      EXPECT_EQ(parent.err(), ContextError::kCanceled);
      const std::error_code e = child.ctx.err();
      EXPECT_TRUE(e == ContextError::kCanceled || e == ContextError::kDeadlineExceeded) << e.message();
      EXPECT_TRUE(is_done(child.ctx));
      EXPECT_TRUE(grandchild.err());
      EXPECT_FALSE(goro::detail::context_timer_pending(grandchild));
      EXPECT_EQ(goro::detail::context_child_count(parent), 0u);
      EXPECT_EQ(goro::detail::context_child_count(child.ctx), 0u);
    }
    to_a.close();
    to_b.close();
    cancellers.wait();
    expect_all_freed(live0);
  });
  EXPECT_EQ(goro::detail::context_live_states(), live0);
}

// Many goroutines build and tear down small subtrees under a few shared "mid" contexts,
// which a churner keeps cancelling and replacing, under one root. Leaves are cancelled,
// time out, or are just dropped; some goroutines block on done(). At the end the root is
// cancelled and every state must be gone.
// Go's contract, both ways: once Err reports a reason, Done is closed; once Done is
// closed, Err reports a reason. Goroutines on another P spin on err() (and on done())
// while the context is cancelled, with waiters parked on done so that closing it takes
// a while. The canceller used to store the reason before closing done, so err() could
// report it while done was still open (seen once in ConcurrentTreesUnderChurningParents).
TEST(ContextStress, ErrAndDoneAgreeWhileACancelRuns) {
  const std::int64_t rounds = scaled(40000);
  std::atomic<std::int64_t> err_before_done{0}, done_before_err{0};
  goro::run(goro::Config{.max_procs = 3}, [&] {
    for (std::int64_t r = 0; r < rounds; ++r) {
      goro::ContextWithCancel c = goro::with_cancel(goro::background());
      goro::WaitGroup wg;
      for (int w = 0; w < 8; ++w) {
        wg.add(1);
        goro::go([&] {
          goro::select(goro::recv(c.ctx.done()));
          wg.done();
        });
      }
      wg.add(2);
      goro::go([&] {
        for (int k = 1; !c.ctx.err(); ++k) {
          if (k % 1024 == 0) goro::yield();  // the canceller needs a P too
        }
        // relaxed: counters read after run()
        if (!is_done(c.ctx)) err_before_done.fetch_add(1, std::memory_order_relaxed);
        wg.done();
      });
      goro::go([&] {
        for (int k = 1; !is_done(c.ctx); ++k) {
          if (k % 1024 == 0) goro::yield();
        }
        if (!c.ctx.err()) done_before_err.fetch_add(1, std::memory_order_relaxed);
        wg.done();
      });
      goro::yield();
      c.cancel();
      wg.wait();
    }
  });
  EXPECT_EQ(err_before_done.load(), 0);
  EXPECT_EQ(done_before_err.load(), 0);
}

TEST(ContextStress, ConcurrentTreesUnderChurningParents) {
  const std::int64_t live0 = goro::detail::context_live_states();
  goro::run(goro::Config{.max_procs = 2}, [&] {
    goro::ContextWithCancel top = goro::with_cancel(goro::background());
    const goro::Context& root = top.ctx;  // (not a structured binding: lambdas capture it)
    constexpr int kMids = 8;
    goro::Mutex mu;
    std::vector<goro::ContextWithCancel> mids;  // guarded by mu
    for (int i = 0; i < kMids; ++i) mids.push_back(goro::with_cancel(root));

    const int workers = 64;
    const std::int64_t iters = scaled(20000);
    std::atomic<bool> stop{false};
    std::atomic<std::int64_t> waited{0};
    std::atomic<std::int64_t> checked{0};
    goro::WaitGroup churner_done;
    goro::WaitGroup wg;  // the workers

    churner_done.add(1);
    goro::go([&] {  // the churner
      std::mt19937 rng(99);
      while (!stop.load(std::memory_order_relaxed)) {
        goro::ContextWithCancel fresh = (rng() % 2 != 0) ? goro::with_cancel(root)
                                                         : goro::with_timeout(root, std::chrono::microseconds(rng() % 500));
        goro::ContextWithCancel old;
        {
          std::lock_guard<goro::Mutex> l(mu);
          std::swap(mids[rng() % kMids], fresh);
          old = std::move(fresh);
        }
        old.cancel();
        EXPECT_TRUE(old.ctx.err());
        goro::yield();
      }
      churner_done.done();
    });

    for (int w = 0; w < workers; ++w) {
      wg.add(1);
      goro::go([&, w] {
        std::mt19937 rng(static_cast<unsigned>(w) + 1);
        for (std::int64_t i = 0; i < iters; ++i) {
          goro::Context base;
          {
            std::lock_guard<goro::Mutex> l(mu);
            base = mids[rng() % kMids].ctx;
          }
          // A chain of 1-4 levels below base.
          std::vector<goro::ContextWithCancel> chain;
          goro::Context cur = base;
          const int depth = 1 + static_cast<int>(rng() % 4);
          for (int d = 0; d < depth; ++d) {
            switch (rng() % 4) {
              case 0: chain.push_back(goro::with_timeout(cur, std::chrono::microseconds(rng() % 300))); break;
              case 1: cur = goro::with_value(cur, kKey, d); continue;
              default: chain.push_back(goro::with_cancel(cur)); break;
            }
            cur = chain.back().ctx;
          }
          // A cancelled ancestor means a cancelled descendant, at once: a reason is set
          // only after the whole subtree is cancelled, and a child linked later is
          // cancelled as it is made.
          if (base.err()) {
            EXPECT_TRUE(cur.err());
            EXPECT_TRUE(is_done(cur));
            checked.fetch_add(1, std::memory_order_relaxed);
          }
          switch (rng() % 4) {
            case 0:  // cancel one level: it and everything below are cancelled
              if (!chain.empty()) {
                std::size_t k = rng() % chain.size();
                chain[k].cancel();
                for (std::size_t j = k; j < chain.size(); ++j) EXPECT_TRUE(is_done(chain[j].ctx));
              }
              break;
            case 1:  // block until a timeout somewhere (or a churned parent) fires
              if (!chain.empty()) {
                auto [t, cancel_t] = goro::with_timeout(cur, std::chrono::microseconds(rng() % 200));
                goro::select(goro::recv(t.done()));
                EXPECT_TRUE(t.err());
                waited.fetch_add(1, std::memory_order_relaxed);
              }
              break;
            case 2:  // a non-blocking look
              goro::select(goro::recv(cur.done()), goro::default_case());
              break;
            default:  // just drop it all, uncancelled
              break;
          }
          if (rng() % 16 == 0) goro::yield();
        }
        wg.done();
      });
    }

    wg.wait();
    stop.store(true);
    churner_done.wait();
    top.cancel();
    {
      std::lock_guard<goro::Mutex> l(mu);
      for (auto& m : mids) EXPECT_TRUE(m.ctx.err());
      mids.clear();
    }
    EXPECT_EQ(goro::detail::context_child_count(root), 0u);
    EXPECT_GT(waited.load() + checked.load(), 0);
    expect_all_freed(live0 + 1);  // the root is still held here
  });
  EXPECT_EQ(goro::detail::context_live_states(), live0);
}

// Error groups racing: each task fails at random (code, exception, or not at all);
// wait() reports a failure iff one happened, and always one that did.
TEST(ContextStress, ErrGroupsFailingAtRandom) {
  const std::int64_t live0 = goro::detail::context_live_states();
  goro::run(goro::Config{.max_procs = 2}, [&] {
    const std::int64_t groups = scaled(20000);
    goro::WaitGroup all;
    for (int p = 0; p < 8; ++p) {
      all.add(1);
      goro::go([&, p] {
        std::mt19937 rng(static_cast<unsigned>(p) * 7919 + 3);
        for (std::int64_t gi = 0; gi < groups / 8; ++gi) {
          goro::ErrGroup g;
          if (rng() % 4 == 0) g.set_limit(1 + static_cast<int>(rng() % 3));
          const int n = 1 + static_cast<int>(rng() % 8);
          std::atomic<int> failed{0};
          for (int t = 0; t < n; ++t) {
            const unsigned what = rng() % 6;
            g.go([&, what]() -> std::error_code {
              if (what == 0) {
                failed.fetch_add(1);
                return std::make_error_code(std::errc::io_error);
              }
              if (what == 1) {
                failed.fetch_add(1);
                throw 42;
              }
              if (what == 2) {  // waits for a failure elsewhere or for wait() to cancel
                goro::select(goro::recv(g.context().done()), goro::default_case());
              }
              return {};
            });
          }
          bool threw = false;
          std::error_code ec;
          try {
            ec = g.wait();
          } catch (int v) {
            threw = true;
            EXPECT_EQ(v, 42);
          }
          if (failed.load() == 0) {
            EXPECT_FALSE(threw);
            EXPECT_FALSE(ec);
          } else {
            EXPECT_TRUE(threw || ec == std::errc::io_error);
          }
          EXPECT_TRUE(g.context().err());
        }
        all.done();
      });
    }
    all.wait();
    expect_all_freed(live0);
  });
  EXPECT_EQ(goro::detail::context_live_states(), live0);
}

}  // namespace

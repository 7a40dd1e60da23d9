// Contexts: cancellation reaching every descendant of a wide and deep tree, the reasons
// (err), timeouts and deadlines (inheritance, early cancel deleting the timer), children
// of cancelled parents, idempotent cancel, children leaving their parent, values; and
// ErrGroup: no errors, first error (code or exception) cancels the rest and is returned,
// limits, the destructor. Timing bounds are loose (10x or more).
#include <goro/core/context.hpp>
#include <goro/core/errgroup.hpp>
#include <goro/goro.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

using goro::ContextError;

template <class F>
void run_with(int procs, F&& f) {
  goro::run(goro::Config{.max_procs = procs}, std::forward<F>(f));
}

// Whether ctx's done() is closed right now (a receive would not block).
bool is_done(const goro::Context& ctx) {
  auto r = ctx.done().try_recv();
  return r.closed();
}

// Blocks in a select on ctx.done() (with another, never-ready case to make it a real
// select); returns ctx.err() seen right after waking.
std::error_code wait_done(const goro::Context& ctx) {
  goro::Chan<int> never(0);
  bool woke = false;
  goro::select(goro::recv(never), goro::recv(ctx.done(), [&] { woke = true; }));
  EXPECT_TRUE(woke);
  return ctx.err();
}

const goro::ContextKey<std::string> kName;
const goro::ContextKey<int> kNumber;

TEST(Context, Background) {
  goro::Context bg = goro::background();
  EXPECT_FALSE(bg.err());
  EXPECT_FALSE(bg.deadline().has_value());
  EXPECT_FALSE(static_cast<bool>(bg.done()));  // nil channel: never ready
  EXPECT_EQ(bg, goro::Context());
  run_with(1, [&] {
    std::size_t i = goro::select(goro::recv(bg.done()), goro::default_case());
    EXPECT_EQ(i, 1u);
  });
}

TEST(Context, CancelReachesEveryDescendantOfADeepWideTree) {
  for (int procs : {1, 2, 4}) {
    const std::int64_t live0 = goro::detail::context_live_states();
    run_with(procs, [&] {
      auto [root, cancel] = goro::with_cancel(goro::background());
      // 3 levels x 10 children: 10 + 100 + 1000 nodes, mixing plain cancel contexts,
      // long timeouts and value contexts (which cancel with their anchor).
      std::vector<goro::Context> nodes;
      std::vector<goro::CancelFunc> cancels;  // kept, never called: the root's cancel must do it
      std::vector<goro::Context> level{root};
      for (int depth = 0; depth < 3; ++depth) {
        std::vector<goro::Context> next;
        for (const goro::Context& p : level) {
          for (int i = 0; i < 10; ++i) {
            if (i % 5 == 3) {
              next.push_back(goro::with_value(p, kNumber, i));
            } else if (i % 5 == 4) {
              auto [c, cf] = goro::with_timeout(p, 1h);
              next.push_back(c);
              cancels.push_back(cf);
            } else {
              auto [c, cf] = goro::with_cancel(p);
              next.push_back(c);
              cancels.push_back(cf);
            }
          }
        }
        nodes.insert(nodes.end(), next.begin(), next.end());
        level = std::move(next);
      }
      ASSERT_EQ(nodes.size(), 1110u);
      // Value contexts are not registered; the cancellable ones beneath them register
      // with the nearest cancellable ancestor: 8 + 2*8 (under level-1 values) + 2*2*8.
      EXPECT_EQ(goro::detail::context_child_count(root), 56u);

      std::atomic<int> parked{0};
      std::atomic<int> woke{0};
      goro::WaitGroup wg;
      for (const goro::Context& n : nodes) {
        wg.add(1);
        goro::go([&, n] {
          parked.fetch_add(1);
          EXPECT_EQ(wait_done(n), ContextError::kCanceled);
          woke.fetch_add(1);
          wg.done();
        });
      }
      while (parked.load() < static_cast<int>(nodes.size())) goro::yield();
      goro::sleep(10ms);  // let them park in select
      EXPECT_EQ(woke.load(), 0);
      cancel();
      wg.wait();
      EXPECT_EQ(woke.load(), 1110);
      for (const goro::Context& n : nodes) {
        EXPECT_TRUE(is_done(n));
        EXPECT_EQ(n.err(), ContextError::kCanceled);
        EXPECT_EQ(goro::detail::context_child_count(n), 0u);
        EXPECT_FALSE(goro::detail::context_timer_pending(n));  // the hour-long timers are gone
      }
      EXPECT_EQ(goro::detail::context_child_count(root), 0u);
    });
    EXPECT_EQ(goro::detail::context_live_states(), live0) << "procs=" << procs;
  }
}

TEST(Context, AReasonIsSetOnlyOnceTheWholeSubtreeIsCancelled) {
  run_with(2, [] {
    for (int round = 0; round < 20; ++round) {
      auto [root, cancel] = goro::with_cancel(goro::background());
      std::vector<goro::ContextWithCancel> mids;
      std::vector<goro::ContextWithCancel> leaves;
      for (int i = 0; i < 30; ++i) {
        mids.push_back(goro::with_cancel(root));
        for (int j = 0; j < 30; ++j) leaves.push_back(goro::with_timeout(mids.back().ctx, 1h));
      }
      std::atomic<bool> go_on{false};
      goro::WaitGroup wg;
      wg.add(1);
      goro::go([&, root = root] {  // on the other P: spins until it sees the reason
        go_on.store(true);
        while (!root.err()) goro::yield();
        for (auto& l : leaves) EXPECT_TRUE(l.ctx.err() && is_done(l.ctx));
        wg.done();
      });
      while (!go_on.load()) goro::yield();
      // Meanwhile a concurrent cancel of one mid must not return before its leaves are done.
      wg.add(1);
      goro::go([&, m = mids[round % 30]] {
        m.cancel();
        for (int j = 0; j < 30; ++j) EXPECT_TRUE(leaves[(round % 30) * 30 + j].ctx.err());
        wg.done();
      });
      cancel();
      wg.wait();
    }
  });
}

TEST(Context, ErrReasons) {
  run_with(2, [] {
    auto [a, cancel_a] = goro::with_cancel(goro::background());
    EXPECT_FALSE(a.err());
    EXPECT_FALSE(is_done(a));
    cancel_a();
    std::error_code e = a.err();
    EXPECT_EQ(e, ContextError::kCanceled);
    EXPECT_EQ(e, std::errc::operation_canceled);
    EXPECT_EQ(e.message(), "context canceled");
    EXPECT_STREQ(e.category().name(), "goro.context");

    auto [b, cancel_b] = goro::with_timeout(goro::background(), 1ms);
    EXPECT_EQ(wait_done(b), ContextError::kDeadlineExceeded);
    e = b.err();
    EXPECT_EQ(e, std::errc::timed_out);
    EXPECT_NE(e, ContextError::kCanceled);
    EXPECT_EQ(e.message(), "context deadline exceeded");
    cancel_b();  // after the fact: changes nothing
    EXPECT_EQ(b.err(), ContextError::kDeadlineExceeded);
  });
}

TEST(Context, TimeoutFires) {
  for (int procs : {1, 2}) {
    const std::int64_t live0 = goro::detail::context_live_states();
    run_with(procs, [] {
      auto t0 = goro::Clock::now();
      auto [ctx, cancel] = goro::with_timeout(goro::background(), 30ms);
      auto [child, cancel_child] = goro::with_cancel(ctx);
      EXPECT_TRUE(goro::detail::context_timer_pending(ctx));
      EXPECT_FALSE(goro::detail::context_timer_pending(child));  // inherits, no own timer
      EXPECT_EQ(wait_done(child), ContextError::kDeadlineExceeded);
      auto took = goro::Clock::now() - t0;
      EXPECT_GE(took, 30ms);
      EXPECT_LT(took, 3s);  // loose: catches a lost timer, not a slow one
      EXPECT_EQ(ctx.err(), ContextError::kDeadlineExceeded);
      EXPECT_FALSE(goro::detail::context_timer_pending(ctx));
      EXPECT_EQ(goro::detail::context_child_count(ctx), 0u);
    });
    // The fired timer dropped its reference: nothing left.
    EXPECT_EQ(goro::detail::context_live_states(), live0);
  }
}

TEST(Context, TimeoutWithNobodyHoldingTheContextStillFiresAndFrees) {
  const std::int64_t live0 = goro::detail::context_live_states();
  run_with(2, [&] {
    goro::Chan<goro::Signal> done;
    {
      auto [ctx, cancel] = goro::with_timeout(goro::background(), 5ms);
      done = ctx.done();
    }  // only the armed timer holds the context now
    EXPECT_GT(goro::detail::context_live_states(), live0);
    EXPECT_FALSE(done.recv().has_value());  // closed by the timer
    auto t0 = goro::Clock::now();
    while (goro::detail::context_live_states() != live0 && goro::Clock::now() - t0 < 5s) goro::yield();
    EXPECT_EQ(goro::detail::context_live_states(), live0);
  });
}

TEST(Context, DeadlineInheritance) {
  run_with(2, [] {
    EXPECT_FALSE(goro::background().deadline());
    auto [parent, cancel_parent] = goro::with_timeout(goro::background(), 1h);
    ASSERT_TRUE(parent.deadline());
    const auto pd = *parent.deadline();
    EXPECT_GT(pd, goro::Clock::now() + 59min);

    // Later than the parent's: the parent's applies, and the child has no timer.
    auto [later, cancel_later] = goro::with_timeout(parent, 2h);
    EXPECT_EQ(later.deadline(), pd);
    EXPECT_FALSE(goro::detail::context_timer_pending(later));
    auto [later2, cancel_later2] = goro::with_deadline(parent, pd);
    EXPECT_EQ(later2.deadline(), pd);
    EXPECT_FALSE(goro::detail::context_timer_pending(later2));

    // Earlier: its own, with a timer.
    auto [earlier, cancel_earlier] = goro::with_timeout(parent, 10min);
    ASSERT_TRUE(earlier.deadline());
    EXPECT_LT(*earlier.deadline(), pd);
    EXPECT_TRUE(goro::detail::context_timer_pending(earlier));

    // Plain cancel and value children inherit the nearest deadline.
    auto [plain, cancel_plain] = goro::with_cancel(earlier);
    EXPECT_EQ(plain.deadline(), earlier.deadline());
    goro::Context val = goro::with_value(plain, kNumber, 7);
    EXPECT_EQ(val.deadline(), earlier.deadline());
    goro::Context bg_val = goro::with_value(goro::background(), kNumber, 7);
    EXPECT_FALSE(bg_val.deadline());

    // An absolute deadline.
    const auto abs = goro::Clock::now() + 5min;
    auto [absolute, cancel_abs] = goro::with_deadline(parent, abs);
    EXPECT_EQ(absolute.deadline(), abs);

    // time_point::max() means none.
    auto [never, cancel_never] = goro::with_deadline(goro::background(), goro::Clock::time_point::max());
    EXPECT_FALSE(never.deadline());
    EXPECT_FALSE(goro::detail::context_timer_pending(never));
    auto [huge, cancel_huge] = goro::with_timeout(goro::background(), goro::Duration::max());
    EXPECT_FALSE(huge.deadline());  // saturates to "none"

    cancel_parent();  // cancels every one of them (and deletes their timers)
    for (const goro::Context* c : {&later, &later2, &earlier, &plain, &val, &absolute}) {
      EXPECT_EQ(c->err(), ContextError::kCanceled);
      EXPECT_FALSE(goro::detail::context_timer_pending(*c));
    }
    EXPECT_FALSE(never.err());
    cancel_never();
    cancel_huge();
  });
}

TEST(Context, ParentDeadlineReachesChildrenWithLaterDeadlines) {
  run_with(2, [] {
    auto [parent, cancel_parent] = goro::with_timeout(goro::background(), 10ms);
    auto [child, cancel_child] = goro::with_timeout(parent, 1h);
    auto [grandchild, cancel_gc] = goro::with_cancel(child);
    EXPECT_EQ(wait_done(grandchild), ContextError::kDeadlineExceeded);
    EXPECT_EQ(child.err(), ContextError::kDeadlineExceeded);
  });
}

TEST(Context, DeadlineAlreadyPast) {
  run_with(1, [] {
    auto [ctx, cancel] = goro::with_deadline(goro::background(), goro::Clock::now() - 1s);
    EXPECT_EQ(ctx.err(), ContextError::kDeadlineExceeded);
    EXPECT_TRUE(is_done(ctx));
    EXPECT_FALSE(goro::detail::context_timer_pending(ctx));
    auto [zero, cancel_zero] = goro::with_timeout(goro::background(), 0ns);
    EXPECT_EQ(zero.err(), ContextError::kDeadlineExceeded);
    auto [neg, cancel_neg] = goro::with_timeout(goro::background(), -5s);
    EXPECT_EQ(neg.err(), ContextError::kDeadlineExceeded);
  });
}

TEST(Context, EarlyCancelStopsTheTimer) {
  const std::int64_t live0 = goro::detail::context_live_states();
  run_with(2, [&] {
    {
      auto [ctx, cancel] = goro::with_timeout(goro::background(), 1h);
      EXPECT_TRUE(goro::detail::context_timer_pending(ctx));
      cancel();
      EXPECT_FALSE(goro::detail::context_timer_pending(ctx));
      EXPECT_EQ(ctx.err(), ContextError::kCanceled);
    }
    // Had the timer kept its reference, the state would live for an hour.
    EXPECT_EQ(goro::detail::context_live_states(), live0);

    // Through a parent: the child's timer goes too.
    {
      auto [parent, cancel_parent] = goro::with_cancel(goro::background());
      auto [child, cancel_child] = goro::with_timeout(parent, 1h);
      EXPECT_TRUE(goro::detail::context_timer_pending(child));
      cancel_parent();
      EXPECT_FALSE(goro::detail::context_timer_pending(child));
      EXPECT_EQ(child.err(), ContextError::kCanceled);
    }
    EXPECT_EQ(goro::detail::context_live_states(), live0);

    // A short timeout cancelled first keeps the first reason, even once its time passes.
    auto [ctx, cancel] = goro::with_timeout(goro::background(), 5ms);
    cancel();
    goro::sleep(30ms);
    EXPECT_EQ(ctx.err(), ContextError::kCanceled);
  });
}

TEST(Context, ChildOfCancelledParentIsCancelledAtOnce) {
  run_with(2, [] {
    auto [parent, cancel] = goro::with_cancel(goro::background());
    cancel();
    auto [child, cancel_child] = goro::with_cancel(parent);
    EXPECT_EQ(child.err(), ContextError::kCanceled);
    EXPECT_TRUE(is_done(child));
    auto [timed, cancel_timed] = goro::with_timeout(parent, 1h);
    EXPECT_EQ(timed.err(), ContextError::kCanceled);  // the parent's reason, not a deadline
    EXPECT_FALSE(goro::detail::context_timer_pending(timed));
    goro::Context val = goro::with_value(parent, kNumber, 1);
    EXPECT_EQ(val.err(), ContextError::kCanceled);
    auto [grandchild, cancel_gc] = goro::with_cancel(val);
    EXPECT_EQ(grandchild.err(), ContextError::kCanceled);
    EXPECT_EQ(goro::detail::context_child_count(parent), 0u);

    // The parent's reason is inherited: deadline exceeded too.
    auto [expired, cancel_expired] = goro::with_timeout(goro::background(), 0ns);
    auto [late, cancel_late] = goro::with_cancel(expired);
    EXPECT_EQ(late.err(), ContextError::kDeadlineExceeded);
  });
}

TEST(Context, CancelIsIdempotentAndTheFirstReasonSticks) {
  run_with(4, [] {
    for (int round = 0; round < 200; ++round) {
      auto [parent, cancel_parent] = goro::with_cancel(goro::background());
      auto [ctx, cancel] = goro::with_cancel(parent);
      goro::WaitGroup wg;
      for (int i = 0; i < 8; ++i) {
        wg.add(1);
        goro::go([&, cancel = cancel] {
          cancel();
          cancel();
          wg.done();
        });
      }
      cancel();
      wg.wait();
      EXPECT_EQ(ctx.err(), ContextError::kCanceled);
      EXPECT_EQ(goro::detail::context_child_count(parent), 0u);
      cancel_parent();
      cancel_parent();
      EXPECT_EQ(parent.err(), ContextError::kCanceled);
    }
    // A child cancelled on its own keeps kCanceled when its parent's deadline passes.
    auto [parent, cancel_parent] = goro::with_timeout(goro::background(), 5ms);
    auto [child, cancel_child] = goro::with_cancel(parent);
    cancel_child();
    EXPECT_EQ(wait_done(parent), ContextError::kDeadlineExceeded);
    EXPECT_EQ(child.err(), ContextError::kCanceled);
    goro::CancelFunc none;
    none();  // a default CancelFunc does nothing
    EXPECT_FALSE(static_cast<bool>(none));
  });
}

TEST(Context, ChildrenLeaveTheirParentWhenCancelledOrDropped) {
  const std::int64_t live0 = goro::detail::context_live_states();
  run_with(2, [&] {
    auto [parent, cancel_parent] = goro::with_cancel(goro::background());
    std::vector<goro::ContextWithCancel> kids;
    for (int i = 0; i < 100; ++i) kids.push_back(goro::with_cancel(parent));
    EXPECT_EQ(goro::detail::context_child_count(parent), 100u);
    for (int i = 0; i < 100; i += 2) kids[i].cancel();  // Go: removeChild
    EXPECT_EQ(goro::detail::context_child_count(parent), 50u);
    EXPECT_FALSE(parent.err());
    kids.clear();  // the other 50 were never cancelled: dropping them unlinks them
    EXPECT_EQ(goro::detail::context_child_count(parent), 0u);
    // A grandchild through a value context registers with the nearest cancellable one.
    goro::Context v = goro::with_value(parent, kName, "x");
    {
      auto [gc, cancel_gc] = goro::with_cancel(v);
      EXPECT_EQ(goro::detail::context_child_count(parent), 1u);
    }
    EXPECT_EQ(goro::detail::context_child_count(parent), 0u);
  });
  EXPECT_EQ(goro::detail::context_live_states(), live0);
}

TEST(Context, LongChainsNeitherRecurseNorLeak) {
  const std::int64_t live0 = goro::detail::context_live_states();
  run_with(1, [&] {
    auto [root, cancel] = goro::with_cancel(goro::background());
    goro::Context ctx = root;
    for (int i = 0; i < 100000; ++i) {
      ctx = (i % 3 == 0) ? goro::with_value(ctx, kNumber, i) : goro::with_cancel(ctx).ctx;
    }
    EXPECT_EQ(*ctx.value(kNumber), 99999);
    cancel();  // walks 66,666 cancellable levels without recursion
    EXPECT_EQ(ctx.err(), ContextError::kCanceled);
    ctx = goro::Context();  // frees 100,000 levels without recursion
  });
  EXPECT_EQ(goro::detail::context_live_states(), live0);
}

TEST(Context, Values) {
  run_with(1, [] {
    goro::Context bg;
    EXPECT_EQ(bg.value(kName), nullptr);
    goro::Context a = goro::with_value(bg, kName, "alice");
    goro::Context b = goro::with_value(a, kNumber, 42);
    auto [c, cancel] = goro::with_cancel(b);
    goro::Context d = goro::with_value(c, kName, std::string("dave"));
    ASSERT_NE(a.value(kName), nullptr);
    EXPECT_EQ(*a.value(kName), "alice");
    EXPECT_EQ(a.value(kNumber), nullptr);
    EXPECT_EQ(*c.value(kName), "alice");
    EXPECT_EQ(*c.value(kNumber), 42);
    EXPECT_EQ(*d.value(kName), "dave");  // the nearest wins
    EXPECT_EQ(*d.value(kNumber), 42);
    static const goro::ContextKey<std::string> kOther;  // same type, different key
    EXPECT_EQ(d.value(kOther), nullptr);
    // A value context on background can never be cancelled.
    EXPECT_FALSE(static_cast<bool>(a.done()));
    EXPECT_FALSE(a.err());
    // Under a cancellable one, it is cancelled with it.
    EXPECT_EQ(d.done(), c.done());
    cancel();
    EXPECT_EQ(d.err(), ContextError::kCanceled);
    // Move-only values work.
    static const goro::ContextKey<std::unique_ptr<int>> kPtr;
    goro::Context e = goro::with_value(bg, kPtr, std::make_unique<int>(5));
    EXPECT_EQ(**e.value(kPtr), 5);
  });
}

TEST(Context, CancelFromAThreadOutsideTheRuntime) {
  // The canceller is invisible to the deadlock detector.
  goro::run(goro::Config{.max_procs = 2, .detect_deadlocks = false}, [] {
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    std::thread t([cancel = cancel] {
      std::this_thread::sleep_for(10ms);
      cancel();
    });
    EXPECT_EQ(wait_done(ctx), ContextError::kCanceled);
    t.join();
  });
}

TEST(Context, HandlesAreCheapSharedCopies) {
  run_with(1, [] {
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    goro::Context copy = ctx;
    goro::Context moved = std::move(copy);
    EXPECT_EQ(moved, ctx);
    EXPECT_EQ(moved.done(), ctx.done());
    goro::CancelFunc cancel2 = cancel;
    cancel2();
    EXPECT_EQ(moved.err(), ContextError::kCanceled);
    auto [other, cancel_other] = goro::with_cancel(goro::background());
    EXPECT_FALSE(other == ctx);
  });
}

// ---------------------------------------------------------------------------------
// ErrGroup

TEST(ErrGroup, NoErrors) {
  run_with(2, [] {
    std::atomic<int> ran{0};
    goro::ErrGroup g;
    for (int i = 0; i < 100; ++i) {
      if (i % 2 == 0) {
        g.go([&] { ran.fetch_add(1); });
      } else {
        g.go([&]() -> std::error_code {
          ran.fetch_add(1);
          return {};
        });
      }
    }
    EXPECT_FALSE(g.wait());
    EXPECT_EQ(ran.load(), 100);
    EXPECT_EQ(g.context().err(), ContextError::kCanceled);  // Go: Wait cancels the context
    EXPECT_FALSE(g.wait());  // again: same outcome
  });
}

TEST(ErrGroup, FirstErrorCancelsTheRestAndIsReturned) {
  for (int procs : {1, 2}) {
    run_with(procs, [] {
      auto [parent, cancel_parent] = goro::with_cancel(goro::background());
      goro::ErrGroup g(parent);
      std::atomic<int> saw_cancel{0};
      for (int i = 0; i < 10; ++i) {
        g.go([&g, &saw_cancel]() -> std::error_code {
          std::error_code e = wait_done(g.context());
          if (e == ContextError::kCanceled) saw_cancel.fetch_add(1);
          return e;  // a later failure: must not replace the first
        });
      }
      g.go([]() -> std::error_code {
        goro::sleep(5ms);
        return std::make_error_code(std::errc::io_error);
      });
      EXPECT_EQ(g.wait(), std::errc::io_error);
      EXPECT_EQ(saw_cancel.load(), 10);
      EXPECT_FALSE(parent.err());  // the group's context is a child: the parent lives on
      EXPECT_EQ(goro::detail::context_child_count(parent), 0u);
    });
  }
}

TEST(ErrGroup, ExceptionIsCapturedCancelsTheRestAndIsRethrown) {
  run_with(2, [] {
    goro::ErrGroup g;
    std::atomic<int> stopped{0};
    for (int i = 0; i < 5; ++i) {
      g.go([&] {
        wait_done(g.context());
        stopped.fetch_add(1);
      });
    }
    g.go([] { throw std::runtime_error("boom"); });
    try {
      g.wait();
      ADD_FAILURE() << "wait() did not rethrow";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "boom");
    }
    EXPECT_EQ(stopped.load(), 5);
    EXPECT_THROW(g.wait(), std::runtime_error);  // the same outcome every time
  });
}

TEST(ErrGroup, ErrorCodeEnumsAndParentCancellation) {
  run_with(2, [] {
    auto [parent, cancel_parent] = goro::with_cancel(goro::background());
    goro::ErrGroup g(parent);
    g.go([&g] {
      // Returns a ContextError: converted to std::error_code.
      return wait_done(g.context()) ? ContextError::kCanceled : ContextError::kDeadlineExceeded;
    });
    goro::sleep(5ms);
    cancel_parent();  // the group's context follows its parent
    EXPECT_EQ(g.wait(), ContextError::kCanceled);
  });
}

TEST(ErrGroup, SetLimit) {
  run_with(4, [] {
    goro::ErrGroup g;
    g.set_limit(3);
    std::atomic<int> running{0};
    std::atomic<int> most{0};
    for (int i = 0; i < 40; ++i) {
      g.go([&] {
        int now = running.fetch_add(1) + 1;
        int m = most.load();
        while (now > m && !most.compare_exchange_weak(m, now)) {
        }
        goro::sleep(1ms);
        running.fetch_sub(1);
      });
    }
    EXPECT_THROW(g.set_limit(10), std::logic_error);  // tasks are running
    EXPECT_FALSE(g.wait());
    EXPECT_LE(most.load(), 3);
    EXPECT_GE(most.load(), 1);

    goro::ErrGroup h;
    h.set_limit(1);
    goro::Chan<int> release(0);
    EXPECT_TRUE(h.try_go([&] { release.recv(); }));
    EXPECT_FALSE(h.try_go([] {}));  // the one slot is taken
    release.send(1);
    EXPECT_FALSE(h.wait());
    EXPECT_TRUE(h.try_go([] {}));
    EXPECT_FALSE(h.wait());
    h.set_limit(-1);  // no limit
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(h.try_go([] {}));
    EXPECT_FALSE(h.wait());

    goro::ErrGroup z;
    z.set_limit(0);
    EXPECT_THROW(z.go([] {}), std::invalid_argument);
    EXPECT_FALSE(z.try_go([] {}));
    EXPECT_FALSE(z.wait());
  });
}

TEST(ErrGroup, DestructorCancelsAndWaits) {
  run_with(2, [] {
    std::atomic<int> finished{0};
    goro::Context ctx;
    {
      goro::ErrGroup g;
      ctx = g.context();
      for (int i = 0; i < 10; ++i) {
        g.go([&g, &finished] {
          wait_done(g.context());
          finished.fetch_add(1);
        });
      }
      goro::sleep(2ms);
    }  // no wait(): the destructor stops them and waits
    EXPECT_EQ(finished.load(), 10);
    EXPECT_EQ(ctx.err(), ContextError::kCanceled);
  });
}

TEST(ErrGroup, TasksStartTasks) {
  run_with(2, [] {
    goro::ErrGroup g;
    std::atomic<int> n{0};
    for (int i = 0; i < 10; ++i) {
      g.go([&] {
        for (int j = 0; j < 10; ++j) g.go([&] { n.fetch_add(1); });
      });
    }
    EXPECT_FALSE(g.wait());
    EXPECT_EQ(n.load(), 100);
  });
}

}  // namespace

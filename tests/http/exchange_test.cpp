// The server's pool of request state (http/src/exchange.hpp): last in, first out, so a
// busy server reuses what is still in cache; bounded, so a burst of connections does not
// pin memory; exchanges whose buffers grew are freed, not pooled. Outside a goroutine
// only the shared list is used; inside one, the running processor's slot comes first.
// (That connections hand exchanges to each other cleanly is
// Server.RequestStateMovesBetweenConnectionsCleanly.)
#include <gtest/gtest.h>

#include <goro/goro.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "../../http/src/exchange.hpp"

namespace http = goro::http;
using http::detail::Exchange;
using http::detail::ExchangePool;

namespace {

// Takes n exchanges, marks them, gives all back, takes n again: how many of those came
// back from the pool (marked) rather than new.
int kept_of(ExchangePool& pool, int n) {
  std::vector<std::unique_ptr<Exchange>> xs;
  for (int i = 0; i < n; ++i) {
    xs.push_back(pool.get());
    xs.back()->trailers.add("pooled", "yes");  // put() leaves trailers as they are
  }
  for (auto& x : xs) pool.put(std::move(x));
  int marked = 0;
  for (int i = 0; i < n; ++i) {
    std::unique_ptr<Exchange> x = pool.get();
    if (x->trailers.has("pooled")) ++marked;
    xs[i] = std::move(x);
  }
  return marked;
}

TEST(ExchangePool, NewExchangesHaveTheInitialBuffers) {
  ExchangePool pool;
  std::unique_ptr<Exchange> x = pool.get();
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->cap, Exchange::kBuffer);
  EXPECT_GE(x->out.capacity(), Exchange::kOut);
  EXPECT_TRUE(x->out.empty());
}

TEST(ExchangePool, LastReturnedIsFirstTaken) {
  ExchangePool pool;
  std::unique_ptr<Exchange> a = pool.get();
  std::unique_ptr<Exchange> b = pool.get();
  Exchange* pa = a.get();
  Exchange* pb = b.get();
  a->out = "left over";
  pool.put(std::move(a));
  pool.put(std::move(b));
  std::unique_ptr<Exchange> first = pool.get();
  std::unique_ptr<Exchange> second = pool.get();
  EXPECT_EQ(first.get(), pb);
  EXPECT_EQ(second.get(), pa);
  EXPECT_TRUE(second->out.empty());  // the output buffer comes back empty
  EXPECT_EQ(second->next_free, nullptr);
}

TEST(ExchangePool, KeepsAtMostMaxFree) {
  ExchangePool pool;
  EXPECT_EQ(kept_of(pool, ExchangePool::kMaxFree + 5), ExchangePool::kMaxFree);
}

TEST(ExchangePool, GrownExchangesAreFreedNotPooled) {
  ExchangePool pool;
  std::unique_ptr<Exchange> big_in = pool.get();
  big_in->buf = std::make_unique<char[]>(Exchange::kMaxPooledBuffer * 2);
  big_in->cap = Exchange::kMaxPooledBuffer * 2;
  big_in->trailers.add("grown", "in");
  pool.put(std::move(big_in));
  std::unique_ptr<Exchange> big_out = pool.get();
  EXPECT_FALSE(big_out->trailers.has("grown"));  // a new one
  big_out->out.reserve(Exchange::kMaxPooledBuffer * 2);
  big_out->trailers.add("grown", "out");
  pool.put(std::move(big_out));
  std::unique_ptr<Exchange> x = pool.get();
  EXPECT_FALSE(x->trailers.has("grown"));
  EXPECT_EQ(x->cap, Exchange::kBuffer);
  pool.put(nullptr);  // nothing to take back: ignored
}

// Inside a goroutine: the last exchange returned waits in the P's slot, the one before
// it on the list, and they come back in the same last-in-first-out order.
TEST(ExchangePool, InAGoroutineLastReturnedIsStillFirstTaken) {
  goro::Config cfg;
  cfg.max_procs = 1;
  goro::run(cfg, [] {
    ExchangePool pool;
    std::unique_ptr<Exchange> a = pool.get();
    std::unique_ptr<Exchange> b = pool.get();
    std::unique_ptr<Exchange> c = pool.get();
    Exchange* pa = a.get();
    Exchange* pb = b.get();
    Exchange* pc = c.get();
    pool.put(std::move(a));
    pool.put(std::move(b));
    pool.put(std::move(c));
    EXPECT_EQ(pool.get().release(), pc);
    std::unique_ptr<Exchange> second = pool.get();
    EXPECT_EQ(second.get(), pb);
    EXPECT_EQ(second->next_free, nullptr);
    std::unique_ptr<Exchange> third = pool.get();
    EXPECT_EQ(third.get(), pa);
    delete pc;
    // One more than the list keeps: with one P, the slot holds the last of them.
    EXPECT_EQ(kept_of(pool, ExchangePool::kMaxFree + 5), ExchangePool::kMaxFree + 1);
  });
}

// Goroutines on several Ps share one pool: every exchange taken is in use by one of them
// at a time (each writes its mark and finds it intact), and nothing is lost or freed
// twice (ASan/TSan runs of this test check that).
TEST(ExchangePool, GoroutinesOnSeveralProcessorsShareItSafely) {
  goro::Config cfg;
  cfg.max_procs = 4;
  goro::run(cfg, [] {
    ExchangePool pool;
    goro::WaitGroup wg;
    std::atomic<int> clashes{0};
    for (int g = 0; g < 8; ++g) {
      wg.add(1);
      goro::go([&, g] {
        for (int i = 0; i < 2000; ++i) {
          std::unique_ptr<Exchange> x = pool.get();
          x->out = std::to_string(g);
          if ((i & 7) == 0) goro::yield();
          if (x->out != std::to_string(g)) clashes.fetch_add(1);
          pool.put(std::move(x));
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(clashes.load(), 0);
  });
}

}  // namespace

// The per-P run queue on its own (no runtime running): owner semantics, runnext,
// overflow to the global queue, and concurrent stealing (nothing lost, nothing twice).
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "g.hpp"
#include "p.hpp"
#include "runq.hpp"
#include "sched.hpp"

namespace goro::detail {
namespace {

// Takes everything off the global queue (only the tests here put things there).
std::vector<G*> drain_global() {
  std::vector<G*> out;
  sched.lock.lock();
  for (G* g = sched.runq_head; g != nullptr; g = g->sched_link) out.push_back(g);
  sched.runq_head = sched.runq_tail = nullptr;
  sched.runqsize.store(0);
  sched.lock.unlock();
  return out;
}

TEST(RunQ, FifoRingAndRunnextFirst) {
  auto p = std::make_unique<P>();
  std::vector<G> gs(4);
  p->runq.put(p.get(), &gs[0], false);
  p->runq.put(p.get(), &gs[1], false);
  p->runq.put(p.get(), &gs[2], true);   // runnext
  p->runq.put(p.get(), &gs[3], true);   // replaces runnext; gs[2] goes to the tail
  EXPECT_EQ(p->runq.size(), 4u);
  bool inherit = false;
  EXPECT_EQ(p->runq.get(&inherit), &gs[3]);
  EXPECT_TRUE(inherit);
  EXPECT_EQ(p->runq.get(&inherit), &gs[0]);
  EXPECT_FALSE(inherit);
  EXPECT_EQ(p->runq.get(&inherit), &gs[1]);
  EXPECT_EQ(p->runq.get(&inherit), &gs[2]);
  EXPECT_EQ(p->runq.get(&inherit), nullptr);
  EXPECT_TRUE(p->runq.empty());
}

TEST(RunQ, OverflowMovesHalfPlusOneToGlobalInOneBatch) {
  drain_global();
  auto p = std::make_unique<P>();
  std::vector<G> gs(kRunqSize + 1);
  for (std::uint32_t i = 0; i < kRunqSize; ++i) p->runq.put(p.get(), &gs[i], false);
  EXPECT_EQ(p->runq.size(), kRunqSize);
  EXPECT_EQ(sched.runqsize.load(), 0);
  p->runq.put(p.get(), &gs[kRunqSize], false);
  // Half the ring (the oldest 128) plus the new G went global, in order.
  std::vector<G*> global = drain_global();
  ASSERT_EQ(global.size(), kRunqSize / 2 + 1);
  for (std::uint32_t i = 0; i < kRunqSize / 2; ++i) EXPECT_EQ(global[i], &gs[i]);
  EXPECT_EQ(global.back(), &gs[kRunqSize]);
  EXPECT_EQ(p->runq.size(), kRunqSize / 2);
  bool inherit;
  for (std::uint32_t i = kRunqSize / 2; i < kRunqSize; ++i) EXPECT_EQ(p->runq.get(&inherit), &gs[i]);
}

TEST(RunQ, StealTakesHalfRoundedUp) {
  auto victim = std::make_unique<P>();
  auto thief = std::make_unique<P>();
  std::vector<G> gs(7);
  for (auto& g : gs) victim->runq.put(victim.get(), &g, false);
  G* got = thief->runq.steal_from(victim->runq, false);
  ASSERT_NE(got, nullptr);
  // 4 of 7 stolen: one returned, three in the thief's ring.
  EXPECT_EQ(thief->runq.size(), 3u);
  EXPECT_EQ(victim->runq.size(), 3u);
  EXPECT_EQ(got, &gs[3]);
}

TEST(RunQ, RunnextStolenOnlyWhenAsked) {
  auto victim = std::make_unique<P>();
  auto thief = std::make_unique<P>();
  G g;
  victim->runq.put(victim.get(), &g, true);
  EXPECT_EQ(thief->runq.steal_from(victim->runq, false), nullptr);
  EXPECT_EQ(thief->runq.steal_from(victim->runq, true), &g);
  EXPECT_TRUE(victim->runq.empty());
}

// One owner pushing and popping, three thieves stealing, for a while: every G is taken
// exactly once (counted), none lost (the leftovers are drained at the end).
TEST(RunQ, ConcurrentStealingLosesAndDuplicatesNothing) {
  drain_global();
  constexpr int kN = 400000;
  constexpr int kThieves = 3;
  std::vector<G> gs(kN);
  for (int i = 0; i < kN; ++i) gs[i].id = static_cast<std::uint64_t>(i);
  std::vector<std::atomic<int>> seen(kN);
  auto owner = std::make_unique<P>();
  std::atomic<bool> done{false};

  auto take = [&](G* g) { seen[g->id].fetch_add(1, std::memory_order_relaxed); };

  std::vector<std::thread> thieves;
  for (int t = 0; t < kThieves; ++t) {
    thieves.emplace_back([&] {
      auto mine = std::make_unique<P>();
      bool inherit;
      while (!done.load(std::memory_order_acquire)) {
        if (G* g = mine->runq.steal_from(owner->runq, (g_id(&gs[0]) & 1) == 0)) {
          take(g);
          while (G* h = mine->runq.get(&inherit)) take(h);
        }
      }
    });
  }
  bool inherit;
  for (int i = 0; i < kN; ++i) {
    owner->runq.put(owner.get(), &gs[i], i % 7 == 0);
    if (i % 3 == 0) {
      if (G* g = owner->runq.get(&inherit)) take(g);
    }
  }
  while (G* g = owner->runq.get(&inherit)) take(g);
  done.store(true, std::memory_order_release);
  for (auto& t : thieves) t.join();
  for (G* g : drain_global()) take(g);
  int missing = 0, twice = 0;
  for (int i = 0; i < kN; ++i) {
    int s = seen[i].load();
    missing += s == 0;
    twice += s > 1;
  }
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(twice, 0);
}

}  // namespace
}  // namespace goro::detail

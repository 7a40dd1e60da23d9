// switch_bench — the decision benchmark behind goro's hand-written context switch.
//
//   switch_bench [ROUND_TRIPS]
//
// Measures one bare stack switch (no scheduler) three ways, each as a ping-pong between
// the main stack and one fiber, and prints "NAME NS_PER_SWITCH" per line:
//   goro            goro's switch (core/src/context.hpp, context/switch_x86_64.S)
//   boost_fcontext  Boost.Context's jump_fcontext (linked statically, like goro's)
//   ucontext        glibc swapcontext, the rejected option (a sigprocmask syscall each)
// Each figure is the median of several trials; a round trip is two switches.
// loadtest/README.md ("Why a hand-written switch") records the figures.
#include "context.hpp"  // goro::detail::Ctx, ctx_start, ctx_switch (core/src)

// The thread's exception state, as an M caches it (one thread here).
static void* const g_eh = abi::__cxa_get_globals();

#include <sys/mman.h>
#include <ucontext.h>
#include <boost/context/detail/fcontext.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kStackSize = 64 * 1024;
constexpr int kTrials = 7;

void* alloc_stack() {
  void* p = mmap(nullptr, kStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    std::perror("mmap");
    std::exit(1);
  }
  return p;
}

// Times fn(round_trips) kTrials times; returns the median ns per switch.
template <class Fn>
double median_ns_per_switch(std::int64_t round_trips, Fn fn) {
  std::vector<double> ns;
  for (int t = 0; t < kTrials; ++t) {
    const auto start = Clock::now();
    fn(round_trips);
    const double elapsed = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
    ns.push_back(elapsed / static_cast<double>(2 * round_trips));
  }
  std::sort(ns.begin(), ns.end());
  return ns[ns.size() / 2];
}

// --- goro -------------------------------------------------------------------------------
namespace gd = goro::detail;

struct GoroPair {
  gd::Ctx main_ctx;
  gd::Ctx fiber_ctx;
};

void goro_fiber(void* arg) {
  auto* p = static_cast<GoroPair*>(arg);
  for (;;) gd::ctx_switch(&p->fiber_ctx, &p->main_ctx, g_eh);
}

double bench_goro(std::int64_t n) {
  static GoroPair pair;
  pair.fiber_ctx.stack_lo = alloc_stack();
  pair.fiber_ctx.stack_size = kStackSize;
  // Returns when the fiber first switches back.
  gd::ctx_start(&pair.main_ctx, &pair.fiber_ctx, &pair, &goro_fiber, g_eh);
  return median_ns_per_switch(n, [](std::int64_t k) {
    for (std::int64_t i = 0; i < k; ++i) gd::ctx_switch(&pair.main_ctx, &pair.fiber_ctx, g_eh);
  });
}

// --- Boost.Context fcontext -----------------------------------------------------------
namespace bcd = boost::context::detail;

void boost_fiber(bcd::transfer_t t) {
  for (;;) t = bcd::jump_fcontext(t.fctx, nullptr);
}

double bench_boost(std::int64_t n) {
  char* top = static_cast<char*>(alloc_stack()) + kStackSize;
  static bcd::fcontext_t fiber;
  fiber = bcd::jump_fcontext(bcd::make_fcontext(top, kStackSize, &boost_fiber), nullptr).fctx;
  return median_ns_per_switch(n, [](std::int64_t k) {
    for (std::int64_t i = 0; i < k; ++i) fiber = bcd::jump_fcontext(fiber, nullptr).fctx;
  });
}

// --- ucontext ---------------------------------------------------------------------------
ucontext_t uc_main;
ucontext_t uc_fiber;

void uc_fiber_fn() {
  for (;;) swapcontext(&uc_fiber, &uc_main);
}

double bench_ucontext(std::int64_t n) {
  getcontext(&uc_fiber);
  uc_fiber.uc_stack.ss_sp = alloc_stack();
  uc_fiber.uc_stack.ss_size = kStackSize;
  uc_fiber.uc_link = nullptr;
  makecontext(&uc_fiber, &uc_fiber_fn, 0);
  swapcontext(&uc_main, &uc_fiber);
  return median_ns_per_switch(n, [](std::int64_t k) {
    for (std::int64_t i = 0; i < k; ++i) swapcontext(&uc_main, &uc_fiber);
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::int64_t n = 5'000'000;
  if (argc > 1) {
    n = std::strtoll(argv[1], nullptr, 10);
    if (n <= 0) {
      std::fprintf(stderr, "usage: switch_bench [ROUND_TRIPS]\n");
      return 2;
    }
  }
  // Warm both fast paths once (page faults, frequency), then measure.
  bench_goro(n / 10 + 1);
  const double goro_ns = bench_goro(n);
  const double boost_ns = bench_boost(n);
  const double uc_ns = bench_ucontext(n / 20 + 1);  // a syscall per switch: fewer rounds
  std::printf("goro %.2f\nboost_fcontext %.2f\nucontext %.2f\n", goro_ns, boost_ns, uc_ns);
  return 0;
}

// stack.hpp — goroutine stacks: mmap'd, committed lazily, guarded, pooled.
//
// Go grows stacks by copying; C++ frames hold raw pointers into the stack, so goro's
// stacks cannot move. Each is a fixed reservation (Config::stack_size, default 256 KiB)
// of which only the touched pages cost memory: a goroutine that parks after a few
// frames uses one or two 4 KiB pages. Below each stack sits a guard region; running
// into it raises SIGSEGV, which fault.cpp turns into "stack overflow in goroutine N".
//
// Guard pages: on Linux >= 6.13, madvise(MADV_GUARD_INSTALL) marks them in the page
// tables without splitting the mapping, so a million stacks cost a handful of VMAs.
// Older kernels fall back to mprotect(PROT_NONE), which splits the mapping: two VMAs per
// stack, and the kernel's vm.max_map_count (65530 by default) then caps the number of
// stacks. StackPool::init computes that cap and the runtime stops with a clear message
// when it would be exceeded, rather than crashing when mmap or mprotect fails.
//
// Pooling (Go's stackcache and gfree): a P keeps up to kStackCacheSize free stacks of
// its own, lock-free; overflow and refill move half a cache at a time to and from the
// global pool, under its own lock. New stacks are carved from slabs of kSlabStacks.
// A stack is bound to a goroutine when it first runs, not when it is spawned: a
// goroutine that exits before the next starts hands its warm stack straight over.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <goro/core/detail/lock.hpp>

namespace goro::detail {

inline constexpr int kStackCacheSize = 32;
inline constexpr int kSlabStacks = 16;
inline constexpr std::size_t kGuardBytes = 16 * 1024;

// A P's private cache of free stacks (each identified by its base, the lowest usable
// address). Owner: the P.
struct StackCache {
  char* items[kStackCacheSize];
  int n = 0;
};

class StackPool {
 public:
  // Called once per run(). stack_size is rounded up to whole pages.
  void init(std::size_t stack_size);
  void destroy() noexcept;  // unmaps every slab (runtime shutdown)

  char* alloc(StackCache& cache) noexcept;
  void free(StackCache& cache, char* base) noexcept;
  void flush(StackCache& cache) noexcept;  // gives a cache back (P going away)

  std::size_t stack_size() const noexcept { return stack_size_; }
  bool uses_guard_install() const noexcept { return guard_install_; }
  std::size_t max_stacks() const noexcept { return max_stacks_; }
  // Whether addr lies in the guard region below the stack based at base.
  bool in_guard(const char* base, const void* addr) const noexcept {
    auto a = reinterpret_cast<std::uintptr_t>(addr);
    auto b = reinterpret_cast<std::uintptr_t>(base);
    return a < b && a >= b - kGuardBytes;
  }

 private:
  char* carve_locked() noexcept;

  std::size_t stack_size_ = 0;
  std::size_t slot_size_ = 0;    // guard + stack
  bool guard_install_ = false;   // MADV_GUARD_INSTALL works here
  std::size_t max_stacks_ = 0;   // 0: unlimited

  Lock lock_;  // guards everything below; leaf lock (nothing is taken while holding it)
  char* free_ = nullptr;            // free stacks, linked through their top word
  std::size_t nfree_ = 0;
  char* slab_next_ = nullptr;       // next uncarved slot in the current slab
  int slab_left_ = 0;
  std::size_t nstacks_ = 0;         // stacks carved so far
  std::vector<char*> slabs_;
};

}  // namespace goro::detail

// stack.cpp — see stack.hpp for the design.
#include "stack.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "context.hpp"
#include "debug.hpp"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

namespace goro::detail {

namespace {

std::size_t page_size() noexcept {
  static const std::size_t ps = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return ps;
}

bool probe_guard_install() noexcept {
  std::size_t ps = page_size();
  void* p = ::mmap(nullptr, 2 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  bool ok = ::madvise(p, ps, MADV_GUARD_INSTALL) == 0;
  ::munmap(p, 2 * ps);
  return ok;
}

long read_max_map_count() noexcept {
  std::ifstream f("/proc/sys/vm/max_map_count");
  long v = 0;
  if (f >> v) return v;
  return 65530;
}

// The word at the top of a free stack links it to the next free one.
char*& free_link(char* base, std::size_t size) noexcept {
  return *reinterpret_cast<char**>(base + size - sizeof(char*));
}

}  // namespace

void StackPool::init(std::size_t stack_size) {
  std::size_t ps = page_size();
  stack_size_ = (stack_size + ps - 1) / ps * ps;
  if (stack_size_ < 4 * ps) stack_size_ = 4 * ps;
  slot_size_ = kGuardBytes + stack_size_;
  // GORO_DEBUG=madvguard=0 forces the mprotect fallback (for tests on new kernels).
  guard_install_ = debug_setting("madvguard", 1) != 0 && probe_guard_install();
  max_stacks_ = 0;
  if (!guard_install_) {
    // Two VMAs per stack (guard + stack); leave room for the program's own mappings.
    long maps = read_max_map_count();
    long room = maps - 4096;
    max_stacks_ = room > 0 ? static_cast<std::size_t>(room / 2) : 1024;
  }
  free_ = nullptr;
  nfree_ = 0;
  slab_next_ = nullptr;
  slab_left_ = 0;
  nstacks_ = 0;
  slabs_.clear();
}

void StackPool::destroy() noexcept {
  for (char* s : slabs_) ::munmap(s, slot_size_ * kSlabStacks);
  slabs_.clear();
  free_ = nullptr;
  nfree_ = 0;
  slab_left_ = 0;
}

char* StackPool::carve_locked() noexcept {
  if (slab_left_ == 0) {
    if (max_stacks_ != 0 && nstacks_ + kSlabStacks > max_stacks_) {
      fatal(
          "too many goroutines: %zu stacks exist and vm.max_map_count=%ld allows about %zu.\n"
          "This kernel lacks MADV_GUARD_INSTALL (Linux >= 6.13), so every stack's guard page "
          "costs a memory mapping.\nRaise the limit (sysctl -w vm.max_map_count=2097152) or "
          "run fewer goroutines at once.",
          nstacks_, read_max_map_count(), max_stacks_);
    }
    std::size_t bytes = slot_size_ * kSlabStacks;
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
      fatal("cannot reserve goroutine stacks (%zu bytes): %s", bytes, std::strerror(errno));
    }
    char* slab = static_cast<char*>(p);
    for (int i = 0; i < kSlabStacks; ++i) {
      char* guard = slab + i * slot_size_;
      int rc = guard_install_ ? ::madvise(guard, kGuardBytes, MADV_GUARD_INSTALL)
                              : ::mprotect(guard, kGuardBytes, PROT_NONE);
      if (rc != 0) {
        fatal("cannot install a stack guard page: %s%s", std::strerror(errno),
              errno == ENOMEM ? " (vm.max_map_count reached? raise it with sysctl)" : "");
      }
    }
    slabs_.push_back(slab);
    slab_next_ = slab;
    slab_left_ = kSlabStacks;
  }
  char* base = slab_next_ + kGuardBytes;
  slab_next_ += slot_size_;
  --slab_left_;
  ++nstacks_;
  return base;
}

char* StackPool::alloc(StackCache& cache) noexcept {
  if (cache.n == 0) {
    // Refill half a cache from the global pool, carving new stacks if it runs dry.
    lock_.lock();
    while (cache.n < kStackCacheSize / 2) {
      char* s;
      if (free_ != nullptr) {
        s = free_;
        free_ = free_link(s, stack_size_);
        --nfree_;
      } else {
        s = carve_locked();
      }
      cache.items[cache.n++] = s;
    }
    lock_.unlock();
  }
  char* base = cache.items[--cache.n];
#if GORO_ASAN
  // A reused stack still carries the poison of the frames that ran on it.
  __asan_unpoison_memory_region(base, stack_size_);
#endif
  return base;
}

void StackPool::free(StackCache& cache, char* base) noexcept {
#if GORO_ASAN
  __asan_unpoison_memory_region(base, stack_size_);
#endif
  if (cache.n == kStackCacheSize) {
    // Give half the cache back in one lock acquisition.
    lock_.lock();
    while (cache.n > kStackCacheSize / 2) {
      char* s = cache.items[--cache.n];
      free_link(s, stack_size_) = free_;
      free_ = s;
      ++nfree_;
    }
    lock_.unlock();
  }
  cache.items[cache.n++] = base;
}

void StackPool::flush(StackCache& cache) noexcept {
  lock_.lock();
  while (cache.n > 0) {
    char* s = cache.items[--cache.n];
    free_link(s, stack_size_) = free_;
    free_ = s;
    ++nfree_;
  }
  lock_.unlock();
}

}  // namespace goro::detail

// fault.cpp — a goroutine that runs off the bottom of its stack touches the guard
// region below it (stack.hpp) and gets SIGSEGV. This handler, running on the M's
// alternate signal stack, recognises the address as the running goroutine's guard and
// stops the process with
//   goro: fatal error: stack overflow in goroutine N (stack size S bytes) ...
// Any other fault is passed on to the handler installed before ours (or the default
// action, which then dumps core as usual).
#include "fault.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "g.hpp"
#include "m.hpp"
#include "sched.hpp"

namespace goro::detail {

namespace {

constexpr std::size_t kAltStackBytes = 64 * 1024;

struct sigaction g_old_segv;
struct sigaction g_old_bus;
std::atomic<bool> g_installed{false};

// Async-signal-safe formatting: decimal into buf, returns the length.
std::size_t utoa(unsigned long long v, char* buf) noexcept {
  char tmp[24];
  std::size_t n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (std::size_t i = 0; i < n; ++i) buf[i] = tmp[n - 1 - i];
  return n;
}

void put(const char* s) noexcept {
  ssize_t rc = ::write(STDERR_FILENO, s, std::strlen(s));
  (void)rc;
}

void on_fault(int sig, siginfo_t* info, void* uctx) noexcept {
  M* m = current_m();
  G* g = m != nullptr ? m->curg : nullptr;
  if (g != nullptr && g->stack_base != nullptr &&
      sched.stacks.in_guard(g->stack_base, info->si_addr)) {
    char buf[32];
    put("goro: fatal error: stack overflow in goroutine ");
    buf[utoa(g->id, buf)] = '\0';
    put(buf);
    put(" (stack size ");
    buf[utoa(sched.stacks.stack_size(), buf)] = '\0';
    put(buf);
    put(" bytes)\nRaise the stack size with GORO_STACK_SIZE (e.g. GORO_STACK_SIZE=1M) or "
        "goro::Config::stack_size, or recurse less deeply.\n");
    ::_exit(2);
  }
  // Not ours: hand it to whoever was there before.
  const struct sigaction& old = sig == SIGBUS ? g_old_bus : g_old_segv;
  if (old.sa_flags & SA_SIGINFO) {
    if (old.sa_sigaction != nullptr) {
      old.sa_sigaction(sig, info, uctx);
      return;
    }
  } else if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) {
    old.sa_handler(sig);
    return;
  }
  // Default action: restore it and return; the faulting instruction faults again.
  signal(sig, SIG_DFL);
}

}  // namespace

void install_fault_handler() noexcept {
  bool expected = false;
  // acq_rel: one installer per process.
  if (!g_installed.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) return;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = &on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &g_old_segv);
  sigaction(SIGBUS, &sa, &g_old_bus);
}

void install_altstack(M* m) noexcept {
  stack_t old;
  if (sigaltstack(nullptr, &old) == 0 && !(old.ss_flags & SS_DISABLE) && old.ss_size >= 16384) {
    return;  // the thread already has one (e.g. a sanitizer's)
  }
  void* p = ::mmap(nullptr, kAltStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
  if (p == MAP_FAILED) return;
  stack_t ss;
  ss.ss_sp = p;
  ss.ss_size = kAltStackBytes;
  ss.ss_flags = 0;
  if (sigaltstack(&ss, nullptr) != 0) {
    ::munmap(p, kAltStackBytes);
    return;
  }
  m->altstack = p;
}

void remove_altstack(M* m) noexcept {
  if (m->altstack == nullptr) return;
  stack_t ss;
  std::memset(&ss, 0, sizeof ss);
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, nullptr);
  ::munmap(m->altstack, kAltStackBytes);
  m->altstack = nullptr;
}

}  // namespace goro::detail

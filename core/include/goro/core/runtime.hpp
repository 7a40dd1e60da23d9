// goro/core/runtime.hpp — start the runtime, spawn goroutines, yield, introspect.
//
// goro runs C++ callables as goroutines: stackful, cheap, multiplexed over a few OS
// threads by a scheduler modelled on Go's (see core/src/sched.cpp for the story).
//
//   int main() {
//     return goro::run([] {
//       goro::WaitGroup wg;
//       for (int i = 0; i < 10; ++i) {
//         wg.add(1);
//         goro::go([&wg, i] { std::printf("hello from %d\n", i); wg.done(); });
//       }
//       wg.wait();
//     });
//   }
//
// Unrecovered exceptions: an exception that escapes a goroutine (the main one included)
// ends the process with exit status 2 after printing, on stderr,
//   goro: panic: uncaught exception in goroutine <id>: <type>: <what()>
// just as an unrecovered panic ends a Go program. Catch inside the goroutine to recover.
//
// When the main goroutine returns, run() returns: goroutines still alive are abandoned
// without being unwound (as Go's main returning ends the program); their stacks are freed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

namespace goro {

// Settings for run(). Zero means "use the environment or the default".
struct Config {
  // Number of Ps (logical processors): goroutines running truly in parallel.
  // 0: GORO_MAXPROCS, else the CPUs this process may use (affinity and cgroup quota).
  int max_procs = 0;
  // Bytes of virtual memory reserved per goroutine stack (committed lazily, page by page).
  // 0: GORO_STACK_SIZE (bytes, or with a K/M suffix), else 256 KiB. A goroutine may use
  // all of it but up to 1/16 (at most 16 KiB): each stack starts a few cache lines below
  // its top, so that many goroutines' hottest frames do not share cache sets.
  std::size_t stack_size = 0;
  // Maximum number of OS threads. 0: GORO_MAXTHREADS, else 10000.
  int max_threads = 0;
  // Randomize scheduling choices (debugging aid, Go's randomizeScheduler); also
  // enabled by GORO_DEBUG=randomize=1.
  bool randomize = false;
  // Stop with "fatal error: all goroutines are asleep - deadlock!" when no goroutine can
  // ever run again (Go's checkdead). Turn it off if threads outside the runtime wake
  // goroutines (e.g. a C library's callback thread sending on a channel): the runtime
  // cannot see them coming. Also GORO_DEBUG=checkdead=0.
  bool detect_deadlocks = true;
};

namespace detail {
struct G;
// Runs the callable stored at `fn` and destroys it.
using GEntry = void (*)(void* fn);
// Allocates a goroutine whose callable (size, align) is stored at *storage.
G* new_g(std::size_t size, std::size_t align, GEntry entry, void** storage);
// Makes a goroutine from new_g runnable.
void start_g(G* g) noexcept;
// Returns a goroutine from new_g that never started (its callable failed to construct).
void free_unstarted_g(G* g) noexcept;
int run_main(const Config& cfg, std::size_t size, std::size_t align, GEntry entry,
             void (*construct)(void* dst, void* src), void* src, int* exit_code);

template <class Fn>
void invoke_and_destroy(void* p) {
  Fn* fn = static_cast<Fn*>(p);
  struct Destroy {
    Fn* fn;
    ~Destroy() { fn->~Fn(); }
  } destroy{fn};
  std::invoke(*fn);
}
}  // namespace detail

// Starts a goroutine running f(). Any callable works, move-only ones too; it is moved
// (or copied) into the goroutine. Must be called from inside run(). Unlike Go's `go`,
// it may let others run before it returns: a goroutine that starts 8 goroutines within
// one time slice yields to them (the caller stays runnable, as with yield()).
template <class F>
void go(F&& f) {
  using Fn = std::decay_t<F>;
  static_assert(std::is_invocable_v<Fn&>, "goro::go needs a callable taking no arguments");
  void* storage = nullptr;
  detail::G* g = detail::new_g(sizeof(Fn), alignof(Fn), &detail::invoke_and_destroy<Fn>, &storage);
  try {
    ::new (storage) Fn(std::forward<F>(f));
  } catch (...) {
    detail::free_unstarted_g(g);
    throw;
  }
  detail::start_g(g);
}

// Boots the runtime (Ps, Ms) on the calling thread and runs f() as the main goroutine.
// Returns when f returns: f's result if it returns an int, else 0. Not reentrant: throws
// std::logic_error if the runtime is already running.
template <class F>
int run(const Config& cfg, F&& f) {
  using Fn = std::decay_t<F>;
  int code = 0;
  struct Main {
    Fn fn;
    int* code;
    void operator()() {
      if constexpr (std::is_convertible_v<std::invoke_result_t<Fn&>, int>) {
        *code = static_cast<int>(std::invoke(fn));
      } else {
        std::invoke(fn);
      }
    }
  };
  struct Src {
    F* f;
    int* code;
  } src{&f, &code};
  return detail::run_main(
      cfg, sizeof(Main), alignof(Main), &detail::invoke_and_destroy<Main>,
      [](void* dst, void* s) {
        auto* in = static_cast<Src*>(s);
        ::new (dst) Main{Fn(std::forward<F>(*in->f)), in->code};
      },
      &src, &code);
}

template <class F>
int run(F&& f) {
  return run(Config{}, std::forward<F>(f));
}

// Lets other goroutines run; the caller stays runnable (Go's runtime.Gosched).
void yield() noexcept;

// A near-free check for long loops (Go inserts one in every function prologue): if the
// runtime has asked the running goroutine to make way (it has run for 10 ms), yield.
void preempt_point() noexcept;

// The scheduler's state as Go's GODEBUG=schedtrace prints it (GORO_DEBUG=schedtrace=N
// prints it every N ms): "gomaxprocs=2 idleprocs=0 threads=5 ... runqueue=0 [0 0]
// schedticks=[..]\n"; with detail, one line per P, M and goroutine (scheddetail).
std::string sched_trace(bool detail = false);

// The calling goroutine's id (1 is the main goroutine); 0 outside a goroutine.
std::uint64_t goroutine_id() noexcept;

// Number of goroutines that exist (running, runnable or blocked).
std::int64_t num_goroutines() noexcept;

// Number of Ps. Outside run(): what the next run() would use.
int max_procs() noexcept;

// Changes the number of Ps and returns the previous value (n <= 0 only queries).
// Inside run() the change takes effect at each P's next scheduling point.
int set_max_procs(int n);

// Whether the calling thread is running a goroutine.
bool in_goroutine() noexcept;

}  // namespace goro

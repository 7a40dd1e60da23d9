// A program built against an installed goro: sums 1..1000 in ten goroutines, and resolves
// an address with goro::net (so the installed libgoro_net.a links too).
#include <goro/goro.hpp>
#include <goro/net.hpp>

#include <atomic>
#include <cstdio>

int main() {
  return goro::run([] {
    std::atomic<long> sum{0};
    goro::WaitGroup wg;
    for (int part = 0; part < 10; ++part) {
      wg.add(1);
      goro::go([&sum, &wg, part] {
        for (long i = part * 100 + 1; i <= part * 100 + 100; ++i) {
          sum += i;
          if (i % 25 == 0) goro::yield();
        }
        wg.done();
      });
    }
    wg.wait();
    std::printf("goro %s, %d procs: sum=%ld\n", GORO_PACKAGE_VERSION, goro::max_procs(),
                sum.load());
    if (sum.load() != 500500) return 1;
    auto addrs = goro::net::resolve("127.0.0.1", "8080");
    if (addrs.size() != 1 || addrs[0].to_string() != "127.0.0.1:8080") return 1;
    std::printf("consumer: ok\n");
    return 0;
  });
}

// tcp_bench — goro's side of the "tcp" benchmark suite (loadtest/compare.sh tcp), and the
// load generator both sides are measured with.
//
//   tcp_bench server [--addr 127.0.0.1:7000] [--buffer 4096]
//   tcp_bench load [--addr 127.0.0.1:7000] [--conns 64] [--size 64] [--seconds 5]
//                  [--warmup 1] [--pid SERVER_PID] [--wait 10]
//   tcp_bench sink [--addr 127.0.0.1:7000]
//   tcp_bench stream [--addr 127.0.0.1:7000] [--conns 8] [--bytes 1073741824]
//                    [--pid PROXY_PID] [--wait 10]
//
// server: goro's goroutine-per-connection echo server (goro::net::serve, a read/write
// loop per connection, as loadtest/go/tcp/main.go does in Go). Prints "ready ADDR" on
// stderr once listening; runs until killed. Ps from GORO_MAXPROCS.
//
// load: echo ping-pong. CONNS connections, each with one SIZE-byte message in flight:
// send it, read the SIZE bytes back (checked), send the next. Not a goroutine client:
// one thread on level-triggered epoll, one read and one write per message, so that it
// costs as little CPU per message as a client can and the server is what limits the
// rate. After WARMUP seconds it counts round trips for SECONDS seconds and prints the
// rate (round trips/s) alone on the first line of stdout, then "info" lines:
//   server_us_per_msg  the server's CPU time (utime+stime of /proc/PID/stat, all its
//                      threads) per round trip over the same window (needs --pid)
//   server_cpu         that CPU time / wall time (1.0 = one core busy)
//   client_us_per_msg  this load generator's CPU time per round trip
//
// sink and stream: the streaming proxy case (a proxy between them). sink is the backend,
// plain threads and blocking sockets, no goro: per connection it discards every byte
// (recv with MSG_TRUNC: TCP drops the data without copying it out) until the end of the
// stream, then answers with the byte count (8 bytes, little-endian) and closes. stream is
// the client: CONNS connections at once, each sending BYTES/CONNS bytes with sendfile(2)
// from a memfd (no copy from user space either), then a half close, then it reads the
// sink's count and checks it. Both ends cost as little CPU as they can, so the proxy is
// what is measured. Prints the rate (MB/s, 10^6 bytes, from the first byte sent until
// the last count came back) alone on the first line, then "info" lines:
//   proxy_ms_per_gib   the proxy's CPU time (utime+stime of /proc/PID/stat) per GiB
//                      moved, over the same window (needs --pid; 10 ms clock ticks)
//   proxy_cpu          that CPU time / wall time
#include <goro/net.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using SteadyClock = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "tcp_bench: %s\n", what.c_str());
  std::exit(1);
}

struct Args {
  std::string mode;
  std::string addr = "127.0.0.1:7000";
  std::size_t buffer = 4096;
  int conns = 0;  // 0: the mode's default (load 64, stream 8)
  std::size_t size = 64;
  double seconds = 5;
  double warmup = 1;
  long pid = 0;
  double wait = 10;
  std::uint64_t bytes = 1ull << 30;
};

Args parse(int argc, char** argv) {
  if (argc < 2) fail("usage: tcp_bench server|load [options] (see the top of tcp_bench.cpp)");
  Args a;
  a.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string k = argv[i];
    if (i + 1 >= argc) fail("missing value for " + k);
    const char* v = argv[++i];
    if (k == "--addr")
      a.addr = v;
    else if (k == "--buffer")
      a.buffer = std::strtoul(v, nullptr, 10);
    else if (k == "--conns")
      a.conns = std::atoi(v);
    else if (k == "--size")
      a.size = std::strtoul(v, nullptr, 10);
    else if (k == "--seconds")
      a.seconds = std::atof(v);
    else if (k == "--warmup")
      a.warmup = std::atof(v);
    else if (k == "--pid")
      a.pid = std::atol(v);
    else if (k == "--wait")
      a.wait = std::atof(v);
    else if (k == "--bytes")
      a.bytes = std::strtoull(v, nullptr, 10);
    else
      fail("unknown option " + k);
  }
  return a;
}

// --- server --------------------------------------------------------------------------------

int server(const Args& a) {
  return goro::run([&] {
    goro::net::Listener ln = goro::net::listen(a.addr);
    std::fprintf(stderr, "ready %s\n", ln.local_address().to_string().c_str());
    std::size_t bufsize = a.buffer;
    goro::net::serve(ln, [bufsize](goro::net::Conn& c) {
      std::unique_ptr<char[]> buf(new char[bufsize]);
      std::error_code ec;
      for (;;) {
        std::size_t n = c.read(buf.get(), bufsize, ec);
        if (ec) return;
        c.write(buf.get(), n, ec);
        if (ec) return;
      }
    });
    return 0;
  });
}

// --- load generator ------------------------------------------------------------------------

// utime + stime of a process, all threads, in seconds.
double process_cpu(long pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE* f = std::fopen(path, "r");
  if (f == nullptr) return -1;
  char buf[2048];
  std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');  // the command name may contain spaces
  if (p == nullptr) return -1;
  // Fields after ')': state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt
  // cmajflt utime(14) stime(15).
  unsigned long utime = 0, stime = 0;
  if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) !=
      2) {
    return -1;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double self_cpu() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct Conn {
  int fd = -1;
  std::size_t got = 0;  // bytes of the current reply received
  std::uint32_t seq = 0;
};

void fill(unsigned char* p, std::size_t n, int conn, std::uint32_t seq) {
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<unsigned char>(conn * 31 + seq * 7 + i);
}

int connect_with_retry(const goro::net::Address& addr, double wait) {
  auto deadline = SteadyClock::now() + std::chrono::duration<double>(wait);
  for (;;) {
    int fd = ::socket(addr.is_ipv6() ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail(std::string("socket: ") + std::strerror(errno));
    if (::connect(fd, addr.native_data(), static_cast<socklen_t>(addr.native_size())) == 0)
      return fd;
    int e = errno;
    ::close(fd);
    if (SteadyClock::now() > deadline) fail(std::string("connect: ") + std::strerror(e));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int load(const Args& a) {
  std::string_view host, port;
  if (!goro::net::split_host_port(a.addr, host, port)) fail("--addr wants HOST:PORT");
  auto addr = goro::net::Address::parse(
      host, static_cast<std::uint16_t>(std::atoi(std::string(port).c_str())));
  if (!addr) fail("--addr wants an IP literal");
  if (a.size == 0 || a.size > 65536) fail("--size must be 1..65536");

  std::vector<Conn> conns(static_cast<std::size_t>(a.conns));
  int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<unsigned char> out(a.size), in(a.size);
  for (int i = 0; i < a.conns; ++i) {
    Conn& c = conns[static_cast<std::size_t>(i)];
    c.fd = connect_with_retry(*addr, a.wait);
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev {};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<std::uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
  }
  auto send_next = [&](int i) {
    Conn& c = conns[static_cast<std::size_t>(i)];
    fill(out.data(), a.size, i, c.seq);
    ssize_t n = ::send(c.fd, out.data(), a.size, MSG_NOSIGNAL);
    if (n != static_cast<ssize_t>(a.size))
      fail("short send (a message must fit the socket buffer)");
  };
  for (int i = 0; i < a.conns; ++i) send_next(i);

  std::uint64_t count = 0;
  auto start = SteadyClock::now();
  auto measure_from = start + std::chrono::duration<double>(a.warmup);
  auto measure_to = measure_from + std::chrono::duration<double>(a.seconds);
  bool measuring = false;
  std::uint64_t count0 = 0;
  double server0 = 0, self0 = 0;
  SteadyClock::time_point t0;
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, 100);
    if (n < 0 && errno != EINTR) fail(std::string("epoll_wait: ") + std::strerror(errno));
    for (int k = 0; k < n; ++k) {
      int i = static_cast<int>(evs[k].data.u32);
      Conn& c = conns[static_cast<std::size_t>(i)];
      ssize_t r = ::read(c.fd, in.data() + c.got, a.size - c.got);
      if (r == 0) fail("the server closed a connection");
      if (r < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        fail(std::string("read: ") + std::strerror(errno));
      }
      c.got += static_cast<std::size_t>(r);
      if (c.got < a.size) continue;
      fill(out.data(), a.size, i, c.seq);
      if (std::memcmp(in.data(), out.data(), a.size) != 0)
        fail("the echo differs from what was sent");
      c.got = 0;
      ++c.seq;
      ++count;
      send_next(i);
    }
    auto now = SteadyClock::now();
    if (!measuring && now >= measure_from) {
      measuring = true;
      count0 = count;
      t0 = now;
      server0 = a.pid > 0 ? process_cpu(a.pid) : 0;
      self0 = self_cpu();
    } else if (measuring && now >= measure_to) {
      double secs = std::chrono::duration<double>(now - t0).count();
      double msgs = static_cast<double>(count - count0);
      double server1 = a.pid > 0 ? process_cpu(a.pid) : 0;
      double self1 = self_cpu();
      std::printf("%.0f\n", msgs / secs);
      if (a.pid > 0 && server0 >= 0 && server1 >= 0) {
        std::printf("info server_us_per_msg %.3f\n", (server1 - server0) * 1e6 / msgs);
        std::printf("info server_cpu %.3f\n", (server1 - server0) / secs);
      }
      std::printf("info client_us_per_msg %.3f\n", (self1 - self0) * 1e6 / msgs);
      break;
    }
  }
  for (Conn& c : conns) ::close(c.fd);
  ::close(ep);
  return 0;
}

// --- streaming: sink and stream ----------------------------------------------------------

goro::net::Address parse_addr(const std::string& s) {
  std::string_view host, port;
  if (!goro::net::split_host_port(s, host, port)) fail("--addr wants HOST:PORT");
  auto addr = goro::net::Address::parse(
      host, static_cast<std::uint16_t>(std::atoi(std::string(port).c_str())));
  if (!addr) fail("--addr wants an IP literal");
  return *addr;
}

// One sink connection: discard until the end of the stream, answer with the count.
void sink_conn(int fd) {
  static thread_local std::unique_ptr<char[]> buf(new char[1 << 20]);
  std::uint64_t total = 0;
  for (;;) {
    ssize_t n = ::recv(fd, buf.get(), 1 << 20, MSG_TRUNC);
    if (n > 0) {
      total += static_cast<std::uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  unsigned char le[8];
  for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>(total >> (8 * i));
  (void)!::send(fd, le, sizeof le, MSG_NOSIGNAL);
  ::close(fd);
}

int sink(const Args& a) {
  goro::net::Address addr = parse_addr(a.addr);
  int ln = ::socket(addr.is_ipv6() ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(ln, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ln < 0 || ::bind(ln, addr.native_data(), static_cast<socklen_t>(addr.native_size())) != 0 ||
      ::listen(ln, 1024) != 0) {
    fail(std::string("sink: listen: ") + std::strerror(errno));
  }
  std::fprintf(stderr, "ready %s\n", a.addr.c_str());
  for (;;) {
    int fd = ::accept4(ln, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      fail(std::string("sink: accept: ") + std::strerror(errno));
    }
    std::thread(sink_conn, fd).detach();
  }
}

int stream(const Args& a) {
  goro::net::Address addr = parse_addr(a.addr);
  if (a.conns <= 0) fail("--conns must be positive");
  const std::uint64_t per_conn = a.bytes / static_cast<std::uint64_t>(a.conns);
  if (per_conn == 0) fail("--bytes too small");

  // The bytes to send: a 4 MiB memfd, sent again and again with sendfile(2).
  static constexpr std::size_t kChunk = 4 << 20;
  int mem = memfd_create("tcp_bench", MFD_CLOEXEC);
  if (mem < 0 || ftruncate(mem, kChunk) != 0) fail("memfd");
  {
    std::vector<unsigned char> pattern(kChunk);
    for (std::size_t i = 0; i < kChunk; ++i) pattern[i] = static_cast<unsigned char>(i * 7 + 3);
    if (::pwrite(mem, pattern.data(), kChunk, 0) != static_cast<ssize_t>(kChunk)) fail("memfd");
  }

  std::vector<int> fds;
  for (int i = 0; i < a.conns; ++i) fds.push_back(connect_with_retry(addr, a.wait));

  std::atomic<int> errors{0};  // relaxed: read after the joins, which order it
  double cpu0 = a.pid > 0 ? process_cpu(a.pid) : 0;
  auto t0 = SteadyClock::now();
  std::vector<std::thread> threads;
  for (int fd : fds) {
    threads.emplace_back([fd, mem, per_conn, &errors] {
      std::uint64_t left = per_conn;
      while (left > 0) {
        off_t off = 0;
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, kChunk));
        while (static_cast<std::size_t>(off) < n) {
          ssize_t w = ::sendfile(fd, mem, &off, n - static_cast<std::size_t>(off));
          if (w < 0 && errno == EINTR) continue;
          if (w <= 0) {
            std::fprintf(stderr, "tcp_bench: sendfile: %s\n", std::strerror(errno));
            errors.fetch_add(1, std::memory_order_relaxed);
            return;
          }
        }
        left -= n;
      }
      ::shutdown(fd, SHUT_WR);
      unsigned char le[8];
      std::size_t got = 0;
      while (got < sizeof le) {
        ssize_t r = ::read(fd, le + got, sizeof le - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += static_cast<std::size_t>(r);
      }
      std::uint64_t count = 0;
      for (int i = 0; i < 8; ++i) count |= static_cast<std::uint64_t>(le[i]) << (8 * i);
      if (got != sizeof le || count != per_conn) {
        std::fprintf(stderr, "tcp_bench: the sink got %llu bytes of %llu\n",
                     static_cast<unsigned long long>(count),
                     static_cast<unsigned long long>(per_conn));
        errors.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (auto& t : threads) t.join();
  auto t1 = SteadyClock::now();
  double cpu1 = a.pid > 0 ? process_cpu(a.pid) : 0;
  for (int fd : fds) ::close(fd);
  if (errors.load(std::memory_order_relaxed) != 0) fail("stream: transfer failed");
  double secs = std::chrono::duration<double>(t1 - t0).count();
  double total = static_cast<double>(per_conn) * a.conns;
  std::printf("%.1f\n", total / secs / 1e6);
  if (a.pid > 0 && cpu0 >= 0 && cpu1 >= 0) {
    std::printf("info proxy_ms_per_gib %.1f\n", (cpu1 - cpu0) * 1e3 / (total / (1 << 30)));
    std::printf("info proxy_cpu %.3f\n", (cpu1 - cpu0) / secs);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a = parse(argc, argv);
  if (a.mode == "server") return server(a);
  if (a.mode == "load") {
    if (a.conns == 0) a.conns = 64;
    return load(a);
  }
  if (a.mode == "sink") return sink(a);
  if (a.mode == "stream") {
    if (a.conns == 0) a.conns = 8;
    return stream(a);
  }
  fail("mode must be server, load, sink or stream");
}

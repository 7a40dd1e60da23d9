// tcp_echo — an echo server: one goroutine per connection, writing back what it reads.
//
//   $ tcp_echo --port 7000 &
//   $ printf 'hello\n' | nc -q1 127.0.0.1 7000
//   hello
//
// goro::net::serve runs the accept loop (one goroutine per connection, back-off when out
// of descriptors); SIGINT/SIGTERM cancel its context, which stops accepting, lets the
// connections finish for up to --grace seconds, then closes them.
#include <goro/net.hpp>

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

constexpr char kUsage[] =
    "usage: tcp_echo [--host HOST] [--port N] [--buffer BYTES] [--procs N] [--grace SEC]\n"
    "\n"
    "Echo server: every byte a client sends is sent back, one goroutine per connection.\n"
    "\n"
    "  --host HOST     address to listen on (default: every address, IPv6 and IPv4)\n"
    "  --port N        port (default 7000; 0 picks a free one, printed on stderr)\n"
    "  --buffer BYTES  read buffer per connection (default 4096)\n"
    "  --procs N       Ps to run on (default: GORO_MAXPROCS, else the CPUs available)\n"
    "  --grace SEC     on SIGINT/SIGTERM, how long connections may finish (default 5)\n"
    "  --help          this text\n"
    "\n"
    "Environment: GORO_MAXPROCS, GORO_DEBUG=schedtrace=1000 (scheduler trace).\n";

struct Options {
  std::string host;
  int port = 7000;
  std::size_t buffer = 4096;
  int procs = 0;
  int grace = 5;
};

[[noreturn]] void usage_error(const char* msg) {
  std::fprintf(stderr, "tcp_echo: %s\n\n%s", msg, kUsage);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage_error(("missing value for " + a).c_str());
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--host") {
      o.host = value();
    } else if (a == "--port") {
      o.port = std::atoi(value());
    } else if (a == "--buffer") {
      o.buffer = static_cast<std::size_t>(std::atol(value()));
    } else if (a == "--procs") {
      o.procs = std::atoi(value());
    } else if (a == "--grace") {
      o.grace = std::atoi(value());
    } else {
      usage_error(("unknown option " + a).c_str());
    }
  }
  if (o.port < 0 || o.port > 65535) usage_error("--port must be 0..65535");
  if (o.buffer == 0) usage_error("--buffer must be positive");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt = parse(argc, argv);

  // SIGINT/SIGTERM go to one thread that cancels the server's context (a CancelFunc
  // may be called from any thread). Blocked first, so every runtime thread inherits it.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  goro::Config cfg;
  cfg.max_procs = opt.procs;
  return goro::run(cfg, [&] {
    std::string hp = (opt.host.find(':') != std::string::npos ? "[" + opt.host + "]" : opt.host) +
                     ":" + std::to_string(opt.port);
    std::error_code ec;
    goro::net::Listener ln = goro::net::listen(hp, {}, ec);
    if (ec) {
      std::fprintf(stderr, "tcp_echo: listen %s: %s\n", hp.c_str(), ec.message().c_str());
      return 1;
    }
    std::fprintf(stderr, "tcp_echo: listening on %s (%d procs)\n",
                 ln.local_address().to_string().c_str(), goro::max_procs());

    auto [ctx, cancel] = goro::with_cancel(goro::background());
    std::thread([sigs, cancel = cancel] {
      int sig = 0;
      sigwait(&sigs, &sig);
      std::fprintf(stderr, "tcp_echo: %s, shutting down\n", strsignal(sig));
      cancel();
    }).detach();

    std::size_t bufsize = opt.buffer;
    goro::net::ServeOptions so;
    so.context = ctx;
    so.shutdown_timeout = std::chrono::seconds(opt.grace);
    so.on_accept_error = [](const std::error_code& e) {
      std::fprintf(stderr, "tcp_echo: accept: %s; retrying\n", e.message().c_str());
    };
    goro::net::serve(
        ln,
        [bufsize](goro::net::Conn& c) {
          std::unique_ptr<char[]> buf(new char[bufsize]);
          std::error_code e;
          for (;;) {
            std::size_t n = c.read(buf.get(), bufsize, e);
            if (e) break;  // end of stream, reset, or shutdown
            c.write(buf.get(), n, e);
            if (e) break;
          }
        },
        so, ec);
    if (ec) {
      std::fprintf(stderr, "tcp_echo: %s\n", ec.message().c_str());
      return 1;
    }
    return 0;
  });
}

// tcp_proxy — a TCP proxy: each client connection gets its own backend connection, and
// the bytes flow both ways at once.
//
//   $ tcp_echo --port 7000 &
//   $ tcp_proxy --port 8000 --backend 127.0.0.1:7000 &
//   $ printf 'hello\n' | nc -q1 127.0.0.1 8000
//   hello
//
// Per client: a goroutine (goro::net::serve) dials the backend (--dial-timeout), then
// goro::net::relay copies client -> backend in that goroutine and backend -> client in
// a second one. One side's end of stream becomes a half close of the other side, so
// request/response protocols that half close work through the proxy; an error on either
// side (reset, --idle-timeout) closes both. SIGPIPE is ignored, so bulk transfers move
// with splice(2), never entering user space (small messages go through a buffer).
// SIGINT/SIGTERM stop accepting and give the connections --grace seconds.
#include <goro/net.hpp>

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

constexpr char kUsage[] =
    "usage: tcp_proxy --backend HOST:PORT [--host HOST] [--port N] [--dial-timeout MS]\n"
    "                 [--idle-timeout SEC] [--procs N] [--grace SEC] [--verbose]\n"
    "\n"
    "TCP proxy: every client connection is relayed to its own connection to BACKEND,\n"
    "both directions at once, half closes passed on, both sides closed on an error.\n"
    "\n"
    "  --backend HOST:PORT  where to connect (required), e.g. 127.0.0.1:7000, [::1]:80\n"
    "  --host HOST          address to listen on (default: every address)\n"
    "  --port N             port to listen on (default 8000; 0 picks a free one)\n"
    "  --dial-timeout MS    give up on the backend after MS milliseconds (default 3000)\n"
    "  --idle-timeout SEC   close a connection idle in one direction this long\n"
    "                       (default 0: never)\n"
    "  --procs N            Ps to run on (default: GORO_MAXPROCS, else the CPUs available)\n"
    "  --grace SEC          on SIGINT/SIGTERM, how long connections may finish (default 5)\n"
    "  --verbose            one line per connection on stderr\n"
    "  --help               this text\n"
    "\n"
    "Environment: GORO_MAXPROCS, GORO_DEBUG=schedtrace=1000 (scheduler trace).\n";

struct Options {
  std::string backend;
  std::string host;
  int port = 8000;
  int dial_timeout_ms = 3000;
  int idle_timeout_s = 0;
  int procs = 0;
  int grace = 5;
  bool verbose = false;
};

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "tcp_proxy: %s\n\n%s", msg.c_str(), kUsage);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage_error("missing value for " + a);
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--backend") {
      o.backend = value();
    } else if (a == "--host") {
      o.host = value();
    } else if (a == "--port") {
      o.port = std::atoi(value());
    } else if (a == "--dial-timeout") {
      o.dial_timeout_ms = std::atoi(value());
    } else if (a == "--idle-timeout") {
      o.idle_timeout_s = std::atoi(value());
    } else if (a == "--procs") {
      o.procs = std::atoi(value());
    } else if (a == "--grace") {
      o.grace = std::atoi(value());
    } else if (a == "--verbose" || a == "-v") {
      o.verbose = true;
    } else {
      usage_error("unknown option " + a);
    }
  }
  if (o.backend.empty()) usage_error("--backend is required");
  std::string_view h, p;
  if (!goro::net::split_host_port(o.backend, h, p)) usage_error("--backend wants HOST:PORT");
  if (o.port < 0 || o.port > 65535) usage_error("--port must be 0..65535");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt = parse(argc, argv);

  // A peer that resets must not end the proxy: with SIGPIPE ignored, relay() also moves
  // bulk transfers with splice(2) (zero-copy) instead of through its buffer.
  signal(SIGPIPE, SIG_IGN);

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
      std::fprintf(stderr, "tcp_proxy: listen %s: %s\n", hp.c_str(), ec.message().c_str());
      return 1;
    }
    std::fprintf(stderr, "tcp_proxy: listening on %s, backend %s (%d procs)\n",
                 ln.local_address().to_string().c_str(), opt.backend.c_str(), goro::max_procs());

    auto [ctx, cancel] = goro::with_cancel(goro::background());
    std::thread([sigs, cancel = cancel] {
      int sig = 0;
      sigwait(&sigs, &sig);
      std::fprintf(stderr, "tcp_proxy: %s, shutting down\n", strsignal(sig));
      cancel();
    }).detach();

    goro::net::DialOptions dial_opts;
    dial_opts.timeout = std::chrono::milliseconds(opt.dial_timeout_ms);
    dial_opts.context = ctx;
    goro::net::RelayOptions relay_opts;
    relay_opts.idle_timeout = std::chrono::seconds(opt.idle_timeout_s);
    bool verbose = opt.verbose;
    std::string backend = opt.backend;

    goro::net::ServeOptions so;
    so.context = ctx;
    so.shutdown_timeout = std::chrono::seconds(opt.grace);
    so.on_accept_error = [](const std::error_code& e) {
      std::fprintf(stderr, "tcp_proxy: accept: %s; retrying\n", e.message().c_str());
    };
    goro::net::serve(
        ln,
        [&](goro::net::Conn& client) {
          std::error_code e;
          goro::net::Conn up = goro::net::dial(backend, dial_opts, e);
          if (e) {
            if (verbose) {
              std::fprintf(stderr, "tcp_proxy: %s: dial %s: %s\n",
                           client.remote_address().to_string().c_str(), backend.c_str(),
                           e.message().c_str());
            }
            return;  // serve closes the client
          }
          goro::net::RelayResult r = goro::net::relay(client, up, relay_opts);
          if (verbose) {
            std::fprintf(stderr, "tcp_proxy: %s: %llu bytes up%s%s, %llu down%s%s\n",
                         client.remote_address().to_string().c_str(),
                         static_cast<unsigned long long>(r.a_to_b), r.a_to_b_error ? " " : "",
                         r.a_to_b_error ? r.a_to_b_error.message().c_str() : "",
                         static_cast<unsigned long long>(r.b_to_a), r.b_to_a_error ? " " : "",
                         r.b_to_a_error ? r.b_to_a_error.message().c_str() : "");
          }
        },
        so, ec);
    if (ec) {
      std::fprintf(stderr, "tcp_proxy: %s\n", ec.message().c_str());
      return 1;
    }
    return 0;
  });
}

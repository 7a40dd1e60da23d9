// goro/net/serve.hpp — a goroutine-per-connection server loop (the accept loop of Go's
// http.Server.Serve, for any TCP protocol).
//
//   goro::run([] {
//     goro::net::Listener ln = goro::net::listen(":7000");
//     auto [ctx, stop] = goro::with_cancel(goro::background());
//     goro::go([stop = stop]() mutable { wait_for_signal(); stop(); });
//     goro::net::serve(ln, [](goro::net::Conn& c) {
//       char buf[4096];
//       while (std::size_t n = c.read(buf, sizeof buf)) c.write(buf, n);
//     }, {.context = ctx});
//   });
//
// serve() accepts connections and runs handler(conn) in a new goroutine for each; the
// connection is closed when the handler returns. It returns when:
//  - opts.context is cancelled (or its deadline passes): the listener is closed, and
//    serve waits up to opts.shutdown_timeout for the handlers to return; then it closes
//    the connections of those still running (their reads and writes fail with
//    Errc::kClosed) and waits up to another shutdown_timeout; a handler still running
//    after that is left behind (it keeps its connection object, which stays valid);
//  - the listener is closed by someone else: the same shutdown;
//  - accept fails with an error that is not temporary: the same shutdown, and the error
//    is reported (thrown, or stored in ec).
// Temporary accept errors — out of descriptors (EMFILE, ENFILE), of buffers or memory
// (ENOBUFS, ENOMEM) — do not stop it: it sleeps 5 ms, doubling up to opts.max_backoff
// (Go's http.Server: 5 ms to 1 s), and tries again; the connection waits in the
// listen queue meanwhile, so service resumes as soon as descriptors free up, with no
// busy loop. opts.on_accept_error, if set, sees each such error first.
//
// An exception escaping a handler ends the process, as for any goroutine (catch inside
// the handler to recover).
#pragma once

#include <chrono>
#include <functional>
#include <system_error>

#include <goro/core/context.hpp>
#include <goro/core/time.hpp>
#include <goro/net/tcp.hpp>

namespace goro::net {

using Handler = std::function<void(Conn&)>;

struct ServeOptions {
  // Cancel it to shut the server down.
  Context context;
  // How long shutdown waits for handlers, before and after closing their connections.
  Duration shutdown_timeout = std::chrono::seconds(5);
  // The longest pause after a temporary accept error.
  Duration max_backoff = std::chrono::seconds(1);
  // Called with each temporary accept error before the pause (e.g. to log it).
  std::function<void(const std::error_code&)> on_accept_error;
};

// Runs the server loop on the calling goroutine (see the top of the file).
void serve(Listener& listener, Handler handler, const ServeOptions& opts, std::error_code& ec);
void serve(Listener& listener, Handler handler, const ServeOptions& opts = {});

}  // namespace goro::net

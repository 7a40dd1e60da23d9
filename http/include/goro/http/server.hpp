// goro/http/server.hpp — the HTTP/1.1 server: one goroutine per connection, synchronous
// handlers.
//
//   #include <goro/http.hpp>
//   int main() {
//     return goro::run([] {
//       goro::http::Server srv;
//       srv.get("/", [](const goro::http::Request&, goro::http::Response& res) { res.text("Hello, World!"); });
//       srv.shutdown_on_signals();        // SIGINT/SIGTERM: graceful shutdown
//       srv.listen_and_serve(":8080");    // returns once shut down
//     });
//   }
//
// Each accepted connection gets its own goroutine, which reads requests (parsed by
// llhttp), runs the router's middleware and handler, and writes the response, one request
// after another. A handler is plain blocking code: while it waits (a channel, a sleep, a
// socket, goro::fs), its goroutine parks and the P runs other connections.
//
// Protocol: HTTP/1.1 and 1.0; keep-alive (1.1 by default, 1.0 with "Connection:
// keep-alive"); pipelined requests answered in order (responses to a batch go out in one
// write); request bodies with Content-Length or chunked (extensions, trailers); responses
// whole (Content-Length) or streamed (chunked; see response.hpp); "Expect: 100-continue"
// (the 100 goes out when the handler first reads the body; other expectations get 417);
// HEAD; Date and Server headers; "Connection: close" from either side closes the
// connection after the response.
//
// Rejected requests get a response and the connection is closed:
//   400  malformed: bad syntax, a bare LF or CR, obs-fold (a header line starting with
//        whitespace), Content-Length together with Transfer-Encoding, several or invalid
//        Content-Lengths, a Transfer-Encoding whose last coding is not chunked, bad chunk
//        sizes or framing, Transfer-Encoding in an HTTP/1.0 request
//   408  the request head or body did not arrive within its timeout
//   413  body larger than max_body_bytes (from Content-Length, before the handler runs,
//        or while a chunked body is read)
//   414  request line longer than max_request_line
//   417  an Expect other than 100-continue
//   431  header block larger than max_header_bytes or more than max_header_count fields
//   501  a transfer coding other than chunked
//   505  an HTTP version other than 1.0 and 1.1
// A handler that throws gets a 500 (an HttpError: its own status) if its response was not
// committed, and the connection closes after it; other connections are not affected.
//
// Shutdown (Go's Server.Shutdown): shutdown(grace) stops accepting, closes idle
// connections (waiting for a request, or for the first byte of one) at once, lets
// requests in flight finish (their responses carry "Connection: close") until `grace`
// has passed, then closes what is left and cancels the requests' context(). serve() and
// listen_and_serve() return when shutdown is complete, so code after them runs once
// every response went out.
#pragma once

#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <goro/core/time.hpp>
#include <goro/http/router.hpp>
#include <goro/net/address.hpp>
#include <goro/net/tcp.hpp>

namespace goro::http {

struct ServerOptions {
  // Limits (see the table at the top of the file).
  std::size_t max_request_line = 8 * 1024;     // bytes of the request line, CRLF excluded: 414
  std::size_t max_header_bytes = 64 * 1024;    // request line + header fields + CRLFs: 431
  std::size_t max_header_count = 100;          // header fields (and trailer fields): 431
  std::uint64_t max_body_bytes = 8 << 20;      // request body: 413

  // Timeouts; zero or negative: none.
  // From the first byte of a request to the end of its header block (408 after it).
  Duration read_header_timeout = std::chrono::seconds(10);
  // From the end of the headers to the end of the body (408 if not answered yet).
  Duration read_body_timeout = std::chrono::seconds(60);
  // For writing one response (each write() of a streamed one restarts it).
  Duration write_timeout = std::chrono::seconds(60);
  // How long a keep-alive connection may wait for its next request.
  Duration idle_timeout = std::chrono::seconds(120);

  // The Server header's value ("" for none).
  std::string server_name = "goro";
};

class Server {
 public:
  Server();
  explicit Server(ServerOptions opts);
  Server(Server&&) noexcept;
  Server& operator=(Server&&) noexcept;
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  // Shuts down at once (no grace) if still serving.
  ~Server();

  // Routes and middleware (router.hpp), before serving.
  Server& route(std::string_view method, std::string_view pattern, Handler h);
  Server& get(std::string_view pattern, Handler h) { return route("GET", pattern, std::move(h)); }
  Server& post(std::string_view pattern, Handler h) { return route("POST", pattern, std::move(h)); }
  Server& put(std::string_view pattern, Handler h) { return route("PUT", pattern, std::move(h)); }
  Server& patch(std::string_view pattern, Handler h) { return route("PATCH", pattern, std::move(h)); }
  Server& del(std::string_view pattern, Handler h) { return route("DELETE", pattern, std::move(h)); }
  Server& head(std::string_view pattern, Handler h) { return route("HEAD", pattern, std::move(h)); }
  Server& options(std::string_view pattern, Handler h) { return route("OPTIONS", pattern, std::move(h)); }
  Server& use(Middleware m);
  Router& router() noexcept;
  ServerOptions& options() noexcept;

  // Listens on "host:port" (":8080": every address) and serves until shutdown. Errors
  // from listen (address in use, ...) throw std::system_error / set ec.
  void listen_and_serve(std::string_view host_port);
  void listen_and_serve(std::string_view host_port, std::error_code& ec);
  // Serves connections from an open listener until shutdown (the Server takes it).
  // Several serve() calls (several listeners) may run at once.
  void serve(net::Listener listener);

  // The address of the first listener being served (port 0 resolved), once serving;
  // waits up to `wait` for serve() to start.
  std::optional<net::Address> address(Duration wait = Duration::zero()) const;

  // Graceful shutdown (see the top of the file); returns true if every connection
  // finished within grace. Callable from any goroutine, several times (later calls wait
  // for the first to finish). After it, serve() returns.
  bool shutdown(Duration grace = std::chrono::seconds(10));
  // shutdown(grace) when one of `signals` arrives (once; the signals' default action is
  // restored then, so a second Ctrl-C ends the process). Lasts until shutdown.
  void shutdown_on_signals(Duration grace = std::chrono::seconds(10),
                           std::initializer_list<int> signals = {SIGINT, SIGTERM});

  // Connections open right now, and those among them in the middle of a request.
  std::size_t open_connections() const noexcept;
  std::size_t active_connections() const noexcept;

  struct State;  // shared with the connection goroutines (server.cpp)

 private:
  std::shared_ptr<State> s_;
};

}  // namespace goro::http

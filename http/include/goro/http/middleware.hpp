// goro/http/middleware.hpp — the usual middleware: request ids, panic recovery, access log.
//
//   srv.use(goro::http::request_id());   // X-Request-Id in and out; req.id()
//   srv.use(goro::http::logger());       // one line per request on stderr
//   srv.use(goro::http::recoverer());    // exception -> logged, 500, connection closed
//
// Order matters: middleware registered first runs outermost. With the order above the
// log line carries the request id and the status the recoverer chose.
#pragma once

#include <functional>
#include <string_view>

#include <goro/http/router.hpp>

namespace goro::http {

// Where log lines go (without a trailing newline). The default writes each line to
// stderr (through goro::blocking, so a slow terminal never stalls a P).
using LogSink = std::function<void(std::string_view line)>;

// Gives every request an id: the client's `header` value if it is a short token
// (1..64 characters of [A-Za-z0-9._-]), else a new one ("<8 hex digits>-<counter>", the
// prefix random per process). Sets req.id() and the same response header.
Middleware request_id(std::string_view header = "X-Request-Id");

// Catches what the rest of the chain throws: logs it (with the request id, if any),
// answers 500 (an HttpError: its status and message) if the response is not committed,
// and marks the connection to close after the response. Without this middleware the
// server does the same, minus the log line.
Middleware recoverer(LogSink sink = nullptr);

// Logs one line per request after the handler returns:
//   127.0.0.1:53122 "GET /json HTTP/1.1" 200 27B 0.084ms id=4f1c2a9e-17
Middleware logger(LogSink sink = nullptr);

}  // namespace goro::http

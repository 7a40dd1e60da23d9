// goro/http.hpp — everything in goro::http (and goro::net, and goro's core).
//
//   #include <goro/http.hpp>
//   int main() {
//     return goro::run([] {
//       goro::http::Server srv;
//       srv.get("/", [](const goro::http::Request&, goro::http::Response& res) { res.text("Hello, World!"); });
//       srv.listen_and_serve(":8080");
//     });
//   }
#pragma once

#include <goro/goro.hpp>
#include <goro/net.hpp>
#include <goro/http/headers.hpp>
#include <goro/http/middleware.hpp>
#include <goro/http/request.hpp>
#include <goro/http/response.hpp>
#include <goro/http/router.hpp>
#include <goro/http/server.hpp>
#include <goro/http/status.hpp>

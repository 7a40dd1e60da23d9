// goro/http/router.hpp — method + path routing and the middleware chain.
//
//   goro::http::Router r;
//   r.get("/", home);
//   r.get("/users/:id", show_user);              // req.param("id")
//   r.post("/users/:id/posts", create_post);
//   r.get("/static/*path", serve_static);        // req.param("path"): the rest, "a/b.css"
//   r.use(goro::http::logger());                 // middleware, outermost first
//
// Patterns are split on '/' into segments: a literal, ":name" (one whole segment, any
// non-empty value) or, as the last segment only, "*name" (the rest of the path, possibly
// empty, slashes included; "*" alone names it "*"). A literal beats a parameter, which
// beats a wildcard; the router backtracks when a more specific branch leads nowhere.
// Trailing slashes matter: "/a" and "/a/" are different routes. Paths are compared after
// percent-decoding each segment ("%2F" stays inside its segment); parameter values are
// decoded the same way.
//
// Dispatch (handle()): the middleware chain runs for every request, then the route:
//  - no pattern matches the path: 404 (set_not_found() replaces the handler);
//  - a pattern matches but has no handler for the method: 405 with an Allow header
//    listing the methods it has; a HEAD request uses the GET handler when the pattern has
//    no HEAD handler of its own (the server drops the body).
//
// Middleware has the signature void(Request&, Response&, const Next&): call next() to
// run the rest of the chain and the handler (or don't, to answer by itself); code after
// next() runs once the handler returned (not once the response reached the client).
// Register routes and middleware before serving; the router is read-only while serving.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <goro/http/request.hpp>
#include <goro/http/response.hpp>

namespace goro::http {

using Handler = std::function<void(const Request&, Response&)>;

class Router;

// The rest of the middleware chain (and the route's handler), for a middleware to call.
class Next {
 public:
  void operator()() const;

 private:
  friend class Router;
  Next(const Router* r, std::size_t i, Request* req, Response* res) noexcept
      : router_(r), index_(i), req_(req), res_(res) {}
  const Router* router_;
  std::size_t index_;
  Request* req_;
  Response* res_;
};

using Middleware = std::function<void(Request&, Response&, const Next&)>;

class Router {
 public:
  Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;
  ~Router();

  // Adds a route. std::invalid_argument for a malformed pattern (not starting with '/',
  // an empty ":" or a wildcard before the end) or a method/pattern pair already routed.
  // Patterns that differ only in parameter names share their node (the first names win).
  Router& route(std::string_view method, std::string_view pattern, Handler h);
  Router& get(std::string_view pattern, Handler h) { return route("GET", pattern, std::move(h)); }
  Router& post(std::string_view pattern, Handler h) { return route("POST", pattern, std::move(h)); }
  Router& put(std::string_view pattern, Handler h) { return route("PUT", pattern, std::move(h)); }
  Router& patch(std::string_view pattern, Handler h) { return route("PATCH", pattern, std::move(h)); }
  Router& del(std::string_view pattern, Handler h) { return route("DELETE", pattern, std::move(h)); }
  Router& head(std::string_view pattern, Handler h) { return route("HEAD", pattern, std::move(h)); }
  Router& options(std::string_view pattern, Handler h) { return route("OPTIONS", pattern, std::move(h)); }

  // Appends a middleware to the chain.
  Router& use(Middleware m);
  // The handler for paths no pattern matches (default: 404 "Not Found").
  Router& set_not_found(Handler h);

  // What a path resolves to, for a method.
  struct Match {
    const Handler* handler = nullptr;  // nullptr: no route for this method (see status)
    int status = 200;                  // 200 matched, 404 no pattern, 405 wrong method
    std::string allow;                 // for 405: "GET, HEAD, POST"
  };
  // Matches without running anything; fills params with the route's parameters.
  Match match(std::string_view method, std::string_view path, Params& params) const;

  // Runs the middleware chain and the matched handler (or the 404/405 answer).
  void handle(Request& req, Response& res) const;

 private:
  friend class Next;
  struct Node;
  void run(std::size_t i, Request& req, Response& res) const;
  void dispatch(Request& req, Response& res) const;

  std::unique_ptr<Node> root_;
  // Patterns without parameters, by their text: most requests resolve with one lookup.
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, const Node*, StringHash, std::equal_to<>> literal_routes_;
  // The same, in the order added: a few of them are found faster by comparing lengths
  // and bytes than by hashing the path (see find_literal).
  std::vector<std::pair<std::string, const Node*>> literal_list_;
  const Node* find_literal(std::string_view path) const noexcept;
  std::vector<Middleware> middleware_;
  Handler not_found_;
};

inline void Next::operator()() const { router_->run(index_, *req_, *res_); }

}  // namespace goro::http

// router.cpp — a segment tree of routes, matched with backtracking, and the middleware
// chain. See goro/http/router.hpp for the rules.
//
// Each node is one pattern segment. Its children: literal segments (a short vector,
// scanned in order), at most one parameter child and at most one wildcard child (a leaf).
// Matching walks the request path's segments down the tree, trying the literal child,
// then the parameter, then the wildcard, and backs out of a branch that leads nowhere.
// A node reached with the path exhausted answers for the methods it has; the first such
// node without the request's method is remembered for the 405's Allow header, and the
// walk goes on in case another branch has the method.
#include <goro/http/router.hpp>

#include <array>
#include <cstring>
#include <stdexcept>
#include <string>

#include "internal.hpp"

namespace goro::http {

struct Router::Node {
  std::string literal;  // this node's segment, for a literal child
  std::vector<std::unique_ptr<Node>> literals;
  std::unique_ptr<Node> param;
  std::string param_name;
  std::unique_ptr<Node> wildcard;
  std::string wildcard_name;

  struct Route {
    std::string method;
    Handler handler;
  };
  std::vector<Route> routes;

  const Handler* find(std::string_view method) const noexcept {
    for (const Route& r : routes) {
      if (r.method == method) return &r.handler;
    }
    return nullptr;
  }
  // The handler for method, with HEAD falling back to GET.
  const Handler* handler_for(std::string_view method) const noexcept {
    const Handler* h = find(method);
    if (h == nullptr && method == "HEAD") h = find("GET");
    return h;
  }
  std::string allow() const {
    std::string out;
    bool has_get = false, has_head = false;
    for (const Route& r : routes) {
      if (!out.empty()) out += ", ";
      out += r.method;
      has_get |= r.method == "GET";
      has_head |= r.method == "HEAD";
    }
    if (has_get && !has_head) out += ", HEAD";
    return out;
  }
};

namespace {

// A path split into segments: "/" -> [""], "/a/b" -> ["a", "b"], "/a/" -> ["a", ""].
// Each segment's offset in the path lets a wildcard take the rest as it is.
struct Segments {
  static constexpr std::size_t kInline = 24;
  std::array<std::string_view, kInline> inline_segs;
  std::array<std::size_t, kInline> inline_offs;
  std::vector<std::string_view> more_segs;
  std::vector<std::size_t> more_offs;
  std::size_t n = 0;

  void push(std::string_view s, std::size_t off) {
    if (n < kInline) {
      inline_segs[n] = s;
      inline_offs[n] = off;
    } else {
      more_segs.push_back(s);
      more_offs.push_back(off);
    }
    ++n;
  }
  std::string_view seg(std::size_t i) const noexcept {
    return i < kInline ? inline_segs[i] : more_segs[i - kInline];
  }
  std::size_t off(std::size_t i) const noexcept {
    return i < kInline ? inline_offs[i] : more_offs[i - kInline];
  }
};

void split_path(std::string_view path, Segments& out) {
  std::size_t start = (!path.empty() && path[0] == '/') ? 1 : 0;
  for (;;) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      out.push(path.substr(start), start);
      return;
    }
    out.push(path.substr(start, slash - start), start);
    start = slash + 1;
  }
}

struct Walk {
  std::string_view method;
  std::string_view path;
  const Segments& segs;
  Params& params;
};

}  // namespace

// --- matching ------------------------------------------------------------------------------

namespace {
template <class Node>
const Node* walk(const Node* n, std::size_t i, const Walk& w, const Node*& fallback) {
  if (i == w.segs.n) {
    if (n->routes.empty()) return nullptr;
    if (n->handler_for(w.method) != nullptr) return n;
    if (fallback == nullptr) fallback = n;
    return nullptr;
  }
  std::string_view raw = w.segs.seg(i);
  std::string decoded;
  std::string_view seg = raw;
  if (detail::needs_decode(raw, false)) {
    decoded = detail::percent_decode(raw, false);
    seg = decoded;
  }
  for (const auto& child : n->literals) {
    if (child->literal == seg) {
      if (const Node* r = walk(child.get(), i + 1, w, fallback)) return r;
    }
  }
  if (n->param && !seg.empty()) {
    w.params.add(n->param_name, std::string(seg));
    if (const Node* r = walk(n->param.get(), i + 1, w, fallback)) return r;
    w.params.pop(1);
  }
  if (n->wildcard && !n->wildcard->routes.empty()) {
    const Node* leaf = n->wildcard.get();
    if (leaf->handler_for(w.method) != nullptr) {
      std::string_view rest = w.path.substr(w.segs.off(i));
      w.params.add(n->wildcard_name, detail::percent_decode(rest, false));
      return leaf;
    }
    if (fallback == nullptr) fallback = leaf;
  }
  return nullptr;
}
}  // namespace

// Up to this many literal patterns, a linear scan (a length compare per pattern, bytes
// only for those of the path's length) beats hashing the path.
constexpr std::size_t kLinearLiterals = 16;

const Router::Node* Router::find_literal(std::string_view path) const noexcept {
  if (literal_list_.size() <= kLinearLiterals) {
    for (const auto& [pattern, node] : literal_list_) {
      if (pattern.size() == path.size() && std::memcmp(pattern.data(), path.data(), path.size()) == 0) {
        return node;
      }
    }
    return nullptr;
  }
  auto it = literal_routes_.find(path);
  return it == literal_routes_.end() ? nullptr : it->second;
}

Router::Match Router::match(std::string_view method, std::string_view path, Params& params) const {
  Match m;
  // A pattern without parameters that is the path itself (no escapes to decode), and has
  // the method: done. Anything else (405 candidates, parameters) takes the walk.
  if (!literal_routes_.empty() && !detail::needs_decode(path, false)) {
    if (const Node* n = find_literal(path)) {
      if (const Handler* h = n->handler_for(method)) {
        m.handler = h;
        return m;
      }
    }
  }
  Segments segs;
  split_path(path, segs);
  const Node* fallback = nullptr;
  Walk w{method, path, segs, params};
  if (const Node* n = walk(root_.get(), 0, w, fallback)) {
    m.handler = n->handler_for(method);
    return m;
  }
  if (fallback != nullptr) {
    m.status = status::kMethodNotAllowed;
    m.allow = fallback->allow();
  } else {
    m.status = status::kNotFound;
  }
  return m;
}

// --- building ------------------------------------------------------------------------------

Router::Router() : root_(std::make_unique<Node>()) {}
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;
Router::~Router() = default;

Router& Router::route(std::string_view method, std::string_view pattern, Handler h) {
  if (method.empty()) throw std::invalid_argument("goro::http::Router: empty method");
  if (pattern.empty() || pattern[0] != '/') {
    throw std::invalid_argument("goro::http::Router: pattern must start with '/': " +
                                std::string(pattern));
  }
  if (!h) throw std::invalid_argument("goro::http::Router: empty handler");
  Node* n = root_.get();
  std::size_t start = 1;
  for (;;) {
    std::size_t slash = pattern.find('/', start);
    std::string_view seg = pattern.substr(start, slash == std::string_view::npos ? pattern.npos : slash - start);
    bool last = slash == std::string_view::npos;
    if (!seg.empty() && seg[0] == ':') {
      if (seg.size() == 1) {
        throw std::invalid_argument("goro::http::Router: parameter without a name in " +
                                    std::string(pattern));
      }
      if (!n->param) {
        n->param = std::make_unique<Node>();
        n->param_name = std::string(seg.substr(1));
      }
      n = n->param.get();
    } else if (!seg.empty() && seg[0] == '*') {
      if (!last) {
        throw std::invalid_argument("goro::http::Router: wildcard before the end of " +
                                    std::string(pattern));
      }
      if (!n->wildcard) {
        n->wildcard = std::make_unique<Node>();
        n->wildcard_name = seg.size() == 1 ? std::string("*") : std::string(seg.substr(1));
      }
      n = n->wildcard.get();
    } else {
      Node* child = nullptr;
      for (auto& c : n->literals) {
        if (c->literal == seg) child = c.get();
      }
      if (child == nullptr) {
        n->literals.push_back(std::make_unique<Node>());
        child = n->literals.back().get();
        child->literal = std::string(seg);
      }
      n = child;
    }
    if (last) break;
    start = slash + 1;
  }
  if (n->find(method) != nullptr) {
    throw std::invalid_argument("goro::http::Router: " + std::string(method) + " " +
                                std::string(pattern) + " is already routed");
  }
  n->routes.push_back({std::string(method), std::move(h)});
  if (pattern.find_first_of(":*") == std::string_view::npos) {
    if (literal_routes_.emplace(std::string(pattern), n).second) literal_list_.emplace_back(pattern, n);
  }
  return *this;
}

Router& Router::use(Middleware m) {
  if (!m) throw std::invalid_argument("goro::http::Router: empty middleware");
  middleware_.push_back(std::move(m));
  return *this;
}

Router& Router::set_not_found(Handler h) {
  not_found_ = std::move(h);
  return *this;
}

// --- dispatch ------------------------------------------------------------------------------

void Router::handle(Request& req, Response& res) const { run(0, req, res); }

void Router::run(std::size_t i, Request& req, Response& res) const {
  if (i < middleware_.size()) {
    middleware_[i](req, res, Next(this, i + 1, &req, &res));
  } else {
    dispatch(req, res);
  }
}

void Router::dispatch(Request& req, Response& res) const {
  Params& params = detail::RequestAccess::params(req);
  params.clear();
  Match m = match(req.method(), req.path(), params);
  if (m.handler != nullptr) {
    (*m.handler)(req, res);
    return;
  }
  if (m.status == status::kMethodNotAllowed) {
    res.status(status::kMethodNotAllowed).header("Allow", m.allow);
    res.text("Method Not Allowed\n");
    return;
  }
  if (not_found_) {
    res.status(status::kNotFound);
    not_found_(req, res);
    return;
  }
  res.status(status::kNotFound).text("Not Found\n");
}

}  // namespace goro::http

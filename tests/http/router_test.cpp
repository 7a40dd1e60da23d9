// Router, Headers, Request/Response and middleware as plain objects: no sockets, no runtime
// (except where a middleware writes through goro::blocking, which works outside it too).
#include <goro/http.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace http = goro::http;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace {

http::Handler tag(std::string name) {
  return [name](const http::Request&, http::Response& res) { res.text(name); };
}

// Runs the router on a hand-made request; returns the response.
http::Response call(const http::Router& r, std::string_view method, std::string_view target,
                    http::Headers h = {}, std::string body = {}) {
  http::Request req(method, target, std::move(h), std::move(body));
  http::Response res;
  r.handle(req, res);
  return res;
}

TEST(Headers, CaseInsensitiveAndOrdered) {
  http::Headers h;
  h.add("Set-Cookie", "a=1");
  h.add("content-type", "text/plain");
  h.add("set-cookie", "b=2");
  EXPECT_EQ(h.get("SET-COOKIE"), "a=1");
  EXPECT_EQ(h.get("Content-Type"), "text/plain");
  EXPECT_THAT(h.get_all("Set-Cookie"), ElementsAre("a=1", "b=2"));
  EXPECT_FALSE(h.has("X-Missing"));
  EXPECT_EQ(h.get("X-Missing"), "");
  h.add("X-Empty", "");
  ASSERT_TRUE(h.find("x-empty").has_value());
  EXPECT_EQ(*h.find("x-empty"), "");

  h.set("SET-cookie", "c=3");
  EXPECT_THAT(h.get_all("set-cookie"), ElementsAre("c=3"));
  EXPECT_EQ(h.erase("Content-TYPE"), 1u);
  EXPECT_EQ(h.size(), 2u);

  http::Headers copy = h;  // deep copy: owns its bytes
  h.clear();
  EXPECT_EQ(copy.get("set-cookie"), "c=3");
  EXPECT_TRUE(http::iequals("Transfer-Encoding", "transfer-encoding"));
  EXPECT_FALSE(http::iequals("abc", "abd"));
}

TEST(Headers, ManyAndLargeFieldsSurviveReuse) {
  http::Headers h;
  for (int round = 0; round < 3; ++round) {
    std::vector<std::string> values;
    for (int i = 0; i < 100; ++i) {
      values.push_back(std::string(static_cast<std::size_t>(i * 7 % 300), static_cast<char>('a' + i % 26)));
      h.add("X-Field-" + std::to_string(i), values.back());
    }
    h.add("X-Big", std::string(5000, 'B'));
    for (int i = 0; i < 100; ++i) ASSERT_EQ(h.get("x-field-" + std::to_string(i)), values[i]);
    EXPECT_EQ(h.get("x-big").size(), 5000u);
    h.clear();
    EXPECT_TRUE(h.empty());
  }
}

TEST(Headers, SetFromItsOwnValue) {
  http::Headers h{{"A", "value-that-is-long-enough"}};
  h.set("A", h.get("A"));  // the view points into the field being replaced
  EXPECT_EQ(h.get("A"), "value-that-is-long-enough");
}

TEST(Request, TargetPathAndQuery) {
  http::Request req("GET", "/search?q=hello+world&lang=en&q=second&empty=&flag&pct=%2F%41");
  EXPECT_EQ(req.path(), "/search");
  EXPECT_EQ(req.raw_query(), "q=hello+world&lang=en&q=second&empty=&flag&pct=%2F%41");
  EXPECT_EQ(req.query("q").value(), "hello world");  // the first value, decoded
  EXPECT_EQ(req.query("lang").value(), "en");
  EXPECT_EQ(req.query("empty").value(), "");
  EXPECT_EQ(req.query("flag").value(), "");
  EXPECT_EQ(req.query("pct").value(), "/A");
  EXPECT_FALSE(req.query("nope").has_value());
  EXPECT_EQ(req.query_or("nope", "dflt"), "dflt");
  EXPECT_EQ(req.query_params().size(), 6u);

  http::Request abs("GET", "http://example.com/a/b?x=1");
  EXPECT_EQ(abs.path(), "/a/b");
  EXPECT_EQ(abs.query("x").value(), "1");
  http::Request star("OPTIONS", "*");
  EXPECT_EQ(star.path(), "*");
}

TEST(Request, BodyWholeOrStreamed) {
  http::Request a("POST", "/", {}, "0123456789");
  EXPECT_EQ(a.content_length().value(), 10u);
  EXPECT_EQ(a.body(), "0123456789");
  EXPECT_EQ(a.body(), "0123456789");  // kept
  std::error_code ec;
  char b[4];
  EXPECT_EQ(a.read_body(b, sizeof b, ec), 0u);
  EXPECT_EQ(ec, http::Errc::kBodyConsumed);

  http::Request s("POST", "/", {}, "0123456789");
  std::string got;
  while (std::size_t n = s.read_body(b, sizeof b)) got.append(b, n);
  EXPECT_EQ(got, "0123456789");
  EXPECT_THROW(s.body(), http::HttpError);
}

TEST(Router, StaticParamsAndWildcard) {
  http::Router r;
  r.get("/", tag("root"));
  r.get("/users", tag("users"));
  r.get("/users/", tag("users-slash"));
  r.get("/users/:id", [](const http::Request& req, http::Response& res) {
    res.text("user " + std::string(req.param("id")));
  });
  r.get("/users/me", tag("me"));
  r.get("/users/:id/posts/:post", [](const http::Request& req, http::Response& res) {
    res.text(std::string(req.param("id")) + "/" + std::string(req.param("post")));
  });
  r.get("/static/*path", [](const http::Request& req, http::Response& res) {
    res.text("static:" + std::string(req.param("path")));
  });
  r.get("/files/*", [](const http::Request& req, http::Response& res) {
    res.text("files:" + std::string(req.param("*")));
  });

  EXPECT_EQ(call(r, "GET", "/").body(), "root");
  EXPECT_EQ(call(r, "GET", "/users").body(), "users");
  EXPECT_EQ(call(r, "GET", "/users/").body(), "users-slash");
  EXPECT_EQ(call(r, "GET", "/users/42").body(), "user 42");
  EXPECT_EQ(call(r, "GET", "/users/me").body(), "me");  // a literal beats a parameter
  EXPECT_EQ(call(r, "GET", "/users/7/posts/9").body(), "7/9");
  EXPECT_EQ(call(r, "GET", "/users/a%20b").body(), "user a b");  // decoded
  EXPECT_EQ(call(r, "GET", "/users/a%2Fb").body(), "user a/b");  // %2F stays in its segment
  EXPECT_EQ(call(r, "GET", "/static/css/site.css").body(), "static:css/site.css");
  EXPECT_EQ(call(r, "GET", "/static/").body(), "static:");
  EXPECT_EQ(call(r, "GET", "/files/a/b").body(), "files:a/b");
  EXPECT_EQ(call(r, "GET", "/users/42?x=1").body(), "user 42");
  EXPECT_EQ(call(r, "GET", "/static").status(), 404);
  EXPECT_EQ(call(r, "GET", "/users/7/posts").status(), 404);
  EXPECT_EQ(call(r, "GET", "/nope").status(), 404);
}

TEST(Router, BacktracksFromADeadEnd) {
  http::Router r;
  r.get("/a/b/c", tag("abc"));
  r.get("/a/:x/d", tag("axd"));
  r.get("/a/*rest", tag("rest"));
  EXPECT_EQ(call(r, "GET", "/a/b/c").body(), "abc");
  EXPECT_EQ(call(r, "GET", "/a/b/d").body(), "axd");  // literal b leads nowhere: back to :x
  EXPECT_EQ(call(r, "GET", "/a/b/e").body(), "rest");
  http::Params p;
  auto m = r.match("GET", "/a/b/d", p);
  ASSERT_NE(m.handler, nullptr);
  ASSERT_EQ(p.size(), 1u);  // no parameter left over from the dead end
  EXPECT_EQ(p.get("x"), "b");
}

TEST(Router, MethodNotAllowedListsAllow) {
  http::Router r;
  r.get("/thing", tag("get"));
  r.post("/thing", tag("post"));
  r.del("/thing/:id", tag("del"));
  http::Response res = call(r, "PUT", "/thing");
  EXPECT_EQ(res.status(), 405);
  EXPECT_EQ(res.headers().get("Allow"), "GET, POST, HEAD");
  EXPECT_EQ(call(r, "POST", "/thing").body(), "post");
  EXPECT_EQ(call(r, "HEAD", "/thing").body(), "get");  // HEAD falls back to GET
  http::Response d = call(r, "GET", "/thing/3");
  EXPECT_EQ(d.status(), 405);
  EXPECT_EQ(d.headers().get("allow"), "DELETE");
}

TEST(Router, NotFoundHandlerAndBadPatterns) {
  http::Router r;
  r.set_not_found([](const http::Request& req, http::Response& res) {
    res.text("no " + std::string(req.path()));
  });
  http::Response res = call(r, "GET", "/x");
  EXPECT_EQ(res.status(), 404);
  EXPECT_EQ(res.body(), "no /x");

  EXPECT_THROW(r.get("relative", tag("x")), std::invalid_argument);
  EXPECT_THROW(r.get("/a/:", tag("x")), std::invalid_argument);
  EXPECT_THROW(r.get("/a/*rest/more", tag("x")), std::invalid_argument);
  r.get("/dup", tag("x"));
  EXPECT_THROW(r.get("/dup", tag("y")), std::invalid_argument);
  EXPECT_NO_THROW(r.post("/dup", tag("y")));
}

TEST(Middleware, RunsInOrderAndCanShortCircuit) {
  http::Router r;
  std::vector<std::string> trace;
  r.use([&](http::Request&, http::Response&, const http::Next& next) {
    trace.push_back("a-in");
    next();
    trace.push_back("a-out");
  });
  r.use([&](http::Request& req, http::Response& res, const http::Next& next) {
    trace.push_back("b-in");
    if (req.header("X-Block") == "yes") {
      res.status(403).text("blocked");
      return;
    }
    next();
    res.header("X-After", "set after the handler");
    trace.push_back("b-out");
  });
  r.get("/", [&](const http::Request&, http::Response& res) {
    trace.push_back("handler");
    res.text("ok");
  });

  http::Response ok = call(r, "GET", "/");
  EXPECT_THAT(trace, ElementsAre("a-in", "b-in", "handler", "b-out", "a-out"));
  EXPECT_EQ(ok.headers().get("X-After"), "set after the handler");
  trace.clear();
  http::Response blocked = call(r, "GET", "/", {{"X-Block", "yes"}});
  EXPECT_EQ(blocked.status(), 403);
  EXPECT_THAT(trace, ElementsAre("a-in", "b-in", "a-out"));
  trace.clear();
  EXPECT_EQ(call(r, "GET", "/missing").status(), 404);  // middleware runs for 404s too
  EXPECT_THAT(trace, ElementsAre("a-in", "b-in", "b-out", "a-out"));
}

TEST(Middleware, RequestIdGeneratedOrPassedThrough) {
  http::Router r;
  r.use(http::request_id());
  r.get("/", [](const http::Request& req, http::Response& res) { res.text(std::string(req.id())); });

  http::Response a = call(r, "GET", "/");
  http::Response b = call(r, "GET", "/");
  EXPECT_FALSE(a.body().empty());
  EXPECT_NE(a.body(), b.body());
  EXPECT_EQ(a.headers().get("X-Request-Id"), a.body());

  http::Response mine = call(r, "GET", "/", {{"x-request-id", "abc-123"}});
  EXPECT_EQ(mine.body(), "abc-123");
  EXPECT_EQ(mine.headers().get("X-Request-Id"), "abc-123");

  // Not a short token: replaced.
  http::Response bad = call(r, "GET", "/", {{"X-Request-Id", "has spaces and \"quotes\""}});
  EXPECT_NE(bad.body(), "has spaces and \"quotes\"");
  EXPECT_FALSE(bad.body().empty());
}

// Ids come from per-P blocks of the shared counter (middleware.cpp): goroutines on
// several Ps, and a thread outside any goroutine, never get the same one.
TEST(Middleware, RequestIdsAreUniqueAcrossProcessorsAndThreads) {
  http::Router r;
  r.use(http::request_id());
  r.get("/", [](const http::Request& req, http::Response& res) {
    res.text(std::string(req.id()));
  });
  constexpr int kGoroutines = 8;
  constexpr int kEach = 3000;  // each P's block (1024 ids) runs out and is refilled
  std::vector<std::vector<std::string>> ids(kGoroutines + 1);
  for (int i = 0; i < 500; ++i) ids[kGoroutines].push_back(call(r, "GET", "/").body());
  goro::Config cfg;
  cfg.max_procs = 4;
  goro::run(cfg, [&] {
    goro::WaitGroup wg;
    wg.add(kGoroutines);
    for (int g = 0; g < kGoroutines; ++g) {
      goro::go([&, g] {
        for (int i = 0; i < kEach; ++i) {
          ids[g].push_back(call(r, "GET", "/").body());
          if (i % 100 == 0) goro::yield();  // mix the goroutines over the Ps
        }
        wg.done();
      });
    }
    wg.wait();
  });
  std::set<std::string> all;
  std::size_t n = 0;
  for (const auto& v : ids) {
    for (const auto& id : v) {
      EXPECT_FALSE(id.empty());
      all.insert(id);
      ++n;
    }
  }
  EXPECT_EQ(n, std::size_t{kGoroutines} * kEach + 500);
  EXPECT_EQ(all.size(), n);
}

TEST(Middleware, RequestIdUnderAnotherNameReplacesAnEarlierField) {
  http::Router r;
  // An earlier middleware set the field already: request_id leaves exactly one, its own.
  r.use([](http::Request&, http::Response& res, const http::Next& next) {
    res.header("trace-id", "old");
    next();
  });
  r.use(http::request_id("Trace-Id"));
  r.get("/", [](const http::Request& req, http::Response& res) { res.text(std::string(req.id())); });
  http::Response a = call(r, "GET", "/", {{"Trace-Id", "t-1"}});
  EXPECT_EQ(a.body(), "t-1");
  EXPECT_THAT(a.headers().get_all("TRACE-ID"), ElementsAre("t-1"));
  http::Response b = call(r, "GET", "/");
  ASSERT_EQ(b.headers().get_all("trace-id").size(), 1u);
  EXPECT_EQ(b.headers().get("Trace-Id"), b.body());
  EXPECT_NE(b.body(), "old");
}

TEST(Middleware, RecovererAnswers500AndLogs) {
  http::Router r;
  std::vector<std::string> lines;
  r.use(http::request_id());
  r.use(http::recoverer([&](std::string_view l) { lines.emplace_back(l); }));
  r.get("/boom", [](const http::Request&, http::Response& res) {
    res.header("X-Partial", "1");
    throw std::runtime_error("kaboom");
  });
  r.get("/teapot", [](const http::Request&, http::Response&) {
    throw http::HttpError(418, "short and stout");
  });

  http::Response res = call(r, "GET", "/boom");
  EXPECT_EQ(res.status(), 500);
  EXPECT_EQ(res.headers().get("Connection"), "close");
  EXPECT_FALSE(res.headers().has("X-Partial"));
  EXPECT_FALSE(res.headers().get("X-Request-Id").empty());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("kaboom"));
  EXPECT_THAT(lines[0], HasSubstr("GET /boom"));

  http::Response tea = call(r, "GET", "/teapot");
  EXPECT_EQ(tea.status(), 418);
  EXPECT_EQ(tea.body(), "short and stout\n");
  EXPECT_EQ(lines.size(), 1u);  // an HttpError is an answer, not a panic
}

TEST(Middleware, LoggerWritesOneLine) {
  http::Router r;
  std::vector<std::string> lines;
  r.use(http::request_id());
  r.use(http::logger([&](std::string_view l) { lines.emplace_back(l); }));
  r.get("/hello", [](const http::Request&, http::Response& res) { res.status(201).text("hi!"); });
  call(r, "GET", "/hello?x=1", {{"X-Request-Id", "rid-7"}});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("\"GET /hello?x=1 HTTP/1.1\" 201 3B"));
  EXPECT_THAT(lines[0], HasSubstr("id=rid-7"));
}

TEST(Response, WholeAndStreamedInMemory) {
  http::Response res;
  res.status(201).header("X-A", "1").add_header("X-A", "2");
  res.json(R"({"a":1})");
  EXPECT_EQ(res.headers().get("Content-Type"), "application/json");
  EXPECT_EQ(res.headers().get_all("x-a").size(), 2u);
  EXPECT_EQ(res.bytes_written(), 7u);
  res.text("replaced");  // Content-Type stays as first set
  EXPECT_EQ(res.body(), "replaced");
  EXPECT_EQ(res.headers().get("Content-Type"), "application/json");

  http::Response s;
  s.write("ab");
  s.write("cd");
  EXPECT_TRUE(s.committed());
  EXPECT_EQ(s.body(), "abcd");
  s.status(500);  // ignored once committed
  EXPECT_EQ(s.status(), 200);
  EXPECT_THROW(s.text("x"), std::logic_error);
  EXPECT_EQ(http::reason_phrase(404), "Not Found");
  EXPECT_EQ(http::reason_phrase(431), "Request Header Fields Too Large");
}

}  // namespace

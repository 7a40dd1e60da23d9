// The router and the middleware through a real server and real sockets (router_test.cpp
// has them as plain objects): 404, 405 with Allow, parameters, wildcards, query strings,
// HEAD through GET, and the request-id, recovery and logging middleware as a client sees
// them, with the byte-level client and with curl.
#include <goro/http.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "http_test_util.hpp"

namespace http = goro::http;
using namespace http_test;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

namespace {

void add_routes(http::Server& srv) {
  srv.get("/", [](const http::Request&, http::Response& res) { res.text("root"); });
  srv.get("/users/:id", [](const http::Request& req, http::Response& res) {
    res.text("user " + std::string(req.param("id")));
  });
  srv.get("/users/me", [](const http::Request&, http::Response& res) { res.text("me"); });
  srv.del("/users/:id", [](const http::Request& req, http::Response& res) {
    res.text("deleted " + std::string(req.param("id")));
  });
  srv.get("/users/:id/posts/:post", [](const http::Request& req, http::Response& res) {
    res.text(std::string(req.param("id")) + "/" + std::string(req.param("post")));
  });
  srv.get("/static/*path", [](const http::Request& req, http::Response& res) {
    res.text("static:" + std::string(req.param("path")));
  });
  srv.get("/search", [](const http::Request& req, http::Response& res) {
    std::string out = "q=" + req.query_or("q", "-") + " lang=" + req.query_or("lang", "-") + " n=" +
                      std::to_string(req.query_params().size());
    res.text(out);
  });
  srv.post("/form", [](const http::Request& req, http::Response& res) { res.text("posted " + req.body()); });
  srv.put("/form", [](const http::Request& req, http::Response& res) { res.text("put " + req.body()); });
}

TEST(Routing, ParamsWildcardsAndQueriesOverSockets) {
  run([] {
    TestServer ts;
    add_routes(ts.srv);
    ts.start();
    RawClient c = ts.connect();
    struct Want {
      std::string target;
      int status;
      std::string body;
    };
    std::vector<Want> wants = {
        {"/", 200, "root"},
        {"/users/42", 200, "user 42"},
        {"/users/me", 200, "me"},                   // a literal beats a parameter
        {"/users/a%20b", 200, "user a b"},          // decoded
        {"/users/a%2Fb", 200, "user a/b"},          // %2F stays inside its segment
        {"/users/7/posts/9", 200, "7/9"},
        {"/users/42?x=1", 200, "user 42"},          // the query is not part of the path
        {"/static/css/site.css", 200, "static:css/site.css"},
        {"/static/", 200, "static:"},
        {"/static", 404, "Not Found\n"},
        {"/search?q=hello+world&lang=en&q=2", 200, "q=hello world lang=en n=3"},
        {"/search?q=%E2%82%AC%26", 200, "q=\xE2\x82\xAC& lang=- n=1"},
        {"/search", 200, "q=- lang=- n=0"},
        {"/users", 404, "Not Found\n"},
        {"/users/7/posts", 404, "Not Found\n"},
        {"/nope", 404, "Not Found\n"},
    };
    for (const Want& w : wants) {
      ASSERT_TRUE(c.send(get(w.target)));
      RawResponse r = c.read_response();
      ASSERT_TRUE(r.ok) << w.target << ": " << r.error;
      EXPECT_EQ(r.status, w.status) << w.target;
      EXPECT_EQ(r.body, w.body) << w.target;
      EXPECT_FALSE(r.closes()) << w.target << ": a 404 keeps the connection";
    }
  });
}

TEST(Routing, MethodNotAllowedListsAllowAndKeepsTheConnection) {
  run([] {
    TestServer ts;
    add_routes(ts.srv);
    ts.start();
    RawClient c = ts.connect();
    c.send("PATCH /form HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc");
    RawResponse r = c.read_response();
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.header("Allow"), "POST, PUT");
    EXPECT_FALSE(r.closes());
    c.send("POST /users/3 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    r = c.read_response();
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.header("Allow"), "GET, DELETE, HEAD");
    // The unread bodies were skipped: the connection still frames requests right.
    c.send("DELETE /users/3 HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_EQ(c.read_response().body, "deleted 3");
    c.send("PUT /form HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nxy");
    EXPECT_EQ(c.read_response().body, "put xy");
    // HEAD through the GET handler: the length, no body, and the next response intact.
    c.send("HEAD /users/5 HTTP/1.1\r\nHost: t\r\n\r\n");
    r = c.read_response(/*head_request=*/true);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Length"), "6");
    c.send(get("/users/6"));
    EXPECT_EQ(c.read_response().body, "user 6");
  });
}

TEST(Routing, WithCurl) {
  ASSERT_TRUE(have_curl()) << "curl is not installed (.ci/deps.sh: GORO_TEST_DEPS)";
  run([] {
    TestServer ts;
    add_routes(ts.srv);
    ts.start();
    EXPECT_EQ(curl(ts.url("/users/42")).out, "user 42");
    EXPECT_EQ(curl(ts.url("/static/a/b/c.txt")).out, "static:a/b/c.txt");
    EXPECT_EQ(curl("-G --data-urlencode 'q=a b&c' " + ts.url("/search")).out, "q=a b&c lang=- n=1");
    CurlResult r = curl("-i -X PATCH " + ts.url("/form"));
    EXPECT_EQ(r.code, 405);
    EXPECT_THAT(r.out, HasSubstr("Allow: POST, PUT\r\n"));
    EXPECT_EQ(curl(ts.url("/nope")).code, 404);
    EXPECT_EQ(curl("-X DELETE " + ts.url("/users/9")).out, "deleted 9");
    EXPECT_EQ(curl("-d 'a=1' " + ts.url("/form")).out, "posted a=1");
  });
}

TEST(Middleware, RequestIdRecoveryAndLoggingOverSockets) {
  run([] {
    goro::Mutex mu;
    std::vector<std::string> log;
    auto sink = [&](std::string_view line) {
      std::lock_guard lk(mu);
      log.emplace_back(line);
    };
    TestServer ts;
    ts.srv.use(http::request_id());
    ts.srv.use(http::logger(sink));
    ts.srv.use(http::recoverer(sink));
    std::atomic<int> order{0};
    ts.srv.use([&](http::Request& req, http::Response& res, const http::Next& next) {
      res.header("X-Seen-Id", req.id());
      order = 1;
      next();
      res.header("X-After", "yes");  // whole bodies: headers may still change
    });
    ts.srv.get("/", [](const http::Request& req, http::Response& res) { res.text(std::string(req.id())); });
    ts.srv.get("/boom", [](const http::Request&, http::Response&) {
      throw std::runtime_error("boom (expected by the test)");
    });
    ts.srv.get("/gone", [](const http::Request&, http::Response&) { throw http::HttpError(410, "gone away"); });
    ts.start();

    // A generated id: the same in the header, the handler and the log line.
    RawClient c = ts.connect();
    c.send(get("/"));
    RawResponse r = c.read_response();
    ASSERT_TRUE(r.ok) << r.error;
    std::string id = r.header("X-Request-Id").value_or("");
    EXPECT_THAT(id, MatchesRegex("[0-9a-f]{8}-[0-9]+"));
    EXPECT_EQ(r.body, id);
    EXPECT_EQ(r.header("X-Seen-Id"), id);
    EXPECT_EQ(r.header("X-After"), "yes");
    // The client's id, if it is a short token, is kept; a bad one is replaced.
    c.send(get("/", "X-Request-Id: client.id-7\r\n"));
    EXPECT_EQ(c.read_response().header("X-Request-Id"), "client.id-7");
    c.send(get("/", "X-Request-Id: bad id with spaces\r\n"));
    r = c.read_response();
    EXPECT_NE(r.header("X-Request-Id"), "bad id with spaces");
    EXPECT_THAT(r.header("X-Request-Id").value_or(""), MatchesRegex("[0-9a-f]{8}-[0-9]+"));

    // An exception: 500 with the id, the connection closes, the server goes on.
    RawClient b = ts.connect();
    b.send(get("/boom", "X-Request-Id: boom-1\r\n") + get("/"));
    r = b.read_response();
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(r.header("X-Request-Id"), "boom-1");
    EXPECT_TRUE(r.closes());
    EXPECT_TRUE(b.at_eof());
    r = ts.request(get("/gone"));
    EXPECT_EQ(r.status, 410);
    EXPECT_EQ(r.body, "gone away\n");
    EXPECT_EQ(ts.request(get("/")).status, 200);

    std::lock_guard lk(mu);
    std::string all;
    for (const auto& l : log) all += l + "\n";
    // One access line per request, with the status the recoverer chose and the id, and a
    // line about the exception.
    EXPECT_THAT(all, HasSubstr("\"GET / HTTP/1.1\" 200 "));
    EXPECT_THAT(all, HasSubstr("id=" + id));
    EXPECT_THAT(all, HasSubstr("\"GET /boom HTTP/1.1\" 500 "));
    EXPECT_THAT(all, HasSubstr("boom (expected by the test)"));
    EXPECT_THAT(all, HasSubstr("boom-1"));
    EXPECT_THAT(all, HasSubstr("\"GET /gone HTTP/1.1\" 410 "));
    EXPECT_THAT(all, HasSubstr("127.0.0.1:"));
  });
}

}  // namespace

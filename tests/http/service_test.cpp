// The example service (examples/http_service.cpp) as a user runs it: the real binary,
// started on a free port, driven with curl and a byte-level client, stopped with SIGTERM.
// Checks every route the README shows (the README's own curl lines, run as written), the
// /file confinement, the /resolve and /spin error answers, preemption under /spin with
// one P, a graceful SIGTERM with requests in flight, and bad command lines.
#include <goro/core/detail/sanitizers.hpp>
#include <goro/goro.hpp>
#include <goro/http.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "http_test_util.hpp"

extern char** environ;

// The example's binary and the source tree, from tests/CMakeLists.txt ("" when the
// examples are not built).
#ifndef GORO_HTTP_SERVICE
#define GORO_HTTP_SERVICE ""
#endif
#ifndef GORO_SOURCE_DIR
#define GORO_SOURCE_DIR ""
#endif

namespace fs = std::filesystem;
using namespace http_test;
using ::testing::HasSubstr;
using ::testing::Not;
using std::chrono::milliseconds;

namespace {

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

// A running http_service process; its stdout and stderr are collected by a thread.
class Service {
 public:
  // Starts `http_service --host 127.0.0.1 --port 0 ARGS`, with `env` added to this
  // process's environment, and waits for its "listening on" line (or its exit).
  explicit Service(std::vector<std::string> args, std::vector<std::string> env = {}) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return;
    std::vector<std::string> argv_s = {GORO_HTTP_SERVICE, "--host", "127.0.0.1", "--port", "0"};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    // Ours replace the inherited ones of the same name (getenv takes the first): a test
    // run with GORO_MAXPROCS=8 must still start a one-P service when asked to.
    std::vector<std::string> env_s;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string_view var(*e);
      std::string_view name = var.substr(0, var.find('='));
      bool replaced = false;
      for (const auto& mine : env) {
        replaced |= mine.size() > name.size() && mine.compare(0, name.size(), name) == 0 &&
                    mine[name.size()] == '=';
      }
      if (!replaced) env_s.emplace_back(var);
    }
    env_s.insert(env_s.end(), env.begin(), env.end());
    std::vector<char*> envp;
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    ::close(p[1]);
    if (rc != 0) {
      ::close(p[0]);
      pid_ = -1;
      return;
    }
    reader_ = std::thread([this, fd = p[0]] {
      char buf[4096];
      for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        std::lock_guard lk(mu_);
        if (n <= 0) {
          eof_ = true;
          cv_.notify_all();
          break;
        }
        log_.append(buf, static_cast<std::size_t>(n));
        cv_.notify_all();
      }
      ::close(fd);
    });
    // The port, from "http_service: listening on 127.0.0.1:PORT (...)".
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, std::chrono::seconds(20), [&] {
      return eof_ || log_.find(" (", log_.find("listening on ")) != std::string::npos;
    });
    std::size_t at = log_.find("listening on ");
    if (at != std::string::npos) {
      std::size_t end = log_.find(" (", at);
      std::size_t colon = log_.rfind(':', end);
      port_ = std::atoi(log_.c_str() + colon + 1);
    }
  }

  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  ~Service() {
    if (pid_ > 0 && status_ == kRunning) {
      ::kill(pid_, SIGKILL);
      wait_exit(std::chrono::seconds(10));
    }
    if (reader_.joinable()) reader_.join();
  }

  int port() const { return port_; }
  bool started() const { return port_ > 0; }
  std::string url(std::string_view path) const {
    return "'http://127.0.0.1:" + std::to_string(port_) + std::string(path) + "'";
  }
  goro::net::Address address() const {
    return *goro::net::Address::parse("127.0.0.1", static_cast<std::uint16_t>(port_));
  }

  // Everything the process printed so far.
  std::string log() {
    std::lock_guard lk(mu_);
    return log_;
  }

  void signal(int sig) { ::kill(pid_, sig); }

  // The process's open descriptors (/proc/PID/fd).
  int open_fds() const {
    std::error_code ec;
    int n = 0;
    for (auto it = fs::directory_iterator("/proc/" + std::to_string(pid_) + "/fd", ec);
         !ec && it != fs::directory_iterator(); it.increment(ec)) {
      ++n;
    }
    return ec ? -1 : n;
  }

  // Waits (inside the runtime through goro::blocking) up to `wait` for
  // the process to exit; its exit status, or kRunning, or kKilled (ended by a signal).
  int wait_exit(goro::Duration wait) {
    if (status_ != kRunning || pid_ <= 0) return status_;
    auto deadline = std::chrono::steady_clock::now() + wait;
    blocking_call([&] {
      for (;;) {
        int st = 0;
        pid_t r = ::waitpid(pid_, &st, WNOHANG);
        if (r == pid_) {
          status_ = WIFEXITED(st) ? WEXITSTATUS(st) : kKilled;
          return;
        }
        if (r < 0 || std::chrono::steady_clock::now() > deadline) return;
        std::this_thread::sleep_for(milliseconds(10));
      }
    });
    if (status_ != kRunning && reader_.joinable()) reader_.join();  // output complete
    return status_;
  }

  static constexpr int kRunning = -1;
  static constexpr int kKilled = -2;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  int status_ = kRunning;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string log_;
  bool eof_ = false;
};

// A scratch directory for --root, with files in and around it:
//   <base>/secret.txt                 outside the root
//   <base>/root/README.md, hello.txt, sub/inner.json, sub/dir/
//   <base>/root/escape -> ../secret.txt, <base>/root/inside -> hello.txt
class ScratchRoot {
 public:
  ScratchRoot() {
    std::string tmpl = testing::TempDir() + "goro_service_XXXXXX";
    base_ = ::mkdtemp(tmpl.data()) != nullptr ? fs::path(tmpl) : fs::path();
    root_ = base_ / "root";
    fs::create_directories(root_ / "sub" / "dir");
    write(base_ / "secret.txt", "top secret\n");
    write(root_ / "README.md", "# a readme\n");
    write(root_ / "hello.txt", "hello file\n");
    write(root_ / "sub" / "inner.json", "{\"inner\":true}");
    fs::create_symlink("../secret.txt", root_ / "escape");
    fs::create_symlink("hello.txt", root_ / "inside");
  }
  ~ScratchRoot() {
    std::error_code ec;
    fs::remove_all(base_, ec);
  }
  const fs::path& root() const { return root_; }

 private:
  static void write(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }
  fs::path base_, root_;
};

bool have_service() { return std::string_view(GORO_HTTP_SERVICE) != ""; }

#define REQUIRE_SERVICE()                                                                  \
  do {                                                                                     \
    if (!have_service()) GTEST_SKIP() << "examples are not built (GORO_BUILD_EXAMPLES=OFF)"; \
    ASSERT_TRUE(have_curl()) << "curl is not installed (.ci/deps.sh: GORO_TEST_DEPS)";       \
  } while (0)

// The curl lines of README.md's Quick start, as a user would paste them: each must reach
// the service (the port rewritten) and get a 2xx answer.
TEST(Service, ReadmeCurlCommandsWork) {
  REQUIRE_SERVICE();
  std::ifstream in(std::string(GORO_SOURCE_DIR) + "/README.md");
  ASSERT_TRUE(in) << "README.md not found under " << GORO_SOURCE_DIR;
  std::vector<std::string> commands;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("curl ", 0) != 0 || line.find("localhost:8080") == std::string::npos) continue;
    std::size_t hash = line.find(" #");
    if (hash != std::string::npos) line.erase(hash);
    commands.push_back(line.substr(5));
  }
  ASSERT_GE(commands.size(), 8u) << "README.md's curl examples are gone";
  // --root is the source tree, as when .ci/main runs it from a checkout.
  Service svc({"--root", GORO_SOURCE_DIR});
  ASSERT_TRUE(svc.started()) << svc.log();
  for (std::string cmd : commands) {
    std::size_t at = cmd.find("localhost:8080");
    cmd.replace(at, 14, "127.0.0.1:" + std::to_string(svc.port()));
    CurlResult r = curl(cmd);
    EXPECT_EQ(r.exit, 0) << "curl " << cmd << ": " << r.out;
    EXPECT_GE(r.code, 200) << "curl " << cmd << ": " << r.out;
    EXPECT_LT(r.code, 300) << "curl " << cmd << ": " << r.out;
    EXPECT_FALSE(r.out.empty()) << "curl " << cmd;
  }
  svc.signal(SIGTERM);
  EXPECT_EQ(svc.wait_exit(std::chrono::seconds(10)), 0) << svc.log();
}

TEST(Service, Routes) {
  REQUIRE_SERVICE();
  ScratchRoot dir;
  Service svc({"--root", dir.root().string()});
  ASSERT_TRUE(svc.started()) << svc.log();

  CurlResult r = curl("-i " + svc.url("/"));
  EXPECT_EQ(r.code, 200);
  EXPECT_THAT(r.out, HasSubstr("\r\n\r\nHello, World!"));
  EXPECT_THAT(r.out, HasSubstr("Content-Type: text/plain; charset=utf-8\r\n"));
  EXPECT_THAT(r.out, HasSubstr("X-Request-Id: "));  // the request_id middleware
  EXPECT_THAT(r.out, HasSubstr("Server: goro\r\n"));
  EXPECT_THAT(r.out, HasSubstr("Date: "));

  r = curl("-i -H 'X-Request-Id: my-id.1' " + svc.url("/"));
  EXPECT_THAT(r.out, HasSubstr("X-Request-Id: my-id.1\r\n"));

  r = curl("-i -H 'Content-Type: application/x-thing' --data-binary 'some bytes' " + svc.url("/echo"));
  EXPECT_EQ(r.code, 200);
  EXPECT_THAT(r.out, HasSubstr("\r\n\r\nsome bytes"));
  EXPECT_THAT(r.out, HasSubstr("Content-Type: application/x-thing\r\n"));
  // A chunked upload, echoed whole.
  r = curl("-H 'Transfer-Encoding: chunked' --data-binary 'chunked bytes' " + svc.url("/echo"));
  EXPECT_EQ(r.out, "chunked bytes");

  r = curl("-i " + svc.url("/json"));
  EXPECT_EQ(r.code, 200);
  EXPECT_THAT(r.out, HasSubstr("Content-Type: application/json\r\n"));
  EXPECT_THAT(r.out, HasSubstr("{\"message\":\"Hello, World!\",\"goroutines\":"));
  EXPECT_THAT(r.out, HasSubstr(",\"procs\":"));

  r = curl(svc.url("/debug/sched"));
  EXPECT_EQ(r.code, 200);
  EXPECT_THAT(r.out, HasSubstr("gomaxprocs="));  // goro::sched_trace(true): Go's schedtrace
  EXPECT_THAT(r.out, HasSubstr("\n  P0: status="));  // and scheddetail lines
  EXPECT_THAT(r.out, HasSubstr("\n  M0: "));

  auto t0 = std::chrono::steady_clock::now();
  r = curl(svc.url("/sleep?ms=200"));
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.out, "slept 200 ms\n");
  EXPECT_GE(ms_since(t0), 190.0);
  for (const char* bad : {"/sleep", "/sleep?ms=", "/sleep?ms=abc", "/sleep?ms=-1", "/sleep?ms=60001"}) {
    r = curl(svc.url(bad));
    EXPECT_EQ(r.code, 400) << bad << ": " << r.out;
    EXPECT_THAT(r.out, HasSubstr("?ms= wants 0..60000")) << bad;
  }

  r = curl(svc.url("/spin?ms=30"));
  EXPECT_EQ(r.code, 200);
  EXPECT_THAT(r.out, HasSubstr("spun 30 ms"));
  // The cap: more than 5 s of CPU is refused with a clear message, nothing burnt.
  t0 = std::chrono::steady_clock::now();
  for (const char* bad : {"/spin?ms=5001", "/spin?ms=999999999999", "/spin?ms=-5", "/spin?ms=1e3", "/spin"}) {
    r = curl(svc.url(bad));
    EXPECT_EQ(r.code, 400) << bad << ": " << r.out;
    EXPECT_THAT(r.out, HasSubstr("?ms= wants 0..5000")) << bad;
  }
  EXPECT_LT(ms_since(t0), 4000.0);  // none of them spun

  r = curl(svc.url("/nowhere"));
  EXPECT_EQ(r.code, 404);
  r = curl("-X DELETE " + svc.url("/"));
  EXPECT_EQ(r.code, 405);
  r = curl("-sI " + svc.url("/"));
  EXPECT_EQ(r.code, 200);
  EXPECT_THAT(r.out, HasSubstr("Content-Length: 13\r\n"));

  svc.signal(SIGTERM);
  EXPECT_EQ(svc.wait_exit(std::chrono::seconds(10)), 0) << svc.log();
}

TEST(Service, FileIsConfinedToTheRoot) {
  REQUIRE_SERVICE();
  ScratchRoot dir;
  Service svc({"--root", dir.root().string()});
  ASSERT_TRUE(svc.started()) << svc.log();

  CurlResult r = curl("-i " + svc.url("/file?path=hello.txt"));
  EXPECT_EQ(r.code, 200);
  EXPECT_THAT(r.out, HasSubstr("\r\n\r\nhello file\n"));
  EXPECT_THAT(r.out, HasSubstr("Content-Length: 11\r\n"));
  EXPECT_THAT(r.out, HasSubstr("Content-Type: text/plain; charset=utf-8\r\n"));
  r = curl("-i " + svc.url("/file?path=sub/inner.json"));
  EXPECT_EQ(r.code, 200);
  EXPECT_THAT(r.out, HasSubstr("Content-Type: application/json\r\n"));
  EXPECT_THAT(r.out, HasSubstr("{\"inner\":true}"));
  // Inside the root through ./, //, a symbolic link to a file inside, percent-encoding.
  for (const char* ok : {"/file?path=./hello.txt", "/file?path=sub//../hello.txt/.", "/file?path=inside",
                         "/file?path=%68ello.txt"}) {
    r = curl(svc.url(ok));
    // "sub//../hello.txt/." has a ".." component: refused even though it stays inside.
    if (std::string_view(ok).find("..") != std::string_view::npos) {
      EXPECT_EQ(r.code, 403) << ok << ": " << r.out;
    } else {
      EXPECT_EQ(r.code, 200) << ok << ": " << r.out;
      EXPECT_EQ(r.out, "hello file\n") << ok;
    }
  }

  // Escapes: a ".." component (plain, encoded, after a directory, with backslashes the
  // filesystem takes literally), an absolute path, a link leading out: 403, and the
  // secret never appears.
  for (const char* bad : {"/file?path=../secret.txt", "/file?path=..%2Fsecret.txt", "/file?path=%2E%2E/secret.txt",
                          "/file?path=sub/../../secret.txt", "/file?path=sub/dir/../../../secret.txt",
                          "/file?path=..", "/file?path=%2Fetc%2Fpasswd", "/file?path=/etc/hostname",
                          "/file?path=escape", "/file?path=a%00b"}) {
    r = curl(svc.url(bad));
    EXPECT_EQ(r.code, 403) << bad << ": " << r.out;
    EXPECT_THAT(r.out, Not(HasSubstr("top secret"))) << bad;
    EXPECT_THAT(r.out, HasSubstr("outside the served directory")) << bad;
  }
  // Raw bytes too: curl would normalise a ".." in the path, a byte-level client does not.
  goro::run([&] {
    RawClient c(goro::net::dial(svc.address(), std::chrono::seconds(5)));
    c.send("GET /file?path=../secret.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    RawResponse rr = c.read_response();
    EXPECT_EQ(rr.status, 403);
    EXPECT_THAT(rr.body, Not(HasSubstr("top secret")));
    EXPECT_TRUE(rr.closes());  // an HttpError closes the connection after its answer
    RawClient d(goro::net::dial(svc.address(), std::chrono::seconds(5)));
    d.send("GET /../file?path=hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    rr = d.read_response();
    EXPECT_EQ(rr.status, 404);  // no route is "/../file"
  });

  // Not files: missing, a directory, no ?path=.
  r = curl(svc.url("/file?path=missing.txt"));
  EXPECT_EQ(r.code, 404) << r.out;
  r = curl(svc.url("/file?path=sub/dir"));
  EXPECT_EQ(r.code, 404) << r.out;
  r = curl(svc.url("/file"));
  EXPECT_EQ(r.code, 400) << r.out;
  EXPECT_THAT(r.out, HasSubstr("missing ?path="));
  r = curl(svc.url("/file?path="));
  EXPECT_EQ(r.code, 403) << r.out;

  svc.signal(SIGTERM);
  EXPECT_EQ(svc.wait_exit(std::chrono::seconds(10)), 0) << svc.log();
}

// Clients that go away in the middle of a file download, or in the middle of their
// request: the service ends up with the descriptors and goroutines it had before.
TEST(Service, AbortedClientsLeakNoDescriptorOrGoroutine) {
  REQUIRE_SERVICE();
  ScratchRoot dir;
  {
    std::ofstream big(dir.root() / "big.bin", std::ios::binary);
    std::string chunk(1 << 20, 'B');
    for (int i = 0; i < 8; ++i) big << chunk;
  }
  Service svc({"--root", dir.root().string()});
  ASSERT_TRUE(svc.started()) << svc.log();
  auto goroutines = [&] {
    std::string out = curl(svc.url("/json")).out;
    std::size_t at = out.find("\"goroutines\":");
    return at == std::string::npos ? -1 : std::atoi(out.c_str() + at + 13);
  };
  int fds0 = svc.open_fds();
  int gs0 = goroutines();
  ASSERT_GT(fds0, 0);
  ASSERT_GT(gs0, 0);
  goro::run([&] {
    for (int i = 0; i < 20; ++i) {
      RawClient c(goro::net::dial(svc.address(), std::chrono::seconds(5)));
      switch (i % 4) {
        case 0: {  // a download abandoned after its first bytes
          c.send(get("/file?path=big.bin"));
          char b[4096];
          std::error_code ec;
          c.conn().read(b, sizeof b, ec);
          break;
        }
        case 1:  // half a head
          c.send("GET /file?path=big");
          break;
        case 2:  // half a body
          c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc");
          break;
        case 3:  // a request whose answer nobody reads
          c.send(get("/sleep?ms=50"));
          break;
      }
      c.conn().close();
    }
  });
  int fds = -1, gs = -1;
  for (int i = 0; i < 100; ++i) {  // the server notices each close at its next read or write
    fds = svc.open_fds();
    gs = goroutines();
    if (fds == fds0 && gs == gs0) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_EQ(fds, fds0);
  EXPECT_EQ(gs, gs0);
  CurlResult r = curl(svc.url("/file?path=big.bin"));
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.out.size(), std::size_t{8} << 20);
  svc.signal(SIGTERM);
  EXPECT_EQ(svc.wait_exit(std::chrono::seconds(10)), 0) << svc.log();
}

TEST(Service, ResolveAnswersAddressesOrAClearError) {
  REQUIRE_SERVICE();
  Service svc({});
  ASSERT_TRUE(svc.started()) << svc.log();
  CurlResult r = curl("-i " + svc.url("/resolve?host=localhost"));
  EXPECT_EQ(r.code, 200);
  EXPECT_THAT(r.out, HasSubstr("Content-Type: application/json\r\n"));
  EXPECT_TRUE(r.out.find("[\"127.0.0.1\"") != std::string::npos ||
              r.out.find("\"::1\"") != std::string::npos)
      << r.out;
  r = curl(svc.url("/resolve?host=127.0.0.1"));
  EXPECT_EQ(r.out, "[\"127.0.0.1\"]");

  // A name that does not exist (.invalid never resolves, RFC 6761): 404 (or 502 when no
  // DNS server answers at all) with the resolver's message as JSON.
  r = curl("-i " + svc.url("/resolve?host=no-such-host.invalid"));
  EXPECT_TRUE(r.code == 404 || r.code == 502) << r.out;
  EXPECT_THAT(r.out, HasSubstr("Content-Type: application/json\r\n"));
  EXPECT_THAT(r.out, HasSubstr("{\"error\":\""));
  EXPECT_THAT(r.out, Not(HasSubstr("{\"error\":\"\"}")));
  // Not a name at all, and none given.
  r = curl(svc.url("/resolve?host=bad%20name%22with%5Cquotes"));
  EXPECT_TRUE(r.code == 404 || r.code == 502) << r.out;
  EXPECT_THAT(r.out, HasSubstr("{\"error\":\""));
  r = curl(svc.url("/resolve"));
  EXPECT_EQ(r.code, 400);
  EXPECT_THAT(r.out, HasSubstr("missing ?host="));
  r = curl(svc.url("/resolve?host="));
  EXPECT_EQ(r.code, 400);

  svc.signal(SIGTERM);
  EXPECT_EQ(svc.wait_exit(std::chrono::seconds(10)), 0) << svc.log();
}

// With one P, a request spinning in a call-free loop does not hold up the others: the
// runtime preempts it (the point of /spin).
TEST(Service, SpinDoesNotStarveOtherRequestsOnOneP) {
  REQUIRE_SERVICE();
  if (GORO_TSAN) {
    // TSan holds a signal until the thread enters one of its interceptors, which a
    // call-free loop never does: neither the preemption signal nor the backstop's
    // reaches the spinning thread (tests/core/preempt_test.cpp skips likewise).
    GTEST_SKIP() << "signal preemption cannot reach a call-free loop under TSan";
  }
  Service svc({}, {"GORO_MAXPROCS=1"});
  ASSERT_TRUE(svc.started()) << svc.log();
  EXPECT_THAT(svc.log(), HasSubstr("(1 procs"));
  goro::run([&] {
    goro::Chan<double> spun(1);
    goro::go([&] {
      auto t0 = std::chrono::steady_clock::now();
      {
        CurlResult r = curl(svc.url("/spin?ms=2000"));
        EXPECT_THAT(r.out, HasSubstr("spun 2000 ms"));
      }  // destroyed before the send: main may return (ending the run) right after it
      spun.send(ms_since(t0));
    });
    goro::sleep(milliseconds(300));  // the spin is under way
    RawClient c(goro::net::dial(svc.address(), std::chrono::seconds(5)));
    for (int i = 0; i < 5; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      c.send(get("/"));
      RawResponse r = c.read_response();
      EXPECT_EQ(r.body, "Hello, World!");
      EXPECT_LT(ms_since(t0), 1000.0) << "GET / waited for the spinning request";
    }
    EXPECT_GE(*spun.recv(), 1900.0);
  });
  svc.signal(SIGTERM);
  EXPECT_EQ(svc.wait_exit(std::chrono::seconds(10)), 0) << svc.log();
}

// SIGTERM (what `docker stop` sends): requests in flight are all answered, idle
// connections close, new ones are refused, and the process exits 0.
TEST(Service, SigtermAnswersRequestsInFlightThenExitsZero) {
  REQUIRE_SERVICE();
  Service svc({"--grace", "10"});
  ASSERT_TRUE(svc.started()) << svc.log();
  goro::run([&] {
    constexpr int kClients = 20;
    std::atomic<int> answered{0};
    goro::WaitGroup wg;
    std::vector<RawClient> clients(kClients);
    for (auto& c : clients) c = RawClient(goro::net::dial(svc.address(), std::chrono::seconds(5)));
    for (int i = 0; i < kClients; ++i) {
      wg.add(1);
      goro::go([&, i] {
        clients[i].send(get("/sleep?ms=800"));
        RawResponse r = clients[i].read_response(false, std::chrono::seconds(10));
        if (r.ok && r.status == 200 && r.body == "slept 800 ms\n" && r.closes()) ++answered;
        wg.done();
      });
    }
    RawClient idle(goro::net::dial(svc.address(), std::chrono::seconds(5)));
    idle.send(get("/"));
    EXPECT_EQ(idle.read_response().body, "Hello, World!");
    goro::sleep(milliseconds(300));  // every /sleep is in its handler
    auto t0 = std::chrono::steady_clock::now();
    svc.signal(SIGTERM);
    EXPECT_TRUE(idle.at_eof(std::chrono::seconds(2)));  // the idle one closes at once
    EXPECT_LT(ms_since(t0), 1000.0);
    wg.wait();
    EXPECT_EQ(answered.load(), kClients);
    std::error_code ec;
    goro::net::dial(svc.address(), milliseconds(500), ec);
    EXPECT_TRUE(ec) << "a connection was accepted after SIGTERM";
  });
  EXPECT_EQ(svc.wait_exit(std::chrono::seconds(10)), 0) << svc.log();
  EXPECT_THAT(svc.log(), HasSubstr("http_service: shut down"));
}

TEST(Service, BadCommandLinesAreRefusedClearly) {
  if (!have_service()) GTEST_SKIP() << "examples are not built (GORO_BUILD_EXAMPLES=OFF)";
  struct Bad {
    std::vector<std::string> args;
    int status;
    const char* message;
  };
  std::vector<Bad> cases = {
      {{"--port", "70000"}, 2, "--port wants 0..65535"},
      {{"--port", "http"}, 2, "--port wants 0..65535"},
      {{"--grace", "-1"}, 2, "--grace wants 0..3600 seconds"},
      {{"--root", "/no/such/directory"}, 2, "--root /no/such/directory: No such file or directory"},
      {{"--bogus"}, 2, "unknown option --bogus"},
      {{"--root"}, 2, "--root needs a value"},
  };
  for (const Bad& b : cases) {
    Service svc(b.args);
    EXPECT_FALSE(svc.started()) << b.message;
    EXPECT_EQ(svc.wait_exit(std::chrono::seconds(10)), b.status) << b.message << ": " << svc.log();
    EXPECT_THAT(svc.log(), HasSubstr(b.message));
  }
  // The port already taken.
  Service first({});
  ASSERT_TRUE(first.started()) << first.log();
  std::vector<std::string> argv = {"--port", std::to_string(first.port())};
  Service second(argv);
  EXPECT_FALSE(second.started());
  EXPECT_EQ(second.wait_exit(std::chrono::seconds(10)), 1) << second.log();
  EXPECT_THAT(second.log(), HasSubstr("http_service: listen 127.0.0.1:" + std::to_string(first.port())));
  first.signal(SIGTERM);
  EXPECT_EQ(first.wait_exit(std::chrono::seconds(10)), 0) << first.log();
}

}  // namespace

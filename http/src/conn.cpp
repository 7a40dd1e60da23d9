// conn.cpp — one connection's goroutine: read a request, run the router, write the
// response, again, until either side closes.
//
// The problem: turn a byte stream into requests and responses with the least work per
// request (the keep-alive `GET /` case is a benchmark against nginx), while refusing
// every ambiguous framing (request smuggling) and bounding what a slow or hostile client
// can hold.
//
// Buffers. One read buffer per exchange (8 KiB, grown up to the head limit when a head
// needs it); a connection holds an exchange (exchange.hpp) from the first byte of a
// request until it waits for the next one with nothing buffered. A request head is read
// until the head scanner (head_scan.hpp) has seen all of it, then parsed by llhttp in
// one go; the Request's method, target and header views point straight into the buffer,
// so a request costs no allocation. While the handler runs, the head stays where it is:
// body bytes are read into the space after it (the "body window"), which is reused once
// its bytes have been handed out. Between requests, what is left (pipelined requests)
// moves to the front when room runs out.
// Responses are built in one output string and written when the connection is about to
// wait for input (or the string grows past 64 KiB), so a batch of pipelined requests is
// answered with one write; a large whole body goes out with a vectored write, uncopied.
//
// Rejected alternatives: copying header fields into std::strings (an allocation per
// field per request: ~10 for a browser's request); feeding llhttp every read as it
// comes (its callbacks then see fields split across reads, and it accepts bare LF and
// obs-fold, which we must see first anyway); one write per response (a syscall per
// pipelined request).
//
// Deadlines. net::Conn's deadlines are timers in the runtime's heaps; moving one costs
// a lock and a heap update. So a deadline is moved only when the one in place is later
// than wanted or more than 1/8 of its timeout earlier (coarse deadlines): a connection
// times out between 7/8 and all of its timeout, and a busy keep-alive connection moves
// its read deadline about once every idle_timeout/8 instead of once a request.
//
// Shutdown. A connection waiting for its next request, or for its first byte, is "idle"
// (ConnEntry::state); the shutdown moves an idle connection's read deadline to the past,
// which wakes it. A request that began meanwhile is not lost: the read sees the timeout,
// the connection sees ConnEntry::interrupted, restores its deadline and carries on, and
// its response says "Connection: close".
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <span>
#include <string>

#include <goro/core/blocking.hpp>
#include <goro/net/error.hpp>

#include <sys/ioctl.h>
#include <time.h>

#include "date.hpp"
#include "head_scan.hpp"
#include "internal.hpp"
#include "out_writer.hpp"
#include "parser.hpp"
#include "server_state.hpp"

namespace goro::http::detail {

namespace {

constexpr std::size_t kMinBodyWindow = 4096;   // room after a head for body bytes
constexpr std::size_t kFlushAt = 64 * 1024;    // output buffered before a write
constexpr std::size_t kStreamCopyMax = 8 * 1024;  // larger pieces are written uncopied
constexpr std::uint64_t kDrainMax = 256 * 1024;  // unread body drained to keep the connection
constexpr auto kLingerTime = std::chrono::milliseconds(500);
constexpr auto kIdleLinger = std::chrono::milliseconds(100);
constexpr std::size_t kLingerMax = 256 * 1024;

// Turns the horizontal tabs in the trailing whitespace of header lines into spaces, in
// place. That whitespace is OWS, not part of the value (RFC 9110 5.5), and either byte
// may make it up; llhttp 8.1 accepts only spaces there in the fields it interprets
// itself, so "Content-Length: 3<TAB>" was a 400 and "Connection: close<TAB>" did not
// close. The request line is left alone (a tab there stays an error). Called only when
// the head scanner saw a field line end in whitespace.
void tabs_to_spaces_before_eol(char* p, std::size_t n) noexcept {
  char* const end = p + n;
  // Each line after the request line: from its CR (the scanner saw every line end in
  // CRLF) back over the whitespace, never past the line's first byte (a field line
  // never begins with whitespace: the scanner refuses obs-fold; the empty last line's
  // CR follows an LF).
  for (char* lf = static_cast<char*>(std::memchr(p, '\n', n)); lf != nullptr;) {
    char* cr = static_cast<char*>(std::memchr(lf + 1, '\r', static_cast<std::size_t>(end - lf - 1)));
    if (cr == nullptr) break;
    for (char* t = cr; t[-1] == ' ' || t[-1] == '\t'; --t) t[-1] = ' ';
    lf = cr + 1;
  }
}

// "Date: <now>\r\n".
void put_date_line(OutWriter& w) {
  w.put("Date: ");
  write_http_date(w.room(kHttpDateSize));
  w.advance(kHttpDateSize);
  w.put("\r\n");
}

// "HTTP/1.1 <code> <reason>\r\n", from the table for the usual codes.
void put_status_line(OutWriter& w, int status) {
  std::string_view line = status_line(status);
  if (!line.empty()) {
    w.put(line);
    return;
  }
  w.put("HTTP/1.1 ");
  char num[16];
  auto [end, ec] = std::to_chars(num, num + sizeof num, status);
  (void)ec;
  w.put(std::string_view(num, static_cast<std::size_t>(end - num)));
  w.put(" Unknown\r\n");
}

void append_hex(std::string& out, std::uint64_t v) {
  char num[24];
  auto [end, ec] = std::to_chars(num, num + sizeof num, v, 16);
  (void)ec;
  out.append(num, end);
}

bool status_has_body(int status) noexcept {
  return !(status < 200 || status == 204 || status == 304);
}

// The time for computing deadlines: CLOCK_MONOTONIC_COARSE, the clock steady_clock reads
// (CLOCK_MONOTONIC) at the resolution of the kernel's tick, read without the TSC. A
// deadline set from it is at most a tick (1-4 ms) early; coarse deadlines are coarser.
Clock::time_point coarse_now() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return Clock::time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
}

// Coarse deadlines (see the top of the file).
struct Deadline {
  Clock::time_point current = net::kNoDeadline;
  bool valid = true;  // false: `current` is unknown (someone else moved the deadline)

  // Whether the deadline in place must move to `want` (given the timeout behind it).
  bool needs(Clock::time_point want, Duration timeout) const noexcept {
    if (!valid) return true;
    if (want == net::kNoDeadline) return current != net::kNoDeadline;
    return current > want || current < want - timeout / 8;
  }
};

}  // namespace

class Connection final : public ResponseSink, public BodySource {
 public:
  Connection(std::shared_ptr<Server::State> s, net::Conn c) noexcept
      : s_(std::move(s)), c_(std::move(c)), opts_(s_->opts) {}

  void run() noexcept;

  // ResponseSink
  void write(Response& res, std::string_view data, std::error_code& ec) noexcept override;
  void flush(Response& res, std::error_code& ec) noexcept override;
  // BodySource
  std::size_t read(void* buf, std::size_t n, std::error_code& ec) noexcept override;
  const Headers& trailers() const noexcept override { return x_->trailers; }

 private:
  enum class Body : unsigned char { kReading, kTrailers, kDone };
  enum class Fill : unsigned char { kOk, kEof, kTimeout, kError };
  enum class HeadResult : unsigned char { kRequest, kClose };

  void serve_requests();
  HeadResult read_head();
  void handle_request();
  [[gnu::noinline]] void handler_threw(std::exception_ptr ep);
  void finish_response();
  bool drain_body();
  void end_request();

  // Reads more bytes into x_->buf[wpos_, x_->cap) (flushing the output first); sets ec.
  // idle_wait: between requests (read_head); with nothing buffered, the exchange is
  // given back while the connection waits.
  Fill fill(Clock::time_point deadline, Duration timeout, std::error_code& ec,
            bool idle_wait = false);
  bool make_room(std::size_t keep_from, std::size_t limit);
  std::error_code parser_body_error() const noexcept;
  void arm_read(Clock::time_point want, Duration timeout);
  void arm_write();
  bool flush_out(std::string_view extra, std::error_code& ec);
  bool send_continue(std::error_code& ec);
  bool read_trailers();

  void write_head(bool streaming);
  void reject(int status, const char* reason);
  void handler_failed(int status, std::string_view message);
  void close_connection();
  void take_exchange();
  void give_back_exchange() noexcept;
  bool enter_idle() noexcept;
  bool request_waiting() noexcept;
  void enter_active() noexcept;

  std::shared_ptr<Server::State> s_;
  net::Conn c_;
  const ServerOptions& opts_;
  ConnEntry entry_;

  // The exchange's state (exchange.hpp): null only while waiting idle (fill) or after
  // a failure to get one.
  std::unique_ptr<Exchange> x_;

  // Read buffer (x_->buf): [rpos_, wpos_) holds bytes not yet consumed.
  std::size_t rpos_ = 0;
  std::size_t wpos_ = 0;

  // The request being served.
  HeadScanner scan_;
  std::size_t head_end_ = 0;   // end of the head: the body window starts here
  std::size_t parse_pos_ = 0;  // next byte llhttp has not seen
  std::size_t msg_end_ = 0;    // end of the message, once Body::kDone
  Body body_ = Body::kDone;
  std::error_code body_err_;
  std::size_t span_idx_ = 0;   // body spans handed out so far
  std::size_t span_off_ = 0;
  Clock::time_point body_deadline_ = net::kNoDeadline;
  bool continue_pending_ = false;  // client sent "Expect: 100-continue", no 100 yet
  bool is_head_ = false;
  bool chunked_out_ = false;       // the response streams in chunked encoding
  bool close_delimited_ = false;   // the response body ends when the connection closes
  bool no_body_ = false;           // the response carries no body bytes (HEAD, 204, ...)

  // The connection.
  bool close_after_ = false;  // close once the current response is out
  bool broken_ = false;       // close at once: the stream is unusable
  bool first_request_ = true;
  Duration linger_ = Duration::zero();  // linger before closing even with nothing unread
  // "Server: <opts_.server_name>\r\n", or "" without a name: built once per connection
  // (serve_requests), copied into each response head in one piece.
  std::string server_line_;
  Deadline rd_;
  Deadline wd_;

  // Read through each exchange's Request (set_addresses), only when a handler asks:
  // last, away from what every request touches.
  net::Address remote_, local_;
};

// --- entry points ------------------------------------------------------------------------------

void serve_conn(std::shared_ptr<Server::State> s, net::Conn c) noexcept {
  std::unique_ptr<Connection> conn;
  try {
    conn = std::make_unique<Connection>(s, std::move(c));
  } catch (...) {
    s->add_conn(nullptr);  // out of memory: give up on it (c closes with its frame)
    return;
  }
  conn->run();
}

void Connection::run() noexcept {
  entry_.conn = &c_;
  if (!s_->add_conn(&entry_)) return;  // shutting down: c_ closes with this object
  try {
    serve_requests();
  } catch (...) {
    broken_ = true;
  }
  close_connection();
  if (x_ != nullptr) {
    x_->parser.reset();  // it may have seen "Connection: close", or an error
    give_back_exchange();
  }
  s_->remove_conn(&entry_);
}

bool Connection::enter_idle() noexcept {
  entry_.state.store(ConnEntry::kIdle, std::memory_order_seq_cst);
  // seq_cst: pairs with Server::State::shutting_down's store in shutdown (Dekker).
  return !s_->shutting_down.load(std::memory_order_seq_cst);
}

bool Connection::request_waiting() noexcept {
  int avail = 0;
  return ::ioctl(c_.native_handle(), FIONREAD, &avail) == 0 && avail > 0;
}

void Connection::enter_active() noexcept {
  // release, not seq_cst (an xchg per request): only the kIdle store is half of the
  // Dekker pair with the shutdown. A shutdown that still reads kIdle here interrupts a
  // connection that is active by now, which fill() already tells apart (`interrupted`).
  entry_.state.store(ConnEntry::kActive, std::memory_order_release);
}

void Connection::take_exchange() {
  x_ = s_->exchanges.get();
  // What is this connection's in a Request and Response; the server's context is set by
  // read_head, per request.
  RequestAccess::set_addresses(x_->req, remote_, local_);
  ResponseAccess::attach(x_->res, this);
}

void Connection::give_back_exchange() noexcept {
  rpos_ = wpos_ = 0;
  s_->exchanges.put(std::move(x_));
}

void Connection::serve_requests() {
  if (!opts_.server_name.empty()) server_line_ = "Server: " + opts_.server_name + "\r\n";
  remote_ = c_.remote_address();
  try {
    local_ = c_.local_address();
  } catch (...) {
  }
  take_exchange();

  while (!broken_ && !close_after_) {
    if (read_head() != HeadResult::kRequest) break;
    handle_request();
    if (broken_) break;
    finish_response();
    if (broken_) break;
    if (close_after_) {
      if (body_ == Body::kDone && !body_err_) rpos_ = msg_end_;
      break;
    }
    if (!drain_body()) break;
    end_request();
  }
}

// --- reading a head ----------------------------------------------------------------------------

bool Connection::make_room(std::size_t keep_from, std::size_t limit) {
  if (wpos_ < x_->cap) return true;
  if (keep_from > 0) {
    std::memmove(x_->buf.get(), x_->buf.get() + keep_from, wpos_ - keep_from);
    wpos_ -= keep_from;
    rpos_ -= std::min(rpos_, keep_from);
    return true;
  }
  if (x_->cap >= limit) return false;
  std::size_t ncap = std::min(std::max(x_->cap * 2, Exchange::kBuffer), limit);
  auto nbuf = std::make_unique_for_overwrite<char[]>(ncap);
  std::memcpy(nbuf.get(), x_->buf.get(), wpos_);
  x_->buf = std::move(nbuf);
  x_->cap = ncap;
  return true;
}

Connection::HeadResult Connection::read_head() {
  HeadLimits limits{opts_.max_request_line, opts_.max_header_bytes, opts_.max_header_count};
  scan_.reset(true, limits);
  // A new connection that has sent nothing is idle too: it holds no request, and a
  // shutdown must not wait for it (Go waits up to 5 s; a client racing our close meets the
  // same linger as an idle keep-alive one).
  bool was_idle = rpos_ == wpos_;
  if (was_idle && !enter_idle()) {
    // Shutting down: unless a request is already waiting in the socket, close.
    if (!request_waiting()) {
      linger_ = kIdleLinger;
      return HeadResult::kClose;
    }
    enter_active();
    was_idle = false;
  }
  Clock::time_point head_deadline = net::kNoDeadline;
  if (first_request_ && opts_.read_header_timeout > Duration::zero()) {
    head_deadline = coarse_now() + opts_.read_header_timeout;
  }
  bool started = false;
  for (;;) {
    HeadScanner::Result r = scan_.scan(x_->buf.get() + rpos_, wpos_ - rpos_);
    if (r == HeadScanner::Result::kComplete) break;
    if (r == HeadScanner::Result::kError) {
      if (was_idle) enter_active();
      reject(scan_.error_status(), scan_.error_reason());
      return HeadResult::kClose;
    }
    if (!started && scan_.started(wpos_ - rpos_)) {
      started = true;
      if (!first_request_ && opts_.read_header_timeout > Duration::zero()) {
        head_deadline = coarse_now() + opts_.read_header_timeout;
      }
    }
    // Room for more: drop what is consumed, else grow up to the head limit (+ CRLFs).
    if (!make_room(rpos_, opts_.max_header_bytes + opts_.max_request_line + 4)) {
      if (was_idle) enter_active();
      reject(431, "header block too large");
      return HeadResult::kClose;
    }
    Clock::time_point deadline = head_deadline;
    Duration timeout = opts_.read_header_timeout;
    if (!started && !first_request_) {
      timeout = opts_.idle_timeout;
      deadline = timeout > Duration::zero() ? coarse_now() + timeout : net::kNoDeadline;
    }
    std::error_code ec;
    Fill f = fill(deadline, timeout, ec, true);
    if (f == Fill::kOk) {
      if (was_idle) {
        enter_active();
        was_idle = false;
      }
      continue;
    }
    if (f == Fill::kTimeout && was_idle && request_waiting()) {
      // The shutdown (or the idle timeout) woke us just as a request came in: serve it.
      enter_active();
      was_idle = false;
      rd_.valid = false;
      continue;
    }
    if (was_idle) enter_active();
    if (f == Fill::kTimeout && started) {
      reject(408, "request head timeout");
    } else if (f == Fill::kTimeout && !started) {
      // Idle timeout or shutdown: close, with a short linger (close_connection) so that a
      // request crossing our close on the wire meets an EOF, not a reset.
      linger_ = kIdleLinger;
    } else {
      broken_ = true;  // EOF, reset: nothing to answer
    }
    return HeadResult::kClose;
  }
  first_request_ = false;

  std::size_t head_start = rpos_ + scan_.start();
  std::size_t head_len = scan_.end() - scan_.start();
  // Keep a body window after the head: once parsed, the head's bytes must not move.
  if (x_->cap - (head_start + head_len) < kMinBodyWindow) {
    std::size_t have = wpos_ - head_start;
    std::size_t ncap = std::max(x_->cap, head_len + kMinBodyWindow);
    if (ncap == x_->cap) {
      std::memmove(x_->buf.get(), x_->buf.get() + head_start, have);
    } else {
      auto nbuf = std::make_unique_for_overwrite<char[]>(ncap);
      std::memcpy(nbuf.get(), x_->buf.get() + head_start, have);
      x_->buf = std::move(nbuf);
      x_->cap = ncap;
    }
    wpos_ = have;
    rpos_ = head_start = 0;
  }
  head_end_ = head_start + head_len;

  RequestAccess::reset(x_->req);
  // Compared first: a Context copy is two reference-count updates (atomic), and a pooled
  // exchange of this server holds the context already.
  if (!(x_->req.context() == s_->base.ctx)) x_->req.set_context(s_->base.ctx);
  RequestAccess::set_source(x_->req, this);
  ResponseAccess::reset(x_->res);
  x_->trailers.clear();
  body_err_.clear();
  span_idx_ = span_off_ = 0;
  continue_pending_ = false;
  x_->parser.begin(&x_->req, &x_->trailers, opts_.max_header_count, opts_.max_body_bytes);
  if (scan_.trailing_whitespace()) tabs_to_spaces_before_eol(x_->buf.get() + head_start, head_len);
  Parser::Result pr = x_->parser.execute(x_->buf.get() + head_start, head_len);
  if (pr.status == Parser::Status::kError) {
    reject(x_->parser.error_status(), x_->parser.error_reason());
    return HeadResult::kClose;
  }
  parse_pos_ = head_end_;
  if (pr.status == Parser::Status::kMessageEnd) {
    x_->parser.resume();
    body_ = Body::kDone;
    msg_end_ = head_end_;
  } else {
    body_ = Body::kReading;
    // kLastChunk cannot happen here: the head ends before any chunk.
  }

  // Checks llhttp leaves to us.
  if (x_->req.version_minor() == 1) {
    // RFC 9112 section 3.2: exactly one Host in an HTTP/1.1 request.
    std::size_t hosts = x_->parser.host_count();
    if (hosts != 1) {
      reject(400, hosts == 0 ? "missing Host header" : "several Host headers");
      return HeadResult::kClose;
    }
    if (const auto& expect = x_->parser.expect()) {
      if (!iequals(*expect, "100-continue")) {
        reject(417, "unsupported expectation");
        return HeadResult::kClose;
      }
      continue_pending_ = body_ != Body::kDone;
    }
  }
  if (x_->parser.upgrade()) close_after_ = true;  // no protocol switch: answer, then close
  if (!x_->parser.keep_alive()) close_after_ = true;
  is_head_ = x_->req.method() == "HEAD";
  body_deadline_ = net::kNoDeadline;
  if (body_ != Body::kDone && opts_.read_body_timeout > Duration::zero()) {
    body_deadline_ = coarse_now() + opts_.read_body_timeout;
  }
  return HeadResult::kRequest;
}

// --- I/O -----------------------------------------------------------------------------------------

void Connection::arm_read(Clock::time_point want, Duration timeout) {
  if (rd_.needs(want, timeout)) {
    c_.set_read_deadline(want);
    rd_.current = want;
    rd_.valid = true;
  }
}

void Connection::arm_write() {
  if (opts_.write_timeout <= Duration::zero()) return;
  Clock::time_point want = coarse_now() + opts_.write_timeout;
  if (wd_.needs(want, opts_.write_timeout)) {
    c_.set_write_deadline(want);
    wd_.current = want;
    wd_.valid = true;
  }
}

Connection::Fill Connection::fill(Clock::time_point deadline, Duration timeout,
                                  std::error_code& ec, bool idle_wait) {
  if (!x_->out.empty() && !flush_out({}, ec)) return Fill::kError;
  arm_read(deadline, timeout);
  if (entry_.state.load(std::memory_order_relaxed) == ConnEntry::kIdle &&
      entry_.interrupted.load(std::memory_order_acquire)) {
    // A shutdown woke us while idle, but its past deadline may have landed before the one
    // arm_read just set (which replaced it): act on the flag, not on the deadline.
    entry_.interrupted.store(false, std::memory_order_relaxed);
    rd_.valid = false;
    ec = net::Errc::kTimeout;
    return Fill::kTimeout;
  }
  // Waiting for the next request with nothing buffered: without the exchange (see
  // exchange.hpp). Not for a new connection's first request, whose bytes usually come
  // with it (the read succeeds at once; a wait would cost a peek).
  bool wait_first = idle_wait && !first_request_ && rpos_ == wpos_;
  for (;;) {
    if (wait_first) {
      give_back_exchange();
      c_.wait_readable(ec);
      take_exchange();
      if (!ec) wait_first = false;
    } else {
      std::size_t n = c_.read(x_->buf.get() + wpos_, x_->cap - wpos_, ec);
      if (!ec) {
        wpos_ += n;
        return Fill::kOk;
      }
    }
    if (!ec) continue;
    if (ec == net::Errc::kEof) return Fill::kEof;
    if (ec == net::Errc::kTimeout) {
      if (entry_.interrupted.exchange(false, std::memory_order_relaxed)) {
        // The shutdown moved our deadline to wake us while idle; we may be past idle.
        rd_.valid = false;
        if (entry_.state.load(std::memory_order_relaxed) == ConnEntry::kActive) {
          arm_read(deadline, timeout);
          continue;
        }
      }
      return Fill::kTimeout;
    }
    return Fill::kError;
  }
}

bool Connection::flush_out(std::string_view extra, std::error_code& ec) {
  ec.clear();
  if (x_->out.empty() && extra.empty()) return true;
  arm_write();
  if (extra.empty()) {
    c_.write(x_->out.data(), x_->out.size(), ec);
  } else if (x_->out.empty()) {
    c_.write(extra.data(), extra.size(), ec);
  } else {
    net::ConstBuffer bufs[2] = {{x_->out.data(), x_->out.size()}, {extra.data(), extra.size()}};
    c_.write(std::span<const net::ConstBuffer>(bufs, 2), ec);
  }
  x_->out.clear();
  if (ec) {
    broken_ = true;
    return false;
  }
  return true;
}

// --- the request body ----------------------------------------------------------------------------

bool Connection::send_continue(std::error_code& ec) {
  continue_pending_ = false;
  x_->out += "HTTP/1.1 100 Continue\r\n\r\n";
  return flush_out({}, ec);
}

std::size_t Connection::read(void* dst, std::size_t n, std::error_code& ec) noexcept {
  ec.clear();
  for (;;) {
    if (body_err_) {
      ec = body_err_;
      return 0;
    }
    auto& spans = x_->parser.spans();
    if (span_idx_ < spans.size()) {
      const Parser::Span& sp = spans[span_idx_];
      std::size_t k = std::min(n, sp.size - span_off_);
      std::memcpy(dst, sp.data + span_off_, k);
      span_off_ += k;
      if (span_off_ == sp.size) {
        ++span_idx_;
        span_off_ = 0;
      }
      return k;
    }
    spans.clear();
    span_idx_ = span_off_ = 0;
    if (body_ == Body::kDone) return 0;
    if (body_ == Body::kTrailers) {
      if (!read_trailers()) continue;  // body_err_ is set
      return 0;
    }
    if (parse_pos_ < wpos_) {
      Parser::Result r = x_->parser.execute(x_->buf.get() + parse_pos_, wpos_ - parse_pos_);
      switch (r.status) {
        case Parser::Status::kNeedMore:
          parse_pos_ = wpos_;
          break;
        case Parser::Status::kMessageEnd:
          parse_pos_ += r.consumed;
          x_->parser.resume();
          body_ = Body::kDone;
          msg_end_ = parse_pos_;
          break;
        case Parser::Status::kLastChunk:
          parse_pos_ += r.consumed;
          x_->parser.resume();
          body_ = Body::kTrailers;
          break;
        case Parser::Status::kError:
          body_err_ = parser_body_error();
          break;
      }
      continue;
    }
    // Everything buffered was parsed and handed out: reuse the body window.
    parse_pos_ = wpos_ = head_end_;
    std::error_code io;
    if (continue_pending_ && !send_continue(io)) {
      body_err_ = io;
      continue;
    }
    Fill f = fill(body_deadline_, opts_.read_body_timeout, io);
    if (f == Fill::kEof) {
      body_err_ = net::Errc::kUnexpectedEof;
    } else if (f != Fill::kOk) {
      body_err_ = io;
    }
  }
}

// What a parser error in a body becomes for the handler reading it.
std::error_code Connection::parser_body_error() const noexcept {
  return x_->parser.error_status() == 413 ? make_error_code(Errc::kBodyTooLarge)
                                          : make_error_code(Errc::kMalformedBody);
}

bool Connection::read_trailers() {
  HeadLimits limits{0, opts_.max_header_bytes, opts_.max_header_count};
  scan_.reset(false, limits);
  std::size_t start = parse_pos_;
  for (;;) {
    HeadScanner::Result r = scan_.scan(x_->buf.get() + start, wpos_ - start);
    if (r == HeadScanner::Result::kComplete) {
      Parser::Result pr = x_->parser.execute(x_->buf.get() + start, scan_.end());
      if (pr.status != Parser::Status::kMessageEnd) {
        body_err_ = parser_body_error();
        return false;
      }
      x_->parser.resume();
      parse_pos_ = msg_end_ = start + pr.consumed;
      body_ = Body::kDone;
      x_->parser.spans().clear();
      return true;
    }
    if (r == HeadScanner::Result::kError) {
      body_err_ = make_error_code(Errc::kMalformedBody);
      return false;
    }
    if (wpos_ == x_->cap) {
      if (start == head_end_) {  // the trailer block fills the whole body window
        body_err_ = make_error_code(Errc::kMalformedBody);
        return false;
      }
      std::memmove(x_->buf.get() + head_end_, x_->buf.get() + start, wpos_ - start);
      wpos_ = head_end_ + (wpos_ - start);
      start = parse_pos_ = head_end_;
      scan_.reset(false, limits);
    }
    std::error_code io;
    Fill f = fill(body_deadline_, opts_.read_body_timeout, io);
    if (f != Fill::kOk) {
      body_err_ = f == Fill::kEof ? make_error_code(net::Errc::kUnexpectedEof) : io;
      return false;
    }
  }
}

bool Connection::drain_body() {
  if (body_ == Body::kDone && !body_err_) return true;
  if (body_err_) return false;
  if (continue_pending_ && !RequestAccess::body_touched(x_->req)) return false;
  std::uint64_t left = kDrainMax;
  char sink[8192];
  for (;;) {
    std::error_code ec;
    std::size_t n = read(sink, sizeof sink, ec);
    if (ec) return false;
    if (n == 0) return true;
    if (n > left) return false;
    left -= n;
  }
}

void Connection::end_request() {
  rpos_ = msg_end_;
  if (rpos_ == wpos_) rpos_ = wpos_ = 0;
}

// --- the handler -------------------------------------------------------------------------------

void Connection::handle_request() {
  try {
    s_->router.handle(x_->req, x_->res);
  } catch (...) {
    handler_threw(std::current_exception());
  }
}

// Out of line: its strings would otherwise widen handle_request's frame, which every
// handler's frames sit below (more of the goroutine's stack touched per request).
void Connection::handler_threw(std::exception_ptr ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const HttpError& e) {
    handler_failed(e.status(), e.what());
  } catch (const std::exception& e) {
    handler_failed(500, "Internal Server Error");
    std::string msg = "goro::http: handler for " + std::string(x_->req.method()) + " " +
                      std::string(x_->req.path()) + " threw: " + e.what() + "\n";
    goro::blocking([&] { std::fwrite(msg.data(), 1, msg.size(), stderr); });
  } catch (...) {
    handler_failed(500, "Internal Server Error");
  }
}

void Connection::handler_failed(int status, std::string_view message) {
  close_after_ = true;
  if (x_->res.committed()) {
    broken_ = true;  // half a response is out: all we can do is cut the connection
    return;
  }
  ResponseAccess::reset(x_->res);
  x_->res.status(status);
  std::string body(message);
  body += '\n';
  x_->res.text(std::move(body));
}

// --- the response --------------------------------------------------------------------------------

// Name lengths of the fields write_head looks for: a field of another length is none of
// them, and no name is compared (most response fields are of other lengths).
constexpr std::size_t kDateLen = 4, kServerLen = 6, kConnectionLen = 10, kContentLengthLen = 14,
                      kTransferEncodingLen = 17;

void Connection::write_head(bool streaming) {
  int status = x_->res.status();
  const Headers& h = x_->res.headers();
  // One pass over the handler's fields: Date and Server are added unless set, and the
  // first Connection field saying "close" closes the connection after this response.
  bool has_date = false, has_server = false, has_connection = false;
  for (const auto& f : h) {
    switch (f.name.size()) {
      case kDateLen:
        has_date = has_date || iequals(f.name, "Date");
        break;
      case kServerLen:
        has_server = has_server || iequals(f.name, "Server");
        break;
      case kConnectionLen:
        if (!has_connection && iequals(f.name, "Connection")) {
          has_connection = true;
          if (iequals(f.value, "close")) close_after_ = true;
        }
        break;
      default:
        break;
    }
  }
  if (s_->shutting_down.load(std::memory_order_relaxed)) close_after_ = true;

  no_body_ = is_head_ || !status_has_body(status);
  chunked_out_ = false;
  close_delimited_ = false;
  const auto& declared = ResponseAccess::content_length(x_->res);
  if (streaming && !declared && status_has_body(status)) {
    if (x_->req.version_minor() >= 1) {
      chunked_out_ = !is_head_;
    } else {
      close_delimited_ = !is_head_;
      close_after_ = true;
    }
  }
  // A whole response may not leave the connection usable: a body the client still
  // sends after we did not ask for it (100-continue), or too much of one to drain.
  if (body_ != Body::kDone || body_err_) {
    if (body_err_ || (continue_pending_ && !RequestAccess::body_touched(x_->req))) close_after_ = true;
    auto cl = x_->req.content_length();
    if (cl && *cl - std::min<std::uint64_t>(*cl, x_->parser.body_bytes()) > kDrainMax) close_after_ = true;
  }

  OutWriter w(x_->out, x_->head_scratch);
  put_status_line(w, status);
  if (!has_server) w.put(server_line_);
  if (!has_date) put_date_line(w);
  for (const auto& f : h) {
    // The server owns the connection's framing: these three are never copied (a
    // Content-Length put into headers() by hand would be a second, maybe different, one).
    if ((f.name.size() == kConnectionLen && iequals(f.name, "Connection")) ||
        (f.name.size() == kContentLengthLen && iequals(f.name, "Content-Length")) ||
        (f.name.size() == kTransferEncodingLen && iequals(f.name, "Transfer-Encoding"))) {
      continue;
    }
    w.put(f.name);
    w.put(": ");
    w.put(f.value);
    w.put("\r\n");
  }
  if (status_has_body(status)) {
    if (!streaming) {
      w.put("Content-Length: ");
      w.put_uint(x_->res.body().size());
      w.put("\r\n");
    } else if (declared) {
      w.put("Content-Length: ");
      w.put_uint(*declared);
      w.put("\r\n");
    } else if (chunked_out_) {
      w.put("Transfer-Encoding: chunked\r\n");
    }
  }
  if (close_after_) {
    w.put("Connection: close\r\n");
  } else if (x_->req.version_minor() == 0) {
    w.put("Connection: keep-alive\r\n");
  }
  w.put("\r\n");
  w.done();
}

void Connection::write(Response& res, std::string_view data, std::error_code& ec) noexcept {
  ec.clear();
  if (broken_) {
    ec = net::Errc::kClosed;
    return;
  }
  try {
    if (!res.committed()) {
      write_head(true);
      ResponseAccess::set_committed(res);
    }
    ResponseAccess::add_streamed(res, data.size());
    if (no_body_ || data.empty()) return;
    if (const auto& declared = ResponseAccess::content_length(res); declared && res.bytes_written() > *declared) {
      ec = std::make_error_code(std::errc::message_size);  // more than the Content-Length
      broken_ = true;
      return;
    }
    if (chunked_out_) {
      append_hex(x_->out, data.size());
      x_->out += "\r\n";
    }
    if (data.size() > kStreamCopyMax) {
      if (!flush_out(data, ec)) return;
    } else {
      x_->out += data;
    }
    if (chunked_out_) x_->out += "\r\n";
    if (x_->out.size() >= kFlushAt) flush_out({}, ec);
  } catch (const std::bad_alloc&) {
    ec = std::make_error_code(std::errc::not_enough_memory);
    broken_ = true;
  }
}

void Connection::flush(Response& res, std::error_code& ec) noexcept {
  ec.clear();
  if (broken_) {
    ec = net::Errc::kClosed;
    return;
  }
  try {
    if (!res.committed()) {
      write_head(true);
      ResponseAccess::set_committed(res);
    }
  } catch (const std::bad_alloc&) {
    ec = std::make_error_code(std::errc::not_enough_memory);
    broken_ = true;
    return;
  }
  flush_out({}, ec);
}

void Connection::finish_response() {
  if (!x_->res.committed()) {
    write_head(false);
    const std::string& body = x_->res.body();
    if (!no_body_ && !body.empty()) {
      if (body.size() > kStreamCopyMax) {
        std::error_code ec;
        flush_out(body, ec);
      } else {
        x_->out += body;
      }
    }
  } else if (chunked_out_) {
    x_->out += "0\r\n\r\n";
  } else if (const auto& declared = ResponseAccess::content_length(x_->res);
             declared && !no_body_ && x_->res.bytes_written() != *declared) {
    broken_ = true;  // fewer bytes than announced: the client must see the connection end
  }
  if (close_delimited_) close_after_ = true;
  if (x_->out.size() >= kFlushAt) {
    std::error_code ec;
    flush_out({}, ec);
  }
}

void Connection::reject(int status, const char* reason) {
  close_after_ = true;
  std::string body(reason_phrase(status));
  body += ": ";
  body += reason;
  body += '\n';
  OutWriter w(x_->out, x_->head_scratch);
  put_status_line(w, status);
  w.put(server_line_);
  put_date_line(w);
  w.put("Content-Type: text/plain; charset=utf-8\r\nContent-Length: ");
  w.put_uint(body.size());
  w.put("\r\nConnection: close\r\n\r\n");
  w.put(body);
  w.done();
}

// --- closing -----------------------------------------------------------------------------------

void Connection::close_connection() {
  if (!c_.is_open()) return;
  std::error_code ec;
  if (!broken_ && x_ != nullptr && !x_->out.empty()) flush_out({}, ec);
  // Unread input (a pipelined request we will not answer, an unread body) would make the
  // kernel answer our close with a reset, which can destroy the response in flight. So
  // half-close, then read and discard for a moment (Go's closeWrite + rstAvoidanceDelay,
  // nginx's lingering close) before closing.
  bool unread = !broken_ && (rpos_ < wpos_ || body_ != Body::kDone || body_err_);
  if (unread || linger_ > Duration::zero()) {
    c_.shutdown_write(ec);
    if (!ec) {
      c_.set_read_deadline(Clock::now() + (unread ? Duration(kLingerTime) : linger_));
      char sink[4096];
      std::size_t total = 0;
      while (total < kLingerMax) {
        std::size_t n = c_.read(sink, sizeof sink, ec);
        if (ec) break;
        total += n;
      }
    }
  }
  // Under the server's lock: a shutdown may be closing it from its goroutine.
  s_->mu.lock();
  c_.close(ec);
  s_->mu.unlock();
}

}  // namespace goro::http::detail

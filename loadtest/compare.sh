#!/usr/bin/env bash
# shellcheck disable=SC2317  # suite_*, build_* and the runners are called indirectly
# loadtest/compare.sh — run goro and Go side by side on the same work.
#
#   loadtest/compare.sh [-n RUNS] [--warmup N] [--no-build] [--timeout SEC] SUITE [CASE ...]
#
# Builds what the suite needs in Release (-O2) under build/bench (override with
# GORO_BENCH_DIR), then, case by case, runs goro's benchmark and the Go program doing
# the same work in turn (goro, Go, goro, Go, ...) with the same GORO_MAXPROCS/GOMAXPROCS
# and the same CPU pinning, RUNS times each after a warm-up, and prints one line per case:
#
#   RESULT <suite>/<case> goro=<median><unit> go=<median><unit> ratio=<r> goal=<g> MET|SHORT
#
# ratio is goro's advantage: goro/go for "higher is better" figures, go/goro for "lower
# is better" ones, so >1 always means goro is better. SHORT is information, not failure:
# the script exits 0 whenever every build and run succeeded, non-zero otherwise.
# INFO lines carry informational figures that have no goal.
#
# Pinning: a 1-P case runs on CPU 1 alone (`taskset -c 1`), leaving CPU 0 to the rest
# of the machine; an n-P case runs on CPUs 0..n-1 (`taskset -c 0,1` for 2 Ps).
#
# Adding a suite: define suite_<name> (its cases, with compare_case) and, if the default
# build (CMake target <name>_bench, Go package loadtest/go/<name>) is not enough,
# build_<name>. Benchmarks on both sides print their figure alone on stdout's first line
# and may add lines "info NAME VALUE".
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${GORO_BENCH_DIR:-$ROOT/build/bench}
GO=${GO:-$(command -v go || echo /usr/bin/go)}
RUNS=5
WARMUP=1
RUN_TIMEOUT=300
DO_BUILD=1
SUITES="core sync syscall"  # later: preempt tcp http

usage() {
  sed -n '3,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
  echo "Suites: $SUITES"
}

die() {
  echo "compare.sh: $*" >&2
  exit 1
}

# --- options ------------------------------------------------------------------------------
while [[ $# -gt 0 ]]; do
  case $1 in
    -n) RUNS=${2:?-n needs a number}; shift 2 ;;
    --warmup) WARMUP=${2:?--warmup needs a number}; shift 2 ;;
    --timeout) RUN_TIMEOUT=${2:?--timeout needs seconds}; shift 2 ;;
    --no-build) DO_BUILD=0; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    -*) usage >&2; exit 2 ;;
    *) break ;;
  esac
done
[[ $# -ge 1 ]] || { usage >&2; exit 2; }
SUITE=$1
shift
ONLY_CASES=("$@")
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "-n wants a positive number"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "--warmup wants a number"

NCPU=$(nproc)
FAILED=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/goro-compare.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# --- building -------------------------------------------------------------------------------
CONFIGURED=0
cmake_configure() {
  [[ $CONFIGURED == 1 ]] && return
  local gen=()
  if [[ ! -f $BUILD/CMakeCache.txt ]] && command -v ninja >/dev/null; then gen=(-G Ninja); fi
  echo "== configure $BUILD (Release, -O2)" >&2
  cmake -S "$ROOT" -B "$BUILD" "${gen[@]}" \
    -DCMAKE_BUILD_TYPE=Release \
    "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG" \
    "-DCMAKE_C_FLAGS_RELEASE=-O2 -DNDEBUG" \
    -DGORO_BUILD_BENCHMARKS=ON -DGORO_BUILD_TESTS=OFF -DGORO_BUILD_EXAMPLES=OFF \
    -DGORO_INSTALL=OFF -DGORO_SANITIZE= >"$TMP/configure.log" 2>&1 ||
    { cat "$TMP/configure.log" >&2; die "cmake configure failed"; }
  CONFIGURED=1
}

# bench_configured TARGET: whether tests/bench configured that benchmark (e.g. switch_bench
# exists only when Boost.Context was found).
bench_configured() {
  grep -qx "$1" "$BUILD/tests/bench/bench_targets.txt" 2>/dev/null
}

# build_cmake_targets TARGET...: build goro benchmarks; their binaries are in $BUILD/tests/bench.
build_cmake_targets() {
  cmake_configure
  echo "== build $*" >&2
  cmake --build "$BUILD" --parallel "$NCPU" --target "$@" >"$TMP/build.log" 2>&1 ||
    { tail -n 60 "$TMP/build.log" >&2; die "build of $* failed"; }
}

# build_go_package PKG: build loadtest/go/PKG into $BUILD/go/PKG with the standard library
# only: no proxy, no downloads, caches kept under the build directory.
build_go_package() {
  local pkg=$1
  [[ -x $GO ]] || die "no Go toolchain (set GO=/path/to/go)"
  echo "== go build ./$pkg ($("$GO" version | awk '{print $3}'))" >&2
  mkdir -p "$BUILD/go"
  (cd "$ROOT/loadtest/go" &&
    env GOCACHE="$BUILD/go/cache" GOPATH="$BUILD/go/path" GOPROXY=off GOSUMDB=off \
      GOFLAGS=-mod=readonly GO111MODULE=on GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 \
      "$GO" build -trimpath -o "$BUILD/go/$pkg" "./$pkg") >"$TMP/gobuild.log" 2>&1 ||
    { cat "$TMP/gobuild.log" >&2; die "go build ./$pkg failed"; }
}

# The default build of a suite: CMake target <suite>_bench and Go package <suite>.
build_default() {
  build_cmake_targets "$1_bench"
  build_go_package "$1"
}

# --- running --------------------------------------------------------------------------------
# cpus_for PROCS: the CPU list a PROCS-P run is pinned to.
cpus_for() {
  local p=$1
  if [[ $p -le 1 ]]; then
    [[ $NCPU -ge 2 ]] && echo 1 || echo 0
  else
    [[ $p -gt $NCPU ]] && p=$NCPU
    seq -s, 0 $((p - 1))
  fi
}

# pinned PROCS CMD...: run CMD with PROCS Ps on both runtimes, pinned, under a time bound.
pinned() {
  local p=$1
  shift
  env GORO_MAXPROCS="$p" GOMAXPROCS="$p" \
    timeout -k 5 "$RUN_TIMEOUT" taskset -c "$(cpus_for "$p")" "$@"
}

# run_once LABEL OUTFILE CMD...: run one benchmark process; its stdout goes to OUTFILE.
# Fails (returns 1, after saying why) on a non-zero exit status.
run_once() {
  local label=$1 out=$2
  shift 2
  local rc=0
  "$@" >"$out" 2>"$out.err" || rc=$?
  if [[ $rc -ne 0 ]]; then
    local why="exit status $rc"
    [[ $rc == 124 || $rc == 137 ]] && why+=" (time bound ${RUN_TIMEOUT}s reached)"
    echo "compare.sh: $label: $why: $*" >&2
    tail -n 20 "$out.err" >&2
    return 1
  fi
}

# run_figure LABEL OUTFILE CMD...: run_once, and fail unless stdout's first line is a number.
run_figure() {
  run_once "$@" || return 1
  if ! head -n 1 "$2" | grep -Eq '^[-+]?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$'; then
    echo "compare.sh: $1: first line of output is not a number: ${*:3}" >&2
    head -n 5 "$2" "$2.err" >&2
    return 1
  fi
}

# median FILE: the median of the numbers in FILE, one a line.
median() {
  sort -g "$1" | awk '{ v[NR] = $1 }
    END { if (NR == 0) exit 1
          m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
          printf((m >= 100 || m <= -100) ? "%.0f\n" : "%.2f\n", m) }'
}

# spread FILE: "min..max" of the numbers in FILE (how noisy the runs were).
spread() {
  sort -g "$1" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo ".." hi }'
}

# wanted CASE: whether CASE was selected on the command line (all are by default).
wanted() {
  [[ ${#ONLY_CASES[@]} -eq 0 ]] && return 0
  local c
  for c in "${ONLY_CASES[@]}"; do [[ $c == "$1" ]] && return 0; done
  return 1
}

# compare_case CASE BETTER GOAL UNIT -- GORO_CMD... -- GO_CMD...
#   BETTER: "higher" or "lower" (which way the figure is better)
#   GOAL:   minimum ratio of goro's advantage for MET
#   UNIT:   suffix printed after each value (e.g. /s, ns, B)
# Runs the two commands in turn (warm-ups first, not counted), RUNS times each, and prints
# the RESULT line, plus one INFO line for the medians of any "info NAME VALUE" lines.
compare_case() {
  local name=$1 better=$2 goal=$3 unit=$4
  shift 4
  [[ $1 == -- ]] || die "compare_case $name: expected --"
  shift
  local goro_cmd=() go_cmd=()
  while [[ $# -gt 0 && $1 != -- ]]; do goro_cmd+=("$1"); shift; done
  [[ $# -gt 0 ]] || die "compare_case $name: expected a second --"
  shift
  go_cmd=("$@")
  wanted "$name" || return 0

  local dir="$TMP/$name" i side ok=1
  mkdir -p "$dir"
  : >"$dir/goro.vals"
  : >"$dir/go.vals"
  echo "== $SUITE/$name: $((WARMUP + RUNS)) runs each (first $WARMUP not counted)" >&2
  for ((i = 1; i <= WARMUP + RUNS; i++)); do
    for side in goro go; do
      local cmd=("${goro_cmd[@]}")
      [[ $side == go ]] && cmd=("${go_cmd[@]}")
      if ! run_figure "$SUITE/$name ($side, run $i)" "$dir/$side.out" "${cmd[@]}"; then
        ok=0
        break 2
      fi
      if [[ $i -gt $WARMUP ]]; then
        head -n 1 "$dir/$side.out" >>"$dir/$side.vals"
        awk -v s="$side" '$1 == "info" && NF == 3 { print s "_" $2, $3 }' "$dir/$side.out" \
          >>"$dir/info"
      fi
    done
  done
  if [[ $ok == 0 ]]; then
    echo "ERROR $SUITE/$name: a run failed (see above)"
    FAILED=1
    return 0
  fi

  local goro_v go_v
  goro_v=$(median "$dir/goro.vals")
  go_v=$(median "$dir/go.vals")
  echo "   spread (min..max): goro $(spread "$dir/goro.vals"), go $(spread "$dir/go.vals")" >&2
  awk -v suite="$SUITE" -v name="$name" -v better="$better" -v goal="$goal" -v unit="$unit" \
    -v a="$goro_v" -v b="$go_v" -v anchor="${ANCHOR:-go}" 'BEGIN {
      if (a <= 0 || b <= 0) r = 0
      else r = (better == "higher") ? a / b : b / a
      printf "RESULT %s/%s goro=%s%s %s=%s%s ratio=%.2f goal=%s %s\n",
        suite, name, a, unit, anchor, b, unit, r, goal, (r >= goal) ? "MET" : "SHORT"
    }'
  if [[ -s $dir/info ]]; then
    local line="INFO $SUITE/$name" key
    while read -r key; do
      awk -v k="$key" '$1 == k { print $2 }' "$dir/info" >"$dir/info.$key"
      line+=" $key=$(median "$dir/info.$key")"
    done < <(awk '!seen[$1]++ { print $1 }' "$dir/info")
    echo "$line"
  fi
}

# --- suite: core ----------------------------------------------------------------------------
# The runtime's own costs: creating and finishing goroutines, switching between them,
# and the memory a parked goroutine holds. Binaries: tests/bench/core_bench.cpp,
# loadtest/go/core/main.go.
build_core() {
  cmake_configure
  local targets=(core_bench)
  bench_configured switch_bench && targets+=(switch_bench)
  build_cmake_targets "${targets[@]}"
  build_go_package core
}

suite_core() {
  local goro="$BUILD/tests/bench/core_bench" go="$BUILD/go/core"

  # Spawn 1,000,000 empty goroutines from main with a WaitGroup, then wait: goroutines/s.
  compare_case spawn_join_1m_p1 higher 4 /s \
    -- pinned 1 "$goro" spawn_join 1000000 -- pinned 1 "$go" spawn_join 1000000
  compare_case spawn_join_1m_p2 higher 4 /s \
    -- pinned 2 "$goro" spawn_join 1000000 -- pinned 2 "$go" spawn_join 1000000

  # Two goroutines on one P yielding to each other (Go: runtime.Gosched): ns per switch.
  compare_case yield_pingpong lower 2 ns \
    -- pinned 1 "$goro" yield_pingpong 2000000 -- pinned 1 "$go" yield_pingpong 2000000

  # 1,000,000 goroutines parked at once on one WaitGroup: resident bytes per goroutine.
  compare_case parked_1m_rss lower 0.5 B \
    -- pinned 1 "$goro" parked_rss 1000000 -- pinned 1 "$go" parked_rss 1000000

  # The bare stack switch against Boost.Context (no goal: the figures behind the choice
  # of a hand-written switch, see loadtest/README.md).
  if wanted ctx_switch && [[ -x $BUILD/tests/bench/switch_bench ]] && bench_configured switch_bench; then
    local out="$TMP/switch.out"
    if run_once "$SUITE/ctx_switch" "$out" pinned 1 "$BUILD/tests/bench/switch_bench"; then
      awk -v suite="$SUITE" '{ line = line " " $1 "=" $2 "ns" }
        END { print "INFO " suite "/ctx_switch" line }' "$out"
    else
      echo "ERROR $SUITE/ctx_switch: the run failed (see above)"
      FAILED=1
    fi
  fi
}

# --- suite: sync ---------------------------------------------------------------------------
# Channels, Mutex and timers (issue 3). Binaries: tests/bench/sync_bench.cpp,
# loadtest/go/sync/main.go.
suite_sync() {
  local goro="$BUILD/tests/bench/sync_bench" go="$BUILD/go/sync"

  # Two goroutines passing an int back and forth over two unbuffered channels: round trips/s.
  compare_case pingpong_p1 higher 1.5 /s \
    -- pinned 1 "$goro" pingpong 1000000 -- pinned 1 "$go" pingpong 1000000
  compare_case pingpong_p2 higher 1.5 /s \
    -- pinned 2 "$goro" pingpong 1000000 -- pinned 2 "$go" pingpong 1000000

  # One producer, one consumer, a channel of capacity 128: messages/s.
  compare_case buffered128_p1 higher 1.5 /s \
    -- pinned 1 "$goro" buffered 10000000 -- pinned 1 "$go" buffered 10000000
  compare_case buffered128_p2 higher 1.5 /s \
    -- pinned 2 "$goro" buffered 10000000 -- pinned 2 "$go" buffered 10000000

  # 4 goroutines on 2 Ps taking turns on one Mutex around a counter: lock/unlock pairs/s.
  compare_case mutex_4g_p2 higher 1 /s \
    -- pinned 2 "$goro" mutex 2000000 -- pinned 2 "$go" mutex 2000000

  # 100,000 goroutines each sleeping 10 ms once (2 Ps): wall time from the first spawn to
  # the last wake-up, and the p99 of the goroutines' lateness.
  compare_case sleep_100k_wall lower 1 ms \
    -- pinned 2 "$goro" sleep_wall 100000 -- pinned 2 "$go" sleep_wall 100000
  compare_case sleep_100k_late_p99 lower 1 us \
    -- pinned 2 "$goro" sleep_late 100000 -- pinned 2 "$go" sleep_late 100000
}

# --- suite: syscall ------------------------------------------------------------------------
# Blocking system calls by P hand-off (issue 4), GOMAXPROCS=1. Binaries:
# tests/bench/syscall_bench.cpp, loadtest/go/syscall/main.go.
suite_syscall() {
  local goro="$BUILD/tests/bench/syscall_bench" go="$BUILD/go/syscall"
  local k metric

  # A 1 ms ticker's lateness (max, p99) and the process's OS threads while K goroutines
  # sit in read(2) on blocking pipes.
  for k in 1 8; do
    for metric in max p99; do
      compare_case "ticker_block${k}_${metric}" lower 1 us \
        -- pinned 1 "$goro" ticker "$k" "$metric" -- pinned 1 "$go" ticker "$k" "$metric"
    done
    compare_case "threads_block${k}" lower 1 "" \
      -- pinned 1 "$goro" ticker "$k" threads -- pinned 1 "$go" ticker "$k" threads
  done

  # The syscall path around a trivial system call: goro::blocking(getpid) against Go's
  # syscall.Getpid (INFO: the bare getpid(2), and Go's syscall.Syscall(SYS_GETPID), which
  # goes through entersyscall as goro::blocking does).
  compare_case getpid lower 1 ns \
    -- pinned 1 "$goro" getpid 2000000 -- pinned 1 "$go" getpid 2000000
}

# --- suite: preempt -------------------------------------------------------------------------
# Preemption of CPU hogs (issue 5). Binaries: tests/bench/preempt_bench.cpp,
# loadtest/go/preempt/main.go.
SUITES+=" preempt"
suite_preempt() {
  local goro="$BUILD/tests/bench/preempt_bench" go="$BUILD/go/preempt"

  # A call-free loop and a sleeper waking every 1 ms share one P for 2 s (default 10 ms
  # slice): the sleeper's max and p99 lateness. Goal: at most half of Go's.
  compare_case sleeper_behind_hog_max lower 2 us \
    -- pinned 1 "$goro" sleeper max 2000 -- pinned 1 "$go" sleeper max 2000
  compare_case sleeper_behind_hog_p99 lower 2 us \
    -- pinned 1 "$goro" sleeper p99 2000 -- pinned 1 "$go" sleeper p99 2000

  # The price of preemption on a CPU-bound job: goro with preemption on against goro with
  # GORO_DEBUG=asyncpreemptoff=1 (the anchor is goro itself, printed as goro_nopreempt).
  # Goal: at most 1% slower, i.e. ratio >= 0.99.
  ANCHOR=goro_nopreempt compare_case cpu_job lower 0.99 ms \
    -- pinned 1 "$goro" cpu 2000000000 -- pinned 1 env GORO_DEBUG=asyncpreemptoff=1 "$goro" cpu 2000000000
}

# --- suite: tcp ----------------------------------------------------------------------------
# goro::net against Go's net package (issue 6). Binaries: tests/bench/tcp_bench.cpp (goro's
# echo server, and the load generator both servers are measured with: one epoll thread,
# not a goroutine client, so that it is as cheap per message as a client can be),
# loadtest/go/tcp/main.go (Go's goroutine-per-connection echo server).
# The proxy cases put examples/tcp_proxy beside Go's io.Copy proxy (loadtest/go/proxy)
# and haproxy in TCP mode with one thread (Debian package haproxy), each pinned to CPU 1
# with one P / GOMAXPROCS=1; backend and load generator share CPU 0.
SUITES+=" tcp"
TCP_PORT=${GORO_TCP_PORT:-17600}  # each run takes the next port (no TIME_WAIT surprises)
TCP_SECONDS=${GORO_TCP_SECONDS:-5}  # length of a wrk run in the proxy request/response case
TCP_STREAM_BYTES=${GORO_TCP_STREAM_BYTES:-1073741824}  # bytes a streaming run moves in all
HAPROXY=${HAPROXY:-$(command -v haproxy || echo /usr/sbin/haproxy)}
TCP_NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}

build_tcp() {
  cmake_configure
  # tcp_proxy is an example program: turn examples on in this build directory.
  cmake -DGORO_BUILD_EXAMPLES=ON "$BUILD" >"$TMP/configure-tcp.log" 2>&1 ||
    { cat "$TMP/configure-tcp.log" >&2; die "cmake configure (examples on) failed"; }
  build_cmake_targets tcp_bench goro_example_tcp_proxy
  build_go_package tcp
  build_go_package proxy
}

# tcp_echo_run SIDE FIGURE: one echo ping-pong run (64 connections, one 64-byte message in
# flight on each) against SIDE's server (goro or go) with 1 P pinned as a 1-P case is
# (CPU 1), the load generator on CPU 0, 1 s warm-up then 5 s counted. FIGURE: rate (round
# trips/s) or cpu (the server's CPU time per round trip, us, from /proc/PID/stat).
tcp_echo_run() {
  local side=$1 figure=$2 port pid out rc=0 srv
  TCP_PORT=$((TCP_PORT + 1))
  port=$TCP_PORT
  if [[ $side == goro ]]; then
    srv=("$BUILD/tests/bench/tcp_bench" server --addr "127.0.0.1:$port")
  else
    srv=("$BUILD/go/tcp" server -addr "127.0.0.1:$port")
  fi
  env GORO_MAXPROCS=1 GOMAXPROCS=1 taskset -c "$(cpus_for 1)" "${srv[@]}" 2>/dev/null &
  pid=$!
  out=$(timeout -k 5 "$RUN_TIMEOUT" taskset -c 0 "$BUILD/tests/bench/tcp_bench" load \
    --addr "127.0.0.1:$port" --conns 64 --size 64 --warmup 1 --seconds 5 --pid "$pid") || rc=$?
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [[ $rc == 0 ]] || return "$rc"
  if [[ $figure == cpu ]]; then
    awk '$1 == "info" && $2 == "server_us_per_msg" { print $3 }' <<<"$out"
    awk 'NR == 1 { print "info rate", $1 } $1 == "info" && $2 != "server_us_per_msg"' <<<"$out"
  else
    printf '%s\n' "$out"
  fi
}

# tcp_wait_port PORT PID: wait until something accepts on 127.0.0.1:PORT (PID must live).
tcp_wait_port() {
  local port=$1 pid=$2 i
  for ((i = 0; i < 200; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# tcp_stop PID...: end the processes a proxy run started.
tcp_stop() {
  local p
  for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "$@"; do wait "$p" 2>/dev/null || true; done
}

# tcp_cpu_ticks PID: utime + stime (clock ticks) of process PID so far.
tcp_cpu_ticks() {
  sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# tcp_proxy_start SIDE PORT BACKEND_PORT SPLICE: start SIDE's proxy (goro, go, haproxy;
# SPLICE=1 forces haproxy's splicing) on 127.0.0.1:PORT, one P / thread pinned to CPU 1;
# sets TCP_PROXY_PID once it accepts connections.
tcp_proxy_start() {
  local side=$1 port=$2 bport=$3 splice=$4 cpus cfg
  cpus=$(cpus_for 1)
  case $side in
    goro)
      env GORO_MAXPROCS=1 taskset -c "$cpus" "$BUILD/examples/tcp_proxy" --host 127.0.0.1 \
        --port "$port" --backend "127.0.0.1:$bport" 2>>"$TMP/tcp-goro.log" &
      ;;
    go)
      env GOMAXPROCS=1 taskset -c "$cpus" "$BUILD/go/proxy" -addr "127.0.0.1:$port" \
        -backend "127.0.0.1:$bport" 2>>"$TMP/tcp-go.log" &
      ;;
    haproxy)
      cfg="$TMP/haproxy-$port.cfg"
      {
        printf 'global\n  nbthread 1\n  maxconn 4000\n'
        # Pipes of 1 MiB, as goro's relay and Go's splice use (haproxy's default is the
        # kernel's 64 KiB, which halves its streaming rate here).
        [[ $splice == 1 ]] && printf '  tune.pipesize 1048576\n'
        printf 'defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 120s\n  timeout server 120s\n'
        [[ $splice == 1 ]] && printf '  option splice-request\n  option splice-response\n'
        printf 'listen proxy\n  bind 127.0.0.1:%s\n  server backend 127.0.0.1:%s\n' "$port" "$bport"
      } >"$cfg"
      taskset -c "$cpus" "$HAPROXY" -db -f "$cfg" 2>>"$TMP/tcp-haproxy.log" &
      ;;
  esac
  TCP_PROXY_PID=$!
  tcp_wait_port "$port" "$TCP_PROXY_PID"
}

# tcp_proxy_rr_run SIDE OUT: one request/response run through SIDE's proxy: nginx
# (loadtest/nginx/http.conf, `return 200`, one worker) as the backend and one wrk thread
# with 64 connections, both on CPU 0, for TCP_SECONDS. Writes "rps cpu_us_per_request"
# (the proxy's utime+stime over the wrk run / requests) to OUT.
tcp_proxy_rr_run() {
  local side=$1 res=$2 bport port dir npid c0 c1 out rc=0
  TCP_PORT=$((TCP_PORT + 2))
  bport=$TCP_PORT
  port=$((TCP_PORT - 1))
  dir="$TMP/nginx-$bport"
  mkdir -p "$dir"
  sed -e "s|@PORT@|$bport|g" -e "s|@DIR@|$dir|g" "$ROOT/loadtest/nginx/http.conf" >"$dir/http.conf"
  taskset -c 0 "$TCP_NGINX" -p "$dir" -c "$dir/http.conf" 2>>"$TMP/tcp-nginx.log" &
  npid=$!
  if ! tcp_wait_port "$bport" "$npid"; then
    echo "compare.sh: tcp: nginx did not start" >&2
    tail -n 5 "$TMP/tcp-nginx.log" >&2
    tcp_stop "$npid"
    return 1
  fi
  if ! tcp_proxy_start "$side" "$port" "$bport" 0; then
    echo "compare.sh: tcp: the $side proxy did not start" >&2
    tail -n 5 "$TMP/tcp-$side.log" >&2
    tcp_stop "$TCP_PROXY_PID" "$npid"
    return 1
  fi
  c0=$(tcp_cpu_ticks "$TCP_PROXY_PID")
  timeout -k 5 "$RUN_TIMEOUT" taskset -c 0 wrk -t1 -c64 -d"${TCP_SECONDS}s" \
    -s "$ROOT/loadtest/wrk/http.lua" "http://127.0.0.1:$port/" >"$res.wrk" 2>&1 || rc=$?
  c1=$(tcp_cpu_ticks "$TCP_PROXY_PID")
  tcp_stop "$TCP_PROXY_PID" "$npid"
  out=$(cat "$res.wrk")
  if [[ $rc != 0 ]] || ! grep -q '^wrkresult ' <<<"$out"; then
    echo "compare.sh: tcp: wrk through $side failed (status $rc):" >&2
    tail -n 5 <<<"$out" >&2
    return 1
  fi
  awk -v c="$((c1 - c0))" -v tck="$(getconf CLK_TCK)" -v side="$side" '$1 == "wrkresult" {
      for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
      if (f["errors"] > 0) printf "   (%s: %d wrk errors)\n", side, f["errors"] > "/dev/stderr"
      printf "%s %.3f\n", f["rps"], c / tck * 1e6 / f["requests"]
    }' <<<"$out" >"$res"
}

# tcp_proxy_stream_run SIDE OUT: one streaming run through SIDE's proxy (haproxy with
# splicing forced): tcp_bench stream, 8 connections carrying TCP_STREAM_BYTES in all, into
# tcp_bench sink, both on CPU 0. Writes "MB/s proxy_ms_per_GiB" to OUT.
tcp_proxy_stream_run() {
  local side=$1 res=$2 bport port spid rc=0
  TCP_PORT=$((TCP_PORT + 2))
  bport=$TCP_PORT
  port=$((TCP_PORT - 1))
  taskset -c 0 "$BUILD/tests/bench/tcp_bench" sink --addr "127.0.0.1:$bport" \
    2>>"$TMP/tcp-sink.log" &
  spid=$!
  if ! tcp_wait_port "$bport" "$spid"; then
    echo "compare.sh: tcp: the sink did not start" >&2
    tcp_stop "$spid"
    return 1
  fi
  if ! tcp_proxy_start "$side" "$port" "$bport" 1; then
    echo "compare.sh: tcp: the $side proxy did not start" >&2
    tail -n 5 "$TMP/tcp-$side.log" >&2
    tcp_stop "$TCP_PROXY_PID" "$spid"
    return 1
  fi
  timeout -k 5 "$RUN_TIMEOUT" taskset -c 0 "$BUILD/tests/bench/tcp_bench" stream \
    --addr "127.0.0.1:$port" --conns 8 --bytes "$TCP_STREAM_BYTES" --pid "$TCP_PROXY_PID" \
    >"$res.out" 2>"$res.err" || rc=$?
  tcp_stop "$TCP_PROXY_PID" "$spid"
  if [[ $rc != 0 ]]; then
    echo "compare.sh: tcp: streaming through $side failed (status $rc):" >&2
    tail -n 5 "$res.err" >&2
    return 1
  fi
  awk 'NR == 1 { r = $1 } $1 == "info" && $2 == "proxy_ms_per_gib" { c = $3 }
    END { print r, c }' "$res.out" >"$res"
}

# tcp_sides_case CASE RUNNER SIDE...: the runs of a case with several sides taking turns
# (warm-ups first); RUNNER SIDE OUT writes one line of figures. Leaves the median of
# column K for SIDE in TCP_MED[SIDE.K].
declare -A TCP_MED
tcp_sides_case() {
  local name=$1 runner=$2 dir i side k ncol
  shift 2
  local sides=("$@")
  dir="$TMP/tcp-$name"
  mkdir -p "$dir"
  for side in "${sides[@]}"; do : >"$dir/$side"; done
  echo "== $SUITE/$name: ${sides[*]}: $((WARMUP + RUNS)) runs each (first $WARMUP not counted)" >&2
  for ((i = 1; i <= WARMUP + RUNS; i++)); do
    for side in "${sides[@]}"; do
      if ! "$runner" "$side" "$dir/run"; then
        echo "ERROR $SUITE/$name: a $side run failed (see above)"
        FAILED=1
        return 1
      fi
      [[ $i -gt $WARMUP ]] && cat "$dir/run" >>"$dir/$side"
    done
  done
  for side in "${sides[@]}"; do
    ncol=$(awk 'NR == 1 { print NF }' "$dir/$side")
    local sp=""
    for ((k = 1; k <= ncol; k++)); do
      awk -v c="$k" '{ print $c }' "$dir/$side" >"$dir/$side.$k"
      TCP_MED[$side.$k]=$(median "$dir/$side.$k")
      sp+=" $(spread "$dir/$side.$k")"
    done
    echo "   $side: spread (min..max) of each figure:$sp" >&2
  done
}

# tcp_result NAME BETTER GOAL UNIT ANCHOR GORO_VALUE ANCHOR_VALUE: one RESULT line.
tcp_result() {
  awk -v n="$SUITE/$1" -v better="$2" -v goal="$3" -v unit="$4" -v anchor="$5" \
    -v a="$6" -v b="$7" 'BEGIN {
      if (a <= 0 || b <= 0) r = 0
      else r = (better == "higher") ? a / b : b / a
      printf "RESULT %s goro=%s%s %s=%s%s ratio=%.2f goal=%s %s\n", n, a, unit, anchor, b, unit,
        r, goal, (r >= goal) ? "MET" : "SHORT"
    }'
}

suite_tcp() {
  command -v taskset >/dev/null || die "taskset not found (util-linux)"
  # Echo ping-pong, 64 connections x 64-byte messages: round trips/s; INFO: the server's
  # CPU per round trip and CPU use, the load generator's CPU per round trip.
  compare_case echo_64c_64b higher 1.5 /s -- tcp_echo_run goro rate -- tcp_echo_run go rate
  # The server's CPU time per round trip, in runs of their own: what the server costs
  # even when it is not the bottleneck (with two cores, the load generator and the
  # kernel's loopback path often are).
  compare_case echo_64c_64b_cpu lower 1.5 us -- tcp_echo_run goro cpu -- tcp_echo_run go cpu

  local anchor
  # Proxy, request/response: wrk -c64 through the proxy to nginx. With two cores wrk and
  # nginx share CPU 0, so requests/s barely tells proxies apart: the figure is the proxy's
  # CPU time per request; goal <= 0.8x haproxy's (ratio >= 1.25), the same against Go.
  if wanted proxy_rr_c64; then
    command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
    [[ -x $HAPROXY ]] || die "haproxy not found (apt-get install haproxy)"
    [[ -x $TCP_NGINX ]] || die "nginx not found (apt-get install nginx-light)"
    if tcp_sides_case proxy_rr_c64 tcp_proxy_rr_run goro go haproxy; then
      for anchor in haproxy go; do
        tcp_result proxy_rr_c64_cpu lower 1.25 us "$anchor" "${TCP_MED[goro.2]}" "${TCP_MED[$anchor.2]}"
      done
      echo "INFO $SUITE/proxy_rr_c64 rps goro=${TCP_MED[goro.1]} go=${TCP_MED[go.1]} haproxy=${TCP_MED[haproxy.1]}"
    fi
  fi
  # Proxy, streaming: 8 connections carrying 1 GiB in all through the proxy. MB/s and the
  # proxy's CPU per GiB; goal >= haproxy with splicing forced on both (and a line vs Go,
  # whose io.Copy splices too).
  if wanted proxy_stream_8c; then
    [[ -x $HAPROXY ]] || die "haproxy not found (apt-get install haproxy)"
    if tcp_sides_case proxy_stream_8c tcp_proxy_stream_run goro go haproxy; then
      for anchor in haproxy go; do
        tcp_result proxy_stream_8c_rate higher 1 MB/s "$anchor" "${TCP_MED[goro.1]}" "${TCP_MED[$anchor.1]}"
        tcp_result proxy_stream_8c_cpu lower 1 ms/GiB "$anchor" "${TCP_MED[goro.2]}" "${TCP_MED[$anchor.2]}"
      done
    fi
  fi
}

# --- suite: http ---------------------------------------------------------------------------
# goro's HTTP server (examples/http_service.cpp, issue 7) beside Go's net/http
# (loadtest/go/http/main.go, the same routes) and nginx (loadtest/nginx/http.conf:
# `return 200` for /), each run on a fresh server with one P / one worker pinned to CPU 1,
# and wrk (one thread, loadtest/wrk/http.lua) pinned to CPU 0; the sides take turns with
# the same settings, RUNS times each after the warm-up, GORO_HTTP_SECONDS (5) s of load
# each. Figures per run: requests/s, p50 and p99 latency (wrk's histogram), and the
# server's CPU time per request (utime+stime from /proc/PID/stat over the run, divided by
# the requests): with two cores the client saturates its core near nginx's rate, so the
# CPU figure shows what the request rate cannot. One RESULT line per case, figure and
# anchor, in the usual format with the anchor's name in place of go=:
#   RESULT http/<case>_<figure> goro=<v> <anchor>=<v> ratio=<r> goal=<g> MET|SHORT
SUITES+=" http"
HTTP_PORT=${GORO_HTTP_PORT:-18400}  # each run takes the next port
HTTP_SECONDS=${GORO_HTTP_SECONDS:-5}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}

build_http() {
  cmake_configure
  # The goro side is an example program: turn examples on in this build directory.
  cmake -DGORO_BUILD_EXAMPLES=ON "$BUILD" >"$TMP/configure-http.log" 2>&1 ||
    { cat "$TMP/configure-http.log" >&2; die "cmake configure (examples on) failed"; }
  build_cmake_targets goro_example_http_service
  build_go_package http
}

# http_start SIDE PORT: starts SIDE's server (goro, go or nginx) pinned like a 1-P case;
# sets HTTP_PID once it accepts connections.
http_start() {
  local side=$1 port=$2 cpus dir i
  cpus=$(cpus_for 1)
  case $side in
    goro)
      env GORO_MAXPROCS=1 taskset -c "$cpus" "$BUILD/examples/http_service" \
        --host 127.0.0.1 --port "$port" --root "$ROOT" 2>>"$TMP/http-goro.log" &
      ;;
    go)
      env GOMAXPROCS=1 taskset -c "$cpus" "$BUILD/go/http" -port "$port" -root "$ROOT" \
        2>>"$TMP/http-go.log" &
      ;;
    nginx)
      dir="$TMP/nginx-$port"
      mkdir -p "$dir"
      sed -e "s|@PORT@|$port|g" -e "s|@DIR@|$dir|g" "$ROOT/loadtest/nginx/http.conf" >"$dir/http.conf"
      taskset -c "$cpus" "$NGINX" -p "$dir" -c "$dir/http.conf" 2>>"$TMP/http-nginx.log" &
      ;;
  esac
  HTTP_PID=$!
  for ((i = 0; i < 200; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    kill -0 "$HTTP_PID" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

http_stop() {
  kill -TERM "$HTTP_PID" 2>/dev/null || true
  wait "$HTTP_PID" 2>/dev/null || true
}

# The CPU time (clock ticks, user + system) process PID has used so far.
http_cpu_ticks() {
  sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# The context switches (voluntary + involuntary, all threads) process PID has had so far.
# Per request, they show what the CPU figure pays for besides the requests themselves: a
# runtime thread that wakes on the server's CPU preempts the one serving (involuntary).
http_ctx_switches() {
  cat "/proc/$1"/task/*/status 2>/dev/null | awk '/^(non)?voluntary_ctxt_switches:/ { n += $2 } END { print n + 0 }'
}

# http_run SIDE PORT CONNS DEPTH HOG: one wrk run of GET / against a fresh SIDE server
# on PORT (DEPTH requests pipelined per write; HOG=1: meanwhile a second wrk connection
# keeps /spin?ms=200 busy). Prints "rps p50_us p99_us cpu_us_per_request
# context_switches_per_request".
http_run() {
  local side=$1 port=$2 conns=$3 depth=$4 hog=$5 url out rc=0 hog_pid="" c0 c1 s0 s1 tck
  url="http://127.0.0.1:$port/"
  if ! http_start "$side" "$port"; then
    echo "compare.sh: http: the $side server did not start (see below)" >&2
    tail -n 5 "$TMP/http-$side.log" >&2
    http_stop
    return 1
  fi
  if [[ $hog == 1 ]]; then
    taskset -c 0 wrk -t1 -c1 -d"$((HTTP_SECONDS + 3))s" "${url}spin?ms=200" >/dev/null 2>&1 &
    hog_pid=$!
    sleep 0.5
  fi
  c0=$(http_cpu_ticks "$HTTP_PID")
  s0=$(http_ctx_switches "$HTTP_PID")
  out=$(timeout -k 5 "$RUN_TIMEOUT" taskset -c 0 wrk -t1 -c"$conns" -d"${HTTP_SECONDS}s" \
    -s "$ROOT/loadtest/wrk/http.lua" "$url" -- "$depth" 2>&1) || rc=$?
  c1=$(http_cpu_ticks "$HTTP_PID")
  s1=$(http_ctx_switches "$HTTP_PID")
  if [[ -n $hog_pid ]]; then
    kill "$hog_pid" 2>/dev/null || true
    wait "$hog_pid" 2>/dev/null || true
  fi
  http_stop
  if [[ $rc != 0 ]] || ! grep -q '^wrkresult ' <<<"$out"; then
    echo "compare.sh: http: wrk against $side failed (status $rc):" >&2
    tail -n 5 <<<"$out" >&2
    return 1
  fi
  tck=$(getconf CLK_TCK)
  awk -v c="$((c1 - c0))" -v cs="$((s1 - s0))" -v tck="$tck" -v side="$side" '$1 == "wrkresult" {
      for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
      if (f["errors"] > 0) printf "   (%s: %d wrk errors)\n", side, f["errors"] > "/dev/stderr"
      printf "%s %s %s %.3f %.4f\n", f["rps"], f["p50_us"], f["p99_us"], c / tck * 1e6 / f["requests"],
        cs / f["requests"]
    }' <<<"$out"
}

# wrk_p99 SIDE: the median p99 of SIDE's runs, or "n/a" when wrk reported 0: at very
# high rates (the pipelined case, ~1.5 M responses/s) wrk's coordinated-omission
# correction adds samples below its histogram's minimum, and its percentile walk then
# returns 0 for the upper percentiles (`wrk --latency` on the same run shows a real one).
wrk_p99() {
  local v=${HTTP_MED[$1.p99]}
  if awk -v v="$v" 'BEGIN { exit !(v + 0 > 0) }'; then echo "$v"; else echo "n/a"; fi
}

# http_result CASE FIGURE BETTER GOAL UNIT ANCHOR GORO_VALUE ANCHOR_VALUE
http_result() {
  awk -v n="$SUITE/$1_$2" -v better="$3" -v goal="$4" -v unit="$5" -v anchor="$6" \
    -v a="$7" -v b="$8" 'BEGIN {
      if (a <= 0 || b <= 0) r = 0
      else r = (better == "higher") ? a / b : b / a
      printf "RESULT %s goro=%s%s %s=%s%s ratio=%.2f goal=%s %s\n", n, a, unit, anchor, b, unit,
        r, goal, (r >= goal) ? "MET" : "SHORT"
    }'
}

# http_case CASE CONNS DEPTH HOG SIDE...: the runs of one case; leaves the medians in
# HTTP_MED[side.figure] (figures: rps p50 p99 cpu cs).
declare -A HTTP_MED
http_case() {
  local name=$1 conns=$2 depth=$3 hog=$4 dir i side line col fig
  shift 4
  local sides=("$@")
  dir="$TMP/http-$name"
  mkdir -p "$dir"
  for side in "${sides[@]}"; do : >"$dir/$side"; done
  echo "== $SUITE/$name: ${sides[*]}, $conns connections, depth $depth$([[ $hog == 1 ]] && echo ', /spin hog'):" \
    "$((WARMUP + RUNS)) runs each (first $WARMUP not counted)" >&2
  for ((i = 1; i <= WARMUP + RUNS; i++)); do
    for side in "${sides[@]}"; do
      HTTP_PORT=$((HTTP_PORT + 1))
      if ! line=$(http_run "$side" "$HTTP_PORT" "$conns" "$depth" "$hog"); then
        echo "ERROR $SUITE/$name: a $side run failed (see above)"
        FAILED=1
        return 1
      fi
      [[ $i -gt $WARMUP ]] && echo "$line" >>"$dir/$side"
    done
  done
  for side in "${sides[@]}"; do
    col=1
    for fig in rps p50 p99 cpu cs; do
      awk -v c="$col" '{ print $c }' "$dir/$side" >"$dir/$side.$fig"
      HTTP_MED[$side.$fig]=$(median "$dir/$side.$fig")
      col=$((col + 1))
    done
    echo "   $side: rps $(spread "$dir/$side.rps"), p99 $(spread "$dir/$side.p99") us," \
      "cpu $(spread "$dir/$side.cpu") us/request, context switches $(spread "$dir/$side.cs")/request" >&2
  done
}

suite_http() {
  command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
  local c anchor
  # Keep-alive GET /: goals >= 2x Go and >= 1x nginx in requests/s, p99 no worse than
  # either, server CPU per request no more than nginx's.
  for c in 64 256; do
    wanted "keepalive_c$c" || continue
    http_case "keepalive_c$c" "$c" 1 0 goro go nginx || continue
    for anchor in go nginx; do
      http_result "keepalive_c$c" rps higher "$([[ $anchor == go ]] && echo 2 || echo 1)" /s \
        "$anchor" "${HTTP_MED[goro.rps]}" "${HTTP_MED[$anchor.rps]}"
      http_result "keepalive_c$c" p99 lower 1 us "$anchor" "${HTTP_MED[goro.p99]}" "${HTTP_MED[$anchor.p99]}"
      http_result "keepalive_c$c" cpu lower 1 us "$anchor" "${HTTP_MED[goro.cpu]}" "${HTTP_MED[$anchor.cpu]}"
    done
    echo "INFO $SUITE/keepalive_c$c p50_us goro=${HTTP_MED[goro.p50]} go=${HTTP_MED[go.p50]} nginx=${HTTP_MED[nginx.p50]}"
    echo "INFO $SUITE/keepalive_c$c ctx_switches_per_request goro=${HTTP_MED[goro.cs]} go=${HTTP_MED[go.cs]} nginx=${HTTP_MED[nginx.cs]}"
  done

  # The same, 16 requests pipelined per write (64 connections): >= 1x nginx.
  if wanted pipelined16_c64 && http_case pipelined16_c64 64 16 0 goro go nginx; then
    for anchor in go nginx; do
      http_result pipelined16_c64 rps higher 1 /s "$anchor" "${HTTP_MED[goro.rps]}" "${HTTP_MED[$anchor.rps]}"
    done
    echo "INFO $SUITE/pipelined16_c64 p99_us goro=$(wrk_p99 goro) go=$(wrk_p99 go)" \
      "nginx=$(wrk_p99 nginx) cpu_us goro=${HTTP_MED[goro.cpu]} go=${HTTP_MED[go.cpu]}" \
      "nginx=${HTTP_MED[nginx.cpu]}"
  fi

  # GET / (64 connections) while one more connection keeps /spin?ms=200 (a call-free CPU
  # loop) busy on the server's only P: p99 of / <= 0.5x Go's (nginx has no /spin).
  if wanted cpu_hog_c64 && http_case cpu_hog_c64 64 1 1 goro go; then
    http_result cpu_hog_c64 p99 lower 2 us go "${HTTP_MED[goro.p99]}" "${HTTP_MED[go.p99]}"
    echo "INFO $SUITE/cpu_hog_c64 rps goro=${HTTP_MED[goro.rps]} go=${HTTP_MED[go.rps]}" \
      "p50_us goro=${HTTP_MED[goro.p50]} go=${HTTP_MED[go.p50]}"
  fi
}

# --- main -----------------------------------------------------------------------------------
declare -F "suite_$SUITE" >/dev/null || die "unknown suite '$SUITE' (suites: $SUITES)"
if [[ $DO_BUILD == 1 ]]; then
  if declare -F "build_$SUITE" >/dev/null; then "build_$SUITE"; else build_default "$SUITE"; fi
fi
command -v taskset >/dev/null || die "taskset not found (util-linux)"
echo "== $SUITE: $RUNS runs a side, load average $(cut -d' ' -f1-3 /proc/loadavg) on $NCPU CPUs" >&2
"suite_$SUITE"
exit "$FAILED"

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
SUITES="core"  # later: sync syscall preempt tcp http

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
    -v a="$goro_v" -v b="$go_v" 'BEGIN {
      if (a <= 0 || b <= 0) r = 0
      else r = (better == "higher") ? a / b : b / a
      printf "RESULT %s/%s goro=%s%s go=%s%s ratio=%.2f goal=%s %s\n",
        suite, name, a, unit, b, unit, r, goal, (r >= goal) ? "MET" : "SHORT"
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

# --- main -----------------------------------------------------------------------------------
declare -F "suite_$SUITE" >/dev/null || die "unknown suite '$SUITE' (suites: $SUITES)"
if [[ $DO_BUILD == 1 ]]; then
  if declare -F "build_$SUITE" >/dev/null; then "build_$SUITE"; else build_default "$SUITE"; fi
fi
command -v taskset >/dev/null || die "taskset not found (util-linux)"
echo "== $SUITE: $RUNS runs a side, load average $(cut -d' ' -f1-3 /proc/loadavg) on $NCPU CPUs" >&2
"suite_$SUITE"
exit "$FAILED"

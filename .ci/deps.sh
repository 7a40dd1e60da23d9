# shellcheck shell=sh disable=SC2034  # sourced: the lists are used by the caller
# deps.sh — the Debian 12 packages goro needs, in one place. Sourced (POSIX sh) by
# .ci/main, .ci/test and the Dockerfile; not run on its own.
#
#   . .ci/deps.sh
#   goro_ensure_packages $GORO_BUILD_DEPS $GORO_TEST_DEPS
#
# goro_ensure_packages installs only what dpkg does not already list as installed, and
# runs `apt-get update` only when something is missing.

# Compile and link goro and its examples (Asio, OpenSSL and llhttp for net/http).
GORO_BUILD_DEPS="cmake g++ make git pkg-config libasio-dev libssl-dev node-llhttp"
# Run the test suite (tests/http drives the server with curl too) and build the benchmarks.
GORO_TEST_DEPS="libgtest-dev libgmock-dev libbenchmark-dev curl"
# Side-by-side load tests (loadtest/): the Go counterparts, nginx (the http suite's
# anchor) and the load generator.
GORO_LOADTEST_DEPS="golang-go wrk nginx-light"

goro_ensure_packages() {
  goro_missing=""
  for goro_pkg in "$@"; do
    if [ "$(dpkg-query -W -f='${Status}' "$goro_pkg" 2>/dev/null)" != "install ok installed" ]; then
      goro_missing="$goro_missing $goro_pkg"
    fi
  done
  if [ -z "$goro_missing" ]; then
    return 0
  fi
  goro_sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      goro_sudo="sudo"
    else
      echo "goro: missing packages:$goro_missing (run as root, or install them)" >&2
      return 1
    fi
  fi
  echo "goro: installing$goro_missing" >&2
  # shellcheck disable=SC2086  # word splitting of the package list is intended
  $goro_sudo env DEBIAN_FRONTEND=noninteractive apt-get update &&
    $goro_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y $goro_missing
}

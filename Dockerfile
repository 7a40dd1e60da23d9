# goro in a container, in two stages:
#  - build: Debian 12 with the packages of .ci/deps.sh (the same list as .ci/main and
#    .ci/test), builds the library, its examples and its tests in Release and runs the
#    whole test suite (unit and stress): the image is not made if any test fails;
#  - runtime: a slim Debian with the example programs only, running the example HTTP
#    service (examples/http_service.cpp) on port 8080 as an unprivileged user.
#
#   docker build -t goro . && docker run --rm -p 8080:8080 goro   # then: curl localhost:8080/
#   docker run --rm -p 8080:8080 -e GORO_MAXPROCS=4 goro
#   docker run --rm goro http_service --help                      # or another example: hello
#   docker build --build-arg GORO_JOBS=1 -t goro .                # fewer parallel jobs
#
# `docker stop` sends SIGTERM: the service stops accepting, finishes the requests in flight
# (up to 8 s, --grace; docker's own limit before SIGKILL is 10 s) and exits 0.
FROM debian:bookworm AS build

# Parallel compile and test jobs (default: the CPUs the build may use).
ARG GORO_JOBS=

WORKDIR /src
# The build and test packages, from the same list as .ci/main and .ci/test.
COPY .ci/deps.sh .ci/deps.sh
RUN . .ci/deps.sh \
 && goro_ensure_packages $GORO_BUILD_DEPS $GORO_TEST_DEPS \
 && rm -rf /var/lib/apt/lists/*

COPY . .
# Benchmarks are off (ctest never runs them); install rules stay on for the packaging test
# (tests/install).
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release \
      -DGORO_BUILD_EXAMPLES=ON -DGORO_BUILD_TESTS=ON -DGORO_BUILD_BENCHMARKS=OFF \
      -DGORO_INSTALL=ON \
 && cmake --build /build -j "${GORO_JOBS:-$(nproc)}"

# Every test, as .ci/test runs them. None is excluded: the suite needs no capability and
# no kernel setting a build container lacks (it only lowers its own RLIMIT_NOFILE, reads
# vm.max_map_count, and listens on ephemeral loopback ports).
RUN ctest --test-dir /build --output-on-failure --no-tests=error -j "${GORO_JOBS:-$(nproc)}" \
 && mkdir -p /out \
 && find /build/examples -maxdepth 1 -type f -perm -u+x -exec cp {} /out/ \; \
 && strip /out/*

# The programs only, on a slim Debian (libstdc++ is part of the base image). When a
# program links a shared library from a -dev package (libssl3 for TLS), install it here.
FROM debian:bookworm-slim
COPY --from=build /out/ /usr/local/bin/
# What GET /file?path=... serves (the service's --root is its working directory).
WORKDIR /srv/www
COPY README.md ./
# nobody: the service needs no privilege (8080 is not a privileged port).
USER 65534:65534
EXPOSE 8080
STOPSIGNAL SIGTERM
CMD ["http_service", "--port", "8080", "--grace", "8"]

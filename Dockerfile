# goro in a container: builds the library and its examples in Release on Debian 12, then
# runs the example HTTP service (examples/http_service.cpp) on port 8080.
#
#   docker build -t goro . && docker run --rm -p 8080:8080 goro   # then: curl localhost:8080/
#   docker run --rm -p 8080:8080 -e GORO_MAXPROCS=4 goro
#   docker run --rm goro http_service --help                      # or another example: hello
# `docker stop` sends SIGTERM: the service stops accepting, finishes the requests in flight
# (up to 10 s, --grace) and exits 0.
FROM debian:bookworm AS build

WORKDIR /src
# The build packages, from the same list as .ci/main and .ci/test.
COPY .ci/deps.sh .ci/deps.sh
RUN . .ci/deps.sh \
 && goro_ensure_packages $GORO_BUILD_DEPS \
 && rm -rf /var/lib/apt/lists/*

COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release \
      -DGORO_BUILD_EXAMPLES=ON -DGORO_BUILD_TESTS=OFF -DGORO_BUILD_BENCHMARKS=OFF \
      -DGORO_INSTALL=OFF \
 && cmake --build /build -j "$(nproc)" \
 && mkdir -p /out \
 && find /build/examples -maxdepth 1 -type f -perm -u+x -exec cp {} /out/ \;

# The programs only, on a plain Debian (libstdc++ is part of the base image). When a
# program links a shared library from a -dev package (libssl3 for TLS), install it here.
FROM debian:bookworm
COPY --from=build /out/ /usr/local/bin/
# What GET /file?path=... serves (the service's --root is its working directory).
WORKDIR /srv/www
COPY README.md ./
EXPOSE 8080
CMD ["http_service", "--port", "8080"]

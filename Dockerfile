# goro in a container: builds the library and its examples in Release on Debian 12, then
# runs the example program (for now the core demo, examples/hello.cpp).
#
#   docker build -t goro . && docker run --rm goro               # or: ... goro hello --help
#   docker run --rm -e GORO_MAXPROCS=4 goro
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
CMD ["hello"]

// The Go counterparts of goro's benchmarks: one package main per suite (core/, later
// sync/, syscall/, preempt/, tcp/, http/). Standard library only, so `go build` never
// downloads anything; loadtest/compare.sh builds them with GOPROXY=off.
module goro/loadtest

go 1.19

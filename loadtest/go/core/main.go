// Command core is the Go side of goro's "core" benchmark suite: the same work as
// tests/bench/core_bench.cpp, with the same interface, so loadtest/compare.sh can run
// the two side by side.
//
//	core CASE [N]
//
// prints the case's figure alone on the first line of standard output; optional later
// lines "info NAME VALUE" carry informational figures. GOMAXPROCS comes from the
// environment (compare.sh sets it to the same value as GORO_MAXPROCS).
//
// Cases (N overrides the default size):
//
//	spawn_join     goroutines/s: spawn N (1,000,000) empty goroutines from main, each
//	               calling wg.Done on a shared WaitGroup, then wg.Wait.
//	yield_pingpong ns per switch: two goroutines each call runtime.Gosched N
//	               (2,000,000) times; elapsed / (2N).
//	parked_rss     bytes per goroutine: VmRSS delta with N (1,000,000) goroutines
//	               parked at once on a shared WaitGroup; info pte_bytes is the VmPTE
//	               delta per goroutine.
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

func spawnJoin(n int) float64 {
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

func yieldPingpong(n int) float64 {
	var wg sync.WaitGroup
	wg.Add(2)
	start := time.Now()
	for k := 0; k < 2; k++ {
		go func() {
			for i := 0; i < n; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	return float64(time.Since(start).Nanoseconds()) / float64(2*n)
}

// procStatusBytes returns a "Name:   123 kB" field of /proc/self/status, in bytes.
func procStatusBytes(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		fail(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, field+":") {
			fs := strings.Fields(line[len(field)+1:])
			kb, err := strconv.ParseInt(fs[0], 10, 64)
			if err != nil {
				fail(err)
			}
			return kb * 1024
		}
	}
	fail(fmt.Errorf("no %s in /proc/self/status", field))
	return 0
}

func parkedRSS(n int) (rssPer, ptePer float64) {
	var ready, gate, exited sync.WaitGroup
	rss0, pte0 := procStatusBytes("VmRSS"), procStatusBytes("VmPTE")
	ready.Add(n)
	gate.Add(1)
	exited.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			ready.Done()
			gate.Wait()
			exited.Done()
		}()
	}
	ready.Wait()
	// The last goroutine to call ready.Done may not have parked yet; let it.
	time.Sleep(10 * time.Millisecond)
	rss1, pte1 := procStatusBytes("VmRSS"), procStatusBytes("VmPTE")
	gate.Done()
	exited.Wait()
	return float64(rss1-rss0) / float64(n), float64(pte1-pte0) / float64(n)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "core:", err)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 || len(os.Args) > 3 {
		fmt.Fprintln(os.Stderr, "usage: core spawn_join|yield_pingpong|parked_rss [N]")
		os.Exit(2)
	}
	n := 0
	if len(os.Args) == 3 {
		v, err := strconv.Atoi(os.Args[2])
		if err != nil || v <= 0 {
			fail(fmt.Errorf("bad N %q", os.Args[2]))
		}
		n = v
	}
	orDefault := func(d int) int {
		if n > 0 {
			return n
		}
		return d
	}
	switch os.Args[1] {
	case "spawn_join":
		fmt.Printf("%.0f\n", spawnJoin(orDefault(1000000)))
	case "yield_pingpong":
		fmt.Printf("%.2f\n", yieldPingpong(orDefault(2000000)))
	case "parked_rss":
		rss, pte := parkedRSS(orDefault(1000000))
		fmt.Printf("%.1f\ninfo pte_bytes %.1f\n", rss, pte)
	default:
		fail(fmt.Errorf("unknown case %q", os.Args[1]))
	}
}

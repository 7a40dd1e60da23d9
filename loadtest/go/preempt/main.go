// Go's side of `loadtest/compare.sh preempt` (goro's: tests/bench/preempt_bench.cpp).
//
//	preempt sleeper max|p99 [MS]   a call-free loop and a 1 ms sleeper on GOMAXPROCS=1
//	preempt cpu [N]                one CPU-bound goroutine: run time in ms
package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

var sink uint64

func sleeper(metric string, ms int) {
	var stop int32
	var wg sync.WaitGroup
	late := make([]float64, 0, ms+16)
	wg.Add(2)
	go func() {
		x := uint64(1)
		for atomic.LoadInt32(&stop) == 0 {
			x = x*6364136223846793005 + 1
		}
		sink = x
		wg.Done()
	}()
	go func() {
		end := time.Now().Add(time.Duration(ms) * time.Millisecond)
		for time.Now().Before(end) {
			t0 := time.Now()
			time.Sleep(time.Millisecond)
			late = append(late, float64(time.Since(t0)-time.Millisecond)/1e3)
		}
		atomic.StoreInt32(&stop, 1)
		wg.Done()
	}()
	wg.Wait()
	sort.Float64s(late)
	v := 0.0
	if len(late) > 0 {
		if metric == "max" {
			v = late[len(late)-1]
		} else {
			v = late[int(0.99*float64(len(late)-1))]
		}
	}
	fmt.Printf("%.0f\ninfo samples %d\n", v, len(late))
}

func cpu(n int64) {
	t0 := time.Now()
	x := uint64(1)
	for i := int64(0); i < n; i++ {
		x = x*6364136223846793005 + 1
	}
	sink = x
	fmt.Printf("%.1f\n", float64(time.Since(t0))/1e6)
}

func main() {
	if len(os.Args) >= 3 && os.Args[1] == "sleeper" {
		ms := 2000
		if len(os.Args) >= 4 {
			ms, _ = strconv.Atoi(os.Args[3])
		}
		sleeper(os.Args[2], ms)
		return
	}
	if len(os.Args) >= 2 && os.Args[1] == "cpu" {
		n := int64(2000000000)
		if len(os.Args) >= 3 {
			n, _ = strconv.ParseInt(os.Args[2], 10, 64)
		}
		cpu(n)
		return
	}
	fmt.Fprintln(os.Stderr, "usage: preempt sleeper max|p99 [MS] | cpu [N]")
	os.Exit(2)
}

// Command sync is the Go side of goro's "sync" benchmark suite: the same work as
// tests/bench/sync_bench.cpp, with the same interface, so loadtest/compare.sh can run
// the two side by side.
//
//	sync CASE [N]
//
// prints the case's figure alone on the first line of standard output; optional later
// lines "info NAME VALUE" carry informational figures. GOMAXPROCS comes from the
// environment (compare.sh sets it to the same value as GORO_MAXPROCS).
//
// Cases (N overrides the default size):
//
//	pingpong   round trips/s: two goroutines pass an int back and forth over two
//	           unbuffered channels, N (1,000,000) round trips.
//	buffered   messages/s: one producer sends N (10,000,000) ints into a channel of
//	           capacity 128 and closes it; one consumer ranges over it.
//	mutex      lock/unlock pairs/s: 4 goroutines each lock a shared sync.Mutex,
//	           increment a shared counter and unlock, N (2,000,000) times each.
//	sleep_wall ms: N (100,000) goroutines each time.Sleep(10ms) once; the time from the
//	           first spawn until the last has finished. info late_p99_us, late_max_us.
//	sleep_late us: the same run, reporting the p99 of each goroutine's lateness (wake-up
//	           time minus the time its sleep was due). info wall_ms, late_max_us.
package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"
)

func pingpong(n int) float64 {
	ping, pong := make(chan int), make(chan int)
	var wg sync.WaitGroup
	wg.Add(2)
	start := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			ping <- 1
			<-pong
		}
		wg.Done()
	}()
	go func() {
		for i := 0; i < n; i++ {
			v := <-ping
			pong <- v + 1
		}
		wg.Done()
	}()
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

func buffered(n int) float64 {
	ch := make(chan int64, 128)
	var wg sync.WaitGroup
	wg.Add(2)
	var sum int64
	start := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			ch <- int64(i)
		}
		close(ch)
		wg.Done()
	}()
	go func() {
		for v := range ch {
			sum += v
		}
		wg.Done()
	}()
	wg.Wait()
	rate := float64(n) / time.Since(start).Seconds()
	if sum != int64(n)*int64(n-1)/2 {
		fail(fmt.Errorf("buffered: lost or duplicated messages"))
	}
	return rate
}

func mutex(n int) float64 {
	const goroutines = 4
	var mu sync.Mutex
	counter := 0 // guarded by mu
	var wg sync.WaitGroup
	wg.Add(goroutines)
	start := time.Now()
	for k := 0; k < goroutines; k++ {
		go func() {
			for i := 0; i < n; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	rate := float64(goroutines*n) / time.Since(start).Seconds()
	if counter != goroutines*n {
		fail(fmt.Errorf("mutex: lost increments"))
	}
	return rate
}

func sleepers(n int) (wallMs, lateP99Us, lateMaxUs float64) {
	late := make([]int64, n) // slot i written by goroutine i only
	var wg sync.WaitGroup
	wg.Add(n)
	start := time.Now()
	for i := 0; i < n; i++ {
		go func(i int) {
			due := time.Now().Add(10 * time.Millisecond)
			time.Sleep(10 * time.Millisecond)
			late[i] = int64(time.Since(due))
			wg.Done()
		}(i)
	}
	wg.Wait()
	wallMs = float64(time.Since(start).Nanoseconds()) / 1e6
	sort.Slice(late, func(a, b int) bool { return late[a] < late[b] })
	p99 := n * 99 / 100
	if p99 > n-1 {
		p99 = n - 1
	}
	return wallMs, float64(late[p99]) / 1e3, float64(late[n-1]) / 1e3
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "sync:", err)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 || len(os.Args) > 3 {
		fmt.Fprintln(os.Stderr, "usage: sync pingpong|buffered|mutex|sleep_wall|sleep_late [N]")
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
	case "pingpong":
		fmt.Printf("%.0f\n", pingpong(orDefault(1000000)))
	case "buffered":
		fmt.Printf("%.0f\n", buffered(orDefault(10000000)))
	case "mutex":
		fmt.Printf("%.0f\n", mutex(orDefault(2000000)))
	case "sleep_wall":
		wall, p99, max := sleepers(orDefault(100000))
		fmt.Printf("%.2f\ninfo late_p99_us %.1f\ninfo late_max_us %.1f\n", wall, p99, max)
	case "sleep_late":
		wall, p99, max := sleepers(orDefault(100000))
		fmt.Printf("%.1f\ninfo wall_ms %.2f\ninfo late_max_us %.1f\n", p99, wall, max)
	default:
		fail(fmt.Errorf("unknown case %q", os.Args[1]))
	}
}

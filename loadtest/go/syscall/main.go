// Command syscall is the Go side of goro's "syscall" benchmark suite: the same work as
// tests/bench/syscall_bench.cpp, with the same interface, so loadtest/compare.sh can run
// the two side by side. Run with GOMAXPROCS=1.
//
//	syscall ticker K max|p99|threads [TICKS]
//	syscall getpid [N]
//
// prints the figure alone on the first line of standard output; later lines
// "info NAME VALUE" carry the other figures of the same run.
//
// ticker: K goroutines block in read(2) on K blocking pipes (syscall.Read on
// syscall.Pipe2 descriptors: a real blocking system call, not the netpoller, which
// os.File would use for a pipe), while another goroutine receives from a 1 ms
// time.Ticker TICKS (2,000) times. A tick's lateness is its arrival time minus the tick
// it stands for: the first 1 ms grid point (grid from the ticker's creation) after the
// previous arrival. Figures: "max" and "p99" lateness in microseconds, "threads" the OS
// threads of the process (/proc/self/task entries, the larger of two samples taken while
// the K goroutines are blocked).
//
// getpid: ns per syscall.Getpid() call, N (2,000,000) calls (the anchor issue 4 names;
// Go makes it a raw system call, without entersyscall); info syscall_ns: ns per
// syscall.Syscall(SYS_GETPID), which goes through entersyscall/exitsyscall.
package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func threadCount() int {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		fail(err)
	}
	return len(ents)
}

func ticker(k, ticks int) (maxUs, p99Us float64, threads int) {
	rd := make([]int, k)
	wr := make([]int, k)
	for i := 0; i < k; i++ {
		var p [2]int
		if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
			fail(err)
		}
		rd[i], wr[i] = p[0], p[1]
	}
	var entered atomic.Int32
	var readers sync.WaitGroup
	readers.Add(k)
	for i := 0; i < k; i++ {
		go func(i int) {
			var c [1]byte
			entered.Add(1)
			n, err := syscall.Read(rd[i], c[:])
			if n != 1 || err != nil {
				fail(fmt.Errorf("read: %d %v", n, err))
			}
			readers.Done()
		}(i)
	}
	for int(entered.Load()) < k {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let sysmon take the P of the blocked readers

	late := make([]int64, 0, ticks)
	const period = time.Millisecond
	t0 := time.Now()
	t := time.NewTicker(period)
	due := t0.Add(period)
	for i := 0; i < ticks; i++ {
		<-t.C
		now := time.Now()
		l := int64(now.Sub(due))
		if l < 0 {
			l = 0
		}
		late = append(late, l)
		due = t0.Add(period * (now.Sub(t0)/period + 1)) // the next grid point after now
		if i == ticks/2 || i == ticks-1 {
			if c := threadCount(); c > threads {
				threads = c
			}
		}
	}
	t.Stop()

	for _, fd := range wr {
		if _, err := syscall.Write(fd, []byte{'x'}); err != nil {
			fail(err)
		}
	}
	readers.Wait()
	for i := 0; i < k; i++ {
		syscall.Close(rd[i])
		syscall.Close(wr[i])
	}
	sort.Slice(late, func(a, b int) bool { return late[a] < late[b] })
	p99 := len(late) * 99 / 100
	if p99 > len(late)-1 {
		p99 = len(late) - 1
	}
	return float64(late[len(late)-1]) / 1e3, float64(late[p99]) / 1e3, threads
}

func getpidCost(n int) (ns, syscallNs float64) {
	sum := 0
	start := time.Now()
	for i := 0; i < n; i++ {
		sum += syscall.Getpid()
	}
	ns = float64(time.Since(start).Nanoseconds()) / float64(n)
	start = time.Now()
	for i := 0; i < n; i++ {
		r, _, _ := syscall.Syscall(syscall.SYS_GETPID, 0, 0, 0)
		sum += int(r)
	}
	syscallNs = float64(time.Since(start).Nanoseconds()) / float64(n)
	if sum == 0 {
		fail(fmt.Errorf("getpid"))
	}
	return ns, syscallNs
}

func positive(s string) int {
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 {
		fail(fmt.Errorf("bad number %q", s))
	}
	return v
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "syscall:", err)
	os.Exit(1)
}

func main() {
	args := os.Args[1:]
	switch {
	case len(args) >= 3 && len(args) <= 4 && args[0] == "ticker":
		k := positive(args[1])
		ticks := 2000
		if len(args) == 4 {
			ticks = positive(args[3])
		}
		max, p99, threads := ticker(k, ticks)
		switch args[2] {
		case "max":
			fmt.Printf("%.1f\ninfo p99_us %.1f\ninfo threads %d\n", max, p99, threads)
		case "p99":
			fmt.Printf("%.1f\ninfo max_us %.1f\ninfo threads %d\n", p99, max, threads)
		case "threads":
			fmt.Printf("%d\ninfo max_us %.1f\ninfo p99_us %.1f\n", threads, max, p99)
		default:
			fail(fmt.Errorf("metric must be max, p99 or threads"))
		}
	case len(args) >= 1 && len(args) <= 2 && args[0] == "getpid":
		n := 2000000
		if len(args) == 2 {
			n = positive(args[1])
		}
		ns, sys := getpidCost(n)
		fmt.Printf("%.2f\ninfo syscall_ns %.2f\n", ns, sys)
	default:
		fmt.Fprintln(os.Stderr, "usage: syscall ticker K max|p99|threads [TICKS] | getpid [N]")
		os.Exit(2)
	}
}

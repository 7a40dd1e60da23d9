// Command http is the Go side of goro's "http" load-test suite: a net/http server with
// the same routes as examples/http_service.cpp, standard library only, so
// loadtest/compare.sh can drive both (and nginx) with the same wrk runs.
//
//	http [-port N] [-root DIR]
//
// Routes:
//
//	GET  /               Hello, World! (text/plain)
//	POST /echo           the request body
//	GET  /json           a small JSON document
//	GET  /file?path=P    the file P under -root (no .. escape)
//	GET  /resolve?host=H the addresses of H
//	GET  /spin?ms=N      N ms (at most 5000) of CPU in a tight loop
//	GET  /sleep?ms=N     answers after N ms (at most 60000)
//	GET  /debug/sched    runtime figures (Go has no in-process schedtrace)
//
// SIGINT/SIGTERM shut it down gracefully (http.Server.Shutdown), as the goro service.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func queryInt(r *http.Request, name string, lo, hi int) (int, bool) {
	v, err := strconv.Atoi(r.URL.Query().Get(name))
	if err != nil || v < lo || v > hi {
		return 0, false
	}
	return v, true
}

// spin burns CPU until the deadline; the clock is read every 64 steps. (Go preempts
// such a loop asynchronously either way.)
func spin(d time.Duration) uint64 {
	x := uint64(88172645463325252)
	until := time.Now().Add(d)
	for time.Now().Before(until) {
		for i := 0; i < 64; i++ {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
		}
	}
	return x
}

func main() {
	port := flag.Int("port", 8080, "port to listen on")
	root := flag.String("root", ".", "directory GET /file serves from")
	flag.Parse()
	absRoot, err := filepath.EvalSymlinks(*root)
	if err != nil {
		log.Fatal(err)
	}
	absRoot, _ = filepath.Abs(absRoot)

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "Hello, World!")
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
			return
		}
		if t := r.Header.Get("Content-Type"); t != "" {
			w.Header().Set("Content-Type", t)
		} else {
			w.Header().Set("Content-Type", "application/octet-stream")
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Write(body)
	})
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"message":    "Hello, World!",
			"goroutines": runtime.NumGoroutine(),
			"procs":      runtime.GOMAXPROCS(0),
		})
	})
	mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) {
		rel := r.URL.Query().Get("path")
		if rel == "" || strings.HasPrefix(rel, "/") {
			http.Error(w, "bad path", http.StatusForbidden)
			return
		}
		for _, part := range strings.Split(rel, "/") {
			if part == ".." {
				http.Error(w, "outside the served directory", http.StatusForbidden)
				return
			}
		}
		full, err := filepath.EvalSymlinks(filepath.Join(absRoot, rel))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if full != absRoot && !strings.HasPrefix(full, absRoot+string(filepath.Separator)) {
			http.Error(w, "outside the served directory", http.StatusForbidden)
			return
		}
		http.ServeFile(w, r, full)
	})
	mux.HandleFunc("/resolve", func(w http.ResponseWriter, r *http.Request) {
		host := r.URL.Query().Get("host")
		if host == "" {
			http.Error(w, "missing ?host=", http.StatusBadRequest)
			return
		}
		addrs, err := net.DefaultResolver.LookupHost(r.Context(), host)
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		json.NewEncoder(w).Encode(addrs)
	})
	mux.HandleFunc("/spin", func(w http.ResponseWriter, r *http.Request) {
		ms, ok := queryInt(r, "ms", 0, 5000)
		if !ok {
			http.Error(w, "?ms= wants 0..5000", http.StatusBadRequest)
			return
		}
		t0 := time.Now()
		x := spin(time.Duration(ms) * time.Millisecond)
		fmt.Fprintf(w, "spun %d ms (%.1f ms elapsed, x=%x)\n", ms,
			float64(time.Since(t0).Microseconds())/1000, x&0xffff)
	})
	mux.HandleFunc("/sleep", func(w http.ResponseWriter, r *http.Request) {
		ms, ok := queryInt(r, "ms", 0, 60000)
		if !ok {
			http.Error(w, "?ms= wants 0..60000", http.StatusBadRequest)
			return
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
		fmt.Fprintf(w, "slept %d ms\n", ms)
	})
	mux.HandleFunc("/debug/sched", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "gomaxprocs=%d goroutines=%d\n", runtime.GOMAXPROCS(0), runtime.NumGoroutine())
	})

	srv := &http.Server{
		Addr:              ":" + strconv.Itoa(*port),
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	idle := make(chan struct{})
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		close(idle)
	}()
	fmt.Fprintf(os.Stderr, "http (Go %s): listening on %s\n", runtime.Version(), srv.Addr)
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
	<-idle
}

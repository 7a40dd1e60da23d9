// Command proxy is the Go side of the proxy cases of goro's "tcp" benchmark suite
// (loadtest/compare.sh tcp): a goroutine-per-connection TCP proxy, the Go anchor for
// examples/tcp_proxy. Standard library only.
//
//	proxy [-addr 127.0.0.1:8000] -backend HOST:PORT
//
// For every accepted client it dials the backend and copies both ways with io.Copy, one
// goroutine per direction. Between two *net.TCPConn, io.Copy uses TCPConn.ReadFrom,
// which moves the bytes with splice(2) through a pipe (zero-copy), as goro's relay does.
// A direction that reaches the end of its stream half-closes the other side
// (CloseWrite); an error closes both. Prints "ready ADDR" on standard error once
// listening; runs until killed. GOMAXPROCS comes from the environment.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "address to listen on")
	backend := flag.String("backend", "", "backend HOST:PORT (required)")
	flag.Parse()
	if *backend == "" {
		fmt.Fprintln(os.Stderr, "usage: proxy [-addr HOST:PORT] -backend HOST:PORT")
		os.Exit(2)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "proxy:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "ready", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "proxy: accept:", err)
			continue
		}
		go serve(c.(*net.TCPConn), *backend)
	}
}

func serve(client *net.TCPConn, backend string) {
	defer client.Close()
	c, err := net.Dial("tcp", backend)
	if err != nil {
		return
	}
	up := c.(*net.TCPConn)
	defer up.Close()
	done := make(chan struct{})
	go func() {
		pump(client, up)
		close(done)
	}()
	pump(up, client)
	<-done
}

// pump copies src to dst; the end of src's stream becomes a half close of dst, an error
// closes both (which ends the other direction too).
func pump(dst, src *net.TCPConn) {
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		src.Close()
		return
	}
	dst.CloseWrite()
}

// Command tcp is the Go side of goro's "tcp" benchmark suite (loadtest/compare.sh tcp):
// a goroutine-per-connection echo server, the Go anchor for tests/bench/tcp_bench.cpp's
// "server" mode. Standard library only.
//
//	tcp server [-addr 127.0.0.1:7000] [-buffer 4096]
//
// Accepts connections and, in one goroutine per connection, writes back every byte it
// reads, until the client closes. Prints "ready ADDR" on standard error once listening;
// runs until killed. GOMAXPROCS comes from the environment. The load generator is
// goro's: tcp_bench load (the same one for both servers).
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] != "server" {
		fmt.Fprintln(os.Stderr, "usage: tcp server [-addr HOST:PORT] [-buffer BYTES]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:7000", "address to listen on")
	bufSize := fs.Int("buffer", 4096, "read buffer per connection")
	fs.Parse(os.Args[2:])

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tcp:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "ready", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "tcp: accept:", err)
			continue
		}
		go func(c net.Conn) {
			defer c.Close()
			buf := make([]byte, *bufSize)
			for {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
		}(c)
	}
}

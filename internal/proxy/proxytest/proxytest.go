// Package proxytest holds what the tests of the proxy packages share:
// loopback servers that hand over raw connections, an address where
// nothing listens, a goroutine-safe log buffer and polling for a
// condition. It imports none of the proxy packages, so that their own
// (internal) tests can use it.
package proxytest

import (
	"bytes"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"hecd/internal/freeport"
)

// pollEvery is how often Poll and WaitFor look at their condition.
const pollEvery = 2 * time.Millisecond

// Serve accepts connections on ln until the test ends, handing each to
// handle on a goroutine of its own, and returns ln's address. ln is
// closed when the test ends.
func Serve(t testing.TB, ln net.Listener, handle func(net.Conn)) string {
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return ln.Addr().String()
}

// ServeLoopback is Serve on a free loopback port.
func ServeLoopback(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return Serve(t, ln, handle)
}

// ClosedAddr is a loopback address where nothing listens: connections to
// it are refused. The port lies outside the kernel's ephemeral range (see
// package freeport), so no outgoing connection takes it meanwhile and a
// test can listen on it later.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	p, err := freeport.One()
	if err != nil {
		t.Fatal(err)
	}
	return "127.0.0.1:" + strconv.Itoa(p)
}

// Buffer is a bytes.Buffer for writers on several goroutines, such as a
// logger or an access log, that the test reads while they write.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Poll calls cond every few milliseconds until it holds, and reports
// whether it did before timeout.
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollEvery)
	}
	return true
}

// WaitFor polls cond until it holds; the test fails with "timed out
// waiting for what" when it still does not after timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(timeout, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

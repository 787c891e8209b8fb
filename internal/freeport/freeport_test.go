package freeport

import (
	"net"
	"strconv"
	"testing"
)

func TestGetAvoidsTheEphemeralRange(t *testing.T) {
	elo, ehi := ephemeralRange()
	ports, err := Get(50)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	lo, hi := searchRange()
	for _, p := range ports {
		if seen[p] {
			t.Errorf("port %d handed out twice", p)
		}
		seen[p] = true
		if p < lo || p >= hi {
			t.Errorf("port %d outside the search range [%d, %d)", p, lo, hi)
		}
		if hi <= elo && p >= elo && p <= ehi {
			t.Errorf("port %d is in the ephemeral range %d-%d", p, elo, ehi)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Errorf("port %d is not bindable: %v", p, err)
			continue
		}
		l.Close()
	}
}

func TestPickSkipsBusyAndHandedOutPorts(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	// A one-port range holding only a busy port yields nothing.
	if p, err := pick(busy, busy+1, bindable); err == nil {
		t.Fatalf("pick in a range holding only busy port %d returned %d", busy, p)
	}
	// A port handed out once is not handed out again.
	p, err := Get(1)
	if err != nil {
		t.Fatal(err)
	}
	if q, err := pick(p[0], p[0]+1, bindable); err == nil {
		t.Fatalf("port %d handed out a second time", q)
	}
}

func TestPair(t *testing.T) {
	p, err := Pair(10)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []int{p, p + 10} {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(q))
		if err != nil {
			t.Fatalf("port %d of the pair is not bindable: %v", q, err)
		}
		l.Close()
	}
	handedOut.Lock()
	defer handedOut.Unlock()
	if !handedOut.m[p] || !handedOut.m[p+10] {
		t.Errorf("pair %d,%d not recorded as handed out", p, p+10)
	}
}

// Package freeport hands out loopback TCP ports for tests and benchmarks
// that must name a port before the process that binds it starts.
//
// Picking a port by listening on 127.0.0.1:0 and closing the listener is
// racy in a way that shows up under load: the kernel draws those ports from
// the same ephemeral range it uses for the source ports of outgoing
// connections, so while the test runs other tests' clients can be handed
// the very port a moment before the server binds it ("address already in
// use"). The ports handed out here are drawn at random from below that
// range, where the kernel never assigns anything by itself; only another
// process picking the same number in the same instant can collide, and a
// port is checked to be bindable before it is handed out.
package freeport

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// lowest is where the search starts: below it lie the well-known and
// commonly configured service ports (etcd's 2379/2380/4001, 8000, 8080...).
const lowest = 10000

var handedOut = struct {
	sync.Mutex
	m map[int]bool
}{m: map[int]bool{}}

// Get returns n distinct ports on 127.0.0.1 that are free now, outside
// the kernel's ephemeral range, and not handed out before by this process.
func Get(n int) ([]int, error) {
	lo, hi := searchRange()
	ports := make([]int, 0, n)
	for len(ports) < n {
		p, err := pick(lo, hi, func(p int) bool { return bindable(p) })
		if err != nil {
			return nil, err
		}
		ports = append(ports, p)
	}
	return ports, nil
}

// One returns one port as Get does.
func One() (int, error) {
	ports, err := Get(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// Pair returns a port p such that p and p+offset are both free, for
// programs that derive a second port from the first.
func Pair(offset int) (int, error) {
	lo, hi := searchRange()
	return pick(lo, hi-offset, func(p int) bool {
		handedOut.Lock()
		taken := handedOut.m[p+offset]
		handedOut.Unlock()
		if taken || !bindable(p) || !bindable(p+offset) {
			return false
		}
		handedOut.Lock()
		handedOut.m[p+offset] = true
		handedOut.Unlock()
		return true
	})
}

// pick draws random ports in [lo, hi) until ok accepts one that was not
// handed out before, and records it.
func pick(lo, hi int, ok func(int) bool) (int, error) {
	if hi <= lo {
		return 0, fmt.Errorf("freeport: empty search range [%d, %d)", lo, hi)
	}
	for range 1000 {
		p := lo + rand.IntN(hi-lo)
		handedOut.Lock()
		taken := handedOut.m[p]
		if !taken {
			handedOut.m[p] = true // claimed while it is checked
		}
		handedOut.Unlock()
		if taken {
			continue
		}
		if ok(p) {
			return p, nil
		}
		handedOut.Lock()
		delete(handedOut.m, p)
		handedOut.Unlock()
	}
	return 0, errors.New("freeport: no free port found on 127.0.0.1 after 1000 tries")
}

func bindable(p int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// searchRange is the part of [lowest, 65536) that the kernel does not use
// for ephemeral ports: below the range if there is room, else above it.
func searchRange() (lo, hi int) {
	elo, ehi := ephemeralRange()
	if elo-lowest >= 2000 {
		return lowest, elo
	}
	if 65536-(ehi+1) >= 2000 {
		return ehi + 1, 65536
	}
	// The ephemeral range covers nearly everything: fall back to it all.
	return lowest, 65536
}

// ephemeralRange reads Linux's ip_local_port_range; elsewhere, or if it
// cannot be read, it assumes the IANA range that BSDs and Windows use.
func ephemeralRange() (lo, hi int) {
	lo, hi = 49152, 65535
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return lo, hi
	}
	l, err1 := strconv.Atoi(f[0])
	h, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || l > h {
		return lo, hi
	}
	return l, h
}

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// client is one simulated client with its own transport, hence its own
// keep-alive connection. A client is used by one goroutine at a time.
type client struct {
	tr       *http.Transport
	formHdr  http.Header // for PUTs with a form body
	emptyHdr http.Header
	rng      *rand.Rand

	ok, errs int64
	lat      []time.Duration
}

// newClient makes a client; headerTimeout bounds the wait for a response
// (0: none, for long polls).
func newClient(seed uint64, headerTimeout time.Duration) *client {
	return &client{
		tr: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          1,
			MaxIdleConnsPerHost:   1,
			MaxConnsPerHost:       1,
			DisableCompression:    true,
			ResponseHeaderTimeout: headerTimeout,
			IdleConnTimeout:       time.Minute,
		},
		formHdr:  http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
		emptyHdr: http.Header{},
		rng:      rand.New(rand.NewPCG(seed, 0x6865636462656e63)),
	}
}

// do sends one request and reads the whole response. body nil means no body;
// the response body is kept in *out when out is not nil, else discarded.
func (c *client) do(ctx context.Context, method string, u *url.URL, body []byte, out *[]byte) (int, error) {
	req := &http.Request{
		Method:     method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     c.emptyHdr,
		Host:       u.Host,
	}
	if body != nil {
		req.Header = c.formHdr
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
	}
	resp, err := c.tr.RoundTrip(req.WithContext(ctx))
	if err != nil {
		return 0, err
	}
	if out != nil {
		*out, err = io.ReadAll(resp.Body)
	} else {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	resp.Body.Close()
	return resp.StatusCode, err
}

func (c *client) close() { c.tr.CloseIdleConnections() }

// keyURL is the URL of /v2/keys/<path> on the server at host.
func keyURL(host, path string) *url.URL {
	return &url.URL{Scheme: "http", Host: host, Path: "/v2/keys/" + path}
}

// hostOf is the host:port of a server's client URL.
func hostOf(s *server) string {
	u, err := url.Parse(s.url)
	if err != nil {
		panic(err) // the URLs are ours
	}
	return u.Host
}

// valueBody is the pre-encoded form body "value=..." with a value of size
// bytes that needs no escaping.
func valueBody(size int) []byte {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := []byte("value=")
	for i := range size {
		b = append(b, alphabet[i%len(alphabet)])
	}
	return b
}

// loopSpec describes a closed-loop run: each client sends its next request as
// soon as the previous response is read.
type loopSpec struct {
	clients int
	method  string
	body    []byte // nil for GET
	// next picks the URL of a client's next request; false ends that client.
	next func(c *client) (*url.URL, bool)
	// duration ends the run; 0 runs until every client's next says done.
	duration time.Duration
}

// runLoop runs spec against s and measures throughput, per-request latency
// and the server's CPU time. Only 2xx answers count as operations.
func runLoop(ctx context.Context, s *server, spec loopSpec) (measurement, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	host := hostOf(s)
	clients := make([]*client, spec.clients)
	for i := range clients {
		clients[i] = newClient(uint64(i), 30*time.Second)
		defer clients[i].close()
	}

	// Every client first opens its connection with an uncounted request,
	// then all start together.
	var (
		ready, done sync.WaitGroup
		stop        atomic.Bool
		start       = make(chan struct{})
		warmErr     atomic.Value
	)
	warmURL := &url.URL{Scheme: "http", Host: host, Path: "/version"}
	for _, c := range clients {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			_, err := c.do(ctx, http.MethodGet, warmURL, nil, nil)
			if err != nil {
				warmErr.Store(err)
			}
			ready.Done()
			select {
			case <-start:
			case <-ctx.Done():
				return
			}
			for !stop.Load() {
				u, ok := spec.next(c)
				if !ok {
					return
				}
				t := time.Now()
				code, err := c.do(ctx, spec.method, u, spec.body, nil)
				d := time.Since(t)
				switch {
				case ctx.Err() != nil:
					return
				case err != nil:
					c.errs++
					time.Sleep(10 * time.Millisecond) // no hot loop on a dead server
				case code >= 200 && code < 300:
					c.ok++
					c.lat = append(c.lat, d)
				default:
					c.errs++
				}
			}
		}()
	}
	ready.Wait()
	if err, _ := warmErr.Load().(error); err != nil {
		cancel()
		done.Wait()
		return measurement{}, fmt.Errorf("connecting to %s: %w", s.name, err)
	}

	cpu0, err := cpuTime(s.pid)
	if err != nil {
		cancel()
		done.Wait()
		return measurement{}, err
	}
	t0 := time.Now()
	close(start)
	if spec.duration > 0 {
		timer := time.NewTimer(spec.duration)
		finished := make(chan struct{})
		go func() { done.Wait(); close(finished) }()
		select {
		case <-timer.C:
		case <-ctx.Done():
		case <-finished:
		}
		timer.Stop()
		stop.Store(true)
	}
	done.Wait()
	elapsed := time.Since(t0)
	cpu1, err := cpuTime(s.pid)
	if err != nil {
		return measurement{}, err
	}
	if err := ctx.Err(); err != nil {
		return measurement{}, err
	}

	m := measurement{Server: s.name, Seconds: elapsed.Seconds()}
	var lat []time.Duration
	for _, c := range clients {
		m.Ops += c.ok
		m.Errors += c.errs
		lat = append(lat, c.lat...)
	}
	m.setLatency(lat)
	m.setRates(cpu1 - cpu0)
	if m.Ops == 0 {
		return m, errors.New("no request succeeded")
	}
	return m, nil
}

// runRandom is the put and get workload: clients request random keys among
// keys under prefix for d.
func runRandom(ctx context.Context, s *server, method string, clients, keys int, prefix string, body []byte, d time.Duration) (measurement, error) {
	urls := keyURLs(hostOf(s), prefix, keys)
	return runLoop(ctx, s, loopSpec{
		clients:  clients,
		method:   method,
		body:     body,
		duration: d,
		next: func(c *client) (*url.URL, bool) {
			return urls[c.rng.IntN(len(urls))], true
		},
	})
}

// runFill PUTs keys prefix/k0 … prefix/k<keys-1>, each once, from clients
// clients; it is the load workload and the preload of the get workload.
func runFill(ctx context.Context, s *server, clients, keys int, prefix string, body []byte) (measurement, error) {
	host := hostOf(s)
	var n atomic.Int64
	return runLoop(ctx, s, loopSpec{
		clients: clients,
		method:  http.MethodPut,
		body:    body,
		next: func(*client) (*url.URL, bool) {
			i := n.Add(1) - 1
			if i >= int64(keys) {
				return nil, false
			}
			return keyURL(host, prefix+"/k"+strconv.FormatInt(i, 10)), true
		},
	})
}

func keyURLs(host, prefix string, n int) []*url.URL {
	urls := make([]*url.URL, n)
	for i := range urls {
		urls[i] = keyURL(host, prefix+"/k"+strconv.Itoa(i))
	}
	return urls
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"hecd/cmd/internal/benchkit"
	"hecd/test/hecdproc"
)

// routePrefix is where the proxies read their routes: key
// routePrefix/<id> = host:port.
const routePrefix = "/v2/keys/app/servers/"

// storeClient writes routes into the store over the etcd v2 keys API.
type storeClient struct {
	base string
	c    *http.Client
}

func newStoreClient(base string) *storeClient {
	return &storeClient{base: base, c: &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 2,
		},
	}}
}

// put sets the route id to addr; it returns once the store has answered.
func (s *storeClient) put(ctx context.Context, id, addr string) error {
	return s.do(ctx, http.MethodPut, id, url.Values{"value": {addr}}.Encode(), http.StatusOK, http.StatusCreated)
}

// del removes the route id.
func (s *storeClient) del(ctx context.Context, id string) error {
	return s.do(ctx, http.MethodDelete, id, "", http.StatusOK)
}

func (s *storeClient) do(ctx context.Context, method, id, form string, want ...int) error {
	var body io.Reader
	if form != "" {
		body = strings.NewReader(form)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+routePrefix+id, body)
	if err != nil {
		return err
	}
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := s.c.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	for _, w := range want {
		if resp.StatusCode == w {
			return nil
		}
	}
	return fmt.Errorf("%s %s: %s: %s", method, routePrefix+id, resp.Status, strings.TrimSpace(string(b)))
}

// runTTR measures the time to route. A second hecd proxy with
// -default-backend none answers 503 to an unknown APPID; for each
// registration the route is PUT, and from the moment the store has
// answered the proxy is polled with that APPID until a request reaches
// the backend. The delay is taken when the 200 arrives, so it includes
// one request's round trip (well under a millisecond on loopback) and up
// to one poll interval. The key is then deleted.
func (b *bench) runTTR(ctx context.Context) (*ttrResult, error) {
	cfg := b.cfg
	t, err := b.fleet.startHecdProxy(ctx, cfg, "hecd proxy ttr", b.store.url, "none", b.backends)
	if err != nil {
		return nil, err
	}
	defer t.proc.stop()
	be := b.backends[0]
	c := newProbeClient()
	defer c.CloseIdleConnections()
	res := &ttrResult{Registrations: cfg.ttr, Poll: cfg.ttrPoll}
	started := time.Now()
	defer func() { res.Seconds = time.Since(started).Seconds(); res.summarize() }()
	for i := range cfg.ttr {
		id := fmt.Sprintf("ttr-%d", i)
		if i == 0 {
			// The measurement relies on an unknown id not being routed.
			code, body, err := probe(ctx, c, t.url, id)
			if err != nil {
				return res, fmt.Errorf("probing the ttr proxy: %w", err)
			}
			if code == http.StatusOK {
				return res, fmt.Errorf("the ttr proxy (-default-backend none) routed the unknown APPID %s: %d %q", id, code, body)
			}
		}
		if err := b.storeClient.put(ctx, id, be.addr); err != nil {
			return res, err
		}
		put := time.Now()
		deadline := put.Add(cfg.ttrTimeout)
		for {
			sent := time.Now()
			code, body, err := probe(ctx, c, t.url, id)
			res.Polls++
			if err == nil && code == http.StatusOK && body == be.name+"\n" {
				res.DelaysMs = append(res.DelaysMs, ms(time.Since(put)))
				break
			}
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			if time.Now().After(deadline) {
				res.TimedOut++
				break
			}
			time.Sleep(time.Until(sent.Add(cfg.ttrPoll)))
		}
		if err := b.storeClient.del(ctx, id); err != nil {
			return res, err
		}
		if (i+1)%100 == 0 || i+1 == cfg.ttr {
			res.summarize()
			progress("ttr %d/%d  p50 %s  p99 %s  max %s  timed out %d", i+1, cfg.ttr, benchkit.FmtMs(res.P50Ms), benchkit.FmtMs(res.P99Ms), benchkit.FmtMs(res.MaxMs), res.TimedOut)
		}
		if t.proc.hasExited() {
			return res, fmt.Errorf("the ttr proxy exited\n%s", benchkit.Tail(t.proc.log, 15))
		}
	}
	return res, nil
}

// churnLag is how many steps a churn route lives: step i adds churn-i and
// removes churn-(i-churnLag). At the default pace (10 ms a step) a route
// lives about 160 ms, so every table the proxy publishes during the churn
// holds a different handful of churn routes, not none: with a PUT
// directly followed by its DELETE, a settle window would see both and the
// proxy's table would never change.
const churnLag = 16

// churnLoad is wrk on the unchanged route with the CPU the proxy and the
// store used meanwhile.
type churnLoad struct {
	wrkResult
	ProxyCPUSeconds float64 `json:"proxy_cpu_seconds"`
	ProxyCPUPerReq  float64 `json:"proxy_cpu_us_per_req"`
	StoreCPUSeconds float64 `json:"store_cpu_seconds"`
}

// loadDuring runs wrk with APPID: app1 through the main hecd proxy from a
// second before work starts until a second after it ends (then wrk gets
// SIGINT, which makes it print its report), and reads the CPU time of
// the proxy and the store over that time.
func (b *bench) loadDuring(ctx context.Context, work func() error) (churnLoad, string, error) {
	t := b.targets["hecd"]
	var l churnLoad
	p0, err1 := hecdproc.CPUTicks(t.proc.pid())
	s0, err2 := hecdproc.CPUTicks(b.store.pid())
	if err := errors.Join(err1, err2); err != nil {
		return l, "", err
	}
	type wrkOut struct {
		res wrkResult
		raw string
		err error
	}
	stop := make(chan struct{})
	done := make(chan wrkOut, 1)
	go func() {
		r, raw, err := runWrk(ctx, b.cfg, wrkSpec{url: t.url, headers: []string{"APPID: app1"},
			duration: b.cfg.churnDuration + time.Minute, stop: stop})
		done <- wrkOut{r, raw, err}
	}()
	werr := sleepCtx(ctx, time.Second)
	if werr == nil {
		werr = work()
	}
	if werr == nil {
		werr = sleepCtx(ctx, time.Second)
	}
	close(stop)
	o := <-done
	l.wrkResult = o.res
	p1, err1 := hecdproc.CPUTicks(t.proc.pid())
	s1, err2 := hecdproc.CPUTicks(b.store.pid())
	if err := errors.Join(werr, o.err, err1, err2); err != nil {
		return l, o.raw, err
	}
	l.ProxyCPUSeconds = float64(p1-p0) / float64(b.hz)
	l.StoreCPUSeconds = float64(s1-s0) / float64(b.hz)
	if l.Requests > 0 {
		l.ProxyCPUPerReq = l.ProxyCPUSeconds * 1e6 / float64(l.Requests)
	}
	return l, o.raw, nil
}

// runChurn runs wrk on the unchanged route app1 through the main hecd
// proxy while routes are added and removed cfg.churn times, paced over
// cfg.churnDuration (or as fast as the store answers, if slower). The
// same wrk run without changes comes first, as the baseline that shows
// what the churn costs.
func (b *bench) runChurn(ctx context.Context) (*churnResult, error) {
	cfg := b.cfg
	t := b.targets["hecd"]
	be := b.backends[len(b.backends)-1]
	res := &churnResult{Changes: cfg.churn}

	var raw string
	var err error
	res.Baseline, raw, err = b.loadDuring(ctx, func() error { return sleepCtx(ctx, cfg.churnDuration) })
	if err != nil {
		return res, fmt.Errorf("baseline: %w", err)
	}
	if cfg.verbose {
		fmt.Fprint(os.Stderr, "hecd-proxybench: churn baseline wrk output:\n"+indent(raw))
	}
	progress("churn baseline: %.0f req/s  p99 %s  proxy CPU %.1f µs/req", res.Baseline.ReqPerSec, benchkit.FmtMs(res.Baseline.P99Ms), res.Baseline.ProxyCPUPerReq)

	id := func(i int) string { return fmt.Sprintf("churn-%d", i) }
	remove := func(i int) {
		if err := b.storeClient.del(ctx, id(i)); err != nil {
			res.StoreErrors++
			progress("churn: %v", err)
			return
		}
		res.Deletes++
	}
	changes := func() error {
		pace := cfg.churnDuration / time.Duration(cfg.churn)
		started := time.Now()
		defer func() { res.Seconds = time.Since(started).Seconds() }()
		for i := range cfg.churn {
			if err := sleepCtx(ctx, time.Until(started.Add(time.Duration(i)*pace))); err != nil {
				return err
			}
			if err := b.storeClient.put(ctx, id(i), be.addr); err != nil {
				res.StoreErrors++
				progress("churn: %v", err)
			} else {
				res.Puts++
			}
			if i >= churnLag {
				remove(i - churnLag)
			}
		}
		for i := max(0, cfg.churn-churnLag); i < cfg.churn; i++ {
			remove(i)
		}
		return ctx.Err()
	}
	res.Load, raw, err = b.loadDuring(ctx, changes)
	if cfg.verbose {
		fmt.Fprint(os.Stderr, "hecd-proxybench: churn wrk output:\n"+indent(raw))
	}
	if err != nil {
		return res, err
	}
	res.Pass = res.Load.Requests > 0 && res.Load.Errors() == 0 &&
		res.StoreErrors == 0 && res.Puts == res.Changes && res.Deletes == res.Changes
	if t.proc.hasExited() {
		return res, fmt.Errorf("hecd proxy exited during the churn\n%s", benchkit.Tail(t.proc.log, 15))
	}
	return res, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

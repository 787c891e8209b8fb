package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// watchSpec is the watch fan-out workload: watchers long-poll one key while
// a single writer PUTs it every interval for duration.
type watchSpec struct {
	watchers int
	interval time.Duration
	duration time.Duration
	key      string
	body     []byte
}

// delivery is one event as a watcher received it.
type delivery struct {
	index uint64
	at    time.Time
}

// keyEvent is the part of a v2 keys answer the bench needs.
type keyEvent struct {
	Node struct {
		ModifiedIndex uint64 `json:"modifiedIndex"`
	} `json:"node"`
}

func parseIndex(b []byte) (uint64, error) {
	var ev keyEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		return 0, err
	}
	if ev.Node.ModifiedIndex == 0 {
		return 0, fmt.Errorf("no modifiedIndex in %.200q", b)
	}
	return ev.Node.ModifiedIndex, nil
}

// runWatch measures the time from just before each PUT is sent to each
// watcher's receipt of its event, across all deliveries. An operation is one
// delivery; the server's CPU time runs from the first PUT until the last
// event has reached every watcher (or a grace period has passed).
func runWatch(ctx context.Context, s *server, spec watchSpec) (measurement, error) {
	host := hostOf(s)
	keyU := keyURL(host, spec.key)
	writer := newClient(1<<32, 30*time.Second)
	defer writer.close()

	// The current index of the key: watchers wait for the one after.
	var out []byte
	code, err := writer.do(ctx, http.MethodPut, keyU, spec.body, &out)
	if err != nil || code/100 != 2 {
		return measurement{}, fmt.Errorf("initial PUT of %s: status %d, %v", spec.key, code, err)
	}
	first, err := parseIndex(out)
	if err != nil {
		return measurement{}, err
	}

	wctx, stopWatchers := context.WithCancel(ctx)
	var (
		wg         sync.WaitGroup
		received   = make([][]delivery, spec.watchers)
		lastSeen   = make([]atomic.Uint64, spec.watchers)
		watchErrs  atomic.Int64
		maxRecords = int(spec.duration/spec.interval) + 16
	)
	for w := range spec.watchers {
		c := newClient(uint64(w)+1<<33, 0)
		defer c.close()
		received[w] = make([]delivery, 0, maxRecords)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var body []byte
			wait := first + 1
			for wctx.Err() == nil {
				u := *keyU
				u.RawQuery = "wait=true&waitIndex=" + strconv.FormatUint(wait, 10)
				code, err := c.do(wctx, http.MethodGet, &u, nil, &body)
				at := time.Now()
				if wctx.Err() != nil {
					return
				}
				var idx uint64
				if err == nil && code == http.StatusOK {
					idx, err = parseIndex(body)
				} else if err == nil {
					err = fmt.Errorf("status %d", code)
				}
				if err != nil {
					watchErrs.Add(1)
					time.Sleep(10 * time.Millisecond)
					continue
				}
				received[w] = append(received[w], delivery{idx, at})
				lastSeen[w].Store(idx)
				wait = idx + 1
			}
		}()
	}
	defer func() { stopWatchers(); wg.Wait() }()
	waitWatchers(ctx, writer, host, spec.watchers)

	// The writer: one PUT every interval; sent maps each event's index to the
	// time just before its PUT was sent.
	sent := make(map[uint64]time.Time)
	var writeErrs int64
	cpu0, err := cpuTime(s.pid)
	if err != nil {
		return measurement{}, err
	}
	t0 := time.Now()
	ticker := time.NewTicker(spec.interval)
	var last uint64
	for time.Since(t0) < spec.duration && ctx.Err() == nil {
		at := time.Now()
		code, err := writer.do(ctx, http.MethodPut, keyU, spec.body, &out)
		if err == nil && code/100 == 2 {
			var idx uint64
			if idx, err = parseIndex(out); err == nil {
				sent[idx], last = at, idx
			}
		}
		if err != nil || code/100 != 2 {
			writeErrs++
		}
		select {
		case <-ticker.C:
		case <-ctx.Done():
		}
	}
	ticker.Stop()

	// Wait until every watcher has the last event, for at most 2 s.
	grace := time.Now().Add(2 * time.Second)
	for ctx.Err() == nil && time.Now().Before(grace) {
		all := true
		for w := range lastSeen {
			if lastSeen[w].Load() < last {
				all = false
				break
			}
		}
		if all {
			break
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(t0)
	cpu1, err := cpuTime(s.pid)
	if err != nil {
		return measurement{}, err
	}
	stopWatchers()
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return measurement{}, err
	}

	m := measurement{Server: s.name, Seconds: elapsed.Seconds(), Writes: int64(len(sent))}
	var lat []time.Duration
	for _, ds := range received {
		for _, d := range ds {
			if at, ok := sent[d.index]; ok {
				lat = append(lat, d.at.Sub(at))
			}
		}
	}
	m.Ops = int64(len(lat))
	m.Missed = m.Writes*int64(spec.watchers) - m.Ops
	m.Errors = writeErrs + watchErrs.Load()
	m.setLatency(lat)
	m.setRates(cpu1 - cpu0)
	if m.Ops == 0 {
		return m, errors.New("no event was delivered")
	}
	return m, nil
}

// waitWatchers waits, for at most 3 s, until the server's store statistics
// count n watchers, so that the first PUT finds every watcher armed.
func waitWatchers(ctx context.Context, c *client, host string, n int) {
	u := &url.URL{Scheme: "http", Host: host, Path: "/v2/stats/store"}
	deadline := time.Now().Add(3 * time.Second)
	var out []byte
	for ctx.Err() == nil && time.Now().Before(deadline) {
		var st struct {
			Watchers int `json:"watchers"`
		}
		if code, err := c.do(ctx, http.MethodGet, u, nil, &out); err == nil && code == http.StatusOK &&
			json.Unmarshal(out, &st) == nil && st.Watchers >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

package docker_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"hecd/test/dockerimg"
)

// figuresContainers is how many containers the figures are taken over.
const figuresContainers = 100

// TestFigures measures, on the real Docker Engine, the figures the
// registrator's note quotes; it runs only with HECD_DOCKER_FIGURES=1 (it
// takes about four minutes):
//
//   - the time from "docker start" returning to the container answering
//     through the proxy, and from "docker stop" being issued to its route
//     leaving the store and the proxy answering 503, over 100 containers
//     started and stopped one at a time;
//   - the store writes per minute at rest with 100 containers, read as
//     the growth of X-Etcd-Index over a minute, and how many of them were
//     not TTL refreshes (a watch sees every write but refreshes).
//
// hecd runs with the registrator's default TTL (30 s, refreshed every
// 10 s) and resync (60 s), so the minute at rest includes a reconcile.
func TestFigures(t *testing.T) {
	if os.Getenv("HECD_DOCKER_FIGURES") != "1" {
		t.Skip("set HECD_DOCKER_FIGURES=1 to measure the figures (about four minutes)")
	}
	e := newEnv(t)
	p := ports(t, 3)
	const ttl, refresh, resync = 30 * time.Second, 10 * time.Second, 60 * time.Second
	h := e.startUp(t, upConfig{name: "figures", dataDir: filepath.Join(t.TempDir(), "data"), owner: "figures-" + e.run,
		client: p[0], peer: p[1], proxy: p[2], ttl: ttl.String(), resync: resync.String()})
	if !h.waitLog("registrator: owner", 10*time.Second) {
		t.Fatalf("the registrator did not start:\n%s", h.Log.String())
	}

	// Created up front and in parallel: creation is not what is measured.
	bs := make([]backend, figuresContainers)
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				bs[i] = e.create(t)
			}
		})
	}
	for i := range bs {
		work <- i
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		return
	}

	c := newClient()
	var routable, startCmd []time.Duration
	for _, b := range bs {
		began := time.Now()
		dockerimg.Docker(t, "start", b.id)
		startCmd = append(startCmd, time.Since(began))
		routable = append(routable, waitRoutable(t, c, h.proxyURL, b, time.Now(), 10*time.Second))
	}
	e.routes(t, h.storeURL, "figures-"+e.run, bs...)
	if t.Failed() {
		return
	}

	// At rest: let the starts' refresh phases pass, then count a minute.
	time.Sleep(2 * time.Second)
	from := storeIndex(t, h.storeURL)
	stopFollowing := follow(h.storeURL, from+1)
	began := time.Now()
	time.Sleep(time.Minute)
	to := storeIndex(t, h.storeURL)
	window := time.Since(began)
	events, err := stopFollowing()
	if err != nil {
		t.Fatalf("watching the store during the minute at rest: %v", err)
	}
	var visible []string
	for _, ev := range events {
		if ev.Node.ModifiedIndex <= to {
			visible = append(visible, ev.Action+" "+ev.Node.Key)
		}
	}
	writes := float64(to-from) * float64(time.Minute) / float64(window)
	keys := 2 * figuresContainers // a route and an ownership record each
	expected := float64(keys) * float64(time.Minute) / float64(refresh)

	var gone, proxyGone, stopCmd []time.Duration
	for _, b := range bs {
		issued := time.Now()
		dockerimg.Docker(t, "stop", b.id)
		stopCmd = append(stopCmd, time.Since(issued))
		s, p := waitGone(t, h, b, issued, 15*time.Second)
		gone, proxyGone = append(gone, s), append(proxyGone, p)
	}

	row := func(name string, d []time.Duration) string {
		return fmt.Sprintf("  %-46s p50 %7v  p90 %7v  p99 %7v  max %7v\n", name,
			percentile(d, 50).Round(100*time.Microsecond), percentile(d, 90).Round(100*time.Microsecond),
			percentile(d, 99).Round(100*time.Microsecond), percentile(d, 100).Round(100*time.Microsecond))
	}
	var out strings.Builder
	fmt.Fprintf(&out, "hecd up on Docker Engine, %d containers (scratch image, internal mode), ttl %v, refresh %v, resync %v\n",
		figuresContainers, ttl, refresh, resync)
	out.WriteString(row("docker start returned -> routable via proxy", routable))
	out.WriteString(row("(docker start command itself)", startCmd))
	out.WriteString(row("docker stop issued -> route gone from store", gone))
	out.WriteString(row("docker stop issued -> proxy answers 503", proxyGone))
	out.WriteString(row("(docker stop command itself)", stopCmd))
	fmt.Fprintf(&out, "  at rest with %d containers (%d keys): %.0f store writes/minute (X-Etcd-Index %d -> %d over %v); TTL refreshes alone would be %.0f; writes a watch sees: %d %v\n",
		figuresContainers, keys, writes, from, to, window.Round(time.Millisecond), expected, len(visible), visible)
	t.Log("\n" + out.String())

	if len(visible) > 0 {
		t.Errorf("at rest the registrator made %d writes other than TTL refreshes: %v", len(visible), visible)
	}
}

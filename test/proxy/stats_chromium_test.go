// Package proxy_test runs the real hecd binary as "hecd proxy" against a
// real hecd store and real backends on loopback, and opens its stats page
// in a real headless Chromium.
package proxy_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"hecd/test/hecdproc"
)

func chromiumPath() string {
	for _, p := range []string{"chromium", "chromium-browser", "/usr/bin/chromium"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	return ""
}

// TestStatsPageInChromium logs in to the stats page in a real headless
// Chromium, sees a backend row per registered key, drains a server through
// the admin form and sees routing change.
func TestStatsPageInChromium(t *testing.T) {
	chrome := chromiumPath()
	if chrome == "" {
		t.Skip("chromium is not installed (Debian package chromium): skipping the stats page test")
	}
	store := hecdproc.StartStore(t, "stats-test")
	a, b := startBackend(t, "app1"), startBackend(t, "app2")
	put(t, store.URL, "/app/servers/app1", a.addr)
	put(t, store.URL, "/app/servers/app2", b.addr)

	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret-for-tests"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(t.TempDir(), "admins")
	if err := os.WriteFile(htpasswd, []byte("admin:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	statsAddr := freeAddr(t)
	proxyAddr, proxyProc := startProxy(t, store.URL, "-default-backend", "all",
		"-stats-listen", statsAddr, "-stats-admin-htpasswd", htpasswd, "-check-inter", "200ms")

	// Both servers take the default backend's round robin.
	seen := map[string]bool{}
	waitFor(t, 10*time.Second, "both backends behind the default backend", func() bool {
		if _, body, err := get(proxyAddr, ""); err == nil {
			seen[body] = true
		}
		return seen["app1"] && seen["app2"]
	})

	// No credentials, no page.
	resp, err := http.Get("http://" + statsAddr + "/admin-status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("stats page without credentials: %s, want 401", resp.Status)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.WindowSize(1600, 1000),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTimeout()

	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:s3cret-for-tests"))
	page := "http://" + statsAddr + "/admin-status"
	err = chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
			if _, err := cdp.Call(ctx, tgt, network.Enable, network.EnableParams{}); err != nil {
				return err
			}
			_, err := cdp.Call(ctx, tgt, network.SetExtraHTTPHeaders,
				network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}})
			return err
		}),
		chromedp.Navigate(page),
		chromedp.WaitVisible(chromedp.CSS("form")),
	)
	if err != nil {
		t.Fatalf("loading the stats page in chromium: %v\nproxy log:\n%s", err, proxyProc.Log.String())
	}
	text := run(t, ctx, chromedp.Text(chromedp.CSS("body")))
	before := run(t, ctx, chromedp.FullScreenshot(100))
	for _, want := range []string{"app1", "app2", "default_backend", "FRONTEND", "BACKEND"} {
		if !strings.Contains(text, want) {
			t.Errorf("the page lacks %q:\n%s", want, text)
		}
	}
	// A server row for each route, and for each in the default backend.
	if rows := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('input[type=checkbox][name=s]').length`)); rows != 4 {
		t.Errorf("%d server checkboxes, want 4 (app1 and app2 in their own backends and in default_backend)", rows)
	}

	// Drain app1 in the default backend through the form.
	form := `form:has(input[name=b][value="default_backend"])`
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(form+` input[name=s][value="app1"]`)),
		chromedp.SetValue(chromedp.CSS(form+` select[name=action]`), "drain"),
		chromedp.Click(chromedp.CSS(form+` input[type=submit]`)),
	)
	if err != nil {
		t.Fatalf("draining through the form: %v", err)
	}
	waitFor(t, 10*time.Second, "the page after the admin action", func() bool {
		return strings.Contains(run(t, ctx, chromedp.Location()), ";st=")
	})
	if location := run(t, ctx, chromedp.Location()); !strings.Contains(location, ";st=DONE") {
		t.Errorf("after the admin action the page is %s, want ;st=DONE", location)
	}
	run(t, ctx, chromedp.Steps(chromedp.WaitVisible(chromedp.CSS("form"))))
	after := run(t, ctx, chromedp.FullScreenshot(100))
	dir := t.ArtifactDir()
	for name, img := range map[string][]byte{"stats-before-drain.png": before, "stats-after-drain.png": after} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, img, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}

	// Routing changed: the default backend now sends everything to app2,
	// while app1 still answers requests routed to it by APPID.
	for i := 0; i < 20; i++ {
		code, body, err := get(proxyAddr, "")
		if err != nil || code != 200 || body != "app2" {
			t.Fatalf("request %d without APPID after draining app1: %d %q %v", i, code, body, err)
		}
	}
	if code, body, err := get(proxyAddr, "app1"); err != nil || code != 200 || body != "app1" {
		t.Errorf("APPID app1 after the drain: %d %q %v (a drained server still takes its own route)", code, body, err)
	}
}

// run runs one chromedp action and fails the test on error.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return v
}

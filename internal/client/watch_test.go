package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestWatch covers watches from an index, waiting watches, recursion,
// deletes and a cleared index, on both servers.
func TestWatch(t *testing.T) {
	forEachServer(t, func(t *testing.T, s testServer) {
		ctx := testContext(t)
		c := newClient(t, Config{Endpoints: []string{s.url}})
		p := s.prefix
		set := func(key, value string) *Response {
			t.Helper()
			r, err := c.Set(ctx, key, value, SetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		// watchAsync starts a watch once the server counts it, so that a
		// write after it is a live event.
		watchAsync := func(key string, opts WatchOptions) <-chan *Response {
			t.Helper()
			before := watchers(t, s.url)
			ch := make(chan *Response, 1)
			go func() {
				r, err := c.Watch(ctx, key, opts)
				if err != nil {
					t.Errorf("watch %s: %v", key, err)
				}
				ch <- r
			}()
			waitWatchers(t, s.url, before)
			return ch
		}

		t.Run("from an index", func(t *testing.T) {
			r1 := set(p+"/k", "1")
			r2 := set(p+"/k", "2")
			set(p+"/k", "3")
			r, err := c.Watch(ctx, p+"/k", WatchOptions{AfterIndex: r1.Node.ModifiedIndex})
			if err != nil {
				t.Fatal(err)
			}
			if r.Action != "set" || r.Node.Value != "2" || r.Node.ModifiedIndex != r2.Node.ModifiedIndex || r.PrevNode.Value != "1" {
				t.Fatalf("got %s %+v prev %+v", r.Action, r.Node, r.PrevNode)
			}
			if r.Index < r.Node.ModifiedIndex {
				t.Errorf("X-Etcd-Index %d of a watch answered from history", r.Index)
			}
		})
		t.Run("waits for the next event", func(t *testing.T) {
			ch := watchAsync(p+"/w", WatchOptions{})
			w := set(p+"/w", "live")
			r := <-ch
			if r == nil || r.Node.Value != "live" || r.Node.ModifiedIndex != w.Node.ModifiedIndex {
				t.Fatalf("got %+v", r)
			}
		})
		t.Run("recursive", func(t *testing.T) {
			r0 := set(p+"/d/first", "x")
			ch := watchAsync(p+"/d", WatchOptions{Recursive: true})
			set(p+"/d/x/y", "deep")
			r := <-ch
			if r == nil || r.Node.Key != p+"/d/x/y" {
				t.Fatalf("got %+v", r)
			}
			// From an index, the history scan finds the first child write.
			r, err := c.Watch(ctx, p+"/d", WatchOptions{AfterIndex: r0.Node.ModifiedIndex - 1, Recursive: true})
			if err != nil || r.Node.Key != p+"/d/first" {
				t.Fatalf("got %+v %v", r, err)
			}
		})
		t.Run("delete", func(t *testing.T) {
			set(p+"/del", "gone")
			ch := watchAsync(p+"/del", WatchOptions{})
			if _, err := c.Delete(ctx, p+"/del", DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			r := <-ch
			if r == nil || r.Action != "delete" || r.PrevNode.Value != "gone" {
				t.Fatalf("got %+v", r)
			}
		})
		t.Run("cancel", func(t *testing.T) {
			before := watchers(t, s.url)
			wctx, cancel := context.WithCancel(ctx)
			errc := make(chan error, 1)
			go func() {
				_, err := c.Watch(wctx, p+"/never", WatchOptions{})
				errc <- err
			}()
			waitWatchers(t, s.url, before)
			cancel()
			select {
			case err := <-errc:
				if err != context.Canceled {
					t.Fatalf("got %v, want context.Canceled", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the watch did not end after its context was cancelled")
			}
			// The server lets the watcher go.
			wait(t, 5*time.Second, func() bool { return watchers(t, s.url) <= before })
		})
		t.Run("index cleared", func(t *testing.T) {
			if s.kind == "etcd" && testing.Short() {
				t.Skip("1001 writes to etcd are slow; not in -short mode")
			}
			r0 := set(p+"/old", "x")
			for i := range 1001 {
				set(p+"/many", fmt.Sprint(i))
			}
			_, err := c.Watch(ctx, p+"/old", WatchOptions{AfterIndex: r0.Node.ModifiedIndex})
			var e *Error
			if !IsIndexCleared(err) || !errors.As(err, &e) {
				t.Fatalf("got %v, want error 401", err)
			}
			if e.Index < r0.Node.ModifiedIndex+1001 || !strings.Contains(e.Cause, "the requested history has been cleared") {
				t.Fatalf("error %+v", e)
			}
		})
	})
}

// wait polls cond until it holds or timeout passes.
func wait(t testing.TB, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWatchRetries checks that a watch the server ends without an event
// (an empty body, or a connection cut off after the headers) is asked
// again from the same point.
func TestWatchRetries(t *testing.T) {
	tests := []struct {
		name       string
		afterIndex uint64
		cut        bool     // cut the connection instead of ending the body
		wantWaits  []string // waitIndex of each request
	}{
		{"from now: continue at the registration index", 0, false, []string{"", "42", "42"}},
		{"from an index", 7, false, []string{"8", "8", "8"}},
		{"connection cut", 7, true, []string{"8", "8", "8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var waits []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("wait") != "true" || r.URL.Query().Get("recursive") != "true" {
					t.Errorf("request %s", r.URL)
				}
				mu.Lock()
				waits = append(waits, r.URL.Query().Get("waitIndex"))
				n := len(waits)
				mu.Unlock()
				w.Header().Set("X-Etcd-Index", "41")
				w.Header().Set("Content-Type", "application/json")
				if n < 3 {
					w.WriteHeader(http.StatusOK)
					w.(http.Flusher).Flush()
					if tt.cut {
						fmt.Fprint(w, `{"action":"se`) // half an event
						w.(http.Flusher).Flush()
						panic(http.ErrAbortHandler)
					}
					return
				}
				fmt.Fprintln(w, `{"action":"set","node":{"key":"/d/k","value":"v","modifiedIndex":50,"createdIndex":50}}`)
			}))
			defer srv.Close()
			c := newClient(t, Config{Endpoints: []string{srv.URL}})
			r, err := c.Watch(testContext(t), "/d", WatchOptions{AfterIndex: tt.afterIndex, Recursive: true})
			if err != nil || r.Node.ModifiedIndex != 50 {
				t.Fatalf("got %+v %v", r, err)
			}
			if fmt.Sprint(waits) != fmt.Sprint(tt.wantWaits) {
				t.Fatalf("waitIndex per request %q, want %q", waits, tt.wantWaits)
			}
		})
	}
}

package proxy_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"hecd/test/hecdproc"
)

// TestRouteDrainTimeout removes a route while requests hold it. By
// default they finish (spec D.1: drain timeout 0 = unlimited); with
// -route-drain-timeout they are cut that long after the route left.
func TestRouteDrainTimeout(t *testing.T) {
	store := hecdproc.StartStore(t, "drain-test")
	release := make(chan struct{})
	held := make(chan struct{}, 4)
	addr := startHandler(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Hold") != "" {
			held <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "done")
	})
	put(t, store.URL, "/app/servers/d1", addr)
	const drain = 300 * time.Millisecond
	patient, _ := startProxy(t, store.URL, "-default-backend", "none")
	strict, _ := startProxy(t, store.URL, "-default-backend", "none", "-route-drain-timeout", drain.String())
	waitRoute(t, patient, "d1", "done", 10*time.Second)
	waitRoute(t, strict, "d1", "done", 10*time.Second)

	type result struct {
		body string
		err  error
		at   time.Time
	}
	hold := func(proxyAddr string) <-chan result {
		out := make(chan result, 1)
		go func() {
			req, _ := http.NewRequest("GET", "http://"+proxyAddr+"/", nil)
			req.Header.Set("APPID", "d1")
			req.Header.Set("X-Hold", "1")
			resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
			if err != nil {
				out <- result{err: err, at: time.Now()}
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			out <- result{body: string(b), err: err, at: time.Now()}
		}()
		return out
	}
	onPatient, onStrict := hold(patient), hold(strict)
	for range 2 {
		select {
		case <-held:
		case <-time.After(10 * time.Second):
			t.Fatal("the backend did not get both held requests")
		}
	}
	del(t, store.URL, "/app/servers/d1")
	deleted := time.Now()
	// The route is gone for new requests on both proxies.
	waitRoute(t, patient, "d1", "503", 5*time.Second)
	waitRoute(t, strict, "d1", "503", 5*time.Second)

	select {
	case r := <-onStrict:
		took := r.at.Sub(deleted)
		t.Logf("the held request on the strict proxy ended %v after the delete: %v", took.Round(time.Millisecond), r.err)
		if r.err == nil {
			t.Errorf("the held request got a whole response %q; want it cut", r.body)
		}
		if took < drain {
			t.Errorf("cut %v after the delete, before the %v drain timeout", took, drain)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("the held request on the strict proxy still runs 5s after the delete (drain timeout %v)", drain)
	}
	select {
	case r := <-onPatient:
		t.Fatalf("the held request on the default proxy ended before its response: %q %v", r.body, r.err)
	case <-time.After(drain):
	}
	close(release)
	select {
	case r := <-onPatient:
		if r.err != nil || r.body != "done" {
			t.Errorf("the held request on the default proxy: %q %v, want it to finish", r.body, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the held request on the default proxy did not finish after its release")
	}
}

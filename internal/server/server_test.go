package server_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"hecd/internal/server/servertest"
)

func do(t *testing.T, method, u string, form url.Values) (int, http.Header, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestSetGetRestart(t *testing.T) {
	cfg := servertest.Config(t, t.TempDir())
	m := servertest.Start(t, cfg)
	code, hdr, body := do(t, "PUT", m.URL+"/v2/keys/message", url.Values{"value": {"Hello world"}})
	if code != 201 || body != `{"action":"set","node":{"key":"/message","value":"Hello world","modifiedIndex":4,"createdIndex":4}}`+"\n" {
		t.Fatalf("set: %d %q", code, body)
	}
	if hdr.Get("X-Etcd-Index") != "4" {
		t.Fatalf("X-Etcd-Index %q", hdr.Get("X-Etcd-Index"))
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m2 := servertest.Start(t, cfg)
	code, hdr, body = do(t, "GET", m2.URL+"/v2/keys/message", nil)
	if code != 200 || body != `{"action":"get","node":{"key":"/message","value":"Hello world","modifiedIndex":4,"createdIndex":4}}`+"\n" {
		t.Fatalf("get after restart: %d %q", code, body)
	}
	if hdr.Get("X-Etcd-Index") != "5" {
		t.Fatalf("X-Etcd-Index after restart %q, want 5 (restart consumes one index)", hdr.Get("X-Etcd-Index"))
	}
}

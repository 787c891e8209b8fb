package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"hecd/internal/store"
)

// directCluster applies writes to the store at once: the API's own
// behaviour is under test here, replication is tested in cluster/server.
type directCluster struct{ st *store.Store }

func (d *directCluster) Propose(_ context.Context, w *store.Request) (Result, error) {
	ev, e := d.st.Apply(w)
	return Result{Event: ev, Err: e, RaftIndex: 10, RaftTerm: 2}, nil
}
func (d *directCluster) QuorumRead(context.Context) error { return nil }
func (d *directCluster) RaftStatus() (uint64, uint64)     { return 10, 2 }
func (d *directCluster) ClusterID() uint64                { return 0xabc }
func (d *directCluster) Members() []Member {
	return []Member{{ID: 0x1234, Name: "m", PeerURLs: []string{"http://127.0.0.1:2380"}, ClientURLs: []string{"http://127.0.0.1:2379"}}}
}
func (d *directCluster) Leader() (Member, bool)                               { return d.Members()[0], true }
func (d *directCluster) Self() Member                                         { return d.Members()[0] }
func (d *directCluster) UpdateMember(context.Context, uint64, []string) error { return nil }
func (d *directCluster) AddMember(context.Context, []string) (Member, error)  { return Member{}, nil }
func (d *directCluster) RemoveMember(context.Context, uint64) error           { return nil }
func (d *directCluster) Removed(uint64) bool                                  { return false }
func (d *directCluster) SelfStats() SelfStats                                 { return SelfStats{State: "StateLeader"} }

func newTestHandler(cors ...string) *Handler {
	st := store.New()
	st.Apply(&store.Request{Op: store.OpMemberBootstrap})
	fixed := time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC)
	return New(Config{Store: st, Cluster: &directCluster{st: st}, CORS: cors, Clock: func() time.Time { return fixed }})
}

func serve(h http.Handler, method, target, body string, hdr map[string]string) *httptest.ResponseRecorder {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestCORS(t *testing.T) {
	tests := []struct {
		name       string
		cors       []string
		origin     string
		method     string
		wantOrigin string // "" means no CORS headers at all
	}{
		{"default sends none", nil, "", "GET", ""},
		{"default sends none even with Origin", nil, "http://evil.example", "GET", ""},
		{"default OPTIONS has none", nil, "http://evil.example", "OPTIONS", ""},
		{"star always", []string{"*"}, "", "GET", "*"},
		{"star on OPTIONS", []string{"*"}, "http://a.example", "OPTIONS", "*"},
		{"listed origin echoed", []string{"http://a.example"}, "http://a.example", "GET", "http://a.example"},
		{"unlisted origin gets none", []string{"http://a.example"}, "http://b.example", "GET", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHandler(tt.cors...)
			hdr := map[string]string{}
			if tt.origin != "" {
				hdr["Origin"] = tt.origin
			}
			rec := serve(h, tt.method, "/v2/keys/", "", hdr)
			got := rec.Header().Get("Access-Control-Allow-Origin")
			if got != tt.wantOrigin {
				t.Fatalf("Access-Control-Allow-Origin = %q, want %q", got, tt.wantOrigin)
			}
			methods := rec.Header().Get("Access-Control-Allow-Methods")
			if (tt.wantOrigin != "") != (methods == "POST, GET, OPTIONS, PUT, DELETE") {
				t.Fatalf("Access-Control-Allow-Methods = %q", methods)
			}
			if tt.method == "OPTIONS" && (rec.Code != 200 || rec.Body.Len() != 0) {
				t.Fatalf("OPTIONS: %d %q", rec.Code, rec.Body.String())
			}
		})
	}
}

func TestRedirectKeepsMethod(t *testing.T) {
	h := newTestHandler()
	for _, tt := range []struct{ method, target, loc, body string }{
		{"PUT", "/v2/keys/a//b?x=1", "/v2/keys/a/b?x=1", ""},
		{"GET", "/v2/keys/a/./b", "/v2/keys/a/b", "<a href=\"/v2/keys/a/b\">Temporary Redirect</a>.\n\n"},
		{"DELETE", "/v2/keys/a/../m", "/v2/keys/m", ""},
	} {
		rec := serve(h, tt.method, tt.target, "", nil)
		if rec.Code != http.StatusTemporaryRedirect || rec.Header().Get("Location") != tt.loc || rec.Body.String() != tt.body {
			t.Errorf("%s %s: %d Location=%q body=%q", tt.method, tt.target, rec.Code, rec.Header().Get("Location"), rec.Body.String())
		}
	}
	// Nothing was executed by the redirected requests.
	if rec := serve(h, "GET", "/v2/keys/?recursive=true", "", nil); rec.Body.String() != `{"action":"get","node":{"dir":true}}`+"\n" {
		t.Fatalf("store changed by a redirect: %s", rec.Body.String())
	}
}

func TestKeysAnswers(t *testing.T) {
	h := newTestHandler()
	steps := []struct {
		method, target, body string
		code                 int
		index                string
		want                 string
	}{
		{"PUT", "/v2/keys/message", "value=Hello+world", 201, "4",
			`{"action":"set","node":{"key":"/message","value":"Hello world","modifiedIndex":4,"createdIndex":4}}` + "\n"},
		{"PUT", "/v2/keys/message?noValueOnSuccess=true", "value=x", 200, "5", `{"action":"set"}` + "\n"},
		{"PUT", "/v2/keys/t", "value=v&ttl=5", 201, "6",
			`{"action":"set","node":{"key":"/t","value":"v","expiration":"2026-11-22T04:00:05Z","ttl":5,"modifiedIndex":6,"createdIndex":6}}` + "\n"},
		{"PUT", "/v2/keys/message?prevExist=false", "value=y", 412, "6",
			`{"errorCode":105,"message":"Key already exists","cause":"/message","index":6}` + "\n"},
		{"POST", "/v2/keys/message?wait=true", "", 400, "0",
			`{"errorCode":209,"message":"Invalid field","cause":"\"wait\" can only be used with GET requests","index":0}` + "\n"},
		{"PATCH", "/v2/keys/message", "", 405, "", "Method Not Allowed\n"},
		{"GET", "/v2/nosuch", "", 404, "", "404 page not found\n"},
		{"GET", "/v2/keys/message/deeper", "", 400, "6",
			`{"errorCode":104,"message":"Not a directory","cause":"/message","index":6}` + "\n"},
		{"DELETE", "/v2/keys/message?prevValue=x", "", 200, "7",
			`{"action":"compareAndDelete","node":{"key":"/message","modifiedIndex":7,"createdIndex":5},"prevNode":{"key":"/message","value":"x","modifiedIndex":5,"createdIndex":5}}` + "\n"},
	}
	for _, s := range steps {
		rec := serve(h, s.method, s.target, s.body, nil)
		if rec.Code != s.code || rec.Body.String() != s.want || rec.Header().Get("X-Etcd-Index") != s.index {
			t.Errorf("%s %s: got %d X-Etcd-Index=%q %q\nwant %d %q %q", s.method, s.target, rec.Code, rec.Header().Get("X-Etcd-Index"), rec.Body.String(), s.code, s.index, s.want)
		}
	}
}

func TestWatchEndsOnShutdown(t *testing.T) {
	h := newTestHandler()
	srv := httptest.NewServer(h)
	defer srv.Close()
	done := make(chan string)
	go func() {
		resp, err := http.Get(srv.URL + "/v2/keys/never?wait=true")
		if err != nil {
			done <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- resp.Status + " " + string(b)
	}()
	time.Sleep(100 * time.Millisecond)
	h.Shutdown()
	select {
	case got := <-done:
		if got != "200 OK " {
			t.Fatalf("watch after shutdown: %q, want an empty 200", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not end on shutdown")
	}
}

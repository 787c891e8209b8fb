package clients

// Shared helpers: starting hecd and a reference etcd as separate processes
// on free loopback ports (with test/hecdproc), and their member id.

import (
	"encoding/json"
	"net/http"
	"os"
	"testing"

	"hecd/test/hecdproc"
)

func TestMain(m *testing.M) {
	code := m.Run()
	hecdproc.Cleanup()
	os.Exit(code)
}

// server is a store running as a separate process.
type server struct {
	Kind    string // "hecd" or "etcd"
	Name    string // member name
	URL     string // client URL
	PeerURL string
	ID      string // member id, as /v2/members reports it
}

// startHecd runs the built hecd as "hecd store" on free loopback ports,
// exactly as the brief's command line, and stops it when the test ends.
func startHecd(t testing.TB) *server {
	t.Helper()
	st := hecdproc.StartStore(t, "t")
	s := &server{Kind: "hecd", Name: st.Name, URL: st.URL, PeerURL: st.PeerURL}
	s.ID = memberID(t, s.URL)
	return s
}

// startReference starts a real etcd 3.4 with <shared>/spec/etcd-reference.sh.
func startReference(t testing.TB) *server {
	t.Helper()
	script, err := hecdproc.ReferenceScript()
	if err != nil {
		t.Fatalf("reference etcd script: %v", err)
	}
	r, err := hecdproc.StartReference(script)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Log(err)
		}
	})
	s := &server{Kind: "etcd", Name: "ref", URL: r.URL, PeerURL: r.PeerURL}
	s.ID = memberID(t, s.URL)
	return s
}

// memberID returns the id of the only member.
func memberID(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/v2/members")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ms struct {
		Members []struct {
			ID string `json:"id"`
		} `json:"members"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ms); err != nil {
		t.Fatalf("GET %s/v2/members: %v", url, err)
	}
	if len(ms.Members) != 1 || ms.Members[0].ID == "" {
		t.Fatalf("GET %s/v2/members: %+v, want one member", url, ms)
	}
	return ms.Members[0].ID
}

package server_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

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

// dirSize is the bytes held by the files below dir.
func dirSize(t *testing.T, dir string) int64 {
	var total int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total
}

// TestSnapshotsBoundTheDataDir writes the snapshot count many times over:
// snapshots and log truncation keep the data directory bounded, and a
// restart from the snapshot restores keys, index and the event history.
func TestSnapshotsBoundTheDataDir(t *testing.T) {
	cfg := servertest.Config(t, t.TempDir())
	cfg.SnapshotCount = 500
	cfg.LogSegmentSize = 128 << 10
	m := servertest.Start(t, cfg)
	value := strings.Repeat("x", 100)
	const keys, rounds, perRound = 100, 8, 2500 // 20000 writes, about 4 MB of log
	var sizes []int64
	for r := 0; r < rounds; r++ {
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := w; i < perRound; i += 8 {
					code, _, body := do(t, "PUT", m.URL+"/v2/keys/k/"+strconv.Itoa(i%keys), url.Values{"value": {value + strconv.Itoa(r)}})
					if code != 200 && code != 201 {
						t.Errorf("write: %d %s", code, body)
						return
					}
				}
			}(w)
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		time.Sleep(2500 * time.Millisecond) // raft looks every 2 s
		sizes = append(sizes, dirSize(t, cfg.DataDir))
	}
	t.Logf("data dir size after each %d writes: %v", perRound, sizes)
	// A snapshot holds 100 keys and the 1000-event history (about 300 kB);
	// two are kept, plus the trailing log and a few 128 kB segments. The
	// log written in total is about 4 MB: without truncation the
	// directory would grow past that.
	for _, size := range sizes {
		if size > 3<<19 {
			t.Fatalf("data dir reached %d bytes; snapshots are not bounding it (sizes %v)", size, sizes)
		}
	}
	snaps, _ := os.ReadDir(filepath.Join(cfg.DataDir, "snapshots"))
	if len(snaps) == 0 || len(snaps) > 2 {
		t.Fatalf("%d snapshots retained, want 1 or 2", len(snaps))
	}
	_, hdr, _ := do(t, "GET", m.URL+"/v2/keys/", nil)
	before, _ := strconv.Atoi(hdr.Get("X-Etcd-Index"))
	m.Close()

	m2 := servertest.Start(t, cfg)
	code, hdr, body := do(t, "GET", m2.URL+"/v2/keys/k/7", nil)
	if code != 200 || !strings.Contains(body, `"value":"`+value+strconv.Itoa(rounds-1)+`"`) {
		t.Fatalf("after restart: %d %.200s", code, body)
	}
	if got := hdr.Get("X-Etcd-Index"); got != strconv.Itoa(before+1) {
		t.Fatalf("X-Etcd-Index after restart %s, want %d", got, before+1)
	}
	// The last writes are still in the event history.
	code, _, body = do(t, "GET", m2.URL+"/v2/keys/k?recursive=true&wait=true&waitIndex="+strconv.Itoa(before-5), nil)
	if code != 200 || !strings.Contains(body, `"modifiedIndex":`+strconv.Itoa(before-5)) {
		t.Fatalf("history after restart: %d %.200s", code, body)
	}
}

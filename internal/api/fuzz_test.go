package api

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"hecd/internal/store"
)

var fzMethods = []string{"GET", "HEAD", "PUT", "POST", "DELETE"}

// fzCTs are well-formed Content-Types (malformed ones are covered by
// TestParamsMalformedContentType).
var fzCTs = []string{"", "application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-8",
	"text/plain", "application/json", "multipart/form-data; boundary=x"}

// fzGoldenDir finds the golden transcripts: walk up to go.mod, then
// ../shared/spec/etcd-v2-golden.
func fzGoldenDir() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			g := filepath.Join(dir, "..", "shared", "spec", "etcd-v2-golden")
			if st, err := os.Stat(g); err == nil && st.IsDir() {
				return g, true
			}
			return "", false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// fzSeed is one request line of a transcript.
type fzSeed struct {
	method      byte
	path, query string
	body        string
	ct          byte
}

// fzCurlBody turns "curl -d a=b -d c=d" into a form body; ok is false for
// anything it does not understand (quotes, files, headers, -F).
func fzCurlBody(line string) (body string, ok bool) {
	f := strings.Fields(strings.TrimSpace(line))
	if len(f) == 0 || f[0] != "curl" || strings.ContainsAny(line, `'"@\`) {
		return "", false
	}
	var parts []string
	for i := 1; i < len(f); i++ {
		switch f[i] {
		case "-d":
			if i+1 >= len(f) {
				return "", false
			}
			parts = append(parts, f[i+1])
			i++
		case "--data-urlencode":
			if i+1 >= len(f) {
				return "", false
			}
			name, value, _ := strings.Cut(f[i+1], "=")
			parts = append(parts, name+"="+url.QueryEscape(value))
			i++
		case "--max-time":
			i++
		default:
			return "", false
		}
	}
	return strings.Join(parts, "&"), true
}

// fzGoldenSeeds reads the request lines of the transcripts.
func fzGoldenSeeds(dir string) ([]fzSeed, error) {
	var seeds []fzSeed
	for _, name := range []string{"keys", "errors", "misc", "cas", "dirs", "ttl"} {
		fh, err := os.Open(filepath.Join(dir, name+".txt"))
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var pending *fzSeed
		flush := func() {
			if pending != nil {
				seeds = append(seeds, *pending)
				pending = nil
			}
		}
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "--> ") {
				flush()
				f := strings.Fields(line[4:])
				if len(f) != 2 {
					continue
				}
				m := -1
				for i, x := range fzMethods {
					if x == f[0] {
						m = i
					}
				}
				if m < 0 {
					continue
				}
				rawPath, query, _ := strings.Cut(f[1], "?")
				p, err := url.PathUnescape(rawPath)
				if err != nil {
					continue
				}
				pending = &fzSeed{method: byte(m), path: p, query: query}
				continue
			}
			if pending != nil && strings.HasPrefix(line, "    curl ") {
				if body, ok := fzCurlBody(line); ok && body != "" {
					pending.body, pending.ct = body, 1
				}
				flush()
			}
		}
		flush()
		fh.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return seeds, nil
}

func TestFuzzGoldenSeeds(t *testing.T) {
	dir, ok := fzGoldenDir()
	if !ok {
		t.Skip("golden transcripts not found next to the repository")
	}
	seeds, err := fzGoldenSeeds(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(seeds) < 150 {
		t.Errorf("only %d seeds read from the transcripts", len(seeds))
	}
	var withBody int
	for _, s := range seeds {
		if s.body != "" {
			withBody++
		}
	}
	if withBody < 50 {
		t.Errorf("only %d seeds with a body", withBody)
	}
}

// fzEtcdParse is an independent rendering of etcd 3.4's parseKeyRequest
// (v2http/client.go) on top of Request.ParseForm, with the v2 apply
// dispatch: the reference the fuzz target compares against.
func fzEtcdParse(r *http.Request) (summary string, e *store.Error) {
	if err := r.ParseForm(); err != nil {
		return "", store.NewError(store.EcodeInvalidForm, err.Error(), 0)
	}
	form := r.Form
	getUint := func(k string) (uint64, bool) {
		if vs, ok := form[k]; ok {
			n, err := strconv.ParseUint(vs[0], 10, 64)
			return n, err == nil
		}
		return 0, true
	}
	getBool := func(k string) (bool, bool) {
		if vs, ok := form[k]; ok {
			b, err := strconv.ParseBool(vs[0])
			return b, err == nil
		}
		return false, true
	}
	bad := func(code int, cause string) (string, *store.Error) { return "", store.NewError(code, cause, 0) }
	pIdx, ok := getUint("prevIndex")
	if !ok {
		return bad(203, `invalid value for "prevIndex"`)
	}
	wIdx, ok := getUint("waitIndex")
	if !ok {
		return bad(203, `invalid value for "waitIndex"`)
	}
	bools := map[string]bool{}
	for _, k := range []string{"recursive", "sorted", "wait", "dir", "quorum", "stream"} {
		b, ok := getBool(k)
		if !ok {
			return bad(209, `invalid value for "`+k+`"`)
		}
		bools[k] = b
	}
	if bools["wait"] && r.Method != "GET" {
		return bad(209, `"wait" can only be used with GET requests`)
	}
	pV := r.FormValue("prevValue")
	if _, ok := form["prevValue"]; ok && pV == "" {
		return bad(201, `"prevValue" cannot be empty`)
	}
	quiet, ok := getBool("noValueOnSuccess")
	if !ok {
		return bad(209, `invalid value for "noValueOnSuccess"`)
	}
	var ttl *uint64
	if len(r.FormValue("ttl")) > 0 {
		n, ok := getUint("ttl")
		if !ok {
			return bad(202, `invalid value for "ttl"`)
		}
		ttl = &n
	}
	var pe *bool
	if _, ok := form["prevExist"]; ok {
		b, ok := getBool("prevExist")
		if !ok {
			return bad(209, "invalid value for prevExist")
		}
		pe = &b
	}
	refresh := false
	if _, ok := form["refresh"]; ok {
		b, ok := getBool("refresh")
		if !ok {
			return bad(209, "invalid value for refresh")
		}
		if b {
			if _, ok := form["value"]; ok && r.FormValue("value") != "" {
				return bad(211, "A value was provided on a refresh")
			}
			if ttl == nil {
				return bad(212, "No TTL value set")
			}
		}
		refresh = b
	}
	val := r.FormValue("value")
	ttlS := "-"
	if ttl != nil {
		ttlS = strconv.FormatUint(*ttl, 10)
	}
	common := fmt.Sprintf("quiet=%v ttl=%s", quiet, ttlS)
	switch r.Method {
	case "GET", "HEAD":
		return fmt.Sprintf("read rec=%v sorted=%v wait=%v stream=%v quorum=%v since=%d %s",
			bools["recursive"], bools["sorted"], bools["wait"], bools["stream"], bools["quorum"], wIdx, common), nil
	case "PUT":
		switch {
		case pe != nil && *pe && pIdx == 0 && pV == "":
			return fmt.Sprintf("update value=%q refresh=%v %s", val, refresh, common), nil
		case pe != nil && *pe:
			return fmt.Sprintf("cas value=%q pv=%q pi=%d refresh=%v %s", val, pV, pIdx, refresh, common), nil
		case pe != nil:
			return fmt.Sprintf("create dir=%v value=%q %s", bools["dir"], val, common), nil
		case pIdx > 0 || pV != "":
			return fmt.Sprintf("cas value=%q pv=%q pi=%d refresh=%v %s", val, pV, pIdx, refresh, common), nil
		default:
			return fmt.Sprintf("set dir=%v value=%q refresh=%v %s", bools["dir"], val, refresh, common), nil
		}
	case "POST":
		return fmt.Sprintf("post dir=%v value=%q %s", bools["dir"], val, common), nil
	case "DELETE":
		if pIdx > 0 || pV != "" {
			return fmt.Sprintf("cad pv=%q pi=%d %s", pV, pIdx, common), nil
		}
		return fmt.Sprintf("delete dir=%v rec=%v %s", bools["dir"], bools["recursive"], common), nil
	}
	return "", nil
}

// fzHecdSummary renders hecd's decision in fzEtcdParse's terms: only the
// fields each store operation actually uses.
func fzHecdSummary(kr *keysRequest) string {
	ttlS := "-"
	if kr.hasTTL {
		ttlS = strconv.FormatUint(kr.ttl, 10)
	}
	common := fmt.Sprintf("quiet=%v ttl=%s", kr.noValueOnSuccess, ttlS)
	w := kr.write
	if w == nil {
		return fmt.Sprintf("read rec=%v sorted=%v wait=%v stream=%v quorum=%v since=%d %s",
			kr.recursive, kr.sorted, kr.wait, kr.stream, kr.quorum, kr.waitIndex, common)
	}
	switch w.Op {
	case store.OpUpdate:
		return fmt.Sprintf("update value=%q refresh=%v %s", w.Value, w.Refresh, common)
	case store.OpCompareAndSwap:
		return fmt.Sprintf("cas value=%q pv=%q pi=%d refresh=%v %s", w.Value, w.PrevValue, w.PrevIndex, w.Refresh, common)
	case store.OpCreate:
		return fmt.Sprintf("create dir=%v value=%q %s", w.Dir, w.Value, common)
	case store.OpSet:
		return fmt.Sprintf("set dir=%v value=%q refresh=%v %s", w.Dir, w.Value, w.Refresh, common)
	case store.OpCreateInOrder:
		return fmt.Sprintf("post dir=%v value=%q %s", w.Dir, w.Value, common)
	case store.OpCompareAndDelete:
		return fmt.Sprintf("cad pv=%q pi=%d %s", w.PrevValue, w.PrevIndex, common)
	case store.OpDelete:
		return fmt.Sprintf("delete dir=%v rec=%v %s", w.Dir, w.Recursive, common)
	}
	return fmt.Sprintf("op %d?", w.Op)
}

func fzBuildRequest(method, p, query, body, ct string) *http.Request {
	r := httptest.NewRequest(method, "/", strings.NewReader(body))
	r.URL = &url.URL{Path: p, RawQuery: query}
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	return r
}

func FuzzParseKeysRequest(f *testing.F) {
	if dir, ok := fzGoldenDir(); ok {
		seeds, err := fzGoldenSeeds(dir)
		if err != nil {
			f.Fatal(err)
		}
		for _, s := range seeds {
			f.Add(s.method, s.path, s.query, s.body, s.ct)
		}
	} else {
		f.Log("golden transcripts not found: hand-written seeds only")
	}
	f.Add(byte(2), "/v2/keys/message", "", "value=Hello+world", byte(1))
	f.Add(byte(2), "/v2/keys/foo", "prevExist=true&prevIndex=4", "value=x&ttl=5&refresh=true", byte(2))
	f.Add(byte(3), "/v2/keys/queue", "value=q&value=r", "dir=true&ttl=", byte(1))
	f.Add(byte(4), "/v2/keys/dir", "recursive=true&dir=true&prevValue=x", "", byte(0))
	f.Add(byte(0), "/v2/keys/", "wait=true&waitIndex=7&stream=1&recursive=T", "", byte(0))
	f.Add(byte(1), "/v2/keys/a/b/", "wait=true", "", byte(0))
	f.Add(byte(2), "/v2/keys/x", "a=1;b=2", "value=%zz", byte(1))
	f.Add(byte(2), "/v2/keys//x/../y/.", "ttl=18446744073709551616", "prevValue=", byte(1))
	f.Add(byte(2), "/v2/keys/\x00\xff/_h", "noValueOnSuccess=yes", `{"value":"json"}`, byte(4))

	f.Fuzz(func(t *testing.T, mb byte, rawPath, query, body string, ctb byte) {
		method := fzMethods[int(mb)%len(fzMethods)]
		ct := fzCTs[int(ctb)%len(fzCTs)]
		p := rawPath
		if !strings.HasPrefix(p, keysPrefix) {
			if !strings.HasPrefix(p, "/") {
				p = "/" + p
			}
			p = keysPrefix + p
		}
		// The router: only canonical paths under /v2/keys reach the keys
		// handler (others are redirected or 404).
		if cleanPath(p) != p || !(p == keysPrefix || strings.HasPrefix(p, keysPrefix+"/")) {
			return
		}
		kr, e := parseKeysRequest(fzBuildRequest(method, p, query, body, ct))
		want, wantErr := fzEtcdParse(fzBuildRequest(method, p, query, body, ct))
		if e != nil {
			switch e.Code {
			case 201, 202, 203, 209, 210, 211, 212:
			default:
				t.Fatalf("error code %d: %v", e.Code, e)
			}
			if e.Index != 0 || kr != nil {
				t.Fatalf("error %v with index %d, request %v", e, e.Index, kr)
			}
			if wantErr == nil || wantErr.Code != e.Code || wantErr.Cause != e.Cause {
				t.Fatalf("%s %q?%q body %q (%s): error %v, etcd %v %s", method, p, query, body, ct, e, wantErr, want)
			}
			return
		}
		if wantErr != nil {
			t.Fatalf("%s %q?%q body %q (%s): accepted, etcd says %v", method, p, query, body, ct, wantErr)
		}
		key := kr.key
		if key != keyFromPath(p) || !strings.HasPrefix(key, "/") || strings.Contains(key, "//") ||
			(key != "/" && strings.HasSuffix(key, "/")) {
			t.Fatalf("path %q gave key %q", p, key)
		}
		write := method == "PUT" || method == "POST" || method == "DELETE"
		if (kr.write != nil) != write {
			t.Fatalf("%s: write = %v", method, kr.write)
		}
		if w := kr.write; w != nil {
			if w.Key != key || w.Time != 0 || w.Expiration != 0 {
				t.Fatalf("write %+v for key %q", *w, key)
			}
			if w.Refresh && (!kr.hasTTL || w.Value != "" ||
				(w.Op != store.OpSet && w.Op != store.OpUpdate && w.Op != store.OpCompareAndSwap)) {
				t.Fatalf("bad refresh write %+v", *w)
			}
		}
		if got := fzHecdSummary(kr); got != want {
			t.Fatalf("%s %q?%q body %q (%s):\n hecd %s\n etcd %s", method, p, query, body, ct, got, want)
		}
	})
}

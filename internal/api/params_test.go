package api

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"hecd/internal/store"
)

// ptForm builds a form from url-encoded body and query strings ("" body:
// no body fields at all).
func ptForm(t *testing.T, body, query string) *form {
	t.Helper()
	f := &form{}
	var err error
	if body != "" {
		if f.body, err = url.ParseQuery(body); err != nil {
			t.Fatalf("bad test body %q: %v", body, err)
		}
	}
	if f.query, err = url.ParseQuery(query); err != nil {
		t.Fatalf("bad test query %q: %v", query, err)
	}
	return f
}

// ptErr is the exact wire body of a request error (index 0).
func ptErr(code int, cause string) string {
	return strings.TrimSuffix(string(store.NewError(code, cause, 0).AppendJSON(nil)), "\n")
}

const (
	ptWaitGET = `"wait" can only be used with GET requests`
)

// TestParamsValidation covers spec section 4.3: every check, its code and
// exact cause, and the order in which they run (errors.txt 030-036).
func TestParamsValidation(t *testing.T) {
	e203p := ptErr(203, `invalid value for "prevIndex"`)
	e203w := ptErr(203, `invalid value for "waitIndex"`)
	e209 := func(name string) string { return ptErr(209, `invalid value for "`+name+`"`) }
	e202 := ptErr(202, `invalid value for "ttl"`)
	e201 := ptErr(201, `"prevValue" cannot be empty`)
	cases := []struct {
		method, body, query string
		want                string // "" = no error
	}{
		// 2. prevIndex
		{"PUT", "", "prevIndex=x", e203p},
		{"PUT", "value=x&prevIndex=abc", "", e203p},
		{"PUT", "value=x&prevIndex=-1", "", e203p},
		{"PUT", "value=x", "prevIndex=", e203p}, // errors-033
		{"PUT", "", "prevIndex=1.5", e203p},
		{"PUT", "", "prevIndex=+1", e203p},
		{"PUT", "", "prevIndex=%201", e203p},
		{"PUT", "", "prevIndex=18446744073709551616", e203p},
		{"PUT", "", "prevIndex=18446744073709551615", ""},
		{"DELETE", "", "prevIndex=x", e203p},
		{"GET", "", "recursive=yes&prevIndex=x", e203p}, // errors-030
		{"GET", "", "waitIndex=x&prevIndex=y", e203p},
		// 3. waitIndex, validated even without wait
		{"GET", "", "wait=true&waitIndex=abc", e203w},
		{"GET", "", "wait=true&waitIndex=", e203w}, // errors-034
		{"GET", "", "waitIndex=-5", e203w},
		{"PUT", "", "waitIndex=x", e203w},
		{"GET", "", "recursive=yes&waitIndex=x", e203w},
		// 4. booleans in order recursive, sorted, wait, dir, quorum, stream
		{"GET", "", "recursive=yes", e209("recursive")},
		{"GET", "", "recursive=2", e209("recursive")},
		{"GET", "", "recursive=", e209("recursive")}, // misc-031
		{"GET", "", "sorted=yes", e209("sorted")},
		{"GET", "", "wait=yes", e209("wait")},
		{"GET", "", "wait=maybe", e209("wait")},
		{"PUT", "dir=yes", "", e209("dir")},
		{"PUT", "value=x", "dir=", e209("dir")}, // errors-035
		{"DELETE", "", "dir=maybe", e209("dir")},
		{"GET", "", "quorum=yes", e209("quorum")},
		{"GET", "", "stream=yes", e209("stream")},
		{"GET", "", "stream=yes&quorum=yes&dir=yes&wait=yes&sorted=yes&recursive=yes", e209("recursive")},
		{"GET", "", "stream=yes&quorum=yes&dir=yes&wait=yes&sorted=yes", e209("sorted")},
		{"GET", "", "stream=yes&quorum=yes&dir=yes&wait=yes", e209("wait")},
		{"GET", "", "stream=yes&quorum=yes&dir=yes", e209("dir")},
		{"GET", "", "stream=yes&quorum=yes", e209("quorum")},
		{"PUT", "prevValue=&dir=yes", "", e209("dir")}, // errors-031
		{"PUT", "", "stream=yes&wait=true", e209("stream")},
		// 5. wait on a method other than GET
		{"PUT", "value=x", "wait=true", ptErr(209, ptWaitGET)}, // watch-014
		{"POST", "wait=true", "", ptErr(209, ptWaitGET)},       // inorder-hidden-011
		{"DELETE", "", "wait=true", ptErr(209, ptWaitGET)},     // errors-023
		{"HEAD", "", "wait=true", ptErr(209, ptWaitGET)},       // misc-010
		{"PUT", "", "wait=false", ""},
		{"PUT", "", "wait=true&prevValue=", ptErr(209, ptWaitGET)},
		{"GET", "", "wait=true", ""},
		// 6. prevValue present but empty
		{"PUT", "value=x&prevValue=", "", e201}, // cas-013
		{"DELETE", "", "prevValue=", e201},      // cas-040
		{"PUT", "", "prevValue=&noValueOnSuccess=yes", e201},
		{"GET", "", "prevValue=", e201},
		// 7. noValueOnSuccess
		{"PUT", "value=x&noValueOnSuccess=yes", "", e209("noValueOnSuccess")}, // errors-020
		{"PUT", "", "noValueOnSuccess=yes&ttl=x", e209("noValueOnSuccess")},
		{"PUT", "", "noValueOnSuccess=", e209("noValueOnSuccess")},
		// 8. ttl (empty is "no TTL")
		{"PUT", "value=x&ttl=ten", "", e202},
		{"PUT", "value=n&ttl=-1", "", e202},
		{"PUT", "value=n&ttl=1.5", "", e202},
		{"PUT", "value=n&ttl=%2B5", "", e202},
		{"PUT", "value=n&ttl=%205", "", e202},
		{"PUT", "value=n&ttl=18446744073709551616", "", e202},
		{"POST", "value=x&ttl=x", "", e202},
		{"PUT", "prevExist=yes&ttl=x", "", e202}, // errors-032
		{"PUT", "value=n&ttl=", "", ""},
		{"PUT", "value=n&ttl=18446744073709551615", "", ""},
		// 9. prevExist: no quotes in the cause
		{"PUT", "value=x&prevExist=yes", "", ptErr(209, "invalid value for prevExist")},
		{"PUT", "value=x", "prevExist=", ptErr(209, "invalid value for prevExist")}, // errors-036
		{"PUT", "value=again&prevExist=maybe", "", ptErr(209, "invalid value for prevExist")},
		{"PUT", "", "prevExist=yes&refresh=yes", ptErr(209, "invalid value for prevExist")},
		{"DELETE", "", "prevExist=maybe", ptErr(209, "invalid value for prevExist")},
		// 10. refresh: no quotes either
		{"PUT", "refresh=yes&ttl=5", "", ptErr(209, "invalid value for refresh")}, // errors-022
		{"PUT", "refresh=maybe&ttl=10", "", ptErr(209, "invalid value for refresh")},
		{"PUT", "", "refresh=", ptErr(209, "invalid value for refresh")},
		// 11. refresh=true: value, then ttl
		{"PUT", "refresh=true&ttl=5&value=x", "", ptErr(211, "A value was provided on a refresh")}, // errors-028
		{"PUT", "refresh=true&value=x", "", ptErr(211, "A value was provided on a refresh")},
		{"PUT", "refresh=true", "", ptErr(212, "No TTL value set")}, // errors-029
		{"PUT", "refresh=true&ttl=", "", ptErr(212, "No TTL value set")},
		{"GET", "", "refresh=true", ptErr(212, "No TTL value set")},
		{"PUT", "refresh=true&ttl=300&value=", "", ""}, // ttl-029
		{"PUT", "refresh=false&value=plain", "", ""},   // ttl-037
		{"PUT", "refresh=true&ttl=0", "", ""},
		// Unknown and wrongly-cased parameters are ignored (misc-033, misc-034).
		{"GET", "", "Recursive=bogus&foo=bar&WAIT=x", ""},
		// First occurrence wins (misc-032).
		{"GET", "", "recursive=true&recursive=bogus", ""},
		{"GET", "", "recursive=bogus&recursive=true", e209("recursive")},
		// The body comes before the query.
		{"PUT", "prevExist=true", "prevExist=yes", ""},
		{"PUT", "prevExist=yes", "prevExist=true", ptErr(209, "invalid value for prevExist")},
	}
	for _, c := range cases {
		kr, e := parseKeysForm(c.method, "/file", ptForm(t, c.body, c.query))
		got := ""
		if e != nil {
			got = string(e.AppendJSON(nil))
			if e.Index != 0 {
				t.Errorf("%s body=%q query=%q: error index %d", c.method, c.body, c.query, e.Index)
			}
			if e.StatusCode() != http.StatusBadRequest {
				t.Errorf("%s body=%q query=%q: status %d", c.method, c.body, c.query, e.StatusCode())
			}
			if kr != nil {
				t.Errorf("%s body=%q query=%q: both a request and an error", c.method, c.body, c.query)
			}
		} else if kr == nil {
			t.Errorf("%s body=%q query=%q: neither request nor error", c.method, c.body, c.query)
		}
		got = strings.TrimSuffix(got, "\n")
		if got != c.want {
			t.Errorf("%s body=%q query=%q:\n got %s\nwant %s", c.method, c.body, c.query, got, c.want)
		}
	}
}

// TestParamsBooleans: exactly strconv.ParseBool's spellings (misc 019-031).
func TestParamsBooleans(t *testing.T) {
	for _, v := range []string{"1", "t", "T", "TRUE", "true", "True"} {
		kr, e := parseKeysForm("GET", "/", ptForm(t, "", "recursive="+v+"&sorted="+v+"&quorum="+v+"&stream="+v))
		if e != nil || !kr.recursive || !kr.sorted || !kr.quorum || !kr.stream {
			t.Errorf("%q: %+v %v", v, kr, e)
		}
		kr, e = parseKeysForm("PUT", "/k", ptForm(t, "dir="+v+"&prevExist="+v+"&noValueOnSuccess="+v, ""))
		if e != nil || kr.write.Op != store.OpUpdate || !kr.noValueOnSuccess {
			t.Errorf("%q: %+v %v", v, kr, e)
		}
	}
	for _, v := range []string{"0", "f", "F", "FALSE", "false", "False"} {
		kr, e := parseKeysForm("GET", "/", ptForm(t, "", "recursive="+v+"&wait="+v))
		if e != nil || kr.recursive || kr.wait {
			t.Errorf("%q: %+v %v", v, kr, e)
		}
		kr, e = parseKeysForm("PUT", "/k", ptForm(t, "prevExist="+v, ""))
		if e != nil || kr.write.Op != store.OpCreate {
			t.Errorf("prevExist=%q: %+v %v", v, kr, e)
		}
	}
	for _, v := range []string{"", "yes", "no", "on", "off", "tRUE", "fALSE", "2", "-1", " true", "true ", "y", "n", "\x00"} {
		_, e := parseKeysForm("GET", "/", ptForm(t, "", "recursive="+url.QueryEscape(v)))
		if e == nil || e.Code != 209 {
			t.Errorf("recursive=%q accepted", v)
		}
	}
}

// ptSummary renders what parseKeysForm decided, for the dispatch table.
func ptSummary(kr *keysRequest) string {
	if kr.write == nil {
		return fmt.Sprintf("read rec=%v sorted=%v wait=%v stream=%v quorum=%v waitIndex=%d",
			kr.recursive, kr.sorted, kr.wait, kr.stream, kr.quorum, kr.waitIndex)
	}
	w := kr.write
	ops := map[store.Op]string{store.OpSet: "set", store.OpCreate: "create", store.OpUpdate: "update",
		store.OpCompareAndSwap: "cas", store.OpDelete: "delete", store.OpCompareAndDelete: "cad", store.OpCreateInOrder: "post"}
	s := fmt.Sprintf("%s %s value=%q", ops[w.Op], w.Key, w.Value)
	if w.Dir {
		s += " dir"
	}
	if w.Recursive {
		s += " rec"
	}
	if w.PrevValue != "" {
		s += " pv=" + w.PrevValue
	}
	if w.PrevIndex != 0 {
		s += fmt.Sprintf(" pi=%d", w.PrevIndex)
	}
	if w.Refresh {
		s += " refresh"
	}
	if kr.hasTTL {
		s += fmt.Sprintf(" ttl=%d", kr.ttl)
	}
	if kr.noValueOnSuccess {
		s += " quiet"
	}
	if w.Time != 0 || w.Expiration != 0 {
		s += " TIMES-SET"
	}
	return s
}

// TestParamsDispatch covers the table of spec section 5.
func TestParamsDispatch(t *testing.T) {
	cases := []struct {
		method, key, body, query string
		want                     string
	}{
		{"GET", "/k", "", "", "read rec=false sorted=false wait=false stream=false quorum=false waitIndex=0"},
		{"GET", "/k", "", "wait=true&recursive=true&waitIndex=7&stream=true", "read rec=true sorted=false wait=true stream=true quorum=false waitIndex=7"},
		{"GET", "/k", "", "wait=true&quorum=true", "read rec=false sorted=false wait=true stream=false quorum=true waitIndex=0"},
		{"GET", "/k", "", "waitIndex=0&sorted=true", "read rec=false sorted=true wait=false stream=false quorum=false waitIndex=0"},
		{"HEAD", "/k", "", "recursive=true", "read rec=true sorted=false wait=false stream=false quorum=false waitIndex=0"},
		// PUT
		{"PUT", "/k", "value=v", "", `set /k value="v"`},
		{"PUT", "/k", "", "", `set /k value=""`},
		{"PUT", "/k", "value=v", "value=q", `set /k value="v"`},
		{"PUT", "/k", "", "value=q", `set /k value="q"`},
		{"PUT", "/k", "value=v&prevIndex=0", "", `set /k value="v"`}, // cas-010
		{"PUT", "/k", "dir=true&value=ignored", "", `set /k value="ignored" dir`},
		{"PUT", "/k", "value=v&prevExist=true", "", `update /k value="v"`},
		{"PUT", "/k", "value=v&prevExist=1", "", `update /k value="v"`},
		{"PUT", "/k", "dir=true&prevExist=true&value=one", "", `update /k value="one"`}, // dirs-018
		{"PUT", "/k", "value=v&prevExist=true&prevValue=a", "", `cas /k value="v" pv=a`},
		{"PUT", "/k", "value=v&prevExist=true&prevIndex=3", "", `cas /k value="v" pi=3`},
		{"PUT", "/k", "value=v&prevExist=false", "", `create /k value="v"`},
		{"PUT", "/k", "dir=true&prevExist=false", "", `create /k value="" dir`},
		{"PUT", "/k", "value=z&prevExist=false&prevValue=whatever", "", `create /k value="z" pv=whatever`}, // cas-027: ignored by create
		{"PUT", "/k", "value=v&prevValue=a", "", `cas /k value="v" pv=a`},
		{"PUT", "/k", "value=v&prevIndex=5", "", `cas /k value="v" pi=5`},
		{"PUT", "/k", "value=v&prevValue=a&prevIndex=5&dir=true", "", `cas /k value="v" pv=a pi=5`},
		{"PUT", "/k", "value=v&ttl=5", "", `set /k value="v" ttl=5`},
		{"PUT", "/k", "value=v&ttl=", "", `set /k value="v"`},
		{"PUT", "/k", "value=v&noValueOnSuccess=true", "", `set /k value="v" quiet`},
		{"PUT", "/k", "value=v&recursive=true&sorted=true", "", `set /k value="v" rec`},
		// refresh combines with set, update and CAS; create and POST drop it.
		{"PUT", "/k", "refresh=true&ttl=100", "", `set /k value="" refresh ttl=100`},
		{"PUT", "/k", "refresh=true&ttl=200&prevExist=true", "", `update /k value="" refresh ttl=200`},
		{"PUT", "/k", "refresh=true&ttl=400&prevValue=keep", "", `cas /k value="" pv=keep refresh ttl=400`},
		{"PUT", "/k", "refresh=true&ttl=4&prevExist=false", "", `create /k value="" ttl=4`},
		{"PUT", "/k", "refresh=false&value=plain", "", `set /k value="plain"`},
		// POST
		{"POST", "/queue", "value=Job1", "", `post /queue value="Job1"`},
		{"POST", "/queue", "value=Job5&prevExist=true", "", `post /queue value="Job5"`},
		{"POST", "/queue", "value=Job6&prevValue=nothing&prevIndex=3", "", `post /queue value="Job6" pv=nothing pi=3`},
		{"POST", "/queue", "dir=true&ttl=5", "", `post /queue value="" dir ttl=5`},
		{"POST", "/queue", "refresh=true&ttl=5", "", `post /queue value="" ttl=5`},
		{"POST", "/", "", "value=fromquery", `post / value="fromquery"`},
		// DELETE
		{"DELETE", "/k", "", "", `delete /k value=""`},
		{"DELETE", "/k", "", "dir=true&recursive=true", `delete /k value="" dir rec`},
		{"DELETE", "/k", "", "prevExist=false", `delete /k value=""`}, // cas-042
		{"DELETE", "/k", "", "prevIndex=0", `delete /k value=""`},
		{"DELETE", "/k", "", "prevValue=x", `cad /k value="" pv=x`},
		{"DELETE", "/k", "", "prevIndex=19", `cad /k value="" pi=19`},
		{"DELETE", "/k", "", "prevIndex=1&dir=true&recursive=true", `cad /k value="" dir rec pi=1`}, // cas-039: the store ignores dir
	}
	for _, c := range cases {
		kr, e := parseKeysForm(c.method, c.key, ptForm(t, c.body, c.query))
		if e != nil {
			t.Errorf("%s %s body=%q query=%q: %v", c.method, c.key, c.body, c.query, e)
			continue
		}
		if kr.method != c.method || kr.key != c.key {
			t.Errorf("method/key %q %q", kr.method, kr.key)
		}
		if got := ptSummary(kr); got != c.want {
			t.Errorf("%s %s body=%q query=%q:\n got %s\nwant %s", c.method, c.key, c.body, c.query, got, c.want)
		}
	}
}

func TestParamsKeyFromPath(t *testing.T) {
	for in, want := range map[string]string{
		"/v2/keys":          "/",
		"/v2/keys/":         "/",
		"/v2/keys/a":        "/a",
		"/v2/keys/a/":       "/a", // keys-027
		"/v2/keys/a/b/c":    "/a/b/c",
		"/v2/keys/a/b/":     "/a/b",
		"/v2/keys/_h":       "/_h",
		"/v2/keys/with sp ": "/with sp ",
		"/v2/keys/☃":        "/☃",
		"/v2/keys/x\x00y":   "/x\x00y",
		"/v2/keys/plus+":    "/plus+",
	} {
		if got := keyFromPath(in); got != want {
			t.Errorf("keyFromPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParamsExpiration(t *testing.T) {
	now := time.Date(2026, time.November, 22, 4, 22, 50, 90750605, time.UTC).UnixNano()
	maxTTL := uint64((math.MaxInt64 - now) / int64(time.Second))
	for _, c := range []struct {
		now  int64
		ttl  uint64
		want int64
	}{
		{now, 0, now}, // ttl=0: expires at once (ttl-008)
		{now, 1, now + int64(time.Second)},
		{now, 3, now + 3*int64(time.Second)},
		{now, 10000000000, 0}, // ttl-016: overflow means permanent
		{now, math.MaxUint64, 0},
		{now, 9223372036, 0},
		{now, 9223372037, 0},
		{now, maxTTL, now + int64(maxTTL)*int64(time.Second)},
		{now, maxTTL + 1, 0},
		{0, 9223372036, 9223372036 * int64(time.Second)},
	} {
		if got := expiration(c.now, c.ttl); got != c.want {
			t.Errorf("expiration(%d, %d) = %d, want %d", c.now, c.ttl, got, c.want)
		}
	}
}

// ptRequest builds a request as a server would see it: ct "" sends no
// Content-Type header.
func ptRequest(method, target, ct, body string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	return r
}

const ptFormCT = "application/x-www-form-urlencoded"

// TestParamsReadForm: where parameters come from (spec 4.1) and the exact
// decoder errors (errors.txt 024-027, 040-044).
func TestParamsReadForm(t *testing.T) {
	cases := []struct {
		name                     string
		method, target, ct, body string
		field, want              string // expected value of field ("<absent>" if missing)
		err                      string
	}{
		{"body wins over query", "PUT", "/v2/keys/both?value=fromquery", ptFormCT, "value=frombody", "value", "frombody", ""},
		{"query used without body field", "PUT", "/v2/keys/q?value=q", ptFormCT, "ttl=5", "value", "q", ""},
		{"first body occurrence", "PUT", "/v2/keys/r", ptFormCT, "value=first&value=second", "value", "first", ""},
		{"first query occurrence", "PUT", "/v2/keys/r?value=a&value=b", "", "", "value", "a", ""},
		{"POST body", "POST", "/v2/keys/q", ptFormCT, "value=Job1", "value", "Job1", ""},
		{"charset parameter", "PUT", "/v2/keys/cs", ptFormCT + "; charset=utf-8", "value=charset", "value", "charset", ""},
		{"upper-case type", "PUT", "/v2/keys/cs", "Application/X-WWW-Form-URLEncoded", "value=uc", "value", "uc", ""},
		{"trailing semicolon in type", "PUT", "/v2/keys/cs", ptFormCT + ";", "value=x", "value", "x", ""},
		{"JSON body ignored", "PUT", "/v2/keys/json", "application/json", `{"value":"json"}`, "value", "<absent>", ""},
		{"multipart ignored", "PUT", "/v2/keys/multi", "multipart/form-data; boundary=xyz", "--xyz\r\nContent-Disposition: form-data; name=\"value\"\r\n\r\nmulti\r\n--xyz--\r\n", "value", "<absent>", ""},
		{"text/plain ignored", "PUT", "/v2/keys/plain", "text/plain", "value=plain", "value", "<absent>", ""},
		{"no content type ignored", "PUT", "/v2/keys/noct", "", "value=noct", "value", "<absent>", ""},
		{"DELETE body ignored", "DELETE", "/v2/keys/newkey", ptFormCT, "prevValue=nomatch", "prevValue", "<absent>", ""},
		{"GET body ignored", "GET", "/v2/keys/message", ptFormCT, "wait=true", "wait", "<absent>", ""},
		{"HEAD body ignored", "HEAD", "/v2/keys/message", ptFormCT, "wait=true", "wait", "<absent>", ""},
		{"DELETE bad body ignored", "DELETE", "/v2/keys/k?dir=true", ptFormCT, "a=%zz;", "dir", "true", ""},
		{"plus and escapes", "PUT", "/v2/keys/e?value=a+b%26c%3Dd", "", "", "value", "a b&c=d", ""},
		{"empty value present", "PUT", "/v2/keys/emptyval?value=", "", "", "value", "", ""},
		{"bad escape in query", "PUT", "/v2/keys/file?value=%zz", "", "", "", "", `invalid URL escape "%zz"`},
		{"bad escape in body", "PUT", "/v2/keys/file", ptFormCT, "value=%zz", "", "", `invalid URL escape "%zz"`},
		{"semicolon in query", "GET", "/v2/keys/file?a=1;b=2", "", "", "", "", "invalid semicolon separator in query"},
		{"semicolon in body", "PUT", "/v2/keys/file", ptFormCT, "a=1;b=2", "", "", "invalid semicolon separator in query"},
		{"body error before query error", "PUT", "/v2/keys/file?a=1;b=2", ptFormCT, "value=%zz", "", "", `invalid URL escape "%zz"`},
		{"query error with good body", "POST", "/v2/keys/file?value=%zz", ptFormCT, "value=ok", "", "", `invalid URL escape "%zz"`},
		{"query error on DELETE", "DELETE", "/v2/keys/file?x=%g0", "", "", "", "", `invalid URL escape "%g0"`},
	}
	for _, c := range cases {
		f, err := readForm(ptRequest(c.method, c.target, c.ct, c.body))
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%s: error %v, want %q", c.name, err, c.err)
			}
			// Through parseKeysRequest it is a 210 with that cause.
			_, e := parseKeysRequest(ptRequest(c.method, c.target, c.ct, c.body))
			if want := ptErr(210, c.err); e == nil || strings.TrimSuffix(string(e.AppendJSON(nil)), "\n") != want {
				t.Errorf("%s: parseKeysRequest = %v, want %s", c.name, e, want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		got, ok := f.lookup(c.field)
		if !ok {
			got = "<absent>"
		}
		if got != c.want {
			t.Errorf("%s: %s = %q, want %q", c.name, c.field, got, c.want)
		}
	}
}

// TestParamsBodyLimit: a url-encoded body of exactly 10 MiB is accepted,
// one byte more is "http: POST too large" (errors-027).
func TestParamsBodyLimit(t *testing.T) {
	const limit = 10 << 20
	exact := "value=" + strings.Repeat("v", limit-len("value="))
	f, err := readForm(ptRequest("PUT", "/v2/keys/big", ptFormCT, exact))
	if err != nil {
		t.Fatalf("10 MiB body: %v", err)
	}
	if v := f.get("value"); len(v) != limit-6 {
		t.Errorf("value length %d", len(v))
	}
	_, err = readForm(ptRequest("PUT", "/v2/keys/big", ptFormCT, exact+"v"))
	if err == nil || err.Error() != "http: POST too large" {
		t.Errorf("10 MiB + 1: %v", err)
	}
	_, e := parseKeysRequest(ptRequest("POST", "/v2/keys/big", ptFormCT, exact+"&"))
	if e == nil || e.Code != 210 || e.Cause != "http: POST too large" || e.Index != 0 {
		t.Errorf("parseKeysRequest 10 MiB + 1: %v", e)
	}
	// Not read at all when it is not a form, or not a PUT/POST.
	if _, err := readForm(ptRequest("PUT", "/v2/keys/big", "text/plain", exact+"v")); err != nil {
		t.Errorf("large text/plain body: %v", err)
	}
	if _, err := readForm(ptRequest("DELETE", "/v2/keys/big", ptFormCT, exact+"v")); err != nil {
		t.Errorf("large DELETE body: %v", err)
	}
}

// TestParamsReadFormMatchesParseForm compares readForm with Go's
// Request.ParseForm, which is what etcd calls: same error, and for every
// field the same first value.
func TestParamsReadFormMatchesParseForm(t *testing.T) {
	cts := []string{"", ptFormCT, ptFormCT + "; charset=utf-8", ptFormCT + ";", "text/plain", "application/json",
		"multipart/form-data; boundary=x", "TEXT/PLAIN; charset=latin1"}
	bodies := []string{"", "value=b&ttl=5", "value=%zz", "a=1;b=2", "value=b1&value=b2&dir=true", "=&&x", "prevValue"}
	queries := []string{"", "value=q", "value=q1&value=q2&recursive=true", "a=1;b=2", "x=%zz", "value=%E2%98%83+x"}
	for _, method := range []string{"GET", "HEAD", "PUT", "POST", "DELETE"} {
		for _, ct := range cts {
			for _, body := range bodies {
				for _, q := range queries {
					ptCompareWithParseForm(t, method, ct, body, q)
				}
			}
		}
	}
}

func ptCompareWithParseForm(t *testing.T, method, ct, body, query string) {
	t.Helper()
	target := "/v2/keys/k"
	if query != "" {
		target += "?" + query
	}
	f, err := readForm(ptRequest(method, target, ct, body))
	ref := ptRequest(method, target, ct, body)
	refErr := ref.ParseForm()
	if fmt.Sprint(err) != fmt.Sprint(refErr) {
		t.Errorf("%s ct=%q body=%q query=%q: error %v, ParseForm %v", method, ct, body, query, err, refErr)
		return
	}
	if err != nil {
		return
	}
	var names []string
	for k := range ref.Form {
		names = append(names, k)
	}
	for k := range f.body {
		names = append(names, k)
	}
	for k := range f.query {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v, ok := f.lookup(k)
		_, refOK := ref.Form[k]
		if ok != refOK || v != ref.Form.Get(k) {
			t.Errorf("%s ct=%q body=%q query=%q: %s = %q/%v, ParseForm %q/%v", method, ct, body, query, k, v, ok, ref.Form.Get(k), refOK)
		}
	}
}

// TestParamsMalformedContentType: etcd calls Request.ParseForm, which
// fails for a PUT or POST whose Content-Type cannot be parsed; etcd then
// answers 210 with the mime package's message.
func TestParamsMalformedContentType(t *testing.T) {
	for _, c := range []struct{ ct, cause string }{
		{"text/plain; charset", "mime: invalid media parameter"},
		{ptFormCT + "; charset", "mime: invalid media parameter"},
		{";", "mime: no media type"},
		{"a/b c", "mime: unexpected content after media subtype"},
	} {
		for _, method := range []string{"PUT", "POST"} {
			ref := ptRequest(method, "/v2/keys/k", c.ct, "value=x")
			if err := ref.ParseForm(); err == nil || err.Error() != c.cause {
				t.Fatalf("ParseForm with %q: %v (test assumption broken)", c.ct, err)
			}
			_, e := parseKeysRequest(ptRequest(method, "/v2/keys/k", c.ct, "value=x"))
			if want := ptErr(210, c.cause); e == nil || strings.TrimSuffix(string(e.AppendJSON(nil)), "\n") != want {
				t.Errorf("%s with Content-Type %q: got %v, want %s", method, c.ct, e, want)
			}
		}
		// Methods whose body is never read do not care.
		if _, e := parseKeysRequest(ptRequest("DELETE", "/v2/keys/k", c.ct, "value=x")); e != nil {
			t.Errorf("DELETE with Content-Type %q: %v", c.ct, e)
		}
	}
}

// TestParamsParseKeysRequest: the whole request path, from an HTTP request
// to the decided operation (keys.txt cases).
func TestParamsParseKeysRequest(t *testing.T) {
	for _, c := range []struct {
		method, target, ct, body string
		want                     string
	}{
		{"PUT", "/v2/keys/message", ptFormCT, "value=Hello+world", `set /message value="Hello world"`},
		{"PUT", "/v2/keys/trail/", ptFormCT, "value=t", `set /trail value="t"`},
		{"PUT", "/v2/keys", ptFormCT, "value=x", `set / value="x"`},
		{"PUT", "/v2/keys/", ptFormCT, "value=x", `set / value="x"`},
		{"PUT", "/v2/keys/x%2Fy", ptFormCT, "value=enc", `set /x/y value="enc"`},
		{"PUT", "/v2/keys/with%20space", ptFormCT, "value=sp", `set /with space value="sp"`},
		{"PUT", "/v2/keys/plus+sign", ptFormCT, "value=p", `set /plus+sign value="p"`},
		{"PUT", "/v2/keys/%E2%98%83", ptFormCT, "value=snowman", `set /☃ value="snowman"`},
		{"PUT", "/v2/keys/badutf", ptFormCT, "value=%FF%FEok", `set /badutf value="\xff\xfeok"`},
		{"PUT", "/v2/keys/json", "application/json", `{"value":"json"}`, `set /json value=""`},
		{"DELETE", "/v2/keys/newkey", ptFormCT, "prevValue=nomatch", `delete /newkey value=""`},
		{"GET", "/v2/keys/message", ptFormCT, "wait=true", "read rec=false sorted=false wait=false stream=false quorum=false waitIndex=0"},
		{"POST", "/v2/keys/queue?value=fromquery", "", "", `post /queue value="fromquery"`},
		{"POST", "/v2/keys/", ptFormCT, "value=rootjob", `post / value="rootjob"`},
	} {
		kr, e := parseKeysRequest(ptRequest(c.method, c.target, c.ct, c.body))
		if e != nil {
			t.Errorf("%s %s: %v", c.method, c.target, e)
			continue
		}
		if got := ptSummary(kr); got != c.want {
			t.Errorf("%s %s:\n got %s\nwant %s", c.method, c.target, got, c.want)
		}
	}
}

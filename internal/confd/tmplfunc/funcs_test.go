package tmplfunc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"
)

// testKeys is the store every table test renders against. Sorted by key
// (byte order) it reads:
//
//	/app/name /app/servers/a /app/servers/b /app/servers/c
//	/app/servers/deep/d /app/upstream/x/y /apple /glob/a*b /glob/a[b
//	/glob/axb /json/arr /json/null /json/obj /len/aaa /len/b /len/cc
//	/mix /mix/child /n/bad /n/count /sort/one /sort/three /sort/two /top
var testKeys = map[string]string{
	"/app/name":           "myapp",
	"/app/servers/a":      "10.0.0.1:80",
	"/app/servers/b":      "10.0.0.3:80",
	"/app/servers/c":      "",
	"/app/servers/deep/d": "10.0.0.2:80",
	"/app/upstream/x/y":   "xy",
	"/apple":              "fruit",
	"/glob/a*b":           "star",
	"/glob/a[b":           "bracket",
	"/glob/axb":           "x",
	"/json/arr":           `["b","a",3]`,
	"/json/null":          "null",
	"/json/obj":           `{"IP":"10.0.0.1","port":8080,"big":1000000,"nested":{"k":"v"},"list":[1,"two"]}`,
	"/len/aaa":            "3",
	"/len/b":              "1",
	"/len/cc":             "2",
	"/mix":                "leaf",
	"/mix/child":          "c",
	"/n/bad":              "3.5",
	"/n/count":            "3",
	"/sort/one":           "zz",
	"/sort/three":         "mm",
	"/sort/two":           "aa",
	"/top":                "t",
}

// fakeResolver answers from tables, so lookup tests need no network.
type fakeResolver struct {
	ips map[string][]net.IP
	srv map[string][]*net.SRV // keyed "service proto name"
}

func (f fakeResolver) LookupIP(_ context.Context, network, host string) ([]net.IP, error) {
	if network != "ip" {
		return nil, fmt.Errorf("fake resolver: unexpected network %q", network)
	}
	ips, ok := f.ips[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return slices.Clone(ips), nil
}

func (f fakeResolver) LookupSRV(_ context.Context, service, proto, name string) (string, []*net.SRV, error) {
	recs, ok := f.srv[service+" "+proto+" "+name]
	if !ok {
		return "", nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	out := make([]*net.SRV, len(recs))
	for i, r := range recs {
		c := *r
		out[i] = &c
	}
	return "", out, nil
}

var testResolver = fakeResolver{
	ips: map[string][]net.IP{
		"multi": {
			net.ParseIP("10.0.0.2"), net.ParseIP("::1"), net.ParseIP("10.0.0.10"),
			net.ParseIP("fe80::1"), net.ParseIP("1.2.3.4"), // 16-byte form, printed as IPv4
		},
		"v4only": {net.IPv4(192, 0, 2, 1).To4()},
		"empty":  {},
	},
	srv: map[string][]*net.SRV{
		"http tcp example.test": {
			{Target: "b.example.", Port: 80, Priority: 10, Weight: 5},
			{Target: "a.example.", Port: 8080, Priority: 1, Weight: 1},
			{Target: "a.example.", Port: 80, Priority: 2, Weight: 1},
			// Ordered as strings, so port 10 sorts before port 9.
			{Target: "c.example.", Port: 9, Priority: 0, Weight: 0},
			{Target: "c.example.", Port: 10, Priority: 0, Weight: 0},
		},
	},
}

// render executes src against testKeys with the fake resolver, the way
// Render does (template named after the base name, nil data).
func render(t *testing.T, src string) (string, error) {
	t.Helper()
	tmpl, err := Parse("/etc/confd/templates/t.tmpl", src, FuncMapWith(NewStore(testKeys), testResolver))
	if err != nil {
		return "", err
	}
	var b strings.Builder
	err = tmpl.Execute(&b, nil)
	return b.String(), err
}

type tcase struct {
	src  string
	want string // expected output when err is ""
	err  string // expected complete error text
}

func runCases(t *testing.T, cases []tcase) {
	t.Helper()
	for _, c := range cases {
		got, err := render(t, c.src)
		switch {
		case c.err != "":
			if err == nil {
				t.Errorf("%s\n  rendered %q, want error %q", c.src, got, c.err)
			} else if err.Error() != c.err {
				t.Errorf("%s\n  error %q\n  want  %q", c.src, err, c.err)
			}
		case err != nil:
			t.Errorf("%s\n  error %q, want %q", c.src, err, c.want)
		case got != c.want:
			t.Errorf("%s\n  got  %q\n  want %q", c.src, got, c.want)
		}
	}
}

// execErr is the error text text/template gives for a function's error.
func execErr(col int, call, fn, msg string) string {
	return fmt.Sprintf(`template: t.tmpl:1:%d: executing "t.tmpl" at <%s>: error calling %s: %s`, col, call, fn, msg)
}

// typeErr is the error text text/template gives for a badly typed argument.
func typeErr(col int, at, msg string) string {
	return fmt.Sprintf(`template: t.tmpl:1:%d: executing "t.tmpl" at <%s>: %s`, col, at, msg)
}

func TestGet(t *testing.T) {
	runCases(t, []tcase{
		{src: `{{(get "/app/name").Key}}={{(get "/app/name").Value}}`, want: `/app/name=myapp`},
		{src: `{{get "/app/name"}}`, want: `{/app/name myapp}`},
		{src: `{{get "/app/servers/c"}}`, want: `{/app/servers/c }`},
		{src: `{{with get "/top"}}{{.Key}} {{.Value}}{{end}}`, want: `/top t`},
		{src: `{{get "/nope"}}`, err: execErr(2, `get "/nope"`, "get", "key does not exist: /nope")},
		// A directory is missing; so is a leaf spelled with a trailing slash.
		{src: `{{get "/app"}}`, err: execErr(2, `get "/app"`, "get", "key does not exist: /app")},
		{src: `{{get "/app/name/"}}`, err: execErr(2, `get "/app/name/"`, "get", "key does not exist: /app/name/")},
	})
}

func TestGets(t *testing.T) {
	runCases(t, []tcase{
		{src: `{{range gets "/app/servers/*"}}{{.Key}}={{.Value}};{{end}}`,
			want: `/app/servers/a=10.0.0.1:80;/app/servers/b=10.0.0.3:80;/app/servers/c=;`},
		// "*" never crosses "/": neither the deep leaf nor the directory.
		{src: `{{gets "/app/*"}}`, want: `[{/app/name myapp}]`},
		{src: `{{gets "/app/servers/*/*"}}`, want: `[{/app/servers/deep/d 10.0.0.2:80}]`},
		{src: `{{gets "/app/servers/?"}}`, want: `[{/app/servers/a 10.0.0.1:80} {/app/servers/b 10.0.0.3:80} {/app/servers/c }]`},
		{src: `{{gets "/app/servers/[ab]"}}`, want: `[{/app/servers/a 10.0.0.1:80} {/app/servers/b 10.0.0.3:80}]`},
		{src: `{{gets "/app/servers/[^a]"}}`, want: `[{/app/servers/b 10.0.0.3:80} {/app/servers/c }]`},
		{src: `{{gets "/app/servers/[b-c]"}}`, want: `[{/app/servers/b 10.0.0.3:80} {/app/servers/c }]`},
		// Sorted by key in byte order: '*' < '[' < 'x'.
		{src: `{{gets "/glob/a*b"}}`, want: `[{/glob/a*b star} {/glob/a[b bracket} {/glob/axb x}]`},
		{src: `{{gets "/glob/a?b"}}`, want: `[{/glob/a*b star} {/glob/a[b bracket} {/glob/axb x}]`},
		{src: "{{gets `/glob/a\\*b`}}", want: `[{/glob/a*b star}]`},
		{src: "{{gets `/glob/a\\[b`}}", want: `[{/glob/a[b bracket}]`},
		// Without wildcards: only that exact leaf.
		{src: `{{gets "/app/name"}}`, want: `[{/app/name myapp}]`},
		{src: `{{gets "/app/servers"}}`, want: `[]`},
		{src: `{{gets "/app/servers/"}}`, want: `[]`},
		{src: `{{gets "/nomatch/*"}}`, want: `[]`},
		{src: `{{len (gets "*")}}`, want: `0`},
		{src: `{{range gets "/*"}}{{.Key}} {{end}}`, want: `/apple /mix /top `},
		{src: `{{range gets "/nomatch/*"}}x{{else}}none{{end}}`, want: `none`},
		{src: `{{gets "/x/["}}`, err: execErr(2, `gets "/x/["`, "gets", "syntax error in pattern")},
		{src: `{{gets "[]a]"}}`, err: execErr(2, `gets "[]a]"`, "gets", "syntax error in pattern")},
	})
}

func TestGetv(t *testing.T) {
	runCases(t, []tcase{
		{src: `{{getv "/app/name"}}`, want: `myapp`},
		{src: `{{getv "/nope" "dflt"}}`, want: `dflt`},
		{src: `{{getv "/nope" ""}}|`, want: `|`},
		// Present but empty: "", never the default.
		{src: `{{getv "/app/servers/c" "dflt"}}|`, want: `|`},
		// Only the first default counts.
		{src: `{{getv "/nope" "a" "b"}}`, want: `a`},
		{src: `{{getv "/app" "dir-is-missing"}}`, want: `dir-is-missing`},
		{src: `{{getv "/nope"}}`, err: execErr(2, `getv "/nope"`, "getv", "key does not exist: /nope")},
		{src: `{{getv "/app"}}`, err: execErr(2, `getv "/app"`, "getv", "key does not exist: /app")},
		{src: `{{getv "/nope" 5}}`, err: typeErr(15, "5", "expected string; found 5")},
		{src: `{{getv}}`, err: `template: t.tmpl:1:2: executing "t.tmpl" at <getv>: wrong number of args for getv: want at least 1 got 0`},
	})
}

func TestGetvs(t *testing.T) {
	runCases(t, []tcase{
		// Sorted by value (aa mm zz), not by key (one three two → zz mm aa).
		{src: `{{getvs "/sort/*"}}`, want: `[aa mm zz]`},
		{src: `{{range getvs "/app/servers/*"}}[{{.}}]{{end}}`, want: `[][10.0.0.1:80][10.0.0.3:80]`},
		{src: `{{getvs "/none/*"}}`, want: `[]`},
		{src: `{{getvs "/len/*"}}`, want: `[1 2 3]`},
		{src: `{{getvs "/x/["}}`, err: execErr(2, `getvs "/x/["`, "getvs", "syntax error in pattern")},
	})
}

func TestExists(t *testing.T) {
	runCases(t, []tcase{
		{src: `{{exists "/app/name"}}`, want: `true`},
		{src: `{{exists "/app/servers/c"}}`, want: `true`},
		{src: `{{exists "/app"}}`, want: `false`}, // directories are not "existing"
		{src: `{{exists "/mix"}}`, want: `true`},
		{src: `{{exists "/nope"}}`, want: `false`},
		{src: `{{exists "/app/name/"}}`, want: `false`},
		{src: `{{exists ""}}`, want: `false`},
		{src: `{{if exists "/app/name"}}{{getv "/app/name"}}{{end}}`, want: `myapp`},
	})
}

func TestLs(t *testing.T) {
	runCases(t, []tcase{
		{src: `{{ls "/app"}}`, want: `[name servers upstream]`},
		{src: `{{ls "/app/"}}`, want: `[name servers upstream]`},
		{src: `{{ls "/app/servers"}}`, want: `[a b c deep]`},
		{src: `{{ls "/app/upstream"}}`, want: `[x]`},
		// A leaf that also has children (possible outside etcd v2).
		{src: `{{ls "/mix"}}`, want: `[child mix]`},
		{src: `{{ls "/app/name"}}`, want: `[name]`},
		{src: `{{ls "/nope"}}`, want: `[]`},
		{src: `{{ls "/ap"}}`, want: `[]`}, // whole elements only: not /app, not /apple
		{src: `{{ls ""}}`, want: `[]`},
		// Deliberate difference: top-level directories are listed too.
		{src: `{{ls "/"}}`, want: `[app apple glob json len mix n sort top]`},
		{src: `{{len (ls "/app")}}`, want: `3`},
	})
}

func TestLsdir(t *testing.T) {
	runCases(t, []tcase{
		{src: `{{lsdir "/app"}}`, want: `[servers upstream]`},
		{src: `{{lsdir "/app/"}}`, want: `[servers upstream]`},
		{src: `{{lsdir "/app/servers"}}`, want: `[deep]`},
		{src: `{{lsdir "/app/upstream"}}`, want: `[x]`},
		{src: `{{lsdir "/mix"}}`, want: `[]`},
		{src: `{{lsdir "/app/name"}}`, want: `[]`},
		{src: `{{lsdir "/nope"}}`, want: `[]`},
		{src: `{{lsdir "/ap"}}`, want: `[]`},
		// Deliberate difference: confd 0.16 always returned [] here.
		{src: `{{lsdir "/"}}`, want: `[app glob json len mix n sort]`},
		// The nested idiom of section 10.
		{src: `{{range $d := lsdir "/app"}}{{range gets (printf "/app/%s/*" $d)}}{{.Key}} {{end}}{{end}}`,
			want: `/app/servers/a /app/servers/b /app/servers/c `},
	})
}

func TestPathFuncs(t *testing.T) {
	runCases(t, []tcase{
		{src: `{{base "/a/b/c"}}`, want: `c`},
		{src: `{{base "/a/b/"}}`, want: `b`},
		{src: `{{base ""}}`, want: `.`},
		{src: `{{base "/"}}`, want: `/`},
		{src: `{{base "x"}}`, want: `x`},
		{src: `{{dir "/a/b/c"}}`, want: `/a/b`},
		{src: `{{dir "x"}}`, want: `.`},
		{src: `{{dir "/a/b/"}}`, want: `/a/b`},
		{src: `{{dir "/"}}`, want: `/`},
		{src: `{{dir ""}}`, want: `.`},
		{src: `{{dir "/a//b"}}`, want: `/a`},
		{src: `{{range gets "/app/servers/*"}}{{base .Key}} {{dir .Key}};{{end}}`,
			want: `a /app/servers;b /app/servers;c /app/servers;`},
	})
}

func TestStringFuncs(t *testing.T) {
	runCases(t, []tcase{
		{src: `{{split "a:b" ":"}}`, want: `[a b]`},
		{src: `{{len (split "" ":")}}`, want: `1`},
		{src: `{{split "abc" ""}}`, want: `[a b c]`},
		{src: `{{index (split (getv "/app/servers/a") ":") 1}}`, want: `80`},
		{src: `{{join (split "a:b:c" ":") ","}}`, want: `a,b,c`},
		{src: `{{join (getvs "/sort/*") " "}}`, want: `aa mm zz`},
		{src: `{{join (ls "/app") "/"}}`, want: `name/servers/upstream`},
		{src: `{{join (jsonArray "[\"a\"]") ","}}`,
			err: typeErr(18, `"[\"a\"]"`, "wrong type for value; expected []string; got []interface {}")},
		{src: `{{toUpper "abc-é"}}`, want: `ABC-É`},
		{src: `{{toLower "ÀBC"}}`, want: `àbc`},
		{src: `{{contains "haystack" "st"}}`, want: `true`},
		{src: `{{contains "st" "haystack"}}`, want: `false`},
		{src: `{{contains "a" ""}}`, want: `true`},
		{src: `{{replace "a.b.c" "." "-" -1}}`, want: `a-b-c`},
		{src: `{{replace "a.b.c" "." "-" 1}}`, want: `a-b.c`},
		{src: `{{replace "aaa" "a" "b" 0}}`, want: `aaa`},
		{src: `{{replace "a.b" "." "-" "1"}}`, err: typeErr(24, `"1"`, `expected integer; found "1"`)},
		{src: `{{trimSuffix "x.tmpl.tmpl" ".tmpl"}}`, want: `x.tmpl`},
		{src: `{{trimSuffix "abc" "z"}}`, want: `abc`},
		{src: `{{trimPrefix "abc" "a"}}`, err: `template: t.tmpl:1: function "trimPrefix" not defined`},
	})
}

func TestJSON(t *testing.T) {
	runCases(t, []tcase{
		{src: `{{$v := json (getv "/json/obj")}}{{$v.IP}} {{$v.port}} {{$v.big}} {{$v.nested.k}} {{$v.missing}} {{index $v.list 1}}`,
			want: `10.0.0.1 8080 1e+06 v <no value> two`},
		{src: `{{(json "{\"a\":1.5}").a}}`, want: `1.5`},
		{src: `{{json "null"}} {{len (json (getv "/json/null"))}}`, want: `map[] 0`},
		{src: `{{(json "null").x}}`, want: `<no value>`},
		{src: `{{json "{\"b\":1,\"a\":true}"}}`, want: `map[a:true b:1]`},
		{src: `{{json "[1]"}}`, err: execErr(2, `json "[1]"`, "json", "json: cannot unmarshal array into Go value of type map[string]interface {}")},
		{src: `{{json "{"}}`, err: execErr(2, `json "{"`, "json", "unexpected end of JSON input")},
		{src: `{{json "x"}}`, err: execErr(2, `json "x"`, "json", "invalid character 'x' looking for beginning of value")},
		{src: `{{range jsonArray (getv "/json/arr")}}{{.}};{{end}}`, want: `b;a;3;`},
		{src: `{{jsonArray "null"}}`, want: `[]`},
		{src: `{{jsonArray "[]"}}`, want: `[]`},
		{src: `{{jsonArray "{}"}}`, err: execErr(2, `jsonArray "{}"`, "jsonArray", "json: cannot unmarshal object into Go value of type []interface {}")},
		{src: `{{jsonArray "["}}`, err: execErr(2, `jsonArray "["`, "jsonArray", "unexpected end of JSON input")},
	})
}

func TestMap(t *testing.T) {
	runCases(t, []tcase{
		{src: `{{$m := map "a" 1 "b" "x"}}{{$m.a}} {{$m.b}} {{$m.c}}`, want: `1 x <no value>`},
		{src: `{{define "sub"}}{{.name}}:{{.port}}{{end}}{{template "sub" map "name" "web" "port" 80}}`, want: `web:80`},
		{src: `{{map}}`, want: `map[]`},
		{src: `{{map "k" (get "/top")}}`, want: `map[k:{/top t}]`},
		{src: `{{map "a"}}`, err: execErr(2, `map "a"`, "map", "invalid map call")},
		{src: `{{map 1 2}}`, err: execErr(2, `map 1 2`, "map", "map keys must be strings")},
	})
}

func TestBase64ParseBoolAtoi(t *testing.T) {
	runCases(t, []tcase{
		{src: `{{base64Encode "hello"}}`, want: `aGVsbG8=`},
		{src: `{{base64Encode ""}}|`, want: `|`},
		{src: `{{base64Encode "\xff\xfe"}}`, want: `//4=`},
		{src: `{{base64Decode "aGVsbG8="}}`, want: `hello`},
		{src: `{{base64Decode (base64Encode "a/b+c")}}`, want: `a/b+c`},
		{src: `{{base64Decode "aGVsbG8"}}`, err: execErr(2, `base64Decode "aGVsbG8"`, "base64Decode", "illegal base64 data at input byte 4")},
		{src: `{{base64Decode "a!"}}`, err: execErr(2, `base64Decode "a!"`, "base64Decode", "illegal base64 data at input byte 1")},
		{src: `{{base64Decode "_-8="}}`, err: execErr(2, `base64Decode "_-8="`, "base64Decode", "illegal base64 data at input byte 0")},
		{src: `{{range split "1 t T TRUE true True" " "}}{{parseBool .}}{{end}}`, want: `truetruetruetruetruetrue`},
		{src: `{{range split "0 f F FALSE false False" " "}}{{parseBool .}}{{end}}`, want: `falsefalsefalsefalsefalsefalse`},
		{src: `{{parseBool "yes"}}`, err: execErr(2, `parseBool "yes"`, "parseBool", `strconv.ParseBool: parsing "yes": invalid syntax`)},
		{src: `{{parseBool ""}}`, err: execErr(2, `parseBool ""`, "parseBool", `strconv.ParseBool: parsing "": invalid syntax`)},
		{src: `{{atoi "42"}} {{atoi "+5"}} {{atoi "-3"}} {{atoi "007"}}`, want: `42 5 -3 7`},
		{src: `{{atoi " 5"}}`, err: execErr(2, `atoi " 5"`, "atoi", `strconv.Atoi: parsing " 5": invalid syntax`)},
		{src: `{{atoi (getv "/n/bad")}}`, err: execErr(2, `atoi (getv "/n/bad")`, "atoi", `strconv.Atoi: parsing "3.5": invalid syntax`)},
		{src: `{{atoi "99999999999999999999"}}`, err: execErr(2, `atoi "99999999999999999999"`, "atoi", `strconv.Atoi: parsing "99999999999999999999": value out of range`)},
	})
}

func TestListFuncs(t *testing.T) {
	runCases(t, []tcase{
		{src: `{{reverse (getvs "/sort/*")}}`, want: `[zz mm aa]`},
		{src: `{{reverse (split "a,b,c" ",")}}`, want: `[c b a]`},
		{src: `{{reverse (ls "/app")}}`, want: `[upstream servers name]`},
		// Deliberate difference: gets output is reversed too.
		{src: `{{reverse (gets "/sort/*")}}`, want: `[{/sort/two aa} {/sort/three mm} {/sort/one zz}]`},
		{src: `{{range reverse (gets "/app/servers/*")}}{{base .Key}}{{end}}`, want: `cba`},
		{src: `{{reverse (sortKVByLength (gets "/len/*"))}}`, want: `[{/len/aaa 3} {/len/cc 2} {/len/b 1}]`},
		// Other types pass through unchanged, as in confd.
		{src: `{{reverse (seq 1 3)}}`, want: `[1 2 3]`},
		{src: `{{reverse (jsonArray "[1,2]")}}`, want: `[1 2]`},
		{src: `{{reverse "abc"}}`, want: `abc`},
		// In place: the variable itself is reversed.
		{src: `{{$l := split "a,b" ","}}{{$_ := reverse $l}}{{$l}}`, want: `[b a]`},
		{src: `{{reverse (split "" ",")}}`, want: `[]`},
		// Stable: equal lengths keep their input order.
		{src: `{{sortByLength (split "ccc,a,bb,d,ee" ",")}}`, want: `[a d bb ee ccc]`},
		{src: `{{sortByLength (getvs "/app/servers/*")}}`, want: `[ 10.0.0.1:80 10.0.0.3:80]`},
		{src: `{{range sortKVByLength (gets "/len/*")}}{{.Key}} {{end}}`, want: `/len/b /len/cc /len/aaa `},
		{src: `{{range sortKVByLength (gets "/app/servers/*/*")}}{{.Key}}{{end}}`, want: `/app/servers/deep/d`},
		{src: `{{sortKVByLength (split "a" ",")}}`,
			err: typeErr(28, `","`, "wrong type for value; expected []tmplfunc.KVPair; got []string")},
	})
}

func TestArithmetic(t *testing.T) {
	runCases(t, []tcase{
		{src: `{{add 1 2}} {{sub 1 5}} {{mul -3 4}}`, want: `3 -4 -12`},
		{src: `{{add (atoi (getv "/n/count")) 1}}`, want: `4`},
		{src: `{{div 7 2}} {{div -7 2}} {{div 7 -2}}`, want: `3 -3 -3`},
		{src: `{{mod 7 3}} {{mod -7 3}} {{mod 7 -3}}`, want: `1 -1 1`},
		{src: `{{div -9223372036854775808 -1}} {{mod -9223372036854775808 -1}}`, want: `-9223372036854775808 0`},
		{src: `{{add 9223372036854775807 1}}`, want: `-9223372036854775808`},
		{src: `{{div 1 0}}`, err: execErr(2, `div 1 0`, "div", "integer divide by zero")},
		{src: `{{mod 1 0}}`, err: execErr(2, `mod 1 0`, "mod", "integer divide by zero")},
		{src: `{{add "1" 2}}`, err: typeErr(6, `"1"`, `expected integer; found "1"`)},
		{src: `{{sub 1 "2"}}`, err: typeErr(8, `"2"`, `expected integer; found "2"`)},
		{src: `{{mul 1.5 2}}`, err: typeErr(6, `1.5`, `expected integer; found 1.5`)},
		{src: `{{add (getv "/n/count") 1}}`, err: typeErr(12, `"/n/count"`, "wrong type for value; expected int; got string")},
		{src: `{{add 1}}`, err: `template: t.tmpl:1:2: executing "t.tmpl" at <add>: wrong number of args for add: want 2 got 1`},
		{src: `{{seq 1 3}}`, want: `[1 2 3]`},
		{src: `{{seq 3 1}}`, want: `[]`},
		{src: `{{seq -1 1}}`, want: `[-1 0 1]`},
		{src: `{{seq 5 5}}`, want: `[5]`},
		{src: `{{range seq 1 (atoi (getv "/n/count"))}}{{.}},{{end}}`, want: `1,2,3,`},
		// No wrap-around at the top of the int range.
		{src: `{{seq 9223372036854775806 9223372036854775807}}`, want: `[9223372036854775806 9223372036854775807]`},
		{src: `{{len (seq 1 1048576)}}`, want: `1048576`},
		{src: `{{seq 0 1048576}}`, err: execErr(2, `seq 0 1048576`, "seq", "sequence from 0 to 1048576 has more than 1048576 numbers")},
		{src: `{{seq -9223372036854775808 9223372036854775807}}`,
			err: execErr(2, `seq -9223372036854775808 9223372036854775807`, "seq", "sequence from -9223372036854775808 to 9223372036854775807 has more than 1048576 numbers")},
	})
}

func TestLookup(t *testing.T) {
	runCases(t, []tcase{
		{src: `{{lookupIP "multi"}}`, want: `[1.2.3.4 10.0.0.10 10.0.0.2 ::1 fe80::1]`},
		{src: `{{lookupIPV4 "multi"}}`, want: `[1.2.3.4 10.0.0.10 10.0.0.2]`},
		{src: `{{lookupIPV6 "multi"}}`, want: `[::1 fe80::1]`},
		{src: `{{lookupIPV6 "v4only"}} {{lookupIP "v4only"}}`, want: `[] [192.0.2.1]`},
		{src: `{{lookupIP "empty"}} {{lookupIP "nxdomain"}} {{len (lookupIPV4 "nxdomain")}}`, want: `[] [] 0`},
		{src: `{{range lookupSRV "http" "tcp" "example.test"}}{{.Target}}:{{.Port}} {{.Priority}} {{.Weight}};{{end}}`,
			want: `a.example.:80 2 1;a.example.:8080 1 1;b.example.:80 10 5;c.example.:10 0 0;c.example.:9 0 0;`},
		{src: `{{len (lookupSRV "x" "y" "z")}}`, want: `0`},
	})
}

// TestLookupLocalhost uses the real resolver, for the loopback name only.
func TestLookupLocalhost(t *testing.T) {
	fm := FuncMap(nil)
	ips := fm["lookupIP"].(func(string) []string)("localhost")
	if len(ips) == 0 {
		t.Skip("localhost does not resolve here")
	}
	if !slices.IsSorted(ips) {
		t.Errorf("lookupIP localhost = %q, not sorted", ips)
	}
	for _, s := range ips {
		if ip := net.ParseIP(s); ip == nil || !ip.IsLoopback() {
			t.Errorf("lookupIP localhost gave %q, not a loopback address", s)
		}
	}
}

func TestGetenv(t *testing.T) {
	t.Setenv("HECD_TMPLFUNC_SET", "val")
	t.Setenv("HECD_TMPLFUNC_EMPTY", "")
	t.Setenv("HECD_TMPLFUNC_UNSET", "x")
	os.Unsetenv("HECD_TMPLFUNC_UNSET") // t.Setenv restores the old state afterwards
	runCases(t, []tcase{
		{src: `{{getenv "HECD_TMPLFUNC_SET"}} {{getenv "HECD_TMPLFUNC_SET" "d"}}`, want: `val val`},
		{src: `{{getenv "HECD_TMPLFUNC_EMPTY" "d"}} {{getenv "HECD_TMPLFUNC_UNSET" "d"}}`, want: `d d`},
		{src: `{{getenv "HECD_TMPLFUNC_UNSET"}}|{{getenv "HECD_TMPLFUNC_EMPTY"}}|`, want: `||`},
		{src: `{{getenv "HECD_TMPLFUNC_UNSET" "a" "b"}}`, want: `a`},
	})
}

func TestFileExists(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "gone"), filepath.Join(dir, "dangling")); err != nil {
		t.Fatal(err)
	}
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	runCases(t, []tcase{
		{src: `{{fileExists ` + q(file) + `}} {{fileExists ` + q(dir) + `}}`, want: `true true`},
		{src: `{{fileExists ` + q(filepath.Join(dir, "missing")) + `}}`, want: `false`},
		{src: `{{fileExists ` + q(filepath.Join(dir, "dangling")) + `}}`, want: `false`},
		{src: `{{fileExists ""}}`, want: `false`},
	})

	// A permission error counts as existing (root is never refused).
	if os.Geteuid() != 0 {
		locked := filepath.Join(dir, "locked")
		if err := os.Mkdir(locked, 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(locked, 0o755) })
		runCases(t, []tcase{{src: `{{fileExists ` + q(filepath.Join(locked, "x")) + `}}`, want: `true`}})
	}
}

func TestDatetime(t *testing.T) {
	before := time.Now()
	got, err := render(t, `{{datetime.Format "2006-01-02T15:04:05.000000000Z07:00"}}|{{datetime}}`)
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	formatted, bare, _ := strings.Cut(got, "|")
	tm, err := time.Parse("2006-01-02T15:04:05.000000000Z07:00", formatted)
	if err != nil {
		t.Fatalf("datetime.Format gave %q: %v", formatted, err)
	}
	if tm.Before(before.Round(0)) || tm.After(after.Round(0)) {
		t.Errorf("datetime = %v, not between %v and %v", tm, before, after)
	}
	if got, want := tm.Format("Z07:00"), before.Format("Z07:00"); got != want {
		t.Errorf("datetime offset %s, want local %s", got, want)
	}
	// Printed bare it carries the monotonic clock reading, as in confd.
	if !strings.Contains(bare, " m=+") {
		t.Errorf("bare datetime = %q, want a monotonic suffix", bare)
	}
}

func TestBuiltins(t *testing.T) {
	runCases(t, []tcase{
		{src: `{{.}}`, want: `<no value>`}, // nil data
		{src: `{{"<&>"}}`, want: `<&>`},    // no HTML escaping
		{src: `{{html "<a>"}} {{js "'"}} {{urlquery "a b"}}`, want: `&lt;a&gt; \' a+b`},
		{src: `{{printf "%05d" 42}} {{print 1 "a"}} {{println "x"}}`, want: "00042 1a x\n"},
		{src: `{{if and (exists "/app/name") (not (exists "/app"))}}ok{{end}}`, want: `ok`},
		{src: `{{if or (exists "/nope") (eq (getv "/top") "t")}}ok{{end}}`, want: `ok`},
		{src: `{{len (getvs "/sort/*")}} {{index (getvs "/sort/*") 0}} {{slice (getv "/app/name") 0 2}}`, want: `3 aa my`},
		{src: `{{if lt (len (ls "/app")) 4}}lt{{end}} {{if ge 2 2}}ge{{end}} {{if ne 1 2}}ne{{end}}`, want: `lt ge ne`},
		{src: `{{block "b" .}}x{{end}}`, want: `x`},
		{src: `{{define "x"}}[{{.}}]{{end}}{{template "x" "arg"}}{{template "x" getv "/top"}}`, want: `[arg][t]`},
		{src: `{{range $i, $kv := gets "/sort/*"}}{{$i}}={{$kv.Value}} {{end}}`, want: `0=zz 1=mm 2=aa `},
		{src: `{{range $i, $e := seq 1 3}}{{if eq $e 2}}{{continue}}{{end}}{{$e}}{{end}}`, want: `13`},
		{src: "a\n{{- getv \"/top\" -}}\nb", want: `atb`},
		{src: `{{cget "/x"}}`, err: `template: t.tmpl:1: function "cget" not defined`},
		{src: `{{cgetvs "/x/*"}}`, err: `template: t.tmpl:1: function "cgetvs" not defined`},
	})
}

// TestFuncMapNames pins the function set: confd 0.16's seven store
// functions and thirty-two general ones, and nothing else.
func TestFuncMapNames(t *testing.T) {
	want := []string{
		"add", "atoi", "base", "base64Decode", "base64Encode", "contains",
		"datetime", "dir", "div", "exists", "fileExists", "get", "getenv",
		"gets", "getv", "getvs", "join", "json", "jsonArray", "lookupIP",
		"lookupIPV4", "lookupIPV6", "lookupSRV", "ls", "lsdir", "map", "mod",
		"mul", "parseBool", "replace", "reverse", "seq", "sortByLength",
		"sortKVByLength", "split", "sub", "toLower", "toUpper", "trimSuffix",
	}
	for _, fm := range []template.FuncMap{FuncMap(nil), FuncMapWith(NewStore(nil), nil)} {
		var got []string
		for name := range fm {
			got = append(got, name)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("function names = %q\nwant %q", got, want)
		}
	}
	if len(want) != 7+32 {
		t.Errorf("want list has %d names", len(want))
	}
}

// TestDivDirect calls div and mod outside a template: the zero divisor must
// come back as an error, never as a panic for text/template to recover.
func TestDivDirect(t *testing.T) {
	for _, f := range []func(int, int) (int, error){div, mod} {
		if _, err := f(1, 0); !errors.Is(err, errDivZero) {
			t.Errorf("got %v, want %v", err, errDivZero)
		}
	}
}

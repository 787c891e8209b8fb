package tmplfunc

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"text/template"
)

var errLimit = errors.New("output limit reached")

// limitWriter accepts n bytes, then fails: text/template stops at the first
// failed write, which bounds a fuzzed template's output.
type limitWriter struct{ n int }

func (w *limitWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errLimit
	}
	w.n -= len(p)
	return len(p), nil
}

// guardPanics wraps every function so that a panic inside one is recorded
// before text/template recovers it into an ordinary error: the fuzz target
// must see panics in our functions, not only panics that escape.
func guardPanics(fm template.FuncMap, panicked *string) template.FuncMap {
	out := make(template.FuncMap, len(fm))
	for name, fn := range fm {
		v := reflect.ValueOf(fn)
		out[name] = reflect.MakeFunc(v.Type(), func(args []reflect.Value) []reflect.Value {
			defer func() {
				if r := recover(); r != nil {
					*panicked = fmt.Sprintf("%s panicked: %v", name, r)
					panic(r)
				}
			}()
			if v.Type().IsVariadic() {
				return v.CallSlice(args)
			}
			return v.Call(args)
		}).Interface()
	}
	return out
}

// tooCostly rejects inputs whose run time is unbounded for reasons that
// are text/template's and not this package's: recursion through
// template/block (exponential), nested loops and big literal counts.
func tooCostly(src string) bool {
	if len(src) > 512 || strings.Count(src, "range") > 1 ||
		strings.Contains(src, "template") || strings.Contains(src, "block") {
		return true
	}
	digits := 0
	for _, r := range src {
		if r >= '0' && r <= '9' {
			digits++
			if digits > 4 {
				return true
			}
		} else {
			digits = 0
		}
	}
	return false
}

// FuzzRender renders arbitrary small templates against a fixed store and
// the fake resolver. Errors are expected; a panic, anywhere, is a failure.
func FuzzRender(f *testing.F) {
	seeds := []string{
		`{{range gets "/app/servers/*"}}{{base .Key}} {{.Value}}{{end}}`,
		`{{getv "/app/name" "d"}}{{getvs "/sort/*"}}{{exists "/app"}}{{get "/top"}}`,
		`{{ls "/"}}{{lsdir "/"}}{{ls "/app/"}}{{lsdir "/mix"}}`,
		`{{$v := json (getv "/json/obj")}}{{$v.IP}}{{jsonArray (getv "/json/arr")}}`,
		`{{map "a" 1}}{{split "a:b" ":"}}{{join (ls "/app") ","}}{{dir "/a/b"}}`,
		`{{reverse (gets "/sort/*")}}{{sortByLength (getvs "/len/*")}}{{sortKVByLength (gets "/len/*")}}`,
		`{{add 1 2}}{{sub 3 4}}{{mul 5 6}}{{div 7 0}}{{mod 8 0}}{{seq 1 (atoi "3")}}`,
		`{{base64Decode (base64Encode "x")}}{{parseBool "t"}}{{replace "a" "a" "b" -1}}`,
		`{{lookupIP "multi"}}{{lookupIPV4 "multi"}}{{lookupIPV6 "x"}}{{lookupSRV "http" "tcp" "example.test"}}`,
		`{{toUpper "a"}}{{toLower "B"}}{{contains "ab" "b"}}{{trimSuffix "ab" "b"}}{{getenv "HOME" "x"}}`,
		`{{gets "/x/["}}{{getv}}{{add "1" 2}}{{json "null"}}{{datetime.Year}}{{fileExists "/"}}`,
		`{{with get "/mix"}}{{.Key}}{{end}}{{if exists "/n/count"}}{{index (split "a" "") 0}}{{end}}`,
	}
	for _, s := range seeds {
		f.Add(s)
	}
	store := NewStore(testKeys)
	f.Fuzz(func(t *testing.T, src string) {
		if tooCostly(src) {
			t.Skip()
		}
		var panicked string
		tmpl, err := Parse("fuzz.tmpl", src, guardPanics(FuncMapWith(store, testResolver), &panicked))
		if err != nil {
			return
		}
		_ = tmpl.Execute(&limitWriter{n: 1 << 16}, nil)
		if panicked != "" {
			t.Fatalf("%s\ntemplate: %q", panicked, src)
		}
	})
}

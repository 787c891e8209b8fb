package tmplfunc

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"text/template"
)

// TestRenderHAProxyReference renders the template of the spec's reference
// transcript (confd.md section 15) from the same three keys and compares
// with the file confd 0.16 wrote, byte for byte.
func TestRenderHAProxyReference(t *testing.T) {
	src, err := os.ReadFile("testdata/haproxy.cfg.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/haproxy.cfg.golden")
	if err != nil {
		t.Fatal(err)
	}
	s := NewStore(map[string]string{
		"/app/servers/app1": "10.0.0.11:8080",
		"/app/servers/app2": "10.0.0.12:8080",
		"/app/servers/app3": "10.0.0.13:8081",
	})
	var got bytes.Buffer
	if err := Render("/etc/confd/templates/haproxy.cfg.tmpl", string(src), s, &got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("rendered:\n%s\nwant:\n%s", got.Bytes(), want)
	}
}

func TestRenderErrors(t *testing.T) {
	s := NewStore(map[string]string{"/n": "3"})
	cases := []struct {
		name, src, err, partial string
		exec                    bool // an execution error (template.ExecError)
	}{
		{
			name:    "function error names template, line, column, call and function",
			src:     "global\n    daemon\n   {{getv \"/x\"}}\n",
			err:     `template: haproxy.cfg.tmpl:3:5: executing "haproxy.cfg.tmpl" at <getv "/x">: error calling getv: key does not exist: /x`,
			partial: "global\n    daemon\n   ",
			exec:    true,
		},
		{
			name: "string given to an int parameter",
			src:  "x\n{{add \"1\" 2}}",
			err:  `template: haproxy.cfg.tmpl:2:6: executing "haproxy.cfg.tmpl" at <"1">: expected integer; found "1"`,
			exec: true, partial: "x\n",
		},
		{
			name: "error inside a range body",
			src:  `{{range ls "/"}}{{getv .}}{{end}}`,
			err:  `template: haproxy.cfg.tmpl:1:18: executing "haproxy.cfg.tmpl" at <getv .>: error calling getv: key does not exist: n`,
			exec: true,
		},
		{
			name: "error inside a defined template",
			src:  "{{define \"d\"}}\n{{div 1 0}}{{end}}{{template \"d\"}}",
			err:  `template: haproxy.cfg.tmpl:2:2: executing "d" at <div 1 0>: error calling div: integer divide by zero`,
			exec: true, partial: "\n",
		},
		{
			name: "unknown function is a parse error",
			src:  "a\n{{foo}}",
			err:  `template: haproxy.cfg.tmpl:2: function "foo" not defined`,
		},
		{
			name: "unclosed action",
			src:  `{{range gets "/a/*"}}`,
			err:  `template: haproxy.cfg.tmpl:1: unexpected EOF`,
		},
		{
			name: "bad syntax",
			src:  "{{getv \"/n\"",
			err:  `template: haproxy.cfg.tmpl:1: unclosed action`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			err := Render("/etc/confd/templates/haproxy.cfg.tmpl", c.src, s, &b)
			if err == nil || err.Error() != c.err {
				t.Fatalf("error %v\nwant  %s", err, c.err)
			}
			var ee template.ExecError
			if got := errors.As(err, &ee); got != c.exec {
				t.Errorf("errors.As(ExecError) = %v, want %v", got, c.exec)
			}
			if b.String() != c.partial {
				t.Errorf("output before the error = %q, want %q", b.String(), c.partial)
			}
		})
	}
}

// TestRenderName: the template is named after the base name of the path.
func TestRenderName(t *testing.T) {
	for path, want := range map[string]string{
		"/etc/confd/templates/nginx.conf.tmpl": "nginx.conf.tmpl",
		"relative/x.tmpl":                      "x.tmpl",
		"bare.tmpl":                            "bare.tmpl",
	} {
		tmpl, err := Parse(path, "", FuncMap(nil))
		if err != nil {
			t.Fatal(err)
		}
		if tmpl.Name() != want {
			t.Errorf("Parse(%q).Name() = %q, want %q", path, tmpl.Name(), want)
		}
	}
}

// TestRenderWriteError: a failing writer stops rendering with its error.
func TestRenderWriteError(t *testing.T) {
	w := &limitWriter{n: 3}
	err := Render("t.tmpl", `{{range seq 1 100}}{{.}}{{end}}`, nil, w)
	if !errors.Is(err, errLimit) {
		t.Errorf("error %v, want %v", err, errLimit)
	}
}

func TestRenderEmpty(t *testing.T) {
	var b strings.Builder
	if err := Render("t.tmpl", "", nil, &b); err != nil || b.Len() != 0 {
		t.Errorf("empty template: %q, %v", b.String(), err)
	}
}

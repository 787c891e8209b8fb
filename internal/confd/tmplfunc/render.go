package tmplfunc

import (
	"io"
	"path/filepath"
	"text/template"
)

// Parse parses src as a text/template named after the base name of
// srcPath, as confd names it, so that parse and execution errors read
// "template: haproxy.cfg.tmpl:3: ..." exactly as confd's do. All of
// text/template's built-ins stay available; define/template/block work
// within the one file. The error is text/template's, unwrapped.
func Parse(srcPath, src string, funcs template.FuncMap) (*template.Template, error) {
	return template.New(filepath.Base(srcPath)).Funcs(funcs).Parse(src)
}

// Render parses src (see Parse) with FuncMap(s) and executes it with nil
// data, since confd's templates get everything through functions. On an
// execution error, part of the output may already have been written to w;
// callers render into a stage file and discard it on error, as confd does.
// A function's error reads
//
//	template: NAME:LINE:COL: executing "NAME" at <CALL>: error calling FN: ERROR
func Render(srcPath, src string, s *Store, w io.Writer) error {
	t, err := Parse(srcPath, src, FuncMap(s))
	if err != nil {
		return err
	}
	return t.Execute(w, nil)
}

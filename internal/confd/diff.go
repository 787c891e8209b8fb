package confd

import (
	"fmt"
	"os"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
)

// printDiff writes what -noop would change as a unified diff (confd only
// logged the two md5 sums).
func (rd *Renderer) printDiff(dest string, content []byte) {
	old, err := os.ReadFile(dest)
	if err != nil {
		old = nil
	}
	d := difflib.UnifiedDiff{
		A:        diffLines(old),
		B:        diffLines(content),
		FromFile: dest,
		ToFile:   dest + " (rendered)",
		Context:  3,
	}
	text, err := difflib.GetUnifiedDiffString(d)
	if err != nil {
		rd.log.Error(fmt.Sprintf("noop diff of %s: %v", dest, err))
		return
	}
	fmt.Fprint(rd.cfg.Diff, text)
}

// diffLines splits text into lines that keep their newline; a last line
// without one is marked as diff(1) marks it.
func diffLines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	lines := strings.SplitAfter(string(b), "\n")
	if last := lines[len(lines)-1]; last == "" {
		lines = lines[:len(lines)-1]
	} else {
		lines[len(lines)-1] = last + "\n\\ No newline at end of file\n"
	}
	return lines
}

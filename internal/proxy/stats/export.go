package stats

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"io"
	"strings"
)

// csvHeader is the first line of ;csv. Like HAProxy, every field, the last
// one included, is followed by a comma.
var csvHeader = "# " + strings.Join(columns[:], ",") + ",\n"

// writeCSV writes HAProxy's format: fields quoted only when needed, with
// '"' doubled (encoding/csv's rules), each line ending in a comma.
func writeCSV(w io.Writer, v *view) {
	bw := bufio.NewWriter(w)
	bw.WriteString(csvHeader)
	cw := csv.NewWriter(bw)
	rec := make([]string, nFields+1) // the extra empty field gives the trailing comma
	for _, p := range v.proxies {
		for i := range p.rows {
			copy(rec, p.rows[i].f[:])
			cw.Write(rec)
		}
	}
	cw.Flush()
	bw.Flush()
}

// writeJSON writes ;json (see the package comment). It is written by hand
// because encoding/json would sort the keys and lose the CSV order.
func writeJSON(w io.Writer, v *view) {
	bw := bufio.NewWriter(w)
	bw.WriteByte('[')
	first := true
	for _, p := range v.proxies {
		for i := range p.rows {
			if !first {
				bw.WriteByte(',')
			}
			first = false
			writeJSONRow(bw, &p.rows[i].f)
		}
	}
	bw.WriteString("]\n")
	bw.Flush()
}

func writeJSONRow(bw *bufio.Writer, f *[nFields]string) {
	bw.WriteByte('{')
	sep := false
	for i, val := range f {
		if val == "" {
			continue
		}
		if sep {
			bw.WriteByte(',')
		}
		sep = true
		bw.WriteByte('"')
		bw.WriteString(columns[i]) // names are plain ASCII
		bw.WriteString(`":`)
		if textFields[i] {
			b, _ := json.Marshal(val)
			bw.Write(b)
		} else {
			bw.WriteString(val) // produced by strconv: a valid JSON number
		}
	}
	bw.WriteByte('}')
}

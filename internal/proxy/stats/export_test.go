package stats

import (
	"encoding/csv"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"hecd/internal/proxy"
)

// The header as HAProxy prints it (fields 0-80, each followed by a comma).
const wantHeader = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,"

// readCSV fetches target and returns the header line and the records
// keyed by "pxname/svname".
func readCSV(t *testing.T, fx *fixture, target string) (string, []string, map[string][]string) {
	t.Helper()
	w := fx.do(t, req{target: target})
	if w.Code != 200 {
		t.Fatalf("GET %s: %d %s", target, w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	header, rest, _ := strings.Cut(w.Body.String(), "\n")
	recs, err := csv.NewReader(strings.NewReader(rest)).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, rest)
	}
	var order []string
	byName := map[string][]string{}
	for _, r := range recs {
		if len(r) != nFields+1 || r[nFields] != "" {
			t.Fatalf("record has %d fields (want %d and a trailing comma): %q", len(r), nFields+1, r)
		}
		k := r[fPxname] + "/" + r[fSvname]
		order = append(order, k)
		byName[k] = r[:nFields]
	}
	return header, order, byName
}

func TestCSVHeaderExact(t *testing.T) {
	if len(columns) != 81 {
		t.Fatalf("%d columns, want 81 (0-80)", len(columns))
	}
	fx := newFixture(t)
	header, _, _ := readCSV(t, fx, "/admin-status;csv")
	if header != wantHeader {
		t.Errorf("header\n got %s\nwant %s", header, wantHeader)
	}
}

func TestCSVColumnPositions(t *testing.T) {
	fx := newFixture(t)
	_, order, rows := readCSV(t, fx, "/admin-status;csv;norefresh")
	wantOrder := []string{
		"http_80_in/FRONTEND",
		"app1/app1", "app1/BACKEND",
		"app2/app2", "app2/BACKEND",
		"default_pool/s1", "default_pool/s2", "default_pool/BACKEND",
	}
	if !slices.Equal(order, wantOrder) {
		t.Fatalf("rows\n got %q\nwant %q", order, wantOrder)
	}
	tests := []struct {
		row   string
		field int
		want  string
	}{
		{"app1/app1", 4, "2"},     // scur
		{"app1/app1", 5, "3"},     // smax
		{"app1/app1", 7, "3"},     // stot
		{"app1/app1", 13, "4"},    // econ
		{"app1/app1", 15, "3"},    // wretr
		{"app1/app1", 16, "1"},    // wredis
		{"app1/app1", 17, "UP"},   // status
		{"app1/app1", 18, "1"},    // weight
		{"app1/app1", 21, "5"},    // chkfail
		{"app1/app1", 22, "2"},    // chkdown
		{"app1/app1", 23, "90"},   // lastchg
		{"app1/app1", 24, "30"},   // downtime
		{"app1/app1", 28, "1"},    // sid
		{"app1/app1", 32, "2"},    // type: server
		{"app1/app1", 36, "L4OK"}, // check_status
		{"app1/app1", 38, "2"},    // check_duration (ms)
		{"app1/app1", 40, "2"},    // hrsp_2xx
		{"app1/app1", 43, "1"},    // hrsp_5xx
		{"app1/app1", 55, "5"},    // lastsess
		{"app1/app1", 65, "Layer4 check passed"},
		{"app1/app1", 67, "2"},             // check_rise
		{"app1/app1", 68, "1"},             // check_fall
		{"app1/app1", 73, "10.0.0.1:8080"}, // addr
		{"app2/app2", 17, "DOWN"},
		{"app2/app2", 36, "L4CON"},
		{"default_pool/s1", 17, "UP 1/2"},
		{"default_pool/s1", 18, "3"},
		{"default_pool/s1", 36, "L7STS"},
		{"default_pool/s1", 37, "500"}, // check_code
		{"default_pool/s2", 17, "no check"},
		{"default_pool/s2", 36, ""},
		{"default_pool/s2", 55, "-1"},     // lastsess: never
		{"default_pool/BACKEND", 18, "4"}, // weight: 3 + 1
		{"default_pool/BACKEND", 19, "2"}, // act
		{"app1/BACKEND", 17, "UP"},
		{"app1/BACKEND", 32, "1"},          // type: backend
		{"app1/BACKEND", 76, "roundrobin"}, // algo
		{"app1/BACKEND", 28, "0"},          // sid
		{"http_80_in/FRONTEND", 6, "2000"}, // slim
		{"http_80_in/FRONTEND", 12, "1"},   // ereq
		{"http_80_in/FRONTEND", 17, "OPEN"},
		{"http_80_in/FRONTEND", 32, "0"},    // type: frontend
		{"http_80_in/FRONTEND", 48, "3"},    // req_tot
		{"http_80_in/FRONTEND", 75, "http"}, // mode
	}
	for _, tc := range tests {
		r, ok := rows[tc.row]
		if !ok {
			t.Errorf("no row %s", tc.row)
			continue
		}
		if got := r[tc.field]; got != tc.want {
			t.Errorf("%s field %d (%s) = %q, want %q", tc.row, tc.field, columns[tc.field], got, tc.want)
		}
	}
}

// TestCSVWholeLine pins every position of one server line, so that any
// shift of a column shows.
func TestCSVWholeLine(t *testing.T) {
	fx := newFixture(t)
	w := fx.do(t, req{target: "/admin-status;csv"})
	want := map[int]string{
		0: "app1", 1: "app1", 2: "0", 3: "0", 4: "2", 5: "3", 7: "3", 8: "100", 9: "2000",
		11: "0", 13: "4", 14: "0", 15: "3", 16: "1", 17: "UP", 18: "1", 19: "1", 20: "0",
		21: "5", 22: "2", 23: "90", 24: "30", 26: "1", 27: "2", 28: "1", 30: "3", 32: "2",
		36: "L4OK", 38: "2", 39: "0", 40: "2", 41: "0", 42: "0", 43: "1", 44: "0",
		45: "0", 48: "3", 49: "0", 50: "0", 55: "5", 65: "Layer4 check passed",
		67: "2", 68: "1", 69: "2", 73: "10.0.0.1:8080", 75: "http",
	}
	fields := make([]string, nFields)
	for i, v := range want {
		fields[i] = v
	}
	line := strings.Join(fields, ",") + ","
	if !strings.Contains(w.Body.String(), "\n"+line+"\n") {
		t.Errorf("want line\n%s\nin\n%s", line, w.Body)
	}
}

func TestCSVQuoting(t *testing.T) {
	fx := newFixture(t)
	s := proxy.NewServer(`a,"b`, "10.0.0.3:1")
	fx.router.Swap(proxy.NewTable(43, []*proxy.Backend{proxy.NewBackend(`a,"b`, s)}, nil, nil))
	w := fx.do(t, req{target: "/admin-status;csv"})
	if !strings.Contains(w.Body.String(), "\n"+`"a,""b","a,""b",0,0,`) {
		t.Errorf("want quoted and doubled id:\n%s", w.Body)
	}
}

func TestFilters(t *testing.T) {
	tests := []struct {
		suffix string
		want   []string
	}{
		{"", []string{"http_80_in/FRONTEND", "app1/app1", "app1/BACKEND", "app2/app2", "app2/BACKEND", "default_pool/s1", "default_pool/s2", "default_pool/BACKEND"}},
		// app2 is DOWN, s2 in MAINT: ;up hides both.
		{";up", []string{"http_80_in/FRONTEND", "app1/app1", "app1/BACKEND", "app2/BACKEND", "default_pool/s1", "default_pool/BACKEND"}},
		{";no-maint", []string{"http_80_in/FRONTEND", "app1/app1", "app1/BACKEND", "app2/app2", "app2/BACKEND", "default_pool/s1", "default_pool/BACKEND"}},
		{";up;no-maint", []string{"http_80_in/FRONTEND", "app1/app1", "app1/BACKEND", "app2/BACKEND", "default_pool/s1", "default_pool/BACKEND"}},
	}
	fx := newFixture(t)
	fx.s2.SetAdmin(proxy.Maint)
	for _, tc := range tests {
		t.Run(tc.suffix, func(t *testing.T) {
			// Suffixes may come in any order around ;csv.
			_, order, _ := readCSV(t, fx, "/admin-status"+tc.suffix+";csv")
			if !slices.Equal(order, tc.want) {
				t.Errorf("rows\n got %q\nwant %q", order, tc.want)
			}
			// The JSON export and the HTML page filter the same way.
			var rows []map[string]any
			if err := json.Unmarshal(fx.do(t, req{target: "/admin-status;json" + tc.suffix}).Body.Bytes(), &rows); err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(tc.want) {
				t.Errorf("json has %d rows, want %d", len(rows), len(tc.want))
			}
			page := fx.do(t, req{target: "/admin-status" + tc.suffix}).Body.String()
			hidden := !slices.Contains(tc.want, "default_pool/s2")
			if got := !strings.Contains(page, `<td class="name">s2</td>`); got != hidden {
				t.Errorf("HTML hides s2 = %v, want %v", got, hidden)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	fx := newFixture(t)
	w := fx.do(t, req{target: "/admin-status;json"})
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	body := w.Body.String()
	// Keys follow the CSV order; the first object is the frontend.
	if !strings.HasPrefix(body, `[{"pxname":"http_80_in","svname":"FRONTEND","scur":2,"smax":3,"slim":2000,"stot":3,`) {
		t.Errorf("unexpected start: %.200s", body)
	}
	var rows []map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 8 {
		t.Fatalf("%d rows", len(rows))
	}
	app1 := rows[1]
	for k, want := range map[string]any{
		"pxname": "app1", "svname": "app1", "scur": 2.0, "status": "UP", "weight": 1.0, "type": 2.0,
		"check_status": "L4OK", "hrsp_2xx": 2.0, "addr": "10.0.0.1:8080", "check_desc": "Layer4 check passed",
	} {
		if app1[k] != want {
			t.Errorf("%s = %#v, want %#v", k, app1[k], want)
		}
	}
	for _, absent := range []string{"qlimit", "rate", "cookie", "agent_status"} {
		if _, ok := app1[absent]; ok {
			t.Errorf("%s present though hecd cannot compute it", absent)
		}
	}
}

package store

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// t0 is the fixed "now" of the scenarios: a whole second, so that
// expirations render without a fraction.
var t0 = time.Date(2026, time.November, 22, 4, 22, 50, 0, time.UTC).UnixNano()

const sec = int64(time.Second)

// Request builders. Time is filled in by stRun when left 0.
func rSet(k, v string) *Request    { return &Request{Op: OpSet, Key: k, Value: v} }
func rSetDir(k string) *Request    { return &Request{Op: OpSet, Key: k, Dir: true} }
func rCreate(k, v string) *Request { return &Request{Op: OpCreate, Key: k, Value: v} }
func rCreateDir(k string) *Request { return &Request{Op: OpCreate, Key: k, Dir: true} }
func rUpdate(k, v string) *Request { return &Request{Op: OpUpdate, Key: k, Value: v} }
func rPost(k, v string) *Request   { return &Request{Op: OpCreateInOrder, Key: k, Value: v} }
func rPostDir(k string) *Request   { return &Request{Op: OpCreateInOrder, Key: k, Dir: true} }
func rCAS(k, v, pv string, pi uint64) *Request {
	return &Request{Op: OpCompareAndSwap, Key: k, Value: v, PrevValue: pv, PrevIndex: pi}
}
func rDel(k string, dir, rec bool) *Request {
	return &Request{Op: OpDelete, Key: k, Dir: dir, Recursive: rec}
}
func rCAD(k, pv string, pi uint64) *Request {
	return &Request{Op: OpCompareAndDelete, Key: k, PrevValue: pv, PrevIndex: pi}
}
func rExpire(at int64) *Request { return &Request{Op: OpExpire, Time: at} }

// withTTL sets the expiration ttl seconds after t0 (the request's time).
func withTTL(r *Request, ttl int64) *Request {
	r.Expiration = t0 + ttl*sec
	return r
}

func refresh(r *Request) *Request { r.Refresh = true; return r }

// stStep is one step of a scenario: an Apply (req) or a Get (get).
type stStep struct {
	req  *Request
	get  string
	rec  bool
	at   int64 // offset from t0 of a get's "now"
	want string
	// idx, when non-zero, is the index the store must be at afterwards.
	idx uint64
}

func get(k string, want string) stStep  { return stStep{get: k, want: want} }
func getR(k string, want string) stStep { return stStep{get: k, rec: true, want: want} }
func do(r *Request, want string) stStep { return stStep{req: r, want: want} }

// newBootstrapped returns a store at index 3, like a fresh single etcd
// member: the golden transcripts' indexes then apply unchanged.
func newBootstrapped(t testing.TB) *Store {
	t.Helper()
	s := New()
	if ev, err := s.Apply(&Request{Op: OpMemberBootstrap, Time: t0}); ev != nil || err != nil {
		t.Fatalf("bootstrap: %v %v", ev, err)
	}
	if got := s.Index(); got != 3 {
		t.Fatalf("index after bootstrap = %d, want 3", got)
	}
	return s
}

func stRun(t *testing.T, s *Store, steps []stStep) {
	t.Helper()
	for i, st := range steps {
		before := s.Index()
		var got string
		var what string
		if st.req != nil {
			r := *st.req
			if r.Time == 0 {
				r.Time = t0
			}
			what = opName(r.Op) + " " + r.Key
			ev, err := s.Apply(&r)
			switch {
			case err != nil:
				got = string(err.AppendJSON(nil))
				if err.Index != before {
					t.Errorf("step %d (%s): error index %d, store was at %d", i, what, err.Index, before)
				}
				if s.Index() != before {
					t.Errorf("step %d (%s): failed op moved the index %d -> %d", i, what, before, s.Index())
				}
			case ev != nil:
				got = string(ev.JSON())
				if ev.Index != s.Index() || ev.Index != before+1 {
					t.Errorf("step %d (%s): event index %d, store %d, before %d", i, what, ev.Index, s.Index(), before)
				}
				if !json.Valid(ev.JSON()) {
					t.Errorf("step %d (%s): invalid JSON %q", i, what, got)
				}
			}
		} else {
			what = "get " + st.get
			ev, idx, err := s.Get(st.get, st.rec, t0+st.at)
			if idx != before {
				t.Errorf("step %d (%s): get index %d, want %d", i, what, idx, before)
			}
			if err != nil {
				got = string(err.AppendJSON(nil))
			} else {
				got = string(ev.AppendJSON(nil))
			}
			if s.Index() != before {
				t.Errorf("step %d (%s): get moved the index", i, what)
			}
		}
		got = strings.TrimSuffix(got, "\n")
		if got != st.want {
			t.Errorf("step %d (%s):\n got %s\nwant %s", i, what, got, st.want)
		}
		if st.idx != 0 && s.Index() != st.idx {
			t.Errorf("step %d (%s): index %d, want %d", i, what, s.Index(), st.idx)
		}
	}
}

func opName(op Op) string {
	names := map[Op]string{OpSet: "set", OpCreate: "create", OpUpdate: "update", OpCompareAndSwap: "cas",
		OpDelete: "delete", OpCompareAndDelete: "cad", OpCreateInOrder: "post", OpExpire: "expire",
		OpMemberBootstrap: "bootstrap", OpMemberStart: "start", OpMemberUpdate: "mupdate",
		OpMemberAdd: "madd", OpMemberRemove: "mremove", OpNoop: "noop"}
	if n, ok := names[op]; ok {
		return n
	}
	return "op?"
}

func TestFreshStore(t *testing.T) {
	s := New()
	if s.Index() != 0 || s.NextExpiration() != 0 {
		t.Fatalf("fresh store: index %d next expiration %d", s.Index(), s.NextExpiration())
	}
	ev, idx, err := s.Get("/", false, t0)
	if err != nil || idx != 0 {
		t.Fatalf("get root: %v %d", err, idx)
	}
	if got := string(ev.JSON()); got != `{"action":"get","node":{"dir":true}}`+"\n" {
		t.Fatalf("root = %q", got)
	}
	s = newBootstrapped(t)
	stRun(t, s, []stStep{
		get("/", `{"action":"get","node":{"dir":true}}`),
		getR("/", `{"action":"get","node":{"dir":true}}`),
		{req: rSet("/first", "x"), want: `{"action":"set","node":{"key":"/first","value":"x","modifiedIndex":4,"createdIndex":4}}`},
	})
}

// TestKeysBasics follows keys.txt: set, get, update, create, delete, paths
// and value escaping.
func TestKeysBasics(t *testing.T) {
	s := newBootstrapped(t)
	stRun(t, s, []stStep{
		do(rSet("/message", "Hello world"), `{"action":"set","node":{"key":"/message","value":"Hello world","modifiedIndex":4,"createdIndex":4}}`),
		get("/message", `{"action":"get","node":{"key":"/message","value":"Hello world","modifiedIndex":4,"createdIndex":4}}`),
		getR("/", `{"action":"get","node":{"dir":true,"nodes":[{"key":"/message","value":"Hello world","modifiedIndex":4,"createdIndex":4}]}}`),
		do(rSet("/message", "Hello etcd"), `{"action":"set","node":{"key":"/message","value":"Hello etcd","modifiedIndex":5,"createdIndex":5},"prevNode":{"key":"/message","value":"Hello world","modifiedIndex":4,"createdIndex":4}}`),
		get("/nosuchkey", `{"errorCode":100,"message":"Key not found","cause":"/nosuchkey","index":5}`),
		do(rSet("/empty", ""), `{"action":"set","node":{"key":"/empty","value":"","modifiedIndex":6,"createdIndex":6}}`),
		get("/empty", `{"action":"get","node":{"key":"/empty","value":"","modifiedIndex":6,"createdIndex":6}}`),
		do(rUpdate("/message", "updated"), `{"action":"update","node":{"key":"/message","value":"updated","modifiedIndex":7,"createdIndex":5},"prevNode":{"key":"/message","value":"Hello etcd","modifiedIndex":5,"createdIndex":5}}`),
		do(rUpdate("/missing", "x"), `{"errorCode":100,"message":"Key not found","cause":"/missing","index":7}`),
		do(rCreate("/newkey", "fresh"), `{"action":"create","node":{"key":"/newkey","value":"fresh","modifiedIndex":8,"createdIndex":8}}`),
		do(rCreate("/newkey", "again"), `{"errorCode":105,"message":"Key already exists","cause":"/newkey","index":8}`),
		do(rUpdate("/newkey", ""), `{"action":"update","node":{"key":"/newkey","value":"","modifiedIndex":9,"createdIndex":8},"prevNode":{"key":"/newkey","value":"fresh","modifiedIndex":8,"createdIndex":8}}`),
		do(rDel("/message", false, false), `{"action":"delete","node":{"key":"/message","modifiedIndex":10,"createdIndex":5},"prevNode":{"key":"/message","value":"updated","modifiedIndex":7,"createdIndex":5}}`),
		get("/message", `{"errorCode":100,"message":"Key not found","cause":"/message","index":10}`),
		do(rDel("/message", false, false), `{"errorCode":100,"message":"Key not found","cause":"/message","index":10}`),
		// Implicit parents get the index of the write.
		do(rSet("/a/b/c", "deep"), `{"action":"set","node":{"key":"/a/b/c","value":"deep","modifiedIndex":11,"createdIndex":11}}`),
		get("/a/b", `{"action":"get","node":{"key":"/a/b","dir":true,"nodes":[{"key":"/a/b/c","value":"deep","modifiedIndex":11,"createdIndex":11}],"modifiedIndex":11,"createdIndex":11}}`),
		get("/a", `{"action":"get","node":{"key":"/a","dir":true,"nodes":[{"key":"/a/b","dir":true,"modifiedIndex":11,"createdIndex":11}],"modifiedIndex":11,"createdIndex":11}}`),
		// 100: the path up to the first missing component; 104: the key walked through.
		get("/nope/deeper/still", `{"errorCode":100,"message":"Key not found","cause":"/nope","index":11}`),
		get("/a/nope/x", `{"errorCode":100,"message":"Key not found","cause":"/a/nope","index":11}`),
		get("/a/b/nope", `{"errorCode":100,"message":"Key not found","cause":"/a/b/nope","index":11}`),
		get("/a/b/c/d", `{"errorCode":104,"message":"Not a directory","cause":"/a/b/c","index":11}`),
		get("/a/b/c/d/e", `{"errorCode":104,"message":"Not a directory","cause":"/a/b/c","index":11}`),
		do(rSet("/a/b/c/d", "x"), `{"errorCode":104,"message":"Not a directory","cause":"/a/b/c","index":11}`),
		do(rSet("/a/b/c/d/e", "x"), `{"errorCode":104,"message":"Not a directory","cause":"/a/b/c","index":11}`),
		do(rCreate("/a/b/c/d", "x"), `{"errorCode":104,"message":"Not a directory","cause":"/a/b/c","index":11}`),
		do(rUpdate("/a/b/c/d", "x"), `{"errorCode":104,"message":"Not a directory","cause":"/a/b/c","index":11}`),
		do(rCAS("/a/b/c/d", "x", "y", 0), `{"errorCode":104,"message":"Not a directory","cause":"/a/b/c","index":11}`),
		do(rDel("/a/b/c/d", false, true), `{"errorCode":104,"message":"Not a directory","cause":"/a/b/c","index":11}`),
		do(rCAD("/a/b/c/d", "y", 0), `{"errorCode":104,"message":"Not a directory","cause":"/a/b/c","index":11}`),
		do(rPost("/a/b/c", "x"), `{"errorCode":104,"message":"Not a directory","cause":"/a/b/c","index":11}`),
		do(rUpdate("/nope/deeper", "x"), `{"errorCode":100,"message":"Key not found","cause":"/nope","index":11}`),
		do(rCAS("/nope/deeper", "x", "y", 0), `{"errorCode":100,"message":"Key not found","cause":"/nope","index":11}`),
		do(rDel("/nope/deeper", true, true), `{"errorCode":100,"message":"Key not found","cause":"/nope","index":11}`),
		do(rCAD("/nope/deeper", "y", 0), `{"errorCode":100,"message":"Key not found","cause":"/nope","index":11}`),
		// Odd key and value bytes are kept and JSON-escaped like encoding/json.
		do(rSet("/nul\x00nl\nend", "ctl"), `{"action":"set","node":{"key":"/nul\u0000nl\nend","value":"ctl","modifiedIndex":12,"createdIndex":12}}`),
		do(rSet("/special", `a&b=c d+e%f/g?h#i "quoted" \back`), `{"action":"set","node":{"key":"/special","value":"a\u0026b=c d+e%f/g?h#i \"quoted\" \\back","modifiedIndex":13,"createdIndex":13}}`),
		do(rSet("/html", `<a href="x">&</a>`), `{"action":"set","node":{"key":"/html","value":"\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e","modifiedIndex":14,"createdIndex":14}}`),
		do(rSet("/badutf", "\xff\xfeok"), `{"action":"set","node":{"key":"/badutf","value":"\ufffd\ufffdok","modifiedIndex":15,"createdIndex":15}}`),
		do(rSet("/u2028", "a\u2028b\u2029c"), `{"action":"set","node":{"key":"/u2028","value":"a\u2028b\u2029c","modifiedIndex":16,"createdIndex":16}}`),
		do(rSet("/☃", "héllo wörld ☃"), `{"action":"set","node":{"key":"/☃","value":"héllo wörld ☃","modifiedIndex":17,"createdIndex":17}}`),
		do(rSet("/multiline", "line1\nline2\r\n\t\x01\x7f"), `{"action":"set","node":{"key":"/multiline","value":"line1\nline2\r\n\t\u0001`+"\x7f"+`","modifiedIndex":18,"createdIndex":18}}`),
		do(rSet("/with space ", "sp"), `{"action":"set","node":{"key":"/with space ","value":"sp","modifiedIndex":19,"createdIndex":19}}`),
		get("/with space ", `{"action":"get","node":{"key":"/with space ","value":"sp","modifiedIndex":19,"createdIndex":19}}`),
		get("/with space", `{"errorCode":100,"message":"Key not found","cause":"/with space","index":19}`),
	})
}

// TestGoldenCAS replays cas.txt (the store-level cases) with its indexes.
func TestGoldenCAS(t *testing.T) {
	s := newBootstrapped(t)
	stRun(t, s, []stStep{
		do(rSet("/foo", "one"), `{"action":"set","node":{"key":"/foo","value":"one","modifiedIndex":4,"createdIndex":4}}`),
		do(rCAS("/foo", "two", "one", 0), `{"action":"compareAndSwap","node":{"key":"/foo","value":"two","modifiedIndex":5,"createdIndex":4},"prevNode":{"key":"/foo","value":"one","modifiedIndex":4,"createdIndex":4}}`),
		do(rCAS("/foo", "three", "one", 0), `{"errorCode":101,"message":"Compare failed","cause":"[one != two]","index":5}`),
		do(rCAS("/foo", "three", "", 5), `{"action":"compareAndSwap","node":{"key":"/foo","value":"three","modifiedIndex":6,"createdIndex":4},"prevNode":{"key":"/foo","value":"two","modifiedIndex":5,"createdIndex":4}}`),
		do(rCAS("/foo", "four", "", 5), `{"errorCode":101,"message":"Compare failed","cause":"[5 != 6]","index":6}`),
		do(rCAS("/foo", "four", "three", 6), `{"action":"compareAndSwap","node":{"key":"/foo","value":"four","modifiedIndex":7,"createdIndex":4},"prevNode":{"key":"/foo","value":"three","modifiedIndex":6,"createdIndex":4}}`),
		do(rCAS("/foo", "five", "four", 1), `{"errorCode":101,"message":"Compare failed","cause":"[1 != 7]","index":7}`),
		do(rCAS("/foo", "five", "nope", 7), `{"errorCode":101,"message":"Compare failed","cause":"[nope != four]","index":7}`),
		do(rCAS("/foo", "five", "nope", 1), `{"errorCode":101,"message":"Compare failed","cause":"[nope != four] [1 != 7]","index":7}`),
		// cas-010: prevIndex=0 is a plain set (the API dispatches it so).
		do(rSet("/foo", "five"), `{"action":"set","node":{"key":"/foo","value":"five","modifiedIndex":8,"createdIndex":8},"prevNode":{"key":"/foo","value":"four","modifiedIndex":7,"createdIndex":4}}`),
		do(rCAS("/missing", "x", "a", 0), `{"errorCode":100,"message":"Key not found","cause":"/missing","index":8}`),
		do(rCAS("/missing", "x", "", 3), `{"errorCode":100,"message":"Key not found","cause":"/missing","index":8}`),
		do(rSetDir("/dir"), `{"action":"set","node":{"key":"/dir","dir":true,"modifiedIndex":9,"createdIndex":9}}`),
		do(rCAS("/dir", "x", "a", 0), `{"errorCode":102,"message":"Not a file","cause":"/dir","index":9}`),
		do(rCAS("/dir", "x", "", 1), `{"errorCode":102,"message":"Not a file","cause":"/dir","index":9}`),
		do(rCAS("/foo", "five", "five", 0), `{"action":"compareAndSwap","node":{"key":"/foo","value":"five","modifiedIndex":10,"createdIndex":8},"prevNode":{"key":"/foo","value":"five","modifiedIndex":8,"createdIndex":8}}`),
		do(rCAS("/foo", "", "five", 0), `{"action":"compareAndSwap","node":{"key":"/foo","value":"","modifiedIndex":11,"createdIndex":8},"prevNode":{"key":"/foo","value":"five","modifiedIndex":10,"createdIndex":8}}`),
		do(rCAS("/", "x", "a", 0), `{"errorCode":107,"message":"Root is read only","cause":"/","index":11}`),
		do(rSet("/bar", "b1"), `{"action":"set","node":{"key":"/bar","value":"b1","modifiedIndex":12,"createdIndex":12}}`),
		do(rCAS("/bar", "b2", "b1", 0), `{"action":"compareAndSwap","node":{"key":"/bar","value":"b2","modifiedIndex":13,"createdIndex":12},"prevNode":{"key":"/bar","value":"b1","modifiedIndex":12,"createdIndex":12}}`),
		do(rCAS("/bar", "b3", "b1", 0), `{"errorCode":101,"message":"Compare failed","cause":"[b1 != b2]","index":13}`),
		do(rCAS("/bar", "b3", "", 13), `{"action":"compareAndSwap","node":{"key":"/bar","value":"b3","modifiedIndex":14,"createdIndex":12},"prevNode":{"key":"/bar","value":"b2","modifiedIndex":13,"createdIndex":12}}`),
		do(&Request{Op: OpCreate, Key: "/bar", Value: "b4", PrevValue: "b3"}, `{"errorCode":105,"message":"Key already exists","cause":"/bar","index":14}`),
		do(&Request{Op: OpCreate, Key: "/baz", Value: "z", PrevValue: "whatever"}, `{"action":"create","node":{"key":"/baz","value":"z","modifiedIndex":15,"createdIndex":15}}`),
		do(rUpdate("/dir", "x"), `{"errorCode":102,"message":"Not a file","cause":"/dir","index":15}`),
		// Directory update: the event shows the new index, the stored
		// modifiedIndex stays at creation (quirk).
		do(rUpdate("/dir", ""), `{"action":"update","node":{"key":"/dir","dir":true,"modifiedIndex":16,"createdIndex":9},"prevNode":{"key":"/dir","dir":true,"modifiedIndex":9,"createdIndex":9}}`),
		get("/dir", `{"action":"get","node":{"key":"/dir","dir":true,"modifiedIndex":9,"createdIndex":9}}`),
		do(rSet("/del", "d1"), `{"action":"set","node":{"key":"/del","value":"d1","modifiedIndex":17,"createdIndex":17}}`),
		do(rCAD("/del", "nope", 0), `{"errorCode":101,"message":"Compare failed","cause":"[nope != d1]","index":17}`),
		do(rCAD("/del", "", 1), `{"errorCode":101,"message":"Compare failed","cause":"[1 != 17]","index":17}`),
		do(rCAD("/del", "nope", 1), `{"errorCode":101,"message":"Compare failed","cause":"[nope != d1] [1 != 17]","index":17}`),
		do(rCAD("/del", "d1", 0), `{"action":"compareAndDelete","node":{"key":"/del","modifiedIndex":18,"createdIndex":17},"prevNode":{"key":"/del","value":"d1","modifiedIndex":17,"createdIndex":17}}`),
		do(rSet("/del2", "d2"), `{"action":"set","node":{"key":"/del2","value":"d2","modifiedIndex":19,"createdIndex":19}}`),
		do(rCAD("/del2", "", 19), `{"action":"compareAndDelete","node":{"key":"/del2","modifiedIndex":20,"createdIndex":19},"prevNode":{"key":"/del2","value":"d2","modifiedIndex":19,"createdIndex":19}}`),
		do(rCAD("/del2", "d2", 0), `{"errorCode":100,"message":"Key not found","cause":"/del2","index":20}`),
		do(rCAD("/dir", "x", 0), `{"errorCode":102,"message":"Not a file","cause":"/dir","index":20}`),
		do(&Request{Op: OpCompareAndDelete, Key: "/dir", PrevIndex: 1, Dir: true, Recursive: true}, `{"errorCode":102,"message":"Not a file","cause":"/dir","index":20}`),
		do(rDel("/baz", false, false), `{"action":"delete","node":{"key":"/baz","modifiedIndex":21,"createdIndex":15},"prevNode":{"key":"/baz","value":"z","modifiedIndex":15,"createdIndex":15}}`),
		// CAS/CAD with both conditions satisfied, and a value that
		// contains the separator of the cause.
		do(rSet("/odd", "a != b"), `{"action":"set","node":{"key":"/odd","value":"a != b","modifiedIndex":22,"createdIndex":22}}`),
		do(rCAS("/odd", "x", "] [", 3), `{"errorCode":101,"message":"Compare failed","cause":"[] [ != a != b] [3 != 22]","index":22}`),
		do(rCAD("/odd", "a != b", 22), `{"action":"compareAndDelete","node":{"key":"/odd","modifiedIndex":23,"createdIndex":22},"prevNode":{"key":"/odd","value":"a != b","modifiedIndex":22,"createdIndex":22}}`),
	})
}

// TestGoldenDirs replays dirs.txt with its indexes.
func TestGoldenDirs(t *testing.T) {
	s := newBootstrapped(t)
	stRun(t, s, []stStep{
		do(rSetDir("/dir"), `{"action":"set","node":{"key":"/dir","dir":true,"modifiedIndex":4,"createdIndex":4}}`),
		get("/dir", `{"action":"get","node":{"key":"/dir","dir":true,"modifiedIndex":4,"createdIndex":4}}`),
		do(&Request{Op: OpSet, Key: "/dirval", Dir: true, Value: "ignored"}, `{"action":"set","node":{"key":"/dirval","dir":true,"modifiedIndex":5,"createdIndex":5}}`),
		do(rSetDir("/dir"), `{"errorCode":102,"message":"Not a file","cause":"/dir","index":5}`),
		do(rCreateDir("/dir"), `{"errorCode":105,"message":"Key already exists","cause":"/dir","index":5}`),
		do(rCreateDir("/dir2"), `{"action":"create","node":{"key":"/dir2","dir":true,"modifiedIndex":6,"createdIndex":6}}`),
		do(rSet("/dir/b", "2"), `{"action":"set","node":{"key":"/dir/b","value":"2","modifiedIndex":7,"createdIndex":7}}`),
		do(rSet("/dir/a", "1"), `{"action":"set","node":{"key":"/dir/a","value":"1","modifiedIndex":8,"createdIndex":8}}`),
		do(rSet("/dir/c", "3"), `{"action":"set","node":{"key":"/dir/c","value":"3","modifiedIndex":9,"createdIndex":9}}`),
		do(rSet("/dir/sub/x", "x"), `{"action":"set","node":{"key":"/dir/sub/x","value":"x","modifiedIndex":10,"createdIndex":10}}`),
		do(rSet("/dir/sub/deeper/y", "y"), `{"action":"set","node":{"key":"/dir/sub/deeper/y","value":"y","modifiedIndex":11,"createdIndex":11}}`),
		do(rSet("/dir/_hidden", "h"), `{"action":"set","node":{"key":"/dir/_hidden","value":"h","modifiedIndex":12,"createdIndex":12}}`),
		get("/dir", `{"action":"get","node":{"key":"/dir","dir":true,"nodes":[{"key":"/dir/a","value":"1","modifiedIndex":8,"createdIndex":8},{"key":"/dir/b","value":"2","modifiedIndex":7,"createdIndex":7},{"key":"/dir/c","value":"3","modifiedIndex":9,"createdIndex":9},{"key":"/dir/sub","dir":true,"modifiedIndex":10,"createdIndex":10}],"modifiedIndex":4,"createdIndex":4}}`),
		getR("/dir", `{"action":"get","node":{"key":"/dir","dir":true,"nodes":[{"key":"/dir/a","value":"1","modifiedIndex":8,"createdIndex":8},{"key":"/dir/b","value":"2","modifiedIndex":7,"createdIndex":7},{"key":"/dir/c","value":"3","modifiedIndex":9,"createdIndex":9},{"key":"/dir/sub","dir":true,"nodes":[{"key":"/dir/sub/deeper","dir":true,"nodes":[{"key":"/dir/sub/deeper/y","value":"y","modifiedIndex":11,"createdIndex":11}],"modifiedIndex":11,"createdIndex":11},{"key":"/dir/sub/x","value":"x","modifiedIndex":10,"createdIndex":10}],"modifiedIndex":10,"createdIndex":10}],"modifiedIndex":4,"createdIndex":4}}`),
		// dirs-009 shows etcd's unspecified order; hecd always sorts.
		get("/dir/sub", `{"action":"get","node":{"key":"/dir/sub","dir":true,"nodes":[{"key":"/dir/sub/deeper","dir":true,"modifiedIndex":11,"createdIndex":11},{"key":"/dir/sub/x","value":"x","modifiedIndex":10,"createdIndex":10}],"modifiedIndex":10,"createdIndex":10}}`),
		getR("/dir/a", `{"action":"get","node":{"key":"/dir/a","value":"1","modifiedIndex":8,"createdIndex":8}}`),
		get("/dir/_hidden", `{"action":"get","node":{"key":"/dir/_hidden","value":"h","modifiedIndex":12,"createdIndex":12}}`),
		do(rSet("/dir", "x"), `{"errorCode":102,"message":"Not a file","cause":"/dir","index":12}`),
		do(rSet("/dir/a/child", "x"), `{"errorCode":104,"message":"Not a directory","cause":"/dir/a","index":12}`),
		get("/dir/a/child", `{"errorCode":104,"message":"Not a directory","cause":"/dir/a","index":12}`),
		do(rSetDir("/dir/c"), `{"action":"set","node":{"key":"/dir/c","dir":true,"modifiedIndex":13,"createdIndex":13},"prevNode":{"key":"/dir/c","value":"3","modifiedIndex":9,"createdIndex":9}}`),
		// dirs-018: the API drops dir for update.
		do(rUpdate("/dir/a", "one"), `{"action":"update","node":{"key":"/dir/a","value":"one","modifiedIndex":14,"createdIndex":8},"prevNode":{"key":"/dir/a","value":"1","modifiedIndex":8,"createdIndex":8}}`),
		do(rPost("/dir/a", "x"), `{"errorCode":104,"message":"Not a directory","cause":"/dir/a","index":14}`),
		do(rDel("/dir/sub", false, false), `{"errorCode":102,"message":"Not a file","cause":"/dir/sub","index":14}`),
		do(rDel("/dir/sub", true, false), `{"errorCode":108,"message":"Directory not empty","cause":"/dir/sub","index":14}`),
		do(rDel("/dir2", true, false), `{"action":"delete","node":{"key":"/dir2","dir":true,"modifiedIndex":15,"createdIndex":6},"prevNode":{"key":"/dir2","dir":true,"modifiedIndex":6,"createdIndex":6}}`),
		do(rDel("/dir/sub", false, true), `{"action":"delete","node":{"key":"/dir/sub","dir":true,"modifiedIndex":16,"createdIndex":10},"prevNode":{"key":"/dir/sub","dir":true,"modifiedIndex":10,"createdIndex":10}}`),
		get("/dir/sub/deeper/y", `{"errorCode":100,"message":"Key not found","cause":"/dir/sub","index":16}`),
		do(rDel("/dir/b", true, false), `{"action":"delete","node":{"key":"/dir/b","modifiedIndex":17,"createdIndex":7},"prevNode":{"key":"/dir/b","value":"2","modifiedIndex":7,"createdIndex":7}}`),
		do(rDel("/dir/c", true, false), `{"action":"delete","node":{"key":"/dir/c","dir":true,"modifiedIndex":18,"createdIndex":13},"prevNode":{"key":"/dir/c","dir":true,"modifiedIndex":13,"createdIndex":13}}`),
		do(rSet("/onlyhidden/_x", "x"), `{"action":"set","node":{"key":"/onlyhidden/_x","value":"x","modifiedIndex":19,"createdIndex":19}}`),
		get("/onlyhidden", `{"action":"get","node":{"key":"/onlyhidden","dir":true,"modifiedIndex":19,"createdIndex":19}}`),
		do(rDel("/onlyhidden", true, false), `{"errorCode":108,"message":"Directory not empty","cause":"/onlyhidden","index":19}`),
		do(rDel("/", false, true), `{"errorCode":107,"message":"Root is read only","cause":"/","index":19}`),
		do(rDel("/", false, false), `{"errorCode":107,"message":"Root is read only","cause":"/","index":19}`),
		getR("/dir", `{"action":"get","node":{"key":"/dir","dir":true,"nodes":[{"key":"/dir/a","value":"one","modifiedIndex":14,"createdIndex":8}],"modifiedIndex":4,"createdIndex":4}}`),
		do(rDel("/dir", false, true), `{"action":"delete","node":{"key":"/dir","dir":true,"modifiedIndex":20,"createdIndex":4},"prevNode":{"key":"/dir","dir":true,"modifiedIndex":4,"createdIndex":4}}`),
		get("/dir/_hidden", `{"errorCode":100,"message":"Key not found","cause":"/dir","index":20}`),
		getR("/", `{"action":"get","node":{"dir":true,"nodes":[{"key":"/dirval","dir":true,"modifiedIndex":5,"createdIndex":5},{"key":"/onlyhidden","dir":true,"modifiedIndex":19,"createdIndex":19}]}}`),
		do(rSet("/p/q/r", "1"), `{"action":"set","node":{"key":"/p/q/r","value":"1","modifiedIndex":21,"createdIndex":21}}`),
		getR("/p", `{"action":"get","node":{"key":"/p","dir":true,"nodes":[{"key":"/p/q","dir":true,"nodes":[{"key":"/p/q/r","value":"1","modifiedIndex":21,"createdIndex":21}],"modifiedIndex":21,"createdIndex":21}],"modifiedIndex":21,"createdIndex":21}}`),
		do(rSet("/p/q/s", "2"), `{"action":"set","node":{"key":"/p/q/s","value":"2","modifiedIndex":22,"createdIndex":22}}`),
		getR("/p", `{"action":"get","node":{"key":"/p","dir":true,"nodes":[{"key":"/p/q","dir":true,"nodes":[{"key":"/p/q/r","value":"1","modifiedIndex":21,"createdIndex":21},{"key":"/p/q/s","value":"2","modifiedIndex":22,"createdIndex":22}],"modifiedIndex":21,"createdIndex":21}],"modifiedIndex":21,"createdIndex":21}}`),
		// Hidden children count for dir=true; recursive removes them.
		do(rDel("/onlyhidden", false, true), `{"action":"delete","node":{"key":"/onlyhidden","dir":true,"modifiedIndex":23,"createdIndex":19},"prevNode":{"key":"/onlyhidden","dir":true,"modifiedIndex":19,"createdIndex":19}}`),
		get("/onlyhidden/_x", `{"errorCode":100,"message":"Key not found","cause":"/onlyhidden","index":23}`),
		// A key is deleted whatever dir/recursive say.
		do(rDel("/p/q/s", true, true), `{"action":"delete","node":{"key":"/p/q/s","modifiedIndex":24,"createdIndex":22},"prevNode":{"key":"/p/q/s","value":"2","modifiedIndex":22,"createdIndex":22}}`),
		// Deleting the last child leaves the directory in place.
		do(rDel("/p/q/r", false, false), `{"action":"delete","node":{"key":"/p/q/r","modifiedIndex":25,"createdIndex":21},"prevNode":{"key":"/p/q/r","value":"1","modifiedIndex":21,"createdIndex":21}}`),
		get("/p/q", `{"action":"get","node":{"key":"/p/q","dir":true,"modifiedIndex":21,"createdIndex":21}}`),
		do(rDel("/p/q", true, false), `{"action":"delete","node":{"key":"/p/q","dir":true,"modifiedIndex":26,"createdIndex":21},"prevNode":{"key":"/p/q","dir":true,"modifiedIndex":21,"createdIndex":21}}`),
		// update of a directory: only with an empty value.
		do(rUpdate("/p", "v"), `{"errorCode":102,"message":"Not a file","cause":"/p","index":26}`),
		do(rUpdate("/p", ""), `{"action":"update","node":{"key":"/p","dir":true,"modifiedIndex":27,"createdIndex":21},"prevNode":{"key":"/p","dir":true,"modifiedIndex":21,"createdIndex":21}}`),
		do(rUpdate("/p", ""), `{"action":"update","node":{"key":"/p","dir":true,"modifiedIndex":28,"createdIndex":21},"prevNode":{"key":"/p","dir":true,"modifiedIndex":21,"createdIndex":21}}`),
		get("/p", `{"action":"get","node":{"key":"/p","dir":true,"modifiedIndex":21,"createdIndex":21}}`),
	})
}

// TestGoldenInOrderHidden replays the store part of inorder-hidden.txt.
func TestGoldenInOrderHidden(t *testing.T) {
	s := newBootstrapped(t)
	stRun(t, s, []stStep{
		do(rPost("/queue", "Job1"), `{"action":"create","node":{"key":"/queue/00000000000000000004","value":"Job1","modifiedIndex":4,"createdIndex":4}}`),
		do(rPost("/queue", "Job2"), `{"action":"create","node":{"key":"/queue/00000000000000000005","value":"Job2","modifiedIndex":5,"createdIndex":5}}`),
		do(rSet("/other", "unrelated"), `{"action":"set","node":{"key":"/other","value":"unrelated","modifiedIndex":6,"createdIndex":6}}`),
		do(rPost("/queue", "Job3"), `{"action":"create","node":{"key":"/queue/00000000000000000007","value":"Job3","modifiedIndex":7,"createdIndex":7}}`),
		get("/queue", `{"action":"get","node":{"key":"/queue","dir":true,"nodes":[{"key":"/queue/00000000000000000004","value":"Job1","modifiedIndex":4,"createdIndex":4},{"key":"/queue/00000000000000000005","value":"Job2","modifiedIndex":5,"createdIndex":5},{"key":"/queue/00000000000000000007","value":"Job3","modifiedIndex":7,"createdIndex":7}],"modifiedIndex":4,"createdIndex":4}}`),
		do(rPost("/queue", ""), `{"action":"create","node":{"key":"/queue/00000000000000000008","value":"","modifiedIndex":8,"createdIndex":8}}`),
		do(rPostDir("/queue"), `{"action":"create","node":{"key":"/queue/00000000000000000009","dir":true,"modifiedIndex":9,"createdIndex":9}}`),
		do(rPost("/", "rootjob"), `{"action":"create","node":{"key":"/00000000000000000010","value":"rootjob","modifiedIndex":10,"createdIndex":10}}`),
		do(rPost("/jobs/pending", "j"), `{"action":"create","node":{"key":"/jobs/pending/00000000000000000011","value":"j","modifiedIndex":11,"createdIndex":11}}`),
		do(&Request{Op: OpCreateInOrder, Key: "/queue", Value: "Job5", PrevValue: "nothing", PrevIndex: 3}, `{"action":"create","node":{"key":"/queue/00000000000000000012","value":"Job5","modifiedIndex":12,"createdIndex":12}}`),
		get("/queue/00000000000000000004", `{"action":"get","node":{"key":"/queue/00000000000000000004","value":"Job1","modifiedIndex":4,"createdIndex":4}}`),
		do(rDel("/queue/00000000000000000004", false, false), `{"action":"delete","node":{"key":"/queue/00000000000000000004","modifiedIndex":13,"createdIndex":4},"prevNode":{"key":"/queue/00000000000000000004","value":"Job1","modifiedIndex":4,"createdIndex":4}}`),
		do(rSet("/_hidden", "secret"), `{"action":"set","node":{"key":"/_hidden","value":"secret","modifiedIndex":14,"createdIndex":14}}`),
		get("/_hidden", `{"action":"get","node":{"key":"/_hidden","value":"secret","modifiedIndex":14,"createdIndex":14}}`),
		get("/", `{"action":"get","node":{"dir":true,"nodes":[{"key":"/00000000000000000010","value":"rootjob","modifiedIndex":10,"createdIndex":10},{"key":"/jobs","dir":true,"modifiedIndex":11,"createdIndex":11},{"key":"/other","value":"unrelated","modifiedIndex":6,"createdIndex":6},{"key":"/queue","dir":true,"modifiedIndex":4,"createdIndex":4}]}}`),
		do(rSet("/app/_private/token", "t"), `{"action":"set","node":{"key":"/app/_private/token","value":"t","modifiedIndex":15,"createdIndex":15}}`),
		do(rSet("/app/visible", "v"), `{"action":"set","node":{"key":"/app/visible","value":"v","modifiedIndex":16,"createdIndex":16}}`),
		getR("/app", `{"action":"get","node":{"key":"/app","dir":true,"nodes":[{"key":"/app/visible","value":"v","modifiedIndex":16,"createdIndex":16}],"modifiedIndex":15,"createdIndex":15}}`),
		getR("/app/_private", `{"action":"get","node":{"key":"/app/_private","dir":true,"nodes":[{"key":"/app/_private/token","value":"t","modifiedIndex":15,"createdIndex":15}],"modifiedIndex":15,"createdIndex":15}}`),
		do(rSet("/app/not_hidden", "n"), `{"action":"set","node":{"key":"/app/not_hidden","value":"n","modifiedIndex":17,"createdIndex":17}}`),
		get("/app", `{"action":"get","node":{"key":"/app","dir":true,"nodes":[{"key":"/app/not_hidden","value":"n","modifiedIndex":17,"createdIndex":17},{"key":"/app/visible","value":"v","modifiedIndex":16,"createdIndex":16}],"modifiedIndex":15,"createdIndex":15}}`),
		// Hidden at any depth: /app/sub only has a hidden subtree.
		do(rSet("/app/sub/_deep/k", "k"), `{"action":"set","node":{"key":"/app/sub/_deep/k","value":"k","modifiedIndex":18,"createdIndex":18}}`),
		getR("/", `{"action":"get","node":{"dir":true,"nodes":[{"key":"/00000000000000000010","value":"rootjob","modifiedIndex":10,"createdIndex":10},{"key":"/app","dir":true,"nodes":[{"key":"/app/not_hidden","value":"n","modifiedIndex":17,"createdIndex":17},{"key":"/app/sub","dir":true,"modifiedIndex":18,"createdIndex":18},{"key":"/app/visible","value":"v","modifiedIndex":16,"createdIndex":16}],"modifiedIndex":15,"createdIndex":15},{"key":"/jobs","dir":true,"nodes":[{"key":"/jobs/pending","dir":true,"nodes":[{"key":"/jobs/pending/00000000000000000011","value":"j","modifiedIndex":11,"createdIndex":11}],"modifiedIndex":11,"createdIndex":11}],"modifiedIndex":11,"createdIndex":11},{"key":"/other","value":"unrelated","modifiedIndex":6,"createdIndex":6},{"key":"/queue","dir":true,"nodes":[{"key":"/queue/00000000000000000005","value":"Job2","modifiedIndex":5,"createdIndex":5},{"key":"/queue/00000000000000000007","value":"Job3","modifiedIndex":7,"createdIndex":7},{"key":"/queue/00000000000000000008","value":"","modifiedIndex":8,"createdIndex":8},{"key":"/queue/00000000000000000009","dir":true,"modifiedIndex":9,"createdIndex":9},{"key":"/queue/00000000000000000012","value":"Job5","modifiedIndex":12,"createdIndex":12}],"modifiedIndex":4,"createdIndex":4}]}}`),
		getR("/app/sub/_deep", `{"action":"get","node":{"key":"/app/sub/_deep","dir":true,"nodes":[{"key":"/app/sub/_deep/k","value":"k","modifiedIndex":18,"createdIndex":18}],"modifiedIndex":18,"createdIndex":18}}`),
		do(rPost("/_q", "hidden-job"), `{"action":"create","node":{"key":"/_q/00000000000000000019","value":"hidden-job","modifiedIndex":19,"createdIndex":19}}`),
		get("/_q", `{"action":"get","node":{"key":"/_q","dir":true,"nodes":[{"key":"/_q/00000000000000000019","value":"hidden-job","modifiedIndex":19,"createdIndex":19}],"modifiedIndex":19,"createdIndex":19}}`),
		// A name colliding with the next in-order name makes the POST fail.
		do(rSet("/queue/00000000000000000021", "squat"), `{"action":"set","node":{"key":"/queue/00000000000000000021","value":"squat","modifiedIndex":20,"createdIndex":20}}`),
		do(rPost("/queue", "x"), `{"errorCode":105,"message":"Key already exists","cause":"/queue/00000000000000000021","index":20}`),
	})
}

func TestInOrderName(t *testing.T) {
	for _, c := range []struct {
		in   uint64
		want string
	}{
		{0, "00000000000000000000"},
		{4, "00000000000000000004"},
		{1234567890, "00000000001234567890"},
		{18446744073709551615, "18446744073709551615"},
	} {
		if got := inOrderName(c.in); got != c.want {
			t.Errorf("inOrderName(%d) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestRootReadOnly: every write to the root fails with 107 (cause "/"),
// except compareAndDelete, which etcd answers with 102 and no cause.
func TestRootReadOnly(t *testing.T) {
	s := newBootstrapped(t)
	ro := `{"errorCode":107,"message":"Root is read only","cause":"/","index":3}`
	stRun(t, s, []stStep{
		do(rSet("/", "x"), ro),
		do(rSetDir("/"), ro),
		do(refresh(withTTL(rSet("/", ""), 5)), ro),
		do(rCreate("/", "x"), ro),
		do(rCreateDir("/"), ro),
		do(rUpdate("/", ""), ro),
		do(refresh(withTTL(rUpdate("/", ""), 5)), ro),
		do(rCAS("/", "x", "a", 0), ro),
		do(rCAS("/", "x", "", 1), ro),
		do(rDel("/", false, false), ro),
		do(rDel("/", true, false), ro),
		do(rDel("/", true, true), ro),
		do(rCAD("/", "a", 0), `{"errorCode":102,"message":"Not a file","index":3}`),
		do(rCAD("/", "", 7), `{"errorCode":102,"message":"Not a file","index":3}`),
		get("/", `{"action":"get","node":{"dir":true}}`),
		do(rPost("/", "ok"), `{"action":"create","node":{"key":"/00000000000000000004","value":"ok","modifiedIndex":4,"createdIndex":4}}`),
		do(rSet("/", "x"), `{"errorCode":107,"message":"Root is read only","cause":"/","index":4}`),
	})
	// The status codes that go with them.
	for code, status := range map[int]int{100: 404, 101: 412, 102: 403, 104: 400, 105: 412, 107: 400, 108: 403, 110: 401, 201: 400, 209: 400, 300: 500, 401: 400} {
		if got := NewError(code, "", 0).StatusCode(); got != status {
			t.Errorf("status of %d = %d, want %d", code, got, status)
		}
	}
}

// TestRefresh: set-refresh replaces the node (new createdIndex) keeping the
// value; update- and CAS-refresh keep createdIndex; refresh works on
// directories only through update (ttl.txt 026-043).
func TestRefresh(t *testing.T) {
	s := newBootstrapped(t)
	stRun(t, s, []stStep{
		do(withTTL(rSet("/r", "keep"), 5), `{"action":"set","node":{"key":"/r","value":"keep","expiration":"2026-11-22T04:22:55Z","ttl":5,"modifiedIndex":4,"createdIndex":4}}`),
		do(refresh(withTTL(rSet("/r", ""), 100)), `{"action":"set","node":{"key":"/r","value":"keep","expiration":"2026-11-22T04:24:30Z","ttl":100,"modifiedIndex":5,"createdIndex":5},"prevNode":{"key":"/r","value":"keep","expiration":"2026-11-22T04:22:55Z","ttl":5,"modifiedIndex":4,"createdIndex":4}}`),
		do(refresh(withTTL(rUpdate("/r", ""), 200)), `{"action":"update","node":{"key":"/r","value":"keep","expiration":"2026-11-22T04:26:10Z","ttl":200,"modifiedIndex":6,"createdIndex":5},"prevNode":{"key":"/r","value":"keep","expiration":"2026-11-22T04:24:30Z","ttl":100,"modifiedIndex":5,"createdIndex":5}}`),
		do(refresh(withTTL(rCAS("/r", "", "keep", 0), 400)), `{"action":"compareAndSwap","node":{"key":"/r","value":"keep","expiration":"2026-11-22T04:29:30Z","ttl":400,"modifiedIndex":7,"createdIndex":5},"prevNode":{"key":"/r","value":"keep","expiration":"2026-11-22T04:26:10Z","ttl":200,"modifiedIndex":6,"createdIndex":5}}`),
		do(refresh(withTTL(rCAS("/r", "", "nope", 0), 400)), `{"errorCode":101,"message":"Compare failed","cause":"[nope != keep]","index":7}`),
		get("/r", `{"action":"get","node":{"key":"/r","value":"keep","expiration":"2026-11-22T04:29:30Z","ttl":400,"modifiedIndex":7,"createdIndex":5}}`),
		do(rSet("/r", "changed"), `{"action":"set","node":{"key":"/r","value":"changed","modifiedIndex":8,"createdIndex":8},"prevNode":{"key":"/r","value":"keep","expiration":"2026-11-22T04:29:30Z","ttl":400,"modifiedIndex":7,"createdIndex":5}}`),
		do(refresh(withTTL(rSet("/nokey", ""), 10)), `{"errorCode":100,"message":"Key not found","cause":"/nokey","index":8}`),
		do(refresh(withTTL(rUpdate("/nokey", ""), 10)), `{"errorCode":100,"message":"Key not found","cause":"/nokey","index":8}`),
		do(refresh(withTTL(rSet("/r/sub", ""), 10)), `{"errorCode":104,"message":"Not a directory","cause":"/r","index":8}`),
		do(withTTL(rSetDir("/tdir"), 3), `{"action":"set","node":{"key":"/tdir","dir":true,"expiration":"2026-11-22T04:22:53Z","ttl":3,"modifiedIndex":9,"createdIndex":9}}`),
		do(rSet("/tdir/child", "c"), `{"action":"set","node":{"key":"/tdir/child","value":"c","modifiedIndex":10,"createdIndex":10}}`),
		do(withTTL(rUpdate("/tdir", ""), 4), `{"action":"update","node":{"key":"/tdir","dir":true,"expiration":"2026-11-22T04:22:54Z","ttl":4,"modifiedIndex":11,"createdIndex":9},"prevNode":{"key":"/tdir","dir":true,"expiration":"2026-11-22T04:22:53Z","ttl":3,"modifiedIndex":9,"createdIndex":9}}`),
		do(refresh(withTTL(rUpdate("/tdir", ""), 2)), `{"action":"update","node":{"key":"/tdir","dir":true,"expiration":"2026-11-22T04:22:52Z","ttl":2,"modifiedIndex":12,"createdIndex":9},"prevNode":{"key":"/tdir","dir":true,"expiration":"2026-11-22T04:22:54Z","ttl":4,"modifiedIndex":9,"createdIndex":9}}`),
		do(refresh(withTTL(rSet("/tdir", ""), 2)), `{"errorCode":102,"message":"Not a file","cause":"/tdir","index":12}`),
		do(refresh(withTTL(rCAS("/tdir", "", "x", 0), 2)), `{"errorCode":102,"message":"Not a file","cause":"/tdir","index":12}`),
		getR("/tdir", `{"action":"get","node":{"key":"/tdir","dir":true,"expiration":"2026-11-22T04:22:52Z","ttl":2,"nodes":[{"key":"/tdir/child","value":"c","modifiedIndex":10,"createdIndex":10}],"modifiedIndex":9,"createdIndex":9}}`),
	})
	// A refresh is in the history (it has an index) but flagged.
	ev, err := s.Watch("/r", false, false, 5)
	if err != nil {
		t.Fatal(err)
	}
	if got := string((<-ev.Events).JSON()); !strings.Contains(got, `"modifiedIndex":8`) {
		t.Errorf("history watch from a refresh index returned %s, want the set at 8", got)
	}
}

// TestTTL: expiration and ttl fields, countdown, ttl=0, expiry order and
// events, TTL removal by update/CAS and replacement by set.
func TestTTL(t *testing.T) {
	s := newBootstrapped(t)
	all, werr := s.Watch("/", true, true, 0)
	if werr != nil {
		t.Fatal(werr)
	}
	stRun(t, s, []stStep{
		do(withTTL(rSet("/foo", "bar"), 3), `{"action":"set","node":{"key":"/foo","value":"bar","expiration":"2026-11-22T04:22:53Z","ttl":3,"modifiedIndex":4,"createdIndex":4}}`),
		{get: "/foo", at: 1200 * int64(time.Millisecond), want: `{"action":"get","node":{"key":"/foo","value":"bar","expiration":"2026-11-22T04:22:53Z","ttl":2,"modifiedIndex":4,"createdIndex":4}}`},
		{get: "/foo", at: 2 * sec, want: `{"action":"get","node":{"key":"/foo","value":"bar","expiration":"2026-11-22T04:22:53Z","ttl":1,"modifiedIndex":4,"createdIndex":4}}`},
		{get: "/foo", at: 2*sec + 1, want: `{"action":"get","node":{"key":"/foo","value":"bar","expiration":"2026-11-22T04:22:53Z","ttl":1,"modifiedIndex":4,"createdIndex":4}}`},
		// Expired but not swept: ttl 0 is omitted, later it goes negative.
		{get: "/foo", at: 3 * sec, want: `{"action":"get","node":{"key":"/foo","value":"bar","expiration":"2026-11-22T04:22:53Z","modifiedIndex":4,"createdIndex":4}}`},
		{get: "/foo", at: 3*sec + sec/2, want: `{"action":"get","node":{"key":"/foo","value":"bar","expiration":"2026-11-22T04:22:53Z","modifiedIndex":4,"createdIndex":4}}`},
		{get: "/foo", at: 4*sec + sec/2, want: `{"action":"get","node":{"key":"/foo","value":"bar","expiration":"2026-11-22T04:22:53Z","ttl":-1,"modifiedIndex":4,"createdIndex":4}}`},
		{req: rExpire(t0 + 3*sec - 1), idx: 4},
		get("/foo", `{"action":"get","node":{"key":"/foo","value":"bar","expiration":"2026-11-22T04:22:53Z","ttl":3,"modifiedIndex":4,"createdIndex":4}}`),
		{req: rExpire(t0 + 3*sec), idx: 5},
		get("/foo", `{"errorCode":100,"message":"Key not found","cause":"/foo","index":5}`),
		// ttl=0: expiration is now, no ttl field; the next sweep takes it.
		do(withTTL(rSet("/zero", "z"), 0), `{"action":"set","node":{"key":"/zero","value":"z","expiration":"2026-11-22T04:22:50Z","modifiedIndex":6,"createdIndex":6}}`),
		// ttl is the ceiling of the remaining time at the request's Time.
		do(&Request{Op: OpSet, Key: "/frac", Value: "f", Time: t0 + 90750605, Expiration: t0 + 90750605 + 3*sec}, `{"action":"set","node":{"key":"/frac","value":"f","expiration":"2026-11-22T04:22:53.090750605Z","ttl":3,"modifiedIndex":7,"createdIndex":7}}`),
		do(&Request{Op: OpSet, Key: "/half", Value: "h", Time: t0 + sec/2, Expiration: t0 + 3*sec}, `{"action":"set","node":{"key":"/half","value":"h","expiration":"2026-11-22T04:22:53Z","ttl":3,"modifiedIndex":8,"createdIndex":8}}`),
		{req: rExpire(t0), idx: 9},
		get("/zero", `{"errorCode":100,"message":"Key not found","cause":"/zero","index":9}`),
		// TTL changes: set replaces, update/CAS set or remove.
		do(withTTL(rSet("/k", "v1"), 100), `{"action":"set","node":{"key":"/k","value":"v1","expiration":"2026-11-22T04:24:30Z","ttl":100,"modifiedIndex":10,"createdIndex":10}}`),
		do(rSet("/k", "v2"), `{"action":"set","node":{"key":"/k","value":"v2","modifiedIndex":11,"createdIndex":11},"prevNode":{"key":"/k","value":"v1","expiration":"2026-11-22T04:24:30Z","ttl":100,"modifiedIndex":10,"createdIndex":10}}`),
		do(withTTL(rUpdate("/k", "v3"), 100), `{"action":"update","node":{"key":"/k","value":"v3","expiration":"2026-11-22T04:24:30Z","ttl":100,"modifiedIndex":12,"createdIndex":11},"prevNode":{"key":"/k","value":"v2","modifiedIndex":11,"createdIndex":11}}`),
		do(rUpdate("/k", "v4"), `{"action":"update","node":{"key":"/k","value":"v4","modifiedIndex":13,"createdIndex":11},"prevNode":{"key":"/k","value":"v3","expiration":"2026-11-22T04:24:30Z","ttl":100,"modifiedIndex":12,"createdIndex":11}}`),
		do(withTTL(rCAS("/k", "v5", "v4", 0), 50), `{"action":"compareAndSwap","node":{"key":"/k","value":"v5","expiration":"2026-11-22T04:23:40Z","ttl":50,"modifiedIndex":14,"createdIndex":11},"prevNode":{"key":"/k","value":"v4","modifiedIndex":13,"createdIndex":11}}`),
		do(rCAS("/k", "v6", "", 14), `{"action":"compareAndSwap","node":{"key":"/k","value":"v6","modifiedIndex":15,"createdIndex":11},"prevNode":{"key":"/k","value":"v5","expiration":"2026-11-22T04:23:40Z","ttl":50,"modifiedIndex":14,"createdIndex":11}}`),
		do(withTTL(rCreate("/c", "cv"), 100), `{"action":"create","node":{"key":"/c","value":"cv","expiration":"2026-11-22T04:24:30Z","ttl":100,"modifiedIndex":16,"createdIndex":16}}`),
		do(withTTL(rPost("/queue", "job"), 100), `{"action":"create","node":{"key":"/queue/00000000000000000017","value":"job","expiration":"2026-11-22T04:24:30Z","ttl":100,"modifiedIndex":17,"createdIndex":17}}`),
		// Deleting a TTL key takes it off the expiry schedule.
		do(rDel("/c", false, false), `{"action":"delete","node":{"key":"/c","modifiedIndex":18,"createdIndex":16},"prevNode":{"key":"/c","value":"cv","expiration":"2026-11-22T04:24:30Z","ttl":100,"modifiedIndex":16,"createdIndex":16}}`),
		do(rCAD("/queue/00000000000000000017", "job", 0), `{"action":"compareAndDelete","node":{"key":"/queue/00000000000000000017","modifiedIndex":19,"createdIndex":17},"prevNode":{"key":"/queue/00000000000000000017","value":"job","expiration":"2026-11-22T04:24:30Z","ttl":100,"modifiedIndex":17,"createdIndex":17}}`),
		{req: rExpire(t0 + 1000*sec), idx: 21}, // /frac and /half
		getR("/", `{"action":"get","node":{"dir":true,"nodes":[{"key":"/k","value":"v6","modifiedIndex":15,"createdIndex":11},{"key":"/queue","dir":true,"modifiedIndex":17,"createdIndex":17}]}}`),
	})
	if n := s.NextExpiration(); n != 0 {
		t.Errorf("NextExpiration = %d, want 0", n)
	}
	want := []string{
		`{"action":"set","node":{"key":"/foo","value":"bar","expiration":"2026-11-22T04:22:53Z","ttl":3,"modifiedIndex":4,"createdIndex":4}}`,
		`{"action":"expire","node":{"key":"/foo","modifiedIndex":5,"createdIndex":4},"prevNode":{"key":"/foo","value":"bar","expiration":"2026-11-22T04:22:53Z","modifiedIndex":4,"createdIndex":4}}`,
		`{"action":"set","node":{"key":"/zero","value":"z","expiration":"2026-11-22T04:22:50Z","modifiedIndex":6,"createdIndex":6}}`,
		`{"action":"set","node":{"key":"/frac","value":"f","expiration":"2026-11-22T04:22:53.090750605Z","ttl":3,"modifiedIndex":7,"createdIndex":7}}`,
		`{"action":"set","node":{"key":"/half","value":"h","expiration":"2026-11-22T04:22:53Z","ttl":3,"modifiedIndex":8,"createdIndex":8}}`,
		`{"action":"expire","node":{"key":"/zero","modifiedIndex":9,"createdIndex":6},"prevNode":{"key":"/zero","value":"z","expiration":"2026-11-22T04:22:50Z","modifiedIndex":6,"createdIndex":6}}`,
	}
	got := drain(all.Events, 21-3)
	for i, w := range want {
		if i >= len(got) || strings.TrimSuffix(string(got[i].JSON()), "\n") != w {
			t.Errorf("watch event %d:\n got %s\nwant %s", i, eventString(got, i), w)
		}
	}
	// The sweep at t0+1000s removes /half (expires 53.0) before /frac
	// (53.09), the prevNode ttl being negative by then.
	if len(got) == 18 {
		w19 := `{"action":"expire","node":{"key":"/half","modifiedIndex":20,"createdIndex":8},"prevNode":{"key":"/half","value":"h","expiration":"2026-11-22T04:22:53Z","ttl":-997,"modifiedIndex":8,"createdIndex":8}}`
		w20 := `{"action":"expire","node":{"key":"/frac","modifiedIndex":21,"createdIndex":7},"prevNode":{"key":"/frac","value":"f","expiration":"2026-11-22T04:22:53.090750605Z","ttl":-996,"modifiedIndex":7,"createdIndex":7}}`
		if g := strings.TrimSuffix(string(got[16].JSON()), "\n"); g != w19 {
			t.Errorf("expire 20:\n got %s\nwant %s", g, w19)
		}
		if g := strings.TrimSuffix(string(got[17].JSON()), "\n"); g != w20 {
			t.Errorf("expire 21:\n got %s\nwant %s", g, w20)
		}
	} else {
		t.Errorf("watcher got %d events, want 18", len(got))
	}
}

func eventString(evs []*Event, i int) string {
	if i >= len(evs) {
		return "<none>"
	}
	return strings.TrimSuffix(string(evs[i].JSON()), "\n")
}

// drain reads up to n events that are already queued (it does not wait).
func drain(ch <-chan *Event, n int) []*Event {
	var out []*Event
	for len(out) < n {
		select {
		case ev, ok := <-ch:
			if !ok {
				return out
			}
			out = append(out, ev)
		default:
			return out
		}
	}
	return out
}

// TestExpireOrder: one sweep removes every node with expiration <= Time,
// earliest first (ties by key), each with its own index and event.
func TestExpireOrder(t *testing.T) {
	s := newBootstrapped(t)
	for _, r := range []*Request{
		withTTL(rSet("/b", "b"), 2),  // 4
		withTTL(rSet("/a", "a"), 2),  // 5
		withTTL(rSet("/c", "c"), 1),  // 6
		withTTL(rSet("/d", "d"), 10), // 7
		rSet("/perm", "p"),           // 8
	} {
		r.Time = t0
		if _, err := s.Apply(r); err != nil {
			t.Fatal(err)
		}
	}
	w, _ := s.Watch("/", true, true, 0)
	if got := s.NextExpiration(); got != t0+sec {
		t.Errorf("NextExpiration = %d, want %d", got, t0+sec)
	}
	before := s.Stats().ExpireCount.Load()
	if ev, err := s.Apply(rExpire(t0 + 2*sec)); ev != nil || err != nil {
		t.Fatalf("expire returned %v %v", ev, err)
	}
	if s.Index() != 11 {
		t.Fatalf("index after sweep = %d, want 11", s.Index())
	}
	if got := s.Stats().ExpireCount.Load() - before; got != 3 {
		t.Errorf("expireCount grew by %d, want 3", got)
	}
	evs := drain(w.Events, 10)
	var order []string
	for i, ev := range evs {
		order = append(order, ev.Action+" "+ev.Node.Key)
		if ev.Index != uint64(9+i) || ev.Node.ModifiedIndex != ev.Index {
			t.Errorf("event %d index %d/%d, want %d", i, ev.Index, ev.Node.ModifiedIndex, 9+i)
		}
	}
	if got := strings.Join(order, ","); got != "expire /c,expire /a,expire /b" {
		t.Errorf("expiry order %s", got)
	}
	if got := s.NextExpiration(); got != t0+10*sec {
		t.Errorf("NextExpiration = %d, want %d", got, t0+10*sec)
	}
	// Nothing due: no index, no event.
	s.Apply(rExpire(t0 + 10*sec - 1))
	if s.Index() != 11 || len(drain(w.Events, 1)) != 0 {
		t.Errorf("an empty sweep changed something")
	}
}

// TestExpireDirectory: a TTL directory takes its subtree along; watchers on
// descendants get the directory's event; a child's own TTL entry goes too.
func TestExpireDirectory(t *testing.T) {
	s := newBootstrapped(t)
	stRun(t, s, []stStep{
		do(withTTL(rSetDir("/tdir"), 3), `{"action":"set","node":{"key":"/tdir","dir":true,"expiration":"2026-11-22T04:22:53Z","ttl":3,"modifiedIndex":4,"createdIndex":4}}`),
		do(rSet("/tdir/child", "c"), `{"action":"set","node":{"key":"/tdir/child","value":"c","modifiedIndex":5,"createdIndex":5}}`),
		do(withTTL(rSet("/tdir/sub/ttlkid", "k"), 4), `{"action":"set","node":{"key":"/tdir/sub/ttlkid","value":"k","expiration":"2026-11-22T04:22:54Z","ttl":4,"modifiedIndex":6,"createdIndex":6}}`),
		do(withTTL(rUpdate("/tdir", ""), 4), `{"action":"update","node":{"key":"/tdir","dir":true,"expiration":"2026-11-22T04:22:54Z","ttl":4,"modifiedIndex":7,"createdIndex":4},"prevNode":{"key":"/tdir","dir":true,"expiration":"2026-11-22T04:22:53Z","ttl":3,"modifiedIndex":4,"createdIndex":4}}`),
	})
	child, _ := s.Watch("/tdir/child", false, false, 0)
	childStream, _ := s.Watch("/tdir/child", false, true, 0)
	deep, _ := s.Watch("/tdir/sub/ttlkid", false, false, 0)
	subRec, _ := s.Watch("/tdir/sub", true, false, 0)
	dir, _ := s.Watch("/tdir", false, false, 0)
	root, _ := s.Watch("/", true, true, 0)
	ghost, _ := s.Watch("/tdir/nonexistent", false, false, 0)
	s.Apply(rExpire(t0 + 4*sec))
	if s.Index() != 8 {
		t.Fatalf("index = %d, want 8 (one expire for the whole subtree)", s.Index())
	}
	want := `{"action":"expire","node":{"key":"/tdir","dir":true,"modifiedIndex":8,"createdIndex":4},"prevNode":{"key":"/tdir","dir":true,"expiration":"2026-11-22T04:22:54Z","modifiedIndex":4,"createdIndex":4}}` + "\n"
	for name, w := range map[string]*Watcher{"child": child, "childStream": childStream, "deep": deep, "subRec": subRec, "dir": dir, "root": root} {
		evs := drain(w.Events, 5)
		if len(evs) != 1 || string(evs[0].JSON()) != want {
			t.Errorf("%s watcher got %d events: %s", name, len(evs), eventString(evs, 0))
		}
	}
	// Live notification only reaches watchers of removed nodes; the
	// string-prefix quirk is a history-scan thing.
	if evs := drain(ghost.Events, 1); len(evs) != 0 {
		t.Errorf("watcher on a never-existing path got %v", evs)
	}
	stRun(t, s, []stStep{
		get("/tdir/child", `{"errorCode":100,"message":"Key not found","cause":"/tdir","index":8}`),
		get("/", `{"action":"get","node":{"dir":true}}`),
	})
	if s.NextExpiration() != 0 {
		t.Errorf("the child's TTL is still scheduled")
	}
	s.Apply(rExpire(t0 + 100*sec))
	if s.Index() != 8 {
		t.Errorf("a later sweep expired something more: index %d", s.Index())
	}
	if got := s.Stats().ExpireCount.Load(); got != 1 {
		t.Errorf("expireCount = %d, want 1", got)
	}
	child.Remove()
	childStream.Remove()
	ghost.Remove()
	root.Remove()
	if n := s.Stats().Watchers.Load(); n != 0 {
		t.Errorf("watchers = %d after removing all", n)
	}
}

// TestIndexRules: failed operations do not advance the index; internal
// operations do, and are counted.
func TestIndexRules(t *testing.T) {
	s := New()
	s.Apply(&Request{Op: OpMemberBootstrap})
	if s.Index() != 3 {
		t.Fatalf("bootstrap index %d", s.Index())
	}
	st := s.Stats()
	if st.CreateSuccess.Load() != 1 || st.SetsSuccess.Load() != 2 {
		t.Errorf("bootstrap stats: create %d sets %d", st.CreateSuccess.Load(), st.SetsSuccess.Load())
	}
	for _, c := range []struct {
		op   Op
		grow uint64
	}{{OpMemberStart, 1}, {OpMemberUpdate, 1}, {OpMemberAdd, 1}, {OpMemberRemove, 1}, {OpNoop, 0}} {
		before := s.Index()
		ev, err := s.Apply(&Request{Op: c.op})
		if ev != nil || err != nil {
			t.Errorf("%s returned %v %v", opName(c.op), ev, err)
		}
		if s.Index() != before+c.grow {
			t.Errorf("%s: index %d -> %d, want +%d", opName(c.op), before, s.Index(), c.grow)
		}
	}
	if s.Index() != 7 {
		t.Fatalf("index %d, want 7", s.Index())
	}
	_, err := s.Apply(&Request{Op: Op(200), Key: "/x"})
	if err == nil || err.Code != EcodeRaftInternal || err.Index != 7 {
		t.Errorf("unknown op: %v", err)
	}
	// Internal events are in the history but never match a watch.
	w, werr := s.Watch("/", true, false, 1)
	if werr != nil {
		t.Fatal(werr)
	}
	if evs := drain(w.Events, 1); len(evs) != 0 {
		t.Errorf("internal event matched a watch: %s", evs[0].JSON())
	}
	stRun(t, s, []stStep{
		do(rSet("/x", "1"), `{"action":"set","node":{"key":"/x","value":"1","modifiedIndex":8,"createdIndex":8}}`),
	})
	if evs := drain(w.Events, 2); len(evs) != 1 || evs[0].Index != 8 {
		t.Errorf("watch from 1 got %v", evs)
	}
}

// TestStats checks every counter after a known sequence.
func TestStats(t *testing.T) {
	s := newBootstrapped(t) // create 1, sets 2
	seq := []*Request{
		rSet("/a", "1"),                        // set ok
		rSet("/a/b", "1"),                      // set fail 104
		rSet("/", "x"),                         // set fail 107
		rCreate("/a", "1"),                     // create fail
		rCreate("/b", "1"),                     // create ok
		rPost("/q", "1"),                       // create ok
		rPost("/a", "1"),                       // create fail
		rUpdate("/a", "2"),                     // update ok
		rUpdate("/zz", "2"),                    // update fail
		refresh(withTTL(rUpdate("/a", ""), 9)), // update ok
		rCAS("/a", "3", "2", 0),                // cas ok
		rCAS("/a", "3", "nope", 0),             // cas fail
		rCAS("/zz", "3", "nope", 0),            // cas fail
		rCAD("/b", "nope", 0),                  // cad fail
		rCAD("/b", "1", 0),                     // cad ok
		rDel("/q", false, false),               // delete fail 102
		rDel("/q", false, true),                // delete ok
		rDel("/q", false, true),                // delete fail 100
		withTTL(rSet("/t1", "t"), 1),           // set ok
		withTTL(rSetDir("/t2"), 1),             // set ok
		refresh(withTTL(rSet("/t1", ""), 1)),   // set ok (refresh counts as set)
		rExpire(t0 + sec),                      // 2 expires
	}
	for _, r := range seq {
		if r.Time == 0 {
			r.Time = t0
		}
		s.Apply(r)
	}
	s.Get("/a", false, t0)
	s.Get("/", true, t0)
	s.Get("/nope", false, t0)
	w1, _ := s.Watch("/w", false, false, 0)
	w2, _ := s.Watch("/w", true, true, 0)
	want := `{"getsSuccess":2,"getsFail":1,"setsSuccess":6,"setsFail":2,"deleteSuccess":1,"deleteFail":2,"updateSuccess":2,"updateFail":1,"createSuccess":3,"createFail":2,"compareAndSwapSuccess":1,"compareAndSwapFail":2,"compareAndDeleteSuccess":1,"compareAndDeleteFail":1,"expireCount":2,"watchers":2}`
	if got := string(s.Stats().AppendJSON(nil)); got != want {
		t.Errorf("stats:\n got %s\nwant %s", got, want)
	}
	w1.Remove()
	w2.Remove()
	w2.Remove()
	if got := s.Stats().Watchers.Load(); got != 0 {
		t.Errorf("watchers = %d after Remove", got)
	}
	// The index counts every successful mutation: 3 + 11 successes + 2 expires.
	if s.Index() != 3+11+2 {
		t.Errorf("index = %d, want %d", s.Index(), 3+11+2)
	}
}

// TestEventJSONShapes covers the smaller JSON rules: IsCreated, the
// action-only body, error bodies with and without cause.
func TestEventJSONShapes(t *testing.T) {
	s := newBootstrapped(t)
	ev, _ := s.Apply(&Request{Op: OpSet, Key: "/a", Value: "1", Time: t0})
	if !ev.IsCreated() {
		t.Error("set of a new key is not IsCreated")
	}
	if got := string(ev.ActionOnlyJSON()); got != `{"action":"set"}`+"\n" {
		t.Errorf("ActionOnlyJSON = %q", got)
	}
	ev, _ = s.Apply(&Request{Op: OpSet, Key: "/a", Value: "2", Time: t0})
	if ev.IsCreated() {
		t.Error("replacing set is IsCreated")
	}
	ev, _ = s.Apply(&Request{Op: OpCreate, Key: "/b", Time: t0})
	if !ev.IsCreated() {
		t.Error("create is not IsCreated")
	}
	ev, _ = s.Apply(&Request{Op: OpUpdate, Key: "/b", Time: t0})
	if ev.IsCreated() {
		t.Error("update is IsCreated")
	}
	if got := string(NewError(EcodeNotFile, "", 9).AppendJSON(nil)); got != `{"errorCode":102,"message":"Not a file","index":9}`+"\n" {
		t.Errorf("error without cause = %q", got)
	}
	if got := string(NewError(EcodeEventIndexCleared, "the requested history has been cleared [8/2]", 1007).AppendJSON(nil)); got != `{"errorCode":401,"message":"The event in requested index is outdated and cleared","cause":"the requested history has been cleared [8/2]","index":1007}`+"\n" {
		t.Errorf("401 = %q", got)
	}
	if got := NewError(EcodeKeyNotFound, "/x", 3).Error(); got != "100: Key not found (/x) [3]" {
		t.Errorf("Error() = %q", got)
	}
}

// TestGetDoesNotMutate: reads never change the key space or the index.
func TestGetDoesNotMutate(t *testing.T) {
	s := newBootstrapped(t)
	s.Apply(&Request{Op: OpSet, Key: "/a/b", Value: "1", Time: t0, Expiration: t0 + sec})
	before := dumpStore(t, s, t0)
	for i := 0; i < 3; i++ {
		s.Get("/a", true, t0+100*sec) // long past the expiration
		s.Get("/a/b", false, t0+100*sec)
		s.Get("/zz/y", false, t0)
	}
	if after := dumpStore(t, s, t0); after != before {
		t.Errorf("Get changed the store:\n%s\n%s", before, after)
	}
}

// dumpStore renders the whole tree including hidden nodes, the index and
// the next expiration, for equality checks.
func dumpStore(t testing.TB, s *Store, now int64) string {
	t.Helper()
	s.mu.RLock()
	defer s.mu.RUnlock()
	var b strings.Builder
	var walk func(n *node)
	walk = func(n *node) {
		v := n.view(now)
		b.Write(v.AppendJSON(nil))
		b.WriteByte('\n')
		names := make([]string, 0, len(n.children))
		for name := range n.children {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			walk(n.children[name])
		}
	}
	walk(s.root)
	b.WriteString("index ")
	b.WriteString(strconv.FormatUint(s.index, 10))
	b.WriteString(" heap ")
	b.WriteString(strconv.Itoa(len(s.ttl)))
	return b.String()
}

// TestApplyMalformedKey: keys come from the raft log, so a corrupted or
// foreign entry can carry a key the API would never produce. Apply must not
// panic on it (a panic in the FSM takes every member down, on every replay
// of the log); a bad key must fail without changing the store.
func TestApplyMalformedKey(t *testing.T) {
	ops := []Op{OpSet, OpCreate, OpUpdate, OpCompareAndSwap, OpDelete, OpCompareAndDelete, OpCreateInOrder}
	for _, op := range ops {
		for _, key := range []string{"", "//"} {
			s := newBootstrapped(t)
			mustApply(t, s, rSet("/a/b", "x"))
			before := dumpStore(t, s, t0)
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Errorf("Apply(%s, key %q) panicked: %v", opName(op), key, p)
					}
				}()
				ev, err := s.Apply(&Request{Op: op, Key: key, PrevValue: "x", Time: t0})
				if err == nil {
					t.Errorf("Apply(%s, key %q) succeeded: %s", opName(op), key, ev.JSON())
				} else if dumpStore(t, s, t0) != before {
					t.Errorf("Apply(%s, key %q) failed but changed the store", opName(op), key)
				}
			}()
		}
	}
}

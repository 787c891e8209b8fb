package tmplfunc

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestStoreMethods(t *testing.T) {
	s := NewStore(testKeys)
	if s.Len() != len(testKeys) {
		t.Errorf("Len = %d, want %d", s.Len(), len(testKeys))
	}
	if _, err := s.Get("/nope"); !errors.Is(err, ErrNotExist) || err.Error() != "key does not exist: /nope" {
		t.Errorf("Get missing: %v", err)
	}
	kv, err := s.Get("/top")
	if err != nil || kv != (KVPair{Key: "/top", Value: "t"}) {
		t.Errorf("Get /top = %v, %v", kv, err)
	}
	kvs, err := s.GetAll("/sort/*")
	want := KVPairs{{"/sort/one", "zz"}, {"/sort/three", "mm"}, {"/sort/two", "aa"}}
	if err != nil || !slices.Equal(kvs, want) {
		t.Errorf("GetAll = %v, %v", kvs, err)
	}
	if vs, _ := s.GetAllValues("/sort/*"); !slices.Equal(vs, []string{"aa", "mm", "zz"}) {
		t.Errorf("GetAllValues = %q", vs)
	}
	if v, err := s.GetValue("/nope", "d"); v != "d" || err != nil {
		t.Errorf("GetValue default = %q, %v", v, err)
	}
	if !s.Exists("/top") || s.Exists("/app") {
		t.Error("Exists")
	}
	if got := s.List("/app"); !slices.Equal(got, []string{"name", "servers", "upstream"}) {
		t.Errorf("List = %q", got)
	}
	if got := s.ListDir("/app"); !slices.Equal(got, []string{"servers", "upstream"}) {
		t.Errorf("ListDir = %q", got)
	}
}

// TestStoreEmpty covers the zero, nil and empty stores: everything is
// missing, lists are empty (non-nil, printed "[]"), and a malformed gets
// pattern is not reported because there is nothing to match it against.
func TestStoreEmpty(t *testing.T) {
	for name, s := range map[string]*Store{"nil": nil, "zero": {}, "empty": NewStore(nil)} {
		if s.Len() != 0 || len(s.Map()) != 0 || s.Exists("/") {
			t.Errorf("%s: not empty", name)
		}
		s.Map()["/x"] = "written into the copy" // the copy is always writable
		if _, err := s.Get("/x"); !errors.Is(err, ErrNotExist) {
			t.Errorf("%s: Get: %v", name, err)
		}
		if kvs, err := s.GetAll("/x/["); kvs == nil || len(kvs) != 0 || err != nil {
			t.Errorf("%s: GetAll = %v, %v", name, kvs, err)
		}
		if vs, err := s.GetAllValues("/*"); vs == nil || len(vs) != 0 || err != nil {
			t.Errorf("%s: GetAllValues = %v, %v", name, vs, err)
		}
		if l := s.List("/"); l == nil || len(l) != 0 {
			t.Errorf("%s: List = %v", name, l)
		}
		if l := s.ListDir("/"); l == nil || len(l) != 0 {
			t.Errorf("%s: ListDir = %v", name, l)
		}
		var b strings.Builder
		err := Render("t.tmpl", `{{ls "/"}}{{lsdir "/"}}{{gets "/x/["}}{{getvs "*"}}{{getv "/x" "d"}}{{exists "/x"}}`, s, &b)
		if err != nil || b.String() != "[][][][]dfalse" {
			t.Errorf("%s: rendered %q, %v", name, b.String(), err)
		}
	}
}

// TestStoreOddKeys: keys are stored as given; the listing functions compare
// whole, cleaned path elements, and nothing panics on a key "/" or "".
func TestStoreOddKeys(t *testing.T) {
	s := NewStore(map[string]string{"/": "root", "": "empty", "/a/": "trail", "/a/b": "x", "rel/c": "r"})
	if v, err := s.GetValue("/"); v != "root" || err != nil {
		t.Errorf(`GetValue "/" = %q, %v`, v, err)
	}
	if v, err := s.GetValue(""); v != "empty" || err != nil {
		t.Errorf(`GetValue "" = %q, %v`, v, err)
	}
	if got := s.List("/"); !slices.Equal(got, []string{"/", "a"}) {
		t.Errorf(`List "/" = %q`, got)
	}
	if got := s.List("/a"); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf(`List "/a" = %q`, got)
	}
	if got := s.ListDir("/"); !slices.Equal(got, []string{"a"}) {
		t.Errorf(`ListDir "/" = %q`, got)
	}
	if got := s.List("rel"); !slices.Equal(got, []string{"c"}) {
		t.Errorf(`List "rel" = %q`, got)
	}
}

// TestStoreImmutable: the store copies its input, and the in-place list
// functions only ever touch fresh copies, even under concurrent renders.
func TestStoreImmutable(t *testing.T) {
	in := map[string]string{"/a/1": "x", "/a/22": "y", "/a/333": "z"}
	s := NewStore(in)
	in["/a/1"] = "changed"
	delete(in, "/a/22")
	if v, _ := s.GetValue("/a/1"); v != "x" || !s.Exists("/a/22") {
		t.Fatal("store follows the caller's map")
	}
	m := s.Map()
	m["/a/1"] = "changed"
	if v, _ := s.GetValue("/a/1"); v != "x" {
		t.Fatal("Map returned the store's own map")
	}

	const src = `{{range reverse (gets "/a/*")}}{{.Key}}{{end}}|{{reverse (getvs "/a/*")}}|` +
		`{{sortKVByLength (reverse (gets "/a/*"))}}|{{sortByLength (reverse (ls "/a"))}}`
	const want = `/a/333/a/22/a/1|[z y x]|[{/a/1 x} {/a/22 y} {/a/333 z}]|[1 22 333]`
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			for range 50 {
				var b strings.Builder
				if err := Render("t.tmpl", src, s, &b); err != nil {
					errs <- err
					return
				}
				if b.String() != want {
					errs <- fmt.Errorf("got %q, want %q", b.String(), want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if kvs, _ := s.GetAll("/a/*"); kvs[0].Key != "/a/1" {
		t.Errorf("store order changed: %v", kvs)
	}
}

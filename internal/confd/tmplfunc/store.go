// Package tmplfunc is what a confd template sees: the in-memory key/value
// store of one resource and confd 0.16's complete template function set
// (the seven store functions and the thirty-two general ones; the PGP
// cget* functions are not provided because hecd has no -secret-keyring).
//
// Templates written for confd 0.16 must render byte for byte the same, so
// every function keeps 0.16's semantics, including quirks that templates in
// the wild depend on (exists is false for a directory, getvs sorts by value,
// gets globs never cross "/", getv's default only applies to a missing key).
// The few deliberate departures are marked "Deliberate difference" where
// they are made; each only turns a useless answer, a crash or an endless
// loop into a useful answer or an error.
//
// A Store is immutable once built, so one Store may serve any number of
// concurrent renders; functions that sort or reverse "in place" (as confd's
// do) only ever touch slices freshly returned to the template.
package tmplfunc

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
)

// KVPair is one leaf of the store. Templates print it with .Key and .Value;
// printed bare it reads {KEY VALUE}, as in confd, so the field set and order
// are part of the output format.
type KVPair struct {
	Key   string
	Value string
}

// KVPairs is what gets returns. It is a named type, as in confd, so that a
// template passing it to a function typed []KVPair (sortKVByLength) still
// works through Go's assignability rules.
type KVPairs []KVPair

// ErrNotExist is the cause of every "key does not exist: KEY" error.
var ErrNotExist = errors.New("key does not exist")

// Store holds the leaves one resource fetched, keyed by their full
// un-prefixed slash path ("/app/servers/a"). Directories are not stored:
// a directory exists only in that some leaf lies below it. The zero Store
// and a nil *Store are empty stores.
type Store struct {
	pairs []KVPair          // sorted by Key, byte order
	index map[string]string // Key -> Value, for exact look-ups
}

// NewStore builds a store from leaves. Keys are used exactly as given:
// callers pass the absolute, cleaned paths confd would store
// (path.Join("/", strings.TrimPrefix(backendKey, prefix))). The map is
// copied, so later changes to m do not show.
func NewStore(m map[string]string) *Store {
	s := &Store{
		pairs: make([]KVPair, 0, len(m)),
		index: maps.Clone(m),
	}
	for k, v := range m {
		s.pairs = append(s.pairs, KVPair{Key: k, Value: v})
	}
	slices.SortFunc(s.pairs, func(a, b KVPair) int { return strings.Compare(a.Key, b.Key) })
	return s
}

// Len is the number of leaves.
func (s *Store) Len() int {
	if s == nil {
		return 0
	}
	return len(s.pairs)
}

// Map returns a copy of the leaves (for logging the store, as confd's
// "Got the following map from store" debug line does).
func (s *Store) Map() map[string]string {
	m := make(map[string]string, s.Len())
	if s != nil {
		maps.Copy(m, s.index)
	}
	return m
}

// Get is the template function get: the pair stored at exactly key.
// A directory is as missing as an absent key.
func (s *Store) Get(key string) (KVPair, error) {
	if s != nil {
		if v, ok := s.index[key]; ok {
			return KVPair{Key: key, Value: v}, nil
		}
	}
	return KVPair{}, fmt.Errorf("%w: %s", ErrNotExist, key)
}

// GetAll is the template function gets: every pair whose key matches the
// shell pattern (path.Match: "*" and "?" never cross "/", [...] classes,
// "\" escapes), sorted by key. No match is an empty list, not an error.
// A malformed pattern is an error only when there is a key to match it
// against, as in confd (the pattern is checked by matching).
func (s *Store) GetAll(pattern string) (KVPairs, error) {
	out := KVPairs{}
	if s == nil {
		return out, nil
	}
	for _, kv := range s.pairs {
		ok, err := path.Match(pattern, kv.Key)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, kv)
		}
	}
	return out, nil
}

// GetValue is the template function getv. A missing key yields the first
// default if one is given (even ""), else an error; further defaults are
// ignored. A present key with an empty value yields "", never the default.
func (s *Store) GetValue(key string, def ...string) (string, error) {
	kv, err := s.Get(key)
	if err != nil {
		if len(def) > 0 {
			return def[0], nil
		}
		return "", err
	}
	return kv.Value, nil
}

// GetAllValues is the template function getvs: the values gets would
// return, sorted by value rather than by key (confd 0.16 does this and
// templates depend on the order).
func (s *Store) GetAllValues(pattern string) ([]string, error) {
	kvs, err := s.GetAll(pattern)
	if err != nil {
		return nil, err
	}
	vs := make([]string, 0, len(kvs))
	for _, kv := range kvs {
		vs = append(vs, kv.Value)
	}
	slices.Sort(vs)
	return vs, nil
}

// Exists is the template function exists: true only for a stored leaf, so a
// directory is false (confd 0.16 behaviour; templates test directories with
// ls or lsdir).
func (s *Store) Exists(key string) bool {
	_, err := s.Get(key)
	return err == nil
}

// List is the template function ls: the sorted, de-duplicated names of the
// immediate children of dir, leaves and sub-directories alike. If dir is
// itself a leaf its own base name is included (confd does so; it matters
// for backends where a key can hold a value and children). A trailing "/"
// is ignored; a missing dir gives an empty list.
//
// Deliberate difference: ls "/" lists top-level directories as well as
// top-level leaves; confd 0.16 never listed top-level directories there
// (kelseyhightower/confd#725).
func (s *Store) List(dir string) []string {
	names := []string{}
	if s == nil {
		return names
	}
	dir = path.Clean(dir)
	for _, kv := range s.pairs {
		key := path.Clean(kv.Key)
		if key == dir {
			names = append(names, path.Base(key))
			continue
		}
		if rest, ok := below(dir, key); ok {
			name, _, _ := strings.Cut(rest, "/")
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// ListDir is the template function lsdir: the sorted names of the
// immediate sub-directories of dir (a name with some leaf below it).
//
// Deliberate difference: lsdir "/" lists the top-level directories;
// confd 0.16 always returned an empty list there (kelseyhightower/confd#725).
func (s *Store) ListDir(dir string) []string {
	names := []string{}
	if s == nil {
		return names
	}
	dir = path.Clean(dir)
	for _, kv := range s.pairs {
		rest, ok := below(dir, path.Clean(kv.Key))
		if !ok {
			continue
		}
		if name, _, sub := strings.Cut(rest, "/"); sub {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// below reports whether the cleaned key lies strictly below the cleaned
// dir, by whole path elements ("/app" is not below "/ap"), and returns the
// part of key after dir and its separator.
func below(dir, key string) (string, bool) {
	if dir == "/" {
		rest, ok := strings.CutPrefix(key, "/")
		return rest, ok && rest != ""
	}
	rest, ok := strings.CutPrefix(key, dir)
	if !ok {
		return "", false
	}
	rest, ok = strings.CutPrefix(rest, "/")
	return rest, ok && rest != ""
}

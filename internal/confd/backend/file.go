package backend

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// DefaultFilePollInterval is how often a watch on a File backend reads the
// files again unless File.PollInterval says otherwise.
const DefaultFilePollInterval = 500 * time.Millisecond

// fileHistoryLen is how many past states a File backend remembers so that
// a watch can tell whether a change touched its keys. A watch from a state
// that has been forgotten returns at once: one spare render, nothing lost.
const fileHistoryLen = 64

// File reads keys from YAML files (JSON being YAML, .json files too), as
// confd's file backend does: nested maps become paths, list items are
// numbered path elements, and all files are merged.
//
// Watching polls the files and compares their contents instead of using
// inotify: it needs no extra dependency, sees files replaced by rename
// (editors, Kubernetes ConfigMaps) as well as edits in place, and cannot
// crash the way confd 0.16's fsnotify watch did on the first change.
type File struct {
	// PollInterval is how often a watch reads the files again; set it
	// before the first WatchPrefix. A new content is taken once two reads
	// in a row agree, so a file caught half-written is not rendered: a
	// change is seen within about two intervals.
	PollInterval time.Duration

	paths  []string
	filter string

	mu      sync.Mutex
	seq     uint64          // index of the newest state
	history []*fileSnapshot // oldest first; the last is the current state
	changed chan struct{}   // closed and replaced when a state is added

	pollOnce  sync.Once
	closeOnce sync.Once
	closed    chan struct{}
	pollDone  chan struct{}
}

// fileSnapshot is what the files said at one point: either all values
// (before filtering by key) or the error reading them gave.
type fileSnapshot struct {
	seq    uint64
	sum    [sha256.Size]byte
	values map[string]string
	err    error
}

// NewFile returns a backend reading paths: each is a file, read whatever
// its name, or a directory, walked recursively for files whose base name
// matches the glob filter ("*" when empty). Later paths, and later files
// within a directory (in lexical order), win when two give the same key.
// Nothing is read yet: a path that is missing now is reported by
// GetValues, so it may appear later.
func NewFile(paths []string, filter string) (*File, error) {
	if len(paths) == 0 {
		return nil, errors.New("file backend: no file or directory given")
	}
	if filter == "" {
		filter = "*"
	}
	if _, err := filepath.Match(filter, ""); err != nil {
		return nil, fmt.Errorf("file backend: bad filter %q: %v", filter, err)
	}
	return &File{
		PollInterval: DefaultFilePollInterval,
		paths:        slices.Clone(paths),
		filter:       filter,
		changed:      make(chan struct{}),
		closed:       make(chan struct{}),
		pollDone:     make(chan struct{}),
	}, nil
}

// GetValues reads the files afresh and returns the values whose keys
// start (as strings, as in confd) with one of keys. The index counts the
// distinct contents this backend has seen. A file that cannot be parsed
// fails the whole read, with its name and line in the error.
func (f *File) GetValues(ctx context.Context, keys []string) (map[string]string, uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	s := f.record(f.read())
	if s.err != nil {
		return nil, s.seq, s.err
	}
	values := make(map[string]string)
	for k, v := range s.values {
		if fileKeyWanted(k, keys) {
			values[k] = v
		}
	}
	return values, s.seq, nil
}

// WatchPrefix returns the index of the first state after index in which a
// value under keys differs, was added or was removed, or in which the
// files cannot be read (so that the caller reads, and reports, the error).
// With index 0, or an index this backend no longer remembers, it returns
// the current index at once. The prefix is not needed: keys carry it.
func (f *File) WatchPrefix(ctx context.Context, prefix string, keys []string, index uint64) (uint64, error) {
	select {
	case <-f.closed:
		return index, errClosedBackend
	default:
	}
	f.pollOnce.Do(func() { go f.poll() })

	f.mu.Lock()
	base := f.find(index)
	f.mu.Unlock()
	if base == nil {
		// Nothing to compare with: let the caller read.
		s := f.record(f.read())
		return s.seq, nil
	}
	for {
		f.mu.Lock()
		cur := f.history[len(f.history)-1]
		changed := f.changed
		f.mu.Unlock()
		if cur.seq != base.seq && fileStatesDiffer(base, cur, keys) {
			return cur.seq, nil
		}
		select {
		case <-ctx.Done():
			return index, ctx.Err()
		case <-f.closed:
			return index, errClosedBackend
		case <-changed:
		}
	}
}

// Close stops the polling.
func (f *File) Close() error {
	f.closeOnce.Do(func() {
		close(f.closed)
		// Take pollOnce so a WatchPrefix racing with Close cannot start
		// the poller afterwards, and wait for one already started.
		started := true
		f.pollOnce.Do(func() { started = false })
		if started {
			<-f.pollDone
		}
	})
	return nil
}

// find returns the remembered state with index seq, or nil. f.mu is held.
func (f *File) find(seq uint64) *fileSnapshot {
	if seq == 0 {
		return nil
	}
	for _, s := range f.history {
		if s.seq == seq {
			return s
		}
	}
	return nil
}

// poll reads the files every PollInterval until Close, and records a new
// content once two reads in a row have seen it.
func (f *File) poll() {
	defer close(f.pollDone)
	interval := f.PollInterval
	if interval <= 0 {
		interval = DefaultFilePollInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var pending [sha256.Size]byte
	havePending := false
	for {
		select {
		case <-f.closed:
			return
		case <-t.C:
		}
		r := f.read()
		f.mu.Lock()
		same := len(f.history) > 0 && f.history[len(f.history)-1].sum == r.sum
		f.mu.Unlock()
		switch {
		case same:
			havePending = false
		case !havePending || pending != r.sum:
			// Seen once: maybe a file still being written. Look again.
			pending, havePending = r.sum, true
		default:
			havePending = false
			f.record(r)
		}
	}
}

// fileRead is the raw result of reading every file once.
type fileRead struct {
	sum   [sha256.Size]byte
	files []fileBytes
	err   error
}

type fileBytes struct {
	path string
	data []byte
}

// read reads every file, in merge order, and hashes what it read (or the
// error) so that an unchanged content is recognised without parsing.
func (f *File) read() fileRead {
	var r fileRead
	add := func(p string) error {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		r.files = append(r.files, fileBytes{p, data})
		return nil
	}
	for _, p := range f.paths {
		fi, err := os.Stat(p)
		if err == nil {
			if fi.IsDir() {
				err = f.walk(p, add)
			} else {
				err = add(p)
			}
		}
		if err != nil {
			r.err = fmt.Errorf("file backend: %w", err)
			r.files = nil
			r.sum = sha256.Sum256([]byte("error\x00" + r.err.Error()))
			return r
		}
	}
	h := sha256.New()
	var n [8]byte
	for _, fb := range r.files {
		h.Write([]byte(fb.path))
		h.Write([]byte{0})
		binary.BigEndian.PutUint64(n[:], uint64(len(fb.data)))
		h.Write(n[:])
		h.Write(fb.data)
	}
	h.Sum(r.sum[:0])
	return r
}

// walk calls add for every file below dir whose name matches the filter,
// in lexical order. A symbolic link to a file counts as a file (Kubernetes
// mounts ConfigMap keys that way); links to directories are not followed,
// so a link loop cannot trap the walk. A file that disappears between the
// listing and the read is simply not there.
func (f *File) walk(dir string, add func(string) error) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		switch {
		case e.IsDir():
			if err := f.walk(p, add); err != nil {
				return err
			}
			continue
		case e.Type().IsRegular():
		case e.Type()&fs.ModeSymlink != 0:
			fi, err := os.Stat(p)
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
		default:
			continue
		}
		if ok, _ := filepath.Match(f.filter, e.Name()); !ok {
			continue
		}
		if err := add(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// record returns the state matching r, parsing r and adding it as the new
// current state if its content differs from the current one.
func (f *File) record(r fileRead) *fileSnapshot {
	f.mu.Lock()
	if n := len(f.history); n > 0 && f.history[n-1].sum == r.sum {
		s := f.history[n-1]
		f.mu.Unlock()
		return s
	}
	f.mu.Unlock()

	s := &fileSnapshot{sum: r.sum, err: r.err}
	if s.err == nil {
		s.values = make(map[string]string)
		for _, fb := range r.files {
			if err := flattenYAML(fb.path, fb.data, s.values); err != nil {
				s.values, s.err = nil, err
				break
			}
		}
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if n := len(f.history); n > 0 && f.history[n-1].sum == r.sum {
		return f.history[n-1] // recorded meanwhile by another reader
	}
	f.seq++
	s.seq = f.seq
	f.history = append(f.history, s)
	if len(f.history) > fileHistoryLen {
		f.history = slices.Delete(f.history, 0, len(f.history)-fileHistoryLen)
	}
	close(f.changed)
	f.changed = make(chan struct{})
	return s
}

// fileKeyWanted says whether k starts with one of keys: a string prefix, not a
// path one (/app/serversx is under /app/servers), as confd filters.
func fileKeyWanted(k string, keys []string) bool {
	for _, key := range keys {
		if strings.HasPrefix(k, key) {
			return true
		}
	}
	return false
}

// fileStatesDiffer says whether a caller that rendered state a would render
// something else from state b.
func fileStatesDiffer(a, b *fileSnapshot, keys []string) bool {
	if a.err != nil || b.err != nil {
		return a.err == nil || b.err == nil || a.err.Error() != b.err.Error()
	}
	na, nb := 0, 0
	for k, v := range a.values {
		if !fileKeyWanted(k, keys) {
			continue
		}
		na++
		if w, ok := b.values[k]; !ok || w != v {
			return true
		}
	}
	for k := range b.values {
		if fileKeyWanted(k, keys) {
			nb++
		}
	}
	return na != nb
}

// flattenYAML adds the leaves of every document in data to out.
func flattenYAML(name string, data []byte, out map[string]string) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("file backend: cannot parse %s: %v", name, err)
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		asYAML11(root, false)
		var v any
		if err := root.Decode(&v); err != nil {
			return fmt.Errorf("file backend: cannot parse %s: %v", name, err)
		}
		switch v.(type) {
		case nil:
		case map[string]any, map[any]any:
			yamlFlatten("/", v, out)
		default:
			return fmt.Errorf("file backend: cannot parse %s: line %d: the document is not a mapping", name, root.Line)
		}
	}
}

// yaml11Bools are the plain words YAML 1.1 reads as booleans. confd read
// its files with yaml.v2, which follows YAML 1.1, so "enabled: yes" gave
// "true" there; yaml.v3 would give "yes".
var yaml11Bools = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true,
	"on": true, "On": true, "ON": true,
	"n": false, "N": false, "no": false, "No": false, "NO": false,
	"off": false, "Off": false, "OFF": false,
}

// asYAML11 re-tags plain (unquoted, untagged) scalars so that yaml.v3
// decodes them as yaml.v2 did into an interface: timestamps stay strings
// (yaml.v3 would make a time.Time, which has no value here) and the
// YAML 1.1 boolean words are booleans. Mapping keys keep their words:
// confd crashed on non-string keys, so there is nothing to be faithful to.
func asYAML11(n *yaml.Node, isKey bool) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Style != 0 {
			return
		}
		switch n.Tag {
		case "!!timestamp":
			n.Tag = "!!str"
		case "!!str":
			if b, ok := yaml11Bools[n.Value]; ok && !isKey {
				n.Tag, n.Value = "!!bool", strconv.FormatBool(b)
			}
		}
	case yaml.MappingNode:
		for i, c := range n.Content {
			asYAML11(c, i%2 == 0)
		}
	case yaml.SequenceNode, yaml.DocumentNode:
		for _, c := range n.Content {
			asYAML11(c, false)
		}
	}
}

// yamlFlatten adds the leaves of v, found at key p, to out. Map keys are
// joined with path.Join, as confd did, so a key "a/b" nests too. Keys are
// visited in sorted order so that two spellings of one path (a/b: and
// a: {b:}) resolve the same way every time.
func yamlFlatten(p string, v any, out map[string]string) {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			yamlFlatten(path.Join(p, k), t[k], out)
		}
	case map[any]any:
		// yaml.v3 makes this when some key is not a string (80: web).
		type kv struct {
			k string
			v any
		}
		var kvs []kv
		for k, c := range t {
			if s, ok := yamlScalar(k); ok {
				kvs = append(kvs, kv{s, c})
			}
		}
		sort.Slice(kvs, func(i, j int) bool { return kvs[i].k < kvs[j].k })
		for _, e := range kvs {
			yamlFlatten(path.Join(p, e.k), e.v, out)
		}
	case []any:
		for i, c := range t {
			yamlFlatten(path.Join(p, strconv.Itoa(i)), c, out)
		}
	default:
		if s, ok := yamlScalar(v); ok {
			out[p] = s
		}
	}
}

// yamlScalar formats a decoded scalar as confd did; nulls and anything
// else (a time.Time from an explicit !!timestamp, say) have no value.
func yamlScalar(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case int:
		return strconv.Itoa(t), true
	case int64:
		return strconv.FormatInt(t, 10), true
	case uint64:
		return strconv.FormatUint(t, 10), true
	case bool:
		return strconv.FormatBool(t), true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	}
	return "", false
}

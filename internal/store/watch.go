package store

import (
	"strings"
	"sync"
)

// watcherBuffer is how many undelivered events a watcher may hold before it
// is dropped (etcd closes such a watch; the client resumes from its index).
const watcherBuffer = 100

// Watcher receives the events of one watch. Events arrive on Events; the
// channel is closed when the watcher is dropped (slow consumer, or the store
// was replaced by a snapshot). Call Remove when the client goes away.
type Watcher struct {
	Events chan *Event
	// StartIndex is the etcd index when the watch was registered: etcd
	// reports it in X-Etcd-Index.
	StartIndex uint64

	key        string
	recursive  bool
	stream     bool
	sinceIndex uint64
	hub        *hub
	removed    bool // guarded by hub.mu
}

// Remove unregisters the watcher. It is safe to call more than once.
func (w *Watcher) Remove() {
	if w.hub == nil {
		return
	}
	w.hub.mu.Lock()
	w.hub.removeLocked(w)
	w.hub.mu.Unlock()
}

type hub struct {
	mu       sync.Mutex
	watchers map[string]map[*Watcher]struct{}
	count    *Stats
}

func (h *hub) init() { h.watchers = make(map[string]map[*Watcher]struct{}) }

func (h *hub) removeLocked(w *Watcher) {
	if w.removed {
		return
	}
	w.removed = true
	set := h.watchers[w.key]
	delete(set, w)
	if len(set) == 0 {
		delete(h.watchers, w.key)
	}
	if h.count != nil {
		h.count.Watchers.Add(-1)
	}
}

// Watch registers a watch on key. With waitIndex 0 it waits for the next
// event; otherwise the first matching event at or after waitIndex is
// returned from the history at once (already queued on Events) or awaited.
func (s *Store) Watch(key string, recursive, stream bool, waitIndex uint64) (*Watcher, *Error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	w := &Watcher{Events: make(chan *Event, watcherBuffer), StartIndex: s.index,
		key: key, recursive: recursive, stream: stream, sinceIndex: waitIndex}
	if waitIndex == 0 {
		w.sinceIndex = s.index + 1
	} else if waitIndex <= s.index {
		ev, err := s.history.scan(key, recursive, waitIndex, s.index)
		if err != nil {
			return nil, err
		}
		if ev != nil {
			// Never registered: even a stream watch gets only this
			// event (etcd quirk).
			w.Events <- ev
			return w, nil
		}
	}
	s.hub.mu.Lock()
	set := s.hub.watchers[key]
	if set == nil {
		set = make(map[*Watcher]struct{})
		s.hub.watchers[key] = set
	}
	set[w] = struct{}{}
	w.hub = &s.hub
	s.stats.Watchers.Add(1)
	s.hub.mu.Unlock()
	return w, nil
}

// deliver hands ev to w; non-stream watchers are done after one event and a
// watcher that cannot keep up is dropped.
func (h *hub) deliver(w *Watcher, ev *Event) {
	if ev.Index < w.sinceIndex || w.removed {
		return
	}
	select {
	case w.Events <- ev:
		if !w.stream {
			h.removeLocked(w)
		}
	default:
		h.removeLocked(w)
		close(w.Events)
	}
}

// notify delivers ev to the watchers on its key and on its ancestors.
// Ancestors' recursive watchers do not hear of keys below a hidden name.
func (h *hub) notify(ev *Event) {
	if ev.internal {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.watchers) == 0 {
		return
	}
	key := ev.Node.Key
	// The root and each ancestor, then the key itself.
	if set := h.watchers["/"]; set != nil && key != "/" && !hiddenBelow(key[1:]) {
		h.deliverRecursive(set, ev)
	}
	for i := 1; i < len(key); i++ {
		if key[i] != '/' {
			continue
		}
		if set := h.watchers[key[:i]]; set != nil && !hiddenBelow(key[i+1:]) {
			h.deliverRecursive(set, ev)
		}
	}
	for w := range h.watchers[key] {
		h.deliver(w, ev)
	}
}

func (h *hub) deliverRecursive(set map[*Watcher]struct{}, ev *Event) {
	for w := range set {
		if w.recursive {
			h.deliver(w, ev)
		}
	}
}

// notifyRemoved delivers the event of a removed directory to the watchers
// of one removed descendant path.
func (h *hub) notifyRemoved(path string, ev *Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.watchers[path] {
		h.deliver(w, ev)
	}
}

// hiddenBelow reports whether a relative path has a component starting
// with '_'.
func hiddenBelow(rel string) bool {
	return strings.HasPrefix(rel, "_") || strings.Contains(rel, "/_")
}

// closeAll drops every watcher (the store is being replaced).
func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, set := range h.watchers {
		for w := range set {
			h.removeLocked(w)
			close(w.Events)
		}
	}
}

package store

import (
	"strconv"
	"strings"
)

// historyCapacity is how many events etcd keeps for watches from the past.
const historyCapacity = 1000

// history is a ring of the most recent events of the whole store, internal
// and refresh events included, indexed by etcd index.
type history struct {
	events []*Event
	start  int // position of the oldest event
	count  int
}

func (h *history) init(capacity int) {
	h.events = make([]*Event, capacity)
	h.start, h.count = 0, 0
}

func (h *history) add(ev *Event) {
	if h.count < len(h.events) {
		h.events[(h.start+h.count)%len(h.events)] = ev
		h.count++
		return
	}
	h.events[h.start] = ev
	h.start = (h.start + 1) % len(h.events)
}

func (h *history) at(i int) *Event { return h.events[(h.start+i)%len(h.events)] }

// oldest is the index of the oldest retained event (0 when empty).
func (h *history) oldest() uint64 {
	if h.count == 0 {
		return 0
	}
	return h.at(0).Index
}

// scan returns the first event at or after since that a watch on key would
// see, nil when there is none yet, or 401 when since has left the window.
// Hidden keys are not filtered here: etcd's history scan does not.
func (h *history) scan(key string, recursive bool, since, current uint64) (*Event, *Error) {
	if h.count == 0 {
		return nil, nil
	}
	first := h.oldest()
	if since < first {
		return nil, NewError(EcodeEventIndexCleared,
			"the requested history has been cleared ["+strconv.FormatUint(first, 10)+"/"+strconv.FormatUint(since, 10)+"]", current)
	}
	prefix := key
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	for i := int(since - first); i < h.count; i++ {
		ev := h.at(i)
		if ev.Refresh || ev.internal {
			continue
		}
		k := ev.Node.Key
		if k == key || (recursive && strings.HasPrefix(k, prefix)) ||
			// A removed directory matches by plain string prefix
			// (etcd quirk: deleting /w/fo matches a watch on /w/foo).
			(ev.removedDir() && strings.HasPrefix(key, k)) {
			return ev, nil
		}
	}
	return nil, nil
}

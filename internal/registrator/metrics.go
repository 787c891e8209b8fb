package registrator

import (
	"sync/atomic"
	"time"
)

// counters are the registrator's metrics (C.9), updated atomically.
type counters struct {
	eventsReceived, eventsDropped, eventsCoalesced atomic.Uint64
	reconciles, reconcileSkipped, reconcileDiffs   atomic.Uint64
	added, removed, duplicates, refreshes          atomic.Uint64
	storeWrites, storeErrors, dockerErrors         atomic.Uint64
	reconnects                                     atomic.Uint64
	eventsApplied                                  atomic.Uint64 // dispatched, for tests
	lastDocker, lastStore                          atomic.Int64  // unix nanoseconds
}

// Metrics is a snapshot of the counters.
type Metrics struct {
	// Routes is the number of routes held and refreshed; Kept those kept
	// unrefreshed after their container died (--deregister on-success or
	// never).
	Routes int `json:"routes"`
	Kept   int `json:"kept"`
	// EventsReceived counts Docker events read; EventsDropped those lost
	// to a full queue (a reconcile stands in); EventsCoalesced the
	// requests merged into a pass already pending for the container.
	EventsReceived  uint64 `json:"eventsReceived"`
	EventsDropped   uint64 `json:"eventsDropped"`
	EventsCoalesced uint64 `json:"eventsCoalesced"`
	// Reconciles counts completed reconciles, ReconcileSkipped those that
	// could not list Docker or read the store, ReconcileDiffs the
	// containers reconciles found out of place.
	Reconciles       uint64 `json:"reconciles"`
	ReconcileSkipped uint64 `json:"reconcileSkipped"`
	ReconcileDiffs   uint64 `json:"reconcileDiffs"`
	// Added and Removed count route writes and deletes; Duplicates the
	// times a wanted app id was found held by someone else.
	Added      uint64 `json:"added"`
	Removed    uint64 `json:"removed"`
	Duplicates uint64 `json:"duplicates"`
	// Refreshes counts route TTL refreshes; StoreWrites every write
	// request (refreshes included); StoreErrors requests that got no
	// answer; DockerErrors failed Docker calls and broken event streams.
	Refreshes    uint64 `json:"refreshes"`
	StoreWrites  uint64 `json:"storeWrites"`
	StoreErrors  uint64 `json:"storeErrors"`
	DockerErrors uint64 `json:"dockerErrors"`
	// StreamReconnects counts reconnections of the event stream.
	StreamReconnects uint64 `json:"streamReconnects"`
	// LastDockerContact and LastStoreContact are the last successful
	// exchanges; zero if none yet.
	LastDockerContact time.Time `json:"lastDockerContact"`
	LastStoreContact  time.Time `json:"lastStoreContact"`
}

// Metrics returns the current counters.
func (r *Registrator) Metrics() Metrics {
	m := Metrics{
		EventsReceived:   r.m.eventsReceived.Load(),
		EventsDropped:    r.m.eventsDropped.Load(),
		EventsCoalesced:  r.m.eventsCoalesced.Load(),
		Reconciles:       r.m.reconciles.Load(),
		ReconcileSkipped: r.m.reconcileSkipped.Load(),
		ReconcileDiffs:   r.m.reconcileDiffs.Load(),
		Added:            r.m.added.Load(),
		Removed:          r.m.removed.Load(),
		Duplicates:       r.m.duplicates.Load(),
		Refreshes:        r.m.refreshes.Load(),
		StoreWrites:      r.m.storeWrites.Load(),
		StoreErrors:      r.m.storeErrors.Load(),
		DockerErrors:     r.m.dockerErrors.Load(),
		StreamReconnects: r.m.reconnects.Load(),
	}
	if t := r.m.lastDocker.Load(); t != 0 {
		m.LastDockerContact = time.Unix(0, t)
	}
	if t := r.m.lastStore.Load(); t != 0 {
		m.LastStoreContact = time.Unix(0, t)
	}
	r.mu.Lock()
	for _, g := range r.regs {
		if g.refresh {
			m.Routes++
		} else {
			m.Kept++
		}
	}
	r.mu.Unlock()
	return m
}

func (r *Registrator) dockerContact() { r.m.lastDocker.Store(time.Now().UnixNano()) }

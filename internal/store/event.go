package store

import "sync"

// Actions of v2 events.
const (
	ActionGet              = "get"
	ActionSet              = "set"
	ActionCreate           = "create"
	ActionUpdate           = "update"
	ActionCompareAndSwap   = "compareAndSwap"
	ActionDelete           = "delete"
	ActionCompareAndDelete = "compareAndDelete"
	ActionExpire           = "expire"
)

// Event is the outcome of a successful operation, as written to the client
// that made it and to every watcher that it matches.
type Event struct {
	Action   string
	Node     *NodeView
	PrevNode *NodeView

	// Index is the etcd index the event was produced at (0 for a get).
	Index uint64
	// Refresh marks TTL refreshes: kept in the history, never delivered.
	Refresh bool
	// internal events (membership bookkeeping) consume an index and a
	// history slot but live outside the user key space: no watch matches.
	internal bool

	once sync.Once
	json []byte
}

// IsCreated reports whether the write created the node (HTTP 201).
func (e *Event) IsCreated() bool {
	return e.Action == ActionCreate || (e.Action == ActionSet && e.PrevNode == nil)
}

// removedDir reports whether the event removed a whole directory, which
// matters for watchers below it.
func (e *Event) removedDir() bool {
	return (e.Action == ActionDelete || e.Action == ActionExpire) && e.Node.Dir
}

// JSON is the event body with its trailing newline. It is encoded once and
// shared by the writer's response and every watcher, so it must not be
// modified.
func (e *Event) JSON() []byte {
	e.once.Do(func() { e.json = e.AppendJSON(make([]byte, 0, 256)) })
	return e.json
}

// AppendJSON appends {"action":...,"node":...,"prevNode":...} and a newline.
func (e *Event) AppendJSON(b []byte) []byte {
	b = append(b, `{"action":`...)
	b = AppendJSONString(b, e.Action)
	if e.Node != nil {
		b = append(b, `,"node":`...)
		b = e.Node.AppendJSON(b)
	}
	if e.PrevNode != nil {
		b = append(b, `,"prevNode":`...)
		b = e.PrevNode.AppendJSON(b)
	}
	return append(b, "}\n"...)
}

// ActionOnlyJSON is the body for noValueOnSuccess.
func (e *Event) ActionOnlyJSON() []byte {
	b := append([]byte(`{"action":`), AppendJSONString(nil, e.Action)...)
	return append(b, "}\n"...)
}

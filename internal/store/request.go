package store

// Op is the kind of mutation a Request asks for. The API layer decides it
// from the method and parameters (etcd's dispatch table); the store only
// executes it.
type Op uint8

const (
	OpSet              Op = iota + 1 // PUT without conditions
	OpCreate                         // PUT prevExist=false
	OpUpdate                         // PUT prevExist=true without value/index conditions
	OpCompareAndSwap                 // PUT with prevValue or prevIndex
	OpDelete                         // DELETE without conditions
	OpCompareAndDelete               // DELETE with prevValue or prevIndex
	OpCreateInOrder                  // POST: child named after the new index
	OpExpire                         // remove every node whose expiration is <= Time
	OpMemberBootstrap                // internal: a fresh member's first records
	OpMemberStart                    // internal: a member (re)started
	OpMemberUpdate                   // internal: a member's peer URLs changed
	OpMemberAdd                      // internal: a member was added
	OpMemberRemove                   // internal: a member was removed
	OpNoop                           // orders a quorum read; changes nothing
)

// Request is one mutation, with every input already fixed: Apply must give
// the same result on every member, so no clock is read during apply.
type Request struct {
	Op        Op
	Key       string // canonical absolute path ("/" is the root)
	Value     string
	Dir       bool
	Recursive bool
	PrevValue string
	PrevIndex uint64
	Refresh   bool
	// Expiration is the absolute expiry in Unix nanoseconds, 0 for none.
	Expiration int64
	// Time is when the write was accepted (Unix nanoseconds): the "now" for
	// the ttl shown in events and, for OpExpire, the sweep's cut-off.
	Time int64
}

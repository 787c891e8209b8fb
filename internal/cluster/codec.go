package cluster

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"hecd/internal/store"
)

// Command kinds: the first byte of every raft log entry we write.
const (
	kindStore           byte = 1 // a store.Request
	kindMemberBootstrap byte = 2 // a fresh cluster's first member (JSON member)
	kindMemberStart     byte = 3 // a member (re)started and publishes attributes (JSON member)
	kindMemberUpdate    byte = 4 // a member's peer URLs changed (JSON member)
	kindMemberAdd       byte = 5 // a member was added (JSON member)
	kindMemberRemove    byte = 6 // a member was removed (JSON member id)
)

const (
	flagDir byte = 1 << iota
	flagRecursive
	flagRefresh
)

var errShortCommand = errors.New("truncated command")

// encodeRequest writes r compactly; this runs once per write on the hot
// path, so it avoids reflection.
func encodeRequest(r *store.Request) []byte {
	b := make([]byte, 0, 3+3*binary.MaxVarintLen64+len(r.Key)+len(r.Value)+len(r.PrevValue)+3*binary.MaxVarintLen64)
	var flags byte
	if r.Dir {
		flags |= flagDir
	}
	if r.Recursive {
		flags |= flagRecursive
	}
	if r.Refresh {
		flags |= flagRefresh
	}
	b = append(b, kindStore, byte(r.Op), flags)
	b = binary.AppendUvarint(b, r.PrevIndex)
	b = binary.AppendVarint(b, r.Expiration)
	b = binary.AppendVarint(b, r.Time)
	b = appendString(b, r.Key)
	b = appendString(b, r.Value)
	b = appendString(b, r.PrevValue)
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || n != uvarintLen(v) {
		// Only the shortest encoding is valid: one command, one encoding.
		d.err = errShortCommand
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 || n != len(binary.AppendVarint(nil, v)) {
		d.err = errShortCommand
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = errShortCommand
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// decodeRequest is the inverse of encodeRequest (without the kind byte).
func decodeRequest(b []byte) (*store.Request, error) {
	if len(b) < 2 {
		return nil, errShortCommand
	}
	r := &store.Request{Op: store.Op(b[0])}
	flags := b[1]
	if flags&^(flagDir|flagRecursive|flagRefresh) != 0 {
		return nil, fmt.Errorf("unknown flags %#x in command", flags)
	}
	r.Dir, r.Recursive, r.Refresh = flags&flagDir != 0, flags&flagRecursive != 0, flags&flagRefresh != 0
	d := decoder{b: b[2:]}
	r.PrevIndex = d.uvarint()
	r.Expiration = d.varint()
	r.Time = d.varint()
	r.Key = d.string()
	r.Value = d.string()
	r.PrevValue = d.string()
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%d trailing bytes in command", len(d.b))
	}
	return r, nil
}

// Member is one member of the cluster as the FSM records it.
type Member struct {
	ID         uint64   `json:"id"`
	Name       string   `json:"name"`
	PeerURLs   []string `json:"peerURLs"`
	ClientURLs []string `json:"clientURLs"`
}

// memberCommand carries the member commands; Time is the proposer's clock.
type memberCommand struct {
	Member    Member `json:"member"`
	ClusterID uint64 `json:"clusterID,omitempty"`
	Time      int64  `json:"time"`
}

func encodeMemberCommand(kind byte, c memberCommand) []byte {
	b, _ := json.Marshal(c)
	return append([]byte{kind}, b...)
}

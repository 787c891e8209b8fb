package store

import (
	"strconv"
	"sync/atomic"
)

// Stats are the operation counters of /v2/stats/store. Writes are counted
// when applied (so on every member); gets on the member that served them.
type Stats struct {
	GetsSuccess             atomic.Uint64
	GetsFail                atomic.Uint64
	SetsSuccess             atomic.Uint64
	SetsFail                atomic.Uint64
	DeleteSuccess           atomic.Uint64
	DeleteFail              atomic.Uint64
	UpdateSuccess           atomic.Uint64
	UpdateFail              atomic.Uint64
	CreateSuccess           atomic.Uint64
	CreateFail              atomic.Uint64
	CompareAndSwapSuccess   atomic.Uint64
	CompareAndSwapFail      atomic.Uint64
	CompareAndDeleteSuccess atomic.Uint64
	CompareAndDeleteFail    atomic.Uint64
	ExpireCount             atomic.Uint64
	Watchers                atomic.Int64
}

func (st *Stats) count(ok, fail *atomic.Uint64, err *Error) {
	if err != nil {
		fail.Add(1)
	} else {
		ok.Add(1)
	}
}

// fields lists the counters in etcd's JSON order.
func (st *Stats) fields() []*atomic.Uint64 {
	return []*atomic.Uint64{
		&st.GetsSuccess, &st.GetsFail, &st.SetsSuccess, &st.SetsFail,
		&st.DeleteSuccess, &st.DeleteFail, &st.UpdateSuccess, &st.UpdateFail,
		&st.CreateSuccess, &st.CreateFail, &st.CompareAndSwapSuccess, &st.CompareAndSwapFail,
		&st.CompareAndDeleteSuccess, &st.CompareAndDeleteFail, &st.ExpireCount,
	}
}

var statsNames = []string{
	"getsSuccess", "getsFail", "setsSuccess", "setsFail",
	"deleteSuccess", "deleteFail", "updateSuccess", "updateFail",
	"createSuccess", "createFail", "compareAndSwapSuccess", "compareAndSwapFail",
	"compareAndDeleteSuccess", "compareAndDeleteFail", "expireCount",
}

// AppendJSON appends the /v2/stats/store body (no trailing newline).
func (st *Stats) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	for i, f := range st.fields() {
		b = append(b, '"')
		b = append(b, statsNames[i]...)
		b = append(b, `":`...)
		b = strconv.AppendUint(b, f.Load(), 10)
		b = append(b, ',')
	}
	b = append(b, `"watchers":`...)
	b = strconv.AppendInt(b, st.Watchers.Load(), 10)
	return append(b, '}')
}

func (st *Stats) snapshot() []uint64 {
	fs := st.fields()
	out := make([]uint64, len(fs))
	for i, f := range fs {
		out[i] = f.Load()
	}
	return out
}

func (st *Stats) restore(vals []uint64) {
	for i, f := range st.fields() {
		var v uint64
		if i < len(vals) {
			v = vals[i]
		}
		f.Store(v)
	}
}

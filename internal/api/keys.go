package api

import (
	"net/http"
	"strconv"
	"time"

	"hecd/internal/store"
)

func jsonString(s string) []byte { return store.AppendJSONString(nil, s) }

func (h *Handler) serveKeys(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost, http.MethodDelete:
	default:
		allow(w, r, "HEAD", "GET", "PUT", "POST", "DELETE")
		return
	}
	kr, e := parseKeysRequest(r)
	if e != nil {
		h.writeError(w, e)
		return
	}
	if kr.write != nil {
		h.serveWrite(w, r, kr)
		return
	}
	switch {
	case kr.quorum && r.Method == http.MethodGet:
		if err := h.cl.QuorumRead(r.Context()); err != nil {
			h.writeError(w, store.NewError(store.EcodeRaftInternal, err.Error(), 0))
			return
		}
		h.serveGet(w, kr)
	case kr.wait:
		h.serveWatch(w, r, kr)
	default:
		h.serveGet(w, kr)
	}
}

// requestTimeout bounds a membership change, like etcd's request timeout
// (5 s plus twice the election timeout with default settings). Writes and
// quorum reads are bounded by the cluster itself.
var requestTimeout = 7 * time.Second

func (h *Handler) serveGet(w http.ResponseWriter, kr *keysRequest) {
	ev, index, e := h.st.Get(kr.key, kr.recursive, h.now().UnixNano())
	if e != nil {
		h.writeError(w, e)
		return
	}
	h.writeEventHeaders(w, index, http.StatusOK)
	w.Write(ev.AppendJSON(make([]byte, 0, 256)))
}

func (h *Handler) writeEventHeaders(w http.ResponseWriter, etcdIndex uint64, status int) {
	ri, rt := h.cl.RaftStatus()
	h.writeEventHeadersRaft(w, etcdIndex, ri, rt, status)
}

func (h *Handler) writeEventHeadersRaft(w http.ResponseWriter, etcdIndex, raftIndex, raftTerm uint64, status int) {
	hdr := w.Header()
	hdr["Content-Type"] = jsonType
	h.clusterIDHeader(w)
	// One backing array for the three values: this runs on every answer.
	vals := [3]string{strconv.FormatUint(etcdIndex, 10), strconv.FormatUint(raftIndex, 10), strconv.FormatUint(raftTerm, 10)}
	all := vals[:]
	hdr["X-Etcd-Index"] = all[0:1:1]
	hdr["X-Raft-Index"] = all[1:2:2]
	hdr["X-Raft-Term"] = all[2:3:3]
	w.WriteHeader(status)
}

func (h *Handler) serveWrite(w http.ResponseWriter, r *http.Request, kr *keysRequest) {
	now := h.now().UnixNano()
	kr.write.Time = now
	if kr.hasTTL {
		kr.write.Expiration = expiration(now, kr.ttl)
	}
	res, err := h.cl.Propose(r.Context(), kr.write)
	if err != nil {
		h.writeError(w, store.NewError(store.EcodeRaftInternal, err.Error(), 0))
		return
	}
	if res.Err != nil {
		h.writeError(w, res.Err)
		return
	}
	ev := res.Event
	status := http.StatusOK
	if ev.IsCreated() {
		status = http.StatusCreated
	}
	h.writeEventHeadersRaft(w, ev.Index, res.RaftIndex, res.RaftTerm, status)
	if kr.noValueOnSuccess && ev.Action != store.ActionDelete && ev.Action != store.ActionCompareAndDelete {
		w.Write(ev.ActionOnlyJSON())
		return
	}
	w.Write(ev.JSON())
}

func (h *Handler) serveWatch(w http.ResponseWriter, r *http.Request, kr *keysRequest) {
	wt, e := h.st.Watch(kr.key, kr.recursive, kr.stream, kr.waitIndex)
	if e != nil {
		h.writeError(w, e)
		return
	}
	defer wt.Remove()
	h.writeEventHeaders(w, wt.StartIndex, http.StatusOK)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	for {
		select {
		case ev, ok := <-wt.Events:
			if !ok {
				return
			}
			w.Write(ev.JSON())
			if !kr.stream {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		case <-r.Context().Done():
			return
		case <-h.shutdown:
			return
		}
	}
}

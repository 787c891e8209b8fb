package api

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Versions reported by /version: hecd speaks the API of this etcd release.
const (
	ServerVersion  = "3.4.23"
	ClusterVersion = "3.4.0"
)

func (h *Handler) serveVersion(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, "GET") {
		return
	}
	w.Header()["Content-Type"] = jsonType
	w.Write([]byte(`{"etcdserver":"` + ServerVersion + `","etcdcluster":"` + ClusterVersion + `"}`))
}

// healthTimeout bounds the quorum read that /health makes, as in etcd.
const healthTimeout = time.Second

func (h *Handler) serveHealth(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, "GET") {
		return
	}
	ok := false
	if _, hasLeader := h.cl.Leader(); hasLeader {
		ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
		ok = h.cl.QuorumRead(ctx) == nil
		cancel()
		if ok {
			// etcd's probe is a get of the root, counted like any get.
			h.st.Stats().GetsSuccess.Add(1)
		}
	}
	if !ok {
		http.Error(w, `{"health":"false"}`, http.StatusServiceUnavailable)
		return
	}
	// No Content-Type: etcd lets Go sniff it (text/plain).
	w.Write([]byte(`{"health":"true"}`))
}

func (h *Handler) serveMachines(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, "GET", "HEAD") {
		return
	}
	var urls []string
	for _, m := range h.cl.Members() {
		urls = append(urls, m.ClientURLs...)
	}
	// No Content-Type: etcd lets Go sniff it (text/plain).
	w.Write([]byte(strings.Join(urls, ", ")))
}

func (h *Handler) serveStoreStats(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, "GET") {
		return
	}
	w.Header()["Content-Type"] = jsonType
	w.Write(h.st.Stats().AppendJSON(make([]byte, 0, 320)))
}

func (h *Handler) serveSelfStats(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, "GET") {
		return
	}
	self := h.cl.Self()
	st := h.cl.SelfStats()
	b := []byte(`{"name":`)
	b = append(b, jsonString(self.Name)...)
	b = append(b, `,"id":"`...)
	b = strconv.AppendUint(b, self.ID, 16)
	b = append(b, `","state":"`...)
	b = append(b, st.State...)
	b = append(b, `","startTime":"`...)
	b = st.StartTime.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","leaderInfo":{"leader":"`...)
	if st.LeaderID != 0 {
		b = strconv.AppendUint(b, st.LeaderID, 16)
	}
	b = append(b, `","uptime":"`...)
	b = append(b, st.LeaderUptime.String()...)
	b = append(b, `","startTime":"`...)
	b = st.LeaderStart.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `"},"recvAppendRequestCnt":`...)
	b = strconv.AppendUint(b, st.RecvAppendCnt, 10)
	if st.RecvPkgRate != 0 || st.RecvBytesRate != 0 {
		b = append(b, `,"recvPkgRate":`...)
		b = strconv.AppendFloat(b, st.RecvPkgRate, 'g', -1, 64)
		b = append(b, `,"recvBandwidthRate":`...)
		b = strconv.AppendFloat(b, st.RecvBytesRate, 'g', -1, 64)
	}
	b = append(b, `,"sendAppendRequestCnt":`...)
	b = strconv.AppendUint(b, st.SendAppendCnt, 10)
	if st.SendPkgRate != 0 || st.SendBytesRate != 0 {
		b = append(b, `,"sendPkgRate":`...)
		b = strconv.AppendFloat(b, st.SendPkgRate, 'g', -1, 64)
		b = append(b, `,"sendBandwidthRate":`...)
		b = strconv.AppendFloat(b, st.SendBytesRate, 'g', -1, 64)
	}
	b = append(b, '}')
	w.Header()["Content-Type"] = jsonType
	w.Write(b)
}

func (h *Handler) serveLeaderStats(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, "GET") {
		return
	}
	leader, ok := h.cl.Leader()
	if !ok || leader.ID != h.cl.Self().ID {
		writeMessage(w, http.StatusForbidden, "not current leader")
		return
	}
	w.Header()["Content-Type"] = jsonType
	b := []byte(`{"leader":"`)
	b = strconv.AppendUint(b, leader.ID, 16)
	b = append(b, `","followers":{}}`...)
	w.Write(b)
}

// memberJSON is the wire shape of a member (field order matters).
type memberJSON struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	PeerURLs   []string `json:"peerURLs"`
	ClientURLs []string `json:"clientURLs"`
}

func toMemberJSON(m Member) memberJSON {
	mj := memberJSON{ID: strconv.FormatUint(m.ID, 16), Name: m.Name, PeerURLs: m.PeerURLs, ClientURLs: m.ClientURLs}
	if mj.PeerURLs == nil {
		mj.PeerURLs = []string{}
	}
	if mj.ClientURLs == nil {
		mj.ClientURLs = []string{}
	}
	return mj
}

func (h *Handler) serveMembers(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodPost, http.MethodDelete, http.MethodPut:
	default:
		allow(w, r, "GET", "POST", "DELETE", "PUT")
		return
	}
	h.clusterIDHeader(w)
	rest := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/v2/members"), "/")
	switch r.Method {
	case http.MethodGet:
		switch rest {
		case "":
			ms := h.cl.Members()
			out := struct {
				Members []memberJSON `json:"members"`
			}{Members: make([]memberJSON, 0, len(ms))}
			for _, m := range ms {
				out.Members = append(out.Members, toMemberJSON(m))
			}
			writeJSONLine(w, http.StatusOK, out)
		case "leader":
			l, ok := h.cl.Leader()
			if !ok {
				writeMessage(w, http.StatusServiceUnavailable, "During election")
				return
			}
			writeJSONLine(w, http.StatusOK, toMemberJSON(l))
		default:
			writeMessage(w, http.StatusNotFound, "Not found")
		}
	case http.MethodPost:
		urls, ok := h.readPeerURLs(w, r)
		if !ok {
			return
		}
		if h.peerURLTaken(urls, 0) {
			writeMessage(w, http.StatusConflict, "membership: peerURL exists")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		defer cancel()
		m, err := h.cl.AddMember(ctx, urls)
		if err != nil {
			h.memberFailure(w, err)
			return
		}
		writeJSONLine(w, http.StatusCreated, toMemberJSON(m))
	case http.MethodPut, http.MethodDelete:
		if rest == "" {
			// etcd answers 405 without Allow here (the id is missing).
			http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
			return
		}
		id, err := strconv.ParseUint(rest, 16, 64)
		if err == nil && h.cl.Removed(id) {
			writeMessage(w, http.StatusGone, "Member permanently removed: "+rest)
			return
		}
		known := false
		if err == nil {
			for _, m := range h.cl.Members() {
				known = known || m.ID == id
			}
		}
		if !known {
			writeMessage(w, http.StatusNotFound, "No such member: "+rest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		defer cancel()
		if r.Method == http.MethodDelete {
			if err := h.cl.RemoveMember(ctx, id); err != nil {
				h.memberFailure(w, err)
				return
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		urls, ok := h.readPeerURLs(w, r)
		if !ok {
			return
		}
		if h.peerURLTaken(urls, id) {
			writeMessage(w, http.StatusConflict, "membership: peerURL exists")
			return
		}
		if err := h.cl.UpdateMember(ctx, id, urls); err != nil {
			h.memberFailure(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// peerURLTaken reports whether another member than except already uses
// one of urls.
func (h *Handler) peerURLTaken(urls []string, except uint64) bool {
	for _, m := range h.cl.Members() {
		if m.ID == except {
			continue
		}
		for _, u := range m.PeerURLs {
			for _, nu := range urls {
				if u == nu {
					return true
				}
			}
		}
	}
	return false
}

func (h *Handler) memberFailure(w http.ResponseWriter, err error) {
	if h.cfg.Logger != nil {
		h.cfg.Logger.Warn("membership change failed", "component", "api", "error", err)
	}
	writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
}

// readPeerURLs reads {"peerURLs":[...]} from a members request body.
func (h *Handler) readPeerURLs(w http.ResponseWriter, r *http.Request) ([]string, bool) {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		writeMessage(w, http.StatusUnsupportedMediaType, "Bad Content-Type "+ct+", accept application/json")
		return nil, false
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, h.cfg.MaxRequestBytes+1))
	if err != nil {
		writeMessage(w, http.StatusBadRequest, err.Error())
		return nil, false
	}
	if int64(len(data)) > h.cfg.MaxRequestBytes {
		writeMessage(w, http.StatusRequestEntityTooLarge, "request body too large")
		return nil, false
	}
	var req struct {
		PeerURLs []string `json:"peerURLs"`
	}
	if err := json.Unmarshal(data, &req); err != nil {
		writeMessage(w, http.StatusBadRequest, err.Error())
		return nil, false
	}
	for _, s := range req.PeerURLs {
		u, err := url.Parse(s)
		if err != nil {
			writeMessage(w, http.StatusBadRequest, err.Error())
			return nil, false
		}
		switch u.Scheme {
		case "http", "https", "unix", "unixs":
		default:
			writeMessage(w, http.StatusBadRequest, "URL scheme must be http, https, unix, or unixs: "+s)
			return nil, false
		}
	}
	return req.PeerURLs, true
}

func writeJSONLine(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	w.Header()["Content-Type"] = jsonType
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// Package fakeengine serves the small part of the Docker Engine API that
// the registrator uses (spec registrator.md B.2, B.3) on a Unix socket, for
// tests: /_ping, /version, /containers/json, /containers/{id}/json and a
// streaming /events. The test sets the containers, pushes events, ends or
// breaks the event streams, and chooses the API versions the "daemon"
// speaks, so negotiation can be tested too (C.10 scenario 14).
//
// The wire format follows the real daemon (checked against Engine 20.10):
// versioned paths /v1.NN/..., 400 with both numbers for a version out of
// range, {"message": ...} error bodies, events as a stream of JSON objects,
// "since" inclusive, and the "health_status" event filter matching as a
// prefix. It is written from the API documentation, independently of the
// client, so that it tests the client rather than mirrors it.
package fakeengine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Container is a container as the fake daemon knows it, in the daemon's
// terms but flat.
type Container struct {
	ID    string // 64 hex characters; Put generates one when empty
	Name  string // without the leading "/"; Put derives one when empty
	Image string
	// State is the daemon's state word: "running" (when empty), "paused",
	// "restarting", "created", "exited", "dead". Running, paused and
	// restarting containers are listed without all=1 and inspect as
	// Running=true, as on the real daemon.
	State    string
	ExitCode int
	// Health is "" (no HEALTHCHECK: no State.Health at all), "starting",
	// "healthy" or "unhealthy".
	Health string

	Labels map[string]string
	Env    []string

	// ExposedPorts go to Config.ExposedPorts ("80/tcp").
	ExposedPorts []string
	// Ports is NetworkSettings.Ports: "80/tcp" to its bindings, nil for a
	// port exposed but not published. A nil map is sent as JSON null, as
	// the daemon does for a container without ports.
	Ports map[string][]PortBinding

	// NetworkMode is HostConfig.NetworkMode; "bridge" when empty.
	NetworkMode string
	// Networks are NetworkSettings.Networks by name.
	Networks map[string]Network
}

// PortBinding is one published binding, as the daemon writes it
// (HostIp "0.0.0.0" or "::" for all addresses).
type PortBinding struct {
	HostIP, HostPort string
}

// Network is a container's endpoint on one network.
type Network struct {
	IP, IPv6 string
}

// Event is one event to push.
type Event struct {
	Type       string // "container" when empty
	Action     string // "start", "health_status: healthy", ...
	ID         string // the actor's id
	Attributes map[string]string
	// TimeNano is the event's time; Emit sets it to "now" when zero,
	// strictly increasing across events.
	TimeNano int64
}

// Request is one request the fake answered.
type Request struct {
	Method  string
	Path    string     // without the version prefix
	Version string     // "1.41", or "" for an unversioned path
	Query   url.Values // nil when there was none
}

// historySize is the daemon's replay buffer for "since" (B.3).
const historySize = 256

// subBuffer bounds what a slow stream reader may have pending; beyond
// it events are skipped, as the daemon skips them for a lagging
// subscriber.
const subBuffer = 4096

// Engine is a running fake daemon. Its methods are safe for concurrent
// use.
type Engine struct {
	sock string
	srvs []*http.Server

	mu         sync.Mutex
	minAPI     string
	maxAPI     string
	version    string
	containers map[string]*Container
	order      []string // insertion order, so that lists are stable
	history    []Event
	lastNano   int64
	subs       map[*subscriber]bool
	subsChange chan struct{} // closed and replaced when subs changes
	requests   []Request
	onRequest  func(*http.Request)
	skipped    int
}

type subscriber struct {
	filter eventFilter
	ch     chan Event
	end    chan struct{} // closed to end the stream
	abort  bool          // set before end is closed: break, do not end
}

// New starts a fake daemon on a Unix socket in a fresh directory and
// stops it when the test ends. It speaks API 1.12 to 1.41 and calls
// itself "20.10.24-fake" until told otherwise.
func New(t testing.TB) *Engine {
	t.Helper()
	// A short directory of its own: t.TempDir() can exceed the 108-byte
	// limit of a socket path.
	dir, err := os.MkdirTemp("", "fakeengine")
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{
		sock:       filepath.Join(dir, "docker.sock"),
		minAPI:     "1.12",
		maxAPI:     "1.41",
		version:    "20.10.24-fake",
		containers: map[string]*Container{},
		subs:       map[*subscriber]bool{},
		subsChange: make(chan struct{}),
	}
	ln, err := net.Listen("unix", e.sock)
	if err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	e.serve(ln)
	t.Cleanup(func() {
		e.Close()
		os.RemoveAll(dir)
	})
	return e
}

func (e *Engine) serve(ln net.Listener) {
	srv := &http.Server{
		Handler:           http.HandlerFunc(e.handle),
		ReadHeaderTimeout: 10 * time.Second,
		// Aborted event streams (AbortEvents) are not news.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	e.mu.Lock()
	e.srvs = append(e.srvs, srv)
	e.mu.Unlock()
	go srv.Serve(ln)
}

// Host is the DOCKER_HOST value for this daemon ("unix:///...").
func (e *Engine) Host() string { return "unix://" + e.sock }

// SocketPath is the path of the daemon's Unix socket.
func (e *Engine) SocketPath() string { return e.sock }

// ListenTCP serves the same daemon on a loopback TCP port as well and
// returns its DOCKER_HOST value ("tcp://127.0.0.1:N").
func (e *Engine) ListenTCP(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.serve(ln)
	return "tcp://" + ln.Addr().String()
}

// Close stops the daemon: open event streams break, as when a daemon dies.
func (e *Engine) Close() {
	e.AbortEvents()
	e.mu.Lock()
	srvs := e.srvs
	e.srvs = nil
	e.mu.Unlock()
	for _, s := range srvs {
		s.Close()
	}
}

// SetVersions sets the API versions the daemon speaks: /_ping advertises
// max; a versioned request outside [min, max] gets the daemon's 400.
func (e *Engine) SetVersions(min, max string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.minAPI, e.maxAPI = min, max
}

// SetServerVersion sets the version /version reports ("20.10.24").
func (e *Engine) SetServerVersion(v string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.version = v
}

// OnRequest installs f to run at the start of every request, before it is
// answered (for example to start a container between the event
// subscription and the list, C.10 scenario 1). f must not block on the
// Engine's own answers.
func (e *Engine) OnRequest(f func(*http.Request)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.onRequest = f
}

// Put adds or replaces a container (matched by ID) and returns its ID.
// It emits no event: use Emit for that.
func (e *Engine) Put(c Container) string {
	if c.ID == "" {
		c.ID = newID()
	}
	if c.Name == "" {
		c.Name = "c-" + c.ID[:12]
	}
	c = c.clone()
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.containers[c.ID]; !ok {
		e.order = append(e.order, c.ID)
	}
	e.containers[c.ID] = &c
	return c.ID
}

// Update changes a stored container in place; it reports false when
// there is no container id.
func (e *Engine) Update(id string, f func(*Container)) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.containers[id]
	if ok {
		f(c)
	}
	return ok
}

// Get returns a copy of the stored container id.
func (e *Engine) Get(id string) (Container, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.containers[id]
	if !ok {
		return Container{}, false
	}
	return c.clone(), true
}

// clone copies c deeply, so that the test and the server never share a
// map.
func (c Container) clone() Container {
	c.Labels = cloneMap(c.Labels)
	c.Env = append([]string(nil), c.Env...)
	c.ExposedPorts = append([]string(nil), c.ExposedPorts...)
	if c.Ports != nil {
		ports := make(map[string][]PortBinding, len(c.Ports))
		for k, v := range c.Ports {
			if v == nil {
				ports[k] = nil // exposed, not published
				continue
			}
			ports[k] = append([]PortBinding{}, v...)
		}
		c.Ports = ports
	}
	if c.Networks != nil {
		nets := make(map[string]Network, len(c.Networks))
		for k, v := range c.Networks {
			nets[k] = v
		}
		c.Networks = nets
	}
	return c
}

// Remove forgets a container; inspect then answers 404.
func (e *Engine) Remove(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.containers, id)
	for i, o := range e.order {
		if o == id {
			e.order = append(e.order[:i:i], e.order[i+1:]...)
			break
		}
	}
}

// Emit records ev in the replay history and pushes it to every open
// stream whose filters it passes; it returns ev with its time filled in.
func (e *Engine) Emit(ev Event) Event {
	if ev.Type == "" {
		ev.Type = "container"
	}
	ev.Attributes = cloneMap(ev.Attributes)
	e.mu.Lock()
	defer e.mu.Unlock()
	if ev.TimeNano == 0 {
		ev.TimeNano = max(time.Now().UnixNano(), e.lastNano+1)
	}
	e.lastNano = max(e.lastNano, ev.TimeNano)
	e.history = append(e.history, ev)
	if len(e.history) > historySize {
		e.history = e.history[len(e.history)-historySize:]
	}
	for s := range e.subs {
		if !s.filter.match(ev) {
			continue
		}
		select {
		case s.ch <- ev:
		default:
			e.skipped++
		}
	}
	return ev
}

// Skipped counts events not delivered because a stream reader lagged.
func (e *Engine) Skipped() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.skipped
}

// CloseEvents ends every open event stream cleanly once the events already
// pushed to it are written: the readers see EOF.
func (e *Engine) CloseEvents() { e.endStreams(false) }

// AbortEvents breaks every open event stream mid-way, as a daemon crash
// does: the readers see an unexpected EOF, not a clean one.
func (e *Engine) AbortEvents() { e.endStreams(true) }

func (e *Engine) endStreams(abort bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for s := range e.subs {
		s.abort = abort
		close(s.end)
		delete(e.subs, s)
	}
	e.changedLocked()
}

func (e *Engine) changedLocked() {
	close(e.subsChange)
	e.subsChange = make(chan struct{})
}

// Streams is the number of open event streams.
func (e *Engine) Streams() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.subs)
}

// WaitStreams waits until at least n event streams are open.
func (e *Engine) WaitStreams(ctx context.Context, n int) error {
	for {
		e.mu.Lock()
		got, ch := len(e.subs), e.subsChange
		e.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("fakeengine: %d event streams open, waiting for %d: %w", got, n, ctx.Err())
		}
	}
}

// Requests returns the requests answered so far.
func (e *Engine) Requests() []Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Request(nil), e.requests...)
}

var versioned = regexp.MustCompile(`^/v([0-9]+\.[0-9]+)(/.*)$`)

func (e *Engine) handle(w http.ResponseWriter, r *http.Request) {
	path, version := r.URL.Path, ""
	if m := versioned.FindStringSubmatch(path); m != nil {
		version, path = m[1], m[2]
	}
	e.mu.Lock()
	var q url.Values
	if r.URL.RawQuery != "" {
		q = r.URL.Query()
	}
	e.requests = append(e.requests, Request{Method: r.Method, Path: path, Version: version, Query: q})
	hook, minAPI, maxAPI := e.onRequest, e.minAPI, e.maxAPI
	e.mu.Unlock()
	if hook != nil {
		hook(r)
	}

	if path == "/_ping" {
		e.ping(w, r)
		return
	}
	// The daemon's messages, word for word, so that clients' handling of
	// them is exercised.
	if version != "" {
		if compareVersions(version, maxAPI) > 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("client version %s is too new. Maximum supported API version is %s", version, maxAPI))
			return
		}
		if compareVersions(version, minAPI) < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", version, minAPI))
			return
		}
	}
	if r.Method != http.MethodGet {
		writeError(w, http.StatusNotFound, "page not found")
		return
	}
	switch {
	case path == "/version":
		e.versionInfo(w)
	case path == "/containers/json":
		e.list(w, r)
	case strings.HasPrefix(path, "/containers/") && strings.HasSuffix(path, "/json"):
		e.inspect(w, strings.TrimSuffix(strings.TrimPrefix(path, "/containers/"), "/json"))
	case path == "/events":
		e.events(w, r, version)
	default:
		writeError(w, http.StatusNotFound, "page not found")
	}
}

func (e *Engine) ping(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	maxAPI := e.maxAPI
	e.mu.Unlock()
	h := w.Header()
	h.Set("API-Version", maxAPI)
	h.Set("OSType", "linux")
	h.Set("Docker-Experimental", "false")
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if r.Method == http.MethodHead {
		h.Set("Content-Length", "0")
		return
	}
	io.WriteString(w, "OK")
}

func (e *Engine) versionInfo(w http.ResponseWriter) {
	e.mu.Lock()
	v := map[string]any{
		"Version":       e.version,
		"ApiVersion":    e.maxAPI,
		"MinAPIVersion": e.minAPI,
		"Os":            "linux",
		"Arch":          "amd64",
		"GoVersion":     "go1.19.8",
		"GitCommit":     "fake",
	}
	e.mu.Unlock()
	writeJSON(w, v)
}

// list answers /containers/json; it honours all and the status, label and
// id filters.
func (e *Engine) list(w http.ResponseWriter, r *http.Request) {
	all := r.URL.Query().Get("all")
	listAll := all == "1" || all == "true"
	filters, err := parseFilters(r.URL.Query().Get("filters"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	e.mu.Lock()
	var items []map[string]any
	for _, id := range e.order {
		c := e.containers[id]
		state := stateOf(c)
		if !listAll && !listedByDefault(state) {
			continue
		}
		if !matchAny(filters["status"], func(v string) bool { return v == state }) ||
			!matchAny(filters["id"], func(v string) bool { return strings.HasPrefix(c.ID, v) }) ||
			!matchAll(filters["label"], func(v string) bool { return hasLabel(c.Labels, v) }) {
			continue
		}
		items = append(items, summaryJSON(c))
	}
	e.mu.Unlock()
	if items == nil {
		items = []map[string]any{}
	}
	writeJSON(w, items)
}

func (e *Engine) inspect(w http.ResponseWriter, ref string) {
	e.mu.Lock()
	c := e.lookupLocked(ref)
	var body map[string]any
	if c != nil {
		body = inspectJSON(c)
	}
	e.mu.Unlock()
	if c == nil {
		writeError(w, http.StatusNotFound, "No such container: "+ref)
		return
	}
	writeJSON(w, body)
}

// lookupLocked finds a container by full id, name, or unique id prefix,
// as the daemon does.
func (e *Engine) lookupLocked(ref string) *Container {
	if c, ok := e.containers[ref]; ok {
		return c
	}
	name := strings.TrimPrefix(ref, "/")
	var found *Container
	for _, c := range e.containers {
		if c.Name == name {
			return c
		}
		if ref != "" && strings.HasPrefix(c.ID, ref) {
			if found != nil {
				return nil
			}
			found = c
		}
	}
	return found
}

func (e *Engine) events(w http.ResponseWriter, r *http.Request, version string) {
	filters, err := parseFilters(r.URL.Query().Get("filters"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var since int64 = -1
	if s := r.URL.Query().Get("since"); s != "" {
		if since, err = parseTimestamp(s); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	sub := &subscriber{
		filter: eventFilter{types: filters["type"], actions: filters["event"], containers: filters["container"]},
		ch:     make(chan Event, subBuffer),
		end:    make(chan struct{}),
	}
	// Replay and subscription under one lock: no event falls between.
	e.mu.Lock()
	var replay []Event
	if since >= 0 {
		for _, ev := range e.history {
			if ev.TimeNano >= since && sub.filter.match(ev) {
				replay = append(replay, ev)
			}
		}
	}
	e.subs[sub] = true
	e.changedLocked()
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		if e.subs[sub] {
			delete(e.subs, sub)
			e.changedLocked()
		}
		e.mu.Unlock()
	}()

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	enc := json.NewEncoder(w)
	write := func(ev Event) bool {
		if err := enc.Encode(eventJSON(ev, version)); err != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		return true
	}
	for _, ev := range replay {
		if !write(ev) {
			return
		}
	}
	for {
		select {
		case ev := <-sub.ch:
			if !write(ev) {
				return
			}
		case <-sub.end:
			if sub.abort {
				// Ends the connection without the final chunk.
				panic(http.ErrAbortHandler)
			}
			for {
				select {
				case ev := <-sub.ch:
					if !write(ev) {
						return
					}
				default:
					return
				}
			}
		case <-r.Context().Done():
			return
		}
	}
}

type eventFilter struct {
	types, actions, containers []string
}

func (f eventFilter) match(ev Event) bool {
	return matchAny(f.types, func(v string) bool { return v == ev.Type }) &&
		matchAny(f.actions, func(v string) bool {
			// The daemon matches these as prefixes ("health_status"
			// selects "health_status: healthy"), moby#25798.
			switch v {
			case "health_status", "exec_create", "exec_start":
				return ev.Action == v || strings.HasPrefix(ev.Action, v+":")
			}
			return ev.Action == v
		}) &&
		matchAny(f.containers, func(v string) bool {
			return strings.HasPrefix(ev.ID, v) || ev.Attributes["name"] == v
		})
}

// eventJSON renders an event; before API 1.52 the daemon also sends the
// legacy status/id/from fields.
func eventJSON(ev Event, version string) map[string]any {
	attrs := ev.Attributes
	if attrs == nil {
		attrs = map[string]string{}
	}
	m := map[string]any{
		"Type":     ev.Type,
		"Action":   ev.Action,
		"Actor":    map[string]any{"ID": ev.ID, "Attributes": attrs},
		"scope":    "local",
		"time":     ev.TimeNano / 1e9,
		"timeNano": ev.TimeNano,
	}
	if ev.Type == "container" && (version == "" || compareVersions(version, "1.52") < 0) {
		m["status"], m["id"], m["from"] = ev.Action, ev.ID, attrs["image"]
	}
	return m
}

func stateOf(c *Container) string {
	if c.State == "" {
		return "running"
	}
	return c.State
}

func listedByDefault(state string) bool {
	return state == "running" || state == "paused" || state == "restarting"
}

func summaryJSON(c *Container) map[string]any {
	state := stateOf(c)
	var ports []map[string]any
	for key, bindings := range c.Ports {
		num, proto := splitPort(key)
		if len(bindings) == 0 {
			ports = append(ports, map[string]any{"PrivatePort": num, "Type": proto})
		}
		for _, b := range bindings {
			hp, _ := strconv.Atoi(b.HostPort)
			ports = append(ports, map[string]any{"IP": b.HostIP, "PrivatePort": num, "PublicPort": hp, "Type": proto})
		}
	}
	if ports == nil {
		ports = []map[string]any{}
	}
	return map[string]any{
		"Id":              c.ID,
		"Names":           []string{"/" + c.Name},
		"Image":           c.Image,
		"Labels":          nonNilMap(c.Labels),
		"State":           state,
		"Status":          state,
		"Ports":           ports,
		"HostConfig":      map[string]any{"NetworkMode": networkMode(c)},
		"NetworkSettings": map[string]any{"Networks": networksJSON(c)},
	}
}

func inspectJSON(c *Container) map[string]any {
	st := stateOf(c)
	state := map[string]any{
		"Status":     st,
		"Running":    listedByDefault(st),
		"Paused":     st == "paused",
		"Restarting": st == "restarting",
		"OOMKilled":  false,
		"Dead":       st == "dead",
		"Pid":        0,
		"ExitCode":   c.ExitCode,
		"Error":      "",
		"StartedAt":  "2026-01-01T00:00:00.000000000Z",
		"FinishedAt": "0001-01-01T00:00:00Z",
	}
	if c.Health != "" {
		state["Health"] = map[string]any{"Status": c.Health, "FailingStreak": 0, "Log": []any{}}
	}
	exposed := map[string]any{}
	for _, p := range c.ExposedPorts {
		exposed[p] = map[string]any{}
	}
	var ports any // JSON null when the container has no ports
	if c.Ports != nil {
		pm := map[string]any{}
		for k, bindings := range c.Ports {
			if bindings == nil {
				pm[k] = nil
				continue
			}
			bs := []map[string]string{}
			for _, b := range bindings {
				bs = append(bs, map[string]string{"HostIp": b.HostIP, "HostPort": b.HostPort})
			}
			pm[k] = bs
		}
		ports = pm
	}
	env := c.Env
	if env == nil {
		env = []string{}
	}
	return map[string]any{
		"Id":      c.ID,
		"Created": "2026-01-01T00:00:00.000000000Z",
		"Path":    "/srv",
		"Args":    []string{},
		"State":   state,
		"Image":   "sha256:" + strings.Repeat("0", 64),
		"Name":    "/" + c.Name,
		"Config": map[string]any{
			"Hostname":     c.ID[:min(12, len(c.ID))],
			"Image":        c.Image,
			"Env":          env,
			"Labels":       nonNilMap(c.Labels),
			"ExposedPorts": exposed,
		},
		"HostConfig": map[string]any{"NetworkMode": networkMode(c)},
		"NetworkSettings": map[string]any{
			"Ports":    ports,
			"Networks": networksJSON(c),
		},
	}
}

func networkMode(c *Container) string {
	if c.NetworkMode == "" {
		return "bridge"
	}
	return c.NetworkMode
}

func networksJSON(c *Container) map[string]any {
	nets := map[string]any{}
	for name, n := range c.Networks {
		nets[name] = map[string]any{
			"NetworkID":         "net-" + name,
			"EndpointID":        "ep-" + name,
			"IPAddress":         n.IP,
			"IPPrefixLen":       16,
			"GlobalIPv6Address": n.IPv6,
			"MacAddress":        "",
		}
	}
	return nets
}

func splitPort(key string) (int, string) {
	n, proto, ok := strings.Cut(key, "/")
	if !ok {
		proto = "tcp"
	}
	num, _ := strconv.Atoi(n)
	return num, proto
}

// parseFilters reads the filters parameter: a JSON map of string lists,
// or the legacy map of string sets ({"label":{"a=b":true}}).
func parseFilters(s string) (map[string][]string, error) {
	if s == "" {
		return nil, nil
	}
	var lists map[string][]string
	if err := json.Unmarshal([]byte(s), &lists); err == nil {
		return lists, nil
	}
	var sets map[string]map[string]bool
	if err := json.Unmarshal([]byte(s), &sets); err != nil {
		return nil, fmt.Errorf("invalid filter: %v", err)
	}
	lists = map[string][]string{}
	for k, set := range sets {
		for v, on := range set {
			if on {
				lists[k] = append(lists[k], v)
			}
		}
	}
	return lists, nil
}

// parseTimestamp reads "seconds[.nanoseconds]".
func parseTimestamp(s string) (int64, error) {
	sec, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid timestamp %q", s)
	}
	t := n * 1e9
	if frac != "" {
		frac = (frac + "000000000")[:9]
		f, err := strconv.ParseInt(frac, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid timestamp %q", s)
		}
		t += f
	}
	return t, nil
}

// compareVersions compares "1.41"-style versions numerically.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// matchAny is true for an absent filter or when one value matches.
func matchAny(values []string, f func(string) bool) bool {
	if len(values) == 0 {
		return true
	}
	for _, v := range values {
		if f(v) {
			return true
		}
	}
	return false
}

// matchAll is true when every value matches (label filters combine so).
func matchAll(values []string, f func(string) bool) bool {
	for _, v := range values {
		if !f(v) {
			return false
		}
	}
	return true
}

func hasLabel(labels map[string]string, filter string) bool {
	k, v, withValue := strings.Cut(filter, "=")
	got, ok := labels[k]
	return ok && (!withValue || got == v)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func newID() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

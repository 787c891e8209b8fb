package registrator

import (
	"fmt"
	"net/netip"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Route is one key a container should have in the store.
type Route struct {
	// Rel is the key below the prefix: the app id in the hecd layout,
	// <service name>/<service id> in the registrator layout. The
	// ownership record has the same name below <meta>/owners/<owner-id>.
	Rel   string
	Value string // host:port, IPv6 bracketed
	// UDP marks a UDP port (registrator layout only): nothing to probe.
	UDP bool
	// Weight for the proxy, 1–256, written to <meta>/weights/<app-id>;
	// 0: none.
	Weight int
}

// Verdict is what one container should have in the store: routes, or
// the reason it has none.
type Verdict struct {
	Routes []Route
	// Reason says why a running container has no routes; it is logged as
	// "ignored: <short id> <reason>". Empty for routable and for stopped
	// containers.
	Reason string
	// Notes are warnings about the container's metadata, logged once per
	// container.
	Notes []string
}

// desireInput is what the verdict depends on besides the container.
type desireInput struct {
	hosts HostAddrs // detected host addresses (the IP override is applied by desired)
	// hostErr is why hosts is empty, for the "no usable address" reason.
	hostErr error
	// draining: the container was sent a terminating signal and still
	// runs (C.4).
	draining bool
	// lookup finds the container whose network namespace a
	// "container:<id>" container shares.
	lookup func(id string) (*Container, error)
}

// metadata is a container's SERVICE_* variables and labels with
// registrator's precedence (A.4): labels override the environment, and a
// port's own key overrides the generic one where both apply.
type metadata struct {
	labels  map[string]string
	generic map[string]string         // SERVICE_<KEY>, key lower-cased
	perPort map[int]map[string]string // SERVICE_<port>_<KEY>
}

func parseMetadata(c *Container) metadata {
	m := metadata{labels: c.Labels, generic: map[string]string{}, perPort: map[int]map[string]string{}}
	if m.labels == nil {
		m.labels = map[string]string{}
	}
	add := func(k, v string) {
		rest, ok := strings.CutPrefix(k, "SERVICE_")
		if !ok || rest == "" {
			return
		}
		if p, key, ok := strings.Cut(rest, "_"); ok && key != "" && allDigits(p) {
			if port, err := strconv.Atoi(p); err == nil && port > 0 && port <= 65535 {
				if m.perPort[port] == nil {
					m.perPort[port] = map[string]string{}
				}
				m.perPort[port][strings.ToLower(key)] = v
			}
			return
		}
		m.generic[strings.ToLower(rest)] = v
	}
	for _, e := range c.Env {
		if k, v, ok := strings.Cut(e, "="); ok {
			add(k, v)
		}
	}
	keys := make([]string, 0, len(c.Labels))
	for k := range c.Labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		add(k, c.Labels[k])
	}
	return m
}

// portValue is key for one port: its own SERVICE_<port>_<KEY>, else the
// generic SERVICE_<KEY>.
func (m metadata) portValue(port int, key string) (v string, own bool) {
	if v, ok := m.perPort[port][key]; ok {
		return v, true
	}
	return m.generic[key], false
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// ignoreValue reads a SERVICE_[<port>_]IGNORE value. registrator ignores
// on any non-empty value; hecd takes "false" and "0" at their word (C.6),
// and says so once, since that differs.
func ignoreValue(v string) (ignored, deviation bool) {
	if v == "" {
		return false, false
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "false", "0":
		return false, true
	}
	return true, false
}

func labelTrue(m metadata, name string) bool {
	b, _ := strconv.ParseBool(strings.TrimSpace(m.labels[name]))
	return b
}

// desired computes a container's verdict (C.4, C.6, C.7). It is a pure
// function of the container, the configuration and in.
func (c *Config) desired(ct *Container, in desireInput) Verdict {
	if ct == nil || !ct.Running {
		return Verdict{}
	}
	if ct.Paused && !c.KeepPaused {
		return Verdict{Reason: "paused"}
	}
	m := parseMetadata(ct)
	var notes []string
	if labelTrue(m, "hecd.ignore") {
		return Verdict{Reason: "ignored by label hecd.ignore"}
	}
	ig, dev := ignoreValue(m.generic["ignore"])
	if ig {
		return Verdict{Reason: "ignored by SERVICE_IGNORE"}
	}
	if dev {
		notes = append(notes, fmt.Sprintf("SERVICE_IGNORE=%q is taken as not ignored (registrator would ignore the container)", m.generic["ignore"]))
	}
	if c.Explicit && !labelTrue(m, "hecd.enable") && !hasName(m) {
		return Verdict{Reason: "not enabled (explicit mode: set hecd.enable=true or SERVICE_NAME)", Notes: notes}
	}
	if c.RequireHealthy {
		switch ct.Health {
		case "", "healthy":
		case "starting":
			return Verdict{Reason: "health starting", Notes: notes}
		default:
			return Verdict{Reason: "unhealthy", Notes: notes}
		}
	}
	if in.draining {
		return Verdict{Reason: "draining (stopping)", Notes: notes}
	}
	var v Verdict
	if c.Layout == LayoutRegistrator {
		v = c.registratorRoutes(ct, m, in)
	} else {
		v = c.hecdRoute(ct, m, in)
	}
	v.Notes = append(notes, v.Notes...)
	return v
}

func hasName(m metadata) bool {
	if m.generic["name"] != "" {
		return true
	}
	for _, kv := range m.perPort {
		if kv["name"] != "" {
			return true
		}
	}
	return false
}

// appID names the container's route (C.1): hecd.appid, else --key-by.
func (c *Config) appID(ct *Container, m metadata) (string, string) {
	var id, from string
	if v, ok := m.labels["hecd.appid"]; ok {
		id, from = v, "label hecd.appid"
	} else {
		switch {
		case c.KeyBy == "id":
			id, from = ct.ID, "container id"
		case c.KeyBy == "name":
			id, from = strings.TrimPrefix(ct.Name, "/"), "container name"
		case strings.HasPrefix(c.KeyBy, "label:"):
			l := strings.TrimPrefix(c.KeyBy, "label:")
			v, ok := m.labels[l]
			if !ok {
				return "", fmt.Sprintf("no label %q (key-by)", l)
			}
			id, from = v, "label "+l
		default:
			id, from = shortID(ct.ID), "container id"
		}
	}
	if !ValidAppID(id) {
		return "", fmt.Sprintf("invalid app id %.140q from %s", id, from)
	}
	if c.AllowAppID != nil && !c.AllowAppID(id) {
		return "", fmt.Sprintf("app id %q not allowed", id)
	}
	return id, ""
}

// hecdRoute is the one route of the hecd layout.
func (c *Config) hecdRoute(ct *Container, m metadata, in desireInput) Verdict {
	id, why := c.appID(ct, m)
	if why != "" {
		return Verdict{Reason: why}
	}
	weight := 0
	if s, ok := m.labels["hecd.weight"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 256 {
			return Verdict{Reason: fmt.Sprintf("invalid hecd.weight %.20q (want 1-256)", s)}
		}
		weight = n
	}
	want, why := wantedPort(m)
	if why != "" {
		return Verdict{Reason: why}
	}
	ep, why, notes := c.endpoint(ct, m, in, want, "tcp")
	if why != "" {
		return Verdict{Reason: why, Notes: notes}
	}
	return Verdict{Routes: []Route{{Rel: id, Value: ep.String(), Weight: weight}}, Notes: notes}
}

// wantedPort is the container port chosen by hecd.port or SERVICE_PORT;
// 0 when neither is set.
func wantedPort(m metadata) (int, string) {
	s, from := m.labels["hecd.port"], "hecd.port"
	if s == "" {
		s, from = m.generic["port"], "SERVICE_PORT"
	}
	if s == "" {
		return 0, ""
	}
	p, err := parsePortSpec(s)
	if err != nil {
		return 0, fmt.Sprintf("invalid %s %.20q", from, s)
	}
	return p, ""
}

// parsePortSpec reads "80" or "80/tcp".
func parsePortSpec(s string) (int, error) {
	n, proto, _ := strings.Cut(strings.TrimSpace(s), "/")
	if proto != "" && proto != "tcp" {
		return 0, fmt.Errorf("only tcp ports are routed")
	}
	p, err := strconv.Atoi(n)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("not a port")
	}
	return p, nil
}

// portProto is one container-side port.
type portProto struct {
	port  int
	proto string
}

// parseExposed reads "80/tcp" (a missing protocol is tcp).
func parseExposed(s string) (portProto, bool) {
	n, proto, _ := strings.Cut(s, "/")
	p, err := strconv.Atoi(n)
	if err != nil || p < 1 || p > 65535 {
		return portProto{}, false
	}
	if proto == "" {
		proto = "tcp"
	}
	return portProto{p, proto}, true
}

func bindingProto(b PortBinding) string {
	if b.Proto == "" {
		return "tcp"
	}
	return b.Proto
}

// netContainer is the container whose network namespace ct uses: itself,
// or for "container:<id>" that other container.
func netContainer(ct *Container, in desireInput) (*Container, string) {
	other, ok := strings.CutPrefix(ct.NetworkMode, "container:")
	if !ok {
		return ct, ""
	}
	if in.lookup == nil {
		return nil, fmt.Sprintf("network container %.80q not found", other)
	}
	o, err := in.lookup(other)
	if err != nil || o == nil {
		return nil, fmt.Sprintf("network container %.80q not found", other)
	}
	if strings.HasPrefix(o.NetworkMode, "container:") {
		return nil, fmt.Sprintf("network container %s itself shares another's network", shortID(o.ID))
	}
	return o, ""
}

// candidatePorts are the container ports of proto that can be routed in
// the current mode, sorted, without those ignored per port.
func (c *Config) candidatePorts(ct, nc *Container, m metadata, proto string) (ports []int, ignored map[int]bool, notes []string) {
	set := map[int]bool{}
	published := !c.Internal && nc.NetworkMode != "host"
	if published {
		for _, b := range nc.Ports {
			if b.HostPort > 0 && bindingProto(b) == proto {
				set[b.ContainerPort] = true
			}
		}
	} else {
		for _, x := range [][]string{ct.ExposedPorts, nc.ExposedPorts} {
			for _, s := range x {
				if pp, ok := parseExposed(s); ok && pp.proto == proto {
					set[pp.port] = true
				}
			}
		}
		for _, b := range nc.Ports {
			if bindingProto(b) == proto {
				set[b.ContainerPort] = true
			}
		}
	}
	ignored = map[int]bool{}
	for p := range set {
		v, own := m.perPort[p]["ignore"]
		if !own {
			continue
		}
		ig, dev := ignoreValue(v)
		if dev {
			notes = append(notes, fmt.Sprintf("SERVICE_%d_IGNORE=%q is taken as not ignored (registrator would ignore the port)", p, v))
		}
		if ig {
			ignored[p] = true
			continue
		}
	}
	for p := range set {
		if !ignored[p] {
			ports = append(ports, p)
		}
	}
	slices.Sort(ports)
	slices.Sort(notes)
	return ports, ignored, notes
}

// endpoint chooses the port and address of a container's route (C.1,
// C.7). want is the container port asked for, 0 for the default choice.
func (c *Config) endpoint(ct *Container, m metadata, in desireInput, want int, proto string) (netip.AddrPort, string, []string) {
	nc, why := netContainer(ct, in)
	if why != "" {
		return netip.AddrPort{}, why, nil
	}
	ports, ignored, notes := c.candidatePorts(ct, nc, m, proto)
	published := !c.Internal && nc.NetworkMode != "host"
	var port int
	switch {
	case want != 0 && ignored[want]:
		return netip.AddrPort{}, fmt.Sprintf("port %d ignored by SERVICE_%d_IGNORE", want, want), notes
	case want != 0 && slices.Contains(ports, want):
		port = want
	case want != 0 && published:
		return netip.AddrPort{}, fmt.Sprintf("port %d not published on host", want), notes
	case want != 0:
		return netip.AddrPort{}, fmt.Sprintf("port %d not exposed", want), notes
	case len(ports) == 0 && len(ignored) > 0:
		return netip.AddrPort{}, "every port ignored by SERVICE_<port>_IGNORE", notes
	case len(ports) == 0 && published:
		return netip.AddrPort{}, "no published ports", notes
	case len(ports) == 0:
		return netip.AddrPort{}, "no exposed ports", notes
	default:
		port = ports[0]
		if len(ports) > 1 {
			notes = append(notes, fmt.Sprintf("several ports %v; using the lowest, %d (set hecd.port to choose)", ports, port))
		}
	}
	switch {
	case nc.NetworkMode == "host":
		a, why := c.hostAddr(in)
		if why != "" {
			return netip.AddrPort{}, why, notes
		}
		return netip.AddrPortFrom(a, uint16(port)), "", notes
	case c.Internal:
		a, why := c.internalAddr(nc, m)
		if why != "" {
			return netip.AddrPort{}, why, notes
		}
		return netip.AddrPortFrom(a, uint16(port)), "", notes
	}
	ap, why := c.publishedAddr(nc, in, port, proto)
	return ap, why, notes
}

// override is the --ip address, if any.
func (c *Config) override() netip.Addr {
	if c.IP == "" {
		return netip.Addr{}
	}
	a, _ := netip.ParseAddr(c.IP)
	return a.Unmap()
}

// hostAddr is the host's address: --ip, else the detected one of the
// preferred family.
func (c *Config) hostAddr(in desireInput) (netip.Addr, string) {
	if o := c.override(); o.IsValid() {
		return o, ""
	}
	v4, v6 := in.hosts.V4, in.hosts.V6
	if !usableAddr(v4) {
		v4 = netip.Addr{}
	}
	if !usableAddr(v6) {
		v6 = netip.Addr{}
	}
	switch {
	case c.IPv6 && v6.IsValid():
		return v6, ""
	case v4.IsValid():
		return v4, ""
	case v6.IsValid():
		return v6, ""
	}
	return netip.Addr{}, noAddress(in)
}

func noAddress(in desireInput) string {
	if in.hostErr != nil {
		return "no usable address: " + in.hostErr.Error()
	}
	return "no usable address"
}

// publishedAddr is the address for a published port: --ip, else a
// binding's specific address, else the host's; the IPv4 and IPv6
// wildcard bindings of one host port are one candidate, IPv4 preferred.
func (c *Config) publishedAddr(nc *Container, in desireInput, port int, proto string) (netip.AddrPort, string) {
	type cand struct {
		a        netip.Addr
		port     int
		wildcard bool
	}
	var cands []cand
	add := func(a netip.Addr, hp int, wildcard bool) {
		if !usableAddr(a) && !(c.IP != "" && a == c.override()) {
			return
		}
		for _, x := range cands {
			if x.a == a && x.port == hp {
				return
			}
		}
		cands = append(cands, cand{a, hp, wildcard})
	}
	published, loopOnly := false, true
	for _, b := range nc.Ports {
		if b.ContainerPort != port || bindingProto(b) != proto || b.HostPort <= 0 || b.HostPort > 65535 {
			continue
		}
		published = true
		hip := strings.TrimSpace(b.HostIP)
		var specific netip.Addr
		wild4, wild6 := false, false
		switch a, err := netip.ParseAddr(hip); {
		case hip == "":
			wild4, wild6 = true, true
		case err != nil:
			continue
		case a.Unmap().IsUnspecified():
			wild4, wild6 = a.Unmap().Is4(), a.Is6() && !a.Is4In6()
		case usableAddr(a):
			specific = a.Unmap()
		default:
			// Bound to loopback or link-local: not reachable from
			// another host, whatever --ip says.
			continue
		}
		loopOnly = false
		if o := c.override(); o.IsValid() {
			add(o, b.HostPort, !specific.IsValid())
			continue
		}
		if specific.IsValid() {
			add(specific, b.HostPort, false)
		}
		if wild4 && in.hosts.V4.IsValid() {
			add(in.hosts.V4.Unmap(), b.HostPort, true)
		}
		if wild6 && in.hosts.V6.IsValid() {
			add(in.hosts.V6, b.HostPort, true)
		}
	}
	if len(cands) == 0 {
		if !published {
			return netip.AddrPort{}, fmt.Sprintf("port %d not published on host", port)
		}
		if loopOnly {
			return netip.AddrPort{}, fmt.Sprintf("port %d published on loopback only", port)
		}
		return netip.AddrPort{}, noAddress(in)
	}
	// Preferred family first, then a specific binding over a wildcard,
	// then the lower host port: the choice does not depend on the order
	// the Engine listed the bindings in.
	slices.SortStableFunc(cands, func(x, y cand) int {
		px, py := x.a.Is6() != c.IPv6, y.a.Is6() != c.IPv6
		switch {
		case px != py:
			if !px {
				return -1
			}
			return 1
		case x.wildcard != y.wildcard:
			if !x.wildcard {
				return -1
			}
			return 1
		case x.port != y.port:
			return x.port - y.port
		}
		return x.a.Compare(y.a)
	})
	return netip.AddrPortFrom(cands[0].a, uint16(cands[0].port)), ""
}

// internalAddr is the container's address on the chosen network: the
// hecd.network label (SERVICE_NETWORK), else --network, else the only
// network. Several networks and no choice: none (never by map
// order, A.5).
func (c *Config) internalAddr(nc *Container, m metadata) (netip.Addr, string) {
	name, from := m.labels["hecd.network"], "hecd.network"
	if name == "" {
		name, from = m.generic["network"], "SERVICE_NETWORK"
	}
	if name != "" && !networkPattern.MatchString(name) {
		return netip.Addr{}, fmt.Sprintf("invalid %s %.80q", from, name)
	}
	if name == "" {
		// A container that is not on --network is not reachable the way
		// the others are; it is skipped with that reason, not registered
		// on whatever network it happens to have.
		name = c.Network
	}
	if name == "" {
		switch len(nc.Networks) {
		case 0:
			return netip.Addr{}, "no network address"
		case 1:
			for n := range nc.Networks {
				name = n
			}
		default:
			names := make([]string, 0, len(nc.Networks))
			for n := range nc.Networks {
				names = append(names, n)
			}
			slices.Sort(names)
			return netip.Addr{}, fmt.Sprintf("on several networks %q and none chosen (set hecd.network or --network)", names)
		}
	}
	nw, ok := nc.Networks[name]
	if !ok {
		return netip.Addr{}, fmt.Sprintf("not attached to network %q", name)
	}
	v4, _ := netip.ParseAddr(nw.IP)
	v6, _ := netip.ParseAddr(nw.IPv6)
	v4 = v4.Unmap()
	ok4, ok6 := usableAddr(v4) && v4.Is4(), usableAddr(v6) && v6.Is6()
	switch {
	case c.IPv6 && ok6:
		return v6, ""
	case ok4:
		return v4, ""
	case ok6:
		return v6, ""
	}
	return netip.Addr{}, fmt.Sprintf("no usable address on network %q", name)
}

// serviceIDPattern bounds registrator-layout service ids
// (<host>:<container name>:<port>[:udp]).
var serviceIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,254}$`)

// registratorRoutes are the services of the registrator layout (A.3,
// A.4, A.6): one per port, <name>/<id>, with hecd's address rules. As in
// registrator, a container with several ports (exposed or published,
// ignored ones included) names its services <name>-<port> unless the name
// comes from the port's own SERVICE_<port>_NAME.
func (c *Config) registratorRoutes(ct *Container, m metadata, in desireInput) Verdict {
	nc, why := netContainer(ct, in)
	if why != "" {
		return Verdict{Reason: why}
	}
	set := map[portProto]bool{}
	for _, x := range [][]string{ct.ExposedPorts, nc.ExposedPorts} {
		for _, s := range x {
			if pp, ok := parseExposed(s); ok {
				set[pp] = true
			}
		}
	}
	for _, b := range nc.Ports {
		if b.ContainerPort > 0 && b.ContainerPort <= 65535 {
			set[portProto{b.ContainerPort, bindingProto(b)}] = true
		}
	}
	all := make([]portProto, 0, len(set))
	for pp := range set {
		all = append(all, pp)
	}
	slices.SortFunc(all, func(a, b portProto) int {
		if a.port != b.port {
			return a.port - b.port
		}
		return strings.Compare(a.proto, b.proto)
	})
	if len(all) == 0 {
		return Verdict{Reason: "no published ports"}
	}
	image := ct.Image
	if i := strings.LastIndex(image, "@"); i >= 0 {
		image = image[:i]
	}
	base := path.Base(image)
	if i := strings.LastIndex(base, ":"); i >= 0 {
		base = base[:i]
	}
	group := len(all) > 1
	var routes []Route
	var reasons, notes []string
	for _, pp := range all {
		if v, own := m.perPort[pp.port]["ignore"]; own {
			ig, dev := ignoreValue(v)
			if dev {
				notes = append(notes, fmt.Sprintf("SERVICE_%d_IGNORE=%q is taken as not ignored (registrator would ignore the port)", pp.port, v))
			}
			if ig {
				reasons = append(reasons, fmt.Sprintf("port %d ignored by SERVICE_%d_IGNORE", pp.port, pp.port))
				continue
			}
		}
		name, own := m.portValue(pp.port, "name")
		if name == "" {
			if c.Explicit {
				reasons = append(reasons, fmt.Sprintf("port %d has no service name (explicit mode)", pp.port))
				continue
			}
			name = base
		}
		if group && !own {
			name += "-" + strconv.Itoa(pp.port)
		}
		id, _ := m.portValue(pp.port, "id")
		if id == "" {
			id = c.Hostname + ":" + strings.TrimPrefix(ct.Name, "/") + ":" + strconv.Itoa(pp.port)
			if pp.proto == "udp" {
				id += ":udp"
			}
		}
		switch {
		case !ValidAppID(name):
			reasons = append(reasons, fmt.Sprintf("invalid service name %.140q", name))
			continue
		case !serviceIDPattern.MatchString(id):
			reasons = append(reasons, fmt.Sprintf("invalid service id %.140q", id))
			continue
		case c.AllowAppID != nil && !c.AllowAppID(name):
			reasons = append(reasons, fmt.Sprintf("service name %q not allowed", name))
			continue
		}
		ep, why := c.portAddr(nc, m, in, pp)
		if why != "" {
			reasons = append(reasons, why)
			continue
		}
		routes = append(routes, Route{Rel: name + "/" + id, Value: ep.String(), UDP: pp.proto == "udp"})
	}
	slices.SortFunc(routes, func(a, b Route) int { return strings.Compare(a.Rel, b.Rel) })
	if len(routes) == 0 {
		return Verdict{Reason: strings.Join(reasons, "; "), Notes: notes}
	}
	return Verdict{Routes: routes, Notes: notes}
}

// portAddr is the address of one given container port.
func (c *Config) portAddr(nc *Container, m metadata, in desireInput, pp portProto) (netip.AddrPort, string) {
	switch {
	case nc.NetworkMode == "host":
		a, why := c.hostAddr(in)
		if why != "" {
			return netip.AddrPort{}, why
		}
		return netip.AddrPortFrom(a, uint16(pp.port)), ""
	case c.Internal:
		a, why := c.internalAddr(nc, m)
		if why != "" {
			return netip.AddrPort{}, why
		}
		return netip.AddrPortFrom(a, uint16(pp.port)), ""
	}
	return c.publishedAddr(nc, in, pp.port, pp.proto)
}

// shortID is the 12-character id Docker prints.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

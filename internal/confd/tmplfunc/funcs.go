package tmplfunc

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// Resolver answers lookupIP, lookupIPV4, lookupIPV6 and lookupSRV.
// *net.Resolver satisfies it; tests substitute a fake so that no template
// test needs the network.
type Resolver interface {
	LookupIP(ctx context.Context, network, host string) ([]net.IP, error)
	LookupSRV(ctx context.Context, service, proto, name string) (cname string, addrs []*net.SRV, err error)
}

// MaxSeq is the longest list seq returns.
//
// Deliberate difference: confd 0.16 has no limit, and its loop never ends
// when LAST is the largest int (the counter wraps), so a template could
// exhaust memory; hecd returns an error instead. A million numbers is far
// beyond any configuration file.
const MaxSeq = 1 << 20

// errDivZero is what div and mod return for a zero divisor, worded as the
// spec records it. confd divides bare, so a zero divisor raised a Go
// runtime panic: depending on the Go release confd was built with, a crash
// or the error "runtime error: integer divide by zero". hecd checks first.
var errDivZero = errors.New("integer divide by zero")

// FuncMap is confd's complete template function set (without cget*) over
// store s, resolving names with the system resolver.
func FuncMap(s *Store) template.FuncMap {
	return FuncMapWith(s, net.DefaultResolver)
}

// FuncMapWith is FuncMap with the name resolver given; nil means
// net.DefaultResolver.
func FuncMapWith(s *Store, r Resolver) template.FuncMap {
	if r == nil {
		r = net.DefaultResolver
	}
	ips := func(host string) []string { return lookupIP(r, host) }
	return template.FuncMap{
		// The store.
		"get":    s.Get,
		"gets":   s.GetAll,
		"getv":   s.GetValue,
		"getvs":  s.GetAllValues,
		"exists": s.Exists,
		"ls":     s.List,
		"lsdir":  s.ListDir,

		// Paths and strings: the standard library functions confd
		// exposes, so their edge cases are Go's own.
		"base":       path.Base,
		"dir":        path.Dir,
		"split":      strings.Split,
		"join":       strings.Join,
		"toUpper":    strings.ToUpper,
		"toLower":    strings.ToLower,
		"contains":   strings.Contains,
		"replace":    strings.Replace,
		"trimSuffix": strings.TrimSuffix,
		"parseBool":  strconv.ParseBool,
		"atoi":       strconv.Atoi,
		"datetime":   time.Now,

		"json":         jsonObject,
		"jsonArray":    jsonArray,
		"map":          createMap,
		"getenv":       getenv,
		"fileExists":   fileExists,
		"base64Encode": base64Encode,
		"base64Decode": base64Decode,

		"lookupIP":   ips,
		"lookupIPV4": func(host string) []string { return filterIPs(ips(host), ".") },
		"lookupIPV6": func(host string) []string { return filterIPs(ips(host), ":") },
		"lookupSRV":  func(service, proto, name string) []*net.SRV { return lookupSRV(r, service, proto, name) },

		"reverse":        reverse,
		"sortByLength":   sortByLength,
		"sortKVByLength": sortKVByLength,

		// Typed int parameters make text/template itself reject a string
		// argument ("expected integer; found \"1\""), as in confd.
		"add": func(a, b int) int { return a + b },
		"sub": func(a, b int) int { return a - b },
		"mul": func(a, b int) int { return a * b },
		"div": div,
		"mod": mod,
		"seq": seq,
	}
}

// jsonObject is json: a JSON object as a map, numbers as float64. The
// literal null gives an empty map, not an error, as in confd.
func jsonObject(data string) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// jsonArray is jsonArray: a JSON array as []any (null gives an empty list).
func jsonArray(data string) ([]any, error) {
	var a []any
	if err := json.Unmarshal([]byte(data), &a); err != nil {
		return nil, err
	}
	return a, nil
}

// createMap is map: alternating keys and values into a map, typically to
// hand several values to a sub-template.
func createMap(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, errors.New("invalid map call")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, errors.New("map keys must be strings")
		}
		m[k] = kv[i+1]
	}
	return m, nil
}

// getenv is getenv: an unset and an empty variable alike give the default.
func getenv(name string, def ...string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	if len(def) > 0 {
		return def[0]
	}
	return ""
}

// fileExists is fileExists: false only when the path (followed through
// symlinks) is known not to exist; a permission error counts as existing.
func fileExists(p string) bool {
	_, err := os.Stat(p)
	return !errors.Is(err, os.ErrNotExist)
}

func base64Encode(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func base64Decode(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	return string(b), err
}

// lookupIP is lookupIP: all addresses as strings, sorted so that the
// rendered file does not change with the resolver's answer order. A failed
// lookup is an empty list, not an error, as in confd.
func lookupIP(r Resolver, host string) []string {
	ips, err := r.LookupIP(context.Background(), "ip", host)
	if err != nil {
		return []string{}
	}
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	slices.Sort(out)
	return out
}

// filterIPs keeps the addresses containing sep: "." for IPv4, ":" for IPv6
// (confd's own test, kept so that the same addresses land in each list).
func filterIPs(ips []string, sep string) []string {
	out := []string{}
	for _, ip := range ips {
		if strings.Contains(ip, sep) {
			out = append(out, ip)
		}
	}
	return out
}

// lookupSRV is lookupSRV: the records of _service._proto.name ordered by the
// string target+port+priority+weight, confd's (odd but stable) order. Ties
// keep the resolver's order. A failed lookup is an empty list.
func lookupSRV(r Resolver, service, proto, name string) []*net.SRV {
	_, addrs, err := r.LookupSRV(context.Background(), service, proto, name)
	if err != nil {
		return []*net.SRV{}
	}
	sortKey := func(s *net.SRV) string {
		return fmt.Sprintf("%s%d%d%d", s.Target, s.Port, s.Priority, s.Weight)
	}
	slices.SortStableFunc(addrs, func(a, b *net.SRV) int { return strings.Compare(sortKey(a), sortKey(b)) })
	return addrs
}

// reverse is reverse: reverses a list in place and returns it; any other
// value passes through unchanged.
//
// Deliberate difference: the list gets returns (KVPairs) is reversed too.
// confd 0.16 only recognised []string and the unnamed []KVPair, so
// reverse (gets ...) silently returned the list unchanged.
func reverse(values any) any {
	switch v := values.(type) {
	case []string:
		slices.Reverse(v)
	case []KVPair:
		slices.Reverse(v)
	case KVPairs:
		slices.Reverse(v)
	}
	return values
}

// sortByLength sorts in place by byte length, shortest first. confd leaves
// the order of equal lengths unspecified; a stable sort keeps the input
// order so the output never varies between renders.
func sortByLength(values []string) []string {
	slices.SortStableFunc(values, func(a, b string) int { return cmp.Compare(len(a), len(b)) })
	return values
}

// sortKVByLength sorts pairs in place by key length, shortest first, stably
// (gets output, already sorted by key, stays in key order within a length).
func sortKVByLength(values []KVPair) []KVPair {
	slices.SortStableFunc(values, func(a, b KVPair) int { return cmp.Compare(len(a.Key), len(b.Key)) })
	return values
}

// div truncates toward zero, as Go's / does.
func div(a, b int) (int, error) {
	if b == 0 {
		return 0, errDivZero
	}
	return a / b, nil
}

// mod has the sign of the dividend, as Go's % does.
func mod(a, b int) (int, error) {
	if b == 0 {
		return 0, errDivZero
	}
	return a % b, nil
}

// seq is seq: first..last inclusive, ascending; first > last is empty.
func seq(first, last int) ([]int, error) {
	if first > last {
		return []int{}, nil
	}
	// Unsigned arithmetic: last-first can exceed the int range.
	if span := uint64(last) - uint64(first); span >= MaxSeq {
		return nil, fmt.Errorf("sequence from %d to %d has more than %d numbers", first, last, MaxSeq)
	}
	out := make([]int, 0, last-first+1)
	for i := first; ; i++ {
		out = append(out, i)
		if i == last {
			return out, nil
		}
	}
}

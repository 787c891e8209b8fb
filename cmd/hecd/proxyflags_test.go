package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestProxyDefaultsAreTheSeedsHAProxy(t *testing.T) {
	var stderr bytes.Buffer
	o, err := parseProxyOptions(nil, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, strings.Join(o.store, ","), "http://127.0.0.1:2379")
	eq(t, strings.Join(o.listen, ","), ":8000")
	eq(t, o.maxconn, 5000)
	eq(t, o.listenerMaxconn, 2000)
	eq(t, o.retries, 3)
	eq(t, o.redispatch, true)
	eq(t, o.timeoutConnect, 5*time.Second)
	eq(t, o.timeoutClient, 50*time.Second)
	eq(t, o.timeoutServer, 50*time.Second)
	eq(t, o.httpclose, true)
	eq(t, o.checkInter, 5*time.Second)
	eq(t, o.checkFall, 1)
	eq(t, o.checkRise, 2)
	eq(t, o.routeHeader, "APPID")
	eq(t, o.statsListen, "")
}

func TestProxyConfigFileAndFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "proxy.toml")
	os.WriteFile(file, []byte(`
store = ["http://127.0.0.1:4001"]
retries = 2
httpclose = false
contimeout = 3000
[timeout]
server = "20s"
[check]
inter = 2000
rise = 3
[stats]
address = "127.0.0.1:8404"
auth = "admin:secret"
[default_backend]
mode = "static"
servers = ["developer=127.0.0.1:9000 weight=3", "b=127.0.0.1:9001"]
`), 0o644)
	var stderr bytes.Buffer
	o, err := parseProxyOptions([]string{"-config", file, "-retries", "5"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, strings.Join(o.store, ","), "http://127.0.0.1:4001")
	eq(t, o.retries, 5) // the command line wins
	eq(t, o.httpclose, false)
	eq(t, o.timeoutConnect, 3*time.Second)
	eq(t, o.timeoutServer, 20*time.Second)
	eq(t, o.checkInter, 2*time.Second)
	eq(t, o.checkRise, 3)
	eq(t, o.statsListen, "127.0.0.1:8404")
	eq(t, o.statsLegacy, "admin:secret")
	eq(t, strings.Join(o.defaultServers, "|"), "developer=127.0.0.1:9000 weight=3|b=127.0.0.1:9001")
}

func TestProxyBadInput(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "u.toml")
	os.WriteFile(unknown, []byte("frobnicate = 1\n"), 0o644)
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-forwardfor", "maybe"}, "want secure or haproxy"},
		{[]string{"-stats-listen", "127.0.0.1:8404"}, "no default password"},
		{[]string{"-trusted-proxies", "10.0.0.0/99"}, "trusted-proxies"},
		{[]string{"-timeout-connect", "soon"}, ""},
		{[]string{"-config", unknown}, `unknown setting "frobnicate"`},
		{[]string{"-initial-state", "sideways"}, "want up or down"},
	} {
		var stderr bytes.Buffer
		_, err := parseProxyOptions(c.args, &stderr)
		if err == nil {
			t.Errorf("%v: no error", c.args)
			continue
		}
		if !strings.Contains(err.Error()+stderr.String(), c.msg) {
			t.Errorf("%v: %v / %s lacks %q", c.args, err, stderr.String(), c.msg)
		}
	}
}

func TestHAProxyDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"5000": 5 * time.Second, "5s": 5 * time.Second, "100ms": 100 * time.Millisecond, "1d": 24 * time.Hour, "2m": 2 * time.Minute, "50us": 50 * time.Microsecond,
	} {
		got, err := parseHAProxyDuration(in)
		if err != nil || got != want {
			t.Errorf("%q: %v, %v", in, got, err)
		}
	}
	if _, err := parseHAProxyDuration("-1s"); err == nil {
		t.Error("negative accepted")
	}
}

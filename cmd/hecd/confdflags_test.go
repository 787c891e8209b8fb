package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfdPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "confd.toml")
	os.WriteFile(file, []byte(`
backend = "etcd"
prefix = "/fromfile"
nodes = ["http://file:1", "http://file:2"]
interval = 30
onetime = true
KeepStageFile = true
"sync-only" = true
"log-level" = "debug"
settle = "1s"
mystery = 1
`), 0o644)
	for _, c := range []struct {
		name    string
		args    []string
		env     []string
		check   func(t *testing.T, o *confdOptions)
		warning string
	}{
		{
			name: "file over defaults",
			args: []string{"-config-file", file},
			check: func(t *testing.T, o *confdOptions) {
				eq(t, o.str("prefix"), "/fromfile")
				eq(t, strings.Join(o.list("node"), ","), "http://file:1,http://file:2")
				eq(t, o.int("interval"), 30)
				eq(t, o.bool("onetime"), true)
				eq(t, o.bool("keep-stage-file"), true)
				eq(t, o.bool("sync-only"), true)
				eq(t, o.str("log-level"), "debug")
				eq(t, o.duration("settle").String(), "1s")
				eq(t, o.str("confdir"), "/etc/confd")
			},
			warning: `unknown key "mystery"`,
		},
		{
			name: "environment over file",
			args: []string{"-config-file", file},
			env:  []string{"CONFD_PREFIX=/fromenv", "CONFD_NODE=http://env:1, http://env:2", "CONFD_INTERVAL=5"},
			check: func(t *testing.T, o *confdOptions) {
				eq(t, o.str("prefix"), "/fromenv")
				eq(t, strings.Join(o.list("node"), ","), "http://env:1,http://env:2")
				eq(t, o.int("interval"), 5)
			},
		},
		{
			name: "flags over environment and file",
			args: []string{"--config-file=" + file, "-prefix", "/fromflag", "-node", "http://flag:1", "-node=http://flag:2", "-interval=7", "-onetime=false"},
			env:  []string{"CONFD_PREFIX=/fromenv", "CONFD_NODE=http://env:1"},
			check: func(t *testing.T, o *confdOptions) {
				eq(t, o.str("prefix"), "/fromflag")
				eq(t, strings.Join(o.list("node"), ","), "http://flag:1,http://flag:2")
				eq(t, o.int("interval"), 7)
				eq(t, o.bool("onetime"), false)
			},
		},
		{
			name: "config file path from the environment",
			env:  []string{"CONFD_CONFIG_FILE=" + file},
			check: func(t *testing.T, o *confdOptions) {
				eq(t, o.str("prefix"), "/fromfile")
			},
		},
		{
			name: "missing config file is skipped; a comma in -node is not split",
			args: []string{"-config-file", filepath.Join(dir, "none.toml"), "-node", "http://a:1,http://b:2"},
			check: func(t *testing.T, o *confdOptions) {
				eq(t, strings.Join(o.list("node"), "|"), "http://a:1,http://b:2")
				eq(t, o.int("interval"), 600)
				eq(t, o.str("backend"), "etcd")
			},
		},
		{
			name: "confd's CONFD_CLIENT_CAKEYS",
			args: []string{"-config-file", filepath.Join(dir, "none.toml")},
			env:  []string{"CONFD_CLIENT_CAKEYS=/ca.pem", "CONFD_CLIENT_CERT=/c.pem"},
			check: func(t *testing.T, o *confdOptions) {
				eq(t, o.str("client-ca-keys"), "/ca.pem")
				eq(t, o.str("client-cert"), "/c.pem")
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stderr bytes.Buffer
			o, err := parseConfdOptions(c.args, c.env, &stderr)
			if err != nil {
				t.Fatalf("err = %v, stderr %s", err, stderr.String())
			}
			c.check(t, o)
			if c.warning != "" && !strings.Contains(strings.Join(o.warnings, "\n"), c.warning) {
				t.Errorf("warnings %v lack %q", o.warnings, c.warning)
			}
		})
	}
}

func eq[T comparable](t *testing.T, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestConfdBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("backend = \n"), 0o644)
	none := filepath.Join(dir, "none.toml")
	for _, c := range []struct {
		name string
		args []string
		env  []string
		want error
		msg  string
	}{
		{"unknown flag", []string{"-nope"}, nil, errConfdUsage, "flag provided but not defined: -nope"},
		{"bad interval", []string{"-config-file", none, "-interval", "x"}, nil, errConfdUsage, "invalid integer"},
		{"stray argument", []string{"-config-file", none, "extra"}, nil, errConfdUsage, `unexpected argument "extra"`},
		{"bad toml", []string{"-config-file", bad}, nil, nil, "bad.toml"},
		{"bad env", []string{"-config-file", none}, []string{"CONFD_WATCH=maybe"}, nil, "CONFD_WATCH"},
		{"version", []string{"-config-file", none, "-version"}, nil, errConfdVersion, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stderr bytes.Buffer
			_, err := parseConfdOptions(c.args, c.env, &stderr)
			if err == nil {
				t.Fatal("no error")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("err = %v, want %v", err, c.want)
			}
			if c.msg != "" && !strings.Contains(err.Error()+stderr.String(), c.msg) {
				t.Errorf("%v / %s lacks %q", err, stderr.String(), c.msg)
			}
		})
	}
}

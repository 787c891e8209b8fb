package main

import (
	"fmt"
	"io"
	"runtime"
)

// Version strings; package variables so that a release build can set them
// with -ldflags "-X main.hecdVersion=...".
var (
	hecdVersion = "0.1.0"
	// etcdAPIVersion is the etcd release whose v2 keys API hecd answers
	// like; /version reports it too.
	etcdAPIVersion = "3.4.23"
)

// printVersion writes the text of "hecd --version" and "etcd --version".
func printVersion(w io.Writer) {
	fmt.Fprintf(w, "hecd Version: %s\n", hecdVersion)
	fmt.Fprintf(w, "etcd API: %s (v2 keys)\n", etcdAPIVersion)
	fmt.Fprintf(w, "Go Version: %s\n", runtime.Version())
	fmt.Fprintf(w, "Go OS/Arch: %s/%s\n", runtime.GOOS, runtime.GOARCH)
}

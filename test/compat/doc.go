// Package compat holds the compatibility harness that replays the recorded
// etcd v2 golden transcripts (the shared spec's etcd-v2-golden/) against hecd
// and against a live reference etcd 3.4, and asserts that hecd gives the same
// answers. Everything lives in the tests; see compat_test.go.
//
// Run it from the repository root with
//
//	go test ./test/compat/ -run TestGoldenCompat -v
//
// It needs bash, curl and a real etcd 3.4 (Debian: apt-get install etcd-server
// etcd-client) on PATH, and the shared spec directory beside the repository
// (<repo>/../shared, or HECD_SHARED=DIR). In -short mode it is skipped.
//
// Self-check of the harness (both sides real etcd, hecd not built):
//
//	HECD_COMPAT_SERVER_SCRIPT=etcd go test ./test/compat/ -run TestGoldenCompat -v
//
// Other settings (HECD_COMPAT_KEEP, HECD_COMPAT_TIMEOUT) are described at the
// top of compat_test.go.
package compat

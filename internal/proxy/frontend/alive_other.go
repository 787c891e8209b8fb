//go:build !linux

package frontend

import "net"

// alive cannot peek portably; a dead pooled connection is then caught by
// the replay of replayable requests (forward.go).
func alive(net.Conn) bool { return true }

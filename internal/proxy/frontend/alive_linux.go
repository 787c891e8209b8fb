package frontend

import (
	"net"
	"syscall"
)

// alive says whether an idle pooled connection can still carry a request:
// one non-blocking MSG_PEEK tells apart a connection that is open and
// silent (EAGAIN) from one the server closed (0 bytes) or that has
// unexpected data (bytes nobody asked for). It catches servers that closed
// their idle connections, so a request is not sent into a dead socket.
func alive(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	ok = false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, e := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ok = (e == syscall.EAGAIN || e == syscall.EWOULDBLOCK)
		// true: done, never wait for readiness.
		return true
	})
	return err == nil && ok
}

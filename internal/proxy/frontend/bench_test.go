package frontend

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"

	"hecd/internal/proxy"
	"hecd/internal/proxy/proxytest"
)

// rawBackend answers every request with a fixed small response, keeping
// the connection, so that a benchmark measures the proxy, not the backend.
func rawBackend(b *testing.B) string {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nhello\n")
	return proxytest.ServeLoopback(b, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			// GET only: the head ends with an empty line.
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					return
				}
				if len(line) <= 2 {
					break
				}
			}
			if _, err := c.Write(resp); err != nil {
				return
			}
		}
	})
}

// BenchmarkForward is the hot path: a routed GET through the frontend to
// a keep-alive backend, with httpclose (a new client connection per
// request, the legacy configuration) and with client keep-alive, access
// log off and on.
func BenchmarkForward(b *testing.B) {
	for _, bc := range []struct {
		name      string
		keepAlive bool
		log       io.Writer
	}{
		{"httpclose", false, nil},
		{"httpclose-log", false, io.Discard},
		{"keepalive", true, nil},
		{"keepalive-log", true, io.Discard},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var srvs []*proxy.Server
			for i := 0; i < 3; i++ {
				srvs = append(srvs, proxy.NewServer("s"+string(rune('1'+i)), rawBackend(b)))
			}
			r := router([]*proxy.Backend{route("app1", srvs[0].Addr)}, proxy.NewBackend("default_backend", srvs...))
			addr, _ := startFrontend(b, Config{KeepAlive: bc.keepAlive, AccessLog: bc.log}, r)
			req := []byte("GET /bench HTTP/1.1\r\nHost: bench\r\nAPPID: app1\r\nUser-Agent: bench\r\n\r\n")
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var c net.Conn
				var br *bufio.Reader
				for pb.Next() {
					if c == nil {
						var err error
						if c, err = net.Dial("tcp", addr); err != nil {
							b.Error(err)
							return
						}
						br = bufio.NewReader(c)
					}
					if _, err := c.Write(req); err != nil {
						b.Error(err)
						return
					}
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						b.Error(err)
						return
					}
					body, _ := io.ReadAll(resp.Body)
					if resp.StatusCode != 200 || !bytes.Equal(body, []byte("hello\n")) {
						b.Errorf("got %d %q", resp.StatusCode, body)
						return
					}
					if resp.Close {
						c.Close()
						c = nil
					}
				}
				if c != nil {
					c.Close()
				}
			})
		})
	}
}

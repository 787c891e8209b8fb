package frontend

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// tunnel relays a protocol switch (websocket): the 101 goes to the client,
// then bytes flow both ways until both sides are done or the tunnel has
// been idle in both directions for "timeout tunnel". It depends on no
// route table, so table swaps and route removals do not touch it.
func (c *clientConn) tunnel(rs *reqState, u *upConn, resp *http.Response) bool {
	w := c.bw
	w.WriteString("HTTP/1.1 ")
	w.WriteString(resp.Status)
	w.WriteString("\r\n")
	c.rtokens = connTokens(resp.Header, c.rtokens[:0])
	for k, vs := range resp.Header {
		if hopByHop(k) || hasToken(c.rtokens, k) {
			continue
		}
		for _, v := range vs {
			writeHeaderLine(w, k, v)
		}
	}
	w.WriteString("Connection: Upgrade\r\n")
	for _, v := range resp.Header["Upgrade"] {
		writeHeaderLine(w, "Upgrade", v)
	}
	w.WriteString("\r\n")
	rs.status = http.StatusSwitchingProtocols
	n0 := c.nwritten
	if err := w.Flush(); err != nil {
		return c.clientFailed(rs, u, nil)
	}
	head := c.nwritten - n0

	idle := c.f.cfg.Timeouts.Tunnel
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	c.nc.SetDeadline(time.Time{})
	u.nc.SetDeadline(time.Time{})

	type result struct {
		n       int64
		readErr bool // the failure was reading (on src), not writing
		err     error
	}
	up := make(chan result, 1)
	go func() {
		n, rd, err := pipe(u.nc, c.nc, c.br, idle, &last)
		if err != nil {
			// A failure (not a clean end) in one direction ends both.
			c.nc.Close()
			u.nc.Close()
		}
		up <- result{n, rd, err}
	}()
	down, rd, derr := pipe(c.nc, u.nc, u.br, idle, &last)
	if derr != nil {
		c.nc.Close()
		u.nc.Close()
	}
	r := <-up
	c.nc.Close()
	u.nc.Close()

	rs.bytesOut = head + down
	switch {
	case derr != nil && rd:
		rs.term = termOf("sD--", "SD--", derr)
	case derr != nil:
		rs.term = termOf("cD--", "CD--", derr)
	case r.err != nil && r.readErr:
		rs.term = termOf("cD--", "CD--", r.err)
	case r.err != nil:
		rs.term = termOf("sD--", "SD--", r.err)
	}
	c.countStatus(rs)
	return false
}

func termOf(timeout, other string, err error) string {
	if isTimeout(err) {
		return timeout
	}
	return other
}

// pipe copies src to dst, starting with what pending already buffered,
// until src ends (then dst's write side is shut so the peer sees the end)
// or fails. A read deadline is only fatal when the other direction has
// been quiet too: last is the newest activity in either direction.
func pipe(dst, src net.Conn, pending *bufio.Reader, idle time.Duration, last *atomic.Int64) (int64, bool, error) {
	var total int64
	if n := pending.Buffered(); n > 0 {
		b, _ := pending.Peek(n)
		dst.SetWriteDeadline(time.Now().Add(idle))
		m, err := dst.Write(b)
		total += int64(m)
		if err != nil {
			return total, false, err
		}
		pending.Discard(n)
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		src.SetReadDeadline(time.Now().Add(idle))
		n, err := src.Read(buf)
		if n > 0 {
			now := time.Now()
			last.Store(now.UnixNano())
			dst.SetWriteDeadline(now.Add(idle))
			m, werr := dst.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, false, werr
			}
		}
		if err == nil {
			continue
		}
		if isTimeout(err) && time.Since(time.Unix(0, last.Load())) < idle {
			continue
		}
		if errors.Is(err, io.EOF) {
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			} else {
				dst.Close()
			}
			return total, true, nil
		}
		return total, true, err
	}
}

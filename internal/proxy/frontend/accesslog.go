package frontend

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The access log line is HAProxy's "option httplog" line with the
// classic timers:
//
//	127.0.0.1:50412 [23/Nov/2026:21:51:09.123] http-in app1/app1 0/0/1/2/3 200 145 - - ---- 3/2/1/1/0 0/0 "GET / HTTP/1.1"
//
// client ip:port, accept date, frontend, backend/server, Tq/Tw/Tc/Tr/Tt
// in ms (-1: phase not reached), status, bytes to the client, request and
// response cookies (never captured: "-"), termination state (first letter
// who ended it: C client, S server, P proxy, lower case for a timeout;
// second the phase: R request, C connect, H response headers, D data),
// actconn/feconn/beconn/srv_conn/retries ("+" when redispatched), queues,
// and the request line.
//
// It is built by appending into a pooled buffer and written with one
// Write under a mutex: no fmt, no allocation per line.

var logBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

type dateStamp struct {
	sec int64
	s   string
}

var dateCache atomic.Pointer[dateStamp]

// appendDate appends HAProxy's date with milliseconds; the part up to the
// second is formatted once per second.
func appendDate(b []byte, t time.Time) []byte {
	sec := t.Unix()
	d := dateCache.Load()
	if d == nil || d.sec != sec {
		d = &dateStamp{sec: sec, s: t.Format("02/Jan/2006:15:04:05")}
		dateCache.Store(d)
	}
	b = append(b, d.s...)
	ms := t.Nanosecond() / 1e6
	return append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
}

func appendMs(b []byte, d time.Duration) []byte {
	if d < 0 {
		return append(b, "-1"...)
	}
	return strconv.AppendInt(b, d.Milliseconds(), 10)
}

// appendEscaped appends s with control bytes, non-ASCII, '"' and '#' as
// #XX, as HAProxy logs them, so a line can always be split and read back.
func appendEscaped(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '#' {
			b = append(b, '#', hex[c>>4], hex[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}

func (c *clientConn) logRequest(rs *reqState) {
	w := c.f.cfg.AccessLog
	if w == nil {
		return
	}
	now := time.Now()
	bp := logBufPool.Get().(*[]byte)
	b := (*bp)[:0]
	b = append(b, c.remote...)
	b = append(b, " ["...)
	b = appendDate(b, rs.start)
	b = append(b, "] "...)
	b = append(b, c.f.cfg.Name...)
	b = append(b, ' ')
	switch {
	case rs.be != nil:
		b = append(b, rs.be.Name...)
	default:
		b = append(b, c.f.cfg.Name...)
	}
	b = append(b, '/')
	if rs.srv != nil {
		b = append(b, rs.srv.ID...)
	} else {
		b = append(b, "<NOSRV>"...)
	}
	b = append(b, ' ')
	tq, tw := time.Duration(-1), time.Duration(-1)
	if !rs.badreq {
		tq = rs.hdrDone.Sub(rs.start)
		if rs.srv != nil {
			tw = 0
		}
	}
	b = appendMs(b, tq)
	b = append(b, '/')
	b = appendMs(b, tw)
	b = append(b, '/')
	b = appendMs(b, rs.tConn)
	b = append(b, '/')
	b = appendMs(b, rs.tResp)
	b = append(b, '/')
	b = appendMs(b, now.Sub(rs.start))
	b = append(b, ' ')
	if rs.status > 0 {
		b = strconv.AppendInt(b, int64(rs.status), 10)
	} else {
		b = append(b, "-1"...)
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, rs.bytesOut, 10)
	b = append(b, " - - "...)
	b = append(b, rs.term...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, c.f.actconn.Load(), 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, c.f.counters.Cur.Load(), 10)
	b = append(b, '/')
	if rs.be != nil {
		b = strconv.AppendInt(b, rs.be.Counters.Cur.Load(), 10)
	} else {
		b = append(b, '0')
	}
	b = append(b, '/')
	if rs.srv != nil {
		b = strconv.AppendInt(b, rs.srv.Counters.Cur.Load(), 10)
	} else {
		b = append(b, '0')
	}
	b = append(b, '/')
	if rs.redispatched {
		b = append(b, '+')
	}
	b = strconv.AppendInt(b, int64(rs.retries), 10)
	b = append(b, " 0/0 \""...)
	if rs.req != nil {
		b = appendEscaped(b, rs.req.Method)
		b = append(b, ' ')
		b = appendEscaped(b, rs.req.RequestURI)
		b = append(b, ' ')
		b = appendEscaped(b, rs.req.Proto)
	} else {
		b = append(b, "<BADREQ>"...)
	}
	b = append(b, "\"\n"...)
	c.f.logMu.Lock()
	w.Write(b)
	c.f.logMu.Unlock()
	*bp = b
	logBufPool.Put(bp)
}

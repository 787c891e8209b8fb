package frontend

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"hecd/internal/proxy"
	"hecd/internal/proxy/proxytest"
)

// testTimeout bounds every blocking step of a test.
const testTimeout = 10 * time.Second

// syncBuf is a goroutine-safe access log sink.
type syncBuf struct{ proxytest.Buffer }

// lines waits until the log has n lines and returns them.
func (s *syncBuf) lines(t *testing.T, n int) []string {
	t.Helper()
	var l []string
	if !proxytest.Poll(testTimeout, func() bool {
		out := s.String()
		l = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		return out != "" && len(l) >= n
	}) {
		t.Fatalf("access log has %q, want %d lines", s.String(), n)
	}
	return l
}

// startFrontend serves cfg on a random loopback port; the frontend is
// closed when the test ends.
func startFrontend(t testing.TB, cfg Config, r *proxy.Router) (string, *Frontend) {
	t.Helper()
	fe, err := New(cfg, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { fe.Serve(ln); close(served) }()
	t.Cleanup(func() {
		fe.Close()
		select {
		case <-served:
		case <-time.After(testTimeout):
			t.Error("Serve did not return after Close")
		}
	})
	return ln.Addr().String(), fe
}

// named is an httptest backend that answers its name and echoes what the
// proxy sent in headers X-Got-*.
func named(t testing.TB, name string) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Backend", name)
		io.WriteString(w, name)
	}))
	t.Cleanup(s.Close)
	return s
}

func addrOf(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }

// route builds a single-server route backend.
func route(id, addr string) *proxy.Backend {
	return proxy.NewBackend(id, proxy.NewServer(id, addr))
}

func router(routes []*proxy.Backend, def *proxy.Backend) *proxy.Router {
	r := proxy.NewRouter()
	r.Swap(proxy.NewTable(1, routes, def, nil))
	return r
}

// rawConn dials the frontend with a deadline.
func rawConn(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(testTimeout))
	t.Cleanup(func() { c.Close() })
	return c
}

// sendOn writes raw request bytes on c and reads the response head; the
// body is left to the caller.
func sendOn(t testing.TB, c net.Conn, br *bufio.Reader, raw string) *http.Response {
	t.Helper()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading response to %q: %v", raw, err)
	}
	return resp
}

// roundTrip writes raw request bytes and reads one response.
func roundTrip(t testing.TB, c net.Conn, br *bufio.Reader, raw string) (*http.Response, string) {
	t.Helper()
	resp := sendOn(t, c, br, raw)
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	resp.Body.Close()
	return resp, string(body)
}

// do sends one raw request on a new connection.
func do(t testing.TB, addr, raw string) (*http.Response, string) {
	t.Helper()
	c := rawConn(t, addr)
	return roundTrip(t, c, bufio.NewReader(c), raw)
}

// doOpen is do with the response body left unread, for the caller.
func doOpen(t testing.TB, addr, raw string) *http.Response {
	t.Helper()
	c := rawConn(t, addr)
	return sendOn(t, c, bufio.NewReader(c), raw)
}

// fetch sends req with cl and returns the response with its body read.
func fetch(t testing.TB, cl *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// headEcho is a raw backend that answers every request with its header
// block exactly as received (line order kept), and counts connections
// and requests. Bodies are read by Content-Length or chunked framing and
// echoed after the head.
type headEcho struct {
	laddr    string
	conns    atomic.Int64
	requests atomic.Int64
}

func newHeadEcho(t testing.TB) *headEcho {
	h := &headEcho{}
	h.laddr = proxytest.ServeLoopback(t, func(c net.Conn) {
		h.conns.Add(1)
		h.serve(c)
	})
	return h
}

func (h *headEcho) addr() string { return h.laddr }

func (h *headEcho) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(testTimeout))
	br := bufio.NewReader(c)
	for {
		// The head is kept as received, line order included, which
		// http.ReadRequest would lose.
		var head strings.Builder
		length, chunked := 0, false
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if line == "\r\n" {
				break
			}
			head.WriteString(line)
			k, v, _ := strings.Cut(strings.TrimRight(line, "\r\n"), ":")
			switch strings.ToLower(k) {
			case "content-length":
				length, _ = strconv.Atoi(strings.TrimSpace(v))
			case "transfer-encoding":
				chunked = strings.Contains(strings.ToLower(v), "chunked")
			}
		}
		h.requests.Add(1)
		var body []byte
		if chunked {
			body, _ = io.ReadAll(httputil.NewChunkedReader(br))
			// trailers up to the blank line
			for {
				line, err := br.ReadString('\n')
				if err != nil || line == "\r\n" {
					break
				}
			}
		} else if length > 0 {
			body = make([]byte, length)
			if _, err := io.ReadFull(br, body); err != nil {
				return
			}
		}
		out := head.String() + "\r\n" + string(body)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(len(out))+"\r\n\r\n"+out)
	}
}

// headerLines returns the echoed head's header lines (without the
// request line).
func headerLines(body string) []string {
	head, _, _ := strings.Cut(body, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	return lines[1:]
}

// values returns the values of header k (case-insensitive) in line order.
func values(lines []string, k string) []string {
	var out []string
	for _, l := range lines {
		name, v, _ := strings.Cut(l, ":")
		if strings.EqualFold(name, k) {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

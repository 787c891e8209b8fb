package frontend

import "strconv"

// errorPage is one of the proxy's own answers. The texts are HAProxy's, so
// clients and monitoring that grep for them keep working; none names a
// product or a version.
type errorPage struct {
	reason, body string
}

var defaultPages = map[int]errorPage{
	400: {"Bad request", "<html><body><h1>400 Bad request</h1>\nYour browser sent an invalid request.\n</body></html>\n"},
	408: {"Request Time-out", "<html><body><h1>408 Request Time-out</h1>\nYour browser didn't send a complete request in time.\n</body></html>\n"},
	501: {"Not Implemented", "<html><body><h1>501 Not Implemented</h1>\n.The server does not support the functionality required to fulfill the request.\n</body></html>\n"},
	502: {"Bad Gateway", "<html><body><h1>502 Bad Gateway</h1>\nThe server returned an invalid or incomplete response.\n</body></html>\n"},
	503: {"Service Unavailable", "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n"},
	504: {"Gateway Time-out", "<html><body><h1>504 Gateway Time-out</h1>\nThe server didn't respond in time.\n</body></html>\n"},
	505: {"HTTP Version Not Supported", "<html><body><h1>505 HTTP Version Not Supported</h1>\nThe protocol version is not supported.\n</body></html>\n"},
}

// buildPages renders every answer once, head and body, so that sending one
// is a single write with no formatting on the error path.
func buildPages(custom map[int]string) map[int][]byte {
	out := make(map[int][]byte, len(defaultPages))
	for code, p := range defaultPages {
		body := p.body
		if c, ok := custom[code]; ok {
			body = c
		}
		out[code] = renderPage(code, p.reason, body)
	}
	for code, body := range custom {
		if _, ok := out[code]; !ok && code >= 400 && code <= 599 {
			out[code] = renderPage(code, "Error", body)
		}
	}
	return out
}

func renderPage(code int, reason, body string) []byte {
	b := make([]byte, 0, 160+len(body))
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	b = append(b, reason...)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n"...)
	return append(b, body...)
}

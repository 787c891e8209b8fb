package confd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// LevelFatal is the level of the last line before confd gives up.
const LevelFatal = slog.LevelError + 4

// ParseLevel reads confd's -log-level names. The empty string is info.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	case "fatal", "panic":
		return LevelFatal, nil
	}
	return 0, fmt.Errorf("not a valid level: %q", s)
}

// LogHandler writes confd's log line format,
// "<RFC3339 time> <hostname> <tag>[<pid>]: <LEVEL> <message>", so that
// anything that parses confd's logs keeps working. Attributes, which confd
// never had, follow the message as key=value.
type LogHandler struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string // "<hostname> <tag>[<pid>]: "
	level  slog.Leveler
	attrs  string
	now    func() time.Time
}

// NewLogHandler returns a handler writing to w at level and above.
func NewLogHandler(w io.Writer, hostname, tag string, pid int, level slog.Leveler) *LogHandler {
	return &LogHandler{
		mu:     new(sync.Mutex),
		w:      w,
		prefix: fmt.Sprintf("%s %s[%d]: ", hostname, tag, pid),
		level:  level,
		now:    time.Now,
	}
}

func (h *LogHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *LogHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(h.now().Format(time.RFC3339))
	b.WriteByte(' ')
	b.WriteString(h.prefix)
	b.WriteString(levelName(r.Level))
	b.WriteByte(' ')
	b.WriteString(r.Message)
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		writeAttr(&b, a)
		return true
	})
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *LogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range as {
		writeAttr(&b, a)
	}
	c.attrs = b.String()
	return &c
}

// WithGroup is accepted but flattens: confd's format has no groups.
func (h *LogHandler) WithGroup(string) slog.Handler { return h }

func writeAttr(b *strings.Builder, a slog.Attr) {
	if a.Equal(slog.Attr{}) {
		return
	}
	fmt.Fprintf(b, " %s=%v", a.Key, a.Value.Resolve().Any())
}

func levelName(l slog.Level) string {
	switch {
	case l >= LevelFatal:
		return "FATAL"
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	}
	return "DEBUG"
}

// Package confd is hecd's renderer: confd 0.16's template resources, run
// modes and command semantics, reading keys through a backend.Backend.
//
// Where confd 0.16 is known to fail its users, this package does better
// without changing the files a working confd set-up produces: watches
// resume from the last index seen, bursts of changes give one render, one
// bad resource does not stop the others, commands have a timeout, a failed
// reload is retried, and -noop shows a diff. DIFFERENCES.md lists each.
package confd

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"time"

	"hecd/internal/confd/backend"
)

// Mode is how the renderer runs.
type Mode int

const (
	// Interval renders every Interval, re-reading the resource files each
	// pass (confd's default).
	Interval Mode = iota
	// Onetime renders once and returns.
	Onetime
	// Watch renders once, then whenever the backend reports a change.
	Watch
)

// Config is everything the renderer needs.
type Config struct {
	ConfDir string
	// Prefix is the global key prefix; it replaces each resource's own.
	Prefix  string
	Backend backend.Backend
	Mode    Mode
	// Interval is the pause between passes in Interval mode.
	Interval time.Duration

	Noop          bool // render and compare only; print a diff
	SyncOnly      bool // write files, never run check or reload commands
	KeepStageFile bool

	// Settle is the quiet time a watch waits after a change before
	// rendering, so that a burst of writes gives one render and one reload.
	// SettleMax bounds the wait under a steady stream of changes.
	Settle    time.Duration
	SettleMax time.Duration
	// CommandTimeout bounds each check and reload command (0: none).
	CommandTimeout time.Duration
	// RetryMin and RetryMax bound the back-off of failed reloads and of
	// backend errors in watch mode.
	RetryMin, RetryMax time.Duration

	// UID and GID own rendered files whose resource names no owner.
	UID, GID int

	Logger *slog.Logger
	// Diff receives -noop's unified diffs.
	Diff io.Writer
}

// DefaultConfig returns confd's defaults plus hecd's own.
func DefaultConfig() Config {
	return Config{
		ConfDir:        "/etc/confd",
		Mode:           Interval,
		Interval:       600 * time.Second,
		Settle:         200 * time.Millisecond,
		SettleMax:      2 * time.Second,
		CommandTimeout: 60 * time.Second,
		RetryMin:       time.Second,
		RetryMax:       time.Minute,
		UID:            os.Geteuid(),
		GID:            os.Getegid(),
		Logger:         slog.New(slog.DiscardHandler),
		Diff:           io.Discard,
	}
}

// Validate reports settings that cannot work.
func (c *Config) Validate() error {
	switch {
	case c.Backend == nil:
		return errors.New("confd: no backend")
	case c.ConfDir == "":
		return errors.New("confd: empty confdir")
	case c.Mode == Interval && c.Interval <= 0:
		return errors.New("confd: interval must be positive")
	case c.Settle < 0 || c.SettleMax < 0 || c.CommandTimeout < 0:
		return errors.New("confd: durations must not be negative")
	case c.RetryMin <= 0 || c.RetryMax < c.RetryMin:
		return errors.New("confd: retry back-off must be positive and max >= min")
	case c.Logger == nil:
		return errors.New("confd: no logger")
	}
	if c.Diff == nil {
		c.Diff = io.Discard
	}
	return nil
}

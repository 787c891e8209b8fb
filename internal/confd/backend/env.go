package backend

import (
	"context"
	"errors"
	"strings"
	"sync"
)

// Env reads keys from environment variables, as confd's env backend does:
// the key /app/servers is looked up as every variable whose name starts
// with APP_SERVERS, and each name found is turned back into a key by
// lower-casing it and reading "_" as "/".
//
// The environment is fixed when the backend is made: a process cannot see
// its environment change, so there is nothing to watch.
type Env struct {
	vars [][2]string // name, value in environ order

	closeOnce sync.Once
	closed    chan struct{}
}

// NewEnv returns a backend over environ, a list of "NAME=value" strings
// such as os.Environ() returns. Entries without "=" are ignored.
func NewEnv(environ []string) *Env {
	e := &Env{closed: make(chan struct{})}
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		// Windows keeps per-drive directories in names starting with "=";
		// they are not variables anyone could mean.
		if !ok || name == "" {
			continue
		}
		e.vars = append(e.vars, [2]string{name, value})
	}
	return e
}

// envName is the variable name prefix a key is looked up by.
func envName(key string) string {
	return strings.ToUpper(strings.ReplaceAll(strings.TrimPrefix(key, "/"), "/", "_"))
}

// envKey is the key a variable name stands for.
func envKey(name string) string {
	return "/" + strings.ReplaceAll(strings.ToLower(name), "_", "/")
}

// GetValues returns every variable whose name starts with the name of one
// of keys. The match is on the name as a string, not on path elements:
// APP_SERVERSX is returned for /app/servers (as /app/serversx), as confd
// does. The index is always 0.
func (e *Env) GetValues(ctx context.Context, keys []string) (map[string]string, uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	prefixes := make([]string, len(keys))
	for i, k := range keys {
		prefixes[i] = envName(k)
	}
	values := make(map[string]string)
	for _, nv := range e.vars {
		for _, p := range prefixes {
			if strings.HasPrefix(nv[0], p) {
				values[envKey(nv[0])] = nv[1]
				break
			}
		}
	}
	return values, 0, nil
}

// WatchPrefix blocks until ctx ends or the backend is closed: the
// environment of a running process does not change. (The renderer does the
// first render itself, so watch mode still renders once; confd rendered
// nothing at all.)
func (e *Env) WatchPrefix(ctx context.Context, prefix string, keys []string, index uint64) (uint64, error) {
	select {
	case <-ctx.Done():
		return index, ctx.Err()
	case <-e.closed:
		return index, errClosedBackend
	}
}

// Close ends any WatchPrefix in progress.
func (e *Env) Close() error {
	e.closeOnce.Do(func() { close(e.closed) })
	return nil
}

// errClosedBackend is returned by a watch on a backend that has been closed.
var errClosedBackend = errors.New("backend closed")

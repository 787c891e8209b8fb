package confd

import (
	"context"
	"strings"
	"sync"

	"hecd/internal/confd/backend"
)

// memBackend is an in-memory backend with a change history, standing in
// for a store in unit tests of the renderer's logic.
type memBackend struct {
	mu      sync.Mutex
	values  map[string]string
	history []memEvent // index i+1 is history[i]
	cleared uint64     // watches from below this index get ErrIndexCleared
	changed chan struct{}
	gets    int
	failGet error
}

type memEvent struct{ key string }

func newMemBackend() *memBackend {
	return &memBackend{values: map[string]string{}, changed: make(chan struct{})}
}

func (m *memBackend) set(key, value string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.values[key] = value
	m.record(key)
}

func (m *memBackend) del(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.values, key)
	m.record(key)
}

func (m *memBackend) record(key string) {
	m.history = append(m.history, memEvent{key: key})
	close(m.changed)
	m.changed = make(chan struct{})
}

func (m *memBackend) getCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gets
}

func (m *memBackend) GetValues(_ context.Context, keys []string) (map[string]string, uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gets++
	if m.failGet != nil {
		return nil, 0, m.failGet
	}
	out := map[string]string{}
	for k, v := range m.values {
		for _, want := range keys {
			if k == want || strings.HasPrefix(k, strings.TrimSuffix(want, "/")+"/") {
				out[k] = v
			}
		}
	}
	return out, uint64(len(m.history)), nil
}

func (m *memBackend) WatchPrefix(ctx context.Context, prefix string, keys []string, index uint64) (uint64, error) {
	for {
		m.mu.Lock()
		if index < m.cleared {
			m.mu.Unlock()
			return 0, backend.ErrIndexCleared
		}
		for i := index; i < uint64(len(m.history)); i++ {
			for _, k := range keys {
				if strings.HasPrefix(m.history[i].key, k) {
					m.mu.Unlock()
					return i + 1, nil
				}
			}
		}
		ch := m.changed
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-ch:
		}
	}
}

func (m *memBackend) Close() error { return nil }

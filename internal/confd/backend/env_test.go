package backend

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"
)

func TestEnvGetValues(t *testing.T) {
	environ := []string{
		"APP_SERVERS_WEB1=10.0.0.1:80",
		"APP_SERVERS_WEB_2=10.0.0.2:80",
		"APP_SERVERSX=x",
		"APP_SERVERS=root",
		"APP_OTHER=o=with=equals",
		"app_servers_low=lower",
		"EMPTY=",
		"NOEQUALS",
		"=C:=C:\\",
	}
	tests := []struct {
		name string
		keys []string
		want map[string]string
	}{
		{"string prefix, as confd", []string{"/app/servers"}, map[string]string{
			"/app/servers":       "root",
			"/app/servers/web1":  "10.0.0.1:80",
			"/app/servers/web/2": "10.0.0.2:80",
			"/app/serversx":      "x",
		}},
		{"trailing slash keeps to the directory", []string{"/app/servers/"}, map[string]string{
			"/app/servers/web1":  "10.0.0.1:80",
			"/app/servers/web/2": "10.0.0.2:80",
		}},
		{"two keys; value keeps its '='", []string{"/app/serversx", "/app/other"}, map[string]string{
			"/app/serversx": "x",
			"/app/other":    "o=with=equals",
		}},
		{"lower-case key is upper-cased", []string{"/APP/Other"}, map[string]string{
			"/app/other": "o=with=equals",
		}},
		{"empty value", []string{"/empty"}, map[string]string{"/empty": ""}},
		{"missing key is absent", []string{"/missing"}, map[string]string{}},
		{"no keys", nil, map[string]string{}},
		{"root takes every variable", []string{"/"}, map[string]string{
			"/app/servers":       "root",
			"/app/servers/web1":  "10.0.0.1:80",
			"/app/servers/web/2": "10.0.0.2:80",
			"/app/serversx":      "x",
			"/app/other":         "o=with=equals",
			"/app/servers/low":   "lower",
			"/empty":             "",
		}},
	}
	e := NewEnv(environ)
	defer e.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, index, err := e.GetValues(context.Background(), tt.keys)
			if err != nil {
				t.Fatal(err)
			}
			if index != 0 {
				t.Errorf("index = %d, want 0", index)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("GetValues(%q) = %v, want %v", tt.keys, got, tt.want)
			}
		})
	}
}

func TestEnvWatchBlocks(t *testing.T) {
	e := NewEnv([]string{"A=1"})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := e.WatchPrefix(ctx, "/", []string{"/a"}, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WatchPrefix = %v, want the context's deadline", err)
	}

	done := make(chan error, 1)
	go func() {
		_, err := e.WatchPrefix(context.Background(), "/", []string{"/a"}, 0)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	e.Close()
	select {
	case err := <-done:
		if !errors.Is(err, errClosedBackend) {
			t.Fatalf("WatchPrefix after Close = %v, want %v", err, errClosedBackend)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WatchPrefix did not return after Close")
	}
}

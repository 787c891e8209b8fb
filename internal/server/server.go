// Package server assembles a store member: the key space, its replication
// and the HTTP listeners for clients and peers.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"strings"
	"sync"
	"time"

	"hecd/internal/api"
	"hecd/internal/cluster"
	"hecd/internal/store"
)

// Server is a running member.
type Server struct {
	cfg       Config
	store     *store.Store
	node      *cluster.Node
	api       *api.Handler
	listeners []net.Listener
	servers   []*http.Server
	log       *slog.Logger
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// startTimeout bounds how long New waits for the member to become ready.
const startTimeout = 60 * time.Second

// New starts a member with cfg (Validate is called here). It returns once
// the member serves clients.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, store: store.New(), log: cfg.Logger.With("component", "server")}

	// Bind every listener first so that a busy port fails fast, before
	// anything is written to the data directory.
	for _, u := range cfg.ListenClientURLs {
		l, err := net.Listen("tcp", u.Host)
		if err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("listening for clients on %s: %w", u.String(), err)
		}
		s.listeners = append(s.listeners, l)
	}
	clientCount := len(s.listeners)
	for _, u := range cfg.ListenPeerURLs {
		l, err := net.Listen("tcp", u.Host)
		if err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("listening for peers on %s: %w", u.String(), err)
		}
		s.listeners = append(s.listeners, l)
	}

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	node, err := cluster.Open(ctx, cluster.Config{
		Name:              cfg.Name,
		DataDir:           cfg.DataDir,
		PeerURLs:          urlStrings(cfg.InitialAdvertisePeerURLs),
		ClientURLs:        urlStrings(cfg.AdvertiseClientURLs),
		Token:             cfg.InitialClusterToken,
		HeartbeatInterval: cfg.HeartbeatInterval,
		ElectionTimeout:   cfg.ElectionTimeout,
		SnapshotCount:     cfg.SnapshotCount,
		SegmentSize:       cfg.LogSegmentSize,
		Store:             s.store,
		Logger:            cfg.Logger,
	})
	if err != nil {
		s.closeListeners()
		return nil, err
	}
	s.node = node
	s.api = api.New(api.Config{
		Store:           s.store,
		Cluster:         &clusterAdapter{node: node},
		CORS:            cfg.CORS,
		MaxRequestBytes: cfg.MaxRequestBytes,
		Logger:          cfg.Logger,
	})
	var clientHandler http.Handler = s.api
	if cfg.EnablePprof {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		// Only /debug/pprof/ goes through the mux: ServeMux would clean
		// other paths itself, and the API answers those its own way.
		api := s.api
		clientHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/debug/pprof/") {
				mux.ServeHTTP(w, r)
				return
			}
			api.ServeHTTP(w, r)
		})
	}
	for i, l := range s.listeners {
		h := clientHandler
		if i >= clientCount {
			h = peerHandler()
		}
		hs := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug)}
		s.servers = append(s.servers, hs)
		s.wg.Add(1)
		go func(l net.Listener) {
			defer s.wg.Done()
			if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("serving stopped", "address", l.Addr().String(), "error", err)
			}
		}(l)
	}
	s.log.Info("serving", "name", cfg.Name, "clientURLs", urlStrings(cfg.ListenClientURLs), "dataDir", cfg.DataDir)
	return s, nil
}

// peerHandler answers on the peer port. Peer traffic itself comes with
// clustering; until then the port is held so that nothing else takes it.
func peerHandler() http.Handler {
	return http.NotFoundHandler()
}

// ClientAddrs are the bound client listener addresses (useful with port 0).
func (s *Server) ClientAddrs() []string {
	var out []string
	for i := range s.cfg.ListenClientURLs {
		out = append(out, s.listeners[i].Addr().String())
	}
	return out
}

func (s *Server) closeListeners() {
	for _, l := range s.listeners {
		l.Close()
	}
}

// Close stops serving and shuts the member down.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.api.Shutdown()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, hs := range s.servers {
			if e := hs.Shutdown(ctx); e != nil {
				hs.Close()
			}
		}
		s.wg.Wait()
		err = s.node.Close()
	})
	return err
}

func urlStrings(us []url.URL) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.String()
	}
	return out
}

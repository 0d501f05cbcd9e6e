package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/exporter-toolkit/web"
)

// Handler serves /metrics, the page at /, its data at /events (Server-Sent
// Events) and /api/state (JSON), /flamegraph.svg?script=NAME and
// /healthz.
func (s *Server) Handler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{s})
	gather := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		self, err := reg.Gather()
		maps, merr := s.gatherMaps()
		all := append(self, maps...)
		slices.SortFunc(all, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
		return all, errors.Join(err, merr)
	})
	mux := http.NewServeMux()
	// A map that cannot be read leaves its series out, not the scrape.
	mux.Handle("GET /metrics", promhttp.HandlerFor(gather, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /events", s.page.serveEvents)
	mux.HandleFunc("GET /api/state", func(w http.ResponseWriter, r *http.Request) {
		b, err := json.Marshal(s.state(time.Now()))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	})
	mux.HandleFunc("GET /flamegraph.svg", s.serveFlameGraph)
	mux.Handle("GET /", files())
	return mux
}

// Loopback reports whether addr (host:port) listens on the loopback
// interface only.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ListenAndServe serves Handler on addr until ctx ends. webConfig, when
// set, is a Prometheus exporter web configuration file (TLS, basic
// authentication), read as every Prometheus exporter reads it.
func (s *Server) ListenAndServe(ctx context.Context, addr, webConfig string) error {
	// Requests end with ctx, the page's open event streams included,
	// so that Shutdown does not wait for them.
	srv := &http.Server{Addr: addr, Handler: s.Handler(), BaseContext: func(net.Listener) context.Context { return ctx }}
	systemd := false
	flags := &web.FlagConfig{WebListenAddresses: &[]string{addr}, WebSystemdSocket: &systemd, WebConfigFile: &webConfig}
	logger := slog.New(slog.NewTextHandler(s.log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	served := make(chan error, 1)
	go func() { served <- web.ListenAndServe(srv, flags, logger) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve on %s: %w", addr, err)
	case <-ctx.Done():
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

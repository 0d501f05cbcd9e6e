package serve

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
)

// Handler serves /metrics, the page at /, its data at /events (Server-Sent
// Events) and /api/state (JSON), /flamegraph.svg?script=NAME and
// /healthz.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", s.serveMetrics)
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

// serveMetrics writes every family, in name order, gzipped when the
// scraper accepts gzip. A map that cannot be read leaves its series out,
// not the scrape; a scrape left with nothing says why.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	self, err := s.gatherSelf()
	maps, merr := s.gatherMaps()
	all := append(self, maps...)
	if err := errors.Join(err, merr); err != nil && len(all) == 0 {
		http.Error(w, "ebtrace: "+err.Error(), http.StatusInternalServerError)
		return
	}
	slices.SortFunc(all, func(a, b *family) int { return strings.Compare(a.name, b.name) })
	h := w.Header()
	h.Set("Content-Type", expositionType)
	h.Add("Vary", "Accept-Encoding")
	var out io.Writer = w
	if acceptsGzip(r.Header.Values("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		gz := gzip.NewWriter(w)
		defer gz.Close()
		out = gz
	}
	writeFamilies(out, all) // an error here is the scraper gone
}

// acceptsGzip reports whether Accept-Encoding values accept gzip: named
// with a weight above zero, or by "*".
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(item, ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			if coding != "gzip" && coding != "*" {
				continue
			}
			q, ok := strings.CutPrefix(strings.ReplaceAll(strings.TrimSpace(params), " ", ""), "q=")
			if !ok {
				return true
			}
			if w, err := strconv.ParseFloat(q, 64); err == nil && w > 0 {
				return true
			}
		}
	}
	return false
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

//go:build !cgo

// ebtrace serve needs Go's net package, which links libc (for its DNS
// resolver) when cgo is on: a build with cgo leaves serve out
// (serve_cgo.go), so that a plain go build still gives a static binary.

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"

	"github.com/ebtrace/ebtrace/serve"
)

// serveUsage is the help of ebtrace serve.
var serveUsage = sync.OnceValue(func() string {
	return usageText(`USAGE:
    ebtrace serve [options] SCRIPT.bt [SCRIPT.bt ...]

Runs every script continuously and serves what their maps hold: /metrics
for Prometheus (ebtrace_SCRIPT_MAP, map keys as labels), a live page at /
(tables, histograms, a latency heatmap, flame graphs, printf output) and
/healthz. Nothing it serves accepts a script or changes what runs.
`, serveFlags(&serveOptions{}), `SIGHUP reads and compiles the script files again; a script that fails to
compile leaves the running ones in place, and ebtrace says why. Ctrl-C or
SIGTERM stops: END runs, and nothing stays attached.

EXAMPLES:
    ebtrace serve syscalls.bt
    ebtrace serve --listen 0.0.0.0:9435 --web.config.file web.yml /etc/ebtrace/*.bt
`)
})

// serveOptions are the parsed arguments of ebtrace serve.
type serveOptions struct {
	scripts   []string
	listen    string
	webConfig string
	maxSeries int
	help      bool
}

// serveFlags is the flag table of ebtrace serve, storing into o.
func serveFlags(o *serveOptions) []flag {
	return []flag{
		{long: "listen", value: "ADDR", help: "listen on ADDR (host:port; default " + serve.DefaultAddr + ", loopback only)", set: listenAddr(&o.listen)},
		{long: "web.config.file", value: "FILE", help: "TLS and basic authentication, in the Prometheus exporters'\nweb configuration format", set: fileName(&o.webConfig)},
		{long: "max-series", value: "N", help: "export at most N series per map (default " + strconv.Itoa(serve.DefaultMaxSeries) + ");\nthe rest are counted in ebtrace_series_dropped_total", set: positive(&o.maxSeries)},
		{short: 'h', long: "help", help: "show this help", on: &o.help},
	}
}

// listenAddr stores a host:port address.
func listenAddr(p *string) func(string) error {
	return func(v string) error {
		if _, _, err := net.SplitHostPort(v); err != nil {
			return errors.New("want HOST:PORT, such as 127.0.0.1:9435 or :9435")
		}
		*p = v
		return nil
	}
}

// positive stores a positive integer.
func positive(p *int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return errors.New("want a positive integer")
		}
		*p = n
		return nil
	}
}

// parseServeArgs reads the command line of ebtrace serve.
func parseServeArgs(args []string) (*serveOptions, error) {
	o := &serveOptions{listen: serve.DefaultAddr}
	positional, err := parseFlags(serveFlags(o), args)
	if err != nil {
		return nil, err
	}
	if !o.help && len(positional) == 0 {
		return nil, errors.New("serve: name the script files to run (SCRIPT.bt)")
	}
	o.scripts = positional
	return o, nil
}

// runServe is `ebtrace serve`; it returns the exit status.
func runServe(args []string, stdout, stderr io.Writer) int {
	o, err := parseServeArgs(args)
	if err != nil {
		return badUsage(stderr, "ebtrace serve", err)
	}
	if o.help {
		io.WriteString(stdout, serveUsage())
		return 0
	}
	srv, err := serve.New(serve.Options{Scripts: o.scripts, MaxSeries: o.maxSeries, Getenv: os.Getenv, Log: stderr})
	if err != nil {
		return fail(stderr, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := srv.Start(ctx); err != nil {
		return fail(stderr, err)
	}
	defer srv.Close()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			if err := srv.Reload(); err != nil {
				fmt.Fprintln(stderr, "ebtrace serve: reload failed; the running scripts go on:")
				fail(stderr, err)
				continue
			}
			fmt.Fprintf(stderr, "ebtrace serve: reloaded %s\n", count(len(o.scripts), "script"))
		}
	}()
	scheme := "http"
	if o.webConfig != "" {
		scheme = "http(s), as " + o.webConfig + " says,"
	}
	fmt.Fprintf(stderr, "Serving %s at %s://%s/ (metrics at /metrics); Ctrl-C to stop\n", count(len(o.scripts), "script"), scheme, o.listen)
	if !serve.Loopback(o.listen) {
		fmt.Fprintf(stderr, "ebtrace serve: WARNING: %s is reachable beyond this machine's loopback interface; anyone who can reach it reads the maps (--web.config.file adds TLS and basic authentication)\n", o.listen)
	}
	if err := srv.ListenAndServe(ctx, o.listen, o.webConfig); err != nil {
		return fail(stderr, err)
	}
	return 0
}

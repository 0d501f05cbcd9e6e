// Package serve runs bpftrace-language scripts continuously and serves what
// their maps hold: /metrics in the Prometheus exposition format, a live web
// page at /, and /healthz. It is built on package ebtrace alone, as any
// program embedding ebtrace could build it; `ebtrace serve` is its command.
//
// No endpoint accepts a script or changes what runs: the scripts are the
// files named when the server was made, read again by Reload.
package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ebtrace/ebtrace"
)

// DefaultMaxSeries is how many series one map may export when
// Options.MaxSeries is 0.
const DefaultMaxSeries = 10000

// DefaultAddr is where ListenAndServe listens when given no address: the
// loopback interface only, so that nothing is exposed by default.
const DefaultAddr = "127.0.0.1:9435"

// Options are how a Server runs its scripts.
type Options struct {
	// Scripts are the paths of the script files to run.
	Scripts []string
	// MaxSeries caps the series one map exports; what it leaves out is
	// counted in ebtrace_series_dropped_total. 0 means DefaultMaxSeries.
	MaxSeries int
	// Getenv looks up config settings as the command line does
	// (os.Getenv); nil reads none.
	Getenv func(string) string
	// Log hears what the server says to a person: warnings, reloads, a
	// script that ended. Nil discards it.
	Log io.Writer
	// OutputLines is how many lines of each script's printf output the
	// page keeps; 0 means 200.
	OutputLines int
}

// Server runs scripts and serves their maps. Its methods may be called
// from any goroutine.
type Server struct {
	opts  Options
	log   io.Writer
	stats bool // the kernel's BPF statistics can be had

	mu      sync.RWMutex
	ctx     context.Context // the scripts' context, once Start was called
	scripts []*script

	page *page
}

// New compiles every script of opts, loading nothing. A script that does
// not compile is an error naming it (an *ebtrace.CompileError for the
// script's own mistakes).
func New(opts Options) (*Server, error) {
	if len(opts.Scripts) == 0 {
		return nil, errors.New("serve: name at least one script file")
	}
	if opts.MaxSeries <= 0 {
		opts.MaxSeries = DefaultMaxSeries
	}
	if opts.OutputLines <= 0 {
		opts.OutputLines = 200
	}
	s := &Server{opts: opts, log: opts.Log}
	if s.log == nil {
		s.log = io.Discard
	}
	// The probes' cost is worth showing, not worth refusing to run for.
	if err := ebtrace.StatsAvailable(); err != nil {
		fmt.Fprintf(s.log, "ebtrace serve: no per-probe statistics (ebtrace_probe_runs_total, ebtrace_probe_run_seconds_total): %v\n", err)
	} else {
		s.stats = true
	}
	scripts, err := s.compile()
	if err != nil {
		return nil, err
	}
	s.scripts = scripts
	s.page = newPage(s)
	return s, nil
}

// compile compiles every script file anew, each named after its file.
func (s *Server) compile() ([]*script, error) {
	var out []*script
	taken := map[string]int{}
	for _, path := range s.opts.Scripts {
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		name := metricName(strings.TrimSuffix(filepath.Base(path), ".bt"))
		// Two files of one name (a/x.bt, b/x.bt) get x and x_2.
		taken[name]++
		if n := taken[name]; n > 1 {
			name = fmt.Sprintf("%s_%d", name, n)
		}
		// The event channel takes bursts of tens of thousands of printf
		// events while scrapes hold the CPUs (a 4096-event one lost half
		// of 10,000-event bursts under 20 scrapers on 2 cores).
		compiled, err := ebtrace.Compile(path, string(src), ebtrace.Options{
			Getenv: s.opts.Getenv, HelperErrors: true, Stats: s.stats, Log: s.log, EventBuffer: 1 << 16,
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, newScript(name, path, compiled, s.opts.OutputLines))
	}
	return out, nil
}

// Start starts every script; ctx ends them, as Close does.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ctx = ctx
	for i, sc := range s.scripts {
		if err := sc.start(ctx, s.log); err != nil {
			for _, started := range s.scripts[:i] {
				started.stop()
			}
			return fmt.Errorf("%s: %w", sc.path, err)
		}
	}
	go s.page.run(ctx)
	return nil
}

// Reload reads and compiles every script file again and, when all
// compile and pass the verifier, replaces the running scripts with them
// (their maps start empty). When one fails, the running scripts go on as
// they were and Reload says why.
func (s *Server) Reload() error {
	fresh, err := s.compile()
	if err != nil {
		return err
	}
	for _, sc := range fresh {
		if _, err := sc.compiled.Verify(); err != nil {
			return fmt.Errorf("%s: %w", sc.path, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil {
		s.scripts = fresh
		return nil
	}
	// The old scripts stop first: the same probes attached twice would
	// count every event twice for a moment.
	old := s.scripts
	for _, sc := range old {
		sc.stop()
	}
	for i, sc := range fresh {
		if err := sc.start(s.ctx, s.log); err != nil {
			for _, started := range fresh[:i] {
				started.stop()
			}
			// Put the old ones back: they compiled and ran before.
			for _, sc := range old {
				sc.restart(s.ctx, s.log)
			}
			return fmt.Errorf("%s: %w", sc.path, err)
		}
	}
	s.scripts = fresh
	return nil
}

// Close stops every script: END runs, and everything is detached.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, sc := range s.scripts {
		errs = append(errs, sc.stop())
	}
	return errors.Join(errs...)
}

// current returns the running scripts.
func (s *Server) current() []*script {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.scripts
}

// script is one script file and its running session.
type script struct {
	name, path string
	compiled   *ebtrace.Script

	mu           sync.Mutex
	sess         *ebtrace.Session
	cancel       context.CancelFunc
	ended        bool // the script exited by itself (exit())
	helperErrors uint64
	output       *ring
	// warned holds the maps already warned about, so that a warning is
	// said once.
	warned        map[string]bool
	seriesDropped map[string]uint64
	history       *histories
	// histNames are the histograms' names, once histKnown.
	histNames []string
	histKnown bool
}

func newScript(name, path string, compiled *ebtrace.Script, lines int) *script {
	return &script{
		name: name, path: path, compiled: compiled, output: newRing(lines),
		warned: map[string]bool{}, seriesDropped: map[string]uint64{}, history: newHistories(historyLength),
	}
}

// start runs the script, reading its events until it ends.
func (sc *script) start(ctx context.Context, log io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	sess, err := sc.compiled.Start(ctx)
	if err != nil {
		cancel()
		return err
	}
	sc.mu.Lock()
	sc.sess, sc.cancel, sc.ended = sess, cancel, false
	sc.mu.Unlock()
	go sc.read(sess, log)
	return nil
}

// restart starts the script again after a failed reload, saying so when
// even that fails.
func (sc *script) restart(ctx context.Context, log io.Writer) {
	if err := sc.start(ctx, log); err != nil {
		fmt.Fprintf(log, "ebtrace serve: %s: %v\n", sc.path, err)
	}
}

// read keeps the script's printf output and counts its helper errors.
func (sc *script) read(sess *ebtrace.Session, log io.Writer) {
	for ev := range sess.Events() {
		switch ev := ev.(type) {
		case ebtrace.Printf:
			sc.output.add(strings.TrimSuffix(ev.Text, "\n"))
		case ebtrace.Warning:
			sc.output.add(ev.Text)
			fmt.Fprintf(log, "ebtrace serve: %s: %s\n", sc.path, ev.Text)
		case ebtrace.HelperError:
			sc.mu.Lock()
			sc.helperErrors++
			sc.mu.Unlock()
		case ebtrace.Exit:
			if ev.Reason == ebtrace.ExitScript {
				sc.mu.Lock()
				sc.ended = true
				sc.mu.Unlock()
				fmt.Fprintf(log, "ebtrace serve: %s called exit(); its maps are served as they were\n", sc.path)
			}
		}
	}
}

// stop ends the script and waits until everything is detached.
func (sc *script) stop() error {
	sc.mu.Lock()
	sess, cancel := sc.sess, sc.cancel
	sc.mu.Unlock()
	if sess == nil {
		return nil
	}
	cancel()
	return sess.Wait()
}

// session returns the script's session; nil before it started.
func (sc *script) session() *ebtrace.Session {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.sess
}

// warnOnce says msg about map name the first time only.
func (sc *script) warnOnce(log io.Writer, name, msg string) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.warned[name] {
		return
	}
	sc.warned[name] = true
	fmt.Fprintf(log, "ebtrace serve: %s: %s\n", sc.path, msg)
}

// ring keeps the last lines of a script's output.
type ring struct {
	mu    sync.Mutex
	lines []string
	next  int
	full  bool
	total uint64 // lines ever added
}

func newRing(n int) *ring { return &ring{lines: make([]string, n)} }

func (r *ring) add(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines[r.next] = line
	r.next = (r.next + 1) % len(r.lines)
	r.full = r.full || r.next == 0
	r.total++
}

// snapshot returns the kept lines, oldest first, and how many lines were
// ever added.
func (r *ring) snapshot() ([]string, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.full {
		return append([]string(nil), r.lines[:r.next]...), r.total
	}
	return append(append([]string(nil), r.lines[r.next:]...), r.lines[:r.next]...), r.total
}

var notMetricChars = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^a-zA-Z0-9_]+`) })

// metricName makes s a valid part of a metric or label name: runs of other
// characters become one underscore, and a leading digit gets one before
// it.
func metricName(s string) string {
	s = strings.Trim(notMetricChars().ReplaceAllString(s, "_"), "_")
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		s = "_" + s
	}
	return s
}

// historyLength is how many seconds of each histogram the page keeps, for
// its heatmap.
const historyLength = 120

// tick is how often the page's data is read.
const tick = time.Second

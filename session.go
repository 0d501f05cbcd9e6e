package ebtrace

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/flame"
	"github.com/ebtrace/ebtrace/internal/ftfilter"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/load"
	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/replay"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/tracer"
)

// Session is one run of a script: its programs loaded and attached, its
// output flowing, its maps readable. Its methods may be called from any
// goroutine.
type Session struct {
	script *Script
	obj    *load.Object
	tr     *tracer.Session
	// snapshots reads the maps for Map and Maps, stacks as frames.
	snapshots *tracer.Maps
	ev        *events
	cmd       *command
	pid       *processWatch // of Options.PID; nil without one
	warn      *warnings     // the tracer's warnings, sent as Warning events

	stop     chan struct{} // closed to end tracing
	stopOnce sync.Once
	reason   ExitReason    // why stop was closed
	traced   chan struct{} // closed once tracing has ended
	done     chan struct{} // closed once everything is released
	err      error
	exitCode int

	// mu keeps the maps open while they are read; once they are closed,
	// final holds them as they were at exit, by name.
	mu          sync.RWMutex
	final       map[string]MapSnapshot
	samples     []flame.Sample // the stack maps' at exit
	finalLosses Losses
	finalProbes []ProbeStats
	stats       io.Closer    // holds the kernel's BPF statistics on, with Options.Stats
	live        *replay.Live // the user-space engine's events, with EngineUser
	warnOut     io.Writer    // where the tracer's warnings go
	timing      sessionTiming
}

// Start loads the script's programs through the verifier, runs its BEGIN
// probes, attaches its probes and returns the running session. A program
// the verifier refuses is a *CompileError. Cancelling ctx ends the
// session: the probes stop, END runs, the maps are read a last time and
// everything is detached and released; Wait waits for that.
//
// Each call loads the programs anew, as a session of its own.
func (s *Script) Start(ctx context.Context) (_ *Session, err error) {
	defer func() { err = publicError(err) }()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sess := &Session{
		script: s,
		stop:   make(chan struct{}), traced: make(chan struct{}), done: make(chan struct{}),
		timing: sessionTiming{start: time.Now()},
	}
	ok := false
	defer func() {
		if !ok {
			sess.release()
		}
	}()
	if s.opts.PID > 0 {
		pw, err := watchProcess(s.opts.PID)
		if err != nil {
			return nil, err
		}
		sess.pid = pw
	}
	cfg := load.Config{StartNs: kernel.MonotonicNow(), TAIOffset: kernel.TAIOffset()}
	if len(s.opts.Command) > 0 {
		cmd, err := startCommand(s.opts.Command)
		if err != nil {
			return nil, err
		}
		sess.cmd = cmd
		cfg.Cpid = uint32(cmd.pid())
	}
	backend, err := sess.load(cfg)
	if err != nil {
		return nil, err
	}
	size := s.opts.EventBuffer
	if size <= 0 {
		size = DefaultEventBuffer
	}
	sess.ev = newEvents(size)
	sess.warn = &warnings{ev: sess.ev}
	var out output.Writer = writer{ev: sess.ev, script: s}
	var warn io.Writer = sess.warn
	if s.opts.Output != nil {
		out, warn = s.opts.newWriter(s.opts.Output), cmp.Or(s.opts.Log, io.Discard)
	}
	sess.warnOut = warn
	tr, err := tracer.New(backend, out, warn)
	if err != nil {
		return nil, err
	}
	if s.opts.Output != nil && !s.opts.Quiet {
		sess.announce(out)
	}
	if s.timing != nil && s.opts.Log != nil {
		s.timing.write(s.opts.Log, sess.timing)
	}
	// Events carry stacks as frames; Output prints them as text.
	tr.Maps().Frames = s.opts.Output == nil
	sess.tr = tr
	sess.snapshots = tr.Maps().WithFrames()
	// Read the traced processes' mappings now, so that their stacks
	// resolve even if they exit before run gets going.
	if s.opts.PID > 0 {
		tr.Watch(s.opts.PID)
	}
	ok = true
	go sess.run(ctx)
	return sess, nil
}

// benchTime is how long ModeBench runs each bench probe.
const benchTime = 200 * time.Millisecond

// newWriter returns the writer of Format and Compat's layout on w.
func (o *Options) newWriter(w io.Writer) output.Writer {
	switch {
	case o.Format == FormatJSON:
		return output.NewJSON(w)
	case o.Compat == "0.17":
		return output.NewLegacyText(w)
	}
	return output.NewText(w)
}

// announce says how many probes run, as the command line does: BEGIN
// and END count, as in bpftrace, and test and bench probes only in their
// modes.
func (s *Session) announce(out output.Writer) {
	n := 0
	for _, p := range s.script.res.Programs {
		switch kind := p.Instance.Instance.Kind(); kind {
		case probe.Test, probe.Bench:
			if modeKinds[s.script.opts.Mode] == kind {
				n++
			}
		default:
			if s.script.opts.Mode == ModeTrace || kind == probe.Begin || kind == probe.End {
				n += p.Probes()
			}
		}
	}
	if s.script.opts.Format == FormatJSON {
		out.Attached(n)
	} else if s.script.opts.Log != nil {
		fmt.Fprintf(s.script.opts.Log, "Attached %s\n", source.Count(n, "probe"))
	}
}

// load loads the programs where Options.Engine says, runs BEGIN and
// attaches the event probes, and returns what the tracer reads.
func (s *Session) load(cfg load.Config) (tracer.Backend, error) {
	opts := s.script.opts
	if opts.Engine == EngineUser {
		res, err := s.script.userResult()
		if err != nil {
			return nil, err
		}
		return s.loadUser(res, cfg)
	}
	backend, err := s.loadKernel(cfg)
	// Only a failure asks whether bpf(2) is refused, which costs a map:
	// where it is and tracefs can be read, the script falls back to the
	// user-space engine; elsewhere the kernel path says what is missing.
	if err == nil || opts.Engine != "" || !tracefsReadable() {
		return backend, err
	}
	refused := bpfRefused()
	if refused == nil {
		return nil, err
	}
	res, rerr := s.script.userResult()
	if rerr != nil {
		return nil, rerr
	}
	if err := replay.Runnable(res); err != nil {
		return nil, fmt.Errorf("bpf(2) is refused here (%v), and %w", refused, err)
	}
	fmt.Fprintf(cmp.Or(opts.Log, io.Discard), "ebtrace: bpf(2) is refused here (%v): the script runs in ebtrace's user-space engine, on trace events read through tracefs\n", refused)
	return s.loadUser(res, cfg)
}

// loadKernel loads the programs into the kernel, runs BEGIN and attaches
// the event probes.
func (s *Session) loadKernel(cfg load.Config) (tracer.Backend, error) {
	opts := s.script.opts
	if opts.Stats {
		var err error
		if s.stats, err = enableStats(); err != nil {
			return nil, err
		}
	}
	obj, err := load.Load(s.script.res, cfg)
	if err != nil {
		return nil, err
	}
	s.obj = obj
	s.timing.loaded = time.Now()
	// BEGIN runs before any event probe can fire, as on the command line;
	// its events wait in the ring buffer for the reader made below.
	if err := obj.Run(probe.Begin); err != nil {
		return nil, err
	}
	// Test and bench probes run only in their modes, in place of the
	// event probes.
	if opts.Mode == ModeTrace {
		if err := obj.Attach(); err != nil {
			return nil, err
		}
	}
	s.timing.attached = time.Now()
	return tracer.Kernel(obj), nil
}

// loadUser starts res, the script compiled for the user-space engine
// (Script.userResult), on the events of a private tracefs instance, each
// probe's predicate as its event's ftrace filter where it translates: the
// engine still checks the predicate, and the kernel keeps back the events
// it would drop.
func (s *Session) loadUser(res *compile.Result, cfg load.Config) (tracer.Backend, error) {
	live, err := replay.OpenLive(res, ftraceFilters(res))
	if err != nil {
		return nil, err
	}
	s.live = live
	s.timing.loaded = time.Now()
	b, err := replay.NewBackend(res, live, cfg.Cpid)
	if err != nil {
		return nil, err
	}
	if err := b.Run(probe.Begin); err != nil {
		return nil, err
	}
	s.timing.attached = time.Now()
	return b, nil
}

// tracefsReadable reports whether this process can read tracefs's events.
func tracefsReadable() bool {
	root, _, err := kernel.Tracefs()
	if err != nil {
		return false
	}
	_, err = os.ReadDir(filepath.Join(root, "events"))
	return err == nil
}

// bpfRefused tells why bpf(2) cannot be used here, if it cannot: a
// seccomp profile or a kernel without it refuses even a one-element map,
// with EPERM, EACCES or ENOSYS.
func bpfRefused() error {
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err == nil {
		m.Close()
		return nil
	}
	for _, errno := range []unix.Errno{unix.EPERM, unix.ENOSYS, unix.EACCES} {
		if errors.Is(err, errno) {
			return errno
		}
	}
	return nil
}

// Events returns the channel that delivers the session's output, in the
// order it was produced, ending with one Exit event; it is closed after
// that. The channel has Options.EventBuffer room (DefaultEventBuffer when
// 0), and the session never waits for its reader: an event that finds it
// full is dropped, and Dropped counts it. A reader that falls behind loses
// events; one that never reads costs nothing.
func (s *Session) Events() <-chan Event { return s.ev.ch }

// Dropped counts the events Events could not deliver because its channel
// was full.
func (s *Session) Dropped() uint64 { return s.ev.dropped.Load() }

// Wait blocks until the session has ended, because a probe called exit(),
// Options.Command or the Options.PID process ended, or the context was
// cancelled, and everything it held is released: its programs stopped at
// once, and the kernel detaches its tracepoints in a short-lived copy of
// this program that holds them (see README, How it works), without making
// Wait wait for that. It returns what made tracing fail, if anything.
func (s *Session) Wait() error {
	<-s.done
	return s.err
}

// ExitCode is the code a probe's exit(CODE) asked for: 0 unless one did.
// Like Wait, it waits until the session has ended.
func (s *Session) ExitCode() int {
	<-s.done
	return s.exitCode
}

// Map returns a snapshot of the map name ("@calls" or "calls"; "@" for the
// anonymous map), read now from the kernel while tracing goes on; after
// the session ended, as it was at exit.
func (s *Session) Map(name string) (MapSnapshot, error) {
	name = "@" + strings.TrimPrefix(name, "@")
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.final != nil {
		m, ok := s.final[name]
		if !ok {
			return MapSnapshot{}, s.noMap(name)
		}
		return m, nil
	}
	pm := s.script.res.Plan.Map(strings.TrimPrefix(name, "@"))
	if pm == nil {
		return MapSnapshot{}, s.noMap(name)
	}
	m, err := s.snapshots.Read(pm)
	if err != nil {
		return MapSnapshot{}, err
	}
	return s.script.snapshot(m), nil
}

// Maps returns snapshots of every map, sorted by name, as Map does.
func (s *Session) Maps() ([]MapSnapshot, error) {
	var out []MapSnapshot
	for _, pm := range s.script.res.Plan.Maps {
		m, err := s.Map(pm.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b MapSnapshot) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

func (s *Session) noMap(name string) error {
	var names []string
	for _, pm := range s.script.res.Plan.Maps {
		names = append(names, "@"+pm.Name)
	}
	slices.Sort(names)
	if len(names) == 0 {
		return fmt.Errorf("no map %s: the script has none", name)
	}
	return fmt.Errorf("no map %s: the script's maps are %s", name, strings.Join(names, ", "))
}

// end closes stop, recording why, once.
func (s *Session) end(reason ExitReason) {
	s.stopOnce.Do(func() {
		s.reason = reason
		close(s.stop)
	})
}

// run traces until the session ends, then releases everything.
func (s *Session) run(ctx context.Context) {
	go func() {
		select {
		case <-ctx.Done():
			s.end(ExitCancelled)
		case <-s.traced:
		}
	}()
	err := s.watch()
	failedTests := 0
	if err == nil {
		switch s.script.opts.Mode {
		case ModeTest:
			failedTests, err = s.tr.Test(s.script.opts.newWriter)
		case ModeBench:
			err = s.tr.Bench(benchTime)
		default:
			err = s.tr.Loop(s.stop)
		}
	}
	reason := ExitFailed
	switch {
	case err != nil:
	case s.script.opts.Mode != ModeTrace:
		reason = ExitDone
	case s.tr.Exited():
		reason = ExitScript
	default:
		<-s.stop
		reason = s.reason
	}
	close(s.traced)
	if ferr := s.tr.Finish(); err == nil {
		err = ferr
	}
	final, ferr := s.readAll()
	if err == nil {
		err = ferr
	}
	var samples []flame.Sample
	if len(tracer.StackMaps(s.script.res.Plan)) > 0 {
		samples, ferr = s.tr.Samples()
		if err == nil {
			err = ferr
		}
	}
	losses, ferr := s.losses()
	if err == nil {
		err = ferr
	}
	probes, ferr := s.probes()
	if err == nil {
		err = ferr
	}
	s.mu.Lock()
	s.final, s.samples, s.finalLosses, s.finalProbes = final, samples, losses, probes
	s.mu.Unlock()
	if rerr := s.release(); err == nil {
		err = rerr
	}
	if err != nil {
		reason = ExitFailed
	}
	s.err, s.exitCode = err, s.tr.ExitCode()
	if failedTests > 0 {
		s.exitCode = max(s.exitCode, 1)
	}
	s.warn.flush()
	s.ev.send(Exit{Code: s.exitCode, Reason: reason})
	s.ev.close()
	close(s.done)
}

// watch releases the command, when there is one, and ends the session
// when it exits or the Options.PID process does, reading their memory
// mappings meanwhile so that their user stacks resolve after they exit.
func (s *Session) watch() error {
	if s.cmd != nil {
		if err := s.cmd.release(); err != nil {
			return err
		}
		go func() {
			select {
			case <-s.cmd.done:
				s.end(ExitCommand)
			case <-s.traced:
			}
		}()
		go func() {
			// Before its exec the command's process maps this program.
			<-s.cmd.execed
			s.tr.Follow(s.cmd.pid(), s.traced)
		}()
	}
	if s.pid != nil {
		go func() {
			select {
			case <-s.pid.Exited():
				s.end(ExitProcess)
			case <-s.traced:
			}
		}()
		go s.tr.Follow(s.script.opts.PID, s.traced)
	}
	return nil
}

// readAll reads every map as tracing ends, by name.
func (s *Session) readAll() (map[string]MapSnapshot, error) {
	final := map[string]MapSnapshot{}
	for _, pm := range s.script.res.Plan.Maps {
		m, err := s.snapshots.Read(pm)
		if err != nil {
			return final, err
		}
		final[m.Name] = s.script.snapshot(m)
	}
	return final, nil
}

// release detaches and closes what the session holds and ends its
// command.
func (s *Session) release() error {
	var err error
	if s.obj != nil {
		s.mu.Lock()
		held := handOff()
		err = s.obj.Close()
		held.release()
		s.mu.Unlock()
	}
	if s.stats != nil {
		s.stats.Close()
	}
	if s.live != nil {
		if lerr := s.live.Close(); err == nil {
			err = lerr
		}
		if n := s.live.Lost(); n > 0 && s.warnOut != nil {
			fmt.Fprintf(s.warnOut, "WARNING: %d events were lost before they reached the user-space engine\n", n)
		}
	}
	if s.cmd != nil {
		s.cmd.kill()
	}
	if s.pid != nil {
		s.pid.Close()
	}
	return err
}

// ftraceFilters translates each tracepoint probe's predicate into its
// event's ftrace filter, where it can be, so that the kernel drops the
// events the user-space engine would; an event that two probes share
// keeps what either keeps.
func ftraceFilters(res *compile.Result) map[kernel.Tracepoint]string {
	filters := map[kernel.Tracepoint]string{}
	unfiltered := map[kernel.Tracepoint]bool{}
	for _, p := range res.Programs {
		tp, ok := p.Instance.Instance.(interface{ Format() *kernel.Format })
		if !ok {
			continue
		}
		f := tp.Format()
		filter := ""
		if pred := p.Instance.Probe.Pred; pred != nil {
			filter, _ = ftfilter.Translate(pred, f)
		}
		switch {
		case unfiltered[f.Tracepoint]:
		case filter == "":
			unfiltered[f.Tracepoint] = true
			delete(filters, f.Tracepoint)
		case filters[f.Tracepoint] != "":
			filters[f.Tracepoint] = "(" + filters[f.Tracepoint] + ") || (" + filter + ")"
		default:
			filters[f.Tracepoint] = filter
		}
	}
	return filters
}

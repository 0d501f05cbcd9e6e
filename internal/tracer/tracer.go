// Package tracer owns a running script's user-space side: it reads event
// records from the ring buffer and acts on them (printf, exit, print,
// heatmap, clear, zero), and at the end detaches the probes, runs END, drains what is left
// and prints every map and the counts of anything lost. It renders stacks
// and symbols, reading each traced process's mappings as soon as its
// addresses appear, and turns stack maps into flame graph samples.
//
// It runs on a Backend, which runs the programs and holds their maps and
// event stream: the kernel (Kernel), or an engine running the same
// programs in user space.
//
// The programs wake the reader only when a quarter of the ring is queued,
// so the loop also polls on a short timer: a quiet trace still prints
// promptly and a busy one costs no wakeup per event.
package tracer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/types"
)

// PollInterval bounds how long a queued event waits for the reader.
const PollInterval = 10 * time.Millisecond

// Session is one run of a loaded script.
type Session struct {
	b      Backend
	plan   *plan.Plan
	out    output.Writer
	warn   io.Writer
	reader EventReader
	maps   *Maps
	sym    *symbolizer
	exited bool
	// exitCode is what exit(CODE) asked ebtrace to exit with.
	exitCode int
	// errors counts errorf() calls, which fail a test probe.
	errors int
	// signals receives the signals self probes run on; nil without any.
	signals chan os.Signal
	// benched is set once Bench has reported, so End writes its table.
	benched bool
	// benchLost counts the events the bench probes' runs could not queue,
	// which Finish does not report as lost.
	benchLost uint64
}

// New prepares a session of the script b runs, writing results to out and
// warnings to warn.
func New(b Backend, out output.Writer, warn io.Writer) (*Session, error) {
	rd, err := b.Events()
	if err != nil {
		return nil, fmt.Errorf("open event ring buffer: %w", err)
	}
	maps := NewMaps(b)
	s := &Session{
		b: b, plan: b.Result().Plan, out: out, warn: warn, reader: rd,
		maps: maps, sym: maps.sym,
	}
	s.watchSignals()
	return s, nil
}

// ExitCode is the exit status a probe's exit(CODE) asked for: 0 unless
// one did.
func (s *Session) ExitCode() int { return s.exitCode }

// Exited reports whether a probe has called exit().
func (s *Session) Exited() bool { return s.exited }

// Maps returns the reader of the session's maps, which print() and the
// maps printed at exit go through.
func (s *Session) Maps() *Maps { return s.maps }

// Watch reads process pid's memory mappings now, so that its user
// addresses (ustack, usym) still resolve when the maps are printed after
// it has exited. It reports whether the mappings hold the process's
// program: just after an exec they may not yet.
func (s *Session) Watch(pid int) bool { return s.sym.Watch(pid) }

// Follow keeps re-reading the memory mappings of the traced process pid
// until done is closed, so that its user stacks and symbols resolve when
// the maps are printed after it has exited, libraries it loaded late
// included. It reads every millisecond until the mappings hold the
// program (an exec has mapped it), since a short command may be done soon
// after, then less and less often as the process lives on.
func (s *Session) Follow(pid int, done <-chan struct{}) {
	wait := time.Millisecond
	for {
		mapped := s.Watch(pid)
		select {
		case <-done:
			return
		case <-time.After(wait):
		}
		if mapped {
			wait = min(2*wait, 100*time.Millisecond)
		}
	}
}

// Loop handles events until a probe calls exit() or stop is closed.
func (s *Session) Loop(stop <-chan struct{}) error {
	done := make(chan struct{})
	followed := make(chan struct{})
	// The follower reads the maps and the symbolizer, which the caller may
	// replace (Reload) or close once Loop returns: it ends first.
	defer func() {
		close(done)
		<-followed
	}()
	go func() {
		defer close(followed)
		s.followProcesses(done)
	}()
	for !s.exited {
		select {
		case <-stop:
			return nil
		case sig := <-s.signals:
			if err := s.onSignal(sig); err != nil {
				return err
			}
		default:
		}
		s.reader.SetDeadline(time.Now().Add(PollInterval))
		rec, err := s.reader.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// The ring is empty: show what was written so far.
			if err := s.out.Flush(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if err := s.handle(rec); err != nil {
			return err
		}
	}
	return nil
}

// drain handles every record already queued.
func (s *Session) drain() error { return s.readQueued(s.handle) }

// Drain handles every record already queued, outside Loop: ebtrace shell
// shows what a statement printed before its next prompt.
func (s *Session) Drain() error {
	if err := s.drain(); err != nil {
		return err
	}
	return s.out.Flush()
}

// Close releases the ring buffer's reader without finishing: ebtrace shell
// drops its tracer when the last probe of a session is detached.
func (s *Session) Close() error { return s.reader.Close() }

// Reload makes b the session's backend: ebtrace shell loads each probe
// typed on the maps of the probes before it, and reads the maps, numbers
// the events and runs END through the newest compilation of the whole
// session. b must share the event stream of the backend the session
// began with, and its plan must number the events of the programs still
// running as before. Not to be called while Loop runs.
func (s *Session) Reload(b Backend) {
	s.b, s.plan = b, b.Result().Plan
	s.maps = NewMaps(b)
	s.sym = s.maps.sym
}

// discard drops every record already queued: after exit(), the events
// probes sent while tracing was stopping are not the script's output, as
// bpftrace prints none of them either.
func (s *Session) discard() error { return s.readQueued(func([]byte) error { return nil }) }

// readQueued passes every record already queued to handle.
func (s *Session) readQueued(handle func([]byte) error) error {
	s.reader.SetDeadline(time.Now())
	for {
		rec, err := s.reader.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := handle(rec); err != nil {
			return err
		}
	}
}

func (s *Session) handle(raw []byte) error {
	if len(raw) < plan.EventHeader {
		return fmt.Errorf("short event record (%d bytes)", len(raw))
	}
	id := int(binary.LittleEndian.Uint64(raw))
	if id >= len(s.plan.Events) {
		return fmt.Errorf("event record with unknown id %d", id)
	}
	ev := s.plan.Events[id]
	if len(raw) < ev.Size {
		return fmt.Errorf("event record %d of %d bytes, want %d", id, len(raw), ev.Size)
	}
	switch ev.Kind {
	case plan.Printf:
		s.out.Printf(s.formatted(ev, raw))
	case plan.Join:
		s.out.Join(joined(raw, ev))
	case plan.PrintValue:
		s.out.Value(s.sym.value(raw[ev.Args[0].Offset:], ev.Args[0].Type, printfIndent, false))
	case plan.Exit:
		// Events queued before tracing stopped may exit again: the
		// first exit's code stands.
		if len(ev.Args) == 1 && !s.exited {
			s.exitCode = int(int64(binary.LittleEndian.Uint64(raw[ev.Args[0].Offset:])))
		}
		s.exited = true
	case plan.Print:
		m, err := s.maps.Read(s.plan.Map(ev.Map))
		if err != nil {
			return err
		}
		s.out.Print(output.Limit(m, ev.Top, ev.Div))
	case plan.Heatmap:
		m, err := s.maps.Read(s.plan.Map(ev.Map))
		if err != nil {
			return err
		}
		s.out.Heatmap(m, ev.Text)
	case plan.Clear:
		return s.maps.Clear(s.plan.Map(ev.Map))
	case plan.Zero:
		return s.maps.Zero(s.plan.Map(ev.Map))
	default:
		return s.handleSys(ev, raw)
	}
	return nil
}

// decode reads one record part: integers as int64 (uint64 when unsigned),
// strings up to their first NUL, buffers and times as the text they print.
func decode(b []byte, t types.Type) any {
	switch t.Kind {
	case types.Buf:
		return escapeBuffer(b, t)
	case types.Time:
		return formatTime(b, t)
	case types.Array:
		return decodeArray(b, t)
	}
	if t.Kind == types.Str {
		n := 0
		for n < len(b) && n < t.Size && b[n] != 0 {
			n++
		}
		return string(b[:n])
	}
	v := binary.LittleEndian.Uint64(b)
	switch {
	case t.Kind == types.Bool:
		return v != 0
	case t.Kind == types.Ptr:
		return output.Pointer(v)
	case t.Kind == types.Int && !t.Signed:
		return v
	}
	return int64(v)
}

// lost reads how many events the ring buffer has refused so far.
func (s *Session) lost() (uint64, error) {
	stats, err := s.maps.Stats()
	if err != nil {
		return 0, err
	}
	return stats[plan.StatLost], nil
}

// printMaps prints every map, as tracing ends.
func (s *Session) printMaps() error {
	var all []*output.Map
	for _, pm := range s.plan.Maps {
		m, err := s.maps.Read(pm)
		if err != nil {
			return err
		}
		all = append(all, m)
	}
	s.out.End(all)
	return nil
}

// Finish stops every event probe, runs END, handles the remaining events
// and prints the maps (unless the script's config says not to) and
// anything lost. The caller closes the object, which detaches the probes,
// afterwards.
func (s *Session) Finish() error {
	defer s.reader.Close()
	if s.signals != nil {
		signal.Stop(s.signals)
	}
	if err := s.b.Stop(); err != nil {
		return err
	}
	tail := s.drain
	if s.exited {
		tail = s.discard
	}
	if err := tail(); err != nil {
		return err
	}
	if err := s.b.Run(probe.End); err != nil {
		return err
	}
	if err := s.drain(); err != nil {
		return err
	}
	switch {
	case s.b.Result().Info.Config.PrintMapsOnExit:
		if err := s.printMaps(); err != nil {
			return err
		}
	case s.benched:
		s.out.End(nil)
	}
	stats, err := s.maps.Stats()
	if err != nil {
		return err
	}
	if lost := stats[plan.StatLost] - s.benchLost; lost > 0 {
		s.out.Lost(lost)
	}
	for _, pm := range s.plan.Maps {
		if n := stats[pm.Stat]; n > 0 {
			raise := "raise the limit with BPFTRACE_MAP_KEYS_MAX"
			if pm.MaxEntries != s.plan.MaxEntries {
				raise = "raise the size in its declaration (let @" + pm.Name + " = ...)"
			}
			fmt.Fprintf(s.warn, "WARNING: map @%s was full (%d entries): %d updates were dropped; %s\n",
				pm.Name, pm.MaxEntries, n, raise)
		}
	}
	return s.out.Flush()
}

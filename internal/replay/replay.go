// Package replay runs a script over a recording (internal/ebt) in the
// user-space engine (internal/engine): its tracepoint probes on the
// recorded events, in the order they were recorded, BEGIN before them, END
// after, and interval probes on the recording's clock. The tracer prints
// what the programs send and what the maps hold, as it does for the
// kernel: the engine is one more tracer.Backend.
//
// Replay is single-threaded and deterministic: the tracer pulls records,
// and each pull runs the engine over the next events until one sends
// something, so a print() sees the maps as the events before it left
// them.
package replay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"testing/fstest"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/ebt"
	"github.com/ebtrace/ebtrace/internal/engine"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/load"
	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/all"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/tracer"
)

// Events returns the recording's events as a tracefs tree holding their
// format files only, for compiling a script against them: a probe on any
// other event is unknown.
func Events(h ebt.Header) *kernel.Events {
	tree := fstest.MapFS{}
	for _, f := range h.Formats {
		tree["events/"+f.Category+"/"+f.Name+"/format"] = &fstest.MapFile{Data: []byte(f.Text)}
	}
	return kernel.NewEvents(tree)
}

// Compile compiles the script in file against the recording's events, for
// the CPUs of the machine it was taken on. opts's Check, Plan and hooks
// are used as given; the environment is the recording's.
func Compile(file *source.File, h ebt.Header, opts compile.Options) (*compile.Result, error) {
	events := Events(h)
	env := &probe.Env{Events: func() (*kernel.Events, error) { return events, nil }, Recorded: true}
	opts.CPUs = h.CPUs
	res, err := compile.Compile(file, all.Registry(), env, opts)
	if err != nil {
		return nil, err
	}
	var bad []string
	for _, p := range res.Programs {
		if _, _, err := role(p); err != nil {
			bad = append(bad, p.Instance.Instance.Name())
		}
	}
	if len(bad) > 0 {
		var names []string
		for _, f := range h.Formats {
			names = append(names, "tracepoint:"+f.Category+":"+f.Name)
		}
		return nil, fmt.Errorf("a replay runs tracepoint probes on the recording's events, BEGIN, END and interval probes, not %s; the recording holds %s",
			strings.Join(bad, ", "), strings.Join(names, ", "))
	}
	return res, nil
}

// Runnable says why the engine cannot run res's programs, if it cannot:
// it runs tracepoint, BEGIN, END and interval probes.
func Runnable(res *compile.Result) error {
	for _, p := range res.Programs {
		if _, _, err := role(p); err != nil {
			return err
		}
	}
	return nil
}

// role says what runs p in a replay: the event of a tracepoint, the period
// of an interval, or nothing for BEGIN and END.
func role(p *compile.Program) (*kernel.Format, time.Duration, error) {
	in := p.Instance.Instance
	switch in.Kind() {
	case probe.Begin, probe.End:
		return nil, 0, nil
	case probe.Event:
		if tp, ok := in.(interface{ Format() *kernel.Format }); ok {
			return tp.Format(), 0, nil
		}
		if iv, ok := in.(interface{ Period() time.Duration }); ok {
			return nil, iv.Period(), nil
		}
	}
	return nil, 0, fmt.Errorf("%s needs the kernel's BPF: ebtrace's user-space engine runs tracepoint, BEGIN, END and interval probes", in.Name())
}

// Source is where the engine's events come from: a recording, or the
// running kernel through tracefs (Live).
type Source interface {
	// Header says what machine and clock the events come from; only
	// its Start, RealtimeOffset, CPUs and BigEndian are used.
	Header() ebt.Header
	// Next returns the next event, in time order; io.EOF after the
	// last; ErrNoEvent when none came for a while (a live source), so
	// that interval probes and the reader's stop are not held up.
	Next() (ebt.Event, error)
	// Stop is when the events ended, once Next returned io.EOF: the
	// interval probes due until then still run.
	Stop() uint64
}

// ErrNoEvent is a live Source's answer when no event came in time.
var ErrNoEvent = errors.New("no event yet")

// recording is a recording as a Source.
type recording struct{ *ebt.Reader }

// Run replays the recording rec through res's programs, printing to out
// and warnings to warn; it returns the exit code a probe's exit() asked
// for.
func Run(res *compile.Result, rec *ebt.Reader, out output.Writer, warn io.Writer) (int, error) {
	b, err := NewBackend(res, recording{rec}, 0)
	if err != nil {
		return 0, err
	}
	if err := b.Run(probe.Begin); err != nil {
		return 0, err
	}
	sess, err := tracer.New(b, out, warn)
	if err != nil {
		return 0, err
	}
	if err := sess.Loop(b.Done()); err != nil {
		return 0, err
	}
	if err := sess.Finish(); err != nil {
		return 0, err
	}
	if err := b.Err(); err != nil {
		return 0, err
	}
	return sess.ExitCode(), nil
}

// interval is one interval probe and when it next runs.
type interval struct {
	prog   *engine.Program
	period uint64
	next   uint64
}

// Backend is the engine as a tracer.Backend, fed by a Source. The tracer
// pulls records, and each pull runs the engine over the next events until
// one is sent. Its maps may be read from other goroutines meanwhile: one
// lock orders them with the engine's runs.
type Backend struct {
	mu   sync.Mutex
	res  *compile.Result
	src  Source
	coll *engine.Collection
	ring *engine.Map

	byEvent   map[kernel.Tracepoint][]*engine.Program
	intervals []*interval
	clock     uint64 // the time of the last event or interval run
	taiOffset uint64 // CLOCK_TAI minus CLOCK_MONOTONIC on the recording's machine

	pending  *ebt.Event // the next event, read but not yet run
	queue    [][]byte   // records sent and not yet read
	record   []byte     // the record Read last returned
	stopped  bool       // Stop was called: no more event programs
	draining bool       // but a live source's events read before it still run
	finished bool       // the recording is over
	done     chan struct{}
	err      error // what ended the recording early
}

// NewBackend builds res's maps and programs in the engine, for the CPUs of
// src's machine, to run on src's events; cpid is the -c command's pid, 0
// without one.
func NewBackend(res *compile.Result, src Source, cpid uint32) (*Backend, error) {
	h := src.Header()
	coll, err := engine.NewCollection(res.Spec(), h.CPUs)
	if err != nil {
		return nil, err
	}
	if h.BigEndian != (binary.NativeEndian.Uint16([]byte{0, 1}) == 1) {
		return nil, errors.New("the recording's events are in the other byte order than this machine's: replay it on a machine like the one it was taken on")
	}
	r := &Backend{
		res: res, src: src, coll: coll, ring: coll.Maps[plan.EventsMap],
		byEvent: map[kernel.Tracepoint][]*engine.Program{}, clock: h.Start,
		taiOffset: uint64(h.RealtimeOffset + leapSeconds()), done: make(chan struct{}),
	}
	// What the kernel loader writes at load time: the start of the
	// recording, and the TAI clock's offset from the boot clock, which a
	// replay takes to be the monotonic one.
	cfg := load.Config{Cpid: cpid, StartNs: h.Start, TAIOffset: r.taiOffset}
	if err := coll.Maps[plan.ConfigMap].Update(make([]byte, 4), cfg.Bytes(), 0, engine.UpdateAny); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	for _, p := range res.Programs {
		f, period, err := role(p)
		if err != nil {
			return nil, err
		}
		prog := coll.Programs[p.Name]
		switch {
		case f != nil:
			r.byEvent[f.Tracepoint] = append(r.byEvent[f.Tracepoint], prog)
		case period > 0:
			r.intervals = append(r.intervals, &interval{prog: prog, period: uint64(period), next: h.Start + uint64(period)})
		}
	}
	return r, nil
}

func (r *Backend) Result() *compile.Result { return r.res }

func (r *Backend) Map(name string) tracer.Map {
	m, ok := r.coll.Maps[name]
	if !ok {
		return nil
	}
	return engineMap{m, &r.mu}
}

func (r *Backend) Events() (tracer.EventReader, error) { return r, nil }

func (r *Backend) Programs(kind probe.Kind) []*compile.Program {
	var out []*compile.Program
	for _, p := range r.res.Programs {
		if p.Instance.Instance.Kind() == kind {
			out = append(out, p)
		}
	}
	return out
}

// Run runs BEGIN or END at the recording's clock.
func (r *Backend) Run(kind probe.Kind) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.Programs(kind) {
		if err := r.run(r.coll.Programs[p.Name], nil, r.env(r.clock, 0, 0, 0, "")); err != nil {
			return err
		}
	}
	return nil
}

func (r *Backend) RunOnce(*compile.Program) (uint32, error) {
	return 0, errors.New("a replay runs no test probes")
}

func (r *Backend) Benchmark(*compile.Program, time.Duration) (time.Duration, error) {
	return 0, errors.New("a replay runs no bench probes")
}

// Stop runs no more interval probes nor events but those a live source
// read already: the kernel had run its programs on those.
func (r *Backend) Stop() error {
	r.stopped = true
	if h, ok := r.src.(interface{ Halt() }); ok {
		h.Halt()
		r.draining = true
	}
	return nil
}

// Read returns the next record the programs sent, running them over the
// recording until one does. At the end of the recording it closes done and
// reports the deadline passed, as a ring buffer with nothing more to read.
func (r *Backend) Read() ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.queue) == 0 {
		if r.finished || r.stopped && !r.draining {
			return nil, os.ErrDeadlineExceeded
		}
		err := r.step()
		switch {
		case errors.Is(err, ErrNoEvent):
			return nil, os.ErrDeadlineExceeded
		case err != nil:
			r.err = err
			r.finish()
		}
	}
	r.record, r.queue = r.queue[0], r.queue[1:]
	return r.record, nil
}

// Done is closed when the events have ended (a recording's last is run,
// or an error stopped them).
func (r *Backend) Done() <-chan struct{} { return r.done }

// Err is what ended the events early, if anything.
func (r *Backend) Err() error { return r.err }

// SetDeadline does nothing: Read waits only as long as the Source does.
func (r *Backend) SetDeadline(time.Time) {}

func (r *Backend) Close() error { return nil }

// finish ends the recording once.
func (r *Backend) finish() {
	if !r.finished {
		r.finished = true
		close(r.done)
	}
}

// step runs what comes next on the recording's clock: the interval probes
// due before the next event, or the event's probes; after the last event,
// the interval probes due before the recording stopped.
func (r *Backend) step() error {
	if r.pending == nil {
		ev, err := r.src.Next()
		switch {
		case errors.Is(err, io.EOF):
			if iv := r.due(r.src.Stop()); iv != nil && !r.stopped {
				return r.tick(iv)
			}
			r.finish()
			return nil
		case errors.Is(err, ErrNoEvent):
			// A live source's clock went on without events.
			if iv := r.due(kernel.MonotonicNow()); iv != nil && !r.stopped {
				return r.tick(iv)
			}
			return err
		case err != nil:
			return err
		}
		ev.Raw = slices.Clone(ev.Raw) // valid until the next Next
		r.pending = &ev
	}
	if iv := r.due(r.pending.Time); iv != nil && !r.stopped {
		return r.tick(iv)
	}
	ev := r.pending
	r.pending = nil
	r.clock = max(r.clock, ev.Time)
	env := r.env(ev.Time, ev.CPU, ev.PID, ev.TID, ev.Comm)
	for _, prog := range r.byEvent[ev.Format.Tracepoint] {
		if err := r.run(prog, ev.Raw, env); err != nil {
			return err
		}
	}
	return nil
}

// due returns the interval probe that runs first at or before t, if any.
func (r *Backend) due(t uint64) *interval {
	var first *interval
	for _, iv := range r.intervals {
		if iv.next <= t && (first == nil || iv.next < first.next) {
			first = iv
		}
	}
	return first
}

// tick runs an interval probe at its time, on CPU 0 in no process.
func (r *Backend) tick(iv *interval) error {
	at := iv.next
	iv.next += iv.period
	r.clock = max(r.clock, at)
	return r.run(iv.prog, nil, r.env(at, 0, 0, 0, ""))
}

// run runs prog and queues what it sent.
func (r *Backend) run(prog *engine.Program, ctx []byte, env *engine.Env) error {
	if _, err := prog.Run(ctx, env); err != nil {
		return err
	}
	if r.ring != nil {
		r.queue = append(r.queue, r.ring.Records()...)
	}
	return nil
}

// leapSeconds is CLOCK_TAI minus CLOCK_REALTIME here, in nanoseconds:
// the leap seconds, which the recording does not keep.
func leapSeconds() int64 {
	var tai, real unix.Timespec
	if unix.ClockGettime(unix.CLOCK_TAI, &tai) != nil || unix.ClockGettime(unix.CLOCK_REALTIME, &real) != nil {
		return 0
	}
	return (tai.Nano() - real.Nano() + int64(time.Second/2)) / int64(time.Second) * int64(time.Second)
}

// env is what the helpers see of an event at time t.
func (r *Backend) env(t uint64, cpu, pid, tid int, comm string) *engine.Env {
	env := &engine.Env{CPU: cpu, TGID: uint32(pid), PID: uint32(tid), Ktime: t, BootTime: t, TAI: t + r.taiOffset}
	copy(env.Comm[:15], comm)
	return env
}

// engineMap is an engine map as the tracer reads it, under the lock that
// the engine's runs take.
type engineMap struct {
	m  *engine.Map
	mu *sync.Mutex
}

func (em engineMap) Dump() ([]tracer.Element, error) {
	em.mu.Lock()
	defer em.mu.Unlock()
	var out []tracer.Element
	em.m.Iterate(func(key []byte, perCPU [][]byte) bool {
		values := make([][]byte, len(perCPU))
		for i, v := range perCPU {
			values[i] = slices.Clone(v)
		}
		out = append(out, tracer.Element{Key: slices.Clone(key), Values: values})
		return true
	})
	return out, nil
}

func (em engineMap) NextKey(key []byte) ([]byte, error) {
	em.mu.Lock()
	defer em.mu.Unlock()
	keys := em.m.Keys()
	if key == nil && len(keys) > 0 {
		return keys[0], nil
	}
	for i, k := range keys[:max(len(keys)-1, 0)] {
		if string(k) == string(key) {
			return keys[i+1], nil
		}
	}
	return nil, tracer.ErrKeyNotExist
}

func (em engineMap) Lookup(key []byte) ([]byte, error) {
	em.mu.Lock()
	defer em.mu.Unlock()
	v := em.m.Lookup(key, 0)
	if v == nil {
		return nil, tracer.ErrKeyNotExist
	}
	return slices.Clone(v), nil
}

func (em engineMap) Update(key []byte, values [][]byte) error {
	em.mu.Lock()
	defer em.mu.Unlock()
	if em.m.Lookup(key, 0) == nil {
		return tracer.ErrKeyNotExist
	}
	for cpu, v := range values {
		if err := em.m.Update(key, v, cpu, engine.UpdateExist); err != nil {
			return err
		}
	}
	return nil
}

func (em engineMap) Delete(key []byte) error {
	em.mu.Lock()
	defer em.mu.Unlock()
	if err := em.m.Delete(key); err != nil {
		if errors.Is(err, fs.ErrNotExist) || em.m.Lookup(key, 0) == nil {
			return tracer.ErrKeyNotExist
		}
		return err
	}
	return nil
}

func (em engineMap) MaxEntries() uint32 { return uint32(em.m.MaxEntries()) }

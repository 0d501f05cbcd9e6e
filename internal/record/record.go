// Package record owns `ebtrace record`: it opens trace events with
// perf_event_open on every CPU, attaches an in-kernel BPF filter to each
// with PERF_EVENT_IOC_SET_BPF so rejected events never reach the buffer
// (falling back to a tracepoint program writing to a ring buffer when
// another program already sits on the tracepoint), reads the samples and
// the perf buffer's lost records, decodes every field through the event's
// format file, and writes them as text, JSON lines or a Chrome trace, or
// keeps them raw in an .ebt recording.
//
// Inputs: event names, a filter compiler and options. Output: a Sink fed
// events in time order and, at the end, the per-CPU lost counts.
package record

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/source"
)

// FilterCompiler returns the body of a BPF_PROG_TYPE_TRACEPOINT program
// for one event: it reads the record through R1 and returns 0 to drop the
// event, 1 to keep it.
type FilterCompiler func(f *kernel.Format) (asm.Instructions, error)

// ProgramLoader loads a complete BPF_PROG_TYPE_TRACEPOINT filter program
// for one event; Open closes it once attached.
type ProgramLoader func(f *kernel.Format) (*ebpf.Program, error)

// Options say what to record and how.
type Options struct {
	Filter FilterCompiler // nil keeps every event
	// Program, when set, replaces Filter and the process check: it loads
	// an event's whole filter program, which must do the process check
	// itself (a bpftrace predicate compiled with its own maps). Such a
	// program cannot be inlined, so only the perf path can take it.
	Program ProgramLoader
	PID     int // record only this process's events; 0 for all but ebtrace's
	// FromExec drops PID's events until it execs: a command started for
	// the recording runs a little of its launcher first.
	FromExec   bool
	BufferSize int       // bytes per CPU, rounded up to a power-of-two number of pages
	Log        io.Writer // -v messages; nil for none
	Warnings   io.Writer // problems met while recording; nil for none
}

// DefaultBufferSize is the per-CPU buffer when Options.BufferSize is 0.
const DefaultBufferSize = 1 << 20

// ErrUnknownEvent is wrapped by the error for an event that does not exist.
var ErrUnknownEvent = errors.New("unknown event")

// Path is how accepted events reach user space.
type Path string

const (
	// PerfPath: the filter runs as the tracepoint's perf program and the
	// perf buffer holds what it keeps.
	PerfPath Path = "perf_event + PERF_EVENT_IOC_SET_BPF"
	// RingPath: a tracepoint program filters and copies kept events to a
	// BPF ring buffer.
	RingPath Path = "tracepoint link + ring buffer"
)

// Recorder is an open recording; Run reads it, Close releases it.
type Recorder struct {
	Path    Path
	events  []*kernel.Format          // as Open was given them
	began   uint64                    // CLOCK_MONOTONIC ns when Open began
	formats map[uint16]*kernel.Format // by event ID, the record's common_type
	source  eventSource
	comms   map[int]string
	waitFor int // a PID whose events count from its exec on; 0 once it has
}

// eventSource is one of the two paths.
type eventSource interface {
	// poll delivers every record available now, waiting up to wait for
	// the first.
	poll(wait time.Duration, deliver func(item)) error
	// lostCounts returns how many kept events each CPU lost so far.
	lostCounts() []uint64
	// stop ends the recording of new events; what the buffers hold stays
	// readable.
	stop()
	close() error
}

// item is a sample or a comm change, ordered by time before delivery.
type item struct {
	time      uint64
	cpu       int
	pid, tid  int
	comm      string // a comm change when raw is nil
	exec      bool   // the comm change is an exec
	parentTID int    // when raw is nil and this is set: tid is new, made by parentTID of process pid
	raw       []byte // a copy
}

// Formats resolves event names to their formats; a name with wildcards
// (syscalls:sys_enter_*) names every event it matches. An unknown name is
// an error wrapping ErrUnknownEvent that lists close names.
func Formats(ev *kernel.Events, names []string) ([]*kernel.Format, error) {
	var out []*kernel.Format
	for _, name := range names {
		category, event, ok := strings.Cut(name, ":")
		if !ok {
			return nil, fmt.Errorf("event %q: want CATEGORY:NAME, like syscalls:sys_enter_openat", name)
		}
		tps := []kernel.Tracepoint{{Category: category, Name: event}}
		if strings.ContainsAny(name, "*?[") {
			var err error
			if tps, err = ev.Match(name); err != nil {
				return nil, err
			}
			if len(tps) == 0 {
				return nil, fmt.Errorf("%w: nothing matches %s", ErrUnknownEvent, name)
			}
		}
		for _, tp := range tps {
			f, err := ev.Format(tp.Category, tp.Name)
			if errors.Is(err, fs.ErrNotExist) {
				return nil, unknownEvent(ev, name)
			}
			if err != nil {
				return nil, err
			}
			out = append(out, f)
		}
	}
	return out, nil
}

func unknownEvent(ev *kernel.Events, name string) error {
	tps, err := ev.Tracepoints()
	if err != nil {
		return fmt.Errorf("%w %s", ErrUnknownEvent, name)
	}
	known := make([]string, len(tps))
	for i, tp := range tps {
		known[i] = tp.String()
	}
	if close := source.Closest(name, known, 3); len(close) > 0 {
		return fmt.Errorf("%w %s (did you mean %s?)", ErrUnknownEvent, name, strings.Join(close, ", "))
	}
	return fmt.Errorf("%w %s (ebtrace -l 'tracepoint:*' lists the events)", ErrUnknownEvent, name)
}

// Open compiles the filters, opens the events on every CPU, attaches the
// filters and starts recording into the buffers; Run reads them.
func Open(formats []*kernel.Format, opts Options) (*Recorder, error) {
	r := &Recorder{events: formats, began: kernel.MonotonicNow(), formats: map[uint16]*kernel.Format{}, comms: map[int]string{}}
	if opts.FromExec {
		r.waitFor = opts.PID
	}
	// Attached programs are held by their perf events or links.
	var progs []*ebpf.Program
	defer func() {
		for _, p := range progs {
			p.Close()
		}
	}()
	check := processCheck{pid: os.Getpid()}
	if opts.PID != 0 {
		check = processCheck{pid: opts.PID, only: true}
	}
	bodies := make([]asm.Instructions, len(formats))
	for i, f := range formats {
		if r.formats[uint16(f.ID)] != nil {
			return nil, fmt.Errorf("event %s named twice", f.Tracepoint)
		}
		r.formats[uint16(f.ID)] = f
		body := asm.Instructions{asm.Mov.Imm(asm.R0, 1), asm.Return()}
		if opts.Filter != nil {
			var err error
			if body, err = opts.Filter(f); err != nil {
				return nil, err
			}
		}
		bodies[i] = body
		var p *ebpf.Program
		var err error
		if opts.Program != nil {
			p, err = opts.Program(f)
		} else if p, err = loadProgram(perfFilter(body, check)); err != nil {
			err = fmt.Errorf("filter of %s: %w", f.Tracepoint, err)
		}
		if err != nil {
			return nil, err
		}
		progs = append(progs, p)
	}
	size := opts.BufferSize
	if size == 0 {
		size = DefaultBufferSize
	}
	perf, err := openPerf(formats, progs, size, opts.Warnings)
	switch {
	case err == nil:
		r.Path, r.source = PerfPath, perf
	case errors.Is(err, errOtherPrograms) && opts.Program != nil:
		return nil, fmt.Errorf("%w; a loaded filter program cannot take the ring buffer path: use --filter", err)
	case errors.Is(err, errOtherPrograms):
		ring, rerr := openRing(formats, bodies, check, size)
		if rerr != nil {
			return nil, fmt.Errorf("%v; the ring buffer path failed too: %w", err, rerr)
		}
		// The ring buffer shows no exec: record from the start.
		r.Path, r.source, r.waitFor = RingPath, ring, 0
	default:
		return nil, err
	}
	if opts.Log != nil {
		fmt.Fprintf(opts.Log, "ebtrace record: events reach user space through %s\n", r.Path)
		if r.Path == RingPath {
			fmt.Fprintf(opts.Log, "ebtrace record: %v\n", err)
		}
	}
	return r, nil
}

// Run starts sink if it is a Starter, delivers events to it in time order
// until stop is closed, then reads what is left and finishes the sink with
// the lost counts.
func (r *Recorder) Run(sink Sink, stop <-chan struct{}) (lost []uint64, err error) {
	if s, ok := sink.(Starter); ok {
		if err := s.Start(r.events, r.began); err != nil {
			return nil, err
		}
	}
	var batch []item
	collect := func(it item) { batch = append(batch, it) }
	for stopping := false; ; {
		if !stopping {
			select {
			case <-stop:
				// Stop recording first, so draining ends however busy the
				// events are.
				stopping = true
				r.source.stop()
			default:
			}
		}
		batch = batch[:0]
		if err := r.source.poll(pollWait(stopping), collect); err != nil {
			return nil, err
		}
		slices.SortStableFunc(batch, func(a, b item) int { return cmp.Compare(a.time, b.time) })
		for i := range batch {
			if err := r.deliver(&batch[i], sink); err != nil {
				return nil, err
			}
		}
		if stopping && len(batch) == 0 {
			lost := r.source.lostCounts()
			return lost, sink.Finish(lost)
		}
	}
}

// pollWait waits for data while recording; once stopping, it only drains.
func pollWait(stopping bool) time.Duration {
	if stopping {
		return 0
	}
	return 100 * time.Millisecond
}

func (r *Recorder) deliver(it *item, sink Sink) error {
	if it.raw == nil && it.parentTID != 0 {
		// A new thread or process has its maker's comm until it execs.
		r.comms[it.tid] = r.comm(it.pid, it.parentTID)
		return nil
	}
	if it.raw == nil {
		r.comms[it.tid] = it.comm
		if it.exec && it.tid == r.waitFor {
			r.waitFor = 0
		}
		return nil
	}
	if len(it.raw) < 2 || it.pid == r.waitFor {
		return nil
	}
	f := r.formats[binary.NativeEndian.Uint16(it.raw)]
	if f == nil {
		return nil
	}
	return sink.Event(&Event{Format: f, Time: it.time, CPU: it.cpu, PID: it.pid, TID: it.tid, Comm: r.comm(it.pid, it.tid), Raw: it.raw})
}

// comm names a thread: from the comm records seen, else from /proc while
// it lives, else "<...>" as the kernel's trace output has it.
func (r *Recorder) comm(pid, tid int) string {
	if c, ok := r.comms[tid]; ok {
		return c
	}
	c := "<...>"
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/comm", pid, tid)); err == nil {
		c = strings.TrimSuffix(string(b), "\n")
	}
	r.comms[tid] = c
	return c
}

// Close detaches and releases everything.
func (r *Recorder) Close() error { return r.source.close() }

func loadProgram(insns asm.Instructions) (*ebpf.Program, error) {
	return ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.TracePoint, License: "GPL", Instructions: insns})
}

func ebpfPossibleCPUs() int {
	n, err := ebpf.PossibleCPU()
	if err != nil {
		return 1
	}
	return n
}

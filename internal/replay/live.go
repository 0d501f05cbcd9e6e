package replay

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/ebt"
	"github.com/ebtrace/ebtrace/internal/ftrace"
	"github.com/ebtrace/ebtrace/internal/kernel"
)

// liveBacklog is how many events may wait between the tracefs reader and
// the engine; past it they are counted lost.
const liveBacklog = 1 << 16

// Live is the running kernel's trace events as a Source, read from the
// per-CPU buffers of a private tracefs instance: tracing without bpf(2).
// Each event's filter, when it has one, runs in the kernel, so that the
// events it drops never reach user space.
type Live struct {
	root    string // tracefs
	inst    *ftrace.Instance
	header  ebt.Header
	formats map[uint16]*kernel.Format // by common_type
	events  chan ebt.Event
	wait    *time.Timer
	dropped atomic.Uint64 // events the engine had no room for

	cancel context.CancelFunc
	ran    chan error // Run's outcome, once it returned

	mu    sync.Mutex
	procs map[int]proc // by thread id
}

// proc is what /proc says of a thread: its process and name.
type proc struct {
	tgid int
	comm string
}

// OpenLive starts reading the events of res's tracepoint probes through
// tracefs, each with its ftrace filter from filters ("" or absent for
// none).
func OpenLive(res *compile.Result, filters map[kernel.Tracepoint]string) (*Live, error) {
	root, _, err := kernel.Tracefs()
	if err != nil {
		return nil, err
	}
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		return nil, err
	}
	l := &Live{root: root, formats: map[uint16]*kernel.Format{}, events: make(chan ebt.Event, liveBacklog), procs: map[int]proc{}, ran: make(chan error, 1)}
	var specs []ftrace.EventSpec
	for _, p := range res.Programs {
		f, _, err := role(p)
		if err != nil {
			return nil, err
		}
		if f == nil || l.formats[uint16(f.ID)] != nil {
			continue
		}
		l.formats[uint16(f.ID)] = f
		specs = append(specs, ftrace.EventSpec{Tracepoint: f.Tracepoint, Filter: filters[f.Tracepoint]})
	}
	now := kernel.MonotonicNow()
	l.header = ebt.Header{Start: now, RealtimeOffset: time.Now().UnixNano() - int64(now), CPUs: cpus,
		BigEndian: binary.NativeEndian.Uint16([]byte{0, 1}) == 1}
	if l.inst, err = ftrace.Open(root, ftrace.Options{Events: specs, RecordTGID: true}); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	go func() {
		l.ran <- l.inst.Run(ctx, l.deliver)
		close(l.events)
	}()
	l.wait = time.NewTimer(time.Hour)
	return l, nil
}

// deliver hands one event to the engine, or counts it lost when the
// engine is that far behind.
func (l *Live) deliver(ev ftrace.Event) error {
	if len(ev.Raw) < 8 {
		return nil
	}
	f := l.formats[binary.NativeEndian.Uint16(ev.Raw)]
	if f == nil {
		return nil
	}
	tid := int(int32(binary.NativeEndian.Uint32(ev.Raw[4:])))
	p := l.proc(tid)
	e := ebt.Event{Format: f, Time: ev.Time, CPU: ev.CPU, PID: p.tgid, TID: tid, Comm: p.comm, Raw: slices.Clone(ev.Raw)}
	select {
	case l.events <- e:
	default:
		l.dropped.Add(1)
	}
	return nil
}

// proc reads what /proc says of thread tid once.
func (l *Live) proc(tid int) proc {
	l.mu.Lock()
	defer l.mu.Unlock()
	if p, ok := l.procs[tid]; ok {
		return p
	}
	p := readProc("/proc", l.root, tid)
	l.procs[tid] = p
	return p
}

// readProc reads what procfs (mounted at procRoot) says of thread tid. A
// thread gone before it was read is named as tracefs's (at traceRoot)
// saved_cmdlines last saw it, and its process is the one saved_tgids
// noted: a short-lived command is often gone before its events are read,
// and its writes need not come from its main thread (a Go program's main
// goroutine moves between threads), whose tid alone would be its pid.
// Where tracefs noted no process either, the thread is taken for one.
func readProc(procRoot, traceRoot string, tid int) proc {
	p := proc{tgid: tid}
	dir := filepath.Join(procRoot, strconv.Itoa(tid))
	if b, err := os.ReadFile(filepath.Join(dir, "comm")); err == nil {
		p.comm = strings.TrimSuffix(string(b), "\n")
	} else if comm, ok := ftrace.SavedComm(traceRoot, tid); ok {
		p.comm = comm
	}
	b, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		if tgid, ok := ftrace.SavedTGID(traceRoot, tid); ok {
			p.tgid = tgid
		}
		return p
	}
	if _, rest, ok := bytes.Cut(b, []byte("\nTgid:")); ok {
		line, _, _ := bytes.Cut(rest, []byte("\n"))
		if n, err := strconv.Atoi(strings.TrimSpace(string(line))); err == nil {
			p.tgid = n
		}
	}
	return p
}

// Header is this machine's, taken when reading began.
func (l *Live) Header() ebt.Header { return l.header }

// Next returns the next event, or ErrNoEvent after 50 ms without one.
func (l *Live) Next() (ebt.Event, error) {
	select {
	case ev, ok := <-l.events:
		if !ok {
			return ebt.Event{}, l.runErr()
		}
		return ev, nil
	default:
	}
	l.wait.Reset(50 * time.Millisecond)
	defer l.wait.Stop()
	select {
	case ev, ok := <-l.events:
		if !ok {
			return ebt.Event{}, l.runErr()
		}
		return ev, nil
	case <-l.wait.C:
		return ebt.Event{}, ErrNoEvent
	}
}

// runErr is why the reading stopped, once it has: the end of the events
// after Halt, or what failed.
func (l *Live) runErr() error {
	err := <-l.ran
	l.ran <- err
	if err != nil {
		return fmt.Errorf("tracefs: %w", err)
	}
	return io.EOF
}

// Halt stops reading new events: those the kernel holds already still
// reach Next, then io.EOF.
func (l *Live) Halt() { l.cancel() }

// Stop is now: a live source ends when its reader stops reading.
func (l *Live) Stop() uint64 { return kernel.MonotonicNow() }

// Lost counts the events that never reached the engine: those the
// kernel's buffers had no room for, and those the engine fell too far
// behind to take. It is complete once Close returned.
func (l *Live) Lost() uint64 {
	n := l.dropped.Load()
	for _, lost := range l.inst.Lost() {
		n += lost.Events
	}
	return n
}

// Close stops reading and removes the tracefs instance.
func (l *Live) Close() error {
	l.cancel()
	for range l.events {
	}
	return l.inst.Close()
}

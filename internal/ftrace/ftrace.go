// Package ftrace owns reading trace events through tracefs alone, for
// when bpf(2) is refused: a private tracefs instance with the wanted events
// enabled under the kernel's own ftrace filters, its per-CPU
// trace_pipe_raw buffers read page by page, and the ring buffer page format
// parsed into each event's raw record (the bytes a tracepoint program and
// a perf raw sample see), its CPU and time, and the events the kernel lost.
package ftrace

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/kernel"
)

// EventSpec is one event to enable, with its ftrace filter ("" keeps
// every event).
type EventSpec struct {
	kernel.Tracepoint
	Filter string
}

// Options say what an instance traces.
type Options struct {
	Events []EventSpec
	// BufferKB is each CPU's buffer size in KiB; 0 keeps the kernel's
	// default for new instances.
	BufferKB int
	// RecordTGID has the kernel note the process of each thread that
	// records an event (the record-tgid option), for SavedTGID to find
	// once /proc no longer knows the thread.
	RecordTGID bool
}

// Event is one trace event read from a CPU's buffer. Raw is the event's
// record (common_type first, as its format file lays it out, rounded up
// to 4 bytes); it is only valid until the callback that gets it returns.
type Event struct {
	CPU  int
	Time uint64 // CLOCK_MONOTONIC nanoseconds (the instance's "mono" clock)
	Raw  []byte
}

// Lost counts one CPU's events that the kernel overwrote before they were
// read: Events of them, plus Uncounted pages that only said some were lost.
type Lost struct {
	Events    uint64
	Uncounted uint64
}

// FilterError is the kernel's refusal of an event's filter; Kernel is what
// the event's filter file said after the refused write (the filter, a
// caret under the fault, and the reason).
type FilterError struct {
	Event  kernel.Tracepoint
	Filter string
	Kernel string
	Err    error
}

func (e *FilterError) Error() string {
	return fmt.Sprintf("the kernel refused the ftrace filter of %s: %v\n%s", e.Event, e.Err, e.Kernel)
}

func (e *FilterError) Unwrap() error { return e.Err }

// Instance is a private tracefs instance: its own buffers, clock and
// enabled events, leaving the global trace buffer and other tracers alone.
type Instance struct {
	dir     string
	layout  Layout
	pageLen int
	cpus    []cpuBuffer
	ran     bool
	closed  bool
}

type cpuBuffer struct {
	cpu  int
	fd   int
	lost Lost
}

// removeStale removes the instances that an ebtrace killed before it could
// remove them left: those whose process is gone. A tracefs instance,
// unlike a BPF link, outlives its process.
func removeStale(instances string) {
	entries, err := os.ReadDir(instances)
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), "ebtrace-")
		if !ok {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat("/proc/" + pidText); errors.Is(err, fs.ErrNotExist) {
			os.Remove(filepath.Join(instances, e.Name()))
		}
	}
}

// seq numbers the instances of this process, so each gets its own name.
var seq atomic.Uint64

// Open makes a tracefs instance under root (the tracefs root, as
// kernel.Tracefs finds it) named ebtrace-PID-N, sets its clock to "mono",
// its buffer size, each event's filter, enables the events and turns
// tracing on: the buffers keep what happens from then on until Run reads
// it. Whatever fails, the instance is removed again before Open returns.
func Open(root string, opts Options) (*Instance, error) {
	instances := filepath.Join(root, "instances")
	removeStale(instances)
	dir := filepath.Join(instances, fmt.Sprintf("ebtrace-%d-%d", os.Getpid(), seq.Add(1)))
	switch err := os.Mkdir(dir, 0o755); {
	case errors.Is(err, fs.ErrExist):
		return nil, fmt.Errorf("tracefs instance %s already exists: an ebtrace that was killed left it behind; remove it with rmdir %s: %w", dir, dir, err)
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("this tracefs has no %s directory (a kernel without tracing instances): %w", instances, err)
	case err != nil:
		return nil, fmt.Errorf("create tracefs instance: %w", err)
	}
	in := &Instance{dir: dir}
	if err := in.setup(opts); err != nil {
		if cerr := in.Close(); cerr != nil {
			err = fmt.Errorf("%w; %w", err, cerr)
		}
		return nil, err
	}
	return in, nil
}

func (in *Instance) setup(opts Options) error {
	if err := in.write("tracing_on", "0"); err != nil {
		return err
	}
	if err := in.write("trace_clock", "mono"); err != nil {
		return fmt.Errorf("%w (the clock must match CLOCK_MONOTONIC)", err)
	}
	if opts.BufferKB > 0 {
		if err := in.write("buffer_size_kb", strconv.Itoa(opts.BufferKB)); err != nil {
			return err
		}
	}
	// poll(2) on trace_pipe_raw waits for this share of the buffer to
	// fill; 0 wakes the reader at the first event.
	if err := in.write("buffer_percent", "0"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// Kernels before 4.14 lack the option: SavedTGID then finds nothing.
	if opts.RecordTGID {
		if err := in.write("options/record-tgid", "1"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	for _, ev := range opts.Events {
		if err := in.enable(ev); err != nil {
			return err
		}
	}
	if err := in.readLayout(); err != nil {
		return err
	}
	if err := in.openCPUs(); err != nil {
		return err
	}
	return in.write("tracing_on", "1")
}

func (in *Instance) enable(ev EventSpec) error {
	dir := filepath.Join(in.dir, "events", ev.Category, ev.Name)
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("no trace event %s: %w", ev.Tracepoint, err)
	}
	if ev.Filter != "" {
		file := filepath.Join(dir, "filter")
		if err := os.WriteFile(file, []byte(ev.Filter), 0); err != nil {
			said, rerr := os.ReadFile(file)
			if rerr != nil {
				said = []byte(fmt.Sprintf("(%s is unreadable: %v)", file, rerr))
			}
			return &FilterError{Event: ev.Tracepoint, Filter: ev.Filter, Kernel: strings.TrimSpace(string(said)), Err: err}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "enable"), []byte("1"), 0); err != nil {
		return fmt.Errorf("enable %s: %w", ev.Tracepoint, err)
	}
	return nil
}

// readLayout reads the page layout and the size of the pages that
// trace_pipe_raw hands out: a sub-buffer where the kernel sizes them
// (buffer_subbuf_size_kb, Linux 6.8), else a memory page.
func (in *Instance) readLayout() error {
	text, err := os.ReadFile(filepath.Join(in.dir, "events", "header_page"))
	if err != nil {
		return fmt.Errorf("read the ring buffer's page layout: %w", err)
	}
	if in.layout, err = ParseHeaderPage(string(text), binary.NativeEndian); err != nil {
		return err
	}
	in.pageLen = os.Getpagesize()
	if kb, err := os.ReadFile(filepath.Join(in.dir, "buffer_subbuf_size_kb")); err == nil {
		n, err := strconv.Atoi(strings.TrimSpace(string(kb)))
		if err != nil || n <= 0 {
			return fmt.Errorf("buffer_subbuf_size_kb of %s says %q", in.dir, kb)
		}
		in.pageLen = n * 1024
	}
	return nil
}

// openCPUs opens every CPU's trace_pipe_raw, non-blocking so that one
// goroutine serves them all through poll(2). A CPU without a buffer (one
// that was never online) is skipped.
func (in *Instance) openCPUs() error {
	dirs, err := os.ReadDir(filepath.Join(in.dir, "per_cpu"))
	if err != nil {
		return fmt.Errorf("list the instance's CPUs: %w", err)
	}
	for _, d := range dirs {
		cpu, err := strconv.Atoi(strings.TrimPrefix(d.Name(), "cpu"))
		if err != nil || !strings.HasPrefix(d.Name(), "cpu") {
			continue
		}
		path := filepath.Join(in.dir, "per_cpu", d.Name(), "trace_pipe_raw")
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENODEV) {
			continue
		}
		if err != nil {
			return fmt.Errorf("open %s: %w", path, err)
		}
		in.cpus = append(in.cpus, cpuBuffer{cpu: cpu, fd: fd})
	}
	sort.Slice(in.cpus, func(i, j int) bool { return in.cpus[i].cpu < in.cpus[j].cpu })
	if len(in.cpus) == 0 {
		return fmt.Errorf("no CPU buffer could be opened under %s: %w", filepath.Join(in.dir, "per_cpu"), fs.ErrNotExist)
	}
	return nil
}

// SavedTGID returns the process of thread tid as the kernel noted it in
// tracefs's saved_tgids (under root, the tracefs root) while an instance
// with Options.RecordTGID traced it: it is still there once the thread has
// exited. The kernel notes a thread when it is switched out after
// recording an event: as it exits at the latest.
func SavedTGID(root string, tid int) (int, bool) {
	v, ok := saved(root, "saved_tgids", tid)
	if !ok {
		return 0, false
	}
	tgid, err := strconv.Atoi(strings.TrimSpace(v))
	return tgid, err == nil && tgid > 0
}

// SavedComm returns the name of thread tid as tracefs's saved_cmdlines
// (under root) last saw it, which the kernel fills as it records events:
// it too outlives the thread.
func SavedComm(root string, tid int) (string, bool) {
	return saved(root, "saved_cmdlines", tid)
}

// saved returns what the tracefs table file (lines "TID VALUE") holds for
// thread tid.
func saved(root, file string, tid int) (string, bool) {
	text, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		return "", false
	}
	prefix := strconv.Itoa(tid) + " "
	for line := range strings.Lines(string(text)) {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			return strings.TrimSuffix(rest, "\n"), true
		}
	}
	return "", false
}

// Dir is the instance's directory.
func (in *Instance) Dir() string { return in.dir }

// pagesPerTurn bounds how many pages one CPU's buffer gives before the
// others get their turn.
const pagesPerTurn = 16

// Run calls fn with each event, one CPU's events in time order (CPUs are
// not merged), until ctx is done or fn returns an error. When ctx is done
// it turns tracing off, hands fn what the buffers still hold, and returns
// nil; an error from fn is returned as is. Run may be called once; Lost
// is complete when it returns.
func (in *Instance) Run(ctx context.Context, fn func(Event) error) error {
	if in.ran || in.closed {
		return errors.New("ftrace: Run called twice or after Close")
	}
	in.ran = true
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("eventfd: %w", err)
	}
	defer unix.Close(wake)
	stop := context.AfterFunc(ctx, func() {
		unix.Write(wake, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	})
	defer stop()
	page := make([]byte, in.pageLen)
	fds := make([]unix.PollFd, len(in.cpus)+1)
	for i, c := range in.cpus {
		fds[i] = unix.PollFd{Fd: int32(c.fd), Events: unix.POLLIN}
	}
	fds[len(in.cpus)] = unix.PollFd{Fd: int32(wake), Events: unix.POLLIN}
	for ctx.Err() == nil {
		if _, err := unix.Poll(fds, -1); err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("poll the trace buffers: %w", err)
		}
		for i := range in.cpus {
			if fds[i].Revents&unix.POLLNVAL != 0 {
				return fmt.Errorf("poll the trace buffer of CPU %d: %w", in.cpus[i].cpu, unix.EBADF)
			}
			if fds[i].Revents&(unix.POLLIN|unix.POLLERR) == 0 {
				continue
			}
			if err := in.drain(&in.cpus[i], page, pagesPerTurn, fn); err != nil {
				return err
			}
		}
	}
	if err := in.write("tracing_on", "0"); err != nil {
		return err
	}
	for i := range in.cpus {
		if err := in.drain(&in.cpus[i], page, -1, fn); err != nil {
			return err
		}
	}
	return nil
}

// drain reads up to limit pages (all there are when limit < 0) from c's
// buffer and hands their events to fn.
func (in *Instance) drain(c *cpuBuffer, page []byte, limit int, fn func(Event) error) error {
	for n := 0; limit < 0 || n < limit; n++ {
		got, err := unix.Read(c.fd, page)
		switch {
		case errors.Is(err, unix.EAGAIN), err == nil && got == 0:
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return fmt.Errorf("read the trace buffer of CPU %d: %w", c.cpu, err)
		}
		missed, err := in.layout.Parse(page[:got], func(t uint64, raw []byte) error {
			return fn(Event{CPU: c.cpu, Time: t, Raw: raw})
		})
		c.lost.Events += missed.Count
		if missed.Uncounted {
			c.lost.Uncounted++
		}
		if err != nil {
			if errors.Is(err, ErrBadPage) {
				err = fmt.Errorf("CPU %d: %w", c.cpu, err)
			}
			return err
		}
	}
	return nil
}

// Lost returns each CPU's lost events, indexed by CPU number; call it
// after Run returns.
func (in *Instance) Lost() []Lost {
	var lost []Lost
	for _, c := range in.cpus {
		for len(lost) <= c.cpu {
			lost = append(lost, Lost{})
		}
		lost[c.cpu] = c.lost
	}
	return lost
}

// Close closes the buffers and removes the instance, which disables its
// events.
// If the removal fails, the error says how to remove it by hand.
func (in *Instance) Close() error {
	if in.closed {
		return nil
	}
	in.closed = true
	var errs []error
	for _, c := range in.cpus {
		if err := unix.Close(c.fd); err != nil {
			errs = append(errs, fmt.Errorf("close the trace buffer of CPU %d: %w", c.cpu, err))
		}
	}
	// Removing an instance disables its events: nothing else to undo.
	if err := unix.Rmdir(in.dir); err != nil {
		errs = append(errs, fmt.Errorf("remove tracefs instance %s (remove it with rmdir %s once nothing holds its files open): %w", in.dir, in.dir, err))
	}
	return errors.Join(errs...)
}

// write sets one of the instance's control files.
func (in *Instance) write(file, value string) error {
	path := filepath.Join(in.dir, file)
	if err := os.WriteFile(path, []byte(value), 0); err != nil {
		return fmt.Errorf("set %s to %q: %w", path, value, err)
	}
	return nil
}

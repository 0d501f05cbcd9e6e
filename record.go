package ebtrace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/filter"
	"github.com/ebtrace/ebtrace/internal/filter/btfilter"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/record"
)

// RecordFormat is how a Recording writes the events it records.
type RecordFormat string

const (
	// RecordText writes one line per event, as the kernel's trace file
	// does: comm-tid [cpu] seconds: event: field=value ...
	RecordText RecordFormat = "text"
	// RecordJSON writes one JSON object per line and event, its fields in
	// the format file's order.
	RecordJSON RecordFormat = "json"
	// RecordChrome writes the Chrome trace-event format, which Perfetto
	// and chrome://tracing open: a syscall's enter and exit records on one
	// thread make one slice.
	RecordChrome RecordFormat = "chrome"
	// RecordEBT writes an .ebt recording (docs/ebt.md): each event's raw
	// record as the kernel's buffer held it, with its format file, the
	// clock, the kernel's release and BTF identity and the lost counts,
	// so that it can be replayed on another machine.
	RecordEBT RecordFormat = "ebt"
)

// RecordOptions say which trace events a Recording records and how.
type RecordOptions struct {
	// Events names the trace events as CATEGORY:NAME; wildcards
	// (syscalls:sys_*_write) name every event they match.
	Events []string
	// Filter keeps only the events this expression in ftrace's filter
	// language accepts ("count >= 1024 && common_pid != 1"); empty keeps
	// every event.
	Filter string
	// FilterBT keeps only the events this bpftrace predicate accepts
	// ("/args.count >= 1024/"), instead of Filter.
	FilterBT string
	// PID records only this process's events and ends Run when it exits.
	// Without PID or Command, every process's events but this one's are
	// recorded.
	PID int
	// Command is a command to run, as its argument vector, recording only
	// its events: it is started stopped right after its exec, let go when
	// Run begins, and Run ends when it exits; Close terminates it if it
	// still runs. It shares this process's standard input, output and
	// error. PID and Command exclude each other.
	Command []string
	// Format is how Run writes; empty means RecordText.
	Format RecordFormat
	// BufferSize is each CPU's buffer in bytes, rounded up to a
	// power-of-two number of pages; 0 means 1 MiB.
	BufferSize int
	// Verbose says on Log how events reach user space.
	Verbose bool
	// Log receives what ebtrace says to a person rather than to the
	// program: that it mounted tracefs, which was missing, warnings met
	// while recording and, with Verbose, how events travel. Nil discards
	// it.
	Log io.Writer
}

// Recording is a recording of trace events, open and filtering in the
// kernel: the events are opened on every CPU with perf_event_open and the
// filter is attached to each, so events it rejects never reach user
// space. Run writes them out; Close releases everything.
type Recording struct {
	rec    *record.Recorder
	format RecordFormat
	events int
	cmd    *command
	pid    *processWatch // of RecordOptions.PID; nil without one
	ran    bool
}

// OpenRecording resolves the events, compiles and loads their filters,
// and opens them: from now on their buffers fill, and Run reads them. A
// mistake in a filter is a *CompileError; an unknown event is an error
// naming close ones.
func OpenRecording(opts RecordOptions) (_ *Recording, err error) {
	defer func() { err = publicError(err) }()
	switch {
	case len(opts.Events) == 0:
		return nil, errors.New("record: no event to record")
	case opts.PID != 0 && len(opts.Command) > 0:
		return nil, errors.New("record: PID and Command exclude each other")
	case opts.Filter != "" && opts.FilterBT != "":
		return nil, errors.New("record: Filter and FilterBT exclude each other")
	}
	format := opts.Format
	if format == "" {
		format = RecordText
	}
	// NewSink is the one judge of format names; asking it now spares
	// loading anything for a format Run would refuse.
	if _, err := record.NewSink(string(format), io.Discard); err != nil {
		return nil, err
	}
	liveEvents := liveEvents(opts.Log)
	events, err := liveEvents()
	if err != nil {
		return nil, err
	}
	formats, err := record.Formats(events, opts.Events)
	if err != nil {
		return nil, err
	}
	r := &Recording{format: format, events: len(formats)}
	ok := false
	defer func() {
		if !ok {
			r.Close()
		}
	}()
	ropts := record.Options{PID: opts.PID, BufferSize: opts.BufferSize, Warnings: opts.Log}
	if opts.Verbose {
		ropts.Log = opts.Log
	}
	if opts.PID > 0 {
		if r.pid, err = watchProcess(opts.PID); err != nil {
			return nil, err
		}
	}
	if len(opts.Command) > 0 {
		if r.cmd, err = startCommand(opts.Command); err != nil {
			return nil, err
		}
		ropts.PID, ropts.FromExec = r.cmd.pid(), true
	}
	if opts.Filter != "" {
		expr, err := filter.Parse(opts.Filter)
		if err != nil {
			return nil, err
		}
		// How the kernel reads a bare char * differs between builds: asked
		// of it only when the filter has such a predicate.
		fopts := filter.Options{UserPointers: func() (bool, error) { return kernel.FilterReadsUserPointers(events) }}
		ropts.Filter = func(f *kernel.Format) (asm.Instructions, error) { return filter.Compile(expr, f, fopts) }
	}
	if opts.FilterBT != "" {
		ropts.Program = predicateLoader(opts.FilterBT, ropts.PID, &probe.Env{PID: ropts.PID, Events: liveEvents})
	}
	if r.rec, err = record.Open(formats, ropts); err != nil {
		return nil, err
	}
	ok = true
	return r, nil
}

// predicateLoader compiles and loads the bpftrace predicate pred for each
// event, checking the process first as record's own programs do: only
// pid's events, or with pid 0 all but this process's.
func predicateLoader(pred string, pid int, env *probe.Env) record.ProgramLoader {
	expr := strings.TrimSpace(pred)
	if len(expr) >= 2 && expr[0] == '/' && expr[len(expr)-1] == '/' {
		expr = expr[1 : len(expr)-1]
	}
	check := fmt.Sprintf("pid != %d", os.Getpid())
	if pid != 0 {
		check = fmt.Sprintf("pid == %d", pid)
	}
	return func(f *kernel.Format) (*ebpf.Program, error) {
		res, err := btfilter.Compile("/"+check+" && ("+expr+")/", f.Tracepoint, env)
		if err != nil {
			return nil, err
		}
		coll, err := ebpf.NewCollection(res.Spec())
		if err != nil {
			return nil, fmt.Errorf("--filter-bt for %s: %w", f.Tracepoint, err)
		}
		defer coll.Close()
		// The program holds the maps it uses.
		return coll.DetachProgram(res.Programs[0].Name), nil
	}
}

// Events is how many trace events the recording records: its
// RecordOptions.Events with their wildcards expanded.
func (r *Recording) Events() int { return r.events }

// Run lets RecordOptions.Command go, then writes the events to w in
// time order until ctx is cancelled, the command or the RecordOptions.PID
// process exits; then it writes what the buffers still hold and ends the
// output complete and valid. It returns how many events each CPU lost for
// want of room in its buffer (lost[cpu]), which the output records too.
// Run may be called once.
func (r *Recording) Run(ctx context.Context, w io.Writer) (lost []uint64, err error) {
	defer func() { err = publicError(err) }()
	if r.ran {
		return nil, errors.New("record: Run called twice")
	}
	r.ran = true
	sink, err := record.NewSink(string(r.format), w)
	if err != nil {
		return nil, err
	}
	// Nil channels never fire: a recording without a command or a
	// process ends only with ctx.
	var cmdDone, pidExited <-chan struct{}
	if r.cmd != nil {
		if err := r.cmd.release(); err != nil {
			return nil, err
		}
		cmdDone = r.cmd.done
	}
	if r.pid != nil {
		pidExited = r.pid.Exited()
	}
	stop, finished := make(chan struct{}), make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-ctx.Done():
		case <-cmdDone:
		case <-pidExited:
		case <-finished:
			return
		}
		close(stop)
	}()
	return r.rec.Run(sink, stop)
}

// Close detaches and releases everything the recording holds, and
// terminates RecordOptions.Command if it still runs. Closing again does
// nothing.
func (r *Recording) Close() error {
	var err error
	if r.rec != nil {
		err = r.rec.Close()
		// Its descriptors are closed: a second Close would close numbers
		// the process may have reused.
		r.rec = nil
	}
	if r.cmd != nil {
		r.cmd.kill()
	}
	if r.pid != nil {
		r.pid.Close()
	}
	return err
}

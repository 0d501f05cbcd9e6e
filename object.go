package ebtrace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ebtrace/ebtrace/internal/object"
	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/all"
	"github.com/ebtrace/ebtrace/internal/source"
)

// ObjectOptions say how a BPF object compiled from C is opened, loaded
// and run (the command line's ebtrace run).
type ObjectOptions struct {
	// PerfEvent is the ebtrace probe that SEC("perf_event") programs
	// attach to, such as "interval:s:1"; "" means DefaultPerfEvent.
	PerfEvent string
	// Set gives const volatile globals their values before loading, by
	// name: an integer in Go syntax, or a string for a char array.
	Set map[string]string
	// PinDir, when set, pins every map there by name (a directory of the
	// BPF file system, mounted at /sys/fs/bpf when missing); the maps
	// stay pinned after Close.
	PinDir string
	// PID is the process traced (the command line's -p): uprobe sections
	// resolve libraries in its memory map, the libbpf-tools global
	// targ_tgid gets it, and Run ends when it exits.
	PID int
	// Command is a command to run, as its argument vector (the command
	// line's -c): Load starts it, stopped by ptrace(2) right after its
	// exec, so that targ_tgid can get its pid; Run lets it go once every
	// program is attached and ends when it exits; Close terminates it if
	// it still runs. It shares this process's standard input, output and
	// error.
	Command []string
	// Hist names maps whose keys are log2 slots (key k counts values in
	// [2^k, 2^(k+1))), shown as histograms when Run ends. Heatmap names
	// such maps drawn as they fill: each RunObjectOptions.Interval, one
	// heatmap row of the counts they gained. Load checks both before
	// loading anything.
	Hist, Heatmap []string
	// Log receives what ebtrace says to a person rather than to the
	// output: that it mounted tracefs, that the programs run, what failed
	// while they ran, which maps stayed pinned. Nil discards it.
	Log io.Writer
}

// DefaultPerfEvent is what perf_event sections attach to when
// ObjectOptions.PerfEvent is "": a 99 Hz profile on every CPU.
const DefaultPerfEvent = object.DefaultPerfEvent

// Object is a BPF object read from an ELF file clang built (clang -O2 -g
// -target bpf): its programs, each attached where its section names, and
// its maps. Load loads it, Run runs it once, Close releases it. Its
// methods are for one goroutine at a time.
type Object struct {
	spec *object.Spec
	opts ObjectOptions
	log  io.Writer
	obj  *object.Object // nil until loaded
	cmd  *command       // ObjectOptions.Command, once Load started it
	ran  bool
}

// OpenObject reads the object at path and resolves where each of its
// programs attaches, loading nothing. A program whose section cannot
// attach here is not an error yet: List shows why, and Load refuses it.
func OpenObject(path string, opts ObjectOptions) (*Object, error) {
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	spec, err := object.Open(path, object.Options{
		Registry:  all.Registry(),
		Env:       &probe.Env{PID: opts.PID, Events: liveEvents(opts.Log)},
		PerfEvent: opts.PerfEvent,
		Set:       opts.Set,
		PinDir:    opts.PinDir,
	})
	if err != nil {
		return nil, publicError(err)
	}
	return &Object{spec: spec, opts: opts, log: log}, nil
}

// List writes one line per program, sorted by section: its section, its
// name and its attach point, or why it cannot attach here.
func (o *Object) List(w io.Writer) error { return o.spec.List(w) }

// UnattachableError is an object with programs whose sections this kernel
// cannot attach, which Load refuses before loading anything.
type UnattachableError struct {
	// Programs says, for each such program in List's order, why, as
	// `section "SECTION" (program NAME): REASON`.
	Programs []error
}

func (e *UnattachableError) Error() string { return errors.Join(e.Programs...).Error() }

// Unwrap returns Programs.
func (e *UnattachableError) Unwrap() []error { return e.Programs }

// Load checks that every program can attach (an *UnattachableError when
// some cannot) and that the Hist and Heatmap maps hold log2 slots, starts
// the Command, gives the globals their values, and loads the maps and
// programs through the verifier with CO-RE relocations applied against
// the running kernel. Nothing is attached yet.
func (o *Object) Load() (err error) {
	if o.obj != nil {
		return errors.New("the object is loaded already")
	}
	if errs := o.spec.Unattachable(); len(errs) > 0 {
		for i, err := range errs {
			errs[i] = publicError(err)
		}
		return &UnattachableError{Programs: errs}
	}
	defer func() { err = publicError(err) }()
	if err := o.spec.CheckSlotMaps(append(slices.Clip(o.opts.Hist), o.opts.Heatmap...)); err != nil {
		return err
	}
	target := o.opts.PID
	if len(o.opts.Command) > 0 {
		cmd, err := startCommand(o.opts.Command)
		if err != nil {
			return err
		}
		o.cmd = cmd
		target = cmd.pid()
	}
	obj, err := o.spec.Load(target)
	if err != nil {
		if o.cmd != nil {
			o.cmd.kill()
			o.cmd = nil
		}
		return err
	}
	o.obj = obj
	return nil
}

// RunObjectOptions say how Run shows what the object does.
type RunObjectOptions struct {
	// Format is "text" (also "") or "json", as for scripts.
	Format string
	// Interval is the time between heatmap rows; 0 means a second.
	Interval time.Duration
	// Text draws heatmap rows with characters instead of ANSI colours.
	Text bool
	// Duration, when not 0, ends the run that long after every program
	// is attached.
	Duration time.Duration
}

// Run attaches the loaded object's programs, says so on Log, and writes
// to w, as they come, the object's bpf_printk lines and the records of
// its ring buffers and perf event arrays (typed when the map carries
// __attribute__((btf_decl_tag("ebtrace.record=struct NAME")))), and the
// Heatmap rows. It runs until ctx is cancelled, the Command or the PID
// process exits, or Duration has passed; then it detaches the programs
// and writes every map, keys and values typed by BTF, the globals of
// .data and .bss, and the Hist maps as histograms. An object runs once.
func (o *Object) Run(ctx context.Context, w io.Writer, opts RunObjectOptions) (err error) {
	defer func() { err = publicError(err) }()
	switch {
	case o.obj == nil:
		return errors.New("the object is not loaded: Load it first")
	case o.ran:
		return errors.New("the object ran already: an object runs once")
	}
	var out output.Writer
	switch opts.Format {
	case "", "text":
		out = output.NewText(w)
	case "json":
		out = output.NewJSON(w)
	default:
		return fmt.Errorf("unknown format %q: want text or json", opts.Format)
	}
	o.ran = true
	attached, err := o.obj.Attach()
	if err != nil {
		return err
	}
	fmt.Fprintf(o.log, "Running %s: %s attached; Ctrl-C to stop\n", o.spec.Path, o.describeAttached(attached))

	stop := make(chan struct{})
	var stopOnce sync.Once
	end := func() { stopOnce.Do(func() { close(stop) }) }
	finished := make(chan struct{})
	defer close(finished)
	// whenDone ends the run when done is closed, or forgets it once the
	// run has finished.
	whenDone := func(done <-chan struct{}) {
		go func() {
			select {
			case <-done:
				end()
			case <-finished:
			}
		}()
	}
	whenDone(ctx.Done())
	if o.cmd != nil {
		if err := o.cmd.release(); err != nil {
			return err
		}
		whenDone(o.cmd.done)
	}
	if o.opts.PID > 0 {
		pw, err := watchProcess(o.opts.PID)
		if err != nil {
			return err
		}
		defer pw.Close()
		whenDone(pw.Exited())
	}
	if opts.Duration > 0 {
		t := time.AfterFunc(opts.Duration, end)
		defer t.Stop()
	}
	runErr := o.obj.Run(out, stop, object.RunOptions{Heatmaps: o.opts.Heatmap, Interval: opts.Interval, Text: opts.Text,
		Warnings: func(err error) { fmt.Fprintf(o.log, "ebtrace: %v\n", err) }})
	// The Hist maps print as histograms below; the Heatmap maps were
	// drawn as they filled.
	maps, err := o.obj.Maps(append(slices.Clip(o.opts.Hist), o.opts.Heatmap...))
	if err != nil {
		return err
	}
	for _, name := range o.opts.Hist {
		h, err := o.obj.Hist(name)
		if err != nil {
			return err
		}
		maps = append(maps, h)
	}
	out.End(maps)
	if err := out.Flush(); err != nil {
		return err
	}
	if pinned := o.obj.Pinned(); len(pinned) > 0 {
		fmt.Fprintf(o.log, "ebtrace: left %s pinned: %s\n", source.Count(len(pinned), "map"), strings.Join(pinned, " "))
	}
	return runErr
}

// describeAttached says how many programs run, and at how many places
// when that differs.
func (o *Object) describeAttached(points int) string {
	programs := 0
	for _, p := range o.spec.Programs {
		if p.Probe != "" {
			programs++
		}
	}
	s := source.Count(programs, "program")
	if points != programs {
		s += " at " + source.Count(points, "attach point")
	}
	return s
}

// Close detaches and releases everything the object holds, except the
// maps pinned in PinDir, and terminates the Command if it still runs.
func (o *Object) Close() error {
	var err error
	if o.obj != nil {
		err = o.obj.Close()
		o.obj = nil
	}
	if o.cmd != nil {
		o.cmd.kill()
		o.cmd = nil
	}
	return err
}

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	eventfilter "github.com/ebtrace/ebtrace/internal/filter"
	"github.com/ebtrace/ebtrace/internal/filter/btfilter"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/record"
	"github.com/ebtrace/ebtrace/internal/source"
)

// recordUsage is the help of ebtrace record.
var recordUsage = usageText(`USAGE:
    ebtrace record -e CATEGORY:NAME [-e ...] [--filter EXPR | --filter-bt PRED] [-p PID | -c CMD] [-o FILE]

Records trace events as they happen. Each event is opened with
perf_event_open on every CPU and a BPF filter is attached to it in the
kernel, so events the filter rejects never reach the buffer.
`, recordFlags(&recordOptions{}), `Ctrl-C or SIGTERM ends the recording; the output is complete and valid.
Events the buffer had no room for are counted per CPU and reported at the
end, on standard error and in the output.

EXAMPLES:
    ebtrace record -e syscalls:sys_enter_openat -c 'cat /etc/hostname'
    ebtrace record -e syscalls:sys_enter_write -e syscalls:sys_exit_write -p 1234 -o trace.json
`)

// recordOptions are the parsed arguments of ebtrace record.
type recordOptions struct {
	events     []string
	filter     string
	filterBT   string
	pid        int
	command    string
	outFile    string
	format     string
	bufferSize int
	verbose    bool
	help       bool
}

// recordFlags is the flag table of ebtrace record, storing into o.
func recordFlags(o *recordOptions) []flag {
	return []flag{
		{short: 'e', value: "EVENT", help: "record the trace event CATEGORY:NAME (repeatable; wildcards\n" +
			"such as syscalls:sys_*_write name every event they match)", set: each(&o.events)},
		{long: "filter", value: "EXPR", help: "keep only the events EXPR accepts, in ftrace's filter syntax:\n" +
			`'count >= 1024 && common_pid != 1', 'comm ~ "ba*"'`, set: text(&o.filter)},
		{long: "filter-bt", value: "PRED", help: "keep only the events the bpftrace predicate PRED accepts:\n" +
			"'/args.count >= 1024 && uid == 1000/'", set: text(&o.filterBT)},
		{short: 'p', value: "PID", help: "record only process PID's events; stop when it exits", set: processID(&o.pid)},
		{short: 'c', value: "CMD", help: "run CMD once recording, record only its events; stop when it exits", set: text(&o.command)},
		{short: 'o', value: "FILE", help: "write to FILE; a FILE ending in .json gets the Chrome\n" +
			"trace-event format (Perfetto opens it) unless -f says otherwise", set: text(&o.outFile)},
		{short: 'f', value: "FORMAT", help: "text (default, like the kernel's trace file), json (one\n" +
			"object per line and event) or chrome", set: text(&o.format)},
		{long: "buffer-size", value: "N", help: "per-CPU buffer: N KiB, or N with a K or M suffix (default 1M)", set: byteSize(&o.bufferSize)},
		{short: 'v', help: "say how events reach user space", on: &o.verbose},
		{short: 'h', long: "help", help: "show this help", on: &o.help},
	}
}

// parseRecordArgs reads the command line of ebtrace record with
// recordFlags, then checks that the options it found go together.
func parseRecordArgs(args []string) (*recordOptions, error) {
	o := &recordOptions{}
	positional, err := parseFlags(recordFlags(o), args)
	if err != nil {
		return nil, err
	}
	switch {
	case o.help:
		return o, nil
	case len(positional) > 0:
		return nil, fmt.Errorf("record: unexpected argument %s (events are named with -e)", quoteIfNeeded(positional[0]))
	case len(o.events) == 0:
		return nil, errors.New("record: name at least one event with -e CATEGORY:NAME")
	case o.pid != 0 && o.command != "":
		return nil, errors.New("record: -p and -c exclude each other")
	case o.filter != "" && o.filterBT != "":
		return nil, errors.New("record: --filter and --filter-bt exclude each other")
	}
	if o.format == "" {
		o.format = "text"
		if strings.HasSuffix(o.outFile, ".json") {
			o.format = "chrome"
		}
	}
	return o, nil
}

// parseBufferSize reads N (KiB), NK or NM.
func parseBufferSize(s string) (int, error) {
	unit := 1 << 10
	digits := s
	switch {
	case strings.HasSuffix(s, "K"), strings.HasSuffix(s, "k"):
		digits = s[:len(s)-1]
	case strings.HasSuffix(s, "M"), strings.HasSuffix(s, "m"):
		digits, unit = s[:len(s)-1], 1<<20
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n <= 0 || n > 1<<30/unit {
		return 0, errors.New("want a size like 64K or 4M (at most 1G)")
	}
	return n * unit, nil
}

// runRecord is `ebtrace record`; it returns the exit status.
func runRecord(args []string, stdout, stderr io.Writer) int {
	o, err := parseRecordArgs(args)
	if err != nil {
		return badUsage(stderr, "ebtrace record", err)
	}
	if o.help {
		io.WriteString(stdout, recordUsage)
		return 0
	}
	events, mounted, err := kernel.Live()
	if mounted {
		fmt.Fprintln(stderr, "ebtrace: tracefs was not mounted; mounted it at /sys/kernel/tracing")
	}
	if err != nil {
		return fail(stderr, err)
	}
	formats, err := record.Formats(events, o.events)
	if err != nil {
		return fail(stderr, err)
	}
	var child *child
	if o.command != "" {
		if child, err = startChild(o.command); err != nil {
			return fail(stderr, err)
		}
		defer child.kill()
	}
	opts := record.Options{PID: o.pid, BufferSize: o.bufferSize, Warnings: stderr}
	if o.filter != "" {
		expr, err := eventfilter.Parse(o.filter)
		if err != nil {
			return fail(stderr, err)
		}
		// How the kernel reads a bare char * differs between builds: asked
		// of it only when the filter has such a predicate.
		filterOpts := eventfilter.Options{UserPointers: func() (bool, error) { return kernel.FilterReadsUserPointers(events) }}
		opts.Filter = func(f *kernel.Format) (asm.Instructions, error) { return eventfilter.Compile(expr, f, filterOpts) }
	}
	if child != nil {
		opts.PID, opts.FromExec = child.cmd.Process.Pid, true
	}
	if o.filterBT != "" {
		opts.Program = predicateLoader(o.filterBT, opts.PID, stderr)
	}
	if o.verbose {
		opts.Log = stderr
	}
	rec, err := record.Open(formats, opts)
	if err != nil {
		return fail(stderr, err)
	}
	defer rec.Close()
	// The output file is created once the filters compiled and loaded:
	// a mistake in them leaves an earlier recording in place.
	out, closeOut, err := openOutput(o.outFile, stdout)
	if err != nil {
		return fail(stderr, err)
	}
	defer closeOut()
	sink, err := record.NewSink(o.format, out)
	if err != nil {
		return fail(stderr, err)
	}

	stop, stopOnce, unwatch := stopOnSignals()
	defer unwatch()
	if err := stopWhenGone(child, o.pid, stopOnce); err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stderr, "Recording %s; Ctrl-C to stop\n", source.Count(len(formats), "event"))
	lost, err := rec.Run(sink, stop)
	if err != nil {
		return fail(stderr, err)
	}
	for cpu, n := range lost {
		if n > 0 {
			fmt.Fprintf(stderr, "ebtrace: CPU %d lost %d events (a larger --buffer-size keeps more)\n", cpu, n)
		}
	}
	if o.outFile != "" && o.verbose {
		fmt.Fprintf(stderr, "ebtrace record: wrote %s (%s)\n", filepath.Clean(o.outFile), o.format)
	}
	return 0
}

// predicateLoader compiles and loads the bpftrace predicate pred for each
// event, checking the process first as record's own programs do: only
// pid's events, or with pid 0 all but ebtrace's.
func predicateLoader(pred string, pid int, stderr io.Writer) record.ProgramLoader {
	expr := strings.TrimSpace(pred)
	if len(expr) >= 2 && expr[0] == '/' && expr[len(expr)-1] == '/' {
		expr = expr[1 : len(expr)-1]
	}
	check := fmt.Sprintf("pid != %d", os.Getpid())
	if pid != 0 {
		check = fmt.Sprintf("pid == %d", pid)
	}
	env := newEnv(stderr, pid)
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

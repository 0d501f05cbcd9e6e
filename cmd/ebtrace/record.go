package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/ebtrace/ebtrace"
)

// recordUsage is the help of ebtrace record.
var recordUsage = sync.OnceValue(func() string {
	return usageText(`USAGE:
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
    ebtrace record -e 'syscalls:sys_*_read' -c 'cat /etc/hostname' -o read.ebt
`)
})

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
			"trace-event format (Perfetto opens it), one ending in .ebt an\n" +
			"ebt recording, unless -f says otherwise", set: text(&o.outFile)},
		{short: 'f', value: "FORMAT", help: "text (default, like the kernel's trace file), json (one\n" +
			"object per line and event), chrome or ebt (raw events with\n" +
			"their formats, the clock and the kernel's identity, to replay)", set: text(&o.format)},
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
		switch {
		case strings.HasSuffix(o.outFile, ".json"):
			o.format = "chrome"
		case strings.HasSuffix(o.outFile, ".ebt"):
			o.format = "ebt"
		default:
			o.format = "text"
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
		io.WriteString(stdout, recordUsage())
		return 0
	}
	// Watched from the start, so that a signal while the filters load
	// still ends the recording cleanly.
	ctx, unwatch := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer unwatch()
	opts := ebtrace.RecordOptions{
		Events: o.events, Filter: o.filter, FilterBT: o.filterBT, PID: o.pid,
		Format: ebtrace.RecordFormat(o.format), BufferSize: o.bufferSize, Verbose: o.verbose, Log: stderr,
	}
	if o.command != "" {
		if opts.Command, err = splitCommand(o.command); err != nil {
			return fail(stderr, err)
		}
	}
	rec, err := ebtrace.OpenRecording(opts)
	if err != nil {
		return fail(stderr, err)
	}
	defer rec.Close()
	// The output file is created once the filters compiled and loaded:
	// a mistake in them leaves an earlier recording in place.
	out := &outputFile{path: o.outFile, w: stdout}
	defer out.Close()
	fmt.Fprintf(stderr, "Recording %s; Ctrl-C to stop\n", count(rec.Events(), "event"))
	lost, err := rec.Run(ctx, out)
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

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ebtrace/ebtrace"
)

// runUsage is the help of ebtrace run.
var runUsage = sync.OnceValue(func() string {
	return usageText(`USAGE:
    ebtrace run [options] OBJECT.o

Runs a BPF object compiled from C (clang -O2 -g -target bpf), as libbpf
and the kernel's 2015 loader do: every program is attached by its section
name (tracepoint/CAT/NAME, tp/, raw_tp/, raw_tracepoint/, tp_btf/, kprobe/,
kretprobe/, ksyscall/, kretsyscall/, fentry/, fexit/, uprobe/PATH:FUNC,
uretprobe/, usdt/PATH:PROVIDER:NAME, perf_event, and the 2015 loader's
events/CAT/NAME), with CO-RE relocations applied against the running
kernel. Programs in a section without a target are loaded, not attached:
program arrays declared with .values = { ... } reach them by tail calls.

While it runs, ebtrace shows the object's bpf_printk lines and the records
of its ring buffers and perf event arrays, typed when the map carries
__attribute__((btf_decl_tag("ebtrace.record=struct NAME"))). At exit it
shows every map, keys and values typed by BTF, and the globals of .data
and .bss.
`, runFlags(&runOptions{}), `Ctrl-C, SIGTERM, the end of -c's command or -p's process, or --duration stop
it; nothing stays attached or loaded, and nothing stays pinned without --pin.

EXAMPLES:
    clang -O2 -g -target bpf -I/usr/include/$(uname -m)-linux-gnu -c examples/2015/tracex2.bpf.c -o tracex2.bpf.o
    ebtrace run tracex2.bpf.o --hist write_sizes --duration 5s
    ebtrace run -l tracex2.bpf.o
`)
})

// runOptions are the parsed arguments of ebtrace run.
type runOptions struct {
	object    string
	list      bool
	pid       int
	command   string
	duration  time.Duration
	set       []string
	hist      []string
	heatmap   []string
	interval  time.Duration
	text      bool
	perfEvent string
	pin       string
	format    string
	outFile   string
	help      bool
}

// runFlags is the flag table of ebtrace run, storing into o.
func runFlags(o *runOptions) []flag {
	return []flag{
		{short: 'l', help: "list the programs and where each attaches; load nothing", on: &o.list},
		{short: 'c', value: "CMD", help: "run CMD once attached; stop when it exits", set: text(&o.command)},
		{short: 'p', value: "PID", help: "stop when process PID exits", set: processID(&o.pid)},
		{long: "duration", value: "D", help: "stop after D (5s, 500ms, 2m)", set: duration(&o.duration)},
		{long: "set", value: "NAME=VALUE", help: "give the const volatile global NAME a value before loading\n" +
			"(an integer, or a string for a char array); -c and -p set\n" +
			"targ_tgid, the libbpf-tools name, when the object has it", set: each(&o.set)},
		{long: "hist", value: "MAP", help: "show MAP, whose keys are log2 slots (key k counts values in\n" +
			"[2^k, 2^(k+1))), as a histogram at exit (repeatable)", set: each(&o.hist)},
		{long: "heatmap", value: "MAP", help: "each --interval, draw the counts MAP's log2 slots gained as one\n" +
			"heatmap row over 1us .. 10s (repeatable)", set: each(&o.heatmap)},
		{long: "interval", value: "D", help: "the time between heatmap rows (default 1s)", set: duration(&o.interval)},
		{short: 't', help: "draw heatmap rows with characters instead of ANSI colours", on: &o.text},
		{long: "perf-event", value: "PROBE", help: "what perf_event sections attach to, as an ebtrace probe\n" +
			"(default " + ebtrace.DefaultPerfEvent + "; interval:s:1, software:cpu-clock:1000000)", set: text(&o.perfEvent)},
		{long: "pin", value: "DIR", help: "pin every map in DIR (a bpffs directory) and leave it there", set: fileName(&o.pin)},
		{short: 'f', value: "FORMAT", help: "text (default) or json, as for scripts", set: oneOf(&o.format, "text", "json")},
		{short: 'o', value: "FILE", help: "write the output to FILE", set: fileName(&o.outFile)},
		{short: 'h', long: "help", help: "show this help", on: &o.help},
	}
}

// duration stores a positive time.Duration.
func duration(p *time.Duration) func(string) error {
	return func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return errors.New("want a duration such as 5s, 500ms or 2m")
		}
		*p = d
		return nil
	}
}

// parseRunArgs reads the command line of ebtrace run.
func parseRunArgs(args []string) (*runOptions, error) {
	o := &runOptions{interval: time.Second, format: "text"}
	positional, err := parseFlags(runFlags(o), args)
	if err != nil {
		return nil, err
	}
	switch {
	case o.help:
		return o, nil
	case len(positional) == 0:
		return nil, errors.New("run: name the BPF object to run (OBJECT.o)")
	case len(positional) > 1:
		return nil, fmt.Errorf("run: unexpected argument %s after the object %s", quoteIfNeeded(positional[1]), positional[0])
	case o.pid != 0 && o.command != "":
		return nil, errors.New("run: -p and -c exclude each other")
	}
	o.object = positional[0]
	for _, s := range o.set {
		if name, _, ok := strings.Cut(s, "="); !ok || name == "" {
			return nil, fmt.Errorf("run: --set %s: want NAME=VALUE", quoteIfNeeded(s))
		}
	}
	return o, nil
}

// runObject is `ebtrace run`; it returns the exit status.
func runObject(args []string, stdout, stderr io.Writer) int {
	o, err := parseRunArgs(args)
	if err != nil {
		return badUsage(stderr, "ebtrace run", err)
	}
	if o.help {
		io.WriteString(stdout, runUsage())
		return 0
	}
	opts := ebtrace.ObjectOptions{PerfEvent: o.perfEvent, PinDir: o.pin, PID: o.pid, Set: map[string]string{},
		Hist: o.hist, Heatmap: o.heatmap, Log: stderr}
	for _, s := range o.set {
		name, value, _ := strings.Cut(s, "=")
		opts.Set[name] = value
	}
	if o.command != "" && !o.list {
		words, err := splitCommand(o.command)
		if err != nil {
			return fail(stderr, err)
		}
		// A mistyped command is the first thing said, naming its flag,
		// before the object is read.
		if _, err := exec.LookPath(words[0]); err != nil {
			return fail(stderr, fmt.Errorf("-c: %w", err))
		}
		opts.Command = words
	}
	obj, err := ebtrace.OpenObject(o.object, opts)
	if err != nil {
		return fail(stderr, err)
	}
	defer obj.Close()
	if o.list {
		if err := obj.List(stdout); err != nil {
			return fail(stderr, err)
		}
		return 0
	}
	if err := obj.Load(); err != nil {
		var unattachable *ebtrace.UnattachableError
		if !errors.As(err, &unattachable) {
			return fail(stderr, err)
		}
		for _, err := range unattachable.Programs {
			fail(stderr, err)
		}
		return 1
	}
	// Created once the object loaded, so that a mistake leaves an
	// earlier file in place.
	out := &outputFile{path: o.outFile, w: stdout}
	defer out.Close()
	ctx, unwatch := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer unwatch()
	err = obj.Run(ctx, out, ebtrace.RunObjectOptions{Format: o.format, Interval: o.interval, Text: o.text, Duration: o.duration})
	if err != nil {
		return fail(stderr, err)
	}
	return 0
}

package main

import (
	"errors"
	"io"
	"os"
	"sync"

	"github.com/ebtrace/ebtrace"
)

// replayUsage is the help of ebtrace replay.
var replayUsage = sync.OnceValue(func() string {
	return usageText(`USAGE:
    ebtrace replay [options] SCRIPT.bt RECORDING.ebt [ARG...]
    ebtrace replay [options] -e 'PROGRAM' RECORDING.ebt [ARG...]

Runs a script over a recording made with ebtrace record -o FILE.ebt, in
ebtrace's user-space eBPF engine: on any machine, without bpf(2). Its
tracepoint probes run on the recorded events of their tracepoint, in the
order they were recorded; BEGIN before them, END after, interval probes
on the recording's clock. It prints what the live run would have printed
on those events.
`, replayFlags(&replayOptions{}), `EXAMPLES:
    ebtrace record -e 'syscalls:sys_enter_*' -o trace.ebt -c 'ls /'
    ebtrace replay -e 'tracepoint:syscalls:sys_enter_* { @[probe] = count(); }' trace.ebt
`)
})

// replayOptions are the parsed arguments of ebtrace replay.
type replayOptions struct {
	program, file, recording string
	params                   []string
	format, compat, outFile  string
	helperErrs, help         bool
}

// replayFlags is the flag table of ebtrace replay, storing into o.
func replayFlags(o *replayOptions) []flag {
	return []flag{
		{short: 'e', value: "PROGRAM", help: "replay the program given on the command line", set: text(&o.program)},
		{short: 'f', value: "FORMAT", help: "output format: text (default) or json", set: oneOf(&o.format, "text", "json")},
		{long: "compat", value: "VER", help: "print as bpftrace VER did: 0.17", set: oneOf(&o.compat, "0.17")},
		{short: 'o', value: "FILE", help: "write output to FILE instead of standard output", set: fileName(&o.outFile)},
		{short: 'k', help: "warn when a helper call fails, with the script position", on: &o.helperErrs},
		{short: 'h', long: "help", help: "show this help", on: &o.help},
	}
}

// parseReplayArgs reads the command line of ebtrace replay.
func parseReplayArgs(args []string) (*replayOptions, error) {
	o := &replayOptions{format: "text"}
	positional, err := parseFlags(replayFlags(o), args)
	if err != nil {
		return nil, err
	}
	if o.help {
		return o, nil
	}
	if o.program == "" {
		if len(positional) == 0 {
			return nil, errors.New("replay: name the script (SCRIPT.bt or -e 'PROGRAM') and the recording (RECORDING.ebt)")
		}
		o.file, positional = positional[0], positional[1:]
	}
	if len(positional) == 0 {
		return nil, errors.New("replay: name the recording to replay (RECORDING.ebt)")
	}
	o.recording, o.params = positional[0], positional[1:]
	return o, nil
}

// runReplay is `ebtrace replay`; it returns the exit status.
func runReplay(args []string, stdout, stderr io.Writer) int {
	o, err := parseReplayArgs(args)
	if err != nil {
		return badUsage(stderr, "ebtrace replay", err)
	}
	if o.help {
		io.WriteString(stdout, replayUsage())
		return 0
	}
	name, src := "stdin", o.program
	if o.file != "" {
		b, err := os.ReadFile(o.file)
		if err != nil {
			return fail(stderr, err)
		}
		name, src = o.file, string(b)
	}
	out := &outputFile{path: o.outFile, w: stdout}
	rp, err := ebtrace.CompileReplay(name, src, o.recording, ebtrace.Options{
		Params: o.params, Getenv: os.Getenv, Compat: o.compat, HelperErrors: o.helperErrs,
		Output: out, Format: ebtrace.Format(o.format), Log: stderr,
	})
	if err != nil {
		return fail(stderr, err)
	}
	code, err := rp.Run()
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(stderr, err)
	}
	return code & 0xff
}

package main

import (
	"fmt"
	"strings"
	"sync"
)

// options are the parsed command line, spelled as bpftrace spells it.
type options struct {
	program    string   // -e
	file       string   // script path or "-"
	list       bool     // -l
	pattern    string   // -l PATTERN
	verbose    bool     // -v
	command    string   // -c
	pid        int      // -p
	quiet      bool     // -q
	format     string   // -f
	compat     string   // --compat: "" for the current dialect, "0.17" for Debian's
	outFile    string   // -o
	dump       string   // -d
	dryRun     bool     // --dry-run
	btf        string   // --btf FILE
	unsafe     bool     // --unsafe
	helperErrs bool     // -k (or -kk): report failed helper calls
	info       bool     // --info
	folded     string   // --folded FILE
	flamegraph string   // --flamegraph FILE
	pprof      string   // --pprof FILE
	help       bool     // -h, --help
	version    bool     // -V, --version
	params     []string // the script's $1, $2, ...
	mode       string   // --mode: "" to trace, "test" or "bench"
	engine     string   // --engine: "kernel", "user", or "" for the kernel unless bpf(2) is refused
	test       bool     // --test, --mode test
	bench      bool     // --bench, --mode bench
}

// usage is the help of tracing, the command without a subcommand.
var usage = sync.OnceValue(func() string {
	return usageText(`USAGE:
    ebtrace [options] FILE.bt [ARG...]
    ebtrace [options] -e 'PROGRAM' [ARG...]
    ebtrace -l [PATTERN]
    ebtrace record -e CATEGORY:NAME [...]   record trace events (ebtrace record -h)
    ebtrace replay SCRIPT.bt FILE.ebt       run a script over a recording, in user space (ebtrace replay -h)
    ebtrace run OBJECT.o [...]              run a BPF object compiled from C (ebtrace run -h)
    ebtrace serve SCRIPT.bt [...]           serve maps to Prometheus and a live page (ebtrace serve -h)
    ebtrace shell                           attach and detach probes live (ebtrace shell -h)
`, tracingFlags(&options{}), `EXAMPLES:
    ebtrace -e 'tracepoint:syscalls:sys_enter_openat { printf("%s %s\n", comm, str(args.filename)); }'
    ebtrace -e 'tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }'
    ebtrace -lv 'tracepoint:syscalls:sys_enter_openat'
    ebtrace -e 'tracepoint:syscalls:sys_enter_kill /args.pid == $1/ { printf("%s\n", str($2)); }' 1234 killed

ARG... after the program are its positional parameters $1, $2, ...; $# counts them.
After --, --NAME=VALUE sets a named option the script reads with getopt("NAME", ...);
-- --help lists a script's named options.
`)
})

// tracingFlags is the flag table of tracing, storing into o.
func tracingFlags(o *options) []flag {
	return []flag{
		{short: 'e', value: "PROGRAM", help: "trace the program given on the command line", set: text(&o.program)},
		{short: 'l', value: "[PATTERN]", help: "list probes matching PATTERN (wildcards: * ?); with -v, their arguments;\n'struct NAME' (union, enum) lists kernel types, with -v their definitions", on: &o.list},
		{short: 'c', value: "CMD", help: "run CMD once every probe is attached; stop when it exits (cpid is its PID)", set: text(&o.command)},
		{short: 'p', value: "PID", help: "stop when process PID exits", set: processID(&o.pid)},
		{short: 'f', value: "FORMAT", help: "output format: text (default) or json", set: oneOf(&o.format, "text", "json")},
		{long: "compat", value: "VER", help: "print as bpftrace VER did: 0.17 (stats as 'count 2, average 3, total 6',\nyes/no values as 1 and 0, '@h: ' over histograms); the default is the current release's layout", set: oneOf(&o.compat, "0.17")},
		{short: 'o', value: "FILE", help: "write output to FILE instead of standard output", set: text(&o.outFile)},
		{short: 'q', help: `do not print the "Attached N probes" message`, on: &o.quiet},
		{short: 'v', help: "verbose: the verifier's log when a program is rejected", on: &o.verbose},
		{short: 'd', value: "STAGE", help: "print a compiler stage and stop: ast, check, plan, asm or core (CO-RE relocations)",
			set: oneOf(&o.dump, "ast", "parse", "check", "plan", "asm", "core")},
		{long: "btf", value: "FILE", help: "with -d core, resolve relocations against another kernel's BTF (vmlinux or raw)", set: text(&o.btf)},
		{long: "dry-run", help: "compile and load through the verifier, attach nothing", on: &o.dryRun},
		{long: "engine", value: "NAME", help: "what runs the programs: kernel, or user (ebtrace's eBPF engine in user\nspace, on trace events read through tracefs: no bpf(2)); the kernel\nunless bpf(2) is refused", set: oneOf(&o.engine, "kernel", "user")},
		{long: "mode", value: "MODE", help: "test: run the test:NAME probes instead of tracing, report each (exit 1 if one fails);\nbench: run each bench:NAME probe many times instead of tracing, report its mean time",
			set: oneOf(&o.mode, "test", "bench")},
		{long: "test", help: "the same as --mode test", on: &o.test},
		{long: "bench", help: "the same as --mode bench", on: &o.bench},
		{long: "unsafe", help: "allow functions that change the system: system(), signal(), override()", on: &o.unsafe},
		{short: 'k', help: "warn when a probe read or map update fails at run time", on: &o.helperErrs},
		{long: "info", help: "print what the running kernel supports", on: &o.info},
		{long: "folded", value: "FILE", help: "at exit, write stack maps in the folded format flame graph tools read", set: fileName(&o.folded)},
		{long: "flamegraph", value: "FILE.svg", help: "at exit, draw stack maps as an interactive flame graph", set: fileName(&o.flamegraph)},
		{long: "pprof", value: "FILE", help: "at exit, write stack maps as a pprof profile (go tool pprof -http=: FILE)", set: fileName(&o.pprof)},
		{short: 'h', long: "help", help: "show this help", on: &o.help},
		{short: 'V', long: "version", help: "print the version", on: &o.version},
	}
}

// parseArgs reads the command line of tracing with tracingFlags, then
// checks that the options it found go together.
func parseArgs(args []string) (*options, error) {
	o := &options{format: "text"}
	positional, err := parseFlags(tracingFlags(o), args)
	if err != nil {
		return nil, err
	}
	for _, m := range []struct {
		on   bool
		mode string
	}{{o.test, "test"}, {o.bench, "bench"}} {
		if m.on && o.mode != "" && o.mode != m.mode {
			return nil, fmt.Errorf("--%s and --%s are two modes: give one", m.mode, o.mode)
		}
		if m.on {
			o.mode = m.mode
		}
	}
	if o.mode != "" && (o.command != "" || o.pid != 0) {
		return nil, fmt.Errorf("--mode %s runs the script's %s probes, not a trace: -c and -p do not go with it", o.mode, o.mode)
	}
	if o.btf != "" && o.dump != "core" {
		return nil, fmt.Errorf("--btf FILE goes with -d core: it shows how the script's CO-RE relocations resolve for another kernel")
	}
	if o.list {
		if len(positional) > 1 {
			return nil, fmt.Errorf("-l takes at most one pattern")
		}
		if len(positional) == 1 {
			o.pattern = positional[0]
		}
		return o, nil
	}
	switch {
	case o.help || o.version || o.info:
	case o.program != "":
		o.params = positional
	case len(positional) == 0:
		return nil, fmt.Errorf("no program given: use -e 'PROGRAM' or a script file")
	default:
		o.file, o.params = positional[0], positional[1:]
	}
	return o, nil
}

// splitCommand splits a -c command line into words, honouring single and
// double quotes and backslash escapes as a shell would, without expansion.
func splitCommand(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && quote == '"' && i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote in -c command", quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("-c needs a command")
	}
	return words, nil
}

package main

import (
	"fmt"
	"strings"
)

// options are the parsed command line, spelled as bpftrace spells it.
type options struct {
	program    string // -e
	file       string // script path or "-"
	list       bool   // -l
	pattern    string // -l PATTERN
	verbose    bool   // -v
	command    string // -c
	pid        int    // -p
	quiet      bool   // -q
	format     string // -f
	outFile    string // -o
	dump       string // -d
	dryRun     bool   // --dry-run
	btf        string // --btf FILE
	unsafe     bool   // --unsafe
	helperErrs bool   // -k (or -kk): report failed helper calls
	info       bool   // --info
	folded     string // --folded FILE
	flamegraph string // --flamegraph FILE
	pprof      string // --pprof FILE
	help       bool   // -h, --help
	version    bool   // -V, --version
	positional []string
	params     []string // the script's $1, $2, ...
}

const usage = `USAGE:
    ebtrace [options] FILE.bt [ARG...]
    ebtrace [options] -e 'PROGRAM' [ARG...]
    ebtrace -l [PATTERN]
    ebtrace record -e CATEGORY:NAME [...]   record trace events (ebtrace record -h)

OPTIONS:
    -e PROGRAM     trace the program given on the command line
    -l [PATTERN]   list probes matching PATTERN (wildcards: * ?); with -v, their arguments
    -c CMD         run CMD once every probe is attached; stop when it exits (cpid is its PID)
    -p PID         stop when process PID exits
    -f FORMAT      output format: text (default) or json
    -o FILE        write output to FILE instead of standard output
    -q             do not print the "Attached N probes" message
    -v             verbose: the verifier's log when a program is rejected
    -d STAGE       print a compiler stage and stop: ast, check, plan, asm or core (CO-RE relocations)
    --btf FILE     with -d core, resolve relocations against another kernel's BTF (vmlinux or raw)
    --dry-run      compile and load through the verifier, attach nothing
    --unsafe       allow functions that change the system: system(), signal(), override()
    -k             warn when a probe read or map update fails at run time
    --info         print what the running kernel supports
    --folded FILE  at exit, write stack maps in the folded format flame graph tools read
    --flamegraph FILE.svg
                   at exit, draw stack maps as an interactive flame graph
    --pprof FILE   at exit, write stack maps as a pprof profile (go tool pprof -http=: FILE)
    -h, --help     show this help
    -V, --version  print the version

EXAMPLES:
    ebtrace -e 'tracepoint:syscalls:sys_enter_openat { printf("%s %s\n", comm, str(args.filename)); }'
    ebtrace -e 'tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }'
    ebtrace -lv 'tracepoint:syscalls:sys_enter_openat'
    ebtrace -e 'tracepoint:syscalls:sys_enter_kill /args.pid == $1/ { printf("%s\n", str($2)); }' 1234 killed

ARG... after the program are its positional parameters $1, $2, ...; $# counts them.
`

// stackFile returns, for a stack-output option (--folded FILE or
// --folded=FILE and the like), the field it sets; nil for other arguments.
func stackFile(arg string) func(*options) *string {
	name, _, _ := strings.Cut(arg, "=")
	switch name {
	case "--folded":
		return func(o *options) *string { return &o.folded }
	case "--flamegraph":
		return func(o *options) *string { return &o.flamegraph }
	case "--pprof":
		return func(o *options) *string { return &o.pprof }
	}
	return nil
}

// parseArgs reads bpftrace-style arguments: short flags may be combined
// (-lv), values may be attached (-fjson) or separate (-f json).
func parseArgs(args []string) (*options, error) {
	o := &options{format: "text"}
	for i := 0; i < len(args); i++ {
		a := args[i]
		value := func(flag string) (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("option %s needs a value", flag)
			}
			i++
			return args[i], nil
		}
		var err error
		switch {
		case a == "--dry-run":
			o.dryRun = true
		case a == "--btf" || strings.HasPrefix(a, "--btf="):
			v, attached := strings.CutPrefix(a, "--btf=")
			if !attached {
				if v, err = value("--btf"); err != nil {
					return nil, err
				}
			}
			o.btf = v
		case a == "--unsafe":
			o.unsafe = true
		case a == "--info":
			o.info = true
		case stackFile(a) != nil:
			name, v, attached := strings.Cut(a[2:], "=")
			if !attached {
				if v, err = value("--" + name); err != nil {
					return nil, err
				}
			}
			if v == "" {
				return nil, fmt.Errorf("option --%s needs a file name", name)
			}
			*stackFile(a)(o) = v
		case a == "--help":
			o.help = true
		case a == "--version":
			o.version = true
		case a == "--":
			o.positional = append(o.positional, args[i+1:]...)
			i = len(args)
		case a == "-" || !strings.HasPrefix(a, "-"):
			o.positional = append(o.positional, a)
		case strings.HasPrefix(a, "--"):
			return nil, fmt.Errorf("unknown option %s", a)
		default:
			for j := 1; j < len(a) && err == nil; j++ {
				flag := a[j]
				rest := a[j+1:]
				takes := strings.IndexByte("ecpfodDB", flag) >= 0
				var v string
				if takes {
					if rest != "" {
						v = rest
					} else if v, err = value("-" + string(flag)); err != nil {
						return nil, err
					}
					j = len(a)
				}
				switch flag {
				case 'e':
					o.program = v
				case 'c':
					o.command = v
				case 'p':
					if _, err = fmt.Sscanf(v, "%d", &o.pid); err != nil || o.pid <= 0 {
						return nil, fmt.Errorf("-p needs a process ID, got %q", v)
					}
				case 'f':
					o.format = v
				case 'o':
					o.outFile = v
				case 'd':
					o.dump = v
				case 'l':
					o.list = true
				case 'v':
					o.verbose = true
				case 'q':
					o.quiet = true
				case 'k':
					o.helperErrs = true
				case 'h':
					o.help = true
				case 'V':
					o.version = true
				default:
					return nil, fmt.Errorf("unknown option -%c", flag)
				}
			}
		}
	}
	if o.format != "text" && o.format != "json" {
		return nil, fmt.Errorf("-f takes text or json, not %q", o.format)
	}
	if o.btf != "" && o.dump != "core" {
		return nil, fmt.Errorf("--btf FILE goes with -d core: it shows how the script's CO-RE relocations resolve for another kernel")
	}
	switch o.dump {
	case "", "ast", "parse", "check", "plan", "asm", "core":
	default:
		return nil, fmt.Errorf("-d takes ast, check, plan, asm or core, not %q", o.dump)
	}
	if o.list {
		if len(o.positional) > 1 {
			return nil, fmt.Errorf("-l takes at most one pattern")
		}
		if len(o.positional) == 1 {
			o.pattern = o.positional[0]
		}
		return o, nil
	}
	switch {
	case o.help || o.version || o.info:
	case o.program != "":
		o.params = o.positional
	case len(o.positional) == 0:
		return nil, fmt.Errorf("no program given: use -e 'PROGRAM' or a script file")
	default:
		o.file, o.params = o.positional[0], o.positional[1:]
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

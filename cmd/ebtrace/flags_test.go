package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // the options, or the error
	}{
		{[]string{"-lv"}, "list true pattern  verbose true"},
		{[]string{"-l", "t:sched:*"}, "list true pattern t:sched:* verbose false"},
		{[]string{"-p123", "-e", "BEGIN{}"}, "program BEGIN{} pid 123 params []"},
		{[]string{"-p", "123", "-qe", "BEGIN{}", "a", "b"}, "program BEGIN{} pid 123 params [a b] quiet true"},
		{[]string{"-kqfjson", "x.bt", "1"}, "file x.bt params [1] format json quiet true k true"},
		{[]string{"-", "1"}, "file - params [1]"},
		{[]string{"-e", "BEGIN{}", "--", "-v", "--x"}, "program BEGIN{} params [-v --x]"},
		{[]string{"--btf=v", "-d", "core", "x.bt"}, "file x.bt params [] dump core btf v"},
		{[]string{"--btf", "v", "-dcore", "x.bt"}, "file x.bt params [] dump core btf v"},
		{[]string{"--folded=a", "--flamegraph", "b.svg", "--pprof", "c", "--dry-run", "--unsafe", "x.bt"},
			"file x.bt params [] stacks a b.svg c dry-run true unsafe true"},
		{[]string{"--help"}, "help true"},
		{[]string{"-V"}, "version true"},
		{[]string{"-f", "xml", "x.bt"}, "-f xml: want text or json"},
		{[]string{"-d", "ir", "x.bt"}, "-d ir: want ast, parse, check, plan, asm or core"},
		{[]string{"--folded=", "x.bt"}, `--folded "": want a file name`},
		{[]string{"--dry-run=yes", "x.bt"}, "option --dry-run takes no value"},
		{[]string{"--btf", "v", "x.bt"}, "--btf FILE goes with -d core: it shows how the script's CO-RE relocations resolve for another kernel"},
		{[]string{"-l", "a", "b"}, "-l takes at most one pattern"},
		{[]string{"-v"}, "no program given: use -e 'PROGRAM' or a script file"},
		{[]string{"-lx"}, "unknown option -x"},
		{[]string{"--test", "x.bt"}, "file x.bt params [] mode test"},
		{[]string{"--mode=bench", "--bench", "x.bt"}, "file x.bt params [] mode bench"},
		{[]string{"--mode", "test", "x.bt"}, "file x.bt params [] mode test"},
		{[]string{"--mode", "fmt", "x.bt"}, "--mode fmt: want test or bench"},
		{[]string{"--test", "--bench", "x.bt"}, "--bench and --test are two modes: give one"},
		{[]string{"--mode", "test", "--bench", "x.bt"}, "--bench and --test are two modes: give one"},
		{[]string{"--bench", "-c", "ls", "x.bt"}, "--mode bench runs the script's bench probes, not a trace: -c and -p do not go with it"},
	} {
		o, err := parseArgs(tc.args)
		got := fmt.Sprint(err)
		if err == nil {
			got = describe(o)
		}
		if got != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.args, got, tc.want)
		}
	}
}

// describe lists the options that differ from their defaults.
func describe(o *options) string {
	var parts []string
	add := func(name string, v any, set bool) {
		if set {
			parts = append(parts, fmt.Sprintf("%s %v", name, v))
		}
	}
	add("list", o.list, o.list)
	add("pattern", o.pattern, o.list)
	add("verbose", o.verbose, o.list)
	add("program", o.program, o.program != "")
	add("file", o.file, o.file != "")
	add("pid", o.pid, o.pid != 0)
	add("params", o.params, o.program != "" || o.file != "")
	add("format", o.format, o.format != "text")
	add("quiet", o.quiet, o.quiet)
	add("k", o.helperErrs, o.helperErrs)
	add("dump", o.dump, o.dump != "")
	add("btf", o.btf, o.btf != "")
	add("stacks", o.folded+" "+o.flamegraph+" "+o.pprof, o.folded != "")
	add("dry-run", o.dryRun, o.dryRun)
	add("unsafe", o.unsafe, o.unsafe)
	add("mode", o.mode, o.mode != "")
	add("help", o.help, o.help)
	add("version", o.version, o.version)
	return strings.Join(parts, " ")
}

// TestFlagErrorsAgree gives tracing and record the same mistakes: each
// must get the same message from both.
func TestFlagErrorsAgree(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-p", "abc"}, "-p abc: want a process ID"},
		{[]string{"-pabc"}, "-p abc: want a process ID"},
		{[]string{"-p", "0"}, "-p 0: want a process ID"},
		{[]string{"-p", "-3"}, "-p -3: want a process ID"},
		{[]string{"-p", "12x"}, "-p 12x: want a process ID"},
		{[]string{"-p", ""}, `-p "": want a process ID`},
		{[]string{"-p", "1 2"}, `-p "1 2": want a process ID`},
		{[]string{"-e", "a:b", "-p"}, "option -p needs a value"},
		{[]string{"-v", "-e"}, "option -e needs a value"},
		{[]string{"-Z"}, "unknown option -Z"},
		{[]string{"-vZ"}, "unknown option -Z"},
		{[]string{"--nope"}, "unknown option --nope"},
		{[]string{"--nope=1"}, "unknown option --nope"},
		{[]string{"--help=yes"}, "option --help takes no value"},
	} {
		_, tracingErr := parseArgs(tc.args)
		_, recordErr := parseRecordArgs(tc.args)
		if got := fmt.Sprint(tracingErr); got != tc.want {
			t.Errorf("ebtrace %q: %s, want %s", tc.args, got, tc.want)
		}
		if got := fmt.Sprint(recordErr); got != tc.want {
			t.Errorf("ebtrace record %q: %s, want %s", tc.args, got, tc.want)
		}
	}
}

// TestBadFlagStderr runs the binary: a bad flag costs one line of error
// and one pointer to the help, not the help itself, and exit status 1.
func TestBadFlagStderr(t *testing.T) {
	bin := testutil.Build(t, "./cmd/ebtrace")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-Z"}, "ebtrace: unknown option -Z\nTry 'ebtrace -h' for more information.\n"},
		{[]string{"-e", "BEGIN{}", "-p", "abc"}, "ebtrace: -p abc: want a process ID\nTry 'ebtrace -h' for more information.\n"},
		{[]string{"record", "-p", "abc", "-e", "a:b"}, "ebtrace: -p abc: want a process ID\nTry 'ebtrace record -h' for more information.\n"},
		{[]string{"record", "--nope"}, "ebtrace: unknown option --nope\nTry 'ebtrace record -h' for more information.\n"},
		{[]string{"record", "syscalls:sys_enter_openat"},
			"ebtrace: record: unexpected argument syscalls:sys_enter_openat (events are named with -e)\nTry 'ebtrace record -h' for more information.\n"},
	} {
		cmd := exec.Command(bin, tc.args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("ebtrace %q: %v, want exit status 1", tc.args, err)
		}
		if stderr.String() != tc.want || stdout.Len() != 0 {
			t.Errorf("ebtrace %q:\nstderr %q\nstdout %q\nwant stderr %q", tc.args, stderr.String(), stdout.String(), tc.want)
		}
	}
}

// TestUsageFromTable checks the flag tables themselves: no name twice,
// each row a switch or a flag with a value, and each row in the help.
func TestUsageFromTable(t *testing.T) {
	for name, tc := range map[string]struct {
		table []flag
		usage string
	}{
		"ebtrace":        {tracingFlags(&options{}), usage()},
		"ebtrace record": {recordFlags(&recordOptions{}), recordUsage()},
	} {
		seen := map[string]bool{}
		for _, f := range tc.table {
			for _, n := range []string{string(f.short), f.long} {
				if n != "\x00" && n != "" && seen[n] {
					t.Errorf("%s: two flags named %s", name, n)
				}
				seen[n] = true
			}
			if (f.on == nil) == (f.set == nil) {
				t.Errorf("%s: %s must be either a switch or take a value", name, f.synopsis())
			}
			first, _, _ := strings.Cut(f.help, "\n")
			if !strings.Contains(tc.usage, "    "+f.synopsis()) || !strings.Contains(tc.usage, first+"\n") {
				t.Errorf("%s: the help lacks %s", name, f.synopsis())
			}
		}
	}
	want := `OPTIONS:
    -e EVENT          record the trace event CATEGORY:NAME (repeatable; wildcards
                      such as syscalls:sys_*_write name every event they match)
`
	if !strings.Contains(recordUsage(), want) {
		t.Errorf("ebtrace record -h lacks\n%s", want)
	}
	want = `
    --flamegraph FILE.svg
                   at exit, draw stack maps as an interactive flame graph
`
	if !strings.Contains(usage(), want) {
		t.Errorf("ebtrace -h lacks the --flamegraph entry on two lines:\n%s", usage())
	}
}

package ebtrace_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace"
)

// With Output, a session writes what the command line prints, and Events
// delivers only the Exit event.
func TestOutput(t *testing.T) {
	requireKernel(t)
	var out, log bytes.Buffer
	sess, _ := start(t, `BEGIN { printf("hi %d\n", 7); @x = 3; @h = hist(5); exit(2); }`,
		ebtrace.Options{Output: &out, Log: &log})
	var events []ebtrace.Event
	for ev := range sess.Events() {
		events = append(events, ev)
	}
	if err := sess.Wait(); err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0] != (ebtrace.Exit{Code: 2, Reason: ebtrace.ExitScript}) {
		t.Errorf("events %v, want only the Exit", events)
	}
	want := "hi 7\n\n\n@h:\n[4, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\n@x: 3\n"
	if out.String() != want {
		t.Errorf("output:\n%q\nwant:\n%q", out.String(), want)
	}
	if log.String() != "Attached 1 probe\n" {
		t.Errorf("log %q, want the Attached line", log.String())
	}
	m, err := sess.Map("@x")
	if err != nil || len(m.Entries) != 1 || m.Entries[0].Value != int64(3) {
		t.Errorf("@x after exit: %+v, %v", m, err)
	}
}

// ModeTest runs the test probes, not the event probes; a failed test makes
// the exit code 1. Compat and JSON change the layout.
func TestModeTest(t *testing.T) {
	requireKernel(t)
	src := `test:pass { } test:fail { return 1; } tracepoint:syscalls:sys_enter_getppid { @never = 1; }`
	var out bytes.Buffer
	sess, _ := start(t, src, ebtrace.Options{Output: &out, Mode: ebtrace.ModeTest, Format: ebtrace.FormatJSON})
	if err := sess.Wait(); err != nil {
		t.Fatal(err)
	}
	if sess.ExitCode() != 1 {
		t.Errorf("exit code %d, want 1", sess.ExitCode())
	}
	want := `{"type": "attached_probes", "data": {"probes": 2}}
{"type": "test", "data": {"name": "test:pass", "passed": true, "reason": "", "output": ""}}
{"type": "test", "data": {"name": "test:fail", "passed": false, "reason": "returned 1", "output": ""}}
`
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}

// Options that do not go together are refused at Compile.
func TestOptionMistakes(t *testing.T) {
	for _, c := range []struct {
		opts ebtrace.Options
		src  string
		want string
	}{
		{ebtrace.Options{Compat: "0.20"}, `BEGIN { }`, `compat "0.20": ebtrace keeps the behaviour of bpftrace 0.17 ("0.17") or of the current bpftrace ("")`},
		{ebtrace.Options{Format: "yaml"}, `BEGIN { }`, `format "yaml": the formats are "text" and "json"`},
		{ebtrace.Options{Mode: ebtrace.ModeBench}, `bench:x { }`, "mode bench writes its results to Options.Output, which is not set"},
		{ebtrace.Options{Mode: ebtrace.ModeTest, Output: &bytes.Buffer{}}, `BEGIN { }`, "mode test: the script has no test probe (test:NAME { ... })"},
		{ebtrace.Options{Params: []string{"--lenght=3"}}, `BEGIN { $n = getopt("length", 1); }`, "the script has no option --lenght; it reads --length (did you mean --length?); -- --help lists them"},
	} {
		_, err := ebtrace.Compile("test.bt", c.src, c.opts)
		if err == nil || err.Error() != c.want {
			t.Errorf("%+v: got %v, want %s", c.opts, err, c.want)
		}
	}
}

// Getenv supplies the config Config leaves out; Config wins.
func TestGetenv(t *testing.T) {
	requireKernel(t)
	getenv := func(name string) string {
		return map[string]string{"BPFTRACE_PRINT_MAPS_ON_EXIT": "0"}[name]
	}
	for _, c := range []struct {
		config map[string]string
		want   string
	}{
		{nil, "hi\n"},
		{map[string]string{"print_maps_on_exit": "1"}, "hi\n\n\n@x: 1\n"},
	} {
		var out bytes.Buffer
		sess, _ := start(t, `BEGIN { printf("hi\n"); @x = 1; exit(); }`, ebtrace.Options{Output: &out, Getenv: getenv, Config: c.config})
		if err := sess.Wait(); err != nil {
			t.Fatal(err)
		}
		if out.String() != c.want {
			t.Errorf("config %v: output %q, want %q", c.config, out.String(), c.want)
		}
	}
}

// The command runs only once the probes are attached: its own execve is
// traced, as with bpftrace's -c.
func TestCommandExec(t *testing.T) {
	requireKernel(t)
	sess, _ := start(t, `tracepoint:syscalls:sys_enter_execve /pid == cpid/ { @execs = count(); }`,
		ebtrace.Options{Command: []string{"true"}})
	if err := sess.Wait(); err != nil {
		t.Fatal(err)
	}
	m, err := sess.Map("@execs")
	if err != nil || len(m.Entries) != 1 || m.Entries[0].Value != int64(1) {
		t.Errorf("@execs: %+v, %v; want one execve", m, err)
	}
}

// Dump writes a stage; Verify loads through the verifier without
// attaching; NamedOptions lists getopt()'s options.
func TestScriptTools(t *testing.T) {
	requireKernel(t)
	script, err := ebtrace.Compile("test.bt", `tracepoint:syscalls:sys_enter_getppid { @n = getopt("n", 3); @s[kstack] = count(); }`, ebtrace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := script.Dump(&b, "check", ""); err != nil || !strings.Contains(b.String(), "@n: scalar") {
		t.Errorf("check dump %q, %v", b.String(), err)
	}
	if err := script.Dump(&b, "llvm", ""); err == nil || err.Error() != `dump stage "llvm": the stages are ast, check, plan, asm, core` {
		t.Errorf("unknown stage: %v", err)
	}
	if got := script.NamedOptions(); len(got) != 1 || got[0].Name != "n" || got[0].Default != "3" {
		t.Errorf("named options %+v", got)
	}
	if got := script.StackMaps(); len(got) != 1 || got[0] != "@s" {
		t.Errorf("stack maps %v, want [@s]", got)
	}
	v, err := script.Verify()
	if err != nil || v.Verified != 1 {
		t.Errorf("verify: %+v, %v", v, err)
	}
	var listed bytes.Buffer
	if err := ebtrace.List(&listed, "tracepoint:syscalls:sys_enter_getppi?", ebtrace.ListOptions{}); err != nil || listed.String() != "tracepoint:syscalls:sys_enter_getppid\n" {
		t.Errorf("list %q, %v", listed.String(), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := script.Start(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("start with a cancelled context: %v", err)
	}
}

// A full sum() map's losses count its dropped updates too, not their
// values (the count slots keep both).
func TestLossesOfSums(t *testing.T) {
	requireKernel(t)
	sess, cancel := start(t, fmt.Sprintf(`tracepoint:syscalls:sys_enter_getppid /pid == %d/ { @bytes[pid, nsecs] = sum(1000); }`, os.Getpid()),
		ebtrace.Options{Config: map[string]string{"max_map_keys": "2"}})
	defer cancel()
	for range 5 {
		unix.Getppid()
	}
	losses, err := sess.Losses()
	if err != nil || losses.MapFull["@bytes"] != 3 {
		t.Errorf("losses %+v, %v; want 3 updates of @bytes dropped", losses, err)
	}
}

// Losses counts updates a full map dropped; with Stats, Probes counts each
// probe's runs; KeyNames and Counter say what the script says of a map.
func TestLossesAndProbes(t *testing.T) {
	requireKernel(t)
	sess, cancel := start(t, fmt.Sprintf(`tracepoint:syscalls:sys_enter_getppid /pid == %d/ { @calls[pid, nsecs] = count(); }`, os.Getpid()),
		ebtrace.Options{Stats: true, Config: map[string]string{"max_map_keys": "2"}})
	for range 5 {
		unix.Getppid()
	}
	losses, err := sess.Losses()
	if err != nil || losses.MapFull["@calls"] != 3 {
		t.Errorf("losses %+v, %v; want 3 updates of @calls dropped", losses, err)
	}
	probes, err := sess.Probes()
	if err != nil || len(probes) != 1 || probes[0].Probe != "tracepoint:syscalls:sys_enter_getppid" || probes[0].Runs < 5 || probes[0].RunTime <= 0 {
		t.Errorf("probes %+v, %v; want at least 5 runs", probes, err)
	}
	m, err := sess.Map("@calls")
	if err != nil || !m.Counter || !reflect.DeepEqual(m.KeyNames, []string{"pid", "nsecs"}) || len(m.Entries) != 2 {
		t.Errorf("@calls %+v, %v", m, err)
	}
	cancel()
	if err := sess.Wait(); err != nil {
		t.Fatal(err)
	}
	if after, _ := sess.Losses(); after.MapFull["@calls"] != 3 {
		t.Errorf("losses after the end %+v", after)
	}
}

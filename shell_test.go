package ebtrace_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

func TestInputComplete(t *testing.T) {
	for in, want := range map[string]bool{
		"BEGIN { @x = 1; }\n":                    true,
		"tracepoint:syscalls:sys_enter_read {\n": false,
		"BEGIN { printf(\"}\"); \n":              false,
		"BEGIN { /* } */\n":                      false,
		"BEGIN { /* } */ }\n":                    true,
		"print(@x)\n":                            true,
		".probes\n":                              true,
	} {
		if got := ebtrace.InputComplete(in); got != want {
			t.Errorf("InputComplete(%q) = %v, want %v", in, got, want)
		}
	}
}

// newShell opens a shell on the live kernel, closed when the test ends.
func newShell(t *testing.T, out, log *testutil.Buffer) *ebtrace.Shell {
	t.Helper()
	requireKernel(t)
	sh, err := ebtrace.NewShell(ebtrace.ShellOptions{Out: out, Log: log})
	testutil.SkipUnsupported(t, err)
	t.Cleanup(func() { sh.Close() })
	return sh
}

// TestShell adds blocks to a shell one input at a time while this
// process calls getppid(2), reads a map and the probes' statistics
// meanwhile, detaches a block, and closes: END runs, the maps print,
// nothing stays attached.
func TestShell(t *testing.T) {
	var out, log testutil.Buffer
	progs, links := testutil.BPFObjects(t, os.Getpid())
	sh := newShell(t, &out, &log)
	pid := os.Getpid()
	added, err := sh.Add(fmt.Sprintf(`tracepoint:syscalls:sys_enter_getppid /pid == %d/ { @calls = count(); @where[kstack(1)] = count(); }`, pid))
	if err != nil {
		t.Fatal(err)
	}
	if want := []ebtrace.ShellProbe{{ID: 1, Name: "tracepoint:syscalls:sys_enter_getppid", Kind: ebtrace.ProbeEvent, Programs: 1}}; !reflect.DeepEqual(added, want) {
		t.Errorf("added %+v, want %+v", added, want)
	}
	var said bytes.Buffer
	if err := sh.Do(fmt.Sprintf("tracepoint:syscalls:sys_exit_getppid /pid == %d/ { @exits = count(); printf(\"exit %%d\\n\", @exits); }\nBEGIN { printf(\"begin\\n\"); } END { printf(\"end\\n\"); }", pid), &said); err != nil {
		t.Fatal(err)
	}
	if want := "attached #2: tracepoint:syscalls:sys_exit_getppid\nran #3: BEGIN\nkept #4: END (runs at .quit)\n"; said.String() != want {
		t.Errorf("Do said %q, want %q", said.String(), want)
	}
	const calls = 3
	for range calls {
		unix.Getppid()
	}
	m, err := sh.Map("calls")
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, m); n != calls {
		t.Errorf("@calls = %d, want %d", n, calls)
	}
	// Stacks come as frames, not as the text the shell prints.
	m, err = sh.Map("@where")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Entries) != 1 || len(m.Entries[0].Key) != 1 || m.Entries[0].Value != int64(calls) {
		t.Fatalf("@where: %+v, want one stack counted %d times", m, calls)
	}
	if frames, ok := m.Entries[0].Key[0].([]ebtrace.Frame); !ok || len(frames) != 1 || frames[0].Address == 0 {
		t.Errorf("@where's key is %#v, want one frame", m.Entries[0].Key[0])
	}
	if _, err := sh.Map("@nothere"); err == nil || err.Error() != "no map @nothere; the session has @calls, @exits, @where" {
		t.Errorf("an unknown map: %v", err)
	}

	probes, err := sh.Probes()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range probes {
		got = append(got, fmt.Sprintf("#%d %s %s ran=%v programs=%d", p.ID, p.Kind, p.Name, p.Ran, p.Programs))
		// Hits count the runs of the programs, whichever process made
		// the call.
		if p.Kind == ebtrace.ProbeEvent && (p.Hits < calls || p.Runtime <= 0) {
			t.Errorf("#%d: %d hits in %v, want at least %d and some time", p.ID, p.Hits, p.Runtime, calls)
		}
	}
	want := []string{
		"#1 event tracepoint:syscalls:sys_enter_getppid ran=false programs=1",
		"#2 event tracepoint:syscalls:sys_exit_getppid ran=false programs=1",
		"#3 BEGIN BEGIN ran=true programs=0",
		"#4 END END ran=false programs=0",
	}
	if !slices.Equal(got, want) {
		t.Errorf("probes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	said.Reset()
	if err := sh.Do(".probes", &said); err != nil {
		t.Fatal(err)
	}
	if re := regexp.MustCompile(`^#1  tracepoint:syscalls:sys_enter_getppid  \d+ hits  \d+ ns/event
#2  tracepoint:syscalls:sys_exit_getppid  \d+ hits  \d+ ns/event
#3  BEGIN  ran
#4  END  runs at \.quit
$`); !re.MatchString(said.String()) {
		t.Errorf(".probes said:\n%s", said.String())
	}

	// A mistake leaves the shell as it was.
	said.Reset()
	err = sh.Do("tracepoint:syscalls:sys_enter_getppid { @calls = cont(); }", &said)
	var ce *ebtrace.CompileError
	if !errors.As(err, &ce) || len(ce.Diagnostics) != 1 || ce.Diagnostics[0].Code != "undefined" || ce.Diagnostics[0].Message != "unknown function cont()" || said.Len() != 0 {
		t.Errorf("a mistake: said %q, returned %v, want a *CompileError", said.String(), err)
	}
	if err := sh.Detach(9); err == nil || err.Error() != "no probe #9; .probes lists them" {
		t.Errorf("detaching no probe: %v", err)
	}
	if err := sh.Do(".quit", &said); err != ebtrace.ErrQuit {
		t.Errorf(".quit returned %v, want ErrQuit", err)
	}
	if word, words := sh.Complete("", "@ex"); word != "@ex" || !slices.Equal(words, []string{"@exits"}) {
		t.Errorf("completing @ex: %q, %q", word, words)
	}

	// Printf output stops while paused and is counted; a statement reads
	// what is queued.
	waitFor(t, func() bool { return strings.Contains(out.String(), "exit 3\n") })
	sh.Pause()
	unix.Getppid()
	if err := sh.Do("print(@exits)", &said); err != nil {
		t.Fatal(err)
	}
	if n := sh.Resume(); n != 1 {
		t.Errorf("Resume: %d lines not shown, want 1", n)
	}

	// The block with the stack goes, and its maps with it: what prints at
	// the end is known.
	if err := sh.Detach(1); err != nil {
		t.Fatal(err)
	}
	if _, err := sh.Map("@where"); err == nil || err.Error() != "no map @where; the session has @exits" {
		t.Errorf("a detached block's map: %v", err)
	}
	if err := sh.Close(); err != nil {
		t.Fatal(err)
	}
	if want := "begin\nexit 1\nexit 2\nexit 3\n@exits: 4\nend\n\n\n@exits: 4\n"; out.String() != want {
		t.Errorf("the shell printed %q, want %q", out.String(), want)
	}
	if log.String() != "" {
		t.Errorf("the shell logged %q", log.String())
	}
	if p, l := testutil.BPFObjects(t, os.Getpid()); !slices.Equal(p, progs) || !slices.Equal(l, links) {
		t.Errorf("after Close: programs %v and links %v, want %v and %v", p, l, progs, links)
	}
}

// TestShellEnded: a probe that calls exit() ends the session; Close then
// runs END and prints the maps.
func TestShellEnded(t *testing.T) {
	var out, log testutil.Buffer
	sh := newShell(t, &out, &log)
	if _, err := sh.Add(fmt.Sprintf(`tracepoint:syscalls:sys_enter_getppid /pid == %d/ { @n = count(); exit(); }`, os.Getpid())); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sh.Ended():
		t.Fatal("ended before exit()")
	default:
	}
	unix.Getppid()
	select {
	case <-sh.Ended():
	case <-time.After(10 * time.Second):
		t.Fatal("exit() did not end the session")
	}
	if err := sh.Close(); err != nil {
		t.Fatal(err)
	}
	if want := "\n\n@n: 1\n"; out.String() != want {
		t.Errorf("printed %q, want %q", out.String(), want)
	}
}

package ebtrace_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ebtrace/ebtrace"
	"github.com/ebtrace/ebtrace/internal/load"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

func TestCompileError(t *testing.T) {
	_, err := ebtrace.Compile("bad.bt", "BEGIN { @x = 1; }\nEND { @y = cont(); printf(\"%d\\n\"); }\n", ebtrace.Options{})
	var ce *ebtrace.CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("got %T %v, want a *CompileError", err, err)
	}
	want := []ebtrace.Diagnostic{
		{File: "bad.bt", Line: 2, Column: 12, Code: "undefined", Message: "unknown function cont()", Hints: []string{"did you mean count(), cat(), comm()?"}},
		{File: "bad.bt", Line: 2, Column: 20, Code: "printf", Message: "the format has 1 conversion(s) but 0 argument(s) follow"},
	}
	var got []ebtrace.Diagnostic
	for _, d := range ce.Diagnostics {
		got = append(got, ebtrace.Diagnostic{File: d.File, Line: d.Line, Column: d.Column, Code: d.Code, Message: d.Message, Hints: d.Hints})
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("diagnostics:\n%+v\nwant:\n%+v", got, want)
	}
	text := `bad.bt:2:12: error: unknown function cont()
    END { @y = cont(); printf("%d\n"); }
               ^~~~
hint: did you mean count(), cat(), comm()?
bad.bt:2:20: error: the format has 1 conversion(s) but 0 argument(s) follow
    END { @y = cont(); printf("%d\n"); }
                       ^~~~~~~~~~~~~~`
	if err.Error() != text {
		t.Errorf("Error():\n%s\nwant:\n%s", err, text)
	}
	first := strings.Join(strings.Split(text, "\n")[:4], "\n")
	if s := ce.Diagnostics[0].String(); s != first {
		t.Errorf("String():\n%s\nwant:\n%s", s, first)
	}
}

func TestCompileFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.bt")
	if err := os.WriteFile(path, []byte("BEGIN {\n  $x = $1 + ;\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ebtrace.CompileFile(path, ebtrace.Options{})
	var ce *ebtrace.CompileError
	if !errors.As(err, &ce) || len(ce.Diagnostics) != 1 {
		t.Fatalf("got %v, want one diagnostic", err)
	}
	if d := ce.Diagnostics[0]; d.File != path || d.Line != 2 || d.Column != 13 {
		t.Errorf("got %+v, want %s:2:13", d, path)
	}
	if _, err := ebtrace.CompileFile(filepath.Join(t.TempDir(), "none.bt"), ebtrace.Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v, want os.ErrNotExist", err)
	}
}

func TestUnknownConfig(t *testing.T) {
	_, err := ebtrace.Compile("x.bt", "BEGIN { }", ebtrace.Options{Config: map[string]string{"max_strln": "32"}})
	if want := "config: unknown setting max_strln (did you mean max_strlen?)"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	_, err = ebtrace.Compile("x.bt", "BEGIN { }", ebtrace.Options{Config: map[string]string{"BPFTRACE_MAX_STRLEN": "none"}})
	if want := `BPFTRACE_MAX_STRLEN must be an integer from 1 to 1024, not "none"`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

// requireKernel skips a test that loads programs where it cannot.
func requireKernel(t *testing.T) {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
}

// start compiles and starts src, ending the session when the test ends;
// cancel ends it sooner.
func start(t *testing.T, src string, opts ebtrace.Options) (*ebtrace.Session, context.CancelFunc) {
	t.Helper()
	script, err := ebtrace.Compile("test.bt", src, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	sess, err := script.Start(ctx)
	if err != nil {
		cancel()
		testutil.SkipUnsupported(t, err)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		sess.Wait()
	})
	return sess, cancel
}

// collect returns every event of sess, once it has ended.
func collect(t *testing.T, sess *ebtrace.Session) []ebtrace.Event {
	t.Helper()
	var out []ebtrace.Event
	for ev := range sess.Events() {
		out = append(out, ev)
	}
	if err := sess.Wait(); err != nil {
		t.Fatal(err)
	}
	return out
}

// count returns the unkeyed count() value of snapshot m.
func count(t *testing.T, m ebtrace.MapSnapshot) int64 {
	t.Helper()
	if m.Kind != ebtrace.KindCount || m.Keyed || len(m.Entries) != 1 {
		t.Fatalf("%s: %+v, want one unkeyed count", m.Name, m)
	}
	return m.Entries[0].Value.(int64)
}

func TestSession(t *testing.T) {
	requireKernel(t)
	const calls = 120
	w := testutil.StartGated(t, testutil.Workload(t), "wait", "getppid", strconv.Itoa(calls))
	comm := commOf(t, w.Pid())
	sess, cancel := start(t, `
tracepoint:syscalls:sys_enter_getppid /pid == $1/ {
  @calls = count();
  @by[comm, pid] = count();
  @h = hist(5);
  @l = lhist(12, 0, 20, 10);
  @s = stats(4);
  printf("getppid %d\n", pid);
}
END { printf("end\n"); }
`, ebtrace.Options{Params: []string{strconv.Itoa(w.Pid())}})
	w.Release(t)
	m, err := sess.Map("@calls")
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, m); n != calls {
		t.Errorf("while running: @calls = %d, want %d", n, calls)
	}
	maps, err := sess.Maps()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range maps {
		names = append(names, m.Name)
	}
	if want := []string{"@by", "@calls", "@h", "@l", "@s"}; !reflect.DeepEqual(names, want) {
		t.Errorf("maps %v, want %v", names, want)
	}
	for _, m := range maps {
		var want []ebtrace.Entry
		switch m.Name {
		case "@by":
			want = []ebtrace.Entry{{Key: []any{comm, int64(w.Pid())}, Value: int64(calls)}}
		case "@h":
			want = []ebtrace.Entry{{Value: []ebtrace.Bucket{{Low: 4, High: 7, Count: calls}}}}
		case "@l":
			want = []ebtrace.Entry{{Value: []ebtrace.Bucket{{Low: 10, High: 19, Count: calls}}}}
		case "@s":
			want = []ebtrace.Entry{{Value: ebtrace.Stats{Count: calls, Sum: 4 * calls, Avg: 4}}}
		default:
			continue
		}
		if !reflect.DeepEqual(m.Entries, want) {
			t.Errorf("%s: %+v, want %+v", m.Name, m.Entries, want)
		}
	}
	if _, err := sess.Map("@nothere"); err == nil || err.Error() != "no map @nothere: the script's maps are @by, @calls, @h, @l, @s" {
		t.Errorf("unknown map: %v", err)
	}
	// Nothing happens after the workload: the second snapshot is the same.
	if m, err := sess.Map("calls"); err != nil || count(t, m) != calls {
		t.Errorf("second snapshot: %+v, %v", m, err)
	}
	cancel()
	events := collect(t, sess)
	want := strings.Repeat(fmt.Sprintf("getppid %d\n", w.Pid()), calls) + "end\n"
	var text strings.Builder
	var atExit []string
	for _, ev := range events {
		switch ev := ev.(type) {
		case ebtrace.Printf:
			text.WriteString(ev.Text)
		case ebtrace.Print:
			if !ev.AtExit {
				t.Errorf("a Print event not at exit: %+v", ev)
			}
			atExit = append(atExit, ev.Map.Name)
			if ev.Map.Name == "@calls" && count(t, ev.Map) != calls {
				t.Errorf("@calls at exit: %+v", ev.Map)
			}
		}
	}
	if text.String() != want {
		t.Errorf("printf text:\n%s\nwant %d lines of getppid %d, then end", text.String(), calls, w.Pid())
	}
	if !reflect.DeepEqual(atExit, names) {
		t.Errorf("maps printed at exit %v, want %v", atExit, names)
	}
	if last := events[len(events)-1]; last != (ebtrace.Exit{Code: 0, Reason: ebtrace.ExitCancelled}) {
		t.Errorf("last event %+v, want Exit{0, cancelled}", last)
	}
	if m, err := sess.Map("@calls"); err != nil || count(t, m) != calls {
		t.Errorf("after the end: %+v, %v", m, err)
	}
	if sess.Dropped() != 0 {
		t.Errorf("%d events dropped", sess.Dropped())
	}
}

// commOf is process pid's comm.
func commOf(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(string(b), "\n")
}

// TestPID traces a process given by Options.PID: the session ends when it
// exits, and its user stacks resolve in its binary although it is gone.
func TestPID(t *testing.T) {
	requireKernel(t)
	const calls = 30
	workload := testutil.Workload(t)
	w := testutil.StartGated(t, workload, "wait", "getppid", strconv.Itoa(calls))
	sess, _ := start(t, "tracepoint:syscalls:sys_enter_getppid /pid == $1/ { @u[ustack] = count(); }",
		ebtrace.Options{Params: []string{strconv.Itoa(w.Pid())}, PID: w.Pid()})
	w.Release(t)
	events := collect(t, sess)
	if last := events[len(events)-1]; last != (ebtrace.Exit{Reason: ebtrace.ExitProcess}) {
		t.Errorf("last event %+v, want Exit{0, process}", last)
	}
	m, err := sess.Map("@u")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Entries) != 1 || m.Entries[0].Value != int64(calls) {
		t.Fatalf("@u: %+v, want one stack seen %d times", m.Entries, calls)
	}
	frames, ok := m.Entries[0].Key[0].([]ebtrace.Frame)
	if !ok || len(frames) == 0 {
		t.Fatalf("@u's key %#v, want frames", m.Entries[0].Key)
	}
	var symbols []string
	for _, f := range frames {
		symbols = append(symbols, f.Symbol)
		if f.Address == 0 || f.Module != workload {
			t.Errorf("frame %+v, want an address in the workload", f)
		}
	}
	if !slices.Contains(symbols, "main.main") {
		t.Errorf("frames %v, want main.main among them", symbols)
	}
}

// TestCommand runs a command as Options.Command: cpid is its pid from its
// first syscall on, and the session ends when it does.
func TestCommand(t *testing.T) {
	requireKernel(t)
	const calls = 40
	sess, _ := start(t, "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @ = count(); }",
		ebtrace.Options{Command: []string{testutil.Workload(t), "getppid", strconv.Itoa(calls)}})
	events := collect(t, sess)
	want := []ebtrace.Event{
		ebtrace.Print{Map: ebtrace.MapSnapshot{Name: "@", Kind: ebtrace.KindCount, Counter: true, Entries: []ebtrace.Entry{{Value: int64(calls)}}}, AtExit: true},
		ebtrace.Exit{Reason: ebtrace.ExitCommand},
	}
	if !reflect.DeepEqual(events, want) {
		t.Errorf("events %+v, want %+v", events, want)
	}
}

// TestEvents checks the events of what BEGIN prints and of its exit().
func TestEvents(t *testing.T) {
	requireKernel(t)
	sess, _ := start(t, `BEGIN {
  printf("hello %s\n", "there");
  print((1, "two"));
  @m[1, "a"] = 5;
  print(@m);
  exit(3);
}
END { printf("not shown\n"); }
`, ebtrace.Options{})
	events := collect(t, sess)
	m := ebtrace.MapSnapshot{Name: "@m", Kind: ebtrace.KindScalar, Keyed: true, KeyNames: []string{"", ""}, Entries: []ebtrace.Entry{{Key: []any{int64(1), "a"}, Value: int64(5)}}}
	want := []ebtrace.Event{
		ebtrace.Printf{Text: "hello there\n"},
		ebtrace.Value{Value: []any{int64(1), "two"}},
		ebtrace.Print{Map: m},
		ebtrace.Printf{Text: "not shown\n"},
		ebtrace.Print{Map: m, AtExit: true},
		ebtrace.Exit{Code: 3, Reason: ebtrace.ExitScript},
	}
	if !reflect.DeepEqual(events, want) {
		t.Errorf("events:\n%+v\nwant:\n%+v", events, want)
	}
	if sess.ExitCode() != 3 {
		t.Errorf("ExitCode %d, want 3", sess.ExitCode())
	}
}

// TestCancel cancels a session while its command runs: END runs, the
// command is ended, and no program or link is left in this process.
func TestCancel(t *testing.T) {
	requireKernel(t)
	progs, links := testutil.BPFObjects(t, os.Getpid())
	ctx, cancel := context.WithCancel(t.Context())
	script, err := ebtrace.Compile("test.bt", `
tracepoint:syscalls:sys_enter_nanosleep /pid == cpid/ { @sleeps = count(); }
END { printf("end\n"); }`, ebtrace.Options{Command: []string{testutil.Workload(t), "nanosleep", "60000"}})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := script.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The probe, END and, where the kernel has count slots, the program
	// that flushes them.
	want := 2
	if load.CountSlots() == nil {
		want++
	}
	if p, l := testutil.BPFObjects(t, os.Getpid()); len(p) != len(progs)+want || len(l) != len(links)+1 {
		t.Errorf("while tracing: %d programs and %d links, want %d and %d", len(p), len(l), len(progs)+want, len(links)+1)
	}
	waitFor(t, func() bool {
		m, err := sess.Map("@sleeps")
		// The Go runtime sleeps with nanosleep too: at least one.
		return err == nil && len(m.Entries) == 1 && m.Entries[0].Value.(int64) >= 1
	})
	began := time.Now()
	cancel()
	events := collect(t, sess)
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("the session took %v to end", took)
	}
	if len(events) != 3 || events[0] != (ebtrace.Printf{Text: "end\n"}) || events[2] != (ebtrace.Exit{Reason: ebtrace.ExitCancelled}) {
		t.Errorf("events %+v, want end, @sleeps, Exit{0, cancelled}", events)
	}
	if p, l := testutil.BPFObjects(t, os.Getpid()); !slices.Equal(p, progs) || !slices.Equal(l, links) {
		t.Errorf("after the end: programs %v and links %v, want %v and %v", p, l, progs, links)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}

// TestConcurrentSessions runs two sessions at once, counting different
// tracepoints of two workloads into maps of the same name: each counts
// exactly its own.
func TestConcurrentSessions(t *testing.T) {
	requireKernel(t)
	workload := testutil.Workload(t)
	const getppids, closes = 250, 100
	ppid := testutil.StartGated(t, workload, "wait", "getppid", strconv.Itoa(getppids))
	bad := testutil.StartGated(t, workload, "wait", "badclose", strconv.Itoa(closes))
	a, cancelA := start(t, "tracepoint:syscalls:sys_enter_getppid /pid == $1/ { @ = count(); }",
		ebtrace.Options{Params: []string{strconv.Itoa(ppid.Pid())}})
	b, cancelB := start(t, "tracepoint:syscalls:sys_enter_close /pid == $1 && args.fd >= 1000000/ { @ = count(); }",
		ebtrace.Options{Params: []string{strconv.Itoa(bad.Pid())}})
	var wg sync.WaitGroup
	for _, w := range []*testutil.Gated{ppid, bad} {
		wg.Go(func() { w.Release(t) })
	}
	wg.Wait()
	for _, c := range []struct {
		sess   *ebtrace.Session
		cancel context.CancelFunc
		want   int64
	}{{a, cancelA, getppids}, {b, cancelB, closes}} {
		m, err := c.sess.Map("@")
		if err != nil {
			t.Fatal(err)
		}
		if n := count(t, m); n != c.want {
			t.Errorf("while running: @ = %d, want %d", n, c.want)
		}
		c.cancel()
	}
	for _, c := range []struct {
		sess *ebtrace.Session
		want int64
	}{{a, getppids}, {b, closes}} {
		if err := c.sess.Wait(); err != nil {
			t.Fatal(err)
		}
		if m, err := c.sess.Map("@"); err != nil || count(t, m) != c.want {
			t.Errorf("at the end: %+v, %v, want %d", m, err, c.want)
		}
	}
}

// TestHelperErrors checks Options.HelperErrors and Options.Config through
// a map too small for the script's keys.
func TestHelperErrors(t *testing.T) {
	requireKernel(t)
	sess, _ := start(t, "BEGIN {\n  @full[1] = 1; @full[2] = 2;\n  exit();\n}\n",
		ebtrace.Options{HelperErrors: true, Config: map[string]string{"map_keys_max": "1"}})
	events := collect(t, sess)
	want := []ebtrace.Event{
		ebtrace.HelperError{File: "test.bt", Line: 2, Column: 17, Helper: "map_update_elem", Code: -7, Message: "Argument list too long"},
		ebtrace.Print{Map: ebtrace.MapSnapshot{Name: "@full", Kind: ebtrace.KindScalar, Keyed: true, KeyNames: []string{""}, Entries: []ebtrace.Entry{{Key: []any{int64(1)}, Value: int64(1)}}}, AtExit: true},
		ebtrace.Warning{Text: "WARNING: map @full was full (1 entries): 1 updates were dropped; raise the limit with BPFTRACE_MAP_KEYS_MAX"},
		ebtrace.Exit{Reason: ebtrace.ExitScript},
	}
	if !reflect.DeepEqual(events, want) {
		t.Errorf("events:\n%+v\nwant:\n%+v", events, want)
	}
}

// TestDropped checks that a reader that does not keep up loses events,
// counted, rather than stalling the session.
func TestDropped(t *testing.T) {
	requireKernel(t)
	sess, _ := start(t, `BEGIN { printf("1\n"); printf("2\n"); printf("3\n"); printf("4\n"); exit(); }`, ebtrace.Options{EventBuffer: 2})
	if err := sess.Wait(); err != nil {
		t.Fatal(err)
	}
	var events []ebtrace.Event
	for ev := range sess.Events() {
		events = append(events, ev)
	}
	if want := []ebtrace.Event{ebtrace.Printf{Text: "1\n"}, ebtrace.Printf{Text: "2\n"}, ebtrace.Exit{Reason: ebtrace.ExitScript}}; !reflect.DeepEqual(events, want) {
		t.Errorf("events %+v, want %+v", events, want)
	}
	if sess.Dropped() != 2 {
		t.Errorf("Dropped() = %d, want 2: the last two printf (the Exit always arrives)", sess.Dropped())
	}
}

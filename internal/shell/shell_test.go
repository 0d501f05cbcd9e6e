package shell

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/load"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/all"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

func TestComplete(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{`tracepoint:syscalls:sys_enter_read { @n = count(); }`, true},
		{`tracepoint:syscalls:sys_enter_read {`, false},
		{"tracepoint:syscalls:sys_enter_read {\n  @n[comm] = count();", false},
		{"tracepoint:syscalls:sys_enter_read {\n  @n[comm] = count();\n}", true},
		{`BEGIN { printf("}\n"`, false},
		{`BEGIN { printf("{\n"); }`, true},
		{`BEGIN { printf("\"{"); }`, true},
		{"BEGIN { // {\n}", true},
		{"BEGIN { /* } */", false},
		{`print(@x)`, true},
		{`print(@x`, false},
		{`BEGIN { printf("open`, false},
		// A string ends at its line's end, as the scanner has it: the
		// input is whole once the block closes, and shows the error.
		{"BEGIN { printf(\"open\n); }\n", true},
		{"BEGIN { printf(\"open\n", false},
		{"BEGIN { printf(\"a\\\n\"); }\n", false},
	} {
		if got := Complete(c.in); got != c.want {
			t.Errorf("Complete(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestIsStatement(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{`@x`, true},
		{`@x;`, true},
		{`print(@x)`, true},
		{`clear(@x); print(@y)`, true},
		{`printf("%d\n", 1 + 2)`, true},
		{`tracepoint:syscalls:sys_enter_read { @n = count(); }`, false},
		{`BEGIN { @n = 1; }`, false},
		{`END { print(@n); }`, false},
	} {
		if got := isStatement(c.in); got != c.want {
			t.Errorf("isStatement(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestSplit(t *testing.T) {
	decl, blocks, err := split("struct S { int a; }\ntracepoint:a:b { @x = 1; }\n\nBEGIN /1/ { @y = 2; }\n")
	if err != nil {
		t.Fatal(err)
	}
	if decl != "struct S { int a; }\n" {
		t.Errorf("decl = %q", decl)
	}
	want := []string{"tracepoint:a:b { @x = 1; }", "BEGIN /1/ { @y = 2; }"}
	if fmt.Sprint(blocks) != fmt.Sprint(want) {
		t.Errorf("blocks = %q, want %q", blocks, want)
	}
	decl, blocks, err = split("  config = { max_strlen = 16; }\n")
	if err != nil || decl != "config = { max_strlen = 16; }\n" || blocks != nil {
		t.Errorf("a config block alone split into %q, %q, %v", decl, blocks, err)
	}
	if _, _, err := split("config = { max_strlen = 16; "); err == nil {
		t.Error("an unclosed config block split")
	}
}

// newSession starts a session on the live kernel writing to out.
func newSession(t *testing.T, out *bytes.Buffer) *Session {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	env := &probe.Env{Events: sync.OnceValues(func() (*kernel.Events, error) {
		events, _, err := kernel.Live()
		return events, err
	})}
	s, err := New(Options{
		Registry: all.Registry(), Env: env, Out: out, Warn: out,
		Compile: compile.Options{Plan: plan.DefaultOptions},
	})
	testutil.SkipUnsupported(t, err)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// do runs one input and returns what it said.
func do(t *testing.T, s *Session, input string) string {
	t.Helper()
	var w bytes.Buffer
	if err := s.Do(input, &w); err != nil {
		t.Fatalf("%s: %v", input, err)
	}
	return w.String()
}

// printed returns what the session printed since the last call.
func printed(out *bytes.Buffer) string {
	s := out.String()
	out.Reset()
	return s
}

// runWorkload runs the renamed workload with args.
func runWorkload(t *testing.T, wl string, args ...string) {
	t.Helper()
	if msg, err := exec.Command(wl, args...).CombinedOutput(); err != nil {
		t.Fatalf("workload: %v\n%s", err, msg)
	}
}

func TestSharedMaps(t *testing.T) {
	var out bytes.Buffer
	s := newSession(t, &out)
	defer s.Close()
	wl, comm := testutil.Renamed(t, testutil.Workload(t), "shell")

	enter := fmt.Sprintf(`tracepoint:syscalls:sys_enter_getppid /comm == "%s"/ { @x["enter"] = count(); }`, comm)
	exit := fmt.Sprintf(`tracepoint:syscalls:sys_exit_getppid /comm == "%s"/ {
	@x["exit"] = count();
	@last = args.ret > 0;
}`, comm)
	if got := do(t, s, enter); got != "attached #1: tracepoint:syscalls:sys_enter_getppid\n" {
		t.Errorf("first block said %q", got)
	}
	if got := do(t, s, exit); got != "attached #2: tracepoint:syscalls:sys_exit_getppid\n" {
		t.Errorf("second block said %q", got)
	}
	runWorkload(t, wl, "getppid", "100")
	do(t, s, ".print @x")
	if got, want := printed(&out), "@x[enter]: 100\n@x[exit]: 100\n"; got != want {
		t.Errorf(".print @x printed %q, want %q", got, want)
	}

	// A type conflict with an attached probe is a diagnostic; the session
	// goes on as it was.
	var w bytes.Buffer
	err := s.Do(`tracepoint:syscalls:sys_enter_getppid { @x = 1; }`, &w)
	var diags *source.Diagnostics
	if !errors.As(err, &diags) {
		t.Fatalf("a conflicting @x gave %v, want a diagnostic", err)
	}
	var rendered bytes.Buffer
	diags.Render(&rendered)
	if !strings.Contains(rendered.String(), "@x") || !strings.Contains(rendered.String(), "^") {
		t.Errorf("the diagnostic reads:\n%s", rendered.String())
	}
	do(t, s, "@x")
	if got, want := printed(&out), "@x[enter]: 100\n@x[exit]: 100\n"; got != want {
		t.Errorf("@x after the conflict printed %q, want %q", got, want)
	}

	// Statements run at once.
	do(t, s, `printf("%d\n", 6 * 7)`)
	if got := printed(&out); got != "42\n" {
		t.Errorf("printf printed %q", got)
	}

	// Detaching #1 leaves #2 counting into the same @x.
	if got := do(t, s, ".detach 1"); got != "detached #1\n" {
		t.Errorf(".detach said %q", got)
	}
	runWorkload(t, wl, "getppid", "50")
	do(t, s, ".print @x")
	if got, want := printed(&out), "@x[enter]: 100\n@x[exit]: 150\n"; got != want {
		t.Errorf(".print @x after the detach printed %q, want %q", got, want)
	}
	probes := do(t, s, ".probes")
	m := regexp.MustCompile(`^#2  tracepoint:syscalls:sys_exit_getppid  (\d+) hits  \d+ ns/event\n$`).FindStringSubmatch(probes)
	if m == nil {
		t.Fatalf(".probes listed %q", probes)
	}
	var hits int
	fmt.Sscan(m[1], &hits)
	if hits < 150 { // every process's getppid runs the program
		t.Errorf(".probes counted %d hits, want at least 150", hits)
	}

	do(t, s, ".clear @x")
	do(t, s, "@x")
	if got := printed(&out); got != "\n" {
		t.Errorf("@x after .clear printed %q", got)
	}
	runWorkload(t, wl, "getppid", "7")

	// The saved script runs as is and counts the same.
	file := filepath.Join(t.TempDir(), "saved.bt")
	do(t, s, ".save "+file)
	saved, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if want := exit + "\n"; string(saved) != want {
		t.Errorf("saved\n%s\nwant\n%s", saved, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := printed(&out), "\n\n@last: true\n@x[exit]: 7\n"; got != want {
		t.Errorf(".quit printed %q, want %q", got, want)
	}
	cmd := exec.Command(testutil.Build(t, "./cmd/ebtrace"), "-q", file, "-c", wl+" getppid 7")
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("ebtrace %s: %v", file, err)
	}
	if want := "\n\n@last: true\n@x[exit]: 7\n"; string(got) != want {
		t.Errorf("ebtrace %s printed %q, want %q", file, got, want)
	}
}

// bpfFDs counts this process's file descriptors of BPF programs, links
// and maps.
func bpfFDs(t *testing.T) map[string]int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, fd := range fds {
		target, _ := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		switch target {
		case "anon_inode:bpf-prog", "anon_inode:bpf_link", "anon_inode:bpf-map":
			n[target]++
		}
	}
	return n
}

func TestAddDetachLeavesNothing(t *testing.T) {
	var out bytes.Buffer
	before := bpfFDs(t)
	s := newSession(t, &out)
	for i := range 100 {
		got := do(t, s, `tracepoint:syscalls:sys_enter_getppid { @calls[tid] = count(); }`)
		if want := fmt.Sprintf("attached #%d: tracepoint:syscalls:sys_enter_getppid\n", i+1); got != want {
			t.Fatalf("block %d said %q, want %q", i+1, got, want)
		}
		if during := bpfFDs(t); during["anon_inode:bpf-prog"] != before["anon_inode:bpf-prog"]+1 || during["anon_inode:bpf_link"] != before["anon_inode:bpf_link"]+1 {
			t.Fatalf("with one probe attached: %v, before the session %v", during, before)
		}
		do(t, s, fmt.Sprintf(".detach %d", i+1))
		if after := bpfFDs(t); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("after detaching #%d: %v, before the session %v", i+1, after, before)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if after := bpfFDs(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("after closing: %v, before %v", after, before)
	}
}

func TestCompleter(t *testing.T) {
	var out bytes.Buffer
	s := newSession(t, &out)
	defer s.Close()
	do(t, s, `tracepoint:syscalls:sys_enter_getppid { @calls = count(); @cpu[cpu] = count(); }`)
	c := &Completer{Session: s, Registry: all.Registry(), Env: s.opts.Env}
	for _, tc := range []struct {
		pending, line, word string
		want                []string
	}{
		{"", "tracepoint:syscalls:sys_enter_getpp", "tracepoint:syscalls:sys_enter_getpp", []string{"tracepoint:syscalls:sys_enter_getppid"}},
		{"", "t:syscalls:sys_exit_getpp", "t:syscalls:sys_exit_getpp", []string{"t:syscalls:sys_exit_getppid"}},
		{"tracepoint:syscalls:sys_enter_openat {\n", "  printf(\"%s\\n\", str(args.fi", "args.fi", []string{"args.filename"}},
		{"", "  print(@c", "@c", []string{"@calls", "@cpu"}},
		{"", "tracep", "tracep", []string{"tracepoint:"}},
		{"", "BEG", "BEG", []string{"BEGIN"}},
		{"", ".pr", ".pr", []string{".print", ".probes"}},
		{"", "BEGIN { @x = nse", "nse", []string{"nsecs", "nsecs("}},
		{"", "BEGIN { @x = cou", "cou", []string{"count("}},
	} {
		word, got := c.Complete(tc.pending, tc.line)
		if word != tc.word || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("Complete(%q, %q) = %q, %q; want %q, %q", tc.pending, tc.line, word, got, tc.word, tc.want)
		}
	}
}

func TestRefusesModeProbes(t *testing.T) {
	var out bytes.Buffer
	before := bpfFDs(t)
	s := newSession(t, &out)
	defer s.Close()
	for _, c := range []struct{ input, want string }{
		{`test:mine { @t = 1; }`, "test:mine: the shell runs event probes, BEGIN and END, not test probes"},
		{`bench:mine { @b = 1; }`, "bench:mine: the shell runs event probes, BEGIN and END, not bench probes"},
		{`self:signal:SIGUSR1 { @s = 1; }`, "self:signal:SIGUSR1: the shell runs event probes, BEGIN and END, not self:signal probes"},
		{"tracepoint:syscalls:sys_enter_getppid { @n = count(); }\ntest:mine { @t = 1; }", "test:mine: the shell runs event probes, BEGIN and END, not test probes"},
	} {
		var w bytes.Buffer
		if err := s.Do(c.input, &w); err == nil || err.Error() != c.want {
			t.Errorf("%s: said %q, error %v; want %q", c.input, w.String(), err, c.want)
		}
		if got := do(t, s, ".probes"); got != "no probes; type a probe block to attach one\n" {
			t.Errorf("after %s, .probes listed %q", c.input, got)
		}
		if during := bpfFDs(t); fmt.Sprint(during) != fmt.Sprint(before) {
			t.Errorf("after %s: %v, before the session %v", c.input, during, before)
		}
	}
}

func TestConfigAfterProbe(t *testing.T) {
	var out bytes.Buffer
	s := newSession(t, &out)
	defer s.Close()
	wl, comm := testutil.Renamed(t, testutil.Workload(t), "shcfg")
	enter := fmt.Sprintf(`tracepoint:syscalls:sys_enter_getppid /comm == "%s"/ { @x["enter"] = count(); }`, comm)
	exit := fmt.Sprintf(`tracepoint:syscalls:sys_exit_getppid /comm == "%s"/ { @x["exit"] = count(); }`, comm)
	if got := do(t, s, enter); got != "attached #1: tracepoint:syscalls:sys_enter_getppid\n" {
		t.Errorf("first block said %q", got)
	}
	if got := do(t, s, "config = { print_maps_on_exit = false; }"); got != "" {
		t.Errorf("the config block said %q", got)
	}
	if got := do(t, s, exit); got != "attached #2: tracepoint:syscalls:sys_exit_getppid\n" {
		t.Errorf("second block said %q", got)
	}
	runWorkload(t, wl, "getppid", "5")
	do(t, s, "@x")
	if got, want := printed(&out), "@x[enter]: 5\n@x[exit]: 5\n"; got != want {
		t.Errorf("@x printed %q, want %q", got, want)
	}
	if got, want := s.Script(), "config = { print_maps_on_exit = false; }\n\n"+enter+"\n\n"+exit+"\n"; got != want {
		t.Errorf("the script reads\n%s\nwant\n%s", got, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := printed(&out); got != "" {
		t.Errorf("with print_maps_on_exit = false, .quit printed %q", got)
	}
}

func TestDetachKeepsSessionOnFailure(t *testing.T) {
	var out bytes.Buffer
	s := newSession(t, &out)
	defer s.Close()
	wl, comm := testutil.Renamed(t, testutil.Workload(t), "shdet")
	do(t, s, fmt.Sprintf(`tracepoint:syscalls:sys_enter_getppid /comm == "%s"/ { @x = count(); }`, comm))
	do(t, s, fmt.Sprintf(`tracepoint:syscalls:sys_exit_getppid /comm == "%s"/ { @y = @x; }`, comm))
	before := bpfFDs(t)
	var w bytes.Buffer
	err := s.Do(".detach 1", &w)
	var diags *source.Diagnostics
	if !errors.As(err, &diags) || !strings.Contains(err.Error(), "@x") {
		t.Fatalf(".detach 1 said %q, error %v; want a diagnostic on @x", w.String(), err)
	}
	if after := bpfFDs(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("after the failed detach: %v, before it %v", after, before)
	}
	runWorkload(t, wl, "getppid", "4")
	do(t, s, ".print")
	if got, want := printed(&out), "@x: 4\n@y: 4\n"; got != want {
		t.Errorf(".print after the failed detach printed %q, want %q", got, want)
	}
	probes := do(t, s, ".probes")
	if !regexp.MustCompile(`^#1  tracepoint:syscalls:sys_enter_getppid  [1-9]\d* hits  \d+ ns/event\n#2  tracepoint:syscalls:sys_exit_getppid  [1-9]\d* hits  \d+ ns/event\n$`).MatchString(probes) {
		t.Errorf(".probes listed %q", probes)
	}
}

func TestDetachWhileEventsQueue(t *testing.T) {
	var out bytes.Buffer
	s := newSession(t, &out)
	wl, comm := testutil.Renamed(t, testutil.Workload(t), "shq")
	for _, c := range []string{"a", "b", "c"} {
		do(t, s, fmt.Sprintf(`tracepoint:syscalls:sys_enter_getppid /comm == "%s"/ { @%s = count(); printf("%s %%d\n", 1); }`, comm, c, c))
	}
	cmd := exec.Command(wl, "getppid", "300000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	// #1's events are numbered first: #2's and #3's are numbered anew.
	err := s.Do(".detach 1", io.Discard)
	if werr := cmd.Wait(); werr != nil {
		t.Fatalf("workload: %v", werr)
	}
	if err != nil {
		t.Fatalf(".detach 1: %v", err)
	}
	select {
	case <-s.Ended():
		t.Fatalf("the session ended: %v\n%s", s.loopErr, out.String())
	default:
	}
	if got := do(t, s, ".probes"); !regexp.MustCompile(`^#2 .*\n#3 .*\n$`).MatchString(got) {
		t.Errorf(".probes listed %q", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Every line is one a probe printed, and #2 and #3 printed one per
	// count: no event was read as another's.
	lines := map[string]int{}
	var counts = map[string]int{}
	for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		var name string
		var n int
		switch {
		case l == "a 1" || l == "b 1" || l == "c 1" || l == "":
			lines[l]++
		case func() bool { _, err := fmt.Sscanf(l, "@%1s: %d", &name, &n); return err == nil }():
			counts[name] = n
		default:
			t.Fatalf("the session printed %q", l)
		}
	}
	if lines["b 1"] != counts["b"] || lines["c 1"] != counts["c"] || counts["b"] == 0 {
		t.Errorf("printed %v, counted %v", lines, counts)
	}
	if lines["a 1"] == 0 || lines["a 1"] == 300000 {
		t.Errorf("#1 printed %d lines: the detach did not fall while the workload ran", lines["a 1"])
	}
}

func TestBeginFails(t *testing.T) {
	var out bytes.Buffer
	before := bpfFDs(t)
	s := newSession(t, &out)
	defer s.Close()
	// BPF_PROG_TEST_RUN of a BEGIN program does not fail on its own.
	failure := errors.New("the run failed")
	run := runBegin
	defer func() { runBegin = run }()
	runBegin = func(*load.Object) error { return failure }

	var w bytes.Buffer
	err := s.Do("BEGIN { @a = 1; }\nBEGIN { @b = 2; }\ntracepoint:syscalls:sys_enter_getppid { @c = count(); }", &w)
	if !errors.Is(err, failure) {
		t.Errorf("the failing BEGIN gave %v", err)
	}
	if got, want := w.String(), "did not run #1: BEGIN\ndid not run #2: BEGIN\nattached #3: tracepoint:syscalls:sys_enter_getppid\n"; got != want {
		t.Errorf("the blocks said %q, want %q", got, want)
	}
	if during := bpfFDs(t); during["anon_inode:bpf-prog"] != before["anon_inode:bpf-prog"]+1 || during["anon_inode:bpf_link"] != before["anon_inode:bpf_link"]+1 {
		t.Errorf("with one probe attached: %v, before the session %v", during, before)
	}
	if got := do(t, s, ".probes"); !regexp.MustCompile(`^#1  BEGIN  did not run\n#2  BEGIN  did not run\n#3  tracepoint:syscalls:sys_enter_getppid  \d+ hits  .*\n$`).MatchString(got) {
		t.Errorf(".probes listed %q", got)
	}
	if got := do(t, s, `tracepoint:syscalls:sys_exit_getppid { @d = count(); }`); got != "attached #4: tracepoint:syscalls:sys_exit_getppid\n" {
		t.Errorf("the next block said %q", got)
	}
	do(t, s, ".detach 1")
	do(t, s, ".detach 3")
	if got := do(t, s, ".probes"); !regexp.MustCompile(`^#2  BEGIN  did not run\n#4  tracepoint:syscalls:sys_exit_getppid  \d+ hits  .*\n$`).MatchString(got) {
		t.Errorf(".probes listed %q after two detaches", got)
	}
	runBegin = run
	if got := do(t, s, "BEGIN { @e = 5; }"); got != "ran #5: BEGIN\n" {
		t.Errorf("a BEGIN block that runs said %q", got)
	}
	printed(&out)
	do(t, s, "@e")
	if got := printed(&out); got != "@e: 5\n" {
		t.Errorf("@e printed %q", got)
	}
}

package main

import (
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// stackBlock returns the frames of the map entry "NAME[" ... "]: COUNT".
func stackBlock(t *testing.T, out, name, count string) []string {
	t.Helper()
	start := strings.Index(out, name+"[\n")
	if start < 0 {
		t.Fatalf("no %s[ stack in:\n%s", name, out)
	}
	rest := out[start+len(name)+2:]
	end := strings.Index(rest, "]: ")
	if end < 0 {
		t.Fatalf("unterminated %s stack in:\n%s", name, out)
	}
	if got := strings.SplitN(rest[end+3:], "\n", 2)[0]; got != count {
		t.Errorf("%s count = %s, want %s", name, got, count)
	}
	return strings.Split(strings.TrimSuffix(rest[:end], "\n"), "\n")
}

func TestKernelStack(t *testing.T) {
	wl := testutil.Workload(t)
	r := runCLI(t, "-e", `tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @k[kstack] = count(); @p[kstack(perf, 2)] = count(); }`, "-c", wl+" getppid 1000")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	frames := stackBlock(t, r.stdout, "@k", "1000")
	frame := regexp.MustCompile(`^    [A-Za-z_][\w.]*\+\d+$`)
	found := false
	for _, f := range frames {
		if !frame.MatchString(f) {
			t.Errorf("frame %q is not \"    name+offset\"", f)
		}
		found = found || strings.HasPrefix(f, "    do_syscall_64+")
	}
	if !found {
		t.Errorf("no do_syscall_64 frame in the syscall's stack:\n%s", r.stdout)
	}
	perf := stackBlock(t, r.stdout, "@p", "1000")
	if len(perf) != 2 {
		t.Errorf("kstack(perf, 2) has %d frames, want 2", len(perf))
	}
	for _, f := range perf {
		if !regexp.MustCompile(`^\t[0-9a-f]{16} [A-Za-z_][\w.]*\+\d+$`).MatchString(f) {
			t.Errorf("perf frame %q is not \"\\tADDR name+offset\"", f)
		}
	}
}

// TestUserStack checks user stacks resolve in the executable and in libc,
// in both modes. The syscall wrapper in libc does not set up a frame, so
// frame-pointer unwinding goes from it straight to leaf's caller.
func TestUserStack(t *testing.T) {
	bin := testutil.BuildC(t, "testdata/stacks.c")
	r := runCLI(t, "-e", `tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @u[ustack(3)] = count(); @p[ustack(perf, 3)] = count(); }`, "-c", bin+" 7")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	frames := stackBlock(t, r.stdout, "@u", "7")
	want := regexp.MustCompile(`^    (getppid|middle|main)\+\d+$`)
	names := []string{}
	for _, f := range frames {
		if m := want.FindStringSubmatch(f); m != nil {
			names = append(names, m[1])
		} else {
			t.Errorf("frame %q", f)
		}
	}
	if strings.Join(names, " ") != "getppid middle main" {
		t.Errorf("ustack frames %q, want getppid, middle, main:\n%s", frames, r.stdout)
	}
	perf := stackBlock(t, r.stdout, "@p", "7")
	if len(perf) != 3 || !regexp.MustCompile(`^\t[0-9a-f]+ middle\+\d+ \(`+regexp.QuoteMeta(bin)+`\)$`).MatchString(perf[1]) {
		t.Errorf("ustack(perf) frames %q", perf)
	}
}

// TestUserStackCPP checks C++ frames show demangled, with parameters, in
// ustack and usym. ns::add(double, double) is a leaf without a frame, so
// frame-pointer unwinding goes from it to its caller's caller: Shape::grow,
// not Shape::scaled.
func TestUserStackCPP(t *testing.T) {
	bin := cppTarget(t)
	r := runCLI(t, "-e", "uprobe:"+bin+":_ZN2ns3addEdd { @u[ustack(3)] = count(); @p[ustack(perf, 2)] = count(); }"+
		" uprobe:"+bin+":cpp:ns::apply { @s[usym(arg0)] = count(); }", "-c", bin+" 5")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	frames := stackBlock(t, r.stdout, "@u", "1")
	want := []string{`ns::add\(double, double\)\+0`, `Shape::grow\(int\)\+\d+`, `main\+\d+`}
	if len(frames) != len(want) {
		t.Fatalf("ustack(3) frames %q, want %s", frames, want)
	}
	for i, f := range frames {
		if !regexp.MustCompile(`^    ` + want[i] + `$`).MatchString(f) {
			t.Errorf("frame %d is %q, want %s", i, f, want[i])
		}
	}
	perf := stackBlock(t, r.stdout, "@p", "1")
	if len(perf) != 2 || !regexp.MustCompile(`^\t[0-9a-f]+ Shape::grow\(int\)\+\d+ \(`+regexp.QuoteMeta(bin)+`\)$`).MatchString(perf[1]) {
		t.Errorf("ustack(perf) frames %q", perf)
	}
	if !strings.Contains(r.stdout, "\n@s[ns::mul(int, int)]: 1\n") {
		t.Errorf("usym of ns::apply's function pointer is not ns::mul(int, int):\n%s", r.stdout)
	}
}

func TestSymbols(t *testing.T) {
	r := runCLI(t, "-e", `BEGIN { printf("%s %s\n", ksym(kaddr("vfs_read")), ksym(kaddr("vfs_read") + 1)); @[ksym(kaddr("vfs_write"))] = count(); exit(); }`)
	r.want(t, 0, "vfs_read vfs_read\n\n\n@[vfs_write]: 1\n")
	r = runCLI(t, "-e", `BEGIN { @ = kaddr("vfs_raed"); }`)
	if r.code != 1 || !strings.Contains(r.stderr, `kernel symbol "vfs_raed" does not exist`) || !strings.Contains(r.stderr, "did you mean vfs_read") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// TestUserStackExited traces a process ebtrace was not told about, which
// exits long before the map is printed: its stacks still resolve, the
// process having been read as soon as its pid appeared in a key.
func TestUserStackExited(t *testing.T) {
	// A name of its own: other packages' tests run the workload at the
	// same time, and a run that exits before ebtrace reads it would add a
	// stack of bare addresses.
	wl, comm := testutil.Renamed(t, testutil.Workload(t), "ustackexit")
	testutil.RequireRoot(t)
	cmd := exec.Command(testutil.Build(t, "./cmd/ebtrace"), "-e",
		`tracepoint:syscalls:sys_enter_getppid /comm == "`+comm+`"/ { @[ustack] = count(); }`)
	stdout, stderr := &testutil.Buffer{}, &testutil.Buffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "Attached") })
	if out, err := exec.Command(wl, "getppid", "100000").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	time.Sleep(time.Second) // the process is gone: only what was read of it remains
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	frames := stackBlock(t, stdout.String(), "@", "100000")
	if !slices.ContainsFunc(frames, func(f string) bool { return strings.HasPrefix(f, "    main.main+") }) {
		t.Errorf("no main.main frame in the exited process's stack:\n%s", stdout.String())
	}
}

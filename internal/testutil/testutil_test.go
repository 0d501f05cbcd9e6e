package testutil

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestWorkloadBuildsOnce(t *testing.T) {
	path := Workload(t)
	if again := Workload(t); again != path {
		t.Errorf("second Workload = %q, first was %q", again, path)
	}
	if out, err := exec.Command(path, "getppid", "3").CombinedOutput(); err != nil {
		t.Fatalf("workload getppid 3: %v\n%s", err, out)
	}
}

func TestWorkloadSubcommands(t *testing.T) {
	wl := Workload(t)
	for _, args := range [][]string{
		{"getppid", "0"},
		{"spin", "10"},
		{"open", "/dev/null", "/nonexistent/ebtrace-workload"},
		{"write", "0", "64"},
		{"sleep", "1"},
		{"hold", "2", "1"},
		{"rw", "2", "16"},
	} {
		if out, err := exec.Command(wl, args...).CombinedOutput(); err != nil {
			t.Errorf("workload %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

func TestWorkloadUsage(t *testing.T) {
	wl := Workload(t)
	for _, args := range [][]string{
		{},
		{"bogus"},
		{"getppid"},
		{"getppid", "-1"},
		{"getppid", "x"},
		{"open"},
		{"write", "5"},
		{"write", "9", "3"},
		{"sleep", "1", "2"},
		{"hold", "2"},
		{"rw", "2", "x"},
	} {
		var stderr bytes.Buffer
		cmd := exec.Command(wl, args...)
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("workload %q: err %v, want exit status 2", args, err)
		}
		if !strings.Contains(stderr.String(), "usage:") {
			t.Errorf("workload %q: stderr %q lacks usage", args, stderr.String())
		}
	}
}

// TestWorkloadSyscalls checks with a private tracefs instance that the
// workload makes exactly the syscalls it promises.
func TestWorkloadSyscalls(t *testing.T) {
	RequireRoot(t)
	RequireTracefs(t)
	wl := Workload(t)

	t.Run("getppid", func(t *testing.T) {
		lines := traceWorkload(t, wl, "sys_enter_getppid", "getppid", "1234")
		if len(lines) != 1234 {
			t.Errorf("traced %d getppid calls, want 1234", len(lines))
		}
	})
	t.Run("wait", func(t *testing.T) {
		// Standard input is /dev/null here: the gate opens at its end.
		lines := traceWorkload(t, wl, "sys_enter_getppid", "wait", "getppid", "5")
		if len(lines) != 5 {
			t.Errorf("traced %d getppid calls, want 5", len(lines))
		}
	})
	t.Run("write", func(t *testing.T) {
		lines := traceWorkload(t, wl, "sys_enter_write", "write", "3", "40")
		count := regexp.MustCompile(`count: (?:0x)?([0-9a-f]+)`)
		var got []int
		for _, l := range lines {
			m := count.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("no count in trace line %q", l)
			}
			n, err := strconv.ParseInt(m[1], 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, int(n))
		}
		if len(got) != 38 {
			t.Fatalf("traced %d writes, want 38: %v", len(got), got)
		}
		for i, n := range got {
			if n != 3+i {
				t.Fatalf("write %d had %d bytes, want %d: %v", i, n, 3+i, got)
			}
		}
	})
}

// traceWorkload runs the workload with args under a tracefs instance that
// records the syscalls event only for it, and returns the recorded lines.
// The workload runs through a symlink whose name becomes its comm, so the
// filter ignores other processes, including other tests' workloads.
func traceWorkload(t *testing.T, wl, event string, args ...string) []string {
	t.Helper()
	root := "/sys/kernel/tracing"
	if _, err := os.Stat(filepath.Join(root, "instances")); err != nil {
		root = "/sys/kernel/debug/tracing"
	}
	inst := filepath.Join(root, "instances", fmt.Sprintf("ebtrace-testutil-%d", os.Getpid()))
	if err := os.Mkdir(inst, 0o755); errors.Is(err, os.ErrNotExist) {
		t.Skipf("this tracefs has no instances directory: %v", err)
	} else if err != nil {
		t.Fatalf("create a tracefs instance: %v", err)
	}
	ev := filepath.Join(inst, "events", "syscalls", event)
	t.Cleanup(func() {
		os.WriteFile(filepath.Join(ev, "enable"), []byte("0"), 0)
		if err := os.Remove(inst); err != nil {
			t.Errorf("removing tracefs instance: %v", err)
		}
	})
	comm := fmt.Sprintf("wl%d", os.Getpid())
	link := filepath.Join(t.TempDir(), comm)
	if err := os.Symlink(wl, link); err != nil {
		t.Fatal(err)
	}
	write := func(file, val string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(ev, file), []byte(val), 0); errors.Is(err, os.ErrNotExist) {
			t.Skipf("this kernel has no event syscalls:%s (CONFIG_FTRACE_SYSCALLS): %v", event, err)
		} else if err != nil {
			t.Fatalf("set %s of %s: %v", file, event, err)
		}
	}
	write("filter", fmt.Sprintf("comm == %q", comm))
	write("enable", "1")
	if out, err := exec.Command(link, args...).CombinedOutput(); err != nil {
		t.Fatalf("workload %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	write("enable", "0")
	trace, err := os.ReadFile(filepath.Join(inst, "trace"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(trace), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	return lines
}

func TestModuleRoot(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "internal", "testutil", "testutil.go")); err != nil {
		t.Errorf("module root %s does not hold this package: %v", root, err)
	}
}

func TestBuildFailure(t *testing.T) {
	ft := &fakeTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil && r != any(ft) {
				panic(r)
			}
		}()
		Build(ft, "./internal/testutil/no-such-package")
	}()
	if !ft.failed || !strings.Contains(ft.msg, "no-such-package") {
		t.Errorf("Build of a missing package: failed=%v msg=%q", ft.failed, ft.msg)
	}
}

// fakeTB records failures instead of failing the real test. Its Fatalf
// panics to stop the caller, as testing's Goexit would.
type fakeTB struct {
	testing.TB
	failed bool
	msg    string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.failed = true
	f.msg += fmt.Sprintf(format, args...)
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	panic(f)
}

func TestGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "testdata", "out.golden")
	defer func(old bool) { *Update = old }(*Update)

	*Update = true
	Golden(t, path, []byte("one\ntwo\n"))
	if b, err := os.ReadFile(path); err != nil || string(b) != "one\ntwo\n" {
		t.Fatalf("after -update the golden file is %q, %v", b, err)
	}

	*Update = false
	Golden(t, path, []byte("one\ntwo\n"))

	ft := &fakeTB{TB: t}
	Golden(ft, path, []byte("one\n2\n"))
	if !ft.failed {
		t.Fatal("Golden accepted different output")
	}
	for _, want := range []string{path, "-two\n", "+2\n", "-update"} {
		if !strings.Contains(ft.msg, want) {
			t.Errorf("mismatch message lacks %q:\n%s", want, ft.msg)
		}
	}
}

func TestDiff(t *testing.T) {
	for _, tc := range []struct {
		name, a, b, want string
	}{
		{"equal", "x\n", "x\n", ""},
		{"change", "a\nb\nc\n", "a\nB\nc\n",
			"--- a\n+++ b\n@@ -1 +1 @@\n a\n-b\n+B\n c\n"},
		{"insert at end", "a\n", "a\nb\n",
			"--- a\n+++ b\n@@ -1 +1 @@\n a\n+b\n"},
		{"from empty", "", "x\n",
			"--- a\n+++ b\n@@ -1 +1 @@\n+x\n"},
		{"final newline", "a\n", "a",
			"--- a\n+++ b\n\\ no newline at end of b\n"},
		{"two hunks", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n", "x\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\ny\n",
			"--- a\n+++ b\n@@ -1 +1 @@\n-1\n+x\n 2\n 3\n 4\n@@ -9 +9 @@\n 9\n 10\n 11\n-12\n+y\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Diff("a", "b", []byte(tc.a), []byte(tc.b)); got != tc.want {
				t.Errorf("Diff:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestBuildPrebuilt(t *testing.T) {
	dir := t.TempDir()
	want := filepath.Join(dir, "ebtrace")
	if err := os.WriteFile(want, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(BinDirEnv, dir)
	if got := Build(t, "./cmd/ebtrace"); got != want {
		t.Errorf("Build with %s=%s returned %q, want %q", BinDirEnv, dir, got, want)
	}
	if _, err := prebuilt(dir, "./internal/cmd/workload"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("prebuilt workload in a directory without one: err %v, want os.ErrNotExist", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "workload"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := prebuilt(dir, "./internal/cmd/workload"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("prebuilt workload that is a directory: err %v, want os.ErrNotExist", err)
	}
}

package main

import (
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// --test runs BEGIN, each test probe in order, then END; a test's output
// shows only when it fails, and one failure makes the exit status 1. The
// event probes are not attached (so @never, empty, prints a blank line).
func TestTestMode(t *testing.T) {
	script := `BEGIN { printf("begin\n"); }
test:okay { print("hidden"); }
test:failure { print("shown"); return 1; }
test:exits { printf("bye\n"); exit(3); }
test:errs { errorf("boom %d", 7); }
test:map { @x = 1; if (@x == 1) { return 0; } return 2; }
tracepoint:syscalls:sys_enter_getppid { @never = 1; }
END { printf("end\n"); }`
	r := runCLI(t, "--test", "-e", script)
	r.want(t, 1, `begin
PASS test:okay
FAIL test:failure: returned 1
shown
FAIL test:exits: exit(3)
bye
FAIL test:errs: 1 error
PASS test:map
end



@x: 1
`)
	if want := "Attached 7 probes\nstdin:5:13-33: ERROR: boom 7\n"; r.stderr != want {
		t.Errorf("stderr %q, want %q", r.stderr, want)
	}

	r = runCLI(t, "--mode", "test", "-f", "json", "-e", `test:a { print("x"); return -1; } test:b { }`)
	r.want(t, 1, `{"type": "attached_probes", "data": {"probes": 2}}
{"type": "test", "data": {"name": "test:a", "passed": false, "reason": "returned -1", "output": "{\"type\": \"value\", \"data\": \"x\"}\n"}}
{"type": "test", "data": {"name": "test:b", "passed": true, "reason": "", "output": ""}}
`)

	// Without --test, test probes never run.
	r = runCLI(t, "-e", `test:a { printf("ran\n"); } BEGIN { exit(); }`)
	r.want(t, 0, "\n\n")

	r = runCLI(t, "--test", "-e", `BEGIN { }`)
	r.want(t, 1, "")
	if want := "ebtrace: mode test: the script has no test probe (test:NAME { ... })\n"; r.stderr != want {
		t.Errorf("stderr %q, want %q", r.stderr, want)
	}
}

// --bench prints a table of the bench probes by name with their mean run
// time in the kernel, then the maps they filled; their events are dropped.
func TestBenchMode(t *testing.T) {
	r := runCLI(t, "--bench", "-e", `bench:lhist { @a = lhist(rand % 10, 1, 10, 1); }
bench:count { @b = count(); @c++; printf("dropped\n"); }
bench:my_loop { $a = 0; for ($i : 0..10) { $a++; } }
END { @runs = @c > 100; clear(@c); }`)
	if r.code != 0 || r.stderr != "Attached 4 probes\n" {
		t.Fatalf("exit status %d, stderr %q", r.code, r.stderr)
	}
	table := regexp.MustCompile(`^\n\n` +
		`\+-----------\+-------------\+\n` +
		`\| BENCHMARK \| NANOSECONDS \|\n` +
		`\+-----------\+-------------\+\n` +
		`\| count     \| ([0-9]+) +\|\n` +
		`\| lhist     \| ([0-9]+) +\|\n` +
		`\| my_loop   \| ([0-9]+) +\|\n` +
		`\+-----------\+-------------\+\n\n`)
	m := table.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("stdout does not start with the table:\n%s", r.stdout)
	}
	for _, ns := range m[1:] {
		if n, err := strconv.Atoi(ns); err != nil || n <= 0 {
			t.Errorf("mean run time %q is not a positive number of nanoseconds", ns)
		}
	}
	rest := r.stdout[len(m[0]):]
	if !strings.HasPrefix(rest, "@a:\n(..., 1) ") || !strings.HasSuffix(rest, "\n@runs: true\n") || strings.Contains(rest, "dropped") {
		t.Errorf("maps after the table:\n%s", rest)
	}
}

// A self:signal:SIGUSR1 probe runs each time ebtrace gets SIGUSR1.
func TestSelfSignal(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	cmd := exec.Command(testutil.Build(t, "./cmd/ebtrace"), "-e",
		`self:signal:SIGUSR1 { printf("usr1 %d %s\n", @n++, probe); if (@n == 2) { exit(); } }`)
	stdout, stderr := &testutil.Buffer{}, &testutil.Buffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "Attached 1 probe\n") })
	cmd.Process.Signal(syscall.SIGUSR1)
	waitFor(t, func() bool { return strings.Contains(stdout.String(), "usr1 0") })
	cmd.Process.Signal(syscall.SIGUSR1)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	if want := "usr1 0 self:signal:SIGUSR1\nusr1 1 self:signal:SIGUSR1\n\n\n@n: 2\n"; stdout.String() != want {
		t.Errorf("stdout %q, want %q", stdout.String(), want)
	}
}

// assert(COND, MSG) reports MSG as an error at the call and exits with
// code 1 when COND is false; a test probe whose assert fails fails.
func TestAssert(t *testing.T) {
	r := runCLI(t, "-e", `BEGIN { assert(1 == 1, "fine"); printf("a\n"); $m = "pid is not 0"; assert(pid == 0, $m); printf("not reached\n"); }`)
	r.want(t, 1, "a\n\n\n")
	if want := "Attached 1 probe\nstdin:1:69-89: ERROR: assertion failed: pid is not 0\n"; r.stderr != want {
		t.Errorf("stderr %q, want %q", r.stderr, want)
	}
	r = runCLI(t, "--test", "-e", `test:sum { $n = 2 + 2; assert($n == 5, "2 + 2 is 5"); }`)
	r.want(t, 1, "FAIL test:sum: exit(1), 1 error\n\n\n")
}

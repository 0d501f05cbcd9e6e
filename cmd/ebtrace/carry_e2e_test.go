package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// carryScripts use syscalls tracepoints every way a script can: all of
// them, many exits, single ones with their arguments, several probes on
// one event, a predicate on probe, and raw_syscalls beside them. Only the
// first takes all: without carriers, each tracepoint costs the kernel a
// grace period to detach. Their probes filter on
// the comm of the workload copy TestCarriedEquivalent runs.
var carryScripts = map[string]string{
	"enter all": `tracepoint:syscalls:sys_enter_* /comm == "eqload"/ { @[probe] = count(); }`,
	"exits":     `tracepoint:syscalls:sys_exit_[b-s]* /comm == "eqload"/ { @[probe, args.ret] = count(); }`,
	"args": `
tracepoint:syscalls:sys_enter_openat /comm == "eqload"/ { printf("open %s %d %d\n", str(args.filename), args.dfd, args.flags); }
tracepoint:syscalls:sys_enter_kill /comm == "eqload"/ { printf("kill %d %d\n", args.pid, args.sig); }
tracepoint:syscalls:sys_exit_openat, tracepoint:syscalls:sys_exit_kill /comm == "eqload"/ { printf("%s = %d\n", probe, args.ret); }
tracepoint:syscalls:sys_enter_write, tracepoint:syscalls:sys_enter_pwrite64 /comm == "eqload"/ { @w[probe] = sum(args.count); }
tracepoint:syscalls:sys_enter_newfstatat, tracepoint:syscalls:sys_enter_statx /comm == "eqload"/ { @st[probe, str(args.filename)] = count(); }`,
	"chained": `
tracepoint:syscalls:sys_enter_[a-f]* /comm == "eqload" && probe == "tracepoint:syscalls:sys_enter_close"/ { printf("first %d\n", args.__syscall_nr); }
tracepoint:syscalls:sys_enter_close /comm == "eqload"/ { printf("second %d\n", args.fd); }
tracepoint:syscalls:sys_enter_c* /comm == "eqload"/ { printf("third %s\n", probe); }
tracepoint:raw_syscalls:sys_enter /comm == "eqload"/ { @raw = count(); }
tracepoint:syscalls:sys_enter_[b-m]* /comm == "eqload"/ { @some = count(); }`,
}

// Syscalls tracepoints run on raw_syscalls (carry) with the output they
// have on their own events: each script runs twice at once, once with
// EBTRACE_SYSCALL_DISPATCH=0, over the same workload processes, and the
// two outputs must be the same, byte for byte.
func TestCarriedEquivalent(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	bin := testutil.Build(t, "./cmd/ebtrace")
	load := filepath.Join(t.TempDir(), "eqload")
	b, err := os.ReadFile(testutil.Workload(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(load, b, 0o755); err != nil {
		t.Fatal(err)
	}
	host := filepath.Join(t.TempDir(), "host")
	if err := os.WriteFile(host, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	workloads := [][]string{
		{"open", host, "/nonexistent"}, {"write", "10", "100"}, {"getppid", "100"},
		{"kill", "-999999", "0"}, {"stat", host, "/nonexistent"}, {"badclose", "20"}, {"rw", "5", "64"},
	}
	// 32-bit syscalls reach raw_syscalls with the 32-bit table's numbers
	// (getpid's is writev's in the 64-bit one), and the syscalls
	// tracepoints skip them: so must the carrier's guard.
	if out, err := exec.Command(load, "int80", "1").CombinedOutput(); err != nil {
		t.Logf("no 32-bit syscalls here (int80: %v: %s); the 32-bit guard goes untested", err, out)
	} else {
		workloads = append(workloads, []string{"int80", "5"})
	}
	for name, script := range carryScripts {
		t.Run(name, func(t *testing.T) {
			carried := startScript(t, bin, script)
			own := startScript(t, bin, script, "EBTRACE_SYSCALL_DISPATCH=0")
			_, carriedLinks := testutil.BPFObjects(t, carried.cmd.Process.Pid)
			ownProgs, ownLinks := testutil.BPFObjects(t, own.cmd.Process.Pid)
			if len(carriedLinks) >= len(ownLinks) {
				t.Errorf("with carriers ebtrace holds %d links, without %d; want fewer", len(carriedLinks), len(ownLinks))
			}
			for _, w := range workloads {
				if out, err := exec.Command(load, w...).CombinedOutput(); err != nil {
					t.Fatalf("eqload %v: %v: %s", w, err, out)
				}
			}
			a, b := carried.stop(t), own.stop(t)
			// The tests after this one start on a kernel done detaching.
			waitReleased(t, ownProgs, ownLinks)
			if a != b {
				t.Errorf("output with carriers:\n%s\nwithout:\n%s", a, b)
			}
			if strings.Count(a, "\n") < 5 {
				t.Errorf("too little output to compare:\n%s", a)
			}
		})
	}
}

type scriptRun struct {
	cmd            *exec.Cmd
	stdout, stderr *testutil.Buffer
	exited         chan struct{}
}

// startScript starts ebtrace on script with env added to its environment
// and waits until it has attached.
func startScript(t *testing.T, bin, script string, env ...string) *scriptRun {
	t.Helper()
	tr := &scriptRun{cmd: exec.Command(bin, "-e", script), stdout: &testutil.Buffer{}, stderr: &testutil.Buffer{}}
	tr.cmd.Env = append(os.Environ(), env...)
	tr.cmd.Stdout, tr.cmd.Stderr = tr.stdout, tr.stderr
	if err := tr.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { tr.cmd.Wait(); close(exited) }()
	t.Cleanup(func() { tr.cmd.Process.Kill(); <-exited })
	for !strings.Contains(tr.stderr.String(), "Attached") {
		select {
		case <-exited:
			t.Fatalf("ebtrace ended before attaching: %s", tr.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	tr.exited = exited
	return tr
}

// stop interrupts the tracer and returns its output.
func (tr *scriptRun) stop(t *testing.T) string {
	t.Helper()
	tr.cmd.Process.Signal(syscall.SIGINT)
	<-tr.exited
	if !tr.cmd.ProcessState.Success() {
		t.Fatalf("%v: %s", tr.cmd.ProcessState, tr.stderr.String())
	}
	return tr.stdout.String()
}

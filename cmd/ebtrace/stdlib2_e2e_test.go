package main

import (
	"bytes"
	"os/exec"
	"testing"

	"ebtrace/internal/testutil"
)

// pid and tid are as ebtrace's PID namespace numbers tasks, pid(init) and
// tid(init) as the initial namespace does. In the initial namespace they
// agree.
func TestPIDInit(t *testing.T) {
	wl := testutil.Workload(t)
	script := `tracepoint:syscalls:sys_enter_getppid /pid == cpid/ {
	printf("%d %d %d %d\n", pid(init) == pid, tid(init) == tid, pid(curr_ns) == curtask->tgid, tid(curr_ns) == curtask->pid);
}`
	r := ebtrace(t, "-e", script, "-c", wl+" getppid 1")
	r.want(t, 0, "1 1 1 1\n\n\n")
}

// Run in a PID namespace of its own, ebtrace numbers tasks as that
// namespace does: its own BEGIN runs as pid 1 there, the command it starts
// (-c) is cpid, and pid(init) and tid(init) are the kernel's numbers,
// task_struct's tgid and pid.
func TestPIDNamespace(t *testing.T) {
	testutil.RequireRoot(t)
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("needs unshare(1)")
	}
	if out, err := exec.Command(unshare, "--pid", "--fork", "--mount-proc", "true").CombinedOutput(); err != nil {
		t.Skipf("cannot make a PID namespace: %v: %s", err, out)
	}
	wl := testutil.Workload(t)
	script := `BEGIN { printf("BEGIN %d %d\n", pid, pid(init) == curtask->tgid); }
tracepoint:syscalls:sys_enter_getppid /pid == cpid/ {
	printf("%d %d %d %d %d\n", pid(curr_ns) == pid, tid(curr_ns) == tid, pid(init) == curtask->tgid, tid(init) == curtask->pid, pid(init) != pid);
}`
	cmd := exec.Command(unshare, "--pid", "--fork", "--mount-proc", testutil.Build(t, "./cmd/ebtrace"), "-e", script, "-c", wl+" getppid 2")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v; stderr:\n%s", err, errb.String())
	}
	if want := "BEGIN 1 1\n1 1 1 1 1\n1 1 1 1 1\n\n\n"; out.String() != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out.String(), want)
	}
}

// nsecs(sw_tai), the boot clock plus the offset of CLOCK_TAI user space
// measured, keeps within a microsecond of the kernel's own CLOCK_TAI.
func TestNsecsSwTAI(t *testing.T) {
	script := `interval:ms:20 {
	$a = nsecs(sw_tai); $tai = nsecs(tai); $b = nsecs(sw_tai);
	$d = ($a + $b) / 2 - $tai;
	printf("%d\n", $d > -1000 && $d < 1000);
	if (++@n == 3) { exit(); }
}`
	r := ebtrace(t, "-e", script)
	r.want(t, 0, "1\n1\n1\n\n\n@n: 3\n")
}

package main

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/emit"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// pid and tid are as ebtrace's PID namespace numbers tasks, pid(init) and
// tid(init) as the initial namespace does. In the initial namespace they
// agree.
func TestPIDInit(t *testing.T) {
	wl := testutil.Workload(t)
	script := `tracepoint:syscalls:sys_enter_getppid /pid == cpid/ {
	printf("%d %d %d %d\n", pid(init) == pid, tid(init) == tid, pid(curr_ns) == curtask->tgid, tid(curr_ns) == curtask->pid);
}`
	r := runCLI(t, "-e", script, "-c", wl+" getppid 1")
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

	// A user stack records the pid of ebtrace's namespace, where the
	// symbolizer finds the process's mappings: its frames have names.
	cmd = exec.Command(unshare, "--pid", "--fork", "--mount-proc", testutil.Build(t, "./cmd/ebtrace"), "-e",
		`tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @[ustack(3)] = count(); }`, "-c", wl+" getppid 2")
	out.Reset()
	errb.Reset()
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v; stderr:\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "main.main+") {
		t.Errorf("the user stack is not symbolized:\n%s", out.String())
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
	r := runCLI(t, "-e", script)
	r.want(t, 0, "1\n1\n1\n\n\n@n: 3\n")
}

// requireTaskFromPid skips the test unless programs of type pt may call
// bpf_task_from_pid and bpf_task_release, which comm(pid) calls: the
// kernel answers for a program that does.
func requireTaskFromPid(t *testing.T, pt ebpf.ProgramType) {
	t.Helper()
	testutil.RequireRoot(t)
	from, err := kernel.KernelFuncID("bpf_task_from_pid")
	if err != nil {
		t.Skipf("comm(pid): %v", err)
	}
	release, err := kernel.KernelFuncID("bpf_task_release")
	if err != nil {
		t.Skipf("comm(pid): %v", err)
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: pt, License: "GPL", Instructions: asm.Instructions{
		asm.Mov.Imm(asm.R1, 1),
		emit.KfuncCall(from),
		asm.JEq.Imm(asm.R0, 0, "out"),
		asm.Mov.Reg(asm.R1, asm.R0),
		emit.KfuncCall(release),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
		asm.Return(),
	}})
	if errors.Is(err, unix.EACCES) {
		t.Skipf("the kernel does not let %s programs call bpf_task_from_pid: %v", pt, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	prog.Close()
}

// comm(PID) is the name of the task of that process id, in a tracepoint
// and in an interval probe (a perf event program); empty for an id no
// task has.
func TestCommOfPid(t *testing.T) {
	requireTaskFromPid(t, ebpf.TracePoint)
	requireTaskFromPid(t, ebpf.PerfEvent)
	wl := testutil.Workload(t)
	task, tracer := taskName(wl), taskName(testutil.Build(t, "./cmd/ebtrace"))
	script := `tracepoint:syscalls:sys_enter_getppid /pid == cpid/ {
	printf("%s|%s|%s|%s|%s\n", comm(pid), comm(cpid), comm(ppid), comm(0), comm(-1));
	@[comm(tid)] = count();
}`
	r := runCLI(t, "-e", script, "-c", wl+" getppid 2")
	line := task + "|" + task + "|" + tracer + "||\n"
	r.want(t, 0, line+line+"\n\n@["+task+"]: 2\n")

	r = runCLI(t, "-e", `config = { print_maps_on_exit = false; } BEGIN { @p = pid; } interval:ms:10 { printf("%s\n", comm(@p)); exit(); }`)
	r.want(t, 0, tracer+"\n")
}

// taskName is the name the kernel gives a task running the binary at
// path: its base name, cut to 15 bytes.
func taskName(path string) string {
	name := filepath.Base(path)
	return name[:min(len(name), 15)]
}

// An unstable feature works with a warning by default, and without one
// where the config block enables it; unstable_map_decl = error refuses it.
func TestUnstableFeatures(t *testing.T) {
	script := `let @m = hash(2); BEGIN { @m[1] = 5; exit(); }`
	r := runCLI(t, "-q", "-e", script)
	r.want(t, 0, "\n\n@m[1]: 5\n")
	want := `stdin:1:1: warning: map declarations are an unstable feature
    let @m = hash(2); BEGIN { @m[1] = 5; exit(); }
    ^~~~~~~~~~~~~~~~
hint: set unstable_map_decl = enable in the config block to use it without this warning
`
	if r.stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, want)
	}
	r = runCLI(t, "-q", "-e", `config = { unstable_map_decl = enable; license = "Dual BSD/GPL" } `+script)
	r.want(t, 0, "\n\n@m[1]: 5\n")
	if r.stderr != "" {
		t.Errorf("stderr:\n%s\nwant none", r.stderr)
	}
	r = ebtraceEnv(t, []string{"BPFTRACE_UNSTABLE_MAP_DECL=error"}, "-q", "-e", `config = { unstable_map_decl = enable } `+script)
	if r.code != 1 || !strings.Contains(r.stderr, "error: map declarations are an unstable feature, which unstable_map_decl = error refuses") {
		t.Errorf("exit status %d, stderr:\n%s\nwant the environment's error to win", r.code, r.stderr)
	}
}

// socket_cookie() of a raw tracepoint's typed socket pointer (tp_btf) is
// the socket's cookie: never 0, the same at every call, one per socket.
func TestSocketCookie(t *testing.T) {
	wl := testutil.Workload(t)
	script := `rawtracepoint:inet_sock_set_state /pid == cpid/ {
	$c = socket_cookie(args.sk);
	if ($c == 0 || $c != socket_cookie(args.sk)) { printf("bad cookie %d\n", $c); }
	@cookies[$c] = count(); @socks[args.sk] = count();
}
END { printf("%d %d\n", len(@cookies) == len(@socks), len(@cookies) > 1); clear(@cookies); clear(@socks); }`
	r := runCLI(t, "-q", "-e", script, "-c", wl+" tcp")
	if r.code != 0 && strings.Contains(r.stderr, "has no typed arguments") {
		t.Skipf("no BTF-typed raw tracepoints: %s", r.stderr)
	}
	r.want(t, 0, "1 1\n\n\n\n\n")
}

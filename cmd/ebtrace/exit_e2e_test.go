package main

import (
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// exitSyscalls are the tracepoints TestExitLeavesDetach attaches, each on
// its own (without carriers), so that detaching them costs the kernel a
// grace period each.
var exitSyscalls = []string{"openat", "read", "write", "close", "getppid", "getpid", "mmap", "munmap", "ioctl", "futex"}

// detachCost measures what the kernel takes to detach a program from
// each of exitSyscalls' tracepoints, one after another.
func detachCost(t *testing.T) time.Duration {
	t.Helper()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.TracePoint, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	var links []io.Closer
	for _, sc := range exitSyscalls {
		l, err := link.Tracepoint("syscalls", "sys_enter_"+sc, prog, nil)
		if err != nil {
			t.Fatal(err)
		}
		links = append(links, l)
	}
	start := time.Now()
	for _, l := range links {
		l.Close()
	}
	return time.Since(start)
}

func monotonicNow(t *testing.T) uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	return uint64(ts.Nano())
}

// At exit, ebtrace prints and ends without waiting for the kernel to
// detach its tracepoints; the kernel still detaches everything, and a
// second ebtrace started at once sees only its own events.
func TestExitLeavesDetach(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	bin := testutil.Build(t, "./cmd/ebtrace")
	cost := detachCost(t)
	script := ""
	for _, sc := range exitSyscalls {
		script += fmt.Sprintf("tracepoint:syscalls:sys_enter_%s { @%s = count(); }\n", sc, sc)
	}
	script += `interval:ms:300 { printf("exit_ns %llu\n", nsecs); exit(); }`
	first := startScript(t, bin, script, "EBTRACE_SYSCALL_DISPATCH=0")
	progs, links := testutil.BPFObjects(t, first.cmd.Process.Pid)
	if len(links) != len(exitSyscalls)+1 {
		t.Fatalf("ebtrace holds links %v, want %d", links, len(exitSyscalls)+1)
	}
	// exited waits for the ends of ebtrace's output pipes too: a holder
	// that kept them open would make this wait for the kernel's detach.
	<-first.exited
	ended := monotonicNow(t)
	if !first.cmd.ProcessState.Success() {
		t.Fatalf("%v: %s", first.cmd.ProcessState, first.stderr.String())
	}
	line, _, _ := strings.Cut(first.stdout.String(), "\n")
	exitNs, err := strconv.ParseUint(strings.TrimPrefix(line, "exit_ns "), 10, 64)
	if err != nil {
		t.Fatalf("first line %q: %v", line, err)
	}
	took := time.Duration(ended - exitNs)
	t.Logf("exit() to the end of ebtrace: %v; the kernel detaches these %d tracepoints in %v", took, len(exitSyscalls), cost)
	if cost > 30*time.Millisecond && took > cost/3 {
		t.Errorf("ebtrace took %v from exit() to its end, more than a third of the kernel's %v to detach its tracepoints", took, cost)
	}

	wl, comm := testutil.Renamed(t, testutil.Workload(t), "exit")
	second := startScript(t, bin, fmt.Sprintf(`tracepoint:syscalls:sys_enter_getppid /comm == "%s"/ { @n = count(); }`, comm))
	if out, err := exec.Command(wl, "getppid", "7").CombinedOutput(); err != nil {
		t.Fatalf("workload: %v: %s", err, out)
	}
	if out := second.stop(t); out != "\n\n@n: 7\n" {
		t.Errorf("the second ebtrace printed %q, want only its own count", out)
	}
	if errs := second.stderr.String(); errs != "Attached 1 probe\n" {
		t.Errorf("the second ebtrace said %q", errs)
	}
	// The holder has the first ebtrace's links until it ends.
	waitReleased(t, progs, links)
}

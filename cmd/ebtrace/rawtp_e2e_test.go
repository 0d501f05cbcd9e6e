package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// End-to-end tests of rawtracepoint, profile, software and hardware probes.

func requireKernelBTF(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); errors.Is(err, os.ErrNotExist) {
		t.Skipf("needs kernel BTF (CONFIG_DEBUG_INFO_BTF) for tp_btf: %v", err)
	} else if err != nil {
		t.Fatal(err)
	}
}

// sys_enter(struct pt_regs *regs, long id): arg1 and args.id are the
// syscall number, and the workload makes exactly 1000 getppid calls.
func TestRawTracepointCount(t *testing.T) {
	requireKernelBTF(t)
	wl := testutil.Workload(t)
	r := runCLI(t, "-e", fmt.Sprintf(`rawtracepoint:sys_enter /pid == cpid && arg1 == %[1]d/ { @raw = count(); }
rt:sys_enter /pid == cpid && args.id == %[1]d/ { @typed = count(); }`, unix.SYS_GETPPID), "-c", wl+" getppid 1000")
	r.want(t, 0, "\n\n@raw: 1000\n@typed: 1000\n")
}

// sched_process_exec(struct task_struct *p, pid_t old_pid, ...) fires when
// the -c child execs the workload. old_pid is the id of the thread that
// called execve: the child is ebtrace itself, whose Go runtime may exec
// from a thread other than the first, so old_pid is cpid or a later id.
func TestRawTracepointExec(t *testing.T) {
	requireKernelBTF(t)
	wl := testutil.Workload(t)
	r := runCLI(t, "-e", `rawtracepoint:sched_process_exec /pid == cpid/ { printf("%d %d\n", args.old_pid >= cpid, args.p != 0); }`, "-c", wl+" getppid 1")
	r.want(t, 0, "1 1\n\n\n")
}

func TestRawTracepointList(t *testing.T) {
	requireKernelBTF(t)
	r := runCLI(t, "-lv", "rt:sched_switch")
	r.want(t, 0, "rawtracepoint:sched_switch\n    bool preempt\n    struct task_struct * prev\n    struct task_struct * next\n    unsigned int prev_state\n")
	r = runCLI(t, "-l", "rawtracepoint:sched_process_e*")
	r.want(t, 0, "rawtracepoint:sched_process_exec\nrawtracepoint:sched_process_exit\n")
	r = runCLI(t, "-e", "rawtracepoint:sched_swich { }")
	r.want(t, 1, "")
	if !strings.Contains(r.stderr, "hint: did you mean rawtracepoint:sched_switch?") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

var cpuCount = regexp.MustCompile(`(?m)^@\[(\d+)\]: (\d+)$`)

// profile:hz:99 samples every online CPU about 99 times in the workload's
// second. Every CPU is kept busy by a spinning workload: this VM's kernel
// takes almost no cpu-clock samples on an idle CPU (bpftrace sees the same).
func TestProfileAllCPUs(t *testing.T) {
	wl := testutil.Workload(t)
	for range onlineCPUs(t) {
		spinner := exec.Command(wl, "spin", "1500")
		if err := spinner.Start(); err != nil {
			t.Fatal(err)
		}
		defer spinner.Wait()
	}
	r := runCLI(t, "-e", `profile:hz:99 { @[cpu] = count(); }`, "-c", wl+" sleep 1000")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	samples := map[string]int{}
	for _, m := range cpuCount.FindAllStringSubmatch(r.stdout, -1) {
		samples[m[1]], _ = strconv.Atoi(m[2])
	}
	for _, cpu := range onlineCPUs(t) {
		if n := samples[cpu]; n < 70 || n > 130 {
			t.Errorf("CPU %s: %d samples in about a second at 99 Hz\n%s", cpu, n, r.stdout)
		}
		delete(samples, cpu)
	}
	if len(samples) > 0 {
		t.Errorf("samples from CPUs that are not online: %v", samples)
	}
}

// onlineCPUs lists the online CPUs' numbers from the kernel's "0-3,5" list.
func onlineCPUs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		t.Fatal(err)
	}
	var cpus []string
	for _, part := range strings.Split(strings.TrimSpace(string(b)), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		first, err1 := strconv.Atoi(lo)
		last, err2 := first, error(nil)
		if isRange {
			last, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil {
			t.Fatalf("online CPUs %q", b)
		}
		for c := first; c <= last; c++ {
			cpus = append(cpus, strconv.Itoa(c))
		}
	}
	return cpus
}

// The spinning workload is sampled under its own name. (The -c child
// may also be sampled as ebtrace, before it execs the workload.)
func TestProfileComm(t *testing.T) {
	wl := testutil.Workload(t)
	r := runCLI(t, "-e", `profile:hz:99 /pid == cpid/ { @[comm] = count(); }`, "-c", wl+" spin 300")
	n := -1
	for _, m := range regexp.MustCompile(`(?m)^@\[(.*)\]: (\d+)$`).FindAllStringSubmatch(r.stdout, -1) {
		if m[1] == commOf(wl) {
			n, _ = strconv.Atoi(m[2])
		}
	}
	// 300 ms of CPU time at 99 Hz is about 30 samples.
	if n < 20 || n > 40 {
		t.Errorf("%d samples of %s's 300 ms spin; stdout:\n%s", n, commOf(wl), r.stdout)
	}
}

func TestSoftwareList(t *testing.T) {
	r := runCLI(t, "-l", "s:*faults*")
	r.want(t, 0, "software:alignment-faults:\nsoftware:emulation-faults:\nsoftware:major-faults:\nsoftware:minor-faults:\nsoftware:page-faults:\n")
}

// On a machine without hardware counters the probe is refused before
// anything loads, with the alternatives named.
func TestHardwareMissing(t *testing.T) {
	testutil.RequireRoot(t)
	attr := unix.PerfEventAttr{
		Type: unix.PERF_TYPE_HARDWARE, Config: unix.PERF_COUNT_HW_CPU_CYCLES,
		Size: uint32(unsafe.Sizeof(unix.PerfEventAttr{})), Bits: unix.PerfBitDisabled,
	}
	fd, err := unix.PerfEventOpen(&attr, -1, 0, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err == nil {
		unix.Close(fd)
		t.Skip("this machine has hardware counters (probe/profile's TestHardware samples them)")
	}
	if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.ENODEV) {
		t.Fatalf("perf_event_open(cpu-cycles): %v", err)
	}
	r := runCLI(t, "-e", `hardware:cycles { @ = count(); }`)
	if r.code == 0 {
		t.Fatalf("perf_event_open(cpu-cycles) failed with %v, but ebtrace ran hardware:cycles:\n%s", err, r.stdout)
	}
	if !strings.Contains(r.stderr, "hardware:cpu-cycles needs a CPU performance counter") || !strings.Contains(r.stderr, "software:cpu-clock or profile:hz:99") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

package main

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/probe/arch"
	"github.com/ebtrace/ebtrace/internal/probe/fentry"
	"github.com/ebtrace/ebtrace/internal/probe/kprobe"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// These tests run BPF objects compiled from testdata/run/*.bpf.c with
// clang through `ebtrace run`; they skip where clang is missing.

// TestRunList lists a program of every section kind: where each attaches,
// or, for kprobes and fentry on a kernel without them, why not.
func TestRunList(t *testing.T) {
	obj := testutil.BuildBPF(t, "testdata/run/sections.bpf.c")
	r := runCLI(t, "run", "-l", obj)
	if r.code != 0 {
		t.Fatalf("exit status %d: %s", r.code, r.stderr)
	}
	attaches := func(avail error, probe string) string {
		if avail == nil {
			return probe
		}
		return "cannot attach: " + probe + ": "
	}
	want := []string{
		`fentry/do_nanosleep                    fent         ` + attaches(fentry.Available(), "fentry:do_nanosleep"),
		`fexit/do_nanosleep                     fexi         ` + attaches(fentry.Available(), "fexit:do_nanosleep"),
		`kprobe/do_nanosleep                    kp           ` + attaches(kprobe.Available(), "kprobe:do_nanosleep"),
		`kretprobe/do_nanosleep                 kretp        ` + attaches(kprobe.Available(), "kretprobe:do_nanosleep"),
		`ksyscall/getppid                       ksys         ` + attaches(kprobe.Available(), "kprobe:"+syscallWrapper(t, "getppid")),
		`perf_event                             sample       profile:hz:99`,
		`raw_tp/sys_enter                       raw_enter    rawtracepoint:sys_enter`,
		`raw_tracepoint/sys_exit                raw_exit     rawtracepoint:sys_exit`,
		`tp/syscalls/sys_exit_getppid           tp_exit      tracepoint:syscalls:sys_exit_getppid`,
		`tp_btf/sched_process_exec              btf_exec     rawtracepoint:sched_process_exec`,
		`tracepoint                             tail_target  (loaded, not attached: the section names no attach point)`,
		`tracepoint/syscalls/sys_enter_getppid  tp_enter     tracepoint:syscalls:sys_enter_getppid`,
	}
	got := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(got), len(want), r.stdout)
	}
	for i := range want {
		if strings.HasSuffix(want[i], ": ") && strings.HasPrefix(got[i], want[i]) || got[i] == want[i] {
			continue
		}
		t.Errorf("line %d:\n got %s\nwant %s", i+1, got[i], want[i])
	}
}

// syscallWrapper is the function through which this architecture enters
// system call name.
func syscallWrapper(t *testing.T, name string) string {
	regs, err := arch.Host()
	if err != nil {
		t.Skip(err)
	}
	return regs.SyscallWrapper + name
}

// runPrintk matches the object's bpf_printk line for call n of the
// workload pid: the trace_pipe line, without its padding and event name.
func runPrintk(comm string, pid, n int, label string) *regexp.Regexp {
	return regexp.MustCompile(fmt.Sprintf(`^%s-%d +\[\d+\] \S+ +\d+\.\d+: getppid call %d of %s$`, regexp.QuoteMeta(comm), pid, n, regexp.QuoteMeta(label)))
}

// TestRunObject runs getppid.bpf.o on the workload's three getppid(2)
// calls: each program counts them, bpf_printk prints each, the typed ring
// buffer and the untyped perf event array carry each, and at exit the
// maps and globals show typed keys and values.
func TestRunObject(t *testing.T) {
	obj := testutil.BuildBPF(t, "testdata/run/getppid.bpf.c")
	wl := testutil.Workload(t)
	r := runCLI(t, "run", obj, "--set", "label=things", "--hist", "write_sizes", "-c", wl+" getppid 3")
	if r.code != 0 {
		t.Fatalf("exit status %d: %s", r.code, r.stderr)
	}
	pid := childPID(t, r.stdout)
	live, atExit, ok := strings.Cut(r.stdout, "\n\n\n")
	if !ok {
		t.Fatalf("no blank lines before the maps:\n%s", r.stdout)
	}
	var printk, records, perf []string
	for _, line := range strings.Split(live, "\n") {
		switch {
		case strings.HasPrefix(line, "calls: "):
			records = append(records, line)
		case strings.HasPrefix(line, "raw_calls: "):
			perf = append(perf, line)
		default:
			printk = append(printk, line)
		}
	}
	for n := 1; n <= 3; n++ {
		if want := fmt.Sprintf(`calls: { .pid = %d, .n = %d, .comm = "%s" }`, pid, n, commOf(wl)); len(records) < n || records[n-1] != want {
			t.Errorf("ring buffer records %q, want record %d to be %s", records, n, want)
		}
		raw := make([]byte, 4)
		binary.NativeEndian.PutUint32(raw, uint32(n))
		if want := "raw_calls: " + hex.EncodeToString(raw); len(perf) < n || perf[n-1] != want {
			t.Errorf("perf records %q, want record %d to be %s", perf, n, want)
		}
		if len(printk) < n || !runPrintk(commOf(wl), pid, n, "things").MatchString(printk[n-1]) {
			t.Errorf("printk lines %q, want line %d to match %s", printk, n, runPrintk(commOf(wl), pid, n, "things"))
		}
	}
	if len(printk) != 3 || len(records) != 3 || len(perf) != 3 {
		t.Errorf("%d printk lines, %d ring buffer records, %d perf records; want 3 of each:\n%s", len(printk), len(records), len(perf), live)
	}
	want := fmt.Sprintf(`@by_label[{ .pid = %d, .label = "things" }]: 3
@enter_hits: 3
@execs: 1
@exit_hits: 3
@raw_hits: 3
@write_sizes:

`, pid)
	if atExit != want {
		t.Errorf("maps at exit:\n%s\nwant:\n%s", atExit, want)
	}
}

// childPID is the workload's pid, from the object's first ring buffer
// record.
func childPID(t *testing.T, stdout string) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^calls: \{ \.pid = (\d+),`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no ring buffer record in:\n%s", stdout)
	}
	var pid int
	fmt.Sscan(m[1], &pid)
	return pid
}

// TestRunHist shows a map of log2 slots as a histogram: the workload's
// writes of 5 to 9 bytes are three in [4, 8) and two in [8, 16).
func TestRunHist(t *testing.T) {
	obj := testutil.BuildBPF(t, "testdata/run/getppid.bpf.c")
	r := runCLI(t, "run", obj, "--hist", "write_sizes", "-c", testutil.Workload(t)+" write 5 9")
	r.want(t, 0, `

@enter_hits: 0
@execs: 1
@exit_hits: 0
@raw_hits: 0
@write_sizes:
[4, 8)                 3 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[8, 16)                2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@                  |

`)
}

// TestRunLegacy runs an object written for the 2015 loader: its map in
// the "maps" section, its program in an events/ section.
func TestRunLegacy(t *testing.T) {
	obj := testutil.BuildBPF(t, "testdata/run/legacy.bpf.c")
	r := runCLI(t, "run", obj, "-c", testutil.Workload(t)+" getppid 2")
	r.want(t, 0, "\n\n@counts[0]: 2\n")
}

// TestRunOwnPrintk runs the object beside a script whose programs also
// print with bpf_trace_printk: ebtrace run shows only the object's lines,
// while a tracefs instance of the test's own sees both programs' lines.
func TestRunOwnPrintk(t *testing.T) {
	obj := testutil.BuildBPF(t, "testdata/run/getppid.bpf.c")
	bin := testutil.Build(t, "./cmd/ebtrace")
	root, _, err := kernel.Tracefs()
	if err != nil {
		t.Fatal(err)
	}
	instance := testutil.TracefsInstance(t, root, "ebtrace-test-printk")
	if err := os.WriteFile(filepath.Join(instance, printkEnable), []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	other := exec.Command(bin, "-e", `tracepoint:syscalls:sys_enter_getppid { debugf("unrelated %d\n", pid); }`)
	stderr := &testutil.Buffer{}
	other.Stderr = stderr
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		other.Process.Signal(syscall.SIGINT)
		other.Wait()
	}()
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "Attached") })
	wl := testutil.Workload(t)
	r := runCLI(t, "run", obj, "-c", wl+" getppid 2")
	if r.code != 0 {
		t.Fatalf("exit status %d: %s", r.code, r.stderr)
	}
	pid := childPID(t, r.stdout)
	var printk []string
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.Contains(line, "unrelated") || strings.Contains(line, "getppid call") {
			printk = append(printk, line)
		}
	}
	if len(printk) != 2 || !runPrintk(commOf(wl), pid, 1, "calls").MatchString(printk[0]) || !runPrintk(commOf(wl), pid, 2, "calls").MatchString(printk[1]) {
		t.Errorf("printk lines %q, want the object's two", printk)
	}
	os.WriteFile(filepath.Join(instance, printkEnable), []byte("0"), 0)
	trace, err := os.ReadFile(filepath.Join(instance, "trace"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{fmt.Sprintf("unrelated %d", pid), "getppid call 2 of calls"} {
		if !strings.Contains(string(trace), want) {
			t.Errorf("the test's own instance lacks %q: the test shows nothing", want)
		}
	}
}

// printkEnable enables the trace event of bpf_trace_printk.
const printkEnable = "events/bpf_trace/bpf_trace_printk/enable"

// TestRunErrors checks what ebtrace run says of objects and options it
// cannot run.
func TestRunErrors(t *testing.T) {
	obj := testutil.BuildBPF(t, "testdata/run/getppid.bpf.c")
	unknown := testutil.BuildBPF(t, "testdata/run/unknown.bpf.c")
	none := filepath.Join(t.TempDir(), "none.o")
	for _, c := range []struct {
		args   []string
		stderr string
	}{
		{[]string{}, "ebtrace: run: name the BPF object to run (OBJECT.o)\nTry 'ebtrace run -h' for more information.\n"},
		{[]string{obj, "extra"}, "ebtrace: run: unexpected argument extra after the object " + obj + "\nTry 'ebtrace run -h' for more information.\n"},
		{[]string{"--set", "label", obj}, "ebtrace: run: --set label: want NAME=VALUE\nTry 'ebtrace run -h' for more information.\n"},
		{[]string{"--set", "nosuch=1", obj, "--duration", "1s"}, "ebtrace: --set nosuch: the object has no global variable nosuch (it has call_type, label, targ_tgid)\n"},
		{[]string{"--set", "targ_tgid=many", obj, "--duration", "1s"}, "ebtrace: --set targ_tgid=many: want a 4-byte signed integer\n"},
		{[]string{"--set", "label=much too long", obj, "--duration", "1s"}, "ebtrace: --set label=much too long: the string must be shorter than 8 bytes\n"},
		{[]string{"--hist", "nosuch", obj, "--duration", "1s"}, "ebtrace: the object has no map nosuch (it has by_label, calls, raw_calls, write_sizes)\n"},
		{[]string{"--hist", "by_label", obj, "--duration", "1s"}, "ebtrace: map by_label: its keys are struct key, not log2 slots (integers)\n"},
		{[]string{unknown}, `ebtrace: section "tracepoint/nosuchcategory/nosuchevent" (program missing): tracepoint:nosuchcategory:nosuchevent does not exist on this kernel
ebtrace: section "xdp" (program pass): ebtrace run attaches tracing programs only (sections tracepoint/, tp/, raw_tp/, raw_tracepoint/, tp_btf/, kprobe/, kretprobe/, ksyscall/, kretsyscall/, fentry/, fexit/, uprobe/, uretprobe/, usdt/, perf_event and the 2015 loader's events/)
`},
		{[]string{none}, "ebtrace: read " + none + ": open " + none + ": no such file or directory\n"},
	} {
		r := runCLI(t, append([]string{"run"}, c.args...)...)
		if r.code != 1 || !strings.HasPrefix(r.stderr, c.stderr) || strings.HasSuffix(c.stderr, "\n") && r.stderr != c.stderr {
			t.Errorf("ebtrace run %q: exit %d, stderr:\n%s\nwant exit 1 and:\n%s", c.args, r.code, r.stderr, c.stderr)
		}
	}
}

// TestRunLeavesNothing kills ebtrace run with SIGKILL while it runs: its
// programs go with it, and the next run removes the tracefs instance it
// read printk lines from.
func TestRunLeavesNothing(t *testing.T) {
	obj := testutil.BuildBPF(t, "testdata/run/getppid.bpf.c")
	bin := testutil.Build(t, "./cmd/ebtrace")
	cmd := exec.Command(bin, "run", obj)
	stderr := &testutil.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "Running") })
	progs, _ := testutil.BPFObjects(t, cmd.Process.Pid)
	if len(progs) != 5 {
		t.Fatalf("ebtrace run holds programs %v, want the object's five", progs)
	}
	root, _, err := kernel.Tracefs()
	if err != nil {
		t.Fatal(err)
	}
	instance := filepath.Join(root, "instances", fmt.Sprintf("ebtrace-run-%d", cmd.Process.Pid))
	if _, err := os.Stat(instance); err != nil {
		t.Fatalf("no printk instance while running: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	waitFor(t, func() bool {
		for _, id := range progs {
			if p, err := ebpf.NewProgramFromID(ebpf.ProgramID(id)); err == nil {
				p.Close()
				return false
			}
		}
		return true
	})
	next := exec.Command(bin, "run", obj, "--duration", "100ms")
	if out, err := next.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, pid := range []int{cmd.Process.Pid, next.Process.Pid} {
		dir := filepath.Join(root, "instances", fmt.Sprintf("ebtrace-run-%d", pid))
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("tracefs instance %s left behind", dir)
		}
	}
}

// TestRunKprobes attaches kprobe/, kretprobe/, ksyscall/ and kretsyscall/
// sections, where the kernel has kprobes (the VM suite's kernels): each
// counts the workload's five writes.
func TestRunKprobes(t *testing.T) {
	if err := kprobe.Available(); err != nil {
		t.Skipf("ebtrace run cannot attach kprobe sections here: %v", err)
	}
	obj := testutil.BuildBPF(t, "testdata/run/kprobes.bpf.c")
	r := runCLI(t, "run", obj, "-c", testutil.Workload(t)+" write 1 5")
	r.want(t, 0, "\n\n@kprobe_hits: 5\n@kretprobe_hits: 5\n@kretsyscall_hits: 5\n@ksyscall_hits: 5\n")
}

// TestRunFentry attaches fentry/ and fexit/ sections where the kernel
// lets BPF trampolines attach (the VM suite's kernels).
func TestRunFentry(t *testing.T) {
	if err := fentry.Available(); err != nil {
		t.Skipf("ebtrace run cannot attach fentry sections here: %v", err)
	}
	obj := testutil.BuildBPF(t, "testdata/run/fentry.bpf.c")
	r := runCLI(t, "run", obj, "-c", testutil.Workload(t)+" write 1 5")
	r.want(t, 0, "\n\n@fentry_hits: 5\n@fexit_hits: 5\n")
}

// TestRunUprobe attaches uprobe/ and uretprobe/ sections to the
// workload's main.target, which it calls five times.
func TestRunUprobe(t *testing.T) {
	wl := testutil.Workload(t)
	obj := testutil.BuildBPF(t, "testdata/run/uprobe.bpf.c", fmt.Sprintf(`-DWORKLOAD="%s"`, wl))
	r := runCLI(t, "run", "-l", obj)
	r.want(t, 0, fmt.Sprintf("uprobe/%[1]s:main.target     on_call    uprobe:%[1]s:main.target\nuretprobe/%[1]s:main.target  on_return  uretprobe:%[1]s:main.target\n", wl))
	r = runCLI(t, "run", obj, "-c", wl+" call 5")
	r.want(t, 0, "\n\n@calls: 5\n@returns: 5\n")
}

// TestRunUSDT attaches a usdt/ section to the ticker's ebtrace:tick,
// which it fires six times.
func TestRunUSDT(t *testing.T) {
	bin := cTicker(t, "-O2")
	obj := testutil.BuildBPF(t, "testdata/run/usdt.bpf.c", fmt.Sprintf(`-DTICKER="%s"`, bin))
	r := runCLI(t, "run", obj, "-c", bin+" 6")
	r.want(t, 0, "\n\n@ticks: 6\n")
}

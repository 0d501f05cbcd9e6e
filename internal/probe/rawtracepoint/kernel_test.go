package rawtracepoint_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/rawtracepoint"
	"github.com/ebtrace/ebtrace/internal/probe/special"
	"github.com/ebtrace/ebtrace/internal/testutil"
	"github.com/ebtrace/ebtrace/internal/tracetest"
	"github.com/ebtrace/ebtrace/internal/types"
)

// These tests attach to the running kernel through the public pipeline
// (compile, load, attach, runtime) and drive the repo's workload.

func requireBTF(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); errors.Is(err, os.ErrNotExist) {
		t.Skipf("needs kernel BTF (CONFIG_DEBUG_INFO_BTF) for tp_btf: %v", err)
	} else if err != nil {
		t.Fatal(err)
	}
}

var noBTF = rawtracepoint.Provider{KernelBTF: func() (*btf.Spec, error) {
	return nil, fmt.Errorf("pretend: %w", ebpf.ErrNotSupported)
}}

// trace compiles script with provider p, attaches it, runs cmd to its end
// and returns what the session printed once finished.
func trace(t *testing.T, p probe.Provider, script string, cmd *exec.Cmd) string {
	t.Helper()
	testutil.RequireTracefs(t)
	env := &probe.Env{Events: func() (*kernel.Events, error) {
		ev, _, err := kernel.Live()
		return ev, err
	}}
	out, _ := tracetest.Run(t, probe.NewRegistry(special.Begin, special.End, p), env, script, cmd)
	return out
}

// sys_enter's arguments are (struct pt_regs *regs, long id): arg1 and
// args.id are the syscall number. The workload makes exactly 1000
// getppid calls, and the pointer argument takes arithmetic the verifier
// refuses on typed kernel pointers.
func TestSysEnterTyped(t *testing.T) {
	requireBTF(t)
	wl, comm := testutil.Renamed(t, testutil.Workload(t), "ebtrt")
	script := fmt.Sprintf(`
rawtracepoint:sys_enter /comm == "%[1]s" && arg1 == %[2]d/ { @raw = count(); }
rawtracepoint:sys_enter /comm == "%[1]s" && args.id == %[2]d/ { @typed = count(); @nonzero = (args.regs * 3 + arg0 %% 7) != 0; }
`, comm, unix.SYS_GETPPID)
	got := trace(t, rawtracepoint.Provider{}, script, exec.Command(wl, "getppid", "1000"))
	if want := "@nonzero: true\n@raw: 1000\n@typed: 1000\n"; !strings.Contains(got, want) {
		t.Errorf("output:\n%s\nwant it to hold:\n%s", got, want)
	}
}

// Without BTF the same count comes from a plain raw_tracepoint program.
func TestSysEnterRaw(t *testing.T) {
	wl, comm := testutil.Renamed(t, testutil.Workload(t), "ebtrt")
	script := fmt.Sprintf(`rawtracepoint:sys_enter /comm == "%s" && arg1 == %d/ { @raw = count(); }`, comm, unix.SYS_GETPPID)
	got := trace(t, noBTF, script, exec.Command(wl, "getppid", "1000"))
	if want := "@raw: 1000\n"; !strings.Contains(got, want) {
		t.Errorf("output:\n%s\nwant it to hold:\n%s", got, want)
	}
}

// sched_process_exec(struct task_struct *p, pid_t old_pid, struct
// linux_binprm *bprm): old_pid is the pid of the process that exec'd.
func TestProcessExecTyped(t *testing.T) {
	requireBTF(t)
	wl, comm := testutil.Renamed(t, testutil.Workload(t), "ebtrt")
	cmd := exec.Command(wl, "getppid", "1")
	script := fmt.Sprintf(`rawtracepoint:sched_process_exec /comm == "%s"/ { printf("pid %%d task %%d\n", args.old_pid - pid, args.p != 0); }`, comm)
	got := trace(t, rawtracepoint.Provider{}, script, cmd)
	if want := "pid 0 task 1\n"; !strings.HasPrefix(got, want) {
		t.Errorf("output:\n%s\nwant it to start with:\n%s", got, want)
	}
}

// The running kernel's BTF types sched_switch's arguments as -lv shows.
func TestKernelSignature(t *testing.T) {
	requireBTF(t)
	ins, err := rawtracepoint.Provider{}.Expand("sched_switch", nil)
	if err != nil {
		t.Fatal(err)
	}
	in := ins[0]
	if got := in.Program(); got.Type != ebpf.Tracing || got.AttachType != ebpf.AttachTraceRawTp || got.AttachTo != "sched_switch" {
		t.Errorf("Program() = %+v", got)
	}
	prev, err := in.Arg("prev")
	if err != nil || prev.Type != types.Pointer("struct task_struct", types.Kernel) || prev.Offset != 8 {
		t.Errorf("args.prev: %v at %d, %v", prev.Type, prev.Offset, err)
	}
	var out bytes.Buffer
	if err := probe.NewRegistry(rawtracepoint.Provider{}).List(nil, "rawtracepoint:sched_switch", true, &out); err != nil {
		t.Fatal(err)
	}
	if want := "rawtracepoint:sched_switch\n    bool preempt\n    struct task_struct * prev\n    struct task_struct * next\n"; !strings.HasPrefix(out.String(), want) {
		t.Errorf("-lv:\n%s\nwant it to start with:\n%s", out.String(), want)
	}
}

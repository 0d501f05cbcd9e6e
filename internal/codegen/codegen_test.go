package codegen_test

import (
	"strings"
	"testing"

	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/kerneltest"
	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/all"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/tracetest"
)

func generate(t *testing.T, script string) asm.Instructions {
	t.Helper()
	return tracetest.Compile(t, all.Registry(), tracetest.FakeEnv(false), script, compile.Options{Plan: plan.DefaultOptions}).Programs[0].Insns
}

// calls lists the helpers an instruction stream calls, in order.
func calls(insns asm.Instructions) string {
	var out []string
	for _, ins := range insns {
		if ins.IsBuiltinCall() {
			out = append(out, asm.BuiltinFunc(ins.Constant).String())
		}
	}
	return strings.Join(out, " ")
}

// An aggregation looks its element up and writes in place; it calls update
// only on the miss branch, and a failed update bumps the map's counter.
func TestAggregationUpdatesOnlyOnMiss(t *testing.T) {
	insns := generate(t, `tracepoint:raw_syscalls:sys_enter { @[pid] = count(); }`)
	if got, want := calls(insns), "FnGetCurrentPidTgid FnMapLookupElem FnMapUpdateElem"; got != want {
		t.Fatalf("calls %q, want %q", got, want)
	}
	for i, ins := range insns {
		if ins.IsBuiltinCall() && asm.BuiltinFunc(ins.Constant) == asm.FnMapLookupElem {
			next := insns[i+1]
			if next.OpCode.JumpOp() != asm.JEq || next.Dst != asm.R0 || next.Constant != 0 {
				t.Errorf("after lookup: %v, want a jump to the miss branch when r0 == 0", next)
			}
			if hit := insns[i+2 : i+5]; hit[0].OpCode.Class() != asm.LdXClass || hit[0].Src != asm.R0 ||
				hit[1].OpCode.ALUOp() != asm.Add || hit[2].OpCode.Class() != asm.StXClass || hit[2].Dst != asm.R0 {
				t.Errorf("hit path does not increment in place: %v", hit)
			}
		}
	}
}

// Event programs start by checking the stopped flag, so that exit does not
// wait for the kernel to detach them; BEGIN and empty probes do not.
func TestStoppedFlag(t *testing.T) {
	insns := generate(t, `interval:s:1 { @x = 1; }`)
	if !insns[1].IsLoadFromMap() || insns[1].Reference() != plan.ConfigMap || insns[2].Offset != plan.ConfigStopped {
		t.Errorf("prologue %v", insns[:4])
	}
	insns = generate(t, `BEGIN { @x = 1; }`)
	if insns[1].IsLoadFromMap() && insns[1].Reference() == plan.ConfigMap {
		t.Errorf("BEGIN checks the stopped flag: %v", insns[:4])
	}
	// An empty probe has nothing to stop.
	insns = generate(t, `tracepoint:raw_syscalls:sys_enter { }`)
	if len(insns) != 3 || insns[1].IsLoadFromMap() {
		t.Errorf("empty probe: %v", insns)
	}
}

// printf wakes the reader only once a quarter of the ring is queued.
func TestPrintfWakeup(t *testing.T) {
	insns := generate(t, `tracepoint:raw_syscalls:sys_enter { printf("%d\n", pid); }`)
	if got, want := calls(insns), "FnGetCurrentPidTgid FnRingbufQuery FnRingbufOutput"; got != want {
		t.Fatalf("calls %q, want %q", got, want)
	}
	found := false
	for _, ins := range insns {
		if ins.OpCode.IsDWordLoad() && ins.Constant == int64(plan.DefaultOptions.RingSize/4) {
			found = true
		}
	}
	if !found {
		t.Error("no comparison with the wakeup threshold")
	}
}

// Every instruction carries the script position it came from.
func TestPositions(t *testing.T) {
	insns := generate(t, "BEGIN {\n  @a = 1;\n  printf(\"x\\n\");\n}\n")
	for _, ins := range insns {
		if _, ok := ins.Source().(interface{ String() string }); !ok {
			t.Fatalf("instruction without a position: %v", ins)
		}
	}
}

// With the offset of task_struct.comm known, comm is two loads through
// bpf_get_current_task_btf() instead of a bpf_get_current_comm() call.
func TestCommThroughTask(t *testing.T) {
	env := &probe.Env{Events: func() (*kernel.Events, error) { return kerneltest.Fake(), nil }}
	opts := compile.Options{Plan: plan.DefaultOptions, TaskCommOffset: func() (int, error) { return 1752, nil }}
	res, err := compile.Compile(source.NewFile("t.bt", `tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }`), all.Registry(), env, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := calls(res.Programs[0].Insns), "FnGetCurrentTaskBtf FnMapLookupElem FnMapUpdateElem"; got != want {
		t.Errorf("calls %q, want %q", got, want)
	}
}

// run runs a script's BEGIN with BPF_PROG_TEST_RUN, finishes the session
// and returns what it printed.
func run(t *testing.T, script string) string {
	t.Helper()
	res := tracetest.Compile(t, all.Registry(), tracetest.FakeEnv(false), script, compile.Options{Plan: plan.DefaultOptions})
	out, warn := tracetest.Session(t, res, output.NewText, tracetest.RunBegin)
	if warn != "" {
		t.Errorf("warnings: %s", warn)
	}
	return out
}

// Variables of one name in different blocks are different variables, each
// read from its own slot: arrays too.
func TestArrayVariablesPerBlock(t *testing.T) {
	got := run(t, `BEGIN {
	if (0) { $a = (uint8[4])1; @x = $a } else { $a = (uint8[4])2; @y = $a }
	if (0) { $b = (uint8[4])1; @z = $b[0] } else { $b = (uint8[4])3; @w = $b[0] }
	exit() }`)
	if want := "\n\n@w: 3\n\n@y: [2,0,0,0]\n\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// A block used as a value runs before the assignment it feeds writes the
// variable, which the block may read.
func TestAssignBlockValue(t *testing.T) {
	got := run(t, `BEGIN {
	$t = (1, 2); $t = { ($t.1, $t.0) }; print($t);
	$a = (uint8[2])258; $b = { $a }; print($b);
	exit() }`)
	if want := "(2, 1)\n[2,1]\n\n\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// Outside the initial PID namespace, the pid recorded with a user stack or
// address is ebtrace's namespace's, the one whose /proc the symbolizer
// reads: pid and user stacks ask the same helper.
func TestUserStackPidNamespace(t *testing.T) {
	opts := compile.Options{Plan: plan.DefaultOptions, PIDNamespace: func() (uint64, uint64, bool, error) { return 1, 2, false, nil }}
	res := tracetest.Compile(t, all.Registry(), tracetest.FakeEnv(false), `tracepoint:raw_syscalls:sys_enter { @[ustack] = count(); @u[usym(1)] = count(); }`, opts)
	if got, want := calls(res.Programs[0].Insns), "FnGetStackid FnGetNsCurrentPidTgid FnMapLookupElem FnMapUpdateElem FnGetNsCurrentPidTgid FnMapLookupElem FnMapUpdateElem"; got != want {
		t.Errorf("calls %q, want %q", got, want)
	}
}

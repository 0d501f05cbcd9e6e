package codegen_test

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// Reading a per-CPU aggregation loops over the possible CPUs, looking up
// each one's share: the loop's bound is their number, and it jumps back.
func TestReadCombinesCPUs(t *testing.T) {
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	insns := generate(t, `BEGIN { @c = count(); printf("%d\n", @c); }`)
	if got, want := calls(insns), "FnMapLookupElem FnMapUpdateElem FnMapLookupPercpuElem FnRingbufQuery FnRingbufOutput"; got != want {
		t.Fatalf("calls %q, want %q", got, want)
	}
	bound, back := false, false
	for i, ins := range insns {
		if ins.OpCode.JumpOp() == asm.JGE && ins.Constant == int64(cpus) {
			bound = true
		}
		if ins.OpCode.JumpOp() == asm.Ja && ins.Reference() != "" {
			for j := range i {
				if insns[j].Symbol() == ins.Reference() {
					back = true
				}
			}
		}
	}
	if !bound || !back {
		t.Errorf("no loop over %d CPUs (bound %v, back jump %v):\n%v", cpus, bound, back, insns)
	}
}

// tseries() takes its interval from the TAI clock, then updates its slot
// in place, or creates it on a miss.
func TestTSeriesCalls(t *testing.T) {
	insns := generate(t, `BEGIN { @t[pid] = tseries(1, 100ms, 5, "max"); }`)
	if got, want := calls(insns), "FnKtimeGetTaiNs FnGetCurrentPidTgid FnMapLookupElem FnMapUpdateElem"; got != want {
		t.Fatalf("calls %q, want %q", got, want)
	}
}

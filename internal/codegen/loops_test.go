package codegen_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/kerneltest"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/all"
	"github.com/ebtrace/ebtrace/internal/source"
)

// offsets maps every symbol of insns to its instruction index.
func offsets(insns asm.Instructions) map[string]int {
	out := map[string]int{}
	for i, ins := range insns {
		if s := ins.Symbol(); s != "" {
			out[s] = i
		}
	}
	return out
}

// backJumps returns the jumps whose target comes before them.
func backJumps(insns asm.Instructions) []asm.Instruction {
	at := offsets(insns)
	var out []asm.Instruction
	for i, ins := range insns {
		if target, ok := at[ins.Reference()]; ok && ins.OpCode.Class().IsJump() && target <= i {
			out = append(out, ins)
		}
	}
	return out
}

// A while loop jumps back to its condition once; the head is a label
// although no jump reached it when it was placed.
func TestWhileJumpsBack(t *testing.T) {
	insns := generate(t, `BEGIN { $i = 0; while ($i < 5) { $i++; } @x = $i; }`)
	back := backJumps(insns)
	if len(back) != 1 || back[0].OpCode.JumpOp() != asm.Ja {
		t.Fatalf("backward jumps %v, want one ja", back)
	}
	head := insns[offsets(insns)[back[0].Reference()]]
	if head.OpCode.Class() != asm.LdXClass || head.Src != asm.R10 {
		t.Errorf("loop head %v, want the load of $i", head)
	}
}

// Code after a loop that always returns is dropped, and a loop that no
// path reaches is not emitted at all: the verifier rejects unreachable code.
func TestLoopDeadCode(t *testing.T) {
	insns := generate(t, `BEGIN { exit(); while (1) { @x++; } }`)
	if back := backJumps(insns); len(back) != 0 {
		t.Errorf("unreachable loop emitted: %v", back)
	}
	if got, want := calls(insns), "FnRingbufOutput"; got != want {
		t.Errorf("calls %q, want %q", got, want)
	}
}

// break leaves the innermost loop and continue goes to its step: in a for
// over a range, continue skips to the counter's increment, not the test.
func TestBreakContinueTargets(t *testing.T) {
	insns := generate(t, `BEGIN { for ($i : 0..10) { if ($i == 2) { continue; } while (1) { break; } } }`)
	at := offsets(insns)
	var refs []string
	for _, ins := range insns {
		if ins.OpCode.JumpOp() == asm.Ja {
			refs = append(refs, ins.Reference())
		}
	}
	for _, label := range []string{"step", "endwhile", "for"} {
		found := false
		for _, r := range refs {
			found = found || strings.HasPrefix(r, label+"_")
		}
		if !found {
			t.Errorf("no ja to a %s label in %v", label, refs)
		}
	}
	for _, r := range refs {
		if _, ok := at[r]; !ok && r != "exit" {
			t.Errorf("ja to %s, which labels no instruction", r)
		}
	}
}

// unroll(N) repeats the body N times: one update per repetition.
func TestUnrollRepeats(t *testing.T) {
	insns := generate(t, `BEGIN { unroll(3) { @x = 1; } }`)
	if got, want := calls(insns), "FnMapUpdateElem FnMapUpdateElem FnMapUpdateElem"; got != want {
		t.Errorf("calls %q, want %q", got, want)
	}
	if back := backJumps(insns); len(back) != 0 {
		t.Errorf("unroll jumps back: %v", back)
	}
}

// A for over a map calls bpf_for_each_map_elem with a reference to a
// static callback appended after the program; both carry BTF function
// information, which the kernel requires for callbacks.
func TestForMapCallback(t *testing.T) {
	insns := generate(t, `BEGIN { @m[1] = 2; $n = 0; for ($kv : @m) { $n += $kv.1; } @s = $n; }`)
	if got, want := calls(insns), "FnMapUpdateElem FnForEachMapElem FnMapUpdateElem"; got != want {
		t.Errorf("calls %q, want %q", got, want)
	}
	main := btf.FuncMetadata(&insns[0])
	if main == nil || main.Linkage != btf.GlobalFunc {
		t.Fatalf("program start has func info %v, want a global function", main)
	}
	var ref string
	for _, ins := range insns {
		if ins.IsLoadOfFunctionPointer() {
			ref = ins.Reference()
		}
	}
	at, ok := offsets(insns)[ref]
	if !ok {
		t.Fatalf("no callback %q", ref)
	}
	cb := btf.FuncMetadata(&insns[at])
	if cb == nil || cb.Linkage != btf.StaticFunc || cb.Name != ref {
		t.Errorf("callback func info %v, want static %s", cb, ref)
	}
	// The callback starts by keeping the caller's frame pointer (r4).
	if first := insns[at]; first.OpCode.ALUOp() != asm.Mov || first.Dst != asm.R9 || first.Src != asm.R4 {
		t.Errorf("callback starts with %v", first)
	}
	// The program ends before its callback: the instruction before the
	// callback is the program's exit.
	if prev := insns[at-1]; prev.OpCode.JumpOp() != asm.Exit {
		t.Errorf("instruction before the callback: %v", prev)
	}
}

// A tuple key is written as the map's key parts: @m[(1, "a")] and
// @m[1, "a"] compile to the same stores.
func TestTupleKeyIsMultiKey(t *testing.T) {
	a := generate(t, `BEGIN { @m[(1, "a")] = 1; }`)
	b := generate(t, `BEGIN { @m[1, "a"] = 1; }`)
	if len(a) != len(b) {
		t.Fatalf("%d instructions for a tuple key, %d for two keys", len(a), len(b))
	}
	for i := range a {
		if a[i].OpCode != b[i].OpCode || a[i].Offset != b[i].Offset || a[i].Constant != b[i].Constant {
			t.Errorf("instruction %d: %v vs %v", i, a[i], b[i])
		}
	}
}

// With kernel functions known, for over a range uses the numeric
// iterator: new, then next at the loop head, destroy after the loop and
// before a return leaves it.
func TestForRangeIterator(t *testing.T) {
	ids := map[string]btf.TypeID{"bpf_iter_num_new": 101, "bpf_iter_num_next": 102, "bpf_iter_num_destroy": 103}
	opts := compile.Options{Plan: plan.DefaultOptions, KernelFuncID: func(name string) (btf.TypeID, error) { return ids[name], nil }}
	env := &probe.Env{Events: func() (*kernel.Events, error) { return kerneltest.Fake(), nil }}
	res, err := compile.Compile(source.NewFile("t.bt", `BEGIN { for ($i : 0..pid) { if ($i == 5) { return; } @x = $i; } }`), all.Registry(), env, opts)
	if err != nil {
		t.Fatal(err)
	}
	var kfuncs []int64
	for _, ins := range res.Programs[0].Insns {
		if ins.IsKfuncCall() {
			kfuncs = append(kfuncs, ins.Constant)
		}
	}
	if want := []int64{101, 102, 103, 103}; !slices.Equal(kfuncs, want) {
		t.Errorf("kfunc calls %v, want %v (new, next, destroy on return, destroy after the loop)", kfuncs, want)
	}
	if back := backJumps(res.Programs[0].Insns); len(back) != 1 {
		t.Errorf("backward jumps %v, want one to next", back)
	}
}

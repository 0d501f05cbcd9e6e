package codegen_test

import (
	"fmt"

	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/codegen"
	"github.com/ebtrace/ebtrace/internal/probe"
)

// member is a carried instance's code as Generate shapes it: a predicate
// jumping to exit, an exit, and with callback a function after the main
// code, which then carries the main function's metadata.
func member(marker int32, callback bool) asm.Instructions {
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.JEq.Imm(asm.R6, 0, "exit"),
		asm.Mov.Imm(asm.R0, marker),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("exit"),
		asm.Return(),
	}
	if callback {
		insns[0] = btf.WithFuncMetadata(insns[0], &btf.Func{Name: "main", Type: &btf.FuncProto{}})
		insns[2] = asm.Call.Label("cb")
		fn := asm.Mov.Imm(asm.R0, marker).WithSymbol("cb")
		insns = append(insns, btf.WithFuncMetadata(fn, &btf.Func{Name: "cb", Type: &btf.FuncProto{}}), asm.Return())
	}
	return insns
}

// The dispatcher guards, bounds the key and tail-calls its slot.
func TestDispatch(t *testing.T) {
	guard := asm.Instructions{asm.Mov.Imm(asm.R0, 0)}
	insns, err := codegen.Dispatch(&probe.Carrier{Name: "c", KeyOffset: 8, Guard: guard}, "tails", 460)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"MovReg dst: r6 src: r1", "MovImm dst: r0 imm: 0", "JNEImm dst: r0 off: -1 imm: 0 <dispatch_none>",
		"LdXMemDW dst: r3 src: r6 off: 8 imm: 0", "JGTImm dst: r3 off: -1 imm: 460 <dispatch_none>", "MovReg dst: r1 src: r6",
		"LoadMapPtr dst: r2 fd: 0 <tails>", "Call FnTailCall", "MovImm dst: r0 imm: 0", "Exit",
	}
	if len(insns) != len(want) {
		t.Fatalf("dispatcher:\n%v", insns)
	}
	for i, ins := range insns {
		if got := fmt.Sprint(ins); got != want[i] {
			t.Errorf("insn %d: %s, want %s", i, got, want[i])
		}
	}
	if insns[8].Symbol() != "dispatch_none" {
		t.Errorf("label %q, want dispatch_none", insns[8].Symbol())
	}
	if _, err := codegen.Dispatch(&probe.Carrier{Name: "c"}, "tails", codegen.MaxCarriedKey+1); err == nil {
		t.Error("a key beyond the program array's reach was accepted")
	}
}

// Chain runs the instances that share a key one after another, keeps
// their labels apart and puts callbacks after every instance's main code.
func TestChain(t *testing.T) {
	insns := codegen.Chain([]asm.Instructions{member(100, false), member(101, true), member(102, false)})
	at := map[string]int{}
	for i, ins := range insns {
		if s := ins.Symbol(); s != "" {
			if _, dup := at[s]; dup {
				t.Fatalf("label %s twice", s)
			}
			at[s] = i
		}
	}
	exits := 0
	for i, ins := range insns {
		if r := ins.Reference(); r != "" {
			if _, ok := at[r]; !ok {
				t.Errorf("insn %d refers to %s, which is nowhere", i, r)
			}
		}
		if ins.OpCode.JumpOp() == asm.Exit {
			exits++
		}
	}
	// The last instance's exit and the callback's remain.
	if exits != 2 {
		t.Errorf("%d exits, want 2:\n%v", exits, insns)
	}
	for _, next := range []string{"c1_start", "c2_start"} {
		i := at[next]
		if insns[i-1].Reference() != next || fmt.Sprint(insns[i-2]) != "MovReg dst: r1 src: r6" {
			t.Errorf("before %s: %v %v, want r1 = r6 and a jump to it", next, insns[i-2], insns[i-1])
		}
	}
	cb := at["c1_cb"]
	if cb != len(insns)-2 {
		t.Errorf("callback at %d of %d, want last", cb, len(insns))
	}
	if btf.FuncMetadata(&insns[0]) == nil || btf.FuncMetadata(&insns[cb]) == nil {
		t.Error("the program's first instruction and the callback's need function metadata")
	}
	for i := 1; i < cb; i++ {
		if btf.FuncMetadata(&insns[i]) != nil {
			t.Errorf("insn %d in the main code has function metadata", i)
		}
	}
}

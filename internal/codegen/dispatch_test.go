package codegen_test

import (
	"fmt"
	"slices"
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

// Dispatch searches the keys, jumps to the first instance of each, chains
// the instances that share a key, keeps labels apart and puts callbacks
// after every instance's main code.
func TestDispatch(t *testing.T) {
	carrier := &probe.Carrier{Name: "c", KeyOffset: 8}
	var members []codegen.Carried
	for i, key := range []int64{9, 3, 7, 3, 1, 5, 11} {
		members = append(members, codegen.Carried{Key: key, Insns: member(int32(100+i), i == 1)})
	}
	insns, err := codegen.Dispatch(carrier, members)
	if err != nil {
		t.Fatal(err)
	}
	at := map[string]int{}
	for i, ins := range insns {
		if s := ins.Symbol(); s != "" {
			if _, dup := at[s]; dup {
				t.Fatalf("label %s twice", s)
			}
			at[s] = i
		}
	}
	markers := map[int32]int{} // marker -> index of the instruction setting it
	for i, ins := range insns {
		if r := ins.Reference(); r != "" && ins.OpCode.Class().IsJump() {
			if _, ok := at[r]; !ok {
				t.Errorf("insn %d jumps to %s, which is nowhere", i, r)
			}
		}
		if ins.OpCode == asm.Mov.Imm(asm.R0, 0).OpCode && ins.Constant >= 100 {
			markers[int32(ins.Constant)] = i
		}
	}
	// Each distinct key is compared once, against the first instance
	// with it.
	var keys []string
	for _, ins := range insns {
		if ins.OpCode.JumpOp() == asm.JEq && ins.Dst == asm.R0 {
			keys = append(keys, fmt.Sprintf("%d->%s", ins.Constant, ins.Reference()))
		}
	}
	slices.Sort(keys)
	want := []string{"1->c4_start", "11->c6_start", "3->c1_start", "5->c5_start", "7->c2_start", "9->c0_start"}
	if !slices.Equal(keys, want) {
		t.Errorf("comparisons %v, want %v", keys, want)
	}
	// The first instance with key 3 (the one with a callback) runs on
	// into the second, its exits now jumps with the context in r1.
	first, second := at["c1_start"], at["c3_start"]
	for i := first; i < second; i++ {
		if insns[i].OpCode.JumpOp() == asm.Exit {
			t.Errorf("insn %d: the first instance with key 3 still exits", i)
		}
	}
	if insns[second-1].Reference() != "c3_start" || insns[second-2].OpCode != asm.Mov.Reg(asm.R1, asm.R6).OpCode || insns[second-2].Src != asm.R6 {
		t.Errorf("the first instance with key 3 ends %v %v, want r1 = r6 and a jump to the second", insns[second-2], insns[second-1])
	}
	// The callback follows all the main code and is called by its label.
	cb := at["c1_cb"]
	for m, i := range markers {
		if m != 101 && i > cb {
			t.Errorf("main code of marker %d after the callback", m)
		}
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

package codegen

import (
	"fmt"
	"slices"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/probe"
)

// MaxCarriedKey is the largest key Dispatch reaches: its program array has
// a slot for every key up to the largest.
const MaxCarriedKey = 1<<16 - 1

// Dispatch returns the program attached to carrier: it runs the carrier's
// guard, then tail-calls the program in slot key of the program array
// named tails, where key is the event's, from 0 to maxKey. An empty slot,
// a negative key or one beyond maxKey ends the program.
func Dispatch(carrier *probe.Carrier, tails string, maxKey int64) (asm.Instructions, error) {
	if maxKey < 0 || maxKey > MaxCarriedKey {
		return nil, fmt.Errorf("key %d of %s is beyond the program array's reach", maxKey, carrier.Name)
	}
	insns := asm.Instructions{asm.Mov.Reg(asm.R6, asm.R1)}
	if len(carrier.Guard) > 0 {
		insns = append(insns, carrier.Guard...)
		insns = append(insns, asm.JNE.Imm(asm.R0, 0, "dispatch_none"))
	}
	return append(insns,
		asm.LoadMem(asm.R3, asm.R6, int16(carrier.KeyOffset), asm.DWord),
		// Unsigned: a negative key is beyond too.
		asm.JGT.Imm(asm.R3, int32(maxKey), "dispatch_none"),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.LoadMapPtr(asm.R2, 0).WithReference(tails),
		asm.FnTailCall.Call(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("dispatch_none"),
		asm.Return(),
	), nil
}

// Chain joins the code of instances that share a key, each as Generate
// returned it, into one program that runs them one after another: the
// exits of each but the last jump to the next, with the context back in
// r1. Each keeps its own labels (prefixed to stay apart), frame and
// callbacks, which follow all the instances' main code.
func Chain(members []asm.Instructions) asm.Instructions {
	if len(members) == 1 {
		return members[0]
	}
	var main, funcs, prev asm.Instructions
	for i, m := range members {
		code, fs := splitFuncs(m)
		prefix := fmt.Sprintf("c%d_", i)
		code, fs = relabel(code, prefix), relabel(fs, prefix)
		if i > 0 {
			if code[0].Symbol() == "" {
				code[0] = code[0].WithSymbol(prefix + "start")
			}
			main = append(main, exitsTo(prev, code[0].Symbol())...)
		}
		prev = code
		funcs = append(funcs, fs...)
	}
	main = append(main, prev...)
	if len(funcs) > 0 {
		main[0] = btf.WithFuncMetadata(main[0], mainFunc())
	}
	return append(main, funcs...)
}

// splitFuncs separates a program's main code from the callbacks Generate
// appended after it, each of which opens with its function's metadata;
// the main code loses the metadata naming it the main function.
func splitFuncs(insns asm.Instructions) (main, funcs asm.Instructions) {
	end := len(insns)
	for i := 1; i < len(insns); i++ {
		if btf.FuncMetadata(&insns[i]) != nil {
			end = i
			break
		}
	}
	main = slices.Clone(insns[:end])
	main[0] = btf.WithFuncMetadata(main[0], nil)
	return main, slices.Clone(insns[end:])
}

// relabel prefixes every label and every reference to one: jump targets
// and functions, not maps.
func relabel(insns asm.Instructions, prefix string) asm.Instructions {
	for i, ins := range insns {
		if s := ins.Symbol(); s != "" {
			insns[i] = insns[i].WithSymbol(prefix + s)
		}
		if r := ins.Reference(); r != "" && !ins.IsLoadFromMap() {
			insns[i] = insns[i].WithReference(prefix + r)
		}
	}
	return insns
}

// exitsTo turns every exit of main code into a jump to target, with the
// context back in r1, where a program finds it; r6 keeps it throughout a
// program.
func exitsTo(insns asm.Instructions, target string) asm.Instructions {
	out := make(asm.Instructions, 0, len(insns))
	for _, ins := range insns {
		if ins.OpCode.JumpOp() != asm.Exit || !ins.OpCode.Class().IsJump() {
			out = append(out, ins)
			continue
		}
		restore := asm.Mov.Reg(asm.R1, asm.R6)
		restore.Metadata = ins.Metadata
		out = append(out, restore, asm.Ja.Label(target).WithSource(ins.Source()))
	}
	return out
}

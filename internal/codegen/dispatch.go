package codegen

import (
	"fmt"
	"math"
	"slices"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/probe"
)

// Carried is the code of one carried instance, as Generate returned it,
// and the key that selects it on its carrier.
type Carried struct {
	Key   int64
	Insns asm.Instructions
}

// Dispatch builds one program for carrier from the code of the instances
// it carries. The program runs the carrier's guard, then finds the
// event's key by binary search and jumps to the code of the instances
// with that key, which run one after another in the order given: the
// exits of each but the last jump to the next. Each instance's code
// keeps its own labels (prefixed to stay apart), frame and callbacks,
// which follow all the instances' main code.
func Dispatch(carrier *probe.Carrier, members []Carried) (asm.Instructions, error) {
	byKey := map[int64][]int{}
	var keys []int64
	for i, m := range members {
		if m.Key < math.MinInt32 || m.Key > math.MaxInt32 {
			return nil, fmt.Errorf("key %d of %s does not fit a jump's immediate", m.Key, carrier.Name)
		}
		if _, ok := byKey[m.Key]; !ok {
			keys = append(keys, m.Key)
		}
		byKey[m.Key] = append(byKey[m.Key], i)
	}
	slices.Sort(keys)

	mains := make([]asm.Instructions, len(members))
	var funcs asm.Instructions
	entry := map[int64]string{} // the label of each key's first instance
	for _, key := range keys {
		chain := byKey[key]
		for n, i := range chain {
			main, fs := splitFuncs(members[i].Insns)
			prefix := fmt.Sprintf("c%d_", i)
			main, fs = relabel(main, prefix), relabel(fs, prefix)
			if main[0].Symbol() == "" {
				main[0] = main[0].WithSymbol(prefix + "start")
			}
			if n == 0 {
				entry[key] = main[0].Symbol()
			}
			if n < len(chain)-1 {
				next, _ := splitFuncs(members[chain[n+1]].Insns)
				target := fmt.Sprintf("c%d_", chain[n+1]) + "start"
				if s := next[0].Symbol(); s != "" {
					target = fmt.Sprintf("c%d_", chain[n+1]) + s
				}
				main = exitsTo(main, target)
			}
			mains[i] = main
			funcs = append(funcs, fs...)
		}
	}

	src := members[0].Insns[0].Source()
	d := &dispatcher{}
	d.emit(asm.Mov.Reg(asm.R6, asm.R1))
	if len(carrier.Guard) > 0 {
		d.emit(carrier.Guard...)
		d.emit(asm.JNE.Imm(asm.R0, 0, "dispatch_none"))
	}
	d.emit(
		asm.LoadMem(asm.R0, asm.R6, int16(carrier.KeyOffset), asm.DWord),
		asm.Mov.Reg(asm.R1, asm.R6),
	)
	d.search(keys, entry)
	d.label("dispatch_none")
	d.emit(asm.Mov.Imm(asm.R0, 0), asm.Return())
	out := d.insns
	for i := range out {
		out[i] = out[i].WithSource(src)
	}
	if len(funcs) > 0 {
		out[0] = btf.WithFuncMetadata(out[0], mainFunc())
	}
	for _, key := range keys {
		for _, i := range byKey[key] {
			out = append(out, mains[i]...)
		}
	}
	out = append(out, funcs...)
	if n := out.Size() / asm.InstructionSize; n > maxJump {
		return nil, fmt.Errorf("the program dispatching %d probes on %s would have %d instructions; jumps reach at most %d", len(members), carrier.Name, n, maxJump)
	}
	return out, nil
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

// exitsTo turns every exit of a main program into a jump to target,
// with the context back in r1, where a program finds it; r6 keeps it
// throughout a program.
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

// dispatcher builds the binary search over the keys, the key in r0.
type dispatcher struct {
	insns   asm.Instructions
	pending string
	labels  int
}

func (d *dispatcher) emit(ins ...asm.Instruction) {
	for _, in := range ins {
		if d.pending != "" {
			in = in.WithSymbol(d.pending)
			d.pending = ""
		}
		d.insns = append(d.insns, in)
	}
}

func (d *dispatcher) label(name string) { d.pending = name }

// search jumps to entry[k] for the key k in r0, else to dispatch_none:
// a few comparisons in a row at the leaves, halving above them.
func (d *dispatcher) search(keys []int64, entry map[int64]string) {
	if len(keys) <= 4 {
		for _, k := range keys {
			d.emit(asm.JEq.Imm(asm.R0, int32(k), entry[k]))
		}
		d.emit(asm.Ja.Label("dispatch_none"))
		return
	}
	mid := len(keys) / 2
	d.labels++
	right := fmt.Sprintf("dispatch_%d", d.labels)
	d.emit(
		asm.JEq.Imm(asm.R0, int32(keys[mid]), entry[keys[mid]]),
		asm.JSGT.Imm(asm.R0, int32(keys[mid]), right),
	)
	d.search(keys[:mid], entry)
	d.label(right)
	d.search(keys[mid+1:], entry)
}

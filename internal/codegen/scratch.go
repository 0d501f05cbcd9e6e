package codegen

import (
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/emit"
	"github.com/ebtrace/ebtrace/internal/plan"
)

// ScratchSize bounds a probe's frame: the BPF stack holds StackSize bytes;
// a probe needing more (long strings, with max_strlen up to 1024) keeps its
// whole frame in plan.ScratchMap, a per-CPU array of one element this big.
const ScratchSize = 16 << 10

// frameRegister points just past the frame when it lives in the scratch
// map: frame offsets stay negative, as from r10. It is callee-saved, so
// helper calls keep it.
const frameRegister = asm.R9

// moveFrameToScratch moves a program whose frame outgrew the stack into
// the scratch map. Every use of r10 is a frame access (the code addresses
// nothing else through it, and neither do the providers' argument
// loaders), so rewriting r10 to the frame register moves the whole frame;
// a prologue after the context is saved looks the element up, using the
// real stack only for the lookup's key, and points the register past the
// frame. A program whose element is missing (it never is: arrays are
// preallocated) returns.
func (g *gen) moveFrameToScratch() {
	for i := range g.Insns {
		ins := &g.Insns[i]
		if ins.Dst == asm.R10 {
			ins.Dst = frameRegister
		}
		if ins.Src == asm.R10 {
			ins.Src = frameRegister
		}
	}
	src := emit.Position{File: g.info.Program.File, Span: g.in.Probe.Sp}
	ready := g.NewLabel("scratch")
	prologue := asm.Instructions{
		emit.StoreDW(asm.R10, -8, 0),
		mapPtr(asm.R1, plan.ScratchMap),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, -8),
		asm.FnMapLookupElem.Call(),
		asm.JNE.Imm(asm.R0, 0, ready),
		asm.Return(),
		asm.Mov.Reg(frameRegister, asm.R0).WithSymbol(ready),
		asm.Add.Imm(frameRegister, ScratchSize),
	}
	for i := range prologue {
		prologue[i] = prologue[i].WithSource(src)
	}
	// The first instruction saves the context, which the lookup clobbers.
	g.Insns = append(g.Insns[:1], append(prologue, g.Insns[1:]...)...)
}

package codegen

import (
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/emit"
	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/source"
)

// Count slots (see plan/slots.go): r7 points to this CPU's slot of a map
// while the code below works on it.

// slotAdd adds the word at val to slotted map m's element at key through
// this CPU's slot, and jumps to done; it jumps to direct, for the map's
// own update, when the slot is being changed by the program this one
// interrupted.
func (g *gen) slotAdd(m *plan.Map, key, val int16, direct, done string) {
	miss := g.NewLabel("slotmiss")
	g.slotPointer(m, asm.FnGetSmpProcessorId.Call(), direct)
	g.Emit(
		asm.LoadMem(asm.R1, asm.R7, plan.SlotSeq, asm.DWord),
		asm.JSet.Imm(asm.R1, 1, direct),
	)
	for i := 0; i < m.KeySize; i += 8 {
		g.Emit(
			asm.LoadMem(asm.R2, asm.R10, key+int16(i), asm.DWord),
			asm.LoadMem(asm.R3, asm.R7, int16(m.SlotKeyAt()+i), asm.DWord),
			asm.JNE.Reg(asm.R2, asm.R3, miss),
		)
	}
	// Atomic, so that FlushProgram, which runs in an interrupt, never
	// splits the addition.
	g.Emit(
		asm.LoadMem(asm.R2, asm.R10, val, asm.DWord),
		asm.AddAtomic.Mem(asm.R7, asm.R2, asm.DWord, plan.SlotPending),
	)
	if m.Kind == output.Sum {
		g.Emit(asm.Mov.Imm(asm.R2, 1), asm.AddAtomic.Mem(asm.R7, asm.R2, asm.DWord, plan.SlotEvents))
	}
	g.Emit(asm.Ja.Label(done))
	g.Label(miss)
	g.Emit(asm.Add.Imm(asm.R1, 1), asm.StoreMem(asm.R7, plan.SlotSeq, asm.R1, asm.DWord))
	g.flushSlot(m, true)
	for i := 0; i < m.KeySize; i += 8 {
		g.Emit(
			asm.LoadMem(asm.R1, asm.R10, key+int16(i), asm.DWord),
			asm.StoreMem(asm.R7, int16(m.SlotKeyAt()+i), asm.R1, asm.DWord),
		)
	}
	g.Emit(
		asm.LoadMem(asm.R1, asm.R10, val, asm.DWord),
		asm.StoreMem(asm.R7, plan.SlotPending, asm.R1, asm.DWord),
	)
	if m.Kind == output.Sum {
		g.Emit(emit.StoreDW(asm.R7, plan.SlotEvents, 1))
	}
	g.endSlotChange()
	g.Emit(asm.Ja.Label(done))
}

// slotPointer points r7 at m's slot of the CPU whose number the
// instruction cpu leaves in r0, jumping to none for a CPU beyond the
// possible ones.
func (g *gen) slotPointer(m *plan.Map, cpu asm.Instruction, none string) {
	g.Emit(
		cpu,
		asm.JGE.Imm(asm.R0, int32(g.plan.SlotCPUs), none),
		asm.Mul.Imm(asm.R0, int32(g.plan.SlotStride)),
		asm.LoadMapValue(asm.R7, 0, uint32(m.Slot)).WithReference(plan.SlotsMap),
		asm.Add.Reg(asm.R7, asm.R0),
	)
}

// endSlotChange makes the sequence of the slot r7 points to even again.
func (g *gen) endSlotChange() {
	g.Emit(
		asm.LoadMem(asm.R1, asm.R7, plan.SlotSeq, asm.DWord),
		asm.Add.Imm(asm.R1, 1),
		asm.StoreMem(asm.R7, plan.SlotSeq, asm.R1, asm.DWord),
	)
}

// flushSlot moves the total of the slot r7 points to into this CPU's
// share of m's element at the slot's key, creating the element when it
// is missing; when the map is full, the events of the total are added to
// m's stat (the updates it dropped), and with report set (in a probe,
// under -k) the failure is reported too.
func (g *gen) flushSlot(m *plan.Map, report bool) {
	// A count's total is its number of events.
	total := g.alloc(8)
	events := total
	moved, create := g.NewLabel("moved"), g.NewLabel("create")
	if m.Kind == output.Sum {
		// A slot holds something once it has an event: a sum's total
		// may be 0.
		events = g.alloc(8)
		g.Emit(
			asm.Mov.Imm(asm.R1, 0),
			Xchg(asm.R7, asm.R1, plan.SlotEvents),
			asm.JEq.Imm(asm.R1, 0, moved),
			asm.StoreMem(asm.R10, events, asm.R1, asm.DWord),
		)
	}
	g.Emit(
		asm.Mov.Imm(asm.R1, 0),
		Xchg(asm.R7, asm.R1, plan.SlotPending),
	)
	if m.Kind != output.Sum {
		g.Emit(asm.JEq.Imm(asm.R1, 0, moved))
	}
	g.Emit(
		asm.StoreMem(asm.R10, total, asm.R1, asm.DWord),
		mapPtr(asm.R1, m.BPFName),
		asm.Mov.Reg(asm.R2, asm.R7),
		asm.Add.Imm(asm.R2, int32(m.SlotKeyAt())),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, create),
		asm.LoadMem(asm.R1, asm.R10, total, asm.DWord),
		asm.LoadMem(asm.R2, asm.R0, 0, asm.DWord),
		asm.Add.Reg(asm.R2, asm.R1),
		asm.StoreMem(asm.R0, 0, asm.R2, asm.DWord),
		asm.Ja.Label(moved),
	)
	g.Label(create)
	g.Emit(
		mapPtr(asm.R1, m.BPFName),
		asm.Mov.Reg(asm.R2, asm.R7),
		asm.Add.Imm(asm.R2, int32(m.SlotKeyAt())),
	)
	g.stackPtr(asm.R3, total)
	g.Emit(
		asm.Mov.Imm(asm.R4, 0),
		asm.FnMapUpdateElem.Call(),
		asm.JEq.Imm(asm.R0, 0, moved),
		asm.LoadMapValue(asm.R1, 0, uint32(m.Stat*8)).WithReference(plan.StatsMap),
		asm.LoadMem(asm.R2, asm.R10, events, asm.DWord),
		asm.StoreXAdd(asm.R1, asm.R2, asm.DWord),
	)
	if id, ok := g.plan.HelperErrorEvent(); ok && report {
		g.reportHelper(id, asm.FnMapUpdateElem)
	}
	g.Label(moved)
}

// Xchg is `src = xchg(*(u64 *)(dst + off), src)`. cilium/ebpf v0.22
// marshals an atomic operation by moving its kind into the immediate
// after it has read the immediate, which then stays 0 (an add), so the
// kind goes in the immediate here as well.
func Xchg(dst, src asm.Register, off int16) asm.Instruction {
	ins := asm.Xchg.Mem(dst, src, asm.DWord, off)
	ins.Constant = int64(asm.Xchg >> 8)
	return ins
}

// Flush returns plan.FlushProgram for p, a program that user space runs
// on each CPU in turn (BPF_F_TEST_RUN_ON_CPU) before it reads or resets
// a slotted map. It runs in an interrupt or with preemption off, so no
// program on its CPU runs until it returns, except one that interrupts
// it, which finds the slot's sequence odd and leaves the slot alone.
func Flush(p *plan.Plan) asm.Instructions {
	g := &gen{Builder: emit.New(nil), plan: p, vars: map[string]int16{}, diag: &source.Diagnostics{}}
	busy, done := g.NewLabel("busy"), g.NewLabel("done")
	g.Emit(asm.FnGetSmpProcessorId.Call(), asm.Mov.Reg(asm.R8, asm.R0))
	for _, m := range p.Maps {
		if !m.Slotted {
			continue
		}
		g.slotPointer(m, asm.Mov.Reg(asm.R0, asm.R8), done)
		g.Emit(
			asm.LoadMem(asm.R1, asm.R7, plan.SlotSeq, asm.DWord),
			asm.JSet.Imm(asm.R1, 1, busy),
			asm.Add.Imm(asm.R1, 1),
			asm.StoreMem(asm.R7, plan.SlotSeq, asm.R1, asm.DWord),
		)
		g.flushSlot(m, false)
		g.endSlotChange()
	}
	g.Label(done)
	g.Emit(asm.Mov.Imm(asm.R0, 0), asm.Return())
	g.Label(busy)
	g.Emit(asm.Mov.Imm(asm.R0, 1), asm.Return())
	return g.Insns
}

package codegen

import (
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/emit"
	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// Maps: keys, lookups, updates, in-place arithmetic and the per-CPU
// aggregations with their histogram buckets.

// mapPtr loads a map's address into reg.
func mapPtr(reg asm.Register, name string) asm.Instruction {
	return asm.LoadMapPtr(reg, 0).WithReference(name)
}

// stackPtr points reg at a stack offset.
func (g *gen) stackPtr(reg asm.Register, off int16) {
	g.Emit(asm.Mov.Reg(reg, asm.R10), asm.Add.Imm(reg, int32(off)))
}

// countStat atomically adds one to a StatsMap counter.
func (g *gen) countStat(index int) {
	g.Emit(
		asm.LoadMapValue(asm.R1, 0, uint32(index*8)).WithReference(plan.StatsMap),
		asm.Mov.Imm(asm.R2, 1),
		asm.StoreXAdd(asm.R1, asm.R2, asm.DWord),
	)
}

// key builds m's key for e in a new stack buffer and returns its offset.
// Histograms leave the trailing bucket slot for the caller.
func (g *gen) key(e *syntax.MapExpr, m *plan.Map) int16 {
	off := g.alloc(m.KeySize)
	if len(m.Keys) == 0 {
		g.zero(off, m.KeySize)
		return off
	}
	if len(e.Keys) == 1 && g.typeOf(e.Keys[0]).Kind == types.Tuple {
		g.keyTuple(e.Keys[0], off, m)
		return off
	}
	for i, k := range e.Keys {
		part := m.Keys[i]
		g.valueTo(k, off+int16(part.Offset), part.Type)
	}
	return off
}

// valueTo writes the value of e into a record part of type t at dst: a
// key part, a printf argument or a map value.
func (g *gen) valueTo(e syntax.Expr, dst int16, t types.Type) {
	e = g.valueOf(e)
	switch t.Kind {
	case types.Str:
		g.strTo(e, dst, t.Size)
		return
	case types.Stack:
		g.stackID(e, dst)
		return
	case types.Buf:
		g.bufTo(e, dst, t)
		return
	case types.Text:
		g.textTo(e, dst, t)
		return
	case types.Tuple:
		g.tupleTo(e, dst, t)
		return
	case types.Array:
		g.arrayTo(e, dst, t)
		return
	}
	g.intExpr(e)
	g.Emit(asm.StoreMem(asm.R10, dst, asm.R0, asm.DWord))
	if t.Size == 16 { // a user address is resolved in its process
		g.storePid(dst + 8)
	}
}

// bpfFUserStack asks bpf_get_stackid for the user stack.
const bpfFUserStack = 1 << 8

// stackID records the stack e names in its stack map and writes the id
// at dst; a user stack's pid follows. A stack the kernel cannot record
// (map full, hash collision) gets a negative id and is counted.
func (g *gen) stackID(e syntax.Expr, dst int16) {
	e = g.valueOf(e)
	t := g.typeOf(e)
	sm := g.plan.StackMap(t)
	flags := int32(0)
	if sm.User {
		flags = bpfFUserStack
	}
	ok := g.NewLabel("stacked")
	g.Emit(
		asm.Mov.Reg(asm.R1, asm.R6),
		mapPtr(asm.R2, sm.Name),
		asm.Mov.Imm(asm.R3, flags),
		asm.FnGetStackid.Call(),
		asm.StoreMem(asm.R10, dst, asm.R0, asm.DWord),
		asm.JSGE.Imm(asm.R0, 0, ok),
	)
	g.countStat(plan.StatStacks)
	g.Label(ok)
	if sm.User {
		g.storePid(dst + 8)
	}
}

// storePid writes the current process id at dst as pid gives it: the
// symbolizer opens /proc/<pid> of ebtrace's PID namespace.
func (g *gen) storePid(dst int16) {
	g.taskID(true)
	g.Emit(asm.StoreMem(asm.R10, dst, asm.R0, asm.DWord))
}

// lookup leaves a pointer to m's value for the key at key in r0, or 0.
func (g *gen) lookup(m *plan.Map, key int16) {
	g.Emit(mapPtr(asm.R1, m.BPFName))
	g.stackPtr(asm.R2, key)
	g.Emit(asm.FnMapLookupElem.Call())
}

// update stores the value at val under the key at key, counting failures
// (a full map) in the map's stat.
func (g *gen) update(m *plan.Map, key, val int16) {
	ok := g.NewLabel("updated")
	g.Emit(mapPtr(asm.R1, m.BPFName))
	g.stackPtr(asm.R2, key)
	g.stackPtr(asm.R3, val)
	g.Emit(asm.Mov.Imm(asm.R4, 0), asm.FnMapUpdateElem.Call(), asm.JEq.Imm(asm.R0, 0, ok))
	g.countStat(m.Stat)
	if id, report := g.plan.HelperErrorEvent(); report {
		g.reportHelper(id, asm.FnMapUpdateElem) // r0: the error; countStat keeps it
	}
	g.Label(ok)
}

// mapAdd adds r0 to the integer map element e: atomically in place when it
// exists, with an update when it does not.
func (g *gen) mapAdd(e *syntax.MapExpr, m *plan.Map) {
	val := g.alloc(8)
	g.Emit(asm.StoreMem(asm.R10, val, asm.R0, asm.DWord))
	key := g.key(e, m)
	g.lookup(m, key)
	miss, done := g.NewLabel("miss"), g.NewLabel("added")
	g.Emit(
		asm.JEq.Imm(asm.R0, 0, miss),
		asm.LoadMem(asm.R1, asm.R10, val, asm.DWord),
		asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
		asm.Ja.Label(done),
	)
	g.Label(miss)
	g.update(m, key, val)
	g.Label(done)
}

// mapUpdateInPlace applies `element op= r0` to an integer map element.
func (g *gen) mapUpdateInPlace(e *syntax.MapExpr, m *plan.Map, op string) {
	val := g.alloc(8)
	g.Emit(asm.StoreMem(asm.R10, val, asm.R0, asm.DWord))
	key := g.key(e, m)
	g.lookup(m, key)
	miss, store := g.NewLabel("miss"), g.NewLabel("store")
	g.Emit(
		asm.JEq.Imm(asm.R0, 0, miss),
		asm.Mov.Reg(asm.R7, asm.R0),
		asm.LoadMem(asm.R0, asm.R7, 0, asm.DWord),
		asm.LoadMem(asm.R1, asm.R10, val, asm.DWord),
	)
	g.arith(op, asm.R0, asm.R1, true)
	g.Emit(asm.StoreMem(asm.R7, 0, asm.R0, asm.DWord), asm.Ja.Label(store))
	g.Label(miss)
	// A missing element counts as 0.
	g.Emit(asm.Mov.Imm(asm.R0, 0), asm.LoadMem(asm.R1, asm.R10, val, asm.DWord))
	g.arith(op, asm.R0, asm.R1, true)
	g.Emit(asm.StoreMem(asm.R10, val, asm.R0, asm.DWord))
	g.update(m, key, val)
	g.Label(store)
}

// aggregate compiles `@m[k] = f(x)` for the per-CPU aggregations: the
// element is updated in place when it exists (no update call), and created
// with the first value when it does not.
func (g *gen) aggregate(e *syntax.MapExpr, m *plan.Map, call *syntax.CallExpr) {
	if m.Kind == output.TSeries {
		g.tseriesAdd(e, m, call)
		return
	}
	val := g.alloc(m.ValueSize)
	if len(call.Args) > 0 {
		g.intExpr(call.Args[0])
	} else {
		g.Emit(asm.Mov.Imm(asm.R0, 1))
	}
	g.Emit(asm.StoreMem(asm.R10, val, asm.R0, asm.DWord))
	key := g.key(e, m)
	if m.Kind == output.Hist || m.Kind == output.LHist {
		g.Emit(asm.LoadMem(asm.R0, asm.R10, val, asm.DWord))
		if m.Kind == output.Hist {
			g.log2Bucket(m.Bits)
		} else {
			g.linearBucket(m)
		}
		g.Emit(asm.StoreMem(asm.R10, key+int16(m.KeySize-8), asm.R0, asm.DWord))
		g.Emit(emit.StoreDW(asm.R10, val, 1))
	}
	miss, done := g.NewLabel("miss"), g.NewLabel("aggregated")
	if m.Slotted {
		direct := g.NewLabel("direct")
		g.slotAdd(m, key, val, direct, done)
		g.Label(direct)
	}
	g.lookup(m, key)
	g.Emit(asm.JEq.Imm(asm.R0, 0, miss))
	// r0: this CPU's value; r1: the new sample.
	switch m.Kind {
	case output.Count, output.Hist, output.LHist:
		g.Emit(
			asm.LoadMem(asm.R2, asm.R0, 0, asm.DWord),
			asm.Add.Imm(asm.R2, 1),
			asm.StoreMem(asm.R0, 0, asm.R2, asm.DWord),
		)
	case output.Sum:
		g.Emit(
			asm.LoadMem(asm.R1, asm.R10, val, asm.DWord),
			asm.LoadMem(asm.R2, asm.R0, 0, asm.DWord),
			asm.Add.Reg(asm.R2, asm.R1),
			asm.StoreMem(asm.R0, 0, asm.R2, asm.DWord),
		)
	case output.Avg, output.Stats:
		g.Emit(
			asm.LoadMem(asm.R1, asm.R10, val, asm.DWord),
			asm.LoadMem(asm.R2, asm.R0, 0, asm.DWord),
			asm.Add.Imm(asm.R2, 1),
			asm.StoreMem(asm.R0, 0, asm.R2, asm.DWord),
			asm.LoadMem(asm.R2, asm.R0, 8, asm.DWord),
			asm.Add.Reg(asm.R2, asm.R1),
			asm.StoreMem(asm.R0, 8, asm.R2, asm.DWord),
		)
	case output.Min, output.Max:
		set := g.NewLabel("set")
		cmp := asm.JSLE
		if m.Kind == output.Max {
			cmp = asm.JSGE
		}
		g.Emit(
			asm.LoadMem(asm.R1, asm.R10, val, asm.DWord),
			asm.LoadMem(asm.R2, asm.R0, 8, asm.DWord),
			asm.JEq.Imm(asm.R2, 0, set),
			asm.LoadMem(asm.R2, asm.R0, 0, asm.DWord),
			cmp.Reg(asm.R2, asm.R1, done),
		)
		g.Label(set)
		g.Emit(
			asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord),
			emit.StoreDW(asm.R0, 8, 1),
		)
	}
	g.Emit(asm.Ja.Label(done))
	g.Label(miss)
	switch m.Kind {
	case output.Avg, output.Stats:
		// {count 1, total x}
		g.Emit(
			asm.LoadMem(asm.R1, asm.R10, val, asm.DWord),
			asm.StoreMem(asm.R10, val+8, asm.R1, asm.DWord),
			emit.StoreDW(asm.R10, val, 1),
		)
	case output.Min, output.Max:
		g.Emit(emit.StoreDW(asm.R10, val+8, 1))
	}
	g.update(m, key, val)
	g.Label(done)
}

// log2Bucket maps r0 to its bucket of a log2 histogram with 2^bits
// buckets per power of two (see output.HistValue): 0 for negative values,
// v+1 below 2^bits, and from there (p-bits)*2^bits + (v >> (p-bits)) + 1,
// where p = floor(log2(v)) and v >> (p-bits) runs from 2^bits to
// 2^(bits+1)-1 within each power of two.
func (g *gen) log2Bucket(bits int) {
	neg, small, done := g.NewLabel("neg"), g.NewLabel("small"), g.NewLabel("bucket")
	g.Emit(
		asm.JSLT.Imm(asm.R0, 0, neg),
		asm.JLT.Imm(asm.R0, 1<<bits, small),
		asm.Mov.Reg(asm.R3, asm.R0),
		asm.Mov.Imm(asm.R1, 0),
	)
	for _, shift := range []int32{32, 16, 8, 4, 2, 1} {
		skip := g.NewLabel("log2")
		g.Emit(
			asm.Mov.Reg(asm.R2, asm.R0),
			asm.RSh.Imm(asm.R2, shift),
			asm.JEq.Imm(asm.R2, 0, skip),
			asm.Mov.Reg(asm.R0, asm.R2),
			asm.Add.Imm(asm.R1, shift),
		)
		g.Label(skip)
	}
	// r1: p; r3: v.
	g.Emit(
		asm.Mov.Reg(asm.R0, asm.R1),
		asm.Add.Imm(asm.R0, int32(-bits)),
		asm.RSh.Reg(asm.R3, asm.R0),
		asm.LSh.Imm(asm.R0, int32(bits)),
		asm.Add.Reg(asm.R0, asm.R3),
		asm.Add.Imm(asm.R0, 1),
		asm.Ja.Label(done),
	)
	g.Label(small)
	g.Emit(asm.Add.Imm(asm.R0, 1), asm.Ja.Label(done))
	g.Label(neg)
	g.Emit(asm.Mov.Imm(asm.R0, 0))
	g.Label(done)
}

// linearBucket maps r0 to its lhist bucket (see output.HistValue).
func (g *gen) linearBucket(m *plan.Map) {
	below, above, done := g.NewLabel("below"), g.NewLabel("above"), g.NewLabel("bucket")
	g.Emit(
		asm.LoadImm(asm.R1, m.LMin, asm.DWord),
		asm.JSLT.Reg(asm.R0, asm.R1, below),
		asm.LoadImm(asm.R1, m.LMax, asm.DWord),
		asm.JSGE.Reg(asm.R0, asm.R1, above),
		asm.LoadImm(asm.R1, m.LMin, asm.DWord),
		asm.Sub.Reg(asm.R0, asm.R1),
		asm.LoadImm(asm.R1, m.LStep, asm.DWord),
		asm.Div.Reg(asm.R0, asm.R1),
		asm.Add.Imm(asm.R0, 1),
		asm.Ja.Label(done),
	)
	g.Label(below)
	g.Emit(asm.Mov.Imm(asm.R0, 0), asm.Ja.Label(done))
	g.Label(above)
	g.Emit(asm.LoadImm(asm.R0, 1+(m.LMax-m.LMin)/m.LStep, asm.DWord))
	g.Label(done)
}

// readMapValue copies size bytes of the value of map element e to dst;
// a missing element reads as zeros.
func (g *gen) readMapValue(e *syntax.MapExpr, dst int16, size int) {
	m := g.plan.Map(e.Name)
	key := g.key(e, m)
	g.zero(dst, size)
	g.lookup(m, key)
	done := g.NewLabel("read")
	g.Emit(asm.JEq.Imm(asm.R0, 0, done))
	g.copyWords(asm.R10, dst, asm.R0, size)
	g.Label(done)
}

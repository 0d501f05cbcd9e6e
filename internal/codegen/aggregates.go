package codegen

import (
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/emit"
	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/syntax"
)

// Reading per-CPU aggregations in a probe, and the time series.

// combined leaves in r0 the value of per-CPU aggregation m at the key at
// key, every possible CPU's share combined as user space prints it:
// counts and sums added, the least or greatest value of the CPUs that
// have one, the mean of all the counts and totals (0 without any). A
// missing key reads as 0. Each CPU's share is looked up with
// bpf_map_lookup_percpu_elem in a loop the verifier follows to the
// number of possible CPUs.
func (g *gen) combined(m *plan.Map, key int16) {
	// acc: the sum, or the count of avg(), or the least or greatest
	// value; aux: avg()'s total, or whether min() or max() has one.
	acc, aux, cpu := g.alloc(8), g.alloc(8), g.alloc(8)
	for _, slot := range []int16{acc, aux, cpu} {
		g.zero(slot, 8)
	}
	head, next, done := g.NewLabel("cpu"), g.NewLabel("nextcpu"), g.NewLabel("combined")
	g.LoopHead(head)
	g.Emit(
		asm.LoadMem(asm.R3, asm.R10, cpu, asm.DWord),
		asm.JGE.Imm(asm.R3, int32(g.opts.CPUs), done),
		mapPtr(asm.R1, m.BPFName),
	)
	g.stackPtr(asm.R2, key)
	g.Emit(asm.FnMapLookupPercpuElem.Call(), asm.JEq.Imm(asm.R0, 0, next))
	switch m.Kind {
	case output.Count, output.Sum:
		g.addTo(acc, 0)
	case output.Avg:
		g.addTo(acc, 0)
		g.addTo(aux, 8)
	case output.Min, output.Max:
		take := g.NewLabel("take")
		keep := asm.JSGE // a value not below the least so far
		if m.Kind == output.Max {
			keep = asm.JSLE
		}
		g.Emit(
			asm.LoadMem(asm.R1, asm.R0, 8, asm.DWord),
			asm.JEq.Imm(asm.R1, 0, next), // this CPU has no value
			asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
			asm.LoadMem(asm.R2, asm.R10, aux, asm.DWord),
			asm.JEq.Imm(asm.R2, 0, take),
			asm.LoadMem(asm.R2, asm.R10, acc, asm.DWord),
			keep.Reg(asm.R1, asm.R2, next),
		)
		g.Label(take)
		g.Emit(
			asm.StoreMem(asm.R10, acc, asm.R1, asm.DWord),
			emit.StoreDW(asm.R10, aux, 1),
		)
	}
	g.Label(next)
	g.nextIteration(cpu, asm.R3, head)
	g.Label(done)
	if m.Kind != output.Avg {
		g.Emit(asm.LoadMem(asm.R0, asm.R10, acc, asm.DWord))
		return
	}
	g.Emit(
		asm.LoadMem(asm.R1, asm.R10, acc, asm.DWord),
		asm.LoadMem(asm.R0, asm.R10, aux, asm.DWord),
	)
	g.signedDiv()
}

// addTo adds the word at off in the value r0 points to to the stack slot
// at slot.
func (g *gen) addTo(slot, off int16) {
	g.Emit(
		asm.LoadMem(asm.R1, asm.R0, off, asm.DWord),
		asm.LoadMem(asm.R2, asm.R10, slot, asm.DWord),
		asm.Add.Reg(asm.R2, asm.R1),
		asm.StoreMem(asm.R10, slot, asm.R2, asm.DWord),
	)
}

// signedDiv divides r0 by r1, a count (0 or more), truncating toward zero
// as user space divides avg()'s total; 0 when r1 is 0. BPF's division is
// unsigned.
func (g *gen) signedDiv() {
	neg, zero, done := g.NewLabel("negative"), g.NewLabel("nocount"), g.NewLabel("divided")
	g.Emit(
		asm.JEq.Imm(asm.R1, 0, zero),
		asm.JSLT.Imm(asm.R0, 0, neg),
		asm.Div.Reg(asm.R0, asm.R1),
		asm.Ja.Label(done),
	)
	g.Label(neg)
	g.Emit(
		asm.Neg.Imm(asm.R0, 0),
		asm.Div.Reg(asm.R0, asm.R1),
		asm.Neg.Imm(asm.R0, 0),
		asm.Ja.Label(done),
	)
	g.Label(zero)
	g.Emit(asm.Mov.Imm(asm.R0, 0))
	g.Label(done)
}

// tseriesAdd compiles `@m[k] = tseries(v, INTERVAL, N[, AGG])`. The
// interval is the TAI clock divided by INTERVAL, so intervals start on
// the wall clock's multiples of INTERVAL; its slot is the interval modulo
// N, the key's last part. This CPU's slot starts afresh when it last held
// an older interval, and otherwise combines v with what it holds (see
// plan.TSeriesValue).
func (g *gen) tseriesAdd(e *syntax.MapExpr, m *plan.Map, call *syntax.CallExpr) {
	val := g.alloc(plan.TSeriesSize)
	g.intExpr(call.Args[0])
	g.Emit(
		asm.StoreMem(asm.R10, val+plan.TSeriesValue, asm.R0, asm.DWord),
		asm.FnKtimeGetTaiNs.Call(),
		asm.StoreMem(asm.R10, val+plan.TSeriesMeta, asm.R0, asm.DWord),
		asm.LoadImm(asm.R1, m.TS.Interval, asm.DWord),
		asm.Div.Reg(asm.R0, asm.R1),
		asm.StoreMem(asm.R10, val+plan.TSeriesEpoch, asm.R0, asm.DWord),
	)
	if m.TS.Agg == "avg" {
		g.Emit(emit.StoreDW(asm.R10, val+plan.TSeriesMeta, 1))
	}
	key := g.key(e, m)
	g.Emit(
		asm.LoadMem(asm.R0, asm.R10, val+plan.TSeriesEpoch, asm.DWord),
		asm.LoadImm(asm.R1, m.TS.Intervals, asm.DWord),
		asm.Mod.Reg(asm.R0, asm.R1),
		asm.StoreMem(asm.R10, key+int16(m.KeySize-8), asm.R0, asm.DWord),
	)
	g.lookup(m, key)
	miss, fresh, done := g.NewLabel("miss"), g.NewLabel("fresh"), g.NewLabel("recorded")
	g.Emit(
		asm.JEq.Imm(asm.R0, 0, miss),
		asm.LoadMem(asm.R1, asm.R0, plan.TSeriesEpoch, asm.DWord),
		asm.LoadMem(asm.R2, asm.R10, val+plan.TSeriesEpoch, asm.DWord),
		asm.JNE.Reg(asm.R1, asm.R2, fresh),
		asm.LoadMem(asm.R1, asm.R10, val+plan.TSeriesValue, asm.DWord),
		asm.LoadMem(asm.R2, asm.R0, plan.TSeriesValue, asm.DWord),
	)
	// r0: this CPU's slot; r1: the new value; r2: the slot's value.
	switch m.TS.Agg {
	case "": // the last value wins, and its time
		g.Emit(
			asm.StoreMem(asm.R0, plan.TSeriesValue, asm.R1, asm.DWord),
			asm.LoadMem(asm.R1, asm.R10, val+plan.TSeriesMeta, asm.DWord),
			asm.StoreMem(asm.R0, plan.TSeriesMeta, asm.R1, asm.DWord),
		)
	case "sum", "avg":
		g.Emit(
			asm.Add.Reg(asm.R2, asm.R1),
			asm.StoreMem(asm.R0, plan.TSeriesValue, asm.R2, asm.DWord),
		)
		if m.TS.Agg == "avg" {
			g.Emit(
				asm.LoadMem(asm.R1, asm.R0, plan.TSeriesMeta, asm.DWord),
				asm.Add.Imm(asm.R1, 1),
				asm.StoreMem(asm.R0, plan.TSeriesMeta, asm.R1, asm.DWord),
			)
		}
	case "min", "max":
		keep := asm.JSGE
		if m.TS.Agg == "max" {
			keep = asm.JSLE
		}
		g.Emit(
			keep.Reg(asm.R1, asm.R2, done),
			asm.StoreMem(asm.R0, plan.TSeriesValue, asm.R1, asm.DWord),
		)
	}
	g.Emit(asm.Ja.Label(done))
	g.Label(fresh)
	for i := int16(0); i < plan.TSeriesSize; i += 8 {
		g.Emit(
			asm.LoadMem(asm.R1, asm.R10, val+i, asm.DWord),
			asm.StoreMem(asm.R0, i, asm.R1, asm.DWord),
		)
	}
	g.Emit(asm.Ja.Label(done))
	g.Label(miss)
	g.update(m, key, val)
	g.Label(done)
}
